# tests/postfix/inbound.sh - a real Postfix delivering to leadgate-lmtpd,
# configured from contrib/postfix/ (see postfix-lib.sh): swaks -> smtpd ->
# the lmtp: transport -> leadgate-lmtpd, over the UNIX socket in the queue
# directory and over TCP, with XFORWARD (the queue id in lmtpd's log line);
# leads and tickets as the mailbox modes say; an SMTPUTF8 message with a
# UTF-8 sender (Postfix's default smtputf8_enable = yes); a copy of a rep's received
# mail reaching leadgate for the rep's own address (recipient_bcc_maps,
# lmtp_generic_maps) while the rep's mailbox still gets it; leadgate-lmtpd
# running as an unprivileged user with its socket in a set-group-ID folder
# of the queue directory, as docs/deploy.md sets it up; mail flowing
# while the milter is down (milter_default_action = accept), on smtpd and
# submission, and with leadgate-milter up (when built) a rep's mail on
# submission logged as outbound, mail to the rep on smtpd as inbound; the
# snippets' commented options (Postfix's size limit refusing at MAIL, a
# whole domain for leadgate, unknown recipients refused at RCPT after
# Postfix's verify service probed leadgate); a message over leadgate's max_message_size bounced by
# Postfix, never a lead.
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/postfix/postfix-lib.sh"
pf_require

check "smtp-sink stands in for the reps' mailboxes and the outside world" sink_start
check "database, mailboxes, a sales rep" lg_setup
check "the private Postfix's config from contrib/postfix" pf_config unix
check "postfix -c starts the private instance on loopback" pf_start
check "leadgate-lmtpd on the socket in the queue directory and on TCP" lmtpd_up
[ -z "$LG_USER" ] ||
is "$(stat -c '%U:%G %a' "$LMTPD_SOCK")" "$LG_USER:postfix 660" \
	"the daemon runs as $LG_USER; its socket is group postfix by the folder's set-group-ID bit alone"
diag "smtpd 127.0.0.1:$SMTPD_PORT, submission $SUB_PORT, lmtpd $LMTPD_PORT, sink $SINK_PORT"
is "$(postconf -c "$PFC" -h lmtp_send_xforward_command milter_default_action | tr '\n' ' ')" "yes accept " \
	"the instance runs with the snippet's XFORWARD and milter settings"

# lead_of MSGID MAILBOX: "status ticket" of the lead
lead_of() {
	sqlq "SELECT l.status || ' ' || coalesce(l.ticket_id, '-') FROM leads l JOIN messages m ON m.id = l.message_id
	      WHERE m.message_id = '$1' AND l.recipient = '$2'"
}
leads_of() { sqlq "SELECT count(*) FROM leads l JOIN messages m ON m.id = l.message_id WHERE m.message_id = '$1'"; }

# --- over the UNIX socket ---------------------------------------------------------
check "a message to support@ is queued" send --to support@example.com \
	--header "Subject: printer on fire" --header "Message-Id: <unix1@customer.test>"
q1=$QID
check "... and delivered (the queue empties)" queue_wait 20
like "$(grep "$q1: to=<support@example.com>" "$PFLOG")" 'relay=[^ ]*\[leadgate/lmtp\].* status=sent \(250 2\.0\.0 .*lead [0-9]+ ticket [0-9]+' \
	"Postfix delivered it over the socket in its queue directory; leadgate named lead and ticket"
like "$(lead_of unix1@customer.test support@example.com)" '^won [0-9]+$' "support@ (always): lead won, ticket"
like "$(grep 'message-id=<unix1@customer.test>' "$LMTPD_LOG")" ": $q1: message-id=<unix1@customer\.test> from=<bob@customer\.test> to=<support@example\.com> outcome=recorded" \
	"lmtpd's log line carries Postfix's queue id (XFORWARD IDENT)"

# One message, two mailboxes: one transaction, a lead each, one ticket.
check "a message to support@ and sales@" send --to support@example.com,sales@example.com \
	--header "Subject: quote" --header "Message-Id: <unix2@customer.test>"
