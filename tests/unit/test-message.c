/*
 * NAME
 *   test-message.c - unit tests of the message parser against hostile and
 *   badly encoded input: delivery-status blocks, NUL bytes, control
 *   characters, undeclared 8-bit headers, ISO-2022-JP with Windows
 *   extensions, encoded-word display names, attached messages' names, the
 *   choice among alternatives, charset converters kept loaded between
 *   messages, and the HTML converter (libxml2).
 *
 * NOTES
 *   Each case here failed on the parser it was written against; the
 *   comment above it says what went wrong then.
 */
#include "config.h"
#include <link.h>
#include <string.h>
#include "lg.h"
#include "message.h"
#include "raw.h"

static lg_message *
parse_len(const char *text, gsize len)
{
	g_autoptr(lg_raw) raw = lg_raw_new_from_data(text, len);
	lg_parse_options po = { .body_max = 0, .loop_header = "X-Leadgate-Loop" };
	g_autoptr(GError) err = NULL;
	lg_message *m = lg_message_parse(raw, &po, &err);
	g_assert_no_error(err);
	g_assert_nonnull(m);
	return m;
}

static lg_message *
parse(const char *text)
{
	return parse_len(text, strlen(text));
}

static gboolean
has_warning(const lg_message *m, const char *prefix)
{
	for (guint i = 0; i < m->warnings->len; i++)
		if (g_str_has_prefix(m->warnings->pdata[i], prefix))
			return TRUE;
	return FALSE;
}

/* A recipient block that repeats a field and folds the repeat onto the next
 * line: the hand-written block reader read a hash key it had just freed
 * (use after free, an abort under ASan). The first field of a name counts. */
static void
test_dsn_repeated_folded(void)
{
	g_autoptr(lg_message) m = parse(
		"From: MAILER-DAEMON@mx.example\nSubject: Undelivered\nMIME-Version: 1.0\n"
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n"
		"--b\nContent-Type: text/plain\n\nsorry\n"
		"--b\nContent-Type: message/delivery-status\n\n"
		"Reporting-MTA: dns; mx.example\nOriginal-Envelope-Id:\n ENV1\n\n"
		"Final-Recipient: rfc822; gone@example.org\n"
		"Action: failed\nAction: failed\n again\n"
		"Status: 5.1.1\n"
		"Diagnostic-Code: smtp; 550 5.1.1\n  user unknown\n"
		"Diagnostic-Code: smtp; 550 second\n  continued\n\n"
		"Final-Recipient: rfc822; late@example.org\nAction: delayed\nStatus: 4.4.1\n"
		"--b--\n");
	g_assert_nonnull(m->dsn);
	g_assert_cmpstr(m->dsn->original_envelope_id, ==, "ENV1");
	g_assert_cmpint(m->dsn->recipients->len, ==, 2);
	lg_dsn_recipient *r = m->dsn->recipients->pdata[0];
	g_assert_cmpstr(r->address, ==, "gone@example.org");
	g_assert_cmpstr(r->action, ==, "failed");
	g_assert_cmpstr(r->status, ==, "5.1.1");
	g_assert_cmpstr(r->diagnostic, ==, "550 5.1.1 user unknown");
	r = m->dsn->recipients->pdata[1];
	g_assert_cmpstr(r->address, ==, "late@example.org");
	g_assert_cmpstr(r->action, ==, "delayed");
}

/* Many unterminated encoded words: GMime's loose decoder and the warning
 * callback each went over the rest of the header once per word (time
 * quadratic in the header's size). No clock is read here (tests do not
 * assert on speed): here the parse must finish and be right; a quadratic
 * one of these 3 MB would take minutes. tests/mail/hostile.sh bounds the
 * same inputs through `leadgate ingest` with a coarse hang timeout. */
