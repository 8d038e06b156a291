/*
 * NAME
 *   spf_eval.h - one SPF check with libspf2 (the helper's core).
 *
 * SYNOPSIS
 *   lg_spf_checker *k = lg_spf_checker_new(NULL);      the system resolver
 *   lg_spf_checker *k = lg_spf_checker_new(zone);      a libspf2 layer (tests)
 *   lg_spf_checker_run(k, &req, &resp);
 *   lg_spf_checker_free(k);
 *
 * SUMMARY
 *   Only leadgate-spf-helper (src/spf_helper.c) and the unit tests link
 *   this file and libspf2; the daemons never do (src/spf.c).
 *
 *   Between libspf2 and the DNS layer below (its resolver, or an in-memory
 *   SPF_dns_zone in the tests) sits a layer of our own, the guard, which
 *   counts what libspf2 1.2.10 does not:
 *
 *     - void look-ups (an answer with no records, or NXDOMAIN): past
 *       LG_SPF_VOID_MAX (RFC 7208 §4.6.4: 2) the check is permerror, and
 *       the guard answers every further look-up NXDOMAIN without asking;
 *     - every query: past LG_SPF_QUERY_MAX the same (a bound on the work a
 *       record can cause, besides libspf2's 10 DNS-querying terms);
 *     - DNS errors (timeout, SERVFAIL, refused): the check is temperror
 *       (§4.4), whatever libspf2 made of it (it calls some "invalid", some
 *       permerror, and goes on past an error inside a mechanism);
 *     - the smallest TTL of the records it saw, for the daemon's cache, and
 *       whether the SPF record used macros (then the verdict may depend on
 *       more than client IP and domain: not cached).
 *
 *   Type SPF (99) records are not asked for (RFC 7208 §3.1: TXT only); the
 *   guard answers NODATA itself, so a timeout costs one wait, not two.
 *
 *   The mapping of libspf2's result: pass, fail, softfail, neutral, none,
 *   temperror and permerror as they are; "invalid" (libspf2's answer to a
 *   record that does not compile, to a TXT answer with no records, or to an
 *   unknown DNS failure) becomes temperror after a DNS error, permerror
 *   after a syntax error, none otherwise.
 */
#ifndef LG_SPF_EVAL_H
#define LG_SPF_EVAL_H

#include "spf_wire.h"

#define LG_SPF_VOID_MAX   2
#define LG_SPF_QUERY_MAX  40
#define LG_SPF_TTL_MAX    3600   /* longest time a verdict is cached */
#define LG_SPF_TTL_NONE   300    /* a verdict from no record at all */

typedef struct lg_spf_checker lg_spf_checker;
struct SPF_dns_server_struct;

/* @below: the DNS layer under the guard (taken: freed with the checker),
 * NULL for libspf2's resolver layer. NULL when libspf2 fails to start. */
lg_spf_checker *lg_spf_checker_new(struct SPF_dns_server_struct *below);
void lg_spf_checker_run(lg_spf_checker *k, const lg_spf_request *req, lg_spf_response *resp);
void lg_spf_checker_free(lg_spf_checker *k);

/* Landlock (Linux 5.13+): from now on this process may read files under
 * /etc (the resolver's configuration) and nothing else of the file system:
 * no reading, writing or executing elsewhere. Needs PR_SET_NO_NEW_PRIVS.
 * 1: restricted; 0: Landlock is not available (an older kernel, or a
 * seccomp filter that refuses its calls), nothing changed; -1: it failed. */
int lg_spf_sandbox_fs(void);

#endif
