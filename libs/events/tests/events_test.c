/*
 * events_test.c - unit tests of libs/events: topic table, envelope fill,
 * header round trip, pack/unpack and rejection of garbage.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <simpul/v1/content.pb-c.h>

#include "events/codec.h"
#include "events/meta.h"
#include "events/topics.h"
#include "util/err.h"

static void test_topic_table(void **state)
{
	struct kafka_topic_spec specs[32];
	size_t n = events_topic_specs(NULL, 0, 1);
	const struct events_topic *t;

	(void)state;
	assert_int_equal(events_topics_count, 10);
	assert_int_equal(n, 20);
	assert_int_equal(events_topic_specs(specs, 32, 1), 20);
	assert_int_equal(events_topic_specs(specs, 3, 1), 3);
	t = events_topic_find(EVENTS_TOPIC_CONTENT_SUBMITTED);
	assert_non_null(t);
	assert_string_equal(t->name, "kim.content.submitted.v1");
	assert_int_equal(t->partitions, 12);
	assert_string_equal(t->dlq, "kim.content.submitted.v1.dlq");
	assert_string_equal(EVENTS_DLQ(EVENTS_TOPIC_INTAKE), "kim.intake.v1.dlq");
	t = events_topic_find("kim.report.region-daily.v1");
	assert_non_null(t);
	assert_true(t->compacted);
	assert_int_equal(t->partitions, 3);
	assert_null(events_topic_find("kim.nope"));
	assert_null(events_topic_find(NULL));
	events_topic_specs(specs, 32, 3);
	for (size_t i = 0; i < 20; i++) {
		size_t len = strlen(specs[i].name);
		bool dlq = len > 4 && strcmp(specs[i].name + len - 4, ".dlq") == 0;
		assert_int_equal(specs[i].replication, 3);
		assert_true(dlq == (i % 2 == 1));
		if (dlq) {
			assert_int_equal(specs[i].partitions, 1);
			assert_false(specs[i].compacted);
		}
	}
}

static void test_meta_init(void **state)
{
	struct events_meta_buf a, b;
	char err[128];

	(void)state;
	assert_int_equal(events_meta_init(&a, "content.submitted", "ingest@h1", NULL, err,
					  sizeof err), 0);
	assert_true(util_uuid_valid(a.meta.id));
	assert_string_equal(a.meta.type, "content.submitted");
	assert_string_equal(a.meta.producer, "ingest@h1");
	assert_int_equal(strlen(a.meta.trace_id), 32);
	assert_true(a.meta.occurred_at_ms > 1700000000000LL);
	assert_int_equal(events_meta_validate(&a.meta, err, sizeof err), 0);
	assert_int_equal(events_meta_init(&b, "t", "p", "abc-DEF_1", err, sizeof err), 0);
	assert_string_equal(b.meta.trace_id, "abc-DEF_1");
	assert_string_not_equal(a.meta.id, b.meta.id);

	assert_int_equal(events_meta_init(&b, "", "p", NULL, err, sizeof err), UTIL_EINVAL);
	assert_int_equal(events_meta_init(&b, "t", NULL, NULL, err, sizeof err), UTIL_EINVAL);
	assert_int_equal(events_meta_init(&b, "has space", "p", NULL, err, sizeof err),
			 UTIL_EINVAL);
	assert_int_equal(events_meta_init(&b, "t", "p", "bad trace", err, sizeof err),
			 UTIL_EINVAL);
	assert_non_null(strstr(err, "trace_id"));
	char longtype[EVENTS_TYPE_MAX + 2];
	memset(longtype, 'x', sizeof longtype - 1);
	longtype[sizeof longtype - 1] = '\0';
	assert_int_equal(events_meta_init(&b, longtype, "p", NULL, err, sizeof err), UTIL_EINVAL);

	/* copy: independent storage, same values */
	assert_int_equal(events_meta_copy(&b, &a.meta, err, sizeof err), 0);
	assert_ptr_equal(b.meta.id, b.id);
	assert_string_equal(b.meta.id, a.meta.id);
	assert_int_equal(b.meta.occurred_at_ms, a.meta.occurred_at_ms);
	Simpul__V1__EventMeta bad = a.meta;
	bad.id = "not-a-uuid";
	assert_int_equal(events_meta_validate(&bad, err, sizeof err), UTIL_EINVAL);
	assert_non_null(strstr(err, "meta.id"));
	bad = a.meta;
	bad.occurred_at_ms = 0;
	assert_int_equal(events_meta_copy(&b, &bad, err, sizeof err), UTIL_EINVAL);
	assert_int_equal(events_meta_validate(NULL, err, sizeof err), UTIL_EINVAL);
}

