/*
 * kafka_testutil.c - collecting handler, watchdog and names for the Kafka
 * tests.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kafka_testutil.h"
#include "util/ids.h"

static void copy_bytes(char *out, size_t outlen, const void *p, size_t len)
{
	if (len >= outlen)
		len = outlen - 1;
	if (p && len)
		memcpy(out, p, len);
	out[len] = '\0';
}

static void copy_header(const struct kafka_message *m, const char *name, char *out,
			size_t outlen)
{
	const void *v;
	size_t len;

	if (kafka_message_header(m, name, &v, &len))
		copy_bytes(out, outlen, v, len);
	else
		out[0] = '\0';
}

int tu_collect(void *ud, const struct kafka_message *m, char *err, size_t errlen)
{
	struct tu_collector *c = ud;
	struct tu_item *it;
	int rc = 0;

	if (c->n >= TU_MAX_ITEMS)
		return -1;
	it = &c->items[c->n++];
	memset(it, 0, sizeof *it);
	snprintf(it->topic, sizeof it->topic, "%s", m->topic);
	it->partition = m->partition;
	it->offset = m->offset;
	it->attempt = m->attempt;
	copy_bytes(it->key, sizeof it->key, m->key, m->key_len);
	copy_bytes(it->value, sizeof it->value, m->value, m->value_len);
	copy_header(m, "simpul-error", it->h_error, sizeof it->h_error);
	copy_header(m, "simpul-error-count", it->h_count, sizeof it->h_count);
	copy_header(m, "simpul-source-topic", it->h_src_topic, sizeof it->h_src_topic);
	copy_header(m, "simpul-source-partition", it->h_src_partition,
		    sizeof it->h_src_partition);
	copy_header(m, "simpul-source-offset", it->h_src_offset, sizeof it->h_src_offset);
	copy_header(m, "simpul-trace-id", it->h_trace, sizeof it->h_trace);
	if (c->behaviour)
		rc = c->behaviour(c, m, err, errlen);
	if (rc == 0) {
		c->successes++;
		if (c->want && c->successes >= c->want)
			c->stop = 1;
	}
	return rc;
}

struct watchdog {
	struct tu_collector *col;
	int timeout_ms;
	volatile int done;
};

static void *watchdog_main(void *arg)
{
	struct watchdog *w = arg;
	int64_t end = util_mono_us() + (int64_t)w->timeout_ms * 1000;

	while (!w->done && util_mono_us() < end) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (!w->done)
		w->col->stop = 1;
	return NULL;
}

int tu_run(struct kafka_consumer *kc, struct tu_collector *col, int timeout_ms)
{
	struct watchdog w = { col, timeout_ms, 0 };
	pthread_t th;
	char err[256];
	int rc;

	pthread_create(&th, NULL, watchdog_main, &w);
	rc = kafka_consumer_run(kc, &col->stop, err, sizeof err);
	w.done = 1;
	pthread_join(th, NULL);
	if (rc)
		fprintf(stderr, "consumer run: %s\n", err);
	return rc;
}

void tu_unique(char *out, size_t outlen, const char *prefix)
{
	char t[UTIL_TRACE_STRLEN + 1];

	util_trace_id(t);
	t[12] = '\0';
	snprintf(out, outlen, "%s%s", prefix, t);
}

int tu_find_value(const struct tu_collector *c, const char *value)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->items[i].value, value) == 0)
			return (int)i;
	return -1;
}
