/*
 * NAME
 *   raw.c - raw message bytes: memory first, an unlinked spool file past a limit.
 *
 * SUMMARY
 *   Invariants: while writing, exactly one of @mem / @fd holds the bytes and
 *   @sum has seen every byte; after lg_raw_finish(), @stream reads them all,
 *   @sha256 is set and no more writes are accepted.
 */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include "lg.h"
#include "raw.h"
#include "digest.h"
#include "privs.h"

struct lg_raw {
	GByteArray *mem;      /* while small; handed to the stream at finish */
	int fd;               /* spool file once over mem_limit, else -1 */
	char *spool_dir;
	gsize mem_limit;
	gint64 size;
	lg_sha256 *sum;
	GMimeStream *stream;  /* after finish */
	char sha256[65];
	gboolean finished;
	gboolean pending_cr;  /* the last byte written was a CR, held back */
};

lg_raw *
lg_raw_new(const char *spool_dir, gsize mem_limit)
{
	lg_raw *raw = g_new0(lg_raw, 1);
	raw->mem = g_byte_array_new();
	raw->fd = -1;
	raw->spool_dir = g_strdup(spool_dir && *spool_dir ? spool_dir : g_get_tmp_dir());
	raw->mem_limit = mem_limit ? mem_limit : 1024 * 1024;
	raw->sum = lg_sha256_new();
	return raw;
}

static gboolean
write_all(int fd, const guint8 *p, gsize len, GError **error)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			g_set_error(error, LG_MESSAGE_ERROR, LG_MESSAGE_ERROR_IO,
			            "cannot write spool file: %s", g_strerror(e));
			return FALSE;
		}
		p += w;
		len -= (gsize) w;
	}
	return TRUE;
}

static gboolean
spill(lg_raw *raw, GError **error)
{
	g_autofree char *tmpl = NULL;
	g_autoptr(GError) err = NULL;
	/* O_EXCL, never through a symbolic link, mode 0600 (privs.h) */
	int fd = lg_spool_file_create(raw->spool_dir, "leadgate-XXXXXX", &tmpl, &err);
	if (fd < 0) {
		g_set_error(error, LG_MESSAGE_ERROR, LG_MESSAGE_ERROR_IO, "%s", err->message);
		return FALSE;
	}
	g_unlink(tmpl);   /* the file lives as long as the descriptor */
	if (!write_all(fd, raw->mem->data, raw->mem->len, error)) {
		close(fd);
		return FALSE;
	}
	g_byte_array_set_size(raw->mem, 0);
	raw->fd = fd;
	return TRUE;
}

static gboolean raw_store(lg_raw *raw, const guint8 *data, gsize len, GError **error);

gboolean
lg_raw_write(lg_raw *raw, const void *data, gsize len, GError **error)
{
	g_return_val_if_fail(!raw->finished, FALSE);
	const guint8 *p = data, *end = p + len;
	if (len == 0)
		return TRUE;
	if (raw->pending_cr && *p != '\n' && !raw_store(raw, (const guint8 *) "\r", 1, error))
		return FALSE;
	raw->pending_cr = FALSE;
	/* store runs between CRs; drop a CR before LF, hold one at the end */
	while (p < end) {
		const guint8 *cr = memchr(p, '\r', (gsize) (end - p));
		if (cr == NULL)
			return raw_store(raw, p, (gsize) (end - p), error);
		if (!raw_store(raw, p, (gsize) (cr - p), error))
			return FALSE;
		if (cr + 1 == end) {
			raw->pending_cr = TRUE;
			return TRUE;
		}
		if (cr[1] != '\n' && !raw_store(raw, cr, 1, error))
			return FALSE;
		p = cr + 1;
	}
	return TRUE;
}

static gboolean
raw_store(lg_raw *raw, const guint8 *data, gsize len, GError **error)
{
	if (len == 0)
		return TRUE;
	lg_sha256_update(raw->sum, data, len);
	raw->size += (gint64) len;
	if (raw->fd < 0 && raw->mem->len + len > raw->mem_limit && !spill(raw, error))
		return FALSE;
	if (raw->fd >= 0)
		return write_all(raw->fd, data, len, error);
	g_byte_array_append(raw->mem, data, (guint) len);
	return TRUE;
}

