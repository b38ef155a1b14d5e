/*
 * services/moderate/tests/batch_test.c - the consumer's batch handler
 * (pipeline.c, nearby.c, store.c) driven directly, without Kafka, against
 * the real PostgreSQL and Redis: a batch with a repeat of one item, a
 * registration, an in-batch near-duplicate and flooding is stored once per
 * item with its outbox rows in order (PII masked in publication); replaying
 * it stores nothing; a poison message inside a batch leaves the rest stored
 * and the one-by-one redo rejects only the poison; Redis lost
 * part-way (a proxy that cuts the connection on the third request) and
 * Redis absent leave the decisions going.
 * Ports (tests of this service only): 18621 the cutting proxy, 18622 a
 * port where nothing listens.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <simpul/v1/content.pb-c.h>
#include <simpul/v1/moderation.pb-c.h>
#include <simpul/v1/registry.pb-c.h>

#include "cache/cache.h"
#include "events/codec.h"
#include "events/meta.h"
#include "events/topics.h"
#include "kafka/kafka.h"
#include "metrics/metrics.h"
#include "mod_events.h"
#include "mod_pipeline.h"
#include "ts/ts.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/ids.h"

#define PROXY_PORT 18621
#define DEAD_PORT 18622
#define MAX_MSGS 16

static struct ts_env env;
static PGconn *pg;
static struct ts_fixture fx;
static struct mod_config cfg;
static struct mod_state state;
static struct metrics_registry *reg;
static bool state_ready;

/* A batch under construction: packed events and their views. */
struct batch {
	struct kafka_message m[MAX_MSGS];
	struct util_buf b[MAX_MSGS];
	size_t n;
};

static void batch_add_raw(struct batch *bt, const char *topic, const char *key, const void *v,
			  size_t len)
{
	struct util_buf *b = &bt->b[bt->n];

	util_buf_init(b, 0);
	assert_int_equal(util_buf_append(b, v, len), 0);
	bt->m[bt->n] = (struct kafka_message){.topic = topic, .partition = 0,
					      .offset = (int64_t)bt->n, .key = key,
					      .key_len = strlen(key), .value = b->data,
					      .value_len = b->len, .attempt = 1};
	bt->n++;
}

static void batch_add_content(struct batch *bt, const char *id, const char *kim,
			      const char *title, const char *body)
{
	Simpul__V1__ContentSubmitted cs = SIMPUL__V1__CONTENT_SUBMITTED__INIT;
	Simpul__V1__Content c = SIMPUL__V1__CONTENT__INIT;
	struct events_meta_buf mb;
	struct util_buf b;
	char err[128];

	assert_int_equal(events_meta_init(&mb, "content.submitted", "btest@localhost", NULL, err,
					  sizeof(err)),
			 0);
	c.id = (char *)id;
	c.version = 1;
	c.type = SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_BERITA;
	c.title = (char *)title;
	c.body = (char *)body;
	c.region_code = (char *)fx.desa;
	c.kim_id = (char *)(kim ? kim : "");
	c.submitted_at_ms = util_now_ms();
	cs.meta = &mb.meta;
	cs.content = &c;
	util_buf_init(&b, 0);
	assert_int_equal(events_pack(&cs.base, 0, &b, err, sizeof(err)), 0);
	batch_add_raw(bt, EVENTS_TOPIC_CONTENT_SUBMITTED, id, b.data, b.len);
	util_buf_release(&b);
}

static void batch_add_registration(struct batch *bt, const char *kim_id, const char *name)
{
	Simpul__V1__RegistryEvent re = SIMPUL__V1__REGISTRY_EVENT__INIT;
	Simpul__V1__Kim k = SIMPUL__V1__KIM__INIT;
	struct events_meta_buf mb;
	struct util_buf b;
	char err[128];

	assert_int_equal(events_meta_init(&mb, "registry.registered", "btest@localhost", NULL,
					  err, sizeof(err)),
			 0);
	k.id = (char *)kim_id;
	k.name = (char *)name;
	k.region_code = (char *)fx.desa;
	k.status = SIMPUL__V1__KIM_STATUS__KIM_STATUS_PENDING;
	k.registered_at_ms = util_now_ms();
	re.meta = &mb.meta;
	re.action = "registered";
	re.kim = &k;
	util_buf_init(&b, 0);
	assert_int_equal(events_pack(&re.base, 0, &b, err, sizeof(err)), 0);
	batch_add_raw(bt, EVENTS_TOPIC_REGISTRY, kim_id, b.data, b.len);
	util_buf_release(&b);
}

