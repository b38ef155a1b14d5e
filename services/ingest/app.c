/*
 * services/ingest/app.c - wiring: metrics, migrations, the database pool,
 * token cache, Redis, the committer, the relay, the intake consumer and the
 * HTTP server; started in that order and stopped in reverse.
 */
#include <stdio.h>
#include <string.h>

#include "cache/cache.h"
#include "db/db.h"
#include "http/http.h"
#include "db/pool.h"
#include "ingest.h"
#include "metrics/metrics.h"
#include "schema/schema.h"
#include "slog/slog.h"
#include "util/err.h"

void ingest_metrics_init(struct ingest_metrics *m, struct metrics_registry *reg)
{
	static const double sizes[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096};

	m->accepted = metrics_counter_new(reg, "ingest_accepted_total",
					  "Submissions accepted (202), by route.", "route");
	m->rejected = metrics_counter_new(reg, "ingest_rejected_total",
					  "Submissions rejected, by error code.", "code");
	m->batch_size = metrics_histogram_new(reg, "ingest_commit_batch_size",
					      "Items per group commit.", NULL, sizes,
					      sizeof(sizes) / sizeof(sizes[0]));
	m->commit_seconds = metrics_histogram_new(reg, "ingest_commit_seconds",
						  "Duration of one group commit.", NULL, NULL, 0);
	m->queue_depth = metrics_gauge_new(reg, "ingest_queue_depth",
					   "Items waiting for the committer.", NULL);
	m->outbox_backlog = metrics_gauge_new(reg, "ingest_outbox_backlog",
					      "Outbox rows not yet published.", NULL);
	m->published = metrics_counter_new(reg, "ingest_relay_published_total",
					   "Outbox rows published to Kafka.", NULL);
	m->relay_failures = metrics_counter_new(reg, "ingest_relay_failures_total",
						"Relay rounds that had a failure.", NULL);
}

void ingest_count_rejected(struct ingest_metrics *m, const char *code)
{
	metrics_counter_inc(m->rejected, (const char *const[]){code});
}

void ingest_count_accepted(struct ingest_metrics *m, const char *route)
{
	metrics_counter_inc(m->accepted, (const char *const[]){route});
}

static bool check_db(void *ud, char *detail, size_t len)
{
	struct ingest_app *app = ud;
	struct db_conn *c = db_pool_get(app->pool);
	int rc = db_ping(c, detail, len);

	db_pool_put(app->pool, c);
	if (rc == 0)
		snprintf(detail, len, "ok");
	return rc == 0;
}

/* Kafka and Redis are reported but never make ingest unready: accepting
 * works without them (outbox backlog; local rate limits). */
static bool check_kafka(void *ud, char *detail, size_t len)
{
	struct ingest_app *app = ud;

	if (!app->relay) {
		snprintf(detail, len, "relay disabled");
		return true;
	}
	if (!ingest_relay_kafka_ready(app->relay, detail, len))
		snprintf(detail, len, "unreachable (non-fatal: outbox backlog grows)");
	return true;
}

static bool check_redis(void *ud, char *detail, size_t len)
{
	struct ingest_app *app = ud;

	snprintf(detail, len, "%s", cache_available(app->cache)
					    ? "ok"
					    : "unreachable (non-fatal: local rate limits)");
	return true;
}

static int start_http(struct ingest_app *app, char *err, size_t errlen)
{
	const struct ingest_config *cfg = app->cfg;
	struct http_route routes[16];
	size_t n = ingest_routes(app, routes, 16);
	struct http_server_config hc = {.bind_addr = cfg->bind,
					.port = (int)cfg->port,
					.threads = (int)cfg->threads,
					.per_ip_limit = (int)cfg->per_ip_conns,
					.max_body = (size_t)cfg->max_body,
					.shutdown_grace_ms = (int)cfg->shutdown_grace_ms,
					.service = "ingest",
					.admit = ingest_admit_early,
					.admit_ud = app};

	app->http = http_server_new(&hc, routes, n, app->reg, err, errlen);
	if (!app->http)
		return UTIL_EINVAL;
	/* The server's own gauge (same name, kind and labels: the registry
	 * hands back the existing series), read by ingest_admit(_early): it
	 * counts requests whose body is complete. */
	app->http_in_flight = metrics_gauge_new(app->reg, "http_requests_in_flight",
						"HTTP requests being processed.", NULL);
	if (http_server_add_check(app->http, "db", check_db, app) ||
	    http_server_add_check(app->http, "kafka", check_kafka, app) ||
	    http_server_add_check(app->http, "redis", check_redis, app))
		return util_err_set(err, errlen, UTIL_ENOMEM, "cannot add readiness checks");
	return http_server_start(app->http, err, errlen);
}

int ingest_app_start(struct ingest_app *app, const struct ingest_config *cfg, char *err,
		     size_t errlen)
{
	int rc;

	memset(app, 0, sizeof(*app));
	app->cfg = cfg;
	app->reg = metrics_registry_new();
	if (!app->reg)
		return util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
	ingest_metrics_init(&app->m, app->reg);
	if (cfg->migrate && (rc = schema_apply(cfg->pg_url, err, errlen)) != 0)
		return rc;
	app->pool = db_pool_new(cfg->pg_url,
				&(struct db_conn_opts){.application_name = "simpul-ingest",
						       .statement_timeout_ms = 10000,
						       .allow_down = true},
				(int)cfg->db_readers, err, errlen);
	app->auth = app->pool ? auth_new(cfg->pg_url, cfg->auth_cache_ms, err, errlen) : NULL;
	app->cache = cache_new(cfg->redis_host, (int)cfg->redis_port, 200);
	app->committer = ingest_committer_new(cfg, &app->m, err, errlen);
	if (!app->pool || !app->auth || !app->cache || !app->committer)
		return UTIL_EIO;
	if (cfg->relay) {
		app->relay = ingest_relay_new(cfg, &app->m, err, errlen);
		if (!app->relay || ingest_relay_start(app->relay) != 0)
			return UTIL_EIO;
		ingest_committer_set_notify(app->committer, ingest_relay_wake, app->relay);
	}
	if (ingest_committer_start(app->committer) != 0)
		return util_err_set(err, errlen, UTIL_EIO, "cannot start committer threads");
	if (cfg->intake) {
		app->intake = ingest_intake_new(cfg, app->committer, app->auth, &app->m, err,
						errlen);
		if (!app->intake || ingest_intake_start(app->intake) != 0)
			return UTIL_EIO;
	}
	return start_http(app, err, errlen);
}

int ingest_app_port(struct ingest_app *app)
{
	return app->http ? http_server_port(app->http) : 0;
}

void ingest_app_stop(struct ingest_app *app)
{
	http_server_stop(app->http);       /* in-flight requests get their replies */
	ingest_intake_stop(app->intake);   /* current message finished, offsets committed */
	ingest_committer_stop(app->committer); /* queue drained into PostgreSQL */
	ingest_relay_stop(app->relay, app->cfg->shutdown_grace_ms);
	http_server_free(app->http);
	ingest_intake_free(app->intake);
	ingest_relay_free(app->relay);
	ingest_committer_free(app->committer);
	cache_free(app->cache);
	auth_free(app->auth);
	db_pool_free(app->pool);
	metrics_registry_free(app->reg);
	memset(app, 0, sizeof(*app));
}
