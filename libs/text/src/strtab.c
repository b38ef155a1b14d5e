/*
 * strtab.c - open-addressing string hash map used by the lexicons, the
 * stopword set, the stemmer's root dictionary and its cache, with a Bloom
 * filter in front for the many lookups of absent keys, and content stamps.
 */
#include "strtab.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"

uint64_t strtab_stamp_next(void)
{
	static uint64_t counter;

	return __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
}

void strtab_init(struct strtab *t)
{
	memset(t, 0, sizeof(*t));
	t->stamp = strtab_stamp_next();
}

void strtab_release(struct strtab *t)
{
	if (!t)
		return;
	free(t->slots);
	free(t->filter);
	free(t->arena);
	memset(t, 0, sizeof(*t));
}

int strtab_store(struct strtab *t, const char *s, size_t len, uint32_t *off)
{
	if (t->arena_len + len + 1 > UINT32_MAX)
		return UTIL_ETOOBIG;
	if (t->arena_len + len + 1 > t->arena_cap) {
		size_t cap = t->arena_cap ? t->arena_cap : 4096;
		while (cap < t->arena_len + len + 1)
			cap *= 2;
		char *p = realloc(t->arena, cap);
		if (!p)
			return UTIL_ENOMEM;
		t->arena = p;
		t->arena_cap = cap;
	}
	memcpy(t->arena + t->arena_len, s, len);
	t->arena[t->arena_len + len] = '\0';
	*off = (uint32_t)t->arena_len;
	t->arena_len += len + 1;
	return 0;
}

static inline uint64_t filter_bits(uint32_t h)
{
	return (1ull << (h & 63)) | (1ull << ((h >> 6) & 63));
}

static inline size_t filter_word(uint32_t h, size_t nslots)
{
	return (h >> 12) & (nslots / 8 - 1);
}

static struct strtab_slot *find_slot(const struct strtab *t, const char *key, size_t len,
				     uint32_t h)
{
	size_t mask = t->nslots - 1;

	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct strtab_slot *sl = &t->slots[i];
		if (sl->hash == 0)
			return sl;
		if (sl->hash == h && sl->len == len && strtab_eq(t->arena + sl->off, key, len))
			return sl;
	}
}

static int grow(struct strtab *t)
{
	size_t n = t->nslots ? t->nslots * 2 : 1024;
	struct strtab_slot *slots = calloc(n, sizeof(*slots));
	uint64_t *filter = calloc(n / 8, sizeof(*filter));

	if (!slots || !filter) {
		free(slots);
		free(filter);
		return UTIL_ENOMEM;
	}
	for (size_t i = 0; i < t->nslots; i++) {
		struct strtab_slot *o = &t->slots[i];
		if (!o->hash)
			continue;
		filter[filter_word(o->hash, n)] |= filter_bits(o->hash);
		for (size_t j = o->hash & (n - 1);; j = (j + 1) & (n - 1)) {
			if (!slots[j].hash) {
				slots[j] = *o;
				break;
			}
		}
	}
	free(t->slots);
	free(t->filter);
	t->slots = slots;
	t->filter = filter;
	t->nslots = n;
	return 0;
}

int strtab_put(struct strtab *t, const char *key, size_t len, uint32_t val, bool replace)
{
	uint32_t h = strtab_hash(key, len);
	int rc;

	if ((t->count + 1) * 2 > t->nslots) {
		rc = grow(t);
		if (rc)
			return rc;
	}
	struct strtab_slot *sl = find_slot(t, key, len, h);
	if (sl->hash) {
		if (replace && sl->val != val) {
			sl->val = val;
			t->stamp = strtab_stamp_next();
		}
		return 0;
	}
	uint32_t off;
	rc = strtab_store(t, key, len, &off);
	if (rc)
		return rc;
	/* strtab_store may move the arena, but slots hold offsets only */
	sl->hash = h;
	sl->off = off;
	sl->len = (uint32_t)len;
	sl->val = val;
	t->filter[filter_word(h, t->nslots)] |= filter_bits(h);
	t->count++;
	t->stamp = strtab_stamp_next();
	return 0;
}

bool strtab_get(const struct strtab *t, const char *key, size_t len, uint32_t *val)
{
	if (!t->nslots)
		return false;
	uint32_t h = strtab_hash(key, len);
	uint64_t bits = filter_bits(h);
	if ((t->filter[filter_word(h, t->nslots)] & bits) != bits)
		return false;
	const struct strtab_slot *sl = find_slot(t, key, len, h);
	if (!sl->hash)
		return false;
	if (val)
		*val = sl->val;
	return true;
}
