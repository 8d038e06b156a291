/*
 * NAME
 *   deliver.c - one message through the chain into the store (see deliver.h).
 *
 * SUMMARY
 *   apply = SAVEPOINT; raw bytes (once per hash); message row; the chain for
 *   each recipient; RELEASE. A temporary store error (the database's state)
 *   rolls the savepoint back and is returned (the caller answers 4xx). Any
 *   other failure of the chain, a value the schema refuses included, rolls
 *   the savepoint back and quarantines the raw message instead, so a message
 *   that trips a bug is accepted once and kept for `leadgate replay`.
 */
#include "config.h"
#include <string.h>
#include "lg.h"
#include "deliver.h"
#include "chain.h"
#include "store_sync.h"
#include "store_unsub.h"
#include "sync.h"
#include "unsubscribe.h"

struct lg_delivery {
	lg_raw *raw;
	lg_envelope *env;
	lg_message *msg;
	char *message_id;     /* kept by lg_delivery_trim() for the log line */
	GPtrArray *results;   /* lg_rcpt_result* */
	gint64 started;       /* monotonic µs */
};

static void
result_free(lg_rcpt_result *r)
{
	g_free(r->recipient);
	g_free(r->decided_by);
	g_free(r->reason);
	if (r->trace)
		g_ptr_array_unref(r->trace);
	g_free(r);
}

lg_delivery *
lg_delivery_new(lg_raw *raw, lg_envelope *env)
{
	lg_delivery *d = g_new0(lg_delivery, 1);
	d->raw = raw;
	d->env = env;
	d->started = g_get_monotonic_time();
	d->results = g_ptr_array_new_with_free_func((GDestroyNotify) result_free);
	lg_delivery_reset(d);
	return d;
}

void
lg_delivery_reset(lg_delivery *d)
{
	g_ptr_array_set_size(d->results, 0);
	for (guint i = 0; i < d->env->recipients->len; i++) {
		lg_rcpt_result *r = g_new0(lg_rcpt_result, 1);
		r->recipient = g_strdup(d->env->recipients->pdata[i]);
		r->trace = g_ptr_array_new_with_free_func(g_free);
		g_ptr_array_add(d->results, r);
	}
}

void
lg_delivery_set_envelope(lg_delivery *d, lg_envelope *env)
{
	lg_envelope_free(d->env);
	d->env = env;
	lg_delivery_reset(d);
}

gboolean
lg_delivery_parse(lg_delivery *d, const lg_config *cfg, GError **error)
{
	if (d->msg)
		return TRUE;
	lg_parse_options po = { .body_max = (gsize) cfg->body_max, .loop_header = cfg->loop_header };
	d->msg = lg_message_parse(d->raw, &po, error);
	return d->msg != NULL;
}

/* A user's own address (a sales rep's inbox, SPEC §3) is not a mailbox:
 * removed users too, whose mail the sync log then records as skipped. */
static gboolean
rcpt_is_user(lg_store *st, const char *rcpt, gboolean *user_r, GError **error)
{
	lg_sync_user u;
	if (!lg_store_sync_user_find(st, rcpt, &u, error))
		return FALSE;
	*user_r = u.id != 0;
	lg_sync_user_clear(&u);
	return TRUE;
}

/* The users' recipients: the message through the inbound sync filter as
 * Email Received (in this delivery's savepoint, nested as one of its own),
 * exactly as leadgate-milter would have recorded it; one activity per
 * (Message-ID, user, direction, lead) whichever saw it first. */
static gboolean
apply_sync(lg_delivery *d, lg_store *st, const lg_config *cfg, GError **error)
{
	g_autoptr(GPtrArray) outcomes = NULL;
	lg_sync_input in = { .direction = LG_SYNC_IN, .login = NULL, .source = "lmtpd" };
	if (!lg_sync_message(st, cfg, d->raw, d->msg, d->env, &in, &outcomes, error))
		return FALSE;
	for (guint i = 0; i < d->results->len; i++) {
		lg_rcpt_result *r = d->results->pdata[i];
		if (r->status != LG_RCPT_PENDING)
			continue;
		guint n = 0, recorded = 0;
		for (guint k = 0; k < outcomes->len; k++) {
			lg_sync_outcome *o = outcomes->pdata[k];
			if (g_strcmp0(o->user, r->recipient) != 0)
				continue;
			n++;
			recorded += o->recorded;
			if (r->lead_id == 0 && o->lead_id != 0)
				r->lead_id = o->lead_id;
			g_ptr_array_add(r->trace, g_strdup_printf("sync: %s%s%s%s%s", o->outcome,
			                o->counterpart && *o->counterpart ? " " : "", o->counterpart ? o->counterpart : "",
			                o->reason ? ": " : "", o->reason ? o->reason : ""));
		}
		r->status = n > 0 && recorded == 0 ? LG_RCPT_DUPLICATE : LG_RCPT_RECORDED;
		r->decided_by = g_strdup("sync");
		r->reason = n == 0 ? g_strdup("a user's address: email sync is off, nothing to record")
		                   : g_strdup_printf("a user's address: %u sync outcome(s), see the sync log", n);
	}
	return TRUE;
}

