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
 *   The store is made once (fuzz_sync_store_open() of fuzz.h, which
 *   fuzz-milter shares): a sales user (with keywords and exclusions of his
 *   own), an admin, a user whose role is not connected, all synced, a
 *   support mailbox, and a lead for the usual customer (made by delivering
 *   a message through the chain), so that the synced, captured, no_lead
 *   and skipped outcomes are all reachable. It is not
 *   reset between runs (a replayed message must record nothing twice),
 *   only replaced by a fresh one every 20,000 runs.
 *
 *   The milter's own assembly of a message from libmilter's callbacks
 *   (src/milter_msg.c) and its spool files are fuzz-milter's.
 *
 * SEE ALSO
 *   tests/fuzz/README, src/sync.h
 */
#define FUZZ_SYNC_STORE
#include "fuzz.h"
#include "sync.h"

#define ROTATE_RUNS 20000

static lg_config *cfg;
static lg_store *st;
static char *db_path;
static guint runs;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	db_path = g_build_filename(fuzz_dir(), "sync.db", NULL);
	cfg = fuzz_sync_config(db_path, "");
	st = fuzz_sync_store_open(NULL, db_path, cfg);
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
		st = fuzz_sync_store_open(st, db_path, cfg);
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
