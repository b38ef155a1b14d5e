/*
 * schema_test.c - the embedded migrations match the files in
 * libs/schema/migrations byte for byte, in strictly increasing order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <schema/schema.h>

static const char *dir;

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *s = NULL;
	long len;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		goto out;
	s = calloc(1, (size_t)len + 1);
	if (s && fread(s, 1, (size_t)len, f) != (size_t)len) {
		free(s);
		s = NULL;
	}
out:
	fclose(f);
	return s;
}

static void test_order_and_content(void **state)
{
	size_t n = 0;
	const struct db_migration *m = schema_migrations(&n);
	char path[4096];

	(void)state;
	assert_true(n >= 1);
	assert_int_equal(m[0].version, 1);
	assert_string_equal(m[0].name, "0001_core");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			assert_true(m[i].version > m[i - 1].version);
		snprintf(path, sizeof path, "%s/%s.sql", dir, m[i].name);
		char *text = read_all(path);
		assert_non_null(text);
		assert_string_equal(text, m[i].sql);
		free(text);
	}
}

static void test_core_tables_present(void **state)
{
	size_t n = 0;
	const struct db_migration *m = schema_migrations(&n);
	const char *tables[] = {"simpul.regions",	  "simpul.kims",
				"simpul.users",		  "simpul.api_tokens",
				"simpul.content",	  "simpul.content_status_history",
				"simpul.idempotency_keys", "simpul.outbox"};

	(void)state;
	for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
		char needle[128];
		snprintf(needle, sizeof needle, "CREATE TABLE %s (", tables[i]);
		assert_non_null(strstr(m[0].sql, needle));
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_content),
		cmocka_unit_test(test_core_tables_present),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: schema_test MIGRATIONS_DIR\n");
		return 2;
	}
	dir = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
