/*
 * text_data_test.c - data-driven tests of libs/text over ../shared/data:
 * the invalid-UTF-8 rows of the abusive-language corpus, the two colloquial
 * lexicon formats, the news corpus through the whole pipeline, and the
 * stemmer's accuracy against Snowball on the independent gold list.
 * Usage: text_data_test <shared-data-dir>; each test skips, saying why, when
 * its file is absent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libstemmer.h>

#include "text/analyze.h"
#include "text/lexicon.h"
#include "text/match.h"
#include "text/norm.h"
#include "text/stem.h"
#include "text/utf8.h"

static const char *g_data;

static FILE *open_data(const char *rel, char *path, size_t cap)
{
	snprintf(path, cap, "%s/%s", g_data, rel);
	FILE *f = fopen(path, "r");
	if (!f)
		fprintf(stderr, "SKIP: %s not found (set SIMPUL_SHARED_DATA)\n", path);
	return f;
}

/* Every line of re_dataset.csv: count the invalid ones, repair, normalise. */
static void test_invalid_rows(void **state)
{
	char path[1024], *line = NULL, out[8192];
	uint32_t map[8193];
	size_t cap = 0, bad = 0, n;
	ssize_t len;
	FILE *f = open_data("id-multilabel-hatespeech-abusive/re_dataset.csv", path, sizeof(path));

	(void)state;
	if (!f)
		skip();
	while ((len = getline(&line, &cap, f)) > 0) {
		if (text_utf8_valid(line, (size_t)len))
			continue;
		bad++;
		size_t need = text_utf8_repair_len(line, (size_t)len);
		char *rep = malloc(need);
		assert_non_null(rep);
		assert_int_equal(text_utf8_repair(line, (size_t)len, rep, need), need);
		assert_true(text_utf8_valid(rep, need));
		/* repairing again changes nothing */
		assert_int_equal(text_utf8_repair_len(rep, need), need);
		free(rep);
		assert_true((size_t)len <= sizeof(out));
		assert_int_equal(text_norm(line, (size_t)len, 0, out, map, sizeof(out), &n), 0);
		assert_true(text_utf8_valid(out, n));
	}
	free(line);
	fclose(f);
	assert_int_equal(bad, 341);
}

static void test_lexicon_files(void **state)
{
	char path[1024], err[256];
	size_t added = 0, n;
	struct text_lexicon *lx = text_lexicon_new(true);
	const char *formal;
	FILE *f = open_data("colloquial-indonesian-lexicon/colloquial-indonesian-lexicon.csv", path,
			    sizeof(path));

	(void)state;
	if (!f) {
		text_lexicon_free(lx);
		skip();
	}
	fclose(f);
	size_t before = text_lexicon_count(lx);
	assert_int_equal(text_lexicon_load(lx, path, TEXT_LEXICON_COLLOQUIAL, &added, err,
					   sizeof(err)), 0);
	assert_true(added > 3000);
	assert_int_equal(text_lexicon_count(lx), before + added);
	/* a header row is not an entry; a quoted context with commas is skipped over */
	assert_false(text_lexicon_lookup(lx, "slang", 5, &formal, &n));
	assert_true(text_lexicon_lookup(lx, "woww", 4, &formal, &n));
	assert_int_equal(n, 3);
	assert_memory_equal(formal, "wow", 3);
	f = open_data("id-multilabel-hatespeech-abusive/new_kamusalay.csv", path, sizeof(path));
	if (f) {
		fclose(f);
		assert_int_equal(text_lexicon_load(lx, path, TEXT_LEXICON_KAMUSALAY, &added, err,
						   sizeof(err)), 0);
		assert_true(added > 1000);
		assert_true(text_lexicon_lookup(lx, "t3tapjokowi", 11, &formal, &n));
	}
	assert_int_equal(text_lexicon_load(lx, "/nonexistent.csv", TEXT_LEXICON_KAMUSALAY, NULL,
					   err, sizeof(err)), -4);
	text_lexicon_free(lx);
}

