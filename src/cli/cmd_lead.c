/*
 * NAME
 *   cmd_lead.c - `leadgate lead list|show|spam|unspam|convert|assign|set`.
 */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "cli.h"

int
cmd_lead(lg_cli *cli, int argc, char **argv)
{
	g_autofree char *status = NULL;
	gboolean hidden = FALSE, org = FALSE, ticket = FALSE;
	GOptionEntry entries[] = {
		{ "status", 0, 0, G_OPTION_ARG_STRING, &status, "list: only this status (unread, won, lost)", "S" },
		{ "hidden", 0, 0, G_OPTION_ARG_NONE, &hidden, "list: include hidden (spam) leads", NULL },
		{ "org", 0, 0, G_OPTION_ARG_NONE, &org, "convert: make an organization", NULL },
		{ "ticket", 0, 0, G_OPTION_ARG_NONE, &ticket, "convert: make a ticket", NULL },
		{ NULL }
	};
	int rc = 0;
	if (!cli_parse_options(cli, &argc, &argv, entries, NULL, &rc))
		return rc;
	const char *sub = argv[1];
	if (status && strcmp(status, "unread") && strcmp(status, "won") && strcmp(status, "lost"))
		return cli_usage("--status must be unread, won or lost");
	gint64 id = 0;
	if (strcmp(sub, "list") != 0 && (argc < 3 || !cli_parse_id(argv[2], &id)))
		return argc < 3 ? cli_sub_usage(cli, sub) : cli_usage("\"%s\" is not a lead id", argv[2]);
	gboolean reading = strcmp(sub, "list") == 0 || strcmp(sub, "show") == 0;
	g_autoptr(lg_store) st = cli_open_store(cli, reading ? CLI_STORE_READ : CLI_STORE_WRITE, &rc);
	if (st == NULL)
		return rc;
	g_autoptr(GError) err = NULL;
	g_autoptr(lg_table) t = NULL;
	g_autofree char *ids = g_strdup_printf("%" G_GINT64_FORMAT, id);
	if (strcmp(sub, "list") == 0 && argc == 2) {
		if (!lg_store_lead_list(st, status, hidden, &t, &err))
			return cli_error(err);
		cli_print_table(cli, t);
	} else if (strcmp(sub, "show") == 0 && argc == 3) {
		if (!lg_store_lead_show(st, id, &t, &err))
			return cli_error(err);
		cli_print_record(cli, t);
	} else if ((strcmp(sub, "spam") == 0 || strcmp(sub, "unspam") == 0) && argc == 3) {
		gboolean spam = strcmp(sub, "spam") == 0;
		if (!lg_store_lead_set_spam(st, id, spam, &err))
			return cli_error(err);
		g_autofree char *text = g_strdup_printf("lead %s %s", ids, spam ? "marked spam; its sender is blocked" : "no longer spam");
		cli_print_done(cli, text, "id", ids, "hidden", spam ? "1" : "0", NULL);
	} else if (strcmp(sub, "convert") == 0 && argc == 3) {
		if (!org && !ticket)
			return cli_usage("convert needs --org, --ticket or both");
		gint64 number = 0;
		if (!lg_store_lead_convert(st, id, org, ticket, &number, &err))
			return cli_error(err);
		g_autofree char *num = number ? g_strdup_printf("%" G_GINT64_FORMAT, number) : NULL;
		g_autofree char *text = num ? g_strdup_printf("lead %s converted: ticket #%s", ids, num)
		                            : g_strdup_printf("lead %s converted", ids);
		cli_print_done(cli, text, "id", ids, "ticket_number", num, NULL);
	} else if (strcmp(sub, "assign") == 0 && argc == 4) {
		if (!lg_store_lead_assign(st, id, argv[3], &err))
			return cli_error(err);
		g_autofree char *text = g_strdup_printf("lead %s assigned to %s", ids, argv[3]);
		cli_print_done(cli, text, "id", ids, "assigned_to", argv[3], NULL);
	} else if (strcmp(sub, "set") == 0 && argc == 5) {
		if (!lg_store_lead_set(st, id, argv[3], argv[4], &err))
			return cli_error(err);
		g_autofree char *text = g_strdup_printf("lead %s: %s = %s", ids, argv[3], argv[4]);
		cli_print_done(cli, text, "id", ids, "field", argv[3], "value", argv[4], NULL);
	} else {
		return cli_sub_usage(cli, sub);
	}
	return 0;
}
