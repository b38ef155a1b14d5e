/*
 * outbox_integration_test.c - libs/outbox against the stack's PostgreSQL
 * (SIMPUL_PG_URL) and Kafka (SIMPUL_KAFKA_BROKERS); fails loudly when either
 * is unreachable. Every test uses its own scratch outbox table (the shape
 * of simpul.outbox) and its own topic, both removed afterwards, and reads
 * the topic back with a consumer to check order, duplicates and headers.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <simpul/v1/content.pb-c.h>

#include "config/config.h"
#include "db/db.h"
#include "events/meta.h"
#include "kafka/admin.h"
#include "kafka/consumer.h"
#include "metrics/metrics.h"
#include "outbox/outbox.h"
#include "slog/slog.h"
#include "util/err.h"
#include "util/ids.h"

#define MAX_GOT 4096

static char *pg_url, *brokers;

/* One test's scratch table and topic. */
struct fx {
	char table[64];
	char topic[64];
	struct db_conn *db;
};

static struct fx *live_fx; /* set up and not yet torn down (a failed test) */

/* What the consumer saw, in arrival order. */
struct got {
	pthread_mutex_t mu;
	size_t n;
	char key[MAX_GOT][16];
	int seq[MAX_GOT];
	char id[MAX_GOT][UTIL_UUID_STRLEN + 1];
};

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static void fx_setup(struct fx *f, const char *what)
{
	unsigned char rnd[4];
	char hex[9], err[512], sql[512];
	struct kafka_topic_spec spec = {.partitions = 3, .replication = 1};

	assert_int_equal(util_random_bytes(rnd, sizeof(rnd)), 0);
	util_hex(rnd, sizeof(rnd), hex);
	snprintf(f->table, sizeof(f->table), "simpul.outbox_it_%s_%s", what, hex);
	snprintf(f->topic, sizeof(f->topic), "it.outbox.%s.%s", what, hex);
	f->db = db_conn_new(pg_url, err, sizeof(err));
	if (!f->db)
		fail_msg("POSTGRESQL NOT REACHABLE (deploy/stack infra): %s", err);
	snprintf(sql, sizeof(sql),
		 "CREATE TABLE %s (id bigserial PRIMARY KEY, topic text NOT NULL, msg_key text, "
		 "payload bytea NOT NULL, headers jsonb NOT NULL DEFAULT '{}', "
		 "created_at timestamptz NOT NULL DEFAULT now(), sent_at timestamptz)",
		 f->table);
	if (db_exec(f->db, sql, 0, NULL, NULL, NULL, err, sizeof(err)) != 0)
		fail_msg("create %s: %s", f->table, err);
	spec.name = f->topic;
	live_fx = f;
	if (kafka_topics_ensure(brokers, &spec, 1, 15000, NULL, err, sizeof(err)) != 0)
		fail_msg("KAFKA: cannot create %s: %s", f->topic, err);
}

static void fx_teardown(struct fx *f)
{
	char err[512], sql[160];
	const char *names[1] = {f->topic};

	snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s", f->table);
	if (db_exec(f->db, sql, 0, NULL, NULL, NULL, err, sizeof(err)) != 0)
		fprintf(stderr, "drop %s: %s\n", f->table, err);
	if (kafka_topics_delete(brokers, names, 1, 15000, err, sizeof(err)) != 0)
		fprintf(stderr, "delete topic %s: %s\n", f->topic, err);
	db_conn_free(f->db);
	live_fx = NULL;
}

/* After every test: removes the scratch table and topic of a test that
 * failed before its own teardown. */
static int cleanup(void **state)
{
	(void)state;
	if (live_fx)
		fx_teardown(live_fx);
	return 0;
}

/* Enqueues rows seq first..first+n-1, key "k<seq % nkeys>", payload
 * "<key>:<seq>", a fresh event id each; 25 rows per transaction. */
