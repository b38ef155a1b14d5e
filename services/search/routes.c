/*
 * services/search/routes.c - the HTTP routes and the query workers.
 *
 * Handlers only queue the request; a fixed pool of workers (each with its
 * own PostgreSQL connection, statement_timeout set, and text workspace)
 * answers it, so slow queries never block the server's I/O threads. A full
 * queue answers 503 overloaded at once.
 *
 * GET /v1/search answers from the Redis cache when it can (X-Cache: hit),
 * else runs the query and stores the answer for cache_ttl_ms (see qcache.c
 * for how new content invalidates it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cache/cache.h"
#include "db/db.h"
#include "http/http.h"
#include "metrics/metrics.h"
#include "search.h"
#include "slog/slog.h"
#include "util/err.h"
#include "util/ids.h"

#define CACHE_VALUE_MAX (4 * 1024 * 1024)

enum job_kind { JOB_SEARCH = 1, JOB_SIMILAR = 2 };

struct job {
	struct http_request *req;
	enum job_kind kind;
	int64_t start_us;
};

struct worker {
	struct search_workers *pool;
	struct db_conn *db;
	struct text_work *wk;
	pthread_t thread;
	bool started;
};

struct search_workers {
	struct search_app *app;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *q;
	size_t cap, head, len;
	bool stopping;
	int n;
	struct worker *w;
};

/* A response header; failing to add one is not worth failing the reply. */
static void set_header(struct http_request *req, const char *name, const char *value)
{
	if (http_reply_header(req, name, value) != 0)
		slog_debug("response header dropped", "name=%s", name);
}

static const char *query_arg(void *ud, const char *name)
{
	return http_request_query(ud, name);
}

static void observe(struct search_app *app, const char *endpoint, int64_t start_us)
{
	metrics_histogram_observe(app->m.query_seconds, (const char *const[]){endpoint},
				  (double)(util_mono_us() - start_us) / 1e6);
}

static void count_cache(struct search_app *app, const char *result)
{
	metrics_counter_inc(app->m.cache, (const char *const[]){result});
}

/* Replies from the cache; true when it did. */
static bool reply_cached(struct search_app *app, struct http_request *req, const char *key)
{
	struct util_buf v;
	bool hit;

	util_buf_init(&v, CACHE_VALUE_MAX);
	hit = cache_get(app->cache, key, &v) == 0;
	if (hit) {
		set_header(req, "X-Cache", "hit");
		http_reply(req, 200, "application/json", v.data, v.len);
	}
	util_buf_release(&v);
	return hit;
}

static void do_search(struct worker *w, struct http_request *req)
{
	struct search_app *app = w->pool->app;
	struct search_request r;
	const char *field = NULL, *code = "bad_request";
	char err[512], key[80], rhash[SEARCH_CURSOR_MAX + 64];
	bool cacheable = app->cfg->cache_ttl_ms > 0;
	json_t *out = NULL;
	char *body;
	int status;

	if (search_request_parse(&r, query_arg, req, app->cfg, &field, err, sizeof(err)) != 0) {
		http_reply_error(req, 400, field && !strcmp(field, "cursor") ? "invalid_cursor"
									    : "bad_request",
				 err, field);
		return;
	}
	snprintf(rhash, sizeof(rhash), "%s|%d|%s", r.qhash, r.facet_level,
		 r.has_cursor ? http_request_query(req, "cursor") : "");
	if (cacheable)
		cacheable = search_qcache_key(app->cache, r.region,
					      search_announcer_generation(app->announcer), rhash,
					      key);
	if (cacheable && reply_cached(app, req, key)) {
		count_cache(app, "hit");
		return;
	}
	count_cache(app, cacheable ? "miss" : "bypass");
	status = search_run(app, w->db, w->wk, &r, &out, &code, err, sizeof(err));
	if (status != 200) {
		http_reply_error(req, status, code, err, strcmp(code, "bad_query") ? NULL : "q");
		return;
	}
	body = json_dumps(out, JSON_COMPACT);
	json_decref(out);
	if (!body) {
		http_reply_error(req, 500, "internal", "out of memory", NULL);
		return;
	}
	if (cacheable && cache_set(app->cache, key, body, strlen(body), app->cfg->cache_ttl_ms))
		slog_debug("cache store failed", NULL);
	set_header(req, "X-Cache", cacheable ? "miss" : "bypass");
	http_reply(req, 200, "application/json", body, strlen(body));
	free(body);
}