q2=$QID
check "... delivered" queue_wait 20
is "$(grep -c "$q2: to=<.*status=sent" "$PFLOG")" 2 "both recipients sent"
is "$(leads_of unix2@customer.test)" 2 "a lead per mailbox"
is "$(sqlq "SELECT count(DISTINCT l.ticket_id) FROM leads l JOIN messages m ON m.id = l.message_id WHERE m.message_id = 'unix2@customer.test' AND l.ticket_id IS NOT NULL")" 1 \
	"at most one ticket"
like "$(lead_of unix2@customer.test sales@example.com)" '^(unread|won) ' "sales@ (existing) has its lead"

# --- SMTPUTF8 (Postfix's default smtputf8_enable = yes) ---------------------------
smtp_session() {  # smtp_session PORT: the session on stdin (LF -> CRLF), replies out
	exec 6<>"/dev/tcp/127.0.0.1/$1" || return 1
	sed 's/$/\r/' >&6
	timeout 20 cat <&6 | tr -d '\r'
	exec 6<&-
}
out=$(smtp_session "$SMTPD_PORT" <<'EOF'
EHLO client.customer.test
MAIL FROM:<jörg@customer.test> SMTPUTF8
RCPT TO:<support@example.com>
DATA
From: Jörg Müller <jörg@customer.test>
To: support@example.com
Subject: Grüße aus Köln
Message-Id: <utf8-1@customer.test>

Schöne Grüße.
.
QUIT
EOF
)
like "$out" '250 2\.0\.0 Ok: queued as' "an SMTPUTF8 message with a UTF-8 sender is queued"
check "... delivered" queue_wait 20
like "$(grep 'message-id=<utf8-1@customer.test>' "$LMTPD_LOG")" 'from=<jörg@customer\.test> to=<support@example\.com> outcome=recorded' \
	"leadgate-lmtpd took it from Postfix with its UTF-8 sender"
is "$(sqlq "SELECT subject FROM messages WHERE message_id = 'utf8-1@customer.test'")" "Grüße aus Köln" "... subject intact"

# --- a rep's received mail: the rep's mailbox and a copy for leadgate -------------
check "a message to the rep alice@" send --to alice@example.com \
	--header "Subject: our offer" --header "Message-Id: <rep1@customer.test>"
q3=$QID
check "... delivered" queue_wait 20
like "$(grep "$q3: to=<alice@example.com>" "$PFLOG" | grep -v 'leadgate-copy')" 'relay=127\.0\.0\.1\[127\.0\.0\.1\]:[0-9]+.*status=sent' \
	"the rep's mailbox (smtp-sink) got it"
like "$(grep "$q3: to=<alice@example.com.leadgate-copy.invalid>" "$PFLOG")" 'relay=[^ ]*\[leadgate/lmtp\].*status=sent' \
	"recipient_bcc_maps added the copy, the transport table sent it to leadgate"
like "$(grep "$q3: message-id=<rep1@customer.test>" "$LMTPD_LOG")" 'to=<alice@example\.com> ' \
	"leadgate saw the rep's own address (lmtp_generic_maps took the suffix off)"
