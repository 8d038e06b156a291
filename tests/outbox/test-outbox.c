/*
 * NAME
 *   test-outbox.c - unit tests of the outbox: Standard Webhooks signatures
 *   against the specification's published test vector, the retry schedule
 *   and Retry-After, the claim (two workers, an expired claim, a lost
 *   claim) on a real SQLite file, and the notification mail.
 */
#include "config.h"
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include "lg.h"
#include "message.h"
#include "outbox.h"
#include "raw.h"
#include "ref.h"
#include "store.h"
#include "store_outbox.h"
#include "webhook.h"

/* The test vector of the Standard Webhooks reference libraries
 * (libraries/javascript/src/webhook.test.ts, "sign function works"). */
static void
test_sign_vector(void)
{
	g_autoptr(GError) err = NULL;
	const char *body = "{\"test\": 2432232314}";
	g_autofree char *sig = lg_webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
	                                       1614265330, body, strlen(body), &err);
	g_assert_no_error(err);
	g_assert_cmpstr(sig, ==, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	/* the prefix is optional */
	g_autofree char *bare = lg_webhook_sign("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
	                                        1614265330, body, strlen(body), &err);
	g_assert_cmpstr(bare, ==, sig);
	/* any change of id, time or body changes it */
	g_autofree char *other = lg_webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
	                                         1614265331, body, strlen(body), &err);
	g_assert_cmpstr(other, !=, sig);
}

static void
test_sign_bad_secrets(void)
{
	static const char *const bad[] = {
		"", "whsec_", "whsec_c2hvcnQ=",                    /* 5 bytes */
		"whsec_not base64!",
		/* 66 bytes */
		"whsec_QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB",
	};
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) err = NULL;
		g_autofree char *s = lg_webhook_sign(bad[i], "id", 1, "", 0, &err);
		g_assert_null(s);
		g_assert_error(err, LG_USAGE_ERROR, LG_USAGE_ERROR_ARGS);
	}
}

static void
test_secret_file(void)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *path = NULL;
	int fd = g_file_open_tmp("lg-secret-XXXXXX", &path, &err);
	g_assert_cmpint(fd, >=, 0);
	close(fd);
	g_assert_true(g_file_set_contents(path, "# rotating\nwhsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n\n"
	                                  "whsec_fwaamyljTyuFzF34PL7nAFuk8YQisezfF0Y/LUlvtqM=\n", -1, &err));
	g_auto(GStrv) two = lg_webhook_read_secrets(path, &err);
	g_assert_no_error(err);
	g_assert_cmpuint(g_strv_length(two), ==, 2);
	g_assert_true(g_file_set_contents(path, "whsec_a\n", -1, &err));
	g_auto(GStrv) bad = lg_webhook_read_secrets(path, &err);
	g_assert_null(bad);
	g_assert_nonnull(strstr(err->message, ":1:"));
	g_clear_error(&err);
	g_assert_true(g_file_set_contents(path, "\n", -1, &err));
	g_auto(GStrv) none = lg_webhook_read_secrets(path, &err);
	g_assert_null(none);
	g_clear_error(&err);
	g_unlink(path);
}

