/*
 * bench/overload/overload.h - the overload scenario shared by the test
 * (tests/overload: asserts behaviour) and the benchmark (bench/overload:
 * prints the figures): a simpul-ingest child with fixtures (tests/support),
 * the phases run against it with bench/ingest's load generator, and the
 * child's RSS sampled while they run.
 *
 * Phases: unloaded (1 connection, closed loop: the same-run baseline),
 * saturation (closed loop, many connections: accepted/s is the saturation
 * rate S), overload (open loop at factor x S), recovery (single normal
 * submissions until one is accepted).
 */
#ifndef BENCH_OVERLOAD_H
#define BENCH_OVERLOAD_H

#include <stddef.h>

#include "loadgen.h"
#include "ts/ts.h"

struct ovl_opts {
	double baseline_s;   /* unloaded phase, seconds */
	double saturate_s;   /* saturation phase */
	unsigned saturate_conns;
	double overload_s;   /* overload phase */
	double factor;       /* overload rate = factor x saturation rate */
	unsigned overload_conns; /* outstanding requests allowed in the overload phase */
	int recover_ms;      /* longest wait for an accepted submission afterwards */
};

struct ovl_phase {
	struct loadgen_result r;
	double rate;         /* open loop: requests/s asked; 0 closed loop */
	long rss_peak_kb;    /* of the ingest child while the phase ran */
	long rss_end_kb;
	double cpu_s;        /* CPU time (user + system) the ingest child used meanwhile */
	double srv_mean_ms;  /* mean of POST /v1/content as the server timed it (from its
			      * http_request_duration_seconds): the rest is client and kernel */
};

struct ovl_report {
	struct ovl_phase baseline, saturate, overload;
	double saturation_rate;   /* accepted/s of the saturation phase */
	long rss_start_kb;
	int recover_status;       /* HTTP status of the last recovery attempt */
	double recover_ms;        /* time until a normal submission was accepted */
	int recover_attempts;
	bool alive;               /* the child still ran after the overload */
};

#define OVL_NBODIES 64

/* Request bodies for the load: OVL_NBODIES valid submissions (type berita)
 * for fx's KIM and desa, titles tagged with tag and fx->run. */
struct ovl_bodies {
	struct loadgen_body b[OVL_NBODIES];
	char *text[OVL_NBODIES]; /* owned */
};

/* 0 or UTIL_ENOMEM; release with ovl_bodies_release in both cases. */
__attribute__((warn_unused_result)) int ovl_bodies_init(struct ovl_bodies *bs,
							const struct ts_fixture *fx,
							const char *tag);
void ovl_bodies_release(struct ovl_bodies *bs);

/* Defaults for a CI-sized run. */
void ovl_opts_default(struct ovl_opts *o);

/* VmRSS of pid in kB from /proc/PID/status; -1 when unreadable. */
long ovl_rss_kb(int pid);

/*
 * Runs every phase against ctx's ingest (the fixture's kim_admin token,
 * its KIM and desa). 0, or a negative UTIL_E* when a phase could not run
 * (detail in err); behaviour is judged by the caller from rep.
 */
__attribute__((warn_unused_result)) int ovl_run(struct ts_ctx *ctx, const struct ovl_opts *o,
						struct ovl_report *rep, char *err, size_t errlen);

/* Prints rep as a table (figures of every phase). */
void ovl_print(const struct ovl_report *rep);

#endif