static void enqueue_rows(struct fx *f, int first, int n, int nkeys)
{
	char err[512];

	for (int i = first; i < first + n;) {
		assert_int_equal(db_begin(f->db, err, sizeof(err)), 0);
		for (int j = 0; j < 25 && i < first + n; j++, i++) {
			char key[16], payload[48], id[UTIL_UUID_STRLEN + 1];
			struct kafka_header h[2] = {{"simpul-event-id", id, UTIL_UUID_STRLEN},
						    {"simpul-event-type", "test.row", 8}};
			int rc;

			snprintf(key, sizeof(key), "k%d", i % nkeys);
			snprintf(payload, sizeof(payload), "%s:%d", key, i);
			util_uuid_v4(id);
			rc = outbox_enqueue(f->db, f->table, f->topic, key, payload,
					    strlen(payload), h, 2, NULL, err, sizeof(err));
			if (rc != 0)
				fail_msg("enqueue: %s", err);
		}
		assert_int_equal(db_commit(f->db, err, sizeof(err)), 0);
	}
}

/* SELECT count(*) AS n FROM <table> <where>. */
static long long scalar(struct fx *f, const char *where)
{
	char sql[256], err[512];
	PGresult *res = NULL;
	long long v;

	snprintf(sql, sizeof(sql), "SELECT count(*) AS n FROM %s %s", f->table, where);
	if (db_exec(f->db, sql, 0, NULL, NULL, &res, err, sizeof(err)) != 0)
		fail_msg("%s: %s", sql, err);
	v = strtoll(db_value(res, 0, "n"), NULL, 10);
	PQclear(res);
	return v;
}

static long long unsent(struct fx *f)
{
	return scalar(f, "WHERE sent_at IS NULL");
}

/* Waits up to ms for the table to have no unsent rows. */
static bool wait_drained(struct fx *f, int ms)
{
	for (int t = 0; t < ms; t += 100) {
		if (unsent(f) == 0)
			return true;
		sleep_ms(100);
	}
	return unsent(f) == 0;
}

static int on_message(void *ud, const struct kafka_message *m, char *err, size_t errlen)
{
	struct got *g = ud;
	char payload[64] = "";
	int seq = -1;

	(void)err;
	(void)errlen;
	if (m->value_len < sizeof(payload))
		memcpy(payload, m->value, m->value_len);
	pthread_mutex_lock(&g->mu);
	if (g->n < MAX_GOT) {
		const char *colon = strchr(payload, ':');

		snprintf(g->key[g->n], sizeof(g->key[0]), "%.*s", (int)m->key_len,
			 (const char *)m->key);
		seq = colon ? atoi(colon + 1) : -1;
		g->seq[g->n] = seq;
		if (kafka_message_header_str(m, "simpul-event-id", g->id[g->n],
					     sizeof(g->id[0])) != 0)
			g->id[g->n][0] = '\0';
		g->n++;
	}
	pthread_mutex_unlock(&g->mu);
	return 0;
}

struct consume_run {
	struct kafka_consumer *c;
	volatile sig_atomic_t stop;
};

static void *consume_main(void *p)
{
	struct consume_run *cr = p;
	char err[256];

	if (kafka_consumer_run(cr->c, &cr->stop, err, sizeof(err)) != 0)
		fprintf(stderr, "consumer: %s\n", err);
	return NULL;
}

/* Reads f's topic from the start until want messages came (or 60 s), then
 * 2 s more to catch duplicates. */
static void consume(struct fx *f, struct got *g, size_t want)
{
	char group[96], err[512];
	const char *topics[1] = {f->topic};
	struct kafka_consumer_config cc = {.brokers = brokers, .group_id = group,
					   .topics = topics, .ntopics = 1,
					   .handle = on_message, .ud = g};
	struct consume_run cr = {0};
	pthread_t th;

	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->mu, NULL);
	snprintf(group, sizeof(group), "it-outbox-%s", f->topic);
	cr.c = kafka_consumer_new(&cc, err, sizeof(err));
	if (!cr.c)
		fail_msg("consumer: %s", err);
	assert_int_equal(pthread_create(&th, NULL, consume_main, &cr), 0);
	for (int t = 0; t < 60000; t += 100) {
		size_t n;

		pthread_mutex_lock(&g->mu);
		n = g->n;
		pthread_mutex_unlock(&g->mu);
		if (n >= want)
			break;
		sleep_ms(100);
	}
	sleep_ms(2000);
	cr.stop = 1;
	pthread_join(th, NULL);
	kafka_consumer_free(cr.c);
	pthread_mutex_destroy(&g->mu);
}

