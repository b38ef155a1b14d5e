/*
 * services/notify/tests/notify_integration_test.c - simpul-notify on the real
 * stack (PostgreSQL, Kafka, the SMTP sink of deploy/stack): subscriptions API
 * and ownership, SSRF refusals, Standard Webhooks signatures checked with an
 * independent HMAC, retries then success, dead letter and redelivery, replay
 * dedupe, secret rotation, batched review notices, decisions to authors,
 * diseminasi fan-out to N KIMs without holding up other deliveries, and an
 * e-mail digest sent as one message at the right local hour (injected clock,
 * across a restart). Fails loudly when the stack is down.
 *
 * usage: notify_integration_test <simpul-notify binary>
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <simpul/v1/moderation.pb-c.h>
#include <simpul/v1/registry.pb-c.h>

#include "config/config.h"
#include "events/meta.h"
#include "events/topics.h"
#include "nt.h"
#include "ts/ts.h"

static const char *bin;
static struct ts_env env;
static PGconn *pg;
static struct ts_fixture fx;
static struct nt_service svc;
static unsigned rport;
static char realm[40], group[64], smtp_url[64], skip[32];
static char *smtp_dir;
/* Synthetic region codes of this run (province 98 does not exist), so the
 * real traffic of other services on the shared stack never matches. */
static char kab[8], kec[12], desa[20], desa2[20], otherdesa[20];
static int64_t smtp_port;

/* ---- helpers ---- */

static const char *extra_env[32];
static char extra_buf[32][160];

/* The test instance: its own realm and group, loopback allowed, fast retries. */
static void build_env(int64_t clock_offset_ms, bool strict)
{
	size_t n = 0;
	/* The strict instance has a realm of its own: its workers never touch ours. */
	snprintf(extra_buf[n++], 160, "SIMPUL_NOTIFY_REALM=%s%s", realm, strict ? "-strict" : "");
	snprintf(extra_buf[n++], 160, "SIMPUL_NOTIFY_GROUP=%s", group);
	snprintf(extra_buf[n++], 160, "SIMPUL_NOTIFY_SKIP_BEFORE_MS=%s", skip);
	snprintf(extra_buf[n++], 160, "SIMPUL_NOTIFY_SMTP_URL=%s", smtp_url);
	snprintf(extra_buf[n++], 160, "SIMPUL_NOTIFY_CLOCK_OFFSET_MS=%lld", (long long)clock_offset_ms);
	snprintf(extra_buf[n++], 160, "SIMPUL_NOTIFY_ALLOW_LOOPBACK=%s", strict ? "off" : "on");
	snprintf(extra_buf[n++], 160, "SIMPUL_NOTIFY_REQUIRE_HTTPS=%s", strict ? "on" : "off");
	snprintf(extra_buf[n++], 160, "SIMPUL_NOTIFY_CONSUME=%s", strict ? "off" : "on");
	snprintf(extra_buf[n++], 160, "SIMPUL_NOTIFY_RETRY_BASE_MS=150ms");
	snprintf(extra_buf[n++], 160, "SIMPUL_NOTIFY_RETRY_MAX_MS=600ms");
	snprintf(extra_buf[n++], 160, "SIMPUL_NOTIFY_MAX_ATTEMPTS=4");
	snprintf(extra_buf[n++], 160, "SIMPUL_NOTIFY_POLL_MS=50ms");
	snprintf(extra_buf[n++], 160, "SIMPUL_NOTIFY_REVIEW_BATCH_MS=3s");
	snprintf(extra_buf[n++], 160, "SIMPUL_NOTIFY_CONNECT_TIMEOUT_MS=1s");
	snprintf(extra_buf[n++], 160, "SIMPUL_NOTIFY_TIMEOUT_MS=3s");
	snprintf(extra_buf[n++], 160, "SIMPUL_NOTIFY_FANOUT_BATCH=500");
	/* Few sessions: the shared PostgreSQL has a connection limit; requests
	 * run in parallel inside each worker anyway. */
	snprintf(extra_buf[n++], 160, "SIMPUL_NOTIFY_WORKERS=2");
	snprintf(extra_buf[n++], 160, "SIMPUL_NOTIFY_BULK_WORKERS=1");
	snprintf(extra_buf[n++], 160, "SIMPUL_NOTIFY_CONSUMERS=2");
	for (size_t i = 0; i < n; i++)
		extra_env[i] = extra_buf[i];
	extra_env[n] = NULL;
}

static const char *url(const char *path)
{
	static char u[256];

	snprintf(u, sizeof(u), "%s%s", svc.base, path);
	return u;
}

