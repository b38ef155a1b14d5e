/*
 * bench/overload/overload_bench.c - prints how simpul-ingest behaves past
 * its saturation rate: accepted/s, p50/p99 of acceptances and of 429/503
 * rejections, and RSS, for the unloaded baseline, the saturation phase and
 * the overload phase (open loop at --factor x saturation), then how long a
 * normal submission takes to be accepted again. Needs the stack (see
 * bench/overload/README.md); starts its own ingest child.
 *
 *   overload_bench [--baseline S] [--saturate S] [--conns N] [--overload S]
 *                  [--factor F] [--overload-conns N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "overload.h"

static int parse_args(int argc, char **argv, struct ovl_opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			return -1;
		if (strcmp(a, "--baseline") == 0)
			o->baseline_s = atof(v);
		else if (strcmp(a, "--saturate") == 0)
			o->saturate_s = atof(v);
		else if (strcmp(a, "--conns") == 0)
			o->saturate_conns = (unsigned)atoi(v);
		else if (strcmp(a, "--overload") == 0)
			o->overload_s = atof(v);
		else if (strcmp(a, "--factor") == 0)
			o->factor = atof(v);
		else if (strcmp(a, "--overload-conns") == 0)
			o->overload_conns = (unsigned)atoi(v);
		else
			return -1;
		i++;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct ovl_opts o;
	struct ovl_report rep;
	struct ts_ctx ctx;
	char err[512];
	int rc, st;

	ovl_opts_default(&o);
	if (parse_args(argc, argv, &o) != 0) {
		fprintf(stderr, "usage: overload_bench [--baseline S] [--saturate S] [--conns N] "
				"[--overload S] [--factor F] [--overload-conns N]\n");
		return 2;
	}
	if (ts_ctx_setup(&ctx, NULL) != 0) {
		ts_ctx_teardown(&ctx);
		return 1;
	}
	rc = ovl_run(&ctx, &o, &rep, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "overload_bench: %s\n", err);
	else
		ovl_print(&rep);
	st = ts_ctx_teardown(&ctx);
	printf("ingest exit status after SIGTERM: %d\n", st);
	return rc < 0 || st != 0;
}
