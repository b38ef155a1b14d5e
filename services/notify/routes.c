/*
 * services/notify/routes.c - the subscriptions API. Every route needs a
 * token; the token's user owns what it creates and sees only its own
 * subscriptions and deliveries (others' ids answer 404).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "db/db.h"
#include "http/http.h"
#include "db/pool.h"
#include "notify.h"
#include "slog/slog.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/ids.h"

#define KEYWORDS_MAX 20
#define KEYWORD_MAX 50

/* Columns of one subscription as JSON (alias s), secrets left out. */
#define SUB_JSON                                                                                   \
	"json_build_object('id', s.id, 'channel', s.channel, 'target', s.target, 'kinds', "       \
	"s.kinds, 'region_prefix', s.region_prefix, 'content_type', s.content_type, 'kim_id', "   \
	"s.kim_id, 'keywords', s.keywords, 'mode', s.mode, 'digest_hour', s.digest_hour, 'tz', "  \
	"s.tz, 'flagged_at', s.flagged_at, 'flag_reason', s.flag_reason, 'created_at', "          \
	"s.created_at, 'rotation_until', s.prev_secret_until)"

/* A validated POST /v1/subscriptions body. */
struct sub_form {
	const char *channel, *target, *region, *ctype, *kim_id, *mode, *tz;
	int hour;
	struct util_buf kinds, scopes, keywords; /* PostgreSQL array literals */
	char msg[256];                           /* a detailed refusal reason */
};

/* Sets the field and reason of a refusal; returns UTIL_EINVAL. */
static int bad(const char **field, const char **why, const char *f, const char *msg)
{
	*field = f;
	*why = msg;
	return UTIL_EINVAL;
}

static void reply_db_error(struct http_request *req, int rc, const char *err)
{
	slog_warn("database error", "rc=%d err=\"%s\"", rc, err);
	if (rc == UTIL_EUNAVAIL) {
		if (http_reply_header(req, "Retry-After", "2") != 0)
			slog_warn("response header dropped", NULL);
		http_reply_error(req, 503, "unavailable", "database unavailable", NULL);
		return;
	}
	http_reply_error(req, 500, "internal", "database error", NULL);
}

/* Resolves the caller; replies 401/503 itself and returns false on failure. */
static bool authenticate(struct notify_app *app, struct http_request *req,
			 struct auth_principal *p)
{
	char why[128];
	int rc = auth_resolve(app->auth, http_request_header(req, "Authorization"), p, why,
			      sizeof(why));

	if (rc == 0)
		return true;
	if (rc == UTIL_EUNAVAIL) {
		http_reply_error(req, 503, "unavailable", "token store unavailable", NULL);
		return false;
	}
	if (http_reply_header(req, "WWW-Authenticate", "Bearer") != 0)
		slog_warn("response header dropped", NULL);
	http_reply_error(req, 401, "unauthorized", why, NULL);
	return false;
}

/* Runs sql with params on a pooled connection; *res as db_exec. */
static int query(struct notify_app *app, const char *sql, int n, const char *const *vals,
		 PGresult **res, char *err, size_t errlen)
{
	struct db_conn *db = db_pool_get(app->pool);
	int rc = db_exec(db, sql, n, vals, NULL, res, err, errlen);

	db_pool_put(app->pool, db);
	return rc;
}

/* Replies with the first column of the first row as JSON text. */
static void reply_json_text(struct http_request *req, int status, PGresult *res)
{
	const char *v = PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "null";

	http_reply(req, status, "application/json", v, strlen(v));
}

static int lit_close(struct util_buf *b)
{
	return util_buf_append_str(b, "}");
}

static const char *jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/*
 * The first optional text field sent with another JSON type, or NULL: a
 * number or object there must be refused, not read as "absent" (which would
 * silently apply the default, e.g. a national region for region_prefix: 5).
 */
static const char *wrong_type(json_t *o)
{
	static const char *const keys[] = {"channel", "target", "region_prefix", "content_type",
					   "kim_id",  "mode",   "tz"};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *v = json_object_get(o, keys[i]);

		if (v && !json_is_string(v) && !json_is_null(v))
			return keys[i];
	}
	return NULL;
}

