/*
 * NAME
 *   deliver.h - one message through the inbound chain into the store.
 *
 * SUMMARY
 *   The one code path that both `leadgate ingest` and leadgate-lmtpd run.
 *
 *     d = lg_delivery_new(raw, env);          takes both
 *     lg_delivery_parse(d, cfg);              CPU only, no store, any thread
 *     lg_store_begin(st)                      caller's transaction; may hold
 *       lg_delivery_apply(d, st, cfg, rules)  many deliveries (group commit)
 *     lg_store_commit(st)                     durable: only now reply 250
 *     lg_delivery_results(d)                  one lg_rcpt_result per recipient
 *
 *   lg_delivery_apply() works inside a SAVEPOINT of its own, so either all
 *   of a message's records are written or none. If the chain fails (a bug,
 *   not the store), the savepoint is rolled back and the raw message is
 *   written to the quarantine with the error instead: the delivery is
 *   accepted (status LG_RCPT_QUARANTINED) and `leadgate replay --quarantine`
 *   runs it again later. A value the schema refuses (a constraint) counts as
 *   a failure of the chain, not of the store: the message caused it and a
 *   retry would fail the same way. apply returns FALSE only for temporary
 *   store errors (the database's state); then the
 *   caller must roll back the whole transaction and answer with a temporary
 *   failure (lg_error_is_temporary) for every delivery in it. After a
 *   rollback or a failed commit, lg_delivery_reset() clears the results so
 *   the same delivery may be applied again.
 *
 *   lg_deliver_now() does begin/apply/commit for one delivery, with bounded
 *   retries while the database is busy.
 */
#ifndef LG_DELIVER_H
#define LG_DELIVER_H

#include <glib.h>
#include "lg.h"
#include "config.h"
#include "envelope.h"
#include "message.h"
#include "raw.h"
#include "rules.h"
#include "store.h"

G_BEGIN_DECLS

typedef enum {
	LG_RCPT_PENDING = 0,   /* not applied yet, or rolled back */
	LG_RCPT_RECORDED,      /* a lead (and maybe a ticket) was written */
	LG_RCPT_DUPLICATE,     /* already delivered to this recipient: nothing new */
	LG_RCPT_QUARANTINED,   /* the chain failed; the raw message is quarantined */
	LG_RCPT_UNKNOWN,       /* not a mailbox and no catch-all: refuse (5.1.1) */
	LG_RCPT_UNSUBSCRIBED   /* the unsubscribe address with a valid token: consent
	                        * withdrawn (or already off); no lead, ever */
} lg_rcpt_status;

typedef struct {
	char *recipient;       /* canonical */
	lg_rcpt_status status;
	gint64 lead_id;        /* 0 when none */
	gint64 ticket_number;  /* 0 when none */
	const char *lead_status; /* "unread", "won", "lost" (static) or NULL */
	gboolean hidden;
	char *decided_by;      /* "spam", "ticket-reply", "rule:20-x.sieve:12", ... */
	char *reason;          /* human-readable why */
	GPtrArray *trace;      /* char*: each step's verdict and rule trace, for `rules test` */
} lg_rcpt_result;

typedef struct lg_delivery lg_delivery;

lg_delivery *lg_delivery_new(lg_raw *raw, lg_envelope *env);
/* Replaces the envelope (takes it) and clears the results. */
void lg_delivery_set_envelope(lg_delivery *d, lg_envelope *env);
/* Parses the message; fails only for an empty or unreadable source. */
gboolean lg_delivery_parse(lg_delivery *d, const lg_config *cfg, GError **error);
gboolean lg_delivery_apply(lg_delivery *d, lg_store *st, const lg_config *cfg,
                           const lg_rules *rules, GError **error);
void lg_delivery_reset(lg_delivery *d);
/* lg_rcpt_result*, borrowed, one per envelope recipient in order. */
GPtrArray *lg_delivery_results(lg_delivery *d);
const lg_message *lg_delivery_message(lg_delivery *d);
const lg_envelope *lg_delivery_envelope(lg_delivery *d);
lg_raw *lg_delivery_raw(lg_delivery *d);
/* Elapsed time in ms since lg_delivery_new (for the log line). */
gint64 lg_delivery_elapsed_ms(lg_delivery *d);
/* Frees what only the parser and the chain needed: the parsed message and
 * the results' trace lines. The results and the Message-ID (for
 * lg_rcpt_result_format) stay. Not to be parsed or applied again after.
 * leadgate-lmtpd's writer calls it, so that this memory is freed by the
 * thread that allocated it. */
void lg_delivery_trim(lg_delivery *d);
void lg_delivery_free(lg_delivery *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(lg_delivery, lg_delivery_free)

/* begin + apply + commit, retrying a busy database a few times. */
gboolean lg_deliver_now(lg_delivery *d, lg_store *st, const lg_config *cfg,
                        const lg_rules *rules, GError **error);

/* Runs the chain and rolls everything back: what would happen, writing
 * nothing (`leadgate rules test`). The results and traces are kept. */
gboolean lg_deliver_dry_run(lg_delivery *d, lg_store *st, const lg_config *cfg,
                            const lg_rules *rules, GError **error);

/* RCPT-time check: is @rcpt a mailbox leadgate accepts (or covered by the
 * catch-all)? Sets *@known. Store errors are temporary. It reads the
 * store only with catch_all = none, or for the unsubscribe address (whose
 * token it verifies with the database's key; without a valid token that
 * address is unknown whatever the catch-all): lg_rcpt_needs_store(cfg,
 * rcpt); @st may be NULL otherwise. [mailer] from is always accepted (its
 * bounces and replies come back to it). */
gboolean lg_rcpt_needs_store(const lg_config *cfg, const char *rcpt);
/* Is @canon [mailer] from? */
gboolean lg_rcpt_is_mailer_from(const lg_config *cfg, const char *canon);
gboolean lg_rcpt_accepts(lg_store *st, const lg_config *cfg, const char *rcpt,
                         gboolean *known, GError **error);

/* "recorded", "duplicate", "quarantined", "unknown-recipient",
 * "unsubscribed", "pending" (static). */
const char *lg_rcpt_status_name(lg_rcpt_status status);

/* One log line for a recipient result (no trailing newline), as in SPEC §9. */
char *lg_rcpt_result_format(const lg_delivery *d, const lg_rcpt_result *r);

G_END_DECLS

#endif
