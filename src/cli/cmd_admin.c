/*
 * NAME
 *   cmd_admin.c - `leadgate org|contact|mailbox|spam ...`: the reference data.
 */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "cli.h"

#define OPEN_STORE(st, rc, mode) \
	int rc = 0; \
	g_autoptr(lg_store) st = cli_open_store(cli, mode, &rc); \
	if (st == NULL) \
		return rc

int
cmd_org(lg_cli *cli, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "set") == 0)
		return cmd_org_set(cli, argc, argv);
	g_auto(GStrv) domains = NULL;
	GOptionEntry entries[] = {
		{ "domain", 0, 0, G_OPTION_ARG_STRING_ARRAY, &domains, "a domain of the organization (repeatable)", "D" },
		{ NULL }
	};
	int prc = 0;
	if (!cli_parse_options(cli, &argc, &argv, entries, NULL, &prc))
		return prc;
	if (argc != 3 || strcmp(argv[1], "add") != 0)
		return cli_sub_usage(cli, argv[1]);
	if (*g_strstrip(argv[2]) == '\0')
		return cli_usage("an organization needs a name");
	OPEN_STORE(st, rc, CLI_STORE_WRITE);
	g_autoptr(GError) err = NULL;
	gint64 id;
	if (!lg_store_org_add(st, argv[2], domains, &id, &err))
		return cli_error(err);
	g_autofree char *text = g_strdup_printf("organization %" G_GINT64_FORMAT ": %s", id, argv[2]);
	g_autofree char *ids = g_strdup_printf("%" G_GINT64_FORMAT, id);
	cli_print_done(cli, text, "id", ids, "name", argv[2], NULL);
	return 0;
}

int
cmd_contact(lg_cli *cli, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "set") == 0)
		return cmd_contact_set(cli, argc, argv);
	g_autofree char *name = NULL, *org = NULL;
	GOptionEntry entries[] = {
		{ "name", 0, 0, G_OPTION_ARG_STRING, &name, "display name", "N" },
		{ "org", 0, 0, G_OPTION_ARG_STRING, &org, "organization name", "NAME" },
		{ NULL }
	};
	int prc = 0;
	if (!cli_parse_options(cli, &argc, &argv, entries, NULL, &prc))
		return prc;
	if (argc != 3)
		return cli_sub_usage(cli, argv[1]);
	OPEN_STORE(st, rc, CLI_STORE_WRITE);
	g_autoptr(GError) err = NULL;
	gint64 id;
	if (!lg_store_contact_add(st, argv[2], name, org, &id, &err))
		return cli_error(err);
	g_autofree char *text = g_strdup_printf("end user %" G_GINT64_FORMAT ": %s", id, argv[2]);
	g_autofree char *ids = g_strdup_printf("%" G_GINT64_FORMAT, id);
	cli_print_done(cli, text, "id", ids, "email", argv[2], NULL);
	return 0;
}

int
cmd_mailbox(lg_cli *cli, int argc, char **argv)
{
	g_autofree char *mode = NULL;
	GOptionEntry entries[] = {
		{ "mode", 0, 0, G_OPTION_ARG_STRING, &mode, "always, existing or never", "MODE" },
		{ NULL }
	};
	int prc = 0;
	if (!cli_parse_options(cli, &argc, &argv, entries, NULL, &prc))
		return prc;
	if (argc == 2 && strcmp(argv[1], "list") == 0) {
		OPEN_STORE(st, rc, CLI_STORE_READ);
		g_autoptr(GError) err = NULL;
		g_autoptr(lg_table) t = NULL;
		if (!lg_store_mailbox_list(st, &t, &err))
			return cli_error(err);
		cli_print_table(cli, t);
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "add") != 0)
		return cli_sub_usage(cli, argv[1]);
	if (mode == NULL || (strcmp(mode, "always") && strcmp(mode, "existing") && strcmp(mode, "never")))
		return cli_usage("--mode must be always, existing or never");
	OPEN_STORE(st, rc, CLI_STORE_WRITE);
	g_autoptr(GError) err = NULL;
	if (!lg_store_mailbox_add(st, argv[2], mode, &err))
		return cli_error(err);
	g_autofree char *text = g_strdup_printf("mailbox %s: mode %s", argv[2], mode);
	cli_print_done(cli, text, "address", argv[2], "mode", mode, NULL);
	return 0;
}

