/*
 * NAME
 *   milter.c - leadgate-milter: the email sync's libmilter filter.
 *
 * SYNOPSIS
 *   leadgate-milter [-c FILE] [-d DATABASE] [--listen ADDR] [--syslog]
 *                   [--check-config]
 *
 * SUMMARY
 *   A thin shell over the core's sync filter (src/sync.c). The callbacks
 *   only assemble the message and its envelope, with the core's
 *   src/milter_msg.c (which tests/fuzz/fuzz-milter drives without
 *   libmilter); the decision and every store write happen in one writer
 *   thread, so that the MTA's session never waits for the database. Every callback answers continue, on every path,
 *   errors included: the filter registers no modification flags and never
 *   rejects, delays or alters mail (SPEC §5).
 *
 *   Each message becomes an event: its bytes (at most spool_mem_limit of
 *   them in memory while they arrive, the rest written straight to
 *   NAME.msg in [milter] spool_dir, created O_EXCL, never through a
 *   symbolic link, mode 0600) and its
 *   envelope, SASL login and direction. End of message hands it to the
 *   writer thread through a queue and answers at once; the writer records
 *   up to 64 events per commit, waiting up to 20 ms after the first of a
 *   quiet spell for more to share it, and reads the spool folder only
 *   when something was spooled. While the store is locked, read-only or
 *   missing, when the writer is more than 256 events behind, and at exit,
 *   events go to the spool folder (NAME.msg, then NAME.evt renamed into
 *   place) and are recorded from there, in arrival order, once the store
 *   is back (the store is tried again after a growing pause, half a second
 *   to ten); a restart records what was left. A replay never doubles
 *   anything: activities and sync-log rows are unique in the schema. An
 *   event that can never be recorded (an empty message) is kept as
 *   NAME.bad and logged as an error. Only a crash loses the events still
 *   queued in memory, never mail.
 *
 *   The protocol is negotiated down to what is used: no answer is awaited
 *   for HELO, MAIL, RCPT, headers and body chunks (SMFIP_NR_*), only for
 *   the connection and the end of message, which is always "continue".
 *
 *   Direction: outbound when the session authenticated ({auth_authen}) or
 *   its {daemon_name} is listed in [milter] outbound_daemons; otherwise
 *   inbound, which the filter syncs when a recipient is a user. So that an
 *   MX does not copy every stranger's message to disk, inbound mail none of
 *   whose recipients is a user's address is not collected at all: the
 *   writer keeps the set of users' addresses, read again every two seconds
 *   (a user added takes effect within that); until it could read it once,
 *   everything is collected and the filter decides.
 *
 *   Signals: libmilter's smfi_main() starts its own thread that sigwaits
 *   for SIGHUP, SIGTERM and SIGINT and treats all three as "stop". So that
 *   SIGHUP reloads instead, smfi_main() runs in a thread of its own and the
 *   main thread sigwaits for the same signals: Linux hands a signal sent to
 *   the process to its main thread first when that thread can take it, so
 *   libmilter's thread only sees one that arrives while a reload is under
 *   way. SIGHUP loads the config file again (the database, listening
 *   address and spool folder are read at start only); SIGTERM or SIGINT
 *   stops libmilter, lets the writer record what is spooled, and exits 0.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <libmilter/mfapi.h>

#include "lg.h"
#include "config.h"
#include "message.h"
#include "store.h"
#include "store_sync.h"
#include "privs.h"
#include "milter_msg.h"

#define EX_CONFIG   78
#define EX_OSERR    71
#define EX_SOFTWARE 70

/* ---- options, logging ------------------------------------------------------ */

static char *opt_config;
static char *opt_database;
static char **opt_listen;
static gboolean opt_syslog;
static gboolean opt_check;

static const GOptionEntry options[] = {
	{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &opt_config, "Config file (default: built-in defaults)", "FILE" },
	{ "database", 'd', 0, G_OPTION_ARG_FILENAME, &opt_database, "Database (overrides [store] database)", "FILE" },
	{ "listen", 'l', 0, G_OPTION_ARG_STRING_ARRAY, &opt_listen,
	  "Listen on ADDR: inet:PORT@HOST, inet6:PORT@HOST, unix:/path, 127.0.0.1:8891 or [::1]:8891 "
	  "(overrides [milter] listen)", "ADDR" },
	{ "syslog", 0, 0, G_OPTION_ARG_NONE, &opt_syslog, "Log to syslog instead of stderr", NULL },
	{ "check-config", 'n', 0, G_OPTION_ARG_NONE, &opt_check, "Check the config, then exit", NULL },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};

