/*
 * http/src/request.c - the request object: creation at the first
 * access-handler call (route match, snapshot of headers, query and path
 * params, request id, client address), accessors, reference counting.
 *
 * Strings are copied into req->store as name\0value\0 pairs at creation, so
 * accessors stay valid on any thread until the reply, independent of
 * libmicrohttpd's connection memory.
 */
#include "http_internal.h"
#include "util/err.h"
#include "util/ids.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct kv_ctx {
	struct util_buf *store;
	size_t n;
};

static enum MHD_Result kv_collect(void *cls, enum MHD_ValueKind kind, const char *key,
				  const char *value)
{
	struct kv_ctx *c = cls;

	if (!key)
		return MHD_YES;
	if (!value)
		value = "";
	if (util_buf_append(c->store, key, strlen(key) + 1) ||
	    util_buf_append(c->store, value, strlen(value) + 1))
		return MHD_NO;
	c->n++;
	return MHD_YES;
}

/* Appends s with its NUL; returns its offset, or (size_t)-1 on failure. */
static size_t store_str(struct util_buf *b, const char *s)
{
	size_t off = b->len;

	return util_buf_append(b, s, strlen(s) + 1) ? (size_t)-1 : off;
}

static bool id_sane(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++) {
		char c = s[i];

		if (i >= HTTP_ID_MAX || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
					  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return i > 0;
}

static void set_client_addr(struct http_request *req)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	strcpy(req->client, "unknown");
	ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || !ci->client_addr)
		return;
	sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
			  req->client, sizeof(req->client));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
			  req->client, sizeof(req->client));
}

/* Snapshots headers and query; 0 or UTIL_ETOOBIG/ENOMEM. */
static int snapshot_kv(struct http_request *req)
{
	struct kv_ctx c = {&req->store, 0};

	req->off_hdrs = req->store.len;
	MHD_get_connection_values(req->conn, MHD_HEADER_KIND, kv_collect, &c);
	req->n_hdrs = c.n;
	c.n = 0;
	req->off_query = req->store.len;
	MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, kv_collect, &c);
	req->n_query = c.n;
	return 0;
}

/* Matches the route and picks the handler (user's or a built-in error). */
static void route_request(struct http_request *req, const char *method, const char *url)
{
	struct http_server *srv = req->srv;
	const struct http_route_int *r, *pm;
	const char *label = "unmatched";

	req->off_params = req->store.len;
	r = http_route_find(srv->routes, srv->nroutes, method, url, &pm, &req->store,
			    &req->n_params);
	if (r) {
		label = r->pattern;
		req->fn = r->fn;
		req->ud = r->ud;
		req->max_body = r->max_body ? r->max_body : srv->cfg.max_body;
	} else if (pm) {
		label = pm->pattern;
		req->fn = NULL; /* 405, see server.c */
		req->ud = (void *)pm;
		req->max_body = srv->cfg.max_body;
	} else {
		req->fn = NULL; /* 404 */
		req->ud = NULL;
		req->max_body = srv->cfg.max_body;
	}
	req->off_route = store_str(&req->store, label);
}

struct http_request *http_request_create(struct http_server *srv, struct MHD_Connection *conn,
					 const char *method, const char *url)
{
	struct http_request *req = calloc(1, sizeof(*req));
	const char *rid;

	if (!req)
		return NULL;
	req->srv = srv;
	req->conn = conn;
	atomic_init(&req->refs, 1);
	pthread_mutex_init(&req->mu, NULL);
	req->start_us = util_mono_us();
	util_buf_init(&req->store, HTTP_STORE_CAP);
	req->off_method = store_str(&req->store, method);
	req->off_path = store_str(&req->store, url);
	if (req->off_method == (size_t)-1 || req->off_path == (size_t)-1 || snapshot_kv(req))
		goto fail;
	route_request(req, method, url);
	if (req->off_route == (size_t)-1)
		goto fail;
	util_buf_init(&req->body, req->max_body);
	rid = http_request_header(req, "X-Request-Id");
	if (rid && id_sane(rid))
		strcpy(req->id, rid);
	else
		util_trace_id(req->id);
	set_client_addr(req);
	return req;
fail:
	util_buf_release(&req->store);
	pthread_mutex_destroy(&req->mu);
	free(req);
	return NULL;
}

void http_request_unref(struct http_request *req)
{
	struct http_hdr *h, *next;

	if (atomic_fetch_sub(&req->refs, 1) != 1)
		return;
	if (req->resp)
		MHD_destroy_response(req->resp);
	for (h = req->extra; h; h = next) {
		next = h->next;
		free(h->name);
		free(h->value);
		free(h);
	}
	util_buf_release(&req->store);
	util_buf_release(&req->body);
	pthread_mutex_destroy(&req->mu);
	free(req);
}

/* Scans n name\0value\0 pairs from off for name. */
static const char *kv_find(const struct http_request *req, size_t off, size_t n, const char *name,
			   bool icase)
{
	const char *p = req->store.data + off;
	size_t i;

	for (i = 0; i < n; i++) {
		const char *v = p + strlen(p) + 1;

		if (icase ? !strcasecmp(p, name) : !strcmp(p, name))
			return v;
		p = v + strlen(v) + 1;
	}
	return NULL;
}

const char *http_request_method(const struct http_request *req)
{
	return req->store.data + req->off_method;
}

const char *http_request_path(const struct http_request *req)
{
	return req->store.data + req->off_path;
}

const char *http_request_route(const struct http_request *req)
{
	return req->store.data + req->off_route;
}

const char *http_request_param(const struct http_request *req, const char *name)
{
	return kv_find(req, req->off_params, req->n_params, name, false);
}

const char *http_request_query(const struct http_request *req, const char *name)
{
	return kv_find(req, req->off_query, req->n_query, name, false);
}

const char *http_request_header(const struct http_request *req, const char *name)
{
	return kv_find(req, req->off_hdrs, req->n_hdrs, name, true);
}

struct util_slice http_request_body(const struct http_request *req)
{
	struct util_slice s = {req->body.data ? req->body.data : "", req->body.len};

	return s;
}

const char *http_request_client_addr(const struct http_request *req)
{
	return req->client;
}

const char *http_request_id(const struct http_request *req)
{
	return req->id;
}

/* A string for jansson: invalid UTF-8 is replaced rather than failing. */
static json_t *json_str(const char *s)
{
	json_t *j = json_string(s);

	return j ? j : json_string("(invalid utf-8)");
}

char *http_error_json(const char *code, const char *message, const char *field)
{
	json_t *err = json_object(), *root = json_object();
	char *out = NULL;

	if (!err || !root)
		goto out;
	json_object_set_new(err, "code", json_str(code ? code : "internal"));
	json_object_set_new(err, "message", json_str(message ? message : ""));
	json_object_set_new(err, "field", field ? json_str(field) : json_null());
	json_object_set_new(root, "error", err);
	err = NULL;
	out = json_dumps(root, JSON_COMPACT);
out:
	json_decref(err);
	json_decref(root);
	return out;
}
