#!/bin/bash
# tests/milter/bench-milter.sh - what leadgate-milter costs Postfix's
# submission (issue 16's bench rows), for tests/bench/run.sh to take in.
#
# SYNOPSIS
#   top_srcdir=SRC top_builddir=BUILD bash tests/milter/bench-milter.sh
#   (as root; BENCH_ROUNDS rounds, default 3; BENCH_MSGS messages per run,
#   default 3000; BENCH_SESSIONS, default 20)
#
# WHAT IT DOES
#   A private Postfix (tests/milter/postfix-lib.sh: own config and queue in
#   a scratch folder, loopback only) takes smtp-source's 4.5 KB messages on
#   its submission-style smtpd (milter_macro_daemon_name = ORIGINATING) and
#   relays them to a null smtp-sink. Each round measures, in turn, Postfix
#   with no milter, with tests/milter/milter-noop (a filter negotiating the
#   same protocol steps and doing nothing: what any milter costs Postfix,
#   whose cleanup server reads each message back from its queue file to
#   send it), with leadgate-milter (a sales user whose every message
#   is synced, each message's Bcc recipient captured as a new lead, so that
#   every message is written), and with OpenDKIM signing when opendkim is
#   installed. Throughput is messages over smtp-source's wall time; medians
#   over the rounds. The milter's own end-of-message time is its p99 at
#   exit (log2 buckets, so an upper bound).
#
# OUTPUT
#   The table, then CSV rows (metric,leadgate,reference,ratio,target,met) as
#   tests/bench/run.sh writes them:
#     milter_submit_c20_vs_none   msgs/s with leadgate-milter / with none  >= 0.9
#     milter_submit_c20_vs_dkim   msgs/s with leadgate-milter / OpenDKIM   >= 1.0
#     milter_submit_c20_vs_noop   msgs/s with leadgate-milter / no-op milter   >= 0.9
#     milter_submit_c20_noop_vs_none  no-op milter / none (the protocol's floor; no target)
#     milter_eom_p99_ms           leadgate-milter's end of message p99     < 5
set -u
: "${top_srcdir:?}" "${top_builddir:?}"
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/milter/milter-lib.sh"
source "$top_srcdir/tests/milter/postfix-lib.sh"
pf_need
command -v smtp-source >/dev/null || skip_all "smtp-source is not installed"
ROUNDS=${BENCH_ROUNDS:-3}
MSGS=${BENCH_MSGS:-3000}
SESS=${BENCH_SESSIONS:-20}
pf_ports || skip_all "no free loopback ports"
pf_setup ""
smtp-sink -u postfix "127.0.0.1:$P_SINK" 256 2>"$T/sink.err" &
lg_track $!
pf_start || { cat "$T/pf.err" >&2; exit 1; }

lg init >/dev/null
lg user add rep@example.com --role sales >/dev/null
sqlite3 "$T/lg.db" "update users set sync_enabled = 1"
mconf "[outbound]" "capture_new_leads = true" "capture_from = to;bcc"
"$MILTER" -c "$T/m.conf" --listen "inet:$P_MILTER@127.0.0.1" 2>>"$MLOG" &
MPID=$!; lg_track "$MPID"
for _ in $(seq 100); do grep -q "listening on" "$MLOG" && break; sleep 0.1; done

NOOP=""
P_NOOP=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if [ -n "$P_NOOP" ] && [ -x "$top_builddir/tests/milter/milter-noop" ]; then
  "$top_builddir/tests/milter/milter-noop" "inet:$P_NOOP@127.0.0.1" 2>"$T/noop.err" &
  lg_track $!
  sleep 0.5
  kill -0 $! 2>/dev/null && NOOP="inet:127.0.0.1:$P_NOOP"
fi

DKIM=""
if command -v opendkim >/dev/null && command -v opendkim-genkey >/dev/null; then
  mkdir -p "$T/dkim" && opendkim-genkey -D "$T/dkim" -d example.com -s bench >/dev/null 2>&1
  printf '%s\n' "Mode s" "Domain example.com" "Selector bench" "KeyFile $T/dkim/bench.private" \
    "Socket inet:$P_OTHER@127.0.0.1" "Syslog no" "Background no" "UMask 007" \
    "RequireSafeKeys false" > "$T/dkim/opendkim.conf"   # the scratch folder is under /tmp
  opendkim -f -x "$T/dkim/opendkim.conf" 2>"$T/dkim/err" &
  DPID=$!; lg_track "$DPID"
  sleep 1
  kill -0 "$DPID" 2>/dev/null && DKIM="inet:127.0.0.1:$P_OTHER"
