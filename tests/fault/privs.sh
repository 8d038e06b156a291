# tests/fault/privs.sh - least privilege: leadgate-lmtpd and leadgate-milter
# started as root refuse to go on as root unless their config names a user;
# with user = nobody they bind first (a port below 1024), then run as
# nobody with no supplementary groups, no capabilities and no way back
# (real, effective and saved IDs all nobody's), and write the database as
# nobody. The milter's spool folder must be its own and closed to others;
# spool file names never come from a message. Needs root (and the user
# nobody): skipped with the reason otherwise.
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"
MILTER="$top_builddir/milter/leadgate-milter"

[ "$(id -u)" = 0 ] || skip_all "not root: privilege dropping cannot be tested"
id nobody >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin nobody 2>/dev/null ||
	skip_all "no user nobody, and useradd failed"
NOBODY=$(id -u nobody)
NOGROUP=$(id -g nobody)
chmod 711 "$T"
W="$T/w"
mkdir -p "$W/rules"
chown nobody "$W"

# a free port below 1024 on loopback, bound as root only
port=""
for p in $(seq 700 1000); do
	ss -Hltn "sport = :$p" | grep -q . || { port=$p; break; }
done
[ -n "$port" ] || skip_all "no free port below 1024"

conf() {  # conf SECTION LINES...
	{ printf '[store]\ndatabase = %s\n[rules]\ndirectory = %s\n' "$W/lg.db" "$W/rules"
	  printf '[inbound]\ncatch_all = always\n'
	  printf '[%s]\n' "$1"; shift
	  for l in "$@"; do printf '%s\n' "$l"; done; } > "$T/p.conf"
}
# the ids and capabilities of a running process: "uid... gid... groups caps"
ids() {
	awk '/^Uid:/ {u=$2" "$3" "$4" "$5} /^Gid:/ {g=$2" "$3" "$4" "$5} /^Groups:/ {$1=""; gr=$0}
	     /^CapEff:/ {c=$2} /^CapPrm:/ {p=$2}
	     END {printf "uid %s gid %s groups%s caps %s/%s\n", u, g, gr, c, p}' "/proc/$1/status"
}
wait_log() {  # wait_log FILE REGEX PID
	for _ in $(seq 100); do
		grep -Eq "$2" "$1" && return 0
		kill -0 "$3" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
want_ids="uid $NOBODY $NOBODY $NOBODY $NOBODY gid $NOGROUP $NOGROUP $NOGROUP $NOGROUP groups $NOGROUP caps 0000000000000000/0000000000000000"

# -- leadgate-lmtpd
conf lmtpd "hostname = lmtp.test"
timeout 10 "$LMTPD" -c "$T/p.conf" --listen "127.0.0.1:$port" 2>"$T/root.log"
is "$?" "78" "leadgate-lmtpd as root without [lmtpd] user: exit 78"
like "$(cat "$T/root.log")" 'refusing to run as root: set \[lmtpd\] user' "... saying why"
check "... and it did not stay listening" bash -c "! ss -Hltn 'sport = :$port' | grep -q ."

conf lmtpd "hostname = lmtp.test" "user = nobody"
"$LMTPD" -c "$T/p.conf" --listen "127.0.0.1:$port" 2>"$T/lmtpd.log" &
LPID=$!
lg_track "$LPID"
check "leadgate-lmtpd with user = nobody starts on port $port (below 1024)" \
	wait_log "$T/lmtpd.log" 'ready:' "$LPID"
like "$(cat "$T/lmtpd.log")" "running as user nobody \(uid $NOBODY, gid $NOGROUP\)" "it says whom it runs as"
is "$(ids "$LPID")" "$want_ids" "every uid and gid is nobody's, no other group, no capability"
out=$(exec 3<>"/dev/tcp/127.0.0.1/$port"; printf 'LHLO t\r\nMAIL FROM:<a@customer.test>\r\nRCPT TO:<support@example.test>\r\nDATA\r\nFrom: a@customer.test\r\nSubject: privs\r\nMessage-ID: <privs@customer.test>\r\n\r\nhi\r\n.\r\nQUIT\r\n' >&3; timeout 10 cat <&3)
like "$out" '250 2\.0\.0 <support@example\.test> Ok' "it delivers"
is "$(stat -c %U "$W/lg.db")" "nobody" "the database it made is nobody's"
kill -TERM "$LPID"; wait "$LPID"

conf lmtpd "hostname = lmtp.test" "user = no-such-user-lg"
timeout 10 "$LMTPD" -c "$T/p.conf" --listen "127.0.0.1:0" 2>"$T/nouser.log"
is "$?" "78" "an unknown user: exit 78"
like "$(cat "$T/nouser.log")" 'no such user "no-such-user-lg"' "... naming it"

# -- leadgate-milter
SPOOL="$W/spool"
conf milter "spool_dir = $SPOOL"
timeout 10 "$MILTER" -c "$T/p.conf" --listen "inet:$port@127.0.0.1" 2>"$T/mroot.log"
is "$?" "78" "leadgate-milter as root without [milter] user: exit 78"
like "$(cat "$T/mroot.log")" 'refusing to run as root: set \[milter\] user' "... saying why"
check "... and the spool folder was not made as root" test ! -e "$SPOOL"

conf milter "spool_dir = $SPOOL" "user = nobody"
"$MILTER" -c "$T/p.conf" --listen "inet:$port@127.0.0.1" 2>"$T/milter.log" &
MPID=$!
lg_track "$MPID"
check "leadgate-milter with user = nobody starts on port $port" wait_log "$T/milter.log" 'listening on' "$MPID"
like "$(cat "$T/milter.log")" "running as user nobody" "it says whom it runs as"
is "$(ids "$MPID")" "$want_ids" "every uid and gid is nobody's, no other group, no capability"
is "$(stat -c '%U %a' "$SPOOL")" "nobody 700" "its spool folder is nobody's, mode 0700"
kill -TERM "$MPID"; wait "$MPID"

chown root "$SPOOL"
timeout 10 "$MILTER" -c "$T/p.conf" --listen "inet:$port@127.0.0.1" 2>"$T/mown.log"
is "$?" "71" "a spool folder of another user's: exit 71"
like "$(cat "$T/mown.log")" "spool folder .* belongs to uid 0, not to this daemon's user" "... saying whose it is"
chown nobody "$SPOOL"; chmod 0770 "$SPOOL"
timeout 10 "$MILTER" -c "$T/p.conf" --listen "inet:$port@127.0.0.1" 2>"$T/mmode.log"
is "$?" "71" "a spool folder others may write to: exit 71"
like "$(cat "$T/mmode.log")" "may be written by others \(mode 0770\)" "... saying so"
ln -s "$T" "$W/spool-link"
conf milter "spool_dir = $W/spool-link" "user = nobody"
timeout 10 "$MILTER" -c "$T/p.conf" --listen "inet:$port@127.0.0.1" 2>"$T/mlink.log"
is "$?" "71" "a spool folder that is a symbolic link: exit 71"

# -- spool file names never come from a message: one whose attachment is
# named "../../../../../tmp/lg-pwned-$$" and whose Message-ID holds a path,
# spooled by the milter (its database missing: everything waits in the
# spool), leaves only time-pid-sequence-random names, mode 0600, nothing elsewhere
if command -v miltertest >/dev/null; then
	conf milter "spool_dir = $SPOOL" "user = nobody"
	sed -i "s|^database = .*|database = $W/missing/lg.db|" "$T/p.conf"
	chmod 0700 "$SPOOL"
	"$MILTER" -c "$T/p.conf" --listen "inet:$port@127.0.0.1" 2>"$T/milter2.log" &
	MPID=$!
	lg_track "$MPID"
	check "the milter starts with its database missing" wait_log "$T/milter2.log" 'listening on' "$MPID"
	printf '%s\r\n' "From: anna@customer.example" "To: rep@example.com" "Subject: names" \
		"Message-ID: <../../../../tmp/lg-msgid-$$@x>" "MIME-Version: 1.0" \
		"Content-Type: multipart/mixed; boundary=b" "" "--b" "Content-Type: text/plain" "" "hi" "--b" \
		"Content-Type: application/octet-stream; name=\"../../../../../tmp/lg-pwned-$$\"" \
		"Content-Disposition: attachment; filename=\"../../../../../tmp/lg-pwned-$$\"" "" "data" "--b--" > "$T/names.eml"
	MT_SOCK="inet:$port@127.0.0.1" MT_MSG="$T/names.eml" MT_FROM=anna@customer.example MT_RCPTS=rep@example.com \
		miltertest -s "$top_srcdir/tests/milter/send.lua" >"$T/mt.out" 2>&1
	like "$(tail -n 1 "$T/mt.out")" '^replies: [0-9]+ continue/accept$' "the message passes"
	for _ in $(seq 100); do ls "$SPOOL"/*.evt >/dev/null 2>&1 && break; sleep 0.05; done
	is "$(ls "$SPOOL" | grep -Evc '^[0-9a-f]{16}-[0-9]+-[0-9a-f]{8}-[A-Za-z0-9]{6}\.(msg|evt)$')" "0" \
		"every spool file name is time-pid-sequence-random: $(ls "$SPOOL" | tr '\n' ' ')"
	is "$(ls "$SPOOL" | wc -l)" "2" "... one .msg and one .evt"
	is "$(stat -c '%U %a' "$SPOOL"/* | sort -u)" "nobody 600" "... nobody's, mode 0600"
	check "no file named after the attachment or the Message-ID" \
		bash -c "! ls /tmp/lg-pwned-$$ /tmp/lg-msgid-$$* $W/../lg-pwned-$$ >/dev/null 2>&1"
	kill -TERM "$MPID"; wait "$MPID"
else
	skip "miltertest is not installed: the milter's spool names are not checked"
fi

done_testing
