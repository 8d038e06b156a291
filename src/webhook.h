/*
 * NAME
 *   webhook.h - Standard Webhooks signatures and the HTTP POST of one webhook.
 *
 * SUMMARY
 *   A secret is "whsec_" followed by the base64 of 24 to 64 random bytes
 *   (the prefix is optional on input). lg_webhook_sign() gives the
 *   signature "v1,<base64 of HMAC-SHA256(secret, id "." timestamp "." body)>";
 *   the webhook-signature header carries one per secret, separated by a
 *   space (two while a secret is rotated). GLib's GHmac and g_base64 do the
 *   work.
 *
 *   lg_webhook_post() sends one signed request with libcurl: connect
 *   timeout and total timeout as given, no redirects, http and https only,
 *   the response body read and dropped (past 64 KiB the transfer is cut;
 *   the status counts).
 */
#ifndef LG_WEBHOOK_H
#define LG_WEBHOOK_H

#include <glib.h>

G_BEGIN_DECLS

/* "v1,..." for @secret; NULL with @error for a secret that is not base64
 * of 24 to 64 bytes. */
char *lg_webhook_sign(const char *secret, const char *msg_id, gint64 timestamp,
                      const char *body, gsize len, GError **error);
/* The secrets of a secret file: one a line, blank lines and #-comments
 * skipped, one or two (rotation). */
char **lg_webhook_read_secrets(const char *path, GError **error);

typedef struct {
	long status;            /* HTTP status; 0: no response */
	gint64 retry_after;     /* seconds from a Retry-After header; -1: none */
	char *error;            /* what went wrong, for last_error; NULL on 2xx */
} lg_webhook_result;
void lg_webhook_result_clear(lg_webhook_result *r);

/* One libcurl handle, kept for a run so that requests to one endpoint
 * reuse its connection (keep-alive). @abort (may be NULL): set non-zero by
 * another thread to cut a transfer short. */
typedef struct lg_webhook_client lg_webhook_client;
lg_webhook_client *lg_webhook_client_new(int connect_timeout, int timeout, const gint *abort);
void lg_webhook_client_free(lg_webhook_client *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(lg_webhook_client, lg_webhook_client_free)

/* POSTs @body (JSON) to @url with the three headers. */
void lg_webhook_post(lg_webhook_client *c, const char *url, const char *msg_id, gint64 timestamp,
                     const char *signature, const char *body, lg_webhook_result *r);

G_END_DECLS

#endif
