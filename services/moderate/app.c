/*
 * services/moderate/app.c - assembles the service: migrations, the shared
 * state and its reloader, Redis, auth, a PostgreSQL pool for HTTP, the
 * outbox relay (libs/outbox over simpul.moderation_outbox), the consumer
 * threads and the HTTP server; and stops them in reverse order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "db/db.h"
#include "mod_app.h"
#include "mod_store.h"
#include "db/pool.h"
#include "outbox/outbox.h"
#include "schema/schema.h"
#include "slog/slog.h"
#include "util/err.h"

void mod_pipeline_wake_relay(struct mod_pipeline *p)
{
	outbox_relay_wake(p->relay);
}

static bool check_db(void *ud, char *detail, size_t len)
{
	struct mod_app *a = ud;
	struct db_conn *db = db_pool_get(a->pool);
	bool ok = db_ping(db, detail, len) == 0;

	db_pool_put(a->pool, db);
	return ok;
}

static bool check_redis(void *ud, char *detail, size_t len)
{
	struct mod_app *a = ud;
	bool ok = cache_available(a->cache);

	snprintf(detail, len, "%s", ok ? "ok" : "down (near-duplicate and flood signals off)");
	return true; /* degraded, still ready: Redis is never the only copy */
}

/* Kafka is reported but never makes moderate unready: decisions commit to
 * the outbox without it and the relay drains the backlog when it returns. */
static bool check_kafka(void *ud, char *detail, size_t len)
{
	struct mod_app *a = ud;

	if (!a->relay) {
		snprintf(detail, len, "relay disabled");
		return true;
	}
	if (!outbox_relay_ready(a->relay, 500, detail, len)) {
		char why[160];

		snprintf(why, sizeof(why), "%s", detail);
		snprintf(detail, len, "%s (non-fatal: outbox backlog grows)", why);
	}
	return true;
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
	    http_server_add_check(a->http, "kafka", check_kafka, a) != 0 ||
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

/* One leader per table across all moderate processes (advisory lock), so
 * each item's events reach Kafka in the order they were committed. */
static int start_relay(struct mod_app *a, char *err, size_t errlen)
{
	const struct mod_config *cfg = a->cfg;
	struct outbox_relay_config oc = {.pg_url = cfg->pg_url,
					 .brokers = cfg->kafka_brokers,
					 .table = "simpul.moderation_outbox",
					 .metrics_prefix = "moderate",
					 .reg = a->reg,
					 .client_id = "simpul-moderate-relay",
					 .retention_ms = cfg->outbox_retention_ms,
					 .linger_ms = 2};

	a->relay = outbox_relay_new(&oc, err, errlen);
	if (!a->relay)
		return UTIL_EINVAL;
	if (outbox_relay_start(a->relay) != 0)
		return util_err_set(err, errlen, UTIL_EIO, "cannot start the outbox relay");
	return 0;
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
	if (cfg->migrate && (rc = schema_apply(cfg->pg_url, err, errlen)) != 0)
		return rc;
	if ((rc = mod_state_init(&a->state, cfg, err, errlen)) != 0)
		return rc;
	a->state_ready = true;
	if ((rc = mod_state_start(&a->state)) != 0)
		return util_err_set(err, errlen, rc, "cannot start the reloader");
	a->cache = cache_new(cfg->redis_host, (int)cfg->redis_port, 200);
	a->auth = auth_new(cfg->pg_url, 30000, err, errlen);
	a->pool = db_pool_new(cfg->pg_url,
			      &(struct db_conn_opts){.application_name = "simpul-moderate-http",
						     .statement_timeout_ms = 10000,
						     .allow_down = true},
			      (int)cfg->db_pool, err, errlen);
	if (!a->reg || !a->cache || !a->auth || !a->pool)
		return UTIL_EUNAVAIL;
	if (cfg->relay && (rc = start_relay(a, err, errlen)) != 0)
		return rc;
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
	outbox_relay_stop(a->relay, a->cfg->shutdown_grace_ms);
	http_server_free(a->http);
	outbox_relay_free(a->relay);
	db_pool_free(a->pool);
	auth_free(a->auth);
	cache_free(a->cache);
	if (a->state_ready)
		mod_state_release(&a->state);
	metrics_registry_free(a->reg);
	free(a);
}
