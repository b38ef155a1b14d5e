/*
 * bench/moderate/bench_kafka.c - end to end through Kafka: produces
 * ContentSubmitted events (articles as bodies) at a given rate to
 * kim.content.submitted.v1 and reads kim.content.moderated.v1 (own group,
 * from the end) until every one was decided. Reports decisions/s and the
 * latency from produce to the moderated event's arrival (p50, p99), and,
 * when MODERATE_BENCH_PID names the service, its CPU time over the run
 * (decisions per service CPU-second: the per-core figure on a shared box).
 * simpul-moderate must be running (bench/moderate/run starts one).
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "bench.h"
#include "db/db.h"
#include "events/codec.h"
#include "events/meta.h"
#include "events/topics.h"
#include "kafka/consumer.h"
#include "kafka/producer.h"
#include "mod_events.h"
#include "util/err.h"
#include "ts/ts.h"
#include "util/ids.h"

struct run {
	uint32_t tag;
	size_t n;
	int64_t *sent_us;  /* per item, 0 = not yet */
	double *lat_ms;
	size_t done;
	int64_t last_us;
	volatile sig_atomic_t stop;
	pthread_mutex_t mu;
	bool warm;
};

static void item_id(char out[37], uint32_t tag, uint64_t i)
{
	snprintf(out, 37, "%08x-0000-4000-8000-%012llx", tag,
		 (unsigned long long)(i & 0xffffffffffffULL));
}

static int on_moderated(void *ud, const struct kafka_message *m, char *err, size_t errlen)
{
	struct run *r = ud;
	unsigned tag;
	unsigned long long i;

	(void)err;
	(void)errlen;
	if (!m->key || m->key_len != 36 ||
	    sscanf((const char *)m->key, "%8x-0000-4000-8000-%12llx", &tag, &i) != 2 ||
	    tag != r->tag)
		return 0;
	pthread_mutex_lock(&r->mu);
	if (i >= 0xfff000000000ULL) {
		r->warm = true; /* a warm-up sentinel */
	} else if (i < r->n && r->sent_us[i] && r->lat_ms[i] == 0) {
		int64_t now = util_mono_us();

		r->lat_ms[i] = (double)(now - r->sent_us[i]) / 1000.0 + 1e-6;
		r->done++;
		r->last_us = now;
	}
	pthread_mutex_unlock(&r->mu);
	return 0;
}

struct reader {
	struct kafka_consumer *c;
	struct run *r;
};

static void *consume(void *p)
{
	struct reader *rd = p;
	char err[256];

	if (kafka_consumer_run(rd->c, &rd->r->stop, err, sizeof(err)) != 0)
		fprintf(stderr, "consumer: %s\n", err);
	return NULL;
}

static int send_one(struct kafka_producer *prod, const char *id, const char *title,
		    const char *body, const char *region)
{
	Simpul__V1__ContentSubmitted cs = SIMPUL__V1__CONTENT_SUBMITTED__INIT;
	Simpul__V1__Content c = SIMPUL__V1__CONTENT__INIT;
	struct events_meta_buf mb;
	struct events_headers hs;
	struct util_buf b;
	char err[128];
	int rc = events_meta_init(&mb, "content.submitted", "bench@localhost", NULL, err, sizeof(err));

	c.id = (char *)id;
	c.version = 1;
	c.type = SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_BERITA;
	c.title = (char *)title;
	c.body = (char *)body;
	c.region_code = (char *)region;
	c.submitted_at_ms = util_now_ms();
	cs.meta = &mb.meta;
	cs.content = &c;
	util_buf_init(&b, 0);
	rc = rc ? rc : events_pack(&cs.base, 0, &b, err, sizeof(err));
	while (rc == 0) {
		rc = kafka_producer_send(prod, EVENTS_TOPIC_CONTENT_SUBMITTED, id, 36, b.data, b.len,
					 hs.h, events_headers_from_meta(&hs, &mb.meta), NULL);
		if (rc != UTIL_EUNAVAIL)
			break;
		rc = 0;
		kafka_producer_poll(prod, 10);
	}
	util_buf_release(&b);
	return rc;
}

