/*
 * fault_pg_test.c - PostgreSQL stopped: submissions get 503 with
 * Retry-After (never a 202, never a hang), /readyz says not ready, nothing
 * is half-written; after PostgreSQL returns the service recovers by itself
 * and the same requests (same keys) are accepted exactly once.
 */
#include "fault_common.h"

enum { N = 10 };

static int setup(void **state)
{
	return ts_ctx_setup(&ctx, NULL) == 0 ? 0 : -1;
}

static long readyz(void)
{
	struct ts_response r;
	long st;

	ts_http(&r, "GET", ts_ctx_url(&ctx, "/readyz"), NULL, NULL, NULL, 0);
	st = r.status;
	ts_response_release(&r);
	return st;
}

static void test_pg_down_503_then_recovery(void **state)
{
	char keys[N][128], titles[N][160], id[64], ra[32], err[512];
	char like[64];
	const char *p[] = {like};
	int64_t end;

	/* Warm the token cache with one accepted request. */
	ts_key(&ctx.fx, "pgwarm", keys[0], sizeof(keys[0]));
	assert_int_equal(fault_submit("PG warm", keys[0], id, NULL), 202);
	fault_stop("pg");
	for (int i = 0; i < N; i++) {
		int64_t t0 = ts_now_ms();
		long st;
		ts_key(&ctx.fx, "pg", keys[i], sizeof(keys[i]));
		snprintf(titles[i], sizeof(titles[i]), "PGdown %s %s", ctx.fx.run, keys[i]);
		st = fault_submit(titles[i], keys[i], id, ra);
		if (st != 503)
			fail_msg("with postgresql down, submission %d got %ld (want 503)", i, st);
		if (atoi(ra) < 1)
			fail_msg("503 without a Retry-After (got '%s')", ra);
		assert_true(ts_now_ms() - t0 < 15000);
	}
	assert_int_equal(readyz(), 503);
	assert_int_equal(fault_start(), 0);

	/* Nothing half-written: no content, no key, no outbox row. */
	{
		PGconn *c = ts_pg_connect(ctx.env.pg_url, err, sizeof(err));
		if (!c)
			fail_msg("%s", err);
		PQfinish(ctx.pg);
		ctx.pg = c;
	}
	snprintf(like, sizeof(like), "PGdown %s %%", ctx.fx.run);
	assert_int_equal(ts_pg_count(ctx.pg, "SELECT count(*) FROM simpul.content WHERE title LIKE $1",
				     1, p),
			 0);
	snprintf(like, sizeof(like), "t-%s-pg-%%", ctx.fx.run);
	assert_int_equal(ts_pg_count(ctx.pg,
				     "SELECT count(*) FROM simpul.idempotency_keys WHERE key LIKE $1",
				     1, p),
			 0);

	/* Recovery without a restart: bounded wait for the first 202. */
	end = ts_now_ms() + 45000;
	while (fault_submit(titles[0], keys[0], id, NULL) != 202) {
		if (ts_now_ms() > end)
			fail_msg("simpul-ingest did not recover within 45 s of postgresql's return");
		ts_sleep_ms(500);
	}
	for (int i = 1; i < N; i++)
		assert_int_equal(fault_submit(titles[i], keys[i], id, NULL), 202);
	for (int i = 0; i < N; i++) /* the retries replay, nothing new */
		assert_int_equal(fault_submit(titles[i], keys[i], id, NULL), 202);
	snprintf(like, sizeof(like), "PGdown %s %%", ctx.fx.run);
	assert_int_equal(ts_pg_count(ctx.pg, "SELECT count(*) FROM simpul.content WHERE title LIKE $1",
				     1, p),
			 N);
	end = ts_now_ms() + 20000;
	while (readyz() != 200 && ts_now_ms() < end)
		ts_sleep_ms(200);
	assert_int_equal(readyz(), 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_pg_down_503_then_recovery, fault_teardown_test),
	};
	return cmocka_run_group_tests(tests, setup, fault_teardown_group);
}
