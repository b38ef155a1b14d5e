/*
 * tests/e2e/e2e_pipeline_test.c - one submission followed through the whole
 * pipeline, every hop checked: ingest (202, row in PostgreSQL) -> moderate
 * (decision on kim.content.moderated.v1 and in the database) -> published
 * -> search (GET /v1/search, kim.content.indexed.v1) -> notify (a signed
 * webhook to a loopback receiver) -> report (counted once: the KIM activity
 * JSON and the fact row). A second item goes to review and is approved by
 * a moderator through the moderate HTTP API, then follows the same road.
 *
 * Runs against the dev stack (PostgreSQL, Redis, the single broker) with its
 * own five service processes from this build on ports
 * SIMPUL_E2E_PORT_BASE..+4 (default 18500) and consumer groups e2e-<svc>.
 * Usage: e2e_pipeline_test INGEST MODERATE SEARCH NOTIFY REPORT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>
#include <simpul/v1/moderation.pb-c.h>

#include "events/codec.h"
#include "events/topics.h"
#include "nt.h"
#include "pipeline.h"
#include "ts/ts.h"
#include "webhook_sig.h"

#define HOP_MS 120000 /* per hop; generous: the shared topics carry other tests' bursts */

static const char *bins[PL_NSVC];
static struct ts_env env;
static PGconn *pg;
static struct ts_fixture fx;
static struct pl pl;
static unsigned recv_port;
static char hook_prefix[64], secret[128];
static struct ts_reader *moderated, *published, *indexed;

/* ---- helpers ---- */

static long long count1(const char *sql, const char *a)
{
	const char *p[] = {a};

	return ts_pg_count(pg, sql, 1, p);
}

/* Polls a one-parameter count until it equals want or ms pass; the last value. */
static long long wait_count(const char *sql, const char *a, long long want, int ms)
{
	int64_t end = ts_now_ms() + ms;
	long long n;

	while ((n = count1(sql, a)) != want && ts_now_ms() < end)
		ts_sleep_ms(200);
	return n;
}

/* Every ContentModerated of key seen so far, in order, into out[cap]. */
static size_t decisions_of(const char *key, Simpul__V1__ContentModerated **out, size_t cap)
{
	const struct ts_kmsg *m;
	size_t n = 0, nm;
	char err[256];

	m = ts_reader_msgs(moderated, &nm);
	for (size_t i = 0; i < nm && n < cap; i++) {
		if (strcmp(m[i].key, key))
			continue;
		out[n] = (Simpul__V1__ContentModerated *)events_unpack(
			&simpul__v1__content_moderated__descriptor, m[i].value, m[i].value_len, 0,
			err, sizeof(err));
		assert_non_null(out[n]);
		n++;
	}
	return n;
}

static void free_decisions(Simpul__V1__ContentModerated **d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		protobuf_c_message_free_unpacked(&d[i]->base, NULL);
}

/* Waits until key has `want` decisions on the moderated topic; checks the
 * last one is `decision`, decided by `by` ("auto" or a user id). */
static void expect_decision(const char *key, Simpul__V1__Decision decision, const char *by,
			    size_t want)
{
	Simpul__V1__ContentModerated *d[8];
	int64_t end = ts_now_ms() + HOP_MS;
	size_t n;

	while ((n = ts_reader_count_key(moderated, key)) < want && ts_now_ms() < end)
		ts_reader_poll(moderated, 500);
	n = decisions_of(key, d, 8);
	if (n != want)
		fail_msg("content %s: %zu decisions on %s, expected %zu", key, n,
			 EVENTS_TOPIC_CONTENT_MODERATED, want);
	assert_int_equal(d[n - 1]->decision, decision);
	assert_string_equal(d[n - 1]->decided_by, by);
	assert_string_equal(d[n - 1]->kim_id, fx.kim_id);
	free_decisions(d, n);
}

/* Waits until the moderation row of id has the given state. */
static void expect_state(const char *id, const char *state)
{
	const char *p[] = {id, state};
	int64_t end = ts_now_ms() + HOP_MS;
	long long n;

	while ((n = ts_pg_count(pg, "SELECT count(*) FROM simpul.moderation_items WHERE "
				    "item_id = $1::uuid AND state = $2",
				2, p)) != 1 &&
	       ts_now_ms() < end)
		ts_sleep_ms(200);
	if (n != 1)
		fail_msg("content %s: no moderation row in state %s", id, state);
}

