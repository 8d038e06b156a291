# tests/postfix/unit-lib.sh - what contrib/systemd's units allow a daemon,
# compared with what it does (strace -f). Source after tests/tap.sh and
# tests/lib.sh; needs systemd-analyze.
#
#   unit_filter FILE     the system calls SystemCallFilter=@system-service
#                        less @privileged allows, one a line, into FILE
#   syscalls TRACE       the calls an strace -f log made, one a line
#   families TRACE       the socket() families it used, on one line
#   refused TRACE FILE   the calls of TRACE that FILE's filter does not allow

# expand @GROUP: the calls of a filter group, nested groups included
expand() {
	systemd-analyze syscall-filter "$1" 2>/dev/null | awk 'NR > 1 && !/^ *#/ && NF { print $1 }' |
	while read -r n; do case $n in @*) expand "$n" ;; *) echo "$n" ;; esac; done
}
unit_filter() {
	comm -23 <(expand @system-service | sort -u) <(expand @privileged | sort -u) > "$1"
	[ -s "$1" ]
}
syscalls() { sed -n 's/^[0-9]* *\([a-z_0-9]*\)(.*/\1/p' "$1" | sort -u; }
families() { sed -n 's/^[0-9]* *socket(\(AF_[A-Z0-9]*\).*/\1/p' "$1" | sort -u | tr '\n' ' '; }
refused() { comm -23 <(syscalls "$1") "$2" | tr '\n' ' '; }
