/*
 * NAME
 *   test-sync.c - unit tests of the sync filter's pure parts (src/sync.c):
 *   keyword phrases, exclusion items, attachment types, the body cut, the
 *   ranges of `leadgate log`; and the store's sync operations for the
 *   command line on a scratch database.
 */
#include "config.h"
#include <string.h>
#include <glib/gstdio.h>
#include "lg.h"
#include "sync.h"
#include "store_sync.h"

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
	return g_test_run();
}
