/*
 * lexicon.c - colloquial lexicon (starter table + CSV loaders), the
 * word-level colloquial normaliser, and stopword sets.
 */
#include "text/lexicon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin_tables.h"
#include "stamp.h"
#include "strtab.h"
#include "text/norm.h"
#include "util/err.h"

#define MAXW 64
#define REC_CAP 65536

struct text_lexicon {
	struct strtab map; /* slang -> arena offset of the formal form */
};

struct text_stopwords {
	struct strtab set;
};

/* Normalise s into out (cap bytes); returns length or -1. */
static long norm_into(const char *s, size_t len, char *out, size_t cap)
{
	size_t n;

	if (len > cap || text_norm(s, len, 0, out, NULL, cap, &n) != 0)
		return -1;
	return (long)n;
}

static int add_norm(struct text_lexicon *lx, const char *slang, size_t sl, const char *formal,
		    size_t fl, bool *added)
{
	char k[MAXW], v[4 * MAXW];
	long kn = norm_into(slang, sl, k, sizeof(k)), vn = norm_into(formal, fl, v, sizeof(v));
	uint32_t off;
	int rc;

	*added = false;
	if (kn <= 0 || vn <= 0 || memchr(k, ' ', (size_t)kn))
		return 0;
	if (kn == vn && memcmp(k, v, (size_t)kn) == 0)
		return 0;
	if (strtab_get(&lx->map, k, (size_t)kn, NULL))
		return 0;
	rc = strtab_store(&lx->map, v, (size_t)vn, &off);
	if (rc == 0)
		rc = strtab_put(&lx->map, k, (size_t)kn, off, false);
	*added = rc == 0;
	return rc;
}

struct text_lexicon *text_lexicon_new(bool builtin)
{
	struct text_lexicon *lx = calloc(1, sizeof(*lx));
	bool added;

	if (!lx)
		return NULL;
	strtab_init(&lx->map);
	for (size_t i = 0; builtin && text_builtin_slang[i][0]; i++) {
		const char *s = text_builtin_slang[i][0], *f = text_builtin_slang[i][1];
		if (add_norm(lx, s, strlen(s), f, strlen(f), &added) != 0) {
			text_lexicon_free(lx);
			return NULL;
		}
	}
	return lx;
}

void text_lexicon_free(struct text_lexicon *lx)
{
	if (!lx)
		return;
	strtab_release(&lx->map);
	free(lx);
}

int text_lexicon_add(struct text_lexicon *lx, const char *slang, const char *formal)
{
	bool added;

	if (!lx || !slang || !formal)
		return UTIL_EINVAL;
	return add_norm(lx, slang, strlen(slang), formal, strlen(formal), &added);
}

uint64_t text_lexicon_stamp(const struct text_lexicon *lx)
{
	return lx ? lx->map.stamp : 0;
}

uint64_t text_stopwords_stamp(const struct text_stopwords *sw)
{
	return sw ? sw->set.stamp : 0;
}

size_t text_lexicon_count(const struct text_lexicon *lx)
{
	return lx ? lx->map.count : 0;
}

bool text_lexicon_lookup(const struct text_lexicon *lx, const char *w, size_t len,
			 const char **formal, size_t *flen)
{
	uint32_t off;

	if (!lx || !strtab_get(&lx->map, w, len, &off))
		return false;
	*formal = strtab_at(&lx->map, off);
	*flen = strlen(*formal);
	return true;
}

/*
 * Read one CSV record (RFC 4180, quoted fields may hold newlines) and return
 * the first two fields as slices into rec. Returns 1 for a record, 0 at EOF,
 * -1 for an over-long record (skipped).
 */
