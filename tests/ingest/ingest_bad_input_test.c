/*
 * ingest_bad_input_test.c - every kind of bad request against a real
 * simpul-ingest: exact status, error code and field for 400, 401, 403, 413,
 * 415, 422 and 429 (aspirasi rate limit with Retry-After), the 200-character
 * boundary accepted, and nothing written for any rejected request. The
 * service runs with a 64 KiB body cap and a tiny aspirasi bucket.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ts/ts.h"

static struct ts_ctx ctx;

static int setup(void **state)
{
	static const char *const env[] = {"SIMPUL_INGEST_MAX_BODY=64k",
					  "SIMPUL_ASPIRASI_BURST=3",
					  "SIMPUL_ASPIRASI_RATE_PER_MIN=1", NULL};

	return ts_ctx_setup(&ctx, env) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	return ts_ctx_teardown(&ctx) == 0 ? 0 : -1;
}

enum tok { T_NONE = -1, T_RAW = -2 };

struct bad_case {
	const char *name;
	int who;           /* enum ts_role, T_NONE, or T_RAW (auth below) */
	const char *auth;  /* raw Authorization value for T_RAW */
	const char *ctype; /* NULL: none sent */
	const char *body;  /* %D desa, %K kim id, %O other kim id; NULL: built below */
	long status;
	const char *code, *field;
};

/* Expands %D %K %O %R (run tag) in tmpl into a malloc'd string. */
static char *expand(const char *tmpl)
{
	size_t cap = strlen(tmpl) * 2 + 256, n = 0;
	char *out = malloc(cap);

	for (const char *p = tmpl; *p && n + 64 < cap; p++) {
		const char *v = NULL;
		if (p[0] == '%' && p[1] == 'D')
			v = ctx.fx.desa;
		else if (p[0] == '%' && p[1] == 'K')
			v = ctx.fx.kim_id;
		else if (p[0] == '%' && p[1] == 'O')
			v = ctx.fx.other_kim_id;
		else if (p[0] == '%' && p[1] == 'R')
			v = ctx.fx.run;
		if (v) {
			n += (size_t)snprintf(out + n, cap - n, "%s", v);
			p++;
		} else {
			out[n++] = *p;
		}
	}
	out[n] = '\0';
	return out;
}

#define OK_BODY "{\"type\":\"berita\",\"title\":\"x %R\",\"body\":\"y\",\"region_code\":\"%D\"}"
#define J "application/json"

