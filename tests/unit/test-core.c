/*
 * NAME
 *   test-core.c - unit tests of the core's pure parts: addresses, HTML to
 *   text, keyed references, config, raw messages, the message model and
 *   spool files (lg_spool_file_create).
 */
#include "config.h"
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include "lg.h"
#include "address.h"
#include "config.h"
#include "digest.h"
#include "message.h"
#include "raw.h"
#include "ref.h"
#include "deliver.h"
#include "envelope.h"
#include "store.h"
#include "privs.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <gio/gio.h>

static void
test_address_normalize(void)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "Foo@Example.COM", "foo@example.com" },
		{ "<a@b.example>", "a@b.example" },
		{ "  <a@b.example.>  ", "a@b.example" },
		{ "user@xn--bcher-kva.example", "user@bücher.example" },
		{ "user@BÜCHER.example", "user@bücher.example" },
		{ "User@Mail.XN--BCHER-KVA.example", "user@mail.bücher.example" },
		{ "José@Example.org", "josé@example.org" },
		{ "<@relay.example:u@d.example>", "u@d.example" },
		{ "a+tag@d.example", "a+tag@d.example" },
		{ "no-at-sign", NULL },
		{ "@d.example", NULL },
		{ "u@", NULL },
		{ "u@d..example", NULL },
		{ "a b@d.example", NULL },
		{ "a@b@c.example", NULL },
		{ "", NULL },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *got = lg_addr_normalize(cases[i].in);
		g_assert_cmpstr(got, ==, cases[i].out);
	}
	g_assert_cmpstr(lg_addr_domain("a@b.example"), ==, "b.example");
	g_assert_true(lg_addr_is_noreply("no-reply@x.example"));
	g_assert_true(lg_addr_is_noreply("noreply+abc@x.example"));
	g_assert_true(lg_addr_is_noreply("MAILER-DAEMON@x.example"));
	g_assert_false(lg_addr_is_noreply("anna@x.example"));
	g_assert_true(lg_addr_is_system("postmaster@x.example"));
}

static void
test_html_to_text(void)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "<p>Hello</p><p>World</p>", "Hello\n\nWorld" },
		{ "a<br>b<br/>c", "a\nb\nc" },
		{ "<ul><li>one<li>two</ul>", "- one\n- two" },
		{ "x &amp; y &lt;3 &#233;&#x20AC; &nbsp;z", "x & y <3 é€ z" },
		{ "<style>p{color:red}</style><script>alert(1)</script>visible", "visible" },
		{ "<!-- hidden -->shown", "shown" },
		{ "  lots   of\n\n spaces ", "lots of spaces" },
		{ "<head><title>T</title></head><body>B</body>", "B" },
		{ "&bogus; &#0; &#xD800; x", "&bogus; x" },   /* libxml2 drops invalid references */
		{ "<div>cut <b", "cut" },
		{ "", "" },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *got = lg_html_to_text(cases[i].in, -1);
		g_assert_cmpstr(got, ==, cases[i].out);
		g_assert_true(g_utf8_validate(got, -1, NULL));
	}
}

