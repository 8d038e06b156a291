/*
 * NAME
 *   store_outbox.c - the SQL of notifications and the outbox (see store_outbox.h).
 *
 * SUMMARY
 *   The fan-out is one prepared INSERT ... SELECT per event: subscriptions
 *   of the event's type whose scope matches (any; my: the ticket's or
 *   lead's assignee; subscribed: a subscriber of the ticket), of users not
 *   removed, never the actor, never to a disabled endpoint; the JSON body
 *   is made by SQLite's json_object() there and then, so a retry sends the
 *   very same bytes. Times are SQLite's clock, as everywhere in the schema.
 */
#include <string.h>
#include <sys/random.h>
#include "store_int.h"
#include "store_outbox.h"
#include "address.h"

#define NOW "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

const char *const lg_notify_events[] = {
	"lead.created", "lead.replied", "lead.assigned",
	"ticket.created_from_email", "ticket.customer_replied", "ticket.assigned", NULL
};

gboolean
lg_store_outbox_fanout(lg_store *st, gint64 event_id, gint64 *n_r, GError **error)
{
	return store_exec(st,
	        "INSERT INTO outbox (kind, event_id, event, user_id, channel, endpoint_id, recipient, webhook_id, payload) "
	        "SELECT 'notification', e.id, e.event, s.user_id, s.channel, s.endpoint_id, "
	        "       CASE s.channel WHEN 'email' THEN u.email END, "
	        "       'msg_' || lower(hex(randomblob(16))), "
	        "       json_object('type', e.event, 'timestamp', e.created_at, 'data', json_object("
	        "         'event_id', e.id, 'user', u.email, 'lead_id', l.id, 'ticket_number', t.number, "
	        "         'subject', coalesce(t.subject, l.subject), 'sender_email', e.sender_email, "
	        "         'sender_name', l.sender_name, 'mailbox', l.recipient, "
	        "         'assigned_to', (SELECT a.email FROM users a WHERE a.id = coalesce(t.assigned_user_id, l.assigned_user_id)))) "
	        "  FROM events e "
	        "  JOIN notify_subscriptions s ON s.event = e.event AND s.enabled = 1 "
	        "  JOIN users u ON u.id = s.user_id AND u.removed_at IS NULL "
	        "  LEFT JOIN webhook_endpoints w ON w.id = s.endpoint_id "
	        "  LEFT JOIN leads l ON l.id = e.lead_id "
	        "  LEFT JOIN tickets t ON t.id = e.ticket_id "
	        " WHERE e.id = ? "
	        "   AND (s.endpoint_id IS NULL OR w.disabled_at IS NULL) "
	        "   AND u.email IS NOT coalesce(e.actor_email, '') "
	        "   AND (s.scope = 'any' "
	        "        OR (s.scope = 'my' AND s.user_id = coalesce(t.assigned_user_id, l.assigned_user_id)) "
	        "        OR (s.scope = 'subscribed' AND EXISTS (SELECT 1 FROM ticket_subscribers ts "
	        "                                               WHERE ts.ticket_id = e.ticket_id AND ts.user_id = s.user_id))) "
	        "ON CONFLICT DO NOTHING",
	        "i", n_r, error, event_id);
}

/* ---- subscriptions ------------------------------------------------------ */

static gboolean
user_id(lg_store *st, const char *email, gint64 *id_r, GError **error)
{
	g_autofree char *e = lg_addr_normalize(email);
	if (!store_get_int(st, "SELECT id FROM users WHERE email = ? AND removed_at IS NULL", "s", id_r, NULL, error,
	                   e ? e : email))
		return FALSE;
	if (*id_r == 0) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_NOTFOUND, "no user %s", email);
		return FALSE;
	}
	return TRUE;
}

static char *
new_secret(GError **error)
{
	guchar b[32];
	if (getrandom(b, sizeof b, 0) != (ssize_t) sizeof b) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_FAILED, "cannot make a secret: %s", g_strerror(errno));
		return NULL;
	}
	g_autofree char *b64 = g_base64_encode(b, sizeof b);
	return g_strconcat("whsec_", b64, NULL);
}

