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
 *   the bytes convert; otherwise valid UTF-8 is taken as it is; otherwise the
 *   bytes are read as windows-1252 (a superset of ISO-8859-1 in practice),
 *   and a warning says so.
 */
#include "config.h"
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
	GMimeParserOptions *popts;
	GMimeObject *body_part;      /* chosen text part (borrowed) */
	gboolean body_is_html;
	guint parts_seen;
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
	if (item && *item && g_utf8_validate(item, -1, NULL) && strlen(item) < 200)
		add_warning(msg, "%s: %s", warning_text(code), item);
	else
		add_warning(msg, "%s", warning_text(code));
}

/* Bytes in @charset (may be NULL) to UTF-8; never fails. */
static char *
to_utf8(lg_message *msg, const char *data, gsize len, const char *charset)
{
	if (data == NULL || len == 0)
		return g_strdup("");
	if (charset && *charset) {
		const char *iconv_name = g_mime_charset_iconv_name(charset);
		gsize written = 0;
		g_autoptr(GError) err = NULL;
		char *out = g_convert(data, (gssize) len, "UTF-8", iconv_name, NULL, &written, &err);
		if (out != NULL)
			return out;
		if (g_utf8_validate(data, (gssize) len, NULL))
			return g_strndup(data, len);
		add_warning(msg, "text in charset \"%s\" did not convert; read as windows-1252", charset);
	} else if (g_utf8_validate(data, (gssize) len, NULL)) {
		return g_strndup(data, len);
	}
	char *out = g_convert_with_fallback(data, (gssize) len, "UTF-8", "WINDOWS-1252", "?", NULL, NULL, NULL);
	if (out == NULL)
		out = g_convert_with_fallback(data, (gssize) len, "UTF-8", "ISO-8859-1", "?", NULL, NULL, NULL);
	return out ? out : g_utf8_make_valid(data, (gssize) len);
}

