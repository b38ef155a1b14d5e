/*
 * services/search/reindex.c - rebuilds the search store aside and switches
 * to it atomically while queries go on (`simpulctl search reindex`).
 *
 *  1. simpul.search_docs_build is created like simpul.search_docs and
 *     filled from it in id order, each document analysed again with the
 *     current libs/text pipeline (new tsvector and SimHash; seq and
 *     announced_seq are kept, so the announcer sees no change);
 *  2. its indexes are built (names end in _g<generation>), then ANALYZE;
 *  3. catch-up without a lock: rows whose seq differs from the copy's;
 *  4. one short transaction: LOCK search_docs IN EXCLUSIVE MODE (reads go
 *     on, the indexer waits), a last catch-up, then the two tables swap
 *     names and simpul.search_state.generation is bumped. The rename needs
 *     an ACCESS EXCLUSIVE lock for an instant: queries queue behind it for
 *     at most lock_timeout (5 s), after which the attempt is retried.
 *  5. the old table is dropped.
 * Catch-ups compare seq for rows with seq above the value read before the
 * copy minus a margin (CATCHUP_MARGIN), which covers changes in flight at
 * that moment.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "search.h"
#include "slog/slog.h"
#include "util/err.h"
#include "util/ids.h"

#define BATCH 1000
#define CATCHUP_MARGIN 10000
#define SWAP_ATTEMPTS 5

static const char cols[] =
	"id, version, withdrawn, type, title, body, region_code, kim_id, tags, published_at, "
	"tsv, simhash, seq, indexed_at, announced_seq";
static const char select_cols[] =
	"l.id::text AS id, l.version, l.withdrawn, l.type, l.title, l.body, l.region_code, "
	"l.kim_id::text AS kim_id, l.tags::text AS tags, l.published_at::text AS published_at, "
	"l.seq, l.indexed_at::text AS indexed_at, l.announced_seq";

/* Appends s as a COPY text-format field (NULL as \N). */
static int copy_field(struct util_buf *b, const char *s, bool last)
{
	int rc = 0;

	if (!s)
		rc = util_buf_append_str(b, "\\N");
	for (; s && *s && rc == 0; s++) {
		switch (*s) {
		case '\\': rc = util_buf_append_str(b, "\\\\"); break;
		case '\t': rc = util_buf_append_str(b, "\\t"); break;
		case '\n': rc = util_buf_append_str(b, "\\n"); break;
		case '\r': rc = util_buf_append_str(b, "\\r"); break;
		default: rc = util_buf_append(b, s, 1);
		}
	}
	return rc ? rc : util_buf_append(b, last ? "\n" : "\t", 1);
}

static int row_line(const struct search_text *t, struct text_work *wk, const PGresult *res,
		    int i, struct util_buf *line)
{
	const char *title = db_value(res, i, "title"), *body = db_value(res, i, "body");
	static const char *const pre[] = {"id",		 "version", "withdrawn", "type",
					  "title",	 "body",    "region_code", "kim_id",
					  "tags",	 "published_at"};
	struct util_buf tsv;
	uint64_t sh = 0;
	char shs[24];
	int rc = 0;

	util_buf_init(&tsv, 0);
	if (db_value(res, i, "withdrawn")[0] != 't')
		rc = search_doc_build(&t->an, wk, title, strlen(title), body, strlen(body), &tsv,
				      &sh);
	snprintf(shs, sizeof(shs), "%" PRId64, (int64_t)sh);
	for (size_t k = 0; k < sizeof(pre) / sizeof(pre[0]) && rc == 0; k++)
		rc = copy_field(line, db_value(res, i, pre[k]), false);
	if (rc == 0)
		rc = copy_field(line, tsv.data ? tsv.data : "", false);
	if (rc == 0)
		rc = copy_field(line, shs, false);
	if (rc == 0)
		rc = copy_field(line, db_value(res, i, "seq"), false);
	if (rc == 0)
		rc = copy_field(line, db_value(res, i, "indexed_at"), false);
	if (rc == 0)
		rc = copy_field(line, db_value(res, i, "announced_seq"), true);
	util_buf_release(&tsv);
	return rc;
}

