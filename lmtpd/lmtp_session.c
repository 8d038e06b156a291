/*
 * NAME
 *   lmtp_session.c - one LMTP session (RFC 2033): commands, DATA, BDAT.
 *
 * SUMMARY
 *   lmtp_session_run() is a plain loop: read a line, look the verb up in
 *   lmtp_commands[], check its preconditions, call its handler. Replies are
 *   queued and written before the next read that would block (pipelining).
 *   After DATA or BDAT LAST the message goes through the core library
 *   (lg_delivery_parse and lg_delivery_apply, both in the writer thread) and
 *   the session answers once per accepted recipient, in RCPT order.
 *
 * STATES
 *   greeting -> [LHLO] -> ready -> MAIL -> RCPT... -> DATA | BDAT... LAST
 *   -> ready. LHLO and RSET go back to ready from anywhere; QUIT, EOF, a
 *   timeout or too many errors end the session. Commands out of sequence
 *   get 503, unknown verbs 500, bad arguments 501/555, lines longer than
 *   LMTP_LINE_MAX 500 5.5.2.
 *
 * MESSAGE BYTES
 *   DATA: lines are dot-unstuffed; a line "." ends the message. CRLF and a
 *   bare LF both end a line. BDAT: exactly the announced bytes, no
 *   unstuffing. In both cases lg_raw stores CRLF as LF (so the same message
 *   sent either way has the same content hash and is a duplicate), and
 *   nothing is added to the message: no Received or Return-Path header,
 *   which would make every re-delivery differ. The envelope travels beside
 *   the message in an lg_envelope.
 *
 *   The size limit is enforced while reading: past max_message_size the raw
 *   copy is dropped and the rest is read and thrown away, then 552 5.3.4.
 *
 * REPLY CODES
 *   220 greeting, 221 QUIT, 250 success, 252 VRFY, 354 DATA,
 *   421 shutdown / timeout / session time / too many errors, 451 4.3.0 store or internal
 *   failure, 452 4.3.1 store out of space, 452 4.5.3 too many recipients,
 *   500 unknown or HELO/EHLO or line too long, 501 syntax, 503 sequence,
 *   550 5.1.1 unknown recipient, 552 5.3.4 too big, 554 no valid
 *   recipients or empty message, 555 unsupported MAIL/RCPT parameter.
 *   A store problem is never answered with 5xx.
 */
#include <string.h>

#include "lmtpd.h"
#include "lmtp_io.h"
#include "lmtp_loop.h"
#include "address.h"
#include "envelope.h"
#include "raw.h"
#include "spf.h"

#define LMTP_LINE_MAX   2048   /* longest command line (RFC 5321 asks 512) */
#define LMTP_MAX_ERRORS 20     /* protocol errors before we hang up */
/* A message transfer (DATA, or one BDAT chunk) must end within
 * data_timeout plus one second per LMTP_MIN_DATA_RATE bytes received, as
 * Postfix's smtpd_min_data_rate: a client that trickles bytes cannot hold
 * its session (and a max_connections slot) longer than that, while a big
 * message sent at any honest speed has all the time it needs. */
#define LMTP_MIN_DATA_RATE 500 /* bytes per second */

/* --- message sink: bytes -> lg_raw (staged), size limit ---------------- */

typedef struct {
	lg_raw *raw;           /* NULL once too big or failed */
	gint64 size;           /* bytes stored so far */
	gint64 limit;          /* max_message_size; 0 = none */
	gboolean too_big;
	GError *error;         /* lg_raw_write failed */
	gsize staged;
	char stage[16384];
} lmtp_sink;

static void
sink_init(lmtp_sink *k, const lg_config *cfg)
{
	k->raw = lg_raw_new(cfg->spool_dir != NULL && *cfg->spool_dir ? cfg->spool_dir : NULL,
	                    (gsize)cfg->spool_mem_limit);
	k->size = 0;
	k->limit = cfg->max_message_size;
	k->too_big = FALSE;
	k->error = NULL;
	k->staged = 0;
}

static void
sink_clear(lmtp_sink *k)
{
	g_clear_pointer(&k->raw, lg_raw_free);
	g_clear_error(&k->error);
	k->staged = 0;
}

static void
sink_flush(lmtp_sink *k)
{
	if (k->raw != NULL && k->staged > 0 &&
	    !lg_raw_write(k->raw, k->stage, k->staged, &k->error))
		g_clear_pointer(&k->raw, lg_raw_free);
	k->staged = 0;
}

static void
sink_emit(lmtp_sink *k, const char *p, gsize n)
{
	if (k->raw == NULL)
		return;
	k->size += (gint64)n;
	if (k->limit > 0 && k->size > k->limit) {
		k->too_big = TRUE;
		g_clear_pointer(&k->raw, lg_raw_free);
		return;
	}
	while (n > 0) {
		gsize room = sizeof k->stage - k->staged;
		gsize m = MIN(room, n);

		memcpy(k->stage + k->staged, p, m);
		k->staged += m;
		p += m;
		n -= m;
		if (k->staged == sizeof k->stage)
			sink_flush(k);
	}
}

/* Stores @n bytes as they came; lg_raw turns CRLF into LF. The size limit
 * counts what the client sent, CRLF as two bytes, as SIZE (RFC 1870) does. */
static void
sink_put(lmtp_sink *k, const char *p, gsize n)
{
	sink_emit(k, p, n);
}

