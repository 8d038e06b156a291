/*
 * NAME
 *   store_admin.c - the store's operations for the command line (store_model.h).
 *
 * SUMMARY
 *   Each function is one administrative act, run in its own transaction
 *   (begin/commit here) so that a failed command changes nothing. Lists
 *   read the SQL views of SPEC §8, the same interface techs query.
 */
#include "config.h"
#include <string.h>
#include "store_int.h"
#include "address.h"

#define NOW "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

static gboolean
bad_address(const char *what, const char *addr, GError **error)
{
	g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_INVALID, "%s \"%s\" is not a mail address", what, addr);
	return FALSE;
}

gboolean
lg_store_mailbox_add(lg_store *st, const char *addr, const char *mode, GError **error)
{
	g_autofree char *a = lg_addr_normalize(addr);
	if (a == NULL)
		return bad_address("mailbox", addr, error);
	if (!lg_store_begin(st, error))
		return FALSE;
	gboolean ok = store_exec(st, "INSERT INTO mailboxes (address, mode) VALUES (?, ?) "
	                         "ON CONFLICT (address) DO UPDATE SET mode = excluded.mode", "ss", NULL, error, a, mode);
	return store_finish(st, ok, error);
}

gboolean
lg_store_mailbox_list(lg_store *st, lg_table **out, GError **error)
{
	return store_query_table(st, "SELECT address, mode, created_at FROM mailboxes ORDER BY address", "", out, error);
}

gboolean
lg_store_org_add(lg_store *st, const char *name, char **domains, gint64 *id_r, GError **error)
{
	if (!lg_store_begin(st, error))
		return FALSE;
	/* the uniqueness rules (name, case aside; each domain to one
	 * organization) are checked first, so that the user reads which record
	 * is in the way rather than SQLite's "UNIQUE constraint failed" */
	g_autofree char *other = NULL;
	gboolean ok = store_get_text(st, "SELECT '\"' || name || '\" already exists (id ' || id || ')' "
	                             "FROM organizations WHERE name = ? COLLATE NOCASE", "s", &other, error, name);
	if (ok && other) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_EXISTS, "organization %s", other);
		ok = FALSE;
	}
	if (ok)
		ok = store_exec(st, "INSERT INTO organizations (name) VALUES (?)", "s", NULL, error, name);
	if (ok)
		*id_r = sqlite3_last_insert_rowid(st->db);
	for (char **d = domains; ok && d && *d; d++) {
		g_autofree char *probe = g_strconcat("x@", *d, NULL);
		g_autofree char *canon = lg_addr_normalize(probe);
		if (canon == NULL) {
			ok = bad_address("domain", *d, error);
			break;
		}
		g_autofree char *owner = NULL;
		ok = store_get_text(st, "SELECT '\"' || o.name || '\" (id ' || o.id || ')' FROM organization_domains d "
		                    "JOIN organizations o ON o.id = d.organization_id WHERE d.domain = ?", "s",
		                    &owner, error, lg_addr_domain(canon));
		if (ok && owner) {
			g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_EXISTS,
			            "domain %s already belongs to organization %s", lg_addr_domain(canon), owner);
			ok = FALSE;
		}
		/* the same domain twice on one command line is one domain */
		if (ok)
			ok = store_exec(st, "INSERT INTO organization_domains (domain, organization_id) VALUES (?, ?) "
			                "ON CONFLICT (domain) DO NOTHING", "si", NULL, error, lg_addr_domain(canon), *id_r);
	}
	return store_finish(st, ok, error);
}

static gboolean
org_id_by_name(lg_store *st, const char *name, gint64 *id_r, GError **error)
{
	gboolean found;
	if (!store_get_int(st, "SELECT id FROM organizations WHERE name = ? COLLATE NOCASE", "s", id_r, &found, error, name))
		return FALSE;
	if (!found) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_NOTFOUND, "no organization named \"%s\"", name);
		return FALSE;
	}
	return TRUE;
}

