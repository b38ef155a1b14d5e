/*
 * services/moderate/store.c - writes automatic decisions: the items, every
 * signal, the audit entries, the contents' new status and the outbox rows
 * of a whole batch in ONE statement (data-modifying CTEs over a JSON array),
 * so it is atomic without a transaction round trip and costs one round trip
 * whatever the batch size, and idempotent: the item's primary key (id,
 * version) makes a replay, or a repeat inside the batch, insert nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include <libpq-fe.h>

#include "db/db.h"
#include "mod_store.h"
#include "util/err.h"

/*
 * $1: a JSON array of items (see item_json), each with its signals and
 * outbox rows. A repeat of one (item_id, version) inside the array is
 * stored once (the first); items are inserted in key order so concurrent
 * batches of several processes lock in the same order (no deadlock); the
 * outbox rows keep the array's order (the relay publishes in id order).
 * Returns the "ord" of every item inserted now.
 */
#define STORE_ATTEMPTS 5

static const char auto_sql[] =
	"WITH x AS (SELECT DISTINCT ON (x.item_id, x.version) x.* FROM"
	" json_to_recordset($1::json) AS x(ord int, item_id uuid, version int, kind text,"
	"  region_code text, content_type text, kim_id uuid, author_id uuid, title text,"
	"  score float8, auto_decision text, state text, signals json, payload text,"
	"  submitted_at_ms float8, content_status text, outbox json)"
	" ORDER BY x.item_id, x.version, x.ord),"
	"item AS ("
	" INSERT INTO simpul.moderation_items (item_id, version, kind, region_code, content_type,"
	"  kim_id, author_id, title, score, auto_decision, state, signal_names, payload,"
	"  submitted_at)"
	" SELECT item_id, version, kind, region_code, content_type, kim_id, author_id, title,"
	"  score, auto_decision, state,"
	"  ARRAY(SELECT s->>'name' FROM json_array_elements(x.signals) s), decode(payload, 'hex'),"
	"  to_timestamp(submitted_at_ms / 1000) FROM x ORDER BY item_id, version"
	" ON CONFLICT ON CONSTRAINT moderation_items_pkey DO NOTHING"
	" RETURNING item_id, version),"
	"ins AS (SELECT x.* FROM x JOIN item i ON i.item_id = x.item_id AND i.version = x.version),"
	"sig AS (INSERT INTO simpul.moderation_signals (item_id, version, name, score, detail, spans)"
	" SELECT i.item_id, i.version, s.name, s.score, s.detail, s.spans FROM ins i,"
	"  json_to_recordset(i.signals) AS s(name text, score float8, detail text, spans jsonb)"
	" ON CONFLICT DO NOTHING),"
	"aud AS (INSERT INTO simpul.moderation_audit (item_id, version, kind, action, actor,"
	"  region_code, score) SELECT item_id, version, kind, 'auto_' || auto_decision, 'auto',"
	"  region_code, score FROM ins ORDER BY ord),"
	"st AS (UPDATE simpul.content c SET status = i.content_status, updated_at = now()"
	" FROM ins i WHERE i.kind = 'content' AND c.id = i.item_id AND c.version = i.version"
	" RETURNING c.id, i.content_status),"
	"hist AS (INSERT INTO simpul.content_status_history (content_id, seq, status, reason)"
	" SELECT s.id, (SELECT coalesce(max(h.seq), 0) + 1 FROM simpul.content_status_history h"
	"  WHERE h.content_id = s.id), s.content_status, 'automatic moderation' FROM st s),"
	"ob AS (INSERT INTO simpul.moderation_outbox (topic, msg_key, payload, headers)"
	" SELECT o.topic, o.msg_key, decode(o.payload, 'hex'), o.headers FROM ins i,"
	"  json_array_elements(i.outbox) WITH ORDINALITY AS e(v, n),"
	"  json_to_record(e.v) AS o(topic text, msg_key text, payload text, headers jsonb)"
	" ORDER BY i.ord, e.n)"
	"SELECT ord FROM ins";

const char *mod_content_status(enum mod_decision d)
{
	return d == MOD_APPROVE ? "published" : d == MOD_REJECT ? "rejected" : "review";
}

static const char *state_name(enum mod_decision d)
{
	return d == MOD_APPROVE ? "approved" : d == MOD_REJECT ? "rejected" : "review";
}

