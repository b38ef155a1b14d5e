/*
 * services/moderate/score.c - the static signals of one text, in the manner
 * of rspamd's symbols: list matches per category, personal data (and the
 * masked copy), links and domains, spam shape and the Bayes probability.
 * Title and body are analysed together as "title\n\nbody"; spans are mapped
 * back to the field they came from.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lists_builtin.h"
#include "moderate.h"
#include "text/simhash.h"
#include "util/err.h"

#define MAX_MATCHES 256
#define MAX_PII 64
#define CATEGORY_CAP 20.0

void mod_result_release(struct mod_result *r)
{
	free(r->masked_title);
	free(r->masked_body);
	r->masked_title = r->masked_body = NULL;
}

struct mod_signal *mod_result_add(struct mod_result *r, const char *name, double score,
				  const char *fmt, ...)
{
	struct mod_signal *s;
	va_list ap;

	if (r->n >= MOD_MAX_SIGNALS)
		return NULL;
	s = &r->sig[r->n++];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->score = score;
	r->total += score;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(s->detail, sizeof(s->detail), fmt, ap);
		va_end(ap);
	}
	return s;
}

static void add_span(struct mod_signal *s, size_t tlen, uint32_t b, uint32_t e)
{
	struct mod_span sp;

	if (!s || s->nspans >= MOD_MAX_SPANS)
		return;
	if (e <= tlen) {
		sp = (struct mod_span){0, b, e};
	} else if (b >= tlen + 2) {
		sp = (struct mod_span){1, b - (uint32_t)tlen - 2, e - (uint32_t)tlen - 2};
	} else {
		return; /* across the separator: cannot happen for whole words */
	}
	s->spans[s->nspans++] = sp;
}

/* Appends "word" to detail (comma-separated, truncated). */
static void detail_add(char *d, size_t cap, const char *txt, uint32_t b, uint32_t e)
{
	size_t used = strlen(d);
	int len = (int)(e - b) > 40 ? 40 : (int)(e - b);

	if (used + (size_t)len + 3 < cap)
		snprintf(d + used, cap - used, "%s%.*s", used ? "," : "", len, txt + b);
}

static void list_signals(struct mod_result *r, const struct text_match *m, size_t nm,
			 const char *txt, size_t tlen)
{
	for (int cat = 0; cat < MOD_CAT_COUNT; cat++) {
		uint32_t ids[64];
		size_t nids = 0;
		double sum = 0;
		struct mod_signal *s = NULL;

		for (size_t i = 0; i < nm; i++) {
			bool dup = false;

			if (m[i].category != (uint32_t)cat)
				continue;
			for (size_t k = 0; k < nids; k++)
				dup |= ids[k] == m[i].id;
			if (!s)
				s = mod_result_add(r, mod_category_signal(cat), 0, NULL);
			add_span(s, tlen, m[i].orig_start, m[i].orig_end);
			if (dup || nids >= 64)
				continue;
			ids[nids++] = m[i].id;
			sum += m[i].weight;
			if (s)
				detail_add(s->detail, sizeof(s->detail), txt, m[i].orig_start,
					   m[i].orig_end);
		}
		if (s) {
			s->score = sum > CATEGORY_CAP ? CATEGORY_CAP : sum;
			r->total += s->score;
		}
	}
}

static const char *pii_name(enum mod_pii_kind k)
{
	return k == MOD_PII_NIK ? "PII_NIK" : k == MOD_PII_PHONE ? "PII_PHONE" : "PII_EMAIL";
}

/* Finds PII in one field, adds/extends the signals, returns the masked copy. */
static char *pii_field(struct mod_result *r, const struct mod_score_ctx *sc, const char *s,
		       size_t len, uint8_t field)
{
	static const double scores[] = {0, 2.0, 1.0, 1.0};
	struct mod_pii p[MAX_PII];
	size_t n = mod_pii_find(s, len, sc->regions, p, MAX_PII);
	char *copy = malloc(len + 1);

	if (!copy)
		return NULL;
	memcpy(copy, s, len);
	copy[len] = '\0';
	mod_pii_mask(copy, len, p, n);
	for (size_t i = 0; i < n; i++) {
		struct mod_signal *sig = NULL;

		for (size_t k = 0; k < r->n && !sig; k++)
			if (!strcmp(r->sig[k].name, pii_name(p[i].kind)))
				sig = &r->sig[k];
		if (!sig)
			sig = mod_result_add(r, pii_name(p[i].kind), scores[p[i].kind],
					     "personal data masked in publication");
		if (sig && sig->nspans < MOD_MAX_SPANS)
			sig->spans[sig->nspans++] = (struct mod_span){field, p[i].start, p[i].end};
	}
	return copy;
}

/* Host of a URL term (lower case already): scheme, "www." and path dropped. */
static size_t url_host(const char *u, size_t len, char *out, size_t cap)
{
	const char *p = u, *end = u + len;
	size_t n = 0;

	if (len > 8 && !memcmp(p, "https://", 8))
		p += 8;
	else if (len > 7 && !memcmp(p, "http://", 7))
		p += 7;
	if (end - p > 4 && !memcmp(p, "www.", 4))
		p += 4;
	while (p < end && *p != '/' && *p != ':' && *p != '?' && *p != '#' && n + 1 < cap)
		out[n++] = *p++;
	out[n] = '\0';
	return n;
}

static bool domain_in(const char *host, size_t hl, char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(list[i]);

		if (hl == l && !memcmp(host, list[i], l))
			return true;
		if (hl > l && host[hl - l - 1] == '.' && !memcmp(host + hl - l, list[i], l))
			return true;
	}
	return false;
}

