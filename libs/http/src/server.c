/*
 * http/src/server.c - the server: libmicrohttpd daemon setup (epoll thread
 * pool, suspend/resume, limits), the access handler that reads bodies up to
 * the cap and dispatches, completion accounting (metrics, logs), built-in
 * endpoints, and the graceful stop.
 */
#include "http_internal.h"
#include "slog/slog.h"
#include "util/err.h"
#include "util/ids.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_THREADS 2
#define DEFAULT_TIMEOUT_S 30
#define DEFAULT_MAX_BODY (1024 * 1024)
#define DEFAULT_GRACE_MS 5000
#define METRICS_RENDER_CAP (16 * 1024 * 1024)
#define DISCARD_MIN (64 * 1024)

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ---- built-in endpoints ---- */

void http_builtin_healthz(struct http_request *req, void *ud)
{
	static const char body[] = "{\"status\":\"ok\"}";

	http_reply(req, 200, "application/json", body, sizeof(body) - 1);
}

void http_builtin_readyz(struct http_request *req, void *ud)
{
	struct http_server *srv = ud;
	json_t *root = json_object(), *checks = json_object();
	bool ready = true;
	size_t i;

	for (i = 0; i < srv->nchecks && root && checks; i++) {
		char detail[256] = "";
		bool ok = srv->checks[i].fn(srv->checks[i].ud, detail, sizeof(detail));
		json_t *c = json_object();

		detail[sizeof(detail) - 1] = '\0';
		ready = ready && ok;
		json_object_set_new(c, "ok", json_boolean(ok));
		if (detail[0])
			json_object_set_new(c, "detail", json_string(detail));
		json_object_set_new(checks, srv->checks[i].name, c);
	}
	if (atomic_load(&srv->stopping))
		json_object_set_new(root, "status", json_string("stopping"));
	else
		json_object_set_new(root, "status", json_string(ready ? "ready" : "not_ready"));
	json_object_set_new(root, "checks", checks);
	ready = ready && !atomic_load(&srv->stopping);
	http_reply_json(req, ready ? 200 : 503, root);
}

void http_builtin_metrics(struct http_request *req, void *ud)
{
	struct http_server *srv = ud;
	struct util_buf b;

	util_buf_init(&b, METRICS_RENDER_CAP);
	if (metrics_registry_render(srv->reg, &b)) {
		util_buf_release(&b);
		http_reply_error(req, 500, "internal", "metrics rendering failed", NULL);
		return;
	}
	http_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
	util_buf_release(&b);
}

static void builtin_not_found(struct http_request *req, void *ud)
{
	http_reply_error(req, 404, "not_found", "no such resource", NULL);
}

static void builtin_not_allowed(struct http_request *req, void *ud)
{
	struct http_server *srv = req->srv;
	char allow[256];

	http_route_allow(srv->routes, srv->nroutes, ud, allow, sizeof(allow));
	if (http_reply_header(req, "Allow", allow))
		slog_warn("cannot add allow header", "id=%s", req->id);
	http_reply_error(req, 405, "method_not_allowed", "method not allowed for this resource",
			 NULL);
}

static void builtin_too_big(struct http_request *req, void *ud)
{
	char msg[96];

	snprintf(msg, sizeof(msg), "request body exceeds %zu bytes", req->max_body);
	http_reply_error(req, 413, "body_too_large", msg, NULL);
}

static void builtin_overloaded(struct http_request *req, void *ud)
{
	if (http_reply_header(req, "Retry-After", "1"))
		slog_warn("cannot add retry-after header", "id=%s", req->id);
	http_reply_error(req, 503, "overloaded", "server overloaded, retry later", NULL);
}

static void builtin_unavailable(struct http_request *req, void *ud)
{
	http_reply_error(req, 503, "shutting_down", "the server is shutting down", NULL);
}

/* ---- request flow ---- */

/*
 * Calls fn for req under the reply protocol (adds the handler reference).
 * From here on the request counts in http_requests_in_flight (until its
 * completion), unless it was shed: only requests whose body is complete
 * count, so slow uploads cannot inflate the gauge.
 */
static void dispatch(struct http_request *req, http_handler_fn fn, void *ud)
{
	if (!req->shed && !req->counted) {
		req->counted = true;
		metrics_gauge_add(req->srv->m_inflight, NULL, 1);
	}
	pthread_mutex_lock(&req->mu);
	req->state = REQ_DISPATCHED;
	pthread_mutex_unlock(&req->mu);
	atomic_fetch_add(&req->refs, 1);
	fn(req, ud);
}

