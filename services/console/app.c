/*
 * services/console/app.c - wiring: metrics, libs/auth, a small PostgreSQL
 * pool (user and region names), the proxy and the HTTP server; stopped in
 * reverse order.
 */
#include <string.h>

#include <curl/curl.h>

#include "auth/auth.h"
#include "console.h"
#include "db/db.h"
#include "db/pool.h"
#include "http/http.h"
#include "metrics/metrics.h"
#include "util/err.h"

#define MAX_ROUTES 64

static bool check_db(void *ud, char *detail, size_t len)
{
	struct console_app *app = ud;
	bool up = db_pool_up(app->pool);

	snprintf(detail, len, "%s", up ? "ok" : "unreachable");
	return up;
}

static int start_http(struct console_app *app, char *err, size_t errlen)
{
	const struct console_config *cfg = app->cfg;
	struct http_route routes[MAX_ROUTES];
	size_t n = console_routes(app, routes, MAX_ROUTES);
	struct http_server_config hc = {.bind_addr = cfg->bind,
					.port = (int)cfg->port,
					.threads = (int)cfg->threads,
					.max_body = (size_t)cfg->body_max,
					.shutdown_grace_ms = (int)cfg->shutdown_grace_ms,
					.service = "console"};

	app->http = http_server_new(&hc, routes, n, app->reg, err, errlen);
	if (!app->http)
		return UTIL_EINVAL;
	if (http_server_add_check(app->http, "db", check_db, app))
		return util_err_set(err, errlen, UTIL_ENOMEM, "cannot add readiness check");
	return http_server_start(app->http, err, errlen);
}

int console_app_start(struct console_app *app, const struct console_config *cfg, char *err,
		      size_t errlen)
{
	memset(app, 0, sizeof(*app));
	app->cfg = cfg;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return util_err_set(err, errlen, UTIL_EINTERNAL, "curl_global_init failed");
	app->reg = metrics_registry_new();
	if (!app->reg || console_proxy_init(&app->proxy, cfg, app->reg))
		return util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
	app->proxy_ready = true;
	app->up[0] = (struct console_upstream){"moderate", cfg->moderate_url, "/v1/moderation/",
					       &app->proxy};
	app->up[1] = (struct console_upstream){"report", cfg->report_url, "/v1/reports/",
					       &app->proxy};
	app->up[2] = (struct console_upstream){"search", cfg->search_url, "/v1/", &app->proxy};
	app->pool = db_pool_new(cfg->pg_url,
				&(struct db_conn_opts){.application_name = "simpul-console",
						       .statement_timeout_ms = 5000,
						       .allow_down = true},
				2, err, errlen);
	app->auth = app->pool ? auth_new(cfg->pg_url, cfg->auth_cache_ms, err, errlen) : NULL;
	if (!app->pool || !app->auth)
		return UTIL_EIO;
	return start_http(app, err, errlen);
}

int console_app_port(struct console_app *app)
{
	return app->http ? http_server_port(app->http) : 0;
}

void console_app_stop(struct console_app *app)
{
	http_server_stop(app->http); /* in-flight forwards and streams end first */
	http_server_free(app->http);
	auth_free(app->auth);
	db_pool_free(app->pool);
	if (app->proxy_ready)
		console_proxy_release(&app->proxy);
	metrics_registry_free(app->reg);
	if (app->cfg)
		curl_global_cleanup();
	memset(app, 0, sizeof(*app));
}
