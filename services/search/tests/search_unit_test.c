/*
 * services/search/tests/search_unit_test.c - the search logic that needs no
 * stack: query language to tsquery, document tsvectors, snippets, cursors
 * and argument checking.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "search.h"
#include "util/err.h"

static struct search_text *text;
static struct text_work *wk;

static int setup(void **state)
{
	char err[256];

	(void)state;
	text = search_text_new(NULL, err, sizeof(err));
	wk = text_work_new(SEARCH_MAX_DOC_BYTES);
	return text && wk ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	search_text_free(text);
	text_work_free(wk);
	return 0;
}

/* Parses q; returns the rc and the tsquery in out. */
static int parse(const char *q, char *out, size_t cap, struct search_parsed *p)
{
	struct util_buf b;
	char err[256];
	int rc;

	util_buf_init(&b, 0);
	rc = search_query_parse(&text->an, wk, q, strlen(q), &b, p, err, sizeof(err));
	snprintf(out, cap, "%s", rc == 0 ? (b.data ? b.data : "") : err);
	util_buf_release(&b);
	return rc;
}

static void expect_tsq(const char *q, const char *want)
{
	struct search_parsed p;
	char got[512];

	assert_int_equal(parse(q, got, sizeof(got), &p), 0);
	assert_string_equal(got, want);
	assert_true(p.has_text);
}

static void test_query_language(void **state)
{
	(void)state;
	expect_tsq("kirim", "'kirim'");
	expect_tsq("Mengirimkan", "'kirim'");
	expect_tsq("digital", "'digital'");
	expect_tsq("banjir longsor", "'banjir' & 'longsor'");
	expect_tsq("banjir OR longsor", "('banjir' | 'longsor')");
	expect_tsq("banjir -hoaks", "'banjir' & !'hoaks'");
	expect_tsq("\"rumah yg besar\"", "('rumah' <2> 'besar')");
	expect_tsq("\"harga gak naik\"", "('harga' <1> 'tidak' <1> 'naik')");
	expect_tsq("jln rusak", "'jalan' & 'rusak'");
	expect_tsq("banjir -\"berita bohong\"", "'banjir' & !('berita' <1> 'bohong')");
	expect_tsq("jum'at", "'jum''at'");
}

static void expect_bad(const char *q, const char *msg_part)
{
	struct search_parsed p;
	char got[512];

	assert_int_equal(parse(q, got, sizeof(got), &p), UTIL_EINVAL);
	if (!strstr(got, msg_part))
		fail_msg("q=%s: message \"%s\" lacks \"%s\"", q, got, msg_part);
}

static void test_query_errors(void **state)
{
	char many[512] = "";
	struct search_parsed p;
	char got[512];

	(void)state;
	expect_bad("\"banjir bandang", "unbalanced quote");
	expect_bad("OR banjir", "OR needs");
	expect_bad("banjir OR", "OR needs");
	expect_bad("banjir OR OR longsor", "OR needs");
	expect_bad("banjir OR -hoaks", "OR cannot");
	expect_bad("-hoaks", "not only exclusions");
	expect_bad("banjir\x01", "control");
	expect_bad("banjir \xff\xfe", "UTF-8");
	for (int i = 0; i < 17; i++)
		strcat(many, "kata ");
	expect_bad(many, "too many");
	assert_int_equal(parse("yg", got, sizeof(got), &p), 0);
	assert_false(p.has_text);
	assert_true(p.only_stop);
	assert_int_equal(parse("", got, sizeof(got), &p), 0);
	assert_false(p.has_text);
	assert_false(p.only_stop);
}

static void test_doc_tsvector(void **state)
{
	struct util_buf tsv;
	uint64_t sh = 0, sh2 = 0;

	(void)state;
	util_buf_init(&tsv, 0);
	assert_int_equal(search_doc_build(&text->an, wk, "Warga mengirimkan bantuan", 25,
					  "Rumah yang besar itu digital.", 29, &tsv, &sh),
			 0);
	/* title terms weight A from position 1; body after a gap; stopwords keep positions */
	assert_non_null(strstr(tsv.data, "'kirim':2A"));
	assert_non_null(strstr(tsv.data, "'rumah':12"));
	assert_non_null(strstr(tsv.data, "'besar':14"));
	assert_non_null(strstr(tsv.data, "'digital':16"));
	assert_null(strstr(tsv.data, "'yang'"));
	assert_int_not_equal(sh, 0);
	util_buf_reset(&tsv);
	assert_int_equal(search_doc_build(&text->an, wk, "Warga mengirimkan bantuan", 25,
					  "Rumah yang besar itu digital.", 29, &tsv, &sh2),
			 0);
	assert_true(sh == sh2);
	util_buf_release(&tsv);
}

