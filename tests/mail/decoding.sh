#!/bin/bash
# tests/mail/decoding.sh - what corpus messages give beyond From and
# Subject: the stored body text, attachment names and bounce records, read
# back with sqlite3 from the test's own database after `leadgate ingest`.
#
# Each check names the message file and the column it reads. The messages
# are the corpus files 58-65, written for the parser's decoding fixes
# (message.c, html2text.c): see each file.
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"

[ -x "$LEADGATE" ] || skip_all "src/leadgate is not built"
command -v sqlite3 >/dev/null 2>&1 || skip_all "sqlite3 (the shell) is not installed"

check "leadgate init" lg init
check "mailbox add support@example.test" lg mailbox add support@example.test --mode existing

for f in 58-dsn-repeated-folded-field 59-iso-2022-jp-nec-row13 60-undeclared-8bit-koi8-r \
	61-encoded-name-padding 62-rfc822-attachment-named 63-empty-plain-alternative \
	64-nul-bytes 65-html-entities; do
	lg ingest --rcpt support@example.test "$MAILDIR/$f.eml" </dev/null >"$T/out" 2>"$T/err"
	rc=$?
	is "$rc" 0 "$f: ingest exits 0"
	[ "$rc" -eq 0 ] || diag "$(head -c 600 "$T/err")"
done

# body_text of the message with Message-ID $1
body() { sqlq "select body_text from messages where message_id = '$1'"; }

# A repeated, folded field in a DSN recipient block: the first one counts.
is "$(sqlq "select status || '|' || diagnostic from undeliverable where address = 'gone@example.org'")" \
	"5.1.1|550 5.1.1 user unknown" "58: the bounce record has the first Diagnostic-Code, unfolded"

# ISO-2022-JP with NEC row 13 (circled digit one): decoded, no escapes.
is "$(body jp-59@example.jp)" "①こんにちは" "59: body decoded through the CP932 superset"
is "$(sqlq "select count(*) from messages where message_id = 'jp-59@example.jp' and instr(body_text, char(27)) > 0")" 0 \
	"59: no escape byte stored"

# Undeclared 8-bit headers in the charset the body declares.
is "$(sqlq "select from_name from messages where message_id = 'ru-60@example.ru'")" "Привет" "60: From name read as KOI8-R"

# A display name of encoded words, the first one padded with '='.
is "$(sqlq "select from_name from messages where message_id = 'pad-61@zuerich.example'")" "Zürich Versicherung" \
	"61: From name whole"

# message/rfc822 with Content-Type name: the declared name, not the inner Subject.
is "$(sqlq "select a.filename from attachments a join messages m on m.id = a.message_id where m.message_id = 'fwd-62@example.com'")" \
	"Offer 2024.eml" "62: attached message named as declared"

# An empty plain alternative: the HTML one is the body.
is "$(body alt-63@shop.example)" "Thank you for your order → #4711" "63: body from the non-empty HTML alternative"
is "$(sqlq "select body_from_html from messages where message_id = 'alt-63@shop.example'")" 1 "63: body_from_html"

# NUL bytes are U+FFFD: nothing after them is hidden.
is "$(body nul-64@example.com)" "shown�hidden words" "64: body keeps the text after a NUL"
is "$(sqlq "select subject from messages where message_id = 'nul-64@example.com'")" "visible� hidden part" \
	"64: subject keeps the text after a NUL"

# HTML: every named entity, and a stray '<' keeps its text.
is "$(body html-65@example.se)" "$(printf 'Årets nyheter\n\nNext → page\u2002here, x < 3 and y > 2.\n\n- one\n- two')" \
	"65: HTML entities and a stray <"

done_testing
