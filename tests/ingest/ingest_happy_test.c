/*
 * ingest_happy_test.c - POST /v1/content end to end against the real stack:
 * the 202, the row in PostgreSQL (with its status history, idempotency key
 * and outbox row) and the protobuf event on kim.content.submitted.v1 checked
 * field by field with its Kafka headers; text with SQL and HTML
 * metacharacters stored and published exactly as sent; GET /v1/content/{id}.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include <simpul/v1/content.pb-c.h>
#include <util/ids.h>

#include "ts/ts.h"

#define TOPIC "kim.content.submitted.v1"

static struct ts_ctx ctx;

static int setup(void **state)
{
	return ts_ctx_setup(&ctx, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	int st = ts_ctx_teardown(&ctx);

	if (st != 0)
		fprintf(stderr, "simpul-ingest did not exit 0 on SIGTERM (status %d)\n", st);
	return st == 0 ? 0 : -1;
}

/* Reads one content row; the caller PQclear()s. */
static PGresult *content_row(const char *id)
{
	char err[512];
	const char *p[] = {id};
	PGresult *res = ts_pg_query(
		ctx.pg,
		"SELECT type, title, body, region_code, kim_id, author_id, tags, media_urls,"
		" source, status, version FROM simpul.content WHERE id = $1::uuid",
		1, p, err, sizeof(err));

	if (!res)
		fail_msg("%s", err);
	assert_int_equal(PQntuples(res), 1);
	return res;
}

static const char *col(PGresult *res, const char *name)
{
	int c = PQfnumber(res, name);

	assert_true(c >= 0);
	return PQgetisnull(res, 0, c) ? "<null>" : PQgetvalue(res, 0, c);
}

/* The event header set must mirror EventMeta exactly. */
static void check_headers(const struct ts_kmsg *m, const Simpul__V1__EventMeta *meta)
{
	char occurred[32];

	snprintf(occurred, sizeof(occurred), "%lld", (long long)meta->occurred_at_ms);
	assert_non_null(ts_kmsg_header(m, "simpul-event-id"));
	assert_string_equal(ts_kmsg_header(m, "simpul-event-id"), meta->id);
	assert_non_null(ts_kmsg_header(m, "simpul-event-type"));
	assert_string_equal(ts_kmsg_header(m, "simpul-event-type"), meta->type);
	assert_non_null(ts_kmsg_header(m, "simpul-occurred-at"));
	assert_string_equal(ts_kmsg_header(m, "simpul-occurred-at"), occurred);
	assert_non_null(ts_kmsg_header(m, "simpul-producer"));
	assert_string_equal(ts_kmsg_header(m, "simpul-producer"), meta->producer);
	assert_non_null(ts_kmsg_header(m, "simpul-trace-id"));
	assert_string_equal(ts_kmsg_header(m, "simpul-trace-id"), meta->trace_id);
}

/* Waits for the event keyed id and checks it against what was sent. */
static void check_event(struct ts_reader *r, const char *id, const char *title, const char *body,
			int64_t t0_ms)
{
	const char *keys[] = {id};
	const struct ts_kmsg *m;
	Simpul__V1__ContentSubmitted *ev;
	const struct ts_fixture *fx = &ctx.fx;

	assert_int_equal(ts_reader_wait_keys(r, keys, 1, 30000), 0);
	m = ts_reader_find_key(r, id);
	ev = simpul__v1__content_submitted__unpack(NULL, m->value_len, m->value);
	assert_non_null(ev);
	assert_non_null(ev->meta);
	assert_non_null(ev->content);
	assert_true(util_uuid_valid(ev->meta->id));
	assert_string_equal(ev->meta->type, "content.submitted");
	assert_true(ev->meta->occurred_at_ms >= t0_ms - 5000);
	assert_true(ev->meta->occurred_at_ms <= util_now_ms() + 5000);
	assert_true(strncmp(ev->meta->producer, "ingest@", 7) == 0);
	assert_true(strlen(ev->meta->trace_id) > 0);
	check_headers(m, ev->meta);
	assert_string_equal(ev->content->id, id);
	assert_int_equal(ev->content->version, 1);
	assert_int_equal(ev->content->type, SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_KEGIATAN);
	assert_string_equal(ev->content->title, title);
	assert_string_equal(ev->content->body, body);
	assert_string_equal(ev->content->region_code, fx->desa);
	assert_string_equal(ev->content->kim_id, fx->kim_id);
	assert_string_equal(ev->content->author_id, fx->users[TS_KIM_ADMIN].id);
	assert_int_equal(ev->content->source, SIMPUL__V1__CONTENT_SOURCE__CONTENT_SOURCE_API);
	assert_true(ev->content->submitted_at_ms >= t0_ms - 5000);
	assert_int_equal(ev->content->n_tags, 2);
	assert_string_equal(ev->content->tags[0], "gotong-royong");
	assert_string_equal(ev->content->tags[1], "desa");
	assert_int_equal(ev->content->n_media_urls, 1);
	assert_string_equal(ev->content->media_urls[0], "https://example.org/foto/1.jpg");
	simpul__v1__content_submitted__free_unpacked(ev, NULL);
	/* Exactly one event for this id, even after a little more polling. */
	ts_reader_poll(r, 500);
	assert_int_equal(ts_reader_count_key(r, id), 1);
}

