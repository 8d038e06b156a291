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
 *   The same thread runs the mailer (SPEC §11, mailer.c): after each look
 *   at the notifications, one batch of due campaign sends ([outbox] batch
 *   rows at most), so a large blast never starves the notifications, and
 *   once per poll interval the mailer's upkeep (dead claims resolved,
 *   triggered sends scheduled, late ones dropped). It never runs on the
 *   delivery path, and it gives way to it: the thread runs at nice 10,
 *   and while LMTP sessions are open it rests between batches three times
 *   as long as the batch took, so a blast takes at most a quarter of the
 *   time while mail comes in.
 *
 *   lmtp_outbox_stop() sets the abort flag: a transfer in flight is cut
 *   short, its row queued again without counting the attempt, and the
 *   thread is joined.
 */
#include "config.h"
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "lmtpd.h"
#include "outbox.h"
#include "mailer.h"

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

static void
mreport(const lg_mailer_item *it, lg_mailer_outcome outcome, double delay, const char *text, gpointer data)
{
	(void) data;
	static const char *const names[] = { "sent", "retry", "failed", "skipped", "released" };
	if (outcome == LG_MAILER_RETRY)
		lmtpd_info("-", "mailer send %" G_GINT64_FORMAT ": %s to %s: attempt %" G_GINT64_FORMAT " failed (%s); "
		           "next in %.0f s", it->id, it->campaign, it->recipient, it->attempts, text, delay);
	else if (outcome == LG_MAILER_FAILED)
		lmtpd_warn("-", "mailer send %" G_GINT64_FORMAT ": %s to %s: failed: %s", it->id, it->campaign, it->recipient,
		           text ? text : "?");
	else
		lmtpd_info("-", "mailer send %" G_GINT64_FORMAT ": %s to %s: %s%s%s%s", it->id, it->campaign, it->recipient,
		           names[outcome], text ? " (" : "", text ? text : "", text ? ")" : "");
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
	gint64 last_upkeep = 0;
	/* this thread only (Linux: a thread's own nice value): deliveries,
	 * on the other threads, come first when the CPU is short */
	(void) setpriority(PRIO_PROCESS, (id_t) syscall(SYS_gettid), 10);
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
		gboolean busy = FALSE;
		if (!lg_store_outbox_next_due(st, &due, &error))
			goto fail;
		if (due == 0) {
			lg_outbox_stats stats;
			if (!lg_outbox_run(st, cfg, (guint) cfg->outbox_batch, &outbox_abort, report, NULL, &stats, &error))
				goto fail;
			busy = TRUE;
		} else if (due > 0) {
			wait = MIN(wait, due);
		}
		/* one batch of the mailer's, between two looks at the notifications */
		double mdue = -1;
		if (!lg_store_mailer_next_due(st, cfg->mailer_blasts_enabled, &mdue, &error))
			goto fail;
		gint64 now = g_get_monotonic_time();
		gint64 mtime = 0;
		if (mdue == 0 || now - last_upkeep >= (gint64) cfg->outbox_poll_interval * G_USEC_PER_SEC) {
			lg_mailer_stats ms;
			last_upkeep = now;
			if (!lg_mailer_run(st, cfg, (guint) MAX(cfg->outbox_batch, 1), &outbox_abort, mreport, NULL, &ms, &error))
				goto fail;
			mtime = g_get_monotonic_time() - now;
			if (ms.assumed)
				lmtpd_warn("-", "mailer: %u send(s) of a worker that died after the end of data assumed sent",
				           ms.assumed);
			if (ms.dropped)
				lmtpd_warn("-", "mailer: %u triggered send(s) dropped: not sent within [mailer] max_lateness",
				           ms.dropped);
			if (ms.sent + ms.failed + ms.retried + ms.skipped > 0)
				busy = TRUE;
			else if (ms.paced)
				wait = MIN(wait, 1.0);
		} else if (mdue > 0) {
			wait = MIN(wait, mdue);
		}
		complained = FALSE;
		if (busy && mtime > 0 && g_atomic_int_get(&lmtpd.sessions) > 0) {
			/* mail is coming in: the blast gives way, resting three times
			 * as long as its batch took (at most a second) */
			nap(MIN(3.0 * (double) mtime / G_USEC_PER_SEC, 1.0));
			continue;
		}
		if (busy)
			continue;   /* more may be due */
		goto sleep;
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
