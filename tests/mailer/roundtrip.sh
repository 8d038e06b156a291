#!/bin/bash
# tests/mailer/roundtrip.sh - a campaign's whole round trip through the real
# daemons (SPEC §11): leadgate-lmtpd's worker sends a blast to a saved
# search into Postfix's smtp-sink; an unsubscribe mail for an end user whose
# turn has not come, delivered to the same leadgate-lmtpd with swaks while
# the blast runs, takes effect before that end user's message (skipped,
# never sent); a reply to a message the sink received becomes a lead of
# that end user (source "Mailer: NAME"); a hard bounce of another marks the
# send bounced in v_campaign_sends and the address undeliverable; the next
# campaign's dry run names both exclusions. Nothing here is written by SQL
# except the bulk of opted-in contacts: every other step is what a site does.
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/lmtp/lmtp-lib.sh"

command -v swaks >/dev/null || { [ -n "${CI:-}" ] && { echo "not ok 1 - swaks is missing"; echo "1..1"; exit 1; }; skip_all "swaks not installed"; }
command -v python3 >/dev/null || skip_all "python3 is not installed"
command -v sqlite3 >/dev/null || skip_all "sqlite3 is not installed"
check "smtp-sink starts" smtp_sink_start "$T/sink"

mails() { find "$T/sink" -type f | wc -l; }
at_least() { [ "$(mails)" -ge "$1" ]; }
# sunk ADDR: the files the sink holds for ADDR
sunk() { grep -l "^X-Rcpt-Args: <$1>" "$T"/sink/* 2>/dev/null; }
# header FILE NAME: the first NAME: header of a sunk message (unfolded, no CR)
header() { tr -d '\r' < "$1" | awk -v h="$2" 'BEGIN {h = tolower(h) ":"} /^$/ {exit}
	/^[ \t]/ {if (on) v = v $0; next} {if (on) exit; if (tolower(substr($0, 1, length(h))) == h) {on = 1; v = substr($0, length(h) + 2)}}
	END {print v}'; }
lmtp() { swaks --protocol LMTP --server "127.0.0.1:$LMTPD_PORT" --from "$1" --to "$2" --data @"$3" 2>&1; }

# A blast of 40 at 240 a minute takes about ten seconds: time for an
# unsubscribe to arrive while it runs.
lmtpd_conf "[outbox]" "smtp_url = smtp://127.0.0.1:$SINK_PORT" "from = leadgate@example.test" \
	"connect_timeout = 2" "timeout = 10" "poll_interval = 1" \
	"[mailer]" "from = news@example.test" "unsubscribe_address = unsubscribe@example.test" "per_minute = 240"
cp "$T/lmtpd.conf" "$T/leadgate.conf"
lmtpd_mailboxes
lg org add Acme --domain acme.test >/dev/null
lg org set Acme marketing on >/dev/null
lg org add Other --domain other.test >/dev/null
lg org set Other marketing on >/dev/null
sqlq "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40)
      INSERT INTO end_users (email, name, organization_id, receive_marketing, marketing_changed_at, marketing_changed_by)
      SELECT 'c' || i || '@acme.test', 'Customer ' || i, (SELECT id FROM organizations WHERE name = 'Acme'),
             1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'cli' FROM n"
lg contact add zoe@other.test --org Other >/dev/null
lg contact set zoe@other.test marketing on >/dev/null
check "search save acme --domain acme.test" lg search save acme --domain acme.test
printf 'Subject: Spring at {{organization.name}}\n\nHello {{contact.name}},\n\nour spring offers.\n' > "$T/spring.txt"
check "mailer create spring --search acme" lg mailer create spring --template "$T/spring.txt" --search acme

check "leadgate-lmtpd starts, with its worker" lmtpd_start
like "$(lg mailer send spring)" '40 queued' "the blast queues the 40 end users of the search"
check "the worker is sending" wait_for 60 at_least 2

# --- an unsubscribe mail while the blast runs ---------------------------------------
first=$(sunk c1@acme.test | head -1)
lu=$(header "$first" List-Unsubscribe)
like "$lu" '^<mailto:unsubscribe\+lg-U[0-9]+-[0-9a-f]{16}@example\.test\?subject=unsubscribe>$' \
	"the first message carries a keyed List-Unsubscribe mailto:"
# the token is the end user's: c40's is c1's with c40's id and its own MAC,
# which only the database's key makes; so take it as a site's web page would
# (leadgate mailer preview renders c40's message with c40's token).
lu40=$(lg mailer preview spring --to c40@acme.test | tr -d '\r' | sed -n 's/^List-Unsubscribe: <mailto:\([^?]*\)?.*/\1/p' | head -1)
like "$lu40" '^unsubscribe\+lg-U[0-9]+-[0-9a-f]{16}@example\.test$' "preview gives c40's own unsubscribe address"
is "$(sqlq "select state from outbox o join end_users e on e.id = o.end_user_id where e.email = 'c40@acme.test'")" queued \
	"c40's turn has not come yet"
printf 'From: <c40@acme.test>\nTo: <%s>\nSubject: unsubscribe\nMessage-ID: <unsub-40@acme.test>\n\nunsubscribe\n' "$lu40" > "$T/u.eml"
like "$(lmtp c40@acme.test "$lu40" "$T/u.eml")" '<-  250 2\.0\.0 <[^>]*> Ok: unsubscribed' \
	"c40's unsubscribe mail, through leadgate-lmtpd mid-blast: Ok: unsubscribed"
is "$(sqlq "select receive_marketing || '|' || marketing_changed_by from end_users where email = 'c40@acme.test'")" \
	"0|unsubscribe:mailto" "... c40's consent is withdrawn at once"

check "the blast finishes" wait_for 90 sql_is "select count(*) from outbox where kind = 'campaign' and state in ('queued', 'sending')" 0
is "$(mails)" 39 "the sink holds 39 messages"
is "$(for i in $(seq 1 39); do sunk "c$i@acme.test" | wc -l; done | sort -u | tr '\n' ' ')" "1 " "... one for each of c1..c39"
is "$(sunk c40@acme.test | wc -l)" 0 "... none for c40, who unsubscribed during the run"
is "$(sqlq "select state from v_campaign_sends where recipient = 'c40@acme.test'")" skipped "c40's send is skipped"
like "$(sqlq "select error from v_campaign_sends where recipient = 'c40@acme.test'")" "consent|marketing" "... saying why"
is "$(sunk zoe@other.test | wc -l)" 0 "zoe, outside the search, got nothing"
is "$(sqlq "select count(*) from leads")" 0 "the unsubscribe mail is no lead"

# --- a reply to a campaign message ---------------------------------------------------
f5=$(sunk c5@acme.test)
mid5=$(header "$f5" Message-ID)
like "$mid5" '^<lg-C[0-9]+-[0-9a-f]{16}@example\.test>$' "c5's message has a keyed Message-ID"
ref5=${mid5#<}; ref5=${ref5%@*}
like "$(tr -d '\r' < "$f5")" "Reference: $ref5" "... and the same reference in a line of its body"
printf 'From: Customer 5 <c5@acme.test>\nTo: <news@example.test>\nSubject: Re: Spring at Acme\nMessage-ID: <reply-5@acme.test>\nIn-Reply-To: %s\nReferences: %s\n\nHow much for 40 printers?\n' \
	"$mid5" "$mid5" > "$T/r5.eml"
like "$(lmtp c5@acme.test news@example.test "$T/r5.eml")" '<-  250 2\.0\.0 <news@example\.test> Ok' "c5 replies to news@: accepted"
is "$(sqlq "select source || '|' || decided_by || '|' || contact_email || '|' || organization from v_leads where sender_email = 'c5@acme.test'")" \
	"Mailer: spring|campaign-reply|c5@acme.test|Acme" "... a lead of c5, source Mailer: spring"

# --- a hard bounce of another ----------------------------------------------------------
mid7=$(header "$(sunk c7@acme.test)" Message-ID)
cat > "$T/b7.eml" <<DSN
From: Mail Delivery System <MAILER-DAEMON@mx.acme.test>
To: <news@example.test>
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn-7@mx.acme.test>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

The mail could not be delivered.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.acme.test

Final-Recipient: rfc822; c7@acme.test
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 no such user

--b1
Content-Type: text/rfc822-headers

From: news@example.test
To: c7@acme.test
Subject: Spring at Acme
Message-ID: $mid7

--b1--
DSN
like "$(lmtp "<>" news@example.test "$T/b7.eml")" '<-  250 2\.0\.0 <news@example\.test> Ok' "a bounce of c7's message: accepted"
is "$(sqlq "select state from v_campaign_sends where recipient = 'c7@acme.test'")" bounced "... v_campaign_sends: c7 bounced"
is "$(sqlq "select status from undeliverable where address = 'c7@acme.test'")" 5.1.1 "... c7 is undeliverable"
is "$(sqlq "select count(*) from v_leads where decided_by = 'campaign-reply'")" 1 "... the bounce is no campaign reply"
is "$(sqlq "select l.decided_by || '|' || l.status || '|' || coalesce(l.ticket_id, 0) from leads l join messages m on m.id = l.message_id where m.message_id = 'dsn-7@mx.acme.test'")" \
	"automatic|unread|0" "... but automatic mail (SPEC §3): unread, no ticket"

# --- the next campaign sees both ------------------------------------------------------------
printf 'Subject: Summer\n\nHello {{contact.name}}\n' > "$T/summer.txt"
lg mailer create summer --template "$T/summer.txt" --search acme >/dev/null
dry=$(lg mailer send summer --dry-run)
like "$dry" 'c40@acme\.test .*no consent' "the next dry run: c40 excluded, no consent"
like "$dry" 'c7@acme\.test .*(bounce|undeliverable)' "... c7 excluded, by its bounce"
like "$dry" 'c8@acme\.test .*would send' "... c8 would get it"
is "$(grep -ci 'sanitizer\|runtime error' "$LMTPD_LOG")" 0 "the daemon's log has no sanitizer complaint"
done_testing