static struct kafka_message message_with(const struct kafka_header *h, size_t n)
{
	struct kafka_message m = { .topic = "t", .headers = h, .nheaders = n };
	return m;
}

static void test_headers_round_trip(void **state)
{
	struct events_meta_buf a, b;
	struct events_headers hs;
	struct kafka_header h[8];
	char err[128];

	(void)state;
	assert_int_equal(events_meta_init(&a, "kim.registered", "ingest@x", NULL, err,
					  sizeof err), 0);
	assert_int_equal(events_headers_from_meta(&hs, &a.meta), EVENTS_HEADER_COUNT);
	assert_string_equal(hs.h[0].name, "simpul-event-id");
	assert_string_equal(hs.h[2].name, "simpul-occurred-at");
	assert_int_equal(hs.h[0].len, 36);
	struct kafka_message m = message_with(hs.h, EVENTS_HEADER_COUNT);
	assert_int_equal(events_meta_from_headers(&b, &m, err, sizeof err), 0);
	assert_string_equal(b.meta.id, a.meta.id);
	assert_string_equal(b.meta.type, a.meta.type);
	assert_string_equal(b.meta.producer, a.meta.producer);
	assert_string_equal(b.meta.trace_id, a.meta.trace_id);
	assert_int_equal(b.meta.occurred_at_ms, a.meta.occurred_at_ms);

	/* a missing header, a malformed one, and a later duplicate wins;
	 * missing is poison (UTIL_EINVAL: dead-lettered at once), not a
	 * transient UTIL_ENOTFOUND the consumer loop would retry */
	m = message_with(hs.h, 4);
	assert_int_equal(events_meta_from_headers(&b, &m, err, sizeof err), UTIL_EINVAL);
	assert_non_null(strstr(err, "simpul-trace-id"));
	assert_non_null(strstr(err, "missing"));
	memcpy(h, hs.h, sizeof hs.h);
	h[5] = (struct kafka_header){ "simpul-occurred-at", "12x", 3 };
	m = message_with(h, 6);
	assert_int_equal(events_meta_from_headers(&b, &m, err, sizeof err), UTIL_EINVAL);
	h[5] = (struct kafka_header){ "simpul-event-id", "a\0b", 3 };
	m = message_with(h, 6);
	assert_int_equal(events_meta_from_headers(&b, &m, err, sizeof err), UTIL_EINVAL);
	char big[200];
	memset(big, 'a', sizeof big);
	h[5] = (struct kafka_header){ "simpul-producer", big, sizeof big };
	m = message_with(h, 6);
	assert_int_equal(events_meta_from_headers(&b, &m, err, sizeof err), UTIL_EINVAL);
	h[5] = (struct kafka_header){ "simpul-trace-id", "ffff", 4 };
	m = message_with(h, 6);
	assert_int_equal(events_meta_from_headers(&b, &m, err, sizeof err), 0);
	assert_string_equal(b.meta.trace_id, "ffff");
}

