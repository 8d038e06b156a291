/*
 * NAME
 *   store_model.c - SQL for leadgate's entities (see store_model.h).
 *
 * SUMMARY
 *   Every value is bound (store_int.h); no SQL text is ever built from data.
 *   Uniqueness is left to the schema's constraints: an insert that would
 *   double a row does nothing (ON CONFLICT DO NOTHING) and the existing row
 *   is read back, so a retried delivery finds what the first one wrote.
 */
#include "config.h"
#include <string.h>
#include "store_int.h"
#include "store_outbox.h"
#include "address.h"

#define NOW "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

/* ---- raw messages ------------------------------------------------------ */

gboolean
lg_store_raw_put(lg_store *st, lg_raw *raw, GError **error)
{
	const char *sha = lg_raw_sha256(raw);
	gint64 size = lg_raw_size(raw);
	gint64 have = 0;
	gboolean found = FALSE;
	if (!store_get_int(st, "SELECT data IS NOT NULL FROM raw_messages WHERE sha256 = ?", "s",
	                   &have, &found, error, sha))
		return FALSE;
	if (found && have)
		return TRUE;   /* stored once per content */
	if (size > G_MAXINT32) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_INVALID, "message of %" G_GINT64_FORMAT " bytes is too large to store", size);
		return FALSE;
	}
	/* A plain INSERT keeps zeroblob() lazy; an UPSERT would make SQLite
	 * build the whole blob in memory. A purged copy is filled again. */
	gboolean ok = found ? store_exec(st, "UPDATE raw_messages SET data = zeroblob(?), purged_at = NULL WHERE sha256 = ?",
	                                 "is", NULL, error, size, sha)
	                    : store_exec(st, "INSERT INTO raw_messages (sha256, size, data) VALUES (?, ?, zeroblob(?))",
	                                 "sii", NULL, error, sha, size, size);
	if (!ok)
		return FALSE;
	gint64 rowid = 0;
	if (!store_get_int(st, "SELECT rowid FROM raw_messages WHERE sha256 = ?", "s", &rowid, NULL, error, sha))
		return FALSE;
	/* stream the bytes in: memory stays flat however big the message */
	sqlite3_blob *blob = NULL;
	int rc = sqlite3_blob_open(st->db, "main", "raw_messages", "data", rowid, 1, &blob);
	if (rc != SQLITE_OK) {
		store_set_error(st, rc, error, "blob open");
		return FALSE;
	}
	GMimeStream *s = lg_raw_stream(raw);
	g_mime_stream_reset(s);
	char buf[65536];
	gint64 off = 0;
	while (off < size) {
		ssize_t r = g_mime_stream_read(s, buf, sizeof buf);
		if (r <= 0)
			break;
		rc = sqlite3_blob_write(blob, buf, (int) r, (int) off);
		if (rc != SQLITE_OK) {
			store_set_error(st, rc, error, "blob write");
			sqlite3_blob_close(blob);
			return FALSE;
		}
		off += r;
	}
	rc = sqlite3_blob_close(blob);
	if (rc != SQLITE_OK) {
		store_set_error(st, rc, error, "blob close");
		return FALSE;
	}
	if (off != size) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_IO, "raw message read back %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT " bytes", off, size);
		return FALSE;
	}
	return TRUE;
}

gboolean
lg_store_raw_get(lg_store *st, const char *sha256, lg_raw **raw_r, GError **error)
{
	*raw_r = NULL;
	gint64 rowid = 0, size = 0;
	gboolean found = FALSE;
	if (!store_get_int(st, "SELECT rowid FROM raw_messages WHERE sha256 = ? AND data IS NOT NULL", "s",
	                   &rowid, &found, error, sha256))
		return FALSE;
	if (!found)
		return TRUE;
	if (!store_get_int(st, "SELECT size FROM raw_messages WHERE rowid = ?", "i", &size, NULL, error, rowid))
		return FALSE;
	sqlite3_blob *blob = NULL;
	int rc = sqlite3_blob_open(st->db, "main", "raw_messages", "data", rowid, 0, &blob);
	if (rc != SQLITE_OK) {
		store_set_error(st, rc, error, "blob open");
		return FALSE;
	}
	g_autoptr(lg_raw) raw = lg_raw_new(NULL, 1024 * 1024);
	char buf[65536];
	for (gint64 off = 0; off < size;) {
		int n = (int) MIN((gint64) sizeof buf, size - off);
		rc = sqlite3_blob_read(blob, buf, n, (int) off);
		if (rc != SQLITE_OK) {
			store_set_error(st, rc, error, "blob read");
			sqlite3_blob_close(blob);
			return FALSE;
		}
		if (!lg_raw_write(raw, buf, (gsize) n, error)) {
			sqlite3_blob_close(blob);
			return FALSE;
		}
		off += n;
	}
	sqlite3_blob_close(blob);
	if (!lg_raw_finish(raw, error))
		return FALSE;
	*raw_r = g_steal_pointer(&raw);
	return TRUE;
}

