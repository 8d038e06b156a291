# tests/tap.sh - a small TAP producer for shell tests. Source it, then:
#   ok COND_EXIT_STATUS "description"   (use: check "desc" cmd args...)
#   is "got" "want" "description"
#   like "got" "regex" "description"
#   done_testing
_tap_n=0
_tap_failed=0
check() {  # check "description" command...
  local d="$1"; shift
  if "$@" >/dev/null 2>&1; then _tap_pass "$d"; else _tap_fail "$d" "command failed: $*"; fi
}
check_not() {  # check_not "description" command...  (passes when it fails)
  local d="$1"; shift
  if "$@" >/dev/null 2>&1; then _tap_fail "$d" "command succeeded: $*"; else _tap_pass "$d"; fi
}
is() {
  if [ "$1" = "$2" ]; then _tap_pass "$3"; else _tap_fail "$3" "got '$1', want '$2'"; fi
}
like() {
  if printf '%s' "$1" | grep -Eq -- "$2"; then _tap_pass "$3"; else _tap_fail "$3" "'$1' does not match /$2/"; fi
}
unlike() {
  if printf '%s' "$1" | grep -Eq -- "$2"; then _tap_fail "$3" "'$1' matches /$2/"; else _tap_pass "$3"; fi
}
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
skip() { _tap_n=$((_tap_n+1)); echo "ok $_tap_n # SKIP $*"; }
diag() { printf '# %s\n' "$@"; }
_tap_pass() { _tap_n=$((_tap_n+1)); echo "ok $_tap_n - $1"; }
_tap_fail() { _tap_n=$((_tap_n+1)); _tap_failed=$((_tap_failed+1)); echo "not ok $_tap_n - $1"; printf '#   %s\n' "$2"; }
done_testing() { echo "1..$_tap_n"; [ "$_tap_failed" -eq 0 ]; }