gboolean
lg_store_contact_add(lg_store *st, const char *email, const char *name, const char *org, gint64 *id_r, GError **error)
{
	g_autofree char *e = lg_addr_normalize(email);
	if (e == NULL)
		return bad_address("contact", email, error);
	if (!lg_store_begin(st, error))
		return FALSE;
	gint64 org_id = 0, other = 0;
	gboolean found = FALSE;
	gboolean ok = org == NULL || org_id_by_name(st, org, &org_id, error);
	if (ok)
		ok = store_get_int(st, "SELECT id FROM end_users WHERE email = ?", "s", &other, &found, error, e);
	if (ok && found) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_EXISTS,
		            "end user %s already exists (id %" G_GINT64_FORMAT ")", e, other);
		ok = FALSE;
	}
	if (ok)
		ok = store_exec(st, "INSERT INTO end_users (email, name, organization_id) VALUES (?, ?, nullif(?, 0))",
		                "ssi", NULL, error, e, name, org_id);
	if (ok)
		*id_r = sqlite3_last_insert_rowid(st->db);
	return store_finish(st, ok, error);
}

/* "a@b.example" -> address; "b.example" or "@b.example" -> domain */
static char *
spam_pattern(const char *in, const char **kind)
{
	if (strchr(in, '@') && in[0] != '@') {
		*kind = "address";
		return lg_addr_normalize(in);
	}
	g_autofree char *probe = g_strconcat("x@", in[0] == '@' ? in + 1 : in, NULL);
	g_autofree char *canon = lg_addr_normalize(probe);
	*kind = "domain";
	return canon ? g_strdup(lg_addr_domain(canon)) : NULL;
}

gboolean
lg_store_spam_add(lg_store *st, const char *pattern, gint64 lead_id, GError **error)
{
	const char *kind;
	g_autofree char *p = spam_pattern(pattern, &kind);
	if (p == NULL)
		return bad_address("spam sender", pattern, error);
	if (!lg_store_begin(st, error))
		return FALSE;
	gboolean ok = store_exec(st, "INSERT INTO spam_senders (pattern, kind, lead_id) VALUES (?, ?, nullif(?, 0)) "
	                         "ON CONFLICT (pattern) DO NOTHING", "ssi", NULL, error, p, kind, lead_id);
	return store_finish(st, ok, error);
}

gboolean
lg_store_spam_remove(lg_store *st, const char *pattern, GError **error)
{
	const char *kind;
	g_autofree char *p = spam_pattern(pattern, &kind);
	if (p == NULL)
		return bad_address("spam sender", pattern, error);
	if (!lg_store_begin(st, error))
		return FALSE;
	gint64 n = 0;
	gboolean ok = store_exec(st, "DELETE FROM spam_senders WHERE pattern = ?", "s", &n, error, p);
	if (ok && n == 0) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_NOTFOUND, "%s is not on the spam list", p);
		ok = FALSE;
	}
	return store_finish(st, ok, error);
}

gboolean
lg_store_spam_list(lg_store *st, lg_table **out, GError **error)
{
	return store_query_table(st, "SELECT pattern, kind, created_at FROM spam_senders ORDER BY pattern", "", out, error);
}

gboolean
lg_store_user_add(lg_store *st, const char *email, const char *role, const char *name, GError **error)
{
	g_autofree char *e = lg_addr_normalize(email);
	if (e == NULL)
		return bad_address("user", email, error);
	if (!lg_store_begin(st, error))
		return FALSE;
	/* adding a removed user again brings them back */
	gboolean ok = store_exec(st, "INSERT INTO users (email, name, role) VALUES (?, ?, ?) "
	                         "ON CONFLICT (email) DO UPDATE SET name = coalesce(excluded.name, users.name), "
	                         "role = excluded.role, removed_at = NULL", "sss", NULL, error, e, name, role);
	return store_finish(st, ok, error);
}

