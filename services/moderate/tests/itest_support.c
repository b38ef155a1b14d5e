/*
 * services/moderate/tests/itest_support.c - helpers of the moderation
 * integration test: spawn simpul-moderate on a free port, extra moderators,
 * synthetic ContentSubmitted / RegistryEvent events, HTTP with a token.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "events/codec.h"
#include "events/topics.h"
#include "events/meta.h"
#include "itest_support.h"
#include "util/buf.h"
#include "util/ids.h"

static unsigned free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned port = 0;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &l) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

int it_moderate_start(struct it_service *s, const struct ts_env *env, const char *bin,
		      const char *const *extra)
{
	char port[16], redis_port[16];

	s->port = free_port();
	snprintf(s->base_url, sizeof(s->base_url), "http://127.0.0.1:%u", s->port);
	snprintf(s->log_path, sizeof(s->log_path), "/tmp/moderate-itest-%d.log", (int)getpid());
	snprintf(port, sizeof(port), "%u", s->port);
	snprintf(redis_port, sizeof(redis_port), "%lld", (long long)env->redis_port);
	s->pid = fork();
	if (s->pid == 0) {
		int fd = open(s->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(fd, 1);
		dup2(fd, 2);
		setenv("SIMPUL_MODERATE_PORT", port, 1);
		setenv("SIMPUL_PG_URL", env->pg_url, 1);
		setenv("SIMPUL_REDIS_HOST", env->redis_host, 1);
		setenv("SIMPUL_REDIS_PORT", redis_port, 1);
		setenv("SIMPUL_KAFKA_BROKERS", env->kafka_brokers, 1);
		for (size_t i = 0; extra && extra[i]; i++)
			putenv((char *)extra[i]);
		execl(bin, bin, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 300; i++) {
		struct ts_response r;
		char url[128];

		snprintf(url, sizeof(url), "%s/healthz", s->base_url);
		ts_http(&r, "GET", url, NULL, NULL, NULL, 0);
		ts_response_release(&r);
		if (r.status == 200)
			return 0;
		if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
			s->pid = 0;
			return -1;
		}
		ts_sleep_ms(100);
	}
	return -1;
}

int it_moderate_stop(struct it_service *s)
{
	int st = 0;

	if (s->pid <= 0)
		return -1;
	kill(s->pid, SIGTERM);
	for (int i = 0; i < 300; i++) {
		if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
			s->pid = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		ts_sleep_ms(50);
	}
	kill(s->pid, SIGKILL);
	waitpid(s->pid, &st, 0);
	s->pid = 0;
	return -1;
}

int it_user(PGconn *pg, const char *run, const char *role, const char *prefix,
	    struct ts_user *u)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char rnd[43], hash[32];
	char hex[65], name[96], err[256];
	PGresult *res;

	if (util_random_bytes(rnd, sizeof(rnd)) != 0)
		return -1;
	memcpy(u->token, "simpul_", 7);
	for (int i = 0; i < 43; i++)
		u->token[7 + i] = b64[rnd[i] & 63];
	u->token[50] = '\0';
	util_sha256(u->token, strlen(u->token), hash);
	util_hex(hash, 32, hex);
	snprintf(name, sizeof(name), "itest %s %s %s", run, role, prefix ? prefix : "");
	{
		const char *p[4] = {name, role, prefix, hex};

		res = ts_pg_query(pg,
				  "WITH u AS (INSERT INTO simpul.users (name, role, region_prefix) "
				  "VALUES ($1, $2, $3) RETURNING id) INSERT INTO simpul.api_tokens "
				  "(user_id, token_hash, label) SELECT id, decode($4, 'hex'), 'itest' "
				  "FROM u RETURNING user_id",
				  4, p, err, sizeof(err));
	}
	if (!res) {
		fprintf(stderr, "it_user: %s\n", err);
		return -1;
	}
	snprintf(u->id, sizeof(u->id), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

static int produce(const struct ts_env *env, const char *topic, const char *key,
		   const ProtobufCMessage *m)
{
	struct util_buf b;
	char err[256];
	int rc;

	util_buf_init(&b, 0);
	rc = events_pack(m, 0, &b, err, sizeof(err));
	if (rc == 0)
		rc = ts_kafka_produce(env->kafka_brokers, topic, key, b.data, b.len, err,
				      sizeof(err));
	if (rc)
		fprintf(stderr, "produce: %s\n", err);
	util_buf_release(&b);
	return rc;
}

int it_submit(const struct ts_env *env, const char *id, const char *region, const char *kim,
	      const char *author, const char *title, const char *body)
{
	Simpul__V1__ContentSubmitted cs = SIMPUL__V1__CONTENT_SUBMITTED__INIT;
	Simpul__V1__Content c = SIMPUL__V1__CONTENT__INIT;
	struct events_meta_buf mb;
	char err[128];

	if (events_meta_init(&mb, "content.submitted", "itest@localhost", NULL, err, sizeof(err)))
		return -1;
	c.id = (char *)id;
	c.version = 1;
	c.type = SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_BERITA;
	c.title = (char *)title;
	c.body = (char *)body;
	c.region_code = (char *)region;
	c.kim_id = (char *)(kim ? kim : "");
	c.author_id = (char *)(author ? author : "");
	c.source = SIMPUL__V1__CONTENT_SOURCE__CONTENT_SOURCE_API;
	c.submitted_at_ms = util_now_ms();
	cs.meta = &mb.meta;
	cs.content = &c;
	return produce(env, "kim.content.submitted.v1", id, &cs.base);
}

int it_register(const struct ts_env *env, const char *kim_id, const char *region,
		const char *name)
{
	Simpul__V1__RegistryEvent re = SIMPUL__V1__REGISTRY_EVENT__INIT;
	Simpul__V1__Kim k = SIMPUL__V1__KIM__INIT;
	struct events_meta_buf mb;
	char err[128];

	if (events_meta_init(&mb, "registry.registered", "itest@localhost", NULL, err,
			     sizeof(err)))
		return -1;
	k.id = (char *)kim_id;
	k.name = (char *)name;
	k.region_code = (char *)region;
	k.status = SIMPUL__V1__KIM_STATUS__KIM_STATUS_PENDING;
	k.registered_at_ms = util_now_ms();
	re.meta = &mb.meta;
	re.kim = &k;
	re.action = "registered";
	return produce(env, "kim.registry.v1", kim_id, &re.base);
}

long it_call(struct ts_response *r, const char *method, const char *url, const char *token,
	     const char *json)
{
	char auth[128];
	const char *h[2] = {auth, NULL};

	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	ts_http(r, method, url, h, json ? "application/json" : NULL, json, json ? strlen(json) : 0);
	return r->status;
}

int it_group_at_end(const char *brokers, const char *group, const char *const *topics, size_t n)
{
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(64);
	int rc = -1;

	if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err)) ||
	    !(rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err)))) {
		fprintf(stderr, "it_group_at_end: %s\n", err);
		rd_kafka_topic_partition_list_destroy(l);
		return -1;
	}
	for (size_t t = 0; t < n; t++) {
		const struct events_topic *et = events_topic_find(topics[t]);

		for (int p = 0; et && p < et->partitions; p++) {
			int64_t lo, hi;

			if (rd_kafka_query_watermark_offsets(rk, topics[t], p, &lo, &hi, 10000))
				goto out;
			rd_kafka_topic_partition_list_add(l, topics[t], p)->offset = hi;
		}
	}
	rc = rd_kafka_commit(rk, l, 0) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
out:
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_destroy(rk);
	return rc;
}
