#!/bin/bash
# tests/milter/postfix.sh - leadgate-milter behind a real Postfix: a private
# instance (its own config and queue under the test's folder, loopback only)
# with the milter on its smtpd, relaying to smtp-sink. The sent message
# arrives byte-identical (only Postfix's trace headers above it) and its
# activity is recorded; with the milter killed, and with the store locked,
# every message is still delivered with no 4xx, and the locked-store event
# is recorded exactly once afterwards.
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/milter/milter-lib.sh"
source "$top_srcdir/tests/milter/postfix-lib.sh"
pf_need
command -v swaks >/dev/null 2>&1 || skip_all "swaks is not installed"
pf_ports || skip_all "no free loopback ports"
pf_setup "inet:127.0.0.1:$P_MILTER"
smtp-sink -u postfix -d "$PF/sink/%M." "127.0.0.1:$P_SINK" 20 2>"$T/sink.err" &
lg_track $!
if ! pf_start; then
  diag "$(cat "$T/pf.err" "$PF/maillog" 2>/dev/null | tail -5)"
  skip_all "the private Postfix does not start here"
fi

lg init >/dev/null
lg user add rep@example.com --role sales >/dev/null
sqlite3 "$T/lg.db" "update users set sync_enabled = 1"
mconf "[outbound]" "capture_new_leads = true"
start_inet() {
  local n
  n=$(grep -c "listening on" "$MLOG")
  "$MILTER" -c "$T/m.conf" --listen "inet:$P_MILTER@127.0.0.1" 2>>"$MLOG" &
  MPID=$!; lg_track "$MPID"
  for _ in $(seq 100); do [ "$(grep -c "listening on" "$MLOG")" -gt "$n" ] && return 0; sleep 0.1; done
  return 1
}
check "leadgate-milter starts on a loopback port" start_inet

# submit FILE RCPT: through the private Postfix; prints swaks' server replies
submit() {
  swaks --server "127.0.0.1:$P_SMTPD" --from rep@example.com --to "$2" --data "$1" --timeout 30 2>&1 | grep -E '^<[-~*]'
}
delivered() {  # delivered N: wait until the sink has N messages (bounded)
  for _ in $(seq 200); do [ "$(ls "$PF/sink" | wc -l)" -ge "$1" ] && return 0; sleep 0.1; done
  return 1
}
# the sink's copy holds the sent message unchanged (below Postfix's trace headers)
arrived_whole() {
  python3 -c '
import os, sys
sent = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n")
mid = sys.argv[3].encode()
for n in os.listdir(sys.argv[2]):
    got = open(os.path.join(sys.argv[2], n), "rb").read().replace(b"\r\n", b"\n")
    if mid in got:
        sys.exit(0 if sent in got else 1)
sys.exit(2)' "$1" "$PF/sink" "$2"
}
recorded() {  # recorded MSGID: wait until the sync log has its rows (bounded)
  for _ in $(seq 100); do [ -n "$(synclog "$1")" ] && return 0; sleep 0.1; done
  return 1
}
mk() {  # mk NAME MSGID
  printf 'From: Rep <rep@example.com>\r\nTo: anna@customer.example\r\nSubject: offer %s\r\nMessage-ID: <%s>\r\nDate: Tue, 01 Dec 2026 05:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello Anna,\r\n.a line that starts with a dot\r\n\xc3\xa9t\xc3\xa9 \r\n' "$1" "$2" > "$T/$1.eml"
}

mk p1 p1@example.com
r=$(submit "$T/p1.eml" anna@customer.example)
like "$r" '<-  250 2\.0\.0 Ok: queued' "p1: submitted, 250"
unlike "$r" '^<[-~*]  4' "p1: no 4xx"
check "p1: delivered to the sink" delivered 1
check "p1: arrived byte-identical" arrived_whole "$T/p1.eml" p1@example.com
check "p1: recorded" recorded p1@example.com
is "$(synclog p1@example.com)" "captured::anna@customer.example" "p1: a lead captured and its Email Sent activity"
like "$(cat "$MLOG")" 'queue=[0-9A-F]+ msgid=<p1@example.com> dir=out' "p1: the log line has Postfix's queue id and the direction by {daemon_name}"
# the copy the milter keeps is the message as written (header by header
# with their leading blanks, SMFIP_HDR_LEADSPC, then the body; the store
# keeps LF line ends)
python3 -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
raw = db.execute("select r.data from raw_messages r join messages m on m.sha256 = r.sha256 where m.message_id = ?", ("p1@example.com",)).fetchone()[0]
sent = open(sys.argv[2], "rb").read().replace(b"\r\n", b"\n")
sys.exit(0 if sent in raw else 1)' "$T/lg.db" "$T/p1.eml"
ok=$?
is "$ok" "0" "p1: the stored raw message holds the sent one byte for byte"

# -- the milter killed: mail flows on (milter_default_action = accept)
kill -KILL "$MPID"; wait "$MPID" 2>/dev/null
mk p2 p2@example.com
r=$(submit "$T/p2.eml" anna@customer.example)
like "$r" '<-  250 2\.0\.0 Ok: queued' "milter killed: p2 submitted, 250"
unlike "$r" '^<[-~*]  4' "milter killed: no 4xx"
check "milter killed: p2 delivered" delivered 2
check "p2 arrived byte-identical" arrived_whole "$T/p2.eml" p2@example.com

# -- the store locked: mail flows on at once, the event is recorded once afterwards
check "leadgate-milter starts again" start_inet
rm -f "$T/locked" "$T/release"
python3 -c '
import os, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
for _ in range(600):
    if os.path.exists(sys.argv[3]):
        break
    time.sleep(0.1)
c.execute("ROLLBACK")' "$T/lg.db" "$T/locked" "$T/release" &
lockpid=$!; lg_track "$lockpid"
for _ in $(seq 100); do [ -e "$T/locked" ] && break; sleep 0.05; done
mk p3 p3@example.com
t0=$(date +%s%N)
r=$(submit "$T/p3.eml" anna@customer.example)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
like "$r" '<-  250 2\.0\.0 Ok: queued' "store locked: p3 submitted, 250"
unlike "$r" '^<[-~*]  4' "store locked: no 4xx"
check "store locked: the submission took ${ms} ms (< 2000)" test "$ms" -lt 2000
check "store locked: p3 delivered" delivered 3
check "p3 arrived byte-identical" arrived_whole "$T/p3.eml" p3@example.com
sleep 0.5
is "$(synclog p3@example.com)" "" "store locked: not recorded yet"
touch "$T/release"; wait "$lockpid"
check "the store is free: p3 recorded" recorded p3@example.com
is "$(synclog p3@example.com)" "synced::anna@customer.example" "p3 recorded after the lock: on the lead p1 captured"
is "$(sqlq "select count(*) from activities")/$(sqlq "select count(*) from leads")" "2/1" "exactly two activities (p1, p3) and one lead"

check "leadgate-milter stops" stop_milter
pf_stop
done_testing
