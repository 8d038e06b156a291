/*
 * NAME
 *   test-rules-eval.c - unit tests of rule evaluation.
 *
 * SUMMARY
 *   Every test (address, header, envelope, exists, size, body, allof,
 *   anyof, not, true, false), every match type (:is, :contains, :matches,
 *   :regex) and both comparators, against a message built by hand (no
 *   parser needed) with non-ASCII headers and addresses; the actions (first
 *   decisive one wins, later ones ignored, lead fields accumulate, stop ends
 *   every file); a catastrophic regex on 100 KB that must end within its
 *   limit as "no match" with a warning; and one set shared by threads.
 */
#include <string.h>
#include <glib/gstdio.h>
#include <gmime/gmime.h>

#include "lg.h"
#include "rules_int.h"

static char *tmpdir;

/* ---- a message built by hand -------------------------------------------- */

static lg_address *
t_addr(const char *email, const char *name)
{
	lg_address *a = g_new0(lg_address, 1);

	a->email = g_strdup(email);
	a->name = g_strdup(name);
	return a;
}

static void
t_header_free(gpointer p)
{
	lg_header *h = p;

	g_free(h->name);
	g_free(h->value);
	g_free(h);
}

static void
t_header(lg_message *m, const char *name, const char *value)
{
	lg_header *h = g_new0(lg_header, 1);

	h->name = g_strdup(name);
	h->value = g_strdup(value);
	g_ptr_array_add(m->headers, h);
}

static lg_message *
t_msg_new(void)
{
	lg_message *m = g_new0(lg_message, 1);

	m->headers = g_ptr_array_new_with_free_func(t_header_free);
	m->to = g_ptr_array_new_with_free_func((GDestroyNotify) lg_address_free);
	m->cc = g_ptr_array_new_with_free_func((GDestroyNotify) lg_address_free);
	m->subject = g_strdup("");
	m->body_text = g_strdup("");
	return m;
}

static void
t_msg_free(lg_message *m)
{
	g_ptr_array_unref(m->headers);
	g_ptr_array_unref(m->to);
	g_ptr_array_unref(m->cc);
	lg_address_free(m->from);
	lg_address_free(m->reply_to);
	lg_address_free(m->sender_hdr);
	g_free(m->subject);
	g_free(m->body_text);
	g_free(m);
}

/* The typical message of these tests (what lg_message_parse would make of
 * it: canonical addresses, decoded headers). */
static lg_message *
t_msg_sample(void)
{
	lg_message *m = t_msg_new();

	m->from = t_addr("jürgen@bücher.example", "Jürgen Müller");
	g_ptr_array_add(m->to, t_addr("support@example.com", NULL));
	g_ptr_array_add(m->to, t_addr("sales@example.com", "Sales"));
	g_ptr_array_add(m->cc, t_addr("boss@corp.example", NULL));
	m->reply_to = t_addr("form@webform.example", NULL);
	m->sender_hdr = t_addr("list-bounces@lists.example", NULL);
	g_free(m->subject);
	m->subject = g_strdup("Grüße aus München — Invoice #1234");
	t_header(m, "Received", "from a by b");
	t_header(m, "Received", "from b");
	t_header(m, "From", "Jürgen Müller <jürgen@bücher.example>");
	t_header(m, "To", "support@example.com, Sales <sales@example.com>");
	t_header(m, "Cc", "boss@corp.example");
	t_header(m, "Reply-To", "form@webform.example");
	t_header(m, "Sender", "list-bounces@lists.example");
	t_header(m, "Subject", m->subject);
	t_header(m, "Resent-From", "Someone <Resent@Other.Example>, undisclosed: ;");
	t_header(m, "X-Group", "Team: a@team.example, \"B\" <B@Team.Example>;");
	t_header(m, "X-Spam-Flag", "YES");
	t_header(m, "X-Stars", "a*b?c\\d");
	t_header(m, "Empty", "");
	t_header(m, "X-Mailer", "Thunderbird");
	g_free(m->body_text);
	m->body_text = g_strdup("Hello,\nplease find the invoice attached.\nRegards\n");
	m->size = 5000;
	return m;
}

