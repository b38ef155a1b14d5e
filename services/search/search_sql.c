/*
 * services/search/search_sql.c - GET /v1/search against PostgreSQL: the
 * WHERE clause from the filters, the ranked (or dated) page with keyset
 * pagination, facet counts in one GROUPING SETS scan, snippets, and the
 * JSON answer. Every value travels as a $n parameter.
 *
 * Relevance: ts_rank with weights {D 0.1, C 0.2, B 0.4, A 1.0} (title terms
 * are A), times a recency boost 1 + 1 / (1 + age_days / 30): a new item
 * counts up to twice as much as an old one with the same text score. Only
 * the rank_window most recent matches are ranked (SIMPUL_SEARCH_RANK_WINDOW):
 * ranking reads every candidate's tsvector, so without a window a query for
 * a common word would cost time proportional to the whole corpus. For the
 * same reason total and facets count at most count_limit matches
 * (SIMPUL_SEARCH_COUNT_LIMIT): past it, total is that limit, "total_exact"
 * is false and the facets count those first count_limit matches only.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "db/db.h"
#include "search.h"
#include "slog/slog.h"
#include "util/err.h"
#include "util/ids.h"

#define MAX_PARAMS 32

static const int level_len[] = {0, 2, 5, 8, 13};

struct sqlb {
	struct util_buf sql;
	const char *vals[MAX_PARAMS];
	char own[MAX_PARAMS][48];
	int n;
	int rc;
};

static void sql_add(struct sqlb *b, const char *s)
{
	if (b->rc == 0)
		b->rc = util_buf_append_str(&b->sql, s);
}

/* Appends "$k" bound to v (borrowed; must outlive the statement). */
static void sql_param(struct sqlb *b, const char *v)
{
	if (b->rc == 0 && b->n == MAX_PARAMS)
		b->rc = UTIL_EINTERNAL;
	if (b->rc != 0)
		return;
	b->vals[b->n++] = v;
	b->rc = util_buf_printf(&b->sql, "$%d", b->n);
}

/* Same with a copy of an integer value. */
static void sql_param_int(struct sqlb *b, int64_t v)
{
	if (b->rc == 0 && b->n < MAX_PARAMS) {
		snprintf(b->own[b->n], sizeof(b->own[0]), "%" PRId64, v);
		sql_param(b, b->own[b->n]);
	}
}

/* Appends a text[] literal of items[0..n) (each quoted, escaped) to out. */
static int array_literal(struct util_buf *out, const char *items, size_t n, size_t width)
{
	int rc = util_buf_append_str(out, "{");

	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *s = items + i * width;

		rc = util_buf_append_str(out, i ? ",\"" : "\"");
		for (; *s && rc == 0; s++)
			rc = (*s == '"' || *s == '\\') ? util_buf_printf(out, "\\%c", *s)
						       : util_buf_append(out, s, 1);
		if (rc == 0)
			rc = util_buf_append_str(out, "\"");
	}
	return rc ? rc : util_buf_append_str(out, "}");
}

struct ctx {
	struct search_app *app;
	const struct search_request *r;
	const char *tsq;       /* NULL: no text condition */
	struct util_buf types, tags;
	char region_like[24], now[32];
};

/* " <docs table> d" */
static void join_docs(struct sqlb *b, const struct ctx *x)
{
	sql_add(b, " ");
	sql_add(b, x->app->docs_table ? x->app->docs_table : "simpul.search_docs");
	sql_add(b, " d");
}

/* " FROM <docs table> d" (the bench points the app at its own table). */
static void from_docs(struct sqlb *b, const struct ctx *x)
{
	sql_add(b, " FROM");
	join_docs(b, x);
}

