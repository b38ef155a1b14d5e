/*
 * norm.c - one-pass character normaliser (case, accents, punctuation,
 * whitespace, invalid UTF-8, optional HTML) with an output->input offset map.
 * The rules are listed in text/norm.h.
 */
#include "text/norm.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "ascii.h"
#include "text/utf8.h"
#include "util/err.h"

struct nstate {
	char *out;
	uint32_t *map;
	size_t cap, n;
	bool space;	   /* a separator is pending */
	uint32_t space_src; /* where the pending separator came from */
	uint32_t last_end;  /* end of the last source char that produced output */
	char prev_punct;
	int punct_run;
	bool overflow;
};

/* Folded ASCII for U+00C0..U+00FF; "" keeps the character as it is. */
static const char *const latin1[64] = {
	"a", "a", "a", "a", "a",  "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
	"d", "n", "o", "o", "o",  "o", "o",  "",  "o", "u", "u", "u", "u", "y", "th", "ss",
	"a", "a", "a", "a", "a",  "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
	"d", "n", "o", "o", "o",  "o", "o",  "",  "o", "u", "u", "u", "u", "y", "th", "y",
};

/* Base letter for U+0100..U+017F, two code points per letter mostly. */
static const char latin_ext_a[] = "aaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiii!!jjkkklllllll"
				  "lllnnnnnnnnnoooooo##rrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzs";
_Static_assert(sizeof(latin_ext_a) == 129, "one entry per code point U+0100..U+017F");

static void put(struct nstate *st, const char *b, size_t k, uint32_t src, uint32_t end)
{
	if (st->space) {
		if (st->n >= st->cap) {
			st->overflow = true;
			return;
		}
		if (st->map)
			st->map[st->n] = st->space_src;
		st->out[st->n++] = ' ';
		st->space = false;
	}
	if (st->n + k > st->cap) {
		st->overflow = true;
		return;
	}
	for (size_t i = 0; i < k; i++) {
		if (st->map)
			st->map[st->n] = src;
		st->out[st->n++] = b[i];
	}
	st->last_end = end;
}

static void sep(struct nstate *st, uint32_t src)
{
	st->prev_punct = 0;
	if (st->n == 0 || st->space)
		return;
	st->space = true;
	st->space_src = src;
}

/* ASCII character, already known not to be a control or space. */
static void put_ascii(struct nstate *st, char c, uint32_t src, uint32_t end)
{
	if (c >= 'A' && c <= 'Z')
		c = (char)(c + 32);
	if (c == '!' || c == '?' || c == ',' || c == ';' || c == ':' || c == '.') {
		if (c == st->prev_punct && !st->space) {
			st->punct_run++;
			if (c != '.' || st->punct_run > 3) {
				st->last_end = end;
				return;
			}
		} else {
			st->prev_punct = c;
			st->punct_run = 1;
		}
	} else {
		st->prev_punct = 0;
	}
	put(st, &c, 1, src, end);
}

static bool is_space_cp(int32_t cp)
{
	if (cp <= 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0xA0))
		return true;
	return cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
	       cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

static bool is_dropped_cp(int32_t cp)
{
	return cp == 0xAD || cp == 0x200B || cp == 0x200C || cp == 0x2060 || cp == 0xFEFF;
}

/* Map typographic punctuation to ASCII; returns NULL if cp is not one. */
static const char *punct_ascii(int32_t cp)
{
	switch (cp) {
	case 0x2018: case 0x2019: case 0x201A: case 0x201B: case 0x2032: case 0xB4:
		return "'";
	case 0x201C: case 0x201D: case 0x201E: case 0x201F: case 0x2033: case 0xAB: case 0xBB:
		return "\"";
	case 0x2010: case 0x2011: case 0x2012: case 0x2013: case 0x2014: case 0x2015:
	case 0x2212:
		return "-";
	case 0x2026:
		return "...";
	default:
		return NULL;
	}
}