static lg_envelope *
t_env(const char *sender, const char *rcpt)
{
	lg_envelope *e = g_new0(lg_envelope, 1);

	e->sender = g_strdup(sender);
	e->recipients = g_ptr_array_new_with_free_func(g_free);
	if (rcpt)
		g_ptr_array_add(e->recipients, g_strdup(rcpt));
	return e;
}

static void
t_env_free(lg_envelope *e)
{
	g_free(e->sender);
	g_ptr_array_unref(e->recipients);
	g_free(e);
}

/* ---- running rules ------------------------------------------------------- */

static lg_rules *
t_load(const char *name, const char *script, const lg_rules_options *opts)
{
	g_autofree char *p = g_build_filename(tmpdir, name, NULL);
	GError *error = NULL;
	lg_rules *r;

	g_file_set_contents(p, script, -1, &error);
	g_assert_no_error(error);
	r = lg_rules_load(p, opts, &error);
	g_assert_no_error(error);
	g_assert_nonnull(r);
	g_unlink(p);
	return r;
}

static gboolean
t_holds(const char *test, const lg_message *m, const lg_envelope *env, const char *rcpt)
{
	g_autofree char *script = g_strdup_printf(
		"require [\"vnd.leadgate\", \"envelope\", \"body\", \"regex\"];\n"
		"if %s { spam; }\n", test);
	lg_rules *r = t_load("50-test.sieve", script, NULL);
	lg_rule_result res;
	gboolean hit;

	lg_rules_eval(r, m, env, rcpt, &res);
	hit = res.decision == LG_RULE_SPAM;
	if (hit)
		g_assert_cmpstr(res.where, ==, "50-test.sieve:2");
	lg_rule_result_clear(&res);
	lg_rules_free(r);
	return hit;
}

typedef struct {
	const char *test;
	gboolean want;
} eval_case;

