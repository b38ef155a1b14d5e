/*
 * services/search/textdoc.c - documents through libs/text: the pipeline
 * (colloquial lexicon, stopwords, dictionary stemmer) and the tsvector
 * literal stored for each document.
 *
 * Lexemes are the stems libs/text produces, stored as-is (the 'simple'
 * idea: no further PostgreSQL normalisation), so documents and queries meet
 * on exactly the same strings. Stopwords are not stored but still take a
 * position, so phrase distances agree between documents and queries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "search.h"
#include "slog/slog.h"
#include "text/lexicon.h"
#include "text/simhash.h"
#include "text/stem.h"
#include "util/err.h"

#define LEXEME_MAX 200      /* longer "words" (garbage runs) are not indexed */
#define POS_MAX 16383       /* PostgreSQL's largest tsvector position */
#define TITLE_BODY_GAP 8    /* phrases never span title and body */

struct search_text *search_text_new(const char *lexicon_path, char *err, size_t errlen)
{
	struct search_text *t = calloc(1, sizeof(*t));
	size_t added = 0;

	if (!t) {
		util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
		return NULL;
	}
	t->lexicon = text_lexicon_new(true);
	t->stopwords = text_stopwords_new(NULL, err, errlen);
	t->stemmer = text_stemmer_new(NULL, NULL, TEXT_STEM_CONFIX, err, errlen);
	if (!t->lexicon || !t->stopwords || !t->stemmer)
		goto fail;
	if (lexicon_path && *lexicon_path) {
		if (text_lexicon_load(t->lexicon, lexicon_path, TEXT_LEXICON_COLLOQUIAL, &added,
				      err, errlen) != 0)
			goto fail;
		slog_info("lexicon loaded", "path=%s added=%zu", lexicon_path, added);
	}
	t->an.lexicon = t->lexicon;
	t->an.stopwords = t->stopwords;
	t->an.stemmer = t->stemmer;
	t->an.flags = 0;
	return t;
fail:
	search_text_free(t);
	return NULL;
}

void search_text_free(struct search_text *t)
{
	if (!t)
		return;
	text_lexicon_free(t->lexicon);
	text_stopwords_free(t->stopwords);
	text_stemmer_free(t->stemmer);
	free(t);
}

int search_lexeme_quote(struct util_buf *b, const char *w, size_t len)
{
	int rc = util_buf_append(b, "'", 1);

	for (size_t i = 0; i < len && rc == 0; i++) {
		if (w[i] == '\'')
			rc = util_buf_append(b, "''", 2);
		else if (w[i] == '\\')
			rc = util_buf_append(b, "\\\\", 2);
		else
			rc = util_buf_append(b, &w[i], 1);
	}
	return rc ? rc : util_buf_append(b, "'", 1);
}

/* The lexeme of an analysed term, or false when it is not indexed. */
static bool term_lexeme(const struct text_term *t, const char **w, size_t *len)
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
	return *len > 0 && *len <= LEXEME_MAX;
}

/* Appends the terms of one field at positions *pos.. with weight wt ("A" or ""). */
static int emit_terms(struct util_buf *tsv, const struct text_term *t, size_t n, int *pos,
		      const char *wt)
{
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *w;
		size_t len;
		int p = *pos < POS_MAX ? *pos : POS_MAX;

		(*pos)++;
		if (!term_lexeme(&t[i], &w, &len))
			continue;
		if (tsv->len > 0)
			rc = util_buf_append(tsv, " ", 1);
		if (rc == 0)
			rc = search_lexeme_quote(tsv, w, len);
		if (rc == 0)
			rc = util_buf_printf(tsv, ":%d%s", p, wt);
	}
	return rc;
}

int search_doc_build(const struct text_analyzer *an, struct text_work *wk, const char *title,
		     size_t tlen, const char *body, size_t blen, struct util_buf *tsv,
		     uint64_t *simhash)
{
	const struct text_term *t;
	size_t n;
	int pos = 1, rc;
	uint64_t title_hash;

	rc = text_analyze(an, wk, title, tlen, &t, &n);
	if (rc != 0)
		return rc;
	title_hash = text_simhash(t, n);
	rc = emit_terms(tsv, t, n, &pos, "A");
	if (rc != 0)
		return rc;
	pos += TITLE_BODY_GAP;
	rc = text_analyze(an, wk, body, blen, &t, &n);
	if (rc != 0)
		return rc;
	*simhash = text_simhash(t, n);
	if (*simhash == 0)
		*simhash = title_hash;
	return emit_terms(tsv, t, n, &pos, "");
}
