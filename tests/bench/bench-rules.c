/*
 * NAME
 *   bench-rules.c - how long 1,000 rules take on one typical message.
 *
 * SYNOPSIS
 *   bench-rules [--machine] [--rules N] [--iterations N] [--seconds S]
 *
 * SUMMARY
 *   Writes N (1,000) realistic rules into ten files of a scratch folder:
 *   vendor domains routed to organizations, subject keywords and regexes
 *   that raise priority, :matches on partner domains, body phrases,
 *   envelope recipients, allof/anyof combinations and lead sources. Loads
 *   them with lg_rules_load() (timed), parses one typical message (a
 *   multipart reply with a quoted thread), then evaluates the whole set
 *   against it again and again, at most --iterations times (2,000) and at
 *   most --seconds (20) of wall time, and prints the median, 90th
 *   percentile and best time per message. Only the last rule matches, so
 *   every test of every rule runs: the figure is the worst case for a set
 *   this size.
 *
 *   Output: a human-readable summary, then one machine-readable line for
 *   tests/bench/run.sh:
 *       rules_1000_median_us VALUE
 *   With --machine, only that line. Exit status 0, or 1 when something
 *   failed (the reason on stderr).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib/gstdio.h>

#include "lg.h"
#include "message.h"
#include "raw.h"
#include "rules.h"

static const char typical_message[] =
	"Return-Path: <anna.schmidt@kunde-gmbh.example>\r\n"
	"Received: from mx.kunde-gmbh.example (mx.kunde-gmbh.example [192.0.2.10])\r\n"
	"\tby mail.example.com (Postfix) with ESMTPS id 4QxYz12abc\r\n"
	"\tfor <support@example.com>; Tue, 3 Mar 2026 09:14:02 +0100 (CET)\r\n"
	"Received: from [10.0.0.5] (laptop.kunde-gmbh.example [10.0.0.5])\r\n"
	"\tby mx.kunde-gmbh.example with ESMTPSA; Tue, 3 Mar 2026 09:14:00 +0100\r\n"
	"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=kunde-gmbh.example; s=mail;\r\n"
	"\th=from:to:subject:date:message-id; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n"
	"\tb=dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZQ==\r\n"
	"From: =?utf-8?q?Anna_Schmidt?= <Anna.Schmidt@Kunde-GmbH.example>\r\n"
	"To: Support <support@example.com>\r\n"
	"Cc: \"Jörg Weber\" <joerg.weber@kunde-gmbh.example>\r\n"
	"Subject: =?utf-8?q?Re=3A_Probleme_mit_der_Anmeldung_=E2=80=94_Ticket-Anfrage?=\r\n"
	"Date: Tue, 3 Mar 2026 09:13:58 +0100\r\n"
	"Message-ID: <20260303091358.GA1234@kunde-gmbh.example>\r\n"
	"In-Reply-To: <prev-5678@example.com>\r\n"
	"References: <first-1111@kunde-gmbh.example> <prev-5678@example.com>\r\n"
	"MIME-Version: 1.0\r\n"
	"User-Agent: Mozilla/5.0 Thunderbird/115.8.0\r\n"
	"Content-Type: multipart/alternative; boundary=\"b1\"\r\n"
	"\r\n"
	"--b1\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: 8bit\r\n"
	"\r\n"
	"Hallo zusammen,\r\n"
	"\r\n"
	"seit dem Update gestern können sich drei unserer Mitarbeiter nicht mehr\r\n"
	"anmelden. Die Fehlermeldung lautet \"Sitzung abgelaufen\", auch direkt nach\r\n"
	"dem Login. Browser: Firefox 123 und Edge. Können Sie sich das bitte ansehen?\r\n"
	"\r\n"
	"Viele Grüße\r\n"
	"Anna Schmidt\r\n"
	"Kunde GmbH, IT\r\n"
	"\r\n"
	"Am 02.03.2026 um 17:40 schrieb Support:\r\n"
	"> Guten Tag Frau Schmidt,\r\n"
	"> vielen Dank für Ihre Nachricht. Wir haben das Update eingespielt.\r\n"
	"> Bitte melden Sie sich, falls noch etwas nicht funktioniert.\r\n"
	">\r\n"
	"> Mit freundlichen Grüßen\r\n"
	"> Ihr Support-Team\r\n"
	"\r\n"
	"--b1\r\n"
	"Content-Type: text/html; charset=utf-8\r\n"
	"\r\n"
	"<p>Hallo zusammen,</p><p>seit dem Update gestern ...</p>\r\n"
	"--b1--\r\n";

/* One rule of the generated set; @i numbers it. Only the last one matches
 * the typical message. */