static void where(struct sqlb *b, struct ctx *x)
{
	const struct search_request *r = x->r;

	sql_add(b, " WHERE NOT d.withdrawn");
	if (x->tsq) {
		sql_add(b, " AND d.tsv @@ ");
		sql_param(b, x->tsq);
		sql_add(b, "::tsquery");
	}
	if (r->region[0]) {
		sql_add(b, " AND (d.region_code = ");
		sql_param(b, r->region);
		sql_add(b, " OR d.region_code LIKE ");
		sql_param(b, x->region_like);
		sql_add(b, ")");
	}
	if (r->ntypes) {
		sql_add(b, " AND d.type = ANY(");
		sql_param(b, x->types.data);
		sql_add(b, "::text[])");
	}
	if (r->kim[0]) {
		sql_add(b, " AND d.kim_id = ");
		sql_param(b, r->kim);
		sql_add(b, "::uuid");
	}
	if (r->ntags) {
		sql_add(b, " AND d.tags @> ");
		sql_param(b, x->tags.data);
		sql_add(b, "::text[]");
	}
	if (r->from[0]) {
		sql_add(b, " AND d.published_at >= ");
		sql_param(b, r->from);
		sql_add(b, "::timestamptz");
	}
	if (r->to[0]) {
		sql_add(b, strlen(r->to) == 10 ? " AND d.published_at < (" : " AND d.published_at <= ");
		sql_param(b, r->to);
		sql_add(b, strlen(r->to) == 10 ? "::date + 1)::timestamptz" : "::timestamptz");
	}
}

static const char hit_cols[] =
	"d.id::text AS id, d.published_at::text AS pub, d.version, d.type, d.title, "
	"pg_catalog.left(d.body, 16384) AS body, d.region_code, d.kim_id::text AS kim_id, "
	"pg_catalog.array_to_json(d.tags)::text AS tags, "
	"pg_catalog.to_char(d.published_at AT TIME ZONE 'UTC', "
	"'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS published_at";

static void hits_sql(struct sqlb *b, struct ctx *x)
{
	const struct search_request *r = x->r;

	if (r->sort == 'd') {
		sql_add(b, "SELECT 0::float8 AS score, ");
		sql_add(b, hit_cols);
		from_docs(b, x);
		where(b, x);
		if (r->has_cursor) {
			sql_add(b, " AND (d.published_at < ");
			sql_param(b, r->cursor.published_at);
			sql_add(b, "::timestamptz OR (d.published_at = ");
			sql_param(b, r->cursor.published_at);
			sql_add(b, "::timestamptz AND d.id > ");
			sql_param(b, r->cursor.id);
			sql_add(b, "::uuid))");
		}
		sql_add(b, " ORDER BY d.published_at DESC, d.id LIMIT ");
		sql_param_int(b, r->limit + 1);
		return;
	}
	sql_add(b, "SELECT s.score, ");
	sql_add(b, hit_cols);
	sql_add(b, " FROM (SELECT c.id, (pg_catalog.ts_rank('{0.1,0.2,0.4,1.0}', c.tsv, ");
	sql_param(b, x->tsq);
	sql_add(b, "::tsquery)::float8 * (1.0 + 1.0 / (1.0 + GREATEST(0.0, extract(epoch FROM ("
		   "pg_catalog.to_timestamp(");
	sql_param(b, x->now);
	sql_add(b, "::float8) - c.published_at))::float8) / 2592000.0))) AS score "
		   "FROM (SELECT d.id, d.tsv, d.published_at");
	from_docs(b, x);
	where(b, x);
	/* rank the most recent matches only: broad queries stay cheap */
	sql_add(b, " ORDER BY d.published_at DESC LIMIT ");
	sql_param_int(b, x->app->cfg->rank_window);
	sql_add(b, ") c");
	sql_add(b, ") s JOIN");
	join_docs(b, x);
	sql_add(b, " ON d.id = s.id");
	if (r->has_cursor) {
		sql_add(b, " WHERE (s.score < ");
		snprintf(b->own[31], sizeof(b->own[31]), "%.17g", r->cursor.score);
		sql_param(b, b->own[31]);
		sql_add(b, "::float8 OR (s.score = ");
		sql_param(b, b->own[31]);
		sql_add(b, "::float8 AND s.id > ");
		sql_param(b, r->cursor.id);
		sql_add(b, "::uuid))");
	}
	sql_add(b, " ORDER BY s.score DESC, s.id LIMIT ");
	sql_param_int(b, r->limit + 1);
}

static void facets_sql(struct sqlb *b, struct ctx *x)
{
	sql_add(b, "SELECT grouping(t.type) AS gt, grouping(t.r) AS gr, "
		   "t.type, t.r, count(*) AS n FROM (SELECT d.type, pg_catalog.left(d.region_code, ");
	sql_param_int(b, level_len[x->r->facet_level]);
	sql_add(b, "::integer) AS r");
	from_docs(b, x);
	where(b, x);
	if (x->app->cfg->count_limit > 0) {
		sql_add(b, " LIMIT ");
		sql_param_int(b, x->app->cfg->count_limit);
	}
	sql_add(b, ") t GROUP BY GROUPING SETS ((t.type), (t.r), ())");
}