static const eval_case sample_cases[] = {
	/* address, on From/To/Cc/Reply-To/Sender and on parsed headers */
	{ "address :is \"from\" \"jürgen@bücher.example\"", TRUE },
	{ "address \"from\" \"jürgen@bücher.example\"", TRUE },          /* :is :all by default */
	{ "address :is \"from\" \"JÜRGEN@BÜCHER.EXAMPLE\"", TRUE },      /* canonical form */
	{ "address :is \"from\" \"jürgen@xn--bcher-kva.example\"", TRUE },
	{ "address :domain :is \"from\" \"xn--bcher-kva.example\"", TRUE },
	{ "address :domain :is \"From\" \"bücher.example\"", TRUE },
	{ "address :localpart :is \"from\" \"jürgen\"", TRUE },
	{ "address :localpart :is \"from\" \"bücher.example\"", FALSE },
	{ "address :domain :is \"from\" \"example\"", FALSE },
	{ "address :domain :matches \"from\" \"*.example\"", TRUE },
	{ "address :domain :matches \"from\" \"b?cher.*\"", TRUE },
	{ "address :all :contains \"to\" \"sales@\"", TRUE },
	{ "address :localpart :is \"to\" [\"info\", \"sales\"]", TRUE },
	{ "address :domain :is \"cc\" \"corp.example\"", TRUE },
	{ "address :is \"reply-to\" \"form@webform.example\"", TRUE },
	{ "address :domain :is \"sender\" \"lists.example\"", TRUE },
	{ "address :is \"resent-from\" \"resent@other.example\"", TRUE },
	{ "address :is \"x-group\" \"b@team.example\"", TRUE },
	{ "address :domain :is \"x-group\" \"team.example\"", TRUE },
	{ "address :is [\"bcc\", \"from\"] \"nobody@nowhere.example\"", FALSE },
	{ "address :is \"subject\" \"x@y.example\"", FALSE },
	{ "address :comparator \"i;octet\" :localpart :is \"from\" \"JÜRGEN\"", FALSE },
	{ "address :comparator \"i;octet\" :localpart :is \"from\" \"jürgen\"", TRUE },
	{ "address :localpart :regex \"from\" \"^j.rgen$\"", TRUE },
	{ "address :domain :regex \"from\" \"^B\\\\w+CHER\\\\.\"", TRUE },
	/* header: decoded UTF-8, every occurrence */
	{ "header :contains \"subject\" \"münchen\"", TRUE },
	{ "header :contains \"subject\" \"München\"", TRUE },
	{ "header :contains \"subject\" \"MÜNCHEN\"", FALSE },   /* only A-Z fold */
	{ "header :contains \"Subject\" \"INVOICE\"", TRUE },
	{ "header :comparator \"i;octet\" :contains \"subject\" \"INVOICE\"", FALSE },
	{ "header :comparator \"i;octet\" :contains \"subject\" \"Invoice\"", TRUE },
	{ "header :is \"subject\" \"grüße aus münchen — invoice #1234\"", TRUE },
	{ "header :is \"subject\" \"grüße aus münchen\"", FALSE },
	{ "header :matches \"subject\" \"Gr?ße aus *\"", TRUE },
	{ "header :matches \"subject\" \"Gr?e*\"", FALSE },
	{ "header :matches \"subject\" \"*#1234\"", TRUE },
	{ "header :matches \"subject\" \"*#123\"", FALSE },
	{ "header :matches \"subject\" \"*\"", TRUE },
	{ "header :matches \"subject\" \"G*?*?*4\"", TRUE },
	{ "header :matches \"x-stars\" \"a\\\\*b\\\\?c\\\\\\\\d\"", TRUE },
	{ "header :matches \"x-stars\" \"a\\\\*b?c*\"", TRUE },
	{ "header :matches \"x-stars\" \"a\\\\?*\"", FALSE },
	{ "header :matches \"x-stars\" \"A\\\\*B*\"", TRUE },
	{ "header :comparator \"i;octet\" :matches \"x-stars\" \"A*\"", FALSE },
	{ "header :regex \"subject\" \"invoice #[0-9]+$\"", TRUE },
	{ "header :regex \"subject\" \"^INVOICE\"", FALSE },
	{ "header :regex \"subject\" \"MÜNCHEN\"", TRUE },          /* PCRE2 caseless, UTF */
	{ "header :regex \"subject\" \"^Gr.ße\"", TRUE },           /* '.' is one character */
	{ "header :comparator \"i;octet\" :regex \"subject\" \"invoice\"", FALSE },
	{ "header :is \"received\" \"from b\"", TRUE },             /* the second one */
	{ "header :is \"received\" \"from c\"", FALSE },
	{ "header :is \"empty\" \"\"", TRUE },
	{ "header :contains \"empty\" \"\"", TRUE },
	{ "header :contains \"absent\" \"\"", FALSE },
	{ "header :is [\"x-other\", \"X-Spam-Flag\"] [\"no\", \"yes\"]", TRUE },
	/* envelope */
	{ "envelope :is \"from\" \"bounce@vendor.example\"", TRUE },
	{ "envelope :domain :is \"from\" \"vendor.example\"", TRUE },
	{ "envelope :localpart :contains \"from\" \"ounc\"", TRUE },
	{ "envelope :is \"to\" \"support@example.com\"", TRUE },
	{ "envelope :localpart :is \"to\" \"sales\"", FALSE },
	{ "envelope :domain :regex [\"from\", \"to\"] \"^example\\\\.com$\"", TRUE },
	/* exists */
	{ "exists \"x-mailer\"", TRUE },
	{ "exists [\"X-Mailer\", \"subject\"]", TRUE },
	{ "exists [\"x-mailer\", \"x-nope\"]", FALSE },
	{ "exists \"EMPTY\"", TRUE },
	/* size (5000 bytes) */
	{ "size :over 4K", TRUE },
	{ "size :over 5000", FALSE },
	{ "size :under 5001", TRUE },
	{ "size :under 5000", FALSE },
	{ "size :over 1M", FALSE },
	{ "size :under 1G", TRUE },
	/* body */
	{ "body :text :contains \"INVOICE ATTACHED\"", TRUE },
	{ "body :contains \"regards\"", TRUE },
	{ "body :text :is \"x\"", FALSE },
	{ "body :text :regex \"invoice\\\\s+attached\"", TRUE },
	{ "body :comparator \"i;octet\" :contains \"hello\"", FALSE },
	{ "body :text :matches \"Hello,*Regards*\"", TRUE },
	{ "body :text :matches \"Hello\"", FALSE },
	/* allof, anyof, not, true, false */
	{ "true", TRUE },
	{ "false", FALSE },
	{ "not false", TRUE },
	{ "not true", FALSE },
	{ "not not true", TRUE },
	{ "allof (true, true)", TRUE },
	{ "allof (true, false)", FALSE },
	{ "anyof (false, false)", FALSE },
	{ "anyof (false, true)", TRUE },
	{ "allof (address :domain :is \"from\" \"bücher.example\", not exists \"x-nope\", "
	  "anyof (size :over 1M, header :contains \"x-mailer\" \"bird\"))", TRUE },
};