/* Ends the message: TRUE when k->raw holds a finished copy. */
static gboolean
sink_finish(lmtp_sink *k)
{
	sink_flush(k);
	if (k->raw != NULL && !lg_raw_finish(k->raw, &k->error))
		g_clear_pointer(&k->raw, lg_raw_free);
	return k->raw != NULL;
}

/* --- session state ----------------------------------------------------- */

enum { XF_NAME, XF_ADDR, XF_PORT, XF_PROTO, XF_HELO, XF_IDENT, XF_SOURCE, XF_COUNT };
static const char *const xforward_names[XF_COUNT] = {
	"NAME", "ADDR", "PORT", "PROTO", "HELO", "IDENT", "SOURCE"
};

typedef struct {
	char sid[24];
	const char *peer;
	lmtp_io *io;
	lmtpd_conf *conf;      /* snapshot; renewed between transactions */
	lg_store *st;          /* for RCPT checks; opened on first use */
	char *lhlo;            /* LHLO argument, NULL before */
	char *xforward[XF_COUNT];
	const char *last_cmd;  /* for the log */
	int errors;
	int transactions;
	gboolean quit;
	gboolean lost;         /* ended without QUIT */

	/* the transaction */
	gboolean in_mail;
	char *sender;          /* canonical, "" for <> */
	GPtrArray *rcpts;      /* char*: accepted recipients in order, may repeat */
	gboolean bdat;         /* BDAT chunks have come */
	gboolean bdat_failed;  /* ... and one failed: the rest are refused */
	lmtp_sink sink;        /* valid while bdat */
	lg_spf_check *spf;     /* SPF check started at MAIL FROM, or NULL */
} lmtp_session;

static void
session_reset(lmtp_session *s)
{
	s->in_mail = FALSE;
	g_clear_pointer(&s->sender, g_free);
	g_ptr_array_set_size(s->rcpts, 0);
	if (s->bdat)
		sink_clear(&s->sink);
	s->bdat = FALSE;
	s->bdat_failed = FALSE;
	g_clear_pointer(&s->spf, lg_spf_check_unref);
	for (int i = 0; i < XF_COUNT; i++)
		g_clear_pointer(&s->xforward[i], g_free);
}

static const lg_config *
session_cfg(lmtp_session *s)
{
	return s->conf->cfg;
}

static const char *
session_host(lmtp_session *s)
{
	const char *h = session_cfg(s)->hostname;

	return h != NULL && *h ? h : g_get_host_name();
}

/* Counts a protocol error; the caller has queued the reply. */
static void
session_error(lmtp_session *s)
{
	s->errors++;
}

/* --- small parsers ------------------------------------------------------ */

static char *
skip_spaces(char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Parses "<path>" at *@pp: sets *@addr_r to the address between the
 * brackets (source route dropped; newly allocated) and advances *@pp past
 * the '>'. FALSE on bad syntax. */
static gboolean
parse_path(char **pp, char **addr_r)
{
	char *p = skip_spaces(*pp);
	char *start, *q;
	gboolean quoted = FALSE;

	if (*p != '<')
		return FALSE;
	start = ++p;
	for (q = start; *q != '\0'; q++) {
		if (quoted && *q == '\\' && q[1] != '\0') {
			q++;
			continue;
		}
		if (*q == '"')
			quoted = !quoted;
		else if (*q == '>' && !quoted)
			break;
	}
	if (*q != '>')
		return FALSE;
	if (*start == '@') {            /* <@a,@b:user@dom>: drop the route */
		char *colon = memchr(start, ':', (gsize)(q - start));

		if (colon == NULL)
			return FALSE;
		start = colon + 1;
	}
	*addr_r = g_strndup(start, (gsize)(q - start));
	*pp = q + 1;
	return TRUE;
}

/* Next "KEY[=VALUE]" parameter of a MAIL/RCPT line, or NULL at the end. */
static char *
next_param(char **pp, char **value_r)
{
	char *p = skip_spaces(*pp);
	char *key, *eq;

	if (*p == '\0')
		return NULL;
	key = p;
	while (*p != '\0' && *p != ' ' && *p != '\t')
		p++;
	if (*p != '\0')
		*p++ = '\0';
	*pp = p;
	eq = strchr(key, '=');
	if (eq != NULL) {
		*eq = '\0';
		*value_r = eq + 1;
	} else {
		*value_r = NULL;
	}
	return key;
}

/* Strict decimal: all digits, no overflow. */
static gboolean
parse_count(const char *s, guint64 *out)
{
	guint64 v = 0;

	if (s == NULL || *s == '\0' || strlen(s) > 18)
		return FALSE;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return FALSE;
		v = v * 10 + (guint64)(*s - '0');
	}
	*out = v;
	return TRUE;
}

/* xtext (RFC 3461 §4) decoding; NULL on bad syntax. */
static char *
xtext_decode(const char *s)
{
	GString *out = g_string_new(NULL);

	for (; *s != '\0'; s++) {
		if (*s == '+') {
			int hi = g_ascii_xdigit_value(s[1]);
			int lo = hi < 0 ? -1 : g_ascii_xdigit_value(s[2]);

			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				g_string_free(out, TRUE);
				return NULL;
			}
			g_string_append_c(out, (char)(hi * 16 + lo));
			s += 2;
		} else {
			g_string_append_c(out, *s);
		}
	}
	return g_string_free(out, FALSE);
}

