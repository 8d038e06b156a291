#!/bin/bash
# tests/integration/setuprun.sh - `bash setup.sh run`'s own checks, made
# before it installs or builds anything: --listen and LEADGATE_LISTEN, a
# port in use (an error naming the option, exit 69), a run as non-root
# (what it needs, exit 77), bad arguments (64).
#
# setup.sh runs from a copy in the test's folder, with dpkg-query,
# apt-get, autoreconf and make replaced by stubs: should a check let a run
# through, it stops at the stubs (exit 99) instead of installing packages,
# building or running `make install` on this machine.
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"

mkdir -p "$T/src" "$T/bin"
cp "$top_srcdir/setup.sh" "$T/src/"
printf '#!/bin/sh\necho "install ok installed"\n' > "$T/bin/dpkg-query"
for s in apt-get autoreconf make sudo; do printf '#!/bin/sh\necho "stub %s reached" >&2\nexit 99\n' "$s" > "$T/bin/$s"; done
chmod +x "$T/bin"/*
# run [ENV=V...] ARGS...: setup.sh with the stubs; sets $rc and $err
run() { err=$(env PATH="$T/bin:$PATH" "$@" 2>&1 >/dev/null); rc=$?; }

# a listener of our own on a free loopback port
exec 5< <(exec python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
print(s.getsockname()[1], flush=True); time.sleep(120)')
lg_track $!
read -r -t 10 port <&5 || { echo "Bail out! no listener"; exit 1; }
free=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

if [ "$(id -u)" -eq 0 ]; then
  run bash "$T/src/setup.sh" run --listen "127.0.0.1:$port"
  is "$rc" 69 "a port in use: exit 69"
  like "$err" "127.0.0.1:$port is in use" "a port in use: says so"
  like "$err" "--listen 127.0.0.1:" "a port in use: names the option"
  run LEADGATE_LISTEN="127.0.0.1:$port" bash "$T/src/setup.sh" run
  is "$rc" 69 "LEADGATE_LISTEN: the same check"
  run bash "$T/src/setup.sh" run --listen="127.0.0.1:$port"
  is "$rc" 69 "--listen=ADDR: the same check"
  run bash "$T/src/setup.sh" run --listen "127.0.0.1:$free"
  like "$rc/$err" "^99/stub .* reached" "a free port: the run goes on (to the stubs)"
  if command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
    chmod -R a+rX "$T"; chmod a+x "$T"
    run setpriv --reuid=nobody --regid=nogroup --clear-groups bash "$T/src/setup.sh" run
    is "$rc" 77 "as non-root: exit 77"
    like "$err" "needs root" "as non-root: says what it needs"
    like "$err" "sudo bash setup.sh run" "as non-root: ... and how"
  else
    skip "setpriv or the user nobody is missing"; skip "setpriv or the user nobody is missing"
  fi
else
  skip "not root: the port checks come after the root check"
  run bash "$T/src/setup.sh" run
  is "$rc" 77 "as non-root: exit 77"
  like "$err" "needs root" "as non-root: says what it needs"
fi
run bash "$T/src/setup.sh" run --listen
is "$rc" 64 "--listen without an address: 64"
run bash "$T/src/setup.sh" run --listen localhost
like "$rc/$err" "^64/.*host:port" "--listen without a port: 64, with the forms it takes"
run bash "$T/src/setup.sh" run --bogus
is "$rc" 64 "an unknown option: 64"
run bash "$T/src/setup.sh" frobnicate
like "$rc/$err" "^64/usage: bash setup.sh run \[--listen ADDR\]" "an unknown command: the usage"
done_testing
