/*
 * NAME
 *   store.c - SQLite connection, migrations, transactions, statement cache.
 *
 * SUMMARY
 *   lg_store_open() opens one connection and sets, in this order:
 *   busy_timeout, journal_mode=WAL, synchronous=FULL, foreign_keys=ON.
 *   With LG_STORE_MIGRATE it applies every numbered migration of sql/
 *   (embedded as a GResource) above PRAGMA user_version, then views.sql,
 *   in one IMMEDIATE transaction: a half-migrated database cannot exist.
 *   A database newer than this program is refused (CORRUPT).
 *
 * INVARIANTS
 *   1. Every cached statement is reset (store_done) before the next use.
 *   2. A commit that returned TRUE is durable (WAL + synchronous=FULL),
 *      unless lg_store_defer_sync() moved durability to lg_walsync_sync().
 *   3. Rollback is always safe to call, in or out of a transaction.
 *
 * DEFERRED SYNC
 *   In WAL mode a transaction is durable once its WAL frames are on disk:
 *   recovery replays the longest run of frames whose checksums chain from
 *   the header, up to the last commit frame in it. With synchronous=NORMAL
 *   COMMIT only write()s the frames; fdatasync() of the WAL file, from any
 *   descriptor of it, then makes all of them durable at once, header
 *   included. A checkpoint syncs the WAL itself before copying frames into
 *   the database and syncs the database before the WAL may restart, so
 *   frames are never overwritten before they are durable somewhere. The
 *   WAL file keeps its inode while any connection is open, and the
 *   handle's connection stays open as long as the writer uses it.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include "config.h"
#include <stdarg.h>
#include <string.h>
#include <gio/gio.h>
#include "store_int.h"

/* from the generated sql_resources.c */
GResource *lg_sql_get_resource(void);

static const char *const migrations[] = {
	"001_initial.sql",
	"002_sender_source.sql",
	"003_sync.sql",
	"004_outbox.sql",
	"005_mailer.sql",
	"006_unsubscribes.sql",
};

int
lg_store_schema_latest(void)
{
	return (int) G_N_ELEMENTS(migrations);
}

void
store_set_error(lg_store *st, int rc, GError **error, const char *what)
{
	int ext = st && st->db ? sqlite3_extended_errcode(st->db) : rc;
	int code;
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:   code = LG_STORE_ERROR_BUSY; break;
	case SQLITE_FULL:     code = LG_STORE_ERROR_FULL; break;
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
	case SQLITE_PROTOCOL: code = LG_STORE_ERROR_IO; break;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:     code = LG_STORE_ERROR_READONLY; break;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:   code = LG_STORE_ERROR_CORRUPT; break;
	case SQLITE_CONSTRAINT:
		code = (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
		       ? LG_STORE_ERROR_EXISTS : LG_STORE_ERROR_INVALID;
		break;
	case SQLITE_TOOBIG:
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:    code = LG_STORE_ERROR_INVALID; break;
	default:              code = LG_STORE_ERROR_FAILED; break;
	}
	/* An I/O error whose cause was a full disk (SQLite says so only for
	 * the files' writes, not for the WAL index or a new file's space) */
	if (code == LG_STORE_ERROR_IO && st && st->db &&
	    (sqlite3_system_errno(st->db) == ENOSPC || sqlite3_system_errno(st->db) == EDQUOT))
		code = LG_STORE_ERROR_FULL;
	const char *msg = st && st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);
	g_set_error(error, LG_STORE_ERROR, code, "%s%s%s (%s)", what ? what : "", what ? ": " : "",
	            msg, st && st->path ? st->path : "database");
}

static gboolean
exec_script(lg_store *st, const char *sql, const char *what, GError **error)
{
	char *err = NULL;
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, &err);
	if (rc != SQLITE_OK) {
		store_set_error(st, rc, error, what);
		sqlite3_free(err);
		return FALSE;
	}
	return TRUE;
}

static char *
sql_resource(const char *name, GError **error)
{
	g_autofree char *path = g_strconcat("/leadgate/sql/", name, NULL);
	g_autoptr(GBytes) b = g_resource_lookup_data(lg_sql_get_resource(), path, 0, error);
	if (b == NULL)
		return NULL;
	gsize n;
	const char *d = g_bytes_get_data(b, &n);
	return g_strndup(d, n);
}

int
lg_store_schema_version(lg_store *st)
{
	gint64 v = 0;
	gboolean found;
	if (!store_get_int(st, "PRAGMA user_version", "", &v, &found, NULL))
		return -1;
	return (int) v;
}

