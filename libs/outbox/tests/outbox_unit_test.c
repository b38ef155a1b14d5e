/*
 * outbox_unit_test.c - libs/outbox without the stack: table-name checks,
 * lock keys, and the argument checks of enqueue and relay creation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "metrics/metrics.h"
#include "outbox/outbox.h"
#include "util/err.h"

static void test_table_valid(void **state)
{
	(void)state;
	assert_true(outbox_table_valid("simpul.outbox"));
	assert_true(outbox_table_valid("simpul.moderation_outbox"));
	assert_true(outbox_table_valid("_s.t2"));
	assert_false(outbox_table_valid(NULL));
	assert_false(outbox_table_valid(""));
	assert_false(outbox_table_valid("outbox"));
	assert_false(outbox_table_valid("simpul."));
	assert_false(outbox_table_valid(".outbox"));
	assert_false(outbox_table_valid("a.b.c"));
	assert_false(outbox_table_valid("Simpul.outbox"));
	assert_false(outbox_table_valid("simpul.outbox;drop table x"));
	assert_false(outbox_table_valid("simpul.\"x\""));
	assert_false(outbox_table_valid("simpul.1x"));
}

static void test_lock_key(void **state)
{
	int64_t a = outbox_lock_key("simpul.outbox"), b = outbox_lock_key("simpul.outbox");
	int64_t c = outbox_lock_key("simpul.moderation_outbox");

	(void)state;
	assert_true(a > 0);
	assert_true(c > 0);
	assert_int_equal(a, b);
	assert_true(a != c);
}

static void test_enqueue_bad_args(void **state)
{
	char err[256] = "";
	int64_t id = -7;

	(void)state;
	assert_int_equal(outbox_enqueue(NULL, "simpul.outbox", "t", "k", "x", 1, NULL, 0, &id, err,
					sizeof(err)),
			 UTIL_EINVAL);
	assert_int_equal(id, -7);
	assert_non_null(strstr(err, "connection"));
}

static void test_relay_bad_config(void **state)
{
	char err[256];
	struct outbox_relay_config c = {.pg_url = "postgresql://nobody@127.0.0.1:1/x",
					.brokers = "127.0.0.1:1",
					.table = "outbox"};
	struct metrics_registry *reg = metrics_registry_new();

	(void)state;
	assert_null(outbox_relay_new(NULL, err, sizeof(err)));
	assert_null(outbox_relay_new(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "outbox"));
	c.table = "simpul.outbox";
	c.brokers = NULL;
	assert_null(outbox_relay_new(&c, err, sizeof(err)));
	c.brokers = "127.0.0.1:1";
	c.batch = -1;
	assert_null(outbox_relay_new(&c, err, sizeof(err)));
	c.batch = 0;
	c.reg = reg;
	c.metrics_prefix = "bad-prefix";
	assert_null(outbox_relay_new(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "metrics"));
	c.reg = reg;
	c.metrics_prefix = NULL;
	assert_null(outbox_relay_new(&c, err, sizeof(err)));
	metrics_registry_free(reg);
	outbox_relay_free(NULL);
	outbox_relay_wake(NULL);
	outbox_relay_stop(NULL, 0);
}

/* A relay whose database is down still starts (not ready) and stops. */
static void test_relay_db_down(void **state)
{
	char err[256], detail[128];
	struct outbox_relay_config c = {.pg_url = "postgresql://nobody@127.0.0.1:1/x",
					.brokers = "127.0.0.1:1",
					.table = "simpul.outbox",
					.standby_retry_ms = 50};
	struct outbox_relay *r = outbox_relay_new(&c, err, sizeof(err));
	struct outbox_relay_stats st;

	(void)state;
	assert_non_null(r);
	assert_int_equal(outbox_relay_start(r), 0);
	assert_false(outbox_relay_ready(r, 100, detail, sizeof(detail)));
	assert_non_null(strstr(detail, "unreachable"));
	outbox_relay_stats(r, &st);
	assert_false(st.leader);
	assert_int_equal(st.published, 0);
	outbox_relay_stop(r, 1000);
	outbox_relay_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_valid),
		cmocka_unit_test(test_lock_key),
		cmocka_unit_test(test_enqueue_bad_args),
		cmocka_unit_test(test_relay_bad_config),
		cmocka_unit_test(test_relay_db_down),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
