/*
 * fault_sigterm_test.c - SIGTERM during load loses nothing accepted: eight
 * clients submit as fast as they can, the service gets SIGTERM mid-load and
 * must exit 0; every id that was answered 202 is in PostgreSQL (row and
 * first status) and then arrives on kim.content.submitted.v1 exactly once
 * (published by the stopping service or, failing that, by the next one).
 */
#include <pthread.h>
#include <signal.h>

#include "fault_common.h"

enum { CLIENTS = 8, MAX_IDS = 20000 };

static char (*ids)[64];
static size_t nids;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static volatile int stop_clients;

static int setup(void **state)
{
	ids = calloc(MAX_IDS, sizeof(*ids));
	return ids && ts_ctx_setup(&ctx, NULL) == 0 ? 0 : -1;
}

static void *client(void *arg)
{
	int n = 0;

	while (!stop_clients) {
		char key[128], title[160], id[64];
		long st;
		pthread_mutex_lock(&mu);
		ts_key(&ctx.fx, "term", key, sizeof(key));
		pthread_mutex_unlock(&mu);
		snprintf(title, sizeof(title), "Sigterm %s", key);
		st = fault_submit(title, key, id, NULL);
		if (st == 202) {
			pthread_mutex_lock(&mu);
			if (nids < MAX_IDS)
				snprintf(ids[nids++], sizeof(ids[0]), "%s", id);
			pthread_mutex_unlock(&mu);
		} else if (st == 0 && ++n > 20) {
			break; /* the listener is gone */
		}
	}
	return NULL;
}

static void check_in_pg(void)
{
	for (size_t i = 0; i < nids; i++) {
		const char *p[] = {ids[i]};
		long long n = ts_pg_count(ctx.pg,
					  "SELECT count(*) FROM simpul.content c JOIN"
					  " simpul.content_status_history h ON h.content_id = c.id"
					  " AND h.seq = 1 WHERE c.id = $1::uuid",
					  1, p);
		if (n != 1)
			fail_msg("accepted id %s is not in postgresql (count %lld)", ids[i], n);
	}
}

static void test_sigterm_loses_nothing(void **state)
{
	pthread_t th[CLIENTS];
	char err[2048];
	struct ts_reader *r = ts_reader_new(ctx.env.kafka_brokers, "kim.content.submitted.v1", err,
					    sizeof(err));
	const char **keys;
	int st;
	size_t missing;

	if (!r)
		fail_msg("%s", err);
	for (int i = 0; i < CLIENTS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, client, NULL), 0);
	ts_sleep_ms(1500);
	st = ts_ingest_stop(&ctx.ingest, 30000); /* SIGTERM while the clients keep going */
	stop_clients = 1;
	for (int i = 0; i < CLIENTS; i++)
		pthread_join(th[i], NULL);
	fprintf(stderr, "sigterm under load: %zu submissions accepted, exit status %d\n", nids, st);
	if (st != 0)
		ts_ingest_dump_log(&ctx.ingest, 30);
	assert_int_equal(st, 0);
	assert_true(nids > 0);
	check_in_pg();
	/* A fresh instance publishes whatever the stopped one had left. */
	if (ts_ingest_start(&ctx.ingest, &ctx.env, NULL, 60000, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	keys = calloc(nids, sizeof(*keys));
	for (size_t i = 0; i < nids; i++)
		keys[i] = ids[i];
	missing = ts_reader_wait_keys(r, keys, nids, 60000);
	if (missing)
		fail_msg("%zu of %zu accepted ids never reached the topic", missing, nids);
	ts_reader_poll(r, 1000);
	for (size_t i = 0; i < nids; i++)
		if (ts_reader_count_key(r, ids[i]) != 1)
			fail_msg("id %s published %zu times", ids[i], ts_reader_count_key(r, ids[i]));
	free(keys);
	ts_reader_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigterm_loses_nothing),
	};
	int rc = cmocka_run_group_tests(tests, setup, fault_teardown_group);

	free(ids);
	return rc;
}
