/*
 * services/report/routes.c - the HTTP surface: dashboards (tiered by the
 * caller's region scope, cached in Redis), KIM activity, streamed exports,
 * background export jobs, rebuild and republish (admins only).
 *
 * Who may read: admins everywhere; analysts and moderators inside their
 * region_prefix ("" = national). Analysts are read-only: rebuild and
 * republish need an admin.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "cache/cache.h"
#include "db/db.h"
#include "http/http.h"
#include "metrics/metrics.h"
#include "db/pool.h"
#include "report.h"
#include "slog/slog.h"
#include "util/err.h"
#include "util/ids.h"

#define DASH_CACHE_MAX (4 << 20)

static void reply_db_error(struct http_request *req, int rc, const char *err)
{
	if (rc == UTIL_ENOTFOUND)
		http_reply_error(req, 404, "not_found", err, NULL);
	else if (rc == UTIL_EUNAVAIL || rc == UTIL_ETIMEOUT)
		http_reply_error(req, 503, "unavailable", "database unavailable, retry", NULL);
	else {
		slog_warn("query failed", "err=\"%s\"", err);
		http_reply_error(req, 500, "internal", "internal error", NULL);
	}
}

/* Resolves the caller; replies 401/403/503 and returns false when not allowed. */
static bool authorize(struct report_app *app, struct http_request *req, bool write,
		      struct auth_principal *p)
{
	char err[128];
	int rc = auth_resolve(app->auth, http_request_header(req, "Authorization"), p, err,
			      sizeof(err));

	if (rc == UTIL_EUNAVAIL) {
		http_reply_error(req, 503, "unavailable", "cannot check the token, retry", NULL);
		return false;
	}
	if (rc != 0) {
		if (http_reply_header(req, "WWW-Authenticate", "Bearer") != 0)
			slog_debug("header dropped", "%s", "name=WWW-Authenticate");
		http_reply_error(req, 401, "unauthorized", err, NULL);
		return false;
	}
	if (p->role == AUTH_ROLE_ADMIN)
		return true;
	if (!write && (p->role == AUTH_ROLE_ANALYST || p->role == AUTH_ROLE_MODERATOR))
		return true;
	http_reply_error(req, 403, "forbidden",
			 write ? "admins only (analysts are read-only)" : "reports need an analyst",
			 NULL);
	return false;
}

/* The region asked for ("ID"/"national" or absent = the caller's scope),
 * checked against the scope; replies and returns false when not allowed. */
static bool region_arg(struct http_request *req, const struct auth_principal *p,
		       const char *arg, char out[32])
{
	const char *r = arg ? arg : p->region_prefix;

	if (!strcmp(r, "ID") || !strcmp(r, "national"))
		r = "";
	if (strlen(r) >= 32 || !report_region_valid(r)) {
		http_reply_error(req, 400, "invalid_field", "region: not a region code", "region");
		return false;
	}
	if (!auth_scope_covers(p, r) || (!*r && p->role != AUTH_ROLE_ADMIN && *p->region_prefix)) {
		http_reply_error(req, 403, "forbidden", "region outside your scope", "region");
		return false;
	}
	memcpy(out, r, strlen(r) + 1);
	return true;
}

static bool range_arg(struct http_request *req, struct report_range *rg)
{
	char err[128];

	if (report_range_parse(http_request_query(req, "from"), http_request_query(req, "to"), rg,
			       err, sizeof(err)) == 0)
		return true;
	http_reply_error(req, 400, "invalid_field", err, strncmp(err, "to", 2) ? "from" : "to");
	return false;
}

