/*
 * NAME
 *   store_mailer.h - the store's operations for the mailer (SPEC §11).
 *
 * SUMMARY
 *   The SQL of sql/005_mailer.sql: saved organization searches, campaigns,
 *   consent, and the campaign rows of the shared outbox as the mailer
 *   (mailer.c) drives them:
 *
 *     lg_store_mailer_send()      a blast: one queued row per eligible end
 *                                 user, in one transaction (outbox_blast_once
 *                                 makes a second send add nobody twice)
 *     lg_store_mailer_schedule()  triggered campaigns: new events -> rows due
 *                                 at the event's time + delay
 *     lg_store_mailer_resolve()   rows a dead worker held: phase NULL ->
 *                                 queued again; phase 'data' -> sent
 *                                 (assumed, noted in last_error)
 *     lg_store_mailer_drop_late() triggered rows past max_lateness -> dropped
 *     lg_store_mailer_claim()     due rows of active campaigns -> sending
 *     lg_store_mailer_data()      the end of DATA is about to reach the MTA:
 *                                 phase 'data' (and the Message-ID)
 *     lg_store_mailer_finish()    sending -> sent | queued | failed | skipped
 *
 *   Consent is one SQL expression (MAILER_EXCLUDED in store_mailer.c): an
 *   end user is excluded, with a reason, when their flag is off, (blasts)
 *   their organization's flag is off, the address is undeliverable or on
 *   the spam list (an address, its domain or a parent domain). It is
 *   evaluated when a blast is queued and again for each row just before it
 *   is sent.
 */
#ifndef LG_STORE_MAILER_H
#define LG_STORE_MAILER_H

#include "store.h"

G_BEGIN_DECLS

/* The events a triggered campaign may follow (NULL-terminated). */
extern const char *const lg_mailer_events[];

/* ---- saved searches -------------------------------------------------------- */
typedef struct {
	const char *name_like;      /* LIKE pattern on the organization's name */
	const char *domain;
	gboolean has_open_tickets;
	const char *created_since;  /* ISO 8601 date or time */
} lg_search_criteria;
/* Saves (or replaces the criteria of) a search. *@replaced_r (may be NULL). */
gboolean lg_store_search_save(lg_store *st, const char *name, const lg_search_criteria *c, gboolean *replaced_r,
                              GError **error);
gboolean lg_store_search_list(lg_store *st, lg_table **out, GError **error);
/* The search (one row) and the organizations it matches now. */
gboolean lg_store_search_show(lg_store *st, const char *name, lg_table **search_r, lg_table **orgs_r,
                              GError **error);

/* ---- consent --------------------------------------------------------------- */
gboolean lg_store_contact_marketing(lg_store *st, const char *email, gboolean on, GError **error);
gboolean lg_store_org_marketing(lg_store *st, const char *name, gboolean on, GError **error);

/* ---- campaigns ------------------------------------------------------------- */
typedef struct {
	const char *name;
	const char *kind;           /* blast | triggered */
	const char *search;         /* blast: a saved search's name; NULL: all organizations */
	const char *trigger_event;  /* triggered */
	gint64 delay_seconds;       /* triggered */
	const char *subject, *body_text, *body_html;
} lg_campaign_def;
gboolean lg_store_campaign_create(lg_store *st, const lg_campaign_def *d, gint64 *id_r, GError **error);
gboolean lg_store_campaign_list(lg_store *st, lg_table **out, GError **error);

