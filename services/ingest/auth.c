/*
 * services/ingest/auth.c - Bearer tokens to principals, and who may do what.
 *
 * Tokens are resolved (and cached) by libs/auth; this file holds ingest's
 * rules: who may submit, register and read, and the mapping of auth
 * failures onto HTTP errors.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <simpul/v1/content.pb-c.h>

#include "db/db.h"
#include "ingest.h"
#include "slog/slog.h"
#include "util/err.h"

int ingest_auth_may_submit(const struct auth_principal *p, int type, const char *kim_id,
			   struct ingest_verr *e)
{
	bool central = p->role == AUTH_ROLE_ADMIN || p->role == AUTH_ROLE_INTEGRATION;

	switch (p->role) {
	case AUTH_ROLE_ADMIN:
	case AUTH_ROLE_INTEGRATION:
		break;
	case AUTH_ROLE_KIM_MEMBER:
	case AUTH_ROLE_KIM_ADMIN:
		if (kim_id && strcasecmp(kim_id, p->kim_id) != 0)
			return ingest_verr_set(e, 403, "forbidden", "kim_id",
					       "token may only submit for its own kim");
		break;
	case AUTH_ROLE_CITIZEN:
		return ingest_verr_set(e, 403, "forbidden", NULL,
				       "citizens submit through /v1/aspirasi");
	default:
		return ingest_verr_set(e, 403, "forbidden", NULL, "role may not submit content");
	}
	if (type == SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_DISEMINASI && !central)
		return ingest_verr_set(e, 403, "forbidden", "type",
				       "diseminasi comes from admin or integration accounts");
	return 0;
}

int ingest_auth_may_register(const struct auth_principal *p, struct ingest_verr *e)
{
	switch (p->role) {
	case AUTH_ROLE_CITIZEN:
	case AUTH_ROLE_KIM_ADMIN:
	case AUTH_ROLE_ADMIN:
	case AUTH_ROLE_INTEGRATION:
		return 0;
	default:
		return ingest_verr_set(e, 403, "forbidden", NULL, "role may not register a kim");
	}
}

bool ingest_auth_may_read(const struct auth_principal *p, const char *author_id,
			  const char *kim_id, const char *region_code)
{
	switch (p->role) {
	case AUTH_ROLE_ADMIN:
	case AUTH_ROLE_INTEGRATION:
		return true;
	case AUTH_ROLE_MODERATOR:
	case AUTH_ROLE_ANALYST:
		if (auth_region_covers(p->region_prefix, region_code))
			return true;
		break;
	case AUTH_ROLE_KIM_MEMBER:
	case AUTH_ROLE_KIM_ADMIN:
		if (kim_id && p->kim_id[0] && strcasecmp(kim_id, p->kim_id) == 0)
			return true;
		break;
	default:
		break;
	}
	return author_id && strcasecmp(author_id, p->user_id) == 0;
}

/* ---- token resolution through libs/auth ---- */

static int resolved(int rc, const char *why, struct ingest_verr *e)
{
	if (rc == UTIL_EUNAVAIL) {
		ingest_verr_set(e, 503, "unavailable", NULL, "database unavailable");
		return UTIL_EUNAVAIL;
	}
	if (rc)
		return ingest_verr_set(e, 401, "unauthorized", NULL, "%s", why);
	return 0;
}

int ingest_auth_resolve_token(struct auth *a, const char *token, struct auth_principal *p,
			      struct ingest_verr *e)
{
	char why[128];

	return resolved(auth_resolve_token(a, token, p, why, sizeof(why)), why, e);
}

int ingest_auth_resolve(struct auth *a, const char *header, struct auth_principal *p,
			struct ingest_verr *e)
{
	char why[128];

	return resolved(auth_resolve(a, header, p, why, sizeof(why)), why, e);
}
