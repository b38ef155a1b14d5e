/*
 * services/moderate/tests/integration_test.c - simpul-moderate on the real
 * stack: submitted events -> decisions, stored signals and events (PII
 * masked in publication); replay idempotency; dead-lettering (also of a
 * poison message between two good ones); two
 * moderators racing to claim; 403 outside a moderator's scope; single and
 * bulk decisions; appeal; KIM registration verification; thresholds per
 * region re-read without a restart; the outbox relay (libs/outbox) in
 * /readyz and /metrics, with every row of the run published.
 * argv[1]: the simpul-moderate binary. Fails loudly without the stack.
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
#include <jansson.h>

#include "events/codec.h"
#include "itest_support.h"
#include "util/ids.h"

static const char *bin;
static struct ts_env env;
static PGconn *pg;
static struct ts_fixture fx;
static struct it_service svc;
static struct ts_user mod2, mod_other;      /* 35.07 and 35.08 moderators */
static struct ts_reader *moderated, *published, *feedback, *registry, *dlq;
static char id_dup[40], id_clean[40], id_spam[40], id_rude[40], id_rude2[40], id_rude3[40];
static char url[256];

/* base url + fmt with one %s; fmt is always a literal at the call sites */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static const char *u(const char *fmt, const char *id)
{
	char path[160];

	snprintf(path, sizeof(path), fmt, id);
	snprintf(url, sizeof(url), "%s%s", svc.base_url, path);
	return url;
}
#pragma GCC diagnostic pop

static Simpul__V1__ContentModerated *moderated_for(const char *id, int nth)
{
	size_t n;
	const struct ts_kmsg *m = ts_reader_msgs(moderated, &n);
	char err[128];

	for (size_t i = 0; i < n; i++)
		if (!strcmp(m[i].key, id) && nth-- == 0)
			return (Simpul__V1__ContentModerated *)events_unpack(
				&simpul__v1__content_moderated__descriptor, m[i].value, m[i].value_len,
				0, err, sizeof(err));
	return NULL;
}

static long long count(const char *sql, const char *id)
{
	const char *p[1] = {id};

	return ts_pg_count(pg, sql, 1, p);
}

