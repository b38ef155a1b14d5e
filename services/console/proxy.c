/*
 * services/console/proxy.c - forwards a console request to one of the APIs
 * over loopback with libcurl and replies with what came back.
 *
 * Two ways: ordinary API calls are buffered (one blocking transfer on the
 * HTTP worker thread, the answer capped at reply_max), exports are streamed
 * (a curl multi handle is pumped from libs/http's stream callback; when the
 * 64 KiB buffer is full the transfer is paused, so a slow browser slows the
 * upstream down instead of growing memory). See README.md for why.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "auth/auth.h"
#include "console.h"
#include "http/http.h"
#include "metrics/metrics.h"
#include "slog/slog.h"
#include "util/buf.h"
#include "util/err.h"

#define URL_MAX 4096
#define HDR_VAL_MAX 256
#define STREAM_BUF (64 * 1024)

/* Response headers passed back to the browser. */
static const char *const back_headers[] = {"Content-Type", "Content-Disposition", "Retry-After",
					   "X-Cache", "Location"};
#define NBACK (sizeof(back_headers) / sizeof(back_headers[0]))

/* What one transfer collected from the upstream's answer. */
struct reply {
	long status;
	char hdr[NBACK][HDR_VAL_MAX];
	struct util_buf body;
	bool too_big;
};

static size_t header_cb(char *data, size_t size, size_t n, void *ud)
{
	struct reply *r = ud;
	size_t len = size * n;

	for (size_t i = 0; i < NBACK; i++) {
		size_t nl = strlen(back_headers[i]);
		const char *v;
		size_t vl;

		if (len <= nl + 1 || strncasecmp(data, back_headers[i], nl) || data[nl] != ':')
			continue;
		v = data + nl + 1;
		vl = len - nl - 1;
		while (vl && (*v == ' ' || *v == '\t'))
			v++, vl--;
		while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
			vl--;
		if (vl < HDR_VAL_MAX) {
			memcpy(r->hdr[i], v, vl);
			r->hdr[i][vl] = '\0';
		}
	}
	return len;
}

static size_t body_cb(char *data, size_t size, size_t n, void *ud)
{
	struct reply *r = ud;

	if (util_buf_append(&r->body, data, size * n)) {
		r->too_big = true;
		return 0; /* CURLE_WRITE_ERROR ends the transfer */
	}
	return size * n;
}

/*
 * Request headers for the upstream (owned list; curl_slist_free_all). With
 * cookie_ok, a request without Authorization uses the export cookie's token
 * (a plain <a href> download cannot send a header).
 */
static struct curl_slist *forward_headers(struct http_request *req, bool cookie_ok)
{
	static const char *const names[] = {"Authorization", "Content-Type", "Accept"};
	struct curl_slist *l = NULL, *t;
	char line[1024];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *v = http_request_header(req, names[i]);

		if (!v || snprintf(line, sizeof(line), "%s: %s", names[i], v) >= (int)sizeof(line))
			continue;
		if (!(t = curl_slist_append(l, line)))
			goto fail;
		l = t;
	}
	if (cookie_ok && !http_request_header(req, "Authorization")) {
		char tok[AUTH_TOKEN_LEN + 1];

		if (console_cookie_token(http_request_header(req, "Cookie"), tok)) {
			snprintf(line, sizeof(line), "Authorization: Bearer %s", tok);
			if (!(t = curl_slist_append(l, line)))
				goto fail;
			l = t;
		}
	}
	/* one id across the console and the API's logs */
	snprintf(line, sizeof(line), "X-Request-Id: %s", http_request_id(req));
	if ((t = curl_slist_append(l, line)))
		return t;
fail:
	curl_slist_free_all(l);
	return NULL;
}

/* A configured easy handle for url (NULL on ENOMEM). */
static CURL *easy_new(struct http_request *req, const char *url, struct curl_slist *hdrs,
		      struct reply *r)
{
	CURL *e = curl_easy_init();
	struct util_slice body = http_request_body(req);

	if (!e)
		return NULL;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_PROXY, ""); /* loopback only: ignore http_proxy */
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
#endif
	if (!strcmp(http_request_method(req), "POST")) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
		curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body.ptr ? body.ptr : "");
	} else if (!strcmp(http_request_method(req), "HEAD")) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	}
	return e;
}

static void count(struct console_proxy *p, const struct console_upstream *u, long status)
{
	char s[16];
	const char *lv[2] = {u->name, s};

	snprintf(s, sizeof(s), "%ld", status);
	metrics_counter_inc(p->calls, lv);
}

/* Sends r (status, passed-back headers, body) to the browser. */
static void reply_collected(struct http_request *req, struct reply *r)
{
	for (size_t i = 1; i < NBACK; i++)
		if (r->hdr[i][0] && http_reply_header(req, back_headers[i], r->hdr[i]))
			slog_warn("header not passed back", "name=%s", back_headers[i]);
	http_reply(req, (int)r->status, r->hdr[0][0] ? r->hdr[0] : NULL, r->body.data,
		   r->body.len);
}

