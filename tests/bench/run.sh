#!/bin/bash
# tests/bench/run.sh - `make bench`: leadgate-lmtpd against Dovecot's LMTP
# and against this machine's own limits, side by side (issue 6).
#
# SYNOPSIS
#   make bench                  (sets top_srcdir and top_builddir)
#   top_srcdir=SRC top_builddir=BUILD bash tests/bench/run.sh
#
# WHAT IT DOES
#   1. Installs what it needs when it is missing and it runs as root
#      (dovecot-core, dovecot-lmtpd, postfix for smtp-source/smtp-sink), with
#      debconf's "No configuration" for Postfix; system services are not
#      started, and one that an install started anyway is stopped (by the
#      PID in its own pid file, and only that one).
#   2. Writes the message sets (gen-messages.sh) into a scratch folder made
#      with mktemp under $BENCH_TMPDIR (default /var/tmp, a disk, not tmpfs).
#   3. Starts, on loopback ports only: Postfix's smtp-sink -L (the null
#      sink), a private Dovecot (own config, base_dir and Maildir in the
#      scratch folder, deliveries as the `mail` user) and, for each
#      measurement, leadgate-lmtpd from the build tree on a fresh database.
#   4. Measures, with the targets alternating in every round and medians
#      over $BENCH_ROUNDS (default 3) rounds:
#      - throughput: smtp-source -L -d -N at 1, 4 and 20 sessions, 4.5 KB
#        and 50 KB messages, into leadgate, Dovecot and the null sink;
#      - ceilings: GMime parsing from memory (one process per core), SQLite
#        durable commits (WAL, synchronous=FULL, 1 and 20 rows per commit)
#        in the scratch folder;
#      - latency p50/p99 from MAIL FROM to the last 250 with lmtp-latency
#        (pipelining like Postfix's LMTP client; every message distinct);
#      - leadgate-lmtpd's peak RSS receiving a 50 MB message vs. idle RSS;
#      - 1,000 rules (tests/bench/bench-rules, when it is built);
#      - SPF: throughput at 20 sessions with [auth] mode = check against a
#        loopback DNS server, beside mode = off (tests/spf/bench-spf.sh,
#        rows tp_4k_c20_spf_*, as root);
#      - where a delivery's time went at 20 sessions, 4.5 KB: the means of
#        the queue/batch/sync/wake parts of leadgate's delays= log field
#        (leadgate-lmtpd(8)), rows delay_*_4k_c20_ms, with no target;
#      - the mailer (tests/mailer/bench-mailer.sh): campaign messages per
#        second into smtp-sink (mailer_send_s, >= 100) and LMTP throughput
#        with the worker busy with a blast against idle.
#   5. Prints the machine and the table, and writes
#      $top_builddir/tests/bench/results.csv:
#        metric,leadgate,reference,ratio,target,met
#      met is yes or no for a figure that has a target and "-" for one that
#      is only shown; a leadgate figure that could not be measured is "n/a"
#      (and then a target is not met).
#
# NOTES
#   smtp-source -F sends the same bytes every time, so with one recipient
#   leadgate would only ever see duplicates (SPEC §3 step 1). -N gives every
#   message its own recipient (NNNuser@example.test), taken by leadgate's
#   catch-all mailbox and, through a static userdb, by one Maildir in Dovecot.
#   The lmtp-latency rows send distinct messages (own Message-ID each) to
#   user@example.test, a mailbox in mode `always`.
#
#   Every loop is bounded, every client runs under timeout(1), and every
#   daemon started here is stopped by its PID on exit (trap EXIT), after
#   which the scratch folder is removed.
#
# ENVIRONMENT
#   BENCH_ROUNDS (3), BENCH_SCALE (1: multiplies message counts),
#   BENCH_TMPDIR (/var/tmp), BENCH_KEEP (1: keep the scratch folder).
set -u
set -o pipefail
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
top_builddir=${top_builddir:-$PWD}
ROUNDS=${BENCH_ROUNDS:-3}
SCALE=${BENCH_SCALE:-1}
BENCH_TMPDIR=${BENCH_TMPDIR:-/var/tmp}

LMTPD=$top_builddir/lmtpd/leadgate-lmtpd
LEADGATE=$top_builddir/src/leadgate
BIN=$top_builddir/tests/bench
CSV=$top_builddir/tests/bench/results.csv
SMTP_SOURCE=/usr/sbin/smtp-source
SMTP_SINK=/usr/sbin/smtp-sink
CONCS="1 4 20"
SIZES="4k 50k"

log() { printf 'bench: %s\n' "$*" >&2; }
warnings=()
warn() { log "WARNING: $*"; warnings+=("$*"); }

case $ROUNDS in ''|*[!0-9]*) ROUNDS=3 ;; esac
case $SCALE in ''|*[!0-9]*) SCALE=1 ;; esac
[ "$ROUNDS" -ge 1 ] && [ "$ROUNDS" -le 20 ] || ROUNDS=3
[ "$SCALE" -ge 1 ] && [ "$SCALE" -le 20 ] || SCALE=1

