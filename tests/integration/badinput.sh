#!/bin/bash
# tests/integration/badinput.sh - input a stranger controls (SPEC §10): each
# case gets a clear error or a recorded lead, never a crash, never a partial
# record.
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"

lg init >/dev/null
lg mailbox add support@example.test --mode always >/dev/null
count() { sqlq "select count(*) from $1"; }
state() { echo "$(count leads)/$(count messages)/$(count raw_messages)/$(count tickets)"; }
# run CMD...: sets $rc and $err
run() { err=$("$@" 2>&1 >/dev/null); rc=$?; }

# an empty file: a clear error, nothing recorded
: > "$T/empty.eml"
s0=$(state)
run lg ingest --rcpt support@example.test "$T/empty.eml"
is "$rc" 65 "empty message: exit 65 (EX_DATAERR)"
like "$err" "empty" "empty message: the error says so"
is "$(state)" "$s0" "empty message: nothing recorded"

# binary garbage: recorded as a lead with what could be read
head -c 65536 /dev/urandom > "$T/garbage.eml"
run lg ingest --rcpt support@example.test "$T/garbage.eml"
is "$rc" 0 "binary garbage: recorded"
is "$(sqlq "select status from leads order by id desc limit 1")" "unread" "binary garbage: an unread lead (no sender to make a ticket for)"
check "binary garbage: body stored as valid UTF-8" test "$(sqlq "select length(body_text) > 0 from messages order by id desc limit 1")" = 1

# NUL bytes and a 1 MB header line
python3 - "$T" <<'PY'
import sys
t = sys.argv[1]
with open(t + "/longhdr.eml", "wb") as f:
    f.write(b"From: Long <long@header.example>\r\nTo: support@example.test\r\nSubject: long header\r\n")
    f.write(b"X-Long: " + b"a" * (1024 * 1024) + b"\r\n")
    f.write(b"Message-ID: <long1@header.example>\r\n\r\nbody\r\n")
with open(t + "/nul.eml", "wb") as f:
    f.write(b"From: nul@nul.example\nTo: support@example.test\nSubject: nul\x00byte\n\nbody\x00with\x00nuls\n")
with open(t + "/deep.eml", "wb") as f:
    f.write(b"From: deep@deep.example\nTo: support@example.test\nSubject: deep nesting\nMIME-Version: 1.0\n")
    for i in range(300):
        f.write(b'Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n' % (i, i))
    f.write(b"Content-Type: text/plain\n\ninnermost\n")
    for i in reversed(range(300)):
        f.write(b"--b%d--\n" % i)
PY
run lg ingest --rcpt support@example.test "$T/longhdr.eml"
is "$rc" 0 "1 MB header line: recorded"
is "$(sqlq "select sender_email||'|'||subject from v_leads order by id desc limit 1")" "long@header.example|long header" "1 MB header line: sender and subject read"
run lg ingest --rcpt support@example.test "$T/nul.eml"
is "$rc" 0 "NUL bytes: recorded"
run lg ingest --rcpt support@example.test "$T/deep.eml"
is "$rc" 0 "300 nested multiparts: recorded"
like "$(sqlq "select warnings from messages order by id desc limit 1")" "nesting" "deep nesting: a parser warning is kept"

# no From at all: recorded, unread, with a warning
printf 'To: support@example.test\nSubject: who am I\n\nanonymous\n' > "$T/nofrom.eml"
run lg ingest --rcpt support@example.test "$T/nofrom.eml"
is "$rc" 0 "no From: recorded"
is "$(sqlq "select status||'|'||coalesce(sender_email,'-') from leads order by id desc limit 1")" "unread|-" "no From: unread lead without a sender"
like "$(sqlq "select warnings from messages order by id desc limit 1")" "no usable From" "no From: the warning is kept"

