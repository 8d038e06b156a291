#!/bin/bash
# tests/mail/corpus.sh - the message corpus through `leadgate ingest`.
#
# For every line of tests/mail/expected.tsv (FILE, EXPECTED_FROM,
# EXPECTED_SUBJECT) the message is ingested for support@example.test
# (mode existing) and must come out as exactly one new lead whose
# v_leads.sender_email and v_leads.subject are the expected ones.
# Test points per message: exit status 0, one new lead, sender, subject.
# A TAB in leadgate's subject is compared as a space (see expected.tsv).
# First of all, every message file in tests/mail must have a line.
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"

[ -x "$LEADGATE" ] || skip_all "src/leadgate is not built"
command -v sqlite3 >/dev/null 2>&1 || skip_all "sqlite3 (the shell) is not installed"

TSV="$MAILDIR/expected.tsv"
TAB=$'\t'

# Every message file has an expectation, and every expectation a file.
listed=$(grep -v '^#' "$TSV" | cut -f1 | grep -v '^$' | sort)
present=$(cd "$MAILDIR" && ls -1 -- *.eml python-email/msg_*.txt | sort)
is "$(printf '%s\n' "$listed" | uniq -d)" "" "expected.tsv lists no file twice"
is "$(comm -3 <(printf '%s\n' "$listed" | uniq) <(printf '%s\n' "$present"))" "" \
	"expected.tsv and the message files match"

check "leadgate init" lg init
check "mailbox add support@example.test" lg mailbox add support@example.test --mode existing

last_id() { sqlq "select coalesce(max(id), 0) from v_leads"; }

while IFS="$TAB" read -r file want_from want_subject <&3; do
	case "$file" in ''|'#'*) continue ;; esac
	before=$(last_id)
	lg ingest --rcpt support@example.test "$MAILDIR/$file" </dev/null >"$T/out" 2>"$T/err"
	rc=$?
	is "$rc" 0 "$file: ingest exits 0"
	[ "$rc" -eq 0 ] || diag "$(head -c 600 "$T/err")"
	is "$(sqlq "select count(*) from v_leads where id > $before")" 1 "$file: one new lead"

	row=$(sqlite3 -batch -noheader -separator "$TAB" "$T/lg.db" \
		"select sender_email, subject from v_leads order by id desc limit 1")
	got_from=${row%%"$TAB"*}
	got_subject=${row#*"$TAB"}
	got_subject=${got_subject//"$TAB"/ }
	[ -n "$got_from" ] || got_from=-
	[ -n "$got_subject" ] || got_subject=-
	is "$got_from" "$want_from" "$file: sender_email"
	is "$got_subject" "$want_subject" "$file: subject"
done 3<"$TSV"

done_testing
