/*
 * services/moderate/routes.c - the review HTTP API: queue with filters and
 * counts per region, item detail, claim/release, decide (one or many),
 * KIM verification, appeal, audit log, reload. Moderators see only their
 * region subtree (403 outside it); admins see everything.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db/db.h"
#include "db/pool.h"
#include "mod_app.h"
#include "mod_events.h"
#include "text/utf8.h"
#include "util/err.h"

#define BULK_MAX 500
#define NOTE_MAX 2000

static const char *const reason_codes[] = {"ok",   "spam",	 "abusive",   "sara",
					   "gambling", "porn",	 "hoax",      "pii",
					   "duplicate", "off_topic", "incomplete", "invalid_kim",
					   "other"};

static bool reason_valid(const char *r)
{
	for (size_t i = 0; i < sizeof(reason_codes) / sizeof(reason_codes[0]); i++)
		if (!strcmp(r, reason_codes[i]))
			return true;
	return false;
}

/* Resolves the caller; replies 401/503 itself and returns false. */
static bool principal(struct mod_app *a, struct http_request *req, struct auth_principal *p,
		      bool reviewer)
{
	char err[128];
	int rc = auth_resolve(a->auth, http_request_header(req, "Authorization"), p, err,
			      sizeof(err));

	if (rc == UTIL_EUNAVAIL) {
		http_reply_error(req, 503, "unavailable", "cannot check the token now", NULL);
		return false;
	}
	if (rc != 0) {
		http_reply_error(req, 401, "unauthorized", err, NULL);
		return false;
	}
	if (reviewer && p->role != AUTH_ROLE_MODERATOR && p->role != AUTH_ROLE_ADMIN) {
		http_reply_error(req, 403, "forbidden", "moderators only", NULL);
		return false;
	}
	return true;
}

static void send_reply(struct http_request *req, struct mod_reply *r)
{
	if (r->status >= 400) {
		json_decref(r->body);
		http_reply_error(req, r->status, r->code, r->message, NULL);
	} else {
		http_reply_json(req, r->status, r->body);
	}
}

/* A region code filter: digits and dots only (it goes into LIKE). */
static bool region_ok(const char *s)
{
	if (!s || !*s || strlen(s) > 31)
		return false;
	for (; *s; s++)
		if ((*s < '0' || *s > '9') && *s != '.')
			return false;
	return true;
}

static json_t *rows_json(PGresult *res)
{
	json_t *a = json_array();

	for (int i = 0; a && i < PQntuples(res); i++) {
		json_t *o = json_object();

		for (int c = 0; c < PQnfields(res); c++)
			json_object_set_new(o, PQfname(res, c),
					    PQgetisnull(res, i, c)
						    ? json_null()
						    : json_string(PQgetvalue(res, i, c)));
		json_array_append_new(a, o);
	}
	return a;
}

/* Runs a read query on a pooled connection and replies {key: rows}. */
static void reply_query(struct mod_app *a, struct http_request *req, const char *key,
			const char *sql, int n, const char *const *v)
{
	struct db_conn *db = db_pool_get(a->pool);
	PGresult *res = NULL;
	char err[256];
	int rc = db_exec(db, sql, n, v, NULL, &res, err, sizeof(err));

	db_pool_put(a->pool, db);
	if (rc == UTIL_EUNAVAIL)
		http_reply_error(req, 503, "unavailable", "database unavailable", NULL);
	else if (rc != 0)
		http_reply_error(req, rc == UTIL_EINVAL ? 422 : 500,
				 rc == UTIL_EINVAL ? "invalid_field" : "internal", err, NULL);
	else
		http_reply_json(req, 200, json_pack("{s:o}", key, rows_json(res)));
	PQclear(res);
}

