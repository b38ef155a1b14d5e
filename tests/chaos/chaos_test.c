/*
 * tests/chaos/chaos_test.c - the fault suite: the whole pipeline on a
 * 3-broker Kafka cluster (deploy/stack kafka3-up: replication 3, min ISR 2)
 * under steady load through ingest, while one fault after another hits it:
 * kill -9 of each service in turn (then a restart on the same port),
 * SIGKILL of one broker (then its restart), PostgreSQL stopped for 20 s,
 * Redis stopped and started. Afterwards it waits for the pipeline to drain
 * and checks every accepted submission end to end (chaos_verify.c), printing
 * the counts.
 *
 * It stops the stack's PostgreSQL and Redis: run it only on a stack of its
 * own (CI, or a separate checkout with other ports; docs/STACK.md). It
 * skips (77) when other Simpul services use the same PostgreSQL: their
 * outbox relays would publish our rows to another Kafka.
 *
 * Usage: chaos_test [--items N] [--rate R] [--threads T] [--batch B]
 *                   [--hook-every K] [--drain-s S] [--long]
 *                   INGEST MODERATE SEARCH NOTIFY REPORT
 * Without --items: one round of the fault schedule, load throughout (the
 * CI version). With --items N: rounds repeat until N items are submitted.
 */
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "chaos_load.h"
#include "chaos_verify.h"
#include "events/topics.h"
#include "kafka/admin.h"
#include "nt.h"
#include "pipeline.h"
#include "ts/ts.h"

#define SKIP 77
#define STACK_MS 300000 /* a broker or PostgreSQL restart, recovery included */

static struct ts_env env;
static struct pl pl;
static PGconn *pg;
static const char *stopped_pg, *stopped_redis;
static int killed_broker;

struct opts {
	size_t items;
	double rate;
	int threads, batch, drain_s;
	size_t hook_every;
	bool until_items;
};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	static int64_t t0;
	va_list ap;

	if (!t0)
		t0 = ts_now_ms();
	printf("chaos: [%6.1f s] ", (double)(ts_now_ms() - t0) / 1000.0);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* `$SIMPUL_STACK sub [arg]`; 0 or -1 (output printed). */
static int stack(const char *sub, const char *arg)
{
	char *argv[] = {env.stack, (char *)sub, (char *)arg, NULL};
	char out[4096];
	int rc = ts_run(argv, STACK_MS, out, sizeof(out));

	if (rc != 0) {
		fprintf(stderr, "chaos: deploy/stack %s %s failed (%d):\n%s\n", sub, arg ? arg : "",
			rc, out);
		return -1;
	}
	return 0;
}

/* Whatever a fault left stopped, start it again. */
static void restore(void)
{
	char n[4];

	if (stopped_pg && stack("pg-start", NULL) == 0)
		stopped_pg = NULL;
	if (stopped_redis && stack("redis-start", NULL) == 0)
		stopped_redis = NULL;
	if (killed_broker) {
		snprintf(n, sizeof(n), "%d", killed_broker);
		if (stack("kafka3-start", n) == 0)
			killed_broker = 0;
	}
}

/* The 3-broker cluster: started (a no-op when running), its bootstrap list
 * into SIMPUL_KAFKA_BROKERS for us and every child. */
static int cluster_up(char *brokers, size_t len)
{
	char *argv[] = {NULL, "kafka3-brokers", NULL};
	const char *st = getenv("SIMPUL_STACK");
	char out[512];

	if (!st) {
		fprintf(stderr, "chaos: SIMPUL_STACK is not set (the path of deploy/stack)\n");
		return -1;
	}
	argv[0] = (char *)st;
	if (ts_run(argv, 10000, out, sizeof(out)) != 0) {
		fprintf(stderr, "chaos: %s kafka3-brokers: %s\n", st, out);
		return -1;
	}
	out[strcspn(out, "\n")] = '\0';
	snprintf(brokers, len, "%s", out);
	env.stack = (char *)st; /* for stack() before ts_env_load */
	say("3-broker cluster: deploy/stack kafka3-up (%s)", brokers);
	if (stack("kafka3-up", NULL) != 0)
		return -1;
	env.stack = NULL;
	setenv("SIMPUL_KAFKA_BROKERS", brokers, 1);
	return 0;
}

static int topics_rf3(void)
{
	struct kafka_topic_spec specs[64];
	char err[2048];
	size_t n = events_topic_specs(specs, 64, 3);

	if (kafka_topics_ensure(env.kafka_brokers, specs, n, 60000, NULL, err, sizeof(err)) != 0) {
		fprintf(stderr, "chaos: topics (replication 3): %s\n", err);
		return -1;
	}
	return 0;
}