gboolean
lg_store_user_remove(lg_store *st, const char *email, GError **error)
{
	g_autofree char *e = lg_addr_normalize(email);
	if (e == NULL)
		return bad_address("user", email, error);
	if (!lg_store_begin(st, error))
		return FALSE;
	gint64 n = 0;
	gboolean ok = store_exec(st, "UPDATE users SET removed_at = " NOW ", sync_enabled = 0 WHERE email = ? AND removed_at IS NULL",
	                         "s", &n, error, e);
	if (ok && n == 0) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_NOTFOUND, "no user %s", e);
		ok = FALSE;
	}
	return store_finish(st, ok, error);
}

gboolean
lg_store_user_list(lg_store *st, lg_table **out, GError **error)
{
	return store_query_table(st, "SELECT email, name, role, sync_enabled, created_at FROM users "
	                         "WHERE removed_at IS NULL ORDER BY email", "", out, error);
}

gboolean
lg_store_lead_list(lg_store *st, const char *status, gboolean hidden, lg_table **out, GError **error)
{
	return store_query_table(st,
	        "SELECT id, created_at, status, mailbox, sender_email, subject, decided_by, ticket_number "
	        "FROM v_leads WHERE (?1 IS NULL OR status = ?1) AND (hidden = 0 OR ?2) ORDER BY id",
	        "sb", out, error, status, hidden);
}

static gboolean
lead_exists(lg_store *st, gint64 id, GError **error)
{
	gboolean found;
	gint64 x;
	if (!store_get_int(st, "SELECT id FROM leads WHERE id = ?", "i", &x, &found, error, id))
		return FALSE;
	if (!found)
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_NOTFOUND, "no lead %" G_GINT64_FORMAT, id);
	return found;
}

gboolean
lg_store_lead_show(lg_store *st, gint64 id, lg_table **out, GError **error)
{
	if (!lead_exists(st, id, error))
		return FALSE;
	return store_query_table(st,
	        "SELECT v.*, l.reason, l.suspected_spoof, l.automatic, l.next_step, l.notes, l.reply_to_lead_id AS replies_to_lead, "
	        "m.message_id, m.env_sender, m.from_email, m.reply_to, m.to_addrs, m.cc_addrs, m.size, m.warnings, "
	        "(SELECT group_concat(coalesce(a.filename, '(unnamed)') || ' (' || a.content_type || ', ' || a.size || ' bytes)', '; ') "
	        "   FROM attachments a WHERE a.message_id = m.id) AS attachments, m.body_text AS body "
	        "FROM v_leads v JOIN leads l ON l.id = v.id JOIN messages m ON m.id = l.message_id WHERE v.id = ?",
	        "i", out, error, id);
}

gboolean
lg_store_lead_set_spam(lg_store *st, gint64 id, gboolean spam, GError **error)
{
	if (!lg_store_begin(st, error))
		return FALSE;
	g_autofree char *sender = NULL;
	gboolean ok = lead_exists(st, id, error) &&
	              store_get_text(st, "SELECT sender_email FROM leads WHERE id = ?", "i", &sender, error, id);
	if (ok && sender == NULL) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_INVALID, "lead %" G_GINT64_FORMAT " has no sender address", id);
		ok = FALSE;
	}
	if (ok && spam)
		ok = store_exec(st, "UPDATE leads SET status = 'lost', hidden = 1, updated_at = " NOW " WHERE id = ?", "i", NULL, error, id) &&
		     store_exec(st, "INSERT INTO spam_senders (pattern, kind, lead_id) VALUES (?, 'address', ?) "
		                "ON CONFLICT (pattern) DO NOTHING", "si", NULL, error, sender, id);
	else if (ok)
		ok = store_exec(st, "UPDATE leads SET status = CASE WHEN ticket_id IS NULL THEN 'unread' ELSE 'won' END, "
		                "hidden = 0, updated_at = " NOW " WHERE id = ?", "i", NULL, error, id) &&
		     store_exec(st, "DELETE FROM spam_senders WHERE pattern = ? AND kind = 'address'", "s", NULL, error, sender);
	return store_finish(st, ok, error);
}

