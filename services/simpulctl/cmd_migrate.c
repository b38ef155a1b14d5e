/*
 * cmd_migrate.c - `simpulctl migrate`: applies the embedded schema
 * migrations (libs/schema) to the configured database.
 */
#include <stdio.h>

#include <schema/schema.h>

#include "simpulctl.h"

int simpulctl_cmd_migrate(const struct simpulctl_ctx *ctx, int argc, char **argv)
{
	const struct db_migration *list;
	struct db_conn *c;
	size_t n, applied = 0;
	char err[1024];
	int rc;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: simpulctl migrate\n");
		return SIMPULCTL_USAGE;
	}
	c = simpulctl_db_open(ctx);
	if (!c)
		return SIMPULCTL_FAIL;
	list = schema_migrations(&n);
	rc = db_migrate_table(c, "simpul.schema_migrations", list, n, &applied, err, sizeof err);
	db_conn_free(c);
	if (rc) {
		fprintf(stderr, "simpulctl: migrate: %s\n", err);
		return SIMPULCTL_FAIL;
	}
	printf("migrations: applied=%zu known=%zu latest=%d\n", applied, n,
	       n ? list[n - 1].version : 0);
	return SIMPULCTL_OK;
}