static void dashboard(struct http_request *req, void *ud)
{
	struct report_app *app = ud;
	struct auth_principal p;
	struct report_range rg;
	struct util_buf cached;
	char region[32], key[128], err[256];
	struct db_conn *c;
	json_t *j = NULL;
	char *body;
	int rc;

	if (!authorize(app, req, false, &p) ||
	    !region_arg(req, &p, http_request_query(req, "region"), region) || !range_arg(req, &rg))
		return;
	snprintf(key, sizeof(key), "report:dash:%s:%s:%s", *region ? region : "ID", rg.from, rg.to);
	util_buf_init(&cached, DASH_CACHE_MAX);
	if (app->cfg->cache_ttl_ms > 0 && cache_get(app->cache, key, &cached) == 0) {
		metrics_counter_inc(app->cache_hits, NULL);
		if (http_reply_header(req, "X-Cache", "hit") != 0)
			slog_debug("header dropped", "%s", "name=X-Cache");
		http_reply(req, 200, "application/json", cached.data, cached.len);
		util_buf_release(&cached);
		return;
	}
	util_buf_release(&cached);
	metrics_counter_inc(app->cache_misses, NULL);
	c = db_pool_get(app->pool);
	rc = report_dashboard(c, region, &rg, &j, err, sizeof(err));
	db_pool_put(app->pool, c);
	if (rc) {
		reply_db_error(req, rc, err);
		return;
	}
	body = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!body) {
		http_reply_error(req, 500, "internal", "out of memory", NULL);
		return;
	}
	if (app->cfg->cache_ttl_ms > 0 &&
	    cache_set(app->cache, key, body, strlen(body), app->cfg->cache_ttl_ms) != 0)
		slog_debug("dashboard not cached", "key=%s", key);
	http_reply(req, 200, "application/json", body, strlen(body));
	free(body);
}

static void kim_get(struct http_request *req, void *ud)
{
	struct report_app *app = ud;
	struct auth_principal p;
	const char *id = http_request_param(req, "id");
	char err[256];
	struct db_conn *c;
	json_t *j = NULL;
	int rc;

	if (!authorize(app, req, false, &p))
		return;
	if (!util_uuid_valid(id)) {
		http_reply_error(req, 400, "invalid_field", "id: not a uuid", "id");
		return;
	}
	c = db_pool_get(app->pool);
	rc = report_kim_activity(c, id, &j, err, sizeof(err));
	db_pool_put(app->pool, c);
	if (rc) {
		reply_db_error(req, rc, err);
		return;
	}
	if (!auth_scope_covers(&p, json_string_value(json_object_get(j, "region_code")) ?: "")) {
		json_decref(j);
		http_reply_error(req, 403, "forbidden", "kim outside your scope", NULL);
		return;
	}
	http_reply_json(req, 200, j);
}

static bool format_arg(struct http_request *req, const char *f, enum report_format *out)
{
	if (!f || !strcmp(f, "csv"))
		*out = REPORT_CSV;
	else if (!strcmp(f, "ndjson"))
		*out = REPORT_NDJSON;
	else {
		http_reply_error(req, 400, "invalid_field", "format: csv or ndjson", "format");
		return false;
	}
	return true;
}

struct counted_stream {
	struct report_export_stream *s;
	struct report_app *app;
};

static ssize_t counted_read(void *ud, char *buf, size_t max)
{
	return report_export_read(((struct counted_stream *)ud)->s, buf, max);
}

static void counted_free(void *ud)
{
	struct counted_stream *cs = ud;

	report_export_close(cs->s);
	pthread_mutex_lock(&cs->app->mu);
	cs->app->exports_running--;
	pthread_mutex_unlock(&cs->app->mu);
	free(cs);
}

static void export_get(struct http_request *req, void *ud)
{
	struct report_app *app = ud;
	struct auth_principal p;
	struct report_range rg;
	enum report_format f;
	char region[32], err[256];
	struct counted_stream *cs;
	bool busy;

	if (!authorize(app, req, false, &p) ||
	    !region_arg(req, &p, http_request_query(req, "region"), region) ||
	    !range_arg(req, &rg) || !format_arg(req, http_request_query(req, "format"), &f))
		return;
	pthread_mutex_lock(&app->mu);
	busy = app->exports_running >= app->cfg->exports_max;
	if (!busy)
		app->exports_running++;
	pthread_mutex_unlock(&app->mu);
	if (busy) {
		if (http_reply_header(req, "Retry-After", "5") != 0)
			slog_debug("header dropped", "%s", "name=Retry-After");
		http_reply_error(req, 503, "busy", "too many exports running, retry", NULL);
		return;
	}
	cs = calloc(1, sizeof(*cs));
	if (cs) {
		cs->app = app;
		cs->s = report_export_open(app->cfg->pg_url, region, &rg, f, err, sizeof(err));
	}
	if (!cs || !cs->s) {
		free(cs);
		pthread_mutex_lock(&app->mu);
		app->exports_running--;
		pthread_mutex_unlock(&app->mu);
		http_reply_error(req, 503, "unavailable", "export cannot start, retry", NULL);
		return;
	}
	http_reply_stream(req, 200, f == REPORT_CSV ? "text/csv" : "application/x-ndjson",
			  counted_read, cs, counted_free);
}

