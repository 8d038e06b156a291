#!/bin/sh
# NAME
#   run.sh - runs the libFuzzer targets of tests/fuzz (make fuzz-smoke, make fuzz).
#
# SYNOPSIS
#   run.sh [--smoke] --seconds N NAME...
#
# DESCRIPTION
#   Runs tests/fuzz/fuzz-NAME (in the build directory, the current one) for
#   N seconds each, one after the other and one job each, on its seed
#   corpus tests/fuzz/corpus/NAME of the source tree and its dictionary.
#   New inputs go to tests/fuzz/work/NAME (the seeds are never written),
#   which a campaign keeps, so a second `make fuzz` goes on where the first
#   stopped; --smoke starts from the seeds alone, in tests/fuzz/smoke/NAME,
#   and leaves a campaign's corpus alone. A crash, leak, timeout
#   (an input taking more than FUZZ_TIMEOUT seconds, 30) or out-of-memory
#   report leaves the input in tests/fuzz/findings/ and fails the run; the
#   target's output is in tests/fuzz/NAME.log. One line per target says how
#   many inputs it ran; the summary at the end has automake's form
#   ("# PASS: 6", "FAIL: fuzz-NAME"), which `setup.sh test` counts.
#
#   FUZZ_ARGS adds libFuzzer options (e.g. FUZZ_ARGS=-jobs=2).
#
# EXIT STATUS
#   0 when every target ran clean, 1 when one did not, 2 on bad usage.
set -u

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
seconds=60
smoke=no
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) seconds=$2; shift 2 ;;
	--smoke) smoke=yes; shift ;;
	--) shift; break ;;
	-*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
case $seconds in
''|*[!0-9]*) echo "run.sh: --seconds wants a whole number, not '$seconds'" >&2; exit 2 ;;
esac
[ $# -gt 0 ] || { echo "usage: run.sh [--smoke] --seconds N NAME..." >&2; exit 2; }

# the dictionary of each target
dict_of() {
	case $1 in
	message|deliver|sync|milter) echo mime.dict ;;
	html) echo html.dict ;;
	rules) echo sieve.dict ;;
	config) echo config.dict ;;
	lmtp) echo lmtp.dict ;;
	*) echo "" ;;
	esac
}

# the slow unwinder: the fast one stops at the first frame of a library built
# without frame pointers (GLib), and suppressions need the whole stack
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1:fast_unwind_on_malloc=0}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# GMime 3.2.13's own address-parser leaks: see lsan.supp
LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$srcdir/tests/fuzz/lsan.supp:print_suppressions=0}
export ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS top_srcdir=$srcdir

mkdir -p tests/fuzz/findings || exit 1
failed=0
pass=0
fail=0
fails=
for name in "$@"; do
	prog=tests/fuzz/fuzz-$name
	seeds=$srcdir/tests/fuzz/corpus/$name
	work=tests/fuzz/work/$name
	[ "$smoke" = yes ] && work=tests/fuzz/smoke/$name
	log=tests/fuzz/$name.log
	dict=$(dict_of "$name")
	if [ ! -x "$prog" ]; then
		echo "fuzz-$name: FAILED: $prog is not built" >&2
		failed=1; fail=$((fail + 1)); fails="$fails fuzz-$name"
		continue
	fi
	[ "$smoke" = yes ] && rm -rf "$work"
	mkdir -p "$work"
	set -- -max_total_time="$seconds" -timeout="${FUZZ_TIMEOUT:-30}" \
		-rss_limit_mb=2560 -print_final_stats=1 \
		-artifact_prefix="tests/fuzz/findings/$name-"
	[ -n "$dict" ] && set -- "$@" -dict="$srcdir/tests/fuzz/$dict"
	# shellcheck disable=SC2086 # FUZZ_ARGS is a list of options
	"$prog" "$@" ${FUZZ_ARGS:-} "$work" "$seeds" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	if [ $rc -eq 0 ] && ! grep -q '^==[0-9]*==ERROR\|^SUMMARY: \|runtime error:' "$log"; then
		echo "fuzz-$name: ok, ${runs:-?} runs in ${seconds} s, corpus $(ls "$work" | wc -l) new"
		pass=$((pass + 1))
	else
		echo "fuzz-$name: FAILED (exit $rc, ${runs:-?} runs); the end of $log:"
		tail -n 40 "$log" | sed 's/^/    /'
		ls tests/fuzz/findings/"$name"-* 2>/dev/null | sed 's/^/    finding: /'
		failed=1; fail=$((fail + 1)); fails="$fails fuzz-$name"
	fi
done
for f in $fails; do echo "FAIL: $f"; done
echo "# TOTAL: $((pass + fail))"
echo "# PASS: $pass"
echo "# FAIL: $fail"
exit $failed
