/*
 * services/notify/worker.c - delivery workers. Each round is one transaction:
 * lock a batch of due deliveries of the worker's lane with FOR UPDATE SKIP
 * LOCKED (other workers and replicas skip them; a crashed worker's
 * transaction aborts and the rows are due again), send them (signed webhooks
 * concurrently through one curl multi handle per worker, up to
 * SIMPUL_NOTIFY_PARALLEL in flight over kept-alive connections; e-mail one
 * by one), and record every outcome, the attempt log, dead letters, flags
 * and NotificationDelivery outbox records in one statement, then commit.
 * One write per delivery on the hot path: the lock is not an UPDATE.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <simpul/v1/notification.pb-c.h>

#include "db/db.h"
#include "events/codec.h"
#include "events/meta.h"
#include "events/topics.h"
#include "metrics/metrics.h"
#include "notify.h"
#include "slog/slog.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/ids.h"

#define RESPONSE_CAP 4096
#define ERR_MAX 300

/* One webhook request in flight: its easy handle and what it borrows. */
struct slot {
	CURL *easy;
	struct curl_slist *hdr, *resolve;
	size_t seen;  /* response bytes, discarded */
	int job;      /* index into the round's jobs; -1: free */
	int64_t t0;   /* start, monotonic us */
};

struct notify_worker {
	struct notify_app *app;
	int lane;
	struct db_conn *db;
	bool async_commit; /* synchronous_commit = off applied on this session */
	CURLM *multi;      /* owns the connection cache (keep-alive) */
	struct slot *slots;
	int nslots;
	CURL *smtp;
	char producer[64];
};

/* One claimed delivery and what became of it. */
struct job {
	const char *id, *event_id, *kind, *region, *payload, *sub_id, *channel, *target;
	const char *secret, *prev_secret;
	int attempt;
	int64_t created_ms;
	/* outcome */
	const char *outcome; /* delivered, retrying, failed */
	long http_status;
	char error[ERR_MAX];
	int64_t next_ms, duration_ms;
};

