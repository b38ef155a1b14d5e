/*
 * services/report/tests/report_integration_test.c - the reporting service
 * against the real stack: a synthetic event stream with known totals is
 * produced with libs/kafka (shuffled, with duplicates, decisions before
 * submissions, an appeal whose later version arrives first, registrations
 * and deliveries out of order, one poison record), then:
 *   - totals at every region level (desa, kecamatan, kabupaten, province,
 *     national) and per type, decision-time p50/p90, children lists,
 *     registrations by status, notifications by outcome, KIM activity and
 *     coverage over the HTTP dashboard;
 *   - tiered scopes (a kabupaten moderator, analysts read-only, 401/403);
 *   - the same stream replayed leaves every total unchanged;
 *   - the region-daily report topic carries the same totals;
 *   - with --python PY SCRIPT: the Python example consumer reads the report
 *     topic and checks it against the HTTP API.
 * Every run uses a random past day and a fresh synthetic province code for
 * the KIM part, so runs never see each other's numbers.
 *
 * usage: report_integration_test SIMPUL_REPORT_BIN [--python PY SCRIPT GENDIR]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <simpul/v1/content.pb-c.h>
#include <simpul/v1/moderation.pb-c.h>
#include <simpul/v1/notification.pb-c.h>
#include <simpul/v1/registry.pb-c.h>
#include <simpul/v1/report.pb-c.h>

#include "events/codec.h"
#include "events/meta.h"
#include "events/topics.h"
#include "report_stack.h"
#include "util/ids.h"

#define NITEMS 120
#define NREG 5
static char group[64];

static int failures;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			failures++;                                                                \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                       \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
		}                                                                                  \
	} while (0)

static const char *const regions[NREG] = {"35.07.12.2001", "35.07.12.2002", "35.07.13.2001",
					  "35.08.01.2001", "11.01.01.2001"};

/* One synthetic event, kept packed so it can be produced again (replay). */
struct ev {
	const char *topic;
	char key[40];
	void *data;
	size_t len;
	struct events_meta_buf mb;
};

struct model {
	char day[11];
	int64_t day_ms; /* 10:00 WIB that day */
	struct ev *evs;
	size_t nevs, cap;
	/* expected per region index and type: submitted, approved, rejected */
	long sub[NREG][3], app[NREG][3], rej[NREG][3];
	long dec_ms[NITEMS]; /* decision time per item, -1 if pending */
	int item_region[NITEMS];
	char prov[3];        /* synthetic province for the KIM part */
	char kab[8], desa[4][16];
	char kims[3][37];
	char dlv[3][48];
	long kp, kv, nd, nr, nf;
};

static void push(struct model *m, const char *topic, const char *key, const ProtobufCMessage *msg,
		 const struct events_meta_buf *mb)
{
	struct util_buf b;
	char err[128];
	struct ev *e;

	if (m->nevs == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 256;
		m->evs = realloc(m->evs, m->cap * sizeof(*m->evs));
	}
	e = &m->evs[m->nevs++];
	util_buf_init(&b, 0);
	if (events_pack(msg, 0, &b, err, sizeof(err)) != 0)
		abort();
	e->topic = topic;
	snprintf(e->key, sizeof(e->key), "%s", key);
	e->len = b.len;
	e->data = util_buf_steal(&b);
	memcpy(&e->mb, mb, sizeof(*mb));
}

static void meta(struct events_meta_buf *mb, const char *type, int64_t at)
{
	char err[128];

	if (events_meta_init(mb, type, "report-test@local", NULL, err, sizeof(err)) != 0)
		abort();
	mb->meta.occurred_at_ms = at;
}

