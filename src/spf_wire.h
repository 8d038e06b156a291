/*
 * NAME
 *   spf_wire.h - the SPF helper's request and response frames.
 *
 * SYNOPSIS
 *   n = lg_spf_request_encode(&req, buf, sizeof buf);      daemon
 *   lg_spf_request_decode(body, len, &req) == 0            helper
 *   n = lg_spf_response_encode(&resp, buf, sizeof buf);    helper
 *   lg_spf_response_decode(body, len, &resp) == 0          daemon
 *
 * SUMMARY
 *   leadgate-lmtpd talks to its SPF helpers (src/spf.c, src/spf_helper.c)
 *   over a socketpair, one request and one response at a time. A frame is
 *   a 4-byte big-endian length, then that many bytes of body:
 *
 *     request   u8 version (1), u32 id, str client IP, str HELO, str sender
 *     response  u8 version (1), u32 id, u8 result, u32 ttl, u8 flags,
 *               str comment
 *
 *   where str is a u16 big-endian length and that many bytes, no NUL. Every
 *   length is checked against the limits below, the body must be used up
 *   exactly, the client IP must be an IPv4 or IPv6 address, and the
 *   strings printable ASCII or UTF-8 bytes (no controls). The decoders are
 *   the one place a helper reads what the daemon sent and back; they take
 *   any bytes (tests/fuzz may call them) and never read past @len.
 *
 *   Plain C, no GLib: the helper links this file and libspf2, nothing else
 *   of leadgate.
 */
#ifndef LG_SPF_WIRE_H
#define LG_SPF_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define LG_SPF_WIRE_VERSION 1
#define LG_SPF_IP_MAX       45     /* INET6_ADDRSTRLEN - 1 */
#define LG_SPF_HELO_MAX     255
#define LG_SPF_SENDER_MAX   512
#define LG_SPF_COMMENT_MAX  255
/* longest bodies: the fields above and their headers */
#define LG_SPF_REQUEST_MAX  (1 + 4 + 3 * 2 + LG_SPF_IP_MAX + LG_SPF_HELO_MAX + LG_SPF_SENDER_MAX)
#define LG_SPF_RESPONSE_MAX (1 + 4 + 1 + 4 + 1 + 2 + LG_SPF_COMMENT_MAX)
#define LG_SPF_FRAME_HEADER 4

/* RFC 7208 §2.6's results; 0 is never sent */
typedef enum {
	LG_SPF_PASS = 1,
	LG_SPF_FAIL,
	LG_SPF_SOFTFAIL,
	LG_SPF_NEUTRAL,
	LG_SPF_NONE,
	LG_SPF_TEMPERROR,
	LG_SPF_PERMERROR
} lg_spf_result;

#define LG_SPF_FLAG_NOCACHE 1      /* the verdict depends on more than (IP, domain) */

typedef struct {
	uint32_t id;
	char ip[LG_SPF_IP_MAX + 1];
	char helo[LG_SPF_HELO_MAX + 1];      /* "" when unknown */
	char sender[LG_SPF_SENDER_MAX + 1];  /* "" for the null sender */
} lg_spf_request;

typedef struct {
	uint32_t id;
	lg_spf_result result;
	uint32_t ttl;                        /* seconds the verdict may be cached */
	unsigned flags;                      /* LG_SPF_FLAG_* */
	char comment[LG_SPF_COMMENT_MAX + 1];
} lg_spf_response;

/* "pass", "fail", ...; NULL for a value that is not a result */
const char *lg_spf_result_name(lg_spf_result r);

/* Frame length from the 4 header bytes. */
uint32_t lg_spf_frame_length(const unsigned char hdr[LG_SPF_FRAME_HEADER]);

/* Whole frames (header and body) into @buf; 0 when a field is too long or
 * not allowed, or @cap too small. */
size_t lg_spf_request_encode(const lg_spf_request *req, unsigned char *buf, size_t cap);
size_t lg_spf_response_encode(const lg_spf_response *resp, unsigned char *buf, size_t cap);

/* Bodies (after the header); 0 when valid, -1 otherwise (@out undefined). */
int lg_spf_request_decode(const unsigned char *body, size_t len, lg_spf_request *out);
int lg_spf_response_decode(const unsigned char *body, size_t len, lg_spf_response *out);

#endif
