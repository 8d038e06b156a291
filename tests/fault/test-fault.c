/*
 * NAME
 *   test-fault.c - every I/O call of one delivery fails in turn; the store
 *   must stay exactly as it was, and the delivery must go through after.
 *
 * SUMMARY
 *   SQLite's own fault-injection approach (its ioerr tests), with the
 *   shim VFS of faultvfs.c over the real unix VFS and a real database
 *   file. For each kind of fault (write, disk full, sync, truncate, read,
 *   lock, file control) and N = 1, 2, ... until a run meets no Nth call
 *   (bounded by MAX_N), one delivery of a two-recipient message with a
 *   large body runs through the library's code path with the Nth call of
 *   that kind failing:
 *
 *     ingest   lg_deliver_now(), as `leadgate ingest` runs it
 *              (synchronous=FULL: COMMIT syncs);
 *     writer   lg_store_defer_sync(), begin, lg_delivery_apply(), commit,
 *              lg_walsync_sync(), as leadgate-lmtpd's writer runs it.
 *
 *   After each run: the delivery failed with a temporary store error (the
 *   class that answers 451/452 in leadgate-lmtpd and exits 75 in
 *   `leadgate ingest`), unless the fault did not matter to SQLite (a
 *   failed read it retried, a file control it ignores), and then it was
 *   complete; the database, reopened without the fault through the plain
 *   unix VFS, holds exactly the rows it held before (a hash of every row
 *   of every table) and passes PRAGMA integrity_check; and the same
 *   delivery, tried again with the fault gone, succeeds, once. One
 *   exception, SQLite's own: a file control that fails after the commit
 *   is durable (COMMIT_PHASETWO) reports an error for a whole delivery;
 *   then the retry is a duplicate (nothing lost, nothing doubled).
 *   A "persist" case fails every write from the Nth on, as a dead disk.
 *   The checkpoint cases fail the calls of lg_store_checkpoint(), which
 *   leadgate-lmtpd runs to prove the database durable after a failed sync:
 *   a failed write or sync must fail it.
 */
#include "config.h"
#include <string.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include "lg.h"
#include "deliver.h"
#include "faultvfs.h"

#define MAX_N 2000

static struct {
	char *dir;
	char *base;       /* the database before the delivery (checkpointed) */
	char *work;
	lg_config *cfg;
	char *before;     /* hash of the base's rows */
	char *after;      /* row counts after the delivery */
	char *message;
} t;

static gint
line_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* One line per row ("table|type:value|..."), sorted, hashed; and the row
 * count of each table. Through the unix VFS, not the shim. */
static void
dump(const char *path, char **hash_r, char **counts_r)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *tables = NULL;
	g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GString) counts = g_string_new(NULL);

	g_assert_cmpint(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, "unix"), ==, SQLITE_OK);
	{
		sqlite3_stmt *ic = NULL;
		g_assert_cmpint(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &ic, NULL), ==, SQLITE_OK);
		g_assert_cmpint(sqlite3_step(ic), ==, SQLITE_ROW);
		g_assert_cmpstr((const char *) sqlite3_column_text(ic, 0), ==, "ok");
		sqlite3_finalize(ic);
	}
	g_assert_cmpint(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_schema WHERE type = 'table' "
	                                   "ORDER BY name", -1, &tables, NULL), ==, SQLITE_OK);
	while (sqlite3_step(tables) == SQLITE_ROW) {
		const char *name = (const char *) sqlite3_column_text(tables, 0);
		g_autofree char *sql = g_strdup_printf("SELECT * FROM \"%s\"", name);
		sqlite3_stmt *s = NULL;
		guint rows = 0;

		g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &s, NULL), ==, SQLITE_OK);
		while (sqlite3_step(s) == SQLITE_ROW) {
			GString *l = g_string_new(name);

			for (int i = 0; i < sqlite3_column_count(s); i++) {
				const unsigned char *v = sqlite3_column_text(s, i);
				g_string_append_printf(l, "|%d:%s", sqlite3_column_type(s, i), v ? (const char *) v : "");
			}
			g_ptr_array_add(lines, g_string_free(l, FALSE));
			rows++;
		}
		sqlite3_finalize(s);
		g_string_append_printf(counts, "%s=%u ", name, rows);
	}
	sqlite3_finalize(tables);
	g_assert_cmpint(sqlite3_close(db), ==, SQLITE_OK);
	g_ptr_array_sort(lines, line_cmp);
	g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
	for (guint i = 0; i < lines->len; i++)
		g_checksum_update(sum, (const guchar *) lines->pdata[i], (gssize) strlen(lines->pdata[i]) + 1);
	if (hash_r)
		*hash_r = g_strdup(g_checksum_get_string(sum));
	if (counts_r)
		*counts_r = g_string_free(g_steal_pointer(&counts), FALSE);
}

