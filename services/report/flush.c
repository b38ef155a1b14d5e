/*
 * services/report/flush.c - publishes the aggregate cells and KIMs marked
 * dirty by the apply functions to the compacted report topics
 * (kim.report.region-daily.v1, kim.report.kim-activity.v1) every flush_ms.
 *
 * Each record is the complete current state of its key, so publishing one
 * twice is harmless and no outbox is needed: a dirty mark is removed only
 * after Kafka acknowledged the record AND only if the mark's seq did not
 * change meanwhile (a newer change is published in the next round). One
 * flusher at a time (session advisory lock), so an older state can never
 * overtake a newer one of the same key. A round reads every dirty cell's
 * state with two set-based queries (sums and exact percentiles for all keys
 * at once) and deletes the marks with one statement, so a round of 2,000
 * cells takes a few hundred ms instead of 3 statements per cell; freshness
 * (event committed -> record on the topic) is bounded by flush_ms plus one
 * round.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <simpul/v1/report.pb-c.h>

#include "db/db.h"
#include "events/codec.h"
#include "events/meta.h"
#include "events/topics.h"
#include "kafka/producer.h"
#include "metrics/metrics.h"
#include "report.h"
#include "slog/slog.h"
#include "util/buf.h"
#include "util/err.h"

#define FLUSH_LIMIT 2000
#define FLUSH_LOCK_KEY "5353390818" /* arbitrary, constant: "the report flusher" */
#define PRODUCER "report"

struct report_flusher {
	const struct report_config *cfg;
	struct db_conn *db;
	struct kafka_producer *prod;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stopping;
	int failed; /* delivery failures in the current round */
	struct metrics_counter *sent;
	struct metrics_histogram *round_s;
};

static const char sql_dirty_cells[] =
	"SELECT region_code, day::text AS day, seq FROM simpul.report_dirty_cells"
	" ORDER BY seq LIMIT $1::int";
static const char sql_dirty_kims[] =
	"SELECT kim_id::text AS kim_id, seq FROM simpul.report_dirty_kims ORDER BY seq LIMIT $1::int";
/* Every dirty key of a round at once: per-type sums (with the 'all' rollup,
 * present, zero, also for a key with no content cells: one marked by KIM or
 * notification events only)
 * and exact p50/p90 over the facts under each prefix, plus the region-day
 * counters. $1 regions, $2 days (parallel arrays). */
static const char sql_types_all[] =
	"WITH s AS (SELECT current_gen AS gen FROM simpul.report_state),"
	" k AS (SELECT DISTINCT * FROM unnest($1::text[], $2::date[]) AS k(region_code, day)),"
	" c AS (SELECT k.region_code, k.day,"
	"  CASE WHEN GROUPING(c.type) = 1 THEN 'all' ELSE c.type END AS type,"
	"  pg_catalog.sum(c.submitted) AS submitted, pg_catalog.sum(c.approved) AS approved,"
	"  pg_catalog.sum(c.rejected) AS rejected, pg_catalog.sum(c.pending) AS pending"
	"  FROM k LEFT JOIN simpul.report_cells c ON c.gen = (SELECT gen FROM s)"
	"  AND c.region_code = k.region_code AND c.day = k.day"
	"  GROUP BY k.region_code, k.day, ROLLUP (c.type)"
	"  HAVING GROUPING(c.type) = 1 OR c.type IS NOT NULL),"
	" p AS (SELECT k.region_code, k.day, COALESCE(f.type, 'all') AS type,"
	"  pg_catalog.percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY f.decision_ms) AS pct"
	"  FROM k JOIN simpul.report_content f ON f.gen = (SELECT gen FROM s) AND f.day = k.day"
	"  AND f.decision <> 'pending' AND (k.region_code = '' OR f.region_code = k.region_code"
	"  OR f.region_code LIKE k.region_code || '.%')"
	"  GROUP BY k.region_code, k.day, ROLLUP (f.type))"
	" SELECT s.gen, c.region_code, c.day::text AS day, c.type, COALESCE(c.submitted, 0) AS submitted,"
	"  COALESCE(c.approved, 0) AS approved, COALESCE(c.rejected, 0) AS rejected,"
	"  COALESCE(c.pending, 0) AS pending, COALESCE(p.pct[1], 0) / 1000.0 AS p50,"
	"  COALESCE(p.pct[2], 0) / 1000.0 AS p90"
	" FROM s, c LEFT JOIN p ON p.region_code = c.region_code AND p.day = c.day"
	"  AND p.type = c.type"
	" ORDER BY c.region_code COLLATE \"C\", c.day, c.type";
