/*
 * cmd_dlq.c - simpulctl's dead-letter commands: "dlq list" shows every
 * <topic>.dlq with its offsets and what is still to replay, "dlq show" prints
 * its records with the headers libs/kafka/src/dlq.c adds, "dlq replay"
 * re-produces them to their source topic and then commits the DLQ position
 * of the consumer group DLQ_GROUP, so a replay is never repeated.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include <events/meta.h>
#include <events/topics.h>
#include <kafka/producer.h>
#include <util/err.h>

#include "cmd_dlq.h"
#include "simpulctl.h"

#define DLQ_GROUP "simpulctl-dlq-replay"
#define DLQ_TIMEOUT_MS 15000
#define DLQ_MAX_PARTS 64
#define DLQ_MAX_HEADERS 64

static const char dlq_usage[] =
    "usage: simpulctl dlq list\n"
    "       simpulctl dlq show TOPIC.dlq [--limit N]\n"
    "       simpulctl dlq replay TOPIC.dlq [--limit N] [--dry-run]\n"
    "\n"
    "list    every dead-letter topic: partition, low and high offset, records held,\n"
    "        the replay position and how many records are still to replay\n"
    "show    the records (all, or the first N) with key, event id, error,\n"
    "        attempts and source topic/partition/offset; replayed=yes marks\n"
    "        those a replay already re-produced\n"
    "replay  re-produces the records not yet replayed (all, or the next N) to\n"
    "        their source topic (TOPIC) with the original key, value and headers\n"
    "        (the simpul-error* and simpul-source-* headers dropped), through an\n"
    "        idempotent producer with acks=all; once every record is acknowledged\n"
    "        it commits the next DLQ offset for the consumer group\n"
    "        \"" DLQ_GROUP "\", so running it again replays nothing\n"
    "        new. If a send fails nothing is committed and a rerun sends the\n"
    "        batch again (consumers dedupe by simpul-event-id). --dry-run prints\n"
    "        what would be replayed and neither produces nor commits. Run one\n"
    "        replay of a DLQ at a time.\n"
    "        To replay again from the start: kafka-consumer-groups.sh --group\n"
    "        " DLQ_GROUP " --reset-offsets --to-earliest --topic TOPIC.dlq --execute\n";

/* One partition of a DLQ topic: its offsets and the replay position. */
struct dlq_part {
	int32_t id;
	int64_t lo, hi;    /* low watermark, high watermark (next offset written) */
	int64_t committed; /* DLQ_GROUP's committed offset, -1 when none */
	int64_t next;      /* reading: next offset to read */
	int64_t last;      /* replay: last offset re-produced, -1 when none */
};

struct dlq_topic {
	const char *name;
	struct dlq_part parts[DLQ_MAX_PARTS];
	int n;
};

/* A record visitor: returns 0 to go on, non-zero to stop with that status. */
typedef int (*dlq_visit_fn)(void *ud, struct dlq_part *p, const rd_kafka_message_t *rkm);

static int conf_put(rd_kafka_conf_t *c, const char *k, const char *v, char *err, size_t errlen)
{
	char es[256];

	if (rd_kafka_conf_set(c, k, v, es, sizeof es) != RD_KAFKA_CONF_OK)
		return util_err_set(err, errlen, UTIL_EINVAL, "kafka \"%s\": %s", k, es);
	return 0;
}

/* A consumer in DLQ_GROUP that only assigns (never joins): offsets are read
 * and committed explicitly. NULL with err set. */
static rd_kafka_t *dlq_consumer_new(const char *brokers, char *err, size_t errlen)
{
	static const char *const kv[][2] = {
	    {"group.id", DLQ_GROUP},
	    {"client.id", "simpulctl-dlq"},
	    {"enable.auto.commit", "false"},
	    {"enable.auto.offset.store", "false"},
	    {"enable.partition.eof", "true"},
	    {"auto.offset.reset", "earliest"},
	    {"log_level", "3"},
	};
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	rd_kafka_t *rk;
	char es[256];

	if (conf_put(c, "bootstrap.servers", brokers, err, errlen))
		goto fail;
	for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
		if (conf_put(c, kv[i][0], kv[i][1], err, errlen))
			goto fail;
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, es, sizeof es);
	if (!rk) {
		util_err_set(err, errlen, UTIL_EINVAL, "kafka consumer: %s", es);
		goto fail;
	}
	rd_kafka_poll_set_consumer(rk);
	return rk;
