/*
 * NAME
 *   rules_parse.c - the rule files' parser and compiler.
 *
 * SUMMARY
 *   Two passes over one file:
 *
 *   1. Syntax (RFC 5228 §8.2): commands, arguments (string lists, numbers,
 *      tags), tests, test lists and blocks become a small syntax tree
 *      (syn_cmd / syn_test / syn_arg). Only "if" and "elsif" take a test
 *      here, so a command that runs into the next line is reported as a
 *      missing ';' rather than as a strange test. After a syntax error the
 *      parser skips to the next ';' or block and goes on, so one run
 *      reports every independent error.
 *
 *   2. Meaning: each command and test is checked against what leadgate
 *      supports (SPEC §4): require and its capabilities, if/elsif/else,
 *      stop, keep, and the vnd.leadgate actions ticket, lead and spam; the
 *      tests address, header, envelope, environment, exists, size, body, allof, anyof,
 *      not, true and false, with their comparators, match types and address
 *      parts. Keys are prepared for evaluation here: case-folded under
 *      i;ascii-casemap, :matches patterns compiled, :regex patterns compiled
 *      and JIT-compiled with PCRE2 (UTF mode, caseless under
 *      i;ascii-casemap; \w, \d, \b and [[:alpha:]] follow Unicode).
 *
 *   Nesting (blocks and tests) is limited to RULES_NEST_MAX levels so that
 *   no file can exhaust the stack.
 *
 * DIAGNOSTICS
 *   Positions: an unknown or unsupported command or test, and an action
 *   used without its require, at the identifier; a bad tag (second match
 *   type, unknown tag) at the tag; a bad string (capability, comparator,
 *   regex, header name, address) at the string; a missing ';' just after
 *   the last token of the command; a '}' with no block at that '}'; a block
 *   that is never closed at its '{'.
 */
#include <string.h>

#include "address.h"
#include "rules_int.h"

#define RULES_NEST_MAX 64

/* ---- syntax tree -------------------------------------------------------- */

typedef struct {
	char *text;
	gsize len;
	guint line, col;
} syn_str;

typedef enum { ARG_STRINGS, ARG_NUMBER, ARG_TAG } syn_arg_kind;

typedef struct {
	syn_arg_kind kind;
	guint line, col;
	GPtrArray *strings;  /* syn_str*; ARG_STRINGS */
	gboolean is_list;    /* written with [ ] */
	guint64 num;
	char *tag;           /* without ':', as written */
} syn_arg;

typedef struct syn_test syn_test;
struct syn_test {
	char *id;
	guint line, col;
	GPtrArray *args;     /* syn_arg* */
	GPtrArray *tests;    /* syn_test* */
	gboolean has_list;   /* tests written as ( ... ) */
};

typedef struct {
	char *id;
	guint line, col;
	guint end_line, end_col;  /* just after the last token before ';' / '{' */
	GPtrArray *args;
	syn_test *test;      /* if/elsif only */
	GPtrArray *block;    /* syn_cmd*, NULL when ended by ';' */
	guint block_line, block_col;
} syn_cmd;

static void
syn_str_free(gpointer p)
{
	syn_str *s = p;

	g_free(s->text);
	g_free(s);
}

static void
syn_arg_free(gpointer p)
{
	syn_arg *a = p;

	if (a->strings)
		g_ptr_array_unref(a->strings);
	g_free(a->tag);
	g_free(a);
}

static void
syn_test_free(gpointer p)
{
	syn_test *t = p;

	if (t == NULL)
		return;
	g_free(t->id);
	g_ptr_array_unref(t->args);
	g_ptr_array_unref(t->tests);
	g_free(t);
}

static void
syn_cmd_free(gpointer p)
{
	syn_cmd *c = p;

	g_free(c->id);
	g_ptr_array_unref(c->args);
	syn_test_free(c->test);
	if (c->block)
		g_ptr_array_unref(c->block);
	g_free(c);
}

/* ---- pass 1: syntax ------------------------------------------------------ */

typedef struct {
	rules_lexer lx;
	rules_token tok;
	guint prev_line, prev_col;   /* end of the token before tok */
	rules_diag *diag;
	int depth;
} parser;

static void
p_next(parser *p)
{
	p->prev_line = p->tok.end_line;
	p->prev_col = p->tok.end_col;
	rules_lex_next(&p->lx, &p->tok);
}

static void
p_error_found(parser *p, const char *what)
{
	g_autofree char *found = NULL;

	if (p->tok.kind == TOK_ERROR)
		return;   /* the lexer said it already */
	found = rules_token_describe(&p->tok);
	rules_diag_add(p->diag, p->tok.line, p->tok.col, "expected %s, found %s", what, found);
}

static gboolean
p_is_arg_start(const parser *p)
{
	switch (p->tok.kind) {
	case TOK_STRING: case TOK_LBRACKET: case TOK_NUMBER: case TOK_TAG:
		return TRUE;
	default:
		return FALSE;
	}
}

static syn_str *
syn_str_take(rules_token *tok)
{
	syn_str *s = g_new0(syn_str, 1);

	s->text = g_steal_pointer(&tok->text);
	s->len = tok->len;
	s->line = tok->line;
	s->col = tok->col;
	return s;
}

static syn_arg *
p_argument(parser *p)
{
	g_autoptr(GPtrArray) strings = NULL;
	syn_arg *a;

	if (p->tok.kind == TOK_NUMBER || p->tok.kind == TOK_TAG) {
		a = g_new0(syn_arg, 1);
		a->kind = p->tok.kind == TOK_NUMBER ? ARG_NUMBER : ARG_TAG;
		a->line = p->tok.line;
		a->col = p->tok.col;
		a->num = p->tok.num;
		a->tag = g_steal_pointer(&p->tok.text);
		p_next(p);
		return a;
	}
	strings = g_ptr_array_new_with_free_func(syn_str_free);
	a = g_new0(syn_arg, 1);
	a->kind = ARG_STRINGS;
	a->line = p->tok.line;
	a->col = p->tok.col;
	if (p->tok.kind == TOK_STRING) {
		g_ptr_array_add(strings, syn_str_take(&p->tok));
		p_next(p);
	} else {   /* '[' string *(',' string) ']' */
		a->is_list = TRUE;
		p_next(p);
		for (;;) {
			if (p->tok.kind != TOK_STRING) {
				p_error_found(p, "a string in the string list");
				syn_arg_free(a);
				return NULL;
			}
			g_ptr_array_add(strings, syn_str_take(&p->tok));
			p_next(p);
			if (p->tok.kind == TOK_COMMA) {
				p_next(p);
				continue;
			}
			if (p->tok.kind == TOK_RBRACKET) {
				p_next(p);
				break;
			}
			p_error_found(p, "',' or ']' in the string list");
			syn_arg_free(a);
			return NULL;
		}
	}
	a->strings = g_steal_pointer(&strings);
	return a;
}