static json_t *signals_json(const struct mod_result *r)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < r->n; i++) {
		const struct mod_signal *s = &r->sig[i];
		json_t *spans = json_array();

		for (size_t k = 0; spans && k < s->nspans; k++)
			json_array_append_new(spans,
					      json_pack("{s:s,s:I,s:I}", "field",
							s->spans[k].field ? "body" : "title",
							"start", (json_int_t)s->spans[k].start,
							"end", (json_int_t)s->spans[k].end));
		json_array_append_new(a, json_pack("{s:s,s:f,s:s,s:o}", "name", s->name, "score",
						   s->score, "detail", s->detail, "spans",
						   spans ? spans : json_array()));
	}
	return a;
}

/* One item of the statement's array; NULL on invalid UTF-8 or ENOMEM. */
static json_t *item_json(size_t ord, const struct mod_store_item *it)
{
	const struct mod_auto_row *row = it->row;
	char *hex = mod_hex(row->payload, row->payload_len);
	json_t *sj = signals_json(it->r), *o = NULL;

	if (hex && sj && it->outbox)
		o = json_pack("{s:I, s:s, s:i, s:s, s:s, s:s?, s:s?, s:s?, s:s, s:f, s:s, s:s,"
			      " s:O, s:s, s:I, s:s, s:O}",
			      "ord", (json_int_t)ord, "item_id", row->item_id, "version",
			      row->version, "kind", row->kind, "region_code", row->region_code,
			      "content_type", row->content_type, "kim_id",
			      row->kim_id && *row->kim_id ? row->kim_id : NULL, "author_id",
			      row->author_id && *row->author_id ? row->author_id : NULL, "title",
			      row->title ? row->title : "", "score", it->r->total, "auto_decision",
			      mod_decision_name(row->decision), "state", state_name(row->decision),
			      "signals", sj, "payload", hex, "submitted_at_ms",
			      (json_int_t)row->submitted_at_ms, "content_status",
			      mod_content_status(row->decision), "outbox", it->outbox);
	json_decref(sj);
	free(hex);
	return o;
}

/* Runs the statement; on a deadlock or serialization failure (the session
 * stays up: a moderate of an older version inserting item by item, in
 * another order, in the same rows) again, up to STORE_ATTEMPTS times with a
 * short pause (the other transaction ends meanwhile, and its items are then
 * skipped as already decided). Marks the inserted items. */
static int run_many(struct db_conn *db, const char *arr, struct mod_store_item *items, size_t n,
		    char *err, size_t errlen)
{
	const char *v[1] = {arr};
	PGresult *res = NULL;
	int rc = UTIL_EUNAVAIL;

	for (int attempt = 0; attempt < STORE_ATTEMPTS && rc == UTIL_EUNAVAIL; attempt++) {
		if (attempt > 0)
			usleep((useconds_t)(10000 * attempt));
		rc = db_exec(db, auto_sql, 1, v, NULL, &res, err, errlen);
		if (rc != UTIL_EUNAVAIL || !db_conn_up(db) || db_in_transaction(db))
			break;
	}
	for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
		long k = strtol(PQgetvalue(res, i, 0), NULL, 10);

		if (k >= 0 && (size_t)k < n)
			*items[k].inserted = true;
	}
	PQclear(res);
	return rc;
}

int mod_store_auto_many(struct db_conn *db, struct mod_store_item *items, size_t n, char *err,
			size_t errlen)
{
	json_t *arr = json_array();
	char *text = NULL;
	int rc = arr ? 0 : UTIL_ENOMEM;

	for (size_t i = 0; i < n; i++)
		*items[i].inserted = false;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		json_t *o = item_json(i, &items[i]);

		if (!o || json_array_append_new(arr, o) != 0)
			rc = util_err_set(err, errlen, UTIL_EINVAL,
					  "item %s: not storable (invalid UTF-8?)",
					  items[i].row->item_id);
	}
	if (rc == 0 && n > 0 && !(text = json_dumps(arr, JSON_COMPACT)))
		rc = UTIL_ENOMEM;
	if (rc == 0 && n > 0)
		rc = run_many(db, text, items, n, err, errlen);
	free(text);
	json_decref(arr);
	return rc;
}

int mod_store_auto(struct db_conn *db, const struct mod_auto_row *row, const struct mod_result *r,
		   json_t *outbox, bool *inserted, char *err, size_t errlen)
{
	struct mod_store_item it = {row, r, outbox, inserted};

	return mod_store_auto_many(db, &it, 1, err, errlen);
}
