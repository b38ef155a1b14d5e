/*
 * services/moderate/mod_pipeline.h - the consumer threads (pipeline.c) and
 * the classifier's learning from feedback (learn.c). The outbox relay is
 * libs/outbox's (outbox/outbox.h), created in app.c.
 */
#ifndef MODERATE_MOD_PIPELINE_H
#define MODERATE_MOD_PIPELINE_H

#include <signal.h>

#include "kafka/consumer.h"
#include "metrics/metrics.h"
#include "moderate.h"

struct mod_worker;
struct outbox_relay;
struct mod_committer;

struct mod_pipeline {
	const struct mod_config *cfg; /* borrowed */
	struct mod_state *state;      /* borrowed */
	struct cache *cache;          /* borrowed; may be NULL */
	struct outbox_relay *relay;   /* borrowed; may be NULL */
	struct mod_committer *committer; /* borrowed; NULL: each consumer commits alone */
	struct metrics_counter *decisions; /* label decision */
	struct metrics_counter *learned;
	volatile sig_atomic_t stop;
	struct mod_worker *workers;
	size_t nworkers;
};

/* Starts cfg->consumers threads. On failure call mod_pipeline_stop. */
__attribute__((warn_unused_result)) int mod_pipeline_start(struct mod_pipeline *p, char *err,
							   size_t errlen);
/* Stops the consumers (finishing the current message) and frees them. */
void mod_pipeline_stop(struct mod_pipeline *p);
void mod_pipeline_stats(struct mod_pipeline *p, struct kafka_consumer_stats *out);
void mod_pipeline_wake_relay(struct mod_pipeline *p);

/*
 * The consumers' libs/kafka handlers (one message; a batch, see pipeline.c),
 * ud being a struct mod_worker. mod_worker_new makes one without a Kafka
 * consumer (its own PostgreSQL connection and text workspace) so tests can
 * drive the handlers directly. NULL with err set.
 */
struct mod_worker *mod_worker_new(struct mod_pipeline *p, char *err, size_t errlen);
void mod_worker_free(struct mod_worker *w);
__attribute__((warn_unused_result)) int mod_pipeline_handle(void *ud,
							    const struct kafka_message *m,
							    char *err, size_t errlen);
__attribute__((warn_unused_result)) int mod_pipeline_handle_batch(void *ud,
								  const struct kafka_message *msgs,
								  size_t n, char *err,
								  size_t errlen);

/*
 * Learns one ModerationFeedback (approve: good, reject: bad) into
 * simpul.moderation_bayes once per event id (simpul.moderation_bayes_learned).
 * The reloader picks the new counts up.
 */
__attribute__((warn_unused_result)) int mod_feedback_learn(struct mod_pipeline *p,
							   struct db_conn *db,
							   struct text_work *wk,
							   const struct kafka_message *m, char *err,
							   size_t errlen);

/*
 * Learns title/body texts into the stored classifier in one transaction,
 * once per learn_key (NULL: no dedupe). For feedback and simpulctl.
 */
__attribute__((warn_unused_result)) int mod_learn_store(struct db_conn *db,
							const struct mod_bayes *delta,
							const char *learn_key, bool *learned,
							char *err, size_t errlen);

#endif
