/*
 * services/report/rebuild.c - recomputes every aggregate from the topics'
 * beginning into a fresh generation, then switches.
 *
 * 1. report_state.building_gen := current_gen + 1 (leftover rows of that
 *    generation from an abandoned attempt are deleted first). From now on the
 *    live consumer applies every event to both generations.
 * 2. The high watermark of every partition is taken; a consumer in a new
 *    group replays every partition from its beginning up to that mark into
 *    the new generation only. Events past the mark reach the new generation
 *    through the live consumer; the event-id dedupe makes overlaps harmless.
 * 3. One UPDATE makes the new generation current (readers switch at once),
 *    everything is marked dirty so the report topics are re-emitted, and the
 *    old generation's rows are deleted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "kafka/admin.h"
#include "report.h"
#include "slog/slog.h"
#include "util/err.h"
#include "util/ids.h"

static const char *const gen_tables[] = {
	"simpul.report_events",	     "simpul.report_content",	  "simpul.report_cells",
	"simpul.report_region_day",  "simpul.report_kims",	  "simpul.report_publications",
	"simpul.report_deliveries",
};

struct report_rebuild {
	const struct report_config *cfg;
	pthread_mutex_t mu;
	pthread_t thread;
	bool running, joinable;
	volatile bool stopping;
	int gen, old_gen;
	char state[16];
	char error[256];
	int64_t started_ms, finished_ms;
	struct report_consumer *rc;
	uint64_t applied;
};

struct report_rebuild *report_rebuild_new(const struct report_config *cfg)
{
	struct report_rebuild *rb = calloc(1, sizeof(*rb));

	if (!rb)
		return NULL;
	rb->cfg = cfg;
	pthread_mutex_init(&rb->mu, NULL);
	snprintf(rb->state, sizeof(rb->state), "idle");
	return rb;
}

int report_gen_delete(struct db_conn *c, int gen, char *err, size_t errlen)
{
	char g[16], sql[128];
	const char *v[1] = {g};
	int rc = 0;

	snprintf(g, sizeof(g), "%d", gen);
	for (size_t i = 0; rc == 0 && i < sizeof(gen_tables) / sizeof(gen_tables[0]); i++) {
		snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE gen = $1::int", gen_tables[i]);
		rc = db_exec(c, sql, 1, v, NULL, NULL, err, errlen);
	}
	return rc;
}

/* Takes the high watermarks of every consumed partition as targets. */
static int set_targets(struct report_rebuild *rb, const char *group, char *err, size_t errlen)
{
	struct kafka_partition_lag *lag = NULL;
	size_t n = 0;
	const char **topics = NULL;
	int32_t *parts = NULL;
	int64_t *high = NULL;
	int rc = kafka_group_lag(rb->cfg->kafka_brokers, group, report_topics, report_ntopics,
				 10000, &lag, &n, err, errlen);

	if (rc)
		return rc;
	topics = calloc(n + 1, sizeof(*topics));
	parts = calloc(n + 1, sizeof(*parts));
	high = calloc(n + 1, sizeof(*high));
	if (!topics || !parts || !high) {
		rc = UTIL_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		topics[i] = lag[i].topic;
		parts[i] = lag[i].partition;
		high[i] = lag[i].lag > 0 ? lag[i].high : 0; /* empty partition: nothing to wait for */
	}
	rc = report_consumer_set_targets(rb->rc, topics, parts, high, n);
out:
	free(topics);
	free(parts);
	free(high);
	free(lag);
	return rc;
}

static int do_rebuild(struct report_rebuild *rb, struct db_conn *c, char *err, size_t errlen)
{
	char group[96], g[16];
	const char *v[1] = {g};
	int64_t marked = 0;
	uint64_t dups;
	int rc;

	snprintf(group, sizeof(group), "simpul-report-rebuild-%d-%lld", rb->gen,
		 (long long)util_now_ms());
	rb->rc = report_consumer_new(rb->cfg, group, rb->gen, err, errlen);
	if (!rb->rc)
		return UTIL_EIO;
	rc = set_targets(rb, group, err, errlen);
	if (rc == 0)
		rc = report_consumer_start(rb->rc);
	while (rc == 0 && !rb->stopping && !report_consumer_done(rb->rc)) {
		usleep(200 * 1000);
		report_consumer_counts(rb->rc, &rb->applied, &dups);
	}
	report_consumer_counts(rb->rc, &rb->applied, &dups);
	report_consumer_free(rb->rc);
	rb->rc = NULL;
	if (rc)
		return rc;
	if (rb->stopping)
		return util_err_set(err, errlen, UTIL_EUNAVAIL, "stopped before the end");
	snprintf(g, sizeof(g), "%d", rb->gen);
	rc = db_exec(c,
		     "UPDATE simpul.report_state SET current_gen = building_gen,"
		     " building_gen = NULL, switched_at = pg_catalog.now()"
		     " WHERE building_gen = $1::int",
		     1, v, NULL, NULL, err, errlen);
	if (rc == 0)
		rc = report_mark_all_dirty(c, &marked, err, errlen);
	if (rc == 0)
		rc = report_gen_delete(c, rb->old_gen, err, errlen);
	return rc;
}

