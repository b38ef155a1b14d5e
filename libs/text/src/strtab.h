/*
 * strtab.h - internal string table of libs/text: an open-addressing hash map
 * from byte strings to a 32-bit value, with the key bytes kept in one arena.
 *
 * Built once (single writer), then read concurrently without locks: lookups
 * never modify the table. Not part of the public API.
 */
#ifndef TEXT_STRTAB_H
#define TEXT_STRTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct strtab_slot {
	uint32_t hash; /* 0 = empty */
	uint32_t off;  /* key offset in the arena */
	uint32_t len;
	uint32_t val;
};

struct strtab {
	uint64_t stamp; /* unique per table and content: renewed by every insert */
	struct strtab_slot *slots;
	size_t nslots; /* power of two */
	/*
	 * Blocked Bloom filter, nslots / 8 words (one byte per slot): two bits of
	 * one word per key. Most lookups (the stemmer's candidate roots) are for
	 * absent keys; the filter answers them from a small, cache-resident array
	 * instead of a random slot of a large table.
	 */
	uint64_t *filter;
	size_t count;
	char *arena;
	size_t arena_len, arena_cap;
};

void strtab_init(struct strtab *t);
void strtab_release(struct strtab *t);

/*
 * 64-bit hash of s[0..len), eight bytes at a time (the keys are short words,
 * and byte-at-a-time FNV showed up in profiles). Never reads past len.
 */
static inline uint64_t strtab_hash64(const char *s, size_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ ((uint64_t)len * 0xff51afd7ed558ccdull);
	uint64_t v;

	for (; len >= 8; s += 8, len -= 8) {
		memcpy(&v, s, 8);
		h = (h ^ v) * 0xbf58476d1ce4e5b9ull;
		h ^= h >> 31;
	}
	if (len) {
		v = 0;
		for (size_t i = 0; i < len; i++)
			v |= (uint64_t)(unsigned char)s[i] << (8 * i);
		h = (h ^ v) * 0x94d049bb133111ebull;
	}
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 32);
}

/* 32-bit hash for the table; never 0 (0 marks an empty slot). */
static inline uint32_t strtab_hash(const char *s, size_t len)
{
	uint32_t h = (uint32_t)strtab_hash64(s, len);

	return h ? h : 1;
}

/* Equality of two short byte strings, eight bytes at a time. */
static inline bool strtab_eq(const char *a, const char *b, size_t n)
{
	uint64_t x, y;

	for (; n >= 8; a += 8, b += 8, n -= 8) {
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		if (x != y)
			return false;
	}
	for (; n; n--)
		if (*a++ != *b++)
			return false;
	return true;
}

/* A process-wide unique, never-zero stamp (thread-safe). */
uint64_t strtab_stamp_next(void);

/*
 * Insert key -> val; an existing key has its value replaced when replace is
 * true. Returns 0 or UTIL_ENOMEM / UTIL_ETOOBIG (arena beyond 4 GiB).
 */
int strtab_put(struct strtab *t, const char *key, size_t len, uint32_t val, bool replace);

/* Look key up; true and *val set when present. Thread-safe for readers. */
bool strtab_get(const struct strtab *t, const char *key, size_t len, uint32_t *val);

/* Copy bytes into the arena without indexing them; *off receives the offset. */
int strtab_store(struct strtab *t, const char *s, size_t len, uint32_t *off);

/* Pointer to arena bytes at off (valid until the next put/store). */
static inline const char *strtab_at(const struct strtab *t, uint32_t off)
{
	return t->arena + off;
}

#endif
