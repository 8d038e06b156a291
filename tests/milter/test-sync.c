/*
 * NAME
 *   test-sync.c - unit tests of the sync filter's pure parts (src/sync.c):
 *   keyword phrases, exclusion items, attachment types, the body cut, the
 *   ranges of `leadgate log`; the store's sync operations for the
 *   command line on a scratch database; and the milter's assembly of a
 *   message (src/milter_msg.c) with its spool files.
 */
#include "config.h"
#include <string.h>
#include <glib/gstdio.h>
#include "lg.h"
#include "sync.h"
#include "store_sync.h"
#include "milter_msg.h"
#include "privs.h"
#include <sys/stat.h>

static void
test_phrase(void)
{
	static const struct { const char *text, *kw; gboolean want; } cases[] = {
		/* SPEC §5: a phrase matches only as written, whatever the case */
		{ "festive offer 2022", "Festive Offer 2022", TRUE },
		{ "Re: our FESTIVE OFFER 2022 for you", "Festive Offer 2022", TRUE },
		{ "Festive  Offer 2022", "Festive Offer 2022", FALSE },
		{ "Offer Festive 2022", "Festive Offer 2022", FALSE },
		{ "Festive\tOffer 2022", "Festive Offer 2022", FALSE },
		{ "Festive Offer 20223", "Festive Offer 2022", FALSE },
		{ "the quote", "quote", TRUE },
		{ "quote.", "Quote", TRUE },
		{ "unquoted", "quote", FALSE },
		{ "quotes", "quote", FALSE },
		{ "ÄPFEL im Angebot", "äpfel", TRUE },
		{ "", "quote", FALSE },
		{ "quote", "", FALSE },
		{ "price: $100", "$100", TRUE },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		if (lg_sync_phrase_match(cases[i].text, cases[i].kw) != cases[i].want)
			g_error("phrase \"%s\" in \"%s\": want %d", cases[i].kw, cases[i].text, cases[i].want);
	}
}

static void
test_addr(void)
{
	g_assert_true(lg_sync_addr_matches("a@rival.example", "rival.example"));
	g_assert_true(lg_sync_addr_matches("a@mx.rival.example", "rival.example"));
	g_assert_true(lg_sync_addr_matches("a@rival.example", "@Rival.Example"));
	g_assert_false(lg_sync_addr_matches("a@notrival.example", "rival.example"));
	g_assert_true(lg_sync_addr_matches("boss@x.example", "Boss@X.example"));
	g_assert_false(lg_sync_addr_matches("boss2@x.example", "boss@x.example"));
	g_assert_false(lg_sync_addr_matches("a@x.example", ""));
}

static void
test_types(void)
{
	char *all[] = { "*", NULL };
	char *pdf[] = { "application/pdf", NULL };
	char *img[] = { "image/*", NULL };
	char *ext[] = { ".PDF", NULL };
	char *none[] = { NULL };
	g_assert_true(lg_sync_type_allowed("application/zip", "a.zip", all));
	g_assert_true(lg_sync_type_allowed("application/pdf", "a.pdf", pdf));
	g_assert_false(lg_sync_type_allowed("application/zip", "a.zip", pdf));
	g_assert_true(lg_sync_type_allowed("image/png", "a.png", img));
	g_assert_false(lg_sync_type_allowed("application/png", "a.png", img));
	g_assert_true(lg_sync_type_allowed("application/octet-stream", "offer.pdf", ext));
	g_assert_false(lg_sync_type_allowed("application/pdf", NULL, ext));
	g_assert_false(lg_sync_type_allowed("application/pdf", "a.pdf", none));
}

static void
test_cut(void)
{
	g_autofree char *same = lg_sync_cut_body("short", 100, FALSE);
	g_assert_cmpstr(same, ==, "short");
	g_autofree char *cut = lg_sync_cut_body("abcdef", 3, FALSE);
	g_assert_cmpstr(cut, ==, "abc\n[... cut by leadgate at 3 bytes]");
	/* never half a character: "é" is two bytes */
	g_autofree char *utf = lg_sync_cut_body("aé", 2, FALSE);
	g_assert_cmpstr(utf, ==, "a\n[... cut by leadgate at 2 bytes]");
	g_autofree char *pre = lg_sync_cut_body("abc", 3, TRUE);
	g_assert_cmpstr(pre, ==, "abc\n[... cut by leadgate at 3 bytes]");
}

