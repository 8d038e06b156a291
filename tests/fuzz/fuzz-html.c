/*
 * NAME
 *   fuzz-html - libFuzzer target: HTML to text.
 *
 * SUMMARY
 *   The input is an HTML document. The parser hands lg_html_to_text() a
 *   NUL-terminated UTF-8 string (a body converted to UTF-8, NUL bytes
 *   replaced), so the input is made valid UTF-8 first, as it would be
 *   there; the converter runs it through libxml2's HTML parser, and the
 *   text it returns must be valid UTF-8 too.
 *
 * SEE ALSO
 *   tests/fuzz/README, src/html2text.c
 */
#include "fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree char *html = NULL;
	g_autofree char *text = NULL;

	if (size > G_MAXSSIZE)
		return 0;
	html = g_utf8_make_valid((const char *)data, (gssize)size);
	text = lg_html_to_text(html, -1);
	if (text == NULL || !g_utf8_validate(text, -1, NULL))
		abort();
	return 0;
}
