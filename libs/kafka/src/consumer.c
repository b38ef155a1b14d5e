/*
 * consumer.c - the at-least-once consumer loop: poll one message (or gather
 * a batch), call the handler, store offsets only after success or a DLQ ack,
 * retry with capped backoff (pausing the partitions meanwhile), drain on
 * stop. A failed batch is redone message by message.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlq.h"
#include "internal.h"
#include "kafka/consumer.h"
#include "slog/slog.h"
#include "util/err.h"
#include "util/ids.h"

struct kafka_consumer {
	rd_kafka_t *rk;
	struct kafka_dlq dlq;
	kafka_handle_fn handle;
	kafka_batch_fn handle_batch;
	void *ud;
	int max_retries;
	int backoff_initial_ms;
	int backoff_max_ms;
	bool closed;
	bool paused;          /* in a retry wait: the assignment is paused */
	bool cur_revoked;     /* the message under retry lost its partition */
	bool coop;            /* last known rebalance protocol was COOPERATIVE */
	const char *cur_topic;
	int32_t cur_partition;
	struct kafka_consumer_stats stats;
	/* batch mode: the messages in hand, their views and drop marks */
	int batch_max;
	int batch_wait_ms;
	size_t nbatch;
	rd_kafka_message_t **batch;
	struct kafka_message *views;
	struct kafka_header *hdrs;   /* KAFKA_MESSAGE_MAX_HEADERS per message */
	bool *dropped;               /* its partition was revoked: leave it */
};

static void stat_inc(uint64_t *v)
{
	__atomic_fetch_add(v, 1, __ATOMIC_RELAXED);
}

static bool parts_contain(const rd_kafka_topic_partition_list_t *parts, const char *topic,
			  int32_t partition)
{
	for (int i = 0; i < parts->cnt; i++)
		if (parts->elems[i].partition == partition &&
		    strcmp(parts->elems[i].topic, topic) == 0)
			return true;
	return false;
}

/* Commits the stored offsets synchronously; nothing stored is fine. */
static void commit_stored(struct kafka_consumer *c, const char *why)
{
	rd_kafka_resp_err_t e = rd_kafka_commit(c->rk, NULL, 0);

	if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
		slog_warn("kafka commit failed", "why=%s code=%s", why, rd_kafka_err2name(e));
}

static void on_assign(struct kafka_consumer *c, rd_kafka_topic_partition_list_t *parts,
		      bool coop)
{
	rd_kafka_error_t *xe = NULL;
	rd_kafka_resp_err_t e = 0;

	slog_info("kafka partitions assigned", "count=%d", parts->cnt);
	if (coop)
		xe = rd_kafka_incremental_assign(c->rk, parts);
	else
		e = rd_kafka_assign(c->rk, parts);
	if (xe) {
		slog_error("kafka assign failed", "reason=%s", rd_kafka_error_name(xe));
		rd_kafka_error_destroy(xe);
	} else if (e) {
		slog_error("kafka assign failed", "reason=%s", rd_kafka_err2name(e));
	}
	/* keep the retry pause: new partitions wait for the message under retry */
	if (c->paused)
		rd_kafka_pause_partitions(c->rk, parts);
}

static void on_revoke(struct kafka_consumer *c, rd_kafka_topic_partition_list_t *parts,
		      bool coop)
{
	rd_kafka_error_t *xe = NULL;

	slog_info("kafka partitions revoked", "count=%d", parts->cnt);
	commit_stored(c, "revoke");
	for (size_t i = 0; i < c->nbatch; i++) /* the new owner gets them */
		if (parts_contain(parts, rd_kafka_topic_name(c->batch[i]->rkt),
				  c->batch[i]->partition))
			c->dropped[i] = true;
	if (c->paused && c->cur_topic && parts_contain(parts, c->cur_topic, c->cur_partition))
		c->cur_revoked = true;
	if (coop) {
		xe = rd_kafka_incremental_unassign(c->rk, parts);
		if (xe)
			rd_kafka_error_destroy(xe);
	} else {
		rd_kafka_assign(c->rk, NULL);
	}
}

