# tests/lmtp/lmtp-lib.sh - helpers for the leadgate-lmtpd tests. Source after
# tests/tap.sh and tests/lib.sh.
#
#   lmtpd_conf [LINE]...   write $T/lmtpd.conf; LINEs go into [lmtpd]
#                          (catch_all = none unless $LMTPD_CATCH_ALL says)
#   lmtpd_mailboxes        init the database, add the test mailboxes
#   lmtp_s [ARGS]          one session through `leadgate-lmtpd -S`: script on
#                          stdin, LF turned into CRLF (lmtp_raw: bytes as given)
#   lmtpd_start [ARGS]     daemon on a free loopback port: $LMTPD_PID, $LMTPD_PORT
#   lmtpd_stop             SIGTERM, wait (bounded); then one test: the daemon's
#                          log holds no sanitizer complaint (an ASan build
#                          that loses track of a coroutine switch says
#                          "ignoring requested __asan_handle_no_return")
#   lmtp_tcp               one session over TCP to the daemon (script on stdin)
#   codes                  the reply codes of a session, final lines only
#   lead_count, leads_per_msgid   what the store holds
BLAST="$top_builddir/tests/lmtp/lmtp-blast"
LMTPD_LOG="$T/lmtpd.log"
: > "$LMTPD_LOG"

lmtpd_conf() {
	{
		printf '[store]\ndatabase = %s\nbusy_timeout_ms = %s\n' "$T/lg.db" "${LMTPD_BUSY_MS:-5000}"
		printf '[rules]\ndirectory = %s\n' "$T/rules"
		printf '[inbound]\ncatch_all = %s\n' "${LMTPD_CATCH_ALL:-none}"
		printf '[lmtpd]\nhostname = lmtp.test\n'
		# the daemon refuses to stay root unless told (leadgate-lmtpd(8))
		[ "$(id -u)" != 0 ] || printf 'user = root\n'
		for l in "$@"; do printf '%s\n' "$l"; done
	} > "$T/lmtpd.conf"
}

# support@ (always) and sales@ (existing) exist; anything else is unknown.
lmtpd_mailboxes() {
	lg init >/dev/null &&
	lg mailbox add support@example.test --mode always >/dev/null &&
	lg mailbox add sales@example.test --mode existing >/dev/null
}

lmtp_raw() { "$LMTPD" -S -c "$T/lmtpd.conf" "$@" 2>>"$LMTPD_LOG"; }
lmtp_s() { sed 's/$/\r/' | lmtp_raw "$@"; }

codes() { tr -d '\r' | awk 'length($0) >= 3 && substr($0, 4, 1) != "-" { printf "%s%s", sep, substr($0, 1, 3); sep = " " } END { print "" }'; }

lmtpd_start() {
	local i=0
	"$LMTPD" -c "$T/lmtpd.conf" --listen 127.0.0.1:0 "$@" 2>>"$LMTPD_LOG" &
	LMTPD_PID=$!
	lg_track "$LMTPD_PID"
	LMTPD_PORT=
	while [ $i -lt 200 ] && [ -z "$LMTPD_PORT" ] && kill -0 "$LMTPD_PID" 2>/dev/null; do
		LMTPD_PORT=$(sed -n "s/.*\[$LMTPD_PID\]: -: listening on 127\.0\.0\.1:\([0-9][0-9]*\)\$/\1/p" "$LMTPD_LOG" | head -1)
		[ -n "$LMTPD_PORT" ] || sleep 0.05
		i=$((i + 1))
	done
	[ -n "$LMTPD_PORT" ]
}

lmtpd_stop() {
	local i=0
	kill -TERM "$LMTPD_PID" 2>/dev/null
	while kill -0 "$LMTPD_PID" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
	wait "$LMTPD_PID" 2>/dev/null
	lmtpd_log_clean
}

# The daemon's log so far has no complaint of a sanitizer.
lmtpd_log_clean() {
	unlike "$(cat "$LMTPD_LOG")" 'ignoring requested __asan_handle_no_return|ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' \
		"the daemon's log has no sanitizer complaint"
}

lmtp_tcp() {
	local port=${1:-$LMTPD_PORT}
	exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
	sed 's/$/\r/' >&3
	timeout 20 cat <&3 2>/dev/null
	exec 3<&-
}

lead_count() { sqlq "SELECT count(*) FROM leads"; }
# "message-id count" for every message that has leads
leads_per_msgid() {
	sqlq "SELECT m.message_id, count(*) FROM leads l JOIN messages m ON m.id = l.message_id GROUP BY m.message_id ORDER BY 1"
}
