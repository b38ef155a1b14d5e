/*
 * kafka_fix_test.c - regression tests of libs/kafka against librdkafka's
 * mock cluster, with rd_kafka_consumer_poll wrapped at link time
 * (-Wl,--wrap) to learn the consumer's handle. Covers a late DLQ delivery
 * report counted for the wrong record and a fatal consumer error raised
 * during a retry wait.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "../src/dlq.h"
#include "kafka/consumer.h"
#include "kafka/producer.h"
#include "kafka_testutil.h"
#include "slog/slog.h"
#include "util/err.h"
#include "util/ids.h"

#define KAFKA_API_PRODUCE 0

/* ---- link-time wraps ---- */

rd_kafka_message_t *__real_rd_kafka_consumer_poll(rd_kafka_t *rk, int timeout_ms);
rd_kafka_message_t *__wrap_rd_kafka_consumer_poll(rd_kafka_t *rk, int timeout_ms);

static rd_kafka_t *_Atomic polled_rk;

rd_kafka_message_t *__wrap_rd_kafka_consumer_poll(rd_kafka_t *rk, int timeout_ms)
{
	atomic_store(&polled_rk, rk);
	return __real_rd_kafka_consumer_poll(rk, timeout_ms);
}

/* ---- mock cluster ---- */

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

static void produce_values(const char *brokers, const char *topic, int n)
{
	char err[256], v[32];
	struct kafka_header h = { "simpul-trace-id", "trace-1", 7 };
	struct kafka_producer_config pc = { .brokers = brokers, .message_timeout_ms = 10000 };
	struct kafka_producer *p = kafka_producer_new(&pc, err, sizeof err);

	assert_non_null(p);
	for (int i = 0; i < n; i++) {
		snprintf(v, sizeof v, "m%d", i);
		assert_int_equal(kafka_producer_send(p, topic, "key", 3, v, strlen(v), &h, 1, NULL),
				 0);
	}
	assert_int_equal(kafka_producer_flush(p, 10000), 0);
	kafka_producer_free(p);
}

static struct kafka_consumer *consumer(const char *brokers, const char *group,
				       const char *topic, struct tu_collector *col)
{
	char err[256];
	const char *topics[] = { topic };
	static const struct kafka_kv extra[] = { { "session.timeout.ms", "6000" },
						 { "heartbeat.interval.ms", "500" } };
	struct kafka_consumer_config cc = {
		.brokers = brokers, .group_id = group, .topics = topics, .ntopics = 1,
		.handle = tu_collect, .ud = col, .max_retries = 5,
		.backoff_initial_ms = 50, .backoff_max_ms = 100, .extra = extra, .nextra = 2,
	};
	struct kafka_consumer *kc = kafka_consumer_new(&cc, err, sizeof err);

	if (!kc)
		fprintf(stderr, "consumer: %s\n", err);
	assert_non_null(kc);
	return kc;
}

