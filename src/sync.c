/*
 * NAME
 *   sync.c - the email sync filter (see sync.h; SPEC §5).
 *
 * SUMMARY
 *   The participants of a message are its From, To and Cc addresses and
 *   its Bcc recipients: the envelope recipients found in neither To nor Cc
 *   (never a header: Bcc is not in a sent message). Each carries the fields
 *   it was found in, since exclusions and capture apply per field.
 *
 *   The user of outbound mail is found by the SASL login, then the envelope
 *   sender, then From (the submission service is expected to tie the sender
 *   to the login, e.g. Postfix's smtpd_sender_login_maps); the users of
 *   inbound mail are the envelope recipients that are users' addresses
 *   (To and Cc when there is no envelope, as for `leadgate ingest`).
 *
 *   Per user, in this order, the first that applies decides:
 *   removed / sync off / role not in connect_roles -> skipped; automated
 *   mail (any participant a no-reply, postmaster or mailer-daemon address;
 *   Auto-Submitted, Precedence, auto-reply headers, List-Id,
 *   List-Unsubscribe, a delivery report, leadgate's loop header, a null
 *   envelope sender or Return-Path) -> skipped; only internal addresses
 *   with skip_internal -> skipped; an excluded address in an applicable
 *   field -> skipped; keywords required and none found -> skipped.
 *   Otherwise each counterpart (a participant other than the user outside
 *   the internal domains; every other participant when all are internal and
 *   skip_internal is off) gets an activity on its lead, or on a lead
 *   captured for it, or a skipped row (no_lead, too_many_counterparts, spam:
 *   never a new lead for an address or domain on the spam list).
 *
 *   The kill switch and a disabled direction come first and leave nothing,
 *   as does mail in which no participant is a user.
 */
#include <stdio.h>
#include <string.h>
#include "lg.h"
#include "address.h"
#include "sync.h"
#include "store_sync.h"

enum { F_FROM = 1 << 0, F_TO = 1 << 1, F_CC = 1 << 2, F_BCC = 1 << 3 };

typedef struct {
	char *email;
	char *name;
	guint fields;
} participant;

static void
participant_free(gpointer p)
{
	participant *x = p;
	g_free(x->email);
	g_free(x->name);
	g_free(x);
}

static guint
field_bit(const char *name)
{
	if (strcmp(name, "from") == 0) return F_FROM;
	if (strcmp(name, "to") == 0) return F_TO;
	if (strcmp(name, "cc") == 0) return F_CC;
	if (strcmp(name, "bcc") == 0) return F_BCC;
	return 0;
}

static guint
field_mask(char **names)
{
	guint m = 0;
	for (char **n = names; n && *n; n++)
		m |= field_bit(*n);
	return m;
}

static gboolean
strv_has(char **v, const char *s)
{
	return v != NULL && g_strv_contains((const char *const *) v, s);
}

/* ---- pure parts ---------------------------------------------------------- */

static gboolean
word_char_at(const char *p)
{
	gunichar c = g_utf8_get_char_validated(p, -1);
	return c != (gunichar) -1 && c != (gunichar) -2 && (g_unichar_isalnum(c) || c == '_');
}

gboolean
lg_sync_phrase_match(const char *text, const char *keyword)
{
	if (text == NULL || keyword == NULL || *keyword == '\0')
		return FALSE;
	/* Case folding keeps every blank as it is, so "a  b" (two spaces) stays
	 * different from "a b": the phrase must be written the same way. Both
	 * are folded and NFC-normalised so composed and decomposed accents meet. */
	g_autofree char *t0 = g_utf8_casefold(text, -1);
	g_autofree char *k0 = g_utf8_casefold(keyword, -1);
	g_autofree char *t = g_utf8_normalize(t0, -1, G_NORMALIZE_NFC);
	g_autofree char *k = g_utf8_normalize(k0, -1, G_NORMALIZE_NFC);
	if (t == NULL || k == NULL)
		return FALSE;
	g_strstrip(k);
	if (*k == '\0')
		return FALSE;
	gsize klen = strlen(k);
	gboolean k_starts_word = word_char_at(k);
	gboolean k_ends_word = word_char_at(g_utf8_find_prev_char(k, k + klen));
	for (const char *p = strstr(t, k); p != NULL; p = strstr(p + 1, k)) {
		/* whole words: no letter or digit glued on either side */
		if (k_starts_word && p > t && word_char_at(g_utf8_find_prev_char(t, p)))
			continue;
		if (k_ends_word && p[klen] != '\0' && word_char_at(p + klen))
			continue;
		return TRUE;
	}
	return FALSE;
}