static void
test_schedule(void)
{
	static const double want[] = { 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400 };
	double total = 0;
	for (gint64 a = 1; a < LG_OUTBOX_MAX_ATTEMPTS; a++) {
		/* u = 0.5 is the middle of the jitter */
		g_assert_cmpfloat_with_epsilon(lg_outbox_retry_delay(a, -1, 0.5), want[a - 1], 1e-6);
		/* jitter stays within ±10 % */
		g_assert_cmpfloat(lg_outbox_retry_delay(a, -1, 0.0), >=, want[a - 1] * 0.9 - 1e-6);
		g_assert_cmpfloat(lg_outbox_retry_delay(a, -1, 0.999), <=, want[a - 1] * 1.1 + 1e-6);
		total += lg_outbox_retry_delay(a, -1, 0.0);
	}
	/* the tenth attempt is the last */
	g_assert_cmpfloat(lg_outbox_retry_delay(LG_OUTBOX_MAX_ATTEMPTS, -1, 0.5), <, 0);
	/* even with the shortest jitter, the attempts span at least 72 hours */
	g_assert_cmpfloat(total, >=, 72 * 3600.0 * 0.9);
	g_assert_cmpfloat(total / 0.9, >=, 72 * 3600.0);
	/* Retry-After: waited out when longer than the step, capped at a day */
	g_assert_cmpfloat_with_epsilon(lg_outbox_retry_delay(1, 120, 0.5), 120, 1e-6);
	g_assert_cmpfloat_with_epsilon(lg_outbox_retry_delay(3, 120, 0.5), 1800, 1e-6);
	g_assert_cmpfloat_with_epsilon(lg_outbox_retry_delay(1, 10 * 86400, 0.5), 86400, 1e-6);
	g_assert_cmpfloat(lg_outbox_retry_delay(LG_OUTBOX_MAX_ATTEMPTS, 60, 0.5), <, 0);
}

/* a database with one user, one webhook subscription and three events */
static lg_store *
setup_store(char **dir_r)
{
	g_autoptr(GError) err = NULL;
	*dir_r = g_dir_make_tmp("lg-outbox-XXXXXX", &err);
	g_assert_no_error(err);
	g_autofree char *path = g_build_filename(*dir_r, "t.db", NULL);
	lg_store *st = lg_store_open(path, LG_STORE_MIGRATE, 5000, &err);
	g_assert_no_error(err);
	g_assert_true(lg_store_user_add(st, "tom@example.com", "tech", NULL, &err));
	lg_notify_sub s = { .user_email = "tom@example.com", .event = "lead.created", .scope = "any",
	                    .channel = "webhook", .url = "http://127.0.0.1:9/x" };
	g_autofree char *secret = NULL;
	g_assert_true(lg_store_notify_add(st, &s, &secret, &err));
	g_assert_no_error(err);
	g_assert_true(g_str_has_prefix(secret, "whsec_"));
	g_autofree char *sig = lg_webhook_sign(secret, "id", 1, "", 0, &err);
	g_assert_nonnull(sig);
	for (int i = 0; i < 3; i++) {
		g_assert_true(lg_store_begin(st, &err));
		g_assert_true(lg_store_event_add(st, "lead.created", 0, 0, "someone@else.example", &err));
		g_assert_true(lg_store_commit(st, &err));
	}
	/* the actor is never notified */
	g_assert_true(lg_store_begin(st, &err));
	g_assert_true(lg_store_event_add(st, "lead.created", 0, 0, "tom@example.com", &err));
	g_assert_true(lg_store_commit(st, &err));
	g_assert_no_error(err);
	return st;
}

static void
drop_store(lg_store *st, char *dir)
{
	g_autofree char *path = g_build_filename(dir, "t.db", NULL);
	g_autofree char *wal = g_strconcat(path, "-wal", NULL);
	g_autofree char *shm = g_strconcat(path, "-shm", NULL);
	lg_store_close(st);
	g_unlink(path);
	g_unlink(wal);
	g_unlink(shm);
	g_rmdir(dir);
	g_free(dir);
}