# --- processes we start, stopped on exit -----------------------------------
S=""
pids=()
track() { pids+=("$1"); }
untrack() {
	local keep=() p
	for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	pids=("${keep[@]}")
}
# stop_pid PID: TERM, wait up to 10 s, then KILL. Only PIDs started here.
stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || { untrack "$pid"; return 0; }
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	untrack "$pid"
}
cleanup() {
	local p
	for p in "${pids[@]}"; do stop_pid "$p"; done
	if [ -n "$S" ] && [ -d "$S" ]; then
		if [ "${BENCH_KEEP:-0}" = 1 ]; then log "kept $S"; else rm -rf "$S"; fi
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- packages -------------------------------------------------------------
# alive_pidfile FILE: the PID in FILE when that process runs, else nothing
alive_pidfile() {
	local p
	[ -r "$1" ] || return 0
	p=$(tr -dc 0-9 < "$1")
	[ -n "$p" ] && kill -0 "$p" 2>/dev/null && echo "$p"
	return 0
}
ensure_packages() {
	local need=""
	{ [ -x "$SMTP_SOURCE" ] && [ -x "$SMTP_SINK" ]; } || need="$need postfix"
	{ command -v dovecot >/dev/null && [ -x /usr/lib/dovecot/lmtp ]; } \
		|| need="$need dovecot-core dovecot-lmtpd"
	# the milter's row against OpenDKIM signing (tests/milter/bench-milter.sh)
	{ command -v opendkim >/dev/null && command -v opendkim-genkey >/dev/null; } \
		|| need="$need opendkim opendkim-tools"
	[ -z "$need" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		warn "missing packages:$need (run make bench as root to install them)"
		return 0
	fi
	local pf_pid=/var/spool/postfix/pid/master.pid dc_pid=/run/dovecot/master.pid dk_pid=/run/opendkim/opendkim.pid
	local pf_before dc_before dk_before pf_after dc_after dk_after
	pf_before=$(alive_pidfile $pf_pid)
	dc_before=$(alive_pidfile $dc_pid)
	dk_before=$(alive_pidfile $dk_pid)
	log "installing:$need"
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	# shellcheck disable=SC2086
	if ! DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q $need \
	     > "$S/apt.log" 2>&1; then
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -q >> "$S/apt.log" 2>&1
		# shellcheck disable=SC2086
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q $need \
			>> "$S/apt.log" 2>&1 || warn "apt-get install$need failed (see the log below)"
		tail -5 "$S/apt.log" >&2
	fi
	# The packages must not leave a system daemon running that was not before.
	pf_after=$(alive_pidfile $pf_pid)
	dc_after=$(alive_pidfile $dc_pid)
	dk_after=$(alive_pidfile $dk_pid)
	if [ -n "$pf_after" ] && [ -z "$pf_before" ]; then
		log "the postfix install started the system Postfix (master $pf_after): stopping it"
		kill -TERM "$pf_after" 2>/dev/null
	fi
	if [ -n "$dc_after" ] && [ -z "$dc_before" ]; then
		log "the dovecot install started the system Dovecot (master $dc_after): stopping it"
		kill -TERM "$dc_after" 2>/dev/null
	fi
	if [ -n "$dk_after" ] && [ -z "$dk_before" ]; then
		log "the opendkim install started the system OpenDKIM ($dk_after): stopping it"
		kill -TERM "$dk_after" 2>/dev/null
	fi
}

# --- helpers --------------------------------------------------------------
now() { echo "$EPOCHREALTIME"; }
# fcalc EXPR: float arithmetic with awk
# (the parentheses keep awk from reading ">" as an output redirection)
fcalc() { awk "BEGIN { printf \"%.6f\", ($1) }"; }
# median VALUES...: median of the numeric values ("n/a" ignored; none -> n/a)
median() {
	printf '%s\n' "$@" | grep -E '^[0-9.]+$' | sort -g | awk '
		{ v[NR] = $1 }
		END { if (NR == 0) { print "n/a"; exit }
		      if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# fmt VALUE DIGITS: rounds a number, leaves n/a and - alone
fmt() {
	case $1 in
	n/a|-|'') echo "${1:--}" ;;
	*) awk -v v="$1" -v d="$2" 'BEGIN { printf "%.*f", d, v }' ;;
	esac
}
isnum() { [[ $1 =~ ^[0-9]+([.][0-9]+)?$ ]]; }

port_in_use() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
# free_port: a free TCP port on loopback, from a random start
free_port() {
	local p=$(( 20000 + RANDOM % 20000 )) i
	for i in $(seq 200); do
		if ! port_in_use "$p" && [[ " ${used_ports:-} " != *" $p "* ]]; then
			used_ports="${used_ports:-} $p"
			echo "$p"
			return 0
		fi
		p=$(( p + 1 ))
	done
	return 1
}
# wait_port PORT PID: until PORT accepts connections (10 s) and PID lives
wait_port() {
	local i
	for i in $(seq 100); do
		kill -0 "$2" 2>/dev/null || return 1
		port_in_use "$1" && return 0
		sleep 0.1
	done
	return 1
}

# --- the daemons ----------------------------------------------------------
SINK_PID="" DOVECOT_PID="" LMTPD_PID=""
start_sink() {
	[ -x "$SMTP_SINK" ] || return 1
	SINK_PORT=$(free_port) || return 1
	local as_user=()
	[ "$(id -u)" = 0 ] && as_user=(-u mail)
	"$SMTP_SINK" "${as_user[@]}" -L -c "127.0.0.1:$SINK_PORT" 1000 > "$S/sink.out" 2>&1 &
	SINK_PID=$!
	track "$SINK_PID"
	wait_port "$SINK_PORT" "$SINK_PID" || { warn "smtp-sink did not start"; SINK_PID=""; return 1; }
}

start_dovecot() {
	command -v dovecot >/dev/null && [ -x /usr/lib/dovecot/lmtp ] || return 1
	# Dovecot delivers as `mail` (it refuses uid 0): needs root to set up
	[ "$(id -u)" = 0 ] || { warn "Dovecot needs root here"; return 1; }
	DOVECOT_PORT=$(free_port) || return 1
	mkdir -p "$S/dovecot" "$S/mail"
	chown mail:mail "$S/mail"
	cat > "$S/dovecot.conf" <<EOF
# private Dovecot for the bench (tests/bench/run.sh); fsync at its default
base_dir = $S/dovecot/run
state_dir = $S/dovecot/state
instance_name = lgbench$$
log_path = $S/dovecot/dovecot.log
protocols = lmtp
listen = 127.0.0.1
ssl = no
passdb {
  driver = static
  args = nopassword=y
}
# every recipient (smtp-source -N numbers them) goes to one Maildir
userdb {
  driver = static
  args = uid=mail gid=mail home=$S/mail/bench
}
mail_location = maildir:~/Maildir
first_valid_uid = 8
last_valid_uid = 8
lmtp_save_to_detail_mailbox = no
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $DOVECOT_PORT
  }
}
EOF
	dovecot -c "$S/dovecot.conf" -F > "$S/dovecot/stdout" 2>&1 &
	DOVECOT_PID=$!
	track "$DOVECOT_PID"
	if ! wait_port "$DOVECOT_PORT" "$DOVECOT_PID"; then
		warn "Dovecot did not start: $(tail -3 "$S/dovecot/dovecot.log" "$S/dovecot/stdout" 2>/dev/null | tr '\n' ' ')"
		stop_pid "$DOVECOT_PID"
		DOVECOT_PID=""
		return 1
	fi
	local mp
	mp=$(alive_pidfile "$S/dovecot/run/master.pid")
	if [ -n "$mp" ] && [ "$mp" != "$DOVECOT_PID" ]; then track "$mp"; fi
}
dovecot_empty() { rm -rf "$S/mail/bench/Maildir"; }
dovecot_count() { find "$S/mail/bench/Maildir/new" "$S/mail/bench/Maildir/cur" -type f 2>/dev/null | wc -l; }

