/*
 * NAME
 *   lmtp_deliver.c - the writer thread: group commit of parsed deliveries.
 *
 * SUMMARY
 *   SQLite has one writer at a time, and a durable commit costs an fsync.
 *   The writer also parses each message (GMime) just before its batch, so
 *   that GMime runs in one thread only.
 *   So one thread owns the write connection, and sessions hand it parsed
 *   deliveries (lmtp_deliver_commit). The writer takes everything queued,
 *   at most commit_batch deliveries, and writes them in one transaction:
 *
 *     lg_store_begin
 *       lg_delivery_apply(d1) ... lg_delivery_apply(dn)   (a savepoint each)
 *     lg_store_commit                                       (one fsync)
 *
 *   then wakes the n sessions, which answer their clients. While a commit
 *   runs, new deliveries queue up and form the next batch: under load the
 *   batches grow by themselves, and a lone delivery is committed at once,
 *   without waiting for company.
 *
 * DURABILITY, PIPELINED
 *   The fsync is not done by the writer: its connection commits with
 *   synchronous=NORMAL (lg_store_defer_sync) and hands the batch to a
 *   second thread, the syncer, which runs fdatasync on the WAL and only
 *   then wakes the sessions. The writer meanwhile parses and applies the
 *   next batch, so the CPU work of one batch overlaps the disk wait of the
 *   one before, and one fdatasync covers every batch committed before it
 *   began. When nothing else is queued or syncing, the writer syncs the
 *   batch itself, which spares a lone delivery one thread switch. A
 *   session still answers 250 only after a sync that covers its commit has
 *   succeeded: each delivery takes the sync handle of its connection when
 *   its commit returns, so no later failure (which closes the connection)
 *   can leave a committed delivery without a sync behind it.
 *
 *   If a sync fails, its deliveries answer 451, and so does every delivery
 *   after it until a checkpoint of the whole WAL into the database file
 *   succeeds (prove_durable): before that, a retry would be answered 250
 *   as a duplicate of a row that may not be on disk. Then mail is accepted
 *   again, with synchronous commits, since a WAL that missed a sync cannot
 *   vouch for later ones through the same handle.
 *
 * FAILURES
 *   If begin, an apply or the commit fails, the transaction is rolled back
 *   and every delivery of the batch is reset: none of them has any record.
 *   When the error is the database's state (busy, full, I/O), all of them
 *   answer with a temporary failure. Otherwise the failure may belong to one
 *   delivery, so each is tried again alone, and only the ones that fail alone
 *   get the error; a bad message cannot take its batch-mates with it.
 *   A failed connection (I/O, corrupt) is closed and opened again for the
 *   next batch.
 *
 * INVARIANTS
 *   A session is woken only after its delivery's transaction committed or
 *   was rolled back; job->done is written under w.lock.
 */
#include <string.h>


#include "lmtpd.h"
#include "lmtp_loop.h"

typedef struct {
	lg_delivery *d;        /* borrowed from the session, which waits */
	lmtpd_conf *conf;      /* borrowed likewise */
	GError *error;         /* set when the delivery failed */
	lmtp_co *co;           /* its session's coroutine, or NULL (a thread) */
	/* monotonic µs, for lmtp_delays */
	gint64 queued, taken, committed, synced;
	lg_walsync *ws;        /* committed, durable after a sync of this */
	gboolean done;
} lmtp_job;

static struct {
	GMutex lock;
	GCond queued;          /* the writer waits on it */
	GCond finished;        /* sessions wait on it */
	GQueue queue;          /* lmtp_job* */
	GThread *thread;
	gboolean stop;
	lg_store *st;          /* owned by the writer thread */
	lg_walsync *ws;        /* w.st's deferred sync, or NULL: synchronous */
	gboolean sync_broken;  /* a sync failed: no more deferred syncs */
	gboolean unproven;     /* a sync failed: 451 until a checkpoint succeeds */
	GThread *syncer;
	GCond to_sync;         /* the syncer waits on it */
	GPtrArray *pending;    /* lmtp_job*: batches done, not yet synced */
	gboolean syncing;      /* the syncer is at work */
	gboolean syncer_stop;
	/* who sleeps on which condition: GLib's g_cond_signal is a system call
	 * even with no one waiting, so it is called only when one is */
	gboolean writer_waits;
	gboolean syncer_waits;
	guint threads_waiting; /* on finished (sessions without the loop) */
	guint64 batches;
	guint64 deliveries;
	guint64 syncs;
	gint64 sync_us;        /* time spent in syncs */
} w;

