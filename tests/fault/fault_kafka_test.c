/*
 * fault_kafka_test.c - Kafka stopped during submissions and restarted:
 * submissions keep being accepted (accepted = committed in PostgreSQL), and
 * once the broker is back every accepted id arrives on
 * kim.content.submitted.v1, none twice, and the outbox backlog drains.
 */
#include "fault_common.h"

enum { BEFORE = 10, DURING = 40 };

static int setup(void **state)
{
	return ts_ctx_setup(&ctx, NULL) == 0 ? 0 : -1;
}

static void test_kafka_down_nothing_lost(void **state)
{
	static char ids[BEFORE + DURING][64];
	const char *keys[BEFORE + DURING];
	char err[512], key[128], title[160];
	struct ts_reader *r = ts_reader_new(ctx.env.kafka_brokers, "kim.content.submitted.v1", err,
					    sizeof(err));
	size_t missing;

	if (!r)
		fail_msg("%s", err);
	for (int i = 0; i < BEFORE + DURING; i++) {
		if (i == BEFORE)
			fault_stop("kafka");
		ts_key(&ctx.fx, "kafka", key, sizeof(key));
		snprintf(title, sizeof(title), "Kafka %s", key);
		if (fault_submit(title, key, ids[i], NULL) != 202)
			fail_msg("submission %d not accepted (kafka %s)", i,
				 i < BEFORE ? "up" : "down");
		keys[i] = ids[i];
	}
	/* Everything accepted while the broker was away is waiting in the outbox. */
	{
		const char *p[] = {ids[BEFORE + DURING - 1]};
		assert_int_equal(ts_pg_count(ctx.pg,
					     "SELECT count(*) FROM simpul.content WHERE id = $1::uuid",
					     1, p),
				 1);
	}
	assert_int_equal(fault_start(), 0);
	missing = ts_reader_wait_keys(r, keys, BEFORE + DURING, 90000);
	if (missing)
		fail_msg("%zu of %d accepted ids never arrived on the topic", missing,
			 BEFORE + DURING);
	ts_reader_poll(r, 2000); /* a duplicate would show up now */
	for (int i = 0; i < BEFORE + DURING; i++)
		if (ts_reader_count_key(r, ids[i]) != 1)
			fail_msg("id %s arrived %zu times", ids[i], ts_reader_count_key(r, ids[i]));
	{
		const char *p[] = {ctx.fx.kim_id};
		int64_t end = ts_now_ms() + 10000;
		long long unsent;
		while ((unsent = ts_pg_count(ctx.pg,
					     "SELECT count(*) FROM simpul.outbox o JOIN simpul.content c"
					     " ON c.id::text = o.msg_key WHERE c.kim_id = $1::uuid"
					     " AND o.sent_at IS NULL",
					     1, p)) > 0 &&
		       ts_now_ms() < end)
			ts_sleep_ms(200);
		assert_int_equal(unsent, 0);
	}
	ts_reader_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_kafka_down_nothing_lost, fault_teardown_test),
	};
	return cmocka_run_group_tests(tests, setup, fault_teardown_group);
}
