/*
 * services/ingest/committer.c - group commit.
 *
 * HTTP handlers and the intake consumer enqueue items; N committer threads,
 * each with its own PostgreSQL connection, take up to COMMIT_MAX_ITEMS items
 * and write the whole group with ONE statement: a CTE chain inserts the
 * idempotency keys (ON CONFLICT DO NOTHING), and for each key that was new
 * and whose region/KIM exists, the row, its first status and its outbox
 * entry. One statement in autocommit is one transaction: one round trip and
 * one fsync per group, all or nothing. Content groups travel as binary
 * arrays, one per column (nothing to parse or decode in the server); the
 * rare KIM groups as one JSON parameter. Expected outcomes (duplicate,
 * conflict, unknown region/KIM) are result columns, never errors, so one bad
 * item cannot fail its group; an unexpected SQL error makes the group retry
 * item by item.
 *
 * Batching is adaptive: a committer that finds items while no other group is
 * in flight takes them at once; while another committer is writing, it waits
 * up to COMMIT_WINDOW_MS after the first item (or until the group is full or
 * that write ends), so groups grow with the load instead of adding latency
 * when the database is idle.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "db/db.h"
#include "events/topics.h"
#include "ingest.h"
#include "metrics/metrics.h"
#include "slog/slog.h"
#include "util/err.h"

/* KIM groups (rare) travel as one JSON parameter. */
#define KIM_RESULT_SELECT                                                                          \
	"SELECT i.ord, CASE WHEN n.id IS NOT NULL THEN 'created' "                                 \
	"WHEN NOT EXISTS (SELECT 1 FROM simpul.regions r WHERE r.code = i.region_code) "          \
	"THEN 'unknown_region' ELSE 'duplicate' END AS outcome, "                                  \
	"COALESCE(e.resource_id, w.id)::text AS existing_id, "                                     \
	"COALESCE(e.request_hash, pg_catalog.decode(w.hash, 'hex')) = "                           \
	"pg_catalog.decode(i.hash, 'hex') AS same_hash "                                            \
	"FROM input i LEFT JOIN new n ON n.id = i.id "                                              \
	"LEFT JOIN simpul.idempotency_keys e ON e.scope = i.scope AND e.key = i.key "               \
	"LEFT JOIN new w ON w.scope = i.scope AND w.key = i.key ORDER BY i.ord"

/*
 * Content groups travel as 18 binary-format arrays, one element per item (no
 * JSON to parse, no base64/hex to decode in the server); unnest ... WITH
 * ORDINALITY gives each item its 1-based position back.
 */
enum content_col {
	CC_ID, CC_SCOPE, CC_KEY, CC_HASH, CC_TYPE, CC_TITLE, CC_BODY, CC_REGION, CC_KIM,
	CC_AUTHOR, CC_AUTHOR_NAME, CC_AUTHOR_CONTACT, CC_TAGS, CC_MEDIA, CC_SOURCE,
	CC_SUBMITTED, CC_PAYLOAD, CC_HEADERS, CC_NCOLS
};