int64_t notify_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms)
{
	int64_t d = base_ms;
	uint32_t r = 0;

	for (int i = 1; i < attempt && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	if (util_random_bytes(&r, sizeof(r)) != 0)
		r = 0;
	/* +-20 % jitter so retries of one outage spread out. */
	return d + (int64_t)((double)d * 0.4 * ((double)r / 4294967295.0 - 0.5));
}

static size_t discard_cb(char *p, size_t size, size_t n, void *ud)
{
	size_t *seen = ud;

	(void)p;
	*seen += size * n;
	return *seen > RESPONSE_CAP * 16 ? 0 : size * n;
}

/* webhook-signature: the current secret, and the previous one during a rotation. */
static int signatures(const struct job *j, const char *msg_id, int64_t ts, char *out,
		      size_t outlen)
{
	char a[NOTIFY_SIG_MAX], b[NOTIFY_SIG_MAX];
	size_t len = strlen(j->payload);

	if (notify_sign(j->secret, msg_id, ts, j->payload, len, a) != 0)
		return UTIL_EINVAL;
	if (j->prev_secret && j->prev_secret[0] &&
	    notify_sign(j->prev_secret, msg_id, ts, j->payload, len, b) == 0)
		snprintf(out, outlen, "%s %s", a, b);
	else
		snprintf(out, outlen, "%s", a);
	return 0;
}

/* Refusals are final; a name that does not resolve now may later. */
static bool target_ok(struct notify_worker *w, struct job *j, struct notify_url *u,
		      struct curl_slist **resolve)
{
	const struct notify_config *cfg = w->app->cfg;
	char err[256];
	int rc = notify_url_parse(j->target, cfg->require_https, cfg->allow_loopback, u, err,
				  sizeof(err));

	if (rc == 0 && !notify_ip_text_allowed(u->host, true)) {
		rc = notify_url_resolve(u, cfg->allow_loopback, err, sizeof(err));
		if (rc == 0)
			*resolve = curl_slist_append(NULL, u->pin);
	}
	if (rc == 0)
		return true;
	snprintf(j->error, sizeof(j->error), "%s", err);
	j->outcome = rc == UTIL_EUNAVAIL ? "retrying" : "failed";
	return false;
}

static void slot_reset(struct slot *s)
{
	curl_slist_free_all(s->hdr);
	curl_slist_free_all(s->resolve);
	s->hdr = s->resolve = NULL;
	s->job = -1;
}

/* Prepares j's signed request on s; false when j is decided already
 * (refused target, bad secret: outcome and error set). */
static bool webhook_begin(struct notify_worker *w, struct job *j, struct slot *s)
{
	const struct notify_config *cfg = w->app->cfg;
	struct notify_url u;
	char msg_id[48], line[400], sigs[2 * NOTIFY_SIG_MAX + 2];
	int64_t ts = notify_now_ms(cfg) / 1000;

	if (!target_ok(w, j, &u, &s->resolve))
		return false;
	snprintf(msg_id, sizeof(msg_id), "msg_%s", j->id);
	if (signatures(j, msg_id, ts, sigs, sizeof(sigs)) != 0) {
		snprintf(j->error, sizeof(j->error), "bad secret");
		j->outcome = "failed";
		return false;
	}
	s->hdr = curl_slist_append(s->hdr, "Content-Type: application/json");
	snprintf(line, sizeof(line), "webhook-id: %s", msg_id);
	s->hdr = curl_slist_append(s->hdr, line);
	snprintf(line, sizeof(line), "webhook-timestamp: %" PRId64, ts);
	s->hdr = curl_slist_append(s->hdr, line);
	snprintf(line, sizeof(line), "webhook-signature: %s", sigs);
	s->hdr = curl_slist_append(s->hdr, line);
	s->hdr = curl_slist_append(s->hdr, "User-Agent: simpul-notify/1");
	s->seen = 0;
	curl_easy_setopt(s->easy, CURLOPT_URL, j->target);
	curl_easy_setopt(s->easy, CURLOPT_RESOLVE, s->resolve);
	curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->hdr);
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, j->payload);
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(j->payload));
	curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, &s->seen);
	return true;
}

/* The outcome of a finished request. */
static void webhook_end(struct slot *s, struct job *j, CURLcode cc)
{
	if (cc != CURLE_OK) {
		snprintf(j->error, sizeof(j->error), "%s", curl_easy_strerror(cc));
		j->outcome = "retrying";
		return;
	}
	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &j->http_status);
	if (j->http_status >= 200 && j->http_status < 300) {
		j->outcome = "delivered";
	} else {
		snprintf(j->error, sizeof(j->error), "http status %ld", j->http_status);
		/* 410 Gone: the receiver says it will never want this again. */
		j->outcome = j->http_status == 410 ? "failed" : "retrying";
	}
}

struct upload {
	const char *p;
	size_t left;
};

static size_t upload_cb(char *buf, size_t size, size_t n, void *ud)
{
	struct upload *u = ud;
	size_t k = size * n < u->left ? size * n : u->left;

	memcpy(buf, u->p, k);
	u->p += k;
	u->left -= k;
	return k;
}

