/*
 * kafka_integration_test.c - libs/kafka against the real broker
 * (SIMPUL_KAFKA_BROKERS, default 127.0.0.1:59092); fails loudly when it is
 * not reachable. Topics get a random suffix and are deleted afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "kafka/admin.h"
#include "kafka/consumer.h"
#include "kafka/producer.h"
#include "kafka_testutil.h"
#include "slog/slog.h"
#include "util/err.h"

static char *brokers;
static char t_main[64], t_main_dlq[80], t_compact[64], t_drain[64], t_drain_dlq[80];
static char t_retry[64], t_retry_dlq[80];
static char t_batch[64], t_batch_dlq[80], t_poison[64], t_poison_dlq[80];
static char t_crash[64], t_crash_dlq[80];
static const char *self_exe;

static int delivered_ok;
static int delivered_fail;

static void on_report(void *ud, void *opaque, int err, const char *errstr)
{
	(void)ud;
	(void)opaque;
	if (err) {
		fprintf(stderr, "delivery failed: %s\n", errstr);
		delivered_fail++;
	} else {
		delivered_ok++;
	}
}

static int setup(void **state)
{
	char err[1024];
	const struct config_item cfg[] = {
		{ "SIMPUL_KAFKA_BROKERS", CONFIG_STRING, "127.0.0.1:59092", 1, 4096, false,
		  &brokers, "Kafka brokers" },
	};
	char base[40];

	(void)state;
	if (config_load(cfg, 1, err, sizeof err)) {
		fprintf(stderr, "bad configuration: %s\n", err);
		return -1;
	}
	if (kafka_ping(brokers, 10000, err, sizeof err)) {
		fprintf(stderr, "KAFKA NOT REACHABLE (start it with deploy/stack infra): %s\n",
			err);
		return -1;
	}
	tu_unique(base, sizeof base, "it.kafka.");
	snprintf(t_main, sizeof t_main, "%s.main", base);
	snprintf(t_main_dlq, sizeof t_main_dlq, "%s.dlq", t_main);
	snprintf(t_compact, sizeof t_compact, "%s.compact", base);
	snprintf(t_drain, sizeof t_drain, "%s.drain", base);
	snprintf(t_drain_dlq, sizeof t_drain_dlq, "%s.dlq", t_drain);
	snprintf(t_retry, sizeof t_retry, "%s.retry", base);
	snprintf(t_retry_dlq, sizeof t_retry_dlq, "%s.dlq", t_retry);
	snprintf(t_batch, sizeof t_batch, "%s.batch", base);
	snprintf(t_batch_dlq, sizeof t_batch_dlq, "%s.dlq", t_batch);
	snprintf(t_poison, sizeof t_poison, "%s.poison", base);
	snprintf(t_poison_dlq, sizeof t_poison_dlq, "%s.dlq", t_poison);
	snprintf(t_crash, sizeof t_crash, "%s.crash", base);
	snprintf(t_crash_dlq, sizeof t_crash_dlq, "%s.dlq", t_crash);
	return 0;
}

static int teardown(void **state)
{
	const char *names[] = { t_main,	 t_main_dlq,   t_compact, t_drain,   t_drain_dlq,
				t_retry, t_retry_dlq,  t_batch,	  t_batch_dlq, t_poison,
				t_poison_dlq, t_crash, t_crash_dlq };
	char err[1024];
	int rc;

	(void)state;
	rc = kafka_topics_delete(brokers, names, sizeof names / sizeof names[0], 15000, err,
				 sizeof err);
	if (rc)
		fprintf(stderr, "topic cleanup failed: %s\n", err);
	free(brokers);
	return rc ? -1 : 0;
}

static void test_ping(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(kafka_ping(brokers, 5000, err, sizeof err), 0);
	assert_int_equal(kafka_ping("127.0.0.1:1", 1500, err, sizeof err), UTIL_EUNAVAIL);
}

static void test_topics_ensure_idempotent(void **state)
{
	const struct kafka_topic_spec specs[] = {
		{ t_main, 3, 1, false },     { t_main_dlq, 1, 1, false },
		{ t_compact, 2, 1, true },   { t_drain, 3, 1, false },
		{ t_drain_dlq, 1, 1, false }, { t_retry, 1, 1, false },
		{ t_retry_dlq, 1, 1, false }, { t_batch, 3, 1, false },
		{ t_batch_dlq, 1, 1, false }, { t_poison, 1, 1, false },
		{ t_poison_dlq, 1, 1, false }, { t_crash, 1, 1, false },
		{ t_crash_dlq, 1, 1, false },
	};
	const size_t n = sizeof specs / sizeof specs[0];
	enum kafka_topic_result res[sizeof specs / sizeof specs[0]];
	struct kafka_topic_info *ti = NULL;
	size_t nti = 0, seen = 0;
	char err[1024];

	(void)state;
	assert_int_equal(kafka_topics_ensure(brokers, specs, n, 15000, res, err, sizeof err), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(res[i], KAFKA_TOPIC_CREATED);
	assert_int_equal(kafka_topics_ensure(brokers, specs, n, 15000, res, err, sizeof err), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(res[i], KAFKA_TOPIC_EXISTED);
	assert_int_equal(kafka_topics_list(brokers, 10000, &ti, &nti, err, sizeof err), 0);
	for (size_t i = 0; i < nti; i++) {
		if (strcmp(ti[i].name, t_main) == 0) {
			assert_int_equal(ti[i].partitions, 3);
			seen++;
		} else if (strcmp(ti[i].name, t_compact) == 0) {
			assert_int_equal(ti[i].partitions, 2);
			seen++;
		}
		assert_true(strncmp(ti[i].name, "__", 2) != 0);
	}
	free(ti);
	assert_int_equal(seen, 2);
	/* an existing topic with another partition count is reported, not
	 * taken as "existed" (nothing is changed on the broker) */
	const struct kafka_topic_spec other[] = { { t_main, 3, 1, false },
						  { t_compact, 4, 1, true } };
	err[0] = '\0';
	assert_int_equal(kafka_topics_ensure(brokers, other, 2, 15000, res, err, sizeof err),
			 UTIL_ECONFLICT);
	assert_int_equal(res[0], KAFKA_TOPIC_EXISTED);
	assert_int_equal(res[1], KAFKA_TOPIC_MISMATCH);
	assert_non_null(strstr(err, t_compact));
	assert_non_null(strstr(err, "2 partitions"));
	assert_null(strstr(err, t_main));
	/* a bad spec is refused before anything is sent */
	const struct kafka_topic_spec bad = { "", 1, 1, false };
	assert_int_equal(kafka_topics_ensure(brokers, &bad, 1, 5000, NULL, err, sizeof err),
			 UTIL_EINVAL);
}

