/*
 * auth/auth.c - token look-up with an in-process cache, roles and scopes.
 */
#include "auth/auth.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db/db.h"
#include "slog/slog.h"
#include "util/err.h"
#include "util/ids.h"

#define AUTH_SLOTS 4096
#define AUTH_NEGATIVE_MS 5000

static const char *const role_names[] = {
	[AUTH_ROLE_NONE] = "none",
	[AUTH_ROLE_CITIZEN] = "citizen",
	[AUTH_ROLE_KIM_MEMBER] = "kim_member",
	[AUTH_ROLE_KIM_ADMIN] = "kim_admin",
	[AUTH_ROLE_MODERATOR] = "moderator",
	[AUTH_ROLE_ANALYST] = "analyst",
	[AUTH_ROLE_ADMIN] = "admin",
	[AUTH_ROLE_INTEGRATION] = "integration",
};

#define NROLES (sizeof(role_names) / sizeof(role_names[0]))

struct slot {
	unsigned char hash[32];
	bool used, found;
	int64_t expires_ms;
	struct auth_principal p;
};

struct auth {
	pthread_mutex_t db_mu; /* serialises the look-up connection */
	struct db_conn *db;
	int64_t ttl_ms;
	pthread_mutex_t mu; /* guards slots */
	struct slot slots[AUTH_SLOTS];
};

enum auth_role auth_role_parse(const char *s)
{
	for (size_t i = 1; s && i < NROLES; i++)
		if (strcmp(s, role_names[i]) == 0)
			return (enum auth_role)i;
	return AUTH_ROLE_NONE;
}

const char *auth_role_name(enum auth_role r)
{
	return (size_t)r < NROLES ? role_names[r] : "none";
}

