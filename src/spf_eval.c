/*
 * NAME
 *   spf_eval.c - one SPF check with libspf2 behind the guard (spf_eval.h).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/landlock.h>
#include <resolv.h>
#include <spf2/spf.h>
#include <spf2/spf_dns.h>
#include <spf2/spf_dns_resolv.h>
#include "spf_eval.h"

typedef struct {
	int queries;
	int voids;
	int over;          /* a limit was passed: permerror */
	int dns_error;     /* a look-up failed: temperror */
	long min_ttl;      /* -1: no record seen */
	int macros;        /* an SPF record with a macro */
} guard_state;

struct lg_spf_checker {
	SPF_server_t *server;
	SPF_dns_server_t *guard;
	guard_state st;
	int own_txt;                 /* TXT look-ups by txt_lookup(), not libspf2 */
	int res_ok;
	struct __res_state res;
	unsigned char answer[65536];
};

/* TXT records through the resolver, with their TTL: libspf2 1.2.10's
 * resolver layer does not keep TTLs, and the SPF record's TTL is how long
 * a verdict may be cached. The other types go to libspf2's layer. */
static SPF_dns_rr_t *
txt_lookup(lg_spf_checker *k, SPF_dns_server_t *self, const char *domain)
{
	ns_msg msg;
	long ttl = -1;
	int len, cnt = 0;

	if (!k->res_ok) {
		if (res_ninit(&k->res) != 0)
			return SPF_dns_rr_new_init(self, domain, ns_t_txt, 0, TRY_AGAIN);
		k->res_ok = 1;
	}
	len = res_nquery(&k->res, domain, ns_c_in, ns_t_txt, k->answer, sizeof k->answer);
	if (len < 0) {
		int h = k->res.res_h_errno;
		if (h != HOST_NOT_FOUND && h != NO_DATA && h != NO_RECOVERY)
			h = TRY_AGAIN;
		return SPF_dns_rr_new_init(self, domain, ns_t_txt, 0, h);
	}
	if (len > (int) sizeof k->answer || ns_initparse(k->answer, len, &msg) < 0)
		return SPF_dns_rr_new_init(self, domain, ns_t_txt, 0, NO_RECOVERY);
	SPF_dns_rr_t *rr = SPF_dns_rr_new_init(self, domain, ns_t_txt, 0, NETDB_SUCCESS);
	for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
		ns_rr r;
		if (ns_parserr(&msg, ns_s_an, i, &r) < 0) {
			rr->herrno = NO_RECOVERY;
			break;
		}
		if (ns_rr_type(r) != ns_t_txt || ns_rr_class(r) != ns_c_in)
			continue;
		/* the character-strings of one record, joined (RFC 7208 §3.3) */
		const unsigned char *p = ns_rr_rdata(r), *end = p + ns_rr_rdlen(r), *q;
		size_t total = 0;
		for (q = p; q < end; q += 1 + *q)
			total += *q;
		if (q != end) {
			rr->herrno = NO_RECOVERY;
			break;
		}
		if (SPF_dns_rr_buf_realloc(rr, cnt, total + 1) != SPF_E_SUCCESS) {
			rr->herrno = TRY_AGAIN;
			break;
		}
		char *out = rr->rr[cnt]->txt;
		for (q = p; q < end; q += 1 + *q) {
			memcpy(out, q + 1, *q);
			out += *q;
		}
		*out = '\0';
		cnt++;
		if (ttl < 0 || (long) ns_rr_ttl(r) < ttl)
			ttl = (long) ns_rr_ttl(r);
	}
	rr->num_rr = rr->herrno == NETDB_SUCCESS ? cnt : 0;
	rr->ttl = ttl < 0 ? 0 : ttl;
	if (rr->herrno == NETDB_SUCCESS && cnt == 0)
		rr->herrno = NO_DATA;
	return rr;
}

