/*
 * NAME
 *   store_mailer.c - the SQL of the mailer (see store_mailer.h).
 *
 * SUMMARY
 *   Two SQL fragments carry the rules: ORG_MATCH (an organization matches
 *   the saved search s, every criterion given; no search: all of them) and
 *   EXCLUDED (why end user eu, of organization o, may not get campaign
 *   mail; NULL when they may). An end user of an organization whose flag
 *   is off gets nothing; an end user without an organization can get
 *   triggered mail (a blast only reaches organizations' end users). Times
 *   are SQLite's clock, as everywhere in the schema.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include "store_int.h"
#include "store_mailer.h"
#include "address.h"

#define NOW "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

const char *const lg_mailer_events[] = { "ticket.resolved", "lead.won", "lead.created", NULL };

#define ORG_MATCH \
	" (s.name_like IS NULL OR o.name LIKE s.name_like) " \
	" AND (s.domain IS NULL OR EXISTS (SELECT 1 FROM organization_domains d " \
	"                                   WHERE d.organization_id = o.id AND d.domain = s.domain)) " \
	" AND (coalesce(s.has_open_tickets, 0) = 0 OR EXISTS (SELECT 1 FROM tickets t " \
	"      WHERE t.organization_id = o.id AND t.status NOT IN ('resolved', 'closed'))) " \
	" AND (s.created_since IS NULL OR o.created_at >= s.created_since) "

#define EU_DOMAIN "substr(eu.email, instr(eu.email, '@') + 1)"
#define EXCLUDED \
	"CASE WHEN eu.id IS NULL THEN 'the end user was deleted' " \
	"     WHEN eu.receive_marketing = 0 THEN 'no consent: the contact''s marketing flag is off' " \
	"          || coalesce(' (' || eu.marketing_changed_by || ')', '') " \
	"     WHEN o.id IS NOT NULL AND o.receive_marketing = 0 " \
	"          THEN 'no consent: the organization''s marketing flag is off' " \
	"     WHEN EXISTS (SELECT 1 FROM undeliverable u WHERE u.address = eu.email COLLATE NOCASE) " \
	"          THEN 'undeliverable' || coalesce(' (' || (SELECT u.status FROM undeliverable u " \
	"               WHERE u.address = eu.email COLLATE NOCASE) || ')', '') " \
	"     WHEN EXISTS (SELECT 1 FROM spam_senders p WHERE (p.kind = 'address' AND p.pattern = eu.email) " \
	"               OR (p.kind = 'domain' AND (" EU_DOMAIN " = p.pattern " \
	"                   OR substr(" EU_DOMAIN ", -(length(p.pattern) + 1)) = '.' || p.pattern))) " \
	"          THEN 'spam-listed' " \
	"END"

#define BLAST_FROM \
	"  FROM campaigns c LEFT JOIN saved_searches s ON s.id = c.search_id " \
	"  JOIN organizations o ON " ORG_MATCH \
	"  JOIN end_users eu ON eu.organization_id = o.id " \
	" WHERE c.id = ?1 AND c.kind = 'blast' "

/* ---- saved searches -------------------------------------------------------- */

gboolean
lg_store_search_save(lg_store *st, const char *name, const lg_search_criteria *c, gboolean *replaced_r,
                     GError **error)
{
	if (!lg_store_begin(st, error))
		return FALSE;
	gint64 n = 0;
	gboolean found = FALSE;
	gboolean ok = store_get_int(st, "SELECT id FROM saved_searches WHERE name = ? COLLATE NOCASE", "s", &n, &found,
	                            error, name);
	if (ok && found)
		ok = store_exec(st, "UPDATE saved_searches SET name_like = ?, domain = ?, has_open_tickets = ?, "
		                "created_since = ? WHERE id = ?", "ssbsi", NULL, error,
		                c->name_like, c->domain, c->has_open_tickets, c->created_since, n);
	else if (ok)
		ok = store_exec(st, "INSERT INTO saved_searches (name, name_like, domain, has_open_tickets, created_since) "
		                "VALUES (?, ?, ?, ?, ?)", "sssbs", NULL, error,
		                name, c->name_like, c->domain, c->has_open_tickets, c->created_since);
	if (replaced_r)
		*replaced_r = found;
	return store_finish(st, ok, error);
}

