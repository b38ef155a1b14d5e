/*
 * ts_kafka.c - Kafka for the tests, straight on librdkafka (independent of
 * libs/kafka): a reader assigned at the end of every partition of a topic
 * that keeps every message it sees, and a synchronous producer.
 */
#include "ts/ts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include <util/err.h>
#include <util/ids.h>

struct ts_reader {
	rd_kafka_t *rk;
	struct ts_kmsg *msgs;
	size_t n, cap;
};

static rd_kafka_conf_t *base_conf(const char *brokers, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, errlen) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "log_level", "3", err, errlen) != RD_KAFKA_CONF_OK) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	return conf;
}

static int assign_end(rd_kafka_t *rk, const char *topic, char *err, size_t errlen)
{
	rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_partition_list_t *l = NULL;
	rd_kafka_resp_err_t e;
	int rc = 0;

	e = rd_kafka_metadata(rk, 0, t, &md, 10000);
	if (e || md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt < 1) {
		rc = util_err_set(err, errlen, UTIL_EUNAVAIL, "topic '%s' metadata: %s", topic,
				  rd_kafka_err2str(e ? e : md->topics[0].err));
		goto out;
	}
	l = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
	for (int i = 0; i < md->topics[0].partition_cnt; i++) {
		int32_t p = md->topics[0].partitions[i].id;
		int64_t lo, hi;
		e = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000);
		if (e) {
			rc = util_err_set(err, errlen, UTIL_EUNAVAIL, "'%s' [%d] watermarks: %s",
					  topic, p, rd_kafka_err2str(e));
			goto out;
		}
		rd_kafka_topic_partition_list_add(l, topic, p)->offset = hi;
	}
	e = rd_kafka_assign(rk, l);
	if (e)
		rc = util_err_set(err, errlen, UTIL_EIO, "assign '%s': %s", topic, rd_kafka_err2str(e));
out:
	if (l)
		rd_kafka_topic_partition_list_destroy(l);
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(t);
	return rc;
}

struct ts_reader *ts_reader_new(const char *brokers, const char *topic, char *err, size_t errlen)
{
	struct ts_reader *r = calloc(1, sizeof(*r));
	rd_kafka_conf_t *conf = r ? base_conf(brokers, err, errlen) : NULL;
	char group[64], trace[UTIL_TRACE_STRLEN + 1];

	if (!conf)
		goto fail;
	util_trace_id(trace);
	snprintf(group, sizeof(group), "simpul-test-%s", trace);
	if (rd_kafka_conf_set(conf, "group.id", group, err, errlen) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, errlen) !=
		    RD_KAFKA_CONF_OK) {
		rd_kafka_conf_destroy(conf);
		goto fail;
	}
	r->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
	if (!r->rk) {
		rd_kafka_conf_destroy(conf);
		goto fail;
	}
	/* Right after topics are created (or a broker restarted) partitions may
	 * have no leader yet: metadata and watermarks fail with a retriable
	 * error ("not leader for partition") for a while. */
	for (int i = 0;; i++) {
		int rc = assign_end(r->rk, topic, err, errlen);
		if (rc == 0)
			break;
		if (rc != UTIL_EUNAVAIL || i >= 120)
			goto fail;
		usleep(500 * 1000);
	}
	return r;
fail:
	ts_reader_free(r);
	return NULL;
}

static void kmsg_headers(struct ts_kmsg *k, rd_kafka_message_t *m)
{
	rd_kafka_headers_t *h = NULL;
	const char *name;
	const void *val;
	size_t size, cnt;

	if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR || !h)
		return;
	cnt = rd_kafka_header_cnt(h);
	k->hnames = calloc(cnt, sizeof(char *));
	k->hvalues = calloc(cnt, sizeof(char *));
	if (!k->hnames || !k->hvalues)
		return;
	for (size_t i = 0; rd_kafka_header_get_all(h, i, &name, &val, &size) == 0; i++) {
		k->hnames[i] = strdup(name);
		k->hvalues[i] = strndup(val ? val : "", val ? size : 0);
		k->nheaders = i + 1;
	}
}

