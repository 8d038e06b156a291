/*
 * NAME
 *   spf_wire.c - the SPF helper's frames (see spf_wire.h).
 *
 * SUMMARY
 *   A cursor over the body; every read checks the bytes left first.
 */
#include <arpa/inet.h>
#include <string.h>
#include "spf_wire.h"

static const char *const result_names[] = {
	NULL, "pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"
};

const char *
lg_spf_result_name(lg_spf_result r)
{
	if ((int) r < LG_SPF_PASS || (int) r > LG_SPF_PERMERROR)
		return NULL;
	return result_names[r];
}

uint32_t
lg_spf_frame_length(const unsigned char hdr[LG_SPF_FRAME_HEADER])
{
	return (uint32_t) hdr[0] << 24 | (uint32_t) hdr[1] << 16 | (uint32_t) hdr[2] << 8 | hdr[3];
}

/* ---- encoding ----------------------------------------------------------- */

typedef struct {
	unsigned char *p;
	size_t len, cap;
	int bad;
} wbuf;

static void
put(wbuf *w, const void *src, size_t n)
{
	if (w->bad || w->cap - w->len < n) {
		w->bad = 1;
		return;
	}
	memcpy(w->p + w->len, src, n);
	w->len += n;
}

static void
put_u8(wbuf *w, unsigned v)
{
	unsigned char b = (unsigned char) v;
	put(w, &b, 1);
}

static void
put_u32(wbuf *w, uint32_t v)
{
	unsigned char b[4] = { v >> 24, v >> 16, v >> 8, v };
	put(w, b, 4);
}

/* Printable ASCII, or bytes of UTF-8 (>= 0x80): no controls, no NUL. */
static int
text_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char) s[i];
		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

static void
put_str(wbuf *w, const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);
	if (n > max || !text_ok(s, n)) {
		w->bad = 1;
		return;
	}
	unsigned char b[2] = { n >> 8, n };
	put(w, b, 2);
	put(w, s, n);
}

static size_t
finish(wbuf *w)
{
	if (w->bad)
		return 0;
	uint32_t body = (uint32_t) (w->len - LG_SPF_FRAME_HEADER);
	w->p[0] = body >> 24;
	w->p[1] = body >> 16;
	w->p[2] = body >> 8;
	w->p[3] = body;
	return w->len;
}

static int
ip_ok(const char *ip)
{
	unsigned char a[16];
	return inet_pton(AF_INET, ip, a) == 1 || inet_pton(AF_INET6, ip, a) == 1;
}

size_t
lg_spf_request_encode(const lg_spf_request *req, unsigned char *buf, size_t cap)
{
	wbuf w = { buf, 0, cap, 0 };
	if (cap < LG_SPF_FRAME_HEADER || strnlen(req->ip, sizeof req->ip) > LG_SPF_IP_MAX || !ip_ok(req->ip))
		return 0;
	w.len = LG_SPF_FRAME_HEADER;
	put_u8(&w, LG_SPF_WIRE_VERSION);
	put_u32(&w, req->id);
	put_str(&w, req->ip, LG_SPF_IP_MAX);
	put_str(&w, req->helo, LG_SPF_HELO_MAX);
	put_str(&w, req->sender, LG_SPF_SENDER_MAX);
	return finish(&w);
}

size_t
lg_spf_response_encode(const lg_spf_response *resp, unsigned char *buf, size_t cap)
{
	wbuf w = { buf, 0, cap, 0 };
	if (cap < LG_SPF_FRAME_HEADER || lg_spf_result_name(resp->result) == NULL || resp->flags > 0xff)
		return 0;
	w.len = LG_SPF_FRAME_HEADER;
	put_u8(&w, LG_SPF_WIRE_VERSION);
	put_u32(&w, resp->id);
	put_u8(&w, resp->result);
	put_u32(&w, resp->ttl);
	put_u8(&w, resp->flags);
	put_str(&w, resp->comment, LG_SPF_COMMENT_MAX);
	return finish(&w);
}

/* ---- decoding ----------------------------------------------------------- */

typedef struct {
	const unsigned char *p;
	size_t left;
	int bad;
} rbuf;

static const unsigned char *
take(rbuf *r, size_t n)
{
	if (r->bad || r->left < n) {
		r->bad = 1;
		return NULL;
	}
	const unsigned char *p = r->p;
	r->p += n;
	r->left -= n;
	return p;
}

static unsigned
get_u8(rbuf *r)
{
	const unsigned char *p = take(r, 1);
	return p ? p[0] : 0;
}

static uint32_t
get_u32(rbuf *r)
{
	const unsigned char *p = take(r, 4);
	return p ? lg_spf_frame_length(p) : 0;
}

/* into @out (max + 1 bytes), NUL-terminated */
static void
get_str(rbuf *r, char *out, size_t max)
{
	const unsigned char *h = take(r, 2);
	out[0] = '\0';
	if (h == NULL)
		return;
	size_t n = (size_t) h[0] << 8 | h[1];
	if (n > max) {
		r->bad = 1;
		return;
	}
	const unsigned char *s = take(r, n);
	if (s == NULL || !text_ok((const char *) s, n)) {
		r->bad = 1;
		return;
	}
	memcpy(out, s, n);
	out[n] = '\0';
}

int
lg_spf_request_decode(const unsigned char *body, size_t len, lg_spf_request *out)
{
	rbuf r = { body, len, 0 };
	if (body == NULL || len > LG_SPF_REQUEST_MAX)
		return -1;
	if (get_u8(&r) != LG_SPF_WIRE_VERSION)
		return -1;
	out->id = get_u32(&r);
	get_str(&r, out->ip, LG_SPF_IP_MAX);
	get_str(&r, out->helo, LG_SPF_HELO_MAX);
	get_str(&r, out->sender, LG_SPF_SENDER_MAX);
	if (r.bad || r.left != 0 || !ip_ok(out->ip))
		return -1;
	return 0;
}

int
lg_spf_response_decode(const unsigned char *body, size_t len, lg_spf_response *out)
{
	rbuf r = { body, len, 0 };
	if (body == NULL || len > LG_SPF_RESPONSE_MAX)
		return -1;
	if (get_u8(&r) != LG_SPF_WIRE_VERSION)
		return -1;
	out->id = get_u32(&r);
	out->result = (lg_spf_result) get_u8(&r);
	out->ttl = get_u32(&r);
	out->flags = get_u8(&r);
	get_str(&r, out->comment, LG_SPF_COMMENT_MAX);
	if (r.bad || r.left != 0 || lg_spf_result_name(out->result) == NULL)
		return -1;
	return 0;
}