static void
test_range(void)
{
	g_autoptr(GDateTime) now = g_date_time_new_utc(2026, 12, 1, 10, 30, 0);
	static const struct { const char *since, *until, *from, *to; } ok[] = {
		{ "today", NULL, "2026-12-01T00:00:00.000Z", "2026-12-01T10:30:01.000Z" },
		{ "yesterday", NULL, "2026-11-30T00:00:00.000Z", "2026-12-01T00:00:00.000Z" },
		{ "7d", NULL, "2026-11-24T10:30:00.000Z", "2026-12-01T10:30:01.000Z" },
		{ NULL, NULL, "2026-11-24T10:30:00.000Z", "2026-12-01T10:30:01.000Z" },
		{ "30d", NULL, "2026-11-01T10:30:00.000Z", "2026-12-01T10:30:01.000Z" },
		{ "2026-10-02", "2026-10-03", "2026-10-02T00:00:00.000Z", "2026-10-04T00:00:00.000Z" },
	};
	for (guint i = 0; i < G_N_ELEMENTS(ok); i++) {
		g_autofree char *from = NULL, *to = NULL;
		g_autoptr(GError) err = NULL;
		g_assert_true(lg_sync_log_range(ok[i].since, ok[i].until, now, &from, &to, &err));
		g_assert_no_error(err);
		g_assert_cmpstr(from, ==, ok[i].from);
		g_assert_cmpstr(to, ==, ok[i].to);
	}
	static const struct { const char *since, *until, *says; } bad[] = {
		{ "2026-10-01", NULL, "at most 60 days" },   /* 61 days back */
		{ "90d", NULL, "use today, yesterday" },
		{ "2026-02-30", NULL, "use today" },
		{ "2026-11-20", "2026-11-10", "before" },
		{ "today", "tomorrow", "YYYY-MM-DD" },
	};
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree char *from = NULL, *to = NULL;
		g_autoptr(GError) err = NULL;
		g_assert_false(lg_sync_log_range(bad[i].since, bad[i].until, now, &from, &to, &err));
		g_assert_error(err, LG_USAGE_ERROR, LG_USAGE_ERROR_ARGS);
		if (strstr(err->message, bad[i].says) == NULL)
			g_error("--since %s: \"%s\" does not say \"%s\"", bad[i].since, err->message, bad[i].says);
	}
}