static gboolean
p_arguments(parser *p, GPtrArray *args)
{
	while (p_is_arg_start(p)) {
		syn_arg *a = p_argument(p);

		if (a == NULL)
			return FALSE;
		g_ptr_array_add(args, a);
	}
	return TRUE;
}

static syn_test *
p_test(parser *p)
{
	syn_test *t;

	if (p->tok.kind != TOK_IDENT) {
		p_error_found(p, "a test");
		return NULL;
	}
	if (p->depth >= RULES_NEST_MAX) {
		rules_diag_add(p->diag, p->tok.line, p->tok.col,
		               "tests nested too deeply (more than %d levels)", RULES_NEST_MAX);
		return NULL;
	}
	t = g_new0(syn_test, 1);
	t->id = g_steal_pointer(&p->tok.text);
	t->line = p->tok.line;
	t->col = p->tok.col;
	t->args = g_ptr_array_new_with_free_func(syn_arg_free);
	t->tests = g_ptr_array_new_with_free_func(syn_test_free);
	p_next(p);
	if (!p_arguments(p, t->args))
		goto fail;
	p->depth++;
	if (p->tok.kind == TOK_LPAREN) {
		t->has_list = TRUE;
		p_next(p);
		for (;;) {
			syn_test *sub = p_test(p);

			if (sub == NULL)
				goto fail_depth;
			g_ptr_array_add(t->tests, sub);
			if (p->tok.kind == TOK_COMMA) {
				p_next(p);
				continue;
			}
			if (p->tok.kind == TOK_RPAREN) {
				p_next(p);
				break;
			}
			p_error_found(p, "',' or ')' in the test list");
			goto fail_depth;
		}
	} else if (p->tok.kind == TOK_IDENT) {
		syn_test *sub = p_test(p);

		if (sub == NULL)
			goto fail_depth;
		g_ptr_array_add(t->tests, sub);
	}
	p->depth--;
	return t;
fail_depth:
	p->depth--;
fail:
	syn_test_free(t);
	return NULL;
}

/* After an error inside a command: skip to the end of that command (a ';',
 * consumed, or a block, skipped whole) or to a '}' / the end of the file. */
static void
p_recover(parser *p)
{
	guint open_line = 0, open_col = 0;
	int depth = 0;

	for (;;) {
		switch (p->tok.kind) {
		case TOK_EOF:
			if (depth > 0)
				rules_diag_add(p->diag, open_line, open_col,
				               "unbalanced braces: this '{' is never closed");
			return;
		case TOK_ERROR:
			return;
		case TOK_SEMI:
			p_next(p);
			if (depth == 0)
				return;
			break;
		case TOK_LBRACE:
			if (depth == 0) {
				open_line = p->tok.line;
				open_col = p->tok.col;
			}
			depth++;
			p_next(p);
			break;
		case TOK_RBRACE:
			if (depth == 0)
				return;
			depth--;
			p_next(p);
			if (depth == 0)
				return;
			break;
		default:
			p_next(p);
			break;
		}
	}
}

static void p_commands(parser *p, GPtrArray *out, gboolean top);

static syn_cmd *
p_command(parser *p)
{
	syn_cmd *c = g_new0(syn_cmd, 1);
	gboolean wants_test;

	c->id = g_steal_pointer(&p->tok.text);
	c->line = p->tok.line;
	c->col = p->tok.col;
	c->args = g_ptr_array_new_with_free_func(syn_arg_free);
	p_next(p);
	if (!p_arguments(p, c->args))
		goto fail;
	wants_test = g_ascii_strcasecmp(c->id, "if") == 0 ||
	             g_ascii_strcasecmp(c->id, "elsif") == 0;
	if (wants_test) {
		c->test = p_test(p);
		if (c->test == NULL)
			goto fail;
	}
	c->end_line = p->prev_line;
	c->end_col = p->prev_col;
	if (p->tok.kind == TOK_SEMI) {
		p_next(p);
		return c;
	}
	if (p->tok.kind == TOK_LBRACE) {
		if (p->depth >= RULES_NEST_MAX) {
			rules_diag_add(p->diag, p->tok.line, p->tok.col,
			               "blocks nested too deeply (more than %d levels)", RULES_NEST_MAX);
			goto fail;
		}
		c->block_line = p->tok.line;
		c->block_col = p->tok.col;
		c->block = g_ptr_array_new_with_free_func(syn_cmd_free);
		p_next(p);
		p->depth++;
		p_commands(p, c->block, FALSE);
		p->depth--;
		if (p->tok.kind == TOK_RBRACE) {
			p_next(p);
			return c;
		}
		if (p->tok.kind == TOK_EOF)
			rules_diag_add(p->diag, c->block_line, c->block_col,
			               "unbalanced braces: this '{' is never closed");
		syn_cmd_free(c);
		return NULL;
	}
	if (p->tok.kind != TOK_ERROR) {
		g_autofree char *found = rules_token_describe(&p->tok);

		if (wants_test)
			rules_diag_add(p->diag, p->tok.line, p->tok.col,
			               "expected '{' after the test of '%s', found %s", c->id, found);
		else
			rules_diag_add(p->diag, p->prev_line, p->prev_col,
			               "missing ';' after '%s' (found %s)", c->id, found);
		/* When the next command simply starts on its own line, the
		 * semicolon was forgotten: carry on from there. */
		if (!wants_test && p->tok.kind == TOK_IDENT && p->tok.line > p->prev_line)
			return c;
	}
fail:
	p_recover(p);
	syn_cmd_free(c);
	return NULL;
}

static void
p_commands(parser *p, GPtrArray *out, gboolean top)
{
	for (;;) {
		switch (p->tok.kind) {
		case TOK_EOF:
		case TOK_ERROR:
			return;
		case TOK_RBRACE:
			if (!top)
				return;
			rules_diag_add(p->diag, p->tok.line, p->tok.col,
			               "unbalanced braces: '}' without a matching '{'");
			p_next(p);
			break;
		case TOK_IDENT: {
			syn_cmd *c = p_command(p);

			if (c != NULL)
				g_ptr_array_add(out, c);
			break;
		}
		default:
			p_error_found(p, "a command");
			if (p->tok.kind == TOK_ERROR)
				return;
			p_next(p);
			p_recover(p);
			break;
		}
		if (rules_diag_count(p->diag) >= RULES_DIAG_MAX)
			return;
	}
}

/* ---- pass 2: meaning ----------------------------------------------------- */

