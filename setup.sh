#!/bin/bash
# setup.sh - the two commands of the README, for a fresh Debian 12 machine
# (run as root; apt-get installs what is missing).
#
#   bash setup.sh run    install, build, create the embedded default
#                        (./leadgate.db, example rules in ./rules) and run
#                        leadgate-lmtpd on 127.0.0.1:2424 in the foreground
#   bash setup.sh test   install, build, and pass every test: make check in
#                        a -Werror build and in an ASan+UBSan build, then
#                        make distcheck; ends with "N passed, N failed"
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

DEPS="build-essential autoconf automake pkg-config libglib2.0-dev libglib2.0-dev-bin
libgmime-3.0-dev libsqlite3-dev sqlite3 libpcre2-dev libcurl4-openssl-dev libssl-dev libmilter-dev
libspf2-dev swaks postfix miltertest python3 openssl util-linux procps"

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

case "${1:-}" in
run)
  install_deps
  build build --enable-werror
  mkdir -p rules
  build/src/leadgate init
  build/src/leadgate rules check
  echo "setup: leadgate-lmtpd on 127.0.0.1:2424, database ./leadgate.db, rules ./rules (Ctrl-C stops)"
  exec build/lmtpd/leadgate-lmtpd --listen 127.0.0.1:2424
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
  passed=0; failed=0
  for l in "${logs[@]}"; do
    echo "== $l"
    grep -E '^(FAIL|ERROR|XPASS):' "$l" || true
    grep -E '^# (TOTAL|PASS|FAIL|ERROR):' "$l" || tail -20 "$l"
    p=$(awk '/^# PASS:/ {s+=$3} END {print s+0}' "$l")
    f=$(awk '/^# (FAIL|ERROR|XPASS):/ {s+=$3} END {print s+0}' "$l")
    passed=$((passed+p)); failed=$((failed+f))
  done
  [ "$status" -eq 0 ] || [ "$failed" -gt 0 ] || failed=1   # a build that broke is a failure too
  echo "$passed passed, $failed failed"
  exit "$status"
  ;;
*)
  echo "usage: bash setup.sh run|test" >&2
  exit 64
  ;;
esac