/* Produces n messages, keys k0..k(nkeys-1), values "<key>:<seq>", with headers. */
static void produce(const char *topic, int n, int nkeys, const char *tag)
{
	struct kafka_producer_config pc = { .brokers = brokers, .on_delivery = on_report };
	struct kafka_producer *p;
	char err[256], key[16], val[64];

	p = kafka_producer_new(&pc, err, sizeof err);
	assert_non_null(p);
	assert_true(kafka_producer_ready(p, 5000));
	delivered_ok = delivered_fail = 0;
	for (int i = 0; i < n; i++) {
		struct kafka_header h[] = { { "simpul-trace-id", tag, strlen(tag) },
					    { "seq", &i, sizeof i } };
		snprintf(key, sizeof key, "k%d", i % nkeys);
		snprintf(val, sizeof val, "%s:%d", key, i);
		int rc;
		while ((rc = kafka_producer_send(p, topic, key, strlen(key), val, strlen(val), h,
						 2, NULL)) == UTIL_EUNAVAIL)
			kafka_producer_poll(p, 10);
		assert_int_equal(rc, 0);
		kafka_producer_poll(p, 0);
	}
	assert_int_equal(kafka_producer_flush(p, 30000), 0);
	assert_int_equal(delivered_ok, n);
	assert_int_equal(delivered_fail, 0);
	kafka_producer_free(p);
}

