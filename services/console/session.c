/*
 * services/console/session.c - the console's own endpoints: who the caller
 * is (libs/auth, plus display names from PostgreSQL), the export cookie, and
 * region names for the pages (the APIs answer with codes).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "auth/auth.h"
#include "console.h"
#include "db/db.h"
#include "db/pool.h"
#include "http/http.h"
#include "slog/slog.h"
#include "util/err.h"

#define REGION_CODES_MAX 400

bool console_caller(struct console_app *app, struct http_request *req, struct auth_principal *p)
{
	char err[128];
	int rc = auth_resolve(app->auth, http_request_header(req, "Authorization"), p, err,
			      sizeof(err));

	if (rc == UTIL_EUNAVAIL) {
		if (http_reply_header(req, "Retry-After", "2"))
			slog_warn("header not set", "name=Retry-After");
		http_reply_error(req, 503, "unavailable", "database unavailable", NULL);
		return false;
	}
	if (rc) {
		http_reply_error(req, 401, "unauthorized", err, NULL);
		return false;
	}
	return true;
}

/* {"user_id","name","role","region_prefix","region_name","kim_id"}; NULL on error. */
static json_t *principal_json(struct console_app *app, const struct auth_principal *p)
{
	const char *v[1] = {p->user_id};
	struct db_conn *c = db_pool_get(app->pool);
	PGresult *res = NULL;
	char err[128];
	json_t *j;

	if (db_exec(c, "SELECT u.name, r.name AS region_name FROM simpul.users u LEFT JOIN "
		       "simpul.regions r ON r.code = u.region_prefix WHERE u.id = $1::uuid",
		    1, v, NULL, &res, err, sizeof(err)))
		slog_warn("user name lookup failed", "error=\"%s\"", err);
	db_pool_put(app->pool, c);
	j = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s?}", "user_id", p->user_id, "name",
		      res && PQntuples(res) ? db_value(res, 0, "name") : "", "role",
		      auth_role_name(p->role), "region_prefix", p->region_prefix, "kim_id",
		      p->kim_id[0] ? p->kim_id : NULL, "region_name",
		      res && PQntuples(res) && !PQgetisnull(res, 0, 1) ? db_value(res, 0, "region_name")
								     : NULL);
	PQclear(res);
	return j;
}

void console_session_handle(struct http_request *req, void *ud)
{
	struct console_app *app = ud;
	const char *m = http_request_method(req);
	struct auth_principal p;
	char cookie[160];

	if (!strcmp(m, "DELETE")) {
		snprintf(cookie, sizeof(cookie),
			 "%s=; Path=/api/report/; Max-Age=0; HttpOnly; SameSite=Strict",
			 CONSOLE_EXPORT_COOKIE);
		if (http_reply_header(req, "Set-Cookie", cookie))
			slog_warn("header not set", "name=Set-Cookie");
		http_reply(req, 204, NULL, NULL, 0);
		return;
	}
	if (!console_caller(app, req, &p))
		return;
	if (p.role != AUTH_ROLE_MODERATOR && p.role != AUTH_ROLE_ANALYST &&
	    p.role != AUTH_ROLE_ADMIN) {
		http_reply_error(req, 403, "role_not_allowed",
				 "the console is for moderators, analysts and admins", NULL);
		return;
	}
	if (!strcmp(m, "POST")) {
		char tok[AUTH_TOKEN_LEN + 1];

		if (auth_bearer_parse(http_request_header(req, "Authorization"), tok) == 0) {
			snprintf(cookie, sizeof(cookie),
				 "%s=%s; Path=/api/report/; Max-Age=43200; HttpOnly; SameSite=Strict",
				 CONSOLE_EXPORT_COOKIE, tok);
			if (http_reply_header(req, "Set-Cookie", cookie))
				slog_warn("header not set", "name=Set-Cookie");
		}
	}
	http_reply_json(req, 200, principal_json(app, &p));
}

/* Text array literal "{a,b}" of the comma list codes (digits and dots only). */
static int codes_array(const char *codes, char *out, size_t cap)
{
	size_t n = 0, len = 0, i;

	if (!*codes)
		return UTIL_EINVAL;
	if (strlen(codes) + 3 > cap)
		return UTIL_ETOOBIG;
	out[len++] = '{';
	for (i = 0; codes[i]; i++) {
		char ch = codes[i];

		if (!(ch == '.' || ch == ',' || (ch >= '0' && ch <= '9')))
			return UTIL_EINVAL;
		if (ch == ',' && (i == 0 || codes[i - 1] == ',' || !codes[i + 1]))
			return UTIL_EINVAL; /* no empty element */
		n += ch == ',';
		out[len++] = ch;
	}
	if (n >= REGION_CODES_MAX)
		return UTIL_ETOOBIG;
	out[len++] = '}';
	out[len] = '\0';
	return 0;
}

void console_regions_get(struct http_request *req, void *ud)
{
	struct console_app *app = ud;
	const char *codes = http_request_query(req, "codes");
	const char *parent = http_request_query(req, "parent");
	char arr[REGION_CODES_MAX * 16], err[160];
	struct auth_principal p;
	PGresult *res = NULL;
	struct db_conn *c;
	json_t *list;
	int rc;

	if (!console_caller(app, req, &p))
		return;
	if ((!codes) == (!parent) || (codes && codes_array(codes, arr, sizeof(arr)))) {
		http_reply_error(req, 400, "invalid_field", "give codes=a,b (at most 400) or parent",
				 codes ? "codes" : "parent");
		return;
	}
	c = db_pool_get(app->pool);
	rc = codes ? db_exec(c, "SELECT code, name, level FROM simpul.regions WHERE code = "
			       "ANY($1::text[]) ORDER BY code",
			     1, (const char *[]){arr}, NULL, &res, err, sizeof(err))
		   : db_exec(c, "SELECT code, name, level FROM simpul.regions WHERE parent_code "
				"IS NOT DISTINCT FROM NULLIF($1, '') ORDER BY code",
			     1, (const char *[]){parent}, NULL, &res, err, sizeof(err));
	db_pool_put(app->pool, c);
	if (rc) {
		slog_warn("region lookup failed", "error=\"%s\"", err);
		http_reply_error(req, 503, "unavailable", "database unavailable", NULL);
		return;
	}
	list = json_array();
	for (int i = 0; list && i < PQntuples(res); i++)
		json_array_append_new(list, json_pack("{s:s, s:s, s:i}", "code",
						      db_value(res, i, "code"), "name",
						      db_value(res, i, "name"), "level",
						      atoi(db_value(res, i, "level"))));
	PQclear(res);
	http_reply_json(req, 200, list ? json_pack("{s:o}", "regions", list) : NULL);
}
