/*
 * events/codec.h - protobuf-c packing into capped buffers, and unpacking
 * that rejects garbage with an error instead of crashing.
 */
#ifndef EVENTS_CODEC_H
#define EVENTS_CODEC_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include "util/buf.h"

/* Default cap for one packed event: 1 MiB (Kafka's default record limit). */
#define EVENTS_MAX_PACKED (1024 * 1024)

/*
 * Appends msg's wire encoding to out. Fails with UTIL_ETOOBIG when the
 * packed size exceeds cap (0: EVENTS_MAX_PACKED) or out's own cap (out is
 * then unchanged), UTIL_ENOMEM on allocation failure, UTIL_EINVAL on NULL.
 */
__attribute__((warn_unused_result)) int events_pack(const ProtobufCMessage *msg, size_t cap,
						    struct util_buf *out, char *err,
						    size_t errlen);

/*
 * Decodes len bytes of data as a desc message. Returns the message (free it
 * with protobuf_c_message_free_unpacked(msg, NULL)) or NULL with err set when
 * len exceeds cap (0: EVENTS_MAX_PACKED) or the bytes are not a valid
 * encoding. data may be NULL when len is 0. Never aborts on bad input.
 * Typical use:
 *   Simpul__V1__ContentSubmitted *cs = (Simpul__V1__ContentSubmitted *)
 *       events_unpack(&simpul__v1__content_submitted__descriptor, p, n, 0, err, sizeof err);
 */
ProtobufCMessage *events_unpack(const ProtobufCMessageDescriptor *desc, const void *data,
				size_t len, size_t cap, char *err, size_t errlen);

#endif
