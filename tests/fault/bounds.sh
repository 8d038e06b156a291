# tests/fault/bounds.sh - the bounds per message and per session
# (leadgate-lmtpd(8), RESOURCE LIMITS), each reached: a clear reply or a
# parser warning, never a crash, never memory or time beyond a bound.
# Per message, through `leadgate ingest`: header fields past 2000, a
# 3 MB header line, MIME nesting 20000 deep, 1500 attachments, 6000 parts
# are stored with their warning, and so is a body text past [inbound]
# body_max (and, outside sanitizer builds, under 256 MB of peak memory
# each). Per session, through leadgate-lmtpd:
# recipients past max_recipients (452 4.5.3), a command line past 2048
# bytes (500 5.5.2), a message past max_message_size (552 5.3.4), a
# message that is one 600 KB line (taken), a session past
# max_session_time (421 4.4.2 after its transaction, bounded loop). The
# same message bounds through leadgate-milter (header fields one callback
# each, MIME nesting in body chunks): continue every time, the message
# recorded, the milter still there. (Elsewhere: command_timeout,
# data_timeout and max_connections in tests/lmtp/slowclient.sh, 20
# protocol errors in tests/lmtp/session.sh, the milter's recipients past
# 10000 in tests/milter/test-sync.c, its memory in tests/milter/spool.sh.)
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/lmtp/lmtp-lib.sh"

check "leadgate init" lg init
check "mailbox add" lg mailbox add support@example.test --mode always

hdr() { printf 'From: a@b.example\nTo: support@example.test\nMessage-ID: <%s@b.example>\n' "$1"; }
# peak memory of a command in KB, when GNU time is there and no sanitizer
# runs (their shadow memory is not the program's)
TIME=""
[ -x /usr/bin/time ] && [ -z "${LG_SANITIZERS:-}" ] && ! grep -qa __asan_init "$LEADGATE" && TIME=/usr/bin/time
ingest() {  # ingest NAME: the file $T/NAME.eml; sets $rc and $kb
	if [ -n "$TIME" ]; then
		timeout 120 "$TIME" -f '%M' -o "$T/$1.mem" "$LEADGATE" -c "$T/leadgate.conf" \
			ingest --rcpt support@example.test "$T/$1.eml" >/dev/null 2>"$T/$1.err"
		rc=$?; kb=$(tail -n 1 "$T/$1.mem")
	else
		timeout 120 "$LEADGATE" -c "$T/leadgate.conf" ingest --rcpt support@example.test \
			"$T/$1.eml" >/dev/null 2>"$T/$1.err"
		rc=$?; kb=0
	fi
}
warnings() { sqlq "SELECT warnings FROM messages WHERE message_id = '$1@b.example'"; }
bounded() {  # bounded NAME WARNING-REGEX
	ingest "$1"
	is "$rc" "0" "$1: stored (exit 0)"
	like "$(warnings "$1")" "$2" "$1: the parser's warning says which bound"
	if [ -n "$TIME" ]; then
		check "$1: peak memory ${kb} KB, under 256 MB" test "$kb" -lt 262144
	else
		skip "$1: no peak memory measure (sanitizer build, or no /usr/bin/time)"
	fi
}

{ hdr headers; printf 'Subject: many headers\n'; seq 50000 | sed 's/.*/X-H&: v/'; printf '\nbody\n'; } > "$T/headers.eml"
bounded headers 'more than 2000 header fields: the rest ignored'

{ hdr longhdr; printf 'Subject: '; head -c 3000000 /dev/zero | tr '\0' a; printf '\n\nbody\n'; } > "$T/longhdr.eml"
bounded longhdr 'header value truncated to 65536 bytes'
is "$(sqlq "SELECT length(subject) FROM messages WHERE message_id = 'longhdr@b.example'")" "4095" \
	"longhdr: the subject is cut at 4 KB"

{ hdr nested; printf 'Subject: nested\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b0"\n\n'
  seq 0 19999 | awk '{ printf "--b%d\nContent-Type: multipart/mixed; boundary=\"b%d\"\n\n", $1, $1 + 1 }'
  printf -- '--b20000\nContent-Type: text/plain\n\ndeep\n'
  seq 20000 -1 0 | sed 's/.*/--b&--/'; } > "$T/nested.eml"
bounded nested 'MIME nesting deeper than 20 ignored'

parts() {  # parts NAME N DISPOSITION
	{ hdr "$1"; printf 'Subject: parts\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"\n\n'
	  printf -- '--b\nContent-Type: text/plain\n\nhi\n'
	  seq "$2" | awk -v d="$3" '{ printf "--b\nContent-Type: application/octet-stream\nContent-Disposition: %s; filename=\"f%d.bin\"\n\nx\n", d, $1 }'
	  printf -- '--b--\n'; } > "$T/$1.eml"
}
parts atts 1500 attachment
bounded atts 'more than 1000 attachments: the rest are not recorded'
is "$(sqlq "SELECT count(*) FROM attachments a JOIN messages m ON m.id = a.message_id WHERE m.message_id = 'atts@b.example'")" \
	"1000" "atts: 1000 attachments recorded"
parts manyparts 6000 inline
bounded manyparts 'more than 4000 MIME parts: the rest ignored'

{ hdr longbody; printf 'Subject: long body\n\n'; seq 100000 | sed 's/$/ a line of the body, again/'; } > "$T/longbody.eml"
bounded longbody 'body text truncated'

