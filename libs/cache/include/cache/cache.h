/*
 * cache/cache.h - Redis cache with TTL and a token-bucket rate limit.
 *
 * Thread-safe: one struct cache is shared by all threads of a service; it
 * keeps a small pool of connections (each behind a mutex), opened lazily.
 * Every connect and command is bounded by the timeout given to cache_new().
 *
 * DEFINED BEHAVIOUR WHEN REDIS IS DOWN (services go on):
 *   - cache_get            -> UTIL_EUNAVAIL; callers treat it as a miss.
 *   - cache_set/_set_nx/_del -> UTIL_EUNAVAIL; callers ignore it.
 *   - cache_ratelimit_take -> never fails for Redis: it falls back to an
 *     in-process token-bucket table (at most CACHE_LOCAL_BUCKETS keys, least
 *     recently used evicted), so limits still hold per process.
 *   - cache_available      -> false (for /readyz).
 * After a failure the cache is marked down for CACHE_RETRY_MS: calls fail at
 * once without touching the network, then the next call reconnects; a
 * stale connection (Redis restarted) is reopened transparently. One warning
 * is logged per outage (not per call) and one info line when Redis is back.
 *
 * Connections are named "simpul-<pid>" (CLIENT SETNAME). hiredis writes with
 * write(2): the process must ignore SIGPIPE (services do, for HTTP anyway).
 */
#ifndef CACHE_CACHE_H
#define CACHE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define CACHE_RETRY_MS 1000        /* no reconnect attempt for this long after a failure */
#define CACHE_LOCAL_BUCKETS 10000  /* size of the fallback rate-limit table */
#define CACHE_KEY_MAX 512          /* longer keys are refused with UTIL_EINVAL */

struct cache;

/*
 * Creates a cache for host:port (host copied). Never fails because Redis is
 * down: nothing is connected until first use. timeout_ms (> 0; 0 means 500)
 * bounds each connect and each command. Returns NULL only on bad arguments
 * or out of memory. Free with cache_free().
 */
struct cache *cache_new(const char *host, int port, int timeout_ms);
/* Closes the connections and frees c; cache_free(NULL) does nothing. */
void cache_free(struct cache *c);

/*
 * Reads key into out (its content replaced; out's cap applies).
 * 0, UTIL_ENOTFOUND (no such key), UTIL_EUNAVAIL (Redis down),
 * UTIL_ETOOBIG (value larger than out's cap), UTIL_EINVAL (bad key),
 * UTIL_EIO (Redis answered with an error).
 */
__attribute__((warn_unused_result)) int cache_get(struct cache *c, const char *key,
						  struct util_buf *out);

/*
 * Stores len bytes of val (copied) under key; ttl_ms > 0 sets an expiry,
 * ttl_ms <= 0 keeps it forever. 0, UTIL_EUNAVAIL, UTIL_EINVAL, UTIL_EIO.
 */
__attribute__((warn_unused_result)) int cache_set(struct cache *c, const char *key,
						  const void *val, size_t len, int64_t ttl_ms);

/*
 * Like cache_set but only if key does not exist yet (SET NX), for simple
 * coordination. 0 when stored, UTIL_ECONFLICT when the key already exists,
 * else as cache_set.
 */
__attribute__((warn_unused_result)) int cache_set_nx(struct cache *c, const char *key,
						     const void *val, size_t len,
						     int64_t ttl_ms);

/*
 * Reads n keys in ONE round trip (MGET). For each i, rcs[i] is 0 (out[i]'s
 * content replaced by the value), UTIL_ENOTFOUND, UTIL_ETOOBIG (over
 * out[i]'s cap) or UTIL_EIO (not a string). Returns 0 (n == 0 included),
 * UTIL_EUNAVAIL (Redis down: rcs untouched), UTIL_EINVAL (a bad key),
 * UTIL_EIO, UTIL_ENOMEM.
 */
__attribute__((warn_unused_result)) int cache_get_many(struct cache *c, const char *const *keys,
						       size_t n, struct util_buf *out, int *rcs);

/*
 * Stores n values (vals[i] of lens[i] bytes under keys[i], in that order,
 * so a repeated key keeps the last value) in ONE round trip (pipelined SET,
 * PX ttl_ms when ttl_ms > 0). 0, UTIL_EUNAVAIL (Redis down or lost part-way:
 * some may be stored), UTIL_EINVAL, UTIL_EIO, UTIL_ENOMEM.
 */
__attribute__((warn_unused_result)) int cache_set_many(struct cache *c, const char *const *keys,
						       const char *const *vals,
						       const size_t *lens, size_t n,
						       int64_t ttl_ms);

/* Deletes key; 0 whether or not it existed. UTIL_EUNAVAIL, UTIL_EINVAL, UTIL_EIO. */
__attribute__((warn_unused_result)) int cache_del(struct cache *c, const char *key);

/*
 * Takes one token from the bucket named key (stored in Redis as "rl:<key>",
 * refilled at rate_per_s tokens a second up to burst, expiring once idle
 * long enough to be full again). Done atomically in Redis by a Lua script
 * (Redis's clock), so the limit is shared by all processes; while Redis is
 * down, by the in-process table (this process's monotonic clock).
 * *allowed says whether the request may proceed; when it may not,
 * *retry_after_ms (>= 1) says when the next token will be there, else 0.
 * Returns 0, or UTIL_EINVAL for a bad key, rate_per_s <= 0 or burst < 1,
 * or UTIL_ENOMEM.
 */
__attribute__((warn_unused_result)) int cache_ratelimit_take(struct cache *c, const char *key,
							     double rate_per_s, double burst,
							     bool *allowed,
							     int64_t *retry_after_ms);

/*
 * cache_ratelimit_take for n keys (in order; a key may repeat) in ONE round
 * trip (pipelined scripts); allowed[i] and retry_after_ms[i] as there.
 * While Redis is down (also when it is lost part-way), the keys it did not
 * answer for use the in-process table. 0, UTIL_EINVAL, UTIL_ENOMEM.
 */
__attribute__((warn_unused_result)) int cache_ratelimit_take_many(struct cache *c,
								  const char *const *keys,
								  size_t n, double rate_per_s,
								  double burst, bool *allowed,
								  int64_t *retry_after_ms);

/*
 * True if Redis answers a PING now (false at once while marked down).
 * For /readyz.
 */
bool cache_available(struct cache *c);

#endif
