/*
 * NAME
 *   message.c - bytes to lg_message with GMime (see message.h).
 *
 * SUMMARY
 *   The parser runs with persist_stream, so part contents stay in the raw
 *   stream (memory or spool file) and are read in chunks: attachment hashes
 *   go through a hashing sink stream, the text body is read up to a limit.
 *   Nothing here refuses a message: malformed input yields what could be read
 *   plus warnings.
 *
 *   Text decoding: a part's declared charset is used when iconv knows it and
 *   the bytes convert; a 7-bit charset with escape sequences (ISO-2022-*)
 *   that does not convert goes through a superset (ISO-2022-JP as
 *   EUC-JP-MS, for the Windows extension rows) or converts lossily with
 *   U+FFFD, never keeping its escapes; otherwise valid UTF-8 is taken as it
 *   is; otherwise the bytes are read as windows-1252 (a superset of
 *   ISO-8859-1 in practice), and a warning says so. A NUL byte becomes
 *   U+FFFD, in the body and in headers alike.
 *
 *   Headers: GMime parses with strict RFC 2047 (its loose mode takes time
 *   quadratic in a header of unterminated encoded words); values whose
 *   encoded words strict mode would misread (adjacent words, words glued
 *   to text or quoted) are decoded again here, loosely where that is
 *   bounded. Undeclared 8-bit bytes are read as UTF-8, else in the charset
 *   the message declares for its text, else as windows-1252; control
 *   characters (C0, DEL, C1) become spaces.
 *
 *   Every loop here is linear in its input: no input costs more.
 */
#include "config.h"
#include <errno.h>
#include <string.h>
#include <gmime/gmime.h>
#include "lg.h"
#include "message.h"
#include "digest.h"

#define LG_BODY_MAX_DEFAULT (1024 * 1024)
#define LG_SUBJECT_MAX 4096
#define LG_HEADER_VALUE_MAX 65536
#define LG_MAX_PARTS 1000
#define LG_MAX_DEPTH 20
#define LG_MAX_HEADERS 2000

/* ---- a write-only stream that counts and hashes what is written -------- */

typedef struct {
	GMimeStream parent;
	lg_sha256 *sum;
	gint64 written;
} LgHashStream;
typedef struct {
	GMimeStreamClass parent_class;
} LgHashStreamClass;

static GType lg_hash_stream_get_type(void);
G_DEFINE_TYPE(LgHashStream, lg_hash_stream, GMIME_TYPE_STREAM)

static ssize_t
hash_stream_write(GMimeStream *stream, const char *buf, size_t len)
{
	LgHashStream *hs = (LgHashStream *) stream;
	lg_sha256_update(hs->sum, buf, len);
	hs->written += (gint64) len;
	return (ssize_t) len;
}
static ssize_t hash_stream_read(GMimeStream *s, char *b, size_t l) { return -1; }
static int hash_stream_flush(GMimeStream *s) { return 0; }
static int hash_stream_close(GMimeStream *s) { return 0; }
static gboolean hash_stream_eos(GMimeStream *s) { return TRUE; }
static int hash_stream_reset(GMimeStream *s) { return 0; }
static gint64 hash_stream_seek(GMimeStream *s, gint64 o, GMimeSeekWhence w) { return -1; }
static gint64 hash_stream_tell(GMimeStream *s) { return ((LgHashStream *) s)->written; }
static gint64 hash_stream_length(GMimeStream *s) { return ((LgHashStream *) s)->written; }
static GMimeStream *hash_stream_substream(GMimeStream *s, gint64 a, gint64 b) { return NULL; }

static void
lg_hash_stream_finalize(GObject *obj)
{
	lg_sha256_free(((LgHashStream *) obj)->sum);
	G_OBJECT_CLASS(lg_hash_stream_parent_class)->finalize(obj);
}

static void
lg_hash_stream_class_init(LgHashStreamClass *klass)
{
	GMimeStreamClass *sc = GMIME_STREAM_CLASS(klass);
	G_OBJECT_CLASS(klass)->finalize = lg_hash_stream_finalize;
	sc->read = hash_stream_read;
	sc->write = hash_stream_write;
	sc->flush = hash_stream_flush;
	sc->close = hash_stream_close;
	sc->eos = hash_stream_eos;
	sc->reset = hash_stream_reset;
	sc->seek = hash_stream_seek;
	sc->tell = hash_stream_tell;
	sc->length = hash_stream_length;
	sc->substream = hash_stream_substream;
}

static void
lg_hash_stream_init(LgHashStream *hs)
{
	hs->sum = lg_sha256_new();
}

/* ---- parse state ------------------------------------------------------- */

typedef struct {
	lg_message *msg;
	const lg_parse_options *opts;
	GMimeParserOptions *popts;   /* strict RFC 2047 (the parser's) */
	GMimeParserOptions *lopts;   /* loose RFC 2047 */
	GMimeObject *root;           /* the message's MIME part (borrowed) */
	GMimeStream *stream;         /* the raw message (borrowed) */
	gint64 headers_end;          /* end of the top-level header block */
	const char *charset;         /* see declared_charset() */
	gboolean charset_done;
	GMimeObject *texts[16];      /* text/plain and text/html parts that may be
	                              * the body, in the message's order (borrowed) */
	guint ntexts;
	guint parts_seen;
	gboolean attachments_over;   /* the "more than LG_MAX_PARTS attachments" warning given */
} parse_ctx;

