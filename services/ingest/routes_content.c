/*
 * services/ingest/routes_content.c - POST /v1/content, GET /v1/content/{id}
 * and POST /v1/content:batch (NDJSON, a result per line).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <simpul/v1/content.pb-c.h>

#include "db/db.h"
#include "http/http.h"
#include "db/pool.h"
#include "ingest.h"
#include "slog/slog.h"
#include "util/err.h"

#define ROUTE_CONTENT "/v1/content"
#define ROUTE_BATCH "/v1/content:batch"

struct reply_ctx {
	struct ingest_app *app;
	struct http_request *req;
	const char *route;
};

static void single_done(struct commit_item *it, void *ud)
{
	struct reply_ctx *rc = ud;

	ingest_reply_item(rc->app, rc->req, it, rc->route);
	ingest_item_free(it);
	free(rc);
}

void ingest_submit_one(struct ingest_app *app, struct http_request *req, struct commit_item *it,
		       const char *route)
{
	struct reply_ctx *rc = malloc(sizeof(*rc));
	struct ingest_verr e;

	if (!rc || !it) {
		free(rc);
		ingest_item_free(it);
		ingest_verr_set(&e, 500, "internal", NULL, "out of memory");
		ingest_reply_verr(app, req, &e);
		return;
	}
	*rc = (struct reply_ctx){app, req, route};
	it->done = single_done;
	it->ud = rc;
	if (ingest_committer_enqueue(app->committer, it) != 0) {
		free(rc);
		ingest_item_free(it);
		ingest_verr_set(&e, 503, "overloaded", NULL, "too many pending submissions");
		ingest_reply_verr(app, req, &e);
	}
}

/* Fills in the idempotency source of an authenticated request. */
static void api_source(struct ingest_source *src, const struct auth_principal *p,
		       const char *key, const unsigned char *hash, struct http_request *req)
{
	*src = (struct ingest_source){.source = SIMPUL__V1__CONTENT_SOURCE__CONTENT_SOURCE_API,
				      .scope = p->user_id,
				      .key = key,
				      .hash = hash,
				      .author_id = p->user_id,
				      .trace_id = http_request_id(req)};
}

/* kim members may leave kim_id out: it defaults to their own KIM. */
static int default_kim(struct submission *s, const struct auth_principal *p)
{
	if (s->kim_id || !p->kim_id[0] ||
	    (p->role != AUTH_ROLE_KIM_MEMBER && p->role != AUTH_ROLE_KIM_ADMIN))
		return 0;
	s->kim_id = strdup(p->kim_id);
	return s->kim_id ? 0 : UTIL_ENOMEM;
}

void ingest_route_content_post(struct http_request *req, void *ud)
{
	struct ingest_app *app = ud;
	struct auth_principal p;
	struct submission s = {0};
	struct ingest_verr e;
	struct ingest_source src;
	char key[INGEST_KEY_MAX + 1];
	unsigned char hash[32];
	struct util_slice body = http_request_body(req);

	if (ingest_admit(app, req))
		return;
	if (ingest_auth_resolve(app->auth, http_request_header(req, "Authorization"), &p, &e) ||
	    ingest_idem_key(req, key, &e))
		goto reject;
	if (!ingest_content_type_is(req, "application/json")) {
		ingest_verr_set(&e, 415, "unsupported_media_type", NULL,
				"Content-Type must be application/json");
		goto reject;
	}
	if (ingest_submission_parse(body.ptr, body.len, INGEST_FORM_CONTENT, &s, &e) ||
	    ingest_auth_may_submit(&p, s.type, s.kim_id, &e))
		goto reject;
	if (default_kim(&s, &p) != 0) {
		ingest_verr_set(&e, 500, "internal", NULL, "out of memory");
		goto reject;
	}
	util_sha256(body.ptr, body.len, hash);
	api_source(&src, &p, key, hash, req);
	ingest_submit_one(app, req, ingest_item_content(&s, &src), ROUTE_CONTENT);
	ingest_submission_release(&s);
	return;
reject:
	ingest_submission_release(&s);
	ingest_reply_verr(app, req, &e);
}

/* ---- GET /v1/content/{id} ---- */