static struct kafka_consumer *consumer(const char *group, const char *topic,
				       struct tu_collector *col)
{
	const char *topics[] = { topic };
	struct kafka_consumer_config cc = {
		.brokers = brokers, .group_id = group, .topics = topics, .ntopics = 1,
		.handle = tu_collect, .ud = col, .max_retries = 1,
		.backoff_initial_ms = 20, .backoff_max_ms = 200,
	};
	char err[256];
	struct kafka_consumer *kc = kafka_consumer_new(&cc, err, sizeof err);

	if (!kc)
		fprintf(stderr, "consumer: %s\n", err);
	assert_non_null(kc);
	return kc;
}

/* Sequence of "kX:seq" per key must increase. */
static void check_order_per_key(const struct tu_collector *col, int nkeys)
{
	int last[16];

	for (int k = 0; k < nkeys; k++)
		last[k] = -1;
	for (size_t i = 0; i < col->n; i++) {
		int k = -1, seq = -1;
		assert_int_equal(sscanf(col->items[i].value, "k%d:%d", &k, &seq), 2);
		assert_true(k >= 0 && k < nkeys);
		assert_true(seq > last[k]);
		last[k] = seq;
	}
}

/* k3:13 is poison; everything else passes. */
static int poison_13(struct tu_collector *c, const struct kafka_message *m, char *err,
		     size_t errlen)
{
	(void)m;
	if (strcmp(c->items[c->n - 1].value, "k3:13") == 0)
		return util_err_set(err, errlen, UTIL_EINVAL, "unparseable payload");
	return 0;
}

static void test_produce_consume_dlq(void **state)
{
	static struct tu_collector col, dlq;
	char group[64];
	struct kafka_consumer *kc;

	(void)state;
	produce(t_main, 200, 5, "trace-main");
	memset(&col, 0, sizeof col);
	col.behaviour = poison_13;
	col.want = 199;
	tu_unique(group, sizeof group, "it.group.");
	kc = consumer(group, t_main, &col);
	assert_int_equal(tu_run(kc, &col, 60000), 0);
	kafka_consumer_free(kc);
	assert_int_equal(col.successes, 199);
	assert_int_equal(col.n, 200); /* every message once, the poison one too */
	check_order_per_key(&col, 5);
	assert_string_equal(col.items[0].h_trace, "trace-main");

	memset(&dlq, 0, sizeof dlq);
	dlq.want = 1;
	kc = consumer(group, t_main_dlq, &dlq);
	assert_int_equal(tu_run(kc, &dlq, 60000), 0);
	kafka_consumer_free(kc);
	assert_int_equal(dlq.n, 1);
	assert_string_equal(dlq.items[0].value, "k3:13");
	assert_string_equal(dlq.items[0].key, "k3");
	assert_string_equal(dlq.items[0].h_error, "unparseable payload");
	assert_string_equal(dlq.items[0].h_count, "1");
	assert_string_equal(dlq.items[0].h_src_topic, t_main);
	assert_string_equal(dlq.items[0].h_trace, "trace-main");
	int src = tu_find_value(&col, "k3:13");
	char off[24];
	snprintf(off, sizeof off, "%" PRId64, col.items[src].offset);
	assert_string_equal(dlq.items[0].h_src_offset, off);

	/* lag of the group is zero on the main topic */
	struct kafka_partition_lag *l = NULL;
	size_t nl = 0;
	char err[256];
	const char *topics[] = { t_main };
	assert_int_equal(kafka_group_lag(brokers, group, topics, 1, 10000, &l, &nl, err,
					 sizeof err), 0);
	int64_t total = 0, nmain = 0;
	for (size_t i = 0; i < nl; i++)
		if (strcmp(l[i].topic, t_main) == 0) {
			total += l[i].lag;
			nmain++;
		}
	free(l);
	assert_int_equal(nmain, 3);
	assert_int_equal(total, 0);
}

