/*
 * NAME
 *   faultvfs.c - a shim VFS over the default one that fails the Nth I/O
 *   call of the armed kinds (see faultvfs.h).
 *
 * SUMMARY
 *   Registered as the default VFS, it opens every file through the VFS
 *   that was the default before (unix) and wraps its sqlite3_file: each
 *   method counts, maybe fails, else passes through. The VFS-level calls
 *   (delete, access, full path name, ...) are the wrapped VFS's own: the
 *   shim's sqlite3_vfs is a copy of it with xOpen replaced.
 *
 *   The state is global and under a mutex: a daemon's threads share it.
 *   When a control file is set (faultvfs_arm_from_file), every counted
 *   call first looks whether the file changed and re-arms from it.
 */
#include <string.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include "faultvfs.h"

typedef struct {
	sqlite3_file base;
	sqlite3_file *real;   /* follows this struct */
} fault_file;

static sqlite3_vfs fault_vfs;
static sqlite3_vfs *real_vfs;

static struct {
	GMutex lock;
	guint kinds;
	guint n;
	gboolean persist;
	guint calls;
	guint hits;
	char *ctl;            /* control file, or NULL */
	struct stat ctl_st;   /* as last read */
} f;

static const struct {
	const char *name;
	guint kind;
} kind_names[] = {
	{ "write", FAULTVFS_WRITE }, { "full", FAULTVFS_FULL }, { "sync", FAULTVFS_SYNC },
	{ "truncate", FAULTVFS_TRUNCATE }, { "read", FAULTVFS_READ }, { "lock", FAULTVFS_LOCK },
	{ "fcntl", FAULTVFS_FCNTL },
};

guint
faultvfs_kind_parse(const char *name)
{
	for (guint i = 0; i < G_N_ELEMENTS(kind_names); i++)
		if (g_strcmp0(name, kind_names[i].name) == 0)
			return kind_names[i].kind;
	return 0;
}

static void
arm_locked(guint kinds, guint n, gboolean persist)
{
	f.kinds = kinds;
	f.n = n;
	f.persist = persist;
	f.calls = f.hits = 0;
}

void
faultvfs_arm(guint kinds, guint n, gboolean persist)
{
	g_mutex_lock(&f.lock);
	arm_locked(kinds, n, persist);
	g_mutex_unlock(&f.lock);
}

void
faultvfs_disarm(void)
{
	faultvfs_arm(0, 0, FALSE);
}

guint
faultvfs_calls(void)
{
	g_mutex_lock(&f.lock);
	guint c = f.calls;
	g_mutex_unlock(&f.lock);
	return c;
}

guint
faultvfs_hits(void)
{
	g_mutex_lock(&f.lock);
	guint h = f.hits;
	g_mutex_unlock(&f.lock);
	return h;
}

/* The control file holds "KIND N [persist]"; no file: disarmed. Re-read
 * whenever it changed (a test writes a new one with another inode). */
static void
ctl_check_locked(void)
{
	struct stat st;

	if (f.ctl == NULL)
		return;
	if (stat(f.ctl, &st) < 0) {
		if (f.ctl_st.st_ino != 0)
			arm_locked(0, 0, FALSE);
		memset(&f.ctl_st, 0, sizeof f.ctl_st);
		return;
	}
	if (st.st_ino == f.ctl_st.st_ino && st.st_mtim.tv_sec == f.ctl_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == f.ctl_st.st_mtim.tv_nsec && st.st_size == f.ctl_st.st_size)
		return;
	f.ctl_st = st;
	g_autofree char *text = NULL;
	if (!g_file_get_contents(f.ctl, &text, NULL, NULL))
		return;
	g_auto(GStrv) w = g_strsplit_set(g_strstrip(text), " \t\n", -1);
	guint kinds = 0;
	g_auto(GStrv) names = g_strsplit(w[0] ? w[0] : "", ",", -1);
	for (char **k = names; *k; k++)
		kinds |= faultvfs_kind_parse(*k);
	guint n = w[0] && w[1] ? (guint) g_ascii_strtoull(w[1], NULL, 10) : 1;
	arm_locked(kinds, n, w[0] && w[1] && w[2] && strcmp(w[2], "persist") == 0);
}

/* TRUE when this call (of @kind) is to fail */
static gboolean
fault(guint kind)
{
	gboolean fail = FALSE;

	g_mutex_lock(&f.lock);
	ctl_check_locked();
	if (f.kinds & kind) {
		f.calls++;
		if (f.calls == f.n || (f.persist && f.n > 0 && f.calls > f.n)) {
			f.hits++;
			fail = TRUE;
		}
	}
	g_mutex_unlock(&f.lock);
	return fail;
}

#define REAL(file) (((fault_file *)(file))->real)

static int
f_close(sqlite3_file *file)
{
	int rc = REAL(file)->pMethods ? REAL(file)->pMethods->xClose(REAL(file)) : SQLITE_OK;

	file->pMethods = NULL;
	return rc;
}

static int
f_read(sqlite3_file *file, void *buf, int amt, sqlite3_int64 off)
{
	if (fault(FAULTVFS_READ))
		return SQLITE_IOERR_READ;
	return REAL(file)->pMethods->xRead(REAL(file), buf, amt, off);
}

static int
f_write(sqlite3_file *file, const void *buf, int amt, sqlite3_int64 off)
{
	if (fault(FAULTVFS_WRITE))
		return SQLITE_IOERR_WRITE;
	if (fault(FAULTVFS_FULL))
		return SQLITE_FULL;
	return REAL(file)->pMethods->xWrite(REAL(file), buf, amt, off);
}

