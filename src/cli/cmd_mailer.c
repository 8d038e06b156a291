/*
 * NAME
 *   cmd_mailer.c - the mailer's commands (SPEC §7, §11): `leadgate search`,
 *   `leadgate mailer`, `leadgate contact set`, `leadgate org set`.
 *
 * SUMMARY
 *   search save NAME [--name-like P] [--domain D] [--has-open-tickets] [--created-since DATE]
 *   search list | search show NAME
 *   mailer create NAME --template FILE [--html FILE]
 *                 (--all | --search NAME | --trigger EVENT --delay DURATION)
 *   mailer list | preview NAME [--to EMAIL] | send NAME [--dry-run]
 *   mailer run [--max N] | pause NAME | resume NAME
 *   contact set EMAIL marketing on|off | org set NAME marketing on|off
 *
 *   The SQL is in store_mailer.c, templates and sending in mailer.c.
 *   (`--blast [--search NAME]` and `--after EVENT` are accepted as the
 *   spellings of SPEC §7.)
 */
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "address.h"
#include "mailer.h"
#include "store_mailer.h"

#define OPEN_STORE(st, rc, mode) \
	int rc = 0; \
	g_autoptr(lg_store) st = cli_open_store(cli, mode, &rc); \
	if (st == NULL) \
		return rc

/* ---- contact set / org set --------------------------------------------------- */

static int
marketing_set(lg_cli *cli, int argc, char **argv, gboolean org)
{
	int prc = 0;
	if (!cli_parse_options(cli, &argc, &argv, NULL, "set", &prc))
		return prc;
	if (argc != 5)
		return cli_sub_usage(cli, "set");
	if (strcmp(argv[3], "marketing") != 0)
		return cli_usage("%s set: the only setting is \"marketing\", not \"%s\"", org ? "org" : "contact", argv[3]);
	gboolean on = strcmp(argv[4], "on") == 0;
	if (!on && strcmp(argv[4], "off") != 0)
		return cli_usage("marketing is on or off, not \"%s\"", argv[4]);
	OPEN_STORE(st, rc, CLI_STORE_WRITE);
	g_autoptr(GError) err = NULL;
	if (!(org ? lg_store_org_marketing(st, argv[2], on, &err) : lg_store_contact_marketing(st, argv[2], on, &err)))
		return cli_error(err);
	g_autofree char *text = g_strdup_printf("%s %s: marketing %s", org ? "organization" : "end user", argv[2],
	                                        on ? "on" : "off");
	cli_print_done(cli, text, org ? "name" : "email", argv[2], "receive_marketing", on ? "1" : "0", NULL);
	return 0;
}

int
cmd_contact_set(lg_cli *cli, int argc, char **argv)
{
	return marketing_set(cli, argc, argv, FALSE);
}

int
cmd_org_set(lg_cli *cli, int argc, char **argv)
{
	return marketing_set(cli, argc, argv, TRUE);
}

/* ---- search ------------------------------------------------------------------ */

/* YYYY-MM-DD, or an ISO 8601 time (kept as given, in UTC) */
static char *
parse_since(const char *s)
{
	if (strlen(s) == 10) {
		g_autofree char *t = g_strconcat(s, "T00:00:00Z", NULL);
		g_autoptr(GDateTime) d = g_date_time_new_from_iso8601(t, NULL);
		return d ? g_strdup(s) : NULL;
	}
	g_autoptr(GTimeZone) utc = g_time_zone_new_utc();
	g_autoptr(GDateTime) d = g_date_time_new_from_iso8601(s, utc);
	if (d == NULL)
		return NULL;
	g_autoptr(GDateTime) u = g_date_time_to_utc(d);
	return g_date_time_format(u, "%Y-%m-%dT%H:%M:%SZ");
}

