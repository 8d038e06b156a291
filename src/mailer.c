/*
 * NAME
 *   mailer.c - campaign templates, messages and the exactly-once sender.
 *
 * SUMMARY
 *   Exactly once per recipient. A campaign send is one outbox row
 *   (kind 'campaign'), queued when the blast is sent or when the event of a
 *   triggered campaign is scheduled. For each row the sender
 *
 *     1. claims it: state 'sending', a claim token "host:pid:random" and an
 *        expiry, committed, before any byte goes to the MTA;
 *     2. checks it again (consent, undeliverable, spam list, campaign still
 *        active): an unsubscribe that landed a moment ago is honoured;
 *     3. sends it through libcurl (smtp_send.c). libcurl's read callback
 *        calls the data hook on the read after the message's last byte,
 *        before the end of DATA can be on the wire; the hook commits
 *        phase = 'data' and the Message-ID (lg_store_mailer_data). If that
 *        commit fails the transfer is aborted and the MTA drops the
 *        message; a killed worker leaves the commit in the WAL;
 *     4. after the MTA's 250 marks it sent. That mark is deferred: it is
 *        committed in the same transaction as the next row's phase 'data'
 *        (or on its own at the end of a batch, or before any other
 *        outcome), so one fsync serves two rows. Nothing is lost by it:
 *        until that commit the row is in 'sending' with phase 'data',
 *        which step 5 settles as sent.
 *
 *   5. A row found in 'sending' whose claim expired, or whose owner was a
 *      process of this host that no longer exists, was held by a worker
 *      that died. phase NULL: the end of DATA never left (step 3 commits
 *      before it can), so the MTA does not have it: it is queued again.
 *      phase 'data': the MTA may have it. It is marked sent, with
 *      last_error "assumed sent: the worker died after the end of data".
 *      This is the one ambiguous case: a worker killed after the hook's
 *      commit and before the MTA answered (or in the moment before the 250
 *      reached it) may leave a message the MTA then refused counted as
 *      sent; the other choice would be to send it twice. The same holds
 *      when the connection breaks after the end of DATA with no reply:
 *      assumed sent, noted. A 4xx or 5xx reply to the end of DATA is a
 *      real answer: retry later, or failed.
 *
 *   Replies: a 5xx for the recipient fails the row (never retried); a 4xx
 *   or a connection failure queues it again on the outbox's schedule
 *   (5 s, 5 min, 30 min, ...; outbox.c). Pause stops the claiming (a row
 *   claimed before the pause is released unsent); resume continues; no row
 *   is queued twice (outbox_blast_once, outbox_trigger_once), so nobody is
 *   sent to twice.
 *
 *   Durability: the run's connection commits without an fsync
 *   (lg_store_defer_sync): a commit is written to the WAL, which a killed
 *   process cannot lose, and SQLite's write lock is held for microseconds,
 *   so leadgate-lmtpd's writer never waits for the mailer's fsyncs. The
 *   WAL is fdatasynced, outside the lock, as soon as the MTA answered the
 *   end of DATA (so every mark is on disk before the next message), after
 *   a retry or failure mark, and at the end of the run, which then puts
 *   the connection back to synchronous=FULL. The hook does not sync before
 *   the end of DATA on purpose: a worker killed during that fsync would
 *   leave a phase mark for a message the MTA never got (tests/mailer/
 *   worker.sh caught exactly that). Without the sync, the window in which
 *   a kill leaves the mark but not the end of DATA is the few
 *   microseconds from the commit's write() to libcurl's send(). A power
 *   loss in the moment between the end of DATA and the sync may lose the
 *   mark; the local MTA acknowledges only after its own fsync, so it then
 *   almost always lost the message as well, and it is sent again.
 *
 *   Pacing: [mailer] per_minute (0: unlimited) spaces the sends of one
 *   process by 60/per_minute seconds and, across processes, claims no
 *   more than per_minute minus the sends of the last 60 s. blasts_enabled
 *   = false leaves blast rows queued. max_triggered_per_day caps each
 *   triggered campaign's sends in any 24 hours: over it rows wait; a
 *   triggered row not sent within max_lateness of its due time is dropped
 *   with a reason, never sent late.
 */
