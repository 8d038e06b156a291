/*
 * NAME
 *   main.c - `leadgate [-c CONFIG] [-d DATABASE] [--json] COMMAND ...`
 *
 * SUMMARY
 *   Global options stop at the command word (strict POSIX parsing); the
 *   command gets the rest. See leadgate(1).
 */
#include "autoconf.h"
#include "config.h"
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "message.h"

typedef struct {
	const char *name;
	int (*fn)(lg_cli *, int, char **);
	const char *summary;
} command;

static const command commands[] = {
	{ "init", cmd_init, "create or migrate the database" },
	{ "ingest", cmd_ingest, "run one message through the inbound chain" },
	{ "rules", cmd_rules, "check rule files, or dry-run a message through them" },
	{ "org", cmd_org, "organizations: add" },
	{ "contact", cmd_contact, "end users: add" },
	{ "mailbox", cmd_mailbox, "inbound mailboxes: add, list" },
	{ "spam", cmd_spam, "the spam list: add, remove, list" },
	{ "lead", cmd_lead, "leads: list, show, spam, unspam, convert, assign, set" },
	{ "ticket", cmd_ticket, "tickets: list, show" },
	{ "user", cmd_user, "users (techs, sales reps): add, remove, list" },
	{ "replay", cmd_replay, "run stored or quarantined messages through the chain again" },
	{ "config", cmd_config, "configuration: check, defaults" },
};

static void
usage(FILE *out)
{
	fprintf(out, "usage: leadgate [-c CONFIG] [-d DATABASE] [--json] COMMAND [ARGS...]\n\ncommands:\n");
	for (guint i = 0; i < G_N_ELEMENTS(commands); i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nSee leadgate(1).\n");
}

int
main(int argc, char **argv)
{
	setlocale(LC_ALL, "");
	g_autofree char *config = NULL;
	g_autofree char *database = NULL;
	gboolean json = FALSE, version = FALSE;
	GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &config, "configuration file", "FILE" },
		{ "database", 'd', 0, G_OPTION_ARG_FILENAME, &database, "database file (overrides the config)", "FILE" },
		{ "json", 0, 0, G_OPTION_ARG_NONE, &json, "print JSON", NULL },
		{ "version", 'V', 0, G_OPTION_ARG_NONE, &version, "print the version", NULL },
		{ NULL }
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("COMMAND [ARGS...]");
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_strict_posix(ctx, TRUE);
	g_option_context_set_help_enabled(ctx, TRUE);
	g_autoptr(GError) err = NULL;
	if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
		fprintf(stderr, "leadgate: %s\n", err->message);
		return LG_EX_USAGE;
	}
	if (version) {
		printf("leadgate %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (argc < 2) {
		usage(stderr);
		return LG_EX_USAGE;
	}
	if (strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	const command *cmd = NULL;
	for (guint i = 0; i < G_N_ELEMENTS(commands); i++)
		if (strcmp(commands[i].name, argv[1]) == 0)
			cmd = &commands[i];
	if (cmd == NULL) {
		fprintf(stderr, "leadgate: unknown command \"%s\"\n", argv[1]);
		usage(stderr);
		return LG_EX_USAGE;
	}
	lg_cli cli = { .json = json };
	cli.cfg = lg_config_load(config, &err);
	if (cli.cfg == NULL) {
		fprintf(stderr, "leadgate: %s\n", err->message);
		return LG_EX_CONFIG;
	}
	cli.db_path = database ? database : cli.cfg->database;
	lg_message_init();
	int rc = cmd->fn(&cli, argc - 1, argv + 1);
	lg_config_unref(cli.cfg);
	return rc;
}