gboolean
lg_sync_addr_matches(const char *email, const char *item)
{
	if (email == NULL || item == NULL)
		return FALSE;
	g_autofree char *it = g_utf8_strdown(item, -1);
	g_strstrip(it);
	const char *i = it[0] == '@' ? it + 1 : it;
	if (*i == '\0')
		return FALSE;
	if (strchr(i, '@') != NULL)
		return strcmp(email, i) == 0;
	const char *dom = lg_addr_domain(email);
	if (dom == NULL)
		return FALSE;
	if (strcmp(dom, i) == 0)
		return TRUE;
	gsize dl = strlen(dom), il = strlen(i);
	return dl > il && dom[dl - il - 1] == '.' && strcmp(dom + dl - il, i) == 0;
}

gboolean
lg_sync_type_allowed(const char *content_type, const char *filename, char **types)
{
	for (char **t = types; t && *t; t++) {
		const char *x = *t;
		if (strcmp(x, "*") == 0 || strcmp(x, "*/*") == 0)
			return TRUE;
		if (x[0] == '.') {
			if (filename != NULL && g_str_has_suffix(filename, x))
				return TRUE;
			g_autofree char *lower = filename ? g_utf8_strdown(filename, -1) : NULL;
			g_autofree char *xl = g_utf8_strdown(x, -1);
			if (lower != NULL && g_str_has_suffix(lower, xl))
				return TRUE;
			continue;
		}
		if (content_type == NULL)
			continue;
		gsize n = strlen(x);
		if (n >= 2 && x[n - 1] == '*' && x[n - 2] == '/') {
			if (g_ascii_strncasecmp(content_type, x, n - 1) == 0)
				return TRUE;
		} else if (n >= 1 && x[n - 1] == '/') {
			if (g_ascii_strncasecmp(content_type, x, n) == 0)
				return TRUE;
		} else if (g_ascii_strcasecmp(content_type, x) == 0) {
			return TRUE;
		}
	}
	return FALSE;
}

char *
lg_sync_cut_body(const char *body, gsize max, gboolean already_cut)
{
	if (body == NULL)
		return NULL;
	gsize len = strlen(body);
	if (len <= max && !already_cut)
		return g_strdup(body);
	gsize keep = MIN(len, max);
	/* back to a character boundary, then drop any invalid tail */
	const char *end = NULL;
	while (keep > 0 && !g_utf8_validate(body, (gssize) keep, &end))
		keep = (gsize) (end - body);
	return g_strdup_printf("%.*s\n[... cut by leadgate at %" G_GSIZE_FORMAT " bytes]", (int) keep, body, max);
}

static char *
iso(GDateTime *t)
{
	return g_date_time_format(t, "%Y-%m-%dT%H:%M:%S.000Z");
}

/* A YYYY-MM-DD date as the start of that day, UTC; NULL when not one. */
static GDateTime *
parse_day(const char *s)
{
	int y, m, d;
	char tail;
	if (s == NULL || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || strlen(s) != 10)
		return NULL;
	if (!g_date_valid_dmy((GDateDay) d, (GDateMonth) m, (GDateYear) y))
		return NULL;
	return g_date_time_new_utc(y, m, d, 0, 0, 0);
}