rcpts=$(grep -h '^X-Rcpt-Args:' "$SINK_DIR"/* 2>/dev/null)
like "$rcpts" '<alice@example\.com>' "smtp-sink saw alice@ as a recipient"
unlike "$rcpts" 'leadgate-copy' "... and never the copy's address: it does not leave for the outside"

# --- the milter is not running: mail flows --------------------------------------
like "$(cat "$PFLOG")" "warning: connect to Milter service inet:127\.0\.0\.1:$MILTER_PORT: Connection refused" \
	"smtpd tried the milter (smtpd_milters from the snippet)"
unlike "$(cat "$PFLOG")" 'milter-reject|status=bounced|NOQUEUE' "... and nothing was refused for it (milter_default_action = accept)"
SEND_PORT=$SUB_PORT FROM=alice@example.com \
check "submission (the snippet's service, on loopback) takes a rep's mail while the milter is down" \
	send --to carol@customer.test --header "Subject: sent" --header "Message-Id: <out1@example.com>"
check "... and delivers it" queue_wait 20
like "$(grep 'postfix/submission/smtpd' "$PFLOG" | head -5)" 'submission' "it came in through the submission service"
like "$(grep 'to=<carol@customer.test>' "$PFLOG")" 'status=sent' "carol's mail went out"

# --- with leadgate-milter running (when it is built) ----------------------------
# The snippet's smtpd_milters reaches the real milter, and the submission
# service's milter_macro_daemon_name = ORIGINATING makes a rep's mail
# outbound, while mail from outside to the rep on smtpd is inbound.
MILTER="$top_builddir/milter/leadgate-milter"
MILTER_LOG="$T/milter.log"
milter_sync() {  # milter_sync MSGID: the directions the sync log has for alice
	sqlq "SELECT group_concat(direction, ' ') FROM v_sync_log WHERE user_email = 'alice@example.com' AND message_id LIKE '%$1%'"
}
if [ -x "$MILTER" ]; then
	mkdir -p "$LGDIR/spool" && { [ -z "$LG_USER" ] || chown "$LG_USER" "$LGDIR/spool"; }
	{ cat "$T/lmtpd.conf"; printf '[milter]\nspool_dir = %s\n[sync]\ninternal_domains = example.com\n' "$LGDIR/spool"; } > "$T/milter.conf"
	# Under strace when there is one (and systemd-analyze to say what
	# contrib/systemd/leadgate-milter.service allows): its calls are
	# checked against the unit's filter at the end. strace runs as the
	# user too, and LeakSanitizer cannot run under it.
	MTRACE=()
	if command -v strace >/dev/null && command -v systemd-analyze >/dev/null; then
		MTRACE=(env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -qq -o "$LGDIR/milter.trace")
	fi
	"${AS_LG[@]}" "${MTRACE[@]}" "$MILTER" -c "$T/milter.conf" --listen "inet:$MILTER_PORT@127.0.0.1" 2>>"$MILTER_LOG" &
	MILTER_PID=$!
	lg_track "$MILTER_PID"
	check "leadgate-milter starts on the port the snippet's smtpd_milters names" wait_for port_in_use "$MILTER_PORT"
	# the milter itself (strace's child when traced): signals go to it
	[ ${#MTRACE[@]} = 0 ] || { MILTER_PID=$(pgrep -P "$MILTER_PID" | head -1); lg_track "$MILTER_PID"; }
	nw=$(grep -c 'Milter service' "$PFLOG")
	SEND_PORT=$SUB_PORT FROM=alice@example.com \
	check "a rep's mail on submission, with the milter running" \
		send --to carol@customer.test --header "Subject: offer" --header "Message-Id: <out2@example.com>"
	check "... delivered" queue_wait 20
	check "mail from outside to the rep on smtpd" send --to alice@example.com \
		--header "Subject: reply" --header "Message-Id: <in2@customer.test>"
	check "... delivered" queue_wait 20
	is "$(grep -c 'Milter service' "$PFLOG")" "$nw" "Postfix reached the milter every time (no new milter warning)"
	out_seen() { [ -n "$(milter_sync out2@example.com)" ]; }
	in_seen() { [ -n "$(milter_sync in2@customer.test)" ]; }
	wait_for out_seen; wait_for in_seen
	like "$(milter_sync out2@example.com)" '^out(bound)?$' "the milter logged the submission's mail as alice's outbound (ORIGINATING)"
	like "$(milter_sync in2@customer.test)" '^in(bound)?$' "... and smtpd's mail to her as inbound"
	kill -TERM "$MILTER_PID"
	for i in $(seq 100); do kill -0 "$MILTER_PID" 2>/dev/null || break; sleep 0.1; done
	check "leadgate-milter stops on SIGTERM" sh -c "! kill -0 $MILTER_PID 2>/dev/null"
	if [ ${#MTRACE[@]} != 0 ]; then
		source "$top_srcdir/tests/postfix/unit-lib.sh"
		unit_filter "$T/allowed.net"
		for i in $(seq 50); do [ -z "$(pgrep -f "strace -f -qq -o $LGDIR/milter.trace")" ] && break; sleep 0.1; done
		diag "leadgate-milter made $(syscalls "$LGDIR/milter.trace" | wc -l) distinct system calls"
		is "$(refused "$LGDIR/milter.trace" "$T/allowed.net")" "" \
			"every call the milter made passes its unit's SystemCallFilter=@system-service ~@privileged"
		like "$(families "$LGDIR/milter.trace")" '^(AF_(INET|INET6|UNIX) )*$' \
			"... and every socket it opened is AF_INET, AF_INET6 or AF_UNIX ($(families "$LGDIR/milter.trace"))"
	fi
	unlike "$(cat "$MILTER_LOG")" 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "the milter's log has no sanitizer complaint"
else
	skip "leadgate-milter is not built: the mail only flowed with the milter down"
fi

# --- over the size limit: Postfix bounces, no lead -------------------------------
head -c 200000 /dev/zero | tr '\0' 'x' | fold -w 76 > "$T/big.txt"
check "a message of 200 kB to support@ is queued (Postfix's own limit is larger)" send --to support@example.com \
	--header "Subject: big" --header "Message-Id: <big1@customer.test>" --body "@$T/big.txt"
qb=$QID
check "... and leaves the queue" queue_wait 20
like "$(grep "$qb: to=<support@example.com>" "$PFLOG")" 'status=bounced \(message size [0-9]+ exceeds size limit 102400 of server' \
	"Postfix bounced it for the SIZE leadgate advertises, without sending it"
is "$(leads_of big1@customer.test)" 0 "it never became a lead"
is "$(sqlq "SELECT count(*) FROM messages WHERE message_id = 'big1@customer.test'")" 0 "... nor a message"
check "the bounce went back to the sender" log_wait "to=<bob@customer.test>.*status=sent" 20
like "$(grep -l 'Undelivered Mail Returned to Sender' "$SINK_DIR"/* 2>/dev/null | xargs -r grep -h 'exceeds size limit' | head -1)" 'exceeds size limit' \
	"... saying why"

# The same message announced without SIZE (leadgate's 552 at the end of the
# data): an LMTP client that does not use SIZE.
out=$(printf 'LHLO c\r\nMAIL FROM:<bob@customer.test>\r\nRCPT TO:<support@example.com>\r\nDATA\r\nSubject: big\r\nMessage-Id: <big2@customer.test>\r\n\r\n%s\r\n.\r\nQUIT\r\n' "$(cat "$T/big.txt")" |
	as_lg "$LMTPD" -S -c "$T/lmtpd.conf" 2>>"$LMTPD_LOG" | tr -d '\r' | grep -o '^552 5\.3\.4' | head -1)
is "$out" "552 5.3.4" "without SIZE, leadgate answers 552 5.3.4 at the end of the data"
is "$(leads_of big2@customer.test)" 0 "... and records nothing"

# --- the snippets' commented options ------------------------------------------
# Postfix's own size limit (refused at the SMTP stage, no bounce), a domain
# that is leadgate's as a whole, and unknown recipients refused at the SMTP
# stage by asking leadgate (reject_unverified_recipient: Postfix's verify
# service probes leadgate-lmtpd with MAIL and RCPT, and no data).
check "Postfix stops" pf_stop
PF_OPTIONAL=1 check "the config again with main.cf's and the table's commented options in" pf_config unix
is "$(postconf -c "$PFC" -h message_size_limit)" 52428800 "message_size_limit from the snippet"
like "$(postconf -c "$PFC" -h smtpd_recipient_restrictions | tr -s ' \n' ' ')" 'reject_unverified_recipient' \
	"smtpd_recipient_restrictions from the snippet"
check "Postfix starts again" pf_start
check "a mailbox in the domain that is leadgate's" lg mailbox add support@help.example.com --mode always
printf '[inbound]\ncatch_all = none\n' >> "$T/lmtpd.conf"
nrel=$(grep -c 'reloaded' "$LMTPD_LOG")
kill -HUP "$LMTPD_PID"
reloaded() { [ "$(grep -c 'reloaded' "$LMTPD_LOG")" -gt "$nrel" ]; }
check "leadgate-lmtpd reloads with catch_all = none" wait_for reloaded
check "a message to support@help.example.com (a stranger's, verified first)" send --to support@help.example.com \
	--header "Subject: whole domain" --header "Message-Id: <dom1@customer.test>"
check "... delivered" queue_wait 20
like "$(grep "$QID: to=<support@help.example.com>" "$PFLOG")" 'relay=[^ ]*\[leadgate/lmtp\].*status=sent' \
	"the whole-domain line sent it to leadgate"
like "$(lead_of dom1@customer.test support@help.example.com)" '^won [0-9]+$' "lead and ticket"
check_not "a message to nobody@help.example.com is refused at RCPT" send --to nobody@help.example.com \
	--header "Message-Id: <dom2@customer.test>"
like "$(grep 'NOQUEUE: reject: RCPT' "$PFLOG" | grep 'nobody@help.example.com')" \
	'450 4\.1\.1 <nobody@help\.example\.com>: Recipient address rejected: (unverified|undeliverable) address: .*said: 550 5\.1\.1' \
	"... by smtpd (450: Postfix's unverified_recipient_reject_code), with leadgate's 550 5.1.1 from the probe"
like "$(cat "$LMTPD_LOG")" 'reject: RCPT from .*<nobody@help\.example\.com>: unknown recipient' "leadgate-lmtpd answered the probe"
is "$(sqlq "SELECT count(*) FROM messages WHERE message_id = 'dom2@customer.test'")" 0 "nothing recorded for it"
exec 5<>"/dev/tcp/127.0.0.1/$SMTPD_PORT"
out=$(timeout 10 bash -c 'read -r g <&5; printf "EHLO c.customer.test\r\nMAIL FROM:<bob@customer.test> SIZE=60000000\r\nQUIT\r\n" >&5; cat <&5' | tr -d '\r')
exec 5<&-
like "$out" '552 5\.3\.4 Message size exceeds fixed limit' "a message declared larger than message_size_limit is refused at MAIL"
is "$(grep -c 'status=bounced' "$PFLOG")" 1 "no bounce in this part (the one is the earlier oversize message)"

# --- over TCP ------------------------------------------------------------------
check "Postfix stops" pf_stop
check "the config again with the transport table's TCP lines" pf_config tcp
like "$(postmap -c "$PFC" -q support@example.com "hash:$PFC/leadgate_transport")" "^lmtp:inet:127\.0\.0\.1:$LMTPD_PORT\$" \
	"support@ goes over TCP now"
check "Postfix starts again" pf_start
check "a message to support@ over TCP" send --to support@example.com \
	--header "Subject: over tcp" --header "Message-Id: <tcp1@customer.test>"
qt=$QID
check "... delivered" queue_wait 20
like "$(grep "$qt: to=<support@example.com>" "$PFLOG")" "relay=127\.0\.0\.1\[127\.0\.0\.1\]:$LMTPD_PORT.*status=sent \(250 2\.0\.0 " \
	"Postfix delivered it over TCP"
like "$(grep 'message-id=<tcp1@customer.test>' "$LMTPD_LOG")" ": $qt: message-id=<tcp1@customer\.test> .*outcome=recorded" \
	"lmtpd logged it with the queue id"
like "$(lead_of tcp1@customer.test support@example.com)" '^won [0-9]+$' "lead and ticket"

is "$(grep -c 'status=bounced' "$PFLOG")" 1 "exactly one bounce in the whole run: the oversize message"
unlike "$(cat "$PFLOG")" 'fatal:|panic:' "Postfix logged no fatal error"
lmtpd_down
unlike "$(cat "$LMTPD_LOG")" 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "lmtpd's log has no sanitizer complaint"
done_testing