static gboolean log_syslog;

static void G_GNUC_PRINTF(2, 3)
mlog(int prio, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (log_syslog) {
		syslog(prio, "%s", msg);
		return;
	}
	const char *tag = prio <= LOG_ERR ? "error: " : prio == LOG_WARNING ? "warning: " : "";
	fprintf(stderr, "leadgate-milter[%d]: %s%s\n", (int) getpid(), tag, msg);
}

static int
facility(const char *name)
{
	static const struct { const char *n; int f; } f[] = {
		{ "mail", LOG_MAIL }, { "daemon", LOG_DAEMON }, { "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
		{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
		{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
	};
	for (guint i = 0; i < G_N_ELEMENTS(f); i++)
		if (g_strcmp0(name, f[i].n) == 0)
			return f[i].f;
	return LOG_MAIL;
}

/* ---- shared state ---------------------------------------------------------- */

static GMutex cfg_lock;
static lg_config *cfg_current;   /* swapped whole on reload */
static char *db_path;
static lg_milter_spool spool = { .dirty = 1 };   /* the folder may hold events (at start: maybe) */
static GAsyncQueue *wake_q;      /* events (event*) for the writer, or &wake_token */
static gint writer_stop;
static GMutex users_lock;
static GHashTable *users_known;  /* users' addresses; NULL until read once */

static lg_config *
cfg_get(void)
{
	g_mutex_lock(&cfg_lock);
	lg_config *c = lg_config_ref(cfg_current);
	g_mutex_unlock(&cfg_lock);
	return c;
}

static char wake_token;           /* pushed to wake the writer with no event */

static void
writer_wake(void)
{
	g_async_queue_push(wake_q, &wake_token);
}

/* ---- events ---------------------------------------------------------------- */

/* An event (src/milter_msg.h) lives in memory only while the store takes
 * events (a message past spool_mem_limit already in its NAME.msg); it is
 * written to the spool folder when the store is unavailable, when the
 * writer lags behind, and at exit if it could not be recorded. */
typedef lg_milter_event event;

/* Events queued past this are spooled by the callback itself: memory
 * stays bounded however far behind the writer is. */
#define QUEUE_MAX 256

static void
event_free(event *e)
{
	lg_milter_event_free(e);
}

/* FALSE (logged) when the folder does not take it. */
static gboolean
event_spool(event *e)
{
	g_autoptr(GError) err = NULL;
	if (!lg_milter_event_spool(&spool, e, &err)) {
		mlog(LOG_WARNING, "%s", err->message);
		return FALSE;
	}
	return TRUE;
}

static void
event_done(event *e, gboolean bad)
{
	g_autofree char *kept = NULL;
	lg_milter_event_done(&spool, e, bad, &kept);
	if (kept != NULL)
		mlog(LOG_ERR, "queue=%s: kept as %s", e->queue_id ? e->queue_id : "-", kept);
}

/* ---- the callbacks --------------------------------------------------------- */

/* The connection's state: the assembly (src/milter_msg.c) and what was
 * negotiated. */
typedef struct {
	lg_milter_conn *m;
	unsigned long pflags;     /* protocol steps negotiated (SMFIP_*) */
} mconn;

/* The answer of a callback: none at all for a step the MTA agreed not to
 * wait for (SMFIP_NR_*), continue otherwise. Either way the mail goes on. */
static sfsistat
go_on(const mconn *c, unsigned long no_reply_flag)
{
	return c != NULL && (c->pflags & no_reply_flag) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static mconn *
conn_of(SMFICTX *ctx)
{
	mconn *c = smfi_getpriv(ctx);
	if (c == NULL) {
		c = g_new0(mconn, 1);
		c->m = lg_milter_conn_new(&spool);
		if (smfi_setpriv(ctx, c) != MI_SUCCESS) {
			lg_milter_conn_free(c->m);
			g_free(c);
			return NULL;
		}
	}
	return c;
}

static void
conn_free(mconn *c)
{
	lg_milter_conn_free(c->m);
	g_free(c);
}

static char *
macro(SMFICTX *ctx, const char *name)
{
	const char *v = smfi_getsymval(ctx, (char *) name);
	return v != NULL && *v != '\0' ? g_strdup(v) : NULL;
}

/* Fewer round trips on the MTA's side: it need not wait for an answer to
 * HELO, MAIL, RCPT, a header, the end of headers or a body chunk (the
 * answer is always "continue"), and skips the steps not used here. Header
 * values come with their leading space, so the message is rebuilt as it
 * was written. */
static sfsistat
cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2, unsigned long f3,
             unsigned long *pf0, unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	(void) f2;
	(void) f3;
	mconn *c = conn_of(ctx);
	unsigned long want = SMFIP_NOUNKNOWN | SMFIP_NODATA;
	if (c != NULL)
		want |= SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_RCPT | SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY |
		        SMFIP_HDR_LEADSPC;
	*pf0 = f0 & 0;               /* no modification actions */
	*pf1 = f1 & want;
	*pf2 = *pf3 = 0;
	if (c != NULL)
		c->pflags = *pf1;
	return SMFIS_CONTINUE;
}

static sfsistat
cb_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *addr)
{
	mconn *c = conn_of(ctx);
	if (c == NULL)
		return SMFIS_ACCEPT;   /* out of memory: let the mail go by untouched */
	g_autofree char *daemon = macro(ctx, "{daemon_name}");
	char host[NI_MAXHOST];
	const char *client_addr = NULL;
	if (addr != NULL) {
		socklen_t len = addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
		if ((addr->sa_family == AF_INET || addr->sa_family == AF_INET6) &&
		    getnameinfo(addr, len, host, sizeof host, NULL, 0, NI_NUMERICHOST) == 0)
			client_addr = host;
	}
	lg_milter_conn_connect(c->m, daemon, hostname, client_addr);
	return SMFIS_CONTINUE;
}

static sfsistat
cb_helo(SMFICTX *ctx, char *helo)
{
	mconn *c = conn_of(ctx);
	if (c != NULL)
		lg_milter_conn_helo(c->m, helo);
	return go_on(c, SMFIP_NR_HELO);
}

static sfsistat
cb_envfrom(SMFICTX *ctx, char **argv)
{
	mconn *c = conn_of(ctx);
	if (c == NULL)
		return SMFIS_CONTINUE;   /* (no NR_MAIL was negotiated without a connection state) */
	g_autoptr(lg_config) cfg = cfg_get();
	g_autofree char *login = macro(ctx, "{auth_authen}");
	g_autofree char *daemon = macro(ctx, "{daemon_name}");
	lg_milter_conn_mail(c->m, cfg, argv && argv[0] ? argv[0] : "", login, daemon);
	return go_on(c, SMFIP_NR_MAIL);
}

static sfsistat
cb_envrcpt(SMFICTX *ctx, char **argv)
{
	mconn *c = conn_of(ctx);
	if (c != NULL && argv && argv[0])
		lg_milter_conn_rcpt(c->m, argv[0]);
	return go_on(c, SMFIP_NR_RCPT);
}

/* At the first header every recipient is known: inbound mail for no
 * user is let go without collecting it. */
static void
data_begins(mconn *c)
{
	if (lg_milter_conn_in_data(c->m))
		return;
	g_mutex_lock(&users_lock);
	lg_milter_conn_data_begins(c->m, users_known);
	g_mutex_unlock(&users_lock);
}

static sfsistat
cb_header(SMFICTX *ctx, char *name, char *value)
{
	mconn *c = conn_of(ctx);
	if (c != NULL) {
		data_begins(c);
		lg_milter_conn_header(c->m, name, value, (c->pflags & SMFIP_HDR_LEADSPC) != 0);
	}
	return go_on(c, SMFIP_NR_HDR);
}

static sfsistat
cb_eoh(SMFICTX *ctx)
{
	mconn *c = conn_of(ctx);
	if (c != NULL) {
		data_begins(c);
		lg_milter_conn_eoh(c->m);
	}
	return go_on(c, SMFIP_NR_EOH);
}

static sfsistat
cb_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	mconn *c = conn_of(ctx);
	if (c != NULL)
		lg_milter_conn_body(c->m, chunk, len);
	return go_on(c, SMFIP_NR_BODY);
}

/* How long end of message takes here (the only callback that writes a
 * file): log2 buckets of microseconds, counted without a lock, reported
 * at exit (the bench reads the p99). */
static gint eom_hist[32];

static void
eom_note(gint64 t0)
{
	gint64 us = g_get_monotonic_time() - t0;
	guint b = 0;
	while (b < 31 && (G_GINT64_CONSTANT(1) << b) <= us)
		b++;
	g_atomic_int_inc(&eom_hist[b]);
}

/* The upper bound (us) of the bucket holding quantile @q. */
static gint64
eom_quantile(double q, gint64 *n_r)
{
	gint64 n = 0, seen = 0;
	for (guint b = 0; b < 32; b++)
		n += g_atomic_int_get(&eom_hist[b]);
	*n_r = n;
	for (guint b = 0; b < 32; b++) {
		seen += g_atomic_int_get(&eom_hist[b]);
		if (n > 0 && (double) seen >= q * (double) n)
			return G_GINT64_CONSTANT(1) << b;
	}
	return 0;
}

static sfsistat eom_work(SMFICTX *ctx);

static sfsistat
cb_eom(SMFICTX *ctx)
{
	gint64 t0 = g_get_monotonic_time();
	sfsistat r = eom_work(ctx);
	eom_note(t0);
	return r;
}

static sfsistat
eom_work(SMFICTX *ctx)
{
	mconn *c = conn_of(ctx);
	if (c == NULL)
		return SMFIS_CONTINUE;
	g_autofree char *qid = macro(ctx, "i");
	g_autoptr(GError) err = NULL;
	event *e = lg_milter_conn_eom(c->m, qid, &err);
	if (e == NULL) {
		if (err != NULL)
			mlog(LOG_WARNING, "%s: this message is not synced", err->message);
		return SMFIS_CONTINUE;
	}
	/* the event goes to the writer as it is: no file is written here
	 * unless the writer is far behind */
	if (g_async_queue_length(wake_q) < QUEUE_MAX) {
		g_async_queue_push(wake_q, e);
	} else {
		if (!event_spool(e)) {
			mlog(LOG_WARNING, "queue=%s: this message is not synced", e->queue_id ? e->queue_id : "-");
			event_done(e, FALSE);
		}
		event_free(e);
		writer_wake();
	}
	return SMFIS_CONTINUE;
}

static sfsistat
cb_abort(SMFICTX *ctx)
{
	mconn *c = smfi_getpriv(ctx);
	if (c != NULL)
		lg_milter_conn_abort(c->m);
	return SMFIS_CONTINUE;
}

static sfsistat
cb_close(SMFICTX *ctx)
{
	mconn *c = smfi_getpriv(ctx);
	if (c != NULL) {
		smfi_setpriv(ctx, NULL);
		conn_free(c);
	}
	return SMFIS_CONTINUE;
}

static struct smfiDesc filter = {
	.xxfi_name = (char *) "leadgate-milter",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = 0,             /* no modification of any kind */
	.xxfi_connect = cb_connect,
	.xxfi_helo = cb_helo,
	.xxfi_envfrom = cb_envfrom,
	.xxfi_envrcpt = cb_envrcpt,
	.xxfi_header = cb_header,
	.xxfi_eoh = cb_eoh,
	.xxfi_body = cb_body,
	.xxfi_eom = cb_eom,
	.xxfi_abort = cb_abort,
	.xxfi_close = cb_close,
	.xxfi_negotiate = cb_negotiate,
};

/* ---- the writer ------------------------------------------------------------ */

typedef enum { EV_DONE, EV_LATER, EV_BAD } ev_result;

static lg_store *store;
static gboolean store_down;      /* logged once per outage */

static void
store_unavailable(const char *why)
{
	if (!store_down)
		mlog(LOG_WARNING, "store unavailable (%s): events stay in %s until it is back", why, spool.dir);
	store_down = TRUE;
	g_clear_pointer(&store, lg_store_close);
}

static dev_t store_dev;
static ino_t store_ino;

/* The connection, made again when the file at db_path is not the one it
 * has open: a database moved away or replaced (a restore) must not take
 * events into a file nobody will read. A missing database is an outage,
 * not something to create here. */
static gboolean
store_ready(const lg_config *cfg)
{
	struct stat sb;
	if (stat(db_path, &sb) != 0) {
		store_unavailable("no database file");
		return FALSE;
	}
	if (store != NULL && sb.st_dev == store_dev && sb.st_ino == store_ino)
		return TRUE;
	g_clear_pointer(&store, lg_store_close);
	g_autoptr(GError) err = NULL;
	store = lg_store_open(db_path, LG_STORE_MIGRATE, cfg->busy_timeout_ms, &err);
	if (store == NULL) {
		store_unavailable(err->message);
		return FALSE;
	}
	store_dev = sb.st_dev;
	store_ino = sb.st_ino;
	return TRUE;
}

/* Runs one event through the filter inside the writer's open transaction;
 * its log lines go to @log, written once the batch is committed. */
static ev_result
record_event(event *e, lg_config *cfg, GString *log, GError **later)
{
	g_autoptr(GError) err = NULL;
	lg_milter_result r = lg_milter_event_record(store, cfg, spool.dir, e, log, &err);
	if (r == LG_MILTER_LATER) {
		g_propagate_error(later, g_steal_pointer(&err));
		return EV_LATER;
	}
	if (r == LG_MILTER_BAD) {
		mlog(LOG_ERR, "%s", err->message);
		return EV_BAD;
	}
	return EV_DONE;
}

static gint
name_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static void
log_lines(const GString *log)
{
	g_auto(GStrv) lines = g_strsplit(log->str, "\n", -1);
	for (char **l = lines; *l; l++)
		if (**l)
			mlog(LOG_INFO, "%s", *l);
}

/* Up to this many events share one commit: under load the writer makes
 * one durable write for many messages, not one each. */
#define BATCH 64

/* Records @events (event*) BATCH per transaction; their files go only
 * after their commit. FALSE when the store is unavailable: the events of
 * the unfinished batch and after it stay in @events, from @events->pdata
 * [*done_r] on (what a failed batch wrote was rolled back; the schema's
 * constraints would make it harmless to redo anyway). */
static gboolean
record_events(GPtrArray *events, guint *done_r)
{
	g_autoptr(lg_config) cfg = cfg_get();
	*done_r = 0;
	for (guint start = 0; start < events->len; start += BATCH) {
		guint end = MIN(start + BATCH, events->len);
		g_autoptr(GError) err = NULL;
		if (!store_ready(cfg))
			return FALSE;
		if (!lg_store_begin(store, &err)) {
			store_unavailable(err->message);
			return FALSE;
		}
		g_autoptr(GString) log = g_string_new(NULL);
		g_autoptr(GArray) bad = g_array_sized_new(FALSE, TRUE, sizeof(gboolean), end - start);
		for (guint i = start; i < end; i++) {
			ev_result r = record_event(events->pdata[i], cfg, log, &err);
			if (r == EV_LATER) {
				lg_store_rollback(store);
				store_unavailable(err->message);
				return FALSE;
			}
			gboolean b = r == EV_BAD;
			g_array_append_val(bad, b);
		}
		if (!lg_store_commit(store, &err)) {
			lg_store_rollback(store);
			store_unavailable(err->message);
			return FALSE;
		}
		if (store_down)
			mlog(LOG_INFO, "store available again: recording events");
		store_down = FALSE;
		log_lines(log);
		for (guint i = start; i < end; i++)
			event_done(events->pdata[i], g_array_index(bad, gboolean, i - start));
		*done_r = end;
	}
	return TRUE;
}

static gboolean
record_spool_dir(void)
{
	g_autoptr(GDir) d = g_dir_open(spool.dir, 0, NULL);
	if (d == NULL)
		return TRUE;
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	const char *n;
	while ((n = g_dir_read_name(d)) != NULL)
		if (g_str_has_suffix(n, ".evt"))
			g_ptr_array_add(names, g_strndup(n, strlen(n) - 4));
	if (names->len == 0)
		return TRUE;
	g_ptr_array_sort(names, name_cmp);
	g_autoptr(GPtrArray) events = g_ptr_array_new_with_free_func((GDestroyNotify) event_free);
	for (guint i = 0; i < names->len; i++) {
		g_autofree char *base = g_build_filename(spool.dir, names->pdata[i], NULL);
		g_autoptr(GError) err = NULL;
		event *e = lg_milter_event_load(base, &err);
		if (e != NULL) {
			g_ptr_array_add(events, e);
		} else {
			mlog(LOG_ERR, "%s", err->message);
			g_autofree char *evt = g_strconcat(base, ".evt", NULL);
			g_autofree char *keep = g_strconcat(base, ".evt.bad", NULL);
			g_rename(evt, keep);
		}
	}
	guint done = 0;
	return record_events(events, &done);
}

/* Records the spooled events in name (arrival) order; FALSE when the
 * store is unavailable and some are left. The folder is read only when
 * something may be in it (at start, and after an event was spooled): not
 * once per commit. The flag is cleared before the folder is read, so an
 * event spooled meanwhile sets it again. */
static gboolean
record_spool(void)
{
	if (!g_atomic_int_compare_and_exchange(&spool.dirty, 1, 0))
		return TRUE;
	gboolean ok = record_spool_dir();
	if (!ok)
		g_atomic_int_set(&spool.dirty, 1);
	return ok;
}

/* Records the events that came through the queue; those the store cannot
 * take now go to the spool folder (and are recorded from there later). */
static void
record_queued(GPtrArray *pending, gboolean store_ok)
{
	gpointer p;
	while ((p = g_async_queue_try_pop(wake_q)) != NULL)
		if (p != &wake_token)
			g_ptr_array_add(pending, p);
	if (pending->len == 0)
		return;
	guint done = 0;
	if (!store_ok || !record_events(pending, &done)) {
		for (guint i = done; i < pending->len; i++)
			if (!event_spool(pending->pdata[i])) {
				event *e = pending->pdata[i];
				mlog(LOG_ERR, "queue=%s: neither recorded nor spooled: this message is not synced",
				     e->queue_id ? e->queue_id : "-");
				event_done(e, FALSE);   /* no half-written files left behind */
			}
	}
	g_ptr_array_set_size(pending, 0);
}

#define USERS_REFRESH_US (2 * G_USEC_PER_SEC)

static void
users_refresh(void)
{
	g_autoptr(lg_config) cfg = cfg_get();
	if (!store_ready(cfg))
		return;
	GHashTable *set = NULL;
	g_autoptr(GError) err = NULL;
	if (!lg_store_sync_user_addresses(store, &set, &err)) {
		if (lg_error_is_temporary(err))
			store_unavailable(err->message);
		return;
	}
	g_mutex_lock(&users_lock);
	GHashTable *old = users_known;
	users_known = set;
	g_mutex_unlock(&users_lock);
	if (old != NULL)
		g_hash_table_unref(old);
}

/* After the first event of a quiet spell, the writer waits up to this
 * long for more before it commits, so that a busy MTA's events share a
 * commit (and its sync) instead of paying one each: what the store costs
 * the machine Postfix runs on. An event is in memory only until its commit
 * either way (see SUMMARY); this adds at most GATHER_US to that. */
#define GATHER_US 20000

static void
gather(GPtrArray *pending)
{
	gint64 until = g_get_monotonic_time() + GATHER_US;
	while (pending->len < BATCH && g_atomic_int_get(&writer_stop) == 0) {
		gint64 left = until - g_get_monotonic_time();
		if (left <= 0)
			break;
		gpointer w = g_async_queue_timeout_pop(wake_q, (guint64) left);
		if (w == NULL)
			break;
		if (w != &wake_token)
			g_ptr_array_add(pending, w);
	}
}

static gpointer
writer_main(gpointer unused)
{
	(void) unused;
	guint64 pause_ms = 0;    /* 0: nothing waiting for the store */
	gint64 users_at = 0;
	g_autoptr(GPtrArray) pending = g_ptr_array_new_with_free_func((GDestroyNotify) event_free);
	gint64 next_try = 0;     /* during an outage: when to try the store again */
	for (;;) {
		gboolean stop = g_atomic_int_get(&writer_stop) != 0;
		/* During an outage the store is tried again only when the pause is
		 * over (and at exit): events arriving meanwhile go straight to the
		 * spool folder instead of waiting for the busy timeout each. */
		gboolean try_store = pause_ms == 0 || stop || g_get_monotonic_time() >= next_try;
		gboolean all = try_store && record_spool();
		record_queued(pending, all);
		if (stop && g_async_queue_length(wake_q) <= 0)
			break;
		if (all && g_get_monotonic_time() - users_at >= USERS_REFRESH_US) {
			users_refresh();
			users_at = g_get_monotonic_time();
		}
		if (try_store) {
			pause_ms = all ? 0 : (pause_ms == 0 ? 500 : MIN(pause_ms * 2, 10000));
			next_try = g_get_monotonic_time() + (gint64) pause_ms * 1000;
		}
		gint64 wait_us = pause_ms ? MAX(next_try - g_get_monotonic_time(), 1000) : USERS_REFRESH_US;
		gpointer w = g_async_queue_timeout_pop(wake_q, (guint64) wait_us);
		if (w != NULL && w != &wake_token) {
			g_ptr_array_add(pending, w);
			if (pause_ms == 0)
				gather(pending);
		}
	}
	g_clear_pointer(&store, lg_store_close);
	g_mutex_lock(&users_lock);
	g_clear_pointer(&users_known, g_hash_table_unref);
	g_mutex_unlock(&users_lock);
	return NULL;
}

/* ---- start-up -------------------------------------------------------------- */

/* libmilter's socket form of an address: inet:PORT@HOST, inet6:PORT@HOST and
 * unix:/path pass as they are; the 127.0.0.1:8891 / [::1]:8891 / /path
 * forms of the other daemons are turned into them. NULL when unusable. */
static char *
milter_conn(const char *a)
{
	if (g_str_has_prefix(a, "inet:") || g_str_has_prefix(a, "inet6:") || g_str_has_prefix(a, "unix:") ||
	    g_str_has_prefix(a, "local:"))
		return g_strdup(a);
	if (a[0] == '/')
		return g_strconcat("unix:", a, NULL);
	if (a[0] == '[') {
		const char *close = strchr(a, ']');
		if (close == NULL || close[1] != ':' || close[2] == '\0')
			return NULL;
		return g_strdup_printf("inet6:%s@%.*s", close + 2, (int) (close - a - 1), a + 1);
	}
	const char *colon = strrchr(a, ':');
	if (colon == NULL || colon == a || colon[1] == '\0')
		return NULL;
	return g_strdup_printf("inet:%s@%.*s", colon + 1, (int) (colon - a), a);
}

/* A UNIX socket file left by a milter that is gone is removed; one that
 * still answers is someone else's, and starting fails. */
static void
remove_stale_socket(const char *conn)
{
	const char *path = g_str_has_prefix(conn, "unix:") ? conn + 5 : g_str_has_prefix(conn, "local:") ? conn + 6 : NULL;
	struct stat sb;
	if (path == NULL || lstat(path, &sb) != 0 || !S_ISSOCK(sb.st_mode))
		return;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof sun.sun_path)
		return;
	strcpy(sun.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *) &sun, sizeof sun) != 0 && errno == ECONNREFUSED)
		g_unlink(path);
	close(fd);
}

