/*
 * text_fuzz.c - libFuzzer harness for libs/text: UTF-8 repair, the
 * normaliser (plain and HTML), the tokeniser on raw bytes, the whole analyser
 * and the Aho-Corasick matcher. Built with clang -fsanitize=fuzzer,address,
 * undefined by libs/text/CMakeLists.txt and run for a bounded time by ctest
 * (label fuzz).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text/analyze.h"
#include "text/match.h"
#include "text/norm.h"
#include "text/simhash.h"
#include "text/token.h"
#include "text/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct text_analyzer g_an;
static struct text_matcher *g_m;
static struct text_work *g_wk;

static void init(void)
{
	static const char *pats[] = {"judi", "slot gacor", "anjing", "situs judi online", "bego",
				     "s4y4", "hoaks"};
	char err[128];

	g_an.lexicon = text_lexicon_new(true);
	g_an.stopwords = text_stopwords_new(NULL, err, sizeof(err));
	/* the stemmer is optional: the harness still runs without hunspell-id */
	g_an.stemmer = text_stemmer_new(NULL, NULL, TEXT_STEM_CONFIX, err, sizeof(err));
	g_an.flags = TEXT_AN_HTML;
	g_m = text_matcher_new(&g_an);
	for (size_t i = 0; g_m && i < sizeof(pats) / sizeof(pats[0]); i++)
		if (text_matcher_add(g_m, pats[i], strlen(pats[i]), (uint32_t)i, 1, 1.0f,
				     i == 2 ? TEXT_PAT_PREFIX : 0, err, sizeof(err)) != 0)
			abort();
	if (!g_m || text_matcher_compile(g_m, err, sizeof(err)) != 0)
		abort();
	g_wk = text_work_new(1 << 16);
	if (!g_wk)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	char *out = malloc(size ? 3 * size : 1);
	uint32_t *map = malloc((size + 1) * sizeof(*map));
	struct text_match m[16];
	const struct text_term *t;
	size_t n, nt;

	if (!g_wk)
		init();
	if (!out || !map)
		abort();
	size_t rl = text_utf8_repair(s, size, out, 3 * size);
	if (rl != text_utf8_repair_len(s, size) || !text_utf8_valid(out, rl))
		abort();
	for (unsigned flags = 0; flags <= TEXT_NORM_HTML; flags++) {
		if (text_norm(s, size, flags, out, map, size, &n) != 0 || n > size ||
		    !text_utf8_valid(out, n))
			abort();
		for (size_t i = 0; i <= n; i++)
			if (map[i] > size)
				abort();
	}
	struct text_tokenizer tk;
	struct text_token tok;
	text_tokenizer_init(&tk, s, size, NULL);
	while (text_tokenizer_next(&tk, &tok))
		if (tok.start + tok.len > size || tok.len == 0)
			abort();
	if (text_analyze(&g_an, g_wk, s, size, &t, &nt) == 0) {
		for (size_t i = 0; i < nt; i++)
			if (t[i].orig_end > size || t[i].orig_start > t[i].orig_end)
				abort();
		size_t k = text_matcher_match(g_m, g_wk, m, 16);
		for (size_t i = 0; i < k && i < 16; i++)
			if (m[i].orig_end > size || m[i].orig_start > m[i].orig_end)
				abort();
		(void)text_simhash(t, nt);
	}
	free(out);
	free(map);
	return 0;
}
