/*
 * tests/console/console_proxy_test.c - the console service in-process
 * against an upstream served by libs/http in the same process (standing in
 * for simpul-moderate, -report and -search so the proxy's edges can be
 * forced) and the real PostgreSQL of the stack (tokens, regions):
 *
 *   - Authorization, Content-Type, the body and the request id go upstream;
 *     only known query arguments do;
 *   - a buffered answer over SIMPUL_CONSOLE_REPLY_MAX is 502, an upstream
 *     that does not answer is 502 upstream_unavailable, a body over
 *     SIMPUL_CONSOLE_BODY_MAX is 413;
 *   - an export of 8 MiB (128 times the buffered cap) streams through whole,
 *     with its Content-Disposition, and the export cookie stands in for a
 *     missing Authorization there but nowhere else; an upstream error on an
 *     export path comes back as it was;
 *   - /api/session (401, 403 for a citizen, 200 + the cookie for a
 *     moderator), /api/regions, /api/items/{id}/text (404), static files
 *     (traversal refused).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "console.h"
#include "http/http.h"
#include "ts/ts.h"
#include "util/err.h"

#define EXPORT_BYTES (8u << 20)
#define REPLY_MAX (64 * 1024)

static struct ts_env env;
static struct ts_fixture fx;
static struct http_server *upstream;
static struct console_config cfg;
static struct console_app app;
static char base[64], web_dir[64], up_url[64];

/* ---- the stand-in upstream ---- */

static void up_echo(struct http_request *req, void *ud)
{
	struct util_slice b = http_request_body(req);
	const char *a = http_request_header(req, "Authorization");
	const char *ct = http_request_header(req, "Content-Type");
	const char *q = http_request_query(req, "region");
	const char *bogus = http_request_query(req, "bogus");

	(void)ud;
	http_reply_json(req, 200,
			json_pack("{s:s?, s:s?, s:s?, s:s?, s:s, s:s, s:s%}", "auth", a, "ctype", ct,
				  "region", q, "bogus", bogus, "path", http_request_path(req), "rid",
				  http_request_id(req), "body", b.ptr ? b.ptr : "", b.len));
}

static void up_big(struct http_request *req, void *ud)
{
	static char big[3 * REPLY_MAX];

	(void)ud;
	memset(big, 'a', sizeof(big));
	http_reply(req, 200, "text/plain", big, sizeof(big));
}

struct gen {
	char head[128];
	size_t head_len, sent;
};

static ssize_t gen_read(void *ud, char *buf, size_t max)
{
	struct gen *g = ud;
	size_t left = g->head_len + EXPORT_BYTES - g->sent, n = left < max ? left : max;

	for (size_t i = 0; i < n; i++, g->sent++)
		buf[i] = g->sent < g->head_len ? g->head[g->sent] : (g->sent % 64 == 63 ? '\n' : 'x');
	return (ssize_t)n;
}

static void up_export(struct http_request *req, void *ud)
{
	struct gen *g = calloc(1, sizeof(*g));
	const char *a = http_request_header(req, "Authorization");

	(void)ud;
	g->head_len = (size_t)snprintf(g->head, sizeof(g->head), "auth=%s\n", a ? a : "none");
	if (http_reply_header(req, "Content-Disposition", "attachment; filename=\"cells.csv\""))
		fail();
	http_reply_stream(req, 200, "text/csv", gen_read, g, free);
}

static void up_not_ready(struct http_request *req, void *ud)
{
	(void)ud;
	http_reply_error(req, 409, "not_ready", "export is not ready", NULL);
}

static const struct http_route up_routes[] = {
	{"GET", "/v1/moderation/echo", up_echo, NULL, 0},
	{"POST", "/v1/moderation/items/{id}/decision", up_echo, NULL, 0},
	{"GET", "/v1/moderation/big", up_big, NULL, 0},
	{"GET", "/v1/reports/export", up_export, NULL, 0},
	{"GET", "/v1/reports/echo", up_echo, NULL, 0},
	{"GET", "/v1/reports/exports/{id}/file", up_not_ready, NULL, 0},
};

/* ---- a client that counts what it receives ---- */

