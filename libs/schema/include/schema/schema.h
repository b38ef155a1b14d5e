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

#endif
