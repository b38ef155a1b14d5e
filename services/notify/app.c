/*
 * services/notify/app.c - start and stop the notification service: the
 * database pool, migrations, metrics, the HTTP server, the Kafka consumer
 * thread, the digest and fan-out tickers and the delivery workers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"
#include "db/db.h"
#include "events/topics.h"
#include "http/http.h"
#include "kafka/consumer.h"
#include "metrics/metrics.h"
#include "notify.h"
#include "outbox/outbox.h"
#include "db/pool.h"
#include "schema/schema.h"
#include "slog/slog.h"
#include "util/err.h"
#include "util/ids.h"

#define POOL_SIZE 4
#define MAX_ROUTES 16

/* The read/write pool of the HTTP routes. */
static const struct db_conn_opts pool_opts = {.application_name = "simpul-notify",
					      .statement_timeout_ms = 30000,
					      .allow_down = true};

int64_t notify_now_ms(const struct notify_config *cfg)
{
	return util_now_ms() + cfg->clock_offset_ms;
}

void notify_ts_param(int64_t ms, char out[40])
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&s, &tm);
	/* Years stay four digits for any clock this service can have. */
	snprintf(out, 40, "%04d-%02d-%02d %02d:%02d:%02d.%03d+00", (tm.tm_year + 1900) % 10000,
		 (tm.tm_mon + 1) % 100, tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
		 tm.tm_sec % 100, (int)(ms % 1000));
}

static bool check_db(void *ud, char *detail, size_t len)
{
	struct notify_app *app = ud;
	bool up = db_pool_up(app->pool);

	snprintf(detail, len, "%s", up ? "" : "postgresql unreachable");
	return up;
}

static void metrics_init(struct notify_app *app)
{
	struct notify_metrics *m = &app->m;

	m->deliveries = metrics_counter_new(app->reg, "notify_deliveries_total",
					    "Delivery attempts by channel and outcome "
					    "(delivered, retrying, failed, refused).",
					    "channel,outcome");
	m->events = metrics_counter_new(app->reg, "notify_events_total",
					"Consumed events by topic and result.", "topic,result");
	m->matched = metrics_counter_new(app->reg, "notify_matched_total",
					 "Deliveries created by matching, by kind.", "kind");
	m->pending = metrics_gauge_new(app->reg, "notify_pending",
				       "Deliveries waiting to be sent.", NULL);
	m->retry_backlog = metrics_gauge_new(app->reg, "notify_retry_backlog",
					     "Pending deliveries that failed at least once.", NULL);
	m->oldest_pending = metrics_gauge_new(app->reg, "notify_oldest_pending_seconds",
					      "Age of the oldest pending delivery.", NULL);
	m->held = metrics_gauge_new(app->reg, "notify_held",
				    "Notifications held for a digest window.", NULL);
	m->send_seconds = metrics_histogram_new(app->reg, "notify_send_seconds",
						"Time of one send attempt.", "channel", NULL, 0);
}

static void *consumer_main(void *arg)
{
	struct notify_consumer *c = arg;
	char err[512];

	if (kafka_consumer_run(c->kc, &c->app->stop, err, sizeof(err)) != 0)
		slog_error("consumer stopped", "err=\"%s\"", err);
	return NULL;
}

/* SIMPUL_NOTIFY_CONSUMERS members of the group in this process, each with
 * its own PostgreSQL session: partitions are matched in parallel. */
