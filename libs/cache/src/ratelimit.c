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
