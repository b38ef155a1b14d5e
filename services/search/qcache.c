/*
 * services/search/qcache.c - generation counters that invalidate cached
 * answers by region scope (see search.h). Redis being down only means no
 * caching: every function here degrades to "bypass".
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cache/cache.h"
#include "search.h"
#include "util/err.h"
#include "util/ids.h"

#define GEN_TTL_MS (7LL * 24 * 3600 * 1000)

static void gen_key(const char *prefix, char out[48])
{
	snprintf(out, 48, "search:gen:%s", *prefix ? prefix : "*");
}

void search_qcache_bump(struct cache *c, const char *region_code, int64_t seq)
{
	static const size_t lens[] = {0, 2, 5, 8, 13};
	char key[48], prefix[16], val[64];
	int n = snprintf(val, sizeof(val), "%" PRId64 "-%" PRId64, seq, util_now_ms());

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		if (lens[i] > strlen(region_code))
			break;
		memcpy(prefix, region_code, lens[i]);
		prefix[lens[i]] = '\0';
		gen_key(prefix, key);
		if (cache_set(c, key, val, (size_t)n, GEN_TTL_MS) == UTIL_EUNAVAIL)
			return; /* stale entries then live at most their TTL */
	}
}

bool search_qcache_key(struct cache *c, const char *region_prefix, int64_t index_gen,
		       const char *request_hash, char key[80])
{
	char gk[48], canon[512];
	struct util_buf gen;
	unsigned char h[32];
	int rc, n;

	util_buf_init(&gen, 64);
	gen_key(region_prefix, gk);
	rc = cache_get(c, gk, &gen);
	if (rc != 0 && rc != UTIL_ENOTFOUND) {
		util_buf_release(&gen);
		return false;
	}
	n = snprintf(canon, sizeof(canon), "%" PRId64 "|%s|%s", index_gen,
		     rc == 0 && gen.data ? gen.data : "0", request_hash);
	util_buf_release(&gen);
	util_sha256(canon, n > 0 && (size_t)n < sizeof(canon) ? (size_t)n : 0, h);
	memcpy(key, "search:q:", 9);
	util_hex(h, 32, key + 9);
	return true;
}
