/*
 * NAME
 *   outbox.c - the outbox worker (see outbox.h).
 */
#include "autoconf.h"
#include <string.h>
#include <unistd.h>
#include <curl/curl.h>
#include <gmime/gmime.h>
#include "lg.h"
#include "outbox.h"
#include "message.h"
#include "ref.h"
#include "smtp_send.h"
#include "webhook.h"

/* seconds after attempt n (1-based) failed: the Standard Webhooks schedule */
static const double schedule[LG_OUTBOX_MAX_ATTEMPTS - 1] = {
	5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 14 * 3600, 20 * 3600, 24 * 3600
};

void
lg_outbox_global_init(void)
{
	static gsize done = 0;
	if (g_once_init_enter(&done)) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		lg_message_init();
		g_once_init_leave(&done, 1);
	}
}

double
lg_outbox_retry_delay(gint64 attempts, gint64 retry_after, double u)
{
	if (attempts < 1 || attempts >= LG_OUTBOX_MAX_ATTEMPTS)
		return -1;
	double d = schedule[attempts - 1] * (0.9 + 0.2 * CLAMP(u, 0.0, 1.0));
	/* Retry-After: never sooner than the schedule, never past a day */
	if (retry_after > 0)
		d = MAX(d, (double) MIN(retry_after, (gint64) 24 * 3600));
	return d;
}

/* ---- mail ---------------------------------------------------------------- */

static const char *
event_title(const char *event)
{
	static const struct { const char *event, *title; } t[] = {
		{ "lead.created", "New lead" },
		{ "lead.replied", "Reply to a lead" },
		{ "lead.assigned", "Lead assigned" },
		{ "ticket.created_from_email", "New ticket from email" },
		{ "ticket.customer_replied", "Customer replied" },
		{ "ticket.assigned", "Ticket assigned" },
	};
	for (guint i = 0; i < G_N_ELEMENTS(t); i++)
		if (g_strcmp0(t[i].event, event) == 0)
			return t[i].title;
	return event;
}

/* A stranger's text on one line: control characters become spaces. */
static char *
oneline(const char *s)
{
	char *o = g_strdup(s);
	for (char *p = o; p && *p; p++)
		if ((unsigned char) *p < 0x20 || *p == 0x7f)
			*p = ' ';
	return o;
}

char *
lg_outbox_build_mail(const lg_outbox_item *it, const lg_config *cfg, const char *ref_key, gsize *len_r)
{
	g_autofree char *subj = oneline(it->subject && *it->subject ? it->subject : "(no subject)");
	g_autofree char *sname = oneline(it->sender_name);
	g_autofree char *semail = oneline(it->sender_email);
	g_autofree char *mbox = oneline(it->mailbox);
	g_autofree char *ref = it->ticket_number ? lg_ref_make(ref_key, 'T', it->ticket_number)
	                                         : lg_ref_make(ref_key, 'L', it->lead_id);
	g_autofree char *subject = it->ticket_number
		? g_strdup_printf("[%s%" G_GINT64_FORMAT "] %s: %s", cfg->ticket_tag, it->ticket_number, event_title(it->event), subj)
		: g_strdup_printf("[Lead %" G_GINT64_FORMAT "] %s: %s", it->lead_id, event_title(it->event), subj);
	g_autoptr(GString) body = g_string_new(NULL);
	g_string_append_printf(body, "%s\n\n", event_title(it->event));
	g_string_append_printf(body, "Event:   %s\n", it->event);
	if (it->ticket_number)
		g_string_append_printf(body, "Ticket:  #%" G_GINT64_FORMAT "\n", it->ticket_number);
	if (it->lead_id)
		g_string_append_printf(body, "Lead:    %" G_GINT64_FORMAT "\n", it->lead_id);
	g_string_append_printf(body, "Subject: %s\n", subj);
	if (semail)
		g_string_append_printf(body, "From:    %s%s%s%s\n", sname ? sname : "", sname ? " <" : "", semail,
		                       sname ? ">" : "");
	if (mbox)
		g_string_append_printf(body, "Mailbox: %s\n", mbox);
	/* the keyed reference: a reply from a client that drops References still threads */
	g_string_append_printf(body, "\n-- \nleadgate notification; reference %s\n", ref);

	GMimeMessage *m = g_mime_message_new(TRUE);
	g_mime_message_add_mailbox(m, GMIME_ADDRESS_TYPE_FROM, "leadgate", cfg->outbox_from);
	g_mime_message_add_mailbox(m, GMIME_ADDRESS_TYPE_TO, NULL, it->recipient);
	g_mime_message_set_subject(m, subject, "utf-8");
	g_autoptr(GDateTime) now = g_date_time_new_now_utc();
	g_mime_message_set_date(m, now);
	/* "lg-T1042-<mac>.msg_...@instance": the chain verifies the leading reference */
	g_autofree char *mid = g_strdup_printf("%s.%s@%s", ref, it->webhook_id, cfg->instance_id);
	g_mime_message_set_message_id(m, mid);
	g_mime_object_set_header(GMIME_OBJECT(m), "Auto-Submitted", "auto-generated", NULL);
	g_mime_object_set_header(GMIME_OBJECT(m), cfg->loop_header, cfg->instance_id, NULL);
	g_mime_object_set_header(GMIME_OBJECT(m), "X-Leadgate-Event", it->event, NULL);
	GMimeTextPart *tp = g_mime_text_part_new_with_subtype("plain");
	g_mime_text_part_set_text(tp, body->str);
	g_mime_message_set_mime_part(m, GMIME_OBJECT(tp));
	g_object_unref(tp);
	GMimeFormatOptions *fo = g_mime_format_options_clone(NULL);
	g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
	char *out = g_mime_object_to_string(GMIME_OBJECT(m), fo);
	g_mime_format_options_free(fo);
	g_object_unref(m);
	*len_r = strlen(out);
	return out;
}

