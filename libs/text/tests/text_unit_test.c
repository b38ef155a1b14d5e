/*
 * text_unit_test.c - table-driven unit tests of libs/text, stage by stage:
 * UTF-8, normaliser, tokeniser, colloquial normaliser, stopwords, stemmer,
 * analyser offsets, matcher obfuscation cases, SimHash, adversarial input.
 * Sentences are drawn from the news and abusive-language corpora in
 * ../shared/data (quoted here as short fragments).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "text/analyze.h"
#include "text/lexicon.h"
#include "text/match.h"
#include "text/norm.h"
#include "text/simhash.h"
#include "text/stem.h"
#include "text/token.h"
#include "text/utf8.h"

static struct text_stemmer *g_stem;
static struct text_lexicon *g_lex;
static struct text_stopwords *g_stop;

static int setup(void **state)
{
	char err[256];

	(void)state;
	g_stem = text_stemmer_new(NULL, NULL, TEXT_STEM_CONFIX, err, sizeof(err));
	if (!g_stem)
		fprintf(stderr, "stemmer: %s\n", err);
	g_lex = text_lexicon_new(true);
	g_stop = text_stopwords_new(NULL, err, sizeof(err));
	return g_stem && g_lex && g_stop ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	text_stemmer_free(g_stem);
	text_lexicon_free(g_lex);
	text_stopwords_free(g_stop);
	return 0;
}

/* ---- UTF-8 -------------------------------------------------------------- */

static void test_utf8(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		bool valid;
		const char *repaired;
	} cases[] = {
		{"abc", 3, true, "abc"},
		{"caf\xc3\xa9", 5, true, "caf\xc3\xa9"},
		{"Lewat\xc2 DPRD", 11, false, "Lewat\xef\xbf\xbd DPRD"},
		{"kita,\xe2?? tutur", 14, false, "kita,\xef\xbf\xbd?? tutur"},
		{"\xf0\x9f\x98", 3, false, "\xef\xbf\xbd"},
		{"\xc0\xaf", 2, false, "\xef\xbf\xbd\xef\xbf\xbd"},
		{"\xed\xa0\x80", 3, false, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
		{"\xf4\x90\x80\x80", 4, false,
		 "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
		{"a\0b", 3, true, "a\0b"},
		{"\xf0\x9f\x98\x82", 4, true, "\xf0\x9f\x98\x82"},
	};
	char out[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t rlen = strlen(cases[i].repaired) + (i == 8 ? 2 : 0);
		assert_int_equal(text_utf8_valid(cases[i].in, cases[i].len), cases[i].valid);
		assert_int_equal(text_utf8_repair_len(cases[i].in, cases[i].len), rlen);
		size_t n = text_utf8_repair(cases[i].in, cases[i].len, out, sizeof(out));
		assert_int_equal(n, rlen);
		assert_memory_equal(out, cases[i].repaired, n);
		assert_true(text_utf8_valid(out, n));
	}
	/* too-small output fails cleanly */
	assert_int_equal(text_utf8_repair("\xc0\xaf", 2, out, 4), (size_t)-1);
}

/* ---- normaliser --------------------------------------------------------- */

static void test_norm(void **state)
{
	static const struct {
		const char *in;
		unsigned flags;
		const char *out;
	} cases[] = {
		{"  Presiden   JOKOWI\tmeresmikan\n\nJalan Tol ", 0,
		 "presiden jokowi meresmikan jalan tol"},
		{"Caf\xc3\xa9 na\xc3\xafve \xc3\x85NGSTR\xc3\x96M Stra\xc3\x9f" "e", 0,
		 "cafe naive angstrom strasse"},
		{"\xe2\x80\x9cHoaks\xe2\x80\x9d \xe2\x80\x93 kata\xe2\x80\xa6", 0,
		 "\"hoaks\" - kata..."},
		{"bego ! ! ! Apa?????", 0, "bego ! ! ! apa?"},
		{"Wacana Pilkada Lewat\xc2 DPRD", 0, "wacana pilkada lewat dprd"},
		{"ba\xc2\xad" "bi\xe2\x80\x8bngan", 0, "babingan"},
		{"<p>Warga <b>Desa</b> Sukamaju&nbsp;&amp; KIM</p><script>x=1</script>",
		 TEXT_NORM_HTML, "warga desa sukamaju & kim"},
		{"a &lt; b &#65;&#x42; &bogus; <3", TEXT_NORM_HTML, "a < b ab &bogus; <3"},
		{"\xef\xbc\xa7\xef\xbc\xa1\xef\xbc\xa3\xef\xbc\xaf\xef\xbc\xb2", 0, "gacor"},
		{"\xd0\x9c\xd0\x9e\xd0\xa1\xd0\x9a\xd0\x92\xd0\x90", 0,
		 "\xd0\xbc\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd0\xb0"},
		{"", 0, ""},
		{" \t\n", 0, ""},
	};
	char out[256];
	uint32_t map[257];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = strlen(cases[i].in);
		assert_int_equal(text_norm(cases[i].in, len, cases[i].flags, out, map, len, &n), 0);
		assert_int_equal(n, strlen(cases[i].out));
		assert_memory_equal(out, cases[i].out, n);
		assert_true(text_utf8_valid(out, n));
		for (size_t k = 0; k < n; k++)
			assert_true(map[k] < len && (k == 0 || map[k] >= map[k - 1]));
	}
	/* cap smaller than needed */
	assert_int_equal(text_norm("abcdef", 6, 0, out, NULL, 3, &n), -3);
}

