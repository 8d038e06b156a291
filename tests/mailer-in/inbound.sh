#!/bin/bash
# tests/mailer-in/inbound.sh - the mailer's inbound side (SPEC §11) through
# the real leadgate-lmtpd, with swaks: the unsubscribe mailto: with a keyed
# token clears the end user's flag, answers "Ok: unsubscribed" and makes no
# lead; a forged, missing or foreign token is 550 5.1.1 at RCPT even with a
# catch-all; a second unsubscribe changes nothing; `leadgate unsubscribe
# TOKEN` for the one-click URL; a hard bounce of a campaign message marks
# the send bounced, the address undeliverable and consent off, a forged one
# nothing; a reply naming the campaign Message-ID is a lead of that end
# user (source "Mailer: NAME"), a forged reference or a bare "Re:" is not.
# The campaign and its sends are rows written here with sqlite3, as the
# sending side would have written them, their keyed references made with
# the database's settings.ref_key (HMAC-SHA256, first 16 hex digits).
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/lmtp/lmtp-lib.sh"

command -v swaks >/dev/null || { [ -n "${CI:-}" ] && { echo "not ok 1 - swaks is missing"; echo "1..1"; exit 1; }; skip_all "swaks not installed"; }
command -v python3 >/dev/null || skip_all "python3 is not installed"

lmtpd_conf "[mailer]" "from = news@example.test"
cp "$T/lmtpd.conf" "$T/leadgate.conf"
lmtpd_mailboxes

KEY=$(sqlq "select value from settings where key = 'ref_key'")
# ref KIND ID: leadgate's keyed reference lg-KID-<mac>
ref() {
	python3 -c 'import hashlib, hmac, sys
k, kind, i = sys.argv[1:4]
print("lg-%s%s-%s" % (kind, i, hmac.new(k.encode(), (kind + i).encode(), hashlib.sha256).hexdigest()[:16]))' "$KEY" "$1" "$2"
}

# --- the customers, a campaign and its sends --------------------------------
sqlq "INSERT INTO organizations (id, name, receive_marketing, marketing_changed_at, marketing_changed_by)
        VALUES (1, 'Customer Ltd', 1, '2026-01-01T00:00:00Z', 'cli');
      INSERT INTO organization_domains (domain, organization_id) VALUES ('customer.example', 1);
      INSERT INTO end_users (id, email, name, organization_id, receive_marketing, marketing_changed_at, marketing_changed_by)
        VALUES (1, 'carol@customer.example', 'Carol', 1, 1, '2026-01-01T00:00:00Z', 'cli'),
               (2, 'dave@customer.example', 'Dave', 1, 1, '2026-01-01T00:00:00Z', 'cli'),
               (3, 'erin@customer.example', 'Erin', 1, 1, '2026-01-01T00:00:00Z', 'cli'),
               (4, 'frank@customer.example', 'Frank', 1, 1, '2026-01-01T00:00:00Z', 'cli');
      INSERT INTO campaigns (id, name, kind, subject, body_text, state) VALUES (1, 'Spring news', 'blast', 'Spring news', 'Hello', 'active');"
for u in 1 2 3 4; do
	email=$(sqlq "select email from end_users where id = $u")
	sqlq "INSERT INTO outbox (id, kind, event, channel, recipient, webhook_id, payload, state, sent_at, campaign_id,
	        end_user_id, organization_id, message_id)
	      VALUES ($u, 'campaign', 'Spring news', 'email', '$email', 'msg_c$u', '{}', 'sent', '2026-12-01T00:00:00Z', 1,
	        $u, 1, '$(ref C $u)@example.test')"
done
is "$(sqlq "select count(*) from end_users where receive_marketing = 1")" 4 "four end users opted in"
flag() { sqlq "select receive_marketing || '|' || coalesce(marketing_changed_by, '') from end_users where id = $1"; }

check "leadgate-lmtpd starts" lmtpd_start
# lmtp FROM TO[,TO] FILE: one LMTP transaction with swaks; the session's transcript
lmtp() { swaks --protocol LMTP --server "127.0.0.1:$LMTPD_PORT" --from "$1" --to "$2" --data @"$3" 2>&1; }
mail() {  # mail FILE FROM SUBJECT MSGID [HEADER]...
	local f=$1 from=$2 subj=$3 id=$4; shift 4
	{ printf 'From: <%s>\nTo: <x@example.test>\nSubject: %s\nMessage-ID: <%s>\nDate: Tue, 01 Dec 2026 10:00:00 +0000\n' "$from" "$subj" "$id"
	  for h in "$@"; do printf '%s\n' "$h"; done
	  printf '\nplease\n'; } > "$f"
}