/* Incrementally unassigns everything currently assigned. */
static void unassign_all(rd_kafka_t *rk)
{
	rd_kafka_topic_partition_list_t *cur = NULL;
	rd_kafka_error_t *xe;

	if (rd_kafka_assignment(rk, &cur) || !cur)
		return;
	xe = rd_kafka_incremental_unassign(rk, cur);
	if (xe) {
		slog_error("kafka unassign failed", "reason=%s", rd_kafka_error_name(xe));
		rd_kafka_error_destroy(xe);
	}
	rd_kafka_topic_partition_list_destroy(cur);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct kafka_consumer *c = opaque;
	/* NULL when the group cannot be asked (librdkafka answers so while the
	 * consumer closes, e.g. a rebalance during SIGTERM): keep the last
	 * answer. strcmp on that NULL crashed simpul-report on SIGTERM. */
	const char *proto = rd_kafka_rebalance_protocol(rk);
	bool coop;

	if (proto)
		c->coop = strcmp(proto, "COOPERATIVE") == 0;
	coop = c->coop;

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		on_assign(c, parts, coop);
	} else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
		on_revoke(c, parts, coop);
	} else {
		slog_error("kafka rebalance failed", "reason=%s", rd_kafka_err2name(err));
		/* drop the assignment (rd_kafka_assign is refused under COOPERATIVE) */
		if (coop)
			unassign_all(rk);
		else
			rd_kafka_assign(rk, NULL);
	}
}

static int consumer_conf(rd_kafka_conf_t *conf, const struct kafka_consumer_config *cfg,
			 char *err, size_t errlen)
{
	if (kafka_conf_put(conf, "group.id", cfg->group_id, err, errlen) ||
	    kafka_conf_put(conf, "enable.auto.commit", "true", err, errlen) ||
	    kafka_conf_put(conf, "auto.commit.interval.ms", "1000", err, errlen) ||
	    kafka_conf_put(conf, "enable.auto.offset.store", "false", err, errlen) ||
	    kafka_conf_put(conf, "auto.offset.reset", "earliest", err, errlen) ||
	    kafka_conf_put(conf, "enable.partition.eof", "false", err, errlen))
		return UTIL_EINVAL;
	return kafka_conf_extra(conf, cfg->extra, cfg->nextra, err, errlen);
}

static int check_config(const struct kafka_consumer_config *cfg, char *err, size_t errlen)
{
	if (!cfg || !cfg->brokers || !cfg->group_id || !*cfg->group_id || !cfg->handle ||
	    !cfg->topics || cfg->ntopics == 0)
		return util_err_set(err, errlen, UTIL_EINVAL,
				    "kafka consumer: brokers, group_id, topics and handle needed");
	for (size_t i = 0; i < cfg->ntopics; i++)
		if (!cfg->topics[i] || !*cfg->topics[i])
			return util_err_set(err, errlen, UTIL_EINVAL,
					    "kafka consumer: empty topic name");
	return 0;
}

static int subscribe(struct kafka_consumer *c, const struct kafka_consumer_config *cfg,
		     char *err, size_t errlen)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)cfg->ntopics);
	rd_kafka_resp_err_t e;

	for (size_t i = 0; i < cfg->ntopics; i++)
		rd_kafka_topic_partition_list_add(l, cfg->topics[i], RD_KAFKA_PARTITION_UA);
	e = rd_kafka_subscribe(c->rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	if (e)
		return util_err_set(err, errlen, UTIL_EINVAL, "kafka subscribe: %s",
				    rd_kafka_err2str(e));
	return 0;
}

