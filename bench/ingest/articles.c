/*
 * articles.c - loads a body mix for the ingest benchmark from articles.csv
 * with a real RFC 4180 reader (quoted fields, "" escapes, newlines inside
 * quotes), truncating title and body on UTF-8 boundaries.
 */
#include "articles.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <util/err.h>

#define CSV_FIELD_CAP (4u << 20) /* a field longer than this is cut */
#define CSV_MAX_FIELDS 32

struct csv_field {
	char *p;
	size_t len, cap;
};

struct csv_row {
	struct csv_field f[CSV_MAX_FIELDS];
	size_t n;
};

static int field_put(struct csv_field *f, int c)
{
	if (f->len + 1 >= CSV_FIELD_CAP)
		return 0; /* silently cut: benchmark bodies are truncated anyway */
	if (f->len + 2 > f->cap) {
		size_t ncap = f->cap ? f->cap * 2 : 256;
		char *np = realloc(f->p, ncap);
		if (!np)
			return UTIL_ENOMEM;
		f->p = np;
		f->cap = ncap;
	}
	f->p[f->len++] = (char)c;
	f->p[f->len] = '\0';
	return 0;
}

static void row_reset(struct csv_row *r)
{
	for (size_t i = 0; i < CSV_MAX_FIELDS; i++) {
		r->f[i].len = 0;
		if (r->f[i].p)
			r->f[i].p[0] = '\0';
	}
	r->n = 0;
}

static void row_release(struct csv_row *r)
{
	for (size_t i = 0; i < CSV_MAX_FIELDS; i++)
		free(r->f[i].p);
}

/* Reads one record. Returns 1 when a row was read, 0 at EOF, <0 on error. */
static int csv_read_row(FILE *fp, struct csv_row *r)
{
	bool quoted = false, any = false;
	int c, rc;

	row_reset(r);
	r->n = 1;
	while ((c = getc_unlocked(fp)) != EOF) {
		any = true;
		if (quoted) {
			if (c == '"') {
				int d = getc_unlocked(fp);
				if (d == '"') {
					c = '"';
				} else {
					quoted = false;
					if (d != EOF)
						ungetc(d, fp);
					continue;
				}
			}
		} else if (c == '"') {
			quoted = true;
			continue;
		} else if (c == ',') {
			if (r->n < CSV_MAX_FIELDS)
				r->n++;
			continue;
		} else if (c == '\n') {
			return 1;
		} else if (c == '\r') {
			continue;
		}
		rc = field_put(&r->f[r->n - 1], c);
		if (rc < 0)
			return rc;
	}
	if (ferror(fp))
		return UTIL_EIO;
	return any ? 1 : 0;
}

/* Length of the longest prefix of s (at most max bytes) that ends on a
 * UTF-8 boundary; returns (size_t)-1 if s is not valid UTF-8. */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
	size_t i = 0, keep = 0;
	const unsigned char *u = (const unsigned char *)s;

	while (i < len) {
		size_t n;
		if (u[i] < 0x80)
			n = 1;
		else if ((u[i] & 0xe0) == 0xc0 && u[i] >= 0xc2)
			n = 2;
		else if ((u[i] & 0xf0) == 0xe0)
			n = 3;
		else if ((u[i] & 0xf8) == 0xf0 && u[i] <= 0xf4)
			n = 4;
		else
			return (size_t)-1;
		if (i + n > len)
			return (size_t)-1;
		for (size_t k = 1; k < n; k++)
			if ((u[i + k] & 0xc0) != 0x80)
				return (size_t)-1;
		if (n == 3 && ((u[i] == 0xe0 && u[i + 1] < 0xa0) || (u[i] == 0xed && u[i + 1] >= 0xa0)))
			return (size_t)-1;
		if (n == 4 && ((u[i] == 0xf0 && u[i + 1] < 0x90) || (u[i] == 0xf4 && u[i + 1] >= 0x90)))
			return (size_t)-1;
		if (i + n <= max)
			keep = i + n;
		i += n;
	}
	return keep;
}

