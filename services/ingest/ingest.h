/*
 * services/ingest/ingest.h - the ingest service's internal API, shared by its
 * source files and its tests (never included by libraries or other services).
 *
 * Flow: an HTTP handler (routes_*.c) authenticates (auth.c), validates
 * (submission.c, kim_form.c), builds the event (event.c) and enqueues a
 * struct commit_item; a committer thread (committer.c) writes a whole group
 * of items with ONE statement (rows + idempotency keys + outbox) and calls
 * each item's done callback, which replies. The relay (relay.c) publishes the
 * outbox to Kafka. intake.c feeds kim.intake.v1 into the same committer.
 */
#ifndef INGEST_INGEST_H
#define INGEST_INGEST_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "auth/auth.h"
#include "util/ids.h"

struct db_conn;
struct cache;
struct metrics_registry;

/* ---- configuration (ingest_config.c) ---- */

struct ingest_config {
	char *bind;
	int64_t port;
	int64_t threads;
	char *pg_url;
	char *redis_host;
	int64_t redis_port;
	char *kafka_brokers;
	char *log_level;
	int64_t max_body;
	int64_t batch_max_items;
	int64_t batch_max_body;
	int64_t commit_window_ms;
	int64_t commit_max_items;
	int64_t committers;
	int64_t queue_max;
	int64_t queue_max_wait_ms; /* admission: refuse while the queue's head is older */
	int64_t max_in_flight;     /* admission: refuse writes past this many HTTP requests */
	int64_t db_readers;
	int64_t aspirasi_rate_per_min;
	int64_t aspirasi_burst;
	int64_t auth_cache_ms;
	int64_t per_ip_conns;
	bool relay;
	bool intake;
	bool migrate;
	int64_t shutdown_grace_ms;
	int64_t outbox_retention_ms;
};

/* Fills cfg from the environment; all problems into err (one per line).
 * 0 or UTIL_EINVAL. Release with ingest_config_release. */
__attribute__((warn_unused_result)) int ingest_config_load(struct ingest_config *cfg, char *err,
							   size_t errlen);
void ingest_config_release(struct ingest_config *cfg);
void ingest_config_log(struct ingest_config *cfg);
void ingest_config_help(void);

/* ---- validation errors ---- */

/* One client error: HTTP status, stable code, the field it concerns. */
struct ingest_verr {
	int status;        /* 400, 401, 403, 413, 415, 422 */
	char code[32];     /* e.g. "missing_field" */
	char field[64];    /* e.g. "title", "tags[2]"; "" when none */
	char message[192];
};

