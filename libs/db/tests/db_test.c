/*
 * db_test.c - libs/db against the stack's PostgreSQL (SIMPUL_PG_URL):
 * parameters stored exactly, SQLSTATE mapping, savepoints, reconnect after
 * pg_terminate_backend, COPY, and the migration runner. Everything happens
 * in a scratch schema dropped at the end. Fails if the server is down.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <config/config.h>
#include <db/db.h>
#include <slog/slog.h>
#include <util/err.h>

static char *pg_url;
static char S[64]; /* scratch schema name */
static char err[512];

static struct db_conn *conn(int64_t statement_timeout_ms)
{
	struct db_conn_opts o = {.application_name = "db_test",
				 .statement_timeout_ms = statement_timeout_ms};
	struct db_conn *c = db_conn_new_opts(pg_url, &o, err, sizeof err);

	if (!c)
		fail_msg("connect: %s", err);
	return c;
}

/* Copies fmt into out[cap] with every '@' replaced by the scratch schema. */
static void expand(char *out, size_t cap, const char *fmt)
{
	size_t o = 0;

	for (; *fmt && o + sizeof S < cap; fmt++) {
		if (*fmt == '@') {
			memcpy(out + o, S, strlen(S));
			o += strlen(S);
		} else {
			out[o++] = *fmt;
		}
	}
	out[o] = '\0';
}

/* Runs sql with "@" replaced by the scratch schema; asserts success. */
static void run(struct db_conn *c, const char *fmt)
{
	char sql[1024];

	expand(sql, sizeof sql, fmt);
	if (db_exec(c, sql, 0, NULL, NULL, NULL, err, sizeof err))
		fail_msg("%s: %s", sql, err);
}

static int run_rc(struct db_conn *c, const char *fmt, int n, const char *const *v)
{
	char sql[1024];

	expand(sql, sizeof sql, fmt);
	return db_exec(c, sql, n, v, NULL, NULL, err, sizeof err);
}

static int64_t count(struct db_conn *c, const char *fmt)
{
	char sql[1024];
	PGresult *r = NULL;
	int64_t n;

	expand(sql, sizeof sql, fmt);
	if (db_exec(c, sql, 0, NULL, NULL, &r, err, sizeof err))
		fail_msg("%s: %s", sql, err);
	n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return n;
}

static void test_params_stored_exactly(void **state)
{
	struct db_conn *c = conn(0);
	const char *nasty = "Robert'); DROP TABLE x; -- <script>alert(\"1\")</script> \\ $1 %s "
			    "\xe2\x80\x99 ok";
	const char bin[] = {'a', 0, '\'', (char)0xff, '\\'};
	const char *v[2] = {nasty, bin};
	const int lens[2] = {-1, (int)sizeof bin};
	PGresult *r = NULL;
	char sql[256];

	(void)state;
	run(c, "CREATE TABLE @.t (id serial PRIMARY KEY, s text, b bytea)");
	snprintf(sql, sizeof sql, "INSERT INTO %s.t (s, b) VALUES ($1, $2) RETURNING id", S);
	assert_int_equal(db_exec(c, sql, 2, v, lens, &r, err, sizeof err), 0);
	assert_string_equal(db_value(r, 0, "id"), "1");
	PQclear(r);
	snprintf(sql, sizeof sql, "SELECT s, pg_catalog.encode(b, 'hex') AS hex, NULL AS n FROM %s.t",
		 S);
	assert_int_equal(db_exec(c, sql, 0, NULL, NULL, &r, err, sizeof err), 0);
	assert_string_equal(db_value(r, 0, "s"), nasty);
	assert_string_equal(db_value(r, 0, "hex"), "610027ff5c");
	assert_null(db_value(r, 0, "n"));
	assert_null(db_value(r, 0, "missing"));
	assert_null(db_value(r, 1, "s"));
	assert_int_equal(db_col(r, "hex"), 1);
	PQclear(r);
	/* NULL parameter is SQL NULL. */
	v[0] = NULL;
	snprintf(sql, sizeof sql, "UPDATE %s.t SET s = $1", S);
	assert_int_equal(db_exec(c, sql, 1, v, NULL, &r, err, sizeof err), 0);
	assert_int_equal(db_affected(r), 1);
	PQclear(r);
	assert_int_equal(count(c, "SELECT count(*) FROM @.t WHERE s IS NULL"), 1);
	db_conn_free(c);
}

