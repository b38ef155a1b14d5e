/*
 * services/search/announce.c - publishes ContentIndexed on
 * kim.content.indexed.v1 from the state of simpul.search_docs.
 *
 * Why not an after-commit produce: the consumer loop stores the offset as
 * soon as the handler returns, so a produce that had not been acknowledged
 * yet would be lost by a crash; waiting for acks=all inside the handler
 * would cap indexing at one broker round trip per item. Why not
 * simpul.outbox: ingest's relay publishes every unsent row of that table,
 * so two relays would race on it. Instead the row itself is the outbox:
 * every applied change gets a new seq, and this thread publishes rows with
 * announced_seq < seq, then records announced_seq after the broker's ack.
 * Event ids are derived from (content id, version, removed), so a re-sent
 * event (crash between ack and UPDATE, two instances) has the same id and
 * downstream consumers dedupe it. One instance publishes at a time (session
 * advisory lock).
 *
 * The thread also refreshes the gauges (backlogs) and reads the index
 * generation that cache keys include.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
#include "util/err.h"
#include "util/ids.h"

#define BATCH 500
#define IDLE_MS 200
#define STATS_EVERY_US (5 * 1000000LL)
#define LAG_EVERY_US (15 * 1000000LL)
#define LOCK_KEY "5353390833" /* arbitrary, constant: "the search announcer" */

struct row {
	int64_t seq;
	int err; /* 1 pending, 0 acked */
	char id[37];
};

struct search_announcer {
	const struct search_config *cfg;
	struct search_metrics *m;
	struct db_conn *db;
	struct kafka_producer *prod;
	char producer_name[EVENTS_PRODUCER_MAX + 1];
	pthread_t thread;
	bool started, leader;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool wake, stopping;
	int64_t generation; /* guarded by mu */
	int64_t last_stats_us, last_lag_us;
	struct row rows[BATCH];
};

void search_indexed_event_id(const char *content_id, int version, bool removed, char out[37])
{
	char in[96];
	unsigned char h[32];
	char hex[65];
	int n = snprintf(in, sizeof(in), "content.indexed|%s|%d|%d", content_id, version,
			 removed ? 1 : 0);

	util_sha256(in, (size_t)n, h);
	h[6] = (unsigned char)((h[6] & 0x0f) | 0x50); /* version 5 style (name based) */
	h[8] = (unsigned char)((h[8] & 0x3f) | 0x80);
	util_hex(h, 16, hex);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
		 hex + 20);
}

static void on_delivery(void *ud, void *opaque, int err, const char *errstr)
{
	struct row *r = opaque;

	(void)ud;
	r->err = err;
	if (err)
		slog_warn("content indexed delivery failed", "id=%s err=%s detail=\"%s\"", r->id,
			  util_err_name(err), errstr);
}

