/*
 * ingest_bench.c - the ingest benchmark: POST /v1/content load against a
 * running simpul-ingest, and in the same run the ceilings it is judged by:
 * (A) the same client against a do-nothing libmicrohttpd 202 handler,
 * (B) batched multi-row INSERTs of the same rows into PostgreSQL, and the
 * one-transaction-per-request baseline. Settings come from the command
 * line (see --help); bench/ingest/run wires it to the stack.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include <util/err.h>
#include <util/ids.h>

#include "articles.h"
#include "ceilings.h"
#include "loadgen.h"

struct bench_opts {
	const char *ingest_url, *token, *region, *kim, *author, *csv, *pg_url;
	char key_prefix[64];
	size_t articles;
	struct article_limits lim;
	unsigned conns, mhd_threads, batch, txn_conns;
	double duration_s, txn_seconds;
	unsigned long long requests, rows, txn_max;
	int skip_a;
};

struct bench_figures {
	struct loadgen_result a, ingest;
	struct ceiling_pg_result b, txn1, txnn;
	int have_a, have_ingest, have_b, have_txn;
	char pg_settings[160];
};

static const char *const body_types[] = {"berita", "kegiatan", "potensi", "umkm", "usulan"};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ingest_bench --csv PATH --region CODE --kim UUID [options]\n"
		"  --ingest-url URL   base URL of a running simpul-ingest (skip ingest if absent)\n"
		"  --token TOKEN      Bearer token of a user allowed to submit for --kim\n"
		"  --author UUID      author id written into the PostgreSQL ceiling rows\n"
		"  --pg-url URL       PostgreSQL for ceiling B and the one-txn baseline\n"
		"  --articles N       articles loaded for the body mix (2000)\n"
		"  --title-max B --body-max B  truncation in bytes (200, 50000)\n"
		"  --conns N          concurrent keep-alive connections (64)\n"
		"  --duration S       seconds per HTTP phase (10)   --requests N  cap (0: none)\n"
		"  --mhd-threads N    ceiling A worker threads (online CPUs)  --skip-ceiling-a\n"
		"  --batch N          rows per INSERT in ceiling B (500)\n"
		"  --rows N           rows for ceiling B (default: what ingest accepted, or 50000)\n"
		"  --txn-conns N      connections of the one-txn-per-request baseline (16)\n"
		"  --txn-max N --txn-seconds S  bounds of that baseline (20000, 5)\n");
}

static int parse_opts(int argc, char **argv, struct bench_opts *o)
{
	static const struct option lo[] = {
		{"ingest-url", 1, 0, 'u'}, {"token", 1, 0, 't'},      {"region", 1, 0, 'r'},
		{"kim", 1, 0, 'k'},        {"author", 1, 0, 'w'},     {"csv", 1, 0, 'c'},
		{"pg-url", 1, 0, 'p'},     {"articles", 1, 0, 'n'},   {"title-max", 1, 0, 'T'},
		{"body-max", 1, 0, 'B'},   {"conns", 1, 0, 'C'},      {"duration", 1, 0, 'd'},
		{"requests", 1, 0, 'R'},   {"mhd-threads", 1, 0, 'm'}, {"batch", 1, 0, 'b'},
		{"rows", 1, 0, 'o'},       {"txn-conns", 1, 0, 'x'},  {"txn-max", 1, 0, 'X'},
		{"txn-seconds", 1, 0, 's'}, {"skip-ceiling-a", 0, 0, 'S'}, {"help", 0, 0, 'h'},
		{0, 0, 0, 0}};
	int c;
	char trace[UTIL_TRACE_STRLEN + 1];

	*o = (struct bench_opts){.articles = 2000, .lim = {200, 50000}, .conns = 64,
				 .duration_s = 10, .batch = 500, .txn_conns = 16, .txn_max = 20000,
				 .txn_seconds = 5};
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	o->mhd_threads = cpus > 0 ? (unsigned)cpus : 2;
	util_trace_id(trace);
	snprintf(o->key_prefix, sizeof(o->key_prefix), "bench-%.16s", trace);
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'u': o->ingest_url = optarg; break;
		case 't': o->token = optarg; break;
		case 'r': o->region = optarg; break;
		case 'k': o->kim = optarg; break;
		case 'w': o->author = optarg; break;
		case 'c': o->csv = optarg; break;
		case 'p': o->pg_url = optarg; break;
		case 'n': o->articles = strtoull(optarg, NULL, 10); break;
		case 'T': o->lim.title_max = strtoull(optarg, NULL, 10); break;
		case 'B': o->lim.body_max = strtoull(optarg, NULL, 10); break;
		case 'C': o->conns = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'd': o->duration_s = strtod(optarg, NULL); break;
		case 'R': o->requests = strtoull(optarg, NULL, 10); break;
		case 'm': o->mhd_threads = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'b': o->batch = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'o': o->rows = strtoull(optarg, NULL, 10); break;
		case 'x': o->txn_conns = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'X': o->txn_max = strtoull(optarg, NULL, 10); break;
		case 's': o->txn_seconds = strtod(optarg, NULL); break;
		case 'S': o->skip_a = 1; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (!o->csv || !o->region || !o->kim || o->conns < 1 || o->articles < 1 ||
	    (o->ingest_url && !o->token)) {
		usage(stderr);
		return -1;
	}
	return 0;
}

/* JSON bodies for POST /v1/content, one per article; caller frees each data. */
static int build_bodies(const struct bench_opts *o, const struct article_set *set,
			struct loadgen_body *out)
{
	for (size_t i = 0; i < set->n; i++) {
		char *buf = NULL;
		size_t len = 0, cap = 0;
		char head[256];
		const struct article *a = &set->items[i];
		snprintf(head, sizeof(head), "{\"type\":\"%s\",\"region_code\":\"%s\",\"kim_id\":\"%s\",",
			 body_types[i % 5], o->region, o->kim);
		int rc = article_json_raw(&buf, &len, &cap, head);
		rc = rc ? rc : article_json_raw(&buf, &len, &cap, "\"title\":");
		rc = rc ? rc : article_json_str(&buf, &len, &cap, a->title);
		rc = rc ? rc : article_json_raw(&buf, &len, &cap, ",\"body\":");
		rc = rc ? rc : article_json_str(&buf, &len, &cap, a->body);
		rc = rc ? rc : article_json_raw(&buf, &len, &cap, ",\"tags\":[");
		if (rc == 0 && a->category[0])
			rc = article_json_str(&buf, &len, &cap, a->category);
		rc = rc ? rc : article_json_raw(&buf, &len, &cap, "]}");
		if (rc) {
			free(buf);
			return rc;
		}
		out[i].data = buf;
		out[i].len = len;
	}
	return 0;
}

