/*
 * NAME
 *   html2text.c - HTML to plain text for the body of HTML-only mail.
 *
 * SUMMARY
 *   libxml2's HTML parser reads the markup as a browser would (every named
 *   character reference of HTML 4, a '<' that starts no tag kept as text,
 *   unclosed and misnested elements repaired), without network access and
 *   without error output. The input is already UTF-8 (message.c converts
 *   the part's charset first), so a <meta> charset in it is ignored.
 *
 *   The parser's SAX events are turned into text as they come, without a
 *   document tree: text is kept with white space collapsed (except in
 *   <pre>), block-level elements become line breaks (<p> and headings a
 *   blank line), <br> a line break, list items get "- ", table cells a
 *   space, and <script>, <style>, <head>, <title> and comments are
 *   dropped; a link gives its text. The result is valid UTF-8 with at most
 *   one blank line in a row, trimmed.
 *
 *   Cost: linear in the input. Parsing stops at 256 levels of nesting
 *   (libxml2's own limit when it builds a tree; without a limit, each
 *   unmatched end tag searches the whole element stack, quadratic time);
 *   such a document's text is then taken by a plain linear scan instead,
 *   so deep nesting hides nothing. message.c hands over at most body_max
 *   bytes.
 */
#include "config.h"
#include <string.h>
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include "message.h"

/* What an element does to the text: nothing, a line break, a blank line, a
 * list item, a table cell, a <br>, <pre>, or drop its content. */
typedef enum { EL_INLINE, EL_BLOCK, EL_PARA, EL_LI, EL_CELL, EL_BR, EL_PRE, EL_DROP } el_kind;

static const struct { const char *name; el_kind kind; } elements[] = {
	{ "p", EL_PARA }, { "h1", EL_PARA }, { "h2", EL_PARA }, { "h3", EL_PARA },
	{ "h4", EL_PARA }, { "h5", EL_PARA }, { "h6", EL_PARA },
	{ "div", EL_BLOCK }, { "tr", EL_BLOCK }, { "table", EL_BLOCK }, { "ul", EL_BLOCK },
	{ "ol", EL_BLOCK }, { "blockquote", EL_BLOCK }, { "hr", EL_BLOCK }, { "section", EL_BLOCK },
	{ "article", EL_BLOCK }, { "header", EL_BLOCK }, { "footer", EL_BLOCK }, { "dl", EL_BLOCK },
	{ "dt", EL_BLOCK }, { "dd", EL_BLOCK }, { "address", EL_BLOCK }, { "center", EL_BLOCK },
	{ "form", EL_BLOCK }, { "fieldset", EL_BLOCK }, { "body", EL_BLOCK }, { "html", EL_BLOCK },
	{ "main", EL_BLOCK }, { "nav", EL_BLOCK }, { "aside", EL_BLOCK }, { "figure", EL_BLOCK },
	{ "figcaption", EL_BLOCK }, { "details", EL_BLOCK }, { "summary", EL_BLOCK },
	{ "caption", EL_BLOCK }, { "thead", EL_BLOCK }, { "tbody", EL_BLOCK }, { "tfoot", EL_BLOCK },
	{ "li", EL_LI }, { "td", EL_CELL }, { "th", EL_CELL }, { "br", EL_BR }, { "pre", EL_PRE },
	{ "script", EL_DROP }, { "style", EL_DROP }, { "head", EL_DROP }, { "title", EL_DROP },
	{ "template", EL_DROP },
};

/* name -> el_kind + 1; filled once by lg_html_init(), read-only after */
static GHashTable *element_kinds;

typedef struct {
	GString *out;
	gboolean pending_space;
	int pending_newlines;
	int in_pre;
	int dropping;    /* depth inside a dropped element (script, style...) */
	int depth;       /* of open elements */
	gboolean too_deep;
	htmlParserCtxtPtr ctxt;
} h2t;

/* libxml2 limits nesting only where it builds a tree (256 levels, or
 * xmlParserMaxDepth); with SAX events alone the limit is kept here. */
#define H2T_MAX_DEPTH 256

