/*
 * bench/overload/overload.c - the overload scenario (see overload.h): load
 * phases with bench/ingest's loadgen while a sampler thread follows the
 * ingest child's RSS, then the recovery probe.
 */
#include "overload.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"

int ovl_bodies_init(struct ovl_bodies *bs, const struct ts_fixture *fx, const char *tag)
{
	memset(bs, 0, sizeof(*bs));
	for (size_t i = 0; i < OVL_NBODIES; i++) {
		char title[96];

		snprintf(title, sizeof(title), "Uji %s %zu %s", tag, i, fx->run);
		bs->text[i] = ts_json_content("berita", title,
					      "Warga desa bergotong royong memperbaiki jalan "
					      "dan saluran air menjelang musim hujan.",
					      fx->desa, fx->kim_id);
		if (!bs->text[i])
			return UTIL_ENOMEM;
		bs->b[i] = (struct loadgen_body){bs->text[i], strlen(bs->text[i])};
	}
	return 0;
}

void ovl_bodies_release(struct ovl_bodies *bs)
{
	for (size_t i = 0; i < OVL_NBODIES; i++)
		free(bs->text[i]);
	memset(bs, 0, sizeof(*bs));
}

void ovl_opts_default(struct ovl_opts *o)
{
	*o = (struct ovl_opts){.baseline_s = 2,
			       .saturate_s = 5,
			       .saturate_conns = 32,
			       .overload_s = 10,
			       .factor = 2,
			       .overload_conns = 512,
			       .recover_ms = 30000};
}

long ovl_rss_kb(int pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}


struct sampler {
	int pid;
	atomic_bool stop;
	long peak_kb, last_kb;
	pthread_t th;
};

static void *sample_main(void *p)
{
	struct sampler *s = p;

	while (!atomic_load(&s->stop)) {
		long kb = ovl_rss_kb(s->pid);

		if (kb > s->peak_kb)
			s->peak_kb = kb;
		if (kb >= 0)
			s->last_kb = kb;
		ts_sleep_ms(100);
	}
	return NULL;
}

/* The value of series `name{route="/v1/content"}` in a /metrics text. */
static bool metric_value(const char *text, const char *name, double *v)
{
	char key[128];
	const char *p;

	snprintf(key, sizeof(key), "\n%s{route=\"/v1/content\"} ", name);
	p = text ? strstr(text, key) : NULL;
	return p && sscanf(p + strlen(key), "%lf", v) == 1;
}

/* Sum and count of the server's own timing of POST /v1/content
 * (http_request_duration_seconds); false when unreadable. */
static bool server_timing(struct ts_ctx *ctx, double *sum, double *count)
{
	struct ts_response r;
	bool ok;

	ts_http(&r, "GET", ts_ctx_url(ctx, "/metrics"), NULL, NULL, NULL, 0);
	ok = r.status == 200 && metric_value(r.body, "http_request_duration_seconds_sum", sum) &&
	     metric_value(r.body, "http_request_duration_seconds_count", count);
	ts_response_release(&r);
	return ok;
}

/* One loadgen run with the RSS sampled meanwhile. */
static int phase(struct ts_ctx *ctx, struct loadgen_opts *lo, struct ovl_phase *ph, char *err,
		 size_t errlen)
{
	struct sampler s = {.pid = ctx->ingest.pid, .peak_kb = -1, .last_kb = -1};
	double cpu0 = ts_proc_cpu_seconds(ctx->ingest.pid), sum0 = 0, n0 = 0, sum1, n1;
	int rc;

	if (!server_timing(ctx, &sum0, &n0))
		sum0 = n0 = 0; /* no request timed yet: the series does not exist */
	atomic_init(&s.stop, false);
	if (pthread_create(&s.th, NULL, sample_main, &s) != 0)
		return util_err_set(err, errlen, UTIL_EIO, "cannot start the rss sampler");
	rc = loadgen_run(lo, &ph->r, err, errlen);
	atomic_store(&s.stop, true);
	pthread_join(s.th, NULL);
	ph->rate = lo->rate_per_s;
	ph->rss_peak_kb = s.peak_kb;
	ph->rss_end_kb = s.last_kb;
	ph->cpu_s = ts_proc_cpu_seconds(ctx->ingest.pid) - cpu0;
	if (server_timing(ctx, &sum1, &n1) && n1 > n0)
		ph->srv_mean_ms = (sum1 - sum0) / (n1 - n0) * 1000.0;
	return rc;
}

/* Posts normal submissions until one is accepted or o->recover_ms passed. */
static void recover(struct ts_ctx *ctx, const struct ovl_opts *o, const char *token,
		    const char *body, struct ovl_report *rep)
{
	int64_t t0 = ts_now_ms();
	char key[96];

	do {
		struct ts_response r;

		ts_key(&ctx->fx, "overload-recover", key, sizeof(key));
		ts_http_post_json(&r, ts_ctx_url(ctx, "/v1/content"), token, key, body);
		rep->recover_status = (int)r.status;
		rep->recover_attempts++;
		ts_response_release(&r);
		if (rep->recover_status == 202)
			break;
		ts_sleep_ms(200);
	} while (ts_now_ms() - t0 < o->recover_ms);
	rep->recover_ms = (double)(ts_now_ms() - t0);
}

