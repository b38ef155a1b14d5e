/*
 * services/notify/notify.h - the notification service's internal API, shared
 * by its source files and its tests (never included by libraries or other
 * services).
 *
 * Flow: the consumer (consume.c) turns kim.content.moderated.v1,
 * kim.content.published.v1 and kim.registry.v1 events into delivery rows
 * through the match index (match.c), in one INSERT ... SELECT keyed
 * (event_id, subscription_id) so replays add nothing. Diseminasi fan-out is
 * recorded as a job and expanded in batches by fanout.c (lane 1). The digest
 * ticker (digest.c) folds held rows into one digest delivery per window.
 * Workers (worker.c) claim pending rows with FOR UPDATE SKIP LOCKED and send
 * them as signed webhooks (webhook.c, sign.c, ssrf.c) or e-mail (email.c),
 * retrying with backoff until the retry window ends, then dead-lettering.
 */
#ifndef NOTIFY_NOTIFY_H
#define NOTIFY_NOTIFY_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/buf.h"

struct db_conn;
struct auth;
struct metrics_registry;
struct metrics_counter;
struct metrics_gauge;
struct metrics_histogram;
struct http_server;
struct kafka_consumer;
struct outbox_relay;

/* ---- configuration (notify_config.c) ---- */

struct notify_config {
	char *bind;
	int64_t port;
	int64_t threads;
	char *pg_url;
	char *kafka_brokers;
	char *log_level;
	char *group;
	char *realm;
	bool migrate;
	bool consume;
	int64_t consumers;
	int64_t consume_batch;
	int64_t workers;
	int64_t bulk_workers;
	int64_t claim_batch;
	int64_t parallel;
	int64_t poll_ms;
	int64_t connect_timeout_ms;
	int64_t timeout_ms;
	int64_t retry_base_ms;
	int64_t retry_max_ms;
	int64_t retry_window_ms;
	int64_t max_attempts;
	int64_t lease_ms;
	int64_t review_batch_ms;
	int64_t rotate_grace_ms;
	int64_t fanout_batch;
	bool allow_loopback;
	bool require_https;
	char *smtp_url;
	char *mail_from;
	int64_t clock_offset_ms;
	int64_t skip_before_ms;
	int64_t auth_cache_ms;
	int64_t shutdown_grace_ms;
	bool records;
	bool relay;
};

/* Fills cfg from the environment; every problem into err (one per line).
 * 0 or UTIL_EINVAL. Release with notify_config_release. */
__attribute__((warn_unused_result)) int notify_config_load(struct notify_config *cfg, char *err,
							   size_t errlen);
void notify_config_release(struct notify_config *cfg);
void notify_config_log(struct notify_config *cfg);
void notify_config_help(void);

/* ---- clock (app.c): real time + SIMPUL_NOTIFY_CLOCK_OFFSET_MS ---- */

int64_t notify_now_ms(const struct notify_config *cfg);
/* now as an SQL timestamptz literal parameter ("2026-11-23 10:00:00.123+00"). */
void notify_ts_param(int64_t ms, char out[40]);

/* ---- kinds, types, regions (subs.c) ---- */

#define NOTIFY_KIND_REVIEW "review.awaiting"
#define NOTIFY_KIND_DECIDED "content.decided"
#define NOTIFY_KIND_REGISTRATION "registration.decided"
#define NOTIFY_KIND_PUBLISHED "content.published"
#define NOTIFY_KIND_DISEMINASI "diseminasi"

bool notify_kind_valid(const char *kind);
/* CONTENT_TYPE_BERITA -> "berita"; NULL when out of range. */
const char *notify_content_type_name(int type);
bool notify_content_type_valid(const char *name);
/* Kemendagri prefix syntax ("" national, 2, 2.2, 2.2.2, 2.2.2.4 digits). */
bool notify_region_valid(const char *s);
/* Time zone of a region by its province code: "WIB", "WITA" or "WIT". */
const char *notify_region_tz(const char *region);

/*
 * The match scopes of region: "" and every ancestor prefix of region
 * including itself, as a PostgreSQL array literal ({"","35","35.07"}),
 * plus the extra keys (e.g. "kim:<uuid>", may be NULL/empty). out holds
 * outlen bytes; 0 or UTIL_ETOOBIG/UTIL_EINVAL.
 */
__attribute__((warn_unused_result)) int notify_scopes_literal(const char *region,
							      const char *const *extra,
							      size_t nextra, char *out,
							      size_t outlen);

