/*
 * NAME
 *   milter_msg.c - the milter's message assembly, spool files and events
 *   (see milter_msg.h).
 */
#include "config.h"
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include "lg.h"
#include "address.h"
#include "envelope.h"
#include "message.h"
#include "milter_msg.h"
#include "privs.h"
#include "raw.h"
#include "sync.h"

struct lg_milter_conn {
	lg_milter_spool *spool;
	char *daemon;             /* {daemon_name} */
	char *client_addr, *client_name, *helo;
	/* the message under way */
	lg_config *cfg;
	gboolean active;          /* between MAIL and end of message */
	gboolean skip;            /* not collected (sync off, or for no user) */
	gboolean in_data;         /* headers have begun */
	gboolean outbound;
	char *sender, *login;
	GPtrArray *rcpts;
	GByteArray *buf;
	int fd;
	char *base;               /* spool path without .msg/.evt */
	gsize size;
	GError *broken;           /* a spool write failed: the event is dropped */
};

/* ---- spool files ----------------------------------------------------------- */

static gboolean
write_all(int fd, const guint8 *p, gsize n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return FALSE;
		}
		p += w;
		n -= (gsize) w;
	}
	return TRUE;
}

/* A new NAME.msg: names sort in the order of arrival (time, process,
 * counter), and end in random letters so that no name can be guessed
 * ahead; *@base_r is the path without ".msg". */
static int
msg_file_create(lg_milter_spool *spool, char **base_r, GError **error)
{
	g_autofree char *tmpl = g_strdup_printf("%016" G_GINT64_MODIFIER "x-%d-%08x-XXXXXX.msg",
	                                        g_get_real_time(), (int) getpid(),
	                                        (unsigned) g_atomic_int_add(&spool->seq, 1));
	g_autofree char *path = NULL;
	int fd = lg_spool_file_create(spool->dir, tmpl, &path, error);

	if (fd >= 0)
		*base_r = g_strndup(path, strlen(path) - 4);
	return fd;
}

static gboolean
event_write_msg(lg_milter_spool *spool, lg_milter_event *e, GError **error)
{
	if (e->data == NULL)
		return TRUE;
	g_autofree char *base = NULL;
	int fd = msg_file_create(spool, &base, error);
	if (fd < 0)
		return FALSE;
	gboolean ok = write_all(fd, e->data->data, e->data->len);
	int err = errno;
	if (close(fd) != 0 && ok) {
		ok = FALSE;
		err = errno;
	}
	if (!ok) {
		g_autofree char *m = g_strconcat(base, ".msg", NULL);
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(err), "spool %s: %s", m, g_strerror(err));
		g_unlink(m);
		return FALSE;
	}
	g_clear_pointer(&e->data, g_byte_array_unref);
	e->base = g_steal_pointer(&base);
	return TRUE;
}

static void
kf_set(GKeyFile *kf, const char *key, const char *v)
{
	if (v != NULL)
		g_key_file_set_string(kf, "event", key, v);
}

gboolean
lg_milter_event_spool(lg_milter_spool *spool, lg_milter_event *e, GError **error)
{
	if (!event_write_msg(spool, e, error))
		return FALSE;
	g_autoptr(GKeyFile) kf = g_key_file_new();
	kf_set(kf, "direction", e->out ? "out" : "in");
	kf_set(kf, "sender", e->sender);
	if (e->rcpts != NULL)
		g_key_file_set_string_list(kf, "event", "recipients", (const char *const *) e->rcpts->pdata,
		                           e->rcpts->len);
	kf_set(kf, "login", e->login);
	kf_set(kf, "queue_id", e->queue_id);
	kf_set(kf, "daemon", e->daemon);
	kf_set(kf, "client_addr", e->client_addr);
	kf_set(kf, "client_name", e->client_name);
	kf_set(kf, "helo", e->helo);
	gsize len = 0;
	g_autofree char *data = g_key_file_to_data(kf, &len, NULL);
	g_autofree char *name = g_path_get_basename(e->base);
	g_autofree char *tmpl = g_strconcat(name, ".evt.tmp", NULL);
	g_autofree char *tmp = NULL;
	g_autofree char *evt = g_strconcat(e->base, ".evt", NULL);
	int fd = lg_spool_file_create(spool->dir, tmpl, &tmp, error);
	if (fd < 0)
		return FALSE;
	gboolean ok = write_all(fd, (const guint8 *) data, len);
	int err = errno;
	if (close(fd) != 0 && ok) {
		ok = FALSE;
		err = errno;
	}
	if (ok && g_rename(tmp, evt) != 0) {
		ok = FALSE;
		err = errno;
	}
	if (!ok) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(err), "spool %s: %s", evt, g_strerror(err));
		g_unlink(tmp);
		return FALSE;
	}
	g_atomic_int_set(&spool->dirty, 1);
	return TRUE;
}

