/*
 * NAME
 *   rules_lex.c - the rule files' lexer: RFC 5228 §8.1, by hand.
 *
 * SUMMARY
 *   Turns the bytes of one rule file into tokens: identifiers, tags
 *   (":name"), numbers (with the K, M and G quantifiers), quoted strings
 *   (\" and \\ escapes; any other backslash is dropped, as §2.4.2 says),
 *   multi-line strings ("text:" up to a line holding only ".", with a
 *   leading "." of a line removed), and the punctuation ; , ( ) [ ] { }.
 *   Comments ("#" to the end of the line, and "/" "*" ... "*" "/") and white
 *   space (SP, HTAB, CR, LF) separate tokens. Line ends may be CRLF or LF;
 *   inside a multi-line string they become LF.
 *
 *   The lexer never reads past the buffer it is given, and no input makes
 *   it loop: every step consumes at least one byte or ends the file.
 *
 * DIAGNOSTICS
 *   A lexical error (an unterminated string or comment, a character that
 *   starts no token, a number too large, a string that is not UTF-8) is
 *   reported at the position where the offending token starts; the rest of
 *   the file is not read, because after an unterminated string nothing
 *   that follows can be trusted.
 */
#include <string.h>

#include "rules_int.h"

void
rules_diag_add(rules_diag *d, guint line, guint col, const char *fmt, ...)
{
	va_list ap;
	g_autofree char *msg = NULL;

	if (rules_diag_count(d) >= RULES_DIAG_MAX)
		return;
	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (rules_diag_count(d) == RULES_DIAG_MAX - 1)
		g_ptr_array_add(d->lines, g_strdup_printf(
			"%s:%u:%u: error: too many errors; giving up on this file",
			d->file, line, col));
	else
		g_ptr_array_add(d->lines, g_strdup_printf("%s:%u:%u: error: %s",
		                                          d->file, line, col, msg));
}

void
rules_lex_init(rules_lexer *lx, const char *src, gsize len, rules_diag *diag)
{
	memset(lx, 0, sizeof *lx);
	lx->src = src;
	lx->len = len;
	lx->line = 1;
	lx->col = 1;
	lx->diag = diag;
	/* A UTF-8 byte order mark is not part of the text. */
	if (len >= 3 && memcmp(src, "\xEF\xBB\xBF", 3) == 0)
		lx->pos = 3;
}

void
rules_token_clear(rules_token *tok)
{
	g_free(tok->text);
	memset(tok, 0, sizeof *tok);
}

static int
lx_peek(const rules_lexer *lx, gsize ahead)
{
	if (lx->pos + ahead >= lx->len)
		return -1;
	return (unsigned char)lx->src[lx->pos + ahead];
}

/* Consumes one byte, keeping line and column (in characters) up to date. */
static void
lx_advance(rules_lexer *lx)
{
	unsigned char c;

	if (lx->pos >= lx->len)
		return;
	c = (unsigned char)lx->src[lx->pos++];
	if (c == '\n') {
		lx->line++;
		lx->col = 1;
	} else if ((c & 0xC0) != 0x80) {
		/* a continuation byte belongs to the character before it */
		lx->col++;
	}
}

static void
lx_fail(rules_lexer *lx, rules_token *tok, guint line, guint col, const char *fmt, ...)
	G_GNUC_PRINTF(5, 6);

static void
lx_fail(rules_lexer *lx, rules_token *tok, guint line, guint col, const char *fmt, ...)
{
	va_list ap;
	g_autofree char *msg = NULL;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	rules_diag_add(lx->diag, line, col, "%s", msg);
	lx->failed = TRUE;
	g_free(tok->text);
	tok->text = NULL;
	tok->kind = TOK_ERROR;
	tok->line = line;
	tok->col = col;
}

/* Skips white space and comments. Returns FALSE after an error. */
static gboolean
lx_skip_space(rules_lexer *lx, rules_token *tok)
{
	for (;;) {
		int c = lx_peek(lx, 0);

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			lx_advance(lx);
		} else if (c == '#') {
			while ((c = lx_peek(lx, 0)) != -1 && c != '\n')
				lx_advance(lx);
		} else if (c == '/' && lx_peek(lx, 1) == '*') {
			guint line = lx->line, col = lx->col;

			lx_advance(lx);
			lx_advance(lx);
			for (;;) {
				c = lx_peek(lx, 0);
				if (c == -1) {
					lx_fail(lx, tok, line, col,
					        "unterminated comment: '/*' without '*/'");
					return FALSE;
				}
				if (c == '*' && lx_peek(lx, 1) == '/') {
					lx_advance(lx);
					lx_advance(lx);
					break;
				}
				lx_advance(lx);
			}
		} else {
			return TRUE;
		}
	}
}

