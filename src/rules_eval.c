/*
 * NAME
 *   rules_eval.c - runs a compiled rule set against one message.
 *
 * SUMMARY
 *   rules_eval_set() walks the files in order and their commands in order,
 *   for one recipient. Tests follow RFC 5228: a test with several values
 *   and several keys is true when any value matches any key; allof and
 *   anyof stop at the first test that settles them.
 *
 *   What the tests see:
 *     address   From, To, Cc, Reply-To and Sender come from the parsed
 *               message (canonical addresses); any other header is parsed
 *               with GMime and its mailboxes normalised the same way.
 *               :localpart is what comes before the last '@', :domain what
 *               follows it.
 *     header    every occurrence of the named headers, decoded to UTF-8.
 *     envelope  "from": the MAIL FROM address ("" for the null sender, for
 *               every address part); "to": the recipient being evaluated.
 *     size      the size of the raw message in bytes.
 *     body      the decoded text body (:text).
 *     environment  (RFC 5183) "vnd.leadgate.spf" and "vnd.leadgate.dmarc":
 *               the verdicts the chain believes ([auth]; lg_rule_auth);
 *               "remote-ip", "remote-host" and "vnd.leadgate.helo": the
 *               client Postfix forwarded (XFORWARD); "name": "leadgate".
 *               An item with no value makes the test false.
 *
 *   Comparators: i;ascii-casemap folds A-Z to a-z and nothing else (RFC
 *   4790), i;octet compares bytes. Under i;ascii-casemap a :regex is
 *   compiled caseless. ':matches' takes '*' (any run), '?' (one character,
 *   a UTF-8 sequence counting as one) and '\' to quote the next character.
 *
 *   Actions: the first ticket or spam decides (res->where); a later one is
 *   reported in the trace as ignored. lead actions accumulate, a later
 *   value replacing an earlier one. stop ends the evaluation of every file.
 *
 *   Regular expressions run with the set's PCRE2 match context (match and
 *   depth limits). A match that fails for any reason other than "no match"
 *   (a limit, the JIT stack, bad input) counts as no match and leaves one
 *   warning per pattern in the trace. When the set was loaded with
 *   log_limits (the daemon), it is also logged with g_warning, naming the
 *   file, line and column of the pattern: at most one line per pattern
 *   every RULES_LIMIT_LOG_S seconds, which counts the hits in between, so
 *   a rule that silently never matches shows in the log without flooding
 *   it.
 *
 *   Nothing here writes to the rule set but those log counters (atomic,
 *   in rules_key): everything else that changes (PCRE2 match data,
 *   case-folded copies of header values and body, parsed address lists)
 *   belongs to one evaluation, so threads may share a set.
 */
#include <string.h>

#include <gmime/gmime.h>

#include "address.h"
#include "rules_int.h"

typedef struct {
	const lg_rules *rules;
	const lg_message *msg;
	const lg_envelope *env;
	const lg_rule_auth *auth;   /* or NULL */
	char *rcpt;                 /* canonical recipient, or NULL */
	lg_rule_result *res;
	const rules_file *file;
	pcre2_match_data *md;       /* created on first use */
	char **hfold;               /* per header: ASCII-folded value */
	GPtrArray **haddr;          /* per header: char* canonical addresses */
	guint n_headers;
	char *body_fold;
	GHashTable *warned;         /* rules_key* already warned about */
	gboolean stopped;
} ev_ctx;

