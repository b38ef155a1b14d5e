/*
 * services/ingest/relay.c - ingest's outbox relay: publishes simpul.outbox
 * through libs/outbox (one leader per cluster under a session advisory
 * lock, idempotent producer, rows marked sent on the delivery report, per-key
 * order kept, sent rows pruned after SIMPUL_INGEST_OUTBOX_RETENTION_MS; see
 * outbox/outbox.h). This file only maps ingest's configuration and metrics
 * (ingest_outbox_backlog, ingest_relay_published_total,
 * ingest_relay_failures_total) onto it.
 */
#include <stdlib.h>

#include "ingest.h"
#include "outbox/outbox.h"

/*
 * The lock is the table's (outbox_lock_key("simpul.outbox"), lock_key 0),
 * the one every relay of simpul.outbox takes (notify's too, which writes
 * webhook records there): a single publisher among all of them. Before,
 * ingest used a key of its own (5353390817), so ingest's and notify's
 * relays were both leaders and published the same rows twice. During a
 * rolling upgrade from such a version an old and a new ingest may both
 * publish for a while; consumers dedupe by simpul-event-id.
 */

struct ingest_relay {
	struct outbox_relay *out;
};

struct ingest_relay *ingest_relay_new(const struct ingest_config *cfg, struct ingest_metrics *m,
				      char *err, size_t errlen)
{
	struct outbox_relay_config oc = {.pg_url = cfg->pg_url,
					 .brokers = cfg->kafka_brokers,
					 .table = "simpul.outbox",
					 .backlog_gauge = m->outbox_backlog,
					 .published_counter = m->published,
					 .failures_counter = m->relay_failures,
					 .client_id = "simpul-ingest-relay",
					 .lock_key = 0,
					 .retention_ms = cfg->outbox_retention_ms,
					 .batch = 1000,
					 .idle_ms = 100,
					 .error_pause_ms = 1000,
					 .standby_retry_ms = 1000,
					 .message_timeout_ms = 15000};
	struct ingest_relay *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->out = outbox_relay_new(&oc, err, errlen);
	if (!r->out) {
		free(r);
		return NULL;
	}
	return r;
}

int ingest_relay_start(struct ingest_relay *r)
{
	return outbox_relay_start(r->out);
}

void ingest_relay_wake(void *relay)
{
	struct ingest_relay *r = relay;

	if (r)
		outbox_relay_wake(r->out);
}

void ingest_relay_stop(struct ingest_relay *r, int64_t grace_ms)
{
	if (r)
		outbox_relay_stop(r->out, grace_ms);
}

void ingest_relay_free(struct ingest_relay *r)
{
	if (!r)
		return;
	outbox_relay_free(r->out);
	free(r);
}

bool ingest_relay_kafka_ready(struct ingest_relay *r, char *detail, size_t len)
{
	return outbox_relay_ready(r->out, 500, detail, len);
}
