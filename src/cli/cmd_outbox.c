/*
 * NAME
 *   cmd_outbox.c - notifications' commands (SPEC §6, §7):
 *   `leadgate user notify`, `leadgate ticket subscribe`, `leadgate outbox`.
 *
 * SUMMARY
 *   user notify EMAIL add EVENT [--scope any|my|subscribed]
 *                     (--webhook URL [--secret-file F] | --email)
 *   user notify EMAIL remove EVENT (--webhook URL | --email)
 *   user notify EMAIL list [EVENT]
 *   ticket subscribe NUMBER USER
 *   outbox list [--failed] | outbox retry ID | outbox run [--max N]
 *
 *   A webhook URL seen for the first time gets a generated secret, printed
 *   once (the receiver verifies signatures with it), unless --secret-file
 *   names a file with the secret (two lines while rotating: both sign). The
 *   SQL is in store_outbox.c, the sending in outbox.c.
 */
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "outbox.h"
#include "store_outbox.h"
#include "webhook.h"

#define OPEN_STORE(st, rc, mode) \
	int rc = 0; \
	g_autoptr(lg_store) st = cli_open_store(cli, mode, &rc); \
	if (st == NULL) \
		return rc

static gboolean
known_event(const char *e)
{
	return g_strv_contains(lg_notify_events, e);
}

static int
bad_event(const char *e)
{
	g_autofree char *all = g_strjoinv(", ", (char **) lg_notify_events);
	return cli_usage("unknown event \"%s\"; the events are %s", e, all);
}

int
cmd_user_notify(lg_cli *cli, int argc, char **argv)
{
	g_autofree char *scope = NULL, *webhook = NULL, *secret_file = NULL;
	gboolean email = FALSE;
	GOptionEntry entries[] = {
		{ "scope", 0, 0, G_OPTION_ARG_STRING, &scope, "add: any (the default), my (assigned to the user) or "
		  "subscribed (tickets the user subscribed to)", "S" },
		{ "webhook", 0, 0, G_OPTION_ARG_STRING, &webhook, "by a webhook POST to this http(s) URL", "URL" },
		{ "secret-file", 0, 0, G_OPTION_ARG_FILENAME, &secret_file,
		  "add: the webhook's signing secret, whsec_... (two lines while rotating)", "F" },
		{ "email", 0, 0, G_OPTION_ARG_NONE, &email, "by mail to the user's address", NULL },
		{ NULL }
	};
	int prc = 0;
	if (!cli_parse_options(cli, &argc, &argv, entries, "notify", &prc))
		return prc;
	gboolean list = (argc == 4 || argc == 5) && strcmp(argv[3], "list") == 0;
	gboolean add = argc == 5 && strcmp(argv[3], "add") == 0;
	gboolean remove = argc == 5 && strcmp(argv[3], "remove") == 0;
	if (!list && !add && !remove)
		return cli_sub_usage(cli, "notify");
	const char *event = argc == 5 ? argv[4] : NULL;
	if (event && !known_event(event))
		return bad_event(event);
	if (list && (scope || webhook || secret_file || email))
		return cli_usage("notify list takes no --scope, --webhook, --secret-file or --email");
	if (!list && (webhook != NULL) == email)
		return cli_usage("give either --webhook URL or --email");
	if (remove && (scope || secret_file))
		return cli_usage("notify remove takes no --scope or --secret-file");
	if (secret_file && webhook == NULL)
		return cli_usage("--secret-file goes with --webhook");
	if (webhook && !g_str_has_prefix(webhook, "http://") && !g_str_has_prefix(webhook, "https://"))
		return cli_usage("--webhook needs an http:// or https:// URL, not \"%s\"", webhook);
	static const char *const scopes[] = { "any", "my", "subscribed", NULL };
	if (scope && !g_strv_contains(scopes, scope))
		return cli_usage("--scope must be any, my or subscribed, not \"%s\"", scope);
	if (scope && strcmp(scope, "subscribed") == 0 && !g_str_has_prefix(event, "ticket."))
		return cli_usage("--scope subscribed is for ticket events; %s is not one", event);
	g_autoptr(GError) err = NULL;
	g_autofree char *abs_secret = NULL;
	if (secret_file) {
		abs_secret = g_canonicalize_filename(secret_file, NULL);
		g_auto(GStrv) secrets = lg_webhook_read_secrets(abs_secret, &err);
		if (secrets == NULL) {
			if (err->domain == G_FILE_ERROR) {
				fprintf(stderr, "leadgate: --secret-file %s: %s\n", secret_file,
				        err->code == G_FILE_ERROR_NOENT ? "no such file" :
				        err->code == G_FILE_ERROR_ACCES ? "permission denied" : err->message);
				return LG_EX_NOINPUT;
			}
			return cli_usage("%s", err->message);
		}
	}
	OPEN_STORE(st, rc, list ? CLI_STORE_READ : CLI_STORE_WRITE);
	if (list) {
		g_autoptr(lg_table) t = NULL;
		if (!lg_store_notify_list(st, argv[2], event, &t, &err))
			return cli_error(err);
		cli_print_table(cli, t);
		return 0;
	}
	/* the assignment events are about the user's own leads and tickets */
	const char *sc = scope ? scope : (g_str_has_suffix(event, ".assigned") ? "my" : "any");
	lg_notify_sub s = { .user_email = argv[2], .event = event, .scope = sc,
	                    .channel = webhook ? "webhook" : "email", .url = webhook, .secret_file = abs_secret };
	g_autofree char *secret = NULL;
	if (!(add ? lg_store_notify_add(st, &s, &secret, &err) : lg_store_notify_remove(st, &s, &err)))
		return cli_error(err);
	g_autofree char *text = add
		? g_strdup_printf("%s: notify %s by %s%s%s (scope %s)%s%s", argv[2], event, s.channel,
		                  webhook ? " to " : "", webhook ? webhook : "", sc,
		                  secret ? "\nsigning secret (give it to the receiver; it is not shown again): " : "",
		                  secret ? secret : "")
		: g_strdup_printf("%s: no longer notified of %s by %s%s%s", argv[2], event, s.channel,
		                  webhook ? " to " : "", webhook ? webhook : "");
	cli_print_done(cli, text, "email", argv[2], "event", event, "channel", s.channel, "url", webhook,
	               "scope", add ? sc : NULL, "added", add ? "1" : "0", "secret", secret, NULL);
	return 0;
}