/* Every seq in [0, n) exactly once, each key's seqs increasing. */
static void check_once_in_order(const struct got *g, int n)
{
	int *seen = calloc((size_t)n, sizeof(int));

	assert_non_null(seen);
	for (size_t i = 0; i < g->n; i++) {
		assert_true(g->seq[i] >= 0 && g->seq[i] < n);
		seen[g->seq[i]]++;
		assert_true(util_uuid_valid(g->id[i]));
		for (size_t j = 0; j < i; j++) {
			assert_string_not_equal(g->id[i], g->id[j]);
			if (!strcmp(g->key[i], g->key[j]) && g->seq[j] > g->seq[i])
				fail_msg("key %s: seq %d arrived after %d", g->key[i], g->seq[i],
					 g->seq[j]);
		}
	}
	for (int i = 0; i < n; i++)
		if (seen[i] != 1)
			fail_msg("seq %d seen %d times", i, seen[i]);
	assert_int_equal(g->n, (size_t)n);
	free(seen);
}

static struct outbox_relay *relay_new(struct fx *f, const char *brks,
				      struct metrics_registry *reg, int idle_ms)
{
	char err[512];
	struct outbox_relay_config c = {.pg_url = pg_url,
					.brokers = brks,
					.table = f->table,
					.metrics_prefix = "obxtest",
					.reg = reg,
					.client_id = "outbox-it",
					.batch = 64,
					.idle_ms = idle_ms,
					.error_pause_ms = 300,
					.standby_retry_ms = 200,
					.message_timeout_ms = 3000};
	struct outbox_relay *r = outbox_relay_new(&c, err, sizeof(err));

	if (!r)
		fail_msg("relay: %s", err);
	assert_int_equal(outbox_relay_start(r), 0);
	return r;
}

static bool wait_leader(struct outbox_relay *r, int ms)
{
	struct outbox_relay_stats st;

	for (int t = 0; t < ms; t += 50) {
		outbox_relay_stats(r, &st);
		if (st.leader)
			return true;
		sleep_ms(50);
	}
	return false;
}

/* Rows of 7 keys published once each, in order per key, marked sent, with
 * the metrics and stats to match. */
static void test_publish_in_order(void **state)
{
	static struct got g;
	static struct fx f;
	struct metrics_registry *reg = metrics_registry_new();
	struct metrics_counter *pub;
	struct outbox_relay_stats st;
	struct outbox_relay *r;
	char detail[128];

	(void)state;
	fx_setup(&f, "order");
	enqueue_rows(&f, 0, 150, 7);
	r = relay_new(&f, brokers, reg, 100);
	enqueue_rows(&f, 150, 150, 7);
	outbox_relay_wake(r);
	assert_true(wait_drained(&f, 30000));
	consume(&f, &g, 300);
	check_once_in_order(&g, 300);
	assert_int_equal(scalar(&f, "WHERE sent_at IS NOT NULL"),
			 300);
	outbox_relay_stats(r, &st);
	assert_true(st.leader);
	assert_int_equal(st.published, 300);
	assert_true(outbox_relay_ready(r, 2000, detail, sizeof(detail)));
	assert_non_null(strstr(detail, "leader"));
	pub = metrics_counter_new(reg, "obxtest_relay_published_total", "x", NULL);
	assert_true(metrics_counter_value(pub, NULL) == 300.0);
	outbox_relay_free(r);
	metrics_registry_free(reg);
	fx_teardown(&f);
}