static void
add_warning(lg_message *msg, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void
add_warning(lg_message *msg, const char *fmt, ...)
{
	if (msg->warnings->len >= 100)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *w = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	for (guint i = 0; i < msg->warnings->len; i++)
		if (strcmp(msg->warnings->pdata[i], w) == 0) {
			g_free(w);
			return;
		}
	g_ptr_array_add(msg->warnings, w);
}

static const char *
warning_text(GMimeParserWarning code)
{
	switch (code) {
	case GMIME_WARN_DUPLICATED_HEADER: return "duplicated header";
	case GMIME_WARN_DUPLICATED_PARAMETER: return "duplicated header parameter";
	case GMIME_WARN_UNENCODED_8BIT_HEADER: return "unencoded 8-bit header";
	case GMIME_WARN_INVALID_CONTENT_TYPE: return "invalid content type";
	case GMIME_WARN_INVALID_RFC2047_HEADER_VALUE: return "invalid RFC 2047 encoded word";
	case GMIME_WARN_MALFORMED_MULTIPART: return "multipart without parts";
	case GMIME_WARN_TRUNCATED_MESSAGE: return "truncated message";
	case GMIME_WARN_MALFORMED_MESSAGE: return "malformed message";
	case GMIME_CRIT_INVALID_HEADER_NAME: return "invalid header name";
	case GMIME_CRIT_CONFLICTING_HEADER: return "conflicting header";
	case GMIME_CRIT_CONFLICTING_PARAMETER: return "conflicting header parameter";
	case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY: return "multipart without boundary";
	case GMIME_WARN_INVALID_PARAMETER: return "invalid header parameter";
	case GMIME_WARN_INVALID_ADDRESS_LIST: return "invalid address list";
	case GMIME_CRIT_NESTING_OVERFLOW: return "MIME nesting too deep";
	case GMIME_WARN_PART_WITHOUT_CONTENT: return "part without content";
	case GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT: return "part without headers or content";
	default: return "parser warning";
	}
}

static void
on_parser_warning(gint64 offset, GMimeParserWarning code, const gchar *item, gpointer user_data)
{
	lg_message *msg = user_data;
	/* GMime passes the whole header value as @item, once per bad encoded
	 * word in it: only a bounded prefix may be looked at here. */
	gsize n = item ? strnlen(item, 200) : 0;
	if (n > 0 && n < 200 && g_utf8_validate(item, (gssize) n, NULL))
		add_warning(msg, "%s: %s", warning_text(code), item);
	else
		add_warning(msg, "%s", warning_text(code));
}

/* A copy of @s (@len bytes) in which every NUL byte is U+FFFD: a NUL would
 * end the text early in C strings and SQLite, hiding what follows it from
 * body rules. Returns NULL when @s holds no NUL. */
static char *
nul_to_fffd(const char *s, gsize len)
{
	const char *nul = memchr(s, '\0', len);
	if (nul == NULL)
		return NULL;
	GString *out = g_string_sized_new(len + 16);
	const char *p = s, *end = s + len;
	while (nul != NULL) {
		g_string_append_len(out, p, nul - p);
		g_string_append(out, "\xEF\xBF\xBD");
		p = nul + 1;
		nul = memchr(p, '\0', (gsize) (end - p));
	}
	g_string_append_len(out, p, end - p);
	return g_string_free(out, FALSE);
}

/* @len bytes of @s, NUL bytes included, and a NUL after them. */
static char *
bytes_dup(const char *s, gsize len)
{
	char *c = g_malloc(len + 1);
	memcpy(c, s, len);
	c[len] = '\0';
	return c;
}

/* Takes @s (@len bytes, NUL-terminated, may hold NUL) and returns it with
 * every NUL as U+FFFD, warning once. */
static char *
take_without_nul(lg_message *msg, char *s, gsize len)
{
	char *fixed = nul_to_fffd(s, len);
	if (fixed == NULL)
		return s;
	add_warning(msg, "NUL bytes in text replaced by U+FFFD");
	g_free(s);
	return fixed;
}

/* glibc loads a charset's converter (gconv/NAME.so) at iconv_open() and
 * unloads it soon after its last descriptor is closed, once two other
 * converters were released. With mail in a handful of charsets, nearly
 * every conversion loaded and unloaded its module: dlopen() and dlclose()
 * under the loader's global lock, a parse three to four times slower
 * (docs/performance.md). One descriptor per charset kept open for the life
 * of the process keeps its module loaded. The common charsets of mail are
 * kept from lg_message_init() on; others after their first conversion that
 * worked, up to a bound, so that a stranger naming many charsets costs only
 * what every conversion cost before, and a name iconv does not know costs
 * nothing here (glibc's deferred unloading still holds the module the
 * conversion just used). */
#define KEPT_CHARSETS_MAX 64
static GMutex kept_lock;
static GHashTable *kept_charsets;   /* upper-case iconv name -> GIConv, never closed */

static void
keep_charset_loaded(const char *iconv_name)
{
	char key[64];
	gsize n = strlen(iconv_name);
	if (n == 0 || n >= sizeof key)
		return;
	for (gsize i = 0; i <= n; i++)
		key[i] = g_ascii_toupper(iconv_name[i]);
	g_mutex_lock(&kept_lock);
	if (kept_charsets == NULL)
		kept_charsets = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	if (!g_hash_table_contains(kept_charsets, key) && g_hash_table_size(kept_charsets) < KEPT_CHARSETS_MAX) {
		GIConv cd = g_iconv_open("UTF-8", key);
		if (cd != (GIConv) -1)
			g_hash_table_insert(kept_charsets, g_strdup(key), cd);
	}
	g_mutex_unlock(&kept_lock);
}

/* @data from @from to UTF-8; a sequence that does not convert becomes
 * U+FFFD, one byte at a time, so the time is linear in @len. NULL when
 * iconv does not know @from. */
static char *
convert_lossy(const char *data, gsize len, const char *from, gsize *written)
{
	GIConv cd = g_iconv_open("UTF-8", from);
	if (cd == (GIConv) -1)
		return NULL;
	GString *out = g_string_sized_new(len * 2 + 16);
	char *in = (char *) data;
	gsize inleft = len;
	char buf[4096];
	for (;;) {
		char *o = buf;
		gsize oleft = sizeof buf;
		gsize r = inleft > 0 ? g_iconv(cd, &in, &inleft, &o, &oleft) : g_iconv(cd, NULL, NULL, &o, &oleft);
		g_string_append_len(out, buf, o - buf);
		if (r != (gsize) -1 && inleft == 0) {
			if (o == buf)
				break;
			continue;   /* the shift-state reset may not have fit */
		}
		if (r == (gsize) -1 && errno == E2BIG)
			continue;
		if (inleft == 0)
			break;
		g_string_append(out, "\xEF\xBF\xBD");
		in++;
		inleft--;
	}
	g_iconv_close(cd);
	*written = out->len;
	return g_string_free(out, FALSE);
}

/* Takes @s (@len bytes) and returns it with each ESC byte as U+FFFD. */
static char *
esc_to_fffd(char *s, gsize *len)
{
	if (memchr(s, 0x1B, *len) == NULL)
		return s;
	GString *out = g_string_sized_new(*len + 16);
	for (gsize i = 0; i < *len; i++) {
		if (s[i] == 0x1B)
			g_string_append(out, "\xEF\xBF\xBD");
		else
			g_string_append_c(out, s[i]);
	}
	g_free(s);
	*len = out->len;
	return g_string_free(out, FALSE);
}

/* ISO-2022-JP as mailers write it carries the NEC and IBM extension rows of
 * Windows (CP50220/CP50221), which glibc's ISO-2022-JP codecs refuse. In
 * the two-byte sets each JIS pair is the EUC-JP pair without its high bits,
 * and glibc's EUC-JP-MS has the Microsoft rows, so the text is re-written
 * as EUC-JP and converted from EUC-JP-MS. Returns NULL on a byte that fits
 * no mode (the caller then converts lossily). */
static char *
iso2022jp_to_eucjp(const char *data, gsize len)
{
	enum { ASCII, KANJI, KANA, KANJI_0212 } mode = ASCII;
	GString *out = g_string_sized_new(len + 16);
	for (gsize i = 0; i < len; i++) {
		guint8 c = (guint8) data[i];
		if (c == 0x1B) {
			const char *e = data + i + 1;
			gsize left = len - i - 1;
			if (left >= 2 && (memcmp(e, "(B", 2) == 0 || memcmp(e, "(J", 2) == 0))
				mode = ASCII, i += 2;
			else if (left >= 2 && (memcmp(e, "$B", 2) == 0 || memcmp(e, "$@", 2) == 0))
				mode = KANJI, i += 2;
			else if (left >= 2 && memcmp(e, "(I", 2) == 0)
				mode = KANA, i += 2;
			else if (left >= 3 && memcmp(e, "$(D", 3) == 0)
				mode = KANJI_0212, i += 3;
			else if (left >= 3 && (memcmp(e, "$(B", 3) == 0 || memcmp(e, "$(Q", 3) == 0))
				mode = KANJI, i += 3;
			else
				goto fail;
			continue;
		}
		if (c == 0x0E || c == 0x0F || c >= 0x80)
			goto fail;
		if (mode == ASCII || c < 0x21 || c == 0x7F) {
			if (c == '\n')
				mode = ASCII;   /* RFC 1468: every line ends in ASCII */
			g_string_append_c(out, (char) c);
		} else if (mode == KANA) {
			g_string_append_c(out, (char) 0x8E);
			g_string_append_c(out, (char) (c | 0x80));
		} else {
			if (i + 1 >= len || (guint8) data[i + 1] < 0x21 || (guint8) data[i + 1] > 0x7E)
				goto fail;
			if (mode == KANJI_0212)
				g_string_append_c(out, (char) 0x8F);
			g_string_append_c(out, (char) (c | 0x80));
			g_string_append_c(out, (char) ((guint8) data[++i] | 0x80));
		}
	}
	return g_string_free(out, FALSE);
fail:
	g_string_free(out, TRUE);
	return NULL;
}

/* Bytes in @charset (may be NULL) to UTF-8, NUL bytes as U+FFFD; never
 * fails. */
static char *
to_utf8(lg_message *msg, const char *data, gsize len, const char *charset)
{
	if (data == NULL || len == 0)
		return g_strdup("");
	gsize written = 0;
	if (charset && *charset) {
		const char *iconv_name = g_mime_charset_iconv_name(charset);
		/* ISO-2022 and the like are 7-bit: as "valid UTF-8" their escape
		 * sequences would be stored as text, and glibc passes an escape
		 * sequence of a set it does not know through. A superset, else
		 * lossy. */
		gboolean escapes = g_ascii_strncasecmp(iconv_name, "ISO-2022", 8) == 0 ||
		                   g_ascii_strncasecmp(iconv_name, "UTF-7", 5) == 0 ||
		                   g_ascii_strncasecmp(iconv_name, "HZ", 2) == 0;
		char *out = g_convert(data, (gssize) len, "UTF-8", iconv_name, NULL, &written, NULL);
		if (out != NULL)
			keep_charset_loaded(iconv_name);
		if (out != NULL && escapes && memchr(out, 0x1B, written) != NULL)
			g_clear_pointer(&out, g_free);
		if (out != NULL)
			return take_without_nul(msg, out, written);
		if (g_ascii_strncasecmp(iconv_name, "ISO-2022-JP", 11) == 0) {
			g_autofree char *euc = iso2022jp_to_eucjp(data, len);
			out = euc ? g_convert(euc, -1, "UTF-8", "EUC-JP-MS", NULL, &written, NULL) : NULL;
			if (out != NULL)
				return take_without_nul(msg, out, written);
		}
		if (escapes && (out = convert_lossy(data, len, iconv_name, &written)) != NULL) {
			out = esc_to_fffd(out, &written);
			add_warning(msg, "text in charset \"%s\" did not convert; unknown sequences replaced by U+FFFD", charset);
			return take_without_nul(msg, out, written);
		}
		g_autofree char *fixed = nul_to_fffd(data, len);
		if (g_utf8_validate(fixed ? fixed : data, fixed ? -1 : (gssize) len, NULL))
			return take_without_nul(msg, bytes_dup(data, len), len);
		add_warning(msg, "text in charset \"%s\" did not convert; read as windows-1252", charset);
	} else {
		g_autofree char *fixed = nul_to_fffd(data, len);
		if (g_utf8_validate(fixed ? fixed : data, fixed ? -1 : (gssize) len, NULL))
			return take_without_nul(msg, bytes_dup(data, len), len);
	}
	char *out = g_convert_with_fallback(data, (gssize) len, "UTF-8", "WINDOWS-1252", "?", NULL, &written, NULL);
	if (out == NULL)
		out = g_convert_with_fallback(data, (gssize) len, "UTF-8", "ISO-8859-1", "?", NULL, &written, NULL);
	if (out != NULL)
		return take_without_nul(msg, out, written);
	return g_utf8_make_valid(data, (gssize) len);
}

/* Cuts @r (UTF-8) to at most @max bytes, at a character boundary. */
static char *
clamp_text(lg_message *msg, char *r, gsize max)
{
	if (strlen(r) > max) {
		const char *end = g_utf8_find_prev_char(r, r + max);
		*(char *) (end ? end : r + max) = '\0';
		add_warning(msg, "header value truncated to %zu bytes", max);
	}
	return r;
}

/* Takes @u (valid UTF-8) and cleans it in place: CR and LF of folding go,
 * other controls (C0, DEL and C1, U+0080 to U+009F, two bytes in UTF-8)
 * become spaces, the ends are trimmed, at most @max bytes are kept. */
static char *
clean_utf8(lg_message *msg, char *u, gsize max)
{
	char *w = u;
	for (const char *p = u; *p; p++) {
		guint8 c = (guint8) *p;
		if (c == '\r' || c == '\n')
			continue;
		if (c == 0xC2 && (guint8) p[1] >= 0x80 && (guint8) p[1] <= 0x9F) {
			*w++ = ' ';
			p++;
			continue;
		}
		*w++ = (char) (((c < 0x20 && c != '\t') || c == 0x7F) ? ' ' : c);
	}
	*w = '\0';
	return clamp_text(msg, g_strstrip(u), max);
}

/* A decoded header value that is valid UTF-8 and free of NUL. */
static char *
clean_text(lg_message *msg, const char *s, gsize max)
{
	if (s == NULL)
		return NULL;
	gsize len = strlen(s);
	char *u = g_utf8_validate(s, (gssize) len, NULL) ? g_strndup(s, len) : to_utf8(msg, s, len, NULL);
	return clean_utf8(msg, u, max);
}

/* ---- RFC 2047: adjacent encoded words ----------------------------------
 * Mailers split long headers into several encoded words, often cutting a
 * multi-byte character in two (RFC 2047 forbids it; Outlook does it).
 * GMime 3.2.13 also drops the word that follows one ending in '=' padding.
 * So before decoding, each run of encoded words in the same charset,
 * separated only by white space, becomes one word: the payloads are decoded
 * to bytes, joined, and encoded again as a single B word. */

typedef struct {
	const char *start, *end;   /* the whole =?...?= */
	char *charset;             /* without *language */
	GByteArray *bytes;         /* decoded payload */
} enc_word;

static gboolean
enc_word_scan(const char *p, enc_word *w)
{
	if (p[0] != '=' || p[1] != '?')
		return FALSE;
	const char *cs = p + 2, *q1 = strchr(cs, '?');
	if (q1 == NULL || q1 == cs || (q1[1] != 'B' && q1[1] != 'b' && q1[1] != 'Q' && q1[1] != 'q') || q1[2] != '?')
		return FALSE;
	/* The payload ends at "?="; white space or the start of another word
	 * ("=?" not followed by '=') first means this is no encoded word. The
	 * scan stops there, so that a header of many unterminated words is
	 * read once, not once per word. */
	const char *data = q1 + 3, *end = data;
	for (;; end++) {
		if (*end == '\0' || *end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
			return FALSE;
		if (end[0] == '?' && end[1] == '=')
			break;
		if (end[0] == '=' && end[1] == '?' && end[2] != '=')
			return FALSE;
	}
	for (const char *c = cs; c < q1; c++)
		if (*c == ' ' || *c == '\t' || *c == '\n')
			return FALSE;
	const char *star = memchr(cs, '*', (gsize) (q1 - cs));
	w->start = p;
	w->end = end + 2;
	w->charset = g_strndup(cs, (gsize) ((star ? star : q1) - cs));
	w->bytes = g_byte_array_new();
	if (q1[1] == 'B' || q1[1] == 'b') {
		g_autofree char *b64 = g_strndup(data, (gsize) (end - data));
		gsize n = 0;
		guchar *dec = g_base64_decode(b64, &n);
		g_byte_array_append(w->bytes, dec, (guint) n);
		g_free(dec);
	} else {
		for (const char *c = data; c < end; c++) {
			guint8 b = (guint8) *c;
			if (*c == '_')
				b = ' ';
			else if (*c == '=' && end - c >= 3 && g_ascii_isxdigit(c[1]) && g_ascii_isxdigit(c[2])) {
				b = (guint8) (g_ascii_xdigit_value(c[1]) * 16 + g_ascii_xdigit_value(c[2]));
				c += 2;
			}
			g_byte_array_append(w->bytes, &b, 1);
		}
	}
	return TRUE;
}

static void
enc_word_clear(enc_word *w)
{
	g_free(w->charset);
	if (w->bytes)
		g_byte_array_unref(w->bytes);
	memset(w, 0, sizeof *w);
}

/* Returns a new string with runs of same-charset encoded words joined.
 * Words in ISO-2022-JP are converted here (to_utf8(): the Windows
 * extension rows that iconv's ISO-2022-JP refuses) and written again in
 * UTF-8. */
static char *
rfc2047_join_adjacent(lg_message *msg, const char *value)
{
	if (value == NULL || strstr(value, "=?") == NULL)
		return g_strdup(value);
	GString *out = g_string_sized_new(strlen(value));
	const char *p = value;
	while (*p) {
		enc_word w = { 0 };
		if (!enc_word_scan(p, &w)) {
			g_string_append_c(out, *p++);
			continue;
		}
		const char *next = w.end;
		guint joined = 1;
		for (;;) {
			const char *q = next;
			while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
				q++;
			enc_word w2 = { 0 };
			if (!enc_word_scan(q, &w2))
				break;
			if (g_ascii_strcasecmp(w2.charset, w.charset) != 0) {
				enc_word_clear(&w2);
				break;
			}
			g_byte_array_append(w.bytes, w2.bytes->data, w2.bytes->len);
			next = w2.end;
			joined++;
			enc_word_clear(&w2);
		}
		if (g_ascii_strncasecmp(w.charset, "ISO-2022-JP", 11) == 0) {
			g_autofree char *u = to_utf8(msg, (const char *) w.bytes->data, w.bytes->len, w.charset);
			g_autofree char *b64 = g_base64_encode((const guchar *) u, strlen(u));
			g_string_append_printf(out, "=?UTF-8?B?%s?=", b64);
		} else if (joined == 1) {
			g_string_append_len(out, w.start, w.end - w.start);
		} else {
			g_autofree char *b64 = g_base64_encode(w.bytes->data, w.bytes->len);
			g_string_append_printf(out, "=?%s?B?%s?=", w.charset, b64);
		}
		p = next;
		enc_word_clear(&w);
	}
	return g_string_free(out, FALSE);
}

/* The options to decode @value with. Loose RFC 2047 decodes encoded words
 * as mailers write them (inside quoted strings, glued to text), but GMime's
 * loose scan follows an encoded word that lacks its "?=" to the end of the
 * phrase or text, then starts again after the "=?": such words cost a scan
 * of the rest of the value each. This count of them is conservative (a
 * phrase may end at any of the characters below); past a few, the value is
 * decoded strictly, in linear time. */
static GMimeParserOptions *
rfc2047_opts(parse_ctx *ctx, const char *value)
{
	guint risky = 0, pending = 0;
	const char *newest = NULL;   /* payload start of the newest pending word */
	for (const char *p = value; *p; p++) {
		if (strchr("<>,;:@\"()\\", *p) != NULL) {
			risky += pending;
			pending = 0;
		} else if (p[0] == '?' && p[1] == '=') {
			pending = pending > 0 && newest > p ? 1 : 0;
		} else if (p[0] == '=' && p[1] == '?') {
			const char *q = p + 2;
			while (*q && *q != '?')
				q++;
			if (q[0] == '?' && q[1] && strchr("BbQq", q[1]) && q[2] == '?') {
				pending++;
				newest = q + 3;
			}
		}
	}
	return risky + pending > 4 ? ctx->popts : ctx->lopts;
}

/* The first charset parameter of the message's parts (depth first), the
 * charset a sender's mailer most likely used for undeclared 8-bit headers
 * too; NULL when none but US-ASCII or UTF-8. Looked up once, on demand. */
static const char *
declared_charset(parse_ctx *ctx)
{
	if (ctx->charset_done)
		return ctx->charset;
	ctx->charset_done = TRUE;
	GMimeObject *stack[64];
	int n = 0;
	guint seen = 0;
	if (ctx->root)
		stack[n++] = ctx->root;
	while (n > 0 && seen++ < 200) {
		GMimeObject *o = stack[--n];
		GMimeContentType *ct = g_mime_object_get_content_type(o);
		const char *cs = ct ? g_mime_content_type_get_parameter(ct, "charset") : NULL;
		if (cs && g_ascii_strcasecmp(cs, "us-ascii") != 0 && g_ascii_strcasecmp(cs, "utf-8") != 0 &&
		    g_ascii_strcasecmp(cs, "utf8") != 0) {
			ctx->charset = cs;
			break;
		}
		if (GMIME_IS_MULTIPART(o)) {
			int count = g_mime_multipart_get_count(GMIME_MULTIPART(o));
			for (int i = count - 1; i >= 0; i--)
				if (n < (int) G_N_ELEMENTS(stack))
					stack[n++] = g_mime_multipart_get_part(GMIME_MULTIPART(o), i);
		}
	}
	return ctx->charset;
}

/* Header @i's raw value (folding kept) as text for decoding: GMime's copy
 * of it ends at a NUL byte, so when the header's bytes in the stream are
 * more than its name and value, the value is read again from the stream
 * with each NUL as U+FFFD; undeclared 8-bit bytes are read as UTF-8, else
 * in the charset the message declares for its text, else windows-1252.
 * Sets *@changed when the result is not GMime's raw value. */
static char *
header_text(parse_ctx *ctx, GMimeHeaderList *hl, int i, gboolean *changed)
{
	GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
	const char *raw = g_mime_header_get_raw_value(h);
	*changed = FALSE;
	if (raw == NULL)
		return NULL;
	const char *rname = g_mime_header_get_raw_name(h);
	gint64 off = g_mime_header_get_offset(h);
	gint64 next = i + 1 < g_mime_header_list_get_count(hl)
	              ? g_mime_header_get_offset(g_mime_header_list_get_header_at(hl, i + 1))
	              : ctx->headers_end;
	gsize rlen = strlen(raw);
	char *text = NULL;
	if (ctx->stream && rname && off >= 0 && next > off &&
	    (guint64) (next - off) > strlen(rname) + 1 + rlen) {
		gsize want = (gsize) MIN(next - off, (gint64) LG_HEADER_VALUE_MAX * 2);
		char *buf = g_malloc(want + 1);
		ssize_t got = g_mime_stream_seek(ctx->stream, off, GMIME_STREAM_SEEK_SET) == off
		              ? g_mime_stream_read(ctx->stream, buf, want) : -1;
		gsize skip = strlen(rname) + 1;
		if (got > 0 && (gsize) got > skip) {
			/* the field ends at the first line break not followed by WSP
			 * (an invalid header line GMime skipped may come next) */
			gsize end = skip;
			while (end < (gsize) got && !(buf[end] == '\n' && (end + 1 >= (gsize) got ||
			                               (buf[end + 1] != ' ' && buf[end + 1] != '\t'))))
				end++;
			text = nul_to_fffd(buf + skip, end - skip);
			if (text)
				add_warning(ctx->msg, "NUL bytes in a header replaced by U+FFFD");
		}
		g_free(buf);
	}
	const char *v = text ? text : raw;
	if (!g_utf8_validate(v, -1, NULL)) {
		const char *cs = declared_charset(ctx);
		const char *iconv_name = cs ? g_mime_charset_iconv_name(cs) : NULL;
		char *conv = iconv_name ? g_convert(v, -1, "UTF-8", iconv_name, NULL, NULL, NULL) : NULL;
		if (conv != NULL)
			keep_charset_loaded(iconv_name);
		if (conv == NULL || !g_utf8_validate(conv, -1, NULL)) {
			g_free(conv);
			conv = to_utf8(ctx->msg, v, strlen(v), NULL);
		}
		g_free(text);
		text = conv;
	}
	*changed = text != NULL;
	return text ? text : g_strdup(raw);
}

/* @raw (valid UTF-8, from header_text()) decoded, adjacent encoded words
 * joined first. Without encoded words, decoding is unfolding, which clean_text
 * does (8-bit text included); GMime's decoder is not needed then. */
static char *
header_decode(parse_ctx *ctx, const char *raw, gsize max)
{
	if (strstr(raw, "=?") == NULL)
		return clean_utf8(ctx->msg, g_strdup(raw), max);   /* header_text() made it UTF-8 */
	g_autofree char *joined = rfc2047_join_adjacent(ctx->msg, raw);
	g_autofree char *unfolded = g_mime_utils_header_unfold(joined);
	g_autofree char *dec = g_mime_utils_header_decode_text(rfc2047_opts(ctx, unfolded), unfolded);
	return clean_text(ctx->msg, dec, max);
}

static lg_address *
address_from_mailbox(lg_message *msg, InternetAddress *ia)
{
	/* The address as written: lg_addr_normalize() brings an internationalized
	 * domain to one form itself, so GMime's punycode (a libidn2 call for
	 * every address, ASCII too) is not asked for. */
	const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
	char *email = lg_addr_normalize(addr);
	if (email == NULL)
		return NULL;
	g_autofree char *name = clean_text(msg, internet_address_get_name(ia), 1024);
	lg_address *a = lg_address_new(email, name);
	g_free(email);
	return a;
}

static void
collect_addresses(lg_message *msg, InternetAddressList *list, GPtrArray *out, guint max)
{
	if (list == NULL)
		return;
	int n = internet_address_list_length(list);
	for (int i = 0; i < n && out->len < max; i++) {
		InternetAddress *ia = internet_address_list_get_address(list, i);
		if (INTERNET_ADDRESS_IS_GROUP(ia)) {
			collect_addresses(msg, internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)), out, max);
		} else if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
			lg_address *a = address_from_mailbox(msg, ia);
			if (a)
				g_ptr_array_add(out, a);
		}
	}
}

