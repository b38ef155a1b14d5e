/*
 * kafka_unit_test.c - unit tests of libs/kafka against librdkafka's
 * in-process mock cluster: delivery reports, the consumer loop's retry,
 * DLQ and poison handling, offsets, and config errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "kafka/admin.h"
#include "kafka/consumer.h"
#include "kafka/producer.h"
#include "kafka_testutil.h"
#include "slog/slog.h"
#include "util/err.h"

/* Kafka protocol ApiKey of Produce (librdkafka keeps its enum private). */
#define KAFKA_API_PRODUCE 0

struct mock {
	rd_kafka_t *rk;
	rd_kafka_mock_cluster_t *mc;
	char brokers[256];
};

static int mock_setup(void **state)
{
	char errstr[256];
	struct mock *m = calloc(1, sizeof *m);
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
	m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
	assert_non_null(m->rk);
	m->mc = rd_kafka_mock_cluster_new(m->rk, 1);
	assert_non_null(m->mc);
	snprintf(m->brokers, sizeof m->brokers, "%s", rd_kafka_mock_cluster_bootstraps(m->mc));
	*state = m;
	return 0;
}

static int mock_teardown(void **state)
{
	struct mock *m = *state;

	rd_kafka_mock_cluster_destroy(m->mc);
	rd_kafka_destroy(m->rk);
	free(m);
	return 0;
}

struct reports {
	int n;
	int ok;
	int last_err;
	intptr_t sum_opaque;
};

static void on_report(void *ud, void *opaque, int err, const char *errstr)
{
	struct reports *r = ud;

	(void)errstr;
	r->n++;
	if (err == 0)
		r->ok++;
	r->last_err = err;
	r->sum_opaque += (intptr_t)opaque;
}

static struct kafka_producer *producer(const char *brokers, struct reports *r, int timeout_ms)
{
	char err[256];
	struct kafka_producer_config pc = {
		.brokers = brokers,
		.message_timeout_ms = timeout_ms,
		.on_delivery = on_report,
		.ud = r,
	};
	struct kafka_producer *p = kafka_producer_new(&pc, err, sizeof err);

	if (!p)
		fprintf(stderr, "producer: %s\n", err);
	assert_non_null(p);
	return p;
}

static void test_producer_delivery(void **state)
{
	struct mock *mk = *state;
	struct reports r = { 0 };
	struct kafka_header h[] = { { "simpul-trace-id", "abc", 3 }, { "empty", NULL, 0 } };
	struct kafka_producer *p;
	char v[32];

	assert_int_equal(rd_kafka_mock_topic_create(mk->mc, "u.prod", 3, 1), 0);
	p = producer(mk->brokers, &r, 10000);
	assert_true(kafka_producer_ready(p, 5000));
	/* a transient produce error is retried by the idempotent producer */
	rd_kafka_mock_push_request_errors(mk->mc, KAFKA_API_PRODUCE, 2,
					  RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
					  RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
	for (intptr_t i = 1; i <= 20; i++) {
		snprintf(v, sizeof v, "v%ld", (long)i);
		assert_int_equal(kafka_producer_send(p, "u.prod", "k", 1, v, strlen(v), h, 2,
						     (void *)i), 0);
	}
	assert_int_equal(kafka_producer_flush(p, 10000), 0);
	assert_int_equal(r.n, 20);
	assert_int_equal(r.ok, 20);
	assert_int_equal(r.sum_opaque, 210);
	assert_int_equal(kafka_producer_outq_len(p), 0);
	assert_false(kafka_producer_fatal(p, NULL, 0));
	assert_int_equal(kafka_producer_send(p, NULL, "k", 1, "v", 1, NULL, 0, NULL), UTIL_EINVAL);
	assert_int_equal(kafka_producer_send(p, "u.prod", NULL, 3, "v", 1, NULL, 0, NULL),
			 UTIL_EINVAL);
	kafka_producer_free(p);
	kafka_producer_free(NULL);
}

static void test_producer_timeout_report(void **state)
{
	struct mock *mk = *state;
	struct reports r = { 0 };
	struct kafka_producer *p;

	assert_int_equal(rd_kafka_mock_topic_create(mk->mc, "u.down", 1, 1), 0);
	p = producer(mk->brokers, &r, 1500);
	assert_true(kafka_producer_ready(p, 5000));
	rd_kafka_mock_broker_set_down(mk->mc, 1);
	assert_int_equal(kafka_producer_send(p, "u.down", "k", 1, "v", 1, NULL, 0, (void *)7), 0);
	for (int i = 0; i < 60 && r.n == 0; i++)
		kafka_producer_poll(p, 100);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.sum_opaque, 7);
	assert_true(r.last_err == UTIL_ETIMEOUT || r.last_err == UTIL_EUNAVAIL);
	rd_kafka_mock_broker_set_up(mk->mc, 1);
	kafka_producer_free(p);
}