# --- unsubscribe by mail ----------------------------------------------------
TOK1=$(ref U 1)
leads0=$(lead_count); msgs0=$(sqlq "select count(*) from messages")
mail "$T/u1.eml" carol@customer.example unsubscribe u1@customer.example
out=$(lmtp carol@customer.example "unsubscribe+$TOK1@example.test" "$T/u1.eml")
like "$out" "<-  250 2\.0\.0 <unsubscribe\+$(printf '%s' "$TOK1" | tr 'A-Z' 'a-z')@example\.test> Ok: unsubscribed" \
	"an unsubscribe with a valid token: 250 Ok: unsubscribed after DATA"
is "$(flag 1)" "0|unsubscribe:mailto" "... carol's flag is off, changed by unsubscribe:mailto"
is "$(sqlq "select end_user_id || '|' || address || '|' || via || '|' || token || '|' || message_id from unsubscribes")" \
   "1|carol@customer.example|mailto|$TOK1|u1@customer.example" "... and logged with its token and Message-ID"
is "$(lead_count)/$(sqlq "select count(*) from messages")" "$leads0/$msgs0" "... it is no lead, and no message is kept"
is "$(flag 2)" "1|cli" "... nobody else is unsubscribed"

mail "$T/u1b.eml" carol@customer.example unsubscribe u1b@customer.example
out=$(lmtp carol@customer.example "unsubscribe+$TOK1@example.test" "$T/u1b.eml")
like "$out" "<-  250 2\.0\.0 <unsubscribe\+.*> Ok: unsubscribed" "a second unsubscribe is accepted too"
is "$(sqlq "select count(*) from unsubscribes")/$(flag 1)/$(lead_count)" "1/0|unsubscribe:mailto/$leads0" "... and changes nothing"

# --- tokens that do not verify: refused at RCPT, even with a catch-all -------
forged="lg-U2-0000000000000000"
mail "$T/u2.eml" mallory@evil.example unsubscribe u2@evil.example
out=$(lmtp mallory@evil.example "unsubscribe+$forged@example.test" "$T/u2.eml")
like "$out" "<\*\* 550 5\.1\.1 <unsubscribe\+lg-u2-0000000000000000@example\.test> User unknown" "a forged token: 550 5.1.1 at RCPT"
out=$(lmtp mallory@evil.example "unsubscribe@example.test" "$T/u2.eml")
like "$out" "<\*\* 550 5\.1\.1 <unsubscribe@example\.test> User unknown" "the unsubscribe address without a token: 550 5.1.1"
TOK2T=$(ref T 2)
out=$(lmtp mallory@evil.example "unsubscribe+$TOK2T@example.test" "$T/u2.eml")
like "$out" "<\*\* 550 5\.1\.1" "a valid reference of another kind (a ticket's): 550 5.1.1"
is "$(flag 2)/$(lead_count)" "1|cli/$leads0" "... dave keeps his consent, and nothing became a lead"

# the same through a daemon with a catch-all (mode always): still refused
LMTPD_CATCH_ALL=always lmtpd_conf "[mailer]" "from = news@example.test"
out=$(printf 'LHLO c.test\nMAIL FROM:<mallory@evil.example>\nRCPT TO:<unsubscribe+%s@example.test>\nRCPT TO:<unsubscribe@example.test>\nRCPT TO:<anyone@example.test>\nQUIT\n' "$forged" | lmtp_s | codes)
is "$out" "220 250 250 550 550 250 221" "with a catch-all: forged and missing tokens are 550, any other address 250"
TOK2=$(ref U 2)
mail "$T/u3.eml" dave@customer.example unsubscribe u3@customer.example
out=$({ printf 'LHLO c.test\nMAIL FROM:<dave@customer.example>\nRCPT TO:<unsubscribe+%s@example.test>\nDATA\n' "$TOK2"; cat "$T/u3.eml"; printf '.\nQUIT\n'; } | lmtp_s | tr -d '\r')
like "$out" "250 2\.0\.0 <unsubscribe\+lg-u2-[0-9a-f]{16}@example\.test> Ok: unsubscribed" "with a catch-all: a valid token unsubscribes"
is "$(flag 2)/$(lead_count)" "0|unsubscribe:mailto/$leads0" "... dave's flag is off, no lead"
lmtpd_conf "[mailer]" "from = news@example.test"

