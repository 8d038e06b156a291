/*
 * NAME
 *   html2text.c - HTML to plain text for the body of HTML-only mail.
 *
 * SUMMARY
 *   A forgiving one-pass scanner, not an HTML parser: text outside tags is
 *   kept with white space collapsed, block-level tags become line breaks,
 *   list items get "- ", <script>, <style>, <head> and comments are dropped,
 *   and character references are decoded (numeric ones and the common named
 *   ones). Unknown or broken markup is skipped, never an error. The result
 *   is valid UTF-8 with at most one blank line in a row.
 */
#include "config.h"
#include <string.h>
#include "message.h"

static const struct { const char *name; gunichar c; } entities[] = {
	{ "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' }, { "apos", '\'' },
	{ "nbsp", ' ' }, { "copy", 0xA9 }, { "reg", 0xAE }, { "trade", 0x2122 },
	{ "hellip", 0x2026 }, { "mdash", 0x2014 }, { "ndash", 0x2013 }, { "laquo", 0xAB },
	{ "raquo", 0xBB }, { "lsquo", 0x2018 }, { "rsquo", 0x2019 }, { "ldquo", 0x201C },
	{ "rdquo", 0x201D }, { "bull", 0x2022 }, { "middot", 0xB7 }, { "euro", 0x20AC },
	{ "pound", 0xA3 }, { "yen", 0xA5 }, { "cent", 0xA2 }, { "sect", 0xA7 }, { "deg", 0xB0 },
	{ "times", 0xD7 }, { "divide", 0xF7 }, { "auml", 0xE4 }, { "ouml", 0xF6 }, { "uuml", 0xFC },
	{ "Auml", 0xC4 }, { "Ouml", 0xD6 }, { "Uuml", 0xDC }, { "szlig", 0xDF }, { "eacute", 0xE9 },
	{ "egrave", 0xE8 }, { "ecirc", 0xEA }, { "agrave", 0xE0 }, { "aacute", 0xE1 },
	{ "ccedil", 0xE7 }, { "oacute", 0xF3 }, { "iacute", 0xED }, { "uacute", 0xFA },
	{ "ntilde", 0xF1 }, { "Eacute", 0xC9 }, { "aring", 0xE5 }, { "oslash", 0xF8 },
	{ "zwnj", 0x200C }, { "zwj", 0x200D }, { "shy", 0xAD },
};

static const char *const block_tags[] = {
	"p", "div", "br", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol",
	"blockquote", "hr", "pre", "section", "article", "header", "footer", "dl", "dt",
	"dd", "address", "center", "form", "fieldset", "title", "body", "html", NULL };

typedef struct {
	GString *out;
	gboolean pending_space;
	int pending_newlines;
	gboolean in_pre;
} h2t;

static void
flush_breaks(h2t *st)
{
	if (st->out->len == 0) {
		st->pending_newlines = 0;
		st->pending_space = FALSE;
		return;
	}
	if (st->pending_newlines > 0) {
		int nl = MIN(st->pending_newlines, 2);
		/* count newlines already at the end */
		int have = 0;
		for (gssize i = (gssize) st->out->len - 1; i >= 0 && st->out->str[i] == '\n'; i--)
			have++;
		for (int i = have; i < nl; i++)
			g_string_append_c(st->out, '\n');
		st->pending_space = FALSE;
	} else if (st->pending_space) {
		g_string_append_c(st->out, ' ');
	}
	st->pending_newlines = 0;
	st->pending_space = FALSE;
}

static void
emit_char(h2t *st, gunichar c)
{
	if (!st->in_pre && (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f')) {
		st->pending_space = TRUE;
		return;
	}
	if (c == '\r')
		return;
	if (c == '\n') {
		st->pending_newlines++;
		return;
	}
	flush_breaks(st);
	if (c < 0x20 && c != '\t')
		c = ' ';
	g_string_append_unichar(st->out, c);
}

static void
newline(h2t *st, int n)
{
	if (st->pending_newlines < n)
		st->pending_newlines = n;
}

/* Decodes the reference at @p ("&...;"); returns the bytes used, 0 if none. */
static gsize
decode_entity(const char *p, const char *end, gunichar *c)
{
	const char *q = p + 1;
	if (q < end && *q == '#') {
		q++;
		int base = 10;
		if (q < end && (*q == 'x' || *q == 'X')) {
			base = 16;
			q++;
		}
		guint64 v = 0;
		const char *digits = q;
		while (q < end && g_ascii_isxdigit(*q) && (base == 16 || g_ascii_isdigit(*q)) && q - digits < 8) {
			v = v * (guint64) base + (guint64) g_ascii_xdigit_value(*q);
			q++;
		}
		if (q == digits)
			return 0;
		if (q < end && *q == ';')
			q++;
		*c = (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) ? 0xFFFD : (gunichar) v;
		return (gsize) (q - p);
	}
	const char *name = q;
	while (q < end && g_ascii_isalnum(*q) && q - name < 10)
		q++;
	gsize n = (gsize) (q - name);
	if (n == 0)
		return 0;
	for (guint i = 0; i < G_N_ELEMENTS(entities); i++)
		if (strlen(entities[i].name) == n && strncmp(entities[i].name, name, n) == 0) {
			*c = entities[i].c;
			if (q < end && *q == ';')
				q++;
			return (gsize) (q - p);
		}
	return 0;
}

/* Skips to the end of the element named @tag (its closing tag). */
static const char *
skip_element(const char *p, const char *end, const char *tag)
{
	gsize tl = strlen(tag);
	while (p < end) {
		const char *lt = memchr(p, '<', (gsize) (end - p));
		if (lt == NULL)
			return end;
		if (lt + 2 + tl <= end && lt[1] == '/' && g_ascii_strncasecmp(lt + 2, tag, tl) == 0) {
			const char *gt = memchr(lt, '>', (gsize) (end - lt));
			return gt ? gt + 1 : end;
		}
		p = lt + 1;
	}
	return end;
}

char *
lg_html_to_text(const char *html, gssize len)
{
	if (html == NULL)
		return g_strdup("");
	gsize n = len < 0 ? strlen(html) : (gsize) len;
	h2t st = { .out = g_string_sized_new(n / 2 + 16) };
	const char *p = html, *end = html + n;
	while (p < end) {
		if (*p == '<') {
			if (end - p >= 4 && strncmp(p, "<!--", 4) == 0) {
				const char *e = g_strstr_len(p + 4, end - p - 4, "-->");
				p = e ? e + 3 : end;
				continue;
			}
			const char *gt = memchr(p, '>', (gsize) (end - p));
			if (gt == NULL)
				break;   /* a tag cut off at the end */
			const char *t = p + 1;
			gboolean closing = (*t == '/');
			if (closing)
				t++;
			const char *tn = t;
			while (t < gt && (g_ascii_isalnum(*t)))
				t++;
			g_autofree char *tag = g_ascii_strdown(tn, t - tn);
			p = gt + 1;
			if (!closing && (strcmp(tag, "script") == 0 || strcmp(tag, "style") == 0 ||
			                 strcmp(tag, "head") == 0 || strcmp(tag, "title") == 0)) {
				p = skip_element(p, end, tag);
				continue;
			}
			if (strcmp(tag, "pre") == 0)
				st.in_pre = !closing;
			if (strcmp(tag, "li") == 0 && !closing) {
				newline(&st, 1);
				flush_breaks(&st);
				g_string_append(st.out, "- ");
				continue;
			}
			if (strcmp(tag, "td") == 0 || strcmp(tag, "th") == 0) {
				st.pending_space = TRUE;
				continue;
			}
			if (strcmp(tag, "br") == 0) {
				st.pending_newlines++;
				continue;
			}
			for (guint i = 0; block_tags[i]; i++)
				if (strcmp(tag, block_tags[i]) == 0) {
					newline(&st, strcmp(tag, "p") == 0 || tag[0] == 'h' ? 2 : 1);
					break;
				}
			continue;
		}
		if (*p == '&') {
			gunichar c;
			gsize used = decode_entity(p, end, &c);
			if (used > 0) {
				emit_char(&st, c == 0xA0 ? ' ' : c);
				p += used;
				continue;
			}
		}
		gunichar c = g_utf8_get_char_validated(p, end - p);
		if (c == (gunichar) -1 || c == (gunichar) -2) {
			emit_char(&st, 0xFFFD);
			p++;
			continue;
		}
		emit_char(&st, c == 0xA0 ? ' ' : c);
		p = g_utf8_next_char(p);
	}
	/* trim trailing blanks */
	while (st.out->len > 0 && g_ascii_isspace(st.out->str[st.out->len - 1]))
		g_string_truncate(st.out, st.out->len - 1);
	return g_string_free(st.out, FALSE);
}
