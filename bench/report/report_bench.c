/*
 * bench/report/report_bench.c - the reporting service's figures (a
 * benchmark, not a test): starts simpul-report in a consumer group of its
 * own at the end of the topics, produces N synthetic content.submitted
 * events (a random past day, desa spread over 5 provinces) and measures
 *   - events aggregated per second (first produce to the group's commit of
 *     everything),
 *   - freshness after the burst: produce of the last event to the national
 *     region-daily record that counts it, on kim.report.region-daily.v1
 *     (includes draining the backlog),
 *   - freshness at a steady rate (RATE events/s for 15 s on another day,
 *     below capacity): for every 100 ms tick, from producing its events to
 *     the first national record counting them; p50/p99/max over the ticks.
 * The service's settings come from the environment (e.g.
 * SIMPUL_REPORT_BATCH_MAX=1 for the one-event-per-transaction baseline).
 *
 * usage: report_bench SIMPUL_REPORT_BIN [N_EVENTS] [RATE]   (N_EVENTS 0: the
 *        steady-rate freshness alone)
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

/* National submitted count of day in a region-daily record, -1 if another key. */
static long national_count(const struct ts_kmsg *k, const char *key)
{
	Simpul__V1__RegionDaily *d;
	long n;

	if (strcmp(k->key, key))
		return -1;
	d = (Simpul__V1__RegionDaily *)events_unpack(&simpul__v1__region_daily__descriptor,
						     k->value, k->value_len, 0, NULL, 0);
	n = d && d->total ? (long)d->total->submitted : -1;
	if (d)
		protobuf_c_message_free_unpacked(&d->base, NULL);
	return n;
}

#define TICKS 150 /* 15 s of 100 ms */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

struct ticks {
	int64_t at[TICKS], fresh[TICKS];
	long cum[TICKS];
	int n;          /* ticks produced so far */
	int nfresh;
	size_t seen;    /* reader messages looked at */
};

/* Polls the reader once; every produced tick now counted by a national
 * record of key becomes fresh (receipt time - produce time). */
static void scan(struct ts_reader *rd, const char *key, struct ticks *tk, int ms)
{
	const struct ts_kmsg *msgs;
	size_t nmsgs;
	int64_t now;

	ts_reader_poll(rd, ms);
	now = ts_now_ms();
	msgs = ts_reader_msgs(rd, &nmsgs);
	for (; tk->seen < nmsgs; tk->seen++) {
		long c = national_count(&msgs[tk->seen], key);

		for (int t = 0; t < tk->n && c >= 0; t++)
			if (tk->fresh[t] < 0 && tk->cum[t] <= c) {
				tk->fresh[t] = now - tk->at[t];
				tk->nfresh++;
			}
	}
}

/*
 * Steady rate: every 100 ms produce rate/10 events on day (a fresh one) and
 * note (cumulative count, time acknowledged); a tick is fresh once a
 * national record counts its total. Prints p50/p99/max; 0 or -1.
 */
static int steady(struct kafka_producer *p, struct ts_reader *rd, const char *day,
		  int64_t day_ms, long rate)
{
	static struct ticks tk;
	long per = rate / 10 > 0 ? rate / 10 : 1, total = 0;
	char key[32];
	int64_t end;

	memset(&tk, 0, sizeof(tk));
	snprintf(key, sizeof(key), "ID@%s", day);
	for (int t = 0; t < TICKS; t++) {
		int64_t tick_end = ts_now_ms() + 100;

		if (produce(p, day, day_ms, per) != 0)
			return -1;
		total += per;
		tk.cum[t] = total;
		tk.at[t] = ts_now_ms();
		tk.fresh[t] = -1;
		tk.n = t + 1;
		while (ts_now_ms() < tick_end)
			scan(rd, key, &tk, 10);
	}
	end = ts_now_ms() + 60000;
	while (tk.nfresh < TICKS && ts_now_ms() < end)
		scan(rd, key, &tk, 20);
	if (tk.nfresh < TICKS) {
		fprintf(stderr, "steady: only %d of %d ticks reached the topic\n", tk.nfresh, TICKS);
		return -1;
	}
	qsort(tk.fresh, TICKS, sizeof(tk.fresh[0]), cmp_i64);
	printf("steady_rate=%ld/s for %d s: freshness_ms p50=%lld p99=%lld max=%lld\n", rate,
	       TICKS / 10, (long long)tk.fresh[TICKS / 2], (long long)tk.fresh[TICKS * 99 / 100],
	       (long long)tk.fresh[TICKS - 1]);
	return 0;
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
	long n = argc > 2 ? atol(argv[2]) : 20000, rate = argc > 3 ? atol(argv[3]) : 1000;
	char day2[11];
	struct tm tm2;
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
	tm.tm_year = 100 + rand() % 20; /* after 1970: submitted_at_ms > 0 */
	tm.tm_mon = rand() % 12;
	tm.tm_mday = 1 + rand() % 28;
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	tm.tm_hour = 1;
	tm2 = tm;
	tm2.tm_year = tm.tm_year < 110 ? tm.tm_year + 10 : tm.tm_year - 10;
	strftime(day2, sizeof(day2), "%Y-%m-%d", &tm2);
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
	if (n == 0) /* the steady-rate freshness alone */
		goto steady;
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
	fflush(stdout);
steady:
	rc = rate > 0 ? steady(p, rd, day2, (int64_t)timegm(&tm2) * 1000, rate) : 0;
out:
	rs_stop(&svc);
	free(base.p);
	ts_reader_free(rd);
	kafka_producer_free(p);
	ts_env_release(&env);
	return rc;
}