/* ---- tokeniser ---------------------------------------------------------- */

static void test_tokens(void **state)
{
	static const char *text =
		"Cek https://kominfo.go.id/berita?id=5. Hubungi humas@desa.id, @kim_sukamaju "
		"#HoaksBukanBerita anak-anak jum'at Rp1.250.000 s4y4 j*d* \xf0\x9f\x98\x82\xf0\x9f"
		"\x91\x8d\xf0\x9f\x8f\xbd detik.com 3,5";
	static const struct {
		enum text_token_type type;
		const char *s;
	} want[] = {
		{TEXT_TOK_WORD, "Cek"},
		{TEXT_TOK_URL, "https://kominfo.go.id/berita?id=5"},
		{TEXT_TOK_WORD, "Hubungi"},
		{TEXT_TOK_EMAIL, "humas@desa.id"},
		{TEXT_TOK_MENTION, "@kim_sukamaju"},
		{TEXT_TOK_HASHTAG, "#HoaksBukanBerita"},
		{TEXT_TOK_WORD, "anak-anak"},
		{TEXT_TOK_WORD, "jum'at"},
		{TEXT_TOK_WORD, "Rp1"},
		{TEXT_TOK_NUMBER, "250.000"},
		{TEXT_TOK_WORD, "s4y4"},
		{TEXT_TOK_WORD, "j*d*"},
		{TEXT_TOK_EMOJI, "\xf0\x9f\x98\x82"},
		{TEXT_TOK_EMOJI, "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd"},
		{TEXT_TOK_URL, "detik.com"},
		{TEXT_TOK_NUMBER, "3,5"},
	};
	struct text_tokenizer tk;
	struct text_token t;
	size_t i = 0;

	(void)state;
	text_tokenizer_init(&tk, text, strlen(text), NULL);
	while (text_tokenizer_next(&tk, &t)) {
		assert_true(i < sizeof(want) / sizeof(want[0]));
		if (t.len != strlen(want[i].s) || memcmp(text + t.start, want[i].s, t.len) != 0)
			fail_msg("token %zu: got '%.*s' want '%s'", i, (int)t.len, text + t.start,
				 want[i].s);
		assert_int_equal(t.type, want[i].type);
		assert_int_equal(t.orig_start, t.start);
		i++;
	}
	assert_int_equal(i, sizeof(want) / sizeof(want[0]));
}

/* ---- colloquial normaliser ---------------------------------------------- */

