/*
 * NAME
 *   test-rules-parse.c - unit tests of the rule files' lexer and parser.
 *
 * SUMMARY
 *   Lexer: the tokens (and their positions) of RFC 5228's lexical grammar.
 *   Parser: valid scripts compile; each invalid script gives exactly the
 *   expected first diagnostic, "t.sieve:LINE:COL: error: ...", and the
 *   expected number of diagnostics. Loader: directories in name order,
 *   missing directories, a set with one bad file refused whole.
 */
#include <string.h>
#include <glib/gstdio.h>

#include "lg.h"
#include "rules_int.h"

/* ---- lexer -------------------------------------------------------------- */

typedef struct {
	GPtrArray *toks;   /* rules_token* */
	GPtrArray *diag;   /* char* */
} lexed;

static void
token_free(gpointer p)
{
	rules_token_clear(p);
	g_free(p);
}

static lexed
lex_all(const char *src)
{
	lexed r;
	rules_lexer lx;
	rules_diag d;

	r.toks = g_ptr_array_new_with_free_func(token_free);
	r.diag = g_ptr_array_new_with_free_func(g_free);
	d.file = "t.sieve";
	d.lines = r.diag;
	d.start = 0;
	rules_lex_init(&lx, src, strlen(src), &d);
	for (guint guard = 0; guard < 10000; guard++) {
		rules_token *t = g_new0(rules_token, 1);

		rules_lex_next(&lx, t);
		g_ptr_array_add(r.toks, t);
		if (t->kind == TOK_EOF)
			break;
	}
	return r;
}

static void
lexed_clear(lexed *r)
{
	g_ptr_array_unref(r->toks);
	g_ptr_array_unref(r->diag);
}

#define TOK(r, i) ((rules_token *)g_ptr_array_index((r).toks, (i)))

static void
test_lex_tokens(void)
{
	lexed r = lex_all("require [\"a\", \"b\"];\n  if size :over 10K { stop; } # c\n(),");

	g_assert_cmpuint(r.diag->len, ==, 0);
	g_assert_cmpint(TOK(r, 0)->kind, ==, TOK_IDENT);
	g_assert_cmpstr(TOK(r, 0)->text, ==, "require");
	g_assert_cmpint(TOK(r, 1)->kind, ==, TOK_LBRACKET);
	g_assert_cmpint(TOK(r, 2)->kind, ==, TOK_STRING);
	g_assert_cmpstr(TOK(r, 2)->text, ==, "a");
	g_assert_cmpuint(TOK(r, 2)->col, ==, 10);
	g_assert_cmpint(TOK(r, 3)->kind, ==, TOK_COMMA);
	g_assert_cmpint(TOK(r, 5)->kind, ==, TOK_RBRACKET);
	g_assert_cmpint(TOK(r, 6)->kind, ==, TOK_SEMI);
	g_assert_cmpstr(TOK(r, 7)->text, ==, "if");
	g_assert_cmpuint(TOK(r, 7)->line, ==, 2);
	g_assert_cmpuint(TOK(r, 7)->col, ==, 3);
	g_assert_cmpint(TOK(r, 9)->kind, ==, TOK_TAG);
	g_assert_cmpstr(TOK(r, 9)->text, ==, "over");
	g_assert_cmpint(TOK(r, 10)->kind, ==, TOK_NUMBER);
	g_assert_cmpuint(TOK(r, 10)->num, ==, 10240);
	g_assert_cmpint(TOK(r, 11)->kind, ==, TOK_LBRACE);
	g_assert_cmpint(TOK(r, 14)->kind, ==, TOK_RBRACE);
	g_assert_cmpint(TOK(r, 15)->kind, ==, TOK_LPAREN);
	g_assert_cmpuint(TOK(r, 15)->line, ==, 3);
	g_assert_cmpint(TOK(r, 16)->kind, ==, TOK_RPAREN);
	g_assert_cmpint(TOK(r, 17)->kind, ==, TOK_COMMA);
	g_assert_cmpint(TOK(r, 18)->kind, ==, TOK_EOF);
	lexed_clear(&r);
}