gboolean
lg_sync_log_range(const char *since, const char *until, GDateTime *now, char **from_r, char **to_r,
                  GError **error)
{
	g_autoptr(GDateTime) utc = g_date_time_to_utc(now);
	g_autoptr(GDateTime) today = g_date_time_new_utc(g_date_time_get_year(utc), g_date_time_get_month(utc),
	                                                 g_date_time_get_day_of_month(utc), 0, 0, 0);
	g_autoptr(GDateTime) oldest = g_date_time_add_days(today, -60);
	g_autoptr(GDateTime) from = NULL;
	g_autoptr(GDateTime) to = NULL;
	const char *s = since ? since : "7d";
	if (strcmp(s, "today") == 0) {
		from = g_date_time_ref(today);
	} else if (strcmp(s, "yesterday") == 0) {
		from = g_date_time_add_days(today, -1);
		if (until == NULL)
			to = g_date_time_ref(today);
	} else if (strcmp(s, "7d") == 0) {
		from = g_date_time_add_days(utc, -7);
	} else if (strcmp(s, "30d") == 0) {
		from = g_date_time_add_days(utc, -30);
	} else if ((from = parse_day(s)) == NULL) {
		g_set_error(error, LG_USAGE_ERROR, LG_USAGE_ERROR_ARGS,
		            "--since \"%s\": use today, yesterday, 7d, 30d or a date YYYY-MM-DD", s);
		return FALSE;
	} else if (g_date_time_compare(from, oldest) < 0) {
		g_autofree char *o = g_date_time_format(oldest, "%Y-%m-%d");
		g_set_error(error, LG_USAGE_ERROR, LG_USAGE_ERROR_ARGS,
		            "--since %s: the sync log goes back at most 60 days (to %s)", s, o);
		return FALSE;
	}
	if (until != NULL) {
		g_autoptr(GDateTime) day = parse_day(until);
		if (day == NULL) {
			g_set_error(error, LG_USAGE_ERROR, LG_USAGE_ERROR_ARGS, "--until \"%s\": use a date YYYY-MM-DD", until);
			return FALSE;
		}
		to = g_date_time_add_days(day, 1);
		if (g_date_time_compare(to, from) <= 0) {
			g_set_error(error, LG_USAGE_ERROR, LG_USAGE_ERROR_ARGS, "--until %s is before --since %s", until, s);
			return FALSE;
		}
	}
	if (to == NULL)
		to = g_date_time_add_seconds(utc, 1);   /* rows of this very second count */
	*from_r = iso(from);
	*to_r = iso(to);
	return TRUE;
}

/* ---- the filter ---------------------------------------------------------- */

typedef struct {
	const lg_config *cfg;
	const lg_sync_dir_config *dc;
	const lg_sync_input *in;
	const char *dir;            /* "in" | "out" */
	lg_store *st;
	lg_raw *raw;
	const lg_message *msg;
	const lg_envelope *env;
	GPtrArray *parts;           /* participant* */
	char *ident;
	char *from, *to, *cc, *bcc, *attachments, *body;
	gint64 message_row;         /* 0 until stored */
	GPtrArray *outcomes;
} sync_ctx;

static participant *
part_add(GPtrArray *parts, GHashTable *seen, const char *email, const char *name, guint field)
{
	if (email == NULL || *email == '\0')
		return NULL;
	participant *p = g_hash_table_lookup(seen, email);
	if (p == NULL) {
		p = g_new0(participant, 1);
		p->email = g_strdup(email);
		p->name = g_strdup(name);
		g_ptr_array_add(parts, p);
		g_hash_table_insert(seen, p->email, p);
	}
	p->fields |= field;
	return p;
}

static GPtrArray *
participants(const lg_message *msg, const lg_envelope *env, lg_sync_direction dir)
{
	GPtrArray *parts = g_ptr_array_new_with_free_func(participant_free);
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
	if (msg->from && msg->from->email)
		part_add(parts, seen, msg->from->email, msg->from->name, F_FROM);
	else if (dir == LG_SYNC_OUT && env->sender && *env->sender)
		part_add(parts, seen, env->sender, NULL, F_FROM);
	for (guint i = 0; i < msg->to->len; i++) {
		lg_address *a = msg->to->pdata[i];
		part_add(parts, seen, a->email, a->name, F_TO);
	}
	for (guint i = 0; i < msg->cc->len; i++) {
		lg_address *a = msg->cc->pdata[i];
		part_add(parts, seen, a->email, a->name, F_CC);
	}
	/* Bcc: the envelope recipients in neither To nor Cc */
	for (guint i = 0; env->recipients && i < env->recipients->len; i++) {
		const char *r = env->recipients->pdata[i];
		participant *p = g_hash_table_lookup(seen, r);
		if (p == NULL || (p->fields & (F_TO | F_CC)) == 0)
			part_add(parts, seen, r, NULL, F_BCC);
	}
	return parts;
}

