#!/bin/bash
# tests/mailer/campaign.sh - the mailer's sending side end to end (SPEC §11):
# saved searches, consent, a blast into Postfix's smtp-sink that reaches
# exactly the opted-in end users with the contract's headers (keyed
# Message-ID, List-Unsubscribe and its one-click Post, Precedence), dry-run
# reasons, pause/resume without a second send, an opt-out honoured before
# the next message of the same run, the exactly-once cases by fault hooks
# (killed before the end of DATA: sent again; killed after the 250: assumed
# sent, never twice), blasts_enabled = false, template and CLI errors.
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"

command -v python3 >/dev/null || skip_all "python3 is not installed"
command -v sqlite3 >/dev/null || skip_all "sqlite3 is not installed"
check "smtp-sink starts" smtp_sink_start "$T/sink"

cat > "$T/leadgate.conf" <<EOF
[store]
database = $T/lg.db
[rules]
directory = $T/rules
[outbox]
smtp_url = smtp://127.0.0.1:$SINK_PORT
connect_timeout = 2
timeout = 10
[mailer]
from = news@shop.test
unsubscribe_address = leave@shop.test
unsubscribe_url = https://shop.test/unsub?list=news
EOF
sed 's/^unsubscribe_url.*/blasts_enabled = false/' "$T/leadgate.conf" > "$T/noblast.conf"