typedef struct {
	gint64 id;
	char *name, *kind, *state, *trigger_event;
	gint64 delay_seconds;
	char *subject, *body_text, *body_html;
} lg_campaign;
void lg_campaign_free(lg_campaign *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(lg_campaign, lg_campaign_free)
/* NOTFOUND when there is no campaign @name. */
gboolean lg_store_campaign_get(lg_store *st, const char *name, lg_campaign **c_r, GError **error);
gboolean lg_store_campaign_get_id(lg_store *st, gint64 id, lg_campaign **c_r, GError **error);
/* pause: active -> paused; resume: paused -> active (or done). INVALID otherwise. */
gboolean lg_store_campaign_pause(lg_store *st, const char *name, gboolean pause, char **state_r, GError **error);

/* A blast's audience: email, name, organization, and reason (NULL: it
 * would be sent). For --dry-run and preview. */
gboolean lg_store_mailer_audience(lg_store *st, gint64 campaign_id, lg_table **out, GError **error);
/* Queues a blast (draft or done -> active). *@queued_r rows added,
 * *@excluded_r end users passed over. */
gboolean lg_store_mailer_send(lg_store *st, gint64 campaign_id, gint64 *queued_r, gint64 *excluded_r, GError **error);

/* The placeholder values for one end user (preview): contact.name,
 * organization.name, and for a triggered campaign the ticket and lead of
 * the end user's latest event of its kind. As a JSON object text. */
gboolean lg_store_mailer_values(lg_store *st, gint64 campaign_id, const char *email, gint64 *end_user_id_r,
                                char **json_r, GError **error);

/* ---- the worker ------------------------------------------------------------ */
/* Triggered campaigns: events after last_event_id become rows. *@n_r queued. */
gboolean lg_store_mailer_schedule(lg_store *st, gint64 *n_r, GError **error);
/* Resolves rows whose claim expired or whose owner (@hostname, a pid that
 * is gone) died. *@requeued_r, *@assumed_r (may be NULL). */
gboolean lg_store_mailer_resolve(lg_store *st, const char *hostname, gint64 *requeued_r, gint64 *assumed_r,
                                 GError **error);
gboolean lg_store_mailer_drop_late(lg_store *st, gint64 max_lateness, gint64 *n_r, GError **error);
/* Sends in the last 60 seconds (for per_minute). */
gboolean lg_store_mailer_sent_last_minute(lg_store *st, gint64 *n_r, GError **error);

typedef struct {
	gint64 id;
	gint64 campaign_id;
	char *campaign;
	gint64 end_user_id;
	char *recipient;
	char *payload;              /* the placeholders' values, JSON */
	gint64 attempts;            /* including this one */
	gboolean triggered;
} lg_mailer_item;
void lg_mailer_item_free(lg_mailer_item *it);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(lg_mailer_item, lg_mailer_item_free)

/* Claims up to @max due rows of active campaigns in id order (blast rows
 * only when @blasts; triggered rows within @per_day sends of the last 24
 * hours per campaign, 0 = no cap) for @lease seconds under @token. */
gboolean lg_store_mailer_claim(lg_store *st, const char *token, int lease, int max, gboolean blasts,
                               int per_day, GPtrArray **items_r, GError **error);
/* Just before a row's send: NULL *@reason_r when it still qualifies (consent,
 * campaign active), else why not. *@paused_r: the campaign is not active. */
gboolean lg_store_mailer_recheck(lg_store *st, gint64 id, char **reason_r, gboolean *paused_r, GError **error);

typedef enum {
	LG_MAILER_SENT,
	LG_MAILER_RETRY,            /* queued again, due in @delay seconds */
	LG_MAILER_FAILED,           /* permanent refusal */
	LG_MAILER_SKIPPED,          /* no longer qualifies */
	LG_MAILER_RELEASE           /* not tried: queued, the attempt not counted */
} lg_mailer_outcome;

/* Marks row @id (claimed by @token) phase 'data' with its Message-ID, in a
 * transaction of its own that also finishes the row @sent_id (0: none) as
 * sent: the deferred sent mark of the previous row. FALSE with
 * LG_STORE_ERROR_NOTFOUND when the claim was lost. */
gboolean lg_store_mailer_data(lg_store *st, gint64 id, const char *token, const char *message_id, gint64 sent_id,
                              GError **error);
gboolean lg_store_mailer_finish(lg_store *st, gint64 id, const char *token, lg_mailer_outcome outcome, double delay,
                                const char *error_text, GError **error);
/* The key/value pairs of a JSON object (a row's payload) as strings; a
 * JSON null is left out. */
gboolean lg_store_json_values(lg_store *st, const char *json, GHashTable **values_r, GError **error);
/* PRAGMA synchronous=FULL again after lg_store_defer_sync(). */
gboolean lg_store_mailer_sync_full(lg_store *st, GError **error);
/* Blast campaigns with no row left to send -> done. */
gboolean lg_store_mailer_close_done(lg_store *st, GError **error);
/* Seconds until the next campaign row is due (-1: none). */
gboolean lg_store_mailer_next_due(lg_store *st, gboolean blasts, double *seconds_r, GError **error);

G_END_DECLS

#endif
