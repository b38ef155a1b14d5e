/*
 * tests/overload/ingest_overload_test.c - simpul-ingest driven past its
 * saturation rate sheds load and recovers by itself. A fresh ingest child
 * (tests/support) is measured closed-loop (the saturation rate S), then
 * loaded open-loop at 2 x S; if that did not overload it (the box got
 * quieter), the rate doubles, up to 16 x S. The child runs with
 * SIMPUL_INGEST_MAX_IN_FLIGHT=64 so the shedding point does not depend on
 * how many connections the client keeps open. Asserted - behaviour, never
 * time:
 *   - some requests were refused with 429/503 (the first one seen carries
 *     a load-shedding code); none got a 500; transport errors
 *     (resets, timeouts) stay under 5% of what was sent;
 *   - the process is alive afterwards and its RSS stayed under
 *     SIMPUL_OVERLOAD_RSS_MAX_MB (default 1536: an ASan build);
 *   - once the load stops, a normal submission is accepted (202) within
 *     30 s, and SIGTERM still ends the service with status 0.
 * The figures (throughput, p50/p99 of acceptances and of rejections, RSS,
 * CPU) are printed, never asserted; bench/overload prints the same
 * scenario with its unloaded baseline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "overload.h"

#define MAX_FACTOR 16

static struct ts_ctx ctx;

static const char *const extra_env[] = {"SIMPUL_INGEST_MAX_IN_FLIGHT=64",
					"SIMPUL_LOG_LEVEL=warn", NULL};

static int setup(void **state)
{
	(void)state;
	return ts_ctx_setup(&ctx, extra_env) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	int st = ts_ctx_teardown(&ctx);

	(void)state;
	if (st != 0)
		fprintf(stderr, "simpul-ingest did not exit 0 on SIGTERM (status %d)\n", st);
	return st == 0 ? 0 : -1;
}

static long rss_max_kb(void)
{
	const char *v = getenv("SIMPUL_OVERLOAD_RSS_MAX_MB");
	long mb = v && *v ? atol(v) : 1536;

	return (mb > 0 ? mb : 1536) * 1024;
}

static uint64_t refused(const struct ovl_report *rep)
{
	return rep->overload.r.status_429 + rep->overload.r.status_503;
}

static void test_overload_sheds_and_recovers(void **state)
{
	struct ovl_opts o;
	struct ovl_report rep;
	char err[512];

	(void)state;
	ovl_opts_default(&o);
	o.baseline_s = 1;
	o.saturate_s = 4;
	o.overload_s = 8;
	o.factor = 2;
	for (;;) {
		if (ovl_run(&ctx, &o, &rep, err, sizeof(err)) != 0)
			fail_msg("overload scenario: %s", err);
		printf("factor %.0f:\n", o.factor);
		ovl_print(&rep);
		fflush(stdout);
		if (refused(&rep) > 0 || o.factor >= MAX_FACTOR || !rep.alive)
			break;
		o.factor *= 2;
		o.baseline_s = 0.5;
		o.saturate_s = 2;
	}
	assert_true(rep.alive);
	assert_true(refused(&rep) > 0);
	if ((rep.overload.r.first_error_status == 503 || rep.overload.r.first_error_status == 429) &&
	    !strstr(rep.overload.r.first_error, "\"overloaded\"") &&
	    !strstr(rep.overload.r.first_error, "\"rate_limited\""))
		fail_msg("the first refusal is not a load-shedding one: %ld %s",
			 rep.overload.r.first_error_status, rep.overload.r.first_error);
	assert_int_equal(rep.overload.r.status_500, 0);
	assert_int_equal(rep.saturate.r.status_500, 0);
	if (rep.overload.r.transport_errors * 20 > rep.overload.r.sent)
		fail_msg("%llu transport errors (resets/timeouts) of %llu requests",
			 (unsigned long long)rep.overload.r.transport_errors,
			 (unsigned long long)rep.overload.r.sent);
	if (rep.overload.rss_peak_kb <= 0 || rep.overload.rss_peak_kb > rss_max_kb())
		fail_msg("ingest RSS peaked at %ld kB (limit %ld kB)", rep.overload.rss_peak_kb,
			 rss_max_kb());
	assert_int_equal(rep.recover_status, 202);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_overload_sheds_and_recovers),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