static void test_error_mapping(void **state)
{
	struct db_conn *c = conn(0), *slow = conn(100);
	const char *v[2] = {"dup", "abc"};

	(void)state;
	run(c, "CREATE TABLE @.u (k text CONSTRAINT u_k_key UNIQUE, "
	       "n int CONSTRAINT u_n_positive CHECK (n > 0))");
	run(c, "CREATE TABLE @.child (k text CONSTRAINT child_k_fkey REFERENCES @.u (k))");
	assert_int_equal(run_rc(c, "INSERT INTO @.u VALUES ($1, 1)", 1, v), 0);
	assert_int_equal(run_rc(c, "INSERT INTO @.u VALUES ($1, 1)", 1, v), UTIL_ECONFLICT);
	assert_string_equal(db_last_sqlstate(c), "23505");
	assert_string_equal(db_last_constraint(c), "u_k_key");
	assert_non_null(strstr(err, "u_k_key"));
	assert_int_equal(run_rc(c, "INSERT INTO @.u VALUES ('x', -1)", 0, NULL), UTIL_EINVAL);
	assert_string_equal(db_last_constraint(c), "u_n_positive");
	assert_int_equal(run_rc(c, "INSERT INTO @.child VALUES ('nope')", 0, NULL), UTIL_EINVAL);
	assert_string_equal(db_last_sqlstate(c), "23503");
	assert_int_equal(run_rc(c, "INSERT INTO @.u VALUES ('y', $1::int)", 1, v + 1),
			 UTIL_EINVAL);
	assert_string_equal(db_last_sqlstate(c), "22P02");
	assert_int_equal(run_rc(c, "SELEC 1", 0, NULL), UTIL_EIO);
	assert_string_equal(db_last_sqlstate(c), "42601");
	assert_string_equal(db_last_constraint(c), "");
	/* A success clears the last error. */
	if (run_rc(c, "SELECT 1", 0, NULL) != 0)
		fail_msg("after a second idle cut: %s", err);
	assert_string_equal(db_last_sqlstate(c), "");
	/* statement_timeout: canceled, mapped to ETIMEOUT, connection still fine. */
	assert_int_equal(run_rc(slow, "SELECT pg_catalog.pg_sleep(2)", 0, NULL), UTIL_ETIMEOUT);
	assert_string_equal(db_last_sqlstate(slow), "57014");
	assert_true(db_conn_up(slow));
	/* Empty search_path: an unqualified table is not found. */
	assert_int_equal(count(c, "SELECT (pg_catalog.current_setting('search_path') = '')::int"),
			 1);
	run(c, "CREATE TABLE @.unq (x int)");
	assert_int_equal(run_rc(c, "SELECT * FROM unq", 0, NULL), UTIL_EIO);
	assert_string_equal(db_last_sqlstate(c), "42P01");
	db_conn_free(slow);
	db_conn_free(c);
}

static void test_savepoints(void **state)
{
	struct db_conn *c = conn(0);
	const char *v[1];

	(void)state;
	run(c, "CREATE TABLE @.sp (k text PRIMARY KEY)");
	assert_int_equal(db_begin(c, err, sizeof err), 0);
	assert_true(db_in_transaction(c));
	assert_int_equal(db_begin(c, err, sizeof err), UTIL_EINTERNAL);
	v[0] = "a";
	assert_int_equal(run_rc(c, "INSERT INTO @.sp VALUES ($1)", 1, v), 0);
	for (int i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof name, "item_%d", i);
		assert_int_equal(db_savepoint(c, name, err, sizeof err), 0);
		v[0] = i == 1 ? "a" : (i == 0 ? "b" : "c"); /* item 1 duplicates "a" */
		int rc = run_rc(c, "INSERT INTO @.sp VALUES ($1)", 1, v);
		if (i == 1) {
			assert_int_equal(rc, UTIL_ECONFLICT);
			assert_int_equal(db_rollback_to(c, name, err, sizeof err), 0);
		} else {
			assert_int_equal(rc, 0);
		}
		assert_int_equal(db_release(c, name, err, sizeof err), 0);
	}
	assert_int_equal(db_commit(c, err, sizeof err), 0);
	assert_false(db_in_transaction(c));
	assert_int_equal(count(c, "SELECT count(*) FROM @.sp"), 3);

	/* A failed statement without a savepoint dooms the commit. */
	assert_int_equal(db_begin(c, err, sizeof err), 0);
	v[0] = "d";
	assert_int_equal(run_rc(c, "INSERT INTO @.sp VALUES ($1)", 1, v), 0);
	v[0] = "a";
	assert_int_equal(run_rc(c, "INSERT INTO @.sp VALUES ($1)", 1, v), UTIL_ECONFLICT);
	assert_int_equal(db_commit(c, err, sizeof err), UTIL_EIO);
	assert_false(db_in_transaction(c));
	assert_int_equal(count(c, "SELECT count(*) FROM @.sp"), 3);

	/* Rollback discards. */
	assert_int_equal(db_begin(c, err, sizeof err), 0);
	v[0] = "e";
	assert_int_equal(run_rc(c, "INSERT INTO @.sp VALUES ($1)", 1, v), 0);
	assert_int_equal(db_rollback(c, err, sizeof err), 0);
	assert_int_equal(count(c, "SELECT count(*) FROM @.sp"), 3);
	db_conn_free(c);
}

