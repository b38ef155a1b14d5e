/*
 * services/report/query.c - the dashboard's reads: totals per region prefix
 * and day range from the aggregate cells, exact decision-time percentiles
 * from the per-item facts, registrations and notifications, KIM activity and
 * coverage, population/area context, and the children one level down.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/db.h"
#include "report.h"
#include "util/err.h"

static const char sql_region[] =
	"SELECT r.name, r.level, c.population, c.area_km2 FROM simpul.regions r"
	" LEFT JOIN simpul.report_region_context c ON c.code = r.code WHERE r.code = $1";
static const char sql_national_ctx[] =
	"SELECT population, area_km2 FROM simpul.report_region_context WHERE code = '0'";
static const char sql_types[] =
	"SELECT COALESCE(type, 'all') AS type, pg_catalog.sum(submitted) AS submitted,"
	" pg_catalog.sum(approved) AS approved, pg_catalog.sum(rejected) AS rejected,"
	" pg_catalog.sum(pending) AS pending FROM simpul.report_cells"
	" WHERE gen = $1::int AND region_code = $2 AND day BETWEEN $3::date AND $4::date"
	" GROUP BY ROLLUP (type) ORDER BY 1";
static const char sql_pct[] =
	"SELECT COALESCE(type, 'all') AS type, pg_catalog.percentile_cont(ARRAY[0.5, 0.9])"
	" WITHIN GROUP (ORDER BY decision_ms) AS pct FROM simpul.report_content"
	" WHERE gen = $1::int AND day BETWEEN $3::date AND $4::date AND decision <> 'pending'"
	" AND ($2::text = '' OR region_code = $2 OR region_code LIKE $2 || '.%')"
	" GROUP BY ROLLUP (type)";
static const char sql_region_day[] =
	"SELECT COALESCE(pg_catalog.sum(kims_pending), 0) AS pending,"
	" COALESCE(pg_catalog.sum(kims_verified), 0) AS verified,"
	" COALESCE(pg_catalog.sum(kims_rejected), 0) AS rejected,"
	" COALESCE(pg_catalog.sum(kims_suspended), 0) AS suspended,"
	" COALESCE(pg_catalog.sum(notif_delivered), 0) AS delivered,"
	" COALESCE(pg_catalog.sum(notif_retrying), 0) AS retrying,"
	" COALESCE(pg_catalog.sum(notif_failed), 0) AS failed FROM simpul.report_region_day"
	" WHERE gen = $1::int AND region_code = $2 AND day BETWEEN $3::date AND $4::date";
/* active: at least one publication (not withdrawn) in the last 30 days */
static const char sql_kims[] =
	"WITH k AS (SELECT k.region_code, k.status, EXISTS (SELECT 1"
	"  FROM simpul.report_publications p WHERE p.gen = k.gen AND p.kim_id = k.kim_id"
	"  AND NOT p.withdrawn AND p.published_at > pg_catalog.now() - interval '30 days')"
	"  AS active FROM simpul.report_kims k WHERE k.gen = $1::int"
	"  AND ($2::text = '' OR k.region_code = $2 OR k.region_code LIKE $2 || '.%'))"
	" SELECT pg_catalog.count(*) AS registered,"
	" pg_catalog.count(*) FILTER (WHERE status = 'verified') AS verified,"
	" pg_catalog.count(*) FILTER (WHERE active) AS active,"
	" (SELECT pg_catalog.count(*) FROM simpul.regions r WHERE r.level = 4"
	"  AND ($2::text = '' OR r.code = $2 OR r.code LIKE $2 || '.%')) AS desa_total,"
	" (SELECT pg_catalog.count(*) FROM simpul.regions r WHERE r.level = 4"
	"  AND r.code IN (SELECT region_code FROM k WHERE active)) AS desa_covered FROM k";
