/*
 * work.h - internal layout of struct text_work (the per-thread workspace of
 * text/analyze.h), shared by analyze.c and match.c.
 */
#ifndef TEXT_WORK_H
#define TEXT_WORK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <stdlib.h>

#include "text/analyze.h"
#include "util/err.h"

/* Grow *p (*cap elements of elem bytes) to hold need elements, doubling. */
static inline int work_grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (__builtin_expect(need <= *cap, 1))
		return 0;
	size_t n = *cap ? *cap : 64;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, n * elem);
	if (!q)
		return UTIL_ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

/*
 * Arena for the rewritten forms and stems the terms point to: a list of
 * chunks, newest first, that never move during an analysis (so terms can
 * point into them as they are written); merged into one chunk at the start
 * of the next analysis.
 */
struct work_chunk {
	struct work_chunk *next;
	size_t cap;
	char data[];
};

/*
 * One cached word analysis (64 bytes): the token text (key), its colloquial
 * normal form when that is a single word, the stem of that and whether it
 * is a stopword. buf holds the key, then the normal form unless it equals the
 * key, then the stem unless it equals the normal form.
 */
struct work_word {
	uint32_t tag; /* hash bits ^ generation; 0 = empty */
	uint8_t klen, nlen, slen, flags;
	char buf[56];
};

#define WORK_WORD_STOP 0x1u
#define WORK_WORD_NORM_IS_KEY 0x2u
#define WORK_WORD_STEM_IS_NORM 0x4u

struct text_work {
	size_t max_input;
	char *norm;
	size_t norm_cap, norm_len;
	uint32_t *map;
	size_t map_cap;
	struct text_term *out; /* the terms, written directly */
	size_t out_cap, nterms;
	struct work_chunk *arena;
	size_t arena_len; /* bytes used in the newest chunk */
	/* matcher scratch: concatenated term text and the term of each byte */
	char *stream;
	size_t stream_cap;
	uint32_t *stream_term;
	size_t stream_term_cap;
	/* word cache, valid for one analyzer configuration (cache_cfg) */
	struct work_word *cache; /* 2^cache_bits entries, in two-way sets */
	unsigned cache_bits;
	size_t cache_mask;  /* number of sets - 1 */
	size_t cache_words; /* lookups since the last resize */
	uint64_t cache_cfg[4];
	uint32_t cache_gen, cache_mix;
};

#endif
