/*
 * Integration tests of libs/cache against the stack's Redis
 * (SIMPUL_REDIS_HOST / SIMPUL_REDIS_PORT, read through libs/config).
 * Fails loudly when Redis is not reachable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "cache/cache.h"
#include "config/config.h"
#include "slog/slog.h"
#include "util/err.h"
#include "util/ids.h"

struct env {
	char *host;
	int64_t port;
	struct cache *c;
	redisContext *raw; /* a plain connection for looking behind the API */
	char prefix[48];   /* unique per run, so runs never see each other's keys */
};

static struct env env;

static int setup(void **state)
{
	struct config_item items[] = {
		{"SIMPUL_REDIS_HOST", CONFIG_STRING, "127.0.0.1", 0, 255, false, &env.host, NULL},
		{"SIMPUL_REDIS_PORT", CONFIG_INT, "56379", 1, 65535, false, &env.port, NULL},
	};
	char err[512], id[UTIL_UUID_STRLEN + 1];
	struct timeval tv = {2, 0};

	if (config_load(items, 2, err, sizeof err) != 0) {
		fprintf(stderr, "cache_redis_test: bad configuration:\n%s\n", err);
		return -1;
	}
	env.c = cache_new(env.host, (int)env.port, 1000);
	env.raw = redisConnectWithTimeout(env.host, (int)env.port, tv);
	if (!env.c || !env.raw || env.raw->err || !cache_available(env.c)) {
		fprintf(stderr,
			"cache_redis_test: FAIL: Redis not reachable at %s:%lld "
			"(start the stack: deploy/stack infra)\n",
			env.host, (long long)env.port);
		return -1;
	}
	util_uuid_v4(id);
	snprintf(env.prefix, sizeof env.prefix, "test:%s:", id);
	return 0;
}

static int teardown(void **state)
{
	cache_free(env.c);
	if (env.raw)
		redisFree(env.raw);
	free(env.host);
	return 0;
}

static const char *k(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s%s", env.prefix, name);
	return buf;
}

static long long raw_int(const char *fmt, const char *arg)
{
	redisReply *r = redisCommand(env.raw, fmt, arg);
	long long v;

	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_INTEGER);
	v = r->integer;
	freeReplyObject(r);
	return v;
}

static void set_get_del(void **state)
{
	struct util_buf out;
	char key[128];
	const char val[] = "bin\0ary \"value\"";

	util_buf_init(&out, 1024);
	k(key, sizeof key, "a");
	assert_int_equal(cache_get(env.c, key, &out), UTIL_ENOTFOUND);
	assert_int_equal(cache_set(env.c, key, val, sizeof val, 0), 0);
	assert_int_equal(cache_get(env.c, key, &out), 0);
	assert_int_equal(out.len, sizeof val);
	assert_memory_equal(out.data, val, sizeof val);
	assert_int_equal(raw_int("PTTL %s", key), -1); /* no expiry */
	/* a second get replaces the buffer's content */
	assert_int_equal(cache_set(env.c, key, "xy", 2, 0), 0);
	assert_int_equal(cache_get(env.c, key, &out), 0);
	assert_int_equal(out.len, 2);
	assert_string_equal(out.data, "xy");
	assert_int_equal(cache_set(env.c, key, "", 0, 0), 0);
	assert_int_equal(cache_get(env.c, key, &out), 0);
	assert_int_equal(out.len, 0);
	assert_int_equal(cache_del(env.c, key), 0);
	assert_int_equal(cache_get(env.c, key, &out), UTIL_ENOTFOUND);
	assert_int_equal(cache_del(env.c, key), 0);
	util_buf_release(&out);

	/* a value over the buffer's cap is refused, not truncated */
	util_buf_init(&out, 4);
	assert_int_equal(cache_set(env.c, key, "12345", 5, 10000), 0);
	assert_int_equal(cache_get(env.c, key, &out), UTIL_ETOOBIG);
	assert_int_equal(cache_del(env.c, key), 0);
	util_buf_release(&out);
}

static void ttl_expires(void **state)
{
	struct util_buf out;
	char key[128];
	long long pttl;

	util_buf_init(&out, 64);
	k(key, sizeof key, "ttl");
	assert_int_equal(cache_set(env.c, key, "v", 1, 200), 0);
	pttl = raw_int("PTTL %s", key);
	assert_true(pttl > 0 && pttl <= 200);
	assert_int_equal(cache_get(env.c, key, &out), 0);
	usleep(350 * 1000);
	assert_int_equal(cache_get(env.c, key, &out), UTIL_ENOTFOUND);
	util_buf_release(&out);
}