have_leadgate() { [ -x "$LMTPD" ]; }
# start_lmtpd: leadgate-lmtpd on a fresh database in the scratch folder
start_lmtpd() {
	have_leadgate || return 1
	[ -n "$LMTPD_PID" ] && stop_pid "$LMTPD_PID"
	LMTPD_PID=""
	rm -rf "$S/lg"
	mkdir -p "$S/lg/rules"
	cat > "$S/lg/leadgate.conf" <<EOF
# leadgate for the bench (tests/bench/run.sh): defaults but the paths
[store]
database = $S/lg/leadgate.db
[rules]
directory = $S/lg/rules
EOF
	# leadgate-lmtpd refuses to stay root unless told
	[ "$(id -u)" != 0 ] || printf '[lmtpd]\nuser = root\n' >> "$S/lg/leadgate.conf"
	if [ -x "$LEADGATE" ]; then
		"$LEADGATE" -c "$S/lg/leadgate.conf" init > "$S/lg/init.log" 2>&1 \
			|| warn "leadgate init failed: $(tail -1 "$S/lg/init.log")"
		"$LEADGATE" -c "$S/lg/leadgate.conf" mailbox add user@example.test --mode always \
			>> "$S/lg/init.log" 2>&1 || warn "leadgate mailbox add failed: $(tail -1 "$S/lg/init.log")"
	fi
	LMTPD_PORT=$(free_port) || return 1
	"$LMTPD" -c "$S/lg/leadgate.conf" --listen "127.0.0.1:$LMTPD_PORT" > "$S/lg/lmtpd.log" 2>&1 &
	LMTPD_PID=$!
	track "$LMTPD_PID"
	if ! wait_port "$LMTPD_PORT" "$LMTPD_PID"; then
		warn "leadgate-lmtpd did not start: $(tail -3 "$S/lg/lmtpd.log" | tr '\n' ' ')"
		stop_pid "$LMTPD_PID"
		LMTPD_PID=""
		return 1
	fi
}
lmtpd_stop() { [ -n "$LMTPD_PID" ] && stop_pid "$LMTPD_PID"; LMTPD_PID=""; }
lmtpd_count() {
	command -v sqlite3 >/dev/null || { echo "?"; return; }
	sqlite3 -batch -noheader "$S/lg/leadgate.db" "SELECT count(*) FROM v_leads" 2>/dev/null || echo "?"
}

