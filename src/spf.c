/*
 * NAME
 *   spf.c - the pool of SPF helper processes and the verdict cache (spf.h).
 *
 * SUMMARY
 *   An exclusive GThreadPool of o.helpers threads; a thread takes a free
 *   slot (there is always one: no more threads than slots), starts its
 *   helper if it has none, sends the request and waits for the answer
 *   with poll() until the check's deadline. Whatever goes wrong — no
 *   answer in time, end of input (a crash), a frame that does not decode
 *   or answers another request — kills the helper, reaps it, and gives
 *   temperror; the next check in that slot starts a new one. A helper is
 *   also replaced after LG_SPF_HELPER_CHECKS checks, which bounds what a
 *   leak in libspf2 can grow to and keeps the helper's CPU-time limit
 *   (RLIMIT_CPU counts a process's whole life) meaningful.
 *
 *   A helper that cannot be started (a wrong spf_helper path) gives
 *   temperror, and for LG_SPF_RESPAWN_WAIT no check tries again: one fork
 *   of the daemon per message would only add load.
 *
 *   The child set-up between fork and exec (child_setup) calls only
 *   async-signal-safe system calls: setgroups, setgid, setuid, setrlimit,
 *   prctl. PR_SET_PDEATHSIG is tied to the thread that forked; the pool's
 *   threads are exclusive (they live as long as the pool), so a helper
 *   dies with the daemon and not before.
 */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "lg.h"
#include "spf.h"

#ifndef LG_SPF_HELPER_PATH
#define LG_SPF_HELPER_PATH "/usr/local/libexec/leadgate/leadgate-spf-helper"
#endif
#define LG_SPF_HELPER_AS     (G_GUINT64_CONSTANT(256) << 20)  /* address space */
#define LG_SPF_HELPER_CPU    60      /* seconds of CPU in a helper's life */
#define LG_SPF_HELPER_CHECKS 1000    /* checks before a helper is replaced */
#define LG_SPF_HELPER_FILES  32
#define LG_SPF_RESPAWN_WAIT  (10 * G_USEC_PER_SEC)   /* after a helper failed to start */

#if defined(__SANITIZE_ADDRESS__)
#define LG_SPF_NO_AS_LIMIT 1     /* ASan's shadow memory needs terabytes */
#endif

typedef struct {
	GPid pid;                /* 0: none */
	int fd;
	gboolean busy;
	guint checks;
} helper_slot;

typedef struct {
	lg_spf_result result;
	char *comment;
	gint64 expires;          /* monotonic µs */
} cache_entry;

struct lg_spf_pool {
	lg_spf_pool_options o;
	char *helper;
	char **envp;
	GThreadPool *threads;
	GMutex lock;             /* slots, cache, next_id */
	helper_slot *slots;
	GHashTable *cache;       /* "ip\ndomain" -> cache_entry */
	guint32 next_id;
	gint64 no_spawn_until;   /* monotonic µs, under lock: after a failed start, no fork per check */
};

struct lg_spf_check {
	gint refcount;
	lg_spf_pool *pool;
	lg_spf_request req;
	char *key;               /* cache key, NULL: not cacheable */
	GMutex lock;
	GCond cond;
	gboolean done;
	gboolean cached;
	lg_spf_result result;
	char *comment;
	void (*fn)(gpointer);
	gpointer data;
};

/* ---- checks ------------------------------------------------------------- */

lg_spf_check *
lg_spf_check_ref(lg_spf_check *c)
{
	g_atomic_int_inc(&c->refcount);
	return c;
}

void
lg_spf_check_unref(lg_spf_check *c)
{
	if (c == NULL || !g_atomic_int_dec_and_test(&c->refcount))
		return;
	g_free(c->key);
	g_free(c->comment);
	g_mutex_clear(&c->lock);
	g_cond_clear(&c->cond);
	g_free(c);
}

static void
check_done(lg_spf_check *c, lg_spf_result r, const char *comment, gboolean cached)
{
	void (*fn)(gpointer);
	gpointer data;

	g_mutex_lock(&c->lock);
	c->result = r;
	c->comment = g_strdup(comment);
	c->cached = cached;
	c->done = TRUE;
	fn = c->fn;
	data = c->data;
	c->fn = NULL;
	g_cond_broadcast(&c->cond);
	g_mutex_unlock(&c->lock);
	if (fn != NULL)
		fn(data);
}