/* Kills c's backend from a second connection. */
static void kill_backend(struct db_conn *c)
{
	struct db_conn *killer = conn(0);
	PGresult *r = NULL;
	const char *v[1];

	assert_int_equal(db_exec(c, "SELECT pg_catalog.pg_backend_pid() AS pid", 0, NULL, NULL,
				 &r, err, sizeof err),
			 0);
	v[0] = db_value(r, 0, "pid");
	assert_int_equal(db_exec(killer, "SELECT pg_catalog.pg_terminate_backend($1::int)", 1, v,
				 NULL, NULL, err, sizeof err),
			 0);
	/* Wait until the backend is gone from pg_stat_activity, then a little:
	 * it flushes its FATAL and closes its socket in its last exit steps,
	 * after it left that view. */
	for (int i = 0; i < 100; i++) {
		PGresult *g = NULL;
		bool gone;

		assert_int_equal(db_exec(killer,
					 "SELECT count(*) FROM pg_catalog.pg_stat_activity "
					 "WHERE pid = $1::int",
					 1, v, NULL, &g, err, sizeof err),
				 0);
		gone = strcmp(PQgetvalue(g, 0, 0), "0") == 0;
		PQclear(g);
		if (gone)
			break;
		usleep(20 * 1000);
	}
	usleep(300 * 1000);
	PQclear(r);
	db_conn_free(killer);
}

/* Retries a statement for up to ~3 s (reconnect is rate-limited). */
static int retry(struct db_conn *c, const char *name)
{
	int rc = UTIL_EUNAVAIL;

	for (int i = 0; i < 30 && rc == UTIL_EUNAVAIL; i++) {
		rc = db_exec_prepared(c, name, 0, NULL, NULL, NULL, err, sizeof err);
		if (rc == UTIL_EUNAVAIL)
			usleep(100 * 1000);
	}
	return rc;
}

static void test_reconnect(void **state)
{
	struct db_conn *c = conn(0);
	const char *v[1] = {"x"};

	(void)state;
	run(c, "CREATE TABLE @.rc (k text)");
	assert_int_equal(db_prepare(c, "q_one", "SELECT 1", 0, err, sizeof err), 0);
	assert_true(db_conn_up(c));
	/* A session the server closed while idle (a restart cuts every pooled
	 * connection this way) is replaced before the next statement, which
	 * then runs: no error for the caller, the statement re-prepared. */
	kill_backend(c);
	assert_int_equal(db_exec_prepared(c, "q_one", 0, NULL, NULL, NULL, err, sizeof err), 0);
	assert_true(db_conn_up(c));
	kill_backend(c);
	if (run_rc(c, "SELECT 1", 0, NULL) != 0)
		fail_msg("after a second idle cut: %s", err);

	/* Lost inside a transaction: nothing runs until the caller rolls back. */
	assert_int_equal(db_begin(c, err, sizeof err), 0);
	assert_int_equal(run_rc(c, "INSERT INTO @.rc VALUES ($1)", 1, v), 0);
	kill_backend(c);
	assert_int_equal(run_rc(c, "INSERT INTO @.rc VALUES ($1)", 1, v), UTIL_EUNAVAIL);
	usleep(600 * 1000);
	assert_int_equal(run_rc(c, "INSERT INTO @.rc VALUES ($1)", 1, v), UTIL_EUNAVAIL);
	assert_non_null(strstr(err, "roll back"));
	assert_int_equal(db_rollback(c, err, sizeof err), 0);
	assert_int_equal(retry(c, "q_one"), 0);
	assert_int_equal(count(c, "SELECT count(*) FROM @.rc"), 0);

	/* db_ping notices a dead session and reconnects in the same call
	 * (once the rate limit since the last reconnect has passed). */
	usleep(DB_RECONNECT_MIN_MS * 1000);
	kill_backend(c);
	assert_int_equal(db_ping(c, err, sizeof err), 0);
	assert_true(db_conn_up(c));
	db_conn_free(c);
}

