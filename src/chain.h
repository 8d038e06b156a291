/*
 * NAME
 *   chain.h - the inbound decision chain of SPEC §3, per recipient.
 *
 * SUMMARY
 *   deliver.c stores the message, then calls lg_chain_decide() once per
 *   recipient inside the delivery's savepoint. The steps run in the spec's
 *   order (duplicate, spam sender, reply to a ticket, reply to a lead,
 *   automatic mail, known end user, rules, mailbox mode); the first that
 *   applies decides, and the lead records which (decided_by) and why.
 */
#ifndef LG_CHAIN_H
#define LG_CHAIN_H

#include "config.h"
#include "deliver.h"
#include "rules.h"
#include "store.h"

typedef struct {
	lg_store *st;
	const lg_config *cfg;
	const lg_rules *rules;
	const lg_message *msg;
	const lg_envelope *env;
	gint64 message_row;
	char *ref_key;               /* settings.ref_key */
	lg_message_facts facts;      /* sender used for matching, auth verdicts */
	char *sender_email;          /* owned copies behind facts */
	char *sender_name;
	const char *sender_source;   /* from | reply-to | sender | envelope (static); NULL: none */
	char *dmarc;
	char *spf;
	const char *spf_source;      /* "header" | "check" (static); NULL: no verdict */
	guint forged_ar;             /* trusted-id Authentication-Results below the MTA's own */
} lg_chain;

/* Works out the matching sender (Reply-To rule) and trusted verdicts. */
gboolean lg_chain_init(lg_chain *c, lg_store *st, const lg_config *cfg, const lg_rules *rules,
                       const lg_message *msg, const lg_envelope *env, GError **error);
void lg_chain_clear(lg_chain *c);
/* Decides for one recipient and writes the lead (and what else it needs). */
gboolean lg_chain_decide(lg_chain *c, const char *rcpt, lg_rcpt_result *res, GError **error);

#endif
