/*
 * services/ingest/committer.c - group commit.
 *
 * HTTP handlers and the intake consumer enqueue items; N committer threads,
 * each with its own PostgreSQL connection, take up to COMMIT_MAX_ITEMS items
 * (waiting at most COMMIT_WINDOW_MS after the first for more) and write the
 * whole group with ONE statement: the items travel as one JSON parameter,
 * and a CTE chain inserts the idempotency keys (ON CONFLICT DO NOTHING), and
 * for each key that was new and whose region/KIM exists, the row, its first
 * status and its outbox entry. One statement in autocommit is one
 * transaction: one round trip and one fsync per group, all or nothing.
 * Expected outcomes (duplicate, conflict, unknown region/KIM) are result
 * columns, never errors, so one bad item cannot fail its group; an
 * unexpected SQL error makes the group retry item by item.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/db.h"
#include "events/topics.h"
#include "ingest.h"
#include "metrics/metrics.h"
#include "slog/slog.h"
#include "util/err.h"

/* The result columns shared by both statements: ord, outcome, existing_id, same_hash. */
#define RESULT_SELECT                                                                              \
	"SELECT i.ord, CASE WHEN n.id IS NOT NULL THEN 'created' "                                 \
	"WHEN NOT EXISTS (SELECT 1 FROM simpul.regions r WHERE r.code = i.region_code) "          \
	"THEN 'unknown_region' %s ELSE 'duplicate' END AS outcome, "                               \
	"COALESCE(e.resource_id, w.id)::text AS existing_id, "                                     \
	"COALESCE(e.request_hash, pg_catalog.decode(w.hash, 'hex')) = "                           \
	"pg_catalog.decode(i.hash, 'hex') AS same_hash "                                            \
	"FROM input i LEFT JOIN new n ON n.id = i.id "                                              \
	"LEFT JOIN simpul.idempotency_keys e ON e.scope = i.scope AND e.key = i.key "               \
	"LEFT JOIN new w ON w.scope = i.scope AND w.key = i.key ORDER BY i.ord"

#define KEYS_CTE(kind)                                                                             \
	"keys AS (INSERT INTO simpul.idempotency_keys (scope, key, request_hash, resource_type, "  \
	"resource_id) SELECT scope, key, pg_catalog.decode(hash, 'hex'), '" kind "', id "          \
	"FROM ok ORDER BY ord ON CONFLICT (scope, key) DO NOTHING RETURNING resource_id), "       \
	"new AS (SELECT ok.* FROM ok JOIN keys ON keys.resource_id = ok.id), "

static const char content_sql[] =
	"WITH input AS (SELECT * FROM pg_catalog.json_to_recordset($1::json) AS x("
	"ord int, id uuid, scope text, key text, hash text, type text, title text, body text, "
	"region_code text, kim_id uuid, author_id uuid, author_name text, author_contact text, "
	"tags text[], media_urls text[], source text, submitted_ms bigint, payload text, "
	"headers jsonb)), "
	"ok AS (SELECT i.* FROM input i "
	"WHERE EXISTS (SELECT 1 FROM simpul.regions r WHERE r.code = i.region_code) "
	"AND (i.kim_id IS NULL OR EXISTS (SELECT 1 FROM simpul.kims k WHERE k.id = i.kim_id "
	"AND k.status = 'verified'))), "
	KEYS_CTE("content")
	"c AS (INSERT INTO simpul.content (id, type, title, body, region_code, kim_id, author_id, "
	"author_name, author_contact, tags, media_urls, source, created_at, updated_at) "
	"SELECT id, type, title, body, region_code, kim_id, author_id, author_name, "
	"author_contact, COALESCE(tags, '{}'), COALESCE(media_urls, '{}'), source, "
	"pg_catalog.to_timestamp(submitted_ms / 1000.0), "
	"pg_catalog.to_timestamp(submitted_ms / 1000.0) FROM new), "
	"h AS (INSERT INTO simpul.content_status_history (content_id, seq, status, actor_id, at) "
	"SELECT id, 1, 'submitted', author_id, pg_catalog.to_timestamp(submitted_ms / 1000.0) "
	"FROM new), "
	"o AS (INSERT INTO simpul.outbox (topic, msg_key, payload, headers) "
	"SELECT '" EVENTS_TOPIC_CONTENT_SUBMITTED "', id::text, "
	"pg_catalog.decode(payload, 'base64'), headers FROM new ORDER BY ord) ";