static void test_colloquial(void **state)
{
	static const char *cases[][2] = {
		{"yg", "yang"},		 {"gak", "tidak"},	{"nggak", "tidak"},
		{"bgt", "banget"},	 {"bangeeet", "banget"}, {"gaaak", "tidak"},
		{"s4y4", "saya"},	 {"g4c0r", "gacor"},	{"anj1ng", "anjing"},
		{"anak-anak", "anak"},	 {"anak2", "anak"},	{"kata2nya", "katanya"},
		{"s-l-o-t", "slot"},	 {"covid19", "covid19"}, {"gatau", "tidak tahu"},
		{"maaaaaf", "maaf"},	 {"rumah", "rumah"},	{"sayur-mayur", "sayur-mayur"},
	};
	char out[128];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = text_word_normalize(g_lex, g_stem, cases[i][0], strlen(cases[i][0]), out,
					       sizeof(out));
		if (n != strlen(cases[i][1]) || memcmp(out, cases[i][1], n) != 0)
			fail_msg("%s: got '%.*s' want '%s'", cases[i][0], (int)n, out, cases[i][1]);
	}
	assert_true(text_lexicon_count(g_lex) > 150);
	assert_int_equal(text_lexicon_add(g_lex, NULL, "x"), -1);
}

static void test_stopwords(void **state)
{
	(void)state;
	assert_true(text_stopwords_contains(g_stop, "yang", 4));
	assert_true(text_stopwords_contains(g_stop, "tersebut", 8));
	assert_false(text_stopwords_contains(g_stop, "desa", 4));
	assert_false(text_stopwords_contains(NULL, "yang", 4));
	assert_true(text_stopwords_count(g_stop) > 100);
}

/* ---- stemmer ------------------------------------------------------------ */

static void test_stem(void **state)
{
	/* DESIGN.md's examples and common news words (not the gold list) */
	static const char *cases[][2] = {
		{"mengirimkan", "kirim"},   {"digital", "digital"},   {"kemitraan", "mitra"},
		{"meluncurkan", "luncur"}, {"pembangunan", "bangun"}, {"pendidikan", "didik"},
		{"menulis", "tulis"},	    {"memukul", "pukul"},     {"menyapu", "sapu"},
		{"bermain-main", "main"},  {"rumahnya", "rumah"},     {"bukukah", "buku"},
		{"diperbaiki", "baik"},    {"kepercayaan", "percaya"}, {"bersama", "sama"},
		{"xyzzyqux", "xyzzyqux"},  {"ke", "ke"},	      {"desa", "desa"},
	};
	char out[TEXT_STEM_MAX_WORD + 1];

	(void)state;
	assert_true(text_stemmer_root_count(g_stem) > 25000);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = text_stemmer_stem(g_stem, cases[i][0], strlen(cases[i][0]), out,
					     sizeof(out));
		if (n != strlen(cases[i][1]) || memcmp(out, cases[i][1], n) != 0)
			fail_msg("%s: got '%.*s' want '%s'", cases[i][0], (int)n, out, cases[i][1]);
	}
	/* non-plain input comes back unchanged */
	assert_int_equal(text_stemmer_stem(g_stem, "K\xc3\xa9", 3, out, sizeof(out)), 3);
	assert_int_equal(text_stemmer_stem(NULL, "abc", 3, out, sizeof(out)), 3);
	char err[128];
	assert_null(text_stemmer_new(NULL, "/nonexistent.dic", TEXT_STEM_CONFIX, err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent.dic"));
}

static void test_stem_hunspell(void **state)
{
	char err[256], out[TEXT_STEM_MAX_WORD + 1];
	struct text_stemmer *h = text_stemmer_new(NULL, NULL, TEXT_STEM_HUNSPELL, err, sizeof(err));
	static const char *cases[][2] = {
		{"mengirimkan", "kirim"}, {"kemitraan", "mitra"}, {"meluncurkan", "luncur"}};

	(void)state;
	assert_non_null(h);
	for (int round = 0; round < 2; round++) /* second round comes from the cache */
		for (size_t i = 0; i < 3; i++) {
			size_t n = text_stemmer_stem(h, cases[i][0], strlen(cases[i][0]), out,
						     sizeof(out));
			assert_int_equal(n, strlen(cases[i][1]));
			assert_memory_equal(out, cases[i][1], n);
		}
	text_stemmer_free(h);
}

/* ---- analyser ----------------------------------------------------------- */

static void test_analyze_offsets(void **state)
{
	/* from re_dataset.csv: "... perhatian yg gue kasih khusus ke elo. basic elo cowok bego" */
	static const char *text = "  Perhatian YG gue kasih   khusus ke ELO. Cowok bego!!! "
				  "Pembangunan <b>jalan</b> DESA";
	struct text_analyzer an = {g_lex, g_stop, g_stem, TEXT_AN_HTML};
	struct text_work *wk = text_work_new(1 << 16);
	const struct text_term *t;
	size_t n;

	(void)state;
	assert_int_equal(text_analyze(&an, wk, text, strlen(text), &t, &n), 0);
	static const char *want_norm[] = {"perhatian", "yang", "saya",	   "kasih",
					  "khusus",    "ke",   "kamu",	   "laki-laki",
					  "bodoh",     "pembangunan", "jalan", "desa"};
	static const char *want_orig[] = {"Perhatian", "YG",	"gue",	   "kasih",
					  "khusus",    "ke",	"ELO",	   "Cowok",
					  "bego",      "Pembangunan", "jalan", "DESA"};
	assert_int_equal(n, 12);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(t[i].norm_len, strlen(want_norm[i]));
		assert_memory_equal(t[i].norm, want_norm[i], t[i].norm_len);
		assert_int_equal(t[i].orig_end - t[i].orig_start, strlen(want_orig[i]));
		assert_memory_equal(text + t[i].orig_start, want_orig[i], strlen(want_orig[i]));
	}
	assert_true(t[1].stop);
	assert_false(t[0].stop);
	/* hunspell-id lists "perhati" as a root (its -an form is "perhatian") */
	assert_int_equal(t[0].stem_len, 7);
	assert_memory_equal(t[0].stem, "perhati", 7);
	assert_memory_equal(t[9].stem, "bangun", 6);
	/* too big input */
	struct text_work *small = text_work_new(4);
	assert_int_equal(text_analyze(&an, small, "abcdef", 6, &t, &n), -3);
	text_work_free(small);
	text_work_free(wk);
}

