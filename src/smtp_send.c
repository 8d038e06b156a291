/*
 * NAME
 *   smtp_send.c - libcurl SMTP, one transaction per recipient (see smtp_send.h).
 */
#include "autoconf.h"
#include <string.h>
#include <curl/curl.h>
#include "lg.h"
#include "smtp_send.h"

struct lg_smtp {
	CURL *h;
	char *url;
	const gint *abort;
	lg_smtp_data_hook hook;
	gpointer hook_data;
};

typedef struct {
	const char *data;
	gsize len, off;
	lg_smtp *s;
	gboolean hooked;
} reader;

static size_t
read_cb(char *buf, size_t size, size_t n, void *p)
{
	reader *r = p;
	gsize want = MIN(size * n, r->len - r->off);
	/* The read after the last byte: every byte of the message has been
	 * written to the socket (libcurl sends what a read gave before it
	 * reads again), and the end of DATA follows as soon as this returns 0
	 * (no size is declared when there is a hook, so libcurl reads until
	 * 0). Running the hook here, rather than before the last bytes, leaves
	 * as little as possible between its commit and the end of DATA. */
	if (want == 0 && !r->hooked && r->s->hook) {
		r->hooked = TRUE;
		if (!r->s->hook(r->s->hook_data))
			return CURL_READFUNC_ABORT;
	}
	memcpy(buf, r->data + r->off, want);
	r->off += want;
	return want;
}

static int
progress(void *data, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void) dt; (void) dn; (void) ut; (void) un;
	const gint *abort = data;
	return abort && g_atomic_int_get(abort) ? 1 : 0;
}

lg_smtp *
lg_smtp_new(const char *url, int connect_timeout, int timeout, const gint *abort)
{
	lg_smtp *s = g_new0(lg_smtp, 1);
	s->url = g_strdup(url);
	s->abort = abort;
	s->h = curl_easy_init();
	if (s->h == NULL)
		return s;
	curl_easy_setopt(s->h, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(s->h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#else
	curl_easy_setopt(s->h, CURLOPT_PROTOCOLS, (long) (CURLPROTO_SMTP | CURLPROTO_SMTPS));
#endif
	curl_easy_setopt(s->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(s->h, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(s->h, CURLOPT_CONNECTTIMEOUT, (long) connect_timeout);
	curl_easy_setopt(s->h, CURLOPT_TIMEOUT, (long) timeout);
	curl_easy_setopt(s->h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(s->h, CURLOPT_XFERINFOFUNCTION, progress);
	curl_easy_setopt(s->h, CURLOPT_XFERINFODATA, (void *) abort);
	return s;
}

void
lg_smtp_set_data_hook(lg_smtp *s, lg_smtp_data_hook hook, gpointer data)
{
	s->hook = hook;
	s->hook_data = data;
}

void
lg_smtp_free(lg_smtp *s)
{
	if (s == NULL)
		return;
	if (s->h)
		curl_easy_cleanup(s->h);
	g_free(s->url);
	g_free(s);
}

void
lg_smtp_result_clear(gpointer p)
{
	lg_smtp_result *r = p;
	g_clear_pointer(&r->rcpt, g_free);
	g_clear_pointer(&r->error, g_free);
}

static void
send_one(lg_smtp *s, const char *from, const char *rcpt, const char *data, gsize len, lg_smtp_result *res)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	reader rd = { data, len, 0, s, FALSE };
	g_autofree char *mfrom = g_strdup_printf("<%s>", from ? from : "");
	g_autofree char *mto = g_strdup_printf("<%s>", rcpt);
	struct curl_slist *to = curl_slist_append(NULL, mto);
	curl_easy_setopt(s->h, CURLOPT_MAIL_FROM, mfrom);
	curl_easy_setopt(s->h, CURLOPT_MAIL_RCPT, to);
	curl_easy_setopt(s->h, CURLOPT_READDATA, &rd);
	/* with a data hook, no size: libcurl then reads until the callback
	 * returns 0, the read where the hook runs (read_cb); a declared size
	 * ends the upload without that last read */
	curl_easy_setopt(s->h, CURLOPT_INFILESIZE_LARGE, s->hook ? (curl_off_t) -1 : (curl_off_t) len);
	curl_easy_setopt(s->h, CURLOPT_ERRORBUFFER, errbuf);
	CURLcode rc = curl_easy_perform(s->h);
	curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &res->code);
	curl_easy_setopt(s->h, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(s->h, CURLOPT_MAIL_RCPT, NULL);
	curl_slist_free_all(to);
	res->rcpt = g_strdup(rcpt);
	res->data_done = rd.hooked && rd.off == len;
	res->ok = rc == CURLE_OK && res->code / 100 == 2;
	if (!res->ok) {
		res->permanent = res->code >= 500 && res->code < 600;
		res->error = g_strdup_printf("SMTP%s%.0ld: %s", res->code ? " " : "", res->code,
		                             *errbuf ? errbuf : curl_easy_strerror(rc));
	}
}

guint
lg_smtp_send(lg_smtp *s, const char *from, const char *const *rcpts, const char *data, gsize len, GArray *results)
{
	guint ok = 0;
	for (guint i = 0; rcpts[i]; i++) {
		lg_smtp_result r = { 0 };
		if (s->h == NULL) {
			r.rcpt = g_strdup(rcpts[i]);
			r.error = g_strdup("cannot start libcurl");
		} else {
			send_one(s, from, rcpts[i], data, len, &r);
		}
		ok += r.ok;
		g_array_append_val(results, r);
	}
	return ok;
}