/* Other Simpul processes holding advisory locks (outbox relays, the search
 * announcer, the report flusher) on this database. */
static long long foreign_lock_holders(void)
{
	return ts_pg_count(pg,
			   "SELECT count(DISTINCT pid) FROM pg_catalog.pg_locks WHERE "
			   "locktype = 'advisory' AND granted AND pid <> pg_catalog.pg_backend_pid()",
			   0, NULL);
}

static int restart(enum pl_svc s)
{
	char err[2048];
	int64_t t = ts_now_ms();

	if (pl_start(&pl, s, 120000, err, sizeof(err)) != 0) {
		fprintf(stderr, "chaos: restart of simpul-%s failed: %s\n", pl_name(s), err);
		return -1;
	}
	say("simpul-%s restarted on port %u (healthy after %.1f s)", pl_name(s), pl.p[s].port,
	    (double)(ts_now_ms() - t) / 1000.0);
	return 0;
}

/* Sleeps ms while checking that the services we did not kill still run. */
static int hold(int ms)
{
	int64_t end = ts_now_ms() + ms;

	while (ts_now_ms() < end) {
		for (int s = 0; s < PL_NSVC; s++)
			if (pl.p[s].pid && !pl_alive(&pl, (enum pl_svc)s)) {
				fprintf(stderr, "chaos: simpul-%s died on its own (exit status %d):\n",
					pl_name(s), pl.p[s].last_status);
				pl_dump_log(&pl, (enum pl_svc)s, 40);
				return -1;
			}
		ts_sleep_ms(200);
	}
	return 0;
}

/* One round of the fault schedule; -1 when something could not be restored. */
static int fault_round(int round, struct chaos_load *load)
{
	char n[4];
	int broker = 1 + round % 3;

	for (int s = 0; s < PL_NSVC; s++) {
		say("round %d: kill -9 simpul-%s (pid %d); %zu accepted so far", round,
		    pl_name(s), pl.p[s].pid, atomic_load(&load->accepted));
		pl_kill9(&pl, (enum pl_svc)s);
		if (hold(2000) || restart((enum pl_svc)s) || hold(4000))
			return -1;
	}
	snprintf(n, sizeof(n), "%d", broker);
	say("round %d: SIGKILL broker %d", round, broker);
	if (stack("kafka3-kill", n))
		return -1;
	killed_broker = broker;
	if (hold(15000))
		return -1;
	say("round %d: restart broker %d", round, broker);
	if (stack("kafka3-start", n))
		return -1;
	killed_broker = 0;
	say("round %d: broker %d back", round, broker);
	if (hold(4000))
		return -1;
	say("round %d: stop PostgreSQL for 20 s", round);
	stopped_pg = "pg";
	if (stack("pg-stop", NULL) || hold(20000) || stack("pg-start", NULL))
		return -1;
	stopped_pg = NULL;
	say("round %d: PostgreSQL back", round);
	if (hold(4000))
		return -1;
	say("round %d: stop Redis for 10 s", round);
	stopped_redis = "redis";
	if (stack("redis-stop", NULL) || hold(10000) || stack("redis-start", NULL))
		return -1;
	stopped_redis = NULL;
	say("round %d: Redis back", round);
	return hold(4000);
}