/* --- commands ---------------------------------------------------------- */

static void
cmd_lhlo(lmtp_session *s, char *args)
{
	const lg_config *cfg = session_cfg(s);

	if (*args == '\0') {
		lmtp_io_reply(s->io, "501 5.5.4 Syntax: LHLO hostname");
		session_error(s);
		return;
	}
	session_reset(s);
	g_free(s->lhlo);
	s->lhlo = g_strdup(args);
	lmtp_io_reply(s->io, "250-%s", session_host(s));
	lmtp_io_reply(s->io, "250-PIPELINING");
	lmtp_io_reply(s->io, "250-ENHANCEDSTATUSCODES");
	lmtp_io_reply(s->io, "250-8BITMIME");
	lmtp_io_reply(s->io, "250-SIZE %" G_GINT64_FORMAT, cfg->max_message_size);
	lmtp_io_reply(s->io, "250-CHUNKING");
	lmtp_io_reply(s->io, "250-SMTPUTF8");
	lmtp_io_reply(s->io, "250 XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE");
}

static void
cmd_helo(lmtp_session *s, char *args)
{
	lmtp_io_reply(s->io, "500 5.5.1 Error: this is LMTP, use LHLO");
	session_error(s);
}

static void
cmd_xforward(lmtp_session *s, char *args)
{
	char *value;
	char *key;
	char *decoded[XF_COUNT] = { NULL };
	gboolean any = FALSE;

	if (s->in_mail) {
		lmtp_io_reply(s->io, "503 5.5.1 Error: MAIL transaction in progress");
		session_error(s);
		return;
	}
	while ((key = next_param(&args, &value)) != NULL) {
		int i;

		for (i = 0; i < XF_COUNT; i++)
			if (g_ascii_strcasecmp(key, xforward_names[i]) == 0)
				break;
		if (i == XF_COUNT || value == NULL) {
			lmtp_io_reply(s->io, "501 5.5.4 Bad XFORWARD attribute: %s",
			              i == XF_COUNT ? "unknown name" : "no value");
			session_error(s);
			goto out;
		}
		g_clear_pointer(&decoded[i], g_free);
		if (g_ascii_strcasecmp(value, "[UNAVAILABLE]") != 0 &&
		    g_ascii_strcasecmp(value, "[TEMPUNAVAIL]") != 0) {
			decoded[i] = xtext_decode(value);
			if (decoded[i] == NULL || !g_utf8_validate(decoded[i], -1, NULL)) {
				lmtp_io_reply(s->io, "501 5.5.4 Bad XFORWARD attribute value");
				session_error(s);
				goto out;
			}
		}
		any = TRUE;
	}
	if (!any) {
		lmtp_io_reply(s->io, "501 5.5.4 Syntax: XFORWARD attribute=value...");
		session_error(s);
		goto out;
	}
	for (int i = 0; i < XF_COUNT; i++)
		if (decoded[i] != NULL) {
			g_free(s->xforward[i]);
			s->xforward[i] = g_steal_pointer(&decoded[i]);
		}
	lmtp_io_reply(s->io, "250 2.0.0 Ok");
out:
	for (int i = 0; i < XF_COUNT; i++)
		g_free(decoded[i]);
}

static void
cmd_mail(lmtp_session *s, char *args)
{
	const lg_config *cfg = session_cfg(s);
	g_autofree char *path = NULL;
	char *key, *value;

	if (s->in_mail) {
		lmtp_io_reply(s->io, "503 5.5.1 Error: nested MAIL command");
		session_error(s);
		return;
	}
	if (g_ascii_strncasecmp(args, "FROM:", 5) != 0) {
		lmtp_io_reply(s->io, "501 5.5.4 Syntax: MAIL FROM:<address>");
		session_error(s);
		return;
	}
	args += 5;
	if (!parse_path(&args, &path) || (*args != '\0' && *args != ' ')) {
		lmtp_io_reply(s->io, "501 5.1.7 Bad sender address syntax");
		session_error(s);
		return;
	}
	while ((key = next_param(&args, &value)) != NULL) {
		if (g_ascii_strcasecmp(key, "SIZE") == 0) {
			guint64 size;

			if (!parse_count(value, &size)) {
				lmtp_io_reply(s->io, "501 5.5.4 Bad SIZE parameter");
				session_error(s);
				return;
			}
			if (cfg->max_message_size > 0 && size > (guint64)cfg->max_message_size) {
				lmtp_io_reply(s->io, "552 5.3.4 Message size exceeds fixed limit");
				return;
			}
		} else if (g_ascii_strcasecmp(key, "BODY") == 0) {
			if (value == NULL || (g_ascii_strcasecmp(value, "7BIT") != 0 &&
			                      g_ascii_strcasecmp(value, "8BITMIME") != 0)) {
				lmtp_io_reply(s->io, "501 5.5.4 Unsupported BODY type");
				session_error(s);
				return;
			}
		} else if (g_ascii_strcasecmp(key, "SMTPUTF8") == 0 && value == NULL) {
			/* addresses are UTF-8 either way */
		} else {
			lmtp_io_reply(s->io, "555 5.5.4 Unsupported MAIL parameter %s", key);
			session_error(s);
			return;
		}
	}
	if (*path == '\0') {
		s->sender = g_strdup("");
	} else {
		s->sender = lg_addr_normalize(path);
		if (s->sender == NULL) {
			lmtp_io_reply(s->io, "501 5.1.7 Bad sender address syntax");
			session_error(s);
			return;
		}
	}
	s->in_mail = TRUE;
	/* SPF ([auth] mode auto or check): the helpers start on it now, so
	 * their DNS work overlaps the data transfer; the result is picked up
	 * at delivery. Only with the client address Postfix forwards. */
	if (lmtpd.spf != NULL && lg_config_auth_checks(cfg) && s->xforward[XF_ADDR] != NULL)
		s->spf = lg_spf_pool_start(lmtpd.spf, s->xforward[XF_ADDR], s->xforward[XF_HELO], s->sender);
	lmtp_io_reply(s->io, "250 2.1.0 Ok");
}

