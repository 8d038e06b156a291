/*
 * NAME
 *   cmd_sync.c - the email sync's commands (SPEC §5, §7):
 *   `leadgate user sync|keywords|exclude`, `leadgate log`, `leadgate purge`.
 *
 * SUMMARY
 *   user sync EMAIL on|off                    a user's sync status
 *   user keywords EMAIL add|remove|list [WORD] a user's own keywords
 *   user exclude EMAIL add|remove|list [ITEM]  a user's own exclusions
 *   log [--user U] [--since S] [--until DATE] [--search TEXT]
 *                                              the sync log, oldest first
 *   purge [--dry-run]                          raw messages and bodies older
 *                                              than [sync] retention_days
 *   The SQL is in store_sync.c, the ranges of `log` in sync.c.
 */
#include <string.h>
#include "cli.h"
#include "store_sync.h"
#include "sync.h"

#define OPEN_STORE(st, rc, mode) \
	int rc = 0; \
	g_autoptr(lg_store) st = cli_open_store(cli, mode, &rc); \
	if (st == NULL) \
		return rc

/* `user keywords|exclude EMAIL add|remove|list [VALUE]` */
static int
user_list_cmd(lg_cli *cli, int argc, char **argv, gboolean keywords)
{
	const char *sub = argv[1];
	gboolean list = argc == 4 && strcmp(argv[3], "list") == 0;
	gboolean add = argc == 5 && strcmp(argv[3], "add") == 0;
	gboolean remove = argc == 5 && strcmp(argv[3], "remove") == 0;
	if (!list && !add && !remove)
		return cli_sub_usage(cli, sub);
	OPEN_STORE(st, rc, list ? CLI_STORE_READ : CLI_STORE_WRITE);
	g_autoptr(GError) err = NULL;
	if (list) {
		g_autoptr(lg_table) t = NULL;
		if (!(keywords ? lg_store_user_keyword_list(st, argv[2], &t, &err)
		               : lg_store_user_exclusion_list(st, argv[2], &t, &err)))
			return cli_error(err);
		cli_print_table(cli, t);
		return 0;
	}
	if (!(keywords ? lg_store_user_keyword_edit(st, argv[2], add, argv[4], &err)
	               : lg_store_user_exclusion_edit(st, argv[2], add, argv[4], &err)))
		return cli_error(err);
	g_autofree char *text = g_strdup_printf("%s %s: %s \"%s\"", argv[2], keywords ? "keyword" : "exclusion",
	                                        add ? "added" : "removed", argv[4]);
	cli_print_done(cli, text, "email", argv[2], keywords ? "keyword" : "exclusion", argv[4],
	               "added", add ? "1" : "0", NULL);
	return 0;
}

int
cmd_user_sync(lg_cli *cli, int argc, char **argv)
{
	int prc = 0;
	if (!cli_parse_options(cli, &argc, &argv, NULL, NULL, &prc))
		return prc;
	if (argc >= 2 && strcmp(argv[1], "keywords") == 0)
		return user_list_cmd(cli, argc, argv, TRUE);
	if (argc >= 2 && strcmp(argv[1], "exclude") == 0)
		return user_list_cmd(cli, argc, argv, FALSE);
	if (argc != 4 || (strcmp(argv[3], "on") != 0 && strcmp(argv[3], "off") != 0))
		return cli_sub_usage(cli, "sync");
	gboolean on = strcmp(argv[3], "on") == 0;
	OPEN_STORE(st, rc, CLI_STORE_WRITE);
	g_autoptr(GError) err = NULL;
	if (!lg_store_user_sync_set(st, argv[2], on, &err))
		return cli_error(err);
	g_autofree char *text = g_strdup_printf("user %s: sync %s", argv[2], on ? "on" : "off");
	cli_print_done(cli, text, "email", argv[2], "sync_enabled", on ? "1" : "0", NULL);
	return 0;
}