static lg_delivery *
delivery(const char *text)
{
	g_autoptr(GError) err = NULL;
	lg_envelope *env = lg_envelope_new("ivan@customer.test");

	lg_envelope_add_rcpt(env, "support@example.test");
	lg_envelope_add_rcpt(env, "sales@example.test");
	lg_delivery *d = lg_delivery_new(lg_raw_new_from_data(text, strlen(text)), env);
	g_assert_true(lg_delivery_parse(d, t.cfg, &err));
	g_assert_no_error(err);
	return d;
}

static void
remove_db(const char *path)
{
	for (const char *const *sfx = (const char *const[]){ "", "-wal", "-shm", "-journal", NULL }; *sfx; sfx++) {
		g_autofree char *p = g_strconcat(path, *sfx, NULL);
		g_unlink(p);
	}
}

static void
copy_base(void)
{
	g_autofree char *data = NULL;
	gsize len;

	remove_db(t.work);
	g_assert_true(g_file_get_contents(t.base, &data, &len, NULL));
	g_assert_true(g_file_set_contents(t.work, data, (gssize) len, NULL));
}

typedef enum { MODE_INGEST, MODE_WRITER, MODE_CHECKPOINT } mode;
static const char *const mode_names[] = { "ingest", "writer", "checkpoint" };

/* One delivery the library's way for @m; FALSE with @error on failure. */
static gboolean
deliver(lg_delivery *d, mode m, guint fault_kinds, guint n, gboolean persist,
        guint *hits_r, GError **error)
{
	g_autoptr(lg_store) st = lg_store_open(t.work, 0, 1000, error);
	g_assert_nonnull(st);
	g_autoptr(lg_walsync) ws = NULL;
	gboolean ok;

	if (m == MODE_WRITER) {
		ws = lg_store_defer_sync(st, error);
		g_assert_nonnull(ws);
	}
	faultvfs_arm(fault_kinds, n, persist);
	if (m == MODE_INGEST) {
		ok = lg_deliver_now(d, st, t.cfg, NULL, error);
	} else if (m == MODE_CHECKPOINT) {
		ok = lg_store_checkpoint(st, error);
	} else {
		ok = lg_store_begin(st, error) && lg_delivery_apply(d, st, t.cfg, NULL, error) &&
		     lg_store_commit(st, error);
		if (!ok) {
			lg_store_rollback(st);
			lg_delivery_reset(d);
		}
		ok = ok && lg_walsync_sync(ws, error);
	}
	if (hits_r)
		*hits_r = faultvfs_hits();
	faultvfs_disarm();
	return ok;
}

static gboolean
recorded(lg_delivery *d)
{
	GPtrArray *r = lg_delivery_results(d);
	for (guint i = 0; i < r->len; i++)
		if (((lg_rcpt_result *) r->pdata[i])->status != LG_RCPT_RECORDED)
			return FALSE;
	return r->len > 0;
}

static gboolean
duplicate(lg_delivery *d)
{
	GPtrArray *r = lg_delivery_results(d);
	for (guint i = 0; i < r->len; i++)
		if (((lg_rcpt_result *) r->pdata[i])->status != LG_RCPT_DUPLICATE)
			return FALSE;
	return r->len > 0;
}

typedef struct {
	const char *kind;
	mode m;
	gboolean persist;
	gboolean must_fail;   /* a hit can never be survived (write, full, sync) */
} fault_case;

