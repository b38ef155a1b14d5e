/*
 * bench/moderate/moderate_bench.c - the moderation benchmark.
 *   moderate_bench pipeline ARTICLES.csv [LISTS]
 *       scores every article on one thread (analysis, lists, PII, links,
 *       shape, SimHash; no Redis, no PostgreSQL): decisions/s and latency.
 *   moderate_bench kafka ARTICLES.csv N RATE [BROKERS]
 *       end to end through Kafka against a running simpul-moderate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "mod_corpus.h"
#include "util/ids.h"

struct article *bench_load_articles(const char *path, size_t max, size_t *n)
{
	char err[256];
	struct mod_csv *c = mod_csv_open(path, err, sizeof(err));
	struct article *a = calloc(max, sizeof(*a));

	*n = 0;
	if (!c || !a) {
		fprintf(stderr, "articles: %s\n", err);
		mod_csv_close(c);
		free(a);
		return NULL;
	}
	mod_csv_next(c); /* header: id,source,category,sub_category,date,time,title,content,url */
	while (*n < max && mod_csv_next(c)) {
		if (mod_csv_nfields(c) < 8)
			continue;
		a[*n].title = strdup(mod_csv_field(c, 6));
		a[*n].body = strdup(mod_csv_field(c, 7));
		(*n)++;
	}
	mod_csv_close(c);
	return a;
}

void bench_free_articles(struct article *a, size_t n)
{
	for (size_t i = 0; a && i < n; i++) {
		free(a[i].title);
		free(a[i].body);
	}
	free(a);
}

static int cmp_d(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

double bench_percentile(double *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_d);
	i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int pipeline(const char *path, const char *lists)
{
	char err[512];
	size_t n = 0, bytes = 0, counts[4] = {0};
	struct article *a = bench_load_articles(path, 100000, &n);
	struct mod_rules *rules = mod_rules_new(lists, NULL, NULL, err, sizeof(err));
	struct text_work *wk = text_work_new(4u << 20);
	double *lat = calloc(n ? n : 1, sizeof(double));
	struct mod_score_ctx sc = {rules, NULL, NULL, 200};
	int64_t t0;
	double secs, cpu0 = cpu_seconds(), cpu;

	if (!a || !rules || !wk || !lat) {
		fprintf(stderr, "setup failed: %s\n", err);
		return 1;
	}
	t0 = util_mono_us();
	for (size_t i = 0; i < n; i++) {
		struct mod_result r;
		int64_t s = util_mono_us();

		if (mod_score(&sc, wk, a[i].title, strlen(a[i].title), a[i].body, strlen(a[i].body),
			      &r) != 0)
			continue;
		counts[mod_policy_decide(NULL, "35.07", r.total)]++;
		mod_result_release(&r);
		lat[i] = (double)(util_mono_us() - s) / 1000.0;
		bytes += strlen(a[i].title) + strlen(a[i].body);
	}
	secs = (double)(util_mono_us() - t0) / 1e6;
	cpu = cpu_seconds() - cpu0;
	printf("pipeline: %zu articles, %.1f MB in %.2f s: %.0f decisions/s, %.1f MB/s (one thread)\n",
	       n, (double)bytes / 1e6, secs, (double)n / secs, (double)bytes / 1e6 / secs);
	printf("cpu: %.2f s: %.0f decisions per cpu-second\n", cpu, (double)n / cpu);
	printf("decisions: approve=%zu review=%zu reject=%zu\n", counts[MOD_APPROVE],
	       counts[MOD_REVIEW], counts[MOD_REJECT]);
	printf("latency per item: p50=%.3f ms p99=%.3f ms\n", bench_percentile(lat, n, 50),
	       bench_percentile(lat, n, 99));
	free(lat);
	text_work_free(wk);
	mod_rules_free(rules);
	bench_free_articles(a, n);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "pipeline"))
		return pipeline(argv[2], argc > 3 ? argv[3] : NULL);
	if (argc >= 3 && !strcmp(argv[1], "group-at-end"))
		return bench_group_at_end(argc > 3 ? argv[3] : "127.0.0.1:59092", argv[2]);
	if (argc >= 5 && !strcmp(argv[1], "kafka")) {
		size_t n = 0, want = strtoul(argv[3], NULL, 10);
		struct article *a = bench_load_articles(argv[2], want, &n);
		int rc = a ? bench_kafka(argc > 5 ? argv[5] : "127.0.0.1:59092", a, n,
					 strtod(argv[4], NULL), "35.07.12.2001")
			   : 1;

		bench_free_articles(a, n);
		return rc;
	}
	fprintf(stderr, "usage: moderate_bench pipeline ARTICLES.csv [LISTS]\n"
			"       moderate_bench kafka ARTICLES.csv N RATE [BROKERS]\n"
			"       moderate_bench group-at-end GROUP [BROKERS]\n");
	return 2;
}
