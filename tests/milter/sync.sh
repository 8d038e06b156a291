#!/bin/bash
# tests/milter/sync.sh - the real leadgate-milter, driven by miltertest(8),
# through every setting of the email sync (SPEC §5): each case asserts that
# every reply was continue/accept and what v_sync_log, v_activities and
# v_leads hold afterwards. Settings change by SIGHUP reloads.
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/milter/milter-lib.sh"

lg init >/dev/null
for u in rep:sales off:sales gone:sales tech:tech rep2:sales; do
  lg user add "${u%%:*}@example.com" --role "${u#*:}" >/dev/null
done
sqlite3 "$T/lg.db" "update users set sync_enabled = 1 where email in ('rep@example.com', 'tech@example.com', 'rep2@example.com', 'gone@example.com')"
lg user remove gone@example.com >/dev/null
# an existing lead for anna@customer.example (inbound mail to a mailbox)
printf 'From: Anna <anna@customer.example>\r\nTo: sales@example.com\r\nSubject: hello\r\nMessage-ID: <in1@customer.example>\r\n\r\nhi\r\n' > "$T/in1.eml"
lg ingest --rcpt sales@example.com --sender anna@customer.example "$T/in1.eml" >/dev/null
ANNA=$(sqlq "select id from leads where sender_email = 'anna@customer.example'")
like "$ANNA" '^[0-9]+$' "a lead exists for anna@customer.example"
BASE=("[sync]" "internal_domains = example.com")
mconf "${BASE[@]}"
check "leadgate-milter starts on a UNIX socket" start_milter

# -- the plain case: outbound by SASL login, an activity on the existing lead
msg m1 "From: Rep <rep@example.com>" "To: Anna <anna@customer.example>" "Cc: Carl <carl@customer.example>" \
  "Subject: Our offer" "Message-ID: <m1@example.com>" -- "Hello Anna," "the offer."
sent_ok m1 rep@example.com "anna@customer.example carl@customer.example bea@customer.example" rep@example.com
is "$(synclog m1@example.com)" "synced::anna@customer.example skipped:no_lead:bea@customer.example skipped:no_lead:carl@customer.example" \
   "m1: synced on anna's lead; the others have no lead and capture is off"
is "$(sqlq "select type, user_email, lead_id, lead_email, from_addr, to_addrs, cc_addrs, bcc_addrs, subject from v_activities where message_id = 'm1@example.com'")" \
   "Email Sent|rep@example.com|$ANNA|anna@customer.example|rep@example.com|anna@customer.example|carl@customer.example|bea@customer.example|Our offer" \
   "m1: an Email Sent activity with Bcc = the envelope recipient in neither To nor Cc"
like "$(cat "$MLOG")" "msgid=<m1@example.com> dir=out user=<rep@example.com> synced counterpart=<anna@customer.example> lead=$ANNA" \
   "m1: a log line per decision"

# -- the same message again (Postfix re-sends; a second path): nothing doubles
sent_ok m1 rep@example.com "anna@customer.example carl@customer.example bea@customer.example" rep@example.com
is "$(sqlq "select count(*) from v_activities where message_id = 'm1@example.com'")/$(sqlq "select count(*) from v_sync_log where message_id = 'm1@example.com'")" \
   "1/3" "m1 twice: still one activity and three log rows"

# -- outbound by {daemon_name} (the submission service), no SASL
msg m2 "From: rep@example.com" "To: anna@customer.example" "Subject: via submission" "Message-ID: <m2@example.com>" -- "x"
sent_ok m2 rep@example.com "anna@customer.example" "" ORIGINATING
is "$(synclog m2@example.com)" "synced::anna@customer.example" "m2: {daemon_name} ORIGINATING makes it outbound"

