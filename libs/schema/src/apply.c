/* schema/apply.c - connect, apply the embedded migrations, disconnect. */
#include "schema/schema.h"

#include "util/err.h"

int schema_apply(const char *pg_url, char *err, size_t errlen)
{
	struct db_conn *db = db_conn_new(pg_url, err, errlen);
	const struct db_migration *list;
	size_t n;
	int rc;

	if (!db)
		return UTIL_EUNAVAIL;
	list = schema_migrations(&n);
	rc = db_migrate(db, list, n, err, errlen);
	db_conn_free(db);
	return rc;
}