gboolean
lg_store_search_list(lg_store *st, lg_table **out, GError **error)
{
	return store_query_table(st,
	        "SELECT s.name, s.name_like, s.domain, s.has_open_tickets, s.created_since, "
	        "       (SELECT count(*) FROM organizations o WHERE " ORG_MATCH ") AS organizations "
	        "  FROM saved_searches s ORDER BY s.name COLLATE NOCASE", "", out, error);
}

gboolean
lg_store_search_show(lg_store *st, const char *name, lg_table **search_r, lg_table **orgs_r, GError **error)
{
	if (!store_query_table(st, "SELECT name, name_like, domain, has_open_tickets, created_since, created_at "
	                       "FROM saved_searches WHERE name = ? COLLATE NOCASE", "s", search_r, error, name))
		return FALSE;
	if ((*search_r)->rows->len == 0) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_NOTFOUND, "no saved search \"%s\"", name);
		return FALSE;
	}
	return store_query_table(st,
	        "SELECT o.name AS organization, o.receive_marketing AS marketing, "
	        "       (SELECT group_concat(d.domain, ' ') FROM organization_domains d WHERE d.organization_id = o.id) AS domains, "
	        "       (SELECT count(*) FROM end_users eu WHERE eu.organization_id = o.id) AS contacts "
	        "  FROM saved_searches s JOIN organizations o ON " ORG_MATCH
	        " WHERE s.name = ? COLLATE NOCASE ORDER BY o.name COLLATE NOCASE", "s", orgs_r, error, name);
}

/* ---- consent --------------------------------------------------------------- */

gboolean
lg_store_contact_marketing(lg_store *st, const char *email, gboolean on, GError **error)
{
	g_autofree char *e = lg_addr_normalize(email);
	gint64 n = 0;
	if (!store_exec(st, "UPDATE end_users SET receive_marketing = ?, marketing_changed_at = " NOW ", "
	                "marketing_changed_by = 'cli' WHERE email = ?", "bs", &n, error, on, e ? e : email))
		return FALSE;
	if (n == 0) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_NOTFOUND, "no end user %s", email);
		return FALSE;
	}
	return TRUE;
}

gboolean
lg_store_org_marketing(lg_store *st, const char *name, gboolean on, GError **error)
{
	gint64 n = 0;
	if (!store_exec(st, "UPDATE organizations SET receive_marketing = ?, marketing_changed_at = " NOW ", "
	                "marketing_changed_by = 'cli' WHERE name = ? COLLATE NOCASE", "bs", &n, error, on, name))
		return FALSE;
	if (n == 0) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_NOTFOUND, "no organization \"%s\"", name);
		return FALSE;
	}
	return TRUE;
}

/* ---- campaigns ------------------------------------------------------------- */

gboolean
lg_store_campaign_create(lg_store *st, const lg_campaign_def *d, gint64 *id_r, GError **error)
{
	if (!lg_store_begin(st, error))
		return FALSE;
	gint64 other = 0, search_id = 0;
	gboolean found = FALSE;
	gboolean ok = store_get_int(st, "SELECT id FROM campaigns WHERE name = ? COLLATE NOCASE", "s", &other, &found,
	                            error, d->name);
	if (ok && found) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_EXISTS, "campaign \"%s\" already exists", d->name);
		ok = FALSE;
	}
	if (ok && d->search) {
		ok = store_get_int(st, "SELECT id FROM saved_searches WHERE name = ? COLLATE NOCASE", "s", &search_id, &found,
		                   error, d->search);
		if (ok && !found) {
			g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_NOTFOUND, "no saved search \"%s\"", d->search);
			ok = FALSE;
		}
	}
	gboolean trig = g_strcmp0(d->kind, "triggered") == 0;
	if (ok)
		ok = store_exec(st, "INSERT INTO campaigns (name, kind, search_id, trigger_event, delay_seconds, subject, "
		                "body_text, body_html, state, last_event_id, started_at) "
		                "VALUES (?1, ?2, nullif(?3, 0), ?4, CASE WHEN ?4 IS NULL THEN NULL ELSE ?5 END, ?6, ?7, ?8, "
		                "        CASE ?2 WHEN 'triggered' THEN 'active' ELSE 'draft' END, "
		                "        CASE ?2 WHEN 'triggered' THEN (SELECT coalesce(max(id), 0) FROM events) ELSE 0 END, "
		                "        CASE ?2 WHEN 'triggered' THEN " NOW " END)",
		                "ssisisss", NULL, error, d->name, d->kind, search_id, trig ? d->trigger_event : NULL,
		                d->delay_seconds, d->subject, d->body_text, d->body_html);
	if (ok)
		*id_r = sqlite3_last_insert_rowid(st->db);
	return store_finish(st, ok, error);
}

