/*
 * NAME
 *   store_outbox.h - the store's operations for notifications and the outbox.
 *
 * SUMMARY
 *   The SQL of SPEC §6 (sql/004_outbox.sql): subscriptions, webhook
 *   endpoints, the fan-out of an event into outbox rows, and the outbox's
 *   state machine as the worker (outbox.c) drives it:
 *
 *     lg_store_outbox_claim()   queued (due) or sending (claim expired)
 *                               -> sending, in one UPDATE ... RETURNING, so
 *                               two workers never hold one row; attempts+1;
 *                               kind 'notification' only (the mailer's
 *                               campaign rows are store_mailer.h's)
 *     lg_store_outbox_finish()  sending -> sent | queued (retry) | failed,
 *                               only while the caller's claim token holds
 *
 *   Each is one short autocommit statement: the worker holds no transaction
 *   while it talks to the network. Like store_model.h: gboolean + GError,
 *   every value bound.
 */
#ifndef LG_STORE_OUTBOX_H
#define LG_STORE_OUTBOX_H

#include "store.h"

G_BEGIN_DECLS

/* The events users may subscribe to (NULL-terminated). */
extern const char *const lg_notify_events[];

/* Fans event @event_id out into outbox rows (one INSERT ... SELECT); the
 * caller's transaction holds it. *@n_r (may be NULL): rows queued. */
gboolean lg_store_outbox_fanout(lg_store *st, gint64 event_id, gint64 *n_r, GError **error);

/* ---- subscriptions (the CLI) -------------------------------------------- */
typedef struct {
	const char *user_email;
	const char *event;
	const char *scope;          /* any | my | subscribed */
	const char *channel;        /* webhook | email */
	const char *url;            /* webhook */
	const char *secret_file;    /* webhook, optional: absolute path */
} lg_notify_sub;
/* Adds (or changes the scope of) a subscription. A webhook URL seen for
 * the first time gets an endpoint; without a secret file, a new generated
 * secret, returned in *@new_secret_r (NULL when the endpoint existed). A
 * new --secret-file replaces the endpoint's secret source. */
gboolean lg_store_notify_add(lg_store *st, const lg_notify_sub *s, char **new_secret_r, GError **error);
gboolean lg_store_notify_remove(lg_store *st, const lg_notify_sub *s, GError **error);
gboolean lg_store_notify_list(lg_store *st, const char *user_email, const char *event, lg_table **out, GError **error);
gboolean lg_store_ticket_subscribe(lg_store *st, gint64 number, const char *user_email, gboolean *added_r,
                                   GError **error);

/* ---- the worker --------------------------------------------------------- */
typedef struct {
	gint64 id;
	char *kind;                 /* notification | campaign */
	char *event;
	char *channel;              /* webhook | email */
	char *recipient;            /* email */
	char *webhook_id;
	char *payload;
	gint64 attempts;            /* including this one */
	/* webhook */
	gint64 endpoint_id;
	char *url;
	char *secret;               /* or NULL: read secret_file */
	char *secret_file;
	gboolean endpoint_disabled;
	/* email: taken from the payload */
	char *subject;
	char *sender_email;
	char *sender_name;
	char *mailbox;
	gint64 lead_id, ticket_number;
} lg_outbox_item;
void lg_outbox_item_free(lg_outbox_item *it);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(lg_outbox_item, lg_outbox_item_free)

/* Claims up to @max due rows for @lease seconds under @token; *@items_r
 * gets lg_outbox_item*s (an empty array when nothing is due). */
gboolean lg_store_outbox_claim(lg_store *st, const char *token, int lease, int max, GPtrArray **items_r,
                               GError **error);

typedef enum {
	LG_OUTBOX_SENT,
	LG_OUTBOX_RETRY,            /* queued again, due in @delay seconds */
	LG_OUTBOX_FAILED,           /* given up: listed by `outbox list --failed` */
	LG_OUTBOX_RELEASE           /* not tried (the worker stops): queued, the attempt not counted */
} lg_outbox_outcome;
/* Finishes a claimed row; nothing happens when the claim was lost (it
 * expired and another worker took the row). *@done_r (may be NULL). */
gboolean lg_store_outbox_finish(lg_store *st, gint64 id, const char *token, lg_outbox_outcome outcome,
                                double delay, const char *error_text, gboolean *done_r, GError **error);
/* The endpoint answered 410 Gone: disable it and fail its queued rows. */
gboolean lg_store_endpoint_disable(lg_store *st, gint64 endpoint_id, const char *reason, GError **error);

/* ---- the CLI ------------------------------------------------------------ */
gboolean lg_store_outbox_list(lg_store *st, gboolean failed_only, lg_table **out, GError **error);
/* Queues a failed (or waiting) row again, due now, with a fresh schedule;
 * re-enables its endpoint when a 410 had disabled it. */
gboolean lg_store_outbox_retry(lg_store *st, gint64 id, GError **error);
/* Seconds until the next queued row is due (-1: none), for the worker's sleep. */
gboolean lg_store_outbox_next_due(lg_store *st, double *seconds_r, GError **error);

G_END_DECLS

#endif
