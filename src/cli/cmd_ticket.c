/*
 * NAME
 *   cmd_ticket.c - `leadgate ticket list|show|set|assign`.
 */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "cli.h"

int
cmd_ticket(lg_cli *cli, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "subscribe") == 0)
		return cmd_ticket_subscribe(cli, argc, argv);
	g_autofree char *status = NULL;
	GOptionEntry entries[] = {
		{ "status", 0, 0, G_OPTION_ARG_STRING, &status, "list: only this status", "S" },
		{ NULL }
	};
	int rc = 0;
	if (!cli_parse_options(cli, &argc, &argv, entries, NULL, &rc))
		return rc;
	gint64 number = 0;
	gboolean list = argc == 2 && strcmp(argv[1], "list") == 0;
	gboolean show = argc == 3 && strcmp(argv[1], "show") == 0;
	gboolean set = argc == 5 && strcmp(argv[1], "set") == 0;
	gboolean assign = argc == 4 && strcmp(argv[1], "assign") == 0;
	if (!list && !show && !set && !assign)
		return cli_sub_usage(cli, argv[1]);
	if (!list && !cli_parse_id(argv[2][0] == '#' ? argv[2] + 1 : argv[2], &number))
		return cli_usage("\"%s\" is not a ticket number", argv[2]);
	g_autoptr(lg_store) st = cli_open_store(cli, set || assign ? CLI_STORE_WRITE : CLI_STORE_READ, &rc);
	if (st == NULL)
		return rc;
	g_autoptr(GError) err = NULL;
	g_autofree char *num = g_strdup_printf("%" G_GINT64_FORMAT, number);
	if (set) {
		if (!lg_store_ticket_set(st, number, argv[3], argv[4], &err))
			return cli_error(err);
		g_autofree char *text = g_strdup_printf("ticket #%s: %s = %s", num, argv[3], argv[4]);
		cli_print_done(cli, text, "number", num, "field", argv[3], "value", argv[4], NULL);
		return 0;
	}
	if (assign) {
		if (!lg_store_ticket_assign(st, number, argv[3], &err))
			return cli_error(err);
		g_autofree char *text = g_strdup_printf("ticket #%s assigned to %s", num, argv[3]);
		cli_print_done(cli, text, "number", num, "assigned_to", argv[3], NULL);
		return 0;
	}
	g_autoptr(lg_table) t = NULL, thread = NULL;
	if (list) {
		if (!lg_store_ticket_list(st, status, &t, &err))
			return cli_error(err);
		cli_print_table(cli, t);
		return 0;
	}
	if (!lg_store_ticket_show(st, number, &t, &thread, &err))
		return cli_error(err);
	if (cli->json) {
		/* {"ticket": {...}, "thread": [...]} */
		fputs("{\"ticket\": ", stdout);
		cli_print_record(cli, t);
		fputs(", \"thread\": ", stdout);
		cli_print_table(cli, thread);
		fputs("}\n", stdout);
		return 0;
	}
	cli_print_record(cli, t);
	for (guint i = 0; i < thread->rows->len; i++) {
		GPtrArray *row = thread->rows->pdata[i];
		printf("\n--- %s  %s  %s\n%s\n", (char *) row->pdata[0], (char *) row->pdata[1],
		       row->pdata[2] ? (char *) row->pdata[2] : "-", (char *) row->pdata[3]);
	}
	return 0;
}
