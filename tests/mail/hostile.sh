#!/bin/bash
# tests/mail/hostile.sh - generated hostile messages through `leadgate
# ingest`: each must be stored, whole, in time linear in its size.
#
# A header of 2 MB of unterminated RFC 2047 encoded words (with and
# without spaces between them, in Subject, in a From display name and in a
# file name parameter) cost time quadratic in its size, and the single
# writer of leadgate-lmtpd made every other delivery wait behind it. Each
# ingest here runs under a coarse timeout (30 s, for sanitizer builds on a
# loaded machine too) that only a linear parse meets; no finer timing is
# asserted.
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"

[ -x "$LEADGATE" ] || skip_all "src/leadgate is not built"
command -v sqlite3 >/dev/null 2>&1 || skip_all "sqlite3 (the shell) is not installed"

check "leadgate init" lg init
check "mailbox add support@example.test" lg mailbox add support@example.test --mode existing

# words WORD SEPARATOR BYTES: WORD repeated (joined by SEPARATOR) to BYTES bytes
words() {
	local n=$(( $3 / (${#1} + ${#2}) ))
	yes "$1" | head -n "$n" | tr '\n' "${2:-\n}" | { [ -n "$2" ] && cat || tr -d '\n'; }
}

gen() {  # gen FILE KIND
	local f=$1 kind=$2
	{
		case $kind in
		subject-spaced)
			printf 'From: a@x.example\nTo: support@example.test\nMessage-ID: <%s@x.example>\nSubject: ' "$kind"
			words '=?utf-8?q?abc' ' ' 2097152
			printf '\n\nbody\n' ;;
		subject-glued)
			printf 'From: a@x.example\nTo: support@example.test\nMessage-ID: <%s@x.example>\nSubject: ' "$kind"
			words '=?a?q?x' '' 2097152
			printf '\n\nbody\n' ;;
		from-name)
			printf 'To: support@example.test\nMessage-ID: <%s@x.example>\nSubject: name\nFrom: ' "$kind"
			words '=?utf-8?b?QUJD' ' ' 2097152
			printf ' <name@x.example>\n\nbody\n' ;;
		filename)
			printf 'From: a@x.example\nTo: support@example.test\nMessage-ID: <%s@x.example>\nSubject: file\n' "$kind"
			printf 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nsee file\n'
			printf -- '--b\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename="'
			words '=?utf-8?q?abc' ' ' 2097152
			printf '"\n\nAAAA\n--b--\n' ;;
		esac
	} > "$f"
}

for kind in subject-spaced subject-glued from-name filename; do
	gen "$T/$kind.eml" "$kind"
	size=$(wc -c < "$T/$kind.eml")
	[ "$size" -gt 2000000 ] || diag "$kind: only $size bytes"
	timeout 30 "$LEADGATE" -c "$T/leadgate.conf" ingest --rcpt support@example.test "$T/$kind.eml" \
		</dev/null >"$T/out" 2>"$T/err"
	rc=$?
	is "$rc" 0 "$kind: a 2 MB header of unterminated encoded words is ingested within 30 s"
	[ "$rc" -eq 0 ] || diag "$(head -c 300 "$T/err")"
	is "$(sqlq "select count(*) from messages where message_id = '$kind@x.example'")" 1 "$kind: stored"
done
like "$(sqlq "select substr(subject, 1, 40) from messages where message_id = 'subject-spaced@x.example'")" \
	'^=\?utf-8\?q\?abc =\?utf-8\?q\?abc' "subject-spaced: the words stay as written"
is "$(sqlq "select from_email from messages where message_id = 'from-name@x.example'")" "name@x.example" \
	"from-name: the address is read"

done_testing
