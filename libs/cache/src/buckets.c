/*
 * cache/buckets.c - bounded LRU table of token buckets (rate-limit fallback).
 *
 * A chained hash table for lookup plus a doubly linked list in order of
 * last use; past max_keys the list's tail is evicted.
 */
#include "cache/buckets.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

struct bucket {
	char *key;
	uint64_t hash;
	double tokens;
	int64_t ts_ms;
	struct bucket *chain;      /* next in the hash bin */
	struct bucket *prev, *next; /* LRU list, head = most recent */
};

struct cache_buckets {
	pthread_mutex_t mu;
	struct bucket **bins;
	size_t nbins; /* power of two */
	size_t count, max;
	struct bucket *head, *tail;
};

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

struct cache_buckets *cache_buckets_new(size_t max_keys)
{
	struct cache_buckets *b;
	size_t nbins = 16;

	if (max_keys == 0 || max_keys > (SIZE_MAX / 4))
		return NULL;
	while (nbins < max_keys)
		nbins <<= 1;
	b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	b->bins = calloc(nbins, sizeof *b->bins);
	if (!b->bins) {
		free(b);
		return NULL;
	}
	b->nbins = nbins;
	b->max = max_keys;
	pthread_mutex_init(&b->mu, NULL);
	return b;
}

void cache_buckets_free(struct cache_buckets *b)
{
	struct bucket *e, *next;

	if (!b)
		return;
	for (e = b->head; e; e = next) {
		next = e->next;
		free(e->key);
		free(e);
	}
	free(b->bins);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

static void lru_unlink(struct cache_buckets *b, struct bucket *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		b->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		b->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push_front(struct cache_buckets *b, struct bucket *e)
{
	e->next = b->head;
	e->prev = NULL;
	if (b->head)
		b->head->prev = e;
	b->head = e;
	if (!b->tail)
		b->tail = e;
}

static void evict_oldest(struct cache_buckets *b)
{
	struct bucket *e = b->tail, **pp;

	if (!e)
		return;
	for (pp = &b->bins[e->hash & (b->nbins - 1)]; *pp; pp = &(*pp)->chain) {
		if (*pp == e) {
			*pp = e->chain;
			break;
		}
	}
	lru_unlink(b, e);
	free(e->key);
	free(e);
	b->count--;
}

/* Finds key's bucket, creating a full one if absent; NULL on ENOMEM. */
static struct bucket *lookup(struct cache_buckets *b, const char *key, double burst,
			     int64_t now_ms)
{
	uint64_t h = fnv1a(key);
	struct bucket **bin = &b->bins[h & (b->nbins - 1)], *e;

	for (e = *bin; e; e = e->chain) {
		if (e->hash == h && strcmp(e->key, key) == 0) {
			lru_unlink(b, e);
			lru_push_front(b, e);
			return e;
		}
	}
	e = calloc(1, sizeof *e);
	if (!e || !(e->key = strdup(key))) {
		free(e);
		return NULL;
	}
	if (b->count >= b->max)
		evict_oldest(b);
	bin = &b->bins[h & (b->nbins - 1)];
	e->hash = h;
	e->tokens = burst;
	e->ts_ms = now_ms;
	e->chain = *bin;
	*bin = e;
	lru_push_front(b, e);
	b->count++;
	return e;
}

int cache_buckets_take(struct cache_buckets *b, const char *key, double rate_per_s,
		       double burst, int64_t now_ms, bool *allowed, int64_t *retry_after_ms)
{
	struct bucket *e;
	int rc = 0;

	if (!b || !key || !*key || !allowed || !retry_after_ms || !isfinite(rate_per_s) ||
	    !isfinite(burst) || rate_per_s <= 0 || burst < 1)
		return UTIL_EINVAL;
	pthread_mutex_lock(&b->mu);
	e = lookup(b, key, burst, now_ms);
	if (!e) {
		rc = UTIL_ENOMEM;
		goto out;
	}
	if (now_ms > e->ts_ms) {
		e->tokens = fmin(burst, e->tokens + (double)(now_ms - e->ts_ms) * rate_per_s / 1000.0);
		e->ts_ms = now_ms;
	}
	if (e->tokens > burst)
		e->tokens = burst; /* burst lowered since the bucket was made */
	if (e->tokens >= 1.0) {
		e->tokens -= 1.0;
		*allowed = true;
		*retry_after_ms = 0;
	} else {
		int64_t wait = (int64_t)ceil((1.0 - e->tokens) * 1000.0 / rate_per_s);
		*allowed = false;
		*retry_after_ms = wait < 1 ? 1 : wait;
	}
out:
	pthread_mutex_unlock(&b->mu);
	return rc;
}

size_t cache_buckets_count(struct cache_buckets *b)
{
	size_t n;

	if (!b)
		return 0;
	pthread_mutex_lock(&b->mu);
	n = b->count;
	pthread_mutex_unlock(&b->mu);
	return n;
}
