/*
 * services/report/batch.c - applies a batch of consumed events in ONE
 * transaction (the libs/kafka batch handler's side effect).
 *
 * Content events (submitted, moderated) are applied set-based, with the same
 * rules as simpul.report_apply_content (migration 0005), in five statements
 * whatever the batch size:
 *   1. the event ids go into report_events (ON CONFLICT DO NOTHING); only
 *      the ones returned are new, per generation;
 *   2. the facts of the batch's items are read and locked (FOR UPDATE);
 *   3. each new event moves its item's fact in memory, in batch order (the
 *      fact is ordered by the event's own version/time, so late and
 *      out-of-order events converge as with the SQL function);
 *   4. the changed facts are upserted;
 *   5. every changed item's old contribution is subtracted from, and its new
 *      one added to, the cells of every region prefix: the deltas are summed
 *      per cell first, so the national and province cells are updated once
 *      per batch instead of once per event (repeated updates of one row in a
 *      transaction are what made per-event calls slow), and marked dirty.
 * Rows are locked in key order, so concurrent batches do not deadlock on the
 * facts and cells with each other. Other events (registry, published,
 * notification) are rarer and go through their SQL function one call each,
 * in the same transaction; those, and per-event writers in other processes
 * (an older simpul-report), lock cells and dirty marks in another order, so
 * a deadlock can still happen: it retries the transaction (TX_TRIES, with a
 * short jittered pause) before the batch fails.
 * (The many-argument unnest(...) is FROM-clause syntax: it cannot be
 * schema-qualified.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "db/db.h"
#include "report.h"
#include "util/buf.h"
#include "util/err.h"

#define TX_TRIES                                                                                   \
	8          /* deadlocks with per-event writers (other processes, other                     \
	           event kinds) happen under load: retry before redoing it one by one */
#define MAX_GENS 2 /* current + building */

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
 * consumer's batch created it) must not be overwritten with a state computed
 * without it, so it is not touched and the attempt retried (it then reads and
 * locks that row). */
static const char sql_insert_facts[] =
    SQL_FACT_ROWS " ON CONFLICT ON CONSTRAINT report_content_pkey DO NOTHING RETURNING 1";
static const char sql_cells[] =
    "WITH x AS (SELECT * FROM unnest($1::int[], $2::text[], $3::text[],"
    "  $4::bigint[], $5::text[], $6::int[], $7::int[], $8::int[], $9::int[], $10::int[],"
    "  $11::bigint[]) AS x(g, r, dy, s, t, sub, app, rej, pend, dcd, dms)),"
    " d AS (SELECT x.g, p AS region_code, COALESCE(x.dy::date, simpul.report_day(x.s)) AS day,"
    "  x.t AS type, pg_catalog.sum(sub) AS sub, pg_catalog.sum(app) AS app,"
    "  pg_catalog.sum(rej) AS rej, pg_catalog.sum(pend) AS pend, pg_catalog.sum(dcd) AS dcd,"
    "  pg_catalog.sum(dms) AS dms"
    "  FROM x, pg_catalog.unnest(simpul.report_prefixes(x.r)) AS p GROUP BY 1, 2, 3, 4),"
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

/* An item's state as in simpul.report_content (day "" = from sub_ms).
 * Ids are matched case-insensitively: PostgreSQL returns uuids in lower
 * case whatever case the event carried. */
struct fact {
	char region[32], kim[40], type[16], day[16], decision[12];
	int64_t sub_ms, decided_ms, dms;
	int ver;
	bool has_ver, has_decided, has_dms, has_submitted;
};

struct item {
	int gen;
	const char *content; /* borrowed from an event */
	bool had_old, changed;
	struct fact old, cur;
};

struct batch {
	struct report_event *ev; /* n decoded events */
	size_t n;
	bool *first; /* ev[i] is the first of its event id in the batch */
	bool *fresh; /* [gen slot * n + i]: new for that generation */
	int gens[MAX_GENS];
	int ngens;
	struct item *items;
	size_t nitems;
};

static void copy(char *out, size_t outlen, const char *s)
{
	snprintf(out, outlen, "%s", s ? s : "");
}