fail:
	rd_kafka_conf_destroy(c);
	return NULL;
}

/* Fills t->parts from the cluster: partitions, watermarks, committed offsets. */
static int dlq_topic_load(rd_kafka_t *rk, struct dlq_topic *t, char *err, size_t errlen)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, t->name, NULL);
	rd_kafka_topic_partition_list_t *l = NULL;
	rd_kafka_resp_err_t e;
	int rc = 0;

	e = rd_kafka_metadata(rk, 0, rkt, &md, DLQ_TIMEOUT_MS);
	if (e || md->topic_cnt != 1) {
		rc = util_err_set(err, errlen, UTIL_EUNAVAIL, "kafka metadata of \"%s\": %s",
		                  t->name, rd_kafka_err2str(e));
		goto out;
	}
	if (md->topics[0].err) {
		rc = util_err_set(err, errlen, UTIL_ENOTFOUND, "topic \"%s\": %s", t->name,
		                  rd_kafka_err2str(md->topics[0].err));
		goto out;
	}
	t->n = md->topics[0].partition_cnt < DLQ_MAX_PARTS ? md->topics[0].partition_cnt
	                                                   : DLQ_MAX_PARTS;
	l = rd_kafka_topic_partition_list_new(t->n);
	for (int i = 0; i < t->n; i++) {
		struct dlq_part *p = &t->parts[i];
		*p = (struct dlq_part){.id = md->topics[0].partitions[i].id, .last = -1};
		e = rd_kafka_query_watermark_offsets(rk, t->name, p->id, &p->lo, &p->hi,
		                                     DLQ_TIMEOUT_MS);
		if (e) {
			rc = util_err_set(err, errlen, UTIL_EUNAVAIL, "offsets of \"%s\" [%d]: %s",
			                  t->name, (int)p->id, rd_kafka_err2str(e));
			goto out;
		}
		rd_kafka_topic_partition_list_add(l, t->name, p->id);
	}
	e = rd_kafka_committed(rk, l, DLQ_TIMEOUT_MS);
	if (e) {
		rc = util_err_set(err, errlen, UTIL_EUNAVAIL, "committed offsets of \"%s\": %s",
		                  t->name, rd_kafka_err2str(e));
		goto out;
	}
	for (int i = 0; i < t->n; i++) {
		rd_kafka_topic_partition_t *tp =
		    rd_kafka_topic_partition_list_find(l, t->name, t->parts[i].id);
		t->parts[i].committed = tp && tp->offset >= 0 ? tp->offset : -1;
	}
out:
	if (l)
		rd_kafka_topic_partition_list_destroy(l);
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	return rc;
}

/* First offset a replay would take from p. */
static int64_t part_pending_from(const struct dlq_part *p)
{
	return p->committed > p->lo ? p->committed : p->lo;
}

/* Assigns every partition with records from its start (from_committed: the
 * replay position) and visits them in offset order up to the high watermark
 * seen at load time, at most limit records (< 0: all). */
static int dlq_read(rd_kafka_t *rk, struct dlq_topic *t, bool from_committed, long limit,
                    dlq_visit_fn visit, void *ud)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(t->n);
	int open = 0, rc = SIMPULCTL_OK;

	for (int i = 0; i < t->n; i++) {
		struct dlq_part *p = &t->parts[i];
		p->next = from_committed ? part_pending_from(p) : p->lo;
		if (p->next >= p->hi)
			continue;
		rd_kafka_topic_partition_list_add(l, t->name, p->id)->offset = p->next;
		open++;
	}
	if (open && rd_kafka_assign(rk, l)) {
		fprintf(stderr, "simpulctl: cannot assign \"%s\"\n", t->name);
		rc = SIMPULCTL_FAIL;
	}
	while (rc == SIMPULCTL_OK && open > 0 && limit != 0) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, DLQ_TIMEOUT_MS);
		struct dlq_part *p = NULL;

		if (!m) {
			fprintf(stderr, "simpulctl: \"%s\": no record within %d ms\n", t->name,
			        DLQ_TIMEOUT_MS);
			rc = SIMPULCTL_FAIL;
			break;
		}
		for (int i = 0; i < t->n && !p; i++)
			p = t->parts[i].id == m->partition ? &t->parts[i] : NULL;
		if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			fprintf(stderr, "simpulctl: \"%s\": %s\n", t->name,
			        rd_kafka_message_errstr(m));
			rc = SIMPULCTL_FAIL;
		} else if (p && p->next < p->hi) {
			if (!m->err && m->offset < p->hi) {
				rc = visit(ud, p, m);
				limit -= limit > 0;
			}
			p->next = m->err ? p->hi : m->offset + 1;
			open -= p->next >= p->hi;
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_assign(rk, NULL);
	rd_kafka_topic_partition_list_destroy(l);
	return rc;
}

