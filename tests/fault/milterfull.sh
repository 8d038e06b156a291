# tests/fault/milterfull.sh - leadgate-milter's spool folder on a full disk
# (a tmpfs the test mounts and fills): mail still flows (every reply is
# continue), what the store takes directly is recorded, what neither the
# store nor the spool can take is logged as not synced, and once space is
# back events are spooled and recorded again. Needs root (mount): skipped
# with the reason otherwise.
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/milter/milter-lib.sh"

mkdir -p "$SPOOL"
mount -t tmpfs -o size=256k,mode=0700 leadgate-test "$SPOOL" 2>"$T/mount.err" ||
	skip_all "cannot mount a tmpfs (needs root and CAP_SYS_ADMIN): $(head -n 1 "$T/mount.err")"
trap 'stop_milter >/dev/null 2>&1; umount "$SPOOL" 2>/dev/null; lg_cleanup' EXIT

lg init >/dev/null
lg user add rep@example.com --role sales >/dev/null
sqlite3 "$T/lg.db" "update users set sync_enabled = 1"
printf 'From: anna@customer.example\r\nTo: sales@example.com\r\nSubject: hello\r\nMessage-ID: <in1@customer.example>\r\n\r\nhi\r\n' > "$T/in1.eml"
lg ingest --rcpt sales@example.com --sender anna@customer.example "$T/in1.eml" >/dev/null
mconf "[sync]" "internal_domains = example.com" "[milter]" "spool_mem_limit = 16K"
check "leadgate-milter starts" start_milter

# the spool's filesystem full to the last block (the ballast is in a
# sub-folder: the writer reads only the spool's own entries)
mkdir "$SPOOL/ballast"
dd if=/dev/zero of="$SPOOL/ballast/fill" bs=4k 2>/dev/null
check "the spool's filesystem is full" test "$(df --output=avail -k "$SPOOL" | tail -n 1 | tr -d ' ')" -eq 0

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
out() { msg "$1" "From: rep@example.com" "To: anna@customer.example" "Subject: $1" "Message-ID: <$1@example.com>" -- "${@:2}"; }
sent() {
	MT_SOCK="unix:$SOCK" MT_MSG="$T/msg/$1" MT_FROM=rep@example.com MT_RCPTS=anna@customer.example MT_AUTH=rep@example.com \
		miltertest -s "$top_srcdir/tests/milter/send.lua" 2>>"$T/miltertest.err" | tail -n 1
}
wait_log() { for _ in $(seq 100); do grep -q "$1" "$MLOG" && return 0; sleep 0.05; done; return 1; }

# -- the store takes the event from memory: the full spool does not matter
out f1 "a small message"
sent_ok f1 rep@example.com anna@customer.example rep@example.com
is "$(synclog f1@example.com)" "synced::anna@customer.example" "spool full, store up: recorded"

# -- a message past spool_mem_limit needs a spool file: mail flows, the loss is logged
out f2 $(head -c 30000 /dev/urandom | base64 -w 76)
like "$(sent f2)" '^replies: [0-9]+ continue/accept$' "spool full, a big message: every reply is continue"
check "... the spool failure is logged as not synced" wait_log 'spool .*No space left on device: this message is not synced'

# -- the store locked and the spool full: mail flows, the loss is logged
check "the store is locked" lock_store
out f3 "while locked and full"
like "$(sent f3)" '^replies: [0-9]+ continue/accept$' "store locked, spool full: every reply is continue"
check "... neither recorded nor spooled, logged" wait_log 'neither recorded nor spooled: this message is not synced'
is "$(find "$SPOOL" -maxdepth 1 -type f | wc -l)" "0" "... no partial file left in the spool"

# -- space back, the store still locked: spooled, then recorded once it is free
rm -f "$SPOOL/ballast/fill"
out f4 "locked, space back"
like "$(sent f4)" '^replies: [0-9]+ continue/accept$' "space back: continue"
for _ in $(seq 100); do [ "$(evts)" -ge 1 ] && break; sleep 0.05; done
is "$(evts)" "1" "... the event waits in the spool"
check "the lock goes" unlock_store
check "the spooled event is recorded" settled
is "$(synclog f4@example.com)" "synced::anna@customer.example" "recorded once the store was free"
out f5 $(head -c 30000 /dev/urandom | base64 -w 76)
sent_ok f5 rep@example.com anna@customer.example rep@example.com
is "$(synclog f5@example.com)" "synced::anna@customer.example" "a big message is recorded again"
is "$(sqlq "select count(*) from activities")" "3" "three activities: f1, f4, f5"
check "SIGTERM" stop_milter

done_testing