static bool filter_region(struct http_request *req, const struct auth_principal *p,
			  const char **region)
{
	*region = http_request_query(req, "region");
	if (*region && !region_ok(*region)) {
		http_reply_error(req, 422, "invalid_field", "region: a Kemendagri code", "region");
		return false;
	}
	if (*region && !auth_scope_covers(p, *region)) {
		http_reply_error(req, 403, "forbidden", "region outside your scope", "region");
		return false;
	}
	return true;
}

/*
 * An optional integer query argument within [min, max] (def when absent),
 * printed into buf; replies 422 with the field and returns false otherwise.
 * "abc", "5x", "" or an out-of-range value is refused, never clamped.
 */
static bool int_arg(struct http_request *req, const char *name, long min, long max, long def,
		    char *buf, size_t len)
{
	const char *s = http_request_query(req, name);
	char *end = NULL, msg[96];
	long n = def;

	if (s) {
		errno = 0;
		n = strtol(s, &end, 10);
		if (!*s || *end || errno || n < min || n > max) {
			snprintf(msg, sizeof(msg), "%s: an integer from %ld to %ld", name, min,
				 max);
			http_reply_error(req, 422, "invalid_field", msg, name);
			return false;
		}
	}
	snprintf(buf, len, "%ld", n);
	return true;
}

/* Free-text filters go into SQL as text: invalid UTF-8 is the caller's 422. */
static bool text_args_ok(struct http_request *req, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *v = http_request_query(req, names[i]);

		if (v && !text_utf8_valid(v, strlen(v))) {
			http_reply_error(req, 422, "invalid_field", "not valid UTF-8", names[i]);
			return false;
		}
	}
	return true;
}

static void h_queue(struct http_request *req, void *ud)
{
	struct mod_app *a = ud;
	struct auth_principal p;
	static const char *const texts[] = {"type", "signal", "kind"};
	const char *region;
	char lim[24], age[24];

	if (!principal(a, req, &p, true) || !filter_region(req, &p, &region) ||
	    !int_arg(req, "limit", 1, 500, 50, lim, sizeof(lim)) ||
	    !int_arg(req, "min_age_s", 0, 100L * 366 * 86400, 0, age, sizeof(age)) ||
	    !text_args_ok(req, texts, 3))
		return;
	{
		const char *v[8] = {p.region_prefix,
				    region,
				    http_request_query(req, "type"),
				    http_request_query(req, "signal"),
				    http_request_query(req, "min_age_s") ? age : NULL,
				    http_request_query(req, "kind"),
				    p.user_id,
				    lim};

		reply_query(a, req, "items",
			    "SELECT item_id AS id, version, kind, region_code, content_type AS type, "
			    "title, score, array_to_string(signal_names, ',') AS signals, "
			    "submitted_at, claimed_by, CASE WHEN claim_expires_at > now() THEN "
			    "claim_expires_at END AS claim_expires_at, appeal_state, escalated "
			    "FROM simpul.moderation_items WHERE state = 'review' "
			    "AND ($1 = '' OR region_code = $1 OR region_code LIKE $1 || '.%') "
			    "AND ($2::text IS NULL OR region_code = $2 OR region_code LIKE $2 || '.%') "
			    "AND ($3::text IS NULL OR content_type = $3) "
			    "AND ($4::text IS NULL OR $4 = ANY (signal_names)) "
			    "AND ($5::bigint IS NULL OR submitted_at <= now() - $5::bigint * "
			    "interval '1 s') AND ($6::text IS NULL OR kind = $6) "
			    "AND excluded_moderator IS DISTINCT FROM $7::uuid "
			    "ORDER BY score DESC, submitted_at ASC LIMIT $8::int",
			    8, v);
	}
}

