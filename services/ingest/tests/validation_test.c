/*
 * services/ingest/tests/validation_test.c - every bad submission gets the
 * exact status, code and field; good ones parse field by field. Also the
 * KIM registration form.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <simpul/v1/content.pb-c.h>

#include "ingest.h"

struct vcase {
	enum ingest_form form;
	const char *body;
	int status;
	const char *code;
	const char *field;
};

#define OK "\"title\":\"t\",\"body\":\"b\",\"region_code\":\"35.07.12.2003\""
#define C INGEST_FORM_CONTENT
#define A INGEST_FORM_ASPIRASI
#define L INGEST_FORM_BATCH_LINE

static const struct vcase cases[] = {
	{C, "", 400, "malformed_json", ""},
	{C, "{", 400, "malformed_json", ""},
	{C, "[1]", 400, "malformed_json", ""},
	{C, "{\"type\":\"berita\"} x", 400, "malformed_json", ""},
	{C, "{\"type\":\"berita\",\"type\":\"umkm\"," OK "}", 400, "malformed_json", ""},
	{C, "{\"title\":\"\\u0000\"}", 400, "malformed_json", ""},
	{C, "{\"title\":\"\xff\"}", 400, "invalid_utf8", ""},
	{C, "{\"type\":\"berita\",\"extra\":1," OK "}", 400, "unknown_field", "extra"},
	{A, "{\"type\":\"berita\"," OK "}", 400, "unknown_field", "type"},
	{C, "{\"name\":\"x\"," OK "}", 400, "unknown_field", "name"},
	{C, "{\"idempotency_key\":\"x\",\"type\":\"berita\"," OK "}", 400, "unknown_field",
	 "idempotency_key"},
	{C, "{\"type\":\"berita\",\"body\":\"b\",\"region_code\":\"35\"}", 422, "missing_field",
	 "title"},
	{C, "{\"type\":\"berita\",\"title\":\"t\",\"region_code\":\"35\"}", 422, "missing_field",
	 "body"},
	{C, "{\"title\":\"t\",\"body\":\"b\",\"region_code\":\"35\"}", 422, "missing_field", "type"},
	{C, "{\"type\":\"berita\",\"title\":\"t\",\"body\":\"b\"}", 422, "missing_field",
	 "region_code"},
	{C, "{\"type\":1," OK "}", 422, "invalid_field", "type"},
	{C, "{\"type\":\"hoax\"," OK "}", 422, "unknown_type", "type"},
	{C, "{\"type\":\"Berita\"," OK "}", 422, "unknown_type", "type"},
	{C, "{\"type\":\"berita\",\"title\":\"  \",\"body\":\"b\",\"region_code\":\"35\"}", 422,
	 "invalid_field", "title"},
	{C, "{\"type\":\"berita\",\"title\":\"a\\nb\",\"body\":\"b\",\"region_code\":\"35\"}", 422,
	 "invalid_field", "title"},
	{C, "{\"type\":\"berita\",\"title\":\"t\",\"body\":\"b\",\"region_code\":\"35.7\"}", 422,
	 "invalid_field", "region_code"},
	{C, "{\"type\":\"berita\",\"title\":\"t\",\"body\":\"b\",\"region_code\":\"35.07.12.20031\"}",
	 422, "invalid_field", "region_code"},
	{C, "{\"type\":\"berita\",\"kim_id\":\"nope\"," OK "}", 422, "invalid_field", "kim_id"},
	{C, "{\"type\":\"berita\",\"tags\":\"x\"," OK "}", 422, "invalid_field", "tags"},
	{C, "{\"type\":\"berita\",\"tags\":[\"a\",2]," OK "}", 422, "invalid_field", "tags[1]"},
	{C, "{\"type\":\"berita\",\"tags\":[\"a\",\"\"]," OK "}", 422, "invalid_field", "tags[1]"},
	{C, "{\"type\":\"berita\",\"media_urls\":[\"ftp://x\"]," OK "}", 422, "invalid_field",
	 "media_urls[0]"},
	{C, "{\"type\":\"berita\",\"media_urls\":[\"https://a b\"]," OK "}", 422, "invalid_field",
	 "media_urls[0]"},
	{C, "{\"type\":\"berita\",\"media_urls\":[\"https://\"]," OK "}", 422, "invalid_field",
	 "media_urls[0]"},
	{A, "{\"name\":3," OK "}", 422, "invalid_field", "name"},
	{L, "{\"type\":\"berita\",\"idempotency_key\":\"\"," OK "}", 422, "invalid_field",
	 "idempotency_key"},
};

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct submission s;
		struct ingest_verr e = {0};
		int rc = ingest_submission_parse(cases[i].body, strlen(cases[i].body), cases[i].form,
						 &s, &e);

		if (rc == 0 || e.status != cases[i].status || strcmp(e.code, cases[i].code) != 0 ||
		    strcmp(e.field, cases[i].field) != 0)
			fail_msg("case %zu (%s): got rc=%d %d %s field=%s (%s)", i, cases[i].body,
				 rc, e.status, e.code, e.field, e.message);
		ingest_submission_release(&s);
	}
}

/* Builds {"type":"berita", <field>: <value>, ...rest} with a long string. */
static char *with_long(const char *field, size_t n, const char *unit)
{
	size_t ul = strlen(unit), cap = n * ul + 256;
	char *b = malloc(cap), *p;

	p = b + sprintf(b, "{\"type\":\"berita\",\"region_code\":\"35\"");
	if (strcmp(field, "title"))
		p += sprintf(p, ",\"title\":\"t\"");
	if (strcmp(field, "body"))
		p += sprintf(p, ",\"body\":\"b\"");
	p += sprintf(p, ",\"%s\":\"", field);
	for (size_t i = 0; i < n; i++, p += ul)
		memcpy(p, unit, ul);
	strcpy(p, "\"}");
	return b;
}

