/*
 * cmd_report.c - `simpulctl report republish` and `simpulctl regions
 * context DIR` (see cmd_report.h). Context files are parsed by PostgreSQL
 * itself (COPY ... FORMAT csv, HEADER) into a temporary table, then upserted
 * into simpul.report_region_context in one transaction; running it twice
 * changes nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <util/err.h>

#include "cmd_report.h"
#include "report.h"

static const char sql_temp_pop[] =
	"CREATE TEMPORARY TABLE ctx_pop (kode text, nama text, pria bigint, wanita bigint,"
	" total bigint) ON COMMIT DROP";
static const char sql_temp_area[] =
	"CREATE TEMPORARY TABLE ctx_area (kode text, nama text, luas_km2 numeric) ON COMMIT DROP";
static const char sql_upsert[] =
	"INSERT INTO simpul.report_region_context AS c (code, population, area_km2)"
	" SELECT COALESCE(p.kode, a.kode), p.total, a.luas_km2 FROM pg_temp.ctx_pop p"
	" FULL JOIN pg_temp.ctx_area a ON a.kode = p.kode"
	" ON CONFLICT ON CONSTRAINT report_region_context_pkey DO UPDATE SET"
	" population = EXCLUDED.population, area_km2 = EXCLUDED.area_km2"
	" WHERE (c.population, c.area_km2) IS DISTINCT FROM (EXCLUDED.population, EXCLUDED.area_km2)";

/* Streams the file at path into COPY copy_sql. */
static int copy_file(struct db_conn *c, const char *path, const char *copy_sql)
{
	char buf[65536], err[512];
	FILE *f = fopen(path, "rb");
	size_t n;
	int rc;

	if (!f) {
		fprintf(stderr, "simpulctl: cannot open \"%s\": %s\n", path, strerror(errno));
		return UTIL_EIO;
	}
	rc = db_copy_begin(c, copy_sql, err, sizeof(err));
	while (rc == 0 && (n = fread(buf, 1, sizeof(buf), f)) > 0)
		rc = db_copy_put(c, buf, n, err, sizeof(err));
	if (rc == 0)
		rc = db_copy_end(c, ferror(f) ? "read error" : NULL, NULL, err, sizeof(err));
	else if (db_copy_end(c, "aborted", NULL, NULL, 0) != 0)
		rc = rc ? rc : UTIL_EIO; /* the abort itself reports an error: expected */
	if (rc)
		fprintf(stderr, "simpulctl: %s: %s\n", path, err);
	fclose(f);
	return rc;
}

int simpulctl_cmd_regions_context(const struct simpulctl_ctx *ctx, int argc, char **argv)
{
	char pop[4096], area[4096], err[512];
	PGresult *r = NULL;
	struct db_conn *c;
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: simpulctl regions context DIR"
				" (wilayah-indonesia-2025: wilayah_penduduk.csv, wilayah_luas.csv)\n");
		return SIMPULCTL_USAGE;
	}
	snprintf(pop, sizeof(pop), "%s/wilayah_penduduk.csv", argv[2]);
	snprintf(area, sizeof(area), "%s/wilayah_luas.csv", argv[2]);
	c = simpulctl_db_open(ctx);
	if (!c)
		return SIMPULCTL_FAIL;
	rc = db_begin(c, err, sizeof(err));
	if (rc == 0)
		rc = db_exec(c, sql_temp_pop, 0, NULL, NULL, NULL, err, sizeof(err));
	if (rc == 0)
		rc = db_exec(c, sql_temp_area, 0, NULL, NULL, NULL, err, sizeof(err));
	if (rc == 0)
		rc = copy_file(c, pop, "COPY pg_temp.ctx_pop FROM STDIN (FORMAT csv, HEADER)");
	if (rc == 0)
		rc = copy_file(c, area, "COPY pg_temp.ctx_area FROM STDIN (FORMAT csv, HEADER)");
	if (rc == 0)
		rc = db_exec(c, sql_upsert, 0, NULL, NULL, &r, err, sizeof(err));
	if (rc == 0)
		printf("%lld regions updated\n", (long long)db_affected(r));
	PQclear(r);
	if (rc == 0)
		rc = db_commit(c, err, sizeof(err));
	else
		db_rollback(c, NULL, 0);
	if (rc && *err)
		simpulctl_db_report(c, "regions context", err);
	db_conn_free(c);
	return rc ? SIMPULCTL_FAIL : SIMPULCTL_OK;
}

int simpulctl_cmd_report(const struct simpulctl_ctx *ctx, int argc, char **argv)
{
	char err[512];
	struct db_conn *c;
	int64_t n = 0;
	int rc;

	if (argc != 2 || strcmp(argv[1], "republish") != 0) {
		fprintf(stderr, "usage: simpulctl report republish\n");
		return SIMPULCTL_USAGE;
	}
	c = simpulctl_db_open(ctx);
	if (!c)
		return SIMPULCTL_FAIL;
	rc = report_mark_all_dirty(c, &n, err, sizeof(err));
	if (rc)
		simpulctl_db_report(c, "report republish", err);
	else
		printf("%lld report keys marked; simpul-report re-emits them within a few seconds\n",
		       (long long)n);
	db_conn_free(c);
	return rc ? SIMPULCTL_FAIL : SIMPULCTL_OK;
}