static char *
join_field(GPtrArray *parts, guint field)
{
	GString *s = g_string_new(NULL);
	for (guint i = 0; i < parts->len; i++) {
		participant *p = parts->pdata[i];
		if (p->fields & field)
			g_string_append_printf(s, "%s%s", s->len ? ", " : "", p->email);
	}
	return g_string_free(s, FALSE);
}

static gboolean
is_internal(const lg_config *cfg, const char *email)
{
	for (char **d = cfg->internal_domains; d && *d; d++)
		if (lg_sync_addr_matches(email, *d))
			return TRUE;
	return FALSE;
}

/* Why the message is automated mail, or NULL. Judged on every participant,
 * not only the sender: a list or a bounce daemon may sit in To or Cc. */
static const char *
automated_why(const sync_ctx *c)
{
	const lg_message *m = c->msg;
	if (m->auto_flags & (LG_AUTO_SUBMITTED | LG_AUTO_PRECEDENCE | LG_AUTO_REPLY_HDR | LG_AUTO_DSN |
	                     LG_AUTO_LOOP | LG_AUTO_LIST))
		return "automatic-mail headers";
	if (lg_message_header(m, "List-Id") || lg_message_header(m, "List-Unsubscribe"))
		return "a mailing list";
	const char *rp = lg_message_header(m, "Return-Path");
	if ((c->env->sender != NULL && *c->env->sender == '\0') || (rp != NULL && strstr(rp, "<>") != NULL))
		return "a null Return-Path";
	for (guint i = 0; i < c->parts->len; i++) {
		participant *p = c->parts->pdata[i];
		if (lg_addr_is_noreply(p->email) || lg_addr_is_system(p->email))
			return "a no-reply or system address";
	}
	return NULL;
}

static gboolean
excluded(const sync_ctx *c, GPtrArray *own)
{
	guint mask = field_mask(c->dc->exclude_applies_to);
	for (guint i = 0; i < c->parts->len; i++) {
		participant *p = c->parts->pdata[i];
		if ((p->fields & mask) == 0)
			continue;
		for (char **x = c->dc->exclude; x && *x; x++)
			if (lg_sync_addr_matches(p->email, *x))
				return TRUE;
		for (guint j = 0; own && j < own->len; j++)
			if (lg_sync_addr_matches(p->email, own->pdata[j]))
				return TRUE;
	}
	return FALSE;
}

static gboolean
keyword_in(const sync_ctx *c, const char *kw)
{
	if (strv_has(c->dc->keywords_in, "subject") && lg_sync_phrase_match(c->msg->subject, kw))
		return TRUE;
	return strv_has(c->dc->keywords_in, "body") && lg_sync_phrase_match(c->msg->body_text, kw);
}

static gboolean
has_keyword(const sync_ctx *c, GPtrArray *own)
{
	for (char **k = c->dc->keywords; k && *k; k++)
		if (keyword_in(c, *k))
			return TRUE;
	for (guint j = 0; own && j < own->len; j++)
		if (keyword_in(c, own->pdata[j]))
			return TRUE;
	return FALSE;
}

static void
outcome_add(sync_ctx *c, const char *user, const char *outcome, const char *reason, const char *counterpart,
            gint64 lead_id, gboolean recorded)
{
	lg_sync_outcome *o = g_new0(lg_sync_outcome, 1);
	o->user = g_strdup(user);
	o->outcome = g_strdup(outcome);
	o->reason = g_strdup(reason);
	o->counterpart = g_strdup(counterpart ? counterpart : "");
	o->lead_id = lead_id;
	o->recorded = recorded;
	g_ptr_array_add(c->outcomes, o);
}

static gboolean
log_row(sync_ctx *c, const lg_sync_user *u, const char *outcome, const char *reason, const char *counterpart,
        gint64 lead_id, gint64 activity_id, GError **error)
{
	lg_sync_log_row r = {
		.user_id = u->id, .direction = c->dir, .ident = c->ident, .message_id = c->msg->message_id,
		.subject = c->msg->subject, .counterpart = counterpart ? counterpart : "", .outcome = outcome,
		.reason = reason, .lead_id = lead_id, .activity_id = activity_id, .source = c->in->source,
	};
	gboolean added = FALSE;
	if (!lg_store_sync_log_add(c->st, &r, &added, error))
		return FALSE;
	outcome_add(c, u->email, outcome, reason, counterpart, lead_id, added);
	return TRUE;
}

