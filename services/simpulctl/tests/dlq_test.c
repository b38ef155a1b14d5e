/*
 * dlq_test.c - "simpulctl dlq" against the real Kafka (SIMPUL_KAFKA_BROKERS):
 * a poison record on a test topic is dead-lettered by libs/kafka's consumer
 * loop (the real DLQ writer), then dlq list / show / replay --dry-run / replay
 * are run as the binary; the record must come back to its source topic
 * exactly once, with its key, value and original headers and without the
 * DLQ ones, and a second replay must do nothing.
 * Usage: simpulctl_dlq_test PATH_TO_SIMPULCTL
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>

#include <events/meta.h>
#include <kafka/admin.h>
#include <kafka/consumer.h>
#include <kafka/producer.h>
#include <util/err.h>
#include <util/ids.h>

#define OUT_MAX (64 * 1024)
#define EVENT_ID "0b9e4c1e-5f0e-4d52-9f57-1c2f3a4b5c6d"

static const char *bin;
static const char *brokers = "127.0.0.1:59092";
static char src[96], dlq[128], out[OUT_MAX];
static char err[512];

/* Runs "simpulctl ARGS" (a shell-safe string); stdout+stderr in out. */
static int ctl(const char *fmt, ...)
{
	char args[512], cmd[1024];
	va_list ap;
	FILE *p;
	size_t n;
	int st;

	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", bin, args);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, OUT_MAX - 1, p);
	out[n] = '\0';
	st = pclose(p);
	fprintf(stderr, "$ simpulctl %s\n%s", args, out);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int poison(void *ud, const struct kafka_message *m, char *e, size_t elen)
{
	(void)ud;
	(void)m;
	snprintf(e, elen, "test poison: unparseable payload");
	return UTIL_EINVAL;
}

struct runner {
	struct kafka_consumer *c;
	volatile sig_atomic_t stop;
	int rc;
};

static void *run_thread(void *arg)
{
	struct runner *r = arg;
	char e[256];

	r->rc = kafka_consumer_run(r->c, &r->stop, e, sizeof e);
	return NULL;
}

/* Produces one record to src and lets the real consumer loop dead-letter it. */
static void dead_letter_one(void)
{
	const struct kafka_header h[] = {
	    {EVENTS_HEADER_EVENT_ID, EVENT_ID, strlen(EVENT_ID)},
	    {EVENTS_HEADER_TRACE_ID, "trace-dlq-test", 14},
	};
	struct kafka_producer_config pc = {.brokers = brokers, .client_id = "dlq-test"};
	struct kafka_producer *p = kafka_producer_new(&pc, err, sizeof err);
	const char *topics[] = {src};
	char group[128];
	struct kafka_consumer_config cc = {.brokers = brokers,
	                                   .group_id = group,
	                                   .topics = topics,
	                                   .ntopics = 1,
	                                   .handle = poison};
	struct kafka_consumer_stats st = {0};
	struct runner r = {0};
	pthread_t th;

	assert_non_null(p);
	assert_int_equal(kafka_producer_send(p, src, "key-1", 5, "payload-1", 9, h, 2, NULL), 0);
	assert_int_equal(kafka_producer_flush(p, 30000), 0);
	kafka_producer_free(p);
	snprintf(group, sizeof group, "%s-group", src);
	r.c = kafka_consumer_new(&cc, err, sizeof err);
	assert_non_null(r.c);
	assert_int_equal(pthread_create(&th, NULL, run_thread, &r), 0);
	for (int i = 0; i < 600 && st.dead_lettered == 0; i++) {
		usleep(100 * 1000);
		kafka_consumer_stats(r.c, &st);
	}
	r.stop = 1;
	pthread_join(th, NULL);
	kafka_consumer_free(r.c);
	assert_int_equal(st.dead_lettered, 1);
}

struct seen {
	int n;
	char key[64], value[64], event_id[64], trace[64];
	int dlq_headers; /* simpul-error* / simpul-source-* headers found */
};

/* Reads every record of src partition-wise from the start into s. */
static void read_source(struct seen *s)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
	char es[256];
	int64_t lo, hi, want = 0;
	rd_kafka_t *rk;

	memset(s, 0, sizeof *s);
	assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", brokers, es, sizeof es), 0);
	/* assign() needs a group id even though nothing is committed. */
	assert_int_equal(rd_kafka_conf_set(conf, "group.id", "dlq-test-reader", es, sizeof es), 0);
	assert_int_equal(rd_kafka_conf_set(conf, "enable.auto.commit", "false", es, sizeof es), 0);
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, es, sizeof es);
	assert_non_null(rk);
	for (int part = 0; part < 2; part++) {
		assert_int_equal(rd_kafka_query_watermark_offsets(rk, src, part, &lo, &hi, 10000),
		                 0);
		want += hi - lo;
		if (hi > lo)
			rd_kafka_topic_partition_list_add(l, src, part)->offset = lo;
	}
	assert_int_equal(rd_kafka_assign(rk, l), 0);
	while (s->n < want) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 10000);
		rd_kafka_headers_t *h = NULL;
		const char *name;
		const void *v;
		size_t len;

		assert_non_null(m);
		if (m->err) {
			rd_kafka_message_destroy(m);
			continue;
		}
		s->n++;
		snprintf(s->key, sizeof s->key, "%.*s", (int)m->key_len, (const char *)m->key);
		snprintf(s->value, sizeof s->value, "%.*s", (int)m->len, (const char *)m->payload);
		for (size_t i = 0; !rd_kafka_message_headers(m, &h) &&
		                   !rd_kafka_header_get_all(h, i, &name, &v, &len);
		     i++) {
			if (!strcmp(name, EVENTS_HEADER_EVENT_ID))
				snprintf(s->event_id, sizeof s->event_id, "%.*s", (int)len,
				         (const char *)v);
			else if (!strcmp(name, EVENTS_HEADER_TRACE_ID))
				snprintf(s->trace, sizeof s->trace, "%.*s", (int)len,
				         (const char *)v);
			else if (!strncmp(name, "simpul-error", 12) ||
			         !strncmp(name, "simpul-source-", 14))
				s->dlq_headers++;
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_destroy(rk);
}