/*
 * After dispatch or on resume: queue a stored reply, or suspend to wait.
 * Once the server is forcing (final phase of the stop) it never suspends:
 * libmicrohttpd aborts if its daemon stops with a suspended connection, so
 * the request gets the 503 now. srv->mu is taken first (the lock order), so
 * a suspension here and force_replies() exclude each other.
 */
static enum MHD_Result queue_or_suspend(struct http_request *req)
{
	struct http_server *srv = req->srv;
	enum MHD_Result rc = MHD_YES;

	pthread_mutex_lock(&srv->mu);
	pthread_mutex_lock(&req->mu);
	if (req->state == REQ_DISPATCHED && srv->forcing)
		http_reply_force_locked(req, 503);
	if (req->resp && !req->queued) {
		rc = MHD_queue_response(req->conn, req->status, req->resp);
		MHD_destroy_response(req->resp);
		req->resp = NULL;
		req->queued = rc == MHD_YES;
	} else if (req->state == REQ_DISPATCHED) {
		MHD_suspend_connection(req->conn);
		req->state = REQ_SUSPENDED;
	}
	pthread_mutex_unlock(&req->mu);
	pthread_mutex_unlock(&srv->mu);
	return rc;
}

static bool is_forcing(struct http_server *srv)
{
	bool forcing;

	pthread_mutex_lock(&srv->mu);
	forcing = srv->forcing;
	pthread_mutex_unlock(&srv->mu);
	return forcing;
}

static void track(struct http_server *srv, struct http_request *req, bool *forcing)
{
	pthread_mutex_lock(&srv->mu);
	req->next = srv->head;
	if (srv->head)
		srv->head->prev = req;
	srv->head = req;
	srv->active++;
	*forcing = srv->forcing;
	pthread_mutex_unlock(&srv->mu);
}

static void untrack(struct http_server *srv, struct http_request *req)
{
	pthread_mutex_lock(&srv->mu);
	if (req->prev)
		req->prev->next = req->next;
	else
		srv->head = req->next;
	if (req->next)
		req->next->prev = req->prev;
	srv->active--;
	pthread_mutex_unlock(&srv->mu);
	if (req->counted)
		metrics_gauge_add(srv->m_inflight, NULL, -1);
}

static bool content_length_over(struct http_request *req)
{
	const char *cl = http_request_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
	char *end;
	unsigned long long n;

	if (!cl)
		return false;
	errno = 0;
	n = strtoull(cl, &end, 10);
	return errno || end == cl || n > req->max_body;
}