static void
test_unterminated_words(void)
{
	static const char *const words[] = { "=?utf-8?q?abc ", "=?a?q?x", "=?utf-8?b?QUJD" };
	for (guint w = 0; w < G_N_ELEMENTS(words); w++) {
		GString *s = g_string_new("From: =?utf-8?q?A?= ");
		for (guint i = 0; s->len < 1024 * 1024; i++)
			g_string_append(s, words[w]);
		g_string_append(s, "<a@x.example>\nSubject: ");
		for (guint i = 0; s->len < 3 * 1024 * 1024; i++)
			g_string_append(s, words[w]);
		g_string_append(s, "\n\nbody\n");
		g_autoptr(lg_message) m = parse_len(s->str, s->len);
		g_assert_nonnull(m->subject);
		g_assert_true(g_str_has_prefix(m->subject, words[w]));
		g_string_free(s, TRUE);
	}
}

/* Loose RFC 2047 still applies where it is cheap: words glued to text and
 * inside quoted display names. */
static void
test_loose_words(void)
{
	g_autoptr(lg_message) m = parse(
		"From: \"=?utf-8?q?J=C3=B6rg?= Berg\" <j@x.example>\n"
		"Subject: Re:=?utf-8?q?caf=C3=A9?=\n\nx\n");
	g_assert_cmpstr(m->from->name, ==, "Jörg Berg");
	g_assert_cmpstr(m->subject, ==, "Re:café");
}

/* A NUL byte ended the text there, in a body and in a header, hiding the
 * rest from body and header rules. */
static void
test_nul_bytes(void)
{
	static const char text[] = "From: a@x.example\nSubject: ab\0cd hidden\nX-Tag: one\n\nvisible\0hidden text\n";
	g_autoptr(lg_message) m = parse_len(text, sizeof text - 1);
	g_assert_cmpstr(m->subject, ==, "ab\xEF\xBF\xBD" "cd hidden");
	g_assert_cmpstr(lg_message_header(m, "X-Tag"), ==, "one");
	g_assert_cmpstr(m->body_text, ==, "visible\xEF\xBF\xBDhidden text\n");
	static const char qp[] = "From: a@x.example\nContent-Type: text/plain; charset=utf-8\n"
	                         "Content-Transfer-Encoding: quoted-printable\n\nbefore=00after\n";
	g_autoptr(lg_message) q = parse_len(qp, sizeof qp - 1);
	g_assert_cmpstr(q->body_text, ==, "before\xEF\xBF\xBD" "after\n");
}

/* C1 controls (U+0080 to U+009F) are cleaned like C0 ones. */
static void
test_c1_controls(void)
{
	g_autoptr(lg_message) m = parse("From: a@x.example\nSubject: a\xC2\x85" "b\xC2\x9F" "c\x01" "d\n\nx\n");
	g_assert_cmpstr(m->subject, ==, "a b c d");
	g_autoptr(lg_message) e = parse("From: a@x.example\nSubject: =?utf-8?q?x=C2=80y?=\n\nx\n");
	g_assert_cmpstr(e->subject, ==, "x y");
}

/* Undeclared 8-bit bytes in headers: UTF-8, else the charset the message
 * declares for its text, else windows-1252. */
static void
test_undeclared_8bit(void)
{
	/* "Привет" in KOI8-R, the body declared as KOI8-R */
	g_autoptr(lg_message) k = parse(
		"From: \xF0\xD2\xC9\xD7\xC5\xD4 <p@x.example>\nSubject: \xF0\xD2\xC9\xD7\xC5\xD4\n"
		"MIME-Version: 1.0\nContent-Type: text/plain; charset=koi8-r\n\n\xF0\xD2\xC9\xD7\xC5\xD4\n");
	g_assert_cmpstr(k->subject, ==, "Привет");
	g_assert_cmpstr(k->from->name, ==, "Привет");
	g_assert_cmpstr(k->body_text, ==, "Привет\n");
	/* nothing declared: windows-1252 */
	g_autoptr(lg_message) w = parse("From: a@x.example\nSubject: caf\xE9 \x93q\x94\n\nx\n");
	g_assert_cmpstr(w->subject, ==, "café “q”");
	/* UTF-8 first, whatever the body says */
	g_autoptr(lg_message) u = parse("From: a@x.example\nSubject: caf\xC3\xA9\n"
	                                "Content-Type: text/plain; charset=iso-8859-5\n\nx\n");
	g_assert_cmpstr(u->subject, ==, "café");
}

