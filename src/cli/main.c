/*
 * NAME
 *   main.c - `leadgate [-c CONFIG] [-d DATABASE] [--json] COMMAND ...`
 *
 * SUMMARY
 *   The global options (-c, -d, --json, -V) are taken from anywhere on the
 *   line, before or after the command word, as git and systemctl users
 *   expect; "--" ends them, and what follows it (the "--" included) goes to
 *   the command untouched, so that `leadgate org add -- -d` names an
 *   organization "-d". No command has an option of its own with these
 *   names. --help before the command word (or `leadgate help`) lists the
 *   commands; after it (or `leadgate help COMMAND`) it is the command's own
 *   help. See leadgate(1).
 */
#include "autoconf.h"
#include "config.h"
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "message.h"

static const char *const org_subs[] = { "add NAME [--domain D]...", "set NAME marketing on|off", NULL };
static const char *const contact_subs[] = { "add EMAIL [--name N] [--org NAME]", "set EMAIL marketing on|off", NULL };
static const char *const mailbox_subs[] = { "add ADDR --mode always|existing|never", "list", NULL };
static const char *const spam_subs[] = { "add ADDR-OR-DOMAIN", "remove ADDR-OR-DOMAIN", "list", NULL };
static const char *const lead_subs[] = {
	"list [--status unread|won|lost] [--hidden]", "show ID", "spam ID", "unspam ID",
	"convert ID [--org] [--ticket]", "assign ID USER", "set ID FIELD VALUE", NULL
};
static const char *const ticket_subs[] = { "list [--status S]", "show NUMBER", "subscribe NUMBER USER",
	"set NUMBER status|priority|type VALUE", "assign NUMBER USER", NULL };
static const char *const user_subs[] = { "add EMAIL --role R [--name N]", "remove EMAIL", "list",
	"sync EMAIL on|off", "keywords EMAIL add|remove|list [WORD]", "exclude EMAIL add|remove|list [ITEM]",
	"notify EMAIL add|remove|list [EVENT] [--scope any|my|subscribed] (--webhook URL [--secret-file F] | --email)", NULL };
static const char *const outbox_subs[] = { "list [--failed]", "retry ID", "run [--max N]", NULL };
static const char *const rules_subs[] = {
	"check [PATH]", "test [--rules PATH] [--rcpt ADDR]... [--sender ADDR] FILE|-", NULL
};
static const char *const config_subs[] = { "check", "defaults", NULL };
static const char *const search_subs[] = {
	"save NAME [--name-like P] [--domain D] [--has-open-tickets] [--created-since DATE]", "list", "show NAME", NULL
};
static const char *const mailer_subs[] = {
	"create NAME --template FILE [--html FILE] (--all | --search NAME | --trigger EVENT --delay DURATION)",
	"list", "preview NAME [--to EMAIL]", "send NAME [--dry-run]", "run [--max N]", "pause NAME", "resume NAME", NULL
};

static const cli_command commands[] = {
	{ "init", cmd_init, "create or migrate the database", NULL, "" },
	{ "ingest", cmd_ingest, "run one message through the inbound chain", NULL,
	  "[--rcpt ADDR]... [--sender ADDR] [FILE|-]" },
	{ "rules", cmd_rules, "check rule files, or dry-run a message through them", rules_subs, NULL },
	{ "org", cmd_org, "organizations: add, set (marketing consent)", org_subs, NULL },
	{ "contact", cmd_contact, "end users: add, set (marketing consent)", contact_subs, NULL },
	{ "mailbox", cmd_mailbox, "inbound mailboxes: add, list", mailbox_subs, NULL },
	{ "spam", cmd_spam, "the spam list: add, remove, list", spam_subs, NULL },
	{ "lead", cmd_lead, "leads: list, show, spam, unspam, convert, assign, set", lead_subs, NULL },
	{ "ticket", cmd_ticket, "tickets: list, show, subscribe, set, assign", ticket_subs, NULL },
	{ "user", cmd_user, "users (techs, sales reps): add, remove, list, sync, keywords, exclude, notify", user_subs, NULL },
	{ "log", cmd_log, "the email sync log", NULL, "[--user U] [--since today|yesterday|7d|30d|DATE] [--until DATE] [--search TEXT]" },
	{ "purge", cmd_purge, "drop raw messages and bodies older than [sync] retention_days", NULL, "[--dry-run]" },
	{ "outbox", cmd_outbox, "notifications waiting or sent: list, retry, run (for cron)", outbox_subs, NULL },
	{ "search", cmd_search, "saved organization searches: save, list, show", search_subs, NULL },
	{ "mailer", cmd_mailer, "campaigns: create, list, preview, send, run (for cron), pause, resume", mailer_subs, NULL },
	{ "unsubscribe", cmd_unsubscribe, "withdraw an end user's marketing consent by their keyed token (RFC 8058 one-click)",
	  NULL, "TOKEN" },
	{ "replay", cmd_replay, "run stored or quarantined messages through the chain again", NULL,
	  "[--quarantine] [ID...]" },
	{ "config", cmd_config, "configuration: check, defaults", config_subs, NULL },
};