static gboolean
lx_string_ok(rules_lexer *lx, rules_token *tok, GString *s)
{
	if (memchr(s->str, '\0', s->len) != NULL) {
		lx_fail(lx, tok, tok->line, tok->col, "string contains a NUL character");
		return FALSE;
	}
	if (!g_utf8_validate(s->str, (gssize)s->len, NULL)) {
		lx_fail(lx, tok, tok->line, tok->col, "string is not valid UTF-8");
		return FALSE;
	}
	return TRUE;
}

static void
lx_quoted(rules_lexer *lx, rules_token *tok)
{
	g_autoptr(GString) s = g_string_new(NULL);

	lx_advance(lx);   /* the opening quote */
	for (;;) {
		int c = lx_peek(lx, 0);

		if (c == -1) {
			lx_fail(lx, tok, tok->line, tok->col,
			        "unterminated string: missing closing '\"'");
			return;
		}
		if (c == '"') {
			lx_advance(lx);
			break;
		}
		if (c == '\\') {
			lx_advance(lx);
			c = lx_peek(lx, 0);
			if (c == -1)
				continue;   /* reported as unterminated above */
		}
		g_string_append_c(s, (char)c);
		lx_advance(lx);
	}
	if (!lx_string_ok(lx, tok, s))
		return;
	tok->kind = TOK_STRING;
	tok->len = s->len;
	tok->text = g_string_free(g_steal_pointer(&s), FALSE);
}

/* After "text:": optional blanks, an optional comment, the end of the line,
 * then lines up to one that holds only ".". */
static void
lx_multiline(rules_lexer *lx, rules_token *tok)
{
	g_autoptr(GString) s = g_string_new(NULL);
	int c;

	while ((c = lx_peek(lx, 0)) == ' ' || c == '\t')
		lx_advance(lx);
	if (c == '#') {
		while ((c = lx_peek(lx, 0)) != -1 && c != '\n')
			lx_advance(lx);
	}
	if (c == '\r' && lx_peek(lx, 1) == '\n')
		lx_advance(lx);
	c = lx_peek(lx, 0);
	if (c != '\n') {
		lx_fail(lx, tok, tok->line, tok->col,
		        "'text:' must be followed by the end of the line");
		return;
	}
	lx_advance(lx);
	for (;;) {
		gsize start = lx->pos, end;
		const char *line;
		gsize n;

		if (lx->pos >= lx->len) {
			lx_fail(lx, tok, tok->line, tok->col,
			        "unterminated multi-line string: no line with a single '.' after 'text:'");
			return;
		}
		while ((c = lx_peek(lx, 0)) != -1 && c != '\n')
			lx_advance(lx);
		end = lx->pos;
		if (c == '\n')
			lx_advance(lx);
		line = lx->src + start;
		n = end - start;
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (n == 1 && line[0] == '.')
			break;   /* also accepted without a final line end */
		if (c == -1) {
			/* the last line has no end: the terminating "." is missing */
			lx_fail(lx, tok, tok->line, tok->col,
			        "unterminated multi-line string: no line with a single '.' after 'text:'");
			return;
		}
		if (n > 0 && line[0] == '.') {   /* dot-stuffing */
			line++;
			n--;
		}
		g_string_append_len(s, line, (gssize)n);
		g_string_append_c(s, '\n');
	}
	if (!lx_string_ok(lx, tok, s))
		return;
	tok->kind = TOK_STRING;
	tok->len = s->len;
	tok->text = g_string_free(g_steal_pointer(&s), FALSE);
}