static int
f_truncate(sqlite3_file *file, sqlite3_int64 size)
{
	if (fault(FAULTVFS_TRUNCATE))
		return SQLITE_IOERR_TRUNCATE;
	return REAL(file)->pMethods->xTruncate(REAL(file), size);
}

static int
f_sync(sqlite3_file *file, int flags)
{
	if (fault(FAULTVFS_SYNC))
		return SQLITE_IOERR_FSYNC;
	return REAL(file)->pMethods->xSync(REAL(file), flags);
}

static int
f_file_size(sqlite3_file *file, sqlite3_int64 *size)
{
	return REAL(file)->pMethods->xFileSize(REAL(file), size);
}

static int
f_lock(sqlite3_file *file, int lock)
{
	if (fault(FAULTVFS_LOCK))
		return SQLITE_IOERR_LOCK;
	return REAL(file)->pMethods->xLock(REAL(file), lock);
}

static int
f_unlock(sqlite3_file *file, int lock)
{
	return REAL(file)->pMethods->xUnlock(REAL(file), lock);
}

static int
f_check_reserved(sqlite3_file *file, int *out)
{
	return REAL(file)->pMethods->xCheckReservedLock(REAL(file), out);
}

static int
f_file_control(sqlite3_file *file, int op, void *arg)
{
	if (op == SQLITE_FCNTL_VFSNAME) {
		int rc = REAL(file)->pMethods->xFileControl(REAL(file), op, arg);
		if (rc == SQLITE_OK && arg != NULL) {
			char **name = arg;
			char *n = sqlite3_mprintf("faultvfs/%z", *name);
			*name = n;
		}
		return rc;
	}
	if (fault(FAULTVFS_FCNTL))
		return SQLITE_IOERR;
	return REAL(file)->pMethods->xFileControl(REAL(file), op, arg);
}

static int
f_sector_size(sqlite3_file *file)
{
	return REAL(file)->pMethods->xSectorSize(REAL(file));
}

static int
f_device_characteristics(sqlite3_file *file)
{
	return REAL(file)->pMethods->xDeviceCharacteristics(REAL(file));
}

static int
f_shm_map(sqlite3_file *file, int pg, int pgsz, int extend, void volatile **pp)
{
	return REAL(file)->pMethods->xShmMap(REAL(file), pg, pgsz, extend, pp);
}

static int
f_shm_lock(sqlite3_file *file, int offset, int n, int flags)
{
	/* taking a lock may fail, releasing one never does */
	if ((flags & SQLITE_SHM_LOCK) && fault(FAULTVFS_LOCK))
		return SQLITE_IOERR_LOCK;
	return REAL(file)->pMethods->xShmLock(REAL(file), offset, n, flags);
}

static void
f_shm_barrier(sqlite3_file *file)
{
	REAL(file)->pMethods->xShmBarrier(REAL(file));
}

static int
f_shm_unmap(sqlite3_file *file, int delete_flag)
{
	return REAL(file)->pMethods->xShmUnmap(REAL(file), delete_flag);
}

static int
f_fetch(sqlite3_file *file, sqlite3_int64 off, int amt, void **pp)
{
	return REAL(file)->pMethods->xFetch(REAL(file), off, amt, pp);
}

static int
f_unfetch(sqlite3_file *file, sqlite3_int64 off, void *p)
{
	return REAL(file)->pMethods->xUnfetch(REAL(file), off, p);
}

static const sqlite3_io_methods fault_io_v3 = {
	3, f_close, f_read, f_write, f_truncate, f_sync, f_file_size, f_lock, f_unlock,
	f_check_reserved, f_file_control, f_sector_size, f_device_characteristics,
	f_shm_map, f_shm_lock, f_shm_barrier, f_shm_unmap, f_fetch, f_unfetch,
};
static const sqlite3_io_methods fault_io_v2 = {
	2, f_close, f_read, f_write, f_truncate, f_sync, f_file_size, f_lock, f_unlock,
	f_check_reserved, f_file_control, f_sector_size, f_device_characteristics,
	f_shm_map, f_shm_lock, f_shm_barrier, f_shm_unmap, NULL, NULL,
};
static const sqlite3_io_methods fault_io_v1 = {
	1, f_close, f_read, f_write, f_truncate, f_sync, f_file_size, f_lock, f_unlock,
	f_check_reserved, f_file_control, f_sector_size, f_device_characteristics,
	NULL, NULL, NULL, NULL, NULL, NULL,
};

static int
f_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags)
{
	fault_file *ff = (fault_file *) file;

	ff->real = (sqlite3_file *) &ff[1];
	int rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out_flags);
	const sqlite3_io_methods *m = ff->real->pMethods;

	if (m == NULL)
		file->pMethods = NULL;
	else
		file->pMethods = m->iVersion >= 3 ? &fault_io_v3 : m->iVersion == 2 ? &fault_io_v2 : &fault_io_v1;
	return rc;
}

int
faultvfs_register(void)
{
	if (real_vfs != NULL)
		return SQLITE_OK;
	real_vfs = sqlite3_vfs_find(NULL);
	if (real_vfs == NULL)
		return SQLITE_ERROR;
	fault_vfs = *real_vfs;
	fault_vfs.pNext = NULL;
	fault_vfs.zName = "faultvfs";
	fault_vfs.szOsFile = (int) sizeof(fault_file) + real_vfs->szOsFile;
	fault_vfs.xOpen = f_open;
	return sqlite3_vfs_register(&fault_vfs, 1);
}

void
faultvfs_arm_from_file(const char *path)
{
	g_mutex_lock(&f.lock);
	g_free(f.ctl);
	f.ctl = g_strdup(path);
	memset(&f.ctl_st, 0, sizeof f.ctl_st);
	arm_locked(0, 0, FALSE);
	g_mutex_unlock(&f.lock);
}
