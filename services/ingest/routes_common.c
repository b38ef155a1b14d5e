/*
 * services/ingest/routes_common.c - the route table and the helpers every
 * ingest route shares: error replies, content-type and Idempotency-Key
 * checks, and the reply to a committed item.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/http.h"
#include "ingest.h"
#include "metrics/metrics.h"
#include "slog/slog.h"
#include "util/err.h"

size_t ingest_routes(struct ingest_app *app, struct http_route *out, size_t cap)
{
	const struct http_route routes[] = {
		{"POST", "/v1/content", ingest_route_content_post, app, 0},
		{"POST", "/v1/content:batch", ingest_route_batch_post, app,
		 (size_t)app->cfg->batch_max_body},
		{"GET", "/v1/content/{id}", ingest_route_content_get, app, 0},
		{"POST", "/v1/aspirasi", ingest_route_aspirasi_post, app, 0},
		{"POST", "/v1/kims", ingest_route_kims_post, app, 0},
		{"GET", "/v1/kims/{id}", ingest_route_kims_get, app, 0},
	};
	size_t n = sizeof(routes) / sizeof(routes[0]);

	if (n > cap)
		return 0;
	memcpy(out, routes, sizeof(routes));
	return n;
}

void ingest_header(struct http_request *req, const char *name, const char *value)
{
	if (http_reply_header(req, name, value) != 0)
		slog_warn("response header dropped", "name=%s", name);
}

void ingest_reply_verr(struct ingest_app *app, struct http_request *req,
		       const struct ingest_verr *e)
{
	ingest_count_rejected(&app->m, e->code);
	if (e->status == 401)
		ingest_header(req, "WWW-Authenticate", "Bearer");
	if (e->status == 503 || e->status == 429)
		ingest_header(req, "Retry-After",
			      e->status == 503 && strcmp(e->code, "overloaded") != 0 ? "2" : "1");
	http_reply_error(req, e->status, e->code, e->message, e->field[0] ? e->field : NULL);
}

bool ingest_admit_early(struct http_request *req, void *ud)
{
	struct ingest_app *app = ud;

	if (strcmp(http_request_method(req), "POST") != 0) /* reads are never shed */
		return true;
	/* This request does not count yet: strictly below the cap. */
	if (metrics_gauge_value(app->http_in_flight, NULL) < (double)app->cfg->max_in_flight &&
	    !ingest_committer_overloaded(app->committer))
		return true;
	ingest_count_rejected(&app->m, "overloaded");
	return false;
}

int ingest_admit(struct ingest_app *app, struct http_request *req)
{
	struct ingest_verr e;

	if (metrics_gauge_value(app->http_in_flight, NULL) <= (double)app->cfg->max_in_flight &&
	    !ingest_committer_overloaded(app->committer))
		return 0;
	ingest_verr_set(&e, 503, "overloaded", NULL, "too many pending submissions, retry");
	ingest_reply_verr(app, req, &e);
	return UTIL_EUNAVAIL;
}

bool ingest_content_type_is(struct http_request *req, const char *want)
{
	const char *ct = http_request_header(req, "Content-Type");
	size_t n = strlen(want);

	if (!ct)
		return false;
	while (*ct == ' ')
		ct++;
	return strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

int ingest_idem_key(struct http_request *req, char key[INGEST_KEY_MAX + 1], struct ingest_verr *e)
{
	const char *k = http_request_header(req, "Idempotency-Key");
	size_t n;

	if (!k) {
		util_uuid_v4(key); /* not retry-safe: documented */
		return 0;
	}
	n = strlen(k);
	if (n < 1 || n > INGEST_KEY_MAX)
		return ingest_verr_set(e, 400, "invalid_field", "Idempotency-Key",
				       "Idempotency-Key must be 1 to %d bytes", INGEST_KEY_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)k[i] < 0x21 || (unsigned char)k[i] > 0x7e)
			return ingest_verr_set(e, 400, "invalid_field", "Idempotency-Key",
					       "Idempotency-Key must be printable ascii");
	memcpy(key, k, n + 1);
	return 0;
}

/* Fills e for an item that was not created (or not replayed). */
static bool item_error(const struct commit_item *it, struct ingest_verr *e)
{
	switch (it->outcome) {
	case COMMIT_CREATED:
	case COMMIT_DUPLICATE:
		return false;
	case COMMIT_CONFLICT:
		ingest_verr_set(e, 409, "idempotency_conflict", "Idempotency-Key",
				"key already used with a different request");
		break;
	case COMMIT_UNKNOWN_REGION:
		ingest_verr_set(e, 422, "unknown_region", "region_code", "no such region");
		break;
	case COMMIT_UNKNOWN_KIM:
		ingest_verr_set(e, 422, "unknown_kim", "kim_id", "no such kim");
		break;
	case COMMIT_KIM_NOT_VERIFIED:
		ingest_verr_set(e, 422, "kim_not_verified", "kim_id",
				"kim is not verified yet and may not post");
		break;
	case COMMIT_UNAVAILABLE:
		ingest_verr_set(e, 503, "unavailable", NULL, "database unavailable, retry");
		break;
	default:
		ingest_verr_set(e, 500, "internal", NULL, "internal error");
		break;
	}
	return true;
}

/* The per-item result object used by the batch endpoint, and the status. */
json_t *ingest_item_result(const struct commit_item *it, int *status)
{
	struct ingest_verr e;

	if (item_error(it, &e)) {
		*status = e.status;
		return json_pack("{si s{ss ss so?}}", "status", e.status, "error", "code", e.code,
				 "message", e.message, "field",
				 e.field[0] ? json_string(e.field) : NULL);
	}
	*status = 202;
	return json_pack("{si ss ss sb}", "status", 202, "id", it->result_id, "state",
			 it->kind == COMMIT_KIM ? "pending" : "submitted", "replayed",
			 it->outcome == COMMIT_DUPLICATE);
}

void ingest_reply_item(struct ingest_app *app, struct http_request *req,
		       const struct commit_item *it, const char *route)
{
	struct ingest_verr e;
	char loc[96];
	bool kim = it->kind == COMMIT_KIM;

	if (item_error(it, &e)) {
		ingest_reply_verr(app, req, &e);
		return;
	}
	ingest_count_accepted(&app->m, route);
	snprintf(loc, sizeof(loc), "/v1/%s/%s", kim ? "kims" : "content", it->result_id);
	ingest_header(req, "Location", loc);
	if (it->outcome == COMMIT_DUPLICATE)
		ingest_header(req, "Idempotent-Replayed", "true");
	http_reply_json(req, 202,
			json_pack("{ss ss}", "id", it->result_id, "status",
				  kim ? "pending" : "submitted"));
}