/* Copies header name of m into out as text ("-" when absent). */
static const char *header_text(const rd_kafka_message_t *m, const char *name, char *out,
                               size_t outlen)
{
	rd_kafka_headers_t *h = NULL;
	const void *v = NULL;
	size_t len = 0;

	if (rd_kafka_message_headers(m, &h) || rd_kafka_header_get_last(h, name, &v, &len) || !v)
		return "-";
	snprintf(out, outlen, "%.*s", (int)len, (const char *)v);
	return out;
}

/* The key as text when printable, else its size. */
static const char *key_text(const rd_kafka_message_t *m, char *out, size_t outlen)
{
	const unsigned char *k = m->key;

	if (!k)
		return "(none)";
	for (size_t i = 0; i < m->key_len; i++)
		if (k[i] < 0x20 || k[i] > 0x7e) {
			snprintf(out, outlen, "(%zu bytes)", m->key_len);
			return out;
		}
	snprintf(out, outlen, "%.*s", (int)m->key_len, (const char *)k);
	return out;
}

static int show_one(void *ud, struct dlq_part *p, const rd_kafka_message_t *m)
{
	char key[256], id[128], e[1024], n[32], st[256], sp[32], so[32];

	(void)ud;
	printf("%s [%d] @%" PRId64 " replayed=%s\n", rd_kafka_topic_name(m->rkt), (int)p->id,
	       m->offset, p->committed > m->offset ? "yes" : "no");
	printf("  key:      %s\n", key_text(m, key, sizeof key));
	printf("  event-id: %s\n", header_text(m, EVENTS_HEADER_EVENT_ID, id, sizeof id));
	printf("  error:    %s\n", header_text(m, EVENTS_HEADER_ERROR, e, sizeof e));
	printf("  attempts: %s\n", header_text(m, EVENTS_HEADER_ERROR_COUNT, n, sizeof n));
	printf("  source:   %s [%s] @%s\n",
	       header_text(m, EVENTS_HEADER_SOURCE_TOPIC, st, sizeof st),
	       header_text(m, EVENTS_HEADER_SOURCE_PARTITION, sp, sizeof sp),
	       header_text(m, EVENTS_HEADER_SOURCE_OFFSET, so, sizeof so));
	printf("  value:    %zu bytes\n", m->len);
	return SIMPULCTL_OK;
}

/* State of one replay. */
struct replay {
	struct kafka_producer *prod; /* NULL on a dry run */
	const char *target;          /* the source topic: the DLQ name less ".dlq" */
	size_t sent, acked, failed;
	char first_error[256];
};

static void replay_delivered(void *ud, void *opaque, int err, const char *errstr)
{
	struct replay *r = ud;

	(void)opaque;
	if (!err) {
		r->acked++;
		return;
	}
	if (!r->failed++)
		snprintf(r->first_error, sizeof r->first_error, "%s", errstr);
}

static bool is_dlq_header(const char *name)
{
	return !strncmp(name, "simpul-error", 12) || !strncmp(name, "simpul-source-", 14);
}

/* The record's headers less the DLQ's into h; the count. */
static size_t replay_headers(const rd_kafka_message_t *m, struct kafka_header *h, size_t cap)
{
	rd_kafka_headers_t *hdrs = NULL;
	const char *name;
	const void *v;
	size_t len, n = 0;

	if (rd_kafka_message_headers(m, &hdrs))
		return 0;
	for (size_t i = 0; n < cap && !rd_kafka_header_get_all(hdrs, i, &name, &v, &len); i++)
		if (!is_dlq_header(name))
			h[n++] = (struct kafka_header){name, v, len};
	return n;
}

