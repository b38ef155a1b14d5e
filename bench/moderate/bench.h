/*
 * bench/moderate/bench.h - shared parts of the moderation benchmark.
 */
#ifndef BENCH_MODERATE_BENCH_H
#define BENCH_MODERATE_BENCH_H

#include <stddef.h>
#include <stdint.h>

struct article {
	char *title;
	char *body;
};

/* Loads up to max articles (title, content) from articles.csv. */
struct article *bench_load_articles(const char *path, size_t max, size_t *n);
void bench_free_articles(struct article *a, size_t n);
/* p-th percentile (0..100) of v[0..n) (sorted in place). */
double bench_percentile(double *v, size_t n, double p);

/* Kafka mode: produces n articles (at rate per second, 0 = as fast as
 * possible) and waits for their ContentModerated events. */
int bench_kafka(const char *brokers, const struct article *a, size_t n, double rate,
		const char *region);

/* Sets group's committed offsets to the end of kim.content.submitted.v1. */
int bench_group_at_end(const char *brokers, const char *group);

#endif