static const char sql_region_day_all[] =
	"SELECT region_code, day::text AS day, kims_pending, kims_verified, kims_rejected,"
	" kims_suspended, notif_delivered, notif_retrying, notif_failed"
	" FROM simpul.report_region_day"
	" WHERE gen = (SELECT current_gen FROM simpul.report_state)"
	" AND (region_code, day) IN (SELECT * FROM unnest($1::text[], $2::date[]))"
	" ORDER BY region_code COLLATE \"C\", day";
static const char sql_del_cells[] =
	"DELETE FROM simpul.report_dirty_cells d USING unnest($1::text[], $2::date[],"
	" $3::bigint[]) AS k(region_code, day, seq)"
	" WHERE d.region_code = k.region_code AND d.day = k.day AND d.seq = k.seq";
static const char sql_kim[] =
	"WITH s AS (SELECT current_gen AS gen FROM simpul.report_state)"
	" SELECT s.gen, k.name, k.region_code, k.status,"
	" (SELECT (EXTRACT(EPOCH FROM pg_catalog.max(p.published_at)) * 1000)::bigint"
	"  FROM simpul.report_publications p WHERE p.gen = s.gen AND p.kim_id = $1::uuid"
	"  AND NOT p.withdrawn) AS last_ms,"
	" (SELECT pg_catalog.count(*) FROM simpul.report_publications p WHERE p.gen = s.gen"
	"  AND p.kim_id = $1::uuid AND NOT p.withdrawn"
	"  AND p.published_at > pg_catalog.now() - interval '30 days') AS n30"
	" FROM s LEFT JOIN simpul.report_kims k ON k.gen = s.gen AND k.kim_id = $1::uuid";
static const char sql_del_kim[] =
	"DELETE FROM simpul.report_dirty_kims WHERE kim_id = $1::uuid AND seq = $2::bigint";

static void on_delivery(void *ud, void *opaque, int err, const char *errstr)
{
	struct report_flusher *f = ud;

	(void)opaque;
	if (err) {
		f->failed++;
		slog_warn("report record not delivered", "err=%s detail=\"%s\"",
			  util_err_name(err), errstr);
	}
}

static int64_t num(const PGresult *r, int row, const char *col)
{
	const char *s = db_value(r, row, col);

	return s ? strtoll(s, NULL, 10) : 0;
}

static double dbl(const PGresult *r, int row, const char *col)
{
	const char *s = db_value(r, row, col);

	return s ? strtod(s, NULL) : 0.0;
}

/* Packs msg with a fresh envelope and enqueues it (retrying a full queue). */
static int send_record(struct report_flusher *f, const char *topic, const char *key,
		Simpul__V1__EventMeta **metap, const ProtobufCMessage *msg, const char *type,
		char *err, size_t errlen)
{
	struct events_meta_buf mb;
	struct events_headers hs;
	struct util_buf out;
	size_t nh;
	int rc = events_meta_init(&mb, type, PRODUCER, NULL, err, errlen);

	if (rc)
		return rc;
	*metap = &mb.meta;
	util_buf_init(&out, EVENTS_MAX_PACKED);
	rc = events_pack(msg, 0, &out, err, errlen);
	*metap = NULL;
	if (rc)
		goto out;
	nh = events_headers_from_meta(&hs, &mb.meta);
	for (int tries = 0; tries < 1000; tries++) {
		rc = kafka_producer_send(f->prod, topic, key, strlen(key), out.data, out.len, hs.h,
					 nh, NULL);
		if (rc != UTIL_EUNAVAIL)
			break;
		kafka_producer_poll(f->prod, 10);
	}
	if (rc)
		util_err_set(err, errlen, rc, "cannot enqueue to %s", topic);
out:
	util_buf_release(&out);
	return rc;
}

