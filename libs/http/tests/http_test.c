/*
 * Unit tests of libs/http over loopback with libcurl as the client: routing,
 * params, 404/405/413, the error shape, request ids, /healthz /readyz
 * /metrics, async replies, keep-alive, limits and the graceful stop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "http/http.h"
#include "slog/slog.h"

/* ---- test handlers ---- */

static atomic_int handler_calls;
static atomic_int jobs_running;
static atomic_int slow_entered;
static struct http_request *_Atomic parked;

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static void h_content(struct http_request *req, void *ud)
{
	const char *cursor = http_request_query(req, "cursor");
	const char *xt = http_request_header(req, "x-test");

	atomic_fetch_add(&handler_calls, 1);
	http_reply_json(req, 200,
			json_pack("{s:s,s:s?,s:s?,s:s}", "id", http_request_param(req, "id"),
				  "cursor", cursor, "x_test", xt, "route",
				  http_request_route(req)));
}

static void h_special(struct http_request *req, void *ud)
{
	http_reply(req, 200, "text/plain", "special", 7);
}

static void h_echo(struct http_request *req, void *ud)
{
	struct util_slice b = http_request_body(req);

	atomic_fetch_add(&handler_calls, 1);
	http_reply(req, 200, "application/octet-stream", b.ptr, b.len);
}

static void h_err(struct http_request *req, void *ud)
{
	http_reply_error(req, 422, "invalid_field", "title \"x\" too long", "title");
}

static void h_headers(struct http_request *req, void *ud)
{
	assert_int_equal(http_reply_header(req, "Retry-After", "7"), 0);
	assert_int_equal(http_reply_header(req, "Location", "/v1/content/1"), 0);
	assert_int_not_equal(http_reply_header(req, "Bad\r\nName", "x"), 0);
	assert_int_not_equal(http_reply_header(req, "X-Ok", "a\nb"), 0);
	http_reply_error(req, 429, "rate_limited", "slow down", NULL);
}

struct job {
	struct http_request *req;
	int delay_ms;
};

static void *job_run(void *p)
{
	struct job *j = p;
	char body[64];

	sleep_ms(j->delay_ms);
	snprintf(body, sizeof(body), "{\"id\":\"%s\"}", http_request_id(j->req));
	http_reply(j->req, 202, "application/json", body, strlen(body));
	free(j);
	atomic_fetch_sub(&jobs_running, 1);
	return NULL;
}

static void start_job(struct http_request *req, int delay_ms)
{
	struct job *j = malloc(sizeof(*j));
	pthread_t t;

	assert_non_null(j);
	j->req = req;
	j->delay_ms = delay_ms;
	atomic_fetch_add(&jobs_running, 1);
	assert_int_equal(pthread_create(&t, NULL, job_run, j), 0);
	pthread_detach(t);
}

/* Reply later from another thread, after the handler returned. */
static void h_async(struct http_request *req, void *ud)
{
	start_job(req, 50);
}

/* Reply from another thread while the handler is still running. */
static void h_async_early(struct http_request *req, void *ud)
{
	start_job(req, 0);
	sleep_ms(100);
}

static void h_slow(struct http_request *req, void *ud)
{
	atomic_store(&slow_entered, 1);
	start_job(req, 300);
}

static void h_never(struct http_request *req, void *ud)
{
	atomic_store(&parked, req);
}

struct counter_stream {
	int i;
};

static ssize_t stream_next(void *ud, char *buf, size_t max)
{
	struct counter_stream *s = ud;

	if (s->i == 3)
		return 0;
	return snprintf(buf, max, "chunk%d", s->i++);
}

static void h_stream(struct http_request *req, void *ud)
{
	struct counter_stream *s = calloc(1, sizeof(*s));

	http_reply_stream(req, 200, "text/plain", stream_next, s, free);
}

