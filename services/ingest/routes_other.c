/*
 * services/ingest/routes_other.c - POST /v1/aspirasi (citizens, no account,
 * rate-limited per client address) and POST/GET /v1/kims (registration).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <simpul/v1/content.pb-c.h>

#include "cache/cache.h"
#include "db/db.h"
#include "http/http.h"
#include "db/pool.h"
#include "ingest.h"
#include "util/err.h"

/* 0 when allowed; else e = 429 rate_limited with the wait in retry_s. */
static int aspirasi_limit(struct ingest_app *app, struct http_request *req, int64_t *retry_s,
			  struct ingest_verr *e)
{
	char key[96];
	bool allowed = true;
	int64_t retry_ms = 0;

	snprintf(key, sizeof(key), "aspirasi:%s", http_request_client_addr(req));
	if (cache_ratelimit_take(app->cache, key, (double)app->cfg->aspirasi_rate_per_min / 60.0,
				 (double)app->cfg->aspirasi_burst, &allowed, &retry_ms) != 0)
		return 0; /* a bad key cannot happen; never block citizens on our error */
	if (allowed)
		return 0;
	*retry_s = (retry_ms + 999) / 1000;
	return ingest_verr_set(e, 429, "rate_limited", NULL, "too many submissions, retry in %llds",
			       (long long)*retry_s);
}

void ingest_route_aspirasi_post(struct http_request *req, void *ud)
{
	struct ingest_app *app = ud;
	struct util_slice body = http_request_body(req);
	struct submission s = {0};
	struct ingest_verr e;
	struct ingest_source src;
	char key[INGEST_KEY_MAX + 1], scope[80], ra[24];
	unsigned char hash[32];
	int64_t retry_s = 1;

	if (ingest_admit(app, req))
		return;
	if (aspirasi_limit(app, req, &retry_s, &e)) {
		snprintf(ra, sizeof(ra), "%lld", (long long)retry_s);
		ingest_header(req, "Retry-After", ra);
		ingest_count_rejected(&app->m, e.code);
		http_reply_error(req, 429, e.code, e.message, NULL);
		return;
	}
	if (ingest_idem_key(req, key, &e))
		goto reject;
	if (!ingest_content_type_is(req, "application/json")) {
		ingest_verr_set(&e, 415, "unsupported_media_type", NULL,
				"Content-Type must be application/json");
		goto reject;
	}
	if (ingest_submission_parse(body.ptr, body.len, INGEST_FORM_ASPIRASI, &s, &e))
		goto reject;
	snprintf(scope, sizeof(scope), "ip:%s", http_request_client_addr(req));
	util_sha256(body.ptr, body.len, hash);
	src = (struct ingest_source){.source = SIMPUL__V1__CONTENT_SOURCE__CONTENT_SOURCE_ASPIRASI,
				     .scope = scope,
				     .key = key,
				     .hash = hash,
				     .trace_id = http_request_id(req)};
	ingest_submit_one(app, req, ingest_item_content(&s, &src), "/v1/aspirasi");
	ingest_submission_release(&s);
	return;
reject:
	ingest_submission_release(&s);
	ingest_reply_verr(app, req, &e);
}

void ingest_route_kims_post(struct http_request *req, void *ud)
{
	struct ingest_app *app = ud;
	struct util_slice body = http_request_body(req);
	struct auth_principal p;
	struct kim_form k = {0};
	struct ingest_verr e;
	struct ingest_source src;
	char key[INGEST_KEY_MAX + 1];
	unsigned char hash[32];

	if (ingest_admit(app, req))
		return;
	if (ingest_auth_resolve(app->auth, http_request_header(req, "Authorization"), &p, &e) ||
	    ingest_auth_may_register(&p, &e) || ingest_idem_key(req, key, &e))
		goto reject;
	if (!ingest_content_type_is(req, "application/json")) {
		ingest_verr_set(&e, 415, "unsupported_media_type", NULL,
				"Content-Type must be application/json");
		goto reject;
	}
	if (ingest_kim_parse(body.ptr, body.len, &k, &e))
		goto reject;
	util_sha256(body.ptr, body.len, hash);
	src = (struct ingest_source){.scope = p.user_id,
				     .key = key,
				     .hash = hash,
				     .author_id = p.user_id,
				     .trace_id = http_request_id(req)};
	ingest_submit_one(app, req, ingest_item_kim(&k, &src), "/v1/kims");
	ingest_kim_release(&k);
	return;
reject:
	ingest_kim_release(&k);
	ingest_reply_verr(app, req, &e);
}

static const char kim_get_sql[] =
	"SELECT k.registered_by::text AS registered_by, k.region_code, "
	"pg_catalog.json_build_object('id', k.id, 'name', k.name, 'region_code', k.region_code, "
	"'decree_number', k.decree_number, 'decree_date', k.decree_date, 'fields', k.fields, "
	"'status', k.status, 'created_at', k.created_at, 'updated_at', k.updated_at, "
	"'version', k.version)::text AS doc, "
	"pg_catalog.json_build_object('contacts', k.contacts, 'members', k.members)::text "
	"AS private FROM simpul.kims k WHERE k.id = $1::uuid";

/* Contacts and members are personal data: shown to the registrant, the
 * KIM's own accounts, moderators of the region and admins. */
static bool may_see_private(const struct auth_principal *p, const char *kim_id,
			    const char *registered_by, const char *region)
{
	if (p->role == AUTH_ROLE_MODERATOR)
		return auth_region_covers(p->region_prefix, region);
	if (p->role == AUTH_ROLE_ANALYST)
		return false;
	return ingest_auth_may_read(p, registered_by, kim_id, region);
}

void ingest_route_kims_get(struct http_request *req, void *ud)
{
	struct ingest_app *app = ud;
	const char *id = http_request_param(req, "id");
	struct auth_principal p;
	struct ingest_verr e;
	PGresult *res = NULL;
	struct db_conn *db;
	char err[256];
	json_t *doc;
	int rc;

	if (ingest_auth_resolve(app->auth, http_request_header(req, "Authorization"), &p, &e)) {
		ingest_reply_verr(app, req, &e);
		return;
	}
	if (!id || !util_uuid_valid(id)) {
		http_reply_error(req, 404, "not_found", "no such kim", NULL);
		return;
	}
	db = db_pool_get(app->pool);
	rc = db_exec(db, kim_get_sql, 1, (const char *const[]){id}, NULL, &res, err, sizeof(err));
	db_pool_put(app->pool, db);
	if (rc) {
		ingest_verr_set(&e, 503, "unavailable", NULL, "database unavailable, retry");
		ingest_reply_verr(app, req, &e);
	} else if (PQntuples(res) != 1) {
		http_reply_error(req, 404, "not_found", "no such kim", NULL);
	} else {
		doc = json_loads(db_value(res, 0, "doc"), 0, NULL);
		if (doc && may_see_private(&p, id, db_value(res, 0, "registered_by"),
					   db_value(res, 0, "region_code")))
		{
			json_t *priv = json_loads(db_value(res, 0, "private"), 0, NULL);

			json_object_update(doc, priv);
			json_decref(priv);
		}
		http_reply_json(req, 200, doc);
	}
	PQclear(res);
}
