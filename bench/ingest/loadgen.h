/*
 * loadgen.h - an HTTP POST load generator on libcurl's multi interface:
 * N concurrent keep-alive connections, each request with a unique
 * Idempotency-Key, bounded by a duration and a request count. Closed loop
 * by default (each connection re-sends as soon as its answer is in); with
 * rate_per_s set, open loop: requests are due at a fixed rate whatever the
 * answers, and conns only bounds how many may be outstanding.
 */
#ifndef BENCH_LOADGEN_H
#define BENCH_LOADGEN_H

#include <stddef.h>
#include <stdint.h>

/* A pre-built request body (borrowed for the run). */
struct loadgen_body {
	const char *data;
	size_t len;
};

struct loadgen_opts {
	const char *url;        /* full URL, e.g. http://127.0.0.1:8081/v1/content */
	const char *token;      /* Bearer token, or NULL for none */
	const char *key_prefix; /* Idempotency-Key prefix, unique per run */
	const struct loadgen_body *bodies; /* borrowed, cycled through */
	size_t nbodies;
	unsigned conns;         /* concurrent connections (1..1024) */
	double duration_s;      /* stop issuing after this long (0: no limit) */
	uint64_t max_requests;  /* stop issuing after this many (0: no limit) */
	long timeout_ms;        /* per request */
	double rate_per_s;      /* > 0: open loop at this rate; 0: closed loop */
};

struct loadgen_result {
	uint64_t sent, done, accepted; /* accepted: 202 */
	uint64_t status_2xx_other, status_4xx, status_5xx, transport_errors;
	uint64_t connects;      /* TCP connections opened (keep-alive check) */
	double elapsed_s;       /* from first request to last completion */
	double p50_ms, p99_ms, max_ms; /* latency of 202 answers */
	long first_error_status;
	char first_error[256];  /* body (or curl error) of the first non-202 */
	uint64_t status_429, status_503, status_500; /* included in the 4xx/5xx counts */
	double rej_p50_ms, rej_p99_ms, rej_max_ms;   /* latency of 429 and 503 answers */
	uint64_t skipped;       /* open loop: due while all conns were busy, not sent */
};

/*
 * Runs the load described by o and fills r. Returns 0, or a negative
 * UTIL_E* code with detail in err when the run could not be set up.
 * Non-202 answers are counted, not failures of the run.
 */
__attribute__((warn_unused_result)) int loadgen_run(const struct loadgen_opts *o,
						      struct loadgen_result *r, char *err,
						      size_t errlen);

#endif
