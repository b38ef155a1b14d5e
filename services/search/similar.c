/*
 * services/search/similar.c - GET /v1/content/{id}/similar:
 *   near_duplicates  items whose SimHash is within TEXT_SIMHASH_NEAR bits
 *                    (found through four 16-bit band indexes: two 64-bit
 *                    fingerprints within 3 bits always share a band);
 *   related          items sharing the item's most telling stems: of its 24
 *                    first stems (title stems, then the most frequent body
 *                    stems) the 8 rarest in the store that some other item
 *                    has (document frequency counted up to 1,000, so a
 *                    common word costs no more than a rare one), ORed and
 *                    ranked with ts_rank among the 2,000 most recent matches.
 *                    Rare shared words say "same topic"; common ones do not.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "db/db.h"
#include "search.h"
#include "text/simhash.h"
#include "util/err.h"

#define DF_CAP "1000"

static const char doc_sql[] =
	"SELECT d.simhash, d.sh0, d.sh1, d.sh2, d.sh3, (SELECT pg_catalog.string_agg(z.l, ' ') "
	"FROM (SELECT u.lexeme AS l FROM pg_catalog.unnest(d.tsv) AS u "
	"ORDER BY ('A' = ANY(u.weights))::integer DESC, pg_catalog.cardinality(u.positions) DESC, "
	"u.lexeme LIMIT 24) z) AS lexemes "
	"FROM simpul.search_docs d WHERE d.id = $1::uuid AND NOT d.withdrawn";

static const char item_cols[] =
	"d.id::text AS id, d.type, d.title, d.region_code, "
	"pg_catalog.to_char(d.published_at AT TIME ZONE 'UTC', "
	"'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS published_at";

static int near_dups(struct db_conn *c, const char *id, const PGresult *doc, int limit,
		     json_t *arr, char *err, size_t errlen)
{
	char sql[1024], lim[16], near[8];
	const char *vals[8];
	PGresult *res = NULL;
	int rc;

	snprintf(sql, sizeof(sql),
		 "SELECT %s, pg_catalog.bit_count((d.simhash # $2::bigint)::bit(64)) AS distance "
		 "FROM simpul.search_docs d WHERE NOT d.withdrawn AND d.id <> $1::uuid AND "
		 "(d.sh0 = $3::integer OR d.sh1 = $4::integer OR d.sh2 = $5::integer OR "
		 "d.sh3 = $6::integer) AND "
		 "pg_catalog.bit_count((d.simhash # $2::bigint)::bit(64)) <= $8::integer "
		 "ORDER BY distance, d.published_at DESC, d.id LIMIT $7::integer",
		 item_cols);
	snprintf(lim, sizeof(lim), "%d", limit);
	snprintf(near, sizeof(near), "%d", TEXT_SIMHASH_NEAR);
	vals[0] = id;
	vals[1] = db_value(doc, 0, "simhash");
	vals[2] = db_value(doc, 0, "sh0");
	vals[3] = db_value(doc, 0, "sh1");
	vals[4] = db_value(doc, 0, "sh2");
	vals[5] = db_value(doc, 0, "sh3");
	vals[6] = lim;
	vals[7] = near;
	rc = db_exec(c, sql, 8, vals, NULL, &res, err, errlen);
	for (int i = 0; rc == 0 && i < PQntuples(res); i++)
		json_array_append_new(
			arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:i}", "id", db_value(res, i, "id"),
				       "type", db_value(res, i, "type"), "title",
				       db_value(res, i, "title"), "region_code",
				       db_value(res, i, "region_code"), "published_at",
				       db_value(res, i, "published_at"), "distance",
				       atoi(db_value(res, i, "distance"))));
	PQclear(res);
	return rc;
}

/* Appends s to an array literal element list, quoted for text[] input. */
static int array_item(struct util_buf *b, const char *s, size_t len)
{
	int rc = util_buf_append_str(b, b->len > 1 ? ",\"" : "\"");

	for (size_t i = 0; i < len && rc == 0; i++)
		rc = s[i] == '"' || s[i] == '\\' ? util_buf_printf(b, "\\%c", s[i])
						   : util_buf_append(b, &s[i], 1);
	return rc ? rc : util_buf_append_str(b, "\"");
}

/* {"'a'","'b'",...}: one single-lexeme tsquery per stem of the list. */
static int candidate_queries(const char *lexemes, struct util_buf *arr)
{
	struct util_buf q;
	int rc = util_buf_append_str(arr, "{");

	util_buf_init(&q, 0);
	while (lexemes && *lexemes && rc == 0) {
		const char *sp = strchr(lexemes, ' ');
		size_t len = sp ? (size_t)(sp - lexemes) : strlen(lexemes);

		util_buf_reset(&q);
		rc = search_lexeme_quote(&q, lexemes, len);
		if (rc == 0)
			rc = array_item(arr, q.data, q.len);
		lexemes += len + (sp ? 1 : 0);
	}
	util_buf_release(&q);
	return rc ? rc : util_buf_append_str(arr, "}");
}

/* {"id1","id2",...}: the ids of the near-duplicates, as a uuid[] literal. */
static int dup_ids(json_t *dups, struct util_buf *arr)
{
	size_t i;
	json_t *v;
	int rc = util_buf_append_str(arr, "{");

	json_array_foreach(dups, i, v) {
		if (rc == 0)
			rc = util_buf_printf(arr, "%s%s", i ? "," : "",
					     json_string_value(json_object_get(v, "id")));
	}
	return rc ? rc : util_buf_append_str(arr, "}");
}

