/*
 * text/simhash.h - near-duplicate fingerprints.
 *
 * 64-bit SimHash (Charikar) over the analysed terms: features are the stems
 * of the non-stopword word/number terms as unigrams (weight 1) and adjacent
 * pairs (weight 1), hashed with 64-bit FNV-1a + a final mix. Two texts are
 * "the same text, lightly edited" when their fingerprints differ in at most
 * TEXT_SIMHASH_NEAR bits (the threshold Manku et al. (WWW 2007) use for
 * 64-bit fingerprints; the figures measured on the news corpus are in the
 * README). Pure, thread-safe, allocation-free.
 */
#ifndef TEXT_SIMHASH_H
#define TEXT_SIMHASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "text/analyze.h"

#define TEXT_SIMHASH_NEAR 3

/* Fingerprint of terms[0..n) (0 when there is no feature). */
uint64_t text_simhash(const struct text_term *terms, size_t n);

/* Hamming distance 0..64. */
int text_simhash_distance(uint64_t a, uint64_t b);

/* distance <= TEXT_SIMHASH_NEAR */
bool text_simhash_near(uint64_t a, uint64_t b);

#endif