static void
test_eval_case(gconstpointer data)
{
	const eval_case *c = data;
	lg_message *m = t_msg_sample();
	lg_envelope *e = t_env("bounce@vendor.example", "support@example.com");

	g_test_message("%s", c->test);
	/* the recipient as an MTA may write it: it is normalised */
	g_assert_cmpint(t_holds(c->test, m, e, "Support@Example.COM"), ==, c->want);
	t_env_free(e);
	t_msg_free(m);
}

static void
test_eval_null_sender(void)
{
	lg_message *m = t_msg_sample();
	lg_envelope *e = t_env("", "support@example.com");

	g_assert_true(t_holds("envelope :is \"from\" \"\"", m, e, "support@example.com"));
	g_assert_true(t_holds("envelope :domain :is \"from\" \"\"", m, e, "support@example.com"));
	g_assert_true(t_holds("envelope :localpart :is \"from\" \"\"", m, e, "support@example.com"));
	g_assert_false(t_holds("envelope :contains \"from\" \"@\"", m, e, "support@example.com"));
	/* no envelope, no recipient: nothing to match, nothing breaks */
	g_assert_false(t_holds("envelope :contains [\"from\", \"to\"] \"\"", m, NULL, NULL));
	t_env_free(e);
	t_msg_free(m);
}

static void
test_eval_empty_message(void)
{
	lg_message *m = t_msg_new();

	g_assert_false(t_holds("address :contains [\"from\", \"to\", \"cc\", \"reply-to\", "
	                       "\"sender\", \"x-any\"] \"\"", m, NULL, NULL));
	g_assert_false(t_holds("header :contains \"subject\" \"\"", m, NULL, NULL));
	g_assert_true(t_holds("body :is \"\"", m, NULL, NULL));
	g_assert_true(t_holds("size :under 1", m, NULL, NULL));
	g_assert_false(t_holds("exists \"from\"", m, NULL, NULL));
	t_msg_free(m);
}

/* ---- :matches engine ----------------------------------------------------- */

static gboolean
glob(const char *pat, const char *s)
{
	rules_key k = { 0 };
	gboolean r;

	rules_glob_compile(&k, pat, FALSE);
	r = rules_glob_match(&k, s, strlen(s));
	g_free(k.str);
	g_free(k.glob);
	return r;
}

static void
test_glob(void)
{
	g_assert_true(glob("", ""));
	g_assert_false(glob("", "a"));
	g_assert_true(glob("*", ""));
	g_assert_true(glob("**", "abc"));
	g_assert_true(glob("a*c", "abbbc"));
	g_assert_true(glob("a*c", "ac"));
	g_assert_false(glob("a*c", "ab"));
	g_assert_true(glob("?", "ü"));
	g_assert_false(glob("??", "ü"));
	g_assert_true(glob("*?", "ü"));
	g_assert_true(glob("*b*b*", "abcbd"));
	g_assert_false(glob("*b*b*", "abcd"));
	g_assert_true(glob("\\*", "*"));
	g_assert_false(glob("\\*", "x"));
	g_assert_true(glob("a\\\\b", "a\\b"));
	g_assert_true(glob("\\q", "q"));
	g_assert_true(glob("*.example", "a.b.example"));
	g_assert_false(glob("*.example", "a.example.org"));
}

