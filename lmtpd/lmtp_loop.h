/*
 * NAME
 *   lmtp_loop.h - sessions as coroutines on one event loop.
 *
 * SUMMARY
 *   lmtp_loop_run() accepts connections and runs each session
 *   (lmtp_session_run, unchanged synchronous code) on a coroutine of its
 *   own. Where a session would block — waiting for a socket, or for the
 *   writer to commit its delivery — it yields to the loop, which waits for
 *   all sockets at once with epoll. One thread then serves every session
 *   with few wake-ups, and all GMime work happens in that one thread.
 *
 *   Outside the loop (the -S stdin mode, the tests' helpers) the same calls
 *   block the calling thread as before: lmtp_loop_current() is NULL there.
 */
#ifndef LMTP_LOOP_H
#define LMTP_LOOP_H

#include <glib.h>

G_BEGIN_DECLS

typedef struct lmtp_co lmtp_co;

/* The coroutine running now in this thread, or NULL outside the loop. */
lmtp_co *lmtp_loop_current(void);

typedef enum {
	LMTP_LOOP_READY,     /* the fd is ready */
	LMTP_LOOP_TIMEOUT,   /* the deadline passed */
	LMTP_LOOP_STOP,      /* the daemon is stopping (stoppable waits only) */
	LMTP_LOOP_ABORT      /* the daemon stops now, its drain time over: every
	                      * wait for a socket ends with this */
} lmtp_loop_wake;

/* Yields until @fd has @events (POLLIN / POLLOUT), the monotonic @deadline
 * (0: none) passes, or — when @stoppable — the daemon stops. */
lmtp_loop_wake lmtp_loop_wait_fd(int fd, short events, gint64 deadline, gboolean stoppable);

/* Yields until lmtp_loop_wake_cos() names the current coroutine. */
void lmtp_loop_wait_wakeup(void);
/* Wakes @n coroutines (from any thread), with one eventfd write at most. */
void lmtp_loop_wake_cos(lmtp_co *const *cos, guint n);

/* Runs @fn(@data) on a worker thread and yields until it has returned,
 * so that a call that may block (a store look-up) does not stall every
 * session; outside the loop it is called directly. */
void lmtp_loop_offload(void (*fn)(gpointer data), gpointer data);

/* Takes @fd out of epoll before the caller closes it. A close alone does
 * not: while a child process forked meanwhile (an SPF helper being
 * started) still holds a copy of the descriptor, epoll would go on
 * reporting it, for a coroutine that is gone. No-op outside the loop. */
void lmtp_loop_forget_fd(int fd);

/* Callbacks of the daemon: a new connection on a listener, a signal. */
typedef void (*lmtp_loop_session_fn)(int fd, char *peer);   /* runs on a coroutine */
typedef gboolean (*lmtp_loop_signal_fn)(int signo);          /* FALSE: stop */

/* Serves until a signal callback returns FALSE, then lets running sessions
 * finish (stoppable waits are ended at once) for at most @drain_us
 * microseconds; then every socket wait ends with LMTP_LOOP_ABORT. Returns
 * when no session is left: one that waits for its delivery is woken by
 * the writer first. */
void lmtp_loop_run(const int *listen_fds, guint n, int signal_fd,
                   gboolean (*accept_fn)(int lfd, int *fd_r, char **peer_r),
                   lmtp_loop_session_fn session_fn, lmtp_loop_signal_fn signal_fn,
                   gint64 drain_us);
/* Releases the loop; after the threads that wake sessions have stopped. */
void lmtp_loop_free(void);

G_END_DECLS

#endif
