/*
 * services/report/batch_cells.c - the in-memory side of the batch apply
 * (batch.c): a small hash index (items by (generation, content id), events
 * by id), the cell deltas summed per (generation, region prefix, day, type)
 * so each distinct cell is written once per batch, and the array literals
 * the set-based statements take.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "util/err.h"

int batch_index_init(struct batch_index *x, size_t n)
{
	size_t size = 16;

	while (size < 2 * n + 1)
		size *= 2;
	x->slot = calloc(size, sizeof(*x->slot));
	x->mask = size - 1;
	return x->slot ? 0 : UTIL_ENOMEM;
}

void batch_index_release(struct batch_index *x)
{
	free(x->slot);
	x->slot = NULL;
}

uint32_t *batch_index_slot(const struct batch_index *x, uint64_t h, batch_same_fn same,
			   const void *ud)
{
	for (size_t i = (size_t)h & x->mask;; i = (i + 1) & x->mask)
		if (x->slot[i] == 0 || same(ud, x->slot[i] - 1))
			return &x->slot[i];
}

static uint64_t fnv(uint64_t h, const char *s, size_t n, bool fold)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		h ^= fold && ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
		h *= 1099511628211ULL;
	}
	return h;
}

uint64_t batch_hash_id(uint64_t seed, const char *id)
{
	return fnv(14695981039346656037ULL ^ (seed * 0x9E3779B97F4A7C15ULL), id, strlen(id), true);
}

int batch_cells_init(struct batch_cells *c, size_t nitems)
{
	memset(c, 0, sizeof(*c));
	c->cap = 2 * BATCH_MAX_PREFIXES * nitems + 1;
	c->v = calloc(c->cap, sizeof(*c->v));
	if (!c->v || batch_index_init(&c->idx, c->cap) != 0) {
		batch_cells_release(c);
		return UTIL_ENOMEM;
	}
	return 0;
}

void batch_cells_release(struct batch_cells *c)
{
	free(c->v);
	c->v = NULL;
	batch_index_release(&c->idx);
}

/* The key being looked up: a cell whose region is the first rlen bytes. */
struct cell_key {
	const struct batch_cells *c;
	int gen;
	const char *region, *day, *type;
	size_t rlen;
};

static bool cell_same(const void *ud, uint32_t e)
{
	const struct cell_key *k = ud;
	const struct batch_cell *x = &k->c->v[e];

	return x->gen == k->gen && strlen(x->region) == k->rlen &&
	       !memcmp(x->region, k->region, k->rlen) && !strcmp(x->day, k->day) &&
	       !strcmp(x->type, k->type);
}

static int cell_add(struct batch_cells *c, struct cell_key *k, const int64_t d[6])
{
	uint64_t h = fnv(batch_hash_id((uint64_t)k->gen, k->day), k->region, k->rlen, false);
	uint32_t *slot = batch_index_slot(&c->idx, fnv(h, k->type, strlen(k->type), false),
					  cell_same, k);
	struct batch_cell *x;

	if (*slot == 0) {
		if (c->n == c->cap)
			return UTIL_EINTERNAL;
		x = &c->v[c->n];
		x->gen = k->gen;
		snprintf(x->region, sizeof(x->region), "%.*s", (int)k->rlen, k->region);
		snprintf(x->day, sizeof(x->day), "%s", k->day);
		snprintf(x->type, sizeof(x->type), "%s", k->type);
		*slot = (uint32_t)++c->n;
	}
	x = &c->v[*slot - 1];
	for (int i = 0; i < 6; i++)
		x->d[i] += d[i];
	return 0;
}

int batch_cells_add(struct batch_cells *c, int gen, const struct fact *f, int sign)
{
	bool dec = strcmp(f->decision, "pending") != 0;
	int64_t d[6] = {sign,
			sign * !strcmp(f->decision, "approved"),
			sign * !strcmp(f->decision, "rejected"),
			sign * !dec,
			sign * dec,
			dec && f->has_dms ? sign * f->dms : 0};
	struct cell_key k = {
	    .c = c, .gen = gen, .region = f->region, .day = f->day, .type = f->type};
	int rc = cell_add(c, &k, d); /* national: '' */

	/* then every prefix ending before a '.' and the whole code, as
	 * simpul.report_prefixes */
	for (size_t i = 0; rc == 0 && f->region[i]; i++)
		if (f->region[i + 1] == '.' || f->region[i + 1] == '\0') {
			k.rlen = i + 1;
			rc = cell_add(c, &k, d);
		}
	return rc;
}

int batch_cells_arrays(const struct batch_cells *c, struct util_buf a[10], size_t *rows)
{
	int rc = 0;

	*rows = 0;
	for (size_t i = 0; i < c->n && rc == 0; i++) {
		const struct batch_cell *x = &c->v[i];
		bool zero = true;

		for (int k = 0; k < 6; k++)
			zero = zero && x->d[k] == 0;
		if (zero)
			continue; /* nothing moved there: not written, not marked */
		(*rows)++;
		rc = batch_putn(&a[0], true, x->gen) || batch_put(&a[1], x->region) ||
		     batch_put(&a[2], x->day) || batch_put(&a[3], x->type);
		for (int k = 0; k < 6 && rc == 0; k++)
			rc = batch_putn(&a[4 + k], true, x->d[k]);
	}
	if (rc == 0)
		rc = batch_close_all(a, 10);
	return rc ? UTIL_ENOMEM : 0;
}

int batch_put(struct util_buf *b, const char *s)
{
	/* region "" must be quoted: an empty element is not valid */
	if (s && !*s)
		return util_buf_append_str(b, b->len ? ",\"\"" : "{\"\"");
	return util_buf_printf(b, "%s%s", b->len ? "," : "{", s ? s : "NULL");
}

int batch_putn(struct util_buf *b, bool set, int64_t v)
{
	char t[24];

	snprintf(t, sizeof(t), "%lld", (long long)v);
	return batch_put(b, set ? t : NULL);
}

int batch_close_all(struct util_buf *b, int n)
{
	for (int i = 0; i < n; i++)
		if (util_buf_append_str(&b[i], b[i].len ? "}" : "{}"))
			return UTIL_ENOMEM;
	return 0;
}