/* POST /v1/subscriptions as role; returns the parsed body (caller decrefs). */
static json_t *subscribe(enum ts_role role, const char *json, long want)
{
	struct ts_response r;
	json_t *j;

	ts_http_post_json(&r, url("/v1/subscriptions"), fx.users[role].token, NULL, json);
	if (r.status != want)
		fprintf(stderr, "subscribe: %ld %s\n", r.status, r.body ? r.body : "");
	assert_int_equal(r.status, want);
	j = json_loads(r.body ? r.body : "null", 0, NULL);
	ts_response_release(&r);
	return j;
}

static json_t *webhook_sub(enum ts_role role, const char *path, const char *kinds,
			   const char *more)
{
	char body[1024];

	snprintf(body, sizeof(body),
		 "{\"channel\":\"webhook\",\"target\":\"http://127.0.0.1:%u%s\",\"kinds\":%s%s}",
		 rport, path, kinds, more ? more : "");
	return subscribe(role, body, 201);
}

static long http_status(const char *method, const char *path, enum ts_role role, json_t **out)
{
	char auth[128];
	const char *h[] = {auth, NULL};
	struct ts_response r;
	long st;

	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", fx.users[role].token);
	ts_http(&r, method, url(path), h, NULL, NULL, 0);
	st = r.status;
	if (out)
		*out = json_loads(r.body ? r.body : "null", 0, NULL);
	ts_response_release(&r);
	return st;
}

static void meta_new(struct events_meta_buf *mb, const char *type)
{
	char err[128];

	assert_int_equal(events_meta_init(mb, type, "moderate@test", NULL, err, sizeof(err)), 0);
}

/* A ContentPublished event; returns its event id in id_out. */
static void publish(const char *region, int type, const char *title, const char *kim,
		    struct events_meta_buf *mb)
{
	Simpul__V1__ContentPublished cp = SIMPUL__V1__CONTENT_PUBLISHED__INIT;
	Simpul__V1__Content c = SIMPUL__V1__CONTENT__INIT;
	char cid[40];

	util_uuid_v4(cid);
	c.id = cid;
	c.version = 1;
	c.type = type;
	c.title = (char *)title;
	c.body = "isi berita";
	c.region_code = (char *)region;
	c.kim_id = (char *)(kim ? kim : "");
	cp.meta = &mb->meta;
	cp.content = &c;
	cp.published_at_ms = mb->meta.occurred_at_ms;
	assert_int_equal(nt_produce(env.kafka_brokers, EVENTS_TOPIC_CONTENT_PUBLISHED, cid,
				    &cp.base, &mb->meta),
			 0);
}

static void moderated(const char *region, int decision, const char *kim, const char *author)
{
	Simpul__V1__ContentModerated cm = SIMPUL__V1__CONTENT_MODERATED__INIT;
	struct events_meta_buf mb;
	char cid[40];

	meta_new(&mb, "content.moderated");
	util_uuid_v4(cid);
	cm.meta = &mb.meta;
	cm.content_id = cid;
	cm.version = 1;
	cm.decision = decision;
	cm.region_code = (char *)region;
	cm.kim_id = (char *)kim;
	cm.author_id = (char *)author;
	cm.type = SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_BERITA;
	cm.decided_by = "auto";
	assert_int_equal(nt_produce(env.kafka_brokers, EVENTS_TOPIC_CONTENT_MODERATED, cid,
				    &cm.base, &mb.meta),
			 0);
}

/* Independent Standard Webhooks check: OpenSSL HMAC over id.ts.body with the
 * base64-decoded secret; true if any "v1,<sig>" in header matches. */
static bool signature_ok(const char *secret, const struct nt_hit *h)
{
	unsigned char key[128], mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char expect[128], *msg;
	int klen;
	size_t n;
	const char *b64 = secret + 6, *p;

	if (strncmp(secret, "whsec_", 6))
		return false;
	n = strlen(b64);
	klen = EVP_DecodeBlock(key, (const unsigned char *)b64, (int)n);
	klen -= (b64[n - 1] == '=') + (b64[n - 2] == '=');
	if (asprintf(&msg, "%s.%s.%.*s", h->id, h->ts, (int)h->body_len, h->body) < 0)
		return false;
	HMAC(EVP_sha256(), key, klen, (unsigned char *)msg, strlen(msg), mac, &maclen);
	free(msg);
	memcpy(expect, "v1,", 3);
	EVP_EncodeBlock((unsigned char *)expect + 3, mac, (int)maclen);
	for (p = h->sig; (p = strstr(p, expect)); p++)
		if ((p == h->sig || p[-1] == ' ') && (p[strlen(expect)] == '\0' ||
						      p[strlen(expect)] == ' '))
			return true;
	return false;
}

