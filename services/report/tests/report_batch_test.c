/*
 * services/report/tests/report_batch_test.c - the set-based batch apply
 * (batch.c) against the real PostgreSQL: a shuffled stream of content events
 * (decisions before submissions, appeals v2 before v1, review decisions,
 * every third event twice) is applied one by one with report_apply into one
 * private generation and in batches of 7 with report_apply_batch into
 * another, then replayed in batches of 5 and 64. Facts and cells of both
 * generations must be identical (the batch path has the SQL function's
 * semantics, duplicates and replays count once) and match the known
 * totals; a batch holding a poison event writes nothing; two consumers
 * applying an item's submission and its decision at the same time (different
 * topics, different threads) count it once; a batch whose new fact is
 * created meanwhile by a transaction still open (its INSERT waits for it)
 * re-reads that fact and counts the item once. The generations are
 * random numbers far above real ones and are deleted at the end.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <simpul/v1/content.pb-c.h>
#include <simpul/v1/moderation.pb-c.h>

#include "db/db.h"
#include "events/codec.h"
#include "events/meta.h"
#include "events/topics.h"
#include "report.h"
#include "slog/slog.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/ids.h"

#define NITEMS 40
#define MAXEV 256

struct ev {
	const char *topic;
	char *data;
	size_t len;
};

static struct db_conn *db;
static struct ev evs[MAXEV];
static size_t nev;
static int gen_a, gen_b, gen_c, gen_d;
static char day[16], prov[8];
static long want_sub, want_app, want_rej;
static int64_t base_ms;

static void push(const char *topic, const ProtobufCMessage *msg)
{
	struct util_buf b;
	char err[128];

	assert_true(nev < MAXEV);
	util_buf_init(&b, 0);
	assert_int_equal(events_pack(msg, 0, &b, err, sizeof(err)), 0);
	evs[nev].topic = topic;
	evs[nev].len = b.len;
	evs[nev].data = util_buf_steal(&b);
	nev++;
}

static void meta(struct events_meta_buf *mb, const char *type, int64_t at)
{
	char err[128];

	assert_int_equal(
	    events_meta_init(mb, type, "report-batch-test@local", NULL, err, sizeof(err)), 0);
	mb->meta.occurred_at_ms = at;
}

static void moderated(Simpul__V1__ContentModerated *cm, int version, Simpul__V1__Decision d,
                      int64_t at)
{
	struct events_meta_buf mb;

	cm->version = version;
	cm->decision = d;
	cm->decided_at_ms = at;
	meta(&mb, "content.moderated", at);
	cm->meta = &mb.meta;
	push(EVENTS_TOPIC_CONTENT_MODERATED, &cm->base);
}

/* Item i: submitted; i%4: 0 approved, 1 appealed (v1 approved, v2 rejected),
 * 2 review (stays pending), 3 never decided. */
static void item_events(int i, int64_t day_ms)
{
	char id[37], region[32];
	int64_t sub_ms = day_ms + i * 1000;
	struct events_meta_buf mb;
	Simpul__V1__Content c = SIMPUL__V1__CONTENT__INIT;
	Simpul__V1__ContentSubmitted cs = SIMPUL__V1__CONTENT_SUBMITTED__INIT;
	Simpul__V1__ContentModerated cm = SIMPUL__V1__CONTENT_MODERATED__INIT;

	util_uuid_v4(id);
	snprintf(region, sizeof(region), "%s.0%d.0%d.200%d", prov, 1 + i % 2, 1 + i % 3, i % 5);
	c.id = id;
	c.type = (Simpul__V1__ContentType)(1 + i % 3);
	c.title = "t";
	c.body = "b";
	c.region_code = region;
	c.submitted_at_ms = sub_ms;
	meta(&mb, "content.submitted", sub_ms);
	cs.meta = &mb.meta;
	cs.content = &c;
	push(EVENTS_TOPIC_CONTENT_SUBMITTED, &cs.base);
	want_sub++;
	cm.content_id = id;
	cm.region_code = region;
	cm.type = c.type;
	cm.submitted_at_ms = sub_ms;
	cm.decided_by = "auto";
	if (i % 4 == 0) {
		moderated(&cm, 1, SIMPUL__V1__DECISION__DECISION_APPROVE, sub_ms + 1000 * (i + 1));
		want_app++;
	} else if (i % 4 == 1) {
		moderated(&cm, 2, SIMPUL__V1__DECISION__DECISION_REJECT, sub_ms + 9000);
		moderated(&cm, 1, SIMPUL__V1__DECISION__DECISION_APPROVE, sub_ms + 3000);
		want_rej++;
	} else if (i % 4 == 2) {
		moderated(&cm, 1, SIMPUL__V1__DECISION__DECISION_REVIEW, sub_ms + 500);
	}
}