/* Sets e and returns UTIL_EINVAL (or UTIL_EDENIED for 401/403). */
int ingest_verr_set(struct ingest_verr *e, int status, const char *code, const char *field,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* ---- content submissions (submission.c) ---- */

#define INGEST_TITLE_MAX 200      /* characters */
#define INGEST_BODY_MAX 50000     /* characters */
#define INGEST_TAGS_MAX 20
#define INGEST_TAG_MAX 50         /* characters */
#define INGEST_MEDIA_MAX 10
#define INGEST_URL_MAX 2000       /* bytes */
#define INGEST_NAME_MAX 200       /* aspirasi author name, characters */
#define INGEST_CONTACT_MAX 200
#define INGEST_KEY_MAX 255        /* idempotency key, bytes */

enum ingest_form {
	INGEST_FORM_CONTENT,    /* POST /v1/content */
	INGEST_FORM_BATCH_LINE, /* one NDJSON line: + "idempotency_key" */
	INGEST_FORM_ASPIRASI,   /* POST /v1/aspirasi: + name, contact; no type, kim_id */
};

/* A validated submission. Strings are heap copies owned by the struct. */
struct submission {
	int type;               /* Simpul__V1__ContentType, never UNSPECIFIED once valid */
	char *title;
	char *body;
	char *region_code;
	char *kim_id;           /* NULL when absent */
	char *author_name;      /* aspirasi only */
	char *author_contact;   /* aspirasi only */
	char *idempotency_key;  /* batch lines only; NULL when absent */
	char **tags;
	size_t ntags;
	char **media_urls;
	size_t nmedia;
};

/*
 * Parses and validates a JSON body (len bytes) for form into s (zeroed
 * first). 0, or UTIL_EINVAL with e filled (400 malformed_json /
 * invalid_utf8 / unknown_field, 422 missing_field / invalid_field /
 * too_long / unknown_type). Release s in both cases.
 */
__attribute__((warn_unused_result)) int ingest_submission_parse(const char *body, size_t len,
								enum ingest_form form,
								struct submission *s,
								struct ingest_verr *e);
/* The field checks shared by HTTP and intake (lengths, syntax, type). */
__attribute__((warn_unused_result)) int ingest_submission_check(const struct submission *s,
								struct ingest_verr *e);
void ingest_submission_release(struct submission *s);

/* Loads body as one JSON object (no duplicate keys, no NUL bytes); NULL
 * with e set (400 malformed_json / invalid_utf8). Caller json_decref()s. */
json_t *ingest_json_load_object(const char *body, size_t len, struct ingest_verr *e);

/* "berita" -> CONTENT_TYPE_BERITA; 0 (UNSPECIFIED) when unknown. */
int ingest_content_type_parse(const char *s);
/* CONTENT_TYPE_BERITA -> "berita"; NULL when out of range/unspecified. */
const char *ingest_content_type_name(int type);
/* Kemendagri code syntax: 2, 2.2, 2.2.2 or 2.2.2.4 digits; levels in [min,max]. */
bool ingest_region_code_valid(const char *s, int min_level, int max_level);
/* Number of UTF-8 code points of a valid UTF-8 string. */
size_t ingest_utf8_chars(const char *s);

/* ---- KIM registrations (kim_form.c) ---- */

struct kim_contact {
	char *kind;
	char *value;
};
struct kim_member {
	char *name;
	char *role;
};
struct kim_form {
	char *name;
	char *region_code;
	char *decree_number;
	char *decree_date;      /* YYYY-MM-DD */
	char **fields;
	size_t nfields;
	struct kim_contact *contacts;
	size_t ncontacts;
	struct kim_member *members;
	size_t nmembers;
};

__attribute__((warn_unused_result)) int ingest_kim_parse(const char *body, size_t len,
							 struct kim_form *k, struct ingest_verr *e);
void ingest_kim_release(struct kim_form *k);

/* ---- NDJSON (ndjson.c) ---- */

struct ingest_line {
	const char *ptr;  /* borrowed from the body; not NUL-terminated */
	size_t len;       /* without the '\n' and a trailing '\r' */
	size_t lineno;    /* 1-based physical line number */
};

/*
 * Splits body into its non-blank lines (blank = only spaces, tabs, CR).
 * Writes at most max lines into out (may be NULL when max is 0) and returns
 * the total number of non-blank lines (so > max means "too many").
 */
size_t ingest_ndjson_split(const char *body, size_t len, struct ingest_line *out, size_t max);

/* ---- who may do what (auth.c); tokens are resolved by libs/auth ---- */

/*
 * May p submit content of this type for this KIM (kim_id NULL = none)?
 * 0 or UTIL_EDENIED with e = 403 forbidden naming the field.
 */
__attribute__((warn_unused_result)) int ingest_auth_may_submit(const struct auth_principal *p,
							       int type, const char *kim_id,
							       struct ingest_verr *e);
/* May p register a KIM? 0 or UTIL_EDENIED (403). */
__attribute__((warn_unused_result)) int ingest_auth_may_register(const struct auth_principal *p,
								 struct ingest_verr *e);
/* May p read a content item with these attributes (NULLs for absent)? */
bool ingest_auth_may_read(const struct auth_principal *p, const char *author_id,
			  const char *kim_id, const char *region_code);

/*
 * Resolves "Authorization" header text (may be NULL) into p through
 * libs/auth. 0; UTIL_EDENIED with e = 401 unauthorized; UTIL_EUNAVAIL when
 * PostgreSQL cannot be asked (e = 503 unavailable).
 */
__attribute__((warn_unused_result)) int ingest_auth_resolve(struct auth *a, const char *header,
							    struct auth_principal *p,
							    struct ingest_verr *e);
/* Same for a bare token (intake messages). */
__attribute__((warn_unused_result)) int ingest_auth_resolve_token(struct auth *a,
								  const char *token,
								  struct auth_principal *p,
								  struct ingest_verr *e);

struct db_pool; /* db/pool.h: the read connections (token look-ups, GETs) */

/* ---- the group committer (committer.c) ---- */

enum commit_kind { COMMIT_CONTENT = 0, COMMIT_KIM = 1 };

enum commit_outcome {
	COMMIT_PENDING = 0,
	COMMIT_CREATED,
	COMMIT_DUPLICATE,      /* same key, same body: result_id is the first one's */
	COMMIT_CONFLICT,       /* same key, different body */
	COMMIT_UNKNOWN_REGION,
	COMMIT_UNKNOWN_KIM,
	COMMIT_KIM_NOT_VERIFIED, /* the KIM exists but may not post yet */
	COMMIT_UNAVAILABLE,    /* PostgreSQL down: nothing written */
	COMMIT_ERROR,          /* unexpected database error */
};

struct commit_item;
typedef void (*commit_done_fn)(struct commit_item *it, void *ud);

/*
 * One unit of work. row is a JSON object with the columns the kind's SQL
 * expects (built by ingest_item_content / ingest_item_kim); the committer
 * owns it after enqueue. done is called exactly once from a committer thread
 * (or from enqueue's caller on failure) with outcome and result_id set; the
 * callback owns the item from then on (free with ingest_item_free).
 */
struct commit_item {
	enum commit_kind kind;
	json_t *row;
	char id[UTIL_UUID_STRLEN + 1];         /* the new resource's id */
	enum commit_outcome outcome;
	char result_id[UTIL_UUID_STRLEN + 1];  /* created or existing id */
	commit_done_fn done;
	void *ud;
	int64_t enqueued_us;
	struct commit_item *next;
};

void ingest_item_free(struct commit_item *it);

struct ingest_committer;
struct ingest_metrics;

struct ingest_committer *ingest_committer_new(const struct ingest_config *cfg,
					      struct ingest_metrics *m, char *err, size_t errlen);
/* Starts the threads. 0 or UTIL_EIO. */
__attribute__((warn_unused_result)) int ingest_committer_start(struct ingest_committer *c);
/*
 * Queues it. 0, or UTIL_EUNAVAIL when the queue is full, when its oldest
 * item has waited longer than queue_max_wait_ms (the database is not
 * keeping up: new work would only wait longer, so it is shed at once), or
 * when stopping; the caller still owns it and replies 503 overloaded.
 */
__attribute__((warn_unused_result)) int ingest_committer_enqueue(struct ingest_committer *c,
								 struct commit_item *it);
/* True while enqueue would refuse (queue full or its head too old). */
bool ingest_committer_overloaded(struct ingest_committer *c);
/* Called after each successful commit that wrote outbox rows. */
void ingest_committer_set_notify(struct ingest_committer *c, void (*fn)(void *), void *ud);
/* Drains the queue (every item gets its outcome) and joins the threads. */
void ingest_committer_stop(struct ingest_committer *c);
void ingest_committer_free(struct ingest_committer *c);
size_t ingest_committer_depth(struct ingest_committer *c);

/* ---- events and rows (event.c) ---- */

struct ingest_source {
	int source;                 /* Simpul__V1__ContentSource */
	const char *scope;          /* idempotency scope: user id, "ip:<addr>" */
	const char *key;            /* idempotency key (never NULL) */
	const unsigned char *hash;  /* 32 bytes: SHA-256 of the request */
	const char *author_id;      /* NULL when anonymous */
	const char *trace_id;       /* NULL/invalid: a new one */
};

/*
 * Builds a content item: a new id, the ContentSubmitted event (packed,
 * base64 in the row) with its headers, and the row for the committer.
 * Returns NULL on ENOMEM / pack failure.
 */
struct commit_item *ingest_item_content(const struct submission *s,
					const struct ingest_source *src);
struct commit_item *ingest_item_kim(const struct kim_form *k, const struct ingest_source *src);
/* "ingest@<hostname>", computed once. */
const char *ingest_producer_name(void);

/* ---- relay (relay.c) ---- */

struct ingest_relay;
struct ingest_relay *ingest_relay_new(const struct ingest_config *cfg, struct ingest_metrics *m,
				      char *err, size_t errlen);
__attribute__((warn_unused_result)) int ingest_relay_start(struct ingest_relay *r);
/* Wakes the relay (new outbox rows). Any thread. */
void ingest_relay_wake(void *relay);
/* Publishes what it can within grace_ms, then stops and joins. */
void ingest_relay_stop(struct ingest_relay *r, int64_t grace_ms);
void ingest_relay_free(struct ingest_relay *r);
bool ingest_relay_kafka_ready(struct ingest_relay *r, char *detail, size_t len);

/* ---- intake consumer (intake.c) ---- */

struct ingest_intake;
struct ingest_intake *ingest_intake_new(const struct ingest_config *cfg,
					struct ingest_committer *c, struct auth *a,
					struct ingest_metrics *m, char *err, size_t errlen);
__attribute__((warn_unused_result)) int ingest_intake_start(struct ingest_intake *in);
void ingest_intake_stop(struct ingest_intake *in);
void ingest_intake_free(struct ingest_intake *in);

/* ---- metrics (app.c) ---- */

struct ingest_metrics {
	struct metrics_counter *accepted;      /* {route} */
	struct metrics_counter *rejected;      /* {code} */
	struct metrics_histogram *batch_size;
	struct metrics_histogram *commit_seconds;
	struct metrics_gauge *queue_depth;
	struct metrics_gauge *outbox_backlog;
	struct metrics_counter *published;
	struct metrics_counter *relay_failures;
};

void ingest_metrics_init(struct ingest_metrics *m, struct metrics_registry *reg);
void ingest_count_rejected(struct ingest_metrics *m, const char *code);
void ingest_count_accepted(struct ingest_metrics *m, const char *route);

/* ---- the application (app.c) and routes (routes_*.c) ---- */

struct ingest_app {
	const struct ingest_config *cfg;
	struct metrics_registry *reg;
	struct ingest_metrics m;
	struct db_pool *pool;
	struct auth *auth;
	struct cache *cache;
	struct ingest_committer *committer;
	struct ingest_relay *relay;
	struct ingest_intake *intake;
	struct http_server *http;
	struct metrics_gauge *http_in_flight; /* the server's http_requests_in_flight */
};

__attribute__((warn_unused_result)) int ingest_app_start(struct ingest_app *app,
							 const struct ingest_config *cfg, char *err,
							 size_t errlen);
int ingest_app_port(struct ingest_app *app);
/* Graceful: HTTP, intake, committer (drained), relay (grace), in that order. */
void ingest_app_stop(struct ingest_app *app);

struct http_request;
struct http_route;
/* The service's route table (static storage); ud of each route is app. */
size_t ingest_routes(struct ingest_app *app, struct http_route *out, size_t cap);

/* Helpers shared by the routes (routes_common.c). */
/* Adds a response header; a failure (ENOMEM) is logged, never fatal. */
void ingest_header(struct http_request *req, const char *name, const char *value);
void ingest_reply_verr(struct ingest_app *app, struct http_request *req,
		       const struct ingest_verr *e);
bool ingest_content_type_is(struct http_request *req, const char *want);
/* Replies to a finished content/kim item (202 / 409 / 422 / 503). */
void ingest_reply_item(struct ingest_app *app, struct http_request *req,
		       const struct commit_item *it, const char *route);
/* {"status":202,"id":..} or {"status":4xx,"error":{..}} for a batch line; *status set. */
json_t *ingest_item_result(const struct commit_item *it, int *status);
/* Idempotency-Key header: 0 with key copied, or UTIL_EINVAL (400). */
__attribute__((warn_unused_result)) int ingest_idem_key(struct http_request *req,
							char key[INGEST_KEY_MAX + 1],
							struct ingest_verr *e);

/*
 * Early admission control (the HTTP server's admit hook, called when a
 * request's headers are in, before its body is read): a POST is shed with
 * the server's 503 overloaded (Retry-After: 1) when max_in_flight requests
 * with a complete body are already in progress or the committer is
 * overloaded. Slow uploads do not count (the server counts a request once
 * its body is complete), so they cannot make every write answer 503.
 */
bool ingest_admit_early(struct http_request *req, void *ud);

/*
 * Admission control again, first thing in every write route (the body has
 * arrived meanwhile, possibly slowly, with many others): when more than
 * max_in_flight HTTP requests are in progress or the committer is
 * overloaded, replies 503 overloaded (Retry-After: 1) before any parsing,
 * authentication or database work, and returns UTIL_EUNAVAIL; else 0.
 */
__attribute__((warn_unused_result)) int ingest_admit(struct ingest_app *app,
						     struct http_request *req);

/* Enqueues it and replies when committed (503 overloaded when the queue is
 * full). Takes it (NULL: replies 500). */
void ingest_submit_one(struct ingest_app *app, struct http_request *req, struct commit_item *it,
		       const char *route);

void ingest_route_content_post(struct http_request *req, void *ud);
void ingest_route_content_get(struct http_request *req, void *ud);
void ingest_route_batch_post(struct http_request *req, void *ud);
void ingest_route_aspirasi_post(struct http_request *req, void *ud);
void ingest_route_kims_post(struct http_request *req, void *ud);
void ingest_route_kims_get(struct http_request *req, void *ud);

#endif