static int parse(int argc, char **argv, struct opts *o, const char **bins)
{
	int nb = 0;

	/* the CI version: one round, ~10 items/s throughout (the cap is not reached) */
	*o = (struct opts){.items = 20000, .rate = 10, .threads = 4, .batch = 1,
			   .drain_s = 300, .hook_every = 1};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--long")) {
			*o = (struct opts){.items = 1000000, .rate = 2000, .threads = 4,
					   .batch = 100, .drain_s = 7200, .hook_every = 100,
					   .until_items = true};
		} else if (!strcmp(a, "--items") && v) {
			o->items = strtoull(v, NULL, 10);
			o->until_items = true;
			i++;
		} else if (!strcmp(a, "--rate") && v) {
			o->rate = strtod(v, NULL);
			i++;
		} else if (!strcmp(a, "--threads") && v) {
			o->threads = atoi(v);
			i++;
		} else if (!strcmp(a, "--batch") && v) {
			o->batch = atoi(v);
			i++;
		} else if (!strcmp(a, "--hook-every") && v) {
			o->hook_every = strtoull(v, NULL, 10);
			i++;
		} else if (!strcmp(a, "--drain-s") && v) {
			o->drain_s = atoi(v);
			i++;
		} else if (a[0] != '-' && nb < PL_NSVC) {
			bins[nb++] = a;
		} else {
			return -1;
		}
	}
	return nb == PL_NSVC && o->items > 0 && o->rate > 0 && o->hook_every > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	const char *bins[PL_NSVC];
	struct opts o;
	struct ts_fixture fx;
	struct chaos_load load = {0};
	struct ts_reader *moderated = NULL, *indexed = NULL;
	char err[2048], brokers[512], realm[64], skip[32], hook_prefix[96], hook_word[32];
	char sub[640], secret[128] = "", ingest_url[64];
	unsigned recv_port = 0, base = 18520;
	const char *b = getenv("SIMPUL_CHAOS_PORT_BASE");
	int rc = 1, round = 0, fails;
	int64_t t_start;
	long st;
	json_t *j;

	if (parse(argc, argv, &o, bins) != 0) {
		fprintf(stderr, "usage: %s [--items N] [--rate R] [--threads T] [--batch B] "
				"[--hook-every K] [--drain-s S] [--long] INGEST MODERATE SEARCH "
				"NOTIFY REPORT\n",
			argv[0]);
		return 2;
	}
	if (b && atoi(b) > 0)
		base = (unsigned)atoi(b);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	setvbuf(stdout, NULL, _IOLBF, 0);
	t_start = ts_now_ms();
	if (cluster_up(brokers, sizeof(brokers)) != 0)
		return 1;
	if (ts_env_load(&env, err, sizeof(err)) != 0) {
		fprintf(stderr, "chaos: the stack is not answering: %s\n", err);
		return 1;
	}
	pg = ts_pg_connect(env.pg_url, err, sizeof(err));
	if (!pg) {
		fprintf(stderr, "chaos: %s\n", err);
		goto out;
	}
	if (foreign_lock_holders() != 0) {
		printf("chaos: SKIP: %lld other sessions hold advisory locks on %s (Simpul services "
		       "running?): their outbox relays would publish our rows to another Kafka. "
		       "Run the fault suite on a stack of its own (deploy/stack infra, no `up`).\n",
		       foreign_lock_holders(), env.pg_url);
		rc = SKIP;
		goto out;
	}
	if (topics_rf3() != 0 || ts_fixture_create(&fx, pg, err, sizeof(err)) != 0) {
		fprintf(stderr, "chaos: setup: %s\n", err);
		goto out;
	}
	if (nt_receiver_start(&recv_port) != 0) {
		fprintf(stderr, "chaos: webhook receiver did not start\n");
		goto out;
	}
	snprintf(realm, sizeof(realm), "chaos-%s", fx.run);
	snprintf(hook_prefix, sizeof(hook_prefix), "/ok/%s", realm);
	snprintf(hook_word, sizeof(hook_word), "sungai%s", fx.run);
	snprintf(skip, sizeof(skip), "%lld", (long long)time(NULL) * 1000 - 60000);
	/* groups are per suite, not per run: a reused cluster is not re-read */
	if (pl_init(&pl, bins, base, "chaos", "chaos", err, sizeof(err)) != 0 ||
	    pl_setenv(&pl, PL_NOTIFY, "SIMPUL_NOTIFY_ALLOW_LOOPBACK", "on") ||
	    pl_setenv(&pl, PL_NOTIFY, "SIMPUL_NOTIFY_REQUIRE_HTTPS", "off") ||
	    pl_setenv(&pl, PL_NOTIFY, "SIMPUL_NOTIFY_REALM", realm) ||
	    pl_setenv(&pl, PL_NOTIFY, "SIMPUL_NOTIFY_SKIP_BEFORE_MS", skip) ||
	    pl_setenv(&pl, PL_NOTIFY, "SIMPUL_NOTIFY_RETRY_BASE_MS", "1000") ||
	    pl_setenv(&pl, PL_NOTIFY, "SIMPUL_NOTIFY_RETRY_MAX_MS", "10000") ||
	    /* one KIM sends everything: no flood signal (a decision, not a fault) */
	    pl_setenv(&pl, PL_MODERATE, "SIMPUL_MODERATE_FLOOD_PER_MIN", "1000000") ||
	    pl_setenv(&pl, PL_MODERATE, "SIMPUL_MODERATE_FLOOD_BURST", "1000000") ||
	    pl_setenv(&pl, PL_REPORT, "SIMPUL_REPORT_CACHE_TTL_MS", "0") ||
	    /* the check wants search's exact total, past its default cap of 1000 */
	    pl_setenv(&pl, PL_SEARCH, "SIMPUL_SEARCH_COUNT_LIMIT", "0")) {
		fprintf(stderr, "chaos: %s\n", err);
		goto out;
	}
	if (o.items <= 20000) {
		moderated = ts_reader_new(env.kafka_brokers, EVENTS_TOPIC_CONTENT_MODERATED, err,
					  sizeof(err));
		indexed = ts_reader_new(env.kafka_brokers, EVENTS_TOPIC_CONTENT_INDEXED, err,
					sizeof(err));
		if (!moderated || !indexed) {
			fprintf(stderr, "chaos: readers: %s\n", err);
			goto out;
		}
	}
	if (pl_start_all(&pl, 120000, err, sizeof(err)) != 0) {
		fprintf(stderr, "chaos: %s\n", err);
		goto out;
	}
	snprintf(sub, sizeof(sub),
		 "{\"channel\":\"webhook\",\"target\":\"http://127.0.0.1:%u%s/\",\"kinds\":"
		 "[\"content.published\"],\"region_prefix\":\"%s\",\"kim_id\":\"%s\","
		 "\"keywords\":[\"%s\"],\"mode\":\"immediate\"}",
		 recv_port, hook_prefix, fx.desa, fx.kim_id, hook_word);
	j = pl_json(&pl, PL_NOTIFY, "POST", "/v1/subscriptions", fx.users[TS_KIM_ADMIN].token, sub,
		    &st);
	if (st != 201 || !json_string_value(json_object_get(j, "secret"))) {
		fprintf(stderr, "chaos: POST /v1/subscriptions answered %ld\n", st);
		json_decref(j);
		goto out;
	}
	snprintf(secret, sizeof(secret), "%s", json_string_value(json_object_get(j, "secret")));
	json_decref(j);
	say("services up (ports %u-%u), KIM %s, webhooks to 127.0.0.1:%u for items with '%s'",
	    base, base + 4, fx.kim_id, recv_port, hook_word);

	pl_url(&pl, PL_INGEST, "", ingest_url, sizeof(ingest_url));
	{
		struct chaos_load_cfg lc = {
			.ingest_url = ingest_url, .token = fx.users[TS_KIM_MEMBER].token,
			.kim_id = fx.kim_id, .region = fx.desa, .run = fx.run,
			.hook_word = hook_word, .items = o.items, .hook_every = o.hook_every,
			.review_every = 10, .rate = o.rate, .threads = o.threads,
			.batch = o.batch, .give_up_ms = 240000};

		if (chaos_load_start(&load, &lc) != 0) {
			fprintf(stderr, "chaos: load generator did not start\n");
			goto out;
		}
	}
	say("load: %.0f items/s, %d threads, batch %d", o.rate, o.threads, o.batch);
	if (hold(8000) != 0)
		goto stop_load;
	do {
		if (fault_round(round++, &load) != 0) {
			fprintf(stderr, "chaos: fault round %d could not complete\n", round - 1);
			goto stop_load;
		}
	} while (o.until_items && chaos_load_running(&load));
	rc = 0;