static gboolean
migrate(lg_store *st, GError **error)
{
	int have = lg_store_schema_version(st);
	int want = lg_store_schema_latest();
	if (have == want)
		return TRUE;
	if (have > want || have < 0) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_CORRUPT,
		            "%s has schema version %d; this leadgate knows up to %d", st->path, have, want);
		return FALSE;
	}
	if (!lg_store_begin(st, error))
		return FALSE;
	gboolean ok = TRUE;
	for (int v = have; ok && v < want; v++) {
		g_autofree char *sql = sql_resource(migrations[v], error);
		ok = sql != NULL && exec_script(st, sql, migrations[v], error);
	}
	g_autofree char *views = ok ? sql_resource("views.sql", error) : NULL;
	ok = ok && views != NULL && exec_script(st, views, "views.sql", error);
	g_autofree char *pragma = g_strdup_printf("PRAGMA user_version = %d", want);
	ok = ok && exec_script(st, pragma, "user_version", error);
	if (ok)
		return lg_store_commit(st, error);
	lg_store_rollback(st);
	return FALSE;
}

static void
stmt_finalize(gpointer stmt)
{
	sqlite3_finalize(stmt);
}

lg_store *
lg_store_open(const char *path, guint flags, int busy_timeout_ms, GError **error)
{
	lg_store *st = g_new0(lg_store, 1);
	st->path = g_strdup(path);
	st->readonly = (flags & LG_STORE_READONLY) != 0;
	st->stmts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, stmt_finalize);
	st->settings = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	int oflags = SQLITE_OPEN_NOMUTEX | (st->readonly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE));
	int rc = sqlite3_open_v2(path, &st->db, oflags, NULL);
	if (rc != SQLITE_OK) {
		store_set_error(st, rc, error, "cannot open database");
		lg_store_close(st);
		return NULL;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, busy_timeout_ms > 0 ? busy_timeout_ms : 5000);
	if (!st->readonly) {
		/* journal_mode=WAL needs a write; on a read-only file it fails, which we report */
		if (!exec_script(st, "PRAGMA journal_mode=WAL", "cannot use the database", error))
			goto fail;
		g_autofree char *mode = NULL;
		if (!store_get_text(st, "PRAGMA journal_mode", "", &mode, error))
			goto fail;
		if (g_strcmp0(mode, "wal") != 0) {
			g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_READONLY,
			            "cannot switch %s to WAL mode (journal_mode is %s): is it writable?", path, mode ? mode : "?");
			goto fail;
		}
	}
	if (!exec_script(st, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY",
	                 "cannot configure the database", error))
		goto fail;
	if ((flags & LG_STORE_MIGRATE) && !st->readonly && !migrate(st, error))
		goto fail;
	int v = lg_store_schema_version(st);
	if (v == 0) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_NOTFOUND,
		            "%s is not a leadgate database yet: run `leadgate init`", path);
		goto fail;
	}
	if (v != lg_store_schema_latest()) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_CORRUPT,
		            "%s has schema version %d, this leadgate needs %d%s", path, v,
		            lg_store_schema_latest(), v < lg_store_schema_latest() ? ": run `leadgate init`" : "");
		goto fail;
	}
	return st;
fail:
	lg_store_close(st);
	return NULL;
}

struct lg_walsync {
	int fd;           /* the WAL file, read-only: fdatasync needs no more */
	char *path;
	gint failed;      /* atomic: a sync failed; later ones cannot vouch */
};

lg_walsync *
lg_store_defer_sync(lg_store *st, GError **error)
{
	g_return_val_if_fail(!st->readonly, NULL);
	/* a read makes sure the WAL file exists before we open it */
	int v = lg_store_schema_version(st);
	if (v < 0 || !exec_script(st, "PRAGMA synchronous=NORMAL", "cannot configure the database", error))
		return NULL;
	const char *wal = sqlite3_filename_wal(sqlite3_db_filename(st->db, "main"));
	int fd = wal ? open(wal, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0) {
		int e = errno;
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_IO, "cannot open the WAL file %s: %s",
		            wal ? wal : "(none)", g_strerror(e));
		exec_script(st, "PRAGMA synchronous=FULL", "", NULL);
		return NULL;
	}
	/* SQLite syncs the directory only when it syncs a new WAL: do it here */
	g_autofree char *dir = g_path_get_dirname(wal);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void) fsync(dfd);
		close(dfd);
	}
	lg_walsync *ws = g_atomic_rc_box_new0(lg_walsync);
	ws->fd = fd;
	ws->path = g_strdup(wal);
	return ws;
}

