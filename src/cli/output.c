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

lg_store *
cli_open_store(lg_cli *cli, guint flags, int *exit_r)
{
	g_autoptr(GError) err = NULL;
	lg_store *st = lg_store_open(cli->db_path, flags, cli->cfg->busy_timeout_ms, &err);
	if (st == NULL)
		*exit_r = cli_error(err);
	return st;
}

int
cli_error(const GError *error)
{
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

static void
json_row(GString *out, const lg_table *t, GPtrArray *row)
{
	g_string_append_c(out, '{');
	for (guint c = 0; c < t->columns->len; c++) {
		if (c)
			g_string_append(out, ", ");
		cli_json_string(out, t->columns->pdata[c]);
		g_string_append(out, ": ");
		cli_json_string(out, row->pdata[c]);
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
	if (t->rows->len == 0)
		return;
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
		if (v && strchr(v, '\n'))
			printf("%s:\n%s\n", (char *) t->columns->pdata[c], v);
		else {
			g_autofree char *label = g_strconcat(t->columns->pdata[c], ":", NULL);
			printf("%-*s  %s\n", (int) w + 1, label, v ? v : "-");
		}
	}
}

gboolean
cli_parse_options(int *argc, char ***argv, const GOptionEntry *entries, const char *params, int *exit_r)
{
	g_autoptr(GOptionContext) ctx = g_option_context_new(params);
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_autoptr(GError) err = NULL;
	if (!g_option_context_parse(ctx, argc, argv, &err)) {
		*exit_r = cli_usage("%s", err->message);
		return FALSE;
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