static void settings_copy(struct kafka_consumer *c, const struct kafka_consumer_config *cfg)
{
	c->handle = cfg->handle;
	c->handle_batch = cfg->handle_batch;
	c->ud = cfg->ud;
	c->batch_max = cfg->batch_max > 0 ? (cfg->batch_max > 10000 ? 10000 : cfg->batch_max)
					  : 500;
	c->batch_wait_ms = cfg->batch_wait_ms < 0 ? 0 : (cfg->batch_wait_ms ? cfg->batch_wait_ms
									     : 10);
	c->max_retries = cfg->max_retries < 0 ? 0 : (cfg->max_retries ? cfg->max_retries : 3);
	c->backoff_initial_ms = cfg->backoff_initial_ms > 0 ? cfg->backoff_initial_ms : 200;
	c->backoff_max_ms = cfg->backoff_max_ms > 0 ? cfg->backoff_max_ms : 10000;
	if (c->backoff_max_ms < c->backoff_initial_ms)
		c->backoff_max_ms = c->backoff_initial_ms;
}

static int batch_alloc(struct kafka_consumer *c)
{
	size_t n = (size_t)c->batch_max;

	c->batch = calloc(n, sizeof(*c->batch));
	c->views = calloc(n, sizeof(*c->views));
	c->hdrs = calloc(n * KAFKA_MESSAGE_MAX_HEADERS, sizeof(*c->hdrs));
	c->dropped = calloc(n, sizeof(*c->dropped));
	return c->batch && c->views && c->hdrs && c->dropped ? 0 : UTIL_ENOMEM;
}

struct kafka_consumer *kafka_consumer_new(const struct kafka_consumer_config *cfg, char *err,
					  size_t errlen)
{
	char errstr[512];
	rd_kafka_conf_t *conf = NULL;
	struct kafka_consumer *c = NULL;

	if (check_config(cfg, err, errlen))
		return NULL;
	c = calloc(1, sizeof *c);
	if (!c) {
		util_err_set(err, errlen, UTIL_ENOMEM, "kafka consumer: out of memory");
		return NULL;
	}
	settings_copy(c, cfg);
	if (c->handle_batch && batch_alloc(c)) {
		util_err_set(err, errlen, UTIL_ENOMEM, "kafka consumer: out of memory");
		goto fail;
	}
	if (kafka_dlq_init(&c->dlq, cfg->brokers, cfg->group_id, cfg->dlq_suffix, err, errlen))
		goto fail;
	conf = kafka_conf_base(cfg->brokers, cfg->client_id ? cfg->client_id : cfg->group_id,
			       err, errlen);
	if (!conf || consumer_conf(conf, cfg, err, errlen))
		goto fail;
	rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
	rd_kafka_conf_set_opaque(conf, c);
	c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
	if (!c->rk) {
		util_err_set(err, errlen, UTIL_EINVAL, "kafka consumer: %s", errstr);
		goto fail;
	}
	conf = NULL; /* owned by c->rk */
	rd_kafka_poll_set_consumer(c->rk);
	if (subscribe(c, cfg, err, errlen))
		goto fail;
	return c;
fail:
	if (conf)
		rd_kafka_conf_destroy(conf);
	kafka_consumer_free(c);
	return NULL;
}

static void store_offset(struct kafka_consumer *c, const rd_kafka_message_t *rkm)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_t *tp;
	rd_kafka_resp_err_t e;

	tp = rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(rkm->rkt), rkm->partition);
	tp->offset = rkm->offset + 1;
	e = rd_kafka_offsets_store(c->rk, l);
	if (!e)
		e = tp->err;
	if (e) /* e.g. the partition was revoked meanwhile: it will be re-delivered */
		slog_warn("kafka offset store failed", "partition=%" PRId32
			  " offset=%" PRId64 " code=%s", rkm->partition, rkm->offset,
			  rd_kafka_err2name(e));
	rd_kafka_topic_partition_list_destroy(l);
}

