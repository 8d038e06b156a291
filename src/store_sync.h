/*
 * NAME
 *   store_sync.h - the store's operations for the email sync (SPEC §5).
 *
 * SUMMARY
 *   What the sync filter (sync.c) and the CLI ask of the database about
 *   users' sync settings, activities and the sync log; the SQL is in
 *   store_sync.c. Like store_model.h: gboolean + GError (LG_STORE_ERROR),
 *   lookups that find nothing succeed with id 0, every value bound.
 *
 *   The writes are idempotent by the schema's constraints (sql/003_sync.sql):
 *   an activity is unique per (ident, user, direction, lead), a sync-log row
 *   per (ident, user, direction, counterpart); a second write of either
 *   changes nothing and says so through *added_r. This is what lets the
 *   milter replay a spooled event, and two paths see one message, without
 *   doubling anything.
 */
#ifndef LG_STORE_SYNC_H
#define LG_STORE_SYNC_H

#include "store.h"

G_BEGIN_DECLS

typedef struct {
	gint64 id;                  /* 0: no such user */
	char *email;
	char *role;
	gboolean sync_enabled;
	gboolean removed;
} lg_sync_user;
void lg_sync_user_clear(lg_sync_user *u);

/* The user with address @email (canonical), removed ones included. */
gboolean lg_store_sync_user_find(lg_store *st, const char *email, lg_sync_user *u, GError **error);
/* Every user's address, removed ones included (a set: email -> email). */
gboolean lg_store_sync_user_addresses(lg_store *st, GHashTable **out, GError **error);
/* A user's own keywords / exclusions (char*, owned by the array). */
gboolean lg_store_user_keywords(lg_store *st, gint64 user_id, GPtrArray **out, GError **error);
gboolean lg_store_user_exclusions(lg_store *st, gint64 user_id, GPtrArray **out, GError **error);

/* The message row of a synced message in @direction ("in" | "out"), made
 * (with its raw copy and attachments) when there is none. @body is what is
 * kept of the text body (NULL: nothing). */
gboolean lg_store_sync_message_put(lg_store *st, const char *direction, lg_raw *raw, const lg_message *msg,
                                   const lg_envelope *env, const char *body, gint64 *id_r, GError **error);

/* The newest lead that is not hidden whose @field ("email": the lead's
 * sender email; "contact_email": its contact's email) is @email. */
gboolean lg_store_sync_lead_find(lg_store *st, const char *field, const char *email, gint64 *lead_id_r,
                                 GError **error);
/* A lead captured by sync: unread, decided_by 'sync', mailbox mode never. */
gboolean lg_store_sync_lead_capture(lg_store *st, gint64 message_row, const char *email, const char *name,
                                    const char *subject, const char *source, gint64 user_id, const char *reason,
                                    gint64 *lead_id_r, GError **error);

typedef struct {
	const char *direction;      /* in | out */
	const char *ident;
	gint64 user_id, lead_id, message_row;
	const char *counterpart;
	const char *from_addr, *to_addrs, *cc_addrs, *bcc_addrs;
	const char *subject, *body, *attachments;
	const char *source;         /* milter | lmtpd | cli */
} lg_activity_row;
/* *@id_r: the activity (the existing one when it was there already). */
gboolean lg_store_activity_add(lg_store *st, const lg_activity_row *a, gint64 *id_r, gboolean *added_r,
                               GError **error);

typedef struct {
	gint64 user_id;
	const char *direction;
	const char *ident;
	const char *message_id;     /* header, may be NULL */
	const char *subject;
	const char *counterpart;    /* "" for the whole message */
	const char *outcome;        /* synced | captured | skipped */
	const char *reason;         /* NULL unless skipped */
	gint64 lead_id, activity_id;
	const char *source;
} lg_sync_log_row;
gboolean lg_store_sync_log_add(lg_store *st, const lg_sync_log_row *r, gboolean *added_r, GError **error);

/* ---- the command line's operations (leadgate user/log/purge) ------------ */
/* Each is one transaction; a user that does not exist (or was removed) is
 * LG_STORE_ERROR_NOTFOUND naming the address. */
gboolean lg_store_user_sync_set(lg_store *st, const char *email, gboolean on, GError **error);
/* A user's own keyword (a phrase, kept as written) / exclusion (an address
 * or a domain, kept in lower case): add or remove. Adding one that is
 * there, or removing one that is not, says so (EXISTS / NOTFOUND). */
gboolean lg_store_user_keyword_edit(lg_store *st, const char *email, gboolean add, const char *word, GError **error);
gboolean lg_store_user_exclusion_edit(lg_store *st, const char *email, gboolean add, const char *item, GError **error);
gboolean lg_store_user_keyword_list(lg_store *st, const char *email, lg_table **out, GError **error);
gboolean lg_store_user_exclusion_list(lg_store *st, const char *email, lg_table **out, GError **error);

/* The sync log from @from (inclusive) to @to (exclusive), ISO 8601 UTC;
 * @user (NULL: all) and @search (NULL: none) matching the lead id, the
 * lead's name or email, or the subject. Oldest first. */
gboolean lg_store_sync_log_list(lg_store *st, const char *from, const char *to, const char *user,
                                const char *search, lg_table **out, GError **error);

/* Drops raw messages and message bodies recorded before @before (ISO
 * 8601 UTC); activities and the sync log stay, their bodies dropped and
 * marked purged; the raw message of a quarantine entry not yet replayed is
 * kept (counted in kept). With @dry_run nothing changes: the counts say
 * what would. */
typedef struct {
	gint64 raw;         /* raw messages */
	gint64 bodies;      /* message bodies */
	gint64 activities;  /* activity bodies */
	gint64 kept;        /* old raw messages kept: quarantined, awaiting replay */
} lg_purge_counts;
gboolean lg_store_purge(lg_store *st, const char *before, gboolean dry_run, lg_purge_counts *n, GError **error);

G_END_DECLS

#endif
