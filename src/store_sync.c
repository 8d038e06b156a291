/*
 * NAME
 *   store_sync.c - the SQL of the email sync (see store_sync.h).
 *
 * SUMMARY
 *   Activities and sync-log rows go in with INSERT ... ON CONFLICT DO
 *   NOTHING against the UNIQUE constraints of sql/003_sync.sql, so a write
 *   that was made before (a replayed spool event, the other path) is a
 *   no-op the caller can see, not an error that would roll back the rest
 *   of the message's outcomes.
 */
#include <string.h>
#include "store_int.h"
#include "store_sync.h"
#include "address.h"

void
lg_sync_user_clear(lg_sync_user *u)
{
	g_clear_pointer(&u->email, g_free);
	g_clear_pointer(&u->role, g_free);
	memset(u, 0, sizeof *u);
}

gboolean
lg_store_sync_user_find(lg_store *st, const char *email, lg_sync_user *u, GError **error)
{
	memset(u, 0, sizeof *u);
	sqlite3_stmt *s = store_prep(st, "SELECT id, email, role, sync_enabled, removed_at IS NOT NULL "
	                             "FROM users WHERE email = ?", "s", error, email);
	int r = store_step_row(st, s, error);
	if (r > 0) {
		u->id = sqlite3_column_int64(s, 0);
		u->email = g_strdup((const char *) sqlite3_column_text(s, 1));
		u->role = g_strdup((const char *) sqlite3_column_text(s, 2));
		u->sync_enabled = sqlite3_column_int(s, 3) != 0;
		u->removed = sqlite3_column_int(s, 4) != 0;
		store_done(s);
	}
	return r >= 0;
}

gboolean
lg_store_sync_user_addresses(lg_store *st, GHashTable **out, GError **error)
{
	*out = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	sqlite3_stmt *s = store_prep(st, "SELECT email FROM users", "", error);
	int r;
	while ((r = store_step_row(st, s, error)) > 0) {
		char *e = g_strdup((const char *) sqlite3_column_text(s, 0));
		g_hash_table_add(*out, e);
	}
	if (r < 0)
		g_clear_pointer(out, g_hash_table_unref);
	return r == 0;
}

static gboolean
text_column(lg_store *st, const char *sql, gint64 id, GPtrArray **out, GError **error)
{
	*out = g_ptr_array_new_with_free_func(g_free);
	sqlite3_stmt *s = store_prep(st, sql, "i", error, id);
	int r;
	while ((r = store_step_row(st, s, error)) > 0)
		g_ptr_array_add(*out, g_strdup((const char *) sqlite3_column_text(s, 0)));
	if (r < 0)
		g_clear_pointer(out, g_ptr_array_unref);
	return r == 0;
}

gboolean
lg_store_user_keywords(lg_store *st, gint64 user_id, GPtrArray **out, GError **error)
{
	return text_column(st, "SELECT keyword FROM user_keywords WHERE user_id = ? ORDER BY keyword",
	                   user_id, out, error);
}

gboolean
lg_store_user_exclusions(lg_store *st, gint64 user_id, GPtrArray **out, GError **error)
{
	return text_column(st, "SELECT item FROM user_exclusions WHERE user_id = ? ORDER BY item",
	                   user_id, out, error);
}

static char *
join_addresses(GPtrArray *list)
{
	if (list == NULL || list->len == 0)
		return NULL;
	GString *s = g_string_new(NULL);
	for (guint i = 0; i < list->len; i++) {
		lg_address *a = list->pdata[i];
		if (a->email == NULL)
			continue;
		if (s->len)
			g_string_append(s, ", ");
		g_string_append(s, a->email);
	}
	return g_string_free(s, FALSE);
}

