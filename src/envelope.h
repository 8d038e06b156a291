/*
 * NAME
 *   envelope.h - what the MTA said about a message besides its bytes.
 */
#ifndef LG_ENVELOPE_H
#define LG_ENVELOPE_H

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
	char *sender;        /* MAIL FROM, canonical; "" for the null sender <> */
	GPtrArray *recipients; /* char*, canonical, in RCPT order, no duplicates */
	char *queue_id;      /* Postfix queue id if known (XFORWARD / Received) */
	/* XFORWARD attributes (RFC: Postfix XFORWARD_README); NULL when unknown */
	char *client_name;
	char *client_addr;
	char *client_port;
	char *client_proto;
	char *client_helo;
	char *client_ident;
	char *client_source;
	/* leadgate's own SPF check of client_addr, client_helo and sender
	 * (leadgate-lmtpd, [auth] mode auto|check): pass, fail, softfail,
	 * neutral, none, temperror, permerror; NULL when none was run */
	char *spf_result;
} lg_envelope;

lg_envelope *lg_envelope_new(const char *sender);
/* Adds a recipient (normalised); returns FALSE when it is not an address.
 * A recipient already present is not added twice (returns TRUE). */
gboolean lg_envelope_add_rcpt(lg_envelope *env, const char *rcpt);
lg_envelope *lg_envelope_copy(const lg_envelope *env);
void lg_envelope_free(lg_envelope *env);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(lg_envelope, lg_envelope_free)

G_END_DECLS

#endif