# one message to the unsubscribe address and to a mailbox: each gets its own answer
sqlq "update end_users set receive_marketing = 1, marketing_changed_by = 'cli' where id = 4"
TOK4=$(ref U 4)
mail "$T/u4.eml" frank@customer.example "unsubscribe, and a question" u4@customer.example
out=$(lmtp frank@customer.example "unsubscribe+$TOK4@example.test,support@example.test" "$T/u4.eml")
like "$out" "Ok: unsubscribed" "unsubscribe and a mailbox in one transaction: the unsubscribe is answered Ok: unsubscribed"
like "$out" "<-  250 2\.0\.0 <support@example\.test> Ok: lead [0-9]+" "... and the mailbox gets its lead"
is "$(flag 4)/$(sqlq "select count(*) from leads l join messages m on m.id = l.message_id where m.message_id = 'u4@customer.example'")" \
   "0|unsubscribe:mailto/1" "... frank unsubscribed, one lead (the mailbox's), none for the unsubscribe address"
sqlq "update end_users set receive_marketing = 1, marketing_changed_at = '2026-01-01T00:00:00Z', marketing_changed_by = 'cli' where id = 4"

# --- leadgate ingest and rules test take the unsubscribe address alike -------
sqlq "update end_users set receive_marketing = 1, marketing_changed_by = 'cli' where id = 4"
mail "$T/u5.eml" frank@customer.example unsubscribe u5@customer.example
leads1=$(lead_count)
out=$(lg rules test --rcpt "unsubscribe+$TOK4@example.test" "$T/u5.eml" 2>&1); rc=$?
like "$rc/$out" "would unsubscribe" "rules test: the unsubscribe address would unsubscribe"
is "$(flag 4)" "1|cli" "... and writes nothing"
out=$(lg ingest --rcpt "unsubscribe+$TOK4@example.test" "$T/u5.eml"); rc=$?
like "$rc/$out" "^0/unsubscribe\+lg-u4-[0-9a-f]{16}@example\.test: unsubscribed .*frank@customer\.example unsubscribed" \
	"ingest: a valid token unsubscribes (exit 0)"
is "$(flag 4)/$(lead_count)" "0|unsubscribe:mailto/$leads1" "... frank's flag is off, no lead"
lg ingest --rcpt "unsubscribe+$forged@example.test" "$T/u5.eml" >/dev/null 2>&1; rc=$?
is "$rc" 67 "ingest: a forged token is no recipient (exit 67)"
sqlq "update end_users set receive_marketing = 1, marketing_changed_at = '2026-01-01T00:00:00Z', marketing_changed_by = 'cli' where id = 4"

# --- leadgate unsubscribe TOKEN (the one-click URL's endpoint) ---------------
sqlq "update end_users set receive_marketing = 1, marketing_changed_by = 'cli' where id = 2"
out=$(lg unsubscribe "$TOK2"); rc=$?
is "$rc/$out" "0/dave@customer.example unsubscribed (end user 2)" "unsubscribe TOKEN: exit 0, says who"
is "$(flag 2)/$(sqlq "select via from unsubscribes where end_user_id = 2 order by id desc limit 1")" "0|unsubscribe:url/url" \
   "... consent off, changed by unsubscribe:url"
out=$(lg unsubscribe "https://example.test/unsubscribe?token=$TOK2"); rc=$?
is "$rc/$out" "0/dave@customer.example was unsubscribed already (end user 2): nothing changed" "a second one (the URL's query given whole): exit 0, nothing changed"
out=$(lg unsubscribe "$forged" 2>&1); rc=$?
is "$rc" 65 "a forged token: exit 65"
like "$out" "is not a valid unsubscribe token .*nobody unsubscribed" "... saying so"
check_not "no token: a usage error" lg unsubscribe

# --- a hard bounce of a campaign message -------------------------------------
dsn() {  # dsn FILE ORIGINAL-MSGID DSN-MSGID
	cat > "$1" <<DSN
From: Mail Delivery System <MAILER-DAEMON@mx.customer.example>
To: <news@example.test>
Subject: Undelivered Mail Returned to Sender
Message-ID: <$3>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

The mail could not be delivered.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.customer.example

Final-Recipient: rfc822; erin@customer.example
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 no such user

--b1
Content-Type: text/rfc822-headers

From: news@example.test
To: erin@customer.example
Subject: Spring news
Message-ID: <$2>

--b1--
DSN
}
dsn "$T/b3.eml" "$(ref C 3)@example.test" dsn3@mx.customer.example
out=$(lmtp "<>" news@example.test "$T/b3.eml")
like "$out" "<-  250 2\.0\.0 <news@example\.test> Ok: lead [0-9]+" "a DSN for a campaign message to [mailer] from: accepted (no catch-all needed)"
is "$(sqlq "select bounced_at is not null from outbox where id = 3")" 1 "... the send is marked bounced"
is "$(sqlq "select status || '|' || diagnostic from undeliverable where address = 'erin@customer.example'")" "5.1.1|550 5.1.1 no such user" \
   "... the address is undeliverable"
