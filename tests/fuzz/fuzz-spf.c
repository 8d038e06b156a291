/*
 * NAME
 *   fuzz-spf - libFuzzer target: the SPF helper's frame decoders.
 *
 * SUMMARY
 *   The input is the body of a frame on the socketpair between
 *   leadgate-lmtpd and its SPF helpers (src/spf_wire.h): what a helper
 *   reads as a request and what the daemon reads back as a response. A
 *   helper runs libspf2 on a sender's records and may be compromised, so
 *   the daemon's decoder must take any bytes; the helper's own decoder is
 *   its first line too. Each decoder either refuses the body or yields
 *   fields within their limits (NUL-terminated, no control bytes) that
 *   encode back to exactly the same body: a decoder that accepts more
 *   than the encoder writes would be a second, looser format.
 *
 * SEE ALSO
 *   tests/fuzz/README, src/spf_wire.c, src/spf.c, src/spf_helper.c
 */
#include <string.h>
#include "fuzz.h"
#include "spf_wire.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	return 0;
}

static void
check_string(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);
	if (n > max)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char buf[LG_SPF_FRAME_HEADER + LG_SPF_REQUEST_MAX + LG_SPF_RESPONSE_MAX];

	lg_spf_request req;
	if (lg_spf_request_decode(data, size, &req) == 0) {
		check_string(req.ip, LG_SPF_IP_MAX);
		check_string(req.helo, LG_SPF_HELO_MAX);
		check_string(req.sender, LG_SPF_SENDER_MAX);
		size_t n = lg_spf_request_encode(&req, buf, sizeof buf);
		if (n != LG_SPF_FRAME_HEADER + size || lg_spf_frame_length(buf) != size ||
		    memcmp(buf + LG_SPF_FRAME_HEADER, data, size) != 0)
			abort();
	}

	lg_spf_response resp;
	if (lg_spf_response_decode(data, size, &resp) == 0) {
		if (lg_spf_result_name(resp.result) == NULL)
			abort();
		check_string(resp.comment, LG_SPF_COMMENT_MAX);
		size_t n = lg_spf_response_encode(&resp, buf, sizeof buf);
		if (n != LG_SPF_FRAME_HEADER + size || lg_spf_frame_length(buf) != size ||
		    memcmp(buf + LG_SPF_FRAME_HEADER, data, size) != 0)
			abort();
	}
	return 0;
}
