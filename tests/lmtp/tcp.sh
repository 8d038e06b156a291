# tests/lmtp/tcp.sh - leadgate-lmtpd as a daemon on loopback TCP and a UNIX
# socket: sessions, 25 parallel sessions, a session sent in pieces, the
# connection limit, the command timeout, SIGHUP reload (good and bad), SIGTERM.
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/lmtp/lmtp-lib.sh"

lmtpd_conf "max_connections = 40" "commit_batch = 16"
check "database and mailboxes" lmtpd_mailboxes
check "daemon starts on a free loopback port" lmtpd_start --listen "unix:$T/lmtp.sock"
diag "port $LMTPD_PORT"

out=$(lmtp_tcp <<'EOF'
LHLO client.test
MAIL FROM:<alice@customer.test>
RCPT TO:<support@example.test>
RCPT TO:<nobody@example.test>
DATA
From: Alice <alice@customer.test>
Subject: over tcp
Message-ID: <tcp1@customer.test>

Hello.
.
QUIT
EOF
)
is "$(codes <<<"$out")" "220 250 250 250 550 354 250 221" "a transaction over TCP"
like "$out" '^220 lmtp\.test ' "greeting over TCP"
# the writer frees the parsed message before the session logs: the log line
# must still name the message
like "$(cat "$LMTPD_LOG")" 'message-id=<tcp1@customer\.test> from=<alice@customer\.test> to=<support@example\.test> outcome=recorded' \
	"the log line names the message after the writer freed it"
# delays=queue/batch/sync/wake in ms, after Postfix's delays=: four figures
# that add up to no more than the whole delivery's ms= (rounded down), plus
# the rounding of each
line=$(grep -m1 'message-id=<tcp1@customer\.test> .*to=<support@' "$LMTPD_LOG")
like "$line" ' ms=[0-9]+ delays=[0-9]+\.[0-9]{2}/[0-9]+\.[0-9]{2}/[0-9]+\.[0-9]{2}/[0-9]+\.[0-9]{2}$' \
	"the log line ends with delays=queue/batch/sync/wake"
is "$(awk '{ for (i = 1; i <= NF; i++) { if ($i ~ /^ms=/) { sub(/^ms=/, "", $i); ms = $i }
             if ($i ~ /^delays=/) { sub(/^delays=/, "", $i); split($i, d, "/") } }
           print (d[1] + d[2] + d[3] + d[4] <= ms + 1.04 && d[2] > 0) ? "yes" : "no: " $0 }' <<<"$line")" yes \
	"the delays add up within the delivery's ms=, and the batch took time"

check "session over the UNIX socket" "$BLAST" -u "$T/lmtp.sock" -n 3 -t unix
out=$("$BLAST" -p "$LMTPD_PORT" -n 250 -s 25 -t par -r support@example.test -r sales@example.test)
is "$out" "acked=250 tempfail=0 permfail=0 lost=0" "25 parallel sessions, 250 messages, 2 recipients each"
is "$(sqlq "SELECT count(*) FROM leads l JOIN messages m ON m.id = l.message_id WHERE m.message_id LIKE 'par.%'")" "500" \
	"one lead per message and recipient"
like "$(cat "$LMTPD_LOG")" 'to=<?sales@example\.test' "a log line per recipient"

# Commands and data that arrive in pieces, with pauses between them: after a
# read that emptied the socket, the loop waits for the next edge instead of
# reading again; every piece must still be read, in order.
split_session() {
	exec 7<>"/dev/tcp/127.0.0.1/$LMTPD_PORT" || return 1
	printf 'LHLO client.test\r\nMAIL FR' >&7; sleep 0.3
	printf 'OM:<kim@customer.test>\r\nRCPT TO:<support@exa' >&7; sleep 0.3
	printf 'mple.test>\r\nDATA\r' >&7; sleep 0.3
	printf '\nFrom: Kim <kim@customer.test>\r\nSubject: in pie' >&7; sleep 0.3
	printf 'ces\r\nMessage-ID: <split@customer.test>\r\n\r\nHello.\r\n.' >&7; sleep 0.3
	printf '\r\nQUIT\r\n' >&7
	timeout 20 cat <&7
	exec 7<&-
}
out=$(split_session)
is "$(codes <<<"$out")" "220 250 250 250 354 250 221" "a session sent in pieces: every reply comes"
is "$(sqlq "SELECT subject FROM messages WHERE message_id = 'split@customer.test'")" "in pieces" \
	"... and the message is whole"

# SIGHUP: a new host name is picked up; a bad rule file is refused and the old
# config stays in force.
lmtpd_conf "max_connections = 40" "hostname = reloaded.test"
kill -HUP "$LMTPD_PID"
for i in $(seq 1 100); do grep -q 'reloaded ' "$LMTPD_LOG" && break; sleep 0.05; done
like "$(printf 'QUIT\n' | lmtp_tcp)" '^220 reloaded\.test ' "SIGHUP reloads the config"
printf 'require "vnd.leadgate";\nif header :contains "subject" "x" { ticket :bogus; \n' > "$T/rules/bad.sieve"
lmtpd_conf "max_connections = 40" "hostname = broken.test"
kill -HUP "$LMTPD_PID"
for i in $(seq 1 100); do grep -q 'reload refused' "$LMTPD_LOG" && break; sleep 0.05; done
like "$(cat "$LMTPD_LOG")" 'reload refused' "a bad rule file is refused on reload"
like "$(printf 'QUIT\n' | lmtp_tcp)" '^220 reloaded\.test ' "... and the old config and rules are kept"
rm -f "$T/rules/bad.sieve"