static lg_address *
first_address(lg_message *msg, InternetAddressList *list)
{
	g_autoptr(GPtrArray) tmp = g_ptr_array_new_with_free_func((GDestroyNotify) lg_address_free);
	collect_addresses(msg, list, tmp, 1);
	return tmp->len ? g_ptr_array_steal_index(tmp, 0) : NULL;
}

/* Whether GMime's strict reading of the encoded words in @text may differ
 * from what header_decode() and addresses_again() make of it: more than
 * one word (joined there; GMime drops the word after '=' padding), a word
 * glued to other text, with white space in it, or in a quoted string.
 * One word standing alone, the common case, decodes the same. */
static gboolean
strict_differs(const char *text)
{
	const char *w = strstr(text, "=?");
	if (w == NULL)
		return FALSE;
	if (strstr(w + 2, "=?") || strchr(text, '"'))
		return TRUE;
	if (w > text && w[-1] != ' ' && w[-1] != '\t' && w[-1] != '\n' && w[-1] != '\r')
		return TRUE;
	/* the end: past "=?charset?e?" the next "?=" */
	const char *q = strchr(w + 2, '?');
	const char *e = q && q[1] && q[2] == '?' ? strstr(q + 3, "?=") : NULL;
	if (e == NULL)
		return TRUE;
	for (const char *c = w; c < e; c++)
		if (*c == ' ' || *c == '\t' || *c == '\n' || *c == '\r')
			return TRUE;
	return !(e[2] == '\0' || strchr(" \t\r\n<,;", e[2]) != NULL);
}

