/*
 * ingest_batch_test.c - POST /v1/content:batch (NDJSON) against the real
 * stack: a result per line in order, each line all-or-nothing with partial
 * success, a retried batch replays the same ids, the item cap (413) and the
 * content type (415). The service runs with SIMPUL_INGEST_BATCH_MAX_ITEMS=6.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include <util/ids.h>

#include "ts/ts.h"

static struct ts_ctx ctx;

static int setup(void **state)
{
	static const char *const env[] = {"SIMPUL_INGEST_BATCH_MAX_ITEMS=6", NULL};

	return ts_ctx_setup(&ctx, env) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	return ts_ctx_teardown(&ctx) == 0 ? 0 : -1;
}

static void post_batch(struct ts_response *r, const char *token, const char *key,
		       const char *ctype, const char *body)
{
	char auth[128], idem[256];
	const char *h[] = {auth, key ? idem : NULL, NULL};

	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	snprintf(idem, sizeof(idem), "Idempotency-Key: %s", key ? key : "");
	ts_http(r, "POST", ts_ctx_url(&ctx, "/v1/content:batch"), h, ctype, body, strlen(body));
}

/* The batch: valid, malformed, missing title, valid (own key), unknown
 * region, another KIM (403); blank lines are not items. */
static char *batch_body(const char *tag)
{
	char *s = NULL;
	int n = asprintf(
		&s,
		"{\"type\":\"berita\",\"title\":\"B1 %s\",\"body\":\"satu\",\"region_code\":\"%s\"}\n"
		"{\"type\":\"berita\",\"title\":\n"
		"{\"type\":\"berita\",\"body\":\"tanpa judul\",\"region_code\":\"%s\"}\n"
		"\n"
		"{\"type\":\"umkm\",\"title\":\"B4 %s\",\"body\":\"empat\",\"region_code\":\"%s\","
		"\"idempotency_key\":\"own-%s\"}\r\n"
		"{\"type\":\"berita\",\"title\":\"B5 %s\",\"body\":\"x\",\"region_code\":\"35.07.12.9999\"}\n"
		"{\"type\":\"berita\",\"title\":\"B6 %s\",\"body\":\"x\",\"region_code\":\"%s\","
		"\"kim_id\":\"%s\"}\n",
		tag, ctx.fx.desa, ctx.fx.desa, tag, ctx.fx.desa, tag, tag, tag, ctx.fx.other_desa,
		ctx.fx.other_kim_id);

	return n < 0 ? NULL : s;
}

struct expect {
	long line, status;
	const char *code, *field;
};

static void check_results(json_t *results, const struct expect *ex, size_t n, char ids[][64])
{
	assert_true(json_is_array(results));
	assert_int_equal(json_array_size(results), n);
	for (size_t i = 0; i < n; i++) {
		json_t *r = json_array_get(results, i);
		json_t *e = json_object_get(r, "error");
		assert_int_equal(json_integer_value(json_object_get(r, "line")), ex[i].line);
		assert_int_equal(json_integer_value(json_object_get(r, "status")), ex[i].status);
		if (ex[i].status == 202) {
			const char *id = json_string_value(json_object_get(r, "id"));
			assert_non_null(id);
			assert_true(util_uuid_valid(id));
			snprintf(ids[i], 64, "%s", id);
			continue;
		}
		ids[i][0] = '\0';
		assert_string_equal(json_string_value(json_object_get(e, "code")), ex[i].code);
		if (ex[i].field)
			assert_string_equal(json_string_value(json_object_get(e, "field")),
					    ex[i].field);
	}
}

static long long rows_for_tag(const char *tag)
{
	char like[64];
	const char *p[] = {like};

	snprintf(like, sizeof(like), "B_ %s", tag);
	return ts_pg_count(ctx.pg, "SELECT count(*) FROM simpul.content WHERE title LIKE $1", 1, p);
}

static void test_mixed_batch_and_replay(void **state)
{
	static const struct expect ex[] = {
		{1, 202, NULL, NULL},
		{2, 400, "malformed_json", NULL},
		{3, 422, "missing_field", "title"},
		{5, 202, NULL, NULL},
		{6, 422, "unknown_region", "region_code"},
		{7, 403, "forbidden", "kim_id"},
	};
	char ids[6][64], ids2[6][64], key[128];
	struct ts_response r;
	char *body = batch_body(ctx.fx.run);
	json_t *doc;

	assert_non_null(body);
	ts_key(&ctx.fx, "batch", key, sizeof(key));
	post_batch(&r, ctx.fx.users[TS_KIM_MEMBER].token, key, "application/x-ndjson", body);
	if (r.status != 200)
		fail_msg("batch: %ld %s", r.status, r.body ? r.body : "");
	doc = json_loads(r.body, 0, NULL);
	assert_non_null(doc);
	assert_int_equal(json_integer_value(json_object_get(doc, "accepted")), 2);
	assert_int_equal(json_integer_value(json_object_get(doc, "rejected")), 4);
	check_results(json_object_get(doc, "results"), ex, 6, ids);
	json_decref(doc);
	ts_response_release(&r);
	assert_int_equal(rows_for_tag(ctx.fx.run), 2);

	/* The same batch again: the same ids, nothing new. */
	post_batch(&r, ctx.fx.users[TS_KIM_MEMBER].token, key, "application/x-ndjson", body);
	assert_int_equal(r.status, 200);
	doc = json_loads(r.body, 0, NULL);
	check_results(json_object_get(doc, "results"), ex, 6, ids2);
	assert_string_equal(ids[0], ids2[0]);
	assert_string_equal(ids[3], ids2[3]);
	json_decref(doc);
	ts_response_release(&r);
	assert_int_equal(rows_for_tag(ctx.fx.run), 2);
	free(body);
}

static void test_too_many_items(void **state)
{
	char body[2048] = "";
	struct ts_response r;

	for (int i = 0; i < 7; i++) {
		char line[256];
		snprintf(line, sizeof(line),
			 "{\"type\":\"berita\",\"title\":\"T%d\",\"body\":\"x\",\"region_code\":\"%s\"}\n",
			 i, ctx.fx.desa);
		strcat(body, line);
	}
	post_batch(&r, ctx.fx.users[TS_KIM_ADMIN].token, NULL, "application/x-ndjson", body);
	assert_int_equal(r.status, 413);
	assert_string_equal(r.error_code, "too_many_items");
	ts_response_release(&r);
}

static void test_wrong_content_type(void **state)
{
	struct ts_response r;
	char body[256];

	snprintf(body, sizeof(body),
		 "{\"type\":\"berita\",\"title\":\"x\",\"body\":\"x\",\"region_code\":\"%s\"}\n",
		 ctx.fx.desa);
	post_batch(&r, ctx.fx.users[TS_KIM_ADMIN].token, NULL, "application/json", body);
	assert_int_equal(r.status, 415);
	assert_string_equal(r.error_code, "unsupported_media_type");
	ts_response_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mixed_batch_and_replay),
		cmocka_unit_test(test_too_many_items),
		cmocka_unit_test(test_wrong_content_type),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
