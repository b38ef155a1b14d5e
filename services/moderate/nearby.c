/*
 * services/moderate/nearby.c - signals that need memory across items, kept
 * in Redis: near-duplicates of recent content across all KIMs (SimHash in 4
 * bands of 16 bits: two fingerprints within 3 bits share at least one band
 * exactly) and flooding by one KIM or author (token buckets).
 * Redis down: these signals are skipped; nothing fails.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cache/cache.h"
#include "moderate.h"
#include "text/simhash.h"
#include "util/buf.h"

#define MIN_FEATURES 8 /* shorter texts collide too easily */

static void near_dup(struct cache *c, struct mod_result *r, const char *item_id, uint64_t fp,
		     int64_t window_ms)
{
	char key[64], val[96];
	struct util_buf got;
	bool found = false;

	util_buf_init(&got, 256);
	for (int band = 0; band < 4 && !found; band++) {
		unsigned v = (unsigned)(fp >> (16 * band)) & 0xffffu;
		unsigned long long other;
		char other_id[40];

		snprintf(key, sizeof(key), "mod:sh:%d:%04x", band, v);
		if (cache_get(c, key, &got) != 0)
			continue;
		if (sscanf(got.data, "%llx %39s", &other, other_id) == 2 &&
		    strcmp(other_id, item_id) != 0 && text_simhash_near(fp, (uint64_t)other)) {
			mod_result_add(r, "NEAR_DUPLICATE", 4, "like %s (%d bits)", other_id,
				       text_simhash_distance(fp, (uint64_t)other));
			found = true;
		}
	}
	util_buf_release(&got);
	snprintf(val, sizeof(val), "%016" PRIx64 " %s", fp, item_id);
	for (int band = 0; band < 4; band++) {
		snprintf(key, sizeof(key), "mod:sh:%d:%04x", band,
			 (unsigned)(fp >> (16 * band)) & 0xffffu);
		if (cache_set(c, key, val, strlen(val), window_ms) != 0)
			break; /* Redis down: libs/cache logged it */
	}
}

static void flood(struct cache *c, struct mod_result *r, const char *what, const char *id,
		  int64_t per_min, int64_t burst)
{
	char key[96];
	bool allowed = true;
	int64_t retry = 0;

	if (!id || !*id)
		return;
	snprintf(key, sizeof(key), "mod:flood:%s:%s", what, id);
	if (cache_ratelimit_take(c, key, (double)per_min / 60.0, (double)burst, &allowed, &retry) ==
		    0 &&
	    !allowed)
		mod_result_add(r, strcmp(what, "kim") == 0 ? "FLOOD_KIM" : "FLOOD_AUTHOR", 6,
			       "over %lld per minute", (long long)per_min);
}

void mod_nearby_check(struct cache *c, struct mod_result *r, const char *item_id, uint64_t fp,
		      size_t nfeatures, int64_t window_ms, const char *kim_id,
		      const char *author_id, int64_t per_min, int64_t burst)
{
	if (!c)
		return;
	if (fp && nfeatures >= MIN_FEATURES)
		near_dup(c, r, item_id, fp, window_ms);
	flood(c, r, "kim", kim_id, per_min, burst);
	if (!kim_id || !*kim_id)
		flood(c, r, "author", author_id, per_min, burst);
}