struct search_announcer *search_announcer_new(const struct search_config *cfg,
					      struct search_metrics *m, char *err,
					      size_t errlen)
{
	struct db_conn_opts opts = {.application_name = "simpul-search-announcer",
				    .statement_timeout_ms = 30000,
				    .allow_down = true};
	struct search_announcer *a = calloc(1, sizeof(*a));
	struct kafka_producer_config pc = {.brokers = cfg->kafka_brokers,
					   .client_id = "simpul-search",
					   .message_timeout_ms = 15000,
					   .on_delivery = on_delivery,
					   .ud = a};
	char host[64] = "";
	pthread_condattr_t ca;

	if (!a)
		return NULL;
	a->cfg = cfg;
	a->m = m;
	pthread_mutex_init(&a->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
		snprintf(host, sizeof(host), "localhost");
	snprintf(a->producer_name, sizeof(a->producer_name), "search@%.100s", host);
	a->db = db_conn_new_opts(cfg->pg_url, &opts, err, errlen);
	if (a->db)
		a->prod = kafka_producer_new(&pc, err, errlen);
	if (!a->db || !a->prod) {
		search_announcer_free(a);
		return NULL;
	}
	return a;
}

void search_announcer_wake(void *ud)
{
	struct search_announcer *a = ud;

	pthread_mutex_lock(&a->mu);
	a->wake = true;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

int64_t search_announcer_generation(struct search_announcer *a)
{
	int64_t g;

	if (!a)
		return 0;
	pthread_mutex_lock(&a->mu);
	g = a->generation;
	pthread_mutex_unlock(&a->mu);
	return g;
}

bool search_announcer_kafka_ready(struct search_announcer *a)
{
	return a && kafka_producer_ready(a->prod, 500);
}

/* Returns true when stopping. */
static bool pause_ms(struct search_announcer *a, int64_t ms)
{
	int64_t until = util_mono_us() + ms * 1000;
	struct timespec ts = {.tv_sec = until / 1000000, .tv_nsec = (long)(until % 1000000) * 1000};
	bool stop;

	pthread_mutex_lock(&a->mu);
	if (!a->wake && !a->stopping)
		pthread_cond_timedwait(&a->cv, &a->mu, &ts);
	a->wake = false;
	stop = a->stopping;
	pthread_mutex_unlock(&a->mu);
	return stop;
}

static bool take_leadership(struct search_announcer *a)
{
	static const char sql[] =
		"SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_locks WHERE "
		"locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid() AND granted AND "
		"objid = ($1::bigint & 4294967295)::oid) THEN true "
		"ELSE pg_catalog.pg_try_advisory_lock($1::bigint) END AS leader";
	const char *vals[] = {LOCK_KEY};
	PGresult *res = NULL;
	char err[256];
	bool was = a->leader;

	a->leader = db_exec(a->db, sql, 1, vals, NULL, &res, err, sizeof(err)) == 0 &&
		    db_value(res, 0, "leader") && db_value(res, 0, "leader")[0] == 't';
	PQclear(res);
	if (a->leader != was)
		slog_info(a->leader ? "announcer leading" : "announcer standing by", NULL);
	return a->leader;
}

static int send_row(struct search_announcer *a, const PGresult *res, int i, struct row *r)
{
	Simpul__V1__ContentIndexed ev = SIMPUL__V1__CONTENT_INDEXED__INIT;
	struct events_meta_buf mb;
	struct events_headers hs;
	struct util_buf out;
	char err[256];
	bool removed = db_value(res, i, "withdrawn")[0] == 't';
	size_t nh;
	int rc;

	snprintf(r->id, sizeof(r->id), "%s", db_value(res, i, "id"));
	r->seq = strtoll(db_value(res, i, "seq"), NULL, 10);
	r->err = 1;
	ev.content_id = r->id;
	ev.version = (int32_t)strtol(db_value(res, i, "version"), NULL, 10);
	ev.removed = removed;
	ev.indexed_at_ms = strtoll(db_value(res, i, "at_ms"), NULL, 10);
	ev.region_code = (char *)db_value(res, i, "region_code");
	rc = events_meta_init(&mb, "content.indexed", a->producer_name, NULL, err, sizeof(err));
	if (rc != 0)
		return rc;
	search_indexed_event_id(r->id, ev.version, removed, mb.id);
	ev.meta = &mb.meta;
	util_buf_init(&out, 0);
	rc = events_pack(&ev.base, 0, &out, err, sizeof(err));
	nh = events_headers_from_meta(&hs, &mb.meta);
	if (rc == 0)
		rc = kafka_producer_send(a->prod, EVENTS_TOPIC_CONTENT_INDEXED, r->id,
					 strlen(r->id), out.data, out.len, hs.h, nh, r);
	util_buf_release(&out);
	return rc;
}

/* Records announced_seq for the acknowledged rows. */
static void mark(struct search_announcer *a, size_t n)
{
	struct util_buf ids, seqs;
	const char *vals[2];
	char err[256];
	size_t k = 0;
	int rc = 0;

	util_buf_init(&ids, 0);
	util_buf_init(&seqs, 0);
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (a->rows[i].err != 0)
			continue;
		rc = util_buf_printf(&ids, "%s%s", k ? "," : "{", a->rows[i].id);
		if (rc == 0)
			rc = util_buf_printf(&seqs, "%s%" PRId64, k ? "," : "{", a->rows[i].seq);
		k++;
	}
	if (rc == 0 && k > 0 && util_buf_append_str(&ids, "}") == 0 &&
	    util_buf_append_str(&seqs, "}") == 0) {
		vals[0] = ids.data;
		vals[1] = seqs.data;
		if (db_exec(a->db,
			    "UPDATE simpul.search_docs AS d SET announced_seq = v.seq "
			    "FROM ROWS FROM (pg_catalog.unnest($1::uuid[]), pg_catalog.unnest($2::bigint[])) "
			    "AS v(id, seq) "
			    "WHERE d.id = v.id AND d.announced_seq < v.seq",
			    2, vals, NULL, NULL, err, sizeof(err)) != 0)
			slog_warn("announce mark failed", "err=\"%s\"", err);
		else
			metrics_counter_add(a->m->announced, NULL, (double)k);
	}
	util_buf_release(&ids);
	util_buf_release(&seqs);
}

/* One round; returns the number of rows found (0: idle), -1 on failure. */
static int round_once(struct search_announcer *a)
{
	PGresult *res = NULL;
	char err[256];
	int n, sent = 0;

	/* late delivery reports must not land on the next round's rows */
	if (kafka_producer_outq_len(a->prod) > 0 && kafka_producer_flush(a->prod, 1000) != 0)
		return -1;
	if (db_exec(a->db,
		    "SELECT id::text AS id, version, withdrawn, region_code, seq, "
		    "(extract(epoch FROM indexed_at) * 1000)::bigint AS at_ms "
		    "FROM simpul.search_docs WHERE announced_seq < seq ORDER BY seq LIMIT 500",
		    0, NULL, NULL, &res, err, sizeof(err)) != 0)
		return -1;
	n = PQntuples(res);
	for (int i = 0; i < n; i++) {
		if (send_row(a, res, i, &a->rows[i]) != 0)
			break;
		sent++;
	}
	PQclear(res);
	if (sent > 0 && kafka_producer_flush(a->prod, 20000) != 0)
		slog_warn("announce flush timed out", "rows=%d", sent);
	mark(a, (size_t)sent);
	return sent < n ? -1 : n;
}

static void refresh_stats(struct search_announcer *a)
{
	static const char *const topics[] = {EVENTS_TOPIC_CONTENT_PUBLISHED};
	int64_t now = util_mono_us();
	struct kafka_partition_lag *lag = NULL;
	PGresult *res = NULL;
	char err[256];
	size_t n = 0;
	double total = 0;

	if (now - a->last_stats_us < STATS_EVERY_US)
		return;
	a->last_stats_us = now;
	if (db_exec(a->db,
		    "SELECT (SELECT generation FROM simpul.search_state) AS g, "
		    "(SELECT count(*) FROM simpul.search_docs WHERE announced_seq < seq) AS n",
		    0, NULL, NULL, &res, err, sizeof(err)) == 0 && PQntuples(res) == 1) {
		pthread_mutex_lock(&a->mu);
		a->generation = strtoll(db_value(res, 0, "g"), NULL, 10);
		pthread_mutex_unlock(&a->mu);
		metrics_gauge_set(a->m->announce_backlog, NULL,
				  strtod(db_value(res, 0, "n"), NULL));
	}
	PQclear(res);
	if (now - a->last_lag_us < LAG_EVERY_US)
		return;
	a->last_lag_us = now;
	if (kafka_group_lag(a->cfg->kafka_brokers, a->cfg->group, topics, 1, 3000, &lag, &n, err,
			    sizeof(err)) == 0) {
		for (size_t i = 0; i < n; i++)
			if (strcmp(lag[i].topic, EVENTS_TOPIC_CONTENT_PUBLISHED) == 0)
				total += (double)lag[i].lag;
		metrics_gauge_set(a->m->backlog, NULL, total);
	}
	free(lag);
}

static void *announcer_main(void *arg)
{
	struct search_announcer *a = arg;

	for (;;) {
		int n = 0;

		refresh_stats(a);
		if (take_leadership(a))
			n = round_once(a);
		kafka_producer_poll(a->prod, 0);
		if (n == BATCH)
			continue;
		if (pause_ms(a, n < 0 ? 1000 : IDLE_MS))
			break;
	}
	/* one last round so that what was indexed before the stop is announced */
	if (a->leader)
		(void)round_once(a);
	return NULL;
}

int search_announcer_start(struct search_announcer *a)
{
	a->last_stats_us = -STATS_EVERY_US;
	a->last_lag_us = -LAG_EVERY_US;
	if (pthread_create(&a->thread, NULL, announcer_main, a) != 0)
		return UTIL_EIO;
	a->started = true;
	return 0;
}

void search_announcer_stop(struct search_announcer *a)
{
	if (!a || !a->started)
		return;
	pthread_mutex_lock(&a->mu);
	a->stopping = true;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
	pthread_join(a->thread, NULL);
	a->started = false;
}

void search_announcer_free(struct search_announcer *a)
{
	if (!a)
		return;
	search_announcer_stop(a);
	kafka_producer_free(a->prod);
	db_conn_free(a->db);
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->mu);
	free(a);
}
