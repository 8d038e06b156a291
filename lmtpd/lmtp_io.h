/*
 * NAME
 *   lmtp_io.h - buffered, timed I/O on one LMTP connection.
 *
 * SUMMARY
 *   An lmtp_io reads into a fixed buffer (LMTP_IO_BUFSIZE bytes, so memory
 *   does not grow with line or message length) and collects replies in an
 *   output buffer that is written out before the reader blocks: that is all
 *   RFC 2920 pipelining asks of a server. Every wait is bounded by the
 *   current timeout, and by the deadline when one is set (the session sets
 *   one per command line and per message transfer, so that a client cannot
 *   stretch either by sending a byte now and then). On the daemon's event loop a wait yields to the loop
 *   (lmtp_loop.c), which ends it at shutdown; elsewhere (-S) it polls, and
 *   checks the stop function once a second.
 *
 *   Pointers returned by lmtp_io_read_line() and lmtp_io_peek() are
 *   borrowed: they point into the buffer and are valid until the next read
 *   call on the same lmtp_io.
 */
#ifndef LMTP_IO_H
#define LMTP_IO_H

#include <glib.h>

G_BEGIN_DECLS

#define LMTP_IO_BUFSIZE 65536

typedef enum {
	LMTP_IO_OK = 0,
	LMTP_IO_EOF,       /* the client closed (or stdin ended) */
	LMTP_IO_TIMEOUT,   /* nothing came within the timeout */
	LMTP_IO_ERROR,     /* read or write failed */
	LMTP_IO_TOOLONG,   /* line longer than allowed; it was skipped */
	LMTP_IO_STOP       /* the stop check said so while waiting, or the
	                    * daemon stops now (its drain time is over) */
} lmtp_io_status;

typedef struct lmtp_io lmtp_io;
typedef gboolean (*lmtp_io_stop_func)(gpointer data);

lmtp_io *lmtp_io_new(int in_fd, int out_fd);
void lmtp_io_free(lmtp_io *io);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(lmtp_io, lmtp_io_free)

/* Seconds any single wait may last (0: forever). */
void lmtp_io_set_timeout(lmtp_io *io, int seconds);
/* A monotonic time (g_get_monotonic_time) after which every wait ends with
 * LMTP_IO_TIMEOUT, however much came before it (0: none): the deadline of a
 * whole command or message transfer, where the timeout bounds one wait. */
void lmtp_io_set_deadline(lmtp_io *io, gint64 deadline);
/* Checked about once a second while waiting for input; NULL: never. */
void lmtp_io_set_stop(lmtp_io *io, lmtp_io_stop_func fn, gpointer data);

/* One line without its LF or CRLF, NUL-terminated (borrowed). A line longer
 * than @max bytes is read and thrown away up to its end: LMTP_IO_TOOLONG. */
lmtp_io_status lmtp_io_read_line(lmtp_io *io, gsize max, char **line_r, gsize *len_r);

/* Waits until at least @want bytes are buffered, or (when @lf_enough) a
 * whole line is. LMTP_IO_EOF when the input ends first (what came is still
 * buffered). @want is at most LMTP_IO_BUFSIZE. */
lmtp_io_status lmtp_io_need(lmtp_io *io, gsize want, gboolean lf_enough);
/* The buffered input (borrowed) and its length. */
const char *lmtp_io_peek(lmtp_io *io, gsize *len_r);
/* Drops @n buffered bytes (n <= what lmtp_io_peek reported). */
void lmtp_io_skip(lmtp_io *io, gsize n);

/* Queues one reply line; CRLF is added. */
void lmtp_io_reply(lmtp_io *io, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Writes out what is queued. FALSE when the client is gone or too slow. */
gboolean lmtp_io_flush(lmtp_io *io);

G_END_DECLS

#endif
