/*
 * metrics/metrics.h - Prometheus metrics: counters, gauges, histograms.
 *
 * A registry owns its metrics; metrics own their series. Every metric may
 * have label names ("route,status"); each distinct tuple of label values is
 * one series. Cardinality is bounded: a metric holds at most the registry's
 * series cap (default METRICS_SERIES_CAP) distinct tuples; observations for
 * any further tuple go into one overflow series whose every label value is
 * "other", so memory never grows past the cap.
 *
 * metrics_registry_render() writes the text exposition format 0.0.4:
 *
 *   # HELP http_requests_total Requests served.
 *   # TYPE http_requests_total counter
 *   http_requests_total{route="/v1/content",status="202"} 12
 *
 * Metrics appear in creation order, series in first-use order. A metric
 * without labels is rendered from its creation (value 0); a labelled metric
 * with no series yet only renders its HELP and TYPE lines.
 *
 * Thread-safety: everything except metrics_registry_free() may be called
 * from any thread at any time (each metric has its own mutex; the registry
 * list has another). Creating metrics is meant for start-up, updating them
 * for the hot path.
 */
#ifndef METRICS_METRICS_H
#define METRICS_METRICS_H

#include <stddef.h>

#include "util/buf.h"

#define METRICS_SERIES_CAP 1000 /* default distinct label tuples per metric */
#define METRICS_MAX_LABELS 8    /* label names per metric */
#define METRICS_MAX_BUCKETS 32  /* histogram buckets, +Inf not counted */
#define METRICS_LABEL_VALUE_MAX 128 /* longer label values are truncated */
#define METRICS_OVERFLOW_VALUE "other" /* label value of the overflow series */

struct metrics_registry;
struct metrics_counter;
struct metrics_gauge;
struct metrics_histogram;

/*
 * Default histogram buckets for latencies in seconds:
 * 0.0005 0.001 0.0025 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10.
 */
extern const double metrics_latency_buckets[];
extern const size_t metrics_latency_buckets_len;

/* New empty registry; NULL on ENOMEM. Free with metrics_registry_free(). */
struct metrics_registry *metrics_registry_new(void);

/*
 * Frees the registry and every metric created in it; metric pointers become
 * invalid. No other thread may use the registry or its metrics during or
 * after the call. NULL does nothing.
 */
void metrics_registry_free(struct metrics_registry *reg);

/*
 * Sets the series cap for metrics created AFTER this call (mainly for
 * tests); cap >= 1.
 */
void metrics_registry_set_series_cap(struct metrics_registry *reg, size_t cap);

/*
 * Renders every metric in the text format into out (appends). Returns 0,
 * UTIL_ENOMEM, or UTIL_ETOOBIG when out's cap is reached (out then holds a
 * truncated rendering).
 */
__attribute__((warn_unused_result)) int metrics_registry_render(struct metrics_registry *reg,
								 struct util_buf *out);

/*
 * Constructors. name must match [a-zA-Z_:][a-zA-Z0-9_:]*, help is any text
 * (escaped on output), labelnames is NULL/"" for none or a comma-separated
 * list of names matching [a-zA-Z_][a-zA-Z0-9_]* (not "le" for histograms),
 * at most METRICS_MAX_LABELS. All strings are copied.
 *
 * Get-or-create: if reg already holds a metric with the same name, same
 * kind and same label names (and, for histograms, same buckets), that
 * metric is returned; so two components may ask for the same metric.
 *
 * Returns NULL on bad name or labels, on a clash with an existing metric of
 * that name but another kind/labels, or on ENOMEM. The registry owns the
 * result: do not free it.
 */
struct metrics_counter *metrics_counter_new(struct metrics_registry *reg, const char *name,
					    const char *help, const char *labelnames);
struct metrics_gauge *metrics_gauge_new(struct metrics_registry *reg, const char *name,
					const char *help, const char *labelnames);
/*
 * buckets: strictly increasing finite upper bounds, at most
 * METRICS_MAX_BUCKETS (+Inf is implicit); NULL means metrics_latency_buckets.
 */
struct metrics_histogram *metrics_histogram_new(struct metrics_registry *reg, const char *name,
						const char *help, const char *labelnames,
						const double *buckets, size_t nbuckets);

/*
 * Updates. labelvalues is an array with one string per label name (in the
 * order given at creation), borrowed for the call; NULL when the metric has
 * no labels. A NULL element counts as "". Values longer than
 * METRICS_LABEL_VALUE_MAX bytes are truncated. Updating a NULL metric does
 * nothing (so a failed constructor never crashes the hot path). On ENOMEM
 * for a new series the observation is dropped.
 *
 * metrics_counter_add ignores negative and NaN v (counters only go up).
 */
void metrics_counter_add(struct metrics_counter *c, const char *const *labelvalues, double v);
void metrics_counter_inc(struct metrics_counter *c, const char *const *labelvalues);
void metrics_gauge_set(struct metrics_gauge *g, const char *const *labelvalues, double v);
void metrics_gauge_add(struct metrics_gauge *g, const char *const *labelvalues, double v);
void metrics_histogram_observe(struct metrics_histogram *h, const char *const *labelvalues,
			       double v);

/*
 * Current value of one series (for tests and health logic); 0 if the
 * series does not exist. For histograms, the count of observations.
 */
double metrics_counter_value(struct metrics_counter *c, const char *const *labelvalues);
double metrics_gauge_value(struct metrics_gauge *g, const char *const *labelvalues);
double metrics_histogram_count(struct metrics_histogram *h, const char *const *labelvalues);

#endif