int
cmd_log(lg_cli *cli, int argc, char **argv)
{
	g_autofree char *user = NULL, *since = NULL, *until = NULL, *search = NULL;
	GOptionEntry entries[] = {
		{ "user", 0, 0, G_OPTION_ARG_STRING, &user, "only this user's entries", "U" },
		{ "since", 0, 0, G_OPTION_ARG_STRING, &since,
		  "today, yesterday, 7d (the default), 30d or a date YYYY-MM-DD at most 60 days back", "S" },
		{ "until", 0, 0, G_OPTION_ARG_STRING, &until, "up to and including this date (YYYY-MM-DD)", "DATE" },
		{ "search", 0, 0, G_OPTION_ARG_STRING, &search, "a lead id, a lead's name or email, or words of a subject", "TEXT" },
		{ NULL }
	};
	int prc = 0;
	if (!cli_parse_options(cli, &argc, &argv, entries, NULL, &prc))
		return prc;
	if (argc != 1)
		return cli_usage("log takes no arguments besides its options");
	g_autoptr(GError) err = NULL;
	g_autoptr(GDateTime) now = g_date_time_new_now_utc();
	g_autofree char *from = NULL, *to = NULL;
	if (!lg_sync_log_range(since, until, now, &from, &to, &err))
		return cli_error(err);
	OPEN_STORE(st, rc, CLI_STORE_READ);
	g_autoptr(lg_table) t = NULL;
	if (!lg_store_sync_log_list(st, from, to, user, search, &t, &err))
		return cli_error(err);
	cli_print_table(cli, t);
	return 0;
}

int
cmd_purge(lg_cli *cli, int argc, char **argv)
{
	gboolean dry_run = FALSE;
	GOptionEntry entries[] = {
		{ "dry-run", 'n', 0, G_OPTION_ARG_NONE, &dry_run, "only count what would be purged", NULL },
		{ NULL }
	};
	int prc = 0;
	if (!cli_parse_options(cli, &argc, &argv, entries, NULL, &prc))
		return prc;
	if (argc != 1)
		return cli_usage("purge takes no arguments besides --dry-run");
	g_autoptr(GDateTime) now = g_date_time_new_now_utc();
	g_autoptr(GDateTime) cut = g_date_time_add_days(now, -cli->cfg->retention_days);
	g_autofree char *before = g_date_time_format(cut, "%Y-%m-%dT%H:%M:%S.000Z");
	OPEN_STORE(st, rc, dry_run ? CLI_STORE_READ : CLI_STORE_WRITE);
	g_autoptr(GError) err = NULL;
	lg_purge_counts n;
	if (!lg_store_purge(st, before, dry_run, &n, &err))
		return cli_error(err);
	g_autofree char *text = g_strdup_printf("%s %" G_GINT64_FORMAT " raw messages, %" G_GINT64_FORMAT
	                                        " message bodies, %" G_GINT64_FORMAT " activity bodies from before %s",
	                                        dry_run ? "would purge" : "purged", n.raw, n.bodies, n.activities, before);
	if (n.kept > 0) {
		/* said on its own line, so that the first one keeps its form */
		g_autofree char *more = g_strdup_printf("\nkept %" G_GINT64_FORMAT " older raw messages: quarantined, "
		                                        "not yet replayed (leadgate replay --quarantine)", n.kept);
		g_autofree char *t = g_strconcat(text, more, NULL);
		g_free(text);
		text = g_steal_pointer(&t);
	}
	g_autofree char *r = g_strdup_printf("%" G_GINT64_FORMAT, n.raw);
	g_autofree char *k = g_strdup_printf("%" G_GINT64_FORMAT, n.kept);
	g_autofree char *b = g_strdup_printf("%" G_GINT64_FORMAT, n.bodies);
	g_autofree char *a = g_strdup_printf("%" G_GINT64_FORMAT, n.activities);
	cli_print_done(cli, text, "raw_messages", r, "message_bodies", b, "activity_bodies", a, "kept_quarantined", k,
	               "before", before, "dry_run", dry_run ? "1" : "0", NULL);
	return 0;
}