/* How much of an over-cap upload is read (and discarded) to answer 413. */
static size_t discard_allowance(const struct http_request *req)
{
	return req->max_body > DISCARD_MIN ? req->max_body : DISCARD_MIN;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * Percent-decoding of paths and query arguments, as libmicrohttpd's own but
 * leaving "%00" as it is: a decoded NUL would silently cut a path or value
 * short (routing "/x/abc%00/y" as "/x/abc"), so NUL never reaches routing or
 * handlers; ids and values holding a literal "%00" then fail validation.
 */
static size_t unescape_keep_nul(void *cls, struct MHD_Connection *c, char *s)
{
	char *w = s;
	const char *r = s;

	while (*r) {
		int hi = r[0] == '%' ? hexval(r[1]) : -1;
		int lo = hi >= 0 ? hexval(r[2]) : -1;

		if (lo >= 0 && (hi | lo) != 0) {
			*w++ = (char)(hi << 4 | lo);
			r += 3;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

static enum MHD_Result first_call(struct http_server *srv, struct MHD_Connection *conn,
				  const char *url, const char *method, void **con_cls)
{
	struct http_request *req = http_request_create(srv, conn, method, url);
	bool forcing;

	if (!req) {
		slog_error("cannot create request", "method=%.16s", method);
		return MHD_NO;
	}
	*con_cls = req;
	track(srv, req, &forcing);
	if (forcing) {
		dispatch(req, builtin_unavailable, NULL);
		return queue_or_suspend(req);
	}
	if (content_length_over(req)) {
		/* Answer before reading any body: libmicrohttpd then closes
		 * the connection instead of reading the upload. */
		req->too_big = true;
		dispatch(req, builtin_too_big, NULL);
		return queue_or_suspend(req);
	}
	/* Early shedding: decided now, answered once the upload is read. */
	if (req->fn && srv->cfg.admit && !srv->cfg.admit(req, srv->cfg.admit_ud))
		req->shed = true;
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct http_server *srv = cls;
	struct http_request *req = *con_cls;
	http_handler_fn fn;
	bool receiving;

	if (!req)
		return first_call(srv, conn, url, method, con_cls);
	if (*upload_data_size) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (req->shed) {
			/* discarded, bounded like an over-cap upload */
			req->discarded += n;
			return req->discarded <= discard_allowance(req) ? MHD_YES : MHD_NO;
		}
		if (!req->too_big && !util_buf_append(&req->body, upload_data, n))
			return MHD_YES;
		if (!req->too_big) {
			req->too_big = true;
			util_buf_release(&req->body);
		}
		/*
		 * Past the cap (a chunked upload): libmicrohttpd 0.9.75 cannot
		 * queue a reply before the upload ends, so discard a bounded
		 * rest to answer 413, and cut off an upload going on beyond.
		 */
		req->discarded += n;
		if (req->discarded <= discard_allowance(req))
			return MHD_YES;
		slog_debug("upload over the cap cut off", "id=%s", req->id);
		return MHD_NO;
	}
	pthread_mutex_lock(&req->mu);
	receiving = req->state == REQ_RECEIVING;
	pthread_mutex_unlock(&req->mu);
	if (!receiving) /* resumed, or the early 413 */
		return queue_or_suspend(req);
	fn = req->fn;
	if (req->too_big)
		fn = builtin_too_big;
	else if (req->shed)
		fn = builtin_overloaded;
	else if (is_forcing(srv)) /* e.g. an upload that ended after the grace */
		fn = builtin_unavailable;
	else if (!fn)
		fn = req->ud ? builtin_not_allowed : builtin_not_found;
	dispatch(req, fn, req->ud);
	return queue_or_suspend(req);
}

static const char *method_label(const char *m)
{
	static const char *const known[] = {"GET",    "POST",    "PUT",   "DELETE",
					    "PATCH",  "HEAD",    "OPTIONS"};
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(m, known[i]))
			return known[i];
	return "other";
}

static void account(struct http_server *srv, struct http_request *req, unsigned status)
{
	double secs = (double)(util_mono_us() - req->start_us) / 1e6;
	char st[16], qpath[160];
	const char *route = http_request_route(req);
	const char *labels[3] = {route, method_label(http_request_method(req)), st};

	snprintf(st, sizeof(st), "%u", status);
	metrics_counter_inc(srv->m_requests, labels);
	metrics_histogram_observe(srv->m_duration, labels, secs);
	/* A 503 from /readyz is an answer, not a failure; nor is shedding. */
	if (status >= 500 && strcmp(route, "/readyz") && !req->shed)
		slog_warn("request failed", "method=%s path=%s status=%u dur_ms=%.3f id=%s client=%s",
			  labels[1], slog_quote(qpath, sizeof(qpath), http_request_path(req)),
			  status, secs * 1e3, req->id, req->client);
	else
		slog_debug("request", "method=%s path=%s status=%u dur_ms=%.3f id=%s client=%s",
			   labels[1], slog_quote(qpath, sizeof(qpath), http_request_path(req)),
			   status, secs * 1e3, req->id, req->client);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	struct http_request *req = *con_cls;
	bool queued;
	unsigned status;

	if (!req)
		return;
	*con_cls = NULL;
	pthread_mutex_lock(&req->mu);
	req->state = REQ_CLOSED;
	queued = req->queued;
	status = req->status;
	pthread_mutex_unlock(&req->mu);
	if (queued)
		account(srv, req, status);
	else
		slog_debug("request abandoned", "id=%s toe=%d", req->id, (int)toe);
	untrack(srv, req);
	http_request_unref(req);
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt,
							  va_list ap)
{
	char msg[512], q[600];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	slog_warn("libmicrohttpd", "detail=%s", slog_quote(q, sizeof(q), msg));
}

/* ---- lifecycle ---- */

static void apply_defaults(struct http_server_config *c)
{
	if (c->threads <= 0)
		c->threads = DEFAULT_THREADS;
	if (c->conn_timeout_s <= 0)
		c->conn_timeout_s = DEFAULT_TIMEOUT_S;
	if (c->max_body == 0)
		c->max_body = DEFAULT_MAX_BODY;
	if (c->shutdown_grace_ms <= 0)
		c->shutdown_grace_ms = DEFAULT_GRACE_MS;
}

static int compile_routes(struct http_server *srv, const struct http_route *routes, size_t n,
			  char *err, size_t errlen)
{
	const struct http_route builtins[] = {
		{"GET", "/healthz", http_builtin_healthz, srv, 0},
		{"GET", "/readyz", http_builtin_readyz, srv, 0},
		{"GET", "/metrics", http_builtin_metrics, srv, 0},
	};
	size_t i, nb = sizeof(builtins) / sizeof(builtins[0]);
	int rc;

	if (n && !routes)
		return util_err_set(err, errlen, UTIL_EINVAL, "routes is NULL");
	srv->routes = calloc(n + nb, sizeof(*srv->routes));
	if (!srv->routes)
		return util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
	for (i = 0; i < n + nb; i++) {
		rc = http_route_compile(&srv->routes[i], i < n ? &routes[i] : &builtins[i - n], err,
					errlen);
		if (rc)
			return rc;
		srv->nroutes++;
	}
	return 0;
}

static int make_metrics(struct http_server *srv, struct metrics_registry *reg, char *err,
			size_t errlen)
{
	if (!reg) {
		srv->own_reg = metrics_registry_new();
		reg = srv->own_reg;
		if (!reg)
			return util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
	}
	srv->reg = reg;
	srv->m_requests = metrics_counter_new(reg, "http_requests_total",
					      "HTTP requests answered, by route pattern.",
					      "route,method,status");
	srv->m_duration = metrics_histogram_new(reg, "http_request_duration_seconds",
						"HTTP request latency, by route pattern.", "route",
						NULL, 0);
	srv->m_inflight = metrics_gauge_new(reg, "http_requests_in_flight",
					    "HTTP requests being processed.", NULL);
	if (!srv->m_requests || !srv->m_duration || !srv->m_inflight)
		return util_err_set(err, errlen, UTIL_EINVAL,
				    "cannot create http metrics (name clash or no memory)");
	return 0;
}

struct http_server *http_server_new(const struct http_server_config *cfg,
				    const struct http_route *routes, size_t n,
				    struct metrics_registry *reg, char *err, size_t errlen)
{
	struct http_server *srv;

	if (!cfg) {
		util_err_set(err, errlen, UTIL_EINVAL, "config is NULL");
		return NULL;
	}
	if (cfg->port < 0 || cfg->port > 65535) {
		util_err_set(err, errlen, UTIL_EINVAL, "port %d out of range", cfg->port);
		return NULL;
	}
	srv = calloc(1, sizeof(*srv));
	if (!srv) {
		util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&srv->mu, NULL);
	atomic_init(&srv->stopping, false);
	srv->quiesced_fd = MHD_INVALID_SOCKET;
	srv->cfg = *cfg;
	apply_defaults(&srv->cfg);
	srv->bind_addr = strdup(cfg->bind_addr ? cfg->bind_addr : "0.0.0.0");
	srv->service = strdup(cfg->service ? cfg->service : "http");
	srv->cfg.bind_addr = srv->bind_addr;
	srv->cfg.service = srv->service;
	if (!srv->bind_addr || !srv->service) {
		util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
		goto fail;
	}
	if (compile_routes(srv, routes, n, err, errlen) || make_metrics(srv, reg, err, errlen))
		goto fail;
	return srv;
fail:
	http_server_free(srv);
	return NULL;
}

int http_server_add_check(struct http_server *srv, const char *name, http_check_fn fn, void *ud)
{
	struct http_check_int *c;

	if (srv->started || !name || !*name || !fn)
		return UTIL_EINVAL;
	c = realloc(srv->checks, (srv->nchecks + 1) * sizeof(*c));
	if (!c)
		return UTIL_ENOMEM;
	srv->checks = c;
	c[srv->nchecks].name = strdup(name);
	if (!c[srv->nchecks].name)
		return UTIL_ENOMEM;
	c[srv->nchecks].fn = fn;
	c[srv->nchecks].ud = ud;
	srv->nchecks++;
	return 0;
}

/* Fills ss from bind_addr and port; false if the address is no IP literal. */
static bool make_sockaddr(const struct http_server *srv, struct sockaddr_storage *ss, bool *v6)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	*v6 = false;
	if (inet_pton(AF_INET, srv->bind_addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)srv->cfg.port);
		return true;
	}
	if (inet_pton(AF_INET6, srv->bind_addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)srv->cfg.port);
		*v6 = true;
		return true;
	}
	return false;
}