static const char kim_sql[] =
	"WITH input AS (SELECT * FROM pg_catalog.json_to_recordset($1::json) AS x("
	"ord int, id uuid, scope text, key text, hash text, name text, region_code text, "
	"decree_number text, decree_date date, fields text[], contacts jsonb, members jsonb, "
	"registered_by uuid, submitted_ms bigint, payload text, headers jsonb)), "
	"ok AS (SELECT i.* FROM input i "
	"WHERE EXISTS (SELECT 1 FROM simpul.regions r WHERE r.code = i.region_code)), "
	KEYS_CTE("kim")
	"k AS (INSERT INTO simpul.kims (id, name, region_code, decree_number, decree_date, "
	"fields, contacts, members, status, registered_by, created_at, updated_at) "
	"SELECT id, name, region_code, decree_number, decree_date, COALESCE(fields, '{}'), "
	"contacts, members, 'pending', registered_by, "
	"pg_catalog.to_timestamp(submitted_ms / 1000.0), "
	"pg_catalog.to_timestamp(submitted_ms / 1000.0) FROM new), "
	"o AS (INSERT INTO simpul.outbox (topic, msg_key, payload, headers) "
	"SELECT '" EVENTS_TOPIC_REGISTRY "', id::text, "
	"pg_catalog.decode(payload, 'base64'), headers FROM new ORDER BY ord) ";

static const char lookup_sql[] =
	"SELECT resource_id::text AS existing_id, "
	"request_hash = pg_catalog.decode($3, 'hex') AS same_hash "
	"FROM simpul.idempotency_keys WHERE scope = $1 AND key = $2";

static const char *const stmt_names[] = {"ingest_commit_content", "ingest_commit_kim"};

struct ingest_committer {
	const struct ingest_config *cfg;
	struct ingest_metrics *m;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct commit_item *head, *tail;
	size_t depth;
	bool stopping;
	int nthreads;
	pthread_t *threads;
	struct db_conn **conns;
	void (*notify)(void *);
	void *notify_ud;
};

static char *full_sql(enum commit_kind kind)
{
	char *s = NULL;
	const char *kim_case = kind == COMMIT_CONTENT
				       ? "WHEN i.kim_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
					 "simpul.kims k WHERE k.id = i.kim_id) THEN 'unknown_kim' "
					 "WHEN i.kim_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
					 "simpul.kims k WHERE k.id = i.kim_id AND k.status = 'verified') "
					 "THEN 'kim_not_verified'"
				       : "";

	if (asprintf(&s, "%s" RESULT_SELECT, kind == COMMIT_CONTENT ? content_sql : kim_sql,
		     kim_case) < 0)
		return NULL;
	return s;
}

static int prepare(struct db_conn *c, char *err, size_t errlen)
{
	int rc = 0;

	for (int k = 0; k < 2 && (rc == 0 || rc == UTIL_EUNAVAIL); k++) {
		char *sql = full_sql((enum commit_kind)k);

		rc = sql ? db_prepare(c, stmt_names[k], sql, 1, err, errlen) : UTIL_ENOMEM;
		free(sql);
	}
	if (rc == 0)
		rc = db_prepare(c, "ingest_idem_lookup", lookup_sql, 3, err, errlen);
	return rc == UTIL_EUNAVAIL ? 0 : rc;
}