static void *rebuild_main(void *p)
{
	struct report_rebuild *rb = p;
	char err[256] = "";
	struct db_conn *c = db_conn_new(rb->cfg->pg_url, err, sizeof(err));
	int rc = c ? do_rebuild(rb, c, err, sizeof(err)) : UTIL_EUNAVAIL;

	if (rc && c) {
		/* abandon: the live consumer stops writing the half-built generation */
		const char *sql = "UPDATE simpul.report_state SET building_gen = NULL";

		if (db_exec(c, sql, 0, NULL, NULL, NULL, NULL, 0) == 0 &&
		    report_gen_delete(c, rb->gen, NULL, 0) != 0)
			slog_warn("abandoned generation not deleted", "gen=%d", rb->gen);
	}
	db_conn_free(c);
	pthread_mutex_lock(&rb->mu);
	snprintf(rb->state, sizeof(rb->state), "%s", rc ? "failed" : "done");
	snprintf(rb->error, sizeof(rb->error), "%s", rc ? err : "");
	rb->finished_ms = util_now_ms();
	rb->running = false;
	pthread_mutex_unlock(&rb->mu);
	slog_info("rebuild finished", "gen=%d rc=%s applied=%llu err=\"%s\"", rb->gen,
		  util_err_name(rc), (unsigned long long)rb->applied, rc ? err : "");
	return NULL;
}

/* Opens the new generation; sets rb->gen and rb->old_gen. */
static int open_gen(struct report_rebuild *rb, char *err, size_t errlen)
{
	struct db_conn *c = db_conn_new(rb->cfg->pg_url, err, errlen);
	PGresult *r = NULL;
	int rc;

	if (!c)
		return UTIL_EUNAVAIL;
	rc = db_exec(c,
		     "UPDATE simpul.report_state SET building_gen = current_gen + 1,"
		     " build_started = pg_catalog.now() WHERE building_gen IS NULL"
		     " RETURNING current_gen, building_gen",
		     0, NULL, NULL, &r, err, errlen);
	if (rc == 0 && PQntuples(r) != 1)
		rc = util_err_set(err, errlen, UTIL_ECONFLICT, "a rebuild is already running");
	if (rc == 0) {
		rb->old_gen = atoi(db_value(r, 0, "current_gen"));
		rb->gen = atoi(db_value(r, 0, "building_gen"));
		/* leftovers of an abandoned attempt; rows the live consumer added
		 * since the UPDATE are deleted too, and come back with the replay */
		rc = report_gen_delete(c, rb->gen, err, errlen);
	}
	PQclear(r);
	db_conn_free(c);
	return rc;
}

int report_rebuild_start(struct report_rebuild *rb, int *gen, char *err, size_t errlen)
{
	int rc;

	pthread_mutex_lock(&rb->mu);
	if (rb->running) {
		pthread_mutex_unlock(&rb->mu);
		return util_err_set(err, errlen, UTIL_ECONFLICT, "a rebuild is already running");
	}
	if (rb->joinable)
		pthread_join(rb->thread, NULL);
	rb->joinable = false;
	rc = open_gen(rb, err, errlen);
	if (rc == 0) {
		rb->running = true;
		rb->applied = 0;
		rb->started_ms = util_now_ms();
		rb->finished_ms = 0;
		snprintf(rb->state, sizeof(rb->state), "running");
		if (pthread_create(&rb->thread, NULL, rebuild_main, rb) != 0) {
			rb->running = false;
			rc = util_err_set(err, errlen, UTIL_EIO, "cannot start thread");
		} else {
			rb->joinable = true;
		}
	}
	*gen = rb->gen;
	pthread_mutex_unlock(&rb->mu);
	return rc;
}

json_t *report_rebuild_status(struct report_rebuild *rb)
{
	json_t *o;

	pthread_mutex_lock(&rb->mu);
	o = json_pack("{sssisIsIsIss}", "state", rb->state, "generation", rb->gen, "applied",
		      (json_int_t)rb->applied, "started_at_ms", (json_int_t)rb->started_ms,
		      "finished_at_ms", (json_int_t)rb->finished_ms, "error", rb->error);
	pthread_mutex_unlock(&rb->mu);
	return o;
}

void report_rebuild_free(struct report_rebuild *rb)
{
	if (!rb)
		return;
	rb->stopping = true;
	if (rb->joinable)
		pthread_join(rb->thread, NULL);
	pthread_mutex_destroy(&rb->mu);
	free(rb);
}
