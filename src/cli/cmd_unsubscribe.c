/*
 * NAME
 *   cmd_unsubscribe.c - `leadgate unsubscribe TOKEN`: the one-click
 *   unsubscribe (RFC 8058) of campaign mail, for a web endpoint to call.
 *
 * SUMMARY
 *   The token is the end user's keyed lg-U reference that every campaign
 *   message carries in its List-Unsubscribe URL (?token=...) and mailto:
 *   address (SPEC §11). A valid token withdraws the end user's consent
 *   (marketing_changed_by 'unsubscribe:url') and logs it in unsubscribes,
 *   in one transaction; a second call changes nothing and succeeds too.
 *   Exit 0 and who was unsubscribed; 65 (EX_DATAERR) for a token that does
 *   not verify (forged, altered, of another database); 64 usage.
 */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "store_unsub.h"
#include "unsubscribe.h"

int
cmd_unsubscribe(lg_cli *cli, int argc, char **argv)
{
	int rc = 0;
	if (!cli_parse_options(cli, &argc, &argv, NULL, NULL, &rc))
		return rc;
	if (argc != 2)
		return cli_usage("unsubscribe takes one argument: the token (lg-U...)");
	/* the token alone, or the URL's query that carries it */
	const char *token = argv[1];
	const char *q = strstr(token, "token=");
	g_autofree char *given = g_strndup(q ? q + 6 : token, strcspn(q ? q + 6 : token, "&# \t"));
	g_autoptr(lg_store) st = cli_open_store(cli, CLI_STORE_WRITE, &rc);
	if (st == NULL)
		return rc;
	g_autoptr(GError) err = NULL;
	g_autofree char *key = NULL;
	if (!lg_store_setting(st, "ref_key", &key, &err))
		return cli_error(err);
	gint64 end_user = 0;
	if (!lg_unsub_token_verify(key, given, &end_user)) {
		fprintf(stderr, "leadgate: \"%.80s\" is not a valid unsubscribe token (forged, altered, or made by another database): nobody unsubscribed\n",
		        given);
		return LG_EX_DATAERR;
	}
	g_autofree char *canon = lg_unsub_token_canon(given);
	lg_unsub_outcome o = { 0 };
	if (!lg_store_begin(st, &err))
		return cli_error(err);
	if (!lg_store_unsubscribe(st, end_user, "url", canon, NULL, &o, &err) || !lg_store_commit(st, &err)) {
		lg_store_rollback(st);
		lg_unsub_outcome_clear(&o);
		return cli_error(err);
	}
	g_autofree char *id = g_strdup_printf("%" G_GINT64_FORMAT, end_user);
	g_autofree char *text = !o.found ? g_strdup_printf("end user %s no longer exists: nothing to unsubscribe", id)
	                      : o.changed ? g_strdup_printf("%s unsubscribed (end user %s)", o.email, id)
	                      : g_strdup_printf("%s was unsubscribed already (end user %s): nothing changed", o.email, id);
	cli_print_done(cli, text, "id", id, "email", o.email, "receive_marketing", o.found ? "0" : NULL,
	               "changed", o.changed ? "1" : "0", NULL);
	lg_unsub_outcome_clear(&o);
	return 0;
}
