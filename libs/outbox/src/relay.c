/*
 * libs/outbox/src/relay.c - the outbox relay: one thread with its own
 * database connection and idempotent producer that publishes one outbox
 * table while it holds the table's advisory lock (see outbox/outbox.h for
 * the design and its guarantees).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "db/db.h"
#include "kafka/producer.h"
#include "metrics/metrics.h"
#include "outbox/outbox.h"
#include "slog/slog.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/ids.h"

#define DEF_RETENTION_MS (24LL * 3600 * 1000)
#define DEF_BATCH 1000
#define DEF_ROUND_BYTES (16LL * 1024 * 1024)
#define DEF_IDLE_MS 100
#define DEF_ERROR_PAUSE_MS 1000
#define DEF_STANDBY_MS 1000
#define DEF_MSG_TIMEOUT_MS 15000
#define PRUNE_BATCH 10000
#define PRUNE_EVERY_US (60 * 1000000LL)
#define COUNT_EVERY_US 1000000LL

struct row_state {
	int64_t id;
	int err;      /* delivery result: 1 while pending, 0 acked, < 0 failed */
	bool marked;  /* sent_at written */
};

struct outbox_relay {
	char *pg_url, *brokers, *table, *client_id;
	struct kafka_kv *extra;
	size_t nextra;
	struct outbox_relay_config cfg; /* strings point at the copies above */
	char lock_key[24];
	char *sql_select, *sql_mark, *sql_prune, *sql_count;
	struct db_conn *db;
	pthread_mutex_t prod_mu; /* guards prod's replacement against readiness probes */
	struct kafka_producer *prod;
	struct metrics_gauge *m_backlog;
	struct metrics_counter *m_published, *m_failures;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;      /* guards wake, stopping, deadline_us and st */
	pthread_cond_t cv;
	bool wake, stopping;
	int64_t deadline_us;
	struct outbox_relay_stats st;
	/* relay thread only: */
	bool leading;
	struct row_state *rows;
	size_t nrows, pending;
	int round_err;
	char round_errstr[256];
	int64_t next_prune_us, next_count_us;
};

/* ---- small helpers ---- */

static void stats_update(struct outbox_relay *r, void (*fn)(struct outbox_relay_stats *, int64_t),
			 int64_t v)
{
	pthread_mutex_lock(&r->mu);
	fn(&r->st, v);
	pthread_mutex_unlock(&r->mu);
}

static void st_leader(struct outbox_relay_stats *s, int64_t v) { s->leader = v != 0; }
static void st_kafka(struct outbox_relay_stats *s, int64_t v) { s->kafka_ok = v != 0; }
static void st_published(struct outbox_relay_stats *s, int64_t v) { s->published += (uint64_t)v; }
static void st_failed(struct outbox_relay_stats *s, int64_t v) { s->failed_rounds += (uint64_t)v; }
static void st_pruned(struct outbox_relay_stats *s, int64_t v) { s->pruned += (uint64_t)v; }
static void st_backlog(struct outbox_relay_stats *s, int64_t v) { s->backlog = v; }

/* True when stopping and the grace deadline has passed. */
static bool deadline_passed(struct outbox_relay *r)
{
	bool d;

	pthread_mutex_lock(&r->mu);
	d = r->stopping && util_mono_us() >= r->deadline_us;
	pthread_mutex_unlock(&r->mu);
	return d;
}

static bool is_stopping(struct outbox_relay *r)
{
	bool s;

	pthread_mutex_lock(&r->mu);
	s = r->stopping;
	pthread_mutex_unlock(&r->mu);
	return s;
}

/*
 * Sleeps up to ms, cut short by a stop (to its deadline) and, for the
 * leader, by a wake. Returns true when the relay must exit now.
 */
static bool pause_ms(struct outbox_relay *r, int64_t ms, bool leader)
{
	int64_t until = util_mono_us() + ms * 1000;
	struct timespec ts;
	bool done;

	pthread_mutex_lock(&r->mu);
	while (util_mono_us() < until) {
		/* a standby has nothing to drain: a stop ends its wait */
		if ((leader && r->wake) || (!leader && r->stopping))
			break;
		if (r->stopping && r->deadline_us < until)
			until = r->deadline_us;
		ts.tv_sec = until / 1000000;
		ts.tv_nsec = (long)(until % 1000000) * 1000;
		if (pthread_cond_timedwait(&r->cv, &r->mu, &ts) == ETIMEDOUT)
			break;
	}
	r->wake = false;
	done = r->stopping && util_mono_us() >= r->deadline_us;
	pthread_mutex_unlock(&r->mu);
	return done;
}