static el_kind
element_kind(const xmlChar *name)
{
	gpointer k = name ? g_hash_table_lookup(element_kinds, name) : NULL;
	return k ? (el_kind) (GPOINTER_TO_INT(k) - 1) : EL_INLINE;
}

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
		int have = 0;
		for (gssize i = (gssize) st->out->len - 1; i >= 0 && st->out->str[i] == '\n'; i--)
			have++;
		for (int i = have; i < nl; i++)
			g_string_append_c(st->out, '\n');
	} else if (st->pending_space) {
		g_string_append_c(st->out, ' ');
	}
	st->pending_newlines = 0;
	st->pending_space = FALSE;
}

static void
newline(h2t *st, int n)
{
	if (st->pending_newlines < n)
		st->pending_newlines = n;
}

/* @len bytes of UTF-8 text (libxml2 gives valid UTF-8) */
static void
emit_text(h2t *st, const char *s, gsize len)
{
	const char *end = s + len;
	for (const char *p = s; p < end; p++) {
		guint8 c = (guint8) *p;
		if (c == '\r')
			continue;
		if (st->in_pre > 0 && c == '\n') {
			st->pending_newlines++;
			continue;
		}
		gboolean nbsp = c == 0xC2 && p + 1 < end && (guint8) p[1] == 0xA0;   /* &nbsp; is a space */
		if (st->in_pre == 0 && (c == ' ' || c == '\t' || c == '\n' || c == '\f' || nbsp)) {
			st->pending_space = TRUE;
			p += nbsp;
			continue;
		}
		if (st->pending_space || st->pending_newlines > 0)
			flush_breaks(st);
		if (nbsp) {
			g_string_append_c(st->out, ' ');
			p++;
		} else if (c == 0xC2 && p + 1 < end && (guint8) p[1] >= 0x80 && (guint8) p[1] <= 0x9F) {
			g_string_append_c(st->out, ' ');   /* a C1 control */
			p++;
		} else {
			g_string_append_c(st->out, (c < 0x20 && c != '\t') || c == 0x7F ? ' ' : (char) c);
		}
	}
}

/* What an element does where it opens (@closing FALSE) and closes. */
static void
element_edge(h2t *st, el_kind kind, gboolean closing)
{
	switch (kind) {
	case EL_LI:
		newline(st, 1);
		if (!closing) {
			st->pending_space = FALSE;
			flush_breaks(st);
			g_string_append(st->out, "- ");
		}
		break;
	case EL_CELL:
		st->pending_space = TRUE;
		break;
	case EL_BR:
		if (!closing)
			st->pending_newlines++;
		break;
	case EL_PRE:
		st->in_pre += closing ? -1 : 1;
		newline(st, 1);
		break;
	case EL_BLOCK:
	case EL_PARA:
		newline(st, kind == EL_PARA ? 2 : 1);
		break;
	default:
		break;
	}
}

/* ---- libxml2's SAX events ---------------------------------------------- */

static void
on_start(void *user, const xmlChar *name, const xmlChar **attrs)
{
	h2t *st = user;
	if (++st->depth > H2T_MAX_DEPTH && !st->too_deep) {
		st->too_deep = TRUE;
		xmlStopParser(st->ctxt);
		return;
	}
	el_kind kind = element_kind(name);
	if (st->dropping > 0 || kind == EL_DROP)
		st->dropping++;   /* libxml2 ends every element it starts */
	else
		element_edge(st, kind, FALSE);
}

static void
on_end(void *user, const xmlChar *name)
{
	h2t *st = user;
	st->depth--;
	if (st->dropping > 0)
		st->dropping--;
	else
		element_edge(st, element_kind(name), TRUE);
}

static void
on_text(void *user, const xmlChar *text, int len)
{
	h2t *st = user;
	if (st->dropping == 0 && len > 0)
		emit_text(st, (const char *) text, (gsize) len);
}

void
lg_html_init(void)
{
	xmlInitParser();
	element_kinds = g_hash_table_new(g_str_hash, g_str_equal);
	for (guint i = 0; i < G_N_ELEMENTS(elements); i++)
		g_hash_table_insert(element_kinds, (gpointer) elements[i].name, GINT_TO_POINTER(elements[i].kind + 1));
}

