/*
 * NAME
 *   cli.h - the `leadgate` command: shared state and helpers of its commands.
 *
 * SUMMARY
 *   main.c parses the global options (-c, -d, --json), loads the config and
 *   hands argc/argv (argv[0] = the command word) to one cmd_* function, which
 *   returns the process exit status. Errors go to stderr through cli_error();
 *   exit statuses follow sysexits(3) (see LG_EX_*).
 */
#ifndef LG_CLI_H
#define LG_CLI_H

#include <glib.h>
#include "lg.h"
#include "config.h"
#include "store.h"
#include "deliver.h"

enum {
	LG_EX_OK = 0,
	LG_EX_FAIL = 1,        /* the command could not do what was asked */
	LG_EX_USAGE = 64,
	LG_EX_DATAERR = 65,
	LG_EX_NOINPUT = 66,
	LG_EX_NOUSER = 67,
	LG_EX_SOFTWARE = 70,
	LG_EX_CANTCREAT = 73,
	LG_EX_TEMPFAIL = 75,
	LG_EX_CONFIG = 78
};

typedef struct {
	lg_config *cfg;          /* loaded config (defaults when no -c) */
	const char *db_path;     /* effective database path (-d or config) */
	gboolean json;           /* --json */
} lg_cli;

/* Opens the store; prints the error and returns NULL on failure, setting
 * *@exit_r to the exit status to use. */
lg_store *cli_open_store(lg_cli *cli, guint flags, int *exit_r);

/* Prints "leadgate: MESSAGE" to stderr and returns the exit status that
 * fits @error (75 for temporary store errors, 64 usage, 66 no input, ...). */
int cli_error(const GError *error);
/* Prints "leadgate: FORMAT" to stderr; returns LG_EX_USAGE. */
int cli_usage(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* Prints a table: aligned columns, or a JSON array of objects with --json. */
void cli_print_table(lg_cli *cli, const lg_table *t);
/* Prints one record vertically ("field: value"), or a JSON object. */
void cli_print_record(lg_cli *cli, const lg_table *t);
/* Appends @s to @out as a JSON string literal (with quotes). */
void cli_json_string(GString *out, const char *s);

/* Parses a command's own options (GOptionContext); on error prints it and
 * sets *@exit_r. @argv[0] is the command word. */
gboolean cli_parse_options(int *argc, char ***argv, const GOptionEntry *entries, const char *params, int *exit_r);
/* A positive decimal id. */
gboolean cli_parse_id(const char *s, gint64 *id);

/* Prints one line (or JSON object) per recipient result, with the chain's
 * trace when @with_trace; returns how many recipients were unknown. */
guint cli_print_results(lg_cli *cli, GPtrArray *results, gboolean with_trace);
/* The envelope for a message given on the command line: @sender or the
 * Return-Path/From; @rcpts, or the To/Cc addresses that are mailboxes, or
 * else the first To address. NULL with a usage error when there is none. */
lg_envelope *cli_envelope_for(lg_store *st, const lg_message *msg, const char *sender,
                              char **rcpts, GError **error);

/* Command groups; each returns an exit status. argv[0] is the command word. */
int cmd_init(lg_cli *cli, int argc, char **argv);
int cmd_ingest(lg_cli *cli, int argc, char **argv);
int cmd_org(lg_cli *cli, int argc, char **argv);
int cmd_contact(lg_cli *cli, int argc, char **argv);
int cmd_mailbox(lg_cli *cli, int argc, char **argv);
int cmd_spam(lg_cli *cli, int argc, char **argv);
int cmd_lead(lg_cli *cli, int argc, char **argv);
int cmd_ticket(lg_cli *cli, int argc, char **argv);
int cmd_replay(lg_cli *cli, int argc, char **argv);
int cmd_rules(lg_cli *cli, int argc, char **argv);   /* rules check | rules test */
int cmd_config(lg_cli *cli, int argc, char **argv);  /* config check | config defaults */
int cmd_user(lg_cli *cli, int argc, char **argv);

#endif