static void
append_rule(GString *s, guint i, gboolean last)
{
	if (last) {
		g_string_append(s,
			"if allof (address :domain :is \"from\" \"kunde-gmbh.example\",\n"
			"          header :contains \"subject\" \"anmeldung\") {\n"
			"  ticket :organization \"Kunde GmbH\" :priority \"high\";\n}\n");
		return;
	}
	switch (i % 10) {
	case 0: case 1: case 2:
		g_string_append_printf(s,
			"if address :domain :is \"from\" [\"vendor%u.example\", \"mail.vendor%u.example\"] {\n"
			"  ticket :organization \"Vendor %u Ltd\" :type \"Vendor\";\n}\n", i, i, i);
		break;
	case 3:
		g_string_append_printf(s,
			"if header :contains \"subject\" [\"order %u\", \"invoice %u\", \"po-%u\"] {\n"
			"  ticket :priority \"normal\" :type \"Billing\";\n}\n", i, i, i);
		break;
	case 4:
		g_string_append_printf(s,
			"if header :regex \"subject\" \"\\\\b(case|ref)[ #-]?%u\\\\d{2}\\\\b\" {\n"
			"  ticket :priority \"high\";\n}\n", i);
		break;
	case 5:
		g_string_append_printf(s,
			"if address :domain :matches [\"from\", \"reply-to\"] \"*.partner%u.example\" {\n"
			"  lead :source \"Partner %u\" :stage \"qualified\";\n}\n", i, i);
		break;
	case 6:
		g_string_append_printf(s,
			"if body :text :contains \"contract number %u\" {\n"
			"  ticket :type \"Contract\";\n}\n", i);
		break;
	case 7:
		g_string_append_printf(s,
			"if envelope :localpart :is \"to\" \"queue%u\" {\n"
			"  ticket :assign \"agent%u@example.com\";\n}\n", i, i);
		break;
	case 8:
		g_string_append_printf(s,
			"if allof (header :is \"x-mailer\" \"Mailer %u\", size :over 20K) {\n"
			"  spam;\n} elsif anyof (address :localpart :is \"from\" \"newsletter%u\",\n"
			"                     header :matches \"list-id\" \"*list%u*\") {\n"
			"  spam;\n  stop;\n}\n", i, i, i);
		break;
	default:
		g_string_append_printf(s,
			"if not exists \"x-campaign-%u\" { keep; } else { lead :source \"Campaign %u\"; }\n",
			i, i);
		break;
	}
}

static int
compare_i64(const void *a, const void *b)
{
	gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;

	return x < y ? -1 : x > y;
}

static void
remove_tree(const char *dir)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *n;

	while (d && (n = g_dir_read_name(d)) != NULL) {
		g_autofree char *p = g_build_filename(dir, n, NULL);

		g_unlink(p);
	}
	if (d)
		g_dir_close(d);
	g_rmdir(dir);
}

