#!/bin/bash
# tests/lmtp/ops.sh - operation: a stalled client does not hold the others,
# privileges are dropped to the configured user, unix sockets get their mode.
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/lmtp/lmtp-lib.sh"

deliver_one() {  # deliver_one PORT MSGID: prints the session
  lmtp_tcp "$1" <<EOT
LHLO test
MAIL FROM:<a@customer.test>
RCPT TO:<support@example.test>
DATA
From: a@customer.test
Subject: $2
Message-ID: <$2@customer.test>

body
.
QUIT
EOT
}

# a client that stalls in the middle of a transaction holds no one else up
lmtpd_conf
lmtpd_mailboxes
lmtpd_start || { echo "not ok 1 - daemon did not start"; echo 1..1; exit 1; }
# the process keeps its own name (ps, pkill, top): it does not re-execute itself
is "$(cat "/proc/$LMTPD_PID/comm")" "leadgate-lmtpd" "the daemon's process name is leadgate-lmtpd"
exec 4<>"/dev/tcp/127.0.0.1/$LMTPD_PORT"
printf 'LHLO slow\r\nMAIL FROM:<slow@customer.test>\r\nRCPT TO:<support@example.test>\r\nDATA\r\nSubject: half\r\n' >&4
out=$(deliver_one "$LMTPD_PORT" fast1)
like "$out" "250 2\.0\.0" "a second client is served while the first one stalls mid-DATA"
is "$(sqlq "select count(*) from messages where message_id='fast1@customer.test'")" 1 "  ... and its message is recorded"
exec 4<&-
lmtpd_stop

# privileges: bind as root, then run as the configured user
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
  grp=$(id -gn nobody)
  mkdir -p "$T/var"
  chown nobody "$T/var"
  chmod 755 "$T"
  lmtpd_conf "user = nobody" "group = $grp" "socket_mode = 0600"
  sed -i "s|^database = .*|database = $T/var/lg.db|" "$T/lmtpd.conf"
  lmtpd_start --listen "unix:$T/lmtp.sock" || { echo "not ok - privileged start failed"; cat "$LMTPD_LOG"; }
  uid=$(awk '/^Uid:/ { print $2 }' "/proc/$LMTPD_PID/status")
  is "$uid" "$(id -u nobody)" "the daemon runs as the configured user"
  is "$(stat -c %a "$T/lmtp.sock")" "600" "the unix socket has the configured mode"
  is "$(stat -c %U "$T/var/lg.db")" "nobody" "the database is created by that user"
  "$LEADGATE" -d "$T/var/lg.db" mailbox add support@example.test --mode always >/dev/null
  chown nobody "$T"/var/lg.db*
  out=$(deliver_one "$LMTPD_PORT" priv1)
  like "$out" "250 2\.0\.0" "delivery works after the privilege drop"
  lmtpd_stop
else
  for i in 1 2 3 4; do skip "not root"; done
fi
done_testing
