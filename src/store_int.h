/*
 * NAME
 *   store_int.h - inside the store: statement cache and bound-parameter helpers.
 *
 * SUMMARY
 *   Only store*.c include this. Every statement is prepared once per
 *   connection (keyed by its SQL text) and reset after use. Values are bound
 *   from a format string, one letter per '?':
 *     s  const char *   (NULL binds SQL NULL)
 *     i  gint64
 *     d  double
 *     b  gboolean (as 0/1)
 */
#ifndef LG_STORE_INT_H
#define LG_STORE_INT_H

#include <sqlite3.h>
#include "lg.h"
#include "store.h"

struct lg_store {
	sqlite3 *db;
	char *path;
	GHashTable *stmts;   /* SQL text -> sqlite3_stmt* */
	GHashTable *settings;/* settings rows read so far (only migrations change them) */
	gboolean readonly;
};

/* Turns the connection's last error into a GError (LG_STORE_ERROR). */
void store_set_error(lg_store *st, int rc, GError **error, const char *what);

/* Prepared (cached) statement with values bound; NULL and @error on failure.
 * The caller steps it and must call store_done(). */
sqlite3_stmt *store_prep(lg_store *st, const char *sql, const char *fmt, GError **error, ...);
sqlite3_stmt *store_prepv(lg_store *st, const char *sql, const char *fmt, GError **error, va_list ap);
void store_done(sqlite3_stmt *stmt);
/* Steps @stmt (NULL: a failed prepare) once: 1 when a row came (read it,
 * then store_done), 0 when none, -1 on error (set). The statement is reset
 * on 0 and -1. */
int store_step_row(lg_store *st, sqlite3_stmt *stmt, GError **error);

/* Runs a statement that returns no rows. *@changes_r (may be NULL) = rows changed. */
gboolean store_exec(lg_store *st, const char *sql, const char *fmt, gint64 *changes_r, GError **error, ...);
/* Ends a transaction the caller began: commit when @ok, else roll back
 * (FALSE, @error already set by what failed). */
gboolean store_finish(lg_store *st, gboolean ok, GError **error);
/* Column @i of the current row as a new string (NULL for SQL NULL). */
char *store_col_dup(sqlite3_stmt *s, int i);
/* First column of the first row as an integer; *@found_r says whether a row came. */
gboolean store_get_int(lg_store *st, const char *sql, const char *fmt, gint64 *out,
                       gboolean *found_r, GError **error, ...);
/* First column of the first row as a new string (NULL when no row or NULL). */
gboolean store_get_text(lg_store *st, const char *sql, const char *fmt, char **out,
                        GError **error, ...);
/* All rows into a table (for the CLI). */
gboolean store_query_table(lg_store *st, const char *sql, const char *fmt, lg_table **out,
                           GError **error, ...);

#endif