static gboolean
is_ident_start(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static gboolean
is_ident_char(int c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9');
}

static char *
lx_ident(rules_lexer *lx)
{
	gsize start = lx->pos;

	while (is_ident_char(lx_peek(lx, 0)))
		lx_advance(lx);
	return g_strndup(lx->src + start, lx->pos - start);
}

static void
lx_number(rules_lexer *lx, rules_token *tok)
{
	guint64 v = 0;
	gboolean overflow = FALSE;
	int c;

	while ((c = lx_peek(lx, 0)) >= '0' && c <= '9') {
		if (v > (G_MAXINT64 - 9) / 10)
			overflow = TRUE;
		else
			v = v * 10 + (guint64)(c - '0');
		lx_advance(lx);
	}
	c = lx_peek(lx, 0);
	if (c == 'K' || c == 'k' || c == 'M' || c == 'm' || c == 'G' || c == 'g') {
		int shift = (c == 'K' || c == 'k') ? 10 : (c == 'M' || c == 'm') ? 20 : 30;

		if (v > ((guint64)G_MAXINT64 >> shift))
			overflow = TRUE;
		else
			v <<= shift;
		lx_advance(lx);
	}
	if (overflow) {
		lx_fail(lx, tok, tok->line, tok->col, "number too large");
		return;
	}
	tok->kind = TOK_NUMBER;
	tok->num = v;
}

void
rules_lex_next(rules_lexer *lx, rules_token *tok)
{
	int c;

	rules_token_clear(tok);
	if (lx->failed) {
		tok->kind = TOK_EOF;
		tok->line = tok->end_line = lx->line;
		tok->col = tok->end_col = lx->col;
		return;
	}
	if (!lx_skip_space(lx, tok))
		return;
	tok->line = lx->line;
	tok->col = lx->col;
	c = lx_peek(lx, 0);
	switch (c) {
	case -1:
		tok->kind = TOK_EOF;
		break;
	case ';': tok->kind = TOK_SEMI; lx_advance(lx); break;
	case ',': tok->kind = TOK_COMMA; lx_advance(lx); break;
	case '(': tok->kind = TOK_LPAREN; lx_advance(lx); break;
	case ')': tok->kind = TOK_RPAREN; lx_advance(lx); break;
	case '[': tok->kind = TOK_LBRACKET; lx_advance(lx); break;
	case ']': tok->kind = TOK_RBRACKET; lx_advance(lx); break;
	case '{': tok->kind = TOK_LBRACE; lx_advance(lx); break;
	case '}': tok->kind = TOK_RBRACE; lx_advance(lx); break;
	case '"':
		lx_quoted(lx, tok);
		break;
	case ':':
		lx_advance(lx);
		if (!is_ident_start(lx_peek(lx, 0))) {
			lx_fail(lx, tok, tok->line, tok->col, "expected a tag name after ':'");
			return;
		}
		tok->kind = TOK_TAG;
		tok->text = lx_ident(lx);
		tok->len = strlen(tok->text);
		break;
	default:
		if (c >= '0' && c <= '9') {
			lx_number(lx, tok);
		} else if (is_ident_start(c)) {
			tok->text = lx_ident(lx);
			tok->len = strlen(tok->text);
			tok->kind = TOK_IDENT;
			if (g_ascii_strcasecmp(tok->text, "text") == 0 && lx_peek(lx, 0) == ':') {
				lx_advance(lx);
				g_clear_pointer(&tok->text, g_free);
				lx_multiline(lx, tok);
			}
		} else if (c >= 0x21 && c < 0x7F) {
			lx_fail(lx, tok, tok->line, tok->col, "unexpected character '%c'", c);
		} else {
			gunichar u = g_utf8_get_char_validated(lx->src + lx->pos,
			                                       (gssize)(lx->len - lx->pos));
			if (u == (gunichar)-1 || u == (gunichar)-2)
				lx_fail(lx, tok, tok->line, tok->col,
				        "unexpected byte 0x%02X (not UTF-8)", (unsigned)c);
			else
				lx_fail(lx, tok, tok->line, tok->col,
				        "unexpected character U+%04X", (unsigned)u);
		}
		break;
	}
	tok->end_line = lx->line;
	tok->end_col = lx->col;
}

char *
rules_token_describe(const rules_token *tok)
{
	switch (tok->kind) {
	case TOK_EOF: return g_strdup("end of file");
	case TOK_IDENT: return g_strdup_printf("identifier '%s'", tok->text);
	case TOK_TAG: return g_strdup_printf("tag ':%s'", tok->text);
	case TOK_STRING: return g_strdup("a string");
	case TOK_NUMBER: return g_strdup("a number");
	case TOK_SEMI: return g_strdup("';'");
	case TOK_COMMA: return g_strdup("','");
	case TOK_LPAREN: return g_strdup("'('");
	case TOK_RPAREN: return g_strdup("')'");
	case TOK_LBRACKET: return g_strdup("'['");
	case TOK_RBRACKET: return g_strdup("']'");
	case TOK_LBRACE: return g_strdup("'{'");
	case TOK_RBRACE: return g_strdup("'}'");
	case TOK_ERROR: return g_strdup("an error");
	}
	return g_strdup("?");
}