/* Runs "dlq replay DLQ EXTRA", expects says in its output and then
 * want records on the source topic (read into *s). */
static void replay_expect(const char *extra, const char *says, int want, struct seen *s)
{
	assert_int_equal(ctl("dlq replay %s %s", dlq, extra), 0);
	assert_non_null(strstr(out, says));
	read_source(s);
	assert_int_equal(s->n, want);
}

static int setup(void **state)
{
	char t[UTIL_TRACE_STRLEN + 1];
	struct kafka_topic_spec specs[2];

	(void)state;
	util_trace_id(t);
	t[12] = '\0';
	snprintf(src, sizeof src, "it.dlqctl.%s", t);
	snprintf(dlq, sizeof dlq, "%s.dlq", src);
	specs[0] = (struct kafka_topic_spec){src, 2, 1, false};
	specs[1] = (struct kafka_topic_spec){dlq, 1, 1, false};
	if (kafka_topics_ensure(brokers, specs, 2, 15000, NULL, err, sizeof err)) {
		fprintf(stderr, "dlq_test: cannot create topics (is the stack up?): %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	const char *names[] = {src, dlq};

	(void)state;
	if (kafka_topics_delete(brokers, names, 2, 15000, err, sizeof err))
		fprintf(stderr, "dlq_test: cleanup: %s\n", err);
	return 0;
}

static void test_usage(void **state)
{
	(void)state;
	assert_int_equal(ctl("dlq"), 2);
	assert_int_equal(ctl("dlq show not-a-dlq-topic"), 2);
	assert_int_equal(ctl("dlq replay %s --limit 0", dlq), 2);
	assert_int_equal(ctl("dlq show %s --dry-run", dlq), 2);
	assert_int_equal(ctl("dlq help"), 0);
	assert_non_null(strstr(out, "simpulctl-dlq-replay"));
	assert_int_equal(ctl("dlq show it.dlqctl.no-such-topic.dlq"), 1);
}

static void test_show_replay_once(void **state)
{
	char line[256];
	struct seen s;

	(void)state;
	dead_letter_one();

	assert_int_equal(ctl("dlq list"), 0);
	snprintf(line, sizeof line, "%-40s %4d %10d %10d %8d %10s %8d", dlq, 0, 0, 1, 1, "-", 1);
	assert_non_null(strstr(out, line));

	assert_int_equal(ctl("dlq show %s", dlq), 0);
	assert_non_null(strstr(out, "replayed=no"));
	assert_non_null(strstr(out, "key:      key-1"));
	assert_non_null(strstr(out, "event-id: " EVENT_ID));
	assert_non_null(strstr(out, "error:    test poison: unparseable payload"));
	assert_non_null(strstr(out, "attempts: 1"));
	snprintf(line, sizeof line, "source:   %s [", src);
	assert_non_null(strstr(out, line));
	assert_non_null(strstr(out, "] @0"));

	/* A dry run neither produces nor commits. */
	replay_expect("--dry-run", "dry run: 1 record(s) would be replayed", 1, &s);
	replay_expect("", "replayed 1 record(s)", 2, &s); /* the original and the replay */
	assert_string_equal(s.key, "key-1");
	assert_string_equal(s.value, "payload-1");
	assert_string_equal(s.event_id, EVENT_ID);
	assert_string_equal(s.trace, "trace-dlq-test");
	assert_int_equal(s.dlq_headers, 0);
	/* The commit makes a second replay a no-op. */
	replay_expect("", "replayed 0 record(s)", 2, &s);
	assert_int_equal(ctl("dlq show %s", dlq), 0);
	assert_non_null(strstr(out, "replayed=yes"));
	assert_int_equal(ctl("dlq list"), 0);
	snprintf(line, sizeof line, "%-40s %4d %10d %10d %8d %10d %8d", dlq, 0, 0, 1, 1, 1, 0);
	assert_non_null(strstr(out, line));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_usage),
	    cmocka_unit_test(test_show_replay_once),
	};
	const char *b = getenv("SIMPUL_KAFKA_BROKERS");

	if (argc < 2) {
		fprintf(stderr, "usage: %s PATH_TO_SIMPULCTL\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	if (b && *b)
		brokers = b;
	return cmocka_run_group_tests(tests, setup, teardown);
}