static void batch_release(struct batch *bt)
{
	for (size_t i = 0; i < bt->n; i++)
		util_buf_release(&bt->b[i]);
	bt->n = 0;
}

/* A pipeline over the shared state with its own cache and one worker. */
struct rig {
	struct mod_pipeline p;
	struct cache *cache;
	struct mod_worker *w;
};

static void rig_open(struct rig *r, int redis_port)
{
	char err[256];

	memset(r, 0, sizeof(*r));
	r->cache = cache_new(env.redis_host, redis_port, 500);
	assert_non_null(r->cache);
	r->p.cfg = &cfg;
	r->p.state = &state;
	r->p.cache = r->cache;
	r->p.decisions = metrics_counter_new(reg, "moderate_decisions_total", "d", "decision");
	r->p.learned = metrics_counter_new(reg, "moderate_feedback_learned_total", "l", NULL);
	r->w = mod_worker_new(&r->p, err, sizeof(err));
	assert_non_null(r->w);
}

static void rig_close(struct rig *r)
{
	mod_worker_free(r->w);
	cache_free(r->cache);
}

static long long count1(const char *sql, const char *id)
{
	const char *p[1] = {id};

	return ts_pg_count(pg, sql, 1, p);
}

static long long items(const char *id)
{
	return count1("SELECT count(*) FROM simpul.moderation_items WHERE item_id = $1", id);
}

static long long audits(const char *id)
{
	return count1("SELECT count(*) FROM simpul.moderation_audit WHERE item_id = $1", id);
}

static long long outbox(const char *id, const char *topic)
{
	const char *p[2] = {id, topic};

	return ts_pg_count(pg, "SELECT count(*) FROM simpul.moderation_outbox WHERE msg_key = $1 "
			       "AND topic = $2", 2, p);
}

static long long sig_count(const char *id, const char *name)
{
	const char *p[2] = {id, name};

	return ts_pg_count(pg, "SELECT count(*) FROM simpul.moderation_signals WHERE "
			       "item_id = $1 AND name = $2", 2, p);
}

static char *state_of(const char *id)
{
	const char *p[1] = {id};
	char err[256];
	PGresult *res = ts_pg_query(pg, "SELECT state FROM simpul.moderation_items WHERE "
					"item_id = $1", 1, p, err, sizeof(err));
	char *s;

	assert_non_null(res);
	assert_int_equal(PQntuples(res), 1);
	s = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return s;
}

static void assert_state(const char *id, const char *want)
{
	char *s = state_of(id);

	assert_string_equal(s, want);
	free(s);
}

/* The published event of id from the outbox, its body checked for masking. */
static void assert_published_masked(const char *id)
{
	const char *p[2] = {id, EVENTS_TOPIC_CONTENT_PUBLISHED};
	char err[256];
	PGresult *res = ts_pg_query(pg, "SELECT encode(payload, 'hex') FROM "
					"simpul.moderation_outbox WHERE msg_key = $1 AND topic = $2",
				    2, p, err, sizeof(err));
	const char *hex;
	unsigned char *raw;
	size_t n;
	Simpul__V1__ContentPublished *cp;

	assert_non_null(res);
	assert_int_equal(PQntuples(res), 1);
	hex = PQgetvalue(res, 0, 0);
	n = strlen(hex) / 2;
	raw = malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(sscanf(hex + 2 * i, "%2hhx", &raw[i]), 1);
	cp = (Simpul__V1__ContentPublished *)events_unpack(
		&simpul__v1__content_published__descriptor, raw, n, 0, err, sizeof(err));
	assert_non_null(cp);
	assert_non_null(strstr(cp->content->body, "****-****-**90"));
	assert_null(strstr(cp->content->body, "3456"));
	protobuf_c_message_free_unpacked(&cp->base, NULL);
	free(raw);
	PQclear(res);
}

/* moderated before published, in the outbox's id order */
static void assert_outbox_order(const char *id)
{
	const char *p[1] = {id};
	char err[256];
	PGresult *res = ts_pg_query(pg, "SELECT topic FROM simpul.moderation_outbox WHERE "
					"msg_key = $1 ORDER BY id", 1, p, err, sizeof(err));

	assert_non_null(res);
	assert_int_equal(PQntuples(res), 2);
	assert_string_equal(PQgetvalue(res, 0, 0), EVENTS_TOPIC_CONTENT_MODERATED);
	assert_string_equal(PQgetvalue(res, 1, 0), EVENTS_TOPIC_CONTENT_PUBLISHED);
	PQclear(res);
}

/* A text of random words (letters a-p from random bytes) around what and a
 * phone number: its fingerprint is far from every earlier run's (they stay
 * in Redis for a day) and from the other tests' texts. */
