/*
 * services/report/batch.h - the batch apply's internal types, shared by
 * batch.c (the transaction) and batch_cells.c (the in-memory indexes, the
 * per-cell deltas and the array literals the statements take). Included by
 * nothing outside services/report/batch*.c.
 */
#ifndef REPORT_BATCH_H
#define REPORT_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define BATCH_MAX_PREFIXES 5 /* '' + province, kabupaten, kecamatan, desa */

/* An item's state as in simpul.report_content (day "" = not resolved yet:
 * simpul.report_day(sub_ms), looked up before anything is written). */
struct fact {
	char region[32], kim[40], type[16], day[16], decision[12];
	int64_t sub_ms, decided_ms, dms;
	int ver;
	bool has_ver, has_decided, has_dms, has_submitted;
};

/* One (generation, content id) the batch touches. */
struct item {
	int gen;
	const char *content; /* borrowed from an event */
	bool had_old;        /* its fact existed (read and locked) */
	bool changed;        /* an event moved it */
	bool to_write;       /* to be written in the current step */
	bool raced;          /* created by a concurrent batch after we read: re-read */
	struct fact old, cur;
};

/*
 * An open-addressing index of element numbers by a 64-bit hash; the caller
 * keeps the elements and says when two are the same. Sized for n elements
 * at most (never full).
 */
struct batch_index {
	uint32_t *slot; /* element + 1; 0 = empty */
	size_t mask;
};

typedef bool (*batch_same_fn)(const void *ud, uint32_t element);

__attribute__((warn_unused_result)) int batch_index_init(struct batch_index *x, size_t n);
void batch_index_release(struct batch_index *x);
/* The slot of the element equal to the one hashed to h (same(ud, e)), or
 * the empty slot where it belongs (store element + 1 there). */
uint32_t *batch_index_slot(const struct batch_index *x, uint64_t h, batch_same_fn same,
			   const void *ud);
/* FNV-1a of an id, case-insensitive (PostgreSQL returns uuids in lower
 * case whatever case an event carried), mixed with seed. */
uint64_t batch_hash_id(uint64_t seed, const char *id);

/* Summed deltas per aggregate cell (generation, region prefix, day, type). */
struct batch_cell {
	int gen;
	char region[32], day[16], type[16];
	int64_t d[6]; /* submitted, approved, rejected, pending, decided, decision_ms_sum */
};

struct batch_cells {
	struct batch_cell *v;
	size_t n, cap;
	struct batch_index idx;
};

/* Room for the contributions of nitems items (old and new, every prefix). */
__attribute__((warn_unused_result)) int batch_cells_init(struct batch_cells *c, size_t nitems);
void batch_cells_release(struct batch_cells *c);
/* Adds sign x f's contribution to the cell of every prefix of its region
 * (day must be resolved). 0, or UTIL_EINTERNAL past the room. */
__attribute__((warn_unused_result)) int batch_cells_add(struct batch_cells *c, int gen,
							const struct fact *f, int sign);
/*
 * The cells whose deltas are not all zero as ten array literals (gen,
 * region, day, type, then the six deltas) for the cell upsert; *rows gets
 * their count. 0 or UTIL_ENOMEM. Buffers initialised by the caller.
 */
__attribute__((warn_unused_result)) int batch_cells_arrays(const struct batch_cells *c,
							   struct util_buf a[10], size_t *rows);

/* Array literals ("{a,b,NULL}"): appends s (NULL: SQL NULL) / a number
 * (set false: NULL) to b; batch_close_all closes b[0..n). 0 or UTIL_ENOMEM. */
__attribute__((warn_unused_result)) int batch_put(struct util_buf *b, const char *s);
__attribute__((warn_unused_result)) int batch_putn(struct util_buf *b, bool set, int64_t v);
__attribute__((warn_unused_result)) int batch_close_all(struct util_buf *b, int n);

#endif