static void content_events(struct model *m, int i)
{
	char id[37];
	int r = i % NREG, t = i % 3;
	int64_t sub_ms = m->day_ms + i * 1000;
	struct events_meta_buf mb;
	Simpul__V1__Content c = SIMPUL__V1__CONTENT__INIT;
	Simpul__V1__ContentSubmitted cs = SIMPUL__V1__CONTENT_SUBMITTED__INIT;
	Simpul__V1__ContentModerated cm = SIMPUL__V1__CONTENT_MODERATED__INIT;

	util_uuid_v4(id);
	m->item_region[i] = r;
	m->sub[r][t]++;
	m->dec_ms[i] = -1;
	c.id = id;
	/* version 0: a simpul-moderate running on the same stack refuses these
	 * synthetic submissions instead of deciding them itself */
	c.version = 0;
	c.type = (Simpul__V1__ContentType)(t == 0 ? 1 : t == 1 ? 2 : 4);
	c.title = "t";
	c.body = "b";
	c.region_code = (char *)regions[r];
	c.submitted_at_ms = sub_ms;
	meta(&mb, "content.submitted", sub_ms);
	cs.meta = &mb.meta;
	cs.content = &c;
	push(m, EVENTS_TOPIC_CONTENT_SUBMITTED, id, &cs.base, &mb);

	cm.content_id = id;
	cm.region_code = (char *)regions[r];
	cm.type = c.type;
	cm.submitted_at_ms = sub_ms;
	cm.decided_by = "auto";
	if (i % 4 == 2) { /* sent to review: not final, stays pending */
		cm.version = 1;
		cm.decision = SIMPUL__V1__DECISION__DECISION_REVIEW;
		cm.decided_at_ms = sub_ms + 500;
		meta(&mb, "content.moderated", cm.decided_at_ms);
		cm.meta = &mb.meta;
		push(m, EVENTS_TOPIC_CONTENT_MODERATED, id, &cm.base, &mb);
		return;
	}
	if (i % 4 == 3)
		return; /* never decided */
	if (i % 8 == 1) { /* appeal: v1 approved, v2 rejected (final) */
		cm.version = 1;
		cm.decision = SIMPUL__V1__DECISION__DECISION_APPROVE;
		cm.decided_at_ms = sub_ms + 2000;
		meta(&mb, "content.moderated", cm.decided_at_ms);
		cm.meta = &mb.meta;
		push(m, EVENTS_TOPIC_CONTENT_MODERATED, id, &cm.base, &mb);
	}
	cm.version = i % 8 == 1 ? 2 : 1;
	cm.decision = i % 4 == 0 ? SIMPUL__V1__DECISION__DECISION_APPROVE
				 : SIMPUL__V1__DECISION__DECISION_REJECT;
	cm.decided_at_ms = sub_ms + (i + 1) * 1000;
	meta(&mb, "content.moderated", cm.decided_at_ms);
	cm.meta = &mb.meta;
	push(m, EVENTS_TOPIC_CONTENT_MODERATED, id, &cm.base, &mb);
	if (i % 4 == 0)
		m->app[r][t]++;
	else
		m->rej[r][t]++;
	m->dec_ms[i] = (i + 1) * 1000;
}

static void kim_event(struct model *m, const char *id, const char *region, int status,
		      int64_t at)
{
	struct events_meta_buf mb;
	Simpul__V1__Kim k = SIMPUL__V1__KIM__INIT;
	Simpul__V1__RegistryEvent re = SIMPUL__V1__REGISTRY_EVENT__INIT;

	k.id = (char *)id;
	k.name = "KIM test";
	k.region_code = (char *)region;
	k.status = (Simpul__V1__KimStatus)status;
	k.registered_at_ms = m->day_ms;
	meta(&mb, "kim.registered", at);
	re.meta = &mb.meta;
	re.kim = &k;
	re.action = status == 1 ? "registered" : "verified";
	push(m, EVENTS_TOPIC_REGISTRY, id, &re.base, &mb);
}

static void publication(struct model *m, const char *kim, const char *region, int64_t at)
{
	char id[37];
	struct events_meta_buf mb;
	Simpul__V1__Content c = SIMPUL__V1__CONTENT__INIT;
	Simpul__V1__ContentPublished cp = SIMPUL__V1__CONTENT_PUBLISHED__INIT;

	util_uuid_v4(id);
	c.id = id;
	c.type = SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_BERITA;
	c.region_code = (char *)region;
	c.kim_id = (char *)kim;
	meta(&mb, "content.published", at);
	cp.meta = &mb.meta;
	cp.content = &c;
	cp.published_at_ms = at;
	push(m, EVENTS_TOPIC_CONTENT_PUBLISHED, id, &cp.base, &mb);
}