static bool wait_warm(struct run *r, struct kafka_producer *prod, const char *region)
{
	for (int k = 0; k < 60; k++) {
		char id[37];
		bool warm;

		item_id(id, r->tag, 0xfff000000000ULL + (uint64_t)k);
		if (send_one(prod, id, "warm up", "pemanasan", region) != 0)
			return false;
		for (int w = 0; w < 20; w++) {
			kafka_producer_poll(prod, 50);
			pthread_mutex_lock(&r->mu);
			warm = r->warm;
			pthread_mutex_unlock(&r->mu);
			if (warm)
				return true;
		}
	}
	return false;
}


/*
 * The decisions as stored in PostgreSQL, before the outbox relay: how many
 * of the run's items have a row, the rate from the first submission to the
 * last insert, and submitted->stored latency. Whoever inserted first counts
 * (the stack's own moderate consumes the same topic).
 */
static void report_stored(const struct run *r)
{
	static const char sql[] =
		"SELECT count(*), extract(epoch FROM max(created_at) - min(submitted_at)),"
		" percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM created_at -"
		"  submitted_at) * 1000),"
		" percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM created_at -"
		"  submitted_at) * 1000)"
		" FROM simpul.moderation_items WHERE item_id >= $1::uuid AND item_id < $2::uuid";
	const char *url = getenv("SIMPUL_PG_URL");
	char lo[37], hi[37], err[256];
	const char *v[2] = {lo, hi};
	struct db_conn *db = db_conn_new(url ? url : "postgresql://simpul@127.0.0.1:55432/simpul",
					 err, sizeof(err));
	PGresult *res = NULL;

	item_id(lo, r->tag, 0);
	item_id(hi, r->tag, r->n);
	if (db && db_exec(db, sql, 2, v, NULL, &res, err, sizeof(err)) == 0 &&
	    PQntuples(res) == 1 && !PQgetisnull(res, 0, 1)) {
		double secs = strtod(PQgetvalue(res, 0, 1), NULL);
		long long k = strtoll(PQgetvalue(res, 0, 0), NULL, 10);

		printf("stored (decision committed, before the outbox relay): %lld in %.2f s: %.0f "
		       "decisions/s; submitted->stored p50=%.1f ms p99=%.1f ms\n",
		       k, secs, secs > 0 ? (double)k / secs : 0.0,
		       strtod(PQgetvalue(res, 0, 2), NULL), strtod(PQgetvalue(res, 0, 3), NULL));
	} else {
		fprintf(stderr, "stored: cannot read: %s\n", err);
	}
	PQclear(res);
	db_conn_free(db);
}

static void report(struct run *r, int64_t t0, double rate)
{
	double secs = (double)(r->last_us - t0) / 1e6;
	double *lat = malloc(r->done * sizeof(double));
	size_t k = 0;

	for (size_t i = 0; lat && i < r->n; i++)
		if (r->lat_ms[i] > 0)
			lat[k++] = r->lat_ms[i];
	printf("kafka: %zu of %zu decided in %.2f s: %.0f decisions/s (offered %s)\n", r->done,
	       r->n, secs, (double)r->done / secs, rate > 0 ? "rate-limited" : "as fast as possible");
	printf("submitted->moderated latency: p50=%.1f ms p99=%.1f ms max=%.1f ms\n",
	       bench_percentile(lat, k, 50), bench_percentile(lat, k, 99),
	       bench_percentile(lat, k, 100));
	free(lat);
}

