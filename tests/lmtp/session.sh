# tests/lmtp/session.sh - raw LMTP sessions through `leadgate-lmtpd -S`:
# every reply code, pipelining, dot-stuffing, bare LF, BDAT, XFORWARD, the
# size and recipient limits, two transactions in one session.
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/lmtp/lmtp-lib.sh"

lmtpd_conf "max_message_size = 2048" "max_recipients = 3"
check "database and mailboxes" lmtpd_mailboxes

# --- greeting and LHLO -----------------------------------------------------
out=$(printf 'LHLO client.test\nQUIT\n' | lmtp_s)
like "$out" '^220 lmtp\.test ' "greeting 220 with the host name"
for ext in PIPELINING ENHANCEDSTATUSCODES 8BITMIME 'SIZE 2048' CHUNKING SMTPUTF8 \
	'XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE'; do
	like "$out" "250[- ]$ext"$'\r' "LHLO advertises $ext"
done
is "$(codes <<<"$out")" "220 250 221" "LHLO and QUIT"
like "$out" '221 2\.0\.0 ' "QUIT 221 2.0.0"

# --- sequence and syntax errors -------------------------------------------
out=$(lmtp_s <<'EOF'
MAIL FROM:<a@customer.test>
HELO client.test
EHLO client.test
LHLO
LHLO client.test
RCPT TO:<support@example.test>
DATA
BDAT 0 LAST
FOO bar
VRFY support@example.test
NOOP
MAIL FROM:a@customer.test
MAIL FROM:<a@customer.test> FOO=1
MAIL FROM:<a@customer.test> BODY=BINARYMIME
MAIL FROM:<a@customer.test> SIZE=999999
MAIL FROM:<a@customer.test> SIZE=100 BODY=8BITMIME SMTPUTF8
MAIL FROM:<b@customer.test>
RCPT TO:<nobody@example.test>
DATA
RCPT TO:<not an address>
RCPT TO:<support@example.test> NOTIFY=NEVER
RSET
DATA
QUIT
EOF
)
is "$(codes <<<"$out")" "220 503 500 500 501 250 503 503 503 500 252 250 501 555 501 552 250 503 550 554 501 555 250 503 221" \
	"reply codes of a session full of mistakes"
like "$out" '503 5\.5\.1 Error: send LHLO first' "MAIL before LHLO: 503 5.5.1"
like "$out" '500 5\.5\.1 Error: this is LMTP' "HELO/EHLO refused with 500"
like "$out" '500 5\.5\.1 Error: command not recognized' "unknown command: 500 5.5.1"
like "$out" '252 2\.5\.2 ' "VRFY: 252"
like "$out" '552 5\.3\.4 ' "MAIL SIZE= over the limit: 552 5.3.4"
like "$out" '550 5\.1\.1 <nobody@example\.test> ' "unknown recipient: 550 5.1.1"
like "$out" '554 5\.5\.1 ' "DATA without a valid recipient: 554"
like "$out" '555 5\.5\.4 ' "unsupported parameter: 555 5.5.4"
is "$(lead_count)" "0" "nothing recorded"

long=$(head -c 3000 /dev/zero | tr '\0' x)
out=$(printf 'LHLO c\nNOOP %s\nNOOP\nQUIT\n' "$long" | lmtp_s)
is "$(codes <<<"$out")" "220 250 500 250 221" "over-long line: 500, session goes on"
like "$out" '500 5\.5\.2 ' "over-long line: 500 5.5.2"

out=$( (echo 'LHLO c'; for i in $(seq 1 25); do echo "BOGUS $i"; done) | lmtp_s)
like "$(codes <<<"$out")" '^220 250( 500){20} 421$' "too many errors: 421 and hang up"

# --- pipelined transactions, mixed recipients --------------------------------
out=$(lmtp_s <<'EOF'
LHLO client.test
MAIL FROM:<alice@customer.test>
RCPT TO:<support@example.test>
RCPT TO:<nobody@example.test>
RCPT TO:<sales@example.test>
DATA
From: Alice <alice@customer.test>
To: support@example.test, sales@example.test
Subject: first
Message-ID: <first@customer.test>

Hello.
.
MAIL FROM:<bob@customer.test>
RCPT TO:<ghost@example.test>
RCPT TO:<Support@Example.TEST>
DATA
From: Bob <bob@customer.test>
To: support@example.test
Subject: second
Message-ID: <second@customer.test>

Hello again.
.
QUIT
EOF
)
is "$(codes <<<"$out")" "220 250 250 250 550 250 354 250 250 250 550 250 354 250 221" \
	"two pipelined transactions: one reply per accepted recipient"
is "$(tr -d '\r' <<<"$out" | grep -o '^250 2\.0\.0 <[^>]*>' | tr '\n' ' ')" \
	"250 2.0.0 <support@example.test> 250 2.0.0 <sales@example.test> 250 2.0.0 <support@example.test> " \
	"DATA replies in RCPT order"
