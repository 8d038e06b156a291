/*
 * NAME
 *   lmtp-latency - a pipelining LMTP load client that reports latency.
 *
 * SYNOPSIS
 *   lmtp-latency -p PORT [-H 127.0.0.1] [-c SESSIONS] [-n MESSAGES]
 *                -F FILE [-f SENDER] [-t RECIPIENT] [-T SECONDS]
 *                [-x XFORWARD-ATTRIBUTES]
 *
 * SUMMARY
 *   Postfix's smtp-source neither pipelines nor reports latency, so the
 *   bench (tests/bench/run.sh) uses this client for the latency rows. It
 *   talks to the server the way Postfix's LMTP client does: one LHLO per
 *   connection, then for each message MAIL FROM, RCPT TO and DATA written
 *   together (PIPELINING), the three replies read, the message written,
 *   and the final reply read. The latency of a message is the time from
 *   writing MAIL FROM to reading its last 250.
 *
 *   With -x, every transaction begins with "XFORWARD ATTRIBUTES" (as
 *   Postfix's LMTP client sends the client's address and HELO name), in
 *   the same write as MAIL FROM; its reply is read first.
 *
 *   FILE is sent as it is, with LF turned into CRLF and dot-stuffed. If it
 *   contains the token LGBENCH-000000000000 (in the Message-ID, say), each
 *   message gets a token of its own, so that no two messages of a run are
 *   the same message to the server.
 *
 *   SESSIONS connections run in parallel, one thread each, and share the
 *   MESSAGES between them. Every read has a timeout (-T, 60 s), so a stuck
 *   server ends the run rather than hanging it.
 *
 * OUTPUT
 *   One line on stdout:
 *     sent N errors E wall_s W msgs_per_s R p50_ms A p99_ms B max_ms C
 *   Exit status 0 when every message got its 250, 1 otherwise.
 *
 * BUGS
 *   Loopback benchmarking only; no TLS, no AUTH, one recipient per message.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <glib.h>

#define LAT_TOKEN "LGBENCH-000000000000"

typedef struct {
	const char *host;
	const char *port;
	const char *sender;
	const char *rcpt;
	const char *xforward;       /* "ADDR=... HELO=..." or NULL */
	const GByteArray *body;     /* CRLF, dot-stuffed, ends with ".\r\n" */
	GArray *token_at;           /* gsize offsets of LAT_TOKEN in body */
	int timeout_s;
	guint nonce;                /* per run, keeps tokens unique across runs */
	gint *next_seq;             /* shared message counter */
	int count;                  /* messages in the run */
} lat_run;

typedef struct {
	lat_run *run;
	GArray *latency_us;         /* gint64 per delivered message */
	int errors;
	char *first_error;
} lat_worker;

typedef struct {
	int fd;
	char buf[8192];
	size_t len;
	size_t off;
} lat_conn;

/* Reads one line (without CRLF) into @line; FALSE on EOF, error or timeout. */
static gboolean
lat_read_line(lat_conn *c, GString *line)
{
	g_string_truncate(line, 0);
	for (int guard = 0; guard < 1 << 20; guard++) {
		while (c->off < c->len) {
			char ch = c->buf[c->off++];
			if (ch == '\n') {
				if (line->len > 0 && line->str[line->len - 1] == '\r')
					g_string_truncate(line, line->len - 1);
				return TRUE;
			}
			g_string_append_c(line, ch);
		}
		ssize_t n = read(c->fd, c->buf, sizeof c->buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return FALSE;
		c->len = (size_t) n;
		c->off = 0;
	}
	return FALSE;
}

/* Reads one (possibly multi-line) reply; returns its code, or -1. */
static int
lat_read_reply(lat_conn *c, GString *line)
{
	for (int lines = 0; lines < 100; lines++) {
		if (!lat_read_line(c, line) || line->len < 3)
			return -1;
		if (line->len == 3 || line->str[3] != '-')
			return atoi(line->str);
	}
	return -1;
}

static gboolean
lat_write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return FALSE;
		p += w;
		n -= (size_t) w;
	}
	return TRUE;
}

static int
lat_connect(const lat_run *run)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	if (getaddrinfo(run->host, run->port, &hints, &res) != 0)
		return -1;
	int fd = -1;
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct timeval tv = { .tv_sec = run->timeout_s };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	return fd;
}

static void
lat_fail(lat_worker *w, const char *what, const GString *line)
{
	w->errors++;
	if (w->first_error == NULL)
		w->first_error = g_strdup_printf("%s: %s", what,
		                                 line != NULL && line->len > 0 ? line->str : "no reply");
}

