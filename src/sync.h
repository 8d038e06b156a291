/*
 * NAME
 *   sync.h - the email sync filter (SPEC §5), one for both daemons.
 *
 * SUMMARY
 *   lg_sync_message() takes a parsed message, its envelope and its
 *   direction, finds the users among its participants and decides for each
 *   what SPEC §5 says: nothing (sync off for everyone or for the direction,
 *   no participant is a user), or one sync-log row per outcome - skipped
 *   with its reason (sync_off, removed, role_not_allowed, automated,
 *   internal, excluded, no_keyword), or for each counterpart address an
 *   Email Sent / Email Received activity on its lead (synced), on a lead
 *   captured for it (captured), or none (too_many_counterparts, no_lead,
 *   spam).
 *   Everything it writes for one message is one store transaction, or one
 *   savepoint when the caller has a transaction open (to commit several
 *   messages at once).
 *
 *   leadgate-milter calls it for both directions; leadgate-lmtpd is meant
 *   to call it with LG_SYNC_IN for a recipient that is a user's address.
 *
 *   The pure parts are exported for the unit tests.
 */
#ifndef LG_SYNC_H
#define LG_SYNC_H

#include <glib.h>
#include "config.h"
#include "envelope.h"
#include "message.h"
#include "store.h"

G_BEGIN_DECLS

typedef enum { LG_SYNC_IN, LG_SYNC_OUT } lg_sync_direction;

typedef struct {
	lg_sync_direction direction;
	const char *login;          /* SASL login of an outbound submission, or NULL */
	const char *source;         /* "milter" | "lmtpd" | "cli" */
} lg_sync_input;

/* One decision, for the daemon's log line. */
typedef struct {
	char *user;
	char *outcome;              /* synced | captured | skipped */
	char *reason;               /* NULL unless skipped */
	char *counterpart;          /* "" for the whole message */
	gint64 lead_id;
	gboolean recorded;          /* FALSE: it was recorded before (replay) */
} lg_sync_outcome;

/* The parse options the filter wants (body cut at [sync] body_max). */
void lg_sync_parse_options(const lg_config *cfg, lg_parse_options *opts);

/* Runs the filter; *@outcomes_r (lg_sync_outcome*, may be empty) says what
 * it decided. FALSE with @error (LG_STORE_ERROR) when the store failed:
 * nothing was written, and the same call may be made again later. */
gboolean lg_sync_message(lg_store *st, const lg_config *cfg, lg_raw *raw, const lg_message *msg,
                         const lg_envelope *env, const lg_sync_input *in, GPtrArray **outcomes_r,
                         GError **error);

/* ---- pure parts ---------------------------------------------------------- */
/* @keyword in @text: case-insensitive, as whole words; a phrase only as
 * written (same words, same order, same spacing). */
gboolean lg_sync_phrase_match(const char *text, const char *keyword);
/* @email (canonical) is @item: the same address, or an address at the
 * domain @item or one of its subdomains. */
gboolean lg_sync_addr_matches(const char *email, const char *item);
/* An attachment of @content_type named @filename is one of @types. */
gboolean lg_sync_type_allowed(const char *content_type, const char *filename, char **types);
/* @body cut at @max bytes (on a character boundary) with a visible marker. */
char *lg_sync_cut_body(const char *body, gsize max, gboolean already_cut);

/* The range of `leadgate log --since S [--until U]` at @now (UTC): S is
 * today, yesterday, 7d, 30d or a date YYYY-MM-DD at most 60 days back
 * (NULL: 7d); U a date (the whole day counts; NULL: now). *@from_r and
 * *@to_r are ISO 8601 UTC, @to exclusive. A bad or too old value is
 * LG_USAGE_ERROR_ARGS saying why. */
gboolean lg_sync_log_range(const char *since, const char *until, GDateTime *now, char **from_r, char **to_r,
                           GError **error);

G_END_DECLS

#endif
