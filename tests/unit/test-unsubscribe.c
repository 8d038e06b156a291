/*
 * NAME
 *   test-unsubscribe.c - unit tests of the mailer's inbound side: which
 *   recipients are the unsubscribe address, their tokens, the campaign
 *   reference of a bounce or a reply, and what counts as a hard bounce.
 */
#include "config.h"
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include "lg.h"
#include "config.h"
#include "message.h"
#include "raw.h"
#include "ref.h"
#include "unsubscribe.h"

static const char *key = "0123456789abcdef0123456789abcdef";

static lg_config *
config(const char *text)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *path = NULL;
	int fd = g_file_open_tmp("lgconf-XXXXXX", &path, NULL);
	close(fd);
	g_file_set_contents(path, text, -1, NULL);
	lg_config *cfg = lg_config_load(path, &err);
	g_assert_no_error(err);
	g_unlink(path);
	return cfg;
}

static lg_message *
parse(const char *text)
{
	g_autoptr(lg_raw) raw = lg_raw_new_from_data(text, strlen(text));
	lg_parse_options po = { .body_max = 0, .loop_header = "X-Leadgate-Loop" };
	g_autoptr(GError) err = NULL;
	lg_message *m = lg_message_parse(raw, &po, &err);
	g_assert_no_error(err);
	return m;
}

static void
test_rcpt(void)
{
	g_autoptr(lg_config) cfg = config("[mailer]\nfrom = News@Example.test\n");
	g_assert_cmpstr(cfg->mailer_unsubscribe_address, ==, "unsubscribe@Example.test");
	g_autofree char *tok = lg_ref_make(key, 'U', 42);
	/* an address's normalisation lower-cases the kind letter */
	g_autofree char *lower = g_ascii_strdown(tok, -1);
	g_autofree char *rcpt = g_strdup_printf("unsubscribe+%s@example.test", lower);
	char *t = NULL;
	g_assert_true(lg_unsub_rcpt(cfg, rcpt, &t));
	g_assert_cmpstr(t, ==, tok);
	gint64 id = 0;
	g_assert_true(lg_unsub_token_verify(key, t, &id));
	g_assert_cmpint(id, ==, 42);
	g_free(t);

	/* the bare address: it is the unsubscribe address, with no token */
	g_assert_true(lg_unsub_rcpt(cfg, "unsubscribe@example.test", &t));
	g_assert_null(t);
	/* other addresses are not */
	g_assert_false(lg_unsub_rcpt(cfg, "unsubscribe@other.test", &t));
	g_assert_false(lg_unsub_rcpt(cfg, "unsubscribed@example.test", &t));
	g_assert_false(lg_unsub_rcpt(cfg, "unsub@example.test", &t));
	g_assert_false(lg_unsub_rcpt(cfg, "news@example.test", &t));
	g_assert_false(lg_unsub_rcpt(cfg, "support+lg-u42-x@example.test", &t));
	/* an extension that is no token: the unsubscribe address, token unverifiable */
	g_assert_true(lg_unsub_rcpt(cfg, "unsubscribe+hello@example.test", &t));
	g_assert_false(lg_unsub_token_verify(key, t, &id));
	g_free(t);

	g_autoptr(lg_config) own = config("[mailer]\nfrom = news@example.test\nunsubscribe_address = Leave@Lists.example.test\n");
	g_assert_true(lg_unsub_rcpt(own, "leave+x@lists.example.test", NULL));
	g_assert_false(lg_unsub_rcpt(own, "unsubscribe+x@example.test", NULL));
}

static void
test_token(void)
{
	gint64 id = 0;
	g_autofree char *tok = lg_ref_make(key, 'U', 7);
	g_assert_true(lg_unsub_token_verify(key, tok, &id));
	g_assert_cmpint(id, ==, 7);
	g_autofree char *spaced = g_strdup_printf("  %s\n", tok);
	g_assert_true(lg_unsub_token_verify(key, spaced, &id));
	/* another key, another kind, an altered MAC, more after it, another id */
	g_assert_false(lg_unsub_token_verify("another key", tok, &id));
	g_autofree char *t = lg_ref_make(key, 'T', 7);
	g_assert_false(lg_unsub_token_verify(key, t, &id));
	g_autofree char *altered = g_strdup(tok);
	altered[strlen(altered) - 1] = altered[strlen(altered) - 1] == '0' ? '1' : '0';
	g_assert_false(lg_unsub_token_verify(key, altered, &id));
	g_autofree char *longer = g_strconcat(tok, "0", NULL);
	g_assert_false(lg_unsub_token_verify(key, longer, &id));
	g_autofree char *trailing = g_strconcat(tok, "x", NULL);
	g_assert_false(lg_unsub_token_verify(key, trailing, &id));
	g_autofree char *zero = g_strdup_printf("lg-U07-%s", tok + strlen("lg-U7-"));
	g_assert_false(lg_unsub_token_verify(key, zero, &id));
	g_assert_false(lg_unsub_token_verify(key, "", &id));
	g_assert_false(lg_unsub_token_verify(key, "lg-", &id));
	g_assert_false(lg_unsub_token_verify(key, NULL, &id));
	g_assert_null(lg_unsub_token_canon("x"));
	g_autofree char *c = lg_unsub_token_canon("LG-u7-ABCDEF0123456789");
	g_assert_cmpstr(c, ==, "lg-U7-abcdef0123456789");
}

