/*
 * NAME
 *   lmtpd.c - leadgate-lmtpd: main(), listening sockets, signals, reload.
 *
 * SYNOPSIS
 *   leadgate-lmtpd [-c FILE] [-d DATABASE] [--listen ADDR]... [--syslog]
 *                  [-S] [--check-config] [-v]
 *
 * SUMMARY
 *   Start-up, in this order: options; logging; the config and the rules
 *   (an error in either is fatal here, exit 78); the listening sockets;
 *   dropping privileges to [lmtpd] user/group; creating or migrating the
 *   database (as the user that will write it); the writer thread; then the
 *   event loop. Everything fatal happens before the first accept.
 *
 *   The event loop (lmtp_loop.c) waits on the listening sockets, a signalfd
 *   and every session's socket with epoll. Each connection runs its session
 *   (lmtp_session.c) on a coroutine, up to max_connections; past that a
 *   client gets "421 4.3.2" and is closed. One thread serves all sessions:
 *   fewer wake-ups than a thread per session, and the sessions share no
 *   locks.
 *
 *   SIGHUP loads the config file and the rules again, on a thread of its
 *   own (compiling a large rule set takes a while; the loop goes on
 *   serving meanwhile). When both load, the new snapshot replaces the old
 *   one (sessions pick it up at their next transaction); when either
 *   fails, the error is logged and the old one stays. Listening addresses,
 *   the database and the user are read at start only.
 *
 *   SIGTERM (or SIGINT) closes the listening sockets, answers idle
 *   sessions 421 and lets the others finish the transactions they are in,
 *   for at most the drain time: command_timeout + data_timeout, capped at
 *   LMTPD_DRAIN_MAX so that the stop fits systemd's TimeoutStopSec (60 s in
 *   the shipped unit). Then a session still reading gets 421;
 *   one waiting for its delivery gets the outcome (250 or 451) once the
 *   writer has it. Then the writer stops, and the daemon exits 0.
 *
 *   A fatal start-up error is logged as "error:" and exits with a
 *   sysexits(3) code: 64 usage, 78 config or rules, 71 a socket (a port in
 *   use names --listen), 75 the database.
 *
 *   -S serves one session on standard input and output (for tests and
 *   for running under inetd-like supervisors), with the same writer thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "lg.h"
#include "lmtpd.h"
#include "spf.h"
#include "lmtp_loop.h"
#include "message.h"
#include "privs.h"

#define LMTPD_EX_CONFIG   78
#define LMTPD_EX_TEMPFAIL 75
#define LMTPD_EX_OSERR    71
#define LMTPD_DRAIN_MAX   (40 * G_USEC_PER_SEC)   /* see SUMMARY: SIGTERM */

lmtpd_state lmtpd;

/* --- options ----------------------------------------------------------- */

static char *opt_config;
static char *opt_database;
static char **opt_listen;
static gboolean opt_stdin;
static gboolean opt_foreground = TRUE;
static gboolean opt_syslog;
static gboolean opt_check;
static gboolean opt_verbose;
static gboolean opt_version;

static const GOptionEntry lmtpd_options[] = {
	{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &opt_config, "Config file (default: built-in defaults)", "FILE" },
	{ "database", 'd', 0, G_OPTION_ARG_FILENAME, &opt_database, "Database (overrides [store] database)", "FILE" },
	{ "listen", 'l', 0, G_OPTION_ARG_STRING_ARRAY, &opt_listen, "Listen on ADDR: 127.0.0.1:2424, [::1]:2424, unix:/path (repeatable; overrides [lmtpd] listen)", "ADDR" },
	{ "stdin", 'S', 0, G_OPTION_ARG_NONE, &opt_stdin, "Serve one session on standard input and output", NULL },
	{ "foreground", 'f', 0, G_OPTION_ARG_NONE, &opt_foreground, "Run in the foreground (the default; for systemd)", NULL },
	{ "syslog", 0, 0, G_OPTION_ARG_NONE, &opt_syslog, "Log to syslog instead of stderr", NULL },
	{ "check-config", 'n', 0, G_OPTION_ARG_NONE, &opt_check, "Check the config and the rules, then exit", NULL },
	{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &opt_verbose, "Log debug messages too", NULL },
	{ "version", 'V', 0, G_OPTION_ARG_NONE, &opt_version, "Print the version and exit", NULL },
	{ NULL }
};

