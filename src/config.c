/*
 * NAME
 *   config.c - leadgate.conf through one key table (see config.h).
 *
 * SUMMARY
 *   keys[] names every section/key with its type, default, range and the
 *   field of lg_config it fills. Loading sets the defaults from the table,
 *   then reads the GKeyFile: an unknown section or key, a value of the
 *   wrong type or out of range is an error naming the file and the key.
 *   lg_config_dump_defaults() prints the same table, so the documentation
 *   and the code cannot disagree.
 */
#include "config.h"
#include <stddef.h>
#include <string.h>
#include "lg.h"
#include "config.h"

/* K_SET: a list whose items must be among choices, at least min of them. */
/* K_DUR: a duration ("90", "30s", "5m", "2h", "1d", "1w") kept as int seconds. */
typedef enum { K_STR, K_INT, K_SIZE, K_BOOL, K_LIST, K_ENUM, K_SET, K_DUR } key_type;

typedef struct {
	const char *section;
	const char *key;
	key_type type;
	size_t offset;
	const char *def;       /* default, as written in the file */
	gint64 min, max;       /* K_INT / K_SIZE / K_DUR */
	const char *choices;   /* K_ENUM: "a|b|c" */
	const char *doc;
} key_def;

#define F(field) offsetof(lg_config, field)

