/*
 * bench/search/search_bench.h - shared by the search benchmark's files:
 * the corpus and the query mix (corpus.c).
 */
#ifndef BENCH_SEARCH_BENCH_H
#define BENCH_SEARCH_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "articles.h"
#include "search.h"
#include "util/buf.h"

struct corpus {
	struct article_set arts;
	char **sent;          /* every sentence of every body (owned) */
	size_t nsent;
	char (*regions)[16];  /* desa codes */
	size_t nregions;
	uint64_t seed;        /* query generator state */
};

/* Loads articles and regions from data_dir. 0 or UTIL_E* with err set. */
int corpus_load(struct corpus *c, const char *data_dir, char *err, size_t errlen);
void corpus_release(struct corpus *c);

/* Document i (deterministic): the i-th article for i < n, else 3..10
 * sentences of random articles under a real title. */
int corpus_doc(struct corpus *c, size_t i, struct util_buf *title, struct util_buf *body,
	       const char **region, int64_t *age_ms);

/* Next query of the mix: 1-3 words, half of them with a province or
 * kabupaten prefix (region "" otherwise). */
void corpus_query(struct corpus *c, char q[128], char region[16]);

/*
 * Makes sure database db exists on the server of pg_url (CREATE DATABASE
 * when missing) and carries every Simpul migration; out receives pg_url with
 * its database replaced by db. 0 or UTIL_E* with err set.
 */
int bench_db_open(const char *pg_url, const char *db, char *out, size_t outlen, char *err,
		  size_t errlen);

#endif