struct got {
	long status;
	struct util_buf head; /* first 64 KiB of the body */
	size_t len;
	char ctype[128], disp[128], rid[80], cookie[200];
};

static size_t got_body(char *p, size_t size, size_t n, void *ud)
{
	struct got *g = ud;

	if (g->head.len < 65536 && util_buf_append(&g->head, p, size * n))
		return 0;
	g->len += size * n;
	return size * n;
}

static void grab(char *dst, size_t cap, const char *line, size_t len, const char *name)
{
	size_t nl = strlen(name);

	if (len > nl + 2 && !strncasecmp(line, name, nl) && line[nl] == ':') {
		size_t vl = len - nl - 2;

		while (vl && (line[nl + 2 + vl - 1] == '\r' || line[nl + 2 + vl - 1] == '\n'))
			vl--;
		snprintf(dst, cap, "%.*s", (int)vl, line + nl + 2);
	}
}

static size_t got_header(char *p, size_t size, size_t n, void *ud)
{
	struct got *g = ud;

	grab(g->ctype, sizeof(g->ctype), p, size * n, "Content-Type");
	grab(g->disp, sizeof(g->disp), p, size * n, "Content-Disposition");
	grab(g->rid, sizeof(g->rid), p, size * n, "X-Request-Id");
	grab(g->cookie, sizeof(g->cookie), p, size * n, "Set-Cookie");
	return size * n;
}

static void call(struct got *g, const char *method, const char *path, const char *h1,
		 const char *h2, const char *body)
{
	CURL *e = curl_easy_init();
	struct curl_slist *l = NULL;
	char url[512];

	memset(g, 0, sizeof(*g));
	util_buf_init(&g->head, 0);
	snprintf(url, sizeof(url), "%s%s", base, path);
	if (h1)
		l = curl_slist_append(l, h1);
	if (h2)
		l = curl_slist_append(l, h2);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, l);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, got_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, g);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, got_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, g);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	if (body)
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	if (curl_easy_perform(e) == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &g->status);
	curl_slist_free_all(l);
	curl_easy_cleanup(e);
}

static void got_release(struct got *g)
{
	util_buf_release(&g->head);
}

static json_t *got_json(struct got *g)
{
	json_t *j = json_loads(g->head.data ? g->head.data : "", 0, NULL);

	assert_non_null(j);
	return j;
}

static const char *jstr(json_t *j, const char *k)
{
	return json_string_value(json_object_get(j, k));
}

static char auth_hdr[100];

/* ---- tests ---- */

static void test_forward_headers_and_query(void **state)
{
	struct got g;
	json_t *j;

	(void)state;
	call(&g, "GET", "/api/moderate/echo?region=35.07&bogus=1", auth_hdr,
	     "X-Request-Id: console-test-1", NULL);
	assert_int_equal(g.status, 200);
	j = got_json(&g);
	assert_string_equal(jstr(j, "auth"), auth_hdr + strlen("Authorization: "));
	assert_string_equal(jstr(j, "region"), "35.07");
	assert_null(jstr(j, "bogus"));
	assert_string_equal(jstr(j, "path"), "/v1/moderation/echo");
	assert_string_equal(jstr(j, "rid"), "console-test-1");
	assert_string_equal(g.rid, "console-test-1");
	json_decref(j);
	got_release(&g);

	call(&g, "POST", "/api/moderate/items/abc/decision", auth_hdr,
	     "Content-Type: application/json", "{\"decision\":\"approve\"}");
	assert_int_equal(g.status, 200);
	j = got_json(&g);
	assert_string_equal(jstr(j, "body"), "{\"decision\":\"approve\"}");
	assert_string_equal(jstr(j, "ctype"), "application/json");
	assert_string_equal(jstr(j, "path"), "/v1/moderation/items/abc/decision");
	json_decref(j);
	got_release(&g);
}