static SPF_dns_rr_t *
guard_lookup(SPF_dns_server_t *self, const char *domain, ns_type type, int should_cache)
{
	lg_spf_checker *k = self->hook;
	guard_state *st = &k->st;
	if (type == ns_t_spf)
		return SPF_dns_rr_new_init(self, domain, type, 0, NO_DATA);
	if (st->over || st->queries >= LG_SPF_QUERY_MAX) {
		st->over = 1;
		return SPF_dns_rr_new_init(self, domain, type, 0, HOST_NOT_FOUND);
	}
	st->queries++;
	SPF_dns_rr_t *rr = k->own_txt && type == ns_t_txt ? txt_lookup(k, self, domain)
	                                                  : SPF_dns_lookup(self->layer_below, domain, type, should_cache);
	switch (rr->herrno) {
	case NETDB_SUCCESS:
		if (rr->num_rr == 0) {
			st->voids++;
			break;
		}
		if (st->min_ttl < 0 || (long) rr->ttl < st->min_ttl)
			st->min_ttl = (long) rr->ttl;
		if (type == ns_t_txt)
			for (int i = 0; i < rr->num_rr; i++)
				if (strncasecmp(rr->rr[i]->txt, "v=spf1", 6) == 0 && strchr(rr->rr[i]->txt, '%'))
					st->macros = 1;
		break;
	case HOST_NOT_FOUND:
	case NO_DATA:
		st->voids++;
		break;
	default:
		/* RFC 7208 §5.5: a PTR look-up's error is a non-match, not an error */
		if (type != ns_t_ptr)
			st->dns_error = 1;
		break;
	}
	if (st->voids > LG_SPF_VOID_MAX)
		st->over = 1;
	return rr;
}

static void
guard_destroy(SPF_dns_server_t *self)
{
	free(self);
}

lg_spf_checker *
lg_spf_checker_new(SPF_dns_server_t *below)
{
	lg_spf_checker *k = calloc(1, sizeof *k);
	if (k == NULL)
		return NULL;
	if (below == NULL) {
		below = SPF_dns_resolv_new(NULL, "resolv", 0);
		k->own_txt = 1;
		k->res_ok = res_ninit(&k->res) == 0;   /* reads /etc/resolv.conf now */
	}
	k->guard = calloc(1, sizeof *k->guard);
	if (below == NULL || k->guard == NULL) {
		if (below)
			SPF_dns_free(below);
		free(k->guard);
		free(k);
		return NULL;
	}
	k->guard->destroy = guard_destroy;
	k->guard->lookup = guard_lookup;
	k->guard->layer_below = below;
	k->guard->name = "leadgate-guard";
	k->guard->hook = k;
	k->server = SPF_server_new_dns(k->guard, 0);
	if (k->server == NULL) {
		SPF_dns_free(k->guard);
		free(k);
		return NULL;
	}
	SPF_server_set_rec_dom(k->server, "leadgate");   /* the receiver named in comments */
	/* RFC 7208 §4.6.4: 10 DNS-querying terms, 10 names per mx and ptr */
	SPF_server_set_max_dns_mech(k->server, 10);
	SPF_server_set_max_dns_mx(k->server, 10);
	SPF_server_set_max_dns_ptr(k->server, 10);
	return k;
}

void
lg_spf_checker_free(lg_spf_checker *k)
{
	if (k == NULL)
		return;
	SPF_server_free(k->server);   /* not the resolver: it is ours */
	SPF_dns_free(k->guard);
	if (k->res_ok)
		res_nclose(&k->res);
	free(k);
}

/* libspf2's "invalid" and its error list: which of our results is it? */
static lg_spf_result
classify_invalid(SPF_response_t *resp, SPF_errcode_t err)
{
	int syntax = 0;
	if (err == SPF_E_DNS_ERROR)
		return LG_SPF_TEMPERROR;
	for (int i = 0; i < SPF_response_messages(resp); i++) {
		SPF_errcode_t c = SPF_error_code(SPF_response_message(resp, i));
		if (c == SPF_E_DNS_ERROR)
			return LG_SPF_TEMPERROR;
		if (c == SPF_E_NO_MEMORY)
			return LG_SPF_TEMPERROR;
		if (c != SPF_E_SUCCESS && c != SPF_E_NOT_SPF)
			syntax = 1;
	}
	return syntax ? LG_SPF_PERMERROR : LG_SPF_NONE;
}

static void
set_comment(lg_spf_response *out, const char *text)
{
	size_t n = 0;
	for (const char *p = text ? text : ""; *p && n < LG_SPF_COMMENT_MAX; p++) {
		unsigned char c = (unsigned char) *p;
		out->comment[n++] = c < 0x20 || c >= 0x7f ? '?' : (char) c;
	}
	out->comment[n] = '\0';
}

