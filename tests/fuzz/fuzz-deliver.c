/*
 * NAME
 *   fuzz-deliver - libFuzzer target: a whole delivery into a store.
 *
 * SUMMARY
 *   The input is one raw message, delivered as leadgate-lmtpd and
 *   `leadgate ingest` deliver it: lg_delivery_new(), lg_delivery_parse()
 *   and lg_deliver_now() run the whole inbound chain (loop and automatic-
 *   mail checks, bounces, spam list, ticket replies, the example rules of
 *   rules/, mailbox modes, organizations, contacts, leads, tickets, the
 *   inbound email sync) and commit it to a real SQLite store. Every
 *   recipient must end with a final status: a delivery the store accepted
 *   leaves none pending.
 *
 *   The store lives in the target's temporary directory (tmpfs when there
 *   is one) and is made once, with four mailboxes of every mode and a
 *   sales user whose mail the sync records. It is not reset between runs:
 *   the chain must cope with whatever earlier messages left (duplicates,
 *   ticket replies to tickets they made, rate limits reached). Every
 *   20,000 runs it is replaced by a fresh one so that a long campaign
 *   does not fill the disk.
 *
 *   Inputs whose size is a multiple of three come from the null sender.
 *
 * SEE ALSO
 *   tests/fuzz/README, src/deliver.h, src/chain.c
 */
#include "fuzz.h"
#include "config.h"
#include "deliver.h"
#include "envelope.h"
#include "raw.h"
#include "rules.h"
#include "store.h"
#include "store_model.h"

#define ROTATE_RUNS 20000

static lg_config *cfg;
static lg_rules *rules;
static lg_store *st;
static char *db_path;
static guint runs;

static const char *const rcpts[] = {
	"support@example.test", "sales@example.test", "rep@example.test", "other@example.test"
};

static void
store_open(void)
{
	g_autoptr(GError) error = NULL;
	static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };

	if (st != NULL)
		lg_store_close(st);
	for (guint i = 0; i < G_N_ELEMENTS(suffixes); i++) {
		g_autofree char *p = g_strconcat(db_path, suffixes[i], NULL);
		g_unlink(p);
	}
	st = lg_store_open(db_path, LG_STORE_MIGRATE, 5000, &error);
	if (st == NULL ||
	    !lg_store_mailbox_add(st, "support@example.test", "always", &error) ||
	    !lg_store_mailbox_add(st, "sales@example.test", "existing", &error) ||
	    !lg_store_mailbox_add(st, "info@example.test", "never", &error) ||
	    !lg_store_user_add(st, "rep@example.test", "sales", "Rep", &error)) {
		g_printerr("fuzz-deliver: store: %s\n", error != NULL ? error->message : "?");
		abort();
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *conf = NULL;
	g_autofree char *conf_path = NULL;
	g_autofree char *rules_dir = g_build_filename(fuzz_srcdir(), "rules", NULL);
	lg_rules_options ro = { .match_limit = 100000, .depth_limit = 10000 };

	fuzz_init();
	db_path = g_build_filename(fuzz_dir(), "deliver.db", NULL);
	conf = g_strdup_printf(
		"[store]\ndatabase = %s\n"
		"[inbound]\ncreate_organizations = true\nticket_limit = 5\n"
		"trusted_authserv_id = mx1.example.test\n"
		"[sync]\ninternal_domains = example.test\n", db_path);
	conf_path = fuzz_write("deliver.conf", conf, strlen(conf));
	cfg = lg_config_load(conf_path, &error);
	if (cfg == NULL) {
		g_printerr("fuzz-deliver: %s\n", error->message);
		abort();
	}
	rules = lg_rules_load(rules_dir, &ro, &error);
	if (rules == NULL) {
		g_printerr("fuzz-deliver: %s\n", error->message);
		abort();
	}
	store_open();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(GError) error = NULL;
	lg_raw *raw;
	lg_envelope *env;
	g_autoptr(lg_delivery) d = NULL;
	GPtrArray *res;

	if (size == 0)
		return 0;
	if (++runs % ROTATE_RUNS == 0)
		store_open();
	raw = lg_raw_new_from_data(data, size);
	env = lg_envelope_new(size % 3 == 0 ? "" : "customer@example.org");
	for (guint i = 0; i < G_N_ELEMENTS(rcpts); i++)
		lg_envelope_add_rcpt(env, rcpts[i]);
	d = lg_delivery_new(raw, env);
	if (!lg_delivery_parse(d, cfg, &error))
		abort();   /* only an empty source may fail */
	if (!lg_deliver_now(d, st, cfg, rules, &error)) {
		/* a store error: nothing was written, and it must be one */
		if (error == NULL)
			abort();
		return 0;
	}
	res = lg_delivery_results(d);
	for (guint i = 0; i < res->len; i++) {
		const lg_rcpt_result *r = res->pdata[i];

		if (r->status == LG_RCPT_PENDING)
			abort();
		g_free(lg_rcpt_result_format(d, r));
	}
	return 0;
}