stop_load:
	if (o.until_items) {
		while (rc == 0 && chaos_load_running(&load))
			ts_sleep_ms(500);
	}
	chaos_load_stop(&load);
	say("load stopped: %zu accepted, %zu requests, %zu retries, %zu gave up",
	    atomic_load(&load.accepted), atomic_load(&load.requests), atomic_load(&load.retries),
	    atomic_load(&load.gave_up));
	restore();
	if (rc == 0) {
		struct chaos_verify_in vi = {
			.pg = &pg, .pg_url = env.pg_url, .load = &load, .pl = &pl,
			.kim_id = fx.kim_id, .admin_token = fx.users[TS_ADMIN].token,
			.hook_prefix = hook_prefix, .hook_word = hook_word, .secret = secret,
			.moderated = moderated, .indexed = indexed, .drain_ms = o.drain_s * 1000};

		fails = chaos_verify(&vi);
		say("%s: %d failed check(s); %zu accepted submissions, %d fault round(s), "
		    "%.0f s in all",
		    fails ? "FAILED" : "PASSED", fails, atomic_load(&load.accepted), round,
		    (double)(ts_now_ms() - t_start) / 1000.0);
		rc = fails ? 1 : 0;
	}
out:
	restore();
	if (pl_stop_all(&pl, 30000) != 0 && rc == 0)
		rc = 1;
	nt_receiver_stop();
	chaos_load_free(&load);
	ts_reader_free(moderated);
	ts_reader_free(indexed);
	if (pg)
		PQfinish(pg);
	ts_env_release(&env);
	curl_global_cleanup();
	return rc;
}
