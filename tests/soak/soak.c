/*
 * tests/soak/soak.c - the pipeline under steady moderate load for a given
 * time, with every service's resident memory sampled along the way.
 *
 * Starts its own five services (tests/e2e's pipeline helpers) on
 * --port-base..+4 with consumer groups of this run only, submits content
 * to ingest open-loop at --rate per second (bench/ingest's loadgen; the
 * submissions flow on through moderate, search, notify and report over
 * Kafka), runs one search query per sample, and reads VmRSS of each
 * service every --interval seconds. Prints each sample as it is taken,
 * then per service the growth of the floor from the start of the measured
 * window (after --warmup) to its end, each the lowest of --window samples
 * (a leak raises the floor; batches and caches only swing above it).
 *
 * Fails (exit 1) when a service's growth exceeds --max-growth-mb, a
 * service died, nothing was accepted, any request got a 5xx other than
 * ingest's 503 overloaded (shedding is counted, not a failure), or a service
 * did not stop cleanly on SIGTERM. Hour-long run: tests/soak/README.md.
 *
 *   soak [--duration S] [--warmup S] [--interval S] [--rate N] [--window N]
 *        [--max-growth-mb MB] [--port-base P] INGEST MODERATE SEARCH NOTIFY REPORT
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "loadgen.h"
#include "overload.h"
#include "pipeline.h"
#include "ts/ts.h"

#define MAX_SAMPLES 8192

struct soak_opts {
	double duration_s, warmup_s, interval_s, rate, max_growth_mb;
	int window;
	unsigned port_base;
	const char *bins[PL_NSVC];
};

struct soak {
	struct soak_opts o;
	struct ts_env env;
	struct ts_fixture fx;
	struct pl pl;
	struct loadgen_opts lo;
	struct loadgen_result lr;
	int load_rc;
	size_t n;                         /* samples taken */
	double t[MAX_SAMPLES];            /* seconds since the load began */
	long rss[MAX_SAMPLES][PL_NSVC];   /* kB, -1 when unreadable */
	long search_5xx, search_ok;
};

static int parse_args(int argc, char **argv, struct soak_opts *o)
{
	int nb = 0;

	*o = (struct soak_opts){.duration_s = 60, .warmup_s = 20, .interval_s = 2,
				.rate = 20, .max_growth_mb = 48, .window = 3, .port_base = 18420};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strncmp(a, "--", 2) != 0) {
			if (nb == PL_NSVC)
				return -1;
			o->bins[nb++] = a;
			continue;
		}
		if (!v)
			return -1;
		if (!strcmp(a, "--duration"))
			o->duration_s = atof(v);
		else if (!strcmp(a, "--warmup"))
			o->warmup_s = atof(v);
		else if (!strcmp(a, "--interval"))
			o->interval_s = atof(v);
		else if (!strcmp(a, "--rate"))
			o->rate = atof(v);
		else if (!strcmp(a, "--window"))
			o->window = atoi(v);
		else if (!strcmp(a, "--max-growth-mb"))
			o->max_growth_mb = atof(v);
		else if (!strcmp(a, "--port-base"))
			o->port_base = (unsigned)atoi(v);
		else
			return -1;
		i++;
	}
	if (nb != PL_NSVC || o->duration_s <= o->warmup_s || o->interval_s <= 0 || o->rate <= 0 ||
	    o->window < 1)
		return -1;
	return 0;
}

static void *load_main(void *p)
{
	struct soak *sk = p;
	char err[256];

	sk->load_rc = loadgen_run(&sk->lo, &sk->lr, err, sizeof(err));
	if (sk->load_rc < 0)
		fprintf(stderr, "soak: load: %s\n", err);
	return NULL;
}

/* One public search query (exercises search's query path and cache). */
static void search_once(struct soak *sk, size_t i)
{
	char path[128];
	long st = 0;
	json_t *j;

	snprintf(path, sizeof(path), "/v1/search?q=%s&region=%s",
		 i % 2 ? "jalan" : "gotong%20royong", sk->fx.desa);
	j = pl_json(&sk->pl, PL_SEARCH, "GET", path, NULL, NULL, &st);
	json_decref(j);
	if (st >= 500 || st == 0)
		sk->search_5xx++;
	else
		sk->search_ok++;
}

static void print_header(void)
{
	printf("%8s", "t_s");
	for (int s = 0; s < PL_NSVC; s++)
		printf(" %9s", pl_name((enum pl_svc)s));
	printf("   (VmRSS, MB)\n");
	fflush(stdout);
}

