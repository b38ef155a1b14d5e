/*
 * tests/overload/ingest_admission_test.c - ingest's admission control at
 * the committer, with real committer threads on the stack's PostgreSQL:
 * the queue refuses new items (UTIL_EUNAVAIL -> 503 overloaded) once its
 * oldest item has waited longer than SIMPUL_INGEST_QUEUE_MAX_WAIT_MS or it
 * holds SIMPUL_INGEST_QUEUE_MAX items, ingest_committer_overloaded says so
 * too, and both clear by themselves once the queue drains. The items name a
 * region that does not exist, so nothing is written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <simpul/v1/content.pb-c.h>

#include "ingest.h"
#include "metrics/metrics.h"
#include "ts/ts.h"
#include "util/err.h"

static atomic_int done_count, other_outcomes;

/* Runs on a committer thread: records, the test thread asserts. */
static void on_done(struct commit_item *it, void *ud)
{
	(void)ud;
	if (it->outcome != COMMIT_UNKNOWN_REGION)
		atomic_fetch_add(&other_outcomes, 1);
	ingest_item_free(it);
	atomic_fetch_add(&done_count, 1);
}

/* A content item for a region that does not exist (rejected by the SQL). */
static struct commit_item *item(int n)
{
	static char title[] = "admission test", body[] = "isi", region[] = "99.99.99.9999";
	struct submission s = {.type = SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_BERITA,
			       .title = title, .body = body, .region_code = region};
	unsigned char hash[32] = {0};
	char key[64];
	struct ingest_source src;
	struct commit_item *it;

	snprintf(key, sizeof(key), "admission-%lld-%d", (long long)ts_now_ms(), n);
	src = (struct ingest_source){.source = SIMPUL__V1__CONTENT_SOURCE__CONTENT_SOURCE_API,
				     .scope = "ip:127.0.0.1", .key = key, .hash = hash};
	it = ingest_item_content(&s, &src);
	assert_non_null(it);
	it->done = on_done;
	return it;
}

static void wait_done(int n)
{
	for (int i = 0; i < 300 && atomic_load(&done_count) < n; i++)
		ts_sleep_ms(100);
	assert_int_equal(atomic_load(&done_count), n);
	assert_int_equal(atomic_load(&other_outcomes), 0);
}

struct fixture {
	struct ingest_config cfg;
	struct metrics_registry *reg;
	struct ingest_metrics m;
	struct ingest_committer *c;
};

static void setup_committer(struct fixture *f, int64_t queue_max, int64_t max_wait_ms)
{
	char err[512];

	memset(f, 0, sizeof(*f));
	assert_int_equal(ingest_config_load(&f->cfg, err, sizeof(err)), 0);
	f->cfg.committers = 1;
	f->cfg.queue_max = queue_max;
	f->cfg.queue_max_wait_ms = max_wait_ms;
	f->reg = metrics_registry_new();
	assert_non_null(f->reg);
	ingest_metrics_init(&f->m, f->reg);
	f->c = ingest_committer_new(&f->cfg, &f->m, err, sizeof(err));
	if (!f->c)
		fail_msg("committer: %s", err);
	atomic_store(&done_count, 0);
	atomic_store(&other_outcomes, 0);
}

static void teardown_committer(struct fixture *f)
{
	ingest_committer_free(f->c);
	metrics_registry_free(f->reg);
	ingest_config_release(&f->cfg);
}

/* Items queue while no committer runs; the head ages past the limit. */
static void test_queue_age(void **state)
{
	struct fixture f;
	struct commit_item *late;

	(void)state;
	setup_committer(&f, 1000, 100);
	assert_int_equal(ingest_committer_enqueue(f.c, item(1)), 0);
	assert_int_equal(ingest_committer_enqueue(f.c, item(2)), 0);
	ts_sleep_ms(250); /* the head is now older than the 100 ms limit */
	assert_true(ingest_committer_overloaded(f.c));
	late = item(3);
	assert_int_equal(ingest_committer_enqueue(f.c, late), UTIL_EUNAVAIL);
	assert_int_equal(ingest_committer_depth(f.c), 2);
	/* the committer drains the queue: admission reopens by itself */
	assert_int_equal(ingest_committer_start(f.c), 0);
	wait_done(2);
	assert_false(ingest_committer_overloaded(f.c));
	assert_int_equal(ingest_committer_enqueue(f.c, late), 0);
	wait_done(3);
	teardown_committer(&f);
}

/* The count limit holds on its own when the age limit is off (0). */
static void test_queue_max(void **state)
{
	struct fixture f;
	struct commit_item *extra;

	(void)state;
	setup_committer(&f, 3, 0);
	assert_int_equal(ingest_committer_enqueue(f.c, item(1)), 0);
	assert_int_equal(ingest_committer_enqueue(f.c, item(2)), 0);
	ts_sleep_ms(200); /* an old head refuses nothing with the age limit off */
	assert_false(ingest_committer_overloaded(f.c));
	assert_int_equal(ingest_committer_enqueue(f.c, item(3)), 0);
	assert_true(ingest_committer_overloaded(f.c));
	extra = item(4);
	assert_int_equal(ingest_committer_enqueue(f.c, extra), UTIL_EUNAVAIL);
	assert_int_equal(ingest_committer_start(f.c), 0);
	wait_done(3);
	assert_false(ingest_committer_overloaded(f.c));
	assert_int_equal(ingest_committer_enqueue(f.c, extra), 0);
	wait_done(4);
	teardown_committer(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queue_age),
		cmocka_unit_test(test_queue_max),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