gboolean
lg_walsync_sync(lg_walsync *ws, GError **error)
{
	/* After a failed fdatasync the kernel may have dropped the pages it
	 * could not write and reports the error once: a later success would
	 * not mean that the frames before it are on disk. */
	if (g_atomic_int_get(&ws->failed)) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_IO, "an earlier sync of %s failed", ws->path);
		return FALSE;
	}
	if (lg_fault_injected("sync")) {
		g_atomic_int_set(&ws->failed, 1);
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_IO, "injected sync failure");
		return FALSE;
	}
	while (fdatasync(ws->fd) < 0) {
		int e = errno;
		if (e == EINTR)
			continue;
		g_atomic_int_set(&ws->failed, 1);
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_IO, "cannot sync %s: %s",
		            ws->path, g_strerror(e));
		return FALSE;
	}
	return TRUE;
}

lg_walsync *
lg_walsync_ref(lg_walsync *ws)
{
	return g_atomic_rc_box_acquire(ws);
}

static void
walsync_clear(gpointer p)
{
	lg_walsync *ws = p;
	close(ws->fd);
	g_free(ws->path);
}

void
lg_walsync_unref(lg_walsync *ws)
{
	if (ws != NULL)
		g_atomic_rc_box_release_full(ws, walsync_clear);
}

void
lg_store_close(lg_store *st)
{
	if (st == NULL)
		return;
	g_hash_table_destroy(st->stmts);   /* finalizes statements before close */
	g_hash_table_destroy(st->settings);
	if (st->db)
		sqlite3_close_v2(st->db);
	g_free(st->path);
	g_free(st);
}

gboolean
lg_store_begin(lg_store *st, GError **error)
{
	return store_exec(st, "BEGIN IMMEDIATE", "", NULL, error);
}

gboolean
lg_store_commit(lg_store *st, GError **error)
{
	if (lg_fault_injected("commit")) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_IO, "injected commit failure");
		return FALSE;
	}
	return store_exec(st, "COMMIT", "", NULL, error);
}

void
lg_store_rollback(lg_store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

gboolean
lg_store_in_transaction(lg_store *st)
{
	return !sqlite3_get_autocommit(st->db);
}

gboolean
lg_store_savepoint(lg_store *st, const char *name, GError **error)
{
	g_autofree char *sql = g_strdup_printf("SAVEPOINT \"%s\"", name);
	return store_exec(st, sql, "", NULL, error);
}

gboolean
lg_store_release(lg_store *st, const char *name, GError **error)
{
	g_autofree char *sql = g_strdup_printf("RELEASE \"%s\"", name);
	return store_exec(st, sql, "", NULL, error);
}

gboolean
lg_store_checkpoint(lg_store *st, GError **error)
{
	int wal_frames = -1, done = -1;
	/* with synchronous=FULL, SQLite syncs the WAL before copying it and the
	 * database file after: a full checkpoint that copied every frame leaves
	 * nothing whose durability rests on an earlier sync */
	if (!exec_script(st, "PRAGMA synchronous=FULL", "checkpoint", error))
		return FALSE;
	int rc = sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_FULL, &wal_frames, &done);
	if (rc == SQLITE_OK && wal_frames != done)
		rc = SQLITE_BUSY;   /* a reader kept part of the log: not proven yet */
	if (rc != SQLITE_OK) {
		store_set_error(st, rc, error, "checkpoint");
		return FALSE;
	}
	return TRUE;
}

void
lg_store_rollback_to(lg_store *st, const char *name)
{
	g_autofree char *sql = g_strdup_printf("ROLLBACK TO \"%s\"; RELEASE \"%s\"", name, name);
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, sql, NULL, NULL, NULL);
}

/* ---- statements -------------------------------------------------------- */

sqlite3_stmt *
store_prepv(lg_store *st, const char *sql, const char *fmt, GError **error, va_list ap)
{
	sqlite3_stmt *stmt = g_hash_table_lookup(st->stmts, sql);
	if (stmt == NULL) {
		int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
		if (rc != SQLITE_OK) {
			store_set_error(st, rc, error, "prepare");
			return NULL;
		}
		g_hash_table_insert(st->stmts, g_strdup(sql), stmt);
	}
	if (sqlite3_bind_parameter_count(stmt) != (int) strlen(fmt)) {
		/* a programming error: never run a statement with unbound values */
		g_critical("store: %d parameters but %zu values for: %s", sqlite3_bind_parameter_count(stmt), strlen(fmt), sql);
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_FAILED, "internal error: statement parameters do not match");
		return NULL;
	}
	int idx = 1;
	for (const char *f = fmt; *f; f++, idx++) {
		int rc = SQLITE_OK;
		switch (*f) {
		case 's': {
			const char *v = va_arg(ap, const char *);
			rc = v ? sqlite3_bind_text(stmt, idx, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(stmt, idx);
			break;
		}
		case 'i':
			rc = sqlite3_bind_int64(stmt, idx, va_arg(ap, gint64));
			break;
		case 'd':
			rc = sqlite3_bind_double(stmt, idx, va_arg(ap, double));
			break;
		case 'b':
			rc = sqlite3_bind_int(stmt, idx, va_arg(ap, gboolean) ? 1 : 0);
			break;
		default:
			g_assert_not_reached();
		}
		if (rc != SQLITE_OK) {
			store_set_error(st, rc, error, "bind");
			sqlite3_reset(stmt);
			sqlite3_clear_bindings(stmt);
			return NULL;
		}
	}
	return stmt;
}

