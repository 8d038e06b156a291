/*
 * NAME
 *   output.c - how the `leadgate` command prints: aligned text or JSON,
 *   errors on stderr with sysexits(3) statuses.
 */
#include "config.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"

const char cli_global_options_help[] =
	"  -c, --config=FILE     the configuration file (leadgate.conf(5))\n"
	"  -d, --database=FILE   the database (default: the config's, or ./leadgate.db)\n"
	"  --json                print JSON for scripts\n";

/* the database path of the open store: its errors end in " (PATH)" when
 * they carry SQLite's own words (see cli_error) */
static char *store_path;

lg_store *
cli_open_store(lg_cli *cli, cli_store_mode mode, int *exit_r)
{
	g_autoptr(GError) err = NULL;
	if (mode != CLI_STORE_CREATE && !g_file_test(cli->db_path, G_FILE_TEST_EXISTS)) {
		/* read-only commands must not create it, and the others would
		 * create an empty database where the user meant another one */
		fprintf(stderr, "leadgate: %s: no such database; create it with `leadgate init`, "
		        "or name another with -d FILE or -c CONFIG\n", cli->db_path);
		/* ingest is a pipe(8) transport: Postfix keeps the mail and tries again */
		*exit_r = strcmp(cli->cmd->name, "ingest") == 0 ? LG_EX_TEMPFAIL : LG_EX_NOINPUT;
		return NULL;
	}
	g_free(store_path);
	store_path = g_strdup(cli->db_path);
	guint flags = mode == CLI_STORE_READ ? LG_STORE_READONLY : LG_STORE_MIGRATE;
	lg_store *st = lg_store_open(cli->db_path, flags, cli->cfg->busy_timeout_ms, &err);
	if (st == NULL)
		*exit_r = cli_error(err);
	return st;
}

/* The sentence that tells a user what a store error means, put before
 * SQLite's own words (which name a constraint or a file, not the cause). */
static const char *
store_error_sentence(int code)
{
	switch (code) {
	case LG_STORE_ERROR_BUSY: return "the database is locked by another program; nothing was changed, try again";
	case LG_STORE_ERROR_FULL: return "the disk (or quota) is full; nothing was changed";
	case LG_STORE_ERROR_IO: return "the database cannot be read or written";
	case LG_STORE_ERROR_READONLY: return "the database cannot be written (check the permissions of the file and its directory)";
	case LG_STORE_ERROR_CORRUPT: return "the file is not a leadgate database, or it is damaged";
	case LG_STORE_ERROR_EXISTS: return "that would make a second record of something that must be unique; nothing was changed";
	case LG_STORE_ERROR_INVALID: return "the database refused a value; nothing was changed";
	default: return "the database failed; nothing was changed";
	}
}

int
cli_error(const GError *error)
{
	g_autofree char *tail = store_path ? g_strconcat(" (", store_path, ")", NULL) : NULL;
	if (error->domain == LG_STORE_ERROR && tail && g_str_has_suffix(error->message, tail))
		fprintf(stderr, "leadgate: %s: %s\n", store_error_sentence(error->code), error->message);
	else
		fprintf(stderr, "leadgate: %s\n", error->message);
	if (error->domain == LG_USAGE_ERROR) {
		switch (error->code) {
		case LG_USAGE_ERROR_NOINPUT: return LG_EX_NOINPUT;
		case LG_USAGE_ERROR_NOUSER: return LG_EX_NOUSER;
		default: return LG_EX_USAGE;
		}
	}
	if (error->domain == LG_CONFIG_ERROR)
		return LG_EX_CONFIG;
	if (error->domain == LG_RULES_ERROR)
		return LG_EX_CONFIG;
	if (error->domain == LG_MESSAGE_ERROR)
		return error->code == LG_MESSAGE_ERROR_IO ? LG_EX_TEMPFAIL : LG_EX_DATAERR;
	if (lg_error_is_temporary(error))
		return LG_EX_TEMPFAIL;
	return LG_EX_FAIL;
}

int
cli_usage(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *m = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	fprintf(stderr, "leadgate: %s\n", m);
	return LG_EX_USAGE;
}

