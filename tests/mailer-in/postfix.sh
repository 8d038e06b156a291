#!/bin/bash
# tests/mailer-in/postfix.sh - the mailer's two addresses through a real
# Postfix configured from contrib/postfix/ (tests/postfix/postfix-lib.sh):
# unsubscribe+<token>@ reaches leadgate-lmtpd by the transport table's
# unsubscribe@ line (recipient_delimiter = +) and clears the end user's
# flag; a forged token is refused by leadgate, so Postfix bounces it and
# nobody is unsubscribed; a reply to a campaign message sent to [mailer]
# from becomes a lead of that end user; a campaign message that fails for
# good comes back as Postfix's own bounce, which marks the send bounced,
# the address undeliverable and the end user's consent off.
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/postfix/postfix-lib.sh"
pf_require
command -v python3 >/dev/null || skip_all "python3 is not installed"

check "smtp-sink stands in for the outside world" sink_start
check "database, mailboxes" lg_setup
printf '[mailer]\nfrom = news@example.com\n' >> "$T/lmtpd.conf"
check "the private Postfix's config from contrib/postfix" pf_config unix
# test: a domain whose every address fails for good, so that Postfix itself
# writes the bounce (its own DSN) of a campaign message sent there
printf 'gone.test error:5.1.1 mailbox unavailable\n' >> "$PFC/leadgate_transport"
postmap -c "$PFC" "hash:$PFC/leadgate_transport"
check "postfix -c starts the private instance on loopback" pf_start
check "leadgate-lmtpd on the socket in the queue directory" lmtpd_up
is "$(postconf -c "$PFC" -h recipient_delimiter)" "+" "the instance has the snippet's recipient_delimiter"

KEY=$(sqlq "select value from settings where key = 'ref_key'")
ref() {
	python3 -c 'import hashlib, hmac, sys
k, kind, i = sys.argv[1:4]
print("lg-%s%s-%s" % (kind, i, hmac.new(k.encode(), (kind + i).encode(), hashlib.sha256).hexdigest()[:16]))' "$KEY" "$1" "$2"
}
# as the daemon's user: the database is its
as_lg sqlite3 -batch "$LGDB" "
	INSERT INTO organizations (id, name) VALUES (1, 'Customer');
	INSERT INTO end_users (id, email, name, organization_id, receive_marketing, marketing_changed_at, marketing_changed_by)
	  VALUES (1, 'bob@customer.test', 'Bob', 1, 1, '2026-01-01T00:00:00Z', 'cli'),
	         (2, 'cy@customer.test', 'Cy', 1, 1, '2026-01-01T00:00:00Z', 'cli');
	INSERT INTO campaigns (id, name, kind, subject, body_text, state) VALUES (1, 'Autumn offers', 'blast', 'Autumn', 'Hi', 'active');
	INSERT INTO outbox (id, kind, event, channel, recipient, webhook_id, payload, state, campaign_id, end_user_id, message_id)
	  VALUES (1, 'campaign', 'Autumn offers', 'email', 'bob@customer.test', 'msg_c1', '{}', 'sent', 1, 1, '$(ref C 1)@example.com');
	INSERT INTO end_users (id, email, name, organization_id, receive_marketing, marketing_changed_at, marketing_changed_by)
	  VALUES (3, 'erin@gone.test', 'Erin', 1, 1, '2026-01-01T00:00:00Z', 'cli');
	INSERT INTO outbox (id, kind, event, channel, recipient, webhook_id, payload, state, campaign_id, end_user_id, message_id)
	  VALUES (2, 'campaign', 'Autumn offers', 'email', 'erin@gone.test', 'msg_c2', '{}', 'sent', 1, 3, '$(ref C 2)@example.com');"
flag() { sqlq "select receive_marketing || '|' || coalesce(marketing_changed_by, '') from end_users where id = $1"; }

