/*
 * migrate.c - the migration runner: numbered SQL migrations recorded with
 * a checksum in <schema>.schema_migrations, serialised across processes by
 * a session advisory lock, each applied in its own transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"

#include <slog/slog.h>
#include <util/err.h>
#include <util/ids.h>

#define LOCK_CLASS "1397312848" /* 'SIMP': first key of the advisory lock */
#define CHECKSUM_LEN 64

struct applied_row {
	int version;
	char checksum[CHECKSUM_LEN + 1];
};

static void checksum_of(const char *sql, char out[CHECKSUM_LEN + 1])
{
	unsigned char h[32];

	util_sha256(sql, strlen(sql), h);
	util_hex(h, sizeof h, out);
}

/* "schema.table", both parts plain lowercase identifiers; split into parts. */
static bool split_table(const char *table, char *schema, char *name)
{
	const char *dot = table ? strchr(table, '.') : NULL;
	size_t n;

	if (!dot || (n = (size_t)(dot - table)) > DB_NAME_MAX)
		return false;
	memcpy(schema, table, n);
	schema[n] = '\0';
	if (strlen(dot + 1) > DB_NAME_MAX)
		return false;
	strcpy(name, dot + 1);
	return db__name_ok(schema) && db__name_ok(name);
}

static int check_list(const struct db_migration *list, size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		if (list[i].version <= 0 || !list[i].name || !list[i].sql ||
		    (i > 0 && list[i].version <= list[i - 1].version))
			return util_err_set(err, errlen, UTIL_EINVAL,
					    "migrate: list entry %zu is out of order or incomplete",
					    i);
	}
	return UTIL_OK;
}

static int lock_cmd(struct db_conn *c, const char *fn, const char *table, char *err,
		    size_t errlen)
{
	char sql[128];
	const char *vals[1] = {table};

	snprintf(sql, sizeof sql, "SELECT pg_catalog.%s(" LOCK_CLASS ", pg_catalog.hashtext($1))",
		 fn);
	return db_exec(c, sql, 1, vals, NULL, NULL, err, errlen);
}

static int ensure_table(struct db_conn *c, const char *schema, const char *table, char *err,
			size_t errlen)
{
	char sql[512];
	int rc;

	snprintf(sql, sizeof sql, "CREATE SCHEMA IF NOT EXISTS %s", schema);
	rc = db__exec_simple(c, sql, err, errlen);
	if (rc)
		return rc;
	snprintf(sql, sizeof sql,
		 "CREATE TABLE IF NOT EXISTS %s ("
		 "version integer PRIMARY KEY CHECK (version > 0), "
		 "name text NOT NULL, checksum text NOT NULL, "
		 "applied_at timestamptz NOT NULL DEFAULT now())",
		 table);
	return db__exec_simple(c, sql, err, errlen);
}

/* Reads the applied versions into *rows (caller frees), *nrows. */
static int load_applied(struct db_conn *c, const char *table, struct applied_row **rows,
			size_t *nrows, char *err, size_t errlen)
{
	char sql[256];
	PGresult *r = NULL;
	int rc, n;

	*rows = NULL;
	*nrows = 0;
	snprintf(sql, sizeof sql, "SELECT version, checksum FROM %s ORDER BY version", table);
	rc = db_exec(c, sql, 0, NULL, NULL, &r, err, errlen);
	if (rc)
		return rc;
	n = PQntuples(r);
	*rows = calloc((size_t)n + 1, sizeof **rows);
	if (!*rows) {
		rc = util_err_set(err, errlen, UTIL_ENOMEM, "migrate: out of memory");
		goto out;
	}
	for (int i = 0; i < n; i++) {
		(*rows)[i].version = atoi(PQgetvalue(r, i, 0));
		snprintf((*rows)[i].checksum, sizeof(*rows)[i].checksum, "%s", PQgetvalue(r, i, 1));
	}
	*nrows = (size_t)n;
out:
	PQclear(r);
	return rc;
}

static const struct applied_row *find_applied(const struct applied_row *rows, size_t n, int v)
{
	for (size_t i = 0; i < n; i++)
		if (rows[i].version == v)
			return &rows[i];
	return NULL;
}

