/*
 * services/moderate/relay.c - publishes simpul.moderation_outbox to Kafka.
 * Each round locks a batch of unsent rows (FOR UPDATE SKIP LOCKED, so
 * several moderate processes share the work without a leader), sends them
 * with the idempotent producer, waits for the delivery reports and marks
 * the acknowledged rows sent in the same transaction. A crash between the
 * ack and the commit republishes those rows: consumers dedupe by event id.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "db/db.h"
#include "kafka/producer.h"
#include "mod_events.h"
#include "mod_pipeline.h"
#include "slog/slog.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/ids.h"

#define BATCH 500
#define IDLE_MS 50
#define ERROR_PAUSE_MS 1000

struct mod_relay {
	const struct mod_config *cfg;
	struct db_conn *db;
	struct kafka_producer *prod;
	struct metrics_counter *published;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool wake, stopping;
	int64_t deadline_us;
	int pending;
	int results[BATCH];
	int64_t last_prune_us;
};

static void on_delivery(void *ud, void *opaque, int err, const char *errstr)
{
	struct mod_relay *r = ud;
	int *slot = opaque;

	*slot = err;
	r->pending--;
	if (err)
		slog_warn("outbox delivery failed", "err=%s detail=\"%s\"", util_err_name(err),
			  errstr);
}

static int send_one(struct mod_relay *r, PGresult *res, int i)
{
	const char *key = db_value(res, i, "msg_key");
	json_t *hj = json_loads(db_value(res, i, "headers"), 0, NULL);
	struct kafka_header hs[16];
	unsigned char *payload = NULL;
	size_t plen = 0, nh = 0;
	const char *name;
	json_t *v;
	int rc = UTIL_EINVAL;

	payload = mod_unhex(db_value(res, i, "payload"), &plen);
	if (payload) {
		json_object_foreach(hj, name, v) {
			if (nh < 16 && json_is_string(v))
				hs[nh++] = (struct kafka_header){name, json_string_value(v),
								 json_string_length(v)};
		}
		r->results[i] = 1;
		do {
			rc = kafka_producer_send(r->prod, db_value(res, i, "topic"), key,
						 key ? strlen(key) : 0, payload, plen, hs, nh,
						 &r->results[i]);
			if (rc == UTIL_EUNAVAIL)
				kafka_producer_poll(r->prod, 50);
		} while (rc == UTIL_EUNAVAIL && !r->stopping);
	}
	if (rc == 0)
		r->pending++;
	json_decref(hj);
	free(payload);
	return rc;
}

/* One batch in one transaction. Returns rows published, or -1. */
static int round_once(struct mod_relay *r)
{
	PGresult *res = NULL;
	struct util_buf ids;
	char err[256];
	int n = -1, sent = 0, rc = db_begin(r->db, err, sizeof(err));

	util_buf_init(&ids, 0);
	if (rc == 0)
		rc = db_exec(r->db,
			     "SELECT id, topic, msg_key, payload, headers FROM simpul.moderation_outbox "
			     "WHERE sent_at IS NULL ORDER BY id LIMIT 500 FOR UPDATE SKIP LOCKED",
			     0, NULL, NULL, &res, err, sizeof(err));
	if (rc == 0) {
		n = PQntuples(res);
		r->pending = 0;
		for (int i = 0; i < n; i++)
			if (send_one(r, res, i) != 0)
				r->results[i] = -1;
		while (r->pending > 0)
			kafka_producer_poll(r->prod, 100);
		rc = util_buf_append_str(&ids, "{");
		for (int i = 0; rc == 0 && i < n; i++)
			if (r->results[i] == 0)
				rc = util_buf_printf(&ids, "%s%s", sent++ ? "," : "",
						     db_value(res, i, "id"));
		rc = rc ? rc : util_buf_append_str(&ids, "}");
	}
	if (rc == 0 && sent) {
		const char *v[1] = {ids.data};

		rc = db_exec(r->db,
			     "UPDATE simpul.moderation_outbox SET sent_at = now() "
			     "WHERE id = ANY($1::bigint[])",
			     1, v, NULL, NULL, err, sizeof(err));
	}
	rc = rc ? rc : db_commit(r->db, err, sizeof(err));
	if (rc != 0) {
		db_rollback(r->db, NULL, 0);
		slog_warn("outbox round failed", "err=\"%s\"", err);
	} else {
		metrics_counter_add(r->published, NULL, sent);
	}
	PQclear(res);
	util_buf_release(&ids);
	return rc != 0 || sent < n ? -1 : n;
}

