# tests/postfix/systemd.sh - contrib/systemd's units: `systemd-analyze
# verify` accepts them, `systemd-analyze security --offline=yes` scores
# them "OK" or better, they keep the sandbox issue 17 asks for, the stop
# timeout covers leadgate-lmtpd's drain time, and (with strace) every system
# call and socket family leadgate-lmtpd uses in sessions, a reload and a
# stop is one its filter allows, and it still delivers with W^X enforced,
# so that the sandbox does not break it.
# No systemd needs to be running: everything here is offline.
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"
command -v systemd-analyze >/dev/null ||
	skip_all "no systemd-analyze (Debian package systemd) to check the units with"
UNITS="$top_srcdir/contrib/systemd"

# The units name the installed binaries; verify wants them to exist, so a
# copy points at the build tree's.
mkdir -p "$T/units"
for d in lmtpd milter; do
	sed -e "s|/usr/sbin/leadgate-lmtpd|$(cd "$top_builddir" && pwd)/lmtpd/leadgate-lmtpd|g" \
	    -e "s|/usr/sbin/leadgate-milter|$(cd "$top_builddir" && pwd)/milter/leadgate-milter|g" \
	    "$UNITS/leadgate-$d.service" > "$T/units/leadgate-$d.service"
done

# exposure UNIT: the overall figure systemd-analyze gives it
exposure() {
	systemd-analyze security --offline=yes --no-pager "$1" 2>/dev/null |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p'
}
key() { sed -n "s/^$2=//p" "$1" | tr '\n' '|'; }

for d in lmtpd milter; do
	u="$T/units/leadgate-$d.service"
	if [ -x "$top_builddir/$d/leadgate-$d" ]; then
		out=$(systemd-analyze verify --man=no "$u" 2>&1)
		is "$out" "" "systemd-analyze verify leadgate-$d.service: no complaint"
	else
		skip "leadgate-$d is not built: verify needs its binary"
	fi
	e=$(exposure "$u")
	diag "leadgate-$d.service: exposure $e"
	like "$e" '^[0-9.]+ (PERFECT|SAFE|OK)$' "leadgate-$d.service scores OK or better ($e)"
	check "... at most 4.9" awk -v e="${e%% *}" 'BEGIN { exit !(e != "" && e <= 4.9) }'
	is "$(key "$u" User)$(key "$u" ProtectSystem)$(key "$u" PrivateTmp)$(key "$u" NoNewPrivileges)$(key "$u" CapabilityBoundingSet)" \
		"leadgate|strict|yes|yes||" "... a dedicated user, ProtectSystem=strict, PrivateTmp, NoNewPrivileges, no capabilities"
	is "$(key "$u" SystemCallFilter)" "@system-service|~@privileged|$([ $d = lmtpd ] && echo 'landlock_create_ruleset landlock_add_rule landlock_restrict_self|')" \
		"... SystemCallFilter=@system-service, less @privileged$([ $d = lmtpd ] && echo ', plus Landlock for the SPF helpers')"
	is "$(key "$u" StateDirectory)$(key "$u" ReadWritePaths)" "leadgate|$([ $d = lmtpd ] && echo '-/var/spool/postfix/leadgate|')" \
		"... writable: the state directory (database, milter spool)$([ $d = lmtpd ] && echo ' and the socket folder in the queue directory')"
done

# leadgate-lmtpd's drain on SIGTERM is capped (lmtpd/lmtpd.c); systemd must
# not SIGKILL it before that.
drain=$(sed -n 's/^#define LMTPD_DRAIN_MAX *(\([0-9]*\) \* G_USEC_PER_SEC).*/\1/p' "$top_srcdir/lmtpd/lmtpd.c")
stop=$(key "$UNITS/leadgate-lmtpd.service" TimeoutStopSec | tr -d '|')
check "TimeoutStopSec ($stop s) is longer than lmtpd's drain time (${drain:-?} s)" test -n "$drain" -a "${stop:-0}" -gt "${drain:-999}"

# --- the system call filter against what the daemon does ------------------------
if ! command -v strace >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -q --no-install-recommends strace >/dev/null 2>&1
fi
command -v strace >/dev/null || { skip "no strace (and apt-get install strace failed): the filter is not checked against the daemon's calls"; done_testing; exit; }
source "$top_srcdir/tests/postfix/unit-lib.sh"
check "systemd-analyze lists the filter's calls" unit_filter "$T/allowed.net"

# The daemon runs as an unprivileged user, as under the unit (User=): as
# root, SQLite and the socket set-up would make calls (fchown) that the
# unit's daemon never makes. Its files are in a folder of that user's.
W="$T/run"
mkdir -p "$W/rules" "$W/spool"
as_user=()
if [ "$(id -u)" = 0 ]; then
	command -v setpriv >/dev/null || { skip "no setpriv to run the daemon unprivileged"; done_testing; exit; }
	chmod 711 "$T"
	as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