static void
test_lex_numbers(void)
{
	lexed r = lex_all("0 7 1k 2M 3G 2147483647");

	g_assert_cmpuint(r.diag->len, ==, 0);
	g_assert_cmpuint(TOK(r, 0)->num, ==, 0);
	g_assert_cmpuint(TOK(r, 1)->num, ==, 7);
	g_assert_cmpuint(TOK(r, 2)->num, ==, 1024);
	g_assert_cmpuint(TOK(r, 3)->num, ==, 2 * 1024 * 1024);
	g_assert_cmpuint(TOK(r, 4)->num, ==, G_GUINT64_CONSTANT(3) << 30);
	g_assert_cmpuint(TOK(r, 5)->num, ==, 2147483647);
	lexed_clear(&r);

	r = lex_all("size :over 99999999999999999999999;");
	g_assert_cmpuint(r.diag->len, ==, 1);
	g_assert_cmpstr(g_ptr_array_index(r.diag, 0), ==, "t.sieve:1:12: error: number too large");
	lexed_clear(&r);

	r = lex_all("size :over 9999999999G;");
	g_assert_cmpuint(r.diag->len, ==, 1);
	g_assert_cmpstr(g_ptr_array_index(r.diag, 0), ==, "t.sieve:1:12: error: number too large");
	lexed_clear(&r);
}

static void
test_lex_strings(void)
{
	lexed r = lex_all("\"a\\\"b\\\\c\\d\" \"two\nlines\" \"\" \"Grüße\" x");

	g_assert_cmpuint(r.diag->len, ==, 0);
	g_assert_cmpstr(TOK(r, 0)->text, ==, "a\"b\\cd");
	g_assert_cmpstr(TOK(r, 1)->text, ==, "two\nlines");
	g_assert_cmpuint(TOK(r, 1)->col, ==, 13);
	g_assert_cmpstr(TOK(r, 2)->text, ==, "");
	g_assert_cmpint(TOK(r, 2)->kind, ==, TOK_STRING);
	g_assert_cmpuint(TOK(r, 2)->line, ==, 2);
	g_assert_cmpuint(TOK(r, 2)->col, ==, 8);
	g_assert_cmpstr(TOK(r, 3)->text, ==, "Grüße");
	/* columns count characters: "Grüße" is 7 wide with its quotes */
	g_assert_cmpuint(TOK(r, 4)->col, ==, TOK(r, 3)->col + 8);
	lexed_clear(&r);
}

static void
test_lex_multiline(void)
{
	lexed r = lex_all("text: # comment\r\nline one\r\n..dot\n.\n\nafter\n;");

	g_assert_cmpuint(r.diag->len, ==, 0);
	g_assert_cmpint(TOK(r, 0)->kind, ==, TOK_STRING);
	g_assert_cmpstr(TOK(r, 0)->text, ==, "line one\n.dot\n");
	g_assert_cmpint(TOK(r, 1)->kind, ==, TOK_IDENT);
	g_assert_cmpstr(TOK(r, 1)->text, ==, "after");
	g_assert_cmpuint(TOK(r, 1)->line, ==, 6);
	g_assert_cmpint(TOK(r, 2)->kind, ==, TOK_SEMI);
	lexed_clear(&r);

	r = lex_all("TEXT:\n\n.\n");
	g_assert_cmpuint(r.diag->len, ==, 0);
	g_assert_cmpstr(TOK(r, 0)->text, ==, "\n");
	lexed_clear(&r);
}

static void
test_lex_comments(void)
{
	lexed r = lex_all("/* a\n * b */ keep # x\n/**/stop#");

	g_assert_cmpuint(r.diag->len, ==, 0);
	g_assert_cmpstr(TOK(r, 0)->text, ==, "keep");
	g_assert_cmpuint(TOK(r, 0)->line, ==, 2);
	g_assert_cmpuint(TOK(r, 0)->col, ==, 9);
	g_assert_cmpstr(TOK(r, 1)->text, ==, "stop");
	g_assert_cmpuint(TOK(r, 1)->col, ==, 5);
	g_assert_cmpint(TOK(r, 2)->kind, ==, TOK_EOF);
	lexed_clear(&r);
}

static void
test_lex_bom_crlf(void)
{
	lexed r = lex_all("\xEF\xBB\xBFkeep;\r\nstop;");

	g_assert_cmpuint(r.diag->len, ==, 0);
	g_assert_cmpuint(TOK(r, 0)->col, ==, 1);
	g_assert_cmpuint(TOK(r, 2)->line, ==, 2);
	g_assert_cmpuint(TOK(r, 2)->col, ==, 1);
	lexed_clear(&r);
}

typedef struct {
	const char *src;
	const char *diag;
} lex_error_case;