static void
test_fault(gconstpointer data)
{
	const fault_case *c = data;
	guint kinds = faultvfs_kind_parse(c->kind);
	guint n, failed = 0, survived = 0, late = 0;

	g_assert_cmpuint(kinds, !=, 0);
	for (n = 1; n <= MAX_N; n++) {
		g_autoptr(GError) err = NULL;
		g_autoptr(lg_delivery) d = delivery(t.message);
		g_autofree char *hash = NULL, *counts = NULL;
		guint hits = 0;

		copy_base();
		gboolean ok = deliver(d, c->m, kinds, n, c->persist, &hits, &err);
		dump(t.work, &hash, &counts);
		if (hits == 0) {
			/* the delivery made fewer than n calls of this kind: done */
			g_assert_no_error(err);
			g_assert_true(ok);
			g_assert_true(recorded(d));
			g_assert_cmpstr(counts, ==, t.after);
			break;
		}
		if (ok) {
			/* SQLite got over the fault (retried it, or did not need
			 * the call): then the delivery is whole */
			if (c->must_fail)
				g_error("%s fault %u was hit and the delivery still succeeded", c->kind, n);
			g_assert_true(recorded(d));
			g_assert_cmpstr(counts, ==, t.after);
			survived++;
			continue;
		}
		g_assert_nonnull(err);
		if (!(err->domain == LG_STORE_ERROR && lg_error_is_temporary(err)))
			g_error("%s fault %u: not a temporary store error: %s", c->kind, n, err->message);
		if (g_strcmp0(c->kind, "full") == 0 && err->code != LG_STORE_ERROR_FULL)
			g_error("full fault %u: %s, not LG_STORE_ERROR_FULL", n, err->message);
		/* A file control that fails after the commit is durable (SQLite's
		 * COMMIT_PHASETWO) reports an error for a complete transaction:
		 * nothing is lost, and the retry below is a duplicate. A write or
		 * a sync that failed never leaves anything. */
		gboolean whole = !c->must_fail && g_strcmp0(counts, t.after) == 0;
		if (!whole && g_strcmp0(hash, t.before) != 0)
			g_error("%s fault %u (%s): the store changed: %s, expected it as before",
			        c->kind, n, err->message, counts);
		failed++;
		late += whole;
		/* the fault gone, the same delivery succeeds, once */
		g_clear_error(&err);
		lg_delivery_reset(d);
		g_assert_true(deliver(d, c->m, 0, 0, FALSE, NULL, &err));
		g_assert_no_error(err);
		g_assert_true(whole ? duplicate(d) : recorded(d));
		g_clear_pointer(&counts, g_free);
		dump(t.work, NULL, &counts);
		g_assert_cmpstr(counts, ==, t.after);
	}
	g_assert_cmpuint(n, <=, MAX_N);
	g_test_message("%s faults (%s%s): %u calls, %u failed the delivery (%u of them after "
	               "the commit was whole), %u survived by SQLite",
	               c->kind, mode_names[c->m], c->persist ? ", persistent" : "",
	               n - 1, failed, late, survived);
	if (c->must_fail && !(c->m == MODE_WRITER && g_strcmp0(c->kind, "sync") == 0))
		g_assert_cmpuint(failed, >, 0);
}

/* The checkpoint that proves the database durable after a failed WAL sync
 * (leadgate-lmtpd's prove_durable): a delivery committed without a sync
 * (synchronous=NORMAL), then lg_store_checkpoint() with the Nth call
 * failing. A hit write or sync must fail it (else lmtpd would accept mail
 * on a database that may have lost frames), and the delivery committed
 * before stays whole; the checkpoint then succeeds without the fault. */
static void
test_checkpoint(gconstpointer data)
{
	const fault_case *c = data;
	guint kinds = faultvfs_kind_parse(c->kind);
	guint n, failed = 0;

	for (n = 1; n <= MAX_N; n++) {
		g_autoptr(GError) err = NULL;
		g_autoptr(lg_delivery) d = delivery(t.message);
		g_autofree char *counts = NULL;
		guint hits = 0;

		copy_base();
		/* a second connection keeps the WAL: the last one to close
		 * would checkpoint it before the test's checkpoint */
		sqlite3 *keep = NULL;
		g_assert_cmpint(sqlite3_open_v2(t.work, &keep, SQLITE_OPEN_READWRITE, "unix"), ==, SQLITE_OK);
		g_assert_cmpint(sqlite3_exec(keep, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL), ==, SQLITE_OK);
		g_assert_true(deliver(d, MODE_WRITER, 0, 0, FALSE, NULL, &err));
		g_assert_no_error(err);
		gboolean ok = deliver(d, MODE_CHECKPOINT, kinds, n, c->persist, &hits, &err);
		sqlite3_close(keep);
		if (hits == 0) {
			g_assert_no_error(err);
			g_assert_true(ok);
		} else if (ok) {
			if (c->must_fail)
				g_error("%s fault %u was hit and the checkpoint succeeded", c->kind, n);
		} else {
			g_assert_true(err->domain == LG_STORE_ERROR && lg_error_is_temporary(err));
			failed++;
		}
		dump(t.work, NULL, &counts);
		g_assert_cmpstr(counts, ==, t.after);
		if (hits == 0)
			break;
		g_clear_error(&err);
		g_assert_true(deliver(d, MODE_CHECKPOINT, 0, 0, FALSE, NULL, &err));
		g_assert_no_error(err);
	}
	g_assert_cmpuint(n, <=, MAX_N);
	g_test_message("%s faults (checkpoint): %u calls, %u failed the checkpoint", c->kind, n - 1, failed);
	if (c->must_fail)
		g_assert_cmpuint(failed, >, 0);
}

