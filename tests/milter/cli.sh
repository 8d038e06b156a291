#!/bin/bash
# tests/milter/cli.sh - the email sync's commands: leadgate user
# sync|keywords|exclude, leadgate log (ranges, the 60-day limit, search,
# --json) and leadgate purge (--dry-run), on a real database.
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"

lg init >/dev/null
lg user add rep@example.com --role sales >/dev/null
lg user add other@example.com --role sales >/dev/null

# -- user sync
is "$(lg user sync rep@example.com on)" "user rep@example.com: sync on" "user sync on"
is "$(sqlq "select sync_enabled from users where email = 'rep@example.com'")" "1" "... recorded"
lg user sync rep@example.com off >/dev/null
is "$(sqlq "select sync_enabled from users where email = 'rep@example.com'")" "0" "user sync off"
err=$(lg user sync nobody@example.com on 2>&1); rc=$?
check "user sync of an unknown user fails" test "$rc" -ne 0
like "$err" "nobody@example.com" "... naming the address"
check_not "user sync with neither on nor off" lg user sync rep@example.com maybe

# -- own keywords and exclusions
check "user keywords add a phrase" lg user keywords rep@example.com add "Festive Offer 2022"
check_not "the same keyword twice is refused" lg user keywords rep@example.com add "Festive Offer 2022"
like "$(lg user keywords rep@example.com list)" "Festive Offer 2022" "user keywords list"
check "user keywords remove" lg user keywords rep@example.com remove "Festive Offer 2022"
is "$(sqlq "select count(*) from user_keywords")" "0" "... gone"
check "user exclude add a domain" lg user exclude rep@example.com add "@Rival.Example"
check "user exclude add an address" lg user exclude rep@example.com add "Spy@Other.Example"
is "$(sqlq "select group_concat(item, ' ') from (select item from user_exclusions order by item)")" \
   "rival.example spy@other.example" "exclusions kept in canonical form"
check_not "an exclusion that is neither address nor domain" lg user exclude rep@example.com add "two words"