static void test_pipeline(void **st)
{
	const char *keys[3] = {id_clean, id_spam, id_rude};
	Simpul__V1__ContentModerated *cm;
	const struct ts_kmsg *pm;
	Simpul__V1__ContentPublished *cp;
	char err[128];
	const char *dup_keys[1] = {id_dup};

	(void)st;
	char clean[256];

	/* unique per run: fingerprints of earlier runs stay in Redis for a day */
	snprintf(clean, sizeof(clean),
		 "Warga desa membersihkan saluran irigasi dan menanam pohon di tepi jalan kampung "
		 "%s bersama karang taruna. Info hubungi 0812-3456-7890.",
		 fx.run);
	assert_int_equal(it_submit(&env, id_clean, fx.desa, fx.kim_id, fx.users[TS_KIM_MEMBER].id,
				   "Kerja bakti warga", clean),
			 0);
	assert_int_equal(it_submit(&env, id_spam, fx.desa, fx.kim_id, fx.users[TS_KIM_MEMBER].id,
				   "SLOT GACOR MAXWIN",
				   "daftar slot gacor maxwin bonus new member di https://gacor88.xyz"),
			 0);
	assert_int_equal(it_submit(&env, id_rude, fx.desa2, fx.kim_id, fx.users[TS_KIM_MEMBER].id,
				   "Keluhan jalan", "kepala dusun itu goblok dan tolol"),
			 0);
	assert_int_equal(ts_reader_wait_keys(moderated, keys, 3, 20000), 0);
	cm = moderated_for(id_clean, 0);
	assert_non_null(cm);
	assert_int_equal(cm->decision, SIMPUL__V1__DECISION__DECISION_APPROVE);
	assert_string_equal(cm->decided_by, "auto");
	protobuf_c_message_free_unpacked(&cm->base, NULL);
	cm = moderated_for(id_spam, 0);
	assert_int_equal(cm->decision, SIMPUL__V1__DECISION__DECISION_REJECT);
	assert_true(cm->n_signals >= 2);
	protobuf_c_message_free_unpacked(&cm->base, NULL);
	cm = moderated_for(id_rude, 0);
	assert_int_equal(cm->decision, SIMPUL__V1__DECISION__DECISION_REVIEW);
	protobuf_c_message_free_unpacked(&cm->base, NULL);
	/* published, with the phone number masked */
	assert_int_equal(ts_reader_wait_keys(published, keys, 1, 10000), 0);
	pm = ts_reader_find_key(published, id_clean);
	cp = (Simpul__V1__ContentPublished *)events_unpack(
		&simpul__v1__content_published__descriptor, pm->value, pm->value_len, 0, err,
		sizeof(err));
	assert_non_null(cp);
	assert_non_null(strstr(cp->content->body, "****-****-**90"));
	assert_null(strstr(cp->content->body, "3456"));
	protobuf_c_message_free_unpacked(&cp->base, NULL);
	assert_non_null(ts_kmsg_header(pm, "simpul-event-id"));
	assert_null(ts_reader_find_key(published, id_spam));
	/* stored signals */
	assert_true(count("SELECT count(*) FROM simpul.moderation_signals WHERE item_id = $1 "
			  "AND name IN ('GAMBLING_PROMO', 'LINK_BAD_SITE')",
			  id_spam) == 2);
	assert_true(count("SELECT count(*) FROM simpul.moderation_signals WHERE item_id = $1 "
			  "AND name = 'PII_PHONE'",
			  id_clean) == 1);
	/* the same text from another item: a near-duplicate across KIMs */
	assert_int_equal(it_submit(&env, id_dup, fx.desa2, fx.other_kim_id, NULL, "Kerja bakti",
				   clean),
			 0);
	assert_int_equal(ts_reader_wait_keys(moderated, dup_keys, 1, 20000), 0);
	assert_true(count("SELECT count(*) FROM simpul.moderation_signals WHERE item_id = $1 "
			  "AND name = 'NEAR_DUPLICATE'",
			  id_dup) == 1);
}

static void test_replay_and_dlq(void **st)
{
	char bad_key[64];
	const char *keys[1] = {bad_key};
	const struct ts_kmsg *m;
	char err[128];

	(void)st;
	/* the same content version again (a new event id: still one decision) */
	assert_int_equal(it_submit(&env, id_spam, fx.desa, fx.kim_id, NULL, "x", "y"), 0);
	snprintf(bad_key, sizeof(bad_key), "poison-%s", fx.run);
	assert_int_equal(ts_kafka_produce(env.kafka_brokers, "kim.content.submitted.v1", bad_key,
					  "\xff\x01garbage", 9, err, sizeof(err)),
			 0);
	assert_int_equal(ts_reader_wait_keys(dlq, keys, 1, 30000), 0);
	m = ts_reader_find_key(dlq, bad_key);
	assert_non_null(ts_kmsg_header(m, "simpul-error"));
	ts_reader_poll(moderated, 2000);
	assert_int_equal(ts_reader_count_key(moderated, id_spam), 1);
	assert_true(count("SELECT count(*) FROM simpul.moderation_items WHERE item_id = $1",
			  id_spam) == 1);
	assert_true(count("SELECT count(*) FROM simpul.moderation_audit WHERE item_id = $1",
			  id_spam) == 1);
}

/* The same content version twice in a row (usually in one consumer batch,
 * whose decisions are stored in one transaction): one item, one audit row,
 * one decision event. */
