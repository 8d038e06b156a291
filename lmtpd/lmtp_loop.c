/*
 * NAME
 *   lmtp_loop.c - an epoll loop running LMTP sessions as coroutines.
 *
 * SUMMARY
 *   Each accepted connection gets a coroutine (ucontext, its own stack with
 *   a guard page) that runs lmtp_session_run(). lmtp_io's waits and the
 *   commit wait call back here and swap to the loop; the loop resumes a
 *   coroutine when its socket is ready (epoll, one-shot), its deadline has
 *   passed, the writer thread has woken it (an eventfd and a locked list),
 *   or the daemon stops. Everything but the writer runs in one thread, so
 *   no locks are needed for the coroutine lists.
 *
 *   Under AddressSanitizer every switch is announced with
 *   __sanitizer_start_switch_fiber / __sanitizer_finish_switch_fiber, so
 *   that it follows the change of stack.
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

typedef enum { CO_RUNNING, CO_WAIT_FD, CO_WAIT_WAKE, CO_DONE } co_state;

struct lmtp_co {
	ucontext_t ctx;
	void *map;                 /* stack mapping, guard page first */
	size_t map_len;
	co_state state;
	int fd;                    /* CO_WAIT_FD: the fd armed */
	gboolean fd_added;         /* fd known to epoll */
	int armed_fd;
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
	ucontext_t main_ctx;
	GPtrArray *cos;            /* every live coroutine */
	lmtp_loop_session_fn session_fn;
	gboolean stopping;
	GMutex woken_lock;
	GPtrArray *woken;          /* lmtp_co*, appended by other threads */
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
	current = co;
#ifdef LG_ASAN
	void *fake = NULL;
	__sanitizer_start_switch_fiber(&fake, (char *) co->map + getpagesize(), co->map_len - getpagesize());
	swapcontext(&L.main_ctx, &co->ctx);
	__sanitizer_finish_switch_fiber(fake, &L.main_stack_bottom, &L.main_stack_size);
#else
	swapcontext(&L.main_ctx, &co->ctx);
#endif
	current = NULL;
}

static void
yield_to_loop(lmtp_co *co)
{
#ifdef LG_ASAN
	__sanitizer_start_switch_fiber(co->state == CO_DONE ? NULL : &co->fake_stack,
	                               L.main_stack_bottom, L.main_stack_size);
	swapcontext(&co->ctx, &L.main_ctx);
	__sanitizer_finish_switch_fiber(co->fake_stack, NULL, NULL);
#else
	swapcontext(&co->ctx, &L.main_ctx);
#endif
}

static void
co_entry(void)
{
	lmtp_co *co = current;
#ifdef LG_ASAN
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
	co->map_len = CO_STACK + (size_t) page;
	co->map = mmap(NULL, co->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (co->map == MAP_FAILED) {
		g_free(co);
		return NULL;
	}
	mprotect(co->map, (size_t) page, PROT_NONE);   /* guard: overflow faults, never corrupts */
	getcontext(&co->ctx);
	co->ctx.uc_stack.ss_sp = (char *) co->map + page;
	co->ctx.uc_stack.ss_size = CO_STACK;
	co->ctx.uc_link = NULL;
	makecontext(&co->ctx, co_entry, 0);
	co->conn_fd = fd;
	co->peer = peer;
	co->armed_fd = -1;
	co->state = CO_RUNNING;
	return co;
}

static void
co_free(lmtp_co *co)
{
	if (co->fd_added)
		epoll_ctl(L.ep, EPOLL_CTL_DEL, co->armed_fd, NULL);
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

lmtp_loop_wake
lmtp_loop_wait_fd(int fd, short events, gint64 deadline, gboolean stoppable)
{
	lmtp_co *co = current;
	g_assert(co != NULL);
	if (stoppable && L.stopping)
		return LMTP_LOOP_STOP;
	struct epoll_event ev = {
		.events = EPOLLONESHOT | ((events & POLLIN) ? EPOLLIN | EPOLLRDHUP : 0) | ((events & POLLOUT) ? EPOLLOUT : 0),
		.data.ptr = co,
	};
	int op = EPOLL_CTL_MOD;
	if (co->fd_added && co->armed_fd != fd) {
		epoll_ctl(L.ep, EPOLL_CTL_DEL, co->armed_fd, NULL);
		co->fd_added = FALSE;
	}
	if (!co->fd_added)
		op = EPOLL_CTL_ADD;
	if (epoll_ctl(L.ep, op, fd, &ev) < 0) {
		/* not pollable by epoll (a regular file): it is always ready */
		return LMTP_LOOP_READY;
	}
	co->fd_added = TRUE;
	co->armed_fd = fd;
	co->fd = fd;
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

void
lmtp_loop_wake_co(lmtp_co *co)
{
	static const guint64 one = 1;
	g_mutex_lock(&L.woken_lock);
	if (co->state == CO_WAIT_WAKE)
		g_ptr_array_add(L.woken, co);
	else
		co->woken = TRUE;   /* not waiting yet: it will see the flag */
	g_mutex_unlock(&L.woken_lock);
	(void) !write(L.evfd, &one, sizeof one);
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
		if (due || stop) {
			guint before = L.cos->len;
			resume(co, stop ? LMTP_LOOP_STOP : LMTP_LOOP_TIMEOUT);
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
	struct epoll_event evs[64];
	for (;;) {
		int timeout = run_timers();
		if (L.stopping && (L.cos->len == 0 || g_get_monotonic_time() > drain_end))
			break;
		int k = epoll_wait(L.ep, evs, G_N_ELEMENTS(evs), timeout);
		if (k < 0 && errno != EINTR) {
			lmtpd_warn("-", "epoll_wait: %s", g_strerror(errno));
			g_usleep(100000);
			continue;
		}
		for (int i = 0; i < k; i++) {
			guint64 tag = evs[i].data.u64;
			if (tag == (guint64) TAG_SIGNAL) {
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
				if (co->state == CO_WAIT_FD)
					resume(co, LMTP_LOOP_READY);
			}
		}
	}
	if (L.cos->len > 0)
		lmtpd_warn("-", "%u session(s) still running at exit", L.cos->len);
	close(L.ep);
	close(L.evfd);
	g_ptr_array_unref(L.woken);
	g_ptr_array_unref(L.cos);
}