int
cmd_search(lg_cli *cli, int argc, char **argv)
{
	g_autofree char *name_like = NULL, *domain = NULL, *since = NULL;
	gboolean open_tickets = FALSE;
	GOptionEntry entries[] = {
		{ "name-like", 0, 0, G_OPTION_ARG_STRING, &name_like, "save: organization names LIKE P (% and _)", "P" },
		{ "domain", 0, 0, G_OPTION_ARG_STRING, &domain, "save: organizations with domain D", "D" },
		{ "has-open-tickets", 0, 0, G_OPTION_ARG_NONE, &open_tickets, "save: organizations with a ticket not resolved or closed", NULL },
		{ "created-since", 0, 0, G_OPTION_ARG_STRING, &since, "save: organizations created on or after DATE (YYYY-MM-DD)", "DATE" },
		{ NULL }
	};
	int prc = 0;
	if (!cli_parse_options(cli, &argc, &argv, entries, NULL, &prc))
		return prc;
	gboolean save = argc == 3 && strcmp(argv[1], "save") == 0;
	gboolean list = argc == 2 && strcmp(argv[1], "list") == 0;
	gboolean show = argc == 3 && strcmp(argv[1], "show") == 0;
	if (!save && !list && !show)
		return cli_sub_usage(cli, argv[1]);
	if (!save && (name_like || domain || open_tickets || since))
		return cli_usage("search %s takes no criteria; they go with search save", argv[1]);
	g_autoptr(GError) err = NULL;
	if (list || show) {
		OPEN_STORE(st, rc, CLI_STORE_READ);
		g_autoptr(lg_table) t = NULL, orgs = NULL;
		if (list ? !lg_store_search_list(st, &t, &err) : !lg_store_search_show(st, argv[2], &t, &orgs, &err))
			return cli_error(err);
		if (list) {
			cli_print_table(cli, t);
		} else if (cli->json) {
			cli_print_table(cli, orgs);
		} else {
			cli_print_record(cli, t);
			printf("\n");
			cli_print_table(cli, orgs);
		}
		return 0;
	}
	if (*g_strstrip(argv[2]) == '\0' || strlen(argv[2]) > 200)
		return cli_usage("a saved search needs a name of 1 to 200 characters");
	g_autofree char *canon_domain = NULL;
	if (domain) {
		g_autofree char *probe = g_strconcat("x@", domain, NULL);
		g_autofree char *canon = lg_addr_normalize(probe);
		if (canon == NULL)
			return cli_usage("--domain \"%s\" is not a domain", domain);
		canon_domain = g_strdup(lg_addr_domain(canon));
	}
	g_autofree char *since_c = since ? parse_since(since) : NULL;
	if (since && since_c == NULL)
		return cli_usage("--created-since \"%s\" is not a date (YYYY-MM-DD)", since);
	if (name_like && *name_like == '\0')
		return cli_usage("--name-like needs a pattern");
	OPEN_STORE(st, rc, CLI_STORE_WRITE);
	lg_search_criteria c = { name_like, canon_domain, open_tickets, since_c };
	gboolean replaced = FALSE;
	if (!lg_store_search_save(st, argv[2], &c, &replaced, &err))
		return cli_error(err);
	g_autofree char *text = g_strdup_printf("search \"%s\" %s", argv[2], replaced ? "replaced" : "saved");
	cli_print_done(cli, text, "name", argv[2], "replaced", replaced ? "1" : "0", NULL);
	return 0;
}

/* ---- mailer ------------------------------------------------------------------ */

static int
read_file(const char *opt, const char *path, char **text_r)
{
	g_autoptr(GError) err = NULL;
	gsize len = 0;
	if (!g_file_get_contents(path, text_r, &len, &err)) {
		fprintf(stderr, "leadgate: %s %s: %s\n", opt, path,
		        err->code == G_FILE_ERROR_NOENT ? "no such file" :
		        err->code == G_FILE_ERROR_ACCES ? "permission denied" : err->message);
		return LG_EX_NOINPUT;
	}
	if (memchr(*text_r, '\0', len) != NULL || !g_utf8_validate(*text_r, (gssize) len, NULL)) {
		fprintf(stderr, "leadgate: %s %s: not UTF-8 text\n", opt, path);
		return LG_EX_DATAERR;
	}
	return 0;
}

