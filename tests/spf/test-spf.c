/*
 * NAME
 *   test-spf.c - SPF: the wire format, the check with libspf2 against its
 *   in-memory zone (SPF_dns_zone), and the helper pool with a helper that
 *   crashes, hangs or answers garbage on request (spf-fake-helper).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <glib/gstdio.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <glib.h>
#include <spf2/spf.h>
#include <spf2/spf_dns.h>
#include <spf2/spf_dns_zone.h>
#include "spf.h"
#include "spf_eval.h"
#include "spf_wire.h"

/* ---- wire ----------------------------------------------------------------- */

static void
test_wire_roundtrip(void)
{
	lg_spf_request rq = { .id = 77 }, back;
	lg_spf_response rs = { .id = 77, .result = LG_SPF_SOFTFAIL, .ttl = 300, .flags = LG_SPF_FLAG_NOCACHE }, rb;
	unsigned char buf[LG_SPF_FRAME_HEADER + LG_SPF_REQUEST_MAX];
	gsize n;

	strcpy(rq.ip, "2001:db8::25");
	strcpy(rq.helo, "mx.example.test");
	strcpy(rq.sender, "josé@example.test");
	n = lg_spf_request_encode(&rq, buf, sizeof buf);
	g_assert_cmpuint(n, >, LG_SPF_FRAME_HEADER);
	g_assert_cmpuint(lg_spf_frame_length(buf), ==, n - LG_SPF_FRAME_HEADER);
	g_assert_cmpint(lg_spf_request_decode(buf + 4, n - 4, &back), ==, 0);
	g_assert_cmpuint(back.id, ==, 77);
	g_assert_cmpstr(back.ip, ==, rq.ip);
	g_assert_cmpstr(back.helo, ==, rq.helo);
	g_assert_cmpstr(back.sender, ==, rq.sender);
	/* every truncation and every extra byte is refused */
	for (gsize k = 0; k < n - 4; k++)
		g_assert_cmpint(lg_spf_request_decode(buf + 4, k, &back), ==, -1);
	buf[n] = 0;
	g_assert_cmpint(lg_spf_request_decode(buf + 4, n - 4 + 1, &back), ==, -1);
	/* wrong version */
	buf[4] = 2;
	g_assert_cmpint(lg_spf_request_decode(buf + 4, n - 4, &back), ==, -1);

	strcpy(rs.comment, "ok");
	n = lg_spf_response_encode(&rs, buf, sizeof buf);
	g_assert_cmpuint(n, >, 0);
	g_assert_cmpint(lg_spf_response_decode(buf + 4, n - 4, &rb), ==, 0);
	g_assert_cmpint(rb.result, ==, LG_SPF_SOFTFAIL);
	g_assert_cmpuint(rb.ttl, ==, 300);
	g_assert_cmpuint(rb.flags, ==, LG_SPF_FLAG_NOCACHE);
	g_assert_cmpstr(rb.comment, ==, "ok");
	buf[4 + 1 + 4] = 0;   /* result 0 is not a result */
	g_assert_cmpint(lg_spf_response_decode(buf + 4, n - 4, &rb), ==, -1);
	buf[4 + 1 + 4] = 99;
	g_assert_cmpint(lg_spf_response_decode(buf + 4, n - 4, &rb), ==, -1);
}

