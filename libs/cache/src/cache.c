/*
 * cache/cache.c - Redis client: connection pool, outage handling, commands.
 *
 * A few connections, each behind its own mutex and opened on first use.
 * While Redis is marked down every call returns at once; see cache.h for
 * the behaviour callers rely on. Rate limiting lives in ratelimit.c.
 */
#include "cache/cache.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "cache_internal.h"
#include "slog/slog.h"
#include "util/err.h"
#include "util/ids.h"

#define CACHE_POOL 4

struct slot {
	pthread_mutex_t mu;
	redisContext *ctx; /* NULL until connected */
};

struct cache {
	char *host;
	int port;
	struct timeval tv;
	struct slot slots[CACHE_POOL];
	atomic_uint next;
	_Atomic int64_t down_until_us; /* monotonic; 0 = not down */
	atomic_bool outage;            /* a warning was logged and no recovery yet */
	struct cache_buckets *local;
};

struct cache *cache_new(const char *host, int port, int timeout_ms)
{
	struct cache *c;

	if (!host || !*host || port <= 0 || port > 65535 || timeout_ms < 0)
		return NULL;
	if (timeout_ms == 0)
		timeout_ms = 500;
	c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->host = strdup(host);
	c->local = cache_buckets_new(CACHE_LOCAL_BUCKETS);
	if (!c->host || !c->local) {
		free(c->host);
		cache_buckets_free(c->local);
		free(c);
		return NULL;
	}
	c->port = port;
	c->tv.tv_sec = timeout_ms / 1000;
	c->tv.tv_usec = (timeout_ms % 1000) * 1000;
	for (int i = 0; i < CACHE_POOL; i++)
		pthread_mutex_init(&c->slots[i].mu, NULL);
	return c;
}

void cache_free(struct cache *c)
{
	if (!c)
		return;
	for (int i = 0; i < CACHE_POOL; i++) {
		if (c->slots[i].ctx)
			redisFree(c->slots[i].ctx);
		pthread_mutex_destroy(&c->slots[i].mu);
	}
	cache_buckets_free(c->local);
	free(c->host);
	free(c);
}

struct cache_buckets *cache_local_buckets(struct cache *c)
{
	return c->local;
}

static bool is_down(struct cache *c)
{
	int64_t until = atomic_load(&c->down_until_us);

	return until != 0 && util_mono_us() < until;
}

static void mark_down(struct cache *c, const char *why)
{
	atomic_store(&c->down_until_us, util_mono_us() + (int64_t)CACHE_RETRY_MS * 1000);
	if (!atomic_exchange(&c->outage, true)) {
		char q[256];
		slog_warn("redis unavailable", "host=%s port=%d err=%s retry_ms=%d", c->host,
			  c->port, slog_quote(q, sizeof q, why), CACHE_RETRY_MS);
	}
}

static void mark_up(struct cache *c)
{
	/* read first: the common case writes nothing to this shared line */
	if (atomic_load(&c->down_until_us) != 0)
		atomic_store(&c->down_until_us, 0);
	if (atomic_load(&c->outage) && atomic_exchange(&c->outage, false))
		slog_info("redis available again", "host=%s port=%d", c->host, c->port);
}

static struct slot *slot_acquire(struct cache *c)
{
	unsigned start = atomic_fetch_add(&c->next, 1);
	struct slot *s;

	/* lowest free slot first, so light use keeps to one connection */
	for (unsigned i = 0; i < CACHE_POOL; i++) {
		s = &c->slots[i];
		if (pthread_mutex_trylock(&s->mu) == 0)
			return s;
	}
	s = &c->slots[start % CACHE_POOL];
	pthread_mutex_lock(&s->mu);
	return s;
}

/* Opens s->ctx; on failure copies the reason into why and leaves it NULL. */
static int slot_connect(struct cache *c, struct slot *s, char *why, size_t whylen)
{
	redisContext *ctx = redisConnectWithTimeout(c->host, c->port, c->tv);

	if (!ctx)
		return util_err_set(why, whylen, UTIL_ENOMEM, "out of memory");
	if (ctx->err || redisSetTimeout(ctx, c->tv) != REDIS_OK) {
		util_err_set(why, whylen, UTIL_EUNAVAIL, "connect: %s", ctx->errstr);
		redisFree(ctx);
		return UTIL_EUNAVAIL;
	}
	redisEnableKeepAlive(ctx);
	/* named so operators (and tests) can tell our connections apart */
	redisReply *r = redisCommand(ctx, "CLIENT SETNAME simpul-%d", (int)getpid());
	if (!r) {
		util_err_set(why, whylen, UTIL_EUNAVAIL, "setname: %s", ctx->errstr);
		redisFree(ctx);
		return UTIL_EUNAVAIL;
	}
	freeReplyObject(r);
	s->ctx = ctx;
	return 0;
}

/* A broken idle connection (Redis restarted) is worth one immediate retry. */
static bool stale_connection(const redisContext *ctx, int saved_errno)
{
	return ctx->err == REDIS_ERR_EOF ||
	       (ctx->err == REDIS_ERR_IO && (saved_errno == ECONNRESET || saved_errno == EPIPE));
}