/* Down for the first three tries of k0:2, then fine. */
static int flaky(struct tu_collector *c, const struct kafka_message *m, char *err,
		 size_t errlen)
{
	(void)err;
	(void)errlen;
	if (strcmp(c->items[c->n - 1].value, "k0:2") == 0 && m->attempt <= 3)
		return UTIL_EUNAVAIL;
	return 0;
}

static void test_eunavail_retries_same_message(void **state)
{
	static struct tu_collector col;
	char group[64];
	struct kafka_consumer *kc;
	const char *expect[] = { "k0:0", "k0:1", "k0:2", "k0:2", "k0:2", "k0:2", "k0:3", "k0:4" };

	(void)state;
	produce(t_retry, 5, 1, "trace-retry");
	memset(&col, 0, sizeof col);
	col.behaviour = flaky;
	col.want = 5;
	tu_unique(group, sizeof group, "it.group.");
	kc = consumer(group, t_retry, &col);
	assert_int_equal(tu_run(kc, &col, 60000), 0);
	kafka_consumer_free(kc);
	assert_int_equal(col.n, 8);
	for (size_t i = 0; i < col.n; i++)
		assert_string_equal(col.items[i].value, expect[i]);
	assert_int_equal(col.items[5].attempt, 4);
}

static void test_stop_drains_and_resumes(void **state)
{
	static struct tu_collector first, second;
	char group[64], err[256];
	struct kafka_consumer *kc;
	struct kafka_partition_lag *l = NULL;
	size_t nl = 0;
	const char *topics[] = { t_drain };

	(void)state;
	produce(t_drain, 60, 6, "trace-drain");
	tu_unique(group, sizeof group, "it.group.");
	memset(&first, 0, sizeof first);
	first.want = 25; /* the stop flag is raised inside the 25th handler call */
	kc = consumer(group, t_drain, &first);
	assert_int_equal(tu_run(kc, &first, 60000), 0);
	kafka_consumer_free(kc);
	assert_int_equal(first.n, 25);

	/* committed on stop: lag is exactly what is left */
	assert_int_equal(kafka_group_lag(brokers, group, topics, 1, 10000, &l, &nl, err,
					 sizeof err), 0);
	int64_t lag = 0;
	for (size_t i = 0; i < nl; i++)
		lag += l[i].lag;
	free(l);
	assert_int_equal(lag, 35);

	memset(&second, 0, sizeof second);
	second.want = 35;
	kc = consumer(group, t_drain, &second);
	assert_int_equal(tu_run(kc, &second, 60000), 0);
	kafka_consumer_free(kc);
	assert_int_equal(second.n, 35);
	/* no loss, no re-delivery: the union is every message exactly once */
	for (int i = 0; i < 60; i++) {
		char v[32];
		snprintf(v, sizeof v, "k%d:%d", i % 6, i);
		int a = tu_find_value(&first, v) >= 0, b = tu_find_value(&second, v) >= 0;
		if (a + b != 1)
			fail_msg("message %s seen %d times", v, a + b);
	}
	check_order_per_key(&first, 6);
	check_order_per_key(&second, 6);
}

/* ---- batch mode ---------------------------------------------------------- */

/* A batch consumer's "database": values whose side effect committed, in
 * commit order (in col.items), and the scripted failures. */
struct batch_col {
	struct tu_collector col;     /* items = committed values; stop */
	size_t want;                 /* stop after this many commits (0: never) */
	const char *stop_value;      /* stop after committing this value */
	const char *poison;          /* this value is poison (UTIL_EINVAL) */
	int unavail_batches;         /* the first N batch calls report an outage */
	int unavail_single;          /* single calls report an outage up to this attempt */
	int crash_on_batch;          /* child: _exit right after committing this batch call */
	FILE *out;                   /* child: "<batch call> <value>" per commit */
	int batch_calls, single_calls;
	size_t max_batch;
};

