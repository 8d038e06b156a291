/*
 * NAME
 *   cmd_replay.c - `leadgate replay [--quarantine] [ID...]`.
 *
 * SUMMARY
 *   Runs raw messages kept in the store through the chain again, with the
 *   envelope they came with. --quarantine replays quarantined messages (all
 *   pending ones when no ID is given) and marks each done when it goes
 *   through; without it, IDs are message ids and the chain's duplicate step
 *   makes the replay of an already delivered message change nothing.
 */
#include "config.h"
#include <stdio.h>
#include "cli.h"
#include "deliver.h"

/* Replays one message; appends its results to @out (with --json, one
 * object of the array that cmd_replay prints). */
static int
replay_one(lg_cli *cli, GString *out, lg_store *st, const lg_rules *rules, gint64 id, gboolean quarantine)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *sha = NULL;
	lg_envelope *env = NULL;
	if (!(quarantine ? lg_store_quarantine_get(st, id, &sha, &env, &err) : lg_store_message_get(st, id, &sha, &env, &err)))
		return cli_error(err);
	lg_raw *raw = NULL;
	if (!lg_store_raw_get(st, sha, &raw, &err)) {
		lg_envelope_free(env);
		return cli_error(err);
	}
	if (raw == NULL) {
		lg_envelope_free(env);
		fprintf(stderr, "leadgate: the raw message of %s %" G_GINT64_FORMAT " was purged\n",
		        quarantine ? "quarantine entry" : "message", id);
		return LG_EX_FAIL;
	}
	g_autoptr(lg_delivery) d = lg_delivery_new(raw, env);
	if (!lg_delivery_parse(d, cli->cfg, &err) || !lg_deliver_now(d, st, cli->cfg, rules, &err))
		return cli_error(err);
	GPtrArray *res = lg_delivery_results(d);
	gboolean again = res->len > 0 && ((lg_rcpt_result *) res->pdata[0])->status == LG_RCPT_QUARANTINED;
	if (cli->json) {
		g_string_append_printf(out, "%s{\"%s\": %" G_GINT64_FORMAT ", \"recipients\": ", out->len > 1 ? ",\n " : "",
		                       quarantine ? "quarantine" : "message", id);
		cli_format_results(cli, out, res, FALSE);
		g_string_append_c(out, '}');
	} else {
		g_string_append_printf(out, "%s %" G_GINT64_FORMAT ":\n", quarantine ? "quarantine" : "message", id);
		cli_format_results(cli, out, res, FALSE);
	}
	if (quarantine && !again) {
		if (!lg_store_begin(st, &err) || !lg_store_quarantine_done(st, id, "replayed", &err) || !lg_store_commit(st, &err)) {
			lg_store_rollback(st);
			return cli_error(err);
		}
	}
	return again ? LG_EX_SOFTWARE : 0;
}

int
cmd_replay(lg_cli *cli, int argc, char **argv)
{
	gboolean quarantine = FALSE;
	GOptionEntry entries[] = {
		{ "quarantine", 'q', 0, G_OPTION_ARG_NONE, &quarantine, "replay quarantined messages", NULL },
		{ NULL }
	};
	int rc = 0;
	if (!cli_parse_options(cli, &argc, &argv, entries, NULL, &rc))
		return rc;
	if (argc < 2 && !quarantine)
		return cli_usage("usage: replay [--quarantine] [ID...]: message ids, or --quarantine");
	g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(gint64));
	for (int i = 1; i < argc; i++) {
		gint64 id;
		if (!cli_parse_id(argv[i], &id))
			return cli_usage("\"%s\" is not an id", argv[i]);
		g_array_append_val(ids, id);
	}
	g_autoptr(lg_store) st = cli_open_store(cli, CLI_STORE_WRITE, &rc);
	if (st == NULL)
		return rc;
	g_autoptr(GError) err = NULL;
	lg_rules_options ro = { .match_limit = (guint32) cli->cfg->regex_match_limit,
	                        .depth_limit = (guint32) cli->cfg->regex_depth_limit };
	g_autoptr(lg_rules) rules = lg_rules_load(cli->cfg->rules_dir, &ro, &err);
	if (rules == NULL)
		return cli_error(err);
	if (ids->len == 0) {
		g_autoptr(lg_table) t = NULL;
		if (!lg_store_quarantine_list(st, TRUE, &t, &err))
			return cli_error(err);
		for (guint i = 0; i < t->rows->len; i++) {
			gint64 id = g_ascii_strtoll(((GPtrArray *) t->rows->pdata[i])->pdata[0], NULL, 10);
			g_array_append_val(ids, id);
		}
		if (ids->len == 0 && !cli->json)
			printf("nothing in the quarantine\n");
	}
	int worst = 0;
	g_autoptr(GString) out = g_string_new(cli->json ? "[" : "");
	for (guint i = 0; i < ids->len; i++) {
		int r = replay_one(cli, out, st, rules, g_array_index(ids, gint64, i), quarantine);
		if (r != 0)
			worst = r;
	}
	if (cli->json)
		g_string_append(out, "]\n");
	fputs(out->str, stdout);
	return worst;
}