/* Blanks the opening parenthesis of every comment that @v[0..@len) (one
 * address header value, folded or not) never closes; returns how many.
 * GMime 3.2.13 leaks the address it read before such a comment: see
 * guard_address_comments(). Linear. */
static guint
blank_unclosed_span(char *v, gsize len)
{
	gsize opens[32];
	guint depth = 0;
	gboolean quoted = FALSE;
	for (gsize i = 0; i < len; i++) {
		char c = v[i];
		if (c == '\\' && i + 1 < len) {
			i++;
			continue;
		}
		if (depth == 0 && c == '"')
			quoted = !quoted;
		else if (!quoted && c == '(') {
			if (depth < G_N_ELEMENTS(opens))
				opens[depth] = i;
			depth++;
		} else if (!quoted && c == ')' && depth > 0)
			depth--;
	}
	guint n = MIN(depth, G_N_ELEMENTS(opens));
	for (guint d = 0; d < n; d++)
		v[opens[d]] = ' ';
	return n;
}

void
lg_message_guard_address_value(char *v)
{
	blank_unclosed_span(v, strlen(v));
}

/* The addresses of every header @name, parsed again from their text with
 * adjacent encoded words joined (GMime drops the word after one that ends
 * in '=' padding) and loose RFC 2047 where that is safe. */
static InternetAddressList *
addresses_again(parse_ctx *ctx, GMimeHeaderList *hl, int nh, const char *name)
{
	InternetAddressList *all = internet_address_list_new();
	for (int i = 0; i < nh; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		if (g_ascii_strcasecmp(g_mime_header_get_name(h), name) != 0)
			continue;
		gboolean changed;
		g_autofree char *text = header_text(ctx, hl, i, &changed);
		if (text == NULL)
			continue;
		g_autofree char *joined = rfc2047_join_adjacent(ctx->msg, text);
		g_autofree char *unfolded = g_mime_utils_header_unfold(joined);
		lg_message_guard_address_value(unfolded);   /* GMime 3.2.13's leak: see guard_address_comments() */
		InternetAddressList *l = internet_address_list_parse(rfc2047_opts(ctx, unfolded), unfolded);
		if (l) {
			internet_address_list_append(all, l);
			g_object_unref(l);
		}
	}
	return all;
}

static char *
first_msgid(parse_ctx *ctx, const char *value)
{
	if (value == NULL)
		return NULL;
	GMimeReferences *refs = g_mime_references_parse(ctx->popts, value);
	char *id = NULL;
	if (refs && g_mime_references_length(refs) > 0)
		id = g_strdup(g_mime_references_get_message_id(refs, 0));
	if (refs)
		g_mime_references_free(refs);
	return id;
}

/* Calls @each with a part's content, decoded from its transfer encoding,
 * chunk by chunk, until it returns FALSE. Base64 and quoted-printable are
 * decoded with GMime's encoder state, the same steps as its decoding filter
 * without the stream and filter objects around them (each object costs a
 * GObject creation and finalization, a large part of the parse); uuencode,
 * which needs the filter's search for the "begin" line, goes through it. */