static gboolean
error_is_environmental(const GError *error)
{
	if (error == NULL || error->domain != LG_STORE_ERROR)
		return FALSE;
	switch (error->code) {
	case LG_STORE_ERROR_BUSY:
	case LG_STORE_ERROR_FULL:
	case LG_STORE_ERROR_IO:
	case LG_STORE_ERROR_READONLY:
	case LG_STORE_ERROR_CORRUPT:
		return TRUE;
	default:
		return FALSE;
	}
}

static void
writer_close(void)
{
	g_clear_pointer(&w.ws, lg_walsync_unref);
	g_clear_pointer(&w.st, lg_store_close);
}

/* One transaction over @n jobs. On failure nothing of them is written and
 * their results are reset. */
static gboolean
batch_try(lmtp_job **jobs, guint n, GError **error)
{
	const lg_config *cfg = jobs[0]->conf->cfg;

	if (w.st == NULL) {
		GError *e = NULL;

		w.st = lg_store_open(lmtpd.db_path, 0, cfg->busy_timeout_ms, error);
		if (w.st == NULL)
			return FALSE;
		if (!w.sync_broken && (w.ws = lg_store_defer_sync(w.st, &e)) == NULL) {
			lmtpd_warn("-", "commits stay synchronous: %s", e->message);
			g_error_free(e);
		}
	}
	if (!lg_store_begin(w.st, error))
		goto fail;
	for (guint i = 0; i < n; i++)
		if (!lg_delivery_apply(jobs[i]->d, w.st, jobs[i]->conf->cfg,
		                       jobs[i]->conf->rules, error))
			goto fail;
	if (!lg_store_commit(w.st, error))
		goto fail;
	/* the sync handle that makes this commit durable, taken now: a later
	 * failure may close the connection and clear w.ws before the batch is
	 * handed to the syncer. NULL: the commit was synchronous. */
	for (guint i = 0; i < n; i++)
		jobs[i]->ws = w.ws != NULL ? lg_walsync_ref(w.ws) : NULL;
	return TRUE;

fail:
	if (lg_store_in_transaction(w.st))
		lg_store_rollback(w.st);
	for (guint i = 0; i < n; i++)
		lg_delivery_reset(jobs[i]->d);
	if ((*error)->domain == LG_STORE_ERROR &&
	    ((*error)->code == LG_STORE_ERROR_IO || (*error)->code == LG_STORE_ERROR_CORRUPT))
		writer_close();
	return FALSE;
}

static void
batch_run(lmtp_job **jobs, guint n)
{
	GError *error = NULL;
	gint64 t0 = g_get_monotonic_time();
	/* test hook: the batch fails as if one delivery were bad, and the last
	 * retry alone fails with an I/O error (leadgate-lmtpd(8), TESTING) */
	gboolean split = n > 1 && lg_fault_injected("batch-split");

	if (split)
		g_set_error(&error, G_IO_ERROR, G_IO_ERROR_FAILED, "injected batch failure");
	else if (batch_try(jobs, n, &error)) {
		lmtpd_debug("-", "commit: %u deliveries in %" G_GINT64_FORMAT " ms",
		            n, (g_get_monotonic_time() - t0) / 1000);
		return;
	}
	if (n == 1 || error_is_environmental(error)) {
		lmtpd_warn("-", "commit of %u deliveries failed: %s", n, error->message);
		for (guint i = 0; i < n; i++)
			jobs[i]->error = g_error_copy(error);
		g_error_free(error);
		return;
	}
	lmtpd_warn("-", "commit of %u deliveries failed (%s): trying each alone",
	           n, error->message);
	g_clear_error(&error);
	for (guint i = 0; i < n; i++) {
		if (split && i == n - 1) {
			g_set_error(&jobs[i]->error, LG_STORE_ERROR, LG_STORE_ERROR_IO,
			            "injected I/O error");
			writer_close();
		} else if (batch_try(&jobs[i], 1, &jobs[i]->error)) {
			continue;
		}
		lmtpd_warn("-", "delivery failed alone: %s", jobs[i]->error->message);
	}
}