gboolean
lg_spf_check_notify(lg_spf_check *c, void (*fn)(gpointer data), gpointer data)
{
	gboolean done;

	g_mutex_lock(&c->lock);
	done = c->done;
	if (!done) {
		c->fn = fn;
		c->data = data;
	}
	g_mutex_unlock(&c->lock);
	return done;
}

lg_spf_result
lg_spf_check_wait(lg_spf_check *c)
{
	g_mutex_lock(&c->lock);
	while (!c->done)
		g_cond_wait(&c->cond, &c->lock);
	g_mutex_unlock(&c->lock);
	return c->result;
}

lg_spf_result
lg_spf_check_result(lg_spf_check *c)
{
	return lg_spf_check_wait(c);
}

const char *
lg_spf_check_comment(lg_spf_check *c)
{
	lg_spf_check_wait(c);
	return c->comment;
}

gboolean
lg_spf_check_cached(lg_spf_check *c)
{
	lg_spf_check_wait(c);
	return c->cached;
}

/* ---- helpers ------------------------------------------------------------ */

static void
child_setup(gpointer data)
{
	const lg_spf_pool *p = data;
	struct rlimit r;

	(void) prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (p->o.drop && (setgroups(0, NULL) != 0 || setgid(p->o.gid) != 0 || setuid(p->o.uid) != 0))
		_exit(126);
	r.rlim_cur = r.rlim_max = 0;
	if (setrlimit(RLIMIT_CORE, &r) != 0)
		_exit(126);
	r.rlim_cur = LG_SPF_HELPER_CPU;
	r.rlim_max = LG_SPF_HELPER_CPU + 1;
	if (setrlimit(RLIMIT_CPU, &r) != 0)
		_exit(126);
	r.rlim_cur = r.rlim_max = LG_SPF_HELPER_FILES;
	if (setrlimit(RLIMIT_NOFILE, &r) != 0)
		_exit(126);
#ifndef LG_SPF_NO_AS_LIMIT
	r.rlim_cur = r.rlim_max = LG_SPF_HELPER_AS;
	if (setrlimit(RLIMIT_AS, &r) != 0)
		_exit(126);
#endif
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		_exit(126);
}

static gboolean
helper_start(lg_spf_pool *p, helper_slot *h, GError **error)
{
	int sv[2];
	char *argv[] = { p->helper, NULL };

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno), "socketpair: %s", g_strerror(errno));
		return FALSE;
	}
	if (!g_spawn_async_with_fds(NULL, argv, p->envp,
	                            G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
	                            child_setup, p, &h->pid, sv[1], -1, -1, error)) {
		close(sv[0]);
		close(sv[1]);
		h->pid = 0;
		return FALSE;
	}
	close(sv[1]);
	h->fd = sv[0];
	h->checks = 0;
	g_info("spf: helper %d started", (int) h->pid);
	return TRUE;
}

static void
helper_stop(helper_slot *h, const char *why)
{
	int status = 0;

	if (h->pid == 0)
		return;
	close(h->fd);
	kill(h->pid, SIGKILL);
	while (waitpid(h->pid, &status, 0) < 0 && errno == EINTR)
		;
	if (why != NULL) {
		if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
			g_warning("spf: helper %d %s (killed by signal %d); a new one takes its place",
			          (int) h->pid, why, WTERMSIG(status));
		else
			g_warning("spf: helper %d %s; a new one takes its place", (int) h->pid, why);
	}
	h->pid = 0;
	h->fd = -1;
}

/* Reads or writes exactly @n bytes before @deadline (monotonic µs). */
static gboolean
io_full(int fd, void *buf, gsize n, gboolean out, gint64 deadline, const char **why)
{
	char *p = buf;

	while (n > 0) {
		gint64 left = deadline - g_get_monotonic_time();
		struct pollfd pfd = { fd, out ? POLLOUT : POLLIN, 0 };
		int r;

		if (left <= 0) {
			*why = "did not answer in time";
			return FALSE;
		}
		r = poll(&pfd, 1, (int) MIN(left / 1000 + 1, G_MAXINT));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*why = "could not be polled";
			return FALSE;
		}
		if (r == 0)
			continue;
		ssize_t k = out ? send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT) : recv(fd, p, n, MSG_DONTWAIT);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k <= 0) {
			*why = k == 0 ? "ended" : "went away";
			return FALSE;
		}
		p += k;
		n -= (gsize) k;
	}
	return TRUE;
}

