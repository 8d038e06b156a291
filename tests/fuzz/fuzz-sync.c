/*
 * NAME
 *   fuzz-sync - libFuzzer target: the email sync filter.
 *
 * SUMMARY
 *   The input is one raw message, handled as leadgate-milter's writer
 *   handles a spooled event: parsed with the filter's own options
 *   (lg_sync_parse_options: the body cut at [sync] body_max) and given to
 *   lg_sync_message() with an envelope and a direction, against a real
 *   SQLite store. Inputs of odd size are outbound (a sales user's
 *   authenticated submission), even ones inbound (a stranger writing to
 *   two users). The config exercises every step of SPEC §5: keywords in
 *   subject and body, exclusions by domain and address, internal mail,
 *   attachment types, lead capture and the counterpart limit.
 *
 *   The store is made once: a sales user (with keywords and exclusions of
 *   his own), an admin, a user whose role is not connected, all synced, a support mailbox, and a lead for the usual customer
 *   (made by delivering a message through the chain), so that the synced,
 *   captured, no_lead and skipped outcomes are all reachable. It is not
 *   reset between runs (a replayed message must record nothing twice),
 *   only replaced by a fresh one every 20,000 runs.
 *
 *   The milter's own assembly of a message from libmilter's callbacks
 *   (milter/milter.c, static functions under libmilter's loop) is not
 *   reached by this target.
 *
 * SEE ALSO
 *   tests/fuzz/README, src/sync.h
 */
#include <string.h>
#include "fuzz.h"
#include "config.h"
#include "deliver.h"
#include "envelope.h"
#include "raw.h"
#include "store.h"
#include "store_model.h"
#include "store_sync.h"
#include "sync.h"

#define ROTATE_RUNS 20000

static lg_config *cfg;
static lg_store *st;
static char *db_path;
static guint runs;

static const char lead_message[] =
	"From: Customer <customer@example.org>\r\nTo: support@example.test\r\n"
	"Subject: a question\r\nMessage-ID: <seed@example.org>\r\n\r\nHello\r\n";

static void
store_open(void)
{
	g_autoptr(GError) error = NULL;
	static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
	lg_envelope *env;
	g_autoptr(lg_delivery) d = NULL;

	if (st != NULL)
		lg_store_close(st);
	for (guint i = 0; i < G_N_ELEMENTS(suffixes); i++) {
		g_autofree char *p = g_strconcat(db_path, suffixes[i], NULL);
		g_unlink(p);
	}
	st = lg_store_open(db_path, LG_STORE_MIGRATE, 5000, &error);
	if (st == NULL ||
	    !lg_store_mailbox_add(st, "support@example.test", "always", &error) ||
	    !lg_store_user_add(st, "rep@example.test", "sales", "Rep", &error) ||
	    !lg_store_user_add(st, "boss@example.test", "admin", "Boss", &error) ||
	    !lg_store_user_add(st, "agent@example.test", "tech", "Agent", &error) ||
	    !lg_store_user_sync_set(st, "rep@example.test", TRUE, &error) ||
	    !lg_store_user_sync_set(st, "boss@example.test", TRUE, &error) ||
	    !lg_store_user_sync_set(st, "agent@example.test", TRUE, &error) ||
	    !lg_store_user_keyword_edit(st, "rep@example.test", TRUE, "pallets", &error) ||
	    !lg_store_user_exclusion_edit(st, "rep@example.test", TRUE, "competitor.example", &error))
		goto fail;
	env = lg_envelope_new("customer@example.org");
	lg_envelope_add_rcpt(env, "support@example.test");
	d = lg_delivery_new(lg_raw_new_from_data(lead_message, sizeof lead_message - 1), env);
	if (!lg_delivery_parse(d, cfg, &error) || !lg_deliver_now(d, st, cfg, NULL, &error))
		goto fail;
	return;
fail:
	g_printerr("fuzz-sync: store: %s\n", error != NULL ? error->message : "?");
	abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *conf = NULL;
	g_autofree char *conf_path = NULL;

	fuzz_init();
	db_path = g_build_filename(fuzz_dir(), "sync.db", NULL);
	conf = g_strdup_printf(
		"[store]\ndatabase = %s\n"
		"[sync]\nenabled = true\ninternal_domains = example.test\n"
		"max_counterparts = 4\nbody_max = 2K\n"
		"[outbound]\nenabled = true\nmode = keywords\nkeywords = quote;\"price list\";offer\n"
		"keywords_in = subject;body\nexclude = example.net;ceo@example.com\n"
		"user_keywords = true\nuser_exclusions = true\n"
		"exclude_applies_to = to;cc;bcc\nactivity_fields = cc;bcc;subject;body;attachments\n"
		"attachment_types = application/pdf;image/;.docx\ncapture_new_leads = true\n"
		"capture_from = to;cc\n"
		"[inbound]\nenabled = true\nmode = all\nexclude = spam.example\n"
		"exclude_applies_to = from;cc\ncapture_new_leads = true\ncapture_from = from\n"
		"attachment_types = *\n", db_path);
	conf_path = fuzz_write("sync.conf", conf, strlen(conf));
	cfg = lg_config_load(conf_path, &error);
	if (cfg == NULL) {
		g_printerr("fuzz-sync: %s\n", error->message);
		abort();
	}
	store_open();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(lg_raw) raw = NULL;
	g_autoptr(lg_message) msg = NULL;
	g_autoptr(lg_envelope) env = NULL;
	g_autoptr(GPtrArray) outcomes = NULL;
	lg_parse_options po;
	gboolean out = (size & 1) != 0;
	lg_sync_input in = { .direction = out ? LG_SYNC_OUT : LG_SYNC_IN,
	                     .login = out ? "rep@example.test" : NULL, .source = "milter" };

	if (size == 0)
		return 0;
	if (++runs % ROTATE_RUNS == 0)
		store_open();
	raw = lg_raw_new_from_data(data, size);
	lg_sync_parse_options(cfg, &po);
	msg = lg_message_parse(raw, &po, &error);
	if (msg == NULL)
		abort();   /* only an empty source may fail */
	if (out) {
		env = lg_envelope_new("rep@example.test");
		lg_envelope_add_rcpt(env, "customer@example.org");
		lg_envelope_add_rcpt(env, "boss@example.test");
	} else {
		env = lg_envelope_new("customer@example.org");
		lg_envelope_add_rcpt(env, "rep@example.test");
		lg_envelope_add_rcpt(env, "agent@example.test");
	}
	if (!lg_sync_message(st, cfg, raw, msg, env, &in, &outcomes, &error)) {
		if (error == NULL)
			abort();
		return 0;
	}
	for (guint i = 0; i < outcomes->len; i++) {
		const lg_sync_outcome *o = outcomes->pdata[i];

		if (o->user == NULL || o->outcome == NULL || o->counterpart == NULL)
			abort();
		if (g_getenv("LG_FUZZ_VERBOSE") != NULL)
			g_printerr("sync %s: user=%s %s reason=%s counterpart=%s lead=%" G_GINT64_FORMAT "\n",
			           out ? "out" : "in", o->user, o->outcome, o->reason ? o->reason : "-",
			           o->counterpart, o->lead_id);
	}
	return 0;
}