/* After a failed sync nothing the WAL holds can be vouched for, not even
 * a row that a retry would find as a duplicate. A checkpoint that copies
 * the whole WAL into the database file and syncs that file (SQLite syncs
 * both with synchronous=FULL) proves the database durable again. It uses
 * a connection of its own: the writer's is closed after a failed sync. */
static gboolean
prove_durable(int busy_timeout_ms, GError **error)
{
	if (lg_fault_injected("checkpoint")) {
		g_set_error(error, LG_STORE_ERROR, LG_STORE_ERROR_IO, "injected checkpoint failure");
		return FALSE;
	}
	g_autoptr(lg_store) st = lg_store_open(lmtpd.db_path, 0, busy_timeout_ms, error);
	return st != NULL && lg_store_checkpoint(st, error);
}

/* Sets the time field at @offset of every job in @jobs to now: one clock
 * read for the batch. */
static void
stamp(GPtrArray *jobs, glong offset)
{
	gint64 now = g_get_monotonic_time();

	for (guint i = 0; i < jobs->len; i++)
		G_STRUCT_MEMBER(gint64, g_ptr_array_index(jobs, i), offset) = now;
}

/* Makes what @jobs committed durable, then wakes their sessions. Runs in
 * the syncer, or in the writer when nothing else is going on. */
static void
sync_and_wake(GPtrArray *jobs)
{
	lg_walsync *synced = NULL, *failed = NULL;
	GError *error = NULL;
	guint syncs = 0;
	gint64 us = 0;

	for (guint i = 0; i < jobs->len; i++) {
		lmtp_job *j = g_ptr_array_index(jobs, i);

		if (j->ws == NULL || j->ws == synced || j->ws == failed)
			continue;
		gint64 t0 = g_get_monotonic_time();

		if (lg_walsync_sync(j->ws, &error)) {
			synced = j->ws;   /* almost always the only one */
			syncs++;
			us += g_get_monotonic_time() - t0;
		} else {
			lmtpd_warn("-", "%s: the deliveries it covers answer 451, no mail is "
			           "accepted until a checkpoint proves the database durable, "
			           "and commits are synchronous from then on", error->message);
			failed = j->ws;
		}
	}
	stamp(jobs, G_STRUCT_OFFSET(lmtp_job, synced));
	lmtp_co **cos = g_new(lmtp_co *, jobs->len);   /* as many as sessions wait: not on the stack */
	guint ncos = 0;

	g_mutex_lock(&w.lock);
	w.syncs += syncs;
	w.sync_us += us;
	if (failed != NULL)
		w.sync_broken = w.unproven = TRUE;
	for (guint i = 0; i < jobs->len; i++) {
		lmtp_job *j = g_ptr_array_index(jobs, i);

		if (j->ws != NULL && j->ws == failed && j->error == NULL)
			j->error = g_error_copy(error);
		g_clear_pointer(&j->ws, lg_walsync_unref);
		j->done = TRUE;
		if (j->co != NULL)
			cos[ncos++] = j->co;   /* it sleeps until woken: the job outlives the unlock */
	}
	if (w.threads_waiting > 0)
		g_cond_broadcast(&w.finished);
	g_mutex_unlock(&w.lock);
	/* after the unlock: the loop, queueing the next deliveries, does not
	 * wait for w.lock while the wake-ups are written */
	lmtp_loop_wake_cos(cos, ncos);
	g_free(cos);
	g_clear_error(&error);
}

/* The syncer: takes every batch the writer handed over since its last
 * sync, syncs once for all of them, wakes. */
