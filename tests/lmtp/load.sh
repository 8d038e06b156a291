# tests/lmtp/load.sh - real clients against the daemon: swaks --protocol LMTP,
# Postfix's smtp-source -L (2000 messages over 20 sessions) and lmtp-blast
# with BDAT: exactly as many leads as messages delivered.
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/lmtp/lmtp-lib.sh"

SMTP_SOURCE=$(command -v smtp-source || echo /usr/sbin/smtp-source)
SWAKS=$(command -v swaks || echo /usr/bin/swaks)
need() {  # a client from a Debian package: required in CI, skipped by hand
	[ -x "$1" ] && return 0
	[ -n "$CI" ] && { _tap_fail "$1 installed" "apt-get install $2"; return 1; }
	skip "$1 not installed (apt-get install $2)"
	return 1
}

lmtpd_conf
check "database and mailboxes" lmtpd_mailboxes
check "daemon starts" lmtpd_start

if need "$SWAKS" swaks; then
	for i in 1 2 3; do
		"$SWAKS" --protocol LMTP --server "127.0.0.1:$LMTPD_PORT" --helo swaks.test \
			--from "swaks$i@customer.test" --to support@example.test,sales@example.test \
			--header "Subject: swaks $i" --header "Message-Id: <swaks$i@customer.test>" \
			--silent 2 >"$T/swaks.out" 2>&1
		is "$?" "0" "swaks --protocol LMTP message $i"
	done
	"$SWAKS" --protocol LMTP --server "127.0.0.1:$LMTPD_PORT" --pipeline \
		--from pipe@customer.test --to support@example.test \
		--header "Subject: swaks pipelined" --silent 2 >"$T/swaks.out" 2>&1
	is "$?" "0" "swaks --protocol LMTP --pipeline"
	"$SWAKS" --protocol LMTP --server "127.0.0.1:$LMTPD_PORT" \
		--from x@customer.test --to nobody@example.test --silent 2 >"$T/swaks.out" 2>&1
	isnt_zero=$?
	check_not "swaks to an unknown recipient fails" test "$isnt_zero" -eq 0
	like "$(cat "$T/swaks.out")" '550 5\.1\.1' "... with 550 5.1.1"
	is "$(sqlq "SELECT count(*) FROM leads WHERE subject LIKE 'swaks%'")" "7" "swaks: 7 leads"
fi

if need "$SMTP_SOURCE" postfix; then
	t0=$(date +%s)
	"$SMTP_SOURCE" -L -s 20 -m 2000 -f source@customer.test -t support@example.test \
		-S "smtp-source load" "127.0.0.1:$LMTPD_PORT"
	is "$?" "0" "smtp-source -L -s 20 -m 2000"
	diag "smtp-source: 2000 messages in $(( $(date +%s) - t0 )) s"
	is "$(sqlq "SELECT count(*) FROM leads WHERE subject = 'smtp-source load'")" "2000" \
		"smtp-source: exactly 2000 leads"
fi

out=$("$BLAST" -p "$LMTPD_PORT" -n 300 -s 10 -B -t bdat -r support@example.test)
is "$out" "acked=300 tempfail=0 permfail=0 lost=0" "lmtp-blast: 300 messages with BDAT LAST"
is "$(sqlq "SELECT count(*) FROM leads WHERE subject LIKE 'bdat %'")" "300" "BDAT: 300 leads"

lmtpd_stop
like "$(cat "$LMTPD_LOG")" 'writer: [0-9]+ deliveries in [0-9]+ commits' "the writer reports its commits"
diag "$(grep -o 'writer: .*' "$LMTPD_LOG")"
is "$(sqlq 'PRAGMA integrity_check')" "ok" "database integrity"

done_testing
