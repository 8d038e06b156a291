/*
 * NAME
 *   lg.h - things every part of libleadgate shares: error domains, time.
 *
 * SUMMARY
 *   The core library returns gboolean (or a pointer) plus GError **.
 *   Each layer decides once what an error means: the store's errors are
 *   LG_STORE_ERROR, and lg_error_is_temporary() tells the daemons whether a
 *   failure may pass (4xx / EX_TEMPFAIL) or not.
 */
#ifndef LG_H
#define LG_H

#include <glib.h>

G_BEGIN_DECLS

#define LG_STORE_ERROR   (lg_store_error_quark())
#define LG_CHAIN_ERROR   (lg_chain_error_quark())
#define LG_MESSAGE_ERROR (lg_message_error_quark())
#define LG_CONFIG_ERROR  (lg_config_error_quark())
#define LG_RULES_ERROR   (lg_rules_error_quark())
#define LG_USAGE_ERROR   (lg_usage_error_quark())

GQuark lg_store_error_quark(void);
GQuark lg_chain_error_quark(void);
GQuark lg_message_error_quark(void);
GQuark lg_config_error_quark(void);
GQuark lg_rules_error_quark(void);
GQuark lg_usage_error_quark(void);

/* Store errors. All but NOTFOUND, EXISTS and INVALID may pass (temporary). */
typedef enum {
	LG_STORE_ERROR_BUSY,      /* locked by another writer past the busy timeout */
	LG_STORE_ERROR_FULL,      /* disk or quota full */
	LG_STORE_ERROR_IO,        /* I/O error, cannot open */
	LG_STORE_ERROR_READONLY,  /* database or directory not writable */
	LG_STORE_ERROR_CORRUPT,   /* not a database, corrupt, newer schema */
	LG_STORE_ERROR_NOTFOUND,  /* a named row does not exist */
	LG_STORE_ERROR_EXISTS,    /* a uniqueness rule refused the row */
	LG_STORE_ERROR_INVALID,   /* a value the schema refuses */
	LG_STORE_ERROR_FAILED     /* anything else SQLite said */
} lg_store_error_code;

typedef enum {
	LG_CHAIN_ERROR_FAILED,    /* a bug or an unexpected state in the chain */
	LG_CHAIN_ERROR_INJECTED   /* LEADGATE_FAULT_INJECT=chain (tests) */
} lg_chain_error_code;

typedef enum {
	LG_MESSAGE_ERROR_EMPTY,   /* zero bytes */
	LG_MESSAGE_ERROR_IO,      /* reading the source failed */
	LG_MESSAGE_ERROR_TOO_BIG  /* over the configured size limit */
} lg_message_error_code;

typedef enum {
	LG_CONFIG_ERROR_PARSE,
	LG_CONFIG_ERROR_KEY,      /* unknown section or key */
	LG_CONFIG_ERROR_VALUE     /* a value out of range or of the wrong kind */
} lg_config_error_code;

typedef enum {
	LG_RULES_ERROR_SYNTAX,    /* message holds every diagnostic, one per line */
	LG_RULES_ERROR_IO
} lg_rules_error_code;

typedef enum {
	LG_USAGE_ERROR_ARGS,      /* bad command line: exit 64 */
	LG_USAGE_ERROR_NOINPUT,   /* missing input file: exit 66 */
	LG_USAGE_ERROR_NOUSER     /* unknown recipient: exit 67 */
} lg_usage_error_code;

/* TRUE when the operation may succeed if tried again later (4xx, EX_TEMPFAIL). */
gboolean lg_error_is_temporary(const GError *error);

/* Current time as ISO 8601 UTC with milliseconds ("2026-11-24T01:02:03.456Z").
 * Returns a newly allocated string. */
char *lg_now_iso(void);
/* Same for a given time in microseconds since the epoch. */
char *lg_time_iso(gint64 unix_usec);

/* A duration: a whole number with an optional unit s, m, h, d or w
 * ("90", "30s", "5m", "2h", "1d", "1w"), in seconds. FALSE when malformed
 * or over ten years. */
gboolean lg_parse_duration(const char *s, gint64 *seconds_r);

/* Test hook: TRUE when the environment variable LEADGATE_FAULT_INJECT
 * lists @what (comma-separated). Read once per process. */
gboolean lg_fault_injected(const char *what);

G_END_DECLS

#endif
