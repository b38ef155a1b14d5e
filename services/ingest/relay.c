/*
 * services/ingest/relay.c - the outbox relay: publishes simpul.outbox rows
 * to Kafka with the idempotent producer and marks them sent on the delivery
 * report.
 *
 * Leadership: the relay holds a session advisory lock on its own connection;
 * with several ingest processes only the holder publishes (the others
 * retry every second). A crash between the broker's ack and the UPDATE can
 * publish a row again: consumers dedupe by event id. Kafka down: rows stay
 * unsent and a round is retried after a pause; nothing is lost. A round that
 * had a failure stops there and restarts from the oldest unsent row, so rows
 * of one key are not reordered by a retry in normal operation.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/db.h"
#include "ingest.h"
#include "kafka/producer.h"
#include "metrics/metrics.h"
#include "slog/slog.h"
#include "util/err.h"

#define RELAY_BATCH 1000
#define RELAY_IDLE_MS 100
#define RELAY_ERROR_PAUSE_MS 1000
#define RELAY_LOCK_KEY "5353390817" /* arbitrary, constant: "the ingest relay" */

struct row_state {
	int64_t id;
	int err;      /* delivery result; 1 while pending */
};

struct ingest_relay {
	const struct ingest_config *cfg;
	struct ingest_metrics *m;
	struct db_conn *db;
	struct kafka_producer *prod;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool wake, stopping;
	int64_t stop_deadline_us;
	bool leader;
	int64_t last_prune_us;
	struct row_state rows[RELAY_BATCH];
	size_t nrows;
	size_t pending;
};

static void on_delivery(void *ud, void *opaque, int err, const char *errstr)
{
	struct ingest_relay *r = ud;
	struct row_state *rs = opaque;

	rs->err = err;
	if (r->pending > 0)
		r->pending--;
	if (err)
		slog_warn("outbox delivery failed", "outbox_id=%lld err=%s detail=\"%s\"",
			  (long long)rs->id, util_err_name(err), errstr);
}

static struct kafka_producer *producer_new(struct ingest_relay *r, char *err, size_t errlen)
{
	struct kafka_producer_config pc = {.brokers = r->cfg->kafka_brokers,
					   .client_id = "simpul-ingest-relay",
					   .message_timeout_ms = 15000,
					   .on_delivery = on_delivery,
					   .ud = r};

	return kafka_producer_new(&pc, err, errlen);
}

struct ingest_relay *ingest_relay_new(const struct ingest_config *cfg, struct ingest_metrics *m,
				      char *err, size_t errlen)
{
	struct db_conn_opts opts = {.application_name = "simpul-ingest-relay",
				    .statement_timeout_ms = 30000,
				    .allow_down = true};
	struct ingest_relay *r = calloc(1, sizeof(*r));
	pthread_condattr_t ca;

	if (!r)
		return NULL;
	r->cfg = cfg;
	r->m = m;
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	r->db = db_conn_new_opts(cfg->pg_url, &opts, err, errlen);
	if (r->db)
		r->prod = producer_new(r, err, errlen);
	if (!r->db || !r->prod) {
		ingest_relay_free(r);
		return NULL;
	}
	return r;
}