static void expect(const char *body, int status, const char *code, const char *field)
{
	struct submission s;
	struct ingest_verr e = {0};
	int rc = ingest_submission_parse(body, strlen(body), C, &s, &e);

	if (status == 0) {
		if (rc != 0)
			fail_msg("expected ok, got %s field=%s: %s", e.code, e.field, e.message);
	} else if (rc == 0 || e.status != status || strcmp(e.code, code) ||
		   strcmp(e.field, field)) {
		fail_msg("expected %d %s %s, got rc=%d %d %s %s", status, code, field, rc,
			 e.status, e.code, e.field);
	}
	ingest_submission_release(&s);
}

static void test_lengths(void **state)
{
	char *b;

	(void)state;
	/* 200 characters of a 3-byte letter is fine: limits count characters. */
	b = with_long("title", 200, "\xea\xa6\x84");
	expect(b, 0, NULL, NULL);
	free(b);
	b = with_long("title", 201, "a");
	expect(b, 422, "too_long", "title");
	free(b);
	b = with_long("body", 50000, "\xc3\xa9");
	expect(b, 0, NULL, NULL);
	free(b);
	b = with_long("body", 50001, "x");
	expect(b, 422, "too_long", "body");
	free(b);
	expect("{\"type\":\"berita\",\"title\":\"t\",\"body\":\"b\",\"region_code\":\"35\",\"tags\":["
	       "\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\",\"11\",\"12\",\"13\","
	       "\"14\",\"15\",\"16\",\"17\",\"18\",\"19\",\"20\",\"21\"]}",
	       422, "too_long", "tags");
	expect("{\"type\":\"berita\",\"title\":\"t\",\"body\":\"b\",\"region_code\":\"35\",\"tags\":["
	       "\"123456789012345678901234567890123456789012345678901\"]}",
	       422, "too_long", "tags[0]");
}

static void test_good(void **state)
{
	const char *body = "{\"type\":\"umkm\",\"title\":\"Keripik <b>'x'</b>; DROP TABLE\","
			   "\"body\":\"line1\\nline2\\t\",\"region_code\":\"35.07.12.2003\","
			   "\"kim_id\":\"F15DD026-D8E1-4EA4-9375-9940C9B97036\","
			   "\"tags\":[\"umkm\",\"malang\"],\"media_urls\":[\"http://a.id/x\"]}";
	struct submission s;
	struct ingest_verr e;

	(void)state;
	assert_int_equal(ingest_submission_parse(body, strlen(body), C, &s, &e), 0);
	assert_int_equal(s.type, SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_UMKM);
	assert_string_equal(s.title, "Keripik <b>'x'</b>; DROP TABLE");
	assert_string_equal(s.body, "line1\nline2\t");
	assert_string_equal(s.region_code, "35.07.12.2003");
	assert_string_equal(s.kim_id, "F15DD026-D8E1-4EA4-9375-9940C9B97036");
	assert_int_equal(s.ntags, 2);
	assert_string_equal(s.tags[1], "malang");
	assert_int_equal(s.nmedia, 1);
	ingest_submission_release(&s);

	body = "{\"title\":\"Jalan rusak\",\"body\":\"b\",\"region_code\":\"35.07\",\"name\":\"Budi\","
	       "\"contact\":null}";
	assert_int_equal(ingest_submission_parse(body, strlen(body), A, &s, &e), 0);
	assert_int_equal(s.type, SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_ASPIRASI);
	assert_string_equal(s.author_name, "Budi");
	assert_null(s.author_contact);
	ingest_submission_release(&s);
}

