/*
 * fault_common.h - shared bits of the fault tests: which stack component a
 * test stopped (so its teardown restarts it even when an assertion failed),
 * and a submit helper. Each fault test is its own binary; this header is
 * included once per binary.
 */
#ifndef TESTS_FAULT_COMMON_H
#define TESTS_FAULT_COMMON_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ts/ts.h"

#define FAULT_STOP_MS 120000
#define FAULT_START_MS 270000 /* deploy/stack waits up to SIMPUL_KAFKA_START_TIMEOUT (240 s) */

static struct ts_ctx ctx;
static const char *stopped; /* "kafka", "pg", "redis" or NULL */

/* Stops a component ("kafka" -> `deploy/stack kafka-stop`) and remembers it. */
__attribute__((unused)) static void fault_stop(const char *what)
{
	char sub[32], err[2048];

	snprintf(sub, sizeof(sub), "%s-stop", what);
	stopped = what;
	if (ts_stack_run(&ctx.env, sub, FAULT_STOP_MS, err, sizeof(err)) < 0)
		fail_msg("%s", err);
}

/* Starts it again (also called by the teardown); fails the test loudly if
 * the component does not come back. */
__attribute__((unused)) static int fault_start(void)
{
	char sub[32], err[2048];
	const char *what = stopped;

	if (!what)
		return 0;
	snprintf(sub, sizeof(sub), "%s-start", what);
	if (ts_stack_run(&ctx.env, sub, FAULT_START_MS, err, sizeof(err)) < 0) {
		fprintf(stderr, "FAULT TEST COULD NOT RESTART %s: %s\n", what, err);
		return -1;
	}
	stopped = NULL;
	return 0;
}

/* The test-level teardown: restart whatever is still stopped. */
__attribute__((unused)) static int fault_teardown_test(void **state)
{
	return fault_start();
}

__attribute__((unused)) static int fault_teardown_group(void **state)
{
	int rc = fault_start();
	int st = ts_ctx_teardown(&ctx);

	if (st != 0) {
		fprintf(stderr, "simpul-ingest did not exit 0 on SIGTERM (status %d)\n", st);
		ts_ingest_dump_log(&ctx.ingest, 30);
	}
	return rc == 0 && st == 0 ? 0 : -1;
}

/* POSTs a small berita titled `title` with key; returns the status, the
 * id (when 202) into id_out and the Retry-After into ra (may be NULL). */
__attribute__((unused)) static long fault_submit(const char *title, const char *key, char id_out[64], char ra[32])
{
	struct ts_response r;
	char *json = ts_json_content("berita", title, "Isi uji gangguan.", ctx.fx.desa,
				     ctx.fx.kim_id);
	long st;

	ts_http_post_json(&r, ts_ctx_url(&ctx, "/v1/content"), ctx.fx.users[TS_KIM_ADMIN].token,
			  key, json);
	st = r.status;
	if (id_out)
		snprintf(id_out, 64, "%s", st == 202 ? r.id : "");
	if (ra)
		snprintf(ra, 32, "%s", r.retry_after);
	if (st != 202 && st != 503)
		fprintf(stderr, "submit '%s': %ld %s\n", title, st, r.body ? r.body : "");
	ts_response_release(&r);
	free(json);
	return st;
}

#endif