static void
ev_trace(ev_ctx *ev, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
ev_trace(ev_ctx *ev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	g_ptr_array_add(ev->res->trace, g_strdup_vprintf(fmt, ap));
	va_end(ap);
}

static const char *
pcre2_limit_name(int rc)
{
	switch (rc) {
	case PCRE2_ERROR_MATCHLIMIT: return "the match limit was reached";
	case PCRE2_ERROR_DEPTHLIMIT: return "the depth limit was reached";
	case PCRE2_ERROR_HEAPLIMIT: return "the heap limit was reached";
	case PCRE2_ERROR_JIT_STACKLIMIT: return "the JIT stack limit was reached";
	default: return NULL;
	}
}

#define RULES_LIMIT_LOG_S 60

/* Logs that @k's regex failed with @why, rate-limited (see SUMMARY). */
static void
ev_log_limit(ev_ctx *ev, const rules_key *k, const char *what, const char *why)
{
	/* the counters are the key's only mutable fields: the key itself was
	 * allocated writable, so the cast is defined */
	rules_key *mk = (rules_key *)k;
	gint now = (gint)(g_get_monotonic_time() / G_USEC_PER_SEC) + 1;
	gint last = g_atomic_int_get(&mk->limit_logged);
	gint hits = g_atomic_int_add(&mk->limit_hits, 1) + 1;

	if (last != 0 && now - last < RULES_LIMIT_LOG_S)
		return;
	if (!g_atomic_int_compare_and_exchange(&mk->limit_logged, last, now))
		return;   /* another thread reports it */
	g_atomic_int_add(&mk->limit_hits, -hits);
	g_warning("rules: %s:%u:%u: regular expression \"%s\" on %s: %s; treated as no match "
	          "(%d time(s) since the last report; at most one report a minute)",
	          ev->file->path, k->line, k->col, k->orig, what, why, hits);
}

static gboolean
ev_regex(ev_ctx *ev, const rules_key *k, const char *v, gsize len, const char *what)
{
	int rc;

	if (ev->md == NULL)
		ev->md = pcre2_match_data_create(1, NULL);
	rc = pcre2_match(k->re, (PCRE2_SPTR)v, len, 0, 0, ev->md, ev->rules->mctx);
	if (rc >= 0)
		return TRUE;
	if (rc != PCRE2_ERROR_NOMATCH && !g_hash_table_contains(ev->warned, k)) {
		const char *why = pcre2_limit_name(rc);
		PCRE2_UCHAR buf[256];

		if (why == NULL) {
			pcre2_get_error_message(rc, buf, sizeof buf);
			why = (const char *)buf;
		}
		if (ev->rules->log_limits)
			ev_log_limit(ev, k, what, why);
		g_hash_table_add(ev->warned, (gpointer)k);
		ev_trace(ev, "%s:%u:%u: warning: regular expression \"%s\" on %s: %s; "
		         "treated as no match", ev->file->name, k->line, k->col, k->orig, what, why);
	}
	return FALSE;
}

/* Does one value match any key? @folded is @raw with A-Z folded (same
 * length); it is used under i;ascii-casemap except by :regex. */
static gboolean
ev_match(ev_ctx *ev, const rules_test *t, const char *raw, const char *folded, gsize len,
         const char *what)
{
	const char *v = t->cmp == CMP_CASEMAP ? folded : raw;

	for (guint i = 0; i < t->n_keys; i++) {
		const rules_key *k = &t->keys[i];

		switch (t->match) {
		case MT_IS:
			if (k->len == len && memcmp(v, k->str, len) == 0)
				return TRUE;
			break;
		case MT_CONTAINS:
			if (k->len == 0 || (len >= k->len && memmem(v, len, k->str, k->len) != NULL))
				return TRUE;
			break;
		case MT_MATCHES:
			if (rules_glob_match(k, v, len))
				return TRUE;
			break;
		case MT_REGEX:
			if (ev_regex(ev, k, raw, len, what))
				return TRUE;
			break;
		}
	}
	return FALSE;
}

static const char *
ev_header_fold(ev_ctx *ev, guint i)
{
	const lg_header *h = g_ptr_array_index(ev->msg->headers, i);

	if (ev->hfold == NULL)
		ev->hfold = g_new0(char *, ev->n_headers);
	if (ev->hfold[i] == NULL)
		ev->hfold[i] = g_ascii_strdown(h->value ? h->value : "", -1);
	return ev->hfold[i];
}

static void
collect_addresses(InternetAddressList *list, GPtrArray *out)
{
	int n = list ? internet_address_list_length(list) : 0;

	for (int i = 0; i < n; i++) {
		InternetAddress *ia = internet_address_list_get_address(list, i);

		if (INTERNET_ADDRESS_IS_GROUP(ia)) {
			collect_addresses(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)), out);
		} else if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
			const char *a = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
			char *canon = a ? lg_addr_normalize(a) : NULL;

			if (canon)
				g_ptr_array_add(out, canon);
		}
	}
}

