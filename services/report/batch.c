/*
 * services/report/batch.c - applies a batch of consumed events (thousands)
 * in ONE transaction (the libs/kafka batch handler's side effect).
 *
 * Content events (submitted, moderated) are applied set-based, with the same
 * rules as simpul.report_apply_content (migration 0005), in a fixed number
 * of statements whatever the batch size:
 *   1. the event ids go into report_events (ON CONFLICT DO NOTHING); only
 *      the ones returned are new, per generation;
 *   2. the facts of the batch's items are read and locked (FOR UPDATE);
 *   3. each new event moves its item's fact in memory, in batch order (the
 *      fact is ordered by the event's own version/time, so late and
 *      out-of-order events converge as with the SQL function): a batch's
 *      events collapse into one final state per item;
 *   4. the days of moved facts are resolved (simpul.report_day, one
 *      statement), then the changed facts are written: the existing ones
 *      with one multi-row UPDATE, the new ones with one multi-row INSERT ...
 *      ON CONFLICT DO NOTHING. A new fact another consumer's batch created
 *      after we read (its INSERT won) is not overwritten: it is read and
 *      locked now, this batch's events of that item are replayed on it and
 *      it is updated - in the same transaction, without redoing the batch;
 *   5. every changed item's old contribution is subtracted from, and its
 *      new one added to, the cells of every region prefix IN MEMORY
 *      (batch_cells.c), so each distinct cell gets one row of one upsert per
 *      batch (sorted by key: concurrent batches lock cells in one order and
 *      do not deadlock with each other), and the cells are marked dirty in
 *      the same statement.
 * Lookups are hashed (batch_cells.c), so the work in C is linear in the
 * batch size. Other events (registry, published, notification) go through
 * their SQL function one call each, after that transaction committed, in
 * transactions of OTHERS_PER_TX (idempotent by event id, so a failure after
 * some of them committed is harmless to redo); those, and per-event writers
 * in other processes (an older simpul-report), lock cells and dirty marks in
 * another order, so a deadlock can still happen: it retries the transaction
 * (TX_TRIES, with a short jittered pause) before the batch fails.
 * (The many-argument unnest(...) is FROM-clause syntax: it cannot be
 * schema-qualified.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "batch.h"
#include "db/db.h"
#include "report.h"
#include "util/buf.h"
#include "util/err.h"

#define TX_TRIES                                                                                   \
	8          /* deadlocks with per-event writers (other processes, other                     \
	           event kinds) happen under load: retry before redoing it one by one */
#define MAX_GENS 2 /* current + building */
#define OTHERS_PER_TX 100

static const char sql_dedupe[] =
    "INSERT INTO simpul.report_events (gen, event_id)"
    " SELECT g, e FROM simpul.report_gens($1::int) AS g, pg_catalog.unnest($2::uuid[]) AS e"
    " ORDER BY 1, 2"
    " ON CONFLICT ON CONSTRAINT report_events_pkey DO NOTHING"
    " RETURNING gen, event_id::text AS e";
static const char sql_facts[] =
    "SELECT gen, content_id::text AS c, region_code, COALESCE(kim_id::text, '') AS k, type,"
    " (EXTRACT(EPOCH FROM submitted_at) * 1000)::bigint AS s, day::text AS dy, decision,"
    " decision_ver, decided_at_ms, decision_ms, has_submitted"
    " FROM simpul.report_content WHERE gen = ANY($1::int[]) AND content_id = ANY($2::uuid[])"
    " ORDER BY gen, content_id FOR UPDATE";
static const char sql_days[] =
    "SELECT simpul.report_day(ms)::text AS d"
    " FROM pg_catalog.unnest($1::bigint[]) WITH ORDINALITY AS x(ms, i) ORDER BY i";
