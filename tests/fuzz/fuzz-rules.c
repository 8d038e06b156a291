/*
 * NAME
 *   fuzz-rules - libFuzzer target: the rules compiler and evaluator.
 *
 * SUMMARY
 *   The input is a rule file, optionally followed by a line "#%%MESSAGE"
 *   and a raw message. The rule part is written to a file and compiled by
 *   lg_rules_load() (lexer, parser, PCRE2 compilation of :regex tests);
 *   when it compiles, lg_rules_eval() runs it against the message part
 *   parsed by lg_message_parse(), or against a fixed web-form message with
 *   an attachment when there is no message part. The marker is a Sieve
 *   comment, so a seed stays a valid rule file whichever way it is cut.
 *   PCRE2 runs with small match and depth limits (as leadgate.conf sets
 *   them), so a catastrophic regex is cut short as in the daemons, and
 *   its trace line is fuzzed too.
 *
 * SEE ALSO
 *   tests/fuzz/README, src/rules.h, man leadgate-rules(5)
 */
#include <string.h>
#include "fuzz.h"
#include "raw.h"
#include "rules.h"
#include "envelope.h"

#define MARKER "\n#%%MESSAGE\n"

static const char fixed_message[] =
	"Return-Path: <noreply@shop.example.com>\r\n"
	"From: Example Shop Contact Form <noreply@shop.example.com>\r\n"
	"Reply-To: Tomasz Nowak <tomasz.nowak@example.org>\r\n"
	"To: support@example.test, Sales <sales@example.test>\r\n"
	"Cc: =?utf-8?q?J=C3=B3zef?= <jozef@example.net>\r\n"
	"Subject: New contact form submission: Request a quote [Ticket #1042]\r\n"
	"Date: Thu, 21 Nov 2024 15:19:59 +0100\r\n"
	"Message-ID: <Xq1w2e3r4t5y6u7i8o9p@shop.example.com>\r\n"
	"X-Form-Id: contact-quote\r\n"
	"List-Id: <offers.shop.example.com>\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
	"\r\n"
	"--b1\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"\r\n"
	"Name: Tomasz Nowak\r\nEmail: tomasz.nowak@example.org\r\n"
	"Company: Nowak Logistics\r\nMessage: 40 pallets a week, Gda\xc5\x84sk to Berlin.\r\n"
	"--b1\r\n"
	"Content-Type: application/pdf; name=\"quote.pdf\"\r\n"
	"Content-Disposition: attachment; filename=\"quote.pdf\"\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"JVBERi0xLjQKJcfsj6IK\r\n"
	"--b1--\r\n";

static lg_message *fixed;
static lg_envelope *env;

static lg_message *
parse(const void *data, size_t size)
{
	g_autoptr(lg_raw) raw = lg_raw_new_from_data(data, size);
	lg_parse_options po = { .body_max = 0, .loop_header = "X-Leadgate-Loop" };

	return lg_message_parse(raw, &po, NULL);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	fixed = parse(fixed_message, sizeof fixed_message - 1);
	env = lg_envelope_new("noreply@shop.example.com");
	if (fixed == NULL || !lg_envelope_add_rcpt(env, "support@example.test") ||
	    !lg_envelope_add_rcpt(env, "sales@example.test"))
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lg_rules_options ro = { .match_limit = 10000, .depth_limit = 1000, .log_limits = FALSE };
	const uint8_t *cut = memmem(data, size, MARKER, strlen(MARKER));
	size_t rules_len = cut != NULL ? (size_t)(cut - data) : size;
	g_autofree char *path = fuzz_write("fuzz.sieve", data, rules_len);
	g_autoptr(GError) error = NULL;
	g_autoptr(lg_rules) rules = lg_rules_load(path, &ro, &error);
	g_autoptr(lg_message) own = NULL;
	const lg_message *m = fixed;

	if (rules == NULL) {
		if (error == NULL)
			abort();
		return 0;
	}
	if (cut != NULL) {
		const uint8_t *msg = cut + strlen(MARKER);

		own = parse(msg, size - (size_t)(msg - data));
		if (own != NULL)
			m = own;
	}
	for (guint i = 0; i < env->recipients->len; i++) {
		lg_rule_result res = { 0 };

		lg_rules_eval(rules, m, env, env->recipients->pdata[i], &res);
		lg_rule_result_clear(&res);
	}
	return 0;
}
