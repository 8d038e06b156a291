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

static void
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

#endif