static void h_counts(struct http_request *req, void *ud)
{
	static const char *const widths[] = {"2", "2", "5", "8", "13"};
	struct mod_app *a = ud;
	struct auth_principal p;
	char d[24];

	if (!principal(a, req, &p, true) || !int_arg(req, "depth", 1, 4, 2, d, sizeof(d)))
		return;
	{
		const char *v[2] = {p.region_prefix, widths[d[0] - '0']};

		reply_query(a, req, "regions",
			    "SELECT left(region_code, $2::int) AS region, count(*) AS pending, "
			    "min(submitted_at) AS oldest FROM simpul.moderation_items "
			    "WHERE state = 'review' AND ($1 = '' OR region_code = $1 OR "
			    "region_code LIKE $1 || '.%') GROUP BY 1 ORDER BY 1",
			    2, v);
	}
}

static void h_audit(struct http_request *req, void *ud)
{
	struct mod_app *a = ud;
	struct auth_principal p;
	static const char *const texts[] = {"moderator"};
	const char *region, *item = http_request_query(req, "item");
	char lim[24];

	if (!principal(a, req, &p, true) || !filter_region(req, &p, &region) ||
	    !int_arg(req, "limit", 1, 500, 50, lim, sizeof(lim)) || !text_args_ok(req, texts, 1))
		return;
	if (item && !util_uuid_valid(item)) {
		http_reply_error(req, 422, "invalid_field", "item: a uuid", "item");
		return;
	}
	{
		const char *v[5] = {p.region_prefix, item, http_request_query(req, "moderator"),
				    region, lim};

		reply_query(a, req, "entries",
			    "SELECT id, item_id, version, kind, action, actor, region_code, score, "
			    "reason_code, note, at FROM simpul.moderation_audit WHERE "
			    "($1 = '' OR region_code = $1 OR region_code LIKE $1 || '.%') "
			    "AND ($2::uuid IS NULL OR item_id = $2::uuid) "
			    "AND ($3::text IS NULL OR actor = $3) AND ($4::text IS NULL OR "
			    "region_code = $4 OR region_code LIKE $4 || '.%') "
			    "ORDER BY id DESC LIMIT $5::int",
			    5, v);
	}
}

static void h_item(struct http_request *req, void *ud)
{
	struct mod_app *a = ud;
	struct auth_principal p;
	const char *id = http_request_param(req, "id");
	const char *v[1] = {id};
	struct db_conn *db;
	PGresult *res = NULL;
	char err[256];
	int rc;

	if (!principal(a, req, &p, true))
		return;
	if (!util_uuid_valid(id)) {
		http_reply_error(req, 404, "not_found", "no such item", NULL);
		return;
	}
	db = db_pool_get(a->pool);
	rc = db_exec(db,
		     "SELECT i.item_id AS id, i.version, i.kind, i.region_code, i.state, "
		     "i.auto_decision, i.score, i.title, i.claimed_by, i.claim_expires_at, "
		     "i.decided_by, i.reason_code, i.note, i.appeal_state, (SELECT "
		     "json_agg(json_build_object('name', s.name, 'score', s.score, 'detail', "
		     "s.detail, 'spans', s.spans))::text FROM simpul.moderation_signals s WHERE "
		     "s.item_id = i.item_id AND s.version = i.version) AS signals FROM "
		     "simpul.moderation_items i WHERE i.item_id = $1::uuid ORDER BY version DESC",
		     1, v, NULL, &res, err, sizeof(err));
	db_pool_put(a->pool, db);
	if (rc != 0)
		http_reply_error(req, rc == UTIL_EUNAVAIL ? 503 : 500,
				 rc == UTIL_EUNAVAIL ? "unavailable" : "internal", err, NULL);
	else if (PQntuples(res) == 0)
		http_reply_error(req, 404, "not_found", "no such item", NULL);
	else if (!auth_scope_covers(&p, db_value(res, 0, "region_code")))
		http_reply_error(req, 403, "forbidden", "item outside your region", NULL);
	else
		http_reply_json(req, 200, json_pack("{s:o}", "versions", rows_json(res)));
	PQclear(res);
}

