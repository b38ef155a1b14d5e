/*
 * services/search/tests/search_it.h - the integration test's harness
 * (search_it_harness.c): the stack's settings, the service in-process, a
 * producer of synthetic ContentPublished events, HTTP helpers and waits.
 */
#ifndef SEARCH_IT_H
#define SEARCH_IT_H

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <jansson.h>
#include <simpul/v1/moderation.pb-c.h>

#include "db/db.h"
#include "events/codec.h"
#include "events/meta.h"
#include "events/topics.h"
#include "kafka/admin.h"
#include "kafka/producer.h"
#include "metrics/metrics.h"
#include "search.h"
#include "slog/slog.h"
#include "ts/ts.h"
#include "util/err.h"
#include "util/ids.h"

#define WAIT_MS 20000
#define MAX_EVENTS 256

struct doc {
	const char *id;
	int version;
	int type; /* Simpul__V1__ContentType */
	const char *title, *body, *region, *kim, *tag2;
	bool withdrawn;
	int64_t published_at_ms;
};

extern struct ts_env env;
extern struct search_config cfg;
extern struct search_app app;
extern struct db_conn *db;
extern char run[17], group[64];
extern struct util_buf events[MAX_EVENTS]; /* every event this run produced, packed */
extern int nevents;
extern char run_ids[MAX_EVENTS][37];        /* distinct content ids of this run */
extern int nids;
extern int64_t highs[64];                   /* the topic's end when the run began */
extern int nparts;

int it_read_highs(void);
int it_rewind_group(void);
int it_start_app(void);
void it_stop_app(void);
int it_setup(void **state);
int it_teardown(void **state);
void it_publish(const struct doc *d);
void it_new_id(char out[37]);
json_t *it_get(const char *path_query, long *status);
json_t *it_search(const char *tag, const char *args);
size_t it_nhits(json_t *j);
bool it_has_hit(json_t *j, const char *id);
json_t *it_wait_hits(const char *tag, const char *args, size_t n, const char *want_id);
json_int_t it_jint(json_t *o, const char *path1, const char *path2);
double it_counter(struct metrics_counter *c, const char *label);
void it_wait_stale(double before, int n);
const char *it_hit_str(json_t *j, size_t i, const char *key);

#endif