/* The unsubscribe recipients (SPEC §11): a valid token withdraws the end
 * user's consent, in this delivery's savepoint, so it is durable exactly
 * when the delivery is; any other recipient at that address is unknown.
 * Neither is a lead. *@others_r: how many recipients are left for the
 * chain. */
static gboolean
apply_unsubscribes(lg_delivery *d, lg_store *st, const lg_config *cfg, const char *key,
                   guint *others_r, GError **error)
{
	*others_r = 0;
	for (guint i = 0; i < d->results->len; i++) {
		lg_rcpt_result *r = d->results->pdata[i];
		g_autofree char *token = NULL;
		gint64 end_user;
		if (!lg_unsub_rcpt(cfg, r->recipient, &token)) {
			(*others_r)++;
			continue;
		}
		r->decided_by = g_strdup("unsubscribe");
		if (token == NULL || !lg_unsub_token_verify(key, token, &end_user)) {
			r->status = LG_RCPT_UNKNOWN;
			r->reason = g_strdup(token ? "the unsubscribe address with a token that does not verify"
			                           : "the unsubscribe address without a token");
			g_ptr_array_add(r->trace, g_strdup_printf("unsubscribe: %s", r->reason));
			continue;
		}
		lg_unsub_outcome o;
		if (!lg_store_unsubscribe(st, end_user, "mailto", token, d->msg->message_id, &o, error))
			return FALSE;
		r->status = LG_RCPT_UNSUBSCRIBED;
		r->reason = !o.found ? g_strdup_printf("end user %" G_GINT64_FORMAT " is gone: nothing to withdraw", end_user)
		          : o.changed ? g_strdup_printf("%s unsubscribed", o.email)
		          : g_strdup_printf("%s was unsubscribed already: nothing changed", o.email);
		g_ptr_array_add(r->trace, g_strdup_printf("unsubscribe: %s", r->reason));
		lg_unsub_outcome_clear(&o);
	}
	return TRUE;
}

/* A hard bounce of a campaign message: only a verified lg-C reference
 * ties a report to a send (SPEC §11); the report's other fields are a
 * stranger's to write. The report itself goes on through the chain as
 * automatic mail (SPEC §3). */
static gboolean
apply_campaign_bounce(lg_delivery *d, lg_store *st, const char *key, gint64 message_row, GError **error)
{
	gint64 send;
	if (!lg_dsn_permanent(d->msg->dsn) || !lg_campaign_ref_find(key, d->msg, &send))
		return TRUE;
	g_autofree char *addr = NULL;
	if (!lg_store_campaign_bounce(st, send, d->msg->dsn, message_row, &addr, error))
		return FALSE;
	for (guint i = 0; i < d->results->len; i++) {
		lg_rcpt_result *r = d->results->pdata[i];
		if (r->status == LG_RCPT_PENDING)
			g_ptr_array_add(r->trace, addr ? g_strdup_printf("campaign bounce: send %" G_GINT64_FORMAT " bounced; %s undeliverable", send, addr)
			                               : g_strdup_printf("campaign bounce: send %" G_GINT64_FORMAT " is no campaign send", send));
	}
	return TRUE;
}

