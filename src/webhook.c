/*
 * NAME
 *   webhook.c - Standard Webhooks signing and sending (see webhook.h).
 */
#include "autoconf.h"
#include <string.h>
#include <curl/curl.h>
#include "lg.h"
#include "webhook.h"

#define SECRET_MIN 24
#define SECRET_MAX 64

char *
lg_webhook_sign(const char *secret, const char *msg_id, gint64 timestamp, const char *body, gsize len,
                GError **error)
{
	const char *b64 = g_str_has_prefix(secret, "whsec_") ? secret + 6 : secret;
	gsize klen = 0;
	gboolean ok = *b64 != '\0' && strspn(b64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") == strlen(b64);
	g_autofree guchar *key = ok ? g_base64_decode(b64, &klen) : NULL;
	if (key == NULL || klen < SECRET_MIN || klen > SECRET_MAX) {
		g_set_error(error, LG_USAGE_ERROR, LG_USAGE_ERROR_ARGS,
		            "a webhook secret is \"whsec_\" and the base64 of %d to %d bytes", SECRET_MIN, SECRET_MAX);
		return NULL;
	}
	g_autoptr(GHmac) h = g_hmac_new(G_CHECKSUM_SHA256, key, klen);
	g_autofree char *head = g_strdup_printf("%s.%" G_GINT64_FORMAT ".", msg_id, timestamp);
	g_hmac_update(h, (const guchar *) head, (gssize) strlen(head));
	g_hmac_update(h, (const guchar *) body, (gssize) len);
	guint8 mac[32];
	gsize mlen = sizeof mac;
	g_hmac_get_digest(h, mac, &mlen);
	g_autofree char *sig = g_base64_encode(mac, mlen);
	return g_strconcat("v1,", sig, NULL);
}

char **
lg_webhook_read_secrets(const char *path, GError **error)
{
	g_autofree char *text = NULL;
	if (!g_file_get_contents(path, &text, NULL, error))
		return NULL;
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; lines[i]; i++) {
		char *l = g_strstrip(lines[i]);
		if (*l == '\0' || *l == '#')
			continue;
		g_autofree char *check = lg_webhook_sign(l, "x", 0, "", 0, error);
		if (check == NULL) {
			g_prefix_error(error, "%s:%u: ", path, i + 1);
			return NULL;
		}
		g_ptr_array_add(out, g_strdup(l));
	}
	if (out->len == 0 || out->len > 2) {
		g_set_error(error, LG_USAGE_ERROR, LG_USAGE_ERROR_ARGS,
		            "%s: holds %u secrets; give one, or two while rotating", path, out->len);
		return NULL;
	}
	g_ptr_array_add(out, NULL);
	return (char **) g_ptr_array_steal(out, NULL);
}

void
lg_webhook_result_clear(lg_webhook_result *r)
{
	g_clear_pointer(&r->error, g_free);
	memset(r, 0, sizeof *r);
}

static size_t
discard(char *ptr, size_t size, size_t n, void *data)
{
	(void) ptr;
	gsize *got = data;
	*got += size * n;
	return *got > 65536 ? 0 : size * n;   /* a huge answer is cut short; its status counts */
}

static int
progress(void *data, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void) dt; (void) dn; (void) ut; (void) un;
	const gint *abort = data;
	return abort && g_atomic_int_get(abort) ? 1 : 0;
}

struct lg_webhook_client {
	CURL *h;
	int connect_timeout, timeout;
	const gint *abort;
};

lg_webhook_client *
lg_webhook_client_new(int connect_timeout, int timeout, const gint *abort)
{
	lg_webhook_client *c = g_new0(lg_webhook_client, 1);
	c->h = curl_easy_init();
	c->connect_timeout = connect_timeout;
	c->timeout = timeout;
	c->abort = abort;
	return c;
}

void
lg_webhook_client_free(lg_webhook_client *c)
{
	if (c == NULL)
		return;
	if (c->h)
		curl_easy_cleanup(c->h);
	g_free(c);
}

void
lg_webhook_post(lg_webhook_client *c, const char *url, const char *msg_id, gint64 timestamp, const char *signature,
                const char *body, lg_webhook_result *r)
{
	memset(r, 0, sizeof *r);
	r->retry_after = -1;
	CURL *h = c->h;
	if (h == NULL) {
		r->error = g_strdup("cannot start libcurl");
		return;
	}
	/* a fresh request on the same handle: its connection cache stays */
	curl_easy_reset(h);
	char errbuf[CURL_ERROR_SIZE] = "";
	gsize got = 0;
	struct curl_slist *hdr = NULL;
	g_autofree char *h_id = g_strdup_printf("webhook-id: %s", msg_id);
	g_autofree char *h_ts = g_strdup_printf("webhook-timestamp: %" G_GINT64_FORMAT, timestamp);
	g_autofree char *h_sig = g_strdup_printf("webhook-signature: %s", signature);
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	hdr = curl_slist_append(hdr, h_id);
	hdr = curl_slist_append(hdr, h_ts);
	hdr = curl_slist_append(hdr, h_sig);
	hdr = curl_slist_append(hdr, "Expect:");
	curl_easy_setopt(h, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "leadgate/" PACKAGE_VERSION);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen(body));
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long) c->connect_timeout);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long) c->timeout);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &got);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *) c->abort);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	CURLcode rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	curl_off_t ra = -1;
	if (r->status != 0 && curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
		r->retry_after = (gint64) ra;
	gboolean answered = rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && r->status != 0);
	if (answered && r->status >= 200 && r->status < 300)
		; /* delivered */
	else if (answered)
		r->error = g_strdup_printf("HTTP %ld", r->status);
	else {
		r->status = 0;   /* a transfer that failed is no answer, whatever came first */
		r->error = g_strdup(*errbuf ? errbuf : curl_easy_strerror(rc));
	}
	/* the handle must not keep pointers into this call's memory */
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
	curl_slist_free_all(hdr);
}
