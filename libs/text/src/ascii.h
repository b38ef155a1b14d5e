/*
 * ascii.h - internal: length of a run of ASCII letters and digits, sixteen
 * bytes at a time where SSE2 is available. Words are most of any text, and
 * finding where each one ends byte by byte costs a mispredicted branch per
 * word in both the normaliser and the tokeniser.
 */
#ifndef TEXT_ASCII_H
#define TEXT_ASCII_H

#include <stddef.h>
#include <stdint.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

static inline int ascii_is_alnum(unsigned char c)
{
	return (unsigned)(c - '0') < 10 || (unsigned)((c | 0x20) - 'a') < 26;
}

/* Number of leading bytes of s[0..len) that are ASCII letters or digits. */
static inline size_t ascii_alnum_run(const char *s, size_t len)
{
	size_t i = 0;

#ifdef __SSE2__
	/* shift each range to start at -128 so one signed compare tests it */
	const __m128i ka = _mm_set1_epi8((char)(128 - 'a')), kd = _mm_set1_epi8((char)(128 - '0'));
	const __m128i la = _mm_set1_epi8((char)(-128 + 26)), ld = _mm_set1_epi8((char)(-128 + 10));
	const __m128i low = _mm_set1_epi8(0x20);

	for (; i + 16 <= len; i += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		__m128i a = _mm_cmplt_epi8(_mm_add_epi8(_mm_or_si128(x, low), ka), la);
		__m128i d = _mm_cmplt_epi8(_mm_add_epi8(x, kd), ld);
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(a, d));
		if (m != 0xffffu)
			return i + (size_t)__builtin_ctz(~m);
	}
#endif
	while (i < len && ascii_is_alnum((unsigned char)s[i]))
		i++;
	return i;
}

#endif