static void test_twice_in_batch(void **st)
{
	char id[40];
	const char *keys[1] = {id};

	(void)st;
	util_uuid_v4(id);
	assert_int_equal(it_submit(&env, id, fx.desa, fx.kim_id, NULL, "Rapat", "rapat warga"), 0);
	assert_int_equal(it_submit(&env, id, fx.desa, fx.kim_id, NULL, "Rapat", "rapat warga"), 0);
	assert_int_equal(ts_reader_wait_keys(moderated, keys, 1, 20000), 0);
	ts_reader_poll(moderated, 2000);
	assert_int_equal(ts_reader_count_key(moderated, id), 1);
	assert_true(count("SELECT count(*) FROM simpul.moderation_items WHERE item_id = $1", id) ==
		    1);
	assert_true(count("SELECT count(*) FROM simpul.moderation_audit WHERE item_id = $1", id) ==
		    1);
}

/* A poison message between two good ones (produced back to back, so
 * usually one consumer batch): only the poison is dead-lettered, both good
 * ones are decided once. */
static void test_poison_in_batch(void **st)
{
	char g1[40], g2[40], bad_key[64], err[128];
	const char *good[2] = {g1, g2};
	const char *bad[1] = {bad_key};

	(void)st;
	util_uuid_v4(g1);
	util_uuid_v4(g2);
	snprintf(bad_key, sizeof(bad_key), "poison-batch-%s", fx.run);
	assert_int_equal(it_submit(&env, g1, fx.desa, NULL, NULL, "Posyandu", "jadwal posyandu"),
			 0);
	assert_int_equal(ts_kafka_produce(env.kafka_brokers, "kim.content.submitted.v1", bad_key,
					  "\x08\xff\xff", 3, err, sizeof(err)),
			 0);
	assert_int_equal(it_submit(&env, g2, fx.desa, NULL, NULL, "Ronda", "jadwal ronda"), 0);
	assert_int_equal(ts_reader_wait_keys(moderated, good, 2, 30000), 0);
	assert_int_equal(ts_reader_wait_keys(dlq, bad, 1, 30000), 0);
	ts_reader_poll(moderated, 1000);
	assert_int_equal(ts_reader_count_key(moderated, g1), 1);
	assert_int_equal(ts_reader_count_key(moderated, g2), 1);
	assert_int_equal(ts_reader_count_key(dlq, g1), 0);
	assert_int_equal(ts_reader_count_key(dlq, g2), 0);
	assert_true(count("SELECT count(*) FROM simpul.moderation_items WHERE item_id = $1", g1) ==
		    1);
}

struct racer {
	const char *token;
	long status;
};

static void *race(void *p)
{
	struct racer *r = p;
	struct ts_response resp;
	char my_url[256];

	snprintf(my_url, sizeof(my_url), "%s/v1/moderation/items/%s/claim", svc.base_url, id_rude);
	r->status = it_call(&resp, "POST", my_url, r->token, "{}");
	ts_response_release(&resp);
	return NULL;
}

static void test_claim_race_and_scope(void **st)
{
	struct racer a = {fx.users[TS_MODERATOR].token, 0}, b = {mod2.token, 0};
	pthread_t ta, tb;
	struct ts_response r;

	(void)st;
	pthread_create(&ta, NULL, race, &a);
	pthread_create(&tb, NULL, race, &b);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_true((a.status == 200 && b.status == 409) || (a.status == 409 && b.status == 200));
	if (b.status == 200) { /* let the fixture moderator hold it for the next steps */
		it_call(&r, "POST", u("/v1/moderation/items/%s/release", id_rude), mod2.token, "{}");
		ts_response_release(&r);
		assert_int_equal(it_call(&r, "POST", u("/v1/moderation/items/%s/claim", id_rude),
					 fx.users[TS_MODERATOR].token, "{}"),
				 200);
		ts_response_release(&r);
	}
	/* the holder is visible in the queue */
	assert_int_equal(it_call(&r, "GET", u("/v1/moderation/queue?region=%s", fx.desa2),
				 mod2.token, NULL),
			 200);
	assert_non_null(strstr(r.body, id_rude));
	assert_non_null(strstr(r.body, fx.users[TS_MODERATOR].id));
	ts_response_release(&r);
	/* counts per kecamatan */
	assert_int_equal(it_call(&r, "GET", u("%s", "/v1/moderation/queue/counts?depth=3"),
				 mod2.token, NULL),
			 200);
	assert_non_null(strstr(r.body, "\"region\":\"35.07.12\""));
	ts_response_release(&r);
	/* a 35.08 moderator: 403 on the item and on a 35.07 filter, and it is not listed */
	assert_int_equal(it_call(&r, "POST", u("/v1/moderation/items/%s/claim", id_rude),
				 mod_other.token, "{}"),
			 403);
	ts_response_release(&r);
	assert_int_equal(it_call(&r, "GET", u("/v1/moderation/items/%s", id_rude), mod_other.token,
				 NULL),
			 403);
	ts_response_release(&r);
	assert_int_equal(it_call(&r, "GET", u("/v1/moderation/items/%s", id_rude), mod2.token, NULL),
			 200);
	assert_non_null(strstr(r.body, "ABUSIVE_WORD"));
	ts_response_release(&r);
	assert_int_equal(it_call(&r, "GET", u("/v1/moderation/queue?region=%s", "35.07"),
				 mod_other.token, NULL),
			 403);
	ts_response_release(&r);
	assert_int_equal(it_call(&r, "GET", u("%s", "/v1/moderation/queue"), mod_other.token, NULL),
			 200);
	assert_null(strstr(r.body, id_rude));
	ts_response_release(&r);
	/* a citizen is no moderator */
	assert_int_equal(it_call(&r, "GET", u("%s", "/v1/moderation/queue"),
				 fx.users[TS_CITIZEN].token, NULL),
			 403);
	ts_response_release(&r);
}