struct util_buf;
/*
 * Appends s to a PostgreSQL array literal being built in b (which starts
 * with "{"; close it with "}"), quoted and escaped; s NULL appends NULL.
 * 0 or UTIL_ENOMEM/UTIL_ETOOBIG.
 */
__attribute__((warn_unused_result)) int notify_lit_push(struct util_buf *b, const char *s);

/* ---- signatures (sign.c), per Standard Webhooks ---- */

#define NOTIFY_SECRET_PREFIX "whsec_"
#define NOTIFY_SIG_MAX 64 /* "v1," + 44 base64 chars + NUL, rounded */

/* A fresh secret "whsec_" + base64(24 random bytes) into out[64]. */
void notify_secret_new(char out[64]);
/*
 * "v1,<base64 HMAC-SHA256(key, id "." ts "." body)>" into out, where key is
 * the base64-decoded part of secret after "whsec_" (or the raw bytes of a
 * secret without that prefix). 0 or UTIL_EINVAL.
 */
__attribute__((warn_unused_result)) int notify_sign(const char *secret, const char *id,
						    int64_t ts, const char *body, size_t len,
						    char out[NOTIFY_SIG_MAX]);

/* ---- SSRF guard (ssrf.c) ---- */

/* True if the address may be a webhook target: public unicast, or loopback
 * when allow_loopback. sa is a struct sockaddr_in or sockaddr_in6. */
bool notify_addr_allowed(const void *sa, bool allow_loopback);
/* Same for a textual IPv4/IPv6 address; false for anything else. */
bool notify_ip_text_allowed(const char *ip, bool allow_loopback);

/* A parsed webhook URL. */
struct notify_url {
	bool https;
	char host[256];   /* without brackets */
	int port;
	char pin[320];    /* CURLOPT_RESOLVE entry "host:port:addr" once resolved */
};

/*
 * Parses url (http(s)://host[:port]/...) into u; refuses other schemes, http
 * when require_https, user info, and literal addresses that are not
 * allowed. 0 or UTIL_EINVAL / UTIL_EDENIED with a reason in err.
 */
__attribute__((warn_unused_result)) int notify_url_parse(const char *url, bool require_https,
							 bool allow_loopback, struct notify_url *u,
							 char *err, size_t errlen);
/*
 * Resolves u->host and checks EVERY address; on success writes the first one
 * into u->pin (the connection is pinned to it, so a second DNS answer cannot
 * switch it to a private address). UTIL_EDENIED (a refused address),
 * UTIL_EUNAVAIL (no answer: retry later).
 */
__attribute__((warn_unused_result)) int notify_url_resolve(struct notify_url *u,
							   bool allow_loopback, char *err,
							   size_t errlen);

/* ---- e-mail (email.c) ---- */

/*
 * Builds a MIME message (multipart/alternative: text/plain and text/html)
 * for a delivery payload into a heap string (caller frees); NULL on ENOMEM.
 * Digests (payload.type "digest") become one message listing every item.
 */
char *notify_email_build(const char *from, const char *to, const char *delivery_id,
			 json_t *payload);

/* ---- application (app.c) ---- */

struct notify_metrics {
	struct metrics_counter *deliveries;   /* channel, outcome */
	struct metrics_counter *events;       /* topic, result */
	struct metrics_counter *matched;      /* kind */
	struct metrics_gauge *pending;
	struct metrics_gauge *retry_backlog;
	struct metrics_gauge *oldest_pending;
	struct metrics_gauge *held;
	struct metrics_histogram *send_seconds; /* channel */
};

struct db_pool;

struct notify_app {
	const struct notify_config *cfg;
	struct metrics_registry *reg;
	struct notify_metrics m;
	struct auth *auth;
	struct db_pool *pool;
	struct http_server *http;
	volatile sig_atomic_t stop;
	pthread_t digest_thr, fanout_thr;
	pthread_t *worker_thr;
	struct notify_worker *workers;
	int nworkers;
	bool digest_started, fanout_started;
	struct notify_consumer *consumers;
	int nconsumers;
	struct outbox_relay *relay;
};

__attribute__((warn_unused_result)) int notify_app_start(struct notify_app *app,
							 const struct notify_config *cfg,
							 char *err, size_t errlen);
int notify_app_port(const struct notify_app *app);
void notify_app_stop(struct notify_app *app);

/* ---- HTTP routes (routes.c) ---- */

struct http_route;
/* Fills out[0..cap) with the service's routes bound to app; returns the count. */
size_t notify_routes_fill(struct notify_app *app, struct http_route *out, size_t cap);

/* ---- matching (match.c) ---- */