static const char sql_children[] =
	"WITH kids AS (SELECT code FROM simpul.regions WHERE code ~ $5 AND $2::text IS NOT NULL"
	"  UNION SELECT DISTINCT region_code FROM simpul.report_cells WHERE gen = $1::int"
	"  AND day BETWEEN $3::date AND $4::date AND region_code ~ $5)"
	" SELECT kids.code, r.name, COALESCE(pg_catalog.sum(c.submitted), 0) AS submitted,"
	" COALESCE(pg_catalog.sum(c.approved), 0) AS approved,"
	" COALESCE(pg_catalog.sum(c.rejected), 0) AS rejected,"
	" COALESCE(pg_catalog.sum(c.pending), 0) AS pending FROM kids"
	" LEFT JOIN simpul.regions r ON r.code = kids.code"
	" LEFT JOIN simpul.report_cells c ON c.gen = $1::int AND c.region_code = kids.code"
	"  AND c.day BETWEEN $3::date AND $4::date"
	" GROUP BY kids.code, r.name ORDER BY kids.code";
static const char sql_kim[] =
	"SELECT k.kim_id, k.name, k.region_code, k.status, k.registered_at,"
	" (SELECT pg_catalog.max(p.published_at) FROM simpul.report_publications p"
	"  WHERE p.gen = $1::int AND p.kim_id = $2::uuid AND NOT p.withdrawn) AS last_published_at,"
	" (SELECT pg_catalog.count(*) FROM simpul.report_publications p WHERE p.gen = $1::int"
	"  AND p.kim_id = $2::uuid AND NOT p.withdrawn"
	"  AND p.published_at > pg_catalog.now() - interval '30 days') AS published_30d"
	" FROM (SELECT $2::uuid AS id) q LEFT JOIN simpul.report_kims k"
	" ON k.gen = $1::int AND k.kim_id = q.id";

bool report_region_valid(const char *code)
{
	static const int seg[] = {2, 2, 2, 4};
	const char *p = code;

	if (!code)
		return false;
	if (!*code)
		return true;
	for (int i = 0; i < 4; i++) {
		for (int j = 0; j < seg[i]; j++, p++)
			if (!isdigit((unsigned char)*p))
				return false;
		if (*p == '\0')
			return true;
		if (*p++ != '.' || i == 3)
			return false;
	}
	return false;
}

int report_region_level(const char *code)
{
	int level = *code ? 1 : 0;

	for (const char *p = code; *p; p++)
		level += *p == '.';
	return level;
}

static bool date_valid(const char *s)
{
	struct tm tm = {0};
	const char *end;

	if (!s || strlen(s) != 10)
		return false;
	end = strptime(s, "%Y-%m-%d", &tm);
	return end && *end == '\0' && tm.tm_year >= 0 && tm.tm_year < 1100; /* 1900..2999 */
}

int report_range_parse(const char *from, const char *to, struct report_range *r, char *err,
		       size_t errlen)
{
	time_t now = time(NULL) + 7 * 3600; /* WIB */
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(r->to, sizeof(r->to), "%Y-%m-%d", &tm);
	now -= 29 * 86400;
	gmtime_r(&now, &tm);
	strftime(r->from, sizeof(r->from), "%Y-%m-%d", &tm);
	if (from && !date_valid(from))
		return util_err_set(err, errlen, UTIL_EINVAL, "from: expected YYYY-MM-DD");
	if (to && !date_valid(to))
		return util_err_set(err, errlen, UTIL_EINVAL, "to: expected YYYY-MM-DD");
	if (from)
		memcpy(r->from, from, 11);
	if (to)
		memcpy(r->to, to, 11);
	if (strcmp(r->from, r->to) > 0)
		return util_err_set(err, errlen, UTIL_EINVAL, "from: after to");
	return 0;
}

int report_current_gen(struct db_conn *c)
{
	PGresult *r = NULL;
	int gen = 1;

	if (db_exec(c, "SELECT current_gen FROM simpul.report_state", 0, NULL, NULL, &r, NULL, 0) ==
		    0 &&
	    PQntuples(r) == 1)
		gen = atoi(db_value(r, 0, "current_gen"));
	PQclear(r);
	return gen;
}

static json_t *jnum(const PGresult *r, int row, const char *col)
{
	const char *s = db_value(r, row, col);

	return json_integer(s ? strtoll(s, NULL, 10) : 0);
}

/* "{500,900}" -> p50/p90 seconds into obj. */
static void put_pct(json_t *obj, const char *pct)
{
	double a = 0, b = 0;

	if (pct)
		sscanf(pct, "{%lf,%lf}", &a, &b);
	json_object_set_new(obj, "decision_p50_s", json_real(a / 1000.0));
	json_object_set_new(obj, "decision_p90_s", json_real(b / 1000.0));
}