enum {
	CAP_LEADGATE = 1 << 0,
	CAP_ENVELOPE = 1 << 1,
	CAP_BODY     = 1 << 2,
	CAP_REGEX    = 1 << 3,
	CAP_OCTET    = 1 << 4,
	CAP_CASEMAP  = 1 << 5,
	CAP_ENVIRONMENT = 1 << 6
};

static const struct {
	const char *name;
	guint bit;
} capabilities[] = {
	{ "vnd.leadgate", CAP_LEADGATE },
	{ "envelope", CAP_ENVELOPE },
	{ "body", CAP_BODY },
	{ "regex", CAP_REGEX },
	{ "comparator-i;octet", CAP_OCTET },
	{ "comparator-i;ascii-casemap", CAP_CASEMAP },
	{ "environment", CAP_ENVIRONMENT },
};

/* The environment items (RFC 5183) leadgate knows (rules_eval.c); any
 * other name is refused, so that a typo does not make a test always false. */
static const char *const environment_items[] = {
	"vnd.leadgate.spf", "vnd.leadgate.dmarc", "vnd.leadgate.helo", "remote-ip", "remote-host", "name",
	NULL
};

/* Sieve commands of RFC 5228 and its extensions that leadgate knows of but
 * does not do: it files no mail, it only decides leads and tickets. */
static const char *const unsupported_commands[] = {
	"discard", "redirect", "fileinto", "reject", "ereject", "vacation",
	"setflag", "addflag", "removeflag", "set", "notify", "addheader",
	"deleteheader", "include", "return", "global", "foreverypart", "break",
	"replace", "enclose", "extracttext", "convert", "error", "denotify",
	NULL
};

static const char *const unsupported_tests[] = {
	"string", "date", "currentdate", "hasflag", "duplicate",
	"mailboxexists", "metadata", "metadataexists", "servermetadata",
	"servermetadataexists", "ihave", "spamtest", "virustest",
	"valid_notify_method", "notify_method_capability", "valid_ext_list",
	"specialuse_exists",
	NULL
};

typedef struct {
	rules_diag *diag;
	guint caps;
	const char *path;
	pcre2_compile_context *cctx;
	int depth;
	gboolean syntax_failed;   /* dropped commands: an else may look orphaned */
} compiler;

static gboolean
word_in(const char *w, const char *const *list)
{
	for (; *list; list++)
		if (g_ascii_strcasecmp(w, *list) == 0)
			return TRUE;
	return FALSE;
}

static gboolean
is_word(const char *w, const char *name)
{
	return g_ascii_strcasecmp(w, name) == 0;
}

static void
rules_key_clear(rules_key *k)
{
	g_free(k->str);
	g_free(k->orig);
	g_free(k->glob);
	if (k->re)
		pcre2_code_free(k->re);
}

static void
rules_test_free(rules_test *t)
{
	if (t == NULL)
		return;
	g_strfreev(t->names);
	for (guint i = 0; i < t->n_keys; i++)
		rules_key_clear(&t->keys[i]);
	g_free(t->keys);
	for (guint i = 0; i < t->n_sub; i++)
		rules_test_free(t->sub[i]);
	g_free(t->sub);
	g_free(t);
}

static void
rules_branch_free(gpointer p)
{
	rules_branch *b = p;

	rules_test_free(b->test);
	if (b->block)
		g_ptr_array_unref(b->block);
	g_free(b);
}

static void
rules_cmd_free(gpointer p)
{
	rules_cmd *c = p;

	if (c->branches)
		g_ptr_array_unref(c->branches);
	g_free(c->organization);
	g_free(c->priority);
	g_free(c->type);
	g_free(c->assign);
	g_free(c->status);
	g_free(c->source);
	g_free(c->stage);
	g_free(c->text);
	g_free(c);
}

void
rules_file_free(rules_file *f)
{
	if (f == NULL)
		return;
	g_free(f->path);
	g_free(f->name);
	if (f->cmds)
		g_ptr_array_unref(f->cmds);
	g_free(f);
}

/* -- :matches patterns -- */

void
rules_glob_compile(rules_key *key, const char *pat, gboolean fold)
{
	GString *lit = g_string_new(NULL);
	GArray *ops = g_array_new(FALSE, FALSE, sizeof(rules_glob));
	rules_glob cur = { GLOB_LIT, 0, 0 };
	gboolean in_lit = FALSE;

	for (const char *s = pat; *s; s++) {
		char c = *s;

		if (c == '*' || c == '?') {
			rules_glob g = { c == '*' ? GLOB_STAR : GLOB_ONE, 0, 0 };

			if (in_lit) {
				g_array_append_val(ops, cur);
				in_lit = FALSE;
			}
			/* "**" is "*" */
			if (g.op == GLOB_STAR && ops->len > 0 &&
			    g_array_index(ops, rules_glob, ops->len - 1).op == GLOB_STAR)
				continue;
			g_array_append_val(ops, g);
			continue;
		}
		if (c == '\\' && s[1] != '\0')
			c = *++s;
		if (!in_lit) {
			cur.op = GLOB_LIT;
			cur.off = (guint)lit->len;
			cur.len = 0;
			in_lit = TRUE;
		}
		g_string_append_c(lit, fold ? g_ascii_tolower(c) : c);
		cur.len++;
	}
	if (in_lit)
		g_array_append_val(ops, cur);
	g_free(key->str);
	key->len = lit->len;
	key->str = g_string_free(lit, FALSE);
	key->n_glob = ops->len;
	key->glob = (rules_glob *)(void *)g_array_free(ops, FALSE);
}

static gsize
utf8_next(const char *s, gsize i, gsize len)
{
	i++;
	while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
		i++;
	return i;
}

/* Wildcard match with one backtracking point (the last '*'): at most
 * O(length of value x length of pattern), never exponential. '?' takes one
 * UTF-8 character. */
gboolean
rules_glob_match(const rules_key *key, const char *s, gsize len)
{
	guint p = 0, star_p = 0;
	gsize i = 0, star_i = 0;
	gboolean have_star = FALSE;

	for (;;) {
		if (p < key->n_glob && key->glob[p].op == GLOB_STAR) {
			p++;
			star_p = p;
			star_i = i;
			have_star = TRUE;
			continue;
		}
		if (p == key->n_glob) {
			if (i == len)
				return TRUE;
		} else if (key->glob[p].op == GLOB_LIT) {
			const rules_glob *g = &key->glob[p];

			if (len - i >= g->len && memcmp(s + i, key->str + g->off, g->len) == 0) {
				i += g->len;
				p++;
				continue;
			}
		} else if (i < len) {   /* GLOB_ONE */
			i = utf8_next(s, i, len);
			p++;
			continue;
		}
		/* mismatch: let the last '*' take one more character */
		if (!have_star || star_i >= len)
			return FALSE;
		star_i = utf8_next(s, star_i, len);
		i = star_i;
		p = star_p;
	}
}