static void delivery(struct model *m, const char *id, int outcome, int attempts, int64_t at)
{
	struct events_meta_buf mb;
	Simpul__V1__NotificationDelivery d = SIMPUL__V1__NOTIFICATION_DELIVERY__INIT;

	d.delivery_id = (char *)id;
	d.subscription_id = "s";
	d.channel = "webhook";
	d.outcome = (Simpul__V1__DeliveryOutcome)outcome;
	d.attempts = attempts;
	d.region_code = m->desa[0];
	d.at_ms = at;
	meta(&mb, "notification.delivery", at);
	d.meta = &mb.meta;
	push(m, EVENTS_TOPIC_NOTIFICATION, id, &d.base, &mb);
}

/* KIMs in the synthetic province: k0 verified and active (desa 0), k1
 * verified, published 40 days ago (inactive, desa 1), k2 pending and active
 * (desa 2); verified events arrive before the registrations. */
static void kim_part(struct model *m)
{
	int64_t now = util_now_ms();

	for (int i = 0; i < 3; i++)
		util_uuid_v4(m->kims[i]);
	kim_event(m, m->kims[0], m->desa[0], 2, m->day_ms + 5000);
	kim_event(m, m->kims[0], m->desa[0], 1, m->day_ms + 1000);
	kim_event(m, m->kims[1], m->desa[1], 1, m->day_ms + 1000);
	kim_event(m, m->kims[1], m->desa[1], 2, m->day_ms + 9000);
	kim_event(m, m->kims[2], m->desa[2], 1, m->day_ms + 1000);
	m->kp = 1;
	m->kv = 2;
	publication(m, m->kims[0], m->desa[0], now - 86400000LL);
	publication(m, m->kims[1], m->desa[1], now - 40 * 86400000LL);
	publication(m, m->kims[2], m->desa[2], now - 3600000LL);
	/* deliveries: d0 retrying then delivered (events reversed), d1 failed, d2 retrying */
	for (int i = 0; i < 3; i++)
		snprintf(m->dlv[i], sizeof(m->dlv[i]), "d%d-%s", i, m->kims[0]);
	delivery(m, m->dlv[0], 1, 2, m->day_ms + 2000);
	delivery(m, m->dlv[0], 2, 1, m->day_ms + 1000);
	delivery(m, m->dlv[1], 3, 5, m->day_ms + 3000);
	delivery(m, m->dlv[2], 2, 1, m->day_ms + 3000);
	m->nd = 1;
	m->nf = 1;
	m->nr = 1;
}

static void build(struct model *m)
{
	struct tm tm = {0};

	/* a random past day between 1995 and 2019 */
	tm.tm_year = 95 + rand() % 25;
	tm.tm_mon = rand() % 12;
	tm.tm_mday = 1 + rand() % 28;
	tm.tm_hour = 3; /* 10:00 WIB */
	m->day_ms = (int64_t)timegm(&tm) * 1000;
	strftime(m->day, sizeof(m->day), "%Y-%m-%d", &tm);
	for (int i = 0; i < NITEMS; i++)
		content_events(m, i);
	kim_part(m);
}

static void shuffle(struct model *m)
{
	for (size_t i = m->nevs - 1; i > 0; i--) {
		size_t j = (size_t)rand() % (i + 1);
		struct ev t = m->evs[i];

		m->evs[i] = m->evs[j];
		m->evs[j] = t;
	}
}

/* Produces every event (every third one twice) and waits for the acks. */
static int produce_all(struct kafka_producer *p, struct model *m)
{
	struct events_headers hs;
	int rc = 0;

	for (size_t i = 0; i < m->nevs && rc == 0; i++) {
		struct ev *e = &m->evs[i];
		size_t nh = events_headers_from_meta(&hs, &e->mb.meta);

		for (int k = 0; k < (i % 3 == 0 ? 2 : 1) && rc == 0; k++)
			rc = kafka_producer_send(p, e->topic, e->key, strlen(e->key), e->data,
						 e->len, hs.h, nh, NULL);
	}
	/* one poison record: must go to the DLQ, never count */
	if (rc == 0)
		rc = kafka_producer_send(p, EVENTS_TOPIC_CONTENT_SUBMITTED, "poison", 6, "\xff\xff",
					 2, NULL, 0, NULL);
	if (rc == 0)
		rc = kafka_producer_flush(p, 30000);
	return rc;
}