/* ---- matcher ------------------------------------------------------------ */

static struct text_matcher *build_matcher(const struct text_analyzer *an)
{
	static const struct {
		const char *p;
		uint32_t cat;
		unsigned flags;
	} pats[] = {
		{"judi", 1, 0},	      {"slot", 1, 0},	      {"gacor", 1, 0},
		{"anjing", 2, TEXT_PAT_PREFIX}, {"situs judi online", 1, 0}, {"bego", 2, 0},
	};
	char err[128];
	struct text_matcher *m = text_matcher_new(an);

	assert_non_null(m);
	for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++)
		assert_int_equal(text_matcher_add(m, pats[i].p, strlen(pats[i].p), (uint32_t)i,
						  pats[i].cat, 1.0f, pats[i].flags, err, sizeof(err)),
				 0);
	assert_int_equal(text_matcher_add(m, "...", 3, 99, 0, 1.0f, 0, err, sizeof(err)), -1);
	assert_int_equal(text_matcher_compile(m, err, sizeof(err)), 0);
	return m;
}

static void test_match(void **state)
{
	static const struct {
		const char *text;
		int count;
		uint32_t first_id;
		const char *first_span;
	} cases[] = {
		{"ayo main JUDI sekarang", 1, 0, "JUDI"},
		{"ayo main j*d* sekarang", 1, 0, "j*d*"},
		{"main s l o t disini", 1, 1, "s l o t"},
		{"slot g4c0r hari ini", 2, 1, "slot"},
		{"dasar an.jing", 1, 3, "an.jing"},
		{"dasar anjingnya", 1, 3, "anjingnya"},
		{"Situs Judi Online terpercaya", 2, 0, "Judi"},
		{"jadi juara", 0, 0, ""},
		{"makan jingga", 0, 0, ""},
		{"judikator", 0, 0, ""},
		{"cowok BEGOOO", 1, 5, "BEGOOO"},
	};
	struct text_analyzer an = {g_lex, NULL, NULL, 0};
	struct text_matcher *m = build_matcher(&an);
	struct text_work *wk = text_work_new(1 << 16);
	struct text_match out[8];
	const struct text_term *t;
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *s = cases[i].text;
		assert_int_equal(text_analyze(&an, wk, s, strlen(s), &t, &n), 0);
		size_t k = text_matcher_match(m, wk, out, 8);
		if ((int)k != cases[i].count)
			fail_msg("'%s': %zu matches, want %d", s, k, cases[i].count);
		if (k == 0)
			continue;
		assert_int_equal(out[0].id, cases[i].first_id);
		size_t sl = strlen(cases[i].first_span);
		assert_int_equal(out[0].orig_end - out[0].orig_start, sl);
		assert_memory_equal(s + out[0].orig_start, cases[i].first_span, sl);
	}
	text_work_free(wk);
	text_matcher_free(m);
}

