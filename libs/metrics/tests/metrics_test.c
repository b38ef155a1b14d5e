/* Unit tests of libs/metrics: exact rendered text, cardinality cap, threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"
#include "util/err.h"

static char *render(struct metrics_registry *reg)
{
	struct util_buf b;

	util_buf_init(&b, 1 << 20);
	assert_int_equal(metrics_registry_render(reg, &b), 0);
	return util_buf_steal(&b);
}

static void counter_exact_text(void **state)
{
	struct metrics_registry *reg = metrics_registry_new();
	struct metrics_counter *plain, *lab;
	const char *v1[] = {"/v1/content", "202"};
	const char *v2[] = {"/v1/content/{id}", "404"};
	char *s;

	plain = metrics_counter_new(reg, "jobs_total", "Jobs done.", NULL);
	lab = metrics_counter_new(reg, "http_requests_total", "Requests served.", "route,status");
	assert_non_null(plain);
	assert_non_null(lab);
	metrics_counter_inc(lab, v1);
	metrics_counter_add(lab, v1, 2);
	metrics_counter_inc(lab, v2);
	metrics_counter_add(plain, NULL, 0.5);
	metrics_counter_add(plain, NULL, -3);  /* ignored */
	metrics_counter_add(plain, NULL, NAN); /* ignored */
	s = render(reg);
	assert_string_equal(s, "# HELP jobs_total Jobs done.\n"
			       "# TYPE jobs_total counter\n"
			       "jobs_total 0.5\n"
			       "# HELP http_requests_total Requests served.\n"
			       "# TYPE http_requests_total counter\n"
			       "http_requests_total{route=\"/v1/content\",status=\"202\"} 3\n"
			       "http_requests_total{route=\"/v1/content/{id}\",status=\"404\"} 1\n");
	assert_true(metrics_counter_value(lab, v1) == 3);
	assert_true(metrics_counter_value(lab, (const char *[]){"x", "y"}) == 0);
	free(s);
	metrics_registry_free(reg);
}

static void gauge_and_escaping(void **state)
{
	struct metrics_registry *reg = metrics_registry_new();
	struct metrics_gauge *g = metrics_gauge_new(reg, "queue_depth", "Depth \\ of\nqueue.", "q");
	const char *v[] = {"a\"b\\c\nd"};
	char *s;

	metrics_gauge_set(g, v, 10);
	metrics_gauge_add(g, v, -2.25);
	s = render(reg);
	assert_string_equal(s, "# HELP queue_depth Depth \\\\ of\\nqueue.\n"
			       "# TYPE queue_depth gauge\n"
			       "queue_depth{q=\"a\\\"b\\\\c\\nd\"} 7.75\n");
	free(s);
	metrics_registry_free(reg);
}

static void histogram_exact_text(void **state)
{
	struct metrics_registry *reg = metrics_registry_new();
	const double b[] = {0.1, 0.5, 1};
	struct metrics_histogram *h = metrics_histogram_new(reg, "lat_seconds", "Latency.", "route",
							    b, 3);
	const char *r[] = {"/x"};
	char *s;

	metrics_histogram_observe(h, r, 0.05);
	metrics_histogram_observe(h, r, 0.1); /* le is inclusive */
	metrics_histogram_observe(h, r, 0.7);
	metrics_histogram_observe(h, r, 3);
	s = render(reg);
	assert_string_equal(s, "# HELP lat_seconds Latency.\n"
			       "# TYPE lat_seconds histogram\n"
			       "lat_seconds_bucket{route=\"/x\",le=\"0.1\"} 2\n"
			       "lat_seconds_bucket{route=\"/x\",le=\"0.5\"} 2\n"
			       "lat_seconds_bucket{route=\"/x\",le=\"1\"} 3\n"
			       "lat_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n"
			       "lat_seconds_sum{route=\"/x\"} 3.85\n"
			       "lat_seconds_count{route=\"/x\"} 4\n");
	assert_true(metrics_histogram_count(h, r) == 4);
	free(s);
	metrics_registry_free(reg);
}

static void histogram_default_buckets_unlabelled(void **state)
{
	struct metrics_registry *reg = metrics_registry_new();
	struct metrics_histogram *h = metrics_histogram_new(reg, "d", "D.", NULL, NULL, 0);
	char *s;

	metrics_histogram_observe(h, NULL, 0.0004);
	s = render(reg);
	assert_non_null(strstr(s, "d_bucket{le=\"0.0005\"} 1\n"));
	assert_non_null(strstr(s, "d_bucket{le=\"10\"} 1\n"));
	assert_non_null(strstr(s, "d_bucket{le=\"+Inf\"} 1\n"));
	assert_non_null(strstr(s, "d_sum 0.0004\nd_count 1\n"));
	free(s);
	metrics_registry_free(reg);
}

