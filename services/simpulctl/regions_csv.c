/*
 * regions_csv.c - RFC 4180 reader and row validation for the region list;
 * turns valid rows into COPY text lines and bad ones into numbered errors.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <util/err.h>

#include "regions_csv.h"

#define MAX_FIELDS 8

enum col { COL_KODE, COL_NAMA, COL_LEVEL, COL_JENIS, COL_PARENT, NCOLS };
static const char *const col_names[NCOLS] = {"kode", "nama", "level", "jenis", "parent_kode"};

/* One record: unescaped fields, NUL-terminated, in buf. */
struct record {
	char buf[REGIONS_CSV_MAX_RECORD + MAX_FIELDS];
	const char *f[MAX_FIELDS];
	int nf;
};

struct reader {
	const char *p, *end;
	int line; /* physical line of p, 1-based */
};

/* Moves past the end of the current physical line. */
static void skip_line(struct reader *rd)
{
	while (rd->p < rd->end && *rd->p != '\n')
		rd->p++;
	if (rd->p < rd->end) {
		rd->p++;
		rd->line++;
	}
}

static bool at_record_end(const struct reader *rd)
{
	return rd->p >= rd->end || *rd->p == '\n' ||
	       (*rd->p == '\r' && (rd->p + 1 >= rd->end || rd->p[1] == '\n'));
}

/* Reads one field into r at *o; returns NULL or the problem. */
static const char *read_field(struct reader *rd, struct record *r, size_t *o)
{
	const size_t cap = sizeof r->buf - 1;

	if (rd->p < rd->end && *rd->p == '"') {
		rd->p++;
		for (;;) {
			if (rd->p >= rd->end)
				return "unterminated quoted field";
			if (*rd->p == '"' && rd->p + 1 < rd->end && rd->p[1] == '"') {
				rd->p++;
			} else if (*rd->p == '"') {
				rd->p++;
				break;
			} else if (*rd->p == '\n' || *rd->p == '\r') {
				return "line break inside a quoted field";
			}
			if (*o >= cap)
				return "record too long";
			r->buf[(*o)++] = *rd->p++;
		}
		if (!at_record_end(rd) && *rd->p != ',')
			return "text after a closing quote";
	} else {
		while (!at_record_end(rd) && *rd->p != ',') {
			if (*rd->p == '"')
				return "quote inside an unquoted field";
			if (*o >= cap)
				return "record too long";
			r->buf[(*o)++] = *rd->p++;
		}
	}
	r->buf[(*o)++] = '\0';
	return NULL;
}

/*
 * Reads the record starting at rd->p. Returns NULL (record in r) or the
 * problem; either way rd ends up at the start of the next line.
 */
static const char *read_record(struct reader *rd, struct record *r)
{
	const char *msg = NULL;
	size_t o = 0;

	r->nf = 0;
	for (;;) {
		if (r->nf == MAX_FIELDS) {
			msg = "too many fields";
			break;
		}
		r->f[r->nf++] = r->buf + o;
		msg = read_field(rd, r, &o);
		if (msg || at_record_end(rd))
			break;
		rd->p++; /* the comma */
	}
	skip_line(rd);
	return msg;
}

/* Appends "FILE:LINE: message" to the error list (first MAX_ERRORS kept). */
static int add_error(struct regions_csv *r, const char *fname, int line, const char *msg,
		     const char *value)
{
	r->bad++;
	if (r->bad > REGIONS_CSV_MAX_ERRORS)
		return UTIL_OK;
	if (value)
		return util_buf_printf(&r->errors, "%s:%d: %s \"%.60s\"\n", fname, line, msg, value);
	return util_buf_printf(&r->errors, "%s:%d: %s\n", fname, line, msg);
}

/* Level (1..4) of a well-formed code, 0 if malformed. */
static int code_level(const char *s)
{
	static const int seg[4] = {2, 2, 2, 4};
	int level = 0;

	for (;;) {
		if (level == 4)
			return 0;
		for (int i = 0; i < seg[level]; i++, s++)
			if (*s < '0' || *s > '9')
				return 0;
		level++;
		if (!*s)
			return level;
		if (*s++ != '.')
			return 0;
	}
}

