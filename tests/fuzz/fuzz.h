/*
 * NAME
 *   fuzz.h - what the libFuzzer targets in tests/fuzz/ share.
 *
 * SUMMARY
 *   Each target is one fuzz-NAME.c with LLVMFuzzerTestOneInput() calling
 *   the real code of libleadgate.a (and of leadgate-lmtpd for fuzz-lmtp);
 *   nothing here re-implements what it tests. This header gives them:
 *
 *     fuzz_init()      one-time set-up: GMime/libxml2, a log writer that
 *                      drops the parser's warnings (hostile input makes
 *                      many; printing them would halve the speed) and
 *                      aborts on a critical (a g_return_if_fail() failing
 *                      is a bug, the same rule as G_DEBUG=fatal-criticals
 *                      in make check), and a private temporary directory
 *     fuzz_dir()       that directory, on tmpfs (/dev/shm) when there is one
 *     fuzz_write()     writes the input to a file in it (the config loader
 *                      and the rules compiler read files only)
 *     fuzz_srcdir()    the source tree, for the example rules
 *
 *   and, for the targets of the email sync (fuzz-sync, fuzz-milter), when
 *   FUZZ_SYNC_STORE is defined before including it:
 *
 *     fuzz_sync_config()      a config that exercises every step of SPEC
 *                             §5 (keywords, exclusions, internal mail,
 *                             attachment types, lead capture, the
 *                             counterpart limit), plus the caller's lines
 *     fuzz_sync_store_open()  a fresh store with the users the filter
 *                             judges: a sales user (keywords and an
 *                             exclusion of his own), an admin, a user whose
 *                             role is not connected, all synced, a support
 *                             mailbox and a lead for customer@example.org
 *
 *   The directory is removed at exit. Nothing is reset between runs: the
 *   store a target writes to keeps growing, and the code must cope with
 *   whatever earlier inputs left in it.
 */
#ifndef LG_FUZZ_H
#define LG_FUZZ_H

#include <glib.h>
#include <glib/gstdio.h>
#include <stdint.h>
#include <stdlib.h>
#include "lg.h"
#include "message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char *fuzz_tmp;

static GLogWriterOutput
fuzz_log_writer(GLogLevelFlags level, const GLogField *fields, gsize n, gpointer data)
{
	if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR)) {
		g_log_writer_standard_streams(level, fields, n, data);
		abort();
	}
	if (g_getenv("LG_FUZZ_VERBOSE") != NULL)
		return g_log_writer_standard_streams(level, fields, n, data);
	return G_LOG_WRITER_HANDLED;
}

static void
fuzz_cleanup(void)
{
	if (fuzz_tmp != NULL) {
		/* the files a target made; a few, all in this one directory */
		GDir *d = g_dir_open(fuzz_tmp, 0, NULL);
		const char *name;

		while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
			g_autofree char *p = g_build_filename(fuzz_tmp, name, NULL);
			g_unlink(p);
		}
		if (d != NULL)
			g_dir_close(d);
		g_rmdir(fuzz_tmp);
	}
}

static G_GNUC_UNUSED void
fuzz_init(void)
{
	const char *base = g_file_test("/dev/shm", G_FILE_TEST_IS_DIR) &&
		g_access("/dev/shm", W_OK) == 0 ? "/dev/shm" : g_get_tmp_dir();
	g_autofree char *tmpl = g_build_filename(base, "lg-fuzz-XXXXXX", NULL);

	g_log_set_writer_func(fuzz_log_writer, NULL, NULL);
	lg_message_init();
	fuzz_tmp = g_mkdtemp(g_steal_pointer(&tmpl));
	if (fuzz_tmp == NULL) {
		g_printerr("fuzz: cannot make a temporary directory in %s\n", base);
		abort();
	}
	atexit(fuzz_cleanup);
}

static inline const char *
fuzz_dir(void)
{
	return fuzz_tmp;
}

/* Writes @data to fuzz_dir()/@name (replaced) and returns the path. */
static inline char *
fuzz_write(const char *name, const void *data, size_t size)
{
	char *path = g_build_filename(fuzz_tmp, name, NULL);

	if (!g_file_set_contents(path, (const char *)data, (gssize)size, NULL))
		abort();
	return path;
}

static inline const char *
fuzz_srcdir(void)
{
	const char *s = g_getenv("top_srcdir");

	return s != NULL ? s : LG_FUZZ_SRCDIR;
}

#ifdef FUZZ_SYNC_STORE
#include <string.h>
#include "config.h"
#include "deliver.h"
#include "envelope.h"
#include "raw.h"
#include "store.h"
#include "store_model.h"
#include "store_sync.h"

/* The config of the sync targets, its database at @db_path, with @extra
 * (more sections, or "") after it; aborts when it does not load. */
static lg_config *
fuzz_sync_config(const char *db_path, const char *extra)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *conf = g_strdup_printf(
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
		"attachment_types = *\n%s", db_path, extra);
	g_autofree char *conf_path = fuzz_write("sync.conf", conf, strlen(conf));
	lg_config *cfg = lg_config_load(conf_path, &error);

	if (cfg == NULL) {
		g_printerr("fuzz: %s\n", error->message);
		abort();
	}
	return cfg;
}

/* Closes @old (if any), removes the database at @db_path and makes it
 * again with the sync's users; aborts on any failure. */
static lg_store *
fuzz_sync_store_open(lg_store *old, const char *db_path, lg_config *cfg)
{
	static const char lead_message[] =
		"From: Customer <customer@example.org>\r\nTo: support@example.test\r\n"
		"Subject: a question\r\nMessage-ID: <seed@example.org>\r\n\r\nHello\r\n";
	static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
	g_autoptr(GError) error = NULL;
	g_autoptr(lg_delivery) d = NULL;
	lg_envelope *env;
	lg_store *st;

	if (old != NULL)
		lg_store_close(old);
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
	return st;
fail:
	g_printerr("fuzz: store: %s\n", error != NULL ? error->message : "?");
	abort();
}
#endif

#endif
