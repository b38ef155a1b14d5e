/*
 * ts_http.c - one HTTP request with libcurl for the tests, the answer's
 * status, interesting headers and body captured, and the project's JSON
 * shapes ({"id":...} and {"error":{"code","message","field"}}) picked out.
 */
#include "ts/ts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>

#include <util/err.h>
#include <util/ids.h>

static char source_ip[16];

void ts_http_source_addr(const char *ip)
{
	snprintf(source_ip, sizeof(source_ip), "%s", ip ? ip : "");
}

void ts_random_loopback(char out[16])
{
	unsigned char b[3];

	if (util_random_bytes(b, sizeof(b)) < 0)
		b[0] = b[1] = b[2] = 7;
	snprintf(out, 16, "127.%u.%u.%u", b[0], b[1], b[2] % 253 + 1);
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
	struct ts_response *r = ud;
	size_t n = size * nmemb, room = TS_HTTP_BODY_CAP - r->body_len;
	size_t take = n < room ? n : room;
	char *nb = realloc(r->body, r->body_len + take + 1);

	if (!nb)
		return 0;
	r->body = nb;
	memcpy(r->body + r->body_len, p, take);
	r->body_len += take;
	r->body[r->body_len] = '\0';
	return n;
}

static void header_value(const char *line, size_t n, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	const char *v;
	size_t vl;

	if (n <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return;
	v = line + nl + 1;
	vl = n - nl - 1;
	while (vl && (*v == ' ' || *v == '\t')) {
		v++;
		vl--;
	}
	while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
		vl--;
	snprintf(out, outlen, "%.*s", (int)vl, v);
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
	struct ts_response *r = ud;
	size_t n = size * nmemb;

	header_value(p, n, "Retry-After", r->retry_after, sizeof(r->retry_after));
	header_value(p, n, "Location", r->location, sizeof(r->location));
	header_value(p, n, "Content-Type", r->content_type, sizeof(r->content_type));
	header_value(p, n, "X-Request-Id", r->request_id, sizeof(r->request_id));
	return n;
}

static void pick_json(struct ts_response *r)
{
	json_t *root = r->body ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
	json_t *e, *v;

	if (!json_is_object(root))
		goto out;
	v = json_object_get(root, "id");
	if (json_is_string(v))
		snprintf(r->id, sizeof(r->id), "%s", json_string_value(v));
	e = json_object_get(root, "error");
	if (json_is_object(e)) {
		v = json_object_get(e, "code");
		if (json_is_string(v))
			snprintf(r->error_code, sizeof(r->error_code), "%s", json_string_value(v));
		v = json_object_get(e, "field");
		if (json_is_string(v))
			snprintf(r->error_field, sizeof(r->error_field), "%s",
				 json_string_value(v));
	}
out:
	json_decref(root);
}

int ts_http(struct ts_response *r, const char *method, const char *url,
	    const char *const *headers, const char *content_type, const char *body,
	    size_t body_len)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hl = NULL;
	char line[512], cerr[CURL_ERROR_SIZE] = "";
	CURLcode cc;

	memset(r, 0, sizeof(*r));
	if (!h)
		return UTIL_ENOMEM;
	hl = curl_slist_append(hl, "Expect:");
	if (content_type) {
		snprintf(line, sizeof(line), "Content-Type: %s", content_type);
		hl = curl_slist_append(hl, line);
	} else if (body) {
		hl = curl_slist_append(hl, "Content-Type:"); /* really none */
	}
	for (size_t i = 0; headers && headers[i]; i++)
		hl = curl_slist_append(hl, headers[i]);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (source_ip[0])
		curl_easy_setopt(h, CURLOPT_INTERFACE, source_ip);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	}
	cc = curl_easy_perform(h);
	if (cc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(h);
	if (cc != CURLE_OK) {
		r->status = 0;
		free(r->body);
		r->body = strdup(cerr[0] ? cerr : curl_easy_strerror(cc));
		r->body_len = r->body ? strlen(r->body) : 0;
		return UTIL_EIO;
	}
	pick_json(r);
	return 0;
}

int ts_http_post_json(struct ts_response *r, const char *url, const char *token,
		      const char *idem_key, const char *json)
{
	char auth[256], idem[512];
	const char *hdrs[3] = {NULL, NULL, NULL};
	size_t n = 0;

	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		hdrs[n++] = auth;
	}
	if (idem_key) {
		snprintf(idem, sizeof(idem), "Idempotency-Key: %s", idem_key);
		hdrs[n++] = idem;
	}
	return ts_http(r, "POST", url, hdrs, "application/json", json, strlen(json));
}

void ts_response_release(struct ts_response *r)
{
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
}

char *ts_json_content(const char *type, const char *title, const char *body,
		      const char *region_code, const char *kim_id)
{
	json_t *o = json_pack("{ss ss ss ss}", "type", type, "title", title, "body", body,
			      "region_code", region_code);
	char *s;

	if (o && kim_id)
		json_object_set_new(o, "kim_id", json_string(kim_id));
	s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}
