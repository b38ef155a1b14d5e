/*
 * services/console/console.h - the console service's internal API, shared by
 * its source files and its tests (never included by libraries or other
 * services).
 *
 * simpul-console serves the built front end (static.c) and, on the same
 * origin, forwards /api/moderate/..., /api/report/... and /api/search/... to
 * simpul-moderate, simpul-report and simpul-search over loopback (proxy.c,
 * libcurl). Its own endpoints (session.c) resolve the caller's token with
 * libs/auth and name regions. routes.c is the HTTP surface, app.c wires it.
 */
#ifndef CONSOLE_CONSOLE_H
#define CONSOLE_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct auth;
struct db_pool;
struct http_request;
struct http_route;
struct http_server;
struct metrics_registry;
struct metrics_counter;

/* ---- configuration (console_config.c) ---- */

struct console_config {
	char *bind;
	int64_t port;
	int64_t threads;
	char *pg_url;
	char *log_level;
	char *web_dir;
	char *moderate_url;
	char *report_url;
	char *search_url;
	int64_t body_max;     /* request bodies forwarded (bytes) */
	int64_t reply_max;    /* buffered upstream replies (bytes) */
	int64_t timeout_ms;   /* buffered upstream calls */
	int64_t streams_max;  /* concurrent streamed exports */
	int64_t auth_cache_ms;
	int64_t shutdown_grace_ms;
};

/* Fills cfg from the environment; all problems into err (one per line).
 * 0 or UTIL_EINVAL. Release with console_config_release. */
__attribute__((warn_unused_result)) int console_config_load(struct console_config *cfg,
							    char *err, size_t errlen);
void console_config_release(struct console_config *cfg);
void console_config_log(struct console_config *cfg);
void console_config_help(void);

/* ---- forwarding (proxy.c) ---- */

/* One upstream: the console prefix it serves and where it goes. */
struct console_upstream {
	const char *name;      /* "moderate": requests under /api/moderate/ */
	const char *base_url;  /* "http://127.0.0.1:8082" (borrowed from the config) */
	const char *base_path; /* "/v1/moderation/": what the rest of the path is appended to */
	struct console_proxy *proxy; /* borrowed */
};

/* Limits and counters shared by every forwarded request (request bodies are
 * capped by libs/http, at the routes' max_body). */
struct console_proxy {
	size_t reply_max;
	long timeout_ms;
	int streams_max;
	int streams;           /* in flight; guarded by mu */
	void *mu;              /* pthread_mutex_t *, owned */
	struct metrics_counter *calls; /* console_upstream_requests_total{upstream,status} */
};

/* Initialises p (limits from cfg, counters in reg). 0 or UTIL_ENOMEM. */
__attribute__((warn_unused_result)) int console_proxy_init(struct console_proxy *p,
							   const struct console_config *cfg,
							   struct metrics_registry *reg);
void console_proxy_release(struct console_proxy *p);

/*
 * Builds the upstream URL for a console path ("/api/moderate/queue") and the
 * request's allowed query arguments into out (cap bytes). Path segments are
 * percent-encoded again; ".." and "." segments are refused. 0, UTIL_EINVAL
 * (not under the upstream's prefix, bad segment) or UTIL_ETOOBIG.
 */
__attribute__((warn_unused_result)) int console_proxy_url(const struct console_upstream *u,
							  const char *path, const char *const *qnames,
							  const char *const *qvalues, size_t nq,
							  char *out, size_t cap);

/* The query arguments forwarded (NULL-terminated list, static storage). */
extern const char *const console_proxy_query_names[];

/*
 * The export cookie: set by POST /api/session (HttpOnly, SameSite=Strict,
 * Path=/api/report/) so that export links work as plain downloads. Only
 * streamed GETs (exports) read it; every other call needs Authorization.
 */
#define CONSOLE_EXPORT_COOKIE "simpul_export"
/* Finds the export cookie's token in a Cookie header (may be NULL); true and
 * out filled (NUL-terminated) when it is there and well-formed. */
bool console_cookie_token(const char *cookie, char out[51]);

/* True for upstream paths whose answers are streamed (exports), not buffered. */
bool console_proxy_streams(const char *upstream_path);

/*
 * Forwards req to u and replies: the method, Authorization, Content-Type,
 * Accept and X-Request-Id headers and the body go upstream; status,
 * Content-Type, Content-Disposition, Retry-After, X-Cache and the body come
 * back. Buffered answers are capped (502 upstream_too_large past it); export
 * paths are streamed through a small buffer. An unreachable upstream is
 * 502 upstream_unavailable, a timeout 504. Always replies exactly once.
 */
void console_proxy_forward(struct console_proxy *p, const struct console_upstream *u,
			   struct http_request *req);

/* ---- static files (static.c) ---- */

/*
 * Content-Type for a file name by extension ("app.js" -> "text/javascript;
 * charset=utf-8"); "application/octet-stream" when unknown. Static string.
 */
const char *console_static_type(const char *name);
/* True if name is a plain file name the console may serve ([A-Za-z0-9._-],
 * no leading '.', at most 128 bytes). */
bool console_static_name_ok(const char *name);
/* Replies with web_dir/sub/name (sub may be ""): 200, 404 not_found, or 500. */
void console_static_reply(struct http_request *req, const char *web_dir, const char *sub,
			  const char *name);

/* ---- the app (app.c, routes.c, session.c) ---- */

struct console_app {
	const struct console_config *cfg;
	struct metrics_registry *reg;
	struct auth *auth;
	struct db_pool *pool;
	struct console_proxy proxy;
	bool proxy_ready;
	struct console_upstream up[3];
	struct http_server *http;
};

/* Fills routes (at most max) for app; returns how many. */
size_t console_routes(struct console_app *app, struct http_route *routes, size_t max);

struct auth_principal;
/* Resolves the caller's Authorization header; on failure replies (401, or
 * 503 when PostgreSQL cannot be asked) and returns false. */
bool console_caller(struct console_app *app, struct http_request *req,
		    struct auth_principal *p);
/* GET /api/items/{id}/text: the stored (masked) text of each version. */
void console_item_text_get(struct http_request *req, void *ud);
/* GET /api/session: the caller's principal (libs/auth); POST also sets the
 * export cookie, DELETE clears it. */
void console_session_handle(struct http_request *req, void *ud);
/* GET /api/regions?codes=a,b or ?parent=code: names of regions. */
void console_regions_get(struct http_request *req, void *ud);

int console_app_start(struct console_app *app, const struct console_config *cfg, char *err,
		      size_t errlen);
int console_app_port(struct console_app *app);
void console_app_stop(struct console_app *app);

#endif
