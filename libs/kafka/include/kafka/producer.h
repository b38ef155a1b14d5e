/*
 * kafka/producer.h - an idempotent Kafka producer (acks=all) with a
 * per-message delivery report.
 *
 * Settings: enable.idempotence=true, acks=all, linger.ms=5,
 * compression.type=lz4, message.timeout.ms from the config (default 30 s).
 * The delivery report callback runs on the thread that calls
 * kafka_producer_poll() or kafka_producer_flush(): call poll regularly.
 * kafka_producer_send() may be called from any thread.
 *
 * The idempotent producer can hit a fatal error (e.g. sequence gaps); then
 * every send fails with UTIL_EIO and kafka_producer_fatal() reports it: the
 * owner should free the producer and build a new one (messages that were
 * in flight get a failed delivery report on free, so the outbox resends).
 */
#ifndef KAFKA_PRODUCER_H
#define KAFKA_PRODUCER_H

#include <stdbool.h>
#include <stddef.h>

#include "kafka/kafka.h"

/*
 * Called once per message sent with kafka_producer_send():
 *   ud          the config's ud;
 *   msg_opaque  the opaque given to kafka_producer_send (e.g. an outbox row id);
 *   err         0 when the broker acknowledged it (acks=all), else
 *               UTIL_ETIMEOUT (message.timeout.ms passed, e.g. Kafka down),
 *               UTIL_ETOOBIG (record too large), UTIL_ENOTFOUND (unknown topic),
 *               UTIL_EUNAVAIL (purged on free/ brokers down), UTIL_EIO (other);
 *   errstr      librdkafka's message, "" on success; valid during the call.
 */
typedef void (*kafka_delivery_fn)(void *ud, void *msg_opaque, int err, const char *errstr);

struct kafka_producer_config {
	const char *brokers;          /* required, e.g. "127.0.0.1:59092" */
	const char *client_id;        /* NULL: "simpul" */
	int linger_ms;                /* 0: 5 */
	int message_timeout_ms;       /* 0: 30000; how long a message may wait for Kafka */
	kafka_delivery_fn on_delivery; /* may be NULL */
	void *ud;                     /* passed to on_delivery */
	const struct kafka_kv *extra; /* optional extra librdkafka properties */
	size_t nextra;
};

struct kafka_producer;

/*
 * Creates a producer. Every librdkafka property is checked; a bad one gives
 * NULL with the property and reason in err. The config and its strings are
 * copied (the caller keeps them). Free with kafka_producer_free().
 */
struct kafka_producer *kafka_producer_new(const struct kafka_producer_config *cfg, char *err,
					  size_t errlen);

/*
 * Enqueues one record. key/value/headers are copied (the caller keeps them).
 * key may be NULL (keylen 0); value may be NULL (a tombstone). The partition
 * comes from the key (murmur2_random, the Java client's partitioner).
 * Returns 0 (the delivery report will follow), UTIL_EUNAVAIL (local queue
 * full: poll and retry), UTIL_ETOOBIG (record over message.max.bytes),
 * UTIL_ENOTFOUND (topic known not to exist), UTIL_EIO (fatal error, see
 * kafka_producer_fatal) or UTIL_EINVAL (bad arguments). On a non-zero return
 * no delivery report is made for this message.
 */
__attribute__((warn_unused_result)) int
kafka_producer_send(struct kafka_producer *p, const char *topic, const void *key, size_t keylen,
		    const void *value, size_t vlen, const struct kafka_header *h, size_t nh,
		    void *opaque);

/* Serves delivery reports and errors, waiting up to timeout_ms (0: no wait).
 * Returns the number of events served. */
int kafka_producer_poll(struct kafka_producer *p, int timeout_ms);

/* Waits until every queued message got its delivery report.
 * Returns 0, or UTIL_ETIMEOUT when messages are still outstanding. */
__attribute__((warn_unused_result)) int kafka_producer_flush(struct kafka_producer *p,
							     int timeout_ms);

/* Messages queued or in flight (not yet reported). */
int kafka_producer_outq_len(struct kafka_producer *p);

/*
 * True if the producer hit a fatal error; its description goes into errbuf
 * (if non-NULL). The producer is then useless: free it and make a new one.
 */
bool kafka_producer_fatal(struct kafka_producer *p, char *errbuf, size_t errlen);

/* True if a broker answered a metadata request within timeout_ms and the
 * producer is not fatal. For /readyz. */
bool kafka_producer_ready(struct kafka_producer *p, int timeout_ms);

/*
 * Flushes for up to 10 s, then purges what is left (those messages get a
 * UTIL_EUNAVAIL delivery report during this call) and destroys the producer.
 * NULL is a no-op.
 */
void kafka_producer_free(struct kafka_producer *p);

#endif