/* POST /v1/reports/exports {"region","from","to","format"} -> 202 job */
static void job_post(struct http_request *req, void *ud)
{
	struct report_app *app = ud;
	struct auth_principal p;
	struct report_range rg;
	enum report_format f;
	struct util_slice b = http_request_body(req);
	json_t *in = json_loadb(b.ptr, b.len, 0, NULL), *out;
	const char *region_s = NULL, *from = NULL, *to = NULL, *fmt = NULL;
	char region[32], err[256];
	PGresult *r = NULL;
	struct db_conn *c;
	int rc;

	if (!authorize(app, req, false, &p))
		goto out;
	if (!in || json_unpack(in, "{s?s s?s s?s s?s}", "region", &region_s, "from", &from, "to",
			       &to, "format", &fmt) != 0) {
		http_reply_error(req, 400, "invalid_json", "expected an object of strings", NULL);
		goto out;
	}
	if (!region_arg(req, &p, region_s, region) || !format_arg(req, fmt, &f))
		goto out;
	if (report_range_parse(from, to, &rg, err, sizeof(err)) != 0) {
		http_reply_error(req, 400, "invalid_field", err, NULL);
		goto out;
	}
	c = db_pool_get(app->pool);
	rc = db_exec(c,
		     "INSERT INTO simpul.report_exports (user_id, region_code, format, day_from,"
		     " day_to) VALUES ($1::uuid, $2, $3, $4::date, $5::date) RETURNING id::text AS id",
		     5, (const char *const[]){p.user_id, region, f == REPORT_CSV ? "csv" : "ndjson",
					      rg.from, rg.to},
		     NULL, &r, err, sizeof(err));
	db_pool_put(app->pool, c);
	if (rc) {
		reply_db_error(req, rc, err);
		goto out;
	}
	report_jobs_wake(app->jobs);
	out = json_pack("{ssss}", "id", db_value(r, 0, "id"), "status", "queued");
	PQclear(r);
	http_reply_json(req, 202, out);
out:
	json_decref(in);
}

/* Loads a job visible to p into *r (one row); replies and returns false otherwise. */
static bool job_load(struct report_app *app, struct http_request *req,
		     const struct auth_principal *p, PGresult **r)
{
	const char *id = http_request_param(req, "id");
	char err[256];
	struct db_conn *c;
	int rc;

	if (!util_uuid_valid(id)) {
		http_reply_error(req, 400, "invalid_field", "id: not a uuid", "id");
		return false;
	}
	c = db_pool_get(app->pool);
	rc = db_exec(c,
		     "SELECT id, user_id::text AS user_id, region_code, format, day_from, day_to,"
		     " status, path, rows, bytes, error, created_at, finished_at"
		     " FROM simpul.report_exports WHERE id = $1::uuid",
		     1, (const char *const[]){id}, NULL, r, err, sizeof(err));
	db_pool_put(app->pool, c);
	if (rc) {
		reply_db_error(req, rc, err);
		return false;
	}
	if (PQntuples(*r) != 1 || (p->role != AUTH_ROLE_ADMIN &&
				   strcmp(db_value(*r, 0, "user_id"), p->user_id) != 0)) {
		PQclear(*r);
		http_reply_error(req, 404, "not_found", "no such export", NULL);
		return false;
	}
	return true;
}