static GPtrArray *
ev_header_addresses(ev_ctx *ev, guint i)
{
	const lg_header *h = g_ptr_array_index(ev->msg->headers, i);

	if (ev->haddr == NULL)
		ev->haddr = g_new0(GPtrArray *, ev->n_headers);
	if (ev->haddr[i] == NULL) {
		InternetAddressList *list;

		ev->haddr[i] = g_ptr_array_new_with_free_func(g_free);
		g_autofree char *value = g_strdup(h->value ? h->value : "");
		lg_message_guard_address_value(value);
		list = internet_address_list_parse(NULL, value);
		if (list) {
			collect_addresses(list, ev->haddr[i]);
			g_object_unref(list);
		}
	}
	return ev->haddr[i];
}

/* Matches one canonical address under the test's address part. */
static gboolean
ev_match_address(ev_ctx *ev, const rules_test *t, const char *email, const char *what)
{
	const char *at;

	if (email == NULL)
		return FALSE;
	if (*email == '\0')   /* the null sender: "" for every part */
		return ev_match(ev, t, email, email, 0, what);
	at = strrchr(email, '@');
	switch (t->part) {
	case AP_ALL:
		return ev_match(ev, t, email, email, strlen(email), what);
	case AP_LOCALPART:
		return at && ev_match(ev, t, email, email, (gsize)(at - email), what);
	case AP_DOMAIN:
		return at && ev_match(ev, t, at + 1, at + 1, strlen(at + 1), what);
	}
	return FALSE;
}

static gboolean
ev_match_address_array(ev_ctx *ev, const rules_test *t, GPtrArray *a, const char *what)
{
	for (guint i = 0; a && i < a->len; i++) {
		const lg_address *addr = g_ptr_array_index(a, i);

		if (addr && ev_match_address(ev, t, addr->email, what))
			return TRUE;
	}
	return FALSE;
}

static gboolean
ev_address(ev_ctx *ev, const rules_test *t)
{
	const lg_message *m = ev->msg;

	for (char **n = t->names; *n; n++) {
		g_autofree char *what = g_strdup_printf("address \"%s\"", *n);

		if (strcmp(*n, "from") == 0) {
			if (m->from && ev_match_address(ev, t, m->from->email, what))
				return TRUE;
		} else if (strcmp(*n, "to") == 0) {
			if (ev_match_address_array(ev, t, m->to, what))
				return TRUE;
		} else if (strcmp(*n, "cc") == 0) {
			if (ev_match_address_array(ev, t, m->cc, what))
				return TRUE;
		} else if (strcmp(*n, "reply-to") == 0) {
			if (m->reply_to && ev_match_address(ev, t, m->reply_to->email, what))
				return TRUE;
		} else if (strcmp(*n, "sender") == 0) {
			if (m->sender_hdr && ev_match_address(ev, t, m->sender_hdr->email, what))
				return TRUE;
		} else {
			for (guint i = 0; i < ev->n_headers; i++) {
				const lg_header *h = g_ptr_array_index(m->headers, i);
				GPtrArray *addrs;

				if (h->name == NULL || g_ascii_strcasecmp(h->name, *n) != 0)
					continue;
				addrs = ev_header_addresses(ev, i);
				for (guint j = 0; j < addrs->len; j++)
					if (ev_match_address(ev, t, g_ptr_array_index(addrs, j), what))
						return TRUE;
			}
		}
	}
	return FALSE;
}

static gboolean
ev_header(ev_ctx *ev, const rules_test *t)
{
	for (char **n = t->names; *n; n++) {
		for (guint i = 0; i < ev->n_headers; i++) {
			const lg_header *h = g_ptr_array_index(ev->msg->headers, i);
			const char *v;
			g_autofree char *what = NULL;

			if (h->name == NULL || g_ascii_strcasecmp(h->name, *n) != 0)
				continue;
			v = h->value ? h->value : "";
			what = g_strdup_printf("header \"%s\"", h->name);
			if (ev_match(ev, t, v, ev_header_fold(ev, i), strlen(v), what))
				return TRUE;
		}
	}
	return FALSE;
}