/* -- argument helpers -- */

typedef struct {
	rules_match match;
	gboolean have_match;
	rules_cmp cmp;
	gboolean have_cmp;
	rules_part part;
	gboolean have_part;
	gboolean have_text;   /* body :text */
	GPtrArray *positional;  /* syn_arg*, borrowed */
	gboolean over, have_size;
} test_opts;

static const syn_str *
arg_single_string(compiler *cc, const syn_arg *a, const char *what)
{
	if (a == NULL || a->kind != ARG_STRINGS) {
		rules_diag_add(cc->diag, a ? a->line : 0, a ? a->col : 0, "%s needs a string", what);
		return NULL;
	}
	if (a->strings->len != 1) {
		rules_diag_add(cc->diag, a->line, a->col, "%s takes one string, not a list", what);
		return NULL;
	}
	return g_ptr_array_index(a->strings, 0);
}

/* Reads the tagged arguments of a test that takes a comparator and a match
 * type (and an address part when @parts, a body transform when @body),
 * then the positional ones. Returns FALSE after a diagnostic. */
static gboolean
test_read_args(compiler *cc, const syn_test *st, gboolean parts, gboolean body,
               test_opts *o)
{
	gboolean ok = TRUE;
	guint i;

	o->match = MT_IS;
	o->cmp = CMP_CASEMAP;
	o->part = AP_ALL;
	for (i = 0; i < st->args->len; i++) {
		const syn_arg *a = g_ptr_array_index(st->args, i);
		const char *t;

		if (a->kind != ARG_TAG) {
			g_ptr_array_add(o->positional, (gpointer)a);
			continue;
		}
		t = a->tag;
		if (o->positional->len > 0) {
			rules_diag_add(cc->diag, a->line, a->col,
			               "tag ':%s' must come before the other arguments of '%s'",
			               t, st->id);
			ok = FALSE;
			continue;
		}
		if (is_word(t, "is") || is_word(t, "contains") || is_word(t, "matches") ||
		    is_word(t, "regex")) {
			rules_match m = is_word(t, "is") ? MT_IS : is_word(t, "contains") ? MT_CONTAINS :
			                is_word(t, "matches") ? MT_MATCHES : MT_REGEX;
			if (o->have_match) {
				rules_diag_add(cc->diag, a->line, a->col,
				               "more than one match type: ':%s' after an earlier one", t);
				ok = FALSE;
				continue;
			}
			if (m == MT_REGEX && !(cc->caps & CAP_REGEX)) {
				rules_diag_add(cc->diag, a->line, a->col,
				               "':regex' needs require \"regex\"");
				ok = FALSE;
			}
			o->match = m;
			o->have_match = TRUE;
		} else if (is_word(t, "count") || is_word(t, "value")) {
			rules_diag_add(cc->diag, a->line, a->col,
			               "unsupported match type ':%s' (relational is not supported)", t);
			ok = FALSE;
			if (i + 1 < st->args->len)
				i++;   /* its relation string */
		} else if (is_word(t, "comparator")) {
			const syn_arg *v = i + 1 < st->args->len ? g_ptr_array_index(st->args, i + 1) : NULL;
			const syn_str *s;

			if (v == NULL || v->kind != ARG_STRINGS) {
				rules_diag_add(cc->diag, a->line, a->col, "':comparator' needs a string");
				ok = FALSE;
				continue;
			}
			i++;
			if (o->have_cmp) {
				rules_diag_add(cc->diag, a->line, a->col, "more than one comparator");
				ok = FALSE;
				continue;
			}
			o->have_cmp = TRUE;
			s = arg_single_string(cc, v, "':comparator'");
			if (s == NULL) {
				ok = FALSE;
			} else if (g_ascii_strcasecmp(s->text, "i;ascii-casemap") == 0) {
				o->cmp = CMP_CASEMAP;
			} else if (g_ascii_strcasecmp(s->text, "i;octet") == 0) {
				o->cmp = CMP_OCTET;
			} else {
				rules_diag_add(cc->diag, s->line, s->col,
				               "unknown comparator \"%s\" (use \"i;ascii-casemap\" or \"i;octet\")",
				               s->text);
				ok = FALSE;
			}
		} else if (parts && (is_word(t, "all") || is_word(t, "localpart") ||
		                     is_word(t, "domain"))) {
			if (o->have_part) {
				rules_diag_add(cc->diag, a->line, a->col,
				               "more than one address part: ':%s' after an earlier one", t);
				ok = FALSE;
				continue;
			}
			o->have_part = TRUE;
			o->part = is_word(t, "all") ? AP_ALL : is_word(t, "localpart") ? AP_LOCALPART : AP_DOMAIN;
		} else if (parts && (is_word(t, "user") || is_word(t, "detail"))) {
			rules_diag_add(cc->diag, a->line, a->col,
			               "unsupported address part ':%s' (subaddress is not supported)", t);
			ok = FALSE;
		} else if (body && is_word(t, "text")) {
			if (o->have_text) {
				rules_diag_add(cc->diag, a->line, a->col, "':text' given twice");
				ok = FALSE;
			}
			o->have_text = TRUE;
		} else if (body && (is_word(t, "raw") || is_word(t, "content"))) {
			rules_diag_add(cc->diag, a->line, a->col,
			               "unsupported body transform ':%s' (only ':text')", t);
			ok = FALSE;
			if (is_word(t, "content") && i + 1 < st->args->len)
				i++;
		} else {
			rules_diag_add(cc->diag, a->line, a->col, "unknown tag ':%s' for '%s'", t, st->id);
			ok = FALSE;
		}
	}
	return ok;
}

static gboolean
header_name_ok(const char *s)
{
	if (*s == '\0')
		return FALSE;
	for (; *s; s++)
		if ((unsigned char)*s < 33 || (unsigned char)*s > 126 || *s == ':')
			return FALSE;
	return TRUE;
}

/* Positional string-list argument number @n of @o (or a diagnostic). */
static const syn_arg *
test_positional(compiler *cc, const syn_test *st, const test_opts *o, guint n,
                const char *what)
{
	const syn_arg *a;

	if (n >= o->positional->len) {
		rules_diag_add(cc->diag, st->line, st->col, "'%s' needs %s", st->id, what);
		return NULL;
	}
	a = g_ptr_array_index(o->positional, n);
	if (a->kind != ARG_STRINGS) {
		rules_diag_add(cc->diag, a->line, a->col, "'%s' needs %s here, not a number",
		               st->id, what);
		return NULL;
	}
	return a;
}