static void
test_ref(void)
{
	const char *key = "0123456789abcdef";
	g_autofree char *r = lg_ref_make(key, 'T', 1042);
	g_assert_true(g_str_has_prefix(r, "lg-T1042-"));
	char kind;
	gint64 id;
	g_assert_true(lg_ref_verify(key, r, &kind, &id));
	g_assert_cmpint(kind, ==, 'T');
	g_assert_cmpint(id, ==, 1042);
	g_autofree char *msgid = g_strconcat(r, "@host.example", NULL);
	g_assert_true(lg_ref_verify(key, msgid, &kind, &id));
	g_assert_false(lg_ref_verify("another key", r, &kind, &id));
	g_autofree char *forged = g_strdup(r);
	forged[4] = '2';   /* T2042 with T1042's MAC */
	g_assert_false(lg_ref_verify(key, forged, &kind, &id));
	g_autofree char *body = g_strdup_printf("Thanks!\n\n> old text\n[ref:%s]\n", r);
	g_assert_true(lg_ref_find(key, body, &kind, &id));
	g_assert_cmpint(id, ==, 1042);
	g_assert_false(lg_ref_find(key, "lg-T1042-zzzz lg- lg-X1-0000000000000000", &kind, &id));
	/* the mailer's kinds: a campaign send (C) and an unsubscribe token (U) */
	g_autofree char *c = lg_ref_make(key, 'C', 7);
	g_autofree char *u = lg_ref_make(key, 'U', 12);
	g_assert_true(lg_ref_verify(key, u, &kind, &id));
	g_assert_cmpint(kind, ==, 'U');
	g_assert_cmpint(id, ==, 12);
	/* a reference of another kind first does not hide the ticket's */
	g_autofree char *mixed = g_strdup_printf("%s\n%s\n%s\n", c, u, r);
	g_assert_true(lg_ref_find(key, mixed, &kind, &id));
	g_assert_cmpint(kind, ==, 'C');
	g_assert_true(lg_ref_find_kind(key, mixed, 'T', &id));
	g_assert_cmpint(id, ==, 1042);
	g_assert_true(lg_ref_find_kind(key, mixed, 'U', &id));
	g_assert_cmpint(id, ==, 12);
	g_assert_false(lg_ref_find_kind(key, mixed, 'L', &id));
	/* a body of forged references: at most 64 are verified, so a valid one
	 * after 64 forged ones of its kind is not found, but forged ones of
	 * other kinds do not count */
	g_autoptr(GString) flood = g_string_new(NULL);
	for (int i = 0; i < 64; i++)
		g_string_append(flood, "lg-C9-0123456789abcdef\n");
	g_autofree char *flood_u = g_strconcat(flood->str, u, NULL);
	g_assert_true(lg_ref_find_kind(key, flood_u, 'U', &id));
	g_autofree char *flood_c = g_strconcat(flood->str, c, NULL);
	g_assert_false(lg_ref_find_kind(key, flood_c, 'C', &id));
	g_assert_false(lg_ref_find(key, flood_c, &kind, &id));
	/* a U token cannot be turned into a C one */
	g_autofree char *swapped = g_strdup(u);
	swapped[3] = 'C';
	g_assert_false(lg_ref_verify(key, swapped, &kind, &id));
}

static void
test_config(void)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(lg_config) cfg = lg_config_load(NULL, &err);
	g_assert_no_error(err);
	g_assert_cmpstr(cfg->database, ==, "leadgate.db");
	g_assert_cmpstr(cfg->listen[0], ==, "127.0.0.1:2424");
	g_assert_cmpstr(cfg->catch_all, ==, "existing");
	g_assert_cmpint(cfg->max_message_size, ==, 50 * 1024 * 1024);
	g_assert_cmpint(cfg->ticket_limit, ==, 20);

	g_autofree char *path = NULL;
	int fd = g_file_open_tmp("lgconf-XXXXXX", &path, NULL);
	close(fd);
	g_file_set_contents(path, "[lmtpd]\nlisten = 127.0.0.1:1; unix:/tmp/x\nmax_message_size = 10M\n[inbound]\ncatch_all = none\n", -1, NULL);
	g_autoptr(lg_config) c2 = lg_config_load(path, &err);
	g_assert_no_error(err);
	g_assert_cmpstr(c2->listen[1], ==, "unix:/tmp/x");
	g_assert_cmpint(c2->max_message_size, ==, 10 * 1024 * 1024);
	g_assert_cmpstr(c2->catch_all, ==, "none");

	static const char *bad[] = {
		"[store]\nnope = 1\n", "[nosuch]\na = 1\n", "[inbound]\ncatch_all = maybe\n",
		"[lmtpd]\nmax_recipients = 0\n", "[inbound]\ncreate_organizations = perhaps\n",
		"[lmtpd]\nmax_message_size = 12Q\n", "not a key file\n",
	};
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_clear_error(&err);
		g_file_set_contents(path, bad[i], -1, NULL);
		lg_config *c = lg_config_load(path, &err);
		g_assert_null(c);
		g_assert_error(err, LG_CONFIG_ERROR, err->code);
		g_assert_nonnull(strstr(err->message, path));
	}
	g_unlink(path);
	g_autoptr(GString) dump = g_string_new(NULL);
	lg_config_dump_defaults(dump);
	g_assert_nonnull(strstr(dump->str, "[inbound]\n"));
}

/* FIPS 180-2 vectors, the same bytes fed in pieces of every size, and
 * agreement with GLib's SHA-256 (the digest the store used before). */