static bool prefix_of(const char *prefix, const char *code)
{
	size_t n = strlen(prefix);

	return n == 0 || (!strncmp(prefix, code, n) && (code[n] == '\0' || code[n] == '.'));
}

/* Expected p50/p90 (ms) over decided items under prefix, as percentile_cont. */
static void expected_pct(const struct model *m, const char *prefix, double *p50, double *p90)
{
	long v[NITEMS];
	size_t n = 0;

	for (int i = 0; i < NITEMS; i++)
		if (m->dec_ms[i] >= 0 && prefix_of(prefix, regions[m->item_region[i]]))
			v[n++] = m->dec_ms[i];
	for (size_t i = 1; i < n; i++) /* insertion sort */
		for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
			long t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	*p50 = *p90 = 0;
	for (int k = 0; k < 2 && n > 0; k++) {
		double pos = (k ? 0.9 : 0.5) * (double)(n - 1);
		size_t lo = (size_t)pos;
		double x = v[lo] + (lo + 1 < n ? (pos - (double)lo) * (v[lo + 1] - v[lo]) : 0);

		*(k ? p90 : p50) = x;
	}
}

static void check_region(const struct rs_service *s, const char *token, const struct model *m,
			 const char *prefix)
{
	long sub = 0, app = 0, rej = 0, sub_t0 = 0, st;
	double p50, p90;
	char q[256];
	json_t *j;

	for (int r = 0; r < NREG; r++)
		for (int t = 0; t < 3; t++)
			if (prefix_of(prefix, regions[r])) {
				sub += m->sub[r][t];
				app += m->app[r][t];
				rej += m->rej[r][t];
				sub_t0 += t == 0 ? m->sub[r][t] : 0;
			}
	expected_pct(m, prefix, &p50, &p90);
	snprintf(q, sizeof(q), "/v1/reports/dashboard?region=%s&from=%s&to=%s",
		 *prefix ? prefix : "ID", m->day, m->day);
	j = rs_get_json(s, token, q, &st);
	CHECK(st == 200, "%s: status %ld", q, st);
	CHECK(rs_jint(j, "totals.submitted") == sub, "%s submitted %lld want %ld", prefix,
	      rs_jint(j, "totals.submitted"), sub);
	CHECK(rs_jint(j, "totals.approved") == app, "%s approved %lld want %ld", prefix,
	      rs_jint(j, "totals.approved"), app);
	CHECK(rs_jint(j, "totals.rejected") == rej, "%s rejected %lld want %ld", prefix,
	      rs_jint(j, "totals.rejected"), rej);
	CHECK(rs_jint(j, "totals.pending") == sub - app - rej, "%s pending %lld want %ld", prefix,
	      rs_jint(j, "totals.pending"), sub - app - rej);
	CHECK(rs_jint(j, "by_type.berita.submitted") == sub_t0, "%s berita %lld want %ld", prefix,
	      rs_jint(j, "by_type.berita.submitted"), sub_t0);
	CHECK(rs_jint(j, "totals.decision_p50_s") == (long long)(p50 + 0.5),
	      "%s p50 %lld want %.0f", prefix, rs_jint(j, "totals.decision_p50_s"), p50);
	CHECK(rs_jint(j, "totals.decision_p90_s") == (long long)(p90 + 0.5),
	      "%s p90 %lld want %.0f", prefix, rs_jint(j, "totals.decision_p90_s"), p90);
	json_decref(j);
}

static void check_all_levels(const struct rs_service *s, const char *token,
			     const struct model *m)
{
	static const char *const prefixes[] = {"",	   "35",       "35.07",	       "35.07.12",
					       "35.07.12.2001", "35.07.13", "35.08", "11"};

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		check_region(s, token, m, prefixes[i]);
}

