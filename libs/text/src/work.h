/*
 * work.h - internal layout of struct text_work (the per-thread workspace of
 * text/analyze.h), shared by analyze.c and match.c.
 */
#ifndef TEXT_WORK_H
#define TEXT_WORK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "text/analyze.h"

struct work_term {
	enum text_token_type type;
	uint32_t norm_off, norm_len, stem_off, stem_len;
	uint32_t ostart, oend;
	bool stop, glued;
	bool norm_in_text, stem_in_text; /* offsets into norm (the text), not arena */
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
	struct work_term *terms;
	size_t terms_cap, nterms;
	struct text_term *out;
	size_t out_cap;
	char *arena;
	size_t arena_cap, arena_len;
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
