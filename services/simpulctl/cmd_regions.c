/*
 * cmd_regions.c - `simpulctl regions import FILE`: validates the whole
 * region list first (regions_csv.c), then in ONE transaction COPYs it into
 * a temporary table, checks duplicates and parents, and upserts into
 * simpul.regions only the rows that changed. Nothing is written unless the
 * whole file is good; running it twice changes nothing the second time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <util/err.h>
#include <util/ids.h>

#include "regions_csv.h"
#include "simpulctl.h"

#define MAX_SQL_ERRORS 50

static const char sql_temp[] = "CREATE TEMPORARY TABLE region_import ("
			       "line int NOT NULL, code text NOT NULL, name text NOT NULL, "
			       "level smallint NOT NULL, kind text NOT NULL, parent_code text) "
			       "ON COMMIT DROP";

static const char sql_copy[] = "COPY pg_temp.region_import "
			       "(line, code, name, level, kind, parent_code) FROM STDIN";

static const char sql_dups[] =
	"SELECT pg_catalog.min(line) AS line, code || ' (lines ' ||"
	" pg_catalog.string_agg(line::text, ', ' ORDER BY line) || ')' AS value "
	"FROM pg_temp.region_import GROUP BY code HAVING pg_catalog.count(*) > 1 "
	"ORDER BY 1 LIMIT 50";

static const char sql_orphans[] =
	"SELECT i.line, i.parent_code AS value FROM pg_temp.region_import i "
	"WHERE i.parent_code IS NOT NULL "
	"AND NOT EXISTS (SELECT 1 FROM pg_temp.region_import p WHERE p.code = i.parent_code) "
	"AND NOT EXISTS (SELECT 1 FROM simpul.regions r WHERE r.code = i.parent_code) "
	"ORDER BY i.line LIMIT 50";

/* Unchanged rows are filtered out first so a re-run touches nothing; the
 * ON CONFLICT ... WHERE still guards against a concurrent writer. Order by
 * code is not needed for the FKs (checked at statement end) but keeps the
 * heap in code order. */
static const char sql_upsert[] =
	"WITH up AS ("
	" INSERT INTO simpul.regions AS r (code, name, level, kind, parent_code)"
	" SELECT i.code, i.name, i.level, i.kind, i.parent_code FROM pg_temp.region_import i"
	" WHERE NOT EXISTS (SELECT 1 FROM simpul.regions o WHERE o.code = i.code"
	"  AND (o.name, o.kind, o.parent_code) IS NOT DISTINCT FROM"
	"  (i.name, i.kind, i.parent_code))"
	" ORDER BY i.code"
	" ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,"
	"  parent_code = EXCLUDED.parent_code, updated_at = pg_catalog.now()"
	" WHERE (r.name, r.kind, r.parent_code) IS DISTINCT FROM"
	"  (EXCLUDED.name, EXCLUDED.kind, EXCLUDED.parent_code)"
	" RETURNING (r.xmax = 0) AS inserted)"
	"SELECT pg_catalog.count(*) FILTER (WHERE inserted) AS inserted,"
	" pg_catalog.count(*) FILTER (WHERE NOT inserted) AS updated FROM up";

static const char sql_absent[] =
	"SELECT pg_catalog.count(*) AS n FROM simpul.regions r "
	"WHERE NOT EXISTS (SELECT 1 FROM pg_temp.region_import i WHERE i.code = r.code)";

/* Reads the whole file (capped) into *out (caller frees). */
static int read_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	char *data = NULL;
	int rc = SIMPULCTL_FAIL;

	*out = NULL;
	if (!f) {
		fprintf(stderr, "simpulctl: cannot open \"%s\": %s\n", path, strerror(errno));
		return SIMPULCTL_FAIL;
	}
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "simpulctl: \"%s\" is not a regular file\n", path);
		goto out;
	}
	if ((unsigned long long)st.st_size > REGIONS_CSV_MAX_FILE) {
		fprintf(stderr, "simpulctl: \"%s\" is larger than %u bytes\n", path,
			REGIONS_CSV_MAX_FILE);
		goto out;
	}
	data = malloc((size_t)st.st_size + 1);
	if (!data || fread(data, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		fprintf(stderr, "simpulctl: cannot read \"%s\"\n", path);
		free(data);
		goto out;
	}
	data[st.st_size] = '\0';
	*out = data;
	*len = (size_t)st.st_size;
	rc = SIMPULCTL_OK;
out:
	fclose(f);
	return rc;
}

/* Runs a "problem rows" query (columns line, value); prints each row as
 * FILE:LINE: what "value"; *found receives how many. */
static int report_rows(struct db_conn *c, const char *sql, const char *fname, const char *what,
		       int *found)
{
	PGresult *r = NULL;
	char err[512];
	int rc = db_exec(c, sql, 0, NULL, NULL, &r, err, sizeof err);

	*found = 0;
	if (rc) {
		fprintf(stderr, "simpulctl: %s\n", err);
		return rc;
	}
	for (int i = 0; i < PQntuples(r); i++)
		fprintf(stderr, "%s:%s: %s \"%s\"\n", fname, db_value(r, i, "line"), what,
			db_value(r, i, "value"));
	*found = PQntuples(r);
	PQclear(r);
	return UTIL_OK;
}