static int
mailer_create(lg_cli *cli, const char *name, const char *tmpl, const char *html, gboolean all, const char *search,
              const char *trigger, const char *delay)
{
	if (*name == '\0' || strlen(name) > 200)
		return cli_usage("a campaign needs a name of 1 to 200 characters");
	if (tmpl == NULL)
		return cli_usage("mailer create needs --template FILE");
	int kinds = (all || search) + (trigger != NULL);
	if (kinds != 1)
		return cli_usage("give the audience: --all, --search NAME, or --trigger EVENT --delay DURATION");
	if (all && search)
		return cli_usage("--all and --search NAME exclude each other");
	gint64 secs = 0;
	if (trigger) {
		if (!g_strv_contains(lg_mailer_events, trigger)) {
			g_autofree char *ev = g_strjoinv(", ", (char **) lg_mailer_events);
			return cli_usage("unknown event \"%s\"; a campaign can follow %s", trigger, ev);
		}
		if (delay == NULL)
			return cli_usage("--trigger needs --delay DURATION (e.g. 3d, 12h, 0)");
		if (!lg_parse_duration(delay, &secs))
			return cli_usage("--delay \"%s\" is not a duration (e.g. 90s, 30m, 12h, 3d)", delay);
	} else if (delay) {
		return cli_usage("--delay goes with --trigger EVENT");
	}
	g_autofree char *text = NULL, *htext = NULL;
	int rc = read_file("--template", tmpl, &text);
	if (rc == 0 && html)
		rc = read_file("--html", html, &htext);
	if (rc)
		return rc;
	g_autoptr(GError) err = NULL;
	g_autofree char *subject = NULL, *body = NULL;
	if (!lg_mailer_template_parse(text, &subject, &body, &err)) {
		fprintf(stderr, "leadgate: --template %s: %s\n", tmpl, err->message);
		return LG_EX_DATAERR;
	}
	if (htext && !lg_mailer_template_check(htext, "the HTML", &err)) {
		fprintf(stderr, "leadgate: --html %s: %s\n", html, err->message);
		return LG_EX_DATAERR;
	}
	OPEN_STORE(st, orc, CLI_STORE_WRITE);
	lg_campaign_def d = { .name = name, .kind = trigger ? "triggered" : "blast", .search = search,
	                      .trigger_event = trigger, .delay_seconds = secs, .subject = subject, .body_text = body,
	                      .body_html = htext };
	gint64 id = 0;
	if (!lg_store_campaign_create(st, &d, &id, &err))
		return cli_error(err);
	g_autofree char *out = trigger
		? g_strdup_printf("campaign \"%s\": follows %s after %s; active", name, trigger, delay)
		: g_strdup_printf("campaign \"%s\": a blast to %s%s%s; draft (send it with `leadgate mailer send %s`)", name,
		                  search ? "the organizations of search \"" : "all organizations", search ? search : "",
		                  search ? "\"" : "", name);
	g_autofree char *ids = g_strdup_printf("%" G_GINT64_FORMAT, id);
	cli_print_done(cli, out, "id", ids, "name", name, "kind", d.kind, "state", trigger ? "active" : "draft", NULL);
	return 0;
}

static int
mailer_preview(lg_cli *cli, lg_store *st, const char *name, const char *to)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(lg_campaign) c = NULL;
	if (!lg_store_campaign_get(st, name, &c, &err))
		return cli_error(err);
	g_autofree char *addr = NULL;
	if (to == NULL && strcmp(c->kind, "blast") == 0) {
		g_autoptr(lg_table) t = NULL;
		if (!lg_store_mailer_audience(st, c->id, &t, &err))
			return cli_error(err);
		for (guint i = 0; i < t->rows->len && addr == NULL; i++) {
			GPtrArray *row = t->rows->pdata[i];
			if (row->pdata[3] == NULL)
				addr = g_strdup(row->pdata[0]);
		}
	}
	if (to)
		addr = g_strdup(to);
	g_autoptr(GHashTable) values = NULL;
	g_autofree char *json = NULL;
	gint64 eu = 0;
	if (addr && !lg_store_mailer_values(st, c->id, addr, &eu, &json, &err))
		return cli_error(err);
	if (!lg_store_json_values(st, json, &values, &err))
		return cli_error(err);
	g_autofree char *ref_key = NULL;
	if (!lg_store_setting(st, "ref_key", &ref_key, &err))
		return cli_error(err);
	gsize len;
	g_autofree char *msg = lg_mailer_build(c, values, addr ? addr : "recipient@example.invalid", 0, eu, cli->cfg,
	                                       ref_key ? ref_key : "", NULL, &len);
	/* the terminal gets LF line ends */
	g_autoptr(GString) out = g_string_new(NULL);
	for (const char *p = msg; *p; p++)
		if (!(p[0] == '\r' && p[1] == '\n'))
			g_string_append_c(out, *p);
	if (cli->json) {
		g_autoptr(GString) j = g_string_new("{\"to\": ");
		cli_json_string(j, addr);
		g_string_append(j, ", \"message\": ");
		cli_json_string(j, out->str);
		g_string_append(j, "}\n");
		fputs(j->str, stdout);
	} else {
		fputs(out->str, stdout);
	}
	return 0;
}