static const struct bad_case cases[] = {
	{"no token", T_NONE, NULL, J, OK_BODY, 401, "unauthorized", NULL},
	{"basic auth", T_RAW, "Basic dXNlcjpwYXNz", J, OK_BODY, 401, "unauthorized", NULL},
	{"malformed token", T_RAW, "Bearer abc", J, OK_BODY, 401, "unauthorized", NULL},
	{"unknown token", T_RAW, "Bearer simpul_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", J,
	 OK_BODY, 401, "unauthorized", NULL},
	{"revoked token", TS_REVOKED, NULL, J, OK_BODY, 401, "unauthorized", NULL},
	{"citizen", TS_CITIZEN, NULL, J, OK_BODY, 403, "forbidden", NULL},
	{"moderator", TS_MODERATOR, NULL, J, OK_BODY, 403, "forbidden", NULL},
	{"analyst", TS_ANALYST, NULL, J, OK_BODY, 403, "forbidden", NULL},
	{"other kim", TS_KIM_MEMBER, NULL, J,
	 "{\"type\":\"berita\",\"title\":\"x\",\"body\":\"y\",\"region_code\":\"%D\",\"kim_id\":\"%O\"}",
	 403, "forbidden", "kim_id"},
	{"member diseminasi", TS_KIM_MEMBER, NULL, J,
	 "{\"type\":\"diseminasi\",\"title\":\"x\",\"body\":\"y\",\"region_code\":\"%D\"}", 403,
	 "forbidden", "type"},
	{"text/plain", TS_KIM_ADMIN, NULL, "text/plain", OK_BODY, 415, "unsupported_media_type",
	 NULL},
	{"no content type", TS_KIM_ADMIN, NULL, NULL, OK_BODY, 415, "unsupported_media_type", NULL},
	{"malformed json", TS_KIM_ADMIN, NULL, J, "{\"type\":", 400, "malformed_json", NULL},
	{"json array", TS_KIM_ADMIN, NULL, J, "[1,2]", 400, "malformed_json", NULL},
	{"trailing garbage", TS_KIM_ADMIN, NULL, J, OK_BODY " x", 400, "malformed_json", NULL},
	{"invalid utf-8", TS_KIM_ADMIN, NULL, J,
	 "{\"type\":\"berita\",\"title\":\"\xc3\x28\",\"body\":\"y\",\"region_code\":\"%D\"}", 400,
	 "invalid_utf8", NULL},
	{"nul escape", TS_KIM_ADMIN, NULL, J,
	 "{\"type\":\"berita\",\"title\":\"a\\u0000b\",\"body\":\"y\",\"region_code\":\"%D\"}", 400,
	 "malformed_json", NULL},
	{"unknown field", TS_KIM_ADMIN, NULL, J,
	 "{\"type\":\"berita\",\"title\":\"x\",\"body\":\"y\",\"region_code\":\"%D\",\"colour\":1}",
	 400, "unknown_field", "colour"},
	{"missing type", TS_KIM_ADMIN, NULL, J,
	 "{\"title\":\"x\",\"body\":\"y\",\"region_code\":\"%D\"}", 422, "missing_field", "type"},
	{"missing title", TS_KIM_ADMIN, NULL, J,
	 "{\"type\":\"berita\",\"body\":\"y\",\"region_code\":\"%D\"}", 422, "missing_field",
	 "title"},
	{"missing body", TS_KIM_ADMIN, NULL, J,
	 "{\"type\":\"berita\",\"title\":\"x\",\"region_code\":\"%D\"}", 422, "missing_field",
	 "body"},
	{"missing region", TS_KIM_ADMIN, NULL, J, "{\"type\":\"berita\",\"title\":\"x\",\"body\":\"y\"}",
	 422, "missing_field", "region_code"},
	{"title not a string", TS_KIM_ADMIN, NULL, J,
	 "{\"type\":\"berita\",\"title\":5,\"body\":\"y\",\"region_code\":\"%D\"}", 422,
	 "invalid_field", "title"},
	{"title control char", TS_KIM_ADMIN, NULL, J,
	 "{\"type\":\"berita\",\"title\":\"a\\u0007b\",\"body\":\"y\",\"region_code\":\"%D\"}", 422,
	 "invalid_field", "title"},
	{"unknown type", TS_KIM_ADMIN, NULL, J,
	 "{\"type\":\"gosip\",\"title\":\"x\",\"body\":\"y\",\"region_code\":\"%D\"}", 422,
	 "unknown_type", "type"},
	{"region syntax", TS_KIM_ADMIN, NULL, J,
	 "{\"type\":\"berita\",\"title\":\"x\",\"body\":\"y\",\"region_code\":\"35.7\"}", 422,
	 "invalid_field", "region_code"},
	{"unknown region", TS_KIM_ADMIN, NULL, J,
	 "{\"type\":\"berita\",\"title\":\"x\",\"body\":\"y\",\"region_code\":\"35.07.12.9999\"}",
	 422, "unknown_region", "region_code"},
	{"unknown kim", TS_ADMIN, NULL, J,
	 "{\"type\":\"berita\",\"title\":\"x\",\"body\":\"y\",\"region_code\":\"%D\","
	 "\"kim_id\":\"00000000-0000-4000-8000-000000000001\"}",
	 422, "unknown_kim", "kim_id"},
	{"kim not a uuid", TS_ADMIN, NULL, J,
	 "{\"type\":\"berita\",\"title\":\"x\",\"body\":\"y\",\"region_code\":\"%D\",\"kim_id\":\"k1\"}",
	 422, "invalid_field", "kim_id"},
	{"media scheme", TS_KIM_ADMIN, NULL, J,
	 "{\"type\":\"berita\",\"title\":\"x\",\"body\":\"y\",\"region_code\":\"%D\","
	 "\"media_urls\":[\"ftp://x/y\"]}",
	 422, "invalid_field", "media_urls[0]"},
	{"tags not array", TS_KIM_ADMIN, NULL, J,
	 "{\"type\":\"berita\",\"title\":\"x\",\"body\":\"y\",\"region_code\":\"%D\",\"tags\":\"a\"}",
	 422, "invalid_field", "tags"},
};

static void run_case(const struct bad_case *c)
{
	char auth[256];
	const char *hdr[] = {auth, NULL};
	struct ts_response r;
	char *body = expand(c->body);

	if (c->who == T_RAW)
		snprintf(auth, sizeof(auth), "Authorization: %s", c->auth);
	else if (c->who >= 0)
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", ctx.fx.users[c->who].token);
	ts_http(&r, "POST", ts_ctx_url(&ctx, "/v1/content"), c->who == T_NONE ? NULL : hdr, c->ctype,
		body, strlen(body));
	if (r.status != c->status || strcmp(r.error_code, c->code) != 0 ||
	    (c->field && strcmp(r.error_field, c->field) != 0))
		fail_msg("case '%s': want %ld %s field=%s, got %ld: %s", c->name, c->status, c->code,
			 c->field ? c->field : "-", r.status, r.body ? r.body : "");
	ts_response_release(&r);
	free(body);
}

static long long fixture_rows(void)
{
	const char *p[] = {ctx.fx.kim_id, ctx.fx.users[TS_ADMIN].id};

	return ts_pg_count(ctx.pg,
			   "SELECT count(*) FROM simpul.content WHERE kim_id = $1::uuid"
			   " OR author_id = $2::uuid",
			   2, p);
}