# -- inbound: mail for a user's own address is Email Received
msg m3 "From: Anna <anna@customer.example>" "To: rep@example.com" "Subject: re: offer" "Message-ID: <m3@customer.example>" -- "thanks"
sent_ok m3 anna@customer.example "rep@example.com"
is "$(sqlq "select type || '|' || user_email || '|' || lead_id from v_activities where message_id = 'm3@customer.example'")" \
   "Email Received|rep@example.com|$ANNA" "m3: inbound to a user is an Email Received activity"

# -- inbound to two users: one activity each
msg m3b "From: Anna <anna@customer.example>" "To: rep@example.com, rep2@example.com" "Subject: to both" "Message-ID: <m3b@customer.example>" -- "x"
sent_ok m3b anna@customer.example "rep@example.com rep2@example.com"
is "$(sqlq "select group_concat(user_email, ' ') from (select user_email from v_activities where message_id = 'm3b@customer.example' order by user_email)")" \
   "rep2@example.com rep@example.com" "inbound to two users: an activity for each"

# -- mail of no user leaves nothing; an unknown sender; users that are not synced
msg m4 "From: x@elsewhere.example" "To: y@customer.example" "Subject: not ours" "Message-ID: <m4@elsewhere.example>" -- "x"
sent_ok m4 x@elsewhere.example "y@customer.example"
msg m5 "From: stranger@example.com" "To: anna@customer.example" "Subject: unknown" "Message-ID: <m5@example.com>" -- "x"
sent_ok m5 stranger@example.com "anna@customer.example" stranger@example.com
is "$(sqlq "select count(*) from sync_log s where s.message_id in ('m4@elsewhere.example', 'm5@example.com')")" "0" \
   "m4, m5: mail of no user and of an unknown sender leave no row"
unlike "$(cat "$MLOG")" "m4@elsewhere.example" "m4: inbound mail for no user's address is not even collected"
like "$(cat "$MLOG")" "msgid=<m5@example.com> dir=out sender=<stranger@example.com>: no user to sync" "m5: logged as no user"
for u in off:sync_off gone:removed tech:role_not_allowed; do
  msg "u-${u%%:*}" "From: ${u%%:*}@example.com" "To: anna@customer.example" "Subject: s" "Message-ID: <u-${u%%:*}@example.com>" -- "x"
  sent_ok "u-${u%%:*}" "${u%%:*}@example.com" "anna@customer.example" "${u%%:*}@example.com"
  is "$(synclog "u-${u%%:*}@example.com")" "skipped:${u#*:}:" "${u%%:*}@example.com: skipped, ${u#*:}"
done
is "$(sqlq "select count(*) from activities a join users u on u.id = a.user_id where u.email in ('off@example.com', 'gone@example.com', 'tech@example.com')")" \
   "0" "no activity for a user with sync off, a removed user, a role not allowed"

# -- the kill switch, and a direction turned off
check "reload: [sync] enabled = false" reload "${BASE[@]}" "enabled = false"
msg k1 "From: rep@example.com" "To: anna@customer.example" "Subject: s" "Message-ID: <k1@example.com>" -- "x"
sent_ok k1 rep@example.com "anna@customer.example" rep@example.com
is "$(synclog k1@example.com)" "" "kill switch: nothing logged"
check "reload: [outbound] enabled = false" reload "${BASE[@]}" "[outbound]" "enabled = false"
msg k2 "From: rep@example.com" "To: anna@customer.example" "Subject: s" "Message-ID: <k2@example.com>" -- "x"
sent_ok k2 rep@example.com "anna@customer.example" rep@example.com
is "$(synclog k2@example.com)" "" "outbound off: nothing logged"
msg k3 "From: anna@customer.example" "To: rep@example.com" "Subject: s" "Message-ID: <k3@customer.example>" -- "x"
sent_ok k3 anna@customer.example "rep@example.com"
is "$(synclog k3@customer.example)" "synced::anna@customer.example" "outbound off: inbound still synced"