static const struct http_route routes[] = {
	{"GET", "/v1/content/{id}", h_content, NULL, 0},
	{"GET", "/v1/content/special", h_special, NULL, 0},
	{"POST", "/v1/content:batch", h_echo, NULL, 64},
	{"POST", "/v1/echo", h_echo, NULL, 0},
	{"PUT", "/v1/echo", h_echo, NULL, 0},
	{"GET", "/v1/err", h_err, NULL, 0},
	{"GET", "/v1/headers", h_headers, NULL, 0},
	{"POST", "/v1/async", h_async, NULL, 0},
	{"POST", "/v1/async-early", h_async_early, NULL, 0},
	{"GET", "/v1/slow", h_slow, NULL, 0},
	{"GET", "/v1/never", h_never, NULL, 0},
	{"GET", "/v1/stream", h_stream, NULL, 0},
};

/* ---- server fixture ---- */

struct fixture {
	struct http_server *srv;
	struct metrics_registry *reg;
	int port;
	CURL *curl;
};

static struct http_server *start_server(struct http_server_config *cfg,
					struct metrics_registry *reg, int *port)
{
	char err[256] = "";
	struct http_server *srv;

	srv = http_server_new(cfg, routes, sizeof(routes) / sizeof(routes[0]), reg, err,
			      sizeof(err));
	assert_non_null(srv);
	assert_int_equal(http_server_start(srv, err, sizeof(err)), 0);
	*port = http_server_port(srv);
	assert_true(*port > 0);
	return srv;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct http_server_config cfg = {.bind_addr = "127.0.0.1", .threads = 2,
					 .max_body = 1024, .shutdown_grace_ms = 2000,
					 .service = "test"};

	f->reg = metrics_registry_new();
	f->srv = start_server(&cfg, f->reg, &f->port);
	f->curl = curl_easy_init();
	atomic_store(&handler_calls, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	curl_easy_cleanup(f->curl);
	http_server_free(f->srv);
	while (atomic_load(&jobs_running) > 0)
		sleep_ms(5);
	metrics_registry_free(f->reg);
	free(f);
	return 0;
}

/* ---- client ---- */

struct resp {
	long status;
	char body[65536];
	size_t len;
	char rid[128], allow[128], retry_after[32], location[128], ctype[128], conn[32];
	long connects;
	CURLcode cc;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct resp *r = ud;
	size_t len = sz * n, room = sizeof(r->body) - 1 - r->len;

	memcpy(r->body + r->len, p, len < room ? len : room);
	r->len += len < room ? len : room;
	r->body[r->len] = '\0';
	return len;
}

static void grab(const char *line, size_t len, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name), vl;

	if (len <= nl + 1 || strncasecmp(line, name, nl) || line[nl] != ':')
		return;
	line += nl + 1;
	len -= nl + 1;
	while (len && *line == ' ')
		line++, len--;
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	vl = len < outlen - 1 ? len : outlen - 1;
	memcpy(out, line, vl);
	out[vl] = '\0';
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
	struct resp *r = ud;
	size_t len = sz * n;

	grab(p, len, "X-Request-Id", r->rid, sizeof(r->rid));
	grab(p, len, "Allow", r->allow, sizeof(r->allow));
	grab(p, len, "Retry-After", r->retry_after, sizeof(r->retry_after));
	grab(p, len, "Location", r->location, sizeof(r->location));
	grab(p, len, "Content-Type", r->ctype, sizeof(r->ctype));
	grab(p, len, "Connection", r->conn, sizeof(r->conn));
	return len;
}

struct upload {
	const char *p;
	size_t left;
};

static size_t on_read(char *buf, size_t sz, size_t n, void *ud)
{
	struct upload *u = ud;
	size_t len = sz * n < u->left ? sz * n : u->left;

	memcpy(buf, u->p, len);
	u->p += len;
	u->left -= len;
	return len;
}

/*
 * One request on handle c (reused: keep-alive). extra is a NULL-terminated
 * header list. chunked sends the body with Transfer-Encoding: chunked.
 */
