/*
 * services/notify/match.c - from an event to its deliveries, in PostgreSQL:
 * the match index probe (notify_match_sql), diseminasi fan-out in batches
 * (lane 1, resumable), and digest windows folded into one delivery each.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "metrics/metrics.h"
#include "notify.h"
#include "slog/slog.h"
#include "util/buf.h"
#include "util/err.h"

/*
 * held or pending, and when (d.due; NULL = send at once). Digests: hourly at
 * the next full hour; daily at the next digest_hour o'clock local time (WIB =
 * Asia/Jakarta UTC+7, WITA = Asia/Makassar UTC+8, WIT = Asia/Jayapura UTC+9).
 * Items awaiting review are always batched: due at the end of the current
 * review-batch window, so moderators get one message per window. now comes
 * from the service's clock (injectable for tests).
 */
#define DUE_LATERAL(kind, now, batch)                                                              \
	"CROSS JOIN LATERAL (SELECT CASE "                                                         \
	"WHEN s.mode = 'hourly' THEN date_trunc('hour', " now "::timestamptz) + interval '1 hour' " \
	"WHEN s.mode = 'daily' THEN (SELECT (x.d + CASE WHEN x.d <= x.l THEN interval '1 day' "  \
	"ELSE interval '0' END) AT TIME ZONE x.z FROM (SELECT zz.z, " now "::timestamptz AT TIME "  \
	"ZONE zz.z AS l, date_trunc('day', " now "::timestamptz AT TIME ZONE zz.z) + "             \
	"make_interval(hours => s.digest_hour) AS d FROM (SELECT CASE s.tz WHEN 'WITA' THEN "      \
	"'Asia/Makassar' WHEN 'WIT' THEN 'Asia/Jayapura' ELSE 'Asia/Jakarta' END AS z) zz) x) "     \
	"WHEN " kind " = 'review.awaiting' THEN date_bin(make_interval(secs => " batch              \
	"::bigint / 1000.0), " now "::timestamptz, TIMESTAMPTZ '2000-01-01 00:00:00+00') + "       \
	"make_interval(secs => " batch "::bigint / 1000.0) END AS due) d "
#define STATUS_COLS "CASE WHEN d.due IS NULL THEN 'pending' ELSE 'held' END, d.due, "
#define KEYWORDS_OK(text)                                                                          \
	"(cardinality(s.keywords) = 0 OR EXISTS (SELECT 1 FROM unnest(s.keywords) AS k(w) "     \
	"WHERE strpos(" text ", k.w) > 0)) "

/* The index probe and residual filters shared by the statements below, with
 * the event's values as SQL expressions (parameters or columns). */
#define MATCH_FROM_WHERE_OF(realm, kind, scopes, ctype, text, region, now, batch, kim)            \
	"FROM simpul.notify_sub_match m "                                                          \
	"JOIN simpul.notify_subscriptions s ON s.id = m.subscription_id "                          \
	DUE_LATERAL(kind, now, batch)                                                              \
	"WHERE m.realm = " realm " AND m.kind = " kind " AND m.scope = ANY(" scopes ") "           \
	"AND (m.content_type IS NULL OR m.content_type = " ctype ") "                              \
	"AND (" kind " IN ('content.decided', 'registration.decided') OR s.region_prefix = '' "    \
	"OR " region " = s.region_prefix OR " region " LIKE s.region_prefix || '.%') "             \
	"AND (s.kim_id IS NULL OR s.kim_id::text = " kim ") AND " KEYWORDS_OK(text)
#define MATCH_FROM_WHERE                                                                           \
	MATCH_FROM_WHERE_OF("$1", "$2", "$3::text[]", "$4", "$5", "$8", "$9", "$10", "$11")