static int replay_one(void *ud, struct dlq_part *p, const rd_kafka_message_t *m)
{
	struct replay *r = ud;
	struct kafka_header h[DLQ_MAX_HEADERS];
	char key[256], id[128], src[256];
	size_t nh = replay_headers(m, h, DLQ_MAX_HEADERS);
	int rc;

	if (strcmp(header_text(m, EVENTS_HEADER_SOURCE_TOPIC, src, sizeof src), "-") &&
	    strcmp(src, r->target)) {
		fprintf(stderr,
		        "simpulctl: record @%" PRId64 " came from \"%s\", not \"%s\": stop\n",
		        m->offset, src, r->target);
		return SIMPULCTL_FAIL;
	}
	printf("%s [%d] @%" PRId64 " -> %s key=%s event-id=%s\n", rd_kafka_topic_name(m->rkt),
	       (int)p->id, m->offset, r->target, key_text(m, key, sizeof key),
	       header_text(m, EVENTS_HEADER_EVENT_ID, id, sizeof id));
	if (r->prod) {
		while ((rc = kafka_producer_send(r->prod, r->target, m->key, m->key_len, m->payload,
		                                 m->len, h, nh, NULL)) == UTIL_EUNAVAIL)
			kafka_producer_poll(r->prod, 100);
		if (rc) {
			fprintf(stderr, "simpulctl: produce to \"%s\": %s\n", r->target,
			        util_err_name(rc));
			return SIMPULCTL_FAIL;
		}
		kafka_producer_poll(r->prod, 0);
	}
	r->sent++;
	p->last = m->offset;
	return SIMPULCTL_OK;
}

/* Commits last + 1 of every partition a replay re-produced from. */
static int replay_commit(rd_kafka_t *rk, const struct dlq_topic *t)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(t->n);
	rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;

	for (int i = 0; i < t->n; i++)
		if (t->parts[i].last >= 0) {
			rd_kafka_topic_partition_list_add(l, t->name, t->parts[i].id)->offset =
			    t->parts[i].last + 1;
			printf("committed %s [%d] offset %" PRId64 " (group %s)\n", t->name,
			       (int)t->parts[i].id, t->parts[i].last + 1, DLQ_GROUP);
		}
	if (l->cnt)
		e = rd_kafka_commit(rk, l, 0);
	rd_kafka_topic_partition_list_destroy(l);
	if (e) {
		fprintf(stderr,
		        "simpulctl: commit on \"%s\": %s (the records were replayed; a "
		        "rerun sends them again)\n",
		        t->name, rd_kafka_err2str(e));
		return SIMPULCTL_FAIL;
	}
	return SIMPULCTL_OK;
}

static int replay_run(const char *brokers, rd_kafka_t *rk, struct dlq_topic *t, long limit,
                      bool dry_run)
{
	char target[256], err[512];
	struct replay r = {.target = target};
	size_t sl = strlen(EVENTS_DLQ_SUFFIX), tl = strlen(t->name);
	struct kafka_producer_config pc = {.brokers = brokers,
	                                   .client_id = "simpulctl-dlq-replay",
	                                   .on_delivery = replay_delivered,
	                                   .ud = &r};
	int rc;

	snprintf(target, sizeof target, "%.*s", (int)(tl - sl), t->name);
	if (!dry_run && !(r.prod = kafka_producer_new(&pc, err, sizeof err))) {
		fprintf(stderr, "simpulctl: producer: %s\n", err);
		return SIMPULCTL_FAIL;
	}
	rc = dlq_read(rk, t, true, limit, replay_one, &r);
	if (r.prod && kafka_producer_flush(r.prod, 60000))
		r.failed += r.sent - r.acked - r.failed;
	kafka_producer_free(r.prod);
	if (dry_run) {
		printf("dry run: %zu record(s) would be replayed to %s; nothing produced or "
		       "committed\n",
		       r.sent, target);
		return rc;
	}
	if (r.failed) {
		fprintf(stderr,
		        "simpulctl: %zu of %zu record(s) not acknowledged (%s): nothing "
		        "committed, run the replay again\n",
		        r.failed, r.sent, r.first_error);
		return SIMPULCTL_FAIL;
	}
	if (r.sent && replay_commit(rk, t))
		return SIMPULCTL_FAIL;
	printf("replayed %zu record(s) to %s\n", r.sent, target);
	return rc;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Prints the partitions of one DLQ topic; 0 or -1 when it could not be read. */
static int list_one(rd_kafka_t *rk, const char *name)
{
	struct dlq_topic t = {.name = name};
	char err[512], rep[24];

	if (dlq_topic_load(rk, &t, err, sizeof err)) {
		fprintf(stderr, "simpulctl: %s\n", err);
		return -1;
	}
	for (int k = 0; k < t.n; k++) {
		const struct dlq_part *p = &t.parts[k];
		if (p->committed < 0)
			snprintf(rep, sizeof rep, "-");
		else
			snprintf(rep, sizeof rep, "%" PRId64, p->committed);
		printf("%-40s %4d %10" PRId64 " %10" PRId64 " %8" PRId64 " %10s %8" PRId64 "\n",
		       name, (int)p->id, p->lo, p->hi, p->hi - p->lo, rep,
		       p->hi - part_pending_from(p));
	}
	return 0;
}

static int dlq_list(rd_kafka_t *rk)
{
	const struct rd_kafka_metadata *md = NULL;
	size_t sl = strlen(EVENTS_DLQ_SUFFIX), n = 0;
	rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, DLQ_TIMEOUT_MS);
	const char **names;
	int rc = SIMPULCTL_OK;

	if (e) {
		fprintf(stderr, "simpulctl: kafka metadata: %s\n", rd_kafka_err2str(e));
		return SIMPULCTL_FAIL;
	}
	names = calloc((size_t)md->topic_cnt + 1, sizeof *names);
	for (int i = 0; names && i < md->topic_cnt; i++) {
		const char *name = md->topics[i].topic;
		size_t nl = strlen(name);
		if (nl > sl && !strcmp(name + nl - sl, EVENTS_DLQ_SUFFIX))
			names[n++] = name;
	}
	if (names) {
		qsort(names, n, sizeof *names, name_cmp);
		printf("%-40s %4s %10s %10s %8s %10s %8s\n", "DLQ", "PART", "LOW", "HIGH",
		       "RECORDS", "REPLAYED", "PENDING");
		for (size_t i = 0; i < n; i++)
			rc |= list_one(rk, names[i]) ? SIMPULCTL_FAIL : SIMPULCTL_OK;
		printf("%zu dead-letter topic(s); REPLAYED is the next offset of group %s\n", n,
		       DLQ_GROUP);
	} else {
		fprintf(stderr, "simpulctl: out of memory\n");
		rc = SIMPULCTL_FAIL;
	}
	free(names);
	rd_kafka_metadata_destroy(md);
	return rc;
}

