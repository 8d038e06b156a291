/*
 * NAME
 *   store_unsub.h - the store's side of unsubscribes, campaign bounces and
 *   replies to campaign mail (SPEC §11).
 *
 * SUMMARY
 *   Each runs inside the caller's transaction (a delivery's savepoint, or
 *   the CLI's own), so an unsubscribe is durable exactly when the delivery
 *   that carried it is: leadgate-lmtpd answers 250 only after the commit,
 *   and the sender re-reads the consent just before each message.
 */
#ifndef LG_STORE_UNSUB_H
#define LG_STORE_UNSUB_H

#include <glib.h>
#include "message.h"
#include "store.h"

G_BEGIN_DECLS

typedef struct {
	gboolean found;     /* the end user exists */
	gboolean changed;   /* consent was on and is now off (a row logged) */
	char *email;        /* the end user's address; NULL when not found */
} lg_unsub_outcome;
void lg_unsub_outcome_clear(lg_unsub_outcome *o);

/* Withdraws end user @end_user_id's consent: receive_marketing 0,
 * marketing_changed_at now, marketing_changed_by "unsubscribe:" @via
 * ("mailto" or "url"), and a row in unsubscribes. Idempotent: consent
 * already off changes nothing and logs nothing. @message_id may be NULL. */
gboolean lg_store_unsubscribe(lg_store *st, gint64 end_user_id, const char *via, const char *token,
                              const char *message_id, lg_unsub_outcome *out, GError **error);

/* A hard bounce of campaign send @outbox_id (verified lg-C reference):
 * the send's bounced_at, its recipient address undeliverable (status and
 * diagnostic of the report's first permanent failure; @dsn_message_row the
 * report's messages row), and the end user's consent off (by "bounce").
 * *@address_r: the address marked; NULL when @outbox_id is no campaign
 * send (then nothing changed). */
gboolean lg_store_campaign_bounce(lg_store *st, gint64 outbox_id, const lg_dsn *dsn, gint64 dsn_message_row,
                                  char **address_r, GError **error);

/* The campaign send @outbox_id: its end user, that end user's
 * organization (0 when none) and the campaign's name. *@campaign_r NULL
 * when there is no such send or its end user is gone. */
gboolean lg_store_campaign_send(lg_store *st, gint64 outbox_id, gint64 *end_user_id_r, gint64 *org_r,
                                char **campaign_r, GError **error);

G_END_DECLS

#endif
