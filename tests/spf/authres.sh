#!/bin/bash
# tests/spf/authres.sh - which Authentication-Results count (RFC 8601 §5):
# only those of a trusted authserv-id in the receiving MTA's top block
# (above the Received header of the hop before it, and above every header
# a message's writer puts); forged ones interleaved with genuine ones are
# ignored. [auth] mode trust/check/off, several trusted ids, the older
# [inbound] trusted_authserv_id, trusted_received, and the rules'
# environment test of the verdicts.
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"

n=0
# mk FROM [HEADER...] : a message whose given headers come first, in order
mk() {
  local from="$1"; shift
  n=$((n+1))
  local f="$T/m$n.eml"
  {
    for h in "$@"; do printf '%s\n' "$h"; done
    printf 'From: %s\nTo: support@example.test\nSubject: message %d\n' "$from" "$n"
    printf 'Message-ID: <ar%d.%s@test.example>\n\nHello.\n' "$n" "$RANDOM$RANDOM"
  } > "$f"
  echo "$f"
}
conf() {  # conf NAME [LINE...]: $T/NAME.conf with the test's store and rules
  local name=$1; shift
  { printf '[store]\ndatabase = %s\n[rules]\ndirectory = %s\n' "$T/lg.db" "$T/rules"
    for l in "$@"; do printf '%s\n' "$l"; done; } > "$T/$name.conf"
}
ingest() { local c=$1; shift; "$LEADGATE" -c "$T/$c.conf" ingest --rcpt support@example.test "$@" >/dev/null; }
verdicts() { sqlq "select coalesce(spf_result, '-')||','||coalesce(dmarc_result, '-') from messages order by id desc limit 1"; }
last() { sqlq "select $1 from leads order by id desc limit 1"; }

lg init >/dev/null
lg mailbox add support@example.test --mode always >/dev/null
lg org add "Acme Corp" --domain acme.example >/dev/null
lg contact add frank@acme.example --name Frank --org "Acme Corp" >/dev/null
conf auth "[auth]" "trusted_authserv_ids = mx.example.test"

OURS='Received: from mail.sender.example (mail.sender.example [192.0.2.10]) by mx.example.test (Postfix) with ESMTPS id 4Xq; Mon, 18 Nov 2024 10:00:01 +0100'
THEIRS='Received: from [198.51.100.7] by relay.sender.example; Mon, 18 Nov 2024 10:00:00 +0100'

# genuine verdicts above and just below our Received; forged ones below the
# hop before, interleaved with other trace headers, and below From
f=$(mk frank@acme.example \
  "Authentication-Results: mx.example.test; dmarc=fail (p=reject) header.from=acme.example" \
  "$OURS" \
  "Authentication-Results: mx.example.test; spf=fail smtp.mailfrom=acme.example" \
  "$THEIRS" \
  "Authentication-Results: mx.example.test; dmarc=pass header.from=acme.example" \
  "Authentication-Results: mx.example.test; spf=pass smtp.mailfrom=acme.example" \
  "Received: from localhost by relay.sender.example; Mon, 18 Nov 2024 09:59:59 +0100" \
  "Authentication-Results: MX.EXAMPLE.TEST; dmarc=pass; spf=pass")
like "$("$LEADGATE" -c "$T/auth.conf" rules test --rcpt support@example.test "$f" 2>&1)" \
  "3 forged Authentication-Results ignored" "rules test: the trace counts the forged headers"
ingest auth "$f"
is "$(verdicts)" "fail,fail" "genuine verdicts in the top block count; forged passes below the previous hop do not"
is "$(last status),$(last suspected_spoof)" "unread,1" "  ... the known end user is a suspected spoof"
like "$(last reason)" "DMARC failed \(trusted Authentication-Results\)" "  ... and the reason says so"

# forged fails below the previous hop cannot make a real user a suspect
f=$(mk frank@acme.example \
  "$OURS" \
  "Authentication-Results: mx.example.test; spf=pass smtp.mailfrom=acme.example" \
  "$THEIRS" \
  "Authentication-Results: mx.example.test; dmarc=fail header.from=acme.example" \
  "Authentication-Results: mx.example.test; spf=fail smtp.mailfrom=acme.example")
ingest auth "$f"
is "$(verdicts)" "pass,-" "a forged dmarc=fail and spf=fail below the previous hop are ignored"
is "$(last status),$(last suspected_spoof),$(last decided_by)" "won,0,known-contact" "  ... the known end user is trusted"

# a sender with no hop of its own: forged headers after its From
f=$(mk frank@acme.example \
  "$OURS" \
  "Authentication-Results: mx.example.test; spf=pass smtp.mailfrom=acme.example")
sed -i 's/^\(From: .*\)$/\1\nAuthentication-Results: mx.example.test; dmarc=fail header.from=acme.example/' "$f"
ingest auth "$f"
is "$(verdicts)" "pass,-" "a trusted-id header below From (a writer's header) is forged"

