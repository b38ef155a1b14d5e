/*
 * producer.c - the idempotent producer (acks=all, lz4, short linger) with
 * a per-message delivery report carrying the caller's opaque.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kafka/producer.h"
#include "slog/slog.h"
#include "util/err.h"

struct kafka_producer {
	rd_kafka_t *rk;
	kafka_delivery_fn on_delivery;
	void *ud;
};

/* Runs on the thread that polls; m->_private is the caller's opaque. */
static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct kafka_producer *p = opaque;

	(void)rk;
	if (m->err) {
		char qtopic[256];
		slog_debug("kafka delivery failed", "topic=%s code=%s",
			   slog_quote(qtopic, sizeof qtopic, rd_kafka_topic_name(m->rkt)),
			   rd_kafka_err2name(m->err));
	}
	if (p->on_delivery)
		p->on_delivery(p->ud, m->_private, kafka_err_map(m->err),
			       m->err ? rd_kafka_err2str(m->err) : "");
}

static int producer_conf(rd_kafka_conf_t *conf, const struct kafka_producer_config *cfg,
			 char *err, size_t errlen)
{
	char linger[16], timeout[16];

	snprintf(linger, sizeof linger, "%d", cfg->linger_ms > 0 ? cfg->linger_ms : 5);
	snprintf(timeout, sizeof timeout, "%d",
		 cfg->message_timeout_ms > 0 ? cfg->message_timeout_ms : 30000);
	if (kafka_conf_put(conf, "enable.idempotence", "true", err, errlen) ||
	    kafka_conf_put(conf, "acks", "all", err, errlen) ||
	    kafka_conf_put(conf, "linger.ms", linger, err, errlen) ||
	    kafka_conf_put(conf, "compression.type", "lz4", err, errlen) ||
	    kafka_conf_put(conf, "message.timeout.ms", timeout, err, errlen) ||
	    kafka_conf_put(conf, "partitioner", "murmur2_random", err, errlen))
		return UTIL_EINVAL;
	return kafka_conf_extra(conf, cfg->extra, cfg->nextra, err, errlen);
}

struct kafka_producer *kafka_producer_new(const struct kafka_producer_config *cfg, char *err,
					  size_t errlen)
{
	char errstr[512];
	rd_kafka_conf_t *conf = NULL;
	struct kafka_producer *p = NULL;

	if (!cfg) {
		util_err_set(err, errlen, UTIL_EINVAL, "kafka producer: no config");
		return NULL;
	}
	p = calloc(1, sizeof *p);
	if (!p) {
		util_err_set(err, errlen, UTIL_ENOMEM, "kafka producer: out of memory");
		return NULL;
	}
	p->on_delivery = cfg->on_delivery;
	p->ud = cfg->ud;
	conf = kafka_conf_base(cfg->brokers, cfg->client_id, err, errlen);
	if (!conf || producer_conf(conf, cfg, err, errlen))
		goto fail;
	rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
	rd_kafka_conf_set_opaque(conf, p);
	p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
	if (!p->rk) {
		util_err_set(err, errlen, UTIL_EINVAL, "kafka producer: %s", errstr);
		goto fail;
	}
	return p; /* conf now owned by p->rk */
fail:
	if (conf)
		rd_kafka_conf_destroy(conf);
	free(p);
	return NULL;
}

static rd_kafka_headers_t *headers_build(const struct kafka_header *h, size_t nh)
{
	rd_kafka_headers_t *hdrs = rd_kafka_headers_new(nh);

	for (size_t i = 0; i < nh; i++) {
		if (!h[i].name || (h[i].len && !h[i].value) ||
		    rd_kafka_header_add(hdrs, h[i].name, -1, h[i].value, (ssize_t)h[i].len)) {
			rd_kafka_headers_destroy(hdrs);
			return NULL;
		}
	}
	return hdrs;
}

int kafka_producer_send(struct kafka_producer *p, const char *topic, const void *key,
			size_t keylen, const void *value, size_t vlen, const struct kafka_header *h,
			size_t nh, void *opaque)
{
	rd_kafka_headers_t *hdrs = NULL;
	rd_kafka_resp_err_t e;

	if (!p || !topic || !*topic || (keylen && !key) || (vlen && !value) || (nh && !h))
		return UTIL_EINVAL;
	if (rd_kafka_fatal_error(p->rk, NULL, 0))
		return UTIL_EIO;
	if (nh) {
		hdrs = headers_build(h, nh);
		if (!hdrs)
			return UTIL_EINVAL;
	}
	e = rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(topic),
			      RD_KAFKA_V_KEY((void *)key, keylen),
			      RD_KAFKA_V_VALUE((void *)value, vlen),
			      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			      RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
	if (e) {
		/* on failure the headers were not taken over */
		if (hdrs)
			rd_kafka_headers_destroy(hdrs);
		if (e == RD_KAFKA_RESP_ERR__FATAL)
			return UTIL_EIO;
		return kafka_err_map(e);
	}
	return 0;
}

int kafka_producer_poll(struct kafka_producer *p, int timeout_ms)
{
	return p ? rd_kafka_poll(p->rk, timeout_ms) : 0;
}

int kafka_producer_flush(struct kafka_producer *p, int timeout_ms)
{
	if (!p)
		return UTIL_EINVAL;
	if (rd_kafka_flush(p->rk, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return UTIL_ETIMEOUT;
	return 0;
}

void kafka__producer_purge_queue(struct kafka_producer *p)
{
	if (!p)
		return;
	rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_NON_BLOCKING);
	rd_kafka_poll(p->rk, 0);
}

int kafka_producer_outq_len(struct kafka_producer *p)
{
	return p ? rd_kafka_outq_len(p->rk) : 0;
}

bool kafka_producer_fatal(struct kafka_producer *p, char *errbuf, size_t errlen)
{
	char tmp[512];
	rd_kafka_resp_err_t e;

	if (!p)
		return false;
	e = rd_kafka_fatal_error(p->rk, tmp, sizeof tmp);
	if (!e)
		return false;
	if (errbuf && errlen)
		snprintf(errbuf, errlen, "%s: %s", rd_kafka_err2name(e), tmp);
	return true;
}

bool kafka_producer_ready(struct kafka_producer *p, int timeout_ms)
{
	const struct rd_kafka_metadata *md = NULL;
	bool ok;

	if (!p || kafka_producer_fatal(p, NULL, 0))
		return false;
	if (rd_kafka_metadata(p->rk, 0, NULL, &md, timeout_ms))
		return false;
	ok = md->broker_cnt > 0;
	rd_kafka_metadata_destroy(md);
	return ok;
}

void kafka_producer_free(struct kafka_producer *p)
{
	if (!p)
		return;
	if (rd_kafka_flush(p->rk, 10000)) {
		slog_warn("kafka producer closing with undelivered messages", "count=%d",
			  rd_kafka_outq_len(p->rk));
		rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_poll(p->rk, 0); /* serves the purged messages' reports */
	}
	rd_kafka_destroy(p->rk);
	free(p);
}
