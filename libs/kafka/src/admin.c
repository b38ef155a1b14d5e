/*
 * admin.c - topic creation/deletion/listing and consumer-group lag through
 * librdkafka's Admin API, each call on a short-lived client.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kafka/admin.h"
#include "slog/slog.h"
#include "util/err.h"

/* Appends "; msg" to err (which accumulates every failure). */
__attribute__((format(printf, 3, 4))) static void err_append(char *err, size_t errlen,
							      const char *fmt, ...)
{
	size_t used;
	va_list ap;

	if (!err || errlen == 0)
		return;
	used = strnlen(err, errlen);
	if (used + 3 >= errlen)
		return;
	if (used) {
		memcpy(err + used, "; ", 3);
		used += 2;
	}
	va_start(ap, fmt);
	vsnprintf(err + used, errlen - used, fmt, ap);
	va_end(ap);
}

static rd_kafka_AdminOptions_t *admin_options(rd_kafka_t *rk, rd_kafka_admin_op_t op,
					      int timeout_ms, bool op_timeout)
{
	char errstr[256];
	rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, op);

	if (rd_kafka_AdminOptions_set_request_timeout(o, timeout_ms, errstr, sizeof errstr) ||
	    (op_timeout &&
	     rd_kafka_AdminOptions_set_operation_timeout(o, timeout_ms, errstr, sizeof errstr)))
		slog_warn("kafka admin option refused", "reason=%s", errstr);
	return o;
}

/* Waits for an admin result; NULL with err set on a timeout or request error. */
static rd_kafka_event_t *admin_wait(rd_kafka_queue_t *q, int timeout_ms, const char *what,
				    int *rc, char *err, size_t errlen)
{
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 5000);
	rd_kafka_resp_err_t e;

	if (!ev) {
		*rc = util_err_set(err, errlen, UTIL_EUNAVAIL, "kafka %s: no answer", what);
		return NULL;
	}
	e = rd_kafka_event_error(ev);
	if (e) {
		int code = kafka_err_map(e);
		if (code == UTIL_ETIMEOUT || code == UTIL_EIO)
			code = UTIL_EUNAVAIL;
		*rc = util_err_set(err, errlen, code, "kafka %s: %s", what,
				   rd_kafka_event_error_string(ev));
		rd_kafka_event_destroy(ev);
		return NULL;
	}
	return ev;
}

static int check_specs(const struct kafka_topic_spec *specs, size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++)
		if (!specs[i].name || !*specs[i].name || specs[i].partitions < 1 ||
		    specs[i].replication < 1)
			return util_err_set(err, errlen, UTIL_EINVAL, "bad topic spec %zu (\"%s\")",
					    i, specs[i].name ? specs[i].name : "");
	return 0;
}

static rd_kafka_NewTopic_t **new_topics(const struct kafka_topic_spec *specs, size_t n, char *err,
					size_t errlen)
{
	char errstr[256];
	rd_kafka_NewTopic_t **nts = calloc(n, sizeof *nts);

	for (size_t i = 0; nts && i < n; i++) {
		nts[i] = rd_kafka_NewTopic_new(specs[i].name, specs[i].partitions,
					       specs[i].replication, errstr, sizeof errstr);
		if (nts[i] && specs[i].compacted &&
		    rd_kafka_NewTopic_set_config(nts[i], "cleanup.policy", "compact"))
			snprintf(errstr, sizeof errstr, "cleanup.policy refused");
		else if (nts[i])
			continue;
		util_err_set(err, errlen, UTIL_EINVAL, "topic \"%s\": %s", specs[i].name, errstr);
		rd_kafka_NewTopic_destroy_array(nts, i + 1);
		free(nts);
		return NULL;
	}
	return nts;
}

static int ensure_results(rd_kafka_event_t *ev, const struct kafka_topic_spec *specs, size_t n,
			  enum kafka_topic_result *results, char *err, size_t errlen)
{
	size_t cnt = 0;
	const rd_kafka_topic_result_t **tr =
		rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
	int rc = 0;