gboolean
lg_store_lead_convert(lg_store *st, gint64 id, gboolean make_org, gboolean make_ticket, gint64 *number_r, GError **error)
{
	*number_r = 0;
	if (!lg_store_begin(st, error))
		return FALSE;
	gboolean ok = lead_exists(st, id, error);
	g_autofree char *sender = NULL, *name = NULL, *subject = NULL, *ident = NULL;
	gint64 org = 0, contact = 0, ticket = 0, msg = 0;
	gboolean found;
	if (ok)
		ok = store_get_text(st, "SELECT sender_email FROM leads WHERE id = ?", "i", &sender, error, id) &&
		     store_get_text(st, "SELECT sender_name FROM leads WHERE id = ?", "i", &name, error, id) &&
		     store_get_text(st, "SELECT subject FROM leads WHERE id = ?", "i", &subject, error, id) &&
		     store_get_int(st, "SELECT coalesce(organization_id, 0) FROM leads WHERE id = ?", "i", &org, NULL, error, id) &&
		     store_get_int(st, "SELECT coalesce(ticket_id, 0) FROM leads WHERE id = ?", "i", &ticket, NULL, error, id) &&
		     store_get_int(st, "SELECT message_id FROM leads WHERE id = ?", "i", &msg, NULL, error, id) &&
		     store_get_text(st, "SELECT ident FROM messages WHERE id = ?", "i", &ident, error, msg);
	/* a conversion that is already done says so and changes nothing */
	if (ok && make_ticket && ticket != 0) {
		gint64 number = 0;
		store_get_int(st, "SELECT number FROM tickets WHERE id = ?", "i", &number, &found, NULL, ticket);
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_EXISTS,
		            "lead %" G_GINT64_FORMAT " already has ticket #%" G_GINT64_FORMAT "; nothing was changed", id, number);
		ok = FALSE;
	}
	if (ok && make_org && !make_ticket && org != 0) {
		g_autofree char *oname = NULL;
		store_get_text(st, "SELECT name FROM organizations WHERE id = ?", "i", &oname, NULL, org);
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_EXISTS,
		            "lead %" G_GINT64_FORMAT " already belongs to organization \"%s\"; nothing was changed",
		            id, oname ? oname : "?");
		ok = FALSE;
	}
	if (ok && make_org && org == 0) {
		const char *dom = lg_addr_domain(sender);
		const char *oname = name ? name : (dom ? dom : sender);
		if (sender == NULL) {
			g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_INVALID, "lead %" G_GINT64_FORMAT " has no sender to make an organization from", id);
			ok = FALSE;
		} else {
			ok = lg_store_org_ensure(st, dom ? dom : oname, "lead-conversion", &org, error);
		}
	}
	if (ok && sender)
		ok = lg_store_end_user_ensure(st, sender, name, org, &contact, error);
	if (ok && make_ticket && ticket == 0) {
		lg_ticket_ref t;
		ok = lg_store_ticket_by_ident(st, ident, &t, error);
		if (ok && t.id == 0) {
			lg_ticket_row tr = { .subject = subject && *subject ? subject : "(no subject)", .organization_id = org,
			                     .contact_id = contact, .created_from = "lead-conversion", .source_message_id = msg,
			                     .source_ident = ident, .sender_email = sender };
			ok = lg_store_ticket_insert(st, &tr, &t, error);
		}
		ticket = t.id;
		*number_r = t.number;
	} else if (ok && ticket) {
		ok = store_get_int(st, "SELECT number FROM tickets WHERE id = ?", "i", number_r, &found, error, ticket);
	}
	if (ok)
		ok = store_exec(st, "UPDATE leads SET organization_id = nullif(?, 0), contact_id = nullif(?, 0), "
		                "ticket_id = nullif(?, 0), status = CASE WHEN ? THEN 'won' ELSE status END, hidden = 0, "
		                "updated_at = " NOW " WHERE id = ?", "iiibi", NULL, error, org, contact, ticket, ticket != 0, id);
	return store_finish(st, ok, error);
}