static void print_sample(const struct soak *sk, size_t i)
{
	printf("%8.1f", sk->t[i]);
	for (int s = 0; s < PL_NSVC; s++)
		printf(" %9.1f", (double)sk->rss[i][s] / 1024.0);
	printf("%s\n", sk->t[i] < sk->o.warmup_s ? "   warm-up" : "");
	fflush(stdout);
}

static void sample(struct soak *sk, double t)
{
	if (sk->n == MAX_SAMPLES)
		return;
	sk->t[sk->n] = t;
	for (int s = 0; s < PL_NSVC; s++)
		sk->rss[sk->n][s] = sk->pl.p[s].pid > 0 ? ovl_rss_kb(sk->pl.p[s].pid) : -1;
	search_once(sk, sk->n);
	print_sample(sk, sk->n);
	sk->n++;
}

/* Lowest RSS (MB) of service s over samples [from, from + n): the floor. A
 * leak raises it; batches and caches that fill and drain only swing above. */
static double floor_mb(const struct soak *sk, int s, size_t from, size_t n)
{
	long lo = sk->rss[from][s];

	for (size_t i = from; i < from + n; i++)
		if (sk->rss[i][s] < lo)
			lo = sk->rss[i][s];
	return (double)lo / 1024.0;
}

/* Growth per service over the measured window; the number over the bound. */
static int judge(const struct soak *sk)
{
	size_t first = 0, w = (size_t)sk->o.window;
	int bad = 0;

	while (first < sk->n && sk->t[first] < sk->o.warmup_s)
		first++;
	if (sk->n < first + 2 * w) {
		printf("FAIL: %zu samples after warm-up, need %zu (longer --duration?)\n",
		       sk->n - first, 2 * w);
		return PL_NSVC;
	}
	printf("%-9s %10s %10s %10s %10s   (floors: lowest of %zu samples)\n", "service",
	       "start_MB", "end_MB", "growth_MB", "bound_MB", w);
	for (int s = 0; s < PL_NSVC; s++) {
		double a = floor_mb(sk, s, first, w), b = floor_mb(sk, s, sk->n - w, w);
		bool ok = b - a <= sk->o.max_growth_mb;

		for (size_t i = first; i < sk->n; i++)
			ok = ok && sk->rss[i][s] > 0;
		printf("%-9s %10.1f %10.1f %10.1f %10.1f %s\n", pl_name((enum pl_svc)s), a, b,
		       b - a, sk->o.max_growth_mb, ok ? "ok" : "FAIL");
		bad += !ok;
	}
	return bad;
}

static int setup(struct soak *sk, struct ovl_bodies *bs, char *url, size_t urllen)
{
	char err[2048], realm[64], skip[32];
	PGconn *pg;

	if (ts_env_load(&sk->env, err, sizeof(err)) != 0) {
		fprintf(stderr, "soak: the dev stack is not answering: %s\n", err);
		return -1;
	}
	pg = ts_pg_connect(sk->env.pg_url, err, sizeof(err));
	if (!pg || ts_fixture_create(&sk->fx, pg, err, sizeof(err)) != 0) {
		fprintf(stderr, "soak: fixtures: %s\n", err);
		if (pg)
			PQfinish(pg);
		return -1;
	}
	PQfinish(pg);
	snprintf(realm, sizeof(realm), "soak-%s", sk->fx.run);
	if (pl_init(&sk->pl, sk->o.bins, sk->o.port_base, realm, "soak", err, sizeof(err)) != 0) {
		fprintf(stderr, "soak: %s\n", err);
		return -1;
	}
	/* this run's groups start at the topics' ends; ASan's quarantine is
	 * kept small so that freed memory is not mistaken for growth */
	snprintf(skip, sizeof(skip), "%lld", (long long)time(NULL) * 1000 - 60000);
	for (int s = 0; s < PL_NSVC; s++)
		if (pl_setenv(&sk->pl, (enum pl_svc)s, "ASAN_OPTIONS",
			      "detect_leaks=1:quarantine_size_mb=16"))
			return -1;
	if (pl_setenv(&sk->pl, PL_NOTIFY, "SIMPUL_NOTIFY_REALM", realm) ||
	    pl_setenv(&sk->pl, PL_NOTIFY, "SIMPUL_NOTIFY_SKIP_BEFORE_MS", skip) ||
	    pl_setenv(&sk->pl, PL_MODERATE, "SIMPUL_MODERATE_OFFSET_RESET", "latest") ||
	    pl_setenv(&sk->pl, PL_REPORT, "SIMPUL_REPORT_OFFSET_RESET", "latest"))
		return -1;
	if (pl_start_all(&sk->pl, 60000, err, sizeof(err)) != 0) {
		fprintf(stderr, "soak: %s\n", err);
		return -1;
	}
	for (int s = PL_MODERATE; s < PL_NSVC; s++)
		if (pl_wait_assigned(&sk->pl, (enum pl_svc)s, 60000) != 0) {
			fprintf(stderr, "soak: simpul-%s got no partitions in 60 s\n",
				pl_name((enum pl_svc)s));
			pl_dump_log(&sk->pl, (enum pl_svc)s, 20);
			return -1;
		}
	if (ovl_bodies_init(bs, &sk->fx, "soak") != 0)
		return -1;
	pl_url(&sk->pl, PL_INGEST, "/v1/content", url, urllen);
	/* key_prefix: set by main (it must outlive this frame) */
	sk->lo = (struct loadgen_opts){.url = url, .token = sk->fx.users[TS_KIM_ADMIN].token,
				       .bodies = bs->b, .nbodies = OVL_NBODIES, .conns = 32,
				       .duration_s = sk->o.duration_s, .timeout_ms = 30000,
				       .rate_per_s = sk->o.rate};
	return 0;
}

