/*
 * ingest_intake_test.c - the kim.intake.v1 consumer against the real stack:
 * a valid IntakeSubmission becomes a row (source intake) and an event; the
 * same submission twice is one row; undecodable bytes, a bad token and a
 * failing validation land on kim.intake.v1.dlq with the reason in
 * simpul-error and the source coordinates in headers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <simpul/v1/content.pb-c.h>
#include <simpul/v1/intake.pb-c.h>
#include <util/ids.h>

#include "ts/ts.h"

#define INTAKE "kim.intake.v1"
#define DLQ "kim.intake.v1.dlq"
#define SUBMITTED "kim.content.submitted.v1"
#define WAIT_MS 45000 /* a fresh consumer group member needs a rebalance first */

static struct ts_ctx ctx;

static int setup(void **state)
{
	static const char *const env[] = {"SIMPUL_INGEST_INTAKE=on", NULL};

	return ts_ctx_setup(&ctx, env) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	return ts_ctx_teardown(&ctx) == 0 ? 0 : -1;
}

/* Packs an IntakeSubmission into a malloc'd buffer. */
static void *pack(const char *token, const char *key, const char *title, const char *region,
		  int type, size_t *len)
{
	Simpul__V1__IntakeSubmission m = SIMPUL__V1__INTAKE_SUBMISSION__INIT;
	Simpul__V1__EventMeta meta = SIMPUL__V1__EVENT_META__INIT;
	char id[UTIL_UUID_STRLEN + 1], trace[UTIL_TRACE_STRLEN + 1];
	char *tags[] = {"lapor"};
	void *buf;

	util_uuid_v4(id);
	util_trace_id(trace);
	meta.id = id;
	meta.type = "intake.submission";
	meta.occurred_at_ms = util_now_ms();
	meta.producer = "lapor@test";
	meta.trace_id = trace;
	m.meta = &meta;
	m.integration_token = (char *)token;
	m.idempotency_key = (char *)key;
	m.type = (Simpul__V1__ContentType)type;
	m.title = (char *)title;
	m.body = "Laporan warga dari sistem lain.";
	m.region_code = (char *)region;
	m.kim_id = "";
	m.n_tags = 1;
	m.tags = tags;
	*len = simpul__v1__intake_submission__get_packed_size(&m);
	buf = malloc(*len ? *len : 1);
	simpul__v1__intake_submission__pack(&m, buf);
	return buf;
}

static void produce(const char *key, const void *v, size_t len)
{
	char err[512];

	if (ts_kafka_produce(ctx.env.kafka_brokers, INTAKE, key, v, len, err, sizeof(err)) < 0)
		fail_msg("%s", err);
}

static long long rows_titled(const char *title)
{
	const char *p[] = {title};

	return ts_pg_count(ctx.pg, "SELECT count(*) FROM simpul.content WHERE title = $1", 1, p);
}

/* Waits until the title has `want` rows; returns the final count. */
static long long wait_rows(const char *title, long long want, int ms)
{
	int64_t end = ts_now_ms() + ms;
	long long n;

	while ((n = rows_titled(title)) < want && ts_now_ms() < end)
		ts_sleep_ms(200);
	return n;
}