/* Reconnects after the stack's fault tests restarted PostgreSQL under us. */
static void pg_ok(void)
{
	PGresult *r = PQexec(pg, "SELECT 1");

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		PQreset(pg);
		PQclear(PQexec(pg, "SET search_path = ''"));
	}
	PQclear(r);
}

static long long count(const char *sql, const char *a, const char *b)
{
	const char *p[] = {a, b};

	pg_ok();
	return ts_pg_count(pg, sql, b ? 2 : (a ? 1 : 0), p);
}

/* ---- setup ---- */

static int setup(void **state)
{
	struct config_item items[] = {
		{"SIMPUL_SMTP_PORT", CONFIG_INT, "52525", 1, 65535, false, &smtp_port, "smtp sink"},
		{"SIMPUL_SMTP_DIR", CONFIG_STRING, NOTIFY_TEST_SMTP_DIR, 1, 1024, false, &smtp_dir,
		 "where the sink writes mail"},
	};
	char err[512];

	(void)state;
	if (ts_env_load(&env, err, sizeof(err)) != 0 ||
	    config_load(items, 2, err, sizeof(err)) != 0) {
		fprintf(stderr, "notify integration: %s\n", err);
		return -1;
	}
	if (!ts_port_open("127.0.0.1", (unsigned)smtp_port)) {
		fprintf(stderr, "notify integration: no SMTP sink on 127.0.0.1:%lld: run "
				"deploy/stack infra\n", (long long)smtp_port);
		return -1;
	}
	pg = ts_pg_connect(env.pg_url, err, sizeof(err));
	if (!pg || ts_fixture_create(&fx, pg, err, sizeof(err)) != 0 || nt_receiver_start(&rport)) {
		fprintf(stderr, "notify integration: %s\n", err);
		return -1;
	}
	snprintf(realm, sizeof(realm), "t-%s", fx.run);
	snprintf(kab, sizeof(kab), "98.%02lu", strtoul(fx.run + 12, NULL, 16) % 90 + 10);
	snprintf(kec, sizeof(kec), "%s.01", kab);
	snprintf(desa, sizeof(desa), "%s.2001", kec);
	snprintf(desa2, sizeof(desa2), "%s.2002", kec);
	snprintf(otherdesa, sizeof(otherdesa), "97.%s.2001", kec + 3);
	snprintf(group, sizeof(group), "simpul-notify-test-%s", fx.run);
	snprintf(smtp_url, sizeof(smtp_url), "smtp://127.0.0.1:%lld", (long long)smtp_port);
	snprintf(skip, sizeof(skip), "%lld", (long long)(time(NULL) - 5) * 1000);
	build_env(0, false);
	return nt_service_start(&svc, bin, extra_env, 30000);
}

static int teardown(void **state)
{
	(void)state;
	if (svc.pid > 0 && nt_service_stop(&svc) != 0)
		fprintf(stderr, "simpul-notify did not exit cleanly (log %s)\n", svc.log);
	nt_receiver_stop();
	if (pg) {
		/* This run's subscriptions (and by cascade their deliveries) go away. */
		char strict[48];
		snprintf(strict, sizeof(strict), "%s-strict", realm);
		PQclear(PQexecParams(pg, "DELETE FROM simpul.notify_subscriptions WHERE realm IN "
					 "($1, $2)", 2, NULL, (const char *const[]){realm, strict},
				     NULL, NULL, 0));
		PQfinish(pg);
	}
	return 0;
}

#include "notify_integration_cases.c"

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_api_ownership),
		cmocka_unit_test(test_ssrf_refusals),
		cmocka_unit_test(test_signature_and_replay),
		cmocka_unit_test(test_retry_then_success),
		cmocka_unit_test(test_dead_letter_and_redeliver),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_review_batched),
		cmocka_unit_test(test_decided_and_registration),
		cmocka_unit_test(test_fanout),
		cmocka_unit_test(test_batch_with_poison),
		cmocka_unit_test(test_metrics_and_records),
		cmocka_unit_test(test_drop_and_timeout),
		cmocka_unit_test(test_restart_mid_retry),
		cmocka_unit_test(test_email_digest),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s <simpul-notify>\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	return cmocka_run_group_tests(tests, setup, teardown);
}