static void
test_glob_long(void)
{
	/* many stars against a long non-matching value: bounded work */
	gsize n = 100 * 1024;
	g_autofree char *s = g_malloc(n + 1);
	gint64 t0;

	memset(s, 'a', n);
	s[n] = '\0';
	t0 = g_get_monotonic_time();
	g_assert_false(glob("*a*a*a*a*a*a*b", s));
	g_assert_true(glob("*a*a*a*a*a*a", s));
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 5 * G_USEC_PER_SEC);
}

/* ---- actions ------------------------------------------------------------- */

static gboolean
trace_has(const lg_rule_result *res, const char *line)
{
	for (guint i = 0; i < res->trace->len; i++)
		if (strcmp(g_ptr_array_index(res->trace, i), line) == 0)
			return TRUE;
	return FALSE;
}

static void
dump_trace(const lg_rule_result *res)
{
	for (guint i = 0; i < res->trace->len; i++)
		g_test_message("trace: %s", (char *)g_ptr_array_index(res->trace, i));
}

static void
test_actions_first_wins(void)
{
	lg_message *m = t_msg_sample();
	lg_rules *r = t_load("20-vendors.sieve",
		"require \"vnd.leadgate\";\n"
		"if address :domain :is \"from\" \"bücher.example\" {\n"
		"  ticket :organization \"Bücher GmbH\" :priority \"high\" :type \"Order\"\n"
		"         :assign \"Tech@Example.COM\" :status \"open\";\n"
		"}\n"
		"spam;\n"
		"ticket :priority \"low\";\n", NULL);
	lg_rule_result res;

	lg_rules_eval(r, m, NULL, "support@example.com", &res);
	dump_trace(&res);
	g_assert_cmpint(res.decision, ==, LG_RULE_TICKET);
	g_assert_cmpstr(res.where, ==, "20-vendors.sieve:3");
	g_assert_cmpstr(res.organization, ==, "Bücher GmbH");
	g_assert_cmpstr(res.priority, ==, "high");
	g_assert_cmpstr(res.type, ==, "Order");
	g_assert_cmpstr(res.assign, ==, "tech@example.com");
	g_assert_cmpstr(res.status, ==, "open");
	g_assert_null(res.lead_source);
	g_assert_null(res.lead_where);
	g_assert_true(trace_has(&res, "20-vendors.sieve:2: if matched"));
	g_assert_true(trace_has(&res, "20-vendors.sieve:3: ticket :organization \"Bücher GmbH\" "
	                        ":priority \"high\" :type \"Order\" :assign \"tech@example.com\" "
	                        ":status \"open\" (decides)"));
	g_assert_true(trace_has(&res, "20-vendors.sieve:6: spam ignored: 20-vendors.sieve:3 "
	                        "decided already"));
	g_assert_true(trace_has(&res, "20-vendors.sieve:7: ticket :priority \"low\" ignored: "
	                        "20-vendors.sieve:3 decided already"));
	lg_rule_result_clear(&res);
	g_assert_null(res.trace);
	lg_rules_free(r);
	t_msg_free(m);
}

static void
test_actions_lead(void)
{
	lg_message *m = t_msg_sample();
	lg_rules *r = t_load("40-leads.sieve",
		"require \"vnd.leadgate\";\n"
		"lead :source \"web form\" :assign \"rep@example.com\";\n"
		"if true { lead :stage \"qualified\" :source \"website\"; }\n"
		"keep;\n", NULL);
	lg_rule_result res;

	lg_rules_eval(r, m, NULL, NULL, &res);
	dump_trace(&res);
	g_assert_cmpint(res.decision, ==, LG_RULE_NONE);
	g_assert_null(res.where);
	g_assert_cmpstr(res.lead_source, ==, "website");
	g_assert_cmpstr(res.lead_assign, ==, "rep@example.com");
	g_assert_cmpstr(res.lead_stage, ==, "qualified");
	g_assert_cmpstr(res.lead_where, ==, "40-leads.sieve:3");
	g_assert_true(trace_has(&res, "40-leads.sieve:2: lead :source \"web form\" "
	                        ":assign \"rep@example.com\""));
	g_assert_true(trace_has(&res, "40-leads.sieve:4: keep (no decision)"));
	lg_rule_result_clear(&res);
	lg_rules_free(r);
	t_msg_free(m);
}

