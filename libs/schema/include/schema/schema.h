/*
 * schema/schema.h - Simpul's numbered SQL migrations, embedded at build time.
 *
 * The files libs/schema/migrations/NNNN_name.sql are compiled into the
 * binary (no files needed at run time). Apply them with db_migrate().
 */
#ifndef SCHEMA_SCHEMA_H
#define SCHEMA_SCHEMA_H

#include <stddef.h>

#include <db/db.h>

/*
 * The migrations in version order; *n receives their count. The array and
 * its strings are static: never freed, valid for the life of the program.
 */
const struct db_migration *schema_migrations(size_t *n);

/*
 * Opens its own connection to pg_url, applies every pending migration (under
 * db_migrate's advisory lock, so services starting together do not race)
 * and closes it. 0; UTIL_EUNAVAIL when PostgreSQL cannot be reached; else
 * db_migrate's error, with detail in err.
 */
__attribute__((warn_unused_result)) int schema_apply(const char *pg_url, char *err,
						     size_t errlen);

#endif