static void pause_all(struct kafka_consumer *c, bool pause)
{
	rd_kafka_topic_partition_list_t *parts = NULL;

	if (rd_kafka_assignment(c->rk, &parts) || !parts)
		return;
	if (pause)
		rd_kafka_pause_partitions(c->rk, parts);
	else
		rd_kafka_resume_partitions(c->rk, parts);
	rd_kafka_topic_partition_list_destroy(parts);
	c->paused = pause;
}

/*
 * A fatal error (e.g. a fenced static member) also arrives as a consumer
 * error message, but one that a retry wait polls and drops; so ask.
 */
static bool is_fatal(struct kafka_consumer *c)
{
	return rd_kafka_fatal_error(c->rk, NULL, 0) != RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* A message that arrived while paused goes back, to be fetched again later. */
static void push_back(struct kafka_consumer *c, rd_kafka_message_t *m)
{
	rd_kafka_resp_err_t e = rd_kafka_seek(m->rkt, m->partition, m->offset, 5000);

	if (e)
		slog_warn("kafka seek back failed", "partition=%" PRId32 " code=%s",
			  m->partition, rd_kafka_err2name(e));
	(void)c;
}

/*
 * Waits wait_ms while keeping the group membership alive (consumer_poll on
 * paused partitions). False if stopped or the partition was revoked.
 */
static bool retry_wait(struct kafka_consumer *c, int wait_ms, volatile sig_atomic_t *stop)
{
	int64_t end = util_mono_us() + (int64_t)wait_ms * 1000, left;

	if (!c->paused)
		pause_all(c, true);
	while (!*stop && !c->cur_revoked && !is_fatal(c) &&
	       (left = end - util_mono_us()) > 0) {
		int slice = left > 100000 ? 100 : (int)(left / 1000) + 1;
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, slice);
		if (m) {
			if (!m->err)
				push_back(c, m);
			rd_kafka_message_destroy(m);
		}
	}
	return !*stop && !c->cur_revoked && !is_fatal(c);
}

/* Borrowed view of rkm for the handler; hdr has KAFKA_MESSAGE_MAX_HEADERS slots. */
static void message_view(const rd_kafka_message_t *rkm, struct kafka_message *m,
			 struct kafka_header *hdr)
{
	rd_kafka_headers_t *hdrs = NULL;
	rd_kafka_timestamp_type_t tstype;
	size_t n = 0;