struct counts {
	long long inserted, updated, absent;
};

/* The database part, inside the caller's transaction. */
static int load(struct db_conn *c, const struct regions_csv *csv, const char *fname,
		struct counts *n)
{
	char err[1024];
	uint64_t copied = 0;
	PGresult *r = NULL;
	int dups = 0, orphans = 0, rc;

	rc = db_exec(c, sql_temp, 0, NULL, NULL, NULL, err, sizeof err);
	if (!rc)
		rc = db_copy_begin(c, sql_copy, err, sizeof err);
	if (!rc) {
		rc = db_copy_put(c, csv->copy.data, csv->copy.len, err, sizeof err);
		int rc2 = db_copy_end(c, rc ? "send failed" : NULL, &copied, err, sizeof err);
		rc = rc ? rc : rc2;
	}
	/* Temporary tables are never auto-analyzed; the joins below need stats. */
	if (!rc)
		rc = db_exec(c, "ANALYZE pg_temp.region_import", 0, NULL, NULL, NULL, err,
			     sizeof err);
	if (!rc)
		rc = report_rows(c, sql_dups, fname, "duplicate region code", &dups);
	if (!rc)
		rc = report_rows(c, sql_orphans, fname, "parent region not found", &orphans);
	if (rc)
		goto fail;
	if (dups || orphans) {
		fprintf(stderr, "simpulctl: %s: bad rows; nothing imported\n", fname);
		return UTIL_EINVAL;
	}
	rc = db_exec(c, sql_upsert, 0, NULL, NULL, &r, err, sizeof err);
	if (rc)
		goto fail;
	n->inserted = strtoll(db_value(r, 0, "inserted"), NULL, 10);
	n->updated = strtoll(db_value(r, 0, "updated"), NULL, 10);
	PQclear(r);
	rc = db_exec(c, sql_absent, 0, NULL, NULL, &r, err, sizeof err);
	if (rc)
		goto fail;
	n->absent = strtoll(db_value(r, 0, "n"), NULL, 10);
	PQclear(r);
	return UTIL_OK;
fail:
	fprintf(stderr, "simpulctl: regions import: %s\n", err);
	return rc;
}

/* Parses and validates; prints the bad lines. */
static int validate(const char *path, const char *data, size_t len, struct regions_csv *csv)
{
	if (regions_csv_parse(csv, data, len, path)) {
		fprintf(stderr, "simpulctl: out of memory parsing \"%s\"\n", path);
		return SIMPULCTL_FAIL;
	}
	if (csv->bad) {
		fputs(csv->errors.data ? csv->errors.data : "", stderr);
		if (csv->bad > REGIONS_CSV_MAX_ERRORS)
			fprintf(stderr, "... and %zu more\n", csv->bad - REGIONS_CSV_MAX_ERRORS);
		fprintf(stderr, "simpulctl: %s: %zu bad lines; nothing imported\n", path, csv->bad);
		return SIMPULCTL_FAIL;
	}
	if (!csv->rows) {
		fprintf(stderr, "simpulctl: %s: no rows; nothing imported\n", path);
		return SIMPULCTL_FAIL;
	}
	return SIMPULCTL_OK;
}

static int import(const struct simpulctl_ctx *ctx, const char *path)
{
	struct regions_csv csv;
	struct db_conn *c = NULL;
	struct counts n = {0, 0, 0};
	int64_t t0 = util_mono_us();
	char *data = NULL, err[512] = "";
	size_t len = 0;
	int rc;

	regions_csv_init(&csv);
	rc = read_file(path, &data, &len);
	if (!rc)
		rc = validate(path, data, len, &csv);
	if (!rc && !(c = simpulctl_db_open(ctx)))
		rc = SIMPULCTL_FAIL;
	if (rc)
		goto out;
	if (db_begin(c, err, sizeof err) || load(c, &csv, path, &n) ||
	    db_commit(c, err, sizeof err)) {
		(void)db_rollback(c, NULL, 0);
		if (err[0])
			fprintf(stderr, "simpulctl: regions import: %s\n", err);
		rc = SIMPULCTL_FAIL;
		goto out;
	}
	printf("regions: rows=%zu inserted=%lld updated=%lld unchanged=%lld not_in_file=%lld "
	       "elapsed_ms=%lld\n",
	       csv.rows, n.inserted, n.updated, (long long)csv.rows - n.inserted - n.updated,
	       n.absent, (long long)((util_mono_us() - t0) / 1000));
out:
	db_conn_free(c);
	regions_csv_release(&csv);
	free(data);
	return rc;
}

int simpulctl_cmd_regions(const struct simpulctl_ctx *ctx, int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "import"))
		return import(ctx, argv[2]);
	fprintf(stderr, "usage: simpulctl regions import FILE\n");
	return SIMPULCTL_USAGE;
}