static void shuffle_and_duplicate(void)
{
	size_t n = nev;

	for (size_t i = n - 1; i > 0; i--) {
		size_t k = (size_t)rand() % (i + 1);
		struct ev t = evs[i];

		evs[i] = evs[k];
		evs[k] = t;
	}
	for (size_t i = 0; i < n; i += 3) { /* every third event twice, somewhere later */
		size_t at = i + 1 + (size_t)rand() % (n - i);

		assert_true(nev < MAXEV);
		memmove(&evs[at + 1], &evs[at], (nev - at) * sizeof(evs[0]));
		evs[at] = evs[i];
		evs[at].data = malloc(evs[i].len);
		assert_non_null(evs[at].data);
		memcpy(evs[at].data, evs[i].data, evs[i].len);
		nev++;
	}
}

static struct kafka_message view(const struct ev *e)
{
	struct kafka_message m = {
	    .topic = e->topic, .value = e->data, .value_len = e->len, .attempt = 1};
	return m;
}

static void apply_batches(int gen, size_t size)
{
	struct kafka_message ms[64];
	char err[512];

	for (size_t i = 0; i < nev; i += size) {
		size_t n = nev - i < size ? nev - i : size, applied, dups;

		for (size_t k = 0; k < n; k++)
			ms[k] = view(&evs[i + k]);
		if (report_apply_batch(db, gen, ms, n, &applied, &dups, err, sizeof(err)) != 0)
			fail_msg("batch at %zu: %s", i, err);
		assert_int_equal(applied + dups, n);
	}
}

static long query_long(const char *sql, int n, const char *const *v)
{
	PGresult *r = NULL;
	char err[512];
	long x;

	if (db_exec(db, sql, n, v, NULL, &r, err, sizeof(err)) != 0)
		fail_msg("%s: %s", sql, err);
	x = atol(PQgetvalue(r, 0, 0));
	PQclear(r);
	return x;
}

/* Rows of gen x missing from gen y, facts and cells. */
static long difference(int x, int y)
{
	static const char sql[] =
	    "SELECT (SELECT count(*) FROM (SELECT content_id, region_code, kim_id, type,"
	    "  submitted_at, day, decision, decision_ver, decided_at_ms, decision_ms,"
	    "  has_submitted FROM simpul.report_content WHERE gen = $1::int EXCEPT"
	    "  SELECT content_id, region_code, kim_id, type, submitted_at, day, decision,"
	    "  decision_ver, decided_at_ms, decision_ms, has_submitted"
	    "  FROM simpul.report_content WHERE gen = $2::int) a)"
	    " + (SELECT count(*) FROM (SELECT region_code, day, type, submitted, approved,"
	    "  rejected, pending, decided, decision_ms_sum FROM simpul.report_cells"
	    "  WHERE gen = $1::int EXCEPT SELECT region_code, day, type, submitted, approved,"
	    "  rejected, pending, decided, decision_ms_sum FROM simpul.report_cells"
	    "  WHERE gen = $2::int) b)";
	char a[16], b[16];
	const char *v[2] = {a, b};

	snprintf(a, sizeof(a), "%d", x);
	snprintf(b, sizeof(b), "%d", y);
	return query_long(sql, 2, v);
}

static long national(int gen, const char *col)
{
	char g[16], sql[256];
	const char *v[2] = {g, day};

	snprintf(g, sizeof(g), "%d", gen);
	snprintf(sql, sizeof(sql),
	         "SELECT COALESCE(sum(%s), 0) FROM simpul.report_cells WHERE gen = $1::int"
	         " AND region_code = '' AND day = $2::date",
	         col);
	return query_long(sql, 2, v);
}

static void test_batch_equals_one_by_one(void **state)
{
	char err[512];

	(void)state;
	for (size_t i = 0; i < nev; i++) {
		struct kafka_message m = view(&evs[i]);

		if (report_apply(db, gen_a, &m, NULL, err, sizeof(err)) != 0)
			fail_msg("apply %zu: %s", i, err);
	}
	apply_batches(gen_b, 7);
	assert_int_equal(difference(gen_a, gen_b), 0);
	assert_int_equal(difference(gen_b, gen_a), 0);
	assert_int_equal(national(gen_b, "submitted"), want_sub);
	assert_int_equal(national(gen_b, "approved"), want_app);
	assert_int_equal(national(gen_b, "rejected"), want_rej);
	assert_int_equal(national(gen_b, "pending"), want_sub - want_app - want_rej);
	/* replays in other batch sizes change nothing */
	apply_batches(gen_b, 5);
	apply_batches(gen_b, 64);
	assert_int_equal(difference(gen_a, gen_b), 0);
	assert_int_equal(difference(gen_b, gen_a), 0);
	assert_int_equal(national(gen_b, "submitted"), want_sub);
}

