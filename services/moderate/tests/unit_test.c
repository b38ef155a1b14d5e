/*
 * services/moderate/tests/unit_test.c - unit tests of the moderation logic
 * without the stack: PII (NIK structure, phones, e-mails, masking offsets),
 * every list category with obfuscated spellings, invalid UTF-8, links,
 * spam shape, the Bayes classifier and the threshold policy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "moderate.h"

static struct mod_rules *rules;
static struct text_work *wk;

static const struct mod_signal *find(const struct mod_result *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->sig[i].name, name))
			return &r->sig[i];
	return NULL;
}

/* Scores body (title "t") with the starter rules; r must be released. */
static void score(const char *body, struct mod_result *r, const struct mod_bayes *b)
{
	struct mod_score_ctx sc = {rules, b, NULL, 2};

	assert_int_equal(mod_score(&sc, wk, "t", 1, body, strlen(body), r), 0);
}

static void test_nik(void **st)
{
	struct mod_regions *rg = mod_regions_new();

	(void)st;
	assert_true(mod_nik_valid("3507121204850003", NULL));  /* 12 Apr 1985 */
	assert_true(mod_nik_valid("3507125204850003", NULL));  /* woman: day 52 = 12 */
	assert_false(mod_nik_valid("3507123204850003", NULL)); /* day 32 */
	assert_false(mod_nik_valid("3507121213850003", NULL)); /* month 13 */
	assert_false(mod_nik_valid("3507121204850000", NULL)); /* serial 0000 */
	assert_false(mod_nik_valid("0507121204850003", NULL)); /* province 05 */
	assert_int_equal(mod_regions_add(rg, "35.07.12"), 0);
	assert_true(mod_nik_valid("3507121204850003", rg));
	assert_false(mod_nik_valid("3507131204850003", rg)); /* no such kecamatan */
	mod_regions_free(rg);
}

static void test_pii_find_and_mask(void **st)
{
	char s[] = "NIK 3507121204850003, hp 0812-3456-7890 / +6281234567890, mail budi.s@gmail.com "
		   "nomor 35071212048500031 bukan NIK, 021555 bukan hp";
	struct mod_pii p[8];
	size_t n = mod_pii_find(s, strlen(s), NULL, p, 8), len = strlen(s);

	(void)st;
	assert_int_equal(n, 4);
	assert_int_equal(p[0].kind, MOD_PII_NIK);
	assert_int_equal(p[0].start, 4);
	assert_int_equal(p[0].end, 20);
	assert_int_equal(p[1].kind, MOD_PII_PHONE);
	assert_memory_equal(s + p[1].start, "0812-3456-7890", 14);
	assert_int_equal(p[1].end - p[1].start, 14);
	assert_int_equal(p[2].kind, MOD_PII_PHONE);
	assert_int_equal(p[3].kind, MOD_PII_EMAIL);
	assert_memory_equal(s + p[3].start, "budi.s@gmail.com", 16);
	mod_pii_mask(s, len, p, n);
	assert_int_equal(strlen(s), len); /* offsets stay valid */
	assert_memory_equal(s + 4, "**************03", 16);
	assert_memory_equal(s + p[1].start, "****-****-**90", 14);
	assert_memory_equal(s + p[3].start, "b*****@gmail.com", 16);
}

static void test_lists_obfuscated(void **st)
{
	static const struct {
		const char *text, *signal;
	} cases[] = {
		{"main di situs s l o t  g a c o r hari ini", "GAMBLING_PROMO"},
		{"pola g4c0r m4xw1n malam ini", "GAMBLING_PROMO"},
		{"dasar an.jing kau", "ABUSIVE_WORD"},
		{"anjingnya tetangga", "ABUSIVE_WORD"},
		{"GOBLOKKK semua", "ABUSIVE_WORD"},
		{"ada link b0k3p di sini", "PORNOGRAPHY"},
		{"usir cina dari kampung", "SARA_HATE"},
		{"SEBARKAN sebelum dihapus!!!", "HOAX_PHRASE"},
	};

	(void)st;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mod_result r;

		score(cases[i].text, &r, NULL);
		if (!find(&r, cases[i].signal))
			fail_msg("\"%s\": no %s", cases[i].text, cases[i].signal);
		assert_true(find(&r, cases[i].signal)->score > 0);
		assert_true(find(&r, cases[i].signal)->nspans >= 1);
		mod_result_release(&r);
	}
}

static void test_clean_text(void **st)
{
	struct mod_result r;

	(void)st;
	score("Warga Desa Ternyang bergotong royong membersihkan saluran irigasi pada hari Minggu "
	      "pagi bersama perangkat desa.",
	      &r, NULL);
	assert_true(r.total < 1);
	mod_result_release(&r);
}

static void test_invalid_utf8_and_spans(void **st)
{
	const char body[] = "kata \xff\xfe bangsat \xe2\x28\xa1 lagi";
	struct mod_result r;
	const struct mod_signal *s;

	(void)st;
	score(body, &r, NULL);
	s = find(&r, "ABUSIVE_WORD");
	assert_non_null(s);
	assert_int_equal(s->spans[0].field, 1);
	assert_memory_equal(body + s->spans[0].start, "bangsat", 7);
	assert_int_equal(strlen(r.masked_body), strlen(body));
	mod_result_release(&r);
}

