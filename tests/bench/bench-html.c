/*
 * NAME
 *   bench-html - CPU cost of HTML to text (src/html2text.c) per message.
 *
 * SYNOPSIS
 *   bench-html [FILE [SECONDS]]
 *
 * SUMMARY
 *   Converts the HTML body in FILE (UTF-8), or when FILE is absent or
 *   empty ("") a generated
 *   newsletter of about 20 KB (a head with a style sheet, nested layout
 *   tables with inline styles, links, images, named and numeric character
 *   references, a list and a footer: what HTML-only mail looks like), with
 *   lg_html_to_text() over and over for SECONDS (default 1.5) and at most
 *   one million times, so the program always ends. This runs only for
 *   HTML-only mail (message.c prefers a text/plain part).
 *
 * OUTPUT
 *   html2text_us_per_msg U bytes B
 *   (U is CPU microseconds per conversion of the B-byte body.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "message.h"

static double
cpu_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static char *
newsletter(gsize *len)
{
	GString *s = g_string_new(
		"<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\">\n"
		"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\n"
		"<title>Our autumn news</title>\n<style type=\"text/css\">\n"
		"body{margin:0;padding:0;font-family:Helvetica,Arial,sans-serif}\n"
		"table{border-collapse:collapse} .btn a{color:#ffffff;text-decoration:none}\n"
		"@media only screen and (max-width:600px){.col{width:100%!important}}\n</style></head>\n"
		"<body style=\"background:#f4f4f4\"><!-- preheader -->\n"
		"<div style=\"display:none\">Autumn offers &ndash; up to 30&nbsp;% off</div>\n"
		"<table width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\"><tr><td align=\"center\">\n"
		"<table width=\"600\" class=\"container\" style=\"background:#ffffff\">\n");
	for (int i = 0; s->len < 19000; i++) {
		g_string_append_printf(s,
			"<tr><td class=\"col\" style=\"padding:20px 30px;font-size:16px;line-height:24px;color:#333333\">\n"
			"<h2 style=\"margin:0 0 10px 0;font-size:22px\">Article %d: K&ouml;ln &amp; M&uuml;nchen &rarr; Z&uuml;rich</h2>\n"
			"<img src=\"https://news.example.com/img/%d.jpg\" width=\"540\" alt=\"Picture %d\" style=\"display:block\">\n"
			"<p style=\"margin:0 0 12px 0\">Dear customer, this season&rsquo;s selection brings <b>new</b> "
			"<i>ideas</i> for your office&hellip; Prices from &euro;&#8239;49, delivery in 2&ndash;3 days. "
			"<a href=\"https://news.example.com/track?u=abc&amp;id=%d\" style=\"color:#0066cc\">Read more</a></p>\n"
			"<ul style=\"padding-left:20px\"><li>Free shipping over &pound;50</li><li>30 days return&nbsp;policy</li></ul>\n"
			"<table class=\"btn\"><tr><td style=\"background:#0066cc;border-radius:4px;padding:10px 20px\">"
			"<a href=\"https://news.example.com/shop/%d\">Shop now &raquo;</a></td></tr></table>\n"
			"</td></tr>\n", i + 1, i, i, i, i);
	}
	g_string_append(s,
		"<tr><td style=\"padding:20px;font-size:12px;color:#999999\">&copy; 2024 Example GmbH &middot; "
		"Musterstra&szlig;e 1 &middot; 50667 K&ouml;ln<br>\n"
		"<a href=\"https://news.example.com/unsubscribe?u=abc\">Unsubscribe</a> | "
		"<a href=\"https://news.example.com/prefs\">Preferences</a></td></tr>\n"
		"</table></td></tr></table></body></html>\n");
	*len = s->len;
	return g_string_free(s, FALSE);
}

int
main(int argc, char **argv)
{
	lg_message_init();
	g_autofree char *data = NULL;
	gsize len = 0;
	if (argc > 1 && *argv[1]) {
		g_autoptr(GError) err = NULL;
		if (!g_file_get_contents(argv[1], &data, &len, &err)) {
			fprintf(stderr, "bench-html: %s\n", err->message);
			return 66;
		}
	} else {
		data = newsletter(&len);
	}
	double seconds = argc > 2 ? atof(argv[2]) : 1.5;
	if (!(seconds > 0 && seconds <= 600)) {
		fprintf(stderr, "bench-html: SECONDS 0..600\n");
		return 64;
	}
	gsize out_len = 0;
	double t0 = cpu_us(), t = t0;
	long n = 0;
	while (n < 1000000 && t - t0 < seconds * 1e6) {
		char *text = lg_html_to_text(data, (gssize) len);
		out_len = strlen(text);
		g_free(text);
		n++;
		t = cpu_us();
	}
	if (n == 0 || out_len == 0) {
		fprintf(stderr, "bench-html: no text\n");
		return 1;
	}
	printf("html2text_us_per_msg %.1f bytes %zu\n", (t - t0) / (double) n, len);
	return 0;
}