int http_server_start(struct http_server *srv, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *di;
	unsigned int flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
			     MHD_USE_ERROR_LOG;
	struct MHD_OptionItem ops[8];
	size_t k = 0;
	bool v6;

	if (srv->started)
		return util_err_set(err, errlen, UTIL_EINVAL, "server already started");
	if (!make_sockaddr(srv, &ss, &v6))
		return util_err_set(err, errlen, UTIL_EINVAL, "bind address \"%s\" is no IP",
				    srv->bind_addr);
	if (v6)
		flags |= MHD_USE_IPv6;
	if (srv->cfg.threads > 1)
		ops[k++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE,
						   srv->cfg.threads, NULL};
	if (srv->cfg.per_ip_limit > 0)
		ops[k++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT,
						   srv->cfg.per_ip_limit, NULL};
	if (srv->cfg.max_conns > 0)
		ops[k++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
						   srv->cfg.max_conns, NULL};
	ops[k++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
	srv->daemon = MHD_start_daemon(
		flags, (uint16_t)srv->cfg.port, NULL, NULL, on_request, srv,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)srv->cfg.conn_timeout_s,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
		MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024U,
		MHD_OPTION_UNESCAPE_CALLBACK, unescape_keep_nul, srv,
		/* The default 32 KiB cannot hold a few hundred query arguments:
		 * such a request was dropped without an answer. */
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
		MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
	if (!srv->daemon)
		return util_err_set(err, errlen, UTIL_EIO, "cannot listen on %s port %d: %s",
				    srv->bind_addr, srv->cfg.port, strerror(errno));
	di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = di ? di->port : srv->cfg.port;
	srv->started = true;
	slog_info("http listening", "server=%s addr=%s port=%d threads=%d", srv->service,
		  srv->bind_addr, srv->port, srv->cfg.threads);
	return 0;
}

int http_server_port(const struct http_server *srv)
{
	return srv && srv->started ? srv->port : 0;
}

struct metrics_registry *http_server_registry(struct http_server *srv)
{
	return srv->reg;
}

static long active_count(struct http_server *srv)
{
	long n;

	pthread_mutex_lock(&srv->mu);
	n = srv->active;
	pthread_mutex_unlock(&srv->mu);
	return n;
}

/* Waits up to ms for every request to complete; true if none is left. */
static bool wait_drained(struct http_server *srv, long ms)
{
	int64_t until = util_mono_us() + ms * 1000;

	while (active_count(srv) > 0) {
		if (util_mono_us() >= until)
			return false;
		sleep_ms(5);
	}
	return true;
}

/*
 * Grace is over: every unanswered request gets 503 and no new one starts
 * (forcing also stops queue_or_suspend() from suspending).
 */
static long force_replies(struct http_server *srv)
{
	struct http_request *req;
	long n = 0;

	pthread_mutex_lock(&srv->mu);
	srv->forcing = true;
	for (req = srv->head; req; req = req->next) {
		pthread_mutex_lock(&req->mu);
		if (req->state == REQ_DISPATCHED || req->state == REQ_SUSPENDED) {
			http_reply_force_locked(req, 503);
			n++;
		}
		pthread_mutex_unlock(&req->mu);
	}
	pthread_mutex_unlock(&srv->mu);
	return n;
}

void http_server_stop(struct http_server *srv)
{
	bool drained;
	long forced;

	if (!srv || !srv->started || srv->stopped)
		return;
	srv->stopped = true;
	atomic_store(&srv->stopping, true);
	srv->quiesced_fd = MHD_quiesce_daemon(srv->daemon);
	slog_info("http stopping", "server=%s in_flight=%ld grace_ms=%d", srv->service,
		  active_count(srv), srv->cfg.shutdown_grace_ms);
	drained = wait_drained(srv, srv->cfg.shutdown_grace_ms);
	/* Final phase, drained or not: from now on nothing is dispatched to a
	 * handler or suspended (keep-alive clients may still send). */
	forced = force_replies(srv);
	if (!drained) {
		slog_warn("http grace period over", "server=%s forced_503=%ld", srv->service, forced);
		/* Let the forced replies reach their clients. */
		(void)wait_drained(srv, 1000);
	}
	/* MHD_stop_daemon must find no suspended connection (it aborts). */
	forced = force_replies(srv);
	if (forced)
		slog_debug("http late requests answered 503", "server=%s count=%ld", srv->service,
			   forced);
	MHD_stop_daemon(srv->daemon);
	srv->daemon = NULL;
	if (srv->quiesced_fd != MHD_INVALID_SOCKET)
		close(srv->quiesced_fd);
	srv->quiesced_fd = MHD_INVALID_SOCKET;
	slog_info("http stopped", "server=%s", srv->service);
}

void http_server_free(struct http_server *srv)
{
	size_t i;

	if (!srv)
		return;
	http_server_stop(srv);
	for (i = 0; i < srv->nroutes; i++)
		http_route_release(&srv->routes[i]);
	free(srv->routes);
	for (i = 0; i < srv->nchecks; i++)
		free(srv->checks[i].name);
	free(srv->checks);
	metrics_registry_free(srv->own_reg);
	free(srv->bind_addr);
	free(srv->service);
	pthread_mutex_destroy(&srv->mu);
	free(srv);
}