static void test_poison_batch_writes_nothing(void **state)
{
	struct kafka_message ms[3];
	size_t applied, dups;
	char err[512];
	long before = national(gen_b, "submitted");

	(void)state;
	for (size_t i = 0; i < nev; i++)
		free(evs[i].data);
	nev = 0;
	item_events(NITEMS + 3, base_ms); /* never decided: one submission each */
	item_events(NITEMS + 7, base_ms);
	assert_int_equal(nev, 2);
	ms[0] = view(&evs[0]);
	ms[1] = (struct kafka_message){.topic = EVENTS_TOPIC_CONTENT_SUBMITTED,
	                               .value = "\x0a\xff",
	                               .value_len = 2,
	                               .attempt = 1};
	ms[2] = view(&evs[1]);
	assert_int_equal(report_apply_batch(db, gen_b, ms, 3, &applied, &dups, err, sizeof(err)),
	                 UTIL_EINVAL);
	assert_int_equal(national(gen_b, "submitted"), before);
	/* without the poison the same two count */
	ms[1] = ms[2];
	assert_int_equal(report_apply_batch(db, gen_b, ms, 2, &applied, &dups, err, sizeof(err)),
	                 0);
	assert_int_equal(applied, 2);
}

/* One consumer thread: applies its events one batch each on its own session. */
struct applier {
	const char *topic;
	int failures;
	char err[512];
};

static void *apply_topic(void *arg)
{
	struct applier *a = arg;
	const char *url = getenv("SIMPUL_PG_URL");
	struct db_conn *c =
	    db_conn_new(url ? url : "postgresql://simpul@127.0.0.1:55432/simpul", a->err,
	                sizeof(a->err));

	if (!c) {
		a->failures++;
		return NULL;
	}
	for (size_t i = 0; i < nev; i++) {
		struct kafka_message m = view(&evs[i]);
		size_t applied, dups;

		if (strcmp(evs[i].topic, a->topic) != 0)
			continue;
		if (report_apply_batch(c, gen_c, &m, 1, &applied, &dups, a->err,
		                       sizeof(a->err)) != 0)
			a->failures++;
	}
	db_conn_free(c);
	return NULL;
}

/* A new item's submission and decision in two concurrent batches: neither
 * may overwrite the fact the other created (that double-counted it). */
static void test_concurrent_batches_count_once(void **state)
{
	struct applier sub = {.topic = EVENTS_TOPIC_CONTENT_SUBMITTED};
	struct applier dec = {.topic = EVENTS_TOPIC_CONTENT_MODERATED};
	pthread_t ts, td;
	long n = 0;
	char g[16];
	const char *v[1] = {g};

	(void)state;
	for (size_t i = 0; i < nev; i++)
		free(evs[i].data);
	nev = 0;
	for (int i = 0; i < 120 && nev + 2 <= MAXEV; i += 4, n++)
		item_events(1000 + i, base_ms); /* i % 4 == 0: submitted + approved */
	assert_int_equal(pthread_create(&ts, NULL, apply_topic, &sub), 0);
	assert_int_equal(pthread_create(&td, NULL, apply_topic, &dec), 0);
	pthread_join(ts, NULL);
	pthread_join(td, NULL);
	if (sub.failures || dec.failures)
		fail_msg("apply failed: %s / %s", sub.err, dec.err);
	snprintf(g, sizeof(g), "%d", gen_c);
	assert_int_equal(query_long("SELECT count(*) FROM simpul.report_content WHERE gen = $1::int"
	                            " AND has_submitted AND decision = 'approved'",
	                            1, v),
	                 n);
	assert_int_equal(national(gen_c, "submitted"), n);
	assert_int_equal(national(gen_c, "approved"), n);
	assert_int_equal(national(gen_c, "pending"), 0);
}

struct blocked_batch {
	struct db_conn *c;
	struct kafka_message m;
	size_t applied, dups;
	int rc;
	char err[512];
};

static void *apply_one(void *arg)
{
	struct blocked_batch *a = arg;

	a->rc = report_apply_batch(a->c, gen_d, &a->m, 1, &a->applied, &a->dups, a->err,
	                           sizeof(a->err));
	return NULL;
}

static struct db_conn *connect_pg(void)
{
	const char *url = getenv("SIMPUL_PG_URL");
	char err[512];
	struct db_conn *c =
	    db_conn_new(url ? url : "postgresql://simpul@127.0.0.1:55432/simpul", err, sizeof(err));

	if (!c)
		fail_msg("connect: %s", err);
	return c;
}

/* The decision's batch reads no fact (the submission's transaction has not
 * committed), computes a new fact, and its INSERT waits for that
 * transaction; once it commits, the batch must re-read the row and update
 * it, not overwrite it nor leave it: one item, submitted and approved. */
