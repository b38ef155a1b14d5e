/*
 * services/search/request.c - the query arguments of GET /v1/search, read
 * and checked before anything touches the database: every argument has a
 * cap, every refusal names the argument.
 *
 *   q            the query (search_query_parse), at most max_query_bytes
 *   region       region code prefix (subtree), e.g. 35.07
 *   type         comma list of content types
 *   kim          KIM id
 *   tags         comma list; an item must carry all of them
 *   from, to     published_at range: YYYY-MM-DD or RFC 3339
 *   sort         relevance (default with q) | date (default without)
 *   limit        1..max_limit (default 20)
 *   facet_level  1..4 or none (default: one level below region, first page only)
 *   cursor       from the previous page's next_cursor
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "search.h"
#include "text/utf8.h"
#include "util/err.h"
#include "util/ids.h"

static const char *const types[] = {"berita",   "kegiatan", "potensi",   "umkm",
				    "aspirasi", "usulan",   "diseminasi"};

bool search_region_valid(const char *s)
{
	static const int lens[] = {2, 5, 8, 13};
	size_t n = strlen(s);
	bool len_ok = false;

	for (int i = 0; i < 4; i++)
		len_ok = len_ok || n == (size_t)lens[i];
	if (!len_ok)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool dot = i == 2 || i == 5 || i == 8;

		if (dot ? s[i] != '.' : (s[i] < '0' || s[i] > '9'))
			return false;
	}
	return true;
}

int search_region_level(const char *s)
{
	int lvl = 1;

	for (; *s; s++)
		lvl += *s == '.';
	return lvl;
}

static int bad(const char **field, const char *name, char *err, size_t errlen, const char *msg)
{
	*field = name;
	return util_err_set(err, errlen, UTIL_EINVAL, "%s", msg);
}

/* Splits a comma list into out[cap][width]; -1 when too many or an item is bad. */
static int split_list(const char *s, char *out, size_t cap, size_t width)
{
	size_t n = 0;

	while (*s) {
		const char *c = strchr(s, ',');
		size_t len = c ? (size_t)(c - s) : strlen(s);

		if (len == 0 || len >= width || n == cap)
			return -1;
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)s[i] < 0x20)
				return -1;
		memcpy(out + n * width, s, len);
		out[n * width + len] = '\0';
		n++;
		s += len + (c ? 1 : 0);
		if (c && !*s)
			return -1;
	}
	return (int)n;
}

static bool type_valid(const char *t)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(t, types[i]) == 0)
			return true;
	return false;
}

/* A real calendar day (year 1..9999); PostgreSQL would refuse it unnamed. */
static bool date_valid(const char *s)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y = atoi(s), m = (s[5] - '0') * 10 + (s[6] - '0');
	int d = (s[8] - '0') * 10 + (s[9] - '0');
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	if (y < 1 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return false;
	return m != 2 || d < 29 || leap;
}

/* YYYY-MM-DD or an RFC 3339 time; PostgreSQL checks the time of day. */
static bool time_shape(const char *s)
{
	size_t n = strlen(s);

	if (n < 10 || n > 35)
		return false;
	for (size_t i = 0; i < 10; i++)
		if ((i == 4 || i == 7) ? s[i] != '-' : (s[i] < '0' || s[i] > '9'))
			return false;
	if (!date_valid(s))
		return false;
	for (size_t i = 10; i < n; i++)
		if (!strchr("0123456789T:.+-Z", s[i]))
			return false;
	return true;
}

static int parse_filters(struct search_request *r, search_arg_fn get, void *ud,
			 const char **field, char *err, size_t errlen)
{
	const char *v;
	int n;

	if ((v = get(ud, "region")) && *v) {
		if (!search_region_valid(v))
			return bad(field, "region", err, errlen,
				   "region must be a region code prefix like 35.07");
		snprintf(r->region, sizeof(r->region), "%s", v);
	}
	if ((v = get(ud, "type")) && *v) {
		n = split_list(v, &r->types[0][0], SEARCH_MAX_TYPES, sizeof(r->types[0]));
		for (int i = 0; i < n; i++)
			if (!type_valid(r->types[i]))
				n = -1;
		if (n < 0)
			return bad(field, "type", err, errlen,
				   "type must be a comma list of berita, kegiatan, potensi, umkm, "
				   "aspirasi, usulan, diseminasi");
		r->ntypes = (size_t)n;
	}
	if ((v = get(ud, "kim")) && *v) {
		if (!util_uuid_valid(v))
			return bad(field, "kim", err, errlen, "kim must be a KIM id (uuid)");
		snprintf(r->kim, sizeof(r->kim), "%s", v);
	}
	if ((v = get(ud, "tags")) && *v) {
		n = text_utf8_valid(v, strlen(v))
			    ? split_list(v, &r->tags[0][0], SEARCH_MAX_TAGS, sizeof(r->tags[0]))
			    : -1;
		if (n < 0)
			return bad(field, "tags", err, errlen,
				   "tags must be a comma list of at most 10 tags of 1..64 bytes");
		r->ntags = (size_t)n;
	}
	if ((v = get(ud, "from")) && *v) {
		if (!time_shape(v))
			return bad(field, "from", err, errlen, "from must be YYYY-MM-DD or RFC 3339");
		snprintf(r->from, sizeof(r->from), "%s", v);
	}
	if ((v = get(ud, "to")) && *v) {
		if (!time_shape(v))
			return bad(field, "to", err, errlen, "to must be YYYY-MM-DD or RFC 3339");
		snprintf(r->to, sizeof(r->to), "%s", v);
	}
	return 0;
}