static bool value_is(const struct kafka_message *m, const char *v)
{
	return v && m->value_len == strlen(v) && memcmp(m->value, v, m->value_len) == 0;
}

static void bc_commit(struct batch_col *bc, const struct kafka_message *m)
{
	struct tu_item *it = &bc->col.items[bc->col.n++];

	memset(it, 0, sizeof *it);
	snprintf(it->value, sizeof it->value, "%.*s", (int)m->value_len, (const char *)m->value);
	it->partition = m->partition;
	it->offset = m->offset;
	if (bc->out) {
		fprintf(bc->out, "%d %s\n", bc->batch_calls, it->value);
		fflush(bc->out);
	}
	if ((bc->want && bc->col.n >= bc->want) || value_is(m, bc->stop_value))
		bc->col.stop = 1;
}

/* All or nothing, like one PostgreSQL transaction. */
static int bc_batch(void *ud, const struct kafka_message *msgs, size_t n, char *err,
		    size_t errlen)
{
	struct batch_col *bc = ud;

	bc->batch_calls++;
	if (n > bc->max_batch)
		bc->max_batch = n;
	if (bc->batch_calls <= bc->unavail_batches)
		return util_err_set(err, errlen, UTIL_EUNAVAIL, "database down");
	for (size_t i = 0; i < n; i++) {
		if (msgs[i].attempt != 1 || bc->col.n + n > TU_MAX_ITEMS)
			return util_err_set(err, errlen, UTIL_EIO, "unexpected batch");
		if (value_is(&msgs[i], bc->poison))
			return util_err_set(err, errlen, UTIL_EINVAL, "poison in batch");
	}
	for (size_t i = 0; i < n; i++)
		bc_commit(bc, &msgs[i]);
	if (bc->crash_on_batch && bc->batch_calls == bc->crash_on_batch)
		_exit(3); /* committed, offsets never stored */
	return 0;
}

static int bc_single(void *ud, const struct kafka_message *m, char *err, size_t errlen)
{
	struct batch_col *bc = ud;

	bc->single_calls++;
	if (value_is(m, bc->poison))
		return util_err_set(err, errlen, UTIL_EINVAL, "unparseable payload");
	if (m->attempt <= bc->unavail_single)
		return util_err_set(err, errlen, UTIL_EUNAVAIL, "database down");
	if (bc->col.n >= TU_MAX_ITEMS)
		return UTIL_EIO;
	bc_commit(bc, m);
	return 0;
}

static struct kafka_consumer *batch_consumer(const char *b, const char *group, const char *topic,
					     struct batch_col *bc, int batch_max)
{
	const char *topics[] = { topic };
	struct kafka_consumer_config cc = {
		.brokers = b, .group_id = group, .topics = topics, .ntopics = 1,
		.handle = bc_single, .handle_batch = bc_batch, .batch_max = batch_max,
		.ud = bc, .max_retries = 1, .backoff_initial_ms = 20, .backoff_max_ms = 200,
	};
	char err[256];
	struct kafka_consumer *kc = kafka_consumer_new(&cc, err, sizeof err);

	if (!kc)
		fprintf(stderr, "batch consumer: %s\n", err);
	return kc;
}

static int64_t group_lag(const char *group, const char *topic)
{
	struct kafka_partition_lag *l = NULL;
	size_t nl = 0;
	char err[256];
	const char *topics[] = { topic };
	int64_t lag = 0;

	assert_int_equal(kafka_group_lag(brokers, group, topics, 1, 10000, &l, &nl, err,
					 sizeof err), 0);
	for (size_t i = 0; i < nl; i++)
		if (strcmp(l[i].topic, topic) == 0)
			lag += l[i].lag;
	free(l);
	return lag;
}

