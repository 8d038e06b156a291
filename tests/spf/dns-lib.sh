# tests/spf/dns-lib.sh - a private network and mount namespace with a real
# DNS server (dnsmasq, Debian's dnsmasq-base) on loopback serving SPF
# records, for tests/spf/namespace.sh and the bench (tests/bench/run.sh).
#
#   spf_ns_enter ARGS   source first, before tests/lib.sh: re-runs the calling
#                       script under `unshare --net --mount` (root only: the
#                       SPF helpers change to nobody, which a user namespace
#                       would not map); inside, loopback is up
#   spf_dns_start       after tests/lib.sh: installs dnsmasq-base when
#                       missing, binds $T/resolv.conf (nameserver 127.0.0.1)
#                       over /etc/resolv.conf in this mount namespace only,
#                       starts dnsmasq on 127.0.0.1:53 and a silent server on
#                       127.0.0.9:53 that timeout.test is delegated to
#
# The zone (client 192.0.2.10 is the sender's, 198.51.100.0/24 is not):
#   pass.test     v=spf1 ip4:192.0.2.0/24 -all
#   fail.test     v=spf1 ip4:198.51.100.0/24 -all
#   soft.test     v=spf1 ip4:198.51.100.0/24 ~all
#   neutral.test  v=spf1 ?all
#   none.test     an A record, no TXT; nxdomain.test does not exist
#   perm.test     v=spf1 ip4:192.0.2.0/99 -all (a syntax error)
#   macro.test    v=spf1 exists:%{i}.%{l}._spf.%{d} -all, and the A record
#                 192.0.2.10.alice._spf.macro.test: alice passes, bob fails
#   timeout.test  its server never answers
spf_ns_enter() {
	if [ -z "${LG_SPF_NS:-}" ]; then
		[ "$(id -u)" = 0 ] || skip_all "needs root: unshare --net --mount, and the SPF helpers change to nobody"
		command -v unshare >/dev/null || skip_all "needs unshare (util-linux)"
		LG_SPF_NS=1 exec unshare --net --mount -- bash "$0" "$@"
		skip_all "unshare --net --mount failed"
	fi
	ip link set lo up 2>/dev/null || skip_all "cannot bring up loopback in the namespace"
}

spf_dns_start() {
	local i=0
	if ! command -v dnsmasq >/dev/null; then
		command -v apt-get >/dev/null &&
			DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -q --no-install-recommends dnsmasq-base >/dev/null 2>&1
		command -v dnsmasq >/dev/null || skip_all "dnsmasq is not installed and apt-get install dnsmasq-base failed"
	fi
	printf 'nameserver 127.0.0.1\noptions timeout:2 attempts:1\n' > "$T/resolv.conf"
	chmod 644 "$T/resolv.conf"
	mount --bind "$T/resolv.conf" /etc/resolv.conf || skip_all "cannot bind-mount /etc/resolv.conf"
	cat > "$T/dnsmasq.conf" <<-'ZONE'
	port=53
	listen-address=127.0.0.1
	bind-interfaces
	no-resolv
	no-hosts
	pid-file=
	local-ttl=300
	local=/test/
	server=/timeout.test/127.0.0.9
	txt-record=pass.test,"v=spf1 ip4:192.0.2.0/24 -all"
	txt-record=fail.test,"v=spf1 ip4:198.51.100.0/24 -all"
	txt-record=soft.test,"v=spf1 ip4:198.51.100.0/24 ~all"
	txt-record=neutral.test,"v=spf1 ?all"
	txt-record=perm.test,"v=spf1 ip4:192.0.2.0/99 -all"
	txt-record=macro.test,"v=spf1 exists:%{i}.%{l}._spf.%{d} -all"
	host-record=192.0.2.10.alice._spf.macro.test,127.0.0.2
	host-record=none.test,192.0.2.50
	host-record=ready.test,192.0.2.1
	ZONE
	# the server of timeout.test: reads nothing, answers nothing
	python3 -c 'import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.9", 53)); time.sleep(900)' &
	lg_track $!
	dnsmasq --keep-in-foreground --conf-file="$T/dnsmasq.conf" 2>>"$T/dnsmasq.log" &
	SPF_DNS_PID=$!
	lg_track "$SPF_DNS_PID"
	while [ $i -lt 100 ] && ! getent hosts ready.test >/dev/null 2>&1; do sleep 0.05; i=$((i + 1)); done
	getent hosts ready.test >/dev/null 2>&1
}