static void
spf_wake(gpointer co)
{
	lmtp_co *c = co;

	lmtp_loop_wake_cos(&c, 1);
}

/* The SPF verdict of the transaction's check, waiting for it (yielding to
 * the loop, never blocking it) if it is still under way. */
static char *
session_spf_result(lmtp_session *s)
{
	lmtp_co *co = lmtp_loop_current();
	lg_spf_result r;

	if (s->spf == NULL)
		return NULL;
	if (co != NULL && !lg_spf_check_notify(s->spf, spf_wake, co))
		lmtp_loop_wait_wakeup();
	r = lg_spf_check_wait(s->spf);   /* done by now: does not block */
	lmtpd_info(s->sid, "spf=%s client=%s sender=<%s>%s: %s", lg_spf_result_name(r),
	           s->xforward[XF_ADDR], s->sender, lg_spf_check_cached(s->spf) ? " (cached)" : "",
	           lg_spf_check_comment(s->spf) != NULL ? lg_spf_check_comment(s->spf) : "");
	return g_strdup(lg_spf_result_name(r));
}

/* RCPT's mailbox look-up, as a worker thread runs it (lmtp_loop_offload).
 * The session waits meanwhile, so its store connection is used by one
 * thread at a time. */
typedef struct {
	lmtp_session *s;
	const lg_config *cfg;
	const char *addr;
	gboolean known;
	gboolean ok;
	GError *error;
} rcpt_lookup;

static void
rcpt_lookup_run(gpointer data)
{
	rcpt_lookup *q = data;
	lmtp_session *s = q->s;

	if (lg_fault_injected("rcpt-stall")) {
		/* test hook: a look-up as slow as one on a busy database */
		lmtpd_info(s->sid, "rcpt <%s>: look-up stalls for 3 s (rcpt-stall)", q->addr);
		g_usleep(3 * G_USEC_PER_SEC);
	}
	if (s->st == NULL)
		s->st = lg_store_open(lmtpd.db_path, 0, q->cfg->busy_timeout_ms, &q->error);
	q->ok = s->st != NULL && lg_rcpt_accepts(s->st, q->cfg, q->addr, &q->known, &q->error);
	if (!q->ok)
		g_clear_pointer(&s->st, lg_store_close);
}

static void
cmd_rcpt(lmtp_session *s, char *args)
{
	const lg_config *cfg = session_cfg(s);
	g_autofree char *path = NULL;
	g_autofree char *addr = NULL;
	g_autoptr(GError) error = NULL;
	char *key, *value;
	gboolean known = FALSE;

	if (g_ascii_strncasecmp(args, "TO:", 3) != 0) {
		lmtp_io_reply(s->io, "501 5.5.4 Syntax: RCPT TO:<address>");
		session_error(s);
		return;
	}
	args += 3;
	if (!parse_path(&args, &path) || (*args != '\0' && *args != ' ') ||
	    (addr = lg_addr_normalize(path)) == NULL) {
		lmtp_io_reply(s->io, "501 5.1.3 Bad recipient address syntax");
		session_error(s);
		return;
	}
	if ((key = next_param(&args, &value)) != NULL) {
		lmtp_io_reply(s->io, "555 5.5.4 Unsupported RCPT parameter %s", key);
		session_error(s);
		return;
	}
	if (cfg->max_recipients > 0 && s->rcpts->len >= (guint)cfg->max_recipients) {
		lmtp_io_reply(s->io, "452 4.5.3 Error: too many recipients");
		return;
	}
	/* a connection of its own only when RCPT needs the mailboxes table;
	 * the look-up runs on a worker thread, which a busy database may keep
	 * for busy_timeout_ms, while the loop serves the other sessions */
	if (lg_rcpt_needs_store(cfg, addr)) {
		rcpt_lookup q = { s, cfg, addr, FALSE, FALSE, NULL };

		lmtp_loop_offload(rcpt_lookup_run, &q);
		known = q.known;
		error = q.error;
		if (!q.ok) {
			lmtpd_warn(s->sid, "rcpt <%s>: %s", addr, error != NULL ? error->message : "store");
			lmtp_io_reply(s->io, "451 4.3.0 <%s> Temporary internal error", addr);
			return;
		}
	} else if (!lg_rcpt_accepts(NULL, cfg, addr, &known, &error)) {
		lmtpd_warn(s->sid, "rcpt <%s>: %s", addr, error != NULL ? error->message : "store");
		lmtp_io_reply(s->io, "451 4.3.0 <%s> Temporary internal error", addr);
		return;
	}
	if (!known) {
		lmtpd_info(s->sid, "reject: RCPT from %s: <%s>: unknown recipient", s->peer, addr);
		lmtp_io_reply(s->io, "550 5.1.1 <%s> User unknown", addr);
		return;
	}
	g_ptr_array_add(s->rcpts, g_steal_pointer(&addr));
	lmtp_io_reply(s->io, "250 2.1.5 Ok");
}