static gboolean
ensure_message(sync_ctx *c, GError **error)
{
	if (c->message_row != 0)
		return TRUE;
	return lg_store_sync_message_put(c->st, c->dir, c->raw, c->msg, c->env, c->body, &c->message_row, error);
}

static gboolean
activity(sync_ctx *c, const lg_sync_user *u, const participant *p, gint64 lead_id, gint64 *id_r, GError **error)
{
	if (!ensure_message(c, error))
		return FALSE;
	char **af = c->dc->activity_fields;
	lg_activity_row a = {
		.direction = c->dir, .ident = c->ident, .user_id = u->id, .lead_id = lead_id,
		.message_row = c->message_row, .counterpart = p->email,
		.from_addr = c->from, .to_addrs = c->to,
		.cc_addrs = strv_has(af, "cc") ? c->cc : NULL,
		.bcc_addrs = strv_has(af, "bcc") ? c->bcc : NULL,
		.subject = strv_has(af, "subject") ? c->msg->subject : NULL,
		.body = strv_has(af, "body") ? c->body : NULL,
		.attachments = strv_has(af, "attachments") ? c->attachments : NULL,
		.source = c->in->source,
	};
	gboolean added = FALSE;
	return lg_store_activity_add(c->st, &a, id_r, &added, error);
}

static gboolean
sync_user(sync_ctx *c, const lg_sync_user *u, GError **error)
{
	if (u->removed)
		return log_row(c, u, "skipped", "removed", NULL, 0, 0, error);
	if (!u->sync_enabled)
		return log_row(c, u, "skipped", "sync_off", NULL, 0, 0, error);
	if (!strv_has(c->cfg->connect_roles, u->role))
		return log_row(c, u, "skipped", "role_not_allowed", NULL, 0, 0, error);
	if (automated_why(c) != NULL)
		return log_row(c, u, "skipped", "automated", NULL, 0, 0, error);

	gboolean all_internal = c->parts->len > 0;
	for (guint i = 0; i < c->parts->len; i++)
		if (!is_internal(c->cfg, ((participant *) c->parts->pdata[i])->email))
			all_internal = FALSE;
	if (all_internal && c->cfg->skip_internal)
		return log_row(c, u, "skipped", "internal", NULL, 0, 0, error);

	g_autoptr(GPtrArray) own_ex = NULL;
	if (c->dc->user_exclusions && !lg_store_user_exclusions(c->st, u->id, &own_ex, error))
		return FALSE;
	if (excluded(c, own_ex))
		return log_row(c, u, "skipped", "excluded", NULL, 0, 0, error);

	if (strcmp(c->dc->mode, "keywords") == 0) {
		g_autoptr(GPtrArray) own_kw = NULL;
		if (c->dc->user_keywords && !lg_store_user_keywords(c->st, u->id, &own_kw, error))
			return FALSE;
		if (!has_keyword(c, own_kw))
			return log_row(c, u, "skipped", "no_keyword", NULL, 0, 0, error);
	}

	/* the counterparts: everyone but the user outside the internal domains,
	 * or (internal-only mail that is synced) everyone but the user */
	g_autoptr(GPtrArray) cps = g_ptr_array_new();
	for (guint i = 0; i < c->parts->len; i++) {
		participant *p = c->parts->pdata[i];
		if (strcmp(p->email, u->email) != 0 && (all_internal || !is_internal(c->cfg, p->email)))
			g_ptr_array_add(cps, p);
	}
	if (cps->len == 0)   /* mail to oneself only: nobody to log it on */
		return log_row(c, u, "skipped", "internal", NULL, 0, 0, error);
	gboolean too_many = cps->len > (guint) c->cfg->max_counterparts;
	guint capture_mask = c->dc->capture_new_leads ? field_mask(c->dc->capture_from) : 0;
	for (guint i = 0; i < cps->len; i++) {
		participant *p = cps->pdata[i];
		gint64 lead = 0, act = 0;
		if (!lg_store_sync_lead_find(c->st, c->cfg->lead_search_field, p->email, &lead, error))
			return FALSE;
		if (lead != 0) {
			if (!activity(c, u, p, lead, &act, error) ||
			    !log_row(c, u, "synced", NULL, p->email, lead, act, error))
				return FALSE;
			continue;
		}
		if ((p->fields & capture_mask) == 0) {
			if (!log_row(c, u, "skipped", "no_lead", p->email, 0, 0, error))
				return FALSE;
			continue;
		}
		/* a spam sender's leads are hidden, so none was found: it must
		 * not come back as a new, visible one */
		g_autofree char *spam = NULL;
		if (!lg_store_spam_match(c->st, p->email, &spam, error))
			return FALSE;
		if (spam != NULL) {
			if (!log_row(c, u, "skipped", "spam", p->email, 0, 0, error))
				return FALSE;
			continue;
		}
		if (too_many) {
			if (!log_row(c, u, "skipped", "too_many_counterparts", p->email, 0, 0, error))
				return FALSE;
			continue;
		}
		g_autofree char *why = g_strdup_printf("captured by sync of %s's %s mail", u->email,
		                                       c->in->direction == LG_SYNC_OUT ? "outbound" : "inbound");
		if (!ensure_message(c, error) ||
		    !lg_store_sync_lead_capture(c->st, c->message_row, p->email, p->name, c->msg->subject,
		                                c->dc->lead_source, u->id, why, &lead, error) ||
		    !activity(c, u, p, lead, &act, error) ||
		    !log_row(c, u, "captured", NULL, p->email, lead, act, error))
			return FALSE;
	}
	return TRUE;
}

