/*
 * services/search/app.c - wiring: metrics, migrations, the text pipeline,
 * Redis, the query workers, the announcer, the indexer and the HTTP server;
 * started in that order and stopped in reverse.
 */
#include <stdio.h>
#include <string.h>

#include "cache/cache.h"
#include "db/db.h"
#include "http/http.h"
#include "metrics/metrics.h"
#include "schema/schema.h"
#include "search.h"
#include "slog/slog.h"
#include "util/err.h"

void search_metrics_init(struct search_metrics *m, struct metrics_registry *reg)
{
	static const double lag_buckets[] = {0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300};

	m->index_lag = metrics_histogram_new(
		reg, "search_index_lag_seconds",
		"Time from publication (published_at_ms) to the item being searchable.", NULL,
		lag_buckets, sizeof(lag_buckets) / sizeof(lag_buckets[0]));
	m->indexed = metrics_counter_new(reg, "search_indexed_total",
					 "ContentPublished events applied, by action.", "action");
	m->backlog = metrics_gauge_new(reg, "search_index_backlog",
				       "Consumer lag on kim.content.published.v1 (messages).", NULL);
	m->announce_backlog = metrics_gauge_new(reg, "search_announce_backlog",
						"Index changes not yet announced as ContentIndexed.",
						NULL);
	m->query_seconds = metrics_histogram_new(reg, "search_query_seconds",
						 "Query latency inside the service, by endpoint.",
						 "endpoint", NULL, 0);
	m->cache = metrics_counter_new(reg, "search_cache_requests_total",
				       "Query cache look-ups: hit, miss or bypass (Redis down).",
				       "result");
	m->announced = metrics_counter_new(reg, "search_announced_total",
					   "ContentIndexed events acknowledged by Kafka.", NULL);
}

static bool check_db(void *ud, char *detail, size_t len)
{
	struct search_app *app = ud;
	bool up = search_workers_db_up(app->workers);

	snprintf(detail, len, "%s", up ? "ok" : "unreachable");
	return up;
}

/* Kafka and Redis never make search unready: queries work without them. */
static bool check_kafka(void *ud, char *detail, size_t len)
{
	struct search_app *app = ud;

	if (!app->announcer)
		snprintf(detail, len, "consumer disabled");
	else
		snprintf(detail, len, "%s", search_announcer_kafka_ready(app->announcer)
						    ? "ok"
						    : "unreachable (non-fatal: indexing waits)");
	return true;
}

static bool check_redis(void *ud, char *detail, size_t len)
{
	struct search_app *app = ud;

	snprintf(detail, len, "%s", cache_available(app->cache)
					    ? "ok"
					    : "unreachable (non-fatal: no query cache)");
	return true;
}

static int start_http(struct search_app *app, char *err, size_t errlen)
{
	const struct search_config *cfg = app->cfg;
	struct http_route routes[4];
	size_t n = search_routes(app, routes, 4);
	struct http_server_config hc = {.bind_addr = cfg->bind,
					.port = (int)cfg->port,
					.threads = (int)cfg->threads,
					.max_body = 4096,
					.shutdown_grace_ms = (int)cfg->shutdown_grace_ms,
					.service = "search"};

	app->http = http_server_new(&hc, routes, n, app->reg, err, errlen);
	if (!app->http)
		return UTIL_EINVAL;
	if (http_server_add_check(app->http, "db", check_db, app) ||
	    http_server_add_check(app->http, "kafka", check_kafka, app) ||
	    http_server_add_check(app->http, "redis", check_redis, app))
		return util_err_set(err, errlen, UTIL_ENOMEM, "cannot add readiness checks");
	return http_server_start(app->http, err, errlen);
}

static int start_pipeline(struct search_app *app, char *err, size_t errlen)
{
	const struct search_config *cfg = app->cfg;

	app->announcer = search_announcer_new(cfg, &app->m, err, errlen);
	if (!app->announcer || search_announcer_start(app->announcer) != 0)
		return UTIL_EIO;
	app->indexer = search_indexer_new(cfg, app->text, app->cache, &app->m, err, errlen);
	if (!app->indexer)
		return UTIL_EIO;
	search_indexer_set_notify(app->indexer, search_announcer_wake, app->announcer);
	return search_indexer_start(app->indexer);
}

int search_app_start(struct search_app *app, const struct search_config *cfg, char *err,
		     size_t errlen)
{
	int rc;

	memset(app, 0, sizeof(*app));
	app->cfg = cfg;
	app->reg = metrics_registry_new();
	if (!app->reg)
		return util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
	search_metrics_init(&app->m, app->reg);
	if (cfg->migrate && (rc = schema_apply(cfg->pg_url, err, errlen)) != 0)
		return rc;
	app->text = search_text_new(cfg->lexicon, err, errlen);
	if (!app->text)
		return UTIL_EIO;
	app->cache = cache_new(cfg->redis_host, (int)cfg->redis_port, 200);
	app->workers = app->cache ? search_workers_new(app, err, errlen) : NULL;
	if (!app->workers)
		return UTIL_EIO;
	if (cfg->consume && (rc = start_pipeline(app, err, errlen)) != 0)
		return rc;
	return start_http(app, err, errlen);
}

int search_app_port(struct search_app *app)
{
	return app->http ? http_server_port(app->http) : 0;
}

void search_app_stop(struct search_app *app)
{
	if (app->http)
		http_server_stop(app->http); /* queued queries get their answers */
	search_indexer_stop(app->indexer);   /* current message finished, offsets committed */
	search_announcer_stop(app->announcer); /* last round announced */
	http_server_free(app->http);
	search_workers_free(app->workers);
	search_indexer_free(app->indexer);
	search_announcer_free(app->announcer);
	cache_free(app->cache);
	search_text_free(app->text);
	metrics_registry_free(app->reg);
	memset(app, 0, sizeof(*app));
}