/* An event reduced to what matching needs. Strings are borrowed. */
struct notify_event {
	const char *event_id;   /* uuid */
	const char *kind;       /* NOTIFY_KIND_* */
	const char *region;     /* Kemendagri code, "" national */
	const char *content_type; /* NULL when not content */
	const char *kim_id;     /* NULL/"" when none */
	const char *author_id;  /* NULL/"" when none */
	const char *text;       /* lowercased title + body for keywords; NULL none */
	const char *payload;    /* the notification JSON (compact) */
};

/*
 * The SQL that finds an event's subscribers and writes their deliveries
 * (exposed so tests can EXPLAIN exactly this statement). Parameters:
 * $1 realm, $2 kind, $3 scopes (text[]), $4 content type, $5 text,
 * $6 event id, $7 payload, $8 region, $9 now, $10 review batch (ms).
 */
extern const char notify_match_sql[];
/* The same match without writing: how many subscribers (same parameters).
 * For tests and the benchmark. */
extern const char notify_match_count_sql[];

/* Inserts the deliveries for ev; *n receives how many were new. 0 or
 * UTIL_EUNAVAIL / UTIL_EIO. */
__attribute__((warn_unused_result)) int notify_match_insert(struct notify_app *app,
							    struct db_conn *db,
							    const struct notify_event *ev,
							    int64_t *n, char *err, size_t errlen);
/*
 * Matching many events in ONE statement (the consumer's batch mode): add
 * events (their strings are copied), then run; *n receives how many
 * deliveries were new. notify_match_batch_sql is exposed for EXPLAIN.
 */
#define NOTIFY_MATCH_BATCH_COLS 8
struct notify_match_batch {
	struct util_buf v[NOTIFY_MATCH_BATCH_COLS]; /* array literals being built */
	size_t n;                                   /* events added */
};
extern const char notify_match_batch_sql[];
void notify_match_batch_init(struct notify_match_batch *b);
void notify_match_batch_release(struct notify_match_batch *b);
__attribute__((warn_unused_result)) int notify_match_batch_add(struct notify_match_batch *b,
							       const struct notify_event *ev,
							       char *err, size_t errlen);
__attribute__((warn_unused_result)) int notify_match_batch_run(struct notify_app *app,
							       struct db_conn *db,
							       struct notify_match_batch *b,
							       int64_t *n, char *err,
							       size_t errlen);
/* Records a diseminasi fan-out job (idempotent). */
__attribute__((warn_unused_result)) int notify_fanout_enqueue(struct notify_app *app,
							      struct db_conn *db,
							      const struct notify_event *ev,
							      char *err, size_t errlen);
/* Runs one batch of the oldest open fan-out job; *n rows scanned (0: idle). */
__attribute__((warn_unused_result)) int notify_fanout_step(struct notify_app *app,
							   struct db_conn *db, int64_t *n,
							   char *err, size_t errlen);
/* Folds due held rows into digest deliveries; *n digests made. */
__attribute__((warn_unused_result)) int notify_digest_step(struct notify_app *app,
							   struct db_conn *db, int64_t *n,
							   char *err, size_t errlen);

/* ---- consumer (consume.c) ---- */

/* One consumer thread of the group: its Kafka consumer and PostgreSQL session. */
struct notify_consumer {
	struct notify_app *app;
	struct kafka_consumer *kc;
	struct db_conn *db;
	struct notify_match_batch *collect; /* set while a batch is gathered */
	pthread_t thr;
	bool started;
};

struct kafka_message;
/* The kafka_handle_fn of the service (ud = struct notify_consumer). */
int notify_consume_handle(void *ud, const struct kafka_message *m, char *err, size_t errlen);
/* The kafka_batch_fn: msgs[0..n) matched in one transaction; on any failure
 * nothing is kept (the loop then redoes them through notify_consume_handle). */
int notify_consume_batch(void *ud, const struct kafka_message *msgs, size_t n, char *err,
			 size_t errlen);

/* ---- workers (worker.c) ---- */

struct notify_worker;
void *notify_worker_main(void *arg);
__attribute__((warn_unused_result)) struct notify_worker *notify_workers_new(struct notify_app *app,
									      int n, char *err,
									      size_t errlen);
void notify_workers_free(struct notify_worker *w, int n);
struct notify_worker *notify_worker_at(struct notify_worker *w, int i);

/* Retry delay before attempt `attempt`+1 (attempt >= 1): base * 2^(attempt-1),
 * capped at max, with +-20 % jitter. */
int64_t notify_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms);

#endif