static const key_def keys[] = {
	{ "store", "database", K_STR, F(database), "leadgate.db", 0, 0, NULL,
	  "SQLite database file (created by `leadgate init` or at daemon start)" },
	{ "store", "busy_timeout_ms", K_INT, F(busy_timeout_ms), "5000", 0, 600000, NULL,
	  "how long a writer waits for a lock before the delivery fails temporarily" },

	{ "lmtpd", "listen", K_LIST, F(listen), "127.0.0.1:2424", 0, 0, NULL,
	  "LMTP sockets: host:port, [v6]:port or unix:/path; separated by ';'" },
	{ "lmtpd", "hostname", K_STR, F(hostname), "", 0, 0, NULL,
	  "name in the greeting; empty: the host name" },
	{ "lmtpd", "max_message_size", K_SIZE, F(max_message_size), "50M", 1024, G_GINT64_CONSTANT(4) << 30, NULL,
	  "largest message accepted (SIZE, 552 5.3.4 past it)" },
	{ "lmtpd", "max_recipients", K_INT, F(max_recipients), "1000", 1, 100000, NULL,
	  "recipients per transaction (452 4.5.3 past it)" },
	{ "lmtpd", "max_connections", K_INT, F(max_connections), "100", 1, 10000, NULL,
	  "concurrent LMTP sessions" },
	{ "lmtpd", "command_timeout", K_INT, F(command_timeout), "300", 1, 86400, NULL,
	  "seconds to wait for a command" },
	{ "lmtpd", "data_timeout", K_INT, F(data_timeout), "600", 1, 86400, NULL,
	  "seconds to wait for message data" },
	{ "lmtpd", "max_session_time", K_INT, F(max_session_time), "3600", 1, 604800, NULL,
	  "seconds a session may last; after its transaction then: 421 4.4.2" },
	{ "lmtpd", "spool_dir", K_STR, F(spool_dir), "", 0, 0, NULL,
	  "where messages larger than spool_mem_limit are spilled; empty: $TMPDIR" },
	{ "lmtpd", "spool_mem_limit", K_SIZE, F(spool_mem_limit), "1M", 4096, G_GINT64_CONSTANT(1) << 30, NULL,
	  "bytes of one message kept in memory" },
	{ "lmtpd", "socket_mode", K_STR, F(socket_mode), "0660", 0, 0, NULL,
	  "mode of unix: sockets (octal)" },
	{ "lmtpd", "socket_owner", K_STR, F(socket_owner), "", 0, 0, NULL,
	  "user:group owning unix: sockets; empty: unchanged" },
	{ "lmtpd", "user", K_STR, F(user), "", 0, 0, NULL,
	  "drop privileges to this user after binding; empty: refuse to run as root" },
	{ "lmtpd", "group", K_STR, F(group), "", 0, 0, NULL,
	  "and this group" },
	{ "lmtpd", "commit_batch", K_INT, F(commit_batch), "64", 1, 10000, NULL,
	  "most deliveries sharing one durable commit (group commit)" },

	{ "milter", "listen", K_LIST, F(milter_listen), "127.0.0.1:8891", 0, 0, NULL,
	  "milter socket (one): host:port, [v6]:port, unix:/path, or libmilter's inet:PORT@HOST, "
	  "inet6:PORT@HOST, unix:/path" },
	{ "milter", "outbound_daemons", K_LIST, F(outbound_daemons), "ORIGINATING", 0, 0, NULL,
	  "{daemon_name} values (Postfix milter_macro_daemon_name) whose mail is a user's outbound mail, "
	  "besides SASL-authenticated sessions; separated by ';'" },
	{ "milter", "spool_dir", K_STR, F(milter_spool_dir), "", 0, 0, NULL,
	  "folder of events waiting to be recorded (kept while the store is unavailable); "
	  "empty: the database's path with .spool appended" },
	{ "milter", "spool_mem_limit", K_SIZE, F(milter_spool_mem_limit), "256K", 4096, G_GINT64_CONSTANT(1) << 30, NULL,
	  "bytes of one message kept in memory; the rest goes to its file in spool_dir" },
	{ "milter", "user", K_STR, F(milter_user), "", 0, 0, NULL,
	  "drop privileges to this user after binding; empty: refuse to run as root" },
	{ "milter", "group", K_STR, F(milter_group), "", 0, 0, NULL,
	  "and this group" },

	{ "log", "target", K_ENUM, F(log_target), "stderr", 0, 0, "stderr|syslog",
	  "where the daemons log" },
	{ "log", "syslog_facility", K_ENUM, F(syslog_facility), "mail", 0, 0,
	  "mail|daemon|local0|local1|local2|local3|local4|local5|local6|local7",
	  "syslog facility" },

	{ "rules", "directory", K_STR, F(rules_dir), "rules", 0, 0, NULL,
	  "folder of *.sieve rule files, run in name order" },
	{ "rules", "regex_match_limit", K_INT, F(regex_match_limit), "100000", 100, 100000000, NULL,
	  "PCRE2 match limit per regex test" },
	{ "rules", "regex_depth_limit", K_INT, F(regex_depth_limit), "10000", 10, 10000000, NULL,
	  "PCRE2 depth limit per regex test" },

	{ "sync", "enabled", K_BOOL, F(sync_enabled), "true", 0, 0, NULL,
	  "the kill switch: false stops the email sync for all users" },
	{ "sync", "internal_domains", K_LIST, F(internal_domains), "", 0, 0, NULL,
	  "your own domains" },
	{ "sync", "skip_internal", K_BOOL, F(skip_internal), "true", 0, 0, NULL,
	  "mail between internal addresses only is not synced" },
	{ "sync", "connect_roles", K_SET, F(connect_roles), "sales;admin;manager", 1, 0,
	  "admin|tech|sales|marketing|manager",
	  "roles whose users may have their mail synced" },
	{ "sync", "lead_search_field", K_ENUM, F(lead_search_field), "email", 0, 0, "email|contact_email",
	  "how a lead is found by address: its sender email, or its contact's email" },
	{ "sync", "retention_days", K_INT, F(retention_days), "90", 1, 36500, NULL,
	  "days raw messages and bodies are kept (leadgate purge)" },
	{ "sync", "max_counterparts", K_INT, F(max_counterparts), "50", 1, 100000, NULL,
	  "a message with more external counterparts logs activities on existing leads only" },
	{ "sync", "body_max", K_SIZE, F(sync_body_max), "64K", 256, G_GINT64_CONSTANT(64) << 20, NULL,
	  "longest activity body; longer ones are cut with a visible marker" },

	{ "outbound", "enabled", K_BOOL, F(sync_out.enabled), "true", 0, 0, NULL,
	  "sync: log this direction's mail of users as activities" },
	{ "outbound", "mode", K_ENUM, F(sync_out.mode), "all", 0, 0, "all|keywords",
	  "sync: all mail, or only mail with a keyword" },
	{ "outbound", "keywords", K_LIST, F(sync_out.keywords), "", 0, 0, NULL,
	  "sync: admin keywords (case-insensitive; a phrase matches only as written, same words, order "
	  "and spacing); separated by ';'" },
	{ "outbound", "keywords_in", K_SET, F(sync_out.keywords_in), "subject;body", 1, 0, "subject|body",
	  "sync: where keywords are looked for" },
	{ "outbound", "user_keywords", K_BOOL, F(sync_out.user_keywords), "false", 0, 0, NULL,
	  "sync: users' own keywords count too" },
	{ "outbound", "exclude", K_LIST, F(sync_out.exclude), "", 0, 0, NULL,
	  "sync: domains and addresses whose presence stops a message from being synced" },
	{ "outbound", "exclude_applies_to", K_SET, F(sync_out.exclude_applies_to), "to;cc;bcc", 0, 0, "to|cc|bcc",
	  "sync: the fields exclusions are looked for in" },
	{ "outbound", "user_exclusions", K_BOOL, F(sync_out.user_exclusions), "false", 0, 0, NULL,
	  "sync: users' own exclusions count too" },
	{ "outbound", "activity_fields", K_SET, F(sync_out.activity_fields), "cc;bcc;subject;body;attachments", 0, 0,
	  "cc|bcc|subject|body|attachments",
	  "sync: what an activity keeps besides From and To" },
	{ "outbound", "attachment_types", K_LIST, F(sync_out.attachment_types), "*", 0, 0, NULL,
	  "sync: attachments listed on an activity: MIME types (application/pdf), type/*, extensions (.pdf) or *" },
	{ "outbound", "capture_new_leads", K_BOOL, F(sync_out.capture_new_leads), "false", 0, 0, NULL,
	  "sync: a counterpart with no lead gets a new one" },
	{ "outbound", "capture_from", K_SET, F(sync_out.capture_from), "to", 0, 0, "to|cc|bcc",
	  "sync: the fields whose addresses may become new leads" },
	{ "outbound", "lead_source", K_STR, F(sync_out.lead_source), "Email Sync", 0, 0, NULL,
	  "sync: source of a captured lead" },

	{ "inbound", "catch_all", K_ENUM, F(catch_all), "existing", 0, 0, "always|existing|never|none",
	  "mode for recipients that are not a mailbox; none: refuse them (550 5.1.1)" },
	{ "inbound", "create_organizations", K_BOOL, F(create_organizations), "true", 0, 0, NULL,
	  "mode always creates an organization and end user for a new sender" },
	{ "inbound", "ticket_limit", K_INT, F(ticket_limit), "20", 0, 1000000, NULL,
	  "new tickets per sender per window; 0: no limit" },
	{ "inbound", "notify_limit", K_INT, F(notify_limit), "20", 0, 1000000, NULL,
	  "notifications per sender per window; 0: no limit" },
	{ "inbound", "limit_window", K_INT, F(limit_window), "7200", 60, 31536000, NULL,
	  "seconds of the flood window" },
	{ "inbound", "trusted_authserv_id", K_STR, F(trusted_authserv_id), "", 0, 0, NULL,
	  "the older name of [auth] trusted_authserv_ids (one authserv-id); empty: none" },
	{ "inbound", "freemail_domains", K_LIST, F(freemail_domains),
	  "gmail.com;googlemail.com;yahoo.com;yahoo.co.uk;outlook.com;hotmail.com;live.com;msn.com;"
	  "aol.com;icloud.com;me.com;mac.com;gmx.de;gmx.net;web.de;proton.me;protonmail.com;mail.ru;"
	  "yandex.ru;qq.com;163.com;zoho.com;fastmail.com;t-online.de;orange.fr;free.fr;libero.it",
	  0, 0, NULL,
	  "domains shared by unrelated people: a sender there gets an end user and a ticket but "
	  "no organization; separated by ';'" },
	{ "inbound", "loop_header", K_STR, F(loop_header), "X-Leadgate-Loop", 0, 0, NULL,
	  "header leadgate puts on mail it sends; such mail never makes a ticket" },
	{ "inbound", "instance_id", K_STR, F(instance_id), "", 0, 0, NULL,
	  "value of the loop header; empty: the host name" },
	{ "inbound", "body_max", K_SIZE, F(body_max), "1M", 1024, G_GINT64_CONSTANT(64) << 20, NULL,
	  "longest body text kept per message" },
	{ "inbound", "ticket_tag", K_STR, F(ticket_tag), "Ticket #", 0, 0, NULL,
	  "subject tag before the ticket number, as in [Ticket #1042]" },

	{ "inbound", "enabled", K_BOOL, F(sync_in.enabled), "true", 0, 0, NULL,
	  "sync: log this direction's mail of users as activities" },
	{ "inbound", "mode", K_ENUM, F(sync_in.mode), "all", 0, 0, "all|keywords",
	  "sync: all mail, or only mail with a keyword" },
	{ "inbound", "keywords", K_LIST, F(sync_in.keywords), "", 0, 0, NULL,
	  "sync: admin keywords (case-insensitive; a phrase matches only as written, same words, order "
	  "and spacing); separated by ';'" },
	{ "inbound", "keywords_in", K_SET, F(sync_in.keywords_in), "subject;body", 1, 0, "subject|body",
	  "sync: where keywords are looked for" },
	{ "inbound", "user_keywords", K_BOOL, F(sync_in.user_keywords), "false", 0, 0, NULL,
	  "sync: users' own keywords count too" },
	{ "inbound", "exclude", K_LIST, F(sync_in.exclude), "", 0, 0, NULL,
	  "sync: domains and addresses whose presence stops a message from being synced" },
	{ "inbound", "exclude_applies_to", K_SET, F(sync_in.exclude_applies_to), "to;cc;bcc;from", 0, 0, "to|cc|bcc|from",
	  "sync: the fields exclusions are looked for in" },
	{ "inbound", "user_exclusions", K_BOOL, F(sync_in.user_exclusions), "false", 0, 0, NULL,
	  "sync: users' own exclusions count too" },
	{ "inbound", "activity_fields", K_SET, F(sync_in.activity_fields), "cc;bcc;subject;body;attachments", 0, 0,
	  "cc|bcc|subject|body|attachments",
	  "sync: what an activity keeps besides From and To" },
	{ "inbound", "attachment_types", K_LIST, F(sync_in.attachment_types), "*", 0, 0, NULL,
	  "sync: attachments listed on an activity: MIME types (application/pdf), type/*, extensions (.pdf) or *" },
	{ "inbound", "capture_new_leads", K_BOOL, F(sync_in.capture_new_leads), "false", 0, 0, NULL,
	  "sync: a counterpart with no lead gets a new one" },
	{ "inbound", "capture_from", K_SET, F(sync_in.capture_from), "from", 0, 0, "from|cc",
	  "sync: the fields whose addresses may become new leads" },
	{ "inbound", "lead_source", K_STR, F(sync_in.lead_source), "Email Sync", 0, 0, NULL,
	  "sync: source of a captured lead" },

	{ "auth", "mode", K_ENUM, F(auth_mode), "auto", 0, 0, "auto|check|trust|off",
	  "sender authenticity: trust = read trusted Authentication-Results only; check = run SPF itself; "
	  "auto = a trusted header's verdict when there is one, else our own check; off = neither" },
	{ "auth", "trusted_authserv_ids", K_LIST, F(trusted_authserv_ids), "", 0, 0, NULL,
	  "authserv-ids of Authentication-Results headers to trust (your MTA's); separated by ';'. "
	  "[inbound] trusted_authserv_id is read as one more" },
	{ "auth", "trusted_received", K_INT, F(trusted_received), "1", 0, 100, NULL,
	  "Received headers your MTA adds on top of a message: Authentication-Results below the next "
	  "Received are forged and ignored" },
	{ "auth", "spf_helpers", K_INT, F(spf_helpers), "4", 1, 64, NULL,
	  "leadgate-lmtpd: SPF helper processes (checks at once)" },
	{ "auth", "spf_timeout", K_INT, F(spf_timeout), "20", 1, 600, NULL,
	  "seconds one SPF check may take; past it the helper is killed and the result is temperror" },
	{ "auth", "spf_dns_timeout", K_INT, F(spf_dns_timeout), "5", 1, 60, NULL,
	  "seconds the resolver waits for one DNS answer (a timeout is temperror)" },
	{ "auth", "spf_helper", K_STR, F(spf_helper), "", 0, 0, NULL,
	  "SPF helper program; empty: the installed leadgate-spf-helper" },
	{ "outbox", "smtp_url", K_STR, F(outbox_smtp_url), "smtp://127.0.0.1:25", 0, 0, NULL,
	  "the MTA that takes notification mail (libcurl URL: smtp:// or smtps://)" },
	{ "outbox", "from", K_STR, F(outbox_from), "", 0, 0, NULL,
	  "sender of notification mail; empty: leadgate@ and the host name" },
	{ "outbox", "connect_timeout", K_INT, F(outbox_connect_timeout), "5", 1, 300, NULL,
	  "seconds to connect to a webhook endpoint or the MTA" },
	{ "outbox", "timeout", K_INT, F(outbox_timeout), "30", 1, 3600, NULL,
	  "seconds one send may take in all" },
	{ "outbox", "worker", K_BOOL, F(outbox_worker), "true", 0, 0, NULL,
	  "leadgate-lmtpd delivers the outbox in a thread of its own; false: only `leadgate outbox run` does" },
	{ "outbox", "poll_interval", K_INT, F(outbox_poll_interval), "1", 1, 3600, NULL,
	  "seconds between the worker's looks for new rows" },
	{ "outbox", "batch", K_INT, F(outbox_batch), "16", 1, 1000, NULL,
	  "rows a worker claims at a time" },

	{ "mailer", "from", K_STR, F(mailer_from), "", 0, 0, NULL,
	  "sender (From and envelope) of campaign mail; empty: [outbox] from. Bounces come back to it, "
	  "so it should be an address leadgate-lmtpd receives" },
	{ "mailer", "unsubscribe_address", K_STR, F(mailer_unsubscribe_address), "", 0, 0, NULL,
	  "the mailto: of List-Unsubscribe; a keyed token is added as its +extension and leadgate-lmtpd "
	  "takes mail to it; empty: unsubscribe@ and the domain of [mailer] from" },
	{ "mailer", "unsubscribe_url", K_STR, F(mailer_unsubscribe_url), "", 0, 0, NULL,
	  "one-click unsubscribe URL (RFC 8058); the token is appended; the endpoint calls "
	  "`leadgate unsubscribe TOKEN`; empty: mailto: only" },
	{ "mailer", "per_minute", K_INT, F(mailer_per_minute), "0", 0, 1000000, NULL,
	  "most campaign messages sent per minute, all workers together (each also spaces its sends evenly); 0: no limit" },
	{ "mailer", "blasts_enabled", K_BOOL, F(mailer_blasts_enabled), "true", 0, 0, NULL,
	  "false: blasts may not be sent (triggered campaigns still are)" },
	{ "mailer", "max_triggered_per_day", K_INT, F(mailer_max_triggered_per_day), "0", 0, 100000000, NULL,
	  "most follow-ups one triggered campaign sends in any 24 hours (the rest wait, then are dropped past max_lateness); 0: no limit" },
	{ "mailer", "max_lateness", K_DUR, F(mailer_max_lateness), "1d", 60, 365 * 86400, NULL,
	  "a triggered follow-up not sent this long after it was due is dropped with a reason, not sent late" },
};

