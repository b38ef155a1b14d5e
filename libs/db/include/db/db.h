/*
 * db/db.h - PostgreSQL access through libpq: one connection, parameterised
 * statements, transactions with savepoints, COPY, and a migration runner.
 *
 * A struct db_conn wraps one PGconn and is used by ONE thread at a time
 * (db_conn_up() excepted). Every table lives in schema `simpul` and the
 * session's search_path is empty, so SQL must schema-qualify every name
 * ("simpul.content", "pg_catalog.now()" is not needed for built-ins).
 *
 * Errors: actions return 0 or a negative UTIL_E* code (util/err.h) and write
 * a lowercase message into the caller's err[errlen]. Server errors map by
 * SQLSTATE:
 *   23505 unique_violation                      -> UTIL_ECONFLICT
 *   23503 foreign key, 23514 check, 23502 not
 *         null, 22xxx data exceptions            -> UTIL_EINVAL
 *   57014 query_canceled (statement_timeout)    -> UTIL_ETIMEOUT
 *   08xxx, 57P01..57P05, lost connection         -> UTIL_EUNAVAIL
 *   40001 serialization, 40P01 deadlock         -> UTIL_EUNAVAIL (retryable:
 *         roll back and run the whole transaction again; the session
 *         stays up, db_conn_up() remains true)
 *   anything else                               -> UTIL_EIO
 * So UTIL_ECONFLICT always means a unique violation (check
 * db_last_constraint() for which one).
 * db_last_sqlstate()/db_last_constraint() tell the field-level detail.
 *
 * Lost connections: when a call fails and the connection is bad, it returns
 * UTIL_EUNAVAIL. The next call (any of them) tries PQreset, at most once per
 * DB_RECONNECT_MIN_MS, re-applies the session settings and re-prepares
 * statements lazily; until it succeeds calls return UTIL_EUNAVAIL at once.
 * A session whose settings cannot be applied is closed, never used: calls
 * keep returning UTIL_EUNAVAIL (and retry the connect) meanwhile.
 * Before each call an idle session is checked without a round trip (one
 * poll of its socket): if the server closed it (a restart, a terminated
 * backend), the call reconnects first, at once, and runs on the new
 * session, so a pooled connection cut while idle costs no error. Inside a
 * transaction the same discovery means the transaction is lost (below).
 * If the connection was lost inside a transaction (after db_begin), every
 * call except db_rollback returns UTIL_EUNAVAIL until the caller calls
 * db_rollback (which then returns 0): statements meant for the lost
 * transaction never run in autocommit on a fresh session. A db_commit that
 * fails with UTIL_EUNAVAIL has an unknown outcome (the COMMIT may have
 * reached the server): callers make their writes idempotent.
 */
#ifndef DB_DB_H
#define DB_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#define DB_RECONNECT_MIN_MS 500
#define DB_NAME_MAX 63      /* longest prepared-statement / savepoint name */

struct db_conn;

struct db_conn_opts {
	const char *application_name; /* default "simpul" */
	int connect_timeout_s;        /* default 5 (0 = default) */
	int64_t statement_timeout_ms; /* 0 = server default (none) */
	/*
	 * true: db_conn_new_opts returns a connection object even if the first
	 * connect fails (calls return UTIL_EUNAVAIL and retry as above), so a
	 * service can start and report not-ready while PostgreSQL is down.
	 * false (default): db_conn_new_opts returns NULL if it cannot connect.
	 */
	bool allow_down;
};

/*
 * Connects to url (a libpq URI or conninfo string, e.g.
 * "postgresql://simpul@127.0.0.1:55432/simpul") with the default options.
 * Returns a heap object (free with db_conn_free) or NULL with err set.
 */
__attribute__((warn_unused_result)) struct db_conn *db_conn_new(const char *url, char *err,
								size_t errlen);
/* Same with options (opts may be NULL = defaults). url is copied. */
__attribute__((warn_unused_result)) struct db_conn *
db_conn_new_opts(const char *url, const struct db_conn_opts *opts, char *err, size_t errlen);
/* Closes the connection and frees everything; NULL is fine. */
void db_conn_free(struct db_conn *c);

/*
 * True if the last operation left the connection usable. Reads a cached
 * atomic flag: safe to call from any thread (for /readyz), does no I/O.
 */
bool db_conn_up(const struct db_conn *c);
/* Round trip "SELECT 1" (reconnecting if due); 0 or UTIL_EUNAVAIL/... */
__attribute__((warn_unused_result)) int db_ping(struct db_conn *c, char *err, size_t errlen);

/*
 * SQLSTATE ("23505") and constraint name of the last failed call, "" when
 * none / not a server error. Valid until the next call on c.
 */
const char *db_last_sqlstate(const struct db_conn *c);
const char *db_last_constraint(const struct db_conn *c);

/*
 * Runs one parameterised statement: sql uses $1..$n placeholders, vals[i]
 * is the i-th parameter (NULL = SQL NULL). lens == NULL: every value is
 * text (NUL-terminated). Otherwise lens[i] < 0 means vals[i] is text and
 * lens[i] >= 0 means vals[i] is sent in binary format with that many bytes
 * (use it for bytea: raw bytes, no escaping). Results are in text format.
 * res == NULL discards the result; otherwise *res receives a PGresult the
 * caller must PQclear (NULL on error). Values are never interpolated into
 * SQL text, so metacharacters are stored exactly as given.
 * Returns 0 (command ok or tuples ok) or a mapped error (see top).
 */