static void
test_digest_sha256(void)
{
	static const struct { const char *in, *hex; } v[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	};
	char hex[LG_SHA256_HEX_SIZE];
	for (gsize i = 0; i < G_N_ELEMENTS(v); i++) {
		g_autoptr(lg_sha256) s = lg_sha256_new();
		lg_sha256_update(s, v[i].in, strlen(v[i].in));
		lg_sha256_finish(s, hex);
		g_assert_cmpstr(hex, ==, v[i].hex);
	}
	guint8 data[3001];
	for (gsize i = 0; i < sizeof data; i++)
		data[i] = (guint8) (i * 131 + 7);
	g_autofree char *want = g_compute_checksum_for_data(G_CHECKSUM_SHA256, data, sizeof data);
	for (gsize piece = 1; piece <= 200; piece += 13) {
		g_autoptr(lg_sha256) s = lg_sha256_new();
		for (gsize off = 0; off < sizeof data; off += piece)
			lg_sha256_update(s, data + off, MIN(piece, sizeof data - off));
		lg_sha256_finish(s, hex);
		g_assert_cmpstr(hex, ==, want);
	}
}

static void
test_raw_spill(void)
{
	g_autoptr(lg_raw) raw = lg_raw_new(NULL, 4096);
	g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
	char buf[1000];
	for (int i = 0; i < 100; i++) {
		memset(buf, 'a' + i % 26, sizeof buf);
		g_assert_true(lg_raw_write(raw, buf, sizeof buf, NULL));
		g_checksum_update(sum, (guchar *) buf, sizeof buf);
	}
	g_assert_true(lg_raw_finish(raw, NULL));
	g_assert_cmpint(lg_raw_size(raw), ==, 100000);
	g_assert_cmpstr(lg_raw_sha256(raw), ==, g_checksum_get_string(sum));
	g_assert_true(GMIME_IS_STREAM_FS(lg_raw_stream(raw)));   /* spilled to a file */
	GMimeStream *s = lg_raw_stream(raw);
	g_mime_stream_reset(s);
	char got[1000];
	g_assert_cmpint(g_mime_stream_read(s, got, sizeof got), ==, 1000);
	g_assert_cmpint(got[0], ==, 'a');
}


/* Spool files: new every time, mode 0600, never through a symbolic link,
 * a name and never a path. */