	memset(m, 0, sizeof *m);
	m->topic = rd_kafka_topic_name(rkm->rkt);
	m->partition = rkm->partition;
	m->offset = rkm->offset;
	m->key = rkm->key;
	m->key_len = rkm->key_len;
	m->value = rkm->payload;
	m->value_len = rkm->len;
	m->timestamp_ms = rd_kafka_message_timestamp(rkm, &tstype);
	if (rd_kafka_message_headers(rkm, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		const char *name;
		const void *val;
		size_t len;
		while (n < KAFKA_MESSAGE_MAX_HEADERS &&
		       !rd_kafka_header_get_all(hdrs, n, &name, &val, &len)) {
			hdr[n] = (struct kafka_header){ name, val, len };
			n++;
		}
	}
	m->headers = hdr;
	m->nheaders = n;
}

static int next_backoff(const struct kafka_consumer *c, int backoff)
{
	return backoff >= c->backoff_max_ms / 2 ? c->backoff_max_ms : backoff * 2;
}

/* Sends to the DLQ until acknowledged (then stores the offset) or stopped. */
static void dead_letter(struct kafka_consumer *c, const rd_kafka_message_t *rkm,
			const char *error, int count, volatile sig_atomic_t *stop)
{
	char qtopic[256], qerr[512], derr[256];
	int backoff = c->backoff_initial_ms;

	slog_warn("kafka message dead-lettered", "topic=%s partition=%" PRId32
		  " offset=%" PRId64 " attempts=%d error=%s",
		  slog_quote(qtopic, sizeof qtopic, rd_kafka_topic_name(rkm->rkt)),
		  rkm->partition, rkm->offset, count, slog_quote(qerr, sizeof qerr, error));
	while (kafka_dlq_send(&c->dlq, rkm, error, count, derr, sizeof derr)) {
		slog_error("kafka dlq produce failed", "topic=%s reason=%s", qtopic,
			   slog_quote(qerr, sizeof qerr, derr));
		if (!retry_wait(c, backoff, stop))
			return; /* left uncommitted: re-delivered later */
		backoff = next_backoff(c, backoff);
	}
	stat_inc(&c->stats.dead_lettered);
	store_offset(c, rkm);
}

static void log_failure(const struct kafka_message *m, int rc, const char *errbuf)
{
	char qtopic[256], qerr[512];

	slog_warn("kafka handler failed", "topic=%s partition=%" PRId32 " offset=%" PRId64
		  " attempt=%d code=%s error=%s", slog_quote(qtopic, sizeof qtopic, m->topic),
		  m->partition, m->offset, m->attempt, util_err_name(rc),
		  slog_quote(qerr, sizeof qerr, errbuf));
}

/* Handles one message to its end: stored, dead-lettered or abandoned. */
static void process(struct kafka_consumer *c, const rd_kafka_message_t *rkm,
		    volatile sig_atomic_t *stop)
{
	struct kafka_header hdr[KAFKA_MESSAGE_MAX_HEADERS];
	struct kafka_message m;
	char errbuf[512];
	int backoff = c->backoff_initial_ms, failures = 0, rc;

	message_view(rkm, &m, hdr);
	c->cur_topic = m.topic;
	c->cur_partition = m.partition;
	c->cur_revoked = false;
	for (m.attempt = 1;; m.attempt++) {
		errbuf[0] = '\0';
		rc = c->handle(c->ud, &m, errbuf, sizeof errbuf);
		if (rc == 0) {
			stat_inc(&c->stats.processed);
			store_offset(c, rkm);
			break;
		}
		if (!errbuf[0])
			snprintf(errbuf, sizeof errbuf, "handler failed: %s", util_err_name(rc));
		log_failure(&m, rc, errbuf);
		if (rc == UTIL_EINVAL || (rc != UTIL_EUNAVAIL && ++failures > c->max_retries)) {
			dead_letter(c, rkm, errbuf, m.attempt, stop);
			break;
		}
		if (!retry_wait(c, backoff, stop))
			break; /* stopped or revoked: not stored, re-delivered later */
		backoff = next_backoff(c, backoff);
		stat_inc(&c->stats.retried);
	}
	if (c->paused)
		pause_all(c, false);
	c->cur_topic = NULL;
}

static int fatal_error(struct kafka_consumer *c, char *err, size_t errlen)
{
	char fatal[512] = "";

	rd_kafka_fatal_error(c->rk, fatal, sizeof fatal);
	return util_err_set(err, errlen, UTIL_EIO, "kafka consumer fatal: %s", fatal);
}

/* A consumer-level error; returns a negative code when the loop must end. */
static int consumer_error(struct kafka_consumer *c, const rd_kafka_message_t *rkm, char *err,
			  size_t errlen)
{
	char qreason[512];

	stat_inc(&c->stats.errors);
	if (rkm->err == RD_KAFKA_RESP_ERR__FATAL)
		return fatal_error(c, err, errlen);
	slog_warn("kafka consumer error", "code=%s reason=%s", rd_kafka_err2name(rkm->err),
		  slog_quote(qreason, sizeof qreason, rd_kafka_message_errstr(rkm)));
	return 0;
}

static void consumer_close(struct kafka_consumer *c)
{
	rd_kafka_resp_err_t e;

	if (c->closed || !c->rk)
		return;
	if (is_fatal(c)) { /* librdkafka refuses to close it; free destroys it */
		c->closed = true;
		return;
	}
	commit_stored(c, "close");
	e = rd_kafka_consumer_close(c->rk);
	if (e)
		slog_warn("kafka consumer close failed", "code=%s", rd_kafka_err2name(e));
	c->closed = true;
}

/* Destroys the messages in hand. */
static void batch_clear(struct kafka_consumer *c)
{
	for (size_t i = 0; i < c->nbatch; i++)
		rd_kafka_message_destroy(c->batch[i]);
	c->nbatch = 0;
}

/*
 * Gathers up to batch_max messages: waits up to 100 ms for the first, then
 * polls until batch_wait_ms after it. Stops early on the stop flag or a
 * consumer error. Returns 0 (c->nbatch may be 0), or a negative code with
 * err set when the loop must end (fatal error; the batch is then dropped).
 */
static int batch_gather(struct kafka_consumer *c, volatile sig_atomic_t *stop, char *err,
			size_t errlen)
{
	int64_t deadline = 0;

	while (c->nbatch < (size_t)c->batch_max && !*stop) {
		int timeout = 100, rc;
		rd_kafka_message_t *rkm;

		if (c->nbatch > 0) {
			int64_t left = deadline - util_mono_us();
			timeout = left > 0 ? (int)((left + 999) / 1000) : 0;
		}
		rkm = rd_kafka_consumer_poll(c->rk, timeout);
		if (!rkm) { /* a timeout, or a rebalance served early */
			if (c->nbatch == 0 || util_mono_us() >= deadline)
				break;
			continue;
		}
		if (!rkm->err) {
			if (c->nbatch == 0)
				deadline = util_mono_us() + (int64_t)c->batch_wait_ms * 1000;
			c->dropped[c->nbatch] = false;
			c->batch[c->nbatch++] = rkm;
			continue;
		}
		rc = consumer_error(c, rkm, err, errlen);
		rd_kafka_message_destroy(rkm);
		if (rc) {
			batch_clear(c); /* unstored: re-delivered */
			return rc;
		}
		break; /* handle what is in hand first */
	}
	return 0;
}

/* Removes the messages whose partition was revoked while gathering. */
static void batch_compact(struct kafka_consumer *c)
{
	size_t k = 0;

	for (size_t i = 0; i < c->nbatch; i++) {
		if (c->dropped[i])
			rd_kafka_message_destroy(c->batch[i]);
		else
			c->batch[k++] = c->batch[i];
	}
	c->nbatch = k;
	memset(c->dropped, 0, k * sizeof(*c->dropped));
}

/* Stores, per partition, the batch's highest offset + 1. */
static void batch_store(struct kafka_consumer *c)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)c->nbatch);
	char qtopic[256];

	for (size_t i = 0; i < c->nbatch; i++) {
		const rd_kafka_message_t *m = c->batch[i];
		const char *topic = rd_kafka_topic_name(m->rkt);
		rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(l, topic,
										     m->partition);

		if (!tp)
			tp = rd_kafka_topic_partition_list_add(l, topic, m->partition);
		if (tp->offset < m->offset + 1)
			tp->offset = m->offset + 1;
	}
	rd_kafka_offsets_store(c->rk, l); /* per-partition errors below */
	for (int i = 0; i < l->cnt; i++)
		if (l->elems[i].err) /* e.g. revoked meanwhile: it will be re-delivered */
			slog_warn("kafka offset store failed", "topic=%s partition=%" PRId32
				  " offset=%" PRId64 " code=%s",
				  slog_quote(qtopic, sizeof qtopic, l->elems[i].topic),
				  l->elems[i].partition, l->elems[i].offset,
				  rd_kafka_err2name(l->elems[i].err));
	rd_kafka_topic_partition_list_destroy(l);
}

