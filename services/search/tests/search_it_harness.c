/*
 * services/search/tests/search_it_harness.c - the integration test's
 * harness: settings, the service in-process on a free port with its own
 * consumer group (started at the end of the shared topic), synthetic
 * ContentPublished events, HTTP helpers. See search_it.h.
 */
#include "search_it.h"

struct ts_env env;
struct search_config cfg;
struct search_app app;
static bool app_up;
static struct kafka_producer *prod;
struct db_conn *db;
char run[17], group[64];
static char base[64];
struct util_buf events[MAX_EVENTS]; /* every event this run produced, packed */
int nevents;
char run_ids[MAX_EVENTS][37]; /* distinct content ids of this run */
int nids;


/* ---- harness ---- */

/* High watermarks of the published topic when the run began. */
int64_t highs[64];
int nparts;

static rd_kafka_t *admin_consumer(const char *grp)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char err[256];

	if (rd_kafka_conf_set(conf, "bootstrap.servers", env.kafka_brokers, err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "group.id", grp, err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err))) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	return rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
}

int it_read_highs(void)
{
	rd_kafka_t *rk = admin_consumer("simpul-search-it-probe");

	nparts = events_topic_find(EVENTS_TOPIC_CONTENT_PUBLISHED)->partitions;
	for (int p = 0; rk && p < nparts; p++) {
		int64_t lo;

		if (rd_kafka_query_watermark_offsets(rk, EVENTS_TOPIC_CONTENT_PUBLISHED, p, &lo,
						     &highs[p], 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
			rd_kafka_destroy(rk);
			return -1;
		}
	}
	if (rk)
		rd_kafka_destroy(rk);
	return rk ? 0 : -1;
}

/*
 * Commits the run's starting offsets for the test group, so the service
 * starts where the run began (the shared topic holds other teams' events)
 * and a restart after this call replays exactly what the run produced.
 */
int it_rewind_group(void)
{
	rd_kafka_t *rk = admin_consumer(group);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(nparts);
	rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__FAIL;

	for (int p = 0; p < nparts; p++)
		rd_kafka_topic_partition_list_add(l, EVENTS_TOPIC_CONTENT_PUBLISHED, p)->offset =
			highs[p];
	if (rk)
		e = rd_kafka_commit(rk, l, 0);
	rd_kafka_topic_partition_list_destroy(l);
	if (rk)
		rd_kafka_destroy(rk);
	return e == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
}

int it_start_app(void)
{
	char err[1024];

	if (!group[0]) {
		snprintf(group, sizeof(group), "simpul-search-it-%s", run);
		if (it_read_highs() != 0 || it_rewind_group() != 0) {
			fprintf(stderr, "cannot set the test group's offsets\n");
			return -1;
		}
	}
	cfg.group = group;
	if (search_app_start(&app, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "search app did not start: %s\n", err);
		search_app_stop(&app);
		return -1;
	}
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", search_app_port(&app));
	app_up = true;
	return 0;
}

void it_stop_app(void)
{
	if (app_up)
		search_app_stop(&app);
	app_up = false;
}

int it_setup(void **state)
{
	struct kafka_producer_config pc = {0};
	unsigned char rnd[8];
	char err[1024];

	(void)state;
	slog_init("search-test", SLOG_WARN);
	if (ts_env_load(&env, err, sizeof(err)) != 0) {
		fprintf(stderr, "FAIL: the stack is not reachable: %s\n", err);
		return -1;
	}
	if (util_random_bytes(rnd, sizeof(rnd)) != 0)
		return -1;
	util_hex(rnd, sizeof(rnd), run);
	cfg = (struct search_config){.bind = "127.0.0.1", .port = 0, .threads = 2, .workers = 4,
				     .queue_max = 256, .pg_url = env.pg_url,
				     .redis_host = env.redis_host, .redis_port = env.redis_port,
				     .kafka_brokers = env.kafka_brokers, .log_level = "warn",
				     .migrate = true, .consume = true,
				     .statement_timeout_ms = 5000, .cache_ttl_ms = 60000,
				     .shutdown_grace_ms = 5000, .max_query_bytes = 256,
				     .max_limit = 100, .rank_window = 2000,
				     .cursor_key = "test-cursor-key", .lexicon = ""};
	if (it_start_app() != 0)
		return -1;
	pc.brokers = env.kafka_brokers;
	pc.client_id = "search-test";
	prod = kafka_producer_new(&pc, err, sizeof(err));
	db = db_conn_new(env.pg_url, err, sizeof(err));
	if (!prod || !db) {
		fprintf(stderr, "FAIL: %s\n", err);
		return -1;
	}
	return 0;
}

int it_teardown(void **state)
{
	(void)state;
	it_stop_app();
	kafka_producer_free(prod);
	db_conn_free(db);
	for (int i = 0; i < nevents; i++)
		util_buf_release(&events[i]);
	ts_env_release(&env);
	return 0;
}


void it_publish(const struct doc *d)
{
	Simpul__V1__ContentPublished ev = SIMPUL__V1__CONTENT_PUBLISHED__INIT;
	Simpul__V1__Content c = SIMPUL__V1__CONTENT__INIT;
	struct events_meta_buf mb;
	struct events_headers hs;
	char *tags[2] = {run, (char *)d->tag2};
	char err[256];
	size_t nh;

	assert_true(nevents < MAX_EVENTS);
	assert_int_equal(events_meta_init(&mb, "content.published", "search-test@local", NULL, err,
					  sizeof(err)),
			 0);
	c.id = (char *)d->id;
	c.version = d->version;
	c.type = (Simpul__V1__ContentType)d->type;
	c.title = (char *)d->title;
	c.body = (char *)d->body;
	c.region_code = (char *)d->region;
	c.kim_id = (char *)(d->kim ? d->kim : "");
	c.tags = tags;
	c.n_tags = d->tag2 ? 2 : 1;
	ev.meta = &mb.meta;
	ev.content = &c;
	ev.withdrawn = d->withdrawn;
	ev.published_at_ms = d->published_at_ms ? d->published_at_ms : util_now_ms();
	{
		bool seen = false;

		for (int i = 0; i < nids; i++)
			seen = seen || !strcmp(run_ids[i], d->id);
		if (!seen)
			snprintf(run_ids[nids++], 37, "%s", d->id);
	}
	util_buf_init(&events[nevents], 0);
	assert_int_equal(events_pack(&ev.base, 0, &events[nevents], err, sizeof(err)), 0);
	nh = events_headers_from_meta(&hs, &mb.meta);
	assert_int_equal(kafka_producer_send(prod, EVENTS_TOPIC_CONTENT_PUBLISHED, d->id,
					     strlen(d->id), events[nevents].data,
					     events[nevents].len, hs.h, nh, NULL),
			 0);
	nevents++;
	assert_int_equal(kafka_producer_flush(prod, 10000), 0);
}

void it_new_id(char out[37])
{
	util_uuid_v4(out);
}

/* GET base + path_query; returns the parsed body (caller decrefs) and *status. */
json_t *it_get(const char *path_query, long *status)
{
	struct ts_response r;
	char url[2048];
	json_t *j;

	snprintf(url, sizeof(url), "%s%s", base, path_query);
	ts_http(&r, "GET", url, NULL, NULL, NULL, 0);
	*status = r.status;
	j = json_loads(r.body ? r.body : "", 0, NULL);
	ts_response_release(&r);
	return j;
}

/* GET /v1/search?tags=<run>,<tag>&<args>; 200 expected; caller decrefs. */
json_t *it_search(const char *tag, const char *args)
{
	char pq[1024];
	long st;
	json_t *j;

	snprintf(pq, sizeof(pq), "/v1/search?tags=%s,%s&%s", run, tag, args);
	j = it_get(pq, &st);
	if (st != 200)
		fail_msg("GET %s: status %ld", pq, st);
	assert_non_null(j);
	return j;
}

size_t it_nhits(json_t *j)
{
	return json_array_size(json_object_get(j, "hits"));
}

bool it_has_hit(json_t *j, const char *id)
{
	size_t i;
	json_t *h;

	json_array_foreach(json_object_get(j, "hits"), i, h) {
		if (!strcmp(json_string_value(json_object_get(h, "id")), id))
			return true;
	}
	return false;
}

/* Polls the query until it returns exactly n hits (want_id among them if given). */
json_t *it_wait_hits(const char *tag, const char *args, size_t n, const char *want_id)
{
	int64_t until = ts_now_ms() + WAIT_MS;

	for (;;) {
		json_t *j = it_search(tag, args);

		if (it_nhits(j) == n && (!want_id || it_has_hit(j, want_id)))
			return j;
		if (ts_now_ms() > until)
			fail_msg("query \"%s\": %zu hits, wanted %zu%s%s", args, it_nhits(j), n,
				 want_id ? " with " : "", want_id ? want_id : "");
		json_decref(j);
		ts_sleep_ms(100);
	}
}

json_int_t it_jint(json_t *o, const char *path1, const char *path2)
{
	json_t *v = json_object_get(o, path1);

	if (path2)
		v = json_object_get(v, path2);
	return json_integer_value(v);
}

double it_counter(struct metrics_counter *c, const char *label)
{
	return metrics_counter_value(c, (const char *const[]){label});
}

/* Waits until the indexer reported n more stale (ignored) events than before. */
void it_wait_stale(double before, int n)
{
	int64_t until = ts_now_ms() + WAIT_MS;

	while (it_counter(app.m.indexed, "stale") < before + n) {
		if (ts_now_ms() > until)
			fail_msg("the indexer did not process the replayed event");
		ts_sleep_ms(50);
	}
}

const char *it_hit_str(json_t *j, size_t i, const char *key)
{
	return json_string_value(json_object_get(json_array_get(json_object_get(j, "hits"), i), key));
}

