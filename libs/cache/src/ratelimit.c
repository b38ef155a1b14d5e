/*
 * cache/ratelimit.c - token-bucket rate limit: a Lua script in Redis, the
 * in-process table while Redis is down.
 *
 * The script keeps {tokens, ts} in a hash "rl:<key>", uses Redis's own
 * clock (so every process agrees), and sets a TTL of the time a bucket
 * takes to refill plus a second (at most a day), so idle buckets vanish. It is called by
 * EVALSHA, falling back to EVAL (which also caches it) on NOSCRIPT.
 */
#include <hiredis/hiredis.h>
#include <math.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache_internal.h"
#include "slog/slog.h"
#include "util/err.h"
#include "util/ids.h"

static const char bucket_script[] =
	"local rate = tonumber(ARGV[1])\n"
	"local burst = tonumber(ARGV[2])\n"
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
	"local s = redis.call('HMGET', KEYS[1], 'tokens', 'ts')\n"
	"local tokens = tonumber(s[1])\n"
	"local ts = tonumber(s[2])\n"
	"if tokens == nil or ts == nil then tokens = burst; ts = now end\n"
	"if now > ts then tokens = math.min(burst, tokens + (now - ts) * rate / 1000) end\n"
	"if tokens > burst then tokens = burst end\n"
	"local allowed, retry = 0, 0\n"
	"if tokens >= 1 then\n"
	"  tokens = tokens - 1; allowed = 1\n"
	"else\n"
	"  retry = math.max(1, math.ceil((1 - tokens) * 1000 / rate))\n"
	"end\n"
	"redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),\n"
	"  'ts', string.format('%d', now))\n"
	"local ttl = math.min(86400000, math.ceil(burst * 1000 / rate) + 1000)\n"
	"redis.call('PEXPIRE', KEYS[1], string.format('%d', ttl))\n"
	"return {allowed, retry}\n";

static char script_sha[41];
static pthread_once_t sha_once = PTHREAD_ONCE_INIT;

static void compute_sha(void)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(bucket_script, strlen(bucket_script), md, &mdlen, EVP_sha1(), NULL) != 1 ||
	    mdlen != 20) {
		strcpy(script_sha, "0000000000000000000000000000000000000000");
		return; /* EVALSHA then always gets NOSCRIPT and EVAL is used */
	}
	util_hex(md, 20, script_sha);
}

/* Reads {allowed, retry} from the script's reply; false if it is not that. */
static bool parse_reply(const redisReply *r, bool *allowed, int64_t *retry_after_ms)
{
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER ||
	    r->element[1]->type != REDIS_REPLY_INTEGER)
		return false;
	*allowed = r->element[0]->integer == 1;
	*retry_after_ms = *allowed ? 0 : r->element[1]->integer;
	return true;
}

static bool is_noscript(const redisReply *r)
{
	return r->type == REDIS_REPLY_ERROR && r->str && strncmp(r->str, "NOSCRIPT", 8) == 0;
}

/* Runs the script in Redis; 0 with the verdict, or an error meaning "use the local table". */
static int take_remote(struct cache *c, const char *key, double rate, double burst,
		       bool *allowed, int64_t *retry_after_ms)
{
	char rkey[CACHE_KEY_MAX + 8], srate[40], sburst[40], q[256];
	const char *argv[6] = {"EVALSHA", script_sha, "1", rkey, srate, sburst};
	size_t lens[6];
	redisReply *r = NULL;
	int rc;

	pthread_once(&sha_once, compute_sha);
	snprintf(rkey, sizeof rkey, "rl:%s", key);
	snprintf(srate, sizeof srate, "%.17g", rate);
	snprintf(sburst, sizeof sburst, "%.17g", burst);
	for (int i = 0; i < 6; i++)
		lens[i] = strlen(argv[i]);
	if ((rc = cache_command(c, 6, argv, lens, &r)) != 0)
		return rc;
	if (is_noscript(r)) {
		freeReplyObject(r);
		argv[0] = "EVAL";
		argv[1] = bucket_script;
		lens[0] = 4;
		lens[1] = strlen(bucket_script);
		if ((rc = cache_command(c, 6, argv, lens, &r)) != 0)
			return rc;
	}
	rc = parse_reply(r, allowed, retry_after_ms) ? 0 : UTIL_EIO;
	if (rc != 0)
		slog_error("rate limit script failed", "err=%s",
			   slog_quote(q, sizeof q, r->type == REDIS_REPLY_ERROR ? r->str : "bad reply"));
	freeReplyObject(r);
	return rc;
}