static void test_batch_after_concurrent_insert(void **state)
{
	struct blocked_batch a = {.rc = -1};
	struct kafka_message sub;
	struct db_conn *open_tx = connect_pg();
	PGresult *r = NULL;
	pthread_t t;
	char g[16], pid[16], err[512];
	const char *v[1] = {g}, *pv[1] = {pid};
	long waiting = 0;

	(void)state;
	for (size_t i = 0; i < nev; i++)
		free(evs[i].data);
	nev = 0;
	item_events(2000, base_ms); /* i % 4 == 0: submitted, then approved */
	assert_int_equal(nev, 2);
	a.c = connect_pg();
	assert_int_equal(db_exec(a.c, "SELECT pg_catalog.pg_backend_pid() AS p", 0, NULL, NULL, &r,
	                         err, sizeof(err)),
	                 0);
	snprintf(pid, sizeof(pid), "%s", db_value(r, 0, "p"));
	PQclear(r);
	sub = view(&evs[0]);
	a.m = view(&evs[1]);
	assert_int_equal(db_begin(open_tx, err, sizeof(err)), 0);
	if (report_apply(open_tx, gen_d, &sub, NULL, err, sizeof(err)) != 0)
		fail_msg("submission: %s", err);
	assert_int_equal(pthread_create(&t, NULL, apply_one, &a), 0);
	for (int i = 0; i < 3000 && waiting == 0; i++) { /* bounded: 60 s */
		waiting = query_long("SELECT count(*) FROM pg_catalog.pg_locks"
		                     " WHERE pid = $1::int AND NOT granted",
		                     1, pv);
		if (waiting == 0)
			usleep(20000);
	}
	assert_int_equal(db_commit(open_tx, err, sizeof(err)), 0);
	pthread_join(t, NULL);
	db_conn_free(open_tx);
	db_conn_free(a.c);
	if (a.rc != 0)
		fail_msg("batch: %s", a.err);
	assert_true(waiting > 0); /* the batch did wait for the open transaction */
	assert_int_equal(a.applied, 1);
	snprintf(g, sizeof(g), "%d", gen_d);
	assert_int_equal(query_long("SELECT count(*) FROM simpul.report_content WHERE gen = $1::int"
	                            " AND has_submitted AND decision = 'approved'",
	                            1, v),
	                 1);
	assert_int_equal(national(gen_d, "submitted"), 1);
	assert_int_equal(national(gen_d, "approved"), 1);
	assert_int_equal(national(gen_d, "pending"), 0);
}

static int setup(void **state)
{
	const char *url = getenv("SIMPUL_PG_URL");
	char err[512];
	struct tm tm = {0};

	(void)state;
	db =
	    db_conn_new(url ? url : "postgresql://simpul@127.0.0.1:55432/simpul", err, sizeof(err));
	if (!db || db_ping(db, err, sizeof(err)) != 0) {
		fprintf(stderr, "POSTGRESQL NOT REACHABLE (deploy/stack infra): %s\n", err);
		return -1;
	}
	srand((unsigned)(time(NULL) ^ getpid()));
	gen_a = 1000000 + rand() % 1000000 * 2;
	gen_b = gen_a + 1;
	gen_c = gen_a + 3000000;
	gen_d = gen_a + 6000000;
	snprintf(prov, sizeof(prov), "%d", 40 + rand() % 10);
	tm.tm_year = 100 + rand() % 20;
	tm.tm_mon = rand() % 12;
	tm.tm_mday = 1 + rand() % 28;
	tm.tm_hour = 3;
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	base_ms = (int64_t)timegm(&tm) * 1000;
	for (int i = 0; i < NITEMS; i++)
		item_events(i, base_ms);
	shuffle_and_duplicate();
	return 0;
}

static int teardown(void **state)
{
	char err[256];
	int rc;

	(void)state;
	rc = report_gen_delete(db, gen_a, err, sizeof(err)) ||
	     report_gen_delete(db, gen_b, err, sizeof(err)) ||
	     report_gen_delete(db, gen_c, err, sizeof(err)) ||
	     report_gen_delete(db, gen_d, err, sizeof(err)) ||
	     report_dirty_drop_unbacked(db, day, err, sizeof(err));
	if (rc)
		fprintf(stderr, "clean-up: %s\n", err);
	for (size_t i = 0; i < nev; i++)
		free(evs[i].data);
	db_conn_free(db);
	return rc ? -1 : 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_batch_equals_one_by_one),
	    cmocka_unit_test(test_poison_batch_writes_nothing),
	    cmocka_unit_test(test_concurrent_batches_count_once),
	    cmocka_unit_test(test_batch_after_concurrent_insert),
	};

	slog_init("report-batch-test", SLOG_WARN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