const char notify_match_sql[] =
	"WITH ins AS (INSERT INTO simpul.notify_deliveries (event_id, subscription_id, realm, "
	"kind, region_code, payload, status, due_at, next_attempt_at) "
	"SELECT $6::uuid, s.id, s.realm, $2, $8, $7::jsonb, " STATUS_COLS
	"coalesce(d.due, $9::timestamptz) " MATCH_FROM_WHERE
	"ON CONFLICT (event_id, subscription_id) DO NOTHING RETURNING 1) "
	"SELECT count(*) AS n FROM ins";

const char notify_match_count_sql[] =
	"SELECT count(*) AS n, $6::text AS e, $7::text AS p, count(d.due) AS held "
	MATCH_FROM_WHERE;

/*
 * Many events at once: the same probe and filters for every row of the
 * unnested arrays ($2..$8, $11: kind, scopes literal, content type, text,
 * event id, payload, region, KIM id; $1 realm, $9 now, $10 review batch).
 * A replay inside the batch is one row (DISTINCT ON).
 */
const char notify_match_batch_sql[] =
	"WITH e AS (SELECT DISTINCT ON (event_id, kind) * FROM unnest($2::text[], $3::text[], "
	"$4::text[], $5::text[], $6::uuid[], $7::text[], $8::text[], $11::text[]) AS e(kind, "
	"scopes, ctype, txt, event_id, payload, region, kim)), "
	"ins AS (INSERT INTO simpul.notify_deliveries (event_id, subscription_id, realm, "
	"kind, region_code, payload, status, due_at, next_attempt_at) "
	"SELECT e.event_id, x.id, x.realm, e.kind, e.region, e.payload::jsonb, "
	"CASE WHEN x.due IS NULL THEN 'pending' ELSE 'held' END, x.due, "
	"coalesce(x.due, $9::timestamptz) FROM e CROSS JOIN LATERAL (SELECT s.id, s.realm, d.due "
	MATCH_FROM_WHERE_OF("$1", "e.kind", "e.scopes::text[]", "e.ctype", "e.txt", "e.region", "$9",
			    "$10", "e.kim")
	") x ON CONFLICT (event_id, subscription_id) DO NOTHING RETURNING kind) "
	"SELECT kind, count(*) AS n FROM ins GROUP BY kind";

/* The match scopes of ev: its region's ancestors, kim:<id>, user:<id>. */
static int event_scopes(const struct notify_event *ev, char *scopes, size_t len, char *err,
			size_t errlen)
{
	const char *extra[2] = {NULL, NULL};
	char kim[48] = "", user[48] = "";

	if (ev->kim_id && ev->kim_id[0])
		snprintf(kim, sizeof(kim), "kim:%s", ev->kim_id);
	if (ev->author_id && ev->author_id[0])
		snprintf(user, sizeof(user), "user:%s", ev->author_id);
	extra[0] = kim;
	extra[1] = user;
	if (notify_scopes_literal(ev->region, extra, 2, scopes, len) != 0)
		return util_err_set(err, errlen, UTIL_EINVAL, "bad region '%s'", ev->region);
	return 0;
}

void notify_match_batch_init(struct notify_match_batch *b)
{
	b->n = 0;
	for (int i = 0; i < NOTIFY_MATCH_BATCH_COLS; i++)
		util_buf_init(&b->v[i], 256u << 20);
}

void notify_match_batch_release(struct notify_match_batch *b)
{
	for (int i = 0; i < NOTIFY_MATCH_BATCH_COLS; i++)
		util_buf_release(&b->v[i]);
	b->n = 0;
}

