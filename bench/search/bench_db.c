/*
 * bench/search/bench_db.c - the benchmark's own database on the dev
 * PostgreSQL: created when missing (CREATE DATABASE needs the CREATEDB
 * right), migrated with libs/schema like any Simpul database, so the 1M
 * corpus never touches the dev stack's simpul.search_docs.
 */
#include <stdio.h>
#include <string.h>

#include "db/db.h"
#include "schema/schema.h"
#include "search_bench.h"
#include "util/err.h"

/* url with its database name (the path after the authority) replaced by db. */
static int url_with_db(const char *url, const char *db, char *out, size_t outlen)
{
	const char *auth = strstr(url, "://"), *slash, *query;

	if (!auth)
		return UTIL_EINVAL;
	slash = strchr(auth + 3, '/');
	query = strchr(auth + 3, '?');
	if (!slash || (query && query < slash))
		slash = query ? query : url + strlen(url);
	if (snprintf(out, outlen, "%.*s/%s%s", (int)(slash - url), url, db, query ? query : "") >=
	    (int)outlen)
		return UTIL_EINVAL;
	return 0;
}

int bench_db_open(const char *pg_url, const char *db, char *out, size_t outlen, char *err,
		  size_t errlen)
{
	struct db_conn_opts o = {.application_name = "search-bench"};
	const char *vals[] = {db};
	struct db_conn *c;
	PGresult *res = NULL;
	char sql[160];
	int rc;

	if (strspn(db, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(db) || !db[0])
		return util_err_set(err, errlen, UTIL_EINVAL, "bad database name \"%s\"", db);
	rc = url_with_db(pg_url, db, out, outlen);
	if (rc != 0)
		return util_err_set(err, errlen, rc, "cannot derive a url from SIMPUL_PG_URL");
	c = db_conn_new_opts(pg_url, &o, err, errlen);
	if (!c)
		return UTIL_EUNAVAIL;
	rc = db_exec(c, "SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", 1, vals, NULL,
		     &res, err, errlen);
	if (rc == 0 && PQntuples(res) == 0) {
		snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
		rc = db_exec(c, sql, 0, NULL, NULL, NULL, err, errlen);
	}
	PQclear(res);
	db_conn_free(c);
	return rc ? rc : schema_apply(out, err, errlen);
}
