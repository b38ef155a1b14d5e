/*
 * exec.c - statements on a db_conn: parameterised execution, the prepared
 * statement registry, transactions and savepoints, result helpers, COPY.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"

#include <util/err.h>

/* Parameter formats from lens (see db_exec); *out NULL when all text. */
static int make_formats(int n, const int *lens, int **out)
{
	int *f;

	*out = NULL;
	if (!lens || n <= 0)
		return UTIL_OK;
	f = malloc((size_t)n * sizeof *f);
	if (!f)
		return UTIL_ENOMEM;
	for (int i = 0; i < n; i++)
		f[i] = lens[i] >= 0 ? 1 : 0;
	*out = f;
	return UTIL_OK;
}

/* A COPY started through db_exec would wedge the session: end it. */
static void end_stray_copy(struct db_conn *c, const PGresult *r)
{
	ExecStatusType st = PQresultStatus(r);
	PGresult *x;
	char *buf;

	if (st == PGRES_COPY_IN) {
		(void)PQputCopyEnd(c->pg, "use db_copy_begin for COPY");
	} else if (st == PGRES_COPY_OUT) {
		while (PQgetCopyData(c->pg, &buf, 0) > 0)
			PQfreemem(buf);
	} else {
		return;
	}
	while ((x = PQgetResult(c->pg)) != NULL)
		PQclear(x);
}

/* Checks r, hands it to *res on success (if wanted), clears it otherwise. */
static int finish(struct db_conn *c, PGresult *r, PGresult **res, char *err, size_t errlen)
{
	int rc = db__check(c, r, PGRES_COMMAND_OK, err, errlen);

	if (rc && r)
		end_stray_copy(c, r);

	if (!rc && res)
		*res = r;
	else
		PQclear(r);
	return rc;
}

static int check_args(int n, const char *const *vals, char *err, size_t errlen)
{
	if (n < 0 || n > 65535 || (n > 0 && !vals))
		return util_err_set(err, errlen, UTIL_EINVAL, "db: bad parameter count %d", n);
	return UTIL_OK;
}

int db_exec(struct db_conn *c, const char *sql, int n, const char *const *vals, const int *lens,
	    PGresult **res, char *err, size_t errlen)
{
	int *formats = NULL;
	PGresult *r;
	int rc;

	if (res)
		*res = NULL;
	rc = check_args(n, vals, err, errlen);
	if (!rc)
		rc = db__ensure(c, err, errlen);
	if (!rc && make_formats(n, lens, &formats))
		rc = util_err_set(err, errlen, UTIL_ENOMEM, "db: out of memory");
	if (rc)
		return rc;
	r = PQexecParams(c->pg, sql, n, NULL, vals, lens, formats, 0);
	free(formats);
	return finish(c, r, res, err, errlen);
}

static struct db_stmt *find_stmt(struct db_conn *c, const char *name)
{
	struct db_stmt *s;

	for (s = c->stmts; s; s = s->next)
		if (!strcmp(s->name, name))
			return s;
	return NULL;
}

static int prepare_now(struct db_conn *c, struct db_stmt *s, char *err, size_t errlen)
{
	PGresult *r = PQprepare(c->pg, s->name, s->sql, s->nparams, NULL);
	int rc = db__check(c, r, PGRES_COMMAND_OK, err, errlen);

	PQclear(r);
	if (!rc)
		s->prepared = true;
	return rc;
}

