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
#                        make distcheck and make fuzz-smoke (each libFuzzer
#                        target for a minute, clang); names the skipped
#                        tests and ends with "N passed, N failed, N skipped"
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

DEPS="build-essential autoconf automake pkg-config libglib2.0-dev libglib2.0-dev-bin
libgmime-3.0-dev libsqlite3-dev sqlite3 libpcre2-dev libcurl4-openssl-dev libssl-dev libmilter-dev
libspf2-dev libxml2-dev swaks postfix miltertest python3 openssl util-linux procps clang"

# `run` also needs man-db, so that `man leadgate` works after it (a
# minimal Debian has no man command); `test` does not.
RUN_DEPS="man-db"

install_deps() {  # install_deps [EXTRA-PACKAGE...]: $DEPS and these
  local missing=()
  for p in $DEPS "$@"; do
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

# port_in_use HOST:PORT|[V6]:PORT: something accepts connections there
# already (bash's /dev/tcp: no package needed before install_deps). unix:
# sockets, and addresses that cannot be bound, are left to the daemon,
# which names the problem itself.
port_in_use() {
  local host port
  case "$1" in unix:*) return 1 ;; esac
  host=${1%:*}; port=${1##*:}; host=${host#[}; host=${host%]}
  timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null
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
  if port_in_use "$listen"; then
    echo "setup: $listen is in use by another program (an earlier leadgate-lmtpd?)." >&2
    echo "setup: stop it, or choose another address: bash setup.sh run --listen 127.0.0.1:2525 (or LEADGATE_LISTEN=127.0.0.1:2525)" >&2
    exit 69   # EX_UNAVAILABLE
  fi
  install_deps $RUN_DEPS
  build build --enable-werror
  # (an existing config or rule file that was changed is left as it is;
  # make install says so, and that line is shown)
  (cd build && make install > ../build-install.log 2>&1) || { tail -20 build-install.log; exit 1; }
  grep -E '^leaving ' build-install.log | sed 's/^/setup: /' || true
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
  # the fuzz targets (tests/fuzz/README); clang warns where gcc does not,
  # so the -Werror gate is the gcc build's
  CC=clang build build-fuzz --enable-fuzzing
  (cd build-fuzz && make fuzz-smoke) > build-fuzz-smoke.log 2>&1 || status=1
  logs+=(build-fuzz-smoke.log)
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
