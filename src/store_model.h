/*
 * NAME
 *   store_model.h - the store's operations on leadgate's entities.
 *
 * SUMMARY
 *   What the chain and the CLI may ask of the database; the SQL is in
 *   store_model.c. All return gboolean + GError (LG_STORE_ERROR). Lookups
 *   that find nothing succeed and set the id to 0 (or the string to NULL).
 *   Strings returned through _r parameters are newly allocated.
 */
#ifndef LG_STORE_MODEL_H
#define LG_STORE_MODEL_H

/* ---- messages ---------------------------------------------------------- */
typedef struct {
	const char *sender_email;   /* the address matched against contacts (Reply-To rule) */
	const char *sender_name;
	const char *spf_result;     /* or NULL */
	const char *dmarc_result;   /* or NULL */
} lg_message_facts;

/* Stores the raw bytes once per content hash (re-filling a purged copy). */
gboolean lg_store_raw_put(lg_store *st, lg_raw *raw, GError **error);
/* Reads a raw message back (NULL in *raw_r when unknown or purged). */
gboolean lg_store_raw_get(lg_store *st, const char *sha256, lg_raw **raw_r, GError **error);
/* Inserts the message row (once per direction and content), its attachments,
 * and for a delivery-status report its link and undeliverable addresses. */
gboolean lg_store_message_put(lg_store *st, const lg_message *msg, const lg_envelope *env,
                              const lg_message_facts *facts, gint64 *id_r, gboolean *created_r,
                              GError **error);

/* ---- look-ups used by the chain ---------------------------------------- */
gboolean lg_store_mailbox_lookup(lg_store *st, const char *addr, gint64 *id_r, char **mode_r, GError **error);
gboolean lg_store_lead_for_delivery(lg_store *st, gint64 message_id, const char *rcpt, gint64 *lead_id_r, GError **error);
gboolean lg_store_spam_match(lg_store *st, const char *email, char **pattern_r, GError **error);
gboolean lg_store_end_user_find(lg_store *st, const char *email, gint64 *id_r, gint64 *org_r, GError **error);
gboolean lg_store_org_by_domain(lg_store *st, const char *domain, gint64 *org_r, GError **error);
gboolean lg_store_user_find(lg_store *st, const char *email, gint64 *id_r, GError **error);

typedef struct {
	gint64 id;
	gint64 number;
	gint64 organization_id;     /* 0 when none */
	gint64 contact_id;          /* 0 when none */
	char status[16];
} lg_ticket_ref;

/* Ticket whose thread holds a message with Message-ID @msgid (any direction). */
gboolean lg_store_ticket_by_msgid(lg_store *st, const char *msgid, lg_ticket_ref *t, GError **error);
gboolean lg_store_ticket_by_number(lg_store *st, gint64 number, lg_ticket_ref *t, GError **error);
gboolean lg_store_ticket_by_ident(lg_store *st, const char *ident, lg_ticket_ref *t, GError **error);
/* Is @email the ticket's contact, an end user of its organization, of one of
 * its organization's domains, or someone who already wrote to the ticket? */
gboolean lg_store_sender_belongs(lg_store *st, const lg_ticket_ref *t, const char *email,
                                 gboolean *yes_r, GError **error);
/* Newest lead whose message has Message-ID @msgid. */
gboolean lg_store_lead_by_msgid(lg_store *st, const char *msgid, gint64 *lead_id_r, GError **error);
/* Tickets created / events raised for @sender in the last @window seconds. */
gboolean lg_store_recent_tickets(lg_store *st, const char *sender, int window, gint64 *n_r, GError **error);
gboolean lg_store_recent_events(lg_store *st, const char *sender, int window, gint64 *n_r, GError **error);
gboolean lg_store_setting(lg_store *st, const char *key, char **value_r, GError **error);

/* ---- writes used by the chain ------------------------------------------ */
typedef struct {
	gint64 id;                  /* set by insert */
	gint64 message_id;
	const char *recipient;
	gint64 mailbox_id;          /* 0: catch-all */
	const char *mailbox_mode;
	const char *status;         /* unread | won | lost */
	gboolean hidden;
	const char *source;
	const char *sender_email;
	const char *sender_name;
	const char *sender_source;  /* from | reply-to | sender | envelope; NULL: none */
	const char *subject;
	const char *decided_by;
	const char *reason;
	gboolean suspected_spoof;
	gboolean automatic;
	gint64 organization_id, contact_id, ticket_id, assigned_user_id, reply_to_lead_id;
	const char *stage;
} lg_lead_row;
gboolean lg_store_lead_insert(lg_store *st, lg_lead_row *lead, GError **error);

