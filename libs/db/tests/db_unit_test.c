/*
 * db_unit_test.c - libs/db behaviour that needs no server: argument checks,
 * a connection to a closed port (NULL or "down" object), the reconnect
 * rate limit, and the result helpers on NULL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <db/db.h>
#include <db/pool.h>
#include <pthread.h>
#include <unistd.h>
#include <util/err.h>
#include <util/ids.h>

/* Port 1 on loopback: nothing listens, the connect is refused at once. */
#define DEAD_URL "postgresql://simpul@127.0.0.1:1/simpul"

static void test_new_unreachable_returns_null(void **state)
{
	char err[256] = "";
	struct db_conn *c = db_conn_new(DEAD_URL, err, sizeof err);

	(void)state;
	assert_null(c);
	assert_non_null(strstr(err, "postgresql unavailable"));
	assert_null(db_conn_new("", err, sizeof err));
	db_conn_free(NULL);
}

static void test_allow_down_and_rate_limit(void **state)
{
	struct db_conn_opts o = {.allow_down = true, .connect_timeout_s = 1};
	char err[256] = "";
	const char *v[1] = {"x"};
	struct db_conn *c = db_conn_new_opts(DEAD_URL, &o, err, sizeof err);
	int64_t t0;

	(void)state;
	assert_non_null(c);
	assert_false(db_conn_up(c));
	/* Within DB_RECONNECT_MIN_MS of the failed attempt: no new attempt. */
	t0 = util_mono_us();
	assert_int_equal(db_exec(c, "SELECT $1::text", 1, v, NULL, NULL, err, sizeof err),
			 UTIL_EUNAVAIL);
	assert_non_null(strstr(err, "pending"));
	assert_true(util_mono_us() - t0 < 100 * 1000);
	assert_int_equal(db_ping(c, err, sizeof err), UTIL_EUNAVAIL);
	/* Registration is kept while the server is down. */
	assert_int_equal(db_prepare(c, "q_one", "SELECT 1", 0, err, sizeof err), UTIL_EUNAVAIL);
	assert_int_equal(db_prepare(c, "q_one", "SELECT 2", 0, err, sizeof err), UTIL_ECONFLICT);
	assert_int_equal(db_exec_prepared(c, "nope", 0, NULL, NULL, NULL, err, sizeof err),
			 UTIL_ENOTFOUND);
	db_conn_free(c);
}

static void test_bad_arguments(void **state)
{
	struct db_conn_opts o = {.allow_down = true};
	char err[256];
	struct db_conn *c = db_conn_new_opts(DEAD_URL, &o, err, sizeof err);
	struct db_migration bad[2] = {{2, "0002_b", "SELECT 1"}, {1, "0001_a", "SELECT 1"}};

	(void)state;
	assert_non_null(c);
	assert_int_equal(db_prepare(c, "Bad-Name", "SELECT 1", 0, err, sizeof err), UTIL_EINVAL);
	assert_int_equal(db_savepoint(c, "x; DROP TABLE y", err, sizeof err), UTIL_EINVAL);
	assert_int_equal(db_savepoint(c, "sp", err, sizeof err), UTIL_EINTERNAL);
	assert_int_equal(db_commit(c, err, sizeof err), UTIL_EINTERNAL);
	assert_int_equal(db_rollback(c, err, sizeof err), UTIL_OK);
	assert_int_equal(db_exec(c, "SELECT 1", -1, NULL, NULL, NULL, err, sizeof err),
			 UTIL_EINVAL);
	assert_int_equal(db_migrate_table(c, "no_schema", bad, 2, NULL, err, sizeof err),
			 UTIL_EINVAL);
	assert_int_equal(db_migrate_table(c, "a.b; DROP", bad, 2, NULL, err, sizeof err),
			 UTIL_EINVAL);
	assert_int_equal(db_migrate_table(c, "s.t", bad, 2, NULL, err, sizeof err), UTIL_EINVAL);
	assert_string_equal(db_last_sqlstate(c), "");
	db_conn_free(c);
}

static void test_result_helpers_on_null(void **state)
{
	(void)state;
	assert_int_equal(db_col(NULL, "x"), -1);
	assert_null(db_value(NULL, 0, "x"));
	assert_int_equal(db_affected(NULL), 0);
	assert_false(db_conn_up(NULL));
}

struct pool_waiter {
	struct db_pool *p;
	struct db_conn *got;
};

static void *pool_wait(void *arg)
{
	struct pool_waiter *w = arg;

	w->got = db_pool_get(w->p);
	return NULL;
}

/* The pool hands out each connection once, blocks when all are out and wakes a waiter on put. */
static void test_pool_get_put(void **state)
{
	struct db_conn_opts o = {.allow_down = true, .connect_timeout_s = 1};
	char err[256] = "";
	struct db_pool *p = db_pool_new(DEAD_URL, &o, 2, err, sizeof err);
	struct pool_waiter w = {0};
	struct db_conn *a, *b;
	pthread_t t;

	(void)state;
	assert_null(db_pool_new(DEAD_URL, &o, 0, err, sizeof err));
	assert_null(db_pool_new(DEAD_URL, NULL, 1, err, sizeof err));
	assert_non_null(p);
	assert_false(db_pool_up(p));
	a = db_pool_get(p);
	b = db_pool_get(p);
	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	w.p = p;
	assert_int_equal(pthread_create(&t, NULL, pool_wait, &w), 0);
	usleep(100000);
	assert_null(w.got); /* still waiting: both are out */
	db_pool_put(p, b);
	pthread_join(t, NULL);
	assert_ptr_equal(w.got, b);
	db_pool_put(p, a);
	db_pool_put(p, w.got);
	db_pool_free(p);
	db_pool_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_unreachable_returns_null),
		cmocka_unit_test(test_allow_down_and_rate_limit),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_result_helpers_on_null),
		cmocka_unit_test(test_pool_get_put),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