gboolean
lg_store_campaign_list(lg_store *st, lg_table **out, GError **error)
{
	return store_query_table(st,
	        "SELECT c.name, c.kind, c.state, "
	        "       CASE c.kind WHEN 'blast' THEN coalesce('search ' || s.name, 'all organizations') "
	        "            ELSE c.trigger_event || ' +' || c.delay_seconds || 's' END AS audience, "
	        "       (SELECT count(*) FROM outbox x WHERE x.campaign_id = c.id AND x.state = 'sent') AS sent, "
	        "       (SELECT count(*) FROM outbox x WHERE x.campaign_id = c.id AND x.state IN ('queued', 'sending')) AS waiting, "
	        "       (SELECT count(*) FROM outbox x WHERE x.campaign_id = c.id AND x.state IN ('failed', 'skipped', 'dropped')) AS not_sent, "
	        "       c.created_at "
	        "  FROM campaigns c LEFT JOIN saved_searches s ON s.id = c.search_id ORDER BY c.id", "", out, error);
}

void
lg_campaign_free(lg_campaign *c)
{
	if (c == NULL)
		return;
	g_free(c->name);
	g_free(c->kind);
	g_free(c->state);
	g_free(c->trigger_event);
	g_free(c->subject);
	g_free(c->body_text);
	g_free(c->body_html);
	g_free(c);
}

static gboolean
campaign_get(lg_store *st, const char *name, gint64 id, lg_campaign **c_r, GError **error)
{
	*c_r = NULL;
	sqlite3_stmt *s = store_prep(st,
	        "SELECT id, name, kind, state, trigger_event, coalesce(delay_seconds, 0), subject, body_text, body_html "
	        "  FROM campaigns WHERE (?1 IS NOT NULL AND name = ?1 COLLATE NOCASE) OR id = ?2", "si", error, name, id);
	int r = store_step_row(st, s, error);
	if (r < 0)
		return FALSE;
	if (r == 0) {
		if (name)
			g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_NOTFOUND, "no campaign \"%s\"", name);
		else
			g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_NOTFOUND, "no campaign %" G_GINT64_FORMAT, id);
		return FALSE;
	}
	lg_campaign *c = g_new0(lg_campaign, 1);
	c->id = sqlite3_column_int64(s, 0);
	c->name = store_col_dup(s, 1);
	c->kind = store_col_dup(s, 2);
	c->state = store_col_dup(s, 3);
	c->trigger_event = store_col_dup(s, 4);
	c->delay_seconds = sqlite3_column_int64(s, 5);
	c->subject = store_col_dup(s, 6);
	c->body_text = store_col_dup(s, 7);
	c->body_html = store_col_dup(s, 8);
	store_done(s);
	*c_r = c;
	return TRUE;
}

gboolean
lg_store_campaign_get(lg_store *st, const char *name, lg_campaign **c_r, GError **error)
{
	return campaign_get(st, name, 0, c_r, error);
}

gboolean
lg_store_campaign_get_id(lg_store *st, gint64 id, lg_campaign **c_r, GError **error)
{
	return campaign_get(st, NULL, id, c_r, error);
}

gboolean
lg_store_campaign_pause(lg_store *st, const char *name, gboolean pause, char **state_r, GError **error)
{
	*state_r = NULL;
	if (!lg_store_begin(st, error))
		return FALSE;
	g_autofree char *state = NULL;
	gboolean ok = store_get_text(st, "SELECT state FROM campaigns WHERE name = ? COLLATE NOCASE", "s", &state, error,
	                             name);
	if (ok && state == NULL) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_NOTFOUND, "no campaign \"%s\"", name);
		ok = FALSE;
	} else if (ok && strcmp(state, pause ? "active" : "paused") != 0) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_INVALID, "campaign \"%s\" is %s; only %s campaign can be %s",
		            name, state, pause ? "an active" : "a paused", pause ? "paused" : "resumed");
		ok = FALSE;
	}
	if (ok)
		ok = store_exec(st, "UPDATE campaigns SET state = ? WHERE name = ? COLLATE NOCASE", "ss", NULL, error,
		                pause ? "paused" : "active", name);
	if (ok && !pause)
		ok = lg_store_mailer_close_done(st, error);
	if (ok)
		ok = store_get_text(st, "SELECT state FROM campaigns WHERE name = ? COLLATE NOCASE", "s", state_r, error, name);
	return store_finish(st, ok, error);
}

