/*
 * bench/search/search_bench.c - the search benchmark (not a test).
 *
 *   search_bench DATA_DIR DOCS [CLIENTS [SECONDS [facets|nofacets]]]
 *   search_bench DATA_DIR 0 ...        reuse the corpus already loaded
 *   SECONDS = 0: load only
 *
 * Everything lives in a database of its own (SIMPUL_SEARCH_BENCH_DB,
 * default simpul_bench_search, created on SIMPUL_PG_URL's server and
 * migrated), never in the dev stack's simpul.search_docs. Loads DOCS
 * documents (articles.csv extended by recombined sentences, over the real
 * desa codes; SEARCH_BENCH_LOADERS threads, default 4; at most
 * SEARCH_BENCH_LOAD_SECONDS when set) into schema bench_search twice:
 * bench_search.docs analysed by libs/text exactly like the service
 * (search_doc_build), and bench_search.baseline, a plain PostgreSQL
 * 'indonesian' tsvector with a GIN index - the baseline a user would build
 * by hand. Then runs the same query mix (1-3 words, half with a region
 * prefix) at CLIENTS concurrent clients for SECONDS each, at most
 * SIMPUL_SEARCH_WORKERS (8) at a time like the service's worker pool (the
 * wait counts in the latency): the service's query path (search_run: parse,
 * rank with recency, facets, snippets, with SIMPUL_SEARCH_RANK_WINDOW and
 * SIMPUL_SEARCH_COUNT_LIMIT; no cache, no HTTP) and the baseline
 * (plainto_tsquery + ts_rank, top 20); SEARCH_BENCH_ONLY=ours|baseline
 * measures one side only. Prints queries/s, p50, p99 and the load average.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "config/config.h"
#include "db/db.h"
#include "search_bench.h"
#include "slog/slog.h"
#include "util/err.h"
#include "util/ids.h"

#define NQUERIES 4000
#define BATCH 1000

static const char *pg_url;
static struct search_text *text;

static int exec(struct db_conn *c, const char *sql)
{
	char err[512];
	int rc = db_exec(c, sql, 0, NULL, NULL, NULL, err, sizeof(err));

	if (rc != 0)
		fprintf(stderr, "search_bench: %s: %s\n", sql, err);
	return rc;
}

static int field(struct util_buf *b, const char *s, char end)
{
	int rc = 0;

	for (; *s && rc == 0; s++) {
		if (*s == '\\' || *s == '\t' || *s == '\n' || *s == '\r')
			rc = util_buf_printf(b, "\\%c", *s == '\\' ? '\\' : *s == '\t' ? 't'
							 : *s == '\n' ? 'n' : 'r');
		else
			rc = util_buf_append(b, s, 1);
	}
	return rc ? rc : util_buf_append(b, &end, 1);
}

static int copy(struct db_conn *c, const char *sql, struct util_buf *data)
{
	char err[512];
	int rc = db_copy_begin(c, sql, err, sizeof(err));

	if (rc == 0)
		rc = db_copy_put(c, data->data, data->len, err, sizeof(err));
	if (rc == 0)
		rc = db_copy_end(c, NULL, NULL, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "search_bench: copy: %s\n", err);
	util_buf_reset(data);
	return rc;
}

/* One document into both COPY buffers; *analyse_us gets the libs/text time. */
static int add_doc(struct corpus *cp, struct text_work *wk, size_t i, struct util_buf *ours,
		   struct util_buf *base, int64_t *analyse_us)
{
	struct util_buf title, body, tsv;
	const char *region;
	char id[37], num[64];
	int64_t age, t0;
	uint64_t sh = 0;
	int rc;