is "$(flag 3)" "0|bounce" "... and erin's consent is off, by bounce"
is "$(sqlq "select decided_by || '|' || status || '|' || coalesce(ticket_id, 0) from leads l join messages m on m.id = l.message_id where m.message_id = 'dsn3@mx.customer.example'")" \
   "automatic|unread|0" "... the report itself stays automatic mail: an unread lead, no ticket"

# a forged one: the same report naming send 4 with a MAC that does not verify
sqlq "update end_users set receive_marketing = 1, marketing_changed_by = 'cli' where id = 4"
dsn "$T/b4.eml" "lg-C4-0000000000000000@example.test" dsn4@mx.customer.example
sed -i 's/erin@customer.example/frank@customer.example/' "$T/b4.eml"
out=$(lmtp "<>" news@example.test "$T/b4.eml")
like "$out" "<-  250 2\.0\.0 <news@example\.test> Ok: lead" "a forged DSN is accepted as mail"
is "$(sqlq "select bounced_at is null from outbox where id = 4")/$(flag 4)" "1/1|cli" "... but marks no send bounced and keeps frank's consent"
# the same forgery with a plain (unkeyed) Message-ID of the send: nothing either
dsn "$T/b5.eml" "msg_c4@example.test" dsn5@mx.customer.example
lmtp "<>" news@example.test "$T/b5.eml" >/dev/null
is "$(sqlq "select count(*) from outbox where bounced_at is not null")/$(flag 4)" "1/1|cli" "an unkeyed DSN changes no send and no consent"
is "$(sqlq "select count(*) from undeliverable where address = 'frank@customer.example'")" 0 \
   "... and neither marks frank, a campaign recipient, undeliverable"
# an unkeyed report about an address the mailer never sent to: marked as before (SPEC §3)
dsn "$T/b6.eml" "other-6@example.test" dsn6@mx.customer.example
sed -i 's/erin@customer.example/ivan@elsewhere.example/' "$T/b6.eml"
lmtp "<>" news@example.test "$T/b6.eml" >/dev/null
is "$(sqlq "select status from undeliverable where address = 'ivan@elsewhere.example'")" "5.1.1" \
   "an unkeyed hard bounce for an address that gets no campaign mail still marks it undeliverable"

# --- replies to a campaign message -------------------------------------------
TIX0=$(sqlq "select count(*) from tickets")
mail "$T/r1.eml" carol@customer.example "Re: Spring news" r1@customer.example "In-Reply-To: <$(ref C 1)@example.test>" \
	"References: <$(ref C 1)@example.test>"
out=$(lmtp carol@customer.example news@example.test "$T/r1.eml")
like "$out" "<-  250 2\.0\.0 <news@example\.test> Ok: lead [0-9]+ ticket [0-9]+" "a reply to a campaign message: a lead and a ticket"
is "$(sqlq "select source || '|' || decided_by || '|' || status || '|' || contact_id || '|' || organization_id from leads l join messages m on m.id = l.message_id where m.message_id = 'r1@customer.example'")" \
   "Mailer: Spring news|campaign-reply|won|1|1" "... the lead is carol's, source Mailer: Spring news, decided by campaign-reply, won"
is "$(sqlq "select count(*) from tickets")" "$((TIX0 + 1))" "... one ticket opened"
# a colleague answering carol's copy: still carol's lead (the keyed reference vouches for the send)
mail "$T/r2.eml" gina@elsewhere.example "Re: Spring news" r2@elsewhere.example "In-Reply-To: <$(ref C 2)@example.test>"
lmtp gina@elsewhere.example support@example.test "$T/r2.eml" >/dev/null
is "$(sqlq "select source || '|' || decided_by || '|' || contact_id from leads l join messages m on m.id = l.message_id where m.message_id = 'r2@elsewhere.example'")" \
   "Mailer: Spring news|campaign-reply|2" "a reply through another mailbox, by another sender: a lead of the send's end user"
