#!/bin/bash
# tests/rules/rules-check.sh - `leadgate rules check` and `leadgate rules
# test` through the real binary: compiler-style diagnostics and exit
# statuses, the shipped examples, and a dry run that decides by a rule and
# writes nothing.
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"

[ -x "$LEADGATE" ] || skip_all "leadgate is not built"

# run CMD...: sets $out, $err and $rc
run() {
	out=$("$@" 2> "$T/stderr"); rc=$?
	err=$(cat "$T/stderr")
}

# -- rules check ------------------------------------------------------------
run lg rules check
is "$rc" 0 "check: an empty rules directory is fine"
is "$out$err" "$T/rules: 0 rule files, 0 rules: ok" "check: says what it checked when all is well"

run lg rules check "$top_srcdir/rules"
is "$rc" 0 "check: the shipped examples compile"
is "$out$err" "$top_srcdir/rules: 4 rule files, 7 rules: ok" "check: the shipped examples give no diagnostics"

mkdir -p "$T/bad"
cat > "$T/bad/10-bad.sieve" <<'SIEVE'
require ["vnd.leadgate", "fileinto"];
if foo { keep; }
keep
stop;
if header :is :contains "subject" "x" { spam; }
redirect "boss@example.com";
SIEVE
printf 'keep;\n' > "$T/bad/05-good.sieve"
printf 'if true { keep;\n' > "$T/bad/20-open.sieve"
run lg rules check "$T/bad"
is "$rc" 1 "check: exit 1 on errors"
is "$out" "" "check: nothing on stdout"
want="$T/bad/10-bad.sieve:1:26: error: unknown capability \"fileinto\" in require (leadgate supports vnd.leadgate, envelope, body, regex, comparator-i;octet, comparator-i;ascii-casemap, environment)
$T/bad/10-bad.sieve:2:4: error: unknown test 'foo'
$T/bad/10-bad.sieve:3:5: error: missing ';' after 'keep' (found identifier 'stop')
$T/bad/10-bad.sieve:5:15: error: more than one match type: ':contains' after an earlier one
$T/bad/10-bad.sieve:6:1: error: unsupported command 'redirect' (leadgate rules use keep, stop, ticket, lead and spam)
$T/bad/20-open.sieve:1:9: error: unbalanced braces: this '{' is never closed"
is "$err" "$want" "check: every error, as file:line:column: error: message, files in order"

run lg rules check "$T/bad/05-good.sieve"
is "$rc" 0 "check: one file by path"
run lg rules check "$T/bad/20-open.sieve"
is "$rc" 1 "check: one bad file by path"
is "$err" "$T/bad/20-open.sieve:1:9: error: unbalanced braces: this '{' is never closed" "check: its diagnostic"

run lg rules check "$T/nonexistent.sieve"
is "$rc" 66 "check: a missing file is an error (66)"
like "$err" "^leadgate: .*nonexistent.sieve" "check: naming the file"

run lg rules check a b
is "$rc" 64 "check: usage error for two paths"
run lg rules frobnicate
is "$rc" 64 "rules: usage error for an unknown subcommand"

# the default path is the configured [rules] directory
cp "$T/bad/20-open.sieve" "$T/rules/"
run lg rules check
is "$rc" 1 "check: the configured directory by default"
rm "$T/rules/20-open.sieve"

# -- rules test ---------------------------------------------------------------
lg init >/dev/null
cp "$top_srcdir"/rules/*.sieve "$T/rules/"
cat > "$T/vendor.eml" <<'EML'
From: Wile E. Coyote <Wile@Sales.ACME.example>
To: support@help.example
Subject: Order 1234: rockets
Message-ID: <order-1234@acme.example>
Date: Mon, 2 Mar 2026 10:00:00 +0000

Please ship the rockets.
EML
run lg rules test "$T/vendor.eml"
is "$rc" 0 "test: exit 0"
like "$out" "decided_by: rule:20-vendors.sieve:15" "test: names the deciding rule"
like "$out" "20-vendors.sieve:15: ticket :organization \"ACME Corporation\"" "test: shows the action"
like "$out" "recipient: +support@help.example" "test: recipient defaults to the first To"
like "$out" "dry run: nothing was written" "test: says it is a dry run"

run lg --json rules test --rcpt sales@help.example --sender x@y.example "$T/vendor.eml"
is "$rc" 0 "test --json: exit 0"
like "$out" '"recipient": "sales@help.example"' "test --json: the --rcpt recipient"
like "$out" '"decided_by": "rule:20-vendors.sieve:15"' "test --json: decided_by"
like "$out" '"trace": \[' "test --json: the trace"

cat > "$T/news.eml" <<'EML'
From: Shop <deals@shop.example>
To: support@help.example
Subject: Our spring newsletter: 20% off everything
List-Unsubscribe: <mailto:unsub@shop.example>
Message-ID: <n1@shop.example>

Buy now.
EML
run lg rules test "$T/news.eml"
like "$out" "decided_by: rule:10-newsletters.sieve:24" "test: newsletter is spam by rule"
like "$out" "lead: +lost \(hidden\)" "test: spam makes the lead lost and hidden"
like "$out" "10-newsletters.sieve:25: stop" "test: the trace shows stop"

cat > "$T/urgent.eml" <<'EML'
From: Someone <someone@customer.example>
To: support@help.example
Subject: URGENT: the shop is down
Message-ID: <u1@customer.example>

Help.
EML
run lg rules test "$T/urgent.eml"
like "$out" "decided_by: rule:30-priority.sieve:10" "test: urgent subject opens a ticket by rule"

cat > "$T/form.eml" <<'EML'
From: Web site <no-reply@www.example.com>
Reply-To: Visitor <visitor@somewhere.example>
To: support@help.example
Subject: Contact form
Message-ID: <f1@www.example.com>

I would like to request a quote.
EML
run lg rules test "$T/form.eml"
like "$out" "40-webform.sieve:14: lead :source \"Web form\" :stage \"new\"" "test: web form sets the lead source"
like "$out" "40-webform.sieve:18: lead :assign \"sales@example.com\"" "test: quote requests assigned"

# nothing was written by any of the dry runs
is "$(sqlq 'SELECT count(*) FROM v_leads')" 0 "test: no lead written"
is "$(sqlq 'SELECT count(*) FROM v_tickets')" 0 "test: no ticket written"

# broken rules: refused with the diagnostics, like check
cp "$T/bad/20-open.sieve" "$T/rules/"
run lg rules test "$T/vendor.eml"
is "$rc" 1 "test: exit 1 when the rules have errors"
like "$err" "20-open.sieve:1:9: error: unbalanced braces" "test: prints the rules' errors"
run lg rules test --rules "$T/bad/05-good.sieve" "$T/vendor.eml"
is "$rc" 0 "test --rules: another rule set"
unlike "$out" "decided_by: rule:" "test --rules: that set decides nothing"

rm "$T/rules/20-open.sieve"
run lg rules test "$T/missing.eml"
is "$rc" 66 "test: exit 66 for a missing message file"
run lg rules test
is "$rc" 64 "test: usage error without a file"

done_testing
