/*
 * simpulctl.h - the operator tool's command groups, one file each
 * (cmd_<group>.c), and the small helpers they share (opts.c).
 *
 * Every command returns the process exit status: 0 success, 1 failure,
 * 2 bad usage. argv[0] is the group word ("regions", "users", ...). Results
 * go to stdout (ids, tokens, counts), diagnostics to stderr.
 */
#ifndef SIMPULCTL_SIMPULCTL_H
#define SIMPULCTL_SIMPULCTL_H

#include <stdbool.h>
#include <stddef.h>

#include <db/db.h>

#define SIMPULCTL_OK 0
#define SIMPULCTL_FAIL 1
#define SIMPULCTL_USAGE 2

/* Settings shared by all commands (from libs/config in main.c); borrowed. */
struct simpulctl_ctx {
	const char *pg_url;
	const char *brokers;
};

int simpulctl_cmd_migrate(const struct simpulctl_ctx *ctx, int argc, char **argv);
int simpulctl_cmd_regions(const struct simpulctl_ctx *ctx, int argc, char **argv);
int simpulctl_cmd_users(const struct simpulctl_ctx *ctx, int argc, char **argv);
int simpulctl_cmd_kims(const struct simpulctl_ctx *ctx, int argc, char **argv);
int simpulctl_cmd_tokens(const struct simpulctl_ctx *ctx, int argc, char **argv);

/* Connects to PostgreSQL or prints why not (stderr); NULL on failure. */
struct db_conn *simpulctl_db_open(const struct simpulctl_ctx *ctx);

/*
 * Prints a failed statement's error on stderr as "simpulctl: WHAT: ERR",
 * plus a plain hint when the violated constraint is a known one.
 */
void simpulctl_db_report(const struct db_conn *c, const char *what, const char *err);

/* True if s is a YYYY-MM-DD shaped string (the server checks the date). */
bool simpulctl_date_shape(const char *s);

/*
 * "--name value" / "--name=value" options. spec lists the accepted names
 * (without "--"), NULL-terminated; values[i] receives the value of spec[i]
 * (borrowed from argv) or stays NULL. Positional arguments go to pos[] (up
 * to maxpos, count in *npos). Prints the problem and returns false on an
 * unknown option, a missing value or too many positionals.
 */
bool simpulctl_opts_parse(int argc, char **argv, const char *const *spec, const char **values,
			  const char **pos, size_t maxpos, size_t *npos);

#endif