static void
test_claim(void)
{
	g_autoptr(GError) err = NULL;
	char *dir;
	lg_store *st = setup_store(&dir);
	g_autofree char *path = g_build_filename(dir, "t.db", NULL);
	lg_store *st2 = lg_store_open(path, 0, 5000, &err);
	g_assert_no_error(err);

	/* worker A takes two of the three rows, worker B the third, then none */
	g_autoptr(GPtrArray) a = NULL, b = NULL, c = NULL;
	g_assert_true(lg_store_outbox_claim(st, "A", 60, 2, &a, &err));
	g_assert_cmpuint(a->len, ==, 2);
	g_assert_true(lg_store_outbox_claim(st2, "B", 60, 10, &b, &err));
	g_assert_cmpuint(b->len, ==, 1);
	g_assert_true(lg_store_outbox_claim(st2, "B", 60, 10, &c, &err));
	g_assert_cmpuint(c->len, ==, 0);
	lg_outbox_item *a0 = a->pdata[0], *b0 = b->pdata[0];
	g_assert_cmpint(a0->id, !=, b0->id);
	g_assert_cmpint(a0->attempts, ==, 1);
	g_assert_cmpstr(a0->url, ==, "http://127.0.0.1:9/x");
	g_assert_true(g_str_has_prefix(a0->webhook_id, "msg_"));
	g_assert_nonnull(strstr(a0->payload, "\"type\":\"lead.created\""));

	/* B cannot finish A's row */
	gboolean done = TRUE;
	g_assert_true(lg_store_outbox_finish(st2, a0->id, "B", LG_OUTBOX_SENT, 0, NULL, &done, &err));
	g_assert_false(done);
	g_assert_true(lg_store_outbox_finish(st, a0->id, "A", LG_OUTBOX_SENT, 0, NULL, &done, &err));
	g_assert_true(done);
	/* a retry is not due before its time */
	g_assert_true(lg_store_outbox_finish(st2, b0->id, "B", LG_OUTBOX_RETRY, 300, "HTTP 503", &done, &err));
	g_assert_true(done);
	double next = -1;
	g_assert_true(lg_store_outbox_next_due(st, &next, &err));
	/* the soonest is A's second row, claimed for 60 s; B's retry is in 300 s */
	g_assert_cmpfloat(next, >, 30);
	g_assert_cmpfloat(next, <=, 60);

	/* a dead worker's claim expires: A's second row, lease 0 */
	lg_outbox_item *a1 = a->pdata[1];
	g_clear_pointer(&c, g_ptr_array_unref);
	g_assert_true(lg_store_outbox_claim(st, "A2", 0, 10, &c, &err));
	/* the lease of 60 s has not run out: nothing */
	g_assert_cmpuint(c->len, ==, 0);
	g_clear_pointer(&c, g_ptr_array_unref);
	g_autoptr(lg_table) t = NULL;
	/* make A's claim expired, as a dead worker's would be */
	g_assert_true(lg_store_outbox_finish(st, a1->id, "A", LG_OUTBOX_RELEASE, 0, NULL, &done, &err));
	g_assert_true(done);
	g_assert_true(lg_store_outbox_claim(st2, "C", 0, 10, &c, &err));
	g_assert_cmpuint(c->len, ==, 1);
	g_assert_cmpint(((lg_outbox_item *) c->pdata[0])->attempts, ==, 1);   /* the release did not count */
	g_clear_pointer(&c, g_ptr_array_unref);
	/* lease 0: expired at once; another worker may take it */
	g_assert_true(lg_store_outbox_claim(st, "D", 60, 10, &c, &err));
	g_assert_cmpuint(c->len, ==, 1);
	g_assert_cmpint(((lg_outbox_item *) c->pdata[0])->attempts, ==, 2);
	/* C's late finish changes nothing */
	g_assert_true(lg_store_outbox_finish(st2, a1->id, "C", LG_OUTBOX_SENT, 0, NULL, &done, &err));
	g_assert_false(done);
	g_assert_true(lg_store_outbox_finish(st, a1->id, "D", LG_OUTBOX_FAILED, 0, "given up", &done, &err));
	g_assert_true(done);

	/* list --failed, retry */
	g_assert_true(lg_store_outbox_list(st, TRUE, &t, &err));
	g_assert_cmpuint(t->rows->len, ==, 1);
	g_assert_true(lg_store_outbox_retry(st, a1->id, &err));
	g_assert_false(lg_store_outbox_retry(st, a0->id, &err));   /* sent: refused */
	g_assert_error(err, LG_STORE_ERROR, LG_STORE_ERROR_INVALID);
	g_clear_error(&err);

	/* 410: the endpoint is disabled, its queued rows fail, no new rows */
	g_assert_true(lg_store_endpoint_disable(st, a0->endpoint_id, "HTTP 410 Gone", &err));
	g_clear_pointer(&t, lg_table_free);
	g_assert_true(lg_store_outbox_list(st, TRUE, &t, &err));
	g_assert_cmpuint(t->rows->len, ==, 2);   /* a1 (queued again) and b0 (waiting) */
	g_assert_true(lg_store_begin(st, &err));
	g_assert_true(lg_store_event_add(st, "lead.created", 0, 0, "x@y.example", &err));
	g_assert_true(lg_store_commit(st, &err));
	g_clear_pointer(&t, lg_table_free);
	g_assert_true(lg_store_outbox_list(st, FALSE, &t, &err));
	g_assert_cmpuint(t->rows->len, ==, 3);
	g_assert_no_error(err);
	lg_store_close(st2);
	drop_store(st, dir);
}