/* ---- messages ---------------------------------------------------------- */

static char *
join_addresses(GPtrArray *list)
{
	if (list == NULL || list->len == 0)
		return NULL;
	GString *s = g_string_new(NULL);
	for (guint i = 0; i < list->len; i++) {
		lg_address *a = list->pdata[i];
		if (s->len)
			g_string_append(s, ", ");
		g_string_append(s, a->email);
	}
	return g_string_free(s, FALSE);
}

static char *
join_strv(GPtrArray *list, const char *sep)
{
	if (list == NULL || list->len == 0)
		return NULL;
	GString *s = g_string_new(NULL);
	for (guint i = 0; i < list->len; i++) {
		if (s->len)
			g_string_append(s, sep);
		g_string_append(s, list->pdata[i]);
	}
	return g_string_free(s, FALSE);
}

static gboolean
message_link_dsn(lg_store *st, const lg_message *msg, gint64 id, GError **error)
{
	if (msg->dsn == NULL)
		return TRUE;
	if (msg->dsn->original_message_id) {
		if (!store_exec(st, "UPDATE messages SET bounce_of = (SELECT id FROM messages WHERE message_id = ? "
		                "AND id <> ? ORDER BY direction = 'out' DESC, id DESC LIMIT 1) WHERE id = ?",
		                "sii", NULL, error, msg->dsn->original_message_id, id, id))
			return FALSE;
	}
	for (guint i = 0; i < msg->dsn->recipients->len; i++) {
		lg_dsn_recipient *r = msg->dsn->recipients->pdata[i];
		if (r->address == NULL || !lg_dsn_recipient_permanent(r))
			continue;
		/* An address the mailer sends campaigns to is marked only by a
		 * bounce that a keyed reference ties to one of its sends
		 * (store_unsub.c): a report's fields are a stranger's to write,
		 * and a forged one must not keep campaign mail from anyone. */
		if (!store_exec(st, "INSERT INTO undeliverable (address, status, diagnostic, dsn_message_id) "
		                "SELECT ?1, ?2, ?3, ?4 WHERE NOT EXISTS "
		                "(SELECT 1 FROM outbox WHERE kind = 'campaign' AND recipient = ?1) "
		                "ON CONFLICT (address) DO UPDATE SET status = excluded.status, diagnostic = excluded.diagnostic, "
		                "dsn_message_id = excluded.dsn_message_id, at = " NOW,
		                "sssi", NULL, error, r->address, r->status, r->diagnostic, id))
			return FALSE;
	}
	return TRUE;
}