static json_t *stats_obj(const PGresult *r, int i)
{
	json_t *o = json_object();

	json_object_set_new(o, "submitted", jnum(r, i, "submitted"));
	json_object_set_new(o, "approved", jnum(r, i, "approved"));
	json_object_set_new(o, "rejected", jnum(r, i, "rejected"));
	json_object_set_new(o, "pending", jnum(r, i, "pending"));
	return o;
}

/* totals and by_type, with percentiles */
static int put_types(struct db_conn *c, const char *const *v, json_t *out, char *err,
		     size_t errlen)
{
	PGresult *t = NULL, *p = NULL;
	json_t *by_type = json_object(), *total = NULL;
	int rc = db_exec(c, sql_types, 4, v, NULL, &t, err, errlen);

	if (rc == 0)
		rc = db_exec(c, sql_pct, 4, v, NULL, &p, err, errlen);
	for (int i = 0; rc == 0 && i < PQntuples(t); i++) {
		const char *type = db_value(t, i, "type");
		json_t *o = stats_obj(t, i);
		const char *pct = NULL;

		for (int j = 0; j < PQntuples(p); j++)
			if (!strcmp(db_value(p, j, "type"), type))
				pct = db_value(p, j, "pct");
		put_pct(o, pct);
		if (!strcmp(type, "all"))
			total = o;
		else
			json_object_set_new(by_type, type, o);
	}
	if (!total) {
		total = json_pack("{sisisisi}", "submitted", 0, "approved", 0, "rejected", 0,
				  "pending", 0);
		put_pct(total, NULL);
	}
	json_object_set_new(out, "totals", total);
	json_object_set_new(out, "by_type", by_type);
	PQclear(t);
	PQclear(p);
	return rc;
}

static int put_region_day(struct db_conn *c, const char *const *v, json_t *out, char *err,
			  size_t errlen)
{
	PGresult *r = NULL;
	int rc = db_exec(c, sql_region_day, 4, v, NULL, &r, err, errlen);

	if (rc)
		return rc;
	json_object_set_new(out, "registrations",
			    json_pack("{sosososo}", "pending", jnum(r, 0, "pending"), "verified",
				      jnum(r, 0, "verified"), "rejected", jnum(r, 0, "rejected"),
				      "suspended", jnum(r, 0, "suspended")));
	json_object_set_new(out, "notifications",
			    json_pack("{sososo}", "delivered", jnum(r, 0, "delivered"), "retrying",
				      jnum(r, 0, "retrying"), "failed", jnum(r, 0, "failed")));
	PQclear(r);
	return 0;
}

static int put_kims(struct db_conn *c, const char *const *v, json_t *out, char *err,
		    size_t errlen)
{
	PGresult *r = NULL;
	int64_t total, covered;
	int rc = db_exec(c, sql_kims, 2, v, NULL, &r, err, errlen);

	if (rc)
		return rc;
	total = strtoll(db_value(r, 0, "desa_total"), NULL, 10);
	covered = strtoll(db_value(r, 0, "desa_covered"), NULL, 10);
	json_object_set_new(out, "kims",
			    json_pack("{sosososIsIsf}", "registered", jnum(r, 0, "registered"),
				      "verified", jnum(r, 0, "verified"), "active",
				      jnum(r, 0, "active"), "desa_total", (json_int_t)total,
				      "desa_covered", (json_int_t)covered, "coverage",
				      total ? (double)covered / (double)total : 0.0));
	PQclear(r);
	return 0;
}

static int put_children(struct db_conn *c, const char *const *v, const char *region,
			json_t *out, char *err, size_t errlen)
{
	char re[80], esc[40];
	const char *cv[5] = {v[0], v[1], v[2], v[3], re};
	PGresult *r = NULL;
	json_t *arr = json_array();
	size_t k = 0;
	int rc;

	for (const char *p = region; *p && k + 3 < sizeof(esc); p++) {
		if (*p == '.')
			esc[k++] = '\\';
		esc[k++] = *p;
	}
	esc[k] = '\0';
	if (!*region)
		snprintf(re, sizeof(re), "^[0-9]{2}$");
	else
		snprintf(re, sizeof(re), "^%s\\.[0-9]+$", esc);
	rc = db_exec(c, sql_children, 5, cv, NULL, &r, err, errlen);
	for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
		json_t *o = stats_obj(r, i);
		const char *name = db_value(r, i, "name");

		json_object_set_new(o, "code", json_string(db_value(r, i, "code")));
		json_object_set_new(o, "name", name ? json_string(name) : json_null());
		json_array_append_new(arr, o);
	}
	json_object_set_new(out, "children", arr);
	PQclear(r);
	return rc;
}

