/*
 * tests/fuzz/search_query_fuzz.c - libFuzzer harness for the search query
 * parser (services/search/query_parse.c) with the real text pipeline
 * (search_text_new: built-in lexicon, stopwords, stemmer).
 *
 * Invariants: a refused query says why; an accepted one yields a tsquery
 * literal exactly when it has text, that literal is well formed by
 * PostgreSQL's tsquery grammar as the parser uses it (non-empty quoted
 * lexemes, operators & | <N> between operands, ! before one, balanced
 * parentheses), and the highlight stems are bounded and terminated.
 */
#include <stdbool.h>
#include <string.h>

#include "fuzz_check.h"
#include "search.h"
#include "util/buf.h"

struct tsq_scan {
	const char *s;
	size_t i, n;
};

static void skip_spaces(struct tsq_scan *t)
{
	while (t->i < t->n && t->s[t->i] == ' ')
		t->i++;
}

static bool operand(struct tsq_scan *t, int depth);

/* expr := operand (op operand)*, op := & | '|' | <N> */
static bool expr(struct tsq_scan *t, int depth)
{
	if (!operand(t, depth))
		return false;
	for (;;) {
		skip_spaces(t);
		if (t->i >= t->n || t->s[t->i] == ')')
			return true;
		if (t->s[t->i] == '&' || t->s[t->i] == '|') {
			t->i++;
		} else if (t->s[t->i] == '<') {
			size_t d = 0;

			for (t->i++; t->i < t->n && t->s[t->i] >= '0' && t->s[t->i] <= '9'; t->i++)
				d++;
			if (d == 0 || t->i >= t->n || t->s[t->i] != '>')
				return false;
			t->i++;
		} else {
			return false;
		}
		if (!operand(t, depth))
			return false;
	}
}

/* operand := '!'* ( quoted-lexeme | '(' expr ')' ) */
static bool operand(struct tsq_scan *t, int depth)
{
	size_t len = 0;

	skip_spaces(t);
	while (t->i < t->n && t->s[t->i] == '!') {
		t->i++;
		skip_spaces(t);
	}
	if (t->i >= t->n)
		return false;
	if (t->s[t->i] == '(') {
		t->i++;
		if (depth > 64 || !expr(t, depth + 1))
			return false;
		skip_spaces(t);
		if (t->i >= t->n || t->s[t->i] != ')')
			return false;
		t->i++;
		return true;
	}
	if (t->s[t->i] != '\'')
		return false;
	for (t->i++; t->i < t->n; t->i++) {
		if (t->s[t->i] == '\\' && t->i + 1 < t->n) {
			t->i++;
			len++;
		} else if (t->s[t->i] == '\'') {
			if (t->i + 1 < t->n && t->s[t->i + 1] == '\'') {
				t->i++;
				len++;
			} else {
				t->i++;
				return len > 0;
			}
		} else {
			len++;
		}
	}
	return false; /* unterminated */
}

static struct search_text *g_text;
static struct text_work *g_wk;

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct search_parsed p;
	struct util_buf tsq;
	char err[256];
	int rc;

	if (!g_text) {
		g_text = search_text_new(NULL, err, sizeof(err));
		g_wk = text_work_new(SEARCH_MAX_DOC_BYTES);
		if (!g_text || !g_wk)
			abort();
	}
	memset(&p, 0, sizeof(p));
	err[0] = '\0';
	util_buf_init(&tsq, 0);
	rc = search_query_parse(&g_text->an, g_wk, (const char *)data, size, &tsq, &p, err,
				sizeof(err));
	if (rc != 0) {
		FUZZ_CHECK(err[0] != '\0', "a refused query says why");
	} else if (!p.has_text) {
		FUZZ_CHECK(tsq.len == 0, "no tsquery without text");
	} else {
		struct tsq_scan t = {tsq.data, 0, tsq.len};

		FUZZ_CHECK(tsq.len > 0 && strlen(tsq.data) == tsq.len, "tsquery is one string");
		FUZZ_CHECK(expr(&t, 0) && t.i == t.n, "tsquery is well formed");
		FUZZ_CHECK(!p.only_stop, "a query with text is not only stopwords");
	}
	FUZZ_CHECK(p.hl.n <= SEARCH_HL_MAX, "highlights bounded");
	for (size_t i = 0; i < p.hl.n; i++)
		FUZZ_CHECK(memchr(p.hl.stem[i], '\0', sizeof(p.hl.stem[i])) != NULL,
			   "highlight stems terminated");
	util_buf_release(&tsq);
	return 0;
}
