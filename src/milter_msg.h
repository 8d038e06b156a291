/*
 * NAME
 *   milter_msg.h - the milter's message assembly, its spool files and the
 *   event it hands to the sync filter.
 *
 * SYNOPSIS
 *   c = lg_milter_conn_new(&spool);            at the connection
 *   lg_milter_conn_connect(c, daemon, name, addr); lg_milter_conn_helo(c, helo);
 *   lg_milter_conn_mail(c, cfg, argv0, auth_authen, daemon_name);
 *   lg_milter_conn_rcpt(c, argv0); ...
 *   lg_milter_conn_data_begins(c, users);       before the first header
 *   lg_milter_conn_header(c, name, value, leadspc); ... lg_milter_conn_eoh(c);
 *   lg_milter_conn_body(c, chunk, len); ...
 *   e = lg_milter_conn_eom(c, queue_id, &error);  the event, or NULL
 *   ... lg_milter_event_record(st, cfg, spool.dir, e, log, &error) ...
 *
 * SUMMARY
 *   leadgate-milter (milter/milter.c) is a thin libmilter shell over this:
 *   each callback calls the lg_milter_conn_* of its step, and never waits
 *   for the store. Everything here is what a stranger's bytes go through
 *   before the filter, so it is fuzzed without libmilter
 *   (tests/fuzz/fuzz-milter.c drives the same calls).
 *
 *   Assembly: a message is rebuilt from its headers (name, ":" and the
 *   value as the MTA gave it, CRLF), the blank line and the body chunks.
 *   At most [milter] spool_mem_limit bytes stay in memory; past that the
 *   message goes on in NAME.msg in the spool folder, made by
 *   lg_spool_file_create (O_EXCL, never through a symbolic link, mode
 *   0600). A write that fails leaves the message unsynced (eom says why),
 *   never the mail delayed. Recipients past LG_MILTER_RCPT_MAX are not
 *   kept. Sync off for the direction, or inbound mail none of whose
 *   recipients is a user (lg_milter_conn_data_begins), is not collected.
 *
 *   Direction: outbound when the session authenticated or its daemon name
 *   is in [milter] outbound_daemons; inbound otherwise.
 *
 *   Events: end of message makes an lg_milter_event: the bytes (in memory,
 *   or in its NAME.msg) and the envelope. lg_milter_event_spool() writes
 *   it to the spool folder (NAME.msg, then NAME.evt, written as
 *   NAME.evt.tmp and renamed into place so that only complete events are
 *   read); names sort in arrival order. lg_milter_event_load() reads one
 *   back, lg_milter_event_done() removes its files once recorded (or keeps
 *   the message as NAME.bad), and lg_milter_event_record() runs it
 *   through the sync filter (src/sync.c) into the store.
 *
 *   An lg_milter_conn is used by one thread at a time; the spool's counter
 *   and flag are atomic.
 */
#ifndef LG_MILTER_MSG_H
#define LG_MILTER_MSG_H

#include <glib.h>
#include "config.h"
#include "store.h"

G_BEGIN_DECLS

/* Recipients of one message kept (the rest are ignored). */
#define LG_MILTER_RCPT_MAX 10000

/* The spool folder of one daemon. */
typedef struct {
	char *dir;
	gint seq;            /* names made so far (the order of arrival) */
	gint dirty;          /* an event may be waiting in the folder */
} lg_milter_spool;

/* One message seen, with what the MTA said about it. */
typedef struct {
	char *base;          /* spool path without suffix once it has files; else NULL */
	GByteArray *data;    /* the message while in memory; NULL when in base.msg */
	gboolean out;
	char *sender, *login, *queue_id, *daemon, *client_addr, *client_name, *helo;
	GPtrArray *rcpts;    /* char* */
} lg_milter_event;

typedef struct lg_milter_conn lg_milter_conn;

typedef enum { LG_MILTER_DONE, LG_MILTER_LATER, LG_MILTER_BAD } lg_milter_result;

lg_milter_conn *lg_milter_conn_new(lg_milter_spool *spool);
void lg_milter_conn_free(lg_milter_conn *c);
/* The connection's facts; NULLs are fine. The daemon name is kept once set. */
void lg_milter_conn_connect(lg_milter_conn *c, const char *daemon, const char *client_name,
                            const char *client_addr);
void lg_milter_conn_helo(lg_milter_conn *c, const char *helo);
/* MAIL FROM: a new message (one under way is dropped). @cfg is referenced
 * for the message's life; @login and @daemon are the {auth_authen} and
 * {daemon_name} macros (NULL or "" when absent). */
void lg_milter_conn_mail(lg_milter_conn *c, lg_config *cfg, const char *sender, const char *login,
                         const char *daemon);
void lg_milter_conn_rcpt(lg_milter_conn *c, const char *rcpt);
/* TRUE once headers (or the end of them) have begun for this message. */
gboolean lg_milter_conn_in_data(const lg_milter_conn *c);
/* At the first header: inbound mail for none of @users (canonical
 * addresses; NULL: not known yet, collect everything) is not collected. */
void lg_milter_conn_data_begins(lg_milter_conn *c, GHashTable *users);
/* With @leadspc, @value keeps the blank after the colon (SMFIP_HDR_LEADSPC). */
void lg_milter_conn_header(lg_milter_conn *c, const char *name, const char *value, gboolean leadspc);
void lg_milter_conn_eoh(lg_milter_conn *c);
void lg_milter_conn_body(lg_milter_conn *c, const void *chunk, gsize len);
/* End of message: the event to record (the connection is ready for the
 * next message), or NULL: nothing to sync (no message, not collected, or
 * empty), or, with @error set, a spool write failed and this message is
 * not synced. */
lg_milter_event *lg_milter_conn_eom(lg_milter_conn *c, const char *queue_id, GError **error);
/* The message is abandoned (SMFIC_ABORT). */
void lg_milter_conn_abort(lg_milter_conn *c);

void lg_milter_event_free(lg_milter_event *e);
/* Writes @e to the spool folder (its message first unless already there,
 * then its envelope file renamed into place); FALSE with @error when the
 * folder does not take it. */
gboolean lg_milter_event_spool(lg_milter_spool *spool, lg_milter_event *e, GError **error);
/* The event of @base.evt; NULL with @error when unreadable. */
lg_milter_event *lg_milter_event_load(const char *base, GError **error);
/* The files of an event recorded (removed), or that can never be recorded
 * (@bad: the message kept as NAME.bad, written there first when it was in
 * memory; *@kept_r is that path, else NULL). */
void lg_milter_event_done(lg_milter_spool *spool, lg_milter_event *e, gboolean bad, char **kept_r);
/* Runs @e through the sync filter (inside the caller's transaction, if
 * one is open); its log lines go to @log. LG_MILTER_LATER with @error
 * when the store is unavailable (nothing written), LG_MILTER_BAD with
 * @error when the event can never be recorded. */
lg_milter_result lg_milter_event_record(lg_store *st, lg_config *cfg, const char *spool_dir, lg_milter_event *e,
                                        GString *log, GError **error);

G_END_DECLS

G_DEFINE_AUTOPTR_CLEANUP_FUNC(lg_milter_event, lg_milter_event_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(lg_milter_conn, lg_milter_conn_free)

#endif
