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
 *   The tree is then walked without recursion: text is kept with white
 *   space collapsed (except in <pre>), block-level elements become line
 *   breaks (<p> and headings a blank line), <br> a line break, list items
 *   get "- ", table cells a space, and <script>, <style>, <head>, <title>
 *   and comments are dropped; a link gives its text. The result is valid
 *   UTF-8 with at most one blank line in a row, trimmed.
 *
 *   Cost: the parse and the walk are linear in the input. libxml2 stops
 *   reading at its nesting limit (256 levels without XML_PARSE_HUGE, which
 *   is not set: without a limit, each unmatched end tag searches the whole
 *   element stack); such a document's text is then taken by a plain
 *   linear scan instead, so deep nesting hides nothing. message.c hands over
 *   at most body_max bytes.
 */
#include "config.h"
#include <string.h>
#include <libxml/HTMLparser.h>
#include <libxml/HTMLtree.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include "message.h"

static const char *const block_tags[] = {
	"p", "div", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol",
	"blockquote", "hr", "pre", "section", "article", "header", "footer", "dl", "dt",
	"dd", "address", "center", "form", "fieldset", "body", "html", "main", "nav",
	"aside", "figure", "figcaption", "details", "summary", "caption", "thead",
	"tbody", "tfoot", NULL };

static const char *const dropped_tags[] = { "script", "style", "head", "title", "template", NULL };

typedef struct {
	GString *out;
	gboolean pending_space;
	int pending_newlines;
	int in_pre;
} h2t;

static gboolean
in_list(const char *name, const char *const *list)
{
	for (guint i = 0; list[i]; i++)
		if (strcmp(name, list[i]) == 0)
			return TRUE;
	return FALSE;
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

static void
emit_text(h2t *st, const char *s)
{
	for (const char *p = s; *p; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (c == 0xA0)
			c = ' ';   /* &nbsp; is a space in the text */
		if (c == '\r')
			continue;
		if (st->in_pre > 0 && c == '\n') {
			st->pending_newlines++;
			continue;
		}
		if (st->in_pre == 0 && (c == ' ' || c == '\t' || c == '\n' || c == '\f')) {
			st->pending_space = TRUE;
			continue;
		}
		flush_breaks(st);
		if ((c < 0x20 && c != '\t') || c == 0x7F || (c >= 0x80 && c <= 0x9F))
			c = ' ';
		g_string_append_unichar(st->out, c);
	}
}

/* What an element does where it opens (@closing FALSE) and closes. */
static void
element_edge(h2t *st, const char *name, gboolean closing)
{
	if (strcmp(name, "li") == 0) {
		if (!closing) {
			newline(st, 1);
			st->pending_space = FALSE;
			flush_breaks(st);
			g_string_append(st->out, "- ");
		} else {
			newline(st, 1);
		}
	} else if (strcmp(name, "td") == 0 || strcmp(name, "th") == 0) {
		st->pending_space = TRUE;
	} else if (strcmp(name, "br") == 0) {
		if (!closing)
			st->pending_newlines++;
	} else if (strcmp(name, "pre") == 0) {
		st->in_pre += closing ? -1 : 1;
		newline(st, 1);
	} else if (in_list(name, block_tags)) {
		newline(st, strcmp(name, "p") == 0 || (name[0] == 'h' && g_ascii_isdigit(name[1])) ? 2 : 1);
	}
}

void
lg_html_init(void)
{
	xmlInitParser();
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
			if (semi && p[1] == '#') {
				gchar *e = NULL;
				guint64 v = (p[2] == 'x' || p[2] == 'X') ? g_ascii_strtoull(p + 3, &e, 16) : g_ascii_strtoull(p + 2, &e, 10);
				c = e == semi && v > 0 && v <= 0x10FFFF && !(v >= 0xD800 && v <= 0xDFFF) ? (gunichar) v : 0;
			} else if (semi) {
				g_autofree xmlChar *name = xmlStrndup((const xmlChar *) p + 1, (int) (semi - p - 1));
				const htmlEntityDesc *ent = htmlEntityLookup(name);
				c = ent ? ent->value : 0;
			}
			if (c != 0) {
				buf[g_unichar_to_utf8(c, buf)] = '\0';
				emit_text(st, buf);
				p = semi + 1;
				continue;
			}
		}
		const char *q = p + 1;
		while (q < end && *q != '<' && *q != '&')
			q++;
		g_autofree char *chunk = g_strndup(p, (gsize) (q - p));
		emit_text(st, chunk);
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
	h2t st = { .out = g_string_sized_new(n / 2 + 16) };
	htmlParserCtxtPtr ctxt = htmlNewParserCtxt();
	if (ctxt == NULL) {
		emit_unparsed(&st, html, html + n);
		goto done;
	}
	/* no XML_PARSE_HUGE: its unlimited depth makes every unmatched end
	 * tag search the whole element stack (quadratic time) */
	htmlDocPtr doc = htmlCtxtReadMemory(ctxt, html, (int) n, NULL, "UTF-8",
	                                    HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
	                                    HTML_PARSE_RECOVER | HTML_PARSE_COMPACT | HTML_PARSE_NODEFDTD |
	                                    HTML_PARSE_IGNORE_ENC);
	/* libxml2 stopped reading (its nesting limit, "Excessive depth"):
	 * the whole input goes through the plain scan instead */
	if (ctxt->instate == XML_PARSER_EOF && ctxt->lastError.code == XML_ERR_INTERNAL_ERROR) {
		if (doc)
			xmlFreeDoc(doc);
		htmlFreeParserCtxt(ctxt);
		emit_unparsed(&st, html, html + n);
		goto done;
	}
	xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
	xmlNodePtr node = root;
	while (node != NULL) {
		gboolean descend = FALSE;
		if (node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE) {
			if (node->content)
				emit_text(&st, (const char *) node->content);
		} else if (node->type == XML_ELEMENT_NODE && node->name) {
			const char *name = (const char *) node->name;
			if (!in_list(name, dropped_tags)) {
				element_edge(&st, name, FALSE);
				descend = node->children != NULL;
				if (!descend)
					element_edge(&st, name, TRUE);
			}
		}
		if (descend) {
			node = node->children;
			continue;
		}
		/* next sibling, or up (closing each element left) until one has */
		while (node != NULL && node != root && node->next == NULL) {
			node = node->parent;
			if (node && node->type == XML_ELEMENT_NODE && node->name)
				element_edge(&st, (const char *) node->name, TRUE);
		}
		node = node == NULL || node == root ? NULL : node->next;
	}
	if (doc)
		xmlFreeDoc(doc);
	htmlFreeParserCtxt(ctxt);
done:
	while (st.out->len > 0 && g_ascii_isspace(st.out->str[st.out->len - 1]))
		g_string_truncate(st.out, st.out->len - 1);
	return g_string_free(st.out, FALSE);
}