static void test_copy(void **state)
{
	struct db_conn *c = conn(0);
	char sql[256];
	const char *data = "1,\"a, b\"\n2,\"say \"\"hi\"\"\"\n3,\n";
	uint64_t rows = 0;

	(void)state;
	run(c, "CREATE TABLE @.cp (n int, s text)");
	snprintf(sql, sizeof sql, "COPY %s.cp (n, s) FROM STDIN (FORMAT csv)", S);
	assert_int_equal(db_copy_begin(c, sql, err, sizeof err), 0);
	assert_int_equal(run_rc(c, "SELECT 1", 0, NULL), UTIL_EINTERNAL);
	assert_int_equal(db_copy_put(c, data, 10, err, sizeof err), 0);
	assert_int_equal(db_copy_put(c, data + 10, strlen(data) - 10, err, sizeof err), 0);
	assert_int_equal(db_copy_end(c, NULL, &rows, err, sizeof err), 0);
	assert_int_equal(rows, 3);
	assert_int_equal(count(c, "SELECT count(*) FROM @.cp WHERE s = 'say \"hi\"'"), 1);
	/* Bad data: the error names the line; nothing copied. */
	assert_int_equal(db_copy_begin(c, sql, err, sizeof err), 0);
	assert_int_equal(db_copy_put(c, "4,x\nfive,y\n", 11, err, sizeof err), 0);
	assert_int_not_equal(db_copy_end(c, NULL, &rows, err, sizeof err), 0);
	assert_int_equal(count(c, "SELECT count(*) FROM @.cp"), 3);
	/* COPY through db_exec is refused and leaves the session usable. */
	assert_int_not_equal(run_rc(c, "COPY @.cp FROM STDIN", 0, NULL), 0);
	assert_int_equal(count(c, "SELECT count(*) FROM @.cp"), 3);
	assert_int_not_equal(run_rc(c, "COPY @.cp TO STDOUT", 0, NULL), 0);
	assert_int_equal(count(c, "SELECT count(*) FROM @.cp"), 3);
	/* Abort. */
	assert_int_equal(db_copy_begin(c, sql, err, sizeof err), 0);
	assert_int_equal(db_copy_put(c, "4,x\n", 4, err, sizeof err), 0);
	assert_int_equal(db_copy_end(c, "changed my mind", &rows, err, sizeof err), UTIL_EIO);
	assert_int_equal(count(c, "SELECT count(*) FROM @.cp"), 3);
	db_conn_free(c);
}

/*
 * Serialization failures and deadlocks are retryable (UTIL_EUNAVAIL, the
 * session stays up); only a unique violation is UTIL_ECONFLICT (409).
 */
static void test_retryable_sqlstates(void **state)
{
	struct db_conn *c = conn(0);

	(void)state;
	assert_int_equal(run_rc(c, "DO $$ BEGIN RAISE EXCEPTION 'ser' USING ERRCODE = '40001'; "
				   "END $$",
				0, NULL),
			 UTIL_EUNAVAIL);
	assert_string_equal(db_last_sqlstate(c), "40001");
	assert_true(db_conn_up(c));
	assert_int_equal(run_rc(c, "DO $$ BEGIN RAISE EXCEPTION 'dl' USING ERRCODE = '40P01'; "
				   "END $$",
				0, NULL),
			 UTIL_EUNAVAIL);
	assert_string_equal(db_last_sqlstate(c), "40P01");
	assert_int_equal(run_rc(c, "DO $$ BEGIN RAISE EXCEPTION 'uq' USING ERRCODE = '23505'; "
				   "END $$",
				0, NULL),
			 UTIL_ECONFLICT);
	if (run_rc(c, "SELECT 1", 0, NULL) != 0)
		fail_msg("after a second idle cut: %s", err);
	db_conn_free(c);
}

/*
 * A session whose settings cannot be applied (here: a statement timeout
 * the server rejects) must never be used: without the empty search_path
 * and the timeout every statement would run with the wrong settings.
 */