/* COPYs the rows of res into the build table. */
static int copy_rows(struct db_conn *c, const struct search_text *t, struct text_work *wk,
		     const PGresult *res, char *err, size_t errlen)
{
	char sql[512];
	struct util_buf line;
	int rc;

	snprintf(sql, sizeof(sql), "COPY simpul.search_docs_build (%s) FROM STDIN", cols);
	rc = db_copy_begin(c, sql, err, errlen);
	util_buf_init(&line, 0);
	for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
		util_buf_reset(&line);
		rc = row_line(t, wk, res, i, &line);
		if (rc == 0)
			rc = db_copy_put(c, line.data, line.len, err, errlen);
		else
			util_err_set(err, errlen, rc, "cannot analyse document %s",
				     db_value(res, i, "id"));
	}
	util_buf_release(&line);
	if (rc != 0) {
		char tmp[256];

		if (db_copy_end(c, "reindex failed", NULL, tmp, sizeof(tmp)) != 0)
			slog_debug("copy aborted", NULL);
		return rc;
	}
	return db_copy_end(c, NULL, NULL, err, errlen);
}

static int exec(struct db_conn *c, const char *sql, char *err, size_t errlen)
{
	return db_exec(c, sql, 0, NULL, NULL, NULL, err, errlen);
}

