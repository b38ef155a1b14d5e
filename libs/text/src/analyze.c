/*
 * analyze.c - the pipeline of text/analyze.h: text_norm, the tokeniser,
 * single-letter merging, colloquial normalisation, stopwords and stemming,
 * writing terms into a reusable per-thread workspace.
 */
#include "text/analyze.h"

#include <stdlib.h>
#include <string.h>

#include "text/norm.h"
#include "util/err.h"
#include "work.h"

#define WMAX 64
#define CACHE_SLOTS 4096 /* per-workspace stem cache, direct-mapped */

struct text_work *text_work_new(size_t max_input)
{
	struct text_work *wk = calloc(1, sizeof(*wk));

	if (!wk)
		return NULL;
	wk->max_input = max_input;
	wk->cache = calloc(CACHE_SLOTS, sizeof(*wk->cache));
	if (!wk->cache) {
		free(wk);
		return NULL;
	}
	return wk;
}

void text_work_free(struct text_work *wk)
{
	if (!wk)
		return;
	free(wk->norm);
	free(wk->map);
	free(wk->terms);
	free(wk->out);
	free(wk->arena);
	free(wk->stream);
	free(wk->stream_term);
	free(wk->cache);
	free(wk);
}

const char *text_work_normalized(const struct text_work *wk, size_t *len)
{
	*len = wk->norm_len;
	return wk->norm;
}

static int reserve(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 256;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, n * elem);
	if (!q)
		return UTIL_ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

/* Append bytes to the arena; returns the offset or -1. Offsets survive growth. */
static long arena_put(struct text_work *wk, const char *s, size_t n)
{
	if (reserve((void **)&wk->arena, &wk->arena_cap, wk->arena_len + n + 1, 1))
		return -1;
	long off = (long)wk->arena_len;
	if (n)
		memcpy(wk->arena + wk->arena_len, s, n);
	wk->arena_len += n;
	return off;
}

static size_t cached_stem(struct text_work *wk, const struct text_stemmer *st, const char *w,
			  size_t n, char *out)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)w[i]) * 16777619u;
	struct work_stem_slot *sl = &wk->cache[h % CACHE_SLOTS];
	if (n < sizeof(sl->word) && sl->wlen == n && memcmp(sl->word, w, n) == 0) {
		memcpy(out, sl->stem, sl->slen);
		return sl->slen;
	}
	size_t m = text_stemmer_stem(st, w, n, out, WMAX);
	if (m > WMAX)
		m = WMAX;
	if (n < sizeof(sl->word) && m < sizeof(sl->stem)) {
		memcpy(sl->word, w, n);
		sl->wlen = (uint8_t)n;
		memcpy(sl->stem, out, m);
		sl->slen = (uint8_t)m;
	}
	return m;
}

struct pending {
	const char *s; /* token text (normalised) */
	size_t n;
	enum text_token_type type;
	uint32_t ostart, oend;
	bool glued;
};

/* Add the term(s) for one token. */
static int add_token(const struct text_analyzer *an, struct text_work *wk,
		     const struct pending *p)
{
	char buf[4 * WMAX], st[WMAX];
	const char *s = p->s;
	size_t n = p->n;

	if (p->type == TEXT_TOK_WORD && an->lexicon) {
		n = text_word_normalize(an->lexicon, an->stemmer, p->s, p->n, buf, sizeof(buf));
		s = buf;
	}
	for (size_t i = 0; i < n;) {
		size_t j = p->type == TEXT_TOK_WORD ? i : n;
		while (j < n && s[j] != ' ')
			j++;
		if (reserve((void **)&wk->terms, &wk->terms_cap, wk->nterms + 1, sizeof(*wk->terms)))
			return UTIL_ENOMEM;
		struct work_term *t = &wk->terms[wk->nterms];
		long no = arena_put(wk, s + i, j - i), so = no;
		size_t sn = j - i;
		if (no < 0)
			return UTIL_ENOMEM;
		if (p->type == TEXT_TOK_WORD && an->stemmer && !(an->flags & TEXT_AN_NO_STEM) &&
		    j - i <= WMAX) {
			sn = cached_stem(wk, an->stemmer, s + i, j - i, st);
			so = arena_put(wk, st, sn);
			if (so < 0)
				return UTIL_ENOMEM;
		}
		t->type = p->type;
		t->norm_off = (uint32_t)no;
		t->norm_len = (uint32_t)(j - i);
		t->stem_off = (uint32_t)so;
		t->stem_len = (uint32_t)sn;
		t->ostart = p->ostart;
		t->oend = p->oend;
		t->glued = i == 0 && p->glued;
		t->stop = p->type == TEXT_TOK_WORD &&
			  text_stopwords_contains(an->stopwords, s + i, j - i);
		wk->nterms++;
		i = j + 1;
	}
	return 0;
}

