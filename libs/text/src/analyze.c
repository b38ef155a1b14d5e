/*
 * analyze.c - the pipeline of text/analyze.h: text_norm, the tokeniser,
 * single-letter merging, colloquial normalisation, stopwords and stemming,
 * writing terms into a reusable per-thread workspace. A per-workspace cache
 * of whole word analyses makes the common word one hash probe.
 */
#include "text/analyze.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "stamp.h"
#include "strtab.h"
#include "text/norm.h"
#include "util/err.h"
#include "work.h"

#define WMAX 64
/*
 * Word cache size: it starts at 2^10 entries (64 KiB) and grows to 2^15
 * (2 MiB) once a workspace has seen enough words to fill it, so a workspace
 * made for one short text stays cheap while a long-lived per-thread one gets
 * a cache large enough for the vocabulary of a news stream.
 */
#define CACHE_BITS_MIN 10
#define CACHE_BITS_MAX 15

struct text_work *text_work_new(size_t max_input)
{
	struct text_work *wk = calloc(1, sizeof(*wk));

	if (!wk)
		return NULL;
	wk->max_input = max_input;
	return wk;
}

void text_work_free(struct text_work *wk)
{
	if (!wk)
		return;
	free(wk->norm);
	free(wk->map);
	free(wk->out);
	while (wk->arena) {
		struct work_chunk *c = wk->arena;
		wk->arena = c->next;
		free(c);
	}
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

/*
 * The cache is probed at random once per word: on 4 KiB pages nearly every
 * probe of the full-size table would also miss the TLB, so ask for a
 * transparent huge page.
 */
static int cache_alloc(struct text_work *wk, unsigned bits)
{
	size_t size = ((size_t)1 << bits) * sizeof(struct work_word);
	void *p = NULL;

	if (posix_memalign(&p, size, size) != 0)
		return UTIL_ENOMEM;
	if (size >= ((size_t)2 << 20))
		(void)madvise(p, size, MADV_HUGEPAGE); /* a hint: failure only costs speed */
	memset(p, 0, size);
	free(wk->cache);
	wk->cache = p;
	wk->cache_bits = bits;
	wk->cache_mask = (((size_t)1 << bits) / 2 - 1);
	wk->cache_words = 0;
	return 0;
}

/* Grow when the words looked up since the last resize (or this input's
 * likely word count) are several times the entries. */
static int cache_size(struct text_work *wk, size_t len)
{
	size_t entries = (size_t)1 << wk->cache_bits;
	unsigned bits = wk->cache_bits;

	if (!wk->cache)
		return cache_alloc(wk, CACHE_BITS_MIN);
	while (bits < CACHE_BITS_MAX && (wk->cache_words > 4 * entries || len / 8 > entries)) {
		bits++;
		entries *= 2;
	}
	return bits == wk->cache_bits ? 0 : cache_alloc(wk, bits);
}

/*
 * The word cache holds results for one configuration (the stamps of the
 * lexicon, stopwords and stemmer, and the no-stem flag). A new configuration
 * starts a new generation, mixed into every tag, so old entries simply stop
 * matching: for one key the tag depends on the generation only.
 */
static int cache_prepare(const struct text_analyzer *an, struct text_work *wk, size_t len)
{
	uint64_t cfg[4] = {text_lexicon_stamp(an->lexicon), text_stopwords_stamp(an->stopwords),
			   text_stemmer_stamp(an->stemmer), an->flags & TEXT_AN_NO_STEM};
	int rc = cache_size(wk, len);

	if (rc)
		return rc;
	if (memcmp(cfg, wk->cache_cfg, sizeof(cfg)) == 0)
		return 0;
	memcpy(wk->cache_cfg, cfg, sizeof(cfg));
	if (++wk->cache_gen == 0) { /* wrapped: tags could repeat, forget all */
		memset(wk->cache, 0, ((size_t)1 << wk->cache_bits) * sizeof(*wk->cache));
		wk->cache_gen = 1;
	}
	wk->cache_mix = wk->cache_gen * 0x9e3779b9u;
	return 0;
}

struct pending {
	const char *s; /* token text (normalised) */
	size_t n;
	enum text_token_type type;
	uint32_t ostart, oend;
	bool glued;
	bool hashed; /* h holds strtab_hash64(s, n) */
	uint64_t h;
};

/*
 * n bytes of arena that stay put until the next analysis; NULL on ENOMEM.
 * A full chunk is kept (terms point into it) and a larger one started.
 */
static char *arena_take(struct text_work *wk, size_t n)
{
	struct work_chunk *c = wk->arena;

	if (__builtin_expect(c && c->cap - wk->arena_len >= n, 1)) {
		char *p = c->data + wk->arena_len;
		wk->arena_len += n;
		return p;
	}
	size_t cap = c ? 2 * c->cap : 4096;
	while (cap < n)
		cap *= 2;
	struct work_chunk *nc = malloc(sizeof(*nc) + cap);
	if (!nc)
		return NULL;
	nc->next = c;
	nc->cap = cap;
	wk->arena = nc;
	wk->arena_len = n;
	return nc->data;
}

/* Start an analysis with one chunk as large as all of the last one's. */
static int arena_reset(struct text_work *wk)
{
	wk->arena_len = 0;
	if (!wk->arena || !wk->arena->next)
		return 0;
	size_t cap = 0;
	while (wk->arena) {
		struct work_chunk *c = wk->arena;
		cap += c->cap;
		wk->arena = c->next;
		free(c);
	}
	wk->arena = malloc(sizeof(*wk->arena) + cap);
	if (!wk->arena)
		return UTIL_ENOMEM;
	wk->arena->next = NULL;
	wk->arena->cap = cap;
	return 0;
}

/*
 * Append one term; stem NULL means the stem is the normal form itself. Bytes
 * that already sit in the normalised text (most words are their own normal
 * form) are referenced there; only rewritten forms and stems are copied.
 */
static int put_term(struct text_work *wk, const struct pending *p, const char *norm, size_t nn,
		    const char *stem, size_t sn, bool stop, bool glued)
{
	uintptr_t base = (uintptr_t)wk->norm, at = (uintptr_t)norm;
	bool in_text = at >= base && at - base < wk->norm_len;
	size_t need = (in_text ? 0 : nn) + (stem ? sn : 0);
	char *a = NULL;

	if (work_grow((void **)&wk->out, &wk->out_cap, wk->nterms + 1, sizeof(*wk->out)) ||
	    (need && !(a = arena_take(wk, need))))
		return UTIL_ENOMEM;
	struct text_term *t = &wk->out[wk->nterms++];
	t->type = p->type;
	t->norm_len = (uint32_t)nn;
	if (!in_text) {
		memcpy(a, norm, nn);
		norm = a;
		a += nn;
	}
	t->norm = norm;
	t->stem = norm;
	t->stem_len = (uint32_t)nn;
	if (stem) {
		memcpy(a, stem, sn);
		t->stem = a;
		t->stem_len = (uint32_t)sn;
	}
	t->orig_start = p->ostart;
	t->orig_end = p->oend;
	t->glued = glued;
	t->stop = stop;
	return 0;
}

static int put_cached(struct text_work *wk, const struct pending *p, const struct work_word *e)
{
	const char *norm = p->s, *stem; /* p->s: the key, maybe in the text */
	size_t pos = e->klen;

	if (!(e->flags & WORK_WORD_NORM_IS_KEY)) {
		norm = e->buf + pos;
		pos += e->nlen;
	}
	stem = (e->flags & WORK_WORD_STEM_IS_NORM) ? NULL : e->buf + pos;
	return put_term(wk, p, norm, e->nlen, stem, e->slen, e->flags & WORK_WORD_STOP, p->glued);
}

/* Remember the analysis of the single-word token p (if it fits an entry). */
static void cache_store(struct work_word *e, uint32_t tag, const struct pending *p,
			const char *norm, size_t nn, const char *stem, size_t sn, bool stop)
{
	bool nk = nn == p->n && memcmp(norm, p->s, nn) == 0;
	bool sm = !stem;
	size_t need = p->n + (nk ? 0 : nn) + (sm ? 0 : sn);
	char *b = e->buf;

	if (need > sizeof(e->buf))
		return;
	memcpy(b, p->s, p->n);
	b += p->n;
	if (!nk) {
		memcpy(b, norm, nn);
		b += nn;
	}
	if (!sm)
		memcpy(b, stem, sn);
	e->klen = (uint8_t)p->n;
	e->nlen = (uint8_t)nn;
	e->slen = (uint8_t)(sm ? nn : sn);
	e->flags = (uint8_t)((stop ? WORK_WORD_STOP : 0) | (nk ? WORK_WORD_NORM_IS_KEY : 0) |
			     (sm ? WORK_WORD_STEM_IS_NORM : 0));
	e->tag = tag;
}

/* Colloquial normalisation, stopword and stem of one word token (uncached). */
static int add_word_slow(const struct text_analyzer *an, struct text_work *wk,
			 const struct pending *p, struct work_word *e, uint32_t tag)
{
	char buf[4 * WMAX], st[WMAX];
	const char *s = p->s;
	size_t n = p->n;
	bool stem_on = an->stemmer && !(an->flags & TEXT_AN_NO_STEM);

	if (an->lexicon) {
		n = text_word_normalize(an->lexicon, an->stemmer, p->s, p->n, buf, sizeof(buf));
		s = n == p->n && memcmp(buf, p->s, n) == 0 ? p->s : buf;
	}
	for (size_t i = 0; i < n;) {
		size_t j = i, sn = 0;
		const char *stem = NULL;
		while (j < n && s[j] != ' ')
			j++;
		if (stem_on && j - i <= WMAX) {
			sn = text_stemmer_stem(an->stemmer, s + i, j - i, st, WMAX);
			if (sn > WMAX)
				sn = WMAX;
			stem = st;
		}
		if (stem && sn == j - i && memcmp(st, s + i, sn) == 0)
			stem = NULL;
		bool stop = text_stopwords_contains(an->stopwords, s + i, j - i);
		if (e && i == 0 && j == n)
			cache_store(e, tag, p, s, n, stem, sn, stop);
		int rc = put_term(wk, p, s + i, j - i, stem, sn, stop, i == 0 && p->glued);
		if (rc)
			return rc;
		i = j + 1;
	}
	return 0;
}

static inline bool cache_hit(const struct work_word *e, uint32_t tag, const struct pending *p)
{
	return e->tag == tag && e->klen == p->n && strtab_eq(e->buf, p->s, p->n);
}

/*
 * Add the term(s) for one token. Words go through the cache: two-way sets,
 * most recently used first, so a rare word evicts a rare word rather than
 * one of the frequent ones that make up most of any text.
 */
static int add_token(const struct text_analyzer *an, struct text_work *wk,
		     const struct pending *p)
{
	if (p->type != TEXT_TOK_WORD)
		return put_term(wk, p, p->s, p->n, NULL, 0, false, p->glued);
	if (p->n > sizeof(wk->cache->buf))
		return add_word_slow(an, wk, p, NULL, 0);
	uint64_t h = p->hashed ? p->h : strtab_hash64(p->s, p->n);
	uint32_t tag = (uint32_t)(h >> 32) ^ wk->cache_mix;
	struct work_word *set = &wk->cache[(h & wk->cache_mask) * 2];
	wk->cache_words++;
	if (tag == 0)
		return add_word_slow(an, wk, p, NULL, 0);
	if (cache_hit(&set[0], tag, p))
		return put_cached(wk, p, &set[0]);
	if (cache_hit(&set[1], tag, p)) {
		struct work_word tmp = set[1];
		set[1] = set[0];
		set[0] = tmp;
		return put_cached(wk, p, &set[0]);
	}
	if (set[0].tag)
		set[1] = set[0];
	return add_word_slow(an, wk, p, &set[0], tag);
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
	if (start - prev_end == 1) /* the usual single separator */
		return wk->norm[prev_end] != ' ';
	return memchr(wk->norm + prev_end, ' ', start - prev_end) == NULL;
}

/*
 * Tokens come in batches: the tokeniser runs ahead, hashes each word and
 * prefetches its cache set, so that by the time the word is looked up the
 * set is (usually) in cache rather than a trip to memory away.
 */
#define BATCH 64

struct batch {
	struct text_token t[BATCH];
	uint64_t h[BATCH];
	size_t n, i;
};

static bool batch_next(struct text_tokenizer *tk, struct text_work *wk, struct batch *b,
		       struct text_token *t, uint64_t *h)
{
	if (b->i == b->n) {
		b->n = b->i = 0;
		while (b->n < BATCH && text_tokenizer_next(tk, &b->t[b->n])) {
			const struct text_token *x = &b->t[b->n];
			uint64_t hx = strtab_hash64(wk->norm + x->start, x->len);
			const struct work_word *set = &wk->cache[(hx & wk->cache_mask) * 2];
			if (x->type == TEXT_TOK_WORD)
				__builtin_prefetch(set);
			b->h[b->n++] = hx;
		}
		if (b->n == 0)
			return false;
	}
	*t = b->t[b->i];
	*h = b->h[b->i];
	b->i++;
	return true;
}

/* Tokenise wk->norm and feed tokens (merging spaced-out letters) to add_token. */
static int tokenise(const struct text_analyzer *an, struct text_work *wk)
{
	struct text_tokenizer tk;
	struct text_token t, run[WMAX];
	struct batch b = {.n = 0};
	char letters[WMAX];
	size_t nrun = 0, prev_end = 0;
	uint64_t h = 0;
	bool more;
	int rc = 0;

	text_tokenizer_init(&tk, wk->norm, wk->norm_len, wk->map);
	do {
		more = batch_next(&tk, wk, &b, &t, &h);
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
					    run[nrun - 1].orig_end, false, false, 0};
			rc = add_token(an, wk, &p);
			prev_end = run[nrun - 1].start + 1;
		} else {
			for (size_t i = 0; i < nrun && !rc; i++) {
				struct pending p = {wk->norm + run[i].start, 1, TEXT_TOK_WORD,
						    run[i].orig_start, run[i].orig_end,
						    glued_gap(wk, prev_end, run[i].start),
						    false, 0};
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
		struct pending p = {wk->norm + t.start, t.len,	 t.type, t.orig_start,
				    t.orig_end,		 glued_gap(wk, prev_end, t.start),
				    true,		 h};
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
	wk->norm_len = 0;
	rc = cache_prepare(an, wk, len);
	if (rc)
		return rc;
	if (work_grow((void **)&wk->norm, &wk->norm_cap, len + 1, 1) ||
	    work_grow((void **)&wk->map, &wk->map_cap, len + 2, sizeof(*wk->map)) ||
	    work_grow((void **)&wk->out, &wk->out_cap, 1, sizeof(*wk->out)) || arena_reset(wk))
		return UTIL_ENOMEM;
	rc = text_norm(in, len, (an->flags & TEXT_AN_HTML) ? TEXT_NORM_HTML : 0, wk->norm, wk->map,
		       len, &wk->norm_len);
	if (rc)
		return rc;
	rc = tokenise(an, wk);
	if (rc)
		return rc;
	*terms = wk->out;
	*nterms = wk->nterms;
	return 0;
}