static void test_decide_and_bulk(void **st)
{
	const char *keys[2] = {id_rude2, id_rude3};
	struct ts_response r;
	char body[256];

	(void)st;
	/* the other moderator cannot decide a claimed item */
	assert_int_equal(it_call(&r, "POST", u("/v1/moderation/items/%s/decision", id_rude),
				 mod2.token, "{\"decision\":\"approve\"}"),
			 409);
	assert_non_null(strstr(r.body, fx.users[TS_MODERATOR].id)); /* who holds it */
	ts_response_release(&r);
	assert_int_equal(it_call(&r, "POST", u("/v1/moderation/items/%s/decision", id_rude),
				 fx.users[TS_MODERATOR].token,
				 "{\"decision\":\"reject\",\"reason_code\":\"abusive\","
				 "\"note\":\"kata kasar\"}"),
			 200);
	ts_response_release(&r);
	assert_int_equal(ts_reader_wait_keys(feedback, (const char *[]){id_rude}, 1, 10000), 0);
	/* the classifier learns it (once per feedback event id) */
	{
		const char *ev = ts_kmsg_header(ts_reader_find_key(feedback, id_rude),
						"simpul-event-id");
		long long learned = 0;

		assert_non_null(ev);
		for (int i = 0; i < 100 && learned != 1; i++, ts_sleep_ms(100))
			learned = count("SELECT count(*) FROM simpul.moderation_bayes_learned "
					"WHERE learn_key = $1",
					ev);
		assert_int_equal(learned, 1);
	}
	/* bulk: two more review items */
	assert_int_equal(it_submit(&env, id_rude2, fx.desa, fx.kim_id, NULL, "a", "dasar bego tolol kamu"), 0);
	assert_int_equal(it_submit(&env, id_rude3, fx.desa, fx.kim_id, NULL, "b", "dasar dungu goblok kalian"), 0);
	assert_int_equal(ts_reader_wait_keys(moderated, keys, 2, 20000), 0);
	snprintf(body, sizeof(body),
		 "{\"ids\":[\"%s\",\"%s\"],\"decision\":\"reject\",\"reason_code\":\"abusive\"}",
		 id_rude2, id_rude3);
	assert_int_equal(it_call(&r, "POST", u("%s", "/v1/moderation/decisions"), mod2.token, body),
			 200);
	assert_non_null(strstr(r.body, "\"ok\":2"));
	ts_response_release(&r);
	assert_true(count("SELECT count(*) FROM simpul.moderation_items WHERE item_id = $1 AND "
			  "state = 'rejected'",
			  id_rude2) == 1);
	/* the audit log per item */
	assert_int_equal(it_call(&r, "GET", u("/v1/moderation/audit?item=%s", id_rude),
				 fx.users[TS_MODERATOR].token, NULL),
			 200);
	assert_non_null(strstr(r.body, "\"reject\""));
	assert_non_null(strstr(r.body, "\"auto_review\""));
	ts_response_release(&r);
}

