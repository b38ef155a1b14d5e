/*
 * services/console/items.c - GET /api/items/{id}/text: the text a moderator
 * reviews. simpul-moderate's item detail gives title, signals and spans but
 * not the body, so the console reads the item's stored payload (the packed
 * Content or Kim that moderate keeps in simpul.moderation_items, PII already
 * masked at the same length so the spans still fit) read-only, with the
 * same scope rule as moderate: moderators inside their region, admins.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "auth/auth.h"
#include "console.h"
#include "db/db.h"
#include "db/pool.h"
#include "http/http.h"
#include "simpul/v1/content.pb-c.h"
#include "simpul/v1/registry.pb-c.h"
#include "slog/slog.h"
#include "util/err.h"
#include "util/ids.h"

static json_t *strings_json(char **v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* The reviewable text of one stored version (NULL if it does not decode). */
static json_t *payload_json(const char *kind, const unsigned char *p, size_t len)
{
	json_t *j = NULL;

	if (!strcmp(kind, "content")) {
		Simpul__V1__Content *c = simpul__v1__content__unpack(NULL, len, p);

		if (c)
			j = json_pack("{s:s, s:s, s:o, s:s}", "title", c->title, "body", c->body,
				      "tags", strings_json(c->tags, c->n_tags), "author_name",
				      c->author_name);
		simpul__v1__content__free_unpacked(c, NULL);
	} else {
		Simpul__V1__Kim *k = simpul__v1__kim__unpack(NULL, len, p);
		json_t *members = json_array();

		for (size_t i = 0; k && members && i < k->n_members; i++)
			json_array_append_new(members, json_pack("{s:s, s:s}", "name",
								 k->members[i]->name, "role",
								 k->members[i]->role));
		if (k)
			j = json_pack("{s:s, s:s, s:s, s:o, s:o}", "name", k->name, "decree_number",
				      k->decree_number, "decree_date", k->decree_date, "fields",
				      strings_json(k->fields, k->n_fields), "members", members);
		else
			json_decref(members);
		simpul__v1__kim__free_unpacked(k, NULL);
	}
	return j;
}

static json_t *rows_json(PGresult *res)
{
	json_t *list = json_array();

	for (int i = 0; list && i < PQntuples(res); i++) {
		size_t len = 0;
		unsigned char *raw = PQunescapeBytea(
			(const unsigned char *)db_value(res, i, "payload"), &len);
		json_t *t = raw ? payload_json(db_value(res, i, "kind"), raw, len) : NULL;

		PQfreemem(raw);
		json_array_append_new(list,
				      json_pack("{s:i, s:s, s:o}", "version",
						atoi(db_value(res, i, "version")), "kind",
						db_value(res, i, "kind"), "text",
						t ? t : json_null()));
	}
	return list;
}

void console_item_text_get(struct http_request *req, void *ud)
{
	struct console_app *app = ud;
	const char *id = http_request_param(req, "id");
	struct auth_principal p;
	PGresult *res = NULL;
	struct db_conn *c;
	char err[160];
	int rc;

	if (!console_caller(app, req, &p))
		return;
	if (p.role != AUTH_ROLE_MODERATOR && p.role != AUTH_ROLE_ADMIN) {
		http_reply_error(req, 403, "forbidden", "moderators and admins only", NULL);
		return;
	}
	if (!util_uuid_valid(id)) {
		http_reply_error(req, 404, "not_found", "no such item", NULL);
		return;
	}
	c = db_pool_get(app->pool);
	rc = db_exec(c, "SELECT version, kind, region_code, payload FROM simpul.moderation_items "
			"WHERE item_id = $1::uuid ORDER BY version DESC",
		     1, (const char *[]){id}, NULL, &res, err, sizeof(err));
	db_pool_put(app->pool, c);
	if (rc) {
		slog_warn("item text lookup failed", "error=\"%s\"", err);
		http_reply_error(req, 503, "unavailable", "database unavailable", NULL);
	} else if (PQntuples(res) == 0) {
		http_reply_error(req, 404, "not_found", "no such item", NULL);
	} else if (!auth_scope_covers(&p, db_value(res, 0, "region_code"))) {
		http_reply_error(req, 403, "forbidden", "item outside your region", NULL);
	} else {
		json_t *v = rows_json(res);

		http_reply_json(req, 200, v ? json_pack("{s:o}", "versions", v) : NULL);
	}
	PQclear(res);
}