gboolean
lg_store_lead_assign(lg_store *st, gint64 id, const char *user_email, GError **error)
{
	if (!lg_store_begin(st, error))
		return FALSE;
	gint64 uid = 0;
	gboolean ok = lead_exists(st, id, error) && lg_store_user_find(st, user_email, &uid, error);
	if (ok && uid == 0) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_NOTFOUND, "no user %s", user_email);
		ok = FALSE;
	}
	if (ok)
		ok = store_exec(st, "UPDATE leads SET assigned_user_id = ?, updated_at = " NOW " WHERE id = ?", "ii", NULL, error, uid, id) &&
		     lg_store_event_add(st, "lead.assigned", id, 0, NULL, error);
	return store_finish(st, ok, error);
}

gboolean
lg_store_lead_set(lg_store *st, gint64 id, const char *field, const char *value, GError **error)
{
	/* the sales-funnel fields; the column is chosen from this fixed table */
	static const struct { const char *field; const char *sql; } setters[] = {
		{ "stage", "UPDATE leads SET stage = ?, updated_at = " NOW " WHERE id = ?" },
		{ "likelihood", "UPDATE leads SET likelihood = CAST(? AS INTEGER), updated_at = " NOW " WHERE id = ?" },
		{ "expected_value", "UPDATE leads SET expected_value = CAST(? AS REAL), updated_at = " NOW " WHERE id = ?" },
		{ "next_step", "UPDATE leads SET next_step = ?, updated_at = " NOW " WHERE id = ?" },
		{ "notes", "UPDATE leads SET notes = ?, updated_at = " NOW " WHERE id = ?" },
		{ "source", "UPDATE leads SET source = ?, updated_at = " NOW " WHERE id = ?" },
		{ "status", "UPDATE leads SET status = ?, updated_at = " NOW " WHERE id = ?" },
	};
	const char *sql = NULL;
	for (guint i = 0; i < G_N_ELEMENTS(setters); i++)
		if (g_strcmp0(setters[i].field, field) == 0)
			sql = setters[i].sql;
	if (sql == NULL) {
		g_set_error(error, LG_USAGE_ERROR, LG_USAGE_ERROR_ARGS,
		            "unknown lead field \"%s\" (stage, likelihood, expected_value, next_step, notes, source, status)", field);
		return FALSE;
	}
	static const char *const statuses[] = { "unread", "won", "lost", NULL };
	if (g_strcmp0(field, "status") == 0 && !g_strv_contains(statuses, value)) {
		g_set_error(error, LG_USAGE_ERROR, LG_USAGE_ERROR_ARGS, "status must be unread, won or lost, not \"%s\"", value);
		return FALSE;
	}
	if (g_strcmp0(field, "likelihood") == 0 || g_strcmp0(field, "expected_value") == 0) {
		char *end = NULL;
		double v = g_ascii_strtod(value, &end);
		if (end == value || *end != '\0' || v < 0 || (g_strcmp0(field, "likelihood") == 0 && (v > 100 || v != (gint64) v))) {
			g_set_error(error, LG_USAGE_ERROR, LG_USAGE_ERROR_ARGS, "%s must be %s, not \"%s\"", field,
			            g_strcmp0(field, "likelihood") == 0 ? "a whole number from 0 to 100" : "a number of at least 0", value);
			return FALSE;
		}
	}
	if (!lg_store_begin(st, error))
		return FALSE;
	gboolean ok = lead_exists(st, id, error) && store_exec(st, sql, "si", NULL, error, value, id);
	return store_finish(st, ok, error);
}

gboolean
lg_store_ticket_list(lg_store *st, const char *status, lg_table **out, GError **error)
{
	return store_query_table(st,
	        "SELECT number, created_at, status, priority, organization, contact_email, subject, comments "
	        "FROM v_tickets WHERE (?1 IS NULL OR status = ?1) ORDER BY number", "s", out, error, status);
}

gboolean
lg_store_ticket_show(lg_store *st, gint64 number, lg_table **ticket_r, lg_table **thread_r, GError **error)
{
	if (!store_query_table(st, "SELECT * FROM v_tickets WHERE number = ?", "i", ticket_r, error, number))
		return FALSE;
	if ((*ticket_r)->rows->len == 0) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_NOTFOUND, "no ticket #%" G_GINT64_FORMAT, number);
		g_clear_pointer(ticket_r, lg_table_free);
		return FALSE;
	}
	return store_query_table(st, "SELECT at, kind, author, body FROM v_ticket_thread WHERE ticket_number = ?",
	                         "i", thread_r, error, number);
}