int notify_match_batch_add(struct notify_match_batch *b, const struct notify_event *ev, char *err,
			   size_t errlen)
{
	char scopes[512];
	int rc = event_scopes(ev, scopes, sizeof(scopes), err, errlen);

	for (int i = 0; !rc && b->n == 0 && i < NOTIFY_MATCH_BATCH_COLS; i++)
		rc = util_buf_append_str(&b->v[i], "{");
	if (rc)
		return rc;
	rc = notify_lit_push(&b->v[0], ev->kind) || notify_lit_push(&b->v[1], scopes) ||
	     notify_lit_push(&b->v[2], ev->content_type) ||
	     notify_lit_push(&b->v[3], ev->text ? ev->text : "") ||
	     notify_lit_push(&b->v[4], ev->event_id) || notify_lit_push(&b->v[5], ev->payload) ||
	     notify_lit_push(&b->v[6], ev->region) ||
	     notify_lit_push(&b->v[7], ev->kim_id ? ev->kim_id : "");
	if (rc)
		return util_err_set(err, errlen, UTIL_ENOMEM, "batch too big");
	b->n++;
	return 0;
}

int notify_match_batch_run(struct notify_app *app, struct db_conn *db,
			   struct notify_match_batch *b, int64_t *n, char *err, size_t errlen)
{
	char now[40], batch[24];
	PGresult *res = NULL;
	int rc = 0;

	*n = 0;
	if (b->n == 0)
		return 0;
	for (int i = 0; !rc && i < NOTIFY_MATCH_BATCH_COLS; i++)
		rc = util_buf_append_str(&b->v[i], "}");
	if (rc)
		return util_err_set(err, errlen, UTIL_ENOMEM, "batch too big");
	notify_ts_param(notify_now_ms(app->cfg), now);
	snprintf(batch, sizeof(batch), "%" PRId64, app->cfg->review_batch_ms);
	{
		const char *v[] = {app->cfg->realm, b->v[0].data, b->v[1].data, b->v[2].data,
				   b->v[3].data, b->v[4].data, b->v[5].data, b->v[6].data,
				   now, batch, b->v[7].data};
		rc = db_exec(db, notify_match_batch_sql, 11, v, NULL, &res, err, errlen);
	}
	for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
		double k = strtod(PQgetvalue(res, i, 1), NULL);
		*n += (int64_t)k;
		metrics_counter_add(app->m.matched, (const char *const[]){PQgetvalue(res, i, 0)}, k);
	}
	PQclear(res);
	return rc;
}

int notify_match_insert(struct notify_app *app, struct db_conn *db, const struct notify_event *ev,
			int64_t *n, char *err, size_t errlen)
{
	char scopes[512], now[40], batch[24];
	PGresult *res = NULL;
	int rc;

	if ((rc = event_scopes(ev, scopes, sizeof(scopes), err, errlen)) != 0)
		return rc;
	notify_ts_param(notify_now_ms(app->cfg), now);
	snprintf(batch, sizeof(batch), "%" PRId64, app->cfg->review_batch_ms);
	{
		const char *v[] = {app->cfg->realm, ev->kind, scopes, ev->content_type,
				   ev->text ? ev->text : "", ev->event_id, ev->payload, ev->region,
				   now, batch, ev->kim_id ? ev->kim_id : ""};
		rc = db_exec(db, notify_match_sql, 11, v, NULL, &res, err, errlen);
	}
	*n = rc == 0 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
	if (rc == 0 && *n > 0)
		metrics_counter_add(app->m.matched, (const char *const[]){ev->kind}, (double)*n);
	PQclear(res);
	return rc;
}

int notify_fanout_enqueue(struct notify_app *app, struct db_conn *db,
			  const struct notify_event *ev, char *err, size_t errlen)
{
	const char *v[] = {ev->event_id, app->cfg->realm, ev->region, ev->content_type,
			   ev->payload, ev->text ? ev->text : ""};

	/* The keyword text rides in the payload's companion column: the job
	 * stores it inside payload under "_text", stripped before sending. */
	return db_exec(db,
		       "INSERT INTO simpul.notify_fanout_jobs (event_id, realm, region_code, "
		       "content_type, payload, cursor_scope) VALUES ($1, $2, $3, $4, "
		       "$5::jsonb || jsonb_build_object('_text', $6::text), $3) "
		       "ON CONFLICT (event_id, realm) DO NOTHING",
		       6, v, NULL, NULL, err, errlen);
}

