/*
 * NAME
 *   lmtp_loop.c - an epoll loop running LMTP sessions as coroutines.
 *
 * SUMMARY
 *   Each accepted connection gets a coroutine (ucontext, its own stack with
 *   a guard page) that runs lmtp_session_run(). lmtp_io's waits and the
 *   commit wait call back here and swap to the loop; the loop resumes a
 *   coroutine when its socket is ready, its deadline has passed, another
 *   thread has woken it (an eventfd and a locked list: the writer after a
 *   commit, a worker after lmtp_loop_offload), or the daemon stops.
 *   Everything but the writer and the workers runs in one thread, so no
 *   locks are needed for the coroutine lists.
 *
 *   A session's socket is registered with epoll once, edge-triggered, for
 *   both directions: no epoll_ctl per wait. Edges that come while the
 *   coroutine is not waiting for them are kept in co->ready, so a wait for
 *   a readiness already signalled returns at once (the caller then tries
 *   its read or write, and waits again if that finds nothing). A hang-up
 *   or an error (EPOLLRDHUP, EPOLLHUP, EPOLLERR) is never consumed: once
 *   the client has closed, every later wait returns at once and the read
 *   finds the end of input, even when the close came together with the
 *   last bytes of a message and the session was waiting for its delivery
 *   at the time.
 *
 *   Every switch is a swapcontext() between the loop's context and the
 *   coroutine's, each saved where it was left: no jump ever goes into a
 *   frame that is not on a live call chain, so this works with
 *   _FORTIFY_SOURCE and with shadow stacks. swapcontext also sets the
 *   signal mask, the same everywhere here; that system call per switch is
 *   the price of staying with what the C library defines.
 *
 *   Under AddressSanitizer every switch is announced with
 *   __sanitizer_start_switch_fiber / __sanitizer_finish_switch_fiber:
 *   the loop side names the coroutine's stack (the mapping above the guard
 *   page), the coroutine side names the loop thread's stack, which the
 *   coroutine learns when it is first entered.
 *
 * STOPPING
 *   When a signal callback says stop, the listeners are dropped and waits
 *   marked stoppable end at once (idle sessions). The others get @drain_us
 *   to finish; after that every wait for a socket ends (LMTP_LOOP_ABORT)
 *   and those sessions answer 421 and close. A session waiting for its
 *   delivery is not cut short: the writer finishes what it has and wakes
 *   it, and it answers. lmtp_loop_run returns only when no coroutine is
 *   left, so no wake-up can come after it; lmtp_loop_free then releases
 *   the loop, after the caller has stopped the threads that wake it.
 *
 * INVARIANTS
 *   1. A coroutine is in exactly one state: running, waiting for an fd (its
 *      fd armed in epoll), waiting for a wake-up, or finished.
 *   2. Only the loop thread touches coroutines; other threads only append
 *      to woken_list (under woken_lock) and write the eventfd.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <ucontext.h>
#include <unistd.h>

#include "lmtpd.h"
#include "lmtp_loop.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define LG_ASAN 1
#endif

#define CO_STACK (2 * 1024 * 1024)   /* GMime recurses on nested MIME */
#define OFFLOAD_THREADS 4            /* blocking calls of sessions at once */

/* hang-up and error stay in co->ready once seen (see SUMMARY) */
#define CO_STICKY (EPOLLRDHUP | EPOLLHUP | EPOLLERR)

typedef enum { CO_RUNNING, CO_WAIT_FD, CO_WAIT_WAKE, CO_DONE } co_state;

struct lmtp_co {
	ucontext_t ctx;            /* where it yielded (or its entry point) */
	void *map;                 /* stack mapping, guard page first */
	size_t map_len;
	co_state state;
	int reg_fd;                /* registered with epoll (edge-triggered), or -1 */
	guint32 ready;             /* edges seen on reg_fd, not yet consumed */
	guint32 want;              /* CO_WAIT_FD: the events it waits for */
	gint64 deadline;           /* 0: none */
	gboolean stoppable;
	lmtp_loop_wake wake;       /* why it was resumed */
	gboolean woken;            /* a wake-up came (CO_WAIT_WAKE) */
	int conn_fd;
	char *peer;
	void *fake_stack;          /* ASan bookkeeping */
};