# -- internal-only mail
check "reload: base" reload "${BASE[@]}"
msg i1 "From: rep@example.com" "To: rep2@example.com" "Cc: boss@sub.example.com" "Subject: s" "Message-ID: <i1@example.com>" -- "x"
sent_ok i1 rep@example.com "rep2@example.com boss@sub.example.com" rep@example.com
is "$(synclog i1@example.com)" "skipped:internal:" "internal only (subdomains too): skipped"
msg i0 "From: rep@example.com" "To: rep@example.com" "Subject: note to self" "Message-ID: <i0@example.com>" -- "x"
sent_ok i0 rep@example.com "rep@example.com" rep@example.com
is "$(synclog i0@example.com)" "skipped:internal:" "mail to oneself: skipped as internal"
check "reload: skip_internal = false" reload "${BASE[@]}" "skip_internal = false"
msg i3 "From: rep@example.com" "To: rep@example.com" "Subject: note to self" "Message-ID: <i3@example.com>" -- "x"
sent_ok i3 rep@example.com "rep@example.com" rep@example.com
is "$(synclog i3@example.com)" "skipped:internal:" "mail to oneself, skip_internal off: still one row, skipped"
msg i2 "From: rep@example.com" "To: rep2@example.com" "Subject: s" "Message-ID: <i2@example.com>" -- "x"
sent_ok i2 rep@example.com "rep2@example.com" rep@example.com
is "$(synclog i2@example.com)" "skipped:no_lead:rep2@example.com" "skip_internal off: internal mail goes on to the lead look-up"

# -- automated mail, in each form, never synced and never captured
check "reload: capture on" reload "${BASE[@]}" "[outbound]" "capture_new_leads = true" "capture_from = to;cc;bcc"
n=0
for h in "Auto-Submitted: auto-replied" "Precedence: bulk" "Precedence: list" "List-Id: <news.customer.example>" \
         "List-Unsubscribe: <mailto:leave@customer.example>" "X-Autoreply: yes" \
         "Cc: noreply@vendor.example" "Cc: postmaster@vendor.example" "Cc: MAILER-DAEMON@vendor.example" \
         "Cc: no-reply@vendor.example"; do
  n=$((n+1))
  msg "a$n" "From: rep@example.com" "To: new-a$n@auto.example" "$h" "Subject: s" "Message-ID: <a$n@example.com>" -- "x"
  sent_ok "a$n" rep@example.com "new-a$n@auto.example" rep@example.com
  is "$(synclog "a$n@example.com")" "skipped:automated:" "automated ($h): skipped"
done
msg a0 "From: rep@example.com" "To: new-a0@auto.example" "Subject: s" "Message-ID: <a0@example.com>" -- "x"
sent_ok a0 "" "new-a0@auto.example" rep@example.com
is "$(synclog a0@example.com)" "skipped:automated:" "automated (null Return-Path): skipped"
is "$(sqlq "select count(*) from leads where sender_email like 'new-a%@auto.example'")" "0" "no lead captured from automated mail"