static gpointer
syncer_main(gpointer unused)
{
	GPtrArray *jobs = g_ptr_array_new();

	for (;;) {
		g_mutex_lock(&w.lock);
		w.syncing = FALSE;
		while (w.pending->len == 0 && !w.syncer_stop) {
			w.syncer_waits = TRUE;
			g_cond_wait(&w.to_sync, &w.lock);
			w.syncer_waits = FALSE;
		}
		if (w.pending->len == 0) {
			g_mutex_unlock(&w.lock);
			break;
		}
		/* everything pending was committed before this sync begins */
		GPtrArray *t = jobs;
		jobs = w.pending;
		w.pending = t;
		w.syncing = TRUE;
		g_mutex_unlock(&w.lock);

		sync_and_wake(jobs);
		g_ptr_array_set_size(jobs, 0);
	}
	g_ptr_array_unref(jobs);
	return NULL;
}

/* After a failed sync: TRUE when a checkpoint now proves the database
 * durable; otherwise every job of @batch gets a temporary error. */
static gboolean
writer_prove(GPtrArray *batch)
{
	const lmtp_job *first = g_ptr_array_index(batch, 0);
	GError *error = NULL;

	if (prove_durable(first->conf->cfg->busy_timeout_ms, &error)) {
		g_mutex_lock(&w.lock);
		w.unproven = FALSE;
		g_mutex_unlock(&w.lock);
		lmtpd_info("-", "the database is durable again (checkpoint done): accepting mail");
		return TRUE;
	}
	lmtpd_warn("-", "not accepting mail: a sync failed and the database is not proven "
	           "durable again (%s)", error->message);
	for (guint i = 0; i < batch->len; i++) {
		lmtp_job *j = g_ptr_array_index(batch, i);

		j->error = g_error_new(LG_STORE_ERROR, LG_STORE_ERROR_IO,
		                       "the database is not proven durable since a sync failed");
	}
	g_error_free(error);
	return FALSE;
}

static gpointer
writer_main(gpointer unused)
{
	GPtrArray *batch = g_ptr_array_new();
	GPtrArray *failed = g_ptr_array_new();

	for (;;) {
		guint max;

		g_mutex_lock(&w.lock);
		while (g_queue_is_empty(&w.queue) && !w.stop) {
			w.writer_waits = TRUE;
			g_cond_wait(&w.queued, &w.lock);
			w.writer_waits = FALSE;
		}
		if (g_queue_is_empty(&w.queue)) {
			g_mutex_unlock(&w.lock);
			break;
		}
		if (lg_fault_injected("batch-split")) {
			/* the test hook needs a batch of two: wait for the second (5 s at most) */
			gint64 until = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

			w.writer_waits = TRUE;
			while (g_queue_get_length(&w.queue) < 2 && !w.stop &&
			       g_cond_wait_until(&w.queued, &w.lock, until))
				;
			w.writer_waits = FALSE;
		}
		max = MAX(1, ((lmtp_job *)g_queue_peek_head(&w.queue))->conf->cfg->commit_batch);
		g_ptr_array_set_size(batch, 0);
		while (batch->len < max && !g_queue_is_empty(&w.queue))
			g_ptr_array_add(batch, g_queue_pop_head(&w.queue));
		gboolean broken = w.sync_broken, unproven = w.unproven;
		g_mutex_unlock(&w.lock);
		stamp(batch, G_STRUCT_OFFSET(lmtp_job, taken));

		if (broken && w.ws != NULL)
			writer_close();   /* the WAL missed a sync: from now on COMMIT syncs itself */
		if (unproven && !writer_prove(batch))
			goto done;   /* every delivery of the batch answers 451 */

		/* Parse here, before the transaction: GMime then runs in this one
		 * thread, while the event loop keeps to the protocol and the
		 * parse overlaps the other sessions' I/O. A message that cannot
		 * be read fails alone. */
		{
			guint kept = 0;

			for (guint i = 0; i < batch->len; i++) {
				lmtp_job *j = g_ptr_array_index(batch, i);

				if (lg_delivery_parse(j->d, j->conf->cfg, &j->error))
					batch->pdata[kept++] = j;
				else
					g_ptr_array_add(failed, j);
			}
			if (kept > 0)
				batch_run((lmtp_job **)batch->pdata, kept);
			/* the parsed messages were allocated here: free them here */
			for (guint i = 0; i < kept; i++)
				lg_delivery_trim(((lmtp_job *)batch->pdata[i])->d);
			for (guint i = 0; i < failed->len; i++)
				batch->pdata[kept + i] = failed->pdata[i];
			g_ptr_array_set_size(failed, 0);
		}

	done:
		stamp(batch, G_STRUCT_OFFSET(lmtp_job, committed));

		/* to the syncer, which wakes the sessions once it is durable;
		 * with nothing else to do, the writer syncs itself: one thread
		 * switch less for a lone delivery */
		g_mutex_lock(&w.lock);
		w.batches++;
		w.deliveries += batch->len;
		if (!w.syncing && w.pending->len == 0 && g_queue_is_empty(&w.queue)) {
			g_mutex_unlock(&w.lock);
			sync_and_wake(batch);
			continue;
		}
		for (guint i = 0; i < batch->len; i++)
			g_ptr_array_add(w.pending, g_ptr_array_index(batch, i));
		if (w.syncer_waits)
			g_cond_signal(&w.to_sync);
		g_mutex_unlock(&w.lock);
	}
	writer_close();
	g_ptr_array_unref(batch);
	g_ptr_array_unref(failed);
	return NULL;
}