/* Maps a failed transfer to the console's own error reply. */
static void reply_failure(struct http_request *req, const struct console_upstream *u,
			  CURLcode cc, bool too_big)
{
	char msg[160];

	if (too_big) {
		snprintf(msg, sizeof(msg), "answer of \"%s\" is over the console's limit", u->name);
		http_reply_error(req, 502, "upstream_too_large", msg, NULL);
		return;
	}
	slog_warn("upstream call failed", "upstream=%s error=\"%s\"", u->name, curl_easy_strerror(cc));
	snprintf(msg, sizeof(msg), "service \"%s\" %s", u->name,
		 cc == CURLE_OPERATION_TIMEDOUT ? "did not answer in time" : "is unavailable");
	if (cc == CURLE_OPERATION_TIMEDOUT)
		http_reply_error(req, 504, "upstream_timeout", msg, NULL);
	else
		http_reply_error(req, 502, "upstream_unavailable", msg, NULL);
}

static void forward_buffered(struct console_proxy *p, const struct console_upstream *u,
			     struct http_request *req, const char *url)
{
	struct reply r;
	struct curl_slist *hdrs = forward_headers(req, false);
	CURL *e;
	CURLcode cc;

	memset(&r, 0, sizeof(r));
	util_buf_init(&r.body, p->reply_max);
	e = hdrs ? easy_new(req, url, hdrs, &r) : NULL;
	if (!e) {
		curl_slist_free_all(hdrs);
		util_buf_release(&r.body);
		http_reply_error(req, 500, "internal", "out of memory", NULL);
		return;
	}
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, body_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, p->timeout_ms);
	cc = curl_easy_perform(e);
	if (cc == CURLE_OK) {
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r.status);
		count(p, u, r.status);
		reply_collected(req, &r);
	} else {
		count(p, u, 0);
		reply_failure(req, u, cc, r.too_big);
	}
	curl_easy_cleanup(e);
	curl_slist_free_all(hdrs);
	util_buf_release(&r.body);
}

/* ---- streamed answers (exports) ---- */

struct stream {
	struct console_proxy *p;
	CURLM *multi;
	CURL *easy;
	struct curl_slist *hdrs;
	struct reply r; /* status and headers; body unused */
	char buf[STREAM_BUF];
	size_t len, off;
	bool paused, done;
	CURLcode result;
};

static size_t stream_write_cb(char *data, size_t size, size_t n, void *ud)
{
	struct stream *s = ud;
	size_t len = size * n;

	if (s->off == s->len)
		s->off = s->len = 0;
	if (len > sizeof(s->buf) - s->len && s->off) {
		memmove(s->buf, s->buf + s->off, s->len - s->off);
		s->len -= s->off;
		s->off = 0;
	}
	if (len > sizeof(s->buf) - s->len) {
		s->paused = true;
		return CURL_WRITEFUNC_PAUSE; /* curl keeps the bytes and offers them again */
	}
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	return len;
}

/* One round of the transfer: perform, note the end, wait up to 1 s for I/O. */
static void stream_step(struct stream *s)
{
	int running = 0, left;
	CURLMsg *m;

	if (curl_multi_perform(s->multi, &running) != CURLM_OK) {
		s->done = true;
		s->result = CURLE_FAILED_INIT;
		return;
	}
	while ((m = curl_multi_info_read(s->multi, &left)))
		if (m->msg == CURLMSG_DONE) {
			s->done = true;
			s->result = m->data.result;
		}
	if (!s->done && !s->paused)
		curl_multi_poll(s->multi, NULL, 0, 1000, NULL);
}

/* Runs the transfer until there are bytes to hand out or it is over. */
static void stream_pump(struct stream *s)
{
	while (s->off == s->len && !s->done) {
		if (s->paused) {
			s->paused = false;
			curl_easy_pause(s->easy, CURLPAUSE_CONT); /* may call the write cb */
			if (s->off < s->len)
				break;
		}
		stream_step(s);
	}
}