static void send_email(struct notify_worker *w, struct job *j)
{
	const struct notify_config *cfg = w->app->cfg;
	json_t *payload = json_loads(j->payload, 0, NULL);
	char *msg = payload ? notify_email_build(cfg->mail_from, j->target, j->id, payload) : NULL;
	struct curl_slist *rcpt = NULL;
	struct upload up = {msg, msg ? strlen(msg) : 0};
	char addr[300];
	CURLcode cc;

	json_decref(payload);
	if (!msg) {
		snprintf(j->error, sizeof(j->error), "cannot build message");
		j->outcome = "retrying";
		return;
	}
	snprintf(addr, sizeof(addr), "<%s>", j->target);
	rcpt = curl_slist_append(NULL, addr);
	snprintf(addr, sizeof(addr), "<%s>", cfg->mail_from);
	curl_easy_setopt(w->smtp, CURLOPT_URL, cfg->smtp_url);
	curl_easy_setopt(w->smtp, CURLOPT_MAIL_FROM, addr);
	curl_easy_setopt(w->smtp, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(w->smtp, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(w->smtp, CURLOPT_READFUNCTION, upload_cb);
	curl_easy_setopt(w->smtp, CURLOPT_READDATA, &up);
	curl_easy_setopt(w->smtp, CURLOPT_INFILESIZE, (long)up.left);
	cc = curl_easy_perform(w->smtp);
	if (cc == CURLE_OK) {
		j->outcome = "delivered";
	} else {
		long code = 0;
		curl_easy_getinfo(w->smtp, CURLINFO_RESPONSE_CODE, &code);
		j->http_status = code;
		snprintf(j->error, sizeof(j->error), "smtp: %s (%ld)", curl_easy_strerror(cc), code);
		/* 5xx from the server for the recipient is final. */
		j->outcome = code >= 500 && code < 600 ? "failed" : "retrying";
	}
	curl_slist_free_all(rcpt);
	free(msg);
}

static bool is_email(const struct job *j)
{
	return strcmp(j->channel, "email") == 0;
}

/* Timing, metrics, and for a failed try: the next attempt or the dead letter. */
static void job_finish(struct notify_worker *w, struct job *j, int64_t t0)
{
	const struct notify_config *cfg = w->app->cfg;
	const char *ch = is_email(j) ? "email" : "webhook";
	int64_t us = util_mono_us() - t0;

	j->duration_ms = us / 1000;
	metrics_histogram_observe(w->app->m.send_seconds, (const char *const[]){ch},
				  (double)us / 1e6);
	if (!strcmp(j->outcome, "retrying")) {
		int64_t age = notify_now_ms(cfg) - j->created_ms;
		j->next_ms = notify_backoff_ms(j->attempt, cfg->retry_base_ms, cfg->retry_max_ms);
		if (j->attempt >= cfg->max_attempts || age + j->next_ms > cfg->retry_window_ms)
			j->outcome = "failed";
	}
	metrics_counter_inc(w->app->m.deliveries, (const char *const[]){ch, j->outcome});
	if (!strcmp(j->outcome, "failed"))
		slog_warn("delivery dead-lettered", "delivery=%s subscription=%s attempts=%d err=\"%s\"",
			  j->id, j->sub_id, j->attempt, j->error);
}

/* The NotificationDelivery record of a final outcome, hex, and its headers (JSON). */
static int record(struct notify_worker *w, const struct job *j, struct util_buf *hex,
		  char **headers)
{
	Simpul__V1__NotificationDelivery nd = SIMPUL__V1__NOTIFICATION_DELIVERY__INIT;
	struct events_meta_buf mb;
	struct util_buf out;
	char err[128], occurred[24];
	int rc;

	if (events_meta_init(&mb, "notification.delivery", w->producer, NULL, err, sizeof(err)))
		return UTIL_EINVAL;
	nd.meta = &mb.meta;
	nd.delivery_id = (char *)j->id;
	nd.subscription_id = (char *)j->sub_id;
	nd.source_event_id = (char *)j->event_id;
	nd.channel = (char *)j->channel;
	nd.kind = (char *)j->kind;
	nd.outcome = j->outcome[0] == 'd' ? SIMPUL__V1__DELIVERY_OUTCOME__DELIVERY_OUTCOME_DELIVERED
					  : SIMPUL__V1__DELIVERY_OUTCOME__DELIVERY_OUTCOME_FAILED;
	nd.attempts = j->attempt;
	nd.region_code = (char *)j->region;
	nd.at_ms = notify_now_ms(w->app->cfg);
	nd.error = (char *)j->error;
	util_buf_init(&out, 0);
	rc = events_pack(&nd.base, 0, &out, err, sizeof(err));
	if (!rc) {
		char *h = malloc(out.len * 2 + 1);
		if (!h)
			rc = UTIL_ENOMEM;
		else
			util_hex((const unsigned char *)out.data, out.len, h);
		rc = rc ? rc : util_buf_append(hex, h, out.len * 2);
		free(h);
	}
	util_buf_release(&out);
	snprintf(occurred, sizeof(occurred), "%" PRId64, mb.meta.occurred_at_ms);
	*headers = NULL;
	if (!rc) {
		json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s}", EVENTS_HEADER_EVENT_ID, mb.id,
				      EVENTS_HEADER_EVENT_TYPE, mb.type, EVENTS_HEADER_OCCURRED_AT,
				      occurred, EVENTS_HEADER_PRODUCER, mb.producer,
				      EVENTS_HEADER_TRACE_ID, mb.trace_id);
		*headers = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
	}
	return rc ? rc : (*headers ? 0 : UTIL_ENOMEM);
}

