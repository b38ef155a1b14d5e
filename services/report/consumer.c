/*
 * services/report/consumer.c - a thread running the at-least-once consumer
 * loop (libs/kafka) over every event topic, applying each batch of messages
 * in one transaction with batch.c (or, as the loop's fallback and with
 * SIMPUL_REPORT_BATCH_MAX=1, each message with apply.c) on its own
 * PostgreSQL connection. Offsets are stored only after the commit; a
 * replay is a no-op thanks to the event-id dedupe. Used live (gen 0, group simpul-report) and by rebuilds (an explicit
 * generation, a fresh group, stopping by itself at the high watermarks taken
 * when the rebuild began).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "kafka/consumer.h"
#include "report.h"
#include "slog/slog.h"
#include "util/err.h"

struct target {
	char topic[128];
	int32_t partition;
	int64_t high;    /* next offset to be written when the rebuild began */
	bool reached;
};

struct report_consumer {
	struct kafka_consumer *kc;
	struct db_conn *db;
	int gen;
	pthread_t thread;
	bool started;
	volatile sig_atomic_t stop;
	uint64_t applied, dups;
	pthread_mutex_t mu;
	struct target *targets;
	size_t ntargets, nreached;
};

static void target_seen(struct report_consumer *rc, const struct kafka_message *m)
{
	pthread_mutex_lock(&rc->mu);
	for (size_t i = 0; i < rc->ntargets; i++) {
		struct target *t = &rc->targets[i];

		if (t->reached || t->partition != m->partition || strcmp(t->topic, m->topic))
			continue;
		if (m->offset + 1 >= t->high) {
			t->reached = true;
			rc->nreached++;
		}
	}
	if (rc->ntargets && rc->nreached == rc->ntargets)
		rc->stop = 1;
	pthread_mutex_unlock(&rc->mu);
}

static int handle(void *ud, const struct kafka_message *m, char *err, size_t errlen)
{
	struct report_consumer *rc = ud;
	bool applied = false;
	int rc2 = report_apply(rc->db, rc->gen, m, &applied, err, errlen);

	if (rc2 == UTIL_EINVAL && rc->gen > 0)
		rc2 = 0; /* a rebuild skips poison: the live consumer dead-lettered it */
	if (rc2 != 0) {
		if (rc2 == UTIL_EINVAL)
			slog_warn("poison event", "topic=%s partition=%d offset=%lld err=\"%s\"",
				  m->topic, (int)m->partition, (long long)m->offset, err);
		return rc2;
	}
	__atomic_add_fetch(applied ? &rc->applied : &rc->dups, 1, __ATOMIC_RELAXED);
	if (rc->ntargets)
		target_seen(rc, m);
	return 0;
}

/*
 * A batch holding poison (UTIL_EINVAL): its valid events are applied in one
 * transaction anyway, so the one-by-one redo that follows (libs/kafka: the
 * poison to the DLQ) finds them as duplicates - one cheap statement each,
 * touching no cells - instead of applying thousands of events one
 * transaction each (slow, and deadlock-prone against the batches of other
 * consumers). Harmless to repeat: the event-id dedupe.
 */
static void apply_valid(struct report_consumer *rc, const struct kafka_message *msgs, size_t n)
{
	struct kafka_message *ok = calloc(n, sizeof(*ok));
	size_t k = 0, applied = 0, dups = 0;
	char err[256];

	for (size_t i = 0; ok && i < n; i++) {
		struct report_event ev;

		if (report_event_decode(rc->gen, &msgs[i], &ev, err, sizeof(err)) == 0)
			ok[k++] = msgs[i];
		report_event_release(&ev);
	}
	if (k > 0 && k < n &&
	    report_apply_batch(rc->db, rc->gen, ok, k, &applied, &dups, err, sizeof(err)) == 0)
		__atomic_add_fetch(&rc->applied, applied, __ATOMIC_RELAXED);
	free(ok);
}

/* A batch in ONE transaction (batch.c); on failure libs/kafka redoes it
 * through handle(), one message at a time (poison to the DLQ there). */
