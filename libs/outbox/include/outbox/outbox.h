/*
 * outbox/outbox.h - the transactional outbox shared by every service that
 * publishes events: an enqueue helper that writes an outbox row inside the
 * caller's transaction, and the relay that publishes one outbox table to
 * Kafka.
 *
 * Table shape (simpul.outbox in libs/schema 0001_core.sql; every outbox
 * table has these columns):
 *   id bigserial PRIMARY KEY, topic text NOT NULL, msg_key text,
 *   payload bytea NOT NULL, headers jsonb NOT NULL (object of strings),
 *   created_at timestamptz NOT NULL DEFAULT now(), sent_at timestamptz,
 *   plus an index on (id) WHERE sent_at IS NULL.
 *
 * Relay design: ONE active publisher per table across all processes. Each
 * relay holds a session advisory lock (pg_try_advisory_lock) on its own
 * connection, keyed by a hash of the table name; the holder publishes,
 * the others stand by and retry every standby_retry_ms, so when the leader's
 * session ends (exit, crash, lost connection) another one takes over.
 * We chose this over FOR UPDATE SKIP LOCKED (several relays sharing the
 * rows) because skip-locked workers publish neighbouring rows of one key
 * from different producers at the same time, so a key's events can reach
 * Kafka out of order; one leader with one idempotent producer reading in id
 * order keeps every key's order. One relay publishes thousands of rows per
 * second, more than any service here needs.
 *
 * A round reads the oldest unsent rows (ORDER BY id, up to batch rows and
 * max_round_bytes of payload), produces them with the idempotent producer
 * (acks=all) keyed by msg_key, waits for the delivery reports and marks the
 * acknowledged rows sent. A send or delivery failure ends the round; the
 * next round starts again from the oldest unsent row after error_pause_ms.
 * With Kafka down the rows stay unsent (the backlog gauge grows) and drain
 * when it returns; nothing is lost. A crash or lost database connection
 * between the broker's ack and the UPDATE publishes those rows again, and
 * a failure in the middle of a round whose later rows of the same key were
 * acknowledged republishes the failed row after them: consumers dedupe by
 * the simpul-event-id header, as the delivery rules require anyway.
 * A row Kafka rejects for good (unknown topic, record too large) blocks
 * the table until an operator fixes it: it is logged and counted as a
 * failure every round, never skipped silently.
 *
 * Sent rows are deleted after retention_ms by the leader, in batches.
 *
 * Metrics (when reg is given), named after metrics_prefix P:
 *   P_outbox_backlog            gauge, rows not yet published
 *   P_relay_published_total     counter, rows published and marked sent
 *   P_relay_failures_total      counter, rounds that had a failure
 * (metrics_*_new is get-or-create, so a service may also create them
 * itself). Or, without reg, the caller hands in metrics it already made.
 */
#ifndef OUTBOX_OUTBOX_H
#define OUTBOX_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>
#include <simpul/v1/meta.pb-c.h>

#include "kafka/kafka.h"

struct db_conn;
struct metrics_registry;
struct metrics_gauge;
struct metrics_counter;

#define OUTBOX_TABLE_MAX 127      /* "schema.table", bytes */
#define OUTBOX_MAX_HEADERS 32     /* headers per row (further ones are refused / ignored) */

/*
 * True if table is a schema-qualified name "schema.table" whose parts match
 * [a-z_][a-z0-9_]* (it is put into SQL text, hence the strict check).
 */
bool outbox_table_valid(const char *table);

/*
 * Inserts one outbox row into table within the caller's OPEN transaction
 * on db (between db_begin and db_commit), so the row commits or rolls back
 * with the caller's own writes. topic: a Kafka topic name; key: the message
 * key (content/KIM id), may be NULL; payload/len: the packed protobuf bytes
 * (sent as a binary parameter, len may be 0); h/nh: the simpul-* headers,
 * values must be valid UTF-8 without NUL bytes (stored as a JSON object;
 * a repeated name keeps the last value), nh <= OUTBOX_MAX_HEADERS.
 * Everything is borrowed for the call. *id (may be NULL) receives the row id.
 * Returns 0; UTIL_EINVAL (bad table/topic/header, or no open transaction);
 * UTIL_ENOMEM; or db_exec's error (UTIL_EUNAVAIL, UTIL_EIO...) with err set.
 * A failed insert leaves the transaction aborted, as any failed statement.
 * The relay is not woken: call outbox_relay_wake after the commit.
 */
__attribute__((warn_unused_result)) int
outbox_enqueue(struct db_conn *db, const char *table, const char *topic, const char *key,
	       const void *payload, size_t len, const struct kafka_header *h, size_t nh,
	       int64_t *id, char *err, size_t errlen);