static void
outcome_free(gpointer p)
{
	lg_sync_outcome *o = p;
	g_free(o->user);
	g_free(o->outcome);
	g_free(o->reason);
	g_free(o->counterpart);
	g_free(o);
}

void
lg_sync_parse_options(const lg_config *cfg, lg_parse_options *opts)
{
	memset(opts, 0, sizeof *opts);
	opts->body_max = (gsize) cfg->sync_body_max;
	opts->loop_header = cfg->loop_header;
}

/* The users of the message: see the file's head. */
static GPtrArray *
find_users(lg_store *st, const lg_message *msg, const lg_envelope *env, const lg_sync_input *in, GError **error)
{
	GPtrArray *users = g_ptr_array_new();
	g_autoptr(GPtrArray) cands = g_ptr_array_new_with_free_func(g_free);
	if (in->direction == LG_SYNC_OUT) {
		if (in->login != NULL && *in->login != '\0')
			g_ptr_array_add(cands, lg_addr_normalize(in->login));
		if (env->sender != NULL && *env->sender != '\0')
			g_ptr_array_add(cands, g_strdup(env->sender));
		if (msg->from != NULL && msg->from->email != NULL)
			g_ptr_array_add(cands, g_strdup(msg->from->email));
	} else if (env->recipients != NULL && env->recipients->len > 0) {
		for (guint i = 0; i < env->recipients->len; i++)
			g_ptr_array_add(cands, g_strdup(env->recipients->pdata[i]));
	} else {
		for (guint i = 0; i < msg->to->len; i++)
			g_ptr_array_add(cands, g_strdup(((lg_address *) msg->to->pdata[i])->email));
		for (guint i = 0; i < msg->cc->len; i++)
			g_ptr_array_add(cands, g_strdup(((lg_address *) msg->cc->pdata[i])->email));
	}
	for (guint i = 0; i < cands->len; i++) {
		const char *e = cands->pdata[i];
		if (e == NULL)
			continue;
		gboolean dup = FALSE;
		for (guint j = 0; j < users->len; j++)
			dup = dup || strcmp(((lg_sync_user *) users->pdata[j])->email, e) == 0;
		if (dup)
			continue;
		lg_sync_user *u = g_new0(lg_sync_user, 1);
		if (!lg_store_sync_user_find(st, e, u, error)) {
			g_free(u);
			for (guint j = 0; j < users->len; j++) {
				lg_sync_user_clear(users->pdata[j]);
				g_free(users->pdata[j]);
			}
			g_ptr_array_unref(users);
			return NULL;
		}
		if (u->id == 0) {
			g_free(u);
			continue;
		}
		g_ptr_array_add(users, u);
		if (in->direction == LG_SYNC_OUT)
			break;   /* outbound mail has one sender */
	}
	return users;
}

