/*
 * text/match.h - Aho-Corasick multi-pattern matching over analysed text.
 *
 * Patterns (tens of thousands; each with an id, a category and a weight) are
 * analysed with the same struct text_analyzer as the text (normalisation,
 * colloquial and digit rules, no stemming) and stored as their words joined
 * without separators. Text is matched as the concatenation of its word terms
 * (the terms of the last text_analyze() on the workspace), which is what makes
 * matching resistant to obfuscation:
 *   - "g4c0r", "bangeeet", "yg": fixed by the word normaliser first;
 *   - "s l o t", "a.n.j.i.n.g": single letters merge into one word;
 *   - inserted punctuation ("an.jing", "ju-di"): a match may span several
 *     text words when only punctuation, no space, separates them;
 *   - masked vowels ("j*d*", "anj*ng"): when the text has a '*', a second
 *     automaton over vowel-masked patterns runs, and each candidate is checked
 *     letter by letter ('*' stands for exactly one vowel).
 * A match is whole-word: it starts at the start of a text word and ends at the
 * end of one (TEXT_PAT_PREFIX: may end inside a word, e.g. "anjing" in
 * "anjingnya"); inside it, every break between text words must be a break of
 * the pattern (a phrase), a glued break, or between single letters.
 * Positions are reported in the ORIGINAL text, covering whole words.
 *
 * Build once (add..., compile), then text_matcher_match() is read-only on the
 * matcher and may run from many threads, each with its own text_work.
 */
#ifndef TEXT_MATCH_H
#define TEXT_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "text/analyze.h"

#define TEXT_PAT_PREFIX 0x1u /* the match may end inside a text word */

struct text_match {
	uint32_t id;       /* the pattern's id as given to text_matcher_add */
	uint32_t category;
	float weight;
	uint32_t orig_start, orig_end; /* bytes in the original text */
};

struct text_matcher;

/*
 * New, empty matcher. an (borrowed, must outlive the matcher) normalises the
 * patterns; its stemmer and stopwords are not used. NULL on ENOMEM.
 */
struct text_matcher *text_matcher_new(const struct text_analyzer *an);
void text_matcher_free(struct text_matcher *m);

/*
 * Add a pattern (UTF-8, up to 255 bytes after normalisation). Returns 0,
 * UTIL_EINVAL (empty after normalisation, too long, or matcher compiled) or
 * UTIL_ENOMEM.
 */
__attribute__((warn_unused_result)) int text_matcher_add(struct text_matcher *m, const char *pattern,
							  size_t len, uint32_t id, uint32_t category,
							  float weight, unsigned flags, char *err,
							  size_t errlen);

/* Build the automata. Returns 0, UTIL_EINVAL (no patterns) or UTIL_ENOMEM. */
__attribute__((warn_unused_result)) int text_matcher_compile(struct text_matcher *m, char *err,
							      size_t errlen);

size_t text_matcher_count(const struct text_matcher *m);

/*
 * Find every pattern occurrence in the terms last produced by text_analyze()
 * on wk. Up to cap matches go to out, in order of their end position; returns
 * the total number found (more than cap means some were dropped), or 0 if the
 * matcher is not compiled or wk's scratch cannot grow.
 */
size_t text_matcher_match(const struct text_matcher *m, struct text_work *wk,
			  struct text_match *out, size_t cap);

#endif