/* ---- SimHash ------------------------------------------------------------ */

static uint64_t fp(struct text_work *wk, const char *s)
{
	struct text_analyzer an = {g_lex, g_stop, g_stem, 0};
	const struct text_term *t;
	size_t n;

	assert_int_equal(text_analyze(&an, wk, s, strlen(s), &t, &n), 0);
	return text_simhash(t, n);
}

static void test_simhash(void **state)
{
	/* fragment of articles.csv row 1 (kapanlagi.com) */
	static const char *a =
		"Meski sempat menghilang dan membuat khawatir, kini hubungan dengan ayahnya sudah "
		"membaik. Bahkan Sunan Kalijaga sudah menerima fakta bahwa sekarang anaknya sudah "
		"berpindah keyakinan. Hal itu terungkap dari postingan Salmafina ketika melakukan "
		"sesi tanya jawab di Insta Story. Di antara beberapa pertanyaan yang masuk, "
		"Salmafina memutuskan untuk menjawab soal hubungannya dengan ayahnya.";
	static const char *a_edit =
		"Meski sempat menghilang dan membuat khawatir, kini hubungan dgn ayahnya sudah "
		"membaik!! Bahkan Sunan Kalijaga sdh menerima fakta bahwa sekarang anaknya sudah "
		"berpindah keyakinan. Hal itu terungkap dari postingan Salmafina ketika melakukan "
		"sesi tanya jawab di Insta Story. Di antara beberapa pertanyaan yang masuk, "
		"Salmafina memutuskan untuk menjawab soal hubungannya dengan ayahnya";
	static const char *b =
		"Pemerintah kabupaten meresmikan jembatan baru yang menghubungkan dua desa di "
		"kecamatan tersebut. Warga berharap akses ke pasar dan sekolah menjadi lebih mudah, "
		"terutama saat musim hujan ketika jalan lama sering tergenang banjir.";
	struct text_work *wk = text_work_new(1 << 16);

	(void)state;
	uint64_t ha = fp(wk, a), he = fp(wk, a_edit), hb = fp(wk, b);
	assert_true(text_simhash_near(ha, he));
	assert_false(text_simhash_near(ha, hb));
	assert_int_equal(text_simhash_distance(ha, ha), 0);
	assert_int_equal(text_simhash(NULL, 0), 0);
	text_work_free(wk);
}

/* ---- adversarial input -------------------------------------------------- */

static void test_adversarial(void **state)
{
	struct text_analyzer an = {g_lex, g_stop, g_stem, TEXT_AN_HTML};
	struct text_matcher *m = build_matcher(&an);
	struct text_work *wk = text_work_new(1 << 16);
	struct text_match out[4];
	const struct text_term *t;
	size_t n, len;
	uint32_t rng = 12345;
	char *buf = malloc(4096);

	(void)state;
	/* every truncation of tricky inputs, exact-size heap buffers for ASan */
	static const char *tricky[] = {"<script", "&#x1F600", "\xf0\x9f\x98", "http://",
				       "a@b.", "#", "@", "j*", "s l o", "\xe2\x80", "<!--",
				       "a-", "1.", "www.x.com/"};
	for (size_t i = 0; i < sizeof(tricky) / sizeof(tricky[0]); i++) {
		len = strlen(tricky[i]);
		for (size_t k = 0; k <= len; k++) {
			char *p = malloc(k ? k : 1);
			memcpy(p, tricky[i], k);
			assert_int_equal(text_analyze(&an, wk, p, k, &t, &n), 0);
			text_matcher_match(m, wk, out, 4);
			free(p);
		}
	}
	/* random bytes */
	for (int round = 0; round < 300; round++) {
		len = (size_t)(round * 13 % 4096);
		for (size_t i = 0; i < len; i++) {
			rng = rng * 1103515245u + 12345u;
			buf[i] = (char)(rng >> 16);
		}
		char *p = malloc(len ? len : 1);
		memcpy(p, buf, len);
		assert_int_equal(text_analyze(&an, wk, p, len, &t, &n), 0);
		for (size_t i = 0; i < n; i++)
			assert_true(t[i].orig_start <= t[i].orig_end && t[i].orig_end <= len);
		size_t nl;
		const char *norm = text_work_normalized(wk, &nl);
		assert_true(text_utf8_valid(norm, nl));
		text_matcher_match(m, wk, out, 4);
		free(p);
	}
	free(buf);
	text_work_free(wk);
	text_matcher_free(m);
}

