/*
 * NAME
 *   config.h - leadgate.conf: one key table, GKeyFile, immutable result.
 *
 * SUMMARY
 *   lg_config_load() reads a key-file (or nothing: built-in defaults) and
 *   validates every key against the table in config.c; unknown sections or
 *   keys and out-of-range values are errors naming file, section and key.
 *   The result is never changed in place: a reload builds a new one and
 *   swaps it (lg_config_ref/unref keep the old one alive for users).
 */
#ifndef LG_CONFIG_H
#define LG_CONFIG_H

#include <glib.h>

G_BEGIN_DECLS

/* The email sync settings of one direction ([outbound] or [inbound], SPEC §5). */
typedef struct {
	gboolean enabled;           /* sync this direction at all */
	char *mode;                 /* "all" | "keywords" */
	char **keywords;            /* admin keywords (phrases) */
	char **keywords_in;         /* subset of subject, body; at least one */
	gboolean user_keywords;     /* users' own keywords count too */
	char **exclude;             /* domains and addresses */
	char **exclude_applies_to;  /* subset of to, cc, bcc (inbound also from) */
	gboolean user_exclusions;   /* users' own exclusions count too */
	char **activity_fields;     /* subset of cc, bcc, subject, body, attachments */
	char **attachment_types;    /* MIME types, "image/" prefixes, "*"; extensions (".pdf") */
	gboolean capture_new_leads;
	char **capture_from;        /* outbound: to, cc, bcc; inbound: from, cc */
	char *lead_source;          /* source of a captured lead */
} lg_sync_dir_config;

typedef struct lg_config {
	/*< private >*/
	gint refcount;
	/*< public, read-only >*/
	char *path;                 /* file read, or NULL for defaults */

	/* [store] */
	char *database;             /* leadgate.db */
	int busy_timeout_ms;        /* 5000 */

	/* [lmtpd] */
	char **listen;              /* NULL-terminated; "127.0.0.1:2424" */
	char *hostname;             /* greeting name; default g_get_host_name() */
	gint64 max_message_size;    /* bytes, 50 MiB */
	int max_recipients;         /* 1000 */
	int max_connections;        /* 100 */
	int command_timeout;        /* seconds, 300 */
	int data_timeout;           /* seconds, 600 */
	char *spool_dir;            /* where big messages spill; "" = tmp dir */
	gint64 spool_mem_limit;     /* bytes kept in RAM per message, 1 MiB */
	char *socket_mode;          /* "0660" for unix: sockets */
	int max_session_time;       /* seconds per session, 3600 */
	char *socket_owner;         /* "user:group" or "" */
	char *user;                 /* drop privileges to; "" = refuse root */
	char *group;
	int commit_batch;           /* most deliveries per group commit, 64 */

	/* [milter] */
	char **milter_listen;       /* "127.0.0.1:8891" */
	char **outbound_daemons;    /* {daemon_name} values of submission services: ORIGINATING */
	char *milter_spool_dir;     /* events waiting for the store */
	gint64 milter_spool_mem_limit; /* bytes of one message kept in memory, 256K */
	char *milter_user;          /* drop privileges to; "" = refuse root */
	char *milter_group;

	/* [log] */
	char *log_target;           /* "stderr" or "syslog" */
	char *syslog_facility;      /* "mail" */

	/* [rules] */
	char *rules_dir;            /* ./rules */
	int regex_match_limit;      /* PCRE2 match limit, 100000 */
	int regex_depth_limit;      /* PCRE2 depth limit, 10000 */

	/* [inbound] */
	char *catch_all;            /* "existing" | "always" | "never" | "none" */
	gboolean create_organizations;
	int ticket_limit;           /* new tickets per sender per window, 20 */
	int notify_limit;           /* notifications per sender per window, 20 */
	int limit_window;           /* seconds, 7200 */
	char *trusted_authserv_id;  /* Authentication-Results we believe; "" = none */
	char **freemail_domains;    /* shared mail domains: no organization from them */
	char *loop_header;          /* X-Leadgate-Loop */
	char *instance_id;          /* value of the loop header we send; default hostname */
	gint64 body_max;            /* longest kept body text, 1 MiB */
	char *ticket_tag;           /* "Ticket #" as in "[Ticket #1042]" */

	/* [sync] (SPEC §5) */
	gboolean sync_enabled;      /* the kill switch */
	char **internal_domains;    /* our own domains */
	gboolean skip_internal;     /* mail between internal addresses only is not synced */
	char **connect_roles;       /* roles whose users may be synced */
	char *lead_search_field;    /* "email" | "contact_email" */
	int retention_days;         /* raw messages and bodies kept, 90 */
	int max_counterparts;       /* 50 */
	gint64 sync_body_max;       /* activity body cut, 64K */
	lg_sync_dir_config sync_out;/* [outbound] */
	lg_sync_dir_config sync_in; /* [inbound] (the sync keys of that section) */

	/* [auth] (sender authenticity: SPF, trusted Authentication-Results) */
	char *auth_mode;            /* "auto" | "check" | "trust" | "off" */
	char **trusted_authserv_ids;/* with [inbound] trusted_authserv_id merged in */
	int trusted_received;       /* Received headers the MTA adds on top, 1 */
	int spf_helpers;            /* helper processes, 4 */
	int spf_timeout;            /* seconds for one check, 20 */
	int spf_dns_timeout;        /* seconds per DNS query (resolver timeout), 5 */
	char *spf_helper;           /* helper program; "" = the installed one */
	/* [outbox] (SPEC §6, §11) */
	char *outbox_smtp_url;      /* smtp://127.0.0.1:25 */
	char *outbox_from;          /* sender of notification mail; default leadgate@hostname */
	int outbox_connect_timeout; /* seconds, 5 */
	int outbox_timeout;         /* seconds per send, 30 */
	gboolean outbox_worker;     /* leadgate-lmtpd runs the outbox worker */
	int outbox_poll_interval;   /* seconds between looks for new rows, 1 */
	int outbox_batch;           /* rows claimed at a time, 16 */
	/* [mailer] (SPEC §11) */
	char *mailer_from;          /* default: outbox_from */
	char *mailer_unsubscribe_address; /* default: unsubscribe@ + mailer_from's domain */
	char *mailer_unsubscribe_url;     /* "" = none */
	int mailer_per_minute;      /* 0 = unlimited */
	gboolean mailer_blasts_enabled;
	int mailer_max_triggered_per_day; /* 0 = unlimited */
	int mailer_max_lateness;    /* seconds, 1d */
} lg_config;

/* @path NULL: built-in defaults only. Returns a new config (refcount 1). */
lg_config *lg_config_load(const char *path, GError **error);
lg_config *lg_config_ref(lg_config *cfg);
void lg_config_unref(lg_config *cfg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(lg_config, lg_config_unref)

/* The [auth] mode: does the daemon run SPF checks of its own? ("auto",
 * "check"), and are trusted Authentication-Results read? ("auto", "trust",
 * "check" for DMARC only). */
gboolean lg_config_auth_checks(const lg_config *cfg);
gboolean lg_config_auth_reads_headers(const lg_config *cfg);

/* Writes the key table with defaults and descriptions (for --dump / man). */
void lg_config_dump_defaults(GString *out);

G_END_DECLS

#endif
