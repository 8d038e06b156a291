/*
 * NAME
 *   store_ticket.c - a tech's changes to a ticket from the command line
 *   (`leadgate ticket set|assign`).
 *
 * SUMMARY
 *   status, priority and type, from a fixed table of columns; a status of
 *   resolved stamps resolved_at (and the schema's trigger raises
 *   ticket.resolved, which triggered campaigns follow, SPEC §11), any other
 *   clears it. assign raises ticket.assigned for the assignee.
 */
#include "config.h"
#include <string.h>
#include "store_int.h"
#include "store_model.h"

#define NOW "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

const char *const lg_ticket_statuses[] = { "new", "open", "in-progress", "waiting", "resolved", "closed", NULL };

static gboolean
ticket_id(lg_store *st, gint64 number, gint64 *id_r, GError **error)
{
	gboolean found;
	if (!store_get_int(st, "SELECT id FROM tickets WHERE number = ?", "i", id_r, &found, error, number))
		return FALSE;
	if (!found)
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_NOTFOUND, "no ticket #%" G_GINT64_FORMAT, number);
	return found;
}

gboolean
lg_store_ticket_set(lg_store *st, gint64 number, const char *field, const char *value, GError **error)
{
	static const struct { const char *field; const char *sql; } setters[] = {
		{ "status", "UPDATE tickets SET status = ?1, updated_at = " NOW ", resolved_at = "
		            "CASE WHEN ?1 = 'resolved' THEN coalesce(resolved_at, " NOW ") WHEN ?1 = 'closed' THEN resolved_at END "
		            "WHERE id = ?2" },
		{ "priority", "UPDATE tickets SET priority = ?, updated_at = " NOW " WHERE id = ?" },
		{ "type", "UPDATE tickets SET type = nullif(?, ''), updated_at = " NOW " WHERE id = ?" },
	};
	const char *sql = NULL;
	for (guint i = 0; i < G_N_ELEMENTS(setters); i++)
		if (g_strcmp0(setters[i].field, field) == 0)
			sql = setters[i].sql;
	if (sql == NULL) {
		g_set_error(error, LG_USAGE_ERROR, LG_USAGE_ERROR_ARGS, "unknown ticket field \"%s\" (status, priority, type)", field);
		return FALSE;
	}
	if (g_strcmp0(field, "status") == 0 && !g_strv_contains(lg_ticket_statuses, value)) {
		g_autofree char *all = g_strjoinv(", ", (char **) lg_ticket_statuses);
		g_set_error(error, LG_USAGE_ERROR, LG_USAGE_ERROR_ARGS, "status must be one of %s, not \"%s\"", all, value);
		return FALSE;
	}
	if (g_strcmp0(field, "priority") == 0 && (*value == '\0' || strlen(value) > 40)) {
		g_set_error(error, LG_USAGE_ERROR, LG_USAGE_ERROR_ARGS, "a priority is a word of 1 to 40 characters (low, normal, high, urgent)");
		return FALSE;
	}
	if (!lg_store_begin(st, error))
		return FALSE;
	gint64 id = 0;
	gboolean ok = ticket_id(st, number, &id, error) && store_exec(st, sql, "si", NULL, error, value, id);
	return store_finish(st, ok, error);
}

gboolean
lg_store_ticket_assign(lg_store *st, gint64 number, const char *user_email, GError **error)
{
	if (!lg_store_begin(st, error))
		return FALSE;
	gint64 id = 0, uid = 0;
	gboolean ok = ticket_id(st, number, &id, error) && lg_store_user_find(st, user_email, &uid, error);
	if (ok && uid == 0) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_NOTFOUND, "no user %s", user_email);
		ok = FALSE;
	}
	if (ok)
		ok = store_exec(st, "UPDATE tickets SET assigned_user_id = ?, updated_at = " NOW " WHERE id = ?", "ii", NULL, error, uid, id) &&
		     lg_store_event_add(st, "ticket.assigned", 0, id, NULL, error);
	return store_finish(st, ok, error);
}
