/*
 * NAME
 *   bench-sqlite - the commit ceiling: durable SQLite commits on this disk.
 *
 * SYNOPSIS
 *   bench-sqlite DIRECTORY [SECONDS [ROW_BYTES]]
 *
 * SUMMARY
 *   Opens a fresh database in DIRECTORY (put it on the disk the store
 *   uses) in WAL mode with synchronous=FULL, as src/store.c does, and
 *   commits in a loop with one prepared INSERT: first one row per commit,
 *   then 20 rows per commit (what group commit buys). Each phase runs for
 *   SECONDS (default 2) and at most 1 million commits. Rows carry
 *   ROW_BYTES (default 512) of payload, about the size of a delivery's
 *   index rows. The database files are removed afterwards.
 *
 * OUTPUT
 *   sqlite_commits_per_s_1row C
 *   sqlite_rows_per_s_1row R
 *   sqlite_commits_per_s_20rows C
 *   sqlite_rows_per_s_20rows R
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <sqlite3.h>

#define SQ_MAX_COMMITS 1000000

static gboolean
sq_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "bench-sqlite: %s: %s\n", sql, err != NULL ? err : "?");
		sqlite3_free(err);
		return FALSE;
	}
	return TRUE;
}

static void
sq_remove(const char *path)
{
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
	for (gsize i = 0; i < G_N_ELEMENTS(suffix); i++) {
		g_autofree char *p = g_strconcat(path, suffix[i], NULL);
		(void) unlink(p);
	}
}

/* One phase: @rows rows per commit for @seconds. */
static gboolean
sq_phase(const char *dir, int rows, double seconds, int row_bytes,
         double *commits_per_s_r, double *rows_per_s_r)
{
	g_autofree char *path = g_strdup_printf("%s/bench-sqlite-%d.db", dir, rows);
	g_autofree char *payload = g_malloc(row_bytes);
	sqlite3 *db = NULL;
	sqlite3_stmt *ins = NULL;
	gboolean ok = FALSE;
	long commits = 0;

	memset(payload, 'x', row_bytes);
	sq_remove(path);
	if (sqlite3_open(path, &db) != SQLITE_OK) {
		fprintf(stderr, "bench-sqlite: %s: %s\n", path, sqlite3_errmsg(db));
		goto out;
	}
	if (!sq_exec(db, "PRAGMA journal_mode=WAL") || !sq_exec(db, "PRAGMA synchronous=FULL")
	    || !sq_exec(db, "CREATE TABLE delivery(id INTEGER PRIMARY KEY, rcpt TEXT, "
	                    "hash TEXT, payload BLOB)"))
		goto out;
	if (sqlite3_prepare_v2(db, "INSERT INTO delivery(rcpt, hash, payload) VALUES (?, ?, ?)",
	                       -1, &ins, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench-sqlite: prepare: %s\n", sqlite3_errmsg(db));
		goto out;
	}
	gint64 start = g_get_monotonic_time();
	gint64 deadline = start + (gint64) (seconds * 1e6);
	for (; commits < SQ_MAX_COMMITS && g_get_monotonic_time() < deadline; commits++) {
		if (!sq_exec(db, "BEGIN IMMEDIATE"))
			goto out;
		for (int r = 0; r < rows; r++) {
			char hash[32];
			snprintf(hash, sizeof hash, "%ld-%d", commits, r);
			sqlite3_bind_text(ins, 1, "user@example.test", -1, SQLITE_STATIC);
			sqlite3_bind_text(ins, 2, hash, -1, SQLITE_TRANSIENT);
			sqlite3_bind_blob(ins, 3, payload, row_bytes, SQLITE_STATIC);
			if (sqlite3_step(ins) != SQLITE_DONE) {
				fprintf(stderr, "bench-sqlite: insert: %s\n", sqlite3_errmsg(db));
				goto out;
			}
			sqlite3_reset(ins);
		}
		if (!sq_exec(db, "COMMIT"))
			goto out;
	}
	double wall = (g_get_monotonic_time() - start) / 1e6;
	*commits_per_s_r = commits / wall;
	*rows_per_s_r = (double) commits * rows / wall;
	ok = TRUE;
out:
	sqlite3_finalize(ins);
	sqlite3_close(db);
	sq_remove(path);
	return ok;
}

int
main(int argc, char **argv)
{
	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: bench-sqlite DIRECTORY [SECONDS [ROW_BYTES]]\n");
		return 2;
	}
	double seconds = argc > 2 ? g_ascii_strtod(argv[2], NULL) : 2.0;
	int row_bytes = argc > 3 ? atoi(argv[3]) : 512;
	if (seconds <= 0 || seconds > 60 || row_bytes < 1 || row_bytes > 1 << 20) {
		fprintf(stderr, "bench-sqlite: SECONDS in (0, 60], ROW_BYTES in [1, 1048576]\n");
		return 2;
	}
	static const int per_commit[] = { 1, 20 };
	for (gsize i = 0; i < G_N_ELEMENTS(per_commit); i++) {
		double cps = 0, rps = 0;
		if (!sq_phase(argv[1], per_commit[i], seconds, row_bytes, &cps, &rps))
			return 1;
		const char *tag = per_commit[i] == 1 ? "1row" : "20rows";
		printf("sqlite_commits_per_s_%s %.0f\n", tag, cps);
		printf("sqlite_rows_per_s_%s %.0f\n", tag, rps);
	}
	return 0;
}
