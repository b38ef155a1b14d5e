/*
 * bench/notify/bench_receiver.h - the benchmark's counting webhook receiver.
 */
#ifndef BENCH_NOTIFY_RECEIVER_H
#define BENCH_NOTIFY_RECEIVER_H

#include <stdbool.h>
#include <stdint.h>

struct bench_counts {
	uint64_t requests;   /* every request */
	uint64_t delivered;  /* 200 for a webhook-id seen for the first time */
	uint64_t duplicates; /* 200 for a webhook-id already delivered */
	uint64_t failed;     /* answered 503 on purpose */
};

/* Starts on a free loopback port with `threads` threads; 0 or -1. */
int bench_receiver_start(unsigned *port, int threads);
/* Clears the counts and the id set; fail = share of requests answered 503. */
void bench_receiver_reset(double fail);
struct bench_counts bench_receiver_counts(void);
void bench_receiver_stop(void);

#endif