/* One reply line per accepted recipient, all with the same code. */
static void
reply_all(lmtp_session *s, const char *code, const char *text)
{
	for (guint i = 0; i < s->rcpts->len; i++)
		lmtp_io_reply(s->io, "%s <%s> %s", code, (char *)g_ptr_array_index(s->rcpts, i), text);
}

static const char *
temp_code(const GError *error)
{
	if (error != NULL && error->domain == LG_STORE_ERROR && error->code == LG_STORE_ERROR_FULL)
		return "452 4.3.1";
	return "451 4.3.0";
}

static const char *
temp_text(const GError *error)
{
	if (error != NULL && error->domain == LG_STORE_ERROR && error->code == LG_STORE_ERROR_FULL)
		return "Insufficient system storage";
	return "Temporary internal error";
}

/* "delays=a/b/c/d" in ms: see lmtp_delays (leadgate-lmtpd(8), LOGGING) */
#define DELAYS_TEXT_MAX 96
static void
delays_format(const lmtp_delays *dl, char buf[DELAYS_TEXT_MAX])
{
	g_snprintf(buf, DELAYS_TEXT_MAX, "delays=%.2f/%.2f/%.2f/%.2f", dl->queue / 1000.0,
	           dl->batch / 1000.0, dl->sync / 1000.0, dl->wake / 1000.0);
}

/* The message is complete in s->sink (or was refused while reading):
 * deliver it and answer once per recipient. Ends the transaction. */
static void
session_deliver(lmtp_session *s, lmtp_sink *k)
{
	const lg_config *cfg = session_cfg(s);
	g_autoptr(lg_delivery) d = NULL;
	g_autoptr(GError) error = NULL;
	lg_envelope *env;
	const lg_envelope *denv;
	GPtrArray *results;
	lmtp_delays delays;
	char dtext[DELAYS_TEXT_MAX];

	s->transactions++;
	if (k->too_big) {
		lmtpd_info(s->sid, "reject: message from <%s> over the size limit (%" G_GINT64_FORMAT
		           " bytes)", s->sender, cfg->max_message_size);
		reply_all(s, "552 5.3.4", "Message size exceeds fixed limit");
		goto out;
	}
	if (!sink_finish(k)) {
		lmtpd_warn(s->sid, "spool: %s", k->error != NULL ? k->error->message : "write failed");
		reply_all(s, "451 4.3.0", "Temporary internal error");
		goto out;
	}

	env = lg_envelope_new(s->sender);
	for (guint i = 0; i < s->rcpts->len; i++)
		lg_envelope_add_rcpt(env, g_ptr_array_index(s->rcpts, i));
	env->client_name = g_strdup(s->xforward[XF_NAME]);
	env->client_addr = g_strdup(s->xforward[XF_ADDR]);
	env->client_port = g_strdup(s->xforward[XF_PORT]);
	env->client_proto = g_strdup(s->xforward[XF_PROTO]);
	env->client_helo = g_strdup(s->xforward[XF_HELO]);
	env->client_ident = g_strdup(s->xforward[XF_IDENT]);
	env->client_source = g_strdup(s->xforward[XF_SOURCE]);
	/* Postfix's LMTP client sends its queue id as XFORWARD IDENT. */
	env->queue_id = g_strdup(s->xforward[XF_IDENT]);
	env->spf_result = session_spf_result(s);

	d = lg_delivery_new(g_steal_pointer(&k->raw), env);
	if (lg_raw_size(lg_delivery_raw(d)) == 0) {
		lmtpd_warn(s->sid, "message from <%s>: the message is empty", s->sender);
		reply_all(s, "554 5.6.0", "Message is empty");
		goto out;
	}
	/* the writer thread parses it (lmtp_deliver.c), then commits it */
	if (!lmtp_deliver_commit(d, s->conf, &delays, &error)) {
		delays_format(&delays, dtext);
		lmtpd_warn(s->sid, "deferred: message from <%s> to %u recipient(s): %s %s",
		           s->sender, s->rcpts->len, error->message, dtext);
		reply_all(s, temp_code(error), temp_text(error));
		goto out;
	}

	results = lg_delivery_results(d);
	denv = lg_delivery_envelope(d);
	delays_format(&delays, dtext);
	for (guint i = 0; i < results->len; i++) {
		g_autofree char *line = lg_rcpt_result_format(d, g_ptr_array_index(results, i));

		lmtpd_info(s->sid, "%s %s", line, dtext);
	}
	for (guint i = 0; i < s->rcpts->len; i++) {
		const char *rcpt = g_ptr_array_index(s->rcpts, i);
		const lg_rcpt_result *r = NULL;
		guint idx;

		if (g_ptr_array_find_with_equal_func(denv->recipients, rcpt, g_str_equal, &idx) &&
		    idx < results->len)
			r = g_ptr_array_index(results, idx);
		if (r == NULL) {
			lmtp_io_reply(s->io, "451 4.3.0 <%s> Temporary internal error", rcpt);
			continue;
		}
		switch (r->status) {
		case LG_RCPT_RECORDED:
			if (r->ticket_number > 0)
				lmtp_io_reply(s->io, "250 2.0.0 <%s> Ok: lead %" G_GINT64_FORMAT
				              " ticket %" G_GINT64_FORMAT, rcpt, r->lead_id,
				              r->ticket_number);
			else
				lmtp_io_reply(s->io, "250 2.0.0 <%s> Ok: lead %" G_GINT64_FORMAT,
				              rcpt, r->lead_id);
			break;
		case LG_RCPT_DUPLICATE:
			lmtp_io_reply(s->io, "250 2.0.0 <%s> Ok: duplicate of lead %" G_GINT64_FORMAT,
			              rcpt, r->lead_id);
			break;
		case LG_RCPT_QUARANTINED:
			lmtp_io_reply(s->io, "250 2.0.0 <%s> Ok: quarantined", rcpt);
			break;
		case LG_RCPT_UNKNOWN:
			lmtp_io_reply(s->io, "550 5.1.1 <%s> User unknown", rcpt);
			break;
		case LG_RCPT_UNSUBSCRIBED:
			lmtp_io_reply(s->io, "250 2.0.0 <%s> Ok: unsubscribed", rcpt);
			break;
		case LG_RCPT_PENDING:
		default:
			lmtp_io_reply(s->io, "451 4.3.0 <%s> Temporary internal error", rcpt);
			break;
		}
	}
out:
	sink_clear(k);
	s->bdat = FALSE;     /* k may be s->sink: already cleared */
	session_reset(s);
}