/* The value of an environment item (RFC 5183), or NULL when it has none. */
static const char *
ev_environment_item(ev_ctx *ev, const char *name)
{
	if (strcmp(name, "vnd.leadgate.spf") == 0)
		return ev->auth ? ev->auth->spf : NULL;
	if (strcmp(name, "vnd.leadgate.dmarc") == 0)
		return ev->auth ? ev->auth->dmarc : NULL;
	if (strcmp(name, "remote-ip") == 0)
		return ev->env ? ev->env->client_addr : NULL;
	if (strcmp(name, "remote-host") == 0)
		return ev->env ? ev->env->client_name : NULL;
	if (strcmp(name, "vnd.leadgate.helo") == 0)
		return ev->env ? ev->env->client_helo : NULL;
	if (strcmp(name, "name") == 0)
		return "leadgate";
	return NULL;
}

static gboolean
ev_environment(ev_ctx *ev, const rules_test *t)
{
	for (char **n = t->names; *n; n++) {
		const char *v = ev_environment_item(ev, *n);
		g_autofree char *fold = NULL;
		g_autofree char *what = NULL;

		if (v == NULL)
			continue;
		fold = g_ascii_strdown(v, -1);
		what = g_strdup_printf("environment \"%s\"", *n);
		if (ev_match(ev, t, v, fold, strlen(v), what))
			return TRUE;
	}
	return FALSE;
}

static gboolean
ev_envelope(ev_ctx *ev, const rules_test *t)
{
	for (char **n = t->names; *n; n++) {
		if (strcmp(*n, "from") == 0) {
			if (ev->env && ev->env->sender &&
			    ev_match_address(ev, t, ev->env->sender, "envelope \"from\""))
				return TRUE;
		} else if (ev->rcpt && ev_match_address(ev, t, ev->rcpt, "envelope \"to\"")) {
			return TRUE;
		}
	}
	return FALSE;
}

static gboolean
ev_exists(ev_ctx *ev, const rules_test *t)
{
	for (char **n = t->names; *n; n++) {
		gboolean found = FALSE;

		for (guint i = 0; i < ev->n_headers && !found; i++) {
			const lg_header *h = g_ptr_array_index(ev->msg->headers, i);

			found = h->name && g_ascii_strcasecmp(h->name, *n) == 0;
		}
		if (!found)
			return FALSE;
	}
	return TRUE;
}

static gboolean
ev_body(ev_ctx *ev, const rules_test *t)
{
	const char *b = ev->msg->body_text ? ev->msg->body_text : "";

	if (t->cmp == CMP_CASEMAP && t->match != MT_REGEX && ev->body_fold == NULL)
		ev->body_fold = g_ascii_strdown(b, -1);
	return ev_match(ev, t, b, ev->body_fold ? ev->body_fold : b, strlen(b), "the body");
}

static gboolean
ev_test(ev_ctx *ev, const rules_test *t)
{
	switch (t->kind) {
	case T_ADDRESS: return ev_address(ev, t);
	case T_HEADER: return ev_header(ev, t);
	case T_ENVELOPE: return ev_envelope(ev, t);
	case T_ENVIRONMENT: return ev_environment(ev, t);
	case T_EXISTS: return ev_exists(ev, t);
	case T_SIZE:
		return t->over ? ev->msg->size > (gint64)t->limit
		               : ev->msg->size < (gint64)t->limit;
	case T_BODY: return ev_body(ev, t);
	case T_ALLOF:
		for (guint i = 0; i < t->n_sub; i++)
			if (!ev_test(ev, t->sub[i]))
				return FALSE;
		return TRUE;
	case T_ANYOF:
		for (guint i = 0; i < t->n_sub; i++)
			if (ev_test(ev, t->sub[i]))
				return TRUE;
		return FALSE;
	case T_NOT: return !ev_test(ev, t->sub[0]);
	case T_TRUE: return TRUE;
	case T_FALSE: return FALSE;
	}
	return FALSE;
}