static gboolean
parse_size(const char *s, gint64 *out)
{
	char *end = NULL;
	guint64 v = g_ascii_strtoull(s, &end, 10);
	if (end == s)
		return FALSE;
	guint64 mul = 1;
	switch (g_ascii_toupper(*end)) {
	case 'K': mul = 1024; end++; break;
	case 'M': mul = 1024 * 1024; end++; break;
	case 'G': mul = 1024 * 1024 * 1024; end++; break;
	default: break;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end != '\0' || v > (guint64) G_MAXINT64 / mul)
		return FALSE;
	*out = (gint64) (v * mul);
	return TRUE;
}

static char **
split_list(const char *s)
{
	g_auto(GStrv) parts = g_strsplit_set(s, ";,", -1);
	GPtrArray *out = g_ptr_array_new();
	for (guint i = 0; parts[i]; i++) {
		char *t = g_strstrip(parts[i]);
		if (*t)
			g_ptr_array_add(out, g_strdup(t));
	}
	g_ptr_array_add(out, NULL);
	return (char **) g_ptr_array_free(out, FALSE);
}

static gboolean
set_value(lg_config *cfg, const key_def *k, const char *value, const char *where, GError **error)
{
	void *field = (char *) cfg + k->offset;
	switch (k->type) {
	case K_STR:
		g_free(*(char **) field);
		*(char **) field = g_strdup(value);
		return TRUE;
	case K_ENUM: {
		g_auto(GStrv) ch = g_strsplit(k->choices, "|", -1);
		if (!g_strv_contains((const char *const *) ch, value)) {
			g_set_error(error, LG_CONFIG_ERROR, LG_CONFIG_ERROR_VALUE,
			            "%s: [%s] %s = \"%s\": must be one of %s", where, k->section, k->key, value, k->choices);
			return FALSE;
		}
		g_free(*(char **) field);
		*(char **) field = g_strdup(value);
		return TRUE;
	}
	case K_LIST:
		g_strfreev(*(char ***) field);
		*(char ***) field = split_list(value);
		return TRUE;
	case K_SET: {
		g_auto(GStrv) ch = g_strsplit(k->choices, "|", -1);
		char **items = split_list(value);
		for (guint i = 0; items[i]; i++) {
			if (!g_strv_contains((const char *const *) ch, items[i])) {
				g_set_error(error, LG_CONFIG_ERROR, LG_CONFIG_ERROR_VALUE,
				            "%s: [%s] %s: \"%s\" is not one of %s", where, k->section, k->key, items[i], k->choices);
				g_strfreev(items);
				return FALSE;
			}
		}
		if (g_strv_length(items) < (guint) k->min) {
			g_set_error(error, LG_CONFIG_ERROR, LG_CONFIG_ERROR_VALUE,
			            "%s: [%s] %s: name at least %" G_GINT64_FORMAT " of %s", where, k->section, k->key,
			            k->min, k->choices);
			g_strfreev(items);
			return FALSE;
		}
		g_strfreev(*(char ***) field);
		*(char ***) field = items;
		return TRUE;
	}
	case K_BOOL:
		if (g_ascii_strcasecmp(value, "true") == 0 || g_ascii_strcasecmp(value, "yes") == 0 || strcmp(value, "1") == 0)
			*(gboolean *) field = TRUE;
		else if (g_ascii_strcasecmp(value, "false") == 0 || g_ascii_strcasecmp(value, "no") == 0 || strcmp(value, "0") == 0)
			*(gboolean *) field = FALSE;
		else {
			g_set_error(error, LG_CONFIG_ERROR, LG_CONFIG_ERROR_VALUE,
			            "%s: [%s] %s = \"%s\": must be true or false", where, k->section, k->key, value);
			return FALSE;
		}
		return TRUE;
	case K_DUR: {
		gint64 v;
		if (!lg_parse_duration(value, &v) || v < k->min || v > k->max) {
			g_set_error(error, LG_CONFIG_ERROR, LG_CONFIG_ERROR_VALUE,
			            "%s: [%s] %s = \"%s\": must be a duration (a number with s, m, h, d or w) "
			            "from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT " seconds",
			            where, k->section, k->key, value, k->min, k->max);
			return FALSE;
		}
		*(int *) field = (int) v;
		return TRUE;
	}
	case K_INT:
	case K_SIZE: {
		gint64 v;
		gboolean ok;
		if (k->type == K_SIZE) {
			ok = parse_size(value, &v);
		} else {
			char *end = NULL;
			v = g_ascii_strtoll(value, &end, 10);
			ok = end != value && *end == '\0';
		}
		if (!ok || v < k->min || v > k->max) {
			g_set_error(error, LG_CONFIG_ERROR, LG_CONFIG_ERROR_VALUE,
			            "%s: [%s] %s = \"%s\": must be a %s from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT,
			            where, k->section, k->key, value, k->type == K_SIZE ? "size (K, M, G)" : "whole number",
			            k->min, k->max);
			return FALSE;
		}
		if (k->type == K_SIZE)
			*(gint64 *) field = v;
		else
			*(int *) field = (int) v;
		return TRUE;
	}
	}
	return FALSE;
}