static void test_appeal(void **st)
{
	struct ts_response r;
	const char *author = fx.users[TS_KIM_MEMBER].token;

	(void)st;
	assert_int_equal(it_call(&r, "POST", u("/v1/moderation/items/%s/appeal", id_rude),
				 mod2.token, "{}"),
			 403); /* not the author */
	ts_response_release(&r);
	assert_int_equal(it_call(&r, "POST", u("/v1/moderation/items/%s/appeal", id_rude), author,
				 "{\"note\":\"itu kutipan warga\"}"),
			 200);
	ts_response_release(&r);
	assert_int_equal(it_call(&r, "POST", u("/v1/moderation/items/%s/appeal", id_rude), author,
				 "{}"),
			 409); /* once */
	ts_response_release(&r);
	/* the moderator who rejected may not decide the appeal; another may */
	assert_int_equal(it_call(&r, "POST", u("/v1/moderation/items/%s/decision", id_rude),
				 fx.users[TS_MODERATOR].token, "{\"decision\":\"approve\"}"),
			 403);
	ts_response_release(&r);
	assert_int_equal(it_call(&r, "POST", u("/v1/moderation/items/%s/decision", id_rude),
				 mod2.token, "{\"decision\":\"approve\"}"),
			 200);
	ts_response_release(&r);
	assert_int_equal(ts_reader_wait_keys(published, (const char *[]){id_rude}, 1, 10000), 0);
}