# target_port TARGET (after the target's start)
target_port() {
	case $1 in
	leadgate) echo "${LMTPD_PORT:-}" ;;
	dovecot) echo "${DOVECOT_PORT:-}" ;;
	sink) echo "${SINK_PORT:-}" ;;
	esac
}
# prepare TARGET: an empty store for the next run; FALSE if the target is absent
prepare() {
	case $1 in
	leadgate) start_lmtpd ;;
	dovecot) [ -n "$DOVECOT_PID" ] && dovecot_empty ;;
	sink) [ -n "$SINK_PID" ] ;;
	esac || return 1
	sync
}
# delivered TARGET: sets DELIVERED to how many messages the target stored
# (leadgate is stopped first, so that its WAL is checkpointed)
delivered() {
	case $1 in
	leadgate) lmtpd_stop; DELIVERED=$(lmtpd_count) ;;
	dovecot) DELIVERED=$(dovecot_count) ;;
	*) DELIVERED="-" ;;
	esac
}

# count SIZE CONC TARGET: messages per throughput run. Each run should last
# seconds, or the client's start (connections, LHLO) and end (the last
# sessions draining) weigh on the figure: at 20 sessions, runs of 3,000
# messages (0.7 s into leadgate) measured 12 % less than runs of 12,000 into
# leadgate and 10 % less into the sink (medians of 3). Dovecot takes seconds
# for the base count; leadgate and the sink get four times as many.
msg_count() {
	local n
	case $1:$2 in
	4k:1) n=600 ;; 4k:4) n=1500 ;; 4k:*) n=3000 ;;
	50k:1) n=400 ;; 50k:4) n=800 ;; *) n=1200 ;;
	esac
	[ "$3" != dovecot ] && n=$(( n * 4 ))
	echo $(( n * SCALE ))
}

# delays_of_run SIZE CONC: the means of the delays= fields (queue, batch,
# sync, wake; see leadgate-lmtpd(8)) in the log of the leadgate run that just
# ended, added to dl[SIZE,CONC,part]: where a delivery's time went.
declare -A dl
delays_of_run() {
	local means i part
	means=$(awk '{ for (i = NF; i > 0; i--) if ($i ~ /^delays=/) {
			sub(/^delays=/, "", $i); split($i, d, "/")
			q += d[1]; b += d[2]; s += d[3]; w += d[4]; n++; break } }
		END { if (n) printf "%.3f %.3f %.3f %.3f", q / n, b / n, s / n, w / n }' "$S/lg/lmtpd.log")
	[ -n "$means" ] || return 0
	i=0
	for part in queue batch sync wake; do
		i=$(( i + 1 ))
		dl[$1,$2,$part]="${dl[$1,$2,$part]:-} $(echo "$means" | cut -d' ' -f$i)"
	done
}

# throughput TARGET SIZE CONC: sets TP to the msgs/s of one smtp-source run, or n/a.
# (Functions that start or stop daemons or warn run in this shell, never in $(...).)
throughput() {
	local target=$1 size=$2 conc=$3 count port t0 t1 rc
	TP=n/a
	prepare "$target" || return 0
	port=$(target_port "$target")
	count=$(msg_count "$size" "$conc" "$target")
	t0=$(now)
	timeout 300 "$SMTP_SOURCE" -L -d -N -s "$conc" -m "$count" -f from@example.test \
		-t user@example.test -M bench.test -F "$S/msg-$size.eml" "127.0.0.1:$port" \
		> "$S/source.out" 2>&1
	rc=$?
	t1=$(now)
	delivered "$target"
	[ "$target" = leadgate ] && delays_of_run "$size" "$conc"
	if [ "$rc" != 0 ]; then
		warn "smtp-source into $target ($size, $conc sessions) failed ($rc): $(tail -2 "$S/source.out" | tr '\n' ' ')"
		return 0
	fi
	if [ "$DELIVERED" != "-" ] && [ "$DELIVERED" != "$count" ]; then
		warn "$target stored $DELIVERED of $count messages ($size, $conc sessions)"
	fi
	TP=$(fcalc "$count / ($t1 - $t0)")
}

# latency TARGET CONC: sets LAT to "p50 p99 msgs_per_s" of one lmtp-latency run
latency() {
	local target=$1 conc=$2 port count out rc
	LAT="n/a n/a n/a"
	[ -x "$BIN/lmtp-latency" ] || return 0
	prepare "$target" || return 0
	port=$(target_port "$target")
	count=$(( (conc == 1 ? 500 : 2000) * SCALE ))
	out=$(timeout 300 "$BIN/lmtp-latency" -p "$port" -c "$conc" -n "$count" \
		-F "$S/msg-4k.eml" -f from@example.test -t user@example.test -T 60 2> "$S/latency.err")
	rc=$?
	delivered "$target"
	if [ "$rc" != 0 ]; then
		warn "lmtp-latency into $target ($conc sessions) failed: $out $(head -2 "$S/latency.err" | tr '\n' ' ')"
		return 0
	fi
	if [ "$DELIVERED" != "-" ] && [ "$DELIVERED" != "$count" ]; then
		warn "$target stored $DELIVERED of $count messages (latency, $conc sessions)"
	fi
	LAT=$(awk '{ for (i = 1; i < NF; i++) v[$i] = $(i + 1); print v["p50_ms"], v["p99_ms"], v["msgs_per_s"] }' <<< "$out")
}

