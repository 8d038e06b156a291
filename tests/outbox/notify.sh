#!/bin/bash
# tests/outbox/notify.sh - notifications end to end (SPEC §6): mail through
# the real leadgate-lmtpd raises events, its outbox worker delivers them to
# a real webhook receiver on loopback (tests/outbox/webhook-sink.py, which
# verifies every Standard Webhooks signature) and by SMTP to Postfix's
# smtp-sink. Each event reaches each subscribed user once, the actor never;
# automatic mail raises nothing; with the endpoint hanging the LMTP replies
# are not held, and once it answers every queued notification arrives
# exactly once; 410 disables the endpoint; Retry-After is honoured; two
# `leadgate outbox run` at once never send one row twice.
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/lmtp/lmtp-lib.sh"

command -v python3 >/dev/null || skip_all "python3 is not installed"
SMTP_SINK=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)
if [ ! -x "$SMTP_SINK" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q postfix >/dev/null 2>&1
fi
[ -x "$SMTP_SINK" ] || skip_all "smtp-sink (Postfix) is not installed"


# --- the webhook receiver and the SMTP sink --------------------------------
W="$T/hooks"
mkdir -p "$W"
python3 "$top_srcdir/tests/outbox/webhook-sink.py" "$W" 2>"$T/hooks.err" &
lg_track $!
check "the webhook receiver starts" wait_for 10 test -s "$W/port"
HP=$(cat "$W/port")
: > "$W/log"

chmod 755 "$T"
mkdir -p "$T/sink"
as_user=()
if [ "$(id -u)" = 0 ]; then
	SINK_USER=nobody
	id postfix >/dev/null 2>&1 && SINK_USER=postfix
	chown "$SINK_USER" "$T/sink"
	as_user=(-u "$SINK_USER")
fi
SP=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$SMTP_SINK" "${as_user[@]}" -d "$T/sink/%M." "127.0.0.1:$SP" 20 2>"$T/sink.err" &
lg_track $!
check "smtp-sink starts" wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$SP"
mails() { find "$T/sink" -type f | wc -l; }

# --- the site: users, subscriptions, a rule that assigns -------------------
lmtpd_conf "[outbox]" "smtp_url = smtp://127.0.0.1:$SP" "from = leadgate@example.test" \
	"connect_timeout = 2" "timeout = 10" "poll_interval = 1"
cp "$T/lmtpd.conf" "$T/leadgate.conf"
lmtpd_mailboxes
printf 'require "vnd.leadgate";\nif header :contains "subject" "urgent" {\n  ticket :assign "ann@example.test";\n}\n' \
	> "$T/rules/10-urgent.sieve"
for u in tom ann bob; do lg user add $u@example.test --role tech >/dev/null; done

TOM=$(lg --json user notify tom@example.test add ticket.created_from_email --webhook "http://127.0.0.1:$HP/tom")
secret=$(printf '%s' "$TOM" | python3 -c 'import json, sys; print(json.load(sys.stdin)["secret"])')
like "$secret" '^whsec_[A-Za-z0-9+/=]{40,}$' "a new webhook URL gets a generated secret, shown once"
printf '%s\n' "$secret" > "$W/secret-tom"
check "tom: customer replies on the tickets he subscribed to" \
	lg user notify tom@example.test add ticket.customer_replied --scope subscribed --webhook "http://127.0.0.1:$HP/tom"
check "ann: new tickets by mail" lg user notify ann@example.test add ticket.created_from_email --email
check "ann: tickets assigned to her, by mail" lg user notify ann@example.test add ticket.assigned --email
check "ann: customer replies on her own tickets" lg user notify ann@example.test add ticket.customer_replied --scope my --email
# bob's receiver is in the middle of a secret rotation: it knows only the new secret
old=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
new=$(python3 -c 'import base64, os; print("whsec_" + base64.b64encode(os.urandom(32)).decode())')
printf '%s\n%s\n' "$old" "$new" > "$T/bob.secrets"
printf '%s\n' "$new" > "$W/secret-bob"
check "bob: new leads, by a webhook whose secret is being rotated" \
	lg user notify bob@example.test add lead.created --webhook "http://127.0.0.1:$HP/bob" --secret-file "$T/bob.secrets"
is "$(lg user notify ann@example.test list | tail -n +2 | awk '{print $1 "/" $2 "/" $3}' | tr '\n' ' ')" \
   "ticket.assigned/my/email ticket.created_from_email/any/email ticket.customer_replied/my/email " \
   "notify list shows ann's subscriptions (assignments default to scope my)"
out=$(lg user notify ann@example.test add ticket.bogus --email 2>&1); rc=$?
is "$rc" 64 "an unknown event is a usage error"
like "$out" "unknown event \"ticket.bogus\"; the events are lead.created" "... that names the events"
check_not "--scope subscribed is refused for a lead event" lg user notify bob@example.test add lead.replied --scope subscribed --email
check_not "a webhook URL must be http(s)" lg user notify bob@example.test add lead.replied --webhook ftp://x.example/
out=$(lg user notify nobody@example.test add lead.created --email 2>&1); rc=$?
is "$rc/$out" "1/leadgate: no user nobody@example.test" "a subscription for an unknown user: refused, saying so"
out=$(lg user notify bob@example.test add lead.replied --webhook http://127.0.0.1:9/x --secret-file "$T/none" 2>&1); rc=$?
is "$rc/$out" "66/leadgate: --secret-file $T/none: no such file" "a missing secret file: 66, saying so"
printf 'not a secret\n' > "$T/bad.secret"
out=$(lg user notify bob@example.test add lead.replied --webhook http://127.0.0.1:9/x --secret-file "$T/bad.secret" 2>&1); rc=$?
like "$rc/$out" '^64/leadgate: .*bad.secret:1: a webhook secret is "whsec_" and the base64 of 24 to 64 bytes' "a bad secret: 64, with file and line"
out=$(lg ticket subscribe 4242 tom@example.test 2>&1); rc=$?
is "$rc/$out" "1/leadgate: no ticket #4242" "ticket subscribe to a ticket that does not exist: refused"
out=$(lg outbox retry 777 2>&1); rc=$?
is "$rc/$out" "1/leadgate: no outbox row 777" "outbox retry of a row that does not exist: refused"
is "$(sqlq 'select count(*) from notify_subscriptions')/$(sqlq 'select count(*) from webhook_endpoints')" "6/2" \
   "... and the refused ones left nothing behind"

# --- mail through leadgate-lmtpd -------------------------------------------
# send ID FROM RCPT SUBJECT [HEADER]: one LMTP transaction; prints the reply codes
send() {
	{
		printf 'LHLO c.test\nMAIL FROM:<%s>\nRCPT TO:<%s>\nDATA\n' "$2" "$3"
		printf 'From: <%s>\nTo: <%s>\nSubject: %s\nMessage-ID: <%s@c.test>\n' "$2" "$3" "$4" "$1"
		[ -n "${5:-}" ] && printf '%s\n' "$5"
		printf '\nhello\n.\nQUIT\n'
	} | lmtp_tcp | codes
}
# answered NAME TYPE: deliveries the receiver answered 200 for, with a valid signature
answered() { awk -v n="$1" -v t="$2" '$1 == n && $2 == 200 && $4 == 1 && $5 == t' "$W/log" | wc -l; }
all_sent() { [ "$(sqlq "select count(*) from outbox where state <> 'sent'")" = 0 ]; }
# sql_is SQL WANT: the query's answer is WANT (for wait_for)
all_sent_but_failed() { [ "$(sqlq "select count(*) from outbox where state in ('queued', 'sending')")" = 0 ]; }

check "leadgate-lmtpd starts, with its outbox worker" lmtpd_start
is "$(send c1 carol@customer.example support@example.test 'The printer is on fire')" "220 250 250 250 354 250 221" \
   "a customer's mail makes a ticket: 250"
is "$(send t1 tom@example.test support@example.test 'Tom writes in himself')" "220 250 250 250 354 250 221" \
   "a mail from tom (a user) makes a ticket too"
is "$(send u1 dave@customer.example support@example.test 'URGENT: the server room is flooded')" "220 250 250 250 354 250 221" \
   "an urgent mail: a ticket the rule assigns to ann"
is "$(send l1 erin@prospect.example sales@example.test 'A quote please')" "220 250 250 250 354 250 221" \
   "a new sender to sales@ (mode existing): an unread lead"
is "$(send a1 robot@prospect.example sales@example.test 'Out of office' 'Auto-Submitted: auto-replied')" \
   "220 250 250 250 354 250 221" "automatic mail to sales@: an unread lead too"
check "every notification is sent" wait_for 30 all_sent
is "$(answered tom ticket.created_from_email)" 2 "tom's webhook: the two new tickets that were not his own, signatures valid"
is "$(grep -c "tom@example.test" "$W/log" | tr -d ' ')/$(sqlq "select count(*) from v_notifications where user_email='tom@example.test' and ticket_number=1002")" \
   "2/0" "... tom is never notified of the ticket his own mail opened"
is "$(answered bob lead.created)" 1 "bob's webhook: one new lead, verified with the new secret while rotating"
like "$(sqlq "select count(*) from v_notifications where event='lead.created'")" '^1$' "the automatic mail raised no lead.created"
is "$(mails)" 4 "ann got four mails: three new tickets and one assignment"
is "$(grep -l '^Subject: .*Ticket assigned' "$T"/sink/* | wc -l)" 1 "... one of them the urgent ticket's assignment"
m=$(grep -l 'Ticket #1001' "$T"/sink/* | head -1)
like "$(cat "$m")" $'Auto-Submitted: auto-generated\r?\n' "a notification mail says Auto-Submitted: auto-generated"
like "$(cat "$m")" "X-Leadgate-Loop: " "... carries leadgate's loop header"
like "$(cat "$m")" 'Message-I[Dd]: <lg-T1001-[0-9a-f]{16}\.msg_' "... a keyed Message-ID"
like "$(cat "$m")" 'reference lg-T1001-[0-9a-f]{16}' "... and the keyed reference in its body"
like "$(cat "$m")" 'X-Rcpt-Args: <ann@example.test>' "... and went to ann"

# ann replies to the notification from her mail client: the reply threads on
# the ticket through the keyed Message-ID, and she is not notified of it
mid=$(sed -n 's/^Message-I[Dd]: <\(.*\)>\r*$/\1/p' "$m" | head -1)
lg ticket subscribe 1001 tom@example.test >/dev/null
is "$(send r1 ann@example.test support@example.test 'Re: the printer' "In-Reply-To: <$mid>")" "220 250 250 250 354 250 221" \
   "ann's reply to the notification: 250"
is "$(sqlq "select decided_by || ' ' || ticket_number from v_leads where id = (select max(id) from leads)")" "ticket-reply 1001" \
   "... it joined ticket #1001 by the keyed reference"
is "$(send c2 carol@customer.example support@example.test 'Re: The printer is on fire' 'In-Reply-To: <c1@c.test>')" \
   "220 250 250 250 354 250 221" "carol replies on ticket #1001, which tom subscribed to"
check "... sent" wait_for 30 all_sent
is "$(answered tom ticket.customer_replied)" 2 "tom (subscribed) heard of both replies on #1001: ann's and carol's"
is "$(sqlq "select count(*) from v_notifications where user_email='ann@example.test' and event='ticket.customer_replied'")" 0 \
   "ann (scope my) is not notified: #1001 is not hers, and the first reply was her own"
is "$(mails)" 4 "no mail for either reply"

# --- the endpoint hangs: mail is not held, and nothing is lost or doubled ---
echo hang > "$W/mode-tom"
send h0 frank0@customer.example support@example.test "Hang 0" >/dev/null
check "tom's endpoint hangs: the worker's request is held" wait_for 10 test -s "$W/holding"
codes_all=""
for i in 1 2 3 4 5; do codes_all="$codes_all $(send h$i frank$i@customer.example support@example.test "Hang $i")"; done
is "$(printf '%s' "$codes_all" | grep -o '354 250' | wc -l)" 5 "while it hangs, five more messages all got 250"
is "$(grep -c ' hung ' "$W/log")/$(wc -l < "$W/holding")" "0/1" "... and the request was held unanswered all along"
echo ok > "$W/mode-tom"
check "once it answers, every queued notification is sent" wait_for 60 all_sent
is "$(answered tom ticket.created_from_email)" 8 "tom got all eight new tickets"
dups=$(awk '$1 == "tom" && $2 == 200 { print $3 }' "$W/log" | sort | uniq -d | wc -l)
is "$dups" 0 "... each webhook-id answered exactly once"
like "$(grep -c ' hung ' "$W/log")" '^[1-9]' "... after at least one attempt that hung and was retried"
is "$(mails)" 10 "ann's six mails came through the SMTP sink meanwhile"

# --- 410 Gone disables the endpoint ------------------------------------------
echo gone > "$W/mode-tom"
send g1 gina@customer.example support@example.test 'Gone 1' >/dev/null
check "a 410 fails the row" wait_for 30 sql_is "select state from v_notifications where user_email='tom@example.test' order by id desc limit 1" failed
like "$(lg outbox list --failed)" "tom@example.test.*failed.*410" "outbox list --failed lists it, with the 410"
like "$(lg user notify tom@example.test list)" "disabled \(410\)" "notify list shows the endpoint disabled"
n0=$(sqlq "select count(*) from v_notifications where user_email='tom@example.test'")
send g2 gina@customer.example support@example.test 'Gone 2' >/dev/null
check "the next ticket is sent to ann" wait_for 30 all_sent_but_failed
is "$(sqlq "select count(*) from v_notifications where user_email='tom@example.test'")" "$n0" "... and queues nothing for the disabled endpoint"
echo ok > "$W/mode-tom"
FAILED=$(sqlq "select id from v_notifications where state='failed' limit 1")
check "outbox retry ID queues it again (and re-enables the endpoint)" lg outbox retry "$FAILED"
check "... and it is sent" wait_for 30 sql_is "select state from outbox where id=$FAILED" sent
like "$(lg user notify tom@example.test list)" " on$" "... the endpoint is on again"

# --- Retry-After -----------------------------------------------------------
echo 'retry 120' > "$W/mode-bob"
send l2 hank@prospect.example sales@example.test 'Another quote' >/dev/null
check "a 503 with Retry-After: the row waits" wait_for 30 sql_is \
	"select state || ' ' || attempts || ' ' || coalesce(last_error, '') from v_notifications where user_email='bob@example.test' order by id desc limit 1" \
	"queued 1 HTTP 503"
wait_s=$(sqlq "select cast((julianday(next_attempt_at) - julianday('now')) * 86400 as integer) from v_notifications where user_email='bob@example.test' order by id desc limit 1")
like "$wait_s" '^1[01][0-9]$' "... about 120 s, as Retry-After said, not the schedule's 5 s (${wait_s} s)"

# --- SIGTERM while a send hangs: the daemon stops, the row waits, uncounted ---
echo hang > "$W/mode-tom"
send s1 sam@customer.example support@example.test 'Stop while hanging' >/dev/null
held_twice() { [ "$(wc -l < "$W/holding")" -ge 2 ]; }
check "the worker's request to tom hangs again" wait_for 10 held_twice
row=$(sqlq "select max(id) from v_notifications where user_email='tom@example.test'")
is "$(sqlq "select state || ' ' || attempts from outbox where id=$row")" "sending 1" "... the row is claimed meanwhile"
lmtpd_stop
check_not "SIGTERM stops the daemon while the endpoint hangs" kill -0 "$LMTPD_PID"
is "$(sqlq "select state || ' ' || attempts from outbox where id=$row")" "queued 0" \
   "... the row cut short is queued again, the attempt not counted"
like "$(cat "$LMTPD_LOG")" "outbox $row: stopping; queued again" "... and the log says so"
echo ok > "$W/mode-tom"

# --- leadgate outbox run: two at once never send a row twice ----------------
: > "$W/log"
echo slow > "$W/mode-tom"
for i in $(seq 1 12); do
	printf 'From: <p%d@customer.example>\nTo: support@example.test\nSubject: Run %d\nMessage-ID: <run%d@c.test>\n\nx\n' $i $i $i > "$T/run.eml"
	lg ingest --rcpt support@example.test "$T/run.eml" >/dev/null
done
# (bob's row waits out its Retry-After meanwhile: not due, not taken; the
# rows the SIGTERM left are due, and go with these)
q_tom=$(sqlq "select count(*) from v_notifications where state='queued' and event='ticket.created_from_email' and user_email='tom@example.test'")
q_ann=$(sqlq "select count(*) from v_notifications where state='queued' and event='ticket.created_from_email' and user_email='ann@example.test'")
m0=$(mails)
like "$q_tom/$q_ann" '^13/1[23]$' "twelve tickets queue 24 notifications (tom's webhook, ann's mail), besides the rows SIGTERM left"
lg outbox run > "$T/run1.out" 2>&1 &
r1=$!
lg outbox run > "$T/run2.out" 2>&1 &
r2=$!
wait $r1; rc1=$?
wait $r2; rc2=$?
is "$rc1/$rc2" "0/0" "two outbox run at once: both exit 0"
is "$(sqlq "select count(*) from outbox where state in ('queued', 'sending') and event='ticket.created_from_email'")" 0 "... nothing left queued"
is "$(awk '$1 == "tom" && $2 == 200' "$W/log" | wc -l)" "$q_tom" "... tom's receiver got all $q_tom (with the one cut short by SIGTERM)"
is "$(awk '$1 == "tom" && $2 == 200 { print $3 }' "$W/log" | sort -u | wc -l)" "$q_tom" "... each webhook-id once"
is "$(( $(mails) - m0 ))" "$q_ann" "... and ann $q_ann more mails, once each"
is "$(cat "$T/run1.out" "$T/run2.out" | grep -c ': sent')" "$(( q_tom + q_ann ))" "... the two runs shared the rows between them"
like "$(grep -c ': sent' "$T/run1.out") $(grep -c ': sent' "$T/run2.out")" '^[1-9][0-9]* [1-9][0-9]*$' "... both of them sent some"
like "$(lg --json outbox list)" '"state": "sent"' "outbox list --json"
done_testing