static gboolean
exchange(helper_slot *h, const lg_spf_request *req, lg_spf_response *resp, gint64 deadline, const char **why)
{
	unsigned char buf[LG_SPF_FRAME_HEADER + MAX(LG_SPF_REQUEST_MAX, LG_SPF_RESPONSE_MAX)];
	gsize n = lg_spf_request_encode(req, buf, sizeof buf);
	guint32 len;

	if (n == 0) {
		*why = "was sent a request that does not encode";   /* checked in start: a bug */
		return FALSE;
	}
	if (!io_full(h->fd, buf, n, TRUE, deadline, why) ||
	    !io_full(h->fd, buf, LG_SPF_FRAME_HEADER, FALSE, deadline, why))
		return FALSE;
	len = lg_spf_frame_length(buf);
	if (len > LG_SPF_RESPONSE_MAX) {
		*why = "answered with a frame too long";
		return FALSE;
	}
	if (!io_full(h->fd, buf, len, FALSE, deadline, why))
		return FALSE;
	if (lg_spf_response_decode(buf, len, resp) != 0 || resp->id != req->id) {
		*why = "answered with a frame that does not decode";
		return FALSE;
	}
	return TRUE;
}

/* exchange(), and once more with a new helper when a helper that had
 * already answered before was found gone at once (it ended or went away
 * while idle: killed, or out of memory), so that its death is not this
 * check's temperror. A helper started for this check, a timeout, or an
 * answer that does not decode are not retried: those are the check's own. */
static gboolean
exchange_retry(lg_spf_pool *p, helper_slot *h, const lg_spf_request *req, lg_spf_response *resp, gint64 deadline,
               const char **why)
{
	gboolean reused = h->checks > 0;
	g_autoptr(GError) error = NULL;

	if (exchange(h, req, resp, deadline, why))
		return TRUE;
	if (!reused || (strcmp(*why, "ended") != 0 && strcmp(*why, "went away") != 0))
		return FALSE;
	helper_stop(h, *why);
	if (!helper_start(p, h, &error)) {
		*why = "could not be started again";
		return FALSE;
	}
	return exchange(h, req, resp, deadline, why);
}

static void
cache_entry_free(gpointer p)
{
	cache_entry *e = p;
	g_free(e->comment);
	g_free(e);
}

static void
cache_put(lg_spf_pool *p, const char *key, const lg_spf_response *resp)
{
	gint64 now = g_get_monotonic_time();
	cache_entry *e;

	if (p->cache == NULL || key == NULL || resp->ttl == 0 || resp->result == LG_SPF_TEMPERROR ||
	    (resp->flags & LG_SPF_FLAG_NOCACHE))
		return;
	g_mutex_lock(&p->lock);
	if (g_hash_table_size(p->cache) >= (guint) p->o.cache_max) {
		GHashTableIter it;
		gpointer k, v;

		g_hash_table_iter_init(&it, p->cache);
		while (g_hash_table_iter_next(&it, &k, &v))
			if (((cache_entry *) v)->expires <= now)
				g_hash_table_iter_remove(&it);
		if (g_hash_table_size(p->cache) >= (guint) p->o.cache_max)
			g_hash_table_remove_all(p->cache);
	}
	e = g_new0(cache_entry, 1);
	e->result = resp->result;
	e->comment = g_strdup(resp->comment);
	e->expires = now + (gint64) resp->ttl * G_USEC_PER_SEC;
	g_hash_table_replace(p->cache, g_strdup(key), e);
	g_mutex_unlock(&p->lock);
}