static gboolean
test_no_extra(compiler *cc, const syn_test *st, const test_opts *o, guint n)
{
	if (o->positional->len > n) {
		const syn_arg *a = g_ptr_array_index(o->positional, n);

		rules_diag_add(cc->diag, a->line, a->col, "too many arguments for '%s'", st->id);
		return FALSE;
	}
	return TRUE;
}

static char **
names_from(compiler *cc, const syn_arg *a, gboolean envelope, gboolean *ok)
{
	GPtrArray *v = g_ptr_array_new();

	for (guint i = 0; i < a->strings->len; i++) {
		const syn_str *s = g_ptr_array_index(a->strings, i);

		if (envelope) {
			if (g_ascii_strcasecmp(s->text, "from") != 0 &&
			    g_ascii_strcasecmp(s->text, "to") != 0) {
				rules_diag_add(cc->diag, s->line, s->col,
				               "unsupported envelope part \"%s\" (only \"from\" and \"to\")",
				               s->text);
				*ok = FALSE;
			}
		} else if (!header_name_ok(s->text)) {
			rules_diag_add(cc->diag, s->line, s->col, "invalid header name \"%s\"", s->text);
			*ok = FALSE;
		}
		g_ptr_array_add(v, g_ascii_strdown(s->text, -1));
	}
	g_ptr_array_add(v, NULL);
	return (char **)g_ptr_array_free(v, FALSE);
}

/* A key of an address or envelope test under i;ascii-casemap: addresses
 * are compared in their canonical form (lower case, Unicode domain), so the
 * key is brought to it too. */
static char *
fold_address_key(const char *key, rules_part part, rules_match match)
{
	g_autofree char *low = g_utf8_strdown(key, -1);
	const char *at;

	if (match != MT_IS || strstr(low, "xn--") == NULL)
		return g_steal_pointer(&low);
	if (part == AP_DOMAIN) {
		char *u = g_hostname_to_unicode(low);

		return u ? u : g_steal_pointer(&low);
	}
	if (part == AP_ALL && (at = strrchr(low, '@')) != NULL) {
		g_autofree char *u = g_hostname_to_unicode(at + 1);

		if (u)
			return g_strdup_printf("%.*s@%s", (int)(at - low), low, u);
	}
	return g_steal_pointer(&low);
}

static gboolean
keys_from(compiler *cc, rules_test *t, const syn_arg *a)
{
	gboolean ok = TRUE;
	gboolean addr = t->kind == T_ADDRESS || t->kind == T_ENVELOPE;
	gboolean fold = t->cmp == CMP_CASEMAP;

	t->n_keys = a->strings->len;
	t->keys = g_new0(rules_key, t->n_keys);
	for (guint i = 0; i < t->n_keys; i++) {
		const syn_str *s = g_ptr_array_index(a->strings, i);
		rules_key *k = &t->keys[i];
		g_autofree char *folded = NULL;

		k->orig = g_strdup(s->text);
		k->line = s->line;
		k->col = s->col;
		if (fold && t->match != MT_REGEX)
			folded = addr ? fold_address_key(s->text, t->part, t->match)
			              : g_ascii_strdown(s->text, -1);
		switch (t->match) {
		case MT_IS:
		case MT_CONTAINS:
			k->str = folded ? g_steal_pointer(&folded) : g_strdup(s->text);
			k->len = strlen(k->str);
			break;
		case MT_MATCHES:
			rules_glob_compile(k, folded ? folded : s->text, FALSE);
			break;
		case MT_REGEX: {
			int errcode = 0;
			PCRE2_SIZE erroff = 0;
			guint32 opts = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;

			if (fold)
				opts |= PCRE2_CASELESS;
			k->re = pcre2_compile((PCRE2_SPTR)s->text, s->len, opts, &errcode, &erroff,
			                      cc->cctx);
			if (k->re == NULL) {
				PCRE2_UCHAR buf[256];

				pcre2_get_error_message(errcode, buf, sizeof buf);
				rules_diag_add(cc->diag, s->line, s->col,
				               "invalid regular expression \"%s\": %s at offset %zu",
				               s->text, (const char *)buf, (size_t)erroff);
				ok = FALSE;
				break;
			}
			/* JIT where available; the interpreter serves otherwise */
			(void)pcre2_jit_compile(k->re, PCRE2_JIT_COMPLETE);
			break;
		}
		}
	}
	return ok;
}

static rules_test *compile_test(compiler *cc, const syn_test *st);

static gboolean
test_no_subtests(compiler *cc, const syn_test *st)
{
	if (st->tests->len > 0 || st->has_list) {
		rules_diag_add(cc->diag, st->line, st->col, "'%s' takes no test", st->id);
		return FALSE;
	}
	return TRUE;
}

