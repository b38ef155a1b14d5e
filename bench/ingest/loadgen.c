/*
 * loadgen.c - closed-loop HTTP POST load on libcurl multi. Every connection
 * slot owns one easy handle that is re-armed as soon as its answer is in, so
 * each slot keeps one keep-alive TCP connection busy. In open-loop mode
 * (rate_per_s) a finished slot goes to a free list instead, and requests
 * are armed from it as they fall due.
 */
#include "loadgen.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include <util/err.h>
#include <util/ids.h>

#define LATENCY_CAP (8u << 20) /* samples kept; more requests are still counted */

struct slot {
	CURL *easy;
	struct curl_slist *hdrs;
	int64_t started_us;
	char body[256]; /* first bytes of the answer, for diagnostics */
	size_t body_len;
	char curl_err[CURL_ERROR_SIZE];
};

struct run {
	const struct loadgen_opts *o;
	struct loadgen_result *r;
	CURLM *multi;
	struct slot *slots;
	uint32_t *lat_us; /* 202 latencies */
	size_t nlat;
	uint32_t *rej_us; /* 429/503 latencies */
	size_t nrej;
	struct slot **free_slots; /* open loop: idle slots */
	size_t nfree;
	uint64_t due;             /* open loop: requests scheduled so far */
	int64_t t0_us, deadline_us;
	uint64_t seq;
};

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
	struct slot *s = ud;
	size_t n = size * nmemb, room = sizeof(s->body) - 1 - s->body_len;
	size_t take = n < room ? n : room;

	memcpy(s->body + s->body_len, p, take);
	s->body_len += take;
	s->body[s->body_len] = '\0';
	return n;
}

static bool may_issue(const struct run *run)
{
	const struct loadgen_opts *o = run->o;

	if (o->max_requests && run->r->sent >= o->max_requests)
		return false;
	if (run->deadline_us && util_mono_us() >= run->deadline_us)
		return false;
	return true;
}

/* Arms slot s with the next body and a fresh Idempotency-Key. */
static int slot_arm(struct run *run, struct slot *s)
{
	const struct loadgen_opts *o = run->o;
	const struct loadgen_body *b = &o->bodies[run->seq % o->nbodies];
	char h[512];
	struct curl_slist *l = NULL, *t;

	curl_slist_free_all(s->hdrs);
	s->hdrs = NULL;
	l = curl_slist_append(l, "Content-Type: application/json");
	l = l ? curl_slist_append(l, "Expect:") : NULL;
	snprintf(h, sizeof(h), "Idempotency-Key: %s-%llu", o->key_prefix,
		 (unsigned long long)run->seq);
	t = l ? curl_slist_append(l, h) : NULL;
	if (t && o->token) {
		snprintf(h, sizeof(h), "Authorization: Bearer %s", o->token);
		t = curl_slist_append(t, h);
	}
	if (!t) {
		curl_slist_free_all(l);
		return UTIL_ENOMEM;
	}
	s->hdrs = t;
	s->body_len = 0;
	s->body[0] = '\0';
	s->curl_err[0] = '\0';
	curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->hdrs);
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->len);
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, b->data);
	run->seq++;
	run->r->sent++;
	s->started_us = util_mono_us();
	if (curl_multi_add_handle(run->multi, s->easy) != CURLM_OK)
		return UTIL_EINTERNAL;
	return 0;
}