gboolean
lg_store_notify_add(lg_store *st, const lg_notify_sub *s, char **new_secret_r, GError **error)
{
	*new_secret_r = NULL;
	if (!lg_store_begin(st, error))
		return FALSE;
	gint64 uid = 0, eid = 0;
	gboolean ok = user_id(st, s->user_email, &uid, error);
	if (ok && s->url) {
		ok = store_get_int(st, "SELECT id FROM webhook_endpoints WHERE url = ?", "s", &eid, NULL, error, s->url);
		if (ok && eid == 0) {
			g_autofree char *secret = s->secret_file ? NULL : new_secret(error);
			ok = (s->secret_file || secret) &&
			     store_exec(st, "INSERT INTO webhook_endpoints (url, secret, secret_file) VALUES (?, ?, ?)",
			                "sss", NULL, error, s->url, secret, s->secret_file);
			eid = ok ? sqlite3_last_insert_rowid(st->db) : 0;
			if (ok)
				*new_secret_r = g_steal_pointer(&secret);
		} else if (ok && s->secret_file) {
			ok = store_exec(st, "UPDATE webhook_endpoints SET secret = NULL, secret_file = ? WHERE id = ?",
			                "si", NULL, error, s->secret_file, eid);
		}
		/* subscribing again is how an admin turns on an endpoint a 410 disabled */
		ok = ok && store_exec(st, "UPDATE webhook_endpoints SET disabled_at = NULL, disabled_reason = NULL "
		                      "WHERE id = ? AND disabled_at IS NOT NULL", "i", NULL, error, eid);
	}
	if (ok)
		ok = store_exec(st, "INSERT INTO notify_subscriptions (user_id, event, scope, channel, endpoint_id) "
		                "VALUES (?, ?, ?, ?, nullif(?, 0)) "
		                "ON CONFLICT (user_id, event, channel, coalesce(endpoint_id, 0)) "
		                "DO UPDATE SET scope = excluded.scope, enabled = 1",
		                "isssi", NULL, error, uid, s->event, s->scope, s->channel, eid);
	if (!store_finish(st, ok, error)) {
		g_clear_pointer(new_secret_r, g_free);
		return FALSE;
	}
	return TRUE;
}

gboolean
lg_store_notify_remove(lg_store *st, const lg_notify_sub *s, GError **error)
{
	if (!lg_store_begin(st, error))
		return FALSE;
	gint64 uid = 0, n = 0;
	gboolean ok = user_id(st, s->user_email, &uid, error) &&
	        store_exec(st, "DELETE FROM notify_subscriptions WHERE user_id = ? AND event = ? AND channel = ? "
	                   "AND (?4 IS NULL OR endpoint_id = (SELECT id FROM webhook_endpoints WHERE url = ?4))",
	                   "isss", &n, error, uid, s->event, s->channel, s->url);
	if (ok && n == 0) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_NOTFOUND, "%s has no %s subscription to %s%s%s",
		            s->user_email, s->channel, s->event, s->url ? " at " : "", s->url ? s->url : "");
		ok = FALSE;
	}
	return store_finish(st, ok, error);
}

gboolean
lg_store_notify_list(lg_store *st, const char *user_email, const char *event, lg_table **out, GError **error)
{
	gint64 uid = 0;
	if (!user_id(st, user_email, &uid, error))
		return FALSE;
	return store_query_table(st,
	        "SELECT s.event, s.scope, s.channel, coalesce(w.url, u.email) AS target, "
	        "       CASE WHEN s.enabled = 0 THEN 'off' WHEN w.disabled_at IS NOT NULL THEN 'disabled (410)' ELSE 'on' END AS state "
	        "  FROM notify_subscriptions s JOIN users u ON u.id = s.user_id "
	        "  LEFT JOIN webhook_endpoints w ON w.id = s.endpoint_id "
	        " WHERE s.user_id = ? AND (?2 IS NULL OR s.event = ?2) ORDER BY s.event, s.channel, target",
	        "is", out, error, uid, event);
}

gboolean
lg_store_ticket_subscribe(lg_store *st, gint64 number, const char *user_email, gboolean *added_r, GError **error)
{
	if (!lg_store_begin(st, error))
		return FALSE;
	gint64 uid = 0, tid = 0, n = 0;
	gboolean ok = store_get_int(st, "SELECT id FROM tickets WHERE number = ?", "i", &tid, NULL, error, number);
	if (ok && tid == 0) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_NOTFOUND, "no ticket #%" G_GINT64_FORMAT, number);
		ok = FALSE;
	}
	ok = ok && user_id(st, user_email, &uid, error) &&
	     store_exec(st, "INSERT INTO ticket_subscribers (ticket_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
	                "ii", &n, error, tid, uid);
	*added_r = n > 0;
	return store_finish(st, ok, error);
}

/* ---- the worker --------------------------------------------------------- */

void
lg_outbox_item_free(lg_outbox_item *it)
{
	if (it == NULL)
		return;
	g_free(it->kind);
	g_free(it->event);
	g_free(it->channel);
	g_free(it->recipient);
	g_free(it->webhook_id);
	g_free(it->payload);
	g_free(it->url);
	g_free(it->secret);
	g_free(it->secret_file);
	g_free(it->subject);
	g_free(it->sender_email);
	g_free(it->sender_name);
	g_free(it->mailbox);
	g_free(it);
}

