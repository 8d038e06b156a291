/*
 * NAME
 *   bench-core.c - CPU cost of the core per message, without the network:
 *   parse, chain (apply) and durable commit, as leadgate-lmtpd's writer
 *   runs them, in batches like its group commit.
 *
 * SYNOPSIS
 *   bench-core MESSAGE-FILE DATABASE [COUNT [BATCH [unique]]]
 *
 *   Each delivery goes to its own recipient (as smtp-source -N does), so
 *   the chain does its full work. With "unique", every message also gets
 *   a header of its own, so its raw copy and message row are new too. Prints CPU microseconds per message for
 *   parse, apply and commit, and one line "core_us_per_msg VALUE".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "deliver.h"

static double
cpu_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

int
main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: bench-core MESSAGE-FILE DATABASE [COUNT [BATCH]]\n");
		return 64;
	}
	int count = argc > 3 ? atoi(argv[3]) : 3000;
	int batch = argc > 4 ? atoi(argv[4]) : 5;
	gboolean unique = argc > 5 && g_strcmp0(argv[5], "unique") == 0;
	if (count < 1 || count > 1000000 || batch < 1 || batch > 1000) {
		fprintf(stderr, "bench-core: COUNT 1..1000000, BATCH 1..1000\n");
		return 64;
	}
	lg_message_init();
	g_autoptr(GError) err = NULL;
	g_autofree char *data = NULL;
	gsize len = 0;
	if (!g_file_get_contents(argv[1], &data, &len, &err)) {
		fprintf(stderr, "bench-core: %s\n", err->message);
		return 66;
	}
	g_autoptr(lg_config) cfg = lg_config_load(NULL, &err);
	g_autoptr(lg_store) st = lg_store_open(argv[2], LG_STORE_MIGRATE, 5000, &err);
	if (st == NULL) {
		fprintf(stderr, "bench-core: %s\n", err->message);
		return 75;
	}
	double t_parse = 0, t_apply = 0, t_commit = 0;
	lg_delivery **ds = g_new0(lg_delivery *, batch);
	for (int i = 0; i < count; i += batch) {
		int n = MIN(batch, count - i);
		double t0 = cpu_us();
		for (int k = 0; k < n; k++) {
			lg_envelope *env = lg_envelope_new("from@example.test");
			g_autofree char *rcpt = g_strdup_printf("user%d@example.test", i + k);
			lg_envelope_add_rcpt(env, rcpt);
			lg_raw *raw;
			if (unique) {
				g_autofree char *hdr = g_strdup_printf("X-Bench-Seq: %d\n", i + k);
				raw = lg_raw_new(NULL, len + 64);
				lg_raw_write(raw, hdr, strlen(hdr), NULL);
				lg_raw_write(raw, data, len, NULL);
				lg_raw_finish(raw, NULL);
			} else {
				raw = lg_raw_new_from_data(data, len);
			}
			ds[k] = lg_delivery_new(raw, env);
			if (!lg_delivery_parse(ds[k], cfg, &err))
				goto fail;
		}
		double t1 = cpu_us();
		if (!lg_store_begin(st, &err))
			goto fail;
		for (int k = 0; k < n; k++)
			if (!lg_delivery_apply(ds[k], st, cfg, NULL, &err))
				goto fail;
		double t2 = cpu_us();
		if (!lg_store_commit(st, &err))
			goto fail;
		double t3 = cpu_us();
		for (int k = 0; k < n; k++)
			g_clear_pointer(&ds[k], lg_delivery_free);
		t_parse += t1 - t0;
		t_apply += t2 - t1;
		t_commit += t3 - t2;
	}
	printf("per message (CPU): parse %.1f us, apply %.1f us, commit %.1f us (batch %d)\n",
	       t_parse / count, t_apply / count, t_commit / count, batch);
	printf("core_us_per_msg %.1f\n", (t_parse + t_apply + t_commit) / count);
	g_free(ds);
	return 0;
fail:
	fprintf(stderr, "bench-core: %s\n", err->message);
	return 1;
}