static void
test_spool_file_create(void)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *dir = g_dir_make_tmp("lg-spool-XXXXXX", NULL);
	g_autofree char *p1 = NULL, *p2 = NULL, *p3 = NULL, *p4 = NULL;
	struct stat sb;
	g_assert_nonnull(dir);

	int fd1 = lg_spool_file_create(dir, "ev-XXXXXX.msg", &p1, &err);
	g_assert_no_error(err);
	g_assert_cmpint(fd1, >=, 0);
	g_assert_true(g_str_has_prefix(p1, dir));
	g_autofree char *b1 = g_path_get_basename(p1);
	g_assert_true(g_str_has_prefix(b1, "ev-") && g_str_has_suffix(b1, ".msg"));
	g_assert_null(strstr(b1, "XXXXXX"));
	g_assert_cmpint(fstat(fd1, &sb), ==, 0);
	g_assert_cmpint(sb.st_mode & 07777, ==, 0600);
	g_assert_true(S_ISREG(sb.st_mode));
	g_assert_cmpint(write(fd1, "x", 1), ==, 1);   /* read-write */
	g_assert_cmpint(lseek(fd1, 0, SEEK_SET), ==, 0);
	char c = 0;
	g_assert_cmpint(read(fd1, &c, 1), ==, 1);
	g_assert_cmpint(fcntl(fd1, F_GETFD) & FD_CLOEXEC, ==, FD_CLOEXEC);
	int fd2 = lg_spool_file_create(dir, "ev-XXXXXX.msg", &p2, &err);
	g_assert_no_error(err);
	g_assert_cmpstr(p1, !=, p2);
	close(fd1);
	close(fd2);

	/* a name without XXXXXX: once, and never an existing file */
	int fd3 = lg_spool_file_create(dir, "fixed.evt.tmp", &p3, &err);
	g_assert_no_error(err);
	close(fd3);
	g_assert_cmpint(lg_spool_file_create(dir, "fixed.evt.tmp", &p4, &err), ==, -1);
	g_assert_error(err, G_IO_ERROR, G_IO_ERROR_EXISTS);
	g_assert_null(p4);
	g_clear_error(&err);

	/* a symbolic link planted at the name: not followed, whether its
	 * target exists or not */
	g_autofree char *target = g_build_filename(dir, "target", NULL);
	g_autofree char *other = g_build_filename(dir, "other", NULL);
	g_autofree char *link1 = g_build_filename(dir, "planted", NULL);
	g_autofree char *link2 = g_build_filename(dir, "planted2", NULL);
	g_assert_true(g_file_set_contents(other, "keep", -1, NULL));
	g_assert_cmpint(symlink(target, link1), ==, 0);
	g_assert_cmpint(symlink(other, link2), ==, 0);
	g_assert_cmpint(lg_spool_file_create(dir, "planted", &p4, &err), ==, -1);
	g_assert_error(err, G_IO_ERROR, G_IO_ERROR_EXISTS);
	g_clear_error(&err);
	g_assert_false(g_file_test(target, G_FILE_TEST_EXISTS));
	g_assert_cmpint(lg_spool_file_create(dir, "planted2", &p4, &err), ==, -1);
	g_clear_error(&err);
	g_autofree char *kept = NULL;
	g_assert_true(g_file_get_contents(other, &kept, NULL, NULL));
	g_assert_cmpstr(kept, ==, "keep");

	/* a daemon reads its spool files without following a link; a user's
	 * file given to the command may be one */
	g_autoptr(lg_raw) r1 = lg_raw_new_from_spool(link2, dir, &err);
	g_assert_null(r1);
	g_assert_nonnull(err);
	g_clear_error(&err);
	g_autoptr(lg_raw) r2 = lg_raw_new_from_file(link2, dir, &err);
	g_assert_no_error(err);
	g_assert_cmpint(lg_raw_size(r2), ==, 4);

	/* a name, never a path */
	static const char *const bad[] = { "../escape-XXXXXX", "a/b", "/etc/passwd", "..", ".", "" };
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_assert_cmpint(lg_spool_file_create(dir, bad[i], &p4, &err), ==, -1);
		g_assert_error(err, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME);
		g_clear_error(&err);
	}
	/* a folder that is not there */
	g_autofree char *gone = g_build_filename(dir, "gone", NULL);
	g_assert_cmpint(lg_spool_file_create(gone, "x-XXXXXX", &p4, &err), ==, -1);
	g_assert_error(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
	g_clear_error(&err);

	/* a raw message's spill file is made there and unlinked at once */
	g_autofree char *spill = g_build_filename(dir, "spill", NULL);
	g_assert_cmpint(g_mkdir(spill, 0700), ==, 0);
	g_autoptr(lg_raw) big = lg_raw_new(spill, 4096);
	char buf[5000];
	memset(buf, 'b', sizeof buf);
	g_assert_true(lg_raw_write(big, buf, sizeof buf, NULL));
	g_assert_true(lg_raw_finish(big, NULL));
	g_autoptr(GDir) d = g_dir_open(spill, 0, NULL);
	g_assert_null(g_dir_read_name(d));

	const char *names[] = { p1, p2, p3, target, other, link1, link2 };
	for (guint i = 0; i < G_N_ELEMENTS(names); i++)
		g_unlink(names[i]);
	g_rmdir(spill);
	g_assert_cmpint(g_rmdir(dir), ==, 0);
}

static void
test_raw_line_endings(void)
{
	/* CRLF, split across writes anywhere, is stored as LF; a lone CR stays */
	static const char *const pieces[] = { "Subject: a\r", "\nX: b\r\n\r", "\nbody\rmore\r\n", "end\r" };
	g_autoptr(lg_raw) raw = lg_raw_new(NULL, 0);
	for (guint i = 0; i < G_N_ELEMENTS(pieces); i++)
		g_assert_true(lg_raw_write(raw, pieces[i], strlen(pieces[i]), NULL));
	g_assert_true(lg_raw_finish(raw, NULL));
	const char *want = "Subject: a\nX: b\n\nbody\rmore\nend\r";
	g_assert_cmpint(lg_raw_size(raw), ==, (gint64) strlen(want));
	char got[64] = { 0 };
	GMimeStream *s = lg_raw_stream(raw);
	g_mime_stream_reset(s);
	g_assert_cmpint(g_mime_stream_read(s, got, sizeof got - 1), ==, (gssize) strlen(want));
	g_assert_cmpstr(got, ==, want);
	g_autoptr(lg_raw) lf = lg_raw_new_from_data(want, strlen(want));
	g_assert_cmpstr(lg_raw_sha256(raw), ==, lg_raw_sha256(lf));
}

static lg_message *
parse(const char *text)
{
	g_autoptr(lg_raw) raw = lg_raw_new_from_data(text, strlen(text));
	lg_parse_options po = { .body_max = 0, .loop_header = "X-Leadgate-Loop" };
	g_autoptr(GError) err = NULL;
	lg_message *m = lg_message_parse(raw, &po, &err);
	g_assert_no_error(err);
	return m;
}

