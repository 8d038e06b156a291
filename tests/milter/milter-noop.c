/*
 * NAME
 *   milter-noop.c - a libmilter filter that does nothing: the floor of
 *   what any milter costs Postfix.
 *
 * SYNOPSIS
 *   milter-noop inet:PORT@127.0.0.1
 *
 * SUMMARY
 *   For tests/milter/bench-milter.sh only (never installed). It negotiates
 *   exactly the protocol leadgate-milter negotiates (every step it uses,
 *   no reply awaited for HELO, MAIL, RCPT, headers, end of headers and body
 *   chunks, no UNKNOWN and no DATA step, header values with their leading
 *   space) and answers "continue" to the rest, without looking at anything.
 *   What Postfix loses with it against no milter at all is what the milter
 *   protocol costs Postfix itself: its cleanup server reads each message
 *   back from the queue file and sends it to the filter in one packet per
 *   header and per body chunk. leadgate-milter's own cost is then what it
 *   loses against this filter.
 */
#include <stdio.h>
#include <libmilter/mfapi.h>

static unsigned long negotiated;

static sfsistat
cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2, unsigned long f3,
             unsigned long *pf0, unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	(void) ctx;
	(void) f0;
	(void) f2;
	(void) f3;
	unsigned long want = SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_RCPT |
	                     SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY | SMFIP_HDR_LEADSPC;
	*pf0 = 0;
	*pf1 = f1 & want;
	*pf2 = *pf3 = 0;
	negotiated = *pf1;   /* the same for every connection from one Postfix */
	return SMFIS_CONTINUE;
}

/* no reply when none is awaited, as leadgate-milter does */
static sfsistat
go_on(unsigned long nr)
{
	return (negotiated & nr) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat
cb_connect(SMFICTX *ctx, char *host, struct sockaddr *sa)
{
	(void) ctx;
	(void) host;
	(void) sa;
	return SMFIS_CONTINUE;
}

static sfsistat
cb_helo(SMFICTX *ctx, char *helo)
{
	(void) ctx;
	(void) helo;
	return go_on(SMFIP_NR_HELO);
}

static sfsistat
cb_envfrom(SMFICTX *ctx, char **argv)
{
	(void) ctx;
	(void) argv;
	return go_on(SMFIP_NR_MAIL);
}

static sfsistat
cb_envrcpt(SMFICTX *ctx, char **argv)
{
	(void) ctx;
	(void) argv;
	return go_on(SMFIP_NR_RCPT);
}

static sfsistat
cb_header(SMFICTX *ctx, char *name, char *value)
{
	(void) ctx;
	(void) name;
	(void) value;
	return go_on(SMFIP_NR_HDR);
}

static sfsistat
cb_eoh(SMFICTX *ctx)
{
	(void) ctx;
	return go_on(SMFIP_NR_EOH);
}

static sfsistat
cb_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	(void) ctx;
	(void) chunk;
	(void) len;
	return go_on(SMFIP_NR_BODY);
}

static sfsistat
cb_eom(SMFICTX *ctx)
{
	(void) ctx;
	return SMFIS_CONTINUE;
}

static struct smfiDesc filter = {
	.xxfi_name = (char *) "milter-noop",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = 0,
	.xxfi_connect = cb_connect,
	.xxfi_helo = cb_helo,
	.xxfi_envfrom = cb_envfrom,
	.xxfi_envrcpt = cb_envrcpt,
	.xxfi_header = cb_header,
	.xxfi_eoh = cb_eoh,
	.xxfi_body = cb_body,
	.xxfi_eom = cb_eom,
	.xxfi_negotiate = cb_negotiate,
};

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: milter-noop inet:PORT@127.0.0.1\n");
		return 64;
	}
	if (smfi_register(filter) != MI_SUCCESS || smfi_setconn(argv[1]) != MI_SUCCESS ||
	    smfi_opensocket(1) != MI_SUCCESS) {
		fprintf(stderr, "milter-noop: cannot listen on %s\n", argv[1]);
		return 71;
	}
	return smfi_main() == MI_SUCCESS ? 0 : 70;
}
