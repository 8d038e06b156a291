/*
 * NAME
 *   chain.c - the inbound chain (SPEC §3): one decision per recipient.
 *
 * SUMMARY
 *   lg_chain_decide() walks the steps in order; each step either decides
 *   (writes the lead, and a ticket, comment or event where it must) or
 *   passes. Every step adds a line to the result's trace, so `rules test`
 *   can show the whole walk, and the deciding step is recorded in
 *   leads.decided_by with a reason.
 *
 *   Duties beyond the eight steps live here too: one ticket per message
 *   (tickets.source_ident is unique; a second mailbox links to the first
 *   ticket), the per-sender flood limits, hijack-proof threading (subject
 *   tags and plain Message-ID references join a ticket only for senders of
 *   its organization; leadgate's keyed references join for anyone), and the
 *   Reply-To rule for web forms and lists.
 *
 *   Automatic mail never creates a ticket, organization or notification; a
 *   reply to a ticket that is automatic is kept as a comment but does not
 *   reopen the ticket or notify anyone, so two help desks cannot loop.
 */
#include "config.h"
#include "lg.h"
#include <string.h>
#include "chain.h"
#include "address.h"
#include "ref.h"
#include "store_unsub.h"
#include "unsubscribe.h"

static void
trace(lg_rcpt_result *res, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void
trace(lg_rcpt_result *res, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_ptr_array_add(res->trace, g_strdup_vprintf(fmt, ap));
	va_end(ap);
}

static void
decide(lg_rcpt_result *res, lg_lead_row *l, const char *status, const char *decided_by, const char *fmt, ...)
	G_GNUC_PRINTF(5, 6);
static void
decide(lg_rcpt_result *res, lg_lead_row *l, const char *status, const char *decided_by, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_free(res->reason);
	res->reason = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_free(res->decided_by);
	res->decided_by = g_strdup(decided_by);
	l->status = status;
	l->decided_by = res->decided_by;
	l->reason = res->reason;
}

/* ---- set-up: who is the sender, what do trusted headers say ----------- */

static char *
auth_result(const char *value, const char *method)
{
	/* "... ; spf=pass smtp.mailfrom=...; dmarc=fail (p=reject) header.from=x" */
	g_autofree char *lower = g_ascii_strdown(value, -1);
	g_autofree char *needle = g_strconcat(method, "=", NULL);
	for (const char *p = strstr(lower, needle); p; p = strstr(p + 1, needle)) {
		if (p != lower && (g_ascii_isalnum(p[-1]) || p[-1] == '.' || p[-1] == '-'))
			continue;
		/* the verdict after the needle; p itself stays on the needle, so
		 * the next search starts inside the string even when "spf=" ends
		 * it (fuzz-deliver: a read past the end) */
		const char *v = p + strlen(needle);
		gsize n = strspn(v, "abcdefghijklmnopqrstuvwxyz");
		if (n > 0)
			return g_strndup(v, n);
	}
	return NULL;
}

/* Headers only a message's writer puts there: the receiving MTA's own
 * trace headers are always above them. */
static gboolean
is_writer_header(const char *name)
{
	static const char *const names[] = {
		"From", "Sender", "Reply-To", "To", "Cc", "Subject", "Date", "Message-ID",
		"In-Reply-To", "References", "MIME-Version", NULL
	};
	for (guint i = 0; names[i]; i++)
		if (g_ascii_strcasecmp(name, names[i]) == 0)
			return TRUE;
	return g_ascii_strncasecmp(name, "Content-", 8) == 0;
}

static gboolean
is_trusted_id(const lg_config *cfg, const char *value)
{
	const char *v = value + strspn(value, " \t");
	gsize n = strcspn(v, "; \t");
	for (char **id = cfg->trusted_authserv_ids; id && *id; id++)
		if (n == strlen(*id) && g_ascii_strncasecmp(v, *id, n) == 0)
			return TRUE;
	return FALSE;
}

/* Only the Authentication-Results that the receiving MTA added count
 * (RFC 8601 §5). They are the topmost: the MTA prepends its Received
 * header(s) ([auth] trusted_received of them) and its milters put their
 * results on top too. A header of a trusted authserv-id below the next
 * Received (the hop before, which a sender controls) or below a header
 * that only a message's writer puts (From, Subject, Date, Content-*...)
 * was in the message when it came: forged, and ignored (counted in
 * forged_ar for the trace). Within the top block every header of a trusted
 * authserv-id counts, since an MTA's SPF and DMARC milters often add one
 * each; for each method the first verdict found (the newest) is kept. */
static void
read_authentication_results(lg_chain *c)
{
	int received = 0;
	gboolean top = TRUE;
	for (guint i = 0; i < c->msg->headers->len; i++) {
		lg_header *h = c->msg->headers->pdata[i];
		if (g_ascii_strcasecmp(h->name, "Received") == 0 && ++received > c->cfg->trusted_received)
			top = FALSE;
		if (is_writer_header(h->name))
			top = FALSE;
		if (g_ascii_strcasecmp(h->name, "Authentication-Results") != 0 || !is_trusted_id(c->cfg, h->value))
			continue;
		if (!top) {
			c->forged_ar++;
			continue;
		}
		const char *v = h->value + strspn(h->value, " \t");
		if (c->dmarc == NULL)
			c->dmarc = auth_result(v, "dmarc");
		if (c->spf == NULL)
			c->spf = auth_result(v, "spf");
	}
}

/* The verdicts the chain believes, by [auth] mode: trust reads the
 * trusted headers only; check takes SPF from leadgate's own check (the
 * envelope's) and DMARC from a trusted header; auto takes a trusted
 * header's SPF verdict when there is one, else its own; off neither. */
static void
read_auth(lg_chain *c)
{
	const char *mode = c->cfg->auth_mode;
	if (g_strcmp0(mode, "off") == 0)
		return;
	if (lg_config_auth_reads_headers(c->cfg))
		read_authentication_results(c);
	if (c->spf != NULL)
		c->spf_source = "header";
	if (g_strcmp0(mode, "check") == 0 || (g_strcmp0(mode, "auto") == 0 && c->spf == NULL)) {
		g_free(c->spf);
		c->spf = g_strdup(c->env->spf_result);
		c->spf_source = c->spf ? "check" : NULL;
	}
}

static gboolean
is_form_sender(lg_chain *c, const char *from, GError **error)
{
	if (lg_addr_is_noreply(from))
		return TRUE;
	gint64 id;
	g_autofree char *mode = NULL;
	if (!lg_store_mailbox_lookup(c->st, from, &id, &mode, error))
		return FALSE;
	if (mode != NULL)
		return TRUE;   /* the form sends as one of our own mailboxes */
	const char *dom = lg_addr_domain(from);
	for (char **d = c->cfg->internal_domains; d && *d; d++)
		if (g_ascii_strcasecmp(*d, dom) == 0)
			return TRUE;
	for (guint i = 0; i < c->env->recipients->len; i++)
		if (g_strcmp0(c->env->recipients->pdata[i], from) == 0)
			return TRUE;
	const char *post = lg_message_header(c->msg, "List-Post");
	return post && strstr(post, from) != NULL;
}

gboolean
lg_chain_init(lg_chain *c, lg_store *st, const lg_config *cfg, const lg_rules *rules,
              const lg_message *msg, const lg_envelope *env, GError **error)
{
	memset(c, 0, sizeof *c);
	c->st = st;
	c->cfg = cfg;
	c->rules = rules;
	c->msg = msg;
	c->env = env;
	if (!lg_store_setting(st, "ref_key", &c->ref_key, error))
		return FALSE;
	/* the sender to match: From; a From with no usable address falls back
	 * to Reply-To, then Sender, then the envelope sender (SPEC §3) */
	const lg_address *from = msg->from;
	c->sender_source = "from";
	if (from == NULL && msg->reply_to) {
		from = msg->reply_to;
		c->sender_source = "reply-to";
	}
	if (from == NULL && msg->sender_hdr) {
		from = msg->sender_hdr;
		c->sender_source = "sender";
	}
	if (from) {
		c->sender_email = g_strdup(from->email);
		c->sender_name = g_strdup(from->name);
	} else if (env->sender && *env->sender) {
		c->sender_email = g_strdup(env->sender);
		c->sender_source = "envelope";
	} else {
		c->sender_source = NULL;
	}
	if (msg->from && msg->reply_to && g_strcmp0(msg->reply_to->email, msg->from->email) != 0) {
		g_autoptr(GError) err = NULL;
		gboolean form = is_form_sender(c, msg->from->email, &err);
		if (err) {
			g_propagate_error(error, g_steal_pointer(&err));
			return FALSE;
		}
		if (form) {
			g_free(c->sender_email);
			g_free(c->sender_name);
			c->sender_email = g_strdup(msg->reply_to->email);
			c->sender_name = g_strdup(msg->reply_to->name);
			c->sender_source = "reply-to";
		}
	}
	read_auth(c);
	c->facts.sender_email = c->sender_email;
	c->facts.sender_name = c->sender_name;
	c->facts.dmarc_result = c->dmarc;
	c->facts.spf_result = c->spf;
	return TRUE;
}

void
lg_chain_clear(lg_chain *c)
{
	g_free(c->ref_key);
	g_free(c->sender_email);
	g_free(c->sender_name);
	g_free(c->dmarc);
	g_free(c->spf);
	memset(c, 0, sizeof *c);
}

/* ---- helpers ----------------------------------------------------------- */

static gboolean
is_automatic(lg_chain *c, const char **why)
{
	guint f = c->msg->auto_flags;
	*why = NULL;
	if (f & LG_AUTO_LOOP)
		*why = "carries leadgate's own loop header";
	else if (f & LG_AUTO_DSN)
		*why = "a delivery-status report";
	else if (c->env->sender == NULL || *c->env->sender == '\0')
		*why = "empty envelope sender";
	else if (f & LG_AUTO_SUBMITTED)
		*why = "Auto-Submitted header";
	else if (f & LG_AUTO_PRECEDENCE)
		*why = "Precedence: bulk, junk or list";
	else if (f & LG_AUTO_REPLY_HDR)
		*why = "auto-reply header or subject";
	else if (lg_addr_is_system(c->sender_email))
		*why = "sent by a mailer daemon";
	return *why != NULL;
}

/* May @sender raise one more notification now? (flood limit) */
static gboolean
notify_allowed(lg_chain *c, lg_rcpt_result *res, GError **error, gboolean *ok)
{
	*ok = TRUE;
	if (c->cfg->notify_limit <= 0 || c->sender_email == NULL)
		return TRUE;
	gint64 n = 0;
	if (!lg_store_recent_events(c->st, c->sender_email, c->cfg->limit_window, &n, error))
		return FALSE;
	if (n >= c->cfg->notify_limit) {
		*ok = FALSE;
		trace(res, "notification limit: %" G_GINT64_FORMAT " events from %s in %d s; none raised",
		      n, c->sender_email, c->cfg->limit_window);
	}
	return TRUE;
}

static gboolean
raise_event(lg_chain *c, lg_rcpt_result *res, const char *event, gint64 lead_id, gint64 ticket_id, GError **error)
{
	gboolean ok;
	if (!notify_allowed(c, res, error, &ok))
		return FALSE;
	if (!ok)
		return TRUE;
	trace(res, "event %s", event);
	return lg_store_event_add(c->st, event, lead_id, ticket_id, c->sender_email, error);
}

static gboolean
insert_lead(lg_chain *c, lg_lead_row *l, lg_rcpt_result *res, GError **error)
{
	if (!lg_store_lead_insert(c->st, l, error))
		return FALSE;
	res->status = LG_RCPT_RECORDED;
	res->lead_id = l->id;
	res->lead_status = l->status;
	res->hidden = l->hidden;
	return TRUE;
}

static gboolean
is_freemail(const lg_chain *c, const char *domain)
{
	for (char **d = c->cfg->freemail_domains; d && *d; d++)
		if (g_ascii_strcasecmp(*d, domain) == 0)
			return TRUE;
	return FALSE;
}

/* Organization and end user for a new sender (mailbox mode always). The
 * organization is found by the sender's domain or made from it, never
 * found by a name: a display name is the sender's to choose, and matching
 * by it let a stranger join another customer's organization. A sender at
 * a freemail domain gets no organization: the end user and their tickets
 * stand alone, and only the ticket's contact or someone who already wrote
 * to it belongs to it. */
static gboolean
ensure_customer(lg_chain *c, lg_lead_row *l, lg_rcpt_result *res, GError **error)
{
	const char *domain = lg_addr_domain(c->sender_email);
	gint64 org = l->organization_id;
	gboolean free = domain && is_freemail(c, domain);
	if (org == 0 && domain && !free && !lg_store_org_by_domain(c->st, domain, &org, error))
		return FALSE;
	if (org == 0 && domain && free)
		trace(res, "no organization: %s is a freemail domain", domain);
	else if (org == 0 && domain && c->cfg->create_organizations) {
		if (!lg_store_org_create_for_domain(c->st, domain, "email", &org, error))
			return FALSE;
		trace(res, org ? "organization for %s made from its domain" : "no organization for %s: too many namesakes",
		      c->sender_email);
	}
	if (l->contact_id == 0 && !lg_store_end_user_ensure(c->st, c->sender_email, c->sender_name, org, &l->contact_id, error))
		return FALSE;
	l->organization_id = org;
	return TRUE;
}

typedef struct {
	const char *created_from;
	const char *priority, *type, *status;
	gint64 assigned_user_id;
} ticket_args;

/* Opens a ticket for the lead (or links the message's existing one) and
 * writes the lead. Respects the flood limit. */
static gboolean
open_ticket(lg_chain *c, lg_lead_row *l, lg_rcpt_result *res, const ticket_args *ta,
            const char *decided_by, const char *why, GError **error)
{
	g_autofree char *ident = c->msg->message_id ? g_strdup(c->msg->message_id)
	                                            : g_strconcat("sha256:", c->msg->sha256, NULL);
	lg_ticket_ref t;
	if (!lg_store_ticket_by_ident(c->st, ident, &t, error))
		return FALSE;
	if (t.id) {
		/* one message, one ticket: the other mailboxes' leads link to it */
		l->ticket_id = t.id;
		res->ticket_number = t.number;
		decide(res, l, "won", decided_by, "%s; the message already has ticket #%" G_GINT64_FORMAT, why, t.number);
		trace(res, "ticket #%" G_GINT64_FORMAT " exists for this message: linked", t.number);
		return insert_lead(c, l, res, error);
	}
	if (c->cfg->ticket_limit > 0 && c->sender_email) {
		gint64 n = 0;
		if (!lg_store_recent_tickets(c->st, c->sender_email, c->cfg->limit_window, &n, error))
			return FALSE;
		if (n >= c->cfg->ticket_limit) {
			decide(res, l, "unread", "flood-limit", "%s, but %s opened %" G_GINT64_FORMAT " tickets in %d s",
			       why, c->sender_email, n, c->cfg->limit_window);
			trace(res, "flood limit reached: no ticket");
			return insert_lead(c, l, res, error);
		}
	}
	lg_ticket_row tr = {
		.subject = *c->msg->subject ? c->msg->subject : "(no subject)",
		.status = ta->status, .priority = ta->priority, .type = ta->type,
		.organization_id = l->organization_id, .contact_id = l->contact_id,
		.assigned_user_id = ta->assigned_user_id ? ta->assigned_user_id : l->assigned_user_id,
		.created_from = ta->created_from, .source_message_id = c->message_row,
		.source_ident = ident, .sender_email = c->sender_email,
	};
	if (!lg_store_ticket_insert(c->st, &tr, &t, error))
		return FALSE;
	l->ticket_id = t.id;
	res->ticket_number = t.number;
	decide(res, l, "won", decided_by, "%s", why);
	trace(res, "ticket #%" G_GINT64_FORMAT " opened", t.number);
	if (!insert_lead(c, l, res, error))
		return FALSE;
	if (!raise_event(c, res, "ticket.created_from_email", l->id, t.id, error))
		return FALSE;
	/* a rule's :assign (or the lead's assignee) notifies the assignee */
	return tr.assigned_user_id == 0 || raise_event(c, res, "ticket.assigned", l->id, t.id, error);
}

/* ---- step 3: reply to a ticket ----------------------------------------- */

static gboolean
subject_tag_number(const lg_chain *c, gint64 *number)
{
	const char *tag = c->cfg->ticket_tag;
	gsize tl = strlen(tag);
	for (const char *p = strchr(c->msg->subject, '['); p; p = strchr(p + 1, '[')) {
		if (g_ascii_strncasecmp(p + 1, tag, tl) != 0)
			continue;
		const char *q = p + 1 + tl;
		gint64 n = 0;
		const char *d = q;
		while (g_ascii_isdigit(*q) && q - d < 12)
			n = n * 10 + (*q++ - '0');
		if (q > d && *q == ']') {
			*number = n;
			return TRUE;
		}
	}
	return FALSE;
}

/* Finds the ticket this message replies to, if any; @how says by what. */
static gboolean
find_ticket(lg_chain *c, lg_rcpt_result *res, lg_ticket_ref *t, char **how, GError **error)
{
	memset(t, 0, sizeof *t);
	*how = NULL;
	g_autoptr(GPtrArray) refs = g_ptr_array_new();
	if (c->msg->in_reply_to)
		g_ptr_array_add(refs, c->msg->in_reply_to);
	for (guint i = c->msg->references->len; i > 0; i--)
		g_ptr_array_add(refs, c->msg->references->pdata[i - 1]);
	for (guint i = 0; i < refs->len; i++) {
		const char *ref = refs->pdata[i];
		char kind;
		gint64 id;
		if (lg_ref_verify(c->ref_key, ref, &kind, &id)) {
			if (kind != 'T')
				continue;
			if (!lg_store_ticket_by_number(c->st, id, t, error))
				return FALSE;
			if (t->id) {
				*how = g_strdup_printf("references leadgate's keyed Message-ID of ticket #%" G_GINT64_FORMAT, id);
				return TRUE;
			}
			continue;
		}
		if (!lg_store_ticket_by_msgid(c->st, ref, t, error))
			return FALSE;
		if (t->id == 0)
			continue;
		gboolean belongs;
		if (!lg_store_sender_belongs(c->st, t, c->sender_email, &belongs, error))
			return FALSE;
		if (belongs) {
			*how = g_strdup_printf("replies to a message of ticket #%" G_GINT64_FORMAT, t->number);
			return TRUE;
		}
		trace(res, "reference to ticket #%" G_GINT64_FORMAT " ignored: %s is not of its organization",
		      t->number, c->sender_email ? c->sender_email : "(no sender)");
		memset(t, 0, sizeof *t);
	}
	gint64 id;
	if (lg_ref_find_kind(c->ref_key, c->msg->body_text, 'T', &id)) {
		if (!lg_store_ticket_by_number(c->st, id, t, error))
			return FALSE;
		if (t->id) {
			*how = g_strdup_printf("body carries leadgate's keyed reference of ticket #%" G_GINT64_FORMAT, id);
			return TRUE;
		}
	}
	gint64 number;
	if (subject_tag_number(c, &number)) {
		if (!lg_store_ticket_by_number(c->st, number, t, error))
			return FALSE;
		if (t->id) {
			gboolean belongs;
			if (!lg_store_sender_belongs(c->st, t, c->sender_email, &belongs, error))
				return FALSE;
			if (belongs) {
				*how = g_strdup_printf("subject tag of ticket #%" G_GINT64_FORMAT, number);
				return TRUE;
			}
			trace(res, "subject tag of ticket #%" G_GINT64_FORMAT " ignored: %s is not of its organization",
			      number, c->sender_email ? c->sender_email : "(no sender)");
			memset(t, 0, sizeof *t);
		}
	}
	return TRUE;
}

/* ---- the chain --------------------------------------------------------- */

gboolean
lg_chain_decide(lg_chain *c, const char *rcpt, lg_rcpt_result *res, GError **error)
{
	const lg_message *msg = c->msg;
	gint64 mailbox_id = 0;
	g_autofree char *mode = NULL;
	if (!lg_store_mailbox_lookup(c->st, rcpt, &mailbox_id, &mode, error))
		return FALSE;
	if (mode == NULL && g_strcmp0(c->cfg->catch_all, "none") == 0 && lg_rcpt_is_mailer_from(c->cfg, rcpt)) {
		/* campaign mail's sender takes its bounces and replies even
		 * without a catch-all: as a mailbox of mode existing (a known
		 * end user's reply makes a ticket, a stranger's an unread lead)
		 * unless it is a mailbox of its own */
		mode = g_strdup("existing");
		trace(res, "mailbox: %s is [mailer] from, not a mailbox; mode existing", rcpt);
	} else if (mode == NULL) {
		if (g_strcmp0(c->cfg->catch_all, "none") == 0) {
			res->status = LG_RCPT_UNKNOWN;
			res->reason = g_strdup("not a mailbox and no catch-all");
			return TRUE;
		}
		mode = g_strdup(c->cfg->catch_all);
		trace(res, "mailbox: %s is not a mailbox; catch-all mode %s", rcpt, mode);
	} else {
		trace(res, "mailbox: %s, mode %s", rcpt, mode);
	}

	/* 1. duplicate */
	gint64 dup = 0;
	if (!lg_store_lead_for_delivery(c->st, c->message_row, rcpt, &dup, error))
		return FALSE;
	if (dup) {
		res->status = LG_RCPT_DUPLICATE;
		res->lead_id = dup;
		res->decided_by = g_strdup("duplicate");
		res->reason = g_strdup_printf("already delivered as lead %" G_GINT64_FORMAT, dup);
		trace(res, "1 duplicate: yes, lead %" G_GINT64_FORMAT, dup);
		return TRUE;
	}
	trace(res, "1 duplicate: no");

	lg_lead_row l = {
		.message_id = c->message_row, .recipient = rcpt, .mailbox_id = mailbox_id,
		.mailbox_mode = mode, .status = "unread", .subject = msg->subject,
		.sender_email = c->sender_email, .sender_name = c->sender_name, .sender_source = c->sender_source,
		.source = "email",
	};
	if (!lg_store_end_user_find(c->st, c->sender_email, &l.contact_id, &l.organization_id, error))
		return FALSE;
	const char *auto_why = NULL;
	gboolean automatic = is_automatic(c, &auto_why);
	l.automatic = automatic;

	/* 2. spam sender */
	g_autofree char *pattern = NULL;
	const char *from = msg->from ? msg->from->email : NULL;
	if (!lg_store_spam_match(c->st, from, &pattern, error))
		return FALSE;
	if (pattern == NULL && g_strcmp0(from, c->sender_email) != 0 &&
	    !lg_store_spam_match(c->st, c->sender_email, &pattern, error))
		return FALSE;
	if (pattern) {
		l.hidden = TRUE;
		decide(res, &l, "lost", "spam", "sender matches spam list entry %s", pattern);
		trace(res, "2 spam: yes (%s)", pattern);
		return insert_lead(c, &l, res, error);
	}
	trace(res, "2 spam: no");

	/* 3. reply to a ticket (leadgate's own looped mail never joins) */
	if (!(msg->auto_flags & LG_AUTO_LOOP)) {
		lg_ticket_ref t;
		g_autofree char *how = NULL;
		if (!find_ticket(c, res, &t, &how, error))
			return FALSE;
		if (t.id) {
			gboolean added;
			if (!lg_store_comment_add(c->st, t.id, TRUE, c->sender_email, c->sender_name, msg->body_text,
			                          c->message_row, &added, error))
				return FALSE;
			l.ticket_id = t.id;
			if (l.organization_id == 0)
				l.organization_id = t.organization_id;
			res->ticket_number = t.number;
			decide(res, &l, "won", "ticket-reply", "%s", how);
			trace(res, "3 ticket reply: yes, %s", how);
			if (!insert_lead(c, &l, res, error))
				return FALSE;
			if (automatic || !added) {
				trace(res, "ticket not reopened, no event: %s", automatic ? auto_why : "comment already there");
				return TRUE;
			}
			gboolean reopened;
			if (!lg_store_ticket_reopen(c->st, t.id, &reopened, error))
				return FALSE;
			if (reopened)
				trace(res, "ticket #%" G_GINT64_FORMAT " reopened", t.number);
			return raise_event(c, res, "ticket.customer_replied", l.id, t.id, error);
		}
	}
	trace(res, "3 ticket reply: no");

	/* 4. reply to a lead: link, raise, and go on */
	gint64 replied = 0;
	{
		char kind;
		gint64 id;
		if (msg->in_reply_to && lg_ref_verify(c->ref_key, msg->in_reply_to, &kind, &id) && kind == 'L')
			replied = id;
		if (replied == 0 && msg->in_reply_to && !lg_store_lead_by_msgid(c->st, msg->in_reply_to, &replied, error))
			return FALSE;
		for (guint i = msg->references->len; replied == 0 && i > 0; i--)
			if (!lg_store_lead_by_msgid(c->st, msg->references->pdata[i - 1], &replied, error))
				return FALSE;
	}
	l.reply_to_lead_id = replied;
	if (replied)
		trace(res, "4 lead reply: yes, lead %" G_GINT64_FORMAT, replied);
	else
		trace(res, "4 lead reply: no");

	/* 4b. reply to a campaign message: only by its keyed lg-C Message-ID
	 * (never a subject), the lead is that send's end user's, source
	 * "Mailer: NAME" (SPEC §11); the chain goes on (automatic mail stays
	 * automatic), and step 6 decides as for a known end user */
	gint64 send = 0;
	g_autofree char *campaign = NULL;
	g_autofree char *campaign_source = NULL;
	if (!(msg->auto_flags & LG_AUTO_LOOP) && lg_campaign_ref_find(c->ref_key, msg, &send)) {
		gint64 eu, org;
		if (!lg_store_campaign_send(c->st, send, &eu, &org, &campaign, error))
			return FALSE;
		if (campaign != NULL) {
			l.contact_id = eu;
			l.organization_id = org;
			campaign_source = g_strdup_printf("Mailer: %s", campaign);
			l.source = campaign_source;
			trace(res, "4b campaign reply: yes, send %" G_GINT64_FORMAT " of campaign %s, end user %" G_GINT64_FORMAT,
			      send, campaign, eu);
		} else {
			trace(res, "4b campaign reply: send %" G_GINT64_FORMAT " is no campaign send (or its end user is gone)", send);
		}
	} else {
		trace(res, "4b campaign reply: no");
	}

	/* the lead.replied event follows the insert, whichever step decides */
	gboolean ok = FALSE;
	if (automatic) {
		/* 5. automatic mail */
		decide(res, &l, "unread", "automatic", "automatic mail: %s", auto_why);
		trace(res, "5 automatic: yes, %s", auto_why);
		return insert_lead(c, &l, res, error);
	}
	trace(res, "5 automatic: no");

	/* 4b in mode never: a lead of the end user, no ticket */
	if (campaign_source && g_strcmp0(mode, "never") == 0) {
		decide(res, &l, "unread", "campaign-reply", "replies to campaign %s; mode never: no ticket", campaign);
		trace(res, "6 campaign reply in mode never: unread");
		ok = insert_lead(c, &l, res, error) && raise_event(c, res, "lead.created", l.id, 0, error);
		goto replied;
	}

	/* 6. known end user (or the end user a campaign reply names) */
	if (l.contact_id && g_strcmp0(mode, "never") != 0) {
		const char *by = campaign_source ? "campaign-reply" : "known-contact";
		gboolean spoof = g_strcmp0(c->dmarc, "fail") == 0 || g_strcmp0(c->spf, "fail") == 0;
		trace(res, "6 auth: spf=%s%s%s%s dmarc=%s; %u forged Authentication-Results ignored",
		      c->spf ? c->spf : "-", c->spf_source ? " (" : "", c->spf_source ? c->spf_source : "",
		      c->spf_source ? ")" : "", c->dmarc ? c->dmarc : "-", c->forged_ar);
		if (spoof) {
			gboolean dmarc_fail = g_strcmp0(c->dmarc, "fail") == 0;
			l.suspected_spoof = TRUE;
			decide(res, &l, "unread", by, "sender %s is a known end user, but %s failed (%s): suspected spoof",
			       c->sender_email, dmarc_fail ? "DMARC" : "SPF",
			       dmarc_fail || g_strcmp0(c->spf_source, "header") == 0 ? "trusted Authentication-Results"
			                                                          : "leadgate's SPF check");
			trace(res, "6 known end user: yes, not trusted (suspected spoof)");
			ok = insert_lead(c, &l, res, error);
		} else {
			trace(res, "6 known end user: yes (%s)", c->sender_email);
			ticket_args ta = { .created_from = "email" };
			g_autofree char *why = campaign_source
				? g_strdup_printf("replies to campaign %s (send %" G_GINT64_FORMAT "); mode %s", campaign, send, mode)
				: g_strdup_printf("sender %s is a known end user; mode %s", c->sender_email, mode);
			ok = open_ticket(c, &l, res, &ta, by, why, error);
		}
		goto replied;
	}
	trace(res, l.contact_id ? "6 known end user: yes, but mode never" : "6 known end user: no");

	/* 7. email rules */
	lg_rule_result rr = { 0 };
	if (c->rules)
		lg_rules_eval_auth(c->rules, msg, c->env, &(lg_rule_auth) { c->spf, c->dmarc }, rcpt, &rr);
	for (guint i = 0; rr.trace && i < rr.trace->len; i++)
		trace(res, "  rules: %s", (const char *) rr.trace->pdata[i]);
	if (rr.lead_source)
		l.source = rr.lead_source;
	if (rr.lead_stage)
		l.stage = rr.lead_stage;
	if (rr.lead_assign && !lg_store_user_find(c->st, rr.lead_assign, &l.assigned_user_id, error))
		goto rules_fail;
	if (rr.lead_assign && l.assigned_user_id == 0)
		trace(res, "  rules: assign %s: no such user", rr.lead_assign);
	if (rr.decision == LG_RULE_SPAM) {
		g_autofree char *by = g_strdup_printf("rule:%s", rr.where);
		l.hidden = TRUE;
		decide(res, &l, "lost", by, "rule at %s marks it spam", rr.where);
		trace(res, "7 rules: spam (%s)", rr.where);
		ok = insert_lead(c, &l, res, error);
		lg_rule_result_clear(&rr);
		goto replied;
	}
	if (rr.decision == LG_RULE_TICKET) {
		g_autofree char *by = g_strdup_printf("rule:%s", rr.where);
		if (g_strcmp0(mode, "never") == 0) {
			decide(res, &l, "unread", by, "rule at %s asks for a ticket, but mailbox mode never makes none", rr.where);
			trace(res, "7 rules: ticket refused by mode never");
			ok = insert_lead(c, &l, res, error);
		} else {
			trace(res, "7 rules: ticket (%s)", rr.where);
			ticket_args ta = { .created_from = "rule", .priority = rr.priority, .type = rr.type, .status = rr.status };
			if (rr.assign && !lg_store_user_find(c->st, rr.assign, &ta.assigned_user_id, error))
				goto rules_fail;
			if (rr.organization) {
				gint64 org;
				if (!lg_store_org_ensure(c->st, rr.organization, "rule", &org, error))
					goto rules_fail;
				if (l.organization_id == 0 || l.contact_id == 0)
					l.organization_id = org;
				if (l.contact_id == 0 && c->sender_email &&
				    !lg_store_end_user_ensure(c->st, c->sender_email, c->sender_name, org, &l.contact_id, error))
					goto rules_fail;
			}
			g_autofree char *why = g_strdup_printf("rule at %s", rr.where);
			ok = open_ticket(c, &l, res, &ta, by, why, error);
		}
		lg_rule_result_clear(&rr);
		goto replied;
	}
	trace(res, "7 rules: no decision");

	/* 8. mailbox mode */
	if (g_strcmp0(mode, "always") == 0 && c->sender_email) {
		if (!ensure_customer(c, &l, res, error))
			goto rules_fail;
		ticket_args ta = { .created_from = "email" };
		ok = open_ticket(c, &l, res, &ta, "mailbox-mode", "mailbox mode always", error);
	} else {
		if (g_strcmp0(mode, "always") == 0)
			decide(res, &l, "unread", "mailbox-mode", "mode always, but no sender address");
		else if (g_strcmp0(mode, "existing") == 0)
			decide(res, &l, "unread", "mailbox-mode", "mode existing: %s is not a known end user",
			       c->sender_email ? c->sender_email : "(no sender)");
		else
			decide(res, &l, "unread", "mailbox-mode", "mode never: no ticket");
		ok = insert_lead(c, &l, res, error);
		if (ok)
			ok = raise_event(c, res, "lead.created", l.id, 0, error);
	}
	trace(res, "8 mailbox mode %s: %s", mode, res->lead_status ? res->lead_status : "?");
	lg_rule_result_clear(&rr);
replied:
	if (ok && replied)
		ok = raise_event(c, res, "lead.replied", l.id, 0, error);
	/* a rule's lead :assign */
	if (ok && l.assigned_user_id && !l.hidden)
		ok = raise_event(c, res, "lead.assigned", l.id, 0, error);
	return ok;
rules_fail:
	lg_rule_result_clear(&rr);
	return FALSE;
}