static gboolean
item_details(lg_store *st, lg_outbox_item *it, GError **error)
{
	sqlite3_stmt *s = store_prep(st,
	        "SELECT o.kind, o.event, o.channel, o.recipient, o.webhook_id, o.payload, coalesce(o.endpoint_id, 0), "
	        "       w.url, w.secret, w.secret_file, w.disabled_at IS NOT NULL, "
	        "       json_extract(o.payload, '$.data.subject'), json_extract(o.payload, '$.data.sender_email'), "
	        "       json_extract(o.payload, '$.data.sender_name'), json_extract(o.payload, '$.data.mailbox'), "
	        "       coalesce(json_extract(o.payload, '$.data.lead_id'), 0), "
	        "       coalesce(json_extract(o.payload, '$.data.ticket_number'), 0) "
	        "  FROM outbox o LEFT JOIN webhook_endpoints w ON w.id = o.endpoint_id WHERE o.id = ?",
	        "i", error, it->id);
	int r = store_step_row(st, s, error);
	if (r <= 0) {
		if (r == 0)
			g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_NOTFOUND, "outbox row %" G_GINT64_FORMAT " vanished", it->id);
		return FALSE;
	}
	it->kind = store_col_dup(s, 0);
	it->event = store_col_dup(s, 1);
	it->channel = store_col_dup(s, 2);
	it->recipient = store_col_dup(s, 3);
	it->webhook_id = store_col_dup(s, 4);
	it->payload = store_col_dup(s, 5);
	it->endpoint_id = sqlite3_column_int64(s, 6);
	it->url = store_col_dup(s, 7);
	it->secret = store_col_dup(s, 8);
	it->secret_file = store_col_dup(s, 9);
	it->endpoint_disabled = sqlite3_column_int(s, 10) != 0;
	it->subject = store_col_dup(s, 11);
	it->sender_email = store_col_dup(s, 12);
	it->sender_name = store_col_dup(s, 13);
	it->mailbox = store_col_dup(s, 14);
	it->lead_id = sqlite3_column_int64(s, 15);
	it->ticket_number = sqlite3_column_int64(s, 16);
	store_done(s);
	return TRUE;
}

gboolean
lg_store_outbox_claim(lg_store *st, const char *token, int lease, int max, GPtrArray **items_r, GError **error)
{
	*items_r = g_ptr_array_new_with_free_func((GDestroyNotify) lg_outbox_item_free);
	sqlite3_stmt *s = store_prep(st,
	        "UPDATE outbox SET state = 'sending', claim_token = ?1, attempts = attempts + 1, "
	        "       claim_expires_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+' || ?2 || ' seconds') "
	        " WHERE id IN (SELECT id FROM outbox "
	        "               WHERE kind = 'notification' AND ((state = 'queued' AND next_attempt_at <= " NOW ") "
	        "                  OR (state = 'sending' AND claim_expires_at <= " NOW ")) "
	        "               ORDER BY next_attempt_at, id LIMIT ?3) "
	        "RETURNING id, attempts",
	        "sii", error, token, (gint64) lease, (gint64) max);
	int r;
	while ((r = store_step_row(st, s, error)) > 0) {
		lg_outbox_item *it = g_new0(lg_outbox_item, 1);
		it->id = sqlite3_column_int64(s, 0);
		it->attempts = sqlite3_column_int64(s, 1);
		g_ptr_array_add(*items_r, it);
	}
	if (r < 0)
		return FALSE;
	for (guint i = 0; i < (*items_r)->len; i++)
		if (!item_details(st, (*items_r)->pdata[i], error))
			return FALSE;
	return TRUE;
}

