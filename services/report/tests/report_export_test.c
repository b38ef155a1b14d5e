/*
 * services/report/tests/report_export_test.c - exports of any size, streamed
 * without holding them in memory: 300,000 synthetic aggregate rows (a
 * synthetic province code and days in the 2200s, so nothing else matches),
 * exported as CSV over HTTP while the service's resident memory is sampled;
 * the body must be complete and the growth far below the body's size. Then
 * the same export as NDJSON through a background job (queued, ready, file).
 * It prints the streamed export's rows/s and peak RSS: with ROWS 1000000
 * and a release build that is the export benchmark figure.
 *
 * usage: report_export_test SIMPUL_REPORT_BIN [ROWS]   (default 300000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "report_stack.h"
#include "util/ids.h"

#define NROWS_DEFAULT 300000
#define PER_DAY 9000
#define MAX_GROWTH_KB (48 * 1024)

static int failures;
static long nrows = NROWS_DEFAULT;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			failures++;                                                                \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                       \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
		}                                                                                  \
	} while (0)

struct sink {
	const struct rs_service *svc;
	size_t bytes, lines, next_sample;
	long rss_peak;
	char first[256];
	size_t first_len;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;
	size_t len = size * n;

	for (size_t i = 0; i < len && s->lines == 0 && s->first_len + 1 < sizeof(s->first); i++) {
		if (p[i] == '\n')
			break;
		s->first[s->first_len++] = p[i];
	}
	for (size_t i = 0; i < len; i++)
		s->lines += p[i] == '\n';
	s->bytes += len;
	if (s->bytes >= s->next_sample) {
		long kb = rs_rss_kb(s->svc);

		if (kb > s->rss_peak)
			s->rss_peak = kb;
		s->next_sample = s->bytes + (512 << 10);
	}
	return len;
}

static long get_stream(const struct rs_service *svc, const char *token, const char *path,
		       struct sink *s)
{
	char url[512], auth[128];
	struct curl_slist *h = NULL;
	CURL *c = curl_easy_init();
	long status = 0;

	snprintf(url, sizeof(url), "%s%s", svc->base, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	h = curl_slist_append(h, auth);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 240L);
	/* a slow reader: the server must not buffer ahead of it */
	curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 16384L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return status;
}

static int seed(PGconn *pg, const char *prov, const char *from)
{
	char err[256], n[16], per[16];
	const char *v[4] = {prov, from, n, per};
	PGresult *r;

	snprintf(n, sizeof(n), "%ld", nrows);
	snprintf(per, sizeof(per), "%d", PER_DAY);
	r = ts_pg_query(pg,
			"INSERT INTO simpul.report_cells (gen, region_code, day, type, submitted,"
			" approved, rejected, pending, decided, decision_ms_sum)"
			" SELECT (SELECT current_gen FROM simpul.report_state),"
			" $1 || '.01.01.' || (1000 + g % $4::int)::text, $2::date + g / $4::int,"
			" 'berita', g % 7, g % 3, g % 2, 0, 0, 0"
			" FROM generate_series(0, $3::int - 1) AS g",
			4, v, err, sizeof(err));
	if (!r) {
		fprintf(stderr, "seed: %s\n", err);
		return -1;
	}
	PQclear(r);
	return 0;
}

static void unseed(PGconn *pg, const char *prov, const char *from)
{
	char err[256];
	const char *v[2] = {prov, from};
	PGresult *r = ts_pg_query(pg,
				  "DELETE FROM simpul.report_cells WHERE region_code LIKE $1 || '.%'"
				  " AND day >= $2::date",
				  2, v, err, sizeof(err));

	PQclear(r);
}

static void background_job(const struct rs_service *svc, const char *token, const char *prov,
			   const char *from, const char *to)
{
	char url[256], body[256], path[128];
	struct ts_response r;
	struct sink s = {.svc = svc};
	json_t *j = NULL;
	long st = 0;
	const char *status = "";

	snprintf(url, sizeof(url), "%s/v1/reports/exports", svc->base);
	snprintf(body, sizeof(body), "{\"region\":\"%s\",\"from\":\"%s\",\"to\":\"%s\","
				     "\"format\":\"ndjson\"}",
		 prov, from, to);
	ts_http_post_json(&r, url, token, NULL, body);
	CHECK(r.status == 202 && r.id[0], "export job queued: %ld %s", r.status, r.body);
	snprintf(path, sizeof(path), "/v1/reports/exports/%s", r.id);
	ts_response_release(&r);
	for (int i = 0; i < 240; i++) {
		json_decref(j);
		j = rs_get_json(svc, token, path, &st);
		status = json_string_value(json_object_get(j, "status")) ?: "";
		if (!strcmp(status, "ready") || !strcmp(status, "failed"))
			break;
		ts_sleep_ms(500);
	}
	CHECK(!strcmp(status, "ready"), "export job status %s", status);
	CHECK(rs_jint(j, "rows") == nrows, "export job rows %lld", rs_jint(j, "rows"));
	json_decref(j);
	strncat(path, "/file", sizeof(path) - strlen(path) - 1);
	st = get_stream(svc, token, path, &s);
	CHECK(st == 200 && s.lines == (size_t)nrows, "job file: %ld, %zu lines", st, s.lines);
	j = json_loadb(s.first, s.first_len, 0, NULL);
	CHECK(j && json_object_get(j, "region_code"), "ndjson line is an object: %.*s",
	      (int)s.first_len, s.first);
	json_decref(j);
}