/* POSTs one berita as the KIM member; returns its id (202 checked). */
static void submit(const char *title, const char *body, char id[64])
{
	struct ts_response r;
	char url[128], key[96], *json;

	json = ts_json_content("berita", title, body, fx.desa, fx.kim_id);
	assert_non_null(json);
	ts_key(&fx, "e2e", key, sizeof(key));
	pl_url(&pl, PL_INGEST, "/v1/content", url, sizeof(url));
	assert_int_equal(ts_http_post_json(&r, url, fx.users[TS_KIM_MEMBER].token, key, json), 0);
	free(json);
	if (r.status != 202)
		fail_msg("ingest answered %ld: %s", r.status, r.body ? r.body : "");
	assert_true(r.id[0] != '\0');
	snprintf(id, 64, "%s", r.id);
	ts_response_release(&r);
	/* accepted means committed: the row is there already */
	assert_int_equal(count1("SELECT count(*) FROM simpul.content WHERE id = $1::uuid", id), 1);
}

/* The approved item's road after moderation: published, searchable,
 * indexed, one signed webhook, counted once by report. `n_pub` is how many
 * of the KIM's items are published by now. */
static void expect_published_road(const char *id, const char *word, long long n_pub)
{
	const char *keys[] = {id};
	char path[512];
	long st = 0;
	int64_t end;
	json_t *j;
	struct nt_hit hits[16];
	size_t nh, ok200 = 0;
	const char *hook_id = NULL;

	/* moderate: database state and the published event */
	assert_int_equal(wait_count("SELECT count(*) FROM simpul.content WHERE id = $1::uuid "
				    "AND status = 'published'",
				    id, 1, HOP_MS),
			 1);
	assert_int_equal(ts_reader_wait_keys(published, keys, 1, HOP_MS), 0);
	/* search: the HTTP API finds it by a word of its own, and it is announced */
	snprintf(path, sizeof(path), "/v1/search?q=%s&kim=%s", word, fx.kim_id);
	end = ts_now_ms() + HOP_MS;
	for (;;) {
		json_t *hits_j;

		j = pl_json(&pl, PL_SEARCH, "GET", path, NULL, NULL, &st);
		hits_j = json_object_get(j, "hits");
		if (st == 200 && json_array_size(hits_j) == 1 &&
		    !strcmp(json_string_value(json_object_get(json_array_get(hits_j, 0), "id")) ?: "",
			    id)) {
			json_decref(j);
			break;
		}
		json_decref(j);
		if (ts_now_ms() > end)
			fail_msg("GET %s: not found within %d ms (status %ld)", path, HOP_MS, st);
		ts_sleep_ms(300);
	}
	assert_int_equal(ts_reader_wait_keys(indexed, keys, 1, HOP_MS), 0);
	/* notify: exactly one signed delivery of this content */
	end = ts_now_ms() + HOP_MS;
	do {
		ok200 = 0;
		nh = nt_hits(hook_prefix, hits, 16);
		for (size_t i = 0; i < nh && i < 16; i++) {
			json_t *b = json_loadb(hits[i].body, hits[i].body_len, 0, NULL);
			const char *cid = json_string_value(
				json_object_get(json_object_get(b, "data"), "content_id"));

			if (cid && !strcmp(cid, id) && hits[i].status == 200) {
				assert_true(webhook_sig_ok(secret, hits[i].id, hits[i].ts,
							   hits[i].body, hits[i].body_len,
							   hits[i].sig));
				assert_string_equal(
					json_string_value(json_object_get(b, "type")),
					"content.published");
				if (!hook_id || strcmp(hook_id, hits[i].id))
					ok200++;
				hook_id = hits[i].id;
			}
			json_decref(b);
		}
		if (ok200 == 0)
			ts_sleep_ms(300);
	} while (ok200 == 0 && ts_now_ms() < end);
	if (ok200 != 1)
		fail_msg("content %s: %zu distinct webhook deliveries, expected 1", id, ok200);
	/* report: the KIM's activity counts every publication once */
	snprintf(path, sizeof(path), "/v1/reports/kims/%s", fx.kim_id);
	end = ts_now_ms() + HOP_MS;
	for (;;) {
		long long got;

		j = pl_json(&pl, PL_REPORT, "GET", path, fx.users[TS_ADMIN].token, NULL, &st);
		got = json_integer_value(json_object_get(j, "published_30d"));
		json_decref(j);
		if (st == 200 && got == n_pub)
			break;
		if (ts_now_ms() > end)
			fail_msg("GET %s: published_30d %lld, expected %lld (status %ld)", path, got,
				 n_pub, st);
		ts_sleep_ms(300);
	}
	assert_int_equal(wait_count("SELECT count(*) FROM simpul.report_content c JOIN "
				    "simpul.report_state s ON c.gen = s.current_gen WHERE "
				    "c.content_id = $1::uuid AND c.has_submitted AND "
				    "c.decision = 'approved'",
				    id, 1, HOP_MS),
			 1);
}

