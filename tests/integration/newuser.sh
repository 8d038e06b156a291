#!/bin/bash
# tests/integration/newuser.sh - the README's five-minute tour, command by
# command, as a new user runs it: in a fresh, empty directory, with the
# built programs first on PATH (never what may be installed in /usr/local),
# one shell for the whole tour (so that its `cd` holds). Each command's
# output, standard error included, must be what the README shows under it,
# with timestamps (ISO 8601, which change from run to run) masked. So the
# README cannot drift from the program.
#
# The tour is the ```console block after the "<!-- tour" marker: "$ "
# starts a command, a here-document's lines belong to its command, and the
# lines up to the next "$ " are its output.
#
# LG_TOUR_UPDATE=1 (by hand, never in CI) writes the outputs of this run
# into the README instead of comparing, for when the program's output has
# changed on purpose; review the diff.
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"
readme="$top_srcdir/README.md"

is "$(( $(wc -l < "$readme") < 200 ))" 1 "the README is under 200 lines"
check_not "the README has no table of tried-and-dropped changes" grep -qi "tried and dropped |\|^| change | result |" "$readme"
check "the performance notebook is docs/performance.md" grep -q "^## Tried and dropped" "$top_srcdir/docs/performance.md"

mkdir -p "$T/tour" "$T/home"
python3 - "$readme" "$T/tour" <<'PY' || { echo "not ok - the README has no tour block"; exit 1; }
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r"<!-- tour[^\n]*\n```console\n(.*?)\n```", text, re.S)
if not m:
    sys.exit(1)
steps, lines, i = [], m.group(1).split("\n"), 0
while i < len(lines):
    line = lines[i]
    if not line.startswith("$ "):
        sys.exit("output without a command: " + line)
    cmd = [line[2:]]
    i += 1
    h = re.search(r"<<-?'?(\w+)'?", line)
    if h:   # the here-document, up to its terminator
        while i < len(lines):
            cmd.append(lines[i])
            i += 1
            if cmd[-1] == h.group(1):
                break
    out = []
    while i < len(lines) and not lines[i].startswith("$ "):
        out.append(lines[i])
        i += 1
    steps.append(("\n".join(cmd), "\n".join(out)))
for n, (cmd, out) in enumerate(steps):
    open("%s/%03d.cmd" % (sys.argv[2], n), "w").write(cmd + "\n")
    open("%s/%03d.want" % (sys.argv[2], n), "w").write(out)
PY

mask() { sed -E 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z/TIME/g'; }
PATH="$top_builddir/src:$top_builddir/lmtpd:$PATH"
export PATH
cd "$T/home" || exit 1
n=0
for f in "$T"/tour/*.cmd; do
  cmd=$(cat "$f")
  { eval "$cmd"; } > "${f%.cmd}.got" 2>&1
  want=$(mask < "${f%.cmd}.want")
  got=$(mask < "${f%.cmd}.got")
  is "$got" "$want" "tour: $(head -1 "$f")"
  n=$((n+1))
done
check "the tour has at least 15 commands" test "$n" -ge 15

if [ -n "${LG_TOUR_UPDATE:-}" ]; then
  python3 - "$readme" "$T/tour" <<'PY'
import glob, re, sys
readme, d = sys.argv[1], sys.argv[2]
text = open(readme, encoding="utf-8").read()
m = re.search(r"(<!-- tour[^\n]*\n```console\n)(.*?)(\n```)", text, re.S)
parts = []
for f in sorted(glob.glob(d + "/*.cmd")):
    cmd = open(f).read().rstrip("\n")
    got = open(f[:-4] + ".got").read().rstrip("\n")
    parts.append("$ " + cmd + ("\n" + got if got else ""))
text = text[:m.start(2)] + "\n".join(parts) + text[m.end(2):]
open(readme, "w", encoding="utf-8").write(text)
PY
  diag "README.md: the tour's outputs rewritten from this run"
fi
done_testing