int main(int argc, char **argv)
{
	const char *extra[] = {"SIMPUL_REPORT_CONSUME=off", "ASAN_OPTIONS=quarantine_size_mb=1",
			       NULL};
	struct ts_env env;
	struct ts_fixture fx;
	struct rs_service svc = {0};
	struct sink s = {0};
	PGconn *pg;
	char err[512], prov[3], from[11], to[11], q[256];
	long st, base;
	int64_t t0;

	if (argc > 2)
		nrows = atol(argv[2]);
	if (argc < 2 || nrows < 1) {
		fprintf(stderr, "usage: %s SIMPUL_REPORT_BIN [ROWS]\n", argv[0]);
		return 2;
	}
	if (ts_env_load(&env, err, sizeof(err)) != 0) {
		fprintf(stderr, "FAIL: the stack is not reachable: %s\n", err);
		ts_env_release(&env);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	srand((unsigned)(util_now_ms() ^ getpid()));
	pg = ts_pg_connect(env.pg_url, err, sizeof(err));
	if (!pg || ts_fixture_create(&fx, pg, err, sizeof(err)) != 0) {
		fprintf(stderr, "FAIL: fixtures: %s\n", err);
		return 1;
	}
	snprintf(prov, sizeof(prov), "%02d", 40 + rand() % 10);
	snprintf(from, sizeof(from), "%d-01-01", 2200 + rand() % 700);
	snprintf(to, sizeof(to), "%.4s-12-31", from); /* 9,000 rows a day: 3.2M in a year */
	if (seed(pg, prov, from) != 0) {
		failures++;
		goto out;
	}
	if (rs_start(&svc, argv[1], &env, extra, err, sizeof(err)) != 0) {
		fprintf(stderr, "FAIL: %s\n", err);
		failures++;
		goto out;
	}
	s.svc = &svc;
	base = rs_rss_kb(&svc);
	snprintf(q, sizeof(q), "/v1/reports/export?region=%s&from=%s&to=%s&format=csv", prov, from,
		 to);
	t0 = ts_now_ms();
	st = get_stream(&svc, fx.users[TS_ADMIN].token, q, &s);
	CHECK(st == 200, "export status %ld", st);
	CHECK(s.lines == (size_t)nrows + 1, "csv lines %zu want %ld (+ header)", s.lines,
	      nrows + 1);
	CHECK(!strncmp(s.first, "region_code,day,type,submitted", 30), "csv header %.*s",
	      (int)s.first_len, s.first);
	fprintf(stderr, "export: rows=%ld bytes=%zu rows_per_s=%.0f rss_start_kb=%ld rss_peak_kb=%ld\n",
		nrows, s.bytes, nrows * 1000.0 / (double)(ts_now_ms() - t0 + 1), base, s.rss_peak);
	CHECK(s.bytes > 10u << 20, "export big enough to matter (%zu bytes)", s.bytes);
	CHECK(base > 0 && s.rss_peak - base < MAX_GROWTH_KB,
	      "memory grew by %ld kB while streaming %zu bytes", s.rss_peak - base, s.bytes);
	/* scope: a kabupaten moderator cannot export another province */
	memset(&s, 0, sizeof(s));
	s.svc = &svc;
	st = get_stream(&svc, fx.users[TS_MODERATOR].token, q, &s);
	CHECK(st == 403, "moderator of 35.07 exporting %s: %ld", prov, st);
	background_job(&svc, fx.users[TS_ADMIN].token, prov, from, to);
out:
	if (svc.pid)
		CHECK(rs_stop(&svc) == 0, "clean exit (log %s)", svc.log);
	unseed(pg, prov, from);
	PQfinish(pg);
	ts_env_release(&env);
	curl_global_cleanup();
	fprintf(stderr, "%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}