# A reload compiles the new rules off the event loop: a session during the
# reload of 50,000 regex rules is served at once, before the reload is done.
{ printf 'require ["vnd.leadgate", "regex"];\n'
  seq 1 50000 | awk '{ printf "if header :regex \"subject\" \"^order [0-9]+ from vendor%d (x|y)+$\" { spam; }\n", $1 }'
} > "$T/rules/90-many.sieve"
nrel=$(grep -c 'reloaded ' "$LMTPD_LOG")
nl0=$(wc -l < "$LMTPD_LOG")
kill -HUP "$LMTPD_PID"
sleep 0.1
s0=$(date +%s%N)
out=$(printf 'NOOP\nQUIT\n' | lmtp_tcp)
s1=$(date +%s%N)
for i in $(seq 1 600); do [ "$(grep -c 'reloaded ' "$LMTPD_LOG")" -gt "$nrel" ] && break; sleep 0.05; done
is "$(codes <<<"$out")" "220 250 221" "a session during a reload of 50,000 rules"
check "... is served at once ($(( (s1 - s0) / 1000000 )) ms)" test $(( (s1 - s0) / 1000000 )) -lt 1000
is "$(tail -n +$((nl0 + 1)) "$LMTPD_LOG" | grep -o 'disconnect from\|reloaded ' | head -2 | tr '\n' /)" \
	"disconnect from/reloaded /" "... before the reload is done"
rm -f "$T/rules/90-many.sieve"
kill -HUP "$LMTPD_PID"
for i in $(seq 1 600); do [ "$(grep -c 'reloaded ' "$LMTPD_LOG")" -gt $((nrel + 1)) ] && break; sleep 0.05; done

# SIGTERM: an idle session is told 421, the daemon exits 0.
exec 4<>"/dev/tcp/127.0.0.1/$LMTPD_PORT"
read -r -t 5 greet <&4
printf 'LHLO c\r\n' >&4
kill -TERM "$LMTPD_PID"
rest=$(timeout 10 cat <&4)
exec 4<&-
like "$rest" '421 4\.3\.2 ' "SIGTERM: an idle session gets 421"
for i in $(seq 1 100); do kill -0 "$LMTPD_PID" 2>/dev/null || break; sleep 0.05; done
wait "$LMTPD_PID"
is "$?" "0" "SIGTERM: the daemon exits 0"
check_not "SIGTERM: the UNIX socket is removed" test -e "$T/lmtp.sock"

# Connection limit and command timeout, on a small daemon.
lmtpd_conf "max_connections = 2" "command_timeout = 2"
check "small daemon starts" lmtpd_start
exec 5<>"/dev/tcp/127.0.0.1/$LMTPD_PORT"
exec 6<>"/dev/tcp/127.0.0.1/$LMTPD_PORT"
read -r -t 5 g5 <&5
read -r -t 5 g6 <&6
like "$(printf 'QUIT\n' | lmtp_tcp)" '^421 4\.3\.2 ' "over max_connections: 421"
t0=$(date +%s)
rest=$(timeout 10 cat <&5)
t1=$(date +%s)
exec 5<&- 6<&-
like "$rest" '^421 4\.4\.2 ' "idle past command_timeout: 421 4.4.2"
check "the timeout came after about 2 s" test $((t1 - t0)) -le 5
lmtpd_stop

# A bad config at start is fatal (exit 78), before any socket.
printf '[lmtpd]\nno_such_key = 1\n' > "$T/bad.conf"
timeout 10 "$LMTPD" -c "$T/bad.conf" --listen 127.0.0.1:0 2>"$T/badconf.err"
is "$?" "78" "a bad config at start: exit 78"
like "$(cat "$T/badconf.err")" '^leadgate-lmtpd: error: .*no_such_key' "... reported as an error"
check "--check-config accepts the good config" "$LMTPD" -c "$T/lmtpd.conf" --check-config
check_not "--check-config refuses the bad one" "$LMTPD" -c "$T/bad.conf" --check-config

# A port in use is a fatal error at start: logged as an error that names the
# address and --listen, exit 71 (EX_OSERR).
check "daemon starts" lmtpd_start
timeout 10 "$LMTPD" -c "$T/lmtpd.conf" --listen "127.0.0.1:$LMTPD_PORT" 2>"$T/inuse.err"
is "$?" "71" "a port in use at start: exit 71"
like "$(cat "$T/inuse.err")" "error: cannot listen on 127\.0\.0\.1:$LMTPD_PORT: address already in use \(choose another with --listen\)" \
	"... logged as an error that says so and names --listen"
lmtpd_stop

done_testing
