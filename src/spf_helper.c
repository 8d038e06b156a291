/*
 * NAME
 *   leadgate-spf-helper - runs SPF checks for leadgate-lmtpd, at arm's length.
 *
 * SYNOPSIS
 *   (started by leadgate-lmtpd; standard input is its end of a socketpair)
 *
 * SUMMARY
 *   Reads request frames (src/spf_wire.h) from file descriptor 0, checks
 *   each with libspf2 (src/spf_eval.c) and writes one response frame per
 *   request to the same descriptor; exits at end of input, and on a frame
 *   that does not decode (the daemon then sees end of input: temperror).
 *
 *   Every SPF record libspf2 parses is chosen by the sender, and Debian
 *   12's libspf2 1.2.10 lacks upstream's 2023 fix of an integer underflow
 *   in macro expansion; so libspf2 runs only here, never in a daemon's
 *   address space. The daemon (src/spf.c) starts this program with
 *   fork+exec, not a fork of itself: a fork of the multi-threaded daemon
 *   would carry its heap (messages, the store's pages, the config) and
 *   locks held by other threads into the child, and could run nothing but
 *   async-signal-safe calls before exec; after exec the helper has a fresh
 *   address space (re-randomized) holding libspf2 and libc only, no GLib,
 *   no GMime, no SQLite. Before the exec, in the child, the daemon has
 *   already:
 *
 *     - changed to the daemon's user, or nobody when it still runs as root;
 *     - closed every descriptor but the socketpair (fd 0; 1 and 2 are
 *       /dev/null): no store, no listening socket, no log;
 *     - set RLIMIT_CORE 0, RLIMIT_CPU (the check timeout), RLIMIT_AS
 *       (LG_SPF_HELPER_AS, not under AddressSanitizer, whose shadow memory
 *       needs terabytes of address space), PR_SET_PDEATHSIG, and
 *       PR_SET_NO_NEW_PRIVS.
 *
 *   This program checks them again before it reads anything: it refuses
 *   to run as root and sets NO_NEW_PRIVS, no core, and RLIMIT_NPROC 0 (it
 *   never forks; set here, after the exec, since a limit set before
 *   execve can make it fail after a change of user), and PR_SET_DUMPABLE 0.
 *   Then, once libspf2 and the resolver are set up, Landlock (Linux 5.13
 *   and later, no library needed) leaves it read access to /etc and
 *   nothing else of the file system: under a systemd unit the helper runs
 *   as the daemon's own user, and without Landlock it could open the
 *   database. On a kernel without Landlock, or where a seccomp filter
 *   refuses its calls, the helper goes on without it.
 *
 *   No seccomp filter: libseccomp would be one more library (and raw BPF
 *   per architecture the alternative), and the system calls the resolver
 *   makes (socket, connect, sendmmsg, poll, recvfrom, and openat of
 *   /etc/resolv.conf, /etc/hosts, nsswitch modules at its first query)
 *   leave a filter little to take away that the unprivileged user, the
 *   empty descriptor table and the limits have not. The systemd unit's
 *   SystemCallFilter=@system-service (contrib/systemd) applies to the
 *   helpers too, since they are the daemon's children.
 *
 *   The daemon kills a helper that has not answered within [auth]
 *   spf_timeout (a hang, a loop) and starts another; a crash is the same
 *   for it: end of input, temperror.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include "spf_eval.h"

static int
read_full(int fd, unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t) r;
	}
	return 0;
}

static int
write_full(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t) w;
	}
	return 0;
}

static void
harden(void)
{
	struct rlimit zero = { 0, 0 };
	if (getuid() == 0 || geteuid() == 0) {
		fprintf(stderr, "leadgate-spf-helper: refusing to run as root\n");
		exit(2);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || setrlimit(RLIMIT_CORE, &zero) != 0 ||
	    setrlimit(RLIMIT_NPROC, &zero) != 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		fprintf(stderr, "leadgate-spf-helper: cannot set its limits: %s\n", strerror(errno));
		exit(2);
	}
}

int
main(int argc, char **argv)
{
	(void) argv;
	if (argc != 1) {
		fprintf(stderr, "leadgate-spf-helper: started by leadgate-lmtpd only\n");
		return 64;
	}
	harden();
	lg_spf_checker *k = lg_spf_checker_new(NULL);
	if (k == NULL)
		return 70;
	/* from here on, the file system is /etc, read-only (Landlock, where
	 * the kernel has it): a same-user helper cannot reach the database */
	if (lg_spf_sandbox_fs() < 0) {
		fprintf(stderr, "leadgate-spf-helper: cannot restrict its file system access\n");
		return 70;
	}
	for (;;) {
		unsigned char hdr[LG_SPF_FRAME_HEADER], body[LG_SPF_REQUEST_MAX];
		unsigned char out[LG_SPF_FRAME_HEADER + LG_SPF_RESPONSE_MAX];
		lg_spf_request req;
		lg_spf_response resp;
		if (read_full(0, hdr, sizeof hdr) != 0)
			break;   /* the daemon closed its end */
		uint32_t len = lg_spf_frame_length(hdr);
		if (len > sizeof body || read_full(0, body, len) != 0 || lg_spf_request_decode(body, len, &req) != 0)
			return 65;
		lg_spf_checker_run(k, &req, &resp);
		size_t n = lg_spf_response_encode(&resp, out, sizeof out);
		if (n == 0 || write_full(0, out, n) != 0)
			return 74;
	}
	lg_spf_checker_free(k);
	return 0;
}