static void text_unique(char *out, size_t len, const char *what)
{
	unsigned char rnd[48];
	char words[8][7];

	assert_int_equal(util_random_bytes(rnd, sizeof(rnd)), 0);
	for (int w = 0; w < 8; w++) {
		for (int k = 0; k < 6; k++)
			words[w][k] = (char)('a' + (rnd[w * 6 + k] & 15));
		words[w][6] = '\0';
	}
	snprintf(out, len,
		 "Kabar %s dari %s %s tentang %s %s bersama %s %s dan %s %s. "
		 "Info hubungi 0812-3456-7890.",
		 what, words[0], words[1], words[2], words[3], words[4], words[5], words[6],
		 words[7]);
}

/*
 * One batch: a clean item, spam, the clean item again (a new event: a
 * repeat), a near-duplicate of the clean item from another KIM, four items
 * of one KIM over its burst of 2, a registration. Then the same batch again.
 */
static void test_batch_once_per_item(void **st)
{
	struct rig r;
	struct batch bt = {0};
	char a[40], spam[40], dup[40], reg_kim[40], fl[4][40], flood_kim[40], err[256];
	char text[320], ftext[4][320];
	int rc;

	(void)st;
	rig_open(&r, (int)env.redis_port);
	util_uuid_v4(a);
	util_uuid_v4(spam);
	util_uuid_v4(dup);
	util_uuid_v4(reg_kim);
	util_uuid_v4(flood_kim);
	text_unique(text, sizeof(text), "bersih");
	batch_add_content(&bt, a, fx.kim_id, "Kerja bakti warga", text);
	batch_add_content(&bt, spam, fx.kim_id, "SLOT GACOR MAXWIN",
			  "daftar slot gacor maxwin bonus new member di https://gacor88.xyz");
	batch_add_content(&bt, a, fx.kim_id, "Kerja bakti warga", text);
	batch_add_content(&bt, dup, fx.other_kim_id, "Kerja bakti", text);
	for (int i = 0; i < 4; i++) {
		util_uuid_v4(fl[i]);
		text_unique(ftext[i], sizeof(ftext[i]), "banjir");
		batch_add_content(&bt, fl[i], flood_kim, "Rapat", ftext[i]);
	}
	batch_add_registration(&bt, reg_kim, "KIM Uji Batch");
	rc = mod_pipeline_handle_batch(r.w, bt.m, bt.n, err, sizeof(err));
	if (rc)
		fprintf(stderr, "handle_batch: %s\n", err);
	assert_int_equal(rc, 0);
	/* the repeat: one item, one audit row, one decision, one publication */
	assert_int_equal(items(a), 1);
	assert_int_equal(audits(a), 1);
	assert_int_equal(outbox(a, EVENTS_TOPIC_CONTENT_MODERATED), 1);
	assert_int_equal(outbox(a, EVENTS_TOPIC_CONTENT_PUBLISHED), 1);
	assert_state(a, "approved");
	assert_int_equal(sig_count(a, "PII_PHONE"), 1);
	assert_outbox_order(a);
	assert_published_masked(a);
	/* spam: rejected, never published */
	assert_state(spam, "rejected");
	assert_int_equal(outbox(spam, EVENTS_TOPIC_CONTENT_MODERATED), 1);
	assert_int_equal(outbox(spam, EVENTS_TOPIC_CONTENT_PUBLISHED), 0);
	/* the near-duplicate saw the earlier item of the same batch */
	assert_int_equal(sig_count(dup, "NEAR_DUPLICATE"), 1);
	assert_int_equal(sig_count(a, "NEAR_DUPLICATE"), 0);
	/* flooding in batch order: burst 2, the 3rd and 4th are over */
	assert_int_equal(sig_count(fl[0], "FLOOD_KIM"), 0);
	assert_int_equal(sig_count(fl[1], "FLOOD_KIM"), 0);
	assert_int_equal(sig_count(fl[2], "FLOOD_KIM"), 1);
	assert_int_equal(sig_count(fl[3], "FLOOD_KIM"), 1);
	/* registrations are never auto-approved */
	assert_state(reg_kim, "review");
	assert_int_equal(sig_count(reg_kim, "KIM_REGISTRATION"), 1);
	assert_int_equal(outbox(reg_kim, EVENTS_TOPIC_CONTENT_PUBLISHED), 0);
	/* the same batch again (a redelivery): nothing more */
	assert_int_equal(mod_pipeline_handle_batch(r.w, bt.m, bt.n, err, sizeof(err)), 0);
	assert_int_equal(items(a), 1);
	assert_int_equal(audits(a), 1);
	assert_int_equal(outbox(a, EVENTS_TOPIC_CONTENT_MODERATED), 1);
	assert_int_equal(outbox(a, EVENTS_TOPIC_CONTENT_PUBLISHED), 1);
	assert_int_equal(audits(reg_kim), 1);
	assert_int_equal(outbox(dup, EVENTS_TOPIC_CONTENT_MODERATED), 1);
	batch_release(&bt);
	rig_close(&r);
}

