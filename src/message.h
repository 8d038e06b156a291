/*
 * NAME
 *   message.h - the message model: what leadgate knows about one message.
 *
 * SUMMARY
 *   lg_message_parse() reads a raw message with GMime and extracts plain,
 *   owned, UTF-8 data: addresses (normalised, see address.h), decoded subject,
 *   identifiers, every header decoded, the text body (the first text/plain
 *   part that is not blank, else the first such HTML part converted to
 *   text; NUL bytes as U+FFFD), attachments with decoded names, size
 *   and SHA-256, automatic-mail signals, a delivery-status report, and the
 *   parser's warnings. No GMime object outlives the call, so an lg_message
 *   may be handed to another thread.
 *
 *   Parsing never fails for a malformed message: what could be read is
 *   returned and the rest is described in @warnings. It fails only when the
 *   source cannot be read or is empty.
 */
#ifndef LG_MESSAGE_H
#define LG_MESSAGE_H

#include <glib.h>
#include "address.h"
#include "raw.h"

G_BEGIN_DECLS

typedef struct {
	char *name;    /* header field name as written */
	char *value;   /* unfolded, RFC 2047 decoded, UTF-8 */
} lg_header;

typedef struct {
	char *filename;      /* decoded (RFC 2047/2231), UTF-8; NULL when none;
	                      * an attached message: its declared name, else
	                      * "<inner Subject>.eml" */
	char *content_type;  /* "image/png", lower case */
	char *disposition;   /* "attachment", "inline" or NULL */
	gint64 size;         /* decoded size in bytes */
	char sha256[65];     /* of the decoded content */
} lg_attachment;

typedef struct {
	char *address;       /* Final-Recipient (or Original-Recipient), canonical */
	char *action;        /* failed, delayed, delivered, relayed, expanded */
	char *status;        /* "5.1.1" */
	char *diagnostic;    /* Diagnostic-Code, may be NULL */
} lg_dsn_recipient;

typedef struct {
	char *original_message_id;  /* of the returned message, no <>; may be NULL */
	char *original_envelope_id; /* Original-Envelope-Id; may be NULL */
	GPtrArray *recipients;      /* lg_dsn_recipient* */
} lg_dsn;

/* Why a message counts as automatic mail (bit set). */
typedef enum {
	LG_AUTO_SUBMITTED   = 1 << 0,  /* Auto-Submitted: other than "no" */
	LG_AUTO_PRECEDENCE  = 1 << 1,  /* Precedence: bulk, junk, list */
	LG_AUTO_REPLY_HDR   = 1 << 2,  /* X-Autoreply, X-Autorespond, X-Auto-Response-Suppress: All/OOF... */
	LG_AUTO_NULL_SENDER = 1 << 3,  /* empty envelope sender (set by the chain) */
	LG_AUTO_DSN         = 1 << 4,  /* a delivery-status report */
	LG_AUTO_LOOP        = 1 << 5,  /* carries leadgate's own loop header */
	LG_AUTO_LIST        = 1 << 6   /* List-Id / List-Unsubscribe present */
} lg_auto_flags;

typedef struct lg_message {
	char *message_id;       /* no <>; NULL when absent */
	char *in_reply_to;      /* first msg-id of In-Reply-To; NULL when absent */
	GPtrArray *references;  /* char*, msg-ids (no <>), oldest first */
	char *subject;          /* decoded, never NULL ("" when absent) */
	char *date_iso;         /* Date: as ISO 8601 UTC; NULL when absent/bad */

	lg_address *from;       /* first From: address; NULL when none */
	lg_address *sender_hdr; /* Sender:; NULL when none */
	lg_address *reply_to;   /* first Reply-To:; NULL when none */
	GPtrArray *to;          /* lg_address* */
	GPtrArray *cc;          /* lg_address* */

	GPtrArray *headers;     /* lg_header*, top-level headers in order */

	char *body_text;        /* UTF-8, never NULL */
	gboolean body_from_html;
	gboolean body_truncated;

	GPtrArray *attachments; /* lg_attachment* */
	GPtrArray *warnings;    /* char*, what the parser had to work around */

	char *auto_submitted;   /* raw header value or NULL */
	char *precedence;       /* raw header value or NULL */
	char *list_id;          /* or NULL */
	guint auto_flags;       /* lg_auto_flags found in the message itself */

	lg_dsn *dsn;            /* NULL unless a delivery-status report */

	gint64 size;
	char sha256[65];
} lg_message;

typedef struct {
	gsize body_max;         /* longest body_text kept (bytes); 0 = 1 MiB */
	const char *loop_header;/* header name that marks leadgate's own mail */
} lg_parse_options;

/* Parses @raw (rewinds its stream). Returns a new message, or NULL with
 * @error only when the source is empty or unreadable. */
lg_message *lg_message_parse(lg_raw *raw, const lg_parse_options *opts, GError **error);
void lg_message_free(lg_message *msg);
/* A permanent failure (RFC 3464): Status 5.x.x, or with no Status an
 * Action of failed; never a delayed one. */
gboolean lg_dsn_recipient_permanent(const lg_dsn_recipient *r);
/* The report names at least one recipient with a permanent failure (a
 * hard bounce); FALSE for NULL. */
gboolean lg_dsn_permanent(const lg_dsn *dsn);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(lg_message, lg_message_free)

/* First value of header @name (case-insensitive), borrowed, or NULL. */
const char *lg_message_header(const lg_message *msg, const char *name);

/* The text of the whole decoded message for body tests: body_text. */
#define lg_message_body(msg) ((msg)->body_text)

/* HTML to plain text with libxml2's HTML parser (block elements become
 * line breaks, entities decoded, script/style dropped; see html2text.c).
 * @html is UTF-8. Returns a newly allocated UTF-8 string. */
char *lg_html_to_text(const char *html, gssize len);
/* libxml2's one-time set-up; lg_message_init() calls it. */
void lg_html_init(void);

/* Must be called once before any thread parses (wraps g_mime_init). */
void lg_message_init(void);

/* Blanks, in place, the opening parenthesis of a comment that @value (one
 * unfolded address header value) never closes: GMime 3.2.13 leaks the
 * address it has read before such a comment (its issue 159), so every
 * caller of internet_address_list_parse() on a stranger's text runs this
 * first. */
void lg_message_guard_address_value(char *value);

G_END_DECLS

#endif