/* Reads n records of topic (partition 0) from the start with a plain consumer. */
static void fetch_records(const char *brokers, const char *topic, rd_kafka_message_t **out,
			  int n, rd_kafka_t **rkp)
{
	char errstr[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_t *rk;
	int got = 0;

	rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr);
	rd_kafka_conf_set(conf, "group.id", "fetch", errstr, sizeof errstr);
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
	assert_non_null(rk);
	rd_kafka_poll_set_consumer(rk);
	rd_kafka_topic_partition_list_add(l, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
	assert_int_equal(rd_kafka_assign(rk, l), 0);
	rd_kafka_topic_partition_list_destroy(l);
	for (int i = 0; i < 100 && got < n; i++) {
		rd_kafka_message_t *m = __real_rd_kafka_consumer_poll(rk, 100);

		if (m && !m->err)
			out[got++] = m;
		else if (m)
			rd_kafka_message_destroy(m);
	}
	assert_int_equal(got, n);
	*rkp = rk;
}

/* ---- tests ---- */

/*
 * After a DLQ send timed out, the late delivery report of that record must
 * not count as the acknowledgement of the next record (whose offset would
 * then be stored although it was never written: a lost message).
 */
static void test_dlq_late_report_not_counted(void **state)
{
	struct mock *mk = *state;
	rd_kafka_message_t *rec[2];
	struct kafka_dlq d;
	rd_kafka_t *frk;
	char err[256];
	int rc;

	assert_int_equal(rd_kafka_mock_topic_create(mk->mc, "u.h2", 1, 1), 0);
	assert_int_equal(rd_kafka_mock_topic_create(mk->mc, "u.h2.dlq", 1, 1), 0);
	produce_values(mk->brokers, "u.h2", 2);
	fetch_records(mk->brokers, "u.h2", rec, 2, &frk);
	assert_int_equal(kafka_dlq_init(&d, mk->brokers, "g.h2", NULL, err, sizeof err), 0);
	d.wait_ms = 500;
	/* record A is written, but its acknowledgement takes 2 s */
	assert_int_equal(rd_kafka_mock_broker_push_request_error_rtts(
				 mk->mc, 1, KAFKA_API_PRODUCE, 1, RD_KAFKA_RESP_ERR_NO_ERROR, 2000),
			 0);
	rc = kafka_dlq_send(&d, rec[0], "boom", 1, err, sizeof err);
	assert_int_equal(rc, UTIL_ETIMEOUT);
	/* record B cannot be written at all (no leader) */
	assert_int_equal(rd_kafka_mock_partition_set_leader(mk->mc, "u.h2.dlq", 0, -1), 0);
	d.wait_ms = 4000;
	rc = kafka_dlq_send(&d, rec[1], "boom", 1, err, sizeof err);
	if (rc == 0)
		fail_msg("record B reported delivered (by A's late report)");
	assert_int_equal(rd_kafka_mock_partition_set_leader(mk->mc, "u.h2.dlq", 0, 1), 0);
	kafka_dlq_release(&d);
	rd_kafka_message_destroy(rec[0]);
	rd_kafka_message_destroy(rec[1]);
	rd_kafka_consumer_close(frk);
	rd_kafka_destroy(frk);
}

/* m0 raises a fatal error on the consumer, then looks transient forever. */
static int fatal_then_down(struct tu_collector *c, const struct kafka_message *m, char *err,
			   size_t errlen)
{
	(void)c;
	(void)err;
	(void)errlen;
	if (m->attempt == 1)
		assert_int_equal(rd_kafka_test_fatal_error(atomic_load(&polled_rk),
							   RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID,
							   "test fatal"),
				 0);
	return UTIL_EUNAVAIL;
}

/* A fatal consumer error (even one raised during a retry wait) ends the loop. */
static void test_consumer_fatal_error_ends_run(void **state)
{
	struct mock *mk = *state;
	static struct tu_collector col;
	struct kafka_consumer *kc;
	int64_t t0;
	int rc;

	assert_int_equal(rd_kafka_mock_topic_create(mk->mc, "u.fatal", 1, 1), 0);
	produce_values(mk->brokers, "u.fatal", 2);
	memset(&col, 0, sizeof col);
	col.behaviour = fatal_then_down;
	kc = consumer(mk->brokers, "g.fatal", "u.fatal", &col);
	t0 = util_mono_us();
	rc = tu_run(kc, &col, 15000);
	assert_int_equal(rc, UTIL_EIO);
	assert_true(util_mono_us() - t0 < 10 * 1000 * 1000);
	kafka_consumer_free(kc); /* must not hang on the fatal state */
}

/* argv[1], if given, selects tests by name (cmocka pattern). */
int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dlq_late_report_not_counted),
		cmocka_unit_test(test_consumer_fatal_error_ends_run),
	};

	slog_init("kafka-fix-test", SLOG_ERROR);
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, mock_setup, mock_teardown);
}