static const key_def *
find_key(const char *section, const char *key)
{
	for (guint i = 0; i < G_N_ELEMENTS(keys); i++)
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].key, key) == 0)
			return &keys[i];
	return NULL;
}

/* Sections and keys of parts that are specified (SPEC §5, §6, §11) but do
 * not read their settings yet: accepted, so a config written for them today
 * keeps working. Everything else unknown is refused (a typo must not pass). */
static const char *const later_sections[] = { "notify", NULL };

static gboolean
key_of_later_part(const char *section, const char *key)
{
	(void) key;
	return g_strv_contains(later_sections, section);
}

static gboolean
section_known(const char *section)
{
	for (guint i = 0; i < G_N_ELEMENTS(keys); i++)
		if (strcmp(keys[i].section, section) == 0)
			return TRUE;
	return g_strv_contains(later_sections, section);
}

lg_config *
lg_config_load(const char *path, GError **error)
{
	lg_config *cfg = g_new0(lg_config, 1);
	cfg->refcount = 1;
	for (guint i = 0; i < G_N_ELEMENTS(keys); i++)
		if (!set_value(cfg, &keys[i], keys[i].def, "built-in default", error))
			g_assert_not_reached();
	if (path != NULL) {
		cfg->path = g_strdup(path);
		g_autoptr(GKeyFile) kf = g_key_file_new();
		g_autoptr(GError) err = NULL;
		if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &err)) {
			g_set_error(error, LG_CONFIG_ERROR, LG_CONFIG_ERROR_PARSE, "%s: %s", path, err->message);
			lg_config_unref(cfg);
			return NULL;
		}
		g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);
		for (guint g = 0; groups[g]; g++) {
			if (!section_known(groups[g])) {
				g_set_error(error, LG_CONFIG_ERROR, LG_CONFIG_ERROR_KEY, "%s: unknown section [%s]", path, groups[g]);
				lg_config_unref(cfg);
				return NULL;
			}
			g_auto(GStrv) names = g_key_file_get_keys(kf, groups[g], NULL, NULL);
			for (guint k = 0; names && names[k]; k++) {
				const key_def *def = find_key(groups[g], names[k]);
				if (def == NULL) {
					if (key_of_later_part(groups[g], names[k]))
						continue;
					g_set_error(error, LG_CONFIG_ERROR, LG_CONFIG_ERROR_KEY,
					            "%s: unknown key \"%s\" in [%s]", path, names[k], groups[g]);
					lg_config_unref(cfg);
					return NULL;
				}
				g_autofree char *v = g_key_file_get_string(kf, groups[g], names[k], NULL);
				g_autofree char *val = g_strstrip(g_strdup(v ? v : ""));
				if (!set_value(cfg, def, val, path, error)) {
					lg_config_unref(cfg);
					return NULL;
				}
			}
		}
	}
	if (cfg->hostname == NULL || *cfg->hostname == '\0') {
		g_free(cfg->hostname);
		cfg->hostname = g_strdup(g_get_host_name());
	}
	if (cfg->instance_id == NULL || *cfg->instance_id == '\0') {
		g_free(cfg->instance_id);
		cfg->instance_id = g_strdup(cfg->hostname);
	}
	/* [inbound] trusted_authserv_id: the older name, one more id */
	if (cfg->trusted_authserv_id != NULL && *cfg->trusted_authserv_id != '\0' &&
	    !g_strv_contains((const char *const *) cfg->trusted_authserv_ids, cfg->trusted_authserv_id)) {
		guint n = g_strv_length(cfg->trusted_authserv_ids);
		cfg->trusted_authserv_ids = g_renew(char *, cfg->trusted_authserv_ids, n + 2);
		cfg->trusted_authserv_ids[n] = g_strdup(cfg->trusted_authserv_id);
		cfg->trusted_authserv_ids[n + 1] = NULL;
	}
	if (*cfg->outbox_from == '\0') {
		g_free(cfg->outbox_from);
		cfg->outbox_from = g_strconcat("leadgate@", cfg->hostname, NULL);
	}
	if (*cfg->mailer_from == '\0') {
		g_free(cfg->mailer_from);
		cfg->mailer_from = g_strdup(cfg->outbox_from);
	}
	if (*cfg->mailer_unsubscribe_address == '\0') {
		const char *at = strrchr(cfg->mailer_from, '@');
		g_free(cfg->mailer_unsubscribe_address);
		cfg->mailer_unsubscribe_address = g_strconcat("unsubscribe@", at ? at + 1 : cfg->hostname, NULL);
	}
	return cfg;
}

