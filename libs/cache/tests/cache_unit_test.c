/*
 * Unit tests of libs/cache that need no Redis: the local token-bucket table,
 * and the defined behaviour against a refused port and a mute server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cache/buckets.h"
#include "cache/cache.h"
#include "slog/slog.h"
#include "util/err.h"
#include "util/ids.h"

static void take(struct cache_buckets *b, const char *key, double rate, double burst,
		 int64_t now, bool want, int64_t want_retry)
{
	bool allowed = !want;
	int64_t retry = -1;

	assert_int_equal(cache_buckets_take(b, key, rate, burst, now, &allowed, &retry), 0);
	assert_int_equal(allowed, want);
	assert_int_equal(retry, want_retry);
}

static void buckets_burst_then_refuse(void **state)
{
	struct cache_buckets *b = cache_buckets_new(16);

	assert_non_null(b);
	take(b, "k", 2, 3, 0, true, 0);
	take(b, "k", 2, 3, 0, true, 0);
	take(b, "k", 2, 3, 0, true, 0);
	take(b, "k", 2, 3, 0, false, 500);
	take(b, "k", 2, 3, 250, false, 250);
	take(b, "k", 2, 3, 500, true, 0);
	take(b, "k", 2, 3, 500, false, 500);
	/* a long pause refills to burst, not beyond */
	take(b, "k", 2, 3, 100000, true, 0);
	take(b, "k", 2, 3, 100000, true, 0);
	take(b, "k", 2, 3, 100000, true, 0);
	take(b, "k", 2, 3, 100000, false, 500);
	/* a clock going backwards changes nothing */
	take(b, "k", 2, 3, 50, false, 500);
	/* other keys are independent; slow rates give long waits */
	take(b, "slow", 0.5, 1, 0, true, 0);
	take(b, "slow", 0.5, 1, 0, false, 2000);
	take(b, "slow", 0.5, 1, 1999, false, 1);
	take(b, "slow", 0.5, 1, 2000, true, 0);
	assert_int_equal(cache_buckets_count(b), 2);
	cache_buckets_free(b);
	cache_buckets_free(NULL);
}

static void buckets_bad_args(void **state)
{
	struct cache_buckets *b = cache_buckets_new(4);
	bool a;
	int64_t r;

	assert_null(cache_buckets_new(0));
	assert_int_equal(cache_buckets_take(b, NULL, 1, 1, 0, &a, &r), UTIL_EINVAL);
	assert_int_equal(cache_buckets_take(b, "", 1, 1, 0, &a, &r), UTIL_EINVAL);
	assert_int_equal(cache_buckets_take(b, "k", 0, 1, 0, &a, &r), UTIL_EINVAL);
	assert_int_equal(cache_buckets_take(b, "k", -1, 1, 0, &a, &r), UTIL_EINVAL);
	assert_int_equal(cache_buckets_take(b, "k", 1, 0.5, 0, &a, &r), UTIL_EINVAL);
	assert_int_equal(cache_buckets_take(b, "k", INFINITY, 1, 0, &a, &r), UTIL_EINVAL);
	assert_int_equal(cache_buckets_take(b, "k", 1, NAN, 0, &a, &r), UTIL_EINVAL);
	assert_int_equal(cache_buckets_take(b, "k", 1, 1, 0, NULL, &r), UTIL_EINVAL);
	assert_int_equal(cache_buckets_count(b), 0);
	cache_buckets_free(b);
}

static void buckets_evict_least_recent(void **state)
{
	struct cache_buckets *b = cache_buckets_new(3);

	take(b, "a", 1, 1, 0, true, 0);
	take(b, "b", 1, 1, 0, true, 0);
	take(b, "c", 1, 1, 0, true, 0);
	take(b, "a", 1, 1, 0, false, 1000); /* a is now the most recent */
	take(b, "d", 1, 1, 0, true, 0);     /* evicts b */
	assert_int_equal(cache_buckets_count(b), 3);
	take(b, "a", 1, 1, 0, false, 1000); /* a kept its state */
	take(b, "b", 1, 1, 0, true, 0);     /* b was forgotten: full again; evicts c */
	take(b, "d", 1, 1, 0, false, 1000);
	take(b, "c", 1, 1, 0, true, 0);
	assert_int_equal(cache_buckets_count(b), 3);

	/* many keys through a small table stay bounded */
	char key[32];
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof key, "k%d", i);
		take(b, key, 1, 1, 0, true, 0);
	}
	assert_int_equal(cache_buckets_count(b), 3);
	cache_buckets_free(b);
}

