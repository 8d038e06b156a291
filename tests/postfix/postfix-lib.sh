# tests/postfix/postfix-lib.sh - a private Postfix in front of the build
# tree's leadgate-lmtpd. Source after tests/tap.sh and tests/lib.sh.
#
# The instance is Postfix's own programs with a config directory, queue and
# data directory under the test's scratch folder: `postfix -c DIR start`,
# loopback ports only, no multi_instance set-up, so the system's Postfix (its
# main.cf and master.cf, its queue, its master) is never used, changed,
# started or stopped; only the package's own files (postfix-files,
# dynamicmaps.cf in /etc/postfix) are read. Its main.cf and master.cf are contrib/postfix/'s files with only
# paths and ports put in (pf_config says exactly what else is the test's),
# so the shipped snippets are the ones tested.
#
#   pf_require             root and the programs (installs the postfix and
#                          swaks packages when missing; skip_all otherwise)
#   lg_setup               database, mailboxes, the rep, lmtpd's config;
#                          as_lg CMD: CMD as the daemon's user (nobody)
#   lmtpd_up               start leadgate-lmtpd on the socket in the queue
#                          directory and on $LMTPD_PORT; $LMTPD_PID;
#                          lmtpd_down: SIGTERM, bounded wait
#   sink_start             smtp-sink: the reps' mailboxes and the outside
#                          world (bounces land there); $SINK_PORT, $SINK_DIR
#   pf_config unix|tcp     write the instance's config from contrib/postfix
#                          (PF_OPTIONAL=1: with its commented options in)
#   pf_start, pf_stop      the instance (pf_stop also runs at exit)
#   send ARGS              swaks to the instance's smtpd; queue id in $QID
#   queue_wait [SECS]      until the queue is empty (bounded); queue_ids
#   pq_flush               postqueue -f
#   log_wait REGEX [SECS]  until the maillog matches (bounded)
PF="$T/pf"; PFC="$PF/etc"; PFQ="$PF/spool"; PFD="$PF/data"; PFLOG="$PF/maillog"
CONTRIB="$top_srcdir/contrib/postfix"
LMTPD_LOG="$T/lmtpd.log"
LMTPD_SOCK="$PFQ/leadgate/lmtp"
SINK_DIR="$T/sink"
: > "$LMTPD_LOG"