static void test_region_codes(void **state)
{
	(void)state;
	assert_true(ingest_region_code_valid("11", 1, 4));
	assert_true(ingest_region_code_valid("11.01.01.2001", 1, 4));
	assert_false(ingest_region_code_valid("11.01.01.2001", 1, 3));
	assert_false(ingest_region_code_valid("11.01", 3, 4));
	assert_false(ingest_region_code_valid("11.", 1, 4));
	assert_false(ingest_region_code_valid("1a", 1, 4));
	assert_false(ingest_region_code_valid("", 1, 4));
	assert_false(ingest_region_code_valid("11.01.01.2001.01", 1, 4));
}

struct kcase {
	const char *body;
	int status;
	const char *code;
	const char *field;
};

#define KOK "\"name\":\"KIM\",\"region_code\":\"35.07.12\",\"decree_number\":\"SK 1\""

static const struct kcase kcases[] = {
	{"{" KOK ",\"decree_date\":\"2024-02-29\",\"x\":1}", 400, "unknown_field", "x"},
	{"{" KOK "}", 422, "missing_field", "decree_date"},
	{"{" KOK ",\"decree_date\":\"2023-02-29\"}", 422, "invalid_field", "decree_date"},
	{"{" KOK ",\"decree_date\":\"1945-08-16\"}", 422, "invalid_field", "decree_date"},
	{"{\"name\":\"KIM\",\"region_code\":\"35.07\",\"decree_number\":\"1\","
	 "\"decree_date\":\"2020-01-01\"}",
	 422, "invalid_field", "region_code"},
	{"{" KOK ",\"decree_date\":\"2020-01-01\",\"contacts\":[{\"kind\":\"Email\",\"value\":\"a\"}]}",
	 422, "invalid_field", "contacts[0].kind"},
	{"{" KOK ",\"decree_date\":\"2020-01-01\",\"contacts\":[{\"kind\":\"email\",\"v\":\"a\"}]}",
	 400, "unknown_field", "contacts[0]"},
	{"{" KOK ",\"decree_date\":\"2020-01-01\",\"members\":[{\"role\":\"ketua\"}]}", 422,
	 "missing_field", "members[0].name"},
	{"{" KOK ",\"decree_date\":\"2020-01-01\",\"fields\":[\"\"]}", 422, "invalid_field",
	 "fields[0]"},
};

static void test_kim_form(void **state)
{
	const char *good = "{" KOK ",\"decree_date\":\"2024-02-29\",\"fields\":[\"TIK\"],"
			   "\"contacts\":[{\"kind\":\"email\",\"value\":\"a@b.id\"}],"
			   "\"members\":[{\"name\":\"Ani\",\"role\":\"ketua\"},{\"name\":\"Budi\"}]}";
	struct kim_form k;
	struct ingest_verr e = {0};

	(void)state;
	assert_int_equal(ingest_kim_parse(good, strlen(good), &k, &e), 0);
	assert_int_equal(k.nmembers, 2);
	assert_null(k.members[1].role);
	assert_string_equal(k.contacts[0].value, "a@b.id");
	ingest_kim_release(&k);
	for (size_t i = 0; i < sizeof(kcases) / sizeof(kcases[0]); i++) {
		int rc = ingest_kim_parse(kcases[i].body, strlen(kcases[i].body), &k, &e);

		if (rc == 0 || e.status != kcases[i].status || strcmp(e.code, kcases[i].code) ||
		    strcmp(e.field, kcases[i].field))
			fail_msg("kim case %zu: got %d %s %s (%s)", i, e.status, e.code, e.field,
				 e.message);
		ingest_kim_release(&k);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),	      cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_good),	      cmocka_unit_test(test_region_codes),
		cmocka_unit_test(test_kim_form),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