static const char claim_sql[] =
	"SELECT d.id, d.event_id, d.kind, d.region_code, d.payload::text AS payload, "
	"d.attempts + 1 AS attempts, (extract(epoch FROM d.created_at) * 1000)::bigint AS created_ms, "
	"s.id AS sub_id, s.channel, s.target, s.secret, "
	"CASE WHEN s.prev_secret_until > $3::timestamptz THEN s.prev_secret END AS prev_secret "
	"FROM simpul.notify_deliveries d JOIN simpul.notify_subscriptions s "
	"ON s.id = d.subscription_id WHERE d.realm = $1 AND d.lane = $2::smallint "
	"AND d.status = 'pending' AND d.next_attempt_at <= $3::timestamptz "
	"ORDER BY d.next_attempt_at LIMIT $4 FOR UPDATE OF d SKIP LOCKED";

/* Results, attempt log, dead letters, flags and records: one statement. */
static const char store_sql[] =
	"WITH r AS (SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], "
	"$5::bigint[], $6::int[]) AS r(id, outcome, http_status, error, next_ms, duration_ms)), "
	"a AS (INSERT INTO simpul.notify_attempts (delivery_id, attempt, http_status, error, "
	"duration_ms) SELECT r.id, d.attempts + 1, r.http_status, r.error, r.duration_ms "
	"FROM r JOIN simpul.notify_deliveries d ON d.id = r.id "
	"WHERE r.outcome <> 'delivered' OR d.attempts > 0 ON CONFLICT DO NOTHING), "
	"u AS (UPDATE simpul.notify_deliveries d SET attempts = d.attempts + 1, "
	"status = CASE r.outcome WHEN 'retrying' "
	"THEN 'pending' ELSE r.outcome END, "
	"delivered_at = CASE WHEN r.outcome = 'delivered' THEN now() ELSE d.delivered_at END, "
	"last_status = r.http_status, last_error = r.error, "
	"next_attempt_at = CASE WHEN r.outcome = 'retrying' THEN $7::timestamptz + "
	"make_interval(secs => r.next_ms / 1000.0) ELSE d.next_attempt_at END "
	"FROM r WHERE d.id = r.id RETURNING d.id, d.subscription_id, d.attempts, r.outcome, r.error), "
	"dl AS (INSERT INTO simpul.notify_dead_letters (delivery_id, subscription_id, attempts, "
	"last_error) SELECT id, subscription_id, attempts, error FROM u WHERE outcome = 'failed' "
	"ON CONFLICT (delivery_id) DO UPDATE SET attempts = EXCLUDED.attempts, "
	"last_error = EXCLUDED.last_error, created_at = now()), "
	"fl AS (UPDATE simpul.notify_subscriptions s SET flagged_at = now(), "
	"flag_reason = 'dead letter: ' || coalesce(u.error, '') FROM u "
	"WHERE u.outcome = 'failed' AND s.id = u.subscription_id) "
	"INSERT INTO simpul.outbox (topic, msg_key, payload, headers) "
	"SELECT '" EVENTS_TOPIC_NOTIFICATION "', o.k, decode(o.rec, 'hex'), o.h::jsonb "
	"FROM unnest($8::text[], $9::text[], $10::text[]) AS o(k, rec, h)";

struct arrays {
	struct util_buf v[10];
};