static const char content_sql[] =
	/* The big columns (title, body, payload) are not carried through the
	 * CTEs (each would copy them into a tuplestore): the inserts take them
	 * straight from the parameter arrays by position. */
	"WITH input AS (SELECT x.ord::int AS ord, x.id, x.scope, x.key, x.hash, x.type, "
	"x.region_code, x.kim_id, x.author_id, x.author_name, x.author_contact, "
	"x.tags::text[] AS tags, x.media_urls::text[] AS media_urls, x.source, "
	"pg_catalog.to_timestamp(x.submitted_ms / 1000.0) AS at, "
	"x.headers::jsonb AS headers FROM unnest($1::uuid[], $2::text[], $3::text[], "
	"$4::bytea[], $5::text[], $8::text[], $9::uuid[], $10::uuid[], $11::text[], "
	"$12::text[], $13::text[], $14::text[], $15::text[], $16::int8[], $18::text[]) "
	"WITH ORDINALITY AS x(id, scope, key, hash, type, region_code, kim_id, author_id, "
	"author_name, author_contact, tags, media_urls, source, submitted_ms, headers, ord)), "
	"ok AS (SELECT i.* FROM input i "
	"WHERE EXISTS (SELECT 1 FROM simpul.regions r WHERE r.code = i.region_code) "
	"AND (i.kim_id IS NULL OR EXISTS (SELECT 1 FROM simpul.kims k WHERE k.id = i.kim_id "
	"AND k.status = 'verified'))), "
	"keys AS (INSERT INTO simpul.idempotency_keys (scope, key, request_hash, resource_type, "
	"resource_id) SELECT scope, key, hash, 'content', id FROM ok ORDER BY ord "
	"ON CONFLICT (scope, key) DO NOTHING RETURNING resource_id), "
	"new AS (SELECT ok.* FROM ok JOIN keys ON keys.resource_id = ok.id), "
	"c AS (INSERT INTO simpul.content (id, type, title, body, region_code, kim_id, author_id, "
	"author_name, author_contact, tags, media_urls, source, created_at, updated_at) "
	"SELECT id, type, ($6::text[])[ord], ($7::text[])[ord], region_code, kim_id, author_id, "
	"author_name, author_contact, tags, media_urls, source, at, at FROM new), "
	"h AS (INSERT INTO simpul.content_status_history (content_id, seq, status, actor_id, at) "
	"SELECT id, 1, 'submitted', author_id, at FROM new), "
	"o AS (INSERT INTO simpul.outbox (topic, msg_key, payload, headers) "
	"SELECT '" EVENTS_TOPIC_CONTENT_SUBMITTED "', id::text, ($17::bytea[])[ord], headers "
	"FROM new ORDER BY ord) "
	/* Only items not created look their key up again (duplicates, conflicts). */
	"SELECT i.ord - 1 AS ord, CASE WHEN n.id IS NOT NULL THEN 'created' "
	"WHEN NOT EXISTS (SELECT 1 FROM simpul.regions r WHERE r.code = i.region_code) "
	"THEN 'unknown_region' "
	"WHEN i.kim_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM simpul.kims k "
	"WHERE k.id = i.kim_id) THEN 'unknown_kim' "
	"WHEN i.kim_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM simpul.kims k "
	"WHERE k.id = i.kim_id AND k.status = 'verified') THEN 'kim_not_verified' "
	"ELSE 'duplicate' END AS outcome, "
	"COALESCE(e.resource_id, w.id)::text AS existing_id, "
	"COALESCE(e.request_hash, w.hash) = i.hash AS same_hash "
	"FROM input i LEFT JOIN new n ON n.id = i.id "
	"LEFT JOIN LATERAL (SELECT k.resource_id, k.request_hash FROM simpul.idempotency_keys k "
	"WHERE n.id IS NULL AND k.scope = i.scope AND k.key = i.key) e ON true "
	"LEFT JOIN new w ON n.id IS NULL AND w.scope = i.scope AND w.key = i.key ORDER BY i.ord";

static const char kim_sql[] =
	"WITH input AS (SELECT * FROM pg_catalog.json_to_recordset($1::json) AS x("
	"ord int, id uuid, scope text, key text, hash text, name text, region_code text, "
	"decree_number text, decree_date date, fields text[], contacts jsonb, members jsonb, "
	"registered_by uuid, submitted_ms bigint, payload text, headers jsonb)), "
	"ok AS (SELECT i.* FROM input i "
	"WHERE EXISTS (SELECT 1 FROM simpul.regions r WHERE r.code = i.region_code)), "
	"keys AS (INSERT INTO simpul.idempotency_keys (scope, key, request_hash, resource_type, "
	"resource_id) SELECT scope, key, pg_catalog.decode(hash, 'hex'), 'kim', id "
	"FROM ok ORDER BY ord ON CONFLICT (scope, key) DO NOTHING RETURNING resource_id), "
	"new AS (SELECT ok.* FROM ok JOIN keys ON keys.resource_id = ok.id), "
	"k AS (INSERT INTO simpul.kims (id, name, region_code, decree_number, decree_date, "
	"fields, contacts, members, status, registered_by, created_at, updated_at) "
	"SELECT id, name, region_code, decree_number, decree_date, COALESCE(fields, '{}'), "
	"contacts, members, 'pending', registered_by, "
	"pg_catalog.to_timestamp(submitted_ms / 1000.0), "
	"pg_catalog.to_timestamp(submitted_ms / 1000.0) FROM new), "
	"o AS (INSERT INTO simpul.outbox (topic, msg_key, payload, headers) "
	"SELECT '" EVENTS_TOPIC_REGISTRY "', id::text, "
	"pg_catalog.decode(payload, 'base64'), headers FROM new ORDER BY ord) "
	KIM_RESULT_SELECT;

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
	int busy;      /* committers writing a group right now */
	bool stopping;
	int nthreads;
	pthread_t *threads;
	struct db_conn **conns;
	void (*notify)(void *);
	void *notify_ud;
};