/* ISO-2022-JP with an NEC extension character (circled digit one, row 13)
 * failed to convert and its escape sequences were stored as text. */
static void
test_iso2022jp_nec(void)
{
	g_autoptr(lg_message) m = parse(
		"From: a@x.example\nSubject: jp\nMIME-Version: 1.0\n"
		"Content-Type: text/plain; charset=ISO-2022-JP\n\n"
		"\x1B$B-!$3$s$K$A$O\x1B(B ok\n");
	g_assert_cmpstr(m->body_text, ==, "①こんにちは ok\n");
	g_assert_null(strchr(m->body_text, 0x1B));
	/* the same in encoded words (ESC $ B - ! $ 3 ESC ( B) */
	g_autoptr(lg_message) h = parse(
		"From: =?ISO-2022-JP?B?GyRCLSEkMxsoQg==?= <a@x.example>\n"
		"Subject: =?iso-2022-jp?B?GyRCLSEkMxsoQg==?= x\n\nbody\n");
	g_assert_cmpstr(h->subject, ==, "①こ x");
	g_assert_cmpstr(h->from->name, ==, "①こ");
	/* an escape sequence of no ISO-2022-JP set: lossy, with a warning,
	 * no escape byte kept */
	g_autoptr(lg_message) b = parse(
		"From: a@x.example\nContent-Type: text/plain; charset=ISO-2022-JP\n\n"
		"a\x1B$A$3\x1B$B$s\x1B(B z\n");
	g_assert_null(strchr(b->body_text, 0x1B));
	g_assert_true(g_str_has_prefix(b->body_text, "a"));
	g_assert_true(has_warning(b, "text in charset \"ISO-2022-JP\" did not convert"));
}

/* A display name of encoded words, one ending in '=' padding: GMime drops
 * the word after it (the Subject had the workaround, names did not). */
static void
test_name_padding(void)
{
	g_autoptr(lg_message) m = parse(
		"From: =?UTF-8?B?WsM=?= =?UTF-8?B?vHJpY2g=?= Team <team@x.example>\n"
		"To: =?utf-8?b?QQ==?= =?utf-8?b?Qg==?= <ab@x.example>, c@x.example\n"
		"Reply-To: =?UTF-8?B?w6Q=?= =?UTF-8?B?w7Y=?= <r@x.example>\n\nx\n");
	g_assert_cmpstr(m->from->name, ==, "Zürich Team");
	g_assert_cmpstr(m->from->email, ==, "team@x.example");
	g_assert_cmpint(m->to->len, ==, 2);
	g_assert_cmpstr(((lg_address *) m->to->pdata[0])->name, ==, "AB");
	g_assert_cmpstr(((lg_address *) m->to->pdata[1])->email, ==, "c@x.example");
	g_assert_cmpstr(m->reply_to->name, ==, "äö");
}

/* An attached message was named after its inner Subject even when the part
 * declares a name. */
static void
test_rfc822_names(void)
{
	g_autoptr(lg_message) m = parse(
		"From: a@x.example\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=zz\n\n"
		"--zz\nContent-Type: text/plain\n\nsee attached\n"
		"--zz\nContent-Type: message/rfc822; name=\"Fwd Offer.eml\"\n\n"
		"From: b@y.example\nSubject: Inner subject\n\ninner\n"
		"--zz\nContent-Type: message/rfc822; name=\"by-type.eml\"\n"
		"Content-Disposition: attachment; filename=\"by-disposition.eml\"\n\n"
		"From: b@y.example\nSubject: Other\n\ninner\n"
		"--zz\nContent-Type: message/rfc822\n\n"
		"From: b@y.example\nSubject: Third\n\ninner\n"
		"--zz--\n");
	g_assert_cmpint(m->attachments->len, ==, 3);
	g_assert_cmpstr(((lg_attachment *) m->attachments->pdata[0])->filename, ==, "Fwd Offer.eml");
	g_assert_cmpstr(((lg_attachment *) m->attachments->pdata[1])->filename, ==, "by-disposition.eml");
	g_assert_cmpstr(((lg_attachment *) m->attachments->pdata[2])->filename, ==, "Third.eml");
}