static void unlink_stmt(struct db_conn *c, struct db_stmt *s)
{
	struct db_stmt **pp;

	for (pp = &c->stmts; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	free(s->name);
	free(s->sql);
	free(s);
}

int db_prepare(struct db_conn *c, const char *name, const char *sql, int n, char *err,
	       size_t errlen)
{
	struct db_stmt *s;
	int rc;

	if (!db__name_ok(name) || !sql || n < 0 || n > 65535)
		return util_err_set(err, errlen, UTIL_EINVAL, "db: bad statement name or sql");
	s = find_stmt(c, name);
	if (s)
		return strcmp(s->sql, sql) ? util_err_set(err, errlen, UTIL_ECONFLICT,
							  "db: statement \"%s\" already registered "
							  "with other sql", name)
					   : UTIL_OK;
	s = calloc(1, sizeof *s);
	if (!s || !(s->name = strdup(name)) || !(s->sql = strdup(sql))) {
		if (s)
			free(s->name);
		free(s);
		return util_err_set(err, errlen, UTIL_ENOMEM, "db: out of memory");
	}
	s->nparams = n;
	s->next = c->stmts;
	c->stmts = s;
	rc = db__ensure(c, err, errlen);
	if (!rc)
		rc = prepare_now(c, s, err, errlen);
	if (rc && rc != UTIL_EUNAVAIL)
		unlink_stmt(c, s);
	return rc;
}

int db_exec_prepared(struct db_conn *c, const char *name, int n, const char *const *vals,
		     const int *lens, PGresult **res, char *err, size_t errlen)
{
	struct db_stmt *s;
	int *formats = NULL;
	PGresult *r;
	int rc;

	if (res)
		*res = NULL;
	s = name ? find_stmt(c, name) : NULL;
	if (!s)
		return util_err_set(err, errlen, UTIL_ENOTFOUND, "db: no statement \"%s\"",
				    name ? name : "");
	rc = check_args(n, vals, err, errlen);
	if (!rc)
		rc = db__ensure(c, err, errlen);
	if (!rc && !s->prepared)
		rc = prepare_now(c, s, err, errlen);
	if (!rc && make_formats(n, lens, &formats))
		rc = util_err_set(err, errlen, UTIL_ENOMEM, "db: out of memory");
	if (rc)
		return rc;
	r = PQexecPrepared(c->pg, s->name, n, vals, lens, formats, 0);
	free(formats);
	return finish(c, r, res, err, errlen);
}

int db_begin(struct db_conn *c, char *err, size_t errlen)
{
	int rc;

	if (c->in_tx)
		return util_err_set(err, errlen, UTIL_EINTERNAL, "db: transaction already open");
	rc = db__ensure(c, err, errlen);
	if (!rc)
		rc = db__exec_simple(c, "BEGIN", err, errlen);
	if (!rc)
		c->in_tx = true;
	return rc;
}

int db_commit(struct db_conn *c, char *err, size_t errlen)
{
	PGresult *r = NULL;
	int rc;

	if (!c->in_tx)
		return util_err_set(err, errlen, UTIL_EINTERNAL, "db: no transaction to commit");
	rc = db__ensure(c, err, errlen);
	if (rc)
		goto out;
	if (PQtransactionStatus(c->pg) == PQTRANS_INERROR) {
		(void)db__exec_simple(c, "ROLLBACK", NULL, 0);
		rc = util_err_set(err, errlen, UTIL_EIO,
				  "db: transaction had a failed statement; rolled back");
		goto out;
	}
	r = PQexec(c->pg, "COMMIT");
	rc = db__check(c, r, PGRES_COMMAND_OK, err, errlen);
	/* A COMMIT of an aborted transaction "succeeds" as ROLLBACK. */
	if (!rc && strcmp(PQcmdStatus(r), "COMMIT") != 0)
		rc = util_err_set(err, errlen, UTIL_EIO, "db: transaction was rolled back");
out:
	PQclear(r);
	c->in_tx = false;
	c->tx_lost = false;
	return rc;
}

int db_rollback(struct db_conn *c, char *err, size_t errlen)
{
	int rc = UTIL_OK;

	db__clear_last(c);
	if (!c->in_tx)
		return UTIL_OK;
	if (!c->tx_lost && c->pg && PQstatus(c->pg) == CONNECTION_OK) {
		rc = db__exec_simple(c, "ROLLBACK", err, errlen);
		/* The server drops the transaction with the session anyway. */
		if (rc == UTIL_EUNAVAIL)
			rc = UTIL_OK;
	}
	c->in_tx = false;
	c->tx_lost = false;
	return rc;
}

/* Runs "<verb> <name>" for the savepoint statements. */
static int savepoint_cmd(struct db_conn *c, const char *verb, const char *name, char *err,
			 size_t errlen)
{
	char sql[DB_NAME_MAX + 40];
	int rc;

	if (!db__name_ok(name))
		return util_err_set(err, errlen, UTIL_EINVAL, "db: bad savepoint name");
	if (!c->in_tx)
		return util_err_set(err, errlen, UTIL_EINTERNAL, "db: savepoint outside a transaction");
	rc = db__ensure(c, err, errlen);
	if (rc)
		return rc;
	snprintf(sql, sizeof sql, "%s %s", verb, name);
	return db__exec_simple(c, sql, err, errlen);
}

int db_savepoint(struct db_conn *c, const char *name, char *err, size_t errlen)
{
	return savepoint_cmd(c, "SAVEPOINT", name, err, errlen);
}

int db_rollback_to(struct db_conn *c, const char *name, char *err, size_t errlen)
{
	return savepoint_cmd(c, "ROLLBACK TO SAVEPOINT", name, err, errlen);
}

int db_release(struct db_conn *c, const char *name, char *err, size_t errlen)
{
	return savepoint_cmd(c, "RELEASE SAVEPOINT", name, err, errlen);
}

int db_col(const PGresult *res, const char *name)
{
	if (!res || !name)
		return -1;
	/* PQfnumber folds unquoted names to lower case; quote to match exactly. */
	char quoted[DB_NAME_MAX + 3];
	if (strlen(name) > DB_NAME_MAX)
		return -1;
	snprintf(quoted, sizeof quoted, "\"%s\"", name);
	return PQfnumber(res, quoted);
}

const char *db_value(const PGresult *res, int row, const char *name)
{
	int col = db_col(res, name);

	if (col < 0 || row < 0 || row >= PQntuples(res) || PQgetisnull(res, row, col))
		return NULL;
	return PQgetvalue(res, row, col);
}

int64_t db_affected(const PGresult *res)
{
	const char *s = res ? PQcmdTuples((PGresult *)res) : "";

	return s && s[0] ? strtoll(s, NULL, 10) : 0;
}

int db_copy_begin(struct db_conn *c, const char *copy_sql, char *err, size_t errlen)
{
	PGresult *r;
	int rc = db__ensure(c, err, errlen);

	if (rc)
		return rc;
	r = PQexec(c->pg, copy_sql);
	rc = db__check(c, r, PGRES_COPY_IN, err, errlen);
	if (!rc && PQresultStatus(r) != PGRES_COPY_IN)
		rc = util_err_set(err, errlen, UTIL_EINVAL, "db: not a COPY FROM STDIN statement");
	PQclear(r);
	if (!rc)
		c->in_copy = true;
	return rc;
}

/*
 * PQputCopyData/End failed: the server's reason (and SQLSTATE) may wait,
 * unparsed, in libpq's input, so report the first error result rather than
 * libpq's generic message. libpq parses that input only once it left the
 * COPY state, hence the CopyDone first (harmless when already out of it).
 * Stops at a COPY state (PQgetResult would return it forever).
 */
static int copy_broken(struct db_conn *c, char *err, size_t errlen)
{
	PGresult *r, *bad = NULL;
	int rc;

	(void)PQputCopyEnd(c->pg, "db: copy failed");
	while ((r = PQgetResult(c->pg)) != NULL) {
		ExecStatusType st = PQresultStatus(r);

		if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
			PQclear(r);
			break;
		}
		if (!bad && st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
			bad = r;
		else
			PQclear(r);
	}
	rc = db__check(c, bad, PGRES_COPY_IN, err, errlen);
	PQclear(bad);
	return rc ? rc : util_err_set(err, errlen, UTIL_EIO, "db: copy failed");
}

int db_copy_put(struct db_conn *c, const void *data, size_t len, char *err, size_t errlen)
{
	if (!c->in_copy)
		return util_err_set(err, errlen, UTIL_EINTERNAL, "db: no copy in progress");
	while (len > 0) {
		int chunk = len > (1u << 20) ? (1 << 20) : (int)len;
		if (PQputCopyData(c->pg, data, chunk) != 1)
			return copy_broken(c, err, errlen);
		data = (const char *)data + chunk;
		len -= (size_t)chunk;
	}
	return UTIL_OK;
}

int db_copy_end(struct db_conn *c, const char *abort_reason, uint64_t *rows, char *err,
		size_t errlen)
{
	PGresult *r;
	int rc = UTIL_OK, first = 1;

	if (rows)
		*rows = 0;
	if (!c->in_copy)
		return util_err_set(err, errlen, UTIL_EINTERNAL, "db: no copy in progress");
	c->in_copy = false;
	if (PQputCopyEnd(c->pg, abort_reason) != 1)
		return copy_broken(c, err, errlen);
	while ((r = PQgetResult(c->pg)) != NULL) {
		if (first) {
			rc = db__check(c, r, PGRES_COMMAND_OK, err, errlen);
			if (!rc && rows)
				*rows = (uint64_t)db_affected(r);
			first = 0;
		}
		PQclear(r);
	}
	if (abort_reason && rc != UTIL_EUNAVAIL)
		rc = util_err_set(err, errlen, UTIL_EIO, "db: copy aborted: %s", abort_reason);
	return rc;
}