/* Frees the replies read so far and clears them. */
static void replies_free(struct redisReply **out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (out[i])
			freeReplyObject(out[i]);
		out[i] = NULL;
	}
}

/* Writes every command, then reads n replies; false on a connection failure. */
static bool pipeline_once(redisContext *ctx, const struct cache_cmd *cmds, size_t n,
			  struct redisReply **out, size_t *got)
{
	*got = 0;
	for (size_t i = 0; i < n; i++)
		if (redisAppendCommandArgv(ctx, cmds[i].argc, cmds[i].argv, cmds[i].lens) !=
		    REDIS_OK)
			return false;
	while (*got < n) {
		void *r = NULL;

		if (redisGetReply(ctx, &r) != REDIS_OK || !r)
			return false;
		out[(*got)++] = r;
	}
	return true;
}

int cache_pipeline(struct cache *c, const struct cache_cmd *cmds, size_t n,
		   struct redisReply **out)
{
	char why[256] = "";
	struct slot *s;
	bool ok = false;
	int rc = UTIL_EUNAVAIL;

	memset(out, 0, n * sizeof(*out));
	if (n == 0)
		return 0;
	if (is_down(c))
		return UTIL_EUNAVAIL;
	s = slot_acquire(c);
	for (int attempt = 0; attempt < 2 && !ok; attempt++) {
		bool fresh = !s->ctx;
		size_t got = 0;

		if (fresh && (rc = slot_connect(c, s, why, sizeof why)) != 0)
			break;
		ok = pipeline_once(s->ctx, cmds, n, out, &got);
		if (ok)
			break;
		int e = errno;
		/* retried only when no reply came back: nothing ran twice */
		bool retry = got == 0 && !fresh && stale_connection(s->ctx, e);
		util_err_set(why, sizeof why, UTIL_EUNAVAIL, "%s",
			     s->ctx->errstr[0] ? s->ctx->errstr : "out of memory");
		replies_free(out, got);
		redisFree(s->ctx);
		s->ctx = NULL;
		rc = UTIL_EUNAVAIL;
		if (!retry)
			break;
	}
	pthread_mutex_unlock(&s->mu);
	if (!ok) {
		mark_down(c, why[0] ? why : "no reply");
		return rc == UTIL_ENOMEM ? UTIL_ENOMEM : UTIL_EUNAVAIL;
	}
	mark_up(c);
	return 0;
}

int cache_command(struct cache *c, int argc, const char **argv, const size_t *lens,
		  struct redisReply **out)
{
	const struct cache_cmd cmd = {argc, argv, lens};

	return cache_pipeline(c, &cmd, 1, out);
}

static bool key_ok(const char *key)
{
	return key && *key && strlen(key) <= CACHE_KEY_MAX;
}

/* Logs an error reply (not an outage: Redis is up but refused the command). */
static int reply_error(const char *cmd, const redisReply *r)
{
	char q[256];

	slog_error("redis command failed", "cmd=%s err=%s", cmd,
		   slog_quote(q, sizeof q, r->str ? r->str : ""));
	return UTIL_EIO;
}

int cache_get(struct cache *c, const char *key, struct util_buf *out)
{
	const char *argv[] = {"GET", key};
	size_t lens[2];
	redisReply *r;
	int rc;

	if (!c || !out || !key_ok(key))
		return UTIL_EINVAL;
	lens[0] = 3;
	lens[1] = strlen(key);
	if ((rc = cache_command(c, 2, argv, lens, &r)) != 0)
		return rc;
	switch (r->type) {
	case REDIS_REPLY_STRING:
		util_buf_reset(out);
		rc = util_buf_append(out, r->str, r->len);
		break;
	case REDIS_REPLY_NIL:
		rc = UTIL_ENOTFOUND;
		break;
	case REDIS_REPLY_ERROR:
		rc = reply_error("get", r);
		break;
	default:
		rc = UTIL_EIO;
		break;
	}
	freeReplyObject(r);
	return rc;
}

static int set_common(struct cache *c, const char *key, const void *val, size_t len,
		      int64_t ttl_ms, bool nx)
{
	const char *argv[6] = {"SET", key, val ? val : ""};
	size_t lens[6] = {3, 0, val ? len : 0};
	char ttl[32];
	int argc = 3, rc;
	redisReply *r;

	if (!c || !key_ok(key) || (!val && len > 0))
		return UTIL_EINVAL;
	lens[1] = strlen(key);
	if (ttl_ms > 0) {
		snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_ms);
		argv[argc] = "PX";
		lens[argc++] = 2;
		argv[argc] = ttl;
		lens[argc++] = strlen(ttl);
	}
	if (nx) {
		argv[argc] = "NX";
		lens[argc++] = 2;
	}
	if ((rc = cache_command(c, argc, argv, lens, &r)) != 0)
		return rc;
	if (r->type == REDIS_REPLY_STATUS)
		rc = 0;
	else if (r->type == REDIS_REPLY_NIL && nx)
		rc = UTIL_ECONFLICT;
	else if (r->type == REDIS_REPLY_ERROR)
		rc = reply_error("set", r);
	else
		rc = UTIL_EIO;
	freeReplyObject(r);
	return rc;
}