gboolean
lg_store_mailer_audience(lg_store *st, gint64 campaign_id, lg_table **out, GError **error)
{
	return store_query_table(st,
	        "SELECT eu.email, eu.name, o.name AS organization, "
	        "       CASE WHEN x.id IS NOT NULL THEN 'already queued (' || x.state || ')' ELSE " EXCLUDED " END AS reason "
	        "  FROM campaigns c LEFT JOIN saved_searches s ON s.id = c.search_id "
	        "  JOIN organizations o ON " ORG_MATCH
	        "  JOIN end_users eu ON eu.organization_id = o.id "
	        "  LEFT JOIN outbox x ON x.kind = 'campaign' AND x.campaign_id = c.id AND x.end_user_id = eu.id "
	        "       AND x.trigger_event_id IS NULL "
	        " WHERE c.id = ?1 AND c.kind = 'blast' "
	        " ORDER BY eu.email",
	        "i", out, error, campaign_id);
}

gboolean
lg_store_mailer_send(lg_store *st, gint64 campaign_id, gint64 *queued_r, gint64 *excluded_r, GError **error)
{
	*queued_r = *excluded_r = 0;
	if (!lg_store_begin(st, error))
		return FALSE;
	g_autofree char *state = NULL;
	gboolean ok = store_get_text(st, "SELECT state FROM campaigns WHERE id = ? AND kind = 'blast'", "i", &state, error,
	                             campaign_id);
	if (ok && g_strcmp0(state, "paused") == 0) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_INVALID, "the campaign is paused; resume it instead");
		ok = FALSE;
	}
	if (ok)
		ok = store_exec(st,
		        "INSERT INTO outbox (kind, event, channel, recipient, webhook_id, payload, campaign_id, end_user_id, "
		        "                    organization_id) "
		        "SELECT 'campaign', c.name, 'email', eu.email, 'cmp_' || lower(hex(randomblob(16))), "
		        "       json_object('contact.name', eu.name, 'contact.email', eu.email, 'organization.name', o.name), "
		        "       c.id, eu.id, o.id "
		        BLAST_FROM " AND (" EXCLUDED ") IS NULL ORDER BY eu.id "
		        "ON CONFLICT DO NOTHING", "i", queued_r, error, campaign_id);
	if (ok)
		ok = store_get_int(st, "SELECT count(*) " BLAST_FROM " AND (" EXCLUDED ") IS NOT NULL", "i", excluded_r, NULL,
		                   error, campaign_id);
	if (ok)
		ok = store_exec(st, "UPDATE campaigns SET state = 'active', started_at = coalesce(started_at, " NOW "), "
		                "finished_at = NULL WHERE id = ?", "i", NULL, error, campaign_id) &&
		     lg_store_mailer_close_done(st, error);
	return store_finish(st, ok, error);
}

gboolean
lg_store_mailer_values(lg_store *st, gint64 campaign_id, const char *email, gint64 *end_user_id_r, char **json_r,
                       GError **error)
{
	*json_r = NULL;
	*end_user_id_r = 0;
	g_autofree char *e = lg_addr_normalize(email);
	sqlite3_stmt *s = store_prep(st,
	        "SELECT eu.id, json_object('contact.name', eu.name, 'contact.email', eu.email, 'organization.name', o.name, "
	        "         'ticket.number', t.number, 'ticket.subject', t.subject, 'lead.id', l.id) "
	        "  FROM end_users eu LEFT JOIN organizations o ON o.id = eu.organization_id "
	        "  LEFT JOIN tickets t ON t.id = (SELECT max(id) FROM tickets WHERE contact_id = eu.id) "
	        "  LEFT JOIN leads l ON l.id = (SELECT max(id) FROM leads WHERE contact_id = eu.id OR sender_email = eu.email) "
	        " WHERE eu.email = ?", "s", error, e ? e : email);
	(void) campaign_id;
	int r = store_step_row(st, s, error);
	if (r < 0)
		return FALSE;
	if (r == 0) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_NOTFOUND, "no end user %s", email);
		return FALSE;
	}
	*end_user_id_r = sqlite3_column_int64(s, 0);
	*json_r = store_col_dup(s, 1);
	store_done(s);
	return TRUE;
}

