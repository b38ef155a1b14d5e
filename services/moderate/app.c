/*
 * services/moderate/app.c - assembles the service: migrations, the shared
 * state and its reloader, Redis, auth, a PostgreSQL pool for HTTP, the
 * outbox relay, the consumer threads and the HTTP server; and stops them
 * in reverse order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "db/db.h"
#include "mod_app.h"
#include "mod_store.h"
#include "schema/schema.h"
#include "slog/slog.h"
#include "util/err.h"

struct mod_dbpool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int n, nfree;
	struct db_conn **all, **free_list;
};

static void pool_free(struct mod_dbpool *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->n; i++)
		db_conn_free(p->all[i]);
	free(p->all);
	free(p->free_list);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}

static struct mod_dbpool *pool_new(const char *url, int n, char *err, size_t errlen)
{
	struct db_conn_opts o = {.application_name = "simpul-moderate-http",
				 .statement_timeout_ms = 10000,
				 .allow_down = true};
	struct mod_dbpool *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->all = calloc((size_t)n, sizeof(*p->all));
	p->free_list = calloc((size_t)n, sizeof(*p->free_list));
	for (int i = 0; p->all && p->free_list && i < n; i++) {
		if (!(p->all[i] = db_conn_new_opts(url, &o, err, errlen)))
			break;
		p->free_list[p->nfree++] = p->all[i];
		p->n++;
	}
	if (p->n != n) {
		pool_free(p);
		return NULL;
	}
	return p;
}

struct db_conn *mod_dbpool_get(struct mod_dbpool *p)
{
	struct db_conn *c;

	pthread_mutex_lock(&p->mu);
	while (p->nfree == 0)
		pthread_cond_wait(&p->cv, &p->mu);
	c = p->free_list[--p->nfree];
	pthread_mutex_unlock(&p->mu);
	return c;
}

void mod_dbpool_put(struct mod_dbpool *p, struct db_conn *c)
{
	pthread_mutex_lock(&p->mu);
	p->free_list[p->nfree++] = c;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void mod_pipeline_wake_relay(struct mod_pipeline *p)
{
	mod_relay_wake(p->relay);
}

static bool check_db(void *ud, char *detail, size_t len)
{
	struct mod_app *a = ud;
	struct db_conn *db = mod_dbpool_get(a->pool);
	bool ok = db_ping(db, detail, len) == 0;

	mod_dbpool_put(a->pool, db);
	return ok;
}

static bool check_redis(void *ud, char *detail, size_t len)
{
	struct mod_app *a = ud;
	bool ok = cache_available(a->cache);

	snprintf(detail, len, "%s", ok ? "ok" : "down (near-duplicate and flood signals off)");
	return true; /* degraded, still ready: Redis is never the only copy */
}

static int migrate(const struct mod_config *cfg, char *err, size_t errlen)
{
	struct db_conn *db = db_conn_new(cfg->pg_url, err, errlen);
	size_t n = 0;
	const struct db_migration *m = schema_migrations(&n);
	int rc = db ? db_migrate(db, m, n, err, errlen) : UTIL_EUNAVAIL;

	db_conn_free(db);
	return rc;
}

static int start_http(struct mod_app *a, char *err, size_t errlen)
{
	struct http_route routes[32];
	struct http_server_config hc = {.bind_addr = a->cfg->bind,
					.port = (int)a->cfg->port,
					.threads = (int)a->cfg->threads,
					.shutdown_grace_ms = (int)a->cfg->shutdown_grace_ms,
					.service = "moderate"};

	for (size_t i = 0; i < mod_routes_count; i++) {
		routes[i] = mod_routes[i];
		routes[i].ud = a;
	}
	a->http = http_server_new(&hc, routes, mod_routes_count, a->reg, err, errlen);
	if (!a->http || http_server_add_check(a->http, "db", check_db, a) != 0 ||
	    http_server_add_check(a->http, "redis", check_redis, a) != 0)
		return UTIL_EINVAL;
	return http_server_start(a->http, err, errlen);
}

static int start_pipeline(struct mod_app *a, char *err, size_t errlen)
{
	struct mod_pipeline *p = &a->pipeline;

	a->committer = mod_committer_new(a->cfg->pg_url, 256, err, errlen);
	if (!a->committer)
		return UTIL_EUNAVAIL;
	p->committer = a->committer;
	p->cfg = a->cfg;
	p->state = &a->state;
	p->cache = a->cache;
	p->relay = a->relay;
	p->decisions = metrics_counter_new(a->reg, "moderate_decisions_total",
					   "Automatic decisions made.", "decision");
	p->learned = metrics_counter_new(a->reg, "moderate_feedback_learned_total",
					 "Moderator decisions learned by the classifier.", NULL);
	a->pipeline_started = true;
	return mod_pipeline_start(p, err, errlen);
}

int mod_app_start(struct mod_app **out, const struct mod_config *cfg, char *err, size_t errlen)
{
	struct mod_app *a = calloc(1, sizeof(*a));
	int rc = a ? 0 : UTIL_ENOMEM;

	*out = a;
	if (rc != 0)
		return rc;
	a->cfg = cfg;
	a->reg = metrics_registry_new();
	if (cfg->migrate && (rc = migrate(cfg, err, errlen)) != 0)
		return rc;
	if ((rc = mod_state_init(&a->state, cfg, err, errlen)) != 0)
		return rc;
	a->state_ready = true;
	if ((rc = mod_state_start(&a->state)) != 0)
		return util_err_set(err, errlen, rc, "cannot start the reloader");
	a->cache = cache_new(cfg->redis_host, (int)cfg->redis_port, 200);
	a->auth = auth_new(cfg->pg_url, 30000, err, errlen);
	a->pool = pool_new(cfg->pg_url, (int)cfg->db_pool, err, errlen);
	if (!a->reg || !a->cache || !a->auth || !a->pool)
		return UTIL_EUNAVAIL;
	if (cfg->relay) {
		a->relay = mod_relay_new(cfg, a->reg, err, errlen);
		if (!a->relay || (rc = mod_relay_start(a->relay)) != 0)
			return a->relay ? rc : UTIL_EINVAL;
	}
	if ((rc = start_pipeline(a, err, errlen)) != 0)
		return rc;
	return start_http(a, err, errlen);
}

int mod_app_port(const struct mod_app *a)
{
	return a && a->http ? http_server_port(a->http) : 0;
}

void mod_app_reload(struct mod_app *a)
{
	if (a && a->state_ready)
		mod_state_request_reload(&a->state);
}

void mod_app_stop(struct mod_app *a)
{
	if (!a)
		return;
	if (a->http)
		http_server_stop(a->http);
	if (a->pipeline_started)
		mod_pipeline_stop(&a->pipeline);
	mod_committer_free(a->committer);
	if (a->relay)
		mod_relay_stop(a->relay, a->cfg->shutdown_grace_ms);
	http_server_free(a->http);
	mod_relay_free(a->relay);
	pool_free(a->pool);
	auth_free(a->auth);
	cache_free(a->cache);
	if (a->state_ready)
		mod_state_release(&a->state);
	metrics_registry_free(a->reg);
	free(a);
}
