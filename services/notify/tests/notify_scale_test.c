/*
 * services/notify/tests/notify_scale_test.c - matching against 100,000
 * subscriptions on the real PostgreSQL: the planner must probe the match
 * index (EXPLAIN of the service's own statement, notify_match_sql), never
 * scan the subscriptions; and a measurement of events matched per second.
 * The generated subscriptions live in a realm of their own, deleted at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "notify.h"
#include "nt_scale.h"
#include "ts/ts.h"
#include "util/ids.h"

#define NSUBS NT_SCALE_NSUBS

static struct ts_env env;
static PGconn *pg;
static struct ts_fixture fx;
static char realm[40];

static int setup(void **state)
{
	char err[512];
	PGresult *r;

	(void)state;
	if (ts_env_load(&env, err, sizeof(err)) != 0 ||
	    !(pg = ts_pg_connect(env.pg_url, err, sizeof(err))) ||
	    ts_fixture_create(&fx, pg, err, sizeof(err)) != 0) {
		fprintf(stderr, "notify scale: %s\n", err);
		return -1;
	}
	snprintf(realm, sizeof(realm), "scale-%s", fx.run);
	r = ts_pg_query(pg, NT_SCALE_SUBS_SQL, 2,
			(const char *const[]){realm, fx.users[TS_CITIZEN].id}, err, sizeof(err));
	if (!r) {
		fprintf(stderr, "notify scale: generating subscriptions: %s\n", err);
		return -1;
	}
	PQclear(r);
	PQclear(PQexec(pg, "ANALYZE simpul.notify_sub_match"));
	PQclear(PQexec(pg, "ANALYZE simpul.notify_subscriptions"));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (pg) {
		const char *p[] = {realm};
		PQclear(PQexecParams(pg, "DELETE FROM simpul.notify_subscriptions WHERE realm = $1", 1,
				     NULL, p, NULL, NULL, 0));
		PQfinish(pg);
	}
	return 0;
}

/* The ten parameters of notify_match_sql for a berita item in region. */
static void params(const char *region, const char *event_id, char scopes[256],
		   const char *v[11])
{
	assert_int_equal(notify_scopes_literal(region, NULL, 0, scopes, 256), 0);
	v[0] = realm;
	v[1] = "content.published";
	v[2] = scopes;
	v[3] = "berita";
	v[4] = "judul berita";
	v[5] = event_id;
	v[6] = "{\"type\":\"content.published\"}";
	v[7] = region;
	v[8] = "2026-11-23 10:00:00+00";
	v[9] = "300000";
	v[10] = "";
}