static void
setup(void)
{
	g_autoptr(GError) err = NULL;
	GString *m = g_string_new("From: Ivan <ivan@customer.test>\r\n"
	                          "To: support@example.test, sales@example.test\r\n"
	                          "Subject: a quote for 40 pumps\r\n"
	                          "Message-ID: <faults@customer.test>\r\n"
	                          "Date: Tue, 1 Dec 2026 08:00:00 +0000\r\n\r\n");

	/* a body of several pages: overflow pages in the raw and text rows */
	for (guint i = 0; i < 400; i++)
		g_string_append_printf(m, "Line %u of the request: we need a quote for pumps, please.\r\n", i);
	t.message = g_string_free(m, FALSE);
	t.dir = g_dir_make_tmp("lgfault-XXXXXX", &err);
	g_assert_no_error(err);
	t.base = g_build_filename(t.dir, "base.db", NULL);
	t.work = g_build_filename(t.dir, "work.db", NULL);
	g_autofree char *conf = g_build_filename(t.dir, "lg.conf", NULL);
	g_autofree char *text = g_strdup_printf("[store]\ndatabase = %s\n[inbound]\ncatch_all = always\n", t.base);
	g_assert_true(g_file_set_contents(conf, text, -1, NULL));
	t.cfg = lg_config_load(conf, &err);
	g_assert_no_error(err);
	g_unlink(conf);

	/* the store before: the schema and one earlier delivery */
	{
		g_autoptr(lg_store) st = lg_store_open(t.base, LG_STORE_MIGRATE, 1000, &err);
		g_assert_no_error(err);
		const char *first = "From: Kim <kim@customer.test>\r\nTo: support@example.test\r\n"
		                    "Subject: hello\r\nMessage-ID: <first@customer.test>\r\n\r\nHi.\r\n";
		g_autoptr(lg_delivery) d = lg_delivery_new(lg_raw_new_from_data(first, strlen(first)),
		                                           lg_envelope_new("kim@customer.test"));
		lg_envelope *env = lg_envelope_new("kim@customer.test");
		lg_envelope_add_rcpt(env, "support@example.test");
		lg_delivery_set_envelope(d, env);
		g_assert_true(lg_delivery_parse(d, t.cfg, &err));
		g_assert_true(lg_deliver_now(d, st, t.cfg, NULL, &err));
		g_assert_no_error(err);
	}
	dump(t.base, &t.before, NULL);
	/* the store after: the row counts of a delivery without faults */
	copy_base();
	{
		g_autoptr(lg_delivery) d = delivery(t.message);
		g_assert_true(deliver(d, MODE_INGEST, 0, 0, FALSE, NULL, &err));
		g_assert_no_error(err);
		g_assert_true(recorded(d));
	}
	dump(t.work, NULL, &t.after);
}

static void
teardown(void)
{
	remove_db(t.base);
	remove_db(t.work);
	g_rmdir(t.dir);
	g_free(t.dir);
	g_free(t.base);
	g_free(t.work);
	g_free(t.before);
	g_free(t.after);
	g_free(t.message);
	lg_config_unref(t.cfg);
}

int
main(int argc, char **argv)
{
	static const fault_case cases[] = {
		{ "write", MODE_INGEST, FALSE, TRUE },
		{ "full", MODE_INGEST, FALSE, TRUE },
		{ "sync", MODE_INGEST, FALSE, TRUE },
		{ "truncate", MODE_INGEST, FALSE, FALSE },
		{ "read", MODE_INGEST, FALSE, FALSE },
		{ "lock", MODE_INGEST, FALSE, FALSE },
		{ "fcntl", MODE_INGEST, FALSE, FALSE },
		{ "write", MODE_INGEST, TRUE, TRUE },
		{ "write", MODE_WRITER, FALSE, TRUE },
		{ "full", MODE_WRITER, FALSE, TRUE },
		{ "sync", MODE_WRITER, FALSE, TRUE },
		{ "read", MODE_WRITER, FALSE, FALSE },
		{ "lock", MODE_WRITER, FALSE, FALSE },
		{ "write", MODE_CHECKPOINT, FALSE, TRUE },
		{ "sync", MODE_CHECKPOINT, FALSE, TRUE },
		{ "truncate", MODE_CHECKPOINT, FALSE, FALSE },
		{ "read", MODE_CHECKPOINT, FALSE, FALSE },
	};
	int rc;

	g_test_init(&argc, &argv, NULL);
	lg_message_init();
	g_assert_cmpint(faultvfs_register(), ==, SQLITE_OK);
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *name = g_strdup_printf("/fault/%s/%s%s", mode_names[cases[i].m],
		                                        cases[i].kind, cases[i].persist ? "-persist" : "");
		g_test_add_data_func(name, &cases[i], cases[i].m == MODE_CHECKPOINT ? test_checkpoint : test_fault);
	}
	setup();
	rc = g_test_run();
	teardown();
	return rc;
}