static void do_req_ex(CURL *c, int port, const char *method, const char *path, const char *body,
		      size_t len, const char *const *extra, bool chunked, struct resp *r)
{
	struct curl_slist *hl = NULL;
	struct upload up = {body, len};
	char url[512];

	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_POST, 0L);
	curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(c, CURLOPT_NOBODY, strcmp(method, "HEAD") ? 0L : 1L);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body && chunked) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, &up);
		hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
	} else if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
	}
	for (; extra && *extra; extra++)
		hl = curl_slist_append(hl, *extra);
	if (!extra || !*extra)
		hl = curl_slist_append(hl, "Expect:");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	r->cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &r->connects);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
	curl_slist_free_all(hl);
}

static void do_req(CURL *c, int port, const char *method, const char *path, const char *body,
		   const char *const *extra, struct resp *r)
{
	do_req_ex(c, port, method, path, body, body ? strlen(body) : 0, extra, false, r);
}

static bool is_hex32(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!strchr("0123456789abcdef", s[i]))
			return false;
	return i == 32;
}

/* ---- tests ---- */

static void routing_and_params(void **state)
{
	struct fixture *f = *state;
	const char *hdr[] = {"X-Test: hi", "Expect:", NULL};
	struct resp r;

	do_req(f->curl, f->port, "GET", "/v1/content/abc-1?cursor=c%203&x=1", NULL, hdr, &r);
	assert_int_equal(r.cc, CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"id\":\"abc-1\",\"cursor\":\"c 3\",\"x_test\":\"hi\","
				    "\"route\":\"/v1/content/{id}\"}");
	assert_string_equal(r.ctype, "application/json");
	/* The literal pattern beats the parameter. */
	do_req(f->curl, f->port, "GET", "/v1/content/special", NULL, NULL, &r);
	assert_string_equal(r.body, "special");
	/* A literal segment with ':' works. */
	do_req(f->curl, f->port, "POST", "/v1/content:batch", "{\"a\":1}", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"a\":1}");
	/* An empty segment does not match a parameter. */
	do_req(f->curl, f->port, "GET", "/v1/content/", NULL, NULL, &r);
	assert_int_equal(r.status, 404);
	/* HEAD falls back to GET, without a body. */
	do_req(f->curl, f->port, "HEAD", "/healthz", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.len, 0);
}

/* "%00" never becomes a NUL that cuts a path or value short; a request with
 * hundreds of query arguments gets an answer instead of hanging. */
static void nul_escapes_and_many_arguments(void **state)
{
	struct fixture *f = *state;
	struct resp r;
	char url[8192];
	size_t n;

	do_req(f->curl, f->port, "GET", "/v1/content/abc%00/x", NULL, NULL, &r);
	assert_int_equal(r.status, 404);
	do_req(f->curl, f->port, "GET", "/v1/content/abc?cursor=a%00b", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"cursor\":\"a%00b\""));
	n = (size_t)snprintf(url, sizeof(url), "/healthz?");
	for (int i = 0; i < 500 && n < sizeof(url) - 16; i++)
		n += (size_t)snprintf(url + n, sizeof(url) - n, "x%d=1&", i);
	do_req(f->curl, f->port, "GET", url, NULL, NULL, &r);
	assert_int_equal(r.cc, CURLE_OK);
	assert_int_equal(r.status, 200);
}

static void not_found_and_method_not_allowed(void **state)
{
	struct fixture *f = *state;
	struct resp r;

	do_req(f->curl, f->port, "GET", "/nope", NULL, NULL, &r);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.body, "{\"error\":{\"code\":\"not_found\",\"message\":"
				    "\"no such resource\",\"field\":null}}");
	assert_true(is_hex32(r.rid));
	do_req(f->curl, f->port, "DELETE", "/v1/echo", NULL, NULL, &r);
	assert_int_equal(r.status, 405);
	assert_string_equal(r.allow, "POST, PUT");
	assert_non_null(strstr(r.body, "\"code\":\"method_not_allowed\""));
	/* A body on an unknown path is read and dropped; keep-alive survives. */
	do_req(f->curl, f->port, "POST", "/nope", "xyz", NULL, &r);
	assert_int_equal(r.status, 404);
	assert_int_equal(r.connects, 0);
	assert_int_equal(atomic_load(&handler_calls), 0);
}