gboolean
lg_store_message_put(lg_store *st, const lg_message *msg, const lg_envelope *env,
                     const lg_message_facts *facts, gint64 *id_r, gboolean *created_r, GError **error)
{
	*created_r = FALSE;
	gboolean found = FALSE;
	if (!store_get_int(st, "SELECT id FROM messages WHERE direction = 'in' AND sha256 = ?", "s",
	                   id_r, &found, error, msg->sha256))
		return FALSE;
	if (found)
		return TRUE;
	g_autofree char *ident = msg->message_id ? g_strdup(msg->message_id) : g_strconcat("sha256:", msg->sha256, NULL);
	g_autofree char *refs = join_strv(msg->references, " ");
	g_autofree char *rcpts = join_strv(env->recipients, " ");
	g_autofree char *to = join_addresses(msg->to);
	g_autofree char *cc = join_addresses(msg->cc);
	g_autofree char *warnings = join_strv(msg->warnings, "\n");
	if (!store_exec(st,
	        "INSERT INTO messages (direction, sha256, message_id, ident, in_reply_to, refs, env_sender, "
	        "env_recipients, from_email, from_name, reply_to, to_addrs, cc_addrs, subject, date, body_text, "
	        "body_from_html, size, auto_flags, auto_submitted, precedence, list_id, spf_result, dmarc_result, "
	        "queue_id, client_addr, client_name, client_helo, warnings) "
	        "VALUES ('in', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	        "sssssssssssssssbiissssssssss", NULL, error,
	        msg->sha256, msg->message_id, ident, msg->in_reply_to, refs, env->sender, rcpts ? rcpts : "",
	        msg->from ? msg->from->email : NULL, msg->from ? msg->from->name : NULL,
	        msg->reply_to ? msg->reply_to->email : NULL, to, cc, msg->subject, msg->date_iso,
	        msg->body_text, msg->body_from_html, msg->size, (gint64) msg->auto_flags, msg->auto_submitted,
	        msg->precedence, msg->list_id, facts->spf_result, facts->dmarc_result, env->queue_id,
	        env->client_addr, env->client_name, env->client_helo, warnings))
		return FALSE;
	*id_r = sqlite3_last_insert_rowid(st->db);
	*created_r = TRUE;
	for (guint i = 0; i < msg->attachments->len; i++) {
		lg_attachment *a = msg->attachments->pdata[i];
		if (!store_exec(st, "INSERT INTO attachments (message_id, position, filename, content_type, disposition, size, sha256) "
		                "VALUES (?, ?, ?, ?, ?, ?, ?)", "iisssis", NULL, error,
		                *id_r, (gint64) i, a->filename, a->content_type, a->disposition, a->size, a->sha256))
			return FALSE;
	}
	return message_link_dsn(st, msg, *id_r, error);
}

/* ---- look-ups ---------------------------------------------------------- */

gboolean
lg_store_mailbox_lookup(lg_store *st, const char *addr, gint64 *id_r, char **mode_r, GError **error)
{
	*id_r = 0;
	*mode_r = NULL;
	sqlite3_stmt *s = store_prep(st, "SELECT id, mode FROM mailboxes WHERE address = ?", "s", error, addr);
	int r = store_step_row(st, s, error);
	if (r > 0) {
		*id_r = sqlite3_column_int64(s, 0);
		*mode_r = g_strdup((const char *) sqlite3_column_text(s, 1));
		store_done(s);
	}
	return r >= 0;
}

gboolean
lg_store_lead_for_delivery(lg_store *st, gint64 message_id, const char *rcpt, gint64 *lead_id_r, GError **error)
{
	return store_get_int(st, "SELECT id FROM leads WHERE message_id = ? AND recipient = ?", "is",
	                     lead_id_r, NULL, error, message_id, rcpt);
}

gboolean
lg_store_spam_match(lg_store *st, const char *email, char **pattern_r, GError **error)
{
	*pattern_r = NULL;
	if (email == NULL)
		return TRUE;
	if (!store_get_text(st, "SELECT pattern FROM spam_senders WHERE kind = 'address' AND pattern = ?", "s",
	                    pattern_r, error, email))
		return FALSE;
	/* the domain and each parent domain: spam@x.example.com matches example.com */
	for (const char *d = lg_addr_domain(email); *pattern_r == NULL && d && *d;) {
		if (!store_get_text(st, "SELECT pattern FROM spam_senders WHERE kind = 'domain' AND pattern = ?", "s",
		                    pattern_r, error, d))
			return FALSE;
		d = strchr(d, '.');
		if (d)
			d++;
		if (d && strchr(d, '.') == NULL)
			break;   /* never match a bare top-level domain */
	}
	return TRUE;
}

gboolean
lg_store_end_user_find(lg_store *st, const char *email, gint64 *id_r, gint64 *org_r, GError **error)
{
	*id_r = *org_r = 0;
	if (email == NULL)
		return TRUE;
	sqlite3_stmt *s = store_prep(st, "SELECT id, organization_id FROM end_users WHERE email = ?", "s", error, email);
	int r = store_step_row(st, s, error);
	if (r > 0) {
		*id_r = sqlite3_column_int64(s, 0);
		*org_r = sqlite3_column_int64(s, 1);
		store_done(s);
	}
	return r >= 0;
}

gboolean
lg_store_org_by_domain(lg_store *st, const char *domain, gint64 *org_r, GError **error)
{
	return store_get_int(st, "SELECT organization_id FROM organization_domains WHERE domain = ?", "s",
	                     org_r, NULL, error, domain);
}

gboolean
lg_store_user_find(lg_store *st, const char *email, gint64 *id_r, GError **error)
{
	g_autofree char *e = lg_addr_normalize(email);
	return store_get_int(st, "SELECT id FROM users WHERE email = ? AND removed_at IS NULL", "s",
	                     id_r, NULL, error, e ? e : email);
}

