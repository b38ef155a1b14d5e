/*
 * conn.c - the connection: connect, session settings, reconnect after a
 * lost connection (rate-limited), and SQLSTATE to error-code mapping.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"

#include <slog/slog.h>
#include <util/err.h>
#include <util/ids.h>

#define DEFAULT_CONNECT_TIMEOUT_S 5

bool db__name_ok(const char *s)
{
	size_t i;

	if (!s || !s[0] || strlen(s) > DB_NAME_MAX)
		return false;
	if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (i = 1; s[i]; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
			return false;
	}
	return true;
}

void db__clear_last(struct db_conn *c)
{
	c->sqlstate[0] = '\0';
	c->constraint[0] = '\0';
}

const char *db_last_sqlstate(const struct db_conn *c)
{
	return c ? c->sqlstate : "";
}

const char *db_last_constraint(const struct db_conn *c)
{
	return c ? c->constraint : "";
}

bool db_conn_up(const struct db_conn *c)
{
	return c && atomic_load(&c->up);
}

bool db_in_transaction(const struct db_conn *c)
{
	return c && c->in_tx;
}

/* Marks the session lost: not up, and any open transaction is gone. */
static void mark_lost(struct db_conn *c)
{
	if (atomic_exchange(&c->up, false))
		slog_warn("postgresql connection lost", "in_tx=%d", c->in_tx ? 1 : 0);
	if (c->in_tx)
		c->tx_lost = true;
}

static int map_sqlstate(const char *st)
{
	if (!st || strlen(st) != 5)
		return UTIL_EIO;
	if (!strcmp(st, "23505"))
		return UTIL_ECONFLICT;
	/* serialization failure, deadlock: retry the transaction */
	if (!strcmp(st, "40001") || !strcmp(st, "40P01"))
		return UTIL_EUNAVAIL;
	if (!strcmp(st, "23503") || !strcmp(st, "23514") || !strcmp(st, "23502") ||
	    !strncmp(st, "22", 2))
		return UTIL_EINVAL;
	if (!strcmp(st, "57014"))
		return UTIL_ETIMEOUT;
	if (!strncmp(st, "08", 2) || !strncmp(st, "57P0", 4))
		return UTIL_EUNAVAIL;
	return UTIL_EIO;
}

/* Copies src into dst[cap] without any trailing newline. */
static void copy_trim(char *dst, size_t cap, const char *src)
{
	size_t n;

	snprintf(dst, cap, "%s", src ? src : "");
	n = strlen(dst);
	while (n > 0 && (dst[n - 1] == '\n' || dst[n - 1] == '\r'))
		dst[--n] = '\0';
}

int db__check(struct db_conn *c, const PGresult *r, ExecStatusType want, char *err,
	      size_t errlen)
{
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	char msg[512];
	const char *state, *cons;
	int code;

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == want)
		return UTIL_OK;
	state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	cons = r ? PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME) : NULL;
	copy_trim(c->sqlstate, sizeof c->sqlstate, state);
	copy_trim(c->constraint, sizeof c->constraint, cons);
	if (r && PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY))
		copy_trim(msg, sizeof msg, PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
	else if (r && st != PGRES_FATAL_ERROR && st != PGRES_NONFATAL_ERROR)
		snprintf(msg, sizeof msg, "unexpected result status %s", PQresStatus(st));
	else
		copy_trim(msg, sizeof msg, PQerrorMessage(c->pg));
	code = map_sqlstate(state);
	if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
		mark_lost(c);
		code = UTIL_EUNAVAIL;
	}
	if (c->constraint[0])
		return util_err_set(err, errlen, code, "postgresql: %s (sqlstate %s, constraint %s)",
				    msg, c->sqlstate, c->constraint);
	if (c->sqlstate[0])
		return util_err_set(err, errlen, code, "postgresql: %s (sqlstate %s)", msg,
				    c->sqlstate);
	return util_err_set(err, errlen, code, "postgresql: %s", msg);
}

int db__exec_simple(struct db_conn *c, const char *sql, char *err, size_t errlen)
{
	PGresult *r = PQexec(c->pg, sql);
	int rc = db__check(c, r, PGRES_COMMAND_OK, err, errlen);

	PQclear(r);
	return rc;
}