/* Polls the national dashboard until it shows every item (or times out). */
static void wait_totals(const struct rs_service *s, const char *token, const struct model *m)
{
	char q[200];

	snprintf(q, sizeof(q), "/v1/reports/dashboard?region=ID&from=%s&to=%s", m->day, m->day);
	for (int i = 0; i < 20; i++) {
		long st;
		json_t *j = rs_get_json(s, token, q, &st);
		long long n = rs_jint(j, "totals.submitted"), d = rs_jint(j, "totals.pending");

		json_decref(j);
		if (n == NITEMS && d == NITEMS / 2)
			return;
		ts_sleep_ms(500);
	}
}

static void check_children_and_kims(const struct rs_service *s, const char *token,
				    const struct model *m)
{
	char q[256];
	long st;
	json_t *j, *kids;
	bool seen = false;

	snprintf(q, sizeof(q), "/v1/reports/dashboard?region=35.07&from=%s&to=%s", m->day, m->day);
	j = rs_get_json(s, token, q, &st);
	kids = json_object_get(j, "children");
	for (size_t i = 0; i < json_array_size(kids); i++) {
		json_t *k = json_array_get(kids, i);

		if (!strcmp(json_string_value(json_object_get(k, "code")) ?: "", "35.07.12")) {
			seen = true;
			CHECK(rs_jint(k, "submitted") ==
				      m->sub[0][0] + m->sub[0][1] + m->sub[0][2] + m->sub[1][0] +
					      m->sub[1][1] + m->sub[1][2],
			      "child 35.07.12 submitted %lld", rs_jint(k, "submitted"));
		}
		CHECK(strlen(json_string_value(json_object_get(k, "code")) ?: "") == 8,
		      "children of a kabupaten are kecamatan");
	}
	CHECK(seen, "35.07.12 listed among the children of 35.07");
	json_decref(j);

	snprintf(q, sizeof(q), "/v1/reports/dashboard?region=%s&from=%s&to=%s", m->kab, m->day,
		 m->day);
	j = rs_get_json(s, token, q, &st);
	CHECK(st == 200, "kab dashboard %ld", st);
	CHECK(rs_jint(j, "registrations.pending") == m->kp, "registrations.pending %lld",
	      rs_jint(j, "registrations.pending"));
	CHECK(rs_jint(j, "registrations.verified") == m->kv, "registrations.verified %lld",
	      rs_jint(j, "registrations.verified"));
	CHECK(rs_jint(j, "notifications.delivered") == m->nd, "delivered %lld",
	      rs_jint(j, "notifications.delivered"));
	CHECK(rs_jint(j, "notifications.retrying") == m->nr, "retrying %lld",
	      rs_jint(j, "notifications.retrying"));
	CHECK(rs_jint(j, "notifications.failed") == m->nf, "failed %lld",
	      rs_jint(j, "notifications.failed"));
	CHECK(rs_jint(j, "kims.registered") == 3, "kims.registered %lld",
	      rs_jint(j, "kims.registered"));
	CHECK(rs_jint(j, "kims.verified") == 2, "kims.verified %lld", rs_jint(j, "kims.verified"));
	CHECK(rs_jint(j, "kims.active") == 2, "kims.active %lld", rs_jint(j, "kims.active"));
	CHECK(rs_jint(j, "kims.desa_total") == 4, "desa_total %lld", rs_jint(j, "kims.desa_total"));
	CHECK(rs_jint(j, "kims.desa_covered") == 2, "desa_covered %lld",
	      rs_jint(j, "kims.desa_covered"));
	CHECK(rs_jint(j, "kims.coverage") == 500, "coverage %lld (x1000)",
	      rs_jint(j, "kims.coverage"));
	json_decref(j);

	snprintf(q, sizeof(q), "/v1/reports/kims/%s", m->kims[1]);
	j = rs_get_json(s, token, q, &st);
	CHECK(st == 200 && json_is_false(json_object_get(j, "active")), "k1 inactive (%ld)", st);
	CHECK(rs_jint(j, "published_30d") == 0, "k1 published_30d");
	json_decref(j);
	snprintf(q, sizeof(q), "/v1/reports/kims/%s", m->kims[0]);
	j = rs_get_json(s, token, q, &st);
	CHECK(st == 200 && json_is_true(json_object_get(j, "active")), "k0 active (%ld)", st);
	CHECK(!strcmp(json_string_value(json_object_get(j, "status")) ?: "", "verified"),
	      "k0 verified despite the late registration event");
	json_decref(j);
}