static bool blank(const char *s)
{
	for (; *s; s++)
		if (*s != ' ' && *s != '\t')
			return false;
	return true;
}

static int parse_paging(struct search_request *r, search_arg_fn get, void *ud,
			const struct search_config *cfg, const char **field, char *err,
			size_t errlen)
{
	const char *v;
	char *end;
	long n;

	r->sort = blank(r->q) ? 'd' : 'r';
	if ((v = get(ud, "sort")) && *v) {
		if (strcmp(v, "relevance") && strcmp(v, "date"))
			return bad(field, "sort", err, errlen, "sort must be relevance or date");
		r->sort = v[0] == 'd' || blank(r->q) ? 'd' : 'r';
	}
	r->limit = 20;
	if ((v = get(ud, "limit")) && *v) {
		n = strtol(v, &end, 10);
		if (*end || n < 1 || n > cfg->max_limit || strlen(v) > 6) {
			*field = "limit";
			return util_err_set(err, errlen, UTIL_EINVAL,
					    "limit must be an integer between 1 and %lld",
					    (long long)cfg->max_limit);
		}
		r->limit = (int)n;
	}
	r->facet_level = r->region[0] ? search_region_level(r->region) + 1 : 1;
	if (r->facet_level > 4)
		r->facet_level = 4;
	if ((v = get(ud, "facet_level")) && *v) {
		if (strcmp(v, "none") == 0)
			r->facet_level = 0;
		else if (strlen(v) == 1 && v[0] >= '1' && v[0] <= '4')
			r->facet_level = v[0] - '0';
		else
			return bad(field, "facet_level", err, errlen,
				   "facet_level must be 1, 2, 3, 4 or none");
	}
	return 0;
}

static void request_hash(struct search_request *r)
{
	char canon[2048];
	unsigned char h[32];
	int n;

	n = snprintf(canon, sizeof(canon), "%s\x1f%s\x1f%s,%s,%s,%s,%s,%s,%s\x1f%s\x1f", r->q,
		     r->region, r->types[0], r->types[1], r->types[2], r->types[3],
		     r->types[4], r->types[5], r->types[6], r->kim);
	for (size_t i = 0; i < r->ntags && n > 0 && (size_t)n < sizeof(canon); i++)
		n += snprintf(canon + n, sizeof(canon) - (size_t)n, "%s,", r->tags[i]);
	if (n > 0 && (size_t)n < sizeof(canon))
		n += snprintf(canon + n, sizeof(canon) - (size_t)n, "\x1f%s\x1f%s\x1f%c\x1f%d",
			      r->from, r->to, r->sort, r->limit);
	util_sha256(canon, n > 0 && (size_t)n < sizeof(canon) ? (size_t)n : sizeof(canon) - 1,
		    h);
	util_hex(h, 8, r->qhash);
}

int search_request_parse(struct search_request *r, search_arg_fn get, void *ud,
			 const struct search_config *cfg, const char **field, char *err,
			 size_t errlen)
{
	const char *v;
	int rc;

	memset(r, 0, sizeof(*r));
	*field = NULL;
	r->q = get(ud, "q");
	if (!r->q)
		r->q = "";
	if (strlen(r->q) > (size_t)cfg->max_query_bytes) {
		*field = "q";
		return util_err_set(err, errlen, UTIL_EINVAL, "q is longer than %lld bytes",
				    (long long)cfg->max_query_bytes);
	}
	rc = parse_filters(r, get, ud, field, err, errlen);
	if (rc == 0)
		rc = parse_paging(r, get, ud, cfg, field, err, errlen);
	if (rc != 0)
		return rc;
	request_hash(r);
	if ((v = get(ud, "cursor")) && *v) {
		if (search_cursor_decode(cfg->cursor_key, v, &r->cursor) != 0 ||
		    r->cursor.sort != r->sort || strcmp(r->cursor.qhash, r->qhash) != 0)
			return bad(field, "cursor", err, errlen,
				   "cursor is invalid or belongs to another query");
		r->has_cursor = true;
		r->facet_level = 0;
	}
	return 0;
}