int cache_ratelimit_take(struct cache *c, const char *key, double rate_per_s, double burst,
			 bool *allowed, int64_t *retry_after_ms)
{
	if (!c || !key || !*key || strlen(key) > CACHE_KEY_MAX || !allowed || !retry_after_ms ||
	    !isfinite(rate_per_s) || !isfinite(burst) || rate_per_s <= 0 || burst < 1)
		return UTIL_EINVAL;
	if (take_remote(c, key, rate_per_s, burst, allowed, retry_after_ms) == 0)
		return 0;
	/* Redis down or broken: the limit still holds within this process */
	return cache_buckets_take(cache_local_buckets(c), key, rate_per_s, burst,
				  util_mono_us() / 1000, allowed, retry_after_ms);
}

/* The script call for key into argv/lens (6 slots); bufs holds the strings. */
struct take_args {
	char rkey[CACHE_KEY_MAX + 8], srate[40], sburst[40];
	const char *argv[6];
	size_t lens[6];
};

static void take_args_fill(struct take_args *a, const char *key, double rate, double burst,
			   bool eval)
{
	snprintf(a->rkey, sizeof a->rkey, "rl:%s", key);
	snprintf(a->srate, sizeof a->srate, "%.17g", rate);
	snprintf(a->sburst, sizeof a->sburst, "%.17g", burst);
	a->argv[0] = eval ? "EVAL" : "EVALSHA";
	a->argv[1] = eval ? bucket_script : script_sha;
	a->argv[2] = "1";
	a->argv[3] = a->rkey;
	a->argv[4] = a->srate;
	a->argv[5] = a->sburst;
	for (int i = 0; i < 6; i++)
		a->lens[i] = strlen(a->argv[i]);
}

/*
 * One pipelined round of the script for the keys with unanswered[i] set (EVAL when
 * eval, else EVALSHA). Clears unanswered[i] for every verdict it got; a NOSCRIPT
 * reply leaves it set. 0 or the pipeline's error.
 */
static int take_round(struct cache *c, const char *const *keys, size_t n, double rate,
		      double burst, bool eval, bool *unanswered, bool *allowed, int64_t *retry)
{
	struct take_args *args = calloc(n, sizeof(*args));
	struct cache_cmd *cmds = calloc(n, sizeof(*cmds));
	redisReply **replies = calloc(n, sizeof(*replies));
	size_t *idx = calloc(n, sizeof(*idx)), m = 0;
	char q[256];
	int rc = args && cmds && replies && idx ? 0 : UTIL_ENOMEM;

	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (!unanswered[i])
			continue;
		take_args_fill(&args[m], keys[i], rate, burst, eval);
		cmds[m] = (struct cache_cmd){6, args[m].argv, args[m].lens};
		idx[m++] = i;
	}
	if (rc == 0)
		rc = cache_pipeline(c, cmds, m, replies);
	for (size_t k = 0; rc == 0 && k < m; k++) {
		size_t i = idx[k];

		if (is_noscript(replies[k]))
			continue;
		if (!parse_reply(replies[k], &allowed[i], &retry[i]))
			slog_error("rate limit script failed", "err=%s",
				   slog_quote(q, sizeof q, replies[k]->type == REDIS_REPLY_ERROR
								   ? replies[k]->str
								   : "bad reply"));
		else
			unanswered[i] = false;
	}
	for (size_t k = 0; replies && k < m; k++)
		if (replies[k])
			freeReplyObject(replies[k]);
	free(args);
	free(cmds);
	free(replies);
	free(idx);
	return rc;
}

int cache_ratelimit_take_many(struct cache *c, const char *const *keys, size_t n,
			      double rate_per_s, double burst, bool *allowed,
			      int64_t *retry_after_ms)
{
	bool *unanswered;
	int rc = 0;

	if (!c || (n > 0 && (!keys || !allowed || !retry_after_ms)) || !isfinite(rate_per_s) ||
	    !isfinite(burst) || rate_per_s <= 0 || burst < 1)
		return UTIL_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!keys[i] || !*keys[i] || strlen(keys[i]) > CACHE_KEY_MAX)
			return UTIL_EINVAL;
	if (n == 0)
		return 0;
	unanswered = malloc(n * sizeof(*unanswered));
	if (!unanswered)
		return UTIL_ENOMEM;
	for (size_t i = 0; i < n; i++)
		unanswered[i] = true;
	pthread_once(&sha_once, compute_sha);
	/* EVALSHA; the keys answered NOSCRIPT (Redis restarted) again with EVAL */
	if (take_round(c, keys, n, rate_per_s, burst, false, unanswered, allowed, retry_after_ms) == 0)
		(void)take_round(c, keys, n, rate_per_s, burst, true, unanswered, allowed,
				 retry_after_ms);
	/* Redis down or broken: the limit still holds within this process */
	for (size_t i = 0; i < n && rc == 0; i++)
		if (unanswered[i])
			rc = cache_buckets_take(cache_local_buckets(c), keys[i], rate_per_s, burst,
						util_mono_us() / 1000, &allowed[i],
						&retry_after_ms[i]);
	free(unanswered);
	return rc;
}
