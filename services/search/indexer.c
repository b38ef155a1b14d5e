/*
 * services/search/indexer.c - consumes kim.content.published.v1 and keeps
 * simpul.search_docs in step with it.
 *
 * Idempotent by construction: one INSERT ... ON CONFLICT (id) DO UPDATE
 * that only changes a row for a newer version (or a withdrawal of the same
 * version), so replays, restarts and duplicates change nothing. The offset
 * is stored by the consumer loop after that statement committed. A
 * withdrawal leaves a tombstone (text and tsvector emptied), so an older
 * version replayed later cannot resurrect the item.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <simpul/v1/moderation.pb-c.h>

#include "cache/cache.h"
#include "db/db.h"
#include "events/codec.h"
#include "events/meta.h"
#include "events/topics.h"
#include "kafka/consumer.h"
#include "metrics/metrics.h"
#include "search.h"
#include "slog/slog.h"
#include "util/err.h"
#include "util/ids.h"

static const char upsert_sql[] =
	"WITH old AS (SELECT region_code FROM simpul.search_docs WHERE id = $1::uuid) "
	"INSERT INTO simpul.search_docs AS d (id, version, withdrawn, type, title, body, "
	"region_code, kim_id, tags, published_at, tsv, simhash) VALUES ($1::uuid, $2::integer, "
	"$3::boolean, $4, $5, $6, $7, $8::uuid, "
	"ARRAY(SELECT pg_catalog.jsonb_array_elements_text($9::jsonb)), "
	"pg_catalog.to_timestamp($10::float8 / 1000), $11::tsvector, $12::bigint) "
	"ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, withdrawn = EXCLUDED.withdrawn, "
	"type = EXCLUDED.type, title = EXCLUDED.title, body = EXCLUDED.body, "
	"region_code = EXCLUDED.region_code, kim_id = EXCLUDED.kim_id, tags = EXCLUDED.tags, "
	"published_at = EXCLUDED.published_at, tsv = EXCLUDED.tsv, simhash = EXCLUDED.simhash, "
	"seq = pg_catalog.nextval('simpul.search_docs_seq'), indexed_at = pg_catalog.now() "
	"WHERE d.version < EXCLUDED.version OR (d.version = EXCLUDED.version "
	"AND EXCLUDED.withdrawn AND NOT d.withdrawn) "
	"RETURNING d.seq, d.region_code, (SELECT region_code FROM old) AS old_region";

static const char *const type_names[] = {NULL,	     "berita",	"kegiatan", "potensi",
					 "umkm",     "aspirasi", "usulan",   "diseminasi"};

struct search_indexer {
	const struct search_config *cfg;
	const struct search_text *text;
	struct cache *cache;
	struct search_metrics *m;
	struct db_conn *db;
	struct text_work *wk;
	struct kafka_consumer *kc;
	pthread_t thread;
	bool started;
	volatile sig_atomic_t stop;
	void (*notify)(void *);
	void *notify_ud;
};

/* Validated fields of one event. */
struct doc {
	const Simpul__V1__Content *c;
	bool withdrawn;
	const char *type, *region;
	int64_t published_at_ms;
};

static int check_event(const Simpul__V1__ContentPublished *ev, struct doc *d, char *err,
		       size_t errlen)
{
	const Simpul__V1__Content *c = ev->content;
	int rc = events_meta_validate(ev->meta, err, errlen);

	if (rc != 0)
		return UTIL_EINVAL;
	if (!c || !util_uuid_valid(c->id) || c->version < 1)
		return util_err_set(err, errlen, UTIL_EINVAL, "content: missing id or version");
	d->c = c;
	d->withdrawn = ev->withdrawn;
	d->published_at_ms = ev->published_at_ms > 0 ? ev->published_at_ms
						     : ev->meta->occurred_at_ms;
	d->type = c->type >= 1 && c->type <= 7 ? type_names[c->type] : NULL;
	d->region = search_region_valid(c->region_code) ? c->region_code : NULL;
	if (d->withdrawn) {
		/* a tombstone needs only the id; placeholders satisfy the table */
		d->type = d->type ? d->type : "berita";
		d->region = d->region ? d->region : "00";
		return 0;
	}
	if (!d->type || !d->region)
		return util_err_set(err, errlen, UTIL_EINVAL, "content: bad type or region_code");
	if (c->kim_id[0] && !util_uuid_valid(c->kim_id))
		return util_err_set(err, errlen, UTIL_EINVAL, "content.kim_id: not a uuid");
	if (strlen(c->title) > 4000 || strlen(c->body) > SEARCH_MAX_DOC_BYTES - 4096 ||
	    c->n_tags > 100)
		return util_err_set(err, errlen, UTIL_EINVAL, "content: too large");
	return 0;
}