/* A decoded header value that is valid UTF-8 and free of NUL. */
static char *
clean_text(lg_message *msg, const char *s, gsize max)
{
	if (s == NULL)
		return NULL;
	gsize len = strlen(s);
	char *u = g_utf8_validate(s, (gssize) len, NULL) ? g_strndup(s, len) : to_utf8(msg, s, len, NULL);
	/* unfold: CR and LF of folding go, other controls become spaces */
	GString *out = g_string_sized_new(strlen(u));
	for (const char *p = u; *p; p++) {
		if (*p == '\r' || *p == '\n')
			continue;
		g_string_append_c(out, ((unsigned char) *p < 0x20 && *p != '\t') ? ' ' : *p);
	}
	g_free(u);
	char *r = g_strstrip(g_string_free(out, FALSE));
	if (strlen(r) > max) {
		const char *end = g_utf8_find_prev_char(r, r + max);
		*(char *) (end ? end : r + max) = '\0';
		add_warning(msg, "header value truncated to %zu bytes", max);
	}
	return r;
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
	const char *data = q1 + 3, *end = strstr(data, "?=");
	if (end == NULL || memchr(data, ' ', (gsize) (end - data)) || memchr(data, '\n', (gsize) (end - data)))
		return FALSE;
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

/* Returns a new string with runs of same-charset encoded words joined. */
static char *
rfc2047_join_adjacent(const char *value)
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
		if (joined == 1) {
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

/* A header's value decoded to UTF-8, adjacent encoded words joined first. */
static char *
header_decode(parse_ctx *ctx, GMimeHeader *h, gsize max)
{
	const char *raw = g_mime_header_get_raw_value(h);
	if (raw == NULL)
		return clean_text(ctx->msg, g_mime_header_get_value(h), max);
	/* without encoded words, decoding is unfolding, which clean_text does
	 * (8-bit text included); GMime's decoder costs more than the rest of
	 * the header handling together */
	const char *ew = strstr(raw, "=?");
	if (ew == NULL)
		return clean_text(ctx->msg, raw, max);
	/* one encoded word has nothing to join: GMime's own decoding of the
	 * value is the same (and was made already when a warning callback is
	 * set, which checks every header) */
	if (strstr(ew + 2, "=?") == NULL)
		return clean_text(ctx->msg, g_mime_header_get_value(h), max);
	g_autofree char *joined = rfc2047_join_adjacent(raw);
	g_autofree char *unfolded = g_mime_utils_header_unfold(joined);
	g_autofree char *dec = g_mime_utils_header_decode_text(ctx->popts, unfolded);
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
	char *t = to_utf8(ctx->msg, (const char *) b->data, b->len, charset);
	/* NUL bytes would cut the text short in SQLite and C strings */
	gsize n = strlen(t);
	if (n < b->len && charset == NULL)
		add_warning(ctx->msg, "NUL bytes in text dropped");
	return t;
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
	if (msg->attachments->len >= LG_MAX_PARTS)
		return;
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
		const char *fn = g_mime_object_get_content_disposition_parameter(obj, "filename");
		if (fn) {
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

static char *
dsn_field(GHashTable *fields, const char *name)
{
	const char *v = g_hash_table_lookup(fields, name);
	return v ? g_strdup(v) : NULL;
}

/* Splits "type; value" and returns value, trimmed. */
static char *
dsn_typed_value(const char *v)
{
	if (v == NULL)
		return NULL;
	const char *semi = strchr(v, ';');
	return g_strstrip(g_strdup(semi ? semi + 1 : v));
}

static void
parse_delivery_status(parse_ctx *ctx, const char *text)
{
	lg_message *msg = ctx->msg;
	if (msg->dsn == NULL) {
		msg->dsn = g_new0(lg_dsn, 1);
		msg->dsn->recipients = g_ptr_array_new();
	}
	/* blocks separated by blank lines; block 0 is per-message */
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	guint block = 0;
	GHashTable *fields = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	char *last = NULL;
	for (guint i = 0;; i++) {
		char *line = lines[i];
		gboolean end = line == NULL;
		if (!end)
			g_strchomp(line);
		if (end || *line == '\0') {
			if (g_hash_table_size(fields) > 0) {
				if (block == 0 && g_hash_table_contains(fields, "original-envelope-id") && msg->dsn->original_envelope_id == NULL)
					msg->dsn->original_envelope_id = dsn_typed_value(g_hash_table_lookup(fields, "original-envelope-id"));
				if ((g_hash_table_contains(fields, "final-recipient") || g_hash_table_contains(fields, "original-recipient")) &&
				    msg->dsn->recipients->len < 1000) {
					g_autofree char *fr = dsn_field(fields, "final-recipient");
					if (fr == NULL)
						fr = dsn_field(fields, "original-recipient");
					g_autofree char *addr = dsn_typed_value(fr);
					lg_dsn_recipient *r = g_new0(lg_dsn_recipient, 1);
					r->address = lg_addr_normalize(addr);
					if (r->address == NULL)
						r->address = g_strdup(addr);
					const char *action = g_hash_table_lookup(fields, "action");
					r->action = action ? g_strstrip(g_ascii_strdown(action, -1)) : NULL;
					r->status = dsn_field(fields, "status");
					if (r->status) {
						char *sp = strpbrk(r->status, " \t(");
						if (sp)
							*sp = '\0';
					}
					r->diagnostic = dsn_typed_value(g_hash_table_lookup(fields, "diagnostic-code"));
					g_ptr_array_add(msg->dsn->recipients, r);
				}
				g_hash_table_remove_all(fields);
				block++;
			}
			last = NULL;
			if (end)
				break;
			continue;
		}
		if ((*line == ' ' || *line == '\t') && last) {
			char *prev = g_hash_table_lookup(fields, last);
			g_hash_table_insert(fields, g_strdup(last), g_strconcat(prev ? prev : "", " ", g_strstrip(line), NULL));
			continue;
		}
		char *colon = strchr(line, ':');
		if (colon == NULL)
			continue;
		*colon = '\0';
		char *name = g_ascii_strdown(g_strstrip(line), -1);
		char *value = g_strstrip(g_strdup(colon + 1));
		g_hash_table_insert(fields, name, value);
		last = name;
	}
	g_hash_table_unref(fields);
}

static void
dsn_original_from_headers(parse_ctx *ctx, const char *text)
{
	/* text/rfc822-headers: find Message-ID: (unfolded) */
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i]; i++) {
		if (g_ascii_strncasecmp(lines[i], "message-id:", 11) == 0) {
			GString *v = g_string_new(lines[i] + 11);
			for (guint j = i + 1; lines[j] && (lines[j][0] == ' ' || lines[j][0] == '\t'); j++)
				g_string_append(v, lines[j]);
			g_free(ctx->msg->dsn->original_message_id);
			ctx->msg->dsn->original_message_id = first_msgid(ctx, v->str);
			g_string_free(v, TRUE);
			return;
		}
	}
}

/* ---- walking the MIME tree -------------------------------------------- */

static void
walk(parse_ctx *ctx, GMimeObject *obj, int depth, gboolean in_report)
{
	if (obj == NULL || ctx->parts_seen++ > LG_MAX_PARTS * 4)
		return;
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
		/* The first text/plain is the body; HTML only when there is no plain
		 * text. Other text pieces (alternatives, footers) are not attachments. */
		if (ctx->body_part == NULL || (is_text && ctx->body_is_html)) {
			ctx->body_part = obj;
			ctx->body_is_html = is_html;
		}
		return;
	}
	add_attachment(ctx, obj);
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
		g_once_init_leave(&once, 1);
	}
}