static void test_pack_unpack(void **state)
{
	Simpul__V1__ContentSubmitted cs = SIMPUL__V1__CONTENT_SUBMITTED__INIT;
	Simpul__V1__Content c = SIMPUL__V1__CONTENT__INIT;
	struct events_meta_buf mb;
	struct util_buf buf;
	char err[128];
	char *tags[] = { "desa", "<script>'; DROP" };

	(void)state;
	assert_int_equal(events_meta_init(&mb, "content.submitted", "ingest@x", NULL, err,
					  sizeof err), 0);
	c.id = "0b6f3c1e-7d3a-4f2b-9c1d-2e3f4a5b6c7d";
	c.version = 1;
	c.type = SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_BERITA;
	c.title = "Panen raya di Desa Sukamaju";
	c.body = "Isi berita dengan \"kutipan\" dan ü";
	c.n_tags = 2;
	c.tags = tags;
	cs.meta = &mb.meta;
	cs.content = &c;
	util_buf_init(&buf, 0);
	assert_int_equal(events_pack(&cs.base, 0, &buf, err, sizeof err), 0);
	assert_true(buf.len > 50);

	Simpul__V1__ContentSubmitted *back = (Simpul__V1__ContentSubmitted *)events_unpack(
		&simpul__v1__content_submitted__descriptor, buf.data, buf.len, 0, err,
		sizeof err);
	assert_non_null(back);
	assert_int_equal(events_meta_validate(back->meta, err, sizeof err), 0);
	assert_string_equal(back->meta->id, mb.meta.id);
	assert_string_equal(back->content->title, c.title);
	assert_string_equal(back->content->body, c.body);
	assert_int_equal(back->content->n_tags, 2);
	assert_string_equal(back->content->tags[1], tags[1]);
	protobuf_c_message_free_unpacked(&back->base, NULL);

	/* size caps: the explicit cap, and the buffer's own cap leave it unchanged */
	size_t len = buf.len;
	assert_int_equal(events_pack(&cs.base, 10, &buf, err, sizeof err), UTIL_ETOOBIG);
	assert_int_equal(buf.len, len);
	struct util_buf small;
	util_buf_init(&small, 16);
	assert_int_equal(events_pack(&cs.base, 0, &small, err, sizeof err), UTIL_ETOOBIG);
	assert_int_equal(small.len, 0);
	util_buf_release(&small);
	assert_null(events_unpack(&simpul__v1__content_submitted__descriptor, buf.data, buf.len,
				  8, err, sizeof err));
	assert_int_equal(events_pack(NULL, 0, &buf, err, sizeof err), UTIL_EINVAL);
	util_buf_release(&buf);
}

static void test_unpack_garbage(void **state)
{
	char err[128];
	unsigned char junk[64];
	ProtobufCMessage *m;

	(void)state;
	/* a field tag with wire type 7 (invalid) */
	const unsigned char bad_wire[] = { 0x0f, 0x01, 0x02 };
	assert_null(events_unpack(&simpul__v1__content_submitted__descriptor, bad_wire,
				  sizeof bad_wire, 0, err, sizeof err));
	assert_non_null(strstr(err, "malformed"));
	/* a length-delimited field claiming more bytes than there are */
	const unsigned char truncated[] = { 0x0a, 0x7f, 0x01 };
	assert_null(events_unpack(&simpul__v1__content_submitted__descriptor, truncated,
				  sizeof truncated, 0, err, sizeof err));
	/* an unterminated varint */
	memset(junk, 0xff, sizeof junk);
	assert_null(events_unpack(&simpul__v1__event_meta__descriptor, junk, sizeof junk, 0, err,
				  sizeof err));
	assert_null(events_unpack(&simpul__v1__event_meta__descriptor, NULL, 5, 0, err,
				  sizeof err));
	/* random bytes never crash: either rejected or a message to free */
	srand(42);
	for (int round = 0; round < 2000; round++) {
		size_t n = (size_t)(rand() % (int)sizeof junk);
		for (size_t i = 0; i < n; i++)
			junk[i] = (unsigned char)rand();
		m = events_unpack(&simpul__v1__content_submitted__descriptor, junk, n, 0, err,
				  sizeof err);
		if (m)
			protobuf_c_message_free_unpacked(m, NULL);
	}
	/* an empty input is a valid empty message; its meta is then rejected */
	Simpul__V1__ContentSubmitted *e = (Simpul__V1__ContentSubmitted *)events_unpack(
		&simpul__v1__content_submitted__descriptor, NULL, 0, 0, err, sizeof err);
	assert_non_null(e);
	assert_int_equal(events_meta_validate(e->meta, err, sizeof err), UTIL_EINVAL);
	protobuf_c_message_free_unpacked(&e->base, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_topic_table),
		cmocka_unit_test(test_meta_init),
		cmocka_unit_test(test_headers_round_trip),
		cmocka_unit_test(test_pack_unpack),
		cmocka_unit_test(test_unpack_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