static const lex_error_case lex_errors[] = {
	{ "keep \"abc", "t.sieve:1:6: error: unterminated string: missing closing '\"'" },
	{ "\n  /* x", "t.sieve:2:3: error: unterminated comment: '/*' without '*/'" },
	{ "x text:\nabc\n", "t.sieve:1:3: error: unterminated multi-line string: "
	  "no line with a single '.' after 'text:'" },
	{ "text: x\n.\n", "t.sieve:1:1: error: 'text:' must be followed by the end of the line" },
	{ "keep :;", "t.sieve:1:6: error: expected a tag name after ':'" },
	{ "keep @;", "t.sieve:1:6: error: unexpected character '@'" },
	{ "keep \xC3\xA9;", "t.sieve:1:6: error: unexpected character U+00E9" },
	{ "keep \"\xFF\";", "t.sieve:1:6: error: string is not valid UTF-8" },
};

static void
test_lex_errors(void)
{
	for (gsize i = 0; i < G_N_ELEMENTS(lex_errors); i++) {
		lexed r = lex_all(lex_errors[i].src);
		guint n = r.toks->len;

		g_assert_cmpuint(r.diag->len, ==, 1);
		g_assert_cmpstr(g_ptr_array_index(r.diag, 0), ==, lex_errors[i].diag);
		/* after an error: TOK_ERROR once, then the end */
		g_assert_cmpint(TOK(r, n - 2)->kind, ==, TOK_ERROR);
		g_assert_cmpint(TOK(r, n - 1)->kind, ==, TOK_EOF);
		lexed_clear(&r);
	}
}

/* ---- parser: valid scripts ---------------------------------------------- */

static GPtrArray *
parse(const char *src, rules_file **out)
{
	GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
	rules_diag d = { "t.sieve", lines, 0 };

	*out = rules_parse_file("dir/t.sieve", src, strlen(src), &d);
	g_assert_true((*out == NULL) == (lines->len > 0));
	return lines;
}

static const char *const valid_scripts[] = {
	"",
	"# nothing but a comment\n",
	"keep;",
	"stop;",
	"require \"vnd.leadgate\"; spam;",
	"require [\"vnd.leadgate\", \"envelope\", \"body\", \"regex\", \"comparator-i;octet\","
	" \"comparator-i;ascii-casemap\"];\n"
	"if allof (address :domain :is \"from\" \"acme.example\",\n"
	"          not header :contains \"subject\" [\"out of office\", \"autoreply\"],\n"
	"          anyof (envelope :all :is \"to\" \"support@example.com\", true),\n"
	"          exists [\"Message-ID\", \"Date\"],\n"
	"          size :under 10M,\n"
	"          body :text :regex \"invoice\\\\s+#\\\\d+\") {\n"
	"  ticket :organization \"Acme\" :priority \"high\" :type \"Incident\"\n"
	"         :assign \"Tech@Example.COM\" :status \"open\";\n"
	"  stop;\n"
	"} elsif header :comparator \"i;octet\" :matches \"subject\" \"*\\\\?*\" {\n"
	"  lead :source \"web\" :stage \"new\" :assign \"rep@example.com\";\n"
	"} elsif false { keep; } else {\n"
	"  if true { keep; }\n"
	"}\n",
	"require \"vnd.leadgate\";\nif header :is \"X-Form\" text:\nweb form\n.\n{ lead :source \"web\"; }",
	"IF TRUE { KEEP; }",
	"if address :localpart :comparator \"i;ascii-casemap\" :contains \"Reply-To\" \"sales\" { keep; }",
	"/* a */ if /* b */ true /* c */ { /* d */ } # e",
};

static void
test_parse_valid(void)
{
	for (gsize i = 0; i < G_N_ELEMENTS(valid_scripts); i++) {
		rules_file *f = NULL;
		g_autoptr(GPtrArray) d = parse(valid_scripts[i], &f);

		if (d->len > 0)
			g_test_message("script %zu: %s", i, (char *)g_ptr_array_index(d, 0));
		g_assert_cmpuint(d->len, ==, 0);
		g_assert_nonnull(f);
		g_assert_cmpstr(f->name, ==, "t.sieve");
		rules_file_free(f);
	}
}