/* An empty (or white-space) text/plain alternative won over a non-empty
 * HTML one. */
static void
test_first_nonempty_alternative(void)
{
	g_autoptr(lg_message) m = parse(
		"From: a@x.example\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=alt\n\n"
		"--alt\nContent-Type: text/plain; charset=utf-8\n\n \n\t\n"
		"--alt\nContent-Type: text/html; charset=utf-8\n\n<p>The real text</p>\n"
		"--alt--\n");
	g_assert_cmpstr(m->body_text, ==, "The real text");
	g_assert_true(m->body_from_html);
	/* a non-empty plain part still wins */
	g_autoptr(lg_message) p = parse(
		"From: a@x.example\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=alt\n\n"
		"--alt\nContent-Type: text/html\n\n<p>html</p>\n"
		"--alt\nContent-Type: text/plain\n\nplain\n"
		"--alt--\n");
	g_assert_cmpstr(p->body_text, ==, "plain");
	g_assert_false(p->body_from_html);
	/* all blank: the plain one, empty */
	g_autoptr(lg_message) e = parse(
		"From: a@x.example\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=alt\n\n"
		"--alt\nContent-Type: text/plain\n\n\n"
		"--alt\nContent-Type: text/html\n\n<p> </p>\n"
		"--alt--\n");
	g_assert_false(e->body_from_html);
}

/* `From: "Name" <>` and a missing From leave no From address, while
 * Reply-To and Sender are still read (the chain falls back to them). */
static void
test_from_empty(void)
{
	g_autoptr(lg_message) m = parse(
		"From: \"Shop Name\" <>\nReply-To: Sales <sales@x.example>\nSender: relay@y.example\n\nx\n");
	g_assert_null(m->from);
	g_assert_cmpstr(m->reply_to->email, ==, "sales@x.example");
	g_assert_cmpstr(m->sender_hdr->email, ==, "relay@y.example");
	g_assert_true(has_warning(m, "no usable From address"));
	g_autoptr(lg_message) n = parse("Reply-To: r@x.example\nSender: s@y.example\nSubject: none\n\nx\n");
	g_assert_null(n->from);
	g_assert_cmpstr(n->reply_to->email, ==, "r@x.example");
	g_assert_cmpstr(n->sender_hdr->email, ==, "s@y.example");
}

/* The hand-written HTML scanner knew 50 named references and dropped the
 * text after a '<' that starts no tag; libxml2's parser does neither. */
static void
test_html_libxml2(void)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "&Aring;ngstr&ouml;m &rarr; a&ensp;b &hearts;", "Ångström → a\u2002b ♥" },
		{ "x < 3 and y > 2, a<b", "x < 3 and y > 2, a" },
		{ "<p>if x &lt; 3</p><p>then</p>", "if x < 3\n\nthen" },
		{ "<a href=\"https://x.example/\">the link text</a> after", "the link text after" },
		{ "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b\nc" },
		{ "<pre>  two\n  lines</pre>", "  two\n  lines" },
		{ "<ol><li>one</li><li>two</li></ol>", "- one\n- two" },
		{ "<h1>Title</h1>text<br><br><br>more", "Title\n\ntext\n\nmore" },
		{ "<meta charset=iso-8859-1><p>caf\xC3\xA9</p>", "café" },
		{ "<div><script>var a = '<p>no</p>';</script>yes</div>", "yes" },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *got = lg_html_to_text(cases[i].in, -1);
		g_assert_cmpstr(got, ==, cases[i].out);
	}
}

/* Hostile HTML: nesting past libxml2's limit keeps its text (through the
 * plain scan), and unmatched end tags at depth cost linear time. */