/* Sets the deadline of a transfer that began at @start and has brought
 * @got bytes so far (see LMTP_MIN_DATA_RATE). */
static void
transfer_deadline(lmtp_session *s, gint64 start, gint64 got)
{
	gint64 budget = (gint64)session_cfg(s)->data_timeout * G_USEC_PER_SEC +
	                got * (G_USEC_PER_SEC / LMTP_MIN_DATA_RATE);

	lmtp_io_set_deadline(s->io, start + budget);
}

/* Reads DATA content up to the "." line. FALSE when the session must end
 * (EOF, timeout, error); *@st says which. */
static gboolean
read_data(lmtp_session *s, lmtp_sink *k, lmtp_io_status *st)
{
	gboolean bol = TRUE;
	gint64 start = g_get_monotonic_time(), got = 0;

	for (;;) {
		const char *p;
		gsize n;

		transfer_deadline(s, start, got);

		*st = lmtp_io_need(s->io, bol ? 3 : 1, TRUE);
		p = lmtp_io_peek(s->io, &n);
		if (*st != LMTP_IO_OK && !(*st == LMTP_IO_EOF && n > 0 && memchr(p, '\n', n)))
			return FALSE;
		*st = LMTP_IO_OK;
		if (bol && p[0] == '.') {
			if (n >= 2 && p[1] == '\n') {
				lmtp_io_skip(s->io, 2);
				return TRUE;
			}
			if (n >= 3 && p[1] == '\r' && p[2] == '\n') {
				lmtp_io_skip(s->io, 3);
				return TRUE;
			}
			lmtp_io_skip(s->io, 1);      /* dot-unstuffing */
			p = lmtp_io_peek(s->io, &n);
			if (n == 0) {
				bol = FALSE;
				continue;
			}
		}
		{
			const char *lf = memchr(p, '\n', n);
			gsize m = lf != NULL ? (gsize)(lf - p) + 1 : n;

			sink_put(k, p, m);
			lmtp_io_skip(s->io, m);
			got += (gint64)m;
			bol = lf != NULL;
		}
	}
}

static gboolean
session_need_rcpts(lmtp_session *s)
{
	if (!s->in_mail) {
		lmtp_io_reply(s->io, "503 5.5.1 Error: need MAIL command");
		session_error(s);
		return FALSE;
	}
	if (s->rcpts->len == 0) {
		lmtp_io_reply(s->io, "554 5.5.1 Error: no valid recipients");
		session_error(s);
		return FALSE;
	}
	return TRUE;
}

static void
session_lost(lmtp_session *s, lmtp_io_status st)
{
	if (st == LMTP_IO_TIMEOUT) {
		lmtpd_info(s->sid, "timeout after %s from %s", s->last_cmd, s->peer);
		lmtp_io_reply(s->io, "421 4.4.2 %s Error: timeout exceeded", session_host(s));
		lmtp_io_flush(s->io);
	} else if (st == LMTP_IO_STOP) {
		/* the drain time of a shutdown ended the transfer */
		lmtpd_info(s->sid, "shutdown: ending the session after %s from %s", s->last_cmd, s->peer);
		lmtp_io_reply(s->io, "421 4.3.2 %s Service shutting down", session_host(s));
		lmtp_io_flush(s->io);
	} else {
		lmtpd_info(s->sid, "lost connection after %s from %s", s->last_cmd, s->peer);
	}
	s->quit = TRUE;
	s->lost = TRUE;
}