static bool email_valid(const char *s)
{
	const char *at = strchr(s, '@');
	size_t n = strlen(s);

	if (n < 3 || n > 254 || !at || at == s || !at[1] || strchr(at + 1, '@'))
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || strchr("<>()[],;:\"\\", *s) || *s == 0x7f)
			return false;
	return true;
}

/* The KIM's region (for defaults), "" when unknown. */
static void kim_region(struct notify_app *app, const char *kim_id, char out[32])
{
	PGresult *res = NULL;
	char err[128];

	out[0] = '\0';
	if (!kim_id[0] || query(app, "SELECT region_code FROM simpul.kims WHERE id = $1", 1,
				(const char *const[]){kim_id}, &res, err, sizeof(err)) != 0)
		goto out;
	if (PQntuples(res) == 1)
		snprintf(out, 32, "%s", PQgetvalue(res, 0, 0));
out:
	PQclear(res);
}

/* The match scope of one kind for this subscriber. */
static int kind_scope(const struct auth_principal *p, const struct sub_form *f, const char *kind,
		      char *scope, size_t len, const char **why)
{
	if (strcmp(kind, NOTIFY_KIND_DECIDED) == 0 || strcmp(kind, NOTIFY_KIND_REGISTRATION) == 0) {
		if (p->kim_id[0])
			snprintf(scope, len, "kim:%s", p->kim_id);
		else
			snprintf(scope, len, "user:%s", p->user_id);
		return 0;
	}
	if (strcmp(kind, NOTIFY_KIND_REVIEW) == 0 && p->role != AUTH_ROLE_MODERATOR &&
	    p->role != AUTH_ROLE_ADMIN) {
		*why = "only moderators and admins may subscribe to review.awaiting";
		return UTIL_EDENIED;
	}
	if (strcmp(kind, NOTIFY_KIND_REVIEW) == 0 && !auth_scope_covers(p, f->region)) {
		*why = "region_prefix is outside your moderation scope";
		return UTIL_EDENIED;
	}
	if (strcmp(kind, NOTIFY_KIND_PUBLISHED) == 0 && f->kim_id)
		snprintf(scope, len, "kim:%s", f->kim_id);
	else
		snprintf(scope, len, "%s", f->region);
	return 0;
}

static int form_kinds(const struct auth_principal *p, json_t *body, struct sub_form *f,
		      const char **why, const char **field)
{
	json_t *ks = json_object_get(body, "kinds"), *v;
	size_t i;
	int rc = 0;

	*field = "kinds";
	if (!json_is_array(ks) || json_array_size(ks) < 1 || json_array_size(ks) > 5) {
		*why = "kinds must be an array of 1 to 5 event kinds";
		return UTIL_EINVAL;
	}
	json_array_foreach(ks, i, v) {
		char scope[64];
		const char *k = json_string_value(v);

		if (!k || !notify_kind_valid(k)) {
			*why = "unknown event kind";
			return UTIL_EINVAL;
		}
		if ((rc = kind_scope(p, f, k, scope, sizeof(scope), why)) != 0)
			return rc;
		if (notify_lit_push(&f->kinds, k) || notify_lit_push(&f->scopes, scope))
			return UTIL_ENOMEM;
	}
	return lit_close(&f->kinds) || lit_close(&f->scopes) ? UTIL_ENOMEM : 0;
}

static int form_keywords(json_t *body, struct sub_form *f, const char **why)
{
	json_t *ks = json_object_get(body, "keywords"), *v;
	size_t i;

	if (ks && !json_is_array(ks)) {
		*why = "keywords must be an array of strings";
		return UTIL_EINVAL;
	}
	if (json_array_size(ks) > KEYWORDS_MAX) {
		*why = "at most 20 keywords";
		return UTIL_EINVAL;
	}
	json_array_foreach(ks, i, v) {
		char kw[KEYWORD_MAX + 1];
		const char *s = json_string_value(v);
		size_t n = s ? strlen(s) : 0;

		if (n < 2 || n > KEYWORD_MAX) {
			*why = "a keyword has 2 to 50 bytes";
			return UTIL_EINVAL;
		}
		for (size_t j = 0; j <= n; j++)
			kw[j] = (char)tolower((unsigned char)s[j]);
		if (notify_lit_push(&f->keywords, kw))
			return UTIL_ENOMEM;
	}
	return lit_close(&f->keywords) ? UTIL_ENOMEM : 0;
}