/* --- logging ----------------------------------------------------------- */

static gboolean log_to_syslog;
static int log_pid;   /* set before any thread starts: no getpid() per line */

static GLogWriterOutput
lmtpd_log_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
	const char *msg = "", *sid = NULL;
	const char *tag = "";
	int prio = LOG_INFO;

	if ((level & G_LOG_LEVEL_DEBUG) && !opt_verbose)
		return G_LOG_WRITER_HANDLED;
	for (gsize i = 0; i < n_fields; i++) {
		if (g_str_equal(fields[i].key, "MESSAGE") && fields[i].length < 0)
			msg = fields[i].value;
		else if (g_str_equal(fields[i].key, "LG_SESSION") && fields[i].length < 0)
			sid = fields[i].value;
	}
	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) {
		tag = "error: ";
		prio = LOG_ERR;
	} else if (level & G_LOG_LEVEL_WARNING) {
		tag = "warning: ";
		prio = LOG_WARNING;
	} else if (level & G_LOG_LEVEL_DEBUG) {
		prio = LOG_DEBUG;
	}
	if (log_to_syslog) {
		syslog(prio, "%s%s%s%s", sid != NULL ? sid : "", sid != NULL ? ": " : "", tag, msg);
	} else {
		g_autofree char *line = g_strdup_printf("leadgate-lmtpd[%d]: %s%s%s%s\n",
		                                        log_pid, sid != NULL ? sid : "",
		                                        sid != NULL ? ": " : "", tag, msg);
		gsize len = strlen(line), off = 0;

		while (off < len) {   /* one write per line: lines do not interleave */
			ssize_t r = write(STDERR_FILENO, line + off, len - off);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			off += (gsize)r;
		}
	}
	return G_LOG_WRITER_HANDLED;
}