static void
part_content_each(GMimePart *part, gboolean (*each)(const char *data, gsize len, gpointer user), gpointer user)
{
	GMimeDataWrapper *dw = g_mime_part_get_content(part);
	GMimeStream *src = dw ? g_mime_data_wrapper_get_stream(dw) : NULL;
	if (src == NULL)
		return;
	GMimeContentEncoding enc = g_mime_data_wrapper_get_encoding(dw);
	gboolean decode = enc == GMIME_CONTENT_ENCODING_BASE64 || enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
	GMimeStream *fs = NULL;
	g_mime_stream_reset(src);
	if (enc == GMIME_CONTENT_ENCODING_UUENCODE) {
		fs = g_mime_stream_filter_new(src);
		GMimeFilter *f = g_mime_filter_basic_new(enc, FALSE);
		g_mime_stream_filter_add(GMIME_STREAM_FILTER(fs), f);
		g_object_unref(f);
		src = fs;
	}
	GMimeEncoding st;
	if (decode)
		g_mime_encoding_init_decode(&st, enc);
	char in[16384], out[16384 + 16];   /* decoding: out <= in + 3 (g_mime_encoding_outlen) */
	for (;;) {
		ssize_t r = g_mime_stream_read(src, in, sizeof in);
		if (r <= 0) {
			if (decode) {
				gsize n = g_mime_encoding_flush(&st, in, 0, out);
				if (n > 0)
					each(out, n, user);
			}
			break;
		}
		gboolean more = decode ? each(out, g_mime_encoding_step(&st, in, (gsize) r, out), user)
		                       : each(in, (gsize) r, user);
		if (!more)
			break;
	}
	if (fs)
		g_object_unref(fs);
}

typedef struct {
	GByteArray *buf;
	gsize max;
	gboolean truncated;
} bytes_sink;

static gboolean
bytes_each(const char *data, gsize len, gpointer user)
{
	bytes_sink *b = user;
	gsize room = b->max - b->buf->len;
	if (len > room) {
		g_byte_array_append(b->buf, (const guint8 *) data, (guint) room);
		b->truncated = TRUE;
		return FALSE;
	}
	g_byte_array_append(b->buf, (const guint8 *) data, (guint) len);
	return TRUE;
}

typedef struct {
	lg_sha256 *sum;
	gint64 size;
} hash_sink;

static gboolean
hash_each(const char *data, gsize len, gpointer user)
{
	hash_sink *h = user;
	lg_sha256_update(h->sum, data, len);
	h->size += (gint64) len;
	return TRUE;
}

/* A leaf part's decoded content, at most @max bytes (sets *@truncated). */
static GByteArray *
part_bytes(GMimePart *part, gsize max, gboolean *truncated)
{
	bytes_sink b = { g_byte_array_new(), max, FALSE };
	part_content_each(part, bytes_each, &b);
	*truncated = b.truncated;
	return b.buf;
}

static char *
part_text(parse_ctx *ctx, GMimePart *part, gboolean *truncated)
{
	gsize max = ctx->opts && ctx->opts->body_max ? ctx->opts->body_max : LG_BODY_MAX_DEFAULT;
	g_autoptr(GByteArray) b = part_bytes(part, max, truncated);
	GMimeContentType *ct = g_mime_object_get_content_type(GMIME_OBJECT(part));
	const char *charset = ct ? g_mime_content_type_get_parameter(ct, "charset") : NULL;
	return to_utf8(ctx->msg, (const char *) b->data, b->len, charset);   /* NUL as U+FFFD */
}

static gboolean
is_attachment_disposition(GMimeObject *obj)
{
	const char *disp = g_mime_object_get_disposition(obj);
	return disp && g_ascii_strcasecmp(disp, "attachment") == 0;
}

static void
add_attachment(parse_ctx *ctx, GMimeObject *obj)
{
	lg_message *msg = ctx->msg;
	if (msg->attachments->len >= LG_MAX_PARTS) {
		if (!ctx->attachments_over) {
			ctx->attachments_over = TRUE;
			add_warning(msg, "more than %d attachments: the rest are not recorded", LG_MAX_PARTS);
		}
		return;
	}
	lg_attachment *a = g_new0(lg_attachment, 1);
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	if (ct) {
		g_autofree char *mt = g_mime_content_type_get_mime_type(ct);
		a->content_type = g_ascii_strdown(mt, -1);
	} else {
		a->content_type = g_strdup("application/octet-stream");
	}
	const char *disp = g_mime_object_get_disposition(obj);
	a->disposition = disp ? g_ascii_strdown(disp, -1) : NULL;

	if (GMIME_IS_PART(obj)) {
		a->filename = clean_text(msg, g_mime_part_get_filename(GMIME_PART(obj)), 1024);
		hash_sink h = { lg_sha256_new(), 0 };
		part_content_each(GMIME_PART(obj), hash_each, &h);
		a->size = h.size;
		lg_sha256_finish(h.sum, a->sha256);
		lg_sha256_free(h.sum);
		g_ptr_array_add(msg->attachments, a);
		return;
	}
	LgHashStream *hs = g_object_new(lg_hash_stream_get_type(), NULL);
	if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
		if (inner) {
			g_mime_object_write_to_stream(GMIME_OBJECT(inner), NULL, GMIME_STREAM(hs));
			const char *subj = g_mime_message_get_subject(inner);
			g_autofree char *s = clean_text(msg, subj, 200);
			a->filename = g_strdup_printf("%s.eml", s && *s ? s : "message");
		}
		/* a declared name first: Content-Disposition filename, then
		 * Content-Type name (the form real mailers write) */
		const char *fn = g_mime_object_get_content_disposition_parameter(obj, "filename");
		if (fn == NULL || *fn == '\0')
			fn = g_mime_object_get_content_type_parameter(obj, "name");
		if (fn && *fn) {
			g_free(a->filename);
			a->filename = clean_text(msg, fn, 1024);
		}
	}
	a->size = hs->written;
	lg_sha256_finish(hs->sum, a->sha256);
	g_object_unref(hs);
	g_ptr_array_add(msg->attachments, a);
}

/* ---- delivery-status reports (RFC 3464) -------------------------------- */

/* A field of one DSN block: the first one of that name, unfolded, white
 * space runs as one space, trimmed; NULL when absent. */
static char *
dsn_field(GMimeHeaderList *hl, const char *name)
{
	GMimeHeader *h = g_mime_header_list_get_header(hl, name);
	const char *raw = h ? g_mime_header_get_raw_value(h) : NULL;
	if (raw == NULL)
		return NULL;
	GString *out = g_string_sized_new(strlen(raw));
	gboolean space = FALSE;
	for (const char *p = raw; *p; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
			space = out->len > 0;
			continue;
		}
		if (space)
			g_string_append_c(out, ' ');
		space = FALSE;
		g_string_append_c(out, *p);
	}
	return g_string_free(out, FALSE);
}

/* Splits "type; value" and returns value, trimmed; takes @v. */
static char *
dsn_typed_value(char *v)
{
	if (v == NULL)
		return NULL;
	const char *semi = strchr(v, ';');
	char *r = g_strstrip(g_strdup(semi ? semi + 1 : v));
	g_free(v);
	return r;
}

/* A block of header fields (@len bytes) read by GMime's header parser, as
 * the headers of a part; NULL when none could be read. */
static GMimeObject *
header_block_parse(GMimeParser *parser, const char *block, gsize len)
{
	/* the block and a blank line: a part with no content */
	GMimeStream *s = g_mime_stream_mem_new();
	g_mime_stream_write(s, block, len);
	g_mime_stream_write(s, "\n\n", 2);
	g_mime_stream_reset(s);
	g_mime_parser_init_with_stream(parser, s);
	g_object_unref(s);
	/* default options: no warnings about the empty content */
	return g_mime_parser_construct_part(parser, NULL);
}

static void
dsn_block(parse_ctx *ctx, GMimeParser *parser, const char *block, gsize len, guint index)
{
	lg_dsn *dsn = ctx->msg->dsn;
	GMimeObject *part = header_block_parse(parser, block, len);
	if (part == NULL)
		return;
	GMimeHeaderList *hl = g_mime_object_get_header_list(part);
	if (index == 0 && dsn->original_envelope_id == NULL)
		dsn->original_envelope_id = dsn_typed_value(dsn_field(hl, "Original-Envelope-Id"));
	char *fr = dsn_field(hl, "Final-Recipient");
	if (fr == NULL)
		fr = dsn_field(hl, "Original-Recipient");
	if (fr != NULL && dsn->recipients->len < 1000) {
		g_autofree char *addr = dsn_typed_value(fr);
		lg_dsn_recipient *r = g_new0(lg_dsn_recipient, 1);
		r->address = lg_addr_normalize(addr);
		if (r->address == NULL)
			r->address = g_strdup(addr);
		g_autofree char *action = dsn_field(hl, "Action");
		r->action = action ? g_ascii_strdown(action, -1) : NULL;
		r->status = dsn_field(hl, "Status");
		if (r->status) {
			char *sp = strpbrk(r->status, " \t(");
			if (sp)
				*sp = '\0';
		}
		r->diagnostic = dsn_typed_value(dsn_field(hl, "Diagnostic-Code"));
		g_ptr_array_add(dsn->recipients, r);
	} else {
		g_free(fr);
	}
	g_object_unref(part);
}