static struct {
	int ep;
	int evfd;
	ucontext_t main_ctx;       /* the loop, while a coroutine runs */
	struct epoll_event evs[64];  /* from the last epoll_wait */
	int nevs;
	GPtrArray *cos;            /* every live coroutine */
	lmtp_loop_session_fn session_fn;
	gboolean stopping;
	gboolean aborting;         /* the drain time is over: every fd wait ends */
	GMutex woken_lock;
	GPtrArray *woken;          /* lmtp_co*, appended by other threads */
	gboolean evfd_pending;     /* the eventfd was written, run_woken not yet run */
	GThreadPool *pool;         /* lmtp_loop_offload's workers */
#ifdef LG_ASAN
	const void *main_stack_bottom;
	size_t main_stack_size;
#endif
} L;

static _Thread_local lmtp_co *current;   /* C11 thread storage */

lmtp_co *
lmtp_loop_current(void)
{
	return current;
}

/* ---- switching ---------------------------------------------------------- */

static void
switch_to_co(lmtp_co *co)
{
	long page = getpagesize();

	current = co;
#ifdef LG_ASAN
	void *fake = NULL;
	__sanitizer_start_switch_fiber(&fake, (char *) co->map + page, co->map_len - (size_t) page);
#else
	(void) page;
#endif
	if (swapcontext(&L.main_ctx, &co->ctx) < 0)
		g_error("swapcontext: %s", g_strerror(errno));
#ifdef LG_ASAN
	/* back on the loop's stack; the coroutine's bounds are known already */
	__sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
	current = NULL;
}

static void
yield_to_loop(lmtp_co *co)
{
#ifdef LG_ASAN
	/* a finished coroutine's fake stack is released (NULL) */
	__sanitizer_start_switch_fiber(co->state == CO_DONE ? NULL : &co->fake_stack,
	                               L.main_stack_bottom, L.main_stack_size);
#endif
	if (swapcontext(&co->ctx, &L.main_ctx) < 0)
		g_error("swapcontext: %s", g_strerror(errno));
#ifdef LG_ASAN
	__sanitizer_finish_switch_fiber(co->fake_stack, &L.main_stack_bottom, &L.main_stack_size);
#endif
}

static void
co_entry(void)
{
	lmtp_co *co = current;
#ifdef LG_ASAN
	/* we came from the loop: this learns the loop thread's stack */
	__sanitizer_finish_switch_fiber(NULL, &L.main_stack_bottom, &L.main_stack_size);
#endif
	L.session_fn(co->conn_fd, co->peer);
	co->peer = NULL;   /* the session function owns it */
	co->state = CO_DONE;
	yield_to_loop(co);
	g_assert_not_reached();
}

