/*
 * auth/auth.h - API tokens to principals, roles and region scopes.
 *
 * A token looks like "simpul_" + 43 base64url characters. Only its SHA-256
 * (of the whole string, prefix included) is stored, in simpul.api_tokens;
 * a look-up joins simpul.users and ignores revoked or expired tokens and
 * disabled users. Results are cached in-process: known tokens for ttl_ms,
 * unknown ones for 5 s, so a revoked token keeps working for at most ttl_ms.
 *
 * Region scopes are Kemendagri code prefixes: "35.07" covers "35.07" and
 * "35.07.12.2003" but never "35.08" nor "35.071". The empty prefix is the
 * national scope (admins, central analysts).
 *
 * Thread-safe: one struct auth may be shared by every worker thread.
 */
#ifndef AUTH_AUTH_H
#define AUTH_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_TOKEN_PREFIX "simpul_"
#define AUTH_TOKEN_LEN 50 /* "simpul_" + 43 base64url characters */

enum auth_role {
	AUTH_ROLE_NONE = 0,
	AUTH_ROLE_CITIZEN,
	AUTH_ROLE_KIM_MEMBER,
	AUTH_ROLE_KIM_ADMIN,
	AUTH_ROLE_MODERATOR,
	AUTH_ROLE_ANALYST,
	AUTH_ROLE_ADMIN,
	AUTH_ROLE_INTEGRATION,
};

struct auth_principal {
	char user_id[37];
	enum auth_role role;
	char kim_id[37];        /* "" when the user belongs to no KIM */
	char region_prefix[32]; /* "" = national scope (or none, for citizens) */
};

struct auth;

/*
 * Creates an authenticator with its own PostgreSQL connection to url (opened
 * lazily, reconnected after loss). ttl_ms caches known tokens (0 = never
 * cache). NULL on ENOMEM or a bad url, with a message in err.
 */
struct auth *auth_new(const char *pg_url, int64_t ttl_ms, char *err, size_t errlen);
void auth_free(struct auth *a);

/*
 * Resolves an "Authorization" header value ("Bearer simpul_...") into p.
 * Returns 0; UTIL_EDENIED when the header is missing or malformed or the
 * token is unknown, revoked or expired (answer 401); UTIL_EUNAVAIL when
 * PostgreSQL cannot be asked (answer 503). A short reason goes into err.
 */
__attribute__((warn_unused_result)) int auth_resolve(struct auth *a, const char *header,
						     struct auth_principal *p, char *err,
						     size_t errlen);
/* As auth_resolve, for a bare token (e.g. carried in a Kafka message). */
__attribute__((warn_unused_result)) int auth_resolve_token(struct auth *a, const char *token,
							   struct auth_principal *p, char *err,
							   size_t errlen);

/* Parses "Bearer <token>" into token; 0 or UTIL_EINVAL. */
int auth_bearer_parse(const char *header, char token[AUTH_TOKEN_LEN + 1]);
/* True if s has the shape of a token. */
bool auth_token_wellformed(const char *s);

/* "citizen" ... "integration" to a role; AUTH_ROLE_NONE if unknown. */
enum auth_role auth_role_parse(const char *s);
/* The role's name; "none" for AUTH_ROLE_NONE or out-of-range values. */
const char *auth_role_name(enum auth_role r);

/* True if the region prefix covers region_code (see above). */
bool auth_region_covers(const char *prefix, const char *region_code);

/*
 * True if p may see items of region_code as a reviewer or analyst: admins
 * everywhere; moderators and analysts inside their region prefix (an empty
 * prefix is national).
 */
bool auth_scope_covers(const struct auth_principal *p, const char *region_code);

#endif