/* ---- producer ---- */

static void on_delivery(void *ud, void *opaque, int err, const char *errstr)
{
	struct outbox_relay *r = ud;
	struct row_state *rs = opaque;

	rs->err = err;
	if (r->pending > 0)
		r->pending--;
	if (err && !r->round_err) {
		r->round_err = err;
		snprintf(r->round_errstr, sizeof(r->round_errstr), "%s", errstr ? errstr : "");
	}
}

static struct kafka_producer *producer_new(struct outbox_relay *r, char *err, size_t errlen)
{
	struct kafka_producer_config pc = {.brokers = r->cfg.brokers,
					   .client_id = r->cfg.client_id,
					   .linger_ms = r->cfg.linger_ms,
					   .message_timeout_ms = r->cfg.message_timeout_ms,
					   .on_delivery = on_delivery,
					   .ud = r,
					   .extra = r->extra,
					   .nextra = r->nextra};

	return kafka_producer_new(&pc, err, errlen);
}

/* Rebuilds the producer after a fatal idempotence error (relay thread). */
static void check_producer(struct outbox_relay *r)
{
	struct kafka_producer *old = r->prod, *fresh;
	char err[256];

	if (old && !kafka_producer_fatal(old, err, sizeof(err)))
		return;
	if (old)
		slog_error("outbox producer fatal, recreating", "table=%s err=\"%s\"", r->table,
			   err);
	fresh = producer_new(r, err, sizeof(err));
	if (!fresh)
		slog_error("outbox producer create failed", "table=%s err=\"%s\"", r->table, err);
	pthread_mutex_lock(&r->prod_mu);
	r->prod = fresh;
	pthread_mutex_unlock(&r->prod_mu);
	kafka_producer_free(old);
}

/* ---- leadership, counting, pruning ---- */

/* Holds (or takes) the table's advisory lock on this session. Without the
 * pg_locks check every call would stack one more lock level. */
static bool take_leadership(struct outbox_relay *r)
{
	static const char sql[] =
		"SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_locks WHERE "
		"locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid() AND granted AND "
		"objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = $1::bigint) "
		"THEN true ELSE pg_catalog.pg_try_advisory_lock($1::bigint) END AS leader";
	const char *vals[1] = {r->lock_key};
	PGresult *res = NULL;
	char err[256];
	const char *v;
	bool now;

	now = db_exec(r->db, sql, 1, vals, NULL, &res, err, sizeof(err)) == 0 &&
	      (v = db_value(res, 0, "leader")) && v[0] == 't';
	PQclear(res);
	if (now != r->leading) {
		r->leading = now;
		if (now)
			slog_info("outbox relay leading", "table=%s", r->table);
		else
			slog_info("outbox relay standing by", "table=%s", r->table);
		stats_update(r, st_leader, now);
	}
	return now;
}

static void set_backlog(struct outbox_relay *r, int64_t n)
{
	metrics_gauge_set(r->m_backlog, NULL, (double)n);
	stats_update(r, st_backlog, n);
	r->next_count_us = util_mono_us() + COUNT_EVERY_US;
}

/* Counts the unsent rows, at most once a second. */
static void count_backlog(struct outbox_relay *r)
{
	PGresult *res = NULL;
	char err[256];

	if (util_mono_us() < r->next_count_us)
		return;
	if (db_exec(r->db, r->sql_count, 0, NULL, NULL, &res, err, sizeof(err)) == 0)
		set_backlog(r, strtoll(db_value(res, 0, "n"), NULL, 10));
	PQclear(res);
}

/* Deletes sent rows past the retention: a batch a minute, or one per loop
 * while there are more (high throughput). Leader only. */
