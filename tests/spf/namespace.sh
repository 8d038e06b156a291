#!/bin/bash
# tests/spf/namespace.sh - leadgate-lmtpd's SPF checks against a real DNS
# server (dnsmasq) on loopback, in private network and mount namespaces
# (tests/spf/dns-lib.sh): pass, fail, softfail, neutral, none, permerror,
# a timeout (temperror), a record with macros, the cache, SPEC §3 step 6
# (a known end user whose SPF fails is not trusted), the helpers' limits,
# and a helper killed mid-check (temperror; the daemon goes on).
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/spf/dns-lib.sh"
spf_ns_enter "$@"
source "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/lmtp/lmtp-lib.sh"

check "dnsmasq serves the test zone on 127.0.0.1" spf_dns_start
LMTPD_CATCH_ALL=none lmtpd_conf "[auth]" "mode = check" "spf_helper = $top_builddir/src/leadgate-spf-helper" \
  "spf_helpers = 2" "spf_dns_timeout = 2" "spf_timeout = 20"
lmtpd_mailboxes
lg contact add erin@fail.test --name Erin >/dev/null
lg contact add fay@pass.test --name Fay >/dev/null
check "leadgate-lmtpd starts" lmtpd_start

n=0
# send SENDER [CLIENT-ADDR|-] : message $n over LMTP with XFORWARD (- : none);
# the caller counts n up (send runs in a subshell when its output is taken)
send() {
  local sender=$1 addr=${2:-192.0.2.10} xf
  xf="XFORWARD ADDR=$addr HELO=mx.client.test NAME=client.test"
  [ "$addr" = - ] && xf="NOOP"
  lmtp_tcp <<EOF
LHLO test
$xf
MAIL FROM:<$sender>
RCPT TO:<support@example.test>
DATA
From: <$sender>
To: support@example.test
Subject: spf $n
Message-ID: <spf-$n@ns.test>

Hello, message $n.
.
QUIT
EOF
}
spf_of() { sqlq "select coalesce(spf_result, 'NULL') from messages where message_id = 'spf-$n@ns.test'"; }
lead_of() { sqlq "select $1 from leads l join messages m on m.id = l.message_id where m.message_id = 'spf-$n@ns.test'"; }
expect() {  # expect SENDER RESULT DESCRIPTION [ADDR]
  local out
  n=$((n+1))
  out=$(send "$1" "$4")
  is "$(printf '%s' "$out" | codes)" "220 250 250 250 250 354 250 221" "$3: delivered"
  is "$(spf_of)" "$2" "$3: spf=$2"
}

expect alice@pass.test pass "an IP in the record's ip4 range"
expect bob@fail.test fail "-all, IP not in the record"
expect carol@soft.test softfail "~all, IP not in the record"
expect dan@neutral.test neutral "?all"
expect dave@none.test none "a domain with no TXT record"
expect xavier@nxdomain.test none "a domain that does not exist"
expect pat@perm.test permerror "a record with a syntax error"
expect alice@macro.test pass "macros %{i}.%{l}._spf.%{d}: alice's name exists"
expect bob@macro.test fail "  ... bob's does not"
expect tim@timeout.test temperror "the domain's server never answers (timeout)"
expect bob@pass.test fail "an IP outside the record" 198.51.100.7
expect nobody@pass.test NULL "no XFORWARD client address: no check" -
is "$(sqlq "select spf from v_leads order by id desc limit 1 offset 1")" fail "v_leads shows spf"

: > "$T/mark"
expect alice2@pass.test pass "a second sender of pass.test from the same client"
like "$(grep 'alice2@pass.test' "$LMTPD_LOG")" "spf=pass .*\(cached\)" "  ... answered from the cache"
expect alice3@macro.test fail "a record with macros is never cached"
unlike "$(grep 'alice3@macro.test' "$LMTPD_LOG")" "cached" "  ... (no cache line)"

# SPEC §3 step 6: a known end user whose SPF is fail is not trusted
n=$((n+1)); send erin@fail.test >/dev/null
is "$(lead_of status),$(lead_of suspected_spoof),$(lead_of "coalesce(ticket_id, 'none')")" "unread,1,none" \
  "known end user, SPF fail: unread, suspected spoof, no ticket"
like "$(lead_of reason)" "SPF failed \(leadgate's SPF check\)" "  ... the reason says why"
n=$((n+1)); send fay@pass.test >/dev/null
is "$(lead_of status),$(lead_of suspected_spoof)" "won,0" "known end user, SPF pass: trusted (a ticket)"

# the helpers: nobody, no new privileges, no core, nothing but the socketpair
helpers() {
  for p in $(pgrep -P "$LMTPD_PID"); do
    grep -q leadgate-spf-helper "/proc/$p/cmdline" 2>/dev/null && echo "$p"
  done
}
h=$(helpers | head -1)
check "a helper is running" test -n "$h"
if [ -n "$h" ]; then
  is "$(awk '/^Uid:/ {print $2}' "/proc/$h/status")" "$(id -u nobody)" "the helper runs as nobody"
  is "$(awk '/^NoNewPrivs:/ {print $2}' "/proc/$h/status")" 1 "the helper has no_new_privs"
  like "$(grep 'Max core file size' "/proc/$h/limits")" " 0 +0 " "the helper dumps no core"
  like "$(grep 'Max cpu time' "/proc/$h/limits")" " 60 +61 " "the helper's CPU time is limited"
  fds=$(ls "/proc/$h/fd" | sort -n | tr '\n' ' ')
  is "$fds" "0 1 2 " "the helper holds the socketpair (0) and /dev/null (1, 2) only"
  like "$(readlink "/proc/$h/fd/0")" "^socket:" "  ... fd 0 is the socket"
  is "$(readlink "/proc/$h/fd/1")" /dev/null "  ... fd 1 is /dev/null"
fi

# a helper killed in the middle of a check: temperror, the daemon goes on
n=$((n+1)); send kim@timeout.test > "$T/kill.out" &
sp=$!
sleep 0.7
killed=0
for p in $(helpers); do kill -KILL "$p" && killed=$((killed + 1)); done
wait "$sp"
check "helpers were killed mid-check" test "$killed" -gt 0
is "$(codes < "$T/kill.out")" "220 250 250 250 250 354 250 221" "the message whose helper was killed is delivered"
is "$(spf_of)" temperror "  ... with spf=temperror"
like "$(cat "$LMTPD_LOG")" "spf: helper [0-9]+ (ended|went away)" "  ... and the daemon logs the helper's end"
expect alice4@pass.test pass "the next check gets a new helper"
check "the daemon still runs" kill -0 "$LMTPD_PID"

lmtpd_stop
done_testing
