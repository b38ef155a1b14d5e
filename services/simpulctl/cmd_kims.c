/*
 * cmd_kims.c - `simpulctl kims create`: the operator's path to register a
 * KIM directly (the public registration is ingest's POST /v1/kims); prints
 * the new KIM's id.
 */
#include <stdio.h>
#include <string.h>

#include "simpulctl.h"

static const char usage[] =
	"usage: simpulctl kims create --name N --region CODE [--status pending|verified|"
	"rejected|suspended]\n"
	"                             [--decree-number X --decree-date YYYY-MM-DD] "
	"[--fields a,b,c]\n";

static bool status_ok(const char *s)
{
	return !strcmp(s, "pending") || !strcmp(s, "verified") || !strcmp(s, "rejected") ||
	       !strcmp(s, "suspended");
}

static int create(const struct simpulctl_ctx *ctx, int argc, char **argv)
{
	enum { NAME, REGION, STATUS, DNUM, DDATE, FIELDS };
	static const char *const spec[] = {"name",	  "region",	 "status",
					   "decree-number", "decree-date", "fields", NULL};
	const char *v[6] = {NULL}, *pos[1];
	size_t npos;
	struct db_conn *c;
	PGresult *r = NULL;
	char err[512];
	int rc;

	if (!simpulctl_opts_parse(argc, argv, spec, v, pos, 0, &npos) || !v[NAME] || !v[REGION]) {
		fputs(usage, stderr);
		return SIMPULCTL_USAGE;
	}
	if (!v[STATUS])
		v[STATUS] = "pending";
	if (!status_ok(v[STATUS]) || (v[DDATE] && !simpulctl_date_shape(v[DDATE]))) {
		fprintf(stderr, "simpulctl: bad --status or --decree-date\n%s", usage);
		return SIMPULCTL_USAGE;
	}
	c = simpulctl_db_open(ctx);
	if (!c)
		return SIMPULCTL_FAIL;
	rc = db_exec(c,
		     "INSERT INTO simpul.kims (name, region_code, status, decree_number, "
		     "decree_date, fields) VALUES ($1, $2, $3, $4, $5::date, "
		     "COALESCE(pg_catalog.string_to_array($6, ','), '{}')) RETURNING id",
		     6, v, NULL, &r, err, sizeof err);
	if (rc)
		simpulctl_db_report(c, "kims create", err);
	else
		printf("%s\n", db_value(r, 0, "id"));
	PQclear(r);
	db_conn_free(c);
	return rc ? SIMPULCTL_FAIL : SIMPULCTL_OK;
}

int simpulctl_cmd_kims(const struct simpulctl_ctx *ctx, int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "create"))
		return create(ctx, argc - 2, argv + 2);
	fputs(usage, stderr);
	return SIMPULCTL_USAGE;
}