int bench_kafka(const char *brokers, const struct article *a, size_t n, double rate,
		const char *region)
{
	static const char *const topics[] = {EVENTS_TOPIC_CONTENT_MODERATED};
	char err[256], group[64];
	struct run r = {.n = n};
	const struct kafka_kv extra[1] = {{"auto.offset.reset", "latest"}};
	struct kafka_consumer_config cc = {.brokers = brokers, .group_id = group, .topics = topics,
					   .ntopics = 1, .handle = on_moderated, .ud = &r,
					   .extra = extra, .nextra = 1};
	struct kafka_producer_config pc = {.brokers = brokers, .client_id = "moderate-bench"};
	struct kafka_producer *prod = kafka_producer_new(&pc, err, sizeof(err));
	struct reader rd = {NULL, &r};
	pthread_t th;
	int64_t t0, deadline;
	long svc_pid;
	double cpu0, cpu1;

	(void)util_random_bytes(&r.tag, sizeof(r.tag));
	snprintf(group, sizeof(group), "moderate-bench-%08x", r.tag);
	pthread_mutex_init(&r.mu, NULL);
	r.sent_us = calloc(n, sizeof(*r.sent_us));
	r.lat_ms = calloc(n, sizeof(*r.lat_ms));
	rd.c = prod ? kafka_consumer_new(&cc, err, sizeof(err)) : NULL;
	if (!rd.c || !r.sent_us || !r.lat_ms || pthread_create(&th, NULL, consume, &rd) != 0) {
		fprintf(stderr, "bench setup: %s\n", err);
		return 1;
	}
	if (!wait_warm(&r, prod, region)) {
		fprintf(stderr, "no decision for the warm-up events: is simpul-moderate running?\n");
		r.stop = 1;
		pthread_join(th, NULL);
		return 1;
	}
	svc_pid = getenv("MODERATE_BENCH_PID") ? strtol(getenv("MODERATE_BENCH_PID"), NULL, 10) : 0;
	cpu0 = ts_proc_cpu_seconds(svc_pid);
	t0 = util_mono_us();
	for (size_t i = 0; i < n; i++) {
		char id[37];

		if (rate > 0)
			while ((double)(util_mono_us() - t0) < (double)i * 1e6 / rate)
				kafka_producer_poll(prod, 1);
		item_id(id, r.tag, i);
		pthread_mutex_lock(&r.mu);
		r.sent_us[i] = util_mono_us();
		pthread_mutex_unlock(&r.mu);
		if (send_one(prod, id, a[i].title, a[i].body, region) != 0)
			break;
		kafka_producer_poll(prod, 0);
	}
	(void)!kafka_producer_flush(prod, 30000);
	deadline = util_mono_us() + 300 * 1000000LL;
	for (;;) {
		size_t done;

		pthread_mutex_lock(&r.mu);
		done = r.done;
		pthread_mutex_unlock(&r.mu);
		if (done >= n || util_mono_us() > deadline)
			break;
		usleep(20000);
	}
	cpu1 = ts_proc_cpu_seconds(svc_pid);
	r.stop = 1;
	pthread_join(th, NULL);
	report(&r, t0, rate);
	report_stored(&r);
	if (cpu0 >= 0 && cpu1 > cpu0)
		printf("service cpu: %.2f s (user+system, all its threads): %.0f decisions per "
		       "service cpu-second\n",
		       cpu1 - cpu0, (double)r.done / (cpu1 - cpu0));
	kafka_consumer_free(rd.c);
	kafka_producer_free(prod);
	free(r.sent_us);
	free(r.lat_ms);
	return 0;
}

/* Commits group's offsets at the end of kim.content.submitted.v1, so the
 * service started next in that group sees only the benchmark's events. */
int bench_group_at_end(const char *brokers, const char *group)
{
	const struct events_topic *et = events_topic_find(EVENTS_TOPIC_CONTENT_SUBMITTED);
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(et->partitions);
	char err[256];
	rd_kafka_t *rk;
	int rc = 1;

	if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err)) ||
	    !(rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err)))) {
		fprintf(stderr, "group-at-end: %s\n", err);
		rd_kafka_topic_partition_list_destroy(l);
		return 1;
	}
	for (int p = 0; p < et->partitions; p++) {
		int64_t lo, hi;

		if (rd_kafka_query_watermark_offsets(rk, et->name, p, &lo, &hi, 10000))
			goto out;
		rd_kafka_topic_partition_list_add(l, et->name, p)->offset = hi;
	}
	rc = rd_kafka_commit(rk, l, 0) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : 1;
out:
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_destroy(rk);
	return rc;
}