static int
mailer_send(lg_cli *cli, const char *name, gboolean dry_run)
{
	OPEN_STORE(st, rc, dry_run ? CLI_STORE_READ : CLI_STORE_WRITE);
	g_autoptr(GError) err = NULL;
	g_autoptr(lg_campaign) c = NULL;
	if (!lg_store_campaign_get(st, name, &c, &err))
		return cli_error(err);
	if (strcmp(c->kind, "blast") != 0) {
		fprintf(stderr, "leadgate: campaign \"%s\" is triggered by %s: it sends by itself after each event\n",
		        c->name, c->trigger_event);
		return LG_EX_USAGE;
	}
	if (dry_run) {
		g_autoptr(lg_table) t = NULL;
		if (!lg_store_mailer_audience(st, c->id, &t, &err))
			return cli_error(err);
		g_free(t->columns->pdata[3]);
		t->columns->pdata[3] = g_strdup("outcome");
		for (guint i = 0; i < t->rows->len; i++) {
			GPtrArray *row = t->rows->pdata[i];
			if (row->pdata[3] == NULL)
				row->pdata[3] = g_strdup(cli->cfg->mailer_blasts_enabled ? "would send"
				                         : "would send (once [mailer] blasts_enabled is true)");
		}
		cli_print_table(cli, t);
		return 0;
	}
	if (!cli->cfg->mailer_blasts_enabled) {
		fprintf(stderr, "leadgate: blasts are disabled ([mailer] blasts_enabled = false in %s); nothing was queued\n",
		        cli->cfg->path ? cli->cfg->path : "the config");
		return LG_EX_FAIL;
	}
	gint64 queued = 0, excluded = 0;
	if (!lg_store_mailer_send(st, c->id, &queued, &excluded, &err))
		return cli_error(err);
	g_autofree char *text = g_strdup_printf("campaign \"%s\": %" G_GINT64_FORMAT " queued, %" G_GINT64_FORMAT
	                                        " excluded (see --dry-run for why)", c->name, queued, excluded);
	g_autofree char *q = g_strdup_printf("%" G_GINT64_FORMAT, queued);
	g_autofree char *x = g_strdup_printf("%" G_GINT64_FORMAT, excluded);
	cli_print_done(cli, text, "campaign", c->name, "queued", q, "excluded", x, NULL);
	return 0;
}

static const char *const outcome_names[] = { "sent", "retry", "failed", "skipped", "released" };

static void
report_row(const lg_mailer_item *it, lg_mailer_outcome outcome, double delay, const char *text, gpointer data)
{
	lg_cli *cli = data;
	if (cli->json)
		return;
	if (outcome == LG_MAILER_RETRY)
		printf("send %" G_GINT64_FORMAT ": %s to %s: attempt %" G_GINT64_FORMAT " failed (%s); next in %.0f s\n",
		       it->id, it->campaign, it->recipient, it->attempts, text, delay);
	else
		printf("send %" G_GINT64_FORMAT ": %s to %s: %s%s%s%s\n", it->id, it->campaign, it->recipient,
		       outcome_names[outcome], text ? " (" : "", text ? text : "", text ? ")" : "");
}