static void
test_wire_refuses(void)
{
	lg_spf_request rq = { .id = 1 }, back;
	unsigned char buf[LG_SPF_FRAME_HEADER + LG_SPF_REQUEST_MAX + 64];

	strcpy(rq.ip, "not-an-ip");
	g_assert_cmpuint(lg_spf_request_encode(&rq, buf, sizeof buf), ==, 0);
	strcpy(rq.ip, "192.0.2.1");
	strcpy(rq.sender, "a\r\nb@x.test");
	g_assert_cmpuint(lg_spf_request_encode(&rq, buf, sizeof buf), ==, 0);
	strcpy(rq.sender, "a@x.test");
	g_assert_cmpuint(lg_spf_request_encode(&rq, buf, 10), ==, 0);

	/* hand-made bodies: a length past the field's limit, a NUL inside, a
	 * length past the end, an IP that is not one */
	static const unsigned char too_long[] = { 1, 0, 0, 0, 1, 0, 9, '1', '.', '2', '.', '3', '.', '4', '5', '6',
	                                          0, 0, 0xff, 0xff };
	g_assert_cmpint(lg_spf_request_decode(too_long, sizeof too_long, &back), ==, -1);
	static const unsigned char nul[] = { 1, 0, 0, 0, 1, 0, 7, '1', '.', '2', '.', '3', '.', '4', 0, 2, 'a', 0,
	                                     0, 0 };
	g_assert_cmpint(lg_spf_request_decode(nul, sizeof nul, &back), ==, -1);
	static const unsigned char past[] = { 1, 0, 0, 0, 1, 0, 7, '1', '.', '2', '.', '3', '.', '4', 0, 0, 0, 9 };
	g_assert_cmpint(lg_spf_request_decode(past, sizeof past, &back), ==, -1);
	static const unsigned char notip[] = { 1, 0, 0, 0, 1, 0, 3, 'a', 'b', 'c', 0, 0, 0, 0 };
	g_assert_cmpint(lg_spf_request_decode(notip, sizeof notip, &back), ==, -1);
	static const unsigned char good[] = { 1, 0, 0, 0, 1, 0, 7, '1', '.', '2', '.', '3', '.', '4', 0, 0, 0, 0 };
	g_assert_cmpint(lg_spf_request_decode(good, sizeof good, &back), ==, 0);
	g_assert_cmpstr(back.sender, ==, "");
	g_assert_cmpint(lg_spf_request_decode(NULL, 0, &back), ==, -1);
}

/* ---- the check against libspf2's zone ------------------------------------ */

static void
zadd(SPF_dns_server_t *z, const char *domain, ns_type type, int herrno, const char *data)
{
	g_assert_cmpint(SPF_dns_zone_add_str(z, domain, type, herrno, data), ==, SPF_E_SUCCESS);
}

static lg_spf_checker *
zone_checker(void)
{
	SPF_dns_server_t *z = SPF_dns_zone_new(NULL, "test-zone", 0);
	GString *many = g_string_new("v=spf1");

	zadd(z, "pass.test", ns_t_txt, NETDB_SUCCESS, "v=spf1 ip4:192.0.2.0/24 -all");
	zadd(z, "soft.test", ns_t_txt, NETDB_SUCCESS, "v=spf1 ip4:192.0.2.0/24 ~all");
	zadd(z, "neutral.test", ns_t_txt, NETDB_SUCCESS, "v=spf1 ?all");
	zadd(z, "norecord.test", ns_t_txt, NETDB_SUCCESS, "google-site-verification=abc");
	zadd(z, "badcidr.test", ns_t_txt, NETDB_SUCCESS, "v=spf1 ip4:192.0.2.0/99 -all");
	zadd(z, "badmech.test", ns_t_txt, NETDB_SUCCESS, "v=spf1 frobnicate:x.test -all");
	zadd(z, "two.test", ns_t_txt, NETDB_SUCCESS, "v=spf1 -all");
	zadd(z, "two.test", ns_t_txt, NETDB_SUCCESS, "v=spf1 +all");
	zadd(z, "timeout.test", ns_t_txt, TRY_AGAIN, NULL);
	zadd(z, "refused.test", ns_t_txt, NO_RECOVERY, NULL);
	zadd(z, "mechtimeout.test", ns_t_txt, NETDB_SUCCESS, "v=spf1 a:dead.test ip4:192.0.2.0/24 -all");
	zadd(z, "dead.test", ns_t_a, TRY_AGAIN, NULL);
	zadd(z, "mechrefused.test", ns_t_txt, NETDB_SUCCESS, "v=spf1 a:norec.test ip4:192.0.2.0/24 -all");
	zadd(z, "norec.test", ns_t_a, NO_RECOVERY, NULL);
	/* void look-ups: v1..v3 do not exist */
	zadd(z, "void2.test", ns_t_txt, NETDB_SUCCESS, "v=spf1 a:v1.test a:v2.test ip4:192.0.2.0/24 -all");
	zadd(z, "void3.test", ns_t_txt, NETDB_SUCCESS, "v=spf1 a:v1.test a:v2.test mx:v3.test ip4:192.0.2.0/24 -all");
	/* DNS-querying terms: 10 are fine, 11 are too many */
	for (int i = 1; i <= 11; i++) {
		g_autofree char *name = g_strdup_printf("i%d.test", i);
		zadd(z, name, ns_t_txt, NETDB_SUCCESS, "v=spf1 ip4:203.0.113.0/24 -all");
		g_string_append_printf(many, " include:%s", name);
		if (i == 10) {
			g_autofree char *rec = g_strdup_printf("%s -all", many->str);
			zadd(z, "ten.test", ns_t_txt, NETDB_SUCCESS, rec);
		}
	}
	g_string_append(many, " -all");
	zadd(z, "eleven.test", ns_t_txt, NETDB_SUCCESS, many->str);
	g_string_free(many, TRUE);
	/* macros: the client IP, the local part and the domain in the name */
	zadd(z, "macro.test", ns_t_txt, NETDB_SUCCESS, "v=spf1 exists:%{i}.%{l}._spf.%{d} -all");
	zadd(z, "192.0.2.10.alice._spf.macro.test", ns_t_a, NETDB_SUCCESS, "127.0.0.2");
	/* the null sender: the HELO name's record */
	zadd(z, "mx.helo.test", ns_t_txt, NETDB_SUCCESS, "v=spf1 ip4:192.0.2.10 -all");
	/* a through A records */
	zadd(z, "amech.test", ns_t_txt, NETDB_SUCCESS, "v=spf1 a:host.amech.test -all");
	zadd(z, "host.amech.test", ns_t_a, NETDB_SUCCESS, "198.51.100.20");
	return lg_spf_checker_new(z);
}