	util_buf_init(&title, 0);
	util_buf_init(&body, 0);
	util_buf_init(&tsv, 0);
	util_uuid_v4(id);
	rc = corpus_doc(cp, i, &title, &body, &region, &age);
	t0 = util_mono_us();
	if (rc == 0)
		rc = search_doc_build(&text->an, wk, title.data, title.len, body.data, body.len,
				      &tsv, &sh);
	*analyse_us += util_mono_us() - t0;
	{
		time_t t = (time_t)((util_now_ms() - age) / 1000);
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(num, sizeof(num), "%Y-%m-%d %H:%M:%S+00", &tm);
	}
	rc = rc ? rc : util_buf_printf(ours, "%s\t1\tf\tberita\t", id);
	rc = rc ? rc : field(ours, title.data, '\t');
	rc = rc ? rc : field(ours, body.data, '\t');
	rc = rc ? rc : util_buf_printf(ours, "%s\t\\N\t{}\t%s\t", region, num);
	rc = rc ? rc : field(ours, tsv.data ? tsv.data : "", '\t');
	rc = rc ? rc : util_buf_printf(ours, "%lld\t%zu\n", (long long)sh, i + 1);
	rc = rc ? rc : util_buf_printf(base, "%s\t%s\t%s\t", id, region, num);
	rc = rc ? rc : field(base, title.data, '\t');
	rc = rc ? rc : field(base, body.data, '\n');
	util_buf_release(&title);
	util_buf_release(&body);
	util_buf_release(&tsv);
	return rc;
}

static const char *const schema_sql[] = {
	"SET maintenance_work_mem = '1GB'",
	"SET synchronous_commit = off",
	"DROP SCHEMA IF EXISTS bench_search CASCADE",
	"CREATE SCHEMA bench_search",
	"CREATE TABLE bench_search.docs (LIKE simpul.search_docs INCLUDING DEFAULTS "
	"INCLUDING CONSTRAINTS INCLUDING GENERATED)",
	"CREATE TABLE bench_search.baseline (id uuid NOT NULL, region_code text NOT NULL, "
	"published_at timestamptz NOT NULL, title text NOT NULL, body text NOT NULL, "
	"tsv tsvector GENERATED ALWAYS AS (pg_catalog.to_tsvector('indonesian', "
	"title || ' ' || body)) STORED)",
};

static const char *const index_sql[] = {
	"ALTER TABLE bench_search.docs ADD PRIMARY KEY (id)",
	"CREATE INDEX ON bench_search.docs USING gin (tsv)",
	"CREATE INDEX ON bench_search.docs (region_code text_pattern_ops)",
	"CREATE INDEX ON bench_search.docs (published_at DESC, id)",
	"ANALYZE bench_search.docs",
};

static const char *const base_index_sql[] = {
	"ALTER TABLE bench_search.baseline ADD PRIMARY KEY (id)",
	"CREATE INDEX ON bench_search.baseline USING gin (tsv)",
	"CREATE INDEX ON bench_search.baseline (region_code text_pattern_ops)",
	"ANALYZE bench_search.baseline",
};

static int run_all(struct db_conn *c, const char *const *sql, size_t n, const char *what)
{
	int64_t t0 = util_mono_us();

	for (size_t i = 0; i < n; i++)
		if (exec(c, sql[i]) != 0)
			return -1;
	printf("%-34s %8.1f s\n", what, (double)(util_mono_us() - t0) / 1e6);
	return 0;
}

struct loader {
	struct corpus *cp;
	size_t first, step, ndocs, loaded;
	int64_t analyse_us, until_us; /* until_us: stop loading then (0: never) */
	int rc;
};

/* Loads documents first, first + step, ... on its own connection. */
static void *load_part(void *arg)
{
	struct loader *l = arg;
	struct db_conn_opts o = {.application_name = "search-bench"};
	char err[512];
	struct db_conn *c = db_conn_new_opts(pg_url, &o, err, sizeof(err));
	struct text_work *wk = text_work_new(SEARCH_MAX_DOC_BYTES);
	struct util_buf ours, base;
	size_t n = 0;
	int rc = c && wk ? exec(c, "SET synchronous_commit = off") : -1;

	util_buf_init(&ours, 0);
	util_buf_init(&base, 0);
	for (size_t i = l->first; rc == 0 && i < l->ndocs; i += l->step) {
		bool last = i + l->step >= l->ndocs || (l->until_us && util_mono_us() > l->until_us);

		rc = add_doc(l->cp, wk, i, &ours, &base, &l->analyse_us);
		if (rc != 0 || (++n % BATCH && !last))
			continue;
		rc = copy(c, "COPY bench_search.docs (id, version, withdrawn, type, title, body, "
			     "region_code, kim_id, tags, published_at, tsv, simhash, seq) FROM STDIN",
			  &ours);
		rc = rc ? rc : copy(c, "COPY bench_search.baseline (id, region_code, published_at, "
				       "title, body) FROM STDIN", &base);
		if (l->first == 0 && n % (100000 / l->step) < BATCH && n >= BATCH)
			fprintf(stderr, "loaded ~%zu\n", n * l->step);
		if (last)
			break;
	}
	l->loaded = n;
	util_buf_release(&ours);
	util_buf_release(&base);
	text_work_free(wk);
	db_conn_free(c);
	l->rc = rc;
	return NULL;
}