static void check_scopes(const struct rs_service *s, const struct ts_fixture *fx,
			 const struct model *m)
{
	struct {
		int role;
		const char *region;
		long want;
	} cases[] = {
		{TS_MODERATOR, "35.07.12", 200}, {TS_MODERATOR, "35.08", 403},
		{TS_MODERATOR, "ID", 403},	 {TS_MODERATOR, NULL, 200},
		{TS_ANALYST, "ID", 200},	 {TS_KIM_MEMBER, "35.07", 403},
		{TS_CITIZEN, "35.07", 403},
	};
	char q[200];
	long st;
	json_t *j;
	struct ts_response r;
	char url[256], auth[128];
	const char *h[] = {auth, NULL};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].region)
			snprintf(q, sizeof(q), "/v1/reports/dashboard?region=%s&from=%s&to=%s",
				 cases[i].region, m->day, m->day);
		else
			snprintf(q, sizeof(q), "/v1/reports/dashboard?from=%s&to=%s", m->day, m->day);
		j = rs_get_json(s, fx->users[cases[i].role].token, q, &st);
		CHECK(st == cases[i].want, "role %d %s: %ld want %ld", cases[i].role, q, st,
		      cases[i].want);
		if (!cases[i].region && st == 200)
			CHECK(!strcmp(json_string_value(json_object_get(
						  json_object_get(j, "region"), "code")) ?: "",
				      "35.07"),
			      "default region is the caller's scope");
		json_decref(j);
	}
	j = rs_get_json(s, NULL, "/v1/reports/dashboard", &st);
	CHECK(st == 401, "no token: %ld", st);
	json_decref(j);
	/* analysts are read-only */
	snprintf(url, sizeof(url), "%s/v1/reports/rebuild", s->base);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", fx->users[TS_ANALYST].token);
	ts_http(&r, "POST", url, h, NULL, NULL, 0);
	CHECK(r.status == 403, "analyst rebuild: %ld", r.status);
	ts_response_release(&r);
}

/* Waits for a region-daily record of region@day whose total matches. */
static void check_topic(struct ts_reader *rd, const struct model *m, const char *region)
{
	char key[64];
	long want = 0;
	bool ok = false;

	for (int r = 0; r < NREG; r++)
		for (int t = 0; t < 3; t++)
			want += prefix_of(region, regions[r]) ? m->sub[r][t] : 0;
	snprintf(key, sizeof(key), "%s@%s", *region ? region : "ID", m->day);
	for (int round = 0; round < 40 && !ok; round++) {
		size_t n;
		const struct ts_kmsg *msgs;

		ts_reader_poll(rd, 500);
		msgs = ts_reader_msgs(rd, &n);
		for (size_t i = 0; i < n; i++) {
			Simpul__V1__RegionDaily *d;

			if (strcmp(msgs[i].key, key))
				continue;
			d = (Simpul__V1__RegionDaily *)events_unpack(
				&simpul__v1__region_daily__descriptor, msgs[i].value,
				msgs[i].value_len, 0, NULL, 0);
			ok = d && d->total && d->total->submitted == want && !strcmp(d->date, m->day);
			if (d)
				protobuf_c_message_free_unpacked(&d->base, NULL);
		}
	}
	CHECK(ok, "report topic carries %s with submitted=%ld", key, want);
}