static void prune(struct outbox_relay *r)
{
	char ms[24], err[256];
	const char *vals[1] = {ms};
	PGresult *res = NULL;
	int64_t n = 0, now = util_mono_us();

	if (r->cfg.retention_ms < 0 || now < r->next_prune_us)
		return;
	snprintf(ms, sizeof(ms), "%lld", (long long)r->cfg.retention_ms);
	if (db_exec(r->db, r->sql_prune, 1, vals, NULL, &res, err, sizeof(err)) != 0)
		slog_warn("outbox prune failed", "table=%s err=\"%s\"", r->table, err);
	else
		n = db_affected(res);
	PQclear(res);
	if (n > 0)
		stats_update(r, st_pruned, n);
	r->next_prune_us = n >= PRUNE_BATCH ? now : now + PRUNE_EVERY_US;
}

/* ---- one round ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* encode(payload, 'hex') text -> bytes (malloc'd, caller frees); NULL on
 * ENOMEM or bad input. */
static unsigned char *hex_decode(const char *s, size_t *len)
{
	size_t n = s ? strlen(s) : 0;
	unsigned char *out;

	if (!s || n % 2)
		return NULL;
	out = malloc(n / 2 + 1);
	for (size_t i = 0; out && i < n / 2; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			free(out);
			return NULL;
		}
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	*len = n / 2;
	return out;
}

/* Produces row i of res; rs is its delivery slot. 0 or the send error. */
static int send_row(struct outbox_relay *r, PGresult *res, int i, struct row_state *rs)
{
	const char *topic = db_value(res, i, "topic"), *key = db_value(res, i, "msg_key");
	size_t plen = 0, nh = 0;
	unsigned char *payload = hex_decode(db_value(res, i, "payload"), &plen);
	json_t *hj = json_loads(db_value(res, i, "headers"), 0, NULL);
	struct kafka_header hs[OUTBOX_MAX_HEADERS];
	const char *name;
	json_t *v;
	int rc;

	if (!payload || !hj || !topic) {
		json_decref(hj);
		free(payload);
		return UTIL_EINVAL;
	}
	json_object_foreach(hj, name, v) {
		if (nh < OUTBOX_MAX_HEADERS && json_is_string(v))
			hs[nh++] = (struct kafka_header){name, json_string_value(v),
							 json_string_length(v)};
	}
	for (;;) {
		rc = kafka_producer_send(r->prod, topic, key, key ? strlen(key) : 0, payload, plen,
					 hs, nh, rs);
		if (rc != UTIL_EUNAVAIL || deadline_passed(r))
			break;
		kafka_producer_poll(r->prod, 50); /* local queue full: serve reports */
	}
	json_decref(hj);
	free(payload);
	return rc;
}

/* Marks the acknowledged, unmarked rows sent. 0 or the database error. */
static int mark_sent(struct outbox_relay *r)
{
	struct util_buf ids;
	char err[256];
	size_t n = 0;
	int rc = 0;

	util_buf_init(&ids, 0);
	rc |= util_buf_append_str(&ids, "{");
	for (size_t i = 0; i < r->nrows; i++) {
		if (r->rows[i].err != 0 || r->rows[i].marked)
			continue;
		rc |= util_buf_printf(&ids, "%s%lld", n ? "," : "", (long long)r->rows[i].id);
		n++;
	}
	rc |= util_buf_append_str(&ids, "}");
	if (n && !rc) {
		const char *vals[1] = {ids.data};

		rc = db_exec(r->db, r->sql_mark, 1, vals, NULL, NULL, err, sizeof(err));
		if (rc)
			slog_warn("outbox mark sent failed", "table=%s rows=%zu err=\"%s\"",
				  r->table, n, err);
	}
	if (n && !rc) {
		for (size_t i = 0; i < r->nrows; i++)
			r->rows[i].marked |= r->rows[i].err == 0;
		metrics_counter_add(r->m_published, NULL, (double)n);
		stats_update(r, st_published, (int64_t)n);
	}
	util_buf_release(&ids);
	return rc ? UTIL_EIO : 0;
}

/* Sends every row of res in order, stopping at the first send error.
 * Returns true when every row was handed to the producer. */
static bool send_rows(struct outbox_relay *r, PGresult *res, int n)
{
	for (int i = 0; i < n; i++) {
		struct row_state *rs = &r->rows[r->nrows];
		int rc;

		rs->id = strtoll(db_value(res, i, "id"), NULL, 10);
		rs->err = 1;
		rs->marked = false;
		rc = send_row(r, res, i, rs);
		if (rc != 0) {
			slog_error("outbox send failed", "table=%s outbox_id=%lld topic=%s err=%s",
				   r->table, (long long)rs->id, db_value(res, i, "topic"),
				   util_err_name(rc));
			return false;
		}
		r->nrows++;
		r->pending++;
	}
	return true;
}