static int put_region(struct db_conn *c, const char *region, json_t *out, char *err,
		      size_t errlen)
{
	const char *v[1] = {region};
	PGresult *r = NULL;
	json_t *o;
	int rc = *region ? db_exec(c, sql_region, 1, v, NULL, &r, err, errlen)
			 : db_exec(c, sql_national_ctx, 0, NULL, NULL, &r, err, errlen);

	if (rc)
		return rc;
	if (*region && PQntuples(r) == 0) {
		PQclear(r);
		return util_err_set(err, errlen, UTIL_ENOTFOUND, "no such region");
	}
	o = json_pack("{sssssi}", "code", *region ? region : "", "name",
		      *region ? db_value(r, 0, "name") : "Indonesia", "level",
		      report_region_level(region));
	json_object_set_new(o, "population",
			    PQntuples(r) && db_value(r, 0, "population")
				    ? json_integer(strtoll(db_value(r, 0, "population"), NULL, 10))
				    : json_null());
	json_object_set_new(o, "area_km2",
			    PQntuples(r) && db_value(r, 0, "area_km2")
				    ? json_real(strtod(db_value(r, 0, "area_km2"), NULL))
				    : json_null());
	json_object_set_new(out, "region", o);
	PQclear(r);
	return 0;
}

int report_dashboard(struct db_conn *c, const char *region, const struct report_range *rg,
		     json_t **out, char *err, size_t errlen)
{
	char gen[16];
	const char *v[4] = {gen, region, rg->from, rg->to};
	int g = report_current_gen(c);
	json_t *o = json_object();
	int rc;

	*out = NULL;
	snprintf(gen, sizeof(gen), "%d", g);
	json_object_set_new(o, "from", json_string(rg->from));
	json_object_set_new(o, "to", json_string(rg->to));
	json_object_set_new(o, "generation", json_integer(g));
	rc = put_region(c, region, o, err, errlen);
	if (rc == 0)
		rc = put_types(c, v, o, err, errlen);
	if (rc == 0)
		rc = put_region_day(c, v, o, err, errlen);
	if (rc == 0)
		rc = put_kims(c, v, o, err, errlen);
	if (rc == 0 && report_region_level(region) < 4)
		rc = put_children(c, v, region, o, err, errlen);
	if (rc) {
		json_decref(o);
		return rc;
	}
	*out = o;
	return 0;
}

int report_kim_activity(struct db_conn *c, const char *kim_id, json_t **out, char *err,
			size_t errlen)
{
	char gen[16];
	const char *v[2] = {gen, kim_id};
	PGresult *r = NULL;
	int64_t n30;
	int rc;

	*out = NULL;
	snprintf(gen, sizeof(gen), "%d", report_current_gen(c));
	rc = db_exec(c, sql_kim, 2, v, NULL, &r, err, errlen);
	if (rc)
		return rc;
	if (!db_value(r, 0, "kim_id") && !db_value(r, 0, "last_published_at")) {
		PQclear(r);
		return util_err_set(err, errlen, UTIL_ENOTFOUND, "no such kim");
	}
	n30 = strtoll(db_value(r, 0, "published_30d"), NULL, 10);
	*out = json_pack("{ssss?ss?ss?ss?sIsb}", "kim_id", kim_id, "name", db_value(r, 0, "name"),
			 "region_code", db_value(r, 0, "region_code"), "status",
			 db_value(r, 0, "status"), "last_published_at",
			 db_value(r, 0, "last_published_at"), "published_30d", (json_int_t)n30,
			 "active", n30 > 0);
	PQclear(r);
	return *out ? 0 : UTIL_ENOMEM;
}
