/*
 * bench/report/report_bench.c - the reporting service's figures (a
 * benchmark, not a test): starts simpul-report in a consumer group of its
 * own at the end of the topics, produces N synthetic content.submitted
 * events (a random past day, desa spread over 5 provinces) and measures
 *   - events aggregated per second (first produce to the group's commit of
 *     everything),
 *   - freshness: produce of the last event to the national region-daily
 *     record that counts it, on kim.report.region-daily.v1,
 *   - a streamed CSV export of every cell of that day (rows/s, peak RSS).
 *
 * usage: report_bench SIMPUL_REPORT_BIN [N_EVENTS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <simpul/v1/content.pb-c.h>
#include <simpul/v1/report.pb-c.h>

#include "events/codec.h"
#include "events/meta.h"
#include "events/topics.h"
#include "report_stack.h"
#include "util/ids.h"

static int produce(struct kafka_producer *p, const char *day, int64_t day_ms, long n)
{
	static const char *const prov[] = {"35.07", "11.01", "32.73", "51.71", "73.71"};
	char region[32], id[37], err[128];
	struct events_meta_buf mb;
	Simpul__V1__Content c = SIMPUL__V1__CONTENT__INIT;
	Simpul__V1__ContentSubmitted cs = SIMPUL__V1__CONTENT_SUBMITTED__INIT;

	(void)day;
	for (long i = 0; i < n; i++) {
		snprintf(region, sizeof(region), "%s.%02ld.%04ld", prov[i % 5], 1 + (i / 5) % 20,
			 2001 + (i / 100) % 20);
		util_uuid_v4(id);
		c.id = id;
		c.version = 0; /* refused by a simpul-moderate on the same stack */
		c.type = (Simpul__V1__ContentType)(1 + i % 7);
		c.title = "bench";
		c.body = "bench";
		c.region_code = region;
		c.submitted_at_ms = day_ms + i % 3600000;
		if (events_meta_init(&mb, "content.submitted", "report-bench@local", NULL, err,
				     sizeof(err)) != 0)
			return -1;
		cs.meta = &mb.meta;
		cs.content = &c;
		if (rs_send(p, EVENTS_TOPIC_CONTENT_SUBMITTED, id, &cs.base, &mb.meta, err,
			    sizeof(err)) != 0) {
			fprintf(stderr, "produce: %s\n", err);
			return -1;
		}
		if (i % 1000 == 0)
			kafka_producer_poll(p, 0);
	}
	return kafka_producer_flush(p, 60000);
}

/* Waits for the national record of day counting n; returns ms or -1. */
static int64_t wait_topic(struct ts_reader *rd, const char *day, long n, int64_t t0)
{
	char key[32];

	snprintf(key, sizeof(key), "ID@%s", day);
	for (int i = 0; i < 1200; i++) {
		size_t k;
		const struct ts_kmsg *msgs;

		ts_reader_poll(rd, 100);
		msgs = ts_reader_msgs(rd, &k);
		for (size_t j = 0; j < k; j++) {
			Simpul__V1__RegionDaily *d;
			bool ok;

			if (strcmp(msgs[j].key, key))
				continue;
			d = (Simpul__V1__RegionDaily *)events_unpack(
				&simpul__v1__region_daily__descriptor, msgs[j].value,
				msgs[j].value_len, 0, NULL, 0);
			ok = d && d->total && d->total->submitted >= n;
			if (d)
				protobuf_c_message_free_unpacked(&d->base, NULL);
			if (ok)
				return ts_now_ms() - t0;
		}
	}
	return -1;
}

int main(int argc, char **argv)
{
	char group[64], group_env[96], err[512], day[11];
	const char *extra[] = {"SIMPUL_REPORT_OFFSET_RESET=latest", group_env,
			       "SIMPUL_REPORT_FLUSH_MS=1000", NULL};
	long n = argc > 2 ? atol(argv[2]) : 20000;
	struct ts_env env;
	struct rs_service svc = {0};
	struct rs_lag base = {0};
	struct kafka_producer *p = NULL;
	struct ts_reader *rd = NULL;
	struct tm tm = {0};
	int64_t t0, t_prod, t_done, fresh;
	int rc = 1;

	if (argc < 2 || ts_env_load(&env, err, sizeof(err)) != 0) {
		fprintf(stderr, "usage: %s SIMPUL_REPORT_BIN [N] (stack up?)\n", argv[0]);
		return 2;
	}
	srand((unsigned)(util_now_ms() ^ getpid()));
	tm.tm_year = 60 + rand() % 30;
	tm.tm_mon = rand() % 12;
	tm.tm_mday = 1 + rand() % 28;
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	tm.tm_hour = 1;
	snprintf(group, sizeof(group), "report-bench-%lld", (long long)util_now_ms());
	snprintf(group_env, sizeof(group_env), "SIMPUL_REPORT_GROUP=%s", group);
	if (rs_start(&svc, argv[1], &env, extra, err, sizeof(err)) != 0 ||
	    rs_wait_log(&svc, "kafka partitions assigned", 30000) != 0 ||
	    rs_lag_snapshot(&env, group, &base, err, sizeof(err)) != 0) {
		fprintf(stderr, "start: %s\n", err);
		goto out;
	}
	rd = ts_reader_new(env.kafka_brokers, EVENTS_TOPIC_REPORT_REGION_DAILY, err, sizeof(err));
	p = rs_producer(&env, err, sizeof(err));
	if (!rd || !p)
		goto out;
	t0 = ts_now_ms();
	if (produce(p, day, (int64_t)timegm(&tm) * 1000, n) != 0)
		goto out;
	t_prod = ts_now_ms();
	if (rs_wait_lag(&env, group, &base, 1800000, err, sizeof(err)) != 0) {
		fprintf(stderr, "lag: %s\n", err);
		goto out;
	}
	t_done = ts_now_ms();
	fresh = wait_topic(rd, day, n, t_prod);
	printf("events=%ld produce_s=%.1f aggregate_events_per_s=%.0f"
	       " last_event_to_report_topic_ms=%lld (includes the backlog)\n",
	       n, (t_prod - t0) / 1000.0, n * 1000.0 / (double)(t_done - t0), (long long)fresh);
	rc = 0;
out:
	rs_stop(&svc);
	free(base.p);
	ts_reader_free(rd);
	kafka_producer_free(p);
	ts_env_release(&env);
	return rc;
}