static void
set_field(char **dst, const char *v)
{
	if (v != NULL) {
		g_free(*dst);
		*dst = g_strdup(v);
	}
}

static void
ev_action(ev_ctx *ev, const rules_cmd *c)
{
	lg_rule_result *res = ev->res;
	const char *name = ev->file->name;

	switch (c->kind) {
	case C_TICKET:
	case C_SPAM:
		if (res->decision != LG_RULE_NONE) {
			ev_trace(ev, "%s:%u: %s ignored: %s decided already", name, c->line, c->text,
			         res->where);
			return;
		}
		res->decision = c->kind == C_TICKET ? LG_RULE_TICKET : LG_RULE_SPAM;
		res->where = g_strdup_printf("%s:%u", name, c->line);
		if (c->kind == C_TICKET) {
			res->organization = g_strdup(c->organization);
			res->priority = g_strdup(c->priority);
			res->type = g_strdup(c->type);
			res->assign = g_strdup(c->assign);
			res->status = g_strdup(c->status);
		}
		ev_trace(ev, "%s:%u: %s (decides)", name, c->line, c->text);
		break;
	case C_LEAD:
		set_field(&res->lead_source, c->source);
		set_field(&res->lead_assign, c->assign);
		set_field(&res->lead_stage, c->stage);
		g_free(res->lead_where);
		res->lead_where = g_strdup_printf("%s:%u", name, c->line);
		ev_trace(ev, "%s:%u: %s", name, c->line, c->text);
		break;
	case C_KEEP:
		ev_trace(ev, "%s:%u: keep (no decision)", name, c->line);
		break;
	case C_STOP:
		ev_trace(ev, "%s:%u: stop", name, c->line);
		ev->stopped = TRUE;
		break;
	case C_IF:
		break;
	}
}

static void
ev_block(ev_ctx *ev, const GPtrArray *cmds)
{
	for (guint i = 0; i < cmds->len && !ev->stopped; i++) {
		const rules_cmd *c = g_ptr_array_index(cmds, i);

		if (c->kind != C_IF) {
			ev_action(ev, c);
			continue;
		}
		for (guint j = 0; j < c->branches->len; j++) {
			const rules_branch *b = g_ptr_array_index(c->branches, j);

			if (b->test == NULL || ev_test(ev, b->test)) {
				ev_trace(ev, "%s:%u: %s %s", ev->file->name, b->line, b->word,
				         b->test ? "matched" : "taken");
				ev_block(ev, b->block);
				break;
			}
		}
	}
}

void
rules_eval_set(const lg_rules *rules, const lg_message *msg, const lg_envelope *env,
               const lg_rule_auth *auth, const char *rcpt, lg_rule_result *res)
{
	ev_ctx ev = { 0 };

	ev.rules = rules;
	ev.msg = msg;
	ev.env = env;
	ev.auth = auth;
	ev.res = res;
	ev.n_headers = msg->headers ? msg->headers->len : 0;
	ev.warned = g_hash_table_new(g_direct_hash, g_direct_equal);
	if (rcpt != NULL) {
		ev.rcpt = lg_addr_normalize(rcpt);
		if (ev.rcpt == NULL)
			ev.rcpt = g_strdup(rcpt);
	}
	for (guint i = 0; i < rules->files->len && !ev.stopped; i++) {
		ev.file = g_ptr_array_index(rules->files, i);
		ev_block(&ev, ev.file->cmds);
	}
	if (ev.md)
		pcre2_match_data_free(ev.md);
	for (guint i = 0; ev.hfold && i < ev.n_headers; i++)
		g_free(ev.hfold[i]);
	g_free(ev.hfold);
	for (guint i = 0; ev.haddr && i < ev.n_headers; i++)
		if (ev.haddr[i])
			g_ptr_array_unref(ev.haddr[i]);
	g_free(ev.haddr);
	g_free(ev.body_fold);
	g_free(ev.rcpt);
	g_hash_table_unref(ev.warned);
}