/* The first 300 news articles through the whole pipeline: offsets hold. */
static void test_news_pipeline(void **state)
{
	char path[1024], err[256], *line = NULL;
	size_t cap = 0, lines = 0, terms_total = 0, nt;
	ssize_t len;
	const struct text_term *t;
	FILE *f = open_data("id-news-clickid/articles.csv", path, sizeof(path));

	(void)state;
	if (!f)
		skip();
	struct text_stemmer *st = text_stemmer_new(NULL, NULL, TEXT_STEM_CONFIX, err, sizeof(err));
	struct text_lexicon *lx = text_lexicon_new(true);
	struct text_stopwords *sw = text_stopwords_new(NULL, err, sizeof(err));
	struct text_analyzer an = {lx, sw, st, 0};
	struct text_work *wk = text_work_new(1 << 20);
	assert_non_null(st);
	while (lines < 300 && (len = getline(&line, &cap, f)) > 0) {
		lines++;
		assert_int_equal(text_analyze(&an, wk, line, (size_t)len, &t, &nt), 0);
		for (size_t i = 0; i < nt; i++) {
			assert_true(t[i].orig_start < t[i].orig_end);
			assert_true(t[i].orig_end <= (size_t)len);
			assert_true(t[i].norm_len > 0 && t[i].stem_len > 0);
		}
		terms_total += nt;
	}
	assert_true(terms_total > 10000);
	free(line);
	fclose(f);
	text_work_free(wk);
	text_stopwords_free(sw);
	text_lexicon_free(lx);
	text_stemmer_free(st);
}

struct gold {
	size_t words, ours, snowball;
};

/* Lenient scoring: a word is right if the output equals any of its roots. */
static void score_gold(FILE *f, const struct text_stemmer *st, struct sb_stemmer *sb,
		       struct gold *g)
{
	char line[256], word[128] = "", ours[TEXT_STEM_MAX_WORD + 1], snow[128];
	bool ok_ours = false, ok_snow = false;

	if (!fgets(line, sizeof(line), f)) /* header */
		return;
	while (fgets(line, sizeof(line), f)) {
		char *w = strtok(line, ","), *r = strtok(NULL, ",");
		if (!w || !r)
			continue;
		if (strcmp(w, word) != 0) {
			g->ours += ok_ours;
			g->snowball += ok_snow;
			snprintf(word, sizeof(word), "%s", w);
			g->words++;
			size_t n = text_stemmer_stem(st, w, strlen(w), ours, sizeof(ours) - 1);
			ours[n < sizeof(ours) ? n : sizeof(ours) - 1] = '\0';
			const sb_symbol *s = sb_stemmer_stem(sb, (const sb_symbol *)w, (int)strlen(w));
			snprintf(snow, sizeof(snow), "%s", s ? (const char *)s : "");
			ok_ours = ok_snow = false;
		}
		ok_ours |= strcmp(ours, r) == 0;
		ok_snow |= strcmp(snow, r) == 0;
	}
	g->ours += ok_ours;
	g->snowball += ok_snow;
}

static void test_stemmer_vs_snowball(void **state)
{
	char path[1024], err[256];
	FILE *f = open_data("id-stemming-gold/pairs.csv", path, sizeof(path));

	(void)state;
	if (!f)
		skip();
	for (int mode = TEXT_STEM_CONFIX; mode <= TEXT_STEM_HUNSPELL; mode++) {
		struct text_stemmer *st = text_stemmer_new(NULL, NULL, mode, err, sizeof(err));
		struct sb_stemmer *sb = sb_stemmer_new("indonesian", NULL);
		struct gold g = {0};
		assert_non_null(st);
		assert_non_null(sb);
		rewind(f);
		score_gold(f, st, sb, &g);
		double a = 100.0 * (double)g.ours / (double)g.words;
		double b = 100.0 * (double)g.snowball / (double)g.words;
		printf("gold list (%zu words, lenient): %s %.2f%%, snowball %.2f%%\n", g.words,
		       mode == TEXT_STEM_CONFIX ? "confix" : "hunspell", a, b);
		assert_true(g.words > 6000);
		assert_true(a >= b + 10.0);
		sb_stemmer_delete(sb);
		text_stemmer_free(st);
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid_rows),
		cmocka_unit_test(test_lexicon_files),
		cmocka_unit_test(test_news_pipeline),
		cmocka_unit_test(test_stemmer_vs_snowball),
	};
	g_data = argc > 1 ? argv[1] : "../shared/data";
	return cmocka_run_group_tests(tests, NULL, NULL);
}