static lg_spf_response
run(lg_spf_checker *k, const char *ip, const char *helo, const char *sender)
{
	lg_spf_request rq = { .id = 5 };
	lg_spf_response rs;

	g_strlcpy(rq.ip, ip, sizeof rq.ip);
	g_strlcpy(rq.helo, helo, sizeof rq.helo);
	g_strlcpy(rq.sender, sender, sizeof rq.sender);
	lg_spf_checker_run(k, &rq, &rs);
	g_assert_cmpuint(rs.id, ==, 5);
	return rs;
}

#define RESULT(k, ip, helo, sender) lg_spf_result_name(run((k), (ip), (helo), (sender)).result)

static void
test_check_zone(void)
{
	lg_spf_checker *k = zone_checker();
	lg_spf_response rs;

	g_assert_nonnull(k);
	g_assert_cmpstr(RESULT(k, "192.0.2.10", "mx.x.test", "a@pass.test"), ==, "pass");
	g_assert_cmpstr(RESULT(k, "198.51.100.7", "mx.x.test", "a@pass.test"), ==, "fail");
	g_assert_cmpstr(RESULT(k, "198.51.100.7", "mx.x.test", "a@soft.test"), ==, "softfail");
	g_assert_cmpstr(RESULT(k, "198.51.100.7", "", "a@neutral.test"), ==, "neutral");
	g_assert_cmpstr(RESULT(k, "198.51.100.7", "", "a@norecord.test"), ==, "none");
	g_assert_cmpstr(RESULT(k, "198.51.100.7", "", "a@nxdomain.test"), ==, "none");
	g_assert_cmpstr(RESULT(k, "198.51.100.20", "", "a@amech.test"), ==, "pass");
	g_assert_cmpstr(RESULT(k, "198.51.100.21", "", "a@amech.test"), ==, "fail");
	g_assert_cmpstr(RESULT(k, "2001:db8::1", "", "a@pass.test"), ==, "fail");

	/* libspf2's "invalid": a syntax error is permerror ... */
	g_assert_cmpstr(RESULT(k, "192.0.2.10", "", "a@badcidr.test"), ==, "permerror");
	g_assert_cmpstr(RESULT(k, "192.0.2.10", "", "a@badmech.test"), ==, "permerror");
	g_assert_cmpstr(RESULT(k, "192.0.2.10", "", "a@two.test"), ==, "permerror");
	/* ... a DNS timeout or failure is temperror, never fail or permerror */
	g_assert_cmpstr(RESULT(k, "192.0.2.10", "", "a@timeout.test"), ==, "temperror");
	g_assert_cmpstr(RESULT(k, "192.0.2.10", "", "a@refused.test"), ==, "temperror");
	g_assert_cmpstr(RESULT(k, "192.0.2.10", "", "a@mechtimeout.test"), ==, "temperror");
	g_assert_cmpstr(RESULT(k, "192.0.2.10", "", "a@mechrefused.test"), ==, "temperror");
	rs = run(k, "192.0.2.10", "", "a@timeout.test");
	g_assert_cmpuint(rs.ttl, ==, 0);

	/* RFC 7208 §4.6.4: two void look-ups pass, a third is permerror */
	g_assert_cmpstr(RESULT(k, "192.0.2.10", "", "a@void2.test"), ==, "pass");
	rs = run(k, "192.0.2.10", "", "a@void3.test");
	g_assert_cmpstr(lg_spf_result_name(rs.result), ==, "permerror");
	g_assert_nonnull(strstr(rs.comment, "void"));
	/* ten DNS-querying terms pass, eleven are permerror */
	g_assert_cmpstr(RESULT(k, "192.0.2.10", "", "a@ten.test"), ==, "fail");
	g_assert_cmpstr(RESULT(k, "203.0.113.5", "", "a@ten.test"), ==, "pass");
	g_assert_cmpstr(RESULT(k, "192.0.2.10", "", "a@eleven.test"), ==, "permerror");

	/* macros: expanded from IP, local part and domain; never cached */
	rs = run(k, "192.0.2.10", "", "alice@macro.test");
	g_assert_cmpstr(lg_spf_result_name(rs.result), ==, "pass");
	g_assert_true(rs.flags & LG_SPF_FLAG_NOCACHE);
	g_assert_cmpstr(RESULT(k, "192.0.2.10", "", "bob@macro.test"), ==, "fail");
	g_assert_cmpstr(RESULT(k, "192.0.2.11", "", "alice@macro.test"), ==, "fail");

	/* the null sender: postmaster@HELO */
	rs = run(k, "192.0.2.10", "mx.helo.test", "");
	g_assert_cmpstr(lg_spf_result_name(rs.result), ==, "pass");
	g_assert_true(rs.flags & LG_SPF_FLAG_NOCACHE);
	g_assert_cmpstr(RESULT(k, "192.0.2.99", "mx.helo.test", ""), ==, "fail");
	g_assert_cmpstr(RESULT(k, "192.0.2.99", "", ""), ==, "none");

	/* a verdict from records: cached for their TTL, at most an hour */
	rs = run(k, "192.0.2.10", "", "a@pass.test");
	g_assert_cmpuint(rs.ttl, >, 0);
	g_assert_cmpuint(rs.ttl, <=, LG_SPF_TTL_MAX);
	g_assert_false(rs.flags & LG_SPF_FLAG_NOCACHE);
	lg_spf_checker_free(k);
}

