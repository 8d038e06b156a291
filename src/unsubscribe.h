/*
 * NAME
 *   unsubscribe.h - the mailer's inbound side: unsubscribe recipients and
 *   the keyed references of campaign mail (SPEC §11).
 *
 * SUMMARY
 *   Every campaign message names, in its List-Unsubscribe, the address
 *   "[mailer] unsubscribe_address" with the end user's keyed token as its
 *   +extension: unsubscribe+lg-U42-0123456789abcdef@example.com. Mail to
 *   that address with a token that verifies withdraws the end user's
 *   consent; the same address without a token, or with one that does not
 *   verify, is no recipient at all (550 5.1.1), whatever the catch-all:
 *   a stranger can neither turn it into a lead nor unsubscribe others.
 *   The one-click URL carries the same token (`leadgate unsubscribe`).
 *
 *   A campaign message's Message-ID carries a keyed "lg-C<outbox id>"
 *   reference: a hard bounce or a reply that names it is tied to that
 *   send (and its end user) only when the reference verifies.
 *
 *   Pure functions: no store, any thread.
 */
#ifndef LG_UNSUBSCRIBE_H
#define LG_UNSUBSCRIBE_H

#include <glib.h>
#include "config.h"
#include "message.h"

G_BEGIN_DECLS

/* Is @rcpt (canonical, lower case) the unsubscribe address, with or
 * without a "+" extension? *@token_r (may be NULL) gets the extension as a
 * token (lg_unsub_token_canon) or NULL when there is none. */
gboolean lg_unsub_rcpt(const lg_config *cfg, const char *rcpt, char **token_r);

/* A token as given ("lg-U42-<mac>", or lower-cased by an address's
 * normalisation, "lg-u42-<mac>"; surrounding blanks dropped) in the form
 * lg_ref_verify() reads; NULL when it cannot be one. */
char *lg_unsub_token_canon(const char *token);

/* Verifies an unsubscribe token (kind U); *@end_user_id_r on success. */
gboolean lg_unsub_token_verify(const char *key, const char *token, gint64 *end_user_id_r);

/* The campaign send (outbox id) @msg refers to by a keyed lg-C reference:
 * a delivery-status report's original Message-ID first, then In-Reply-To,
 * then References (newest first), then the text body (the short reference
 * line of leadgate's mail, quoted by a client that dropped References).
 * FALSE when none verifies. */
gboolean lg_campaign_ref_find(const char *key, const lg_message *msg, gint64 *outbox_id_r);

G_END_DECLS

#endif