gboolean
lg_store_quarantine_list(lg_store *st, gboolean pending_only, lg_table **out, GError **error)
{
	return store_query_table(st, "SELECT id, created_at, env_sender, env_recipients, error, replayed_at, replay_result "
	                         "FROM quarantine WHERE (replayed_at IS NULL OR NOT ?) ORDER BY id", "b", out, error, pending_only);
}

/* @what names the row for the error: "no quarantine entry 7" */
static gboolean
envelope_from_row(lg_store *st, const char *sql, const char *what, gint64 id, char **sha_r, lg_envelope **env_r, GError **error)
{
	*sha_r = NULL;
	*env_r = NULL;
	sqlite3_stmt *s = store_prep(st, sql, "i", error, id);
	int r = store_step_row(st, s, error);
	if (r < 0)
		return FALSE;
	if (r > 0) {
		*sha_r = g_strdup((const char *) sqlite3_column_text(s, 0));
		lg_envelope *env = lg_envelope_new((const char *) sqlite3_column_text(s, 1));
		g_auto(GStrv) rcpts = g_strsplit((const char *) sqlite3_column_text(s, 2), " ", -1);
		for (guint i = 0; rcpts[i]; i++)
			if (*rcpts[i])
				lg_envelope_add_rcpt(env, rcpts[i]);
		const unsigned char *q = sqlite3_column_text(s, 3);
		env->queue_id = q ? g_strdup((const char *) q) : NULL;
		*env_r = env;
		store_done(s);
	}
	if (*sha_r == NULL) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_NOTFOUND, "no %s %" G_GINT64_FORMAT, what, id);
		return FALSE;
	}
	return TRUE;
}

gboolean
lg_store_quarantine_get(lg_store *st, gint64 id, char **sha_r, lg_envelope **env_r, GError **error)
{
	return envelope_from_row(st, "SELECT sha256, env_sender, env_recipients, queue_id FROM quarantine WHERE id = ?",
	                         "quarantine entry", id, sha_r, env_r, error);
}

gboolean
lg_store_message_get(lg_store *st, gint64 id, char **sha_r, lg_envelope **env_r, GError **error)
{
	return envelope_from_row(st, "SELECT sha256, env_sender, env_recipients, queue_id FROM messages WHERE id = ?",
	                         "message", id, sha_r, env_r, error);
}

gboolean
lg_store_quarantine_done(lg_store *st, gint64 id, const char *result, GError **error)
{
	return store_exec(st, "UPDATE quarantine SET replayed_at = " NOW ", replay_result = ? WHERE id = ?",
	                  "si", NULL, error, result, id);
}

gboolean
lg_store_private_copy(lg_store *st, GError **error)
{
	/* SQLite cannot write to a read-only connection, not even in a
	 * transaction that is rolled back; and a read-write one would take the
	 * daemon's write lock and could leave a -wal behind on a file the user
	 * asked to leave alone. So the dry run gets a copy in memory. */
	sqlite3 *mem = NULL;
	int rc = sqlite3_open_v2(":memory:", &mem, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_backup *b = sqlite3_backup_init(mem, "main", st->db, "main");
		rc = b ? sqlite3_backup_step(b, -1) : sqlite3_errcode(mem);
		if (b)
			sqlite3_backup_finish(b);
		if (rc == SQLITE_DONE)
			rc = sqlite3_exec(mem, "PRAGMA foreign_keys=ON", NULL, NULL, NULL);
	}
	if (rc != SQLITE_OK) {
		store_set_error(st, rc, error, "cannot copy the database into memory for the dry run");
		sqlite3_close_v2(mem);
		return FALSE;
	}
	g_hash_table_remove_all(st->stmts);   /* they were prepared on the file's connection */
	sqlite3_close_v2(st->db);
	st->db = mem;
	st->readonly = FALSE;
	return TRUE;
}