/*
 * Calls handle_batch once for the batch in hand; on success stores every
 * offset, on failure redoes the batch message by message (single-message
 * guarantees), skipping revoked partitions, until stopped.
 */
static void batch_run(struct kafka_consumer *c, volatile sig_atomic_t *stop)
{
	char errbuf[512], qerr[512];
	int rc;

	batch_compact(c);
	if (c->nbatch == 0)
		return;
	for (size_t i = 0; i < c->nbatch; i++) {
		message_view(c->batch[i], &c->views[i], &c->hdrs[i * KAFKA_MESSAGE_MAX_HEADERS]);
		c->views[i].attempt = 1;
	}
	errbuf[0] = '\0';
	rc = c->handle_batch(c->ud, c->views, c->nbatch, errbuf, sizeof errbuf);
	if (rc == 0) {
		__atomic_fetch_add(&c->stats.processed, (uint64_t)c->nbatch, __ATOMIC_RELAXED);
		stat_inc(&c->stats.batches);
		batch_store(c);
		return;
	}
	stat_inc(&c->stats.batch_fallbacks);
	slog_warn("kafka batch failed, redoing it one by one", "count=%zu code=%s error=%s",
		  c->nbatch, util_err_name(rc), slog_quote(qerr, sizeof qerr, errbuf));
	for (size_t i = 0; i < c->nbatch && !*stop && !is_fatal(c); i++)
		if (!c->dropped[i])
			process(c, c->batch[i], stop);
}