/* Kafka unreachable: nothing is marked sent; a relay with the right brokers
 * then drains everything, once. */
static void test_kafka_down_then_drain(void **state)
{
	static struct got g;
	static struct fx f;
	struct outbox_relay *r;
	struct outbox_relay_stats st;
	char detail[128];

	(void)state;
	fx_setup(&f, "down");
	enqueue_rows(&f, 0, 40, 3);
	r = relay_new(&f, "127.0.0.1:1", NULL, 100);
	sleep_ms(5000); /* > message_timeout_ms: at least one round failed */
	outbox_relay_stats(r, &st);
	assert_true(st.leader);
	assert_int_equal(st.published, 0);
	assert_true(st.failed_rounds >= 1);
	assert_false(outbox_relay_ready(r, 500, detail, sizeof(detail)));
	assert_non_null(strstr(detail, "kafka unreachable"));
	assert_int_equal(unsent(&f), 40);
	outbox_relay_stop(r, 0);
	outbox_relay_free(r);
	assert_int_equal(unsent(&f), 40);
	r = relay_new(&f, brokers, NULL, 100);
	assert_true(wait_drained(&f, 30000));
	consume(&f, &g, 40);
	check_once_in_order(&g, 40);
	outbox_relay_free(r);
	fx_teardown(&f);
}

/* Two relays on one table: one publishes, the other stands by, no
 * duplicates; when the leader goes, the standby takes over. */
static void test_two_relays(void **state)
{
	static struct got g;
	static struct fx f;
	struct outbox_relay *a, *b, *leader, *standby;
	struct outbox_relay_stats sa, sb;

	(void)state;
	fx_setup(&f, "two");
	a = relay_new(&f, brokers, NULL, 20);
	b = relay_new(&f, brokers, NULL, 20);
	for (int i = 0; i < 8; i++) {
		enqueue_rows(&f, i * 25, 25, 5);
		outbox_relay_wake(a);
		outbox_relay_wake(b);
		sleep_ms(100);
	}
	assert_true(wait_drained(&f, 30000));
	outbox_relay_stats(a, &sa);
	outbox_relay_stats(b, &sb);
	assert_true(sa.leader != sb.leader);
	assert_int_equal(sa.published + sb.published, 200);
	assert_true(sa.published == 0 || sb.published == 0);
	leader = sa.leader ? a : b;
	standby = sa.leader ? b : a;
	outbox_relay_free(leader); /* its session ends: the lock is free */
	enqueue_rows(&f, 200, 20, 5);
	assert_true(wait_leader(standby, 5000));
	assert_true(wait_drained(&f, 30000));
	outbox_relay_stats(standby, &sb);
	assert_int_equal(sb.published, 20);
	consume(&f, &g, 220);
	check_once_in_order(&g, 220);
	outbox_relay_free(standby);
	fx_teardown(&f);
}

/* Stop with a grace period publishes the rows that are pending. */
static void test_stop_with_grace(void **state)
{
	static struct got g;
	static struct fx f;
	struct outbox_relay *r;
	struct outbox_relay_stats st;

	(void)state;
	fx_setup(&f, "grace");
	r = relay_new(&f, brokers, NULL, 600000); /* never polls on its own */
	assert_true(wait_leader(r, 5000));
	sleep_ms(300); /* its first (empty) round is over: now idle */
	enqueue_rows(&f, 0, 500, 11);
	assert_int_equal(unsent(&f), 500);
	outbox_relay_stop(r, 20000);
	assert_int_equal(unsent(&f), 0);
	outbox_relay_stats(r, &st);
	assert_int_equal(st.published, 500);
	outbox_relay_free(r);
	consume(&f, &g, 500);
	check_once_in_order(&g, 500);
	fx_teardown(&f);
}

/* The enqueue helpers: event headers land in jsonb, a rollback leaves no
 * row, bad input is refused. */