static int setup_regions(PGconn *pg, struct model *m)
{
	char err[256];

	for (int tries = 0; tries < 50; tries++) {
		const char *p[1];
		long long n;

		snprintf(m->prov, sizeof(m->prov), "%02d", 40 + rand() % 10);
		snprintf(m->kab, sizeof(m->kab), "%s.%02d", m->prov, 10 + rand() % 90);
		p[0] = m->kab;
		n = ts_pg_count(pg,
				"SELECT (SELECT count(*) FROM simpul.regions WHERE code = $1"
				" OR code LIKE $1 || '.%') + (SELECT count(*) FROM simpul.report_kims"
				" WHERE region_code LIKE $1 || '.%')",
				1, p);
		if (n != 0)
			continue;
		for (int d = 0; d < 4; d++)
			snprintf(m->desa[d], sizeof(m->desa[d]), "%s.01.200%d", m->kab, d + 1);
		{
			const char *v[2] = {m->prov, m->kab};
			PGresult *r = ts_pg_query(
				pg,
				"INSERT INTO simpul.regions (code, name, level, kind, parent_code) VALUES"
				" ($1, 'Test Prov', 1, 'provinsi', NULL) ON CONFLICT DO NOTHING;",
				1, v, err, sizeof(err));
			PQclear(r);
			r = ts_pg_query(pg,
					"INSERT INTO simpul.regions (code, name, level, kind, parent_code)"
					" SELECT c, 'Test ' || c, l, k, p FROM (VALUES"
					" ($2, 2, 'kabupaten', $1), ($2 || '.01', 3, 'kecamatan', $2),"
					" ($2 || '.01.2001', 4, 'desa', $2 || '.01'),"
					" ($2 || '.01.2002', 4, 'desa', $2 || '.01'),"
					" ($2 || '.01.2003', 4, 'desa', $2 || '.01'),"
					" ($2 || '.01.2004', 4, 'desa', $2 || '.01')) AS t(c, l, k, p)",
					2, v, err, sizeof(err));
			if (!r) {
				fprintf(stderr, "regions: %s\n", err);
				return -1;
			}
			PQclear(r);
		}
		return 0;
	}
	return -1;
}

static void cleanup_regions(PGconn *pg, const struct model *m)
{
	const char *v[1] = {m->kab};
	char err[128];
	PGresult *r = ts_pg_query(pg,
				  "DELETE FROM simpul.regions WHERE code LIKE $1 || '.%' AND level = 4;"
				  ,
				  1, v, err, sizeof(err));

	PQclear(r);
	r = ts_pg_query(pg, "DELETE FROM simpul.regions WHERE code LIKE $1 || '.%'", 1, v, err,
			sizeof(err));
	PQclear(r);
	r = ts_pg_query(pg, "DELETE FROM simpul.regions WHERE code = $1", 1, v, err, sizeof(err));
	PQclear(r);
}

static int run_python(const struct rs_service *s, const struct ts_env *env, const char *token,
		      const struct model *m, char **argv)
{
	char *args[] = {argv[0], argv[1], "--brokers", env->kafka_brokers, "--api",
			(char *)s->base, "--token", (char *)token, "--gen-dir", argv[2], "--date",
			(char *)m->day, "--regions", "ID,35,35.07,35.07.12,35.07.12.2001,11",
			"--timeout", "60", NULL};
	char out[8192] = "";
	int rc;

	if (access(argv[0], X_OK) != 0) {
		fprintf(stderr, "FAIL: no Python venv at %s: run deploy/stack infra (it creates"
				" .cache/venv with confluent-kafka, protobuf, grpcio-tools)\n",
			argv[0]);
		return 1;
	}
	rc = ts_run(args, 90000, out, sizeof(out));

	fprintf(stderr, "python consumer (exit %d):\n%s\n", rc, out);
	return rc;
}