/* Lower-case / fold a non-ASCII code point into buf; returns its length. */
static size_t fold_cp(int32_t cp, char buf[4])
{
	if (cp >= 0xC0 && cp <= 0xFF && latin1[cp - 0xC0][0]) {
		size_t k = strlen(latin1[cp - 0xC0]);
		memcpy(buf, latin1[cp - 0xC0], k);
		return k;
	}
	if (cp >= 0x100 && cp <= 0x17F) {
		char c = latin_ext_a[cp - 0x100];
		if (c == '!') {
			memcpy(buf, "ij", 2);
			return 2;
		}
		if (c == '#') {
			memcpy(buf, "oe", 2);
			return 2;
		}
		buf[0] = c;
		return 1;
	}
	if (cp >= 0xFF01 && cp <= 0xFF5E) {
		buf[0] = (char)(cp - 0xFF01 + 0x21);
		if (buf[0] >= 'A' && buf[0] <= 'Z')
			buf[0] = (char)(buf[0] + 32);
		return 1;
	}
	if ((cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2) || (cp >= 0x410 && cp <= 0x42F))
		cp += 0x20;
	else if (cp >= 0x400 && cp <= 0x40F)
		cp += 0x50;
	return text_utf8_encode((uint32_t)cp, buf);
}

static void emit_cp(struct nstate *st, int32_t cp, uint32_t src, uint32_t end)
{
	char buf[4];
	const char *p;

	if (cp < 0 || is_space_cp(cp)) {
		sep(st, src);
		return;
	}
	if (cp < 0x80) {
		put_ascii(st, (char)cp, src, end);
		return;
	}
	if (is_dropped_cp(cp))
		return;
	p = punct_ascii(cp);
	if (p) {
		for (; *p; p++)
			put_ascii(st, *p, src, end);
		return;
	}
	st->prev_punct = 0;
	size_t k = fold_cp(cp, buf);
	if (k == 1 && (unsigned char)buf[0] < 0x80) {
		put_ascii(st, buf[0], src, end);
		return;
	}
	put(st, buf, k, src, end);
}

struct entity {
	const char *name;
	int32_t cp;
};

static const struct entity entities[] = {
	{"amp", '&'},	  {"lt", '<'},	      {"gt", '>'},	  {"quot", '"'},
	{"apos", '\''},	  {"nbsp", 0xA0},     {"ndash", 0x2013},  {"mdash", 0x2014},
	{"hellip", 0x2026}, {"lsquo", 0x2018}, {"rsquo", 0x2019}, {"ldquo", 0x201C},
	{"rdquo", 0x201D}, {"laquo", 0xAB},    {"raquo", 0xBB},
};

/* Decode an entity at s[0..len) (s[0] == '&'); returns its length or 0. */
static size_t decode_entity(const char *s, size_t len, int32_t *cp)
{
	size_t i = 1, max = len < 12 ? len : 12;
	uint32_t v = 0;

	if (i < max && s[i] == '#') {
		bool hex = i + 1 < max && (s[i + 1] == 'x' || s[i + 1] == 'X');
		size_t d0;
		i += hex ? 2 : 1;
		d0 = i;
		for (; i < max && s[i] != ';'; i++) {
			char c = s[i];
			int d = c >= '0' && c <= '9'	       ? c - '0'
				: hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
				: hex && c >= 'A' && c <= 'F' ? c - 'A' + 10
							       : -1;
			if (d < 0)
				return 0;
			v = v * (hex ? 16 : 10) + (uint32_t)d;
			if (v > 0x10FFFF)
				return 0;
		}
		if (i == d0 || i >= max || (v >= 0xD800 && v <= 0xDFFF))
			return 0;
		*cp = (int32_t)v;
		return i + 1;
	}
	for (size_t e = 0; e < sizeof(entities) / sizeof(entities[0]); e++) {
		size_t k = strlen(entities[e].name);
		if (1 + k < len && memcmp(s + 1, entities[e].name, k) == 0 && s[1 + k] == ';') {
			*cp = entities[e].cp;
			return k + 2;
		}
	}
	return 0;
}

/* Find needle (case-insensitive) in s[from..len); returns index or len. */
static size_t find_ci(const char *s, size_t len, size_t from, const char *needle)
{
	size_t k = strlen(needle);

	for (size_t i = from; i + k <= len; i++)
		if (strncasecmp(s + i, needle, k) == 0)
			return i;
	return len;
}

