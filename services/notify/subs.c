/*
 * services/notify/subs.c - the vocabulary of subscriptions: event kinds,
 * content types, region prefixes, their time zones, and the match scopes of
 * a region (itself and its ancestors), which is what the match index is
 * probed with.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "notify.h"
#include "util/buf.h"
#include "util/err.h"

static const char *const kinds[] = {NOTIFY_KIND_REVIEW, NOTIFY_KIND_DECIDED,
				    NOTIFY_KIND_REGISTRATION, NOTIFY_KIND_PUBLISHED,
				    NOTIFY_KIND_DISEMINASI};

/* Index = Simpul__V1__ContentType value. */
static const char *const types[] = {NULL,	 "berita",   "kegiatan", "potensi",
				    "umkm",	 "aspirasi", "usulan",	 "diseminasi"};

bool notify_kind_valid(const char *kind)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kind, kinds[i]) == 0)
			return true;
	return false;
}

const char *notify_content_type_name(int type)
{
	if (type <= 0 || type >= (int)(sizeof(types) / sizeof(types[0])))
		return NULL;
	return types[type];
}

bool notify_content_type_valid(const char *name)
{
	for (size_t i = 1; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(name, types[i]) == 0)
			return true;
	return false;
}

bool notify_region_valid(const char *s)
{
	static const int seg[] = {2, 2, 2, 4};
	size_t level = 0;

	if (!*s)
		return true;
	while (level < 4) {
		for (int i = 0; i < seg[level]; i++, s++)
			if (!isdigit((unsigned char)*s))
				return false;
		level++;
		if (!*s)
			return true;
		if (*s++ != '.')
			return false;
	}
	return false;
}

/*
 * Indonesia's three zones by province code (Kemendagri): WIT for Maluku,
 * Maluku Utara and the Papua provinces (8x, 9x); WITA for Bali, Nusa
 * Tenggara, South/East/North Kalimantan and Sulawesi; WIB for the rest
 * (Sumatra, Java, West and Central Kalimantan) and for national scope.
 */
const char *notify_region_tz(const char *region)
{
	int p;

	if (!region || !isdigit((unsigned char)region[0]) || !isdigit((unsigned char)region[1]))
		return "WIB";
	p = (region[0] - '0') * 10 + (region[1] - '0');
	if (p >= 81)
		return "WIT";
	if ((p >= 51 && p <= 53) || (p >= 63 && p <= 65) || (p >= 71 && p <= 76))
		return "WITA";
	return "WIB";
}

/* Appends "s" (quoted for an array literal; s holds no quote/backslash). */
static int lit_add(char *out, size_t outlen, size_t *len, const char *s, size_t n)
{
	int w;

	w = snprintf(out + *len, outlen - *len, "%s\"%.*s\"", *len > 1 ? "," : "", (int)n, s);
	if (w < 0 || (size_t)w >= outlen - *len)
		return UTIL_ETOOBIG;
	*len += (size_t)w;
	return 0;
}

int notify_scopes_literal(const char *region, const char *const *extra, size_t nextra,
			  char *out, size_t outlen)
{
	size_t len = 1;
	int rc;

	if (outlen < 3 || !notify_region_valid(region))
		return UTIL_EINVAL;
	out[0] = '{';
	out[1] = '\0';
	rc = lit_add(out, outlen, &len, "", 0);
	for (size_t i = 0; !rc && region[i]; i++)
		if (region[i + 1] == '.' || region[i + 1] == '\0')
			rc = lit_add(out, outlen, &len, region, i + 1);
	for (size_t i = 0; !rc && i < nextra; i++) {
		if (!extra[i] || !extra[i][0])
			continue;
		if (strpbrk(extra[i], "\"\\{},"))
			return UTIL_EINVAL;
		rc = lit_add(out, outlen, &len, extra[i], strlen(extra[i]));
	}
	if (rc || len + 2 > outlen)
		return UTIL_ETOOBIG;
	out[len++] = '}';
	out[len] = '\0';
	return 0;
}

int notify_lit_push(struct util_buf *b, const char *s)
{
	int rc = util_buf_append_str(b, b->len > 1 ? "," : "");

	if (!rc && !s)
		return util_buf_append_str(b, "NULL");
	if (!rc)
		rc = util_buf_append_str(b, "\"");
	for (; !rc && *s; s++) {
		if (*s == '"' || *s == '\\')
			rc = util_buf_append(b, "\\", 1);
		if (!rc)
			rc = util_buf_append(b, s, 1);
	}
	return rc ? rc : util_buf_append_str(b, "\"");
}