#define SQL_FACT_ROWS                                                                            \
	"INSERT INTO simpul.report_content AS f (gen, content_id, region_code, kim_id, type,"    \
	" submitted_at, day, decision, decision_ver, decided_at_ms, decision_ms, has_submitted)" \
	" SELECT g, c, r, k, t, pg_catalog.to_timestamp(s / 1000.0),"                           \
	"  COALESCE(dy::date, simpul.report_day(s)), d, v, dm, dms, hs"                         \
	" FROM unnest($1::int[], $2::uuid[], $3::text[], $4::uuid[], $5::text[],"                \
	"  $6::bigint[], $7::text[], $8::text[], $9::int[], $10::bigint[], $11::bigint[],"      \
	"  $12::boolean[]) AS x(g, c, r, k, t, s, dy, d, v, dm, dms, hs)"                       \
	" ORDER BY g, c"
/* Facts read (and locked) by sql_facts: rewritten in place. */
static const char sql_update_facts[] =
    SQL_FACT_ROWS
    " ON CONFLICT ON CONSTRAINT report_content_pkey DO UPDATE SET"
    " region_code = EXCLUDED.region_code, kim_id = EXCLUDED.kim_id, type = EXCLUDED.type,"
    " submitted_at = EXCLUDED.submitted_at, day = EXCLUDED.day, decision = EXCLUDED.decision,"
    " decision_ver = EXCLUDED.decision_ver, decided_at_ms = EXCLUDED.decided_at_ms,"
    " decision_ms = EXCLUDED.decision_ms, has_submitted = EXCLUDED.has_submitted";
/* Facts that did not exist when read: a row that appeared meanwhile (another
 * consumer's batch created it) is not touched and not returned; it is then
 * read, locked and updated with this batch's events replayed on it. */
static const char sql_insert_facts[] =
    SQL_FACT_ROWS " ON CONFLICT ON CONSTRAINT report_content_pkey DO NOTHING"
                  " RETURNING gen, content_id::text AS c";
/* The batch's summed deltas, one row per distinct cell (batch_cells.c). */
static const char sql_cells[] =
    "WITH d AS (SELECT * FROM unnest($1::int[], $2::text[], $3::date[], $4::text[],"
    "  $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[])"
    "  AS d(g, region_code, day, type, sub, app, rej, pend, dcd, dms)),"
    " up AS (INSERT INTO simpul.report_cells AS c (gen, region_code, day, type, submitted,"
    "  approved, rejected, pending, decided, decision_ms_sum)"
    "  SELECT g, region_code, day, type, sub, app, rej, pend, dcd, dms FROM d"
    "  ORDER BY 1, 2, 3, 4"
    "  ON CONFLICT ON CONSTRAINT report_cells_pkey DO UPDATE SET"
    "  submitted = c.submitted + EXCLUDED.submitted, approved = c.approved + EXCLUDED.approved,"
    "  rejected = c.rejected + EXCLUDED.rejected, pending = c.pending + EXCLUDED.pending,"
    "  decided = c.decided + EXCLUDED.decided,"
    "  decision_ms_sum = c.decision_ms_sum + EXCLUDED.decision_ms_sum)"
    " INSERT INTO simpul.report_dirty_cells (region_code, day)"
    " SELECT DISTINCT region_code, day FROM d ORDER BY 1, 2"
    " ON CONFLICT ON CONSTRAINT report_dirty_cells_pkey DO UPDATE SET seq = EXCLUDED.seq";

struct batch {
	struct report_event *ev; /* n decoded events */
	size_t n;
	bool *first;       /* ev[i] is the first of its event id in the batch */
	bool *fresh;       /* [gen slot * n + i]: new for that generation */
	uint32_t *item_of; /* [gen slot * n + i]: item + 1 of a fresh event */
	int gens[MAX_GENS];
	int ngens;
	struct item *items;
	size_t nitems;
	struct batch_index ev_idx;   /* first events by id */
	struct batch_index item_idx; /* items by (gen, content id) */
};