	for (size_t i = 0; i < cnt; i++) {
		const char *name = rd_kafka_topic_result_name(tr[i]);
		rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
		enum kafka_topic_result r = KAFKA_TOPIC_CREATED;
		if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
			r = KAFKA_TOPIC_EXISTED;
		} else if (e) {
			r = KAFKA_TOPIC_FAILED;
			rc = UTIL_EIO;
			err_append(err, errlen, "topic \"%s\": %s", name,
				   rd_kafka_topic_result_error_string(tr[i]));
		}
		for (size_t k = 0; results && k < n; k++)
			if (strcmp(specs[k].name, name) == 0)
				results[k] = r;
	}
	return rc;
}

static int partitions_of(const struct rd_kafka_metadata *md, const char *name)
{
	for (int i = 0; i < md->topic_cnt; i++)
		if (strcmp(md->topics[i].topic, name) == 0 && !md->topics[i].err)
			return md->topics[i].partition_cnt;
	return -1;
}

/*
 * "Already exists" is only fine with the partition count of the spec
 * (partitions decide key placement and parallelism): compares the existing
 * topics with the cluster's metadata. 0, UTIL_ECONFLICT or UTIL_EUNAVAIL.
 */
static int check_existing(rd_kafka_t *rk, const struct kafka_topic_spec *specs, size_t n,
			  enum kafka_topic_result *res, int timeout_ms, char *err, size_t errlen)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t e;
	int rc = 0;

	e = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
	if (e) {
		err_append(err, errlen, "cannot check partition counts: %s", rd_kafka_err2str(e));
		return UTIL_EUNAVAIL;
	}
	for (size_t i = 0; i < n; i++) {
		int have = res[i] == KAFKA_TOPIC_EXISTED ? partitions_of(md, specs[i].name) : -1;

		if (have < 0 || have == specs[i].partitions)
			continue;
		res[i] = KAFKA_TOPIC_MISMATCH;
		rc = UTIL_ECONFLICT;
		err_append(err, errlen, "topic \"%s\": has %d partitions, spec says %d",
			   specs[i].name, have, specs[i].partitions);
	}
	rd_kafka_metadata_destroy(md);
	return rc;
}

int kafka_topics_ensure(const char *brokers, const struct kafka_topic_spec *specs, size_t n,
			int timeout_ms, enum kafka_topic_result *results, char *err,
			size_t errlen)
{
	rd_kafka_t *rk = NULL;
	rd_kafka_NewTopic_t **nts = NULL;
	rd_kafka_queue_t *q = NULL;
	rd_kafka_AdminOptions_t *o = NULL;
	rd_kafka_event_t *ev = NULL;
	enum kafka_topic_result *res = NULL;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	for (size_t i = 0; results && i < n; i++)
		results[i] = KAFKA_TOPIC_FAILED;
	rc = check_specs(specs, n, err, errlen);
	if (rc || n == 0)
		return rc;
	res = calloc(n, sizeof *res);
	if (!res)
		return util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		res[i] = KAFKA_TOPIC_FAILED;
	rk = kafka_client_new(brokers, "simpul-admin", err, errlen);
	nts = rk ? new_topics(specs, n, err, errlen) : NULL;
	if (!nts) {
		rc = UTIL_EINVAL;
		goto out;
	}
	q = rd_kafka_queue_new(rk);
	o = admin_options(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout_ms, true);
	rd_kafka_CreateTopics(rk, nts, n, o, q);
	ev = admin_wait(q, timeout_ms, "create topics", &rc, err, errlen);
	if (ev)
		rc = ensure_results(ev, specs, n, res, err, errlen);
	if (ev && !rc)
		rc = check_existing(rk, specs, n, res, timeout_ms, err, errlen);
	for (size_t i = 0; ev && results && i < n; i++)
		results[i] = res[i];
out:
	free(res);
	if (ev)
		rd_kafka_event_destroy(ev);
	if (o)
		rd_kafka_AdminOptions_destroy(o);
	if (q)
		rd_kafka_queue_destroy(q);
	if (nts) {
		rd_kafka_NewTopic_destroy_array(nts, n);
		free(nts);
	}
	if (rk)
		rd_kafka_destroy(rk);
	return rc;
}