int main(int argc, char **argv)
{
	char group_env[96];
	const char *extra[] = {"SIMPUL_REPORT_FLUSH_MS=200", "SIMPUL_REPORT_CACHE_TTL_MS=0",
			       "SIMPUL_REPORT_MIGRATE=on", "SIMPUL_REPORT_OFFSET_RESET=latest",
			       group_env, NULL};
	struct ts_env env;
	struct ts_fixture fx;
	struct rs_service svc = {0};
	struct kafka_producer *prod = NULL;
	struct ts_reader *rd = NULL;
	struct model m = {0};
	struct rs_lag base = {0};
	PGconn *pg = NULL;
	char err[1024];
	const char *admin;
	bool python = argc >= 5 && !strcmp(argv[2], "--python");

	if (argc < 2) {
		fprintf(stderr, "usage: %s SIMPUL_REPORT_BIN [--python PY SCRIPT GENDIR]\n", argv[0]);
		return 2;
	}
	if (ts_env_load(&env, err, sizeof(err)) != 0) {
		fprintf(stderr, "FAIL: the stack is not reachable: %s\n", err);
		ts_env_release(&env);
		return 1;
	}
	pg = ts_pg_connect(env.pg_url, err, sizeof(err));
	if (!pg || ts_fixture_create(&fx, pg, err, sizeof(err)) != 0) {
		fprintf(stderr, "FAIL: fixtures: %s\n", err);
		return 1;
	}
	admin = fx.users[TS_ADMIN].token;
	srand((unsigned)(util_now_ms() ^ (getpid() << 16)));
	if (setup_regions(pg, &m) != 0) {
		fprintf(stderr, "FAIL: cannot create test regions\n");
		return 1;
	}
	build(&m);
	/* a group of its own that starts at the end: the test waits only for
	 * its own events, whatever backlog the shared group has */
	snprintf(group, sizeof(group), "report-test-%s", fx.run);
	snprintf(group_env, sizeof(group_env), "SIMPUL_REPORT_GROUP=%s", group);
	shuffle(&m);
	if (rs_start(&svc, argv[1], &env, extra, err, sizeof(err)) != 0) {
		fprintf(stderr, "FAIL: %s\n", err);
		failures++;
		goto out;
	}
	if (rs_wait_log(&svc, "kafka partitions assigned", 30000) != 0) {
		fprintf(stderr, "FAIL: no partitions assigned (log %s)\n", svc.log);
		failures++;
		goto out;
	}
	if (rs_lag_snapshot(&env, group, &base, err, sizeof(err)) != 0) {
		fprintf(stderr, "FAIL: lag: %s\n", err);
		failures++;
		goto out;
	}
	rd = ts_reader_new(env.kafka_brokers, EVENTS_TOPIC_REPORT_REGION_DAILY, err, sizeof(err));
	prod = rs_producer(&env, err, sizeof(err));
	if (!rd || !prod || produce_all(prod, &m) != 0) {
		fprintf(stderr, "FAIL: kafka: %s\n", err);
		failures++;
		goto out;
	}
	fprintf(stderr, "day %s kab %s: %zu events produced\n", m.day, m.kab, m.nevs);
	CHECK(rs_wait_lag(&env, group, &base, 90000, err, sizeof(err)) == 0, "%s", err);
	wait_totals(&svc, admin, &m);
	check_all_levels(&svc, admin, &m);
	check_children_and_kims(&svc, admin, &m);
	check_scopes(&svc, &fx, &m);
	check_topic(rd, &m, "35.07.12.2001");
	check_topic(rd, &m, "");
	if (python) {
		CHECK(run_python(&svc, &env, admin, &m, argv + 3) == 0, "python consumer check");
	} else {
		/* replay everything (new shuffle): totals must not move */
		shuffle(&m);
		CHECK(produce_all(prod, &m) == 0, "replay produced");
		CHECK(rs_wait_lag(&env, group, &base, 90000, err, sizeof(err)) == 0, "%s", err);
		check_all_levels(&svc, admin, &m);
		check_children_and_kims(&svc, admin, &m);
	}
out:
	if (svc.pid) {
		int st = rs_stop(&svc);

		CHECK(st == 0, "simpul-report exit status %d (log %s)", st, svc.log);
	}
	if (failures)
		fprintf(stderr, "service log: %s\n", svc.log);
	ts_reader_free(rd);
	kafka_producer_free(prod);
	free(base.p);
	cleanup_regions(pg, &m);
	for (size_t i = 0; i < m.nevs; i++)
		free(m.evs[i].data);
	free(m.evs);
	PQfinish(pg);
	ts_env_release(&env);
	fprintf(stderr, "%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}