static void body_too_large(void **state)
{
	struct fixture *f = *state;
	const char *expect[] = {"Expect: 100-continue", NULL};
	char *big = malloc(200001);
	struct resp r;

	memset(big, 'a', 200000);
	big[200000] = '\0';
	/* Route cap (64) with Content-Length. */
	do_req_ex(f->curl, f->port, "POST", "/v1/content:batch", big, 100, NULL, false, &r);
	assert_int_equal(r.status, 413);
	assert_non_null(strstr(r.body, "{\"error\":{\"code\":\"body_too_large\""));
	assert_true(is_hex32(r.rid));
	/* Exactly at the cap is fine. */
	do_req_ex(f->curl, f->port, "POST", "/v1/content:batch", big, 64, NULL, false, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.len, 64);
	/* Server cap (1024), chunked upload: found out mid-stream. */
	do_req_ex(f->curl, f->port, "POST", "/v1/echo", big, 5000, NULL, true, &r);
	assert_int_equal(r.status, 413);
	assert_non_null(strstr(r.body, "body_too_large"));
	/* Big body announced with Expect: 100-continue is refused up front. */
	do_req_ex(f->curl, f->port, "POST", "/v1/echo", big, 200000, expect, false, &r);
	assert_int_equal(r.status, 413);
	/* Chunked within the cap reaches the handler. */
	do_req_ex(f->curl, f->port, "POST", "/v1/echo", big, 1000, NULL, true, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.len, 1000);
	assert_int_equal(atomic_load(&handler_calls), 2);
	free(big);
}

static void error_shape_and_headers(void **state)
{
	struct fixture *f = *state;
	struct resp r;

	do_req(f->curl, f->port, "GET", "/v1/err", NULL, NULL, &r);
	assert_int_equal(r.status, 422);
	assert_string_equal(r.body, "{\"error\":{\"code\":\"invalid_field\",\"message\":"
				    "\"title \\\"x\\\" too long\",\"field\":\"title\"}}");
	do_req(f->curl, f->port, "GET", "/v1/headers", NULL, NULL, &r);
	assert_int_equal(r.status, 429);
	assert_string_equal(r.retry_after, "7");
	assert_string_equal(r.location, "/v1/content/1");
	assert_string_equal(r.body, "{\"error\":{\"code\":\"rate_limited\",\"message\":"
				    "\"slow down\",\"field\":null}}");
}

static void request_id_echo_and_generation(void **state)
{
	struct fixture *f = *state;
	const char *good[] = {"X-Request-Id: abc.DEF_1-2", "Expect:", NULL};
	const char *bad[] = {"X-Request-Id: has space", "Expect:", NULL};
	char longid[100], hdr[128];
	const char *toolong[] = {hdr, "Expect:", NULL};
	struct resp r;

	do_req(f->curl, f->port, "GET", "/healthz", NULL, good, &r);
	assert_string_equal(r.rid, "abc.DEF_1-2");
	do_req(f->curl, f->port, "GET", "/nope", NULL, good, &r);
	assert_string_equal(r.rid, "abc.DEF_1-2");
	do_req(f->curl, f->port, "GET", "/healthz", NULL, bad, &r);
	assert_true(is_hex32(r.rid));
	memset(longid, 'a', 65);
	longid[65] = '\0';
	snprintf(hdr, sizeof(hdr), "X-Request-Id: %s", longid);
	do_req(f->curl, f->port, "GET", "/healthz", NULL, toolong, &r);
	assert_true(is_hex32(r.rid));
	longid[64] = '\0'; /* 64 is allowed */
	snprintf(hdr, sizeof(hdr), "X-Request-Id: %s", longid);
	do_req(f->curl, f->port, "GET", "/healthz", NULL, toolong, &r);
	assert_string_equal(r.rid, longid);
	/* The handler sees the same id it is echoed with. */
	do_req(f->curl, f->port, "POST", "/v1/async", "{}", good, &r);
	assert_string_equal(r.body, "{\"id\":\"abc.DEF_1-2\"}");
}