# -- the log: rows at known times (a lead to point at from a message)
printf 'From: Anna Lead <anna@customer.example>\r\nTo: sales@example.com\r\nSubject: hi\r\nMessage-ID: <in1@customer.example>\r\n\r\nhi\r\n' > "$T/in1.eml"
lg ingest --rcpt sales@example.com "$T/in1.eml" >/dev/null
LEAD=$(sqlq "select id from leads")
ago() { sqlq "select strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '$1')"; }
row() {  # row AT IDENT SUBJECT OUTCOME REASON LEAD USER
  sqlite3 "$T/lg.db" "insert into sync_log (at, user_id, direction, ident, message_id, subject, counterpart, outcome, reason, lead_id, source)
    select '$1', id, 'out', '$2', '$2', '$3', '$2', '$4', nullif('$5', ''), nullif($6, 0), 'cli' from users where email = '$7'"
}
row "$(ago '-1 minute')" now@x "Quote for Acme" synced "" "$LEAD" rep@example.com
row "$(sqlq "select strftime('%Y-%m-%dT12:00:00.000Z', 'now', '-1 day')")" yest@x "mail of yesterday" skipped no_keyword 0 rep@example.com
row "$(ago '-10 days')" ten@x "ten days" skipped internal 0 other@example.com
row "$(ago '-50 days')" fifty@x "fifty days" skipped excluded 0 rep@example.com
count() { lg --json log "$@" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
is "$(count --since today)" "1" "log --since today"
is "$(count --since yesterday)" "1" "log --since yesterday: only yesterday"
is "$(count)" "2" "log (7d by default)"
is "$(count --since 7d)" "2" "log --since 7d"
is "$(count --since 30d)" "3" "log --since 30d"
is "$(count --since "$(sqlq "select date('now', '-55 days')")")" "4" "log --since a date 55 days back"
err=$(lg log --since "$(sqlq "select date('now', '-61 days')")" 2>&1); rc=$?
is "$rc" "64" "log --since a date 61 days back: a usage error"
like "$err" "at most 60 days" "... that says why"
is "$(count --since 30d --user other@example.com)" "1" "log --user"
is "$(count --since 30d --search "$LEAD")" "1" "log --search a lead id"
is "$(count --since 30d --search "anna lead")" "1" "log --search a lead name"
is "$(count --since 30d --search "ten days")" "1" "log --search a subject"
is "$(count --since 30d --search "%")" "0" "log --search: % is a character, not a wildcard"
like "$(lg log --since today)" "now@x.*synced" "log prints aligned text"
is "$(lg --json log --since today | python3 -c 'import json,sys; r=json.load(sys.stdin)[0]; print(r["user"], r["outcome"], r["lead_id"])')" \
   "rep@example.com synced $LEAD" "log --json: the row's fields"

# -- purge
sqlite3 "$T/lg.db" "insert into activities (direction, ident, user_id, lead_id, counterpart, from_addr, to_addrs, body, source, at)
  select 'out', 'now@x', id, $LEAD, 'anna@customer.example', 'rep@example.com', 'anna@customer.example', 'the body', 'cli',
  strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-100 days') from users where email = 'rep@example.com'"
sqlite3 "$T/lg.db" "update raw_messages set created_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-100 days');
                    update messages set received_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-100 days')"
like "$(lg purge --dry-run)" "^would purge 1 raw messages, 1 message bodies, 1 activity bodies" "purge --dry-run counts"
is "$(sqlq "select count(*) from raw_messages where data is not null")" "1" "... and changes nothing"
like "$(lg purge)" "^purged 1 raw messages, 1 message bodies, 1 activity bodies" "purge"
is "$(sqlq "select count(*) from raw_messages where data is null and purged_at is not null")/$(sqlq "select count(*) from messages where body_text is null")" \
   "1/1" "raw message and body dropped"
is "$(sqlq "select quote(body) || ' ' || (purged_at is not null) from v_activities")" "NULL 1" "the activity stays, its body dropped and marked purged"
is "$(sqlq "select count(*) from sync_log")" "4" "the sync log stays"
like "$(lg purge)" "^purged 0 raw messages" "a second purge finds nothing"

# the raw message of a quarantined delivery (the chain failed on it; the
# mail was accepted) is the only copy: kept, however old, until replayed
printf 'From: Quinn <quinn@customer.example>\r\nTo: support@example.com\r\nSubject: held\r\nMessage-ID: <held@customer.example>\r\n\r\nKeep me\r\n' > "$T/held.eml"
LEADGATE_FAULT_INJECT=chain lg ingest --rcpt support@example.com "$T/held.eml" > /dev/null
is "$(sqlq "select count(*) from quarantine where replayed_at is null")" "1" "a delivery the chain failed on is quarantined"
sqlite3 "$T/lg.db" "update raw_messages set created_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-100 days') where data is not null"
out=$(lg purge --dry-run)
like "$out" "^would purge 0 raw messages" "purge --dry-run leaves a quarantined raw message out"
like "$out" "kept 1 older raw messages: quarantined, not yet replayed \(leadgate replay --quarantine\)" "... and says so"
like "$(lg purge)" "^purged 0 raw messages.*
kept 1 older raw messages" "purge keeps it"
is "$(lg --json purge --dry-run | python3 -c 'import json,sys; print(json.load(sys.stdin)["kept_quarantined"])')" "1" "purge --json: kept_quarantined"
check "the old quarantined message replays" lg replay --quarantine
is "$(sqlq "select count(*) from leads l join messages m on m.id = l.message_id where m.message_id = 'held@customer.example'")" "1" "... into its lead"
like "$(lg purge)" "^purged 1 raw messages" "once replayed, the next purge drops it"

# -- removing a user stops their sync; their past activities stay
lg user remove rep@example.com >/dev/null
is "$(sqlq "select count(*) from v_activities where user_email = 'rep@example.com'")" "1" "a removed user's activities stay"
is "$(sqlq "select sync_enabled || ' ' || (removed_at is not null) from users where email = 'rep@example.com'")" "0 1" "... and their sync is off"
check_not "user sync on for a removed user is refused" lg user sync rep@example.com on
done_testing