static rules_test *
compile_test(compiler *cc, const syn_test *st)
{
	rules_test *t = g_new0(rules_test, 1);
	g_autoptr(GPtrArray) positional = g_ptr_array_new();
	test_opts o = { 0 };
	gboolean ok = TRUE;
	const char *id = st->id;

	o.positional = positional;
	t->line = st->line;
	t->col = st->col;

	if (is_word(id, "address") || is_word(id, "header") || is_word(id, "envelope") ||
	    is_word(id, "body")) {
		gboolean body = is_word(id, "body");
		gboolean parts = is_word(id, "address") || is_word(id, "envelope");
		const syn_arg *names = NULL, *keys;
		guint nkeys_at = body ? 0 : 1;

		t->kind = is_word(id, "address") ? T_ADDRESS : is_word(id, "header") ? T_HEADER :
		          is_word(id, "envelope") ? T_ENVELOPE : T_BODY;
		if (t->kind == T_ENVELOPE && !(cc->caps & CAP_ENVELOPE)) {
			rules_diag_add(cc->diag, st->line, st->col, "'envelope' needs require \"envelope\"");
			ok = FALSE;
		}
		if (t->kind == T_BODY && !(cc->caps & CAP_BODY)) {
			rules_diag_add(cc->diag, st->line, st->col, "'body' needs require \"body\"");
			ok = FALSE;
		}
		ok = test_read_args(cc, st, parts, body, &o) && ok;
		ok = test_no_subtests(cc, st) && ok;
		t->match = o.match;
		t->cmp = o.cmp;
		t->part = o.part;
		if (!body) {
			names = test_positional(cc, st, &o, 0,
			                        t->kind == T_ENVELOPE ? "an envelope part list and a key list"
			                                              : "a header list and a key list");
			if (names == NULL) {
				ok = FALSE;
				goto out;
			}
			t->names = names_from(cc, names, t->kind == T_ENVELOPE, &ok);
		}
		keys = test_positional(cc, st, &o, nkeys_at, "a key list");
		if (keys == NULL) {
			ok = FALSE;
			goto out;
		}
		ok = test_no_extra(cc, st, &o, nkeys_at + 1) && ok;
		if (ok)
			ok = keys_from(cc, t, keys);
	} else if (is_word(id, "environment")) {
		/* environment [COMPARATOR] [MATCH-TYPE] <name: string> <key-list> */
		const syn_arg *name, *keys;

		t->kind = T_ENVIRONMENT;
		if (!(cc->caps & CAP_ENVIRONMENT)) {
			rules_diag_add(cc->diag, st->line, st->col, "'environment' needs require \"environment\"");
			ok = FALSE;
		}
		ok = test_read_args(cc, st, FALSE, FALSE, &o) && ok;
		ok = test_no_subtests(cc, st) && ok;
		t->match = o.match;
		t->cmp = o.cmp;
		name = test_positional(cc, st, &o, 0, "an item name and a key list");
		keys = test_positional(cc, st, &o, 1, "a key list");
		if (name == NULL || keys == NULL) {
			ok = FALSE;
			goto out;
		}
		ok = test_no_extra(cc, st, &o, 2) && ok;
		{
			GPtrArray *v = g_ptr_array_new();

			for (guint i = 0; i < name->strings->len; i++) {
				const syn_str *s = g_ptr_array_index(name->strings, i);

				if (!word_in(s->text, environment_items)) {
					rules_diag_add(cc->diag, s->line, s->col,
					               "unknown environment item \"%s\" (leadgate knows vnd.leadgate.spf, "
					               "vnd.leadgate.dmarc, vnd.leadgate.helo, remote-ip, remote-host, name)",
					               s->text);
					ok = FALSE;
				}
				g_ptr_array_add(v, g_ascii_strdown(s->text, -1));
			}
			g_ptr_array_add(v, NULL);
			t->names = (char **)g_ptr_array_free(v, FALSE);
		}
		if (ok)
			ok = keys_from(cc, t, keys);
	} else if (is_word(id, "exists")) {
		const syn_arg *names;

		t->kind = T_EXISTS;
		ok = test_no_subtests(cc, st);
		for (guint i = 0; i < st->args->len; i++) {
			const syn_arg *a = g_ptr_array_index(st->args, i);

			if (a->kind == ARG_TAG) {
				rules_diag_add(cc->diag, a->line, a->col, "unknown tag ':%s' for 'exists'", a->tag);
				ok = FALSE;
			} else {
				g_ptr_array_add(positional, (gpointer)a);
			}
		}
		names = test_positional(cc, st, &o, 0, "a header list");
		if (names == NULL) {
			ok = FALSE;
			goto out;
		}
		ok = test_no_extra(cc, st, &o, 1) && ok;
		t->names = names_from(cc, names, FALSE, &ok);
	} else if (is_word(id, "size")) {
		gboolean have_limit = FALSE, have_dir = FALSE;

		t->kind = T_SIZE;
		ok = test_no_subtests(cc, st);
		for (guint i = 0; i < st->args->len; i++) {
			const syn_arg *a = g_ptr_array_index(st->args, i);

			if (a->kind == ARG_TAG && (is_word(a->tag, "over") || is_word(a->tag, "under"))) {
				if (have_dir) {
					rules_diag_add(cc->diag, a->line, a->col,
					               "'size' takes one of ':over' and ':under', not both");
					ok = FALSE;
				}
				have_dir = TRUE;
				t->over = is_word(a->tag, "over");
			} else if (a->kind == ARG_TAG) {
				rules_diag_add(cc->diag, a->line, a->col, "unknown tag ':%s' for 'size'", a->tag);
				ok = FALSE;
			} else if (a->kind == ARG_NUMBER && !have_limit && have_dir) {
				have_limit = TRUE;
				t->limit = a->num;
			} else {
				rules_diag_add(cc->diag, a->line, a->col,
				               "'size' takes ':over' or ':under' followed by a number");
				ok = FALSE;
			}
		}
		if (ok && (!have_dir || !have_limit)) {
			rules_diag_add(cc->diag, st->line, st->col,
			               "'size' needs ':over' or ':under' and a number");
			ok = FALSE;
		}
	} else if (is_word(id, "allof") || is_word(id, "anyof") || is_word(id, "not")) {
		gboolean is_not = is_word(id, "not");

		t->kind = is_not ? T_NOT : is_word(id, "allof") ? T_ALLOF : T_ANYOF;
		if (st->args->len > 0) {
			const syn_arg *a = g_ptr_array_index(st->args, 0);

			rules_diag_add(cc->diag, a->line, a->col, "'%s' takes no arguments, only tests", id);
			ok = FALSE;
		}
		if (is_not && (st->has_list || st->tests->len != 1)) {
			rules_diag_add(cc->diag, st->line, st->col, "'not' takes exactly one test");
			ok = FALSE;
		} else if (!is_not && !st->has_list) {
			rules_diag_add(cc->diag, st->line, st->col,
			               "'%s' needs a list of tests in parentheses", id);
			ok = FALSE;
		}
		if (cc->depth >= RULES_NEST_MAX) {
			ok = FALSE;
			goto out;
		}
		cc->depth++;
		t->n_sub = st->tests->len;
		t->sub = g_new0(rules_test *, t->n_sub > 0 ? t->n_sub : 1);
		for (guint i = 0; i < st->tests->len; i++) {
			t->sub[i] = compile_test(cc, g_ptr_array_index(st->tests, i));
			if (t->sub[i] == NULL)
				ok = FALSE;
		}
		cc->depth--;
	} else if (is_word(id, "true") || is_word(id, "false")) {
		t->kind = is_word(id, "true") ? T_TRUE : T_FALSE;
		ok = test_no_subtests(cc, st);
		if (st->args->len > 0) {
			const syn_arg *a = g_ptr_array_index(st->args, 0);

			rules_diag_add(cc->diag, a->line, a->col, "'%s' takes no arguments", id);
			ok = FALSE;
		}
	} else if (word_in(id, unsupported_tests)) {
		rules_diag_add(cc->diag, st->line, st->col, "unsupported test '%s'", id);
		ok = FALSE;
	} else {
		rules_diag_add(cc->diag, st->line, st->col, "unknown test '%s'", id);
		ok = FALSE;
	}
out:
	if (!ok) {
		rules_test_free(t);
		return NULL;
	}
	return t;
}

/* -- commands -- */

typedef struct {
	const char *tag;
	gsize offset;          /* of the char* field in rules_cmd */
	gboolean address;
} action_tag;

