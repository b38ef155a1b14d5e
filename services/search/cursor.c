/*
 * services/search/cursor.c - opaque, signed pagination cursors.
 *
 * A cursor is base64url(payload) "." base64url(first 16 bytes of
 * HMAC-SHA256(key, payload)). The payload holds the sort key of the last
 * hit of a page, its id, the recency reference time of the first page (so
 * relevance scores stay identical from page to page) and a hash of the
 * request, so a cursor cannot be replayed against another query. Anything
 * that does not verify is simply "invalid" (400).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "search.h"
#include "util/err.h"
#include "util/ids.h"

#define MAC_LEN 16

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Encodes n bytes; returns the length written or 0 when cap is too small. */
static size_t b64url_encode(const unsigned char *p, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		size_t k = n - i >= 3 ? 4 : n - i + 1;

		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		if (o + k >= cap)
			return 0;
		for (size_t j = 0; j < k; j++)
			out[o++] = b64[(v >> (18 - 6 * j)) & 63];
	}
	out[o] = '\0';
	return o;
}

static int b64val(char c)
{
	const char *p = c ? strchr(b64, c) : NULL;

	return p ? (int)(p - b64) : -1;
}

/* Decodes; returns the byte count or -1 on a bad character/length. */
static long b64url_decode(const char *s, size_t len, unsigned char *out, size_t cap)
{
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;

	if (len % 4 == 1)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int v = b64val(s[i]);

		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == cap)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	return (long)o;
}

static void mac(const char *key, const void *p, size_t n, unsigned char out[32])
{
	unsigned int len = 32;

	HMAC(EVP_sha256(), key, (int)strlen(key), p, n, out, &len);
}

int search_cursor_encode(const char *key, const struct search_cursor *c, char *out, size_t cap)
{
	char payload[256];
	unsigned char m[32];
	int n;
	size_t o;

	n = snprintf(payload, sizeof(payload), "1|%c|%.17g|%s|%s|%" PRId64 "|%s", c->sort,
		     c->score, c->published_at[0] ? c->published_at : "-", c->id, c->now_ms, c->qhash);
	if (n < 0 || (size_t)n >= sizeof(payload))
		return UTIL_ETOOBIG;
	mac(key, payload, (size_t)n, m);
	o = b64url_encode((const unsigned char *)payload, (size_t)n, out, cap);
	if (o == 0 || o + 2 >= cap)
		return UTIL_ETOOBIG;
	out[o++] = '.';
	return b64url_encode(m, MAC_LEN, out + o, cap - o) ? 0 : UTIL_ETOOBIG;
}

/* Splits the verified payload into c. */
static int parse_payload(char *p, struct search_cursor *c)
{
	char *f[7], *save = NULL, *end;
	int n = 0;

	for (char *t = strtok_r(p, "|", &save); t && n < 7; t = strtok_r(NULL, "|", &save))
		f[n++] = t;
	if (n != 7 || strcmp(f[0], "1") != 0 || strlen(f[1]) != 1 ||
	    (f[1][0] != 'r' && f[1][0] != 'd'))
		return UTIL_EINVAL;
	c->sort = f[1][0];
	c->score = strtod(f[2], &end);
	if (*end || strlen(f[3]) >= sizeof(c->published_at) || !util_uuid_valid(f[4]) ||
	    strlen(f[6]) != 16)
		return UTIL_EINVAL;
	snprintf(c->published_at, sizeof(c->published_at), "%s", strcmp(f[3], "-") ? f[3] : "");
	snprintf(c->id, sizeof(c->id), "%s", f[4]);
	c->now_ms = strtoll(f[5], &end, 10);
	if (*end || c->now_ms <= 0)
		return UTIL_EINVAL;
	memcpy(c->qhash, f[6], 17);
	return 0;
}

int search_cursor_decode(const char *key, const char *s, struct search_cursor *c)
{
	const char *dot = strchr(s, '.');
	unsigned char payload[300], got[40], want[32];
	long n, m;

	memset(c, 0, sizeof(*c));
	if (!dot || strlen(s) > SEARCH_CURSOR_MAX)
		return UTIL_EINVAL;
	n = b64url_decode(s, (size_t)(dot - s), payload, sizeof(payload) - 1);
	m = b64url_decode(dot + 1, strlen(dot + 1), got, sizeof(got));
	if (n <= 0 || m != MAC_LEN)
		return UTIL_EINVAL;
	mac(key, payload, (size_t)n, want);
	if (CRYPTO_memcmp(want, got, MAC_LEN) != 0)
		return UTIL_EINVAL;
	payload[n] = '\0';
	if (memchr(payload, '\0', (size_t)n))
		return UTIL_EINVAL;
	return parse_payload((char *)payload, c);
}