static void test_enqueue(void **state)
{
	static struct fx f;
	char err[512], sql[256];
	struct events_meta_buf mb;
	Simpul__V1__ContentSubmitted cs = SIMPUL__V1__CONTENT_SUBMITTED__INIT;
	PGresult *res = NULL;
	int64_t id = 0;
	const char *vals[1] = {mb.id};
	struct kafka_header bad = {"simpul-x", "a\0b", 3};

	(void)state;
	fx_setup(&f, "enq");
	assert_int_equal(outbox_enqueue(f.db, f.table, f.topic, "k", "x", 1, NULL, 0, NULL, err,
					sizeof(err)),
			 UTIL_EINVAL); /* no transaction */
	assert_int_equal(events_meta_init(&mb, "content.submitted", "test@host", NULL, err,
					  sizeof(err)),
			 0);
	cs.meta = &mb.meta;
	assert_int_equal(db_begin(f.db, err, sizeof(err)), 0);
	assert_int_equal(outbox_enqueue(f.db, f.table, "Bad Topic", "k", "x", 1, NULL, 0, NULL,
					err, sizeof(err)),
			 UTIL_EINVAL);
	assert_int_equal(outbox_enqueue(f.db, f.table, f.topic, "k", "x", 1, &bad, 1, NULL, err,
					sizeof(err)),
			 UTIL_EINVAL);
	assert_int_equal(outbox_enqueue_event(f.db, f.table, f.topic, "key-1", &cs.base, &mb.meta,
					      &id, err, sizeof(err)),
			 0);
	assert_true(id > 0);
	assert_int_equal(db_commit(f.db, err, sizeof(err)), 0);
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) AS n FROM %s WHERE headers->>'simpul-event-id' = $1 AND "
		 "headers->>'simpul-event-type' = 'content.submitted' AND msg_key = 'key-1' AND "
		 "octet_length(payload) > 0",
		 f.table);
	assert_int_equal(db_exec(f.db, sql, 1, vals, NULL, &res, err, sizeof(err)), 0);
	assert_string_equal(db_value(res, 0, "n"), "1");
	PQclear(res);
	assert_int_equal(db_begin(f.db, err, sizeof(err)), 0);
	assert_int_equal(outbox_enqueue(f.db, f.table, f.topic, NULL, NULL, 0, NULL, 0, NULL, err,
					sizeof(err)),
			 0);
	assert_int_equal(db_rollback(f.db, err, sizeof(err)), 0);
	assert_int_equal(scalar(&f, ""), 1);
	fx_teardown(&f);
}

static int setup(void **state)
{
	char err[1024];
	const struct config_item cfg[] = {
		{"SIMPUL_PG_URL", CONFIG_STRING, "postgresql://simpul@127.0.0.1:55432/simpul", 1,
		 4096, false, &pg_url, "PostgreSQL"},
		{"SIMPUL_KAFKA_BROKERS", CONFIG_STRING, "127.0.0.1:59092", 1, 4096, false,
		 &brokers, "Kafka brokers"},
	};
	struct db_conn *c;

	(void)state;
	slog_init("outbox-test", SLOG_WARN);
	if (config_load(cfg, 2, err, sizeof(err))) {
		fprintf(stderr, "bad configuration: %s\n", err);
		return -1;
	}
	c = db_conn_new(pg_url, err, sizeof(err));
	if (!c) {
		fprintf(stderr, "POSTGRESQL NOT REACHABLE (deploy/stack infra): %s\n", err);
		return -1;
	}
	db_conn_free(c);
	if (kafka_ping(brokers, 10000, err, sizeof(err))) {
		fprintf(stderr, "KAFKA NOT REACHABLE (deploy/stack infra): %s\n", err);
		return -1;
	}
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_enqueue, cleanup),
		cmocka_unit_test_teardown(test_publish_in_order, cleanup),
		cmocka_unit_test_teardown(test_kafka_down_then_drain, cleanup),
		cmocka_unit_test_teardown(test_two_relays, cleanup),
		cmocka_unit_test_teardown(test_stop_with_grace, cleanup),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