/* ---- tests ---- */

/* auto-approved: every hop */
static void test_auto_approved(void **state)
{
	char id[64], title[128], body[512], word[32];

	(void)state;
	snprintf(word, sizeof(word), "e2ea%s", fx.run);
	snprintf(title, sizeof(title), "Kerja bakti irigasi %s", word);
	snprintf(body, sizeof(body),
		 "Warga desa membersihkan saluran irigasi dan menanam pohon di tepi jalan "
		 "kampung bersama karang taruna, kode %s.",
		 word);
	submit(title, body, id);
	expect_decision(id, SIMPUL__V1__DECISION__DECISION_APPROVE, "auto", 1);
	expect_state(id, "approved");
	expect_published_road(id, word, 1);
}

/* sent to review, approved by a moderator of the region over HTTP */
static void test_review_then_moderator(void **state)
{
	char id[64], title[128], body[512], word[32], path[160];
	const char *by = fx.users[TS_MODERATOR].id;
	long st;
	json_t *j;

	(void)state;
	snprintf(word, sizeof(word), "e2er%s", fx.run);
	snprintf(title, sizeof(title), "Keluhan jalan %s", word);
	snprintf(body, sizeof(body), "kepala dusun itu goblok dan tolol, kode %s", word);
	submit(title, body, id);
	expect_decision(id, SIMPUL__V1__DECISION__DECISION_REVIEW, "auto", 1);
	expect_state(id, "review");
	/* in the moderator's queue, then decided */
	snprintf(path, sizeof(path), "/v1/moderation/items/%s", id);
	j = pl_json(&pl, PL_MODERATE, "GET", path, fx.users[TS_MODERATOR].token, NULL, &st);
	assert_int_equal(st, 200);
	json_decref(j);
	snprintf(path, sizeof(path), "/v1/moderation/items/%s/decision", id);
	j = pl_json(&pl, PL_MODERATE, "POST", path, fx.users[TS_MODERATOR].token,
		    "{\"decision\":\"approve\",\"note\":\"kutipan warga\"}", &st);
	if (st != 200)
		fail_msg("POST %s: %ld", path, st);
	assert_string_equal(json_string_value(json_object_get(j, "state")), "approved");
	json_decref(j);
	expect_decision(id, SIMPUL__V1__DECISION__DECISION_APPROVE, by, 2);
	assert_int_equal(count1("SELECT count(*) FROM simpul.moderation_items WHERE "
				"item_id = $1::uuid AND state = 'approved' AND decided_by IS NOT NULL",
				id),
			 1);
	expect_published_road(id, word, 2);
}

/* ---- setup ---- */