static gboolean
apply_chain(lg_delivery *d, lg_store *st, const lg_config *cfg, const lg_rules *rules, GError **error)
{
	lg_chain c;
	if (!lg_chain_init(&c, st, cfg, rules, d->msg, d->env, error))
		return FALSE;
	gboolean ok = FALSE, created;
	guint others;
	if (lg_fault_injected("chain")) {
		g_set_error(error, LG_CHAIN_ERROR, LG_CHAIN_ERROR_INJECTED, "injected chain failure");
		goto out;
	}
	if (!apply_unsubscribes(d, st, cfg, c.ref_key, &others, error))
		goto out;
	if (others == 0) {
		ok = TRUE;   /* only unsubscribes: nothing of the message is kept */
		goto out;
	}
	if (!lg_store_raw_put(st, d->raw, error) ||
	    !lg_store_message_put(st, d->msg, d->env, &c.facts, &c.message_row, &created, error) ||
	    !apply_campaign_bounce(d, st, c.ref_key, c.message_row, error))
		goto out;
	guint users = 0;
	for (guint i = 0; i < d->results->len; i++) {
		lg_rcpt_result *r = d->results->pdata[i];
		gboolean user;
		if (r->status != LG_RCPT_PENDING)
			continue;   /* an unsubscribe recipient */
		if (!rcpt_is_user(st, r->recipient, &user, error))
			goto out;
		if (user) {
			users++;   /* below, once for all of them */
			continue;
		}
		if (!lg_chain_decide(&c, r->recipient, r, error))
			goto out;
	}
	if (users > 0 && !apply_sync(d, st, cfg, error))
		goto out;
	ok = TRUE;
out:
	lg_chain_clear(&c);
	return ok;
}

gboolean
lg_delivery_apply(lg_delivery *d, lg_store *st, const lg_config *cfg, const lg_rules *rules, GError **error)
{
	g_return_val_if_fail(d->msg != NULL, FALSE);
	lg_delivery_reset(d);
	if (!lg_store_savepoint(st, "delivery", error))
		return FALSE;
	g_autoptr(GError) err = NULL;
	if (apply_chain(d, st, cfg, rules, &err))
		return lg_store_release(st, "delivery", error);
	lg_store_rollback_to(st, "delivery");
	lg_delivery_reset(d);
	/* Only the database's state (busy, full, I/O, read-only, damaged) may
	 * pass; a value the schema refuses (a constraint, a value too big) was
	 * caused by the message and fails the same way on every retry, so it is
	 * quarantined like any other failure of the chain, never answered 4xx. */
	if (err->domain == LG_STORE_ERROR && lg_error_is_temporary(err)) {
		g_propagate_error(error, g_steal_pointer(&err));
		return FALSE;
	}
	/* the chain failed, not the store: keep the message and accept it */
	if (!lg_store_savepoint(st, "delivery", error))
		return FALSE;
	gint64 qid = 0;
	if (!lg_store_quarantine_add(st, d->raw, d->env, err->message, &qid, error)) {
		lg_store_rollback_to(st, "delivery");
		return FALSE;
	}
	for (guint i = 0; i < d->results->len; i++) {
		lg_rcpt_result *r = d->results->pdata[i];
		r->status = LG_RCPT_QUARANTINED;
		r->decided_by = g_strdup("quarantine");
		r->reason = g_strdup_printf("chain failed (%s); quarantined as %" G_GINT64_FORMAT, err->message, qid);
	}
	return lg_store_release(st, "delivery", error);
}

gboolean
lg_deliver_now(lg_delivery *d, lg_store *st, const lg_config *cfg, const lg_rules *rules, GError **error)
{
	for (int attempt = 0;; attempt++) {
		g_autoptr(GError) err = NULL;
		if (lg_store_begin(st, &err) && lg_delivery_apply(d, st, cfg, rules, &err) && lg_store_commit(st, &err))
			return TRUE;
		lg_store_rollback(st);
		lg_delivery_reset(d);
		/* the busy timeout already waited; a few more tries cover a writer
		 * that released and re-took the lock in between */
		if (!(err->domain == LG_STORE_ERROR && err->code == LG_STORE_ERROR_BUSY) || attempt >= 2) {
			g_propagate_error(error, g_steal_pointer(&err));
			return FALSE;
		}
		g_usleep(50000);
	}
}

gboolean
lg_deliver_dry_run(lg_delivery *d, lg_store *st, const lg_config *cfg, const lg_rules *rules, GError **error)
{
	if (!lg_store_begin(st, error))
		return FALSE;
	gboolean ok = lg_delivery_apply(d, st, cfg, rules, error);
	lg_store_rollback(st);
	return ok;
}

gboolean
lg_rcpt_needs_store(const lg_config *cfg, const char *rcpt)
{
	if (g_strcmp0(cfg->catch_all, "none") == 0)
		return TRUE;
	g_autofree char *canon = rcpt ? lg_addr_normalize(rcpt) : NULL;
	return canon != NULL && lg_unsub_rcpt(cfg, canon, NULL);
}

/* [mailer] from: where campaign mail's bounces and replies come back */
gboolean
lg_rcpt_is_mailer_from(const lg_config *cfg, const char *canon)
{
	g_autofree char *from = cfg->mailer_from ? lg_addr_normalize(cfg->mailer_from) : NULL;
	return from != NULL && g_strcmp0(from, canon) == 0;
}