static void test_setup_failure_not_used(void **state)
{
	struct db_conn_opts o = {.application_name = "db_test",
				 .statement_timeout_ms = 100000000000LL, /* > INT_MAX ms */
				 .allow_down = true};
	struct db_conn *c = db_conn_new_opts(pg_url, &o, err, sizeof err);
	PGresult *r = NULL;
	int rc;

	(void)state;
	assert_non_null(c);
	assert_false(db_conn_up(c));
	for (int i = 0; i < 3; i++) {
		rc = db_exec(c, "SELECT pg_catalog.current_setting('search_path') AS sp", 0, NULL,
			     NULL, &r, err, sizeof err);
		if (!rc)
			fail_msg("statement ran on a session without settings (search_path %s)",
				 db_value(r, 0, "sp"));
		assert_int_equal(rc, UTIL_EUNAVAIL);
		assert_false(db_conn_up(c));
		usleep((DB_RECONNECT_MIN_MS + 50) * 1000);
	}
	db_conn_free(c);
}

/*
 * COPY interrupted by the server (backend terminated mid-stream): the
 * server's reason (SQLSTATE 57P01) must reach the caller, and the session
 * must be usable again afterwards.
 */
static void test_copy_server_error(void **state)
{
	struct db_conn *c = conn(0);
	char sql[256], *chunk = malloc(1 << 16);
	int rc = 0;

	(void)state;
	assert_non_null(chunk);
	for (size_t i = 0; i < (1 << 16); i += 8)
		memcpy(chunk + i, "1234567\n", 8);
	for (size_t i = 7; i < (1 << 16); i += 8)
		chunk[i] = '\n';
	run(c, "CREATE TABLE @.cpk (n int)");
	snprintf(sql, sizeof sql, "COPY %s.cpk (n) FROM STDIN", S);
	assert_int_equal(db_copy_begin(c, sql, err, sizeof err), 0);
	assert_int_equal(db_copy_put(c, chunk, 1 << 16, err, sizeof err), 0);
	{
		struct db_conn *killer = conn(0);
		const char *v[1] = {"db_test"};

		assert_int_equal(
			db_exec(killer,
				"SELECT pg_catalog.pg_terminate_backend(pid) FROM "
				"pg_catalog.pg_stat_activity WHERE application_name = $1 AND "
				"pid <> pg_catalog.pg_backend_pid() AND query LIKE 'COPY %'",
				1, v, NULL, NULL, err, sizeof err),
			0);
		db_conn_free(killer);
	}
	usleep(200 * 1000);
	/* Whichever call notices it (a put, or the end), the caller learns
	 * the server's reason. */
	for (int i = 0; i < 64 && !rc; i++)
		rc = db_copy_put(c, chunk, 1 << 16, err, sizeof err);
	if (!rc)
		rc = db_copy_end(c, NULL, NULL, err, sizeof err);
	assert_int_equal(rc, UTIL_EUNAVAIL);
	assert_string_equal(db_last_sqlstate(c), "57P01");
	if (db_copy_end(c, NULL, NULL, NULL, 0) == 0)
		fail_msg("copy end succeeded on a lost session");
	/* and the session comes back */
	usleep((DB_RECONNECT_MIN_MS + 50) * 1000);
	assert_int_equal(db_ping(c, err, sizeof err), 0);
	free(chunk);
	db_conn_free(c);
}