static void print_http(const char *name, const struct loadgen_result *r)
{
	printf("%-34s %10.0f accepted/s  p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms\n", name,
	       r->elapsed_s > 0 ? r->accepted / r->elapsed_s : 0, r->p50_ms, r->p99_ms, r->max_ms);
	printf("%-34s sent=%llu 202=%llu other2xx=%llu 4xx=%llu 5xx=%llu transport_errors=%llu "
	       "connections_opened=%llu elapsed=%.2fs\n",
	       "", (unsigned long long)r->sent, (unsigned long long)r->accepted,
	       (unsigned long long)r->status_2xx_other, (unsigned long long)r->status_4xx,
	       (unsigned long long)r->status_5xx, (unsigned long long)r->transport_errors,
	       (unsigned long long)r->connects, r->elapsed_s);
	if (r->first_error[0])
		printf("%-34s first non-202: status=%ld %s\n", "", r->first_error_status,
		       r->first_error);
}

/* Phase A and the ingest phase: the same client, the same bodies. */
static int run_http(const struct bench_opts *o, const struct loadgen_body *bodies, size_t n,
		    struct bench_figures *f)
{
	char err[256], url[512];
	struct loadgen_opts lo = {.bodies = bodies, .nbodies = n, .conns = o->conns,
				  .duration_s = o->duration_s, .max_requests = o->requests,
				  .timeout_ms = 30000};