static bool bad_domain(const char *host)
{
	for (unsigned i = 0; i < mod_builtin_bad_domain_words_count; i++)
		if (strstr(host, mod_builtin_bad_domain_words[i]))
			return true;
	return false;
}

static void link_signals(struct mod_result *r, const struct mod_rules *rl,
			 const struct text_term *t, size_t n, size_t tlen, size_t words)
{
	size_t links = 0;
	struct mod_signal *deny = NULL, *gamb = NULL, *allow = NULL;
	char host[256];

	for (size_t i = 0; i < n; i++) {
		size_t hl;

		if (t[i].type != TEXT_TOK_URL)
			continue;
		links++;
		hl = url_host(t[i].norm, t[i].norm_len, host, sizeof(host));
		if (bad_domain(host)) {
			if (!gamb)
				gamb = mod_result_add(r, "LINK_BAD_SITE", 8, "%s", host);
			add_span(gamb, tlen, t[i].orig_start, t[i].orig_end);
		} else if (domain_in(host, hl, rl->deny, rl->ndeny)) {
			if (!deny)
				deny = mod_result_add(r, "LINK_DENIED_DOMAIN", 4, "%s", host);
			add_span(deny, tlen, t[i].orig_start, t[i].orig_end);
		} else if (domain_in(host, hl, rl->allow, rl->nallow) && !allow) {
			allow = mod_result_add(r, "LINK_ALLOWED_DOMAIN", -1, "%s", host);
		}
	}
	if (links > 3)
		mod_result_add(r, "LINKS_MANY", links > 8 ? 4.5 : 2.0 + 0.5 * (double)(links - 4),
			       "%zu links", links);
	if (links > 0 && words < 3)
		mod_result_add(r, "LINK_ONLY", 3, "%zu links, %zu words", links, words);
}

static void shape_signals(struct mod_result *r, const char *txt, size_t len,
			  const struct text_term *t, size_t n, size_t words)
{
	size_t upper = 0, letters = 0, best = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)txt[i];

		upper += c >= 'A' && c <= 'Z';
		letters += (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
	}
	if (letters >= 20 && upper * 10 > letters * 7)
		mod_result_add(r, "SHOUTING", 2, "%zu of %zu letters upper case", upper, letters);
	if (words < 8)
		return;
	for (size_t i = 0; i < n && i < 2000; i++) {
		size_t same = 0;

		if (t[i].type != TEXT_TOK_WORD || t[i].stop)
			continue;
		for (size_t k = i; k < n && k < 2000; k++)
			same += t[k].type == TEXT_TOK_WORD && t[k].norm_len == t[i].norm_len &&
				!memcmp(t[k].norm, t[i].norm, t[i].norm_len);
		if (same > best)
			best = same;
	}
	if (best * 10 > words * 4)
		mod_result_add(r, "REPETITION", 2.5, "one word is %zu of %zu", best, words);
}

static void bayes_signal(struct mod_result *r, const struct mod_score_ctx *sc,
			 const struct text_term *t, size_t n)
{
	double p = mod_bayes_prob(sc->bayes, t, n, sc->bayes_min_learns);

	if (p < 0)
		return;
	if (p > 0.5)
		mod_result_add(r, "BAYES_BAD", 12.0 * (p - 0.5), "p=%.3f", p);
	else if (p < 0.5)
		mod_result_add(r, "BAYES_GOOD", 4.0 * (p - 0.5), "p=%.3f", p);
}

static size_t count_words(const struct text_term *t, size_t n, size_t *features)
{
	size_t w = 0;

	*features = 0;
	for (size_t i = 0; i < n; i++) {
		w += t[i].type == TEXT_TOK_WORD;
		*features += t[i].type == TEXT_TOK_WORD && !t[i].stop;
	}
	return w;
}

int mod_score(const struct mod_score_ctx *sc, struct text_work *wk, const char *title,
	      size_t tlen, const char *body, size_t blen, struct mod_result *r)
{
	struct text_match m[MAX_MATCHES];
	const struct text_term *t = NULL;
	size_t n = 0, nm, words, k, len = tlen + 2 + blen;
	char *txt = malloc(len + 1);
	int rc;

	memset(r, 0, sizeof(*r));
	if (!txt)
		return UTIL_ENOMEM;
	memcpy(txt, title, tlen);
	memcpy(txt + tlen, "\n\n", 2);
	memcpy(txt + tlen + 2, body, blen);
	txt[len] = '\0';
	rc = text_analyze(&sc->rules->an, wk, txt, len, &t, &n);
	if (rc != 0)
		goto out;
	nm = text_matcher_match(sc->rules->matcher, wk, m, MAX_MATCHES);
	list_signals(r, m, nm < MAX_MATCHES ? nm : MAX_MATCHES, txt, tlen);
	r->masked_title = pii_field(r, sc, title, tlen, 0);
	r->masked_body = pii_field(r, sc, body, blen, 1);
	if (!r->masked_title || !r->masked_body) {
		rc = UTIL_ENOMEM;
		goto out;
	}
	words = count_words(t, n, &r->nfeatures);
	link_signals(r, sc->rules, t, n, tlen, words);
	shape_signals(r, txt, len, t, n, words);
	bayes_signal(r, sc, t, n);
	/* near-duplicates compare bodies: titles are short and often reworded */
	for (k = 0; k < n && t[k].orig_start < tlen + 2; k++)
		;
	r->simhash = text_simhash(t + k, n - k);
out:
	free(txt);
	if (rc != 0)
		mod_result_release(r);
	return rc;
}
