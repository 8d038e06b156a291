/*
 * NAME
 *   unsubscribe.c - unsubscribe recipients and campaign references (see
 *   unsubscribe.h).
 */
#include "config.h"
#include <string.h>
#include "address.h"
#include "ref.h"
#include "unsubscribe.h"

gboolean
lg_unsub_rcpt(const lg_config *cfg, const char *rcpt, char **token_r)
{
	if (token_r)
		*token_r = NULL;
	if (rcpt == NULL || cfg->mailer_unsubscribe_address == NULL)
		return FALSE;
	g_autofree char *unsub = lg_addr_normalize(cfg->mailer_unsubscribe_address);
	const char *uat = unsub ? strrchr(unsub, '@') : NULL;
	const char *rat = strrchr(rcpt, '@');
	if (uat == NULL || rat == NULL || strcmp(uat, rat) != 0)
		return FALSE;
	gsize ulen = (gsize) (uat - unsub);
	gsize rlen = (gsize) (rat - rcpt);
	if (rlen < ulen || strncmp(rcpt, unsub, ulen) != 0)
		return FALSE;
	if (rlen == ulen)
		return TRUE;   /* the bare address: no token */
	if (rcpt[ulen] != '+')
		return FALSE;  /* unsubscribe2@: another address */
	if (token_r) {
		g_autofree char *ext = g_strndup(rcpt + ulen + 1, rlen - ulen - 1);
		*token_r = lg_unsub_token_canon(ext);
	}
	return TRUE;
}

char *
lg_unsub_token_canon(const char *token)
{
	if (token == NULL)
		return NULL;
	g_autofree char *t = g_strstrip(g_strdup(token));
	/* "lg-" kind digits "-" 16 hex: the kind letter is upper case, the MAC
	 * lower case; an address's normalisation lower-cased the letter */
	if (g_ascii_strncasecmp(t, "lg-", 3) != 0 || t[3] == '\0')
		return NULL;
	t[0] = 'l';
	t[1] = 'g';
	t[3] = g_ascii_toupper(t[3]);
	for (char *p = t + 4; *p; p++)
		*p = g_ascii_tolower(*p);
	return g_steal_pointer(&t);
}

gboolean
lg_unsub_token_verify(const char *key, const char *token, gint64 *end_user_id_r)
{
	char kind;
	gint64 id;
	g_autofree char *canon = lg_unsub_token_canon(token);
	/* the whole token, nothing after it */
	if (canon == NULL || strlen(canon) > 40 || !lg_ref_verify(key, canon, &kind, &id) || kind != 'U')
		return FALSE;
	g_autofree char *again = lg_ref_make(key, 'U', id);
	if (strcmp(again, canon) != 0)
		return FALSE;
	*end_user_id_r = id;
	return TRUE;
}

static gboolean
campaign_ref(const char *key, const char *msgid, gint64 *id_r)
{
	char kind;
	gint64 id;
	if (msgid == NULL || !lg_ref_verify(key, msgid, &kind, &id) || kind != 'C')
		return FALSE;
	*id_r = id;
	return TRUE;
}

gboolean
lg_campaign_ref_find(const char *key, const lg_message *msg, gint64 *outbox_id_r)
{
	if (key == NULL)
		return FALSE;
	if (msg->dsn && campaign_ref(key, msg->dsn->original_message_id, outbox_id_r))
		return TRUE;
	if (campaign_ref(key, msg->in_reply_to, outbox_id_r))
		return TRUE;
	for (guint i = msg->references->len; i > 0; i--)
		if (campaign_ref(key, msg->references->pdata[i - 1], outbox_id_r))
			return TRUE;
	/* the keyed line of the body, for a client that dropped References */
	return lg_ref_find_kind(key, msg->body_text, 'C', outbox_id_r);
}
