/*
 * NAME
 *   test-sync.c - unit tests of the sync filter's pure parts (src/sync.c):
 *   keyword phrases, exclusion items, attachment types, the body cut.
 */
#include "config.h"
#include <string.h>
#include "sync.h"

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

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/sync/phrase", test_phrase);
	g_test_add_func("/sync/addr", test_addr);
	g_test_add_func("/sync/types", test_types);
	g_test_add_func("/sync/cut", test_cut);
	return g_test_run();
}