/* The text of markup libxml2 refused (it stops at its nesting limit):
 * characters outside tags, with character references decoded through
 * libxml2's entity table. Only hostile input comes here; it is read once,
 * linearly, so that nothing a sender nests deeply is hidden from body
 * rules. */
static void
emit_unparsed(h2t *st, const char *p, const char *end)
{
	char buf[8];
	while (p < end) {
		if (*p == '<' && p + 1 < end && (g_ascii_isalpha(p[1]) || p[1] == '/' || p[1] == '!' || p[1] == '?')) {
			const char *gt = memchr(p, '>', (gsize) (end - p));
			p = gt ? gt + 1 : end;
			st->pending_space = TRUE;
			continue;
		}
		if (*p == '&') {
			const char *semi = memchr(p, ';', (gsize) MIN(end - p, 12));
			gunichar c = 0;
			if (semi && p + 2 < semi && p[1] == '#') {
				gboolean hex = p[2] == 'x' || p[2] == 'X';
				guint64 v = 0;
				const char *d = p + (hex ? 3 : 2);
				for (; d < semi && (hex ? g_ascii_isxdigit(*d) : g_ascii_isdigit(*d)) && v <= 0x10FFFF; d++)
					v = v * (hex ? 16 : 10) + (guint64) g_ascii_xdigit_value(*d);
				c = d == semi && v > 0 && v <= 0x10FFFF && !(v >= 0xD800 && v <= 0xDFFF) ? (gunichar) v : 0;
			} else if (semi) {
				xmlChar *name = xmlStrndup((const xmlChar *) p + 1, (int) (semi - p - 1));
				const htmlEntityDesc *ent = name ? htmlEntityLookup(name) : NULL;
				xmlFree(name);
				c = ent ? ent->value : 0;
			}
			if (c != 0) {
				gint n = g_unichar_to_utf8(c, buf);
				emit_text(st, buf, (gsize) n);
				p = semi + 1;
				continue;
			}
		}
		const char *q = p + 1;
		while (q < end && *q != '<' && *q != '&')
			q++;
		emit_text(st, p, (gsize) (q - p));
		p = q;
	}
}

char *
lg_html_to_text(const char *html, gssize len)
{
	if (html == NULL)
		return g_strdup("");
	gsize n = len < 0 ? strlen(html) : (gsize) len;
	if (n == 0 || n > G_MAXINT)
		return g_strdup("");
	h2t st = { .out = g_string_sized_new(n / 4 + 16) };
	htmlParserCtxtPtr ctxt = htmlNewParserCtxt();
	if (ctxt == NULL) {
		emit_unparsed(&st, html, html + n);
		goto done;
	}
	/* only the events for text: no document tree, no attribute nodes */
	memset(ctxt->sax, 0, sizeof *ctxt->sax);
	ctxt->sax->startElement = on_start;
	ctxt->sax->endElement = on_end;
	ctxt->sax->characters = on_text;
	ctxt->sax->cdataBlock = on_text;
	ctxt->userData = &st;
	st.ctxt = ctxt;
	htmlDocPtr doc = htmlCtxtReadMemory(ctxt, html, (int) n, NULL, "UTF-8",
	                                    HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
	                                    HTML_PARSE_RECOVER | HTML_PARSE_COMPACT | HTML_PARSE_NODEFDTD |
	                                    HTML_PARSE_IGNORE_ENC);
	if (doc)
		xmlFreeDoc(doc);
	/* stopped at the nesting limit: the whole input goes through the
	 * plain scan instead */
	htmlFreeParserCtxt(ctxt);
	if (st.too_deep) {
		g_string_truncate(st.out, 0);
		st.pending_space = FALSE;
		st.pending_newlines = 0;
		st.in_pre = 0;
		st.dropping = 0;
		emit_unparsed(&st, html, html + n);
	}
done:
	while (st.out->len > 0 && g_ascii_isspace(st.out->str[st.out->len - 1]))
		g_string_truncate(st.out, st.out->len - 1);
	return g_string_free(st.out, FALSE);
}
