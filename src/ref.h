/*
 * NAME
 *   ref.h - keyed references that tie leadgate's own mail to its threads.
 *
 * SUMMARY
 *   Mail that leadgate sends (notifications, mailer) carries a reference
 *   "lg-T1042-<mac>" in its Message-ID and in a short line of its body, the
 *   MAC being the first 16 hex digits of HMAC-SHA256(key, "T1042"), the key
 *   the database's settings.ref_key. A reply that names a valid reference
 *   joins that ticket (T) or lead (L) whoever sends it; a forged or altered
 *   one does not verify, so it cannot hijack a thread (SPEC §3). The mailer
 *   (SPEC §11) uses two more kinds: C, a campaign send (the outbox row id,
 *   in the Message-ID of a campaign message), and U, an end user's
 *   unsubscribe token (in the List-Unsubscribe address and URL).
 */
#ifndef LG_REF_H
#define LG_REF_H

#include <glib.h>

G_BEGIN_DECLS

/* "lg-T1042-0123456789abcdef". @kind: 'T' ticket, 'L' lead, 'C' campaign
 * send (outbox id), 'U' unsubscribe (end user id). Newly allocated. */
char *lg_ref_make(const char *key, char kind, gint64 id);
/* Verifies a token (a bare reference, or a Message-ID starting with one). */
gboolean lg_ref_verify(const char *key, const char *token, char *kind_r, gint64 *id_r);
/* Finds the first valid reference anywhere in @text; at most 64 strings
 * shaped like references (of the kind asked for) are verified. */
gboolean lg_ref_find(const char *key, const char *text, char *kind_r, gint64 *id_r);
/* Finds the first valid reference of @kind in @text. */
gboolean lg_ref_find_kind(const char *key, const char *text, char kind, gint64 *id_r);

G_END_DECLS

#endif