static int arrays_open(struct arrays *a)
{
	int rc = 0;

	for (int i = 0; i < 10; i++) {
		util_buf_init(&a->v[i], 64u << 20);
		rc = rc ? rc : util_buf_append_str(&a->v[i], "{");
	}
	return rc;
}

static void arrays_release(struct arrays *a)
{
	for (int i = 0; i < 10; i++)
		util_buf_release(&a->v[i]);
}

static int arrays_add(struct notify_worker *w, struct arrays *a, const struct job *j)
{
	char st[16], nx[24], du[16];
	int rc;

	snprintf(st, sizeof(st), "%ld", j->http_status);
	snprintf(nx, sizeof(nx), "%" PRId64, j->next_ms);
	snprintf(du, sizeof(du), "%" PRId64, j->duration_ms);
	rc = notify_lit_push(&a->v[0], j->id) || notify_lit_push(&a->v[1], j->outcome) ||
	     notify_lit_push(&a->v[2], j->http_status ? st : NULL) ||
	     notify_lit_push(&a->v[3], j->error[0] ? j->error : NULL) ||
	     notify_lit_push(&a->v[4], nx) || notify_lit_push(&a->v[5], du);
	if (!rc && w->app->cfg->records && strcmp(j->outcome, "retrying") != 0) {
		struct util_buf hex;
		char *headers = NULL;

		util_buf_init(&hex, 0);
		rc = record(w, j, &hex, &headers) || util_buf_append(&hex, "", 1) ||
		     notify_lit_push(&a->v[7], j->sub_id) || notify_lit_push(&a->v[8], hex.data) ||
		     notify_lit_push(&a->v[9], headers);
		util_buf_release(&hex);
		free(headers);
	}
	return rc ? UTIL_ENOMEM : 0;
}

static int store(struct notify_worker *w, struct job *jobs, int n, char *err, size_t errlen)
{
	struct arrays a;
	char now[40];
	int rc = arrays_open(&a);

	for (int i = 0; !rc && i < n; i++)
		rc = arrays_add(w, &a, &jobs[i]);
	for (int i = 0; !rc && i < 10; i++)
		rc = i == 6 ? 0 : util_buf_append_str(&a.v[i], "}");
	notify_ts_param(notify_now_ms(w->app->cfg), now);
	if (!rc) {
		const char *v[] = {a.v[0].data, a.v[1].data, a.v[2].data, a.v[3].data, a.v[4].data,
				   a.v[5].data, now, a.v[7].data, a.v[8].data, a.v[9].data};
		rc = db_exec(w->db, store_sql, 10, v, NULL, NULL, err, errlen);
	}
	arrays_release(&a);
	return rc;
}

static void job_from_row(struct job *j, PGresult *res, int i)
{
	memset(j, 0, sizeof(*j));
	j->id = db_value(res, i, "id");
	j->event_id = db_value(res, i, "event_id");
	j->kind = db_value(res, i, "kind");
	j->region = db_value(res, i, "region_code");
	j->payload = db_value(res, i, "payload");
	j->sub_id = db_value(res, i, "sub_id");
	j->channel = db_value(res, i, "channel");
	j->target = db_value(res, i, "target");
	j->secret = db_value(res, i, "secret");
	j->prev_secret = db_value(res, i, "prev_secret");
	j->attempt = atoi(db_value(res, i, "attempts"));
	j->created_ms = strtoll(db_value(res, i, "created_ms"), NULL, 10);
}

/*
 * Starts job j: e-mail is sent here and now; a webhook goes to a free slot of
 * the multi handle (true: in flight) unless it is decided before sending.
 */
static bool job_start(struct notify_worker *w, struct job *j, int idx, struct slot *s)
{
	int64_t t0 = util_mono_us();

	j->outcome = "retrying";
	if (is_email(j)) {
		send_email(w, j);
	} else if (webhook_begin(w, j, s)) {
		s->job = idx;
		s->t0 = t0;
		if (curl_multi_add_handle(w->multi, s->easy) == CURLM_OK)
			return true;
		snprintf(j->error, sizeof(j->error), "cannot start request");
	}
	slot_reset(s);
	job_finish(w, j, t0);
	return false;
}