static int
syslog_facility(const char *name)
{
	static const struct { const char *name; int value; } facilities[] = {
		{ "mail", LOG_MAIL }, { "daemon", LOG_DAEMON }, { "user", LOG_USER },
		{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
		{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
		{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
	};

	for (gsize i = 0; name != NULL && i < G_N_ELEMENTS(facilities); i++)
		if (g_ascii_strcasecmp(name, facilities[i].name) == 0)
			return facilities[i].value;
	return LOG_MAIL;
}

/* --- configuration snapshots -------------------------------------------- */

static GMutex conf_lock;
static lmtpd_conf *conf_current;

lmtpd_conf *
lmtpd_conf_ref(lmtpd_conf *c)
{
	g_atomic_int_inc(&c->refcount);
	return c;
}

void
lmtpd_conf_unref(lmtpd_conf *c)
{
	if (c == NULL || !g_atomic_int_dec_and_test(&c->refcount))
		return;
	lg_rules_free(c->rules);
	lg_config_unref(c->cfg);
	g_free(c);
}

lmtpd_conf *
lmtpd_conf_get(void)
{
	lmtpd_conf *c;

	g_mutex_lock(&conf_lock);
	c = lmtpd_conf_ref(conf_current);
	g_mutex_unlock(&conf_lock);
	return c;
}

/* Loads the config file and the rules it names: a new snapshot, or NULL. */
static lmtpd_conf *
conf_load(GError **error)
{
	g_autoptr(lg_config) cfg = NULL;
	lg_rules_options ropts = { 0 };
	lg_rules *rules;
	lmtpd_conf *c;

	cfg = lg_config_load(opt_config, error);
	if (cfg == NULL)
		return NULL;
	ropts.match_limit = (guint32)MAX(0, cfg->regex_match_limit);
	ropts.depth_limit = (guint32)MAX(0, cfg->regex_depth_limit);
	ropts.log_limits = TRUE;   /* a rule that never matches must show in the log */
	rules = lg_rules_load(cfg->rules_dir, &ropts, error);
	if (rules == NULL)
		return NULL;
	c = g_new0(lmtpd_conf, 1);
	c->refcount = 1;
	c->cfg = g_steal_pointer(&cfg);
	c->rules = rules;
	return c;
}

static void
conf_reload(void)
{
	g_autoptr(GError) error = NULL;
	lmtpd_conf *c = conf_load(&error), *old;

	if (c == NULL) {
		lmtpd_warn("-", "reload refused, keeping the running config and rules: %s",
		           error->message);
		return;
	}
	g_mutex_lock(&conf_lock);
	old = conf_current;
	conf_current = c;
	g_mutex_unlock(&conf_lock);
	lmtpd_conf_unref(old);
	lmtpd_info("-", "reloaded %s and %u rule file(s) from %s",
	           opt_config != NULL ? opt_config : "built-in defaults",
	           lg_rules_count(c->rules), c->cfg->rules_dir);
}

/* --- listening sockets ------------------------------------------------- */

typedef struct {
	int fd;
	char *name;            /* as given, with the real port for ":0" */
	char *unix_path;       /* to unlink at exit, or NULL */
} lmtpd_listener;

static GArray *listeners; /* lmtpd_listener */

static gboolean
listen_unix(const char *path, const lg_config *cfg, GError **error)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat sb;
	lmtpd_listener l = { -1, NULL, NULL };

	if (strlen(path) >= sizeof sun.sun_path) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "unix:%s: path too long", path);
		return FALSE;
	}
	strcpy(sun.sun_path, path);
	if (lstat(path, &sb) == 0 && S_ISSOCK(sb.st_mode))
		unlink(path);   /* stale socket of an earlier run */
	l.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (l.fd < 0 || bind(l.fd, (struct sockaddr *)&sun, sizeof sun) < 0 ||
	    listen(l.fd, 128) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "unix:%s: %s",
		            path, g_strerror(errno));
		if (l.fd >= 0)
			close(l.fd);
		return FALSE;
	}
	if (cfg->socket_mode != NULL && *cfg->socket_mode) {
		guint64 mode;

		if (!g_ascii_string_to_unsigned(cfg->socket_mode, 8, 0, 07777, &mode, NULL) ||
		    chmod(path, (mode_t)mode) < 0)
			lmtpd_warn("-", "unix:%s: cannot set mode %s", path, cfg->socket_mode);
	}
	if (cfg->socket_owner != NULL && *cfg->socket_owner) {
		g_auto(GStrv) ug = g_strsplit(cfg->socket_owner, ":", 2);
		struct passwd *pw = getpwnam(ug[0]);
		struct group *gr = ug[1] != NULL && *ug[1] ? getgrnam(ug[1]) : NULL;

		if (pw == NULL || (ug[1] != NULL && *ug[1] && gr == NULL) ||
		    chown(path, pw->pw_uid, gr != NULL ? gr->gr_gid : (gid_t)-1) < 0)
			lmtpd_warn("-", "unix:%s: cannot set owner %s", path, cfg->socket_owner);
	}
	l.name = g_strdup_printf("unix:%s", path);
	l.unix_path = g_strdup(path);
	g_array_append_val(listeners, l);
	return TRUE;
}

