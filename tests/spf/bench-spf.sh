#!/bin/bash
# tests/spf/bench-spf.sh - what SPF checking costs leadgate-lmtpd (issue 17's
# bench rows), for tests/bench/run.sh to take in.
#
# SYNOPSIS
#   top_srcdir=SRC top_builddir=BUILD bash tests/spf/bench-spf.sh
#   (as root; BENCH_ROUNDS rounds, default 3; BENCH_MSGS messages per run,
#   default 3000; BENCH_SESSIONS, default 20)
#
# WHAT IT DOES
#   In private network and mount namespaces (tests/spf/dns-lib.sh: dnsmasq
#   on 127.0.0.1 serving the test zone, /etc/resolv.conf bound to it),
#   lmtp-latency sends the bench's 4.5 KB message, every one distinct, at
#   20 pipelining sessions with XFORWARD ADDR=192.0.2.10, to a fresh
#   leadgate-lmtpd per run, in turn:
#     off       [auth] mode = off: no check (the row's reference)
#     uncached  mode = check, sender alice@macro.test: its record has macros
#               (exists:%{i}.%{l}._spf.%{d}), so no verdict is cached and
#               every message costs a helper round trip and two DNS queries
#     cached    mode = check, sender alice@pass.test: after the first
#               message, the verdict comes from the cache
#   Throughput is messages over the client's wall time; medians over the
#   rounds. Each check run must store spf=pass for every message.
#
# OUTPUT
#   CSV rows (metric,leadgate,reference,ratio,target,met) as
#   tests/bench/run.sh writes them, the reference being the run without SPF:
#     tp_4k_c20_spf_dns_msgs_s      every message checked against the DNS server
#     tp_4k_c20_spf_cached_msgs_s   verdicts from the cache
set -u
: "${top_srcdir:?}" "${top_builddir:?}"
source "$top_srcdir/tests/tap.sh"
skip_all() { echo "bench-spf: $*" >&2; exit 1; }
source "$top_srcdir/tests/spf/dns-lib.sh"
spf_ns_enter "$@"
source "$top_srcdir/tests/lib.sh"
ROUNDS=${BENCH_ROUNDS:-3}
MSGS=${BENCH_MSGS:-3000}
SESS=${BENCH_SESSIONS:-20}
LAT=$top_builddir/tests/bench/lmtp-latency
[ -x "$LAT" ] || skip_all "no $LAT"
spf_dns_start || skip_all "dnsmasq did not start"
bash "$top_srcdir/tests/bench/gen-messages.sh" "$T" >/dev/null || skip_all "gen-messages.sh failed"

# run MODE SENDER: prints msgs/s of one run into a fresh leadgate-lmtpd
run() {
  local mode=$1 sender=$2 pid port="" i=0 out rate stored
  rm -rf "$T/lg" && mkdir -p "$T/lg/rules"
  printf '[store]\ndatabase = %s\n[rules]\ndirectory = %s\n[auth]\nmode = %s\nspf_helper = %s\n' \
    "$T/lg/lg.db" "$T/lg/rules" "$mode" "$top_builddir/src/leadgate-spf-helper" > "$T/lg/lg.conf"
  # as root the daemon must be told to stay root (the SPF helpers still become nobody)
  [ "$(id -u)" != 0 ] || printf '[lmtpd]\nuser = root\n' >> "$T/lg/lg.conf"
  "$LEADGATE" -c "$T/lg/lg.conf" init >/dev/null && \
    "$LEADGATE" -c "$T/lg/lg.conf" mailbox add user@example.test --mode always >/dev/null || return 1
  "$LMTPD" -c "$T/lg/lg.conf" --listen 127.0.0.1:0 2> "$T/lg/lmtpd.log" &
  pid=$!
  lg_track "$pid"
  while [ $i -lt 200 ] && [ -z "$port" ] && kill -0 "$pid" 2>/dev/null; do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$T/lg/lmtpd.log" | head -1)
    [ -n "$port" ] || sleep 0.05
    i=$((i + 1))
  done
  [ -n "$port" ] || return 1
  out=$(timeout 300 "$LAT" -p "$port" -c "$SESS" -n "$MSGS" -F "$T/msg-4k.eml" -f "$sender" \
        -t user@example.test -x "ADDR=192.0.2.10 HELO=mx.client.test" -T 60)
  rate=$(awk '{ for (i = 1; i < NF; i++) if ($i == "msgs_per_s") print $(i + 1) }' <<< "$out")
  kill -TERM "$pid"; i=0
  while kill -0 "$pid" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
  if [ "$mode" = check ]; then
    stored=$(sqlite3 -batch -noheader "$T/lg/lg.db" "select count(*) from messages where spf_result = 'pass'")
    [ "$stored" = "$MSGS" ] || echo "bench-spf: $mode $sender: $stored of $MSGS messages with spf=pass" >&2
  fi
  echo "${rate:-n/a}"
}
median() { printf '%s\n' "$@" | grep -E '^[0-9.]+$' | sort -g | awk '{ v[NR] = $1 } END { if (!NR) { print "n/a"; exit }
  print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
off=() dns=() cached=()
for r in $(seq "$ROUNDS"); do
  off+=("$(run off alice@macro.test)")
  dns+=("$(run check alice@macro.test)")
  cached+=("$(run check alice@pass.test)")
  echo "bench-spf: round $r/$ROUNDS: off ${off[-1]}, DNS ${dns[-1]}, cached ${cached[-1]} msgs/s" >&2
done
o=$(median "${off[@]}") d=$(median "${dns[@]}") c=$(median "${cached[@]}")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "n/a" }'; }
printf 'tp_4k_c%d_spf_dns_msgs_s,%.0f,%.0f,%s,-,-\n' "$SESS" "$d" "$o" "$(ratio "$d" "$o")"
printf 'tp_4k_c%d_spf_cached_msgs_s,%.0f,%.0f,%s,-,-\n' "$SESS" "$c" "$o" "$(ratio "$c" "$o")"