static void
test_parse_tree(void)
{
	rules_file *f = NULL;
	g_autoptr(GPtrArray) d = parse(
		"require \"vnd.leadgate\";\n"
		"if header :contains \"subject\" \"x\" { ticket :assign \"A@B.example\"; }\n"
		"elsif true { spam; }\nelse { keep; }\nstop;\n", &f);
	rules_cmd *c;
	rules_branch *b;

	g_assert_cmpuint(d->len, ==, 0);
	g_assert_cmpuint(f->cmds->len, ==, 2);
	c = g_ptr_array_index(f->cmds, 0);
	g_assert_cmpint(c->kind, ==, C_IF);
	g_assert_cmpuint(c->line, ==, 2);
	g_assert_cmpuint(c->branches->len, ==, 3);
	b = g_ptr_array_index(c->branches, 0);
	g_assert_cmpint(b->test->kind, ==, T_HEADER);
	g_assert_cmpint(b->test->match, ==, MT_CONTAINS);
	g_assert_cmpint(b->test->cmp, ==, CMP_CASEMAP);
	g_assert_cmpstr(b->test->names[0], ==, "subject");
	c = g_ptr_array_index(b->block, 0);
	g_assert_cmpint(c->kind, ==, C_TICKET);
	g_assert_cmpstr(c->assign, ==, "a@b.example");
	b = g_ptr_array_index(((rules_cmd *)g_ptr_array_index(f->cmds, 0))->branches, 2);
	g_assert_null(b->test);
	g_assert_cmpstr(b->word, ==, "else");
	c = g_ptr_array_index(f->cmds, 1);
	g_assert_cmpint(c->kind, ==, C_STOP);
	g_assert_cmpuint(c->line, ==, 5);
	rules_file_free(f);
}

/* ---- parser: invalid scripts, exact positions --------------------------- */

typedef struct {
	const char *label;
	const char *src;
	const char *diag;   /* the first diagnostic, exactly */
	guint count;        /* how many diagnostics in all */
} error_case;

