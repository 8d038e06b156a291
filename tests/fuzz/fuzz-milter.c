/*
 * NAME
 *   fuzz-milter - libFuzzer target: the milter's message assembly, its
 *   spool files and the sync filter behind them.
 *
 * SUMMARY
 *   The input is a script of the calls leadgate-milter's libmilter
 *   callbacks make into the core (src/milter_msg.h), on one connection:
 *   a sequence of steps, each one byte (the letter below, or any other
 *   byte taken modulo 12 as the index of one) followed by its fields, each
 *   a two-byte big-endian length and that many bytes (cut at the end of the
 *   input; a string ends at its first NUL, as libmilter's do):
 *
 *     C daemon name addr   the connection (lg_milter_conn_connect)
 *     H helo               HELO
 *     M sender login daemon   MAIL FROM, {auth_authen}, {daemon_name}
 *     R rcpt               RCPT TO
 *     h name value         a header, value with its leading blank
 *                          (SMFIP_HDR_LEADSPC)
 *     x name value         a header without it
 *     E                    end of headers
 *     B bytes              a body chunk
 *     .                    end of message: the event is recorded at once,
 *                          as the writer does, in a transaction
 *     S                    end of message, the event spooled (NAME.msg,
 *                          NAME.evt), read back and recorded from there,
 *                          as after an outage of the store
 *     A                    abort (SMFIC_ABORT)
 *     U                    the set of users' addresses: read from the
 *                          store, or forgotten again (inbound mail for
 *                          no user is then not collected, or collected)
 *
 *   The config is fuzz-sync's (fuzz_sync_config of fuzz.h) with a
 *   [milter] spool_mem_limit of 4K, so that a message past it goes on in
 *   its spool file; the store is fuzz-sync's too, made once and replaced
 *   every 20,000 runs. After each input the connection is freed and the
 *   spool folder must be empty: whatever the steps, no file is left
 *   behind (a message kept as NAME.bad is removed by the target, after
 *   checking that it exists).
 *
 * SEE ALSO
 *   tests/fuzz/README, src/milter_msg.h, tests/fuzz/milter-seeds.py (the
 *   seeds)
 */
#define FUZZ_SYNC_STORE
#include "fuzz.h"
#include "milter_msg.h"
#include "privs.h"

#define ROTATE_RUNS 20000

static lg_config *cfg;
static lg_store *st;
static char *db_path;
static lg_milter_spool spool;
static guint runs;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	g_autoptr(GError) error = NULL;

	(void) argc;
	(void) argv;
	fuzz_init();
	db_path = g_build_filename(fuzz_dir(), "milter.db", NULL);
	cfg = fuzz_sync_config(db_path, "[milter]\nspool_mem_limit = 4K\noutbound_daemons = ORIGINATING\n");
	st = fuzz_sync_store_open(NULL, db_path, cfg);
	spool.dir = g_build_filename(fuzz_dir(), "spool", NULL);
	if (!lg_spool_dir_ready(spool.dir, &error)) {
		g_printerr("fuzz-milter: %s\n", error->message);
		abort();
	}
	return 0;
}

typedef struct {
	const uint8_t *p, *end;
} input;

/* The next field: its bytes and length (cut at the end of the input). */
static const uint8_t *
field(input *in, gsize *len_r)
{
	gsize n = 0;

	if (in->end - in->p >= 2) {
		n = (gsize) in->p[0] << 8 | in->p[1];
		in->p += 2;
	} else {
		in->p = in->end;
	}
	n = MIN(n, (gsize) (in->end - in->p));
	*len_r = n;
	in->p += n;
	return in->p - n;
}

/* The next field as a string, or NULL when empty (an absent macro). */
static char *
field_str(input *in)
{
	gsize n;
	const uint8_t *f = field(in, &n);

	return n > 0 ? g_strndup((const char *) f, n) : NULL;
}