/* Checks the scalar fields and fills the defaults. */
static int form_scalars(struct notify_app *app, const struct auth_principal *p, json_t *body,
			struct sub_form *f, char *region_buf, const char **why, const char **field)
{
	char err[200];
	struct notify_url u;
	json_t *h = json_object_get(body, "digest_hour");
	const char *wrong = wrong_type(body);

	if (wrong) {
		snprintf(f->msg, sizeof(f->msg), "%s must be a string", wrong);
		return bad(field, why, wrong, f->msg);
	}
	f->channel = jstr(body, "channel");
	f->target = jstr(body, "target");
	f->region = jstr(body, "region_prefix");
	f->ctype = jstr(body, "content_type");
	f->kim_id = jstr(body, "kim_id");
	f->mode = jstr(body, "mode") ? jstr(body, "mode") : "immediate";
	f->tz = jstr(body, "tz");
	f->hour = !h ? 7 : json_is_integer(h) && json_integer_value(h) >= 0 &&
				   json_integer_value(h) <= 23
			   ? (int)json_integer_value(h)
			   : -1;
	if (!f->channel || (strcmp(f->channel, "webhook") && strcmp(f->channel, "email")))
		return bad(field, why, "channel", "channel must be webhook or email");
	if (!f->target)
		return bad(field, why, "target", "target is required");
	if (!strcmp(f->channel, "email") && !email_valid(f->target))
		return bad(field, why, "target", "target is not an e-mail address");
	if (!strcmp(f->channel, "webhook") && strlen(f->target) > 2000)
		return bad(field, why, "target", "url longer than 2000 bytes");
	if (!strcmp(f->channel, "webhook") &&
	    notify_url_parse(f->target, app->cfg->require_https, app->cfg->allow_loopback, &u, err,
			     sizeof(err)) != 0) {
		snprintf(f->msg, sizeof(f->msg), "%s", err);
		return bad(field, why, "target", f->msg);
	}
	if (!f->region) {
		kim_region(app, p->kim_id, region_buf);
		f->region = region_buf[0] ? region_buf : p->region_prefix;
	}
	if (!notify_region_valid(f->region))
		return bad(field, why, "region_prefix", "region_prefix is not a Kemendagri code prefix");
	if (f->ctype && !notify_content_type_valid(f->ctype))
		return bad(field, why, "content_type", "unknown content type");
	if (f->kim_id && !util_uuid_valid(f->kim_id))
		return bad(field, why, "kim_id", "kim_id must be a uuid");
	if (strcmp(f->mode, "immediate") && strcmp(f->mode, "hourly") && strcmp(f->mode, "daily"))
		return bad(field, why, "mode", "mode must be immediate, hourly or daily");
	if (f->hour < 0)
		return bad(field, why, "digest_hour", "digest_hour must be 0 to 23");
	if (!f->tz)
		f->tz = notify_region_tz(f->region);
	if (strcmp(f->tz, "WIB") && strcmp(f->tz, "WITA") && strcmp(f->tz, "WIT"))
		return bad(field, why, "tz", "tz must be WIB, WITA or WIT");
	return 0;
}

static void form_release(struct sub_form *f)
{
	util_buf_release(&f->kinds);
	util_buf_release(&f->scopes);
	util_buf_release(&f->keywords);
}

static const char create_sql[] =
	"WITH s AS (INSERT INTO simpul.notify_subscriptions (realm, owner_id, channel, target, "
	"kinds, region_prefix, content_type, kim_id, keywords, mode, digest_hour, tz, secret) "
	"VALUES ($1, $2, $3, $4, $5::text[], $6, $7, $8, $9::text[], $10, $11::smallint, $12, "
	"$13) RETURNING *), "
	"m AS (INSERT INTO simpul.notify_sub_match (realm, kind, scope, content_type, "
	"subscription_id) SELECT s.realm, u.k, u.sc, s.content_type, s.id FROM s, "
	"unnest($5::text[], $14::text[]) AS u(k, sc) ON CONFLICT DO NOTHING) "
	"SELECT " SUB_JSON "::jsonb || jsonb_build_object('secret', CASE WHEN s.channel = "
	"'webhook' THEN s.secret END) FROM s";