static void do_similar(struct worker *w, struct http_request *req)
{
	struct search_app *app = w->pool->app;
	const char *id = http_request_param(req, "id"), *lim = http_request_query(req, "limit");
	const char *code = "internal";
	char err[512] = "";
	json_t *out = NULL;
	int limit = 10, status;

	if (!id || !util_uuid_valid(id)) {
		http_reply_error(req, 400, "bad_request", "id must be a content id (uuid)", "id");
		return;
	}
	if (lim && *lim) {
		char *end;
		long n = strtol(lim, &end, 10);

		if (*end || n < 1 || n > 50) {
			http_reply_error(req, 400, "bad_request", "limit must be between 1 and 50",
					 "limit");
			return;
		}
		limit = (int)n;
	}
	status = search_similar(app, w->db, id, limit, &out, &code, err, sizeof(err));
	if (status != 200)
		http_reply_error(req, status, code, err[0] ? err : "failed", NULL);
	else
		http_reply_json(req, 200, out);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct search_workers *p = w->pool;

	for (;;) {
		struct job j;

		pthread_mutex_lock(&p->mu);
		while (p->len == 0 && !p->stopping)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->len == 0) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		j = p->q[p->head];
		p->head = (p->head + 1) % p->cap;
		p->len--;
		pthread_mutex_unlock(&p->mu);
		if (j.kind == JOB_SEARCH)
			do_search(w, j.req);
		else
			do_similar(w, j.req);
		observe(p->app, j.kind == JOB_SEARCH ? "search" : "similar", j.start_us);
	}
	return NULL;
}

static void enqueue(struct search_workers *p, struct http_request *req, enum job_kind kind)
{
	bool full;

	pthread_mutex_lock(&p->mu);
	full = p->len == p->cap || p->stopping;
	if (!full) {
		p->q[(p->head + p->len) % p->cap] =
			(struct job){.req = req, .kind = kind, .start_us = util_mono_us()};
		p->len++;
		pthread_cond_signal(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	if (full) {
		set_header(req, "Retry-After", "1");
		http_reply_error(req, 503, "overloaded", "too many queries waiting; retry", NULL);
	}
}

static void handle_search(struct http_request *req, void *ud)
{
	enqueue(ud, req, JOB_SEARCH);
}

static void handle_similar(struct http_request *req, void *ud)
{
	enqueue(ud, req, JOB_SIMILAR);
}

size_t search_routes(struct search_app *app, void *routes_out, size_t cap)
{
	struct http_route *r = routes_out;

	if (cap < 2)
		return 0;
	r[0] = (struct http_route){.method = "GET", .pattern = "/v1/search",
				   .fn = handle_search, .ud = app->workers};
	r[1] = (struct http_route){.method = "GET", .pattern = "/v1/content/{id}/similar",
				   .fn = handle_similar, .ud = app->workers};
	return 2;
}

struct search_workers *search_workers_new(struct search_app *app, char *err, size_t errlen)
{
	const struct search_config *cfg = app->cfg;
	struct db_conn_opts opts = {.application_name = "simpul-search",
				    .statement_timeout_ms = cfg->statement_timeout_ms,
				    .allow_down = true};
	struct search_workers *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->app = app;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->cap = (size_t)cfg->queue_max;
	p->q = calloc(p->cap, sizeof(*p->q));
	p->w = calloc((size_t)cfg->workers, sizeof(*p->w));
	if (!p->q || !p->w)
		goto fail;
	for (int i = 0; i < (int)cfg->workers; i++) {
		struct worker *w = &p->w[i];

		w->pool = p;
		w->db = db_conn_new_opts(cfg->pg_url, &opts, err, errlen);
		w->wk = text_work_new(SEARCH_MAX_DOC_BYTES);
		p->n++;
		if (!w->db || !w->wk || pthread_create(&w->thread, NULL, worker_main, w) != 0)
			goto fail;
		w->started = true;
	}
	return p;
fail:
	search_workers_free(p);
	return NULL;
}

bool search_workers_db_up(struct search_workers *p)
{
	for (int i = 0; p && i < p->n; i++)
		if (p->w[i].db && db_conn_up(p->w[i].db))
			return true;
	return false;
}

void search_workers_free(struct search_workers *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->n; i++) {
		if (p->w[i].started)
			pthread_join(p->w[i].thread, NULL);
		db_conn_free(p->w[i].db);
		text_work_free(p->w[i].wk);
	}
	free(p->w);
	free(p->q);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