static const char get_sql[] =
	"SELECT c.author_id::text AS author_id, c.kim_id::text AS kim_id, c.region_code, "
	"pg_catalog.json_build_object('id', c.id, 'version', c.version, 'type', c.type, "
	"'title', c.title, 'body', c.body, 'region_code', c.region_code, 'kim_id', c.kim_id, "
	"'author_id', c.author_id, 'tags', c.tags, 'media_urls', c.media_urls, "
	"'source', c.source, 'status', c.status, 'created_at', c.created_at, "
	"'updated_at', c.updated_at, 'history', (SELECT pg_catalog.json_agg("
	"pg_catalog.json_build_object('seq', h.seq, 'status', h.status, 'at', h.at, "
	"'reason', h.reason) ORDER BY h.seq) FROM simpul.content_status_history h "
	"WHERE h.content_id = c.id))::text AS doc "
	"FROM simpul.content c WHERE c.id = $1::uuid";

void ingest_route_content_get(struct http_request *req, void *ud)
{
	struct ingest_app *app = ud;
	const char *id = http_request_param(req, "id");
	struct auth_principal p;
	struct ingest_verr e;
	PGresult *res = NULL;
	struct db_conn *db;
	char err[256];
	int rc;

	if (ingest_auth_resolve(app->auth, http_request_header(req, "Authorization"), &p, &e)) {
		ingest_reply_verr(app, req, &e);
		return;
	}
	if (!id || !util_uuid_valid(id)) {
		http_reply_error(req, 404, "not_found", "no such content", NULL);
		return;
	}
	db = db_pool_get(app->pool);
	rc = db_exec(db, get_sql, 1, (const char *const[]){id}, NULL, &res, err, sizeof(err));
	db_pool_put(app->pool, db);
	if (rc) {
		ingest_verr_set(&e, 503, "unavailable", NULL, "database unavailable, retry");
		ingest_reply_verr(app, req, &e);
	} else if (PQntuples(res) != 1 ||
		   !ingest_auth_may_read(&p, db_value(res, 0, "author_id"),
					 db_value(res, 0, "kim_id"),
					 db_value(res, 0, "region_code"))) {
		/* Same answer for "absent" and "not yours": existence does not leak. */
		http_reply_error(req, 404, "not_found", "no such content", NULL);
	} else {
		http_reply_json(req, 200, json_loads(db_value(res, 0, "doc"), 0, NULL));
	}
	PQclear(res);
}

/* ---- POST /v1/content:batch ---- */

struct batch {
	struct ingest_app *app;
	struct http_request *req;
	pthread_mutex_t mu;
	size_t pending;   /* items in flight + 1 while the handler enqueues */
	size_t accepted;
	json_t *results;  /* array, one slot per line, in order */
};