# -- per session, leadgate-lmtpd
lmtpd_conf "max_recipients = 3" "max_message_size = 1M" "max_session_time = 2"
check "daemon starts" lmtpd_start
out=$(printf 'LHLO t\nMAIL FROM:<a@b.example>\n%s\nQUIT\n' "$(for i in 1 2 3 4; do echo "RCPT TO:<support@example.test>"; done)" | lmtp_tcp)
like "$out" '452 4\.5\.3 ' "the 4th recipient past max_recipients = 3: 452 4.5.3"
out=$(printf 'LHLO t\nNOOP %s\nQUIT\n' "$(head -c 3000 /dev/zero | tr '\0' x)" | lmtp_tcp)
like "$out" '500 5\.5\.2 Error: line too long' "a 3000-byte command line: 500 5.5.2"
big() {  # big NAME BYTES: a message that is one line of BYTES
	{ printf 'LHLO t\nMAIL FROM:<a@b.example>\nRCPT TO:<support@example.test>\nDATA\n'
	  hdr "$1"; printf 'Subject: one line\n\n'; head -c "$2" /dev/zero | tr '\0' y; printf '\n.\nQUIT\n'; } | lmtp_tcp
}
is "$(codes <<<"$(big oneline 600000)")" "220 250 250 250 354 250 221" "a message that is one 600 KB line: taken"
is "$(codes <<<"$(big toobig 1200000)")" "220 250 250 250 354 552 221" "past max_message_size: 552 5.3.4"
is "$(sqlq "SELECT count(*) FROM messages WHERE message_id = 'toobig@b.example'")" "0" "... nothing stored"
# NOOP every 0.2 s, for at most 10 s: the session ends at its time limit
out=$({ printf 'LHLO t\n'; for i in $(seq 50); do printf 'NOOP\n'; sleep 0.2; done; } 2>/dev/null | lmtp_tcp 2>/dev/null)
like "$out" '421 4\.4\.2 .*session time limit' "NOOPs past max_session_time = 2 s: 421 4.4.2"
check "... before the client was done (fewer than 50 NOOPs answered)" \
	test "$(grep -c '^250 2\.0\.0 Ok' <<<"$out")" -lt 50
like "$(cat "$LMTPD_LOG")" 's[0-9]+: session time limit after [A-Z]+ from ' "... logged"
late() {
	exec 3<>"/dev/tcp/127.0.0.1/$LMTPD_PORT" || return 1
	{ printf 'LHLO t\nMAIL FROM:<a@b.example>\nRCPT TO:<support@example.test>\nDATA\n'; hdr late
	  printf 'Subject: late\n\n'; } | sed 's/$/\r/' >&3
	sleep 3
	printf 'x\r\n.\r\nQUIT\r\n' >&3
	timeout 20 cat <&3
	exec 3<&-
}
out=$(late)
is "$(codes <<<"$out")" "220 250 250 250 354 250 421" \
	"a transaction under way at the limit is finished (250), then 421 4.4.2"
like "$out" '421 4\.4\.2 .*session time limit' "... saying why"
lmtpd_stop

# -- the milter: the same per-message bounds through libmilter's callbacks
if command -v miltertest >/dev/null 2>&1; then
	source "$top_srcdir/tests/milter/milter-lib.sh"
	lg user add rep@example.com --role sales >/dev/null
	sqlite3 "$T/lg.db" "update users set sync_enabled = 1"
	mconf "[milter]" "spool_mem_limit = 64K"
	check "leadgate-milter starts" start_milter
	mhead() { printf 'From: anna@customer.example\r\nTo: rep@example.com\r\nMessage-ID: <%s@b.example>\r\n' "$1"; }
	{ mhead mhdr; printf 'Subject: many fields\r\n'; seq 5000 | sed 's/.*/X-H&: v\r/'; printf '\r\nbody\r\n'; } > "$T/msg/mhdr"
	like "$(send mhdr anna@customer.example rep@example.com)" '^replies: [0-9]+ continue/accept$' \
		"milter: 5000 header fields, one callback each: continue"
	like "$(cat "$MLOG")" 'msgid=<mhdr@b\.example> dir=in user=<rep@example\.com>' "... the filter decided on it"
	{ mhead mnested; printf 'Subject: nested\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b0"\r\n\r\n'
	  seq 0 19999 | awk '{ printf "--b%d\r\nContent-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n", $1, $1 + 1 }'
	  printf -- '--b20000\r\nContent-Type: text/plain\r\n\r\ndeep\r\n'
	  seq 20000 -1 0 | sed 's/.*/--b&--\r/'; } > "$T/msg/mnested"
	like "$(send mnested anna@customer.example rep@example.com)" '^replies: [0-9]+ continue/accept$' \
		"milter: MIME nesting 20000 deep, past spool_mem_limit: continue"
	like "$(cat "$MLOG")" 'msgid=<mnested@b\.example> dir=in user=<rep@example\.com>' "... the filter decided on it"
	{ mhead mparts; printf 'Subject: parts\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
	  printf -- '--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n'
	  seq 6000 | awk '{ printf "--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"f%d.pdf\"\r\n\r\nx\r\n", $1 }'
	  printf -- '--b--\r\n'; } > "$T/msg/mparts"
	like "$(send mparts anna@customer.example rep@example.com)" '^replies: [0-9]+ continue/accept$' \
		"milter: 6000 attachments: continue"
	like "$(cat "$MLOG")" 'msgid=<mparts@b\.example> dir=in user=<rep@example\.com>' "... the filter decided on it"
	check "the milter is still running" kill -0 "$MPID"
	is "$(ls "$SPOOL" | wc -l)" "0" "... and its spool folder is empty"
	check "SIGTERM" stop_milter
	unlike "$(cat "$MLOG")" 'error:' "... no error logged"
else
	skip "miltertest is not installed: the milter's bounds are not checked"
fi

done_testing