/* Every "k<i%nkeys>:<i>" for i < n committed exactly once. */
static void check_exactly_once(const struct tu_collector *col, int n, int nkeys, const char *skip)
{
	for (int i = 0; i < n; i++) {
		char v[32];
		int seen = 0;

		snprintf(v, sizeof v, "k%d:%d", i % nkeys, i);
		for (size_t k = 0; k < col->n; k++)
			seen += strcmp(col->items[k].value, v) == 0;
		if (seen != (skip && strcmp(v, skip) == 0 ? 0 : 1))
			fail_msg("message %s committed %d times", v, seen);
	}
}

/* Runs a batch consumer over topic in a new group (its name into group)
 * until bc stops it; the consumer's counters into st. */
static void run_batch(struct batch_col *bc, const char *topic, int batch_max, char *group,
		      size_t glen, struct kafka_consumer_stats *st)
{
	struct kafka_consumer *kc;

	tu_unique(group, glen, "it.group.");
	kc = batch_consumer(brokers, group, topic, bc, batch_max);
	assert_non_null(kc);
	assert_int_equal(tu_run(kc, &bc->col, 60000), 0);
	kafka_consumer_stats(kc, st);
	kafka_consumer_free(kc);
}

static void test_batch_commits_then_stores(void **state)
{
	static struct batch_col bc;
	struct kafka_consumer_stats st;
	char group[64];

	(void)state;
	produce(t_batch, 300, 6, "trace-batch");
	memset(&bc, 0, sizeof bc);
	bc.want = 300;
	run_batch(&bc, t_batch, 64, group, sizeof group, &st);
	check_exactly_once(&bc.col, 300, 6, NULL);
	check_order_per_key(&bc.col, 6);
	assert_true(bc.max_batch > 1 && bc.max_batch <= 64);
	assert_int_equal(bc.single_calls, 0);
	assert_int_equal(st.processed, 300);
	assert_int_equal(st.batches, (uint64_t)bc.batch_calls);
	assert_int_equal(st.batch_fallbacks, 0);
	/* stored after each batch, committed on close: nothing left */
	assert_int_equal(group_lag(group, t_batch), 0);
}

/* An outage inside a batch: the batch is redone one by one, each message
 * retried until the outage ends (2 attempts here); nothing is dead-lettered. */
static void test_batch_outage_falls_back(void **state)
{
	static struct batch_col bc;
	struct kafka_consumer_stats st;
	char group[64];

	(void)state;
	memset(&bc, 0, sizeof bc);
	bc.want = 300; /* t_batch again, in a new group */
	bc.unavail_batches = 1;
	bc.unavail_single = 2;
	run_batch(&bc, t_batch, 64, group, sizeof group, &st);
	check_exactly_once(&bc.col, 300, 6, NULL);
	check_order_per_key(&bc.col, 6);
	assert_int_equal(st.batch_fallbacks, 1);
	assert_int_equal(st.dead_lettered, 0);
	assert_true(st.retried >= 2);
	assert_true(st.batches >= 1);
	assert_int_equal(group_lag(group, t_batch), 0);
}

/* A poison message inside a batch goes to the DLQ; the others commit once. */
static void test_batch_poison_to_dlq(void **state)
{
	static struct batch_col bc;
	static struct tu_collector dlq;
	struct kafka_consumer_stats st;
	struct kafka_consumer *kc;
	char group[64];

	(void)state;
	produce(t_poison, 50, 5, "trace-poison");
	memset(&bc, 0, sizeof bc);
	bc.want = 49;
	bc.poison = "k3:13";
	run_batch(&bc, t_poison, 500, group, sizeof group, &st);
	check_exactly_once(&bc.col, 50, 5, "k3:13");
	check_order_per_key(&bc.col, 5);
	assert_true(st.batch_fallbacks >= 1);
	assert_int_equal(st.dead_lettered, 1);
	assert_int_equal(st.processed, 49);
	assert_int_equal(group_lag(group, t_poison), 0);

	memset(&dlq, 0, sizeof dlq);
	dlq.want = 1;
	kc = consumer(group, t_poison_dlq, &dlq);
	assert_int_equal(tu_run(kc, &dlq, 60000), 0);
	kafka_consumer_free(kc);
	assert_int_equal(dlq.n, 1);
	assert_string_equal(dlq.items[0].value, "k3:13");
	assert_string_equal(dlq.items[0].h_error, "unparseable payload");
	assert_string_equal(dlq.items[0].h_src_topic, t_poison);
	assert_string_equal(dlq.items[0].h_trace, "trace-poison");
}

