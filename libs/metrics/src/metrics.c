/*
 * metrics/metrics.c - Prometheus counters, gauges and histograms with
 * bounded label cardinality, rendered in text exposition format 0.0.4.
 *
 * Each metric keeps its series in creation order (for stable output) and in
 * an open-addressing hash table keyed by the label values joined with NULs.
 * One mutex per metric; the registry's list has its own.
 */
#include "metrics/metrics.h"
#include "util/err.h"

#include <math.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum metric_kind { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM };

struct series {
	char *key;        /* label values, each followed by a NUL */
	size_t keylen;
	uint64_t hash;
	double value;     /* counter/gauge value, histogram sum */
	uint64_t count;   /* histogram observations */
	uint64_t *bucket; /* histogram per-bucket (non-cumulative) counts */
};

struct metric {
	enum metric_kind kind;
	char *name;
	char *help;
	size_t nlabels;
	char *labels[METRICS_MAX_LABELS];
	double buckets[METRICS_MAX_BUCKETS];
	size_t nbuckets;
	size_t cap;            /* distinct series, overflow series excluded */
	pthread_mutex_t mu;
	struct series **list;  /* creation order */
	size_t nlist;
	struct series **table; /* hash table, tsize slots */
	size_t tsize;
	struct series *overflow;
	struct metric *next;
};

/* The public types are the same struct seen through different names. */
struct metrics_counter { struct metric m; };
struct metrics_gauge { struct metric m; };
struct metrics_histogram { struct metric m; };

struct metrics_registry {
	pthread_mutex_t mu;
	struct metric *head, *tail;
	size_t cap;
};

const double metrics_latency_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
					  0.1,    0.25,  0.5,    1,     2.5,  5,     10};
const size_t metrics_latency_buckets_len =
	sizeof(metrics_latency_buckets) / sizeof(metrics_latency_buckets[0]);

struct metrics_registry *metrics_registry_new(void)
{
	struct metrics_registry *reg = calloc(1, sizeof(*reg));

	if (!reg)
		return NULL;
	pthread_mutex_init(&reg->mu, NULL);
	reg->cap = METRICS_SERIES_CAP;
	return reg;
}

static void series_free(struct series *s)
{
	if (!s)
		return;
	free(s->key);
	free(s->bucket);
	free(s);
}

