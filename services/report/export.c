/*
 * services/report/export.c - exports of the aggregate cells as CSV or
 * NDJSON, of any size, never held in memory: COPY (SELECT ...) TO STDOUT on
 * a dedicated libpq connection, read row by row (PQgetCopyData) straight
 * into the HTTP stream's buffer, or into a file for background jobs.
 *
 * Background jobs: POST /v1/reports/exports queues a row in
 * simpul.report_exports; the worker here claims queued rows (FOR UPDATE
 * SKIP LOCKED, so several instances share the work), writes
 * <export_dir>/<id>.<csv|ndjson> (via a .part file renamed when complete)
 * and marks the job ready (rows, bytes) or failed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "db/db.h"
#include "report.h"
#include "slog/slog.h"
#include "util/err.h"

struct report_export_stream {
	PGconn *conn;
	char *row;    /* current row from PQgetCopyData (PQfreemem) */
	int row_len;
	int row_off;
	bool done;
	int64_t rows;
};

char *report_export_sql(const char *region, const struct report_range *r, enum report_format f)
{
	static const char cols[] = "region_code, day, type, submitted, approved, rejected,"
				   " pending, decided, decision_ms_sum";
	static const char json[] =
		"pg_catalog.json_build_object('region_code', region_code, 'day', day, 'type',"
		" type, 'submitted', submitted, 'approved', approved, 'rejected', rejected,"
		" 'pending', pending, 'decided', decided, 'decision_ms_sum', decision_ms_sum)::text";
	char *sql = NULL;
	int n;

	/* region and dates were validated (digits, dots, dashes): safe as literals */
	if (!report_region_valid(region))
		return NULL;
	n = asprintf(&sql,
		     "COPY (SELECT %s FROM simpul.report_cells"
		     " WHERE gen = (SELECT current_gen FROM simpul.report_state)"
		     " AND day BETWEEN DATE '%s' AND DATE '%s'"
		     " AND ('%s' = '' OR region_code = '%s' OR region_code LIKE '%s.%%')"
		     " ORDER BY region_code, day, type) TO STDOUT%s",
		     f == REPORT_CSV ? cols : json, r->from, r->to, region, region, region,
		     f == REPORT_CSV ? " (FORMAT csv, HEADER)" : "");
	return n < 0 ? NULL : sql;
}

struct report_export_stream *report_export_open(const char *pg_url, const char *region,
						const struct report_range *r, enum report_format f,
						char *err, size_t errlen)
{
	struct report_export_stream *s = calloc(1, sizeof(*s));
	char *sql = report_export_sql(region, r, f);
	PGresult *res = NULL;

	if (!s || !sql) {
		util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
		goto fail;
	}
	s->conn = PQconnectdb(pg_url);
	if (PQstatus(s->conn) != CONNECTION_OK) {
		util_err_set(err, errlen, UTIL_EUNAVAIL, "database unavailable");
		goto fail;
	}
	res = PQexec(s->conn, "SET search_path = ''; SET application_name = 'simpul-report-export'");
	PQclear(res);
	res = PQexec(s->conn, sql);
	if (PQresultStatus(res) != PGRES_COPY_OUT) {
		util_err_set(err, errlen, UTIL_EIO, "export query failed: %s",
			     PQerrorMessage(s->conn));
		goto fail;
	}
	PQclear(res);
	free(sql);
	return s;
fail:
	PQclear(res);
	free(sql);
	report_export_close(s);
	return NULL;
}

/* Fetches the next row; false at the end (or on error, s->done set). */
static bool next_row(struct report_export_stream *s, bool *failed)
{
	PGresult *res;

	if (s->row)
		PQfreemem(s->row);
	s->row = NULL;
	s->row_off = 0;
	s->row_len = PQgetCopyData(s->conn, &s->row, 0);
	if (s->row_len > 0) {
		s->rows++;
		return true;
	}
	s->done = true;
	res = PQgetResult(s->conn);
	*failed = s->row_len == -2 || PQresultStatus(res) != PGRES_COMMAND_OK;
	PQclear(res);
	while ((res = PQgetResult(s->conn)))
		PQclear(res);
	if (*failed)
		slog_warn("export failed", "err=\"%s\"", PQerrorMessage(s->conn));
	return false;
}

ssize_t report_export_read(void *ud, char *buf, size_t max)
{
	struct report_export_stream *s = ud;
	size_t n = 0;
	bool failed = false;

	while (n < max) {
		size_t take;

		if (!s->row || s->row_off >= s->row_len) {
			if (s->done || !next_row(s, &failed))
				break;
		}
		take = (size_t)(s->row_len - s->row_off);
		if (take > max - n)
			take = max - n;
		memcpy(buf + n, s->row + s->row_off, take);
		s->row_off += (int)take;
		n += take;
	}
	if (failed)
		return -1;
	return (ssize_t)n;
}

void report_export_close(void *ud)
{
	struct report_export_stream *s = ud;

	if (!s)
		return;
	if (s->row)
		PQfreemem(s->row);
	if (s->conn)
		PQfinish(s->conn); /* an unfinished COPY is abandoned with the connection */
	free(s);
}

/* ---- background jobs ---- */