/* Applies the per-session settings after every (re)connect. */
static int session_setup(struct db_conn *c, char *err, size_t errlen)
{
	char timeout[32];
	const char *vals[1] = {timeout};
	PGresult *r;
	int rc;

	r = PQexec(c->pg, "SELECT pg_catalog.set_config('search_path', '', false)");
	rc = db__check(c, r, PGRES_TUPLES_OK, err, errlen);
	PQclear(r);
	if (rc)
		return rc;
	snprintf(timeout, sizeof timeout, "%lld", (long long)c->statement_timeout_ms);
	r = PQexecParams(c->pg, "SELECT pg_catalog.set_config('statement_timeout', $1, false)", 1,
			 NULL, vals, NULL, NULL, 0);
	rc = db__check(c, r, PGRES_TUPLES_OK, err, errlen);
	PQclear(r);
	return rc;
}

static PGconn *open_pg(const struct db_conn *c)
{
	char timeout[16];
	const char *keys[] = {"dbname",	    "connect_timeout", "application_name", "keepalives",
			      "keepalives_idle", "keepalives_interval", "keepalives_count", NULL};
	const char *vals[] = {c->url, timeout, c->app_name, "1", "30", "10", "3", NULL};

	snprintf(timeout, sizeof timeout, "%d", c->connect_timeout_s);
	return PQconnectdbParams(keys, vals, 1);
}

/*
 * Server notices (e.g. "schema already exists, skipping") go to slog. An
 * error the server sends while no query runs (libpq hands it here) is the
 * FATAL of a terminating session: noted, so the session is replaced before
 * its next statement even if the EOF behind it has not arrived yet.
 */
static void on_notice(void *arg, const PGresult *res)
{
	struct db_conn *c = arg;
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	char msg[512], q[600];

	if (sev && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0))
		c->fatal_seen = true;
	if (!slog_enabled(SLOG_DEBUG))
		return;
	copy_trim(msg, sizeof msg, PQresultErrorMessage(res));
	slog_debug("postgresql notice", "text=%s", slog_quote(q, sizeof q, msg));
}

/* One connect or reset attempt; the caller has checked the rate limit. */
static int reconnect(struct db_conn *c, char *err, size_t errlen)
{
	struct db_stmt *s;
	bool first = c->pg == NULL;
	int rc;

	c->last_attempt_us = util_mono_us();
	c->fatal_seen = false;
	if (first) {
		c->pg = open_pg(c);
		if (c->pg)
			PQsetNoticeReceiver(c->pg, on_notice, c);
	} else {
		PQreset(c->pg);
	}
	if (!c->pg)
		return util_err_set(err, errlen, UTIL_ENOMEM, "postgresql: out of memory");
	/* A new session: nothing is prepared on it, whatever happens next. */
	for (s = c->stmts; s; s = s->next)
		s->prepared = false;
	if (PQstatus(c->pg) != CONNECTION_OK) {
		char msg[512];
		copy_trim(msg, sizeof msg, PQerrorMessage(c->pg));
		return util_err_set(err, errlen, UTIL_EUNAVAIL, "postgresql unavailable: %s", msg);
	}
	rc = session_setup(c, err, errlen);
	if (rc) {
		/* Never use a session without its settings (search_path,
		 * statement_timeout): drop it, the next call connects anew. */
		PQfinish(c->pg);
		c->pg = NULL;
		atomic_store(&c->up, false);
		return UTIL_EUNAVAIL;
	}
	atomic_store(&c->up, true);
	if (!first)
		slog_info("postgresql reconnected", NULL);
	return UTIL_OK;
}

/*
 * True if the server has closed an idle session: its socket is readable
 * while no query is in flight, and reading it ends in EOF (a PostgreSQL
 * restart or pg_terminate_backend sends a FATAL message and closes), or
 * that FATAL alone has arrived (on_notice). Polls with no wait; other
 * asynchronous notices read on the way are processed as usual. A peer that vanished without closing is only found by the next
 * statement, as before.
 */
static bool closed_by_server(struct db_conn *c)
{
	struct pollfd p = {.fd = PQsocket(c->pg), .events = POLLIN};

	if (p.fd < 0)
		return true;
	/* A read that returns data (the FATAL message) does not look further:
	 * the EOF behind it shows on the next one. Bounded: an idle session
	 * receives at most a few notices. */
	for (int i = 0; i < 8 && !c->fatal_seen && poll(&p, 1, 0) > 0; i++) {
		if (!PQconsumeInput(c->pg) || PQstatus(c->pg) != CONNECTION_OK)
			return true;
		(void)PQisBusy(c->pg); /* parses what was read: a FATAL reaches on_notice */
	}
	return c->fatal_seen;
}