static int consumers_start(struct notify_app *app, char *err, size_t errlen)
{
	static const char *const topics[] = {EVENTS_TOPIC_CONTENT_MODERATED,
					     EVENTS_TOPIC_CONTENT_PUBLISHED,
					     EVENTS_TOPIC_REGISTRY};
	struct db_conn_opts opts = {.application_name = "simpul-notify-consumer",
				    .statement_timeout_ms = 60000,
				    .allow_down = true};

	app->consumers = calloc((size_t)app->cfg->consumers, sizeof(*app->consumers));
	if (!app->consumers)
		return UTIL_ENOMEM;
	app->nconsumers = (int)app->cfg->consumers;
	for (int i = 0; i < app->nconsumers; i++) {
		struct notify_consumer *c = &app->consumers[i];
		struct kafka_consumer_config kc = {.brokers = app->cfg->kafka_brokers,
						   .group_id = app->cfg->group,
						   .topics = topics,
						   .ntopics = 3,
						   .handle = notify_consume_handle,
						   .ud = c};

		if (app->cfg->consume_batch > 1) {
			kc.handle_batch = notify_consume_batch;
			kc.batch_max = (int)app->cfg->consume_batch;
		}

		c->app = app;
		c->db = db_conn_new_opts(app->cfg->pg_url, &opts, err, errlen);
		if (!c->db)
			return UTIL_EUNAVAIL;
		c->kc = kafka_consumer_new(&kc, err, errlen);
		if (!c->kc)
			return UTIL_EINVAL;
		if (pthread_create(&c->thr, NULL, consumer_main, c) != 0)
			return util_err_set(err, errlen, UTIL_EINTERNAL, "cannot start consumer");
		c->started = true;
	}
	return 0;
}

/* The digest and fan-out tickers: one loop shape, a step function each. */
typedef int (*step_fn)(struct notify_app *, struct db_conn *, int64_t *, char *, size_t);
struct ticker {
	struct notify_app *app;
	step_fn step;
	const char *name;
};

static void nap_ms(struct notify_app *app, int64_t ms)
{
	for (int64_t t = 0; t < ms && !app->stop; t += 20)
		usleep(20000);
}

void *notify_ticker_main(void *arg);
void *notify_ticker_main(void *arg)
{
	struct ticker *t = arg;
	struct notify_app *app = t->app;
	struct db_conn_opts opts = {.application_name = "simpul-notify-ticker",
				    .statement_timeout_ms = 60000,
				    .allow_down = true};
	char err[512];
	struct db_conn *db = db_conn_new_opts(app->cfg->pg_url, &opts, err, sizeof(err));

	while (db && !app->stop) {
		int64_t n = 0;
		int rc = t->step(app, db, &n, err, sizeof(err));

		if (rc != 0)
			slog_warn("ticker step failed", "ticker=%s err=\"%s\"", t->name, err);
		if (rc != 0 || n == 0)
			nap_ms(app, app->cfg->poll_ms);
	}
	db_conn_free(db);
	free(t);
	return NULL;
}

static int ticker_start(struct notify_app *app, pthread_t *thr, step_fn fn, const char *name)
{
	struct ticker *t = calloc(1, sizeof(*t));

	if (!t)
		return UTIL_ENOMEM;
	t->app = app;
	t->step = fn;
	t->name = name;
	if (pthread_create(thr, NULL, notify_ticker_main, t) != 0) {
		free(t);
		return UTIL_EINTERNAL;
	}
	return 0;
}

/* The records go through simpul.outbox; whichever service's relay holds the
 * table's lock publishes them (libs/outbox), this one stands by otherwise. */
static int relay_start(struct notify_app *app, char *err, size_t errlen)
{
	struct outbox_relay_config oc = {.pg_url = app->cfg->pg_url,
					 .brokers = app->cfg->kafka_brokers,
					 .table = "simpul.outbox",
					 .metrics_prefix = "notify",
					 .reg = app->reg,
					 .client_id = "simpul-notify-relay"};

	app->relay = outbox_relay_new(&oc, err, errlen);
	if (!app->relay)
		return UTIL_EINVAL;
	return outbox_relay_start(app->relay);
}