static void test_config_errors(void **state)
{
	struct mock *mk = *state;
	char err[256];
	struct kafka_kv bad[] = { { "no.such.property", "1" } };
	struct kafka_producer_config pc = { .brokers = mk->brokers, .extra = bad, .nextra = 1 };
	const char *topics[] = { "x" };
	struct kafka_consumer_config cc = { .brokers = mk->brokers, .group_id = "g",
					    .topics = topics, .ntopics = 1, .handle = tu_collect };

	assert_null(kafka_producer_new(&pc, err, sizeof err));
	assert_non_null(strstr(err, "no.such.property"));
	pc.nextra = 0;
	pc.brokers = NULL;
	assert_null(kafka_producer_new(&pc, err, sizeof err));
	assert_null(kafka_producer_new(NULL, err, sizeof err));
	cc.extra = bad;
	cc.nextra = 1;
	assert_null(kafka_consumer_new(&cc, err, sizeof err));
	assert_non_null(strstr(err, "no.such.property"));
	cc.nextra = 0;
	cc.group_id = NULL;
	assert_null(kafka_consumer_new(&cc, err, sizeof err));
	kafka_consumer_free(NULL);
}

static void produce_values(const char *brokers, const char *topic, int n)
{
	struct reports r = { 0 };
	struct kafka_producer *p = producer(brokers, &r, 10000);
	struct kafka_header h = { "simpul-trace-id", "trace-1", 7 };
	char v[32];

	for (int i = 0; i < n; i++) {
		snprintf(v, sizeof v, "m%d", i);
		assert_int_equal(kafka_producer_send(p, topic, "key", 3, v, strlen(v), &h, 1, NULL),
				 0);
	}
	assert_int_equal(kafka_producer_flush(p, 10000), 0);
	assert_int_equal(r.ok, n);
	kafka_producer_free(p);
}

/* m2: poison; m4: down twice then fine; m6: always fails (EIO). */
static int scripted(struct tu_collector *c, const struct kafka_message *m, char *err,
		    size_t errlen)
{
	const char *v = c->items[c->n - 1].value;

	(void)m;
	if (strcmp(v, "m2") == 0)
		return util_err_set(err, errlen, UTIL_EINVAL, "bad payload m2");
	if (strcmp(v, "m4") == 0 && c->items[c->n - 1].attempt <= 2)
		return UTIL_EUNAVAIL;
	if (strcmp(v, "m6") == 0)
		return util_err_set(err, errlen, UTIL_EIO, "db write failed");
	return 0;
}

static struct kafka_consumer *consumer(const char *brokers, const char *group,
				       const char *topic, struct tu_collector *col)
{
	char err[256];
	const char *topics[] = { topic };
	/* the mock coordinator forgets a closed member only at its session timeout */
	static const struct kafka_kv extra[] = { { "session.timeout.ms", "6000" },
						 { "heartbeat.interval.ms", "500" } };
	struct kafka_consumer_config cc = {
		.brokers = brokers, .group_id = group, .topics = topics, .ntopics = 1,
		.handle = tu_collect, .ud = col, .max_retries = 2,
		.backoff_initial_ms = 20, .backoff_max_ms = 80, .extra = extra, .nextra = 2,
	};
	struct kafka_consumer *kc = kafka_consumer_new(&cc, err, sizeof err);

	if (!kc)
		fprintf(stderr, "consumer: %s\n", err);
	assert_non_null(kc);
	return kc;
}

static void check_loop_calls(const struct tu_collector *col)
{
	const char *expect[] = { "m0", "m1", "m2", "m3", "m4", "m4", "m4", "m5",
				 "m6", "m6", "m6", "m7", "m8", "m9" };

	assert_int_equal(col->n, 14);
	for (size_t i = 0; i < col->n; i++)
		assert_string_equal(col->items[i].value, expect[i]);
	assert_int_equal(col->items[6].attempt, 3);   /* m4's third try */
	assert_int_equal(col->items[10].attempt, 3);  /* m6: 1 + max_retries */
	assert_string_equal(col->items[0].h_trace, "trace-1");
}

