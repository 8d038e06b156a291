/*
 * NAME
 *   store.h - the SQLite store: the one interface behind which all SQL lives.
 *
 * SUMMARY
 *   One lg_store is one SQLite connection; use it from one thread at a time
 *   (each daemon thread opens its own). The database runs in WAL mode with
 *   synchronous=FULL and foreign keys on; a commit that returned TRUE is on
 *   disk. Schema changes are the numbered migrations in sql/, applied in
 *   order by lg_store_open(LG_STORE_MIGRATE) and tracked with
 *   PRAGMA user_version. Every statement is prepared once per connection and
 *   every value is bound, never quoted.
 *
 *   Every uniqueness rule is a constraint of the schema: one delivery per
 *   (message, recipient), one ticket per message, one end user per address,
 *   one raw copy per content hash.
 *
 * DIAGNOSTICS
 *   Errors are LG_STORE_ERROR; BUSY, FULL and IO are temporary.
 */
#ifndef LG_STORE_H
#define LG_STORE_H

#include <glib.h>
#include "envelope.h"
#include "message.h"
#include "raw.h"

G_BEGIN_DECLS

typedef struct lg_store lg_store;

typedef enum {
	LG_STORE_MIGRATE  = 1 << 0,  /* create or upgrade the schema */
	LG_STORE_READONLY = 1 << 1   /* open read-only (queries only) */
} lg_store_flags;

lg_store *lg_store_open(const char *path, guint flags, int busy_timeout_ms, GError **error);
void lg_store_close(lg_store *st);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(lg_store, lg_store_close)

int lg_store_schema_version(lg_store *st);
int lg_store_schema_latest(void);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. Rollback never fails visibly. */
gboolean lg_store_begin(lg_store *st, GError **error);
gboolean lg_store_commit(lg_store *st, GError **error);
void lg_store_rollback(lg_store *st);
gboolean lg_store_in_transaction(lg_store *st);
/* Deferred durability, for a writer that batches its own syncs
 * (leadgate-lmtpd): after lg_store_defer_sync(), COMMIT on @st writes the
 * WAL without waiting for the disk (synchronous=NORMAL), and
 * lg_walsync_sync() on the returned handle makes every transaction that
 * COMMIT had finished before the call durable (fdatasync of the WAL file).
 * The handle is reference-counted and may be used from another thread
 * while @st goes on writing; it never touches the connection. Nothing
 * committed this way may be reported as stored before a sync succeeded.
 * A sync error is LG_STORE_ERROR_IO; what it covered may be lost, and
 * every later sync of the handle fails too (make a new connection). */
typedef struct lg_walsync lg_walsync;
lg_walsync *lg_store_defer_sync(lg_store *st, GError **error);
gboolean lg_walsync_sync(lg_walsync *ws, GError **error);
lg_walsync *lg_walsync_ref(lg_walsync *ws);
void lg_walsync_unref(lg_walsync *ws);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(lg_walsync, lg_walsync_unref)

/* Copies the whole write-ahead log into the database file and syncs both
 * (a FULL checkpoint at synchronous=FULL). Success proves that everything
 * committed on the database so far is on disk, whatever earlier syncs did:
 * leadgate-lmtpd accepts mail again only after one succeeded following a
 * failed sync. BUSY while another connection holds part of the log. */
gboolean lg_store_checkpoint(lg_store *st, GError **error);

/* Named savepoints inside a transaction. */
gboolean lg_store_savepoint(lg_store *st, const char *name, GError **error);
gboolean lg_store_release(lg_store *st, const char *name, GError **error);
void lg_store_rollback_to(lg_store *st, const char *name);

/* A result table for the CLI: column names and rows of strings (NULL = SQL NULL). */
typedef struct {
	GPtrArray *columns;  /* char* */
	GPtrArray *rows;     /* GPtrArray* of char* */
} lg_table;
void lg_table_free(lg_table *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(lg_table, lg_table_free)

G_END_DECLS

#include "store_model.h"

#endif