# -- keywords: phrases, subject only, body only, users' own
check "reload: keywords in subject" reload "${BASE[@]}" "[outbound]" "mode = keywords" "keywords = Festive Offer 2022" "keywords_in = subject"
kw() { # kw ID SUBJECT BODY
  msg "$1" "From: rep@example.com" "To: anna@customer.example" "Subject: $2" "Message-ID: <$1@example.com>" -- "$3"
  sent_ok "$1" rep@example.com "anna@customer.example" rep@example.com
}
kw w1 "festive offer 2022" "x";        is "$(synclog w1@example.com)" "synced::anna@customer.example" "\"Festive Offer 2022\" matches \"festive offer 2022\""
kw w2 "Festive  Offer 2022" "x";       is "$(synclog w2@example.com)" "skipped:no_keyword:" "... not \"Festive  Offer 2022\" (two spaces)"
kw w3 "Offer Festive 2022" "x";        is "$(synclog w3@example.com)" "skipped:no_keyword:" "... not \"Offer Festive 2022\""
kw w4 "hello" "our Festive Offer 2022"; is "$(synclog w4@example.com)" "skipped:no_keyword:" "keywords_in = subject: a keyword in the body does not count"
check "reload: keywords in body" reload "${BASE[@]}" "[outbound]" "mode = keywords" "keywords = Festive Offer 2022" "keywords_in = body"
kw w5 "hello" "our Festive Offer 2022"; is "$(synclog w5@example.com)" "synced::anna@customer.example" "keywords_in = body: found in the body"
kw w6 "Festive Offer 2022" "x";        is "$(synclog w6@example.com)" "skipped:no_keyword:" "keywords_in = body: the subject does not count"
sqlite3 "$T/lg.db" "insert into user_keywords (user_id, keyword) select id, 'pricing' from users where email = 'rep@example.com'"
kw w7 "pricing" "pricing";             is "$(synclog w7@example.com)" "skipped:no_keyword:" "a user's own keyword does not count with user_keywords off"
check "reload: user_keywords" reload "${BASE[@]}" "[outbound]" "mode = keywords" "keywords = Festive Offer 2022" "user_keywords = true"
kw w8 "new pricing" "x";               is "$(synclog w8@example.com)" "synced::anna@customer.example" "a user's own keyword counts with user_keywords on"

# -- exclusions per field, admin's and the user's own
check "reload: exclude in to" reload "${BASE[@]}" "[outbound]" "exclude = rival.example" "exclude_applies_to = to"
ex() { # ex ID
  msg "$1" "From: rep@example.com" "To: anna@customer.example" "Cc: spy@rival.example" "Subject: s" "Message-ID: <$1@example.com>" -- "x"
  sent_ok "$1" rep@example.com "anna@customer.example spy@rival.example" rep@example.com
}
ex e1; like "$(synclog e1@example.com)" "^synced::anna@customer.example" "a domain excluded for To only: in Cc it does not count"
check "reload: exclude in to;cc" reload "${BASE[@]}" "[outbound]" "exclude = rival.example" "exclude_applies_to = to;cc"
ex e2; is "$(synclog e2@example.com)" "skipped:excluded:" "a domain excluded in Cc when Cc is applicable: skipped"
sqlite3 "$T/lg.db" "insert into user_exclusions (user_id, item) select id, 'spy@rival.example' from users where email = 'rep@example.com'"
check "reload: user exclusions" reload "${BASE[@]}" "[outbound]" "exclude_applies_to = cc" "user_exclusions = true"
ex e3; is "$(synclog e3@example.com)" "skipped:excluded:" "a user's own exclusion counts with user_exclusions on"

# -- capture of new leads, per field, with the configured source
check "reload: capture from bcc" reload "${BASE[@]}" "[outbound]" "capture_new_leads = true" "capture_from = bcc" "lead_source = Outbound Sync"
msg c1 "From: rep@example.com" "To: to1@prospect.example" "Subject: intro" "Message-ID: <c1@example.com>" -- "x"
sent_ok c1 rep@example.com "to1@prospect.example bcc1@prospect.example" rep@example.com
is "$(synclog c1@example.com)" "captured::bcc1@prospect.example skipped:no_lead:to1@prospect.example" "capture_from = bcc: the Bcc recipient becomes a lead, To does not"
is "$(sqlq "select status, hidden, source, decided_by, sender_email from v_leads where sender_email = 'bcc1@prospect.example'")" \
   "unread|0|Outbound Sync|sync|bcc1@prospect.example" "the captured lead: unread, source = lead_source, decided by sync"
is "$(sqlq "select count(*) from v_activities a join v_leads l on l.id = a.lead_id where l.sender_email = 'bcc1@prospect.example'")" "1" \
   "the captured lead has its activity"