/*
 * Loads ndocs documents with `loaders` threads, each analysing its share
 * with libs/text and COPYing it into both tables, then builds the indexes.
 */
static int load(struct corpus *cp, size_t ndocs, int loaders, int64_t budget_s)
{
	struct db_conn_opts o = {.application_name = "search-bench"};
	char err[512];
	struct db_conn *c = db_conn_new_opts(pg_url, &o, err, sizeof(err));
	struct loader ls[32];
	pthread_t th[32];
	int64_t analyse_us = 0, t0;
	size_t loaded = 0;
	int rc = c ? 0 : -1;

	if (rc == 0)
		rc = run_all(c, schema_sql, sizeof(schema_sql) / sizeof(schema_sql[0]), "schema");
	t0 = util_mono_us();
	for (int k = 0; rc == 0 && k < loaders; k++) {
		ls[k] = (struct loader){.cp = cp, .first = (size_t)k, .step = (size_t)loaders,
					.ndocs = ndocs,
					.until_us = budget_s ? t0 + budget_s * 1000000 : 0};
		pthread_create(&th[k], NULL, load_part, &ls[k]);
	}
	for (int k = 0; rc == 0 && k < loaders; k++) {
		pthread_join(th[k], NULL);
		analyse_us += ls[k].analyse_us;
		loaded += ls[k].loaded;
		rc = ls[k].rc;
	}
	if (rc == 0 && loaded < ndocs)
		printf("load stopped by SEARCH_BENCH_LOAD_SECONDS: %zu of %zu documents\n", loaded,
		       ndocs);
	ndocs = loaded;
	if (rc == 0) {
		printf("%-34s %8.0f docs/s wall, %d loaders (libs/text analysis alone %.0f docs/s "
		       "per thread; each doc COPYed to both tables)\n",
		       "load (analyse + 2 COPY)", (double)ndocs * 1e6 / (double)(util_mono_us() - t0),
		       loaders, (double)ndocs * 1e6 / (double)analyse_us);
		rc = run_all(c, index_sql, sizeof(index_sql) / sizeof(index_sql[0]), "indexes ours");
	}
	if (rc == 0)
		rc = run_all(c, base_index_sql, sizeof(base_index_sql) / sizeof(base_index_sql[0]),
			     "indexes baseline");
	db_conn_free(c);
	return rc;
}

struct query {
	char q[128], region[16], like[24];
};

struct run {
	const struct query *qs;
	int mode; /* 0 ours, 1 baseline */
	int facets;
	int64_t until_us;
	volatile size_t next;
	pthread_mutex_t mu;
	double *lat;
	size_t nlat, cap;
	size_t errors;
	sem_t pool; /* at most `workers` queries run at once */
};

static int baseline_query(struct db_conn *c, const struct query *q)
{
	const char *vals[] = {q->q, q->region, q->like};
	char err[256];
	PGresult *res = NULL;
	int rc = db_exec(c, q->region[0]
				    ? "SELECT b.id, pg_catalog.ts_rank(b.tsv, q) AS r FROM "
				      "bench_search.baseline b, pg_catalog.plainto_tsquery('indonesian', "
				      "$1) q WHERE b.tsv @@ q AND (b.region_code = $2 OR "
				      "b.region_code LIKE $3) ORDER BY r DESC LIMIT 20"
				    : "SELECT b.id, pg_catalog.ts_rank(b.tsv, q) AS r FROM "
				      "bench_search.baseline b, pg_catalog.plainto_tsquery('indonesian', "
				      "$1) q WHERE b.tsv @@ q ORDER BY r DESC LIMIT 20",
			 q->region[0] ? 3 : 1, vals, NULL, &res, err, sizeof(err));

	PQclear(res);
	return rc;
}

