/*
 * services/moderate/nearby.c - signals that need memory across items, kept
 * in Redis: near-duplicates of recent content across all KIMs (SimHash in 4
 * bands of 16 bits: two fingerprints within 3 bits share at least one band
 * exactly) and flooding by one KIM or author (token buckets).
 * A whole batch costs three Redis round trips whatever its size: one MGET of
 * every band key, one pipeline of SETs, one pipeline of token-bucket
 * scripts. Items of the same batch see each other as if they had been
 * checked one after the other (an earlier item's fingerprint overrides what
 * Redis returned for its band).
 * Redis down (also part-way): near-duplicates are skipped, flooding uses
 * libs/cache's in-process buckets; nothing fails.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "moderate.h"
#include "text/simhash.h"
#include "util/buf.h"
#include "util/err.h"

#define MIN_FEATURES 8 /* shorter texts collide too easily */
#define BANDS 4
#define KEY_LEN 24
#define VAL_LEN 64

static unsigned band_of(uint64_t fp, int band)
{
	return (unsigned)(fp >> (16 * band)) & 0xffffu;
}

static bool has_fp(const struct mod_nearby_item *it)
{
	return it->r->simhash && it->r->nfeatures >= MIN_FEATURES;
}

/* The value Redis would hold for item j's band b once items 0..j-1 were
 * recorded: the latest earlier item with the same band value, else what
 * MGET returned (NULL: none). */
static const char *band_value(const struct mod_nearby_item *it, size_t j, int b,
			      char (*vals)[VAL_LEN], const struct util_buf *got, const int *rcs,
			      size_t k)
{
	unsigned v = band_of(it[j].r->simhash, b);

	for (size_t i = j; i-- > 0;)
		if (has_fp(&it[i]) && band_of(it[i].r->simhash, b) == v)
			return vals[i];
	return rcs[k] == 0 ? got[k].data : NULL;
}

static void near_dup_many(struct cache *c, struct mod_nearby_item *it, size_t n,
			  int64_t window_ms)
{
	char (*keys)[KEY_LEN] = calloc(n * BANDS, KEY_LEN);
	char (*vals)[VAL_LEN] = calloc(n, VAL_LEN);
	const char **kp = calloc(n * BANDS, sizeof(*kp)), **vp = calloc(n * BANDS, sizeof(*vp));
	size_t *vl = calloc(n * BANDS, sizeof(*vl)), *first = calloc(n, sizeof(*first)), nk = 0;
	struct util_buf *got = calloc(n * BANDS, sizeof(*got));
	int *rcs = calloc(n * BANDS, sizeof(*rcs));

	if (!keys || !vals || !kp || !vp || !vl || !first || !got || !rcs)
		goto out;
	for (size_t j = 0; j < n; j++) {
		first[j] = nk;
		if (!has_fp(&it[j]))
			continue;
		snprintf(vals[j], VAL_LEN, "%016" PRIx64 " %s", it[j].r->simhash, it[j].item_id);
		for (int b = 0; b < BANDS; b++, nk++) {
			snprintf(keys[nk], KEY_LEN, "mod:sh:%d:%04x", b, band_of(it[j].r->simhash, b));
			kp[nk] = keys[nk];
			vp[nk] = vals[j];
			vl[nk] = strlen(vals[j]);
			util_buf_init(&got[nk], 256);
			rcs[nk] = UTIL_ENOTFOUND;
		}
	}
	if (nk == 0 || cache_get_many(c, kp, nk, got, rcs) != 0)
		goto out; /* Redis down: libs/cache logged it */
	for (size_t j = 0; j < n; j++) {
		for (int b = 0; has_fp(&it[j]) && b < BANDS; b++) {
			const char *v = band_value(it, j, b, vals, got, rcs, first[j] + (size_t)b);
			unsigned long long other;
			char other_id[40];

			if (v && sscanf(v, "%llx %39s", &other, other_id) == 2 &&
			    strcmp(other_id, it[j].item_id) != 0 &&
			    text_simhash_near(it[j].r->simhash, (uint64_t)other)) {
				mod_result_add(it[j].r, "NEAR_DUPLICATE", 4, "like %s (%d bits)",
					       other_id,
					       text_simhash_distance(it[j].r->simhash,
								     (uint64_t)other));
				break;
			}
		}
	}
	if (cache_set_many(c, kp, vp, vl, nk, window_ms) != 0)
		goto out; /* down: libs/cache logged it; the next batch retries */
out:
	for (size_t k = 0; got && k < nk; k++)
		util_buf_release(&got[k]);
	free(keys);
	free(vals);
	free(kp);
	free(vp);
	free(vl);
	free(first);
	free(got);
	free(rcs);
}

static void flood_many(struct cache *c, struct mod_nearby_item *it, size_t n, int64_t per_min,
		       int64_t burst)
{
	char (*keys)[96] = calloc(n, 96);
	const char **kp = calloc(n, sizeof(*kp));
	size_t *owner = calloc(n, sizeof(*owner)), nk = 0;
	bool *allowed = calloc(n, sizeof(*allowed));
	int64_t *retry = calloc(n, sizeof(*retry));

	if (!keys || !kp || !owner || !allowed || !retry)
		goto out;
	for (size_t j = 0; j < n; j++) {
		bool kim = it[j].kim_id && *it[j].kim_id;
		const char *id = kim ? it[j].kim_id : it[j].author_id;

		if (!id || !*id)
			continue;
		snprintf(keys[nk], 96, "mod:flood:%s:%s", kim ? "kim" : "author", id);
		kp[nk] = keys[nk];
		owner[nk++] = j;
	}
	if (nk == 0 ||
	    cache_ratelimit_take_many(c, kp, nk, (double)per_min / 60.0, (double)burst, allowed,
				      retry) != 0)
		goto out;
	for (size_t k = 0; k < nk; k++)
		if (!allowed[k])
			mod_result_add(it[owner[k]].r,
				       strncmp(kp[k], "mod:flood:kim:", 14) == 0 ? "FLOOD_KIM"
										: "FLOOD_AUTHOR",
				       6, "over %lld per minute", (long long)per_min);
out:
	free(keys);
	free(kp);
	free(owner);
	free(allowed);
	free(retry);
}

void mod_nearby_check_many(struct cache *c, struct mod_nearby_item *items, size_t n,
			   int64_t window_ms, int64_t per_min, int64_t burst)
{
	if (!c || n == 0)
		return;
	near_dup_many(c, items, n, window_ms);
	flood_many(c, items, n, per_min, burst);
}
