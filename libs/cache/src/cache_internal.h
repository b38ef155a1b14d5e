/*
 * cache/src/cache_internal.h - what cache.c shares with ratelimit.c.
 */
#ifndef CACHE_INTERNAL_H
#define CACHE_INTERNAL_H

#include <stddef.h>

#include "cache/buckets.h"
#include "cache/cache.h"

struct redisReply;

/*
 * Runs one command on a pooled connection. 0 with *out set (the caller
 * frees it with freeReplyObject; it may be an error reply), or
 * UTIL_EUNAVAIL (Redis down, now marked so) / UTIL_ENOMEM with *out NULL.
 */
int cache_command(struct cache *c, int argc, const char **argv, const size_t *lens,
		  struct redisReply **out);

/* The in-process fallback table owned by c. */
struct cache_buckets *cache_local_buckets(struct cache *c);

#endif