static void prune(struct mod_relay *r)
{
	char ms[32], err[256];
	const char *v[1] = {ms};

	if (util_mono_us() - r->last_prune_us < 60000000LL && r->last_prune_us)
		return;
	r->last_prune_us = util_mono_us();
	snprintf(ms, sizeof(ms), "%lld", (long long)r->cfg->outbox_retention_ms);
	if (db_exec(r->db,
		    "DELETE FROM simpul.moderation_outbox WHERE id IN (SELECT id FROM "
		    "simpul.moderation_outbox WHERE sent_at < now() - $1::bigint * interval '1 ms' "
		    "ORDER BY id LIMIT 5000)",
		    1, v, NULL, NULL, err, sizeof(err)) != 0)
		slog_warn("outbox prune failed", "err=\"%s\"", err);
}

static bool wait_ms(struct mod_relay *r, int ms)
{
	struct timespec ts;
	bool done;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)ms * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&r->mu);
	if (!r->wake && !r->stopping)
		pthread_cond_timedwait(&r->cv, &r->mu, &ts);
	r->wake = false;
	done = r->stopping && util_mono_us() >= r->deadline_us;
	pthread_mutex_unlock(&r->mu);
	return done;
}

static void *relay_main(void *p)
{
	struct mod_relay *r = p;

	for (;;) {
		int n = round_once(r);
		bool stopping;

		prune(r);
		pthread_mutex_lock(&r->mu);
		stopping = r->stopping;
		pthread_mutex_unlock(&r->mu);
		if (stopping && n == 0)
			break;
		if (n == BATCH)
			continue;
		if (wait_ms(r, n < 0 ? ERROR_PAUSE_MS : IDLE_MS))
			break;
	}
	return NULL;
}

struct mod_relay *mod_relay_new(const struct mod_config *cfg, struct metrics_registry *reg,
				char *err, size_t errlen)
{
	struct db_conn_opts opts = {.application_name = "simpul-moderate-relay",
				    .statement_timeout_ms = 30000,
				    .allow_down = true};
	struct mod_relay *r = calloc(1, sizeof(*r));
	struct kafka_producer_config pc = {.brokers = cfg->kafka_brokers,
					   .client_id = "simpul-moderate-relay",
					   .message_timeout_ms = 15000,
					   .on_delivery = on_delivery,
					   .linger_ms = 2};

	if (!r)
		return NULL;
	pc.ud = r;
	r->cfg = cfg;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	r->published = metrics_counter_new(reg, "moderate_outbox_published_total",
					   "Outbox rows published to Kafka.", NULL);
	r->db = db_conn_new_opts(cfg->pg_url, &opts, err, errlen);
	r->prod = r->db ? kafka_producer_new(&pc, err, errlen) : NULL;
	if (!r->prod) {
		mod_relay_free(r);
		return NULL;
	}
	return r;
}

int mod_relay_start(struct mod_relay *r)
{
	if (pthread_create(&r->thread, NULL, relay_main, r) != 0)
		return UTIL_EIO;
	r->started = true;
	return 0;
}

void mod_relay_wake(struct mod_relay *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->wake = true;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

void mod_relay_stop(struct mod_relay *r, int64_t grace_ms)
{
	if (!r || !r->started)
		return;
	pthread_mutex_lock(&r->mu);
	r->stopping = true;
	r->deadline_us = util_mono_us() + grace_ms * 1000;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	r->started = false;
}

void mod_relay_free(struct mod_relay *r)
{
	if (!r)
		return;
	mod_relay_stop(r, 0);
	kafka_producer_free(r->prod);
	db_conn_free(r->db);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
}
