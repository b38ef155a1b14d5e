/*
 * cmd_tokens.c - `simpulctl tokens create|revoke`: API tokens.
 *
 * A token is "simpul_" followed by 32 random bytes in unpadded base64url
 * (43 characters). Only SHA-256 of the whole token string (prefix included)
 * is stored, in simpul.api_tokens.token_hash; the token itself is printed
 * once on stdout and cannot be recovered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <util/ids.h>

#include "simpulctl.h"

#define TOKEN_PREFIX "simpul_"
#define TOKEN_RANDOM 32
#define TOKEN_B64 43 /* unpadded base64 of 32 bytes */
#define MAX_TTL_DAYS 3650

static const char usage[] = "usage: simpulctl tokens create --user UUID [--label L] "
			    "[--ttl-days N]\n"
			    "       simpulctl tokens revoke ID\n";

/* Unpadded base64url of n bytes into out (4*ceil(n/3) + 1 bytes at most). */
static void b64url(const unsigned char *p, size_t n, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				"0123456789-_";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		out[o++] = a[(v >> 18) & 63];
		out[o++] = a[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = a[(v >> 6) & 63];
		if (i + 2 < n)
			out[o++] = a[v & 63];
	}
	out[o] = '\0';
}

static bool ttl_ok(const char *s)
{
	char *end;
	long d;

	if (!s)
		return true;
	d = strtol(s, &end, 10);
	return end != s && !*end && d >= 1 && d <= MAX_TTL_DAYS;
}

static int create(const struct simpulctl_ctx *ctx, int argc, char **argv)
{
	enum { USER, LABEL, TTL };
	static const char *const spec[] = {"user", "label", "ttl-days", NULL};
	const char *v[3] = {NULL}, *pos[1];
	unsigned char raw[TOKEN_RANDOM], hash[32];
	char token[sizeof TOKEN_PREFIX + TOKEN_B64 + 4], err[512];
	struct db_conn *c = NULL;
	PGresult *r = NULL;
	size_t npos;
	int rc = SIMPULCTL_FAIL;

	if (!simpulctl_opts_parse(argc, argv, spec, v, pos, 0, &npos) || !v[USER] ||
	    !util_uuid_valid(v[USER]) || !ttl_ok(v[TTL])) {
		fprintf(stderr, "simpulctl: --user must be a UUID, --ttl-days 1..%d\n%s",
			MAX_TTL_DAYS, usage);
		return SIMPULCTL_USAGE;
	}
	if (util_random_bytes(raw, sizeof raw)) {
		fprintf(stderr, "simpulctl: no random bytes\n");
		return SIMPULCTL_FAIL;
	}
	memcpy(token, TOKEN_PREFIX, sizeof TOKEN_PREFIX - 1);
	b64url(raw, sizeof raw, token + sizeof TOKEN_PREFIX - 1);
	util_sha256(token, strlen(token), hash);

	const char *vals[4] = {v[USER], (const char *)hash, v[LABEL], v[TTL]};
	const int lens[4] = {-1, (int)sizeof hash, -1, -1};
	c = simpulctl_db_open(ctx);
	if (!c)
		goto out;
	/* Only for a user that exists and is not disabled. */
	if (db_exec(c,
		    "INSERT INTO simpul.api_tokens (user_id, token_hash, label, expires_at) "
		    "SELECT u.id, $2, $3, pg_catalog.now() + pg_catalog.make_interval(days => "
		    "$4::int) FROM simpul.users u WHERE u.id = $1::uuid AND u.disabled_at IS NULL "
		    "RETURNING id, expires_at",
		    4, vals, lens, &r, err, sizeof err)) {
		simpulctl_db_report(c, "tokens create", err);
	} else if (PQntuples(r) != 1) {
		fprintf(stderr, "simpulctl: tokens create: no active user %s\n", v[USER]);
	} else {
		const char *exp = db_value(r, 0, "expires_at");
		printf("%s\n", token);
		fprintf(stderr, "token id=%s user=%s expires=%s: shown once, store it now\n",
			db_value(r, 0, "id"), v[USER], exp ? exp : "never");
		rc = SIMPULCTL_OK;
	}
out:
	memset(token, 0, sizeof token);
	PQclear(r);
	db_conn_free(c);
	return rc;
}

static int revoke(const struct simpulctl_ctx *ctx, const char *id)
{
	const char *vals[1] = {id};
	struct db_conn *c;
	PGresult *r = NULL;
	char err[512];
	int rc = SIMPULCTL_FAIL;

	if (!util_uuid_valid(id)) {
		fprintf(stderr, "simpulctl: token id must be a UUID\n%s", usage);
		return SIMPULCTL_USAGE;
	}
	c = simpulctl_db_open(ctx);
	if (!c)
		return SIMPULCTL_FAIL;
	/* Revoking twice is fine; the first revocation time is kept. */
	if (db_exec(c,
		    "UPDATE simpul.api_tokens SET revoked_at = COALESCE(revoked_at, pg_catalog.now())"
		    " WHERE id = $1::uuid RETURNING revoked_at",
		    1, vals, NULL, &r, err, sizeof err)) {
		simpulctl_db_report(c, "tokens revoke", err);
	} else if (PQntuples(r) != 1) {
		fprintf(stderr, "simpulctl: tokens revoke: no token %s\n", id);
	} else {
		printf("revoked %s at %s\n", id, db_value(r, 0, "revoked_at"));
		rc = SIMPULCTL_OK;
	}
	PQclear(r);
	db_conn_free(c);
	return rc;
}

int simpulctl_cmd_tokens(const struct simpulctl_ctx *ctx, int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "create"))
		return create(ctx, argc - 2, argv + 2);
	if (argc == 3 && !strcmp(argv[1], "revoke"))
		return revoke(ctx, argv[2]);
	fputs(usage, stderr);
	return SIMPULCTL_USAGE;
}
