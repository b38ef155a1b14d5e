/*
 * cache/buckets.h - a bounded in-process table of token buckets.
 *
 * The rate limiter's fallback while Redis is down (see cache.h), usable on
 * its own. Thread-safe (one mutex). Holds at most max_keys buckets; adding
 * one more evicts the least recently used. The caller passes the clock so
 * the arithmetic is testable.
 */
#ifndef CACHE_BUCKETS_H
#define CACHE_BUCKETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cache_buckets;

/* A table of at most max_keys (>= 1) buckets; NULL on ENOMEM or bad size. */
struct cache_buckets *cache_buckets_new(size_t max_keys);
/* Frees the table; cache_buckets_free(NULL) does nothing. */
void cache_buckets_free(struct cache_buckets *b);

/*
 * Takes one token from the bucket named key (copied) at time now_ms (any
 * monotonic millisecond clock). A new bucket starts full (burst tokens) and
 * refills at rate_per_s. Sets *allowed and *retry_after_ms as
 * cache_ratelimit_take does. 0, UTIL_EINVAL (NULL/empty key, rate_per_s <= 0,
 * burst < 1, non-finite numbers), UTIL_ENOMEM.
 */
__attribute__((warn_unused_result)) int cache_buckets_take(struct cache_buckets *b,
							   const char *key, double rate_per_s,
							   double burst, int64_t now_ms,
							   bool *allowed, int64_t *retry_after_ms);

/* Number of buckets held now. */
size_t cache_buckets_count(struct cache_buckets *b);

#endif
