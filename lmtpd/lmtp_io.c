/*
 * NAME
 *   lmtp_io.c - buffered, timed I/O on one LMTP connection (see lmtp_io.h).
 *
 * SUMMARY
 *   Input: one fixed buffer; [start, end) holds unread bytes. Reads happen
 *   only when the caller needs more than is buffered, and the queued replies
 *   are flushed first, so a pipelining client always sees the answers to
 *   everything it sent before the server waits for more.
 *
 *   Output: a GString of queued reply lines, written with poll() and a
 *   non-blocking send() so that a client that stops reading cannot hold a
 *   session thread longer than the timeout. On descriptors that are not
 *   sockets (-S: stdin/stdout), plain write() is used; the process ignores
 *   SIGPIPE.
 *
 * INVARIANTS
 *   start <= end <= LMTP_IO_BUFSIZE; buf[end] is a spare byte for the NUL
 *   that lmtp_io_read_line() writes.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lmtp_io.h"
#include "lmtp_loop.h"

struct lmtp_io {
	int in_fd;
	int out_fd;
	gboolean out_is_socket;
	int timeout;                 /* seconds; 0 = none */
	gint64 deadline;             /* monotonic µs; 0 = none */
	lmtp_io_stop_func stop;
	gpointer stop_data;
	gsize start, end;
	gboolean eof;
	gboolean drained;            /* the last read was short: the socket was empty */
	gboolean failed;
	GString *out;
	char buf[LMTP_IO_BUFSIZE + 1];
};

lmtp_io *
lmtp_io_new(int in_fd, int out_fd)
{
	lmtp_io *io = g_new0(lmtp_io, 1);

	io->in_fd = in_fd;
	io->out_fd = out_fd;
	io->out_is_socket = TRUE;    /* until send() says ENOTSOCK */
	io->out = g_string_sized_new(1024);
	return io;
}

void
lmtp_io_free(lmtp_io *io)
{
	if (io == NULL)
		return;
	g_string_free(io->out, TRUE);
	g_free(io);
}

void
lmtp_io_set_timeout(lmtp_io *io, int seconds)
{
	io->timeout = seconds;
}

void
lmtp_io_set_deadline(lmtp_io *io, gint64 deadline)
{
	io->deadline = deadline;
}

void
lmtp_io_set_stop(lmtp_io *io, lmtp_io_stop_func fn, gpointer data)
{
	io->stop = fn;
	io->stop_data = data;
}

/* Waits for @events on @fd, in one-second slices so the stop check runs.
 * The wait ends at the timeout or at the deadline, whichever comes first. */
static lmtp_io_status
io_wait(lmtp_io *io, int fd, short events, gboolean stoppable)
{
	gint64 deadline = io->timeout > 0 ?
		g_get_monotonic_time() + (gint64)io->timeout * G_USEC_PER_SEC : 0;

	if (io->deadline != 0 && (deadline == 0 || io->deadline < deadline)) {
		deadline = io->deadline;
		if (deadline <= g_get_monotonic_time())
			return LMTP_IO_TIMEOUT;
	}

	if (lmtp_loop_current() != NULL) {
		/* on the event loop: yield until ready; no polling in slices */
		gboolean can_stop = stoppable && io->stop != NULL;
		for (;;) {
			if (can_stop && io->stop(io->stop_data))
				return LMTP_IO_STOP;
			switch (lmtp_loop_wait_fd(fd, events, deadline, can_stop)) {
			case LMTP_LOOP_READY:
				return LMTP_IO_OK;
			case LMTP_LOOP_TIMEOUT:
				return LMTP_IO_TIMEOUT;
			case LMTP_LOOP_STOP:
				if (io->stop(io->stop_data))
					return LMTP_IO_STOP;
				can_stop = FALSE;   /* mid-transaction: finish it */
				break;
			case LMTP_LOOP_ABORT:
				return LMTP_IO_STOP;   /* even mid-transaction */
			}
		}
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int r;

		if (stoppable && io->stop != NULL && io->stop(io->stop_data))
			return LMTP_IO_STOP;
		r = poll(&p, 1, 1000);
		if (r > 0)
			return LMTP_IO_OK;
		if (r < 0 && errno != EINTR)
			return LMTP_IO_ERROR;
		if (deadline != 0 && g_get_monotonic_time() >= deadline)
			return LMTP_IO_TIMEOUT;
	}
}

gboolean
lmtp_io_flush(lmtp_io *io)
{
	gsize done = 0;

	if (io->failed)
		return FALSE;
	while (done < io->out->len) {
		ssize_t n;

		if (io->out_is_socket) {
			n = send(io->out_fd, io->out->str + done, io->out->len - done,
			         MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n < 0 && errno == ENOTSOCK) {
				io->out_is_socket = FALSE;
				continue;
			}
		} else {
			n = write(io->out_fd, io->out->str + done, io->out->len - done);
		}
		if (n > 0) {
			done += (gsize)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (io_wait(io, io->out_fd, POLLOUT, FALSE) == LMTP_IO_OK)
				continue;
		}
		io->failed = TRUE;
		g_string_truncate(io->out, 0);
		return FALSE;
	}
	g_string_truncate(io->out, 0);
	return TRUE;
}

