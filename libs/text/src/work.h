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
};

struct work_stem_slot {
	char word[24], stem[24];
	uint8_t wlen, slen;
};

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
	struct work_stem_slot *cache;
};

#endif