static void batch_finish(struct batch *b)
{
	size_t n = json_array_size(b->results);
	json_t *doc = json_pack("{sI sI sO}", "accepted", (json_int_t)b->accepted, "rejected",
				(json_int_t)(n - b->accepted), "results", b->results);

	ingest_count_accepted(&b->app->m, ROUTE_BATCH);
	http_reply_json(b->req, 200, doc);
	json_decref(b->results);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

static void batch_release(struct batch *b)
{
	bool last;

	pthread_mutex_lock(&b->mu);
	last = --b->pending == 0;
	pthread_mutex_unlock(&b->mu);
	if (last)
		batch_finish(b);
}

static void line_result(struct batch *b, size_t slot, size_t lineno, json_t *r, bool ok)
{
	json_object_set_new(r, "line", json_integer((json_int_t)lineno));
	pthread_mutex_lock(&b->mu);
	json_array_set_new(b->results, slot, r);
	b->accepted += ok;
	pthread_mutex_unlock(&b->mu);
}

struct line_ctx {
	struct batch *b;
	size_t slot, lineno;
};

static void line_done(struct commit_item *it, void *ud)
{
	struct line_ctx *lc = ud;
	int status;
	json_t *r = ingest_item_result(it, &status);

	if (status != 202)
		ingest_count_rejected(&lc->b->app->m, it->outcome == COMMIT_CONFLICT
							   ? "idempotency_conflict"
							   : "batch_item");
	line_result(lc->b, lc->slot, lc->lineno, r, status == 202);
	ingest_item_free(it);
	batch_release(lc->b);
	free(lc);
}

static void line_reject(struct batch *b, size_t slot, size_t lineno, const struct ingest_verr *e)
{
	ingest_count_rejected(&b->app->m, e->code);
	line_result(b, slot, lineno,
		    json_pack("{si s{ss ss so?}}", "status", e->status, "error", "code", e->code,
			      "message", e->message, "field",
			      e->field[0] ? json_string(e->field) : NULL),
		    false);
}

/* Validates and enqueues one line; replies for it now when it fails. */
static void batch_line(struct batch *b, const struct auth_principal *p, const char *hkey,
		       const struct ingest_line *ln, size_t slot)
{
	struct submission s = {0};
	struct ingest_verr e;
	struct ingest_source src;
	struct line_ctx *lc = NULL;
	struct commit_item *it = NULL;
	char key[INGEST_KEY_MAX + 32];
	unsigned char hash[32];

	if (ingest_submission_parse(ln->ptr, ln->len, INGEST_FORM_BATCH_LINE, &s, &e) ||
	    ingest_auth_may_submit(p, s.type, s.kim_id, &e) || default_kim(&s, p))
		goto reject;
	if (s.idempotency_key)
		snprintf(key, sizeof(key), "%s", s.idempotency_key);
	else if (hkey)
		snprintf(key, sizeof(key), "%s#%zu", hkey, ln->lineno);
	else
		util_uuid_v4(key);
	util_sha256(ln->ptr, ln->len, hash);
	api_source(&src, p, key, hash, b->req);
	it = ingest_item_content(&s, &src);
	lc = malloc(sizeof(*lc));
	if (!it || !lc) {
		ingest_verr_set(&e, 500, "internal", NULL, "out of memory");
		goto reject;
	}
	*lc = (struct line_ctx){b, slot, ln->lineno};
	it->done = line_done;
	it->ud = lc;
	pthread_mutex_lock(&b->mu);
	b->pending++;
	pthread_mutex_unlock(&b->mu);
	if (ingest_committer_enqueue(b->app->committer, it) == 0) {
		ingest_submission_release(&s);
		return;
	}
	pthread_mutex_lock(&b->mu);
	b->pending--;
	pthread_mutex_unlock(&b->mu);
	ingest_verr_set(&e, 503, "overloaded", NULL, "too many pending submissions");
reject:
	free(lc);
	ingest_item_free(it);
	ingest_submission_release(&s);
	line_reject(b, slot, ln->lineno, &e);
}

static int batch_check(struct ingest_app *app, struct http_request *req,
		       struct auth_principal *p, struct ingest_verr *e)
{
	const char *k = http_request_header(req, "Idempotency-Key");
	char key[INGEST_KEY_MAX + 1];

	if (ingest_auth_resolve(app->auth, http_request_header(req, "Authorization"), p, e))
		return UTIL_EDENIED;
	if (k && ingest_idem_key(req, key, e))
		return UTIL_EINVAL;
	if (!ingest_content_type_is(req, "application/x-ndjson"))
		return ingest_verr_set(e, 415, "unsupported_media_type", NULL,
				       "Content-Type must be application/x-ndjson");
	return 0;
}

void ingest_route_batch_post(struct http_request *req, void *ud)
{
	struct ingest_app *app = ud;
	struct util_slice body = http_request_body(req);
	size_t max = (size_t)app->cfg->batch_max_items, n;
	struct ingest_line *lines = NULL;
	struct auth_principal p;
	struct ingest_verr e;
	struct batch *b = NULL;

	if (ingest_admit(app, req))
		return;
	if (batch_check(app, req, &p, &e))
		goto reject;
	n = ingest_ndjson_split(body.ptr, body.len, NULL, 0);
	if (n > max || n == 0) {
		ingest_verr_set(&e, n ? 413 : 422, n ? "too_many_items" : "missing_field", NULL,
				n ? "at most %zu lines per batch" : "empty batch%.0zu", max);
		goto reject;
	}
	lines = calloc(n, sizeof(*lines));
	b = calloc(1, sizeof(*b));
	if (!lines || !b || !(b->results = json_array())) {
		ingest_verr_set(&e, 500, "internal", NULL, "out of memory");
		goto reject;
	}
	ingest_ndjson_split(body.ptr, body.len, lines, n);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(b->results, json_null());
	b->app = app;
	b->req = req;
	b->pending = 1;
	pthread_mutex_init(&b->mu, NULL);
	for (size_t i = 0; i < n; i++)
		batch_line(b, &p, http_request_header(req, "Idempotency-Key"), &lines[i], i);
	free(lines);
	batch_release(b);
	return;
reject:
	if (b)
		json_decref(b->results);
	free(b);
	free(lines);
	ingest_reply_verr(app, req, &e);
}