static int64_t scalar(struct db_conn *c, const char *sql, int *rc, char *err, size_t errlen)
{
	PGresult *res = NULL;
	int64_t v = 0;

	*rc = db_exec(c, sql, 0, NULL, NULL, &res, err, errlen);
	if (*rc == 0 && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return v;
}

static int copy_all(struct db_conn *c, const struct search_text *t, struct text_work *wk,
		    int64_t *docs, char *err, size_t errlen)
{
	char sql[1024], last[37] = "00000000-0000-0000-0000-000000000000";
	int rc = 0, n = BATCH;

	snprintf(sql, sizeof(sql),
		 "SELECT %s FROM simpul.search_docs l WHERE l.id > $1::uuid ORDER BY l.id LIMIT %d",
		 select_cols, BATCH);
	while (rc == 0 && n == BATCH) {
		const char *vals[] = {last};
		PGresult *res = NULL;

		rc = db_exec(c, sql, 1, vals, NULL, &res, err, errlen);
		n = rc == 0 ? PQntuples(res) : 0;
		if (rc == 0 && n > 0) {
			rc = copy_rows(c, t, wk, res, err, errlen);
			snprintf(last, sizeof(last), "%s", db_value(res, n - 1, "id"));
			*docs += n;
		}
		PQclear(res);
	}
	return rc;
}

/* Re-copies rows of the live table changed since the copy (seq above lo). */
static int catch_up(struct db_conn *c, const struct search_text *t, struct text_work *wk,
		    int64_t lo, int64_t *delta, char *err, size_t errlen)
{
	char sql[1024], los[24];
	const char *vals[] = {los};
	PGresult *res = NULL;
	int rc;

	snprintf(los, sizeof(los), "%" PRId64, lo);
	snprintf(sql, sizeof(sql),
		 "SELECT %s FROM simpul.search_docs l WHERE l.seq > $1::bigint AND NOT EXISTS "
		 "(SELECT 1 FROM simpul.search_docs_build b WHERE b.id = l.id AND b.seq = l.seq)",
		 select_cols);
	rc = db_exec(c, sql, 1, vals, NULL, &res, err, errlen);
	if (rc == 0 && PQntuples(res) > 0) {
		rc = db_exec(c,
			     "DELETE FROM simpul.search_docs_build b USING simpul.search_docs l "
			     "WHERE b.id = l.id AND l.seq > $1::bigint AND b.seq <> l.seq",
			     1, vals, NULL, NULL, err, errlen);
		if (rc == 0)
			rc = copy_rows(c, t, wk, res, err, errlen);
		*delta += PQntuples(res);
	}
	PQclear(res);
	return rc;
}

static int build_indexes(struct db_conn *c, int64_t g, char *err, size_t errlen)
{
	static const char *const idx[][2] = {
		{"tsv_idx", "USING gin (tsv)"},
		{"region_idx", "(region_code text_pattern_ops)"},
		{"published_idx", "(published_at DESC, id)"},
		{"tags_idx", "USING gin (tags)"},
		{"kim_idx", "(kim_id) WHERE kim_id IS NOT NULL"},
		{"seq_idx", "(seq)"},
		{"unannounced_idx", "(seq) WHERE announced_seq < seq"},
		{"sh0_idx", "(sh0)"},
		{"sh1_idx", "(sh1)"},
		{"sh2_idx", "(sh2)"},
		{"sh3_idx", "(sh3)"},
	};
	char sql[512];
	int rc;

	snprintf(sql, sizeof(sql),
		 "ALTER TABLE simpul.search_docs_build ADD CONSTRAINT search_docs_g%lld_pkey "
		 "PRIMARY KEY (id)",
		 (long long)g);
	rc = exec(c, sql, err, errlen);
	for (size_t i = 0; i < sizeof(idx) / sizeof(idx[0]) && rc == 0; i++) {
		snprintf(sql, sizeof(sql), "CREATE INDEX search_docs_g%lld_%s ON "
			 "simpul.search_docs_build %s", (long long)g, idx[i][0], idx[i][1]);
		rc = exec(c, sql, err, errlen);
	}
	return rc ? rc : exec(c, "ANALYZE simpul.search_docs_build", err, errlen);
}

/* The locked catch-up and the rename; UTIL_ETIMEOUT when the lock waited too long. */
static int swap(struct db_conn *c, const struct search_text *t, struct text_work *wk, int64_t lo,
		int64_t g, struct search_reindex_stats *st, char *err, size_t errlen)
{
	char sql[256];
	int rc = db_begin(c, err, errlen);

	if (rc == 0)
		rc = exec(c, "SET LOCAL lock_timeout = '5s'", err, errlen);
	if (rc == 0)
		rc = exec(c, "LOCK TABLE simpul.search_docs IN EXCLUSIVE MODE", err, errlen);
	if (rc == 0)
		rc = catch_up(c, t, wk, lo, &st->delta, err, errlen);
	if (rc == 0)
		rc = exec(c, "ALTER TABLE simpul.search_docs RENAME TO search_docs_old", err, errlen);
	if (rc == 0)
		rc = exec(c, "ALTER TABLE simpul.search_docs_build RENAME TO search_docs", err,
			  errlen);
	snprintf(sql, sizeof(sql),
		 "UPDATE simpul.search_state SET generation = %lld, reindexed_at = now()",
		 (long long)g);
	if (rc == 0)
		rc = exec(c, sql, err, errlen);
	if (rc == 0)
		return db_commit(c, err, errlen);
	{
		char tmp[256];

		db_rollback(c, tmp, sizeof(tmp));
	}
	return rc;
}

int search_reindex(const char *pg_url, const struct search_text *text,
		   struct search_reindex_stats *st, char *err, size_t errlen)
{
	struct db_conn_opts opts = {.application_name = "simpul-search-reindex"};
	struct db_conn *c = db_conn_new_opts(pg_url, &opts, err, errlen);
	struct text_work *wk = text_work_new(SEARCH_MAX_DOC_BYTES);
	int64_t t0 = util_mono_us(), s0, g;
	int rc = c && wk ? 0 : UTIL_EUNAVAIL;

	memset(st, 0, sizeof(*st));
	if (rc == 0)
		rc = exec(c, "DROP TABLE IF EXISTS simpul.search_docs_build", err, errlen);
	if (rc == 0)
		rc = exec(c, "CREATE TABLE simpul.search_docs_build (LIKE simpul.search_docs "
			     "INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED)",
			  err, errlen);
	g = rc == 0 ? scalar(c, "SELECT generation + 1 FROM simpul.search_state", &rc, err, errlen)
		    : 0;
	s0 = rc == 0 ? scalar(c, "SELECT coalesce(max(seq), 0) FROM simpul.search_docs", &rc, err,
			      errlen)
		     : 0;
	if (rc == 0)
		rc = copy_all(c, text, wk, &st->docs, err, errlen);
	slog_info("reindex copied", "docs=%lld generation=%lld", (long long)st->docs, (long long)g);
	if (rc == 0)
		rc = build_indexes(c, g, err, errlen);
	if (rc == 0)
		rc = catch_up(c, text, wk, s0 - CATCHUP_MARGIN, &st->delta, err, errlen);
	for (int i = 0; rc == 0; i++) {
		bool busy;

		rc = swap(c, text, wk, s0 - CATCHUP_MARGIN, g, st, err, errlen);
		busy = rc == UTIL_ETIMEOUT || (rc == UTIL_EIO && !strcmp(db_last_sqlstate(c), "55P03"));
		if (!busy || i + 1 == SWAP_ATTEMPTS)
			break;
		slog_warn("reindex swap waited too long, retrying", "attempt=%d", i + 1);
		rc = 0;
	}
	if (rc == 0)
		rc = exec(c, "DROP TABLE simpul.search_docs_old", err, errlen);
	st->generation = g;
	st->seconds = (double)(util_mono_us() - t0) / 1e6;
	text_work_free(wk);
	db_conn_free(c);
	return rc;
}