static void bad_names_and_get_or_create(void **state)
{
	struct metrics_registry *reg = metrics_registry_new();
	struct metrics_counter *c;

	assert_null(metrics_counter_new(reg, "1abc", "x", NULL));
	assert_null(metrics_counter_new(reg, "a-b", "x", NULL));
	assert_null(metrics_counter_new(reg, "ok", "x", "bad-label"));
	assert_null(metrics_counter_new(reg, "ok", "x", "a,,b"));
	assert_null(metrics_counter_new(reg, "ok", "x", "a,b,c,d,e,f,g,h,i"));
	assert_null(metrics_histogram_new(reg, "h", "x", "le", NULL, 0));
	assert_null(metrics_histogram_new(reg, "h", "x", NULL, (const double[]){1, 1}, 2));
	c = metrics_counter_new(reg, "ns:ok_total", "x", "a,b");
	assert_non_null(c);
	assert_ptr_equal(metrics_counter_new(reg, "ns:ok_total", "other help", "a,b"), c);
	assert_null(metrics_counter_new(reg, "ns:ok_total", "x", "a"));
	assert_null(metrics_gauge_new(reg, "ns:ok_total", "x", "a,b"));
	/* NULL metrics are harmless on the hot path. */
	metrics_counter_inc(NULL, NULL);
	metrics_histogram_observe(NULL, NULL, 1);
	metrics_registry_free(reg);
	metrics_registry_free(NULL);
}

static void cardinality_is_capped(void **state)
{
	struct metrics_registry *reg = metrics_registry_new();
	struct metrics_counter *c;
	char v[32], *s;
	const char *vals[2] = {v, "x"};
	int i;

	metrics_registry_set_series_cap(reg, 3);
	c = metrics_counter_new(reg, "c_total", "C.", "k,j");
	for (i = 0; i < 10; i++) {
		snprintf(v, sizeof v, "v%d", i);
		metrics_counter_inc(c, vals);
	}
	snprintf(v, sizeof v, "v1");
	metrics_counter_inc(c, vals); /* existing series still counts */
	s = render(reg);
	assert_string_equal(s, "# HELP c_total C.\n"
			       "# TYPE c_total counter\n"
			       "c_total{k=\"v0\",j=\"x\"} 1\n"
			       "c_total{k=\"v1\",j=\"x\"} 2\n"
			       "c_total{k=\"v2\",j=\"x\"} 1\n"
			       "c_total{k=\"other\",j=\"other\"} 7\n");
	free(s);
	metrics_registry_free(reg);
}

static void long_label_values_truncated(void **state)
{
	struct metrics_registry *reg = metrics_registry_new();
	struct metrics_counter *c = metrics_counter_new(reg, "t_total", "T.", "k");
	char big[400], *s, *p;
	const char *v[] = {big};

	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	metrics_counter_inc(c, v);
	big[200] = 'b'; /* differs only past the cut: same series */
	metrics_counter_inc(c, v);
	s = render(reg);
	p = strstr(s, "t_total{k=\"");
	assert_non_null(p);
	p += strlen("t_total{k=\"");
	assert_int_equal(strspn(p, "a"), METRICS_LABEL_VALUE_MAX);
	assert_string_equal(p + METRICS_LABEL_VALUE_MAX, "\"} 2\n");
	free(s);
	metrics_registry_free(reg);
}

static void render_respects_buffer_cap(void **state)
{
	struct metrics_registry *reg = metrics_registry_new();
	struct util_buf b;

	(void)metrics_counter_new(reg, "a_total", "Some help text here.", NULL);
	util_buf_init(&b, 16);
	assert_int_equal(metrics_registry_render(reg, &b), UTIL_ETOOBIG);
	util_buf_release(&b);
	metrics_registry_free(reg);
}

struct thread_arg {
	struct metrics_counter *c;
	struct metrics_histogram *h;
};

static void *hammer(void *p)
{
	struct thread_arg *a = p;
	const char *v[] = {"r"};
	int i;

	for (i = 0; i < 20000; i++) {
		metrics_counter_inc(a->c, v);
		metrics_histogram_observe(a->h, v, 0.001);
	}
	return NULL;
}

static void concurrent_updates(void **state)
{
	struct metrics_registry *reg = metrics_registry_new();
	struct thread_arg a;
	pthread_t t[4];
	const char *v[] = {"r"};
	int i;

	a.c = metrics_counter_new(reg, "n_total", "N.", "k");
	a.h = metrics_histogram_new(reg, "n_seconds", "N.", "k", NULL, 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer, &a), 0);
	for (i = 0; i < 4; i++) {
		char *s = render(reg); /* rendering while others write */
		free(s);
	}
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_true(metrics_counter_value(a.c, v) == 80000);
	assert_true(metrics_histogram_count(a.h, v) == 80000);
	metrics_registry_free(reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(counter_exact_text),
		cmocka_unit_test(gauge_and_escaping),
		cmocka_unit_test(histogram_exact_text),
		cmocka_unit_test(histogram_default_buckets_unlabelled),
		cmocka_unit_test(bad_names_and_get_or_create),
		cmocka_unit_test(cardinality_is_capped),
		cmocka_unit_test(long_label_values_truncated),
		cmocka_unit_test(render_respects_buffer_cap),
		cmocka_unit_test(concurrent_updates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
