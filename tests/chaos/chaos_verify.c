/*
 * tests/chaos/chaos_verify.c - drain wait and the end checks of the fault
 * suite (see chaos_verify.h). Every check prints its count; a check that
 * fails says FAIL on its line.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "chaos_verify.h"
#include "nt.h"
#include "webhook_sig.h"

#define MAX_HOOKS 20000 /* nt_receiver's record size */

static int failures;

static void line(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("chaos: %-4s ", ok ? "ok" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	failures += !ok;
}

/* A count with the KIM id as $1; reconnects once when the server was
 * restarted under the connection. -1 on error. */
static long long q(const struct chaos_verify_in *in, const char *sql)
{
	const char *p[] = {in->kim_id};
	long long v = ts_pg_count(*in->pg, sql, 1, p);

	if (v < 0 && PQstatus(*in->pg) != CONNECTION_OK) {
		PQreset(*in->pg);
		v = ts_pg_count(*in->pg, sql, 1, p);
	}
	return v;
}

static const char sql_rows[] = "SELECT count(*) FROM simpul.content WHERE kim_id = $1::uuid";
static const char sql_decided[] =
	"SELECT count(*) FROM simpul.moderation_items WHERE kind = 'content' AND kim_id = $1::uuid";
static const char sql_approved[] =
	"SELECT count(*) FROM simpul.moderation_items WHERE kind = 'content' AND kim_id = $1::uuid "
	"AND state = 'approved'";
static const char sql_rejected[] =
	"SELECT count(*) FROM simpul.moderation_items WHERE kind = 'content' AND kim_id = $1::uuid "
	"AND state = 'rejected'";
static const char sql_indexed[] =
	"SELECT count(*) FROM simpul.search_docs WHERE kim_id = $1::uuid AND NOT withdrawn";
static const char sql_reported[] =
	"SELECT count(*) FROM simpul.report_content c JOIN simpul.report_state s "
	"ON c.gen = s.current_gen WHERE c.kim_id = $1::uuid AND c.has_submitted";
static const char sql_rep_approved[] =
	"SELECT count(*) FROM simpul.report_content c JOIN simpul.report_state s "
	"ON c.gen = s.current_gen WHERE c.kim_id = $1::uuid AND c.decision = 'approved'";
static const char sql_rep_rejected[] =
	"SELECT count(*) FROM simpul.report_content c JOIN simpul.report_state s "
	"ON c.gen = s.current_gen WHERE c.kim_id = $1::uuid AND c.decision = 'rejected'";

/* How many approved items carry the hook word: the webhooks we expect. */
static long long expected_hooks(const struct chaos_verify_in *in)
{
	const char *p[] = {in->kim_id, in->hook_word};

	return ts_pg_count(*in->pg,
			   "SELECT count(*) FROM simpul.content c JOIN simpul.moderation_items m "
			   "ON m.item_id = c.id AND m.version = c.version WHERE c.kim_id = $1::uuid "
			   "AND m.state = 'approved' AND position($2 in c.body) > 0",
			   2, p);
}

/* Distinct content ids among answered-200 deliveries under our prefix. */
struct hook {
	char cid[40];
	char wid[64];
	bool sig_ok;
};

static int cmp_hook(const void *a, const void *b)
{
	const struct hook *x = a, *y = b;
	int c = strcmp(x->cid, y->cid);

	return c ? c : strcmp(x->wid, y->wid);
}

/* Fills *out (malloc'd, sorted by content then webhook id) from the
 * receiver's record; returns how many 200 hits there were. */
static size_t collect_hooks(const struct chaos_verify_in *in, struct hook **out)
{
	struct nt_hit *hits = calloc(MAX_HOOKS, sizeof(*hits));
	struct hook *h = calloc(MAX_HOOKS, sizeof(*h));
	size_t n, k = 0;

	if (!hits || !h)
		abort();
	n = nt_hits(in->hook_prefix, hits, MAX_HOOKS);
	for (size_t i = 0; i < n && i < MAX_HOOKS; i++) {
		json_t *b;
		const char *cid;

		if (hits[i].status != 200)
			continue;
		b = json_loadb(hits[i].body, hits[i].body_len, 0, NULL);
		cid = json_string_value(json_object_get(json_object_get(b, "data"), "content_id"));
		snprintf(h[k].cid, sizeof(h[k].cid), "%s", cid ? cid : "?");
		snprintf(h[k].wid, sizeof(h[k].wid), "%s", hits[i].id);
		h[k].sig_ok = webhook_sig_ok(in->secret, hits[i].id, hits[i].ts, hits[i].body,
					     hits[i].body_len, hits[i].sig);
		json_decref(b);
		k++;
	}
	free(hits);
	qsort(h, k, sizeof(*h), cmp_hook);
	*out = h;
	return k;
}

/* Distinct content ids in hooks[0..n). */
static size_t distinct_cids(const struct hook *h, size_t n)
{
	size_t d = 0;

	for (size_t i = 0; i < n; i++)
		d += i == 0 || strcmp(h[i].cid, h[i - 1].cid) != 0;
	return d;
}

struct drain {
	long long rows, decided, approved, rejected, indexed, reported, rep_appr, rep_rej, hooks_want;
	size_t hooks_got;
};

static void snapshot(const struct chaos_verify_in *in, struct drain *d)
{
	struct hook *h = NULL;
	size_t n;

	d->rows = q(in, sql_rows);
	d->decided = q(in, sql_decided);
	d->approved = q(in, sql_approved);
	d->rejected = q(in, sql_rejected);
	d->indexed = q(in, sql_indexed);
	d->reported = q(in, sql_reported);
	d->rep_appr = q(in, sql_rep_approved);
	d->rep_rej = q(in, sql_rep_rejected);
	d->hooks_want = expected_hooks(in);
	n = collect_hooks(in, &h);
	d->hooks_got = distinct_cids(h, n);
	free(h);
}

static bool drained(const struct drain *d)
{
	return d->rows >= 0 && d->decided == d->rows && d->indexed == d->approved &&
	       d->reported == d->rows && d->rep_appr == d->approved &&
	       d->rep_rej == d->rejected && d->hooks_want >= 0 &&
	       (long long)d->hooks_got == d->hooks_want;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The KIM's content ids, sorted (for bsearch with cmp_str); *r owns them. */
static char **kim_ids(const struct chaos_verify_in *in, PGresult **r, size_t *n)
{
	const char *p[] = {in->kim_id};
	char err[512], **ids;

	*n = 0;
	*r = ts_pg_query(*in->pg, "SELECT id::text FROM simpul.content WHERE kim_id = $1::uuid", 1,
			 p, err, sizeof(err));
	if (!*r) {
		fprintf(stderr, "chaos: %s\n", err);
		return NULL;
	}
	*n = (size_t)PQntuples(*r);
	ids = calloc(*n ? *n : 1, sizeof(*ids));
	if (!ids)
		abort();
	for (size_t i = 0; i < *n; i++)
		ids[i] = PQgetvalue(*r, (int)i, 0);
	qsort(ids, *n, sizeof(*ids), cmp_str);
	return ids;
}

/* Checks 1: accepted ids all present once; titles unique. */
static void check_postgres(const struct chaos_verify_in *in, long long rows)
{
	const struct chaos_load *l = in->load;
	size_t nids = 0, accepted = 0, missing = 0, gave_up = 0;
	PGresult *r = NULL;
	char **ids = kim_ids(in, &r, &nids);
	long long dup_titles;

	for (size_t i = 0; i < l->cfg.items; i++) {
		const char *id = l->items[i].id;

		gave_up += l->items[i].state == CHAOS_GAVE_UP;
		if (l->items[i].state != CHAOS_ACCEPTED)
			continue;
		accepted++;
		if (!ids || !bsearch(&id, ids, nids, sizeof(*ids), cmp_str))
			missing++;
	}
	dup_titles = q(in, "SELECT count(*) FROM (SELECT title FROM simpul.content WHERE "
			   "kim_id = $1::uuid GROUP BY title HAVING count(*) > 1) d");
	printf("chaos: load: %zu accepted (202) of %zu submitted, %zu requests, %zu retried, "
	       "%zu gave up\n",
	       accepted, accepted + gave_up, atomic_load(&l->requests), atomic_load(&l->retries),
	       gave_up);
	line(r && missing == 0, "postgres: %zu of %zu accepted submissions present (%zu missing)",
	     accepted - missing, accepted, missing);
	line(dup_titles == 0 && rows >= (long long)accepted,
	     "postgres: %lld rows, %lld submitted twice (exactly once: 0); %lld committed "
	     "without a 202 seen by the client",
	     rows, dup_titles, rows - (long long)accepted);
	free(ids);
	PQclear(r);
}

/* Per key of a topic reader, among the keys in ids[0..nids) (this run's
 * items; the topic also carries earlier runs'): distinct simpul-event-id
 * values. Returns the number of keys, the largest number of distinct ids
 * of one key in *maxd, the re-sent copies (same event id again) in *copies
 * and this run's messages in *total. */
static size_t topic_keys(struct ts_reader *rd, char **ids, size_t nids, size_t *maxd,
			 size_t *copies, size_t *total)
{
	const struct ts_kmsg *m;
	size_t n, keys = 0, k = 0;
	char **kv;

	ts_reader_poll(rd, 1000);
	m = ts_reader_msgs(rd, &n);
	*maxd = 0;
	*copies = 0;
	kv = calloc(n ? n : 1, sizeof(*kv));
	if (!kv)
		abort();
	for (size_t i = 0; i < n; i++) {
		const char *e = ts_kmsg_header(&m[i], "simpul-event-id");
		const char *key = m[i].key;

		if (!ids || !bsearch(&key, ids, nids, sizeof(*ids), cmp_str))
			continue;
		if (asprintf(&kv[k++], "%s %s", key, e ? e : "-") < 0)
			abort();
	}
	n = k;
	*total = n;
	qsort(kv, n, sizeof(*kv), cmp_str);
	for (size_t i = 0, d = 0; i < n; i++) {
		size_t klen = strcspn(kv[i], " ");
		bool new_key = i == 0 || strncmp(kv[i], kv[i - 1], klen + 1) != 0;

		if (new_key) {
			keys++;
			d = 0;
		}
		if (i > 0 && !strcmp(kv[i], kv[i - 1]))
			(*copies)++;
		else
			d++;
		if (d > *maxd)
			*maxd = d;
	}
	for (size_t i = 0; i < n; i++)
		free(kv[i]);
	free(kv);
	return keys;
}

/* GET with a token; a 5xx or no answer is retried for up to 30 s (a
 * service may still be reconnecting after the faults). */
static json_t *get_json(const struct chaos_verify_in *in, enum pl_svc s, const char *path,
			const char *token, long *st)
{
	int64_t end = ts_now_ms() + 30000;
	json_t *j;

	for (;;) {
		j = pl_json(in->pl, s, "GET", path, token, NULL, st);
		if ((*st > 0 && *st < 500) || ts_now_ms() > end)
			return j;
		fprintf(stderr, "chaos: GET %s: status %ld, retrying\n", path, *st);
		json_decref(j);
		ts_sleep_ms(1000);
	}
}

int chaos_verify(const struct chaos_verify_in *in)
{
	PGresult *idr = NULL;
	char **ids;
	size_t nids;
	struct drain d = {0};
	int64_t t0 = ts_now_ms(), end = t0 + in->drain_ms, last_print = 0;
	struct hook *h = NULL;
	size_t nh, bad_sig = 0, multi = 0, resent = 0;
	long st;
	json_t *j;
	char path[256];
	long long http_total, kim_pub;

	failures = 0;
	for (;;) {
		snapshot(in, &d);
		if (drained(&d))
			break;
		if (ts_now_ms() > end)
			break;
		if (ts_now_ms() - last_print >= 10000) {
			printf("chaos: draining %3llds: rows %lld decided %lld approved %lld indexed %lld "
			       "reported %lld (approved %lld) webhooks %zu/%lld\n",
			       (long long)(ts_now_ms() - t0) / 1000, d.rows, d.decided, d.approved,
			       d.indexed, d.reported, d.rep_appr, d.hooks_got, d.hooks_want);
			fflush(stdout);
			last_print = ts_now_ms();
		}
		ts_sleep_ms(1000);
	}
	printf("chaos: drained in %.1f s%s\n", (double)(ts_now_ms() - t0) / 1000.0,
	       drained(&d) ? "" : " (NOT drained: time limit)");
	check_postgres(in, d.rows);
	line(d.decided == d.rows,
	     "moderation: %lld of %lld rows have a decision (approved %lld, review %lld, "
	     "rejected %lld); one per item: primary key (item_id, version)",
	     d.decided, d.rows, d.approved, d.decided - d.approved - d.rejected, d.rejected);
	ids = kim_ids(in, &idr, &nids);
	if (in->moderated) {
		size_t maxd, copies, total;
		size_t keys = topic_keys(in->moderated, ids, nids, &maxd, &copies, &total);

		line((long long)keys == d.rows && maxd == 1,
		     "moderation: %s has %zu keys for %lld rows, at most %zu distinct decision "
		     "event(s) per item (want 1), %zu messages, %zu re-sent copies (same event id)",
		     "kim.content.moderated.v1", keys, d.rows, maxd, total, copies);
	}
	line(d.indexed == d.approved, "search: %lld of %lld approved items indexed", d.indexed,
	     d.approved);
	snprintf(path, sizeof(path), "/v1/search?kim=%s&limit=1", in->kim_id);
	j = get_json(in, PL_SEARCH, path, NULL, &st);
	http_total = st == 200 ? json_integer_value(json_object_get(j, "total")) : -1;
	json_decref(j);
	line(http_total == d.approved,
	     "search: GET /v1/search?kim=... status %ld, total %lld (want %lld)", st, http_total,
	     d.approved);
	if (in->indexed) {
		size_t maxd, copies, total;
		size_t keys = topic_keys(in->indexed, ids, nids, &maxd, &copies, &total);

		line((long long)keys == d.approved && maxd == 1,
		     "search: %s has %zu keys for %lld approved, at most %zu distinct event(s) per "
		     "item, %zu re-sent copies",
		     "kim.content.indexed.v1", keys, d.approved, maxd, copies);
	}
	line(d.reported == d.rows && d.rep_appr == d.approved && d.rep_rej == d.rejected,
	     "report: %lld of %lld rows counted (once each: one fact row per item, events "
	     "deduplicated by id); approved %lld (want %lld), rejected %lld (want %lld)",
	     d.reported, d.rows, d.rep_appr, d.approved, d.rep_rej, d.rejected);
	snprintf(path, sizeof(path), "/v1/reports/kims/%s", in->kim_id);
	j = get_json(in, PL_REPORT, path, in->admin_token, &st);
	kim_pub = st == 200 ? json_integer_value(json_object_get(j, "published_30d")) : -1;
	json_decref(j);
	line(kim_pub == d.approved,
	     "report: GET /v1/reports/kims/... status %ld, published_30d %lld (want %lld)", st,
	     kim_pub, d.approved);
	nh = collect_hooks(in, &h);
	for (size_t i = 0, run = 0; i < nh; i++) {
		bool same_cid = i > 0 && !strcmp(h[i].cid, h[i - 1].cid);
		bool same_wid = same_cid && !strcmp(h[i].wid, h[i - 1].wid);

		bad_sig += !h[i].sig_ok;
		if (same_wid)
			resent++;
		else if (same_cid && ++run == 1)
			multi++; /* a second distinct webhook for one content item */
		if (!same_cid)
			run = 0;
	}
	/* no expected webhook at all would make this check empty */
	line((long long)distinct_cids(h, nh) == d.hooks_want && d.hooks_want > 0 && multi == 0 &&
		     bad_sig == 0,
	     "notify: %zu of %lld expected webhooks delivered, %zu items with more than one "
	     "webhook id (want 0), %zu re-sent with the same webhook id, %zu bad signatures",
	     distinct_cids(h, nh), d.hooks_want, multi, resent, bad_sig);
	free(h);
	free(ids);
	PQclear(idr);
	return failures;
}
