/*
 * NAME
 *   lmtpd.h - what the parts of leadgate-lmtpd share.
 *
 * SUMMARY
 *   leadgate-lmtpd is a thin shell around the core library:
 *
 *     lmtpd.c         main(): options, config and rules, logging, listening
 *                     sockets, the accept loop, signals (HUP reload, TERM stop)
 *     lmtp_io.c       buffered, timed reads and writes on one file descriptor
 *     lmtp_session.c  one LMTP session: the command table LHLO..QUIT, DATA and
 *                     BDAT, one reply per recipient
 *     lmtp_loop.c     the event loop: sessions as coroutines on epoll
 *     lmtp_deliver.c  the single writer thread: group commit of deliveries
 *     lmtp_outbox.c   the outbox worker thread: webhooks and notification mail
 *
 *   Threads: the main thread runs the event loop; every connection is a
 *   coroutine on it running the synchronous session code, which yields
 *   wherever it would block. A session's RCPT look-up in the store runs on
 *   a worker thread (lmtp_loop_offload) and a SIGHUP reload on a thread of
 *   its own, so neither stalls the loop. One writer thread owns the write
 *   connection to the store and commits the deliveries that the sessions
 *   queue, many per transaction; it also parses them first, so GMime only
 *   ever parses in the writer thread. The outbox worker thread sends
 *   notifications with a store connection of its own (and builds their
 *   mail with GMime objects of its own).
 *
 * CONFIGURATION SNAPSHOTS
 *   The config and the rules loaded together form an lmtpd_conf. It is never
 *   changed; SIGHUP builds a new one and swaps it in under a mutex. Sessions
 *   take a reference per transaction (lmtpd_conf_get) and drop it when the
 *   transaction ends, so a reload never changes a transaction in flight.
 */
#ifndef LMTPD_H
#define LMTPD_H

#include <glib.h>
#include "lg.h"
#include "config.h"
#include "deliver.h"
#include "rules.h"
#include "store.h"

G_BEGIN_DECLS

typedef struct {
	gint refcount;
	lg_config *cfg;      /* owned reference */
	lg_rules *rules;     /* owned */
} lmtpd_conf;

/* The current snapshot, with a new reference the caller must drop. */
lmtpd_conf *lmtpd_conf_get(void);
lmtpd_conf *lmtpd_conf_ref(lmtpd_conf *c);
void lmtpd_conf_unref(lmtpd_conf *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(lmtpd_conf, lmtpd_conf_unref)

/* Process-wide state set up by main() before any session starts. */
typedef struct {
	char *db_path;           /* effective database (-d or the config's) */
	gint stopping;           /* atomic: SIGTERM seen, finish and exit */
	gint sessions;           /* atomic: sessions running */
	gint next_session;       /* atomic: session id counter */
	struct lg_spf_pool *spf; /* SPF helpers ([auth]; src/spf.h), from start */
} lmtpd_state;
extern lmtpd_state lmtpd;

/* Logging: every line carries the session id (or "-"). */
#define lmtpd_log(level, sid, ...) \
	g_log_structured(G_LOG_DOMAIN, (level), "LG_SESSION", (sid), "MESSAGE", __VA_ARGS__)
#define lmtpd_info(sid, ...)  lmtpd_log(G_LOG_LEVEL_INFO, (sid), __VA_ARGS__)
#define lmtpd_warn(sid, ...)  lmtpd_log(G_LOG_LEVEL_WARNING, (sid), __VA_ARGS__)
/* an error the daemon cannot go on after (start-up): logged as "error:" */
#define lmtpd_error(sid, ...) lmtpd_log(G_LOG_LEVEL_CRITICAL, (sid), __VA_ARGS__)
#define lmtpd_debug(sid, ...) lmtpd_log(G_LOG_LEVEL_DEBUG, (sid), __VA_ARGS__)

/* --- lmtp_session.c ---------------------------------------------------- */

/* Serves one LMTP session on @in_fd/@out_fd (the same socket, or stdin and
 * stdout for -S) until QUIT, EOF, a timeout or shutdown. @peer names the
 * client for the log. Closes nothing. */
void lmtp_session_run(int in_fd, int out_fd, const char *peer);

/* --- lmtp_deliver.c ---------------------------------------------------- */

/* Starts / stops the writer thread. lmtp_deliver_stop() waits until every
 * queued delivery is committed (or failed) and closes the store. */
gboolean lmtp_deliver_start(GError **error);
void lmtp_deliver_stop(void);

/* Where a delivery's time went after DATA, in µs, as the log line's
 * delays= shows it (after Postfix's delays=): */
typedef struct {
	gint64 queue;   /* queued until the writer took it into a batch */
	gint64 batch;   /* parse, apply and commit of its batch */
	gint64 sync;    /* committed until a sync covering it was done */
	gint64 wake;    /* durable until its session ran again */
} lmtp_delays;

/* Commits @d (parsed, not applied) with the config and rules of @conf,
 * sharing the transaction with whatever else is queued, and waits for the
 * outcome. Returns TRUE when the delivery is durable (its results are set);
 * FALSE with @error (a store error) when nothing of it was written. Sets
 * @delays (may be NULL) either way. */
gboolean lmtp_deliver_commit(lg_delivery *d, lmtpd_conf *conf, lmtp_delays *delays,
                             GError **error);

/* --- lmtp_outbox.c ----------------------------------------------------- */

/* Starts / stops the outbox worker thread (notifications, SPEC §6). */
void lmtp_outbox_start(void);
void lmtp_outbox_stop(void);

G_END_DECLS

#endif