static const error_case error_cases[] = {
	/* the cases the issue names */
	{ "unknown-test", "if foo { keep; }",
	  "t.sieve:1:4: error: unknown test 'foo'", 1 },
	{ "unknown-test-nested", "if allof (true,\n  frobnicate \"x\") { keep; }",
	  "t.sieve:2:3: error: unknown test 'frobnicate'", 1 },
	{ "missing-semicolon", "keep\nstop;",
	  "t.sieve:1:5: error: missing ';' after 'keep' (found identifier 'stop')", 1 },
	{ "missing-semicolon-args", "require \"vnd.leadgate\";\nticket :priority \"high\"\n}",
	  "t.sieve:2:24: error: missing ';' after 'ticket' (found '}')", 2 },
	{ "unterminated-string", "if header :is \"subject\" \"abc { keep; }",
	  "t.sieve:1:25: error: unterminated string: missing closing '\"'", 1 },
	{ "bad-regex", "require \"regex\";\nif header :regex \"subject\" \"a(b\" { keep; }",
	  "t.sieve:2:28: error: invalid regular expression \"a(b\": missing closing parenthesis "
	  "at offset 3", 1 },
	{ "action-without-require", "if true {\n  ticket :priority \"high\";\n}",
	  "t.sieve:2:3: error: 'ticket' needs require \"vnd.leadgate\"", 1 },
	{ "spam-without-require", "spam;",
	  "t.sieve:1:1: error: 'spam' needs require \"vnd.leadgate\"", 1 },
	{ "lead-without-require", "  lead :source \"web\";",
	  "t.sieve:1:3: error: 'lead' needs require \"vnd.leadgate\"", 1 },
	{ "unsupported-command", "keep;\nredirect \"boss@example.com\";",
	  "t.sieve:2:1: error: unsupported command 'redirect' (leadgate rules use keep, stop, "
	  "ticket, lead and spam)", 1 },
	{ "unknown-command", "frobnicate;",
	  "t.sieve:1:1: error: unknown command 'frobnicate'", 1 },
	{ "unbalanced-close", "if true { keep; }\n}",
	  "t.sieve:2:1: error: unbalanced braces: '}' without a matching '{'", 1 },
	{ "unbalanced-open", "if true {\n  if false { keep; }\n",
	  "t.sieve:1:9: error: unbalanced braces: this '{' is never closed", 1 },
	{ "unbalanced-open-inner", "if true {\n  if false { keep;\n}\n",
	  "t.sieve:1:9: error: unbalanced braces: this '{' is never closed", 1 },
	{ "two-match-types", "if header :is :contains \"subject\" \"x\" { keep; }",
	  "t.sieve:1:15: error: more than one match type: ':contains' after an earlier one", 1 },
	{ "unknown-capability", "require [\"vnd.leadgate\", \"fileinto\"];",
	  "t.sieve:1:26: error: unknown capability \"fileinto\" in require (leadgate supports "
	  "vnd.leadgate, envelope, body, regex, comparator-i;octet, comparator-i;ascii-casemap, environment)", 1 },
	/* more of the same kind */
	{ "envelope-without-require", "if envelope \"from\" \"a@b.c\" { keep; }",
	  "t.sieve:1:4: error: 'envelope' needs require \"envelope\"", 1 },
	{ "body-without-require", "if body :text :contains \"x\" { keep; }",
	  "t.sieve:1:4: error: 'body' needs require \"body\"", 1 },
	{ "regex-without-require", "if header :regex \"subject\" \"x\" { keep; }",
	  "t.sieve:1:11: error: ':regex' needs require \"regex\"", 1 },
	{ "unknown-comparator", "if header :comparator \"i;ascii-numeric\" \"x\" \"1\" { keep; }",
	  "t.sieve:1:23: error: unknown comparator \"i;ascii-numeric\" (use \"i;ascii-casemap\" "
	  "or \"i;octet\")", 1 },
	{ "two-comparators", "if header :comparator \"i;octet\" :comparator \"i;octet\" \"x\" \"1\" { keep; }",
	  "t.sieve:1:33: error: more than one comparator", 1 },
	{ "two-address-parts", "if address :domain :localpart \"from\" \"x\" { keep; }",
	  "t.sieve:1:20: error: more than one address part: ':localpart' after an earlier one", 1 },
	{ "unsupported-test", "if date :is \"date\" \"year\" \"2024\" { keep; }",
	  "t.sieve:1:4: error: unsupported test 'date'", 1 },
	{ "elsif-without-if", "keep;\nelsif true { keep; }",
	  "t.sieve:2:1: error: 'elsif' without a preceding 'if'", 1 },
	{ "else-without-if", "else { keep; }",
	  "t.sieve:1:1: error: 'else' without a preceding 'if'", 1 },
	{ "require-late", "keep;\nrequire \"vnd.leadgate\";",
	  "t.sieve:2:1: error: 'require' must come before any other command", 1 },
	{ "require-in-block", "if true { require \"body\"; }",
	  "t.sieve:1:11: error: 'require' is only allowed at the top of the file", 1 },
	{ "if-without-block", "if true;",
	  "t.sieve:1:8: error: 'if' needs a block '{ ... }'", 1 },
	{ "if-without-test", "if { keep; }",
	  "t.sieve:1:4: error: expected a test, found '{'", 1 },
	{ "if-junk-after-test", "if true false { keep; }",
	  "t.sieve:1:4: error: 'true' takes no test", 1 },
	{ "if-string-after-test", "if exists \"x\" \"y\" \"z\" { keep; }",
	  "t.sieve:1:15: error: too many arguments for 'exists'", 1 },
	{ "test-list-unclosed", "if anyof (true, false { keep; }",
	  "t.sieve:1:23: error: expected ',' or ')' in the test list, found '{'", 1 },
	{ "string-list-unclosed", "if header :is [\"a\", \"b\" \"x\" { keep; }",
	  "t.sieve:1:25: error: expected ',' or ']' in the string list, found a string", 1 },
	{ "empty-string-list", "if header :is [] \"x\" { keep; }",
	  "t.sieve:1:16: error: expected a string in the string list, found ']'", 1 },
	{ "size-without-number", "if size :over { keep; }",
	  "t.sieve:1:4: error: 'size' needs ':over' or ':under' and a number", 1 },
	{ "size-with-string", "if size :under \"10\" { keep; }",
	  "t.sieve:1:16: error: 'size' takes ':over' or ':under' followed by a number", 1 },
	{ "not-two-tests", "if not (true, false) { keep; }",
	  "t.sieve:1:4: error: 'not' takes exactly one test", 1 },
	{ "allof-without-parens", "if allof true { keep; }",
	  "t.sieve:1:4: error: 'allof' needs a list of tests in parentheses", 1 },
	{ "header-missing-keys", "if header \"subject\" { keep; }",
	  "t.sieve:1:4: error: 'header' needs a key list", 1 },
	{ "header-bad-name", "if header :is \"sub ject\" \"x\" { keep; }",
	  "t.sieve:1:15: error: invalid header name \"sub ject\"", 1 },
	{ "tag-after-positional", "if header \"subject\" :is \"x\" { keep; }",
	  "t.sieve:1:21: error: tag ':is' must come before the other arguments of 'header'", 1 },
	{ "envelope-part", "require \"envelope\";\nif envelope :is \"auth\" \"x\" { keep; }",
	  "t.sieve:2:17: error: unsupported envelope part \"auth\" (only \"from\" and \"to\")", 1 },
	{ "ticket-unknown-tag", "require \"vnd.leadgate\";\nticket :queue \"x\";",
	  "t.sieve:2:8: error: unknown tag ':queue' for 'ticket'", 1 },
	{ "ticket-tag-twice", "require \"vnd.leadgate\";\nticket :priority \"a\" :priority \"b\";",
	  "t.sieve:2:22: error: ':priority' given twice", 1 },
	{ "ticket-tag-no-value", "require \"vnd.leadgate\";\nticket :priority;",
	  "t.sieve:2:8: error: ':priority' needs a string", 1 },
	{ "ticket-tag-list", "require \"vnd.leadgate\";\nticket :type [\"a\", \"b\"];",
	  "t.sieve:2:14: error: ':type' takes one string, not a list", 1 },
	{ "ticket-bad-assign", "require \"vnd.leadgate\";\nticket :assign \"nobody\";",
	  "t.sieve:2:16: error: ':assign' needs a mail address, not \"nobody\"", 1 },
	{ "ticket-empty", "require \"vnd.leadgate\";\nticket :organization \" \";",
	  "t.sieve:2:22: error: ':organization' must not be empty", 1 },
	{ "lead-ticket-tag", "require \"vnd.leadgate\";\nlead :priority \"high\";",
	  "t.sieve:2:6: error: unknown tag ':priority' for 'lead'", 1 },
	{ "spam-argument", "require \"vnd.leadgate\";\nspam \"now\";",
	  "t.sieve:2:6: error: unexpected string argument for 'spam'", 1 },
	{ "action-block", "keep { stop; }",
	  "t.sieve:1:6: error: 'keep' takes no block; end it with ';'", 1 },
	{ "stop-argument", "stop 1;",
	  "t.sieve:1:1: error: 'stop' takes no arguments", 1 },
	{ "stray-token", "keep; ;",
	  "t.sieve:1:7: error: expected a command, found ';'", 1 },
	{ "relational", "if header :count \"ge\" \"to\" \"2\" { keep; }",
	  "t.sieve:1:11: error: unsupported match type ':count' (relational is not supported)", 1 },
	{ "subaddress", "if address :detail \"to\" \"x\" { keep; }",
	  "t.sieve:1:12: error: unsupported address part ':detail' (subaddress is not supported)", 1 },
	{ "body-raw", "require \"body\";\nif body :raw :contains \"x\" { keep; }",
	  "t.sieve:2:9: error: unsupported body transform ':raw' (only ':text')", 1 },
	/* several independent errors are all reported, in source order */
	{ "several", "if foo { keep; }\nkeep\nstop;\nredirect \"x\";\nif true { keep; }}",
	  "t.sieve:1:4: error: unknown test 'foo'", 4 },
	/* columns count characters, not bytes */
	{ "utf8-columns", "if header :is \"subject\" \"Grüße\" :is { keep; }",
	  "t.sieve:1:33: error: tag ':is' must come before the other arguments of 'header'", 1 },
	{ "nesting", NULL, "t.sieve:1:", 0 },
};