int main(int argc, char **argv)
{
	static struct soak sk;
	struct ovl_bodies bs = {0};
	char url[192], prefix[64];
	pthread_t th;
	int64_t t0;
	int bad = 1, unclean;

	if (parse_args(argc, argv, &sk.o) != 0) {
		fprintf(stderr, "usage: soak [--duration S] [--warmup S] [--interval S] [--rate N] "
				"[--window N] [--max-growth-mb MB] [--port-base P] "
				"INGEST MODERATE SEARCH NOTIFY REPORT\n");
		return 2;
	}
	if (setup(&sk, &bs, url, sizeof(url)) != 0)
		goto out;
	snprintf(prefix, sizeof(prefix), "soak-%s", sk.fx.run);
	sk.lo.key_prefix = prefix;
	printf("soak: %.0f s at %.0f submissions/s, warm-up %.0f s, a sample every %.1f s, "
	       "growth bound %.0f MB per service\n",
	       sk.o.duration_s, sk.o.rate, sk.o.warmup_s, sk.o.interval_s, sk.o.max_growth_mb);
	print_header();
	t0 = ts_now_ms();
	if (pthread_create(&th, NULL, load_main, &sk) != 0)
		goto out;
	for (;;) {
		double t = (double)(ts_now_ms() - t0) / 1000.0;

		if (t > sk.o.duration_s)
			break;
		sample(&sk, t);
		ts_sleep_ms((int)(sk.o.interval_s * 1000));
	}
	pthread_join(th, NULL);
	printf("load: sent %llu, accepted %llu (%.1f/s), 4xx %llu, 5xx %llu (503 overloaded "
	       "%llu), transport errors %llu, p50 %.1f ms, p99 %.1f ms; search queries ok %ld, "
	       "failed %ld\n",
	       (unsigned long long)sk.lr.sent, (unsigned long long)sk.lr.accepted,
	       sk.lr.elapsed_s > 0 ? (double)sk.lr.accepted / sk.lr.elapsed_s : 0,
	       (unsigned long long)sk.lr.status_4xx, (unsigned long long)sk.lr.status_5xx,
	       (unsigned long long)sk.lr.status_503,
	       (unsigned long long)sk.lr.transport_errors, sk.lr.p50_ms, sk.lr.p99_ms,
	       sk.search_ok, sk.search_5xx);
	bad = judge(&sk);
	for (int s = 0; s < PL_NSVC; s++)
		if (!pl_alive(&sk.pl, (enum pl_svc)s)) {
			printf("FAIL: simpul-%s is not running any more\n", pl_name((enum pl_svc)s));
			pl_dump_log(&sk.pl, (enum pl_svc)s, 20);
			bad++;
		}
	if (sk.load_rc < 0 || sk.lr.accepted == 0 || sk.lr.status_5xx > sk.lr.status_503 ||
	    sk.search_5xx > 0) {
		printf("FAIL: the load did not run cleanly (first error: %ld %s)\n",
		       sk.lr.first_error_status, sk.lr.first_error);
		bad++;
	}
out:
	unclean = pl_stop_all(&sk.pl, 30000);
	if (unclean)
		printf("FAIL: %d service(s) did not exit 0 on SIGTERM\n", unclean);
	ovl_bodies_release(&bs);
	ts_env_release(&sk.env);
	printf("soak: %s\n", bad || unclean ? "FAILED" : "passed");
	return bad || unclean ? 1 : 0;
}