static int ours_query(struct search_app *app, struct db_conn *c, struct text_work *wk,
		      const struct query *q, int facets)
{
	struct search_request r;
	const char *code;
	char err[256];
	json_t *out = NULL;
	int st;

	memset(&r, 0, sizeof(r));
	r.q = q->q;
	snprintf(r.region, sizeof(r.region), "%s", q->region);
	r.sort = 'r';
	r.limit = 20;
	r.facet_level = facets ? (q->region[0] ? search_region_level(q->region) + 1 : 1) : 0;
	snprintf(r.qhash, sizeof(r.qhash), "0000000000000000");
	st = search_run(app, c, wk, &r, &out, &code, err, sizeof(err));
	json_decref(out);
	return st == 200 ? 0 : -1;
}

static void record(struct run *r, double ms, bool ok)
{
	pthread_mutex_lock(&r->mu);
	if (!ok)
		r->errors++;
	if (r->nlat == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 4096;
		double *n = realloc(r->lat, cap * sizeof(*n));

		if (n) {
			r->lat = n;
			r->cap = cap;
		}
	}
	if (r->nlat < r->cap)
		r->lat[r->nlat++] = ms;
	pthread_mutex_unlock(&r->mu);
}

/* The service's setting of that name when set, else its default. */
static int64_t env_int(const char *name, int64_t dflt)
{
	const char *v = getenv(name);

	return v && *v ? strtoll(v, NULL, 10) : dflt;
}

