# tests/milter/milter-lib.sh - running the real leadgate-milter for a test:
# its config, start/reload/stop by PID, messages sent through miltertest(8)
# (tests/milter/send.lua asserts every reply is continue or accept), and
# waiting for the writer to have recorded what was sent.
MILTER="$top_builddir/milter/leadgate-milter"
command -v miltertest >/dev/null 2>&1 || skip_all "miltertest is not installed (apt-get install miltertest)"
SOCK="$T/m.sock"
SPOOL="$T/spool"
MLOG="$T/milter.log"
: > "$MLOG"
mkdir -p "$T/msg"
# mconf [LINES...]: the milter's config: the base, then each argument as a line
mconf() {
  { printf '[store]\ndatabase = %s\nbusy_timeout_ms = 200\n' "$T/lg.db"
    printf '[rules]\ndirectory = %s\n' "$T/rules"
    printf '[milter]\nspool_dir = %s\n' "$SPOOL"
    # the milter refuses to stay root unless told (leadgate-milter(8))
    [ "$(id -u)" != 0 ] || printf 'user = root\n'
    for l in "$@"; do printf '%s\n' "$l"; done
  } > "$T/m.conf"
}
# start_milter: start it on $SOCK and wait (bounded) until it answers
start_milter() {
  "$MILTER" -c "$T/m.conf" --listen "unix:$SOCK" 2>>"$MLOG" &
  MPID=$!
  lg_track "$MPID"
  for _ in $(seq 100); do
    [ -S "$SOCK" ] && grep -q "listening on" "$MLOG" && return 0
    kill -0 "$MPID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
# stop_milter: SIGTERM, wait for the exit (libmilter notices within seconds)
stop_milter() {
  kill -TERM "$MPID" 2>/dev/null
  wait "$MPID"
}
# reload LINES...: a new config, then SIGHUP, then wait for the log line
reload() {
  local n
  n=$(grep -c "reloaded" "$MLOG")
  mconf "$@"
  kill -HUP "$MPID"
  for _ in $(seq 100); do
    [ "$(grep -c "reloaded" "$MLOG")" -gt "$n" ] && return 0
    sleep 0.05
  done
  return 1
}
# evts: how many events wait in the spool folder (find, not a glob: the
# writer removes files while they are counted)
evts() { find "$SPOOL" -maxdepth 1 -name '*.evt' 2>/dev/null | wc -l; }
# settled: every spooled event recorded (no .evt left), bounded
settled() {
  for _ in $(seq 200); do
    [ "$(evts)" -eq 0 ] && return 0
    sleep 0.05
  done
  return 1
}
# msg NAME HEADER-LINES... -- BODY-LINES...: writes $T/msg/NAME
msg() {
  local name=$1; shift
  { while [ $# -gt 0 ] && [ "$1" != "--" ]; do printf '%s\r\n' "$1"; shift; done
    printf '\r\n'
    [ "$1" = "--" ] && shift
    for l in "$@"; do printf '%s\r\n' "$l"; done
  } > "$T/msg/$name"
}
# send NAME FROM "RCPTS" [AUTH] [DAEMON]: one transaction; prints send.lua's
# last line; fails when a reply is not continue/accept. Then waits until
# the writer logged a decision about its Message-ID (bounded: 3 s, since
# mail the milter lets go uncollected leaves no line) and the spool is empty.
send() {
  local id n rc
  id=$(sed -n 's/^Message-ID: *<\(.*\)>.*$/\1/Ip' "$T/msg/$1" | head -n 1)
  n=$(grep -cF "msgid=<$id>" "$MLOG")
  MT_SOCK="unix:$SOCK" MT_MSG="$T/msg/$1" MT_FROM="$2" MT_RCPTS="$3" MT_AUTH="${4:-}" MT_DAEMON="${5:-}" \
    miltertest -s "$top_srcdir/tests/milter/send.lua" 2>>"$T/miltertest.err" | tail -n 1
  rc=${PIPESTATUS[0]}
  for _ in $(seq 60); do
    [ "$(grep -cF "msgid=<$id>" "$MLOG")" -gt "$n" ] && break
    sleep 0.05
  done
  settled
  return "$rc"
}
# out NAME [AUTH]: outbound as rep@example.com (SASL login)
sent_ok() {
  local got
  got=$(send "$@")
  like "$got" '^replies: [0-9]+ continue/accept$' "$1: every reply is continue/accept"
}
# log MSGID: the sync log of one message, "outcome:reason:counterpart" per row
synclog() {
  sqlq "select outcome || ':' || coalesce(reason, '') || ':' || coalesce(counterpart, '') from v_sync_log
        where message_id = '$1' order by counterpart, outcome" | tr '\n' ' ' | sed 's/ $//'
}