void
cli_json_string(GString *out, const char *s)
{
	if (s == NULL) {
		g_string_append(out, "null");
		return;
	}
	g_string_append_c(out, '"');
	for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
		switch (*p) {
		case '"': g_string_append(out, "\\\""); break;
		case '\\': g_string_append(out, "\\\\"); break;
		case '\n': g_string_append(out, "\\n"); break;
		case '\r': g_string_append(out, "\\r"); break;
		case '\t': g_string_append(out, "\\t"); break;
		default:
			if (*p < 0x20)
				g_string_append_printf(out, "\\u%04x", *p);
			else
				g_string_append_c(out, (char) *p);
		}
	}
	g_string_append_c(out, '"');
}

/* The JSON type of a column. lg_table holds text, as the aligned output
 * needs; the numbers and flags of the store's tables and views (SPEC §8)
 * are named here, by column name, so that --json gives 12 for a lead id
 * and true for a hidden flag, while a subject that happens to read "12"
 * stays a string. */
static const char *const number_columns[] = {
	"id", "number", "ticket_number", "lead_id", "replies_to_lead", "likelihood",
	"expected_value", "comments", "size", "attempts", "schema_version", NULL
};
static const char *const boolean_columns[] = {
	"hidden", "suspected_spoof", "automatic", "sync_enabled", "receive_marketing", "public", "ok", "listed", "removed", "changed", NULL
};

/* a JSON number as SQLite prints INTEGER and REAL values: -?D+(.D+)?(e[+-]D+)? */
static gboolean
is_json_number(const char *v)
{
	const char *p = v;
	if (*p == '-')
		p++;
	if (!g_ascii_isdigit(*p) || (p[0] == '0' && g_ascii_isdigit(p[1])))
		return FALSE;
	while (g_ascii_isdigit(*p))
		p++;
	if (*p == '.') {
		if (!g_ascii_isdigit(*++p))
			return FALSE;
		while (g_ascii_isdigit(*p))
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!g_ascii_isdigit(*p))
			return FALSE;
		while (g_ascii_isdigit(*p))
			p++;
	}
	return *p == '\0';
}

void
cli_json_value(GString *out, const char *column, const char *v)
{
	if (v != NULL && g_strv_contains(number_columns, column) && is_json_number(v))
		g_string_append(out, v);
	else if (v != NULL && g_strv_contains(boolean_columns, column) && (strcmp(v, "0") == 0 || strcmp(v, "1") == 0))
		g_string_append(out, *v == '1' ? "true" : "false");
	else
		cli_json_string(out, v);
}

/* a column whose name came earlier in the row (a query that adds a
 * table's column beside a view's that now has it too): shown once */
static gboolean
repeated_column(const lg_table *t, guint c)
{
	for (guint k = 0; k < c; k++)
		if (strcmp(t->columns->pdata[k], t->columns->pdata[c]) == 0)
			return TRUE;
	return FALSE;
}

void
cli_print_done(lg_cli *cli, const char *text, ...)
{
	if (!cli->json) {
		printf("%s\n", text);
		return;
	}
	g_autoptr(GString) out = g_string_new("{");
	va_list ap;
	va_start(ap, text);
	const char *key;
	while ((key = va_arg(ap, const char *)) != NULL) {
		const char *value = va_arg(ap, const char *);
		g_string_append(out, out->len > 1 ? ", " : "");
		cli_json_string(out, key);
		g_string_append(out, ": ");
		cli_json_value(out, key, value);
	}
	va_end(ap);
	g_string_append(out, "}\n");
	fputs(out->str, stdout);
}

static void
json_row(GString *out, const lg_table *t, GPtrArray *row)
{
	g_string_append_c(out, '{');
	for (guint c = 0; c < t->columns->len; c++) {
		if (repeated_column(t, c))
			continue;
		if (c)
			g_string_append(out, ", ");
		cli_json_string(out, t->columns->pdata[c]);
		g_string_append(out, ": ");
		cli_json_value(out, t->columns->pdata[c], row->pdata[c]);
	}
	g_string_append_c(out, '}');
}