int db__ensure(struct db_conn *c, char *err, size_t errlen)
{
	bool was_up;

	db__clear_last(c);
	if (c->in_copy)
		return util_err_set(err, errlen, UTIL_EINTERNAL, "db: a copy is in progress");
	if (c->tx_lost)
		return util_err_set(err, errlen, UTIL_EUNAVAIL,
				    "postgresql connection lost inside a transaction; roll back");
	if (c->pg && PQstatus(c->pg) == CONNECTION_OK && !closed_by_server(c))
		return UTIL_OK;
	was_up = atomic_exchange(&c->up, false);
	if (was_up)
		slog_warn("postgresql connection closed by the server", "in_tx=%d",
			  c->in_tx ? 1 : 0);
	if (c->in_tx) {
		c->tx_lost = true;
		return util_err_set(err, errlen, UTIL_EUNAVAIL,
				    "postgresql connection lost inside a transaction; roll back");
	}
	/* The first attempt after a working session died is immediate (a pool
	 * connection cut by a server restart is replaced before its statement,
	 * not answered with an error); attempts while down are rate-limited. */
	if (!was_up && c->last_attempt_us &&
	    util_mono_us() - c->last_attempt_us < (int64_t)DB_RECONNECT_MIN_MS * 1000)
		return util_err_set(err, errlen, UTIL_EUNAVAIL,
				    "postgresql unavailable (next reconnect attempt pending)");
	return reconnect(c, err, errlen);
}

struct db_conn *db_conn_new(const char *url, char *err, size_t errlen)
{
	return db_conn_new_opts(url, NULL, err, errlen);
}

struct db_conn *db_conn_new_opts(const char *url, const struct db_conn_opts *opts, char *err,
				 size_t errlen)
{
	struct db_conn *c = NULL;
	const char *app = opts && opts->application_name ? opts->application_name : "simpul";
	int rc;

	if (!url || !url[0]) {
		util_err_set(err, errlen, UTIL_EINVAL, "db: empty connection url");
		return NULL;
	}
	if (opts && opts->statement_timeout_ms < 0) {
		util_err_set(err, errlen, UTIL_EINVAL, "db: negative statement timeout");
		return NULL;
	}
	c = calloc(1, sizeof *c);
	if (!c || !(c->url = strdup(url)) || !(c->app_name = strdup(app)))
		goto nomem;
	c->connect_timeout_s = opts && opts->connect_timeout_s > 0 ? opts->connect_timeout_s
								  : DEFAULT_CONNECT_TIMEOUT_S;
	c->statement_timeout_ms = opts ? opts->statement_timeout_ms : 0;
	atomic_init(&c->up, false);
	rc = reconnect(c, err, errlen);
	if (rc && !(opts && opts->allow_down && rc == UTIL_EUNAVAIL)) {
		db_conn_free(c);
		return NULL;
	}
	return c;
nomem:
	db_conn_free(c);
	util_err_set(err, errlen, UTIL_ENOMEM, "db: out of memory");
	return NULL;
}

void db_conn_free(struct db_conn *c)
{
	struct db_stmt *s, *next;

	if (!c)
		return;
	for (s = c->stmts; s; s = next) {
		next = s->next;
		free(s->name);
		free(s->sql);
		free(s);
	}
	if (c->pg)
		PQfinish(c->pg);
	free(c->url);
	free(c->app_name);
	free(c);
}

/* One round trip; a connection found dead is retried once at once, so the
 * answer reflects the server rather than the stale session. */
int db_ping(struct db_conn *c, char *err, size_t errlen)
{
	int rc = db__ensure(c, err, errlen);

	if (rc)
		return rc;
	rc = db__exec_simple(c, "SELECT 1", err, errlen);
	if (rc == UTIL_EUNAVAIL && !c->in_tx) {
		rc = db__ensure(c, err, errlen);
		if (!rc)
			rc = db__exec_simple(c, "SELECT 1", err, errlen);
	}
	return rc;
}