gboolean
lg_store_sync_message_put(lg_store *st, const char *direction, lg_raw *raw, const lg_message *msg,
                          const lg_envelope *env, const char *body, gint64 *id_r, GError **error)
{
	gboolean found = FALSE;
	if (!store_get_int(st, "SELECT id FROM messages WHERE direction = ? AND sha256 = ?", "ss",
	                   id_r, &found, error, direction, msg->sha256))
		return FALSE;
	if (found)
		return TRUE;
	if (!lg_store_raw_put(st, raw, error))
		return FALSE;
	g_autofree char *ident = msg->message_id ? g_strdup(msg->message_id) : g_strconcat("sha256:", msg->sha256, NULL);
	GString *rcpts = g_string_new(NULL);
	for (guint i = 0; env->recipients && i < env->recipients->len; i++)
		g_string_append_printf(rcpts, "%s%s", i ? " " : "", (const char *) env->recipients->pdata[i]);
	g_autofree char *rcpt = g_string_free(rcpts, FALSE);
	g_autofree char *to = join_addresses(msg->to);
	g_autofree char *cc = join_addresses(msg->cc);
	if (!store_exec(st,
	        "INSERT INTO messages (direction, sha256, message_id, ident, in_reply_to, env_sender, env_recipients, "
	        "from_email, from_name, reply_to, to_addrs, cc_addrs, subject, date, body_text, body_from_html, size, "
	        "auto_flags, auto_submitted, precedence, list_id, queue_id, client_addr, client_name, client_helo) "
	        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	        "sssssssssssssssbiisssssss", NULL, error,
	        direction, msg->sha256, msg->message_id, ident, msg->in_reply_to, env->sender ? env->sender : "", rcpt,
	        msg->from ? msg->from->email : NULL, msg->from ? msg->from->name : NULL,
	        msg->reply_to ? msg->reply_to->email : NULL, to, cc, msg->subject, msg->date_iso, body,
	        msg->body_from_html, msg->size, (gint64) msg->auto_flags, msg->auto_submitted, msg->precedence,
	        msg->list_id, env->queue_id, env->client_addr, env->client_name, env->client_helo))
		return FALSE;
	*id_r = sqlite3_last_insert_rowid(st->db);
	for (guint i = 0; i < msg->attachments->len; i++) {
		lg_attachment *a = msg->attachments->pdata[i];
		if (!store_exec(st, "INSERT INTO attachments (message_id, position, filename, content_type, disposition, "
		                "size, sha256) VALUES (?, ?, ?, ?, ?, ?, ?)", "iisssis", NULL, error,
		                *id_r, (gint64) i, a->filename, a->content_type, a->disposition, a->size, a->sha256))
			return FALSE;
	}
	return TRUE;
}

gboolean
lg_store_sync_lead_find(lg_store *st, const char *field, const char *email, gint64 *lead_id_r, GError **error)
{
	*lead_id_r = 0;
	/* the two statements are fixed text: @field only chooses between them */
	if (g_strcmp0(field, "contact_email") == 0)
		return store_get_int(st, "SELECT l.id FROM leads l JOIN end_users e ON e.id = l.contact_id "
		                     "WHERE e.email = ? AND l.hidden = 0 ORDER BY l.id DESC LIMIT 1", "s",
		                     lead_id_r, NULL, error, email);
	return store_get_int(st, "SELECT id FROM leads WHERE sender_email = ? AND hidden = 0 "
	                     "ORDER BY id DESC LIMIT 1", "s", lead_id_r, NULL, error, email);
}

gboolean
lg_store_sync_lead_capture(lg_store *st, gint64 message_row, const char *email, const char *name,
                           const char *subject, const char *source, gint64 user_id, const char *reason,
                           gint64 *lead_id_r, GError **error)
{
	if (!store_exec(st,
	        "INSERT INTO leads (message_id, recipient, mailbox_mode, status, source, sender_email, sender_name, "
	        "subject, decided_by, reason, sync_user_id) VALUES (?, ?, 'never', 'unread', ?, ?, ?, ?, 'sync', ?, ?)",
	        "issssssi", NULL, error, message_row, email, source, email, name, subject ? subject : "", reason, user_id))
		return FALSE;
	*lead_id_r = sqlite3_last_insert_rowid(st->db);
	return TRUE;
}

gboolean
lg_store_activity_add(lg_store *st, const lg_activity_row *a, gint64 *id_r, gboolean *added_r, GError **error)
{
	gint64 n = 0;
	if (!store_exec(st,
	        "INSERT INTO activities (direction, ident, user_id, lead_id, message_id, counterpart, from_addr, to_addrs, "
	        "cc_addrs, bcc_addrs, subject, body, attachments, source) "
	        "VALUES (?, ?, ?, ?, nullif(?, 0), ?, ?, ?, ?, ?, ?, ?, ?, ?) "
	        "ON CONFLICT (ident, user_id, direction, lead_id) DO NOTHING",
	        "ssiiisssssssss", &n, error, a->direction, a->ident, a->user_id, a->lead_id, a->message_row,
	        a->counterpart, a->from_addr ? a->from_addr : "", a->to_addrs ? a->to_addrs : "", a->cc_addrs,
	        a->bcc_addrs, a->subject, a->body, a->attachments, a->source))
		return FALSE;
	*added_r = n > 0;
	if (n > 0) {
		*id_r = sqlite3_last_insert_rowid(st->db);
		return TRUE;
	}
	return store_get_int(st, "SELECT id FROM activities WHERE ident = ? AND user_id = ? AND direction = ? "
	                     "AND lead_id = ?", "sisi", id_r, NULL, error, a->ident, a->user_id, a->direction, a->lead_id);
}

