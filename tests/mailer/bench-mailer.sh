#!/bin/bash
# tests/mailer/bench-mailer.sh - the mailer's bench rows (issue 18), for
# tests/bench/run.sh to take in.
#
# SYNOPSIS
#   top_srcdir=SRC top_builddir=BUILD bash tests/mailer/bench-mailer.sh
#   (BENCH_ROUNDS rounds, default 3; BENCH_BLAST recipients, default 3000;
#   BENCH_MSGS LMTP messages per run, default 2000; BENCH_SESSIONS, 20)
#
# WHAT IT DOES
#   Postfix's smtp-sink on loopback (nothing kept). Each round:
#   - a blast of BENCH_BLAST opted-in end users, [mailer] per_minute = 0
#     (unlimited), sent by `leadgate mailer run` on a fresh database in the
#     bench's scratch folder: messages per second, from the first claim to
#     the last sent mark (every send exactly-once: claim, phase 'data'
#     before the end of DATA, the sent mark);
#   - smtp-source -L -d -N at BENCH_SESSIONS sessions, 4.5 KB messages, into
#     leadgate-lmtpd (catch-all mailbox, mode always) while its worker is
#     idle, and while it is busy with a blast of 5 x BENCH_BLAST recipients
#     into the sink (queued before the run, so the worker sends throughout).
#   Medians over the rounds.
#
# OUTPUT
#   The table, then CSV rows (metric,leadgate,reference,ratio,target,met):
#     mailer_send_s                     campaign messages sent per second   >= 100
#     tp_4k_c20_mailer_busy_vs_idle     LMTP msgs/s, worker busy / idle
set -u
: "${top_srcdir:?}" "${top_builddir:?}"
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/lmtp/lmtp-lib.sh"
ROUNDS=${BENCH_ROUNDS:-3}
BLAST=${BENCH_BLAST:-3000}
MSGS=${BENCH_MSGS:-2000}
SESS=${BENCH_SESSIONS:-20}
SMTP_SOURCE=$(command -v smtp-source || echo /usr/sbin/smtp-source)
[ -x "$SMTP_SOURCE" ] || skip_all "smtp-source (Postfix) is not installed"
command -v python3 >/dev/null || skip_all "python3 is not installed"
command -v sqlite3 >/dev/null || skip_all "sqlite3 is not installed"
smtp_sink_start - >/dev/null || { echo "smtp-sink did not start" >&2; exit 1; }
bash "$top_srcdir/tests/bench/gen-messages.sh" "$T" >/dev/null 2>&1 || { echo "gen-messages.sh failed" >&2; exit 1; }
now() { date +%s.%N; }

# fresh N: a fresh database with N opted-in end users and a blast to them, sent (queued)
fresh() {
	[ -n "${LMTPD_PID:-}" ] && kill -0 "$LMTPD_PID" 2>/dev/null && lmtpd_stop >/dev/null
	rm -f "$T"/lg.db*
	: > "$LMTPD_LOG"
	LMTPD_CATCH_ALL=always lmtpd_conf "[inbound]" "ticket_limit = 0" "notify_limit = 0" \
		"[outbox]" "smtp_url = smtp://127.0.0.1:$SINK_PORT" "poll_interval = 1" \
		"[mailer]" "from = news@shop.test" "per_minute = 0"
	cp "$T/lmtpd.conf" "$T/leadgate.conf"
	lg init >/dev/null
	lg mailbox add user@example.test --mode always >/dev/null
	lg org add Gamma --domain gamma.test >/dev/null
	lg org set Gamma marketing on >/dev/null
	sqlq "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
	      INSERT INTO end_users (email, name, organization_id, receive_marketing, marketing_changed_at, marketing_changed_by)
	      SELECT 'g' || i || '@gamma.test', 'Customer ' || i, (SELECT id FROM organizations WHERE name = 'Gamma'),
	             1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'cli' FROM n"
	printf 'Subject: News for {{contact.name}}\n\nHello {{contact.name}} of {{organization.name}},\n%s\n' \
		"$(head -c 3000 /dev/zero | tr '\0' 'x' | fold -w 72)" > "$T/tmpl.txt"
	lg mailer create news --template "$T/tmpl.txt" --all >/dev/null
	[ "$1" -gt 0 ] && lg mailer send news >/dev/null
}

