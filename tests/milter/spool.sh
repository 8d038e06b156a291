#!/bin/bash
# tests/milter/spool.sh - leadgate-milter never lets the store hold up mail:
# with the database locked, or missing, every reply is still continue and
# immediate, the event waits in the spool folder (across a restart too) and
# is recorded exactly once when the store is back; a big message is spooled
# to disk, not held in memory; a socket it cannot take is an error at start.
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/milter/milter-lib.sh"

lg init >/dev/null
lg user add rep@example.com --role sales >/dev/null
sqlite3 "$T/lg.db" "update users set sync_enabled = 1"
printf 'From: anna@customer.example\r\nTo: sales@example.com\r\nSubject: hello\r\nMessage-ID: <in1@customer.example>\r\n\r\nhi\r\n' > "$T/in1.eml"
lg ingest --rcpt sales@example.com --sender anna@customer.example "$T/in1.eml" >/dev/null
mconf "[sync]" "internal_domains = example.com" "[milter]" "spool_mem_limit = 16K"
check "leadgate-milter starts" start_milter

# hold the write lock until $T/release appears (bounded: 60 s)
lock_store() {
  rm -f "$T/locked" "$T/release"
  python3 - "$T/lg.db" "$T/locked" "$T/release" <<'PY' &
import os, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
for _ in range(600):
    if os.path.exists(sys.argv[3]):
        break
    time.sleep(0.1)
c.execute("ROLLBACK")
PY
  LOCKPID=$!
  lg_track "$LOCKPID"
  for _ in $(seq 100); do [ -e "$T/locked" ] && return 0; sleep 0.05; done
  return 1
}
unlock_store() { touch "$T/release"; wait "$LOCKPID"; }
# send without waiting for the writer
send_now() {
  MT_SOCK="unix:$SOCK" MT_MSG="$T/msg/$1" MT_FROM="$2" MT_RCPTS="$3" MT_AUTH="${4:-}" \
    miltertest -s "$top_srcdir/tests/milter/send.lua" 2>>"$T/miltertest.err" | tail -n 1
}

# -- a locked store: continue at once, spooled, kept across a restart, recorded once
check "the store is locked" lock_store
msg s1 "From: rep@example.com" "To: anna@customer.example" "Subject: while locked" "Message-ID: <s1@example.com>" -- "x"
t0=$(date +%s%N)
like "$(send_now s1 rep@example.com anna@customer.example rep@example.com)" '^replies: [0-9]+ continue/accept$' \
     "locked store: every reply is continue"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "locked store: the transaction took ${ms} ms, not the store's wait (< 1500 ms)" test "$ms" -lt 1500
for _ in $(seq 100); do [ "$(evts)" -ge 1 ] && break; sleep 0.05; done
is "$(evts)" "1" "locked store: the event waits in the spool folder"
is "$(sqlq "select count(*) from sync_log")" "0" "locked store: nothing recorded yet"
like "$(cat "$MLOG")" "warning: store unavailable" "locked store: logged as unavailable"
check "SIGTERM while the store is locked" stop_milter
is "$(evts)" "1" "the event is still spooled after the exit"
check "the lock goes" unlock_store
check "leadgate-milter starts again" start_milter
check "the spooled event is recorded after the restart" settled
is "$(synclog s1@example.com)" "synced::anna@customer.example" "recorded: synced on anna's lead"
is "$(sqlq "select count(*) from activities")/$(evts)" "1/0" "exactly one activity, the spool is empty"

# -- the same message again: nothing doubled
send s1 rep@example.com anna@customer.example rep@example.com >/dev/null
is "$(sqlq "select count(*) from activities")/$(sqlq "select count(*) from sync_log")" "1/1" "sent again: still one activity and one log row"

# -- a locked store released while the milter runs
check "the store is locked again" lock_store
msg s2 "From: rep@example.com" "To: anna@customer.example" "Subject: locked, then free" "Message-ID: <s2@example.com>" -- "x"
like "$(send_now s2 rep@example.com anna@customer.example rep@example.com)" '^replies: [0-9]+ continue/accept$' "locked again: continue"
sleep 0.5
check "the lock goes" unlock_store
check "the writer records it once the store is free" settled
is "$(synclog s2@example.com)" "synced::anna@customer.example" "recorded once the lock went"

