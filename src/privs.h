/*
 * NAME
 *   privs.h - least privilege for the daemons: who they run as, and the
 *   folder their spool files go to.
 *
 * SYNOPSIS
 *   bind every socket (as root if need be), then
 *   lg_privileges_drop("lmtpd", cfg->user, cfg->group, &note, &error);
 *
 * SUMMARY
 *   lg_privileges_drop() refuses to go on as root unless [SECTION] user
 *   says which user to become: root with an empty user= is an error
 *   (user = root keeps root, as a deliberate choice, and says so in
 *   @note_r). Otherwise it sets the supplementary groups (initgroups:
 *   the user's, with @group or the user's primary group), then the group,
 *   then the user, and checks that root cannot be regained (setuid(0)
 *   and setgid(0) must fail, and real, effective and saved IDs are the
 *   user's). Not root: nothing to change (a different user= is noted).
 *
 *   lg_spool_dir_ready() makes @path (mode 0700) if missing and checks
 *   that it is a folder of the effective user's that nobody else may
 *   write to: files made there O_EXCL cannot be raced or read by others.
 *
 *   lg_spool_file_create() makes a new file in @dir, never an existing one:
 *   O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode 0600, read-write. Its
 *   name is @name_tmpl, a file name (never a path: a '/' is refused) whose
 *   last "XXXXXX" is replaced by random letters and digits, again for each
 *   of up to LG_SPOOL_CREATE_TRIES names taken already (EEXIST); a
 *   template without XXXXXX is tried once. A symbolic link planted at the
 *   name is never followed (it counts as taken). Returns the descriptor and
 *   the path in *@path_r, or -1 with @error (G_IO_ERROR) saying why.
 */
#ifndef LG_PRIVS_H
#define LG_PRIVS_H

#include <glib.h>

G_BEGIN_DECLS

gboolean lg_privileges_drop(const char *section, const char *user, const char *group,
                            char **note_r, GError **error);
gboolean lg_spool_dir_ready(const char *path, GError **error);

#define LG_SPOOL_CREATE_TRIES 100
int lg_spool_file_create(const char *dir, const char *name_tmpl, char **path_r, GError **error);

G_END_DECLS

#endif
