/*
 * services/report/app.c - wiring: metrics, migrations, a small pool of
 * PostgreSQL connections for reads, the token resolver, Redis, the live
 * consumer, the report-topic flusher, the export worker, the rebuild
 * controller and the HTTP server; started in that order, stopped in reverse.
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
#include "schema/schema.h"
#include "slog/slog.h"
#include "util/err.h"


static bool check_db(void *ud, char *detail, size_t len)
{
	struct report_app *app = ud;
	struct db_conn *c = db_pool_get(app->pool);
	int rc = db_ping(c, detail, len);

	db_pool_put(app->pool, c);
	if (rc == 0)
		snprintf(detail, len, "ok");
	return rc == 0;
}

/* Redis only caches: reported, never makes the service unready. */
static bool check_redis(void *ud, char *detail, size_t len)
{
	struct report_app *app = ud;

	snprintf(detail, len, "%s",
		 cache_available(app->cache) ? "ok" : "unreachable (non-fatal: no cache)");
	return true;
}

static int start_http(struct report_app *app, char *err, size_t errlen)
{
	const struct report_config *cfg = app->cfg;
	struct http_route routes[16];
	size_t n = report_routes(app, routes, 16);
	struct http_server_config hc = {.bind_addr = cfg->bind,
					.port = (int)cfg->port,
					.threads = (int)cfg->threads,
					.shutdown_grace_ms = (int)cfg->shutdown_grace_ms,
					.service = "report"};

	app->http = http_server_new(&hc, routes, n, app->reg, err, errlen);
	if (!app->http)
		return UTIL_EINVAL;
	if (http_server_add_check(app->http, "db", check_db, app) ||
	    http_server_add_check(app->http, "redis", check_redis, app))
		return util_err_set(err, errlen, UTIL_ENOMEM, "cannot add readiness checks");
	return http_server_start(app->http, err, errlen);
}

int report_app_start(struct report_app *app, const struct report_config *cfg, char *err,
		     size_t errlen)
{
	int rc;

	memset(app, 0, sizeof(*app));
	pthread_mutex_init(&app->mu, NULL);
	app->cfg = cfg;
	app->reg = metrics_registry_new();
	if (!app->reg)
		return util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
	app->cache_hits = metrics_counter_new(app->reg, "report_cache_hits_total",
					      "Dashboard reads served from Redis.", NULL);
	app->cache_misses = metrics_counter_new(app->reg, "report_cache_misses_total",
						"Dashboard reads computed from PostgreSQL.", NULL);
	if (cfg->migrate && (rc = schema_apply(cfg->pg_url, err, errlen)) != 0)
		return rc;
	app->pool = db_pool_new(cfg->pg_url,
				&(struct db_conn_opts){.application_name = "simpul-report",
						       .statement_timeout_ms = 30000,
						       .allow_down = true},
				(int)cfg->db_readers, err, errlen);
	app->auth = app->pool ? auth_new(cfg->pg_url, cfg->auth_cache_ms, err, errlen) : NULL;
	app->cache = cache_new(cfg->redis_host, (int)cfg->redis_port, 200);
	app->rebuild = report_rebuild_new(cfg);
	if (!app->pool || !app->auth || !app->cache || !app->rebuild)
		return UTIL_EIO;
	/* several consumers of one group: partitions are spread over them;
	 * each applies on its own connection (hot cells serialise in PostgreSQL) */
	for (int64_t i = 0; cfg->consume && i < cfg->consumers; i++) {
		app->consumers[i] = report_consumer_new(cfg, cfg->group, 0, err, errlen);
		if (!app->consumers[i] || report_consumer_start(app->consumers[i]) != 0)
			return UTIL_EIO;
	}
	app->flusher = report_flusher_new(cfg, app->reg, err, errlen);
	if (!app->flusher || report_flusher_start(app->flusher) != 0)
		return UTIL_EIO;
	app->jobs = report_jobs_new(cfg, err, errlen);
	if (!app->jobs || report_jobs_start(app->jobs) != 0)
		return UTIL_EIO;
	return start_http(app, err, errlen);
}

int report_app_port(struct report_app *app)
{
	return app->http ? http_server_port(app->http) : 0;
}

void report_app_stop(struct report_app *app)
{
	http_server_stop(app->http);
	report_rebuild_free(app->rebuild);
	for (int i = 0; i < REPORT_MAX_CONSUMERS; i++)
		report_consumer_free(app->consumers[i]); /* current message done, offsets committed */
	report_jobs_free(app->jobs);
	report_flusher_free(app->flusher);
	http_server_free(app->http);
	cache_free(app->cache);
	auth_free(app->auth);
	db_pool_free(app->pool);
	metrics_registry_free(app->reg);
	pthread_mutex_destroy(&app->mu);
	memset(app, 0, sizeof(*app));
}