static void
test_actions_branches(void)
{
	lg_message *m = t_msg_sample();
	lg_rules *r = t_load("30-branches.sieve",
		"require \"vnd.leadgate\";\n"
		"if false { spam; }\n"
		"elsif header :contains \"subject\" \"nothing\" { spam; }\n"
		"elsif header :contains \"subject\" \"invoice\" { lead :source \"a\"; }\n"
		"elsif true { lead :source \"b\"; }\n"
		"else { lead :source \"c\"; }\n"
		"if false { lead :stage \"x\"; } else { lead :stage \"y\"; }\n", NULL);
	lg_rule_result res;

	lg_rules_eval(r, m, NULL, NULL, &res);
	dump_trace(&res);
	g_assert_cmpstr(res.lead_source, ==, "a");
	g_assert_cmpstr(res.lead_stage, ==, "y");
	g_assert_true(trace_has(&res, "30-branches.sieve:4: elsif matched"));
	g_assert_true(trace_has(&res, "30-branches.sieve:7: else taken"));
	lg_rule_result_clear(&res);
	lg_rules_free(r);
	t_msg_free(m);
}

static lg_rules *
t_load_dir(const char *a, const char *b)
{
	g_autofree char *dir = g_build_filename(tmpdir, "set", NULL);
	g_autofree char *pa = g_build_filename(dir, "10-a.sieve", NULL);
	g_autofree char *pb = g_build_filename(dir, "20-b.sieve", NULL);
	GError *error = NULL;
	lg_rules *r;

	g_mkdir_with_parents(dir, 0700);
	g_file_set_contents(pb, b, -1, &error);   /* written first: order is by name */
	g_assert_no_error(error);
	g_file_set_contents(pa, a, -1, &error);
	g_assert_no_error(error);
	r = lg_rules_load(dir, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(lg_rules_count(r), ==, 2);
	g_unlink(pa);
	g_unlink(pb);
	g_rmdir(dir);
	return r;
}

static void
test_actions_files_and_stop(void)
{
	lg_message *m = t_msg_sample();
	lg_rules *r;
	lg_rule_result res;

	/* files run in name order: the first file's ticket decides */
	r = t_load_dir("require \"vnd.leadgate\";\nticket :priority \"a\";\n",
	               "require \"vnd.leadgate\";\nspam;\n");
	lg_rules_eval(r, m, NULL, NULL, &res);
	g_assert_cmpint(res.decision, ==, LG_RULE_TICKET);
	g_assert_cmpstr(res.where, ==, "10-a.sieve:2");
	g_assert_true(trace_has(&res, "20-b.sieve:2: spam ignored: 10-a.sieve:2 decided already"));
	lg_rule_result_clear(&res);
	lg_rules_free(r);

	/* stop in the first file ends every file */
	r = t_load_dir("if header :is \"x-spam-flag\" \"no\" { keep; } else { stop; }\n",
	               "require \"vnd.leadgate\";\nspam;\n");
	lg_rules_eval(r, m, NULL, NULL, &res);
	dump_trace(&res);
	g_assert_cmpint(res.decision, ==, LG_RULE_NONE);
	g_assert_true(trace_has(&res, "10-a.sieve:1: stop"));
	g_assert_cmpuint(res.trace->len, ==, 2);
	lg_rule_result_clear(&res);
	lg_rules_free(r);

	/* without stop the second file decides */
	r = t_load_dir("keep;\n", "require \"vnd.leadgate\";\nif true {\n  spam;\n}\n");
	lg_rules_eval(r, m, NULL, NULL, &res);
	g_assert_cmpint(res.decision, ==, LG_RULE_SPAM);
	g_assert_cmpstr(res.where, ==, "20-b.sieve:3");
	lg_rule_result_clear(&res);
	lg_rules_free(r);
	t_msg_free(m);
}

static void
test_actions_per_recipient(void)
{
	lg_message *m = t_msg_sample();
	lg_envelope *e = t_env("bounce@vendor.example", "support@example.com");
	lg_rules *r = t_load("10-rcpt.sieve",
		"require [\"vnd.leadgate\", \"envelope\"];\n"
		"if envelope :localpart :is \"to\" \"sales\" { ticket :type \"Sales\"; }\n", NULL);
	lg_rule_result res;

	lg_rules_eval(r, m, e, "support@example.com", &res);
	g_assert_cmpint(res.decision, ==, LG_RULE_NONE);
	lg_rule_result_clear(&res);
	lg_rules_eval(r, m, e, "Sales@Example.com", &res);
	g_assert_cmpint(res.decision, ==, LG_RULE_TICKET);
	g_assert_cmpstr(res.type, ==, "Sales");
	lg_rule_result_clear(&res);
	lg_rules_eval(NULL, m, e, "sales@example.com", &res);   /* no set: no decision */
	g_assert_cmpint(res.decision, ==, LG_RULE_NONE);
	g_assert_nonnull(res.trace);
	lg_rule_result_clear(&res);
	lg_rules_free(r);
	t_env_free(e);
	t_msg_free(m);
}

/* ---- regex limits -------------------------------------------------------- */

static void
test_regex_pathological(void)
{
	lg_message *m = t_msg_new();
	gsize n = 100 * 1024;
	lg_rules *r = t_load("90-evil.sieve",
		"require [\"vnd.leadgate\", \"body\", \"regex\"];\n"
		"if body :text :regex \"(a+)+$\" { spam; }\n"
		"if body :text :regex [\"(a+)+$\", \"(a|aa)+$\"] { spam; }\n"
		"if body :text :contains \"b\" { lead :source \"after\"; }\n", NULL);
	lg_rule_result res;
	gint64 t0, dt;
	guint warnings = 0;

	g_free(m->body_text);
	m->body_text = g_malloc(n + 2);
	memset(m->body_text, 'a', n);
	m->body_text[n] = 'b';
	m->body_text[n + 1] = '\0';
	m->size = (gint64)n + 1;
	t0 = g_get_monotonic_time();
	lg_rules_eval(r, m, NULL, NULL, &res);
	dt = g_get_monotonic_time() - t0;
	dump_trace(&res);
	g_test_message("evaluated in %" G_GINT64_FORMAT " us", dt);
	g_assert_cmpint(dt, <, 5 * G_USEC_PER_SEC);
	g_assert_cmpint(res.decision, ==, LG_RULE_NONE);
	g_assert_cmpstr(res.lead_source, ==, "after");   /* evaluation went on */
	for (guint i = 0; i < res.trace->len; i++) {
		const char *t = g_ptr_array_index(res.trace, i);

		if (strstr(t, "warning: regular expression") != NULL) {
			warnings++;
			g_assert_true(g_str_has_prefix(t, "90-evil.sieve:"));
			g_assert_nonnull(strstr(t, "limit"));
			g_assert_nonnull(strstr(t, "treated as no match"));
		}
	}
	/* one per pattern: the first, and both keys of the second test */
	g_assert_cmpuint(warnings, ==, 3);
	g_assert_true(trace_has(&res, "90-evil.sieve:2:22: warning: regular expression \"(a+)+$\" "
	                        "on the body: the match limit was reached; treated as no match"));
	lg_rule_result_clear(&res);
	lg_rules_free(r);
	t_msg_free(m);
}

static void
test_regex_limit_option(void)
{
	lg_message *m = t_msg_sample();
	lg_rules_options opts = { .match_limit = 1, .depth_limit = 1 };
	lg_rules *r = t_load("10-limit.sieve",
		"require [\"vnd.leadgate\", \"regex\"];\n"
		"if header :regex \"subject\" \"(i|n)+v.*#\\\\d+\" { spam; }\n", &opts);
	lg_rule_result res;

	lg_rules_eval(r, m, NULL, NULL, &res);
	dump_trace(&res);
	g_assert_cmpint(res.decision, ==, LG_RULE_NONE);
	g_assert_cmpuint(res.trace->len, ==, 1);
	g_assert_true(g_str_has_prefix(g_ptr_array_index(res.trace, 0),
	                               "10-limit.sieve:2:28: warning: regular expression"));
	lg_rule_result_clear(&res);
	lg_rules_free(r);

	/* the same rule with default limits matches */
	r = t_load("10-limit.sieve",
		"require [\"vnd.leadgate\", \"regex\"];\n"
		"if header :regex \"subject\" \"(i|n)+v.*#\\\\d+\" { spam; }\n", NULL);
	lg_rules_eval(r, m, NULL, NULL, &res);
	g_assert_cmpint(res.decision, ==, LG_RULE_SPAM);
	lg_rule_result_clear(&res);
	lg_rules_free(r);
	t_msg_free(m);
}

/* ---- one set, many threads ----------------------------------------------- */

typedef struct {
	const lg_rules *rules;
	const lg_message *msg;
	guint ok;
} thread_job;

static gpointer
thread_main(gpointer data)
{
	thread_job *j = data;

	for (int i = 0; i < 300; i++) {
		lg_rule_result res;
		const char *rcpt = (i % 2) ? "sales@example.com" : "support@example.com";

		lg_rules_eval(j->rules, j->msg, NULL, rcpt, &res);
		if ((i % 2) ? res.decision == LG_RULE_TICKET && g_strcmp0(res.lead_source, "x") == 0
		            : res.decision == LG_RULE_SPAM)
			j->ok++;
		lg_rule_result_clear(&res);
	}
	return NULL;
}

static void
test_threads(void)
{
	lg_message *m = t_msg_sample();
	lg_rules *r = t_load("10-threads.sieve",
		"require [\"vnd.leadgate\", \"envelope\", \"regex\", \"body\"];\n"
		"if allof (envelope :localpart :regex \"to\" \"^sal\",\n"
		"          address :is \"x-group\" \"b@team.example\",\n"
		"          body :contains \"INVOICE\") {\n"
		"  lead :source \"x\"; ticket;\n"
		"}\n"
		"if header :regex \"subject\" \"m(ü|ue)nchen\" { spam; }\n", NULL);
	thread_job jobs[8];
	GThread *th[8];

	for (int i = 0; i < 8; i++) {
		jobs[i] = (thread_job){ r, m, 0 };
		th[i] = g_thread_new("eval", thread_main, &jobs[i]);
	}
	for (int i = 0; i < 8; i++) {
		g_thread_join(th[i]);
		g_assert_cmpuint(jobs[i].ok, ==, 300);
	}
	lg_rules_free(r);
	t_msg_free(m);
}

int
main(int argc, char **argv)
{
	GError *error = NULL;
	int rc;

	g_test_init(&argc, &argv, NULL);
	g_mime_init();
	tmpdir = g_dir_make_tmp("rules-eval-XXXXXX", &error);
	g_assert_no_error(error);

	for (gsize i = 0; i < G_N_ELEMENTS(sample_cases); i++) {
		g_autofree char *name = g_strdup_printf("/rules/eval/test/%02zu", i);

		g_test_add_data_func(name, &sample_cases[i], test_eval_case);
	}
	g_test_add_func("/rules/eval/null-sender", test_eval_null_sender);
	g_test_add_func("/rules/eval/empty-message", test_eval_empty_message);
	g_test_add_func("/rules/eval/glob", test_glob);
	g_test_add_func("/rules/eval/glob-long", test_glob_long);
	g_test_add_func("/rules/eval/actions/first-wins", test_actions_first_wins);
	g_test_add_func("/rules/eval/actions/lead", test_actions_lead);
	g_test_add_func("/rules/eval/actions/branches", test_actions_branches);
	g_test_add_func("/rules/eval/actions/files-and-stop", test_actions_files_and_stop);
	g_test_add_func("/rules/eval/actions/per-recipient", test_actions_per_recipient);
	g_test_add_func("/rules/eval/regex/pathological", test_regex_pathological);
	g_test_add_func("/rules/eval/regex/limit-option", test_regex_limit_option);
	g_test_add_func("/rules/eval/threads", test_threads);
	rc = g_test_run();
	g_rmdir(tmpdir);
	g_free(tmpdir);
	return rc;
}
