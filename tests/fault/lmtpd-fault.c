/*
 * NAME
 *   lmtpd-fault.c - leadgate-lmtpd with the fault VFS, for tests only.
 *
 * SUMMARY
 *   tests/fault/leadgate-lmtpd-fault is leadgate-lmtpd built with this
 *   file and faultvfs.c (never installed). When LEADGATE_FAULT_VFS names a
 *   control file, the shim VFS becomes SQLite's default before main() and
 *   arms itself from that file whenever it changes ("write 1", "sync 1
 *   persist", ...; see faultvfs.h): a test fails the daemon's real I/O
 *   calls while it runs, and removes the file to end the fault.
 */
#include <glib.h>
#include <stdio.h>
#include "faultvfs.h"

__attribute__((constructor)) static void
lmtpd_fault_init(void)
{
	const char *ctl = g_getenv("LEADGATE_FAULT_VFS");

	if (ctl == NULL || *ctl == '\0')
		return;
	if (faultvfs_register() != 0) {
		fprintf(stderr, "leadgate-lmtpd-fault: cannot register the fault VFS\n");
		return;
	}
	faultvfs_arm_from_file(ctl);
}