int kafka_consumer_run(struct kafka_consumer *c, volatile sig_atomic_t *stop, char *err,
		       size_t errlen)
{
	int rc = 0;

	if (!c || !stop || c->closed)
		return util_err_set(err, errlen, UTIL_EINVAL, "kafka consumer: bad run");
	slog_info("kafka consumer started", "client=%s", rd_kafka_name(c->rk));
	while (!*stop && rc == 0) {
		rd_kafka_message_t *rkm;

		if (is_fatal(c)) {
			rc = fatal_error(c, err, errlen);
			break;
		}
		if (c->handle_batch) {
			rc = batch_gather(c, stop, err, errlen);
			if (rc == 0)
				batch_run(c, stop);
			batch_clear(c);
			continue;
		}
		rkm = rd_kafka_consumer_poll(c->rk, 100);
		if (!rkm)
			continue;
		if (rkm->err)
			rc = consumer_error(c, rkm, err, errlen);
		else
			process(c, rkm, stop);
		rd_kafka_message_destroy(rkm);
	}
	consumer_close(c);
	slog_info("kafka consumer stopped", "processed=%" PRIu64 " dead_lettered=%" PRIu64,
		  c->stats.processed, c->stats.dead_lettered);
	return rc;
}

void kafka_consumer_stats(struct kafka_consumer *c, struct kafka_consumer_stats *out)
{
	if (!c || !out)
		return;
	out->processed = __atomic_load_n(&c->stats.processed, __ATOMIC_RELAXED);
	out->retried = __atomic_load_n(&c->stats.retried, __ATOMIC_RELAXED);
	out->dead_lettered = __atomic_load_n(&c->stats.dead_lettered, __ATOMIC_RELAXED);
	out->errors = __atomic_load_n(&c->stats.errors, __ATOMIC_RELAXED);
	out->batches = __atomic_load_n(&c->stats.batches, __ATOMIC_RELAXED);
	out->batch_fallbacks = __atomic_load_n(&c->stats.batch_fallbacks, __ATOMIC_RELAXED);
}

void kafka_consumer_free(struct kafka_consumer *c)
{
	if (!c)
		return;
	if (c->rk) {
		consumer_close(c);
		/* after a fatal error rd_kafka_destroy would wait for a close
		 * that never starts */
		if (is_fatal(c))
			rd_kafka_destroy_flags(c->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
		else
			rd_kafka_destroy(c->rk);
	}
	kafka_dlq_release(&c->dlq);
	free(c->batch);
	free(c->views);
	free(c->hdrs);
	free(c->dropped);
	free(c);
}