static void
test_message_headers(void)
{
	g_autoptr(lg_message) m = parse(
		"From: =?ISO-8859-1?Q?J=FCrgen_M=FCller?= <Juergen@Example.COM>\r\n"
		"Reply-To: sales@example.com\r\n"
		"To: a@x.example, \"B, Bee\" <b@x.example>\r\n"
		"Cc: group: c@x.example, d@x.example;\r\n"
		"Subject: =?UTF-8?B?w4RwZmVs?= and\r\n =?UTF-8?Q?_Birnen?=\r\n"
		"Message-ID: <abc@x.example>\r\n"
		"In-Reply-To: <parent@x.example> (comment)\r\n"
		"References: <root@x.example>\r\n  <parent@x.example>\r\n"
		"Date: Mon, 18 Nov 2024 10:00:00 +0100\r\n"
		"\r\nbody\r\n");
	g_assert_cmpstr(m->from->email, ==, "juergen@example.com");
	g_assert_cmpstr(m->from->name, ==, "Jürgen Müller");
	g_assert_cmpstr(m->reply_to->email, ==, "sales@example.com");
	g_assert_cmpint(m->to->len, ==, 2);
	g_assert_cmpstr(((lg_address *) m->to->pdata[1])->name, ==, "B, Bee");
	g_assert_cmpint(m->cc->len, ==, 2);
	g_assert_cmpstr(m->subject, ==, "Äpfel and  Birnen");   /* RFC 2047 6.2: the folding space stays */
	g_assert_cmpstr(m->message_id, ==, "abc@x.example");
	g_assert_cmpstr(m->in_reply_to, ==, "parent@x.example");
	g_assert_cmpint(m->references->len, ==, 2);
	g_assert_cmpstr(m->references->pdata[0], ==, "root@x.example");
	g_assert_cmpstr(m->date_iso, ==, "2024-11-18T09:00:00.000Z");
	g_assert_cmpstr(m->body_text, ==, "body\n");   /* stored with LF line endings */
	g_assert_cmpint(m->auto_flags, ==, 0);

	/* an internationalized domain, in UTF-8 (RFC 6532) or in punycode,
	 * gives one address */
	g_autoptr(lg_message) u = parse("From: J\xc3\xb6rg <Joerg@B\xc3\x9c" "CHER.example>\r\n"
	                                "To: sales@xn--bcher-kva.example\r\n\r\nbody\r\n");
	g_assert_cmpstr(u->from->email, ==, "joerg@b\xc3\xbc" "cher.example");
	g_assert_cmpstr(u->from->name, ==, "J\xc3\xb6rg");
	g_assert_cmpint(u->to->len, ==, 1);
	g_assert_cmpstr(((lg_address *) u->to->pdata[0])->email, ==, "sales@b\xc3\xbc" "cher.example");
}