struct ingest_committer *ingest_committer_new(const struct ingest_config *cfg,
					      struct ingest_metrics *m, char *err, size_t errlen)
{
	struct db_conn_opts opts = {.application_name = "simpul-ingest-commit",
				    .statement_timeout_ms = 30000,
				    .allow_down = true};
	struct ingest_committer *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->cfg = cfg;
	c->m = m;
	pthread_mutex_init(&c->mu, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&c->cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	c->threads = calloc((size_t)cfg->committers, sizeof(*c->threads));
	c->conns = calloc((size_t)cfg->committers, sizeof(*c->conns));
	if (!c->threads || !c->conns)
		goto fail;
	for (int i = 0; i < cfg->committers; i++) {
		c->conns[i] = db_conn_new_opts(cfg->pg_url, &opts, err, errlen);
		if (!c->conns[i] || prepare(c->conns[i], err, errlen) != 0)
			goto fail;
	}
	return c;
fail:
	ingest_committer_free(c);
	return NULL;
}

void ingest_committer_set_notify(struct ingest_committer *c, void (*fn)(void *), void *ud)
{
	c->notify = fn;
	c->notify_ud = ud;
}

int ingest_committer_enqueue(struct ingest_committer *c, struct commit_item *it)
{
	int rc = 0;

	it->next = NULL;
	it->outcome = COMMIT_PENDING;
	it->enqueued_us = util_mono_us();
	pthread_mutex_lock(&c->mu);
	if (c->stopping || c->depth >= (size_t)c->cfg->queue_max) {
		rc = UTIL_EUNAVAIL;
	} else {
		if (c->tail)
			c->tail->next = it;
		else
			c->head = it;
		c->tail = it;
		c->depth++;
		pthread_cond_signal(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	if (!rc)
		metrics_gauge_add(c->m->queue_depth, NULL, 1);
	return rc;
}

size_t ingest_committer_depth(struct ingest_committer *c)
{
	size_t d;

	pthread_mutex_lock(&c->mu);
	d = c->depth;
	pthread_mutex_unlock(&c->mu);
	return d;
}

static enum commit_outcome outcome_parse(const char *s)
{
	if (!s)
		return COMMIT_ERROR;
	if (strcmp(s, "created") == 0)
		return COMMIT_CREATED;
	if (strcmp(s, "duplicate") == 0)
		return COMMIT_DUPLICATE;
	if (strcmp(s, "unknown_region") == 0)
		return COMMIT_UNKNOWN_REGION;
	if (strcmp(s, "unknown_kim") == 0)
		return COMMIT_UNKNOWN_KIM;
	if (strcmp(s, "kim_not_verified") == 0)
		return COMMIT_KIM_NOT_VERIFIED;
	return COMMIT_ERROR;
}

/* Sets a duplicate's outcome from (existing id, same hash); NULL id: ask again. */
static void set_duplicate(struct db_conn *db, struct commit_item *it, const char *existing,
			  const char *same)
{
	PGresult *res = NULL;
	char err[256];

	if (!existing) {
		/* The key was committed by a concurrent group after our snapshot. */
		const char *vals[3] = {json_string_value(json_object_get(it->row, "scope")),
				       json_string_value(json_object_get(it->row, "key")),
				       json_string_value(json_object_get(it->row, "hash"))};

		if (db_exec_prepared(db, "ingest_idem_lookup", 3, vals, NULL, &res, err,
				     sizeof(err)) != 0 ||
		    PQntuples(res) != 1) {
			it->outcome = COMMIT_UNAVAILABLE;
			PQclear(res);
			return;
		}
		existing = db_value(res, 0, "existing_id");
		same = db_value(res, 0, "same_hash");
	}
	it->outcome = same && same[0] == 't' ? COMMIT_DUPLICATE : COMMIT_CONFLICT;
	snprintf(it->result_id, sizeof(it->result_id), "%s", existing ? existing : "");
	PQclear(res);
}

static void apply_results(struct db_conn *db, PGresult *res, struct commit_item **items,
			  size_t n)
{
	for (int r = 0; r < PQntuples(res); r++) {
		long ord = strtol(db_value(res, r, "ord"), NULL, 10);
		struct commit_item *it;

		if (ord < 0 || (size_t)ord >= n)
			continue;
		it = items[ord];
		it->outcome = outcome_parse(db_value(res, r, "outcome"));
		if (it->outcome == COMMIT_CREATED)
			memcpy(it->result_id, it->id, sizeof(it->id));
		else if (it->outcome == COMMIT_DUPLICATE)
			set_duplicate(db, it, db_value(res, r, "existing_id"),
				      db_value(res, r, "same_hash"));
	}
	for (size_t i = 0; i < n; i++)
		if (items[i]->outcome == COMMIT_PENDING)
			items[i]->outcome = COMMIT_ERROR;
}

/* Writes items[0..n) of one kind in one statement. Returns 0 or the db error. */
static int write_group(struct db_conn *db, enum commit_kind kind, struct commit_item **items,
		       size_t n)
{
	json_t *arr = json_array();
	char *text = NULL, err[512];
	PGresult *res = NULL;
	int rc = UTIL_ENOMEM;

	if (!arr)
		goto out;
	for (size_t i = 0; i < n; i++) {
		json_object_set_new(items[i]->row, "ord", json_integer((json_int_t)i));
		json_array_append(arr, items[i]->row);
	}
	text = json_dumps(arr, JSON_COMPACT);
	if (!text)
		goto out;
	{
		const char *vals[1] = {text};

		rc = db_exec_prepared(db, stmt_names[kind], 1, vals, NULL, &res, err, sizeof(err));
	}
	if (rc) {
		slog_warn("group commit failed", "items=%zu code=%s err=\"%s\"", n,
			  util_err_name(rc), err);
		goto out;
	}
	apply_results(db, res, items, n);
out:
	PQclear(res);
	free(text);
	json_decref(arr);
	return rc;
}

static void run_kind(struct ingest_committer *c, struct db_conn *db, enum commit_kind kind,
		     struct commit_item **items, size_t n)
{
	int rc;

	if (n == 0)
		return;
	rc = write_group(db, kind, items, n);
	if (rc == UTIL_EUNAVAIL || rc == UTIL_ETIMEOUT || rc == UTIL_ENOMEM) {
		for (size_t i = 0; i < n; i++)
			items[i]->outcome = COMMIT_UNAVAILABLE;
	} else if (rc && n > 1) {
		/* An unexpected error: isolate the item that causes it. */
		for (size_t i = 0; i < n; i++)
			run_kind(c, db, kind, &items[i], 1);
	} else if (rc) {
		items[0]->outcome = COMMIT_ERROR;
	}
}

static void process(struct ingest_committer *c, struct db_conn *db, struct commit_item *list,
		    size_t n)
{
	struct commit_item **byk[2];
	size_t nk[2] = {0, 0}, created = 0;
	int64_t t0 = util_mono_us();

	byk[0] = calloc(n, sizeof(*byk[0]));
	byk[1] = calloc(n, sizeof(*byk[1]));
	for (struct commit_item *it = list; it; it = it->next) {
		if (byk[0] && byk[1])
			byk[it->kind][nk[it->kind]++] = it;
		else
			it->outcome = COMMIT_UNAVAILABLE;
	}
	for (int k = 0; k < 2; k++)
		run_kind(c, db, (enum commit_kind)k, byk[k], nk[k]);
	free(byk[0]);
	free(byk[1]);
	metrics_histogram_observe(c->m->batch_size, NULL, (double)n);
	metrics_histogram_observe(c->m->commit_seconds, NULL, (double)(util_mono_us() - t0) / 1e6);
	while (list) {
		struct commit_item *next = list->next;

		created += list->outcome == COMMIT_CREATED;
		list->next = NULL;
		list->done(list, list->ud);
		list = next;
	}
	if (created && c->notify)
		c->notify(c->notify_ud);
}

static void wait_until(struct ingest_committer *c, int64_t deadline_us)
{
	struct timespec ts = {.tv_sec = deadline_us / 1000000,
			      .tv_nsec = (long)(deadline_us % 1000000) * 1000};

	pthread_cond_timedwait(&c->cv, &c->mu, &ts);
}

/* Takes the next group off the queue (lock held); NULL when stopped and empty. */
static struct commit_item *take_group(struct ingest_committer *c, size_t *n)
{
	size_t max = (size_t)c->cfg->commit_max_items;
	struct commit_item *first, *last;

	for (;;) {
		while (!c->head && !c->stopping)
			pthread_cond_wait(&c->cv, &c->mu);
		if (!c->head)
			return NULL;
		while (c->head && c->depth < max && !c->stopping &&
		       util_mono_us() < c->head->enqueued_us + c->cfg->commit_window_ms * 1000)
			wait_until(c, c->head->enqueued_us + c->cfg->commit_window_ms * 1000);
		if (c->head)
			break;
	}
	first = last = c->head;
	*n = 1;
	while (*n < max && last->next) {
		last = last->next;
		(*n)++;
	}
	c->head = last->next;
	if (!c->head)
		c->tail = NULL;
	last->next = NULL;
	c->depth -= *n;
	return first;
}

struct worker_arg {
	struct ingest_committer *c;
	int idx;
};

static void *worker(void *p)
{
	struct worker_arg *wa = p;
	struct ingest_committer *c = wa->c;
	struct db_conn *db = c->conns[wa->idx];
	struct commit_item *list;
	size_t n;

	free(wa);
	pthread_mutex_lock(&c->mu);
	while ((list = take_group(c, &n)) != NULL) {
		pthread_mutex_unlock(&c->mu);
		metrics_gauge_add(c->m->queue_depth, NULL, -(double)n);
		process(c, db, list, n);
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

int ingest_committer_start(struct ingest_committer *c)
{
	for (int i = 0; i < c->cfg->committers; i++) {
		struct worker_arg *wa = malloc(sizeof(*wa));

		if (!wa)
			return UTIL_ENOMEM;
		wa->c = c;
		wa->idx = i;
		if (pthread_create(&c->threads[i], NULL, worker, wa) != 0) {
			free(wa);
			return UTIL_EIO;
		}
		c->nthreads++;
	}
	return 0;
}

void ingest_committer_stop(struct ingest_committer *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->stopping = true;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	for (int i = 0; i < c->nthreads; i++)
		pthread_join(c->threads[i], NULL);
	c->nthreads = 0;
}

void ingest_committer_free(struct ingest_committer *c)
{
	if (!c)
		return;
	ingest_committer_stop(c);
	for (int i = 0; c->conns && i < c->cfg->committers; i++)
		db_conn_free(c->conns[i]);
	free(c->conns);
	free(c->threads);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}
