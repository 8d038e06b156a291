#!/bin/bash
# tests/lmtp/sync.sh - a copy of a sales rep's received mail routed to
# leadgate-lmtpd (Postfix recipient_bcc_maps, docs/deploy.md) goes through
# the email sync filter as Email Received (SPEC §3, §5): the rep's address is
# not a mailbox, is accepted at RCPT even with catch_all = none, makes no
# lead of the central inbox, and one activity per (Message-ID, user,
# direction, lead) whichever path saw the message first: Postfix's retry,
# `leadgate ingest` of the same message, a message to a mailbox and a rep.
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/lmtp/lmtp-lib.sh"

lmtpd_conf
lmtpd_mailboxes
lg user add rep@example.test --role sales >/dev/null
lg user sync rep@example.test on >/dev/null
lg user add gone@example.test --role sales >/dev/null
lg user sync gone@example.test on >/dev/null
lg user remove gone@example.test >/dev/null
# a lead for the customer, that the activity lands on
printf 'From: Cara <cara@customer.example>\nTo: sales@example.test\nSubject: first\nMessage-ID: <first@customer.example>\n\nhello\n' > "$T/first.eml"
lg ingest --rcpt sales@example.test "$T/first.eml" >/dev/null
LEAD=$(sqlq "select id from leads")
leads0=$(sqlq "select count(*) from leads")

msg() {  # msg ID RCPT-HEADER
	printf 'MAIL FROM:<cara@customer.example>\nRCPT TO:<%s>\n' "$2"
	[ -n "${3:-}" ] && printf 'RCPT TO:<%s>\n' "$3"
	printf 'DATA\nFrom: Cara <cara@customer.example>\nTo: Rep <rep@example.test>\nSubject: About the quote\nMessage-ID: <%s@customer.example>\n\nLet us talk.\n.\n' "$1"
}

check "daemon starts" lmtpd_start
out=$( { printf 'LHLO c.test\n'; msg q1 rep@example.test; printf 'QUIT\n'; } | lmtp_tcp)
is "$(printf '%s' "$out" | codes)" "220 250 250 250 354 250 221" "a rep's address is accepted at RCPT with catch_all = none, and the copy gets 250"
is "$(sqlq "select count(*) from leads")" "$leads0" "... no lead of the central inbox"
is "$(sqlq "select type||'|'||user_email||'|'||lead_id from v_activities")" "Email Received|rep@example.test|$LEAD" \
   "... one Email Received activity on the customer's lead"
is "$(sqlq "select outcome||'|'||direction from v_sync_log where message_id='q1@customer.example'")" "synced|in" "... and its sync-log row"
like "$(cat "$LMTPD_LOG")" "to=<rep@example.test> outcome=recorded.*decided_by=sync" "the log line says the sync decided"

# Postfix's retry of the same delivery: nothing twice
out=$( { printf 'LHLO c.test\n'; msg q1 rep@example.test; printf 'QUIT\n'; } | lmtp_tcp)
is "$(printf '%s' "$out" | codes)" "220 250 250 250 354 250 221" "the same delivery again: 250"
is "$(sqlq "select count(*) from activities")/$(sqlq "select count(*) from sync_log")" "1/1" "... no second activity or log row"
like "$(grep 'to=<rep@example.test>' "$LMTPD_LOG" | tail -1)" "outcome=duplicate" "... reported as a duplicate"

# the milter or another path saw it first: `leadgate ingest` of the same copy adds nothing
msg q1 rep@example.test | sed -n '/^From:/,/^Let us/p' > "$T/q1.eml"
out=$(lg ingest --rcpt rep@example.test "$T/q1.eml")
like "$out" "rep@example.test: duplicate.*by sync" "ingest of a copy already synced: a duplicate"
is "$(sqlq "select count(*) from activities where ident='q1@customer.example'")" 1 "... still one activity"

# a message to a mailbox and to the rep: a lead for the mailbox, an activity for the rep
out=$( { printf 'LHLO c.test\n'; msg q2 support@example.test rep@example.test; printf 'QUIT\n'; } | lmtp_tcp)
is "$(printf '%s' "$out" | codes)" "220 250 250 250 250 354 250 250 221" "a mailbox and a rep in one transaction: 250 for each"
is "$(sqlq "select count(*) from leads l join messages m on m.id=l.message_id where m.message_id='q2@customer.example'")" 1 \
   "... one lead, for the mailbox"
is "$(sqlq "select count(*) from v_activities where subject='About the quote'")" 2 "... and an activity for the rep's copy"

# a removed user's address: accepted (not a mailbox), logged as skipped
out=$( { printf 'LHLO c.test\n'; msg q3 gone@example.test; printf 'QUIT\n'; } | lmtp_tcp)
is "$(printf '%s' "$out" | codes)" "220 250 250 250 354 250 221" "a removed user's address: accepted"
is "$(sqlq "select outcome||'|'||reason from v_sync_log where message_id='q3@customer.example'")" "skipped|removed" \
   "... the sync log says the user was removed"
# an address that is neither a mailbox nor a user: still refused
out=$( { printf 'LHLO c.test\nMAIL FROM:<cara@customer.example>\nRCPT TO:<nobody@example.test>\nQUIT\n'; } | lmtp_tcp)
is "$(printf '%s' "$out" | codes)" "220 250 250 550 221" "neither a mailbox nor a user: 550 at RCPT"
lmtpd_stop
done_testing