/* ---- the worker ------------------------------------------------------------ */

gboolean
lg_store_mailer_schedule(lg_store *st, gint64 *n_r, GError **error)
{
	*n_r = 0;
	/* a read first: nothing new, no write lock */
	gint64 pending = 0;
	if (!store_get_int(st, "SELECT EXISTS (SELECT 1 FROM campaigns c WHERE c.kind = 'triggered' "
	                   "AND c.state IN ('active', 'paused') AND (SELECT max(id) FROM events) > c.last_event_id)", "",
	                   &pending, NULL, error))
		return FALSE;
	if (!pending)
		return TRUE;
	if (!lg_store_begin(st, error))
		return FALSE;
	gint64 top = 0;
	gboolean ok = store_get_int(st, "SELECT coalesce(max(id), 0) FROM events", "", &top, NULL, error) &&
	        store_exec(st,
	        "INSERT INTO outbox (kind, event, channel, recipient, webhook_id, payload, next_attempt_at, campaign_id, "
	        "                    end_user_id, organization_id, trigger_event_id, ticket_id, lead_id) "
	        "SELECT 'campaign', c.name, 'email', eu.email, 'cmp_' || lower(hex(randomblob(16))), "
	        "       json_object('contact.name', eu.name, 'contact.email', eu.email, 'organization.name', o.name, "
	        "                   'ticket.number', t.number, 'ticket.subject', t.subject, 'lead.id', l.id), "
	        "       strftime('%Y-%m-%dT%H:%M:%fZ', e.created_at, '+' || c.delay_seconds || ' seconds'), "
	        "       c.id, eu.id, o.id, e.id, t.id, l.id "
	        "  FROM campaigns c JOIN events e ON e.event = c.trigger_event AND e.id > c.last_event_id AND e.id <= ?1 "
	        "  LEFT JOIN leads l ON l.id = e.lead_id "
	        "  LEFT JOIN tickets t ON t.id = coalesce(e.ticket_id, l.ticket_id) "
	        "  JOIN end_users eu ON eu.id = coalesce(CASE WHEN e.event = 'ticket.resolved' THEN t.contact_id END, "
	        "       l.contact_id, t.contact_id, "
	        "       (SELECT x.id FROM end_users x WHERE x.email = coalesce(l.sender_email, e.sender_email))) "
	        "  LEFT JOIN organizations o ON o.id = eu.organization_id "
	        " WHERE c.kind = 'triggered' AND c.state IN ('active', 'paused') AND (" EXCLUDED ") IS NULL "
	        " ORDER BY e.id, c.id "
	        "ON CONFLICT DO NOTHING", "i", n_r, error, top) &&
	        store_exec(st, "UPDATE campaigns SET last_event_id = ? WHERE kind = 'triggered' "
	                   "AND state IN ('active', 'paused') AND last_event_id < ?", "ii", NULL, error, top, top);
	return store_finish(st, ok, error);
}

/* A claim token is "host:pid:random"; TRUE when it is this host's and the pid is gone. */
static gboolean
token_dead(const char *token, const char *hostname)
{
	g_auto(GStrv) f = g_strsplit(token, ":", 3);
	if (g_strv_length(f) != 3 || g_strcmp0(f[0], hostname) != 0)
		return FALSE;
	char *end = NULL;
	gint64 pid = g_ascii_strtoll(f[1], &end, 10);
	if (end == f[1] || *end || pid <= 1 || pid > G_MAXINT)
		return FALSE;
	return kill((pid_t) pid, 0) != 0 && errno == ESRCH;
}

