# tests/fault/lmtpd-io.sh - I/O errors under the running leadgate-lmtpd:
# its build with the fault VFS (tests/fault/leadgate-lmtpd-fault, armed
# through the control file $LEADGATE_FAULT_VFS) fails real write, sync and
# disk-full calls of SQLite while deliveries run. Every recipient gets a
# 4xx (452 4.3.1 for a full disk), no 250 for anything a fault may have
# lost, nothing partial, integrity_check ok after every case, and once
# the fault is gone the same messages are taken, once, without restart or
# repair. A failed WAL sync (the deferred one, injected) then a failing
# proving checkpoint: 451 until the checkpoint succeeds.
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/lmtp/lmtp-lib.sh"
LMTPD="$top_builddir/tests/fault/leadgate-lmtpd-fault"
export LEADGATE_FAULT_VFS="$T/fault.ctl"

# arm KIND N [persist]: a new control file (a new inode: the VFS re-reads it)
arm() { printf '%s\n' "$*" > "$T/ctl.new" && mv "$T/ctl.new" "$LEADGATE_FAULT_VFS"; }
disarm() { rm -f "$LEADGATE_FAULT_VFS"; }
integrity() { sqlq 'PRAGMA integrity_check'; }
stored() { sqlq "SELECT count(*) FROM messages WHERE message_id = '$1@customer.test'"; }
leads() { sqlq "SELECT count(*) FROM leads l JOIN messages m ON m.id = l.message_id WHERE m.message_id = '$1@customer.test'"; }
head -c 6000 /dev/urandom | base64 -w 76 > "$T/body"
send() {
	{ printf 'LHLO client.test\nMAIL FROM:<ivan@customer.test>\n'
	  printf 'RCPT TO:<support@example.test>\nRCPT TO:<sales@example.test>\nDATA\n'
	  printf 'From: Ivan <ivan@customer.test>\nSubject: io %s\nMessage-ID: <%s@customer.test>\n\n' "$1" "$1"
	  cat "$T/body"; printf '.\nQUIT\n'; } | lmtp_tcp
}
OK2="220 250 250 250 250 354 250 250 221"
T451="220 250 250 250 250 354 451 451 221"
T452="220 250 250 250 250 354 452 452 221"

lmtpd_conf
check "database and mailboxes" lmtpd_mailboxes
check "the daemon with the fault VFS starts" lmtpd_start
is "$(codes <<<"$(send warmup)")" "$OK2" "no fault armed: 250"

# one write fails, at each of the first calls of a delivery in turn
for n in 1 2 3 5 8; do
	arm write "$n"
	out=$(send "w$n")
	is "$(codes <<<"$out")" "$T451" "write $n fails: 451 for every recipient"
	is "$(stored "w$n")/$(integrity)" "0/ok" "... nothing partial, integrity_check ok"
	disarm
	is "$(codes <<<"$(send "w$n")")" "$OK2" "... the fault gone: the same message is taken"
	is "$(leads "w$n")" "2" "... once per recipient"
done

# a dead disk: every write fails from the first
arm write 1 persist
for i in 1 2 3; do
	is "$(codes <<<"$(send dead)")" "$T451" "every write fails (try $i): 451"
done
is "$(stored dead)/$(integrity)" "0/ok" "... nothing partial, integrity_check ok"
disarm
is "$(codes <<<"$(send dead)")" "$OK2" "the disk back: taken without a restart"
is "$(leads dead)" "2" "... once per recipient"

# a write that finds the disk full
arm full 2
out=$(send full)
is "$(codes <<<"$out")" "$T452" "the disk full on a write: 452 for every recipient"
like "$out" '452 4\.3\.1 <support@example\.test> Insufficient system storage' "... 452 4.3.1"
is "$(stored full)/$(integrity)" "0/ok" "... nothing partial, integrity_check ok"
disarm
is "$(codes <<<"$(send full)")" "$OK2" "space back: taken"
is "$(leads full)" "2" "... once per recipient"
lmtpd_stop

# The WAL sync fails (the deferred fdatasync, injected), and so does every
# sync of the checkpoint that is to prove the database durable again (the
# fault VFS): nothing is taken, not even the retry of a message that may
# be in the database already (the VFS is armed once the WAL exists: its
# first header sync would fail the commit before). The syncs back: the
# checkpoint proves it,
# and commits are synchronous from then on; one of those failing its sync
# is a 451 too, and its retry is taken once.
LEADGATE_FAULT_INJECT=sync lmtpd_start
is "$(codes <<<"$(send s1)")" "$T451" "failed WAL sync: 451"
arm sync 1 persist
is "$(codes <<<"$(send s1)")" "$T451" "its retry, the checkpoint's syncs failing: 451, not a 250 duplicate"
is "$(codes <<<"$(send s2)")" "$T451" "... nor any other message"
like "$(cat "$LMTPD_LOG")" 'not accepting mail: a sync failed .*(I/O|fsync|disk)' "the refusal is logged with the checkpoint's error"
is "$(integrity)" "ok" "integrity_check ok"
disarm
is "$(codes <<<"$(send s2)")" "$OK2" "syncs back: the checkpoint proves the database, mail is taken"
like "$(cat "$LMTPD_LOG")" 'durable again \(checkpoint done\)' "... after the checkpoint"
out=$(send s1)
is "$(codes <<<"$out")" "$OK2" "the first one's retry: 250"
like "$out" 'Ok: duplicate' "... a duplicate: its first commit is proven on disk now"
is "$(leads s1)/$(leads s2)" "2/2" "... each once per recipient"
arm sync 1
is "$(codes <<<"$(send s3)")" "$T451" "a synchronous commit whose sync fails: 451"
is "$(integrity)" "ok" "integrity_check ok"
disarm
is "$(codes <<<"$(send s3)")" "$OK2" "its retry: 250"
is "$(leads s3)" "2" "... once per recipient"
lmtpd_stop
is "$(integrity)" "ok" "integrity_check ok at the end"

done_testing
