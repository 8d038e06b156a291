#!/bin/bash
# tests/integration/install.sh - `make install` installs what a user needs
# where they look for it (programs, man pages, example rules and a sample
# config under sysconfdir), never overwrites a config or rule file the
# admin changed, and `make uninstall` removes the rest. Into a DESTDIR of
# the test's own: the machine's /usr/local is never touched or read.
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"

command -v make >/dev/null || skip_all "make is not installed"
# a make of its own, not a part of the `make check` that runs this test
# (whose job server and directory messages it would inherit)
submake() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory -C "$top_builddir" "$@"; }
mk() { submake "$@" DESTDIR="$T/dest" > "$T/make.log" 2>&1; }
var() { submake -f Makefile -f - lg-print-var V="$1" <<'MK'
lg-print-var: ; @echo $($(V))
MK
}
bindir=$(var bindir); sbindir=$(var sbindir); mandir=$(var mandir); sysconfdir=$(var sysconfdir)
D="$T/dest"

check "make install" mk install
check "leadgate in bindir" test -x "$D$bindir/leadgate"
check "leadgate-lmtpd in sbindir" test -x "$D$sbindir/leadgate-lmtpd"
check "leadgate-spf-helper in pkglibexecdir" test -x "$D$(var pkglibexecdir)/leadgate-spf-helper"
for m in man1/leadgate.1 man8/leadgate-lmtpd.8 man5/leadgate.conf.5 man5/leadgate-rules.5 man7/leadgate-views.7; do
  check "man page $m" test -f "$D$mandir/$m"
done
if command -v man >/dev/null; then
  like "$(MANPATH="$D$mandir" man -w leadgate 2>&1)" "man1/leadgate.1" "man finds leadgate(1) in the installed man directory"
else
  skip "man is not installed"
fi
conf="$D$sysconfdir/leadgate/leadgate.conf"
check "the sample config in sysconfdir/leadgate" test -f "$conf"
like "$(grep '^directory' "$conf")" "^directory = $sysconfdir/leadgate/rules\$" "the sample config names the installed rules"
is "$(ls "$D$sysconfdir/leadgate/rules" | tr '\n' ' ')" "10-newsletters.sieve 20-vendors.sieve 30-priority.sieve 40-webform.sieve " "the example rules in sysconfdir/leadgate/rules"
run_conf() { "$D$bindir/leadgate" -c "$conf" config check; }
like "$(run_conf 2>&1)" "leadgate.conf: ok" "the installed leadgate reads the installed config"
like "$("$D$bindir/leadgate" rules check "$D$sysconfdir/leadgate/rules")" "4 rule files, 7 rules: ok" "the installed rules compile"

# the admin's changes survive a new install and an uninstall
echo "# local change" >> "$conf"
echo "# local change" >> "$D$sysconfdir/leadgate/rules/30-priority.sieve"
check "make install again" mk install
like "$(cat "$T/make.log")" "leaving .*leadgate.conf as it is" "install: says it keeps the changed config"
is "$(tail -1 "$conf")" "# local change" "install: the changed config is not overwritten"
is "$(tail -1 "$D$sysconfdir/leadgate/rules/30-priority.sieve")" "# local change" "install: a changed rule file is not overwritten"
check "make uninstall" mk uninstall
like "$(cat "$T/make.log")" "keeping .*leadgate.conf" "uninstall: says it keeps the changed config"
is "$(cd "$D" && find . -type f | sort | tr '\n' ' ')" \
   "./${sysconfdir#/}/leadgate/leadgate.conf ./${sysconfdir#/}/leadgate/rules/30-priority.sieve " \
   "uninstall: removes everything but the changed files"
rm "$conf" "$D$sysconfdir/leadgate/rules/30-priority.sieve"
check "make uninstall with nothing changed" mk uninstall
is "$(cd "$D" && find . -type f | wc -l)" 0 "uninstall: nothing left"
check_not "uninstall: the config folder is gone once empty" test -d "$D$sysconfdir/leadgate"
done_testing