static void test_migrations(void **state)
{
	struct db_conn *c = conn(0);
	char table[128], m1[256], m2[256], m3[256], bad[300];
	struct db_migration list[3] = {{1, "0001_a", m1}, {2, "0002_b", m2}, {3, "0003_c", m3}};
	size_t applied = 99;

	(void)state;
	snprintf(table, sizeof table, "%s.migs", S);
	snprintf(m1, sizeof m1, "CREATE TABLE %s.m1 (x int); INSERT INTO %s.m1 VALUES (1);", S, S);
	snprintf(m2, sizeof m2, "CREATE TABLE %s.m2 (x int);", S);
	snprintf(m3, sizeof m3, "CREATE TABLE %s.m3 (x int);", S);
	assert_int_equal(db_migrate_table(c, table, list, 2, &applied, err, sizeof err), 0);
	assert_int_equal(applied, 2);
	assert_int_equal(db_migrate_table(c, table, list, 2, &applied, err, sizeof err), 0);
	assert_int_equal(applied, 0);
	assert_int_equal(count(c, "SELECT count(*) FROM @.m1"), 1);
	assert_int_equal(db_migrate_table(c, table, list, 3, &applied, err, sizeof err), 0);
	assert_int_equal(applied, 1);
	assert_int_equal(count(c, "SELECT count(*) FROM @.migs"), 3);

	/* A changed applied migration is refused, and nothing new is applied. */
	struct db_migration changed[4] = {list[0], list[1], list[2], {4, "0004_d", m2}};
	snprintf(bad, sizeof bad, "%s -- edited", m1);
	changed[0].sql = bad;
	snprintf(m2, sizeof m2, "CREATE TABLE %s.m4 (x int);", S);
	assert_int_equal(db_migrate_table(c, table, changed, 4, &applied, err, sizeof err),
			 UTIL_ECONFLICT);
	assert_non_null(strstr(err, "0001_a"));
	assert_int_equal(count(c, "SELECT count(*) FROM @.migs"), 3);
	assert_int_equal(count(c, "SELECT count(*) FROM pg_catalog.pg_tables "
				  "WHERE schemaname = '@' AND tablename = 'm4'"),
			 0);

	/* A failing migration is rolled back whole and not recorded. */
	struct db_migration failing[4] = {list[0], {2, "0002_b", NULL}, list[2], {4, "0004_d", bad}};
	snprintf(m2, sizeof m2, "CREATE TABLE %s.m2 (x int);", S);
	failing[1].sql = m2;
	snprintf(bad, sizeof bad, "CREATE TABLE %s.m5 (x int); SELECT 1/0;", S);
	assert_int_equal(db_migrate_table(c, table, failing, 4, &applied, err, sizeof err),
			 UTIL_EINVAL);
	assert_non_null(strstr(err, "0004_d"));
	assert_int_equal(count(c, "SELECT count(*) FROM @.migs"), 3);
	assert_int_equal(count(c, "SELECT count(*) FROM pg_catalog.pg_tables "
				  "WHERE schemaname = '@' AND tablename = 'm5'"),
			 0);
	/* The advisory lock was released: another session can take it at once. */
	assert_int_equal(db_migrate_table(c, table, list, 3, &applied, err, sizeof err), 0);
	db_conn_free(c);
}

static int setup(void **state)
{
	struct db_conn *c;
	char sql[128];

	(void)state;
	c = db_conn_new(pg_url, err, sizeof err);
	if (!c)
		return -1;
	snprintf(S, sizeof S, "dbtest_%d", (int)getpid());
	snprintf(sql, sizeof sql, "CREATE SCHEMA %s", S);
	if (db_exec(c, sql, 0, NULL, NULL, NULL, err, sizeof err)) {
		db_conn_free(c);
		return -1;
	}
	db_conn_free(c);
	return 0;
}

static int teardown(void **state)
{
	struct db_conn *c = db_conn_new(pg_url, err, sizeof err);
	char sql[128];
	int rc;

	(void)state;
	if (!c)
		return -1;
	snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", S);
	rc = db_exec(c, sql, 0, NULL, NULL, NULL, err, sizeof err);
	db_conn_free(c);
	return rc ? -1 : 0;
}

int main(void)
{
	const struct config_item cfg[] = {
		{"SIMPUL_PG_URL", CONFIG_STRING, "postgresql://simpul@127.0.0.1:55432/simpul", 0,
		 4096, false, &pg_url, "PostgreSQL connection URL"},
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_params_stored_exactly),
		cmocka_unit_test(test_error_mapping),
		cmocka_unit_test(test_savepoints),
		cmocka_unit_test(test_reconnect),
		cmocka_unit_test(test_copy),
		cmocka_unit_test(test_migrations),
		cmocka_unit_test(test_retryable_sqlstates),
		cmocka_unit_test(test_setup_failure_not_used),
		cmocka_unit_test(test_copy_server_error),
	};
	struct db_conn *probe;
	int rc;

	slog_init("db_test", SLOG_WARN);
	if (config_load(cfg, 1, err, sizeof err)) {
		fprintf(stderr, "db_test: bad configuration: %s\n", err);
		return 2;
	}
	probe = db_conn_new(pg_url, err, sizeof err);
	if (!probe) {
		fprintf(stderr, "db_test: FAIL: postgresql not reachable at %s: %s\n", pg_url, err);
		config_release(cfg, 1);
		return 1;
	}
	db_conn_free(probe);
	rc = cmocka_run_group_tests(tests, setup, teardown);
	config_release(cfg, 1);
	return rc;
}