# rotate N WORDS...: WORDS rotated left N times (alternates the order per round)
rotate() {
	local n=$1; shift
	local a=("$@") i
	for i in $(seq 0 $(( ${#a[@]} - 1 ))); do
		printf '%s ' "${a[$(( (i + n) % ${#a[@]} ))]}"
	done
}

# --- the table --------------------------------------------------------------
rows=()
# row METRIC LEADGATE REFERENCE TARGET_TEXT KIND [LIMIT]
#   KIND: ge_ratio (leadgate/reference >= LIMIT), lt_both (leadgate < LIMIT and
#   < reference), le_plus (leadgate <= reference + LIMIT), lt (leadgate < LIMIT),
#   none (shown only).
row() {
	local metric=$1 lg=$2 ref=$3 target=$4 kind=$5 limit=${6:-} ratio="-" met="-"
	if isnum "$lg" && isnum "$ref" && [ "$(fcalc "$ref > 0")" = "1.000000" ]; then
		ratio=$(fmt "$(fcalc "$lg / $ref")" 2)
	elif [ "$lg" = n/a ] && [ "$ref" != "-" ]; then
		ratio=n/a
	fi
	if [ "$kind" != none ]; then
		met=no
		if isnum "$lg"; then
			case $kind in
			ge_ratio) isnum "$ref" && [ "$(fcalc "$lg >= $limit * $ref")" = 1.000000 ] && met=yes ;;
			lt_both) [ "$(fcalc "$lg < $limit")" = 1.000000 ] && isnum "$ref" \
			           && [ "$(fcalc "$lg < $ref")" = 1.000000 ] && met=yes ;;
			le_plus) isnum "$ref" && [ "$(fcalc "$lg <= $ref + $limit")" = 1.000000 ] && met=yes ;;
			lt) [ "$(fcalc "$lg < $limit")" = 1.000000 ] && met=yes ;;
			esac
		fi
	fi
	rows+=("$metric,$lg,$ref,$ratio,$target,$met")
}

print_machine() {
	local dev fstype rota model
	read -r dev fstype < <(df -PT "$S" | awk 'NR == 2 { print $1, $2 }')
	rota=$(cat "/sys/block/$(basename "$dev")/queue/rotational" 2>/dev/null || echo "?")
	model=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
	echo "machine: $(nproc) cores (${model:-unknown CPU}), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, kernel $(uname -r)"
	echo "disk:    scratch $S on $dev ($fstype, rotational=$rota)"
	echo "load:    CPU ${busy_start}% busy before the bench (others' work), 1-minute load average $(loadavg) now"
}
loadavg() { cut -d' ' -f1 /proc/loadavg; }
# cpu_busy: how busy (%) all cores were over the next second
cpu_busy() {
	local a b
	a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
	sleep 1
	b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
	awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); busy = y[1] - x[1]; idle = y[2] - x[2];
		printf "%.0f", (busy + idle > 0 ? 100 * busy / (busy + idle) : 0) }'
}

print_table() {
	printf '\n%-28s %12s %12s %8s %-24s %s\n' metric leadgate reference ratio target met
	printf '%s\n' "-----------------------------------------------------------------------------------------------"
	local r
	for r in "${rows[@]}"; do
		IFS=, read -r m l f ra t me <<< "$r"
		printf '%-28s %12s %12s %8s %-24s %s\n' "$m" "$l" "$f" "$ra" "$t" "$me"
	done
}

# --- main -------------------------------------------------------------------
mkdir -p "$BENCH_TMPDIR"
S=$(mktemp -d "$BENCH_TMPDIR/lgbench.XXXXXX") || { log "cannot make a scratch folder"; exit 1; }
chmod 755 "$S"
mkdir -p "$(dirname "$CSV")"
start_time=$(now)

busy_start=$(cpu_busy)
if [ "$busy_start" -gt 25 ]; then
	warn "the machine was ${busy_start}% busy before the bench: absolute figures will be low; the ratios of one run still compare"
fi
ensure_packages
print_machine
have_leadgate || warn "no $LMTPD (build it first): leadgate figures are n/a"
[ -x "$BIN/lmtp-latency" ] || warn "no $BIN/lmtp-latency: latency figures are n/a"

log "writing the message sets"
bash "$here/gen-messages.sh" "$S" || { log "gen-messages.sh failed"; exit 1; }
chmod 644 "$S"/msg-*.eml
log "messages: 4k=$(stat -c %s "$S/msg-4k.eml") B, 50k=$(stat -c %s "$S/msg-50k.eml") B, 50m=$(stat -c %s "$S/msg-50m.eml") B"

start_sink || warn "no null sink: its figures are n/a"
start_dovecot || warn "no Dovecot: its figures are n/a"

# 1 and 2: throughput, targets alternating, medians over the rounds
declare -A tp
targets=(leadgate dovecot sink)
for r in $(seq "$ROUNDS"); do
	for size in $SIZES; do
		for conc in $CONCS; do
			for t in $(rotate $(( r - 1 )) "${targets[@]}"); do
				throughput "$t" "$size" "$conc"
				tp[$t,$size,$conc]="${tp[$t,$size,$conc]:-} $TP"
				log "round $r/$ROUNDS: $t $size x$conc: $(fmt "$TP" 0) msgs/s"
			done
		done
	done