#define TICKET_COLS "t.id, t.number, coalesce(t.organization_id, 0), coalesce(t.contact_id, 0), t.status"

static gboolean
ticket_row(lg_store *st, sqlite3_stmt *s, lg_ticket_ref *t, GError **error)
{
	memset(t, 0, sizeof *t);
	int r = store_step_row(st, s, error);
	if (r > 0) {
		t->id = sqlite3_column_int64(s, 0);
		t->number = sqlite3_column_int64(s, 1);
		t->organization_id = sqlite3_column_int64(s, 2);
		t->contact_id = sqlite3_column_int64(s, 3);
		g_strlcpy(t->status, (const char *) sqlite3_column_text(s, 4), sizeof t->status);
		store_done(s);
	}
	return r >= 0;
}

gboolean
lg_store_ticket_by_msgid(lg_store *st, const char *msgid, lg_ticket_ref *t, GError **error)
{
	/* a message of the ticket: its source, a comment's message, or a lead linked to it */
	return ticket_row(st, store_prep(st,
	        "SELECT " TICKET_COLS " FROM tickets t WHERE t.id IN ("
	        " SELECT tk.id FROM tickets tk JOIN messages m ON m.id = tk.source_message_id WHERE m.message_id = ?1"
	        " UNION SELECT c.ticket_id FROM ticket_comments c JOIN messages m ON m.id = c.message_id WHERE m.message_id = ?1"
	        " UNION SELECT l.ticket_id FROM leads l JOIN messages m ON m.id = l.message_id WHERE m.message_id = ?1 AND l.ticket_id IS NOT NULL"
	        ") ORDER BY t.id DESC LIMIT 1", "s", error, msgid), t, error);
}

gboolean
lg_store_ticket_by_number(lg_store *st, gint64 number, lg_ticket_ref *t, GError **error)
{
	return ticket_row(st, store_prep(st, "SELECT " TICKET_COLS " FROM tickets t WHERE t.number = ?", "i", error, number), t, error);
}

gboolean
lg_store_ticket_by_ident(lg_store *st, const char *ident, lg_ticket_ref *t, GError **error)
{
	return ticket_row(st, store_prep(st, "SELECT " TICKET_COLS " FROM tickets t WHERE t.source_ident = ?", "s", error, ident), t, error);
}

gboolean
lg_store_sender_belongs(lg_store *st, const lg_ticket_ref *t, const char *email, gboolean *yes_r, GError **error)
{
	*yes_r = FALSE;
	if (email == NULL)
		return TRUE;
	gint64 n = 0;
	if (!store_get_int(st,
	        "SELECT (SELECT count(*) FROM end_users e WHERE e.email = ?1 AND (e.id = ?2 OR (?3 <> 0 AND e.organization_id = ?3)))"
	        " + (SELECT count(*) FROM organization_domains d WHERE ?3 <> 0 AND d.organization_id = ?3 AND d.domain = ?4)"
	        " + (SELECT count(*) FROM tickets tk JOIN messages m ON m.id = tk.source_message_id WHERE tk.id = ?5"
	        "    AND (m.from_email = ?1 OR tk.sender_email = ?1))"
	        " + (SELECT count(*) FROM ticket_comments c WHERE c.ticket_id = ?5 AND c.author_email = ?1)",
	        "siisi", &n, NULL, error, email, t->contact_id, t->organization_id, lg_addr_domain(email), t->id))
		return FALSE;
	*yes_r = n > 0;
	return TRUE;
}

gboolean
lg_store_lead_by_msgid(lg_store *st, const char *msgid, gint64 *lead_id_r, GError **error)
{
	return store_get_int(st, "SELECT l.id FROM leads l JOIN messages m ON m.id = l.message_id "
	                     "WHERE m.message_id = ? ORDER BY l.id DESC LIMIT 1", "s", lead_id_r, NULL, error, msgid);
}

gboolean
lg_store_recent_tickets(lg_store *st, const char *sender, int window, gint64 *n_r, GError **error)
{
	return store_get_int(st, "SELECT count(*) FROM tickets WHERE sender_email = ? AND created_at >= "
	                     "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || ? || ' seconds')", "si",
	                     n_r, NULL, error, sender, (gint64) window);
}