/* Length of the markup starting at s[i] == '<', or 0 if it is literal text. */
static size_t markup_len(const char *s, size_t len, size_t i)
{
	size_t lim = len - i > 4096 ? i + 4096 : len, j;
	char c = i + 1 < len ? s[i + 1] : 0;

	if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '/' || c == '!' ||
	      c == '?'))
		return 0;
	if (len - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
		j = find_ci(s, len, i + 4, "-->");
		return j < len ? j + 3 - i : len - i;
	}
	for (j = i + 1; j < lim && s[j] != '>'; j++)
		;
	if (j >= lim)
		return 0;
	j++;
	if (len - i > 7 && strncasecmp(s + i, "<script", 7) == 0) {
		size_t e = find_ci(s, len, j, "</script");
		j = e < len ? e : len;
	} else if (len - i > 6 && strncasecmp(s + i, "<style", 6) == 0) {
		size_t e = find_ci(s, len, j, "</style");
		j = e < len ? e : len;
	}
	return j - i;
}

/* ASCII letters and digits: the bulk of every text. */
static const uint8_t alnum[256] = {
	['0' ... '9'] = 1, ['a' ... 'z'] = 1, ['A' ... 'Z'] = 1,
};

/*
 * Fast path for a run of ASCII letters and digits starting at i: exactly
 * what put_ascii() does for each (lower-case, no punctuation state), done a
 * run at a time. Returns the end of the run.
 */
static size_t put_alnum_run(struct nstate *st, const char *in, size_t len, size_t i)
{
	size_t j = i + 1 + ascii_alnum_run(in + i + 1, len - i - 1);

	st->prev_punct = 0;
	if (st->space) {
		put(st, "", 0, 0, st->last_end); /* flushes the pending separator */
		if (st->overflow)
			return j;
	}
	if (st->n + (j - i) > st->cap) {
		st->overflow = true;
		return j;
	}
	char *o = st->out + st->n;
	for (size_t k = i; k < j; k++)
		*o++ = (char)(in[k] | 0x20); /* 'A'..'Z' -> 'a'..'z'; digits have 0x20 */
	if (st->map)
		for (size_t k = i; k < j; k++)
			st->map[st->n + (k - i)] = (uint32_t)k;
	st->n += j - i;
	st->last_end = (uint32_t)j;
	return j;
}

#ifdef __SSE2__
static inline bool is_run_punct(unsigned char c)
{
	return c == '!' || c == '?' || c == ',' || c == ';' || c == ':' || c == '.';
}

/*
 * Fast path for plain ASCII prose, sixteen input bytes at a time: printable
 * ASCII where every byte is copied (lower-cased) and single spaces stay
 * single spaces. The block's leading bytes up to the first one that needs a
 * rule of its own (a control or non-ASCII byte, a second space, a repeated
 * ! ? , ; : or ., and with HTML '<' and '&') are done here exactly as the
 * byte-at-a-time path would do them: same output, map and state. Returns how
 * many bytes it consumed (0: let the general path take the next one). The
 * caller guarantees i + 16 <= len and room for 17 output bytes.
 */
