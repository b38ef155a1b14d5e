/*
 * cmd_users.c - `simpulctl users create`: creates a user (any role) and
 * prints its id. Tokens for it come from `simpulctl tokens create`.
 */
#include <stdio.h>
#include <string.h>

#include <util/ids.h>

#include "simpulctl.h"

static const char usage[] = "usage: simpulctl users create --name N --role R [--email E] "
			    "[--region PREFIX] [--kim UUID]\n";

static const char *const roles[] = {"citizen", "kim_member", "kim_admin",  "moderator",
				    "analyst", "admin",	     "integration", NULL};

static bool role_ok(const char *r)
{
	for (int i = 0; roles[i]; i++)
		if (!strcmp(roles[i], r))
			return true;
	return false;
}

static int create(const struct simpulctl_ctx *ctx, int argc, char **argv)
{
	enum { NAME, ROLE, EMAIL, REGION, KIM };
	static const char *const spec[] = {"name", "role", "email", "region", "kim", NULL};
	const char *v[5] = {NULL}, *pos[1];
	size_t npos;
	struct db_conn *c;
	PGresult *r = NULL;
	char err[512];
	int rc;

	if (!simpulctl_opts_parse(argc, argv, spec, v, pos, 0, &npos) || !v[NAME] || !v[ROLE]) {
		fputs(usage, stderr);
		return SIMPULCTL_USAGE;
	}
	if (!role_ok(v[ROLE])) {
		fprintf(stderr, "simpulctl: unknown role \"%s\"\n%s", v[ROLE], usage);
		return SIMPULCTL_USAGE;
	}
	if (v[KIM] && !util_uuid_valid(v[KIM])) {
		fprintf(stderr, "simpulctl: --kim must be a UUID\n");
		return SIMPULCTL_USAGE;
	}
	c = simpulctl_db_open(ctx);
	if (!c)
		return SIMPULCTL_FAIL;
	rc = db_exec(c,
		     "INSERT INTO simpul.users (name, role, email, region_prefix, kim_id) "
		     "VALUES ($1, $2, $3, $4, $5::uuid) RETURNING id",
		     5, v, NULL, &r, err, sizeof err);
	if (rc)
		simpulctl_db_report(c, "users create", err);
	else
		printf("%s\n", db_value(r, 0, "id"));
	PQclear(r);
	db_conn_free(c);
	return rc ? SIMPULCTL_FAIL : SIMPULCTL_OK;
}

int simpulctl_cmd_users(const struct simpulctl_ctx *ctx, int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "create"))
		return create(ctx, argc - 2, argv + 2);
	fputs(usage, stderr);
	return SIMPULCTL_USAGE;
}