fi

# a 4.5 KB message from the user; smtp-source -N numbers each recipient,
# so each message has a new Bcc recipient (a new lead)
{ printf 'From: Rep <rep@example.com>\nTo: Anna <anna@customer.example>\nSubject: bench offer\n\n'
  for _ in $(seq 70); do printf '%s\n' "The quick brown fox jumps over the lazy dog, and then some more text here."; done
} > "$T/msg.txt"
run() {  # run MILTERS: prints msgs/s
  pf_milters "$1"
  sleep 1
  local t0 t1
  t0=$(date +%s%N)
  smtp-source -d -N -s "$SESS" -m "$MSGS" -F "$T/msg.txt" -f rep@example.com -t anna@customer.example \
    "127.0.0.1:$P_SMTPD" 2>>"$T/source.err"
  t1=$(date +%s%N)
  python3 -c "print('%.1f' % ($MSGS / (($t1 - $t0) / 1e9)))"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
: > "$T/none"; : > "$T/lg"; : > "$T/dkim.r"; : > "$T/noop.r"
for r in $(seq "$ROUNDS"); do
  run "" >> "$T/none"
  [ -n "$NOOP" ] && run "$NOOP" >> "$T/noop.r"
  run "inet:127.0.0.1:$P_MILTER" >> "$T/lg"
  [ -n "$DKIM" ] && run "$DKIM" >> "$T/dkim.r"
done
none=$(median < "$T/none"); lgm=$(median < "$T/lg")
dkim=$([ -n "$DKIM" ] && median < "$T/dkim.r" || echo n/a)
noop=$([ -n "$NOOP" ] && median < "$T/noop.r" || echo n/a)
settled
kill -TERM "$MPID"; wait "$MPID"
p99us=$(sed -n 's/.*stopped: .* \([0-9]*\) us (p99).*/\1/p' "$MLOG" | tail -n 1)
p99=$(python3 -c "print('%.3f' % (${p99us:-0} / 1000))")
synced=$(sqlq "select count(*) from activities")
pf_stop

ratio() { python3 -c "import sys; a, b = sys.argv[1:]; print('n/a' if 'n/a' in (a, b) else '%.3f' % (float(a) / float(b)))" "$1" "$2"; }
met() { python3 -c "import sys; v, op, t = sys.argv[1:]; print('no' if v == 'n/a' else ('yes' if (float(v) >= float(t) if op == '>=' else float(v) < float(t)) else 'no'))" "$1" "$2" "$3"; }
r1=$(ratio "$lgm" "$none"); r2=$(ratio "$lgm" "$dkim"); r3=$(ratio "$lgm" "$noop"); r4=$(ratio "$noop" "$none")
printf '# %d rounds, %d messages at %d sessions, 4.5 KB; %d activities recorded\n' "$ROUNDS" "$MSGS" "$SESS" "$synced"
printf '# %-28s %10s %10s %8s\n' metric leadgate reference ratio
printf '# %-28s %10s %10s %8s\n' "submit msgs/s vs no milter" "$lgm" "$none" "$r1" "submit msgs/s vs OpenDKIM" "$lgm" "$dkim" "$r2" \
  "submit msgs/s vs no-op milter" "$lgm" "$noop" "$r3" "no-op milter vs no milter" "$noop" "$none" "$r4"
printf '# %-28s %10s\n' "end of message p99 (ms)" "$p99"
echo "metric,leadgate,reference,ratio,target,met"
echo "milter_submit_c${SESS}_vs_none,$lgm,$none,$r1,>=0.9,$(met "$r1" '>=' 0.9)"
echo "milter_submit_c${SESS}_vs_dkim,$lgm,$dkim,$r2,>=1.0,$(met "$r2" '>=' 1.0)"
echo "milter_submit_c${SESS}_vs_noop,$lgm,$noop,$r3,>=0.9,$(met "$r3" '>=' 0.9)"
echo "milter_submit_c${SESS}_noop_vs_none,$noop,$none,$r4,-,-"
echo "milter_eom_p99_ms,$p99,-,-,<5,$(met "$p99" '<' 5)"