static void *client(void *arg)
{
	struct run *r = arg;
	struct search_config cfg = {.cursor_key = "bench", .max_limit = 100,
				    .rank_window = env_int("SIMPUL_SEARCH_RANK_WINDOW", 2000),
				    .count_limit = env_int("SIMPUL_SEARCH_COUNT_LIMIT", 1000)};
	struct search_app app = {.cfg = &cfg, .text = text, .docs_table = "bench_search.docs"};
	struct db_conn_opts o = {.application_name = "search-bench", .statement_timeout_ms = 30000};
	char err[256];
	struct db_conn *c = db_conn_new_opts(pg_url, &o, err, sizeof(err));
	struct text_work *wk = text_work_new(SEARCH_MAX_DOC_BYTES);

	while (c && wk && util_mono_us() < r->until_us) {
		size_t i = __atomic_fetch_add(&r->next, 1, __ATOMIC_RELAXED) % NQUERIES;
		int64_t t0 = util_mono_us();
		int rc;

		sem_wait(&r->pool); /* like the service's worker pool: waiting counts */
		rc = r->mode ? baseline_query(c, &r->qs[i])
			     : ours_query(&app, c, wk, &r->qs[i], r->facets);
		sem_post(&r->pool);

		record(r, (double)(util_mono_us() - t0) / 1000.0, rc == 0);
	}
	text_work_free(wk);
	db_conn_free(c);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void measure(const struct query *qs, int mode, int facets, int clients, int seconds,
		    const char *name)
{
	struct run r = {.qs = qs, .mode = mode, .facets = facets};

	sem_init(&r.pool, 0, (unsigned)env_int("SIMPUL_SEARCH_WORKERS", 8));
	pthread_t th[256];
	int64_t t0 = util_mono_us();

	pthread_mutex_init(&r.mu, NULL);
	r.until_us = t0 + (int64_t)seconds * 1000000;
	for (int i = 0; i < clients; i++)
		pthread_create(&th[i], NULL, client, &r);
	for (int i = 0; i < clients; i++)
		pthread_join(th[i], NULL);
	qsort(r.lat, r.nlat, sizeof(double), cmp);
	if (r.nlat)
		printf("%-34s %8.1f q/s  p50 %7.1f ms  p99 %7.1f ms  errors %zu  (n=%zu)\n", name,
		       (double)r.nlat * 1e6 / (double)(util_mono_us() - t0), r.lat[r.nlat / 2],
		       r.lat[(size_t)((double)r.nlat * 0.99)], r.errors, r.nlat);
	free(r.lat);
	pthread_mutex_destroy(&r.mu);
	sem_destroy(&r.pool);
}

/* The machine's load next to the figures (the dev VM is shared). */
static void print_load(const char *when)
{
	char line[128] = "";
	FILE *fp = fopen("/proc/loadavg", "r");

	if (fp && fgets(line, sizeof(line), fp))
		printf("load average at %s: %s", when, line);
	if (fp)
		fclose(fp);
}

int main(int argc, char **argv)
{
	char *url = NULL, *db = NULL, err[1024];
	static char bench_url[1200];
	struct config_item items[] = {
		{"SIMPUL_PG_URL", CONFIG_STRING, "postgresql://simpul@127.0.0.1:55432/simpul", 1,
		 1024, true, &url, "PostgreSQL"},
		{"SIMPUL_SEARCH_BENCH_DB", CONFIG_STRING, "simpul_bench_search", 1, 63, false, &db,
		 "the benchmark's own database (created on SIMPUL_PG_URL's server)"}};
	struct corpus cp;
	struct query *qs = calloc(NQUERIES, sizeof(*qs));
	size_t ndocs;
	int clients, seconds, facets, loaders;
	const char *only = getenv("SEARCH_BENCH_ONLY") ? getenv("SEARCH_BENCH_ONLY") : "";
	int64_t budget_s = getenv("SEARCH_BENCH_LOAD_SECONDS")
				   ? strtoll(getenv("SEARCH_BENCH_LOAD_SECONDS"), NULL, 10) : 0;

	if (argc < 3) {
		fprintf(stderr, "usage: search_bench DATA_DIR DOCS [CLIENTS [SECONDS "
				"[facets|nofacets]]]\n");
		return 2;
	}
	slog_init("search-bench", SLOG_WARN);
	ndocs = strtoull(argv[2], NULL, 10);
	clients = argc > 3 ? atoi(argv[3]) : 32;
	seconds = argc > 4 ? atoi(argv[4]) : 20;
	facets = !(argc > 5 && !strcmp(argv[5], "nofacets"));
	loaders = getenv("SEARCH_BENCH_LOADERS") ? atoi(getenv("SEARCH_BENCH_LOADERS")) : 4;
	if (loaders < 1 || loaders > 32)
		loaders = 4;
	if (config_load(items, 2, err, sizeof(err)) != 0 || clients < 1 || clients > 256 ||
	    bench_db_open(url, db, bench_url, sizeof(bench_url), err, sizeof(err)) != 0 ||
	    !(text = search_text_new(NULL, err, sizeof(err))) ||
	    corpus_load(&cp, argv[1], err, sizeof(err)) != 0) {
		fprintf(stderr, "search_bench: %s\n", err);
		return 1;
	}
	pg_url = bench_url;
	print_load("start");
	printf("database %s; %d clients over %lld workers, %d s per measurement; rank window "
	       "%lld, count limit %lld\n", db, clients, (long long)env_int("SIMPUL_SEARCH_WORKERS", 8),
	       seconds, (long long)env_int("SIMPUL_SEARCH_RANK_WINDOW", 2000),
	       (long long)env_int("SIMPUL_SEARCH_COUNT_LIMIT", 1000));
	printf("corpus: %zu articles, %zu sentences, %zu desa codes\n", cp.arts.n, cp.nsent,
	       cp.nregions);
	if (ndocs > 0 && load(&cp, ndocs, loaders, budget_s) != 0)
		return 1;
	if (seconds == 0)
		goto done;
	for (size_t i = 0; i < NQUERIES; i++) {
		corpus_query(&cp, qs[i].q, qs[i].region);
		snprintf(qs[i].like, sizeof(qs[i].like), "%s.%%", qs[i].region);
	}
	if (strcmp(only, "ours"))
		measure(qs, 1, 0, clients, 3, "warm-up baseline");
	if (strcmp(only, "baseline"))
		measure(qs, 0, facets, clients, 3, "warm-up ours");
	if (strcmp(only, "ours"))
		measure(qs, 1, 0, clients, seconds, "baseline: indonesian + ts_rank");
	if (strcmp(only, "baseline"))
		measure(qs, 0, facets, clients, seconds,
			facets ? "ours: search_run, facets+snippets" : "ours: search_run, snippets");
done:
	free(qs);
	corpus_release(&cp);
	search_text_free(text);
	print_load("end");
	config_release(items, 2);
	return 0;
}