# -- never a lead captured for an address on the spam list
lg spam add junk.example >/dev/null
msg c2 "From: rep@example.com" "To: buyer@junk.example" "Subject: re" "Message-ID: <c2@example.com>" -- "x"
sent_ok c2 rep@example.com "bcc2@junk.example" rep@example.com
is "$(synclog c2@example.com)" "skipped:spam:bcc2@junk.example skipped:no_lead:buyer@junk.example" "a spam domain in Bcc: skipped as spam, no lead"
is "$(sqlq "select count(*) from leads where sender_email like '%@junk.example'")" "0" "no lead for the spam domain"

# -- activity fields off and on; attachment types
MIME=("MIME-Version: 1.0" "Content-Type: multipart/mixed; boundary=\"b1\"")
PARTS=("--b1" "Content-Type: text/plain" "" "Body text here." "--b1" "Content-Type: application/pdf; name=\"offer.pdf\""
       "Content-Disposition: attachment; filename=\"offer.pdf\"" "Content-Transfer-Encoding: base64" "" "JVBERi0xLjQK"
       "--b1" "Content-Type: application/zip; name=\"tool.zip\"" "Content-Disposition: attachment; filename=\"tool.zip\""
       "Content-Transfer-Encoding: base64" "" "UEsDBAo=" "--b1--")
check "reload: no activity fields" reload "${BASE[@]}" "[outbound]" "activity_fields ="
msg f1 "From: rep@example.com" "To: anna@customer.example" "Cc: carl@customer.example" "Subject: fields" "Message-ID: <f1@example.com>" "${MIME[@]}" -- "${PARTS[@]}"
sent_ok f1 rep@example.com "anna@customer.example carl@customer.example bea@customer.example" rep@example.com
is "$(sqlq "select from_addr || '|' || to_addrs || '|' || quote(cc_addrs) || '|' || quote(bcc_addrs) || '|' || quote(subject) || '|' || quote(body) || '|' || quote(attachments) from v_activities where message_id = 'f1@example.com'")" \
   "rep@example.com|anna@customer.example|NULL|NULL|NULL|NULL|NULL" "activity_fields empty: From and To only"
check "reload: every activity field, pdf only" reload "${BASE[@]}" "[outbound]" "activity_fields = cc;bcc;subject;body;attachments" "attachment_types = application/pdf"
msg f2 "From: rep@example.com" "To: anna@customer.example" "Cc: carl@customer.example" "Subject: fields" "Message-ID: <f2@example.com>" "${MIME[@]}" -- "${PARTS[@]}"
sent_ok f2 rep@example.com "anna@customer.example carl@customer.example bea@customer.example" rep@example.com
is "$(sqlq "select cc_addrs || '|' || bcc_addrs || '|' || subject || '|' || body || '|' || attachments from v_activities where message_id = 'f2@example.com'")" \
   "carl@customer.example|bea@customer.example|fields|Body text here.|offer.pdf (application/pdf, 9 bytes)" \
   "every activity field on: cc, bcc, subject, body; the allowed attachment type listed, the other not"
for fld in cc bcc subject body attachments; do
  check "reload: only $fld" reload "${BASE[@]}" "[outbound]" "activity_fields = $fld"
  msg "f-$fld" "From: rep@example.com" "To: anna@customer.example" "Cc: carl@customer.example" "Subject: fields" "Message-ID: <f-$fld@example.com>" "${MIME[@]}" -- "${PARTS[@]}"
  sent_ok "f-$fld" rep@example.com "anna@customer.example carl@customer.example bea@customer.example" rep@example.com
  is "$(sqlq "select (cc_addrs is not null) || (bcc_addrs is not null) || (subject is not null) || (body is not null) || (attachments is not null) from v_activities where message_id = 'f-$fld@example.com'")" \
     "$(for x in cc bcc subject body attachments; do [ $x = "$fld" ] && printf 1 || printf 0; done)" "activity_fields = $fld: that field alone is kept"
done