lg_milter_event *
lg_milter_event_load(const char *base, GError **error)
{
	g_autofree char *evt = g_strconcat(base, ".evt", NULL);
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) err = NULL;
	if (!g_key_file_load_from_file(kf, evt, G_KEY_FILE_NONE, &err)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "event %s: %s", evt, err->message);
		return NULL;
	}
	lg_milter_event *e = g_new0(lg_milter_event, 1);
	e->base = g_strdup(base);
	g_autofree char *dir = g_key_file_get_string(kf, "event", "direction", NULL);
	e->out = g_strcmp0(dir, "out") == 0;
	e->sender = g_key_file_get_string(kf, "event", "sender", NULL);
	e->login = g_key_file_get_string(kf, "event", "login", NULL);
	e->queue_id = g_key_file_get_string(kf, "event", "queue_id", NULL);
	e->daemon = g_key_file_get_string(kf, "event", "daemon", NULL);
	e->client_addr = g_key_file_get_string(kf, "event", "client_addr", NULL);
	e->client_name = g_key_file_get_string(kf, "event", "client_name", NULL);
	e->helo = g_key_file_get_string(kf, "event", "helo", NULL);
	e->rcpts = g_ptr_array_new_with_free_func(g_free);
	g_auto(GStrv) rcpts = g_key_file_get_string_list(kf, "event", "recipients", NULL, NULL);
	for (char **r = rcpts; r && *r && e->rcpts->len < LG_MILTER_RCPT_MAX; r++)
		g_ptr_array_add(e->rcpts, g_strdup(*r));
	return e;
}

void
lg_milter_event_done(lg_milter_spool *spool, lg_milter_event *e, gboolean bad, char **kept_r)
{
	if (kept_r != NULL)
		*kept_r = NULL;
	if (bad && e->data != NULL && !event_write_msg(spool, e, NULL))
		return;   /* in memory, and not even that could be kept */
	if (e->base == NULL)
		return;
	g_autofree char *evt = g_strconcat(e->base, ".evt", NULL);
	g_autofree char *msgf = g_strconcat(e->base, ".msg", NULL);
	if (bad) {
		g_autofree char *keep = g_strconcat(e->base, ".bad", NULL);
		if (g_rename(msgf, keep) == 0 && kept_r != NULL)
			*kept_r = g_steal_pointer(&keep);
	} else {
		g_unlink(msgf);
	}
	/* the envelope goes last: a crash in between leaves a .msg alone,
	 * which the next start removes */
	g_unlink(evt);
}

void
lg_milter_event_free(lg_milter_event *e)
{
	if (e == NULL)
		return;
	g_free(e->base);
	if (e->data)
		g_byte_array_unref(e->data);
	g_free(e->sender);
	g_free(e->login);
	g_free(e->queue_id);
	g_free(e->daemon);
	g_free(e->client_addr);
	g_free(e->client_name);
	g_free(e->helo);
	if (e->rcpts)
		g_ptr_array_unref(e->rcpts);
	g_free(e);
}

/* ---- assembly -------------------------------------------------------------- */

lg_milter_conn *
lg_milter_conn_new(lg_milter_spool *spool)
{
	lg_milter_conn *c = g_new0(lg_milter_conn, 1);
	c->spool = spool;
	c->fd = -1;
	return c;
}

static void
msg_reset(lg_milter_conn *c)
{
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	if (c->base != NULL) {
		g_autofree char *m = g_strconcat(c->base, ".msg", NULL);
		g_unlink(m);
	}
	g_clear_pointer(&c->base, g_free);
	g_clear_pointer(&c->sender, g_free);
	g_clear_pointer(&c->login, g_free);
	g_clear_pointer(&c->rcpts, g_ptr_array_unref);
	g_clear_pointer(&c->buf, g_byte_array_unref);
	g_clear_pointer(&c->cfg, lg_config_unref);
	g_clear_error(&c->broken);
	c->active = c->skip = c->outbound = c->in_data = FALSE;
	c->size = 0;
}

void
lg_milter_conn_free(lg_milter_conn *c)
{
	if (c == NULL)
		return;
	msg_reset(c);
	g_free(c->daemon);
	g_free(c->client_addr);
	g_free(c->client_name);
	g_free(c->helo);
	g_free(c);
}

void
lg_milter_conn_connect(lg_milter_conn *c, const char *daemon, const char *client_name, const char *client_addr)
{
	if (c->daemon == NULL && daemon != NULL && *daemon)
		c->daemon = g_strdup(daemon);
	g_free(c->client_name);
	c->client_name = g_strdup(client_name);
	g_free(c->client_addr);
	c->client_addr = g_strdup(client_addr);
}

