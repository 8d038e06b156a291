/*
 * NAME
 *   spf-fake-helper - a stand-in for leadgate-spf-helper that misbehaves
 *   on request, for test-spf's pool tests.
 *
 * SUMMARY
 *   Speaks the frames of src/spf_wire.h on fd 0. The sender's local part
 *   says what to do: crash@ aborts, hang@ never answers, garbage@ answers
 *   bytes that do not decode, wrongid@ answers another request's id,
 *   anything else gets "pass" with a TTL of 60 s (nocache@: not cacheable)
 *   and the helper's pid as its comment.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "spf_wire.h"

static int
read_full(unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t r = read(0, p, n);
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t) r;
	}
	return 0;
}

int
main(void)
{
	for (;;) {
		unsigned char hdr[4], body[LG_SPF_REQUEST_MAX], out[LG_SPF_FRAME_HEADER + LG_SPF_RESPONSE_MAX];
		lg_spf_request req;
		lg_spf_response resp = { 0 };
		if (read_full(hdr, 4) != 0)
			return 0;
		uint32_t len = lg_spf_frame_length(hdr);
		if (len > sizeof body || read_full(body, len) != 0 || lg_spf_request_decode(body, len, &req) != 0)
			return 65;
		if (strncmp(req.sender, "crash@", 6) == 0)
			abort();
		if (strncmp(req.sender, "hang@", 5) == 0)
			for (;;)
				pause();
		if (strncmp(req.sender, "garbage@", 8) == 0) {
			static const unsigned char g[] = { 0, 0, 0, 3, 9, 9, 9 };
			if (write(0, g, sizeof g) < 0)
				return 74;
			continue;
		}
		resp.id = strncmp(req.sender, "wrongid@", 8) == 0 ? req.id + 1 : req.id;
		resp.result = LG_SPF_PASS;
		resp.ttl = 60;
		resp.flags = strncmp(req.sender, "nocache@", 8) == 0 ? LG_SPF_FLAG_NOCACHE : 0;
		snprintf(resp.comment, sizeof resp.comment, "%d", (int) getpid());
		size_t n = lg_spf_response_encode(&resp, out, sizeof out);
		if (n == 0 || write(0, out, n) != (ssize_t) n)
			return 74;
	}
}