/*
 * One batch: the next fanout_batch diseminasi match rows in the job's region
 * subtree (scope range [region, region + "/"), national: ["", ":")), after
 * the job's cursor, become lane-1 deliveries; the cursor moves past them.
 */
static const char fanout_sql[] =
	"WITH b AS (SELECT m.scope, m.subscription_id FROM simpul.notify_sub_match m "
	"WHERE m.realm = $1 AND m.kind = 'diseminasi' "
	"AND (m.scope, m.subscription_id) > ($2::text, $3::uuid) AND m.scope < $4 "
	"ORDER BY m.scope, m.subscription_id LIMIT $5), "
	"ins AS (INSERT INTO simpul.notify_deliveries (event_id, subscription_id, realm, kind, "
	"region_code, payload, status, due_at, next_attempt_at, lane) "
	"SELECT j.event_id, s.id, s.realm, 'diseminasi', j.region_code, j.payload - '_text', "
	STATUS_COLS "coalesce(d.due, $7::timestamptz), 1 "
	"FROM b JOIN simpul.notify_subscriptions s ON s.id = b.subscription_id "
	"JOIN simpul.notify_fanout_jobs j ON j.event_id = $6 AND j.realm = $1 "
	DUE_LATERAL("'diseminasi'", "$7", "1000")
	"WHERE " KEYWORDS_OK("(j.payload->>'_text')")
	"ON CONFLICT (event_id, subscription_id) DO NOTHING RETURNING 1), "
	"last AS (SELECT scope, subscription_id FROM b ORDER BY scope DESC, subscription_id DESC "
	"LIMIT 1) "
	"UPDATE simpul.notify_fanout_jobs j SET "
	"cursor_scope = coalesce((SELECT scope FROM last), j.cursor_scope), "
	"cursor_sub = coalesce((SELECT subscription_id FROM last), j.cursor_sub), "
	"inserted = j.inserted + (SELECT count(*) FROM ins), "
	"done_at = CASE WHEN (SELECT count(*) FROM b) < $5 THEN now() END "
	"WHERE j.event_id = $6 AND j.realm = $1 RETURNING (SELECT count(*) FROM b) AS scanned";

static int fanout_batch(struct notify_app *app, struct db_conn *db, PGresult *job, int64_t *n,
			char *err, size_t errlen)
{
	const char *region = db_value(job, 0, "region_code");
	char hi[40], lim[24], now[40];
	PGresult *res = NULL;
	int rc;

	if (region[0])
		snprintf(hi, sizeof(hi), "%s/", region);
	else
		snprintf(hi, sizeof(hi), ":");
	snprintf(lim, sizeof(lim), "%" PRId64, app->cfg->fanout_batch);
	notify_ts_param(notify_now_ms(app->cfg), now);
	{
		const char *v[] = {app->cfg->realm, db_value(job, 0, "cursor_scope"),
				   db_value(job, 0, "cursor_sub"), hi, lim,
				   db_value(job, 0, "event_id"), now};
		rc = db_exec(db, fanout_sql, 7, v, NULL, &res, err, errlen);
	}
	if (rc == 0 && PQntuples(res) == 1)
		*n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return rc;
}

int notify_fanout_step(struct notify_app *app, struct db_conn *db, int64_t *n, char *err,
		       size_t errlen)
{
	PGresult *job = NULL;
	int rc;

	*n = 0;
	if ((rc = db_begin(db, err, errlen)) != 0)
		return rc;
	rc = db_exec(db,
		     "SELECT event_id, region_code, cursor_scope, cursor_sub "
		     "FROM simpul.notify_fanout_jobs WHERE realm = $1 AND done_at IS NULL "
		     "ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED",
		     1, (const char *const[]){app->cfg->realm}, NULL, &job, err, errlen);
	if (rc == 0 && PQntuples(job) == 1)
		rc = fanout_batch(app, db, job, n, err, errlen);
	PQclear(job);
	if (rc != 0) {
		db_rollback(db, NULL, 0);
		return rc;
	}
	return db_commit(db, err, errlen);
}

