/*
 * lag.c - a consumer group's lag: its committed offsets (ListConsumerGroup-
 * Offsets) against each partition's high watermark.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kafka/admin.h"
#include "util/err.h"

/* The group's committed offsets, copied (caller destroys); NULL with rc set. */
static rd_kafka_topic_partition_list_t *group_offsets(rd_kafka_t *rk, const char *group,
						      int timeout_ms, int *rc, char *err,
						      size_t errlen)
{
	char errstr[256];
	rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(group, NULL);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *o =
		rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
	rd_kafka_topic_partition_list_t *out = NULL;
	rd_kafka_event_t *ev;

	rd_kafka_AdminOptions_set_request_timeout(o, timeout_ms, errstr, sizeof errstr);
	rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, o, q);
	ev = rd_kafka_queue_poll(q, timeout_ms + 5000);
	if (!ev) {
		*rc = util_err_set(err, errlen, UTIL_EUNAVAIL, "kafka group offsets: no answer");
	} else if (rd_kafka_event_error(ev)) {
		*rc = util_err_set(err, errlen, UTIL_EUNAVAIL, "kafka group offsets: %s",
				   rd_kafka_event_error_string(ev));
	} else {
		size_t cnt = 0;
		const rd_kafka_group_result_t **gr = rd_kafka_ListConsumerGroupOffsets_result_groups(
			rd_kafka_event_ListConsumerGroupOffsets_result(ev), &cnt);
		const rd_kafka_error_t *ge = cnt ? rd_kafka_group_result_error(gr[0]) : NULL;
		const rd_kafka_topic_partition_list_t *p =
			cnt ? rd_kafka_group_result_partitions(gr[0]) : NULL;
		if (ge && rd_kafka_error_code(ge) != RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND)
			*rc = util_err_set(err, errlen, UTIL_EIO, "kafka group \"%s\": %s", group,
					   rd_kafka_error_string(ge));
		else
			out = p ? rd_kafka_topic_partition_list_copy(p)
				: rd_kafka_topic_partition_list_new(0);
	}
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_queue_destroy(q);
	rd_kafka_ListConsumerGroupOffsets_destroy(req);
	return out;
}

/* Adds every partition of the named topics not yet in parts (offset INVALID). */
static int add_topic_partitions(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts,
				const char *const *topics, size_t ntopics, int timeout_ms,
				char *err, size_t errlen)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t e;

	if (ntopics == 0)
		return 0;
	e = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
	if (e)
		return util_err_set(err, errlen, UTIL_EUNAVAIL, "kafka metadata: %s",
				    rd_kafka_err2str(e));
	for (int i = 0; i < md->topic_cnt; i++) {
		const struct rd_kafka_metadata_topic *t = &md->topics[i];
		bool wanted = false;
		for (size_t k = 0; k < ntopics && !wanted; k++)
			wanted = strcmp(topics[k], t->topic) == 0;
		for (int p = 0; wanted && p < t->partition_cnt; p++)
			if (!rd_kafka_topic_partition_list_find(parts, t->topic,
								t->partitions[p].id))
				rd_kafka_topic_partition_list_add(parts, t->topic,
								  t->partitions[p].id)
					->offset = RD_KAFKA_OFFSET_INVALID;
	}
	rd_kafka_metadata_destroy(md);
	return 0;
}

static int lag_cmp(const void *a, const void *b)
{
	const struct kafka_partition_lag *x = a, *y = b;
	int c = strcmp(x->topic, y->topic);

	return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

static int fill_lag(rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *parts,
		    int timeout_ms, struct kafka_partition_lag *out, char *err, size_t errlen)
{
	for (int i = 0; i < parts->cnt; i++) {
		const rd_kafka_topic_partition_t *tp = &parts->elems[i];
		int64_t lo = 0, hi = 0;
		rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
			rk, tp->topic, tp->partition, &lo, &hi, timeout_ms);
		if (e)
			return util_err_set(err, errlen, UTIL_EUNAVAIL,
					    "kafka watermarks of \"%s\" [%" PRId32 "]: %s",
					    tp->topic, tp->partition, rd_kafka_err2str(e));
		snprintf(out[i].topic, sizeof out[i].topic, "%s", tp->topic);
		out[i].partition = tp->partition;
		out[i].high = hi;
		out[i].committed = tp->offset >= 0 ? tp->offset : -1;
		out[i].lag = tp->offset >= 0 ? hi - tp->offset : hi - lo;
		if (out[i].lag < 0)
			out[i].lag = 0;
	}
	return 0;
}

int kafka_group_lag(const char *brokers, const char *group, const char *const *topics,
		    size_t ntopics, int timeout_ms, struct kafka_partition_lag **out, size_t *nout,
		    char *err, size_t errlen)
{
	rd_kafka_topic_partition_list_t *parts = NULL;
	struct kafka_partition_lag *lag = NULL;
	rd_kafka_t *rk = NULL;
	int rc = 0;

	*out = NULL;
	*nout = 0;
	if (!group || !*group || (ntopics && !topics))
		return util_err_set(err, errlen, UTIL_EINVAL, "kafka lag: no group");
	rk = kafka_client_new(brokers, "simpul-admin", err, errlen);
	if (!rk)
		return UTIL_EINVAL;
	parts = group_offsets(rk, group, timeout_ms, &rc, err, errlen);
	if (!parts)
		goto out;
	rc = add_topic_partitions(rk, parts, topics, ntopics, timeout_ms, err, errlen);
	if (rc)
		goto out;
	lag = calloc(parts->cnt ? (size_t)parts->cnt : 1, sizeof *lag);
	if (!lag) {
		rc = util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
		goto out;
	}
	rc = fill_lag(rk, parts, timeout_ms, lag, err, errlen);
	if (rc)
		goto out;
	qsort(lag, (size_t)parts->cnt, sizeof *lag, lag_cmp);
	*out = lag;
	*nout = (size_t)parts->cnt;
	lag = NULL;
out:
	free(lag);
	if (parts)
		rd_kafka_topic_partition_list_destroy(parts);
	rd_kafka_destroy(rk);
	return rc;
}