static gpointer
lat_worker_main(gpointer data)
{
	lat_worker *w = data;
	lat_run *run = w->run;
	g_autoptr(GString) line = g_string_new(NULL);
	g_autofree char *body = g_malloc(run->body->len);
	g_autofree char *cmds = g_strdup_printf("%s%s%sMAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n",
	                                        run->xforward ? "XFORWARD " : "",
	                                        run->xforward ? run->xforward : "",
	                                        run->xforward ? "\r\n" : "", run->sender, run->rcpt);
	lat_conn c = { .fd = lat_connect(run) };

	memcpy(body, run->body->data, run->body->len);

	if (c.fd < 0) {
		lat_fail(w, "connect", NULL);
		return NULL;
	}
	if (lat_read_reply(&c, line) != 220) {
		lat_fail(w, "greeting", line);
		goto out;
	}
	if (!lat_write_all(c.fd, "LHLO bench.test\r\n", 17) || lat_read_reply(&c, line) != 250) {
		lat_fail(w, "LHLO", line);
		goto out;
	}
	for (;;) {
		int seq = g_atomic_int_add(run->next_seq, 1);
		if (seq >= run->count)
			break;
		for (guint i = 0; i < run->token_at->len; i++) {
			char tok[sizeof LAT_TOKEN];
			snprintf(tok, sizeof tok, "LGBENCH-%04x%08u", run->nonce & 0xffffu,
			         (unsigned) seq % 100000000u);
			memcpy(body + g_array_index(run->token_at, gsize, i), tok, sizeof LAT_TOKEN - 1);
		}
		gint64 t0 = g_get_monotonic_time();
		if (!lat_write_all(c.fd, cmds, strlen(cmds))) {
			lat_fail(w, "write MAIL", NULL);
			goto out;
		}
		if (run->xforward != NULL && lat_read_reply(&c, line) != 250) {
			lat_fail(w, "XFORWARD", line);
			goto out;
		}
		int mail = lat_read_reply(&c, line);
		if (mail != 250) {
			lat_fail(w, "MAIL FROM", line);
			goto out;
		}
		int rcpt = lat_read_reply(&c, line);
		if (rcpt != 250) {
			lat_fail(w, "RCPT TO", line);
			goto out;
		}
		if (lat_read_reply(&c, line) != 354) {
			lat_fail(w, "DATA", line);
			goto out;
		}
		if (!lat_write_all(c.fd, body, run->body->len)) {
			lat_fail(w, "write message", NULL);
			goto out;
		}
		if (lat_read_reply(&c, line) != 250) {
			lat_fail(w, "end of data", line);
			goto out;
		}
		gint64 us = g_get_monotonic_time() - t0;
		g_array_append_val(w->latency_us, us);
	}
	if (lat_write_all(c.fd, "QUIT\r\n", 6))
		(void) lat_read_reply(&c, line);
out:
	close(c.fd);
	return NULL;
}

/* Turns the file's lines into CRLF lines, dot-stuffed, and adds ".\r\n". */
static GByteArray *
lat_load(const char *path, GArray *token_at, GError **error)
{
	g_autofree char *raw = NULL;
	gsize len = 0;
	if (!g_file_get_contents(path, &raw, &len, error))
		return NULL;
	GByteArray *out = g_byte_array_sized_new(len + len / 32 + 8);
	gsize i = 0;
	while (i < len) {
		const char *nl = memchr(raw + i, '\n', len - i);
		gsize end = nl != NULL ? (gsize) (nl - raw) : len;
		gsize stop = end > i && raw[end - 1] == '\r' ? end - 1 : end;
		if (raw[i] == '.')
			g_byte_array_append(out, (const guint8 *) ".", 1);
		for (const char *t = raw + i; t < raw + stop; t++) {
			t = g_strstr_len(t, raw + stop - t, LAT_TOKEN);
			if (t == NULL)
				break;
			gsize at = out->len + (gsize) (t - (raw + i));
			g_array_append_val(token_at, at);
		}
		g_byte_array_append(out, (const guint8 *) raw + i, (guint) (stop - i));
		g_byte_array_append(out, (const guint8 *) "\r\n", 2);
		i = end + 1;
	}
	g_byte_array_append(out, (const guint8 *) ".\r\n", 3);
	return out;
}