/* A message/delivery-status body (RFC 3464): blocks of header fields
 * separated by blank lines, the first one about the message, each other
 * one about a recipient. Each block is read by GMime's header parser. */
static void
parse_delivery_status(parse_ctx *ctx, const char *text)
{
	lg_message *msg = ctx->msg;
	if (msg->dsn == NULL) {
		msg->dsn = g_new0(lg_dsn, 1);
		msg->dsn->recipients = g_ptr_array_new();
	}
	GMimeParser *parser = g_mime_parser_new();
	guint index = 0;
	const char *p = text, *block = NULL;
	while (*p && index < 1001) {
		const char *eol = strchr(p, '\n');
		const char *next = eol ? eol + 1 : p + strlen(p);
		gboolean blank = TRUE;
		for (const char *c = p; c < next; c++)
			if (*c != ' ' && *c != '\t' && *c != '\r' && *c != '\n') {
				blank = FALSE;
				break;
			}
		if (blank && block) {
			dsn_block(ctx, parser, block, (gsize) (p - block), index++);
			block = NULL;
		} else if (!blank && block == NULL) {
			block = p;
		}
		p = next;
	}
	if (block && index < 1001)
		dsn_block(ctx, parser, block, (gsize) (p - block), index);
	g_object_unref(parser);
}

static void
dsn_original_from_headers(parse_ctx *ctx, const char *text)
{
	/* text/rfc822-headers: the returned message's Message-ID */
	GMimeParser *parser = g_mime_parser_new();
	GMimeObject *part = header_block_parse(parser, text, strlen(text));
	g_object_unref(parser);
	if (part == NULL)
		return;
	GMimeHeader *h = g_mime_header_list_get_header(g_mime_object_get_header_list(part), "Message-ID");
	const char *raw = h ? g_mime_header_get_raw_value(h) : NULL;
	if (raw) {
		g_free(ctx->msg->dsn->original_message_id);
		ctx->msg->dsn->original_message_id = first_msgid(ctx, raw);
	}
	g_object_unref(part);
}

/* ---- walking the MIME tree -------------------------------------------- */

static void
walk(parse_ctx *ctx, GMimeObject *obj, int depth, gboolean in_report)
{
	if (obj == NULL)
		return;
	if (ctx->parts_seen++ >= LG_MAX_PARTS * 4) {
		if (ctx->parts_seen == LG_MAX_PARTS * 4 + 1)
			add_warning(ctx->msg, "more than %d MIME parts: the rest ignored", LG_MAX_PARTS * 4);
		return;
	}
	if (depth > LG_MAX_DEPTH) {
		add_warning(ctx->msg, "MIME nesting deeper than %d ignored", LG_MAX_DEPTH);
		return;
	}
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	if (GMIME_IS_MULTIPART(obj)) {
		gboolean report = ct && g_mime_content_type_is_type(ct, "multipart", "report");
		const char *rtype = report ? g_mime_content_type_get_parameter(ct, "report-type") : NULL;
		gboolean dsn = rtype && g_ascii_strcasecmp(rtype, "delivery-status") == 0;
		if (dsn && depth == 0)
			ctx->msg->auto_flags |= LG_AUTO_DSN;
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		int n = g_mime_multipart_get_count(mp);
		for (int i = 0; i < n; i++)
			walk(ctx, g_mime_multipart_get_part(mp, i), depth + 1, dsn && depth == 0);
		return;
	}
	if (GMIME_IS_MESSAGE_PART(obj)) {
		if (in_report && ctx->msg->dsn && ctx->msg->dsn->original_message_id == NULL) {
			GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
			if (inner && g_mime_message_get_message_id(inner))
				ctx->msg->dsn->original_message_id = g_strdup(g_mime_message_get_message_id(inner));
		}
		add_attachment(ctx, obj);   /* a forwarded message is one attachment */
		return;
	}
	if (!GMIME_IS_PART(obj))
		return;
	GMimePart *part = GMIME_PART(obj);
	if (in_report && ct && (g_mime_content_type_is_type(ct, "message", "delivery-status") ||
	                        g_mime_content_type_is_type(ct, "message", "global-delivery-status"))) {
		gboolean tr;
		g_autoptr(GByteArray) b = part_bytes(part, 256 * 1024, &tr);
		g_autofree char *t = to_utf8(ctx->msg, (const char *) b->data, b->len, NULL);
		parse_delivery_status(ctx, t);
		return;
	}
	if (in_report && ct && (g_mime_content_type_is_type(ct, "text", "rfc822-headers") ||
	                        g_mime_content_type_is_type(ct, "message", "global-headers"))) {
		gboolean tr;
		g_autoptr(GByteArray) b = part_bytes(part, 256 * 1024, &tr);
		g_autofree char *t = to_utf8(ctx->msg, (const char *) b->data, b->len, NULL);
		if (ctx->msg->dsn == NULL) {
			ctx->msg->dsn = g_new0(lg_dsn, 1);
			ctx->msg->dsn->recipients = g_ptr_array_new();
		}
		dsn_original_from_headers(ctx, t);
		add_attachment(ctx, obj);
		return;
	}
	gboolean is_text = ct && g_mime_content_type_is_type(ct, "text", "plain");
	gboolean is_html = ct && g_mime_content_type_is_type(ct, "text", "html");
	gboolean attached = is_attachment_disposition(obj) || g_mime_part_get_filename(part) != NULL;
	if ((is_text || is_html) && !attached) {
		/* candidates for the body (see pick_body); other text pieces
		 * (alternatives, footers) are not attachments */
		if (ctx->ntexts < G_N_ELEMENTS(ctx->texts))
			ctx->texts[ctx->ntexts++] = obj;
		return;
	}
	add_attachment(ctx, obj);
}

static gboolean
is_blank(const char *s)
{
	for (; *s; s++)
		if (!g_ascii_isspace(*s))
			return FALSE;
	return TRUE;
}

/* The body is the first text/plain part that is not blank (white space
 * only), else the first such HTML part as text, else the first candidate:
 * a mailer may send an empty plain alternative beside the real HTML one. */
static void
pick_body(parse_ctx *ctx)
{
	lg_message *msg = ctx->msg;
	for (int html = 0; html <= 1 && msg->body_text == NULL; html++)
		for (guint i = 0; i < ctx->ntexts && msg->body_text == NULL; i++) {
			GMimeContentType *ct = g_mime_object_get_content_type(ctx->texts[i]);
			if (g_mime_content_type_is_type(ct, "text", "html") != html)
				continue;
			gboolean truncated = FALSE;
			char *t = part_text(ctx, GMIME_PART(ctx->texts[i]), &truncated);
			if (html) {
				char *h = lg_html_to_text(t, -1);
				g_free(t);
				t = h;
			}
			if (is_blank(t)) {
				g_free(t);
				continue;
			}
			msg->body_text = t;
			msg->body_from_html = html;
			msg->body_truncated = truncated;
			if (truncated)
				add_warning(msg, "body text truncated");
		}
	if (msg->body_text == NULL && ctx->ntexts > 0) {
		/* all blank: the first plain part, else the first HTML one */
		GMimeObject *o = ctx->texts[0];
		for (guint i = ctx->ntexts; i-- > 0;)
			if (!g_mime_content_type_is_type(g_mime_object_get_content_type(ctx->texts[i]), "text", "html"))
				o = ctx->texts[i];
		gboolean truncated = FALSE;
		char *t = part_text(ctx, GMIME_PART(o), &truncated);
		msg->body_from_html = g_mime_content_type_is_type(g_mime_object_get_content_type(o), "text", "html");
		msg->body_text = msg->body_from_html ? lg_html_to_text(t, -1) : g_strdup(t);
		g_free(t);
	}
}

/* ---- automatic-mail signals ------------------------------------------- */

static gboolean
first_token_is(const char *value, const char *const *words)
{
	if (value == NULL)
		return FALSE;
	while (*value == ' ' || *value == '\t')
		value++;
	gsize n = strcspn(value, " \t;(");
	for (guint i = 0; words[i]; i++)
		if (strlen(words[i]) == n && g_ascii_strncasecmp(value, words[i], n) == 0)
			return TRUE;
	return FALSE;
}

