/*
 * tests/e2e/pipeline.h - the five Simpul services as child processes of a
 * cross-service test (the end-to-end test and the fault suite): each on a
 * fixed loopback port, with its own consumer group and extra settings, and
 * with what a fault test needs on top of tests/support (ts_ingest_start
 * covers ingest only): SIGKILL and a restart on the same port, so clients
 * keep their URLs.
 *
 * Ownership: the pipeline owns its children; pl_stop_all (SIGTERM, then
 * SIGKILL) must run in every case. Children die with the test (parent-death
 * signal), so a crashed test leaves nothing running.
 */
#ifndef TESTS_E2E_PIPELINE_H
#define TESTS_E2E_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

enum pl_svc { PL_INGEST, PL_MODERATE, PL_SEARCH, PL_NOTIFY, PL_REPORT, PL_NSVC };

#define PL_EXTRA_MAX 16

struct pl_proc {
	const char *name;  /* "ingest" ... (static) */
	const char *bin;   /* borrowed path */
	unsigned port;
	int pid;           /* 0: not running */
	int starts;        /* how often it was started */
	int last_status;   /* exit status (128+signal) when it ended on its own, else -1 */
	char base[64];     /* "http://127.0.0.1:<port>" */
	char log[120];     /* stdout+stderr of every start, appended */
	char *extra[PL_EXTRA_MAX + 1]; /* owned "NAME=value", NULL-terminated */
	size_t nextra;
};

struct pl {
	struct pl_proc p[PL_NSVC];
};

/* The service's name ("ingest", ...). */
const char *pl_name(enum pl_svc s);

/*
 * Prepares (does not start) the five services: bins[PL_NSVC] paths
 * (borrowed), ports port_base..port_base+4, logs under /tmp named by tag,
 * and per service SIMPUL_<SVC>_GROUP=<group_prefix>-<svc> (ingest: its
 * intake consumer is turned off). 0 or UTIL_EINVAL (a missing binary) with
 * detail in err.
 */
int pl_init(struct pl *pl, const char *const bins[PL_NSVC], unsigned port_base,
	    const char *group_prefix, const char *tag, char *err, size_t errlen);

/* Adds a "NAME=value" setting for one service (copied). 0 or UTIL_ENOMEM/EINVAL. */
int pl_setenv(struct pl *pl, enum pl_svc s, const char *name, const char *value);

/*
 * Starts one service with the test's environment (SIMPUL_PG_URL, Kafka,
 * Redis, ...) plus its settings and waits up to wait_ms for GET /healthz
 * to answer 200. 0 or UTIL_E* with the tail of its log in err.
 */
int pl_start(struct pl *pl, enum pl_svc s, int wait_ms, char *err, size_t errlen);
/* pl_start for every service in pipeline order (ingest first). */
int pl_start_all(struct pl *pl, int wait_ms, char *err, size_t errlen);

/* SIGKILL (no shutdown at all) and reap. 0, or UTIL_ENOTFOUND if not running. */
int pl_kill9(struct pl *pl, enum pl_svc s);

/* True if the child still runs (reaps it when it exited). */
bool pl_alive(struct pl *pl, enum pl_svc s);

/* SIGTERM, wait up to wait_ms, then SIGKILL. The exit status (0..255),
 * 128+signal when killed, 0 when it was not running. */
int pl_stop(struct pl *pl, enum pl_svc s, int wait_ms);
/* pl_stop for every running service, in reverse order; frees the settings.
 * Returns the number of services that did not exit 0. */
int pl_stop_all(struct pl *pl, int wait_ms);

/* base URL of a service + path into out. */
const char *pl_url(const struct pl *pl, enum pl_svc s, const char *path, char *out,
		   size_t outlen);

/*
 * GET/POST with an optional Bearer token and JSON body; returns the parsed
 * JSON body (caller json_decref()s) or NULL, the status in *status.
 */
json_t *pl_json(const struct pl *pl, enum pl_svc s, const char *method, const char *path,
		const char *token, const char *body, long *status);

/* Waits until the service's log says its consumers got their partitions
 * and no new assignment came for 3 s (services/report/tests' rs_wait_log).
 * 0 or UTIL_ETIMEOUT. */
int pl_wait_assigned(const struct pl *pl, enum pl_svc s, int ms);

/* Prints the last `lines` lines of a service's log to stderr. */
void pl_dump_log(const struct pl *pl, enum pl_svc s, int lines);

#endif