/* Leftovers of a previous run: a .msg with no .evt was a message under way. */
static void
spool_clean(void)
{
	g_autoptr(GDir) d = g_dir_open(spool.dir, 0, NULL);
	if (d == NULL)
		return;
	const char *n;
	while ((n = g_dir_read_name(d)) != NULL) {
		g_autofree char *p = g_build_filename(spool.dir, n, NULL);
		if (g_str_has_suffix(n, ".evt.tmp")) {
			g_unlink(p);
		} else if (g_str_has_suffix(n, ".msg")) {
			g_autofree char *base = g_strndup(p, strlen(p) - 4);
			g_autofree char *evt = g_strconcat(base, ".evt", NULL);
			if (!g_file_test(evt, G_FILE_TEST_EXISTS))
				g_unlink(p);
		}
	}
}

static gpointer
milter_main(gpointer unused)
{
	(void) unused;
	int rc = smfi_main();
	/* tell the main thread, whichever way libmilter stopped */
	kill(getpid(), SIGUSR2);
	return GINT_TO_POINTER(rc);
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(GOptionContext) ctx = g_option_context_new("- the leadgate email sync milter");
	g_option_context_set_summary(ctx, "Logs users' sent and received mail as activities on leads (SPEC §5).\n"
	                             "Never rejects, delays or changes mail.");
	g_option_context_add_main_entries(ctx, options, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
		fprintf(stderr, "leadgate-milter: %s\n", err->message);
		return 64;
	}
	signal(SIGPIPE, SIG_IGN);
	lg_config *cfg = lg_config_load(opt_config, &err);
	if (cfg == NULL) {
		mlog(LOG_ERR, "%s", err->message);
		return EX_CONFIG;
	}
	cfg_current = cfg;
	if (opt_syslog || g_strcmp0(cfg->log_target, "syslog") == 0) {
		openlog("leadgate-milter", LOG_PID | LOG_NDELAY, facility(cfg->syslog_facility));
		log_syslog = TRUE;
	}
	/* libmilter serves one socket: a second one is refused, not ignored */
	char **addrs = opt_listen ? opt_listen : cfg->milter_listen;
	if (addrs != NULL && addrs[0] != NULL && addrs[1] != NULL) {
		mlog(LOG_ERR, "%s names several sockets; leadgate-milter (libmilter) listens on one",
		     opt_listen ? "--listen" : "[milter] listen");
		return EX_CONFIG;
	}
	const char *listen = addrs ? addrs[0] : NULL;
	g_autofree char *conn = listen ? milter_conn(listen) : NULL;
	if (conn == NULL) {
		mlog(LOG_ERR, "cannot listen on \"%s\": use inet:PORT@HOST, inet6:PORT@HOST, unix:/path or HOST:PORT",
		     listen ? listen : "");
		return EX_CONFIG;
	}
	db_path = g_strdup(opt_database ? opt_database : cfg->database);
	spool.dir = g_strdup(*cfg->milter_spool_dir ? cfg->milter_spool_dir : NULL);
	if (spool.dir == NULL)
		spool.dir = g_strconcat(db_path, ".spool", NULL);
	if (opt_check) {
		printf("%s: ok (listen %s, database %s, spool %s)\n", cfg->path ? cfg->path : "built-in defaults",
		       conn, db_path, spool.dir);
		return 0;
	}
	lg_message_init();

	remove_stale_socket(conn);
	if (smfi_register(filter) != MI_SUCCESS || smfi_setconn(conn) != MI_SUCCESS) {
		mlog(LOG_ERR, "cannot set up libmilter for %s", conn);
		return EX_SOFTWARE;
	}
	if (smfi_opensocket(FALSE) != MI_SUCCESS) {
		mlog(LOG_ERR, "cannot listen on %s (in use, or no permission?)", conn);
		return EX_OSERR;
	}
	/* bound: now the configured user, never root unless told (privs.h);
	 * the spool folder is made and checked as that user */
	g_autofree char *note = NULL;
	if (!lg_privileges_drop("milter", cfg->milter_user, cfg->milter_group, &note, &err)) {
		mlog(LOG_ERR, "%s", err->message);
		return EX_CONFIG;
	}
	if (note != NULL)
		mlog(LOG_INFO, "%s", note);
	if (!lg_spool_dir_ready(spool.dir, &err)) {
		mlog(LOG_ERR, "%s", err->message);
		return EX_OSERR;
	}
	spool_clean();

	/* Every thread made from here on inherits this mask: the signals wait
	 * for sigwaitinfo() below (see the head of the file). */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	wake_q = g_async_queue_new();
	GThread *writer = g_thread_new("writer", writer_main, NULL);
	GThread *mt = g_thread_new("milter", milter_main, NULL);
	mlog(LOG_INFO, "listening on %s, database %s, spool %s", conn, db_path, spool.dir);

	int status = 0;
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&sigs, &si);
		if (sig < 0)
			continue;
		if (sig == SIGHUP) {
			g_autoptr(GError) e = NULL;
			lg_config *n = lg_config_load(opt_config, &e);
			if (n == NULL) {
				mlog(LOG_ERR, "reload: %s: keeping the running config", e->message);
				continue;
			}
			g_mutex_lock(&cfg_lock);
			lg_config *old = cfg_current;
			cfg_current = n;
			g_mutex_unlock(&cfg_lock);
			lg_config_unref(old);
			mlog(LOG_INFO, "reloaded %s", opt_config ? opt_config : "built-in defaults");
			writer_wake();
			continue;
		}
		if (sig == SIGUSR2) {
			mlog(LOG_ERR, "libmilter stopped");
			status = EX_SOFTWARE;
		} else {
			mlog(LOG_INFO, "signal %d: stopping", sig);
			smfi_stop();
		}
		break;
	}
	int rc = GPOINTER_TO_INT(g_thread_join(mt));
	if (rc != MI_SUCCESS && status == 0)
		status = EX_SOFTWARE;
	g_atomic_int_set(&writer_stop, 1);
	writer_wake();
	g_thread_join(writer);
	g_async_queue_unref(wake_q);
	lg_config_unref(cfg_current);
	g_free(db_path);
	g_free(spool.dir);
	g_strfreev(opt_listen);
	gint64 n = 0, p50 = eom_quantile(0.50, &n), p99 = eom_quantile(0.99, &n);
	mlog(LOG_INFO, "stopped: %" G_GINT64_FORMAT " messages, end of message took at most %" G_GINT64_FORMAT
	     " us (p50), %" G_GINT64_FORMAT " us (p99)", n, p50, p99);
	return status;
}
