/*
 * match.c - Aho-Corasick automata (plain and vowel-masked) over a reduced
 * alphabet, pattern normalisation, and whole-word/phrase/obfuscation rules
 * for matches over the analysed terms (see text/match.h).
 */
#include "text/match.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "work.h"

#define NCLS 40
#define PAT_MAX 255
#define AC_HAS_OUT 0x80000000u /* in a transition: the target reports matches */
#define AC_NODE 0x7fffffff

struct pat {
	uint32_t off, len;	   /* normalised text in m->chars */
	uint32_t boff, nbounds;	   /* word-break offsets in m->bounds */
	uint32_t id, category;
	float weight;
	unsigned flags;
};

struct ac {
	int32_t (*next)[NCLS];
	int32_t *fail, *dict, *out; /* out: first pattern ending here, -1 none */
	size_t nodes, cap;
};

struct text_matcher {
	const struct text_analyzer *an;
	struct text_work *wk;
	struct pat *pats;
	size_t npats, pats_cap;
	char *chars;
	size_t chars_len, chars_cap;
	uint8_t *bounds;
	size_t bounds_len, bounds_cap;
	int32_t *chain_plain, *chain_mask; /* next pattern with the same end node */
	struct ac plain, mask;
	uint8_t cls[2][256]; /* byte -> symbol class, plain and vowel-masked */
	bool compiled;
};

static int cls(unsigned char c)
{
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 1;
	if (c >= '0' && c <= '9')
		return c - '0' + 27;
	return c == '-' ? 37 : c == '\'' ? 38 : c == '*' ? 39 : 0;
}

