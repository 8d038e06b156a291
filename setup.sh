#!/bin/bash
# setup.sh - the two commands of the README, for a fresh Debian 12 machine
# (run as root; apt-get installs what is missing).
#
#   bash setup.sh run [--listen ADDR]
#                        install what is missing, build, `make install` the
#                        programs (/usr/local/bin/leadgate,
#                        /usr/local/sbin/leadgate-lmtpd, man pages, example
#                        rules and a sample config in /usr/local/etc/leadgate),
#                        create the embedded default (./leadgate.db, example
#                        rules in ./rules) and run leadgate-lmtpd in the
#                        foreground on ADDR (default 127.0.0.1:2424, or
#                        $LEADGATE_LISTEN). Needs root. `make -C build
#                        uninstall` removes what it installed.
#   bash setup.sh test   install, build, and pass every test: make check in
#                        a -Werror build and in an ASan+UBSan build, then
#                        make distcheck; names the skipped tests and ends
#                        with "N passed, N failed, N skipped"
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

DEPS="build-essential autoconf automake pkg-config libglib2.0-dev libglib2.0-dev-bin
libgmime-3.0-dev libsqlite3-dev sqlite3 libpcre2-dev libcurl4-openssl-dev libssl-dev libmilter-dev
libspf2-dev libxml2-dev swaks postfix miltertest python3 openssl util-linux procps"

install_deps() {
  local missing=()
  for p in $DEPS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "setup: installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # Postfix is needed for its test tools (smtp-source, smtp-sink) only:
  # "No configuration" leaves the system's mail service alone.
  echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

build() {  # build DIR CONFIGURE-FLAGS...
  local dir="$1"; shift
  [ -x configure ] || autoreconf -fi
  mkdir -p "$dir"
  (cd "$dir" && { [ -f Makefile ] || "$here/configure" -q "$@"; } && make -j"$(nproc)" >/dev/null)
}

# port_state ADDR: 0 when something listens on host:port already, 1 when it
# is free, 2 (with the reason on stderr) when it cannot be bound at all.
# unix: sockets are left to the daemon.
port_state() {
  case "$1" in unix:*) return 1 ;; esac
  python3 - "$1" <<'PY'
import errno, socket, sys
host, _, port = sys.argv[1].rpartition(":")
host = host.strip("[]")
try:
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, int(port)))
except OSError as e:
    if e.errno == errno.EADDRINUSE:
        sys.exit(0)
    print(e.strerror or e, file=sys.stderr)
    sys.exit(2)
except ValueError as e:
    print(e, file=sys.stderr)
    sys.exit(2)
sys.exit(1)
PY
}

case "${1:-}" in
run)
  shift
  listen="${LEADGATE_LISTEN:-127.0.0.1:2424}"
  while [ $# -gt 0 ]; do
    case "$1" in
      --listen=*) listen="${1#--listen=}"; shift ;;
      --listen) [ $# -ge 2 ] || { echo "setup: --listen needs an address (127.0.0.1:2525, [::1]:2525 or unix:/path)" >&2; exit 64; }
                listen="$2"; shift 2 ;;
      *) echo "setup: unknown option $1 (usage: bash setup.sh run [--listen ADDR])" >&2; exit 64 ;;
    esac
  done
  case "$listen" in
    unix:/*|*:[0-9]*) ;;
    *) echo "setup: --listen $listen: give host:port ([::1]:port for IPv6) or unix:/path" >&2; exit 64 ;;
  esac
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: run needs root: it installs the missing Debian packages (apt-get) and the programs" >&2
    echo "setup: (make install into /usr/local). Run it as root, e.g.: sudo bash setup.sh run" >&2
    exit 77   # EX_NOPERM
  fi
  install_deps
  rc=0; why=$(port_state "$listen" 2>&1) || rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "setup: $listen is in use by another program (an earlier leadgate-lmtpd?)." >&2
    echo "setup: stop it, or choose another address: bash setup.sh run --listen 127.0.0.1:2525 (or LEADGATE_LISTEN=127.0.0.1:2525)" >&2
    exit 69   # EX_UNAVAILABLE
  elif [ "$rc" -eq 2 ]; then
    echo "setup: cannot listen on $listen: $why (choose another with --listen ADDR)" >&2
    exit 64
  fi
  build build --enable-werror
  (cd build && make install >/dev/null)
  prefix=$(sed -n 's/^prefix = //p' build/Makefile)
  sysconfdir=$(sed -n 's/^sysconfdir = //p' build/Makefile)
  sysconfdir=${sysconfdir//'${prefix}'/$prefix}
  mkdir -p rules
  "$prefix/bin/leadgate" init
  "$prefix/bin/leadgate" rules check
  echo "setup: installed $prefix/bin/leadgate, $prefix/sbin/leadgate-lmtpd and their man pages;"
  echo "setup: example rules and a sample leadgate.conf in $sysconfdir/leadgate (make -C build uninstall removes them)"
  echo "setup: leadgate-lmtpd on $listen, database ./leadgate.db, rules ./rules (Ctrl-C stops)"
  exec "$prefix/sbin/leadgate-lmtpd" --listen "$listen"
  ;;
test)
  install_deps
  [ -x configure ] || autoreconf -fi
  logs=()
  status=0
  build build --enable-werror
  (cd build && make -j2 check) > build-check.log 2>&1 || status=1
  logs+=(build-check.log)
  build build-san --enable-werror --enable-sanitizers
  (cd build-san && make -j2 check) > build-san-check.log 2>&1 || status=1
  logs+=(build-san-check.log)
  (cd build && make distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror) > build-distcheck.log 2>&1 || status=1
  logs+=(build-distcheck.log)
  passed=0; failed=0; skipped=0; skips=()
  for l in "${logs[@]}"; do
    echo "== $l"
    grep -E '^(FAIL|ERROR|XPASS):' "$l" || true
    grep -E '^# (TOTAL|PASS|SKIP|FAIL|ERROR):' "$l" || tail -20 "$l"
    p=$(awk '/^# PASS:/ {s+=$3} END {print s+0}' "$l")
    f=$(awk '/^# (FAIL|ERROR|XPASS):/ {s+=$3} END {print s+0}' "$l")
    k=$(awk '/^# SKIP:/ {s+=$3} END {print s+0}' "$l")
    passed=$((passed+p)); failed=$((failed+f)); skipped=$((skipped+k))
    # automake's "SKIP: tests/x.sh 3 # SKIP why" (a whole skipped script has no number)
    while IFS= read -r line; do skips+=("${l%-check.log}: ${line#SKIP: }"); done \
      < <(grep -E '^SKIP: ' "$l" || true)
  done
  [ "$status" -eq 0 ] || [ "$failed" -gt 0 ] || failed=1   # a build that broke is a failure too
  if [ "${#skips[@]}" -gt 0 ]; then
    echo "skipped:"
    printf '  %s\n' "${skips[@]}"
  fi
  echo "$passed passed, $failed failed, $skipped skipped"
  exit "$status"
  ;;
*)
  echo "usage: bash setup.sh run [--listen ADDR] | bash setup.sh test" >&2
  exit 64
  ;;
esac