static int64_t num(const char *s)
{
	return s ? strtoll(s, NULL, 10) : 0;
}

/* Appends s (NULL: SQL NULL) to an array literal being built in b. */
static int put(struct util_buf *b, const char *s)
{
	return util_buf_printf(b, "%s%s", b->len ? "," : "{", s ? s : "NULL");
}

static int putn(struct util_buf *b, bool set, int64_t v)
{
	char t[24];

	snprintf(t, sizeof(t), "%lld", (long long)v);
	return put(b, set ? t : NULL);
}

/* Closes the array literals b[0..n). */
static int close_all(struct util_buf *b, int n)
{
	for (int i = 0; i < n; i++)
		if (util_buf_append_str(&b[i], b[i].len ? "}" : "{}"))
			return UTIL_ENOMEM;
	return 0;
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
			rc = put(&ids, b->ev[i].v[1]);
	if (rc == 0 && ids.len == 0)
		goto out; /* no content events */
	if (rc == 0)
		rc = close_all(&ids, 1);
	if (rc == 0) {
		const char *v[2] = {gen_text(g, sizeof(g), gen), ids.data};

		rc = db_exec(c, sql_dedupe, 2, v, NULL, &res, err, errlen);
	}
	for (int r = 0; rc == 0 && r < PQntuples(res); r++) {
		int gv = (int)num(db_value(res, r, "gen")), slot = -1;
		const char *e = db_value(res, r, "e");

		for (int k = 0; k < b->ngens; k++)
			if (b->gens[k] == gv)
				slot = k;
		if (slot < 0 && b->ngens == MAX_GENS) {
			rc = util_err_set(err, errlen, UTIL_EINTERNAL, "more than %d generations",
			                  MAX_GENS);
			break;
		}
		if (slot < 0) {
			slot = b->ngens;
			b->gens[b->ngens++] = gv;
		}
		for (size_t i = 0; i < b->n; i++)
			if (b->first[i] && b->ev[i].kind == REPORT_EV_CONTENT &&
			    strcasecmp(b->ev[i].v[1], e) == 0)
				b->fresh[(size_t)slot * b->n + i] = true;
	}
out:
	PQclear(res);
	util_buf_release(&ids);
	return rc;
}

static struct item *item_find(struct batch *b, int gen, const char *content)
{
	for (size_t i = 0; i < b->nitems; i++)
		if (b->items[i].gen == gen && strcasecmp(b->items[i].content, content) == 0)
			return &b->items[i];
	return NULL;
}

static void fact_read(struct fact *f, const PGresult *r, int row)
{
	copy(f->region, sizeof(f->region), db_value(r, row, "region_code"));
	copy(f->kim, sizeof(f->kim), db_value(r, row, "k"));
	copy(f->type, sizeof(f->type), db_value(r, row, "type"));
	copy(f->day, sizeof(f->day), db_value(r, row, "dy"));
	copy(f->decision, sizeof(f->decision), db_value(r, row, "decision"));
	f->sub_ms = num(db_value(r, row, "s"));
	f->has_ver = db_value(r, row, "decision_ver") != NULL;
	f->ver = (int)num(db_value(r, row, "decision_ver"));
	f->has_decided = db_value(r, row, "decided_at_ms") != NULL;
	f->decided_ms = num(db_value(r, row, "decided_at_ms"));
	f->has_dms = db_value(r, row, "decision_ms") != NULL;
	f->dms = num(db_value(r, row, "decision_ms"));
	f->has_submitted = strcmp(db_value(r, row, "has_submitted"), "t") == 0;
}

/* 2. creates one item per (generation, content id) of a new event and
 * reads (locks) the facts that exist. */