/* Posts a full submission; returns the new id in id_out. */
static void submit(const char *title, const char *body, char *id_out)
{
	struct ts_response res;
	char key[128], loc[128];
	json_t *o = json_pack("{ss ss ss ss ss s[ss] s[s]}", "type", "kegiatan", "title", title,
			      "body", body, "region_code", ctx.fx.desa, "kim_id", ctx.fx.kim_id,
			      "tags", "gotong-royong", "desa", "media_urls",
			      "https://example.org/foto/1.jpg");
	char *json = json_dumps(o, JSON_COMPACT);

	ts_key(&ctx.fx, "happy", key, sizeof(key));
	ts_http_post_json(&res, ts_ctx_url(&ctx, "/v1/content"), ctx.fx.users[TS_KIM_ADMIN].token,
			  key, json);
	if (res.status != 202)
		fail_msg("POST /v1/content: %ld %s", res.status, res.body ? res.body : "");
	assert_true(util_uuid_valid(res.id));
	snprintf(loc, sizeof(loc), "/v1/content/%s", res.id);
	assert_string_equal(res.location, loc);
	assert_non_null(strstr(res.body, "\"submitted\""));
	snprintf(id_out, 64, "%s", res.id);
	ts_response_release(&res);
	free(json);
	json_decref(o);
}

/* The row, its first status, its idempotency record and its outbox row. */
static void check_rows(const char *id, const char *title, const char *body)
{
	PGresult *res = content_row(id);
	const char *p[] = {id, ctx.fx.users[TS_KIM_ADMIN].id};

	assert_string_equal(col(res, "type"), "kegiatan");
	assert_string_equal(col(res, "title"), title);
	assert_string_equal(col(res, "body"), body);
	assert_string_equal(col(res, "region_code"), ctx.fx.desa);
	assert_string_equal(col(res, "kim_id"), ctx.fx.kim_id);
	assert_string_equal(col(res, "author_id"), ctx.fx.users[TS_KIM_ADMIN].id);
	assert_string_equal(col(res, "tags"), "{gotong-royong,desa}");
	assert_string_equal(col(res, "media_urls"), "{https://example.org/foto/1.jpg}");
	assert_string_equal(col(res, "source"), "api");
	assert_string_equal(col(res, "status"), "submitted");
	assert_string_equal(col(res, "version"), "1");
	PQclear(res);
	assert_int_equal(ts_pg_count(ctx.pg,
				     "SELECT count(*) FROM simpul.content_status_history WHERE"
				     " content_id = $1::uuid AND seq = 1 AND status = 'submitted'",
				     1, p),
			 1);
	assert_int_equal(ts_pg_count(ctx.pg,
				     "SELECT count(*) FROM simpul.idempotency_keys WHERE"
				     " resource_id = $1::uuid AND scope = $2 AND resource_type = 'content'",
				     2, p),
			 1);
	assert_int_equal(ts_pg_count(ctx.pg,
				     "SELECT count(*) FROM simpul.outbox WHERE msg_key = $1"
				     " AND topic = '" TOPIC "'",
				     1, p),
			 1);
}

static void test_happy_path(void **state)
{
	char err[512], id[64];
	const char *title = "Kerja bakti Desa Ternyang — 17 Agustus 🇮🇩";
	const char *body = "Warga RT 03 membersihkan saluran air.\nDimulai pukul 07.00 WIB.\n\tSelesai.";
	int64_t t0 = util_now_ms();
	struct ts_reader *r = ts_reader_new(ctx.env.kafka_brokers, TOPIC, err, sizeof(err));

	if (!r)
		fail_msg("%s", err);
	submit(title, body, id);
	check_rows(id, title, body);
	check_event(r, id, title, body, t0);
	ts_reader_free(r);
}

static void test_metacharacters_stored_exactly(void **state)
{
	char err[512], id[64];
	const char *title = "Robert'); DROP TABLE simpul.content;-- <script>alert(\"x\")</script>";
	const char *body = "' OR '1'='1'; -- /* */ $1 $$dollar$$ E'\\x00' \\\\ back\\slash\n"
			   "<b onclick=\"x()\">bold</b> &amp; &lt;tag&gt; %s %n %%d {{tmpl}} ${env}\n"
			   "\"quoted\" `tick` ; | & > < ü é 漢字 😀";
	int64_t t0 = util_now_ms();
	struct ts_reader *r = ts_reader_new(ctx.env.kafka_brokers, TOPIC, err, sizeof(err));

	if (!r)
		fail_msg("%s", err);
	submit(title, body, id);
	check_rows(id, title, body);
	check_event(r, id, title, body, t0);
	ts_reader_free(r);
}

static void test_get_status(void **state)
{
	char id[64], path[128], auth[128];
	struct ts_response res;
	const char *hdr[] = {auth, NULL};

	submit("Status check", "Isi.", id);
	snprintf(path, sizeof(path), "/v1/content/%s", id);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", ctx.fx.users[TS_KIM_ADMIN].token);
	ts_http(&res, "GET", ts_ctx_url(&ctx, path), hdr, NULL, NULL, 0);
	if (res.status != 200)
		fail_msg("GET %s: %ld %s", path, res.status, res.body ? res.body : "");
	assert_non_null(strstr(res.body, id));
	assert_non_null(strstr(res.body, "submitted"));
	ts_response_release(&res);
	/* A member of another KIM must not learn that it exists. */
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
		 ctx.fx.users[TS_OTHER_MEMBER].token);
	ts_http(&res, "GET", ts_ctx_url(&ctx, path), hdr, NULL, NULL, 0);
	assert_int_equal(res.status, 404);
	ts_response_release(&res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_happy_path),
		cmocka_unit_test(test_metacharacters_stored_exactly),
		cmocka_unit_test(test_get_status),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
