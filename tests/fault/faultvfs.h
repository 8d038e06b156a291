/*
 * NAME
 *   faultvfs.h - a test VFS that fails the Nth I/O call of a kind.
 *
 * SYNOPSIS
 *   faultvfs_register();                 once: becomes the default VFS
 *   faultvfs_arm(FAULTVFS_WRITE, 3, FALSE);
 *   ... the 3rd xWrite from now returns SQLITE_IOERR_WRITE ...
 *   faultvfs_disarm();
 *   faultvfs_hits();                     how many calls it failed
 *
 * SUMMARY
 *   SQLite's own fault-injection approach (its test_vfs / ioerr tests): a
 *   shim registered over the default (unix) VFS that passes every call
 *   through, counts the calls of the armed kinds, and fails the Nth of
 *   them (and, when @persist, every one after it, like a dead disk) with
 *   the kind's SQLite error: SQLITE_IOERR_WRITE, SQLITE_FULL,
 *   SQLITE_IOERR_FSYNC, SQLITE_IOERR_TRUNCATE, SQLITE_IOERR_READ,
 *   SQLITE_IOERR_LOCK (a file lock, or a WAL-index lock taken), or
 *   SQLITE_IOERR for a file control.
 *   A failed write or truncate writes nothing.
 *
 *   faultvfs_arm_from_file() reads the arming from a file instead, for a
 *   daemon built with the shim (tests/fault/lmtpd-fault.c): see there.
 */
#ifndef LG_FAULTVFS_H
#define LG_FAULTVFS_H

#include <glib.h>

typedef enum {
	FAULTVFS_WRITE    = 1 << 0,
	FAULTVFS_FULL     = 1 << 1,   /* xWrite, answered SQLITE_FULL */
	FAULTVFS_SYNC     = 1 << 2,
	FAULTVFS_TRUNCATE = 1 << 3,
	FAULTVFS_READ     = 1 << 4,
	FAULTVFS_LOCK     = 1 << 5,
	FAULTVFS_FCNTL    = 1 << 6
} faultvfs_kind;

int faultvfs_register(void);
void faultvfs_arm(guint kinds, guint n, gboolean persist);
void faultvfs_disarm(void);
/* calls of the armed kinds seen since faultvfs_arm, and how many failed */
guint faultvfs_calls(void);
guint faultvfs_hits(void);
/* "write", "full", "sync", ... -> the kind, 0 when unknown */
guint faultvfs_kind_parse(const char *name);
/* Arms from the file @path ("KIND[,KIND] N [persist]") whenever it changes;
 * no file: disarmed. */
void faultvfs_arm_from_file(const char *path);

#endif