/* ---- fast paths (normaliser runs, tokeniser words, caches) --------------- */

/* Runs of ASCII letters/digits go sixteen bytes at a time: cross that width. */
static void test_norm_runs(void **state)
{
	static const char *in = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abc  DEF,GHI.jkl!!";
	static const char *want = "abcdefghijklmnopqrstuvwxyz0123456789abc def,ghi.jkl!";
	char out[64];
	uint32_t map[65];
	size_t n;

	(void)state;
	assert_int_equal(text_norm(in, strlen(in), 0, out, map, strlen(in), &n), 0);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, n);
	for (size_t k = 0; k < 39; k++)
		assert_int_equal(map[k], k);
	assert_int_equal(map[39], 39); /* the space: first of the two */
	assert_int_equal(map[40], 41);
	assert_int_equal(map[n], strlen(in)); /* a dropped repeat still extends the end */
}

/* Word endings that send the tokeniser off its fast path, and URL prefixes. */
static void test_token_edges(void **state)
{
	static const char *text =
		"hari Hukum wakil WWW.Kominfo.go.id http\x1a//x.com HTTPS://Desa.id/a. rp.5 kata. "
		"kata@desa.id kata- kata-kata kata' j*d* kat\xc3\xa9 "
		"abcdefghijklmnopqrstuvwxyzABCDEFGH1234567890, w h";
	static const struct {
		enum text_token_type type;
		const char *s;
	} want[] = {
		{TEXT_TOK_WORD, "hari"},	{TEXT_TOK_WORD, "Hukum"},
		{TEXT_TOK_WORD, "wakil"},	{TEXT_TOK_URL, "WWW.Kominfo.go.id"},
		{TEXT_TOK_WORD, "http"},	{TEXT_TOK_URL, "x.com"},
		{TEXT_TOK_URL, "HTTPS://Desa.id/a"}, {TEXT_TOK_WORD, "rp"},
		{TEXT_TOK_NUMBER, "5"},		{TEXT_TOK_WORD, "kata"},
		{TEXT_TOK_EMAIL, "kata@desa.id"}, {TEXT_TOK_WORD, "kata"},
		{TEXT_TOK_WORD, "kata-kata"},	{TEXT_TOK_WORD, "kata"},
		{TEXT_TOK_WORD, "j*d*"},	{TEXT_TOK_WORD, "kat\xc3\xa9"},
		{TEXT_TOK_WORD, "abcdefghijklmnopqrstuvwxyzABCDEFGH1234567890"},
		{TEXT_TOK_WORD, "w"},		{TEXT_TOK_WORD, "h"},
	};
	struct text_tokenizer tk;
	struct text_token t;
	size_t i = 0;

	(void)state;
	text_tokenizer_init(&tk, text, strlen(text), NULL);
	while (text_tokenizer_next(&tk, &t)) {
		assert_true(i < sizeof(want) / sizeof(want[0]));
		if (t.len != strlen(want[i].s) || memcmp(text + t.start, want[i].s, t.len) != 0)
			fail_msg("token %zu: got '%.*s' want '%s'", i, (int)t.len, text + t.start,
				 want[i].s);
		assert_int_equal(t.type, want[i].type);
		i++;
	}
	assert_int_equal(i, sizeof(want) / sizeof(want[0]));
}