static void copy(char *out, size_t outlen, const char *s)
{
	snprintf(out, outlen, "%s", s ? s : "");
}

static int64_t num(const char *s)
{
	return s ? strtoll(s, NULL, 10) : 0;
}

/* A result value by column number, NULL for SQL NULL. */
static const char *val(const PGresult *r, int row, int col)
{
	return col < 0 || PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static const char *gen_text(char *buf, size_t len, int gen)
{
	if (gen <= 0)
		return NULL;
	snprintf(buf, len, "%d", gen);
	return buf;
}

static int tx_code(int rc)
{
	/* deadlocks, serialisation failures and timeouts: retried */
	return rc == UTIL_ECONFLICT || rc == UTIL_ETIMEOUT ? UTIL_EUNAVAIL : rc;
}

struct ev_key {
	const struct batch *b;
	const char *id;
};

static bool ev_same(const void *ud, uint32_t e)
{
	const struct ev_key *k = ud;

	return strcasecmp(k->b->ev[e].v[1], k->id) == 0;
}

/* The first content event of id in the batch, or -1. */
static long ev_find(const struct batch *b, const char *id)
{
	struct ev_key k = {b, id};
	uint32_t *slot = batch_index_slot(&b->ev_idx, batch_hash_id(0, id), ev_same, &k);

	return *slot ? (long)*slot - 1 : -1;
}

struct item_key {
	const struct batch *b;
	int gen;
	const char *content;
};

static bool item_same(const void *ud, uint32_t e)
{
	const struct item_key *k = ud;
	const struct item *it = &k->b->items[e];

	return it->gen == k->gen && strcasecmp(it->content, k->content) == 0;
}

static uint32_t *item_slot(const struct batch *b, int gen, const char *content)
{
	struct item_key k = {b, gen, content};

	return batch_index_slot(&b->item_idx, batch_hash_id((uint64_t)gen, content), item_same,
				&k);
}

static struct item *item_find(const struct batch *b, int gen, const char *content)
{
	uint32_t *slot = item_slot(b, gen, content);

	return *slot ? &b->items[*slot - 1] : NULL;
}

static int gen_slot(struct batch *b, int gen, char *err, size_t errlen)
{
	for (int k = 0; k < b->ngens; k++)
		if (b->gens[k] == gen)
			return k;
	if (b->ngens == MAX_GENS)
		return util_err_set(err, errlen, UTIL_EINTERNAL, "more than %d generations",
				    MAX_GENS);
	b->gens[b->ngens] = gen;
	return b->ngens++;
}

/* 1. records the content events' ids; marks which are new per generation. */
static int dedupe(struct db_conn *c, int gen, struct batch *b, char *err, size_t errlen)
{
	struct util_buf ids;
	PGresult *res = NULL;
	char g[16];
	int rc = 0;

	util_buf_init(&ids, 0);
	for (size_t i = 0; i < b->n && rc == 0; i++)
		if (b->ev[i].kind == REPORT_EV_CONTENT && b->first[i])
			rc = batch_put(&ids, b->ev[i].v[1]);
	if (rc == 0 && ids.len == 0)
		goto out; /* no content events */
	if (rc == 0)
		rc = batch_close_all(&ids, 1);
	if (rc == 0) {
		const char *v[2] = {gen_text(g, sizeof(g), gen), ids.data};

		rc = db_exec(c, sql_dedupe, 2, v, NULL, &res, err, errlen);
	} else {
		rc = UTIL_ENOMEM;
	}
	for (int r = 0; rc == 0 && r < PQntuples(res); r++) {
		int slot = gen_slot(b, (int)num(PQgetvalue(res, r, 0)), err, errlen);
		long i = ev_find(b, PQgetvalue(res, r, 1));

		if (slot < 0)
			rc = slot;
		else if (i >= 0)
			b->fresh[(size_t)slot * b->n + (size_t)i] = true;
	}
out:
	PQclear(res);
	util_buf_release(&ids);
	return rc;
}

/* Creates one item per (generation, content id) of a new event. */
static void make_items(struct batch *b)
{
	for (int k = 0; k < b->ngens; k++)
		for (size_t i = 0; i < b->n; i++) {
			size_t at = (size_t)k * b->n + i;
			uint32_t *slot;

			if (!b->fresh[at])
				continue;
			slot = item_slot(b, b->gens[k], b->ev[i].v[2]);
			if (*slot == 0) {
				b->items[b->nitems] =
				    (struct item){.gen = b->gens[k], .content = b->ev[i].v[2]};
				*slot = (uint32_t)++b->nitems;
			}
			b->item_of[at] = *slot;
		}
}

static void fact_read(struct fact *f, const PGresult *r, int row, const int *col)
{
	copy(f->region, sizeof(f->region), val(r, row, col[0]));
	copy(f->kim, sizeof(f->kim), val(r, row, col[1]));
	copy(f->type, sizeof(f->type), val(r, row, col[2]));
	copy(f->day, sizeof(f->day), val(r, row, col[3]));
	copy(f->decision, sizeof(f->decision), val(r, row, col[4]));
	f->sub_ms = num(val(r, row, col[5]));
	f->has_ver = val(r, row, col[6]) != NULL;
	f->ver = (int)num(val(r, row, col[6]));
	f->has_decided = val(r, row, col[7]) != NULL;
	f->decided_ms = num(val(r, row, col[7]));
	f->has_dms = val(r, row, col[8]) != NULL;
	f->dms = num(val(r, row, col[8]));
	f->has_submitted = val(r, row, col[9]) && !strcmp(val(r, row, col[9]), "t");
}

/* 2. reads (locks) the facts that exist, of every item or (raced) of the
 * raced ones only; an item read starts from its fact, unmoved. */
static int read_facts(struct db_conn *c, struct batch *b, bool raced, char *err, size_t errlen)
{
	static const char *const names[] = {"region_code",   "k",           "type",
					    "dy",	     "decision",    "s",
					    "decision_ver", "decided_at_ms", "decision_ms",
					    "has_submitted"};
	struct util_buf a[2];
	PGresult *res = NULL;
	int col[10], rc = 0;
	size_t rows = 0;

	util_buf_init(&a[0], 0);
	util_buf_init(&a[1], 0);
	for (size_t i = 0; i < b->nitems && rc == 0; i++)
		if (!raced || b->items[i].raced) {
			rc = batch_put(&a[1], b->items[i].content);
			rows++;
		}
	for (int k = 0; k < b->ngens && rc == 0; k++)
		rc = batch_putn(&a[0], true, b->gens[k]);
	if (rc == 0 && rows == 0)
		goto out;
	if (rc == 0)
		rc = batch_close_all(a, 2);
	if (rc == 0) {
		const char *v[2] = {a[0].data, a[1].data};

		rc = db_exec(c, sql_facts, 2, v, NULL, &res, err, errlen);
	} else {
		rc = UTIL_ENOMEM;
	}
	for (int k = 0; rc == 0 && k < 10; k++)
		col[k] = PQfnumber(res, names[k]);
	for (int r = 0; rc == 0 && r < PQntuples(res); r++) {
		struct item *it = item_find(b, (int)num(PQgetvalue(res, r, 0)),
					    PQgetvalue(res, r, 1));

		if (!it || (raced && !it->raced))
			continue;
		it->had_old = true;
		it->changed = false;
		fact_read(&it->old, res, r, col);
		it->cur = it->old;
	}
out:
	PQclear(res);
	util_buf_release(&a[0]);
	util_buf_release(&a[1]);
	return rc;
}

/* 3. one content event on its item's fact: simpul.report_apply_content's rules. */
static void fact_move(struct item *it, const struct report_event *ev)
{
	const char *const *v = ev->v;
	struct fact *n = &it->cur;
	int64_t sub = num(v[6]), decided = num(v[9]);
	int ver = (int)num(v[8]);

	if (!it->had_old && !it->changed) {
		/* a decision without its submission time is placed at its own time */
		memset(n, 0, sizeof(*n));
		copy(n->region, sizeof(n->region), v[3]);
		copy(n->kim, sizeof(n->kim), v[4]);
		copy(n->type, sizeof(n->type), v[5]);
		copy(n->decision, sizeof(n->decision), "pending");
		n->sub_ms = v[6] ? sub : decided;
	}
	it->changed = true;
	if (!v[7]) { /* the submission is authoritative for where and when */
		copy(n->region, sizeof(n->region), v[3]);
		copy(n->kim, sizeof(n->kim), v[4]);
		copy(n->type, sizeof(n->type), v[5]);
		if (n->sub_ms != sub || !*n->day)
			n->day[0] = '\0'; /* resolved before writing */
		n->sub_ms = sub;
		n->has_submitted = true;
	} else if ((!strcmp(v[7], "approved") || !strcmp(v[7], "rejected")) &&
	           (!n->has_ver || ver > n->ver || (ver == n->ver && decided > n->decided_ms))) {
		copy(n->decision, sizeof(n->decision), v[7]);
		n->has_ver = true;
		n->ver = ver;
		n->has_decided = true;
		n->decided_ms = decided;
	}
	if (n->has_decided) {
		n->has_dms = true;
		n->dms = n->decided_ms - n->sub_ms > 0 ? n->decided_ms - n->sub_ms : 0;
	}
}

/* Every new event on its item, in batch order (raced: the raced items only). */
static void apply_events(struct batch *b, bool raced)
{
	for (size_t at = 0; at < (size_t)b->ngens * b->n; at++) {
		struct item *it = b->fresh[at] ? &b->items[b->item_of[at] - 1] : NULL;

		if (it && (!raced || it->raced))
			fact_move(it, &b->ev[at % b->n]);
	}
}

/* 4a. the day of every moved fact whose submission time changed. */
static int resolve_days(struct db_conn *c, struct batch *b, char *err, size_t errlen)
{
	struct util_buf ms;
	PGresult *res = NULL;
	size_t rows = 0, r = 0;
	int rc = 0;

	util_buf_init(&ms, 0);
	for (size_t i = 0; i < b->nitems && rc == 0; i++)
		if (b->items[i].changed && !*b->items[i].cur.day) {
			rc = batch_putn(&ms, true, b->items[i].cur.sub_ms);
			rows++;
		}
	if (rc == 0 && rows == 0)
		goto out;
	rc = rc ? UTIL_ENOMEM : batch_close_all(&ms, 1);
	if (rc == 0) {
		const char *v[1] = {ms.data};

		rc = db_exec(c, sql_days, 1, v, NULL, &res, err, errlen);
	}
	if (rc == 0 && (size_t)PQntuples(res) != rows)
		rc = util_err_set(err, errlen, UTIL_EINTERNAL, "report days: %d of %zu",
				  PQntuples(res), rows);
	for (size_t i = 0; i < b->nitems && rc == 0; i++)
		if (b->items[i].changed && !*b->items[i].cur.day)
			copy(b->items[i].cur.day, sizeof(b->items[i].cur.day),
			     PQgetvalue(res, (int)r++, 0));
out:
	PQclear(res);
	util_buf_release(&ms);
	return rc;
}

static bool fact_same(const struct fact *a, const struct fact *b)
{
	return !strcmp(a->region, b->region) && !strcmp(a->kim, b->kim) &&
	       !strcmp(a->type, b->type) && !strcmp(a->day, b->day) &&
	       !strcmp(a->decision, b->decision) && a->sub_ms == b->sub_ms &&
	       a->has_ver == b->has_ver && a->ver == b->ver && a->has_decided == b->has_decided &&
	       a->decided_ms == b->decided_ms && a->has_dms == b->has_dms && a->dms == b->dms &&
	       a->has_submitted == b->has_submitted;
}

static bool moved(const struct item *it)
{
	return it->changed && (!it->had_old || !fact_same(&it->old, &it->cur));
}

/* 4b. writes the items marked to_write that existed (insert false) or are new
 * (insert true: *res gets the rows actually inserted). */
static int write_facts(struct db_conn *c, const struct batch *b, bool insert, PGresult **res,
		       char *err, size_t errlen)
{
	struct util_buf a[12];
	const char *v[12];
	size_t rows = 0;
	int rc = 0;

	for (int k = 0; k < 12; k++)
		util_buf_init(&a[k], 0);
	for (size_t i = 0; i < b->nitems && rc == 0; i++) {
		const struct item *it = &b->items[i];
		const struct fact *f = &it->cur;

		if (!it->to_write || it->had_old == insert)
			continue;
		rows++;
		rc = batch_putn(&a[0], true, it->gen) || batch_put(&a[1], it->content) ||
		     batch_put(&a[2], f->region) || batch_put(&a[3], *f->kim ? f->kim : NULL) ||
		     batch_put(&a[4], f->type) || batch_putn(&a[5], true, f->sub_ms) ||
		     batch_put(&a[6], *f->day ? f->day : NULL) || batch_put(&a[7], f->decision) ||
		     batch_putn(&a[8], f->has_ver, f->ver) ||
		     batch_putn(&a[9], f->has_decided, f->decided_ms) ||
		     batch_putn(&a[10], f->has_dms, f->dms) ||
		     batch_put(&a[11], f->has_submitted ? "t" : "f");
	}
	if (rc == 0 && rows == 0)
		goto out;
	if (rc == 0)
		rc = batch_close_all(a, 12);
	for (int k = 0; k < 12; k++)
		v[k] = a[k].data;
	if (rc != 0)
		rc = UTIL_ENOMEM;
	else
		rc = db_exec(c, insert ? sql_insert_facts : sql_update_facts, 12, v, NULL,
			     insert ? res : NULL, err, errlen);
out:
	for (int k = 0; k < 12; k++)
		util_buf_release(&a[k]);
	return rc;
}

/* 4. days, then the existing facts, then the new ones; new ones a
 * concurrent batch created first are re-read, replayed and updated. */
static int store_facts(struct db_conn *c, struct batch *b, char *err, size_t errlen)
{
	PGresult *ins = NULL;
	size_t raced = 0;
	int rc = resolve_days(c, b, err, errlen);

	for (size_t i = 0; i < b->nitems; i++)
		b->items[i].to_write = moved(&b->items[i]);
	if (rc == 0)
		rc = write_facts(c, b, false, NULL, err, errlen);
	if (rc == 0)
		rc = write_facts(c, b, true, &ins, err, errlen);
	for (int r = 0; rc == 0 && ins && r < PQntuples(ins); r++) {
		struct item *it = item_find(b, (int)num(PQgetvalue(ins, r, 0)),
					    PQgetvalue(ins, r, 1));

		if (it)
			it->to_write = false;
	}
	PQclear(ins);
	for (size_t i = 0; rc == 0 && i < b->nitems; i++) {
		struct item *it = &b->items[i];

		it->raced = it->to_write && !it->had_old;
		raced += it->raced;
		it->to_write = false;
	}
	if (rc || raced == 0)
		return rc;
	rc = read_facts(c, b, true, err, errlen);
	for (size_t i = 0; rc == 0 && i < b->nitems; i++)
		if (b->items[i].raced && !b->items[i].had_old)
			rc = util_err_set(err, errlen, UTIL_ECONFLICT,
					  "report fact of \"%s\" vanished", b->items[i].content);
	if (rc == 0) {
		apply_events(b, true);
		rc = resolve_days(c, b, err, errlen);
	}
	for (size_t i = 0; i < b->nitems; i++)
		b->items[i].to_write = b->items[i].raced && moved(&b->items[i]);
	if (rc == 0)
		rc = write_facts(c, b, false, NULL, err, errlen);
	return rc;
}

/* 5. old contributions out, new ones in, summed per cell in memory; one
 * upsert row per distinct cell, and the cells marked dirty. */
static int update_cells(struct db_conn *c, const struct batch *b, char *err, size_t errlen)
{
	struct batch_cells cells;
	struct util_buf a[10];
	const char *v[10];
	size_t rows = 0;
	int rc = batch_cells_init(&cells, b->nitems);

	for (int k = 0; k < 10; k++)
		util_buf_init(&a[k], 0);
	for (size_t i = 0; i < b->nitems && rc == 0; i++) {
		const struct item *it = &b->items[i];

		if (!moved(it))
			continue;
		if (it->had_old)
			rc = batch_cells_add(&cells, it->gen, &it->old, -1);
		if (rc == 0)
			rc = batch_cells_add(&cells, it->gen, &it->cur, 1);
	}
	if (rc == 0)
		rc = batch_cells_arrays(&cells, a, &rows);
	for (int k = 0; k < 10; k++)
		v[k] = a[k].data;
	if (rc == 0 && rows > 0)
		rc = db_exec(c, sql_cells, 10, v, NULL, NULL, err, errlen);
	else if (rc)
		util_err_set(err, errlen, rc, "report cells: out of room");
	for (int k = 0; k < 10; k++)
		util_buf_release(&a[k]);
	batch_cells_release(&cells);
	return rc;
}

/* A short jittered pause before the next try of a transaction. */
static void pause_before(int tries)
{
	struct timespec ts = {0, (long)(tries * 20 + rand() % 30) * 1000000L};

	nanosleep(&ts, NULL);
}

/*
 * The other events, after the content transaction committed: one SQL
 * function call each, OTHERS_PER_TX per transaction, so the day's hot
 * region-day rows and dirty marks they update stay locked briefly (in the
 * batch's one transaction, a thousand notification records held them for
 * 30-60 s under load and stalled every other writer). A failure leaves the
 * chunks committed so far: harmless, the one-by-one redo that follows finds
 * them as duplicates (event-id dedupe).
 */
static int apply_others(struct db_conn *c, const struct batch *b, size_t *applied, char *err,
                        size_t errlen)
{
	size_t i = 0;

	for (;;) {
		size_t end = i, got = 0;
		int rc = 0;

		while (i < b->n && b->ev[i].kind == REPORT_EV_CONTENT)
			i++;
		if (i == b->n)
			return 0;
		for (int tries = 1;; tries++) {
			size_t cnt = 0;

			got = 0;
			rc = db_begin(c, err, errlen);
			for (end = i; rc == 0 && end < b->n && cnt < OTHERS_PER_TX; end++) {
				bool one = false;

				if (b->ev[end].kind == REPORT_EV_CONTENT)
					continue;
				cnt++;
				rc = report_event_apply(c, &b->ev[end], &one, err, errlen);
				got += one;
			}
			if (rc == 0)
				rc = db_commit(c, err, errlen);
			else
				db_rollback(c, NULL, 0);
			rc = tx_code(rc);
			if (rc != UTIL_EUNAVAIL || tries == TX_TRIES || !db_conn_up(c))
				break;
			pause_before(tries);
		}
		if (rc)
			return rc;
		*applied += got;
		i = end;
	}
}

/* One attempt of the whole transaction. */
static int batch_tx(struct db_conn *c, int gen, struct batch *b, char *err, size_t errlen)
{
	int rc;

	b->ngens = 0;
	b->nitems = 0;
	memset(b->fresh, 0, MAX_GENS * b->n * sizeof(*b->fresh));
	memset(b->item_of, 0, MAX_GENS * b->n * sizeof(*b->item_of));
	memset(b->item_idx.slot, 0, (b->item_idx.mask + 1) * sizeof(*b->item_idx.slot));
	rc = db_begin(c, err, errlen);
	if (rc == 0)
		rc = dedupe(c, gen, b, err, errlen);
	if (rc == 0) {
		make_items(b);
		rc = read_facts(c, b, false, err, errlen);
	}
	if (rc == 0 && b->nitems) {
		apply_events(b, false);
		rc = store_facts(c, b, err, errlen);
	}
	if (rc == 0)
		rc = update_cells(c, b, err, errlen);
	if (rc == 0)
		return db_commit(c, err, errlen);
	db_rollback(c, NULL, 0);
	return rc;
}

/* Content events new for at least one generation. */
static size_t count_fresh(const struct batch *b)
{
	size_t n = 0;

	for (size_t i = 0; i < b->n; i++) {
		bool any = false;

		for (int k = 0; k < b->ngens; k++)
			any = any || b->fresh[(size_t)k * b->n + i];
		n += any;
	}
	return n;
}

/* Decodes every event (poison: UTIL_EINVAL) and marks first occurrences. */
static int decode_all(int gen, const struct kafka_message *msgs, struct batch *b, char *err,
                      size_t errlen)
{
	for (size_t i = 0; i < b->n; i++) {
		int rc = report_event_decode(gen, &msgs[i], &b->ev[i], err, errlen);
		struct ev_key k = {b, NULL};
		uint32_t *slot;

		if (rc)
			return rc;
		if (b->ev[i].kind != REPORT_EV_CONTENT) {
			b->first[i] = true;
			continue;
		}
		k.id = b->ev[i].v[1];
		slot = batch_index_slot(&b->ev_idx, batch_hash_id(0, k.id), ev_same, &k);
		b->first[i] = *slot == 0;
		if (*slot == 0)
			*slot = (uint32_t)i + 1;
	}
	return 0;
}

int report_apply_batch(struct db_conn *c, int gen, const struct kafka_message *msgs, size_t n,
                       size_t *applied, size_t *dups, char *err, size_t errlen)
{
	struct batch b = {.n = n};
	size_t other = 0;
	int rc = UTIL_ENOMEM;

	*applied = *dups = 0;
	b.ev = calloc(n, sizeof(*b.ev));
	b.first = calloc(n, sizeof(*b.first));
	b.fresh = calloc(MAX_GENS * n, sizeof(*b.fresh));
	b.item_of = calloc(MAX_GENS * n, sizeof(*b.item_of));
	b.items = calloc(MAX_GENS * n, sizeof(*b.items));
	if (!b.ev || !b.first || !b.fresh || !b.item_of || !b.items ||
	    batch_index_init(&b.ev_idx, n) != 0 || batch_index_init(&b.item_idx, MAX_GENS * n)) {
		util_err_set(err, errlen, rc, "report batch: out of memory");
		goto out;
	}
	rc = decode_all(gen, msgs, &b, err, errlen);
	for (int tries = 1; rc == 0; tries++) {
		rc = tx_code(batch_tx(c, gen, &b, err, errlen));
		if (rc != UTIL_EUNAVAIL || tries == TX_TRIES || !db_conn_up(c))
			break;
		pause_before(tries); /* a conflict: again, after a short jittered pause */
		rc = 0;
	}
	if (rc == 0)
		rc = apply_others(c, &b, &other, err, errlen);
	if (rc == 0) {
		*applied = count_fresh(&b) + other;
		*dups = n - *applied;
	}
out:
	for (size_t i = 0; b.ev && i < n; i++)
		report_event_release(&b.ev[i]);
	free(b.ev);
	free(b.first);
	free(b.fresh);
	free(b.item_of);
	free(b.items);
	batch_index_release(&b.ev_idx);
	batch_index_release(&b.item_idx);
	return rc;
}