static void
test_html_hostile(void)
{
	GString *deep = g_string_new(NULL);
	for (int i = 0; i < 100000; i++)
		g_string_append(deep, "<div>");
	g_string_append(deep, "deep &amp; hidden");
	for (int i = 0; i < 100000; i++)
		g_string_append(deep, "</i>");
	gint64 t0 = g_get_monotonic_time();
	g_autofree char *got = lg_html_to_text(deep->str, (gssize) deep->len);
	g_assert_cmpstr(got, ==, "deep & hidden");
	g_string_free(deep, TRUE);
	GString *b = g_string_new(NULL);
	for (int i = 0; i < 200; i++)
		g_string_append(b, "<b>");
	g_string_append(b, "bold");
	for (int i = 0; i < 200000; i++)
		g_string_append(b, "</i>");
	g_autofree char *got2 = lg_html_to_text(b->str, (gssize) b->len);
	g_assert_cmpstr(got2, ==, "bold");
	g_string_free(b, TRUE);
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 20 * G_USEC_PER_SEC);
}

/* dl_iterate_phdr() callback: is the shared object named in @data loaded? */
static int
find_object(struct dl_phdr_info *info, size_t size, void *data)
{
	(void) size;
	return info->dlpi_name != NULL && g_str_has_suffix(info->dlpi_name, data) ? 1 : 0;
}

/* glibc unloads a charset's converter soon after its last descriptor is
 * closed (once two other converters were released), and the parser opened
 * one per conversion: with mail in several charsets, each message loaded
 * and unloaded its converter (docs/performance.md). A charset met once must
 * stay loaded, a rare one too (ISO-8859-7 is not among those kept from the
 * start), and the text must still convert. */
static void
test_charsets_stay_loaded(void)
{
	static const char *const charsets[] = { "iso-8859-7", "koi8-r", "iso-8859-5", "windows-1253", "iso-8859-9" };
	for (guint round = 0; round < 3; round++)
		for (guint i = 0; i < G_N_ELEMENTS(charsets); i++) {
			g_autofree char *text = g_strdup_printf(
			        "From: a@example.org\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
			        "Content-Type: text/plain; charset=%s\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
			        "caf\xE9 \xC0\xC1\r\n", charsets[i]);
			g_autoptr(lg_message) m = parse(text);
			g_assert_true(g_utf8_validate(m->body_text, -1, NULL));
			g_assert_null(strstr(m->body_text, "\xEF\xBF\xBD"));
		}
	if (dl_iterate_phdr(find_object, (void *) "/libc.so.6") == 0) {
		g_test_skip("the C library is not a shared object here");
		return;
	}
	/* a converter this test opens itself shows whether this C library
	 * loads them from files at all (glibc's gconv modules) */
	GIConv cd = g_iconv_open("UTF-8", "ISO-8859-4");
	gboolean loadable = cd != (GIConv) -1 && dl_iterate_phdr(find_object, (void *) "/gconv/ISO8859-4.so") == 1;
	if (cd != (GIConv) -1)
		g_iconv_close(cd);
	if (!loadable) {
		g_test_skip("this C library has no loadable charset converters");
		return;
	}
	g_assert_cmpint(dl_iterate_phdr(find_object, (void *) "/gconv/ISO8859-7.so"), ==, 1);
	g_assert_cmpint(dl_iterate_phdr(find_object, (void *) "/gconv/KOI8-R.so"), ==, 1);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	lg_message_init();
	g_test_add_func("/message/dsn-repeated-folded", test_dsn_repeated_folded);
	g_test_add_func("/message/unterminated-words", test_unterminated_words);
	g_test_add_func("/message/loose-words", test_loose_words);
	g_test_add_func("/message/nul-bytes", test_nul_bytes);
	g_test_add_func("/message/c1-controls", test_c1_controls);
	g_test_add_func("/message/undeclared-8bit", test_undeclared_8bit);
	g_test_add_func("/message/iso-2022-jp-nec", test_iso2022jp_nec);
	g_test_add_func("/message/name-padding", test_name_padding);
	g_test_add_func("/message/rfc822-names", test_rfc822_names);
	g_test_add_func("/message/first-nonempty-alternative", test_first_nonempty_alternative);
	g_test_add_func("/message/from-empty", test_from_empty);
	g_test_add_func("/message/charsets-stay-loaded", test_charsets_stay_loaded);
	g_test_add_func("/html/libxml2", test_html_libxml2);
	g_test_add_func("/html/hostile", test_html_hostile);
	return g_test_run();
}