static void healthz_ok(void **state)
{
	struct fixture *f = *state;
	struct resp r;

	do_req(f->curl, f->port, "GET", "/healthz", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"status\":\"ok\"}");
}

static atomic_bool db_up;

static bool check_db(void *ud, char *detail, size_t len)
{
	if (!atomic_load(&db_up))
		snprintf(detail, len, "connection refused");
	return atomic_load(&db_up);
}

static bool check_cache(void *ud, char *detail, size_t len)
{
	return true;
}

static void readyz_checks(void **state)
{
	struct http_server_config cfg = {.bind_addr = "127.0.0.1"};
	struct http_server *srv;
	CURL *c = curl_easy_init();
	char err[128];
	struct resp r;
	int port;

	srv = http_server_new(&cfg, routes, 1, NULL, err, sizeof(err));
	assert_non_null(srv);
	assert_int_equal(http_server_add_check(srv, "db", check_db, NULL), 0);
	assert_int_equal(http_server_add_check(srv, "cache", check_cache, NULL), 0);
	assert_int_equal(http_server_start(srv, err, sizeof(err)), 0);
	assert_int_not_equal(http_server_add_check(srv, "late", check_cache, NULL), 0);
	port = http_server_port(srv);
	atomic_store(&db_up, false);
	do_req(c, port, "GET", "/readyz", NULL, NULL, &r);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.body, "{\"status\":\"not_ready\",\"checks\":{\"db\":{\"ok\":false,"
				    "\"detail\":\"connection refused\"},\"cache\":{\"ok\":true}}}");
	atomic_store(&db_up, true);
	do_req(c, port, "GET", "/readyz", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"status\":\"ready\",\"checks\":{\"db\":{\"ok\":true},"
				    "\"cache\":{\"ok\":true}}}");
	/* /healthz does not depend on the checks. */
	atomic_store(&db_up, false);
	do_req(c, port, "GET", "/healthz", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	/* The private registry serves /metrics. */
	do_req(c, port, "GET", "/metrics", NULL, NULL, &r);
	assert_non_null(strstr(r.body, "route=\"/readyz\",method=\"GET\",status=\"503\"} 1\n"));
	curl_easy_cleanup(c);
	http_server_free(srv);
}

static void metrics_after_requests(void **state)
{
	struct fixture *f = *state;
	struct metrics_counter *mine = metrics_counter_new(f->reg, "app_things_total", "Things.",
							   NULL);
	struct resp r;

	metrics_counter_add(mine, NULL, 5);
	do_req(f->curl, f->port, "GET", "/v1/content/1", NULL, NULL, &r);
	do_req(f->curl, f->port, "GET", "/v1/content/2", NULL, NULL, &r);
	do_req(f->curl, f->port, "GET", "/whatever/x", NULL, NULL, &r);
	do_req(f->curl, f->port, "GET", "/metrics", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.ctype, "text/plain; version=0.0.4; charset=utf-8");
	assert_non_null(strstr(r.body, "# TYPE http_requests_total counter\n"));
	assert_non_null(strstr(r.body, "http_requests_total{route=\"/v1/content/{id}\","
				       "method=\"GET\",status=\"200\"} 2\n"));
	assert_non_null(strstr(r.body, "http_requests_total{route=\"unmatched\",method=\"GET\","
				       "status=\"404\"} 1\n"));
	assert_non_null(strstr(r.body, "# TYPE http_request_duration_seconds histogram\n"));
	assert_non_null(strstr(r.body, "http_request_duration_seconds_bucket{route="
				       "\"/v1/content/{id}\",le=\"+Inf\"} 2\n"));
	assert_non_null(strstr(r.body, "http_request_duration_seconds_count{route="
				       "\"/v1/content/{id}\"} 2\n"));
	assert_non_null(strstr(r.body, "http_requests_in_flight 1\n")); /* this one */
	assert_non_null(strstr(r.body, "app_things_total 5\n"));
	assert_null(strstr(r.body, "/whatever"));
}