static int csv_record(FILE *f, char *rec, const char **fld, size_t *flen)
{
	size_t n = 0, nf = 0, start = 0;
	bool q = false, over = false;
	int c;

	fld[0] = fld[1] = rec;
	flen[0] = flen[1] = 0;
	while ((c = fgetc(f)) != EOF) {
		if (q) {
			if (c == '"') {
				int d = fgetc(f);
				if (d != '"') {
					q = false;
					if (d == EOF)
						break;
					ungetc(d, f);
					continue;
				}
			}
		} else if (c == '"') {
			q = true;
			continue;
		} else if (c == ',' || c == '\n') {
			if (nf < 2) {
				fld[nf] = rec + start;
				flen[nf] = n - start;
			}
			nf++;
			start = n;
			if (c == '\n')
				return over ? -1 : 1;
			continue;
		} else if (c == '\r') {
			continue;
		}
		if (n + 1 >= REC_CAP)
			over = true;
		else
			rec[n++] = (char)c;
	}
	if (n == 0 && nf == 0)
		return 0;
	if (nf < 2) {
		fld[nf] = rec + start;
		flen[nf] = n - start;
	}
	return over ? -1 : 1;
}

int text_lexicon_load(struct text_lexicon *lx, const char *path, enum text_lexicon_format fmt,
		      size_t *added, char *err, size_t errlen)
{
	FILE *f = NULL;
	char *rec = NULL;
	const char *fld[2];
	size_t flen[2], count = 0;
	int rc = 0, r;
	bool first = true, add;

	if (!lx || !path)
		return util_err_set(err, errlen, UTIL_EINVAL, "no lexicon or path");
	f = fopen(path, "r");
	if (!f) {
		rc = util_err_set(err, errlen, UTIL_EIO, "cannot open lexicon '%s'", path);
		goto out;
	}
	rec = malloc(REC_CAP);
	if (!rec) {
		rc = util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
		goto out;
	}
	while ((r = csv_record(f, rec, fld, flen)) != 0) {
		bool skip = first && fmt == TEXT_LEXICON_COLLOQUIAL;
		first = false;
		if (r < 0 || skip)
			continue;
		rc = add_norm(lx, fld[0], flen[0], fld[1], flen[1], &add);
		if (rc) {
			util_err_set(err, errlen, rc, "out of memory loading '%s'", path);
			goto out;
		}
		count += add;
	}
	if (ferror(f))
		rc = util_err_set(err, errlen, UTIL_EIO, "read error on '%s'", path);
out:
	if (added)
		*added = count;
	free(rec);
	if (f)
		fclose(f);
	return rc;
}

/* ---- word normaliser ---------------------------------------------------- */

static bool is_alpha(char c)
{
	return c >= 'a' && c <= 'z';
}

static char leet(char d)
{
	static const char map[] = "oi?easgtbg";
	char c = map[d - '0'];
	return c == '?' ? 0 : c;
}

/* Steps 2 and 3 (reduplication, hyphen-split letters, digits) into b. */
static size_t reshape(const char *w, size_t len, char *b)
{
	size_t n = 0, half = (len - 1) / 2;
	bool all_single = len >= 3, mapped = false;

	if (len >= 3 && len % 2 == 1 && w[half] == '-' && memcmp(w, w + half + 1, half) == 0) {
		memcpy(b, w, half);
		return half;
	}
	for (size_t i = 0; i < len; i++)
		if ((i % 2 == 0 && !is_alpha(w[i])) || (i % 2 == 1 && w[i] != '-'))
			all_single = false;
	for (size_t i = 0; i < len; i++) {
		char c = w[i];
		bool prev = i > 0 && is_alpha(w[i - 1]), next = i + 1 < len && is_alpha(w[i + 1]);
		if (all_single && c == '-')
			continue;
		if (c == '2' && prev && (i + 1 == len || next))
			continue; /* reduplication marker: anak2, kata2nya */
		if (c >= '0' && c <= '9' && prev && leet(c) &&
		    (next || (i + 1 == len && mapped)) && !(i > 0 && w[i - 1] >= '0' && w[i - 1] <= '9') &&
		    !(i + 1 < len && w[i + 1] >= '0' && w[i + 1] <= '9')) {
			b[n++] = leet(c);
			mapped = true;
			continue;
		}
		b[n++] = c;
	}
	return n;
}

