/*
 * bench/notify/notify_bench.c - webhook deliveries per second through a real
 * simpul-notify (Kafka in, PostgreSQL queue, signed webhooks out) to a local
 * receiver, with 1, 100 and 10,000 subscriptions per event; then a fault run
 * where the receiver answers 503 to 20 % of requests: how many are
 * eventually delivered, how many duplicates by webhook-id, how many
 * dead-lettered; events matched per second against 100,000 subscriptions
 * (the service's own statement, and the same with index scans disabled).
 * Same-run baseline: the 100 x 100 run again with the old design (one
 * request at a time per worker, one consumer transaction per event).
 * Not a test. Needs deploy/stack infra.
 *
 * usage: notify_bench <simpul-notify binary> [workers] [runs, e.g. "01234m"]
 *   0-3 the runs above, 4 the baseline, m matching (default: all)
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <simpul/v1/moderation.pb-c.h>

#include "bench_receiver.h"
#include "config/config.h"
#include "events/codec.h"
#include "events/meta.h"
#include "events/topics.h"
#include "kafka/producer.h"
#include "notify.h"
#include "tests/nt_scale.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/ids.h"

static char *pg_url, *brokers;
static PGconn *pg;
static char realm[40], owner[40];
static unsigned rport;
static struct kafka_producer *prod;
static char *log_level;

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "notify_bench: %s: %s\n", what, detail ? detail : "");
	exit(1);
}

static PGresult *sql(const char *q, int n, const char *const *p)
{
	PGresult *r = PQexecParams(pg, q, n, NULL, p, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
		die("sql", PQerrorMessage(pg));
	return r;
}

/* Starts simpul-notify for the bench realm; baseline: the old design. */
static int spawn(const char *bin, const char *workers, bool baseline)
{
	char env[20][160];
	int pid, n = 0;

	snprintf(env[n++], 160, "SIMPUL_NOTIFY_REALM=%s", realm);
	snprintf(env[n++], 160, "SIMPUL_NOTIFY_GROUP=simpul-notify-%s%s", realm,
		 baseline ? "-base" : "");
	snprintf(env[n++], 160, "SIMPUL_NOTIFY_PARALLEL=%s", baseline ? "1" : "64");
	snprintf(env[n++], 160, "SIMPUL_NOTIFY_CONSUME_BATCH=%s", baseline ? "1" : "500");
	snprintf(env[n++], 160, "SIMPUL_NOTIFY_SKIP_BEFORE_MS=%lld", (long long)util_now_ms() - 2000);
	snprintf(env[n++], 160, "SIMPUL_NOTIFY_PORT=0");
	snprintf(env[n++], 160, "SIMPUL_NOTIFY_ALLOW_LOOPBACK=on");
	snprintf(env[n++], 160, "SIMPUL_NOTIFY_REQUIRE_HTTPS=off");
	snprintf(env[n++], 160, "SIMPUL_NOTIFY_WORKERS=%s", workers);
	snprintf(env[n++], 160, "SIMPUL_NOTIFY_CLAIM_BATCH=200");
	snprintf(env[n++], 160, "SIMPUL_NOTIFY_POLL_MS=20ms");
	snprintf(env[n++], 160, "SIMPUL_NOTIFY_RETRY_BASE_MS=200ms");
	snprintf(env[n++], 160, "SIMPUL_NOTIFY_RETRY_MAX_MS=2s");
	snprintf(env[n++], 160, "SIMPUL_NOTIFY_MAX_ATTEMPTS=8");
	snprintf(env[n++], 160, "SIMPUL_LOG_LEVEL=%s", log_level);
	pid = fork();
	if (pid == 0) {
		int fd = open("/tmp/notify-bench-service.log", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		for (int i = 0; i < n; i++)
			putenv(env[i]);
		execl(bin, bin, (char *)NULL);
		_exit(127);
	}
	sleep(4); /* migrations, consumer join */
	return pid;
}

/* n subscriptions for content under region, all to the receiver. */
static void subscriptions(const char *region, int n)
{
	char target[128], nb[16];

	snprintf(target, sizeof(target), "http://127.0.0.1:%u/hook", rport);
	snprintf(nb, sizeof(nb), "%d", n);
	PQclear(sql("WITH s AS (INSERT INTO simpul.notify_subscriptions (realm, owner_id, channel, "
		    "target, kinds, region_prefix, secret) SELECT $1, $2::uuid, 'webhook', $3, "
		    "'{content.published}', $4, 'whsec_YmVuY2hiZW5jaGJlbmNoYmVuY2g=' "
		    "FROM generate_series(1, $5::int) RETURNING id, realm, region_prefix) "
		    "INSERT INTO simpul.notify_sub_match (realm, kind, scope, subscription_id) "
		    "SELECT realm, 'content.published', region_prefix, id FROM s",
		    5, (const char *const[]){realm, owner, target, region, nb}));
}

static void publish(const char *region)
{
	Simpul__V1__ContentPublished cp = SIMPUL__V1__CONTENT_PUBLISHED__INIT;
	Simpul__V1__Content c = SIMPUL__V1__CONTENT__INIT;
	struct events_meta_buf mb;
	struct events_headers hs;
	struct util_buf out;
	char err[256], cid[40];
	size_t nh;

	util_uuid_v4(cid);
	if (events_meta_init(&mb, "content.published", "bench@local", NULL, err, sizeof(err)))
		die("meta", err);
	c.id = cid;
	c.version = 1;
	c.type = SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_BERITA;
	c.title = "Berita uji beban";
	c.body = "isi";
	c.region_code = (char *)region;
	cp.meta = &mb.meta;
	cp.content = &c;
	util_buf_init(&out, 0);
	nh = events_headers_from_meta(&hs, &mb.meta);
	if (events_pack(&cp.base, 0, &out, err, sizeof(err)))
		die("pack", err);
	while (kafka_producer_send(prod, EVENTS_TOPIC_CONTENT_PUBLISHED, cid, strlen(cid), out.data,
				   out.len, hs.h, nh, NULL) == UTIL_EUNAVAIL)
		kafka_producer_poll(prod, 10);
	kafka_producer_poll(prod, 0);
	util_buf_release(&out);
}

static double now_s(void)
{
	return (double)util_mono_us() / 1e6;
}

static long long dead_letters(void)
{
	PGresult *r = sql("SELECT count(*) FROM simpul.notify_deliveries WHERE realm = $1 AND "
			  "status = 'failed'", 1, (const char *const[]){realm});
	long long n = atoll(PQgetvalue(r, 0, 0));

	PQclear(r);
	return n;
}

static void scenario(int idx, int per_event, int events, double fail, const char *label)
{
	char region[16], ev_region[24];
	uint64_t total = (uint64_t)per_event * (uint64_t)events;
	double t0, t1;
	struct bench_counts c;
	long long dead = 0;

	snprintf(region, sizeof(region), "96.%02d", 10 + idx);
	snprintf(ev_region, sizeof(ev_region), "%s.01.2001", region);
	subscriptions(region, per_event);
	bench_receiver_reset(fail);
	t0 = now_s();
	for (int i = 0; i < events; i++)
		publish(ev_region);
	if (kafka_producer_flush(prod, 30000) != 0)
		die("flush", "kafka");
	for (;;) {
		c = bench_receiver_counts();
		if (fail > 0)
			dead = dead_letters();
		if (c.delivered + (uint64_t)dead >= total || now_s() - t0 > 300)
			break;
		usleep(fail > 0 ? 200000 : 20000);
	}
	t1 = now_s();
	printf("%-8s subs/event=%-6d events=%-5d deliveries=%-7llu in %6.2f s = %7.0f/s  "
	       "requests=%llu 503s=%llu duplicates=%llu dead=%lld delivered=%.3f%%\n",
	       label, per_event, events, (unsigned long long)c.delivered,
	       t1 - t0, (double)c.delivered / (t1 - t0), (unsigned long long)c.requests,
	       (unsigned long long)c.failed, (unsigned long long)c.duplicates, dead,
	       100.0 * (double)c.delivered / (double)total);
	fflush(stdout);
}

/* The scale test's 100,000 subscriptions (tests/nt_scale.h) in a realm of
 * their own, which no service delivers. */
static void match_subscriptions(const char *mrealm)
{
	PQclear(sql(NT_SCALE_SUBS_SQL,
		    2, (const char *const[]){mrealm, owner}));
	PQclear(sql("ANALYZE simpul.notify_sub_match", 0, NULL));
	PQclear(sql("ANALYZE simpul.notify_subscriptions", 0, NULL));
}

/* Runs notify_match_count_sql for n berita events; events per second. */
static double match_rate(const char *mrealm, int n, long long *matched)
{
	static const char *const regions[] = {"35.07.12.2001", "32.01.05.2003", "73.10.02.2010",
					      "11.01.01.2001", "94.20.03.2005"};
	char scopes[256], ev[40];
	double t0 = now_s();

	*matched = 0;
	for (int i = 0; i < n; i++) {
		const char *r = regions[i % 5];
		PGresult *res;

		util_uuid_v4(ev);
		if (notify_scopes_literal(r, NULL, 0, scopes, sizeof(scopes)) != 0)
			die("scopes", r);
		res = sql(notify_match_count_sql, 11,
			  (const char *const[]){mrealm, "content.published", scopes, "berita",
						"judul berita", ev, "{}", r,
						"2026-11-23 10:00:00+00", "300000", ""});
		*matched += atoll(PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	return n / (now_s() - t0);
}

static void matching(void)
{
	char mrealm[48];
	long long matched, scanned;
	double t0 = now_s(), indexed, seq;

	snprintf(mrealm, sizeof(mrealm), "%s-m", realm);
	match_subscriptions(mrealm);
	fprintf(stderr, "notify_bench: 100,000 subscriptions generated in %.1f s\n", now_s() - t0);
	indexed = match_rate(mrealm, 1000, &matched);
	/* Baseline: the same statement with index scans disabled. */
	PQclear(sql("SET enable_indexscan = off", 0, NULL));
	PQclear(sql("SET enable_bitmapscan = off", 0, NULL));
	PQclear(sql("SET enable_indexonlyscan = off", 0, NULL));
	seq = match_rate(mrealm, 20, &scanned);
	PQclear(sql("RESET enable_indexscan", 0, NULL));
	PQclear(sql("RESET enable_bitmapscan", 0, NULL));
	PQclear(sql("RESET enable_indexonlyscan", 0, NULL));
	printf("match    100,000 subscriptions: %.0f events/s (%.1f subscribers/event, %.0f "
	       "matches/s); baseline without the index: %.1f events/s\n",
	       indexed, (double)matched / 1000, indexed * (double)matched / 1000, seq);
	fflush(stdout);
	PQclear(sql("DELETE FROM simpul.notify_subscriptions WHERE realm = $1", 1,
		    (const char *const[]){mrealm}));
}

static bool want(int argc, char **argv, char c)
{
	return argc < 4 || strchr(argv[3], c) != NULL;
}

int main(int argc, char **argv)
{
	struct config_item items[] = {
		{"SIMPUL_PG_URL", CONFIG_STRING, "postgresql://simpul@127.0.0.1:55432/simpul", 1, 1024,
		 false, &pg_url, "PostgreSQL"},
		{"SIMPUL_KAFKA_BROKERS", CONFIG_STRING, "127.0.0.1:59092", 1, 1024, false, &brokers,
		 "Kafka"},
		{"SIMPUL_LOG_LEVEL", CONFIG_STRING, "warn", 1, 16, false, &log_level,
		 "the service's log level"},
	};
	struct kafka_producer_config pc = {.brokers = NULL, .client_id = "notify-bench"};
	char err[512], tag[UTIL_TRACE_STRLEN + 1];
	PGresult *r;
	int pid;

	if (argc < 2 || config_load(items, 3, err, sizeof(err)) != 0) {
		fprintf(stderr, "usage: notify_bench <simpul-notify> [workers] [runs: 0-4, m]\n%s\n", err);
		return 2;
	}
	util_trace_id(tag);
	snprintf(realm, sizeof(realm), "bench-%.12s", tag);
	pg = PQconnectdb(pg_url);
	if (PQstatus(pg) != CONNECTION_OK)
		die("postgresql", PQerrorMessage(pg));
	r = sql("INSERT INTO simpul.users (name, role) VALUES ('bench ' || $1, 'citizen') "
		"RETURNING id", 1, (const char *const[]){realm});
	snprintf(owner, sizeof(owner), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	pc.brokers = brokers;
	if (!(prod = kafka_producer_new(&pc, err, sizeof(err))))
		die("producer", err);
	if (bench_receiver_start(&rport, 2) != 0)
		die("receiver", "cannot start");
	/* argv[3]: which runs, e.g. "23" (default all). */
	pid = spawn(argv[1], argc > 2 ? argv[2] : "4", false);
	if (want(argc, argv, '0'))
		scenario(0, 1, 5000, 0, "clean");
	if (want(argc, argv, '1'))
		scenario(1, 100, 100, 0, "clean");
	if (want(argc, argv, '2'))
		scenario(2, 10000, 2, 0, "clean");
	if (want(argc, argv, '3'))
		scenario(3, 100, 100, 0.2, "fault");
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	if (want(argc, argv, '4')) {
		pid = spawn(argv[1], argc > 2 ? argv[2] : "4", true);
		scenario(4, 100, 100, 0, "baseline");
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
	if (want(argc, argv, 'm'))
		matching();
	PQclear(sql("DELETE FROM simpul.notify_subscriptions WHERE realm = $1", 1,
		    (const char *const[]){realm}));
	PQclear(sql("DELETE FROM simpul.users WHERE id = $1", 1, (const char *const[]){owner}));
	kafka_producer_free(prod);
	bench_receiver_stop();
	PQfinish(pg);
	return 0;
}
