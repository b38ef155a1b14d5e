/*
 * services/report/report.h - the reporting service's internal API, shared
 * by its source files and its tests (never included by libraries or other
 * services).
 *
 * Flow: consumer.c runs the at-least-once Kafka loop over every event topic
 * and hands each message to apply.c, which decodes it and calls one SQL
 * function (migration 0005_report.sql) that dedupes by event id and updates
 * facts and aggregate cells in one transaction. flush.c publishes the cells
 * and KIMs marked dirty to the report topics about every second. query.c
 * builds dashboard JSON, export.c streams CSV/NDJSON and runs background
 * export jobs, rebuild.c recomputes everything into a fresh generation,
 * routes.c is the HTTP surface and app.c wires it all.
 */
#ifndef REPORT_REPORT_H
#define REPORT_REPORT_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "kafka/kafka.h"

struct db_conn;
struct cache;
struct auth;
struct metrics_registry;
struct metrics_counter;
struct metrics_histogram;
struct metrics_gauge;
struct http_server;

#define REPORT_MAX_CONSUMERS 32

/* ---- configuration (report_config.c) ---- */

struct report_config {
	char *bind;
	int64_t port;
	int64_t threads;
	char *pg_url;
	char *redis_host;
	int64_t redis_port;
	char *kafka_brokers;
	char *log_level;
	bool migrate;
	bool consume;
	char *group;
	char *offset_reset;
	int64_t consumers;
	int64_t batch_max;     /* events per transaction (1: no batching) */
	int64_t batch_wait_ms; /* gathering time after a batch's first event */
	int64_t flush_ms;
	int64_t cache_ttl_ms;
	int64_t db_readers;
	int64_t exports_max;
	char *export_dir;
	int64_t auth_cache_ms;
	int64_t shutdown_grace_ms;
};

/* Fills cfg from the environment; all problems into err (one per line).
 * 0 or UTIL_EINVAL. Release with report_config_release. */
__attribute__((warn_unused_result)) int report_config_load(struct report_config *cfg, char *err,
							   size_t errlen);
void report_config_release(struct report_config *cfg);
void report_config_log(struct report_config *cfg);
void report_config_help(void);

/* ---- applying events (apply.c) ---- */

/* The topics the service consumes (static storage), and their count. */
extern const char *const report_topics[];
extern const size_t report_ntopics;

/*
 * Applies one consumed event to generation gen (0: the current generation
 * and, during a rebuild, the one being built) in its own transaction on c.
 * *applied (may be NULL) is set to false for a duplicate. Returns 0,
 * UTIL_EINVAL for an undecodable or invalid event (poison), UTIL_EUNAVAIL
 * when PostgreSQL is down or the transaction hit a deadlock/serialisation
 * conflict (retry), or another UTIL_E* code with err set.
 */
__attribute__((warn_unused_result)) int report_apply(struct db_conn *c, int gen,
						     const struct kafka_message *m, bool *applied,
						     char *err, size_t errlen);

enum report_event_kind {
	REPORT_EV_CONTENT = 1, /* submitted or moderated: report_apply_content */
	REPORT_EV_KIM,
	REPORT_EV_PUBLISHED,
	REPORT_EV_DELIVERY,
};

/*
 * A decoded, validated event: the SQL function (prepared statement name,
 * text, parameter count) and its parameters as text. For REPORT_EV_CONTENT
 * v[] are report_apply_content's ten: gen, event id, content id, region,
 * kim (NULL), type, submitted ms (NULL), decision (NULL: a submission),
 * version, decided ms. v[] points into gen/n1..n3 and into msg, which the
 * event owns: release with report_event_release (also after a failure).
 */
struct report_event {
	enum report_event_kind kind;
	const char *stmt, *sql;
	int n;
	char gen[16], n1[24], n2[24], n3[24];
	const char *v[10];
	ProtobufCMessage *msg;
};

/* Decodes m for generation gen (0: current + building): 0 or UTIL_EINVAL
 * (poison) with err set. */
__attribute__((warn_unused_result)) int report_event_decode(int gen, const struct kafka_message *m,
							    struct report_event *ev, char *err,
							    size_t errlen);
void report_event_release(struct report_event *ev);
/* Applies ev with one function call (inside the caller's transaction if one
 * is open); errors as report_apply. */