gboolean
lg_store_outbox_finish(lg_store *st, gint64 id, const char *token, lg_outbox_outcome outcome, double delay,
                       const char *error_text, gboolean *done_r, GError **error)
{
	gint64 n = 0;
	gboolean ok = FALSE;
	g_autofree char *secs = g_strdup_printf("+%.3f seconds", delay > 0 ? delay : 0.0);
	switch (outcome) {
	case LG_OUTBOX_SENT:
		ok = store_exec(st, "UPDATE outbox SET state = 'sent', sent_at = " NOW ", last_error = NULL, "
		                "claim_token = NULL, claim_expires_at = NULL WHERE id = ? AND claim_token = ? AND state = 'sending'",
		                "is", &n, error, id, token);
		break;
	case LG_OUTBOX_RETRY:
		ok = store_exec(st, "UPDATE outbox SET state = 'queued', last_error = ?, "
		                "next_attempt_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?), "
		                "claim_token = NULL, claim_expires_at = NULL WHERE id = ? AND claim_token = ? AND state = 'sending'",
		                "ssis", &n, error, error_text, secs, id, token);
		break;
	case LG_OUTBOX_FAILED:
		ok = store_exec(st, "UPDATE outbox SET state = 'failed', last_error = ?, "
		                "claim_token = NULL, claim_expires_at = NULL WHERE id = ? AND claim_token = ? AND state = 'sending'",
		                "sis", &n, error, error_text, id, token);
		break;
	case LG_OUTBOX_RELEASE:
		ok = store_exec(st, "UPDATE outbox SET state = 'queued', attempts = max(attempts - 1, 0), "
		                "claim_token = NULL, claim_expires_at = NULL WHERE id = ? AND claim_token = ? AND state = 'sending'",
		                "is", &n, error, id, token);
		break;
	}
	if (done_r)
		*done_r = n > 0;
	return ok;
}

gboolean
lg_store_endpoint_disable(lg_store *st, gint64 endpoint_id, const char *reason, GError **error)
{
	if (!lg_store_begin(st, error))
		return FALSE;
	gboolean ok = store_exec(st, "UPDATE webhook_endpoints SET disabled_at = " NOW ", disabled_reason = ? "
	                         "WHERE id = ? AND disabled_at IS NULL", "si", NULL, error, reason, endpoint_id) &&
	              store_exec(st, "UPDATE outbox SET state = 'failed', last_error = 'endpoint disabled: ' || ? "
	                         "WHERE endpoint_id = ? AND state = 'queued'", "si", NULL, error, reason, endpoint_id);
	return store_finish(st, ok, error);
}

/* ---- the CLI ------------------------------------------------------------ */

gboolean
lg_store_outbox_list(lg_store *st, gboolean failed_only, lg_table **out, GError **error)
{
	return store_query_table(st,
	        "SELECT o.id, o.created_at, o.kind, o.event, u.email AS user_email, o.channel, "
	        "       coalesce(w.url, o.recipient) AS target, o.state, o.attempts, "
	        "       CASE WHEN o.state = 'queued' THEN o.next_attempt_at END AS next_attempt_at, o.last_error "
	        "  FROM outbox o LEFT JOIN users u ON u.id = o.user_id "
	        "  LEFT JOIN webhook_endpoints w ON w.id = o.endpoint_id "
	        " WHERE (?1 = 0 OR o.state = 'failed') ORDER BY o.id",
	        "b", out, error, failed_only);
}

gboolean
lg_store_outbox_retry(lg_store *st, gint64 id, GError **error)
{
	if (!lg_store_begin(st, error))
		return FALSE;
	g_autofree char *state = NULL;
	gboolean ok = store_get_text(st, "SELECT state FROM outbox WHERE id = ?", "i", &state, error, id);
	if (ok && state == NULL) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_NOTFOUND, "no outbox row %" G_GINT64_FORMAT, id);
		ok = FALSE;
	} else if (ok && (strcmp(state, "sent") == 0 || strcmp(state, "sending") == 0)) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_INVALID, "outbox row %" G_GINT64_FORMAT " is %s; "
		            "only a failed or queued row is retried", id, state);
		ok = FALSE;
	}
	ok = ok &&
	     store_exec(st, "UPDATE webhook_endpoints SET disabled_at = NULL, disabled_reason = NULL "
	                "WHERE id = (SELECT endpoint_id FROM outbox WHERE id = ?)", "i", NULL, error, id) &&
	     store_exec(st, "UPDATE outbox SET state = 'queued', attempts = 0, next_attempt_at = " NOW " WHERE id = ?",
	                "i", NULL, error, id);
	return store_finish(st, ok, error);
}

gboolean
lg_store_outbox_next_due(lg_store *st, double *seconds_r, GError **error)
{
	/* julianday() differences in days; a row due in the past counts as 0 */
	sqlite3_stmt *s = store_prep(st,
	        "SELECT (julianday(min(t)) - julianday('now')) * 86400.0 FROM ("
	        " SELECT min(next_attempt_at) AS t FROM outbox WHERE state = 'queued' AND kind = 'notification' "
	        " UNION ALL SELECT min(claim_expires_at) FROM outbox WHERE state = 'sending' AND kind = 'notification')",
	        "", error);
	int r = store_step_row(st, s, error);
	if (r < 0)
		return FALSE;
	*seconds_r = -1;
	if (r > 0) {
		if (sqlite3_column_type(s, 0) != SQLITE_NULL)
			*seconds_r = MAX(sqlite3_column_double(s, 0), 0.0);
		store_done(s);
	}
	return TRUE;
}