void
lg_milter_conn_helo(lg_milter_conn *c, const char *helo)
{
	g_free(c->helo);
	c->helo = g_strdup(helo);
}

/* @a without blanks around it and without one pair of angle brackets. */
static char *
strip_brackets(const char *a)
{
	g_autofree char *s = g_strstrip(g_strdup(a ? a : ""));
	gsize n = strlen(s);
	if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
		s[n - 1] = '\0';
		return g_strdup(s + 1);
	}
	return g_steal_pointer(&s);
}

void
lg_milter_conn_mail(lg_milter_conn *c, lg_config *cfg, const char *sender, const char *login, const char *daemon)
{
	msg_reset(c);
	c->cfg = lg_config_ref(cfg);
	c->active = TRUE;
	c->rcpts = g_ptr_array_new_with_free_func(g_free);
	c->buf = g_byte_array_new();
	g_autofree char *s = strip_brackets(sender);
	c->sender = *s ? lg_addr_normalize(s) : g_strdup("");
	if (c->sender == NULL)
		c->sender = g_strdup("");   /* not an address: judged like a null sender */
	c->login = login != NULL && *login ? g_strdup(login) : NULL;
	if (c->daemon == NULL && daemon != NULL && *daemon)
		c->daemon = g_strdup(daemon);
	c->outbound = c->login != NULL ||
	              (c->daemon != NULL && c->cfg->outbound_daemons != NULL &&
	               g_strv_contains((const char *const *) c->cfg->outbound_daemons, c->daemon));
	const lg_sync_dir_config *dc = c->outbound ? &c->cfg->sync_out : &c->cfg->sync_in;
	c->skip = !c->cfg->sync_enabled || !dc->enabled;
}

void
lg_milter_conn_rcpt(lg_milter_conn *c, const char *rcpt)
{
	if (!c->active || rcpt == NULL)
		return;
	g_autofree char *r = strip_brackets(rcpt);
	char *n = lg_addr_normalize(r);
	if (n != NULL && c->rcpts->len < LG_MILTER_RCPT_MAX)
		g_ptr_array_add(c->rcpts, n);
	else
		g_free(n);
}

gboolean
lg_milter_conn_in_data(const lg_milter_conn *c)
{
	return c->in_data;
}

void
lg_milter_conn_data_begins(lg_milter_conn *c, GHashTable *users)
{
	c->in_data = TRUE;
	if (c->outbound || c->skip || !c->active)
		return;
	gboolean for_user = users == NULL;
	for (guint i = 0; !for_user && i < c->rcpts->len; i++)
		for_user = g_hash_table_contains(users, c->rcpts->pdata[i]);
	c->skip = !for_user;
}

static void
broken(lg_milter_conn *c, const char *what)
{
	int e = errno;
	if (c->broken == NULL)
		g_set_error(&c->broken, G_IO_ERROR, g_io_error_from_errno(e), "spool %s: %s", what, g_strerror(e));
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
}

static void
collect(lg_milter_conn *c, const void *data, gsize len)
{
	if (!c->active || c->skip || c->broken != NULL || len == 0)
		return;
	c->size += len;
	if (c->fd < 0 && c->buf->len + len <= (gsize) c->cfg->milter_spool_mem_limit) {
		g_byte_array_append(c->buf, data, (guint) len);
		return;
	}
	if (c->fd < 0) {
		g_autoptr(GError) err = NULL;
		c->fd = msg_file_create(c->spool, &c->base, &err);
		if (c->fd < 0) {
			g_clear_pointer(&c->base, g_free);
			c->broken = g_error_new(G_IO_ERROR, err->code, "spool open: %s", err->message);
			return;
		}
		if (!write_all(c->fd, c->buf->data, c->buf->len)) {
			broken(c, "write");
			return;
		}
		g_byte_array_set_size(c->buf, 0);
	}
	if (!write_all(c->fd, data, len))
		broken(c, "write");
}

void
lg_milter_conn_header(lg_milter_conn *c, const char *name, const char *value, gboolean leadspc)
{
	if (!c->in_data)
		lg_milter_conn_data_begins(c, NULL);
	if (name == NULL)
		return;
	collect(c, name, strlen(name));
	collect(c, leadspc ? ":" : ": ", leadspc ? 1 : 2);
	if (value != NULL)
		collect(c, value, strlen(value));
	collect(c, "\r\n", 2);
}

void
lg_milter_conn_eoh(lg_milter_conn *c)
{
	if (!c->in_data)
		lg_milter_conn_data_begins(c, NULL);
	collect(c, "\r\n", 2);
}

void
lg_milter_conn_body(lg_milter_conn *c, const void *chunk, gsize len)
{
	if (chunk != NULL)
		collect(c, chunk, len);
}