/* Drives the transfers in flight; finishes those that are done. */
static void progress(struct notify_worker *w, struct job *jobs, int *active)
{
	int running = 0, left = 0;
	CURLMsg *m;

	curl_multi_perform(w->multi, &running);
	while ((m = curl_multi_info_read(w->multi, &left)) != NULL) {
		struct slot *s = NULL;
		CURLcode cc = m->data.result;
		CURL *e = m->easy_handle;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&s);
		curl_multi_remove_handle(w->multi, e);
		webhook_end(s, &jobs[s->job], cc);
		job_finish(w, &jobs[s->job], s->t0);
		slot_reset(s);
		(*active)--;
	}
	if (*active > 0)
		curl_multi_poll(w->multi, NULL, 0, 100, NULL);
}

/*
 * Sends the claimed jobs, up to nslots webhooks at once, until all are done
 * or the round's time is up (no new request starts then; those in flight
 * finish within the total timeout). Returns how many were sent: a prefix of
 * jobs, the rest stay pending and due for the next round.
 */
static int send_all(struct notify_worker *w, struct job *jobs, PGresult *res, int n)
{
	int64_t deadline = util_mono_us() + w->app->cfg->lease_ms * 1000;
	int next = 0, active = 0;

	for (;;) {
		for (int k = 0; k < w->nslots && next < n && util_mono_us() < deadline; k++) {
			if (w->slots[k].job >= 0)
				continue;
			job_from_row(&jobs[next], res, next);
			/* An e-mail is sent synchronously: start it only with no
			 * transfer in flight, else their timers run out while it
			 * blocks and delivered webhooks count as timed out. */
			if (is_email(&jobs[next]) && active > 0)
				break;
			if (job_start(w, &jobs[next], next, &w->slots[k]))
				active++;
			next++;
		}
		if (active == 0 && (next >= n || util_mono_us() >= deadline))
			break;
		if (active > 0)
			progress(w, jobs, &active);
	}
	return next;
}

/* One round: claim, send, store, commit. Returns how many were claimed, or < 0. */
static int round_once(struct notify_worker *w)
{
	const struct notify_config *cfg = w->app->cfg;
	char now[40], lane[4], lim[16], err[512];
	PGresult *res = NULL;
	struct job *jobs = NULL;
	int64_t t0 = util_mono_us(), t1, t2;
	int n = -1, sent = 0, rc;

	/*
	 * Outcomes may be committed without waiting for the WAL flush: a crash
	 * can forget the last few hundred ms of outcomes, which are then sent
	 * again with the same webhook-id (at-least-once, as after any crash).
	 * Matching (the consumer) keeps synchronous commits.
	 */
	if (!w->async_commit)
		w->async_commit = db_exec(w->db, "SET synchronous_commit = off", 0, NULL, NULL,
					  NULL, err, sizeof(err)) == 0;
	notify_ts_param(notify_now_ms(cfg), now);
	snprintf(lane, sizeof(lane), "%d", w->lane);
	snprintf(lim, sizeof(lim), "%" PRId64, cfg->claim_batch);
	rc = db_begin(w->db, err, sizeof(err));
	if (rc == 0)
		rc = db_exec(w->db, claim_sql, 4, (const char *const[]){cfg->realm, lane, now, lim},
			     NULL, &res, err, sizeof(err));
	if (rc != 0) {
		slog_warn("claim failed", "lane=%d err=\"%s\"", w->lane, err);
		w->async_commit = false; /* a new session after a reconnect */
		goto out;
	}
	n = PQntuples(res);
	jobs = n ? calloc((size_t)n, sizeof(*jobs)) : NULL;
	if (n && !jobs) {
		n = -1;
		goto out;
	}
	t1 = util_mono_us();
	sent = send_all(w, jobs, res, n);
	t2 = util_mono_us();
	/* If this fails the transaction aborts and the rows are due again:
	 * at-least-once, with the same webhook-id. */
	if (sent && (rc = store(w, jobs, sent, err, sizeof(err))) != 0)
		slog_error("storing results failed", "n=%d err=\"%s\"", sent, err);
	if (rc == 0 && (rc = db_commit(w->db, err, sizeof(err))) != 0)
		slog_error("committing results failed", "n=%d err=\"%s\"", sent, err);
	if (n)
		slog_debug("delivery round", "lane=%d n=%d sent=%d claim_ms=%lld send_ms=%lld "
			   "store_ms=%lld", w->lane, n, sent, (long long)(t1 - t0) / 1000,
			   (long long)(t2 - t1) / 1000, (long long)(util_mono_us() - t2) / 1000);
out:
	if (db_in_transaction(w->db))
		db_rollback(w->db, NULL, 0);
	free(jobs);
	PQclear(res);
	return n;
}