#define THREADS 4
#define PER_THREAD 1000

static void *hammer(void *arg)
{
	struct cache_buckets *b = arg;
	long ok = 0;

	for (int i = 0; i < PER_THREAD; i++) {
		bool a = false;
		int64_t r;
		if (cache_buckets_take(b, "shared", 0.001, 1000, 0, &a, &r) == 0 && a)
			ok++;
	}
	return (void *)ok;
}

static void buckets_threads_share_one_limit(void **state)
{
	struct cache_buckets *b = cache_buckets_new(8);
	pthread_t t[THREADS];
	long total = 0;

	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer, b), 0);
	for (int i = 0; i < THREADS; i++) {
		void *ok;
		pthread_join(t[i], &ok);
		total += (long)ok;
	}
	assert_int_equal(total, 1000);
	cache_buckets_free(b);
}

/* A loopback port bound but not listening: connections are refused. */
static int dead_port(int *fd_out, bool listening)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	if (listening)
		assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*fd_out = fd;
	return ntohs(a.sin_port);
}

static size_t count_str(const char *s, const char *needle)
{
	size_t n = 0;

	while ((s = strstr(s, needle))) {
		n++;
		s += strlen(needle);
	}
	return n;
}

static void redis_down_fails_fast_and_limits_locally(void **state)
{
	int fd, port = dead_port(&fd, false), logp[2];
	struct cache *c = cache_new("127.0.0.1", port, 300);
	struct util_buf out;
	char logbuf[8192];
	bool allowed;
	int64_t retry, t0;

	assert_non_null(c);
	assert_int_equal(pipe(logp), 0);
	fcntl(logp[0], F_SETFL, O_NONBLOCK);
	slog_set_fd(logp[1]);
	util_buf_init(&out, 1024);

	assert_int_equal(cache_get(c, "k", &out), UTIL_EUNAVAIL);
	t0 = util_mono_us();
	for (int i = 0; i < 200; i++) {
		assert_int_equal(cache_get(c, "k", &out), UTIL_EUNAVAIL);
		assert_int_equal(cache_set(c, "k", "v", 1, 1000), UTIL_EUNAVAIL);
		assert_int_equal(cache_set_nx(c, "k", "v", 1, 1000), UTIL_EUNAVAIL);
		assert_int_equal(cache_del(c, "k"), UTIL_EUNAVAIL);
	}
	assert_false(cache_available(c));
	assert_true(util_mono_us() - t0 < 100000); /* no network while marked down */

	/* the rate limit still holds, in process */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(cache_ratelimit_take(c, "client-1", 1, 3, &allowed, &retry), 0);
		assert_true(allowed);
		assert_int_equal(retry, 0);
	}
	assert_int_equal(cache_ratelimit_take(c, "client-1", 1, 3, &allowed, &retry), 0);
	assert_false(allowed);
	assert_true(retry > 0 && retry <= 1000);
	assert_int_equal(cache_ratelimit_take(c, "client-2", 1, 3, &allowed, &retry), 0);
	assert_true(allowed);

	/* after the retry window it tries again (still down): still one warning */
	usleep((CACHE_RETRY_MS + 100) * 1000);
	assert_int_equal(cache_get(c, "k", &out), UTIL_EUNAVAIL);
	ssize_t n = read(logp[0], logbuf, sizeof logbuf - 1);
	logbuf[n > 0 ? n : 0] = '\0';
	assert_int_equal(count_str(logbuf, "msg=\"redis unavailable\""), 1);
	assert_int_equal(count_str(logbuf, "level=warn"), 1);

	slog_set_fd(2);
	close(logp[0]);
	close(logp[1]);
	util_buf_release(&out);
	cache_free(c);
	close(fd);
}

/* The batch calls against a refused port: reads and writes fail at once,
 * the batch rate limit falls back to the in-process table, in order. */
