/*
 * NAME
 *   cmd_ingest.c - `leadgate init` and `leadgate ingest`.
 *
 * SUMMARY
 *   ingest runs the same lg_delivery code as leadgate-lmtpd, one message,
 *   one transaction. Its exit status is what Postfix's pipe(8) expects:
 *   0 recorded, 75 the store cannot take it now, 67 no such recipient,
 *   64 usage, 66 no input file, 65 an empty message.
 */
#include "config.h"
#include <stdio.h>
#include "cli.h"
#include "deliver.h"

int
cmd_init(lg_cli *cli, int argc, char **argv)
{
	int rc = 0;
	if (!cli_parse_options(cli, &argc, &argv, NULL, NULL, &rc))
		return rc;
	if (argc > 1)
		return cli_usage("init takes no arguments");
	g_autoptr(lg_store) st = cli_open_store(cli, CLI_STORE_CREATE, &rc);
	if (st == NULL)
		return rc;
	if (!cli->json) {
		printf("%s: schema version %d\n", cli->db_path, lg_store_schema_version(st));
	} else {
		g_autoptr(GString) out = g_string_new("{\"database\": ");
		cli_json_string(out, cli->db_path);
		g_string_append_printf(out, ", \"schema_version\": %d}\n", lg_store_schema_version(st));
		fputs(out->str, stdout);
	}
	return 0;
}

/* One line (or JSON object) per recipient; returns how many were unknown. */
guint
cli_format_results(lg_cli *cli, GString *out, GPtrArray *results, gboolean with_trace)
{
	guint unknown = 0;
	if (cli->json)
		g_string_append_c(out, '[');
	for (guint i = 0; i < results->len; i++) {
		lg_rcpt_result *r = results->pdata[i];
		unknown += r->status == LG_RCPT_UNKNOWN;
		if (cli->json) {
			g_string_append(out, i ? ",\n {" : "{");
			g_string_append(out, "\"recipient\": ");
			cli_json_string(out, r->recipient);
			g_string_append_printf(out, ", \"outcome\": \"%s\", \"lead\": ", lg_rcpt_status_name(r->status));
			/* no lead (an unknown recipient) and no ticket are null, not 0 */
			if (r->lead_id)
				g_string_append_printf(out, "%" G_GINT64_FORMAT, r->lead_id);
			else
				g_string_append(out, "null");
			g_string_append(out, ", \"status\": ");
			cli_json_string(out, r->lead_status);
			g_string_append_printf(out, ", \"hidden\": %s, \"ticket\": ", r->hidden ? "true" : "false");
			if (r->ticket_number)
				g_string_append_printf(out, "%" G_GINT64_FORMAT, r->ticket_number);
			else
				g_string_append(out, "null");
			g_string_append(out, ", \"decided_by\": ");
			cli_json_string(out, r->decided_by);
			g_string_append(out, ", \"reason\": ");
			cli_json_string(out, r->reason);
			if (with_trace) {
				g_string_append(out, ", \"trace\": [");
				for (guint k = 0; r->trace && k < r->trace->len; k++) {
					g_string_append(out, k ? ", " : "");
					cli_json_string(out, r->trace->pdata[k]);
				}
				g_string_append_c(out, ']');
			}
			g_string_append_c(out, '}');
			continue;
		}
		g_string_append_printf(out, "%s: %s", r->recipient, lg_rcpt_status_name(r->status));
		if (r->lead_id)
			g_string_append_printf(out, " lead %" G_GINT64_FORMAT, r->lead_id);
		if (r->lead_status)
			g_string_append_printf(out, " (%s%s)", r->lead_status, r->hidden ? ", hidden" : "");
		if (r->ticket_number)
			g_string_append_printf(out, " ticket #%" G_GINT64_FORMAT, r->ticket_number);
		if (r->decided_by)
			g_string_append_printf(out, " by %s", r->decided_by);
		if (r->reason)
			g_string_append_printf(out, ": %s", r->reason);
		g_string_append_c(out, '\n');
		for (guint k = 0; with_trace && r->trace && k < r->trace->len; k++)
			g_string_append_printf(out, "    %s\n", (char *) r->trace->pdata[k]);
	}
	if (cli->json)
		g_string_append(out, "]");
	return unknown;
}

/* Envelope for a message given on the command line: --sender or the
 * Return-Path / From; --rcpt, or the To and Cc addresses that are mailboxes,
 * or else the first To address. */
