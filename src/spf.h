/*
 * NAME
 *   spf.h - SPF checks in a pool of helper processes, with a cache.
 *
 * SYNOPSIS
 *   pool = lg_spf_pool_new(&opts, &error);
 *   chk = lg_spf_pool_start(pool, ip, helo, sender);    at MAIL FROM
 *   ...                                                 the data transfer
 *   if (!lg_spf_check_notify(chk, wake, co))            at delivery
 *       yield until wake(co) is called (any thread);
 *   r = lg_spf_check_result(chk);       or lg_spf_check_wait(chk) to block
 *   lg_spf_check_unref(chk);
 *   lg_spf_pool_free(pool);
 *
 * SUMMARY
 *   The daemon side of leadgate-spf-helper (src/spf_helper.c, where the
 *   reasons for the separate process are): libspf2 is not linked here.
 *   lg_spf_pool_start() never blocks: it answers from the cache, or queues
 *   the check for one of the pool's threads, each of which owns one
 *   helper process and talks to it over a socketpair with the frames of
 *   spf_wire.h. A helper that does not answer within the timeout is
 *   killed (SIGKILL); one that dies, answers garbage or cannot be started
 *   gives temperror; either way the next check starts a new helper.
 *   Helpers are started when first needed, so a daemon that never checks
 *   has none.
 *
 *   The cache keeps verdicts per (client IP, sender domain; the HELO name
 *   for the null sender) for the TTL the helper reports (the smallest TTL
 *   of the records used, at most an hour); temperror and verdicts of
 *   records with macros (which may depend on the local part) are not kept.
 */
#ifndef LG_SPF_H
#define LG_SPF_H

#include <glib.h>
#include <sys/types.h>
#include "spf_wire.h"

G_BEGIN_DECLS

typedef struct {
	const char *helper;      /* program; NULL or "": LG_SPF_HELPER_PATH */
	int helpers;             /* processes (and threads) */
	int timeout;             /* seconds one check may take */
	int dns_timeout;         /* seconds per DNS query (RES_OPTIONS timeout) */
	gboolean drop;           /* change to uid/gid in the child (the daemon is root) */
	uid_t uid;
	gid_t gid;
	int cache_max;           /* entries; 0: no cache */
} lg_spf_pool_options;

typedef struct lg_spf_pool lg_spf_pool;
typedef struct lg_spf_check lg_spf_check;

/* Fills @uid/@gid/@drop for a daemon running as root: @user, or nobody
 * when @user is NULL, "" or root itself (helpers never run as root).
 * FALSE when that user does not exist. */
gboolean lg_spf_pool_options_user(lg_spf_pool_options *o, const char *user, GError **error);
lg_spf_pool *lg_spf_pool_new(const lg_spf_pool_options *o, GError **error);
/* Waits for the checks under way, then stops the helpers. */
void lg_spf_pool_free(lg_spf_pool *pool);

/* Starts a check of @sender (may be "") from @ip, @helo (may be NULL).
 * Never blocks. An @ip that is not an address, or fields too long for
 * the wire, give a check that is done at once with permerror/none. */
lg_spf_check *lg_spf_pool_start(lg_spf_pool *pool, const char *ip, const char *helo, const char *sender);
/* TRUE: done (@fn is not called). FALSE: @fn(@data) will be called once,
 * from a pool thread, when it is. */
gboolean lg_spf_check_notify(lg_spf_check *c, void (*fn)(gpointer data), gpointer data);
lg_spf_result lg_spf_check_wait(lg_spf_check *c);
/* After done only. */
lg_spf_result lg_spf_check_result(lg_spf_check *c);
const char *lg_spf_check_comment(lg_spf_check *c);
gboolean lg_spf_check_cached(lg_spf_check *c);
lg_spf_check *lg_spf_check_ref(lg_spf_check *c);
void lg_spf_check_unref(lg_spf_check *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(lg_spf_check, lg_spf_check_unref)

/* Process ids of the running helpers (tests, the log). */
GArray *lg_spf_pool_pids(lg_spf_pool *pool);

G_END_DECLS

#endif