/* A poison message inside a batch: the rest of the batch is stored, the
 * batch answers UTIL_EINVAL, and libs/kafka's one-by-one redo of it (here
 * by hand) finds its neighbours already done and rejects only the poison
 * (which libs/kafka dead-letters). */
static void test_batch_poison(void **st)
{
	struct rig r;
	struct batch bt = {0};
	char g1[40], g2[40], err[256];

	(void)st;
	rig_open(&r, (int)env.redis_port);
	util_uuid_v4(g1);
	util_uuid_v4(g2);
	batch_add_content(&bt, g1, fx.kim_id, "Posyandu", "jadwal posyandu balita hari sabtu");
	batch_add_raw(&bt, EVENTS_TOPIC_CONTENT_SUBMITTED, "poison", "\xff\x01garbage", 9);
	batch_add_content(&bt, g2, fx.kim_id, "Ronda", "jadwal ronda malam minggu ini");
	assert_int_equal(mod_pipeline_handle_batch(r.w, bt.m, bt.n, err, sizeof(err)),
			 UTIL_EINVAL);
	assert_non_null(strstr(err, "protobuf"));
	assert_int_equal(items(g1), 1);
	assert_int_equal(items(g2), 1);
	assert_int_equal(mod_pipeline_handle(r.w, &bt.m[0], err, sizeof(err)), 0);
	assert_int_equal(mod_pipeline_handle(r.w, &bt.m[1], err, sizeof(err)), UTIL_EINVAL);
	assert_int_equal(mod_pipeline_handle(r.w, &bt.m[2], err, sizeof(err)), 0);
	assert_int_equal(items(g1), 1);
	assert_int_equal(audits(g2), 1);
	assert_int_equal(outbox(g1, EVENTS_TOPIC_CONTENT_MODERATED), 1);
	assert_int_equal(outbox(g2, EVENTS_TOPIC_CONTENT_MODERATED), 1);
	batch_release(&bt);
	/* a batch of poison only: nothing stored, nothing marked done */
	batch_add_raw(&bt, EVENTS_TOPIC_CONTENT_SUBMITTED, "poison", "\xff\x01garbage", 9);
	assert_int_equal(mod_pipeline_handle_batch(r.w, bt.m, bt.n, err, sizeof(err)),
			 UTIL_EINVAL);
	assert_int_equal(mod_pipeline_handle(r.w, &bt.m[0], err, sizeof(err)), UTIL_EINVAL);
	batch_release(&bt);
	rig_close(&r);
}

/* ---- a TCP proxy to the real Redis that cuts its first connection on its
 * cut_at-th request (a read from the client) and then stops listening, so
 * Redis stays "down" for the reconnect ---- */

struct proxy {
	int lfd;
	int cut_at;
	int cuts;     /* connections cut so far */
	volatile int stop;
	pthread_t th;
};

static int connect_redis(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)env.redis_port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, env.redis_host, &a.sin_addr);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void proxy_serve(struct proxy *px, int cfd)
{
	int ufd = connect_redis(), requests = 0;
	char buf[65536];

	while (ufd >= 0 && !px->stop) {
		struct pollfd pf[2] = {{cfd, POLLIN, 0}, {ufd, POLLIN, 0}};
		ssize_t n;

		if (poll(pf, 2, 100) <= 0)
			continue;
		if (pf[0].revents) {
			n = read(cfd, buf, sizeof(buf));
			if (n <= 0)
				break;
			if (++requests >= px->cut_at) {
				__atomic_fetch_add(&px->cuts, 1, __ATOMIC_SEQ_CST);
				break; /* Redis "goes away" with the request unanswered */
			}
			if (write(ufd, buf, (size_t)n) != n)
				break;
		}
		if (pf[1].revents) {
			n = read(ufd, buf, sizeof(buf));
			if (n <= 0 || write(cfd, buf, (size_t)n) != n)
				break;
		}
	}
	if (ufd >= 0)
		close(ufd);
	close(cfd);
}

