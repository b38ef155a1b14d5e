/*
 * bench/search/corpus.c - the benchmark corpus: the real articles of
 * id-news-clickid, extended to any size by recombining their sentences,
 * spread over the real desa codes of wilayah-indonesia-2025, and a
 * deterministic query mix drawn from the same words.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "search_bench.h"
#include "util/err.h"

static uint64_t next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/* Splits every body into sentences (pointers into copies owned by the corpus). */
static int split_sentences(struct corpus *c)
{
	size_t cap = 1024;

	c->sent = malloc(cap * sizeof(*c->sent));
	for (size_t i = 0; c->sent && i < c->arts.n; i++) {
		char *p = c->arts.items[i].body;

		while (*p) {
			char *e = strstr(p, ". ");
			size_t len = e ? (size_t)(e - p) + 1 : strlen(p);

			if (c->nsent == cap) {
				char **n = realloc(c->sent, 2 * cap * sizeof(*n));

				if (!n)
					return UTIL_ENOMEM;
				c->sent = n;
				cap *= 2;
			}
			c->sent[c->nsent] = strndup(p, len);
			if (!c->sent[c->nsent++])
				return UTIL_ENOMEM;
			p += len;
			while (*p == ' ')
				p++;
		}
	}
	return c->sent ? 0 : UTIL_ENOMEM;
}

static int load_regions(struct corpus *c, const char *path, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	char line[512];
	size_t cap = 1024;

	if (!fp)
		return util_err_set(err, errlen, UTIL_EIO, "cannot open %s", path);
	c->regions = malloc(cap * sizeof(*c->regions));
	while (c->regions && fgets(line, sizeof(line), fp)) {
		char *comma = strchr(line, ',');

		if (!comma || comma - line != 13)
			continue;
		*comma = '\0';
		if (!search_region_valid(line))
			continue;
		if (c->nregions == cap) {
			char(*n)[16] = realloc(c->regions, 2 * cap * sizeof(*n));

			if (!n)
				break;
			c->regions = n;
			cap *= 2;
		}
		memcpy(c->regions[c->nregions++], line, 14);
	}
	fclose(fp);
	if (c->nregions == 0)
		return util_err_set(err, errlen, UTIL_EIO, "no desa codes in %s", path);
	return 0;
}

int corpus_load(struct corpus *c, const char *data_dir, char *err, size_t errlen)
{
	struct article_limits lim = {.title_max = 900, .body_max = 60000};
	char path[1024];
	int rc;

	memset(c, 0, sizeof(*c));
	c->seed = 0x9e3779b97f4a7c15ULL;
	snprintf(path, sizeof(path), "%s/id-news-clickid/articles.csv", data_dir);
	rc = article_set_load(&c->arts, path, 1000000, &lim, err, errlen);
	if (rc == 0)
		rc = split_sentences(c);
	snprintf(path, sizeof(path), "%s/wilayah-indonesia-2025/wilayah.csv", data_dir);
	if (rc == 0)
		rc = load_regions(c, path, err, errlen);
	return rc;
}

void corpus_release(struct corpus *c)
{
	for (size_t i = 0; i < c->nsent; i++)
		free(c->sent[i]);
	free(c->sent);
	free(c->regions);
	article_set_release(&c->arts);
	memset(c, 0, sizeof(*c));
}

int corpus_doc(struct corpus *c, size_t i, struct util_buf *title, struct util_buf *body,
	       const char **region, int64_t *age_ms)
{
	uint64_t s = 0x2545f4914f6cdd1dULL ^ (i * 0x9e3779b97f4a7c15ULL);
	const struct article *a = &c->arts.items[i % c->arts.n];
	int rc;

	next(&s);
	util_buf_reset(title);
	util_buf_reset(body);
	*region = c->regions[next(&s) % c->nregions];
	*age_ms = (int64_t)(next(&s) % (365ULL * 86400000ULL));
	rc = util_buf_append_str(title, a->title);
	if (i < c->arts.n)
		return rc ? rc : util_buf_append_str(body, a->body);
	for (int k = 0, n = 3 + (int)(next(&s) % 8); k < n && rc == 0; k++)
		rc = util_buf_printf(body, "%s%s", k ? " " : "", c->sent[next(&s) % c->nsent]);
	return rc;
}

/* A lowercase alphabetic word of at least 4 letters from a random sentence. */
static bool pick_word(struct corpus *c, char out[32])
{
	const char *p = c->sent[next(&c->seed) % c->nsent];
	size_t n = strlen(p), start = n ? next(&c->seed) % n : 0;

	for (size_t i = start; i < n; i++) {
		size_t k = 0;

		if (i > 0 && ((p[i - 1] | 32) >= 'a' && (p[i - 1] | 32) <= 'z'))
			continue;
		while (i + k < n && k < 31 && (p[i + k] | 32) >= 'a' && (p[i + k] | 32) <= 'z')
			k++;
		if (k >= 4 && k < 20) {
			for (size_t j = 0; j < k; j++)
				out[j] = (char)(p[i + j] | 32);
			out[k] = '\0';
			return true;
		}
	}
	return false;
}

void corpus_query(struct corpus *c, char q[128], char region[16])
{
	int terms = 1 + (int)(next(&c->seed) % 3), got = 0;
	char w[32];

	q[0] = '\0';
	while (got < terms) {
		if (!pick_word(c, w))
			continue;
		strcat(q, got ? " " : "");
		strcat(q, w);
		got++;
	}
	region[0] = '\0';
	if (next(&c->seed) % 2) {
		const char *r = c->regions[next(&c->seed) % c->nregions];

		snprintf(region, 16, "%.*s", next(&c->seed) % 2 ? 2 : 5, r);
	}
}
