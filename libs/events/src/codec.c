/*
 * codec.c - protobuf-c pack into a capped util_buf, and unpack that turns
 * malformed input into an error.
 */
#include <stdbool.h>
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

/*
 * libprotobuf-c keeps an unknown field numbered 0 when its tag is over-long
 * (e.g. 0x80 0x00), though numbers start at 1; such a message cannot be
 * decoded again once re-packed (found by tests/fuzz/proto_fuzz). True if m
 * or any message inside it holds one.
 */
static bool has_field_zero(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	for (size_t i = 0; i < m->n_unknown_fields; i++)
		if (m->unknown_fields[i].tag == 0)
			return true;
	for (unsigned f = 0; f < d->n_fields; f++) {
		const ProtobufCFieldDescriptor *fd = &d->fields[f];
		const char *at = (const char *)m + fd->offset;

		if (fd->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if ((fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)((const char *)m + fd->quantifier_offset) != fd->id)
			continue; /* another member of the oneof is set */
		if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)((const char *)m + fd->quantifier_offset);
			ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *)at;

			for (size_t k = 0; k < n; k++)
				if (v[k] && has_field_zero(v[k]))
					return true;
		} else {
			const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)at;

			if (sub && has_field_zero(sub))
				return true;
		}
	}
	return false;
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
	if (!m) {
		util_err_set(err, errlen, UTIL_EINVAL, "%s: malformed protobuf (%zu bytes)",
			     desc->name, len);
		return NULL;
	}
	if (has_field_zero(m)) {
		protobuf_c_message_free_unpacked(m, NULL);
		util_err_set(err, errlen, UTIL_EINVAL, "%s: field number 0 (%zu bytes)",
			     desc->name, len);
		return NULL;
	}
	return m;
}
