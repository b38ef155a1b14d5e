/*
 * services/search/query_parse.c - the user's query language to a tsquery.
 *
 *   banjir bandang          both words (AND)
 *   "harga gak naik"        a phrase: the words at the same distances as in
 *                           the documents (stopwords keep their place)
 *   -hoaks  -"kata kunci"   exclusions
 *   banjir OR longsor       either (OR binds two neighbouring positive items)
 *
 * Every word is analysed exactly like documents (libs/text: colloquial
 * normalisation, stopwords, stemming), so `kirim` finds `mengirimkan` and
 * `gak` finds `tidak`. Anything odd is refused with a message for the user
 * rather than guessed at.
 */
#include <string.h>

#include "search.h"
#include "text/utf8.h"
#include "util/err.h"

#define MAX_UNITS 16
#define MAX_TERMS 32
#define MAX_PHRASE_TERMS 8

struct unit {
	const char *s;
	size_t len;
	bool neg, or_before;
};

struct parse {
	const struct text_analyzer *an;
	struct text_work *wk;
	struct search_parsed *out;
	struct unit u[MAX_UNITS];
	size_t nu;
	char *err;
	size_t errlen;
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

static int check_chars(const char *q, size_t len, char *err, size_t errlen)
{
	if (!text_utf8_valid(q, len))
		return util_err_set(err, errlen, UTIL_EINVAL, "q is not valid UTF-8");
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)q[i] < 0x20 && q[i] != '\t') || q[i] == 0x7f)
			return util_err_set(err, errlen, UTIL_EINVAL,
					    "q contains control characters");
	return 0;
}

static int add_unit(struct parse *p, const char *s, size_t len, bool neg, bool *pending_or)
{
	if (p->nu == MAX_UNITS)
		return util_err_set(p->err, p->errlen, UTIL_EINVAL,
				    "too many terms in q (at most %d)", MAX_UNITS);
	if (*pending_or && neg)
		return util_err_set(p->err, p->errlen, UTIL_EINVAL,
				    "OR cannot join an exclusion");
	p->u[p->nu++] = (struct unit){.s = s, .len = len, .neg = neg, .or_before = *pending_or};
	*pending_or = false;
	return 0;
}

/* Splits q into units. */
static int lex(struct parse *p, const char *q, size_t len)
{
	bool pending_or = false;
	size_t i = 0;
	int rc = 0;

	while (rc == 0) {
		bool neg = false;
		size_t j;

		while (i < len && is_space(q[i]))
			i++;
		if (i >= len)
			break;
		if (q[i] == '-' && i + 1 < len && !is_space(q[i + 1])) {
			neg = true;
			i++;
		}
		if (q[i] == '"') {
			const char *end = memchr(q + i + 1, '"', len - i - 1);

			if (!end)
				return util_err_set(p->err, p->errlen, UTIL_EINVAL,
						    "unbalanced quote in q");
			j = (size_t)(end - q);
			rc = add_unit(p, q + i + 1, j - i - 1, neg, &pending_or);
			i = j + 1;
			continue;
		}
		for (j = i; j < len && !is_space(q[j]) && q[j] != '"'; j++)
			;
		if (!neg && j - i == 2 && memcmp(q + i, "OR", 2) == 0) {
			if (p->nu == 0 || p->u[p->nu - 1].neg || pending_or)
				return util_err_set(p->err, p->errlen, UTIL_EINVAL,
						    "OR needs a search term on both sides");
			pending_or = true;
		} else {
			rc = add_unit(p, q + i, j - i, neg, &pending_or);
		}
		i = j;
	}
	if (rc == 0 && pending_or)
		return util_err_set(p->err, p->errlen, UTIL_EINVAL,
				    "OR needs a search term on both sides");
	return rc;
}

static void hl_add(struct search_hl *hl, const char *w, size_t len)
{
	if (hl->n == SEARCH_HL_MAX || len > SEARCH_STEM_MAX)
		return;
	for (size_t i = 0; i < hl->n; i++)
		if (strlen(hl->stem[i]) == len && memcmp(hl->stem[i], w, len) == 0)
			return;
	memcpy(hl->stem[hl->n], w, len);
	hl->stem[hl->n][len] = '\0';
	hl->n++;
}

/* The lexeme of a query term, as textdoc.c indexes it. */
static bool lexeme_of(const struct text_term *t, const char **w, size_t *len)
{
	if (t->stop)
		return false;
	if (t->type == TEXT_TOK_WORD || t->type == TEXT_TOK_NUMBER) {
		*w = t->stem;
		*len = t->stem_len;
	} else if (t->type == TEXT_TOK_HASHTAG && t->norm_len > 1) {
		*w = t->norm + 1;
		*len = t->norm_len - 1;
	} else {
		return false;
	}
	return *len > 0 && *len <= 200;
}