static void
cmd_data(lmtp_session *s, char *args)
{
	lmtp_sink *k;
	lmtp_io_status st;

	if (s->bdat) {
		lmtp_io_reply(s->io, "503 5.5.1 Error: DATA after BDAT");
		session_error(s);
		return;
	}
	if (!session_need_rcpts(s))
		return;
	if (*args != '\0') {
		lmtp_io_reply(s->io, "501 5.5.4 Syntax: DATA");
		session_error(s);
		return;
	}
	k = g_new(lmtp_sink, 1);
	sink_init(k, session_cfg(s));
	lmtp_io_reply(s->io, "354 End data with <CR><LF>.<CR><LF>");
	lmtp_io_set_timeout(s->io, session_cfg(s)->data_timeout);
	if (!read_data(s, k, &st)) {
		sink_clear(k);
		g_free(k);
		session_lost(s, st);
		return;
	}
	lmtp_io_set_deadline(s->io, 0);
	lmtp_io_set_timeout(s->io, session_cfg(s)->command_timeout);
	session_deliver(s, k);
	g_free(k);
}

static void
cmd_bdat(lmtp_session *s, char *args)
{
	g_autofree char *count_s = NULL;
	guint64 count, left;
	gboolean last = FALSE;
	char *value, *word;
	lmtp_io_status st = LMTP_IO_OK;
	gboolean ok;

	word = next_param(&args, &value);
	if (word == NULL || value != NULL || !parse_count(word, &count)) {
		lmtp_io_reply(s->io, "501 5.5.4 Syntax: BDAT count [LAST]");
		session_error(s);
		return;
	}
	count_s = g_strdup(word);
	word = next_param(&args, &value);
	if (word != NULL) {
		if (g_ascii_strcasecmp(word, "LAST") != 0 || value != NULL ||
		    next_param(&args, &value) != NULL) {
			lmtp_io_reply(s->io, "501 5.5.4 Syntax: BDAT count [LAST]");
			session_error(s);
			return;
		}
		last = TRUE;
	}

	/* The chunk is read whatever the answer will be (RFC 3030). */
	ok = s->in_mail && s->rcpts->len > 0 && !s->bdat_failed;
	if (ok && !s->bdat) {
		sink_init(&s->sink, session_cfg(s));
		s->bdat = TRUE;
	}
	lmtp_io_set_timeout(s->io, session_cfg(s)->data_timeout);
	gint64 start = g_get_monotonic_time();
	for (left = count; left > 0;) {
		const char *p;
		gsize n;

		transfer_deadline(s, start, (gint64)(count - left));
		st = lmtp_io_need(s->io, 1, FALSE);
		if (st != LMTP_IO_OK)
			break;
		p = lmtp_io_peek(s->io, &n);
		n = (gsize)MIN((guint64)n, left);
		if (ok)
			sink_put(&s->sink, p, n);
		lmtp_io_skip(s->io, n);
		left -= n;
	}
	if (left > 0) {
		session_lost(s, st);
		return;
	}
	lmtp_io_set_deadline(s->io, 0);
	lmtp_io_set_timeout(s->io, session_cfg(s)->command_timeout);

	if (!session_need_rcpts(s))
		return;
	if (s->bdat_failed || (s->bdat && s->sink.too_big)) {
		s->bdat_failed = TRUE;
		if (!last) {
			lmtp_io_reply(s->io, "552 5.3.4 Message size exceeds fixed limit");
			return;
		}
		s->sink.too_big = TRUE;
		session_deliver(s, &s->sink);
		return;
	}
	if (!last) {
		lmtp_io_reply(s->io, "250 2.0.0 %s octets received", count_s);
		return;
	}
	session_deliver(s, &s->sink);
}

static void
cmd_rset(lmtp_session *s, char *args)
{
	session_reset(s);
	lmtp_io_reply(s->io, "250 2.0.0 Ok");
}

static void
cmd_noop(lmtp_session *s, char *args)
{
	lmtp_io_reply(s->io, "250 2.0.0 Ok");
}

static void
cmd_vrfy(lmtp_session *s, char *args)
{
	if (*args == '\0') {
		lmtp_io_reply(s->io, "501 5.5.4 Syntax: VRFY address");
		session_error(s);
		return;
	}
	lmtp_io_reply(s->io, "252 2.5.2 Cannot VRFY user, but will take message for delivery");
}

static void
cmd_quit(lmtp_session *s, char *args)
{
	lmtp_io_reply(s->io, "221 2.0.0 %s Bye", session_host(s));
	s->quit = TRUE;
}

enum {
	CMD_NEEDS_LHLO = 1 << 0,   /* 503 before LHLO */
	CMD_NEEDS_MAIL = 1 << 1    /* 503 outside a transaction */
};

typedef struct {
	const char *verb;
	void (*handler)(lmtp_session *s, char *args);
	guint flags;
} lmtp_command;

static const lmtp_command lmtp_commands[] = {
	{ "LHLO",     cmd_lhlo,     0 },
	{ "HELO",     cmd_helo,     0 },
	{ "EHLO",     cmd_helo,     0 },
	{ "XFORWARD", cmd_xforward, CMD_NEEDS_LHLO },
	{ "MAIL",     cmd_mail,     CMD_NEEDS_LHLO },
	{ "RCPT",     cmd_rcpt,     CMD_NEEDS_LHLO | CMD_NEEDS_MAIL },
	{ "DATA",     cmd_data,     CMD_NEEDS_LHLO },
	{ "BDAT",     cmd_bdat,     CMD_NEEDS_LHLO },
	{ "RSET",     cmd_rset,     0 },
	{ "NOOP",     cmd_noop,     0 },
	{ "VRFY",     cmd_vrfy,     0 },
	{ "QUIT",     cmd_quit,     0 },
};