__attribute__((warn_unused_result)) int report_event_apply(struct db_conn *c,
							   const struct report_event *ev,
							   bool *applied, char *err, size_t errlen);

/*
 * Applies msgs[0..n) to generation gen on c: the content events in ONE
 * transaction (event-id dedupe, facts and aggregate cells set-based, deltas
 * summed per cell, rows locked in key order), then the other events one
 * function call each, in transactions of 100. *applied / *dups count new
 * and duplicate events. Returns 0 once everything committed; UTIL_EINVAL if
 * any event is poison (nothing written: redo one by one), UTIL_EUNAVAIL for
 * an outage or a conflict that persisted over retries (what committed
 * before is harmless to redo: the event-id dedupe).
 */
__attribute__((warn_unused_result)) int report_apply_batch(struct db_conn *c, int gen,
							   const struct kafka_message *msgs,
							   size_t n, size_t *applied,
							   size_t *dups, char *err,
							   size_t errlen);

/* Deletes every row of generation gen (facts, cells, dedupe, ...): the
 * rebuild's clean-up, also used by tests and benchmarks on private ones. */
__attribute__((warn_unused_result)) int report_gen_delete(struct db_conn *c, int gen, char *err,
							  size_t errlen);
/* Deletes the dirty marks of day that no row of the current generation
 * backs (left by writes into another generation; the flusher would publish
 * empty records for them). */
__attribute__((warn_unused_result)) int report_dirty_drop_unbacked(struct db_conn *c,
								   const char *day, char *err,
								   size_t errlen);

/* Content type enum value to its name ("berita"...); NULL if unknown. */
const char *report_content_type_name(int type);

/* ---- consumer (consumer.c) ---- */

struct report_consumer;

/*
 * A consumer thread over every report topic in group, applying to gen
 * (0 = live). stop_at (may be NULL) is consulted by rebuilds: see
 * rebuild.c. Returns NULL with err set.
 */
struct report_consumer *report_consumer_new(const struct report_config *cfg, const char *group,
					    int gen, char *err, size_t errlen);
/* Starts the thread; 0 or UTIL_EIO. */
__attribute__((warn_unused_result)) int report_consumer_start(struct report_consumer *rc);
/* Stops and joins (offsets committed); frees. NULL is a no-op. */
void report_consumer_free(struct report_consumer *rc);
/* Events applied (not duplicates) and duplicates seen so far. */
void report_consumer_counts(struct report_consumer *rc, uint64_t *applied, uint64_t *dups);
/*
 * For rebuilds: the consumer stops by itself once every partition in
 * targets reached its high watermark (high[i] for topic/partition pairs).
 * Call before start. Copies the arrays.
 */
__attribute__((warn_unused_result)) int
report_consumer_set_targets(struct report_consumer *rc, const char *const *topics,
			    const int32_t *partitions, const int64_t *high, size_t n);
/* True once a consumer with targets reached all of them. */
bool report_consumer_done(struct report_consumer *rc);

/* ---- report topics (flush.c) ---- */

struct report_flusher;

/* A thread that publishes dirty cells and KIMs every flush_ms. */
struct report_flusher *report_flusher_new(const struct report_config *cfg,
					  struct metrics_registry *reg, char *err,
					  size_t errlen);
__attribute__((warn_unused_result)) int report_flusher_start(struct report_flusher *f);
void report_flusher_free(struct report_flusher *f);
/*
 * Runs one flush round on the flusher's connection: publishes up to limit
 * dirty keys of each kind and removes them once Kafka acked. *sent gets the
 * number of records. 0 or UTIL_E*. Used by the thread and by tests.
 */
__attribute__((warn_unused_result)) int report_flush_round(struct report_flusher *f, int limit,
							   int *sent, char *err, size_t errlen);
/*
 * Marks every cell and KIM of the current generation dirty, so the
 * flusher re-emits everything (simpulctl report republish does the same
 * in SQL). *marked gets the count. 0 or UTIL_E*.
 */
__attribute__((warn_unused_result)) int report_mark_all_dirty(struct db_conn *c, int64_t *marked,
							      char *err, size_t errlen);

/* ---- queries (query.c) ---- */

/* A date range of days, YYYY-MM-DD, inclusive. */
struct report_range {
	char from[11];
	char to[11];
};