static void
detect_automatic(parse_ctx *ctx)
{
	lg_message *msg = ctx->msg;
	static const char *const no[] = { "no", NULL };
	static const char *const bulk[] = { "bulk", "junk", "list", "auto_reply", NULL };
	if (msg->auto_submitted && *msg->auto_submitted && !first_token_is(msg->auto_submitted, no))
		msg->auto_flags |= LG_AUTO_SUBMITTED;
	if (first_token_is(msg->precedence, bulk))
		msg->auto_flags |= LG_AUTO_PRECEDENCE;
	static const char *const reply_hdrs[] = {
		"X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Autogenerated",
		"X-AutoReply-From", "X-Mail-Autoreply", "X-Auto-Reply",
		"X-MS-Exchange-Generated-Message-Source", "X-FC-MachineGenerated", NULL };
	for (guint i = 0; reply_hdrs[i]; i++)
		if (lg_message_header(msg, reply_hdrs[i])) {
			msg->auto_flags |= LG_AUTO_REPLY_HDR;
			break;
		}
	static const char *const subj[] = {
		"Automatic reply:", "Auto-Reply:", "Autoreply:", "Auto Reply:", "Out of Office:",
		"Out of office reply:", "Auto Response:", "Autosvar:", "Abwesenheitsnotiz:",
		"Réponse automatique", NULL };
	for (guint i = 0; subj[i]; i++)
		if (g_ascii_strncasecmp(msg->subject, subj[i], strlen(subj[i])) == 0) {
			msg->auto_flags |= LG_AUTO_REPLY_HDR;
			break;
		}
	if (lg_message_header(msg, "List-Id") || lg_message_header(msg, "List-Unsubscribe"))
		msg->auto_flags |= LG_AUTO_LIST;
	if (ctx->opts && ctx->opts->loop_header && lg_message_header(msg, ctx->opts->loop_header))
		msg->auto_flags |= LG_AUTO_LOOP;
}

/* ---- the entry point --------------------------------------------------- */

void
lg_message_init(void)
{
	static gsize once;
	if (g_once_init_enter(&once)) {
		g_mime_init();
		lg_html_init();
		/* the charsets most mail comes in, and the fallbacks of to_utf8() */
		static const char *const common[] = {
			"WINDOWS-1252", "ISO-8859-1", "ISO-8859-2", "ISO-8859-15", "WINDOWS-1250", "WINDOWS-1251",
			"KOI8-R", "ISO-2022-JP", "EUC-JP-MS", "SHIFT_JIS", "GB18030", "GB2312", "BIG5", "EUC-KR",
		};
		for (gsize i = 0; i < G_N_ELEMENTS(common); i++)
			keep_charset_loaded(g_mime_charset_iconv_name(common[i]));
		g_once_init_leave(&once, 1);
	}
}

/* What each parsing thread keeps from one message to the next: creating a
 * GMimeParser allocates its scan buffer, and that and the options would
 * be a noticeable share of every parse. Between two messages the parser
 * holds an empty stream, not the last message's. */
typedef struct {
	GMimeParser *parser;
	GMimeStream *idle;
	GMimeParserOptions *popts;   /* the parser's: strict RFC 2047 */
	GMimeParserOptions *lopts;   /* loose RFC 2047, see rfc2047_opts() */
} parse_tls;

static void
parse_tls_free(gpointer p)
{
	parse_tls *t = p;
	g_object_unref(t->parser);
	g_object_unref(t->idle);
	g_mime_parser_options_free(t->popts);
	g_mime_parser_options_free(t->lopts);
	g_free(t);
}

static parse_tls *
parse_tls_get(void)
{
	static GPrivate key = G_PRIVATE_INIT(parse_tls_free);
	parse_tls *t = g_private_get(&key);
	if (t == NULL) {
		static const char *fallback[] = { "utf-8", "windows-1252", NULL };
		t = g_new0(parse_tls, 1);
		t->idle = g_mime_stream_null_new();
		t->parser = g_mime_parser_new_with_stream(t->idle);
		/* kept across g_mime_parser_init_with_stream() */
		g_mime_parser_set_persist_stream(t->parser, TRUE);
		g_mime_parser_set_format(t->parser, GMIME_FORMAT_MESSAGE);
		/* GMime decodes Subject and the address headers while it parses;
		 * its loose RFC 2047 mode looks for the end of every unterminated
		 * encoded word up to the end of the value (time quadratic in the
		 * header's size), so the parser runs strict, and the headers are
		 * decoded again below with loose options where that is safe. */
		t->popts = g_mime_parser_options_new();
		g_mime_parser_options_set_fallback_charsets(t->popts, fallback);
		g_mime_parser_options_set_rfc2047_compliance_mode(t->popts, GMIME_RFC_COMPLIANCE_STRICT);
		g_mime_parser_options_set_address_compliance_mode(t->popts, GMIME_RFC_COMPLIANCE_LOOSE);
		g_mime_parser_options_set_parameter_compliance_mode(t->popts, GMIME_RFC_COMPLIANCE_LOOSE);
		t->lopts = g_mime_parser_options_clone(t->popts);
		g_mime_parser_options_set_rfc2047_compliance_mode(t->lopts, GMIME_RFC_COMPLIANCE_LOOSE);
		g_private_set(&key, t);
	}
	return t;
}

/* ---- GMime 3.2.13's address-comment leak -------------------------------- */

/* GMime 3.2.13 (Debian 12) leaks the address it has just read when an
 * address header ends inside a comment that is never closed ("a@b (x", its
 * issue 159, fixed in later releases): a stranger could grow the daemon by a
 * kilobyte per message. So before GMime sees the top-level header block,
 * the opening parenthesis of such a comment is blanked, byte for byte:
 * every offset into the stream stays what it was. (An attached message's
 * headers are parsed by GMime too; they are not rewritten.) */
static gboolean
is_address_header(const char *name, gsize len)
{
	static const char *const names[] = {
		"from", "to", "cc", "bcc", "reply-to", "sender", "resent-from", "resent-to", "resent-cc",
		"resent-bcc", "resent-sender", "resent-reply-to", NULL };
	for (const char *const *n = names; *n; n++)
		if (strlen(*n) == len && g_ascii_strncasecmp(*n, name, len) == 0)
			return TRUE;
	return FALSE;
}

/* Blanks the unclosed '(' of each address header in @buf[0..@len) (the
 * header block and maybe more); returns how many it blanked. Linear. */