/* ---- one row --------------------------------------------------------------- */

typedef struct {
	lg_store *st;
	const lg_config *cfg;
	const gint *abort;
	char *ref_key;
	lg_smtp *smtp;            /* made at the first mail, kept for the run */
	lg_webhook_client *http;  /* made at the first webhook, kept for the run */
	GHashTable *gone;         /* endpoints this run saw answer 410 */
} run_ctx;

static gboolean
aborted(const run_ctx *c)
{
	return c->abort && g_atomic_int_get(c->abort);
}

/* Sets *outcome, *delay and *err for a webhook row. */
static void
send_webhook(run_ctx *c, lg_outbox_item *it, lg_outbox_outcome *outcome, double *delay, char **err,
             gboolean *disable)
{
	if (it->endpoint_disabled || g_hash_table_contains(c->gone, &it->endpoint_id)) {
		*outcome = LG_OUTBOX_FAILED;
		*err = g_strdup("endpoint disabled (it answered 410 Gone)");
		return;
	}
	g_autoptr(GError) e = NULL;
	g_auto(GStrv) secrets = NULL;
	g_autoptr(GString) sig = g_string_new(NULL);
	if (it->secret)
		secrets = g_strsplit(it->secret, " ", 2);
	else
		secrets = lg_webhook_read_secrets(it->secret_file, &e);
	if (secrets == NULL) {
		*err = g_strdup_printf("secret: %s", e->message);
		goto retry;
	}
	gint64 ts = g_get_real_time() / G_USEC_PER_SEC;
	for (guint i = 0; secrets[i]; i++) {
		g_autofree char *s = lg_webhook_sign(secrets[i], it->webhook_id, ts, it->payload, strlen(it->payload), &e);
		if (s == NULL) {
			*err = g_strdup_printf("secret: %s", e->message);
			goto retry;
		}
		g_string_append_printf(sig, "%s%s", sig->len ? " " : "", s);
	}
	lg_webhook_result r;
	if (c->http == NULL)
		c->http = lg_webhook_client_new(c->cfg->outbox_connect_timeout, c->cfg->outbox_timeout, c->abort);
	lg_webhook_post(c->http, it->url, it->webhook_id, ts, sig->str, it->payload, &r);
	if (r.error == NULL) {
		*outcome = LG_OUTBOX_SENT;
		return;
	}
	if (aborted(c)) {
		*outcome = LG_OUTBOX_RELEASE;
		lg_webhook_result_clear(&r);
		return;
	}
	if (r.status == 410) {
		*outcome = LG_OUTBOX_FAILED;
		*disable = TRUE;
		*err = g_strdup("HTTP 410 Gone: endpoint disabled");
		lg_webhook_result_clear(&r);
		return;
	}
	*err = g_steal_pointer(&r.error);
	*delay = lg_outbox_retry_delay(it->attempts, r.retry_after, g_random_double());
	*outcome = *delay < 0 ? LG_OUTBOX_FAILED : LG_OUTBOX_RETRY;
	lg_webhook_result_clear(&r);
	return;
retry:
	*delay = lg_outbox_retry_delay(it->attempts, -1, g_random_double());
	*outcome = *delay < 0 ? LG_OUTBOX_FAILED : LG_OUTBOX_RETRY;
}

