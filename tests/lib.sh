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
sqlq() { sqlite3 -batch -noheader "$T/lg.db" "$@"; }
