/*
 * NAME
 *   ref.c - keyed thread references (see ref.h), with GLib's GHmac.
 */
#include "config.h"
#include <string.h>
#include "ref.h"

#define MAC_LEN 16

static char *
ref_mac(const char *key, char kind, gint64 id)
{
	g_autofree char *msg = g_strdup_printf("%c%" G_GINT64_FORMAT, kind, id);
	g_autofree char *full = g_compute_hmac_for_string(G_CHECKSUM_SHA256, (const guchar *) key, strlen(key), msg, -1);
	return g_strndup(full, MAC_LEN);
}

char *
lg_ref_make(const char *key, char kind, gint64 id)
{
	g_autofree char *mac = ref_mac(key, kind, id);
	return g_strdup_printf("lg-%c%" G_GINT64_FORMAT "-%s", kind, id, mac);
}

/* Parses "lg-K<digits>-<16 hex>" at @p; returns its length or 0. */
static gsize
ref_scan(const char *p, char *kind_r, gint64 *id_r, char mac_r[MAC_LEN + 1])
{
	if (strncmp(p, "lg-", 3) != 0 || p[3] == '\0' || strchr("TLCU", p[3]) == NULL)
		return 0;
	const char *q = p + 4;
	gint64 id = 0;
	const char *digits = q;
	while (g_ascii_isdigit(*q) && q - digits < 15)
		id = id * 10 + (*q++ - '0');
	if (q == digits || *q != '-')
		return 0;
	q++;
	for (int i = 0; i < MAC_LEN; i++)
		if (!g_ascii_isxdigit(q[i]) || g_ascii_isupper(q[i]))
			return 0;
	if (g_ascii_isxdigit(q[MAC_LEN]))
		return 0;
	*kind_r = p[3];
	*id_r = id;
	memcpy(mac_r, q, MAC_LEN);
	mac_r[MAC_LEN] = '\0';
	return (gsize) (q + MAC_LEN - p);
}

static gboolean
mac_equal(const char *a, const char *b)
{
	/* constant time over the fixed length */
	unsigned char d = 0;
	for (int i = 0; i < MAC_LEN; i++)
		d |= (unsigned char) (a[i] ^ b[i]);
	return d == 0;
}

gboolean
lg_ref_verify(const char *key, const char *token, char *kind_r, gint64 *id_r)
{
	char kind, mac[MAC_LEN + 1];
	gint64 id;
	if (key == NULL || token == NULL || ref_scan(token, &kind, &id, mac) == 0)
		return FALSE;
	g_autofree char *want = ref_mac(key, kind, id);
	if (!mac_equal(want, mac))
		return FALSE;
	*kind_r = kind;
	*id_r = id;
	return TRUE;
}

/* A body may hold any number of strings shaped like references, and each
 * costs an HMAC to verify (a stranger's 1 MB of them took 0.14 s of CPU in
 * `leadgate ingest`). A reply quotes a handful, so a scan verifies at
 * most this many. */
#define REF_SCAN_MAX 64

/* The first valid reference in @text of @kind (0: any kind). */
static gboolean
ref_find(const char *key, const char *text, char kind, char *kind_r, gint64 *id_r)
{
	int tried = 0;

	if (text == NULL)
		return FALSE;
	for (const char *p = strstr(text, "lg-"); p && tried < REF_SCAN_MAX; p = strstr(p + 3, "lg-")) {
		char k, mac[MAC_LEN + 1];
		gint64 id;
		if (ref_scan(p, &k, &id, mac) == 0 || (kind != 0 && k != kind))
			continue;
		tried++;
		if (lg_ref_verify(key, p, kind_r, id_r))
			return TRUE;
	}
	return FALSE;
}

gboolean
lg_ref_find(const char *key, const char *text, char *kind_r, gint64 *id_r)
{
	return ref_find(key, text, 0, kind_r, id_r);
}

gboolean
lg_ref_find_kind(const char *key, const char *text, char kind, gint64 *id_r)
{
	char k;
	return ref_find(key, text, kind, &k, id_r);
}
