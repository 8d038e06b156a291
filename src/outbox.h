/*
 * NAME
 *   outbox.h - the outbox worker: sends what is due, never twice at once.
 *
 * SYNOPSIS
 *   lg_outbox_global_init();            (once, before any thread sends)
 *   lg_outbox_run(st, cfg, max, &abort, report, data, &stats, &error);
 *
 * SUMMARY
 *   lg_outbox_run() claims due rows (store_outbox.h) in batches of
 *   [outbox] batch, sends each one outside any transaction and finishes
 *   it: sent; or queued again on the retry schedule of the Standard
 *   Webhooks specification (now, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
 *   14 h, 20 h, 24 h later, each with ±10 % jitter; a Retry-After longer
 *   than the step is waited out, up to a day); or failed after the tenth
 *   attempt, on a permanent SMTP refusal, or when the endpoint answered
 *   410 Gone (which also disables the endpoint). It returns when nothing
 *   is due, after @max rows, or when *@abort is set (then a row in flight
 *   is cut short and queued again without counting the attempt).
 *
 *   A claim lasts the batch's worst case (connect + total timeout per row,
 *   and a minute); a worker that died holding rows loses them when it
 *   expires, and the next worker sends them again: a webhook then carries
 *   the same webhook-id, so the receiver can drop the copy.
 *
 *   Webhooks: JSON body as queued, headers webhook-id, webhook-timestamp,
 *   webhook-signature (one "v1," signature per secret). Email: a text
 *   message built with GMime, from [outbox] from to the user, with
 *   Auto-Submitted: auto-generated, the loop header, a Message-ID and a
 *   body line that carry the keyed reference of the ticket (or lead), so
 *   that a reply threads (SPEC §3).
 */
#ifndef LG_OUTBOX_H
#define LG_OUTBOX_H

#include <glib.h>
#include "config.h"
#include "store.h"
#include "store_outbox.h"

G_BEGIN_DECLS

#define LG_OUTBOX_MAX_ATTEMPTS 10

void lg_outbox_global_init(void);

/* Seconds to wait before the next attempt after attempt @attempts (1 for
 * the first) failed; @retry_after is the endpoint's Retry-After (-1: none)
 * and @u a number in [0, 1) for the jitter. Negative: give up. */
double lg_outbox_retry_delay(gint64 attempts, gint64 retry_after, double u);

typedef struct {
	guint sent, retried, failed, released;
} lg_outbox_stats;

/* Called after each row is finished. */
typedef void (*lg_outbox_report)(const lg_outbox_item *it, lg_outbox_outcome outcome, double delay,
                                  const char *error_text, gpointer data);

/* Sends due rows (see SUMMARY). FALSE with @error only on a store error. */
gboolean lg_outbox_run(lg_store *st, const lg_config *cfg, guint max, const gint *abort,
                       lg_outbox_report report, gpointer data, lg_outbox_stats *stats, GError **error);

/* The notification mail of @it (CRLF line ends), for tests and the worker. */
char *lg_outbox_build_mail(const lg_outbox_item *it, const lg_config *cfg, const char *ref_key, gsize *len_r);

G_END_DECLS

#endif