/*
 * The OR query of the rarest shared stems into q (empty when none is
 * shared). Near-duplicates do not count as sharing: a word found only in
 * the item and its copies says nothing about related items.
 */
static int rare_query(struct db_conn *c, const char *lexemes, json_t *dups, struct util_buf *q,
		      char *err, size_t errlen)
{
	struct util_buf arr, ids;
	const char *vals[2];
	PGresult *res = NULL;
	int rc;

	util_buf_init(&arr, 0);
	util_buf_init(&ids, 0);
	rc = candidate_queries(lexemes, &arr);
	if (rc == 0)
		rc = dup_ids(dups, &ids);
	vals[0] = arr.data;
	vals[1] = ids.data;
	if (rc == 0)
		rc = db_exec(c,
			     "SELECT l.q FROM pg_catalog.unnest($1::text[]) AS l(q), LATERAL "
			     "(SELECT count(*) AS df FROM (SELECT 1 FROM simpul.search_docs d "
			     "WHERE d.tsv @@ l.q::tsquery AND NOT d.withdrawn "
			     "AND d.id <> ALL ($2::uuid[]) LIMIT " DF_CAP ") z) f "
			     "WHERE f.df >= 2 ORDER BY f.df, l.q LIMIT 8",
			     2, vals, NULL, &res, err, errlen);
	util_buf_release(&ids);
	for (int i = 0; rc == 0 && i < PQntuples(res); i++)
		rc = util_buf_printf(q, "%s%s", i ? " | " : "", db_value(res, i, "q"));
	PQclear(res);
	util_buf_release(&arr);
	return rc;
}

static bool in_array(json_t *arr, const char *id)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v) {
		if (strcmp(json_string_value(json_object_get(v, "id")), id) == 0)
			return true;
	}
	return false;
}

static int related(struct db_conn *c, const char *id, const char *lexemes, int limit,
		   json_t *dups, json_t *arr, char *err, size_t errlen)
{
	char sql[1024], lim[16];
	struct util_buf q;
	const char *vals[3];
	PGresult *res = NULL;
	int rc;

	util_buf_init(&q, 0);
	rc = rare_query(c, lexemes, dups, &q, err, errlen);
	if (rc != 0 || q.len == 0) {
		util_buf_release(&q);
		return rc;
	}
	snprintf(sql, sizeof(sql),
		 "SELECT %s, pg_catalog.ts_rank(d.tsv, $2::tsquery) AS score FROM "
		 "(SELECT c.id FROM simpul.search_docs c WHERE NOT c.withdrawn AND c.id <> $1::uuid "
		 "AND c.tsv @@ $2::tsquery ORDER BY c.published_at DESC LIMIT 2000) k "
		 "JOIN simpul.search_docs d ON d.id = k.id "
		 "ORDER BY score DESC, d.published_at DESC, d.id LIMIT $3::integer",
		 item_cols);
	snprintf(lim, sizeof(lim), "%d", limit + (int)json_array_size(dups));
	vals[0] = id;
	vals[1] = q.data;
	vals[2] = lim;
	rc = db_exec(c, sql, 3, vals, NULL, &res, err, errlen);
	for (int i = 0; rc == 0 && i < PQntuples(res) && (int)json_array_size(arr) < limit; i++) {
		if (in_array(dups, db_value(res, i, "id")))
			continue;
		json_array_append_new(
			arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:f}", "id", db_value(res, i, "id"),
				       "type", db_value(res, i, "type"), "title",
				       db_value(res, i, "title"), "region_code",
				       db_value(res, i, "region_code"), "published_at",
				       db_value(res, i, "published_at"), "score",
				       strtod(db_value(res, i, "score"), NULL)));
	}
	PQclear(res);
	util_buf_release(&q);
	return rc;
}

int search_similar(struct search_app *app, struct db_conn *c, const char *id, int limit,
		   json_t **out, const char **code, char *err, size_t errlen)
{
	const char *vals[] = {id};
	PGresult *doc = NULL;
	json_t *dups = json_array(), *rel = json_array();
	int rc;

	(void)app;
	*out = NULL;
	rc = db_exec(c, doc_sql, 1, vals, NULL, &doc, err, errlen);
	if (rc == 0 && PQntuples(doc) != 1) {
		*code = "not_found";
		util_err_set(err, errlen, UTIL_ENOTFOUND, "no published content with this id");
		PQclear(doc);
		json_decref(dups);
		json_decref(rel);
		return 404;
	}
	if (rc == 0)
		rc = near_dups(c, id, doc, limit, dups, err, errlen);
	if (rc == 0)
		rc = related(c, id, db_value(doc, 0, "lexemes"), limit, dups, rel, err, errlen);
	PQclear(doc);
	if (rc != 0) {
		json_decref(dups);
		json_decref(rel);
		*code = rc == UTIL_ETIMEOUT || rc == UTIL_EUNAVAIL ? "unavailable" : "internal";
		return rc == UTIL_ETIMEOUT || rc == UTIL_EUNAVAIL ? 503 : 500;
	}
	*out = json_pack("{s:s,s:o,s:o}", "id", id, "near_duplicates", dups, "related", rel);
	return *out ? 200 : 500;
}