static void test_consumer_retry_and_dlq(void **state)
{
	struct mock *mk = *state;
	static struct tu_collector col, dlq;
	struct kafka_consumer_stats st;
	struct kafka_consumer *kc;

	assert_int_equal(rd_kafka_mock_topic_create(mk->mc, "u.loop", 1, 1), 0);
	assert_int_equal(rd_kafka_mock_topic_create(mk->mc, "u.loop.dlq", 1, 1), 0);
	produce_values(mk->brokers, "u.loop", 10);

	memset(&col, 0, sizeof col);
	col.behaviour = scripted;
	col.want = 8; /* 10 minus the two dead-lettered */
	kc = consumer(mk->brokers, "g.loop", "u.loop", &col);
	assert_int_equal(tu_run(kc, &col, 30000), 0);
	kafka_consumer_stats(kc, &st);
	kafka_consumer_free(kc);
	check_loop_calls(&col);
	assert_int_equal(st.processed, 8);
	assert_int_equal(st.dead_lettered, 2);
	assert_int_equal(st.retried, 4);

	memset(&dlq, 0, sizeof dlq);
	dlq.want = 2;
	kc = consumer(mk->brokers, "g.dlq", "u.loop.dlq", &dlq);
	assert_int_equal(tu_run(kc, &dlq, 30000), 0);
	kafka_consumer_free(kc);
	assert_int_equal(dlq.n, 2);
	assert_string_equal(dlq.items[0].value, "m2");
	assert_string_equal(dlq.items[0].key, "key");
	assert_string_equal(dlq.items[0].h_error, "bad payload m2");
	assert_string_equal(dlq.items[0].h_count, "1");
	assert_string_equal(dlq.items[0].h_src_topic, "u.loop");
	assert_string_equal(dlq.items[0].h_src_partition, "0");
	assert_string_equal(dlq.items[0].h_src_offset, "2");
	assert_string_equal(dlq.items[0].h_trace, "trace-1");
	assert_string_equal(dlq.items[1].value, "m6");
	assert_string_equal(dlq.items[1].h_error, "db write failed");
	assert_string_equal(dlq.items[1].h_count, "3");
	assert_string_equal(dlq.items[1].h_src_offset, "6");

	/* everything was committed: the same group goes on with a new message */
	produce_values(mk->brokers, "u.loop", 1);
	memset(&col, 0, sizeof col);
	col.want = 1;
	kc = consumer(mk->brokers, "g.loop", "u.loop", &col);
	assert_int_equal(tu_run(kc, &col, 30000), 0);
	kafka_consumer_free(kc);
	assert_int_equal(col.n, 1);
	assert_string_equal(col.items[0].value, "m0");
	assert_int_equal(col.items[0].offset, 10);
}

/* The stop flag during an endless outage: the message is left uncommitted. */
static int always_down(struct tu_collector *c, const struct kafka_message *m, char *err,
		       size_t errlen)
{
	(void)err;
	(void)errlen;
	if (strcmp(c->items[c->n - 1].value, "m1") == 0) {
		if (m->attempt >= 5)
			c->stop = 1;
		return UTIL_EUNAVAIL;
	}
	return 0;
}

static void test_consumer_stop_during_outage(void **state)
{
	struct mock *mk = *state;
	static struct tu_collector col;
	struct kafka_consumer *kc;

	assert_int_equal(rd_kafka_mock_topic_create(mk->mc, "u.out", 1, 1), 0);
	assert_int_equal(rd_kafka_mock_topic_create(mk->mc, "u.out.dlq", 1, 1), 0);
	produce_values(mk->brokers, "u.out", 3);
	memset(&col, 0, sizeof col);
	col.behaviour = always_down;
	kc = consumer(mk->brokers, "g.out", "u.out", &col);
	assert_int_equal(tu_run(kc, &col, 30000), 0);
	kafka_consumer_free(kc);
	assert_int_equal(col.n, 6); /* m0, then m1 five times; never DLQ'd */
	assert_string_equal(col.items[5].value, "m1");

	/* the next run starts again at m1 */
	memset(&col, 0, sizeof col);
	col.want = 2;
	kc = consumer(mk->brokers, "g.out", "u.out", &col);
	assert_int_equal(tu_run(kc, &col, 30000), 0);
	kafka_consumer_free(kc);
	assert_int_equal(col.n, 2);
	assert_string_equal(col.items[0].value, "m1");
	assert_int_equal(col.items[0].attempt, 1);
	assert_string_equal(col.items[1].value, "m2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_producer_delivery),
		cmocka_unit_test(test_producer_timeout_report),
		cmocka_unit_test(test_consumer_retry_and_dlq),
		cmocka_unit_test(test_consumer_stop_during_outage),
	};
	slog_init("kafka-test", SLOG_WARN);
	return cmocka_run_group_tests(tests, mock_setup, mock_teardown);
}
