/*
 * ceiling_pg.c - ceiling B (batched multi-row INSERTs of the benchmark rows
 * straight into PostgreSQL) and the one-transaction-per-request baseline,
 * both into a scratch copy of simpul.content with synchronous_commit on.
 */
#include "ceilings.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include <util/err.h>
#include <util/ids.h>

#define COLS 9
#define MAX_BATCH 5000 /* 9 * 5000 parameters stay under libpq's 65535 */

static const char *const row_types[] = {"berita", "kegiatan", "potensi", "umkm", "usulan"};

/* One row's text parameters; tags and id are owned by the row. */
struct pg_row {
	char id[UTIL_UUID_STRLEN + 1];
	char *tags;
	const char *v[COLS];
};

static void schema_name(char *out, size_t n)
{
	snprintf(out, n, "simpul_bench_%ld", (long)getpid());
}

static PGconn *pg_open(const char *conninfo, char *err, size_t errlen)
{
	PGconn *c = PQconnectdb(conninfo);
	PGresult *res;

	if (PQstatus(c) != CONNECTION_OK) {
		util_err_set(err, errlen, UTIL_EUNAVAIL, "connect: %s", PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	res = PQexec(c, "SELECT pg_catalog.set_config('search_path', '', false);"
			"SET synchronous_commit = on; SET client_min_messages = warning");
	PQclear(res);
	return c;
}

static int pg_ok(PGconn *c, PGresult *res, char *err, size_t errlen, const char *what)
{
	ExecStatusType st = PQresultStatus(res);
	int rc = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		rc = util_err_set(err, errlen, UTIL_EIO, "%s: %s", what, PQerrorMessage(c));
	PQclear(res);
	return rc;
}

/* `{"tag"}` with " and \ escaped, as a text[] literal. */
static char *tags_literal(const char *tag)
{
	size_t n = strlen(tag);
	char *out = malloc(2 * n + 5), *p = out;

	if (!out)
		return NULL;
	if (!*tag)
		return strcpy(out, "{}");
	*p++ = '{';
	*p++ = '"';
	for (; *tag; tag++) {
		if (*tag == '"' || *tag == '\\')
			*p++ = '\\';
		*p++ = *tag;
	}
	*p++ = '"';
	*p++ = '}';
	*p = '\0';
	return out;
}

static int row_fill(struct pg_row *r, const struct ceiling_pg_opts *o, uint64_t i)
{
	const struct article *a = &o->articles->items[i % o->articles->n];

	util_uuid_v4(r->id);
	r->tags = tags_literal(a->category);
	if (!r->tags)
		return UTIL_ENOMEM;
	r->v[0] = r->id;
	r->v[1] = row_types[i % 5];
	r->v[2] = a->title;
	r->v[3] = a->body;
	r->v[4] = o->region_code;
	r->v[5] = o->kim_id;
	r->v[6] = o->author_id;
	r->v[7] = r->tags;
	r->v[8] = "api";
	return 0;
}

/* INSERT ... VALUES ($1..$9),($10..$18),... for n rows. */
static char *insert_sql(unsigned n)
{
	char schema[64];
	size_t cap = 256 + (size_t)n * 80, len;
	char *sql = malloc(cap);

	if (!sql)
		return NULL;
	schema_name(schema, sizeof(schema));
	len = (size_t)snprintf(sql, cap,
			       "INSERT INTO %s.content (id, type, title, body, region_code, kim_id,"
			       " author_id, tags, source) VALUES ",
			       schema);
	for (unsigned r = 0; r < n; r++) {
		unsigned b = r * COLS;
		len += (size_t)snprintf(sql + len, cap - len,
					"%s($%u::uuid,$%u,$%u,$%u,$%u,$%u::uuid,$%u::uuid,$%u::text[],$%u)",
					r ? "," : "", b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7,
					b + 8, b + 9);
	}
	return sql;
}

int ceiling_pg_prepare(const struct ceiling_pg_opts *o, char *settings, size_t settingslen,
		       char *err, size_t errlen)
{
	char schema[64], sql[512];
	PGconn *c = pg_open(o->conninfo, err, errlen);
	PGresult *res;
	int rc;

	if (!c)
		return UTIL_EUNAVAIL;
	schema_name(schema, sizeof(schema));
	snprintf(sql, sizeof(sql),
		 "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s;"
		 " CREATE TABLE %s.content (LIKE simpul.content INCLUDING ALL)",
		 schema, schema, schema);
	rc = pg_ok(c, PQexec(c, sql), err, errlen, "create scratch table");
	if (rc == 0) {
		res = PQexec(c, "SELECT current_setting('fsync'), current_setting('synchronous_commit'),"
				" current_setting('wal_sync_method')");
		if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
			snprintf(settings, settingslen, "fsync=%s synchronous_commit=%s wal_sync_method=%s",
				 PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
		PQclear(res);
	}
	PQfinish(c);
	return rc;
}

void ceiling_pg_cleanup(const struct ceiling_pg_opts *o)
{
	char schema[64], sql[128], err[256];
	PGconn *c = pg_open(o->conninfo, err, sizeof(err));

	if (!c)
		return;
	schema_name(schema, sizeof(schema));
	snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE", schema);
	PQclear(PQexec(c, sql));
	PQfinish(c);
}

/* Runs one multi-row INSERT of n rows starting at row index first. */
static int insert_batch(PGconn *c, const struct ceiling_pg_opts *o, const char *stmt, const char *sql,
			uint64_t first, unsigned n, char *err, size_t errlen)
{
	struct pg_row *rows = calloc(n, sizeof(*rows));
	const char **params = calloc((size_t)n * COLS, sizeof(*params));
	int rc = rows && params ? 0 : UTIL_ENOMEM;

	for (unsigned i = 0; rc == 0 && i < n; i++) {
		rc = row_fill(&rows[i], o, first + i);
		for (unsigned k = 0; rc == 0 && k < COLS; k++)
			params[(size_t)i * COLS + k] = rows[i].v[k];
	}
	if (rc == 0 && stmt)
		rc = pg_ok(c, PQexecPrepared(c, stmt, (int)(n * COLS), params, NULL, NULL, 0), err,
			   errlen, "batched insert");
	else if (rc == 0)
		rc = pg_ok(c, PQexecParams(c, sql, (int)(n * COLS), NULL, params, NULL, NULL, 0), err,
			   errlen, "batched insert");
	for (unsigned i = 0; rows && i < n; i++)
		free(rows[i].tags);
	free(rows);
	free(params);
	return rc;
}

int ceiling_pg_batched(const struct ceiling_pg_opts *o, uint64_t rows, unsigned batch,
		       struct ceiling_pg_result *res, char *err, size_t errlen)
{
	PGconn *c = NULL;
	char *full = NULL, *tail = NULL;
	int64_t t0;
	uint64_t done = 0;
	int rc = 0;

	memset(res, 0, sizeof(*res));
	if (batch < 1 || batch > MAX_BATCH)
		return util_err_set(err, errlen, UTIL_EINVAL, "batch must be 1..%d", MAX_BATCH);
	c = pg_open(o->conninfo, err, errlen);
	full = insert_sql(batch);
	if (!c || !full) {
		rc = c ? UTIL_ENOMEM : UTIL_EUNAVAIL;
		goto out;
	}
	rc = pg_ok(c, PQprepare(c, "bench_batch", full, 0, NULL), err, errlen, "prepare");
	t0 = util_mono_us();
	while (rc == 0 && done < rows) {
		unsigned n = rows - done < batch ? (unsigned)(rows - done) : batch;
		if (n < batch && !tail)
			tail = insert_sql(n);
		rc = insert_batch(c, o, n == batch ? "bench_batch" : NULL, tail, done, n, err, errlen);
		done += n;
	}
	res->rows = rc == 0 ? done : 0;
	res->elapsed_s = (util_mono_us() - t0) / 1e6;
	res->rows_per_s = res->elapsed_s > 0 ? res->rows / res->elapsed_s : 0;
out:
	free(full);
	free(tail);
	PQfinish(c);
	return rc;
}

struct txn_shared {
	const struct ceiling_pg_opts *o;
	atomic_uint_fast64_t next, done;
	uint64_t max_rows;
	int64_t deadline_us;
	atomic_int failed;
	char err[256];
};

static void *txn_worker(void *arg)
{
	struct txn_shared *sh = arg;
	char err[256];
	char *sql = insert_sql(1);
	PGconn *c = pg_open(sh->o->conninfo, err, sizeof(err));
	int rc = c && sql ? pg_ok(c, PQprepare(c, "bench_one", sql, 0, NULL), err, sizeof(err),
				     "prepare")
			  : UTIL_EUNAVAIL;

	while (rc == 0 && util_mono_us() < sh->deadline_us) {
		uint64_t i = atomic_fetch_add(&sh->next, 1);
		if (i >= sh->max_rows)
			break;
		rc = insert_batch(c, sh->o, "bench_one", NULL, i, 1, err, sizeof(err));
		if (rc == 0)
			atomic_fetch_add(&sh->done, 1);
	}
	if (rc != 0 && atomic_exchange(&sh->failed, 1) == 0)
		snprintf(sh->err, sizeof(sh->err), "%s", err);
	free(sql);
	PQfinish(c);
	return NULL;
}

int ceiling_pg_per_txn(const struct ceiling_pg_opts *o, unsigned conns, uint64_t max_rows,
		       double max_s, struct ceiling_pg_result *res, char *err, size_t errlen)
{
	struct txn_shared sh = {.o = o, .max_rows = max_rows};
	pthread_t *th = calloc(conns ? conns : 1, sizeof(*th));
	unsigned started = 0;
	int64_t t0 = util_mono_us();

	memset(res, 0, sizeof(*res));
	if (!th)
		return util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
	sh.deadline_us = t0 + (int64_t)(max_s * 1e6);
	for (; started < conns; started++)
		if (pthread_create(&th[started], NULL, txn_worker, &sh) != 0)
			break;
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	free(th);
	res->rows = atomic_load(&sh.done);
	res->elapsed_s = (util_mono_us() - t0) / 1e6;
	res->rows_per_s = res->elapsed_s > 0 ? res->rows / res->elapsed_s : 0;
	if (atomic_load(&sh.failed) || started == 0)
		return util_err_set(err, errlen, UTIL_EIO, "one txn per request: %s",
				    started ? sh.err : "no thread started");
	return 0;
}

int ceiling_pg_outbox_wait(const char *conninfo, double max_s, long long *left, double *waited_s,
			   char *err, size_t errlen)
{
	PGconn *c = pg_open(conninfo, err, errlen);
	int64_t t0 = util_mono_us();
	int rc = 0;

	*left = -1;
	while (c) {
		PGresult *res = PQexec(c, "SELECT count(*) FROM simpul.outbox WHERE sent_at IS NULL");
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			rc = util_err_set(err, errlen, UTIL_EIO, "outbox: %s", PQerrorMessage(c));
			PQclear(res);
			break;
		}
		*left = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		if (*left == 0 || util_mono_us() - t0 > (int64_t)(max_s * 1e6))
			break;
		usleep(100 * 1000);
	}
	*waited_s = (util_mono_us() - t0) / 1e6;
	PQfinish(c);
	return c ? rc : UTIL_EUNAVAIL;
}
