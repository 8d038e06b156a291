/*
 * NAME
 *   rules.c - loading rule sets and evaluating them (the API of rules.h).
 *
 * SUMMARY
 *   lg_rules_load() reads one file, or the *.sieve files of a directory in
 *   byte order of their names (hidden files skipped), and compiles each
 *   with rules_parse_file(). Every file is compiled even after one failed,
 *   so that one run reports every error of the set; then a set with any
 *   diagnostic is refused whole. The PCRE2 match context that carries the
 *   match and depth limits is made here, once, and only read afterwards.
 *
 *   lg_rules_eval() fills a result (see rules_eval.c for the semantics).
 *
 * DIAGNOSTICS
 *   LG_RULES_ERROR_SYNTAX: the message holds every diagnostic, one per line,
 *   "file:line:column: error: message", file being the path as given (or
 *   the directory joined with the file name).
 *   LG_RULES_ERROR_IO: a file or the directory could not be read.
 */
#include <errno.h>
#include <string.h>

#include "lg.h"
#include "rules_int.h"

#define RULES_FILE_MAX (4 * 1024 * 1024)   /* longest rule file read */
#define RULES_DEFAULT_MATCH_LIMIT 100000
#define RULES_DEFAULT_DEPTH_LIMIT 10000

void
lg_rules_free(lg_rules *rules)
{
	if (rules == NULL)
		return;
	if (rules->files)
		g_ptr_array_unref(rules->files);
	if (rules->mctx)
		pcre2_match_context_free(rules->mctx);
	g_free(rules);
}

guint
lg_rules_count(const lg_rules *rules)
{
	return rules ? rules->files->len : 0;
}

guint
lg_rules_rule_count(const lg_rules *rules)
{
	guint n = 0;
	for (guint f = 0; rules && f < rules->files->len; f++) {
		const rules_file *file = g_ptr_array_index(rules->files, f);
		for (guint c = 0; c < file->cmds->len; c++) {
			const rules_cmd *cmd = g_ptr_array_index(file->cmds, c);
			n += cmd->kind == C_IF ? cmd->branches->len : 1;
		}
	}
	return n;
}

static gint
compare_names(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files to read: @path itself, or its *.sieve entries in name order. */
static GPtrArray *
rules_list_files(const char *path, GError **error)
{
	g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) names = NULL;
	g_autoptr(GDir) dir = NULL;
	GError *local = NULL;
	const char *n;

	if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
		if (g_str_has_suffix(path, ".sieve")) {
			g_set_error(error, LG_RULES_ERROR, LG_RULES_ERROR_IO,
			            "%s: %s", path, g_strerror(ENOENT));
			return NULL;
		}
		return g_steal_pointer(&files);   /* a missing directory: no rules */
	}
	if (!g_file_test(path, G_FILE_TEST_IS_DIR)) {
		g_ptr_array_add(files, g_strdup(path));
		return g_steal_pointer(&files);
	}
	dir = g_dir_open(path, 0, &local);
	if (dir == NULL) {
		g_set_error(error, LG_RULES_ERROR, LG_RULES_ERROR_IO, "%s: %s", path, local->message);
		g_error_free(local);
		return NULL;
	}
	names = g_ptr_array_new_with_free_func(g_free);
	while ((n = g_dir_read_name(dir)) != NULL) {
		g_autofree char *full = NULL;

		if (n[0] == '.' || !g_str_has_suffix(n, ".sieve"))
			continue;
		full = g_build_filename(path, n, NULL);
		if (!g_file_test(full, G_FILE_TEST_IS_REGULAR))
			continue;
		g_ptr_array_add(names, g_strdup(n));
	}
	g_ptr_array_sort(names, compare_names);
	for (guint i = 0; i < names->len; i++)
		g_ptr_array_add(files, g_build_filename(path, (char *)g_ptr_array_index(names, i), NULL));
	return g_steal_pointer(&files);
}

lg_rules *
lg_rules_load(const char *path, const lg_rules_options *opts, GError **error)
{
	g_autoptr(lg_rules) rules = g_new0(lg_rules, 1);
	g_autoptr(GPtrArray) paths = NULL;
	g_autoptr(GPtrArray) diag_lines = g_ptr_array_new_with_free_func(g_free);

	g_return_val_if_fail(path != NULL, NULL);
	rules->files = g_ptr_array_new_with_free_func((GDestroyNotify)rules_file_free);
	rules->match_limit = opts && opts->match_limit ? opts->match_limit : RULES_DEFAULT_MATCH_LIMIT;
	rules->depth_limit = opts && opts->depth_limit ? opts->depth_limit : RULES_DEFAULT_DEPTH_LIMIT;
	rules->log_limits = opts != NULL && opts->log_limits;
	rules->mctx = pcre2_match_context_create(NULL);
	pcre2_set_match_limit(rules->mctx, rules->match_limit);
	pcre2_set_depth_limit(rules->mctx, rules->depth_limit);

	paths = rules_list_files(path, error);
	if (paths == NULL)
		return NULL;
	for (guint i = 0; i < paths->len; i++) {
		const char *p = g_ptr_array_index(paths, i);
		g_autofree char *src = NULL;
		gsize len = 0;
		GError *local = NULL;
		rules_diag diag = { p, diag_lines, diag_lines->len };
		rules_file *f;

		if (!g_file_get_contents(p, &src, &len, &local)) {
			g_set_error(error, LG_RULES_ERROR, LG_RULES_ERROR_IO, "%s", local->message);
			g_error_free(local);
			return NULL;
		}
		if (len > RULES_FILE_MAX) {
			rules_diag_add(&diag, 1, 1, "file too large (%zu bytes; at most %d)",
			               (size_t)len, RULES_FILE_MAX);
			continue;
		}
		f = rules_parse_file(p, src, len, &diag);
		if (f != NULL)
			g_ptr_array_add(rules->files, f);
	}
	if (diag_lines->len > 0) {
		g_autoptr(GString) msg = g_string_new(NULL);

		for (guint i = 0; i < diag_lines->len; i++) {
			if (i > 0)
				g_string_append_c(msg, '\n');
			g_string_append(msg, g_ptr_array_index(diag_lines, i));
		}
		g_set_error_literal(error, LG_RULES_ERROR, LG_RULES_ERROR_SYNTAX, msg->str);
		return NULL;
	}
	return g_steal_pointer(&rules);
}

void
lg_rule_result_clear(lg_rule_result *res)
{
	if (res == NULL)
		return;
	g_free(res->where);
	g_free(res->organization);
	g_free(res->priority);
	g_free(res->type);
	g_free(res->assign);
	g_free(res->status);
	g_free(res->lead_source);
	g_free(res->lead_assign);
	g_free(res->lead_stage);
	g_free(res->lead_where);
	if (res->trace)
		g_ptr_array_unref(res->trace);
	memset(res, 0, sizeof *res);
}

void
lg_rules_eval(const lg_rules *rules, const lg_message *msg, const lg_envelope *env,
              const char *rcpt, lg_rule_result *out)
{
	lg_rules_eval_auth(rules, msg, env, NULL, rcpt, out);
}

void
lg_rules_eval_auth(const lg_rules *rules, const lg_message *msg, const lg_envelope *env,
                   const lg_rule_auth *auth, const char *rcpt, lg_rule_result *out)
{
	/* @out is overwritten: callers clear a result before reusing it */
	memset(out, 0, sizeof *out);
	out->trace = g_ptr_array_new_with_free_func(g_free);
	if (rules == NULL || msg == NULL)
		return;
	rules_eval_set(rules, msg, env, auth, rcpt, out);
}
