/*
 * service/service.h - the life of a service process, shared by every
 * simpul-<name> binary: --help, configuration, logging, start, wait for
 * SIGTERM/SIGINT, graceful stop.
 *
 * A service describes itself with a struct service_def (its name, a summary
 * line, and callbacks over its own config and app types) and its main() is
 * `return service_main(&def, argc, argv);`. Exit status: 0 after a clean
 * stop (or --help), 1 when start-up fails, 2 on bad configuration or usage
 * (every bad value reported together, before any socket is opened).
 */
#ifndef SERVICE_SERVICE_H
#define SERVICE_SERVICE_H

#include <stddef.h>

struct service_def {
	const char *name;    /* "ingest": binary simpul-ingest, log svc=ingest */
	const char *summary; /* one line for --help */
	void *cfg;           /* the service's config struct (caller storage) */
	void *app;           /* the service's app struct (caller storage) */

	/* Fills cfg from the environment; 0 or non-zero with lines in err. */
	int (*config_load)(void *cfg, char *err, size_t errlen);
	void (*config_release)(void *cfg);
	void (*config_log)(void *cfg);  /* the effective config, secrets masked */
	void (*config_help)(void);      /* the variables table, for --help */
	const char *(*log_level)(void *cfg);
	const char *(*bind)(void *cfg); /* for the "listening" line */

	/* Starts everything; on failure app is stopped by service_main. */
	int (*start)(void *app, void *cfg, char *err, size_t errlen);
	void (*stop)(void *app);        /* graceful; also after a failed start */
	int (*port)(void *app);
	/* Optional (may be NULL): called on SIGHUP, e.g. to reload lists. */
	void (*reload)(void *app);
};

/*
 * Runs the process: "--help"/"-h" prints the summary and variables (exit 0),
 * any other argument prints them and exits 2. Blocks SIGTERM and SIGINT in
 * every thread (so only main receives them) and ignores SIGPIPE, then waits
 * for one of the signals and stops the service gracefully. With a reload
 * callback, SIGHUP is handled too: it calls reload and keeps running.
 */
int service_main(const struct service_def *def, int argc, char **argv);

#endif