static void async_replies(void **state)
{
	struct fixture *f = *state;
	struct resp r;
	int i;

	for (i = 0; i < 3; i++) {
		do_req(f->curl, f->port, "POST", "/v1/async", "{}", NULL, &r);
		assert_int_equal(r.cc, CURLE_OK);
		assert_int_equal(r.status, 202);
		assert_non_null(strstr(r.body, r.rid));
		do_req(f->curl, f->port, "POST", "/v1/async-early", "{}", NULL, &r);
		assert_int_equal(r.status, 202);
		do_req(f->curl, f->port, "GET", "/v1/stream", NULL, NULL, &r);
		assert_int_equal(r.status, 200);
		assert_string_equal(r.body, "chunk0chunk1chunk2");
	}
}

struct par_arg {
	int port;
	int n;
	int ok;
};

static void *par_client(void *p)
{
	struct par_arg *a = p;
	CURL *c = curl_easy_init();
	struct resp *r = malloc(sizeof(*r));
	int i;

	for (i = 0; i < a->n; i++) {
		do_req(c, a->port, "POST", i % 2 ? "/v1/async" : "/v1/echo", "{\"x\":1}", NULL, r);
		a->ok += r->status == (i % 2 ? 202 : 200);
	}
	free(r);
	curl_easy_cleanup(c);
	return NULL;
}

static void concurrent_clients(void **state)
{
	struct fixture *f = *state;
	struct par_arg a[6];
	pthread_t t[6];
	int i;

	for (i = 0; i < 6; i++) {
		a[i] = (struct par_arg){f->port, 20, 0};
		assert_int_equal(pthread_create(&t[i], NULL, par_client, &a[i]), 0);
	}
	for (i = 0; i < 6; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(a[i].ok, 20);
	}
}

static void keep_alive_reuses_connection(void **state)
{
	struct fixture *f = *state;
	struct resp r;
	int i;

	do_req(f->curl, f->port, "GET", "/healthz", NULL, NULL, &r);
	assert_int_equal(r.connects, 1);
	for (i = 0; i < 5; i++) {
		do_req(f->curl, f->port, "POST", i % 2 ? "/v1/async" : "/v1/echo", "{}", NULL, &r);
		assert_int_equal(r.cc, CURLE_OK);
		assert_int_equal(r.connects, 0); /* no new connection */
	}
}

struct bg_req {
	int port;
	const char *path;
	struct resp r;
};

static void *bg_run(void *p)
{
	struct bg_req *b = p;
	CURL *c = curl_easy_init();

	do_req(c, b->port, "GET", b->path, NULL, NULL, &b->r);
	curl_easy_cleanup(c);
	return NULL;
}

static void graceful_stop_finishes_in_flight(void **state)
{
	struct fixture *f = *state;
	struct bg_req *b = calloc(1, sizeof(*b));
	struct resp *r = calloc(1, sizeof(*r));
	pthread_t t;

	atomic_store(&slow_entered, 0);
	b->port = f->port;
	b->path = "/v1/slow";
	assert_int_equal(pthread_create(&t, NULL, bg_run, b), 0);
	while (!atomic_load(&slow_entered))
		sleep_ms(2);
	http_server_stop(f->srv); /* waits for the 300 ms async reply */
	pthread_join(t, NULL);
	assert_int_equal(b->r.cc, CURLE_OK);
	assert_int_equal(b->r.status, 202);
	assert_string_equal(b->r.conn, "close");
	/* Not listening any more. */
	do_req(f->curl, f->port, "GET", "/healthz", NULL, NULL, r);
	assert_int_not_equal(r->cc, CURLE_OK);
	http_server_stop(f->srv); /* twice is fine */
	free(b);
	free(r);
}