static int delete_results(rd_kafka_event_t *ev, char *err, size_t errlen)
{
	size_t cnt = 0;
	const rd_kafka_topic_result_t **tr =
		rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &cnt);
	int rc = 0;

	for (size_t i = 0; i < cnt; i++) {
		rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
		if (!e || e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
			continue;
		rc = UTIL_EIO;
		err_append(err, errlen, "topic \"%s\": %s", rd_kafka_topic_result_name(tr[i]),
			   rd_kafka_topic_result_error_string(tr[i]));
	}
	return rc;
}

int kafka_topics_delete(const char *brokers, const char *const *names, size_t n, int timeout_ms,
			char *err, size_t errlen)
{
	rd_kafka_t *rk;
	rd_kafka_DeleteTopic_t **dts = NULL;
	rd_kafka_queue_t *q = NULL;
	rd_kafka_AdminOptions_t *o = NULL;
	rd_kafka_event_t *ev = NULL;
	int rc = 0;

	if (err && errlen)
		err[0] = '\0';
	if (n == 0)
		return 0;
	rk = kafka_client_new(brokers, "simpul-admin", err, errlen);
	if (!rk)
		return UTIL_EINVAL;
	dts = calloc(n, sizeof *dts);
	if (!dts) {
		rc = util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		dts[i] = rd_kafka_DeleteTopic_new(names[i]);
	q = rd_kafka_queue_new(rk);
	o = admin_options(rk, RD_KAFKA_ADMIN_OP_DELETETOPICS, timeout_ms, true);
	rd_kafka_DeleteTopics(rk, dts, n, o, q);
	ev = admin_wait(q, timeout_ms, "delete topics", &rc, err, errlen);
	if (ev)
		rc = delete_results(ev, err, errlen);
out:
	if (ev)
		rd_kafka_event_destroy(ev);
	if (o)
		rd_kafka_AdminOptions_destroy(o);
	if (q)
		rd_kafka_queue_destroy(q);
	if (dts) {
		rd_kafka_DeleteTopic_destroy_array(dts, n);
		free(dts);
	}
	rd_kafka_destroy(rk);
	return rc;
}

static int topic_info_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kafka_topic_info *)a)->name,
		      ((const struct kafka_topic_info *)b)->name);
}

int kafka_topics_list(const char *brokers, int timeout_ms, struct kafka_topic_info **out,
		      size_t *nout, char *err, size_t errlen)
{
	const struct rd_kafka_metadata *md = NULL;
	struct kafka_topic_info *ti = NULL;
	rd_kafka_resp_err_t e;
	rd_kafka_t *rk;
	size_t k = 0;
	int rc = 0;

	*out = NULL;
	*nout = 0;
	rk = kafka_client_new(brokers, "simpul-admin", err, errlen);
	if (!rk)
		return UTIL_EINVAL;
	e = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
	if (e) {
		rc = util_err_set(err, errlen, UTIL_EUNAVAIL, "kafka metadata: %s",
				  rd_kafka_err2str(e));
		goto out;
	}
	ti = calloc(md->topic_cnt ? (size_t)md->topic_cnt : 1, sizeof *ti);
	if (!ti) {
		rc = util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < md->topic_cnt; i++) {
		const struct rd_kafka_metadata_topic *t = &md->topics[i];
		if (strncmp(t->topic, "__", 2) == 0 || t->err)
			continue;
		snprintf(ti[k].name, sizeof ti[k].name, "%s", t->topic);
		ti[k].partitions = t->partition_cnt;
		ti[k].replication = t->partition_cnt > 0 ? t->partitions[0].replica_cnt : 0;
		k++;
	}
	qsort(ti, k, sizeof *ti, topic_info_cmp);
	*out = ti;
	*nout = k;
out:
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_destroy(rk);
	return rc;
}
