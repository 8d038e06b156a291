# tests/postfix/deferral.sh - a real Postfix and leadgate-lmtpd going away:
# with lmtpd stopped, mail is deferred (in the queue, never bounced), and
# once it is back and the queue flushed each message arrives exactly once;
# then lmtpd killed with SIGKILL in the middle of 2,000 messages from
# smtp-source at 20 sessions: after a restart and a flush, exactly 2,000
# leads, one per message, and nothing bounced; the same with SIGTERM (a
# restart) in the middle of 1,000. A delivery that leadgate had
# committed but not yet answered when it died comes again from Postfix and
# is recognised as a duplicate (SPEC 3 step 1).
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/postfix/postfix-lib.sh"
pf_require

N=${LG_POSTFIX_MESSAGES:-2000}
check "smtp-sink for the outside world (bounces would land there)" sink_start
check "database and mailboxes" lg_setup
check "the private Postfix from contrib/postfix (over TCP)" pf_config tcp
check "postfix -c starts the private instance" pf_start
diag "smtpd 127.0.0.1:$SMTPD_PORT, lmtpd $LMTPD_PORT"

msgid_count() { sqlq "SELECT count(*) FROM leads l JOIN messages m ON m.id = l.message_id WHERE m.message_id LIKE '$1'"; }

# --- leadgate-lmtpd stopped ------------------------------------------------------
# It has served Postfix first, so that Postfix may hold a cached session
# when the daemon stops (SIGTERM, as systemctl stop sends).
check "leadgate-lmtpd starts" lmtpd_up
check "a first message" send --to support@example.com --header "Subject: before" --header "Message-Id: <before@customer.test>"
check "... delivered" queue_wait 20
lmtpd_down
check "leadgate-lmtpd stopped (SIGTERM)" sh -c "! kill -0 $LMTPD_PID 2>/dev/null"
for i in 1 2 3 4 5; do
	send --to support@example.com --header "Subject: while down $i" --header "Message-Id: <down$i@customer.test>" || break
done
is "$i" 5 "five messages queued while leadgate-lmtpd is stopped"
deferred() { [ "$(postqueue -c "$PFC" -j | grep -c '"queue_name": *"deferred"')" -ge "$1" ]; }
check "... all five deferred" wait_for deferred 5
like "$(grep 'status=deferred' "$PFLOG" | head -1)" 'status=deferred \(connect to [^ ]*127\.0\.0\.1.*Connection refused\)' \
	"deferred for the refused connection"
is "$(grep -c 'status=bounced' "$PFLOG")" 0 "nothing bounced"
like "$(postqueue -c "$PFC" -p)" 'Connection refused' "postqueue -p shows them with the reason"

check "leadgate-lmtpd starts again" lmtpd_up
check "postqueue -f" pq_flush
check "... and the queue empties" queue_wait 30
is "$(msgid_count 'down%@customer.test')" 5 "each message arrived"
is "$(sqlq "SELECT count(*) FROM (SELECT m.message_id FROM leads l JOIN messages m ON m.id = l.message_id
            WHERE m.message_id LIKE 'down%' GROUP BY m.message_id HAVING count(*) = 1)")" 5 "... exactly once"

# --- SIGKILL during a run of $N messages ------------------------------------------
before=$(sqlq "SELECT count(*) FROM leads")
ndeferred=$(grep -c 'status=deferred' "$PFLOG")
timeout 120 smtp-source -s 20 -m "$N" -f bob@customer.test -t support@example.com -S "load run" \
	-M client.customer.test "127.0.0.1:$SMTPD_PORT" >"$T/smtp-source.out" 2>&1 &
SRC_PID=$!
lg_track "$SRC_PID"
some_delivered() { [ "$(sqlq "SELECT count(*) FROM leads")" -ge $((before + N / 5)) ]; }
check "a fifth of the run is in the database" wait_for some_delivered
kill -KILL "$LMTPD_PID"
wait "$LMTPD_PID" 2>/dev/null
at_kill=$(( $(sqlq "SELECT count(*) FROM leads") - before ))
diag "leadgate-lmtpd killed (SIGKILL) with $at_kill of $N messages recorded"
check "smtp-source hands Postfix all $N messages" wait "$SRC_PID"
src_done() { [ "$(grep -c 'status=deferred' "$PFLOG")" -gt "$ndeferred" ]; }
check "Postfix defers what it could not deliver" wait_for src_done
is "$(grep -c 'status=bounced' "$PFLOG")" 0 "nothing bounced"

