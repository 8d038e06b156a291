/*
 * NAME
 *   lmtp-blast - an LMTP load client for the tests that logs what was
 *   acknowledged.
 *
 * SYNOPSIS
 *   lmtp-blast (-p PORT [-H HOST] | -u SOCKET) -n COUNT [-s SESSIONS]
 *              [-r RCPT]... [-t TAG] [-a ACKLOG] [-f FIRST] [-B]
 *
 * SUMMARY
 *   Sends messages FIRST .. FIRST+COUNT-1 over SESSIONS parallel
 *   connections (message i goes over session i % SESSIONS), each as one
 *   pipelined MAIL/RCPT.../DATA group (or BDAT LAST with -B). Message i
 *   always has the same bytes: Message-ID <TAG.i@blast.test>, Subject
 *   "TAG i", a fixed Date; so a second run re-sends the very same messages,
 *   as Postfix does after a failure.
 *
 *   A message is acknowledged when every recipient got a 250 after its
 *   data; its Message-ID is then appended to ACKLOG with one write(), so
 *   the log stays exact if the server (or this client) is killed. Ends with
 *   "acked=N tempfail=N permfail=N lost=N" and exit 0 only if all were
 *   acknowledged.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib.h>

static const char *opt_host = "127.0.0.1";
static const char *opt_port;
static const char *opt_unix;
static int opt_count = 1;
static int opt_sessions = 1;
static int opt_first = 1;
static const char *opt_tag = "blast";
static GPtrArray *opt_rcpts;
static int ack_fd = -1;
static gboolean opt_bdat;

static gint n_acked, n_tempfail, n_permfail, n_lost;

typedef struct {
	int fd;
	char buf[8192];
	size_t start, end;
} conn;

static int
conn_open(conn *c)
{
	memset(c, 0, sizeof *c);
	if (opt_unix != NULL) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		g_strlcpy(sun.sun_path, opt_unix, sizeof sun.sun_path);
		c->fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sun, sizeof sun) < 0)
			return -1;
		return 0;
	} else {
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;

		if (getaddrinfo(opt_host, opt_port, &hints, &res) != 0)
			return -1;
		c->fd = socket(res->ai_family, SOCK_STREAM, 0);
		if (c->fd < 0 || connect(c->fd, res->ai_addr, res->ai_addrlen) < 0) {
			freeaddrinfo(res);
			return -1;
		}
		freeaddrinfo(res);
		return 0;
	}
}

static int
conn_send(conn *c, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One reply (the final line of a multi-line one): its code, or -1. */
static int
conn_reply(conn *c)
{
	for (;;) {
		char *lf = memchr(c->buf + c->start, '\n', c->end - c->start);

		if (lf != NULL) {
			char *line = c->buf + c->start;
			size_t len = (size_t)(lf - line);

			c->start += len + 1;
			if (len >= 4 && line[3] == '-')
				continue;
			if (len < 3)
				return -1;
			return atoi(line);
		}
		if (c->start > 0) {
			memmove(c->buf, c->buf + c->start, c->end - c->start);
			c->end -= c->start;
			c->start = 0;
		}
		if (c->end == sizeof c->buf)
			return -1;
		ssize_t r = recv(c->fd, c->buf + c->end, sizeof c->buf - c->end, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c->end += (size_t)r;
	}
}

static char *
message_text(int i)
{
	return g_strdup_printf(
		"From: Blast Sender <sender%d@blast.test>\r\n"
		"To: <%s>\r\n"
		"Subject: %s %d\r\n"
		"Message-ID: <%s.%d@blast.test>\r\n"
		"Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n"
		"\r\n"
		"Hello, this is message %d of the %s run.\r\n"
		".a line that starts with a dot\r\n",
		i % 97, (char *)g_ptr_array_index(opt_rcpts, 0),
		opt_tag, i, opt_tag, i, i, opt_tag);
}

static gpointer
session_main(gpointer data)
{
	int sess = GPOINTER_TO_INT(data);
	conn c;

	if (conn_open(&c) < 0 || conn_reply(&c) != 220 ||
	    conn_send(&c, "LHLO blast.test\r\n", 17) < 0 || conn_reply(&c) != 250)
		goto lost;
	for (int i = opt_first + sess; i < opt_first + opt_count; i += opt_sessions) {
		g_autoptr(GString) cmd = g_string_new(NULL);
		g_autofree char *msg = message_text(i);
		int accepted = 0, ok = 0, temp = 0;

		g_string_append_printf(cmd, "MAIL FROM:<sender%d@blast.test>\r\n", i % 97);
		for (guint r = 0; r < opt_rcpts->len; r++)
			g_string_append_printf(cmd, "RCPT TO:<%s>\r\n", (char *)g_ptr_array_index(opt_rcpts, r));
		if (opt_bdat)
			g_string_append_printf(cmd, "BDAT %zu LAST\r\n%s", strlen(msg), msg);
		else
			g_string_append(cmd, "DATA\r\n");
		if (conn_send(&c, cmd->str, cmd->len) < 0 || conn_reply(&c) != 250)
			goto lost;
		for (guint r = 0; r < opt_rcpts->len; r++) {
			int code = conn_reply(&c);

			if (code < 0)
				goto lost;
			if (code == 250)
				accepted++;
		}
		if (!opt_bdat) {
			if (conn_reply(&c) != 354 || conn_send(&c, msg, strlen(msg)) < 0 ||
			    conn_send(&c, ".\r\n", 3) < 0)
				goto lost;
		}
		for (int r = 0; r < accepted; r++) {
			int code = conn_reply(&c);

			if (code < 0)
				goto lost;
			if (code == 250)
				ok++;
			else if (code >= 400 && code < 500)
				temp++;
		}
		if (accepted > 0 && ok == accepted) {
			g_autofree char *line = g_strdup_printf("<%s.%d@blast.test>\n", opt_tag, i);

			if (ack_fd >= 0 && write(ack_fd, line, strlen(line)) < 0)
				perror("lmtp-blast: ack log");
			g_atomic_int_inc(&n_acked);
		} else if (temp > 0) {
			g_atomic_int_inc(&n_tempfail);
		} else {
			g_atomic_int_inc(&n_permfail);
		}
	}
	conn_send(&c, "QUIT\r\n", 6);
	conn_reply(&c);
	close(c.fd);
	return NULL;
lost:
	g_atomic_int_inc(&n_lost);
	if (c.fd > 0)
		close(c.fd);
	return NULL;
}

int
main(int argc, char **argv)
{
	GPtrArray *threads = g_ptr_array_new();
	int ch;

	opt_rcpts = g_ptr_array_new();
	while ((ch = getopt(argc, argv, "H:p:u:n:s:r:t:a:f:B")) != -1) {
		switch (ch) {
		case 'H': opt_host = optarg; break;
		case 'p': opt_port = optarg; break;
		case 'u': opt_unix = optarg; break;
		case 'n': opt_count = atoi(optarg); break;
		case 's': opt_sessions = atoi(optarg); break;
		case 'r': g_ptr_array_add(opt_rcpts, optarg); break;
		case 't': opt_tag = optarg; break;
		case 'f': opt_first = atoi(optarg); break;
		case 'B': opt_bdat = TRUE; break;
		case 'a':
			ack_fd = open(optarg, O_WRONLY | O_CREAT | O_APPEND, 0644);
			if (ack_fd < 0) {
				perror(optarg);
				return 2;
			}
			break;
		default:
			fprintf(stderr, "usage: lmtp-blast (-p PORT [-H HOST] | -u SOCKET) -n COUNT "
			        "[-s SESSIONS] [-r RCPT]... [-t TAG] [-a ACKLOG] [-f FIRST] [-B]\n");
			return 2;
		}
	}
	if ((opt_port == NULL) == (opt_unix == NULL) || opt_count < 0 || opt_sessions < 1) {
		fprintf(stderr, "lmtp-blast: need -p PORT or -u SOCKET\n");
		return 2;
	}
	if (opt_rcpts->len == 0)
		g_ptr_array_add(opt_rcpts, "support@example.test");
	for (int s = 0; s < opt_sessions; s++)
		g_ptr_array_add(threads, g_thread_new("blast", session_main, GINT_TO_POINTER(s)));
	for (guint i = 0; i < threads->len; i++)
		g_thread_join(g_ptr_array_index(threads, i));
	printf("acked=%d tempfail=%d permfail=%d lost=%d\n", n_acked, n_tempfail, n_permfail, n_lost);
	g_ptr_array_unref(threads);
	g_ptr_array_unref(opt_rcpts);
	return n_acked == opt_count ? 0 : 1;
}