static void test_caps_and_failures(void **state)
{
	struct got g;
	json_t *j;

	(void)state;
	call(&g, "GET", "/api/moderate/big", auth_hdr, NULL, NULL);
	assert_int_equal(g.status, 502);
	j = got_json(&g);
	assert_string_equal(jstr(json_object_get(j, "error"), "code"), "upstream_too_large");
	json_decref(j);
	got_release(&g);

	call(&g, "GET", "/api/search/search?q=x", NULL, NULL, NULL); /* nothing listens there */
	assert_int_equal(g.status, 502);
	j = got_json(&g);
	assert_string_equal(jstr(json_object_get(j, "error"), "code"), "upstream_unavailable");
	json_decref(j);
	got_release(&g);

	{
		char *big = malloc((2u << 20) + 1);

		assert_non_null(big);
		memset(big, 'a', 2u << 20);
		big[2u << 20] = '\0';
		call(&g, "POST", "/api/moderate/items/abc/decision", auth_hdr,
		     "Content-Type: application/json", big);
		assert_int_equal(g.status, 413);
		got_release(&g);
		free(big);
	}

	call(&g, "GET", "/api/moderate/..%2Fmetrics", auth_hdr, NULL, NULL);
	assert_int_equal(g.status, 404);
	got_release(&g);
}

static void test_export_streams(void **state)
{
	char cookie[120];
	struct got g;

	(void)state;
	call(&g, "GET", "/api/report/export?region=35&format=csv", auth_hdr, NULL, NULL);
	assert_int_equal(g.status, 200);
	assert_string_equal(g.ctype, "text/csv");
	assert_string_equal(g.disp, "attachment; filename=\"cells.csv\"");
	assert_true(g.len > EXPORT_BYTES && g.len < EXPORT_BYTES + 128);
	assert_memory_equal(g.head.data, "auth=Bearer ", 12);
	got_release(&g);

	/* the cookie stands in for Authorization on exports only */
	snprintf(cookie, sizeof(cookie), "Cookie: a=b; %s=%s", CONSOLE_EXPORT_COOKIE,
		 fx.users[TS_MODERATOR].token);
	call(&g, "GET", "/api/report/export", cookie, NULL, NULL);
	assert_int_equal(g.status, 200);
	assert_true(strstr(g.head.data, fx.users[TS_MODERATOR].token) != NULL);
	got_release(&g);
	call(&g, "GET", "/api/report/echo", cookie, NULL, NULL);
	assert_int_equal(g.status, 200);
	assert_true(strstr(g.head.data, "\"auth\":null") != NULL);
	got_release(&g);

	call(&g, "GET", "/api/report/exports/0b9e/file", auth_hdr, NULL, NULL);
	assert_int_equal(g.status, 409);
	assert_true(strstr(g.head.data, "not_ready") != NULL);
	got_release(&g);
}

static void test_session_and_own_endpoints(void **state)
{
	char hdr[100];
	struct got g;
	json_t *j;

	(void)state;
	call(&g, "GET", "/api/session", NULL, NULL, NULL);
	assert_int_equal(g.status, 401);
	got_release(&g);
	snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", fx.users[TS_CITIZEN].token);
	call(&g, "GET", "/api/session", hdr, NULL, NULL);
	assert_int_equal(g.status, 403);
	got_release(&g);

	call(&g, "POST", "/api/session", auth_hdr, NULL, NULL);
	assert_int_equal(g.status, 200);
	j = got_json(&g);
	assert_string_equal(jstr(j, "role"), "moderator");
	assert_string_equal(jstr(j, "region_prefix"), "35.07");
	assert_string_equal(jstr(j, "user_id"), fx.users[TS_MODERATOR].id);
	json_decref(j);
	assert_true(strstr(g.cookie, "HttpOnly") && strstr(g.cookie, "SameSite=Strict") &&
		    strstr(g.cookie, fx.users[TS_MODERATOR].token));
	got_release(&g);

	call(&g, "GET", "/api/regions?codes=35.07,35.07.12", auth_hdr, NULL, NULL);
	assert_int_equal(g.status, 200);
	assert_true(strstr(g.head.data, "\"code\":\"35.07.12\"") != NULL);
	got_release(&g);
	call(&g, "GET", "/api/regions?codes=35;drop", auth_hdr, NULL, NULL);
	assert_int_equal(g.status, 400);
	got_release(&g);
	call(&g, "GET", "/api/regions?codes=35,,36", auth_hdr, NULL, NULL);
	assert_int_equal(g.status, 400);
	got_release(&g);

	call(&g, "GET", "/api/items/00000000-0000-4000-8000-000000000000/text", auth_hdr, NULL,
	     NULL);
	assert_int_equal(g.status, 404);
	got_release(&g);
}

