/*
 * dlq.c - produce a failed record to its dead-letter topic, with the error
 * and source position in headers, and wait for its acknowledgement.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlq.h"
#include "internal.h"
#include "slog/slog.h"
#include "util/err.h"

#define DLQ_TIMEOUT_MS 10000

static const char *const dlq_header_names[] = {
	"simpul-error", "simpul-error-count", "simpul-source-topic",
	"simpul-source-partition", "simpul-source-offset",
};
#define DLQ_NHEADERS (sizeof dlq_header_names / sizeof dlq_header_names[0])

static void dlq_delivered(void *ud, void *msg_opaque, int err, const char *errstr)
{
	struct kafka_dlq *d = ud;

	/* A timed-out earlier send: its outcome no longer matters (the record
	 * was retried), and it must not count for the current one. */
	if ((uintptr_t)msg_opaque != d->seq) {
		slog_debug("kafka dlq late report ignored", "code=%d", err);
		return;
	}
	d->err = err;
	snprintf(d->errstr, sizeof d->errstr, "%s", errstr ? errstr : "");
	d->done = true;
}

static int dlq_producer_make(struct kafka_dlq *d, char *err, size_t errlen)
{
	struct kafka_producer_config pc = {
		.brokers = d->brokers,
		.client_id = d->client_id,
		.linger_ms = 1,
		.message_timeout_ms = DLQ_TIMEOUT_MS,
		.on_delivery = dlq_delivered,
		.ud = d,
	};

	d->p = kafka_producer_new(&pc, err, errlen);
	return d->p ? 0 : UTIL_EINVAL;
}

int kafka_dlq_init(struct kafka_dlq *d, const char *brokers, const char *group,
		   const char *suffix, char *err, size_t errlen)
{
	memset(d, 0, sizeof *d);
	d->wait_ms = DLQ_TIMEOUT_MS + 5000;
	d->brokers = strdup(brokers);
	d->suffix = strdup(suffix ? suffix : ".dlq");
	if (d->brokers && d->suffix &&
	    asprintf(&d->client_id, "%s-dlq", group) < 0)
		d->client_id = NULL;
	if (!d->brokers || !d->suffix || !d->client_id)
		return util_err_set(err, errlen, UTIL_ENOMEM, "kafka dlq: out of memory");
	return dlq_producer_make(d, err, errlen);
}

void kafka_dlq_release(struct kafka_dlq *d)
{
	kafka_producer_free(d->p);
	free(d->brokers);
	free(d->client_id);
	free(d->suffix);
	memset(d, 0, sizeof *d);
}

static bool is_dlq_header(const char *name)
{
	for (size_t i = 0; i < DLQ_NHEADERS; i++)
		if (strcmp(name, dlq_header_names[i]) == 0)
			return true;
	return false;
}

/* Original headers (minus earlier DLQ ones) into a heap array; *n set. */
static struct kafka_header *headers_copy(const rd_kafka_message_t *rkm, size_t *n)
{
	rd_kafka_headers_t *hdrs = NULL;
	size_t cnt = 0, k = 0;
	struct kafka_header *out;

	if (rd_kafka_message_headers(rkm, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR)
		cnt = rd_kafka_header_cnt(hdrs);
	out = calloc(cnt + DLQ_NHEADERS, sizeof *out);
	if (!out)
		return NULL;
	for (size_t i = 0; i < cnt; i++) {
		const char *name;
		const void *val;
		size_t len;
		if (rd_kafka_header_get_all(hdrs, i, &name, &val, &len) || is_dlq_header(name))
			continue;
		out[k++] = (struct kafka_header){ name, val, len };
	}
	*n = k;
	return out;
}

static int dlq_wait(struct kafka_dlq *d, char *err, size_t errlen)
{
	int64_t waited = 0;

	while (!d->done && waited < d->wait_ms) {
		kafka_producer_poll(d->p, 100);
		waited += 100;
	}
	if (!d->done) {
		/* Not sent yet: never send it later, behind the next record. */
		kafka__producer_purge_queue(d->p);
		return util_err_set(err, errlen, UTIL_ETIMEOUT, "no delivery report");
	}
	if (d->err)
		return util_err_set(err, errlen, d->err, "%s", d->errstr);
	return 0;
}

int kafka_dlq_send(struct kafka_dlq *d, const rd_kafka_message_t *rkm, const char *error,
		   int count, char *err, size_t errlen)
{
	char topic[512], scount[16], spart[16], soff[24];
	const char *src = rd_kafka_topic_name(rkm->rkt);
	struct kafka_header *h;
	size_t n = 0;
	int rc;

	if (!d->p && dlq_producer_make(d, err, errlen))
		return UTIL_EUNAVAIL;
	if (kafka_producer_fatal(d->p, NULL, 0)) { /* rebuild, then try again later */
		kafka_producer_free(d->p);
		d->p = NULL;
		return util_err_set(err, errlen, UTIL_EIO, "dlq producer fatal, rebuilt");
	}
	snprintf(topic, sizeof topic, "%s%s", src, d->suffix);
	snprintf(scount, sizeof scount, "%d", count);
	snprintf(spart, sizeof spart, "%" PRId32, rkm->partition);
	snprintf(soff, sizeof soff, "%" PRId64, rkm->offset);
	h = headers_copy(rkm, &n);
	if (!h)
		return util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
	h[n++] = (struct kafka_header){ dlq_header_names[0], error, strlen(error) };
	h[n++] = (struct kafka_header){ dlq_header_names[1], scount, strlen(scount) };
	h[n++] = (struct kafka_header){ dlq_header_names[2], src, strlen(src) };
	h[n++] = (struct kafka_header){ dlq_header_names[3], spart, strlen(spart) };
	h[n++] = (struct kafka_header){ dlq_header_names[4], soff, strlen(soff) };
	d->done = false;
	d->seq++;
	rc = kafka_producer_send(d->p, topic, rkm->key, rkm->key_len, rkm->payload, rkm->len, h,
				 n, (void *)d->seq);
	free(h);
	if (rc)
		return util_err_set(err, errlen, rc, "dlq produce to \"%s\": %s", topic,
				    util_err_name(rc));
	return dlq_wait(d, err, errlen);
}