/* ---- the pool --------------------------------------------------------------- */

static char *
build_path(const char *rel)
{
	const char *b = g_getenv("top_builddir");
	return g_build_filename(b ? b : ".", rel, NULL);
}

static lg_spf_pool *
pool_new(const char *helper, int timeout)
{
	lg_spf_pool_options o = { .helper = helper, .helpers = 2, .timeout = timeout, .dns_timeout = 1,
	                          .cache_max = 100 };
	g_autoptr(GError) error = NULL;
	lg_spf_pool *p;

	if (geteuid() == 0)
		g_assert_true(lg_spf_pool_options_user(&o, NULL, &error));
	p = lg_spf_pool_new(&o, &error);
	g_assert_no_error(error);
	return p;
}

static lg_spf_result
check(lg_spf_pool *p, const char *ip, const char *sender, gboolean *cached, char **comment)
{
	g_autoptr(lg_spf_check) c = lg_spf_pool_start(p, ip, "mx.client.test", sender);
	lg_spf_result r = lg_spf_check_wait(c);

	if (cached)
		*cached = lg_spf_check_cached(c);
	if (comment)
		*comment = g_strdup(lg_spf_check_comment(c));
	return r;
}

typedef struct {
	GMutex lock;
	GCond cond;
	gboolean called;
} notified;