lg_milter_event *
lg_milter_conn_eom(lg_milter_conn *c, const char *queue_id, GError **error)
{
	if (!c->active)
		return NULL;
	if (c->skip || c->size == 0) {
		msg_reset(c);
		return NULL;
	}
	if (c->fd >= 0 && c->broken == NULL && close(c->fd) != 0) {
		c->fd = -1;
		broken(c, "close");
	}
	c->fd = -1;
	if (c->broken != NULL) {
		g_propagate_error(error, g_steal_pointer(&c->broken));
		msg_reset(c);
		return NULL;
	}
	lg_milter_event *e = g_new0(lg_milter_event, 1);
	e->base = g_steal_pointer(&c->base);
	e->data = e->base ? NULL : g_steal_pointer(&c->buf);
	e->out = c->outbound;
	e->sender = g_steal_pointer(&c->sender);
	e->login = g_steal_pointer(&c->login);
	e->rcpts = g_steal_pointer(&c->rcpts);
	e->queue_id = queue_id != NULL && *queue_id ? g_strdup(queue_id) : NULL;
	e->daemon = g_strdup(c->daemon);
	e->client_addr = g_strdup(c->client_addr);
	e->client_name = g_strdup(c->client_name);
	e->helo = g_strdup(c->helo);
	msg_reset(c);
	return e;
}

void
lg_milter_conn_abort(lg_milter_conn *c)
{
	msg_reset(c);
}

/* ---- recording ------------------------------------------------------------- */

lg_milter_result
lg_milter_event_record(lg_store *st, lg_config *cfg, const char *spool_dir, lg_milter_event *e, GString *log,
                       GError **error)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(lg_envelope) env = lg_envelope_new(e->sender ? e->sender : "");
	for (guint i = 0; e->rcpts && i < e->rcpts->len; i++)
		lg_envelope_add_rcpt(env, e->rcpts->pdata[i]);
	env->queue_id = g_strdup(e->queue_id);
	env->client_addr = g_strdup(e->client_addr);
	env->client_name = g_strdup(e->client_name);
	env->client_helo = g_strdup(e->helo);
	const char *qid = e->queue_id ? e->queue_id : "-";

	g_autofree char *msgf = e->base ? g_strconcat(e->base, ".msg", NULL) : NULL;
	g_autoptr(lg_raw) raw = NULL;
	if (e->data != NULL)
		raw = lg_raw_new_from_data(e->data->data, e->data->len);
	else if (msgf != NULL)
		raw = lg_raw_new_from_spool(msgf, spool_dir, &err);
	else
		g_set_error_literal(&err, LG_MESSAGE_ERROR, LG_MESSAGE_ERROR_IO, "an event without a message");
	if (raw == NULL) {
		g_set_error(error, err->domain, err->code, "queue=%s: %s", qid, err->message);
		return LG_MILTER_BAD;
	}
	lg_parse_options opts;
	lg_sync_parse_options(cfg, &opts);
	g_autoptr(lg_message) msg = lg_message_parse(raw, &opts, &err);
	if (msg == NULL) {
		g_set_error(error, err->domain, err->code, "queue=%s: %s", qid, err->message);
		return LG_MILTER_BAD;
	}
	lg_sync_input in = { .direction = e->out ? LG_SYNC_OUT : LG_SYNC_IN, .login = e->login, .source = "milter" };
	g_autoptr(GPtrArray) outcomes = NULL;
	const char *mid = msg->message_id ? msg->message_id : "";
	if (!lg_sync_message(st, cfg, raw, msg, env, &in, &outcomes, &err)) {
		if (lg_error_is_temporary(err)) {
			g_propagate_error(error, g_steal_pointer(&err));
			return LG_MILTER_LATER;
		}
		g_set_error(error, err->domain, err->code, "queue=%s msgid=<%s>: %s", qid, mid, err->message);
		return LG_MILTER_BAD;
	}
	const char *d = e->out ? "out" : "in";
	if (outcomes->len == 0)
		g_string_append_printf(log, "queue=%s msgid=<%s> dir=%s sender=<%s>: no user to sync\n", qid, mid, d,
		                       env->sender);
	for (guint i = 0; i < outcomes->len; i++) {
		lg_sync_outcome *o = outcomes->pdata[i];
		g_string_append_printf(log, "queue=%s msgid=<%s> dir=%s user=<%s> %s%s%s counterpart=<%s> lead=%"
		                       G_GINT64_FORMAT "%s\n", qid, mid, d,
		                       o->user, o->outcome, o->reason ? " reason=" : "", o->reason ? o->reason : "",
		                       o->counterpart, o->lead_id, o->recorded ? "" : " (recorded before)");
	}
	return LG_MILTER_DONE;
}
