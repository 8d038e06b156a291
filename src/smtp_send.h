/*
 * NAME
 *   smtp_send.h - mail to the local MTA through libcurl's SMTP client.
 *
 * SYNOPSIS
 *   lg_smtp *s = lg_smtp_new("smtp://127.0.0.1:25", 5, 30, &stop);
 *   lg_smtp_send(s, from, rcpts, data, len, results);
 *   lg_smtp_free(s);
 *
 * SUMMARY
 *   One lg_smtp is one libcurl handle, so consecutive sends reuse the SMTP
 *   connection. lg_smtp_send() runs one SMTP transaction per recipient, so
 *   each recipient has a result of its own (libcurl reports only a
 *   transaction's last reply): a rejected recipient does not fail the
 *   others, and a caller that retries re-sends only to the ones that
 *   failed. Used by the outbox (notifications) and the mailer.
 */
#ifndef LG_SMTP_SEND_H
#define LG_SMTP_SEND_H

#include <glib.h>

G_BEGIN_DECLS

typedef struct lg_smtp lg_smtp;

typedef struct {
	char *rcpt;
	gboolean ok;                /* the MTA took it (250) */
	gboolean permanent;         /* a 5xx reply: never retry */
	long code;                  /* last SMTP reply code; 0: none (connection failed) */
	char *error;                /* NULL when ok */
	gboolean data_done;         /* the data hook ran: the end of DATA may have reached the MTA */
} lg_smtp_result;

/* Called once per transaction from inside libcurl's read callback, on
 * the read after the message's last byte (every byte of it is written to
 * the socket by then): the MTA cannot have the end of DATA before the hook
 * returns, and libcurl sends it right after. FALSE aborts the transfer (the MTA never
 * sees the end of DATA, so it drops the message). The mailer makes its
 * "phase data" mark durable here (see mailer.c). */
typedef gboolean (*lg_smtp_data_hook)(gpointer data);

/* @abort (may be NULL): set non-zero by another thread to cut a transfer short. */
lg_smtp *lg_smtp_new(const char *url, int connect_timeout, int timeout, const gint *abort);
void lg_smtp_free(lg_smtp *s);
/* @hook NULL: none. Applies to the sends that follow. */
void lg_smtp_set_data_hook(lg_smtp *s, lg_smtp_data_hook hook, gpointer data);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(lg_smtp, lg_smtp_free)

/* Sends @data (a whole message, CRLF or LF line ends) from @from to each of
 * @rcpts (NULL-terminated); appends one lg_smtp_result per recipient, in
 * order, to @results (an array of lg_smtp_result with
 * lg_smtp_result_clear as its clear function). Returns how many were taken. */
guint lg_smtp_send(lg_smtp *s, const char *from, const char *const *rcpts, const char *data, gsize len,
                   GArray *results);
void lg_smtp_result_clear(gpointer r);

G_END_DECLS

#endif