struct report_jobs {
	const struct report_config *cfg;
	struct db_conn *db;
	pthread_t thread;
	bool started, stopping, wake;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

static const char sql_claim[] =
	"UPDATE simpul.report_exports SET status = 'running' WHERE id = (SELECT id FROM"
	" simpul.report_exports WHERE status = 'queued' ORDER BY created_at LIMIT 1"
	" FOR UPDATE SKIP LOCKED) RETURNING id::text AS id, region_code, format,"
	" day_from::text AS day_from, day_to::text AS day_to";
static const char sql_done[] =
	"UPDATE simpul.report_exports SET status = $2, path = $3, rows = $4::bigint,"
	" bytes = $5::bigint, error = $6, finished_at = pg_catalog.now() WHERE id = $1::uuid";

/* Writes the export into path; *rows and *bytes on success. */
static int write_file(struct report_jobs *j, const char *region, const struct report_range *r,
		      enum report_format f, const char *path, int64_t *rows, int64_t *bytes,
		      char *err, size_t errlen)
{
	struct report_export_stream *s = report_export_open(j->cfg->pg_url, region, r, f, err,
							    errlen);
	FILE *out = NULL;
	char buf[65536];
	ssize_t n;
	int rc = 0;

	if (!s)
		return UTIL_EIO;
	out = fopen(path, "wb");
	if (!out) {
		rc = util_err_set(err, errlen, UTIL_EIO, "cannot create \"%s\": %s", path,
				  strerror(errno));
		goto out;
	}
	*bytes = 0;
	while ((n = report_export_read(s, buf, sizeof(buf))) > 0) {
		if (fwrite(buf, 1, (size_t)n, out) != (size_t)n) {
			rc = util_err_set(err, errlen, UTIL_EIO, "write failed");
			goto out;
		}
		*bytes += n;
	}
	if (n < 0)
		rc = util_err_set(err, errlen, UTIL_EIO, "export query failed");
	*rows = s->rows - (f == REPORT_CSV ? 1 : 0); /* header line */
out:
	if (out && fclose(out) != 0 && rc == 0)
		rc = util_err_set(err, errlen, UTIL_EIO, "close failed");
	report_export_close(s);
	return rc;
}

static void run_job(struct report_jobs *j, const PGresult *job)
{
	const char *id = db_value(job, 0, "id"), *fmt = db_value(job, 0, "format");
	struct report_range r;
	enum report_format f = !strcmp(fmt, "csv") ? REPORT_CSV : REPORT_NDJSON;
	char path[1200], part[1210], err[512] = "", nrows[24] = "0", nbytes[24] = "0";
	int64_t rows = 0, bytes = 0;
	const char *v[6] = {id, "ready", path, nrows, nbytes, NULL};
	int rc;

	snprintf(r.from, sizeof(r.from), "%s", db_value(job, 0, "day_from"));
	snprintf(r.to, sizeof(r.to), "%s", db_value(job, 0, "day_to"));
	snprintf(path, sizeof(path), "%s/%s.%s", j->cfg->export_dir, id, fmt);
	snprintf(part, sizeof(part), "%s.part", path);
	mkdir(j->cfg->export_dir, 0750);
	rc = write_file(j, db_value(job, 0, "region_code"), &r, f, part, &rows, &bytes, err,
			sizeof(err));
	if (rc == 0 && rename(part, path) != 0)
		rc = util_err_set(err, sizeof(err), UTIL_EIO, "rename failed");
	if (rc) {
		unlink(part);
		v[1] = "failed";
		v[2] = NULL;
		v[5] = err;
	}
	snprintf(nrows, sizeof(nrows), "%lld", (long long)rows);
	snprintf(nbytes, sizeof(nbytes), "%lld", (long long)bytes);
	if (db_exec(j->db, sql_done, 6, v, NULL, NULL, err, sizeof(err)) != 0)
		slog_warn("export job update failed", "id=%s err=\"%s\"", id, err);
	/* the requester is told through the job's status (GET /v1/reports/exports/{id}) */
	slog_info("export job finished", "id=%s status=%s rows=%lld bytes=%lld", id, v[1],
		  (long long)rows, (long long)bytes);
}

static void *jobs_main(void *p)
{
	struct report_jobs *j = p;
	char err[512];

	pthread_mutex_lock(&j->mu);
	while (!j->stopping) {
		PGresult *job = NULL;
		struct timespec ts;
		int rc;

		pthread_mutex_unlock(&j->mu);
		rc = db_exec(j->db, sql_claim, 0, NULL, NULL, &job, err, sizeof(err));
		if (rc == 0 && PQntuples(job) == 1)
			run_job(j, job);
		pthread_mutex_lock(&j->mu);
		if (rc == 0 && PQntuples(job) == 1) {
			PQclear(job);
			continue;
		}
		PQclear(job);
		if (!j->wake) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 2;
			pthread_cond_timedwait(&j->cv, &j->mu, &ts);
		}
		j->wake = false;
	}
	pthread_mutex_unlock(&j->mu);
	return NULL;
}

struct report_jobs *report_jobs_new(const struct report_config *cfg, char *err, size_t errlen)
{
	struct db_conn_opts opts = {.application_name = "simpul-report-jobs", .allow_down = true};
	struct report_jobs *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->cfg = cfg;
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	j->db = db_conn_new_opts(cfg->pg_url, &opts, err, errlen);
	if (!j->db) {
		report_jobs_free(j);
		return NULL;
	}
	return j;
}

int report_jobs_start(struct report_jobs *j)
{
	if (pthread_create(&j->thread, NULL, jobs_main, j) != 0)
		return UTIL_EIO;
	j->started = true;
	return 0;
}

void report_jobs_wake(struct report_jobs *j)
{
	pthread_mutex_lock(&j->mu);
	j->wake = true;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
}

void report_jobs_free(struct report_jobs *j)
{
	if (!j)
		return;
	pthread_mutex_lock(&j->mu);
	j->stopping = true;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	if (j->started)
		pthread_join(j->thread, NULL);
	db_conn_free(j->db);
	pthread_cond_destroy(&j->cv);
	pthread_mutex_destroy(&j->mu);
	free(j);
}