gboolean
lg_raw_finish(lg_raw *raw, GError **error)
{
	if (raw->finished)
		return TRUE;
	if (raw->pending_cr) {
		raw->pending_cr = FALSE;
		if (!raw_store(raw, (const guint8 *) "\r", 1, error))
			return FALSE;
	}
	lg_sha256_finish(raw->sum, raw->sha256);
	if (raw->fd >= 0) {
		if (lseek(raw->fd, 0, SEEK_SET) < 0) {
			int e = errno;
			g_set_error(error, LG_MESSAGE_ERROR, LG_MESSAGE_ERROR_IO,
			            "cannot rewind spool file: %s", g_strerror(e));
			return FALSE;
		}
		raw->stream = g_mime_stream_fs_new(raw->fd);   /* owns fd now */
		raw->fd = -1;
		g_byte_array_unref(raw->mem);
	} else {
		raw->stream = g_mime_stream_mem_new_with_byte_array(raw->mem);  /* owns mem */
	}
	raw->mem = NULL;
	raw->finished = TRUE;
	return TRUE;
}

lg_raw *
lg_raw_new_from_data(const void *data, gsize len)
{
	lg_raw *raw = lg_raw_new(NULL, len + 1);
	lg_raw_write(raw, data, len, NULL);   /* in memory: cannot fail */
	lg_raw_finish(raw, NULL);
	return raw;
}

static lg_raw *
raw_from_file(const char *path, const char *spool_dir, int flags, GError **error)
{
	int fd;
	gboolean is_stdin = g_strcmp0(path, "-") == 0 && flags == 0;
	if (is_stdin) {
		fd = STDIN_FILENO;
	} else {
		fd = g_open(path, O_RDONLY | O_CLOEXEC | flags, 0);
		if (fd < 0) {
			int e = errno;
			g_set_error(error, LG_USAGE_ERROR, LG_USAGE_ERROR_NOINPUT,
			            "cannot open %s: %s", path, g_strerror(e));
			return NULL;
		}
	}
	g_autoptr(lg_raw) raw = lg_raw_new(spool_dir, 1024 * 1024);
	guint8 buf[65536];
	for (;;) {
		ssize_t r = read(fd, buf, sizeof buf);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			g_set_error(error, LG_MESSAGE_ERROR, LG_MESSAGE_ERROR_IO,
			            "cannot read %s: %s", is_stdin ? "standard input" : path, g_strerror(e));
			if (!is_stdin)
				close(fd);
			return NULL;
		}
		if (r == 0)
			break;
		if (!lg_raw_write(raw, buf, (gsize) r, error)) {
			if (!is_stdin)
				close(fd);
			return NULL;
		}
	}
	if (!is_stdin)
		close(fd);
	if (!lg_raw_finish(raw, error))
		return NULL;
	return g_steal_pointer(&raw);
}

lg_raw *
lg_raw_new_from_file(const char *path, const char *spool_dir, GError **error)
{
	return raw_from_file(path, spool_dir, 0, error);
}

lg_raw *
lg_raw_new_from_spool(const char *path, const char *spool_dir, GError **error)
{
	return raw_from_file(path, spool_dir, O_NOFOLLOW, error);
}

GMimeStream *
lg_raw_stream(lg_raw *raw)
{
	g_return_val_if_fail(raw->finished, NULL);
	return raw->stream;
}

gint64
lg_raw_size(const lg_raw *raw)
{
	return raw->size;
}

const char *
lg_raw_sha256(const lg_raw *raw)
{
	return raw->finished ? raw->sha256 : NULL;
}

void
lg_raw_free(lg_raw *raw)
{
	if (raw == NULL)
		return;
	if (raw->mem)
		g_byte_array_unref(raw->mem);
	if (raw->fd >= 0)
		close(raw->fd);
	if (raw->stream)
		g_object_unref(raw->stream);
	lg_sha256_free(raw->sum);
	g_free(raw->spool_dir);
	g_free(raw);
}
