/*
 * db_internal.h - the inside of struct db_conn, shared by the files of
 * libs/db. Not installed; nothing outside libs/db/src includes it.
 */
#ifndef DB_INTERNAL_H
#define DB_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <db/db.h>

/* A statement registered with db_prepare; re-prepared after a reconnect. */
struct db_stmt {
	struct db_stmt *next;
	char *name;
	char *sql;
	int nparams;
	bool prepared; /* on the current session */
};

struct db_conn {
	PGconn *pg;        /* NULL until the first successful connect attempt */
	char *url;
	char *app_name;
	int connect_timeout_s;
	int64_t statement_timeout_ms;
	_Atomic bool up;
	bool in_tx;        /* between db_begin and db_commit/db_rollback */
	bool tx_lost;      /* the connection died inside that transaction */
	bool in_copy;      /* between db_copy_begin and db_copy_end */
	bool fatal_seen;   /* the server sent FATAL/PANIC outside a query: it is closing */
	int64_t last_attempt_us; /* monotonic time of the last (re)connect */
	char sqlstate[6];
	char constraint[DB_NAME_MAX + 1];
	struct db_stmt *stmts;
};

/* Makes sure the session is usable, reconnecting if due; 0 or UTIL_E*. */
int db__ensure(struct db_conn *c, char *err, size_t errlen);
/* Clears the last SQLSTATE/constraint (start of every call). */
void db__clear_last(struct db_conn *c);
/*
 * Checks r (may be NULL) for success (PGRES_COMMAND_OK, TUPLES_OK or
 * `want` if not PGRES_EMPTY_QUERY), noting a lost connection and the
 * SQLSTATE; maps errors to UTIL_E* with a message. Does not clear r.
 */
int db__check(struct db_conn *c, const PGresult *r, ExecStatusType want, char *err,
	      size_t errlen);
/* Runs a parameterless statement text (may hold several); 0 or UTIL_E*. */
int db__exec_simple(struct db_conn *c, const char *sql, char *err, size_t errlen);
/* True if s is [a-z_][a-z0-9_]* and at most DB_NAME_MAX bytes. */
bool db__name_ok(const char *s);

#endif