static int prepare(struct db_conn *c, char *err, size_t errlen)
{
	int rc = db_prepare(c, stmt_names[COMMIT_CONTENT], content_sql, CC_NCOLS, err, errlen);

	if (rc == 0 || rc == UTIL_EUNAVAIL)
		rc = db_prepare(c, stmt_names[COMMIT_KIM], kim_sql, 1, err, errlen);
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

/* Admission control (lock held): is the queue too long or too old? */
static bool overloaded(const struct ingest_committer *c, int64_t now_us)
{
	int64_t max_wait_us = c->cfg->queue_max_wait_ms * 1000;

	if (c->depth >= (size_t)c->cfg->queue_max)
		return true;
	return max_wait_us > 0 && c->head && now_us - c->head->enqueued_us > max_wait_us;
}

int ingest_committer_enqueue(struct ingest_committer *c, struct commit_item *it)
{
	int rc = 0;

	it->next = NULL;
	it->outcome = COMMIT_PENDING;
	it->enqueued_us = util_mono_us();
	pthread_mutex_lock(&c->mu);
	if (c->stopping || overloaded(c, it->enqueued_us)) {
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

bool ingest_committer_overloaded(struct ingest_committer *c)
{
	bool over;

	pthread_mutex_lock(&c->mu);
	over = overloaded(c, util_mono_us());
	pthread_mutex_unlock(&c->mu);
	return over;
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

/* One binary-format one-dimensional array parameter (PostgreSQL's array_recv). */
struct pgarr {
	struct util_buf b;
	uint32_t oid;  /* element type */
	int32_t n;
	bool nulls;
	int rc;        /* first failure, sticky */
};

#define PGARR_HDR 20          /* ndim, has-null flag, element oid, length, lower bound */
#define PGARR_MAX 0x3fffffffu /* 1 GB - 1: the largest value PostgreSQL accepts */

static void put_u32(char *p, uint32_t v)
{
	p[0] = (char)(v >> 24);
	p[1] = (char)(v >> 16);
	p[2] = (char)(v >> 8);
	p[3] = (char)v;
}

static void pgarr_init(struct pgarr *a, uint32_t oid)
{
	static const char zero[PGARR_HDR];

	memset(a, 0, sizeof(*a));
	util_buf_init(&a->b, 0);
	a->oid = oid;
	a->rc = util_buf_append(&a->b, zero, sizeof(zero));
}

/* Appends one element of len bytes; p NULL = SQL NULL. */
static void pgarr_add(struct pgarr *a, const void *p, size_t len)
{
	char hdr[4];

	if (a->rc)
		return;
	if (p && len > INT32_MAX) {
		a->rc = UTIL_ETOOBIG;
		return;
	}
	put_u32(hdr, p ? (uint32_t)len : 0xffffffffu);
	a->rc = util_buf_append(&a->b, hdr, sizeof(hdr));
	if (!a->rc && p && len)
		a->rc = util_buf_append(&a->b, p, len);
	a->nulls |= !p;
	a->n++;
}

static void pgarr_add_str(struct pgarr *a, const char *s)
{
	pgarr_add(a, s, s ? strlen(s) : 0);
}

static void pgarr_finish(struct pgarr *a)
{
	if (a->rc)
		return;
	put_u32(a->b.data, 1);
	put_u32(a->b.data + 4, a->nulls ? 1 : 0);
	put_u32(a->b.data + 8, a->oid);
	put_u32(a->b.data + 12, (uint32_t)a->n);
	put_u32(a->b.data + 16, 1);
}

static int hexdig(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Hex text (e.g. a UUID, dashes skipped) into out[cap]; bytes written or -1. */
static int unhex(const char *s, unsigned char *out, size_t cap)
{
	size_t n = 0;

	for (; s && *s; s++) {
		int hi, lo;

		if (*s == '-')
			continue;
		hi = hexdig(s[0]);
		lo = s[1] ? hexdig(s[1]) : -1;
		if (hi < 0 || lo < 0 || n == cap)
			return -1;
		out[n++] = (unsigned char)(hi << 4 | lo);
		s++;
	}
	return (int)n;
}

/* A UUID string (or NULL/JSON null) as a uuid element. */
static void pgarr_add_uuid(struct pgarr *a, const char *s)
{
	unsigned char u[16];

	if (!s) {
		pgarr_add(a, NULL, 0);
		return;
	}
	if (unhex(s, u, sizeof(u)) != 16) {
		a->rc = a->rc ? a->rc : UTIL_EINVAL;
		return;
	}
	pgarr_add(a, u, sizeof(u));
}

static void pgarr_add_int8(struct pgarr *a, int64_t v)
{
	char b[8];

	put_u32(b, (uint32_t)((uint64_t)v >> 32));
	put_u32(b + 4, (uint32_t)v);
	pgarr_add(a, b, sizeof(b));
}

/* A JSON array of strings as a text[] literal ("{"a","b\"c"}"), an element of a text[]. */
static void pgarr_add_text_array(struct pgarr *a, const json_t *arr, struct util_buf *tmp)
{
	size_t i;
	json_t *v;
	int rc;

	util_buf_reset(tmp);
	rc = util_buf_append(tmp, "{", 1);
	json_array_foreach(arr, i, v) {
		const char *p = json_string_value(v);

		rc |= util_buf_append(tmp, i ? ",\"" : "\"", i ? 2 : 1);
		for (; p && *p && !rc; p++) {
			if (*p == '"' || *p == '\\')
				rc |= util_buf_append(tmp, "\\", 1);
			rc |= util_buf_append(tmp, p, 1);
		}
		rc |= util_buf_append(tmp, "\"", 1);
	}
	rc |= util_buf_append(tmp, "}", 1);
	if (rc && !a->rc)
		a->rc = UTIL_ENOMEM;
	pgarr_add(a, tmp->data, tmp->len);
}

/* The base64 event payload as raw bytes (a bytea element). */
static void pgarr_add_base64(struct pgarr *a, const char *b64, struct util_buf *tmp)
{
	size_t len = b64 ? strlen(b64) : 0;
	int n;

	util_buf_reset(tmp);
	/* The append only reserves room (len / 4 * 3 <= len): decoded over below. */
	if (!b64 || len % 4 || util_buf_append(tmp, b64, len / 4 * 3 + 1) != 0) {
		a->rc = a->rc ? a->rc : UTIL_EINVAL;
		return;
	}
	n = len ? EVP_DecodeBlock((unsigned char *)tmp->data, (const unsigned char *)b64,
				  (int)len)
		: 0;
	if (n < 0) {
		a->rc = a->rc ? a->rc : UTIL_EINVAL;
		return;
	}
	/* EVP_DecodeBlock counts the bytes of the '=' padding too. */
	n -= len && b64[len - 1] == '=';
	n -= len > 1 && b64[len - 2] == '=';
	pgarr_add(a, tmp->data, (size_t)n);
}

static const char *rowstr(const json_t *row, const char *name)
{
	return json_string_value(json_object_get(row, name));
}

/* Appends one content item's columns to the arrays. */
static void content_add(struct pgarr *cols, const struct commit_item *it, struct util_buf *tmp)
{
	const json_t *row = it->row;
	unsigned char hash[32] = {0};
	char *headers = json_dumps(json_object_get(row, "headers"), JSON_COMPACT);

	pgarr_add_uuid(&cols[CC_ID], it->id);
	pgarr_add_str(&cols[CC_SCOPE], rowstr(row, "scope"));
	pgarr_add_str(&cols[CC_KEY], rowstr(row, "key"));
	if (unhex(rowstr(row, "hash"), hash, sizeof(hash)) != 32)
		cols[CC_HASH].rc = UTIL_EINVAL;
	pgarr_add(&cols[CC_HASH], hash, sizeof(hash));
	pgarr_add_str(&cols[CC_TYPE], rowstr(row, "type"));
	pgarr_add_str(&cols[CC_TITLE], rowstr(row, "title"));
	pgarr_add_str(&cols[CC_BODY], rowstr(row, "body"));
	pgarr_add_str(&cols[CC_REGION], rowstr(row, "region_code"));
	pgarr_add_uuid(&cols[CC_KIM], rowstr(row, "kim_id"));
	pgarr_add_uuid(&cols[CC_AUTHOR], rowstr(row, "author_id"));
	pgarr_add_str(&cols[CC_AUTHOR_NAME], rowstr(row, "author_name"));
	pgarr_add_str(&cols[CC_AUTHOR_CONTACT], rowstr(row, "author_contact"));
	pgarr_add_text_array(&cols[CC_TAGS], json_object_get(row, "tags"), tmp);
	pgarr_add_text_array(&cols[CC_MEDIA], json_object_get(row, "media_urls"), tmp);
	pgarr_add_str(&cols[CC_SOURCE], rowstr(row, "source"));
	pgarr_add_int8(&cols[CC_SUBMITTED],
		       (int64_t)json_integer_value(json_object_get(row, "submitted_ms")));
	pgarr_add_base64(&cols[CC_PAYLOAD], rowstr(row, "payload"), tmp);
	if (!headers)
		cols[CC_HEADERS].rc = UTIL_ENOMEM;
	pgarr_add_str(&cols[CC_HEADERS], headers);
	free(headers);
}

static const uint32_t content_oids[CC_NCOLS] = {
	[CC_ID] = 2950, [CC_HASH] = 17, [CC_KIM] = 2950, [CC_AUTHOR] = 2950,
	[CC_SUBMITTED] = 20, [CC_PAYLOAD] = 17, /* uuid, bytea, int8; the rest text (25) */
};

/* Writes content items[0..n) in one statement. Returns 0 or the db error. */
static int write_content(struct db_conn *db, struct commit_item **items, size_t n)
{
	struct pgarr cols[CC_NCOLS];
	const char *vals[CC_NCOLS];
	int lens[CC_NCOLS], rc = 0;
	struct util_buf tmp;
	PGresult *res = NULL;
	char err[512] = "";

	util_buf_init(&tmp, 0);
	for (int k = 0; k < CC_NCOLS; k++)
		pgarr_init(&cols[k], content_oids[k] ? content_oids[k] : 25);
	for (size_t i = 0; i < n; i++)
		content_add(cols, items[i], &tmp);
	for (int k = 0; k < CC_NCOLS; k++) {
		pgarr_finish(&cols[k]);
		/* PostgreSQL's limit for one value; the group is then retried item by item. */
		if (!cols[k].rc && cols[k].b.len > PGARR_MAX)
			cols[k].rc = UTIL_ETOOBIG;
		rc = rc ? rc : cols[k].rc;
		vals[k] = cols[k].b.data;
		lens[k] = (int)cols[k].b.len;
	}
	if (rc == 0)
		rc = db_exec_prepared(db, stmt_names[COMMIT_CONTENT], CC_NCOLS, vals, lens, &res,
				      err, sizeof(err));
	if (rc)
		slog_warn("group commit failed", "items=%zu code=%s err=\"%s\"", n,
			  util_err_name(rc), err);
	else
		apply_results(db, res, items, n);
	PQclear(res);
	for (int k = 0; k < CC_NCOLS; k++)
		util_buf_release(&cols[k].b);
	util_buf_release(&tmp);
	return rc;
}

/* Writes KIM items[0..n) in one statement. Returns 0 or the db error. */
static int write_kims(struct db_conn *db, struct commit_item **items, size_t n)
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

		rc = db_exec_prepared(db, stmt_names[COMMIT_KIM], 1, vals, NULL, &res, err, sizeof(err));
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

/* Writes items[0..n) of one kind in one statement. Returns 0 or the db error. */
static int write_group(struct db_conn *db, enum commit_kind kind, struct commit_item **items,
		       size_t n)
{
	return kind == COMMIT_CONTENT ? write_content(db, items, n) : write_kims(db, items, n);
}

static void run_kind(struct ingest_committer *c, struct db_conn *db, enum commit_kind kind,
		     struct commit_item **items, size_t n)
{
	bool was_up = db_conn_up(db);
	int rc;

	if (n == 0)
		return;
	rc = write_group(db, kind, items, n);
	/*
	 * A connection that looked healthy but had been cut while idle (e.g. a
	 * PostgreSQL restart) is reset by the next call: send the group once
	 * more rather than answering 503 while the database is back. Safe even
	 * when the first outcome is unknown: keys are ON CONFLICT DO NOTHING and
	 * a duplicate answers with the id that was stored.
	 */
	if (rc == UTIL_EUNAVAIL && was_up)
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

/*
 * Takes the next group off the queue (lock held); NULL when stopped and
 * empty. Adaptive: with no other group in flight the items go at once (the
 * database is idle, waiting would only add latency); while another
 * committer is writing, more items gather for up to the commit window (or
 * until the group is full, or that commit ends), so groups grow with load.
 */
static struct commit_item *take_group(struct ingest_committer *c, size_t *n)
{
	size_t max = (size_t)c->cfg->commit_max_items;
	struct commit_item *first, *last;

	for (;;) {
		while (!c->head && !c->stopping)
			pthread_cond_wait(&c->cv, &c->mu);
		if (!c->head)
			return NULL;
		while (c->head && c->depth < max && !c->stopping && c->busy > 0 &&
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
		c->busy++;
		pthread_mutex_unlock(&c->mu);
		metrics_gauge_add(c->m->queue_depth, NULL, -(double)n);
		process(c, db, list, n);
		pthread_mutex_lock(&c->mu);
		c->busy--;
		/* A committer gathering behind this one may go now. */
		pthread_cond_broadcast(&c->cv);
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
