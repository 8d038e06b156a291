/*
 * NAME
 *   store_unsub.c - unsubscribes, campaign bounces, campaign sends (see
 *   store_unsub.h).
 */
#include "config.h"
#include <string.h>
#include "store_int.h"
#include "store_unsub.h"

#define NOW "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

void
lg_unsub_outcome_clear(lg_unsub_outcome *o)
{
	g_clear_pointer(&o->email, g_free);
	o->found = o->changed = FALSE;
}

gboolean
lg_store_unsubscribe(lg_store *st, gint64 end_user_id, const char *via, const char *token,
                     const char *message_id, lg_unsub_outcome *out, GError **error)
{
	memset(out, 0, sizeof *out);
	if (!store_get_text(st, "SELECT email FROM end_users WHERE id = ?", "i", &out->email, error, end_user_id))
		return FALSE;
	out->found = out->email != NULL;
	if (!out->found)
		return TRUE;
	g_autofree char *by = g_strconcat("unsubscribe:", via, NULL);
	gint64 n = 0;
	if (!store_exec(st, "UPDATE end_users SET receive_marketing = 0, marketing_changed_at = " NOW ", "
	                "marketing_changed_by = ? WHERE id = ? AND receive_marketing <> 0",
	                "si", &n, error, by, end_user_id))
		return FALSE;
	out->changed = n > 0;
	if (!out->changed)
		return TRUE;
	return store_exec(st, "INSERT INTO unsubscribes (end_user_id, address, via, token, message_id) VALUES (?, ?, ?, ?, ?)",
	                  "issss", NULL, error, end_user_id, out->email, via, token, message_id);
}

gboolean
lg_store_campaign_bounce(lg_store *st, gint64 outbox_id, const lg_dsn *dsn, gint64 dsn_message_row,
                         char **address_r, GError **error)
{
	*address_r = NULL;
	gint64 end_user = 0;
	gboolean found = FALSE;
	g_autofree char *rcpt = NULL;
	if (!store_get_text(st, "SELECT recipient FROM outbox WHERE id = ? AND kind = 'campaign'", "i",
	                    &rcpt, error, outbox_id) ||
	    !store_get_int(st, "SELECT coalesce(end_user_id, 0) FROM outbox WHERE id = ? AND kind = 'campaign'", "i",
	                   &end_user, &found, error, outbox_id))
		return FALSE;
	if (!found)
		return TRUE;
	const lg_dsn_recipient *why = NULL;
	for (guint i = 0; dsn && i < dsn->recipients->len && why == NULL; i++)
		if (lg_dsn_recipient_permanent(dsn->recipients->pdata[i]))
			why = dsn->recipients->pdata[i];
	if (!store_exec(st, "UPDATE outbox SET bounced_at = " NOW " WHERE id = ? AND bounced_at IS NULL", "i",
	                NULL, error, outbox_id))
		return FALSE;
	/* the address the send went to, not one the report names: the report's
	 * fields are a stranger's to write, the keyed reference is not */
	if (rcpt != NULL &&
	    !store_exec(st, "INSERT INTO undeliverable (address, status, diagnostic, dsn_message_id) VALUES (?, ?, ?, nullif(?, 0)) "
	                "ON CONFLICT (address) DO UPDATE SET status = excluded.status, diagnostic = excluded.diagnostic, "
	                "dsn_message_id = excluded.dsn_message_id, at = " NOW,
	                "sssi", NULL, error, rcpt, why ? why->status : NULL, why ? why->diagnostic : NULL,
	                dsn_message_row))
		return FALSE;
	if (end_user != 0 &&
	    !store_exec(st, "UPDATE end_users SET receive_marketing = 0, marketing_changed_at = " NOW ", "
	                "marketing_changed_by = 'bounce' WHERE id = ? AND receive_marketing <> 0",
	                "i", NULL, error, end_user))
		return FALSE;
	*address_r = g_steal_pointer(&rcpt);
	if (*address_r == NULL)
		*address_r = g_strdup("");
	return TRUE;
}

gboolean
lg_store_campaign_send(lg_store *st, gint64 outbox_id, gint64 *end_user_id_r, gint64 *org_r,
                       char **campaign_r, GError **error)
{
	*end_user_id_r = 0;
	*org_r = 0;
	*campaign_r = NULL;
	sqlite3_stmt *stmt = store_prep(st,
		"SELECT e.id, coalesce(e.organization_id, o.organization_id, 0), c.name "
		"FROM outbox o JOIN campaigns c ON c.id = o.campaign_id JOIN end_users e ON e.id = o.end_user_id "
		"WHERE o.id = ? AND o.kind = 'campaign'", "i", error, outbox_id);
	int rc = store_step_row(st, stmt, error);
	if (rc < 0)
		return FALSE;
	if (rc > 0) {
		*end_user_id_r = sqlite3_column_int64(stmt, 0);
		*org_r = sqlite3_column_int64(stmt, 1);
		*campaign_r = g_strdup((const char *) sqlite3_column_text(stmt, 2));
		store_done(stmt);
	}
	return TRUE;
}
