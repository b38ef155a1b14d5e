/*
 * http/http.h - HTTP server on libmicrohttpd: routing, body cap, request
 * ids, one JSON error shape, /healthz, /readyz, /metrics, async replies.
 *
 * Model: the server reads a request (headers and the whole body, up to a
 * cap) and calls the route's handler once. The handler must cause EXACTLY
 * ONE reply (http_reply, http_reply_json, http_reply_error or
 * http_reply_stream), either before it returns or later from any other
 * thread (e.g. after a database commit). Until the reply the request and
 * everything its accessors return stay valid; after the reply call returns
 * the caller must not touch the request again. A request that is never
 * replied to leaks and holds its connection open.
 *
 * Built in, answered by the server itself:
 *   - unknown path: 404 {"error":{"code":"not_found",...}};
 *   - known path, other method: 405 method_not_allowed with an Allow header;
 *   - body over the cap: 413 body_too_large, the handler is not called and
 *     no more of the body is buffered (a Content-Length over the cap is
 *     refused before reading the body); a chunked upload past the cap is
 *     read and discarded for up to max(cap, 64 KiB) more bytes to answer
 *     the 413, and beyond that the connection is closed without a reply
 *     (libmicrohttpd cannot answer before the upload ends);
 *   - GET /healthz: 200 {"status":"ok"} while the process serves;
 *   - GET /readyz: runs every check added with http_server_add_check():
 *     200 {"status":"ready","checks":{"db":{"ok":true}}} or
 *     503 {"status":"not_ready","checks":{"db":{"ok":false,"detail":"..."}}}
 *     (503 {"status":"stopping",...} once http_server_stop() began);
 *   - GET /metrics: the registry in Prometheus text format, including
 *       http_requests_total{route,method,status}          counter
 *       http_request_duration_seconds{route}              histogram
 *       http_requests_in_flight                           gauge
 *     where route is the matched PATTERN ("/v1/content/{id}"), or
 *     "unmatched" for 404s, so cardinality stays bounded. In flight are
 *     the requests whose body is complete (handed to a handler or a
 *     built-in answer) and whose connection has not completed them yet;
 *     uploads still arriving (slow clients) and shed requests are not
 *     counted, so they cannot inflate it.
 *
 * Every response, errors included, carries X-Request-Id: the incoming
 * X-Request-Id when it is 1..64 chars of [A-Za-z0-9._-], else a generated
 * 32-hex-char id. Keep-alive is on. One debug log line per request, a warn
 * line for each 5xx (except requests shed by the admit hook: debug only).
 *
 * Error JSON (http_reply_error and the built-in errors), exactly:
 *   {"error":{"code":"...","message":"...","field":"..."}}   ("field":null
 *   when there is none)
 */
#ifndef HTTP_HTTP_H
#define HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "metrics/metrics.h"
#include "util/buf.h"

struct http_server;
struct http_request;

/* A route handler; ud is the route's ud. See the reply contract above. */
typedef void (*http_handler_fn)(struct http_request *req, void *ud);

/*
 * Optional admission check (struct http_server_config.admit), called on a
 * server thread as soon as a request that matched a route has its headers
 * in: before its body is read and before it counts in
 * http_requests_in_flight. The request's method, path, route and headers
 * may be read; it must not be replied to. Returning false sheds it: the
 * body is read and discarded (never buffered), the handler is not called,
 * and the server answers
 *   503 {"error":{"code":"overloaded","message":"server overloaded, retry later","field":null}}
 * with Retry-After: 1 once the upload ends, keeping the connection alive.
 * A shed request is logged at debug level only (not the warn line of other
 * 5xx). Must be quick, non-blocking and thread-safe.
 */
typedef bool (*http_admit_fn)(struct http_request *req, void *ud);

/*
 * A readiness check: returns true when ready; may write a short reason
 * into detail (len bytes, NUL-terminated) in either case. Called from a
 * server thread for each GET /readyz, so it should be quick (a ping with a
 * short timeout) and thread-safe.
 */
typedef bool (*http_check_fn)(void *ud, char *detail, size_t len);

/*
 * Streaming producer (http_reply_stream): write up to max bytes into buf
 * and return how many (> 0), 0 at the end of the stream, or a negative
 * value to abort (the connection is closed). Called from a server thread,
 * possibly many times; it may block briefly.
 */
typedef ssize_t (*http_stream_fn)(void *ud, char *buf, size_t max);
/* Releases the producer's ud once the stream is over (may be NULL). */
typedef void (*http_stream_free_fn)(void *ud);

struct http_route {
	const char *method;  /* "GET", "POST", ... (exact, uppercase) */
	/*
	 * Path pattern: '/'-separated segments, each either literal text
	 * (which may contain ':' as in "/v1/content:batch") or a whole-segment
	 * parameter "{name}" matching one non-empty segment, e.g.
	 * "/v1/content/{id}". When several patterns match a path, the one with
	 * the most literal segments wins, then the first in the table.
	 */
	const char *pattern;
	http_handler_fn fn;
	void *ud;            /* passed to fn; borrowed, must outlive the server */
	size_t max_body;     /* body cap for this route; 0 = server default */
};

struct http_server_config {
	const char *bind_addr; /* IPv4 or IPv6 literal; NULL = "0.0.0.0" */
	int port;              /* 0 = any free port, see http_server_port() */
	int threads;           /* worker threads (epoll each); <= 0 = 2 */
	int conn_timeout_s;    /* idle connection timeout; <= 0 = 30 */
	int per_ip_limit;      /* connections per client address; <= 0 = none */
	int max_conns;         /* total connections; <= 0 = libmicrohttpd default */
	size_t max_body;       /* default body cap in bytes; 0 = 1 MiB */
	int shutdown_grace_ms; /* http_server_stop() wait; <= 0 = 5000 */
	const char *service;   /* name for logs; NULL = "http" */
	http_admit_fn admit;   /* early load shedding (see above); NULL = none */
	void *admit_ud;        /* passed to admit; borrowed */
};

