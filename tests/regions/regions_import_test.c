/*
 * regions_import_test.c - `simpulctl regions import wilayah.csv` twice gives
 * the same rows: after the first import every row of the official list is
 * there, and the second import changes nothing (same count, same content
 * fingerprint). Skips (exit 77) with a clear message when the shared data
 * is absent; fails loudly when the stack is not there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ts/ts.h"

static struct ts_env env;
static PGconn *pg;
static char csv[4096];

static int setup(void **state)
{
	char err[1024];

	if (ts_env_load(&env, err, sizeof(err)) < 0) {
		fprintf(stderr, "TEST SETUP FAILED (is the stack up?): %s\n", err);
		return -1;
	}
	pg = ts_pg_connect(env.pg_url, err, sizeof(err));
	if (!pg) {
		fprintf(stderr, "TEST SETUP FAILED: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	PQfinish(pg);
	ts_env_release(&env);
	return 0;
}

/* Data rows of the CSV (lines minus the header). */
static long long csv_rows(const char *path)
{
	FILE *fp = fopen(path, "r");
	long long n = 0;
	int c, last = '\n';

	if (!fp)
		return -1;
	while ((c = getc(fp)) != EOF) {
		if (c == '\n')
			n++;
		last = c;
	}
	fclose(fp);
	return (last == '\n' ? n : n + 1) - 1;
}

static void import(void)
{
	static char out[8192];
	char *argv[] = {env.simpulctl_bin, "regions", "import", csv, NULL};
	int64_t t0 = ts_now_ms();
	int st = ts_run(argv, 90000, out, sizeof(out));

	if (st != 0)
		fail_msg("simpulctl regions import exited %d: %s", st, out);
	fprintf(stderr, "regions import: %lld ms\n", (long long)(ts_now_ms() - t0));
}

static void fingerprint(long long *count, char *md5, size_t len)
{
	char err[512];
	PGresult *res = ts_pg_query(pg,
				    "SELECT count(*), md5(string_agg(code || '|' || name || '|' || level"
				    " || '|' || coalesce(kind, '') || '|' || coalesce(parent_code, ''),"
				    " ',' ORDER BY code)) FROM simpul.regions",
				    0, NULL, err, sizeof(err));

	if (!res)
		fail_msg("%s", err);
	*count = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	snprintf(md5, len, "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
}

static void test_import_twice_same_rows(void **state)
{
	long long rows = csv_rows(csv), n1, n2;
	char m1[64], m2[64];

	assert_true(rows > 90000);
	import();
	fingerprint(&n1, m1, sizeof(m1));
	/* Every code of the file is there (other tests may have added codes). */
	if (n1 < rows)
		fail_msg("after import: %lld regions, the file has %lld", n1, rows);
	import();
	fingerprint(&n2, m2, sizeof(m2));
	assert_int_equal(n2, n1);
	assert_string_equal(m2, m1);
	{
		const char *p[] = {"35.07"};
		assert_int_equal(ts_pg_count(pg,
					     "SELECT count(*) FROM simpul.regions WHERE code = $1"
					     " AND name = 'Kabupaten Malang' AND level = 2"
					     " AND kind = 'kabupaten' AND parent_code = '35'",
					     1, p),
				 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_import_twice_same_rows),
	};
	struct ts_env probe;
	char err[256];

	/* The shared data is optional: skip loudly when it is not there. */
	if (ts_env_load(&probe, err, sizeof(err)) == 0 || probe.shared_data) {
		snprintf(csv, sizeof(csv), "%s/wilayah-indonesia-2025/wilayah.csv",
			 probe.shared_data ? probe.shared_data : "");
	}
	ts_env_release(&probe);
	if (access(csv, R_OK) != 0) {
		printf("SKIP regions_import_test: no shared data at '%s' (set SIMPUL_SHARED_DATA)\n",
		       csv);
		return 77;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