	if (!o->skip_a) {
		struct ceiling_http *srv = ceiling_http_new(o->mhd_threads, err, sizeof(err));
		if (!srv) {
			fprintf(stderr, "ceiling A: %s\n", err);
			return -1;
		}
		snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/content", ceiling_http_port(srv));
		lo.url = url;
		lo.token = "bench-ceiling";
		lo.key_prefix = "ceiling-a";
		printf("... ceiling A: libmicrohttpd 202 handler on %s (%u threads)\n", url,
		       o->mhd_threads);
		fflush(stdout);
		int rc = loadgen_run(&lo, &f->a, err, sizeof(err));
		ceiling_http_free(srv);
		if (rc < 0) {
			fprintf(stderr, "ceiling A: %s\n", err);
			return -1;
		}
		f->have_a = 1;
		print_http("ceiling A (mhd 202, no work)", &f->a);
	}
	if (o->ingest_url) {
		snprintf(url, sizeof(url), "%s/v1/content", o->ingest_url);
		lo.url = url;
		lo.token = o->token;
		lo.key_prefix = o->key_prefix;
		printf("... ingest: POST %s, %u connections, %.0fs\n", url, o->conns, o->duration_s);
		fflush(stdout);
		if (loadgen_run(&lo, &f->ingest, err, sizeof(err)) < 0) {
			fprintf(stderr, "ingest: %s\n", err);
			return -1;
		}
		f->have_ingest = 1;
		print_http("ingest POST /v1/content", &f->ingest);
	}
	return 0;
}

static int run_pg(const struct bench_opts *o, const struct article_set *set,
		  struct bench_figures *f)
{
	char err[512];
	struct ceiling_pg_opts po = {.conninfo = o->pg_url, .articles = set,
				     .region_code = o->region, .kim_id = o->kim,
				     .author_id = o->author};
	unsigned long long rows = o->rows ? o->rows : f->have_ingest && f->ingest.accepted
								? f->ingest.accepted
								: 50000;
	int rc = 0;

	if (f->have_ingest) {
		long long left;
		double waited;
		/* Let the relay publish the run's backlog so ceiling B runs on an idle box. */
		rc = ceiling_pg_outbox_wait(o->pg_url, 120, &left, &waited, err, sizeof(err));
		if (rc == 0)
			printf("%-34s unsent=%lld after %.2fs (relay drain after the load)\n",
			       "outbox backlog", left, waited);
	}
	rc = rc ? rc : ceiling_pg_prepare(&po, f->pg_settings, sizeof(f->pg_settings), err,
					  sizeof(err));

	if (rc == 0) {
		printf("... ceiling B: %llu rows in INSERTs of %u rows (%s)\n", rows, o->batch,
		       f->pg_settings);
		fflush(stdout);
		rc = ceiling_pg_batched(&po, rows, o->batch, &f->b, err, sizeof(err));
		f->have_b = rc == 0;
	}
	if (rc == 0) {
		printf("%-34s %10.0f rows/s  (%llu rows in %.2fs)\n", "ceiling B (pg batched insert)",
		       f->b.rows_per_s, (unsigned long long)f->b.rows, f->b.elapsed_s);
		printf("... one transaction per request: 1 and %u connections, <= %llu rows, <= %.0fs\n",
		       o->txn_conns, o->txn_max, o->txn_seconds);
		fflush(stdout);
		rc = ceiling_pg_per_txn(&po, 1, o->txn_max, o->txn_seconds, &f->txn1, err, sizeof(err));
	}
	if (rc == 0)
		rc = ceiling_pg_per_txn(&po, o->txn_conns, o->txn_max, o->txn_seconds, &f->txnn, err,
					sizeof(err));
	f->have_txn = rc == 0;
	if (rc == 0) {
		printf("%-34s %10.0f rows/s  (%llu rows)\n", "one txn per request, 1 conn",
		       f->txn1.rows_per_s, (unsigned long long)f->txn1.rows);
		printf("%-34s %10.0f rows/s  (%llu rows, %u conns)\n", "one txn per request, N conns",
		       f->txnn.rows_per_s, (unsigned long long)f->txnn.rows, o->txn_conns);
	}
	ceiling_pg_cleanup(&po);
	if (rc < 0)
		fprintf(stderr, "postgresql ceilings: %s\n", err);
	return rc;
}

