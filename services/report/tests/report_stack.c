/*
 * services/report/tests/report_stack.c - helpers of the report integration
 * tests: a simpul-report child on a free port, synthetic events produced
 * with libs/kafka (envelope + headers as the real producers do), waiting for
 * the consumer group to catch up, and dashboard reads over HTTP.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "events/codec.h"
#include "events/meta.h"
#include "events/topics.h"
#include "kafka/admin.h"
#include "report_stack.h"
#include "util/err.h"

static const char *const rs_topics[] = {
	EVENTS_TOPIC_CONTENT_SUBMITTED, EVENTS_TOPIC_CONTENT_MODERATED, EVENTS_TOPIC_CONTENT_PUBLISHED,
	EVENTS_TOPIC_REGISTRY, EVENTS_TOPIC_NOTIFICATION};

int rs_start(struct rs_service *s, const char *bin, const struct ts_env *env,
	     const char *const *extra, char *err, size_t errlen)
{
	char port[16], redis[16];
	pid_t pid;

	memset(s, 0, sizeof(*s));
	s->port = rs_free_port();
	snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%u", s->port);
	snprintf(s->log, sizeof(s->log), "/tmp/simpul-report-test-%d-%u.log", (int)getpid(),
		 s->port);
	snprintf(port, sizeof(port), "%u", s->port);
	snprintf(redis, sizeof(redis), "%lld", (long long)env->redis_port);
	pid = fork();
	if (pid < 0)
		return util_err_set(err, errlen, UTIL_EIO, "fork failed");
	if (pid == 0) {
		FILE *f = freopen(s->log, "w", stderr);

		if (!f || dup2(2, 1) < 0)
			_exit(127);
		setenv("SIMPUL_REPORT_PORT", port, 1);
		setenv("SIMPUL_REPORT_BIND", "127.0.0.1", 1);
		setenv("SIMPUL_PG_URL", env->pg_url, 1);
		setenv("SIMPUL_REDIS_HOST", env->redis_host, 1);
		setenv("SIMPUL_REDIS_PORT", redis, 1);
		setenv("SIMPUL_KAFKA_BROKERS", env->kafka_brokers, 1);
		for (size_t i = 0; extra && extra[i]; i++)
			putenv((char *)extra[i]);
		execl(bin, bin, (char *)NULL);
		_exit(127);
	}
	s->pid = pid;
	for (int i = 0; i < 300; i++) {
		struct ts_response r;
		char url[128];
		int st;

		if (waitpid(pid, &st, WNOHANG) == pid) {
			s->pid = 0;
			return util_err_set(err, errlen, UTIL_EIO, "simpul-report exited at start (log %s)",
					    s->log);
		}
		snprintf(url, sizeof(url), "%s/readyz", s->base);
		ts_http(&r, "GET", url, NULL, NULL, NULL, 0);
		st = (int)r.status;
		ts_response_release(&r);
		if (st == 200)
			return 0;
		ts_sleep_ms(100);
	}
	return util_err_set(err, errlen, UTIL_ETIMEOUT, "simpul-report not ready (log %s)", s->log);
}

static int count_log(const struct rs_service *s, const char *text)
{
	char line[4096];
	FILE *f = fopen(s->log, "r");
	int n = 0;

	while (f && fgets(line, sizeof(line), f))
		n += strstr(line, text) != NULL;
	if (f)
		fclose(f);
	return n;
}

int rs_wait_log(const struct rs_service *s, const char *text, int ms)
{
	int64_t end = ts_now_ms() + ms, stable_since = 0;
	int last = 0;

	/* at least one line, then no new one for 3 s (the group's rebalances
	 * are over once every consumer thread got its share) */
	while (ts_now_ms() < end) {
		int n = count_log(s, text);

		if (n != last) {
			last = n;
			stable_since = ts_now_ms();
		} else if (n > 0 && ts_now_ms() - stable_since >= 3000) {
			return 0;
		}
		ts_sleep_ms(100);
	}
	return UTIL_ETIMEOUT;
}

unsigned rs_free_port(void)
{
	static unsigned next;

	if (!next) { /* REPORT_TEST_PORT_BASE: a range of one's own on a shared machine */
		const char *base = getenv("REPORT_TEST_PORT_BASE");

		next = base && atoi(base) > 0 ? (unsigned)atoi(base)
					      : 20000 + (unsigned)(getpid() % 20000);
	}
	for (int i = 0; i < 200; i++) {
		unsigned p = next++;

		if (next > 60000)
			next = 20000;
		if (!ts_port_open("127.0.0.1", p))
			return p;
	}
	return 0;
}

