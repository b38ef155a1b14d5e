/*
 * db/pool.h - a fixed pool of PostgreSQL connections shared by threads.
 *
 * Every connection is opened at creation (with allow_down in opts the pool
 * is created even while PostgreSQL is down; each connection reconnects on
 * use, see db.h). get blocks until a connection is free; put gives it back.
 * A borrowed connection is used by one thread at a time.
 */
#ifndef DB_POOL_H
#define DB_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include "db/db.h"

struct db_pool;

/* n connections to url with opts (may be NULL). NULL with err on failure. */
struct db_pool *db_pool_new(const char *url, const struct db_conn_opts *opts, int n, char *err,
			    size_t errlen);
/* Closes every connection; all must have been put back. NULL does nothing. */
void db_pool_free(struct db_pool *p);
/* Borrows a connection, waiting until one is free. */
struct db_conn *db_pool_get(struct db_pool *p);
/* Returns a connection borrowed from p. */
void db_pool_put(struct db_pool *p, struct db_conn *c);
/* True if any connection is up (for /readyz); no I/O. */
bool db_pool_up(struct db_pool *p);

#endif