void *notify_worker_main(void *arg)
{
	struct notify_worker *w = arg;
	struct notify_app *app = w->app;

	while (!app->stop) {
		int n = round_once(w);

		if (n < (int)app->cfg->claim_batch)
			for (int64_t t = 0; t < app->cfg->poll_ms && !app->stop; t += 10)
				usleep(10000);
	}
	return NULL;
}

static CURL *easy_new(const struct notify_config *cfg, bool http)
{
	CURL *c = curl_easy_init();

	if (!c)
		return NULL;
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)cfg->timeout_ms);
	if (http) {
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, cfg->require_https ? "https" : "http,https");
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_cb);
	} else {
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	}
	return c;
}

/* The worker's multi handle and its slots, one easy handle each. */
static int slots_new(struct notify_worker *w)
{
	int n = (int)w->app->cfg->parallel;

	w->multi = curl_multi_init();
	w->slots = calloc((size_t)n, sizeof(*w->slots));
	if (!w->multi || !w->slots)
		return UTIL_ENOMEM;
	/* Keep a connection per slot (and some) open between rounds; without
	 * this the cache follows the handles added at the moment. */
	curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, (long)n * 2);
	w->nslots = n;
	for (int k = 0; k < n; k++) {
		w->slots[k].job = -1;
		w->slots[k].easy = easy_new(w->app->cfg, true);
		if (!w->slots[k].easy)
			return UTIL_ENOMEM;
		curl_easy_setopt(w->slots[k].easy, CURLOPT_PRIVATE, &w->slots[k]);
	}
	return 0;
}

struct notify_worker *notify_workers_new(struct notify_app *app, int n, char *err, size_t errlen)
{
	struct db_conn_opts opts = {.application_name = "simpul-notify-worker",
				    .statement_timeout_ms = 30000,
				    .allow_down = true};
	struct notify_worker *ws = calloc((size_t)n, sizeof(*ws));
	char host[64] = "";

	if (!ws)
		return NULL;
	gethostname(host, sizeof(host) - 1);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	for (int i = 0; i < n; i++) {
		struct notify_worker *w = &ws[i];

		w->app = app;
		w->lane = i < app->cfg->workers ? 0 : 1;
		snprintf(w->producer, sizeof(w->producer), "notify@%.40s", host);
		w->db = db_conn_new_opts(app->cfg->pg_url, &opts, err, errlen);
		w->smtp = easy_new(app->cfg, false);
		if (!w->db || !w->smtp || slots_new(w) != 0) {
			notify_workers_free(ws, n);
			return NULL;
		}
	}
	return ws;
}

struct notify_worker *notify_worker_at(struct notify_worker *w, int i)
{
	return &w[i];
}

void notify_workers_free(struct notify_worker *w, int n)
{
	if (!w)
		return;
	for (int i = 0; i < n; i++) {
		db_conn_free(w[i].db);
		if (w[i].multi)
			curl_multi_cleanup(w[i].multi);
		for (int k = 0; w[i].slots && k < w[i].nslots; k++)
			if (w[i].slots[k].easy)
				curl_easy_cleanup(w[i].slots[k].easy);
		free(w[i].slots);
		if (w[i].smtp)
			curl_easy_cleanup(w[i].smtp);
	}
	free(w);
}