static void *proxy_main(void *p)
{
	struct proxy *px = p;

	while (!px->stop) {
		struct pollfd pf = {px->lfd, POLLIN, 0};
		int cfd;

		if (poll(&pf, 1, 100) <= 0)
			continue;
		cfd = accept(px->lfd, NULL, NULL);
		if (cfd >= 0)
			proxy_serve(px, cfd);
		if (__atomic_load_n(&px->cuts, __ATOMIC_SEQ_CST) > 0)
			break;
	}
	close(px->lfd);
	return NULL;
}

static void proxy_start(struct proxy *px, int cut_at)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(PROXY_PORT),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int one = 1;

	memset(px, 0, sizeof(*px));
	px->cut_at = cut_at;
	px->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(px->lfd >= 0);
	setsockopt(px->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(px->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(px->lfd, 4), 0);
	assert_int_equal(pthread_create(&px->th, NULL, proxy_main, px), 0);
}

static void proxy_stop(struct proxy *px)
{
	px->stop = 1;
	pthread_join(px->th, NULL);
}

/* Three items, the second a near-duplicate of the first, one KIM. */
static void near_batch(struct batch *bt, char ids[3][40])
{
	char text[320], other[320];

	text_unique(text, sizeof(text), "sungai");
	text_unique(other, sizeof(other), "pasar");
	for (int i = 0; i < 3; i++)
		util_uuid_v4(ids[i]);
	batch_add_content(bt, ids[0], fx.kim_id, "Sungai", text);
	batch_add_content(bt, ids[1], fx.other_kim_id, "Sungai", text);
	batch_add_content(bt, ids[2], fx.kim_id, "Pasar", other);
}

/* Redis lost in the middle of a batch: the connection is cut on its third
 * request (after CLIENT SETNAME and the MGET, at the SETs): every item is
 * still decided, the batch succeeds; the near-duplicate inside the batch
 * was already seen from the MGET's answer. */
static void test_batch_redis_lost_midway(void **st)
{
	struct proxy px;
	struct rig r;
	struct batch bt = {0};
	char ids[3][40], err[256];

	(void)st;
	proxy_start(&px, 3);
	rig_open(&r, PROXY_PORT);
	near_batch(&bt, ids);
	assert_int_equal(mod_pipeline_handle_batch(r.w, bt.m, bt.n, err, sizeof(err)), 0);
	assert_int_equal(__atomic_load_n(&px.cuts, __ATOMIC_SEQ_CST), 1);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(items(ids[i]), 1);
		assert_int_equal(outbox(ids[i], EVENTS_TOPIC_CONTENT_MODERATED), 1);
	}
	assert_int_equal(sig_count(ids[1], "NEAR_DUPLICATE"), 1);
	assert_false(cache_available(r.cache)); /* marked down for CACHE_RETRY_MS */
	batch_release(&bt);
	rig_close(&r);
	proxy_stop(&px);
}

/* No Redis at all: near-duplicates are skipped, decisions go on. */
static void test_batch_redis_down(void **st)
{
	struct rig r;
	struct batch bt = {0};
	char ids[3][40], err[256];

	(void)st;
	rig_open(&r, DEAD_PORT);
	near_batch(&bt, ids);
	assert_int_equal(mod_pipeline_handle_batch(r.w, bt.m, bt.n, err, sizeof(err)), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(items(ids[i]), 1);
	assert_int_equal(sig_count(ids[1], "NEAR_DUPLICATE"), 0);
	batch_release(&bt);
	rig_close(&r);
}

static int setup(void **st)
{
	char err[512];

	(void)st;
	if (ts_env_load(&env, err, sizeof(err)) != 0 ||
	    !(pg = ts_pg_connect(env.pg_url, err, sizeof(err))) ||
	    ts_fixture_create(&fx, pg, err, sizeof(err)) != 0) {
		fprintf(stderr, "FAIL: the stack is needed: %s\n", err);
		return -1;
	}
	if (mod_config_load(&cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "FAIL: configuration: %s\n", err);
		return -1;
	}
	cfg.bayes_min_learns = 100000000; /* the classifier stays silent */
	cfg.flood_per_min = 1;
	cfg.flood_burst = 2;
	if (mod_state_init(&state, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "FAIL: moderation state: %s\n", err);
		return -1;
	}
	state_ready = true;
	reg = metrics_registry_new();
	return reg ? 0 : -1;
}

static int teardown(void **st)
{
	(void)st;
	if (state_ready)
		mod_state_release(&state);
	mod_config_release(&cfg);
	metrics_registry_free(reg);
	if (pg)
		PQfinish(pg);
	ts_env_release(&env);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_once_per_item),
		cmocka_unit_test(test_batch_poison),
		cmocka_unit_test(test_batch_redis_lost_midway),
		cmocka_unit_test(test_batch_redis_down),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
