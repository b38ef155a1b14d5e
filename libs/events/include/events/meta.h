/*
 * events/meta.h - the event envelope (simpul.v1.EventMeta) every event
 * carries, and its copy in Kafka headers:
 *   simpul-event-id, simpul-event-type, simpul-occurred-at (decimal epoch ms),
 *   simpul-producer, simpul-trace-id.
 */
#ifndef EVENTS_META_H
#define EVENTS_META_H

#include <stddef.h>
#include <stdint.h>

#include <simpul/v1/meta.pb-c.h>

#include "kafka/kafka.h"
#include "util/ids.h"

#define EVENTS_HEADER_EVENT_ID "simpul-event-id"
#define EVENTS_HEADER_EVENT_TYPE "simpul-event-type"
#define EVENTS_HEADER_OCCURRED_AT "simpul-occurred-at"
#define EVENTS_HEADER_PRODUCER "simpul-producer"
#define EVENTS_HEADER_TRACE_ID "simpul-trace-id"
/* Added by the consumer loop on dead-letter records. */
#define EVENTS_HEADER_ERROR "simpul-error"
#define EVENTS_HEADER_ERROR_COUNT "simpul-error-count"
#define EVENTS_HEADER_SOURCE_TOPIC "simpul-source-topic"
#define EVENTS_HEADER_SOURCE_PARTITION "simpul-source-partition"
#define EVENTS_HEADER_SOURCE_OFFSET "simpul-source-offset"

#define EVENTS_HEADER_COUNT 5
#define EVENTS_TYPE_MAX 63      /* longest event type, bytes */
#define EVENTS_PRODUCER_MAX 127 /* longest producer ("<service>@<host>") */
#define EVENTS_TRACE_MAX 64     /* longest trace id */

/*
 * An EventMeta together with the storage of its strings. meta's string
 * pointers point into this struct: do not copy it by value (use
 * events_meta_copy), and it needs no release.
 */
struct events_meta_buf {
	Simpul__V1__EventMeta meta;
	char id[UTIL_UUID_STRLEN + 1];
	char type[EVENTS_TYPE_MAX + 1];
	char producer[EVENTS_PRODUCER_MAX + 1];
	char trace_id[EVENTS_TRACE_MAX + 1];
};

/*
 * Fills mb for a new event: a fresh UUID v4 id, occurred_at_ms = now, type
 * (e.g. "content.submitted") and producer (e.g. "ingest@host") copied, and
 * trace_id copied or, when NULL or "", a new one generated.
 * Returns 0 or UTIL_EINVAL (empty/over-long type or producer, or a trace id
 * with characters outside [0-9A-Za-z-_] or longer than EVENTS_TRACE_MAX).
 */
__attribute__((warn_unused_result)) int events_meta_init(struct events_meta_buf *mb,
							 const char *type, const char *producer,
							 const char *trace_id, char *err,
							 size_t errlen);

/*
 * Copies src (e.g. from an unpacked message, or another buffer) into mb,
 * validating it like events_meta_validate. 0 or UTIL_EINVAL.
 */
__attribute__((warn_unused_result)) int events_meta_copy(struct events_meta_buf *mb,
							 const Simpul__V1__EventMeta *src,
							 char *err, size_t errlen);

/*
 * Checks a received envelope: present, id a UUID, type and producer
 * non-empty and within limits, occurred_at_ms > 0, trace id well-formed.
 * 0 or UTIL_EINVAL naming the field ("meta.id: not a uuid").
 */
__attribute__((warn_unused_result)) int events_meta_validate(const Simpul__V1__EventMeta *meta,
							     char *err, size_t errlen);

/*
 * The five envelope headers of meta, ready for kafka_producer_send(h, nh).
 * Names are static; values borrow meta's strings and occurred_at (this
 * struct): keep both alive until the send call returned.
 */
struct events_headers {
	struct kafka_header h[EVENTS_HEADER_COUNT];
	char occurred_at[24];
};

/* Fills hs from meta (which must be valid). Returns EVENTS_HEADER_COUNT. */
size_t events_headers_from_meta(struct events_headers *hs, const Simpul__V1__EventMeta *meta);

/*
 * Reads the five envelope headers of a consumed message into mb and
 * validates them. Returns 0 or UTIL_EINVAL when a header is missing or
 * malformed, naming the header in err ("missing" / "malformed"). A missing
 * header is poison too: the consumer loop dead-letters UTIL_EINVAL at once.
 */
__attribute__((warn_unused_result)) int events_meta_from_headers(struct events_meta_buf *mb,
								 const struct kafka_message *m,
								 char *err, size_t errlen);

#endif