static json_t *body_json(struct http_request *req)
{
	struct util_slice b = http_request_body(req);
	json_t *j = b.len ? json_loadb(b.ptr, b.len, JSON_REJECT_DUPLICATES, NULL) : json_object();

	if (j && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	if (!j)
		http_reply_error(req, 400, "malformed_json", "body must be a JSON object", NULL);
	return j;
}

static void h_claim_common(struct http_request *req, void *ud, bool release)
{
	struct mod_app *a = ud;
	struct auth_principal p;
	struct mod_reply r;
	struct db_conn *db;

	if (!principal(a, req, &p, true))
		return;
	db = db_pool_get(a->pool);
	mod_review_claim(a, db, &p, http_request_param(req, "id"), release, &r);
	db_pool_put(a->pool, db);
	send_reply(req, &r);
}

static void h_claim(struct http_request *req, void *ud)
{
	h_claim_common(req, ud, false);
}

static void h_release(struct http_request *req, void *ud)
{
	h_claim_common(req, ud, true);
}

/* decision/reason/note of one JSON object; replies 422 itself. */
static bool parse_decision(struct http_request *req, json_t *o, json_t *defaults,
			   enum mod_decision *d, const char **reason, const char **note)
{
	const char *ds = json_string_value(json_object_get(o, "decision"));

	*reason = json_string_value(json_object_get(o, "reason_code"));
	*note = json_string_value(json_object_get(o, "note"));
	if (defaults) {
		ds = ds ? ds : json_string_value(json_object_get(defaults, "decision"));
		*reason = *reason ? *reason : json_string_value(json_object_get(defaults, "reason_code"));
		*note = *note ? *note : json_string_value(json_object_get(defaults, "note"));
	}
	if (!ds || (strcmp(ds, "approve") && strcmp(ds, "reject") && strcmp(ds, "verify"))) {
		http_reply_error(req, 422, "invalid_field", "decision: approve, reject or verify",
				 "decision");
		return false;
	}
	*d = strcmp(ds, "reject") ? MOD_APPROVE : MOD_REJECT;
	if (!*reason)
		*reason = *d == MOD_APPROVE ? "ok" : NULL;
	if (!*reason || !reason_valid(*reason)) {
		http_reply_error(req, 422, "invalid_field", "reason_code: unknown or missing",
				 "reason_code");
		return false;
	}
	if (*note && strlen(*note) > NOTE_MAX) {
		http_reply_error(req, 422, "too_long", "note: at most 2000 bytes", "note");
		return false;
	}
	return true;
}

static void h_decide(struct http_request *req, void *ud)
{
	struct mod_app *a = ud;
	struct auth_principal p;
	struct mod_reply r;
	enum mod_decision d;
	const char *reason, *note;
	struct db_conn *db;
	json_t *j;

	if (!principal(a, req, &p, true) || !(j = body_json(req)))
		return;
	if (parse_decision(req, j, NULL, &d, &reason, &note)) {
		db = db_pool_get(a->pool);
		mod_review_decide(a, db, &p, http_request_param(req, "id"), d, reason, note, &r);
		db_pool_put(a->pool, db);
		send_reply(req, &r);
	}
	json_decref(j);
}

/* {"ids":[...], "decision", "reason_code", "note"} or {"items":[{id, decision, ...}]} */
static void h_bulk(struct http_request *req, void *ud)
{
	struct mod_app *a = ud;
	struct auth_principal p;
	json_t *j, *list, *results = json_array(), *e;
	size_t i, ok = 0;
	struct db_conn *db;

	if (!principal(a, req, &p, true) || !(j = body_json(req))) {
		json_decref(results);
		return;
	}
	list = json_object_get(j, json_object_get(j, "items") ? "items" : "ids");
	if (!json_is_array(list) || json_array_size(list) == 0 ||
	    json_array_size(list) > BULK_MAX) {
		http_reply_error(req, 422, "invalid_field", "ids/items: 1..500 entries", "items");
		goto out;
	}
	/* Every entry is checked before the first is decided: a bad entry late in
	 * the list must not leave the earlier ones decided behind a 422. */
	json_array_foreach(list, i, e) {
		json_t *o = json_is_object(e) ? e : NULL;
		enum mod_decision d;
		const char *reason, *note;

		if (!parse_decision(req, o ? o : j, o ? j : NULL, &d, &reason, &note))
			goto out; /* replied 422 */
	}
	json_array_foreach(list, i, e) {
		json_t *o = json_is_object(e) ? e : NULL;
		const char *id = o ? json_string_value(json_object_get(o, "id")) : json_string_value(e);
		enum mod_decision d;
		const char *reason, *note;
		struct mod_reply r;

		if (!parse_decision(req, o ? o : j, o ? j : NULL, &d, &reason, &note))
			goto out; /* replied 422 */
		db = db_pool_get(a->pool);
		mod_review_decide(a, db, &p, id ? id : "", d, reason, note, &r);
		db_pool_put(a->pool, db);
		ok += r.status == 200;
		json_array_append_new(results,
				      json_pack("{s:s,s:i,s:s?}", "id", id ? id : "", "status",
						r.status, "error", r.status == 200 ? NULL : r.code));
		json_decref(r.body);
	}
	http_reply_json(req, 200,
			json_pack("{s:O,s:I,s:I}", "results", results, "ok", (json_int_t)ok,
				  "failed", (json_int_t)(json_array_size(list) - ok)));
out:
	json_decref(results);
	json_decref(j);
}

static void h_appeal(struct http_request *req, void *ud)
{
	struct mod_app *a = ud;
	struct auth_principal p;
	struct mod_reply r;
	struct db_conn *db;
	const char *note;
	json_t *j;

	if (!principal(a, req, &p, false) || !(j = body_json(req)))
		return;
	note = json_string_value(json_object_get(j, "note"));
	if (note && strlen(note) > NOTE_MAX) {
		http_reply_error(req, 422, "too_long", "note: at most 2000 bytes", "note");
	} else {
		db = db_pool_get(a->pool);
		mod_review_appeal(a, db, &p, http_request_param(req, "id"), note, &r);
		db_pool_put(a->pool, db);
		send_reply(req, &r);
	}
	json_decref(j);
}

static void h_reload(struct http_request *req, void *ud)
{
	struct mod_app *a = ud;
	struct auth_principal p;

	if (!principal(a, req, &p, false))
		return;
	if (p.role != AUTH_ROLE_ADMIN) {
		http_reply_error(req, 403, "forbidden", "admins only", NULL);
		return;
	}
	mod_state_request_reload(&a->state);
	http_reply_json(req, 202, json_pack("{s:s}", "status", "reload requested"));
}

/* ud is filled in by app.c (the route table is copied by the server). */
const struct http_route mod_routes[] = {
	{"GET", "/v1/moderation/queue", h_queue, NULL, 0},
	{"GET", "/v1/moderation/queue/counts", h_counts, NULL, 0},
	{"GET", "/v1/moderation/audit", h_audit, NULL, 0},
	{"GET", "/v1/moderation/items/{id}", h_item, NULL, 0},
	{"POST", "/v1/moderation/items/{id}/claim", h_claim, NULL, 0},
	{"POST", "/v1/moderation/items/{id}/release", h_release, NULL, 0},
	{"POST", "/v1/moderation/items/{id}/decision", h_decide, NULL, 0},
	{"POST", "/v1/moderation/kims/{id}/decision", h_decide, NULL, 0},
	{"POST", "/v1/moderation/decisions", h_bulk, NULL, 1 << 20},
	{"POST", "/v1/moderation/items/{id}/appeal", h_appeal, NULL, 0},
	{"POST", "/v1/moderation/reload", h_reload, NULL, 0},
};
const size_t mod_routes_count = sizeof(mod_routes) / sizeof(mod_routes[0]);