static void
test_campaign_ref(void)
{
	g_autofree char *c = lg_ref_make(key, 'C', 31);
	g_autofree char *bounce = g_strdup_printf(
		"From: MAILER-DAEMON@mx.example\nSubject: Undelivered\nMIME-Version: 1.0\n"
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n"
		"--b\nContent-Type: text/plain\n\nsorry\n"
		"--b\nContent-Type: message/delivery-status\n\n"
		"Reporting-MTA: dns; mx.example\n\n"
		"Final-Recipient: rfc822; gone@example.org\nAction: failed\nStatus: 5.1.1\n\n"
		"--b\nContent-Type: text/rfc822-headers\n\nFrom: news@example.test\nMessage-ID: <%s@example.test>\n\n"
		"--b--\n", c);
	g_autoptr(lg_message) m = parse(bounce);
	gint64 id = 0;
	g_assert_true(lg_dsn_permanent(m->dsn));
	g_assert_true(lg_campaign_ref_find(key, m, &id));
	g_assert_cmpint(id, ==, 31);
	g_assert_false(lg_campaign_ref_find("another key", m, &id));

	/* a delay is no hard bounce; neither is a message without a report */
	g_autoptr(lg_message) late = parse(
		"From: MAILER-DAEMON@mx.example\nMIME-Version: 1.0\n"
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n"
		"--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n\n"
		"Final-Recipient: rfc822; slow@example.org\nAction: delayed\nStatus: 4.4.1\n\n--b--\n");
	g_assert_nonnull(late->dsn);
	g_assert_false(lg_dsn_permanent(late->dsn));
	g_assert_false(lg_dsn_permanent(NULL));

	/* a reply: In-Reply-To, else References (newest first) */
	g_autofree char *reply = g_strdup_printf("From: carol@customer.example\nSubject: Re: news\n"
	                                         "References: <a@x.example> <%s@example.test>\n\nthanks\n", c);
	g_autoptr(lg_message) r = parse(reply);
	g_assert_true(lg_campaign_ref_find(key, r, &id));
	g_assert_cmpint(id, ==, 31);
	/* a forged MAC, another kind, a plain Re: subject: nothing */
	g_autoptr(lg_message) f = parse("From: x@y.example\nSubject: Re: news\nIn-Reply-To: <lg-C31-0000000000000000@example.test>\n\nx\n");
	g_assert_false(lg_campaign_ref_find(key, f, &id));
	g_autofree char *t = lg_ref_make(key, 'T', 31);
	g_autofree char *ticket = g_strdup_printf("From: x@y.example\nIn-Reply-To: <%s@example.test>\n\nx\n", t);
	g_autoptr(lg_message) tm = parse(ticket);
	g_assert_false(lg_campaign_ref_find(key, tm, &id));
	g_autoptr(lg_message) re = parse("From: x@y.example\nSubject: Re: Spring news\n\nx\n");
	g_assert_false(lg_campaign_ref_find(key, re, &id));
	/* the body's reference line, quoted by a client that dropped References */
	g_autofree char *quoted = g_strdup_printf("From: carol@customer.example\nSubject: Re: news\n\nthanks\n> [ref:%s]\n", c);
	g_autoptr(lg_message) q = parse(quoted);
	g_assert_true(lg_campaign_ref_find(key, q, &id));
	g_assert_cmpint(id, ==, 31);
	g_autoptr(lg_message) qf = parse("From: x@y.example\n\n> [ref:lg-C31-0000000000000000]\n");
	g_assert_false(lg_campaign_ref_find(key, qf, &id));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/unsubscribe/rcpt", test_rcpt);
	g_test_add_func("/unsubscribe/token", test_token);
	g_test_add_func("/unsubscribe/campaign-ref", test_campaign_ref);
	return g_test_run();
}