/* Refuses if any applied migration's text changed; warns about unknown ones. */
static int verify(const struct db_migration *list, size_t n, const struct applied_row *rows,
		  size_t nrows, char *err, size_t errlen)
{
	char sum[CHECKSUM_LEN + 1];

	for (size_t i = 0; i < n; i++) {
		const struct applied_row *a = find_applied(rows, nrows, list[i].version);
		if (!a)
			continue;
		checksum_of(list[i].sql, sum);
		if (strcmp(sum, a->checksum) != 0)
			return util_err_set(err, errlen, UTIL_ECONFLICT,
					    "migrate: applied migration %d (%s) has changed "
					    "(checksum %.12s in database, %.12s now)",
					    list[i].version, list[i].name, a->checksum, sum);
	}
	for (size_t i = 0; i < nrows; i++) {
		bool known = false;
		for (size_t j = 0; j < n && !known; j++)
			known = list[j].version == rows[i].version;
		if (!known)
			slog_warn("migration in database unknown to this binary", "version=%d",
				  rows[i].version);
	}
	return UTIL_OK;
}

static int apply_one(struct db_conn *c, const char *table, const struct db_migration *m,
		     char *err, size_t errlen)
{
	char sql[256], version[16], sum[CHECKSUM_LEN + 1];
	const char *vals[3] = {version, m->name, sum};
	char msg[512];
	int rc;

	snprintf(version, sizeof version, "%d", m->version);
	checksum_of(m->sql, sum);
	snprintf(sql, sizeof sql, "INSERT INTO %s (version, name, checksum) VALUES ($1, $2, $3)",
		 table);
	rc = db_begin(c, err, errlen);
	if (rc)
		return rc;
	rc = db__exec_simple(c, m->sql, msg, sizeof msg);
	if (rc)
		util_err_set(err, errlen, rc, "migrate: %s: %s", m->name, msg);
	else
		rc = db_exec(c, sql, 3, vals, NULL, NULL, err, errlen);
	if (rc) {
		(void)db_rollback(c, NULL, 0);
		return rc;
	}
	rc = db_commit(c, err, errlen);
	if (!rc)
		slog_info("migration applied", "version=%d name=%s", m->version, m->name);
	return rc;
}

int db_migrate_table(struct db_conn *c, const char *table, const struct db_migration *list,
		     size_t n, size_t *applied, char *err, size_t errlen)
{
	char schema[DB_NAME_MAX + 1], name[DB_NAME_MAX + 1];
	struct applied_row *rows = NULL;
	size_t nrows = 0, count = 0;
	bool locked = false;
	int rc;

	if (applied)
		*applied = 0;
	if (!split_table(table, schema, name))
		return util_err_set(err, errlen, UTIL_EINVAL, "migrate: bad table name");
	rc = check_list(list, n, err, errlen);
	if (!rc && c->in_tx)
		rc = util_err_set(err, errlen, UTIL_EINTERNAL, "migrate: inside a transaction");
	if (!rc)
		rc = lock_cmd(c, "pg_advisory_lock", table, err, errlen);
	if (rc)
		goto out;
	locked = true;
	rc = ensure_table(c, schema, table, err, errlen);
	if (!rc)
		rc = load_applied(c, table, &rows, &nrows, err, errlen);
	if (!rc)
		rc = verify(list, n, rows, nrows, err, errlen);
	for (size_t i = 0; !rc && i < n; i++) {
		if (find_applied(rows, nrows, list[i].version))
			continue;
		rc = apply_one(c, table, &list[i], err, errlen);
		if (!rc)
			count++;
	}
out:
	if (locked)
		(void)lock_cmd(c, "pg_advisory_unlock", table, NULL, 0);
	free(rows);
	if (applied)
		*applied = count;
	return rc;
}

int db_migrate(struct db_conn *c, const struct db_migration *list, size_t n, char *err,
	       size_t errlen)
{
	return db_migrate_table(c, "simpul.schema_migrations", list, n, NULL, err, errlen);
}