static void
check_run(gpointer job, gpointer pool)
{
	lg_spf_check *c = job;
	lg_spf_pool *p = pool;
	helper_slot *h = NULL;
	lg_spf_response resp;
	const char *why = NULL;
	g_autoptr(GError) error = NULL;
	gint64 deadline = g_get_monotonic_time() + (gint64) p->o.timeout * G_USEC_PER_SEC;

	gboolean no_spawn;

	g_mutex_lock(&p->lock);
	for (int i = 0; i < p->o.helpers && h == NULL; i++)
		if (!p->slots[i].busy)
			h = &p->slots[i];
	g_assert(h != NULL);   /* no more threads than slots */
	h->busy = TRUE;
	c->req.id = ++p->next_id;
	no_spawn = g_get_monotonic_time() < p->no_spawn_until;
	g_mutex_unlock(&p->lock);

	if (h->pid == 0 && no_spawn) {
		check_done(c, LG_SPF_TEMPERROR, "the SPF helper could not be started", FALSE);
	} else if (h->pid == 0 && !helper_start(p, h, &error)) {
		g_warning("spf: cannot start %s: %s (temperror; next try in %d s)", p->helper, error->message,
		          (int) (LG_SPF_RESPAWN_WAIT / G_USEC_PER_SEC));
		g_mutex_lock(&p->lock);
		p->no_spawn_until = g_get_monotonic_time() + LG_SPF_RESPAWN_WAIT;
		g_mutex_unlock(&p->lock);
		check_done(c, LG_SPF_TEMPERROR, "the SPF helper could not be started", FALSE);
	} else if (!exchange_retry(p, h, &c->req, &resp, deadline, &why)) {
		helper_stop(h, why);
		check_done(c, LG_SPF_TEMPERROR, "the SPF helper failed", FALSE);
	} else {
		cache_put(p, c->key, &resp);
		if (++h->checks >= LG_SPF_HELPER_CHECKS)
			helper_stop(h, NULL);
		check_done(c, resp.result, resp.comment, FALSE);
	}

	g_mutex_lock(&p->lock);
	h->busy = FALSE;
	g_mutex_unlock(&p->lock);
	lg_spf_check_unref(c);
}

/* ---- the pool ----------------------------------------------------------- */

gboolean
lg_spf_pool_options_user(lg_spf_pool_options *o, const char *user, GError **error)
{
	const char *name = user != NULL && *user ? user : "nobody";
	struct passwd *pw = getpwnam(name);

	/* a daemon told to keep root ([lmtpd] user = root) still never runs
	 * libspf2 as root: its helpers become nobody */
	if (pw != NULL && pw->pw_uid == 0) {
		name = "nobody";
		pw = getpwnam(name);
	}
	if (pw == NULL) {
		g_set_error(error, LG_CONFIG_ERROR, LG_CONFIG_ERROR_VALUE,
		            "no user \"%s\" for the SPF helpers", name);
		return FALSE;
	}
	o->drop = TRUE;
	o->uid = pw->pw_uid;
	o->gid = pw->pw_gid;
	return TRUE;
}

lg_spf_pool *
lg_spf_pool_new(const lg_spf_pool_options *o, GError **error)
{
	lg_spf_pool *p = g_new0(lg_spf_pool, 1);
	GPtrArray *env = g_ptr_array_new();
	static const char *const pass[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", NULL };

	p->o = *o;
	p->o.helpers = CLAMP(o->helpers, 1, 64);
	p->o.timeout = CLAMP(o->timeout, 1, 600);
	p->helper = g_strdup(o->helper != NULL && *o->helper ? o->helper : LG_SPF_HELPER_PATH);
	/* the resolver's own wait per query: a timeout is temperror (res_ninit reads RES_OPTIONS) */
	g_ptr_array_add(env, g_strdup_printf("RES_OPTIONS=timeout:%d attempts:1", CLAMP(o->dns_timeout, 1, 60)));
	for (guint i = 0; pass[i]; i++)
		if (g_getenv(pass[i]) != NULL)
			g_ptr_array_add(env, g_strdup_printf("%s=%s", pass[i], g_getenv(pass[i])));
	g_ptr_array_add(env, NULL);
	p->envp = (char **) g_ptr_array_free(env, FALSE);
	g_mutex_init(&p->lock);
	p->slots = g_new0(helper_slot, p->o.helpers);
	for (int i = 0; i < p->o.helpers; i++)
		p->slots[i].fd = -1;
	if (p->o.cache_max > 0)
		p->cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, cache_entry_free);
	p->threads = g_thread_pool_new(check_run, p, p->o.helpers, TRUE, error);
	if (p->threads == NULL) {
		lg_spf_pool_free(p);
		return NULL;
	}
	return p;
}

