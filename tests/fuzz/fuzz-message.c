/*
 * NAME
 *   fuzz-message - libFuzzer target: the message parser.
 *
 * SUMMARY
 *   The input is one raw message. lg_message_parse() reads it with GMime
 *   and extracts everything leadgate keeps: addresses, decoded headers,
 *   the body (HTML converted), attachments and their hashes, automatic-
 *   mail signals and delivery-status reports. Parsing must never fail for
 *   a non-empty input, and every string it returns must be valid UTF-8.
 *   A small body_max makes the truncation path run too.
 *
 * SEE ALSO
 *   tests/fuzz/README, src/message.h
 */
#include "fuzz.h"
#include "raw.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	return 0;
}

static void
check_utf8(const char *s)
{
	if (s != NULL && !g_utf8_validate(s, -1, NULL))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(lg_raw) raw = lg_raw_new_from_data(data, size);
	/* odd sizes get a small limit, so that cutting the body at a UTF-8
	 * boundary is fuzzed as well */
	lg_parse_options po = { .body_max = (size & 1) ? 64 : 0, .loop_header = "X-Leadgate-Loop" };
	g_autoptr(GError) error = NULL;
	g_autoptr(lg_message) m = lg_message_parse(raw, &po, &error);

	if (m == NULL) {
		/* only an empty source may fail */
		if (size != 0)
			abort();
		return 0;
	}
	check_utf8(m->subject);
	check_utf8(m->body_text);
	for (guint i = 0; i < m->headers->len; i++) {
		const lg_header *h = m->headers->pdata[i];
		check_utf8(h->name);
		check_utf8(h->value);
	}
	for (guint i = 0; i < m->attachments->len; i++) {
		const lg_attachment *a = m->attachments->pdata[i];
		check_utf8(a->filename);
	}
	for (guint i = 0; i < m->warnings->len; i++)
		check_utf8(m->warnings->pdata[i]);
	(void)lg_message_header(m, "From");
	return 0;
}