static bool single_letter(const struct text_token *t, const char *s)
{
	return t->type == TEXT_TOK_WORD && t->len == 1 && s[t->start] >= 'a' && s[t->start] <= 'z';
}

/* True if only punctuation (no space) separates the previous token from this one. */
static bool glued_gap(const struct text_work *wk, size_t prev_end, size_t start)
{
	if (wk->nterms == 0 || prev_end == 0 || start <= prev_end)
		return false;
	return memchr(wk->norm + prev_end, ' ', start - prev_end) == NULL;
}

/* Tokenise wk->norm and feed tokens (merging spaced-out letters) to add_token. */
static int tokenise(const struct text_analyzer *an, struct text_work *wk)
{
	struct text_tokenizer tk;
	struct text_token t, run[WMAX];
	char letters[WMAX];
	size_t nrun = 0, prev_end = 0;
	bool more;
	int rc = 0;

	text_tokenizer_init(&tk, wk->norm, wk->norm_len, wk->map);
	do {
		more = text_tokenizer_next(&tk, &t);
		bool joinable = more && single_letter(&t, wk->norm) && nrun < WMAX &&
				(nrun == 0 || t.start - (run[nrun - 1].start + 1) <= 2);
		if (joinable) {
			run[nrun++] = t;
			continue;
		}
		if (nrun >= 3) {
			for (size_t i = 0; i < nrun; i++)
				letters[i] = wk->norm[run[i].start];
			struct pending p = {letters, nrun, TEXT_TOK_WORD, run[0].orig_start,
					    run[nrun - 1].orig_end, false};
			rc = add_token(an, wk, &p);
			prev_end = run[nrun - 1].start + 1;
		} else {
			for (size_t i = 0; i < nrun && !rc; i++) {
				struct pending p = {wk->norm + run[i].start, 1, TEXT_TOK_WORD,
						    run[i].orig_start, run[i].orig_end,
						    glued_gap(wk, prev_end, run[i].start)};
				prev_end = run[i].start + 1;
				rc = add_token(an, wk, &p);
			}
		}
		nrun = 0;
		if (!more || rc)
			break;
		if (single_letter(&t, wk->norm)) {
			run[nrun++] = t;
			continue;
		}
		struct pending p = {wk->norm + t.start, t.len, t.type, t.orig_start, t.orig_end,
				    glued_gap(wk, prev_end, t.start)};
		prev_end = t.start + t.len;
		rc = add_token(an, wk, &p);
	} while (!rc);
	return rc;
}

int text_analyze(const struct text_analyzer *an, struct text_work *wk, const char *in, size_t len,
		 const struct text_term **terms, size_t *nterms)
{
	int rc;

	if (!an || !wk || !terms || !nterms || (!in && len))
		return UTIL_EINVAL;
	if (len > wk->max_input)
		return UTIL_ETOOBIG;
	wk->nterms = 0;
	wk->arena_len = 0;
	wk->norm_len = 0;
	if (reserve((void **)&wk->norm, &wk->norm_cap, len + 1, 1) ||
	    reserve((void **)&wk->map, &wk->map_cap, len + 2, sizeof(*wk->map)))
		return UTIL_ENOMEM;
	rc = text_norm(in, len, (an->flags & TEXT_AN_HTML) ? TEXT_NORM_HTML : 0, wk->norm, wk->map,
		       len, &wk->norm_len);
	if (rc)
		return rc;
	rc = tokenise(an, wk);
	if (rc)
		return rc;
	/* resolve arena offsets now that the arena no longer moves */
	if (reserve((void **)&wk->out, &wk->out_cap, wk->nterms + 1, sizeof(*wk->out)))
		return UTIL_ENOMEM;
	for (size_t i = 0; i < wk->nterms; i++) {
		const struct work_term *t = &wk->terms[i];
		wk->out[i] = (struct text_term){
			.type = t->type,
			.norm = wk->arena + t->norm_off,
			.stem = wk->arena + t->stem_off,
			.norm_len = t->norm_len,
			.stem_len = t->stem_len,
			.orig_start = t->ostart,
			.orig_end = t->oend,
			.stop = t->stop,
			.glued = t->glued,
		};
	}
	*terms = wk->out;
	*nterms = wk->nterms;
	return 0;
}
