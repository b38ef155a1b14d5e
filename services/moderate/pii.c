/*
 * services/moderate/pii.c - personal data in text: 16-digit NIKs (region
 * code of a real kecamatan, DDMMYY birth date with +40 for women, serial),
 * Indonesian mobile numbers and e-mail addresses; and their masking.
 * Works on raw bytes (any encoding), so spans are offsets in the original.
 */
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db/db.h"
#include "moderate.h"
#include "util/err.h"

#define REGION_SPACE 1000000 /* PPKKCC as a 6-digit number */

struct mod_regions {
	unsigned char bits[REGION_SPACE / 8];
	size_t count;
};

struct mod_regions *mod_regions_new(void)
{
	return calloc(1, sizeof(struct mod_regions));
}

void mod_regions_free(struct mod_regions *r)
{
	free(r);
}

size_t mod_regions_count(const struct mod_regions *r)
{
	return r ? r->count : 0;
}

/* "PP.KK.CC" (a kecamatan code) -> 0..999999, or -1. */
static long kec_number(const char *c)
{
	if (strlen(c) != 8 || c[2] != '.' || c[5] != '.')
		return -1;
	for (int i = 0; i < 8; i++)
		if (i != 2 && i != 5 && (c[i] < '0' || c[i] > '9'))
			return -1;
	return (c[0] - '0') * 100000L + (c[1] - '0') * 10000L + (c[3] - '0') * 1000L +
	       (c[4] - '0') * 100L + (c[6] - '0') * 10L + (c[7] - '0');
}

int mod_regions_add(struct mod_regions *r, const char *code)
{
	long n = kec_number(code);

	if (n < 0)
		return UTIL_EINVAL;
	if (!(r->bits[n / 8] & (1u << (n % 8))))
		r->count++;
	r->bits[n / 8] |= (unsigned char)(1u << (n % 8));
	return 0;
}

int mod_regions_load(struct mod_regions *r, struct db_conn *db, char *err, size_t errlen)
{
	PGresult *res = NULL;
	int rc = db_exec(db, "SELECT code FROM simpul.regions WHERE level = 3", 0, NULL, NULL,
			 &res, err, errlen);

	for (int i = 0; rc == 0 && i < PQntuples(res); i++)
		if (mod_regions_add(r, PQgetvalue(res, i, 0)) != 0)
			continue; /* not a kecamatan code: cannot happen (CHECK) */
	PQclear(res);
	return rc;
}

static int two(const char *d)
{
	return (d[0] - '0') * 10 + (d[1] - '0');
}

bool mod_nik_valid(const char *d, const struct mod_regions *regions)
{
	int day = two(d + 6), month = two(d + 8);

	for (int i = 0; i < 16; i++)
		if (d[i] < '0' || d[i] > '9')
			return false;
	if (regions && regions->count) {
		long n = strtol((char[7]){d[0], d[1], d[2], d[3], d[4], d[5], 0}, NULL, 10);

		if (!(regions->bits[n / 8] & (1u << (n % 8))))
			return false;
	} else if (two(d) < 11 || two(d + 2) == 0 || two(d + 4) == 0) {
		return false;
	}
	if (day > 40)
		day -= 40; /* women */
	if (day < 1 || day > 31 || month < 1 || month > 12)
		return false;
	return memcmp(d + 12, "0000", 4) != 0;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Length of a phone number starting at s[0], or 0. */
static size_t phone_at(const char *s, size_t len)
{
	size_t i = 0, digits = 0, end = 0;

	if (len >= 3 && s[0] == '+' && s[1] == '6' && s[2] == '2')
		i = 3;
	else if (len >= 2 && s[0] == '6' && s[1] == '2')
		i = 2;
	else if (len >= 1 && s[0] == '0')
		i = 1;
	else
		return 0;
	if (i < len && (s[i] == ' ' || s[i] == '-') && i > 1)
		i++;
	if (i >= len || s[i] != '8')
		return 0;
	for (; i < len; i++) {
		if (is_digit(s[i])) {
			digits++;
			end = i + 1;
		} else if ((s[i] == ' ' || s[i] == '-' || s[i] == '.') && i + 1 < len &&
			   is_digit(s[i + 1]) && is_digit(s[i - 1])) {
			continue;
		} else {
			break;
		}
	}
	if (end < len && is_digit(s[end]))
		return 0;
	return digits >= 9 && digits <= 12 ? end : 0; /* 8xx plus 8..11 digits */
}

static bool email_local(char c)
{
	return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

/* The e-mail around the '@' at s[at]: [*start, *end); false if none. */
static bool email_at(const char *s, size_t len, size_t at, uint32_t *start, uint32_t *end)
{
	size_t b = at, e = at + 1, lastdot = 0;

	while (b > 0 && email_local(s[b - 1]))
		b--;
	while (e < len && (is_alnum(s[e]) || s[e] == '.' || s[e] == '-')) {
		if (s[e] == '.')
			lastdot = e;
		e++;
	}
	while (e > at + 1 && (s[e - 1] == '.' || s[e - 1] == '-'))
		e--;
	if (b == at || lastdot <= at + 1 || e - lastdot < 3)
		return false;
	*start = (uint32_t)b;
	*end = (uint32_t)e;
	return true;
}

static size_t push(struct mod_pii *out, size_t n, size_t cap, enum mod_pii_kind k, size_t s,
		   size_t e)
{
	if (n < cap)
		out[n] = (struct mod_pii){k, (uint32_t)s, (uint32_t)e};
	return n + 1;
}

size_t mod_pii_find(const char *s, size_t len, const struct mod_regions *regions,
		    struct mod_pii *out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n < cap;) {
		bool boundary = i == 0 || !is_alnum(s[i - 1]);
		size_t run = 0, pl;
		uint32_t es, ee;

		if (boundary && is_digit(s[i])) {
			while (i + run < len && is_digit(s[i + run]))
				run++;
			if (run == 16 && mod_nik_valid(s + i, regions)) {
				n = push(out, n, cap, MOD_PII_NIK, i, i + 16);
				i += 16;
				continue;
			}
		}
		if (boundary && (pl = phone_at(s + i, len - i)) > 0) {
			n = push(out, n, cap, MOD_PII_PHONE, i, i + pl);
			i += pl;
			continue;
		}
		if (s[i] == '@' && email_at(s, len, i, &es, &ee) && (n == 0 || out[n - 1].end <= es)) {
			n = push(out, n, cap, MOD_PII_EMAIL, es, ee);
			i = ee;
			continue;
		}
		i += run ? run : 1;
	}
	return n < cap ? n : cap;
}

void mod_pii_mask(char *s, size_t len, const struct mod_pii *p, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		size_t b = p[k].start, e = p[k].end < len ? p[k].end : len;

		if (p[k].kind == MOD_PII_EMAIL) {
			for (size_t i = b + 1; i < e && s[i] != '@'; i++)
				s[i] = '*';
			continue;
		}
		size_t digits = 0, total = 0;

		for (size_t i = b; i < e; i++)
			total += is_digit(s[i]);
		for (size_t i = b; i < e; i++)
			if (is_digit(s[i]) && ++digits + 2 <= total)
				s[i] = '*';
	}
}