gboolean
lg_store_recent_events(lg_store *st, const char *sender, int window, gint64 *n_r, GError **error)
{
	return store_get_int(st, "SELECT count(*) FROM events WHERE sender_email = ? AND created_at >= "
	                     "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || ? || ' seconds')", "si",
	                     n_r, NULL, error, sender, (gint64) window);
}

gboolean
lg_store_setting(lg_store *st, const char *key, char **value_r, GError **error)
{
	/* read once per connection: every delivery asks for ref_key */
	const char *cached = g_hash_table_lookup(st->settings, key);
	if (cached != NULL) {
		*value_r = g_strdup(cached);
		return TRUE;
	}
	if (!store_get_text(st, "SELECT value FROM settings WHERE key = ?", "s", value_r, error, key))
		return FALSE;
	if (*value_r != NULL)
		g_hash_table_insert(st->settings, g_strdup(key), g_strdup(*value_r));
	return TRUE;
}

/* ---- writes for the chain ---------------------------------------------- */

gboolean
lg_store_lead_insert(lg_store *st, lg_lead_row *l, GError **error)
{
	if (!store_exec(st,
	        "INSERT INTO leads (message_id, recipient, mailbox_id, mailbox_mode, status, hidden, source, "
	        "sender_email, sender_name, sender_source, subject, decided_by, reason, suspected_spoof, automatic, "
	        "organization_id, contact_id, ticket_id, assigned_user_id, reply_to_lead_id, stage) "
	        "VALUES (?, ?, nullif(?, 0), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, nullif(?, 0), nullif(?, 0), nullif(?, 0), "
	        "nullif(?, 0), nullif(?, 0), ?)",
	        "isissbsssssssbbiiiiis", NULL, error,
	        l->message_id, l->recipient, l->mailbox_id, l->mailbox_mode, l->status, l->hidden,
	        l->source ? l->source : "email", l->sender_email, l->sender_name, l->sender_source, l->subject,
	        l->decided_by, l->reason, l->suspected_spoof, l->automatic, l->organization_id, l->contact_id,
	        l->ticket_id, l->assigned_user_id, l->reply_to_lead_id, l->stage))
		return FALSE;
	l->id = sqlite3_last_insert_rowid(st->db);
	return TRUE;
}

gboolean
lg_store_ticket_insert(lg_store *st, const lg_ticket_row *t, lg_ticket_ref *out, GError **error)
{
	if (!store_exec(st,
	        "INSERT INTO tickets (number, subject, status, priority, type, organization_id, contact_id, "
	        "assigned_user_id, created_from, source_message_id, source_ident, sender_email) "
	        "VALUES ((SELECT coalesce(max(number), 1000) + 1 FROM tickets), ?, coalesce(?, 'new'), "
	        "coalesce(?, 'normal'), ?, nullif(?, 0), nullif(?, 0), nullif(?, 0), ?, nullif(?, 0), ?, ?)",
	        "ssssiiisiss", NULL, error,
	        t->subject, t->status, t->priority, t->type, t->organization_id, t->contact_id,
	        t->assigned_user_id, t->created_from, t->source_message_id, t->source_ident, t->sender_email))
		return FALSE;
	gint64 id = sqlite3_last_insert_rowid(st->db);
	return ticket_row(st, store_prep(st, "SELECT " TICKET_COLS " FROM tickets t WHERE t.id = ?", "i", error, id), out, error);
}

gboolean
lg_store_comment_add(lg_store *st, gint64 ticket_id, gboolean is_public, const char *author_email,
                     const char *author_name, const char *body, gint64 message_id, gboolean *added_r,
                     GError **error)
{
	gint64 changes = 0;
	if (!store_exec(st, "INSERT INTO ticket_comments (ticket_id, public, author_email, author_name, body, message_id) "
	                "VALUES (?, ?, ?, ?, ?, nullif(?, 0)) ON CONFLICT (ticket_id, message_id) DO NOTHING",
	                "ibsssi", &changes, error, ticket_id, is_public, author_email, author_name, body ? body : "", message_id))
		return FALSE;
	if (added_r)
		*added_r = changes > 0;
	return store_exec(st, "UPDATE tickets SET updated_at = " NOW " WHERE id = ?", "i", NULL, error, ticket_id);
}

gboolean
lg_store_ticket_reopen(lg_store *st, gint64 ticket_id, gboolean *reopened_r, GError **error)
{
	gint64 changes = 0;
	if (!store_exec(st, "UPDATE tickets SET status = 'open', resolved_at = NULL, updated_at = " NOW
	                " WHERE id = ? AND status IN ('resolved', 'closed')", "i", &changes, error, ticket_id))
		return FALSE;
	*reopened_r = changes > 0;
	return TRUE;
}

