/*
 * NAME
 *   util.c - error domains, time stamps and the fault-injection test hook.
 */
#include "config.h"
#include "lg.h"

G_DEFINE_QUARK(lg-store-error-quark, lg_store_error)
G_DEFINE_QUARK(lg-chain-error-quark, lg_chain_error)
G_DEFINE_QUARK(lg-message-error-quark, lg_message_error)
G_DEFINE_QUARK(lg-config-error-quark, lg_config_error)
G_DEFINE_QUARK(lg-rules-error-quark, lg_rules_error)
G_DEFINE_QUARK(lg-usage-error-quark, lg_usage_error)

gboolean
lg_error_is_temporary(const GError *error)
{
	if (error == NULL)
		return FALSE;
	/* Every store failure but a refused value may pass once the admin or
	 * the lock holder acts: a read-only or damaged database is fixed by hand,
	 * and Postfix must keep the mail until then. */
	if (error->domain == LG_STORE_ERROR)
		return error->code != LG_STORE_ERROR_NOTFOUND &&
		       error->code != LG_STORE_ERROR_EXISTS &&
		       error->code != LG_STORE_ERROR_INVALID;
	if (error->domain == LG_MESSAGE_ERROR)
		return error->code == LG_MESSAGE_ERROR_IO;
	return FALSE;
}

char *
lg_time_iso(gint64 unix_usec)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(unix_usec / G_USEC_PER_SEC);
	if (dt == NULL)
		return g_strdup("1970-01-01T00:00:00.000Z");
	g_autofree char *base = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%S");
	return g_strdup_printf("%s.%03dZ", base, (int) ((unix_usec % G_USEC_PER_SEC) / 1000));
}

char *
lg_now_iso(void)
{
	return lg_time_iso(g_get_real_time());
}

gboolean
lg_parse_duration(const char *s, gint64 *seconds_r)
{
	if (s == NULL || !g_ascii_isdigit(*s))
		return FALSE;
	char *end = NULL;
	guint64 v = g_ascii_strtoull(s, &end, 10);
	gint64 unit = 1;
	switch (*end) {
	case '\0': case 's': break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	case 'w': unit = 7 * 86400; break;
	default: return FALSE;
	}
	if (*end != '\0' && end[1] != '\0')
		return FALSE;
	if (v > (guint64) (10 * 366 * 86400) / (guint64) unit)
		return FALSE;
	*seconds_r = (gint64) v * unit;
	return TRUE;
}

gboolean
lg_fault_injected(const char *what)
{
	static gsize once;
	static char **faults;
	if (g_once_init_enter(&once)) {
		const char *v = g_getenv("LEADGATE_FAULT_INJECT");
		faults = v && *v ? g_strsplit(v, ",", -1) : NULL;
		g_once_init_leave(&once, 1);
	}
	return faults != NULL && g_strv_contains((const char *const *) faults, what);
}