int
cmd_ticket_subscribe(lg_cli *cli, int argc, char **argv)
{
	int prc = 0;
	if (!cli_parse_options(cli, &argc, &argv, NULL, "subscribe", &prc))
		return prc;
	if (argc != 4)
		return cli_sub_usage(cli, "subscribe");
	gint64 number = 0;
	if (!cli_parse_id(argv[2][0] == '#' ? argv[2] + 1 : argv[2], &number))
		return cli_usage("\"%s\" is not a ticket number", argv[2]);
	OPEN_STORE(st, rc, CLI_STORE_WRITE);
	g_autoptr(GError) err = NULL;
	gboolean added = FALSE;
	if (!lg_store_ticket_subscribe(st, number, argv[3], &added, &err))
		return cli_error(err);
	g_autofree char *text = g_strdup_printf("ticket #%" G_GINT64_FORMAT ": %s %s", number, argv[3],
	                                        added ? "subscribed" : "was already subscribed");
	g_autofree char *num = g_strdup_printf("%" G_GINT64_FORMAT, number);
	cli_print_done(cli, text, "ticket_number", num, "user", argv[3], "added", added ? "1" : "0", NULL);
	return 0;
}

typedef struct {
	lg_cli *cli;
	GString *json;
} run_report;

static const char *const outcome_names[] = { "sent", "retry", "failed", "released" };