static ssize_t stream_read(void *ud, char *out, size_t max)
{
	struct stream *s = ud;
	size_t n;

	stream_pump(s);
	if (s->off == s->len)
		return s->done && s->result == CURLE_OK ? 0 : -1; /* a cut export must look cut */
	n = s->len - s->off < max ? s->len - s->off : max;
	memcpy(out, s->buf + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

static void stream_free(void *ud)
{
	struct stream *s = ud;

	if (!s)
		return;
	if (s->multi && s->easy)
		curl_multi_remove_handle(s->multi, s->easy);
	curl_easy_cleanup(s->easy);
	curl_multi_cleanup(s->multi);
	curl_slist_free_all(s->hdrs);
	pthread_mutex_lock(s->p->mu);
	s->p->streams--;
	pthread_mutex_unlock(s->p->mu);
	free(s);
}

static bool stream_slot(struct console_proxy *p)
{
	bool ok;

	pthread_mutex_lock(p->mu);
	ok = p->streams < p->streams_max;
	if (ok)
		p->streams++;
	pthread_mutex_unlock(p->mu);
	return ok;
}

/* Starts a streamed transfer (NULL on ENOMEM; the slot is then released). */
static struct stream *stream_new(struct console_proxy *p, struct http_request *req,
				 const char *url)
{
	struct stream *s = calloc(1, sizeof(*s));

	if (!s) {
		pthread_mutex_lock(p->mu);
		p->streams--;
		pthread_mutex_unlock(p->mu);
		return NULL;
	}
	s->p = p;
	s->hdrs = forward_headers(req, true);
	s->multi = curl_multi_init();
	s->easy = s->hdrs ? easy_new(req, url, s->hdrs, &s->r) : NULL;
	if (!s->multi || !s->easy) {
		stream_free(s);
		return NULL;
	}
	curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, stream_write_cb);
	curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
	/* no overall limit (exports of any size); a stalled upstream is cut */
	curl_easy_setopt(s->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(s->easy, CURLOPT_LOW_SPEED_TIME, 120L);
	curl_multi_add_handle(s->multi, s->easy);
	return s;
}

static void forward_streamed(struct console_proxy *p, const struct console_upstream *u,
			     struct http_request *req, const char *url)
{
	struct stream *s;

	if (!stream_slot(p)) {
		if (http_reply_header(req, "Retry-After", "5"))
			slog_warn("header not set", "name=Retry-After");
		http_reply_error(req, 503, "too_many_exports", "too many exports at once", NULL);
		return;
	}
	if (!(s = stream_new(p, req, url))) {
		http_reply_error(req, 500, "internal", "out of memory", NULL);
		return;
	}
	stream_pump(s); /* until the first bytes (headers are in by then) or the end */
	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->r.status);
	count(p, u, s->done && s->result != CURLE_OK ? 0 : s->r.status);
	if (s->done && s->result != CURLE_OK && !s->r.status) {
		reply_failure(req, u, s->result, false);
		stream_free(s);
		return;
	}
	while (s->r.status != 200 && !s->done && !s->paused) /* error bodies are small */
		stream_step(s);
	if (s->r.status != 200) {
		util_buf_init(&s->r.body, 0);
		if (util_buf_append(&s->r.body, s->buf + s->off, s->len - s->off))
			s->r.body.len = 0;
		reply_collected(req, &s->r);
		util_buf_release(&s->r.body);
		stream_free(s);
		return;
	}
	for (size_t i = 1; i < NBACK; i++)
		if (s->r.hdr[i][0] && http_reply_header(req, back_headers[i], s->r.hdr[i]))
			slog_warn("header not passed back", "name=%s", back_headers[i]);
	http_reply_stream(req, 200, s->r.hdr[0][0] ? s->r.hdr[0] : "application/octet-stream",
			  stream_read, s, stream_free);
}

/* ---- entry points ---- */

int console_proxy_init(struct console_proxy *p, const struct console_config *cfg,
		       struct metrics_registry *reg)
{
	memset(p, 0, sizeof(*p));
	p->reply_max = (size_t)cfg->reply_max;
	p->timeout_ms = (long)cfg->timeout_ms;
	p->streams_max = (int)cfg->streams_max;
	p->mu = malloc(sizeof(pthread_mutex_t));
	p->calls = metrics_counter_new(reg, "console_upstream_requests_total",
				       "Forwarded API calls by upstream and status (0: no answer).",
				       "upstream,status");
	if (!p->mu || !p->calls) {
		free(p->mu);
		p->mu = NULL;
		return UTIL_ENOMEM;
	}
	pthread_mutex_init(p->mu, NULL);
	return 0;
}

void console_proxy_release(struct console_proxy *p)
{
	if (p->mu) {
		pthread_mutex_destroy(p->mu);
		free(p->mu);
	}
	memset(p, 0, sizeof(*p));
}

void console_proxy_forward(struct console_proxy *p, const struct console_upstream *u,
			   struct http_request *req)
{
	const char *const *names = console_proxy_query_names;
	const char *values[32];
	char url[URL_MAX], upath[512];
	size_t nq = 0, plen = strlen(u->name) + 6; /* "/api/" + name + "/" */
	const char *path = http_request_path(req);

	for (; names[nq] && nq < sizeof(values) / sizeof(values[0]); nq++)
		values[nq] = http_request_query(req, names[nq]);
	if (console_proxy_url(u, path, names, values, nq, url, sizeof(url))) {
		http_reply_error(req, 404, "not_found", "no such API path", NULL);
		return;
	}
	snprintf(upath, sizeof(upath), "%s%s", u->base_path, path + plen);
	if (!strcmp(http_request_method(req), "GET") && console_proxy_streams(upath))
		forward_streamed(p, u, req, url);
	else
		forward_buffered(p, u, req, url);
}
