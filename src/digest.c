/*
 * NAME
 *   digest.c - SHA-256 through libcrypto (see digest.h).
 *
 * NOTES
 *   The digest method is fetched once per process (EVP_MD_fetch); with
 *   EVP_sha256() OpenSSL 3 would look it up again on every init. A failure
 *   of libcrypto here is a failure to allocate memory, which GLib treats as
 *   fatal too (g_error).
 */
#include "config.h"
#include <openssl/evp.h>
#include "digest.h"

struct lg_sha256 {
	EVP_MD_CTX *ctx;
	gboolean finished;
};

static const EVP_MD *
sha256_md(void)
{
	static gsize once;
	static EVP_MD *md;
	if (g_once_init_enter(&once)) {
		md = EVP_MD_fetch(NULL, "SHA256", NULL);
		if (md == NULL)
			g_error("libcrypto has no SHA-256");
		g_once_init_leave(&once, 1);
	}
	return md;
}

lg_sha256 *
lg_sha256_new(void)
{
	lg_sha256 *s = g_new0(lg_sha256, 1);
	s->ctx = EVP_MD_CTX_new();
	if (s->ctx == NULL || EVP_DigestInit_ex(s->ctx, sha256_md(), NULL) != 1)
		g_error("libcrypto: cannot start a SHA-256 digest");
	return s;
}

void
lg_sha256_update(lg_sha256 *s, const void *data, gsize len)
{
	g_return_if_fail(!s->finished);
	if (len > 0 && EVP_DigestUpdate(s->ctx, data, len) != 1)
		g_error("libcrypto: SHA-256 update failed");
}

void
lg_sha256_finish(lg_sha256 *s, char hex[LG_SHA256_HEX_SIZE])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	g_return_if_fail(!s->finished);
	if (EVP_DigestFinal_ex(s->ctx, md, &n) != 1 || n != 32)
		g_error("libcrypto: SHA-256 final failed");
	s->finished = TRUE;
	for (unsigned int i = 0; i < n; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 0xf];
	}
	hex[2 * n] = '\0';
}

void
lg_sha256_free(lg_sha256 *s)
{
	if (s == NULL)
		return;
	EVP_MD_CTX_free(s->ctx);
	g_free(s);
}