static void many_redis_down(void **state)
{
	int fd, port = dead_port(&fd, false);
	struct cache *c = cache_new("127.0.0.1", port, 300);
	const char *keys[3] = {"m-1", "m-1", "m-1"};
	const char *vals[3] = {"a", "b", "c"};
	size_t lens[3] = {1, 1, 1};
	struct util_buf out[3];
	int rcs[3] = {7, 7, 7};
	bool allowed[3];
	int64_t retry[3];

	for (int i = 0; i < 3; i++)
		util_buf_init(&out[i], 64);
	assert_int_equal(cache_get_many(c, keys, 3, out, rcs), UTIL_EUNAVAIL);
	assert_int_equal(rcs[0], 7); /* untouched */
	assert_int_equal(cache_set_many(c, keys, vals, lens, 3, 1000), UTIL_EUNAVAIL);
	assert_int_equal(cache_ratelimit_take_many(c, keys, 3, 1, 2, allowed, retry), 0);
	assert_true(allowed[0]);
	assert_true(allowed[1]);
	assert_false(allowed[2]);
	assert_true(retry[2] > 0 && retry[2] <= 1000);
	/* nothing to do is fine; bad keys are refused */
	assert_int_equal(cache_get_many(c, keys, 0, out, rcs), 0);
	assert_int_equal(cache_ratelimit_take_many(c, keys, 0, 1, 2, allowed, retry), 0);
	keys[1] = "";
	assert_int_equal(cache_get_many(c, keys, 3, out, rcs), UTIL_EINVAL);
	assert_int_equal(cache_set_many(c, keys, vals, lens, 3, 0), UTIL_EINVAL);
	assert_int_equal(cache_ratelimit_take_many(c, keys, 3, 1, 2, allowed, retry), UTIL_EINVAL);
	for (int i = 0; i < 3; i++)
		util_buf_release(&out[i]);
	cache_free(c);
	close(fd);
}

static void mute_server_times_out(void **state)
{
	int fd, port = dead_port(&fd, true);
	struct cache *c = cache_new("127.0.0.1", port, 200);
	struct util_buf out;
	int64_t t0, took;

	util_buf_init(&out, 64);
	t0 = util_mono_us();
	assert_int_equal(cache_get(c, "k", &out), UTIL_EUNAVAIL);
	took = util_mono_us() - t0;
	assert_true(took >= 150000);
	assert_true(took < 1500000);
	t0 = util_mono_us();
	assert_int_equal(cache_set(c, "k", "v", 1, 0), UTIL_EUNAVAIL);
	assert_true(util_mono_us() - t0 < 20000);
	util_buf_release(&out);
	cache_free(c);
	close(fd);
}

static void bad_arguments(void **state)
{
	struct cache *c = cache_new("127.0.0.1", 1, 100);
	struct util_buf out;
	char longkey[CACHE_KEY_MAX + 2];
	bool a;
	int64_t r;

	assert_null(cache_new(NULL, 6379, 100));
	assert_null(cache_new("", 6379, 100));
	assert_null(cache_new("127.0.0.1", 0, 100));
	assert_null(cache_new("127.0.0.1", 70000, 100));
	cache_free(NULL);
	util_buf_init(&out, 64);
	memset(longkey, 'k', sizeof longkey - 1);
	longkey[sizeof longkey - 1] = '\0';
	assert_int_equal(cache_get(c, "", &out), UTIL_EINVAL);
	assert_int_equal(cache_get(c, NULL, &out), UTIL_EINVAL);
	assert_int_equal(cache_get(c, longkey, &out), UTIL_EINVAL);
	assert_int_equal(cache_set(c, "k", NULL, 3, 0), UTIL_EINVAL);
	assert_int_equal(cache_del(c, longkey), UTIL_EINVAL);
	assert_int_equal(cache_ratelimit_take(c, "k", 0, 1, &a, &r), UTIL_EINVAL);
	assert_int_equal(cache_ratelimit_take(c, "k", 1, 0, &a, &r), UTIL_EINVAL);
	assert_int_equal(cache_ratelimit_take(c, longkey, 1, 1, &a, &r), UTIL_EINVAL);
	util_buf_release(&out);
	cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(buckets_burst_then_refuse),
		cmocka_unit_test(buckets_bad_args),
		cmocka_unit_test(buckets_evict_least_recent),
		cmocka_unit_test(buckets_threads_share_one_limit),
		cmocka_unit_test(redis_down_fails_fast_and_limits_locally),
		cmocka_unit_test(many_redis_down),
		cmocka_unit_test(mute_server_times_out),
		cmocka_unit_test(bad_arguments),
	};

	signal(SIGPIPE, SIG_IGN);
	slog_init("cache_unit_test", SLOG_INFO);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