static int run_sql(struct db_conn *c, struct sqlb *b, PGresult **res, char *err, size_t errlen)
{
	if (b->rc != 0)
		return util_err_set(err, errlen, b->rc, "query too complex");
	return db_exec(c, b->sql.data, b->n, b->vals, NULL, res, err, errlen);
}

static json_t *hit_json(struct search_app *app, struct text_work *wk, const PGresult *res,
			int i, const struct search_parsed *p)
{
	const char *body = db_value(res, i, "body"), *kim = db_value(res, i, "kim_id");
	const char *title = db_value(res, i, "title");
	json_t *h = json_pack("{s:s,s:i,s:s,s:s,s:s,s:s,s:o,s:f}", "id", db_value(res, i, "id"),
			      "version", atoi(db_value(res, i, "version")), "type",
			      db_value(res, i, "type"), "title", title, "region_code",
			      db_value(res, i, "region_code"), "published_at",
			      db_value(res, i, "published_at"), "kim_id",
			      kim ? json_string(kim) : json_null(), "score",
			      strtod(db_value(res, i, "score"), NULL));
	json_t *tags = json_loads(db_value(res, i, "tags"), 0, NULL);

	if (!h || json_object_set_new(h, "tags", tags ? tags : json_array()) ||
	    search_snippet(&app->text->an, wk, title, strlen(title), &p->hl, 64, h,
			   "title_highlight") ||
	    search_snippet(&app->text->an, wk, body, strlen(body), &p->hl, 40, h, "snippet")) {
		json_decref(h);
		return NULL;
	}
	return h;
}

static int add_hits(struct search_app *app, struct text_work *wk, const PGresult *res,
		    const struct search_request *r, const struct search_parsed *p, int64_t now_ms,
		    json_t *out)
{
	int n = PQntuples(res), shown = n > r->limit ? r->limit : n;
	json_t *hits = json_array();
	char cur[SEARCH_CURSOR_MAX + 1];

	if (!hits || json_object_set_new(out, "hits", hits))
		return UTIL_ENOMEM;
	for (int i = 0; i < shown; i++) {
		json_t *h = hit_json(app, wk, res, i, p);

		if (!h || json_array_append_new(hits, h))
			return UTIL_ENOMEM;
	}
	if (n > r->limit) {
		struct search_cursor c = {.sort = r->sort, .now_ms = now_ms};

		c.score = strtod(db_value(res, shown - 1, "score"), NULL);
		snprintf(c.published_at, sizeof(c.published_at), "%s",
			 r->sort == 'd' ? db_value(res, shown - 1, "pub") : "");
		snprintf(c.id, sizeof(c.id), "%s", db_value(res, shown - 1, "id"));
		memcpy(c.qhash, r->qhash, sizeof(c.qhash));
		if (search_cursor_encode(app->cfg->cursor_key, &c, cur, sizeof(cur)) != 0)
			return UTIL_EINTERNAL;
		return json_object_set_new(out, "next_cursor", json_string(cur)) ? UTIL_ENOMEM : 0;
	}
	return json_object_set_new(out, "next_cursor", json_null()) ? UTIL_ENOMEM : 0;
}

static int add_facets(const PGresult *res, int level, int64_t count_limit, json_t *out)
{
	json_t *types = json_object(), *regions = json_object();
	int rc = 0;

	for (int i = 0; i < PQntuples(res); i++) {
		bool gt = db_value(res, i, "gt")[0] == '1', gr = db_value(res, i, "gr")[0] == '1';
		json_int_t n = strtoll(db_value(res, i, "n"), NULL, 10);

		if (gt && gr) {
			rc |= json_object_set_new(out, "total", json_integer(n));
			rc |= json_object_set_new(out, "total_exact",
						  json_boolean(count_limit <= 0 || n < count_limit));
		}
		else if (!gt)
			rc |= json_object_set_new(types, db_value(res, i, "type"), json_integer(n));
		else
			rc |= json_object_set_new(regions, db_value(res, i, "r"), json_integer(n));
	}
	rc |= json_object_set_new(out, "facets",
				  json_pack("{s:o,s:{s:i,s:o}}", "type", types, "region", "level",
					    level, "counts", regions));
	return rc ? UTIL_ENOMEM : 0;
}