static void
report_row(const lg_outbox_item *it, lg_outbox_outcome outcome, double delay, const char *error_text, gpointer data)
{
	run_report *r = data;
	if (r->cli->json) {
		g_string_append_printf(r->json, "%s{\"id\": %" G_GINT64_FORMAT ", \"event\": ", r->json->len > 1 ? ", " : "",
		                       it->id);
		cli_json_string(r->json, it->event);
		g_string_append(r->json, ", \"channel\": ");
		cli_json_string(r->json, it->channel);
		g_string_append(r->json, ", \"outcome\": ");
		cli_json_string(r->json, outcome_names[outcome]);
		g_string_append_printf(r->json, ", \"attempts\": %" G_GINT64_FORMAT ", \"retry_in\": ", it->attempts);
		if (outcome == LG_OUTBOX_RETRY)
			g_string_append_printf(r->json, "%.0f", delay);
		else
			g_string_append(r->json, "null");
		g_string_append(r->json, ", \"error\": ");
		cli_json_string(r->json, error_text);
		g_string_append(r->json, "}");
		return;
	}
	const char *target = g_strcmp0(it->channel, "webhook") == 0 ? it->url : it->recipient;
	if (outcome == LG_OUTBOX_RETRY)
		printf("outbox %" G_GINT64_FORMAT ": %s by %s to %s: attempt %" G_GINT64_FORMAT " failed (%s); next in %.0f s\n",
		       it->id, it->event, it->channel, target, it->attempts, error_text, delay);
	else
		printf("outbox %" G_GINT64_FORMAT ": %s by %s to %s: %s%s%s%s\n", it->id, it->event, it->channel, target,
		       outcome_names[outcome], error_text ? " (" : "", error_text ? error_text : "", error_text ? ")" : "");
}

int
cmd_outbox(lg_cli *cli, int argc, char **argv)
{
	gboolean failed = FALSE;
	int max = 1000;
	GOptionEntry entries[] = {
		{ "failed", 0, 0, G_OPTION_ARG_NONE, &failed, "list: only rows that were given up", NULL },
		{ "max", 0, 0, G_OPTION_ARG_INT, &max, "run: send at most N rows (1000)", "N" },
		{ NULL }
	};
	int prc = 0;
	if (!cli_parse_options(cli, &argc, &argv, entries, NULL, &prc))
		return prc;
	gboolean list = argc == 2 && strcmp(argv[1], "list") == 0;
	gboolean retry = argc == 3 && strcmp(argv[1], "retry") == 0;
	gboolean run = argc == 2 && strcmp(argv[1], "run") == 0;
	if (!list && !retry && !run)
		return cli_sub_usage(cli, argv[1]);
	if (max < 1 || max > 1000000)
		return cli_usage("--max must be from 1 to 1000000");
	gint64 id = 0;
	if (retry && !cli_parse_id(argv[2], &id))
		return cli_usage("\"%s\" is not an outbox id", argv[2]);
	OPEN_STORE(st, rc, list ? CLI_STORE_READ : CLI_STORE_WRITE);
	g_autoptr(GError) err = NULL;
	if (list) {
		g_autoptr(lg_table) t = NULL;
		if (!lg_store_outbox_list(st, failed, &t, &err))
			return cli_error(err);
		cli_print_table(cli, t);
		return 0;
	}
	if (retry) {
		if (!lg_store_outbox_retry(st, id, &err))
			return cli_error(err);
		g_autofree char *text = g_strdup_printf("outbox %s: queued again, due now", argv[2]);
		cli_print_done(cli, text, "id", argv[2], "state", "queued", NULL);
		return 0;
	}
	run_report r = { cli, g_string_new("[") };
	lg_outbox_stats stats;
	gboolean ok = lg_outbox_run(st, cli->cfg, (guint) max, NULL, report_row, &r, &stats, &err);
	if (cli->json) {
		g_string_append(r.json, "]\n");
		fputs(r.json->str, stdout);
	} else {
		printf("outbox: %u sent, %u to retry, %u failed\n", stats.sent, stats.retried, stats.failed);
	}
	g_string_free(r.json, TRUE);
	return ok ? 0 : cli_error(err);
}