gboolean
lg_store_sync_log_add(lg_store *st, const lg_sync_log_row *r, gboolean *added_r, GError **error)
{
	gint64 n = 0;
	if (!store_exec(st,
	        "INSERT INTO sync_log (user_id, direction, ident, message_id, subject, counterpart, outcome, reason, "
	        "lead_id, activity_id, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, nullif(?, 0), nullif(?, 0), ?) "
	        "ON CONFLICT (ident, user_id, direction, counterpart) DO NOTHING",
	        "isssssssiis", &n, error, r->user_id, r->direction, r->ident, r->message_id, r->subject,
	        r->counterpart ? r->counterpart : "", r->outcome, r->reason, r->lead_id, r->activity_id, r->source))
		return FALSE;
	*added_r = n > 0;
	return TRUE;
}

/* ---- the command line's operations ---------------------------------------- */

#define NOW "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

/* The id of the (not removed) user @email; NOTFOUND when none. */
static gboolean
user_id(lg_store *st, const char *email, gint64 *id_r, GError **error)
{
	g_autofree char *e = lg_addr_normalize(email);
	gboolean found = FALSE;
	*id_r = 0;
	if (!store_get_int(st, "SELECT id FROM users WHERE email = ? AND removed_at IS NULL", "s", id_r, &found,
	                   error, e ? e : email))
		return FALSE;
	if (!found) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_NOTFOUND, "no user %s", email);
		return FALSE;
	}
	return TRUE;
}

gboolean
lg_store_user_sync_set(lg_store *st, const char *email, gboolean on, GError **error)
{
	if (!lg_store_begin(st, error))
		return FALSE;
	gint64 id = 0;
	gboolean ok = user_id(st, email, &id, error) &&
	              store_exec(st, "UPDATE users SET sync_enabled = ? WHERE id = ?", "bi", NULL, error, on, id);
	return store_finish(st, ok, error);
}

static gboolean
list_edit(lg_store *st, const char *email, gboolean add, const char *value, const char *ins, const char *del,
          const char *what, GError **error)
{
	if (!lg_store_begin(st, error))
		return FALSE;
	gint64 id = 0, n = 0;
	gboolean ok = user_id(st, email, &id, error) &&
	              store_exec(st, add ? ins : del, "is", &n, error, id, value);
	if (ok && n == 0) {
		g_set_error(error, LG_STORE_ERROR, add ? LG_STORE_ERROR_EXISTS : LG_STORE_ERROR_NOTFOUND,
		            "%s has %s %s \"%s\"", email, add ? "the" : "no", what, value);
		ok = FALSE;
	}
	return store_finish(st, ok, error);
}

gboolean
lg_store_user_keyword_edit(lg_store *st, const char *email, gboolean add, const char *word, GError **error)
{
	g_autofree char *w = g_strstrip(g_strdup(word));
	if (*w == '\0' || strlen(w) > 200 || !g_utf8_validate(w, -1, NULL)) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_INVALID, "a keyword is 1 to 200 bytes of UTF-8");
		return FALSE;
	}
	return list_edit(st, email, add, w,
	                 "INSERT INTO user_keywords (user_id, keyword) VALUES (?, ?) ON CONFLICT DO NOTHING",
	                 "DELETE FROM user_keywords WHERE user_id = ? AND keyword = ?", "keyword", error);
}

gboolean
lg_store_user_exclusion_edit(lg_store *st, const char *email, gboolean add, const char *item, GError **error)
{
	g_autofree char *raw = g_strstrip(g_strdup(item));
	/* an address in its canonical form, or a domain in lower case */
	g_autofree char *it = strchr(raw, '@') != NULL && raw[0] != '@' ? lg_addr_normalize(raw)
	                    : g_utf8_strdown(raw[0] == '@' ? raw + 1 : raw, -1);
	if (it == NULL || *it == '\0' || strlen(it) > 320 || strchr(it, ' ') != NULL) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_INVALID, "\"%s\" is neither an address nor a domain", item);
		return FALSE;
	}
	return list_edit(st, email, add, it,
	                 "INSERT INTO user_exclusions (user_id, item) VALUES (?, ?) ON CONFLICT DO NOTHING",
	                 "DELETE FROM user_exclusions WHERE user_id = ? AND item = ?", "exclusion", error);
}