static const action_tag ticket_tags[] = {
	{ "organization", G_STRUCT_OFFSET(rules_cmd, organization), FALSE },
	{ "priority", G_STRUCT_OFFSET(rules_cmd, priority), FALSE },
	{ "type", G_STRUCT_OFFSET(rules_cmd, type), FALSE },
	{ "assign", G_STRUCT_OFFSET(rules_cmd, assign), TRUE },
	{ "status", G_STRUCT_OFFSET(rules_cmd, status), FALSE },
	{ NULL, 0, FALSE }
};

static const action_tag lead_tags[] = {
	{ "source", G_STRUCT_OFFSET(rules_cmd, source), FALSE },
	{ "assign", G_STRUCT_OFFSET(rules_cmd, assign), TRUE },
	{ "stage", G_STRUCT_OFFSET(rules_cmd, stage), FALSE },
	{ NULL, 0, FALSE }
};

static const action_tag no_tags[] = { { NULL, 0, FALSE } };

static void
append_quoted(GString *out, const char *s)
{
	g_string_append_c(out, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			g_string_append_c(out, '\\');
		g_string_append_c(out, *s);
	}
	g_string_append_c(out, '"');
}

static gboolean
compile_action(compiler *cc, const syn_cmd *sc, rules_cmd *c, const action_tag *tags)
{
	g_autoptr(GString) text = g_string_new(NULL);
	gboolean ok = TRUE;

	g_string_append(text, c->kind == C_TICKET ? "ticket" : c->kind == C_LEAD ? "lead" :
	                      c->kind == C_SPAM ? "spam" : "keep");
	for (guint i = 0; i < sc->args->len; i++) {
		const syn_arg *a = g_ptr_array_index(sc->args, i);
		const syn_arg *v;
		const action_tag *t;
		const syn_str *s;
		char **field;

		if (a->kind != ARG_TAG) {
			rules_diag_add(cc->diag, a->line, a->col,
			               "unexpected %s argument for '%s'",
			               a->kind == ARG_NUMBER ? "number" : "string", sc->id);
			ok = FALSE;
			continue;
		}
		for (t = tags; t->tag; t++)
			if (is_word(a->tag, t->tag))
				break;
		if (t->tag == NULL) {
			rules_diag_add(cc->diag, a->line, a->col, "unknown tag ':%s' for '%s'",
			               a->tag, sc->id);
			ok = FALSE;
			/* its value, if it has one, is no second error */
			if (i + 1 < sc->args->len &&
			    ((syn_arg *)g_ptr_array_index(sc->args, i + 1))->kind == ARG_STRINGS)
				i++;
			continue;
		}
		field = G_STRUCT_MEMBER_P(c, t->offset);
		v = i + 1 < sc->args->len ? g_ptr_array_index(sc->args, i + 1) : NULL;
		if (v == NULL || v->kind != ARG_STRINGS) {
			rules_diag_add(cc->diag, a->line, a->col, "':%s' needs a string", t->tag);
			ok = FALSE;
			continue;
		}
		i++;
		if (*field != NULL) {
			rules_diag_add(cc->diag, a->line, a->col, "':%s' given twice", t->tag);
			ok = FALSE;
			continue;
		}
		if (v->strings->len != 1) {
			rules_diag_add(cc->diag, v->line, v->col, "':%s' takes one string, not a list",
			               t->tag);
			ok = FALSE;
			continue;
		}
		s = g_ptr_array_index(v->strings, 0);
		{
			g_autofree char *trim = g_strstrip(g_strdup(s->text));

			if (*trim == '\0') {
				rules_diag_add(cc->diag, s->line, s->col, "':%s' must not be empty", t->tag);
				ok = FALSE;
				continue;
			}
			if (t->address) {
				char *addr = lg_addr_normalize(trim);

				if (addr == NULL) {
					rules_diag_add(cc->diag, s->line, s->col,
					               "':%s' needs a mail address, not \"%s\"", t->tag, s->text);
					ok = FALSE;
					continue;
				}
				*field = addr;
			} else {
				*field = g_steal_pointer(&trim);
			}
		}
		g_string_append_printf(text, " :%s ", t->tag);
		append_quoted(text, *field);
	}
	if (sc->block) {
		rules_diag_add(cc->diag, sc->block_line, sc->block_col,
		               "'%s' takes no block; end it with ';'", sc->id);
		ok = FALSE;
	}
	c->text = g_string_free(g_steal_pointer(&text), FALSE);
	return ok;
}

static GPtrArray *compile_block(compiler *cc, GPtrArray *syn, gboolean top);

static gboolean
compile_require(compiler *cc, const syn_cmd *sc)
{
	gboolean ok = TRUE;

	if (sc->args->len != 1 || ((syn_arg *)g_ptr_array_index(sc->args, 0))->kind != ARG_STRINGS) {
		rules_diag_add(cc->diag, sc->line, sc->col, "'require' needs a capability list");
		return FALSE;
	}
	if (sc->block) {
		rules_diag_add(cc->diag, sc->block_line, sc->block_col, "'require' takes no block");
		ok = FALSE;
	}
	for (guint i = 0; i < ((syn_arg *)g_ptr_array_index(sc->args, 0))->strings->len; i++) {
		const syn_str *s = g_ptr_array_index(((syn_arg *)g_ptr_array_index(sc->args, 0))->strings, i);
		gsize k;

		for (k = 0; k < G_N_ELEMENTS(capabilities); k++)
			if (strcmp(s->text, capabilities[k].name) == 0)
				break;
		if (k == G_N_ELEMENTS(capabilities)) {
			rules_diag_add(cc->diag, s->line, s->col,
			               "unknown capability \"%s\" in require (leadgate supports "
			               "vnd.leadgate, envelope, body, regex, comparator-i;octet, "
			               "comparator-i;ascii-casemap, environment)", s->text);
			ok = FALSE;
			continue;
		}
		cc->caps |= capabilities[k].bit;
	}
	return ok;
}

