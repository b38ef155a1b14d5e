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

struct strtab_slot {
	uint32_t hash; /* 0 = empty */
	uint32_t off;  /* key offset in the arena */
	uint32_t len;
	uint32_t val;
};

struct strtab {
	struct strtab_slot *slots;
	size_t nslots; /* power of two */
	size_t count;
	char *arena;
	size_t arena_len, arena_cap;
};

void strtab_init(struct strtab *t);
void strtab_release(struct strtab *t);

uint32_t strtab_hash(const char *s, size_t len);

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