int rs_stop(struct rs_service *s)
{
	int st = 0;

	if (s->pid <= 0)
		return 0;
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
	return 137;
}

long rs_rss_kb(const struct rs_service *s)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", s->pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

struct kafka_producer *rs_producer(const struct ts_env *env, char *err, size_t errlen)
{
	struct kafka_producer_config pc = {.brokers = env->kafka_brokers,
					   .client_id = "report-test"};

	return kafka_producer_new(&pc, err, errlen);
}

int rs_send(struct kafka_producer *p, const char *topic, const char *key,
	    const ProtobufCMessage *msg, const Simpul__V1__EventMeta *meta, char *err,
	    size_t errlen)
{
	struct util_buf out;
	struct events_headers hs;
	size_t nh = events_headers_from_meta(&hs, meta);
	int rc;

	util_buf_init(&out, 0);
	rc = events_pack(msg, 0, &out, err, errlen);
	for (int i = 0; rc == 0 && i < 100; i++) {
		rc = kafka_producer_send(p, topic, key, strlen(key), out.data, out.len, hs.h, nh,
					 NULL);
		if (rc != UTIL_EUNAVAIL)
			break;
		kafka_producer_poll(p, 50);
	}
	util_buf_release(&out);
	return rc;
}

int rs_lag_snapshot(const struct ts_env *env, const char *group, struct rs_lag *l, char *err,
		    size_t errlen)
{
	return kafka_group_lag(env->kafka_brokers, group, rs_topics, 5, 10000, &l->p, &l->n, err,
			       errlen);
}

/* High watermark of topic/partition in l, -1 if absent. */
static int64_t base_high(const struct rs_lag *l, const char *topic, int32_t partition)
{
	for (size_t i = 0; l && i < l->n; i++)
		if (l->p[i].partition == partition && !strcmp(l->p[i].topic, topic))
			return l->p[i].high;
	return -1;
}

int rs_wait_lag(const struct ts_env *env, const char *group, const struct rs_lag *base, int ms,
		char *err, size_t errlen)
{
	const char *const *topics = rs_topics;
	struct kafka_partition_lag *want = NULL;
	size_t nwant = 0, behind = 0;
	int64_t end = ts_now_ms() + ms;

	/* the high watermarks now: everything produced so far must be committed */
	if (kafka_group_lag(env->kafka_brokers, group, topics, 5, 10000, &want, &nwant, err,
			    errlen) != 0)
		return UTIL_EUNAVAIL;
	while (ts_now_ms() < end) {
		struct kafka_partition_lag *now = NULL;
		size_t n = 0;

		behind = nwant;
		if (kafka_group_lag(env->kafka_brokers, group, topics, 5, 10000, &now, &n, err,
				    errlen) == 0) {
			behind = 0;
			for (size_t i = 0; i < nwant; i++) {
				/* nothing produced there since the snapshot: a consumer
				 * that started at the end has nothing to commit */
				bool ok = want[i].high == 0 ||
					  want[i].high == base_high(base, want[i].topic,
								    want[i].partition);

				for (size_t k = 0; k < n && !ok; k++)
					ok = now[k].partition == want[i].partition &&
					     !strcmp(now[k].topic, want[i].topic) &&
					     now[k].committed >= want[i].high;
				behind += !ok;
			}
		}
		free(now);
		if (behind == 0) {
			free(want);
			return 0;
		}
		ts_sleep_ms(300);
	}
	free(want);
	return util_err_set(err, errlen, UTIL_ETIMEOUT, "%zu partitions not caught up", behind);
}

json_t *rs_get_json(const struct rs_service *s, const char *token, const char *path_query,
		    long *status)
{
	char url[512], auth[128];
	const char *h[] = {auth, NULL};
	struct ts_response r;
	json_t *j;

	snprintf(url, sizeof(url), "%s%s", s->base, path_query);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token ? token : "none");
	ts_http(&r, "GET", url, token ? h : NULL, NULL, NULL, 0);
	*status = r.status;
	j = r.body ? json_loads(r.body, 0, NULL) : NULL;
	ts_response_release(&r);
	return j;
}

long long rs_jint(json_t *j, const char *path)
{
	char buf[256], *save = NULL;
	json_t *cur = j;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *tok = strtok_r(buf, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save))
		cur = json_object_get(cur, tok);
	if (!cur)
		return -1;
	return json_is_integer(cur) ? (long long)json_integer_value(cur)
				    : (long long)(json_number_value(cur) * 1000.0 + 0.5);
}