static void job_get(struct http_request *req, void *ud)
{
	struct report_app *app = ud;
	struct auth_principal p;
	PGresult *r = NULL;
	json_t *o = json_object();
	const char *const cols[] = {"id",     "region_code", "format", "day_from",   "day_to",
				    "status", "error",	     "created_at", "finished_at"};

	if (!authorize(app, req, false, &p) || !job_load(app, req, &p, &r)) {
		json_decref(o);
		return;
	}
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
		const char *v = db_value(r, 0, cols[i]);

		json_object_set_new(o, cols[i], v ? json_string(v) : json_null());
	}
	json_object_set_new(o, "rows", json_integer(atoll(db_value(r, 0, "rows") ?: "0")));
	json_object_set_new(o, "bytes", json_integer(atoll(db_value(r, 0, "bytes") ?: "0")));
	PQclear(r);
	http_reply_json(req, 200, o);
}

static ssize_t file_read(void *ud, char *buf, size_t max)
{
	size_t n = fread(buf, 1, max, ud);

	return n > 0 ? (ssize_t)n : (ferror((FILE *)ud) ? -1 : 0);
}

static void file_close(void *ud)
{
	fclose(ud);
}

static void job_file(struct http_request *req, void *ud)
{
	struct report_app *app = ud;
	struct auth_principal p;
	PGresult *r = NULL;
	FILE *f = NULL;
	bool csv;

	if (!authorize(app, req, false, &p) || !job_load(app, req, &p, &r))
		return;
	if (strcmp(db_value(r, 0, "status"), "ready") != 0 ||
	    !(f = fopen(db_value(r, 0, "path"), "rb"))) {
		PQclear(r);
		http_reply_error(req, 409, "not_ready", "the export is not ready", NULL);
		return;
	}
	csv = !strcmp(db_value(r, 0, "format"), "csv");
	PQclear(r);
	http_reply_stream(req, 200, csv ? "text/csv" : "application/x-ndjson", file_read, f,
			  file_close);
}

static void rebuild_post(struct http_request *req, void *ud)
{
	struct report_app *app = ud;
	struct auth_principal p;
	char err[256];
	int gen = 0, rc;

	if (!authorize(app, req, true, &p))
		return;
	rc = report_rebuild_start(app->rebuild, &gen, err, sizeof(err));
	if (rc == UTIL_ECONFLICT) {
		http_reply_error(req, 409, "conflict", err, NULL);
		return;
	}
	if (rc) {
		reply_db_error(req, rc, err);
		return;
	}
	http_reply_json(req, 202, report_rebuild_status(app->rebuild));
}

static void rebuild_get(struct http_request *req, void *ud)
{
	struct report_app *app = ud;
	struct auth_principal p;

	if (authorize(app, req, false, &p))
		http_reply_json(req, 200, report_rebuild_status(app->rebuild));
}

static void republish_post(struct http_request *req, void *ud)
{
	struct report_app *app = ud;
	struct auth_principal p;
	struct db_conn *c;
	char err[256];
	int64_t n = 0;
	int rc;

	if (!authorize(app, req, true, &p))
		return;
	c = db_pool_get(app->pool);
	rc = report_mark_all_dirty(c, &n, err, sizeof(err));
	db_pool_put(app->pool, c);
	if (rc) {
		reply_db_error(req, rc, err);
		return;
	}
	http_reply_json(req, 202, json_pack("{sI}", "marked", (json_int_t)n));
}

size_t report_routes(struct report_app *app, struct http_route *out, size_t cap)
{
	const struct http_route routes[] = {
		{"GET", "/v1/reports/dashboard", dashboard, app, 0},
		{"GET", "/v1/reports/kims/{id}", kim_get, app, 0},
		{"GET", "/v1/reports/export", export_get, app, 0},
		{"POST", "/v1/reports/exports", job_post, app, 4096},
		{"GET", "/v1/reports/exports/{id}", job_get, app, 0},
		{"GET", "/v1/reports/exports/{id}/file", job_file, app, 0},
		{"POST", "/v1/reports/rebuild", rebuild_post, app, 0},
		{"GET", "/v1/reports/rebuild", rebuild_get, app, 0},
		{"POST", "/v1/reports/republish", republish_post, app, 0},
	};
	size_t n = sizeof(routes) / sizeof(routes[0]);

	if (n > cap)
		return 0;
	memcpy(out, routes, sizeof(routes));
	return n;
}