typedef struct {
	const char *subject;
	const char *status;         /* NULL: new */
	const char *priority;       /* NULL: normal */
	const char *type;
	gint64 organization_id, contact_id, assigned_user_id;
	const char *created_from;   /* email | rule | lead-conversion */
	gint64 source_message_id;   /* 0: none */
	const char *source_ident;   /* NULL: none */
	const char *sender_email;
} lg_ticket_row;
gboolean lg_store_ticket_insert(lg_store *st, const lg_ticket_row *t, lg_ticket_ref *out, GError **error);
gboolean lg_store_comment_add(lg_store *st, gint64 ticket_id, gboolean is_public, const char *author_email,
                              const char *author_name, const char *body, gint64 message_id,
                              gboolean *added_r, GError **error);
/* Reopens a resolved or closed ticket; *@reopened_r says whether it was. */
gboolean lg_store_ticket_reopen(lg_store *st, gint64 ticket_id, gboolean *reopened_r, GError **error);
/* The organization named @name (an admin's name: a rule's :organization),
 * made when there is none. Matches an existing one by name, so never pass
 * a name taken from a message. */
gboolean lg_store_org_ensure(lg_store *st, const char *name, const char *created_from, gint64 *id_r, GError **error);
/* A new organization for the mail domain @domain, named after it; never an
 * existing one: when the name is taken (an organization made by hand that
 * does not list the domain), "DOMAIN (2)" and so on. The domain is added to
 * it. */
gboolean lg_store_org_create_for_domain(lg_store *st, const char *domain, const char *created_from,
                                        gint64 *id_r, GError **error);
gboolean lg_store_org_domain_add(lg_store *st, gint64 org_id, const char *domain, GError **error);
gboolean lg_store_end_user_ensure(lg_store *st, const char *email, const char *name, gint64 org_id,
                                  gint64 *id_r, GError **error);
gboolean lg_store_event_add(lg_store *st, const char *event, gint64 lead_id, gint64 ticket_id,
                            const char *sender, GError **error);
gboolean lg_store_quarantine_add(lg_store *st, lg_raw *raw, const lg_envelope *env, const char *why,
                                 gint64 *id_r, GError **error);

/* ---- the command line's operations ------------------------------------- */
gboolean lg_store_mailbox_add(lg_store *st, const char *addr, const char *mode, GError **error);
gboolean lg_store_mailbox_list(lg_store *st, lg_table **out, GError **error);
gboolean lg_store_org_add(lg_store *st, const char *name, char **domains, gint64 *id_r, GError **error);
gboolean lg_store_contact_add(lg_store *st, const char *email, const char *name, const char *org,
                              gint64 *id_r, GError **error);
gboolean lg_store_spam_add(lg_store *st, const char *pattern, gint64 lead_id, GError **error);
gboolean lg_store_spam_remove(lg_store *st, const char *pattern, GError **error);
gboolean lg_store_spam_list(lg_store *st, lg_table **out, GError **error);
gboolean lg_store_user_add(lg_store *st, const char *email, const char *role, const char *name, GError **error);
gboolean lg_store_user_remove(lg_store *st, const char *email, GError **error);
gboolean lg_store_user_list(lg_store *st, lg_table **out, GError **error);
gboolean lg_store_lead_list(lg_store *st, const char *status, gboolean hidden, lg_table **out, GError **error);
gboolean lg_store_lead_show(lg_store *st, gint64 id, lg_table **out, GError **error);
gboolean lg_store_lead_set_spam(lg_store *st, gint64 id, gboolean spam, GError **error);
gboolean lg_store_lead_convert(lg_store *st, gint64 id, gboolean make_org, gboolean make_ticket,
                               gint64 *ticket_number_r, GError **error);
gboolean lg_store_lead_assign(lg_store *st, gint64 id, const char *user_email, GError **error);
gboolean lg_store_lead_set(lg_store *st, gint64 id, const char *field, const char *value, GError **error);
gboolean lg_store_ticket_list(lg_store *st, const char *status, lg_table **out, GError **error);
gboolean lg_store_ticket_show(lg_store *st, gint64 number, lg_table **ticket_r, lg_table **thread_r, GError **error);
/* `ticket set NUMBER status|priority|type VALUE` and `ticket assign`
 * (store_ticket.c); each its own transaction. */
extern const char *const lg_ticket_statuses[];   /* the schema's, NULL-terminated */
gboolean lg_store_ticket_set(lg_store *st, gint64 number, const char *field, const char *value, GError **error);
gboolean lg_store_ticket_assign(lg_store *st, gint64 number, const char *user_email, GError **error);
gboolean lg_store_quarantine_list(lg_store *st, gboolean pending_only, lg_table **out, GError **error);
/* The stored envelope and raw hash of a quarantined / stored message. */
gboolean lg_store_quarantine_get(lg_store *st, gint64 id, char **sha_r, lg_envelope **env_r, GError **error);
gboolean lg_store_quarantine_done(lg_store *st, gint64 id, const char *result, GError **error);
gboolean lg_store_message_get(lg_store *st, gint64 id, char **sha_r, lg_envelope **env_r, GError **error);

#endif
