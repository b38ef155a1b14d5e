/*
 * internal.h - helpers shared by the Kafka wrappers' source files (not
 * public): checked configuration, log/error routing into slog, error-code
 * mapping.
 */
#ifndef KAFKA_INTERNAL_H
#define KAFKA_INTERNAL_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "kafka/kafka.h"

/*
 * A new conf with bootstrap.servers, client.id and the slog log/error
 * callbacks set. NULL with err set on failure (e.g. empty brokers).
 */
rd_kafka_conf_t *kafka_conf_base(const char *brokers, const char *client_id, char *err,
				 size_t errlen);

/* rd_kafka_conf_set with its error string checked: 0 or UTIL_EINVAL. */
__attribute__((warn_unused_result)) int kafka_conf_put(rd_kafka_conf_t *conf, const char *key,
						       const char *value, char *err, size_t errlen);

/* Applies extra key/value pairs in order: 0 or UTIL_EINVAL. */
__attribute__((warn_unused_result)) int kafka_conf_extra(rd_kafka_conf_t *conf,
							 const struct kafka_kv *kv, size_t n,
							 char *err, size_t errlen);

/*
 * A plain client (no idempotence) for admin and metadata calls. conf-less
 * shortcut over kafka_conf_base + rd_kafka_new. NULL with err set.
 */
rd_kafka_t *kafka_client_new(const char *brokers, const char *client_id, char *err,
			     size_t errlen);

struct kafka_producer;
/*
 * Drops the producer's messages not yet sent to a broker (their delivery
 * reports, UTIL_EUNAVAIL, are served now); in-flight ones still report.
 */
void kafka__producer_purge_queue(struct kafka_producer *p);

/* Maps a librdkafka error to a UTIL_E* code (0 for NO_ERROR). */
int kafka_err_map(rd_kafka_resp_err_t e);

#endif