void
lg_spf_pool_free(lg_spf_pool *p)
{
	if (p == NULL)
		return;
	if (p->threads != NULL)
		g_thread_pool_free(p->threads, FALSE, TRUE);
	for (int i = 0; i < p->o.helpers; i++)
		helper_stop(&p->slots[i], NULL);
	g_free(p->slots);
	if (p->cache != NULL)
		g_hash_table_unref(p->cache);
	g_mutex_clear(&p->lock);
	g_strfreev(p->envp);
	g_free(p->helper);
	g_free(p);
}

GArray *
lg_spf_pool_pids(lg_spf_pool *p)
{
	GArray *a = g_array_new(FALSE, FALSE, sizeof(int));

	g_mutex_lock(&p->lock);
	for (int i = 0; i < p->o.helpers; i++)
		if (p->slots[i].pid != 0) {
			int pid = (int) p->slots[i].pid;
			g_array_append_val(a, pid);
		}
	g_mutex_unlock(&p->lock);
	return a;
}

/* a field for the wire: printable, not too long; else "" */
static gboolean
copy_field(char *dst, gsize size, const char *src)
{
	gsize n = src != NULL ? strlen(src) : 0;

	dst[0] = '\0';
	if (n >= size)
		return FALSE;
	for (gsize i = 0; i < n; i++)
		if ((guchar) src[i] < 0x20 || src[i] == 0x7f)
			return FALSE;
	if (n > 0)
		memcpy(dst, src, n + 1);
	return TRUE;
}

lg_spf_check *
lg_spf_pool_start(lg_spf_pool *p, const char *ip, const char *helo, const char *sender)
{
	lg_spf_check *c = g_new0(lg_spf_check, 1);
	const char *at, *domain;
	unsigned char probe[LG_SPF_FRAME_HEADER + LG_SPF_REQUEST_MAX];

	c->refcount = 1;
	c->pool = p;
	g_mutex_init(&c->lock);
	g_cond_init(&c->cond);
	if (ip != NULL && g_ascii_strncasecmp(ip, "IPv6:", 5) == 0)
		ip += 5;   /* Postfix's XFORWARD ADDR form for IPv6 */
	if (!copy_field(c->req.ip, sizeof c->req.ip, ip) || !copy_field(c->req.sender, sizeof c->req.sender, sender)) {
		check_done(c, LG_SPF_PERMERROR, "client address or sender not fit for a check", FALSE);
		return c;
	}
	if (!copy_field(c->req.helo, sizeof c->req.helo, helo))
		c->req.helo[0] = '\0';   /* a HELO name too long to be a domain: as if none */
	if (lg_spf_request_encode(&c->req, probe, sizeof probe) == 0) {
		check_done(c, LG_SPF_PERMERROR, "client address is not an IP address", FALSE);
		return c;
	}
	at = strrchr(c->req.sender, '@');
	domain = at != NULL ? at + 1 : c->req.sender;
	if (*c->req.sender == '\0')
		domain = c->req.helo;
	if (*domain != '\0') {
		g_autofree char *lower = g_ascii_strdown(domain, -1);
		c->key = g_strdup_printf("%s\n%s", c->req.ip, lower);
	}
	if (p->cache != NULL && c->key != NULL) {
		cache_entry *e;
		lg_spf_result r = 0;
		g_autofree char *comment = NULL;

		g_mutex_lock(&p->lock);
		e = g_hash_table_lookup(p->cache, c->key);
		if (e != NULL && e->expires > g_get_monotonic_time()) {
			r = e->result;
			comment = g_strdup(e->comment);
		}
		g_mutex_unlock(&p->lock);
		if (r != 0) {
			check_done(c, r, comment, TRUE);
			return c;
		}
	}
	g_thread_pool_push(p->threads, lg_spf_check_ref(c), NULL);
	return c;
}