static void test_snippet(void **state)
{
	const char *body = "Pada hari Senin warga desa mengirimkan bantuan ke lokasi banjir.";
	struct search_parsed p;
	char got[256];
	json_t *o = json_object(), *s, *h;

	(void)state;
	assert_int_equal(parse("kirim banjir", got, sizeof(got), &p), 0);
	assert_int_equal(search_snippet(&text->an, wk, body, strlen(body), &p.hl, 40, o, "snippet"),
			 0);
	s = json_object_get(o, "snippet");
	assert_string_equal(json_string_value(json_object_get(s, "text")), body);
	h = json_object_get(s, "highlights");
	assert_int_equal(json_array_size(h), 2);
	assert_int_equal(json_integer_value(json_array_get(json_array_get(h, 0), 0)), 27);
	assert_int_equal(json_integer_value(json_array_get(json_array_get(h, 0), 1)), 38);
	assert_int_equal(json_integer_value(json_array_get(json_array_get(h, 1), 0)), 57);
	json_decref(o);
}

static void test_cursor(void **state)
{
	struct search_cursor c = {.sort = 'r', .score = 0.123456789012345678, .now_ms = 1700000000123};
	struct search_cursor d;
	char s[SEARCH_CURSOR_MAX + 1];

	(void)state;
	snprintf(c.id, sizeof(c.id), "0b8e5f4e-6b2a-4c1e-9a53-1f0e2d3c4b5a");
	snprintf(c.qhash, sizeof(c.qhash), "0123456789abcdef");
	assert_int_equal(search_cursor_encode("key-1", &c, s, sizeof(s)), 0);
	assert_int_equal(search_cursor_decode("key-1", s, &d), 0);
	assert_true(d.score == c.score);
	assert_string_equal(d.id, c.id);
	assert_int_equal(d.now_ms, c.now_ms);
	assert_string_equal(d.published_at, "");
	assert_int_equal(search_cursor_decode("key-2", s, &d), UTIL_EINVAL);
	s[3] = s[3] == 'A' ? 'B' : 'A';
	assert_int_equal(search_cursor_decode("key-1", s, &d), UTIL_EINVAL);
	assert_int_equal(search_cursor_decode("key-1", "", &d), UTIL_EINVAL);
	assert_int_equal(search_cursor_decode("key-1", "....", &d), UTIL_EINVAL);
	assert_int_equal(search_cursor_decode("key-1", "!!!.???", &d), UTIL_EINVAL);
}

struct args {
	const char *kv[16][2];
};

static const char *arg(void *ud, const char *name)
{
	struct args *a = ud;

	for (int i = 0; i < 16 && a->kv[i][0]; i++)
		if (!strcmp(a->kv[i][0], name))
			return a->kv[i][1];
	return NULL;
}

static int req(struct search_request *r, const char **field, struct args a)
{
	struct search_config cfg = {.max_query_bytes = 256, .max_limit = 100,
				    .cursor_key = "k-unit"};
	char err[256];

	return search_request_parse(r, arg, &a, &cfg, field, err, sizeof(err));
}

static void test_request(void **state)
{
	struct search_request r;
	const char *f;
	char longq[300];

	(void)state;
	memset(longq, 'a', sizeof(longq) - 1);
	longq[sizeof(longq) - 1] = '\0';
	assert_int_equal(req(&r, &f, (struct args){{{"q", "banjir"}, {"region", "35.07"},
						   {"type", "berita,umkm"}, {"tags", "a,b"}}}),
			 0);
	assert_int_equal(r.sort, 'r');
	assert_int_equal(r.ntypes, 2);
	assert_int_equal(r.facet_level, 3);
	assert_int_equal(req(&r, &f, (struct args){{{"q", longq}}}), UTIL_EINVAL);
	assert_string_equal(f, "q");
	assert_int_equal(req(&r, &f, (struct args){{{"region", "35.7"}}}), UTIL_EINVAL);
	assert_string_equal(f, "region");
	assert_int_equal(req(&r, &f, (struct args){{{"limit", "101"}}}), UTIL_EINVAL);
	assert_int_equal(req(&r, &f, (struct args){{{"limit", "0"}}}), UTIL_EINVAL);
	assert_int_equal(req(&r, &f, (struct args){{{"limit", "10x"}}}), UTIL_EINVAL);
	assert_int_equal(req(&r, &f, (struct args){{{"type", "berita,"}}}), UTIL_EINVAL);
	assert_int_equal(req(&r, &f, (struct args){{{"type", "gosip"}}}), UTIL_EINVAL);
	assert_int_equal(req(&r, &f, (struct args){{{"kim", "x"}}}), UTIL_EINVAL);
	assert_int_equal(req(&r, &f, (struct args){{{"from", "yesterday"}}}), UTIL_EINVAL);
	assert_int_equal(req(&r, &f, (struct args){{{"cursor", "abc.def"}}}), UTIL_EINVAL);
	assert_string_equal(f, "cursor");
	assert_int_equal(req(&r, &f, (struct args){{{"facet_level", "9"}}}), UTIL_EINVAL);
	assert_int_equal(req(&r, &f, (struct args){{{"q", " "}}}), 0);
	assert_int_equal(r.sort, 'd');
	assert_true(search_region_valid("35.07.12.2003"));
	assert_false(search_region_valid("35.07.12.200"));
	assert_int_equal(search_region_level("35.07.12"), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_language), cmocka_unit_test(test_query_errors),
		cmocka_unit_test(test_doc_tsvector),   cmocka_unit_test(test_snippet),
		cmocka_unit_test(test_cursor),	       cmocka_unit_test(test_request),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