static void route_create(struct http_request *req, void *ud)
{
	struct notify_app *app = ud;
	struct auth_principal p;
	struct sub_form f = {0};
	struct util_slice b = http_request_body(req);
	char region[32], secret[64], hour[8], err[256];
	const char *why = "invalid body", *field = NULL;
	json_t *body = NULL;
	PGresult *res = NULL;
	int rc;

	if (!authenticate(app, req, &p))
		return;
	util_buf_init(&f.kinds, 8192);
	util_buf_init(&f.scopes, 8192);
	util_buf_init(&f.keywords, 8192);
	if (util_buf_append_str(&f.kinds, "{") || util_buf_append_str(&f.scopes, "{") ||
	    util_buf_append_str(&f.keywords, "{")) {
		http_reply_error(req, 500, "internal", "out of memory", NULL);
		goto out;
	}
	body = json_loadb(b.ptr, b.len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(body)) {
		http_reply_error(req, 400, "malformed_json", "body must be a JSON object", NULL);
		goto out;
	}
	rc = form_scalars(app, &p, body, &f, region, &why, &field);
	if (!rc)
		rc = form_kinds(&p, body, &f, &why, &field);
	if (!rc && (rc = form_keywords(body, &f, &why)) != 0)
		field = "keywords";
	if (rc) {
		http_reply_error(req, rc == UTIL_EDENIED && field && !strcmp(field, "kinds") ? 403 : 422,
				 rc == UTIL_EDENIED ? "forbidden" : "invalid_field", why, field);
		goto out;
	}
	notify_secret_new(secret);
	snprintf(hour, sizeof(hour), "%d", f.hour);
	{
		const char *v[] = {app->cfg->realm, p.user_id, f.channel, f.target, f.kinds.data,
				   f.region, f.ctype, f.kim_id, f.keywords.data, f.mode, hour,
				   f.tz, secret, f.scopes.data};
		rc = query(app, create_sql, 14, v, &res, err, sizeof(err));
	}
	if (rc) {
		reply_db_error(req, rc, err);
		goto out;
	}
	reply_json_text(req, 201, res);
out:
	PQclear(res);
	json_decref(body);
	form_release(&f);
}

static void route_list(struct http_request *req, void *ud)
{
	struct notify_app *app = ud;
	struct auth_principal p;
	PGresult *res = NULL;
	char err[256];
	int rc;

	if (!authenticate(app, req, &p))
		return;
	rc = query(app,
		   "SELECT json_build_object('subscriptions', coalesce(json_agg(" SUB_JSON
		   " ORDER BY s.created_at), '[]')) FROM simpul.notify_subscriptions s "
		   "WHERE s.owner_id = $1 AND s.realm = $2",
		   2, (const char *const[]){p.user_id, app->cfg->realm}, &res, err, sizeof(err));
	if (rc)
		reply_db_error(req, rc, err);
	else
		reply_json_text(req, 200, res);
	PQclear(res);
}

/* Runs an owner-checked statement on {id}: $1 id, $2 owner, $3.. extra. */
static void owned(struct http_request *req, struct notify_app *app, const char *sql,
		  const char *extra, int ok_status)
{
	struct auth_principal p;
	const char *id = http_request_param(req, "id");
	PGresult *res = NULL;
	char err[256];
	int rc;

	if (!authenticate(app, req, &p))
		return;
	if (!util_uuid_valid(id)) {
		http_reply_error(req, 404, "not_found", "no such resource", NULL);
		return;
	}
	rc = query(app, sql, extra ? 3 : 2, (const char *const[]){id, p.user_id, extra}, &res,
		   err, sizeof(err));
	if (rc)
		reply_db_error(req, rc, err);
	else if (PQntuples(res) == 0)
		http_reply_error(req, 404, "not_found", "no such resource", NULL);
	else if (ok_status == 204)
		http_reply(req, 204, NULL, NULL, 0);
	else
		reply_json_text(req, ok_status, res);
	PQclear(res);
}