# a missing file, bad arguments, a bad config
run lg ingest --rcpt support@example.test "$T/does-not-exist.eml"
is "$rc" 66 "missing file: exit 66 (EX_NOINPUT)"
run lg ingest --rcpt "not an address" "$T/nofrom.eml"
is "$rc" 64 "bad --rcpt: exit 64 (EX_USAGE)"
run lg frobnicate
is "$rc" 64 "unknown command: exit 64"
run lg lead show abc
is "$rc" 64 "non-numeric id: exit 64"
printf '[store]\ndatabase = x\nbogus = 1\n' > "$T/bad.conf"
run "$LEADGATE" -c "$T/bad.conf" lead list
is "$rc" 78 "unknown config key: exit 78 (EX_CONFIG)"
like "$err" "bogus" "unknown config key: named in the error"
printf '[lmtpd]\nmax_message_size = lots\n' > "$T/bad2.conf"
run "$LEADGATE" -c "$T/bad2.conf" lead list
like "$err" "max_message_size" "bad config value: named in the error"
printf '[store\n' > "$T/bad3.conf"
run "$LEADGATE" -c "$T/bad3.conf" lead list
is "$rc" 78 "unparseable config: exit 78"
run lg mailbox add support@example.test --mode sometimes
is "$rc" 64 "bad mailbox mode: exit 64"
run lg contact add nobody@example.test --org "No Such Org"
is "$rc" 1 "contact for a missing organization: refused"
is "$(sqlq "select count(*) from end_users where email='nobody@example.test'")" 0 "  ... and nothing written"

# not a database
printf 'this is not sqlite' > "$T/junk.db"
run "$LEADGATE" -d "$T/junk.db" lead list
is "$rc" 75 "not a database: temporary failure (75), so Postfix keeps the mail"
like "$err" "not a database|file is not" "not a database: the error says so"

# a database locked by another process: 75, nothing partial, then exactly once
printf '[store]\ndatabase = %s\nbusy_timeout_ms = 300\n[rules]\ndirectory = %s\n' "$T/lg.db" "$T/rules" > "$T/short.conf"
printf 'From: lock@lock.example\nTo: support@example.test\nSubject: locked\nMessage-ID: <lock1@lock.example>\n\nwait\n' > "$T/lock.eml"
s0=$(state)
python3 - "$T/lg.db" "$T/locked" <<'PY' &
import sqlite3, sys, time, os
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
db.execute("INSERT INTO settings VALUES ('lock-holder', 'x')")
open(sys.argv[2], "w").close()
time.sleep(3)
db.execute("ROLLBACK")
PY
holder=$!
lg_track "$holder"
for i in $(seq 1 50); do [ -e "$T/locked" ] && break; sleep 0.1; done
run "$LEADGATE" -c "$T/short.conf" ingest --rcpt support@example.test "$T/lock.eml"
is "$rc" 75 "locked database: exit 75 (EX_TEMPFAIL)"
like "$err" "locked|busy" "locked database: the error says so"
wait "$holder"
is "$(state)" "$s0" "locked database: nothing partial"
run "$LEADGATE" -c "$T/short.conf" ingest --rcpt support@example.test "$T/lock.eml"
is "$rc" 0 "after the lock is released: recorded"
run "$LEADGATE" -c "$T/short.conf" ingest --rcpt support@example.test "$T/lock.eml"
is "$(sqlq "select count(*) from leads l join messages m on m.id=l.message_id where m.message_id='lock1@lock.example'")" 1 "  ... exactly once"

# a read-only database (as an unprivileged user, since root writes anyway)
if command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
  chmod 755 "$T"; chmod 644 "$T"/lg.db*; chmod 644 "$T/leadgate.conf"
  s0=$(state)
  printf 'From: ro@ro.example\nTo: support@example.test\nSubject: read-only\n\nx\n' > "$T/ro.eml"; chmod 644 "$T/ro.eml"
  err=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$LEADGATE" -c "$T/leadgate.conf" ingest --rcpt support@example.test "$T/ro.eml" 2>&1 >/dev/null)
  rc=$?
  is "$rc" 75 "read-only database: exit 75"
  like "$err" "readonly|read-only|writable|unable to open|permission" "read-only database: the error says so"
  is "$(state)" "$s0" "read-only database: nothing written"
else
  skip "setpriv not available"; skip "setpriv not available"; skip "setpriv not available"
fi
done_testing
