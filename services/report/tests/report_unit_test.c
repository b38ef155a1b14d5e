/*
 * services/report/tests/report_unit_test.c - pure helpers of the report
 * service: region codes and levels, date ranges, the export SQL, and that
 * undecodable events are poison (UTIL_EINVAL) before any database access.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "events/topics.h"
#include "report.h"
#include "util/err.h"

static void test_regions(void **state)
{
	(void)state;
	assert_true(report_region_valid(""));
	assert_true(report_region_valid("35"));
	assert_true(report_region_valid("35.07"));
	assert_true(report_region_valid("35.07.12"));
	assert_true(report_region_valid("35.07.12.2003"));
	assert_false(report_region_valid("35.07.12.2003.1"));
	assert_false(report_region_valid("3"));
	assert_false(report_region_valid("35."));
	assert_false(report_region_valid("35.7"));
	assert_false(report_region_valid("35.07.12.203"));
	assert_false(report_region_valid("35'; DROP"));
	assert_false(report_region_valid(NULL));
	assert_int_equal(report_region_level(""), 0);
	assert_int_equal(report_region_level("35"), 1);
	assert_int_equal(report_region_level("35.07.12.2003"), 4);
}

static void test_range(void **state)
{
	struct report_range r;
	char err[128];

	(void)state;
	assert_int_equal(report_range_parse("2024-01-01", "2024-01-31", &r, err, sizeof(err)), 0);
	assert_string_equal(r.from, "2024-01-01");
	assert_string_equal(r.to, "2024-01-31");
	assert_int_equal(report_range_parse(NULL, NULL, &r, err, sizeof(err)), 0);
	assert_int_equal(strlen(r.from), 10);
	assert_true(strcmp(r.from, r.to) < 0);
	assert_int_equal(report_range_parse("2024-02-01", "2024-01-31", &r, err, sizeof(err)),
			 UTIL_EINVAL);
	assert_int_equal(report_range_parse("2024-1-01", NULL, &r, err, sizeof(err)), UTIL_EINVAL);
	assert_int_equal(report_range_parse(NULL, "x' OR 1=1", &r, err, sizeof(err)), UTIL_EINVAL);
}

static void test_export_sql(void **state)
{
	struct report_range r = {"2024-01-01", "2024-01-02"};
	char *csv = report_export_sql("35.07", &r, REPORT_CSV);
	char *nd = report_export_sql("", &r, REPORT_NDJSON);

	(void)state;
	assert_non_null(csv);
	assert_non_null(strstr(csv, "FORMAT csv, HEADER"));
	assert_non_null(strstr(csv, "LIKE '35.07.%'"));
	assert_non_null(nd);
	assert_non_null(strstr(nd, "json_build_object"));
	assert_null(report_export_sql("35'07", &r, REPORT_CSV));
	free(csv);
	free(nd);
}

static void test_poison(void **state)
{
	struct kafka_message m = {.topic = EVENTS_TOPIC_CONTENT_SUBMITTED,
				  .value = "\xff\xff\xff",
				  .value_len = 3};
	char err[128];
	bool applied = true;

	(void)state;
	/* decoding fails before the connection is touched: NULL is never used */
	assert_int_equal(report_apply(NULL, 0, &m, &applied, err, sizeof(err)), UTIL_EINVAL);
	assert_false(applied);
	m.value_len = 0;
	assert_int_equal(report_apply(NULL, 0, &m, &applied, err, sizeof(err)), UTIL_EINVAL);
	m.value_len = 3;
	m.topic = "kim.other.v1";
	assert_int_equal(report_apply(NULL, 0, &m, &applied, err, sizeof(err)), UTIL_EINVAL);
	assert_string_equal(report_content_type_name(1), "berita");
	assert_null(report_content_type_name(0));
	assert_null(report_content_type_name(99));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_regions),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_export_sql),
		cmocka_unit_test(test_poison),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