static void
test_mail(void)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(lg_config) cfg = lg_config_load(NULL, &err);
	g_assert_no_error(err);
	lg_outbox_item it = {
		.event = "ticket.customer_replied", .channel = "email", .recipient = "tom@example.com",
		.webhook_id = "msg_0123", .subject = "Drucker brennt – schon wieder", .sender_email = "anna@acme.example",
		.sender_name = "Anna", .mailbox = "support@example.com", .lead_id = 7, .ticket_number = 1042,
	};
	const char *key = "0123456789abcdef0123456789abcdef";
	gsize len;
	g_autofree char *mail = lg_outbox_build_mail(&it, cfg, key, &len);
	g_assert_nonnull(strstr(mail, "\r\nAuto-Submitted: auto-generated\r\n"));
	g_autofree char *loop = g_strdup_printf("\r\n%s: %s\r\n", cfg->loop_header, cfg->instance_id);
	g_assert_nonnull(strstr(mail, loop));
	/* parse it as the chain would: the Message-ID and the body carry the keyed reference */
	g_autoptr(lg_raw) raw = lg_raw_new_from_data(mail, len);
	lg_parse_options po = { .body_max = 1 << 20, .loop_header = cfg->loop_header };
	lg_message *msg = lg_message_parse(raw, &po, &err);
	g_assert_no_error(err);
	char kind;
	gint64 id;
	g_assert_true(lg_ref_verify(key, msg->message_id, &kind, &id));
	g_assert_cmpint(kind, ==, 'T');
	g_assert_cmpint(id, ==, 1042);
	g_assert_true(lg_ref_find(key, msg->body_text, &kind, &id));
	g_assert_cmpint(id, ==, 1042);
	g_assert_nonnull(strstr(msg->subject, "[Ticket #1042]"));
	g_assert_nonnull(strstr(msg->subject, "Drucker brennt – schon wieder"));
	g_assert_true(msg->auto_flags & LG_AUTO_LOOP);
	g_assert_true(msg->auto_flags & LG_AUTO_SUBMITTED);
	/* another key does not verify */
	g_assert_false(lg_ref_verify("another key", msg->message_id, &kind, &id));
	lg_message_free(msg);

	/* a stranger's subject and name cannot add a header */
	it.subject = "hi\r\nBcc: victim@evil.example";
	it.sender_name = "Eve\r\nX-Injected: 1";
	g_autofree char *evil = lg_outbox_build_mail(&it, cfg, key, &len);
	g_assert_null(strstr(evil, "\r\nBcc:"));
	g_assert_null(strstr(evil, "\nBcc:"));
	g_autofree char *head = g_strndup(evil, strstr(evil, "\r\n\r\n") - evil);
	g_assert_null(strstr(head, "X-Injected"));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	lg_outbox_global_init();
	g_test_add_func("/webhook/sign-test-vector", test_sign_vector);
	g_test_add_func("/webhook/bad-secrets", test_sign_bad_secrets);
	g_test_add_func("/webhook/secret-file", test_secret_file);
	g_test_add_func("/outbox/schedule", test_schedule);
	g_test_add_func("/outbox/claim", test_claim);
	g_test_add_func("/outbox/mail", test_mail);
	return g_test_run();
}