/* One round. Returns the rows it read (0: nothing to do), or -1 when a
 * read, send, delivery or mark failed. */
static int round_once(struct outbox_relay *r)
{
	char lim[24], bytes[24], err[256];
	const char *vals[2] = {lim, bytes};
	PGresult *res = NULL;
	bool ok;
	int n;

	if (r->nrows && mark_sent(r) != 0)
		return -1; /* the last round's acks are not recorded yet */
	snprintf(lim, sizeof(lim), "%d", r->cfg.batch);
	snprintf(bytes, sizeof(bytes), "%lld", (long long)r->cfg.max_round_bytes);
	if (db_exec(r->db, r->sql_select, 2, vals, NULL, &res, err, sizeof(err)) != 0) {
		slog_warn("outbox read failed", "table=%s err=\"%s\"", r->table, err);
		return -1;
	}
	n = PQntuples(res);
	r->nrows = r->pending = 0;
	r->round_err = 0;
	ok = send_rows(r, res, n);
	PQclear(res);
	while (r->pending > 0 && !deadline_passed(r))
		kafka_producer_poll(r->prod, 100);
	for (size_t i = 0; i < r->nrows; i++)
		ok &= r->rows[i].err == 0;
	if (r->round_err)
		slog_warn("outbox delivery failed", "table=%s err=%s detail=\"%s\"", r->table,
			  util_err_name(r->round_err), r->round_errstr);
	ok &= mark_sent(r) == 0;
	stats_update(r, st_kafka, ok || !r->round_err);
	if (!ok) {
		metrics_counter_inc(r->m_failures, NULL);
		stats_update(r, st_failed, 1);
	}
	return ok ? n : -1;
}

/* ---- the thread ---- */

static void *relay_main(void *p)
{
	struct outbox_relay *r = p;

	for (;;) {
		bool leader = r->prod && take_leadership(r);
		int64_t wait;
		int n = -1;

		if (leader) {
			n = round_once(r);
			prune(r);
			if (n == 0)
				set_backlog(r, 0);
		}
		count_backlog(r);
		check_producer(r);
		if (is_stopping(r) && (!leader || n == 0))
			break; /* drained (or not ours to drain) */
		if (!leader)
			wait = r->cfg.standby_retry_ms;
		else
			wait = n < 0 ? r->cfg.error_pause_ms : n > 0 ? 0 : r->cfg.idle_ms;
		if (wait == 0 ? deadline_passed(r) : pause_ms(r, wait, leader))
			break;
	}
	return NULL;
}

/* ---- lifecycle ---- */

static int build_sql(struct outbox_relay *r)
{
	const char *t = r->table;

	if (asprintf(&r->sql_select,
		     "SELECT id, topic, msg_key, encode(payload, 'hex') AS payload, "
		     "headers::text AS headers FROM (SELECT b.*, sum(octet_length(b.payload)) "
		     "OVER (ORDER BY b.id) - octet_length(b.payload) AS before FROM (SELECT id, "
		     "topic, msg_key, payload, headers FROM %s WHERE sent_at IS NULL ORDER BY id "
		     "LIMIT $1::bigint) b) w WHERE w.before < $2::bigint ORDER BY id",
		     t) < 0)
		return UTIL_ENOMEM;
	if (asprintf(&r->sql_mark,
		     "UPDATE %s SET sent_at = now() WHERE id = ANY($1::bigint[]) "
		     "AND sent_at IS NULL",
		     t) < 0)
		return UTIL_ENOMEM;
	if (asprintf(&r->sql_prune,
		     "DELETE FROM %s WHERE id IN (SELECT id FROM %s WHERE sent_at < now() - "
		     "$1::bigint * interval '1 millisecond' ORDER BY id LIMIT %d)",
		     t, t, PRUNE_BATCH) < 0)
		return UTIL_ENOMEM;
	if (asprintf(&r->sql_count, "SELECT count(*) AS n FROM %s WHERE sent_at IS NULL", t) < 0)
		return UTIL_ENOMEM;
	return 0;
}