# a client that dropped References: the keyed line of the body, quoted
mail "$T/r6.eml" dave@customer.example "Re: Spring news" r6@customer.example
printf '> Spring news\n> [ref:%s]\n' "$(ref C 2)" >> "$T/r6.eml"
lmtp dave@customer.example news@example.test "$T/r6.eml" >/dev/null
is "$(sqlq "select source || '|' || decided_by || '|' || contact_id from leads l join messages m on m.id = l.message_id where m.message_id = 'r6@customer.example'")" \
   "Mailer: Spring news|campaign-reply|2" "a reply without References that quotes the body's keyed line: dave's campaign reply"
# a forged reference, and a bare Re: subject: ordinary mail
mail "$T/r3.eml" mallory@evil.example "Re: Spring news" r3@evil.example "In-Reply-To: <lg-C1-0000000000000000@example.test>"
lmtp mallory@evil.example news@example.test "$T/r3.eml" >/dev/null
is "$(sqlq "select source || '|' || decided_by || '|' || status || '|' || coalesce(contact_id, 0) from leads l join messages m on m.id = l.message_id where m.message_id = 'r3@evil.example'")" \
   "email|mailbox-mode|unread|0" "a forged campaign reference: an ordinary unread lead of nobody"
mail "$T/r4.eml" mallory@evil.example "Re: Spring news" r4@evil.example
lmtp mallory@evil.example news@example.test "$T/r4.eml" >/dev/null
is "$(sqlq "select source || '|' || decided_by from leads l join messages m on m.id = l.message_id where m.message_id = 'r4@evil.example'")" \
   "email|mailbox-mode" "a bare Re: subject: no campaign reply"
# an out-of-office answer to the campaign: the end user's lead, but automatic
mail "$T/r5.eml" frank@customer.example "Out of office: Spring news" r5@customer.example "In-Reply-To: <$(ref C 4)@example.test>" \
	"Auto-Submitted: auto-replied"
lmtp frank@customer.example news@example.test "$T/r5.eml" >/dev/null
is "$(sqlq "select source || '|' || decided_by || '|' || status || '|' || contact_id || '|' || coalesce(ticket_id, 0) from leads l join messages m on m.id = l.message_id where m.message_id = 'r5@customer.example'")" \
   "Mailer: Spring news|automatic|unread|4|0" "an auto-reply to a campaign: frank's lead, automatic, no ticket"
is "$(sqlq "select count(*) from tickets")" "$((TIX0 + 3))" "... no ticket from any of these (the replies of carol, gina and dave made the three)"

# --- consent of customers made from mail: off -----------------------------------
mail "$T/n1.eml" hank@newcorp.example "A question" n1@newcorp.example
lmtp hank@newcorp.example support@example.test "$T/n1.eml" >/dev/null
is "$(sqlq "select e.receive_marketing || '|' || o.receive_marketing || '|' || coalesce(e.marketing_changed_at, '-') from end_users e join organizations o on o.id = e.organization_id where e.email = 'hank@newcorp.example'")" \
   "0|0|-" "an end user and organization made from mail have not consented to marketing mail"

# --- a tech resolves a ticket from the CLI -----------------------------------
N=$(sqlq "select number from tickets order by id desc limit 1")
lg user add tom@example.test --role tech >/dev/null
check "ticket set NUMBER status resolved" lg ticket set "$N" status resolved
is "$(sqlq "select status || '|' || (resolved_at is not null) from tickets where number = $N")" "resolved|1" "... the ticket is resolved, with its time"
is "$(sqlq "select count(*) from events e join tickets t on t.id = e.ticket_id where e.event = 'ticket.resolved' and t.number = $N")" 1 \
   "... and ticket.resolved is raised for triggered campaigns"
check "ticket set NUMBER priority high" lg ticket set "$N" priority high
check "ticket assign NUMBER USER" lg ticket assign "$N" tom@example.test
is "$(sqlq "select priority || '|' || (select email from users where id = assigned_user_id) from tickets where number = $N")" "high|tom@example.test" \
   "... priority and assignee set"
out=$(lg ticket set "$N" status bogus 2>&1); rc=$?
is "$rc" 64 "an unknown status: exit 64"
like "$out" "status must be one of new, open, in-progress, waiting, resolved, closed" "... naming the statuses"
out=$(lg ticket set 99999 status open 2>&1); rc=$?
is "$rc/$out" "1/leadgate: no ticket #99999" "a ticket that does not exist: refused"
check "ticket set NUMBER status open reopens it" lg ticket set "$N" status open
is "$(sqlq "select status || '|' || (resolved_at is null) from tickets where number = $N")" "open|1" "... and clears resolved_at"

lmtpd_stop
done_testing