gboolean
lg_store_mailer_resolve(lg_store *st, const char *hostname, gint64 *requeued_r, gint64 *assumed_r, GError **error)
{
	gint64 rq = 0, as = 0, n = 0;
	/* the owners still inside their lease: dead ones need not be waited out */
	g_autoptr(GPtrArray) dead = g_ptr_array_new_with_free_func(g_free);
	sqlite3_stmt *s = store_prep(st, "SELECT DISTINCT claim_token FROM outbox WHERE kind = 'campaign' AND "
	                             "state = 'sending' AND claim_token IS NOT NULL", "", error);
	int r;
	while ((r = store_step_row(st, s, error)) > 0) {
		const char *tok = (const char *) sqlite3_column_text(s, 0);
		if (tok && token_dead(tok, hostname))
			g_ptr_array_add(dead, g_strdup(tok));
	}
	if (r < 0)
		return FALSE;
	gint64 expired = 0;
	if (!store_get_int(st, "SELECT count(*) FROM outbox WHERE kind = 'campaign' AND state = 'sending' "
	                   "AND claim_expires_at <= " NOW, "", &expired, NULL, error))
		return FALSE;
	if (dead->len == 0 && expired == 0)
		goto done;
	if (!lg_store_begin(st, error))
		return FALSE;
	gboolean ok = TRUE;
	for (guint i = 0; ok && i <= dead->len; i++) {
		const char *tok = i < dead->len ? dead->pdata[i] : NULL;
		ok = store_exec(st, "UPDATE outbox SET state = 'queued', phase = NULL, claim_token = NULL, claim_expires_at = NULL, "
		                "attempts = max(attempts - 1, 0), "
		                "last_error = 'queued again: the worker died before the end of data' "
		                "WHERE kind = 'campaign' AND state = 'sending' AND phase IS NULL "
		                "AND (claim_token = ?1 OR (?1 IS NULL AND claim_expires_at <= " NOW "))",
		                "s", &n, error, tok);
		rq += n;
		ok = ok && store_exec(st, "UPDATE outbox SET state = 'sent', sent_at = " NOW ", claim_token = NULL, "
		                      "claim_expires_at = NULL, "
		                      "last_error = 'assumed sent: the worker died after the end of data' "
		                      "WHERE kind = 'campaign' AND state = 'sending' AND phase = 'data' "
		                      "AND (claim_token = ?1 OR (?1 IS NULL AND claim_expires_at <= " NOW "))",
		                      "s", &n, error, tok);
		as += n;
	}
	if (!store_finish(st, ok, error))
		return FALSE;
done:
	if (requeued_r)
		*requeued_r = rq;
	if (assumed_r)
		*assumed_r = as;
	return TRUE;
}

gboolean
lg_store_mailer_drop_late(lg_store *st, gint64 max_lateness, gint64 *n_r, GError **error)
{
	g_autofree char *mod = g_strdup_printf("-%" G_GINT64_FORMAT " seconds", max_lateness);
	gint64 late = 0;
	if (!store_get_int(st, "SELECT count(*) FROM outbox WHERE kind = 'campaign' AND state = 'queued' "
	                   "AND trigger_event_id IS NOT NULL AND next_attempt_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?)",
	                   "s", &late, NULL, error, mod))
		return FALSE;
	*n_r = 0;
	if (late == 0)
		return TRUE;
	/* next_attempt_at of a triggered row that was retried moved on; the due
	 * time is the event's time + delay */
	return store_exec(st,
	        "UPDATE outbox SET state = 'dropped', claim_token = NULL, claim_expires_at = NULL, "
	        "       last_error = 'not sent within [mailer] max_lateness of its due time' "
	        "       || coalesce(' (' || last_error || ')', '') "
	        " WHERE kind = 'campaign' AND state = 'queued' AND trigger_event_id IS NOT NULL "
	        "   AND next_attempt_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?)", "s", n_r, error, mod);
}

gboolean
lg_store_mailer_sent_last_minute(lg_store *st, gint64 *n_r, GError **error)
{
	return store_get_int(st, "SELECT count(*) FROM outbox WHERE kind = 'campaign' AND state IN ('sent', 'sending') "
	                     "AND coalesce(sent_at, claim_expires_at) >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-60 seconds')",
	                     "", n_r, NULL, error);
}

void
lg_mailer_item_free(lg_mailer_item *it)
{
	if (it == NULL)
		return;
	g_free(it->campaign);
	g_free(it->recipient);
	g_free(it->payload);
	g_free(it);
}

static gint
item_cmp(gconstpointer a, gconstpointer b)
{
	const lg_mailer_item *x = *(lg_mailer_item *const *) a, *y = *(lg_mailer_item *const *) b;
	return x->id < y->id ? -1 : x->id > y->id;
}