static void print_summary(const struct bench_opts *o, const struct bench_figures *f)
{
	double ing = f->have_ingest && f->ingest.elapsed_s > 0
			     ? f->ingest.accepted / f->ingest.elapsed_s : 0;
	double a = f->have_a && f->a.elapsed_s > 0 ? f->a.accepted / f->a.elapsed_s : 0;
	double b = f->have_b ? f->b.rows_per_s : 0;
	double lo = a && b ? (a < b ? a : b) : (a ? a : b);
	double txn = f->txnn.rows_per_s > f->txn1.rows_per_s ? f->txnn.rows_per_s
							      : f->txn1.rows_per_s;

	printf("\n== ingest benchmark summary (%u connections, %.0fs per HTTP phase, %zu-article mix"
	       ", %s) ==\n",
	       o->conns, o->duration_s, o->articles, f->pg_settings[0] ? f->pg_settings : "no pg");
	printf("ingest accepted/s                 %10.0f   (p50 %.2f ms, p99 %.2f ms)\n", ing,
	       f->ingest.p50_ms, f->ingest.p99_ms);
	printf("ceiling A: mhd 202 req/s          %10.0f   (p50 %.2f ms, p99 %.2f ms)\n", a,
	       f->a.p50_ms, f->a.p99_ms);
	printf("ceiling B: pg batched rows/s      %10.0f   (batches of %u)\n", b, o->batch);
	printf("one txn per request rows/s        %10.0f   (best of 1 and %u connections)\n", txn,
	       o->txn_conns);
	if (ing > 0 && lo > 0)
		printf("ingest / min(A,B)                 %10.2f   (goal >= 0.50: %s)\n", ing / lo,
		       ing / lo >= 0.5 ? "met" : "NOT met");
	if (ing > 0 && txn > 0)
		printf("ingest / one-txn-per-request      %10.2f   (goal >= 10: %s)\n", ing / txn,
		       ing / txn >= 10 ? "met" : "NOT met");
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	struct bench_figures f = {0};
	struct article_set set = {0};
	struct loadgen_body *bodies = NULL;
	char err[512];
	int rc = 1;

	if (parse_opts(argc, argv, &o) < 0)
		return 2;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	if (article_set_load(&set, o.csv, o.articles, &o.lim, err, sizeof(err)) < 0) {
		fprintf(stderr, "articles: %s\n", err);
		goto out;
	}
	o.articles = set.n;
	bodies = calloc(set.n, sizeof(*bodies));
	if (!bodies || build_bodies(&o, &set, bodies) < 0) {
		fprintf(stderr, "out of memory building bodies\n");
		goto out;
	}
	printf("... %zu articles loaded from %s\n", set.n, o.csv);
	if (run_http(&o, bodies, set.n, &f) < 0)
		goto out;
	if (o.pg_url && run_pg(&o, &set, &f) < 0)
		goto out;
	print_summary(&o, &f);
	rc = 0;
out:
	for (size_t i = 0; bodies && i < set.n; i++)
		free((void *)bodies[i].data);
	free(bodies);
	article_set_release(&set);
	curl_global_cleanup();
	return rc;
}