/* Copies the field, trimmed of surrounding blanks and cut to max bytes. */
static char *field_take(const struct csv_field *f, size_t max, bool multiline)
{
	const char *s = f->p ? f->p : "";
	size_t len = f->len;

	while (len && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	size_t keep = utf8_cut(s, len, max);
	char *out;

	if (keep == (size_t)-1 || keep == 0)
		return NULL;
	out = strndup(s, keep);
	/* The API refuses control characters (and newlines in titles). */
	for (char *p = out; p && *p; p++)
		if ((unsigned char)*p < 0x20 && !(multiline && (*p == '\n' || *p == '\t')))
			*p = ' ';
	return out;
}

static int header_index(const struct csv_row *hdr, const char *name)
{
	for (size_t i = 0; i < hdr->n; i++)
		if (hdr->f[i].p && strcmp(hdr->f[i].p, name) == 0)
			return (int)i;
	return -1;
}

static char *tag_from(const struct csv_field *f)
{
	char *t = field_take(f, 50, false);
	if (!t)
		return strdup("");
	for (char *p = t; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return t;
}

static int set_push(struct article_set *set, size_t *cap, struct article a)
{
	if (set->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 256;
		struct article *np = realloc(set->items, ncap * sizeof(*np));
		if (!np)
			return UTIL_ENOMEM;
		set->items = np;
		*cap = ncap;
	}
	set->items[set->n++] = a;
	return 0;
}

int article_set_load(struct article_set *set, const char *path, size_t max_rows,
		     const struct article_limits *lim, char *err, size_t errlen)
{
	struct csv_row row = {0};
	size_t cap = 0;
	int ti, bi, ci, rc;
	FILE *fp = fopen(path, "r");

	memset(set, 0, sizeof(*set));
	if (!fp)
		return util_err_set(err, errlen, UTIL_EIO, "open '%s': %s", path, strerror(errno));
	rc = csv_read_row(fp, &row);
	if (rc <= 0) {
		rc = util_err_set(err, errlen, UTIL_EINVAL, "'%s': no header row", path);
		goto out;
	}
	ti = header_index(&row, "title");
	bi = header_index(&row, "content");
	ci = header_index(&row, "category");
	if (ti < 0 || bi < 0) {
		rc = util_err_set(err, errlen, UTIL_EINVAL, "'%s': no title/content columns", path);
		goto out;
	}
	while (set->n < max_rows && (rc = csv_read_row(fp, &row)) == 1) {
		if ((size_t)ti >= row.n || (size_t)bi >= row.n)
			continue;
		struct article a = {field_take(&row.f[ti], lim->title_max, false),
				    field_take(&row.f[bi], lim->body_max, true),
				    ci >= 0 && (size_t)ci < row.n ? tag_from(&row.f[ci]) : strdup("")};
		if (!a.title || !a.body || !a.category || set_push(set, &cap, a) < 0) {
			free(a.title);
			free(a.body);
			free(a.category);
		}
	}
	if (rc < 0) {
		rc = util_err_set(err, errlen, rc, "'%s': read error", path);
		goto out;
	}
	rc = set->n ? 0 : util_err_set(err, errlen, UTIL_EINVAL, "'%s': no usable rows", path);
out:
	row_release(&row);
	fclose(fp);
	if (rc < 0)
		article_set_release(set);
	return rc;
}

void article_set_release(struct article_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		free(set->items[i].title);
		free(set->items[i].body);
		free(set->items[i].category);
	}
	free(set->items);
	set->items = NULL;
	set->n = 0;
}

static int put(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t ncap = *cap ? *cap : 1024;
		while (*len + n + 1 > ncap)
			ncap *= 2;
		char *np = realloc(*buf, ncap);
		if (!np)
			return UTIL_ENOMEM;
		*buf = np;
		*cap = ncap;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

int article_json_str(char **buf, size_t *len, size_t *cap, const char *s)
{
	int rc = put(buf, len, cap, "\"", 1);

	for (const char *p = s; rc == 0 && *p; p++) {
		unsigned char c = (unsigned char)*p;
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			rc = put(buf, len, cap, esc, 2);
		} else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			rc = put(buf, len, cap, esc, 6);
		} else {
			rc = put(buf, len, cap, p, 1);
		}
	}
	return rc ? rc : put(buf, len, cap, "\"", 1);
}

int article_json_raw(char **buf, size_t *len, size_t *cap, const char *s)
{
	return put(buf, len, cap, s, strlen(s));
}