static void
test_store_cli(void)
{
	g_autofree char *dir = g_dir_make_tmp("lgsync-XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "lg.db", NULL);
	g_autoptr(GError) err = NULL;
	lg_store *st = lg_store_open(path, LG_STORE_MIGRATE, 1000, &err);
	g_assert_no_error(err);
	g_assert_true(lg_store_user_add(st, "Rep@Example.com", "sales", NULL, &err));

	/* sync on and off; an unknown user is named */
	g_assert_true(lg_store_user_sync_set(st, "rep@example.com", TRUE, &err));
	lg_sync_user u;
	g_assert_true(lg_store_sync_user_find(st, "rep@example.com", &u, &err));
	g_assert_true(u.sync_enabled);
	lg_sync_user_clear(&u);
	g_assert_false(lg_store_user_sync_set(st, "nobody@example.com", TRUE, &err));
	g_assert_error(err, LG_STORE_ERROR, LG_STORE_ERROR_NOTFOUND);
	g_assert_nonnull(strstr(err->message, "nobody@example.com"));
	g_clear_error(&err);

	/* own keywords: kept as written, added once, removed once */
	g_assert_true(lg_store_user_keyword_edit(st, "rep@example.com", TRUE, " Festive Offer 2022 ", &err));
	g_assert_false(lg_store_user_keyword_edit(st, "rep@example.com", TRUE, "Festive Offer 2022", &err));
	g_assert_error(err, LG_STORE_ERROR, LG_STORE_ERROR_EXISTS);
	g_clear_error(&err);
	g_autoptr(GPtrArray) kw = NULL;
	g_assert_true(lg_store_user_keywords(st, 1, &kw, &err));
	g_assert_cmpuint(kw->len, ==, 1);
	g_assert_cmpstr(kw->pdata[0], ==, "Festive Offer 2022");
	g_assert_true(lg_store_user_keyword_edit(st, "rep@example.com", FALSE, "Festive Offer 2022", &err));
	g_assert_false(lg_store_user_keyword_edit(st, "rep@example.com", FALSE, "Festive Offer 2022", &err));
	g_assert_error(err, LG_STORE_ERROR, LG_STORE_ERROR_NOTFOUND);
	g_clear_error(&err);
	g_assert_false(lg_store_user_keyword_edit(st, "rep@example.com", TRUE, "  ", &err));
	g_assert_error(err, LG_STORE_ERROR, LG_STORE_ERROR_INVALID);
	g_clear_error(&err);

	/* own exclusions: an address canonical, a domain in lower case */
	g_assert_true(lg_store_user_exclusion_edit(st, "rep@example.com", TRUE, "Spy@Rival.Example", &err));
	g_assert_true(lg_store_user_exclusion_edit(st, "rep@example.com", TRUE, "@Competitor.Example", &err));
	g_autoptr(GPtrArray) ex = NULL;
	g_assert_true(lg_store_user_exclusions(st, 1, &ex, &err));
	g_assert_cmpuint(ex->len, ==, 2);
	g_assert_cmpstr(ex->pdata[0], ==, "competitor.example");
	g_assert_cmpstr(ex->pdata[1], ==, "spy@rival.example");
	g_assert_false(lg_store_user_exclusion_edit(st, "rep@example.com", TRUE, "not an item", &err));
	g_assert_error(err, LG_STORE_ERROR, LG_STORE_ERROR_INVALID);
	g_clear_error(&err);

	/* the log: by range, by user, searched (LIKE characters are literal) */
	lg_sync_log_row r = { .user_id = 1, .direction = "out", .ident = "a@x", .message_id = "a@x",
	                      .subject = "100% offer", .outcome = "skipped", .reason = "no_keyword", .source = "cli" };
	gboolean added = FALSE;
	g_assert_true(lg_store_sync_log_add(st, &r, &added, &err));
	g_assert_true(added);
	g_assert_true(lg_store_sync_log_add(st, &r, &added, &err));
	g_assert_false(added);   /* the same outcome again is not a new row */
	r.ident = r.message_id = "b@x";
	r.subject = "hello";
	g_assert_true(lg_store_sync_log_add(st, &r, &added, &err));
	g_autoptr(lg_table) t = NULL;
	g_assert_true(lg_store_sync_log_list(st, "2000-01-01T00:00:00.000Z", "2999-01-01T00:00:00.000Z",
	                                     "REP@example.com", NULL, &t, &err));
	g_assert_cmpuint(t->rows->len, ==, 2);
	g_clear_pointer(&t, lg_table_free);
	g_assert_true(lg_store_sync_log_list(st, "2000-01-01T00:00:00.000Z", "2999-01-01T00:00:00.000Z",
	                                     NULL, "100%", &t, &err));
	g_assert_cmpuint(t->rows->len, ==, 1);
	g_clear_pointer(&t, lg_table_free);
	g_assert_true(lg_store_sync_log_list(st, "2000-01-01T00:00:00.000Z", "2999-01-01T00:00:00.000Z",
	                                     NULL, "1_0", &t, &err));
	g_assert_cmpuint(t->rows->len, ==, 0);
	g_clear_pointer(&t, lg_table_free);
	g_assert_true(lg_store_sync_log_list(st, "2999-01-01T00:00:00.000Z", "2999-01-02T00:00:00.000Z",
	                                     NULL, NULL, &t, &err));
	g_assert_cmpuint(t->rows->len, ==, 0);
	g_clear_pointer(&t, lg_table_free);

	/* purge: a dry run changes nothing; then bodies go, the log stays */
	lg_purge_counts n;
	g_assert_true(lg_store_purge(st, "2999-01-01T00:00:00.000Z", TRUE, &n, &err));
	g_assert_true(lg_store_purge(st, "2999-01-01T00:00:00.000Z", FALSE, &n, &err));
	g_assert_no_error(err);
	g_clear_pointer(&t, lg_table_free);
	g_assert_true(lg_store_sync_log_list(st, "2000-01-01T00:00:00.000Z", "2999-01-01T00:00:00.000Z",
	                                     NULL, NULL, &t, &err));
	g_assert_cmpuint(t->rows->len, ==, 2);

	lg_store_close(st);
	g_autofree char *wal = g_strconcat(path, "-wal", NULL);
	g_autofree char *shm = g_strconcat(path, "-shm", NULL);
	g_unlink(wal);
	g_unlink(shm);
	g_unlink(path);
	g_rmdir(dir);
}


static guint
files_in(const char *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	guint n = 0;
	while (d != NULL && g_dir_read_name(d) != NULL)
		n++;
	return n;
}

/* The milter's assembly: headers as libmilter gives them (with or without
 * the leading blank), the body past spool_mem_limit in a 0600 file, an
 * abort that leaves no file, inbound mail for no user not collected, the
 * recipients bounded, the event spooled and read back as it was. */
static void
test_milter_assembly(void)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *dir = g_dir_make_tmp("lg-milter-XXXXXX", NULL);
	g_autofree char *conf = g_build_filename(dir, "m.conf", NULL);
	g_autofree char *spool_dir = g_build_filename(dir, "spool", NULL);
	g_assert_true(g_file_set_contents(conf, "[milter]\nspool_mem_limit = 4K\n", -1, NULL));
	g_autoptr(lg_config) cfg = lg_config_load(conf, &err);
	g_assert_no_error(err);
	g_assert_true(lg_spool_dir_ready(spool_dir, &err));
	lg_milter_spool spool = { .dir = spool_dir };
	g_autoptr(lg_milter_conn) c = lg_milter_conn_new(&spool);
	struct stat sb;

	lg_milter_conn_connect(c, "smtpd", "client.example.org", "192.0.2.7");
	lg_milter_conn_helo(c, "client.example.org");
	/* a small one: in memory */
	lg_milter_conn_mail(c, cfg, "<Anna@Customer.Example>", NULL, "smtpd");
	lg_milter_conn_rcpt(c, "<Rep@Example.COM>");
	lg_milter_conn_rcpt(c, "not an address");
	g_assert_false(lg_milter_conn_in_data(c));
	lg_milter_conn_header(c, "Subject", " hello", TRUE);
	g_assert_true(lg_milter_conn_in_data(c));
	lg_milter_conn_header(c, "X-Two", "two", FALSE);
	lg_milter_conn_eoh(c);
	lg_milter_conn_body(c, "hi\r\n", 4);
	g_autoptr(lg_milter_event) e1 = lg_milter_conn_eom(c, "Q1", &err);
	g_assert_no_error(err);
	g_assert_nonnull(e1);
	g_assert_null(e1->base);
	g_assert_cmpmem(e1->data->data, e1->data->len, "Subject: hello\r\nX-Two: two\r\n\r\nhi\r\n", 34);
	g_assert_false(e1->out);
	g_assert_cmpstr(e1->sender, ==, "anna@customer.example");
	g_assert_cmpuint(e1->rcpts->len, ==, 1);
	g_assert_cmpstr(e1->rcpts->pdata[0], ==, "rep@example.com");
	g_assert_cmpstr(e1->queue_id, ==, "Q1");
	g_assert_cmpstr(e1->daemon, ==, "smtpd");
	g_assert_cmpstr(e1->client_addr, ==, "192.0.2.7");
	g_assert_cmpstr(e1->helo, ==, "client.example.org");
	g_assert_cmpuint(files_in(spool_dir), ==, 0);

	/* spooled to a file, read back the same */
	g_assert_true(lg_milter_event_spool(&spool, e1, &err));
	g_assert_no_error(err);
	g_assert_nonnull(e1->base);
	g_assert_cmpuint(files_in(spool_dir), ==, 2);
	g_autoptr(lg_milter_event) back = lg_milter_event_load(e1->base, &err);
	g_assert_no_error(err);
	g_assert_cmpstr(back->sender, ==, "anna@customer.example");
	g_assert_cmpstr(back->queue_id, ==, "Q1");
	g_assert_cmpuint(back->rcpts->len, ==, 1);
	g_autofree char *evt = g_strconcat(e1->base, ".evt", NULL);
	g_autofree char *msgf = g_strconcat(e1->base, ".msg", NULL);
	g_assert_cmpint(g_lstat(evt, &sb), ==, 0);
	g_assert_cmpint(sb.st_mode & 07777, ==, 0600);
	g_assert_cmpint(g_lstat(msgf, &sb), ==, 0);
	g_assert_cmpint(sb.st_mode & 07777, ==, 0600);
	g_assert_cmpint(sb.st_size, ==, 34);
	lg_milter_event_done(&spool, back, FALSE, NULL);
	g_assert_cmpuint(files_in(spool_dir), ==, 0);

	/* a big one, outbound by its login: past 4K in its file, mode 0600 */
	lg_milter_conn_mail(c, cfg, "rep@example.com", "rep@example.com", NULL);
	lg_milter_conn_rcpt(c, "customer@example.org");
	lg_milter_conn_header(c, "Subject", " big", TRUE);
	lg_milter_conn_eoh(c);
	char chunk[1000];
	memset(chunk, 'x', sizeof chunk);
	for (guint i = 0; i < 10; i++)
		lg_milter_conn_body(c, chunk, sizeof chunk);
	g_assert_cmpuint(files_in(spool_dir), ==, 1);
	/* abandoned: its file goes */
	lg_milter_conn_abort(c);
	g_assert_cmpuint(files_in(spool_dir), ==, 0);
	lg_milter_conn_mail(c, cfg, "rep@example.com", "rep@example.com", NULL);
	lg_milter_conn_rcpt(c, "customer@example.org");
	lg_milter_conn_header(c, "Subject", " big", TRUE);
	lg_milter_conn_eoh(c);
	for (guint i = 0; i < 10; i++)
		lg_milter_conn_body(c, chunk, sizeof chunk);
	g_autoptr(lg_milter_event) e2 = lg_milter_conn_eom(c, NULL, &err);
	g_assert_no_error(err);
	g_assert_nonnull(e2);
	g_assert_true(e2->out);
	g_assert_null(e2->data);
	g_assert_null(e2->queue_id);
	g_autofree char *big = g_strconcat(e2->base, ".msg", NULL);
	g_assert_cmpint(g_lstat(big, &sb), ==, 0);
	g_assert_true(S_ISREG(sb.st_mode));
	g_assert_cmpint(sb.st_mode & 07777, ==, 0600);
	g_assert_cmpint(sb.st_size, ==, 14 + 2 + 10000);
	/* a message that can never be recorded keeps its file as NAME.bad */
	g_autofree char *kept = NULL;
	lg_milter_event_done(&spool, e2, TRUE, &kept);
	g_assert_true(g_str_has_suffix(kept, ".bad"));
	g_assert_cmpuint(files_in(spool_dir), ==, 1);
	g_unlink(kept);

	/* inbound for no user (the users known): not collected at all */
	g_autoptr(GHashTable) users = g_hash_table_new(g_str_hash, g_str_equal);
	g_hash_table_add(users, (gpointer) "rep@example.com");
	lg_milter_conn_mail(c, cfg, "", NULL, NULL);
	lg_milter_conn_rcpt(c, "stranger@example.org");
	lg_milter_conn_data_begins(c, users);
	lg_milter_conn_header(c, "Subject", " hi", TRUE);
	lg_milter_conn_eoh(c);
	for (guint i = 0; i < 10; i++)
		lg_milter_conn_body(c, chunk, sizeof chunk);
	g_assert_cmpuint(files_in(spool_dir), ==, 0);
	g_assert_null(lg_milter_conn_eom(c, "Q3", &err));
	g_assert_no_error(err);
	/* ... and for a user, it is */
	lg_milter_conn_mail(c, cfg, "", NULL, NULL);
	lg_milter_conn_rcpt(c, "stranger@example.org");
	lg_milter_conn_rcpt(c, "rep@example.com");
	lg_milter_conn_data_begins(c, users);
	lg_milter_conn_header(c, "Subject", " hi", TRUE);
	g_autoptr(lg_milter_event) e4 = lg_milter_conn_eom(c, "Q4", &err);
	g_assert_nonnull(e4);
	g_assert_cmpstr(e4->sender, ==, "");
	/* recipients past LG_MILTER_RCPT_MAX are not kept */
	lg_milter_conn_mail(c, cfg, "rep@example.com", "rep@example.com", NULL);
	for (guint i = 0; i < LG_MILTER_RCPT_MAX + 5; i++) {
		g_autofree char *r = g_strdup_printf("<r%u@example.org>", i);
		lg_milter_conn_rcpt(c, r);
	}
	lg_milter_conn_header(c, "Subject", " many", TRUE);
	g_autoptr(lg_milter_event) e5 = lg_milter_conn_eom(c, "Q5", &err);
	g_assert_nonnull(e5);
	g_assert_cmpuint(e5->rcpts->len, ==, LG_MILTER_RCPT_MAX);
	g_assert_cmpstr(e5->rcpts->pdata[LG_MILTER_RCPT_MAX - 1], ==, "r9999@example.org");
	/* the connection freed with a message under way: no file left */
	lg_milter_conn_mail(c, cfg, "rep@example.com", "rep@example.com", NULL);
	for (guint i = 0; i < 10; i++)
		lg_milter_conn_body(c, chunk, sizeof chunk);
	g_assert_cmpuint(files_in(spool_dir), ==, 1);
	g_clear_pointer(&c, lg_milter_conn_free);
	g_assert_cmpuint(files_in(spool_dir), ==, 0);

	g_rmdir(spool_dir);
	g_unlink(conf);
	g_assert_cmpint(g_rmdir(dir), ==, 0);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/sync/phrase", test_phrase);
	g_test_add_func("/sync/addr", test_addr);
	g_test_add_func("/sync/types", test_types);
	g_test_add_func("/sync/cut", test_cut);
	g_test_add_func("/sync/range", test_range);
	g_test_add_func("/sync/store-cli", test_store_cli);
	g_test_add_func("/milter/assembly", test_milter_assembly);
	return g_test_run();
}
