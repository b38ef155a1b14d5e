/*
 * common.c - configuration helpers, slog routing of librdkafka's log and
 * error callbacks, header lookup and the broker ping shared by the Kafka
 * wrappers.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "kafka/kafka.h"
#include "slog/slog.h"
#include "util/err.h"

static enum slog_level level_from_syslog(int level)
{
	/* 3 (LOG_ERR) is mostly a failed connection, which error_cb reports too */
	if (level <= 2)
		return SLOG_ERROR;
	if (level <= 4)
		return SLOG_WARN;
	if (level <= 6)
		return SLOG_INFO;
	return SLOG_DEBUG;
}

/* Called from librdkafka's internal threads; slog is thread-safe. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	enum slog_level lvl = level_from_syslog(level);
	char qname[128], qfac[64], qtext[1024];

	if (!slog_enabled(lvl))
		return;
	slog_log(lvl, "kafka log", "client=%s fac=%s text=%s",
		 slog_quote(qname, sizeof qname, rd_kafka_name(rk)),
		 slog_quote(qfac, sizeof qfac, fac), slog_quote(qtext, sizeof qtext, buf));
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	char qname[128], qreason[1024], fatal[512];

	(void)opaque;
	slog_quote(qname, sizeof qname, rd_kafka_name(rk));
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, fatal, sizeof fatal);
		slog_error("kafka fatal error", "client=%s code=%s reason=%s", qname,
			   rd_kafka_err2name(orig), slog_quote(qreason, sizeof qreason, fatal));
		return;
	}
	slog_warn("kafka error", "client=%s code=%s reason=%s", qname,
		  rd_kafka_err2name((rd_kafka_resp_err_t)err),
		  slog_quote(qreason, sizeof qreason, reason));
}

int kafka_conf_put(rd_kafka_conf_t *conf, const char *key, const char *value, char *err,
		   size_t errlen)
{
	char errstr[512];

	if (rd_kafka_conf_set(conf, key, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
		return util_err_set(err, errlen, UTIL_EINVAL, "kafka config \"%s\": %s", key,
				    errstr);
	return 0;
}

int kafka_conf_extra(rd_kafka_conf_t *conf, const struct kafka_kv *kv, size_t n, char *err,
		     size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		if (!kv[i].key || !kv[i].value)
			return util_err_set(err, errlen, UTIL_EINVAL, "kafka config: null pair");
		int rc = kafka_conf_put(conf, kv[i].key, kv[i].value, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

rd_kafka_conf_t *kafka_conf_base(const char *brokers, const char *client_id, char *err,
				 size_t errlen)
{
	rd_kafka_conf_t *conf;

	if (!brokers || !*brokers) {
		util_err_set(err, errlen, UTIL_EINVAL, "kafka: no brokers given");
		return NULL;
	}
	conf = rd_kafka_conf_new();
	if (!conf) {
		util_err_set(err, errlen, UTIL_ENOMEM, "kafka: out of memory");
		return NULL;
	}
	if (kafka_conf_put(conf, "bootstrap.servers", brokers, err, errlen) ||
	    kafka_conf_put(conf, "client.id", client_id ? client_id : "simpul", err, errlen) ||
	    kafka_conf_put(conf, "log.connection.close", "false", err, errlen)) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_log_cb(conf, log_cb);
	rd_kafka_conf_set_error_cb(conf, error_cb);
	return conf;
}

rd_kafka_t *kafka_client_new(const char *brokers, const char *client_id, char *err,
			     size_t errlen)
{
	char errstr[512];
	rd_kafka_conf_t *conf = kafka_conf_base(brokers, client_id, err, errlen);
	rd_kafka_t *rk;

	if (!conf)
		return NULL;
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
	if (!rk) {
		rd_kafka_conf_destroy(conf);
		util_err_set(err, errlen, UTIL_EINVAL, "kafka client: %s", errstr);
	}
	return rk; /* on success rd_kafka_new owns conf */
}

int kafka_err_map(rd_kafka_resp_err_t e)
{
	switch (e) {
	case RD_KAFKA_RESP_ERR_NO_ERROR:
		return 0;
	case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
	case RD_KAFKA_RESP_ERR__TIMED_OUT:
	case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
		return UTIL_ETIMEOUT;
	case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
		return UTIL_ETOOBIG;
	case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
	case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
	case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
		return UTIL_ENOTFOUND;
	case RD_KAFKA_RESP_ERR__QUEUE_FULL:
	case RD_KAFKA_RESP_ERR__TRANSPORT:
	case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
	case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
	case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
	case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
	case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
	case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
	case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
		return UTIL_EUNAVAIL;
	case RD_KAFKA_RESP_ERR__INVALID_ARG:
		return UTIL_EINVAL;
	default:
		return UTIL_EIO;
	}
}

bool kafka_message_header(const struct kafka_message *m, const char *name, const void **value,
			  size_t *len)
{
	if (!m || !name)
		return false;
	for (size_t i = m->nheaders; i-- > 0;) {
		if (m->headers[i].name && strcmp(m->headers[i].name, name) == 0) {
			if (value)
				*value = m->headers[i].value;
			if (len)
				*len = m->headers[i].len;
			return true;
		}
	}
	return false;
}

int kafka_message_header_str(const struct kafka_message *m, const char *name, char *out,
			     size_t outlen)
{
	const void *v = NULL;
	size_t len = 0;

	if (!out || outlen == 0)
		return UTIL_EINVAL;
	out[0] = '\0';
	if (!kafka_message_header(m, name, &v, &len))
		return UTIL_ENOTFOUND;
	if (len >= outlen)
		return UTIL_ETOOBIG;
	if (len && memchr(v, '\0', len))
		return UTIL_EINVAL;
	if (len)
		memcpy(out, v, len);
	out[len] = '\0';
	return 0;
}

int kafka_ping(const char *brokers, int timeout_ms, char *err, size_t errlen)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t e;
	rd_kafka_t *rk = kafka_client_new(brokers, "simpul-ping", err, errlen);
	int rc = 0;

	if (!rk)
		return UTIL_EINVAL;
	e = rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms);
	if (e)
		rc = util_err_set(err, errlen, UTIL_EUNAVAIL, "kafka \"%s\" unreachable: %s",
				  brokers, rd_kafka_err2str(e));
	else if (md->broker_cnt <= 0)
		rc = util_err_set(err, errlen, UTIL_EUNAVAIL, "kafka \"%s\": no brokers", brokers);
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_destroy(rk);
	return rc;
}