void ingest_relay_wake(void *relay)
{
	struct ingest_relay *r = relay;

	pthread_mutex_lock(&r->mu);
	r->wake = true;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

/* Sleeps up to ms or until woken/stopped. Returns true when stopping for good. */
static bool pause_ms(struct ingest_relay *r, int64_t ms)
{
	int64_t until = util_mono_us() + ms * 1000;
	struct timespec ts = {.tv_sec = until / 1000000, .tv_nsec = (long)(until % 1000000) * 1000};
	bool stop;

	pthread_mutex_lock(&r->mu);
	if (!r->wake && !r->stopping)
		pthread_cond_timedwait(&r->cv, &r->mu, &ts);
	r->wake = false;
	stop = r->stopping && util_mono_us() >= r->stop_deadline_us;
	pthread_mutex_unlock(&r->mu);
	return stop;
}

static bool is_stopping(struct ingest_relay *r)
{
	bool s;

	pthread_mutex_lock(&r->mu);
	s = r->stopping;
	pthread_mutex_unlock(&r->mu);
	return s;
}

static bool pause_deadline_passed(struct ingest_relay *r)
{
	bool s;

	pthread_mutex_lock(&r->mu);
	s = r->stopping && util_mono_us() >= r->stop_deadline_us;
	pthread_mutex_unlock(&r->mu);
	return s;
}

/* Holds (or takes) the advisory lock on this session. */
static bool take_leadership(struct ingest_relay *r)
{
	static const char sql[] =
		"SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_locks WHERE "
		"locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid() AND granted AND "
		"((classid::bigint << 32) | objid::bigint) = $1::bigint) THEN true "
		"ELSE pg_catalog.pg_try_advisory_lock($1::bigint) END AS leader";
	const char *vals[1] = {RELAY_LOCK_KEY};
	PGresult *res = NULL;
	char err[256];
	bool was = r->leader;

	r->leader = db_exec(r->db, sql, 1, vals, NULL, &res, err, sizeof(err)) == 0 &&
		    db_value(res, 0, "leader") && db_value(res, 0, "leader")[0] == 't';
	PQclear(res);
	if (r->leader != was)
		slog_info(r->leader ? "outbox relay leading" : "outbox relay standing by", NULL);
	return r->leader;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* bytea text output "\x0a1b..." -> bytes (malloc'd); NULL on bad input. */
static unsigned char *hex_decode(const char *s, size_t *len)
{
	size_t n;
	unsigned char *out;

	if (!s || s[0] != '\\' || s[1] != 'x')
		return NULL;
	s += 2;
	n = strlen(s) / 2;
	out = malloc(n + 1);
	for (size_t i = 0; out && i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			free(out);
			return NULL;
		}
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	*len = n;
	return out;
}

/* Sends one row; headers are a JSON object of strings. */
static int send_row(struct ingest_relay *r, PGresult *res, int i, struct row_state *rs)
{
	const char *topic = db_value(res, i, "topic"), *key = db_value(res, i, "msg_key");
	const char *hex = db_value(res, i, "payload");
	size_t plen = 0;
	unsigned char *payload = hex_decode(hex, &plen);
	json_t *hj = json_loads(db_value(res, i, "headers"), 0, NULL);
	struct kafka_header hs[16];
	size_t nh = 0;
	const char *name;
	json_t *v;
	int rc;

	if (!payload) {
		json_decref(hj);
		return UTIL_ENOMEM;
	}
	json_object_foreach(hj, name, v) {
		if (nh < 16 && json_is_string(v)) {
			hs[nh].name = name;
			hs[nh].value = json_string_value(v);
			hs[nh].len = json_string_length(v);
			nh++;
		}
	}
	for (;;) {
		rc = kafka_producer_send(r->prod, topic, key, key ? strlen(key) : 0, payload, plen,
					 hs, nh, rs);
		if (rc != UTIL_EUNAVAIL || is_stopping(r))
			break;
		kafka_producer_poll(r->prod, 50); /* local queue full */
	}
	json_decref(hj);
	free(payload);
	return rc;
}

static void mark_sent(struct ingest_relay *r, size_t upto)
{
	struct util_buf ids;
	size_t n = 0;
	char err[256];
	int rc = 0;

	util_buf_init(&ids, 0);
	rc |= util_buf_append_str(&ids, "{");
	for (size_t i = 0; i < upto; i++) {
		if (r->rows[i].err != 0)
			continue;
		rc |= util_buf_printf(&ids, "%s%lld", n ? "," : "", (long long)r->rows[i].id);
		n++;
	}
	rc |= util_buf_append_str(&ids, "}");
	if (n && !rc) {
		const char *vals[1] = {ids.data};

		rc = db_exec(r->db,
			     "UPDATE simpul.outbox SET sent_at = pg_catalog.now() "
			     "WHERE id = ANY($1::bigint[])",
			     1, vals, NULL, NULL, err, sizeof(err));
		if (rc)
			slog_warn("outbox mark sent failed", "rows=%zu err=\"%s\"", n, err);
		else
			metrics_counter_add(r->m->published, NULL, (double)n);
	}
	util_buf_release(&ids);
}

/* One round: up to RELAY_BATCH rows. Returns rows handled, or -1 on trouble. */
static int round_once(struct ingest_relay *r)
{
	PGresult *res = NULL;
	char err[256];
	int n, failed = 0;

	if (db_exec(r->db,
		    "SELECT id, topic, msg_key, payload, headers FROM simpul.outbox "
		    "WHERE sent_at IS NULL ORDER BY id LIMIT " "1000",
		    0, NULL, NULL, &res, err, sizeof(err)) != 0)
		return -1;
	n = PQntuples(res);
	r->nrows = 0;
	r->pending = 0;
	for (int i = 0; i < n && !failed; i++) {
		struct row_state *rs = &r->rows[r->nrows];

		rs->id = strtoll(db_value(res, i, "id"), NULL, 10);
		rs->err = 1;
		if (send_row(r, res, i, rs) != 0) {
			failed = 1;
			break;
		}
		r->nrows++;
		r->pending++;
	}
	PQclear(res);
	while (r->pending > 0) {
		kafka_producer_poll(r->prod, 100);
		if (pause_deadline_passed(r))
			break; /* stopping: the unsent rows wait for the next relay */
	}
	for (size_t i = 0; i < r->nrows; i++)
		failed |= r->rows[i].err != 0;
	mark_sent(r, r->nrows);
	if (failed)
		metrics_counter_inc(r->m->relay_failures, NULL);
	return failed ? -1 : n;
}

static void update_backlog(struct ingest_relay *r)
{
	PGresult *res = NULL;
	char err[256];

	if (db_exec(r->db, "SELECT count(*) AS n FROM simpul.outbox WHERE sent_at IS NULL", 0,
		    NULL, NULL, &res, err, sizeof(err)) == 0)
		metrics_gauge_set(r->m->outbox_backlog, NULL,
				  strtod(db_value(res, 0, "n"), NULL));
	PQclear(res);
}

/* Deletes sent rows past the retention, a small batch at a time, once a minute. */
static void prune(struct ingest_relay *r)
{
	char ms[32], err[256];
	const char *vals[1] = {ms};
	int64_t now = util_mono_us();

	if (now - r->last_prune_us < 60 * 1000000LL && r->last_prune_us)
		return;
	r->last_prune_us = now;
	snprintf(ms, sizeof(ms), "%lld", (long long)r->cfg->outbox_retention_ms);
	if (db_exec(r->db,
		    "DELETE FROM simpul.outbox WHERE id IN (SELECT id FROM simpul.outbox "
		    "WHERE sent_at < pg_catalog.now() - $1::bigint * interval '1 millisecond' "
		    "ORDER BY id LIMIT 5000)",
		    1, vals, NULL, NULL, err, sizeof(err)) != 0)
		slog_warn("outbox prune failed", "err=\"%s\"", err);
	update_backlog(r);
}

/* Rebuilds the producer after a fatal idempotence error. */
static void check_producer(struct ingest_relay *r)
{
	char err[256];

	if (r->prod && !kafka_producer_fatal(r->prod, err, sizeof(err)))
		return;
	if (r->prod)
		slog_error("kafka producer fatal, recreating", "err=\"%s\"", err);
	kafka_producer_free(r->prod);
	r->prod = producer_new(r, err, sizeof(err));
	if (!r->prod)
		slog_error("kafka producer create failed", "err=\"%s\"", err);
}

static void *relay_main(void *p)
{
	struct ingest_relay *r = p;
	int64_t idle_ms = RELAY_IDLE_MS;

	for (;;) {
		int n = -1;

		if (r->prod && take_leadership(r)) {
			prune(r);
			n = round_once(r);
		}
		if (n < 0)
			idle_ms = RELAY_ERROR_PAUSE_MS;
		else
			idle_ms = n == RELAY_BATCH ? 0 : RELAY_IDLE_MS;
		if (n > 0 && n < RELAY_BATCH)
			update_backlog(r);
		check_producer(r);
		if (is_stopping(r) && (n == 0 || !r->leader))
			break; /* drained (or not ours to drain) */
		if (pause_ms(r, idle_ms))
			break;
	}
	return NULL;
}

int ingest_relay_start(struct ingest_relay *r)
{
	if (pthread_create(&r->thread, NULL, relay_main, r) != 0)
		return UTIL_EIO;
	r->started = true;
	return 0;
}

void ingest_relay_stop(struct ingest_relay *r, int64_t grace_ms)
{
	if (!r || !r->started)
		return;
	pthread_mutex_lock(&r->mu);
	r->stopping = true;
	r->stop_deadline_us = util_mono_us() + grace_ms * 1000;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	r->started = false;
}

void ingest_relay_free(struct ingest_relay *r)
{
	if (!r)
		return;
	ingest_relay_stop(r, 0);
	kafka_producer_free(r->prod);
	db_conn_free(r->db);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

bool ingest_relay_kafka_ready(struct ingest_relay *r, char *detail, size_t len)
{
	bool ok = r->prod && kafka_producer_ready(r->prod, 500);

	snprintf(detail, len, "%s", ok ? (r->leader ? "leader" : "standby") : "kafka unreachable");
	return ok;
}