mails() { find "$T/sink" -type f | wc -l; }
# got ADDR: how many messages the sink holds for ADDR
got() { grep -l "^X-Rcpt-Args: <$1>" "$T"/sink/* 2>/dev/null | wc -l; }
# dup_rcpts: (recipient, subject) pairs the sink holds more than one message for
dup_rcpts() {
	for f in "$T"/sink/*; do
		tr -d '\r' < "$f" | awk '/^X-Rcpt-Args: / {r = $2} /^Subject: / && !s {s = $0} END {print r, s}'
	done | sort | uniq -d
}
# add_contacts ORG PREFIX N: N opted-in end users PREFIX1..PREFIXN@ORG's domain (bulk, by SQL)
add_contacts() {
	sqlq "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $3)
	      INSERT INTO end_users (email, name, organization_id, receive_marketing, marketing_changed_at, marketing_changed_by)
	      SELECT '$2' || i || '@' || (SELECT domain FROM organization_domains d JOIN organizations o ON o.id = d.organization_id
	                                  WHERE o.name = '$1'), 'Customer ' || i, (SELECT id FROM organizations WHERE name = '$1'),
	             1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'cli' FROM n"
}

# --- the site ------------------------------------------------------------------
lg init >/dev/null
lg org add Acme --domain acme.test >/dev/null
lg org add Acorn --domain acorn.test >/dev/null
lg org add Beta --domain beta.test >/dev/null
lg contact add ann@acme.test --name 'Ann "A" Smith' --org Acme >/dev/null
lg contact add bob@acme.test --name Bob --org Acme >/dev/null
lg contact add dee@acme.test --org Acme >/dev/null
lg contact add eve@acme.test --org Acme >/dev/null
lg contact add gus@junk.example --org Acme >/dev/null
lg contact add hal@acorn.test --name Hal --org Acorn >/dev/null
lg contact add ivy@acorn.test --org Acorn >/dev/null
lg contact add cy@beta.test --org Beta >/dev/null
is "$(sqlq 'select count(*) from end_users where receive_marketing = 1')" 0 "a new end user has not consented"
check "org set Acme marketing on" lg org set Acme marketing on
check "org set Beta marketing on" lg org set Beta marketing on
for a in ann dee eve gus; do lg contact set $a@acme.test marketing on >/dev/null 2>&1; done
lg contact set gus@junk.example marketing on >/dev/null
lg contact set cy@beta.test marketing on >/dev/null
lg contact set hal@acorn.test marketing on >/dev/null
lg contact set ivy@acorn.test marketing on >/dev/null
is "$(sqlq "select marketing_changed_by from end_users where email = 'ann@acme.test'")" cli "contact set stamps who changed the flag"
is "$(lg org set Nope marketing on 2>&1; echo "rc=$?")" $'leadgate: no organization "Nope"\nrc=1' "org set of an unknown organization: refused"
is "$(lg contact set ann@acme.test marketing maybe 2>&1; echo "rc=$?")" $'leadgate: marketing is on or off, not "maybe"\nrc=64' \
   "marketing maybe: a usage error"
sqlq "insert into undeliverable (address, status) values ('dee@acme.test', '5.1.1')"
lg spam add eve@acme.test >/dev/null
lg spam add junk.example >/dev/null
# Acorn has the flag off: hal and ivy consented, their organization did not

# --- saved searches -------------------------------------------------------------
check "search save: names like Ac%" lg search save acx --name-like 'Ac%'
is "$(lg search show acx | tail -n +9 | awk '{print $1}' | tr '\n' ' ')" "Acme Acorn " "search show lists the matching organizations"
check "search save: by domain" lg search save beta --domain BETA.test
is "$(lg search list | awk 'NR > 1 {print $1 "=" $NF}' | tr '\n' ' ')" "acx=2 beta=1 " "search list counts the organizations each matches"
is "$(lg search save x --created-since yesterday 2>&1; echo "rc=$?")" \
   $'leadgate: --created-since "yesterday" is not a date (YYYY-MM-DD)\nrc=64' "a bad --created-since: usage error"
check "search save with every criterion" lg search save open --name-like '%' --domain acme.test --has-open-tickets --created-since 2020-01-01
is "$(lg search show open | tail -n +9 | wc -l)" 0 "... no organization has an open ticket yet"
is "$(lg search show nope 2>&1; echo "rc=$?")" $'leadgate: no saved search "nope"\nrc=1' "search show of an unknown search"

# --- templates -------------------------------------------------------------------
printf 'Subject: News for {{contact.name}} at {{ organization.name }}\n\nHello {{contact.name}},\nour news for {{organization.name}}.\n' > "$T/news.txt"
printf '<p>Hello {{contact.name}}</p>\n' > "$T/news.html"
printf 'Subject: Hi\n\nHello {{contact.nmae}}\n' > "$T/typo.txt"
out=$(lg mailer create typo --template "$T/typo.txt" --all 2>&1); rc=$?
is "$rc" 65 "a template with an unknown placeholder: refused (65)"
like "$out" 'unknown placeholder \{\{contact.nmae\}\}; the placeholders are \{\{contact.name\}\}' "... naming it and the known ones"
printf 'Hello\n' > "$T/nosubject.txt"
out=$(lg mailer create nos --template "$T/nosubject.txt" --all 2>&1); rc=$?
like "$rc/$out" '^65/.*not a Subject: header' "a template without a Subject: line: refused"
out=$(lg mailer create x --template "$T/missing.txt" --all 2>&1); rc=$?
is "$rc/$out" "66/leadgate: --template $T/missing.txt: no such file" "a missing template file: 66"
out=$(lg mailer create x --template "$T/news.txt" 2>&1); rc=$?
like "$rc/$out" '^64/.*give the audience' "no audience: usage error"
out=$(lg mailer create x --template "$T/news.txt" --trigger ticket.closed --delay 3d 2>&1); rc=$?
like "$rc/$out" '^64/leadgate: unknown event "ticket.closed"; a campaign can follow ticket.resolved, lead.won, lead.created' \
     "an unknown trigger event: usage error naming the events"
out=$(lg mailer create x --template "$T/news.txt" --trigger lead.won --delay soon 2>&1); rc=$?
like "$rc/$out" '^64/.*--delay "soon" is not a duration' "a bad --delay: usage error"
out=$(lg mailer create x --template "$T/news.txt" --search nope 2>&1); rc=$?
is "$rc/$out" '1/leadgate: no saved search "nope"' "a blast to an unknown search: refused"
out=$(lg mailer frobnicate 2>&1); rc=$?
like "$rc/$out" '^64/leadgate: unknown mailer subcommand "frobnicate"' "an unknown subcommand: usage error"
is "$(sqlq 'select count(*) from campaigns')" 0 "the refused ones left nothing behind"

check "mailer create: a blast to search acx, with an HTML part" \
	lg mailer create news --template "$T/news.txt" --html "$T/news.html" --search acx
is "$(lg mailer list | awk 'NR == 2 {print $1, $2, $3}')" "news blast draft" "a new blast is a draft"

# --- dry run and preview -----------------------------------------------------------
dry=$(lg mailer send news --dry-run)
like "$dry" 'ann@acme.test +Ann "A" Smith +Acme +would send' "dry run: ann would get it"
like "$dry" "bob@acme.test +Bob +Acme +no consent: the contact's marketing flag is off" "... bob has not consented"
like "$dry" "dee@acme.test .*undeliverable \\(5.1.1\\)" "... dee is undeliverable"
like "$dry" "eve@acme.test .*spam-listed" "... eve's address is on the spam list"
like "$dry" "gus@junk.example .*spam-listed" "... gus's domain is on the spam list"
like "$dry" "hal@acorn.test .*no consent: the organization's marketing flag is off" "... Acorn has not consented"
unlike "$dry" "cy@beta.test" "... Beta is not in the search"
is "$(sqlq "select count(*) from outbox")" 0 "a dry run queues nothing"
prev=$(lg mailer preview news --to hal@acorn.test)
like "$prev" 'Subject: News for Hal at Acorn' "preview fills the subject's placeholders"
like "$prev" 'Hello Hal,' "... and the text's"
like "$prev" 'Content-Type: multipart/alternative' "... with the HTML part: multipart/alternative"
like "$prev" '<p>Hello Hal</p>' "... the HTML filled too"

# --- blasts_enabled = false ---------------------------------------------------------
out=$("$LEADGATE" -c "$T/noblast.conf" mailer send news 2>&1); rc=$?
like "$rc/$out" '^1/leadgate: blasts are disabled \(\[mailer\] blasts_enabled = false' "blasts_enabled = false: send refuses, saying why"
is "$(sqlq "select count(*) from outbox")/$(lg mailer list | awk 'NR == 2 {print $3}')" "0/draft" "... and queued nothing"

# --- the blast ------------------------------------------------------------------------
is "$(lg mailer send news)" 'campaign "news": 1 queued, 6 excluded (see --dry-run for why)' "send queues the one opted-in end user"
is "$(lg mailer send news)" 'campaign "news": 0 queued, 6 excluded (see --dry-run for why)' "a second send queues nobody again"
like "$(lg mailer run)" 'mailer: 1 sent, 0 to retry, 0 failed, 0 skipped' "mailer run sends it"
is "$(mails)" 1 "the sink got one message"
is "$(got ann@acme.test)" 1 "... for ann"
m=$(grep -l "^X-Rcpt-Args: <ann@acme.test>" "$T"/sink/*)
mid=$(sqlq "select message_id from outbox where recipient = 'ann@acme.test'")
like "$mid" '^lg-C[0-9]+-[0-9a-f]{16}@shop.test$' "the send's Message-ID is keyed (lg-C<id>-<mac>@ the from domain), stored in the outbox"
like "$(cat "$m")" "Message-I[Dd]: <$mid>" "... and it is the message's"
like "$(cat "$m")" 'X-Mail-Args: <news@shop.test>' "the envelope sender is [mailer] from (bounces return there)"
like "$(cat "$m")" 'List-Unsubscribe: <mailto:leave\+lg-U[0-9]+-[0-9a-f]{16}@shop.test\?subject=unsubscribe>,' \
     "List-Unsubscribe: a keyed mailto: address"
like "$(tr -d '\r\n\t' < "$m")" '<https://shop.test/unsub\?list=news&token=lg-U[0-9]+-[0-9a-f]{16}>' \
     "... and the URL, with &token= after the URL's own query"
like "$(cat "$m")" 'List-Unsubscribe-Post: List-Unsubscribe=One-Click' "List-Unsubscribe-Post (RFC 8058)"
like "$(cat "$m")" 'Precedence: bulk' "Precedence: bulk"
like "$(cat "$m")" 'Auto-Submitted: auto-generated' "Auto-Submitted: auto-generated"
like "$(cat "$m")" 'X-Leadgate-Loop: ' "leadgate's loop header"
like "$(cat "$m")" 'To unsubscribe, send a mail to leave\+lg-U' "the body ends with the unsubscribe line"
like "$(cat "$m")" 'Subject: News for "?Ann \\?"A\\?" Smith"? at Acme' "placeholders filled from the store"
is "$(sqlq "select campaign || '/' || state || '/' || organization from v_campaign_sends")" "news/sent/Acme" "v_campaign_sends shows the send"
is "$(lg mailer list | awk 'NR == 2 {print $3, $(NF-3)}')" "done 1" "the blast is done"
like "$(lg mailer run)" 'mailer: 0 sent' "another run sends nothing"

# --- pause, resume, an opt-out mid-run -------------------------------------------------
lg org add Gamma --domain gamma.test >/dev/null
lg org set Gamma marketing on >/dev/null
add_contacts Gamma g 40
printf 'Subject: Big news\n\nHi {{contact.name}}\n' > "$T/big.txt"
check "a blast to all organizations" lg mailer create big --template "$T/big.txt" --all
like "$(lg mailer send big)" '"big": 42 queued' "send big: ann, cy and the 40 of Gamma"
check "pause big" lg mailer pause big
like "$(lg mailer run)" 'mailer: 0 sent' "a paused campaign sends nothing"
is "$(lg mailer pause big 2>&1; echo "rc=$?")" $'leadgate: campaign "big" is paused; only an active campaign can be paused\nrc=1' \
   "pausing it again: refused"
check "resume big" lg mailer resume big
lg contact set g5@gamma.test marketing off >/dev/null
like "$(lg mailer run --max 10)" 'mailer: 9 sent, 0 to retry, 0 failed, 1 skipped' "run --max 10: nine sent, g5 (opted out after the send) skipped"
is "$(sqlq "select state || ': ' || last_error from outbox where recipient = 'g5@gamma.test'")" \
   "skipped: no consent: the contact's marketing flag is off (cli)" "... the skipped row says why"
check "pause big mid-way" lg mailer pause big
like "$(lg mailer run)" 'mailer: 0 sent' "paused mid-way: nothing more"
check "resume big" lg mailer resume big
like "$(lg mailer run)" 'mailer: 32 sent' "resumed: the rest"
is "$(dup_rcpts)" "" "nobody got a message twice across pause and resume"
is "$(got g5@gamma.test)" 0 "the opted-out one got nothing"
is "$(sqlq "select count(*) from outbox where campaign_id = (select id from campaigns where name = 'big') and state = 'sent'")" 41 \
   "every other recipient: sent"

# --- exactly once across a crash: fault hooks --------------------------------------------
printf 'Subject: Crash test\n\nHi\n' > "$T/crash.txt"
lg mailer create crash --template "$T/crash.txt" --search beta >/dev/null
lg mailer send crash >/dev/null     # cy@beta.test
LEADGATE_FAULT_INJECT=mailer-kill-before-data lg mailer run >/dev/null 2>&1; rc=$?
is "$rc" 137 "killed (SIGKILL) inside the data hook, before phase 'data' is written"
is "$(sqlq "select state || '/' || coalesce(phase, '-') from outbox where recipient = 'cy@beta.test' and event = 'crash'")" "sending/-" \
   "... the row is left in sending, phase NULL"
is "$(got cy@beta.test)" 1 "... and the MTA has nothing new (cy has only big's message)"
like "$(lg mailer run)" 'mailer: 1 sent' "the next run finds the dead worker's row (its pid is gone), queues it again and sends it"
is "$(got cy@beta.test)" 2 "... cy has crash's message now (and big's)"
is "$(sqlq "select count(*) from outbox where recipient = 'cy@beta.test' and event = 'crash' and state = 'sent'")" 1 "... once"

lg mailer create crash2 --template "$T/crash.txt" --search beta >/dev/null
lg mailer send crash2 >/dev/null
LEADGATE_FAULT_INJECT=mailer-kill-after-250 lg mailer run >/dev/null 2>&1; rc=$?
is "$rc" 137 "killed after the MTA's 250, before the sent mark was committed"
is "$(got cy@beta.test)" 3 "... the MTA has the message"
is "$(sqlq "select state || '/' || phase from outbox where event = 'crash2'")" "sending/data" "... the row: sending, phase data"
like "$(lg mailer run)" 'mailer: 0 sent' "the next run sends nothing"
is "$(sqlq "select state || ': ' || last_error from outbox where event = 'crash2'")" \
   "sent: assumed sent: the worker died after the end of data" "... it settles the row as sent, saying it was assumed"
is "$(got cy@beta.test)" 3 "... cy got crash2 once"

# --- refusals: 5xx fails the row, 4xx queues it again ------------------------------------------
SP1=$SINK_PORT
check "a second smtp-sink, refusing every recipient with a 5xx" smtp_sink_start "$T/sink5" -f rcpt
sed "s|^smtp_url.*|smtp_url = smtp://127.0.0.1:$SINK_PORT|" "$T/leadgate.conf" > "$T/5xx.conf"
check "a third, refusing every recipient with a 4xx" smtp_sink_start "$T/sink4" -r rcpt
sed "s|^smtp_url.*|smtp_url = smtp://127.0.0.1:$SINK_PORT|" "$T/leadgate.conf" > "$T/4xx.conf"
SINK_PORT=$SP1
lg mailer create hard --template "$T/crash.txt" --search beta >/dev/null
lg mailer send hard >/dev/null
like "$("$LEADGATE" -c "$T/4xx.conf" mailer run)" 'mailer: 0 sent, 1 to retry' "a 4xx: the send is queued again"
is "$(sqlq "select state || '/' || attempts || '/' || (next_attempt_at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) from outbox where event = 'hard'")" \
   "queued/1/1" "... due later (the outbox's retry schedule)"
sqlq "update outbox set next_attempt_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') where event = 'hard'"
like "$("$LEADGATE" -c "$T/5xx.conf" mailer run)" 'mailer: 0 sent, 0 to retry, 1 failed' "a 5xx: the send failed"
like "$(sqlq "select state || ': ' || last_error from outbox where event = 'hard'")" '^failed: SMTP 5[0-9][0-9]' "... for good, with the MTA's reply"
like "$(lg mailer run)" 'mailer: 0 sent' "a failed send is never sent again by a run"
done_testing