static bool b64url(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

bool auth_token_wellformed(const char *s)
{
	size_t plen = strlen(AUTH_TOKEN_PREFIX);

	if (!s || strlen(s) != AUTH_TOKEN_LEN || strncmp(s, AUTH_TOKEN_PREFIX, plen) != 0)
		return false;
	for (const char *p = s + plen; *p; p++)
		if (!b64url(*p))
			return false;
	return true;
}

int auth_bearer_parse(const char *header, char token[AUTH_TOKEN_LEN + 1])
{
	const char *t;

	if (!header || strncasecmp(header, "Bearer ", 7) != 0)
		return UTIL_EINVAL;
	for (t = header + 7; *t == ' '; t++)
		;
	if (!auth_token_wellformed(t))
		return UTIL_EINVAL;
	memcpy(token, t, AUTH_TOKEN_LEN + 1);
	return 0;
}

bool auth_region_covers(const char *prefix, const char *region_code)
{
	size_t n;

	if (!prefix || !region_code)
		return false;
	n = strlen(prefix);
	if (n == 0)
		return true;
	return strncmp(prefix, region_code, n) == 0 &&
	       (region_code[n] == '\0' || region_code[n] == '.');
}

bool auth_scope_covers(const struct auth_principal *p, const char *region_code)
{
	switch (p->role) {
	case AUTH_ROLE_ADMIN:
		return true;
	case AUTH_ROLE_MODERATOR:
	case AUTH_ROLE_ANALYST:
		return auth_region_covers(p->region_prefix, region_code);
	default:
		return false;
	}
}

struct auth *auth_new(const char *pg_url, int64_t ttl_ms, char *err, size_t errlen)
{
	struct db_conn_opts o = {.application_name = "simpul-auth", .allow_down = true};
	struct auth *a = calloc(1, sizeof(*a));

	if (!a) {
		util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
		return NULL;
	}
	a->db = db_conn_new_opts(pg_url, &o, err, errlen);
	if (!a->db) {
		free(a);
		return NULL;
	}
	a->ttl_ms = ttl_ms;
	pthread_mutex_init(&a->mu, NULL);
	pthread_mutex_init(&a->db_mu, NULL);
	return a;
}

void auth_free(struct auth *a)
{
	if (!a)
		return;
	db_conn_free(a->db);
	pthread_mutex_destroy(&a->mu);
	pthread_mutex_destroy(&a->db_mu);
	free(a);
}

static struct slot *slot_of(struct auth *a, const unsigned char h[32])
{
	return &a->slots[(((size_t)h[0] << 8) | h[1]) % AUTH_SLOTS];
}

/* 1 hit (known), 0 hit (unknown), -1 miss. */
static int cache_lookup(struct auth *a, const unsigned char h[32], struct auth_principal *p)
{
	struct slot *s;
	int r = -1;

	pthread_mutex_lock(&a->mu);
	s = slot_of(a, h);
	if (s->used && memcmp(s->hash, h, 32) == 0 && s->expires_ms > util_mono_us() / 1000) {
		r = s->found ? 1 : 0;
		*p = s->p;
	}
	pthread_mutex_unlock(&a->mu);
	return r;
}

static void cache_store(struct auth *a, const unsigned char h[32], bool found,
			const struct auth_principal *p)
{
	struct slot *s;

	if (found && a->ttl_ms <= 0)
		return;
	pthread_mutex_lock(&a->mu);
	s = slot_of(a, h);
	memcpy(s->hash, h, 32);
	s->used = true;
	s->found = found;
	s->expires_ms = util_mono_us() / 1000 + (found ? a->ttl_ms : AUTH_NEGATIVE_MS);
	if (found)
		s->p = *p;
	pthread_mutex_unlock(&a->mu);
}

static const char lookup_sql[] =
	"SELECT u.id::text AS id, u.role, u.kim_id::text AS kim_id, u.region_prefix "
	"FROM simpul.api_tokens t JOIN simpul.users u ON u.id = t.user_id "
	"WHERE t.token_hash = $1 AND t.revoked_at IS NULL "
	"AND (t.expires_at IS NULL OR t.expires_at > now()) AND u.disabled_at IS NULL";

static void principal_from_row(const PGresult *res, struct auth_principal *p)
{
	const char *kim = db_value(res, 0, "kim_id");
	const char *reg = db_value(res, 0, "region_prefix");

	memset(p, 0, sizeof(*p));
	snprintf(p->user_id, sizeof(p->user_id), "%s", db_value(res, 0, "id"));
	p->role = auth_role_parse(db_value(res, 0, "role"));
	snprintf(p->kim_id, sizeof(p->kim_id), "%s", kim ? kim : "");
	snprintf(p->region_prefix, sizeof(p->region_prefix), "%s", reg ? reg : "");
}

/* 1 known, 0 unknown, negative when the database cannot be asked. */
static int db_lookup(struct auth *a, const unsigned char h[32], struct auth_principal *p)
{
	const char *vals[1] = {(const char *)h};
	const int lens[1] = {32};
	PGresult *res = NULL;
	char err[256];
	int rc;

	pthread_mutex_lock(&a->db_mu);
	rc = db_exec(a->db, lookup_sql, 1, vals, lens, &res, err, sizeof(err));
	pthread_mutex_unlock(&a->db_mu);
	if (rc) {
		slog_warn("token lookup failed", "err=\"%s\"", err);
		return rc;
	}
	rc = 0;
	if (PQntuples(res) == 1) {
		principal_from_row(res, p);
		rc = p->role != AUTH_ROLE_NONE;
	}
	PQclear(res);
	return rc;
}

int auth_resolve_token(struct auth *a, const char *token, struct auth_principal *p, char *err,
		       size_t errlen)
{
	unsigned char h[32];
	int r;

	if (!auth_token_wellformed(token))
		return util_err_set(err, errlen, UTIL_EDENIED, "malformed token");
	util_sha256(token, strlen(token), h);
	r = cache_lookup(a, h, p);
	if (r < 0) {
		r = db_lookup(a, h, p);
		if (r < 0)
			return util_err_set(err, errlen, UTIL_EUNAVAIL, "database unavailable");
		cache_store(a, h, r == 1, p);
	}
	if (r == 0)
		return util_err_set(err, errlen, UTIL_EDENIED, "unknown or revoked token");
	return 0;
}

int auth_resolve(struct auth *a, const char *header, struct auth_principal *p, char *err,
		 size_t errlen)
{
	char token[AUTH_TOKEN_LEN + 1];

	if (!header)
		return util_err_set(err, errlen, UTIL_EDENIED, "missing bearer token");
	if (auth_bearer_parse(header, token) != 0)
		return util_err_set(err, errlen, UTIL_EDENIED, "malformed bearer token");
	return auth_resolve_token(a, token, p, err, errlen);
}