static void
on_done(gpointer data)
{
	notified *n = data;
	g_mutex_lock(&n->lock);
	n->called = TRUE;
	g_cond_signal(&n->cond);
	g_mutex_unlock(&n->lock);
}

static void
test_pool_fake(void)
{
	g_autofree char *fake = build_path("tests/spf/spf-fake-helper");
	lg_spf_pool *p = pool_new(fake, 2);
	gboolean cached;
	g_autofree char *pid1 = NULL, *pid2 = NULL;

	g_assert_cmpint(check(p, "192.0.2.1", "a@one.test", &cached, &pid1), ==, LG_SPF_PASS);
	g_assert_false(cached);
	g_assert_cmpint(check(p, "192.0.2.1", "b@ONE.test", &cached, NULL), ==, LG_SPF_PASS);
	g_assert_true(cached);   /* per (client IP, domain) */
	g_assert_cmpint(check(p, "192.0.2.2", "b@one.test", &cached, NULL), ==, LG_SPF_PASS);
	g_assert_false(cached);
	g_assert_cmpint(check(p, "192.0.2.1", "nocache@two.test", &cached, NULL), ==, LG_SPF_PASS);
	g_assert_cmpint(check(p, "192.0.2.1", "nocache@two.test", &cached, NULL), ==, LG_SPF_PASS);
	g_assert_false(cached);
	g_assert_cmpint(check(p, "IPv6:2001:db8::7", "a@six.test", NULL, NULL), ==, LG_SPF_PASS);

	/* a crash, a hang (the timeout), garbage, a wrong id: temperror, and
	 * the pool goes on with new helpers */
	g_assert_cmpint(check(p, "192.0.2.1", "crash@c.test", NULL, NULL), ==, LG_SPF_TEMPERROR);
	g_assert_cmpint(check(p, "192.0.2.1", "hang@h.test", NULL, NULL), ==, LG_SPF_TEMPERROR);
	g_assert_cmpint(check(p, "192.0.2.1", "garbage@g.test", NULL, NULL), ==, LG_SPF_TEMPERROR);
	g_assert_cmpint(check(p, "192.0.2.1", "wrongid@w.test", NULL, NULL), ==, LG_SPF_TEMPERROR);
	g_assert_cmpint(check(p, "192.0.2.1", "crash@c.test", &cached, NULL), ==, LG_SPF_TEMPERROR);
	g_assert_false(cached);   /* temperror is never cached */
	g_assert_cmpint(check(p, "192.0.2.1", "a@three.test", NULL, &pid2), ==, LG_SPF_PASS);
	/* both helpers are new by now: each of the two slots lost one */
	g_assert_cmpstr(pid1, !=, pid2);

	/* a helper killed from outside mid-check */
	{
		g_autoptr(lg_spf_check) c = lg_spf_pool_start(p, "192.0.2.1", NULL, "hang@k.test");
		GArray *pids;
		for (int i = 0; i < 200; i++) {   /* until it is under way */
			g_usleep(10000);
			pids = lg_spf_pool_pids(p);
			guint n = pids->len;
			g_array_unref(pids);
			if (n == 2)
				break;
		}
		pids = lg_spf_pool_pids(p);
		for (guint i = 0; i < pids->len; i++)
			kill(g_array_index(pids, int, i), SIGKILL);
		g_array_unref(pids);
		g_assert_cmpint(lg_spf_check_wait(c), ==, LG_SPF_TEMPERROR);
	}
	/* the other helper was killed while idle: the next check finds it gone
	 * and runs on a new one, not a temperror (this failed now and then on
	 * a loaded machine, when the check got there before the pool noticed) */
	g_assert_cmpint(check(p, "192.0.2.1", "a@four.test", NULL, NULL), ==, LG_SPF_PASS);

	/* refused before any helper: not an address, a sender with controls */
	g_assert_cmpint(check(p, "mx.example.test", "a@five.test", NULL, NULL), ==, LG_SPF_PERMERROR);
	g_assert_cmpint(check(p, "192.0.2.1", "a\nb@five.test", NULL, NULL), ==, LG_SPF_PERMERROR);

	/* notify: called once the check is done, from a pool thread */
	{
		notified n = { 0 };
		g_autoptr(lg_spf_check) c = lg_spf_pool_start(p, "192.0.2.9", NULL, "a@notify.test");
		g_mutex_init(&n.lock);
		g_cond_init(&n.cond);
		if (!lg_spf_check_notify(c, on_done, &n)) {
			g_mutex_lock(&n.lock);
			while (!n.called)
				g_cond_wait(&n.cond, &n.lock);
			g_mutex_unlock(&n.lock);
		}
		g_assert_cmpint(lg_spf_check_result(c), ==, LG_SPF_PASS);
		g_mutex_clear(&n.lock);
		g_cond_clear(&n.cond);
	}
	lg_spf_pool_free(p);
}

