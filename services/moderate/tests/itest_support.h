/*
 * services/moderate/tests/itest_support.h - helpers of the moderation
 * integration test (itest_support.c).
 */
#ifndef MODERATE_ITEST_SUPPORT_H
#define MODERATE_ITEST_SUPPORT_H

#include <simpul/v1/content.pb-c.h>
#include <simpul/v1/moderation.pb-c.h>
#include <simpul/v1/registry.pb-c.h>

#include "ts/ts.h"

struct it_service {
	int pid;
	unsigned port;
	char base_url[64];
	char log_path[128];
};

/* Starts bin with the stack's settings plus extra ("NAME=value", NULL-ended)
 * on a free port; waits for /healthz. 0 or -1. */
int it_moderate_start(struct it_service *s, const struct ts_env *env, const char *bin,
		      const char *const *extra);
/* SIGTERM, wait; the exit status or -1. */
int it_moderate_stop(struct it_service *s);
/* A user with a token (role, region prefix may be NULL). 0 or -1. */
int it_user(PGconn *pg, const char *run, const char *role, const char *prefix,
	    struct ts_user *u);
/* Produces a ContentSubmitted (version 1, berita) / RegistryEvent "registered". */
int it_submit(const struct ts_env *env, const char *id, const char *region, const char *kim,
	      const char *author, const char *title, const char *body);
int it_register(const struct ts_env *env, const char *kim_id, const char *region,
		const char *name);
/* One HTTP call with a bearer token; returns the status. */
long it_call(struct ts_response *r, const char *method, const char *url, const char *token,
	     const char *json);

/* Commits group's offsets at the current end of every partition of topics,
 * so a service started in that group sees only what comes next. 0 or -1. */
int it_group_at_end(const char *brokers, const char *group, const char *const *topics, size_t n);

#endif