static void metric_free(struct metric *m)
{
	size_t i;

	for (i = 0; i < m->nlist; i++)
		series_free(m->list[i]);
	series_free(m->overflow);
	free(m->list);
	free(m->table);
	for (i = 0; i < m->nlabels; i++)
		free(m->labels[i]);
	free(m->name);
	free(m->help);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

void metrics_registry_free(struct metrics_registry *reg)
{
	struct metric *m, *next;

	if (!reg)
		return;
	for (m = reg->head; m; m = next) {
		next = m->next;
		metric_free(m);
	}
	pthread_mutex_destroy(&reg->mu);
	free(reg);
}

void metrics_registry_set_series_cap(struct metrics_registry *reg, size_t cap)
{
	pthread_mutex_lock(&reg->mu);
	reg->cap = cap ? cap : 1;
	pthread_mutex_unlock(&reg->mu);
}

/* ---- construction ---- */

static bool name_ok(const char *s, bool colon)
{
	size_t i;

	if (!s || !*s)
		return false;
	for (i = 0; s[i]; i++) {
		char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			     (colon && c == ':');

		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

/* Splits "a,b" into m->labels; false on a bad or reserved name. */
static bool parse_labels(struct metric *m, const char *labelnames)
{
	const char *p = labelnames;

	while (p && *p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		char *l;

		if (m->nlabels == METRICS_MAX_LABELS)
			return false;
		l = strndup(p, n);
		if (!l)
			return false;
		m->labels[m->nlabels++] = l;
		if (!name_ok(l, false) || (m->kind == KIND_HISTOGRAM && !strcmp(l, "le")))
			return false;
		p = comma ? comma + 1 : NULL;
	}
	return true;
}

static struct series *series_new(const struct metric *m, const char *key, size_t keylen,
				 uint64_t hash)
{
	struct series *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->key = malloc(keylen ? keylen : 1);
	if (m->kind == KIND_HISTOGRAM)
		s->bucket = calloc(m->nbuckets + 1, sizeof(uint64_t));
	if (!s->key || (m->kind == KIND_HISTOGRAM && !s->bucket)) {
		series_free(s);
		return NULL;
	}
	memcpy(s->key, key, keylen);
	s->keylen = keylen;
	s->hash = hash;
	return s;
}

/* Same name, kind, labels and buckets: the get-or-create match. */
static bool metric_same(const struct metric *a, const struct metric *b)
{
	size_t i;

	if (a->kind != b->kind || a->nlabels != b->nlabels || a->nbuckets != b->nbuckets)
		return false;
	for (i = 0; i < a->nlabels; i++)
		if (strcmp(a->labels[i], b->labels[i]))
			return false;
	for (i = 0; i < a->nbuckets; i++)
		if (a->buckets[i] != b->buckets[i])
			return false;
	return true;
}

/* Sets up tables and the unlabelled series; false on ENOMEM. */
static bool metric_alloc_series(struct metric *m)
{
	if (m->nlabels == 0) {
		m->list = calloc(1, sizeof(*m->list));
		if (!m->list)
			return false;
		m->list[0] = series_new(m, "", 0, 0);
		m->nlist = m->list[0] ? 1 : 0;
		return m->nlist == 1;
	}
	m->tsize = 16;
	while (m->tsize < m->cap * 2)
		m->tsize *= 2;
	m->table = calloc(m->tsize, sizeof(*m->table));
	m->list = calloc(m->cap, sizeof(*m->list));
	return m->table && m->list;
}

/* Adds m to reg, or returns an existing equal metric (and frees m). */
static struct metric *registry_add(struct metrics_registry *reg, struct metric *m)
{
	struct metric *it, *res = m;

	pthread_mutex_lock(&reg->mu);
	for (it = reg->head; it; it = it->next) {
		if (strcmp(it->name, m->name))
			continue;
		res = metric_same(it, m) ? it : NULL;
		break;
	}
	if (res == m) {
		if (reg->tail)
			reg->tail->next = m;
		else
			reg->head = m;
		reg->tail = m;
	}
	pthread_mutex_unlock(&reg->mu);
	if (res != m)
		metric_free(m);
	return res;
}

static struct metric *metric_new(struct metrics_registry *reg, enum metric_kind kind,
				 const char *name, const char *help, const char *labelnames,
				 const double *buckets, size_t nbuckets)
{
	struct metric *m;
	size_t i;

	if (!reg || !name_ok(name, true))
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	pthread_mutex_init(&m->mu, NULL);
	m->kind = kind;
	pthread_mutex_lock(&reg->mu);
	m->cap = reg->cap;
	pthread_mutex_unlock(&reg->mu);
	m->name = strdup(name);
	m->help = strdup(help ? help : "");
	if (!m->name || !m->help || !parse_labels(m, labelnames))
		goto fail;
	if (kind == KIND_HISTOGRAM) {
		if (!buckets) {
			buckets = metrics_latency_buckets;
			nbuckets = metrics_latency_buckets_len;
		}
		if (nbuckets == 0 || nbuckets > METRICS_MAX_BUCKETS)
			goto fail;
		for (i = 0; i < nbuckets; i++) {
			if (!isfinite(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1]))
				goto fail;
			m->buckets[i] = buckets[i];
		}
		m->nbuckets = nbuckets;
	}
	if (!metric_alloc_series(m))
		goto fail;
	return registry_add(reg, m);
fail:
	metric_free(m);
	return NULL;
}

struct metrics_counter *metrics_counter_new(struct metrics_registry *reg, const char *name,
					    const char *help, const char *labelnames)
{
	return (struct metrics_counter *)metric_new(reg, KIND_COUNTER, name, help, labelnames,
						    NULL, 0);
}

struct metrics_gauge *metrics_gauge_new(struct metrics_registry *reg, const char *name,
					const char *help, const char *labelnames)
{
	return (struct metrics_gauge *)metric_new(reg, KIND_GAUGE, name, help, labelnames, NULL,
						  0);
}

struct metrics_histogram *metrics_histogram_new(struct metrics_registry *reg, const char *name,
						const char *help, const char *labelnames,
						const double *buckets, size_t nbuckets)
{
	return (struct metrics_histogram *)metric_new(reg, KIND_HISTOGRAM, name, help,
						      labelnames, buckets, nbuckets);
}

/* ---- series lookup ---- */

/*
 * Joins the label values (each truncated, NUL-terminated) into key, which
 * has room for METRICS_MAX_LABELS * (METRICS_LABEL_VALUE_MAX + 1) bytes.
 */
static size_t make_key(const struct metric *m, const char *const *values, char *key)
{
	size_t i, n, len = 0;

	for (i = 0; i < m->nlabels; i++) {
		const char *v = values && values[i] ? values[i] : "";

		n = strnlen(v, METRICS_LABEL_VALUE_MAX);
		memcpy(key + len, v, n);
		len += n;
		key[len++] = '\0';
	}
	return len;
}

static uint64_t hash_key(const char *key, size_t len)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static struct series *overflow_series(struct metric *m)
{
	char key[METRICS_MAX_LABELS * sizeof(METRICS_OVERFLOW_VALUE)];
	size_t i, len = 0;

	if (m->overflow)
		return m->overflow;
	for (i = 0; i < m->nlabels; i++) {
		memcpy(key + len, METRICS_OVERFLOW_VALUE, sizeof(METRICS_OVERFLOW_VALUE));
		len += sizeof(METRICS_OVERFLOW_VALUE);
	}
	m->overflow = series_new(m, key, len, 0);
	return m->overflow;
}

/*
 * Finds or creates the series for values; caller holds m->mu. NULL only on
 * ENOMEM. create == false returns NULL for a missing series.
 */
static struct series *series_get(struct metric *m, const char *const *values, bool create)
{
	char key[METRICS_MAX_LABELS * (METRICS_LABEL_VALUE_MAX + 1)];
	size_t len, slot;
	uint64_t h;
	struct series *s;

	if (m->nlabels == 0)
		return m->list[0];
	len = make_key(m, values, key);
	h = hash_key(key, len);
	for (slot = h & (m->tsize - 1); (s = m->table[slot]); slot = (slot + 1) & (m->tsize - 1))
		if (s->hash == h && s->keylen == len && !memcmp(s->key, key, len))
			return s;
	if (!create)
		return NULL;
	if (m->nlist >= m->cap)
		return overflow_series(m);
	s = series_new(m, key, len, h);
	if (!s)
		return NULL;
	m->table[slot] = s;
	m->list[m->nlist++] = s;
	return s;
}

/* ---- updates ---- */

static void metric_update(struct metric *m, const char *const *values, double v, bool set)
{
	struct series *s;
	size_t i;

	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	s = series_get(m, values, true);
	if (s && m->kind != KIND_HISTOGRAM) {
		s->value = set ? v : s->value + v;
	} else if (s) {
		for (i = 0; i < m->nbuckets && v > m->buckets[i]; i++)
			;
		s->bucket[i]++; /* i == nbuckets is the +Inf bucket */
		s->count++;
		s->value += v;
	}
	pthread_mutex_unlock(&m->mu);
}

void metrics_counter_add(struct metrics_counter *c, const char *const *labelvalues, double v)
{
	if (!(v >= 0))
		return;
	metric_update(c ? &c->m : NULL, labelvalues, v, false);
}

void metrics_counter_inc(struct metrics_counter *c, const char *const *labelvalues)
{
	metric_update(c ? &c->m : NULL, labelvalues, 1, false);
}

void metrics_gauge_set(struct metrics_gauge *g, const char *const *labelvalues, double v)
{
	metric_update(g ? &g->m : NULL, labelvalues, v, true);
}

void metrics_gauge_add(struct metrics_gauge *g, const char *const *labelvalues, double v)
{
	metric_update(g ? &g->m : NULL, labelvalues, v, false);
}

void metrics_histogram_observe(struct metrics_histogram *h, const char *const *labelvalues,
			       double v)
{
	if (isnan(v))
		return;
	metric_update(h ? &h->m : NULL, labelvalues, v, false);
}

static double metric_read(struct metric *m, const char *const *values)
{
	struct series *s;
	double v = 0;

	if (!m)
		return 0;
	pthread_mutex_lock(&m->mu);
	s = series_get(m, values, false);
	if (s)
		v = m->kind == KIND_HISTOGRAM ? (double)s->count : s->value;
	pthread_mutex_unlock(&m->mu);
	return v;
}

double metrics_counter_value(struct metrics_counter *c, const char *const *labelvalues)
{
	return metric_read(c ? &c->m : NULL, labelvalues);
}

double metrics_gauge_value(struct metrics_gauge *g, const char *const *labelvalues)
{
	return metric_read(g ? &g->m : NULL, labelvalues);
}

double metrics_histogram_count(struct metrics_histogram *h, const char *const *labelvalues)
{
	return metric_read(h ? &h->m : NULL, labelvalues);
}

/* ---- rendering ---- */

/* Shortest of %.15g/%.17g that reads back exactly; Prometheus spellings for specials. */
static void fmt_double(char out[32], double v)
{
	if (isnan(v)) {
		strcpy(out, "NaN");
	} else if (isinf(v)) {
		strcpy(out, v > 0 ? "+Inf" : "-Inf");
	} else {
		snprintf(out, 32, "%.15g", v);
		if (strtod(out, NULL) != v)
			snprintf(out, 32, "%.17g", v);
	}
}

/* Appends s escaped: backslash and newline always, double quote if quote. */
static int append_escaped(struct util_buf *out, const char *s, size_t n, bool quote)
{
	size_t i, start = 0;
	int rc = 0;

	for (i = 0; i < n && !rc; i++) {
		const char *esc = s[i] == '\\' ? "\\\\" : s[i] == '\n' ? "\\n" :
				  (quote && s[i] == '"') ? "\\\"" : NULL;

		if (!esc)
			continue;
		rc = util_buf_append(out, s + start, i - start);
		if (!rc)
			rc = util_buf_append_str(out, esc);
		start = i + 1;
	}
	if (!rc)
		rc = util_buf_append(out, s + start, n - start);
	return rc;
}

/* Writes name{l1="v1",...[,le="x"]} (braces omitted when empty). */
static int append_series_name(struct util_buf *out, const struct metric *m,
			      const struct series *s, const char *suffix, const char *le)
{
	const char *v = s->key;
	size_t i;
	int rc;

	rc = util_buf_printf(out, "%s%s", m->name, suffix);
	if (rc || (m->nlabels == 0 && !le))
		return rc;
	rc = util_buf_append_str(out, "{");
	for (i = 0; i < m->nlabels && !rc; i++) {
		size_t n = strlen(v);

		rc = util_buf_printf(out, "%s%s=\"", i ? "," : "", m->labels[i]);
		if (!rc)
			rc = append_escaped(out, v, n, true);
		if (!rc)
			rc = util_buf_append_str(out, "\"");
		v += n + 1;
	}
	if (!rc && le)
		rc = util_buf_printf(out, "%sle=\"%s\"", m->nlabels ? "," : "", le);
	if (!rc)
		rc = util_buf_append_str(out, "}");
	return rc;
}

static int render_series(struct util_buf *out, const struct metric *m, const struct series *s)
{
	char num[32], le[32];
	uint64_t cum = 0;
	size_t i;
	int rc = 0;

	if (m->kind != KIND_HISTOGRAM) {
		fmt_double(num, s->value);
		rc = append_series_name(out, m, s, "", NULL);
		return rc ? rc : util_buf_printf(out, " %s\n", num);
	}
	for (i = 0; i <= m->nbuckets && !rc; i++) {
		cum += s->bucket[i];
		if (i < m->nbuckets)
			fmt_double(le, m->buckets[i]);
		else
			strcpy(le, "+Inf");
		rc = append_series_name(out, m, s, "_bucket", le);
		if (!rc)
			rc = util_buf_printf(out, " %llu\n", (unsigned long long)cum);
	}
	fmt_double(num, s->value);
	if (!rc)
		rc = append_series_name(out, m, s, "_sum", NULL);
	if (!rc)
		rc = util_buf_printf(out, " %s\n", num);
	if (!rc)
		rc = append_series_name(out, m, s, "_count", NULL);
	if (!rc)
		rc = util_buf_printf(out, " %llu\n", (unsigned long long)s->count);
	return rc;
}

static int render_metric(struct util_buf *out, struct metric *m)
{
	static const char *const kinds[] = {"counter", "gauge", "histogram"};
	size_t i;
	int rc;

	pthread_mutex_lock(&m->mu);
	rc = util_buf_printf(out, "# HELP %s ", m->name);
	if (!rc)
		rc = append_escaped(out, m->help, strlen(m->help), false);
	if (!rc)
		rc = util_buf_printf(out, "\n# TYPE %s %s\n", m->name, kinds[m->kind]);
	for (i = 0; i < m->nlist && !rc; i++)
		rc = render_series(out, m, m->list[i]);
	if (!rc && m->overflow)
		rc = render_series(out, m, m->overflow);
	pthread_mutex_unlock(&m->mu);
	return rc;
}

int metrics_registry_render(struct metrics_registry *reg, struct util_buf *out)
{
	struct metric *m;
	int rc = 0;

	pthread_mutex_lock(&reg->mu);
	m = reg->head;
	pthread_mutex_unlock(&reg->mu);
	/* Metrics are only ever appended, so walking without the lock is safe
	 * once next pointers are read under it. */
	while (m && !rc) {
		rc = render_metric(out, m);
		pthread_mutex_lock(&reg->mu);
		m = m->next;
		pthread_mutex_unlock(&reg->mu);
	}
	return rc;
}
