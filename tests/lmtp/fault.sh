# tests/lmtp/fault.sh - kill -9 in the middle of a run, restart, run again:
# every acknowledged message is in the store exactly once, and so is every
# message of the repeated run (Postfix's re-delivery doubles nothing).
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/lmtp/lmtp-lib.sh"

SMTP_SOURCE=$(command -v smtp-source || echo /usr/sbin/smtp-source)
N=1200

lmtpd_conf
check "database and mailboxes" lmtpd_mailboxes
check "daemon starts" lmtpd_start

# smtp-source as background traffic, lmtp-blast as the client that logs
# exactly what was acknowledged.
src_pid=
if [ -x "$SMTP_SOURCE" ]; then
	"$SMTP_SOURCE" -L -s 5 -m 3000 -f source@customer.test -t support@example.test \
		-S "fault background" "127.0.0.1:$LMTPD_PORT" >/dev/null 2>&1 &
	src_pid=$!
	lg_track "$src_pid"
fi
: > "$T/ack1"
: > "$T/ack1"
"$BLAST" -p "$LMTPD_PORT" -n $N -s 10 -t fault -a "$T/ack1" -r support@example.test \
	-r sales@example.test > "$T/blast1.out" &
blast_pid=$!
lg_track "$blast_pid"
for i in $(seq 1 600); do
	[ "$(wc -l < "$T/ack1")" -ge 200 ] && break
	sleep 0.02
done
kill -9 "$LMTPD_PID"
wait "$LMTPD_PID" 2>/dev/null
wait "$blast_pid"
[ -n "$src_pid" ] && wait "$src_pid"
acked=$(wc -l < "$T/ack1")
diag "first run: $(cat "$T/blast1.out") before SIGKILL"
check "the first run was killed in the middle ($acked of $N acknowledged)" \
	test "$acked" -ge 200 -a "$acked" -lt $N

check "daemon restarts on the same database" lmtpd_start
# every acknowledged message is there, once per recipient
sqlq "SELECT '<' || m.message_id || '>', count(*) FROM leads l JOIN messages m ON m.id = l.message_id
      WHERE m.message_id LIKE 'fault.%' GROUP BY m.message_id" > "$T/after-kill"
missing=$(sort "$T/ack1" | join -v1 - <(cut -d'|' -f1 "$T/after-kill" | sort) | wc -l)
is "$missing" "0" "every acknowledged message survived kill -9"
is "$(grep -vc '|2$' "$T/after-kill")" "0" "no message has a partial set of leads"

out=$("$BLAST" -p "$LMTPD_PORT" -n $N -s 10 -t fault -a "$T/ack2" -r support@example.test -r sales@example.test)
is "$out" "acked=$N tempfail=0 permfail=0 lost=0" "second run: everything acknowledged"
leads_per_msgid | grep '^fault\.' > "$T/final"
is "$(wc -l < "$T/final")" "$N" "every message of the run is in the store"
is "$(grep -vc '|2$' "$T/final")" "0" "each exactly once per recipient (no duplicates)"
if [ -n "$src_pid" ]; then
	"$SMTP_SOURCE" -L -s 5 -m 200 -f source@customer.test -t support@example.test \
		-S "fault background" "127.0.0.1:$LMTPD_PORT"
	is "$?" "0" "smtp-source after the restart"
fi
lmtpd_stop
is "$(sqlq 'PRAGMA integrity_check')" "ok" "database integrity after kill -9"

done_testing
