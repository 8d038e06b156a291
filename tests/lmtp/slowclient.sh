# tests/lmtp/slowclient.sh - clients that would hold a session for ever: one
# byte now and then inside a command or a message (the per-command and
# per-transfer deadlines end them with 421 4.4.2), a client that closes
# together with the last bytes of its message (the close is noticed at once
# and frees its max_connections slot; the message is kept), and a store
# look-up that waits for a locked database (the other sessions are served
# meanwhile: the look-up runs off the event loop).
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/lmtp/lmtp-lib.sh"

LMTPD_BUSY_MS=3000 lmtpd_conf "command_timeout = 2" "data_timeout = 2" "max_connections = 1"
check "database and mailboxes" lmtpd_mailboxes
check "daemon starts" lmtpd_start

# trickle SECONDS: connect, send what stdin holds first, then one byte of
# $TRICKLE every 0.25 s for up to SECONDS; prints all replies
trickle() {
	local i=0 n=$((${1} * 4)) pid
	exec 5<>"/dev/tcp/127.0.0.1/$LMTPD_PORT"
	( timeout $((${1} + 5)) cat <&5 > "$T/trickle.out" ) &
	pid=$!
	lg_track "$pid"
	sed 's/$/\r/' >&5
	while [ $i -lt $n ] && kill -0 "$pid" 2>/dev/null; do
		( printf '%s' "${TRICKLE:i%${#TRICKLE}:1}" >&5 ) 2>/dev/null || break
		sleep 0.25
		i=$((i + 1))
	done
	exec 5<&-
	wait "$pid"
	tr -d '\r' < "$T/trickle.out"
}

t0=$(date +%s)
out=$(TRICKLE="NOOP and some more words " trickle 12 </dev/null)
t1=$(date +%s)
like "$out" '421 4\.4\.2 ' "a command line sent a byte at a time: 421 4.4.2 at its deadline"
unlike "$out" '^250 ' "... and no reply to the command"
check "... after about command_timeout ($((t1 - t0)) s)" test $((t1 - t0)) -le 5

t0=$(date +%s)
out=$(TRICKLE="Trickled text. " trickle 12 <<'EOT'
LHLO slow.test
MAIL FROM:<slow@customer.test>
RCPT TO:<support@example.test>
DATA
Subject: slow
EOT
)
t1=$(date +%s)
like "$out" '354 .*
421 4\.4\.2 ' "a message sent a byte at a time: 421 4.4.2 at the transfer deadline"
check "... after about data_timeout ($((t1 - t0)) s)" test $((t1 - t0)) -le 6
is "$(sqlq "SELECT count(*) FROM messages WHERE subject = 'slow'")" "0" "... nothing stored"

# A client that closes its side together with the last bytes of its message
# (and then only reads). The first part comes alone, so the session waits
# for the rest; the rest and the close then come as one event.
lmtpd_conf "command_timeout = 30" "data_timeout = 30" "max_connections = 1"
kill -HUP "$LMTPD_PID"
for i in $(seq 1 100); do grep -q 'reloaded ' "$LMTPD_LOG" && break; sleep 0.05; done
out=$(python3 - "$LMTPD_PORT" <<'PY2'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
def until(code):
    buf = b""
    while not any(l.startswith(code) for l in buf.split(b"\r\n")):
        buf += s.recv(4096)
s.sendall(b"LHLO close.test\r\nMAIL FROM:<close@customer.test>\r\n"
          b"RCPT TO:<support@example.test>\r\nDATA\r\n")
until(b"354 ")
s.sendall(b"Subject: closing")
time.sleep(0.5)
s.sendall(b"\r\nMessage-ID: <closing@customer.test>\r\n\r\nBye.\r\n.\r\n")
s.shutdown(socket.SHUT_WR)
t0, rest = time.time(), b""
try:
    while True:
        b = s.recv(4096)
        if not b:
            break
        rest += b
except socket.timeout:
    rest += b"(no end)"
print(rest.decode().replace("\r", "").strip())
print("closed after %.1f s" % (time.time() - t0))
PY2
)
like "$out" '^250 2\.0\.0 <support@example\.test> ' "a client that closed with its last bytes gets its answer"
like "$out" 'closed after [0-2]\.' "... and the session ends at once"
unlike "$out" '421 ' "... not at a timeout"
is "$(sqlq "SELECT count(*) FROM messages WHERE message_id = 'closing@customer.test'")" "1" \
	"... and its message is stored"
like "$(printf 'QUIT\n' | lmtp_tcp)" '^220 ' "... and its max_connections slot is free again"

lmtpd_stop

# RCPT's look-up in the store takes 3 s (injected: as when the database is
# busy); another client is served meanwhile.
lmtpd_conf
LEADGATE_FAULT_INJECT=rcpt-stall check "daemon with slow RCPT look-ups starts" lmtpd_start
( printf 'LHLO a\nMAIL FROM:<a@customer.test>\nRCPT TO:<support@example.test>\nQUIT\n' | lmtp_tcp > "$T/rcpt.out" ) &
rcpt_pid=$!
lg_track "$rcpt_pid"
for i in $(seq 1 100); do grep -q 'rcpt-stall' "$LMTPD_LOG" && break; sleep 0.02; done
s0=$(date +%s%N)
out=$(printf 'LHLO b\nNOOP\nQUIT\n' | lmtp_tcp)
s1=$(date +%s%N)
is "$(codes <<<"$out")" "220 250 250 221" "a session while another one's RCPT look-up is slow"
check "... is served at once ($(( (s1 - s0) / 1000000 )) ms)" test $(( (s1 - s0) / 1000000 )) -lt 1500
wait "$rcpt_pid"
like "$(cat "$T/rcpt.out")" '250 2\.1\.5 ' "the slow RCPT is answered when its look-up is done"
lmtpd_stop

done_testing