# -- many events waiting: recorded in batches (64 per commit), each once
check "the store is locked for a burst" lock_store
for i in $(seq 70); do
  msg "burst$i" "From: rep@example.com" "To: anna@customer.example" "Subject: burst $i" "Message-ID: <burst$i@example.com>" -- "x"
  send_now "burst$i" rep@example.com anna@customer.example rep@example.com >/dev/null
done
for _ in $(seq 100); do [ "$(evts)" -ge 70 ] && break; sleep 0.05; done
is "$(evts)" "70" "70 events wait for the store"
check "the lock goes" unlock_store
check "the burst is recorded" settled
is "$(sqlq "select count(*) from activities where ident like 'burst%'")/$(sqlq "select count(distinct ident) from sync_log where ident like 'burst%'")" \
   "70/70" "70 activities and 70 log rows, one each"

# -- a missing database
mkdir "$T/away"
mv "$T"/lg.db* "$T/away/"
msg s3 "From: rep@example.com" "To: anna@customer.example" "Subject: no database" "Message-ID: <s3@example.com>" -- "x"
like "$(send_now s3 rep@example.com anna@customer.example rep@example.com)" '^replies: [0-9]+ continue/accept$' "missing database: continue"
sleep 1
is "$(evts)" "1" "missing database: the event waits"
check "no database was made in its place" test ! -e "$T/lg.db"
mv "$T"/away/lg.db* "$T/"
check "the database is back: recorded" settled
is "$(synclog s3@example.com)" "synced::anna@customer.example" "recorded once the database was back"
is "$(sqlq "select count(*) from activities where ident not like 'burst%'")" "3" "three activities besides the burst"

# -- a big message goes to disk, not memory, and is logged whole
head -c 6000000 /dev/urandom | base64 -w 76 > "$T/big.b64"
mapfile -t B64 < "$T/big.b64"
msg big "From: rep@example.com" "To: anna@customer.example" "Subject: big" "Message-ID: <big@example.com>" \
  "MIME-Version: 1.0" "Content-Type: multipart/mixed; boundary=\"b\"" -- \
  "--b" "Content-Type: text/plain" "" "see attached" "--b" "Content-Type: application/octet-stream" \
  "Content-Disposition: attachment; filename=\"data.bin\"" "Content-Transfer-Encoding: base64" "" "${B64[@]}" "--b--"
send big rep@example.com anna@customer.example rep@example.com >/dev/null
is "$(sqlq "select attachments from v_activities where message_id = 'big@example.com'")" \
   "data.bin (application/octet-stream, 6000000 bytes)" "an 8 MB message is logged with its attachment"
rss=$(awk '/VmHWM/ {print $2}' "/proc/$MPID/status")
# (a sanitizer build's shadow memory and quarantine of freed blocks say
# nothing of what the milter keeps: measured in the plain build only)
if grep -qa __asan_init "$MILTER"; then
  skip "the milter's peak memory (VmHWM ${rss} kB): not measured in a sanitizer build"
else
  check "the milter's peak memory stays under 64 MB (VmHWM ${rss} kB)" test "${rss:-999999}" -lt 65536
fi
is "$(ls "$SPOOL" | wc -l)" "0" "the spool folder is empty again"

# -- spool files are private
lock_store
send_now s4 rep@example.com anna@customer.example rep@example.com >/dev/null 2>&1 || true
msg s4 "From: rep@example.com" "To: anna@customer.example" "Subject: mode" "Message-ID: <s4@example.com>" -- "x"
send_now s4 rep@example.com anna@customer.example rep@example.com >/dev/null
for _ in $(seq 100); do [ "$(evts)" -ge 1 ] && break; sleep 0.05; done
is "$(stat -c %a "$SPOOL"/*.msg 2>/dev/null | sort -u | tr '\n' ' ')" "600 " "spooled messages are mode 0600"
is "$(stat -c %a "$SPOOL"/*.evt 2>/dev/null | sort -u | tr '\n' ' ')" "600 " "... and their envelope files too"
unlock_store
settled

