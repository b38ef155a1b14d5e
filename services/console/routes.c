/*
 * services/console/routes.c - the console's HTTP surface: the page and its
 * assets, the console's own /api/session and /api/regions, and the forwarded
 * /api/{moderate,report,search}/... trees (libs/http patterns have no
 * wildcard, so each tree is one pattern per depth).
 */
#include <stdio.h>
#include <string.h>

#include "console.h"
#include "http/http.h"

#define PROXY_DEPTH 6 /* segments after /api/<name>/ (items/{id}/decision is 3) */

static void page(struct http_request *req, void *ud)
{
	struct console_app *app = ud;

	console_static_reply(req, app->cfg->web_dir, "", "index.html");
}

static void asset(struct http_request *req, void *ud)
{
	struct console_app *app = ud;

	console_static_reply(req, app->cfg->web_dir, "assets", http_request_param(req, "file"));
}

static void no_content(struct http_request *req, void *ud)
{
	(void)ud;
	http_reply(req, 204, NULL, NULL, 0);
}

static void forward(struct http_request *req, void *ud)
{
	const struct console_upstream *u = ud;

	console_proxy_forward(u->proxy, u, req);
}

/* Pattern strings for the forwarded trees: built once, static storage. */
static char patterns[3][PROXY_DEPTH][160];

size_t console_routes(struct console_app *app, struct http_route *r, size_t max)
{
	size_t n = 0;
	const struct http_route fixed[] = {
		{"GET", "/", page, app, 0},
		{"GET", "/index.html", page, app, 0},
		{"GET", "/assets/{file}", asset, app, 0},
		{"GET", "/favicon.ico", no_content, app, 0},
		{"GET", "/api/session", console_session_handle, app, 0},
		{"POST", "/api/session", console_session_handle, app, 0},
		{"DELETE", "/api/session", console_session_handle, app, 0},
		{"GET", "/api/regions", console_regions_get, app, 0},
		{"GET", "/api/items/{id}/text", console_item_text_get, app, 0},
	};

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]) && n < max; i++)
		r[n++] = fixed[i];
	for (size_t u = 0; u < 3; u++) {
		for (size_t d = 0; d < PROXY_DEPTH; d++) {
			char *p = patterns[u][d];
			size_t len = (size_t)snprintf(p, sizeof(patterns[u][d]), "/api/%s",
						      app->up[u].name);

			for (size_t k = 0; k <= d; k++)
				len += (size_t)snprintf(p + len, sizeof(patterns[u][d]) - len,
							"/{s%zu}", k);
			if (n + 2 > max)
				return n;
			r[n++] = (struct http_route){"GET", p, forward, &app->up[u], 0};
			r[n++] = (struct http_route){"POST", p, forward, &app->up[u],
						     (size_t)app->cfg->body_max};
		}
	}
	return n;
}
