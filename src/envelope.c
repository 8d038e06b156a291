/*
 * NAME
 *   envelope.c - the SMTP/LMTP envelope of one message (see envelope.h).
 */
#include "config.h"
#include "lg.h"
#include "envelope.h"
#include "address.h"

lg_envelope *
lg_envelope_new(const char *sender)
{
	lg_envelope *env = g_new0(lg_envelope, 1);
	char *s = (sender && *sender && g_strcmp0(sender, "<>") != 0) ? lg_addr_normalize(sender) : NULL;
	env->sender = s ? s : g_strdup("");
	env->recipients = g_ptr_array_new_with_free_func(g_free);
	return env;
}

gboolean
lg_envelope_add_rcpt(lg_envelope *env, const char *rcpt)
{
	char *r = lg_addr_normalize(rcpt);
	if (r == NULL)
		return FALSE;
	for (guint i = 0; i < env->recipients->len; i++)
		if (g_strcmp0(env->recipients->pdata[i], r) == 0) {
			g_free(r);
			return TRUE;
		}
	g_ptr_array_add(env->recipients, r);
	return TRUE;
}

lg_envelope *
lg_envelope_copy(const lg_envelope *env)
{
	lg_envelope *c = g_new0(lg_envelope, 1);
	c->sender = g_strdup(env->sender);
	c->recipients = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < env->recipients->len; i++)
		g_ptr_array_add(c->recipients, g_strdup(env->recipients->pdata[i]));
	c->queue_id = g_strdup(env->queue_id);
	c->client_name = g_strdup(env->client_name);
	c->client_addr = g_strdup(env->client_addr);
	c->client_port = g_strdup(env->client_port);
	c->client_proto = g_strdup(env->client_proto);
	c->client_helo = g_strdup(env->client_helo);
	c->client_ident = g_strdup(env->client_ident);
	c->client_source = g_strdup(env->client_source);
	c->spf_result = g_strdup(env->spf_result);
	return c;
}

void
lg_envelope_free(lg_envelope *env)
{
	if (env == NULL)
		return;
	g_free(env->sender);
	g_ptr_array_unref(env->recipients);
	g_free(env->queue_id);
	g_free(env->client_name);
	g_free(env->client_addr);
	g_free(env->client_port);
	g_free(env->client_proto);
	g_free(env->client_helo);
	g_free(env->client_ident);
	g_free(env->client_source);
	g_free(env->spf_result);
	g_free(env);
}