static bool vowel(char c)
{
	return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

static unsigned char masked(unsigned char c)
{
	return vowel((char)c) ? '*' : c;
}

struct text_matcher *text_matcher_new(const struct text_analyzer *an)
{
	struct text_matcher *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->an = an;
	for (int c = 0; c < 256; c++) {
		m->cls[0][c] = (uint8_t)cls((unsigned char)c);
		m->cls[1][c] = (uint8_t)cls(masked((unsigned char)c));
	}
	m->wk = text_work_new(4096);
	if (!m->wk || !an) {
		text_matcher_free(m);
		return NULL;
	}
	return m;
}

static void ac_release(struct ac *a)
{
	free(a->next);
	free(a->fail);
	free(a->dict);
	free(a->out);
	memset(a, 0, sizeof(*a));
}

void text_matcher_free(struct text_matcher *m)
{
	if (!m)
		return;
	text_work_free(m->wk);
	free(m->pats);
	free(m->chars);
	free(m->bounds);
	free(m->chain_plain);
	free(m->chain_mask);
	ac_release(&m->plain);
	ac_release(&m->mask);
	free(m);
}

size_t text_matcher_count(const struct text_matcher *m)
{
	return m ? m->npats : 0;
}

int text_matcher_add(struct text_matcher *m, const char *pattern, size_t len, uint32_t id,
		     uint32_t category, float weight, unsigned flags, char *err, size_t errlen)
{
	struct text_analyzer an;
	const struct text_term *t;
	size_t nt, total = 0, nb = 0;
	uint8_t b[PAT_MAX];

	if (!m || m->compiled || !pattern)
		return util_err_set(err, errlen, UTIL_EINVAL, "matcher compiled or no pattern");
	an = *m->an;
	an.stemmer = NULL;
	an.stopwords = NULL;
	if (text_analyze(&an, m->wk, pattern, len, &t, &nt) != 0)
		return util_err_set(err, errlen, UTIL_EINVAL, "pattern too long");
	for (size_t i = 0; i < nt; i++)
		if (t[i].type == TEXT_TOK_WORD || t[i].type == TEXT_TOK_NUMBER)
			total += t[i].norm_len;
	if (total == 0 || total > PAT_MAX)
		return util_err_set(err, errlen, UTIL_EINVAL, "pattern '%.*s' empty or too long",
				    (int)(len > 64 ? 64 : len), pattern);
	if (work_grow((void **)&m->pats, &m->pats_cap, m->npats + 1, sizeof(*m->pats)) ||
	    work_grow((void **)&m->chars, &m->chars_cap, m->chars_len + total, 1) ||
	    work_grow((void **)&m->bounds, &m->bounds_cap, m->bounds_len + nt, 1))
		return util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
	struct pat *p = &m->pats[m->npats];
	*p = (struct pat){.off = (uint32_t)m->chars_len, .boff = (uint32_t)m->bounds_len,
			  .id = id, .category = category, .weight = weight, .flags = flags};
	for (size_t i = 0; i < nt; i++) {
		if (t[i].type != TEXT_TOK_WORD && t[i].type != TEXT_TOK_NUMBER)
			continue;
		if (p->len > 0)
			b[nb++] = (uint8_t)p->len;
		memcpy(m->chars + m->chars_len + p->len, t[i].norm, t[i].norm_len);
		p->len += t[i].norm_len;
	}
	memcpy(m->bounds + m->bounds_len, b, nb);
	p->nbounds = (uint32_t)nb;
	m->bounds_len += nb;
	m->chars_len += p->len;
	m->npats++;
	return 0;
}

static int32_t ac_node(struct ac *a)
{
	if (work_grow((void **)&a->next, &a->cap, a->nodes + 1, sizeof(*a->next)))
		return -1;
	memset(a->next[a->nodes], 0xff, sizeof(a->next[0])); /* -1: no edge yet */
	return (int32_t)a->nodes++;
}

/* Insert every pattern (masked or not) into the trie; out/chain link them. */
static int ac_insert(struct text_matcher *m, struct ac *a, bool mask, int32_t **chainp)
{
	int32_t *chain = malloc(m->npats * sizeof(*chain));
	int32_t *ends = malloc(m->npats * sizeof(*ends));
	int rc = UTIL_ENOMEM;

	if (!chain || !ends || ac_node(a) < 0)
		goto out;
	for (size_t i = 0; i < m->npats; i++) {
		const unsigned char *s = (const unsigned char *)m->chars + m->pats[i].off;
		int32_t n = 0;
		for (size_t k = 0; k < m->pats[i].len; k++) {
			int c = cls(mask ? masked(s[k]) : s[k]);
			if (a->next[n][c] < 0) {
				int32_t x = ac_node(a);
				if (x < 0)
					goto out;
				a->next[n][c] = x;
			}
			n = a->next[n][c];
		}
		ends[i] = n;
	}
	a->out = malloc(a->nodes * sizeof(*a->out));
	if (!a->out)
		goto out;
	memset(a->out, 0xff, a->nodes * sizeof(*a->out));
	for (size_t i = m->npats; i-- > 0;) {
		chain[i] = a->out[ends[i]];
		a->out[ends[i]] = (int32_t)i;
	}
	*chainp = chain;
	chain = NULL;
	rc = 0;
out:
	free(chain);
	free(ends);
	return rc;
}

/*
 * Renumber the nodes in breadth-first order (order[0..n) lists every node
 * but the root): the shallow states, where a scan spends nearly all its time,
 * then share a few cache lines instead of being strewn over megabytes. Each
 * transition also carries AC_HAS_OUT when its target ends a pattern (itself
 * or through dictionary links), so the scan reads out[]/dict[] only then.
 */
static int ac_renumber(struct ac *a, const int32_t *order, size_t n)
{
	int32_t *id = malloc(a->nodes * sizeof(*id));
	int32_t(*next)[NCLS] = malloc(a->nodes * sizeof(*next));
	int32_t *out = malloc(a->nodes * sizeof(*out)), *dict = malloc(a->nodes * sizeof(*dict));
	int rc = UTIL_ENOMEM;

	if (!id || !next || !out || !dict || n + 1 != a->nodes)
		goto out;
	id[0] = 0;
	for (size_t i = 0; i < n; i++)
		id[order[i]] = (int32_t)i + 1;
	for (size_t o = 0; o < a->nodes; o++) {
		int32_t k = id[o];
		out[k] = a->out[o];
		dict[k] = a->dict[o] >= 0 ? id[a->dict[o]] : -1;
		for (int c = 0; c < NCLS; c++) {
			int32_t t = a->next[o][c];
			bool hit = a->out[t] >= 0 || a->dict[t] >= 0;
			next[k][c] = (int32_t)((uint32_t)id[t] | (hit ? AC_HAS_OUT : 0));
		}
	}
	free(a->next);
	free(a->out);
	free(a->dict);
	a->next = next;
	a->out = out;
	a->dict = dict;
	a->cap = a->nodes;
	next = NULL;
	out = dict = NULL;
	rc = 0;
out:
	free(id);
	free(next);
	free(out);
	free(dict);
	return rc;
}

/* Breadth-first: failure links, dictionary links, full DFA transitions. */
static int ac_finish(struct ac *a)
{
	int32_t *queue = malloc(a->nodes * sizeof(*queue));
	size_t head = 0, tail = 0;

	a->fail = calloc(a->nodes, sizeof(*a->fail));
	a->dict = malloc(a->nodes * sizeof(*a->dict));
	if (!queue || !a->fail || !a->dict) {
		free(queue);
		return UTIL_ENOMEM;
	}
	a->dict[0] = -1;
	for (int c = 0; c < NCLS; c++) {
		int32_t x = a->next[0][c];
		if (x < 0) {
			a->next[0][c] = 0;
		} else {
			a->fail[x] = 0;
			a->dict[x] = -1;
			queue[tail++] = x;
		}
	}
	while (head < tail) {
		int32_t n = queue[head++];
		for (int c = 0; c < NCLS; c++) {
			int32_t x = a->next[n][c];
			if (x < 0) {
				a->next[n][c] = a->next[a->fail[n]][c];
				continue;
			}
			int32_t f = a->next[a->fail[n]][c];
			a->fail[x] = f;
			a->dict[x] = a->out[f] >= 0 ? f : a->dict[f];
			queue[tail++] = x;
		}
	}
	int rc = ac_renumber(a, queue, tail);
	free(queue);
	free(a->fail); /* construction only, and numbered the old way */
	a->fail = NULL;
	return rc;
}

int text_matcher_compile(struct text_matcher *m, char *err, size_t errlen)
{
	int rc;

	if (!m || m->compiled || m->npats == 0)
		return util_err_set(err, errlen, UTIL_EINVAL, "no patterns or already compiled");
	rc = ac_insert(m, &m->plain, false, &m->chain_plain);
	if (!rc)
		rc = ac_finish(&m->plain);
	if (!rc)
		rc = ac_insert(m, &m->mask, true, &m->chain_mask);
	if (!rc)
		rc = ac_finish(&m->mask);
	if (rc)
		return util_err_set(err, errlen, rc, "out of memory compiling %zu patterns",
				    m->npats);
	m->compiled = true;
	return 0;
}

struct scan {
	const struct text_matcher *m;
	const char *s;
	const uint32_t *tid;
	const struct text_term *terms;
	size_t len;
	struct text_match *out;
	size_t cap, found;
};

static bool pat_bound(const struct text_matcher *m, const struct pat *p, size_t at)
{
	for (uint32_t i = 0; i < p->nbounds; i++)
		if (m->bounds[p->boff + i] == at)
			return true;
	return false;
}

/* Whole-word, phrase and glue rules for a candidate at [s, e). */
static bool accept(const struct scan *sc, const struct pat *p, size_t s, size_t e, bool mask)
{
	const char *pt = sc->m->chars + p->off;
	bool star = false;

	if (s > 0 && sc->tid[s - 1] == sc->tid[s])
		return false;
	if (!(p->flags & TEXT_PAT_PREFIX) && e < sc->len && sc->tid[e] == sc->tid[e - 1])
		return false;
	for (size_t k = 0; k < p->len; k++) {
		char t = sc->s[s + k];
		if (mask && t != pt[k] && !(t == '*' && vowel(pt[k])))
			return false;
		if (!mask && t != pt[k])
			return false; /* non-ASCII bytes share a class: confirm */
		star |= t == '*';
	}
	if (mask && !star)
		return false; /* the plain pass reports it */
	for (size_t q = s + 1; q < e; q++) {
		if (sc->tid[q] == sc->tid[q - 1])
			continue;
		const struct text_term *a = &sc->terms[sc->tid[q - 1]], *b = &sc->terms[sc->tid[q]];
		if (!pat_bound(sc->m, p, q - s) && !b->glued && !(a->norm_len == 1 && b->norm_len == 1))
			return false;
	}
	return true;
}

static void run(struct scan *sc, const struct ac *a, const int32_t *chain, bool mask)
{
	const uint8_t *tab = sc->m->cls[mask];
	int32_t n = 0;

	for (size_t i = 0; i < sc->len; i++) {
		int32_t v = a->next[n][tab[(unsigned char)sc->s[i]]];
		n = v & AC_NODE;
		if (v >= 0)
			continue; /* nothing ends here: the common case */
		for (int32_t d = a->out[n] >= 0 ? n : a->dict[n]; d >= 0; d = a->dict[d]) {
			for (int32_t pi = a->out[d]; pi >= 0; pi = chain[pi]) {
				const struct pat *p = &sc->m->pats[pi];
				size_t s = i + 1 - p->len;
				if (!accept(sc, p, s, i + 1, mask))
					continue;
				if (sc->found < sc->cap)
					sc->out[sc->found] = (struct text_match){
						.id = p->id,
						.category = p->category,
						.weight = p->weight,
						.orig_start = sc->terms[sc->tid[s]].orig_start,
						.orig_end = sc->terms[sc->tid[i]].orig_end,
					};
				sc->found++;
			}
		}
	}
}

size_t text_matcher_match(const struct text_matcher *m, struct text_work *wk,
			  struct text_match *out, size_t cap)
{
	struct scan sc = {.m = m, .out = out, .cap = cap};
	size_t len = 0;
	bool star = false;

	if (!m || !m->compiled || !wk)
		return 0;
	for (size_t i = 0; i < wk->nterms; i++)
		len += wk->out[i].norm_len;
	if (work_grow((void **)&wk->stream, &wk->stream_cap, len + 1, 1) ||
	    work_grow((void **)&wk->stream_term, &wk->stream_term_cap, len + 1, sizeof(uint32_t)))
		return 0;
	len = 0;
	for (size_t i = 0; i < wk->nterms; i++) {
		const struct text_term *t = &wk->out[i];
		if (t->type != TEXT_TOK_WORD && t->type != TEXT_TOK_NUMBER)
			continue;
		memcpy(wk->stream + len, t->norm, t->norm_len);
		for (uint32_t k = 0; k < t->norm_len; k++)
			wk->stream_term[len + k] = (uint32_t)i;
		star |= memchr(t->norm, '*', t->norm_len) != NULL;
		len += t->norm_len;
	}
	sc.s = wk->stream;
	sc.tid = wk->stream_term;
	sc.terms = wk->out;
	sc.len = len;
	run(&sc, &m->plain, m->chain_plain, false);
	if (star)
		run(&sc, &m->mask, m->chain_mask, true);
	return sc.found;
}
