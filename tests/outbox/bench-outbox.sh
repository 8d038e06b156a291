#!/bin/bash
# tests/outbox/bench-outbox.sh - what notifications cost leadgate-lmtpd's
# deliveries (issue 18's bench rows), for tests/bench/run.sh to take in.
#
# SYNOPSIS
#   top_srcdir=SRC top_builddir=BUILD bash tests/outbox/bench-outbox.sh
#   (BENCH_ROUNDS rounds, default 3; BENCH_MSGS messages per run, default
#   2000; BENCH_SESSIONS, default 20)
#
# WHAT IT DOES
#   leadgate-lmtpd on a fresh database, every message a new ticket (mailbox
#   mode always, no flood limits), and a tech subscribed to
#   ticket.created_from_email by webhook, so that every delivery queues one
#   outbox row that the daemon's worker sends to a webhook receiver on
#   loopback (tests/outbox/webhook-sink.py, verifying each signature).
#   Each round measures, in turn, lmtp-latency (pipelined, distinct
#   messages) with nobody subscribed, with the rows queued but the worker
#   off (the fan-out's own cost), with the endpoint up, and with the
#   endpoint hanging (every request held unanswered, so the worker waits
#   out its 30 s timeout); medians over the rounds. With the endpoint up it
#   also times how long the worker takes to have sent every row.
#
# OUTPUT
#   The table, then CSV rows (metric,leadgate,reference,ratio,target,met):
#     outbox_lat_p99_c20_hang_vs_up_ms   p99 with the endpoint hanging / up   <= 1.5x
#     outbox_lat_p99_c20_up_vs_none_ms   p99 with the endpoint up / no subscriber
#     outbox_lat_p99_c20_queued_vs_none_ms  p99 with rows queued, worker off / no subscriber
#     outbox_webhooks_s                  webhooks sent per second, endpoint up
set -u
: "${top_srcdir:?}" "${top_builddir:?}"
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/lmtp/lmtp-lib.sh"
ROUNDS=${BENCH_ROUNDS:-3}
MSGS=${BENCH_MSGS:-2000}
SESS=${BENCH_SESSIONS:-20}
LAT="$top_builddir/tests/bench/lmtp-latency"
[ -x "$LAT" ] || skip_all "no $LAT (make it first)"
command -v python3 >/dev/null || skip_all "python3 is not installed"

W="$T/hooks"
mkdir -p "$W"
python3 "$top_srcdir/tests/outbox/webhook-sink.py" "$W" 2>"$T/hooks.err" &
lg_track $!
for _ in $(seq 100); do [ -s "$W/port" ] && break; sleep 0.1; done
HP=$(cat "$W/port")
bash "$top_srcdir/tests/bench/gen-messages.sh" "$T" >/dev/null 2>&1 || { echo "gen-messages.sh failed" >&2; exit 1; }

# run MODE: one lmtp-latency run on a fresh database; prints "p99 p50 rate sent_per_s"
run() {
	local mode=$1 out t0 t1 n i
	[ -n "${LMTPD_PID:-}" ] && lmtpd_stop >/dev/null
	rm -f "$T"/lg.db* "$W/log"
	: > "$LMTPD_LOG"
	worker=true
	[ "$mode" = queued ] && worker=false
	LMTPD_CATCH_ALL=always lmtpd_conf "[inbound]" "ticket_limit = 0" "notify_limit = 0" "[outbox]" "worker = $worker"
	cp "$T/lmtpd.conf" "$T/leadgate.conf"
	lg init >/dev/null
	lg mailbox add user@example.test --mode always >/dev/null
	if [ "$mode" != none ]; then
		lg user add tech@example.test --role tech >/dev/null
		lg --json user notify tech@example.test add ticket.created_from_email --webhook "http://127.0.0.1:$HP/tech" |
			python3 -c 'import json, sys; print(json.load(sys.stdin)["secret"])' > "$W/secret-tech"
	fi
	if [ "$mode" = hang ]; then echo hang > "$W/mode-tech"; else echo ok > "$W/mode-tech"; fi
	lmtpd_start >/dev/null || { echo "n/a n/a n/a n/a"; return; }
	t0=$(date +%s%N)
	out=$(timeout 300 "$LAT" -p "$LMTPD_PORT" -c "$SESS" -n "$MSGS" -F "$T/msg-4k.eml" \
		-f from@example.test -t user@example.test -T 60 2>>"$T/latency.err")
	sent="-"
	if [ "$mode" = up ]; then
		for ((i = 0; i < 1200; i++)); do   # at most two minutes
			n=$(sqlq "select count(*) from outbox where state <> 'sent'")
			[ "$n" = 0 ] && break
			sleep 0.1
		done
		t1=$(date +%s%N)
		[ "$n" = 0 ] && sent=$(python3 -c "print('%.0f' % ($MSGS / (($t1 - $t0) / 1e9)))")
	fi
	echo hang-over > "$W/mode-tech"   # a held request lets go
	lmtpd_stop >/dev/null
	awk -v s="$sent" '{ for (i = 1; i < NF; i++) v[$i] = $(i + 1); print v["p99_ms"], v["p50_ms"], v["msgs_per_s"], s }' <<< "$out"
}
median() { sort -n | awk '{a[NR]=$1} END { if (NR == 0) print "n/a"; else print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2 }'; }
: > "$T/r.none"; : > "$T/r.queued"; : > "$T/r.up"; : > "$T/r.hang"
for r in $(seq "$ROUNDS"); do
	for mode in none queued up hang; do
		run "$mode" >> "$T/r.$mode"
		echo "bench-outbox: round $r/$ROUNDS $mode: $(tail -1 "$T/r.$mode")" >&2
	done
done
col() { awk -v c="$2" '$c != "n/a" && $c != "-" { print $c }' "$T/r.$1" | median; }
p_none=$(col none 1); p_queued=$(col queued 1); p_up=$(col up 1); p_hang=$(col hang 1); sent=$(col up 4)
ratio() { python3 -c "import sys; a, b = sys.argv[1:]; print('n/a' if 'n/a' in (a, b) else '%.2f' % (float(a) / float(b)))" "$1" "$2"; }
r1=$(ratio "$p_hang" "$p_up"); r2=$(ratio "$p_up" "$p_none"); r3=$(ratio "$p_queued" "$p_none")
met=$(python3 -c "import sys; r = sys.argv[1]; print('no' if r == 'n/a' else ('yes' if float(r) <= 1.5 else 'no'))" "$r1")
printf '# %d rounds, %d messages at %d sessions, 4.5 KB, one webhook per message\n' "$ROUNDS" "$MSGS" "$SESS"
printf '# LMTP p99 (ms): no subscriber %s, queued with the worker off %s, endpoint up %s, endpoint hanging %s; webhooks sent %s/s\n' \
	"$p_none" "$p_queued" "$p_up" "$p_hang" "$sent"
echo "metric,leadgate,reference,ratio,target,met"
echo "outbox_lat_p99_c${SESS}_hang_vs_up_ms,$p_hang,$p_up,$r1,<=1.5x up,$met"
echo "outbox_lat_p99_c${SESS}_up_vs_none_ms,$p_up,$p_none,$r2,-,-"
echo "outbox_lat_p99_c${SESS}_queued_vs_none_ms,$p_queued,$p_none,$r3,-,-"
echo "outbox_webhooks_s,$sent,-,-,-,-"
