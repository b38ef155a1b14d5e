/*
 * cli_test.c - runs the simpulctl binary against the stack's PostgreSQL
 * (SIMPUL_PG_URL) and checks the database afterwards: usage exit codes,
 * migrate twice, the real region list imported twice (skipped when the
 * shared data is absent), malformed lists rejected whole, and users, KIMs
 * and tokens created (only the token's hash stored).
 * Usage: simpulctl_cli_test PATH_TO_SIMPULCTL [SHARED_DATA_DIR]
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <config/config.h>
#include <db/db.h>
#include <slog/slog.h>
#include <util/ids.h>

#define OUT_MAX (256 * 1024)

static const char *bin;
static char *pg_url, *shared_data;
static char data_dir[4096];
static char err[512];
static char out[OUT_MAX], errout[OUT_MAX];

/* Reads a temp file back into buf (truncated to OUT_MAX - 1). */
static void slurp(FILE *f, char *buf)
{
	size_t n;

	rewind(f);
	n = fread(buf, 1, OUT_MAX - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* Runs simpulctl with args (NULL-terminated); stdout in out, stderr in errout. */
static int ctl(const char *a0, ...)
{
	const char *argv[32] = {bin};
	FILE *fo = tmpfile(), *fe = tmpfile();
	va_list ap;
	int n = 1, status = -1;
	pid_t pid;

	assert_non_null(fo);
	assert_non_null(fe);
	va_start(ap, a0);
	for (const char *a = a0; a && n < 31; a = va_arg(ap, const char *))
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fileno(fo), 1);
		dup2(fileno(fe), 2);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	slurp(fo, out);
	slurp(fe, errout);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static struct db_conn *conn(void)
{
	struct db_conn *c = db_conn_new(pg_url, err, sizeof err);

	if (!c)
		fail_msg("connect: %s", err);
	return c;
}

/* First column of the first row of a one-parameter query, as a number. */
static long long scalar(struct db_conn *c, const char *sql, const char *param)
{
	const char *v[1] = {param};
	PGresult *r = NULL;
	long long n;

	if (db_exec(c, sql, param ? 1 : 0, v, NULL, &r, err, sizeof err))
		fail_msg("%s: %s", sql, err);
	n = PQntuples(r) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
	PQclear(r);
	return n;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The first line of the last command's stdout into dst[cap]. */
static void first_line(char *dst, size_t cap)
{
	size_t n = strcspn(out, "\r\n");

	if (n >= cap)
		n = cap - 1;
	memcpy(dst, out, n);
	dst[n] = '\0';
}

static void test_usage(void **state)
{
	(void)state;
	assert_int_equal(ctl("help", NULL), 0);
	assert_non_null(strstr(out, "regions import FILE"));
	assert_non_null(strstr(out, "SIMPUL_PG_URL"));
	assert_int_equal(ctl(NULL), 2);
	assert_int_equal(ctl("bogus", NULL), 2);
	assert_int_equal(ctl("regions", "import", NULL), 2);
	assert_int_equal(ctl("users", "create", "--name", "x", NULL), 2);
	assert_int_equal(ctl("users", "create", "--name", "x", "--role", "king", NULL), 2);
	assert_int_equal(ctl("users", "create", "--name", "x", "--role", "admin", "--bad", "1", NULL),
			 2);
	assert_int_equal(ctl("tokens", "create", "--user", "not-a-uuid", NULL), 2);
	assert_int_equal(ctl("kims", "create", "--name", "k", "--region", "35.07", "--decree-date",
			     "1 May", NULL),
			 2);
}

static void test_migrate_twice(void **state)
{
	struct db_conn *c;

	(void)state;
	assert_int_equal(ctl("migrate", NULL), 0);
	assert_int_equal(ctl("migrate", NULL), 0);
	assert_non_null(strstr(out, "applied=0"));
	c = conn();
	assert_int_equal(scalar(c, "SELECT pg_catalog.count(*) FROM simpul.schema_migrations "
				   "WHERE version = 1 AND name = '0001_core'",
				NULL),
			 1);
	db_conn_free(c);
}

static void test_regions_import_real_twice(void **state)
{
	char path[4200];
	struct stat st;
	struct db_conn *c;
	long long first;

	(void)state;
	snprintf(path, sizeof path, "%s/wilayah-indonesia-2025/wilayah.csv", data_dir);
	if (!data_dir[0] || stat(path, &st) != 0) {
		fprintf(stderr, "SKIP: region list not found at \"%s\" (set SIMPUL_SHARED_DATA)\n",
			path);
		skip();
	}
	assert_int_equal(ctl("regions", "import", path, NULL), 0);
	fprintf(stderr, "first import: %s", out);
	c = conn();
	first = scalar(c, "SELECT pg_catalog.count(*) FROM simpul.regions", NULL);
	assert_true(first >= 91599);
	assert_int_equal(ctl("regions", "import", path, NULL), 0);
	fprintf(stderr, "second import: %s", out);
	assert_non_null(strstr(out, "rows=91599 inserted=0 updated=0 unchanged=91599"));
	assert_int_equal(scalar(c, "SELECT pg_catalog.count(*) FROM simpul.regions", NULL), first);
	assert_int_equal(scalar(c, "SELECT pg_catalog.count(*) FROM simpul.regions "
				   "WHERE code = '35.07' OR code LIKE '35.07.%'",
				NULL),
			 1 + 33 + 390);
	db_conn_free(c);
}

static void test_regions_malformed_rejected(void **state)
{
	char path[64];
	struct db_conn *c = conn();

	(void)state;
	snprintf(path, sizeof path, "/tmp/simpulctl_test_%d.csv", (int)getpid());
	write_file(path, "kode,nama,level,jenis,parent_kode\n"
			 "98,Provinsi Uji,1,provinsi,\n"
			 "98.01,Kabupaten Uji,3,kabupaten,98\n"
			 "98.1,Kode Salah,2,kabupaten,98\n"
			 "98.02,\"unterminated,2,kabupaten,98\n");
	assert_int_equal(ctl("regions", "import", path, NULL), 1);
	assert_non_null(strstr(errout, ":3: level does not match"));
	assert_non_null(strstr(errout, ":4: bad region code"));
	assert_non_null(strstr(errout, ":5: "));
	assert_non_null(strstr(errout, "nothing imported"));
	/* Well-formed lines, but a duplicate and a missing parent: found in SQL. */
	write_file(path, "kode,nama\n98,Provinsi Uji\n98,Lagi\n98.01.01,Yatim\n");
	assert_int_equal(ctl("regions", "import", path, NULL), 1);
	assert_non_null(strstr(errout, ":2: duplicate region code \"98 (lines 2, 3)\""));
	assert_non_null(strstr(errout, ":4: parent region not found \"98.01\""));
	assert_int_equal(scalar(c, "SELECT pg_catalog.count(*) FROM simpul.regions "
				   "WHERE code LIKE '98%'",
				NULL),
			 0);
	unlink(path);
	db_conn_free(c);
}

/* Makes sure 35 and 35.07 exist (as in the real list) for the KIM tests. */
static void ensure_regions(void)
{
	char path[64];

	snprintf(path, sizeof path, "/tmp/simpulctl_test_r%d.csv", (int)getpid());
	write_file(path, "kode,nama,level,jenis,parent_kode\r\n35,Jawa Timur,1,provinsi,\r\n"
			 "35.07,Kabupaten Malang,2,kabupaten,35\r\n");
	assert_int_equal(ctl("regions", "import", path, NULL), 0);
	unlink(path);
}

static void test_users_kims_tokens(void **state)
{
	char kim[64], user[64], token[128], tid[64], email[64], hex[65];
	unsigned char hash[32];
	struct db_conn *c = conn();
	PGresult *r = NULL;
	const char *v[1];

	(void)state;
	ensure_regions();
	assert_int_equal(ctl("kims", "create", "--name", "KIM Uji", "--region", "35.07", "--status",
			     "verified", "--decree-number", "188/12/35.07/2024", "--decree-date",
			     "2024-05-01", "--fields", "tik,umkm", NULL),
			 0);
	first_line(kim, sizeof kim);
	assert_true(util_uuid_valid(kim));
	assert_int_equal(scalar(c, "SELECT pg_catalog.count(*) FROM simpul.kims WHERE id = $1 "
				   "AND status = 'verified' AND fields = '{tik,umkm}' "
				   "AND decree_date = '2024-05-01'",
				kim),
			 1);
	assert_int_equal(ctl("kims", "create", "--name", "K", "--region", "99.99", NULL), 1);
	assert_non_null(strstr(errout, "unknown region"));

	snprintf(email, sizeof email, "uji%d@example.org", (int)getpid());
	assert_int_equal(ctl("users", "create", "--name", "Admin Uji", "--role", "kim_admin",
			     "--kim", kim, "--email", email, NULL),
			 0);
	first_line(user, sizeof user);
	assert_true(util_uuid_valid(user));
	assert_int_equal(ctl("users", "create", "--name", "Dup", "--role", "citizen", "--email",
			     email, NULL),
			 1);
	assert_non_null(strstr(errout, "already used"));
	assert_int_equal(ctl("users", "create", "--name", "Mod", "--role", "moderator", NULL), 1);
	assert_non_null(strstr(errout, "needs --region"));

	assert_int_equal(ctl("tokens", "create", "--user", user, "--label", "uji", "--ttl-days",
			     "30", NULL),
			 0);
	first_line(token, sizeof token);
	assert_int_equal(strlen(token), 7 + 43);
	assert_int_equal(strncmp(token, "simpul_", 7), 0);
	assert_int_equal(strspn(token + 7, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					   "0123456789-_"),
			 43);
	util_sha256(token, strlen(token), hash);
	util_hex(hash, sizeof hash, hex);
	v[0] = user;
	assert_int_equal(db_exec(c,
				 "SELECT id, pg_catalog.encode(token_hash, 'hex') AS h, label, "
				 "expires_at > pg_catalog.now() + interval '29 days' AS exp_ok "
				 "FROM simpul.api_tokens WHERE user_id = $1::uuid",
				 1, v, NULL, &r, err, sizeof err),
			 0);
	assert_int_equal(PQntuples(r), 1);
	assert_string_equal(db_value(r, 0, "h"), hex);
	assert_string_equal(db_value(r, 0, "label"), "uji");
	assert_string_equal(db_value(r, 0, "exp_ok"), "t");
	snprintf(tid, sizeof tid, "%s", db_value(r, 0, "id"));
	PQclear(r);
	assert_null(strstr(out, tid)); /* stdout holds the token only */

	assert_int_equal(ctl("tokens", "revoke", tid, NULL), 0);
	assert_int_equal(ctl("tokens", "revoke", tid, NULL), 0);
	assert_int_equal(scalar(c, "SELECT pg_catalog.count(*) FROM simpul.api_tokens "
				   "WHERE id = $1 AND revoked_at IS NOT NULL",
				tid),
			 1);
	assert_int_equal(ctl("tokens", "revoke", "00000000-0000-4000-8000-000000000000", NULL), 1);

	/* Leave nothing behind. */
	assert_int_equal(scalar(c, "WITH d AS (DELETE FROM simpul.users WHERE id = $1::uuid "
				   "RETURNING 1) SELECT pg_catalog.count(*) FROM d",
				user),
			 1);
	assert_int_equal(scalar(c, "WITH d AS (DELETE FROM simpul.kims WHERE id = $1::uuid "
				   "RETURNING 1) SELECT pg_catalog.count(*) FROM d",
				kim),
			 1);
	db_conn_free(c);
}

int main(int argc, char **argv)
{
	const struct config_item cfg[] = {
		{"SIMPUL_PG_URL", CONFIG_STRING, "postgresql://simpul@127.0.0.1:55432/simpul", 0,
		 4096, false, &pg_url, "PostgreSQL connection URL"},
		{"SIMPUL_SHARED_DATA", CONFIG_STRING, "", 0, 4000, false, &shared_data,
		 "folder of the shared public data"},
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_migrate_twice),
		cmocka_unit_test(test_regions_import_real_twice),
		cmocka_unit_test(test_regions_malformed_rejected),
		cmocka_unit_test(test_users_kims_tokens),
	};
	struct db_conn *probe;
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: simpulctl_cli_test SIMPULCTL [SHARED_DATA_DIR]\n");
		return 2;
	}
	bin = argv[1];
	slog_init("simpulctl_cli_test", SLOG_WARN);
	if (config_load(cfg, 2, err, sizeof err)) {
		fprintf(stderr, "simpulctl_cli_test: bad configuration: %s\n", err);
		return 2;
	}
	snprintf(data_dir, sizeof data_dir, "%s",
		 shared_data[0] ? shared_data : (argc > 2 ? argv[2] : ""));
	probe = db_conn_new(pg_url, err, sizeof err);
	if (!probe) {
		fprintf(stderr, "simpulctl_cli_test: FAIL: postgresql not reachable: %s\n", err);
		config_release(cfg, 2);
		return 1;
	}
	db_conn_free(probe);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	config_release(cfg, 2);
	return rc;
}