lg_config *
lg_config_ref(lg_config *cfg)
{
	g_atomic_int_inc(&cfg->refcount);
	return cfg;
}

void
lg_config_unref(lg_config *cfg)
{
	if (cfg == NULL || !g_atomic_int_dec_and_test(&cfg->refcount))
		return;
	for (guint i = 0; i < G_N_ELEMENTS(keys); i++) {
		void *field = (char *) cfg + keys[i].offset;
		if (keys[i].type == K_STR || keys[i].type == K_ENUM)
			g_free(*(char **) field);
		else if (keys[i].type == K_LIST || keys[i].type == K_SET)
			g_strfreev(*(char ***) field);
	}
	g_free(cfg->path);
	g_free(cfg);
}

gboolean
lg_config_auth_checks(const lg_config *cfg)
{
	return g_strcmp0(cfg->auth_mode, "auto") == 0 || g_strcmp0(cfg->auth_mode, "check") == 0;
}

gboolean
lg_config_auth_reads_headers(const lg_config *cfg)
{
	return g_strcmp0(cfg->auth_mode, "off") != 0 && cfg->trusted_authserv_ids != NULL &&
	       cfg->trusted_authserv_ids[0] != NULL;
}

void
lg_config_dump_defaults(GString *out)
{
	const char *section = NULL;
	for (guint i = 0; i < G_N_ELEMENTS(keys); i++) {
		if (section == NULL || strcmp(section, keys[i].section) != 0) {
			section = keys[i].section;
			g_string_append_printf(out, "%s[%s]\n", out->len ? "\n" : "", section);
		}
		g_string_append_printf(out, "# %s\n%s = %s\n", keys[i].doc, keys[i].key, keys[i].def);
	}
}