static void one_term(struct text_work *wk, const struct text_analyzer *an, const char *w,
		     const char *norm, const char *stem, bool stop)
{
	const struct text_term *t;
	size_t n;

	assert_int_equal(text_analyze(an, wk, w, strlen(w), &t, &n), 0);
	assert_int_equal(n, 1);
	if (t[0].norm_len != strlen(norm) || memcmp(t[0].norm, norm, t[0].norm_len) != 0 ||
	    t[0].stem_len != strlen(stem) || memcmp(t[0].stem, stem, t[0].stem_len) != 0)
		fail_msg("'%s': got %.*s/%.*s want %s/%s", w, (int)t[0].norm_len, t[0].norm,
			 (int)t[0].stem_len, t[0].stem, norm, stem);
	assert_int_equal(t[0].stop, stop);
}

/*
 * One workspace used with several analyzers, and a lexicon changed after use:
 * the workspace's word cache must never hand back another configuration's
 * result. (Before the cache knew its configuration, "membeli" analysed with
 * the hunspell-mode stemmer after the confix one kept the confix stem.)
 */
static void test_work_cache_config(void **state)
{
	char err[256], sc[TEXT_STEM_MAX_WORD + 1] = "", sh[TEXT_STEM_MAX_WORD + 1] = "";
	struct text_stemmer *h = text_stemmer_new(NULL, NULL, TEXT_STEM_HUNSPELL, err, sizeof(err));
	struct text_lexicon *lx = text_lexicon_new(false);
	struct text_work *wk = text_work_new(1 << 16);

	(void)state;
	assert_non_null(h);
	assert_non_null(lx);
	text_stemmer_stem(g_stem, "membeli", 7, sc, sizeof(sc));
	text_stemmer_stem(h, "membeli", 7, sh, sizeof(sh));
	assert_string_not_equal(sc, sh); /* else this test proves nothing */
	struct text_analyzer ac = {g_lex, g_stop, g_stem, 0}, ah = {g_lex, g_stop, h, 0};
	struct text_analyzer a0 = {g_lex, g_stop, g_stem, TEXT_AN_NO_STEM};
	for (int round = 0; round < 2; round++) {
		one_term(wk, &ac, "membeli", "membeli", sc, false);
		one_term(wk, &ah, "membeli", "membeli", sh, false);
		one_term(wk, &a0, "membeli", "membeli", "membeli", false);
	}
	struct text_analyzer al = {lx, g_stop, NULL, 0};
	one_term(wk, &al, "zzq", "zzq", "zzq", false);
	assert_int_equal(text_lexicon_add(lx, "zzq", "yang"), 0);
	one_term(wk, &al, "zzq", "yang", "yang", true);
	struct text_analyzer anostop = {lx, NULL, NULL, 0};
	one_term(wk, &anostop, "zzq", "yang", "yang", false);
	text_work_free(wk);
	text_lexicon_free(lx);
	text_stemmer_free(h);
}

/*
 * Far more distinct words than the cache holds, twice over, mixed with
 * frequent ones: every term must equal what the stages give on their own.
 */
static void test_work_cache_eviction(void **state)
{
	static const char *const common[] = {"yang", "yg", "membeli", "anak2", "bangeeet", "gatau"};
	size_t cap = 1 << 20, len = 0, n;
	char *text = malloc(cap), norm[256], stem[TEXT_STEM_MAX_WORD + 1];
	struct text_analyzer an = {g_lex, g_stop, g_stem, 0};
	struct text_work *wk = text_work_new(cap);
	const struct text_term *t;

	(void)state;
	assert_non_null(text);
	for (unsigned i = 0; i < 50000; i++) {
		len += (size_t)snprintf(text + len, cap - len, "me%c%c%c%ckan %s ", 'a' + i % 26,
					'a' + i / 26 % 26, 'a' + i / 676 % 26, 'a' + i / 17576 % 26,
					common[i % 6]);
	}
	for (int round = 0; round < 2; round++) {
		assert_int_equal(text_analyze(&an, wk, text, len, &t, &n), 0);
		for (size_t i = 0; i < n; i++) {
			const char *w = text + t[i].orig_start;
			size_t wl = t[i].orig_end - t[i].orig_start;
			size_t nl = text_word_normalize(g_lex, g_stem, w, wl, norm, sizeof(norm));
			if (memchr(norm, ' ', nl))
				continue; /* "gatau" -> two terms, checked elsewhere */
			size_t sl = text_stemmer_stem(g_stem, norm, nl, stem, sizeof(stem));
			assert_int_equal(t[i].norm_len, nl);
			assert_memory_equal(t[i].norm, norm, nl);
			assert_int_equal(t[i].stem_len, sl);
			assert_memory_equal(t[i].stem, stem, sl);
			assert_int_equal(t[i].stop, text_stopwords_contains(g_stop, norm, nl));
		}
	}
	text_work_free(wk);
	free(text);
}