static void test_valid_and_duplicate(void **state)
{
	char key[128], title[160], err[512], mkey[160];
	size_t len;
	void *v;
	struct ts_reader *ev = ts_reader_new(ctx.env.kafka_brokers, SUBMITTED, err, sizeof(err));
	const char *p[1];
	PGresult *res;

	if (!ev)
		fail_msg("%s", err);
	ts_key(&ctx.fx, "intake", key, sizeof(key));
	snprintf(title, sizeof(title), "Intake %s", key);
	snprintf(mkey, sizeof(mkey), "m-%s", key);
	v = pack(ctx.fx.users[TS_INTEGRATION].token, key, title, ctx.fx.desa,
		 SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_USULAN, &len);
	produce(mkey, v, len);
	produce(mkey, v, len); /* the same submission again: still one row */
	assert_int_equal(wait_rows(title, 1, WAIT_MS), 1);
	p[0] = title;
	res = ts_pg_query(ctx.pg,
			  "SELECT id, source, type, author_id FROM simpul.content WHERE title = $1", 1,
			  p, err, sizeof(err));
	assert_non_null(res);
	assert_string_equal(PQgetvalue(res, 0, 1), "intake");
	assert_string_equal(PQgetvalue(res, 0, 2), "usulan");
	assert_string_equal(PQgetvalue(res, 0, 3), ctx.fx.users[TS_INTEGRATION].id);
	{
		const char *keys[] = {PQgetvalue(res, 0, 0)};
		const struct ts_kmsg *m;
		Simpul__V1__ContentSubmitted *cs;
		assert_int_equal(ts_reader_wait_keys(ev, keys, 1, 30000), 0);
		m = ts_reader_find_key(ev, keys[0]);
		cs = simpul__v1__content_submitted__unpack(NULL, m->value_len, m->value);
		assert_non_null(cs);
		assert_int_equal(cs->content->source,
				 SIMPUL__V1__CONTENT_SOURCE__CONTENT_SOURCE_INTAKE);
		assert_string_equal(cs->content->title, title);
		simpul__v1__content_submitted__free_unpacked(cs, NULL);
	}
	/* Give the duplicate time to be processed, then count again. */
	ts_sleep_ms(2000);
	assert_int_equal(rows_titled(title), 1);
	PQclear(res);
	free(v);
	ts_reader_free(ev);
}

static void expect_dlq(struct ts_reader *dlq, const char *mkey, const char *reason)
{
	const char *keys[] = {mkey};
	const struct ts_kmsg *m;
	const char *e;

	if (ts_reader_wait_keys(dlq, keys, 1, WAIT_MS) != 0)
		fail_msg("no dead letter keyed '%s' (want reason '%s')", mkey, reason);
	m = ts_reader_find_key(dlq, mkey);
	e = ts_kmsg_header(m, "simpul-error");
	assert_non_null(e);
	if (!strstr(e, reason))
		fail_msg("dead letter '%s': simpul-error '%s' lacks '%s'", mkey, e, reason);
	assert_non_null(ts_kmsg_header(m, "simpul-source-topic"));
	assert_string_equal(ts_kmsg_header(m, "simpul-source-topic"), INTAKE);
	assert_non_null(ts_kmsg_header(m, "simpul-source-partition"));
	assert_non_null(ts_kmsg_header(m, "simpul-source-offset"));
}

static void test_invalid_to_dlq(void **state)
{
	char err[512], k1[128], k2[128], k3[128], title[160];
	size_t len;
	void *v;
	struct ts_reader *dlq = ts_reader_new(ctx.env.kafka_brokers, DLQ, err, sizeof(err));

	if (!dlq)
		fail_msg("%s", err);
	ts_key(&ctx.fx, "garbage", k1, sizeof(k1));
	produce(k1, "\xff\xff\xff\x07garbage", 11);
	ts_key(&ctx.fx, "badtoken", k2, sizeof(k2));
	snprintf(title, sizeof(title), "Bad token %s", k2);
	v = pack("simpul_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB", k2, title, ctx.fx.desa,
		 SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_BERITA, &len);
	produce(k2, v, len);
	free(v);
	ts_key(&ctx.fx, "badregion", k3, sizeof(k3));
	v = pack(ctx.fx.users[TS_INTEGRATION].token, k3, "Wilayah salah", "35.07.12.9999",
		 SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_BERITA, &len);
	produce(k3, v, len);
	free(v);
	expect_dlq(dlq, k1, "malformed");
	expect_dlq(dlq, k2, "unauthorized");
	expect_dlq(dlq, k3, "unknown_region");
	assert_int_equal(rows_titled(title), 0);
	ts_reader_free(dlq);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_and_duplicate),
		cmocka_unit_test(test_invalid_to_dlq),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