static lmtp_co *
co_new(int fd, char *peer)
{
	lmtp_co *co = g_new0(lmtp_co, 1);
	long page = getpagesize();
	int e;

	co->map_len = CO_STACK + (size_t) page;
	/* MAP_NORESERVE: a session touches a few pages of its 2 MB, so no swap
	 * is set aside for the rest */
	co->map = mmap(NULL, co->map_len, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
	if (co->map == MAP_FAILED) {
		e = errno;
		g_free(co);
		errno = e;
		return NULL;
	}
	/* guard: an overflow faults, never corrupts; without it, no session */
	if (mprotect(co->map, (size_t) page, PROT_NONE) < 0 || getcontext(&co->ctx) < 0) {
		e = errno;
		munmap(co->map, co->map_len);
		g_free(co);
		errno = e;
		return NULL;
	}
	co->ctx.uc_stack.ss_sp = (char *) co->map + page;
	co->ctx.uc_stack.ss_size = CO_STACK;
	co->ctx.uc_link = NULL;
	makecontext(&co->ctx, co_entry, 0);
#ifdef LG_ASAN
	/* ASan's swapcontext clears the shadow of the target's uc_stack, the
	 * whole 2 MB, on every switch into the coroutine, and with it the
	 * redzones of its live frames; makecontext has used uc_stack already
	 * and nothing reads it again, and __sanitizer_start_switch_fiber tells
	 * ASan where the stack is */
	co->ctx.uc_stack.ss_sp = NULL;
	co->ctx.uc_stack.ss_size = 0;
#endif
	co->conn_fd = fd;
	co->peer = peer;
	co->reg_fd = -1;
	co->state = CO_RUNNING;
	return co;
}

static void
co_free(lmtp_co *co)
{
	if (co->reg_fd >= 0)
		epoll_ctl(L.ep, EPOLL_CTL_DEL, co->reg_fd, NULL);   /* EBADF if closed: fine */
	/* events of this epoll_wait not yet handled must not reach it */
	for (int i = 0; i < L.nevs; i++)
		if (L.evs[i].data.ptr == co)
			L.evs[i].data.u64 = 0;
	munmap(co->map, co->map_len);
	g_free(co->peer);
	g_free(co);
}

/* Runs @co until it yields; frees it when it has finished. */
static void
resume(lmtp_co *co, lmtp_loop_wake why)
{
	co->wake = why;
	co->state = CO_RUNNING;
	switch_to_co(co);
	if (co->state == CO_DONE) {
		g_ptr_array_remove_fast(L.cos, co);
		co_free(co);
	}
}

/* ---- what sessions call ------------------------------------------------- */

void
lmtp_loop_forget_fd(int fd)
{
	lmtp_co *co = current;

	if (co == NULL || co->reg_fd != fd || fd < 0)
		return;
	epoll_ctl(L.ep, EPOLL_CTL_DEL, fd, NULL);
	co->reg_fd = -1;
	co->ready = 0;
}

lmtp_loop_wake
lmtp_loop_wait_fd(int fd, short events, gint64 deadline, gboolean stoppable)
{
	lmtp_co *co = current;
	g_assert(co != NULL);
	if (L.aborting)
		return LMTP_LOOP_ABORT;
	if (stoppable && L.stopping)
		return LMTP_LOOP_STOP;
	if (co->reg_fd != fd) {
		struct epoll_event ev = {
			.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
			.data.ptr = co,
		};
		if (co->reg_fd >= 0)
			epoll_ctl(L.ep, EPOLL_CTL_DEL, co->reg_fd, NULL);
		co->reg_fd = -1;
		co->ready = 0;
		if (epoll_ctl(L.ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			/* not pollable by epoll (a regular file): it is always ready */
			return LMTP_LOOP_READY;
		}
		co->reg_fd = fd;   /* ADD reports what is ready already */
	}
	guint32 want = EPOLLHUP | EPOLLERR |
		((events & POLLIN) ? EPOLLIN | EPOLLRDHUP : 0) | ((events & POLLOUT) ? EPOLLOUT : 0);
	if ((co->ready & want) != 0) {
		co->ready &= ~(want & ~(guint32) CO_STICKY);
		return LMTP_LOOP_READY;
	}
	co->want = want;
	co->deadline = deadline;
	co->stoppable = stoppable;
	co->state = CO_WAIT_FD;
	yield_to_loop(co);
	return co->wake;
}

void
lmtp_loop_wait_wakeup(void)
{
	lmtp_co *co = current;
	g_assert(co != NULL);
	/* the wake-up may already have come between queueing and waiting */
	g_mutex_lock(&L.woken_lock);
	gboolean already = co->woken;
	co->woken = FALSE;
	if (!already)
		co->state = CO_WAIT_WAKE;
	g_mutex_unlock(&L.woken_lock);
	if (already)
		return;
	co->deadline = 0;
	yield_to_loop(co);
}

/* Wakes @n coroutines with one lock and at most one eventfd write: the
 * loop drains the whole list per read, so a write is needed only when no
 * earlier one is still unread (a system call and a loop wake-up saved per
 * delivery of a batch). */
void
lmtp_loop_wake_cos(lmtp_co *const *cos, guint n)
{
	static const guint64 one = 1;
	gboolean notify;

	if (n == 0)
		return;
	g_mutex_lock(&L.woken_lock);
	for (guint i = 0; i < n; i++) {
		if (cos[i]->state == CO_WAIT_WAKE)
			g_ptr_array_add(L.woken, cos[i]);
		else
			cos[i]->woken = TRUE;   /* not waiting yet: it will see the flag */
	}
	notify = !L.evfd_pending && L.woken->len > 0;
	if (notify)
		L.evfd_pending = TRUE;
	g_mutex_unlock(&L.woken_lock);
	if (notify)
		(void) !write(L.evfd, &one, sizeof one);
}

typedef struct {
	void (*fn)(gpointer data);
	gpointer data;
	lmtp_co *co;
} offload_job;

static void
offload_run(gpointer job_p, gpointer unused)
{
	offload_job *job = job_p;
	lmtp_co *co = job->co;   /* @job lives on the coroutine's stack: read it first */

	job->fn(job->data);
	lmtp_loop_wake_cos(&co, 1);
}

void
lmtp_loop_offload(void (*fn)(gpointer data), gpointer data)
{
	offload_job job = { fn, data, current };

	if (job.co == NULL || L.pool == NULL) {
		fn(data);
		return;
	}
	g_thread_pool_push(L.pool, &job, NULL);
	lmtp_loop_wait_wakeup();
}

/* ---- the loop ----------------------------------------------------------- */

static void
run_woken(void)
{
	guint64 n;
	(void) !read(L.evfd, &n, sizeof n);
	g_autoptr(GPtrArray) now = g_ptr_array_new();
	g_mutex_lock(&L.woken_lock);
	for (guint i = 0; i < L.woken->len; i++)
		g_ptr_array_add(now, L.woken->pdata[i]);
	g_ptr_array_set_size(L.woken, 0);
	L.evfd_pending = FALSE;
	g_mutex_unlock(&L.woken_lock);
	for (guint i = 0; i < now->len; i++)
		resume(now->pdata[i], LMTP_LOOP_READY);
}

/* Resumes waits whose deadline passed, and stoppable ones when stopping.
 * Returns the epoll timeout (ms) until the next deadline. */
static int
run_timers(void)
{
	gint64 now = g_get_monotonic_time(), next = 0;
	for (guint i = 0; i < L.cos->len;) {
		lmtp_co *co = L.cos->pdata[i];
		gboolean due = co->state == CO_WAIT_FD && co->deadline != 0 && co->deadline <= now;
		gboolean stop = co->state == CO_WAIT_FD && L.stopping && co->stoppable;
		gboolean ending = co->state == CO_WAIT_FD && L.aborting;
		if (due || stop || ending) {
			guint before = L.cos->len;
			resume(co, ending ? LMTP_LOOP_ABORT : stop ? LMTP_LOOP_STOP : LMTP_LOOP_TIMEOUT);
			if (L.cos->len < before)
				continue;   /* it finished: index i now holds another one */
		} else if (co->state == CO_WAIT_FD && co->deadline != 0 && (next == 0 || co->deadline < next)) {
			next = co->deadline;
		}
		i++;
	}
	if (next == 0)
		return 1000;
	gint64 ms = (next - now) / 1000 + 1;
	return (int) CLAMP(ms, 0, 1000);
}

void
lmtp_loop_run(const int *listen_fds, guint n, int signal_fd,
              gboolean (*accept_fn)(int lfd, int *fd_r, char **peer_r),
              lmtp_loop_session_fn session_fn, lmtp_loop_signal_fn signal_fn, gint64 drain_us)
{
	memset(&L, 0, sizeof L);
	L.ep = epoll_create1(EPOLL_CLOEXEC);
	L.evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	L.cos = g_ptr_array_new();
	L.woken = g_ptr_array_new();
	L.session_fn = session_fn;
	L.pool = g_thread_pool_new(offload_run, NULL, OFFLOAD_THREADS, FALSE, NULL);
	/* listeners, the signal fd and the eventfd carry small tags, not coroutines */
	static const int TAG_SIGNAL = 1, TAG_EVENT = 2;
	struct epoll_event ev = { .events = EPOLLIN };
	for (guint i = 0; i < n; i++) {
		ev.data.u64 = ((guint64) (guint) listen_fds[i] << 8) | 3;
		epoll_ctl(L.ep, EPOLL_CTL_ADD, listen_fds[i], &ev);
	}
	ev.data.u64 = (guint64) TAG_SIGNAL;
	epoll_ctl(L.ep, EPOLL_CTL_ADD, signal_fd, &ev);
	ev.data.u64 = (guint64) TAG_EVENT;
	epoll_ctl(L.ep, EPOLL_CTL_ADD, L.evfd, &ev);

	gint64 drain_end = 0;
	struct epoll_event *evs = L.evs;
	for (;;) {
		if (L.stopping && !L.aborting && g_get_monotonic_time() > drain_end) {
			/* sessions waiting for a delivery stay until it is answered */
			lmtpd_warn("-", "stopping: drain time over, ending %u session(s)", L.cos->len);
			L.aborting = TRUE;
		}
		int timeout = run_timers();
		if (L.stopping && L.cos->len == 0)
			break;
		if (L.stopping && !L.aborting)
			timeout = (int) CLAMP((drain_end - g_get_monotonic_time()) / 1000 + 1, 0, timeout);
		int k = epoll_wait(L.ep, evs, G_N_ELEMENTS(L.evs), timeout);
		if (k < 0 && errno != EINTR) {
			lmtpd_warn("-", "epoll_wait: %s", g_strerror(errno));
			g_usleep(100000);
			continue;
		}
		L.nevs = MAX(k, 0);
		for (int i = 0; i < k; i++) {
			guint64 tag = evs[i].data.u64;
			if (tag == 0) {
				continue;   /* its coroutine has finished */
			} else if (tag == (guint64) TAG_SIGNAL) {
				struct signalfd_siginfo si;
				if (read(signal_fd, &si, sizeof si) == (ssize_t) sizeof si && !signal_fn((int) si.ssi_signo) && !L.stopping) {
					L.stopping = TRUE;
					drain_end = g_get_monotonic_time() + drain_us;
					for (guint j = 0; j < n; j++)
						epoll_ctl(L.ep, EPOLL_CTL_DEL, listen_fds[j], NULL);
				}
			} else if (tag == (guint64) TAG_EVENT) {
				run_woken();
			} else if ((tag & 0xff) == 3) {
				int fd;
				char *peer;
				if (!L.stopping && accept_fn((int) (tag >> 8), &fd, &peer)) {
					lmtp_co *co = co_new(fd, peer);
					if (co == NULL) {
						lmtpd_warn("-", "cannot make a session stack: %s", g_strerror(errno));
						close(fd);
						g_free(peer);
						continue;
					}
					g_ptr_array_add(L.cos, co);
					resume(co, LMTP_LOOP_READY);
				}
			} else {
				lmtp_co *co = evs[i].data.ptr;
				co->ready |= evs[i].events;
				if (co->state == CO_WAIT_FD && (co->ready & co->want) != 0) {
					co->ready &= ~(co->want & ~(guint32) CO_STICKY);
					resume(co, LMTP_LOOP_READY);
				}
			}
		}
		L.nevs = 0;
	}
	/* no coroutine left: the workers have nothing to wake */
	g_thread_pool_free(L.pool, FALSE, TRUE);
	L.pool = NULL;
}

void
lmtp_loop_free(void)
{
	if (L.cos == NULL)
		return;
	close(L.ep);
	close(L.evfd);
	g_ptr_array_unref(L.woken);
	g_ptr_array_unref(L.cos);
	L.woken = L.cos = NULL;
}
