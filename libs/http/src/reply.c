/*
 * http/src/reply.c - the reply side: building libmicrohttpd responses
 * (copied buffers, JSON, the error shape, chunked streams) and handing them
 * to the connection safely from any thread (see http_internal.h).
 */
#include "http_internal.h"
#include "slog/slog.h"
#include "util/err.h"

#include <stdlib.h>
#include <string.h>

static const char fallback_500[] =
	"{\"error\":{\"code\":\"internal\",\"message\":\"internal error\",\"field\":null}}";

static bool header_text_ok(const char *s, bool name)
{
	if (!s || (name && !*s))
		return false;
	for (; *s; s++)
		if (*s == '\r' || *s == '\n' || (name && (*s == ':' || *s == ' ')))
			return false;
	return true;
}

int http_reply_header(struct http_request *req, const char *name, const char *value)
{
	struct http_hdr *h, **tail;

	if (!header_text_ok(name, true) || !header_text_ok(value, false))
		return UTIL_EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return UTIL_ENOMEM;
	h->name = strdup(name);
	h->value = strdup(value);
	if (!h->name || !h->value) {
		free(h->name);
		free(h->value);
		free(h);
		return UTIL_ENOMEM;
	}
	for (tail = &req->extra; *tail; tail = &(*tail)->next)
		;
	*tail = h;
	return 0;
}

struct MHD_Response *http_response_plain(unsigned status, const char *ctype, const void *body,
					 size_t len)
{
	struct MHD_Response *r;

	r = MHD_create_response_from_buffer(len, (void *)(body ? body : ""),
					    MHD_RESPMEM_MUST_COPY);
	if (r && ctype && MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype) != MHD_YES) {
		MHD_destroy_response(r);
		r = NULL;
	}
	return r;
}

/* Adds the request id and the caller's headers; false on failure. */
static bool add_headers(struct http_request *req, struct MHD_Response *r)
{
	struct http_hdr *h;

	if (MHD_add_response_header(r, "X-Request-Id", req->id) != MHD_YES)
		return false;
	for (h = req->extra; h; h = h->next)
		if (MHD_add_response_header(r, h->name, h->value) != MHD_YES)
			return false;
	return true;
}

/* A last-resort 500 over static memory. */
static struct MHD_Response *response_500(struct http_request *req)
{
	struct MHD_Response *r;

	r = MHD_create_response_from_buffer(sizeof(fallback_500) - 1, (void *)fallback_500,
					    MHD_RESPMEM_PERSISTENT);
	if (r) {
		(void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
		(void)MHD_add_response_header(r, "X-Request-Id", req->id);
	}
	return r;
}

void http_reply_finish(struct http_request *req, unsigned status, struct MHD_Response *resp)
{
	if (resp && !add_headers(req, resp)) {
		MHD_destroy_response(resp);
		resp = NULL;
	}
	if (!resp) {
		slog_error("http reply failed, sending 500", "id=%s status=%u", req->id, status);
		resp = response_500(req);
		status = 500;
	}
	pthread_mutex_lock(&req->mu);
	if (req->state == REQ_DISPATCHED || req->state == REQ_SUSPENDED) {
		if (atomic_load(&req->srv->stopping) && resp)
			(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
		req->resp = resp;
		req->status = status;
		resp = NULL;
		if (req->state == REQ_SUSPENDED)
			MHD_resume_connection(req->conn);
		req->state = REQ_REPLIED;
	}
	pthread_mutex_unlock(&req->mu);
	if (resp) /* the server already answered (forced 503) or the client left */
		MHD_destroy_response(resp);
	http_request_unref(req);
}

void http_reply_force_locked(struct http_request *req, unsigned status)
{
	char *body = http_error_json("shutting_down", "the server is shutting down", NULL);
	struct MHD_Response *r = NULL;

	if (body)
		r = http_response_plain(status, "application/json", body, strlen(body));
	free(body);
	/* Not add_headers(): the handler's headers belong to its own reply, and
	 * its thread may still be appending to req->extra right now. */
	if (r && (MHD_add_response_header(r, "X-Request-Id", req->id) != MHD_YES ||
		  MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close") != MHD_YES)) {
		MHD_destroy_response(r);
		r = NULL;
	}
	if (!r)
		r = response_500(req);
	if (req->resp)
		MHD_destroy_response(req->resp);
	req->resp = r;
	req->status = r ? status : 500;
	if (req->state == REQ_SUSPENDED)
		MHD_resume_connection(req->conn);
	req->state = REQ_REPLIED;
}

void http_reply(struct http_request *req, int status, const char *content_type,
		const void *body, size_t len)
{
	http_reply_finish(req, (unsigned)status,
			  http_response_plain((unsigned)status, content_type, body, len));
}

void http_reply_json(struct http_request *req, int status, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	if (!s) {
		http_reply_finish(req, 500, NULL);
		return;
	}
	http_reply(req, status, "application/json", s, strlen(s));
	free(s);
}

void http_reply_error(struct http_request *req, int status, const char *code,
		      const char *message, const char *field)
{
	char *s = http_error_json(code, message, field);

	if (!s) {
		http_reply_finish(req, 500, NULL);
		return;
	}
	http_reply(req, status, "application/json", s, strlen(s));
	free(s);
}

struct stream_ctx {
	http_stream_fn fn;
	void *ud;
	http_stream_free_fn free_fn;
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream_ctx *c = cls;
	ssize_t n = c->fn(c->ud, buf, max);

	if (n == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	return n < 0 ? MHD_CONTENT_READER_END_WITH_ERROR : n;
}

static void stream_free(void *cls)
{
	struct stream_ctx *c = cls;

	if (c->free_fn)
		c->free_fn(c->ud);
	free(c);
}

void http_reply_stream(struct http_request *req, int status, const char *content_type,
		       http_stream_fn fn, void *ud, http_stream_free_fn free_fn)
{
	struct stream_ctx *c = calloc(1, sizeof(*c));
	struct MHD_Response *r = NULL;

	if (!c || !fn) {
		free(c);
		if (free_fn)
			free_fn(ud);
		http_reply_finish(req, 500, NULL);
		return;
	}
	c->fn = fn;
	c->ud = ud;
	c->free_fn = free_fn;
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, stream_read, c,
					      stream_free);
	if (!r) {
		stream_free(c);
	} else if (content_type &&
		   MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES) {
		MHD_destroy_response(r); /* calls stream_free */
		r = NULL;
	}
	http_reply_finish(req, (unsigned)status, r);
}