static int http_start(struct notify_app *app, char *err, size_t errlen)
{
	struct http_route routes[MAX_ROUTES];
	size_t n = notify_routes_fill(app, routes, MAX_ROUTES);
	struct http_server_config hc = {.bind_addr = app->cfg->bind,
					.port = (int)app->cfg->port,
					.threads = (int)app->cfg->threads,
					.max_body = 64 * 1024,
					.shutdown_grace_ms = (int)app->cfg->shutdown_grace_ms,
					.service = "notify"};

	app->http = http_server_new(&hc, routes, n, app->reg, err, errlen);
	if (!app->http)
		return UTIL_EINVAL;
	if (http_server_add_check(app->http, "db", check_db, app) != 0)
		return util_err_set(err, errlen, UTIL_EINTERNAL, "cannot add readiness check");
	return http_server_start(app->http, err, errlen);
}

int notify_app_start(struct notify_app *app, const struct notify_config *cfg, char *err,
		     size_t errlen)
{
	int rc;

	memset(app, 0, sizeof(*app));
	app->cfg = cfg;
	app->reg = metrics_registry_new();
	if (!app->reg)
		return UTIL_ENOMEM;
	metrics_init(app);
	if (cfg->migrate && (rc = schema_apply(cfg->pg_url, err, errlen)) != 0)
		return rc;
	app->auth = auth_new(cfg->pg_url, cfg->auth_cache_ms, err, errlen);
	app->pool = app->auth ? db_pool_new(cfg->pg_url, &pool_opts, POOL_SIZE, err, errlen) : NULL;
	if (!app->pool)
		return UTIL_EUNAVAIL;
	app->nworkers = (int)(cfg->workers + cfg->bulk_workers);
	app->workers = notify_workers_new(app, app->nworkers, err, errlen);
	app->worker_thr = calloc((size_t)app->nworkers, sizeof(pthread_t));
	if (!app->workers || !app->worker_thr)
		return UTIL_ENOMEM;
	for (int i = 0; i < app->nworkers; i++)
		if (pthread_create(&app->worker_thr[i], NULL, notify_worker_main,
				   notify_worker_at(app->workers, i)) != 0)
			return util_err_set(err, errlen, UTIL_EINTERNAL, "cannot start workers");
	if (ticker_start(app, &app->digest_thr, notify_digest_step, "digest") != 0)
		return util_err_set(err, errlen, UTIL_EINTERNAL, "cannot start digest ticker");
	app->digest_started = true;
	if (ticker_start(app, &app->fanout_thr, notify_fanout_step, "fanout") != 0)
		return util_err_set(err, errlen, UTIL_EINTERNAL, "cannot start fan-out ticker");
	app->fanout_started = true;
	if (cfg->consume && (rc = consumers_start(app, err, errlen)) != 0)
		return rc;
	if (cfg->relay && (rc = relay_start(app, err, errlen)) != 0)
		return rc;
	return http_start(app, err, errlen);
}

int notify_app_port(const struct notify_app *app)
{
	return app->http ? http_server_port(app->http) : 0;
}

void notify_app_stop(struct notify_app *app)
{
	if (app->http)
		http_server_stop(app->http);
	app->stop = 1;
	for (int i = 0; i < app->nconsumers; i++)
		if (app->consumers[i].started)
			pthread_join(app->consumers[i].thr, NULL);
	if (app->digest_started)
		pthread_join(app->digest_thr, NULL);
	if (app->fanout_started)
		pthread_join(app->fanout_thr, NULL);
	for (int i = 0; app->worker_thr && i < app->nworkers; i++)
		if (app->worker_thr[i])
			pthread_join(app->worker_thr[i], NULL);
	outbox_relay_stop(app->relay, app->cfg->shutdown_grace_ms);
	outbox_relay_free(app->relay);
	http_server_free(app->http);
	for (int i = 0; i < app->nconsumers; i++) {
		kafka_consumer_free(app->consumers[i].kc);
		db_conn_free(app->consumers[i].db);
	}
	free(app->consumers);
	notify_workers_free(app->workers, app->nworkers);
	free(app->worker_thr);
	db_pool_free(app->pool);
	auth_free(app->auth);
	metrics_registry_free(app->reg);
	memset(app, 0, sizeof(*app));
}