gboolean
lg_store_user_keyword_list(lg_store *st, const char *email, lg_table **out, GError **error)
{
	gint64 id = 0;
	return user_id(st, email, &id, error) &&
	       store_query_table(st, "SELECT keyword, created_at FROM user_keywords WHERE user_id = ? ORDER BY keyword",
	                         "i", out, error, id);
}

gboolean
lg_store_user_exclusion_list(lg_store *st, const char *email, lg_table **out, GError **error)
{
	gint64 id = 0;
	return user_id(st, email, &id, error) &&
	       store_query_table(st, "SELECT item, created_at FROM user_exclusions WHERE user_id = ? ORDER BY item",
	                         "i", out, error, id);
}

gboolean
lg_store_sync_log_list(lg_store *st, const char *from, const char *to, const char *user, const char *search,
                       lg_table **out, GError **error)
{
	g_autofree char *u = user ? lg_addr_normalize(user) : NULL;
	/* the search text is a LIKE pattern only through this escaping */
	g_autofree char *like = NULL;
	if (search != NULL) {
		GString *p = g_string_new("%");
		for (const char *c = search; *c; c++) {
			if (*c == '%' || *c == '_' || *c == '\\')
				g_string_append_c(p, '\\');
			g_string_append_c(p, *c);
		}
		g_string_append_c(p, '%');
		like = g_string_free(p, FALSE);
	}
	return store_query_table(st,
	        "SELECT s.at, u.email AS user, s.direction, s.message_id, s.subject, s.outcome, s.reason, "
	        "s.lead_id, s.counterpart FROM sync_log s JOIN users u ON u.id = s.user_id "
	        "LEFT JOIN leads l ON l.id = s.lead_id "
	        "WHERE s.at >= ? AND s.at < ? AND (? IS NULL OR u.email = ?) "
	        "AND (? IS NULL OR CAST(s.lead_id AS TEXT) = ? OR l.sender_name LIKE ? ESCAPE '\\' "
	        "OR l.sender_email LIKE ? ESCAPE '\\' OR s.subject LIKE ? ESCAPE '\\') "
	        "ORDER BY s.at, s.id", "sssssssss", out, error,
	        from, to, u ? u : user, u ? u : user, search, search, like, like, like);
}

/* A raw message that a quarantine entry still waits to replay is the only
 * copy of mail leadgate accepted: never purged, whatever its age. */
#define AWAITING_REPLAY \
	"EXISTS (SELECT 1 FROM quarantine q WHERE q.sha256 = raw_messages.sha256 AND q.replayed_at IS NULL)"

gboolean
lg_store_purge(lg_store *st, const char *before, gboolean dry_run, lg_purge_counts *n, GError **error)
{
	memset(n, 0, sizeof *n);
	/* a dry run only reads (a read-only store will do); the purge counts
	 * and changes in one transaction */
	if (!dry_run && !lg_store_begin(st, error))
		return FALSE;
	gboolean ok =
	    store_get_int(st, "SELECT count(*) FROM raw_messages WHERE created_at < ? AND data IS NOT NULL AND NOT "
	                  AWAITING_REPLAY, "s", &n->raw, NULL, error, before) &&
	    store_get_int(st, "SELECT count(*) FROM raw_messages WHERE created_at < ? AND data IS NOT NULL AND "
	                  AWAITING_REPLAY, "s", &n->kept, NULL, error, before) &&
	    store_get_int(st, "SELECT count(*) FROM messages WHERE received_at < ? AND body_text IS NOT NULL", "s",
	                  &n->bodies, NULL, error, before) &&
	    store_get_int(st, "SELECT count(*) FROM activities WHERE at < ? AND purged_at IS NULL", "s",
	                  &n->activities, NULL, error, before);
	if (ok && !dry_run)
		ok = store_exec(st, "UPDATE raw_messages SET data = NULL, purged_at = " NOW " WHERE created_at < ? "
		                "AND data IS NOT NULL AND NOT " AWAITING_REPLAY, "s", NULL, error, before) &&
		     store_exec(st, "UPDATE messages SET body_text = NULL WHERE received_at < ? AND body_text IS NOT NULL",
		                "s", NULL, error, before) &&
		     store_exec(st, "UPDATE activities SET body = NULL, purged_at = " NOW " WHERE at < ? "
		                "AND purged_at IS NULL", "s", NULL, error, before);
	if (dry_run)
		return ok;
	return store_finish(st, ok, error);
}
