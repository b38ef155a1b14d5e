/*
 * http/src/http_internal.h - shared internals of libs/http: the server,
 * the request and its reply state machine, the route table.
 *
 * Request lifetime: a request holds a reference count. The connection owns
 * one reference from the first access-handler call until libmicrohttpd's
 * completion callback; dispatching to a handler adds one that the reply
 * call drops. Reply state (state, resp) is guarded by req->mu:
 *
 *   RECEIVING --dispatch--> DISPATCHED --handler returns, no reply--> SUSPENDED
 *   DISPATCHED/SUSPENDED --reply (any thread) or forced 503--> REPLIED
 *   any --completion callback--> CLOSED
 *
 * The MHD thread queues a stored response when the handler returns or when
 * a resumed connection calls it back. A reply that finds REPLIED or CLOSED
 * is discarded and touches nothing but the request.
 */
#ifndef HTTP_INTERNAL_H
#define HTTP_INTERNAL_H

#include <arpa/inet.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "http/http.h"

#define HTTP_MAX_PARAMS 8
#define HTTP_MAX_SEGS 32
#define HTTP_ID_MAX 64
#define HTTP_STORE_CAP (256 * 1024) /* request strings snapshot cap */

struct http_route_int {
	char *method;
	char *pattern;
	char *segs[HTTP_MAX_SEGS]; /* "{x}" kept as written */
	size_t nsegs;
	size_t nliteral;
	http_handler_fn fn;
	void *ud;
	size_t max_body;
};

struct http_check_int {
	char *name;
	http_check_fn fn;
	void *ud;
};

struct http_server {
	struct http_server_config cfg; /* strings below are our copies */
	char *bind_addr;
	char *service;
	struct http_route_int *routes;
	size_t nroutes;
	struct http_check_int *checks;
	size_t nchecks;
	struct metrics_registry *reg, *own_reg;
	struct metrics_counter *m_requests;
	struct metrics_histogram *m_duration;
	struct metrics_gauge *m_inflight;
	struct MHD_Daemon *daemon;
	MHD_socket quiesced_fd;
	int port;
	bool started, stopped;
	atomic_bool stopping;       /* graceful stop began */
	pthread_mutex_t mu;         /* guards the fields below */
	bool forcing;               /* grace over: new requests get 503 */
	struct http_request *head;  /* every live request */
	long active;
};

enum http_req_state { REQ_RECEIVING, REQ_DISPATCHED, REQ_SUSPENDED, REQ_REPLIED, REQ_CLOSED };

struct http_hdr {
	char *name, *value;
	struct http_hdr *next;
};

struct http_request {
	struct http_server *srv;      /* valid while state < REPLIED */
	struct MHD_Connection *conn;
	atomic_int refs;
	pthread_mutex_t mu;
	enum http_req_state state;
	struct MHD_Response *resp;    /* stored reply, not yet queued */
	unsigned status;
	bool queued;
	/* set at the first call, read-only afterwards */
	http_handler_fn fn;
	void *ud;
	size_t max_body;
	bool too_big;
	bool shed;                    /* refused by cfg.admit at the headers */
	bool counted;                 /* in http_requests_in_flight (MHD thread only) */
	size_t discarded;             /* upload bytes dropped past the cap */
	struct util_buf store;        /* name\0value\0 snapshots, see request.c */
	size_t off_method, off_path, off_route, off_hdrs, off_query, off_params;
	size_t n_hdrs, n_query, n_params;
	struct util_buf body;
	char id[HTTP_ID_MAX + 1];
	char client[INET6_ADDRSTRLEN];
	int64_t start_us;
	struct http_hdr *extra;       /* http_reply_header() list */
	struct http_request *prev, *next;
};

/* route.c */
int http_route_compile(struct http_route_int *r, const struct http_route *src, char *err,
		       size_t errlen);
void http_route_release(struct http_route_int *r);
/*
 * Finds the route for method+path. Returns it, or NULL with *path_match
 * set to the best route matching the path only (405) or NULL (404).
 * Appends matched params as name\0value\0 to params (count in *nparams).
 */
const struct http_route_int *http_route_find(const struct http_route_int *routes, size_t n,
					     const char *method, const char *path,
					     const struct http_route_int **path_match,
					     struct util_buf *params, size_t *nparams);
/* Writes the methods allowed for path_match's pattern ("GET, POST") into out. */
void http_route_allow(const struct http_route_int *routes, size_t n,
		      const struct http_route_int *path_match, char *out, size_t outlen);

/* request.c */
struct http_request *http_request_create(struct http_server *srv, struct MHD_Connection *conn,
					 const char *method, const char *url);
void http_request_unref(struct http_request *req);
/* Builds the built-in error body; caller frees. NULL on ENOMEM. */
char *http_error_json(const char *code, const char *message, const char *field);

/* reply.c */
/* Stores resp (or discards it) and drops the handler's reference. */
void http_reply_finish(struct http_request *req, unsigned status, struct MHD_Response *resp);
/* Forced reply under server stop; caller holds req->mu. */
void http_reply_force_locked(struct http_request *req, unsigned status);
struct MHD_Response *http_response_plain(unsigned status, const char *ctype, const void *body,
					 size_t len);

/* server.c: the built-in handlers */
void http_builtin_healthz(struct http_request *req, void *ud);
void http_builtin_readyz(struct http_request *req, void *ud);
void http_builtin_metrics(struct http_request *req, void *ud);

#endif