gboolean
lg_store_mailer_claim(lg_store *st, const char *token, int lease, int max, gboolean blasts, int per_day,
                      GPtrArray **items_r, GError **error)
{
	*items_r = g_ptr_array_new_with_free_func((GDestroyNotify) lg_mailer_item_free);
	sqlite3_stmt *s = store_prep(st,
	        "UPDATE outbox SET state = 'sending', claim_token = ?1, attempts = attempts + 1, phase = NULL, "
	        "       claim_expires_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+' || ?2 || ' seconds') "
	        " WHERE id IN (SELECT id FROM ("
	        "   SELECT x.id, x.trigger_event_id, "
	        "          row_number() OVER (PARTITION BY x.campaign_id ORDER BY x.id) AS n, "
	        "          CASE WHEN x.trigger_event_id IS NULL OR ?5 = 0 THEN 0 ELSE "
	        "            (SELECT count(*) FROM outbox y WHERE y.kind = 'campaign' AND y.campaign_id = x.campaign_id "
	        "              AND ((y.state = 'sent' AND y.sent_at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 day')) "
	        "                   OR y.state = 'sending')) END AS used "
	        "     FROM outbox x JOIN campaigns c ON c.id = x.campaign_id AND c.state = 'active' "
	        "    WHERE x.kind = 'campaign' AND x.state = 'queued' AND x.next_attempt_at <= " NOW
	        "      AND (x.trigger_event_id IS NOT NULL OR ?4)) "
	        "   WHERE trigger_event_id IS NULL OR ?5 = 0 OR n + used <= ?5 "
	        "   ORDER BY id LIMIT ?3) "
	        "RETURNING id, attempts, campaign_id, end_user_id, recipient, payload, event, trigger_event_id IS NOT NULL",
	        "siibi", error, token, (gint64) lease, (gint64) max, blasts, (gint64) per_day);
	int r;
	while ((r = store_step_row(st, s, error)) > 0) {
		lg_mailer_item *it = g_new0(lg_mailer_item, 1);
		it->id = sqlite3_column_int64(s, 0);
		it->attempts = sqlite3_column_int64(s, 1);
		it->campaign_id = sqlite3_column_int64(s, 2);
		it->end_user_id = sqlite3_column_int64(s, 3);
		it->recipient = store_col_dup(s, 4);
		it->payload = store_col_dup(s, 5);
		it->campaign = store_col_dup(s, 6);
		it->triggered = sqlite3_column_int(s, 7) != 0;
		g_ptr_array_add(*items_r, it);
	}
	if (r < 0)
		return FALSE;
	/* RETURNING gives no order: send in id order */
	g_ptr_array_sort(*items_r, item_cmp);
	return TRUE;
}

gboolean
lg_store_mailer_recheck(lg_store *st, gint64 id, char **reason_r, gboolean *paused_r, GError **error)
{
	*reason_r = NULL;
	*paused_r = FALSE;
	sqlite3_stmt *s = store_prep(st,
	        "SELECT c.state <> 'active', " EXCLUDED
	        "  FROM outbox x JOIN campaigns c ON c.id = x.campaign_id "
	        "  LEFT JOIN end_users eu ON eu.id = x.end_user_id "
	        "  LEFT JOIN organizations o ON o.id = eu.organization_id WHERE x.id = ?", "i", error, id);
	int r = store_step_row(st, s, error);
	if (r < 0)
		return FALSE;
	if (r == 0) {
		*reason_r = g_strdup("the row vanished");
		return TRUE;
	}
	*paused_r = sqlite3_column_int(s, 0) != 0;
	*reason_r = store_col_dup(s, 1);
	store_done(s);
	return TRUE;
}

gboolean
lg_store_mailer_data(lg_store *st, gint64 id, const char *token, const char *message_id, gint64 sent_id,
                     GError **error)
{
	if (!lg_store_begin(st, error))
		return FALSE;
	gint64 n = 0;
	gboolean ok = sent_id == 0 ||
	        store_exec(st, "UPDATE outbox SET state = 'sent', sent_at = " NOW ", last_error = NULL, claim_token = NULL, "
	                   "claim_expires_at = NULL WHERE id = ? AND claim_token = ? AND state = 'sending'",
	                   "is", NULL, error, sent_id, token);
	ok = ok && store_exec(st, "UPDATE outbox SET phase = 'data', message_id = ? "
	                      "WHERE id = ? AND claim_token = ? AND state = 'sending'", "sis", &n, error, message_id, id, token);
	if (ok && n == 0) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_NOTFOUND, "outbox row %" G_GINT64_FORMAT ": claim lost", id);
		ok = FALSE;
	}
	return store_finish(st, ok, error);
}

