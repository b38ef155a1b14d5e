/*
 * services/moderate/store.c - writes an automatic decision: the item, every
 * signal, the audit entry, the content's new status and the outbox rows in
 * ONE statement (data-modifying CTEs), so it is atomic without a
 * transaction round trip, and idempotent: the item's primary key (id,
 * version) makes a replay insert nothing at all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db/db.h"
#include "mod_store.h"
#include "util/err.h"

static const char auto_sql[] =
	"WITH item AS ("
	" INSERT INTO simpul.moderation_items (item_id, version, kind, region_code, content_type,"
	"  kim_id, author_id, title, score, auto_decision, state, signal_names, payload,"
	"  submitted_at)"
	" SELECT $1::uuid, $2::int, $3, $4, $5, $6::uuid, $7::uuid, $8, $9::float8, $10, $11,"
	"  ARRAY(SELECT x->>'name' FROM jsonb_array_elements($12::jsonb) x), decode($13, 'hex'),"
	"  to_timestamp($14::float8 / 1000)"
	" ON CONFLICT ON CONSTRAINT moderation_items_pkey DO NOTHING"
	" RETURNING item_id, version, region_code),"
	"sig AS (INSERT INTO simpul.moderation_signals (item_id, version, name, score, detail, spans)"
	" SELECT i.item_id, i.version, x.name, x.score, x.detail, x.spans FROM item i,"
	"  jsonb_to_recordset($12::jsonb) AS x(name text, score float8, detail text, spans jsonb)"
	" ON CONFLICT DO NOTHING),"
	"aud AS (INSERT INTO simpul.moderation_audit (item_id, version, kind, action, actor,"
	"  region_code, score) SELECT i.item_id, i.version, $3, 'auto_' || $10, 'auto',"
	"  i.region_code, $9::float8 FROM item i),"
	"st AS (UPDATE simpul.content c SET status = $15, updated_at = now() FROM item i"
	" WHERE $3 = 'content' AND c.id = i.item_id AND c.version = i.version RETURNING c.id),"
	"hist AS (INSERT INTO simpul.content_status_history (content_id, seq, status, reason)"
	" SELECT s.id, (SELECT coalesce(max(h.seq), 0) + 1 FROM simpul.content_status_history h"
	"  WHERE h.content_id = s.id), $15, 'automatic moderation' FROM st s),"
	"ob AS (INSERT INTO simpul.moderation_outbox (topic, msg_key, payload, headers)"
	" SELECT x.topic, x.msg_key, decode(x.payload, 'hex'), x.headers FROM item i,"
	"  jsonb_to_recordset($16::jsonb) AS x(topic text, msg_key text, payload text,"
	"  headers jsonb))"
	"SELECT count(*) AS n FROM item";

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

int mod_store_auto(struct db_conn *db, const struct mod_auto_row *row, const struct mod_result *r,
		   json_t *outbox, bool *inserted, char *err, size_t errlen)
{
	json_t *sj = signals_json(r);
	char *sigs = sj ? json_dumps(sj, JSON_COMPACT) : NULL;
	char *ob = json_dumps(outbox, JSON_COMPACT);
	char *hex = mod_hex(row->payload, row->payload_len);
	char score[32], ver[16], at[24];
	PGresult *res = NULL;
	int rc = UTIL_ENOMEM;

	*inserted = false;
	if (!sigs || !ob || !hex)
		goto out;
	snprintf(score, sizeof(score), "%.6f", r->total);
	snprintf(ver, sizeof(ver), "%d", row->version);
	snprintf(at, sizeof(at), "%lld", (long long)row->submitted_at_ms);
	{
		const char *v[16] = {row->item_id,
				     ver,
				     row->kind,
				     row->region_code,
				     row->content_type,
				     row->kim_id && *row->kim_id ? row->kim_id : NULL,
				     row->author_id && *row->author_id ? row->author_id : NULL,
				     row->title,
				     score,
				     mod_decision_name(row->decision),
				     state_name(row->decision),
				     sigs,
				     hex,
				     at,
				     mod_content_status(row->decision),
				     ob};

		rc = db_exec(db, auto_sql, 16, v, NULL, &res, err, errlen);
	}
	if (rc == 0)
		*inserted = strcmp(db_value(res, 0, "n"), "0") != 0;
out:
	PQclear(res);
	json_decref(sj);
	free(sigs);
	free(ob);
	free(hex);
	return rc;
}