/* Characters in s if it is valid UTF-8 without control characters, else -1. */
static long utf8_chars(const unsigned char *s)
{
	long n = 0;

	while (*s) {
		unsigned c = *s, need, cp;
		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return -1;
			s++;
			n++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, cp = c & 0x07;
		else
			return -1;
		for (unsigned i = 1; i <= need; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return -1;
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (need == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return -1;
		s += need + 1;
		n++;
	}
	return n;
}

/* The kind a region of this level, code and name has in the source data. */
static const char *derive_kind(int level, const char *code, const char *name)
{
	switch (level) {
	case 1:
		return "provinsi";
	case 2:
		return strncmp(name, "Kota ", 5) == 0 ? "kota" : "kabupaten";
	case 3:
		return "kecamatan";
	default:
		return code[9] == '1' ? "kelurahan" : "desa";
	}
}

static bool kind_fits(int level, const char *kind)
{
	static const char *const ok[4][2] = {{"provinsi", NULL},
					     {"kabupaten", "kota"},
					     {"kecamatan", NULL},
					     {"desa", "kelurahan"}};

	for (int i = 0; i < 2; i++)
		if (ok[level - 1][i] && !strcmp(ok[level - 1][i], kind))
			return true;
	return false;
}

/* Copies s into out[cap] without surrounding ASCII spaces; returns out. */
static const char *trim(const char *s, char *out, size_t cap)
{
	size_t n;

	while (*s == ' ')
		s++;
	snprintf(out, cap, "%s", s);
	n = strlen(out);
	while (n > 0 && out[n - 1] == ' ')
		out[--n] = '\0';
	return out;
}

/* Appends s to the COPY buffer, escaping backslashes (the only special
 * byte left after validation). */
static int copy_field(struct util_buf *b, const char *s)
{
	for (const char *q; (q = strchr(s, '\\')); s = q + 1) {
		if (util_buf_append(b, s, (size_t)(q - s)) || util_buf_append(b, "\\\\", 2))
			return UTIL_ENOMEM;
	}
	return util_buf_append_str(b, s);
}

/* Checks one data row (fields mapped by cols[]); appends it or an error. */
static int check_row(struct regions_csv *r, const char *fname, int line, const struct record *rec,
		     const int *cols)
{
	char name[REGIONS_CSV_MAX_RECORD], parent[16];
	const char *code = rec->f[cols[COL_KODE]], *kind;
	int level = code_level(code);
	long chars;

	if (!level)
		return add_error(r, fname, line, "bad region code", code);
	trim(rec->f[cols[COL_NAMA]], name, sizeof name);
	chars = utf8_chars((const unsigned char *)name);
	if (chars < 0)
		return add_error(r, fname, line, "name is not valid UTF-8 text", NULL);
	if (chars == 0 || chars > REGIONS_CSV_NAME_MAX)
		return add_error(r, fname, line, "name empty or too long", name);
	if (cols[COL_LEVEL] >= 0) {
		const char *lv = rec->f[cols[COL_LEVEL]];
		if (!(lv[0] >= '1' && lv[0] <= '4' && !lv[1]) || lv[0] - '0' != level)
			return add_error(r, fname, line, "level does not match the code", lv);
	}
	kind = cols[COL_JENIS] >= 0 && rec->f[cols[COL_JENIS]][0] ? rec->f[cols[COL_JENIS]]
								  : derive_kind(level, code, name);
	if (!kind_fits(level, kind))
		return add_error(r, fname, line, "jenis does not match the level", kind);
	snprintf(parent, sizeof parent, "%s", code);
	if (level > 1)
		*strrchr(parent, '.') = '\0';
	if (cols[COL_PARENT] >= 0 &&
	    strcmp(rec->f[cols[COL_PARENT]], level > 1 ? parent : "") != 0)
		return add_error(r, fname, line, "parent_kode does not match the code",
				 rec->f[cols[COL_PARENT]]);
	if (util_buf_printf(&r->copy, "%d\t%s\t", line, code) || copy_field(&r->copy, name) ||
	    util_buf_printf(&r->copy, "\t%d\t%s\t%s\n", level, kind, level > 1 ? parent : "\\N"))
		return UTIL_ENOMEM;
	r->rows++;
	return UTIL_OK;
}

/* Maps header names to field positions; false (error added) if unusable. */
static bool read_header(struct regions_csv *r, const char *fname, const struct record *rec,
			int *cols)
{
	for (int c = 0; c < NCOLS; c++)
		cols[c] = -1;
	for (int i = 0; i < rec->nf; i++) {
		int c;
		for (c = 0; c < NCOLS && strcasecmp(rec->f[i], col_names[c]) != 0; c++)
			;
		if (c == NCOLS || cols[c] >= 0) {
			(void)add_error(r, fname, 1, "unknown or repeated header column", rec->f[i]);
			return false;
		}
		cols[c] = i;
	}
	if (cols[COL_KODE] < 0 || cols[COL_NAMA] < 0) {
		(void)add_error(r, fname, 1, "header must name the columns kode and nama", NULL);
		return false;
	}
	return true;
}

static bool blank_line(const struct reader *rd)
{
	const char *q = rd->p;

	while (q < rd->end && (*q == ' ' || *q == '\r'))
		q++;
	return q >= rd->end || *q == '\n';
}

int regions_csv_parse(struct regions_csv *r, const char *data, size_t len, const char *fname)
{
	static struct record rec; /* large; simpulctl is single-threaded */
	struct reader rd = {data, data + len, 1};
	int cols[NCOLS], nf, rc = UTIL_OK;
	const char *msg;

	if (len > REGIONS_CSV_MAX_FILE)
		return UTIL_ETOOBIG;
	if (len >= 3 && !memcmp(data, "\xef\xbb\xbf", 3))
		rd.p += 3;
	msg = read_record(&rd, &rec);
	if (msg || !read_header(r, fname, &rec, cols)) {
		if (msg)
			rc = add_error(r, fname, 1, msg, NULL);
		return rc;
	}
	nf = rec.nf;
	while (rd.p < rd.end && !rc) {
		int line = rd.line;
		if (blank_line(&rd)) {
			skip_line(&rd);
			continue;
		}
		msg = read_record(&rd, &rec);
		if (!msg && rec.nf != nf)
			msg = "wrong number of fields";
		rc = msg ? add_error(r, fname, line, msg, NULL) : check_row(r, fname, line, &rec, cols);
	}
	return rc;
}

void regions_csv_init(struct regions_csv *r)
{
	memset(r, 0, sizeof *r);
	util_buf_init(&r->copy, 0);
	util_buf_init(&r->errors, 0);
}

void regions_csv_release(struct regions_csv *r)
{
	util_buf_release(&r->copy);
	util_buf_release(&r->errors);
}