gboolean
lg_rcpt_accepts(lg_store *st, const lg_config *cfg, const char *rcpt, gboolean *known, GError **error)
{
	gint64 id;
	g_autofree char *mode = NULL;
	g_autofree char *canon = lg_addr_normalize(rcpt);
	*known = FALSE;
	if (canon == NULL)
		return TRUE;
	g_autofree char *token = NULL;
	if (lg_unsub_rcpt(cfg, canon, &token)) {
		/* the unsubscribe address: only with a token that verifies */
		g_autofree char *key = NULL;
		gint64 end_user;
		if (token == NULL)
			return TRUE;
		if (!lg_store_setting(st, "ref_key", &key, error))
			return FALSE;
		*known = lg_unsub_token_verify(key, token, &end_user);
		return TRUE;
	}
	if (!lg_rcpt_needs_store(cfg, canon)) {
		*known = TRUE;   /* the catch-all takes every address: nothing to look up */
		return TRUE;
	}
	if (!lg_store_mailbox_lookup(st, canon, &id, &mode, error))
		return FALSE;
	*known = mode != NULL || g_strcmp0(cfg->catch_all, "none") != 0 || lg_rcpt_is_mailer_from(cfg, canon);
	if (!*known) {
		/* a sales rep's own address takes their copy for the email sync */
		gboolean user;
		if (!rcpt_is_user(st, canon, &user, error))
			return FALSE;
		*known = user;
	}
	return TRUE;
}

GPtrArray *
lg_delivery_results(lg_delivery *d)
{
	return d->results;
}

const lg_message *
lg_delivery_message(lg_delivery *d)
{
	return d->msg;
}

const lg_envelope *
lg_delivery_envelope(lg_delivery *d)
{
	return d->env;
}

lg_raw *
lg_delivery_raw(lg_delivery *d)
{
	return d->raw;
}

gint64
lg_delivery_elapsed_ms(lg_delivery *d)
{
	return (g_get_monotonic_time() - d->started) / 1000;
}

const char *
lg_rcpt_status_name(lg_rcpt_status s)
{
	switch (s) {
	case LG_RCPT_RECORDED: return "recorded";
	case LG_RCPT_DUPLICATE: return "duplicate";
	case LG_RCPT_QUARANTINED: return "quarantined";
	case LG_RCPT_UNKNOWN: return "unknown-recipient";
	case LG_RCPT_UNSUBSCRIBED: return "unsubscribed";
	default: return "pending";
	}
}

char *
lg_rcpt_result_format(const lg_delivery *d, const lg_rcpt_result *r)
{
	GString *s = g_string_new(NULL);
	if (d->env->queue_id)
		g_string_append_printf(s, "%s: ", d->env->queue_id);
	g_string_append_printf(s, "message-id=<%s> from=<%s> to=<%s> outcome=%s",
	                       d->msg && d->msg->message_id ? d->msg->message_id :
	                       d->message_id ? d->message_id : "",
	                       d->env->sender, r->recipient, lg_rcpt_status_name(r->status));
	if (r->lead_id)
		g_string_append_printf(s, " lead=%" G_GINT64_FORMAT, r->lead_id);
	if (r->lead_status)
		g_string_append_printf(s, " status=%s%s", r->lead_status, r->hidden ? ",hidden" : "");
	if (r->ticket_number)
		g_string_append_printf(s, " ticket=%" G_GINT64_FORMAT, r->ticket_number);
	if (r->decided_by)
		g_string_append_printf(s, " decided_by=%s", r->decided_by);
	g_string_append_printf(s, " ms=%" G_GINT64_FORMAT, (g_get_monotonic_time() - d->started) / 1000);
	return g_string_free(s, FALSE);
}

void
lg_delivery_trim(lg_delivery *d)
{
	if (d->msg != NULL) {
		d->message_id = g_strdup(d->msg->message_id);
		g_clear_pointer(&d->msg, lg_message_free);
	}
	for (guint i = 0; i < d->results->len; i++) {
		lg_rcpt_result *r = d->results->pdata[i];
		g_clear_pointer(&r->trace, g_ptr_array_unref);
	}
}

void
lg_delivery_free(lg_delivery *d)
{
	if (d == NULL)
		return;
	lg_raw_free(d->raw);
	lg_envelope_free(d->env);
	lg_message_free(d->msg);
	g_free(d->message_id);
	g_ptr_array_unref(d->results);
	g_free(d);
}