static void test_explain_uses_index(void **state)
{
	char scopes[256], ev[40], sql[4096];
	const char *v[11];
	PGresult *r;
	size_t len = 0;
	char plan[8192] = "";

	(void)state;
	util_uuid_v4(ev);
	params("35.07.12.2001", ev, scopes, v);
	snprintf(sql, sizeof(sql), "EXPLAIN %s", notify_match_sql);
	r = PQexecParams(pg, sql, 11, NULL, v, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	for (int i = 0; i < PQntuples(r); i++)
		len += (size_t)snprintf(plan + len, len < sizeof(plan) ? sizeof(plan) - len : 0,
					"%s\n", PQgetvalue(r, i, 0));
	PQclear(r);
	fprintf(stderr, "%s", plan);
	assert_non_null(strstr(plan, "notify_sub_match_pkey"));
	assert_null(strstr(plan, "Seq Scan on notify_sub_match"));
	assert_null(strstr(plan, "Seq Scan on notify_subscriptions"));
}

/* Runs sql n times over the regions; returns events per second. */
static double rate(const char *sql, int n, long long *matched)
{
	static const char *const regions[] = {"35.07.12.2001", "32.01.05.2003", "73.10.02.2010",
					      "11.01.01.2001", "94.20.03.2005"};
	char scopes[256], ev[40];
	const char *v[11];
	int64_t t0 = ts_now_ms();

	*matched = 0;
	for (int i = 0; i < n; i++) {
		PGresult *r;

		util_uuid_v4(ev);
		params(regions[i % 5], ev, scopes, v);
		r = PQexecParams(pg, sql, 11, NULL, v, NULL, NULL, 0);
		assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
		*matched += atoll(PQgetvalue(r, 0, 0));
		PQclear(r);
	}
	return n / ((double)(ts_now_ms() - t0 + 1) / 1000.0);
}

static void test_match_rate(void **state)
{
	long long matched, inserted, scanned;
	double match_rate, insert_rate, seq_rate;

	(void)state;
	match_rate = rate(notify_match_count_sql, 500, &matched);
	/* The same statement with index scans disabled: what a scan would cost. */
	PQclear(PQexec(pg, "SET enable_indexscan = off"));
	PQclear(PQexec(pg, "SET enable_bitmapscan = off"));
	PQclear(PQexec(pg, "SET enable_indexonlyscan = off"));
	seq_rate = rate(notify_match_count_sql, 20, &scanned);
	PQclear(PQexec(pg, "RESET ALL"));
	PQclear(PQexec(pg, "SET search_path = ''"));
	PQclear(PQexec(pg, "BEGIN"));
	insert_rate = rate(notify_match_sql, 100, &inserted);
	PQclear(PQexec(pg, "ROLLBACK"));
	fprintf(stderr,
		"match against " NSUBS " subscriptions: %.0f events/s with the index, %.1f events/s "
		"scanning (%.1f subscribers per event); match + insert deliveries: %.0f events/s "
		"(%.0f deliveries/s)\n",
		match_rate, seq_rate, (double)matched / 500, insert_rate,
		insert_rate * (double)inserted / 100);
	assert_true(matched > 0);
	assert_int_equal(matched, scanned * 25); /* same answers: 500 vs 20 events, 5 regions */
	assert_int_equal(matched, inserted * 5);
	/* Measured under the same load, so robust on a busy machine. */
	assert_true(match_rate > 3 * seq_rate);
}

/* The plan text of EXPLAIN sql with n parameters. */
static void explain(const char *sql, int n, const char *const *v, char *plan, size_t cap)
{
	char q[8192];
	size_t len = 0;
	PGresult *r;

	snprintf(q, sizeof(q), "EXPLAIN %s", sql);
	r = PQexecParams(pg, q, n, NULL, v, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	plan[0] = '\0';
	for (int i = 0; i < PQntuples(r); i++)
		len += (size_t)snprintf(plan + len, len < cap ? cap - len : 0, "%s\n",
					PQgetvalue(r, i, 0));
	PQclear(r);
}

/*
 * The consumer's batch statement (notify_match_batch_sql): the same index
 * probe for every event of the batch, and the same deliveries as one
 * statement per event; a replayed event inside the batch counts once.
 * Inserted in a transaction that is rolled back.
 */
static void test_batch_statement(void **state)
{
	static const char *const regions[] = {"35.07.12.2001", "32.01.05.2003", "73.10.02.2010"};
	struct notify_match_batch b;
	struct notify_event ev = {.kind = "content.published", .content_type = "berita",
				  .text = "judul berita", .payload = "{}"};
	char ids[3][40], err[256], scopes[256], plan[8192];
	const char *v[11];
	long long single = 0, batched = 0;
	PGresult *r;

	(void)state;
	notify_match_batch_init(&b);
	for (int i = 0; i < 4; i++) { /* the 4th is a replay of the 1st */
		if (i < 3)
			util_uuid_v4(ids[i]);
		ev.event_id = ids[i % 3];
		ev.region = regions[i % 3];
		assert_int_equal(notify_match_batch_add(&b, &ev, err, sizeof(err)), 0);
	}
	assert_int_equal(b.n, 4);
	for (int i = 0; i < NOTIFY_MATCH_BATCH_COLS; i++)
		assert_int_equal(util_buf_append_str(&b.v[i], "}"), 0);
	{
		const char *bv[11] = {realm, b.v[0].data, b.v[1].data, b.v[2].data, b.v[3].data,
				      b.v[4].data, b.v[5].data, b.v[6].data,
				      "2026-11-23 10:00:00+00", "300000", b.v[7].data};
		explain(notify_match_batch_sql, 11, bv, plan, sizeof(plan));
		fprintf(stderr, "%s", plan);
		assert_non_null(strstr(plan, "notify_sub_match_pkey"));
		assert_null(strstr(plan, "Seq Scan on notify_sub_match"));
		assert_null(strstr(plan, "Seq Scan on notify_subscriptions"));
		PQclear(PQexec(pg, "BEGIN"));
		r = PQexecParams(pg, notify_match_batch_sql, 11, NULL, bv, NULL, NULL, 0);
		assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
		for (int i = 0; i < PQntuples(r); i++)
			batched += atoll(PQgetvalue(r, i, 1));
		PQclear(r);
		PQclear(PQexec(pg, "ROLLBACK"));
	}
	for (int i = 0; i < 3; i++) {
		params(regions[i], ids[i], scopes, v);
		r = PQexecParams(pg, notify_match_count_sql, 11, NULL, v, NULL, NULL, 0);
		assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
		single += atoll(PQgetvalue(r, 0, 0));
		PQclear(r);
	}
	notify_match_batch_release(&b);
	fprintf(stderr, "batch of 4 events (one replayed): %lld deliveries, one by one: %lld\n",
		batched, single);
	assert_true(single > 0);
	assert_int_equal(batched, single);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_explain_uses_index),
		cmocka_unit_test(test_match_rate),
		cmocka_unit_test(test_batch_statement),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