done
lmtpd_stop

# 3: latency, pipelined, distinct messages
declare -A lat
for r in $(seq "$ROUNDS"); do
	for conc in 1 20; do
		for t in $(rotate $(( r - 1 )) leadgate dovecot); do
			latency "$t" "$conc"
			read -r p50 p99 rate <<< "$LAT"
			lat[$t,$conc,p50]="${lat[$t,$conc,p50]:-} $p50"
			lat[$t,$conc,p99]="${lat[$t,$conc,p99]:-} $p99"
			lat[$t,$conc,rate]="${lat[$t,$conc,rate]:-} $rate"
			log "round $r/$ROUNDS: latency $t x$conc: p50 $p50 ms, p99 $p99 ms, $(fmt "$rate" 0) msgs/s"
		done
	done
done
lmtpd_stop

# 2: the parse ceiling (one process per core; and one process with a thread
# per core) and the SQLite durable-commit ceiling in the scratch folder, once
# per round like the rest, so that a busy moment of the machine shows in one
# round only.
ncores=$(nproc)
parse_procs=() parse_thrs=() parse_uss=() sq1s=() sq20s=()
for r in $(seq "$ROUNDS"); do
	if [ -x "$BIN/bench-parse" ]; then
		ppids=()
		for i in $(seq "$ncores"); do
			timeout 60 "$BIN/bench-parse" "$S/msg-4k.eml" 1.5 1 > "$S/parse.$i" 2>&1 &
			ppids+=($!)
		done
		for p in "${ppids[@]}"; do wait "$p"; done   # never a bare wait: the daemons are children too
		parse_procs+=("$(awk '$1 == "parse_msgs_per_s" { s += $2; n++ } END { print n ? s : "n/a" }' "$S"/parse.*)")
		# shellcheck disable=SC2046 # one word per figure
		parse_uss+=("$(median $(awk '$1 == "parse_msgs_per_s" { print $6 }' "$S"/parse.*))")
		parse_thrs+=("$(timeout 60 "$BIN/bench-parse" "$S/msg-4k.eml" 1.5 "$ncores" | awk '{ print $2 }')")
		log "round $r/$ROUNDS: parse 4k: ${parse_uss[-1]} us/parse, ${parse_procs[-1]}/s on $ncores processes, ${parse_thrs[-1]}/s on $ncores threads"
	fi
	if [ -x "$BIN/bench-sqlite" ]; then
		sync
		out=$(timeout 120 "$BIN/bench-sqlite" "$S" 1.5)
		sq1s+=("$(awk '$1 == "sqlite_commits_per_s_1row" { print $2 }' <<< "$out")")
		sq20s+=("$(awk '$1 == "sqlite_rows_per_s_20rows" { print $2 }' <<< "$out")")
		log "round $r/$ROUNDS: sqlite: ${sq1s[-1]} commits/s at 1 row, ${sq20s[-1]} rows/s at 20 rows per commit"
	fi
done
parse_proc=$(median "${parse_procs[@]}") parse_thr=$(median "${parse_thrs[@]}")
parse_us=$(median "${parse_uss[@]}") sq1=$(median "${sq1s[@]}") sq20=$(median "${sq20s[@]}")