void
lg_spf_checker_run(lg_spf_checker *k, const lg_spf_request *req, lg_spf_response *out)
{
	memset(out, 0, sizeof *out);
	memset(&k->st, 0, sizeof k->st);
	k->st.min_ttl = -1;
	out->id = req->id;
	if (*req->sender == '\0' && *req->helo == '\0') {
		out->result = LG_SPF_NONE;
		out->ttl = 0;
		set_comment(out, "no sender and no HELO: no domain to check");
		return;
	}
	SPF_request_t *r = SPF_request_new(k->server);
	SPF_response_t *resp = NULL;
	SPF_errcode_t err = strchr(req->ip, ':') ? SPF_request_set_ipv6_str(r, req->ip)
	                                         : SPF_request_set_ipv4_str(r, req->ip);
	if (err == SPF_E_SUCCESS && *req->helo)
		err = SPF_request_set_helo_dom(r, req->helo);
	if (err == SPF_E_SUCCESS)
		err = SPF_request_set_env_from(r, req->sender);   /* "" with a HELO: postmaster@HELO */
	if (err != SPF_E_SUCCESS) {
		SPF_request_free(r);
		out->result = err == SPF_E_NO_MEMORY ? LG_SPF_TEMPERROR : LG_SPF_PERMERROR;
		set_comment(out, "request refused by libspf2");
		return;
	}
	err = SPF_request_query_mailfrom(r, &resp);
	SPF_result_t res = resp ? SPF_response_result(resp) : SPF_RESULT_INVALID;
	switch (res) {
	case SPF_RESULT_PASS: out->result = LG_SPF_PASS; break;
	case SPF_RESULT_FAIL: out->result = LG_SPF_FAIL; break;
	case SPF_RESULT_SOFTFAIL: out->result = LG_SPF_SOFTFAIL; break;
	case SPF_RESULT_NEUTRAL: out->result = LG_SPF_NEUTRAL; break;
	case SPF_RESULT_NONE: out->result = LG_SPF_NONE; break;
	case SPF_RESULT_TEMPERROR: out->result = LG_SPF_TEMPERROR; break;
	case SPF_RESULT_PERMERROR: out->result = LG_SPF_PERMERROR; break;
	case SPF_RESULT_INVALID:
	default:
		out->result = resp ? classify_invalid(resp, err) : LG_SPF_TEMPERROR;
		break;
	}
	const char *why = resp ? SPF_response_get_header_comment(resp) : NULL;
	if (k->st.dns_error) {
		out->result = LG_SPF_TEMPERROR;
		why = "a DNS look-up failed or timed out";
	} else if (k->st.over) {
		out->result = LG_SPF_PERMERROR;
		why = k->st.voids > LG_SPF_VOID_MAX ? "more than 2 void DNS look-ups (RFC 7208 4.6.4)"
		                                   : "too many DNS look-ups";
	} else if (out->result == LG_SPF_PERMERROR && resp && SPF_response_messages(resp) > 0) {
		why = SPF_error_message(SPF_response_message(resp, 0));
	}
	set_comment(out, why);
	if (out->result == LG_SPF_TEMPERROR)
		out->ttl = 0;
	else if (k->st.min_ttl < 0)
		out->ttl = LG_SPF_TTL_NONE;
	else
		out->ttl = k->st.min_ttl > LG_SPF_TTL_MAX ? LG_SPF_TTL_MAX : (uint32_t) k->st.min_ttl;
	if (k->st.macros || *req->sender == '\0')
		out->flags |= LG_SPF_FLAG_NOCACHE;
	if (resp)
		SPF_response_free(resp);
	SPF_request_free(r);
}

int
lg_spf_sandbox_fs(void)
{
#ifdef __NR_landlock_create_ruleset
	__u64 fs = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
	           LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
	           LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
	           LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
	           LANDLOCK_ACCESS_FS_MAKE_SYM;
	long abi = syscall(__NR_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1)
		return 0;
#ifdef LANDLOCK_ACCESS_FS_REFER
	if (abi >= 2)
		fs |= LANDLOCK_ACCESS_FS_REFER;
#endif
	struct landlock_ruleset_attr ra = { .handled_access_fs = fs };
	int rs = (int) syscall(__NR_landlock_create_ruleset, &ra, sizeof ra, 0);
	if (rs < 0)
		return -1;
	struct landlock_path_beneath_attr pb = {
		.allowed_access = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR,
		.parent_fd = open("/etc", O_PATH | O_CLOEXEC | O_DIRECTORY),
	};
	int ok = pb.parent_fd >= 0 && syscall(__NR_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) == 0 &&
	         syscall(__NR_landlock_restrict_self, rs, 0) == 0;
	if (pb.parent_fd >= 0)
		close(pb.parent_fd);
	close(rs);
	return ok ? 1 : -1;
#else
	return 0;
#endif
}