static char *
deep_nesting(void)
{
	GString *s = g_string_new("if ");

	for (int i = 0; i < 200; i++)
		g_string_append(s, "not ");
	g_string_append(s, "true { keep; }");
	return g_string_free(s, FALSE);
}

static void
test_parse_error(gconstpointer data)
{
	const error_case *c = data;
	g_autofree char *src = c->src ? g_strdup(c->src) : deep_nesting();
	rules_file *f = NULL;
	g_autoptr(GPtrArray) d = parse(src, &f);

	for (guint i = 0; i < d->len; i++)
		g_test_message("%s", (char *)g_ptr_array_index(d, i));
	g_assert_null(f);
	g_assert_cmpuint(d->len, >=, 1);
	if (c->count == 0) {   /* only the start is fixed */
		g_assert_true(g_str_has_prefix(g_ptr_array_index(d, 0), c->diag));
		return;
	}
	g_assert_cmpstr(g_ptr_array_index(d, 0), ==, c->diag);
	g_assert_cmpuint(d->len, ==, c->count);
}

static void
test_parse_many_errors(void)
{
	GString *s = g_string_new(NULL);
	rules_file *f = NULL;
	g_autoptr(GPtrArray) d = NULL;

	for (int i = 0; i < 500; i++)
		g_string_append(s, "frob;\n");
	d = parse(s->str, &f);
	g_string_free(s, TRUE);
	g_assert_cmpuint(d->len, ==, RULES_DIAG_MAX);
	g_assert_true(g_str_has_suffix(g_ptr_array_index(d, RULES_DIAG_MAX - 1),
	                               "too many errors; giving up on this file"));
}