/* Step 4: collapse letter runs of 3+ to 1 (or 2 if only that is known). */
static size_t squeeze(const struct text_lexicon *lx, const struct text_stemmer *dict, char *b,
		      size_t n)
{
	char one[MAXW], two[MAXW];
	size_t n1 = 0, n2 = 0;
	bool runs = false;
	const char *f;
	size_t fl;

	for (size_t i = 2; i < n && !runs; i++)
		runs = b[i] == b[i - 1] && b[i] == b[i - 2];
	if (!runs)
		return n; /* the common case: nothing to squeeze */
	runs = false;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && b[j] == b[i])
			j++;
		bool collapse = j - i >= 3 && is_alpha(b[i]);
		runs |= collapse;
		size_t k1 = collapse ? 1 : j - i, k2 = collapse ? 2 : j - i;
		memset(one + n1, b[i], k1);
		memset(two + n2, b[i], k2);
		n1 += k1;
		n2 += k2;
		i = j;
	}
	if (!runs)
		return n;
	bool k1 = text_stemmer_known(dict, one, n1) || text_lexicon_lookup(lx, one, n1, &f, &fl);
	bool k2 = text_stemmer_known(dict, two, n2) || text_lexicon_lookup(lx, two, n2, &f, &fl);
	if (!k1 && k2) {
		memcpy(b, two, n2);
		return n2;
	}
	memcpy(b, one, n1);
	return n1;
}

static size_t emit(const char *s, size_t n, char *out, size_t cap)
{
	size_t m = n < cap ? n : cap;

	if (m)
		memcpy(out, s, m);
	return m;
}

size_t text_word_normalize(const struct text_lexicon *lx, const struct text_stemmer *dict,
			   const char *w, size_t len, char *out, size_t cap)
{
	char b[MAXW];
	const char *f;
	size_t fl, n;

	if (len == 0 || len > MAXW)
		return emit(w, len, out, cap);
	if (text_lexicon_lookup(lx, w, len, &f, &fl))
		return fl <= cap ? emit(f, fl, out, cap) : emit(w, len, out, cap);
	n = reshape(w, len, b);
	n = squeeze(lx, dict, b, n);
	if (n == 0)
		return emit(w, len, out, cap);
	if (n == len && memcmp(b, w, n) == 0)
		return n <= cap ? emit(b, n, out, cap) : emit(w, len, out, cap);
	if (text_lexicon_lookup(lx, b, n, &f, &fl) && fl <= cap)
		return emit(f, fl, out, cap);
	return n <= cap ? emit(b, n, out, cap) : emit(w, len, out, cap);
}

/* ---- stopwords ----------------------------------------------------------- */

static int stop_add(struct text_stopwords *sw, const char *w, size_t len)
{
	char k[MAXW];
	long n = norm_into(w, len, k, sizeof(k));

	if (n <= 0 || memchr(k, ' ', (size_t)n))
		return 0;
	return strtab_put(&sw->set, k, (size_t)n, 0, false);
}

static int stop_load(struct text_stopwords *sw, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[256];
	int rc = 0;

	if (!f)
		return util_err_set(err, errlen, UTIL_EIO, "cannot open stopwords '%s'", path);
	while (!rc && fgets(line, sizeof(line), f)) {
		size_t n = strcspn(line, "\r\n");
		if (n == 0 || line[0] == '#')
			continue;
		rc = stop_add(sw, line, n);
	}
	if (rc)
		util_err_set(err, errlen, rc, "out of memory loading '%s'", path);
	fclose(f);
	return rc;
}

struct text_stopwords *text_stopwords_new(const char *path, char *err, size_t errlen)
{
	struct text_stopwords *sw = calloc(1, sizeof(*sw));
	int rc = 0;

	if (!sw) {
		util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
		return NULL;
	}
	strtab_init(&sw->set);
	if (path)
		rc = stop_load(sw, path, err, errlen);
	for (size_t i = 0; !path && !rc && text_builtin_stopwords[i]; i++)
		rc = stop_add(sw, text_builtin_stopwords[i], strlen(text_builtin_stopwords[i]));
	if (rc) {
		if (!path)
			util_err_set(err, errlen, rc, "out of memory");
		text_stopwords_free(sw);
		return NULL;
	}
	return sw;
}

void text_stopwords_free(struct text_stopwords *sw)
{
	if (!sw)
		return;
	strtab_release(&sw->set);
	free(sw);
}

bool text_stopwords_contains(const struct text_stopwords *sw, const char *w, size_t len)
{
	return sw && strtab_get(&sw->set, w, len, NULL);
}

size_t text_stopwords_count(const struct text_stopwords *sw)
{
	return sw ? sw->set.count : 0;
}