gboolean
lmtp_deliver_start(GError **error)
{
	w.stop = w.syncer_stop = FALSE;
	if (w.pending == NULL)
		w.pending = g_ptr_array_new();
	w.syncer = g_thread_try_new("lmtpd-syncer", syncer_main, NULL, error);
	if (w.syncer == NULL)
		return FALSE;
	w.thread = g_thread_try_new("lmtpd-writer", writer_main, NULL, error);
	if (w.thread == NULL) {
		lmtp_deliver_stop();
		return FALSE;
	}
	return TRUE;
}

/* Tells @thread to finish (it drains its input first) and waits for it. */
static void
thread_stop(GThread **thread, gboolean *stop, GCond *wake)
{
	if (*thread == NULL)
		return;
	g_mutex_lock(&w.lock);
	*stop = TRUE;
	g_cond_signal(wake);
	g_mutex_unlock(&w.lock);
	g_thread_join(*thread);
	*thread = NULL;
}

void
lmtp_deliver_stop(void)
{
	thread_stop(&w.thread, &w.stop, &w.queued);
	/* after the writer: what it committed last is synced before this returns */
	thread_stop(&w.syncer, &w.syncer_stop, &w.to_sync);
	lmtpd_info("-", "writer: %" G_GUINT64_FORMAT " deliveries in %" G_GUINT64_FORMAT
	           " commits, %" G_GUINT64_FORMAT " syncs (%.2f ms each)", w.deliveries, w.batches,
	           w.syncs, w.syncs ? w.sync_us / 1000.0 / (double) w.syncs : 0.0);
}

gboolean
lmtp_deliver_commit(lg_delivery *d, lmtpd_conf *conf, lmtp_delays *delays, GError **error)
{
	lmtp_job job = { .d = d, .conf = conf, .queued = g_get_monotonic_time() };

	job.co = lmtp_loop_current();
	g_mutex_lock(&w.lock);
	g_queue_push_tail(&w.queue, &job);
	if (w.writer_waits)
		g_cond_signal(&w.queued);
	if (job.co != NULL) {
		/* on the event loop: the loop serves others until the writer wakes us */
		g_mutex_unlock(&w.lock);
		lmtp_loop_wait_wakeup();
		g_mutex_lock(&w.lock);
	}
	while (!job.done) {
		w.threads_waiting++;
		g_cond_wait(&w.finished, &w.lock);
		w.threads_waiting--;
	}
	g_mutex_unlock(&w.lock);
	if (delays != NULL) {
		delays->queue = job.taken - job.queued;
		delays->batch = job.committed - job.taken;
		delays->sync = job.synced - job.committed;
		delays->wake = g_get_monotonic_time() - job.synced;
	}
	if (job.error != NULL) {
		g_propagate_error(error, job.error);
		return FALSE;
	}
	return TRUE;
}