lg_envelope *
cli_envelope_for(lg_store *st, const lg_message *msg, const char *sender, char **rcpts, GError **error)
{
	const char *rp = lg_message_header(msg, "Return-Path");
	if (sender == NULL && rp)
		sender = rp;
	if (sender == NULL && msg->from)
		sender = msg->from->email;
	lg_envelope *env = lg_envelope_new(sender ? sender : "");
	for (char **r = rcpts; r && *r; r++)
		if (!lg_envelope_add_rcpt(env, *r)) {
			g_set_error(error, LG_USAGE_ERROR, LG_USAGE_ERROR_ARGS, "--rcpt \"%s\" is not a mail address", *r);
			lg_envelope_free(env);
			return NULL;
		}
	if (env->recipients->len == 0) {
		GPtrArray *lists[] = { msg->to, msg->cc };
		for (guint l = 0; l < 2; l++)
			for (guint i = 0; i < lists[l]->len; i++) {
				lg_address *a = lists[l]->pdata[i];
				gint64 id;
				g_autofree char *mode = NULL;
				if (!lg_store_mailbox_lookup(st, a->email, &id, &mode, error)) {
					lg_envelope_free(env);
					return NULL;
				}
				if (mode)
					lg_envelope_add_rcpt(env, a->email);
			}
		if (env->recipients->len == 0 && msg->to->len > 0)
			lg_envelope_add_rcpt(env, ((lg_address *) msg->to->pdata[0])->email);
	}
	if (env->recipients->len == 0) {
		g_set_error(error, LG_USAGE_ERROR, LG_USAGE_ERROR_ARGS, "no recipient: give --rcpt ADDR");
		lg_envelope_free(env);
		return NULL;
	}
	return env;
}

int
cmd_ingest(lg_cli *cli, int argc, char **argv)
{
	g_auto(GStrv) rcpts = NULL;
	g_autofree char *sender = NULL;
	GOptionEntry entries[] = {
		{ "rcpt", 'r', 0, G_OPTION_ARG_STRING_ARRAY, &rcpts, "envelope recipient (repeatable)", "ADDR" },
		{ "sender", 's', 0, G_OPTION_ARG_STRING, &sender, "envelope sender", "ADDR" },
		{ NULL }
	};
	int rc = 0;
	if (!cli_parse_options(cli, &argc, &argv, entries, NULL, &rc))
		return rc;
	if (argc > 2)
		return cli_usage("ingest takes one message file (or - for standard input)");
	const char *path = argc == 2 ? argv[1] : "-";
	g_autoptr(GError) err = NULL;
	g_autoptr(lg_raw) raw = lg_raw_new_from_file(path, NULL, &err);
	if (raw == NULL)
		return cli_error(err);
	g_autoptr(lg_store) st = cli_open_store(cli, CLI_STORE_WRITE, &rc);
	if (st == NULL)
		return rc;
	g_autoptr(lg_rules) rules = NULL;
	lg_rules_options ro = { .match_limit = (guint32) cli->cfg->regex_match_limit,
	                        .depth_limit = (guint32) cli->cfg->regex_depth_limit };
	rules = lg_rules_load(cli->cfg->rules_dir, &ro, &err);
	if (rules == NULL)
		return cli_error(err);
	/* parse first (no store), as lmtpd does, then build the envelope */
	g_autoptr(lg_delivery) d = lg_delivery_new(g_steal_pointer(&raw), lg_envelope_new(sender));
	if (!lg_delivery_parse(d, cli->cfg, &err))
		return cli_error(err);
	lg_envelope *env = cli_envelope_for(st, lg_delivery_message(d), sender, rcpts, &err);
	if (env == NULL)
		return cli_error(err);
	lg_delivery_set_envelope(d, env);
	if (!lg_deliver_now(d, st, cli->cfg, rules, &err))
		return cli_error(err);
	GPtrArray *results = lg_delivery_results(d);
	g_autoptr(GString) out = g_string_new(NULL);
	guint unknown = cli_format_results(cli, out, results, FALSE);
	if (cli->json)
		g_string_append_c(out, '\n');
	fputs(out->str, stdout);
	if (unknown == results->len) {
		fprintf(stderr, "leadgate: no such mailbox, and no catch-all\n");
		return LG_EX_NOUSER;
	}
	return 0;
}
