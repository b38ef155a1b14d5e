/*
 * text/analyze.h - the whole pipeline in one call: normalise, tokenise,
 * merge spaced-out letters, colloquial normalisation, stopword marking and
 * stemming, producing terms with byte offsets into the original text.
 *
 * struct text_analyzer is caller-owned configuration; its pointers are
 * borrowed (the lexicon, stopwords and stemmer must outlive every use) and
 * may be NULL to skip that stage. It is read-only during analysis, so one
 * analyzer serves all threads.
 *
 * struct text_work is a per-thread workspace holding the buffers that the
 * terms point into, plus a cache of word analyses (64 KiB, growing to 2 MiB
 * in a long-lived workspace). Reusing it makes analysis allocation-free once
 * it has grown to the largest input seen. It must not be used by two threads
 * at once.
 */
#ifndef TEXT_ANALYZE_H
#define TEXT_ANALYZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "text/lexicon.h"
#include "text/stem.h"
#include "text/token.h"

#define TEXT_AN_HTML 0x1u	/* input may carry HTML markup */
#define TEXT_AN_NO_STEM 0x2u	/* leave term.stem equal to term.norm */

struct text_analyzer {
	const struct text_lexicon *lexicon;	/* NULL: no colloquial normalisation */
	const struct text_stopwords *stopwords; /* NULL: nothing is a stopword */
	const struct text_stemmer *stemmer;	/* NULL: no stemming */
	unsigned flags;				/* TEXT_AN_* */
};

struct text_term {
	enum text_token_type type;
	const char *norm; /* normalised word (or URL, emoji, ...), in the workspace */
	const char *stem; /* stem of norm for words; == norm for other types */
	uint32_t norm_len, stem_len;
	uint32_t orig_start, orig_end; /* bytes of the original text */
	bool stop;	/* norm is a stopword */
	bool glued;	/* no space between this and the previous token ("an.jing") */
};

struct text_work;

/*
 * New workspace accepting inputs up to max_input bytes (the cap for anything
 * filled from outside). NULL on ENOMEM.
 */
struct text_work *text_work_new(size_t max_input);
void text_work_free(struct text_work *wk);

/*
 * Analyse in[0..len). On success *terms points to *nterms terms owned by wk,
 * valid until the next call on wk. A formal form of several words yields one
 * term per word, all with the offsets of the source token; a run of 3 or more
 * single letters ("s l o t", "a.n.j.i.n.g") becomes one word term.
 * Returns 0, UTIL_ETOOBIG (len > max_input) or UTIL_ENOMEM.
 */
__attribute__((warn_unused_result)) int text_analyze(const struct text_analyzer *an,
						     struct text_work *wk, const char *in,
						     size_t len, const struct text_term **terms,
						     size_t *nterms);

/* The normalised text of the last analysis (valid like the terms). */
const char *text_work_normalized(const struct text_work *wk, size_t *len);

#endif