is "$(leads_per_msgid | tr '\n' ' ')" "first@customer.test|2 second@customer.test|1 " \
	"one lead per message and recipient"

# the same message again: 250, nothing doubled
out=$(lmtp_s <<'EOF'
LHLO client.test
MAIL FROM:<bob@customer.test>
RCPT TO:<support@example.test>
RCPT TO:<support@example.test>
DATA
From: Bob <bob@customer.test>
To: support@example.test
Subject: second
Message-ID: <second@customer.test>

Hello again.
.
EOF
)
is "$(codes <<<"$out")" "220 250 250 250 250 354 250 250" "repeated RCPT and a re-sent message: all 250"
is "$(lead_count)" "3" "a re-delivery records nothing new"

# --- dot-stuffing, bare LF, BDAT: the same bytes stored ----------------------
printf 'From: Carol <carol@customer.test>\nSubject: dots\nMessage-ID: <dots@customer.test>\n\n.leading dot\n..two dots\n.\nend\n' > "$T/dots.eml"
out=$(lmtp_s <<'EOF'
LHLO client.test
MAIL FROM:<carol@customer.test>
RCPT TO:<support@example.test>
DATA
From: Carol <carol@customer.test>
Subject: dots
Message-ID: <dots@customer.test>

..leading dot
...two dots
..
end
.
QUIT
EOF
)
is "$(codes <<<"$out")" "220 250 250 250 354 250 221" "DATA with dot-stuffed lines"
rm -f "$T/stored.eml"
sqlq "SELECT writefile('$T/stored.eml', r.data) FROM raw_messages r JOIN messages m ON m.sha256 = r.sha256 WHERE m.message_id = 'dots@customer.test'" >/dev/null
check "stored message is dot-unstuffed, with LF line ends" cmp "$T/dots.eml" "$T/stored.eml"

n=$(lead_count)
out=$( { printf 'LHLO c\nMAIL FROM:<carol@customer.test>\nRCPT TO:<support@example.test>\nDATA\n'
	sed 's/^\./../' "$T/dots.eml"; printf '.\nQUIT\n'; } | lmtp_raw)
is "$(codes <<<"$out")" "220 250 250 250 354 250 221" "a session in bare LF"
like "$out" '250 2\.0\.0 <support@example\.test> Ok: duplicate' "bare-LF copy is the same message (duplicate)"
size=$(wc -c < "$T/dots.eml")
out=$( { printf 'LHLO c\r\nMAIL FROM:<carol@customer.test>\r\nRCPT TO:<support@example.test>\r\nBDAT %d LAST\r\n' "$size"
	cat "$T/dots.eml"; printf 'QUIT\r\n'; } | lmtp_raw)
is "$(codes <<<"$out")" "220 250 250 250 250 221" "BDAT LAST without stuffing"
like "$out" 'Ok: duplicate' "BDAT copy is the same message (duplicate)"
is "$(lead_count)" "$n" "no lead added by the copies"

# --- BDAT in chunks, BDAT errors -----------------------------------------------
msg=$'From: Dave <dave@customer.test>\r\nSubject: chunks\r\nMessage-ID: <chunks@customer.test>\r\n\r\nfirst part, \r\nsecond part\r\n'
c1=${msg:0:40}; c2=${msg:40}
out=$( { printf 'LHLO c\r\nMAIL FROM:<dave@customer.test>\r\nRCPT TO:<support@example.test>\r\nRCPT TO:<sales@example.test>\r\n'
	printf 'BDAT %d\r\n%s' "${#c1}" "$c1"; printf 'BDAT %d LAST\r\n%s' "${#c2}" "$c2"
	printf 'MAIL FROM:<dave@customer.test>\r\nRCPT TO:<support@example.test>\r\nBDAT 5\r\nabcdeDATA\r\nRSET\r\n'
	printf 'BDAT x\r\nMAIL FROM:<dave@customer.test>\r\nRCPT TO:<support@example.test>\r\nBDAT 0 LAST\r\nQUIT\r\n'; } | lmtp_raw)
is "$(codes <<<"$out")" "220 250 250 250 250 250 250 250 250 250 250 503 250 501 250 250 554 221" \
	"BDAT chunks, DATA after BDAT, bad BDAT, empty BDAT LAST"
like "$out" "250 2\\.0\\.0 ${#c1} octets received" "BDAT chunk: octets received"
like "$out" '503 5\.5\.1 Error: DATA after BDAT' "DATA after BDAT: 503"
is "$(leads_per_msgid | grep -c '^chunks@customer.test|2$')" "1" "chunked message: a lead per recipient"

