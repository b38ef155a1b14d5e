/*
 * kafka/consumer.h - an at-least-once consumer loop with retries and a
 * dead-letter topic.
 *
 * The loop polls one message at a time (rd_kafka_consumer_poll), calls the
 * handler, and stores the offset only after the handler returned 0 (its side
 * effect is durable) or after the message was acknowledged on its DLQ.
 * Stored offsets are committed automatically every second, on partition revoke
 * and on stop. So a crash re-delivers at most the uncommitted tail: make
 * every handler idempotent (dedupe by event id).
 *
 * Handler return values:
 *   0              done; the offset is stored.
 *   UTIL_EUNAVAIL  a dependency is down: the SAME message is retried forever
 *                  with capped exponential backoff (never DLQ'd for an
 *                  outage). The partitions are paused meanwhile so the group
 *                  membership stays alive; the stop flag is checked.
 *   UTIL_EINVAL    poison: the message goes straight to "<topic>.dlq".
 *   other negative retried up to max_retries times with backoff, then DLQ.
 * The DLQ record keeps key, value and original headers and adds
 * simpul-error (the handler's err text), simpul-error-count (attempts),
 * simpul-source-topic, simpul-source-partition and simpul-source-offset.
 * If the DLQ produce fails (Kafka trouble), it is retried until it works or
 * the loop is stopped; the offset is never stored before the DLQ ack.
 *
 * Batch mode (optional, cfg.handle_batch set): the loop gathers up to
 * batch_max messages (the first poll waits up to 100 ms, then it keeps
 * polling until batch_max messages or batch_wait_ms after the first one),
 * calls handle_batch ONCE for all of them, and stores every offset (per
 * partition the highest + 1) only after it returned 0. Gathering uses
 * rd_kafka_consumer_poll, not rd_kafka_consume_batch_queue: in librdkafka
 * 2.0.x the latter waits for a full batch and has known bugs under
 * pause/seek/rebalance, which the retry path uses. If handle_batch fails
 * (any non-zero return), nothing of the batch is stored and the loop falls
 * back to handle() for each message of that batch, in order, with the exact
 * single-message guarantees above (retries, UTIL_EUNAVAIL pause and backoff,
 * poison to the DLQ); so handle_batch must leave nothing durable when it
 * fails (one transaction, rolled back) or be harmless to repeat (idempotent).
 * Messages of partitions revoked while the batch was gathered or handled are
 * dropped unstored (their new owner gets them). A consumer error event ends
 * the gathering (a fatal one drops the batch unstored and ends the loop); the
 * stop flag ends the gathering and the batch in hand is still handled (or,
 * in a fallback, the loop stops after the current message).
 */
#ifndef KAFKA_CONSUMER_H
#define KAFKA_CONSUMER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "kafka/kafka.h"

/*
 * Processes one message. m and everything it points to are borrowed for the
 * call. On failure, write a short lowercase reason into err (it becomes the
 * simpul-error header of a DLQ record) and return a negative UTIL_E* code.
 */
typedef int (*kafka_handle_fn)(void *ud, const struct kafka_message *m, char *err,
			       size_t errlen);

/*
 * Processes msgs[0..n) (n >= 1, in consumption order; per partition in offset
 * order) as one unit, e.g. in ONE PostgreSQL transaction. Everything is
 * borrowed for the call (attempt is 1). Return 0 only when the side effects
 * of all n messages are durable; any other return (with a short reason in
 * err, logged) makes the loop redo the batch message by message through
 * kafka_handle_fn, so a failure must leave nothing durable or be idempotent.
 */
typedef int (*kafka_batch_fn)(void *ud, const struct kafka_message *msgs, size_t n, char *err,
			      size_t errlen);

struct kafka_consumer_config {
	const char *brokers;             /* required */
	const char *group_id;            /* required, e.g. "simpul-moderate" */
	const char *client_id;           /* NULL: the group id */
	const char *const *topics;       /* required, ntopics >= 1; must exist */
	size_t ntopics;
	kafka_handle_fn handle;          /* required (also the batch fallback) */
	kafka_batch_fn handle_batch;     /* NULL: one message at a time */
	int batch_max;                   /* messages per batch; 0: 500; capped at 10000 */
	int batch_wait_ms;               /* gather wait after the first message;
					    0: 10; <0: only what is already fetched */
	void *ud;                        /* passed to handle and handle_batch */
	int max_retries;                 /* retries for "other" errors; <0: 0; 0: default 3 */
	int backoff_initial_ms;          /* 0: 200 */
	int backoff_max_ms;              /* 0: 10000 */
	const char *dlq_suffix;          /* NULL: ".dlq" */
	const struct kafka_kv *extra;    /* extra consumer properties (e.g. session.timeout.ms) */
	size_t nextra;
};

/* Counters since creation, for metrics and tests. */
struct kafka_consumer_stats {
	uint64_t processed;   /* handler returned 0 */
	uint64_t retried;     /* handler calls that were retries */
	uint64_t dead_lettered;
	uint64_t errors;      /* consumer errors reported by librdkafka */
	uint64_t batches;     /* handle_batch returned 0 */
	uint64_t batch_fallbacks; /* handle_batch failed: redone one by one */
};

struct kafka_consumer;

/*
 * Creates the consumer (and its internal idempotent DLQ producer) and
 * subscribes to the topics. New groups start at the earliest offset.
 * Returns NULL with err set on a bad config. The config is copied.
 * Free with kafka_consumer_free().
 */
struct kafka_consumer *kafka_consumer_new(const struct kafka_consumer_config *cfg, char *err,
					  size_t errlen);

/*
 * Runs the loop on the calling thread until *stop becomes non-zero (e.g. set
 * by a SIGTERM handler). On stop it finishes the current message (a retry
 * wait is cut short and that message is left uncommitted, to be re-delivered),
 * commits the stored offsets and closes the consumer (leaving the group).
 * Returns 0 after a clean drain, or UTIL_EIO (err set) on a fatal consumer
 * error (e.g. a fenced static member), noticed at once, also during a retry
 * wait or a DLQ backoff; the message in hand is then left uncommitted. The
 * consumer is closed in both cases (after a fatal error librdkafka cannot
 * leave the group cleanly: the broker drops the member at its session
 * timeout). The owner should exit (or rebuild the consumer). Run it once.
 */
__attribute__((warn_unused_result)) int kafka_consumer_run(struct kafka_consumer *c,
							   volatile sig_atomic_t *stop, char *err,
							   size_t errlen);

/* Copies the counters; safe to call from another thread (racy but atomic per field). */
void kafka_consumer_stats(struct kafka_consumer *c, struct kafka_consumer_stats *out);

/* Closes (if run did not) and destroys the consumer. NULL is a no-op. */
void kafka_consumer_free(struct kafka_consumer *c);

#endif