gboolean
lg_store_mailer_finish(lg_store *st, gint64 id, const char *token, lg_mailer_outcome outcome, double delay,
                       const char *error_text, GError **error)
{
	g_autofree char *secs = g_strdup_printf("+%.3f seconds", delay > 0 ? delay : 0.0);
	switch (outcome) {
	case LG_MAILER_SENT:
		return store_exec(st, "UPDATE outbox SET state = 'sent', sent_at = " NOW ", last_error = ?, claim_token = NULL, "
		                  "claim_expires_at = NULL WHERE id = ? AND claim_token = ? AND state = 'sending'",
		                  "sis", NULL, error, error_text, id, token);
	case LG_MAILER_RETRY:
		return store_exec(st, "UPDATE outbox SET state = 'queued', phase = NULL, last_error = ?, "
		                  "next_attempt_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?), claim_token = NULL, "
		                  "claim_expires_at = NULL WHERE id = ? AND claim_token = ? AND state = 'sending'",
		                  "ssis", NULL, error, error_text, secs, id, token);
	case LG_MAILER_FAILED:
	case LG_MAILER_SKIPPED:
		return store_exec(st, "UPDATE outbox SET state = ?, last_error = ?, claim_token = NULL, claim_expires_at = NULL "
		                  "WHERE id = ? AND claim_token = ? AND state = 'sending'", "ssis", NULL, error,
		                  outcome == LG_MAILER_FAILED ? "failed" : "skipped", error_text, id, token);
	case LG_MAILER_RELEASE:
		return store_exec(st, "UPDATE outbox SET state = 'queued', phase = NULL, attempts = max(attempts - 1, 0), "
		                  "claim_token = NULL, claim_expires_at = NULL "
		                  "WHERE id = ? AND claim_token = ? AND state = 'sending' AND phase IS NULL",
		                  "is", NULL, error, id, token);
	}
	return TRUE;
}

gboolean
lg_store_mailer_close_done(lg_store *st, GError **error)
{
	return store_exec(st, "UPDATE campaigns SET state = 'done', finished_at = " NOW " "
	                  "WHERE kind = 'blast' AND state = 'active' AND NOT EXISTS (SELECT 1 FROM outbox x "
	                  "WHERE x.kind = 'campaign' AND x.campaign_id = campaigns.id AND x.state IN ('queued', 'sending'))",
	                  "", NULL, error);
}

gboolean
lg_store_mailer_next_due(lg_store *st, gboolean blasts, double *seconds_r, GError **error)
{
	sqlite3_stmt *s = store_prep(st,
	        "SELECT (julianday(min(t)) - julianday('now')) * 86400.0 FROM ("
	        " SELECT min(x.next_attempt_at) AS t FROM outbox x JOIN campaigns c ON c.id = x.campaign_id "
	        "  WHERE x.state = 'queued' AND x.kind = 'campaign' AND c.state = 'active' "
	        "    AND (x.trigger_event_id IS NOT NULL OR ?) "
	        " UNION ALL SELECT min(claim_expires_at) FROM outbox WHERE state = 'sending' AND kind = 'campaign')",
	        "b", error, blasts);
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

gboolean
lg_store_json_values(lg_store *st, const char *json, GHashTable **values_r, GError **error)
{
	*values_r = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	sqlite3_stmt *s = store_prep(st, "SELECT key, value FROM json_each(?) WHERE json_valid(?1) AND value IS NOT NULL",
	                             "s", error, json ? json : "{}");
	int r;
	while ((r = store_step_row(st, s, error)) > 0)
		g_hash_table_insert(*values_r, store_col_dup(s, 0), store_col_dup(s, 1));
	return r == 0;
}

gboolean
lg_store_mailer_sync_full(lg_store *st, GError **error)
{
	return store_exec(st, "PRAGMA synchronous=FULL", "", NULL, error);
}