# -- a symbolic link planted in the spool folder is never followed: an
# event whose NAME.msg links to a message elsewhere (someone's mail, or a
# file of the system) is not read through the link but kept as NAME.bad
# and logged; the file it points to is untouched and nothing of it recorded
check "stopped to plant a link" stop_milter
printf 'From: anna@customer.example\r\nTo: rep@example.com\r\nSubject: secret\r\nMessage-ID: <secret@example.com>\r\n\r\nnot for the milter\r\n' > "$T/secret.eml"
chmod 0600 "$T/secret.eml"
planted="$SPOOL/0000000000000001-1-00000001-planted"
ln -s "$T/secret.eml" "$planted.msg"
printf '[event]\ndirection=in\nsender=anna@customer.example\nrecipients=rep@example.com;\n' > "$planted.evt"
check "started again with the planted event" start_milter
check "the planted event is dealt with" settled
like "$(cat "$MLOG")" "error: .*planted\.msg: .*(symbolic links|Too many levels)" "... not read through the link: an error naming it"
is "$(sqlq "select count(*) from v_activities where message_id = 'secret@example.com'")" "0" "... nothing of the linked file recorded"
check "... the link kept as .bad, still a link" test -L "$planted.bad"
is "$(wc -c < "$T/secret.eml")/$(stat -c %a "$T/secret.eml")" "123/600" "... the linked file untouched"
rm -f "$planted.bad"

# -- a socket it cannot take
"$MILTER" -c "$T/m.conf" --listen "unix:$SOCK" 2>"$T/second.log" &
p2=$!; lg_track "$p2"; wait "$p2"; rc=$?
is "$rc" "71" "a second milter on a live socket exits 71"
like "$(cat "$T/second.log")" "error: cannot listen on unix:$SOCK" "... with an error naming the socket"
"$MILTER" -c "$T/m.conf" --listen "nonsense" 2>"$T/third.log"; rc=$?
is "$rc" "78" "an address of no known form: exit 78"
like "$(cat "$T/third.log")" 'error: cannot listen on "nonsense"' "... with an error"
"$MILTER" -c "$T/m.conf" --listen "unix:$T/a.sock" --listen "unix:$T/b.sock" 2>"$T/fourth.log"; rc=$?
is "$rc" "78" "two --listen: exit 78 (libmilter serves one socket)"
like "$(cat "$T/fourth.log")" 'error: --listen names several sockets' "... with an error"
check "the first milter still answers" send s1 rep@example.com anna@customer.example rep@example.com

# -- a config that does not load on SIGHUP: logged, the running one stays
printf '[outbound]\nmode = sometimes\n' > "$T/bad.conf"
cp "$T/m.conf" "$T/good.conf"; cp "$T/bad.conf" "$T/m.conf"
kill -HUP "$MPID"
for _ in $(seq 100); do grep -q "reload:" "$MLOG" && break; sleep 0.05; done
like "$(grep 'reload:' "$MLOG")" 'error: reload: .*\[outbound\] mode = "sometimes".*keeping the running config' \
     "a bad config on SIGHUP: an error naming the key, the running config kept"
cp "$T/good.conf" "$T/m.conf"
check "the milter still answers after the failed reload" send s1 rep@example.com anna@customer.example rep@example.com
like "$("$MILTER" -c "$T/m.conf" --listen "unix:$T/x.sock" --check-config)" '^.*m\.conf: ok \(listen unix:.*x\.sock, database .*lg\.db, spool .*spool\)$' \
     "--check-config prints the socket, database and spool folder"
for f in "inet:8891@127.0.0.1=inet:8891@127.0.0.1" "127.0.0.1:8891=inet:8891@127.0.0.1" \
         "inet6:8891@::1=inet6:8891@::1" "[::1]:8891=inet6:8891@::1" "unix:/run/m.sock=unix:/run/m.sock"; do
  like "$("$MILTER" -c "$T/m.conf" --listen "${f%%=*}" --check-config)" "listen ${f#*=}," "--listen ${f%%=*} is libmilter's ${f#*=}"
done
"$MILTER" -c "$T/bad.conf" --check-config 2>"$T/bad.log"; rc=$?
is "$rc" "78" "--check-config of a bad config: exit 78"

check "SIGTERM: clean exit" stop_milter
done_testing
