/*
 * NAME
 *   fuzz-lmtp - libFuzzer target: an LMTP session, byte stream in.
 *
 * SUMMARY
 *   The input is what a client sends on one connection: commands, DATA
 *   and BDAT chunks, all of it in one stream. It is served by
 *   leadgate-lmtpd's own session code, lmtp_session_run() of
 *   lmtpd/lmtp_session.c with lmtp_io.c's reader, on plain file
 *   descriptors as `leadgate-lmtpd -S` serves standard input: the input
 *   is a memory file (read to its end, then EOF), the replies go to
 *   /dev/null. Messages the session accepts are committed by lmtpd's real
 *   writer thread (lmtp_deliver.c) to a store in the target's temporary
 *   directory, through the whole chain.
 *
 *   lmtpd.c holds main() and so is not linked; this file stands in for
 *   the little of it that the session code uses: the process state
 *   (lmtpd), the configuration snapshot (lmtpd_conf_get and its
 *   reference counting, the same few lines) and the start-up order of -S
 *   (load config and rules, create the store, start the writer).
 *
 *   The store is replaced by a fresh one every 20,000 runs (the writer
 *   stopped and started around it), so that a long campaign does not fill
 *   the disk.
 *
 * SEE ALSO
 *   tests/fuzz/README, lmtpd/lmtpd.h, man leadgate-lmtpd(8)
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "fuzz.h"
#include "lmtpd.h"
#include "store_model.h"

#define ROTATE_RUNS 20000

lmtpd_state lmtpd;
static lmtpd_conf *conf_current;
static int null_fd = -1;
static guint runs;

lmtpd_conf *
lmtpd_conf_ref(lmtpd_conf *c)
{
	g_atomic_int_inc(&c->refcount);
	return c;
}

void
lmtpd_conf_unref(lmtpd_conf *c)
{
	if (c == NULL || !g_atomic_int_dec_and_test(&c->refcount))
		return;
	lg_rules_free(c->rules);
	lg_config_unref(c->cfg);
	g_free(c);
}

lmtpd_conf *
lmtpd_conf_get(void)
{
	/* never swapped here (no SIGHUP), so no lock */
	return lmtpd_conf_ref(conf_current);
}

/* A new, empty store with the mailboxes the seeds write to. */
static void
store_create(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(lg_store) st = NULL;
	static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };

	for (guint i = 0; i < G_N_ELEMENTS(suffixes); i++) {
		g_autofree char *p = g_strconcat(lmtpd.db_path, suffixes[i], NULL);
		g_unlink(p);
	}
	st = lg_store_open(lmtpd.db_path, LG_STORE_MIGRATE, 5000, &error);
	if (st == NULL ||
	    !lg_store_mailbox_add(st, "support@example.test", "always", &error) ||
	    !lg_store_mailbox_add(st, "sales@example.test", "existing", &error) ||
	    !lg_store_mailbox_add(st, "info@example.test", "never", &error)) {
		g_printerr("fuzz-lmtp: store: %s\n", error != NULL ? error->message : "?");
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
	lmtpd_conf *c;

	fuzz_init();
	lmtpd.db_path = g_build_filename(fuzz_dir(), "lmtp.db", NULL);
	/* short timeouts: a memory file never makes the reader wait, but a
	 * bug that did would show as a libFuzzer timeout, not a hang; a
	 * small size limit and recipient count reach their replies often */
	conf = g_strdup_printf(
		"[store]\ndatabase = %s\n"
		"[lmtpd]\nhostname = mx.example.test\nmax_message_size = 64K\n"
		"max_recipients = 8\ncommand_timeout = 5\ndata_timeout = 5\n"
		"spool_mem_limit = 4K\nspool_dir = %s\n"
		"[inbound]\ncreate_organizations = true\n", lmtpd.db_path, fuzz_dir());
	conf_path = fuzz_write("lmtpd.conf", conf, strlen(conf));
	c = g_new0(lmtpd_conf, 1);
	c->refcount = 1;
	c->cfg = lg_config_load(conf_path, &error);
	if (c->cfg == NULL) {
		g_printerr("fuzz-lmtp: %s\n", error->message);
		abort();
	}
	c->rules = lg_rules_load(rules_dir, &ro, &error);
	if (c->rules == NULL) {
		g_printerr("fuzz-lmtp: %s\n", error->message);
		abort();
	}
	conf_current = c;
	store_create();
	if (!lmtp_deliver_start(&error)) {
		g_printerr("fuzz-lmtp: %s\n", error->message);
		abort();
	}
	null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null_fd < 0)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd;

	if (++runs % ROTATE_RUNS == 0) {
		lmtp_deliver_stop();
		store_create();
		if (!lmtp_deliver_start(NULL))
			abort();
	}
	/* a memory file: the session reads the input and then EOF, and a
	 * write of any size never blocks as a pipe's would */
	fd = memfd_create("lmtp-in", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	for (size_t done = 0; done < size;) {
		ssize_t n = write(fd, data + done, size - done);
		if (n <= 0)
			abort();
		done += (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) != 0)
		abort();
	lmtp_session_run(fd, null_fd, "fuzz");
	close(fd);
	return 0;
}
