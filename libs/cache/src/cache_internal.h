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

/* One command of a pipeline; everything borrowed. */
struct cache_cmd {
	int argc;
	const char **argv;
	const size_t *lens;
};

/*
 * Runs n commands on ONE pooled connection in one round trip: all are
 * written, then the n replies are read. 0 with out[0..n) set (each may be
 * an error reply; the caller frees each with freeReplyObject), or
 * UTIL_EUNAVAIL (Redis down or lost part-way: the commands may or may not
 * have run; now marked down) / UTIL_ENOMEM, with every out[i] NULL. A stale
 * idle connection is reopened and the pipeline sent again only when no
 * reply had come back.
 */
int cache_pipeline(struct cache *c, const struct cache_cmd *cmds, size_t n,
		   struct redisReply **out);

/* The in-process fallback table owned by c. */
struct cache_buckets *cache_local_buckets(struct cache *c);

#endif