/* Parses from/to query values (NULL: the last 30 days up to today, WIB).
 * 0 or UTIL_EINVAL with the problem in err. */
__attribute__((warn_unused_result)) int report_range_parse(const char *from, const char *to,
							   struct report_range *r, char *err,
							   size_t errlen);
/* True if code is "" or a well-formed Kemendagri code. */
bool report_region_valid(const char *code);
/* Level of a code: 0 for "", 1..4. */
int report_region_level(const char *code);

/*
 * Builds the dashboard of region (""=national) for range r: totals, per
 * type, registrations, notifications, KIM activity and coverage, context
 * and the children one level down. *out receives a new JSON object.
 * 0, UTIL_ENOTFOUND (unknown region), or a db error.
 */
__attribute__((warn_unused_result)) int report_dashboard(struct db_conn *c, const char *region,
							 const struct report_range *r, json_t **out,
							 char *err, size_t errlen);
/* One KIM's activity as JSON. 0, UTIL_ENOTFOUND or a db error. */
__attribute__((warn_unused_result)) int report_kim_activity(struct db_conn *c, const char *kim_id,
							    json_t **out, char *err,
							    size_t errlen);
/* The current generation (1 when unknown). */
int report_current_gen(struct db_conn *c);

/* ---- exports (export.c) ---- */

enum report_format { REPORT_CSV, REPORT_NDJSON };

/*
 * The COPY statement that exports the cells under region (every level
 * below it, and itself) in r, in format f, current generation. Heap
 * string (free()); NULL on ENOMEM. Values are SQL literals quoted by
 * PQescapeLiteral-equivalent rules on validated input only.
 */
char *report_export_sql(const char *region, const struct report_range *r, enum report_format f);

struct report_export_stream;

/*
 * Opens a dedicated libpq connection and starts the COPY. The stream is
 * then read with report_export_read (an http_stream_fn) and freed with
 * report_export_close (an http_stream_free_fn). NULL with err set.
 */
struct report_export_stream *report_export_open(const char *pg_url, const char *region,
						const struct report_range *r, enum report_format f,
						char *err, size_t errlen);
ssize_t report_export_read(void *ud, char *buf, size_t max);
void report_export_close(void *ud);

struct report_jobs;

/* Background export worker writing files under dir. */
struct report_jobs *report_jobs_new(const struct report_config *cfg, char *err, size_t errlen);
__attribute__((warn_unused_result)) int report_jobs_start(struct report_jobs *j);
void report_jobs_wake(struct report_jobs *j);
void report_jobs_free(struct report_jobs *j);

/* ---- rebuild (rebuild.c) ---- */

struct report_rebuild;

struct report_rebuild *report_rebuild_new(const struct report_config *cfg);
/*
 * Starts a rebuild in the background: opens generation current+1, replays
 * every topic from the beginning into it, switches, deletes the old one.
 * 0; UTIL_ECONFLICT if one is running; UTIL_E* on failure to start.
 * *gen receives the generation being built.
 */
__attribute__((warn_unused_result)) int report_rebuild_start(struct report_rebuild *rb, int *gen,
							     char *err, size_t errlen);
/* Status as JSON (new reference). */
json_t *report_rebuild_status(struct report_rebuild *rb);
void report_rebuild_free(struct report_rebuild *rb);

/* ---- the application (app.c, routes.c) ---- */

struct db_pool;


struct report_app {
	const struct report_config *cfg;
	struct metrics_registry *reg;
	struct db_pool *pool;
	struct auth *auth;
	struct cache *cache;
	struct report_consumer *consumers[REPORT_MAX_CONSUMERS];
	struct report_flusher *flusher;
	struct report_jobs *jobs;
	struct report_rebuild *rebuild;
	struct http_server *http;
	pthread_mutex_t mu;
	int exports_running;
	struct metrics_counter *cache_hits;
	struct metrics_counter *cache_misses;
};

__attribute__((warn_unused_result)) int report_app_start(struct report_app *app,
							 const struct report_config *cfg, char *err,
							 size_t errlen);
int report_app_port(struct report_app *app);
void report_app_stop(struct report_app *app);

struct http_route;
/* Fills out with the service's routes; returns how many (0 if cap too small). */
size_t report_routes(struct report_app *app, struct http_route *out, size_t cap);

#endif
