/*
 * NAME
 *   cmd_rules.c - `leadgate rules check` and `leadgate rules test`.
 *
 * SYNOPSIS
 *   leadgate rules check [PATH]
 *   leadgate rules test [--rules PATH] [--rcpt ADDR]... [--sender ADDR] FILE.eml
 *
 * SUMMARY
 *   check compiles the rule files of PATH (a directory of *.sieve files or
 *   one file; default: [rules] directory of the config) as the daemons
 *   would load them. Every error goes to stderr as
 *   "file:line:column: error: message"; the exit status is 1 on any error.
 *   When all is well it says what it checked ("rules: 4 rule files, 11
 *   rules: ok"),
 *   so that an empty or mistyped directory is not taken for a good one. A
 *   PATH that does not exist is an error (66), although the daemons take a
 *   missing directory for an empty set. With --json: one object with the
 *   path, the files checked and every diagnostic as an object.
 *
 *   test runs one message through the whole inbound chain without writing
 *   anything (lg_deliver_dry_run) and prints, per recipient, the chain step
 *   that decides (decided_by, e.g. "rule:20-vendors.sieve:12"), the lead
 *   status, the ticket, the reason, and the trace of every step, the rules'
 *   own lines included (which rule matched, which actions were ignored,
 *   regex warnings). The envelope is what `leadgate ingest` would build:
 *   --sender or the message's Return-Path/From; --rcpt, or else the To/Cc
 *   mailboxes, or else the first To address. With --json the same as one
 *   JSON object.
 *
 * DIAGNOSTICS
 *   check: 0 all well, 1 any error (syntax or unreadable file), 64 usage,
 *   66 no such PATH.
 *   test: 0 done, 1 the rules have errors (listed as by check), 64 usage,
 *   66 no such message file, rules PATH or database, else what
 *   cli_error() says. It opens the database read-only.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "deliver.h"
#include "lg.h"
#include "rules.h"

static lg_rules_options
rules_options(const lg_cli *cli)
{
	lg_rules_options o = { 0, 0 };

	if (cli->cfg) {
		o.match_limit = cli->cfg->regex_match_limit > 0 ? (guint32)cli->cfg->regex_match_limit : 0;
		o.depth_limit = cli->cfg->regex_depth_limit > 0 ? (guint32)cli->cfg->regex_depth_limit : 0;
	}
	return o;
}

static const char *
default_rules_path(const lg_cli *cli)
{
	return cli->cfg && cli->cfg->rules_dir ? cli->cfg->rules_dir : "rules";
}

/* Prints why a rule set did not load: the diagnostics, one per line, as
 * they are, or the I/O error. Returns 1. */
static int
rules_load_report(const GError *err)
{
	if (g_error_matches(err, LG_RULES_ERROR, LG_RULES_ERROR_SYNTAX))
		fprintf(stderr, "%s\n", err->message);
	else
		fprintf(stderr, "leadgate: %s\n", err->message);
	return LG_EX_FAIL;
}

/* Loads @path; on failure prints the diagnostics and sets *@exit_r to 1. */
static lg_rules *
rules_load_or_report(const lg_cli *cli, const char *path, int *exit_r)
{
	lg_rules_options o = rules_options(cli);
	g_autoptr(GError) err = NULL;
	lg_rules *r = lg_rules_load(path, &o, &err);

	if (r == NULL)
		*exit_r = rules_load_report(err);
	return r;
}

/* A rules PATH that is not there: the daemons read it as an empty set,
 * but a user who names it (or checks the configured one) meant something. */
static gboolean
rules_path_missing(const char *path, int *exit_r)
{
	if (g_file_test(path, G_FILE_TEST_EXISTS))
		return FALSE;
	fprintf(stderr, "leadgate: no rules at %s: no such file or directory\n", path);
	*exit_r = LG_EX_NOINPUT;
	return TRUE;
}

