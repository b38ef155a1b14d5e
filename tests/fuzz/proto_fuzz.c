/*
 * tests/fuzz/proto_fuzz.c - libFuzzer harness for the protobuf decoding of
 * every topic's messages (proto/simpul/v1, through libs/events'
 * events_unpack), and of the two snapshots stored in PostgreSQL and decoded
 * by moderate (Content, Kim).
 *
 * Input: the first byte picks the message type (mod the table size), the
 * rest is the wire encoding. For each decoded message: the protobuf-c
 * structure check, the envelope check (events_meta_validate) when it has a
 * meta, a re-pack and re-decode that must give the same encoding again, and
 * for kim.intake.v1 the consumer's own validation step (the submission
 * view checked by ingest_submission_check, as services/ingest/intake.c
 * does before anything touches the database).
 */
#include <string.h>

#include <simpul/v1/content.pb-c.h>
#include <simpul/v1/intake.pb-c.h>
#include <simpul/v1/moderation.pb-c.h>
#include <simpul/v1/notification.pb-c.h>
#include <simpul/v1/registry.pb-c.h>
#include <simpul/v1/report.pb-c.h>

#include "events/codec.h"
#include "events/meta.h"
#include "fuzz_check.h"
#include "ingest.h"
#include "util/buf.h"

static const ProtobufCMessageDescriptor *const descs[] = {
	&simpul__v1__intake_submission__descriptor,     /* kim.intake.v1 */
	&simpul__v1__content_submitted__descriptor,     /* kim.content.submitted.v1 */
	&simpul__v1__registry_event__descriptor,        /* kim.registry.v1 */
	&simpul__v1__content_moderated__descriptor,     /* kim.content.moderated.v1 */
	&simpul__v1__content_published__descriptor,     /* kim.content.published.v1 */
	&simpul__v1__moderation_feedback__descriptor,   /* kim.moderation.feedback.v1 */
	&simpul__v1__content_indexed__descriptor,       /* kim.content.indexed.v1 */
	&simpul__v1__notification_delivery__descriptor, /* kim.notification.v1 */
	&simpul__v1__region_daily__descriptor,          /* kim.report.region-daily.v1 */
	&simpul__v1__kim_activity__descriptor,          /* kim.report.kim-activity.v1 */
	&simpul__v1__content__descriptor,               /* content snapshot (moderate) */
	&simpul__v1__kim__descriptor,                   /* kim snapshot (moderate) */
};
#define NDESCS (sizeof(descs) / sizeof(descs[0]))

static char *nonempty(char *s)
{
	return s && s[0] ? s : NULL;
}

/* The intake consumer's validation of a decoded IntakeSubmission. */
static void intake_check(const Simpul__V1__IntakeSubmission *msg)
{
	struct submission s = {
		.type = (int)msg->type,
		.title = nonempty(msg->title),
		.body = msg->body,
		.region_code = nonempty(msg->region_code),
		.kim_id = nonempty(msg->kim_id),
		.tags = msg->tags,
		.ntags = msg->n_tags,
		.media_urls = msg->media_urls,
		.nmedia = msg->n_media_urls,
	};
	struct ingest_verr e;

	memset(&e, 0, sizeof(e));
	if (ingest_submission_check(&s, &e) != 0)
		FUZZ_CHECK(e.status == 422 && e.code[0], "an intake rejection is a 422 with a code");
	else
		FUZZ_CHECK(ingest_content_type_name(s.type) && s.title && s.region_code,
			   "an accepted intake message is complete");
}

/* The envelope, when the message type has one. */
static void meta_check(const ProtobufCMessage *m)
{
	const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(
		m->descriptor, "meta");
	const Simpul__V1__EventMeta *meta;
	struct events_meta_buf mb;
	char err[160];

	if (!f)
		return;
	meta = *(const Simpul__V1__EventMeta *const *)((const char *)m + f->offset);
	if (events_meta_validate(meta, err, sizeof(err)) != 0)
		return;
	FUZZ_CHECK(events_meta_copy(&mb, meta, err, sizeof(err)) == 0,
		   "a valid envelope can be copied");
	FUZZ_CHECK(strcmp(mb.meta.id, meta->id) == 0, "the copy keeps the id");
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const ProtobufCMessageDescriptor *d;
	ProtobufCMessage *m, *again;
	struct util_buf b1, b2;
	char err[160];

	if (size < 1)
		return 0;
	d = descs[data[0] % NDESCS];
	m = events_unpack(d, data + 1, size - 1, 0, err, sizeof(err));
	if (!m) {
		FUZZ_CHECK(err[0] != '\0', "a decode failure says why");
		return 0;
	}
	FUZZ_CHECK(protobuf_c_message_check(m), "a decoded message is well formed");
	meta_check(m);
	if (d == &simpul__v1__intake_submission__descriptor)
		intake_check((const Simpul__V1__IntakeSubmission *)m);
	util_buf_init(&b1, 0);
	util_buf_init(&b2, 0);
	FUZZ_CHECK(events_pack(m, 0, &b1, err, sizeof(err)) == 0, "a decoded message re-packs");
	again = events_unpack(d, b1.data, b1.len, 0, err, sizeof(err));
	FUZZ_CHECK(again != NULL, "a re-packed message decodes");
	FUZZ_CHECK(events_pack(again, 0, &b2, err, sizeof(err)) == 0, "and packs again");
	FUZZ_CHECK(b1.len == b2.len && (b1.len == 0 || memcmp(b1.data, b2.data, b1.len) == 0),
		   "re-encoding is stable");
	protobuf_c_message_free_unpacked(again, NULL);
	protobuf_c_message_free_unpacked(m, NULL);
	util_buf_release(&b1);
	util_buf_release(&b2);
	return 0;
}