/*
 * Appends the fragment of one unit to frag (nothing when no term survives;
 * *had_words then says whether it had words at all, i.e. only stopwords).
 */
static int unit_fragment(struct parse *p, const struct unit *u, struct util_buf *frag,
			 bool *had_words)
{
	const struct text_term *t;
	size_t n, k = 0;
	int rc, last = 0;

	*had_words = false;
	rc = text_analyze(p->an, p->wk, u->s, u->len, &t, &n);
	if (rc != 0)
		return util_err_set(p->err, p->errlen, rc, "q cannot be analysed");
	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *w;
		size_t len;

		*had_words = true;
		if (!lexeme_of(&t[i], &w, &len))
			continue;
		if (++k > MAX_PHRASE_TERMS || ++p->out->nterms > MAX_TERMS)
			return util_err_set(p->err, p->errlen, UTIL_EINVAL,
					    "too many words in q (at most %d, %d per phrase)",
					    MAX_TERMS, MAX_PHRASE_TERMS);
		if (!u->neg)
			hl_add(&p->out->hl, w, len);
		if (k > 1)
			rc = util_buf_printf(frag, " <%d> ", (int)i - last);
		last = (int)i;
		if (rc == 0)
			rc = search_lexeme_quote(frag, w, len);
	}
	if (rc == 0 && k > 1) {
		/* wrap the phrase in parentheses */
		struct util_buf tmp;

		util_buf_init(&tmp, 0);
		rc = util_buf_printf(&tmp, "(%s)", frag->data);
		if (rc == 0) {
			util_buf_reset(frag);
			rc = util_buf_append(frag, tmp.data, tmp.len);
		}
		util_buf_release(&tmp);
	}
	return rc;
}

/* Emits the OR group u[a..b) (or one exclusion) into tsq. */
static int emit_group(struct parse *p, size_t a, size_t b, struct util_buf *tsq, int *npos,
		      int *nneg)
{
	struct util_buf g, frag;
	bool words, dropped = false;
	size_t nalt = 0;
	int rc = 0;

	util_buf_init(&g, 0);
	util_buf_init(&frag, 0);
	for (size_t i = a; i < b && rc == 0; i++) {
		util_buf_reset(&frag);
		rc = unit_fragment(p, &p->u[i], &frag, &words);
		if (rc == 0 && frag.len == 0) {
			dropped = true; /* only stopwords: the alternative matches anything */
			if (words && !p->u[i].neg)
				p->out->only_stop = true;
			continue;
		}
		if (rc == 0)
			rc = util_buf_printf(&g, "%s%s", nalt++ ? " | " : "", frag.data);
	}
	if (rc == 0 && nalt > 0 && !(dropped && !p->u[a].neg)) {
		bool neg = p->u[a].neg;

		rc = util_buf_printf(tsq, "%s%s%s%s%s", tsq->len ? " & " : "", neg ? "!" : "",
				     nalt > 1 ? "(" : "", g.data, nalt > 1 ? ")" : "");
		if (neg)
			(*nneg)++;
		else
			(*npos)++;
	}
	util_buf_release(&g);
	util_buf_release(&frag);
	return rc;
}

int search_query_parse(const struct text_analyzer *an, struct text_work *wk, const char *q,
		       size_t len, struct util_buf *tsq, struct search_parsed *out, char *err,
		       size_t errlen)
{
	struct parse p = {.an = an, .wk = wk, .out = out, .err = err, .errlen = errlen};
	int rc, npos = 0, nneg = 0;
	size_t a = 0;

	memset(out, 0, sizeof(*out));
	rc = check_chars(q, len, err, errlen);
	if (rc == 0)
		rc = lex(&p, q, len);
	while (rc == 0 && a < p.nu) {
		size_t b = a + 1;

		while (b < p.nu && p.u[b].or_before)
			b++;
		rc = emit_group(&p, a, b, tsq, &npos, &nneg);
		a = b;
	}
	if (rc != 0)
		return rc;
	if (npos == 0 && nneg > 0 && !out->only_stop)
		return util_err_set(err, errlen, UTIL_EINVAL,
				    "q needs at least one term to search for, not only exclusions");
	if (npos == 0) {
		util_buf_reset(tsq);
		out->has_text = false;
		out->only_stop = out->only_stop || p.nu > 0;
		return 0;
	}
	out->has_text = true;
	out->only_stop = false;
	return 0;
}