/* The parser must survive any bytes: random input never crashes it and
 * either compiles or reports an error. */
static void
test_parse_fuzz(void)
{
	static const char *const pieces[] = {
		"if", "elsif", "else", "{", "}", "(", ")", "[", "]", ",", ";", ":is",
		":regex", "\"x\"", "\"", "text:\n", "\n.\n", "/*", "*/", "#", "\n",
		"header", "allof", "not", "true", "ticket", "require", "\"vnd.leadgate\"",
		"10K", "size", ":over", "\\", "\xC3", "address", ":domain", "keep", "stop",
	};
	GRand *rnd = g_rand_new_with_seed(5228);

	for (int round = 0; round < 2000; round++) {
		GString *s = g_string_new(NULL);
		rules_file *f = NULL;
		g_autoptr(GPtrArray) d = NULL;
		int n = g_rand_int_range(rnd, 1, 40);

		for (int i = 0; i < n; i++) {
			g_string_append(s, pieces[g_rand_int_range(rnd, 0, G_N_ELEMENTS(pieces))]);
			g_string_append_c(s, ' ');
		}
		d = parse(s->str, &f);
		rules_file_free(f);
		g_string_free(s, TRUE);
	}
	/* and plain random bytes, biased towards the grammar's characters */
	for (int round = 0; round < 3000; round++) {
		static const char chars[] = "{}()[],;:\"\\#/*.\n\r\t abcifs0123456789KMGtext:";
		char buf[200];
		int n = g_rand_int_range(rnd, 1, (int)sizeof buf);
		rules_file *f = NULL;
		g_autoptr(GPtrArray) d = NULL;
		GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
		rules_diag dg = { "t.sieve", lines, 0 };

		for (int i = 0; i < n; i++)
			buf[i] = g_rand_boolean(rnd) ? chars[g_rand_int_range(rnd, 0, sizeof chars - 1)]
			                             : (char)g_rand_int_range(rnd, 0, 256);
		/* with the length given, NUL bytes are input too */
		f = rules_parse_file("t.sieve", buf, (gsize)n, &dg);
		g_assert_true((f == NULL) == (lines->len > 0));
		rules_file_free(f);
		d = lines;
	}
	g_rand_free(rnd);
}

/* ---- the loader ---------------------------------------------------------- */

static char *
make_dir(void)
{
	GError *error = NULL;
	char *dir = g_dir_make_tmp("rules-test-XXXXXX", &error);

	g_assert_no_error(error);
	return dir;
}

static void
write_file(const char *dir, const char *name, const char *text)
{
	g_autofree char *p = g_build_filename(dir, name, NULL);
	GError *error = NULL;

	g_file_set_contents(p, text, -1, &error);
	g_assert_no_error(error);
}

static void
remove_dir(const char *dir)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *n;

	while (d && (n = g_dir_read_name(d)) != NULL) {
		g_autofree char *p = g_build_filename(dir, n, NULL);

		g_unlink(p);
	}
	if (d)
		g_dir_close(d);
	g_rmdir(dir);
}

static void
test_load_dir(void)
{
	g_autofree char *dir = make_dir();
	GError *error = NULL;
	lg_rules *r;
	rules_file *f;

	write_file(dir, "20-b.sieve", "keep;");
	write_file(dir, "10-a.sieve", "stop;");
	write_file(dir, "README", "not a rule file");
	write_file(dir, ".hidden.sieve", "junk junk");
	write_file(dir, "30-c.sieve.orig", "junk junk");
	r = lg_rules_load(dir, NULL, &error);
	g_assert_no_error(error);
	g_assert_nonnull(r);
	g_assert_cmpuint(lg_rules_count(r), ==, 2);
	f = g_ptr_array_index(r->files, 0);
	g_assert_cmpstr(f->name, ==, "10-a.sieve");
	f = g_ptr_array_index(r->files, 1);
	g_assert_cmpstr(f->name, ==, "20-b.sieve");
	lg_rules_free(r);
	remove_dir(dir);
}