int cache_set(struct cache *c, const char *key, const void *val, size_t len, int64_t ttl_ms)
{
	return set_common(c, key, val, len, ttl_ms, false);
}

int cache_set_nx(struct cache *c, const char *key, const void *val, size_t len, int64_t ttl_ms)
{
	return set_common(c, key, val, len, ttl_ms, true);
}

int cache_del(struct cache *c, const char *key)
{
	const char *argv[] = {"DEL", key};
	size_t lens[2];
	redisReply *r;
	int rc;

	if (!c || !key_ok(key))
		return UTIL_EINVAL;
	lens[0] = 3;
	lens[1] = strlen(key);
	if ((rc = cache_command(c, 2, argv, lens, &r)) != 0)
		return rc;
	if (r->type == REDIS_REPLY_INTEGER)
		rc = 0;
	else if (r->type == REDIS_REPLY_ERROR)
		rc = reply_error("del", r);
	else
		rc = UTIL_EIO;
	freeReplyObject(r);
	return rc;
}

int cache_get_many(struct cache *c, const char *const *keys, size_t n, struct util_buf *out,
		   int *rcs)
{
	const char **argv;
	size_t *lens;
	redisReply *r = NULL;
	int rc = 0;

	if (!c || (n > 0 && (!keys || !out || !rcs)))
		return UTIL_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!key_ok(keys[i]))
			return UTIL_EINVAL;
	if (n == 0)
		return 0;
	argv = malloc((n + 1) * sizeof(*argv));
	lens = malloc((n + 1) * sizeof(*lens));
	if (!argv || !lens) {
		free(argv);
		free(lens);
		return UTIL_ENOMEM;
	}
	argv[0] = "MGET";
	lens[0] = 4;
	for (size_t i = 0; i < n; i++) {
		argv[i + 1] = keys[i];
		lens[i + 1] = strlen(keys[i]);
	}
	rc = cache_command(c, (int)(n + 1), argv, lens, &r);
	free(argv);
	free(lens);
	if (rc != 0)
		return rc;
	if (r->type == REDIS_REPLY_ERROR)
		rc = reply_error("mget", r);
	else if (r->type != REDIS_REPLY_ARRAY || r->elements != n)
		rc = UTIL_EIO;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const redisReply *e = r->element[i];

		if (e->type == REDIS_REPLY_STRING) {
			util_buf_reset(&out[i]);
			rcs[i] = util_buf_append(&out[i], e->str, e->len);
		} else {
			rcs[i] = e->type == REDIS_REPLY_NIL ? UTIL_ENOTFOUND : UTIL_EIO;
		}
	}
	freeReplyObject(r);
	return rc;
}

int cache_set_many(struct cache *c, const char *const *keys, const char *const *vals,
		   const size_t *lens, size_t n, int64_t ttl_ms)
{
	struct cache_cmd *cmds;
	const char **argv;
	size_t *alen;
	redisReply **replies;
	char ttl[32];
	int argc = ttl_ms > 0 ? 5 : 3, rc = 0;

	if (!c || (n > 0 && (!keys || !vals || !lens)))
		return UTIL_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!key_ok(keys[i]) || (!vals[i] && lens[i] > 0))
			return UTIL_EINVAL;
	if (n == 0)
		return 0;
	snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_ms);
	cmds = malloc(n * sizeof(*cmds));
	argv = malloc(n * 5 * sizeof(*argv));
	alen = malloc(n * 5 * sizeof(*alen));
	replies = malloc(n * sizeof(*replies));
	if (!cmds || !argv || !alen || !replies) {
		rc = UTIL_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const char **a = argv + 5 * i;
		size_t *l = alen + 5 * i;

		a[0] = "SET", l[0] = 3;
		a[1] = keys[i], l[1] = strlen(keys[i]);
		a[2] = vals[i] ? vals[i] : "", l[2] = vals[i] ? lens[i] : 0;
		a[3] = "PX", l[3] = 2;
		a[4] = ttl, l[4] = strlen(ttl);
		cmds[i] = (struct cache_cmd){argc, a, l};
	}
	rc = cache_pipeline(c, cmds, n, replies);
	if (rc == 0) {
		for (size_t i = 0; i < n; i++)
			if (replies[i]->type != REDIS_REPLY_STATUS && rc == 0)
				rc = replies[i]->type == REDIS_REPLY_ERROR
					     ? reply_error("set", replies[i])
					     : UTIL_EIO;
		replies_free(replies, n);
	}
out:
	free(cmds);
	free(argv);
	free(alen);
	free(replies);
	return rc;
}

bool cache_available(struct cache *c)
{
	const char *argv[] = {"PING"};
	size_t lens[] = {4};
	redisReply *r;
	bool ok;

	if (!c || cache_command(c, 1, argv, lens, &r) != 0)
		return false;
	ok = r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
	freeReplyObject(r);
	return ok;
}