int
cmd_mailer(lg_cli *cli, int argc, char **argv)
{
	g_autofree char *tmpl = NULL, *html = NULL, *search = NULL, *trigger = NULL, *after = NULL, *delay = NULL;
	g_autofree char *to = NULL;
	gboolean all = FALSE, blast = FALSE, dry_run = FALSE;
	int max = 1000;
	GOptionEntry entries[] = {
		{ "template", 0, 0, G_OPTION_ARG_FILENAME, &tmpl, "create: the template (Subject: line, blank line, text)", "FILE" },
		{ "html", 0, 0, G_OPTION_ARG_FILENAME, &html, "create: an HTML body as well", "FILE" },
		{ "all", 0, 0, G_OPTION_ARG_NONE, &all, "create: a blast to the end users of all organizations", NULL },
		{ "blast", 0, 0, G_OPTION_ARG_NONE, &blast, "create: a blast (with --search NAME, or to all)", NULL },
		{ "search", 0, 0, G_OPTION_ARG_STRING, &search, "create: a blast to the organizations of saved search NAME", "NAME" },
		{ "trigger", 0, 0, G_OPTION_ARG_STRING, &trigger, "create: follow EVENT (ticket.resolved, lead.won, lead.created)", "EVENT" },
		{ "after", 0, 0, G_OPTION_ARG_STRING, &after, "create: the same as --trigger", "EVENT" },
		{ "delay", 0, 0, G_OPTION_ARG_STRING, &delay, "create: how long after the event (3d, 12h, 30m)", "DURATION" },
		{ "to", 0, 0, G_OPTION_ARG_STRING, &to, "preview: for this end user", "EMAIL" },
		{ "dry-run", 0, 0, G_OPTION_ARG_NONE, &dry_run, "send: list who would receive it, and why not", NULL },
		{ "max", 0, 0, G_OPTION_ARG_INT, &max, "run: send at most N (1000)", "N" },
		{ NULL }
	};
	int prc = 0;
	if (!cli_parse_options(cli, &argc, &argv, entries, NULL, &prc))
		return prc;
	const char *sub = argv[1];
	gboolean named = argc == 3;
	if (strcmp(sub, "create") == 0 && named) {
		if (trigger && after)
			return cli_usage("--trigger and --after are the same option; give one");
		if (blast && (trigger || after))
			return cli_usage("--blast and --trigger exclude each other");
		return mailer_create(cli, argv[2], tmpl, html, all || (blast && search == NULL), search,
		                     trigger ? trigger : after, delay);
	}
	if (tmpl || html || all || blast || search || trigger || after || delay)
		return cli_usage("--template, --html, --all, --blast, --search, --trigger and --delay go with mailer create");
	if (to && strcmp(sub, "preview") != 0)
		return cli_usage("--to goes with mailer preview");
	if (dry_run && strcmp(sub, "send") != 0)
		return cli_usage("--dry-run goes with mailer send");
	if (strcmp(sub, "list") == 0 && argc == 2) {
		OPEN_STORE(st, rc, CLI_STORE_READ);
		g_autoptr(GError) err = NULL;
		g_autoptr(lg_table) t = NULL;
		if (!lg_store_campaign_list(st, &t, &err))
			return cli_error(err);
		cli_print_table(cli, t);
		return 0;
	}
	if (strcmp(sub, "preview") == 0 && named) {
		OPEN_STORE(st, rc, CLI_STORE_READ);
		return mailer_preview(cli, st, argv[2], to);
	}
	if (strcmp(sub, "send") == 0 && named)
		return mailer_send(cli, argv[2], dry_run);
	if ((strcmp(sub, "pause") == 0 || strcmp(sub, "resume") == 0) && named) {
		gboolean pause = strcmp(sub, "pause") == 0;
		OPEN_STORE(st, rc, CLI_STORE_WRITE);
		g_autoptr(GError) err = NULL;
		g_autofree char *state = NULL;
		if (!lg_store_campaign_pause(st, argv[2], pause, &state, &err))
			return cli_error(err);
		g_autofree char *text = g_strdup_printf("campaign \"%s\": %s", argv[2], state);
		cli_print_done(cli, text, "name", argv[2], "state", state, NULL);
		return 0;
	}
	if (strcmp(sub, "run") == 0 && argc == 2) {
		if (max < 1 || max > 1000000)
			return cli_usage("--max must be from 1 to 1000000");
		OPEN_STORE(st, rc, CLI_STORE_WRITE);
		g_autoptr(GError) err = NULL;
		lg_mailer_stats s;
		gboolean ok = lg_mailer_run(st, cli->cfg, (guint) max, NULL, report_row, cli, &s, &err);
		g_autofree char *text = g_strdup_printf("mailer: %u sent, %u to retry, %u failed, %u skipped, %u dropped "
		                                        "(late), %u scheduled%s%s", s.sent, s.retried, s.failed, s.skipped,
		                                        s.dropped, s.scheduled,
		                                        s.assumed ? "; a dead worker's sends assumed sent: " : "",
		                                        s.assumed ? "see leadgate(1)" : "");
		g_autofree char *n_sent = g_strdup_printf("%u", s.sent);
		g_autofree char *n_retry = g_strdup_printf("%u", s.retried);
		g_autofree char *n_failed = g_strdup_printf("%u", s.failed);
		g_autofree char *n_skipped = g_strdup_printf("%u", s.skipped);
		g_autofree char *n_dropped = g_strdup_printf("%u", s.dropped);
		if (ok)
			cli_print_done(cli, text, "sent", n_sent, "retry", n_retry, "failed", n_failed, "skipped", n_skipped,
			               "dropped", n_dropped, "paced", s.paced ? "1" : "0", NULL);
		return ok ? 0 : cli_error(err);
	}
	return cli_sub_usage(cli, sub);
}