static int make_metrics(struct outbox_relay *r, struct metrics_registry *reg, const char *pfx,
			char *err, size_t errlen)
{
	char name[160];

	if (!reg) {
		r->m_backlog = r->cfg.backlog_gauge;
		r->m_published = r->cfg.published_counter;
		r->m_failures = r->cfg.failures_counter;
		return 0;
	}
	if (!pfx || !*pfx || strlen(pfx) > 100)
		return util_err_set(err, errlen, UTIL_EINVAL, "outbox relay: metrics_prefix missing");
	snprintf(name, sizeof(name), "%s_outbox_backlog", pfx);
	r->m_backlog = metrics_gauge_new(reg, name, "Outbox rows not yet published.", NULL);
	snprintf(name, sizeof(name), "%s_relay_published_total", pfx);
	r->m_published =
		metrics_counter_new(reg, name, "Outbox rows published to Kafka.", NULL);
	snprintf(name, sizeof(name), "%s_relay_failures_total", pfx);
	r->m_failures =
		metrics_counter_new(reg, name, "Relay rounds that had a failure.", NULL);
	if (!r->m_backlog || !r->m_published || !r->m_failures)
		return util_err_set(err, errlen, UTIL_EINVAL,
				    "outbox relay: cannot create metrics with prefix \"%s\"", pfx);
	return 0;
}

static int copy_config(struct outbox_relay *r, const struct outbox_relay_config *c, char *err,
		       size_t errlen)
{
	if (!c->pg_url || !*c->pg_url || !c->brokers || !*c->brokers)
		return util_err_set(err, errlen, UTIL_EINVAL, "outbox relay: pg_url and brokers "
							      "are required");
	if (!outbox_table_valid(c->table))
		return util_err_set(err, errlen, UTIL_EINVAL, "outbox table \"%s\" is not valid",
				    c->table ? c->table : "");
	if (c->batch < 0 || c->max_round_bytes < 0 || c->idle_ms < 0 || c->error_pause_ms < 0 ||
	    c->standby_retry_ms < 0 || c->message_timeout_ms < 0 || c->linger_ms < 0)
		return util_err_set(err, errlen, UTIL_EINVAL, "outbox relay: negative setting");
	r->cfg = *c;
	r->pg_url = strdup(c->pg_url);
	r->brokers = strdup(c->brokers);
	r->table = strdup(c->table);
	r->client_id = strdup(c->client_id ? c->client_id : "simpul-outbox-relay");
	r->extra = c->nextra ? calloc(c->nextra, sizeof(*r->extra)) : NULL;
	if (!r->pg_url || !r->brokers || !r->table || !r->client_id || (c->nextra && !r->extra))
		return util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
	for (size_t i = 0; i < c->nextra; i++) {
		r->extra[i].key = strdup(c->extra[i].key);
		r->extra[i].value = strdup(c->extra[i].value);
		r->nextra++;
		if (!r->extra[i].key || !r->extra[i].value)
			return util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
	}
	r->cfg.pg_url = r->pg_url;
	r->cfg.brokers = r->brokers;
	r->cfg.table = r->table;
	r->cfg.client_id = r->client_id;
	r->cfg.extra = r->extra;
	r->cfg.reg = NULL;
	r->cfg.metrics_prefix = NULL;
	r->cfg.lock_key = c->lock_key ? c->lock_key : outbox_lock_key(c->table);
	r->cfg.retention_ms = c->retention_ms ? c->retention_ms : DEF_RETENTION_MS;
	r->cfg.batch = c->batch ? c->batch : DEF_BATCH;
	r->cfg.max_round_bytes = c->max_round_bytes ? c->max_round_bytes : DEF_ROUND_BYTES;
	r->cfg.idle_ms = c->idle_ms ? c->idle_ms : DEF_IDLE_MS;
	r->cfg.error_pause_ms = c->error_pause_ms ? c->error_pause_ms : DEF_ERROR_PAUSE_MS;
	r->cfg.standby_retry_ms = c->standby_retry_ms ? c->standby_retry_ms : DEF_STANDBY_MS;
	r->cfg.message_timeout_ms =
		c->message_timeout_ms ? c->message_timeout_ms : DEF_MSG_TIMEOUT_MS;
	snprintf(r->lock_key, sizeof(r->lock_key), "%lld", (long long)r->cfg.lock_key);
	return 0;
}