static void test_links(void **st)
{
	struct mod_result r;

	(void)st;
	score("daftar di https://gacor88.xyz/daftar sekarang juga", &r, NULL);
	assert_non_null(find(&r, "LINK_BAD_SITE"));
	mod_result_release(&r);
	score("https://bit.ly/abc", &r, NULL);
	assert_non_null(find(&r, "LINK_DENIED_DOMAIN"));
	assert_non_null(find(&r, "LINK_ONLY"));
	mod_result_release(&r);
	score("info lengkap di https://kominfo.go.id/berita dan portal desa", &r, NULL);
	assert_non_null(find(&r, "LINK_ALLOWED_DOMAIN"));
	assert_null(find(&r, "LINK_ONLY"));
	mod_result_release(&r);
	score("a.com b.com c.com d.com e.com f.com lihat semua tautan ini ya", &r, NULL);
	assert_non_null(find(&r, "LINKS_MANY"));
	mod_result_release(&r);
}

static void test_shape(void **st)
{
	struct mod_result r;

	(void)st;
	score("INI PENGUMUMAN PENTING UNTUK SEMUA WARGA DESA HARAP DATANG", &r, NULL);
	assert_non_null(find(&r, "SHOUTING"));
	mod_result_release(&r);
	score("promo promo promo promo promo promo promo murah sekali", &r, NULL);
	assert_non_null(find(&r, "REPETITION"));
	mod_result_release(&r);
}

static void learn(struct mod_bayes *b, const char *text, bool bad)
{
	const struct text_term *t;
	size_t n;

	assert_int_equal(text_analyze(&rules->an, wk, text, strlen(text), &t, &n), 0);
	assert_int_equal(mod_bayes_learn_terms(b, t, n, bad), 0);
}

static void test_bayes(void **st)
{
	struct mod_bayes *b = mod_bayes_new();
	struct mod_score_ctx sc = {rules, b, NULL, 3};
	struct mod_result r;
	const struct text_term *t;
	size_t n;

	(void)st;
	learn(b, "kamu penipu besar penipu uang rakyat", true);
	learn(b, "penipu uang warga dasar penipu", true);
	/* below min_learns (3 per class): no classifier signal */
	assert_int_equal(text_analyze(&rules->an, wk, "penipu uang", 11, &t, &n), 0);
	assert_true(mod_bayes_prob(b, t, n, 3) < 0);
	learn(b, "penipu uang rakyat lagi", true);
	learn(b, "kerja bakti warga desa membersihkan saluran", false);
	learn(b, "warga desa kerja bakti hari minggu", false);
	learn(b, "posyandu desa melayani warga kerja bakti", false);
	assert_int_equal(text_analyze(&rules->an, wk, "penipu uang rakyat", 18, &t, &n), 0);
	assert_true(mod_bayes_prob(b, t, n, 3) > 0.9);
	assert_int_equal(mod_score(&sc, wk, "t", 1, "kerja bakti warga desa", 22, &r), 0);
	assert_non_null(find(&r, "BAYES_GOOD"));
	assert_true(find(&r, "BAYES_GOOD")->score < 0);
	mod_result_release(&r);
	mod_bayes_free(b);
}

static void test_policy(void **st)
{
	struct mod_policy *p = calloc(1, sizeof(*p));
	double rv, rj;

	(void)st;
	p->t[p->n++] = (struct mod_threshold){"", 5, 15};
	p->t[p->n++] = (struct mod_threshold){"35", 4, 12};
	p->t[p->n++] = (struct mod_threshold){"35.07", 3, 10};
	mod_policy_lookup(p, "35.07.12.2001", &rv, &rj);
	assert_true(rv == 3 && rj == 10);
	mod_policy_lookup(p, "35.08", &rv, &rj);
	assert_true(rv == 4 && rj == 12);
	mod_policy_lookup(p, "35.071", &rv, &rj); /* not under 35.07 */
	assert_true(rv == 4);
	assert_int_equal(mod_policy_decide(p, "11.01", 4.9), MOD_APPROVE);
	assert_int_equal(mod_policy_decide(p, "11.01", 5), MOD_REVIEW);
	assert_int_equal(mod_policy_decide(p, "35.07.12", 10), MOD_REJECT);
	free(p);
}

static int setup(void **st)
{
	char err[256];

	(void)st;
	rules = mod_rules_new(NULL, NULL, NULL, err, sizeof(err));
	wk = text_work_new(1 << 20);
	if (!rules)
		fprintf(stderr, "rules: %s\n", err);
	return rules && wk ? 0 : -1;
}

static int teardown(void **st)
{
	(void)st;
	mod_rules_free(rules);
	text_work_free(wk);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nik),	      cmocka_unit_test(test_pii_find_and_mask),
		cmocka_unit_test(test_lists_obfuscated), cmocka_unit_test(test_clean_text),
		cmocka_unit_test(test_invalid_utf8_and_spans), cmocka_unit_test(test_links),
		cmocka_unit_test(test_shape),	      cmocka_unit_test(test_bayes),
		cmocka_unit_test(test_policy),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