fi
cat > "$W/lmtpd.conf" <<EOF
[store]
database = $W/lg.db
[rules]
directory = $W/rules
[lmtpd]
hostname = lmtp.test
max_message_size = 64K
spool_mem_limit = 4K
spool_dir = $W/spool
EOF
printf 'require ["vnd.leadgate", "regex"];\nif header :regex "subject" "^quote [0-9]+" { ticket; }\n' > "$W/rules/10-q.sieve"
[ "$(id -u)" = 0 ] && chown -R nobody:nogroup "$W"
"${as_user[@]}" "$LEADGATE" -c "$W/lmtpd.conf" init >/dev/null &&
"${as_user[@]}" "$LEADGATE" -c "$W/lmtpd.conf" mailbox add support@example.test --mode always >/dev/null
# strace (as the user too, so that setpriv's own calls are not in the
# trace) follows the daemon's threads
# (LeakSanitizer cannot run under ptrace: no leak check in a sanitizer build)
trace() { ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" "${as_user[@]}" strace -f -qq -o "$1" "${@:2}"; }
check "leadgate-lmtpd --check-config under strace" trace "$W/check.trace" "$LMTPD" -c "$W/lmtpd.conf" --check-config
trace "$W/lmtpd.trace" "$LMTPD" -c "$W/lmtpd.conf" --listen 127.0.0.1:0 --listen "unix:$W/lmtp.sock" 2>"$T/lmtpd.log" &
SPID=$!
lg_track "$SPID"
for i in $(seq 100); do grep -q 'ready:' "$T/lmtpd.log" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$T/lmtpd.log" | head -1)
# signals go to the daemon itself, not to strace (its PID is in its log)
TPID=$(sed -n 's/^leadgate-lmtpd\[\([0-9]*\)\]: .*ready:.*/\1/p' "$T/lmtpd.log" | head -1)
check "leadgate-lmtpd under strace listens" test -n "$port" -a -n "$TPID"
# a message in memory, one spilled to spool_dir, one over the limit, over TCP
# and the socket; then a reload and a stop
head -c 20000 /dev/zero | tr '\0' y | fold -w 70 > "$T/20k"
head -c 80000 /dev/zero | tr '\0' y | fold -w 70 > "$T/80k"
session() {  # session MSGID BODYFILE swaks-args...: the last reply code
	timeout 20 swaks --protocol LMTP --from a@customer.test --to support@example.test \
		--header "Subject: quote 1" --header "Message-Id: <$1@c>" --body "@$2" "${@:3}" 2>&1 |
		sed -n 's/^<[-~*]* *\([0-9][0-9][0-9]\) .*/\1/p' | tail -2 | head -1
}
echo hello > "$T/small"
is "$(session m1 "$T/small" --server 127.0.0.1 --port "$port")" 250 "a delivery over TCP"
is "$(session m2 "$T/20k" --server 127.0.0.1 --port "$port")" 250 "a message spilled to spool_dir"
is "$(session m3 "$T/80k" --server 127.0.0.1 --port "$port")" 552 "one over the size limit"
is "$(session m4 "$T/small" --socket "$W/lmtp.sock")" 250 "a delivery over the UNIX socket"
check "20 more, 4 sessions at once" "$top_builddir/tests/lmtp/lmtp-blast" -u "$W/lmtp.sock" -n 20 -s 4 -t unix
kill -HUP "$TPID"
for i in $(seq 100); do grep -q 'reloaded' "$T/lmtpd.log" && break; sleep 0.1; done
kill -TERM "$TPID"
for i in $(seq 100); do kill -0 "$TPID" 2>/dev/null || break; sleep 0.1; done
wait "$SPID"
is "$?" 0 "leadgate-lmtpd under strace stops with 0"
like "$(cat "$T/lmtpd.log")" 'reloaded' "... after a reload"
cat "$W/check.trace" "$W/lmtpd.trace" > "$T/all.trace"
used=$(syscalls "$T/all.trace")
diag "leadgate-lmtpd made $(wc -w <<<"$used") distinct system calls"
is "$(refused "$T/all.trace" "$T/allowed.net")" "" \
	"every call leadgate-lmtpd made passes SystemCallFilter=@system-service ~@privileged"
like "$(families "$T/all.trace")" '^(AF_(INET|INET6|UNIX) )*$' "... and every socket it opened is AF_INET, AF_INET6 or AF_UNIX ($(families "$T/all.trace"))"
# MemoryDenyWriteExecute: PCRE2 asks for writable and executable memory to
# JIT-compile a regex; under the unit that is refused and leadgate must go
# on with PCRE2's interpreter. The kernel's own form of the same rule
# (prctl PR_SET_MDWE, Linux 6.3) lets the test refuse it here too.
# (the system's python3: the user may not reach one under /root)
PY=$(if [ -x /usr/bin/python3 ]; then echo /usr/bin/python3; else command -v python3; fi)
if [ -z "$PY" ]; then
	skip "no python3 to set PR_SET_MDWE with"
else
	out=$(printf 'LHLO c\r\nMAIL FROM:<a@customer.test>\r\nRCPT TO:<support@example.test>\r\nDATA\r\nSubject: quote 77\r\nMessage-ID: <mdwe@c>\r\n\r\nhi\r\n.\r\nQUIT\r\n' |
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" "${as_user[@]}" strace -f -qq -o "$W/mdwe.trace" "$PY" -c 'import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0: sys.exit(77)
os.execv(sys.argv[1], sys.argv[1:])' "$LMTPD" -c "$W/lmtpd.conf" -S 2>"$T/mdwe.log")
	if [ $? = 77 ]; then
		skip "this kernel has no PR_SET_MDWE (Linux 6.3)"
	else
		like "$(grep -c 'PROT_WRITE|PROT_EXEC.* = -1 EACCES' "$W/mdwe.trace")" '^[1-9]' "with W^X enforced, PCRE2's JIT is refused"
		like "$(tr -d '\r' <<<"$out")" '250 2\.0\.0 <support@example\.test> Ok: lead [0-9]+ ticket' "... and the delivery still succeeds"
		like "$(cat "$T/mdwe.log")" 'message-id=<mdwe@c> .*decided_by=rule:10-q\.sieve:2' "... decided by the regex rule, interpreted"
	fi
fi
done_testing