static void test_static_files(void **state)
{
	struct got g;

	(void)state;
	call(&g, "GET", "/", NULL, NULL, NULL);
	assert_int_equal(g.status, 200);
	assert_string_equal(g.ctype, "text/html; charset=utf-8");
	assert_string_equal(g.head.data, "<!doctype html><title>t</title>");
	got_release(&g);
	call(&g, "GET", "/assets/app.js", NULL, NULL, NULL);
	assert_int_equal(g.status, 200);
	assert_string_equal(g.ctype, "text/javascript; charset=utf-8");
	got_release(&g);
	call(&g, "GET", "/assets/..%2Findex.html", NULL, NULL, NULL);
	assert_int_equal(g.status, 404);
	got_release(&g);
	call(&g, "GET", "/assets/missing.js", NULL, NULL, NULL);
	assert_int_equal(g.status, 404);
	got_release(&g);
}

/* ---- set-up ---- */

static int write_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(f = fopen(path, "w")))
		return -1;
	fputs(text, f);
	return fclose(f);
}

static int setup(void **state)
{
	char err[512], assets[96];
	struct http_server_config uc = {.bind_addr = "127.0.0.1", .port = 0, .service = "up"};
	PGconn *pg;

	(void)state;
	if (ts_env_load(&env, err, sizeof(err))) {
		fprintf(stderr, "console_proxy_test: the stack is needed: %s\n", err);
		return -1;
	}
	pg = ts_pg_connect(env.pg_url, err, sizeof(err));
	if (!pg || ts_fixture_create(&fx, pg, err, sizeof(err))) {
		fprintf(stderr, "console_proxy_test: fixture: %s\n", err);
		return -1;
	}
	PQfinish(pg);
	snprintf(auth_hdr, sizeof(auth_hdr), "Authorization: Bearer %s",
		 fx.users[TS_MODERATOR].token);
	snprintf(web_dir, sizeof(web_dir), "/tmp/console-test-XXXXXX");
	if (!mkdtemp(web_dir))
		return -1;
	snprintf(assets, sizeof(assets), "%s/assets", web_dir);
	if (mkdir(assets, 0700) || write_file(web_dir, "index.html", "<!doctype html><title>t</title>") ||
	    write_file(assets, "app.js", "console.log(1)"))
		return -1;
	upstream = http_server_new(&uc, up_routes, sizeof(up_routes) / sizeof(up_routes[0]), NULL,
				   err, sizeof(err));
	if (!upstream || http_server_start(upstream, err, sizeof(err)))
		return -1;
	snprintf(up_url, sizeof(up_url), "http://127.0.0.1:%d", http_server_port(upstream));
	cfg = (struct console_config){.bind = "127.0.0.1", .port = 0, .threads = 4,
				      .pg_url = env.pg_url, .log_level = "warn",
				      .web_dir = web_dir, .moderate_url = up_url,
				      .report_url = up_url, .search_url = "http://127.0.0.1:1",
				      .body_max = 1 << 20, .reply_max = REPLY_MAX,
				      .timeout_ms = 10000, .streams_max = 2, .auth_cache_ms = 1000,
				      .shutdown_grace_ms = 2000};
	if (console_app_start(&app, &cfg, err, sizeof(err))) {
		fprintf(stderr, "console_proxy_test: console: %s\n", err);
		return -1;
	}
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", console_app_port(&app));
	return 0;
}

static int teardown(void **state)
{
	char path[128];

	(void)state;
	console_app_stop(&app);
	http_server_free(upstream);
	snprintf(path, sizeof(path), "%s/assets/app.js", web_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/assets", web_dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/index.html", web_dir);
	unlink(path);
	rmdir(web_dir);
	ts_env_release(&env);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forward_headers_and_query),
		cmocka_unit_test(test_caps_and_failures),
		cmocka_unit_test(test_export_streams),
		cmocka_unit_test(test_session_and_own_endpoints),
		cmocka_unit_test(test_static_files),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