static guint
blank_unclosed_comments(char *buf, gsize len)
{
	guint blanked = 0;
	gsize i = 0;
	while (i < len) {
		if (buf[i] == '\n' || (buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n'))
			break;   /* the blank line: end of the header block */
		gsize name = i;
		while (i < len && buf[i] != ':' && buf[i] != '\n')
			i++;
		gboolean addr = i < len && buf[i] == ':' && is_address_header(buf + name, i - name);
		gsize value = i;
		/* the header ends at a newline not followed by folding white space */
		while (i < len && !(buf[i] == '\n' && !(i + 1 < len && (buf[i + 1] == ' ' || buf[i + 1] == '\t'))))
			i++;
		if (addr)
			blanked += blank_unclosed_span(buf + value, i - value);
		i++;
	}
	return blanked;
}

/* The stream GMime should parse: @raw itself, or (rarely) a copy of its
 * header block with unclosed comments blanked followed by the rest of @raw.
 * Returns a new reference either way. */
static GMimeStream *
guard_address_comments(lg_message *msg, GMimeStream *raw)
{
	/* the header block is in the first 256 KB, or GMime gives up on it anyway */
	enum { SCAN = 256 * 1024 };
	gint64 size = g_mime_stream_length(raw);
	gsize want = size > 0 && size < SCAN ? (gsize) size : SCAN;
	char *buf = g_malloc(want);
	g_mime_stream_reset(raw);
	ssize_t n = g_mime_stream_read(raw, buf, want);
	g_mime_stream_reset(raw);
	gboolean needed = FALSE;
	for (ssize_t i = 0; i < n && !needed; i++)
		needed = buf[i] == '(';
	if (n <= 0 || !needed || blank_unclosed_comments(buf, (gsize) n) == 0) {
		g_free(buf);
		return g_object_ref(raw);
	}
	add_warning(msg, "an address header ends inside a comment: its \"(\" was read as a space");
	GMimeStream *cat = g_mime_stream_cat_new();
	GMimeStream *head = g_mime_stream_mem_new_with_buffer(buf, (gsize) n);
	g_free(buf);
	g_mime_stream_cat_add_source(GMIME_STREAM_CAT(cat), head);
	g_object_unref(head);
	if (size > n) {
		GMimeStream *rest = g_mime_stream_substream(raw, n, -1);
		g_mime_stream_cat_add_source(GMIME_STREAM_CAT(cat), rest);
		g_object_unref(rest);
	}
	return cat;
}

static lg_message *
message_new(void)
{
	lg_message *msg = g_new0(lg_message, 1);
	msg->references = g_ptr_array_new_with_free_func(g_free);
	msg->to = g_ptr_array_new_with_free_func((GDestroyNotify) lg_address_free);
	msg->cc = g_ptr_array_new_with_free_func((GDestroyNotify) lg_address_free);
	msg->headers = g_ptr_array_new();
	msg->attachments = g_ptr_array_new();
	msg->warnings = g_ptr_array_new_with_free_func(g_free);
	return msg;
}

const char *
lg_message_header(const lg_message *msg, const char *name)
{
	for (guint i = 0; i < msg->headers->len; i++) {
		lg_header *h = msg->headers->pdata[i];
		if (g_ascii_strcasecmp(h->name, name) == 0)
			return h->value;
	}
	return NULL;
}

lg_message *
lg_message_parse(lg_raw *raw, const lg_parse_options *opts, GError **error)
{
	lg_message_init();
	if (lg_raw_size(raw) == 0) {
		g_set_error(error, LG_MESSAGE_ERROR, LG_MESSAGE_ERROR_EMPTY, "the message is empty");
		return NULL;
	}
	lg_message *msg = message_new();
	msg->size = lg_raw_size(raw);
	g_strlcpy(msg->sha256, lg_raw_sha256(raw), sizeof msg->sha256);

	parse_tls *tls = parse_tls_get();
	parse_ctx ctx = { .msg = msg, .opts = opts, .popts = tls->popts, .lopts = tls->lopts };
	g_mime_parser_options_set_warning_callback(ctx.popts, on_parser_warning, msg);
	g_mime_parser_options_set_warning_callback(ctx.lopts, on_parser_warning, msg);

	GMimeStream *stream = lg_raw_stream(raw);
	GMimeStream *parsed = guard_address_comments(msg, stream);
	g_mime_stream_reset(parsed);
	g_mime_parser_init_with_stream(tls->parser, parsed);
	GMimeMessage *m = g_mime_parser_construct_message(tls->parser, ctx.popts);
	ctx.headers_end = g_mime_parser_get_headers_end(tls->parser);
	g_mime_parser_init_with_stream(tls->parser, tls->idle);   /* lets go of @raw */
	g_object_unref(parsed);
	ctx.stream = stream;

	if (m == NULL) {
		add_warning(msg, "no message could be parsed; the bytes are kept as the body");
		gsize max = opts && opts->body_max ? opts->body_max : LG_BODY_MAX_DEFAULT;
		g_mime_stream_reset(stream);
		char *buf = g_malloc(max + 1);
		ssize_t r = g_mime_stream_read(stream, buf, max);
		msg->body_text = to_utf8(msg, buf, r > 0 ? (gsize) r : 0, NULL);
		g_free(buf);
		msg->subject = g_strdup("");
		goto done;
	}

	/* headers, decoded */
	ctx.root = g_mime_message_get_mime_part(m);
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(m));
	int nh = MIN(g_mime_header_list_get_count(hl), LG_MAX_HEADERS);
	if (g_mime_header_list_get_count(hl) > LG_MAX_HEADERS)
		add_warning(msg, "more than %d header fields: the rest ignored", LG_MAX_HEADERS);
	/* GMime's address lists were decoded strictly; the address headers
	 * with encoded words (or repaired bytes) are parsed again below */
	static const char *const addr_names[] = { "From", "Sender", "Reply-To", "To", "Cc" };
	gboolean addr_again[G_N_ELEMENTS(addr_names)] = { FALSE };
	for (int i = 0; i < nh; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		const char *name = g_mime_header_get_name(h);
		if (name == NULL)
			continue;
		lg_header *lh = g_new0(lg_header, 1);
		lh->name = clean_text(msg, name, 256);
		gboolean changed = FALSE;
		g_autofree char *text = header_text(&ctx, hl, i, &changed);
		/* one encoded word standing alone: GMime's strict decoding of it is
		 * the same (and made already for Subject) */
		gboolean own = text && (changed || strict_differs(text) || strcasestr(text, "=?iso-2022-jp") != NULL);
		gboolean gmime_same = text && !own && strstr(text, "=?") != NULL;
		lh->value = text && !gmime_same ? header_decode(&ctx, text, LG_HEADER_VALUE_MAX)
		                                : clean_text(msg, g_mime_header_get_value(h), LG_HEADER_VALUE_MAX);
		if (own)
			for (guint t = 0; t < G_N_ELEMENTS(addr_names); t++)
				if (g_ascii_strcasecmp(name, addr_names[t]) == 0)
					addr_again[t] = TRUE;
		if (msg->subject == NULL && lh->value != NULL && g_ascii_strcasecmp(name, "Subject") == 0)
			msg->subject = clean_text(msg, lh->value, LG_SUBJECT_MAX);
		if (lh->value == NULL)
			lh->value = g_strdup("");
		g_ptr_array_add(msg->headers, lh);
	}

	if (msg->subject == NULL)
		msg->subject = clean_text(msg, g_mime_message_get_subject(m), LG_SUBJECT_MAX);
	if (msg->subject == NULL)
		msg->subject = g_strdup("");
	const char *mid = g_mime_message_get_message_id(m);
	if (mid && *mid)
		msg->message_id = clean_text(msg, mid, 998);
	else
		add_warning(msg, "no Message-ID");
	msg->in_reply_to = first_msgid(&ctx, lg_message_header(msg, "In-Reply-To"));
	const char *refs_v = lg_message_header(msg, "References");
	if (refs_v) {
		GMimeReferences *refs = g_mime_references_parse(ctx.popts, refs_v);
		for (int i = 0; refs && i < g_mime_references_length(refs) && i < 100; i++)
			g_ptr_array_add(msg->references, g_strdup(g_mime_references_get_message_id(refs, i)));
		if (refs)
			g_mime_references_free(refs);
	}
	GDateTime *date = g_mime_message_get_date(m);
	if (date) {
		g_autoptr(GDateTime) utc = g_date_time_to_utc(date);
		if (utc) {
			g_autofree char *base = g_date_time_format(utc, "%Y-%m-%dT%H:%M:%S");
			msg->date_iso = g_strconcat(base, ".000Z", NULL);
		}
	}

	InternetAddressList *lists[G_N_ELEMENTS(addr_names)] = {
		g_mime_message_get_from(m), g_mime_message_get_sender(m), g_mime_message_get_reply_to(m),
		g_mime_message_get_to(m), g_mime_message_get_cc(m) };
	InternetAddressList *again[G_N_ELEMENTS(addr_names)] = { NULL };
	for (guint t = 0; t < G_N_ELEMENTS(addr_names); t++)
		if (addr_again[t])
			lists[t] = again[t] = addresses_again(&ctx, hl, nh, addr_names[t]);
	msg->from = first_address(msg, lists[0]);
	if (msg->from == NULL)
		add_warning(msg, "no usable From address");
	msg->sender_hdr = first_address(msg, lists[1]);
	msg->reply_to = first_address(msg, lists[2]);
	collect_addresses(msg, lists[3], msg->to, 1000);
	collect_addresses(msg, lists[4], msg->cc, 1000);
	for (guint t = 0; t < G_N_ELEMENTS(addr_names); t++)
		if (again[t])
			g_object_unref(again[t]);

	const char *as = lg_message_header(msg, "Auto-Submitted");
	msg->auto_submitted = as ? g_strdup(as) : NULL;
	const char *prec = lg_message_header(msg, "Precedence");
	msg->precedence = prec ? g_strdup(prec) : NULL;
	const char *lid = lg_message_header(msg, "List-Id");
	msg->list_id = lid ? g_strdup(lid) : NULL;

	/* body and attachments */
	walk(&ctx, g_mime_message_get_mime_part(m), 0, FALSE);
	pick_body(&ctx);
	if (msg->body_text == NULL)
		msg->body_text = g_strdup("");
	detect_automatic(&ctx);
	g_object_unref(m);
done:
	if (msg->subject == NULL)
		msg->subject = g_strdup("");
	g_mime_parser_options_set_warning_callback(ctx.popts, NULL, NULL);   /* @msg is the caller's now */
	g_mime_parser_options_set_warning_callback(ctx.lopts, NULL, NULL);
	return msg;
}

gboolean
lg_dsn_recipient_permanent(const lg_dsn_recipient *r)
{
	if (g_strcmp0(r->action, "delayed") == 0)
		return FALSE;
	return r->status ? r->status[0] == '5' : g_strcmp0(r->action, "failed") == 0;
}

gboolean
lg_dsn_permanent(const lg_dsn *dsn)
{
	for (guint i = 0; dsn != NULL && i < dsn->recipients->len; i++)
		if (lg_dsn_recipient_permanent(dsn->recipients->pdata[i]))
			return TRUE;
	return FALSE;
}

static void
dsn_free(lg_dsn *dsn)
{
	if (dsn == NULL)
		return;
	for (guint i = 0; i < dsn->recipients->len; i++) {
		lg_dsn_recipient *r = dsn->recipients->pdata[i];
		g_free(r->address);
		g_free(r->action);
		g_free(r->status);
		g_free(r->diagnostic);
		g_free(r);
	}
	g_ptr_array_unref(dsn->recipients);
	g_free(dsn->original_message_id);
	g_free(dsn->original_envelope_id);
	g_free(dsn);
}

void
lg_message_free(lg_message *msg)
{
	if (msg == NULL)
		return;
	g_free(msg->message_id);
	g_free(msg->in_reply_to);
	g_ptr_array_unref(msg->references);
	g_free(msg->subject);
	g_free(msg->date_iso);
	lg_address_free(msg->from);
	lg_address_free(msg->sender_hdr);
	lg_address_free(msg->reply_to);
	g_ptr_array_unref(msg->to);
	g_ptr_array_unref(msg->cc);
	for (guint i = 0; i < msg->headers->len; i++) {
		lg_header *h = msg->headers->pdata[i];
		g_free(h->name);
		g_free(h->value);
		g_free(h);
	}
	g_ptr_array_unref(msg->headers);
	g_free(msg->body_text);
	for (guint i = 0; i < msg->attachments->len; i++) {
		lg_attachment *a = msg->attachments->pdata[i];
		g_free(a->filename);
		g_free(a->content_type);
		g_free(a->disposition);
		g_free(a);
	}
	g_ptr_array_unref(msg->attachments);
	g_ptr_array_unref(msg->warnings);
	g_free(msg->auto_submitted);
	g_free(msg->precedence);
	g_free(msg->list_id);
	dsn_free(msg->dsn);
	g_free(msg);
}