/* What each parsing thread keeps from one message to the next: creating a
 * GMimeParser allocates its 4 KB scan buffer, and with it the options
 * cost about a tenth of GMime's time on a 4.5 KB message. Between two
 * messages the parser holds an empty stream, not the last message's. */
typedef struct {
	GMimeParser *parser;
	GMimeStream *idle;
	GMimeParserOptions *popts;
} parse_tls;

static void
parse_tls_free(gpointer p)
{
	parse_tls *t = p;
	g_object_unref(t->parser);
	g_object_unref(t->idle);
	g_mime_parser_options_free(t->popts);
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
		t->popts = g_mime_parser_options_new();
		g_mime_parser_options_set_fallback_charsets(t->popts, fallback);
		g_mime_parser_options_set_rfc2047_compliance_mode(t->popts, GMIME_RFC_COMPLIANCE_LOOSE);
		g_mime_parser_options_set_address_compliance_mode(t->popts, GMIME_RFC_COMPLIANCE_LOOSE);
		g_mime_parser_options_set_parameter_compliance_mode(t->popts, GMIME_RFC_COMPLIANCE_LOOSE);
		g_private_set(&key, t);
	}
	return t;
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
	parse_ctx ctx = { .msg = msg, .opts = opts, .popts = tls->popts };
	g_mime_parser_options_set_warning_callback(ctx.popts, on_parser_warning, msg);

	GMimeStream *stream = lg_raw_stream(raw);
	g_mime_stream_reset(stream);
	g_mime_parser_init_with_stream(tls->parser, stream);
	GMimeMessage *m = g_mime_parser_construct_message(tls->parser, ctx.popts);
	g_mime_parser_init_with_stream(tls->parser, tls->idle);   /* lets go of @raw */

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
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(m));
	int nh = g_mime_header_list_get_count(hl);
	for (int i = 0; i < nh && i < 2000; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		const char *name = g_mime_header_get_name(h);
		if (name == NULL)
			continue;
		lg_header *lh = g_new0(lg_header, 1);
		lh->name = clean_text(msg, name, 256);
		lh->value = header_decode(&ctx, h, LG_HEADER_VALUE_MAX);
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

	msg->from = first_address(msg, g_mime_message_get_from(m));
	if (msg->from == NULL)
		add_warning(msg, "no usable From address");
	msg->sender_hdr = first_address(msg, g_mime_message_get_sender(m));
	msg->reply_to = first_address(msg, g_mime_message_get_reply_to(m));
	collect_addresses(msg, g_mime_message_get_to(m), msg->to, 1000);
	collect_addresses(msg, g_mime_message_get_cc(m), msg->cc, 1000);

	const char *as = lg_message_header(msg, "Auto-Submitted");
	msg->auto_submitted = as ? g_strdup(as) : NULL;
	const char *prec = lg_message_header(msg, "Precedence");
	msg->precedence = prec ? g_strdup(prec) : NULL;
	const char *lid = lg_message_header(msg, "List-Id");
	msg->list_id = lid ? g_strdup(lid) : NULL;

	/* body and attachments */
	walk(&ctx, g_mime_message_get_mime_part(m), 0, FALSE);
	if (ctx.body_part != NULL) {
		gboolean truncated = FALSE;
		char *t = part_text(&ctx, GMIME_PART(ctx.body_part), &truncated);
		if (ctx.body_is_html) {
			msg->body_text = lg_html_to_text(t, -1);
			msg->body_from_html = TRUE;
			g_free(t);
		} else {
			msg->body_text = t;
		}
		msg->body_truncated = truncated;
		if (truncated)
			add_warning(msg, "body text truncated");
	}
	if (msg->body_text == NULL)
		msg->body_text = g_strdup("");
	detect_automatic(&ctx);
	g_object_unref(m);
done:
	if (msg->subject == NULL)
		msg->subject = g_strdup("");
	g_mime_parser_options_set_warning_callback(ctx.popts, NULL, NULL);   /* @msg is the caller's now */
	return msg;
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