int
main(int argc, char **argv)
{
	gboolean machine = FALSE;
	gint nrules = 1000, iterations = 2000;
	gdouble seconds = 20.0;
	GOptionEntry entries[] = {
		{ "machine", 0, 0, G_OPTION_ARG_NONE, &machine, "print only the machine-readable line", NULL },
		{ "rules", 0, 0, G_OPTION_ARG_INT, &nrules, "rules to generate (1000)", "N" },
		{ "iterations", 0, 0, G_OPTION_ARG_INT, &iterations, "most evaluations (2000)", "N" },
		{ "seconds", 0, 0, G_OPTION_ARG_DOUBLE, &seconds, "most wall time for evaluations (20)", "S" },
		{ NULL }
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("- time 1,000 rules on a message");
	g_autoptr(GError) err = NULL;
	g_autofree char *dir = NULL;
	g_autoptr(lg_rules) rules = NULL;
	g_autoptr(lg_raw) raw = NULL;
	g_autoptr(lg_message) msg = NULL;
	g_autoptr(lg_envelope) env = NULL;
	g_autofree gint64 *times = NULL;
	lg_rules_options opts = { 100000, 10000 };
	const guint files = 10;
	gint64 t0, load_us, deadline;
	gint done = 0;
	lg_rule_result res;

	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
		fprintf(stderr, "bench-rules: %s\n", err->message);
		return 1;
	}
	if (nrules < 1 || nrules > 100000 || iterations < 1 || iterations > 1000000 ||
	    seconds <= 0 || seconds > 3600) {
		fprintf(stderr, "bench-rules: --rules 1..100000, --iterations 1..1000000, --seconds 0..3600\n");
		return 1;
	}
	lg_message_init();

	/* the rule set: ten files, require in each */
	dir = g_dir_make_tmp("bench-rules-XXXXXX", &err);
	if (dir == NULL) {
		fprintf(stderr, "bench-rules: %s\n", err->message);
		return 1;
	}
	for (guint f = 0; f < files; f++) {
		g_autoptr(GString) s = g_string_new(
			"require [\"vnd.leadgate\", \"envelope\", \"body\", \"regex\"];\n");
		g_autofree char *name = g_strdup_printf("%02u-generated.sieve", f * 10 + 10);
		g_autofree char *path = g_build_filename(dir, name, NULL);

		for (guint i = f; i < (guint)nrules; i += files)
			append_rule(s, i, i == (guint)nrules - 1);
		if (!g_file_set_contents(path, s->str, (gssize)s->len, &err)) {
			fprintf(stderr, "bench-rules: %s\n", err->message);
			remove_tree(dir);
			return 1;
		}
	}
	t0 = g_get_monotonic_time();
	rules = lg_rules_load(dir, &opts, &err);
	load_us = g_get_monotonic_time() - t0;
	remove_tree(dir);
	if (rules == NULL) {
		fprintf(stderr, "bench-rules: the generated rules do not load:\n%s\n", err->message);
		return 1;
	}

	raw = lg_raw_new_from_data(typical_message, sizeof typical_message - 1);
	msg = lg_message_parse(raw, NULL, &err);
	if (msg == NULL) {
		fprintf(stderr, "bench-rules: %s\n", err->message);
		return 1;
	}
	env = lg_envelope_new("anna.schmidt@kunde-gmbh.example");
	lg_envelope_add_rcpt(env, "support@example.com");

	/* check once that the set decides as designed: by its last rule */
	lg_rules_eval(rules, msg, env, "support@example.com", &res);
	if (res.decision != LG_RULE_TICKET || g_strcmp0(res.organization, "Kunde GmbH") != 0) {
		fprintf(stderr, "bench-rules: the set did not decide as expected (%s)\n",
		        res.where ? res.where : "no decision");
		lg_rule_result_clear(&res);
		return 1;
	}
	lg_rule_result_clear(&res);

	times = g_new(gint64, iterations);
	deadline = g_get_monotonic_time() + (gint64)(seconds * G_USEC_PER_SEC);
	for (done = 0; done < iterations; done++) {
		gint64 a = g_get_monotonic_time();

		lg_rules_eval(rules, msg, env, "support@example.com", &res);
		lg_rule_result_clear(&res);
		times[done] = g_get_monotonic_time() - a;
		if (times[done] + a > deadline && done >= 10) {
			done++;
			break;
		}
	}
	qsort(times, (size_t)done, sizeof *times, compare_i64);
	if (!machine)
		printf("rules: %d rules in %u files, loaded in %.1f ms\n"
		       "evaluations: %d; per message: median %" G_GINT64_FORMAT " us, "
		       "p90 %" G_GINT64_FORMAT " us, best %" G_GINT64_FORMAT " us\n",
		       nrules, lg_rules_count(rules), load_us / 1000.0, done,
		       times[done / 2], times[(done * 9) / 10], times[0]);
	printf("rules_%d_median_us %" G_GINT64_FORMAT "\n", nrules, times[done / 2]);
	return 0;
}