static GPtrArray *
compile_block(compiler *cc, GPtrArray *syn, gboolean top)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(rules_cmd_free);
	rules_cmd *last_if = NULL;      /* an if/elsif chain that may go on */
	gboolean seen_command = FALSE;
	gboolean ok = TRUE;

	for (guint i = 0; i < syn->len; i++) {
		const syn_cmd *sc = g_ptr_array_index(syn, i);
		const char *id = sc->id;
		rules_cmd *c;
		rules_cmd *chain = last_if;

		last_if = NULL;
		if (is_word(id, "require")) {
			if (!top || seen_command) {
				rules_diag_add(cc->diag, sc->line, sc->col,
				               top ? "'require' must come before any other command"
				                   : "'require' is only allowed at the top of the file");
				ok = FALSE;
				continue;
			}
			ok = compile_require(cc, sc) && ok;
			continue;
		}
		seen_command = TRUE;
		c = g_new0(rules_cmd, 1);
		c->line = sc->line;
		c->col = sc->col;
		if (is_word(id, "if") || is_word(id, "elsif") || is_word(id, "else")) {
			rules_branch *b;
			gboolean is_else = is_word(id, "else");

			if (!is_word(id, "if") && chain == NULL && !cc->syntax_failed) {
				rules_diag_add(cc->diag, sc->line, sc->col,
				               "'%s' without a preceding 'if'", id);
				ok = FALSE;
			}
			if (sc->args->len > 0) {
				const syn_arg *a = g_ptr_array_index(sc->args, 0);

				rules_diag_add(cc->diag, a->line, a->col,
				               is_else ? "'else' takes no arguments"
				                       : "'%s' takes a test, not arguments", id);
				ok = FALSE;
			}
			if (sc->block == NULL) {
				rules_diag_add(cc->diag, sc->end_line, sc->end_col,
				               "'%s' needs a block '{ ... }'", id);
				ok = FALSE;
			}
			b = g_new0(rules_branch, 1);
			b->line = sc->line;
			b->word = is_else ? "else" : is_word(id, "if") ? "if" : "elsif";
			if (sc->test) {
				b->test = compile_test(cc, sc->test);
				if (b->test == NULL)
					ok = FALSE;
			}
			if (sc->block) {
				cc->depth++;
				b->block = compile_block(cc, sc->block, FALSE);
				cc->depth--;
				if (b->block == NULL)
					ok = FALSE;
			}
			if (chain != NULL && !is_word(id, "if")) {
				g_ptr_array_add(chain->branches, b);
				g_free(c);
				if (!is_else)
					last_if = chain;
				continue;
			}
			c->kind = C_IF;
			c->branches = g_ptr_array_new_with_free_func(rules_branch_free);
			g_ptr_array_add(c->branches, b);
			g_ptr_array_add(out, c);
			if (!is_else)
				last_if = c;
			continue;
		}
		if (is_word(id, "stop")) {
			c->kind = C_STOP;
			if (sc->args->len > 0 || sc->block) {
				rules_diag_add(cc->diag, sc->line, sc->col, "'stop' takes no arguments");
				ok = FALSE;
			}
			c->text = g_strdup("stop");
		} else if (is_word(id, "keep")) {
			c->kind = C_KEEP;
			ok = compile_action(cc, sc, c, no_tags) && ok;
		} else if (is_word(id, "ticket") || is_word(id, "lead") || is_word(id, "spam")) {
			c->kind = is_word(id, "ticket") ? C_TICKET : is_word(id, "lead") ? C_LEAD : C_SPAM;
			if (!(cc->caps & CAP_LEADGATE)) {
				rules_diag_add(cc->diag, sc->line, sc->col,
				               "'%s' needs require \"vnd.leadgate\"", id);
				ok = FALSE;
			}
			ok = compile_action(cc, sc, c,
			                    c->kind == C_TICKET ? ticket_tags :
			                    c->kind == C_LEAD ? lead_tags : no_tags) && ok;
		} else if (word_in(id, unsupported_commands)) {
			rules_diag_add(cc->diag, sc->line, sc->col,
			               "unsupported command '%s' (leadgate rules use keep, stop, "
			               "ticket, lead and spam)", id);
			ok = FALSE;
		} else {
			rules_diag_add(cc->diag, sc->line, sc->col, "unknown command '%s'", id);
			ok = FALSE;
		}
		g_ptr_array_add(out, c);
	}
	if (!ok) {
		g_ptr_array_unref(out);
		return NULL;
	}
	return out;
}

/* Position of a diagnostic line "FILE:LINE:COL: ..." of @d. */
static void
diag_position(const rules_diag *d, const char *line, guint64 *pos)
{
	const char *s = line + strlen(d->file) + 1;
	char *end;
	guint64 l = g_ascii_strtoull(s, &end, 10);
	guint64 c = *end == ':' ? g_ascii_strtoull(end + 1, NULL, 10) : 0;

	*pos = (l << 32) | (c & 0xFFFFFFFFu);
	if (strstr(s, ": error: too many errors;") != NULL)
		*pos = G_MAXUINT64;   /* stays last */
}

static gint
diag_compare(gconstpointer a, gconstpointer b, gpointer d)
{
	guint64 pa, pb;

	diag_position(d, *(char *const *)a, &pa);
	diag_position(d, *(char *const *)b, &pb);
	return pa < pb ? -1 : pa > pb ? 1 : 0;
}

/* Puts this file's diagnostics (from index @from on) in source order; the
 * syntax pass and the meaning pass find them in two sweeps. */
static void
diag_sort(rules_diag *d, guint from)
{
	guint n = d->lines->len - from;
	g_autoptr(GPtrArray) tmp = NULL;

	if (n < 2)
		return;
	tmp = g_ptr_array_new();
	for (guint i = 0; i < n; i++)
		g_ptr_array_add(tmp, g_ptr_array_index(d->lines, from + i));
	g_ptr_array_sort_with_data(tmp, diag_compare, d);   /* stable */
	for (guint i = 0; i < n; i++)
		d->lines->pdata[from + i] = g_ptr_array_index(tmp, i);
}

rules_file *
rules_parse_file(const char *path, const char *src, gsize len, rules_diag *diag)
{
	parser p = { 0 };
	compiler cc = { 0 };
	g_autoptr(GPtrArray) syn = g_ptr_array_new_with_free_func(syn_cmd_free);
	guint before = diag->lines->len;
	GPtrArray *cmds;
	rules_file *f;

	p.diag = diag;
	rules_lex_init(&p.lx, src, len, diag);
	p_next(&p);
	p_commands(&p, syn, TRUE);
	rules_token_clear(&p.tok);

	/* The meaning is checked even after syntax errors (the commands that
	 * failed were dropped), so one run reports as much as it can. */
	cc.syntax_failed = diag->lines->len > before;
	cc.diag = diag;
	cc.path = path;
	cc.cctx = pcre2_compile_context_create(NULL);
	cmds = compile_block(&cc, syn, TRUE);
	pcre2_compile_context_free(cc.cctx);
	diag_sort(diag, before);
	if (cmds == NULL && diag->lines->len == before)   /* never: but never silently */
		rules_diag_add(diag, 1, 1, "internal error: the file was not compiled");
	if (cmds == NULL || diag->lines->len > before) {
		if (cmds)
			g_ptr_array_unref(cmds);
		return NULL;
	}
	f = g_new0(rules_file, 1);
	f->path = g_strdup(path);
	f->name = g_path_get_basename(path);
	f->cmds = cmds;
	return f;
}