/* Organizations and end users made from mail (or a rule) never consented
 * to marketing mail (SPEC §11): their flag is written off here, and the
 * schema's triggers (sql/005_mailer.sql) turn off any other insert's. */
gboolean
lg_store_org_ensure(lg_store *st, const char *name, const char *created_from, gint64 *id_r, GError **error)
{
	/* organizations.name holds 1 to 500 characters */
	g_autofree char *clamped = NULL;
	if (g_utf8_strlen(name, -1) > 500)
		name = clamped = g_utf8_substring(name, 0, 500);
	if (!store_exec(st, "INSERT INTO organizations (name, created_from, receive_marketing) VALUES (?, ?, 0) ON CONFLICT DO NOTHING",
	                "ss", NULL, error, name, created_from))
		return FALSE;
	return store_get_int(st, "SELECT id FROM organizations WHERE name = ? COLLATE NOCASE", "s", id_r, NULL, error, name);
}

gboolean
lg_store_org_create_for_domain(lg_store *st, const char *domain, const char *created_from, gint64 *id_r,
                               GError **error)
{
	*id_r = 0;
	/* bounded: past this many namesakes the end user stands alone */
	for (int n = 1; n <= 20 && *id_r == 0; n++) {
		g_autofree char *name = n == 1 ? g_strdup(domain) : g_strdup_printf("%s (%d)", domain, n);
		gint64 changes = 0;
		if (!store_exec(st, "INSERT INTO organizations (name, created_from, receive_marketing) VALUES (?, ?, 0) ON CONFLICT DO NOTHING",
		                "ss", &changes, error, name, created_from))
			return FALSE;
		if (changes > 0)
			*id_r = sqlite3_last_insert_rowid(st->db);
	}
	return *id_r == 0 || lg_store_org_domain_add(st, *id_r, domain, error);
}

gboolean
lg_store_org_domain_add(lg_store *st, gint64 org_id, const char *domain, GError **error)
{
	return store_exec(st, "INSERT INTO organization_domains (domain, organization_id) VALUES (?, ?) "
	                  "ON CONFLICT (domain) DO NOTHING", "si", NULL, error, domain, org_id);
}

gboolean
lg_store_end_user_ensure(lg_store *st, const char *email, const char *name, gint64 org_id, gint64 *id_r, GError **error)
{
	if (!store_exec(st, "INSERT INTO end_users (email, name, organization_id, receive_marketing) VALUES (?, ?, nullif(?, 0), 0) "
	                "ON CONFLICT (email) DO UPDATE SET organization_id = coalesce(end_users.organization_id, excluded.organization_id)",
	                "ssi", NULL, error, email, name, org_id))
		return FALSE;
	return store_get_int(st, "SELECT id FROM end_users WHERE email = ?", "s", id_r, NULL, error, email);
}

gboolean
lg_store_event_add(lg_store *st, const char *event, gint64 lead_id, gint64 ticket_id, const char *sender, GError **error)
{
	/* the sender is the actor: a user who mails in is not notified of it;
	 * the event fans out into the outbox in the same transaction (§6) */
	return store_exec(st, "INSERT INTO events (event, lead_id, ticket_id, sender_email, actor_email) "
	                  "VALUES (?, nullif(?, 0), nullif(?, 0), ?, ?)",
	                  "siiss", NULL, error, event, lead_id, ticket_id, sender, sender) &&
	       lg_store_outbox_fanout(st, sqlite3_last_insert_rowid(st->db), NULL, error);
}

gboolean
lg_store_quarantine_add(lg_store *st, lg_raw *raw, const lg_envelope *env, const char *why, gint64 *id_r, GError **error)
{
	if (!lg_store_raw_put(st, raw, error))
		return FALSE;
	g_autofree char *rcpts = join_strv(env->recipients, " ");
	if (!store_exec(st, "INSERT INTO quarantine (sha256, env_sender, env_recipients, queue_id, error) VALUES (?, ?, ?, ?, ?)",
	                "sssss", NULL, error, lg_raw_sha256(raw), env->sender, rcpts ? rcpts : "", env->queue_id, why))
		return FALSE;
	if (id_r)
		*id_r = sqlite3_last_insert_rowid(st->db);
	return TRUE;
}