#include "autoconf.h"
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <gmime/gmime.h>
#include "lg.h"
#include "mailer.h"
#include "outbox.h"
#include "ref.h"
#include "smtp_send.h"

G_DEFINE_QUARK(lg-mailer-error-quark, lg_mailer_error)

const char *const lg_mailer_placeholders[] = {
	"contact.name", "contact.email", "organization.name", "ticket.number", "ticket.subject", "lead.id", NULL
};

/* ---- templates -------------------------------------------------------------- */

/* Calls @fn for each "{{ name }}" of @text; stops at FALSE. */
typedef gboolean (*ph_fn)(const char *name, gsize start, gsize end, gpointer data);

static gboolean
each_placeholder(const char *text, ph_fn fn, gpointer data)
{
	const char *p = text;
	while (p && (p = strstr(p, "{{")) != NULL) {
		const char *q = strstr(p + 2, "}}");
		if (q == NULL)
			return TRUE;
		g_autofree char *name = g_strstrip(g_strndup(p + 2, (gsize) (q - p - 2)));
		if (!fn(name, (gsize) (p - text), (gsize) (q + 2 - text), data))
			return FALSE;
		p = q + 2;
	}
	return TRUE;
}

typedef struct {
	const char *what;
	GError **error;
} check_ctx;

static gboolean
check_one(const char *name, gsize start, gsize end, gpointer data)
{
	(void) start; (void) end;
	check_ctx *c = data;
	if (g_strv_contains(lg_mailer_placeholders, name))
		return TRUE;
	g_autofree char *all = g_strjoinv("}}, {{", (char **) lg_mailer_placeholders);
	g_autofree char *shown = g_utf8_make_valid(name, -1);
	g_set_error(c->error, LG_MAILER_ERROR, LG_MAILER_ERROR_TEMPLATE,
	            "%s: unknown placeholder {{%s}}; the placeholders are {{%s}}", c->what, shown, all);
	return FALSE;
}

gboolean
lg_mailer_template_check(const char *text, const char *what, GError **error)
{
	check_ctx c = { what, error };
	return each_placeholder(text, check_one, &c);
}

