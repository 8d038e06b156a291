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
	char *socket_owner;         /* "user:group" or "" */
	char *user;                 /* drop privileges to; "" = stay */
	char *group;
	int commit_batch;           /* most deliveries per group commit, 64 */

	/* [milter] */
	char **milter_listen;       /* "127.0.0.1:8891" */

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
	char **internal_domains;    /* our own domains ([sync] internal_domains) */
} lg_config;

/* @path NULL: built-in defaults only. Returns a new config (refcount 1). */
lg_config *lg_config_load(const char *path, GError **error);
lg_config *lg_config_ref(lg_config *cfg);
void lg_config_unref(lg_config *cfg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(lg_config, lg_config_unref)

/* Writes the key table with defaults and descriptions (for --dump / man). */
void lg_config_dump_defaults(GString *out);

G_END_DECLS

#endif
