/*
 * NAME
 *   raw.h - the raw bytes of one message, hashed as they arrive.
 *
 * SUMMARY
 *   A raw message is written once (lg_raw_write ... lg_raw_finish) or read
 *   from a file, and read many times afterwards through a seekable GMime
 *   stream: by the parser, and by the store, which keeps it content-addressed
 *   by its SHA-256. Small messages stay in memory; past @mem_limit bytes the
 *   writer spills to an unlinked temporary file in @spool_dir, so memory does
 *   not grow with message size.
 *
 *   An lg_raw is used by one thread at a time; it may move between threads.
 */
#ifndef LG_RAW_H
#define LG_RAW_H

#include <glib.h>
#include <gmime/gmime.h>

G_BEGIN_DECLS

typedef struct lg_raw lg_raw;

/* A new, empty raw message to be written. @spool_dir NULL means g_get_tmp_dir(). */
lg_raw *lg_raw_new(const char *spool_dir, gsize mem_limit);
gboolean lg_raw_write(lg_raw *raw, const void *data, gsize len, GError **error);
/* Ends writing: the hash is final and the stream is rewound. */
gboolean lg_raw_finish(lg_raw *raw, GError **error);

/* Reads a whole file (or standard input for "-") into a finished raw. */
lg_raw *lg_raw_new_from_file(const char *path, const char *spool_dir, GError **error);
/* The same for a daemon's own spool file: a symbolic link at @path is not
 * followed (an error), and "-" is a file name like any other. */
lg_raw *lg_raw_new_from_spool(const char *path, const char *spool_dir, GError **error);
lg_raw *lg_raw_new_from_data(const void *data, gsize len);

/* Borrowed; valid until lg_raw_free. Callers seek it to 0 before reading. */
GMimeStream *lg_raw_stream(lg_raw *raw);
gint64 lg_raw_size(const lg_raw *raw);
/* Lower-case hex SHA-256 of the bytes; only after finish. Borrowed. */
const char *lg_raw_sha256(const lg_raw *raw);

void lg_raw_free(lg_raw *raw);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(lg_raw, lg_raw_free)

G_END_DECLS

#endif