static int load_items(struct db_conn *c, struct batch *b, char *err, size_t errlen)
{
	struct util_buf a[2];
	PGresult *res = NULL;
	int rc = 0;

	util_buf_init(&a[0], 0);
	util_buf_init(&a[1], 0);
	for (int k = 0; k < b->ngens; k++)
		for (size_t i = 0; i < b->n; i++) {
			const char *content = b->ev[i].v[2];

			if (!b->fresh[(size_t)k * b->n + i] || item_find(b, b->gens[k], content))
				continue;
			b->items[b->nitems++] =
			    (struct item){.gen = b->gens[k], .content = content};
			rc = rc ? rc : put(&a[1], content);
		}
	for (int k = 0; k < b->ngens && rc == 0; k++)
		rc = putn(&a[0], true, b->gens[k]);
	if (rc == 0 && b->nitems == 0)
		goto out;
	if (rc == 0)
		rc = close_all(a, 2);
	if (rc == 0) {
		const char *v[2] = {a[0].data, a[1].data};

		rc = db_exec(c, sql_facts, 2, v, NULL, &res, err, errlen);
	}
	for (int r = 0; rc == 0 && r < PQntuples(res); r++) {
		struct item *it =
		    item_find(b, (int)num(db_value(res, r, "gen")), db_value(res, r, "c"));

		if (!it)
			continue;
		it->had_old = true;
		fact_read(&it->old, res, r);
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
		n->sub_ms = sub;
		n->day[0] = '\0';
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

static void apply_events(struct batch *b)
{
	for (int k = 0; k < b->ngens; k++)
		for (size_t i = 0; i < b->n; i++)
			if (b->fresh[(size_t)k * b->n + i])
				fact_move(item_find(b, b->gens[k], b->ev[i].v[2]), &b->ev[i]);
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

/* 4. writes the changed facts: the new ones (fresh) or the existing ones. A
 * new fact another transaction created first is UTIL_ECONFLICT (retried). */
static int write_facts(struct db_conn *c, const struct batch *b, bool fresh, char *err,
		       size_t errlen)
{
	struct util_buf a[12];
	const char *v[12];
	PGresult *res = NULL;
	size_t rows = 0;
	int rc = 0;

	for (int k = 0; k < 12; k++)
		util_buf_init(&a[k], 0);
	for (size_t i = 0; i < b->nitems && rc == 0; i++) {
		const struct item *it = &b->items[i];
		const struct fact *f = &it->cur;

		if (it->had_old == fresh || (it->had_old && fact_same(&it->old, &it->cur)))
			continue;
		rows++;
		rc = putn(&a[0], true, it->gen) || put(&a[1], it->content) ||
		     put(&a[2], f->region) || put(&a[3], *f->kim ? f->kim : NULL) ||
		     put(&a[4], f->type) || putn(&a[5], true, f->sub_ms) ||
		     put(&a[6], *f->day ? f->day : NULL) || put(&a[7], f->decision) ||
		     putn(&a[8], f->has_ver, f->ver) ||
		     putn(&a[9], f->has_decided, f->decided_ms) ||
		     putn(&a[10], f->has_dms, f->dms) || put(&a[11], f->has_submitted ? "t" : "f");
	}
	if (rc == 0 && rows == 0)
		goto out;
	if (rc == 0)
		rc = close_all(a, 12);
	for (int k = 0; k < 12; k++)
		v[k] = a[k].data;
	if (rc != 0)
		rc = UTIL_ENOMEM;
	else if (!fresh)
		rc = db_exec(c, sql_update_facts, 12, v, NULL, NULL, err, errlen);
	else if ((rc = db_exec(c, sql_insert_facts, 12, v, NULL, &res, err, errlen)) == 0 &&
		 (size_t)PQntuples(res) != rows)
		rc = util_err_set(err, errlen, UTIL_ECONFLICT,
				  "report fact created by a concurrent batch");
out:
	PQclear(res);
	for (int k = 0; k < 12; k++)
		util_buf_release(&a[k]);
	return rc;
}

/* One signed contribution of a fact to its cells. */
static int contribution(struct util_buf *a, int gen, const struct fact *f, int sign)
{
	bool dec = strcmp(f->decision, "pending") != 0;
	int64_t ms = dec && f->has_dms ? f->dms : 0;

	return putn(&a[0], true, gen) || put(&a[1], f->region) ||
	       put(&a[2], *f->day ? f->day : NULL) || putn(&a[3], true, f->sub_ms) ||
	       put(&a[4], f->type) || putn(&a[5], true, sign) ||
	       putn(&a[6], true, sign * !strcmp(f->decision, "approved")) ||
	       putn(&a[7], true, sign * !strcmp(f->decision, "rejected")) ||
	       putn(&a[8], true, sign * !dec) || putn(&a[9], true, sign * dec) ||
	       putn(&a[10], true, sign * ms);
}

/* 5. old contributions out, new ones in, summed per cell; cells marked dirty. */
static int update_cells(struct db_conn *c, const struct batch *b, char *err, size_t errlen)
{
	struct util_buf a[11];
	const char *v[11];
	size_t rows = 0;
	int rc = 0;

	for (int k = 0; k < 11; k++)
		util_buf_init(&a[k], 0);
	for (size_t i = 0; i < b->nitems && rc == 0; i++) {
		const struct item *it = &b->items[i];

		if (it->had_old && fact_same(&it->old, &it->cur))
			continue;
		if (it->had_old)
			rc = contribution(a, it->gen, &it->old, -1);
		if (rc == 0)
			rc = contribution(a, it->gen, &it->cur, 1);
		rows++;
	}
	if (rc == 0 && rows == 0)
		goto out;
	if (rc == 0)
		rc = close_all(a, 11);
	for (int k = 0; k < 11; k++)
		v[k] = a[k].data;
	if (rc == 0)
		rc = db_exec(c, sql_cells, 11, v, NULL, NULL, err, errlen);
	else
		rc = UTIL_ENOMEM;
out:
	for (int k = 0; k < 11; k++)
		util_buf_release(&a[k]);
	return rc;
}

/* The other events: one SQL function call each. */
static int apply_others(struct db_conn *c, const struct batch *b, size_t *applied, char *err,
                        size_t errlen)
{
	for (size_t i = 0; i < b->n; i++) {
		bool one = false;
		int rc;

		if (b->ev[i].kind == REPORT_EV_CONTENT)
			continue;
		rc = report_event_apply(c, &b->ev[i], &one, err, errlen);
		if (rc)
			return rc;
		*applied += one;
	}
	return 0;
}

/* One attempt of the whole transaction. */
static int batch_tx(struct db_conn *c, int gen, struct batch *b, size_t *applied, char *err,
                    size_t errlen)
{
	int rc;

	b->ngens = 0;
	b->nitems = 0;
	memset(b->fresh, 0, MAX_GENS * b->n * sizeof(*b->fresh));
	*applied = 0;
	rc = db_begin(c, err, errlen);
	if (rc == 0)
		rc = dedupe(c, gen, b, err, errlen);
	if (rc == 0)
		rc = load_items(c, b, err, errlen);
	if (rc == 0) {
		apply_events(b);
		if (b->nitems)
			rc = write_facts(c, b, false, err, errlen);
		if (rc == 0 && b->nitems)
			rc = write_facts(c, b, true, err, errlen);
	}
	if (rc == 0)
		rc = update_cells(c, b, err, errlen);
	if (rc == 0)
		rc = apply_others(c, b, applied, err, errlen);
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

		if (rc)
			return rc;
		b->first[i] = true;
		for (size_t k = 0; k < i && b->ev[i].kind == REPORT_EV_CONTENT; k++)
			if (b->ev[k].kind == REPORT_EV_CONTENT &&
			    !strcasecmp(b->ev[k].v[1], b->ev[i].v[1]))
				b->first[i] = false;
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
	b.items = calloc(MAX_GENS * n, sizeof(*b.items));
	if (!b.ev || !b.first || !b.fresh || !b.items) {
		util_err_set(err, errlen, rc, "report batch: out of memory");
		goto out;
	}
	rc = decode_all(gen, msgs, &b, err, errlen);
	for (int tries = 1; rc == 0; tries++) {
		struct timespec ts = {0, (long)(tries * 20 + rand() % 30) * 1000000L};

		rc = tx_code(batch_tx(c, gen, &b, &other, err, errlen));
		if (rc != UTIL_EUNAVAIL || tries == TX_TRIES || !db_conn_up(c))
			break;
		nanosleep(&ts, NULL); /* a conflict: again, after a short jittered pause */
		rc = 0;
	}
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
	free(b.items);
	return rc;
}