static void
usage(FILE *out)
{
	fprintf(out, "usage: leadgate [-c CONFIG] [-d DATABASE] [--json] COMMAND [ARGS...]\n\ncommands:\n");
	for (guint i = 0; i < G_N_ELEMENTS(commands); i++)
		fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nglobal options (anywhere on the line):\n%s\n"
	        "`leadgate COMMAND --help` shows a command's subcommands and options. See leadgate(1).\n",
	        cli_global_options_help);
}

static const cli_command *
find_command(const char *name)
{
	for (guint i = 0; i < G_N_ELEMENTS(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* -c FILE, -cFILE, --config FILE, --config=FILE: TRUE when @argv[*i] is
 * this option; its value goes to *@value (the last one given wins). */
static gboolean
take_value(char **argv, int argc, int *i, char shortopt, const char *longopt, char **value, gboolean *missing)
{
	const char *a = argv[*i];
	gsize ll = strlen(longopt);
	const char *v = NULL;
	if (a[0] == '-' && a[1] == shortopt)
		v = a[2] ? a + 2 : NULL;
	else if (strncmp(a, "--", 2) == 0 && strncmp(a + 2, longopt, ll) == 0 && (a[2 + ll] == '\0' || a[2 + ll] == '='))
		v = a[2 + ll] == '=' ? a + 3 + ll : NULL;
	else
		return FALSE;
	if (v == NULL) {
		if (*i + 1 >= argc) {
			*missing = TRUE;
			return TRUE;
		}
		v = argv[++*i];
	}
	g_free(*value);
	*value = g_strdup(v);
	return TRUE;
}

int
main(int argc, char **argv)
{
	setlocale(LC_ALL, "");
	g_set_prgname("leadgate");
	g_autofree char *config = NULL;
	g_autofree char *database = NULL;
	gboolean json = FALSE, version = FALSE, help = FALSE, dashdash = FALSE;
	/* the command's own arguments: argv without the global options */
	g_autoptr(GPtrArray) rest = g_ptr_array_new();
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		gboolean missing = FALSE;
		if (dashdash || a[0] != '-' || a[1] == '\0') {
			g_ptr_array_add(rest, argv[i]);
			continue;
		}
		if (strcmp(a, "--") == 0) {
			dashdash = TRUE;
			if (rest->len > 0)   /* before the command word it only ends the global options */
				g_ptr_array_add(rest, argv[i]);
		} else if (strcmp(a, "--json") == 0) {
			json = TRUE;
		} else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			version = TRUE;
		} else if (take_value(argv, argc, &i, 'c', "config", &config, &missing) ||
		           take_value(argv, argc, &i, 'd', "database", &database, &missing)) {
			if (missing) {
				fprintf(stderr, "leadgate: option %s needs a file name\n", a);
				return LG_EX_USAGE;
			}
		} else if (rest->len == 0 && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 || strcmp(a, "-?") == 0)) {
			help = TRUE;
		} else if (rest->len == 0) {
			fprintf(stderr, "leadgate: unknown option %s\n", a);
			usage(stderr);
			return LG_EX_USAGE;
		} else {
			g_ptr_array_add(rest, argv[i]);   /* the command's own option */
		}
	}
	if (version) {
		printf("leadgate %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (help) {
		usage(stdout);
		return 0;
	}
	if (rest->len == 0) {
		usage(stderr);
		return LG_EX_USAGE;
	}
	/* `leadgate help [COMMAND]` */
	if (strcmp(rest->pdata[0], "help") == 0) {
		if (rest->len == 1) {
			usage(stdout);
			return 0;
		}
		const cli_command *c = find_command(rest->pdata[1]);
		if (c == NULL) {
			fprintf(stderr, "leadgate: unknown command \"%s\"\n", (char *) rest->pdata[1]);
			usage(stderr);
			return LG_EX_USAGE;
		}
		cli_print_help(c, NULL, NULL);
		return 0;
	}
	const cli_command *cmd = find_command(rest->pdata[0]);
	if (cmd == NULL) {
		fprintf(stderr, "leadgate: unknown command \"%s\"\n", (char *) rest->pdata[0]);
		usage(stderr);
		return LG_EX_USAGE;
	}
	g_autoptr(GError) err = NULL;
	lg_cli cli = { .json = json, .cmd = cmd };
	cli.cfg = lg_config_load(config, &err);
	if (cli.cfg == NULL) {
		fprintf(stderr, "leadgate: %s\n", err->message);
		return LG_EX_CONFIG;
	}
	cli.db_path = database ? database : cli.cfg->database;
	lg_message_init();
	int cargc = (int) rest->len;
	g_ptr_array_add(rest, NULL);
	int rc = cmd->fn(&cli, cargc, (char **) rest->pdata);
	lg_config_unref(cli.cfg);
	return rc;
}
