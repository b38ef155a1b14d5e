/*
 * kafka/kafka.h - types shared by the Kafka wrappers (librdkafka 2.0.2):
 * headers, extra configuration pairs, the message a consumer handler sees,
 * and a broker reachability check.
 *
 * Producer: kafka/producer.h. Consumer loop: kafka/consumer.h.
 * Topic creation, deletion, listing and consumer lag: kafka/admin.h.
 * Every function logs through slog; librdkafka's own log and error
 * callbacks are routed into slog as well ("kafka" in the msg).
 */
#ifndef KAFKA_KAFKA_H
#define KAFKA_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One Kafka record header. Borrowed: name and value stay owned by the caller. */
struct kafka_header {
	const char *name;    /* NUL-terminated, e.g. "simpul-event-id" */
	const void *value;   /* may be NULL when len == 0 */
	size_t len;
};

/* One extra librdkafka property ("key" = "value"), applied after the
 * wrapper's own settings, so it can override them (tests use this). */
struct kafka_kv {
	const char *key;
	const char *value;
};

/* Maximum number of headers a consumed message exposes through
 * struct kafka_message (further ones are still copied to a DLQ). */
#define KAFKA_MESSAGE_MAX_HEADERS 32

/*
 * A consumed message as handed to a kafka_handle_fn. Everything is borrowed
 * and valid only during the handler call: copy what you keep.
 */
struct kafka_message {
	const char *topic;
	int32_t partition;
	int64_t offset;
	const void *key;       /* NULL when the record has no key */
	size_t key_len;
	const void *value;     /* NULL for a tombstone */
	size_t value_len;
	int64_t timestamp_ms;  /* record timestamp, -1 if none */
	int attempt;           /* 1 on first delivery to the handler, then 2, 3... */
	const struct kafka_header *headers; /* first KAFKA_MESSAGE_MAX_HEADERS */
	size_t nheaders;
};

/*
 * Looks up the LAST header called name (Kafka allows duplicates). On success
 * sets *value and *len (borrowed from m) and returns true; false if absent.
 */
bool kafka_message_header(const struct kafka_message *m, const char *name, const void **value,
			  size_t *len);

/*
 * Copies header name's value as a NUL-terminated string into out (outlen
 * bytes). Returns 0, UTIL_ENOTFOUND (absent) or UTIL_ETOOBIG (does not fit,
 * or contains a NUL byte: UTIL_EINVAL).
 */
__attribute__((warn_unused_result)) int kafka_message_header_str(const struct kafka_message *m,
								 const char *name, char *out,
								 size_t outlen);

/*
 * Asks the brokers for cluster metadata within timeout_ms.
 * Returns 0 when at least one broker answered, UTIL_EUNAVAIL otherwise,
 * UTIL_EINVAL on a bad broker list. For /readyz and tests.
 */
__attribute__((warn_unused_result)) int kafka_ping(const char *brokers, int timeout_ms, char *err,
						   size_t errlen);

#endif