static void test_table(void **state)
{
	long long before = fixture_rows();

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
	assert_int_equal(fixture_rows(), before);
}

/* A JSON body with a title of n copies of the 3-byte character "ā" +
 * body of m ASCII bytes. */
static char *sized_body(size_t title_chars, size_t body_bytes)
{
	size_t cap = title_chars * 3 + body_bytes + 256, n;
	char *s = malloc(cap);

	n = (size_t)snprintf(s, cap, "{\"type\":\"berita\",\"region_code\":\"%s\",\"title\":\"",
			     ctx.fx.desa);
	for (size_t i = 0; i < title_chars; i++) {
		memcpy(s + n, "\xe1\xba\xa1", 3); /* U+1EA1, 3 bytes, one character */
		n += 3;
	}
	n += (size_t)snprintf(s + n, cap - n, "\",\"body\":\"");
	memset(s + n, 'b', body_bytes);
	n += body_bytes;
	snprintf(s + n, cap - n, "\"}");
	return s;
}

static void expect_post(const char *json, long status, const char *code, const char *field)
{
	struct ts_response r;

	ts_http_post_json(&r, ts_ctx_url(&ctx, "/v1/content"), ctx.fx.users[TS_KIM_ADMIN].token,
			  NULL, json);
	if (r.status != status || (code && strcmp(r.error_code, code) != 0) ||
	    (field && strcmp(r.error_field, field) != 0))
		fail_msg("want %ld %s %s, got %ld: %.300s", status, code ? code : "-",
			 field ? field : "-", r.status, r.body ? r.body : "");
	ts_response_release(&r);
}

/* Lengths count characters, not bytes; the cap is exact. */
static void test_lengths(void **state)
{
	char *s;

	s = sized_body(200, 10); /* 600 bytes, 200 characters: accepted */
	expect_post(s, 202, NULL, NULL);
	free(s);
	s = sized_body(201, 10);
	expect_post(s, 422, "too_long", "title");
	free(s);
	s = sized_body(5, 50001);
	expect_post(s, 422, "too_long", "body");
	free(s);
	s = sized_body(5, 100 * 1024); /* over the 64 KiB body cap */
	expect_post(s, 413, NULL, NULL);
	free(s);
}

static void test_too_many_tags_and_idem_key(void **state)
{
	char tags[1024] = "", body[2048], longkey[300];
	struct ts_response r;

	for (int i = 0; i < 21; i++)
		snprintf(tags + strlen(tags), sizeof(tags) - strlen(tags), "%s\"t%d\"", i ? "," : "",
			 i);
	snprintf(body, sizeof(body),
		 "{\"type\":\"berita\",\"title\":\"x\",\"body\":\"y\",\"region_code\":\"%s\","
		 "\"tags\":[%s]}",
		 ctx.fx.desa, tags);
	expect_post(body, 422, "too_long", "tags");
	memset(longkey, 'k', 256);
	longkey[256] = '\0';
	snprintf(body, sizeof(body),
		 "{\"type\":\"berita\",\"title\":\"x\",\"body\":\"y\",\"region_code\":\"%s\"}",
		 ctx.fx.desa);
	ts_http_post_json(&r, ts_ctx_url(&ctx, "/v1/content"), ctx.fx.users[TS_KIM_ADMIN].token,
			  longkey, body);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.error_code, "invalid_field");
	assert_string_equal(r.error_field, "Idempotency-Key");
	ts_response_release(&r);
}

/* Aspirasi needs no account; the 4th from one address within the burst of
 * 3 is refused with 429 rate_limited and a Retry-After. */
static void test_aspirasi_rate_limit(void **state)
{
	char body[256], ip[16];
	struct ts_response r;

	ts_random_loopback(ip);
	ts_http_source_addr(ip); /* a fresh bucket, whatever earlier runs left in redis */
	snprintf(body, sizeof(body), "{\"title\":\"Jalan rusak %s\",\"body\":\"Mohon diperbaiki.\","
		 "\"region_code\":\"%s\"}", ctx.fx.run, ctx.fx.desa);
	for (int i = 0; i < 3; i++) {
		ts_http_post_json(&r, ts_ctx_url(&ctx, "/v1/aspirasi"), NULL, NULL, body);
		if (r.status != 202)
			fail_msg("aspirasi %d: %ld %s", i, r.status, r.body ? r.body : "");
		ts_response_release(&r);
	}
	ts_http_post_json(&r, ts_ctx_url(&ctx, "/v1/aspirasi"), NULL, NULL, body);
	assert_int_equal(r.status, 429);
	assert_string_equal(r.error_code, "rate_limited");
	assert_true(atoi(r.retry_after) >= 1);
	ts_response_release(&r);
	ts_http_source_addr(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_too_many_tags_and_idem_key),
		cmocka_unit_test(test_aspirasi_rate_limit),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