/* Child process: consumes t_crash in batches of 10 and dies (_exit) right
 * after its 2nd batch committed, before the offsets are stored. */
static int crash_child(const char *b, const char *group, const char *topic, const char *out)
{
	static struct batch_col bc;
	struct kafka_consumer *kc;

	memset(&bc, 0, sizeof bc);
	bc.crash_on_batch = 2;
	bc.out = fopen(out, "w");
	if (!bc.out)
		return 1;
	kc = batch_consumer(b, group, topic, &bc, 10);
	if (!kc)
		return 1;
	(void)tu_run(kc, &bc.col, 60000);
	return 2; /* never reached the crash */
}

/* A crash mid-batch: the batch's messages are delivered again after a restart. */
static void test_batch_crash_redelivers(void **state)
{
	static struct batch_col bc;
	char group[64], out[128], line[64];
	char *argv[7];
	struct kafka_consumer *kc;
	int status = 0, crashed = 0;
	pid_t pid;
	FILE *f;

	(void)state;
	produce(t_crash, 40, 4, "trace-crash");
	tu_unique(group, sizeof group, "it.group.");
	snprintf(out, sizeof out, "/tmp/%s.out", group);
	argv[0] = (char *)self_exe;
	argv[1] = (char *)"--crash-child";
	argv[2] = brokers;
	argv[3] = group;
	argv[4] = t_crash;
	argv[5] = out;
	argv[6] = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execv(self_exe, argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 3);

	memset(&bc, 0, sizeof bc);
	bc.stop_value = "k3:39"; /* the last offset of the one partition */
	kc = batch_consumer(brokers, group, t_crash, &bc, 10);
	assert_non_null(kc);
	assert_int_equal(tu_run(kc, &bc.col, 60000), 0);
	kafka_consumer_free(kc);
	check_order_per_key(&bc.col, 4);
	/* every message of the crashed batch is delivered again */
	f = fopen(out, "r");
	assert_non_null(f);
	while (fgets(line, sizeof line, f)) {
		int call = 0;
		char v[32];

		assert_int_equal(sscanf(line, "%d %31s", &call, v), 2);
		if (call != 2)
			continue;
		crashed++;
		if (tu_find_value(&bc.col, v) < 0)
			fail_msg("%s of the crashed batch was not re-delivered", v);
	}
	fclose(f);
	unlink(out);
	assert_true(crashed >= 1);
	/* nothing lost: the restart reaches the end with nothing skipped after its start */
	assert_string_equal(bc.col.items[bc.col.n - 1].value, "k3:39");
	assert_int_equal(bc.col.items[bc.col.n - 1].offset - bc.col.items[0].offset + 1,
			 (int64_t)bc.col.n);
	assert_true(bc.col.items[0].offset <= 10); /* at most batch 1 was committed */
	assert_int_equal(group_lag(group, t_crash), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ping),
		cmocka_unit_test(test_topics_ensure_idempotent),
		cmocka_unit_test(test_produce_consume_dlq),
		cmocka_unit_test(test_eunavail_retries_same_message),
		cmocka_unit_test(test_stop_drains_and_resumes),
		cmocka_unit_test(test_batch_commits_then_stores),
		cmocka_unit_test(test_batch_outage_falls_back),
		cmocka_unit_test(test_batch_poison_to_dlq),
		cmocka_unit_test(test_batch_crash_redelivers),
	};
	slog_init("kafka-it", SLOG_WARN);
	self_exe = "/proc/self/exe";
	if (argc == 6 && strcmp(argv[1], "--crash-child") == 0)
		return crash_child(argv[2], argv[3], argv[4], argv[5]);
	return cmocka_run_group_tests(tests, setup, teardown);
}