/* Thousands of lexicon keys: every one found, near misses not. */
static void test_lexicon_many(void **state)
{
	struct text_lexicon *lx = text_lexicon_new(false);
	char k[16];
	const char *f;
	size_t fl;

	(void)state;
	assert_non_null(lx);
	for (unsigned i = 0; i < 5000; i++) {
		snprintf(k, sizeof(k), "q%uz", i);
		assert_int_equal(text_lexicon_add(lx, k, "yang"), 0);
	}
	assert_int_equal(text_lexicon_count(lx), 5000);
	for (unsigned i = 0; i < 5000; i++) {
		snprintf(k, sizeof(k), "q%uz", i);
		assert_true(text_lexicon_lookup(lx, k, strlen(k), &f, &fl));
		assert_int_equal(fl, 4);
		snprintf(k, sizeof(k), "q%uy", i);
		assert_false(text_lexicon_lookup(lx, k, strlen(k), &f, &fl));
	}
	text_lexicon_free(lx);
}

/* A large automaton (states renumbered breadth-first) still finds the few hits. */
static void test_match_many(void **state)
{
	struct text_analyzer an = {g_lex, NULL, NULL, 0};
	struct text_matcher *m = text_matcher_new(&an);
	struct text_work *wk = text_work_new(1 << 16);
	struct text_match out[8];
	const struct text_term *t;
	char p[32], err[128];
	size_t n;

	(void)state;
	assert_non_null(m);
	for (unsigned i = 0; i < 5000; i++) {
		snprintf(p, sizeof(p), "%s%c%c%c", i % 2 ? "judi" : "x", 'a' + i % 26,
			 'a' + i / 26 % 26, 'a' + i / 676 % 26);
		assert_int_equal(text_matcher_add(m, p, strlen(p), i + 100, 3, 1.0f, 0, err,
						  sizeof(err)), 0);
	}
	assert_int_equal(text_matcher_add(m, "judi", 4, 1, 1, 2.0f, 0, err, sizeof(err)), 0);
	assert_int_equal(text_matcher_add(m, "situs judi online", 17, 2, 1, 1.0f, 0, err,
					  sizeof(err)), 0);
	assert_int_equal(text_matcher_compile(m, err, sizeof(err)), 0);
	static const char *text = "Ayo main di Situs JUDI online, bukan judix atau judibaa.";
	assert_int_equal(text_analyze(&an, wk, text, strlen(text), &t, &n), 0);
	size_t k = text_matcher_match(m, wk, out, 8);
	assert_int_equal(k, 3); /* judi, situs judi online, judibaa (id 100 + 1 + 0 + 0) */
	assert_int_equal(out[0].id, 1);
	assert_memory_equal(text + out[0].orig_start, "JUDI", 4);
	assert_int_equal(out[1].id, 2);
	assert_int_equal(out[1].orig_end - out[1].orig_start, strlen("Situs JUDI online"));
	assert_int_equal(out[2].id, 101);
	assert_memory_equal(text + out[2].orig_start, "judibaa", 7);
	text_work_free(wk);
	text_matcher_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8),	   cmocka_unit_test(test_norm),
		cmocka_unit_test(test_tokens),	   cmocka_unit_test(test_colloquial),
		cmocka_unit_test(test_stopwords),  cmocka_unit_test(test_stem),
		cmocka_unit_test(test_stem_hunspell), cmocka_unit_test(test_analyze_offsets),
		cmocka_unit_test(test_match),	   cmocka_unit_test(test_simhash),
		cmocka_unit_test(test_adversarial), cmocka_unit_test(test_norm_runs),
		cmocka_unit_test(test_token_edges), cmocka_unit_test(test_work_cache_config),
		cmocka_unit_test(test_work_cache_eviction), cmocka_unit_test(test_lexicon_many),
		cmocka_unit_test(test_match_many),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