/* one line of a cell: newlines and tabs shown as spaces, long text cut */
static char *
cell(const char *v, gsize max)
{
	if (v == NULL)
		return g_strdup("-");
	g_autofree char *s = g_strdup(v);
	for (char *p = s; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	if (g_utf8_strlen(s, -1) > (glong) max) {
		g_autofree char *cut = g_utf8_substring(s, 0, (glong) max - 1);
		return g_strconcat(cut, "…", NULL);
	}
	return g_steal_pointer(&s);
}

void
cli_print_table(lg_cli *cli, const lg_table *t)
{
	if (cli->json) {
		g_autoptr(GString) out = g_string_new("[");
		for (guint r = 0; r < t->rows->len; r++) {
			g_string_append(out, r ? ",\n " : "");
			json_row(out, t, t->rows->pdata[r]);
		}
		g_string_append(out, "]\n");
		fputs(out->str, stdout);
		return;
	}
	guint nc = t->columns->len;
	g_autofree glong *w = g_new0(glong, nc);
	g_autoptr(GPtrArray) cells = g_ptr_array_new_with_free_func(g_free);
	for (guint c = 0; c < nc; c++)
		w[c] = g_utf8_strlen(t->columns->pdata[c], -1);
	for (guint r = 0; r < t->rows->len; r++) {
		GPtrArray *row = t->rows->pdata[r];
		for (guint c = 0; c < nc; c++) {
			char *s = cell(row->pdata[c], 60);
			w[c] = MAX(w[c], g_utf8_strlen(s, -1));
			g_ptr_array_add(cells, s);
		}
	}
	g_autoptr(GString) out = g_string_new(NULL);
	for (guint c = 0; c < nc; c++) {
		const char *h = t->columns->pdata[c];
		g_string_append_printf(out, "%s%s%*s", c ? "  " : "", h, c + 1 < nc ? (int) (w[c] - g_utf8_strlen(h, -1)) : 0, "");
	}
	g_string_append_c(out, '\n');
	for (guint r = 0; r < t->rows->len; r++) {
		for (guint c = 0; c < nc; c++) {
			const char *s = cells->pdata[r * nc + c];
			g_string_append_printf(out, "%s%s%*s", c ? "  " : "", s, c + 1 < nc ? (int) (w[c] - g_utf8_strlen(s, -1)) : 0, "");
		}
		g_string_append_c(out, '\n');
	}
	fputs(out->str, stdout);
}

void
cli_print_record(lg_cli *cli, const lg_table *t)
{
	if (t->rows->len == 0) {
		if (cli->json)
			fputs("null\n", stdout);
		return;
	}
	GPtrArray *row = t->rows->pdata[0];
	if (cli->json) {
		g_autoptr(GString) out = g_string_new(NULL);
		json_row(out, t, row);
		g_string_append_c(out, '\n');
		fputs(out->str, stdout);
		return;
	}
	gsize w = 0;
	for (guint c = 0; c < t->columns->len; c++)
		w = MAX(w, strlen(t->columns->pdata[c]));
	for (guint c = 0; c < t->columns->len; c++) {
		const char *v = row->pdata[c];
		if (repeated_column(t, c))
			continue;
		if (v && strchr(v, '\n'))
			printf("%s:\n%s\n", (char *) t->columns->pdata[c], v);
		else {
			g_autofree char *label = g_strconcat(t->columns->pdata[c], ":", NULL);
			printf("%-*s  %s\n", (int) w + 1, label, v ? v : "-");
		}
	}
}

/* "  -r, --rcpt=ADDR      envelope recipient" for each option */
static void
append_options(GString *out, const GOptionEntry *entries)
{
	for (const GOptionEntry *e = entries; e && e->long_name; e++) {
		g_autoptr(GString) o = g_string_new("  ");
		if (e->short_name)
			g_string_append_printf(o, "-%c, ", e->short_name);
		g_string_append_printf(o, "--%s", e->long_name);
		if (e->arg_description)
			g_string_append_printf(o, "=%s", e->arg_description);
		g_string_append_printf(out, "%-24s%s%s\n", o->str, o->len >= 24 ? "\n                        " : "",
		                       e->description ? e->description : "");
	}
}

/* the first word of a subcommand's synopsis: "show" of "show ID" */
static gboolean
sub_is(const char *synopsis, const char *word)
{
	gsize n = strlen(word);
	return strncmp(synopsis, word, n) == 0 && (synopsis[n] == ' ' || synopsis[n] == '\0');
}

static gboolean
sub_known(const cli_command *cmd, const char *word)
{
	for (const char *const *s = cmd->subs; s && *s; s++)
		if (sub_is(*s, word))
			return TRUE;
	return FALSE;
}

static void
append_subs(GString *out, const cli_command *cmd, const char *sub, const char *prefix)
{
	for (const char *const *s = cmd->subs; s && *s; s++)
		if (sub == NULL || sub_is(*s, sub))
			g_string_append_printf(out, "%sleadgate %s %s\n", prefix, cmd->name, *s);
}

void
cli_print_help(const cli_command *cmd, const char *sub, const GOptionEntry *entries)
{
	g_autoptr(GString) out = g_string_new(NULL);
	if (cmd->subs == NULL)
		g_string_append_printf(out, "usage: leadgate %s%s%s\n", cmd->name, *cmd->synopsis ? " " : "", cmd->synopsis);
	else if (sub != NULL)
		append_subs(out, cmd, sub, "usage: ");
	else
		g_string_append_printf(out, "usage: leadgate %s SUBCOMMAND [ARGS...]\n", cmd->name);
	g_string_append_printf(out, "\n%s\n", cmd->summary);
	if (cmd->subs && sub == NULL) {
		g_string_append(out, "\nsubcommands:\n");
		append_subs(out, cmd, NULL, "  ");
	}
	if (entries && entries->long_name) {
		g_string_append(out, "\noptions:\n");
		append_options(out, entries);
	}
	g_string_append_printf(out, "\nglobal options (anywhere on the line):\n%s\nSee leadgate(1).\n",
	                       cli_global_options_help);
	fputs(out->str, stdout);
}

int
cli_sub_usage(lg_cli *cli, const char *sub)
{
	g_autoptr(GString) out = g_string_new(NULL);
	append_subs(out, cli->cmd, sub && sub_known(cli->cmd, sub) ? sub : NULL, "usage: ");
	fprintf(stderr, "%s", out->str);
	return LG_EX_USAGE;
}

gboolean
cli_parse_options(lg_cli *cli, int *argc, char ***argv, const GOptionEntry *entries, const char *sub, int *exit_r)
{
	/* --help is answered before anything else is looked at */
	for (int i = 1; i < *argc && strcmp((*argv)[i], "--") != 0; i++)
		if (strcmp((*argv)[i], "--help") == 0 || strcmp((*argv)[i], "-h") == 0 || strcmp((*argv)[i], "-?") == 0) {
			const char *word = sub ? sub : (cli->cmd->subs && i > 1 && sub_known(cli->cmd, (*argv)[1]) ? (*argv)[1] : NULL);
			cli_print_help(cli->cmd, word, entries);
			*exit_r = LG_EX_OK;
			return FALSE;
		}
	g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
	g_option_context_set_help_enabled(ctx, FALSE);
	if (entries)
		g_option_context_add_main_entries(ctx, entries, NULL);
	g_autoptr(GError) err = NULL;
	if (!g_option_context_parse(ctx, argc, argv, &err)) {
		*exit_r = cli_usage("%s (see leadgate %s%s%s --help)", err->message, cli->cmd->name,
		                    sub ? " " : "", sub ? sub : "");
		return FALSE;
	}
	/* GLib keeps the "--" when an argument after it starts with '-'; the
	 * command's arguments are what follows it */
	for (int i = 1; i < *argc; i++)
		if (strcmp((*argv)[i], "--") == 0) {
			memmove(*argv + i, *argv + i + 1, sizeof(char *) * (gsize) (*argc - i));
			--*argc;
			break;
		}
	if (sub == NULL && cli->cmd->subs != NULL) {
		g_autoptr(GString) out = g_string_new(NULL);
		if (*argc < 2)
			g_string_append_printf(out, "leadgate: %s needs a subcommand:\n", cli->cmd->name);
		else if (!sub_known(cli->cmd, (*argv)[1]))
			g_string_append_printf(out, "leadgate: unknown %s subcommand \"%s\"; the %s subcommands are:\n",
			                       cli->cmd->name, (*argv)[1], cli->cmd->name);
		if (out->len) {
			append_subs(out, cli->cmd, NULL, "  ");
			fputs(out->str, stderr);
			*exit_r = LG_EX_USAGE;
			return FALSE;
		}
	}
	return TRUE;
}

gboolean
cli_parse_id(const char *s, gint64 *id)
{
	char *end = NULL;
	gint64 v = s ? g_ascii_strtoll(s, &end, 10) : 0;
	if (s == NULL || end == s || *end != '\0' || v <= 0)
		return FALSE;
	*id = v;
	return TRUE;
}