static void set_nx_conflicts(void **state)
{
	char key[128];

	k(key, sizeof key, "nx");
	assert_int_equal(cache_set_nx(env.c, key, "one", 3, 5000), 0);
	assert_int_equal(cache_set_nx(env.c, key, "two", 3, 5000), UTIL_ECONFLICT);
	assert_int_equal(cache_del(env.c, key), 0);
	assert_int_equal(cache_set_nx(env.c, key, "three", 5, 5000), 0);
	assert_int_equal(cache_del(env.c, key), 0);
}

static void ratelimit_burst_then_refuse(void **state)
{
	char key[128], rkey[140];
	bool allowed;
	int64_t retry;
	long long pttl;

	k(key, sizeof key, "rl");
	for (int i = 0; i < 5; i++) {
		assert_int_equal(cache_ratelimit_take(env.c, key, 2, 5, &allowed, &retry), 0);
		assert_true(allowed);
		assert_int_equal(retry, 0);
	}
	assert_int_equal(cache_ratelimit_take(env.c, key, 2, 5, &allowed, &retry), 0);
	assert_false(allowed);
	assert_true(retry >= 1 && retry <= 500);
	/* the bucket lives in Redis with a TTL: full refill time (2.5 s) + 1 s */
	snprintf(rkey, sizeof rkey, "rl:%s", key);
	pttl = raw_int("PTTL %s", rkey);
	assert_true(pttl > 3000 && pttl <= 3500);
	usleep((useconds_t)(retry + 30) * 1000);
	assert_int_equal(cache_ratelimit_take(env.c, key, 2, 5, &allowed, &retry), 0);
	assert_true(allowed);
	assert_int_equal(cache_ratelimit_take(env.c, key, 2, 5, &allowed, &retry), 0);
	assert_false(allowed);
	assert_int_equal(raw_int("DEL %s", rkey), 1);
}

static void ratelimit_survives_script_flush(void **state)
{
	char key[128];
	bool allowed;
	int64_t retry;
	redisReply *r;

	k(key, sizeof key, "flush");
	assert_int_equal(cache_ratelimit_take(env.c, key, 1, 2, &allowed, &retry), 0);
	assert_true(allowed);
	r = redisCommand(env.raw, "SCRIPT FLUSH");
	assert_non_null(r);
	freeReplyObject(r);
	/* EVALSHA now gets NOSCRIPT; EVAL is used and the bucket state kept */
	assert_int_equal(cache_ratelimit_take(env.c, key, 1, 2, &allowed, &retry), 0);
	assert_true(allowed);
	assert_int_equal(cache_ratelimit_take(env.c, key, 1, 2, &allowed, &retry), 0);
	assert_false(allowed);
	assert_true(retry >= 1 && retry <= 1000);
}

/* Batch reads and writes: one MGET, one pipeline of SETs in order (a
 * repeated key keeps its last value), each with its own result. */
static void many_get_set(void **state)
{
	char k1[128], k2[128], k3[128], miss[128];
	const char *keys[3] = {k(k1, sizeof k1, "m1"), k(k2, sizeof k2, "m2"), k1};
	const char *vals[3] = {"one", "bin\0two", "uno"};
	size_t lens[3] = {3, 7, 3};
	const char *gkeys[4] = {k1, k2, k(miss, sizeof miss, "m-missing"),
				k(k3, sizeof k3, "m3")};
	struct util_buf out[4];
	int rcs[4];
	long long pttl;

	for (int i = 0; i < 4; i++)
		util_buf_init(&out[i], i == 3 ? 2 : 64);
	assert_int_equal(cache_set(env.c, k3, "toolong", 7, 0), 0);
	assert_int_equal(cache_set_many(env.c, keys, vals, lens, 3, 60000), 0);
	pttl = raw_int("PTTL %s", k2);
	assert_true(pttl > 0 && pttl <= 60000);
	assert_int_equal(cache_get_many(env.c, gkeys, 4, out, rcs), 0);
	assert_int_equal(rcs[0], 0);
	assert_int_equal(out[0].len, 3);
	assert_memory_equal(out[0].data, "uno", 3);
	assert_int_equal(rcs[1], 0);
	assert_int_equal(out[1].len, 7);
	assert_memory_equal(out[1].data, "bin\0two", 7);
	assert_int_equal(rcs[2], UTIL_ENOTFOUND);
	assert_int_equal(rcs[3], UTIL_ETOOBIG);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(cache_del(env.c, gkeys[i]), 0);
		util_buf_release(&out[i]);
	}
}

/* Batch rate limit: in order, sharing the buckets with single takes, and
 * through a script flush (NOSCRIPT: EVAL once, nothing taken twice). */