static void route_get(struct http_request *req, void *ud)
{
	owned(req, ud,
	      "SELECT " SUB_JSON " FROM simpul.notify_subscriptions s "
	      "WHERE s.id = $1 AND s.owner_id = $2",
	      NULL, 200);
}

static void route_delete(struct http_request *req, void *ud)
{
	owned(req, ud,
	      "DELETE FROM simpul.notify_subscriptions WHERE id = $1 AND owner_id = $2 "
	      "RETURNING id",
	      NULL, 204);
}

static void route_rotate(struct http_request *req, void *ud)
{
	struct notify_app *app = ud;
	char secret[64], grace[32], extra[100];

	notify_secret_new(secret);
	snprintf(grace, sizeof(grace), "%lld", (long long)app->cfg->rotate_grace_ms);
	/* One parameter carries both: "<grace ms>|<new secret>". */
	snprintf(extra, sizeof(extra), "%s|%s", grace, secret);
	owned(req, app,
	      "UPDATE simpul.notify_subscriptions SET prev_secret = secret, "
	      "secret = split_part($3, '|', 2), prev_secret_until = now() + "
	      "make_interval(secs => split_part($3, '|', 1)::bigint / 1000.0), updated_at = now() "
	      "WHERE id = $1 AND owner_id = $2 AND channel = 'webhook' "
	      "RETURNING json_build_object('id', id, 'secret', secret, 'previous_valid_until', "
	      "prev_secret_until)",
	      extra, 200);
}

static void route_deliveries(struct http_request *req, void *ud)
{
	owned(req, ud,
	      "SELECT json_build_object('deliveries', coalesce((SELECT json_agg(x ORDER BY "
	      "x.created_at DESC) FROM (SELECT d.id, d.event_id, d.kind, d.status, d.attempts, "
	      "d.last_status, d.last_error, d.created_at, d.delivered_at, d.next_attempt_at, "
	      "d.digest_id, (SELECT coalesce(json_agg(json_build_object('attempt', a.attempt, 'at', "
	      "a.at, 'http_status', a.http_status, 'error', a.error, 'duration_ms', a.duration_ms) "
	      "ORDER BY a.attempt), '[]') FROM simpul.notify_attempts a WHERE a.delivery_id = d.id) "
	      "AS log FROM simpul.notify_deliveries d WHERE d.subscription_id = s.id "
	      "ORDER BY d.created_at DESC LIMIT 200) x), '[]')) "
	      "FROM simpul.notify_subscriptions s WHERE s.id = $1 AND s.owner_id = $2",
	      NULL, 200);
}

static void route_redeliver(struct http_request *req, void *ud)
{
	owned(req, ud,
	      "WITH d AS (UPDATE simpul.notify_deliveries d SET status = 'pending', lane = 0, "
	      "next_attempt_at = now(), last_error = NULL FROM simpul.notify_subscriptions s "
	      "WHERE d.id = $1 AND s.id = d.subscription_id AND s.owner_id = $2 "
	      "AND d.status IN ('pending', 'delivered', 'failed') RETURNING d.id, d.subscription_id), "
	      "f AS (UPDATE simpul.notify_subscriptions s SET flagged_at = NULL, flag_reason = NULL "
	      "FROM d WHERE s.id = d.subscription_id) "
	      "SELECT json_build_object('id', d.id, 'status', 'pending') FROM d",
	      NULL, 202);
}

size_t notify_routes_fill(struct notify_app *app, struct http_route *out, size_t cap)
{
	const struct http_route routes[] = {
		{"POST", "/v1/subscriptions", route_create, app, 0},
		{"GET", "/v1/subscriptions", route_list, app, 0},
		{"GET", "/v1/subscriptions/{id}", route_get, app, 0},
		{"DELETE", "/v1/subscriptions/{id}", route_delete, app, 0},
		{"POST", "/v1/subscriptions/{id}/rotate-secret", route_rotate, app, 0},
		{"GET", "/v1/subscriptions/{id}/deliveries", route_deliveries, app, 0},
		{"POST", "/v1/deliveries/{id}/redeliver", route_redeliver, app, 0},
	};
	size_t n = sizeof(routes) / sizeof(routes[0]);

	if (n > cap)
		return 0;
	memcpy(out, routes, sizeof(routes));
	return n;
}
