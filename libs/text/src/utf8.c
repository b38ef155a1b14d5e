/*
 * utf8.c - UTF-8 validation, decoding with maximal-subpart error lengths,
 * encoding and the U+FFFD repair rule documented in text/utf8.h.
 */
#include "text/utf8.h"

#include <string.h>

size_t text_utf8_decode(const char *str, size_t len, int32_t *cp)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char c = s[0];
	size_t need;
	uint32_t v;
	unsigned char lo = 0x80, hi = 0xBF;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		need = 1;
		v = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 2;
		v = c & 0x0F;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 3;
		v = c & 0x07;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		*cp = -1;
		return 1;
	}
	/* the first continuation byte has the narrowed range, the rest 80..BF */
	for (size_t i = 1; i <= need; i++) {
		if (i >= len || s[i] < lo || s[i] > hi) {
			*cp = -1;
			return i;
		}
		v = (v << 6) | (s[i] & 0x3F);
		lo = 0x80;
		hi = 0xBF;
	}
	*cp = (int32_t)v;
	return need + 1;
}

bool text_utf8_valid(const char *s, size_t len)
{
	size_t i = 0;
	int32_t cp;

	while (i < len) {
		/* ASCII fast path, 8 bytes at a time */
		while (i + 8 <= len) {
			uint64_t w;
			memcpy(&w, s + i, 8);
			if (w & 0x8080808080808080ull)
				break;
			i += 8;
		}
		if (i >= len)
			break;
		i += text_utf8_decode(s + i, len - i, &cp);
		if (cp < 0)
			return false;
	}
	return true;
}

size_t text_utf8_encode(uint32_t cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp >= 0xD800 && cp <= 0xDFFF)
		return 0;
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	if (cp > 0x10FFFF)
		return 0;
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

size_t text_utf8_repair_len(const char *s, size_t len)
{
	size_t i = 0, n = 0;
	int32_t cp;

	while (i < len) {
		size_t k = text_utf8_decode(s + i, len - i, &cp);
		n += cp < 0 ? 3 : k;
		i += k;
	}
	return n;
}

size_t text_utf8_repair(const char *s, size_t len, char *out, size_t cap)
{
	size_t i = 0, n = 0;
	int32_t cp;

	while (i < len) {
		size_t k = text_utf8_decode(s + i, len - i, &cp);
		const char *src = cp < 0 ? TEXT_UTF8_REPLACEMENT : s + i;
		size_t m = cp < 0 ? 3 : k;
		if (n + m > cap)
			return (size_t)-1;
		memcpy(out + n, src, m);
		n += m;
		i += k;
	}
	return n;
}
