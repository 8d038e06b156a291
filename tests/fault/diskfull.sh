# tests/fault/diskfull.sh - the disk fills, for real: the database on a
# small tmpfs the test mounts (size=), with a ballast file on it, filling
# during a delivery run. leadgate-lmtpd answers 452 4.3.1 for every
# recipient of a message the store cannot take, never 250 and never 5xx,
# and nothing partial is stored; once the ballast is gone the same
# messages are taken, once. `leadgate ingest` exits 75 and changes
# nothing. PRAGMA integrity_check is ok throughout. Needs root (mount):
# skipped with the reason otherwise.
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/lmtp/lmtp-lib.sh"

FS="$T/fs"
mkdir -p "$FS"
mount -t tmpfs -o size=4m,mode=0755 leadgate-test "$FS" 2>"$T/mount.err" ||
	skip_all "cannot mount a tmpfs (needs root and CAP_SYS_ADMIN): $(head -n 1 "$T/mount.err")"
trap 'umount "$FS" 2>/dev/null; lg_cleanup' EXIT
# the store lives on the small filesystem; SQLite follows the link, so
# that the WAL and its index are there too
ln -s "$FS/lg.db" "$T/lg.db"

integrity() { sqlq 'PRAGMA integrity_check'; }
msgs() { sqlq "SELECT count(*) FROM messages WHERE message_id LIKE 'full-%'"; }

LMTPD_CATCH_ALL=none lmtpd_conf
check "database and mailboxes" lmtpd_mailboxes
# all but 1 MB of the filesystem is ballast
avail() { df --output=avail -k "$FS" | tail -n 1 | tr -d ' '; }
head -c "$(( $(avail) - 1024 ))k" /dev/zero > "$FS/ballast"
check "daemon starts" lmtpd_start

# message $1: 40 KB of text nobody can compress away
body() { head -c 30000 /dev/urandom | base64 -w 76; }
send() {
	{ printf 'LHLO client.test\nMAIL FROM:<ivan@customer.test>\n'
	  printf 'RCPT TO:<support@example.test>\nRCPT TO:<sales@example.test>\nDATA\n'
	  printf 'From: Ivan <ivan@customer.test>\nSubject: full %s\nMessage-ID: <full-%s@customer.test>\n\n' "$1" "$1"
	  cat "$T/body-$1"; printf '.\nQUIT\n'; } | lmtp_tcp
}

ok=() full=() other=()
for i in $(seq 1 60); do
	body > "$T/body-$i"
	out=$(send "$i")
	case "$(codes <<<"$out")" in
	"220 250 250 250 250 354 250 250 221") ok+=("$i") ;;
	"220 250 250 250 250 354 452 452 221") full+=("$i"); printf '%s\n' "$out" > "$T/full.out" ;;
	*) other+=("$i: $(codes <<<"$out")") ;;
	esac
	[ "${#full[@]}" -ge 3 ] && break
done
diag "taken before the disk filled: ${#ok[@]}; refused: ${full[*]}"
check "some messages were taken before the disk filled" test "${#ok[@]}" -gt 0
is "${#full[@]}" "3" "the disk filled: 452 for every recipient of the next messages"
is "${other[*]}" "" "no other answer (never 250 with one recipient lost, never 5xx)"
like "$(cat "$T/full.out" 2>/dev/null)" '452 4\.3\.1 <support@example\.test> Insufficient system storage' \
	"452 4.3.1 Insufficient system storage"
like "$(cat "$LMTPD_LOG")" 'deferred: .*(full|disk).* delays=' "the deferral is logged"
is "$(integrity)" "ok" "integrity_check ok on the full disk"
n=0; for i in "${full[@]}"; do n=$((n + $(sqlq "SELECT count(*) FROM messages WHERE message_id = 'full-$i@customer.test'"))); done
is "$n" "0" "nothing partial of the refused messages"
is "$(sqlq "SELECT count(*) FROM leads l JOIN messages m ON m.id = l.message_id WHERE m.message_id LIKE 'full-%'")" \
	"$((2 * ${#ok[@]}))" "every message taken has both its leads"

rm -f "$FS/ballast"
retry=()
for i in "${full[@]}"; do retry+=("$(codes <<<"$(send "$i")")"); done
is "${retry[*]}" "$(printf '220 250 250 250 250 354 250 250 221 %.0s' "${full[@]}" | sed 's/ $//')" \
	"space freed: the refused messages are taken"
is "$(leads_per_msgid | grep -c '^full-.*|2$')" "$(( ${#ok[@]} + ${#full[@]} ))" "... each once, both recipients"
is "$(integrity)" "ok" "integrity_check ok"
lmtpd_stop

# leadgate ingest on a disk that is full to the last block: exit 75
before=$(msgs)
dd if=/dev/zero of="$FS/fill" bs=4k 2>/dev/null
check "the filesystem is full" test "$(avail)" -eq 0
printf 'From: Kim <kim@customer.test>\nTo: support@example.test\nSubject: ingest full\nMessage-ID: <full-ingest@customer.test>\n\n' > "$T/ingest.eml"
body >> "$T/ingest.eml"
lg ingest --rcpt support@example.test "$T/ingest.eml" >"$T/ingest.out" 2>"$T/ingest.err"
is "$?" "75" "leadgate ingest on a full disk: exit 75 (EX_TEMPFAIL)"
like "$(cat "$T/ingest.err")" 'full|space' "... saying the disk is full: $(head -n 1 "$T/ingest.err")"
rm -f "$FS/fill"
is "$(msgs)" "$before" "... nothing was stored"
is "$(integrity)" "ok" "integrity_check ok"
lg ingest --rcpt support@example.test "$T/ingest.eml" >/dev/null 2>"$T/ingest.err"
is "$?" "0" "space freed: the same ingest succeeds"
is "$(sqlq "SELECT count(*) FROM leads l JOIN messages m ON m.id = l.message_id WHERE m.message_id = 'full-ingest@customer.test'")" \
	"1" "... once"

done_testing
