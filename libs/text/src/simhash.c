/*
 * simhash.c - 64-bit SimHash over word unigrams and bigrams of the analysed
 * terms, and its Hamming distance (see text/simhash.h).
 */
#include "text/simhash.h"

static uint64_t fnv64(uint64_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

/* splitmix64 finaliser: FNV's low bits are weak for short keys */
static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void add(int32_t v[64], uint64_t h)
{
	for (int b = 0; b < 64; b++)
		v[b] += (h >> b) & 1 ? 1 : -1;
}

static bool feature(const struct text_term *t)
{
	return (t->type == TEXT_TOK_WORD || t->type == TEXT_TOK_NUMBER) && !t->stop;
}

uint64_t text_simhash(const struct text_term *terms, size_t n)
{
	int32_t v[64] = {0};
	uint64_t prev = 0, out = 0;
	bool have_prev = false, any = false;

	for (size_t i = 0; i < n; i++) {
		const struct text_term *t = &terms[i];
		if (!feature(t))
			continue;
		uint64_t h = fnv64(14695981039346656037ull, t->stem, t->stem_len);
		add(v, mix(h));
		if (have_prev)
			add(v, mix(h ^ (prev * 31 + 0x9e3779b97f4a7c15ull)));
		prev = h;
		have_prev = any = true;
	}
	if (!any)
		return 0;
	for (int b = 0; b < 64; b++)
		if (v[b] > 0)
			out |= 1ull << b;
	return out;
}

int text_simhash_distance(uint64_t a, uint64_t b)
{
	return __builtin_popcountll(a ^ b);
}

bool text_simhash_near(uint64_t a, uint64_t b)
{
	return text_simhash_distance(a, b) <= TEXT_SIMHASH_NEAR;
}