# 4: peak RSS receiving a 50 MB message
rss_idle="n/a" rss_peak="n/a" big_s="n/a"
# tree_rss PID: summed VmRSS (kB) of PID and its descendants
tree_rss() {
	local p=$1 total=0 kids c
	total=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)
	kids=$(cat /proc/"$p"/task/*/children 2>/dev/null)
	for c in $kids; do total=$(( total + $(tree_rss "$c") )); done
	echo "${total:-0}"
}
if have_leadgate && [ -x "$BIN/lmtp-latency" ] && start_lmtpd; then
	timeout 60 "$BIN/lmtp-latency" -p "$LMTPD_PORT" -n 1 -F "$S/msg-4k.eml" > /dev/null 2>&1 \
		|| warn "warm-up message into leadgate failed"
	sleep 0.5
	idle_kb=$(tree_rss "$LMTPD_PID")
	t0=$(now)
	timeout 300 "$BIN/lmtp-latency" -p "$LMTPD_PORT" -n 1 -T 120 -F "$S/msg-50m.eml" \
		> "$S/big.out" 2> "$S/big.err" &
	cpid=$!
	max_kb=$idle_kb
	for i in $(seq 6000); do   # 50 ms samples, at most 300 s
		kill -0 "$cpid" 2>/dev/null || break
		kb=$(tree_rss "$LMTPD_PID")
		[ "$kb" -gt "$max_kb" ] && max_kb=$kb
		sleep 0.05
	done
	wait "$cpid"
	brc=$?
	t1=$(now)
	hwm_kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$LMTPD_PID/status" 2>/dev/null || echo 0)
	[ "${hwm_kb:-0}" -gt "$max_kb" ] && max_kb=$hwm_kb
	if [ "$brc" = 0 ]; then
		rss_idle=$(fmt "$(fcalc "$idle_kb / 1024")" 1)
		rss_peak=$(fmt "$(fcalc "$max_kb / 1024")" 1)
		big_s=$(fmt "$(fcalc "$t1 - $t0")" 2)
	else
		warn "the 50 MB message into leadgate failed: $(cat "$S/big.out" "$S/big.err" | head -2 | tr '\n' ' ')"
	fi
	log "50 MB message: idle ${rss_idle} MB, peak ${rss_peak} MB, ${big_s} s"
	lmtpd_stop
fi

# 5: rules
rules_us="n/a"
if [ -x "$BIN/bench-rules" ]; then
	rules_us=$(timeout 300 "$BIN/bench-rules" 2> "$S/rules.err" | awk '$1 == "rules_1000_median_us" { print $2 }')
	[ -n "$rules_us" ] || { warn "bench-rules printed no figure: $(head -2 "$S/rules.err" | tr '\n' ' ')"; rules_us="n/a"; }
else
	warn "no $BIN/bench-rules: the rules figure is n/a"
fi
# the core alone: CPU per message of parse + chain + commit, no network
# (tests/bench/bench-core.c): how much of leadgate-lmtpd's cost is its own
core_us="n/a"
if [ -x "$BIN/bench-core" ]; then
	core_us=$(timeout 120 "$BIN/bench-core" "$S/msg-4k.eml" "$S/core.db" 3000 5 2> "$S/core.err" | awk '$1 == "core_us_per_msg" { print $2 }')
	[ -n "$core_us" ] || { warn "bench-core printed no figure: $(head -2 "$S/core.err" | tr '\n' ' ')"; core_us="n/a"; }
	rm -f "$S"/core.db*
fi
# HTML to text for HTML-only mail (tests/bench/bench-html.c: a generated
# ~20 KB newsletter through src/html2text.c, CPU per conversion)
html_us="n/a"
if [ -x "$BIN/bench-html" ]; then
	html_us=$(timeout 60 "$BIN/bench-html" "" 1.5 2> "$S/html.err" | awk '$1 == "html2text_us_per_msg" { print $2 }')
	[ -n "$html_us" ] || { warn "bench-html printed no figure: $(head -2 "$S/html.err" | tr '\n' ' ')"; html_us="n/a"; }
fi
# 6: milter overhead: no row until leadgate-milter exists (issue 6).

# --- rows -------------------------------------------------------------------
m() { median ${tp[$1,$2,$3]:-}; }
for size in $SIZES; do
	for conc in $CONCS; do
		tgt="-" kind=none limit=""
		[ "$size:$conc" = 4k:1 ] && { tgt=">=3x Dovecot"; kind=ge_ratio; limit=3; }
		[ "$size:$conc" = 4k:20 ] && { tgt=">=8x Dovecot"; kind=ge_ratio; limit=8; }
		row "tp_${size}_c${conc}_msgs_s" "$(fmt "$(m leadgate "$size" "$conc")" 0)" \
			"$(fmt "$(m dovecot "$size" "$conc")" 0)" "$tgt" "$kind" "$limit"
	done
done
for size in $SIZES; do
	for conc in $CONCS; do
		tgt="-" kind=none limit=""
		[ "$size:$conc" = 4k:20 ] && { tgt=">=0.5x null sink"; kind=ge_ratio; limit=0.5; }
		row "vs_sink_${size}_c${conc}_msgs_s" "$(fmt "$(m leadgate "$size" "$conc")" 0)" \
			"$(fmt "$(m sink "$size" "$conc")" 0)" "$tgt" "$kind" "$limit"
	done
done
lg_c20=$(fmt "$(m leadgate 4k 20)" 0)
row vs_parse_4k_procs_msgs_s "$lg_c20" "$(fmt "$parse_proc" 0)" "-" none
row vs_parse_4k_threads_msgs_s "$lg_c20" "$(fmt "$parse_thr" 0)" "-" none
row parse_4k_us_1core "-" "$(fmt "$parse_us" 1)" "-" none
row vs_sqlite_1row_commits_s "$lg_c20" "$(fmt "$sq1" 0)" "-" none
row vs_sqlite_20rows_rows_s "$lg_c20" "$(fmt "$sq20" 0)" "-" none
for conc in 1 20; do
	for q in p50 p99; do
		tgt="-" kind=none limit=""
		[ "$conc:$q" = 20:p99 ] && { tgt="<50ms and <Dovecot"; kind=lt_both; limit=50; }
		row "lat_${q}_c${conc}_ms" "$(fmt "$(median ${lat[leadgate,$conc,$q]:-})" 2)" \
			"$(fmt "$(median ${lat[dovecot,$conc,$q]:-})" 2)" "$tgt" "$kind" "$limit"
	done
	row "lat_tp_c${conc}_msgs_s" "$(fmt "$(median ${lat[leadgate,$conc,rate]:-})" 0)" \
		"$(fmt "$(median ${lat[dovecot,$conc,rate]:-})" 0)" "-" none
done
# where a delivery's time went at 20 sessions (the log's delays=, means of
# each run, medians over the rounds): no target, for finding the busy part
for part in queue batch sync wake; do
	row "delay_${part}_4k_c20_ms" "$(fmt "$(median ${dl[4k,20,$part]:-})" 2)" "-" "-" none
done
row rss_50mb_peak_vs_idle_mb "$rss_peak" "$rss_idle" "<=idle+32MB" le_plus 32
row rss_50mb_receive_s "$big_s" "-" "-" none
row rules_1000_median_us "$rules_us" "-" "<1000us" lt 1000
row core_cpu_us_per_msg_4k "$core_us" "-" "-" none
row html2text_us_per_msg "$html_us" "-" "-" none

# leadgate-milter on Postfix's submission path (tests/milter/bench-milter.sh:
# a private Postfix relaying to smtp-sink with no milter, with leadgate-milter
# and with OpenDKIM signing, medians of its own rounds). It prints its rows in
# this table's CSV form; they are taken as they are.
if [ "$(id -u)" = 0 ] && [ -x "$top_builddir/milter/leadgate-milter" ]; then
	echo "bench: leadgate-milter on Postfix's submission path" >&2
	if milter_rows=$(top_srcdir=$top_srcdir top_builddir=$top_builddir BENCH_ROUNDS=$ROUNDS timeout 600 bash "$top_srcdir/tests/milter/bench-milter.sh" \
	                 2> "$S/milter-bench.err" | grep '^milter_'); then
		while IFS= read -r r; do rows+=("$r"); done <<< "$milter_rows"
	else
		warn "the milter bench printed no rows: $(tail -2 "$S/milter-bench.err" | tr '\n' ' ')"
	fi
else
	warn "the milter rows need root and leadgate-milter built"
fi

# SPF checking (tests/spf/bench-spf.sh: leadgate-lmtpd at 20 sessions with
# [auth] mode = check against dnsmasq on loopback, in private network and
# mount namespaces, beside the same runs with mode = off). Its rows as they are.
if [ "$(id -u)" = 0 ] && [ -x "$top_builddir/src/leadgate-spf-helper" ] && [ -x "$BIN/lmtp-latency" ]; then
	echo "bench: leadgate-lmtpd with SPF checks against a loopback DNS server" >&2
	if spf_rows=$(top_srcdir=$top_srcdir top_builddir=$top_builddir BENCH_ROUNDS=$ROUNDS timeout 900 bash "$top_srcdir/tests/spf/bench-spf.sh" \
	              2> "$S/spf-bench.err" | grep '^tp_4k_c20_spf_'); then
		while IFS= read -r r; do rows+=("$r"); done <<< "$spf_rows"
	else
		warn "the SPF bench printed no rows: $(tail -2 "$S/spf-bench.err" | tr '\n' ' ')"
	fi
else
	warn "the SPF rows need root, leadgate-spf-helper and lmtp-latency built"
fi

# notifications (tests/outbox/bench-outbox.sh: LMTP p99 with a webhook per
# delivery, the endpoint up, hanging, and nobody subscribed; medians of its
# own rounds). Its CSV rows are taken as they are.
echo "bench: the outbox worker with the webhook endpoint up and hanging" >&2
if outbox_rows=$(top_srcdir=$top_srcdir top_builddir=$top_builddir BENCH_ROUNDS=$ROUNDS timeout 900 bash "$top_srcdir/tests/outbox/bench-outbox.sh" \
                 2> "$S/outbox-bench.err" | grep '^outbox_'); then
	while IFS= read -r r; do rows+=("$r"); done <<< "$outbox_rows"
else
	warn "the outbox bench printed no rows: $(tail -2 "$S/outbox-bench.err" | tr '\n' ' ')"
fi

# the mailer (tests/mailer/bench-mailer.sh: campaign messages per second into
# smtp-sink with per_minute unlimited, target >= 100; LMTP throughput at 20
# sessions while leadgate-lmtpd's worker sends a large blast, against idle).
echo "bench: the mailer's send rate, and LMTP with the worker busy with a blast" >&2
if mailer_rows=$(top_srcdir=$top_srcdir top_builddir=$top_builddir BENCH_ROUNDS=$ROUNDS timeout 900 bash "$top_srcdir/tests/mailer/bench-mailer.sh" \
                 2> "$S/mailer-bench.err" | grep -E '^(mailer_|tp_4k_c20_mailer_)'); then
	while IFS= read -r r; do rows+=("$r"); done <<< "$mailer_rows"
else
	warn "the mailer bench printed no rows: $(tail -2 "$S/mailer-bench.err" | tr '\n' ' ')"
fi

# --- output -----------------------------------------------------------------
{
	echo "metric,leadgate,reference,ratio,target,met"
	printf '%s\n' "${rows[@]}"
} > "$CSV"
echo
echo "leadgate bench ($ROUNDS rounds, medians; reference = Dovecot LMTP unless the metric says vs_sink/vs_parse/vs_sqlite/idle)"
print_machine
print_table
echo
echo "written: $CSV ($(fmt "$(fcalc "$(now) - $start_time")" 0) s)"
if [ "${#warnings[@]}" -gt 0 ]; then
	echo "warnings:"
	printf '  %s\n' "${warnings[@]}"
fi
exit 0
