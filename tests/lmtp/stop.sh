# tests/lmtp/stop.sh - SIGTERM while sessions are in the middle of things.
# The drain time (command_timeout + data_timeout, capped) ends the sessions
# that are still reading with 421; the sessions that wait for their delivery
# are answered (250 or 451) before the daemon exits; the daemon exits 0 and,
# built with ASan, does not abort (the loop outlives the writer's wake-ups).
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/lmtp/lmtp-lib.sh"

# drain time: 1 + 1 s; a busy database holds a delivery for up to 10 s
LMTPD_BUSY_MS=10000 lmtpd_conf "command_timeout = 1" "data_timeout = 1"
check "database and mailboxes" lmtpd_mailboxes
check "daemon starts" lmtpd_start

# another process holds the write lock for 8 s: longer than the drain time
# (and than the 7 s that leadgate-lmtpd 0.x drained)
locked() { ! sqlite3 "$T/lg.db" '.timeout 0' 'BEGIN IMMEDIATE;' 'ROLLBACK;' >/dev/null 2>&1; }
( printf 'BEGIN IMMEDIATE;\n'; sleep 8; printf 'COMMIT;\n' ) | sqlite3 "$T/lg.db" &
lock_pid=$!
lg_track "$lock_pid"
for i in $(seq 1 100); do locked && break; sleep 0.02; done
check "the database is write-locked by another process" locked

# three sessions send a whole message and wait for its delivery
waiting() {  # waiting N: one session in the background, its replies in $T/w.N
	( exec 3<>"/dev/tcp/127.0.0.1/$LMTPD_PORT" || exit 1
	  printf 'LHLO c%s\r\nMAIL FROM:<w%s@customer.test>\r\nRCPT TO:<support@example.test>\r\nDATA\r\n' "$1" "$1" >&3
	  printf 'From: w%s@customer.test\r\nSubject: waiting %s\r\nMessage-ID: <wait%s@customer.test>\r\n\r\nHi.\r\n.\r\n' "$1" "$1" "$1" >&3
	  timeout 30 cat <&3 > "$T/w.$1" ) &
	lg_track $!
	eval "wpid$1=\$!"
}
waiting 1; waiting 2; waiting 3
# and one stays in the middle of its message
exec 4<>"/dev/tcp/127.0.0.1/$LMTPD_PORT"
printf 'LHLO slow\r\nMAIL FROM:<slow@customer.test>\r\nRCPT TO:<support@example.test>\r\nDATA\r\nSubject: half\r\n' >&4
( timeout 30 cat <&4 > "$T/slow" ) &
slow_pid=$!
lg_track "$slow_pid"
# keep the slow one alive past the data timeout with a line now and then,
# fast enough for its transfer deadline: only the drain time may end it
line=$(printf '%0998d' 0)
for i in $(seq 1 100); do [ "$(grep -c 'connect from' "$LMTPD_LOG")" -ge 4 ] && break; sleep 0.05; done
sleep 0.5
t0=$(date +%s)
kill -TERM "$LMTPD_PID"
for i in $(seq 1 300); do
	kill -0 "$LMTPD_PID" 2>/dev/null || break
	( printf '%s\r\n' "$line" >&4 ) 2>/dev/null   # a subshell: SIGPIPE once it is closed
	sleep 0.05
done
wait "$LMTPD_PID"
st=$?
t1=$(date +%s)
exec 4<&-
wait "$wpid1" "$wpid2" "$wpid3" "$slow_pid"
is "$st" "0" "SIGTERM with deliveries waiting: the daemon exits 0"
check "... within drain time and busy timeout ($((t1 - t0)) s)" test $((t1 - t0)) -le 13
for n in 1 2 3; do
	like "$(tr -d '\r' < "$T/w.$n" | sed -n 's/^\([245][0-9][0-9]\) [0-9.]* <support@.*/\1/p')" '^(250|451)$' \
		"session $n waiting for its delivery gets its answer"
done
like "$(tr -d '\r' < "$T/slow")" '421 4\.3\.2 ' "a session still sending its message after the drain time gets 421"
like "$(cat "$LMTPD_LOG")" 'drain time over' "the end of the drain time is logged"
unlike "$(cat "$LMTPD_LOG")" 'still running at exit' "no session is left behind"
lmtpd_log_clean
wait "$lock_pid"
is "$(sqlq "SELECT count(*) FROM messages WHERE message_id LIKE 'wait%'")" \
	"$(cat "$T"/w.? | grep -c '^250 2\.0\.0 <support')" "what was answered 250 is stored"

done_testing
