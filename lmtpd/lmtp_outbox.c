/*
 * NAME
 *   lmtp_outbox.c - leadgate-lmtpd's outbox worker thread (SPEC §6).
 *
 * SUMMARY
 *   One thread, with a store connection of its own, sends the outbox's
 *   due rows through the core (lg_outbox_run): webhooks and notification
 *   mail go out here, never on the event loop or the writer thread, so a
 *   hanging endpoint holds up nothing but this thread. It first looks
 *   whether anything is due with a read (so an idle worker never takes the
 *   write lock the writer thread needs), and sleeps until the next row is
 *   due or [outbox] poll_interval has passed, whichever is sooner. It uses
 *   the current config snapshot each round, so SIGHUP changes its settings;
 *   [outbox] worker = false leaves the outbox to `leadgate outbox run`.
 *
 *   lmtp_outbox_stop() sets the abort flag: a transfer in flight is cut
 *   short, its row queued again without counting the attempt, and the
 *   thread is joined.
 */
#include "config.h"
#include <string.h>
#include "lmtpd.h"
#include "outbox.h"

static GThread *outbox_thread;
static gint outbox_abort;
static GMutex outbox_lock;
static GCond outbox_cond;

static void
report(const lg_outbox_item *it, lg_outbox_outcome outcome, double delay, const char *err, gpointer data)
{
	const char *target = g_strcmp0(it->channel, "webhook") == 0 ? it->url : it->recipient;
	switch (outcome) {
	case LG_OUTBOX_SENT:
		lmtpd_info("-", "outbox %" G_GINT64_FORMAT ": %s by %s to %s: sent (attempt %" G_GINT64_FORMAT ")",
		           it->id, it->event, it->channel, target, it->attempts);
		break;
	case LG_OUTBOX_RETRY:
		lmtpd_info("-", "outbox %" G_GINT64_FORMAT ": %s by %s to %s: attempt %" G_GINT64_FORMAT " failed (%s); "
		           "next in %.0f s", it->id, it->event, it->channel, target, it->attempts, err, delay);
		break;
	case LG_OUTBOX_FAILED:
		lmtpd_warn("-", "outbox %" G_GINT64_FORMAT ": %s by %s to %s: failed after %" G_GINT64_FORMAT
		           " attempt(s): %s", it->id, it->event, it->channel, target, it->attempts, err ? err : "?");
		break;
	case LG_OUTBOX_RELEASE:
		lmtpd_info("-", "outbox %" G_GINT64_FORMAT ": stopping; queued again", it->id);
		break;
	}
}

/* Sleeps up to @seconds, or until stopped. */
static void
nap(double seconds)
{
	gint64 until = g_get_monotonic_time() + (gint64) (seconds * G_USEC_PER_SEC);
	g_mutex_lock(&outbox_lock);
	while (!g_atomic_int_get(&outbox_abort))
		if (!g_cond_wait_until(&outbox_cond, &outbox_lock, until))
			break;
	g_mutex_unlock(&outbox_lock);
}

static gpointer
outbox_main(gpointer unused)
{
	lg_store *st = NULL;
	gboolean complained = FALSE;
	while (!g_atomic_int_get(&outbox_abort)) {
		g_autoptr(lmtpd_conf) c = lmtpd_conf_get();
		const lg_config *cfg = c->cfg;
		double wait = cfg->outbox_poll_interval;
		g_autoptr(GError) error = NULL;
		double due = -1;
		if (!cfg->outbox_worker)
			goto sleep;
		if (st == NULL && (st = lg_store_open(lmtpd.db_path, 0, cfg->busy_timeout_ms, &error)) == NULL)
			goto fail;
		if (!lg_store_outbox_next_due(st, &due, &error))
			goto fail;
		if (due < 0 || due > 0) {
			if (due > 0)
				wait = MIN(wait, due);
			goto sleep;
		}
		lg_outbox_stats stats;
		if (!lg_outbox_run(st, cfg, (guint) cfg->outbox_batch, &outbox_abort, report, NULL, &stats, &error))
			goto fail;
		complained = FALSE;
		continue;   /* more may be due */
	fail:
		/* the store is busy or unwell: say so once, try again later */
		if (!complained)
			lmtpd_warn("-", "outbox: %s; trying again", error->message);
		complained = TRUE;
		g_clear_pointer(&st, lg_store_close);
		wait = MAX(wait, 5.0);
	sleep:
		nap(wait);
	}
	lg_store_close(st);
	return NULL;
}

void
lmtp_outbox_start(void)
{
	lg_outbox_global_init();
	g_atomic_int_set(&outbox_abort, 0);
	outbox_thread = g_thread_new("outbox", outbox_main, NULL);
}

void
lmtp_outbox_stop(void)
{
	if (outbox_thread == NULL)
		return;
	g_mutex_lock(&outbox_lock);
	g_atomic_int_set(&outbox_abort, 1);
	g_cond_broadcast(&outbox_cond);
	g_mutex_unlock(&outbox_lock);
	g_thread_join(outbox_thread);
	outbox_thread = NULL;
}