__attribute__((warn_unused_result)) int db_exec(struct db_conn *c, const char *sql, int n,
						const char *const *vals, const int *lens,
						PGresult **res, char *err, size_t errlen);

/*
 * Registers a named prepared statement (name: [a-z_][a-z0-9_]*, at most
 * DB_NAME_MAX) and prepares it now. The registration survives reconnects
 * (re-prepared on first use after one). Registering a name twice with the
 * same SQL is a no-op; with different SQL it is UTIL_ECONFLICT. If the
 * server is unavailable it returns UTIL_EUNAVAIL but keeps the registration
 * (prepared on first use); an SQL error drops it and returns the error.
 */
__attribute__((warn_unused_result)) int db_prepare(struct db_conn *c, const char *name,
						   const char *sql, int n, char *err,
						   size_t errlen);
/* Executes a statement registered by db_prepare; arguments as db_exec.
 * UTIL_ENOTFOUND if name was never registered. */
__attribute__((warn_unused_result)) int db_exec_prepared(struct db_conn *c, const char *name,
							 int n, const char *const *vals,
							 const int *lens, PGresult **res, char *err,
							 size_t errlen);

/*
 * Transactions. db_begin fails with UTIL_EINTERNAL if one is already open.
 * db_commit always ends the transaction, whatever it returns; committing a
 * transaction in which a statement failed (and was not rolled back to a
 * savepoint) rolls it back and returns UTIL_EIO; UTIL_EUNAVAIL means the
 * outcome is unknown (see top). db_rollback with no open transaction is a
 * no-op returning 0; it also clears the "lost inside a transaction" state
 * and returns 0 when the connection is gone (the server dropped the work).
 */
__attribute__((warn_unused_result)) int db_begin(struct db_conn *c, char *err, size_t errlen);
__attribute__((warn_unused_result)) int db_commit(struct db_conn *c, char *err, size_t errlen);
int db_rollback(struct db_conn *c, char *err, size_t errlen);
/* True between db_begin and db_commit/db_rollback. */
bool db_in_transaction(const struct db_conn *c);

/*
 * Savepoints inside a transaction; name as for db_prepare (it is put into
 * the SQL text, hence the strict check: UTIL_EINVAL otherwise). After a
 * failed statement, db_rollback_to(name) makes the transaction usable again
 * with everything before the savepoint kept.
 */
__attribute__((warn_unused_result)) int db_savepoint(struct db_conn *c, const char *name,
						     char *err, size_t errlen);
__attribute__((warn_unused_result)) int db_rollback_to(struct db_conn *c, const char *name,
						       char *err, size_t errlen);
__attribute__((warn_unused_result)) int db_release(struct db_conn *c, const char *name,
						   char *err, size_t errlen);

/*
 * Result helpers (text results). db_col: column index of name, or -1.
 * db_value: the value at (row, column name), NULL if SQL NULL, the column
 * does not exist or row is out of range; the string belongs to res.
 * db_affected: rows affected by an INSERT/UPDATE/DELETE (PQcmdTuples), 0 if
 * none or not applicable.
 */
int db_col(const PGresult *res, const char *name);
const char *db_value(const PGresult *res, int row, const char *name);
int64_t db_affected(const PGresult *res);

/*
 * Bulk load with COPY ... FROM STDIN. db_copy_begin runs copy_sql (e.g.
 * "COPY pg_temp.x (a, b) FROM STDIN (FORMAT csv)"); db_copy_put sends bytes
 * (any chunking); db_copy_end finishes (abort_reason NULL) or aborts the COPY
 * (abort_reason non-NULL, then returns UTIL_EIO with that reason), and sets
 * *rows (may be NULL) to the rows copied. Errors in the data are reported by
 * db_copy_end with the server's message (it names the line).
 */
__attribute__((warn_unused_result)) int db_copy_begin(struct db_conn *c, const char *copy_sql,
						      char *err, size_t errlen);
__attribute__((warn_unused_result)) int db_copy_put(struct db_conn *c, const void *data,
						    size_t len, char *err, size_t errlen);
__attribute__((warn_unused_result)) int db_copy_end(struct db_conn *c, const char *abort_reason,
						    uint64_t *rows, char *err, size_t errlen);

/* One numbered migration; sql may hold several statements. */
struct db_migration {
	int version;      /* > 0, strictly increasing in a list */
	const char *name; /* e.g. "0001_core" */
	const char *sql;  /* the file's text */
};

/*
 * Applies the pending migrations of list (sorted by version) and records
 * them in simpul.schema_migrations(version, name, checksum, applied_at),
 * creating schema simpul and that table if needed. A session advisory lock
 * serialises concurrent runners (several services starting at once). Each
 * migration runs in its own transaction. Refuses (UTIL_ECONFLICT, nothing
 * applied) if an applied migration's checksum (SHA-256 hex of sql) differs
 * from the list's, or if the list is not strictly increasing (UTIL_EINVAL).
 * Each applied migration is logged (slog info "migration applied").
 */
__attribute__((warn_unused_result)) int db_migrate(struct db_conn *c,
						   const struct db_migration *list, size_t n,
						   char *err, size_t errlen);
/*
 * Same, recording into table (schema-qualified, e.g. "scratch.migs"; the
 * schema is created if missing; both parts [a-z_][a-z0-9_]*), and setting
 * *applied (may be NULL) to how many migrations were applied now. For tests
 * and tools; db_migrate uses "simpul.schema_migrations".
 */
__attribute__((warn_unused_result)) int db_migrate_table(struct db_conn *c, const char *table,
							 const struct db_migration *list,
							 size_t n, size_t *applied, char *err,
							 size_t errlen);

#endif