static int slot_init(struct run *run, struct slot *s)
{
	s->easy = curl_easy_init();
	if (!s->easy)
		return UTIL_ENOMEM;
	curl_easy_setopt(s->easy, CURLOPT_URL, run->o->url);
	curl_easy_setopt(s->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
	curl_easy_setopt(s->easy, CURLOPT_ERRORBUFFER, s->curl_err);
	curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, run->o->timeout_ms);
	curl_easy_setopt(s->easy, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
	return 0;
}

static void note_error(struct run *run, struct slot *s, long status, CURLcode cc)
{
	struct loadgen_result *r = run->r;

	if (r->first_error[0])
		return;
	r->first_error_status = status;
	snprintf(r->first_error, sizeof(r->first_error), "%s",
		 cc != CURLE_OK ? (s->curl_err[0] ? s->curl_err : curl_easy_strerror(cc)) : s->body);
}

static void on_done(struct run *run, CURLMsg *m)
{
	struct slot *s = NULL;
	long status = 0, connects = 0;
	struct loadgen_result *r = run->r;

	curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
	curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(m->easy_handle, CURLINFO_NUM_CONNECTS, &connects);
	r->done++;
	r->connects += (uint64_t)connects;
	if (m->data.result != CURLE_OK) {
		r->transport_errors++;
		note_error(run, s, 0, m->data.result);
	} else if (status == 202) {
		r->accepted++;
		if (run->nlat < LATENCY_CAP)
			run->lat_us[run->nlat++] = (uint32_t)(util_mono_us() - s->started_us);
	} else {
		r->status_429 += status == 429;
		r->status_503 += status == 503;
		r->status_500 += status == 500;
		if ((status == 429 || status == 503) && run->nrej < LATENCY_CAP)
			run->rej_us[run->nrej++] = (uint32_t)(util_mono_us() - s->started_us);
		if (status >= 200 && status < 300)
			r->status_2xx_other++;
		else if (status >= 400 && status < 500)
			r->status_4xx++;
		else
			r->status_5xx++;
		note_error(run, s, status, CURLE_OK);
	}
	curl_multi_remove_handle(run->multi, m->easy_handle);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void percentiles(uint32_t *us, size_t n, double *p50, double *p99, double *max)
{
	if (!n)
		return;
	qsort(us, n, sizeof(uint32_t), cmp_u32);
	*p50 = us[(n - 1) * 50 / 100] / 1000.0;
	*p99 = us[(n - 1) * 99 / 100] / 1000.0;
	*max = us[n - 1] / 1000.0;
}

/* Open loop: arms every request that fell due (skipping those no idle
 * slot can take); returns the ms until the next one is due (<= 100). */
static int issue_due(struct run *run, int *running, int *rc)
{
	double rate = run->o->rate_per_s;
	int64_t now = util_mono_us();
	uint64_t due_now = (uint64_t)((double)(now - run->t0_us) * rate / 1e6) + 1;
	int64_t next_us;

	while (run->due < due_now && may_issue(run)) {
		run->due++;
		if (!run->nfree) {
			run->r->skipped++;
			continue;
		}
		*rc = slot_arm(run, run->free_slots[--run->nfree]);
		if (*rc < 0)
			return 0;
		(*running)++;
	}
	next_us = run->t0_us + (int64_t)((double)run->due * 1e6 / rate) - now;
	return next_us <= 0 ? 0 : next_us >= 100000 ? 100 : (int)((next_us + 999) / 1000);
}

/* Drives the multi handle until every slot is idle and nothing may be issued. */
static int drive(struct run *run)
{
	int running = 1, rc = 0;
	bool open = run->o->rate_per_s > 0;

	while (running > 0 || (open && may_issue(run))) {
		int wait_ms = 100;
		CURLMsg *m;
		int left;
		if (curl_multi_perform(run->multi, &running) != CURLM_OK)
			return UTIL_EINTERNAL;
		while ((m = curl_multi_info_read(run->multi, &left))) {
			struct slot *s = NULL;
			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
			on_done(run, m);
			if (open) {
				run->free_slots[run->nfree++] = s;
			} else if (may_issue(run)) {
				rc = slot_arm(run, s);
				if (rc < 0)
					return rc;
				running++;
			}
		}
		if (open) {
			wait_ms = issue_due(run, &running, &rc);
			if (rc < 0)
				return rc;
		}
		if (running > 0 || (open && may_issue(run)))
			curl_multi_poll(run->multi, NULL, 0, wait_ms, NULL);
	}
	return 0;
}

int loadgen_run(const struct loadgen_opts *o, struct loadgen_result *r, char *err, size_t errlen)
{
	struct run run = {.o = o, .r = r};
	int rc = 0;

	memset(r, 0, sizeof(*r));
	if (!o->nbodies || o->conns < 1 || o->conns > 1024)
		return util_err_set(err, errlen, UTIL_EINVAL, "need bodies and 1..1024 connections");
	run.multi = curl_multi_init();
	run.slots = calloc(o->conns, sizeof(*run.slots));
	run.lat_us = malloc(LATENCY_CAP * sizeof(uint32_t));
	run.rej_us = malloc(LATENCY_CAP * sizeof(uint32_t));
	run.free_slots = calloc(o->conns, sizeof(*run.free_slots));
	if (!run.multi || !run.slots || !run.lat_us || !run.rej_us || !run.free_slots) {
		rc = util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
		goto out;
	}
	curl_multi_setopt(run.multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
	curl_multi_setopt(run.multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)o->conns);
	curl_multi_setopt(run.multi, CURLMOPT_MAXCONNECTS, (long)o->conns);
	run.t0_us = util_mono_us();
	run.deadline_us = o->duration_s > 0 ? run.t0_us + (int64_t)(o->duration_s * 1e6) : 0;
	for (unsigned i = 0; i < o->conns; i++) {
		rc = slot_init(&run, &run.slots[i]);
		if (rc == 0 && o->rate_per_s > 0)
			run.free_slots[run.nfree++] = &run.slots[i];
		else if (rc == 0 && may_issue(&run))
			rc = slot_arm(&run, &run.slots[i]);
		if (rc < 0) {
			util_err_set(err, errlen, rc, "cannot set up connection slot %u", i);
			goto out;
		}
	}
	rc = drive(&run);
	if (rc < 0)
		util_err_set(err, errlen, rc, "curl multi loop failed");
	r->elapsed_s = (util_mono_us() - run.t0_us) / 1e6;
	percentiles(run.lat_us, run.nlat, &r->p50_ms, &r->p99_ms, &r->max_ms);
	percentiles(run.rej_us, run.nrej, &r->rej_p50_ms, &r->rej_p99_ms, &r->rej_max_ms);
out:
	for (unsigned i = 0; run.slots && i < o->conns; i++) {
		if (run.slots[i].easy) {
			curl_multi_remove_handle(run.multi, run.slots[i].easy);
			curl_easy_cleanup(run.slots[i].easy);
		}
		curl_slist_free_all(run.slots[i].hdrs);
	}
	curl_multi_cleanup(run.multi);
	free(run.slots);
	free(run.lat_us);
	free(run.rej_us);
	free(run.free_slots);
	return rc;
}
