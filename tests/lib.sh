# tests/lib.sh - shared set-up for shell tests: a scratch folder that is
# removed on exit, and the built programs. Source after tests/tap.sh.
: "${top_srcdir:?run through make check}" "${top_builddir:?run through make check}"
LEADGATE="$top_builddir/src/leadgate"
LMTPD="$top_builddir/lmtpd/leadgate-lmtpd"
MAILDIR="$top_srcdir/tests/mail"
T=$(mktemp -d "${TMPDIR:-/tmp}/lgtest.XXXXXX")
_lg_pids=""
lg_cleanup() {
  for p in $_lg_pids; do kill "$p" 2>/dev/null; done
  for p in $_lg_pids; do wait "$p" 2>/dev/null; done
  rm -rf "$T"
}
trap lg_cleanup EXIT
# lg_track PID: stop this process (and only it) when the test ends
lg_track() { _lg_pids="$_lg_pids $1"; }
# lg ARGS...: the CLI on the test's own database and (empty) rules folder
mkdir -p "$T/rules"
printf '[store]\ndatabase = %s\n[rules]\ndirectory = %s\n' "$T/lg.db" "$T/rules" > "$T/leadgate.conf"
lg() { "$LEADGATE" -c "$T/leadgate.conf" "$@"; }
# sqlq SQL: one query on the test database (read-only use)
sqlq() { sqlite3 -batch -noheader -cmd ".timeout 5000" "$T/lg.db" "$@"; }
# wait_for SECONDS COMMAND...: until COMMAND succeeds, at most SECONDS
# (tests/postfix/postfix-lib.sh has its own, without SECONDS)
wait_for() {
  local n=$(( $1 * 10 )) i; shift
  for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.1; done
  return 1
}
# sql_is QUERY VALUE: the query's answer is VALUE (for wait_for)
sql_is() { [ "$(sqlq "$1")" = "$2" ]; }

# smtp_sink_start DIR [SMTP-SINK OPTION...]: Postfix's smtp-sink on a free
# loopback port ($SINK_PORT, pid $SINK_PID), each message dumped to a file
# of its own in DIR (headers X-Mail-Args and X-Rcpt-Args give the envelope;
# DIR "-": nothing kept, for benches); skips the whole test when smtp-sink
# is not installed.
smtp_sink_start() {
  local dir="$1" i u as_user=() dump=()
  shift
  SMTP_SINK=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)
  [ -x "$SMTP_SINK" ] || skip_all "smtp-sink (Postfix) is not installed"
  if [ "$dir" = - ]; then
    dir="$T"
  else
    mkdir -p "$dir"
    dump=(-d "$dir/%M.")
  fi
  chmod 755 "$T"
  if [ "$(id -u)" = 0 ]; then
    u=nobody
    id postfix >/dev/null 2>&1 && u=postfix
    [ "$dir" = "$T" ] || chown "$u" "$dir"
    as_user=(-u "$u")
  fi
  SINK_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$SMTP_SINK" "${as_user[@]}" "$@" "${dump[@]}" "127.0.0.1:$SINK_PORT" 100 2>>"$T/sink.err" &
  SINK_PID=$!
  lg_track "$SINK_PID"
  for ((i = 0; i < 100; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$SINK_PORT") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