/* Every held row of a due window becomes part of ONE digest delivery. */
static const char digest_sql[] =
	"WITH g AS (SELECT d.subscription_id, d.due_at, jsonb_agg(d.payload ORDER BY "
	"d.created_at) AS items, count(*) AS n, array_agg(d.id) AS ids, "
	"gen_random_uuid() AS did FROM simpul.notify_deliveries d "
	"WHERE d.realm = $1 AND d.status = 'held' AND d.due_at <= $2::timestamptz "
	"GROUP BY d.subscription_id, d.due_at LIMIT 500), "
	"ins AS (INSERT INTO simpul.notify_deliveries (id, event_id, subscription_id, realm, "
	"kind, payload, status, next_attempt_at) SELECT g.did, gen_random_uuid(), "
	"g.subscription_id, $1, 'digest', jsonb_build_object('type', 'digest', 'window_end', "
	"g.due_at, 'count', g.n, 'items', g.items), 'pending', $2::timestamptz FROM g), "
	"upd AS (UPDATE simpul.notify_deliveries d SET status = 'merged', digest_id = g.did "
	"FROM g WHERE d.id = ANY(g.ids)) "
	"SELECT count(*) FROM g";

static void refresh_gauges(struct notify_app *app, struct db_conn *db)
{
	PGresult *res = NULL;
	char err[256];

	if (db_exec(db,
		    "SELECT count(*) FILTER (WHERE status = 'pending') AS pending, "
		    "count(*) FILTER (WHERE status = 'pending' AND attempts > 0) AS retry, "
		    "count(*) FILTER (WHERE status = 'held') AS held, "
		    "coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE status = "
		    "'pending')), 0) AS oldest FROM simpul.notify_deliveries "
		    "WHERE realm = $1 AND status IN ('pending', 'held')",
		    1, (const char *const[]){app->cfg->realm}, NULL, &res, err, sizeof(err)) == 0) {
		metrics_gauge_set(app->m.pending, NULL, atof(db_value(res, 0, "pending")));
		metrics_gauge_set(app->m.retry_backlog, NULL, atof(db_value(res, 0, "retry")));
		metrics_gauge_set(app->m.held, NULL, atof(db_value(res, 0, "held")));
		metrics_gauge_set(app->m.oldest_pending, NULL, atof(db_value(res, 0, "oldest")));
	}
	PQclear(res);
}

int notify_digest_step(struct notify_app *app, struct db_conn *db, int64_t *n, char *err,
		       size_t errlen)
{
	static __thread int64_t last_gauges;
	PGresult *res = NULL;
	char now[40];
	int64_t t = notify_now_ms(app->cfg);
	int rc;

	*n = 0;
	if (t - last_gauges >= 1000) {
		refresh_gauges(app, db);
		last_gauges = t;
	}
	notify_ts_param(t, now);
	if ((rc = db_begin(db, err, errlen)) != 0)
		return rc;
	/* One digest maker per realm at a time: a second replica skips. */
	rc = db_exec(db, "SELECT pg_try_advisory_xact_lock(hashtext('simpul-notify-digest:' || $1))",
		     1, (const char *const[]){app->cfg->realm}, NULL, &res, err, errlen);
	if (rc == 0 && strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
		PQclear(res);
		res = NULL;
		rc = db_exec(db, digest_sql, 2, (const char *const[]){app->cfg->realm, now}, NULL,
			     &res, err, errlen);
		if (rc == 0)
			*n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	}
	PQclear(res);
	if (rc != 0) {
		db_rollback(db, NULL, 0);
		return rc;
	}
	return db_commit(db, err, errlen);
}
