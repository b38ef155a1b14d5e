/*
 * dlq.h - the consumer loop's dead-letter producer (internal): copies a
 * failed record with its headers to "<topic><suffix>" and adds the error
 * headers, waiting for the broker's acknowledgement.
 */
#ifndef KAFKA_DLQ_H
#define KAFKA_DLQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "kafka/producer.h"

struct kafka_dlq {
	struct kafka_producer *p;  /* rebuilt after a fatal error */
	char *brokers;
	char *client_id;
	char *suffix;
	int wait_ms;               /* how long one send waits for its report */
	uintptr_t seq;             /* the current send's number, its opaque */
	bool done;                 /* set by the current send's report */
	int err;
	char errstr[256];
};

/* Copies the settings and creates the producer: 0 or UTIL_E* with err set. */
__attribute__((warn_unused_result)) int kafka_dlq_init(struct kafka_dlq *d, const char *brokers,
						       const char *group, const char *suffix,
						       char *err, size_t errlen);
void kafka_dlq_release(struct kafka_dlq *d);

/*
 * One attempt: produces rkm (key, value, headers) to its DLQ topic with
 * simpul-error = error, simpul-error-count = count and the source headers,
 * then waits for the delivery report. 0 once acknowledged, else a UTIL_E*
 * code with the reason in err (the caller backs off and retries). Only this
 * send's own report counts: a late report of an earlier, timed-out send is
 * ignored (each send's opaque is its sequence number).
 */
__attribute__((warn_unused_result)) int kafka_dlq_send(struct kafka_dlq *d,
						       const rd_kafka_message_t *rkm,
						       const char *error, int count, char *err,
						       size_t errlen);

#endif