check "leadgate-lmtpd starts again" lmtpd_up
check "postqueue -f" pq_flush
check "... and the queue empties" queue_wait 90
left=$(queue_count)
[ "$left" = 0 ] || diag "$left message(s) still queued: $(postqueue -c "$PFC" -p | tail -5)"
run="(SELECT l.id, m.message_id FROM leads l JOIN messages m ON m.id = l.message_id WHERE l.subject = 'load run')"
is "$(sqlq "SELECT count(*) FROM $run")" "$N" "$N leads"
is "$(sqlq "SELECT count(DISTINCT message_id) FROM $run")" "$N" "... for $N distinct messages: none lost, none twice"
is "$(grep -c 'status=bounced' "$PFLOG")" 0 "nothing bounced in the whole run"
is "$(grep -c 'to=<support@example.com>.*status=sent' "$PFLOG")" $((N + 6)) "Postfix reports every message delivered once"
dups=$(grep -c 'outcome=duplicate' "$LMTPD_LOG")
diag "deliveries leadgate recognised as duplicates after the kill: $dups"
# --- SIGTERM (systemctl restart) during a run of $M messages ----------------------
# The drain: sessions in a transaction finish it, idle ones get 421, what
# is queued is committed; then the daemon exits 0. Whatever Postfix did not
# hear 250 for it sends again after the restart: each message once.
M=$((N / 2))
ndeferred=$(grep -c 'status=deferred' "$PFLOG")
nsent=$(grep -c 'to=<support@example.com>.*status=sent' "$PFLOG")
before=$(sqlq "SELECT count(*) FROM leads")
timeout 120 smtp-source -s 20 -m "$M" -f bob@customer.test -t support@example.com -S "restart run" \
	-M client.customer.test "127.0.0.1:$SMTPD_PORT" >"$T/smtp-source2.out" 2>&1 &
SRC_PID=$!
lg_track "$SRC_PID"
some_delivered() { [ "$(sqlq "SELECT count(*) FROM leads")" -ge $((before + M / 5)) ]; }
check "a fifth of the second run is in the database" wait_for some_delivered
kill -TERM "$LMTPD_PID"
for i in $(seq 600); do kill -0 "$LMTPD_PID" 2>/dev/null || break; sleep 0.1; done
wait "$LMTPD_PID"
is "$?" 0 "leadgate-lmtpd drains and exits 0 on SIGTERM under load"
diag "stopped with $(( $(sqlq "SELECT count(*) FROM leads") - before )) of $M messages recorded"
check "smtp-source hands Postfix all $M messages" wait "$SRC_PID"
check "Postfix defers what it could not deliver" wait_for src_done
check "leadgate-lmtpd starts again" lmtpd_up
check "postqueue -f" pq_flush
check "... and the queue empties" queue_wait 90
run2="(SELECT l.id, m.message_id FROM leads l JOIN messages m ON m.id = l.message_id WHERE l.subject = 'restart run')"
is "$(sqlq "SELECT count(*) FROM $run2")" "$M" "$M leads"
is "$(sqlq "SELECT count(DISTINCT message_id) FROM $run2")" "$M" "... for $M distinct messages: none lost, none twice"
is "$(grep -c 'status=bounced' "$PFLOG")" 0 "nothing bounced"
is "$(( $(grep -c 'to=<support@example.com>.*status=sent' "$PFLOG") - nsent ))" "$M" "Postfix reports every message delivered once"
unlike "$(cat "$PFLOG")" 'fatal:|panic:' "Postfix logged no fatal error"
lmtpd_down
unlike "$(cat "$LMTPD_LOG")" 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "lmtpd's log has no sanitizer complaint"
done_testing