static void
record(lg_milter_event *e)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GString) log = g_string_new(NULL);
	g_autofree char *kept = NULL;
	lg_milter_result r;

	if (!lg_store_begin(st, &error)) {
		g_printerr("fuzz-milter: begin: %s\n", error->message);
		abort();
	}
	r = lg_milter_event_record(st, cfg, spool.dir, e, log, &error);
	if (r != LG_MILTER_DONE && error == NULL)
		abort();   /* a failure always says why */
	if (r == LG_MILTER_LATER) {
		lg_store_rollback(st);
	} else if (!lg_store_commit(st, &error)) {
		g_printerr("fuzz-milter: commit: %s\n", error->message);
		abort();
	}
	if (g_getenv("LG_FUZZ_VERBOSE") != NULL)
		g_printerr("%s%s%s", log->str, error != NULL ? error->message : "", error != NULL ? "\n" : "");
	lg_milter_event_done(&spool, e, r == LG_MILTER_BAD, &kept);
	if (kept != NULL && g_unlink(kept) != 0)
		abort();   /* said to be kept, but not there */
}

static void
eom(lg_milter_conn *c, gboolean spooled)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(lg_milter_event) e = lg_milter_conn_eom(c, "4QUEUEID", &error);

	if (e == NULL)
		return;
	if (error != NULL)
		abort();   /* an event, or an error: not both */
	if (!spooled) {
		record(e);
		return;
	}
	if (!lg_milter_event_spool(&spool, e, &error)) {
		g_printerr("fuzz-milter: spool: %s\n", error->message);
		abort();   /* tmpfs with room: the folder takes it */
	}
	g_autoptr(lg_milter_event) back = lg_milter_event_load(e->base, &error);
	if (back == NULL) {
		g_printerr("fuzz-milter: load: %s\n", error->message);
		abort();   /* what was written reads back */
	}
	record(back);
}

static void
spool_must_be_empty(void)
{
	g_autoptr(GDir) d = g_dir_open(spool.dir, 0, NULL);
	const char *name = d != NULL ? g_dir_read_name(d) : NULL;

	if (name != NULL) {
		g_printerr("fuzz-milter: %s left in the spool folder\n", name);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char ops[] = "CHMRhxEB.SAU";
	input in = { data, data + size };
	g_autoptr(lg_milter_conn) c = lg_milter_conn_new(&spool);
	g_autoptr(GHashTable) users = NULL;

	if (++runs % ROTATE_RUNS == 0)
		st = fuzz_sync_store_open(st, db_path, cfg);
	while (in.p < in.end) {
		uint8_t b = *in.p++;
		const char *op = b != 0 ? strchr(ops, b) : NULL;
		char o = op != NULL ? *op : ops[b % (sizeof ops - 1)];
		g_autofree char *f1 = NULL, *f2 = NULL, *f3 = NULL;
		const uint8_t *bytes;
		gsize n;

		switch (o) {
		case 'C':
			f1 = field_str(&in);
			f2 = field_str(&in);
			f3 = field_str(&in);
			lg_milter_conn_connect(c, f1, f2, f3);
			break;
		case 'H':
			f1 = field_str(&in);
			lg_milter_conn_helo(c, f1);
			break;
		case 'M':
			f1 = field_str(&in);
			f2 = field_str(&in);
			f3 = field_str(&in);
			lg_milter_conn_mail(c, cfg, f1 != NULL ? f1 : "", f2, f3);
			break;
		case 'R':
			f1 = field_str(&in);
			lg_milter_conn_rcpt(c, f1 != NULL ? f1 : "");
			break;
		case 'h':
		case 'x':
			f1 = field_str(&in);
			f2 = field_str(&in);
			if (!lg_milter_conn_in_data(c))
				lg_milter_conn_data_begins(c, users);
			lg_milter_conn_header(c, f1 != NULL ? f1 : "", f2 != NULL ? f2 : "", o == 'h');
			break;
		case 'E':
			if (!lg_milter_conn_in_data(c))
				lg_milter_conn_data_begins(c, users);
			lg_milter_conn_eoh(c);
			break;
		case 'B':
			bytes = field(&in, &n);
			lg_milter_conn_body(c, bytes, n);
			break;
		case '.':
		case 'S':
			eom(c, o == 'S');
			break;
		case 'A':
			lg_milter_conn_abort(c);
			break;
		case 'U':
			if (users != NULL) {
				g_clear_pointer(&users, g_hash_table_unref);
			} else {
				g_autoptr(GError) error = NULL;
				if (!lg_store_sync_user_addresses(st, &users, &error))
					abort();
			}
			break;
		default:
			abort();
		}
	}
	g_clear_pointer(&c, lg_milter_conn_free);
	spool_must_be_empty();
	return 0;
}