static void fill_stats(Simpul__V1__ContentTypeStats *s, const PGresult *r, int i)
{
	simpul__v1__content_type_stats__init(s);
	s->type = (char *)db_value(r, i, "type");
	s->submitted = num(r, i, "submitted");
	s->approved = num(r, i, "approved");
	s->rejected = num(r, i, "rejected");
	s->pending = num(r, i, "pending");
	s->decision_p50_s = dbl(r, i, "p50");
	s->decision_p90_s = dbl(r, i, "p90");
}

/* First row of r (sorted by region_code in "C" order, then day) at or
 * after (region, day). */
static int lower_bound(const PGresult *r, const char *region, const char *day)
{
	int lo = 0, hi = PQntuples(r);

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2, c = strcmp(db_value(r, mid, "region_code"), region);

		if (c == 0)
			c = strcmp(db_value(r, mid, "day"), day);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool row_is(const PGresult *r, int i, const char *region, const char *day)
{
	return i < PQntuples(r) && !strcmp(db_value(r, i, "region_code"), region) &&
	       !strcmp(db_value(r, i, "day"), day);
}

/* One region-daily record from the round's results (tr: per type, dr:
 * region-day counters), both sorted by key. */
static int send_cell(struct report_flusher *f, const char *region, const char *day,
		     const PGresult *tr, const PGresult *dr, char *err, size_t errlen)
{
	Simpul__V1__RegionDaily rd;
	Simpul__V1__ContentTypeStats stats[16], *ptrs[16];
	Simpul__V1__RegistrationStats reg;
	Simpul__V1__NotificationStats notif;
	char key[64];
	size_t nt = 0;
	int d;

	simpul__v1__region_daily__init(&rd);
	simpul__v1__registration_stats__init(&reg);
	simpul__v1__notification_stats__init(&notif);
	rd.region_code = (char *)region;
	rd.level = report_region_level(region);
	rd.date = (char *)day;
	for (int i = lower_bound(tr, region, day); row_is(tr, i, region, day) && nt < 16; i++) {
		fill_stats(&stats[nt], tr, i);
		rd.generation = num(tr, i, "gen");
		if (!strcmp(stats[nt].type, "all"))
			rd.total = &stats[nt];
		else
			ptrs[rd.n_types++] = &stats[nt];
		nt++;
	}
	rd.types = ptrs;
	d = lower_bound(dr, region, day);
	if (row_is(dr, d, region, day)) {
		reg.pending = num(dr, d, "kims_pending");
		reg.verified = num(dr, d, "kims_verified");
		reg.rejected = num(dr, d, "kims_rejected");
		reg.suspended = num(dr, d, "kims_suspended");
		notif.delivered = num(dr, d, "notif_delivered");
		notif.retrying = num(dr, d, "notif_retrying");
		notif.failed = num(dr, d, "notif_failed");
	}
	rd.registrations = &reg;
	rd.notifications = &notif;
	rd.updated_at_ms = util_now_ms();
	snprintf(key, sizeof(key), "%s@%s", *region ? region : "ID", day);
	return send_record(f, EVENTS_TOPIC_REPORT_REGION_DAILY, key, &rd.meta, &rd.base,
			   "report.region_daily", err, errlen);
}

/* Waits for every record's ack: rc, or UTIL_EUNAVAIL when some failed. */
static int acked(struct report_flusher *f, int rc, char *err, size_t errlen)
{
	if (kafka_producer_flush(f->prod, 30000) != 0 && rc == 0)
		rc = util_err_set(err, errlen, UTIL_EUNAVAIL, "report records not acknowledged");
	if (rc == 0 && f->failed)
		rc = util_err_set(err, errlen, UTIL_EUNAVAIL, "%d report records failed", f->failed);
	return rc;
}

/* Array literals of the dirty rows' columns: regions, days, seqs. */
static int key_arrays(const PGresult *dirty, struct util_buf *a)
{
	int rc = 0;

	for (int i = 0; i < PQntuples(dirty) && rc == 0; i++)
		rc = util_buf_printf(&a[0], "%s\"%s\"", i ? "," : "{",
				     db_value(dirty, i, "region_code")) ||
		     util_buf_printf(&a[1], "%s%s", i ? "," : "{", db_value(dirty, i, "day")) ||
		     util_buf_printf(&a[2], "%s%s", i ? "," : "{", db_value(dirty, i, "seq"));
	for (int k = 0; k < 3 && rc == 0; k++)
		rc = util_buf_append_str(&a[k], PQntuples(dirty) ? "}" : "{}");
	return rc ? UTIL_ENOMEM : 0;
}

/*
 * The cells of a round, set-based: two queries for every dirty key, one
 * record per key, the acks, then one DELETE of the marks whose seq is
 * unchanged.
 */
static int publish_cells(struct report_flusher *f, const PGresult *dirty, int *sent, char *err,
			 size_t errlen)
{
	struct util_buf a[3];
	const char *v[3];
	PGresult *tr = NULL, *dr = NULL;
	int n = PQntuples(dirty), rc;

	if (n == 0)
		return 0;
	for (int k = 0; k < 3; k++)
		util_buf_init(&a[k], 0);
	rc = key_arrays(dirty, a);
	for (int k = 0; k < 3; k++)
		v[k] = a[k].data;
	if (rc == 0)
		rc = db_exec(f->db, sql_types_all, 2, v, NULL, &tr, err, errlen);
	if (rc == 0)
		rc = db_exec(f->db, sql_region_day_all, 2, v, NULL, &dr, err, errlen);
	f->failed = 0;
	for (int i = 0; i < n && rc == 0; i++)
		rc = send_cell(f, db_value(dirty, i, "region_code"), db_value(dirty, i, "day"), tr,
			       dr, err, errlen);
	rc = acked(f, rc, err, errlen);
	if (rc == 0)
		rc = db_exec(f->db, sql_del_cells, 3, v, NULL, NULL, err, errlen);
	if (rc == 0)
		*sent += n;
	PQclear(tr);
	PQclear(dr);
	for (int k = 0; k < 3; k++)
		util_buf_release(&a[k]);
	return rc;
}

static int send_kim(struct report_flusher *f, const char *kim, char *err, size_t errlen)
{
	const char *v[1] = {kim};
	PGresult *r = NULL;
	Simpul__V1__KimActivity ka;
	int rc = db_exec(f->db, sql_kim, 1, v, NULL, &r, err, errlen);

	if (rc)
		return rc;
	simpul__v1__kim_activity__init(&ka);
	ka.kim_id = (char *)kim;
	ka.name = (char *)(db_value(r, 0, "name") ? db_value(r, 0, "name") : "");
	ka.region_code = (char *)(db_value(r, 0, "region_code") ? db_value(r, 0, "region_code") : "");
	ka.status = (char *)(db_value(r, 0, "status") ? db_value(r, 0, "status") : "");
	ka.last_published_at_ms = num(r, 0, "last_ms");
	ka.published_30d = num(r, 0, "n30");
	ka.active = ka.published_30d > 0;
	ka.generation = num(r, 0, "gen");
	ka.updated_at_ms = util_now_ms();
	rc = send_record(f, EVENTS_TOPIC_REPORT_KIM_ACTIVITY, kim, &ka.meta, &ka.base, "report.kim_activity",
		  err, errlen);
	PQclear(r);
	return rc;
}

/* Publishes the dirty KIMs (kim_id, seq), waits for the acks, then deletes
 * the marks whose seq is unchanged. */
static int publish_kims(struct report_flusher *f, PGresult *dirty, int *sent, char *err,
			size_t errlen)
{
	int n = PQntuples(dirty), rc = 0;

	f->failed = 0;
	for (int i = 0; i < n && rc == 0; i++)
		rc = send_kim(f, db_value(dirty, i, "kim_id"), err, errlen);
	rc = acked(f, rc, err, errlen);
	for (int i = 0; i < n && rc == 0; i++) {
		const char *kv[2] = {db_value(dirty, i, "kim_id"), db_value(dirty, i, "seq")};

		rc = db_exec(f->db, sql_del_kim, 2, kv, NULL, NULL, err, errlen);
	}
	if (rc == 0)
		*sent += n;
	return rc;
}

int report_flush_round(struct report_flusher *f, int limit, int *sent, char *err, size_t errlen)
{
	char lim[16];
	const char *v[1] = {lim};
	PGresult *cells = NULL, *kims = NULL, *lk = NULL;
	int rc;

	*sent = 0;
	snprintf(lim, sizeof(lim), "%d", limit > 0 ? limit : FLUSH_LIMIT);
	/* session lock: one flusher publishes at a time, across processes */
	rc = db_exec(f->db, "SELECT pg_catalog.pg_try_advisory_lock(" FLUSH_LOCK_KEY ") AS ok", 0,
		     NULL, NULL, &lk, err, errlen);
	if (rc)
		return rc;
	if (strcmp(db_value(lk, 0, "ok"), "t") != 0) {
		PQclear(lk);
		return 0;
	}
	PQclear(lk);
	rc = db_exec(f->db, sql_dirty_cells, 1, v, NULL, &cells, err, errlen);
	if (rc == 0)
		rc = publish_cells(f, cells, sent, err, errlen);
	if (rc == 0)
		rc = db_exec(f->db, sql_dirty_kims, 1, v, NULL, &kims, err, errlen);
	if (rc == 0)
		rc = publish_kims(f, kims, sent, err, errlen);
	PQclear(cells);
	PQclear(kims);
	if (db_exec(f->db, "SELECT pg_catalog.pg_advisory_unlock(" FLUSH_LOCK_KEY ")", 0, NULL,
		    NULL, NULL, NULL, 0) != 0)
		slog_debug("flusher unlock failed", "%s", "conn=lost");
	return rc;
}

int report_dirty_drop_unbacked(struct db_conn *c, const char *day, char *err, size_t errlen)
{
	static const char sql[] =
		"WITH s AS (SELECT current_gen AS g FROM simpul.report_state)"
		" DELETE FROM simpul.report_dirty_cells d USING s WHERE d.day = $1::date"
		" AND NOT EXISTS (SELECT 1 FROM simpul.report_cells c WHERE c.gen = s.g"
		"  AND c.region_code = d.region_code AND c.day = d.day)"
		" AND NOT EXISTS (SELECT 1 FROM simpul.report_region_day r WHERE r.gen = s.g"
		"  AND r.region_code = d.region_code AND r.day = d.day)";
	const char *v[1] = {day};

	return db_exec(c, sql, 1, v, NULL, NULL, err, errlen);
}

int report_mark_all_dirty(struct db_conn *c, int64_t *marked, char *err, size_t errlen)
{
	static const char sql[] =
		"WITH s AS (SELECT current_gen AS gen FROM simpul.report_state),"
		" a AS (INSERT INTO simpul.report_dirty_cells (region_code, day)"
		"  SELECT region_code, day FROM simpul.report_cells, s WHERE report_cells.gen = s.gen"
		"  UNION SELECT region_code, day FROM simpul.report_region_day, s"
		"  WHERE report_region_day.gen = s.gen"
		"  ON CONFLICT ON CONSTRAINT report_dirty_cells_pkey DO UPDATE SET seq = EXCLUDED.seq"
		"  RETURNING 1),"
		" b AS (INSERT INTO simpul.report_dirty_kims (kim_id)"
		"  SELECT kim_id FROM simpul.report_kims, s WHERE report_kims.gen = s.gen"
		"  UNION SELECT kim_id FROM simpul.report_publications, s"
		"  WHERE report_publications.gen = s.gen AND kim_id IS NOT NULL"
		"  ON CONFLICT ON CONSTRAINT report_dirty_kims_pkey DO UPDATE SET seq = EXCLUDED.seq"
		"  RETURNING 1)"
		" SELECT (SELECT pg_catalog.count(*) FROM a) + (SELECT pg_catalog.count(*) FROM b) AS n";
	PGresult *r = NULL;
	int rc = db_exec(c, sql, 0, NULL, NULL, &r, err, errlen);

	if (rc == 0) {
		*marked = num(r, 0, "n");
		PQclear(r);
	}
	return rc;
}

static void *flusher_main(void *p)
{
	struct report_flusher *f = p;
	char err[512];
	int sent;

	pthread_mutex_lock(&f->mu);
	while (!f->stopping) {
		struct timespec ts;
		int64_t t0;
		int rc;

		pthread_mutex_unlock(&f->mu);
		t0 = util_mono_us();
		rc = report_flush_round(f, FLUSH_LIMIT, &sent, err, sizeof(err));
		if (rc)
			slog_warn("flush round failed", "err=\"%s\"", err);
		metrics_counter_add(f->sent, NULL, sent);
		metrics_histogram_observe(f->round_s, NULL, (double)(util_mono_us() - t0) / 1e6);
		pthread_mutex_lock(&f->mu);
		if (f->stopping || (rc == 0 && sent >= FLUSH_LIMIT))
			continue; /* backlog: go again at once */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)(f->cfg->flush_ms % 1000) * 1000000L;
		ts.tv_sec += f->cfg->flush_ms / 1000 + ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&f->cv, &f->mu, &ts);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

struct report_flusher *report_flusher_new(const struct report_config *cfg,
					  struct metrics_registry *reg, char *err,
					  size_t errlen)
{
	struct db_conn_opts opts = {.application_name = "simpul-report-flusher",
				    .statement_timeout_ms = 30000,
				    .allow_down = true};
	struct kafka_producer_config pc = {.brokers = cfg->kafka_brokers,
					   .client_id = "simpul-report-flusher",
					   .linger_ms = 20,
					   .message_timeout_ms = 15000,
					   .on_delivery = on_delivery};
	struct report_flusher *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->cfg = cfg;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	pc.ud = f;
	f->db = db_conn_new_opts(cfg->pg_url, &opts, err, errlen);
	f->prod = f->db ? kafka_producer_new(&pc, err, errlen) : NULL;
	if (!f->prod) {
		report_flusher_free(f);
		return NULL;
	}
	if (reg) {
		f->sent = metrics_counter_new(reg, "report_topic_records_total",
					      "Records published to the report topics.", NULL);
		f->round_s = metrics_histogram_new(reg, "report_flush_seconds",
						   "Duration of one flush round.", NULL, NULL, 0);
	}
	return f;
}

int report_flusher_start(struct report_flusher *f)
{
	if (pthread_create(&f->thread, NULL, flusher_main, f) != 0)
		return UTIL_EIO;
	f->started = true;
	return 0;
}

void report_flusher_free(struct report_flusher *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->mu);
	f->stopping = true;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
	if (f->started)
		pthread_join(f->thread, NULL);
	kafka_producer_free(f->prod);
	db_conn_free(f->db);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	free(f);
}