static int setup(void **state)
{
	char err[2048], port[16], realm[64], skip[32], sub[512], target[128];
	unsigned base = 18500;
	const char *b = getenv("SIMPUL_E2E_PORT_BASE");
	long st;
	json_t *j;

	(void)state;
	if (b && atoi(b) > 0)
		base = (unsigned)atoi(b);
	if (ts_env_load(&env, err, sizeof(err)) != 0) {
		fprintf(stderr, "e2e: the dev stack is not answering: %s\n", err);
		return -1;
	}
	pg = ts_pg_connect(env.pg_url, err, sizeof(err));
	if (!pg || ts_fixture_create(&fx, pg, err, sizeof(err)) != 0) {
		fprintf(stderr, "e2e: fixtures: %s\n", err);
		return -1;
	}
	if (nt_receiver_start(&recv_port) != 0) {
		fprintf(stderr, "e2e: webhook receiver did not start\n");
		return -1;
	}
	snprintf(hook_prefix, sizeof(hook_prefix), "/ok/e2e-%s", fx.run);
	/* Consumer groups of this run only, starting at the topics' ends for
	 * moderate and report (the shared topics hold every other test's
	 * traffic); search reads the small published topic from the start. */
	snprintf(realm, sizeof(realm), "e2e-%s", fx.run);
	if (pl_init(&pl, bins, base, realm, "e2e", err, sizeof(err)) != 0) {
		fprintf(stderr, "e2e: %s\n", err);
		return -1;
	}
	snprintf(skip, sizeof(skip), "%lld", (long long)time(NULL) * 1000 - 60000);
	snprintf(port, sizeof(port), "%u", recv_port);
	if (pl_setenv(&pl, PL_NOTIFY, "SIMPUL_NOTIFY_ALLOW_LOOPBACK", "on") ||
	    pl_setenv(&pl, PL_NOTIFY, "SIMPUL_NOTIFY_REQUIRE_HTTPS", "off") ||
	    pl_setenv(&pl, PL_NOTIFY, "SIMPUL_NOTIFY_REALM", realm) ||
	    pl_setenv(&pl, PL_NOTIFY, "SIMPUL_NOTIFY_SKIP_BEFORE_MS", skip) ||
	    pl_setenv(&pl, PL_MODERATE, "SIMPUL_MODERATE_OFFSET_RESET", "latest") ||
	    pl_setenv(&pl, PL_REPORT, "SIMPUL_REPORT_OFFSET_RESET", "latest") ||
	    pl_setenv(&pl, PL_REPORT, "SIMPUL_REPORT_CACHE_TTL_MS", "0"))
		return -1;
	/* readers first: they start at the topics' ends */
	moderated = ts_reader_new(env.kafka_brokers, EVENTS_TOPIC_CONTENT_MODERATED, err, sizeof(err));
	published = ts_reader_new(env.kafka_brokers, EVENTS_TOPIC_CONTENT_PUBLISHED, err, sizeof(err));
	indexed = ts_reader_new(env.kafka_brokers, EVENTS_TOPIC_CONTENT_INDEXED, err, sizeof(err));
	if (!moderated || !published || !indexed) {
		fprintf(stderr, "e2e: kafka readers: %s\n", err);
		return -1;
	}
	if (pl_start_all(&pl, 60000, err, sizeof(err)) != 0) {
		fprintf(stderr, "e2e: %s\n", err);
		return -1;
	}
	/* "latest" only means something once the partitions are assigned */
	for (int s = PL_MODERATE; s < PL_NSVC; s++)
		if (pl_wait_assigned(&pl, (enum pl_svc)s, 60000) != 0) {
			fprintf(stderr, "e2e: simpul-%s got no partitions in 60 s\n", pl_name(s));
			pl_dump_log(&pl, (enum pl_svc)s, 20);
			return -1;
		}
	/* a webhook subscription for the KIM's publications, in our realm */
	snprintf(target, sizeof(target), "http://127.0.0.1:%s%s", port, hook_prefix);
	snprintf(sub, sizeof(sub),
		 "{\"channel\":\"webhook\",\"target\":\"%s\",\"kinds\":[\"content.published\"],"
		 "\"region_prefix\":\"%s\",\"kim_id\":\"%s\",\"mode\":\"immediate\"}",
		 target, fx.desa, fx.kim_id);
	j = pl_json(&pl, PL_NOTIFY, "POST", "/v1/subscriptions", fx.users[TS_KIM_ADMIN].token, sub,
		    &st);
	if (st != 201 || !json_string_value(json_object_get(j, "secret"))) {
		fprintf(stderr, "e2e: POST /v1/subscriptions answered %ld\n", st);
		json_decref(j);
		return -1;
	}
	snprintf(secret, sizeof(secret), "%s", json_string_value(json_object_get(j, "secret")));
	json_decref(j);
	return 0;
}

static int teardown(void **state)
{
	int bad;

	(void)state;
	bad = pl_stop_all(&pl, 30000);
	nt_receiver_stop();
	ts_reader_free(moderated);
	ts_reader_free(published);
	ts_reader_free(indexed);
	if (pg)
		PQfinish(pg);
	ts_env_release(&env);
	return bad ? -1 : 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auto_approved),
		cmocka_unit_test(test_review_then_moderator),
	};

	if (argc != 1 + PL_NSVC) {
		fprintf(stderr, "usage: %s INGEST MODERATE SEARCH NOTIFY REPORT\n", argv[0]);
		return 2;
	}
	for (int i = 0; i < PL_NSVC; i++)
		bins[i] = argv[1 + i];
	return cmocka_run_group_tests_name("e2e_pipeline", tests, setup, teardown);
}