static gboolean
listen_tcp(const char *spec, GError **error)
{
	g_autofree char *host = NULL;
	const char *port;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	int r, bound = 0, err = 0;

	if (spec[0] == '[') {
		const char *close_br = strchr(spec, ']');

		if (close_br == NULL || close_br[1] != ':')
			goto bad;
		host = g_strndup(spec + 1, (gsize)(close_br - spec - 1));
		port = close_br + 2;
	} else {
		const char *colon = strrchr(spec, ':');

		if (colon == NULL || strchr(spec, ':') != colon)
			goto bad;
		host = g_strndup(spec, (gsize)(colon - spec));
		port = colon + 1;
	}
	if (*port == '\0')
		goto bad;
	if (*host == '\0' || g_str_equal(host, "*"))
		g_clear_pointer(&host, g_free);
	r = getaddrinfo(host, port, &hints, &res);
	if (r != 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "%s: %s", spec, gai_strerror(r));
		return FALSE;
	}
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		lmtpd_listener l = { -1, NULL, NULL };
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		char hbuf[NI_MAXHOST], pbuf[NI_MAXSERV];
		int one = 1;

		l.fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
		if (l.fd < 0) {
			err = errno;
			continue;
		}
		setsockopt(l.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (ai->ai_family == AF_INET6)
			setsockopt(l.fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
		if (bind(l.fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(l.fd, 128) < 0 ||
		    getsockname(l.fd, (struct sockaddr *)&ss, &sl) < 0 ||
		    getnameinfo((struct sockaddr *)&ss, sl, hbuf, sizeof hbuf, pbuf, sizeof pbuf,
		                NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
			err = errno;
			close(l.fd);
			continue;
		}
		l.name = g_strdup_printf(ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", hbuf, pbuf);
		g_array_append_val(listeners, l);
		bound++;
	}
	freeaddrinfo(res);
	if (bound == 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(err), "%s: %s", spec,
		            err == EADDRINUSE ? "address already in use" : g_strerror(err));
		return FALSE;
	}
	return TRUE;
bad:
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
	            "%s: not an address (use 127.0.0.1:2424, [::1]:2424 or unix:/path)", spec);
	return FALSE;
}

static void
listeners_close(void)
{
	for (guint i = 0; listeners != NULL && i < listeners->len; i++) {
		lmtpd_listener *l = &g_array_index(listeners, lmtpd_listener, i);

		if (l->fd >= 0)
			close(l->fd);
		l->fd = -1;
		if (l->unix_path != NULL)
			unlink(l->unix_path);
		g_clear_pointer(&l->unix_path, g_free);
		g_clear_pointer(&l->name, g_free);
	}
	g_clear_pointer(&listeners, g_array_unref);
}

/* --- privileges -------------------------------------------------------- */

/* After binding: never on as root unless [lmtpd] user says so (privs.h) */
static gboolean
drop_privileges(const lg_config *cfg, GError **error)
{
	g_autofree char *note = NULL;

	if (!lg_privileges_drop("lmtpd", cfg->user, cfg->group, &note, error))
		return FALSE;
	if (note != NULL)
		lmtpd_info("-", "%s", note);
	return TRUE;
}

/* --- SPF helpers ------------------------------------------------------- */

/* The pool of SPF helpers (src/spf.h), sized by the config at start; its
 * helpers start when the first check needs one. A daemon still running
 * as root gives them the [lmtpd] user, or nobody. */
static gboolean
spf_start(const lg_config *cfg, GError **error)
{
	lg_spf_pool_options o = {
		.helper = cfg->spf_helper, .helpers = cfg->spf_helpers, .timeout = cfg->spf_timeout,
		.dns_timeout = cfg->spf_dns_timeout, .cache_max = 10000
	};

	if ((getuid() == 0 || geteuid() == 0) && !lg_spf_pool_options_user(&o, cfg->user, error))
		return FALSE;
	lmtpd.spf = lg_spf_pool_new(&o, error);
	return lmtpd.spf != NULL;
}

/* --- sessions ---------------------------------------------------------- */

static char *
peer_name(const struct sockaddr_storage *ss, socklen_t sl)
{
	char hbuf[NI_MAXHOST], pbuf[NI_MAXSERV];

	if (ss->ss_family == AF_UNIX)
		return g_strdup("unix");
	if (getnameinfo((const struct sockaddr *)ss, sl, hbuf, sizeof hbuf, pbuf, sizeof pbuf,
	                NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return g_strdup("unknown");
	return g_strdup_printf("[%s]:%s", hbuf, pbuf);
}

/* --- the event loop's callbacks -------------------------------------------- */

static gboolean
loop_accept(int lfd, int *fd_r, char **peer_r)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	int fd, max;
	lmtpd_conf *c;

	fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
		    errno != ECONNABORTED)
			lmtpd_warn("-", "accept: %s", g_strerror(errno));
		return FALSE;
	}
	c = lmtpd_conf_get();
	max = c->cfg->max_connections;
	lmtpd_conf_unref(c);
	if (max > 0 && g_atomic_int_get(&lmtpd.sessions) >= max) {
		static const char busy[] = "421 4.3.2 Too many connections, try again later\r\n";
		g_autofree char *peer = peer_name(&ss, sl);

		lmtpd_warn("-", "too many connections (%d): refusing %s", max, peer);
		(void)!send(fd, busy, sizeof busy - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		close(fd);
		return FALSE;
	}
	g_atomic_int_inc(&lmtpd.sessions);
	*fd_r = fd;
	*peer_r = peer_name(&ss, sl);
	return TRUE;
}

static void
loop_session(int fd, char *peer)
{
	lmtp_session_run(fd, fd, peer);
	lmtp_loop_forget_fd(fd);   /* before the close: see lmtp_loop.h */
	close(fd);
	g_free(peer);
	g_atomic_int_dec_and_test(&lmtpd.sessions);
}

/* Reloads run one at a time on this pool's thread, off the event loop. */
static GThreadPool *reload_pool;

static void
reload_run(gpointer unused, gpointer unused2)
{
	conf_reload();
}

static gboolean
loop_signal(int signo)
{
	if (signo == SIGHUP) {
		/* a reload already waiting covers this signal too */
		if (g_thread_pool_unprocessed(reload_pool) == 0)
			g_thread_pool_push(reload_pool, GINT_TO_POINTER(1), NULL);
		return TRUE;
	}
	lmtpd_info("-", "signal %d: stopping", signo);
	g_atomic_int_set(&lmtpd.stopping, 1);
	return FALSE;
}

/* --- main -------------------------------------------------------------- */

int
main(int argc, char **argv)
{
	g_autoptr(GOptionContext) ctx = NULL;
	g_autoptr(GError) error = NULL;
	lmtpd_conf *c;
	const lg_config *cfg;
	char **listen_on;
	lg_store *st;
	sigset_t sigs;
	int sfd = -1;

	/* GLib's slice allocator stays as GLib sets it. Before 2.76 it serves
	 * g_slice from per-thread magazines; GMime's objects live and die in
	 * the writer thread, so nothing contends for them, and a parse is
	 * cheaper than with G_SLICE=always-malloc (docs/performance.md). */
	signal(SIGPIPE, SIG_IGN);
	ctx = g_option_context_new("- the leadgate LMTP server");
	g_option_context_set_summary(ctx,
		"Receives mail from Postfix over LMTP (RFC 2033), runs it through the\n"
		"inbound chain and commits it to the leadgate database before replying 250.");
	g_option_context_add_main_entries(ctx, lmtpd_options, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		fprintf(stderr, "leadgate-lmtpd: %s\n", error->message);
		return 64;
	}
	if (opt_version) {
		printf("leadgate-lmtpd %s\n", LMTPD_VERSION);
		return 0;
	}
	if (argc > 1) {
		fprintf(stderr, "leadgate-lmtpd: unexpected argument \"%s\"\n", argv[1]);
		return 64;
	}
	log_pid = (int)getpid();
	g_log_set_writer_func(lmtpd_log_writer, NULL, NULL);
	lg_message_init();

	c = conf_load(&error);
	if (c == NULL) {
		g_printerr("leadgate-lmtpd: error: %s\n", error->message);
		return LMTPD_EX_CONFIG;
	}
	conf_current = c;
	cfg = c->cfg;
	if (opt_check) {
		printf("%s: ok (%u rule file(s) in %s)\n",
		       opt_config != NULL ? opt_config : "built-in defaults",
		       lg_rules_count(c->rules), cfg->rules_dir);
		return 0;
	}
	if (opt_syslog || (!opt_stdin && g_strcmp0(cfg->log_target, "syslog") == 0)) {
		openlog("leadgate-lmtpd", LOG_PID | LOG_NDELAY, syslog_facility(cfg->syslog_facility));
		log_to_syslog = TRUE;
	}
	lmtpd.db_path = g_strdup(opt_database != NULL ? opt_database : cfg->database);

	if (!opt_stdin) {
		/* Signals go to the signalfd only; every thread inherits the mask. */
		sigemptyset(&sigs);
		sigaddset(&sigs, SIGHUP);
		sigaddset(&sigs, SIGTERM);
		sigaddset(&sigs, SIGINT);
		pthread_sigmask(SIG_BLOCK, &sigs, NULL);
		sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
		if (sfd < 0) {
			lmtpd_error("-", "signalfd: %s", g_strerror(errno));
			return LMTPD_EX_OSERR;
		}
		listeners = g_array_new(FALSE, TRUE, sizeof(lmtpd_listener));
		listen_on = opt_listen != NULL ? opt_listen : cfg->listen;
		for (guint i = 0; listen_on != NULL && listen_on[i] != NULL; i++) {
			gboolean ok = g_str_has_prefix(listen_on[i], "unix:") ?
				listen_unix(listen_on[i] + 5, cfg, &error) :
				listen_tcp(listen_on[i], &error);

			if (!ok) {
				lmtpd_error("-", "cannot listen on %s%s", error->message,
				            g_error_matches(error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE) ?
				            " (choose another with --listen)" : "");
				listeners_close();
				return LMTPD_EX_OSERR;
			}
		}
		if (listeners->len == 0) {
			lmtpd_error("-", "nothing to listen on (give --listen or [lmtpd] listen)");
			return LMTPD_EX_CONFIG;
		}
		if (!drop_privileges(cfg, &error)) {
			lmtpd_error("-", "%s", error->message);
			listeners_close();
			return LMTPD_EX_CONFIG;
		}
	}

	st = lg_store_open(lmtpd.db_path, LG_STORE_MIGRATE, cfg->busy_timeout_ms, &error);
	if (st == NULL) {
		lmtpd_error("-", "database %s: %s", lmtpd.db_path, error->message);
		listeners_close();
		return LMTPD_EX_TEMPFAIL;
	}
	lg_store_close(st);
	if (!spf_start(cfg, &error)) {
		lmtpd_error("-", "%s", error->message);
		listeners_close();
		return LMTPD_EX_CONFIG;
	}
	if (!lmtp_deliver_start(&error)) {
		lmtpd_error("-", "%s", error->message);
		return LMTPD_EX_OSERR;
	}

	if (opt_stdin) {
		lmtp_session_run(STDIN_FILENO, STDOUT_FILENO, "stdin");
		lmtp_deliver_stop();
		g_clear_pointer(&lmtpd.spf, lg_spf_pool_free);
	} else {
		for (guint i = 0; i < listeners->len; i++)
			lmtpd_info("-", "listening on %s",
			           g_array_index(listeners, lmtpd_listener, i).name);
		lmtpd_info("-", "ready: database %s, %u rule file(s)", lmtpd.db_path,
		           lg_rules_count(c->rules));
		{
			lmtpd_conf *dc = lmtpd_conf_get();
			gint64 drain = MIN((gint64)(dc->cfg->data_timeout + dc->cfg->command_timeout) *
			                   G_USEC_PER_SEC, LMTPD_DRAIN_MAX);
			g_autofree int *lfds = g_new0(int, listeners->len);

			lmtpd_conf_unref(dc);
			for (guint i = 0; i < listeners->len; i++)
				lfds[i] = g_array_index(listeners, lmtpd_listener, i).fd;
			reload_pool = g_thread_pool_new(reload_run, NULL, 1, FALSE, NULL);
			lmtp_outbox_start();
			lmtp_loop_run(lfds, listeners->len, sfd, loop_accept, loop_session, loop_signal, drain);
			lmtp_outbox_stop();
		}
		/* every session has been answered; the threads that wake the
		 * loop stop before it is torn down */
		listeners_close();
		lmtp_deliver_stop();
		lmtp_loop_free();
		g_clear_pointer(&lmtpd.spf, lg_spf_pool_free);
		g_thread_pool_free(reload_pool, FALSE, TRUE);
		close(sfd);
		lmtpd_info("-", "stopped");
	}
	g_mutex_lock(&conf_lock);
	c = g_steal_pointer(&conf_current);
	g_mutex_unlock(&conf_lock);
	lmtpd_conf_unref(c);
	g_free(lmtpd.db_path);
	g_strfreev(opt_listen);
	g_free(opt_config);
	g_free(opt_database);
	return 0;
}