static gint
compare_paths(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The files lg_rules_load() reads for @path, in its order (file names). */
static GPtrArray *
rule_files(const char *path)
{
	GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
	if (!g_file_test(path, G_FILE_TEST_IS_DIR)) {
		g_ptr_array_add(files, g_strdup(path));
		return files;
	}
	g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
	const char *name;
	while (dir && (name = g_dir_read_name(dir)) != NULL)
		if (g_str_has_suffix(name, ".sieve"))
			g_ptr_array_add(files, g_build_filename(path, name, NULL));
	g_ptr_array_sort(files, compare_paths);
	return files;
}

/* Appends one diagnostic line ("file:line:column: error: message") as a
 * JSON object; a line of another shape becomes {"message": ...}. */
static void
json_diagnostic(GString *out, const char *line)
{
	g_autoptr(GRegex) re = g_regex_new("^(.*):([0-9]+):([0-9]+): (error|warning): (.*)$", 0, 0, NULL);
	g_autoptr(GMatchInfo) m = NULL;
	if (g_regex_match(re, line, 0, &m)) {
		g_autofree char *file = g_match_info_fetch(m, 1), *ln = g_match_info_fetch(m, 2),
		                *col = g_match_info_fetch(m, 3), *sev = g_match_info_fetch(m, 4),
		                *msg = g_match_info_fetch(m, 5);
		g_string_append(out, "{\"file\": ");
		cli_json_string(out, file);
		g_string_append_printf(out, ", \"line\": %s, \"column\": %s, \"severity\": \"%s\", \"message\": ", ln, col, sev);
		cli_json_string(out, msg);
		g_string_append_c(out, '}');
		return;
	}
	g_string_append(out, "{\"file\": null, \"line\": null, \"column\": null, \"severity\": \"error\", \"message\": ");
	cli_json_string(out, line);
	g_string_append_c(out, '}');
}

static int
rules_check(lg_cli *cli, int argc, char **argv)
{
	const char *path;
	int rc = 0;
	g_autoptr(lg_rules) rules = NULL;
	g_autoptr(GError) err = NULL;

	if (!cli_parse_options(cli, &argc, &argv, NULL, "check", &rc))
		return rc;
	if (argc > 2)
		return cli_usage("rules check takes at most one PATH");
	path = argc == 2 ? argv[1] : default_rules_path(cli);
	if (rules_path_missing(path, &rc))
		return rc;
	lg_rules_options o = rules_options(cli);
	rules = lg_rules_load(path, &o, &err);
	if (!cli->json) {
		if (rules == NULL)
			return rules_load_report(err);
		guint n = lg_rules_count(rules), r = lg_rules_rule_count(rules);
		printf("%s: %u rule file%s, %u rule%s: ok\n", path, n, n == 1 ? "" : "s", r, r == 1 ? "" : "s");
		return LG_EX_OK;
	}
	g_autoptr(GPtrArray) files = rule_files(path);
	g_autoptr(GString) out = g_string_new("{\"path\": ");
	cli_json_string(out, path);
	g_string_append(out, ", \"files\": [");
	for (guint i = 0; i < files->len; i++) {
		g_string_append(out, i ? ", " : "");
		cli_json_string(out, files->pdata[i]);
	}
	g_string_append(out, "], \"rules\": ");
	if (rules)
		g_string_append_printf(out, "%u", lg_rules_rule_count(rules));
	else
		g_string_append(out, "null");
	g_string_append_printf(out, ", \"ok\": %s, \"diagnostics\": [", rules ? "true" : "false");
	if (rules == NULL) {
		g_auto(GStrv) lines = g_strsplit(err->message, "\n", -1);
		guint k = 0;
		for (guint i = 0; lines[i]; i++)
			if (*lines[i]) {
				g_string_append(out, k++ ? ",\n  " : "\n  ");
				json_diagnostic(out, lines[i]);
			}
	}
	g_string_append(out, "]}\n");
	fputs(out->str, stdout);
	return rules ? LG_EX_OK : LG_EX_FAIL;
}

static const char *
outcome_name(lg_rcpt_status s)
{
	switch (s) {
	case LG_RCPT_RECORDED: return "would be recorded";
	case LG_RCPT_DUPLICATE: return "duplicate";
	case LG_RCPT_QUARANTINED: return "would be quarantined";
	case LG_RCPT_UNKNOWN: return "unknown recipient";
	case LG_RCPT_UNSUBSCRIBED: return "would unsubscribe";
	default: return "pending";
	}
}

static void
print_json(lg_cli *cli, const char *rules_path, guint nfiles, const lg_message *msg,
           GPtrArray *results)
{
	g_autoptr(GString) out = g_string_new("{\"dry_run\": true, \"rules\": ");

	cli_json_string(out, rules_path);
	g_string_append_printf(out, ", \"rule_files\": %u, \"message_id\": ", nfiles);
	cli_json_string(out, msg ? msg->message_id : NULL);
	g_string_append(out, ", \"recipients\": [");
	for (guint i = 0; i < results->len; i++) {
		const lg_rcpt_result *r = g_ptr_array_index(results, i);

		g_string_append(out, i ? ",\n  {" : "\n  {");
		g_string_append(out, "\"recipient\": ");
		cli_json_string(out, r->recipient);
		g_string_append(out, ", \"outcome\": ");
		cli_json_string(out, lg_rcpt_status_name(r->status));
		g_string_append(out, ", \"decided_by\": ");
		cli_json_string(out, r->decided_by);
		g_string_append(out, ", \"lead_status\": ");
		cli_json_string(out, r->lead_status);
		g_string_append_printf(out, ", \"hidden\": %s, \"ticket\": ",
		                       r->hidden ? "true" : "false");
		if (r->ticket_number)
			g_string_append_printf(out, "%" G_GINT64_FORMAT, r->ticket_number);
		else
			g_string_append(out, "null");
		g_string_append(out, ", \"reason\": ");
		cli_json_string(out, r->reason);
		g_string_append(out, ", \"trace\": [");
		for (guint k = 0; r->trace && k < r->trace->len; k++) {
			if (k)
				g_string_append(out, ", ");
			cli_json_string(out, g_ptr_array_index(r->trace, k));
		}
		g_string_append(out, "]}");
	}
	g_string_append(out, "]}\n");
	fputs(out->str, stdout);
}

static void
print_text(const char *rules_path, guint nfiles, const lg_message *msg, GPtrArray *results)
{
	g_autoptr(GString) out = g_string_new(NULL);

	g_string_append_printf(out, "dry run: nothing was written\n"
	                       "rules:      %s (%u file%s)\n", rules_path, nfiles,
	                       nfiles == 1 ? "" : "s");
	if (msg) {
		g_string_append_printf(out, "message:    %s\n",
		                       msg->message_id ? msg->message_id : "(no Message-ID)");
		g_string_append_printf(out, "subject:    %s\n", msg->subject ? msg->subject : "");
	}
	for (guint i = 0; i < results->len; i++) {
		const lg_rcpt_result *r = g_ptr_array_index(results, i);

		g_string_append_printf(out, "\nrecipient:  %s\n", r->recipient ? r->recipient : "?");
		g_string_append_printf(out, "outcome:    %s\n", outcome_name(r->status));
		g_string_append_printf(out, "decided_by: %s\n", r->decided_by ? r->decided_by : "-");
		if (r->lead_status)
			g_string_append_printf(out, "lead:       %s%s\n", r->lead_status,
			                       r->hidden ? " (hidden)" : "");
		if (r->ticket_number)
			g_string_append_printf(out, "ticket:     #%" G_GINT64_FORMAT " (not written)\n",
			                       r->ticket_number);
		else
			g_string_append(out, "ticket:     none\n");
		if (r->reason)
			g_string_append_printf(out, "reason:     %s\n", r->reason);
		if (r->trace && r->trace->len > 0) {
			g_string_append(out, "trace:\n");
			for (guint k = 0; k < r->trace->len; k++)
				g_string_append_printf(out, "  %s\n", (const char *)g_ptr_array_index(r->trace, k));
		}
	}
	fputs(out->str, stdout);
}

static int
rules_test(lg_cli *cli, int argc, char **argv)
{
	g_auto(GStrv) rcpts = NULL;
	g_autofree char *sender = NULL;
	g_autofree char *rules_path = NULL;
	GOptionEntry entries[] = {
		{ "rcpt", 'r', 0, G_OPTION_ARG_STRING_ARRAY, &rcpts, "envelope recipient (repeatable)", "ADDR" },
		{ "sender", 's', 0, G_OPTION_ARG_STRING, &sender, "envelope sender", "ADDR" },
		{ "rules", 0, 0, G_OPTION_ARG_FILENAME, &rules_path, "rule files to use instead of the configured ones", "PATH" },
		{ NULL }
	};
	int rc = 0;
	g_autoptr(GError) err = NULL;
	g_autoptr(lg_rules) rules = NULL;
	g_autoptr(lg_raw) raw = NULL;
	g_autoptr(lg_store) st = NULL;
	g_autoptr(lg_delivery) d = NULL;
	const char *path;
	lg_envelope *env;

	if (!cli_parse_options(cli, &argc, &argv, entries, "test", &rc))
		return rc;
	if (argc != 2)
		return cli_usage("rules test takes one message file (or - for standard input)");
	if (rules_path == NULL)
		rules_path = g_strdup(default_rules_path(cli));
	path = argv[1];

	raw = lg_raw_new_from_file(path, NULL, &err);
	if (raw == NULL)
		return cli_error(err);
	if (rules_path_missing(rules_path, &rc))
		return rc;
	rules = rules_load_or_report(cli, rules_path, &rc);
	if (rules == NULL)
		return rc;
	st = cli_open_store(cli, CLI_STORE_READ, &rc);
	if (st == NULL)
		return rc;
	if (!lg_store_private_copy(st, &err))
		return cli_error(err);
	d = lg_delivery_new(g_steal_pointer(&raw), lg_envelope_new(sender ? sender : ""));
	if (!lg_delivery_parse(d, cli->cfg, &err))
		return cli_error(err);
	env = cli_envelope_for(st, lg_delivery_message(d), sender, rcpts, &err);
	if (env == NULL)
		return cli_error(err);
	lg_delivery_set_envelope(d, env);
	if (!lg_deliver_dry_run(d, st, cli->cfg, rules, &err))
		return cli_error(err);
	if (cli->json)
		print_json(cli, rules_path, lg_rules_count(rules), lg_delivery_message(d),
		           lg_delivery_results(d));
	else
		print_text(rules_path, lg_rules_count(rules), lg_delivery_message(d),
		           lg_delivery_results(d));
	return LG_EX_OK;
}

int
cmd_rules(lg_cli *cli, int argc, char **argv)
{
	if (argc >= 2 && g_strcmp0(argv[1], "check") == 0)
		return rules_check(cli, argc - 1, argv + 1);
	if (argc >= 2 && g_strcmp0(argv[1], "test") == 0)
		return rules_test(cli, argc - 1, argv + 1);
	/* --help, no subcommand or an unknown one */
	int rc = LG_EX_USAGE;
	cli_parse_options(cli, &argc, &argv, NULL, NULL, &rc);
	return rc;
}