static void init_sync(struct outbox_relay *r)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&r->mu, NULL);
	pthread_mutex_init(&r->prod_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
}

struct outbox_relay *outbox_relay_new(const struct outbox_relay_config *cfg, char *err,
				      size_t errlen)
{
	struct outbox_relay *r = cfg ? calloc(1, sizeof(*r)) : NULL;
	struct db_conn_opts opts = {.statement_timeout_ms = 30000, .allow_down = true};

	if (!r) {
		util_err_set(err, errlen, cfg ? UTIL_ENOMEM : UTIL_EINVAL, "outbox relay: %s",
			     cfg ? "out of memory" : "no config");
		return NULL;
	}
	init_sync(r);
	r->st.backlog = -1;
	r->st.kafka_ok = true;
	if (copy_config(r, cfg, err, errlen) != 0 ||
	    make_metrics(r, cfg->reg, cfg->metrics_prefix, err, errlen) != 0)
		goto fail;
	r->rows = calloc((size_t)r->cfg.batch, sizeof(*r->rows));
	if (!r->rows || build_sql(r) != 0) {
		util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
		goto fail;
	}
	opts.application_name = r->client_id;
	r->db = db_conn_new_opts(r->pg_url, &opts, err, errlen);
	r->prod = r->db ? producer_new(r, err, errlen) : NULL;
	if (!r->prod)
		goto fail;
	return r;
fail:
	outbox_relay_free(r);
	return NULL;
}

int outbox_relay_start(struct outbox_relay *r)
{
	if (!r || r->started)
		return UTIL_EINVAL;
	if (pthread_create(&r->thread, NULL, relay_main, r) != 0)
		return UTIL_EIO;
	r->started = true;
	return 0;
}

void outbox_relay_wake(struct outbox_relay *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->wake = true;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

void outbox_relay_stop(struct outbox_relay *r, int64_t grace_ms)
{
	if (!r || !r->started)
		return;
	pthread_mutex_lock(&r->mu);
	if (!r->stopping) {
		r->stopping = true;
		r->wake = true; /* a leader waiting for its next poll starts draining now */
		r->deadline_us = util_mono_us() + (grace_ms > 0 ? grace_ms : 0) * 1000;
	}
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	r->started = false;
}

void outbox_relay_free(struct outbox_relay *r)
{
	if (!r)
		return;
	outbox_relay_stop(r, 0);
	kafka_producer_free(r->prod); /* late delivery reports land in rows[] */
	r->prod = NULL;
	if (r->db && r->nrows && db_conn_up(r->db))
		(void)mark_sent(r); /* acks that came in after the thread stopped */
	db_conn_free(r->db);
	for (size_t i = 0; i < r->nextra; i++) {
		free((char *)r->extra[i].key);
		free((char *)r->extra[i].value);
	}
	free(r->extra);
	free(r->rows);
	free(r->sql_select);
	free(r->sql_mark);
	free(r->sql_prune);
	free(r->sql_count);
	free(r->pg_url);
	free(r->brokers);
	free(r->table);
	free(r->client_id);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->prod_mu);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

void outbox_relay_stats(struct outbox_relay *r, struct outbox_relay_stats *out)
{
	pthread_mutex_lock(&r->mu);
	*out = r->st;
	pthread_mutex_unlock(&r->mu);
	out->db_up = db_conn_up(r->db);
}

bool outbox_relay_ready(struct outbox_relay *r, int timeout_ms, char *detail, size_t len)
{
	struct outbox_relay_stats st;
	char state[64];
	bool kafka;

	outbox_relay_stats(r, &st);
	pthread_mutex_lock(&r->prod_mu);
	kafka = r->prod && kafka_producer_ready(r->prod, timeout_ms);
	pthread_mutex_unlock(&r->prod_mu);
	if (st.leader)
		snprintf(state, sizeof(state), "leader backlog=%lld", (long long)st.backlog);
	else
		snprintf(state, sizeof(state), "standby");
	if (!kafka)
		snprintf(detail, len, "kafka unreachable (%s)", state);
	else if (!st.db_up)
		snprintf(detail, len, "database unreachable (%s)", state);
	else
		snprintf(detail, len, "%s", state);
	return kafka;
}