void
lmtp_io_reply(lmtp_io *io, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	g_string_append_vprintf(io->out, fmt, ap);
	va_end(ap);
	g_string_append(io->out, "\r\n");
}

/* Reads more input after the buffered bytes (moving them to the front when
 * needed). Flushes queued replies first. */
static lmtp_io_status
io_fill(lmtp_io *io)
{
	lmtp_io_status s;
	ssize_t n;

	if (io->eof)
		return LMTP_IO_EOF;
	if (io->out->len > 0 && !lmtp_io_flush(io))
		return LMTP_IO_ERROR;
	if (io->start > 0) {
		memmove(io->buf, io->buf + io->start, io->end - io->start);
		io->end -= io->start;
		io->start = 0;
	}
	if (io->end >= LMTP_IO_BUFSIZE)
		return LMTP_IO_OK;   /* full: the caller works on what is there */
	/* On the event loop the socket is non-blocking and registered once,
	 * edge-triggered: read first, and wait only when it has nothing (a
	 * client that pipelines costs no wait at all). Elsewhere (stdin) wait
	 * first, so the stop check and the timeout keep working. */
	if (lmtp_loop_current() == NULL || io->drained) {
		/* On the loop, a short read emptied the socket; what comes after it
		 * raises a new edge, so waiting for that edge spares a read that
		 * would only say EAGAIN (one system call per command). */
		s = io_wait(io, io->in_fd, POLLIN, TRUE);
		if (s != LMTP_IO_OK)
			return s;
	} else if (io->stop != NULL && io->stop(io->stop_data)) {
		return LMTP_IO_STOP;
	}
	for (;;) {
		n = read(io->in_fd, io->buf + io->end, LMTP_IO_BUFSIZE - io->end);
		if (n >= 0)
			break;
		if (errno == EINTR)
			continue;
		if ((errno != EAGAIN && errno != EWOULDBLOCK) || lmtp_loop_current() == NULL)
			return LMTP_IO_ERROR;
		s = io_wait(io, io->in_fd, POLLIN, TRUE);
		if (s != LMTP_IO_OK)
			return s;
	}
	if (n == 0) {
		io->eof = TRUE;
		return LMTP_IO_EOF;
	}
	io->drained = (gsize)n < LMTP_IO_BUFSIZE - io->end;
	io->end += (gsize)n;
	return LMTP_IO_OK;
}

lmtp_io_status
lmtp_io_need(lmtp_io *io, gsize want, gboolean lf_enough)
{
	g_return_val_if_fail(want <= LMTP_IO_BUFSIZE, LMTP_IO_ERROR);
	for (;;) {
		gsize have = io->end - io->start;
		lmtp_io_status s;

		if (have >= want)
			return LMTP_IO_OK;
		if (lf_enough && memchr(io->buf + io->start, '\n', have) != NULL)
			return LMTP_IO_OK;
		s = io_fill(io);
		if (s != LMTP_IO_OK)
			return s;
	}
}

const char *
lmtp_io_peek(lmtp_io *io, gsize *len_r)
{
	*len_r = io->end - io->start;
	return io->buf + io->start;
}

void
lmtp_io_skip(lmtp_io *io, gsize n)
{
	g_assert(n <= io->end - io->start);
	io->start += n;
	if (io->start == io->end)
		io->start = io->end = 0;
}

lmtp_io_status
lmtp_io_read_line(lmtp_io *io, gsize max, char **line_r, gsize *len_r)
{
	gboolean toolong = FALSE;

	g_return_val_if_fail(max < LMTP_IO_BUFSIZE, LMTP_IO_ERROR);
	for (;;) {
		gsize have = io->end - io->start;
		char *p = io->buf + io->start;
		char *lf = memchr(p, '\n', have);
		lmtp_io_status s;

		if (lf != NULL) {
			gsize len = (gsize)(lf - p);

			io->start += len + 1;
			if (toolong || len > max + 1)
				return LMTP_IO_TOOLONG;
			if (len > 0 && p[len - 1] == '\r')
				len--;
			if (len > max)
				return LMTP_IO_TOOLONG;
			p[len] = '\0';
			*line_r = p;
			*len_r = len;
			return LMTP_IO_OK;
		}
		if (have > max + 1) {
			/* Too long already: drop what is buffered, find the end. */
			toolong = TRUE;
			io->start = io->end = 0;
		}
		s = io_fill(io);
		if (s != LMTP_IO_OK)
			return s;
	}
}