static gboolean
session_should_stop(gpointer data)
{
	lmtp_session *s = data;

	/* Shutdown ends idle sessions only; a transaction runs to its end. */
	return g_atomic_int_get(&lmtpd.stopping) && !s->in_mail;
}

static void
session_command(lmtp_session *s, char *line, gsize len)
{
	const lmtp_command *cmd = NULL;
	char *args;
	gsize vlen;

	if (memchr(line, '\0', len) != NULL || len == 0) {
		lmtp_io_reply(s->io, "500 5.5.2 Error: bad syntax");
		session_error(s);
		return;
	}
	for (vlen = 0; line[vlen] != '\0' && line[vlen] != ' '; vlen++)
		;
	args = skip_spaces(line + vlen);
	for (gsize i = 0; i < G_N_ELEMENTS(lmtp_commands); i++)
		if (strlen(lmtp_commands[i].verb) == vlen &&
		    g_ascii_strncasecmp(line, lmtp_commands[i].verb, vlen) == 0) {
			cmd = &lmtp_commands[i];
			break;
		}
	if (cmd == NULL) {
		s->last_cmd = "UNKNOWN";
		lmtp_io_reply(s->io, "500 5.5.1 Error: command not recognized");
		session_error(s);
		return;
	}
	s->last_cmd = cmd->verb;
	/* trailing blanks are not part of the arguments */
	g_strchomp(args);
	if ((cmd->flags & CMD_NEEDS_LHLO) && s->lhlo == NULL) {
		lmtp_io_reply(s->io, "503 5.5.1 Error: send LHLO first");
		session_error(s);
		return;
	}
	if ((cmd->flags & CMD_NEEDS_MAIL) && !s->in_mail) {
		lmtp_io_reply(s->io, "503 5.5.1 Error: need MAIL command");
		session_error(s);
		return;
	}
	cmd->handler(s, args);
}

void
lmtp_session_run(int in_fd, int out_fd, const char *peer)
{
	lmtp_session s0 = { 0 };
	lmtp_session *s = &s0;

	g_snprintf(s->sid, sizeof s->sid, "s%d", g_atomic_int_add(&lmtpd.next_session, 1) + 1);
	s->peer = peer;
	s->io = lmtp_io_new(in_fd, out_fd);
	s->rcpts = g_ptr_array_new_with_free_func(g_free);
	s->conf = lmtpd_conf_get();
	s->last_cmd = "CONNECT";
	lmtp_io_set_stop(s->io, session_should_stop, s);
	lmtp_io_set_timeout(s->io, session_cfg(s)->command_timeout);
	lmtpd_info(s->sid, "connect from %s", peer);

	lmtp_io_reply(s->io, "220 %s LMTP leadgate-lmtpd ready", session_host(s));
	/* the session's total time, checked between transactions */
	gint64 session_end = g_get_monotonic_time() +
	                     (gint64)session_cfg(s)->max_session_time * G_USEC_PER_SEC;
	while (!s->quit) {
		char *line;
		gsize len;
		lmtp_io_status st;

		if (!s->in_mail) {
			/* between transactions: pick up a reloaded config */
			lmtpd_conf_unref(s->conf);
			s->conf = lmtpd_conf_get();
			lmtp_io_set_timeout(s->io, session_cfg(s)->command_timeout);
		}
		if (!s->in_mail && g_get_monotonic_time() >= session_end) {
			lmtpd_info(s->sid, "session time limit after %s from %s", s->last_cmd, peer);
			lmtp_io_reply(s->io, "421 4.4.2 %s Error: session time limit exceeded",
			              session_host(s));
			break;
		}
		if (s->errors >= LMTP_MAX_ERRORS) {
			lmtpd_info(s->sid, "too many errors after %s from %s", s->last_cmd, peer);
			lmtp_io_reply(s->io, "421 4.7.0 %s Error: too many errors", session_host(s));
			break;
		}
		/* the whole command line within command_timeout, not each read
		 * (Postfix's smtpd_per_record_deadline): one byte now and then
		 * does not keep a session */
		lmtp_io_set_deadline(s->io, g_get_monotonic_time() +
		                     (gint64)session_cfg(s)->command_timeout * G_USEC_PER_SEC);
		st = lmtp_io_read_line(s->io, LMTP_LINE_MAX, &line, &len);
		lmtp_io_set_deadline(s->io, 0);
		if (st == LMTP_IO_TOOLONG) {
			lmtp_io_reply(s->io, "500 5.5.2 Error: line too long");
			session_error(s);
			continue;
		}
		if (st == LMTP_IO_STOP && !s->in_mail) {
			lmtpd_info(s->sid, "shutdown: closing idle session");
			lmtp_io_reply(s->io, "421 4.3.2 %s Service shutting down", session_host(s));
			break;
		}
		if (st == LMTP_IO_EOF && !s->in_mail) {
			/* a client that just closes after its last reply */
			break;
		}
		if (st != LMTP_IO_OK) {
			session_lost(s, st);
			break;
		}
		session_command(s, line, len);
	}
	lmtp_io_flush(s->io);
	if (!s->lost)
		lmtpd_info(s->sid, "disconnect from %s transactions=%d errors=%d",
		           peer, s->transactions, s->errors);

	session_reset(s);
	g_ptr_array_unref(s->rcpts);
	g_free(s->lhlo);
	g_clear_pointer(&s->st, lg_store_close);
	lmtpd_conf_unref(s->conf);
	lmtp_io_free(s->io);
}