static void
test_message_mime(void)
{
	g_autoptr(lg_message) m = parse(
		"From: a@x.example\n"
		"Subject: parts\n"
		"MIME-Version: 1.0\n"
		"Content-Type: multipart/mixed; boundary=\"outer\"\n\n"
		"--outer\n"
		"Content-Type: multipart/alternative; boundary=\"alt\"\n\n"
		"--alt\nContent-Type: text/html; charset=utf-8\n\n<p>HTML &amp; more</p>\n"
		"--alt\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nGr=FC=DFe\n"
		"--alt--\n"
		"--outer\n"
		"Content-Type: application/pdf\n"
		"Content-Disposition: attachment; filename*=UTF-8''Rechnung%20M%C3%A4rz.pdf\n"
		"Content-Transfer-Encoding: base64\n\naGVsbG8=\n"
		"--outer\n"
		"Content-Type: message/rfc822\n\n"
		"From: inner@y.example\nSubject: Inner\n\ninner body\n"
		"--outer\n"
		"Content-Type: text/calendar; method=REQUEST; charset=utf-8\n\nBEGIN:VCALENDAR\nEND:VCALENDAR\n"
		"--outer--\n");
	g_assert_cmpstr(m->body_text, ==, "Grüße");   /* the line break before a boundary is the boundary's */
	g_assert_false(m->body_from_html);
	g_assert_cmpint(m->attachments->len, ==, 3);
	lg_attachment *pdf = m->attachments->pdata[0];
	g_assert_cmpstr(pdf->filename, ==, "Rechnung März.pdf");
	g_assert_cmpstr(pdf->content_type, ==, "application/pdf");
	g_assert_cmpint(pdf->size, ==, 5);
	g_assert_cmpstr(pdf->sha256, ==, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");  /* "hello" */
	lg_attachment *eml = m->attachments->pdata[1];
	g_assert_cmpstr(eml->content_type, ==, "message/rfc822");
	g_assert_cmpstr(eml->filename, ==, "Inner.eml");
	lg_attachment *ics = m->attachments->pdata[2];
	g_assert_cmpstr(ics->content_type, ==, "text/calendar");

	g_autoptr(lg_message) h = parse("From: a@x.example\nContent-Type: text/html\n\n<p>Only&nbsp;HTML</p><p>here</p>\n");
	g_assert_true(h->body_from_html);
	g_assert_cmpstr(h->body_text, ==, "Only HTML\n\nhere");
}

/* Content decoding in chunks: a base64 attachment and a base64 body much
 * larger than the 16 KB read size, a quoted-printable attachment, and a
 * uuencoded one (through GMime's filter, which finds the "begin" line). The
 * size and SHA-256 are those of the decoded bytes. */
static void
test_message_encodings(void)
{
	gsize n = 100003;
	g_autofree guint8 *bin = g_malloc(n);
	for (gsize i = 0; i < n; i++)
		bin[i] = (guint8) (i * 7 + i / 251);
	g_autofree char *b64 = g_base64_encode(bin, n);
	GString *wrapped = g_string_new(NULL);
	for (gsize i = 0, len = strlen(b64); i < len; i += 76)
		g_string_append_printf(wrapped, "%.76s\n", b64 + i);
	g_autofree char *bin_sha = g_compute_checksum_for_data(G_CHECKSUM_SHA256, bin, n);
	GString *text = g_string_new(NULL);
	for (int i = 0; i < 3000; i++)
		g_string_append_printf(text, "line %d of the body\n", i);
	g_autofree char *text_b64 = g_base64_encode((guchar *) text->str, text->len);
	g_autofree char *qp_sha = g_compute_checksum_for_string(G_CHECKSUM_SHA256, "caf\xc3\xa9 = ok\n", -1);
	g_autofree char *uu_sha = g_compute_checksum_for_string(G_CHECKSUM_SHA256, "Cat", -1);
	g_autofree char *msg = g_strdup_printf(
		"From: a@x.example\nSubject: enc\nMIME-Version: 1.0\n"
		"Content-Type: multipart/mixed; boundary=b\n\n"
		"--b\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n%s\n"
		"--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n%s"
		"--b\nContent-Type: text/x-note\nContent-Disposition: attachment\n"
		"Content-Transfer-Encoding: quoted-printable\n\ncaf=C3=A9 =3D ok=\n\n\n"
		"--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: x-uuencode\n\n"
		"begin 644 cat.txt\n#0V%%T\n`\nend\n"
		"--b--\n", text_b64, wrapped->str);
	g_string_free(wrapped, TRUE);
	g_autoptr(lg_message) m = parse(msg);
	g_assert_cmpstr(m->body_text, ==, text->str);
	g_string_free(text, TRUE);
	g_assert_cmpint(m->attachments->len, ==, 3);
	lg_attachment *a = m->attachments->pdata[0];
	g_assert_cmpint(a->size, ==, (gint64) n);
	g_assert_cmpstr(a->sha256, ==, bin_sha);
	a = m->attachments->pdata[1];
	g_assert_cmpint(a->size, ==, 11);   /* soft line break joined, the last LF is the boundary's */
	g_assert_cmpstr(a->sha256, ==, qp_sha);
	a = m->attachments->pdata[2];
	g_assert_cmpint(a->size, ==, 3);
	g_assert_cmpstr(a->sha256, ==, uu_sha);
}

static void
test_message_automatic(void)
{
	static const struct { const char *hdr; guint flag; } cases[] = {
		{ "Auto-Submitted: auto-replied", LG_AUTO_SUBMITTED },
		{ "Auto-Submitted: no", 0 },
		{ "Precedence: bulk", LG_AUTO_PRECEDENCE },
		{ "Precedence: first-class", 0 },
		{ "X-Autoreply: yes", LG_AUTO_REPLY_HDR },
		{ "List-Id: <news.x.example>", LG_AUTO_LIST },
		{ "X-Leadgate-Loop: host", LG_AUTO_LOOP },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *text = g_strdup_printf("From: a@x.example\nSubject: s\n%s\n\nbody\n", cases[i].hdr);
		g_autoptr(lg_message) m = parse(text);
		g_assert_cmpuint(m->auto_flags, ==, cases[i].flag);
	}
	g_autoptr(lg_message) m = parse("From: a@x.example\nSubject: Automatic reply: hello\n\nbody\n");
	g_assert_cmpuint(m->auto_flags, ==, LG_AUTO_REPLY_HDR);
}

static void
test_message_dsn(void)
{
	g_autoptr(lg_message) m = parse(
		"From: MAILER-DAEMON@mx.example\nSubject: Undelivered\nMIME-Version: 1.0\n"
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n"
		"--b\nContent-Type: text/plain\n\nsorry\n"
		"--b\nContent-Type: message/delivery-status\n\n"
		"Reporting-MTA: dns; mx.example\nOriginal-Envelope-Id: ENV1\n\n"
		"Final-Recipient: rfc822; Gone@Example.org\nAction: failed\nStatus: 5.1.1 (bad mailbox)\n"
		"Diagnostic-Code: smtp; 550 5.1.1\n  user unknown\n\n"
		"Final-Recipient: rfc822; late@example.org\nAction: delayed\nStatus: 4.4.1\n\n"
		"--b\nContent-Type: text/rfc822-headers\n\nFrom: me@x.example\nMessage-ID:\n <orig@x.example>\n\n"
		"--b--\n");
	g_assert_true(m->auto_flags & LG_AUTO_DSN);
	g_assert_nonnull(m->dsn);
	g_assert_cmpstr(m->dsn->original_message_id, ==, "orig@x.example");
	g_assert_cmpstr(m->dsn->original_envelope_id, ==, "ENV1");
	g_assert_cmpint(m->dsn->recipients->len, ==, 2);
	lg_dsn_recipient *r = m->dsn->recipients->pdata[0];
	g_assert_cmpstr(r->address, ==, "gone@example.org");
	g_assert_cmpstr(r->action, ==, "failed");
	g_assert_cmpstr(r->status, ==, "5.1.1");
	g_assert_cmpstr(r->diagnostic, ==, "550 5.1.1 user unknown");
	g_assert_cmpstr(((lg_dsn_recipient *) m->dsn->recipients->pdata[1])->action, ==, "delayed");
}

static void
test_message_broken(void)
{
	/* a charset iconv does not know, undeclared 8-bit, a cut-off part */
	g_autoptr(lg_message) a = parse("From: a@x.example\nSubject: s\nContent-Type: text/plain; charset=x-no-such\n\nabc\xe9\n");
	g_assert_true(g_utf8_validate(a->body_text, -1, NULL));
	g_assert_cmpstr(a->body_text, ==, "abcé\n");
	g_autoptr(lg_message) b = parse("From: a@x.example\nSubject: caf\xe9\n\nx\n");
	/* adjacent encoded words: a character split across two words, '=' padding */
	g_autoptr(lg_message) j = parse("From: a@x.example\nSubject: =?UTF-8?B?WsM=?= =?UTF-8?B?vHJpY2g=?=\n\nx\n");
	g_assert_cmpstr(j->subject, ==, "Zürich");
	g_assert_cmpstr(b->subject, ==, "café");
	g_autoptr(lg_message) c = parse("From: a@x.example\nContent-Type: multipart/mixed; boundary=zz\n\n--zz\nContent-Type: text/plain\n\ncut here");
	g_assert_cmpstr(c->body_text, ==, "cut here");
	g_autoptr(lg_raw) empty = lg_raw_new_from_data("", 0);
	g_autoptr(GError) err = NULL;
	g_assert_null(lg_message_parse(empty, NULL, &err));
	g_assert_error(err, LG_MESSAGE_ERROR, LG_MESSAGE_ERROR_EMPTY);
}

/* The parsing thread keeps one GMime parser: each message is parsed as if
 * alone, and the parser lets go of the message's bytes when it is done. */
static void
test_message_reuse(void)
{
	const char *plain = "From: a@x.example\nSubject: first\nMessage-ID: <one@x.example>\n\nbody one\n";
	const char *odd = "From: b@x.example\nSubject: second\nContent-Type: multipart/mixed\n\nno boundary\n";
	g_autoptr(lg_message) a1 = parse(plain);
	g_autoptr(lg_message) b = parse(odd);
	g_autoptr(lg_message) a2 = parse(plain);
	g_assert_cmpstr(a1->subject, ==, "first");
	g_assert_cmpstr(b->subject, ==, "second");
	g_assert_cmpuint(b->warnings->len, >, 0);
	g_assert_cmpstr(a2->subject, ==, a1->subject);
	g_assert_cmpstr(a2->body_text, ==, a1->body_text);
	g_assert_cmpuint(a2->warnings->len, ==, a1->warnings->len);   /* none of b's */

	g_autoptr(lg_raw) raw = lg_raw_new_from_data(plain, strlen(plain));
	GObject *stream = G_OBJECT(lg_raw_stream(raw));
	guint refs = stream->ref_count;
	g_autoptr(lg_message) a3 = lg_message_parse(raw, NULL, NULL);
	g_assert_nonnull(a3);
	g_assert_cmpuint(stream->ref_count, ==, refs);
}

/* An Authentication-Results header of the trusted authserv-id whose value
 * ends in a method's "spf=" or "dmarc=" with no verdict: the chain's reader
 * searched on from past the string's end (a heap read overflow, an abort
 * under ASan; found by tests/fuzz/fuzz-deliver). No verdict is read, and
 * the delivery goes through. */
static void
test_chain_auth_results_at_end(void)
{
	static const char *const values[] = { "mx.example; spf=", "mx.example; dmarc=",
	                                      "mx.example; spf=pass smtp.mailfrom=a; dmarc=" };
	g_autoptr(GError) err = NULL;
	g_autofree char *dir = g_dir_make_tmp("lgchain-XXXXXX", &err);
	g_autofree char *db = g_build_filename(dir, "t.db", NULL);
	g_autofree char *conf = g_build_filename(dir, "t.conf", NULL);
	g_autofree char *conf_text = g_strdup_printf("[store]\ndatabase = %s\n"
		"[inbound]\ntrusted_authserv_id = mx.example\ncatch_all = always\n", db);
	g_assert_no_error(err);
	g_assert_true(g_file_set_contents(conf, conf_text, -1, NULL));
	g_autoptr(lg_config) cfg = lg_config_load(conf, &err);
	g_assert_no_error(err);
	g_autoptr(lg_store) st = lg_store_open(db, LG_STORE_MIGRATE, 5000, &err);
	g_assert_no_error(err);
	for (guint i = 0; i < G_N_ELEMENTS(values); i++) {
		g_autofree char *text = g_strdup_printf("Authentication-Results: %s\r\n"
			"From: a@b.example\r\nTo: support@example.test\r\nSubject: x\r\n"
			"Message-ID: <auth%u@b.example>\r\n\r\nhi\r\n", values[i], i);
		lg_envelope *env = lg_envelope_new("a@b.example");
		lg_envelope_add_rcpt(env, "support@example.test");
		g_autoptr(lg_delivery) d = lg_delivery_new(lg_raw_new_from_data(text, strlen(text)), env);
		g_assert_true(lg_delivery_parse(d, cfg, &err));
		g_assert_no_error(err);
		g_assert_true(lg_deliver_dry_run(d, st, cfg, NULL, &err));
		g_assert_no_error(err);
	}
	g_clear_pointer(&st, lg_store_close);
	for (const char *const *sfx = (const char *const[]){ "", "-wal", "-shm", NULL }; *sfx; sfx++) {
		g_autofree char *p = g_strconcat(db, *sfx, NULL);
		g_unlink(p);
	}
	g_unlink(conf);
	g_rmdir(dir);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	lg_message_init();
	g_test_add_func("/address/normalize", test_address_normalize);
	g_test_add_func("/html/to-text", test_html_to_text);
	g_test_add_func("/ref/make-verify", test_ref);
	g_test_add_func("/config/load", test_config);
	g_test_add_func("/digest/sha256", test_digest_sha256);
	g_test_add_func("/raw/spill", test_raw_spill);
	g_test_add_func("/raw/line-endings", test_raw_line_endings);
	g_test_add_func("/privs/spool-file-create", test_spool_file_create);
	g_test_add_func("/message/headers", test_message_headers);
	g_test_add_func("/message/mime", test_message_mime);
	g_test_add_func("/message/encodings", test_message_encodings);
	g_test_add_func("/message/automatic", test_message_automatic);
	g_test_add_func("/message/dsn", test_message_dsn);
	g_test_add_func("/message/broken", test_message_broken);
	g_test_add_func("/message/reuse", test_message_reuse);
	g_test_add_func("/chain/auth-results-at-end", test_chain_auth_results_at_end);
	return g_test_run();
}