int
cmd_spam(lg_cli *cli, int argc, char **argv)
{
	int prc = 0;
	if (!cli_parse_options(cli, &argc, &argv, NULL, NULL, &prc))
		return prc;
	if (argc == 2 && strcmp(argv[1], "list") == 0) {
		OPEN_STORE(st, rc, CLI_STORE_READ);
		g_autoptr(GError) err = NULL;
		g_autoptr(lg_table) t = NULL;
		if (!lg_store_spam_list(st, &t, &err))
			return cli_error(err);
		cli_print_table(cli, t);
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "list") == 0)
		return cli_sub_usage(cli, argv[1]);
	OPEN_STORE(st, rc, CLI_STORE_WRITE);
	g_autoptr(GError) err = NULL;
	gboolean add = strcmp(argv[1], "add") == 0;
	if (!(add ? lg_store_spam_add(st, argv[2], 0, &err) : lg_store_spam_remove(st, argv[2], &err)))
		return cli_error(err);
	g_autofree char *text = g_strdup_printf("%s %s the spam list", argv[2], add ? "added to" : "removed from");
	cli_print_done(cli, text, "pattern", argv[2], "listed", add ? "1" : "0", NULL);
	return 0;
}

int
cmd_user(lg_cli *cli, int argc, char **argv)
{
	/* the email sync's subcommands live in cmd_sync.c */
	if (argc >= 2 && (strcmp(argv[1], "sync") == 0 || strcmp(argv[1], "keywords") == 0 ||
	                  strcmp(argv[1], "exclude") == 0))
		return cmd_user_sync(cli, argc, argv);
	if (argc >= 2 && strcmp(argv[1], "notify") == 0)
		return cmd_user_notify(cli, argc, argv);
	g_autofree char *role = NULL, *name = NULL;
	GOptionEntry entries[] = {
		{ "role", 0, 0, G_OPTION_ARG_STRING, &role, "admin, tech, sales, marketing or manager", "R" },
		{ "name", 0, 0, G_OPTION_ARG_STRING, &name, "display name", "N" },
		{ NULL }
	};
	int prc = 0;
	if (!cli_parse_options(cli, &argc, &argv, entries, NULL, &prc))
		return prc;
	gboolean add = argc == 3 && strcmp(argv[1], "add") == 0;
	gboolean remove = argc == 3 && strcmp(argv[1], "remove") == 0;
	gboolean list = argc == 2 && strcmp(argv[1], "list") == 0;
	if (!add && !remove && !list)
		return cli_sub_usage(cli, argv[1]);
	static const char *const roles[] = { "admin", "tech", "sales", "marketing", "manager", NULL };
	if (add && (role == NULL || !g_strv_contains(roles, role)))
		return cli_usage("--role must be one of admin, tech, sales, marketing, manager");
	OPEN_STORE(st, rc, list ? CLI_STORE_READ : CLI_STORE_WRITE);
	g_autoptr(GError) err = NULL;
	if (list) {
		g_autoptr(lg_table) t = NULL;
		if (!lg_store_user_list(st, &t, &err))
			return cli_error(err);
		cli_print_table(cli, t);
		return 0;
	}
	if (!(add ? lg_store_user_add(st, argv[2], role, name, &err) : lg_store_user_remove(st, argv[2], &err)))
		return cli_error(err);
	g_autofree char *text = g_strdup_printf("user %s %s", argv[2], add ? "added" : "removed");
	cli_print_done(cli, text, "email", argv[2], "removed", add ? "0" : "1", NULL);
	return 0;
}

int
cmd_config(lg_cli *cli, int argc, char **argv)
{
	int prc = 0;
	if (!cli_parse_options(cli, &argc, &argv, NULL, NULL, &prc))
		return prc;
	if (argc == 2 && strcmp(argv[1], "defaults") == 0) {
		g_autoptr(GString) out = g_string_new(NULL);
		lg_config_dump_defaults(out);
		fputs(out->str, stdout);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "check") == 0) {
		/* main() already loaded and validated the file: reaching here means it is good */
		g_autofree char *text = g_strdup_printf("%s: ok", cli->cfg->path ? cli->cfg->path : "built-in defaults");
		cli_print_done(cli, text, "config", cli->cfg->path, "ok", "1", NULL);
		return 0;
	}
	return cli_sub_usage(cli, argv[1]);
}
