/*
 * ingest_idempotency_test.c - Idempotency-Key semantics of POST /v1/content
 * against the real stack: a retry returns the same id and creates nothing,
 * the same key with a different body is a 409, keys are scoped per user,
 * and concurrent retries racing each other still create exactly one row.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <util/ids.h>

#include "ts/ts.h"

static struct ts_ctx ctx;

static int setup(void **state)
{
	return ts_ctx_setup(&ctx, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	return ts_ctx_teardown(&ctx) == 0 ? 0 : -1;
}

static long long rows_with_title(const char *title)
{
	const char *p[] = {title};

	return ts_pg_count(ctx.pg, "SELECT count(*) FROM simpul.content WHERE title = $1", 1, p);
}

static long post(const char *token, const char *key, const char *json, char *id_out)
{
	struct ts_response r;
	long st;

	ts_http_post_json(&r, ts_ctx_url(&ctx, "/v1/content"), token, key, json);
	st = r.status;
	if (id_out)
		snprintf(id_out, 64, "%s", r.id);
	if (st != 202)
		fprintf(stderr, "POST -> %ld %s\n", st, r.body ? r.body : "");
	ts_response_release(&r);
	return st;
}

static void test_retry_same_id_then_conflict(void **state)
{
	char key[128], title[160], id1[64], id2[64];
	const char *tok = ctx.fx.users[TS_KIM_MEMBER].token;
	struct ts_response r;
	char *a, *b;

	ts_key(&ctx.fx, "idem", key, sizeof(key));
	snprintf(title, sizeof(title), "Idempotent %s", key);
	a = ts_json_content("berita", title, "Satu.", ctx.fx.desa, ctx.fx.kim_id);
	b = ts_json_content("berita", title, "Dua (berbeda).", ctx.fx.desa, ctx.fx.kim_id);
	assert_int_equal(post(tok, key, a, id1), 202);
	assert_true(util_uuid_valid(id1));
	assert_int_equal(post(tok, key, a, id2), 202);
	assert_string_equal(id1, id2);
	assert_int_equal(rows_with_title(title), 1);
	ts_http_post_json(&r, ts_ctx_url(&ctx, "/v1/content"), tok, key, b);
	assert_int_equal(r.status, 409);
	assert_string_equal(r.error_code, "idempotency_conflict");
	assert_string_equal(r.error_field, "Idempotency-Key");
	ts_response_release(&r);
	assert_int_equal(rows_with_title(title), 1);
	{
		const char *p[] = {id1};
		assert_int_equal(ts_pg_count(ctx.pg,
					     "SELECT count(*) FROM simpul.outbox WHERE msg_key = $1", 1,
					     p),
				 1);
	}
	free(a);
	free(b);
}

/* Keys belong to the token's user: another user may use the same key. */
static void test_key_scoped_per_user(void **state)
{
	char key[128], title[160], id1[64], id2[64];
	char *a;

	ts_key(&ctx.fx, "scope", key, sizeof(key));
	snprintf(title, sizeof(title), "Scoped %s", key);
	a = ts_json_content("berita", title, "Sama.", ctx.fx.desa, ctx.fx.kim_id);
	assert_int_equal(post(ctx.fx.users[TS_KIM_MEMBER].token, key, a, id1), 202);
	assert_int_equal(post(ctx.fx.users[TS_KIM_ADMIN].token, key, a, id2), 202);
	assert_string_not_equal(id1, id2);
	assert_int_equal(rows_with_title(title), 2);
	free(a);
}

struct racer {
	const char *url, *token, *key, *json;
	long status;
	char id[64];
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct ts_response res;

	ts_http_post_json(&res, r->url, r->token, r->key, r->json);
	r->status = res.status;
	snprintf(r->id, sizeof(r->id), "%s", res.id);
	ts_response_release(&res);
	return NULL;
}

/* Eight identical requests at once (they may share one group commit). */
static void test_concurrent_retries_one_row(void **state)
{
	enum { N = 8 };
	struct racer rs[N];
	pthread_t th[N];
	char key[128], title[160], url[192];
	char *a;

	ts_key(&ctx.fx, "race", key, sizeof(key));
	snprintf(title, sizeof(title), "Race %s", key);
	snprintf(url, sizeof(url), "%s/v1/content", ctx.ingest.base_url);
	a = ts_json_content("kegiatan", title, "Balapan.", ctx.fx.desa, ctx.fx.kim_id);
	for (int i = 0; i < N; i++) {
		rs[i] = (struct racer){url, ctx.fx.users[TS_KIM_ADMIN].token, key, a, 0, ""};
		assert_int_equal(pthread_create(&th[i], NULL, race, &rs[i]), 0);
	}
	for (int i = 0; i < N; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < N; i++) {
		if (rs[i].status != 202)
			fail_msg("racer %d got %ld", i, rs[i].status);
		assert_string_equal(rs[i].id, rs[0].id);
	}
	assert_int_equal(rows_with_title(title), 1);
	free(a);
}

/* Without a key every request is new (documented: not retry-safe). */
static void test_no_key_creates_each_time(void **state)
{
	char title[128], id1[64], id2[64];
	char *a;

	snprintf(title, sizeof(title), "Nokey %s", ctx.fx.run);
	a = ts_json_content("berita", title, "Tanpa kunci.", ctx.fx.desa, ctx.fx.kim_id);
	assert_int_equal(post(ctx.fx.users[TS_KIM_ADMIN].token, NULL, a, id1), 202);
	assert_int_equal(post(ctx.fx.users[TS_KIM_ADMIN].token, NULL, a, id2), 202);
	assert_string_not_equal(id1, id2);
	assert_int_equal(rows_with_title(title), 2);
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retry_same_id_then_conflict),
		cmocka_unit_test(test_key_scoped_per_user),
		cmocka_unit_test(test_concurrent_retries_one_row),
		cmocka_unit_test(test_no_key_creates_each_time),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