static void
test_load_refused_whole(void)
{
	g_autofree char *dir = make_dir();
	g_autofree char *want = NULL;
	GError *error = NULL;
	lg_rules *r;

	write_file(dir, "10-good.sieve", "keep;\n");
	write_file(dir, "20-bad.sieve", "keep;\nfrob;\nif foo { keep; }\n");
	write_file(dir, "30-bad.sieve", "stop\n");
	r = lg_rules_load(dir, NULL, &error);
	g_assert_null(r);
	g_assert_error(error, LG_RULES_ERROR, LG_RULES_ERROR_SYNTAX);
	want = g_strdup_printf("%s/20-bad.sieve:2:1: error: unknown command 'frob'\n"
	                       "%s/20-bad.sieve:3:4: error: unknown test 'foo'\n"
	                       "%s/30-bad.sieve:1:5: error: missing ';' after 'stop' (found end of file)",
	                       dir, dir, dir);
	g_assert_cmpstr(error->message, ==, want);
	g_clear_error(&error);
	remove_dir(dir);
}

static void
test_load_many_errors(void)
{
	g_autofree char *dir = make_dir();
	GString *s = g_string_new(NULL);
	GError *error = NULL;
	g_auto(GStrv) lines = NULL;
	lg_rules *r;

	for (int i = 0; i < 100; i++)
		g_string_append(s, "frob;\n");
	write_file(dir, "10-a.sieve", s->str);
	write_file(dir, "20-b.sieve", s->str);
	g_string_free(s, TRUE);
	r = lg_rules_load(dir, NULL, &error);
	g_assert_null(r);
	g_assert_error(error, LG_RULES_ERROR, LG_RULES_ERROR_SYNTAX);
	/* the limit holds per file: the second file is reported too */
	lines = g_strsplit(error->message, "\n", -1);
	g_assert_cmpuint(g_strv_length(lines), ==, 2 * RULES_DIAG_MAX);
	g_assert_nonnull(strstr(lines[RULES_DIAG_MAX], "20-b.sieve:1:1: error: unknown command"));
	g_clear_error(&error);
	remove_dir(dir);
}

static void
test_load_missing(void)
{
	GError *error = NULL;
	lg_rules *r = lg_rules_load("/nonexistent/leadgate-rules", NULL, &error);

	/* a missing directory is an empty set */
	g_assert_no_error(error);
	g_assert_nonnull(r);
	g_assert_cmpuint(lg_rules_count(r), ==, 0);
	lg_rules_free(r);

	r = lg_rules_load("/nonexistent/x.sieve", NULL, &error);
	g_assert_null(r);
	g_assert_error(error, LG_RULES_ERROR, LG_RULES_ERROR_IO);
	g_clear_error(&error);
}

static void
test_load_file(void)
{
	g_autofree char *dir = make_dir();
	g_autofree char *p = g_build_filename(dir, "one.rules", NULL);
	GError *error = NULL;
	lg_rules *r;

	write_file(dir, "one.rules", "require \"vnd.leadgate\";\nspam;\n");
	r = lg_rules_load(p, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(lg_rules_count(r), ==, 1);
	lg_rules_free(r);
	remove_dir(dir);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/rules/lex/tokens", test_lex_tokens);
	g_test_add_func("/rules/lex/numbers", test_lex_numbers);
	g_test_add_func("/rules/lex/strings", test_lex_strings);
	g_test_add_func("/rules/lex/multiline", test_lex_multiline);
	g_test_add_func("/rules/lex/comments", test_lex_comments);
	g_test_add_func("/rules/lex/bom-crlf", test_lex_bom_crlf);
	g_test_add_func("/rules/lex/errors", test_lex_errors);
	g_test_add_func("/rules/parse/valid", test_parse_valid);
	g_test_add_func("/rules/parse/tree", test_parse_tree);
	for (gsize i = 0; i < G_N_ELEMENTS(error_cases); i++) {
		g_autofree char *name = g_strdup_printf("/rules/parse/error/%s", error_cases[i].label);

		g_test_add_data_func(name, &error_cases[i], test_parse_error);
	}
	g_test_add_func("/rules/parse/many-errors", test_parse_many_errors);
	g_test_add_func("/rules/parse/fuzz", test_parse_fuzz);
	g_test_add_func("/rules/load/dir", test_load_dir);
	g_test_add_func("/rules/load/refused-whole", test_load_refused_whole);
	g_test_add_func("/rules/load/many-errors", test_load_many_errors);
	g_test_add_func("/rules/load/missing", test_load_missing);
	g_test_add_func("/rules/load/file", test_load_file);
	return g_test_run();
}
