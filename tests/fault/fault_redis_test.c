/*
 * fault_redis_test.c - Redis stopped: the documented behaviour is that
 * services go on. Aspirasi are still accepted, their per-address rate limit
 * falls back to the in-process bucket (burst 3 here, so the 4th is a 429
 * with Retry-After), content submissions are unaffected; after Redis
 * returns, everything still works.
 */
#include "fault_common.h"

static int setup(void **state)
{
	static const char *const env[] = {"SIMPUL_ASPIRASI_BURST=3",
					  "SIMPUL_ASPIRASI_RATE_PER_MIN=1", NULL};

	return ts_ctx_setup(&ctx, env) == 0 ? 0 : -1;
}

static long aspirasi(const char *tag, int i)
{
	struct ts_response r;
	char body[256];
	long st;

	snprintf(body, sizeof(body),
		 "{\"title\":\"Aspirasi %s %d\",\"body\":\"Lampu jalan mati.\",\"region_code\":\"%s\","
		 "\"name\":\"Warga\",\"contact\":\"warga@example.org\"}",
		 tag, i, ctx.fx.desa);
	ts_http_post_json(&r, ts_ctx_url(&ctx, "/v1/aspirasi"), NULL, NULL, body);
	st = r.status;
	if (st == 429 && atoi(r.retry_after) < 1)
		fail_msg("429 without Retry-After");
	if (st != 202 && st != 429)
		fprintf(stderr, "aspirasi: %ld %s\n", st, r.body ? r.body : "");
	ts_response_release(&r);
	return st;
}

static void test_redis_down_goes_on(void **state)
{
	char ip[16], key[128], id[64], like[96];
	const char *p[] = {like};

	fault_stop("redis");
	ts_random_loopback(ip);
	ts_http_source_addr(ip);
	for (int i = 0; i < 3; i++)
		if (aspirasi(ctx.fx.run, i) != 202)
			fail_msg("aspirasi %d refused with redis down (want 202 from the local bucket)", i);
	assert_int_equal(aspirasi(ctx.fx.run, 3), 429);
	snprintf(like, sizeof(like), "Aspirasi %s %%", ctx.fx.run);
	assert_int_equal(ts_pg_count(ctx.pg,
				     "SELECT count(*) FROM simpul.content WHERE title LIKE $1"
				     " AND source = 'aspirasi' AND type = 'aspirasi'",
				     1, p),
			 3);
	ts_key(&ctx.fx, "redis", key, sizeof(key));
	assert_int_equal(fault_submit("Redis down content", key, id, NULL), 202);
	assert_int_equal(fault_start(), 0);

	/* Back to normal: a new address gets its burst again. */
	ts_random_loopback(ip);
	ts_http_source_addr(ip);
	{
		int64_t end = ts_now_ms() + 20000;
		long st;
		while ((st = aspirasi(ctx.fx.run, 10)) != 202 && ts_now_ms() < end)
			ts_sleep_ms(500);
		assert_int_equal(st, 202);
	}
	ts_http_source_addr(NULL);
	ts_key(&ctx.fx, "redis", key, sizeof(key));
	assert_int_equal(fault_submit("Redis back content", key, id, NULL), 202);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_redis_down_goes_on, fault_teardown_test),
	};
	return cmocka_run_group_tests(tests, setup, fault_teardown_group);
}