static char *
attachment_list(const lg_message *msg, char **types)
{
	GString *s = g_string_new(NULL);
	for (guint i = 0; i < msg->attachments->len; i++) {
		lg_attachment *a = msg->attachments->pdata[i];
		if (!lg_sync_type_allowed(a->content_type, a->filename, types))
			continue;
		g_string_append_printf(s, "%s%s (%s, %" G_GINT64_FORMAT " bytes)", s->len ? "; " : "",
		                       a->filename ? a->filename : "(no name)", a->content_type, a->size);
	}
	return g_string_free(s, FALSE);
}

gboolean
lg_sync_message(lg_store *st, const lg_config *cfg, lg_raw *raw, const lg_message *msg, const lg_envelope *env,
                const lg_sync_input *in, GPtrArray **outcomes_r, GError **error)
{
	*outcomes_r = g_ptr_array_new_with_free_func(outcome_free);
	const lg_sync_dir_config *dc = in->direction == LG_SYNC_OUT ? &cfg->sync_out : &cfg->sync_in;
	if (!cfg->sync_enabled || !dc->enabled)
		return TRUE;

	/* Looking the users up reads only (no write lock in WAL mode): mail of
	 * no user, most of what a milter on an MX sees, never waits for a writer. */
	GPtrArray *users = find_users(st, msg, env, in, error);
	if (users == NULL)
		return FALSE;
	if (users->len == 0) {
		g_ptr_array_unref(users);
		return TRUE;
	}
	/* Inside the caller's transaction (the milter's writer records a batch
	 * of events per commit) the message is a savepoint of it. */
	gboolean nested = lg_store_in_transaction(st);
	if (!(nested ? lg_store_savepoint(st, "lg_sync", error) : lg_store_begin(st, error))) {
		for (guint j = 0; j < users->len; j++) {
			lg_sync_user_clear(users->pdata[j]);
			g_free(users->pdata[j]);
		}
		g_ptr_array_unref(users);
		return FALSE;
	}

	sync_ctx c = {
		.cfg = cfg, .dc = dc, .in = in, .dir = in->direction == LG_SYNC_OUT ? "out" : "in",
		.st = st, .raw = raw, .msg = msg, .env = env, .outcomes = *outcomes_r,
	};
	c.parts = participants(msg, env, in->direction);
	c.ident = msg->message_id ? g_strdup(msg->message_id) : g_strconcat("sha256:", msg->sha256, NULL);
	c.from = join_field(c.parts, F_FROM);
	c.to = join_field(c.parts, F_TO);
	c.cc = join_field(c.parts, F_CC);
	c.bcc = join_field(c.parts, F_BCC);
	c.attachments = attachment_list(msg, dc->attachment_types);
	c.body = strv_has(dc->activity_fields, "body")
	       ? lg_sync_cut_body(msg->body_text, (gsize) cfg->sync_body_max, msg->body_truncated) : NULL;

	gboolean ok = TRUE;
	for (guint i = 0; ok && i < users->len; i++)
		ok = sync_user(&c, users->pdata[i], error);
	ok = ok && (nested ? lg_store_release(st, "lg_sync", error) : lg_store_commit(st, error));
	if (!ok) {
		if (nested)
			lg_store_rollback_to(st, "lg_sync");
		else
			lg_store_rollback(st);
		g_ptr_array_set_size(*outcomes_r, 0);
	}

	for (guint j = 0; j < users->len; j++) {
		lg_sync_user_clear(users->pdata[j]);
		g_free(users->pdata[j]);
	}
	g_ptr_array_unref(users);
	g_ptr_array_unref(c.parts);
	g_free(c.ident);
	g_free(c.from);
	g_free(c.to);
	g_free(c.cc);
	g_free(c.bcc);
	g_free(c.attachments);
	g_free(c.body);
	return ok;
}
