/*
 * NAME
 *   bench-parse - the parse ceiling: GMime parsing one message from memory.
 *
 * SYNOPSIS
 *   bench-parse FILE [SECONDS [THREADS]]
 *
 * SUMMARY
 *   Loads FILE once, then parses it with GMimeParser from a memory stream
 *   over and over on THREADS threads (default 1), each with its own parser
 *   and message, for SECONDS (default 1.5) and at most 10 million parses
 *   per thread, so the program always ends.
 *
 *   The parse ceiling of the machine is one process per core with one
 *   thread each (run.sh starts them): threads of one process contend on
 *   GObject's locks (g_pointer_bit_lock, type class references), which
 *   several threads of one process show as a lower figure.
 *
 * OUTPUT
 *   parse_msgs_per_s R threads T us_per_parse U
 *   (U is thread time per parse: wall time x THREADS / parses.)
 */
#include <stdio.h>
#include <stdlib.h>

#include <gmime/gmime.h>

#define PARSE_MAX_ITER 10000000

typedef struct {
	GByteArray *data;     /* shared, read-only */
	gint64 deadline;      /* monotonic µs */
	guint64 parses;
	gboolean failed;
} parse_job;

static gpointer
parse_loop(gpointer p)
{
	parse_job *job = p;
	for (int i = 0; i < PARSE_MAX_ITER; i++) {
		if ((i & 15) == 0 && g_get_monotonic_time() >= job->deadline)
			break;
		GMimeStream *stream = g_mime_stream_mem_new_with_byte_array(job->data);
		g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream), FALSE);
		GMimeParser *parser = g_mime_parser_new_with_stream(stream);
		GMimeMessage *msg = g_mime_parser_construct_message(parser, NULL);
		if (msg == NULL)
			job->failed = TRUE;
		else
			g_object_unref(msg);
		g_object_unref(parser);
		g_object_unref(stream);
		job->parses++;
	}
	return NULL;
}

/* Runs @threads loops in parallel for @seconds; returns total parses and wall time. */
static gboolean
parse_run(GByteArray *data, int threads, double seconds, guint64 *parses_r, gint64 *wall_us_r)
{
	parse_job *jobs = g_new0(parse_job, threads);
	GThread **tids = g_new0(GThread *, threads);
	gint64 start = g_get_monotonic_time();
	gboolean ok = TRUE;

	*parses_r = 0;
	for (int i = 0; i < threads; i++) {
		jobs[i].data = data;
		jobs[i].deadline = start + (gint64) (seconds * 1e6);
		tids[i] = g_thread_new("parse", parse_loop, &jobs[i]);
	}
	for (int i = 0; i < threads; i++) {
		g_thread_join(tids[i]);
		*parses_r += jobs[i].parses;
		ok = ok && !jobs[i].failed;
	}
	*wall_us_r = g_get_monotonic_time() - start;
	g_free(jobs);
	g_free(tids);
	return ok;
}

int
main(int argc, char **argv)
{
	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: bench-parse FILE [SECONDS [THREADS]]\n");
		return 2;
	}
	double seconds = argc > 2 ? g_ascii_strtod(argv[2], NULL) : 1.5;
	int threads = argc > 3 ? atoi(argv[3]) : 1;
	if (seconds <= 0 || seconds > 60 || threads < 1 || threads > 256) {
		fprintf(stderr, "bench-parse: SECONDS in (0, 60], THREADS in [1, 256]\n");
		return 2;
	}

	g_autofree char *raw = NULL;
	gsize len = 0;
	g_autoptr(GError) error = NULL;
	if (!g_file_get_contents(argv[1], &raw, &len, &error)) {
		fprintf(stderr, "bench-parse: %s\n", error->message);
		return 2;
	}
	g_mime_init();
	GByteArray *data = g_byte_array_new();
	g_byte_array_append(data, (const guint8 *) raw, (guint) len);

	guint64 n = 0;
	gint64 wall = 0;
	gboolean ok = parse_run(data, threads, seconds, &n, &wall);

	printf("parse_msgs_per_s %.0f threads %d us_per_parse %.1f\n",
	       wall > 0 ? (double) n * 1e6 / (double) wall : 0.0, threads,
	       n > 0 ? (double) wall * threads / (double) n : 0.0);
	g_byte_array_unref(data);
	g_mime_shutdown();
	if (!ok) {
		fprintf(stderr, "bench-parse: GMime could not parse %s\n", argv[1]);
		return 1;
	}
	return 0;
}