static void forced_stop_answers_503(void **state)
{
	struct http_server_config cfg = {.bind_addr = "127.0.0.1", .shutdown_grace_ms = 200};
	struct bg_req *b = calloc(1, sizeof(*b));
	struct http_request *req;
	struct http_server *srv;
	pthread_t t;

	atomic_store(&parked, NULL);
	srv = start_server(&cfg, NULL, &b->port);
	b->path = "/v1/never";
	assert_int_equal(pthread_create(&t, NULL, bg_run, b), 0);
	while (!atomic_load(&parked))
		sleep_ms(2);
	http_server_free(srv);
	pthread_join(t, NULL);
	assert_int_equal(b->r.status, 503);
	assert_string_equal(b->r.body, "{\"error\":{\"code\":\"shutting_down\",\"message\":"
				       "\"the server is shutting down\",\"field\":null}}");
	/* The handler's late reply is discarded and releases the request. */
	req = atomic_load(&parked);
	assert_string_equal(http_request_path(req), "/v1/never");
	http_reply(req, 200, "text/plain", "late", 4);
	free(b);
}

static void per_ip_limit_and_timeout(void **state)
{
	struct http_server_config cfg = {.bind_addr = "127.0.0.1", .per_ip_limit = 1,
					 .conn_timeout_s = 1};
	struct http_server *srv;
	CURL *a = curl_easy_init(), *b = curl_easy_init();
	struct resp r;
	int port;

	srv = start_server(&cfg, NULL, &port);
	do_req(a, port, "GET", "/healthz", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	/* a keeps its connection: a second one from this address is refused. */
	do_req(b, port, "GET", "/healthz", NULL, NULL, &r);
	assert_int_not_equal(r.cc, CURLE_OK);
	/* After the idle timeout the server closed a's connection. */
	sleep_ms(2500);
	do_req(b, port, "GET", "/healthz", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	curl_easy_cleanup(a);
	curl_easy_cleanup(b);
	http_server_free(srv);
}

/* Opens a connection and sends a POST whose body never completes. */
static int partial_upload(int port, const char *path)
{
	char req[256];
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int n = snprintf(req, sizeof(req),
			 "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab", path);

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, req, (size_t)n), n);
	return fd;
}

/* Slow uploads (headers in, body unfinished) are not in flight. */
static void slow_uploads_not_in_flight(void **state)
{
	struct fixture *f = *state;
	struct resp r;
	int fds[8];

	for (int i = 0; i < 8; i++)
		fds[i] = partial_upload(f->port, "/v1/echo");
	sleep_ms(200);
	do_req(f->curl, f->port, "GET", "/metrics", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "http_requests_in_flight 1\n")); /* the GET only */
	for (int i = 0; i < 8; i++)
		close(fds[i]);
	assert_int_equal(atomic_load(&handler_calls), 0);
}

static atomic_int admit_calls;
static atomic_bool admit_open;

static bool admit_posts(struct http_request *req, void *ud)
{
	atomic_fetch_add(&admit_calls, 1);
	assert_ptr_equal(ud, &admit_calls);
	return strcmp(http_request_method(req), "POST") != 0 || atomic_load(&admit_open);
}

/* The admit hook sheds at the headers: 503 overloaded, no handler, keep-alive. */
static void admit_hook_sheds(void **state)
{
	struct http_server_config cfg = {.bind_addr = "127.0.0.1", .max_body = 1024,
					 .admit = admit_posts, .admit_ud = &admit_calls};
	struct metrics_registry *reg = metrics_registry_new();
	struct http_server *srv;
	CURL *c = curl_easy_init();
	struct resp r;
	int port;

	atomic_store(&admit_calls, 0);
	atomic_store(&admit_open, false);
	atomic_store(&handler_calls, 0);
	srv = start_server(&cfg, reg, &port);
	do_req(c, port, "POST", "/v1/echo", "{\"a\":1}", NULL, &r);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.body, "{\"error\":{\"code\":\"overloaded\",\"message\":"
				    "\"server overloaded, retry later\",\"field\":null}}");
	assert_string_equal(r.retry_after, "1");
	assert_true(is_hex32(r.rid));
	/* a larger body, chunked: discarded, still the 503, same connection */
	{
		char big[900];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		do_req_ex(c, port, "POST", "/v1/echo", big, strlen(big), NULL, true, &r);
		assert_int_equal(r.status, 503);
		assert_int_equal(r.connects, 0);
	}
	assert_int_equal(atomic_load(&handler_calls), 0); /* the handler never ran */
	/* GET is admitted by this hook; unknown paths never reach it */
	do_req(c, port, "GET", "/healthz", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(atomic_load(&admit_calls), 3);
	do_req(c, port, "POST", "/nowhere", "x", NULL, &r);
	assert_int_equal(r.status, 404);
	assert_int_equal(atomic_load(&admit_calls), 3);
	/* open again: the same connection's next POST reaches the handler */
	atomic_store(&admit_open, true);
	do_req(c, port, "POST", "/v1/echo", "{\"a\":1}", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.connects, 0);
	assert_int_equal(atomic_load(&handler_calls), 1);
	do_req(c, port, "GET", "/metrics", NULL, NULL, &r);
	assert_non_null(strstr(r.body, "http_requests_total{route=\"/v1/echo\",method=\"POST\","
				       "status=\"503\"} 2\n"));
	curl_easy_cleanup(c);
	http_server_free(srv);
	metrics_registry_free(reg);
}

