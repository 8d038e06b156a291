/*
 * NAME
 *   privs.c - least privilege for the daemons (see privs.h).
 */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include "lg.h"
#include "privs.h"

gboolean
lg_privileges_drop(const char *section, const char *user, const char *group,
                   char **note_r, GError **error)
{
	gboolean root = getuid() == 0 || geteuid() == 0;

	*note_r = NULL;
	if (user == NULL || *user == '\0') {
		if (!root)
			return TRUE;
		g_set_error(error, LG_CONFIG_ERROR, LG_CONFIG_ERROR_VALUE,
		            "refusing to run as root: set [%s] user to the unprivileged user to become "
		            "(or \"root\" to stay root)", section);
		return FALSE;
	}
	struct passwd *pw = getpwnam(user);
	if (pw == NULL) {
		g_set_error(error, LG_CONFIG_ERROR, LG_CONFIG_ERROR_VALUE,
		            "[%s] user: no such user \"%s\"", section, user);
		return FALSE;
	}
	if (!root) {
		if (getuid() != pw->pw_uid)
			*note_r = g_strdup_printf("not root: cannot change to user %s", user);
		return TRUE;
	}
	if (pw->pw_uid == 0) {
		*note_r = g_strdup_printf("running as root, as [%s] user says", section);
		return TRUE;
	}
	gid_t gid = pw->pw_gid;
	if (group != NULL && *group) {
		struct group *gr = getgrnam(group);
		if (gr == NULL) {
			g_set_error(error, LG_CONFIG_ERROR, LG_CONFIG_ERROR_VALUE,
			            "[%s] group: no such group \"%s\"", section, group);
			return FALSE;
		}
		gid = gr->gr_gid;
	}
	/* groups first: after setuid there is no right to change them */
	if (initgroups(pw->pw_name, gid) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
		int e = errno;
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
		            "cannot change to user %s: %s", user, g_strerror(e));
		return FALSE;
	}
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 ||
	    ru != pw->pw_uid || eu != pw->pw_uid || su != pw->pw_uid ||
	    rg != gid || eg != gid || sg != gid || setuid(0) == 0 || seteuid(0) == 0 ||
	    (gid != 0 && (setgid(0) == 0 || setegid(0) == 0))) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
		            "changed to user %s, but root could be regained: stopping", user);
		return FALSE;
	}
	*note_r = g_strdup_printf("running as user %s (uid %u, gid %u)", user,
	                          (unsigned) pw->pw_uid, (unsigned) gid);
	return TRUE;
}

gboolean
lg_spool_dir_ready(const char *path, GError **error)
{
	GStatBuf sb;

	if (g_mkdir_with_parents(path, 0700) != 0) {
		int e = errno;
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
		            "cannot make the spool folder %s: %s", path, g_strerror(e));
		return FALSE;
	}
	if (g_lstat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY,
		            "the spool folder %s is not a folder", path);
		return FALSE;
	}
	if (sb.st_uid != geteuid()) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
		            "the spool folder %s belongs to uid %u, not to this daemon's user (uid %u): "
		            "chown it", path, (unsigned) sb.st_uid, (unsigned) geteuid());
		return FALSE;
	}
	if ((sb.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
		            "the spool folder %s may be written by others (mode %04o): chmod go-w it",
		            path, (unsigned) (sb.st_mode & 07777));
		return FALSE;
	}
	return TRUE;
}

int
lg_spool_file_create(const char *dir, const char *name_tmpl, char **path_r, GError **error)
{
	static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

	*path_r = NULL;
	if (name_tmpl == NULL || *name_tmpl == '\0' || strchr(name_tmpl, '/') != NULL ||
	    strcmp(name_tmpl, ".") == 0 || strcmp(name_tmpl, "..") == 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME,
		            "cannot create a spool file named \"%s\": not a file name",
		            name_tmpl != NULL ? name_tmpl : "");
		return -1;
	}
	g_autofree char *name = g_strdup(name_tmpl);
	char *x = g_strrstr(name, "XXXXXX");
	guint tries = x != NULL ? LG_SPOOL_CREATE_TRIES : 1;
	int e = EEXIST;

	for (guint t = 0; t < tries; t++) {
		for (guint i = 0; x != NULL && i < 6; i++)
			x[i] = chars[g_random_int_range(0, (gint32)sizeof chars - 1)];
		g_autofree char *path = g_build_filename(dir, name, NULL);
		int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

		if (fd >= 0) {
			*path_r = g_steal_pointer(&path);
			return fd;
		}
		e = errno;
		if (e != EEXIST && e != EINTR)
			break;
	}
	g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
	            "cannot create a spool file in %s: %s%s", dir, g_strerror(e),
	            e == EEXIST && tries > 1 ? " (every name tried was taken)" : "");
	return -1;
}