# send_rate: messages per second of one `mailer run` over the blast
send_rate() {
	local t0 t1 n
	fresh "$BLAST"
	t0=$(now)
	lg mailer run --max 1000000 > "$T/run.out" 2>&1
	t1=$(now)
	n=$(sqlq "select count(*) from outbox where state = 'sent'")
	[ "$n" = "$BLAST" ] || { echo "n/a"; return; }
	python3 -c "print('%.0f' % ($n / ($t1 - $t0)))"
}

# lmtp_rate busy|idle: smtp-source msgs/s into leadgate-lmtpd
lmtp_rate() {
	local t0 t1 rc
	if [ "$1" = busy ]; then fresh $((BLAST * 5)); else fresh 0; fi
	lmtpd_start >/dev/null || { echo "n/a"; return; }
	[ "$1" = busy ] && for ((i = 0; i < 100; i++)); do   # until the worker is sending
		[ "$(sqlq "select count(*) from outbox where state = 'sent'")" -gt 0 ] && break
		sleep 0.05
	done
	t0=$(now)
	timeout 300 "$SMTP_SOURCE" -L -d -N -s "$SESS" -m "$MSGS" -f from@example.test -t user@example.test \
		-M bench.test -F "$T/msg-4k.eml" "127.0.0.1:$LMTPD_PORT" > "$T/source.out" 2>&1
	rc=$?
	t1=$(now)
	local left
	left=$(sqlq "select count(*) from outbox where state = 'queued'")
	lmtpd_stop >/dev/null
	[ "$rc" = 0 ] || { echo "n/a"; return; }
	[ "$1" = busy ] && [ "$left" = 0 ] && echo "bench-mailer: the blast ended before the LMTP run did" >&2
	python3 -c "print('%.0f' % ($MSGS / ($t1 - $t0)))"
}

median() { sort -n | awk '$1 != "n/a" {a[++n]=$1} END { if (n == 0) print "n/a"; else print (n % 2) ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2 }'; }
: > "$T/r.send"; : > "$T/r.idle"; : > "$T/r.busy"
for r in $(seq "$ROUNDS"); do
	send_rate >> "$T/r.send"
	lmtp_rate idle >> "$T/r.idle"
	lmtp_rate busy >> "$T/r.busy"
	echo "bench-mailer: round $r/$ROUNDS: send $(tail -1 "$T/r.send")/s, LMTP idle $(tail -1 "$T/r.idle")/s, busy $(tail -1 "$T/r.busy")/s" >&2
done
send=$(median < "$T/r.send"); idle=$(median < "$T/r.idle"); busy=$(median < "$T/r.busy")
met=$(python3 -c "import sys; v = sys.argv[1]; print('no' if v == 'n/a' else ('yes' if float(v) >= 100 else 'no'))" "$send")
ratio=$(python3 -c "import sys; a, b = sys.argv[1:]; print('n/a' if 'n/a' in (a, b) else '%.2f' % (float(a) / float(b)))" "$busy" "$idle")
printf '# %d rounds; blast of %d into smtp-sink, per_minute unlimited; LMTP: %d messages, %d sessions, 4.5 KB\n' \
	"$ROUNDS" "$BLAST" "$MSGS" "$SESS"
printf '# mailer %s msgs/s; LMTP msgs/s with the worker idle %s, busy with a blast %s\n' "$send" "$idle" "$busy"
echo "metric,leadgate,reference,ratio,target,met"
echo "mailer_send_s,$send,-,-,>=100,$met"
echo "tp_4k_c${SESS}_mailer_busy_vs_idle,$busy,$idle,$ratio,-,-"
