/*
 * NAME
 *   address.c - canonical mail addresses (see address.h).
 *
 * SUMMARY
 *   Pure functions, no state. The local part keeps its characters but is
 *   lower-cased (every site leadgate serves treats local parts as caseless);
 *   the domain goes through g_hostname_to_unicode() so that "xn--bcher-kva.de"
 *   and "bücher.de" compare equal, then is lower-cased and NFC-normalised.
 */
#include "config.h"
#include "lg.h"
#include <string.h>
#include "address.h"

static gboolean
has_bad_chars(const char *s)
{
	for (const unsigned char *p = (const unsigned char *) s; *p; p++)
		if (*p < 0x21 || *p == 0x7f || *p == '<' || *p == '>' || *p == ',' || *p == ';')
			return TRUE;
	return FALSE;
}

/* TRUE when a label of @domain is IDNA-encoded ("xn--", any case). */
static gboolean
has_ace_label(const char *domain)
{
	for (const char *l = domain; l; l = strchr(l, '.') ? strchr(l, '.') + 1 : NULL)
		if (g_ascii_strncasecmp(l, "xn--", 4) == 0)
			return TRUE;
	return FALSE;
}

char *
lg_addr_normalize(const char *raw)
{
	if (raw == NULL)
		return NULL;
	g_autofree char *s = g_strstrip(g_strdup(raw));
	char *p = s;
	gsize n = strlen(p);
	if (n >= 2 && p[0] == '<' && p[n - 1] == '>') {
		p[n - 1] = '\0';
		p++;
		p = g_strstrip(p);
	}
	/* A source route "<@a,@b:user@host>" keeps only the mailbox. */
	if (*p == '@') {
		char *colon = strchr(p, ':');
		if (colon == NULL)
			return NULL;
		p = colon + 1;
	}
	if (*p == '\0' || !g_utf8_validate(p, -1, NULL) || has_bad_chars(p))
		return NULL;
	char *at = strrchr(p, '@');
	if (at == NULL || at == p || at[1] == '\0')
		return NULL;
	*at = '\0';
	const char *local = p;
	if (strchr(local, '@') != NULL && local[0] != '"')
		return NULL;   /* "a@b"@c is an address; a@b@c is not */
	char *domain = at + 1;
	gsize dl = strlen(domain);
	while (dl > 0 && domain[dl - 1] == '.')
		domain[--dl] = '\0';
	if (dl == 0 || domain[0] == '.' || strstr(domain, "..") != NULL)
		return NULL;
	/* RFC 5321 §4.5.3.1: a domain of at most 255 octets, a path of 256. The
	 * local part gets room beyond its 64 (long VERP and SRS addresses exist),
	 * but an address no mail system can route is not a sender to match or a
	 * name for an organization (whose name the schema limits). */
	if (dl > 255 || strlen(local) > 256)
		return NULL;

	/* the common case, plain ASCII without IDNA labels, needs no Unicode work */
	gboolean ascii = TRUE;
	for (const char *c = local; *c && ascii; c++)
		ascii = (unsigned char) *c < 0x80;
	for (const char *c = domain; *c && ascii; c++)
		ascii = (unsigned char) *c < 0x80;
	if (ascii && domain[0] != '[' && !has_ace_label(domain)) {
		char *r = g_strconcat(local, "@", domain, NULL);
		for (char *c = r; *c; c++)
			*c = g_ascii_tolower(*c);
		return r;
	}
	g_autofree char *local_l = g_utf8_strdown(local, -1);
	g_autofree char *dom_u = NULL;
	if (domain[0] == '[') {
		dom_u = g_strdup(domain);   /* address literal, kept as is */
	} else {
		dom_u = g_hostname_to_unicode(domain);
		if (dom_u == NULL)
			dom_u = g_strdup(domain);  /* a bad xn-- label: keep what came */
	}
	g_autofree char *dom_l = g_utf8_strdown(dom_u, -1);
	g_autofree char *dom_n = g_utf8_normalize(dom_l, -1, G_NORMALIZE_NFC);
	g_autofree char *local_n = g_utf8_normalize(local_l, -1, G_NORMALIZE_NFC);
	if (dom_n == NULL || local_n == NULL)
		return NULL;
	return g_strconcat(local_n, "@", dom_n, NULL);
}

const char *
lg_addr_domain(const char *email)
{
	if (email == NULL)
		return NULL;
	const char *at = strrchr(email, '@');
	return at ? at + 1 : NULL;
}

static gboolean
local_in(const char *email, const char *const *names)
{
	if (email == NULL)
		return FALSE;
	const char *at = strrchr(email, '@');
	gsize n = at ? (gsize) (at - email) : strlen(email);
	g_autofree char *local = g_strndup(email, n);
	/* "no-reply+tag" counts as "no-reply" */
	char *plus = strchr(local, '+');
	if (plus)
		*plus = '\0';
	for (guint i = 0; names[i]; i++)
		if (g_ascii_strcasecmp(local, names[i]) == 0)
			return TRUE;
	return FALSE;
}

gboolean
lg_addr_is_system(const char *email)
{
	static const char *const names[] = {
		"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon", NULL };
	return local_in(email, names);
}

gboolean
lg_addr_is_noreply(const char *email)
{
	static const char *const names[] = {
		"noreply", "no-reply", "no_reply", "donotreply", "do-not-reply",
		"do_not_reply", "dontreply", "dont-reply", "bounce", "bounces",
		"notifications", "notification", "wordpress", "forms", "webform",
		"web-form", "website", NULL };
	return local_in(email, names) || lg_addr_is_system(email);
}

lg_address *
lg_address_new(const char *email, const char *name)
{
	lg_address *a = g_new0(lg_address, 1);
	a->email = g_strdup(email);
	a->name = (name && *name) ? g_strdup(name) : NULL;
	return a;
}

void
lg_address_free(lg_address *addr)
{
	if (addr == NULL)
		return;
	g_free(addr->email);
	g_free(addr->name);
	g_free(addr);
}
