/*
 * ceilings.h - the reference points the ingest figure is judged against:
 * (A) a libmicrohttpd handler that answers 202 without work, (B) batched
 * multi-row INSERTs of the same rows straight into PostgreSQL, and the
 * baseline of one transaction per request.
 */
#ifndef BENCH_CEILINGS_H
#define BENCH_CEILINGS_H

#include <stddef.h>
#include <stdint.h>

#include "articles.h"

struct ceiling_http;

/*
 * Starts a minimal libmicrohttpd server on 127.0.0.1 (a free port) with
 * `threads` worker threads, epoll, keep-alive; it reads each request body
 * and answers 202 with a tiny JSON body. Returns NULL on failure (detail in
 * err). Free with ceiling_http_free().
 */
struct ceiling_http *ceiling_http_new(unsigned threads, char *err, size_t errlen);
/* The port it listens on. */
unsigned ceiling_http_port(const struct ceiling_http *c);
/* Stops the server; NULL does nothing. */
void ceiling_http_free(struct ceiling_http *c);

/* What goes into the rows the PostgreSQL ceilings write. */
struct ceiling_pg_opts {
	const char *conninfo;      /* libpq URL */
	const struct article_set *articles; /* borrowed, cycled through */
	const char *region_code;
	const char *kim_id;        /* UUID text */
	const char *author_id;     /* UUID text, or NULL */
};

struct ceiling_pg_result {
	uint64_t rows;
	double elapsed_s;
	double rows_per_s;
};

/*
 * Creates a scratch schema simpul_bench_<pid> with a table LIKE
 * simpul.content INCLUDING ALL (same columns, defaults, checks, indexes),
 * and reports the server's fsync / synchronous_commit settings into
 * settings (e.g. "fsync=on synchronous_commit=on"). Returns 0 or a
 * negative UTIL_E* code with detail in err.
 */
__attribute__((warn_unused_result)) int ceiling_pg_prepare(const struct ceiling_pg_opts *o,
							     char *settings, size_t settingslen,
							     char *err, size_t errlen);

/* Drops the scratch schema (best effort). */
void ceiling_pg_cleanup(const struct ceiling_pg_opts *o);

/*
 * Ceiling B: inserts `rows` rows in multi-row INSERT statements of `batch`
 * rows each, every statement its own transaction, synchronous_commit on.
 */
__attribute__((warn_unused_result)) int ceiling_pg_batched(const struct ceiling_pg_opts *o,
							     uint64_t rows, unsigned batch,
							     struct ceiling_pg_result *res, char *err,
							     size_t errlen);

/*
 * Baseline: one INSERT + COMMIT per row on `conns` connections in parallel
 * (one thread each), until `max_rows` rows or `max_s` seconds.
 */
__attribute__((warn_unused_result)) int ceiling_pg_per_txn(const struct ceiling_pg_opts *o,
							     unsigned conns, uint64_t max_rows,
							     double max_s, struct ceiling_pg_result *res,
							     char *err, size_t errlen);

/*
 * Waits until simpul.outbox has no unsent rows or max_s passes; *left gets
 * the unsent count at the end, *waited_s the time spent. 0 or UTIL_E*.
 */
__attribute__((warn_unused_result)) int ceiling_pg_outbox_wait(const char *conninfo, double max_s,
								 long long *left, double *waited_s,
								 char *err, size_t errlen);

#endif