pf_pkg() {  # pf_pkg PACKAGE: install it quietly, never configuring Postfix
	[ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || return 1
	# "No configuration": installing must not set up or start the system's Postfix
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections 2>/dev/null
	DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -q --no-install-recommends "$1" >/dev/null 2>&1
}

pf_require() {
	[ "$(id -u)" = 0 ] || skip_all "needs root: Postfix's master runs its services as the postfix user"
	command -v setpriv >/dev/null || skip_all "needs setpriv (util-linux) to run leadgate-lmtpd as an unprivileged user"
	if ! command -v postfix >/dev/null || ! command -v smtp-source >/dev/null || ! command -v smtp-sink >/dev/null; then
		pf_pkg postfix || skip_all "postfix is not installed and apt-get install postfix failed"
	fi
	command -v swaks >/dev/null || pf_pkg swaks || skip_all "swaks is not installed and apt-get install swaks failed"
	command -v sqlite3 >/dev/null || skip_all "needs the sqlite3 shell"
	id postfix >/dev/null 2>&1 && getent group postdrop >/dev/null ||
		skip_all "no postfix user or postdrop group (the postfix package sets them up)"
}

port_in_use() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
# free_port NAME: set NAME to a free TCP port on loopback, from a random
# start, and one not handed out before (not in a subshell: it remembers)
free_port() {
	local p=$(( 20000 + RANDOM % 20000 )) i
	for i in $(seq 200); do
		if ! port_in_use "$p" && [[ " ${_pf_ports:-} " != *" $p "* ]]; then
			_pf_ports="${_pf_ports:-} $p"
			printf -v "$1" '%s' "$p"
			return 0
		fi
		p=$((p + 1))
	done
	return 1
}
# wait_for CMD...: until CMD succeeds, 20 s at most (tenths)
wait_for() {
	local i
	for i in $(seq 200); do "$@" && return 0; sleep 0.1; done
	return 1
}

# --- leadgate-lmtpd -----------------------------------------------------------
# As deployed (contrib/systemd), the daemon runs as an unprivileged user
# from the start, with its database in a folder of that user's, and
# listens in a folder of its own in Postfix's queue directory that is
# set-group-ID postfix, so that its socket is Postfix's group's without any
# chown. Here the user is nobody (as root; otherwise the test's user).
LGDIR="$T/db"
LGDB="$LGDIR/lg.db"
LG_USER=
[ "$(id -u)" = 0 ] && LG_USER=nobody
AS_LG=()
[ -z "$LG_USER" ] || AS_LG=(setpriv --reuid="$LG_USER" --regid="$(id -g "$LG_USER")" --clear-groups --)
as_lg() { "${AS_LG[@]}" "$@"; }
lg() { as_lg "$LEADGATE" -c "$T/lmtpd.conf" "$@"; }
sqlq() { sqlite3 -batch -noheader "$LGDB" "$@"; }

# support@ always (new organization, end user and ticket), sales@ existing
# (a lead only); alice@ is a sales rep, whose mailbox is elsewhere.
lg_setup() {
	free_port LMTPD_PORT || return 1
	# nobody must reach its folders below the scratch folder
	chmod 711 "$T"
	mkdir -p "$LGDIR" "$PFQ/leadgate" || return 1
	[ -z "$LG_USER" ] || chown "$LG_USER" "$LGDIR" "$PFQ/leadgate" || return 1
	cat > "$T/lmtpd.conf" <<EOF
[store]
database = $LGDB
[rules]
directory = $T/rules
[lmtpd]
hostname = lmtp.test
max_message_size = ${LMTPD_MAX_SIZE:-100K}
socket_mode = 0660
EOF
	lg init >/dev/null &&
	lg mailbox add support@example.com --mode always >/dev/null &&
	lg mailbox add sales@example.com --mode existing >/dev/null &&
	lg user add alice@example.com --role sales >/dev/null
}

# lmtpd_up: the daemon on both the unix socket the transport table names and
# a fixed loopback port (Postfix's transport names it, so a restart must
# come back on the same one)
lmtpd_up() {
	# not through a function: $! must be the daemon (setpriv execs it)
	"${AS_LG[@]}" "$LMTPD" -c "$T/lmtpd.conf" --listen "unix:$LMTPD_SOCK" --listen "127.0.0.1:$LMTPD_PORT" 2>>"$LMTPD_LOG" &
	LMTPD_PID=$!
	lg_track "$LMTPD_PID"
	wait_for lmtpd_listening
}
lmtpd_listening() {
	kill -0 "$LMTPD_PID" 2>/dev/null && [ -S "$LMTPD_SOCK" ] && port_in_use "$LMTPD_PORT"
}
lmtpd_down() {
	kill -TERM "$LMTPD_PID" 2>/dev/null
	local i
	for i in $(seq 200); do kill -0 "$LMTPD_PID" 2>/dev/null || break; sleep 0.1; done
	wait "$LMTPD_PID" 2>/dev/null
}

# --- the outside world ----------------------------------------------------------
sink_start() {
	free_port SINK_PORT || return 1
	mkdir -p "$SINK_DIR" && chown postfix "$SINK_DIR"
	# -d: one file per message, in $SINK_DIR
	smtp-sink -u postfix -d "$SINK_DIR/%M." "127.0.0.1:$SINK_PORT" 100 >"$T/sink.log" 2>&1 &
	SINK_PID=$!
	lg_track "$SINK_PID"
	wait_for port_in_use "$SINK_PORT"
}

# --- the private Postfix -------------------------------------------------------
# pf_config VARIANT: main.cf, master.cf and the maps. VARIANT unix keeps the
# transport table as shipped; tcp takes its commented TCP lines instead.
pf_config() {
	local variant=$1
	local v
	for v in SMTPD_PORT SUB_PORT MILTER_PORT; do [ -n "${!v:-}" ] || free_port "$v" || return 1; done
	mkdir -p "$PFC" "$PFQ" "$PFD" || return 1
	# the master opens its lock in data_directory as the postfix user
	chmod 711 "$T"
	chmod 755 "$PF" "$PFQ"
	chown postfix "$PFD" && chmod 700 "$PFD"
	# leadgate's folder in the queue directory, as docs/deploy.md makes it
	chgrp postfix "$PFQ/leadgate" && chmod 2750 "$PFQ/leadgate"
	# What is the test's own: where things are, loopback only, the
	# example.com addresses that are not leadgate's and the outside world
	# (customer.test, where bounces go) handed to smtp-sink, and a short
	# retry time. Then contrib/postfix/main.cf as shipped, paths put in.
	{
		cat <<EOF
# private instance of tests/postfix (postfix-lib.sh): test settings first
compatibility_level = 3.6
queue_directory = $PFQ
data_directory = $PFD
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.example.com
mydestination =
relay_domains = example.com, help.example.com
# (with PF_OPTIONAL the client is a stranger, so that the snippet's
# recipient restrictions apply to it)
mynetworks = $(if [ "${PF_OPTIONAL:-}" ]; then echo 192.0.2.1/32; else echo 127.0.0.0/8; fi)
maillog_file = $PFLOG
maillog_file_prefixes = $T
# nothing of the system's: no /etc/aliases, no local delivery
alias_maps =
alias_database =
local_recipient_maps =
# the outside world is on loopback: no DNS
disable_dns_lookups = yes
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
minimal_backoff_time = 600s
queue_run_delay = 600s
# contrib/postfix/main.cf:
EOF
		sed -e "s|/etc/postfix/|$PFC/|g" -e "s|inet:127\.0\.0\.1:8891|inet:127.0.0.1:$MILTER_PORT|g" "$CONTRIB/main.cf" |
		if [ "${PF_OPTIONAL:-}" ]; then
			# the commented options in: Postfix's size limit and
			# address verification
			sed -e 's/^#\(message_size_limit = \)/\1/' -e 's/^#\(smtpd_recipient_restrictions = \)/\1/' \
			    -e 's/^#\([ \t]*reject_unauth_destination\)/\1/'
		else
			cat
		fi
		if [ -z "${PF_OPTIONAL:-}" ]; then
			# Postfix's own size limit above leadgate's, so that the
			# oversize test reaches leadgate (a site keeps it below)
			printf '\n# test: larger than [lmtpd] max_message_size\nmessage_size_limit = 10240000\n'
		fi
	} > "$PFC/main.cf"
	{
		cat <<EOF
# private instance of tests/postfix (postfix-lib.sh): the services Postfix
# needs (not chrooted: no copies of /etc in the queue directory), smtpd on a
# loopback port, then contrib/postfix/master.cf.
127.0.0.1:$SMTPD_PORT inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
# contrib/postfix/master.cf (submission on a loopback port; no TLS or SASL
# here, so those are switched off after the shipped lines):
EOF
		awk -v port="$SUB_PORT" '
			function overrides() {
				print "  -o smtpd_tls_security_level=none"
				print "  -o smtpd_tls_auth_only=no"
				print "  -o smtpd_sasl_auth_enable=no"
				print "  -o smtpd_relay_restrictions=permit_mynetworks,reject"
			}
			sub_open && !/^[ \t]+-o/ { overrides(); sub_open = 0 }
			/^submission[ \t]/ { sub(/^submission/, "127.0.0.1:" port); sub_open = 1 }
			{ print }
			END { if (sub_open) overrides() }' "$CONTRIB/master.cf"
	} > "$PFC/master.cf"
	if [ "$variant" = tcp ]; then
		# every lmtp:unix: next hop as the table's commented TCP lines say
		sed -e "/^#/!s|lmtp:unix:leadgate/lmtp|lmtp:inet:127.0.0.1:$LMTPD_PORT|" \
		    "$CONTRIB/leadgate_transport" > "$PFC/leadgate_transport"
	elif [ "${PF_OPTIONAL:-}" ]; then
		# the whole-domain line in
		sed -e 's/^#\(help\.example\.com \)/\1/' "$CONTRIB/leadgate_transport" > "$PFC/leadgate_transport"
	else
		cp "$CONTRIB/leadgate_transport" "$PFC/leadgate_transport"
	fi
	printf '\n# test: the rest of example.com (the reps'"'"' mailboxes) and the outside world\nexample.com smtp:[127.0.0.1]:%s\ncustomer.test smtp:[127.0.0.1]:%s\n' \
		"$SINK_PORT" "$SINK_PORT" >> "$PFC/leadgate_transport"
	cp "$CONTRIB/leadgate_bcc" "$CONTRIB/leadgate_generic" "$PFC/" &&
	postmap -c "$PFC" "hash:$PFC/leadgate_transport" &&
	postmap -c "$PFC" "hash:$PFC/leadgate_bcc"
}

pf_start() {
	postfix -c "$PFC" start >>"$T/postfix.out" 2>&1 || return 1
	PF_PID=$(tr -d ' ' < "$PFQ/pid/master.pid" 2>/dev/null)
	wait_for port_in_use "$SMTPD_PORT"
}
pf_stop() {
	[ -n "${PF_PID:-}" ] || return 0
	postfix -c "$PFC" stop >>"$T/postfix.out" 2>&1
	local i
	for i in $(seq 100); do kill -0 "$PF_PID" 2>/dev/null || break; sleep 0.1; done
	# the master we started, by its PID, if it would not stop
	kill -0 "$PF_PID" 2>/dev/null && kill -KILL "$PF_PID" 2>/dev/null
	PF_PID=
}
pf_cleanup() { pf_stop; lg_cleanup; }
trap pf_cleanup EXIT

# send ARGS...: one message through the instance's smtpd; $QID its queue id
send() {
	local out
	out=$(timeout 30 swaks --server 127.0.0.1 --port "${SEND_PORT:-$SMTPD_PORT}" --helo client.customer.test \
		--from "${FROM:-bob@customer.test}" "$@" 2>&1)
	QID=$(sed -n 's/.*<- *250 .*queued as \([0-9A-Za-z]*\).*/\1/p' <<<"$out" | tail -1)
	[ -n "$QID" ] || { diag "swaks: $(tail -3 <<<"$out")"; return 1; }
}
queue_ids() { postqueue -c "$PFC" -j 2>/dev/null | sed -n 's/.*"queue_id": *"\([^"]*\)".*/\1/p'; }
queue_count() { postqueue -c "$PFC" -j 2>/dev/null | grep -c '"queue_id"'; }
queue_empty() { [ "$(queue_count)" = 0 ]; }
queue_wait() {
	local i n=$(( ${1:-20} * 10 ))
	for i in $(seq "$n"); do
		queue_empty && return 0
		# half-way, say why mail is still queued (a test log is all CI keeps)
		# and flush once more: a delivery that failed again after the first
		# flush (a timeout on a loaded machine) would otherwise wait for
		# Postfix's backoff, minutes away
		if [ "$i" = $(( n / 2 )) ]; then
			diag "still queued after $(( n / 20 )) s: $(queue_count)" \
			     "$(postqueue -c "$PFC" -p 2>/dev/null | grep -E '^ *\(' | sort | uniq -c | head -5)"
			pq_flush
		fi
		sleep 0.1
	done
	return 1
}
pq_flush() { postqueue -c "$PFC" -f; }
log_has() { grep -Eq -- "$1" "$PFLOG" 2>/dev/null; }
log_wait() {
	local i
	for i in $(seq $(( ${2:-20} * 10 ))); do log_has "$1" && return 0; sleep 0.1; done
	return 1
}
