/*
 * services/ingest/tests/rules_test.c - NDJSON splitting, Bearer token
 * syntax and the authorisation rule matrix.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <simpul/v1/content.pb-c.h>

#include "ingest.h"
#include "util/err.h"

static void test_ndjson(void **state)
{
	const char *b = "{\"a\":1}\r\n\n  \t\r\n{\"b\":2}\n{\"c\":3}";
	struct ingest_line l[4];
	size_t n;

	(void)state;
	n = ingest_ndjson_split(b, strlen(b), l, 4);
	assert_int_equal(n, 3);
	assert_int_equal(l[0].len, 7);
	assert_memory_equal(l[0].ptr, "{\"a\":1}", 7);
	assert_int_equal(l[0].lineno, 1);
	assert_int_equal(l[1].lineno, 4);
	assert_memory_equal(l[1].ptr, "{\"b\":2}", 7);
	assert_int_equal(l[2].lineno, 5);
	assert_int_equal(l[2].len, 7);
	/* counting only, and more lines than room */
	assert_int_equal(ingest_ndjson_split(b, strlen(b), NULL, 0), 3);
	assert_int_equal(ingest_ndjson_split(b, strlen(b), l, 1), 3);
	assert_int_equal(ingest_ndjson_split("", 0, NULL, 0), 0);
	assert_int_equal(ingest_ndjson_split("\n\n\r\n", 4, NULL, 0), 0);
	assert_int_equal(ingest_ndjson_split("x\n", 2, l, 4), 1);
	assert_int_equal(l[0].len, 1);
}

#define GOODTOK "simpul_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNO-_"

static void test_bearer(void **state)
{
	char t[AUTH_TOKEN_LEN + 1];

	(void)state;
	assert_int_equal(strlen(GOODTOK), AUTH_TOKEN_LEN);
	assert_int_equal(auth_bearer_parse("Bearer " GOODTOK, t), 0);
	assert_string_equal(t, GOODTOK);
	assert_int_equal(auth_bearer_parse("bearer  " GOODTOK, t), 0);
	assert_int_equal(auth_bearer_parse(NULL, t), UTIL_EINVAL);
	assert_int_equal(auth_bearer_parse("Basic " GOODTOK, t), UTIL_EINVAL);
	assert_int_equal(auth_bearer_parse("Bearer " GOODTOK "x", t), UTIL_EINVAL);
	assert_int_equal(auth_bearer_parse("Bearer simpul_abc", t), UTIL_EINVAL);
	assert_int_equal(auth_bearer_parse("Bearer simpal_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNO-_",
					     t),
			 UTIL_EINVAL);
	assert_int_equal(auth_bearer_parse("Bearer simpul_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNO+_",
					     t),
			 UTIL_EINVAL);
}

#define KIM_A "11111111-1111-4111-8111-111111111111"
#define KIM_B "22222222-2222-4222-8222-222222222222"

static struct auth_principal who(enum auth_role role, const char *kim, const char *prefix)
{
	struct auth_principal p = {.role = role};

	strcpy(p.user_id, "33333333-3333-4333-8333-333333333333");
	strcpy(p.kim_id, kim ? kim : "");
	strcpy(p.region_prefix, prefix ? prefix : "");
	return p;
}

static void test_submit_matrix(void **state)
{
	const int berita = SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_BERITA;
	const int disem = SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_DISEMINASI;
	struct {
		enum auth_role role;
		int type;
		const char *kim;
		int want;
		const char *field;
	} m[] = {
		{AUTH_ROLE_KIM_MEMBER, berita, KIM_A, 0, ""},
		{AUTH_ROLE_KIM_MEMBER, berita, NULL, 0, ""},
		{AUTH_ROLE_KIM_MEMBER, berita, KIM_B, UTIL_EDENIED, "kim_id"},
		{AUTH_ROLE_KIM_ADMIN, berita, KIM_B, UTIL_EDENIED, "kim_id"},
		{AUTH_ROLE_KIM_MEMBER, disem, KIM_A, UTIL_EDENIED, "type"},
		{AUTH_ROLE_ADMIN, berita, KIM_B, 0, ""},
		{AUTH_ROLE_ADMIN, disem, NULL, 0, ""},
		{AUTH_ROLE_INTEGRATION, disem, KIM_B, 0, ""},
		{AUTH_ROLE_CITIZEN, berita, NULL, UTIL_EDENIED, ""},
		{AUTH_ROLE_MODERATOR, berita, NULL, UTIL_EDENIED, ""},
		{AUTH_ROLE_ANALYST, berita, NULL, UTIL_EDENIED, ""},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		struct auth_principal p = who(m[i].role, KIM_A, NULL);
		struct ingest_verr e = {0};
		int rc = ingest_auth_may_submit(&p, m[i].type, m[i].kim, &e);

		if (rc != m[i].want || (rc && (e.status != 403 || strcmp(e.code, "forbidden") ||
					      strcmp(e.field, m[i].field))))
			fail_msg("row %zu: rc=%d status=%d code=%s field=%s", i, rc, e.status,
				 e.code, e.field);
	}
}

static void test_read_matrix(void **state)
{
	struct auth_principal mod = who(AUTH_ROLE_MODERATOR, NULL, "35.07");
	struct auth_principal mod2 = who(AUTH_ROLE_MODERATOR, NULL, "35.0");
	struct auth_principal mem = who(AUTH_ROLE_KIM_MEMBER, KIM_A, NULL);
	struct auth_principal cit = who(AUTH_ROLE_CITIZEN, NULL, NULL);
	struct auth_principal adm = who(AUTH_ROLE_ADMIN, NULL, NULL);
	struct ingest_verr e;

	(void)state;
	assert_true(ingest_auth_may_read(&mod, NULL, NULL, "35.07.12.2003"));
	assert_true(ingest_auth_may_read(&mod, NULL, NULL, "35.07"));
	assert_false(ingest_auth_may_read(&mod, NULL, NULL, "35.08.01"));
	assert_false(ingest_auth_may_read(&mod2, NULL, NULL, "35.07.01")); /* not a segment prefix */
	assert_true(ingest_auth_may_read(&mem, NULL, KIM_A, "11"));
	assert_false(ingest_auth_may_read(&mem, NULL, KIM_B, "11"));
	assert_true(ingest_auth_may_read(&cit, cit.user_id, NULL, "11"));
	assert_false(ingest_auth_may_read(&cit, NULL, NULL, "11"));
	assert_true(ingest_auth_may_read(&adm, NULL, NULL, "11"));
	assert_int_equal(ingest_auth_may_register(&cit, &e), 0);
	assert_int_equal(ingest_auth_may_register(&mod, &e), UTIL_EDENIED);
	assert_int_equal(e.status, 403);
	assert_int_equal(auth_role_parse("kim_admin"), AUTH_ROLE_KIM_ADMIN);
	assert_int_equal(auth_role_parse("root"), AUTH_ROLE_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ndjson),
		cmocka_unit_test(test_bearer),
		cmocka_unit_test(test_submit_matrix),
		cmocka_unit_test(test_read_matrix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
