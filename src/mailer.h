/*
 * NAME
 *   mailer.h - campaigns (SPEC §11): templates, the message, the sender.
 *
 * SYNOPSIS
 *   lg_mailer_template_parse(text, &subject, &body, &error);
 *   lg_mailer_run(st, cfg, max, &abort, report, data, &stats, &error);
 *
 * SUMMARY
 *   A template reads like a message: a "Subject:" header, a blank line, the
 *   text body; an optional HTML body comes from a second file. Placeholders
 *   {{contact.name}}, {{organization.name}}, {{ticket.number}},
 *   {{ticket.subject}}, {{lead.id}} (and {{contact.email}}) are filled from
 *   the store as text: escaped in HTML, CR/LF removed in the subject. An
 *   unknown placeholder is an error when the campaign is created.
 *
 *   lg_mailer_run() sends what is due exactly once per recipient; see
 *   mailer.c for how, and for the one ambiguous case.
 */
#ifndef LG_MAILER_H
#define LG_MAILER_H

#include <glib.h>
#include "config.h"
#include "store.h"
#include "store_mailer.h"

G_BEGIN_DECLS

#define LG_MAILER_ERROR (lg_mailer_error_quark())
GQuark lg_mailer_error_quark(void);
enum { LG_MAILER_ERROR_TEMPLATE };

extern const char *const lg_mailer_placeholders[];

/* Splits a template file's text into its subject and text body; checks
 * every placeholder of both. */
gboolean lg_mailer_template_parse(const char *text, char **subject_r, char **body_r, GError **error);
/* Checks the placeholders of @text (@what names it in the error). */
gboolean lg_mailer_template_check(const char *text, const char *what, GError **error);
/* Fills @tmpl's placeholders from @values; @html: values HTML-escaped. */
char *lg_mailer_render(const char *tmpl, GHashTable *values, gboolean html);

/* The campaign message for @recipient (CRLF line ends). @send_id is the
 * outbox row (0 for a preview), @end_user_id the unsubscribe token's.
 * *@message_id_r gets the Message-ID without <>. */
char *lg_mailer_build(const lg_campaign *c, GHashTable *values, const char *recipient, gint64 send_id,
                      gint64 end_user_id, const lg_config *cfg, const char *ref_key, char **message_id_r,
                      gsize *len_r);

typedef struct {
	guint sent, retried, failed, skipped, released, requeued, assumed, dropped, scheduled;
	gboolean paced;             /* stopped at [mailer] per_minute */
} lg_mailer_stats;

typedef void (*lg_mailer_report)(const lg_mailer_item *it, lg_mailer_outcome outcome, double delay,
                                 const char *text, gpointer data);

/* Resolves dead claims, schedules triggered sends, drops late ones, then
 * sends up to @max due rows; returns when nothing is due, at @max, at the
 * per_minute cap, or when *@abort is set. FALSE only on a store error. */
gboolean lg_mailer_run(lg_store *st, const lg_config *cfg, guint max, const gint *abort, lg_mailer_report report,
                       gpointer data, lg_mailer_stats *stats, GError **error);

G_END_DECLS

#endif
