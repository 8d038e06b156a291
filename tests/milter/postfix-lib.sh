# tests/milter/postfix-lib.sh - a private Postfix for the milter's tests and
# bench: its own config, queue and log under $T/pf, loopback only, its
# smtpd on $P_SMTPD as a submission service (milter_macro_daemon_name =
# ORIGINATING) relaying everything to a sink on $P_SINK. Source after
# tests/lib.sh; needs root, the postfix user and Postfix's programs.
#   pf_need          skip_all unless all that is here
#   pf_ports         P_SMTPD P_SINK P_MILTER: three free loopback ports
#   pf_setup MILTERS writes the config (smtpd_milters = MILTERS, may be empty)
#   pf_start / pf_stop / pf_milters MILTERS (reload with other milters)
pf_need() {
  [ "$(id -u)" = 0 ] || skip_all "a private Postfix needs root"
  for p in postfix postconf smtp-sink python3; do
    command -v "$p" >/dev/null 2>&1 || skip_all "$p is not installed"
  done
  id postfix >/dev/null 2>&1 || skip_all "no postfix user"
}
pf_ports() {
  read -r P_SMTPD P_SINK P_MILTER P_OTHER < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(4)]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
  [ -n "$P_OTHER" ]
}
pf_setup() {
  chmod 755 "$T"   # Postfix's daemons run as postfix and must reach their folders
  PF="$T/pf"
  mkdir -p "$PF/etc" "$PF/queue" "$PF/data" "$PF/sink"
  chown postfix "$PF/data" "$PF/sink"
  printf '%s\n' \
    "compatibility_level = 3.6" \
    "queue_directory = $PF/queue" \
    "data_directory = $PF/data" \
    "mail_owner = postfix" \
    "setgid_group = postdrop" \
    "inet_interfaces = 127.0.0.1" \
    "inet_protocols = ipv4" \
    "myhostname = lgtest.localdomain" \
    "mydestination =" \
    "relayhost = [127.0.0.1]:$P_SINK" \
    "mynetworks = 127.0.0.0/8" \
    "smtpd_relay_restrictions = permit_mynetworks, reject" \
    "smtpd_milters = $1" \
    "milter_default_action = accept" \
    "alias_maps =" \
    "alias_database =" \
    "maillog_file_prefixes = $T" \
    "maillog_file = $PF/maillog" \
    "smtp_tls_security_level = none" \
    "smtp_dns_support_level = disabled" \
    "default_process_limit = 200" \
    "biff = no" > "$PF/etc/main.cf"
  printf '%s\n' \
    "127.0.0.1:$P_SMTPD inet n - n - - smtpd" \
    "  -o milter_macro_daemon_name=ORIGINATING" \
    "pickup    unix  n - n 60 1 pickup" \
    "cleanup   unix  n - n -  0 cleanup" \
    "qmgr      unix  n - n 300 1 qmgr" \
    "rewrite   unix  - - n -  - trivial-rewrite" \
    "bounce    unix  - - n -  0 bounce" \
    "defer     unix  - - n -  0 bounce" \
    "trace     unix  - - n -  0 bounce" \
    "verify    unix  - - n -  1 verify" \
    "flush     unix  n - n 1000? 0 flush" \
    "proxymap  unix  - - n -  - proxymap" \
    "smtp      unix  - - n -  - smtp" \
    "relay     unix  - - n -  - smtp" \
    "showq     unix  n - n -  - showq" \
    "error     unix  - - n -  - error" \
    "retry     unix  - - n -  - error" \
    "discard   unix  - - n -  - discard" \
    "anvil     unix  - - n -  1 anvil" \
    "scache    unix  - - n -  1 scache" \
    "postlog   unix-dgram n - n - 1 postlogd" > "$PF/etc/master.cf"
}
pf_start() {
  postfix -c "$PF/etc" start >"$T/pf.err" 2>&1 || return 1
  trap 'pf_stop; lg_cleanup' EXIT
}
pf_stop() { postfix -c "$PF/etc" stop >/dev/null 2>&1; }
pf_milters() {
  postconf -c "$PF/etc" -e "smtpd_milters = $1" && postfix -c "$PF/etc" reload >/dev/null 2>&1
}
