/*
 * ts_pg.c - PostgreSQL for the tests: connect with an empty search_path,
 * parameterised queries, single counts.
 */
#include "ts/ts.h"

#include <stdio.h>
#include <stdlib.h>

#include <util/err.h>

PGconn *ts_pg_connect(const char *url, char *err, size_t errlen)
{
	PGconn *c = PQconnectdb(url);
	PGresult *res;

	if (PQstatus(c) != CONNECTION_OK) {
		util_err_set(err, errlen, UTIL_EUNAVAIL, "postgresql '%s': %s", url,
			     PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	res = PQexec(c, "SELECT pg_catalog.set_config('search_path', '', false)");
	PQclear(res);
	return c;
}

PGresult *ts_pg_query(PGconn *c, const char *sql, int nparams, const char *const *params,
		      char *err, size_t errlen)
{
	PGresult *res = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);

	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
		return res;
	util_err_set(err, errlen, UTIL_EIO, "query failed: %s (%.200s)", PQerrorMessage(c), sql);
	PQclear(res);
	return NULL;
}

long long ts_pg_count(PGconn *c, const char *sql, int nparams, const char *const *params)
{
	char err[512];
	PGresult *res = ts_pg_query(c, sql, nparams, params, err, sizeof(err));
	long long v = -1;

	if (!res) {
		fprintf(stderr, "ts_pg_count: %s\n", err);
		return -1;
	}
	if (PQntuples(res) == 1 && PQnfields(res) == 1 && !PQgetisnull(res, 0, 0))
		v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return v;
}