# several forged and genuine ones interleaved; the newest genuine per method wins
f=$(mk frank@acme.example \
  "Authentication-Results: mx.example.test; spf=pass smtp.mailfrom=acme.example" \
  "Authentication-Results: other.example; dmarc=fail" \
  "$OURS" \
  "Authentication-Results: mx.example.test; dmarc=pass header.from=acme.example" \
  "Authentication-Results: mx.example.test; spf=fail; dmarc=fail" \
  "$THEIRS" \
  "Authentication-Results: mx.example.test; dmarc=fail" \
  "$THEIRS" \
  "Authentication-Results: mx.example.test; spf=fail")
ingest auth "$f"
is "$(verdicts)" "pass,pass" "interleaved: the topmost genuine verdict per method; another authserv-id and forged ones ignored"

# trusted_received: an MTA that adds two Received headers of its own
conf two "[auth]" "trusted_authserv_ids = mx.example.test" "trusted_received = 2"
f=$(mk frank@acme.example "$OURS" "$OURS" \
  "Authentication-Results: mx.example.test; spf=fail smtp.mailfrom=acme.example" "$THEIRS" \
  "Authentication-Results: mx.example.test; dmarc=pass")
ingest two "$f"
is "$(verdicts)" "fail,-" "trusted_received = 2: below the second Received still counts, below the third not"
ingest auth "$(mk frank@acme.example "$OURS" "$OURS" "Authentication-Results: mx.example.test; spf=fail")"
is "$(verdicts)" "-,-" "  ... with the default of 1 it is forged"

# several trusted ids, and the older [inbound] key as one of them
conf ids "[auth]" "trusted_authserv_ids = mx1.example.test; mx2.example.test" "[inbound]" "trusted_authserv_id = mx3.example.test"
ingest ids "$(mk frank@acme.example "Authentication-Results: mx2.example.test; spf=softfail" \
  "Authentication-Results: mx3.example.test; dmarc=pass" "$OURS")"
is "$(verdicts)" "softfail,pass" "several trusted authserv-ids; [inbound] trusted_authserv_id adds one"
conf old "[inbound]" "trusted_authserv_id = mx.example.test"
ingest old "$(mk frank@acme.example "Authentication-Results: mx.example.test; dmarc=fail" "$OURS")"
is "$(verdicts),$(last suspected_spoof)" "-,fail,1" "[inbound] trusted_authserv_id alone still works"

# modes: off reads nothing; check takes no SPF verdict from headers (ingest
# runs no check of its own: it has no client address) but DMARC still
H=("Authentication-Results: mx.example.test; spf=fail smtp.mailfrom=acme.example; dmarc=fail" "$OURS")
conf off "[auth]" "mode = off" "trusted_authserv_ids = mx.example.test"
ingest off "$(mk frank@acme.example "${H[@]}")"
is "$(verdicts),$(last suspected_spoof)" "-,-,0" "mode off: no verdicts, no suspicion"
conf check "[auth]" "mode = check" "trusted_authserv_ids = mx.example.test"
ingest check "$(mk frank@acme.example "${H[@]}")"
is "$(verdicts)" "-,fail" "mode check: SPF only from leadgate's own check, DMARC from the trusted header"
conf trust "[auth]" "mode = trust" "trusted_authserv_ids = mx.example.test"
ingest trust "$(mk frank@acme.example "${H[@]}")"
is "$(verdicts)" "fail,fail" "mode trust: both from the trusted header"
conf bad "[auth]" "mode = sometimes"
check_not "mode = sometimes is refused" "$LEADGATE" -c "$T/bad.conf" config check

# the rules see the verdicts: environment "vnd.leadgate.spf" / "vnd.leadgate.dmarc"
cat > "$T/rules/10-auth.sieve" <<'EOF'
require ["vnd.leadgate", "environment"];
if environment :is "vnd.leadgate.spf" "fail" {
  spam;
} elsif environment :is "vnd.leadgate.dmarc" ["fail", "permerror"] {
  lead :source "dmarc-failed";
} elsif environment :matches "remote-ip" "*" {
  lead :source "has-client";
}
EOF
check "the rule file is valid" lg rules check
ingest auth "$(mk stranger@else.example "Authentication-Results: mx.example.test; spf=fail smtp.mailfrom=else.example" "$OURS")"
is "$(last status),$(last hidden),$(last decided_by)" "lost,1,rule:10-auth.sieve:3" "rules: environment vnd.leadgate.spf :is fail → spam"
ingest auth "$(mk stranger2@else.example "Authentication-Results: mx.example.test; spf=pass; dmarc=fail" "$OURS")"
is "$(last source)" "dmarc-failed" "rules: environment vnd.leadgate.dmarc"
ingest auth "$(mk stranger3@else.example "$OURS" "$THEIRS" "Authentication-Results: mx.example.test; spf=fail")"
is "$(last status),$(last source)" "won,email" "rules: a forged verdict is not seen, no client address: remote-ip has no value"
printf 'require "environment";\nif environment :is "vnd.leadgate.sfp" "fail" { keep; }\n' > "$T/rules/20-typo.sieve"
like "$(lg rules check 2>&1)" 'unknown environment item "vnd.leadgate.sfp"' "an unknown environment item is an error"
printf 'if environment :is "name" "leadgate" { keep; }\n' > "$T/rules/20-typo.sieve"
like "$(lg rules check 2>&1)" "'environment' needs require \"environment\"" "environment needs its require"
rm -f "$T/rules/20-typo.sieve"

done_testing
