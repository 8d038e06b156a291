/*
 * NAME
 *   cli.h - the `leadgate` command: shared state and helpers of its commands.
 *
 * SUMMARY
 *   main.c takes the global options (-c, -d, --json) from anywhere on the
 *   line, loads the config and hands the rest (argv[0] = the command word)
 *   to one cmd_* function, which returns the process exit status. Each
 *   command parses its own options with cli_parse_options(), which also
 *   answers --help and refuses an unknown subcommand. Errors go to stderr
 *   through cli_error(); exit statuses follow sysexits(3) (see LG_EX_*).
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

typedef struct lg_cli lg_cli;

/* One command of the table in main.c, for dispatch and for --help. */
typedef struct {
	const char *name;                 /* "lead" */
	int (*fn)(lg_cli *, int, char **);
	const char *summary;              /* one line, for `leadgate help` */
	const char *const *subs;          /* synopsis of each subcommand ("show ID"); NULL: none */
	const char *synopsis;             /* arguments when there are no subcommands */
} cli_command;

struct lg_cli {
	lg_config *cfg;          /* loaded config (defaults when no -c) */
	const char *db_path;     /* effective database path (-d or config) */
	gboolean json;           /* --json */
	const cli_command *cmd;  /* the command being run */
};

/* The global options, as `leadgate --help` and every command's help list them. */
extern const char cli_global_options_help[];

/* How a command opens the store. */
typedef enum {
	CLI_STORE_READ,     /* read-only: never creates or changes the file */
	CLI_STORE_WRITE,    /* read-write, schema brought up to date; the file must exist */
	CLI_STORE_CREATE    /* `leadgate init`: created when missing */
} cli_store_mode;

/* Opens the store; prints the error and returns NULL on failure, setting
 * *@exit_r to the exit status to use. A database that does not exist is an
 * error naming the path and `leadgate init` (exit 66), except with
 * CLI_STORE_CREATE. */
lg_store *cli_open_store(lg_cli *cli, cli_store_mode mode, int *exit_r);

/* (store_admin.c) Turns a store opened read-only into one that works on a
 * private in-memory copy of the database: `rules test` runs the chain and
 * rolls it back there, so the file is never written or write-locked. */
gboolean lg_store_private_copy(lg_store *st, GError **error);

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
/* Prints what a command did: @text and a newline, or with --json one
 * object of the key/value pairs that follow (strings, typed as by
 * cli_json_value; a NULL value is null), ended by a NULL key. */
void cli_print_done(lg_cli *cli, const char *text, ...) G_GNUC_NULL_TERMINATED;
/* Appends the value of @column as JSON: a number or a boolean for the
 * store's numeric and flag columns, else a string; NULL is null. */
void cli_json_value(GString *out, const char *column, const char *v);

/* Parses a command's own options (GOptionContext). @argv[0] is the command
 * word, or the subcommand word @sub when a subcommand parses its own
 * options (`rules test`). Returns FALSE with *@exit_r set when the command
 * is done: 0 after printing its --help, 64 after a usage error (a bad
 * option, no subcommand, an unknown subcommand: `unknown lead subcommand
 * "lsit"` and the list of valid ones). */
gboolean cli_parse_options(lg_cli *cli, int *argc, char ***argv, const GOptionEntry *entries,
                           const char *sub, int *exit_r);
/* Prints the help of @cmd (of its subcommand @sub only when given) to stdout. */
void cli_print_help(const cli_command *cmd, const char *sub, const GOptionEntry *entries);
/* Prints "usage: leadgate CMD SUB ..." for subcommand @sub of the running
 * command (every subcommand when @sub is unknown) and returns LG_EX_USAGE. */
int cli_sub_usage(lg_cli *cli, const char *sub);
/* A positive decimal id. */
gboolean cli_parse_id(const char *s, gint64 *id);

/* Appends one line (or a JSON array of objects) per recipient result, with
 * the chain's trace when @with_trace; returns how many recipients were
 * unknown. */
guint cli_format_results(lg_cli *cli, GString *out, GPtrArray *results, gboolean with_trace);
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
int cmd_user_sync(lg_cli *cli, int argc, char **argv); /* user sync|keywords|exclude (cmd_sync.c) */
int cmd_log(lg_cli *cli, int argc, char **argv);
int cmd_purge(lg_cli *cli, int argc, char **argv);
int cmd_user_notify(lg_cli *cli, int argc, char **argv);      /* user notify (cmd_outbox.c) */
int cmd_ticket_subscribe(lg_cli *cli, int argc, char **argv); /* ticket subscribe (cmd_outbox.c) */
int cmd_outbox(lg_cli *cli, int argc, char **argv);
int cmd_search(lg_cli *cli, int argc, char **argv);          /* search (cmd_mailer.c) */
int cmd_mailer(lg_cli *cli, int argc, char **argv);
int cmd_contact_set(lg_cli *cli, int argc, char **argv);     /* contact set (cmd_mailer.c) */
int cmd_org_set(lg_cli *cli, int argc, char **argv);         /* org set (cmd_mailer.c) */
int cmd_unsubscribe(lg_cli *cli, int argc, char **argv);

#endif