static void bad_config_and_patterns(void **state)
{
	struct http_server_config cfg = {.bind_addr = "127.0.0.1"};
	const struct http_route bad1[] = {{"GET", "no-slash", h_special, NULL, 0}};
	const struct http_route bad2[] = {{"GET", "/a/{b", h_special, NULL, 0}};
	const struct http_route bad3[] = {{"GET", "/a/{b-c}", h_special, NULL, 0}};
	const struct http_route bad4[] = {{"GET", "/a", NULL, NULL, 0}};
	struct http_server_config badaddr = {.bind_addr = "localhost"};
	struct http_server *srv;
	char err[128] = "";

	assert_null(http_server_new(&cfg, bad1, 1, NULL, err, sizeof(err)));
	assert_true(err[0] != '\0');
	assert_null(http_server_new(&cfg, bad2, 1, NULL, err, sizeof(err)));
	assert_null(http_server_new(&cfg, bad3, 1, NULL, err, sizeof(err)));
	assert_null(http_server_new(&cfg, bad4, 1, NULL, err, sizeof(err)));
	srv = http_server_new(&badaddr, routes, 1, NULL, err, sizeof(err));
	assert_non_null(srv);
	assert_int_not_equal(http_server_start(srv, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "localhost"));
	http_server_free(srv);
	http_server_free(NULL);
}

static void port_in_use(void **state)
{
	struct fixture *f = *state;
	struct http_server_config cfg = {.bind_addr = "127.0.0.1", .port = f->port};
	struct http_server *srv;
	char err[128] = "";

	srv = http_server_new(&cfg, routes, 1, NULL, err, sizeof(err));
	assert_non_null(srv);
	assert_int_not_equal(http_server_start(srv, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "cannot listen"));
	http_server_free(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(routing_and_params, setup, teardown),
		cmocka_unit_test_setup_teardown(nul_escapes_and_many_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(not_found_and_method_not_allowed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(body_too_large, setup, teardown),
		cmocka_unit_test_setup_teardown(error_shape_and_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(request_id_echo_and_generation, setup, teardown),
		cmocka_unit_test_setup_teardown(healthz_ok, setup, teardown),
		cmocka_unit_test(readyz_checks),
		cmocka_unit_test_setup_teardown(metrics_after_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(async_replies, setup, teardown),
		cmocka_unit_test_setup_teardown(concurrent_clients, setup, teardown),
		cmocka_unit_test_setup_teardown(keep_alive_reuses_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(graceful_stop_finishes_in_flight, setup,
						teardown),
		cmocka_unit_test(forced_stop_answers_503),
		cmocka_unit_test(per_ip_limit_and_timeout),
		cmocka_unit_test_setup_teardown(slow_uploads_not_in_flight, setup, teardown),
		cmocka_unit_test(admit_hook_sheds),
		cmocka_unit_test(bad_config_and_patterns),
		cmocka_unit_test_setup_teardown(port_in_use, setup, teardown),
	};
	int rc;

	slog_init("http_test", SLOG_ERROR);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