static void ratelimit_take_many_in_order(void **state)
{
	char a[128], b[128];
	const char *keys[4] = {k(a, sizeof a, "many-a"), a, a, k(b, sizeof b, "many-b")};
	bool allowed[4], one;
	int64_t retry[4], r1;
	redisReply *r = redisCommand(env.raw, "SCRIPT FLUSH");

	assert_non_null(r);
	freeReplyObject(r);
	assert_int_equal(cache_ratelimit_take_many(env.c, keys, 4, 1, 2, allowed, retry), 0);
	assert_true(allowed[0]);
	assert_true(allowed[1]);
	assert_false(allowed[2]);
	assert_true(retry[2] >= 1 && retry[2] <= 1000);
	assert_true(allowed[3]);
	assert_int_equal(retry[3], 0);
	assert_int_equal(cache_ratelimit_take(env.c, b, 1, 2, &one, &r1), 0);
	assert_true(one);
	assert_int_equal(cache_ratelimit_take(env.c, b, 1, 2, &one, &r1), 0);
	assert_false(one);
}

#define THREADS 6
#define PER_THREAD 60

struct hammer_arg {
	struct cache *c;
	const char *key;
	long allowed;
};

static void *hammer(void *p)
{
	struct hammer_arg *a = p;

	for (int i = 0; i < PER_THREAD; i++) {
		bool ok = false;
		int64_t retry;
		if (cache_ratelimit_take(a->c, a->key, 0.001, 100, &ok, &retry) == 0 && ok)
			a->allowed++;
	}
	return NULL;
}

/* Two caches stand for two processes: the limit is shared and exact. */
static void ratelimit_shared_and_atomic(void **state)
{
	struct cache *other = cache_new(env.host, (int)env.port, 1000);
	struct hammer_arg args[THREADS];
	pthread_t t[THREADS];
	char key[128];
	long total = 0;

	assert_non_null(other);
	k(key, sizeof key, "shared");
	for (int i = 0; i < THREADS; i++) {
		args[i] = (struct hammer_arg){i % 2 ? other : env.c, key, 0};
		assert_int_equal(pthread_create(&t[i], NULL, hammer, &args[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		total += args[i].allowed;
	}
	assert_int_equal(total, 100);
	cache_free(other);
}

/* Kills this process's cache connections from the server side. */
static int kill_our_connections(void)
{
	char name[32];
	int killed = 0;
	redisReply *r = redisCommand(env.raw, "CLIENT LIST");

	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	snprintf(name, sizeof name, " name=simpul-%d ", (int)getpid());
	for (char *line = r->str; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		long long id;
		if (strstr(line, name) && sscanf(line, "id=%lld", &id) == 1) {
			redisReply *kr = redisCommand(env.raw, "CLIENT KILL ID %lld", id);
			assert_non_null(kr);
			killed += kr->type == REDIS_REPLY_INTEGER ? (int)kr->integer : 0;
			freeReplyObject(kr);
		}
		line = nl ? nl + 1 : NULL;
	}
	freeReplyObject(r);
	return killed;
}

static void reconnects_transparently(void **state)
{
	struct util_buf out;
	char key[128], logbuf[4096];
	int logp[2];
	ssize_t n;

	util_buf_init(&out, 64);
	k(key, sizeof key, "reconnect");
	assert_int_equal(cache_set(env.c, key, "still here", 10, 10000), 0);
	assert_true(kill_our_connections() >= 1);
	assert_int_equal(pipe(logp), 0);
	fcntl(logp[0], F_SETFL, O_NONBLOCK);
	slog_set_fd(logp[1]);
	assert_int_equal(cache_get(env.c, key, &out), 0);
	assert_string_equal(out.data, "still here");
	assert_true(cache_available(env.c));
	slog_set_fd(2);
	n = read(logp[0], logbuf, sizeof logbuf - 1);
	logbuf[n > 0 ? n : 0] = '\0';
	assert_null(strstr(logbuf, "redis unavailable"));
	close(logp[0]);
	close(logp[1]);
	assert_int_equal(cache_del(env.c, key), 0);
	util_buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(set_get_del),
		cmocka_unit_test(ttl_expires),
		cmocka_unit_test(set_nx_conflicts),
		cmocka_unit_test(ratelimit_burst_then_refuse),
		cmocka_unit_test(ratelimit_survives_script_flush),
		cmocka_unit_test(many_get_set),
		cmocka_unit_test(ratelimit_take_many_in_order),
		cmocka_unit_test(ratelimit_shared_and_atomic),
		cmocka_unit_test(reconnects_transparently),
	};

	signal(SIGPIPE, SIG_IGN);
	slog_init("cache_redis_test", SLOG_INFO);
	return cmocka_run_group_tests(tests, setup, teardown);
}
