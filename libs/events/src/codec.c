/*
 * codec.c - protobuf-c pack into a capped util_buf, and unpack that turns
 * malformed input into an error.
 */
#include <stdint.h>

#include "events/codec.h"
#include "util/err.h"

/* A ProtobufCBuffer appending to a util_buf, remembering the first failure. */
struct buf_sink {
	ProtobufCBuffer base;
	struct util_buf *out;
	int rc;
};

static void sink_append(ProtobufCBuffer *b, size_t len, const uint8_t *data)
{
	struct buf_sink *s = (struct buf_sink *)b;

	if (s->rc == 0)
		s->rc = util_buf_append(s->out, data, len);
}

int events_pack(const ProtobufCMessage *msg, size_t cap, struct util_buf *out, char *err,
		size_t errlen)
{
	struct buf_sink sink = { .base = { .append = sink_append }, .out = out, .rc = 0 };
	size_t size, before;

	if (!msg || !out)
		return util_err_set(err, errlen, UTIL_EINVAL, "pack: null message or buffer");
	if (cap == 0)
		cap = EVENTS_MAX_PACKED;
	size = protobuf_c_message_get_packed_size(msg);
	if (size > cap)
		return util_err_set(err, errlen, UTIL_ETOOBIG, "%s: %zu bytes packed, limit %zu",
				    msg->descriptor->name, size, cap);
	before = out->len;
	if (out->cap && before + size > out->cap)
		return util_err_set(err, errlen, UTIL_ETOOBIG, "%s: %zu bytes exceed the buffer",
				    msg->descriptor->name, size);
	protobuf_c_message_pack_to_buffer(msg, &sink.base);
	if (sink.rc) {
		out->len = before; /* undo a partial write */
		if (out->data)
			out->data[before] = '\0';
		return util_err_set(err, errlen, sink.rc, "%s: pack failed",
				    msg->descriptor->name);
	}
	return 0;
}

ProtobufCMessage *events_unpack(const ProtobufCMessageDescriptor *desc, const void *data,
				size_t len, size_t cap, char *err, size_t errlen)
{
	ProtobufCMessage *m;

	if (!desc || (len && !data)) {
		util_err_set(err, errlen, UTIL_EINVAL, "unpack: null descriptor or data");
		return NULL;
	}
	if (cap == 0)
		cap = EVENTS_MAX_PACKED;
	if (len > cap) {
		util_err_set(err, errlen, UTIL_ETOOBIG, "%s: %zu bytes, limit %zu", desc->name,
			     len, cap);
		return NULL;
	}
	m = protobuf_c_message_unpack(desc, NULL, len, len ? data : (const void *)"");
	if (!m)
		util_err_set(err, errlen, UTIL_EINVAL, "%s: malformed protobuf (%zu bytes)",
			     desc->name, len);
	return m;
}