/*
 * Convenience for events: packs msg (whose field 1 is meta; capped at
 * EVENTS_MAX_PACKED) and enqueues it with the five envelope headers made
 * from meta (events_headers_from_meta). Same contract and errors as
 * outbox_enqueue, plus UTIL_ETOOBIG when the packed event is too big.
 */
__attribute__((warn_unused_result)) int
outbox_enqueue_event(struct db_conn *db, const char *table, const char *topic, const char *key,
		     const ProtobufCMessage *msg, const Simpul__V1__EventMeta *meta, int64_t *id,
		     char *err, size_t errlen);

struct outbox_relay_config {
	const char *pg_url;           /* required; the relay opens its own connection */
	const char *brokers;          /* required */
	const char *table;            /* required, e.g. "simpul.outbox" */
	const char *metrics_prefix;   /* e.g. "ingest"; required when reg is set */
	struct metrics_registry *reg; /* NULL: no metrics, or the three below */
	struct metrics_gauge *backlog_gauge;        /* used when reg is NULL; may be NULL */
	struct metrics_counter *published_counter;  /* idem; borrowed, must outlive the relay */
	struct metrics_counter *failures_counter;   /* idem */
	const char *client_id;        /* NULL: "simpul-outbox-relay" (also application_name) */
	int64_t lock_key;             /* 0: derived from the table name (outbox_lock_key) */
	int64_t retention_ms;         /* sent rows deleted after; 0: 1 day; < 0: never */
	int batch;                    /* rows per round; 0: 1000 */
	int64_t max_round_bytes;      /* payload bytes per round (>= 1 row); 0: 16 MiB */
	int idle_ms;                  /* poll interval when idle; 0: 100 */
	int error_pause_ms;           /* pause after a failed round; 0: 1000 */
	int standby_retry_ms;         /* standby: lock attempt interval; 0: 1000 */
	int message_timeout_ms;       /* producer message.timeout.ms; 0: 15000 */
	int linger_ms;                /* producer linger.ms; 0: the producer's default */
	const struct kafka_kv *extra; /* extra producer properties (tests) */
	size_t nextra;
};

/* What the relay has done since it was created (for tests and /readyz). */
struct outbox_relay_stats {
	bool leader;            /* holds the table's lock now */
	bool db_up;             /* last database call worked */
	bool kafka_ok;          /* last round had no send/delivery failure */
	uint64_t published;     /* rows acknowledged and marked sent */
	uint64_t failed_rounds;
	uint64_t pruned;        /* sent rows deleted */
	int64_t backlog;        /* unsent rows at the last count, -1 before the first */
};

struct outbox_relay;

/* The advisory lock key a relay of table uses by default (positive, stable
 * across processes and versions: SHA-256 of "simpul-outbox:" + table). */
int64_t outbox_lock_key(const char *table);

/*
 * Creates a relay (not started): validates cfg (UTIL_EINVAL-style message
 * in err), creates its producer and its database connection (which may be
 * down: it retries). cfg and its strings are copied. Returns NULL with err
 * set on a bad config or ENOMEM. Free with outbox_relay_free.
 */
struct outbox_relay *outbox_relay_new(const struct outbox_relay_config *cfg, char *err,
				      size_t errlen);

/* Starts the relay thread. 0 or UTIL_EIO. Call once. */
__attribute__((warn_unused_result)) int outbox_relay_start(struct outbox_relay *r);

/* New rows were committed: start a round now instead of at the next poll.
 * Any thread; NULL is a no-op. A standby ignores it (it polls the lock). */
void outbox_relay_wake(struct outbox_relay *r);

/*
 * Graceful stop: the leader keeps publishing until the table has no unsent
 * rows or grace_ms has passed, waits for the delivery reports of what it sent
 * (within the same deadline), marks them sent, then the thread exits and
 * the lock is released when the connection closes (outbox_relay_free).
 * Unpublished rows stay for the next relay. A standby stops at once.
 * Idempotent; NULL or a relay never started is a no-op.
 */
void outbox_relay_stop(struct outbox_relay *r, int64_t grace_ms);

/* Stops (grace 0) if needed, then frees everything. NULL is a no-op. The
 * producer's own destructor may wait for messages still in flight. */
void outbox_relay_free(struct outbox_relay *r);

/*
 * Readiness detail for /readyz, any thread: asks the brokers (up to
 * timeout_ms) and writes e.g. "leader backlog=12", "standby",
 * "kafka unreachable (leader backlog=40)" or "database unreachable
 * (standby)" into detail. Returns true when Kafka answered (the database
 * is the service's own readiness check; its state is only in detail).
 */
bool outbox_relay_ready(struct outbox_relay *r, int timeout_ms, char *detail, size_t len);

/* Copies the current stats; any thread. */
void outbox_relay_stats(struct outbox_relay *r, struct outbox_relay_stats *out);

#endif