static size_t put_ascii_block(struct nstate *st, const char *in, size_t i, bool html)
{
	const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(in + i));
	/* previous byte of each lane; lane 0 is judged from the state instead */
	const __m128i xp = i ? _mm_loadu_si128((const __m128i *)(const void *)(in + i - 1))
			     : _mm_slli_si128(x, 1);
	const __m128i sp = _mm_set1_epi8(' ');
	__m128i bad = _mm_or_si128(_mm_cmplt_epi8(x, sp), _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f)));
	__m128i punct = _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('.')),
				     _mm_cmpeq_epi8(x, _mm_set1_epi8(',')));
	punct = _mm_or_si128(punct, _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('!')),
						 _mm_cmpeq_epi8(x, _mm_set1_epi8('?'))));
	punct = _mm_or_si128(punct, _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(';')),
						 _mm_cmpeq_epi8(x, _mm_set1_epi8(':'))));
	/* a space after a space, or a run punctuation mark after itself */
	__m128i same = _mm_cmpeq_epi8(x, xp);
	bad = _mm_or_si128(bad, _mm_and_si128(same, _mm_or_si128(punct, _mm_cmpeq_epi8(x, sp))));
	if (html)
		bad = _mm_or_si128(bad, _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('<')),
						     _mm_cmpeq_epi8(x, _mm_set1_epi8('&'))));
	unsigned m = (unsigned)_mm_movemask_epi8(bad) & ~1u;
	unsigned char c0 = (unsigned char)in[i];
	if (c0 < ' ' || c0 >= 0x7f || (html && (c0 == '<' || c0 == '&')) ||
	    (c0 == ' ' && (st->space || st->n == 0)) ||
	    (c0 == (unsigned char)st->prev_punct && !st->space))
		return 0;
	size_t cnt = m ? (size_t)__builtin_ctz(m) : 16;
	unsigned spaces = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, sp)) & ((1u << cnt) - 1);
	unsigned chars = ~spaces & ((1u << cnt) - 1);

	if (st->space) { /* the pending separator goes out first */
		if (st->map)
			st->map[st->n] = st->space_src;
		st->out[st->n++] = ' ';
		st->space = false;
	}
	/* 'A'..'Z' -> 'a'..'z': add 0x20 where x - 'A' < 26 (shifted to a signed compare) */
	__m128i up = _mm_cmplt_epi8(_mm_add_epi8(x, _mm_set1_epi8((char)(128 - 'A'))),
				    _mm_set1_epi8((char)(-128 + 26)));
	__m128i low = _mm_add_epi8(x, _mm_and_si128(up, _mm_set1_epi8(0x20)));
	_mm_storeu_si128((__m128i *)(void *)(st->out + st->n), low);
	if (st->map) {
		__m128i v = _mm_add_epi32(_mm_set1_epi32((int)i), _mm_set_epi32(3, 2, 1, 0));
		const __m128i four = _mm_set1_epi32(4);
		for (size_t k = 0; k < 16; k += 4, v = _mm_add_epi32(v, four))
			_mm_storeu_si128((__m128i *)(void *)(st->map + st->n + k), v);
	}
	size_t emitted = cnt;
	if (spaces >> (cnt - 1) & 1) { /* a trailing space stays pending, as sep() does */
		emitted--;
		st->space = true;
		st->space_src = (uint32_t)(i + cnt - 1);
	}
	st->n += emitted;
	if (chars) {
		unsigned last = 31u - (unsigned)__builtin_clz(chars);
		st->last_end = (uint32_t)(i + last + 1);
	}
	unsigned char lc = (unsigned char)in[i + cnt - 1];
	st->prev_punct = is_run_punct(lc) ? (char)lc : 0;
	st->punct_run = 1;
	return cnt;
}
#endif

int text_norm(const char *in, size_t len, unsigned flags, char *out, uint32_t *map, size_t cap,
	      size_t *out_len)
{
	struct nstate st = {.out = out, .map = map, .cap = cap};
	size_t i = 0;
	int32_t cp;

	if (!out || !out_len || (!in && len))
		return UTIL_EINVAL;
	if (len >= UINT32_MAX)
		return UTIL_ETOOBIG;
	while (i < len && !st.overflow) {
		unsigned char c = (unsigned char)in[i];
		size_t k;
#ifdef __SSE2__
		if (len - i >= 16 && st.n + 17 <= st.cap &&
		    (k = put_ascii_block(&st, in, i, flags & TEXT_NORM_HTML)) > 0) {
			i += k;
			continue;
		}
#endif
		if (alnum[c]) {
			i = put_alnum_run(&st, in, len, i);
			continue;
		}
		if (c == ' ') {
			sep(&st, (uint32_t)i);
			i++;
			continue;
		}
		if ((flags & TEXT_NORM_HTML) && c == '<' && (k = markup_len(in, len, i)) > 0) {
			sep(&st, (uint32_t)i);
			i += k;
			continue;
		}
		if ((flags & TEXT_NORM_HTML) && c == '&' && (k = decode_entity(in + i, len - i, &cp)) > 0) {
			emit_cp(&st, cp, (uint32_t)i, (uint32_t)(i + k));
			i += k;
			continue;
		}
		k = text_utf8_decode(in + i, len - i, &cp);
		emit_cp(&st, cp, (uint32_t)i, (uint32_t)(i + k));
		i += k;
	}
	if (st.overflow)
		return UTIL_ETOOBIG;
	if (map)
		map[st.n] = st.n ? st.last_end : 0;
	*out_len = st.n;
	return 0;
}