static int append(struct ts_reader *r, rd_kafka_message_t *m)
{
	struct ts_kmsg *k;

	if (r->n == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 64;
		struct ts_kmsg *nm = realloc(r->msgs, ncap * sizeof(*nm));
		if (!nm)
			return UTIL_ENOMEM;
		r->msgs = nm;
		r->cap = ncap;
	}
	k = &r->msgs[r->n++];
	memset(k, 0, sizeof(*k));
	k->key = strndup(m->key ? (const char *)m->key : "", m->key ? m->key_len : 0);
	k->value = malloc(m->len ? m->len : 1);
	if (k->value && m->len)
		memcpy(k->value, m->payload, m->len);
	k->value_len = m->len;
	k->partition = m->partition;
	k->offset = m->offset;
	kmsg_headers(k, m);
	return 0;
}

size_t ts_reader_poll(struct ts_reader *r, int ms)
{
	int64_t end = ts_now_ms() + ms;
	size_t got = 0;

	do {
		int64_t left = end - ts_now_ms();
		rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, left > 0 ? (int)left : 0);
		if (!m)
			continue;
		if (!m->err && append(r, m) == 0)
			got++;
		rd_kafka_message_destroy(m);
	} while (ts_now_ms() < end);
	return got;
}

const struct ts_kmsg *ts_reader_msgs(const struct ts_reader *r, size_t *n)
{
	*n = r->n;
	return r->msgs;
}

size_t ts_reader_count_key(const struct ts_reader *r, const char *key)
{
	size_t c = 0;

	for (size_t i = 0; i < r->n; i++)
		c += strcmp(r->msgs[i].key, key) == 0;
	return c;
}

const struct ts_kmsg *ts_reader_find_key(const struct ts_reader *r, const char *key)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->msgs[i].key, key) == 0)
			return &r->msgs[i];
	return NULL;
}

size_t ts_reader_wait_keys(struct ts_reader *r, const char *const *keys, size_t nkeys, int ms)
{
	int64_t end = ts_now_ms() + ms;
	size_t missing;

	for (;;) {
		missing = 0;
		for (size_t i = 0; i < nkeys; i++)
			missing += ts_reader_find_key(r, keys[i]) == NULL;
		if (missing == 0 || ts_now_ms() >= end)
			return missing;
		ts_reader_poll(r, 200);
	}
}

void ts_reader_free(struct ts_reader *r)
{
	if (!r)
		return;
	if (r->rk) {
		rd_kafka_consumer_close(r->rk);
		rd_kafka_destroy(r->rk);
	}
	for (size_t i = 0; i < r->n; i++) {
		for (size_t h = 0; h < r->msgs[i].nheaders; h++) {
			free(r->msgs[i].hnames[h]);
			free(r->msgs[i].hvalues[h]);
		}
		free(r->msgs[i].hnames);
		free(r->msgs[i].hvalues);
		free(r->msgs[i].key);
		free(r->msgs[i].value);
	}
	free(r->msgs);
	free(r);
}

const char *ts_kmsg_header(const struct ts_kmsg *m, const char *name)
{
	for (size_t i = 0; i < m->nheaders; i++)
		if (m->hnames[i] && strcmp(m->hnames[i], name) == 0)
			return m->hvalues[i];
	return NULL;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	*(rd_kafka_resp_err_t *)m->_private = m->err;
}

int ts_kafka_produce(const char *brokers, const char *topic, const char *key, const void *value,
		     size_t len, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = base_conf(brokers, err, errlen);
	rd_kafka_resp_err_t dr = RD_KAFKA_RESP_ERR__IN_PROGRESS, e;
	rd_kafka_t *rk;

	if (!conf)
		return UTIL_EINVAL;
	rd_kafka_conf_set(conf, "acks", "all", NULL, 0);
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen);
	if (!rk) {
		rd_kafka_conf_destroy(conf);
		return UTIL_EIO;
	}
	e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
			      RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
			      RD_KAFKA_V_VALUE((void *)value, len),
			      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&dr),
			      RD_KAFKA_V_END);
	if (!e)
		rd_kafka_flush(rk, 15000);
	rd_kafka_destroy(rk);
	if (e || dr)
		return util_err_set(err, errlen, UTIL_EIO, "produce to '%s': %s", topic,
				    rd_kafka_err2str(e ? e : dr));
	return 0;
}