check "an unsubscribe mail to unsubscribe+<token>@ is queued" send --to "unsubscribe+$(ref U 1)@example.com" \
	--header "Subject: unsubscribe" --header "Message-Id: <pu1@customer.test>"
q=$QID
check "... and delivered" queue_wait 20
like "$(grep "$q: to=<unsubscribe+" "$PFLOG")" 'relay=[^ ]*\[leadgate/lmtp\].* status=sent \(250 2\.0\.0 <unsubscribe\+lg-u1-[0-9a-f]{16}@example\.com> Ok: unsubscribed\)' \
	"the transport table's unsubscribe@ line took the extension; leadgate answered Ok: unsubscribed"
is "$(flag 1)/$(sqlq "select count(*) from leads")" "0|unsubscribe:mailto/0" "bob's flag is off; no lead"

check "a forged token is queued (smtpd does not know it)" send --to "unsubscribe+lg-U2-0123456789abcdef@example.com" \
	--header "Subject: unsubscribe" --header "Message-Id: <pu2@customer.test>"
q=$QID
check "... and leaves the queue" queue_wait 20
like "$(grep "$q: to=<unsubscribe+" "$PFLOG")" 'status=bounced .*said: 550 5\.1\.1' "leadgate refused it (550 5.1.1): Postfix bounced it"
is "$(flag 2)/$(sqlq "select count(*) from leads")" "1|cli/0" "cy keeps the flag; no lead"

check "a reply to the campaign message, to [mailer] from" send --to news@example.com \
	--header "Subject: Re: Autumn" --header "Message-Id: <pr1@customer.test>" --header "In-Reply-To: <$(ref C 1)@example.com>"
q=$QID
check "... delivered" queue_wait 20
like "$(grep "$q: to=<news@example.com>" "$PFLOG")" 'relay=[^ ]*\[leadgate/lmtp\].* status=sent \(250 2\.0\.0 .*lead [0-9]+ ticket [0-9]+' \
	"[mailer] from's line took it to leadgate: a lead and a ticket"
is "$(sqlq "select source || '|' || decided_by || '|' || contact_id from leads l join messages m on m.id = l.message_id where m.message_id = 'pr1@customer.test'")" \
   "Mailer: Autumn offers|campaign-reply|1" "... bob's lead, source Mailer: Autumn offers"

# A campaign message from [mailer] from to an address that fails for good:
# Postfix's own bounce comes back to news@ and through leadgate-lmtpd.
# (by sendmail(1), as the mailer's local MTA takes it: smtpd would refuse
# an address whose transport is error(8) at RCPT already)
printf 'From: news@example.com\nTo: erin@gone.test\nSubject: Autumn\nMessage-Id: <%s@example.com>\n\nHello\n' "$(ref C 2)" |
	sendmail -C "$PFC" -f news@example.com erin@gone.test
is "$?" 0 "a campaign message to erin@gone.test is handed to Postfix (sendmail)"
check "... Postfix bounces it" log_wait 'to=<erin@gone\.test>.*status=bounced' 20
bounced() { [ "$(sqlq "select count(*) from outbox where id = 2 and bounced_at is not null")" = 1 ]; }
check "... and its report, to news@, reaches leadgate" wait_for bounced
like "$(grep 'to=<news@example.com>' "$PFLOG" | tail -1)" 'relay=[^ ]*\[leadgate/lmtp\].*status=sent \(250 2\.0\.0 .*lead [0-9]+\)' \
	"... over the transport table's news@ line (an unread lead: automatic mail, no ticket)"
is "$(sqlq "select bounced_at is not null from outbox where id = 2")/$(flag 3)" "1/0|bounce" \
   "Postfix's bounce marks the send bounced and clears erin's consent"
like "$(sqlq "select status from undeliverable where address = 'erin@gone.test'")" '^5\.1\.1$' "... and erin@gone.test is undeliverable"

unlike "$(cat "$PFLOG")" 'fatal:|panic:' "Postfix logged no fatal error"
lmtpd_down
done_testing