/* Parses "--limit N" / "--dry-run" after the topic; false on bad usage. */
static bool parse_args(int argc, char **argv, bool allow_dry, long *limit, bool *dry)
{
	for (int i = 3; i < argc; i++) {
		char *end = NULL;
		const char *v = NULL;

		if (allow_dry && !strcmp(argv[i], "--dry-run")) {
			*dry = true;
			continue;
		}
		if (!strncmp(argv[i], "--limit=", 8))
			v = argv[i] + 8;
		else if (!strcmp(argv[i], "--limit") && i + 1 < argc)
			v = argv[++i];
		if (!v)
			return false;
		*limit = strtol(v, &end, 10);
		if (!*v || *end || *limit < 1)
			return false;
	}
	return true;
}

int simpulctl_cmd_dlq(const char *brokers, int argc, char **argv)
{
	const char *verb = argc >= 2 ? argv[1] : "";
	size_t sl = strlen(EVENTS_DLQ_SUFFIX), tl = argc >= 3 ? strlen(argv[2]) : 0;
	bool list = !strcmp(verb, "list") && argc == 2, dry = false;
	bool show = !strcmp(verb, "show"), replay = !strcmp(verb, "replay");
	struct dlq_topic t = {.name = argc >= 3 ? argv[2] : ""};
	long limit = -1;
	rd_kafka_t *rk;
	char err[512];
	int rc;

	if (!list && !((show || replay) && tl > sl && tl < 250 &&
	               !strcmp(argv[2] + tl - sl, EVENTS_DLQ_SUFFIX) &&
	               parse_args(argc, argv, replay, &limit, &dry))) {
		fputs(dlq_usage, (argc == 2 && !strcmp(verb, "help")) ? stdout : stderr);
		return argc == 2 && !strcmp(verb, "help") ? SIMPULCTL_OK : SIMPULCTL_USAGE;
	}
	rk = dlq_consumer_new(brokers, err, sizeof err);
	if (!rk) {
		fprintf(stderr, "simpulctl: %s\n", err);
		return SIMPULCTL_FAIL;
	}
	if (list) {
		rc = dlq_list(rk);
	} else if (dlq_topic_load(rk, &t, err, sizeof err)) {
		fprintf(stderr, "simpulctl: %s\n", err);
		rc = SIMPULCTL_FAIL;
	} else if (show) {
		rc = dlq_read(rk, &t, false, limit, show_one, NULL);
	} else {
		rc = replay_run(brokers, rk, &t, limit, dry);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return rc;
}