int ovl_run(struct ts_ctx *ctx, const struct ovl_opts *o, struct ovl_report *rep, char *err,
	    size_t errlen)
{
	static int runs; /* a new key space per run: no idempotent replays */
	const char *token = ctx->fx.users[TS_KIM_ADMIN].token;
	struct ovl_bodies bs;
	char url[256], prefix[64];
	struct loadgen_opts lo;
	int rc, run = ++runs;

	memset(rep, 0, sizeof(*rep));
	rc = ovl_bodies_init(&bs, &ctx->fx, "beban");
	if (rc < 0) {
		util_err_set(err, errlen, rc, "out of memory");
		goto out;
	}
	snprintf(url, sizeof(url), "%s/v1/content", ctx->ingest.base_url);
	lo = (struct loadgen_opts){.url = url, .token = token, .key_prefix = prefix,
				   .bodies = bs.b, .nbodies = OVL_NBODIES, .timeout_ms = 30000};
	rep->rss_start_kb = ovl_rss_kb(ctx->ingest.pid);

	snprintf(prefix, sizeof(prefix), "ovl-%s-%d-base", ctx->fx.run, run);
	lo.conns = 1;
	lo.duration_s = o->baseline_s;
	rc = phase(ctx, &lo, &rep->baseline, err, errlen);
	if (rc < 0)
		goto out;

	snprintf(prefix, sizeof(prefix), "ovl-%s-%d-sat", ctx->fx.run, run);
	lo.conns = o->saturate_conns;
	lo.duration_s = o->saturate_s;
	rc = phase(ctx, &lo, &rep->saturate, err, errlen);
	if (rc < 0)
		goto out;
	rep->saturation_rate = rep->saturate.r.elapsed_s > 0
				       ? (double)rep->saturate.r.accepted / rep->saturate.r.elapsed_s
				       : 0;
	if (rep->saturation_rate < 1) {
		rc = util_err_set(err, errlen, UTIL_EIO, "saturation phase accepted nothing: %s",
				  rep->saturate.r.first_error);
		goto out;
	}

	snprintf(prefix, sizeof(prefix), "ovl-%s-%d-over", ctx->fx.run, run);
	lo.conns = o->overload_conns;
	lo.duration_s = o->overload_s;
	lo.rate_per_s = o->factor * rep->saturation_rate;
	rc = phase(ctx, &lo, &rep->overload, err, errlen);
	if (rc < 0)
		goto out;
	rep->alive = kill(ctx->ingest.pid, 0) == 0;
	recover(ctx, o, token, bs.text[0], rep);
out:
	ovl_bodies_release(&bs);
	return rc;
}

static void print_phase(const char *name, const struct ovl_phase *p)
{
	const struct loadgen_result *r = &p->r;
	double s = r->elapsed_s > 0 ? r->elapsed_s : 1;

	printf("%-10s %8.0f %8llu %8.0f %8llu %8llu %6llu %6llu %8.1f %8.1f %8.1f %8.1f %8.1f %7.0f "
	       "%6.2f\n",
	       name, p->rate, (unsigned long long)r->sent, (double)r->accepted / s,
	       (unsigned long long)r->accepted, (unsigned long long)(r->status_429 + r->status_503),
	       (unsigned long long)r->status_500, (unsigned long long)r->transport_errors,
	       r->p50_ms, r->p99_ms, r->rej_p50_ms, r->rej_p99_ms, p->srv_mean_ms,
	       p->rss_peak_kb / 1024.0,
	       p->cpu_s / s);
}

void ovl_print(const struct ovl_report *rep)
{
	printf("%-10s %8s %8s %8s %8s %8s %6s %6s %8s %8s %8s %8s %8s %7s %6s\n", "phase",
	       "rate/s", "sent", "acc/s", "accepted", "429+503", "500", "xport", "acc_p50",
	       "acc_p99", "rej_p50", "rej_p99", "srv_mean", "rss_MB", "cpu");
	print_phase("unloaded", &rep->baseline);
	print_phase("saturate", &rep->saturate);
	print_phase("overload", &rep->overload);
	printf("saturation rate %.0f accepted/s; overload skipped %llu (no free connection); "
	       "rss at start %.0f MB\n",
	       rep->saturation_rate, (unsigned long long)rep->overload.r.skipped,
	       rep->rss_start_kb / 1024.0);
	printf("recovery: status %d after %.0f ms (%d attempts); process %s\n",
	       rep->recover_status, rep->recover_ms, rep->recover_attempts,
	       rep->alive ? "alive" : "GONE");
	if (rep->overload.r.first_error[0])
		printf("first non-202 of the overload phase: %ld %s\n",
		       rep->overload.r.first_error_status, rep->overload.r.first_error);
}