gboolean
lg_mailer_template_parse(const char *text, char **subject_r, char **body_r, GError **error)
{
	*subject_r = *body_r = NULL;
	if (!g_utf8_validate(text, -1, NULL)) {
		g_set_error(error, LG_MAILER_ERROR, LG_MAILER_ERROR_TEMPLATE, "the template is not UTF-8 text");
		return FALSE;
	}
	g_autofree char *subject = NULL;
	const char *p = text;
	/* header lines up to the first empty line */
	for (;;) {
		const char *nl = strchr(p, '\n');
		gsize len = nl ? (gsize) (nl - p) : strlen(p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (len == 0) {
			p = nl ? nl + 1 : p + strlen(p);
			break;
		}
		g_autofree char *line = g_strndup(p, len);
		if (g_ascii_strncasecmp(line, "Subject:", 8) == 0) {
			g_free(subject);
			subject = g_strdup(g_strstrip(line + 8));
		} else if ((line[0] == ' ' || line[0] == '\t') && subject) {
			char *s = g_strconcat(subject, " ", g_strstrip(line), NULL);
			g_free(subject);
			subject = s;
		} else {
			g_set_error(error, LG_MAILER_ERROR, LG_MAILER_ERROR_TEMPLATE,
			            "the template starts with a \"Subject:\" line, then a blank line, then the text; "
			            "\"%.40s\" is not a Subject: header", line);
			return FALSE;
		}
		if (nl == NULL) {
			p += strlen(p);
			break;
		}
		p = nl + 1;
	}
	if (subject == NULL || *subject == '\0') {
		g_set_error(error, LG_MAILER_ERROR, LG_MAILER_ERROR_TEMPLATE,
		            "the template has no subject: it starts with a \"Subject:\" line and a blank line");
		return FALSE;
	}
	if (*p == '\0') {
		g_set_error(error, LG_MAILER_ERROR, LG_MAILER_ERROR_TEMPLATE, "the template has no text after its Subject: line");
		return FALSE;
	}
	if (!lg_mailer_template_check(subject, "the subject", error) || !lg_mailer_template_check(p, "the text", error))
		return FALSE;
	*subject_r = g_steal_pointer(&subject);
	*body_r = g_strdup(p);
	return TRUE;
}

typedef struct {
	GString *out;
	const char *tmpl;
	gsize pos;
	GHashTable *values;
	gboolean html;
} render_ctx;

static gboolean
render_one(const char *name, gsize start, gsize end, gpointer data)
{
	render_ctx *r = data;
	g_string_append_len(r->out, r->tmpl + r->pos, (gssize) (start - r->pos));
	const char *v = r->values ? g_hash_table_lookup(r->values, name) : NULL;
	if (v && r->html) {
		g_autofree char *e = g_markup_escape_text(v, -1);
		g_string_append(r->out, e);
	} else if (v) {
		g_string_append(r->out, v);
	}
	r->pos = end;
	return TRUE;
}

char *
lg_mailer_render(const char *tmpl, GHashTable *values, gboolean html)
{
	render_ctx r = { g_string_new(NULL), tmpl, 0, values, html };
	each_placeholder(tmpl, render_one, &r);
	g_string_append(r.out, tmpl + r.pos);
	return g_string_free(r.out, FALSE);
}

/* ---- the message ------------------------------------------------------------ */

static char *
oneline(const char *s)
{
	char *o = g_strdup(s ? s : "");
	for (char *p = o; *p; p++)
		if ((unsigned char) *p < 0x20 || *p == 0x7f)
			*p = ' ';
	return g_strstrip(o);
}

static const char *
domain_of(const char *addr, const lg_config *cfg)
{
	const char *at = addr ? strrchr(addr, '@') : NULL;
	return at && at[1] ? at + 1 : cfg->hostname;
}

char *
lg_mailer_build(const lg_campaign *c, GHashTable *values, const char *recipient, gint64 send_id, gint64 end_user_id,
                const lg_config *cfg, const char *ref_key, char **message_id_r, gsize *len_r)
{
	g_autofree char *subj_raw = lg_mailer_render(c->subject, values, FALSE);
	g_autofree char *subject = oneline(subj_raw);
	g_autofree char *text = lg_mailer_render(c->body_text, values, FALSE);
	g_autofree char *html = c->body_html ? lg_mailer_render(c->body_html, values, TRUE) : NULL;
	g_autofree char *cref = lg_ref_make(ref_key, 'C', send_id);
	g_autofree char *mid = g_strdup_printf("%s@%s", cref, domain_of(cfg->mailer_from, cfg));
	g_autofree char *utok = lg_ref_make(ref_key, 'U', end_user_id);
	const char *ua = cfg->mailer_unsubscribe_address;
	const char *uat = strrchr(ua, '@');
	g_autofree char *ulocal = uat ? g_strndup(ua, (gsize) (uat - ua)) : g_strdup(ua);
	g_autofree char *umail = g_strdup_printf("%s+%s@%s", ulocal, utok, domain_of(ua, cfg));
	const char *url = cfg->mailer_unsubscribe_url && *cfg->mailer_unsubscribe_url ? cfg->mailer_unsubscribe_url : NULL;
	g_autofree char *uurl = url ? g_strdup_printf("%s%stoken=%s", url, strchr(url, '?') ? "&" : "?", utok) : NULL;
	g_autofree char *lu = uurl ? g_strdup_printf("<mailto:%s?subject=unsubscribe>, <%s>", umail, uurl)
	                           : g_strdup_printf("<mailto:%s?subject=unsubscribe>", umail);

	g_autoptr(GString) body = g_string_new(text);
	if (body->len && body->str[body->len - 1] != '\n')
		g_string_append_c(body, '\n');
	g_string_append_printf(body, "\n-- \nTo unsubscribe, send a mail to %s", umail);
	if (uurl)
		g_string_append_printf(body, "\nor open %s", uurl);
	/* the keyed reference: a reply from a client that drops In-Reply-To and
	 * References still comes back as this end user's lead (chain.c) */
	g_string_append_printf(body, "\nReference: %s\n", cref);

	GMimeMessage *m = g_mime_message_new(TRUE);
	g_mime_message_add_mailbox(m, GMIME_ADDRESS_TYPE_FROM, NULL, cfg->mailer_from);
	const char *name = values ? g_hash_table_lookup(values, "contact.name") : NULL;
	g_autofree char *rname = name ? oneline(name) : NULL;
	g_mime_message_add_mailbox(m, GMIME_ADDRESS_TYPE_TO, rname && *rname ? rname : NULL, recipient);
	g_mime_message_set_subject(m, subject, "utf-8");
	g_autoptr(GDateTime) now = g_date_time_new_now_utc();
	g_mime_message_set_date(m, now);
	g_mime_message_set_message_id(m, mid);
	GMimeObject *mo = GMIME_OBJECT(m);
	g_mime_object_set_header(mo, "List-Unsubscribe", lu, NULL);
	if (uurl)
		g_mime_object_set_header(mo, "List-Unsubscribe-Post", "List-Unsubscribe=One-Click", NULL);
	g_mime_object_set_header(mo, "Precedence", "bulk", NULL);
	g_mime_object_set_header(mo, "Auto-Submitted", "auto-generated", NULL);
	g_mime_object_set_header(mo, cfg->loop_header, cfg->instance_id, NULL);
	GMimeTextPart *tp = g_mime_text_part_new_with_subtype("plain");
	g_mime_text_part_set_text(tp, body->str);
	if (html) {
		g_autoptr(GString) h = g_string_new(html);
		g_autofree char *eu = g_markup_escape_text(umail, -1);
		g_string_append_printf(h, "\n<p style=\"font-size:small\">To unsubscribe, send a mail to "
		                       "<a href=\"mailto:%s?subject=unsubscribe\">%s</a>", eu, eu);
		if (uurl) {
			g_autofree char *ev = g_markup_escape_text(uurl, -1);
			g_string_append_printf(h, " or open <a href=\"%s\">%s</a>", ev, ev);
		}
		g_string_append(h, ".</p>\n");
		GMimeTextPart *hp = g_mime_text_part_new_with_subtype("html");
		g_mime_text_part_set_text(hp, h->str);
		GMimeMultipart *alt = g_mime_multipart_new_with_subtype("alternative");
		g_mime_multipart_add(alt, GMIME_OBJECT(tp));
		g_mime_multipart_add(alt, GMIME_OBJECT(hp));
		g_mime_message_set_mime_part(m, GMIME_OBJECT(alt));
		g_object_unref(hp);
		g_object_unref(alt);
	} else {
		g_mime_message_set_mime_part(m, GMIME_OBJECT(tp));
	}
	g_object_unref(tp);
	GMimeFormatOptions *fo = g_mime_format_options_clone(NULL);
	g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
	char *out = g_mime_object_to_string(mo, fo);
	g_mime_format_options_free(fo);
	g_object_unref(m);
	*len_r = strlen(out);
	if (message_id_r)
		*message_id_r = g_steal_pointer(&mid);
	return out;
}

/* ---- the sender ------------------------------------------------------------- */

typedef struct {
	lg_store *st;
	const lg_config *cfg;
	const gint *abort;
	char *token;
	char *ref_key;
	lg_smtp *smtp;
	GHashTable *campaigns;      /* id -> lg_campaign* */
	gint64 pending_sent;        /* sent, its mark not committed yet (0: none) */
	/* the row in flight, for the data hook */
	gint64 cur_id;
	const char *cur_mid;
	GError *hook_error;
	gint64 last_send_us;        /* monotonic time of the last send, for pacing */
	lg_walsync *ws;             /* commits are written, then synced outside the write lock */
} run_ctx;

static gboolean
aborted(const run_ctx *c)
{
	return c->abort && g_atomic_int_get(c->abort);
}

static gboolean
data_hook(gpointer data)
{
	run_ctx *c = data;
	if (lg_fault_injected("mailer-kill-before-data"))
		raise(SIGKILL);
	if (!lg_store_mailer_data(c->st, c->cur_id, c->token, c->cur_mid, c->pending_sent, &c->hook_error))
		return FALSE;
	c->pending_sent = 0;
	/* no fsync here: the end of DATA leaves microseconds after the commit's
	 * write (see Durability above) */
	return TRUE;
}

static gboolean
flush_pending(run_ctx *c, GError **error)
{
	if (c->pending_sent == 0)
		return TRUE;
	gint64 id = c->pending_sent;
	c->pending_sent = 0;
	return lg_store_mailer_finish(c->st, id, c->token, LG_MAILER_SENT, 0, NULL, error);
}

/* Sleeps until the next send may go (per_minute), in short steps so that
 * an abort is seen. */
static void
pace(run_ctx *c)
{
	if (c->cfg->mailer_per_minute <= 0 || c->last_send_us == 0)
		return;
	gint64 gap = (gint64) (60.0 * G_USEC_PER_SEC / c->cfg->mailer_per_minute);
	for (int i = 0; i < 600000 && !aborted(c); i++) {
		gint64 left = c->last_send_us + gap - g_get_monotonic_time();
		if (left <= 0)
			break;
		g_usleep((gulong) MIN(left, (gint64) 100000));
	}
}

static lg_campaign *
campaign_of(run_ctx *c, gint64 id, GError **error)
{
	lg_campaign *cp = g_hash_table_lookup(c->campaigns, &id);
	if (cp)
		return cp;
	if (!lg_store_campaign_get_id(c->st, id, &cp, error))
		return NULL;
	g_hash_table_insert(c->campaigns, g_memdup2(&id, sizeof id), cp);
	return cp;
}

/* Sends one claimed row; sets *outcome, *delay and *text. FALSE: a store error. */
static gboolean
send_row(run_ctx *c, lg_mailer_item *it, lg_mailer_outcome *outcome, double *delay, char **text, GError **error)
{
	*outcome = LG_MAILER_RELEASE;
	gboolean paused = FALSE;
	g_autofree char *reason = NULL;
	if (aborted(c))
		return TRUE;
	if (!lg_store_mailer_recheck(c->st, it->id, &reason, &paused, error))
		return FALSE;
	if (paused)
		return TRUE;
	if (reason) {
		*outcome = LG_MAILER_SKIPPED;
		*text = g_steal_pointer(&reason);
		return TRUE;
	}
	if (it->recipient == NULL || *it->recipient == '\0') {
		*outcome = LG_MAILER_SKIPPED;
		*text = g_strdup("no address");
		return TRUE;
	}
	lg_campaign *cp = campaign_of(c, it->campaign_id, error);
	if (cp == NULL)
		return FALSE;
	g_autoptr(GHashTable) values = NULL;
	if (!lg_store_json_values(c->st, it->payload, &values, error))
		return FALSE;
	gsize len;
	g_autofree char *mid = NULL;
	g_autofree char *data = lg_mailer_build(cp, values, it->recipient, it->id, it->end_user_id, c->cfg, c->ref_key,
	                                        &mid, &len);
	pace(c);
	if (aborted(c))
		return TRUE;
	if (c->smtp == NULL) {
		c->smtp = lg_smtp_new(c->cfg->outbox_smtp_url, c->cfg->outbox_connect_timeout, c->cfg->outbox_timeout, c->abort);
		lg_smtp_set_data_hook(c->smtp, data_hook, c);
	}
	c->cur_id = it->id;
	c->cur_mid = mid;
	const char *rcpts[] = { it->recipient, NULL };
	g_autoptr(GArray) res = g_array_new(FALSE, TRUE, sizeof(lg_smtp_result));
	g_array_set_clear_func(res, lg_smtp_result_clear);
	lg_smtp_send(c->smtp, c->cfg->mailer_from, rcpts, data, len, res);
	c->last_send_us = g_get_monotonic_time();
	lg_smtp_result *r = &g_array_index(res, lg_smtp_result, 0);
	/* the phase mark (and the previous row's sent mark) to disk, now that the
	 * MTA has answered: before the next message, and outside the write lock */
	if (r->data_done && c->ws && !lg_walsync_sync(c->ws, error)) {
		g_clear_pointer(&c->smtp, lg_smtp_free);
		return FALSE;
	}
	if (c->hook_error) {
		/* the phase could not be made durable: the transfer was cut before the end of DATA */
		g_propagate_error(error, c->hook_error);
		c->hook_error = NULL;
		g_clear_pointer(&c->smtp, lg_smtp_free);
		return FALSE;
	}
	if (r->ok) {
		*outcome = LG_MAILER_SENT;
		if (lg_fault_injected("mailer-kill-after-250"))
			raise(SIGKILL);
		return TRUE;
	}
	gboolean replied = r->code >= 400 && r->code < 600;
	if (r->data_done && !replied) {
		/* the end of DATA left and no reply came: the MTA may have it */
		*outcome = LG_MAILER_SENT;
		*text = g_strdup_printf("assumed sent: no reply after the end of data (%s)", r->error);
		g_clear_pointer(&c->smtp, lg_smtp_free);
		return TRUE;
	}
	if (aborted(c))
		return TRUE;
	*text = g_strdup(r->error);
	if (r->permanent) {
		*outcome = LG_MAILER_FAILED;
		return TRUE;
	}
	g_clear_pointer(&c->smtp, lg_smtp_free);
	*delay = lg_outbox_retry_delay(it->attempts, -1, g_random_double());
	*outcome = *delay < 0 ? LG_MAILER_FAILED : LG_MAILER_RETRY;
	return TRUE;
}

gboolean
lg_mailer_run(lg_store *st, const lg_config *cfg, guint max, const gint *abort, lg_mailer_report report,
              gpointer data, lg_mailer_stats *stats, GError **error)
{
	lg_outbox_global_init();
	lg_mailer_stats dummy;
	if (stats == NULL)
		stats = &dummy;
	memset(stats, 0, sizeof *stats);
	run_ctx c = { .st = st, .cfg = cfg, .abort = abort };
	if (!lg_store_setting(st, "ref_key", &c.ref_key, error))
		return FALSE;
	c.token = g_strdup_printf("%s:%d:%08x%08x", cfg->hostname, (int) getpid(), g_random_int(), g_random_int());
	c.campaigns = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, (GDestroyNotify) lg_campaign_free);
	gint64 rq = 0, as = 0, sch = 0, dr = 0;
	gboolean ok = lg_store_mailer_resolve(st, cfg->hostname, &rq, &as, error) &&
	              lg_store_mailer_schedule(st, &sch, error) &&
	              lg_store_mailer_drop_late(st, cfg->mailer_max_lateness, &dr, error);
	stats->requeued = (guint) rq;
	stats->assumed = (guint) as;
	stats->scheduled = (guint) sch;
	stats->dropped = (guint) dr;
	/* Each commit only write()s the WAL; the data hook syncs it (fdatasync,
	 * no lock held) before the end of DATA may leave, which makes the claim
	 * and every earlier mark durable too; the run ends with a sync. The
	 * write lock is held for microseconds, not for an fsync, so
	 * leadgate-lmtpd's writer is not held up by a blast. */
	if (ok && (c.ws = lg_store_defer_sync(st, error)) == NULL)
		ok = FALSE;
	int batch = MAX(cfg->outbox_batch, 1);
	guint done = 0;
	while (ok && done < max && !aborted(&c)) {
		int n = (int) MIN((guint) batch, max - done);
		if (cfg->mailer_per_minute > 0) {
			gint64 last = 0;
			if (!(ok = lg_store_mailer_sent_last_minute(st, &last, error)))
				break;
			if (last >= cfg->mailer_per_minute) {
				stats->paced = TRUE;
				break;
			}
			n = (int) MIN((gint64) n, cfg->mailer_per_minute - last);
		}
		int lease = n * (cfg->outbox_connect_timeout + cfg->outbox_timeout) + 60;
		g_autoptr(GPtrArray) items = NULL;
		if (!(ok = lg_store_mailer_claim(st, c.token, lease, n, cfg->mailer_blasts_enabled,
		                                 cfg->mailer_max_triggered_per_day, &items, error)))
			break;
		if (items->len == 0)
			break;
		for (guint i = 0; i < items->len; i++) {
			lg_mailer_item *it = items->pdata[i];
			lg_mailer_outcome outcome = LG_MAILER_RELEASE;
			double delay = 0;
			g_autofree char *text = NULL;
			if (ok)
				ok = send_row(&c, it, &outcome, &delay, &text, error);
			if (!ok) {
				/* a store error: leave the rest to the lease (or the next run) */
				break;
			}
			if (outcome == LG_MAILER_SENT && text == NULL) {
				/* the hook committed the previous row's mark; this one's waits */
				c.pending_sent = it->id;
			} else {
				ok = flush_pending(&c, error) &&
				     lg_store_mailer_finish(st, it->id, c.token, outcome, delay, text, error);
				/* a refusal or retry after the end of DATA must not revert to phase 'data' */
				if (ok && outcome != LG_MAILER_SENT && outcome != LG_MAILER_SKIPPED && outcome != LG_MAILER_RELEASE)
					ok = lg_walsync_sync(c.ws, error);
			}
			switch (outcome) {
			case LG_MAILER_SENT: stats->sent++; break;
			case LG_MAILER_RETRY: stats->retried++; break;
			case LG_MAILER_FAILED: stats->failed++; break;
			case LG_MAILER_SKIPPED: stats->skipped++; break;
			case LG_MAILER_RELEASE: stats->released++; break;
			}
			if (report)
				report(it, outcome, delay, text, data);
			done++;
			if (!ok)
				break;
		}
		if (ok)
			ok = flush_pending(&c, error);
		/* rows of this batch not reached (abort, store error) go back unsent */
		for (guint i = 0; i < items->len; i++) {
			lg_mailer_item *it = items->pdata[i];
			GError *e2 = NULL;
			if (it->id != c.pending_sent)
				lg_store_mailer_finish(st, it->id, c.token, LG_MAILER_RELEASE, 0, NULL, &e2);
			g_clear_error(&e2);
		}
	}
	if (ok)
		ok = flush_pending(&c, error) && lg_store_mailer_close_done(st, error);
	if (c.ws) {
		if (ok)
			ok = lg_walsync_sync(c.ws, error);
		lg_walsync_unref(c.ws);
		/* the connection is shared (leadgate-lmtpd's worker): back to durable commits */
		GError *e2 = NULL;
		if (!lg_store_mailer_sync_full(st, &e2) && ok) {
			g_propagate_error(error, e2);
			ok = FALSE;
		}
		g_clear_error(&e2);
	}
	lg_smtp_free(c.smtp);
	g_hash_table_unref(c.campaigns);
	g_free(c.token);
	g_free(c.ref_key);
	return ok;
}