static void test_registration(void **st)
{
	char kim[40], name[64], err[256];
	const char *p[3];
	PGresult *res;
	struct ts_response r;
	const struct ts_kmsg *m = NULL;
	size_t n;

	(void)st;
	snprintf(name, sizeof(name), "KIM itest %s", fx.run);
	p[0] = name;
	p[1] = fx.desa;
	res = ts_pg_query(pg, "INSERT INTO simpul.kims (name, region_code) VALUES ($1, $2) "
			      "RETURNING id", 2, p, err, sizeof(err));
	assert_non_null(res);
	snprintf(kim, sizeof(kim), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	assert_int_equal(it_register(&env, kim, fx.desa, name), 0);
	for (int i = 0; i < 100 && count("SELECT count(*) FROM simpul.moderation_items WHERE "
					 "item_id = $1 AND state = 'review'", kim) != 1; i++)
		ts_sleep_ms(100);
	assert_int_equal(it_call(&r, "GET", u("%s", "/v1/moderation/queue?kind=kim"),
				 mod2.token, NULL),
			 200);
	assert_non_null(strstr(r.body, kim));
	ts_response_release(&r);
	assert_int_equal(it_call(&r, "POST", u("/v1/moderation/kims/%s/decision", kim), mod2.token,
				 "{\"decision\":\"verify\"}"),
			 200);
	assert_non_null(strstr(r.body, "\"national_id\":\"KIM-3507-"));
	ts_response_release(&r);
	assert_true(count("SELECT count(*) FROM simpul.kims WHERE id = $1 AND status = 'verified'",
			  kim) == 1);
	for (int i = 0; i < 100 && !m; i++) {
		ts_reader_poll(registry, 100);
		m = ts_reader_find_key(registry, kim);
		(void)n;
	}
	assert_non_null(m);
}

/* Sends sentinels until one is decided: then every partition is assigned. */
static int warm_up(void)
{
	for (int i = 0; i < 30; i++) {
		char id[40];
		const char *keys[1] = {id};

		util_uuid_v4(id);
		if (it_submit(&env, id, fx.desa, NULL, NULL, "warm up", "pemanasan") != 0)
			return -1;
		if (ts_reader_wait_keys(moderated, keys, 1, 2000) == 0)
			return 0;
	}
	fprintf(stderr, "FAIL: simpul-moderate decided nothing in 60 s (log %s)\n", svc.log_path);
	return -1;
}

/* Thresholds per region prefix, re-read without a restart. */
static void test_thresholds_reload(void **st)
{
	char err[256], region[32], id[40];
	const char *keys[1] = {id};
	const char *p[1] = {region};
	PGresult *res;
	Simpul__V1__ContentModerated *cm;

	(void)st;
	/* a random desa, so parallel runs do not share the row */
	res = ts_pg_query(pg, "SELECT code FROM simpul.regions WHERE level = 4 AND code NOT LIKE "
			      "'35.07.%' ORDER BY random() LIMIT 1", 0, NULL, err, sizeof(err));
	assert_non_null(res);
	snprintf(region, sizeof(region), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	res = ts_pg_query(pg, "INSERT INTO simpul.moderation_thresholds (region_prefix, review_at, "
			      "reject_at) VALUES ($1, 0.5, 100) ON CONFLICT DO NOTHING", 1, p, err,
			  sizeof(err));
	assert_non_null(res);
	PQclear(res);
	/* our service re-reads every 500 ms (SIMPUL_MODERATE_RELOAD_MS), but the
	 * stack's own simpul-moderate consumes the same topic and may decide the
	 * item first: it re-reads every 5 s (the default) */
	ts_sleep_ms(5500);
	util_uuid_v4(id);
	/* a phone number alone scores 1: approved nationally, reviewed here */
	assert_int_equal(it_submit(&env, id, region, NULL, NULL, "Info", "hubungi 0812-9999-1234"),
			 0);
	assert_int_equal(ts_reader_wait_keys(moderated, keys, 1, 20000), 0);
	cm = moderated_for(id, 0);
	assert_non_null(cm);
	assert_int_equal(cm->decision, SIMPUL__V1__DECISION__DECISION_REVIEW);
	protobuf_c_message_free_unpacked(&cm->base, NULL);
	res = ts_pg_query(pg, "DELETE FROM simpul.moderation_thresholds WHERE region_prefix = $1",
			  1, p, err, sizeof(err));
	PQclear(res);
}

/* The relay is libs/outbox's: /readyz reports its role (leader or standby:
 * another moderate process may hold the table's lock) without gating on it,
 * /metrics carries its series, and some leader published every row. */
static void test_relay(void **st)
{
	struct ts_response r;
	json_t *root, *kafka;
	const char *detail;
	const char *p[1] = {id_clean};
	PGresult *res = NULL;
	char err[256];

	(void)st;
	ts_http(&r, "GET", u("%s", "/readyz"), NULL, NULL, NULL, 0);
	assert_int_equal(r.status, 200);
	root = json_loads(r.body, 0, NULL);
	kafka = json_object_get(json_object_get(root, "checks"), "kafka");
	assert_true(json_is_true(json_object_get(kafka, "ok")));
	detail = json_string_value(json_object_get(kafka, "detail"));
	assert_non_null(detail);
	assert_true(strstr(detail, "leader") || strstr(detail, "standby"));
	json_decref(root);
	ts_response_release(&r);
	ts_http(&r, "GET", u("%s", "/metrics"), NULL, NULL, NULL, 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "moderate_relay_published_total"));
	assert_non_null(strstr(r.body, "moderate_relay_failures_total"));
	assert_non_null(strstr(r.body, "moderate_outbox_backlog"));
	assert_null(strstr(r.body, "moderate_outbox_published_total"));
	ts_response_release(&r);
	for (int i = 0; i < 100; i++) {
		PQclear(res);
		res = ts_pg_query(pg, "SELECT count(*) FROM simpul.moderation_outbox WHERE "
				      "msg_key = $1 AND sent_at IS NULL", 1, p, err, sizeof(err));
		assert_non_null(res);
		if (strcmp(PQgetvalue(res, 0, 0), "0") == 0)
			break;
		ts_sleep_ms(100);
	}
	assert_string_equal(PQgetvalue(res, 0, 0), "0");
	PQclear(res);
}

static int setup(void **st)
{
	char err[512];
	static char group[64];
	static const char *const topics[] = {"kim.content.submitted.v1", "kim.registry.v1",
					     "kim.moderation.feedback.v1"};
	/* the classifier stays silent: its counts in the shared database vary */
	const char *extra[] = {"SIMPUL_MODERATE_CONSUMERS=4", "SIMPUL_LOG_LEVEL=info",
			       "SIMPUL_MODERATE_BAYES_MIN_LEARNS=100000000",
			       "SIMPUL_MODERATE_RELOAD_MS=500ms", group, NULL};

	(void)st;
	if (ts_env_load(&env, err, sizeof(err)) != 0 ||
	    !(pg = ts_pg_connect(env.pg_url, err, sizeof(err))) ||
	    ts_fixture_create(&fx, pg, err, sizeof(err)) != 0) {
		fprintf(stderr, "FAIL: the stack is needed: %s\n", err);
		return -1;
	}
	if (it_user(pg, fx.run, "moderator", "35.07", &mod2) ||
	    it_user(pg, fx.run, "moderator", "35.08", &mod_other))
		return -1;
	util_uuid_v4(id_clean);
	util_uuid_v4(id_dup);
	util_uuid_v4(id_spam);
	util_uuid_v4(id_rude);
	util_uuid_v4(id_rude2);
	util_uuid_v4(id_rude3);
	moderated = ts_reader_new(env.kafka_brokers, "kim.content.moderated.v1", err, sizeof(err));
	published = ts_reader_new(env.kafka_brokers, "kim.content.published.v1", err, sizeof(err));
	feedback = ts_reader_new(env.kafka_brokers, "kim.moderation.feedback.v1", err, sizeof(err));
	registry = ts_reader_new(env.kafka_brokers, "kim.registry.v1", err, sizeof(err));
	dlq = ts_reader_new(env.kafka_brokers, "kim.content.submitted.v1.dlq", err, sizeof(err));
	if (!moderated || !published || !feedback || !registry || !dlq) {
		fprintf(stderr, "FAIL: kafka readers: %s\n", err);
		return -1;
	}
	/* a group of our own whose offsets start at the end: the shared topics may
	 * hold a backlog (committed offsets, so no rebalance skips anything) */
	snprintf(group, sizeof(group), "SIMPUL_MODERATE_GROUP=itest-%s", fx.run);
	if (it_group_at_end(env.kafka_brokers, group + strlen("SIMPUL_MODERATE_GROUP="), topics,
			    3) != 0) {
		fprintf(stderr, "FAIL: cannot set the test group's offsets\n");
		return -1;
	}
	if (it_moderate_start(&svc, &env, bin, extra) != 0) {
		fprintf(stderr, "FAIL: simpul-moderate did not start (log %s)\n", svc.log_path);
		return -1;
	}
	return warm_up();
}

static int teardown(void **st)
{
	int rc = it_moderate_stop(&svc);

	(void)st;
	ts_reader_free(moderated);
	ts_reader_free(published);
	ts_reader_free(feedback);
	ts_reader_free(registry);
	ts_reader_free(dlq);
	if (pg)
		PQfinish(pg);
	ts_env_release(&env);
	if (rc != 0)
		fprintf(stderr, "simpul-moderate exited with %d (log %s)\n", rc, svc.log_path);
	return rc == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipeline),	 cmocka_unit_test(test_replay_and_dlq),
		cmocka_unit_test(test_twice_in_batch),
		cmocka_unit_test(test_poison_in_batch),
		cmocka_unit_test(test_claim_race_and_scope), cmocka_unit_test(test_decide_and_bulk),
		cmocka_unit_test(test_appeal),		 cmocka_unit_test(test_registration),
		cmocka_unit_test(test_thresholds_reload), cmocka_unit_test(test_relay),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s SIMPUL-MODERATE-BINARY\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	return cmocka_run_group_tests(tests, setup, teardown);
}