static int
lat_cmp(gconstpointer a, gconstpointer b)
{
	gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array, in ms. */
static double
lat_percentile(const GArray *sorted, double p)
{
	if (sorted->len == 0)
		return 0.0;
	guint rank = (guint) (p / 100.0 * sorted->len + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > sorted->len)
		rank = sorted->len;
	return g_array_index(sorted, gint64, rank - 1) / 1000.0;
}

int
main(int argc, char **argv)
{
	/* GOption hands over newly allocated strings: all of them are ours */
	g_autofree char *host = NULL, *port = NULL, *file = NULL, *sender = NULL, *rcpt = NULL;
	g_autofree char *xforward = NULL;
	int sessions = 1, count = 100, timeout_s = 60;
	GOptionEntry entries[] = {
		{ "host", 'H', 0, G_OPTION_ARG_STRING, &host, "server address (127.0.0.1)", "ADDR" },
		{ "port", 'p', 0, G_OPTION_ARG_STRING, &port, "server port", "PORT" },
		{ "sessions", 'c', 0, G_OPTION_ARG_INT, &sessions, "parallel sessions (1)", "N" },
		{ "messages", 'n', 0, G_OPTION_ARG_INT, &count, "messages in all (100)", "N" },
		{ "file", 'F', 0, G_OPTION_ARG_FILENAME, &file, "message file", "FILE" },
		{ "from", 'f', 0, G_OPTION_ARG_STRING, &sender, "envelope sender", "ADDR" },
		{ "to", 't', 0, G_OPTION_ARG_STRING, &rcpt, "envelope recipient", "ADDR" },
		{ "timeout", 'T', 0, G_OPTION_ARG_INT, &timeout_s, "read/write timeout, seconds (60)", "S" },
		{ "xforward", 'x', 0, G_OPTION_ARG_STRING, &xforward, "XFORWARD attributes before each MAIL", "ATTRS" },
		{ NULL }
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("- pipelining LMTP latency client");
	g_autoptr(GError) error = NULL;
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error) || port == NULL || file == NULL
	    || sessions < 1 || sessions > 1000 || count < 1 || count > 10000000 || timeout_s < 1) {
		fprintf(stderr, "lmtp-latency: %s\n", error != NULL ? error->message
		        : "need -p PORT -F FILE, 1 <= -c <= 1000, -n >= 1, -T >= 1");
		return 2;
	}

	if (host == NULL)
		host = g_strdup("127.0.0.1");
	if (sender == NULL)
		sender = g_strdup("from@example.test");
	if (rcpt == NULL)
		rcpt = g_strdup("user@example.test");

	g_autoptr(GArray) token_at = g_array_new(FALSE, FALSE, sizeof(gsize));
	g_autoptr(GByteArray) body = lat_load(file, token_at, &error);
	if (body == NULL) {
		fprintf(stderr, "lmtp-latency: %s\n", error->message);
		return 2;
	}
	gint next_seq = 0;
	lat_run run = {
		.host = host, .port = port, .sender = sender, .rcpt = rcpt, .xforward = xforward, .body = body,
		.token_at = token_at, .timeout_s = timeout_s, .nonce = g_random_int(),
		.next_seq = &next_seq, .count = count,
	};
	lat_worker *workers = g_new0(lat_worker, sessions);
	GThread **threads = g_new0(GThread *, sessions);
	gint64 start = g_get_monotonic_time();
	for (int i = 0; i < sessions; i++) {
		workers[i].run = &run;
		workers[i].latency_us = g_array_new(FALSE, FALSE, sizeof(gint64));
		threads[i] = g_thread_new("lmtp", lat_worker_main, &workers[i]);
	}
	g_autoptr(GArray) all = g_array_new(FALSE, FALSE, sizeof(gint64));
	int errors = 0;
	const char *first_error = NULL;
	for (int i = 0; i < sessions; i++) {
		g_thread_join(threads[i]);
		g_array_append_vals(all, workers[i].latency_us->data, workers[i].latency_us->len);
		errors += workers[i].errors;
		if (first_error == NULL)
			first_error = workers[i].first_error;
	}
	double wall = (g_get_monotonic_time() - start) / 1e6;
	g_array_sort(all, lat_cmp);
	printf("sent %u errors %d wall_s %.3f msgs_per_s %.1f p50_ms %.2f p99_ms %.2f max_ms %.2f\n",
	       all->len, errors, wall, wall > 0 ? all->len / wall : 0.0,
	       lat_percentile(all, 50), lat_percentile(all, 99), lat_percentile(all, 100));
	if (first_error != NULL)
		fprintf(stderr, "lmtp-latency: %d session(s) failed; first: %s\n", errors, first_error);
	for (int i = 0; i < sessions; i++) {
		g_array_free(workers[i].latency_us, TRUE);
		g_free(workers[i].first_error);
	}
	g_free(workers);
	g_free(threads);
	return errors == 0 && (int) all->len == count ? 0 : 1;
}