static char *tags_json(const Simpul__V1__Content *c)
{
	json_t *a = json_array();
	char *s;

	for (size_t i = 0; a && i < c->n_tags; i++)
		json_array_append_new(a, json_string(c->tags[i]));
	s = a ? json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	return s;
}

static int upsert(struct db_conn *db, const struct doc *d, const char *tsv, uint64_t simhash,
		  enum search_apply *result, int64_t *seq, char region[32], char *err,
		  size_t errlen)
{
	char ver[16], pub[32], sh[32];
	char *tags = d->withdrawn ? strdup("[]") : tags_json(d->c);
	const char *vals[12];
	PGresult *res = NULL;
	int rc;

	if (!tags)
		return util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
	snprintf(ver, sizeof(ver), "%d", d->c->version);
	snprintf(pub, sizeof(pub), "%" PRId64, d->published_at_ms);
	snprintf(sh, sizeof(sh), "%" PRId64, (int64_t)simhash);
	vals[0] = d->c->id;
	vals[1] = ver;
	vals[2] = d->withdrawn ? "true" : "false";
	vals[3] = d->type;
	vals[4] = d->withdrawn ? "" : d->c->title;
	vals[5] = d->withdrawn ? "" : d->c->body;
	vals[6] = d->region;
	vals[7] = !d->withdrawn && d->c->kim_id[0] ? d->c->kim_id : NULL;
	vals[8] = tags;
	vals[9] = pub;
	vals[10] = tsv;
	vals[11] = sh;
	rc = db_prepare(db, "search_upsert", upsert_sql, 12, err, errlen);
	if (rc == 0 || rc == UTIL_EUNAVAIL)
		rc = db_exec_prepared(db, "search_upsert", 12, vals, NULL, &res, err, errlen);
	if (rc == 0 && PQntuples(res) == 1) {
		const char *old = db_value(res, 0, "old_region");

		*seq = strtoll(db_value(res, 0, "seq"), NULL, 10);
		*result = d->withdrawn ? SEARCH_APPLIED_WITHDRAW : SEARCH_APPLIED_UPSERT;
		/* "new" or "new old" when the item moved: both scopes changed */
		snprintf(region, 32, "%s%s%s", d->region, old && strcmp(old, d->region) ? " " : "",
			 old && strcmp(old, d->region) ? old : "");
	} else if (rc == 0) {
		*result = SEARCH_APPLIED_STALE;
	}
	PQclear(res);
	free(tags);
	return rc;
}

int search_index_apply(struct db_conn *c, const struct text_analyzer *an, struct text_work *wk,
		       const void *data, size_t len, enum search_apply *result, int64_t *seq,
		       char region[32], int64_t *published_at_ms, char *err, size_t errlen)
{
	Simpul__V1__ContentPublished *ev = NULL;
	struct util_buf tsv;
	struct doc d = {0};
	uint64_t simhash = 0;
	int rc;

	util_buf_init(&tsv, 0);
	*seq = 0;
	region[0] = '\0';
	ev = (Simpul__V1__ContentPublished *)events_unpack(
		&simpul__v1__content_published__descriptor, data, len, 0, err, errlen);
	if (!ev)
		return UTIL_EINVAL;
	rc = check_event(ev, &d, err, errlen);
	if (rc == 0 && !d.withdrawn) {
		rc = search_doc_build(an, wk, d.c->title, strlen(d.c->title), d.c->body,
				      strlen(d.c->body), &tsv, &simhash);
		if (rc != 0)
			util_err_set(err, errlen, rc == UTIL_ETOOBIG ? UTIL_EINVAL : rc,
				     "content cannot be analysed");
		rc = rc == UTIL_ETOOBIG ? UTIL_EINVAL : rc;
	}
	if (rc == 0) {
		*published_at_ms = d.published_at_ms;
		rc = upsert(c, &d, tsv.data ? tsv.data : "", simhash, result, seq, region, err,
			    errlen);
	}
	util_buf_release(&tsv);
	protobuf_c_message_free_unpacked(&ev->base, NULL);
	return rc;
}