# --- XFORWARD -------------------------------------------------------------------
out=$(lmtp_s <<'EOF'
LHLO client.test
XFORWARD NAME=mail.customer.test ADDR=192.0.2.7 PORT=4711 PROTO=ESMTP
XFORWARD HELO=helo.customer.test IDENT=4XyzQ1 SOURCE=REMOTE
XFORWARD COLOUR=blue
MAIL FROM:<erin@customer.test>
XFORWARD ADDR=198.51.100.1
RCPT TO:<support@example.test>
DATA
From: Erin <erin@customer.test>
Subject: xforward
Message-ID: <xf@customer.test>

Hi.
.
QUIT
EOF
)
is "$(codes <<<"$out")" "220 250 250 250 501 250 503 250 354 250 221" "XFORWARD accepted before MAIL, refused inside"
is "$(sqlq "SELECT client_addr, client_name, client_helo, queue_id FROM messages WHERE message_id = 'xf@customer.test'")" \
	"192.0.2.7|mail.customer.test|helo.customer.test|4XyzQ1" "XFORWARD attributes kept with the message"

# --- size limit while reading, recipient limit --------------------------------
n=$(lead_count)
big=$(for i in $(seq 1 80); do echo "line $i of a message that is far too big for the 2048 byte limit"; done)
out=$( { printf 'LHLO c\nMAIL FROM:<frank@customer.test>\nRCPT TO:<support@example.test>\nRCPT TO:<sales@example.test>\nDATA\nSubject: big\n\n'
	echo "$big"; printf '.\nNOOP\nQUIT\n'; } | lmtp_s)
is "$(codes <<<"$out")" "220 250 250 250 250 354 552 552 250 221" "DATA over the size limit: 552 per recipient, session goes on"
like "$out" '552 5\.3\.4 <support@example\.test> ' "552 5.3.4"
b1=$(head -c 1500 /dev/zero | tr '\0' a)
out=$( { printf 'LHLO c\r\nMAIL FROM:<frank@customer.test>\r\nRCPT TO:<support@example.test>\r\n'
	printf 'BDAT 1500\r\n%s' "$b1"; printf 'BDAT 1500\r\n%s' "$b1"; printf 'BDAT 3 LAST\r\nabc'
	printf 'NOOP\r\nQUIT\r\n'; } | lmtp_raw)
is "$(codes <<<"$out")" "220 250 250 250 250 552 552 250 221" "BDAT over the size limit: 552, chunks still read"
is "$(lead_count)" "$n" "nothing recorded for a message over the limit"

out=$(lmtp_s <<'EOF'
LHLO c
MAIL FROM:<gina@customer.test>
RCPT TO:<support@example.test>
RCPT TO:<sales@example.test>
RCPT TO:<support@example.test>
RCPT TO:<sales@example.test>
RSET
QUIT
EOF
)
is "$(codes <<<"$out")" "220 250 250 250 250 250 452 250 221" "recipient limit: 452"
like "$out" '452 4\.5\.3 ' "452 4.5.3"

# --- a client that goes away in the middle of DATA ---------------------------------
n=$(lead_count)
out=$(printf 'LHLO c\nMAIL FROM:<h@customer.test>\nRCPT TO:<support@example.test>\nDATA\nSubject: cut\n\npart' | lmtp_s)
is "$(codes <<<"$out")" "220 250 250 250 354" "EOF inside DATA: no reply"
is "$(lead_count)" "$n" "EOF inside DATA: nothing recorded"
like "$(cat "$LMTPD_LOG")" 'lost connection after DATA' "EOF inside DATA is logged"

# --- a rule whose regex hits the PCRE2 match limit -----------------------------
# It never matches; the daemon says so in its log, with the rule's file and
# line, once (rate-limited), not once per message.
mkdir -p "$T/rules"
printf 'require ["vnd.leadgate", "regex"];\n\nif header :regex "subject" "^(a|aa)+$" {\n  spam;\n}\n' \
	> "$T/rules/50-slow.sieve"
lmtpd_conf
printf '[rules]\nregex_match_limit = 100\n' >> "$T/lmtpd.conf"
msg() { printf 'MAIL FROM:<regex@customer.test>\nRCPT TO:<support@example.test>\nDATA\nSubject: %s\nMessage-ID: <%s@customer.test>\n\nx\n.\n' \
	aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab "$1"; }
out=$( { echo "LHLO c"; msg limit1; msg limit2; echo QUIT; } | lmtp_s)
is "$(codes <<<"$out")" "220 250 250 250 354 250 250 250 354 250 221" \
	"two messages against a rule that hits the match limit: accepted"
like "$(cat "$LMTPD_LOG")" "warning: rules: $T/rules/50-slow\.sieve:3:[0-9]+: regular expression \"\^\(a\|aa\)\+\\\$\" on .*: the match limit was reached; treated as no match" \
	"the daemon logs the regex that hit the match limit, with its file and line"
is "$(grep -c 'the match limit was reached' "$LMTPD_LOG")" "1" "... once, not once per message"
rm -f "$T/rules/50-slow.sieve"

done_testing