static void
send_mail(run_ctx *c, lg_outbox_item *it, lg_outbox_outcome *outcome, double *delay, char **err)
{
	if (it->recipient == NULL || *it->recipient == '\0') {
		*outcome = LG_OUTBOX_FAILED;
		*err = g_strdup("no recipient address");
		return;
	}
	gsize len;
	g_autofree char *data = lg_outbox_build_mail(it, c->cfg, c->ref_key, &len);
	if (c->smtp == NULL)
		c->smtp = lg_smtp_new(c->cfg->outbox_smtp_url, c->cfg->outbox_connect_timeout, c->cfg->outbox_timeout, c->abort);
	const char *rcpts[] = { it->recipient, NULL };
	g_autoptr(GArray) res = g_array_new(FALSE, TRUE, sizeof(lg_smtp_result));
	g_array_set_clear_func(res, lg_smtp_result_clear);
	lg_smtp_send(c->smtp, c->cfg->outbox_from, rcpts, data, len, res);
	lg_smtp_result *r = &g_array_index(res, lg_smtp_result, 0);
	if (r->ok) {
		*outcome = LG_OUTBOX_SENT;
		return;
	}
	if (aborted(c)) {
		*outcome = LG_OUTBOX_RELEASE;
		return;
	}
	*err = g_strdup(r->error);
	if (r->permanent) {
		*outcome = LG_OUTBOX_FAILED;
		return;
	}
	/* a dropped connection is not reused */
	g_clear_pointer(&c->smtp, lg_smtp_free);
	*delay = lg_outbox_retry_delay(it->attempts, -1, g_random_double());
	*outcome = *delay < 0 ? LG_OUTBOX_FAILED : LG_OUTBOX_RETRY;
}

gboolean
lg_outbox_run(lg_store *st, const lg_config *cfg, guint max, const gint *abort, lg_outbox_report report,
              gpointer data, lg_outbox_stats *stats, GError **error)
{
	lg_outbox_global_init();
	lg_outbox_stats dummy;
	if (stats == NULL)
		stats = &dummy;
	memset(stats, 0, sizeof *stats);
	run_ctx c = { .st = st, .cfg = cfg, .abort = abort };
	c.gone = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	if (!lg_store_setting(st, "ref_key", &c.ref_key, error))
		return FALSE;
	g_autofree char *token = g_strdup_printf("%s:%d:%08x%08x", cfg->hostname, (int) getpid(),
	                                         g_random_int(), g_random_int());
	int lease = cfg->outbox_batch * (cfg->outbox_connect_timeout + cfg->outbox_timeout) + 60;
	gboolean ok = TRUE;
	guint done = 0;
	while (ok && done < max && !aborted(&c)) {
		g_autoptr(GPtrArray) items = NULL;
		if (!lg_store_outbox_claim(st, token, lease, (int) MIN((guint) cfg->outbox_batch, max - done), &items, error)) {
			ok = FALSE;
			break;
		}
		if (items->len == 0)
			break;
		for (guint i = 0; ok && i < items->len; i++) {
			lg_outbox_item *it = items->pdata[i];
			lg_outbox_outcome outcome = LG_OUTBOX_RELEASE;
			double delay = 0;
			g_autofree char *err = NULL;
			gboolean disable = FALSE;
			if (!aborted(&c)) {
				if (g_strcmp0(it->channel, "webhook") == 0)
					send_webhook(&c, it, &outcome, &delay, &err, &disable);
				else
					send_mail(&c, it, &outcome, &delay, &err);
			}
			if (disable) {
				g_hash_table_add(c.gone, g_memdup2(&it->endpoint_id, sizeof it->endpoint_id));
				ok = lg_store_endpoint_disable(st, it->endpoint_id, "HTTP 410 Gone", error);
			}
			if (ok && !lg_store_outbox_finish(st, it->id, token, outcome, delay, err, NULL, error))
				ok = FALSE;
			switch (outcome) {
			case LG_OUTBOX_SENT: stats->sent++; break;
			case LG_OUTBOX_RETRY: stats->retried++; break;
			case LG_OUTBOX_FAILED: stats->failed++; break;
			case LG_OUTBOX_RELEASE: stats->released++; break;
			}
			if (report)
				report(it, outcome, delay, err, data);
			done++;
		}
	}
	lg_smtp_free(c.smtp);
	lg_webhook_client_free(c.http);
	g_hash_table_unref(c.gone);
	g_free(c.ref_key);
	return ok;
}