static int handle(void *ud, const struct kafka_message *m, char *err, size_t errlen)
{
	static const char *const actions[] = {"", "upsert", "withdraw", "stale"};
	struct search_indexer *ix = ud;
	enum search_apply res = SEARCH_APPLIED_STALE;
	int64_t seq = 0, pub_ms = 0;
	char region[32], *sp;
	int rc;

	if (!m->value)
		return util_err_set(err, errlen, UTIL_EINVAL, "empty record");
	rc = search_index_apply(ix->db, &ix->text->an, ix->wk, m->value, m->value_len, &res,
				&seq, region, &pub_ms, err, errlen);
	if (rc != 0) {
		slog_warn("index apply failed", "partition=%d offset=%lld err=%s detail=\"%s\"",
			  m->partition, (long long)m->offset, util_err_name(rc), err);
		return rc == UTIL_ETIMEOUT ? UTIL_EUNAVAIL : rc;
	}
	metrics_counter_inc(ix->m->indexed, (const char *const[]){actions[res]});
	if (res == SEARCH_APPLIED_STALE)
		return 0;
	if (res == SEARCH_APPLIED_UPSERT && pub_ms > 0)
		metrics_histogram_observe(ix->m->index_lag, NULL,
					  (double)(util_now_ms() - pub_ms) / 1000.0);
	sp = strchr(region, ' ');
	if (sp) {
		*sp = '\0';
		search_qcache_bump(ix->cache, sp + 1, seq);
	}
	search_qcache_bump(ix->cache, region, seq);
	if (ix->notify)
		ix->notify(ix->notify_ud);
	return 0;
}

struct search_indexer *search_indexer_new(const struct search_config *cfg,
					  const struct search_text *text, struct cache *cache,
					  struct search_metrics *m, char *err, size_t errlen)
{
	static const char *const topics[] = {EVENTS_TOPIC_CONTENT_PUBLISHED};
	struct db_conn_opts opts = {.application_name = "simpul-search-indexer",
				    .statement_timeout_ms = 30000,
				    .allow_down = true};
	struct search_indexer *ix = calloc(1, sizeof(*ix));
	struct kafka_consumer_config kc = {.brokers = cfg->kafka_brokers,
					   .group_id = cfg->group,
					   .client_id = "simpul-search",
					   .topics = topics,
					   .ntopics = 1,
					   .handle = handle,
					   .ud = ix};

	if (!ix)
		return NULL;
	ix->cfg = cfg;
	ix->text = text;
	ix->cache = cache;
	ix->m = m;
	ix->wk = text_work_new(SEARCH_MAX_DOC_BYTES);
	ix->db = db_conn_new_opts(cfg->pg_url, &opts, err, errlen);
	if (ix->db && ix->wk)
		ix->kc = kafka_consumer_new(&kc, err, errlen);
	if (!ix->kc) {
		search_indexer_free(ix);
		return NULL;
	}
	return ix;
}

void search_indexer_set_notify(struct search_indexer *ix, void (*fn)(void *), void *ud)
{
	ix->notify = fn;
	ix->notify_ud = ud;
}

static void *indexer_main(void *arg)
{
	struct search_indexer *ix = arg;
	char err[512];

	if (kafka_consumer_run(ix->kc, &ix->stop, err, sizeof(err)) != 0)
		slog_error("index consumer stopped", "err=\"%s\"", err);
	return NULL;
}

int search_indexer_start(struct search_indexer *ix)
{
	if (pthread_create(&ix->thread, NULL, indexer_main, ix) != 0)
		return UTIL_EIO;
	ix->started = true;
	return 0;
}

void search_indexer_stop(struct search_indexer *ix)
{
	if (!ix || !ix->started)
		return;
	ix->stop = 1;
	pthread_join(ix->thread, NULL);
	ix->started = false;
}

void search_indexer_free(struct search_indexer *ix)
{
	if (!ix)
		return;
	search_indexer_stop(ix);
	kafka_consumer_free(ix->kc);
	db_conn_free(ix->db);
	text_work_free(ix->wk);
	free(ix);
}