/*
 * Creates a server (not yet listening). Copies cfg and the route table
 * (method and pattern strings too; fn/ud are borrowed). reg receives the
 * http metrics and is what /metrics renders; it is borrowed and must
 * outlive the server; NULL makes the server use a private registry (see
 * http_server_registry()). Returns NULL with a message in err on a bad
 * pattern or config (UTIL_EINVAL) or ENOMEM.
 */
struct http_server *http_server_new(const struct http_server_config *cfg,
				    const struct http_route *routes, size_t n,
				    struct metrics_registry *reg, char *err, size_t errlen);

/*
 * Adds a readiness check; name and fn/ud are used by /readyz. Call before
 * http_server_start(). name is copied. 0, UTIL_EINVAL (started already,
 * bad name) or UTIL_ENOMEM.
 */
__attribute__((warn_unused_result)) int http_server_add_check(struct http_server *srv,
							      const char *name, http_check_fn fn,
							      void *ud);

/*
 * Binds and starts the worker threads. 0, or UTIL_EIO with a message in err
 * (address in use, bad bind address, ...). Call at most once.
 */
__attribute__((warn_unused_result)) int http_server_start(struct http_server *srv, char *err,
							  size_t errlen);

/* The port the server listens on (useful with port 0); 0 if not started. */
int http_server_port(const struct http_server *srv);

/* The registry /metrics renders (the one passed to new, or the private one). */
struct metrics_registry *http_server_registry(struct http_server *srv);

/*
 * Graceful stop: stops accepting connections, lets in-flight requests
 * (including ones waiting for an async reply) finish for up to
 * shutdown_grace_ms, then answers any still-unreplied request with
 * 503 shutting_down, closes every connection and joins the threads.
 * Responses sent while stopping carry "Connection: close". Once the grace
 * period is over (or everything drained) no request reaches a handler any
 * more: late ones (an upload ending, a keep-alive client's next request)
 * get the 503 too. The forced 503 carries X-Request-Id and Connection:
 * close only, never headers the handler added with http_reply_header().
 * A handler's reply arriving after that forced 503 is discarded (but still
 * required: it releases the request). Safe to call twice or on a server
 * never started.
 */
void http_server_stop(struct http_server *srv);

/*
 * Stops (if needed) and frees the server. Late async replies for requests
 * that got the forced 503 may still arrive after this; they touch only the
 * request. NULL does nothing.
 */
void http_server_free(struct http_server *srv);

/*
 * Request accessors. All returned strings and slices are owned by the
 * request, valid until the reply call, and may be read from any thread
 * (one thread at a time) that currently owns the request.
 */
const char *http_request_method(const struct http_request *req);
/* The decoded path, without the query string. */
const char *http_request_path(const struct http_request *req);
/* The matched pattern ("/v1/content/{id}"). */
const char *http_request_route(const struct http_request *req);
/* Path parameter by name ("id" for "{id}"); NULL if no such parameter. */
const char *http_request_param(const struct http_request *req, const char *name);
/* Decoded query argument; NULL if absent, "" for "?flag". First one wins. */
const char *http_request_query(const struct http_request *req, const char *name);
/* Request header, name case-insensitive; NULL if absent. First one wins. */
const char *http_request_header(const struct http_request *req, const char *name);
/* The whole body (may be {"" , 0}); NUL-terminated at ptr[len]. */
struct util_slice http_request_body(const struct http_request *req);
/* Client IP address as text ("127.0.0.1", "::1"). */
const char *http_request_client_addr(const struct http_request *req);
/* This request's id (also sent as X-Request-Id). */
const char *http_request_id(const struct http_request *req);

/*
 * Adds a response header for the coming reply (e.g. Retry-After,
 * Location). Copied. 0, UTIL_EINVAL (name/value contain CR, LF or the name
 * is empty/has ':') or UTIL_ENOMEM. Call from the thread that will reply,
 * before replying.
 */
__attribute__((warn_unused_result)) int http_reply_header(struct http_request *req,
							  const char *name, const char *value);

/*
 * Replies. Each sends the response and releases the request: after the call
 * req must not be used. They cannot fail from the caller's point of view: if
 * building the response fails (ENOMEM), a plain 500 is sent instead and
 * logged. Callable from any thread, exactly once per request.
 */

/* Copies body (len bytes; body may be NULL when len is 0). content_type may be NULL. */
void http_reply(struct http_request *req, int status, const char *content_type,
		const void *body, size_t len);

/*
 * Sends j as compact JSON, Content-Type application/json. Takes ownership
 * of j (decrefs it); j == NULL sends a 500.
 */
void http_reply_json(struct http_request *req, int status, json_t *j);

/*
 * Sends {"error":{"code":code,"message":message,"field":field-or-null}}.
 * code and message must not be NULL; strings are copied.
 */
void http_reply_error(struct http_request *req, int status, const char *code,
		      const char *message, const char *field);

/*
 * Sends a chunked response whose body is produced by fn(ud, ...) on a
 * server thread. free_fn(ud) is called exactly once when the stream ends
 * or the connection goes away (also if the reply cannot be sent).
 */
void http_reply_stream(struct http_request *req, int status, const char *content_type,
		       http_stream_fn fn, void *ud, http_stream_free_fn free_fn);

#endif