# -- body_max: cut with a visible marker
check "reload: body_max 1K" reload "${BASE[@]}" "body_max = 1K"
long=$(head -c 3000 /dev/zero | tr '\0' 'y')
msg b1 "From: rep@example.com" "To: anna@customer.example" "Subject: long" "Message-ID: <b1@example.com>" -- "$long"
sent_ok b1 rep@example.com "anna@customer.example" rep@example.com
like "$(sqlq "select length(body) || ' ' || substr(body, -40) from v_activities where message_id = 'b1@example.com'" | tr '\n' ' ')" \
     '^10[0-9][0-9] .*\[\.\.\. cut by leadgate at 1024 bytes\] ?$' "a long body is cut at body_max with a visible marker"

# -- 60 counterparts: activities on existing leads only, no capture
check "reload: capture to, max_counterparts 50" reload "${BASE[@]}" "max_counterparts = 50" "[outbound]" "capture_new_leads = true" "capture_from = to"
# in six To headers of ten (miltertest overflows on a header of 1 KB)
tos=("To: anna@customer.example"); rc="anna@customer.example"
for j in 0 1 2 3 4 5; do
  to=""
  for i in $(seq $((j*10+1)) $((j*10+10))); do
    [ "$i" -gt 59 ] && break
    to="$to${to:+, }p$i@many.example"; rc="$rc p$i@many.example"
  done
  [ -n "$to" ] && tos+=("To: $to")
done
msg x1 "From: rep@example.com" "${tos[@]}" "Subject: to many" "Message-ID: <x1@example.com>" -- "x"
sent_ok x1 rep@example.com "$rc" rep@example.com
is "$(sqlq "select outcome || ':' || coalesce(reason, '') || ':' || count(*) from v_sync_log where message_id = 'x1@example.com' group by outcome, reason order by 1" | tr '\n' ' ')" \
   "skipped:too_many_counterparts:59 synced::1 " "60 counterparts: the existing lead synced, 59 skipped as too many"
is "$(sqlq "select count(*) from leads where sender_email like 'p%@many.example'")" "0" "60 counterparts: no lead captured"

# -- lead_search_field: the lead's email, or its contact's
lg contact add buyer@partner.example >/dev/null
sqlite3 "$T/lg.db" "update leads set contact_id = (select id from end_users where email = 'buyer@partner.example') where id = $ANNA"
check "reload: lead_search_field = email" reload "${BASE[@]}"
msg l1 "From: rep@example.com" "To: buyer@partner.example" "Subject: s" "Message-ID: <l1@example.com>" -- "x"
sent_ok l1 rep@example.com "buyer@partner.example" rep@example.com
is "$(synclog l1@example.com)" "skipped:no_lead:buyer@partner.example" "lead_search_field = email: the contact's address finds no lead"
check "reload: lead_search_field = contact_email" reload "${BASE[@]}" "lead_search_field = contact_email"
msg l2 "From: rep@example.com" "To: buyer@partner.example" "Subject: s" "Message-ID: <l2@example.com>" -- "x"
sent_ok l2 rep@example.com "buyer@partner.example" rep@example.com
is "$(sqlq "select outcome || ':' || lead_id from v_sync_log where message_id = 'l2@example.com'")" "synced:$ANNA" \
   "lead_search_field = contact_email: found by the lead's contact"

# -- inbound capture from From
check "reload: inbound capture" reload "${BASE[@]}" "[inbound]" "capture_new_leads = true"
msg n1 "From: New Person <newbie@fresh.example>" "To: rep@example.com" "Subject: question" "Message-ID: <n1@fresh.example>" -- "hi"
sent_ok n1 newbie@fresh.example "rep@example.com"
is "$(synclog n1@fresh.example)" "captured::newbie@fresh.example" "inbound: the sender becomes a lead (capture_from = from)"
is "$(sqlq "select source || '|' || sender_name from v_leads where sender_email = 'newbie@fresh.example'")" "Email Sync|New Person" \
   "inbound capture: the default lead_source and the sender's name"

check "leadgate-milter stops on SIGTERM" stop_milter
unlike "$(cat "$MLOG")" 'error:' "no error logged"
done_testing