/* The real helper, without DNS: libspf2 passes a loopback client itself. */
static void
test_pool_helper(void)
{
	g_autofree char *helper = build_path("src/leadgate-spf-helper");
	lg_spf_pool *p = pool_new(helper, 10);
	g_autofree char *comment = NULL;

	g_assert_cmpint(check(p, "127.0.0.1", "a@example.test", NULL, &comment), ==, LG_SPF_PASS);
	g_assert_nonnull(strstr(comment, "localhost"));
	lg_spf_pool_free(p);

	/* a helper that cannot be started: temperror, no crash */
	p = pool_new("/nonexistent/leadgate-spf-helper", 10);
	g_assert_cmpint(check(p, "127.0.0.1", "a@example.test", NULL, NULL), ==, LG_SPF_TEMPERROR);
	lg_spf_pool_free(p);
}

/* The helper's Landlock sandbox, in a child: /etc readable, nothing else. */
static void
test_sandbox(void)
{
	g_autofree char *dir = g_dir_make_tmp("spf-sandbox-XXXXXX", NULL);
	g_autofree char *file = g_build_filename(dir, "secret.db", NULL);
	int status;
	pid_t pid;

	g_assert_true(g_file_set_contents(file, "x", 1, NULL));
	pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		int r, fd;
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
			_exit(2);
		r = lg_spf_sandbox_fs();
		if (r == 0)
			_exit(77);
		if (r < 0)
			_exit(3);
		fd = open(file, O_RDONLY);
		if (fd >= 0 || errno != EACCES)
			_exit(4);
		fd = open(file, O_WRONLY | O_TRUNC);
		if (fd >= 0)
			_exit(5);
		fd = open("/etc/hosts", O_RDONLY);
		if (fd < 0)
			_exit(6);
		close(fd);
		_exit(0);
	}
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_unlink(file);
	g_rmdir(dir);
	g_assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77) {
		g_test_skip("Landlock is not available here");
		return;
	}
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	/* the pool's warnings about the helpers it replaces are expected here */
	g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	signal(SIGPIPE, SIG_IGN);
	g_test_add_func("/spf/wire/roundtrip", test_wire_roundtrip);
	g_test_add_func("/spf/wire/refuses", test_wire_refuses);
	g_test_add_func("/spf/check/zone", test_check_zone);
	g_test_add_func("/spf/pool/fake-helper", test_pool_fake);
	g_test_add_func("/spf/pool/helper", test_pool_helper);
	g_test_add_func("/spf/helper/sandbox", test_sandbox);
	return g_test_run();
}