static int handle_batch(void *ud, const struct kafka_message *msgs, size_t n, char *err,
			size_t errlen)
{
	struct report_consumer *rc = ud;
	size_t applied = 0, dups = 0;
	int rc2 = report_apply_batch(rc->db, rc->gen, msgs, n, &applied, &dups, err, errlen);

	if (rc2 == UTIL_EINVAL)
		apply_valid(rc, msgs, n);
	if (rc2 != 0)
		return rc2;
	__atomic_add_fetch(&rc->applied, applied, __ATOMIC_RELAXED);
	__atomic_add_fetch(&rc->dups, dups, __ATOMIC_RELAXED);
	for (size_t i = 0; rc->ntargets && i < n; i++)
		target_seen(rc, &msgs[i]);
	return 0;
}

struct report_consumer *report_consumer_new(const struct report_config *cfg, const char *group,
					    int gen, char *err, size_t errlen)
{
	struct db_conn_opts opts = {.application_name = "simpul-report-consumer",
				    .statement_timeout_ms = 30000,
				    .allow_down = true};
	struct kafka_consumer_config kc = {.brokers = cfg->kafka_brokers,
					   .group_id = group,
					   .client_id = "simpul-report",
					   .topics = report_topics,
					   .ntopics = report_ntopics,
					   .handle = handle,
					   .handle_batch = cfg->batch_max > 1 ? handle_batch : NULL,
					   .batch_max = (int)cfg->batch_max,
					   .batch_wait_ms = cfg->batch_wait_ms > 0 ? (int)cfg->batch_wait_ms : -1};
	/* rebuilds always replay from the beginning */
	const struct kafka_kv extra[] = {
		{"auto.offset.reset", gen > 0 ? "earliest" : cfg->offset_reset}};
	struct report_consumer *rc = calloc(1, sizeof(*rc));

	if (!rc)
		return NULL;
	kc.extra = extra;
	kc.nextra = 1;
	pthread_mutex_init(&rc->mu, NULL);
	rc->gen = gen;
	kc.ud = rc;
	rc->db = db_conn_new_opts(cfg->pg_url, &opts, err, errlen);
	if (!rc->db)
		goto fail;
	rc->kc = kafka_consumer_new(&kc, err, errlen);
	if (!rc->kc)
		goto fail;
	return rc;
fail:
	report_consumer_free(rc);
	return NULL;
}

int report_consumer_set_targets(struct report_consumer *rc, const char *const *topics,
				const int32_t *partitions, const int64_t *high, size_t n)
{
	rc->targets = calloc(n ? n : 1, sizeof(*rc->targets));
	if (!rc->targets)
		return UTIL_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct target *t = &rc->targets[i];

		snprintf(t->topic, sizeof(t->topic), "%s", topics[i]);
		t->partition = partitions[i];
		t->high = high[i];
		t->reached = high[i] <= 0;
		rc->nreached += t->reached;
	}
	rc->ntargets = n;
	return 0;
}

bool report_consumer_done(struct report_consumer *rc)
{
	bool done;

	pthread_mutex_lock(&rc->mu);
	done = rc->ntargets > 0 && rc->nreached == rc->ntargets;
	pthread_mutex_unlock(&rc->mu);
	return done;
}

static void *consumer_main(void *p)
{
	struct report_consumer *rc = p;
	char err[512];

	if (report_consumer_done(rc))
		return NULL; /* nothing to replay */
	if (kafka_consumer_run(rc->kc, &rc->stop, err, sizeof(err)) != 0)
		slog_error("consumer stopped", "err=\"%s\"", err);
	return NULL;
}

int report_consumer_start(struct report_consumer *rc)
{
	if (pthread_create(&rc->thread, NULL, consumer_main, rc) != 0)
		return UTIL_EIO;
	rc->started = true;
	return 0;
}

void report_consumer_counts(struct report_consumer *rc, uint64_t *applied, uint64_t *dups)
{
	*applied = __atomic_load_n(&rc->applied, __ATOMIC_RELAXED);
	*dups = __atomic_load_n(&rc->dups, __ATOMIC_RELAXED);
}

void report_consumer_free(struct report_consumer *rc)
{
	if (!rc)
		return;
	rc->stop = 1;
	if (rc->started)
		pthread_join(rc->thread, NULL);
	kafka_consumer_free(rc->kc);
	db_conn_free(rc->db);
	free(rc->targets);
	pthread_mutex_destroy(&rc->mu);
	free(rc);
}