static int ctx_init(struct ctx *x, struct search_app *app, const struct search_request *r,
		    const char *tsq, int64_t now_ms)
{
	int rc = 0;

	memset(x, 0, sizeof(*x));
	x->app = app;
	x->r = r;
	x->tsq = tsq;
	util_buf_init(&x->types, 0);
	util_buf_init(&x->tags, 0);
	snprintf(x->region_like, sizeof(x->region_like), "%s.%%", r->region);
	snprintf(x->now, sizeof(x->now), "%" PRId64 ".%03d", now_ms / 1000, (int)(now_ms % 1000));
	if (r->ntypes)
		rc = array_literal(&x->types, &r->types[0][0], r->ntypes, sizeof(r->types[0]));
	if (rc == 0 && r->ntags)
		rc = array_literal(&x->tags, &r->tags[0][0], r->ntags, sizeof(r->tags[0]));
	return rc;
}

static void ctx_release(struct ctx *x)
{
	util_buf_release(&x->types);
	util_buf_release(&x->tags);
}

static int db_status(int rc, const char **code, char *err, size_t errlen)
{
	switch (rc) {
	case UTIL_ETIMEOUT:
		*code = "query_timeout";
		util_err_set(err, errlen, rc, "the query took too long; narrow it down");
		return 503;
	case UTIL_EINVAL:
		*code = "bad_request";
		util_err_set(err, errlen, rc, "a filter value is not valid (check from and to)");
		return 400;
	case UTIL_EUNAVAIL:
		*code = "unavailable";
		return 503;
	default:
		slog_warn("search query failed", "err=%s detail=\"%s\"", util_err_name(rc), err);
		*code = "internal";
		util_err_set(err, errlen, rc, "internal error");
		return 500;
	}
}

static int run_pages(struct search_app *app, struct db_conn *c, struct text_work *wk,
		     const struct search_request *r, const struct search_parsed *p,
		     const char *tsq, json_t *o, const char **code, char *err, size_t errlen)
{
	int64_t now_ms = r->has_cursor ? r->cursor.now_ms : util_now_ms();
	struct sqlb b = {.n = 0};
	PGresult *res = NULL;
	struct ctx x;
	int rc;

	util_buf_init(&b.sql, 0);
	rc = ctx_init(&x, app, r, tsq, now_ms);
	if (rc == 0) {
		hits_sql(&b, &x);
		rc = run_sql(c, &b, &res, err, errlen);
	}
	if (rc == 0)
		rc = add_hits(app, wk, res, r, p, now_ms, o);
	PQclear(res);
	res = NULL;
	if (rc == 0 && r->facet_level > 0) {
		util_buf_reset(&b.sql);
		b.n = 0;
		facets_sql(&b, &x);
		rc = run_sql(c, &b, &res, err, errlen);
		if (rc == 0)
			rc = add_facets(res, r->facet_level, app->cfg->count_limit, o);
	}
	PQclear(res);
	ctx_release(&x);
	util_buf_release(&b.sql);
	return rc ? db_status(rc, code, err, errlen) : 200;
}

int search_run(struct search_app *app, struct db_conn *c, struct text_work *wk,
	       const struct search_request *r, json_t **out, const char **code, char *err,
	       size_t errlen)
{
	struct search_parsed p;
	struct util_buf tsq;
	json_t *o = json_object(), *terms = json_array();
	int status = 200;

	*out = NULL;
	util_buf_init(&tsq, 0);
	if (search_query_parse(&app->text->an, wk, r->q, strlen(r->q), &tsq, &p, err, errlen)) {
		*code = "bad_query";
		status = 400;
		goto out;
	}
	for (size_t i = 0; i < p.hl.n; i++)
		json_array_append_new(terms, json_string(p.hl.stem[i]));
	json_object_set_new(o, "query", json_pack("{s:s,s:O,s:s}", "q", r->q, "terms", terms,
						   "sort", r->sort == 'd' ? "date" : "relevance"));
	if (p.only_stop) {
		json_object_set_new(o, "hits", json_array());
		json_object_set_new(o, "next_cursor", json_null());
		json_object_set_new(o, "total", json_integer(0));
		json_object_set_new(o, "total_exact", json_true());
		json_object_set_new(o, "note", json_string("the query has only stopwords"));
		goto out;
	}
	status = run_pages(app, c, wk, r, &p, p.has_text ? tsq.data : NULL, o, code, err, errlen);
out:
	json_decref(terms);
	util_buf_release(&tsq);
	if (status == 200)
		*out = o;
	else
		json_decref(o);
	return status;
}