sqlite3_stmt *
store_prep(lg_store *st, const char *sql, const char *fmt, GError **error, ...)
{
	va_list ap;
	va_start(ap, error);
	sqlite3_stmt *s = store_prepv(st, sql, fmt, error, ap);
	va_end(ap);
	return s;
}

void
store_done(sqlite3_stmt *stmt)
{
	if (stmt) {
		sqlite3_reset(stmt);
		sqlite3_clear_bindings(stmt);
	}
}

int
store_step_row(lg_store *st, sqlite3_stmt *stmt, GError **error)
{
	if (stmt == NULL)
		return -1;
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc != SQLITE_DONE)
		store_set_error(st, rc, error, NULL);
	store_done(stmt);
	return rc == SQLITE_DONE ? 0 : -1;
}

gboolean
store_exec(lg_store *st, const char *sql, const char *fmt, gint64 *changes_r, GError **error, ...)
{
	va_list ap;
	va_start(ap, error);
	sqlite3_stmt *s = store_prepv(st, sql, fmt, error, ap);
	va_end(ap);
	if (s == NULL)
		return FALSE;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE) {
		store_set_error(st, rc, error, NULL);
		store_done(s);
		return FALSE;
	}
	if (changes_r)
		*changes_r = sqlite3_changes64(st->db);
	store_done(s);
	return TRUE;
}

gboolean
store_get_int(lg_store *st, const char *sql, const char *fmt, gint64 *out, gboolean *found_r,
              GError **error, ...)
{
	va_list ap;
	va_start(ap, error);
	sqlite3_stmt *s = store_prepv(st, sql, fmt, error, ap);
	va_end(ap);
	int r = store_step_row(st, s, error);
	if (r < 0)
		return FALSE;
	*out = r ? sqlite3_column_int64(s, 0) : 0;
	if (found_r)
		*found_r = r && sqlite3_column_type(s, 0) != SQLITE_NULL;
	store_done(s);
	return TRUE;
}

gboolean
store_get_text(lg_store *st, const char *sql, const char *fmt, char **out, GError **error, ...)
{
	va_list ap;
	va_start(ap, error);
	sqlite3_stmt *s = store_prepv(st, sql, fmt, error, ap);
	va_end(ap);
	*out = NULL;
	int r = store_step_row(st, s, error);
	if (r < 0)
		return FALSE;
	if (r) {
		const unsigned char *t = sqlite3_column_text(s, 0);
		*out = t ? g_strdup((const char *) t) : NULL;
	}
	store_done(s);
	return TRUE;
}

gboolean
store_query_table(lg_store *st, const char *sql, const char *fmt, lg_table **out, GError **error, ...)
{
	va_list ap;
	va_start(ap, error);
	sqlite3_stmt *s = store_prepv(st, sql, fmt, error, ap);
	va_end(ap);
	*out = NULL;
	if (s == NULL)
		return FALSE;
	lg_table *t = g_new0(lg_table, 1);
	t->columns = g_ptr_array_new_with_free_func(g_free);
	t->rows = g_ptr_array_new_with_free_func((GDestroyNotify) g_ptr_array_unref);
	int n = sqlite3_column_count(s);
	for (int i = 0; i < n; i++)
		g_ptr_array_add(t->columns, g_strdup(sqlite3_column_name(s, i)));
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		GPtrArray *row = g_ptr_array_new_with_free_func(g_free);
		for (int i = 0; i < n; i++) {
			const unsigned char *v = sqlite3_column_text(s, i);
			g_ptr_array_add(row, v ? g_strdup((const char *) v) : NULL);
		}
		g_ptr_array_add(t->rows, row);
	}
	if (rc != SQLITE_DONE) {
		store_set_error(st, rc, error, NULL);
		store_done(s);
		lg_table_free(t);
		return FALSE;
	}
	store_done(s);
	*out = t;
	return TRUE;
}

void
lg_table_free(lg_table *t)
{
	if (t == NULL)
		return;
	g_ptr_array_unref(t->columns);
	g_ptr_array_unref(t->rows);
	g_free(t);
}

gboolean
store_finish(lg_store *st, gboolean ok, GError **error)
{
	if (ok)
		return lg_store_commit(st, error);
	lg_store_rollback(st);
	return FALSE;
}

char *
store_col_dup(sqlite3_stmt *s, int i)
{
	return g_strdup((const char *) sqlite3_column_text(s, i));
}
