/*
 * events/topics.h - the table of Simpul's Kafka topics: names, partition
 * counts, compaction, and their dead-letter topics ("<topic>.dlq", one
 * partition each). The single place topic names are spelled.
 */
#ifndef EVENTS_TOPICS_H
#define EVENTS_TOPICS_H

#include <stdbool.h>
#include <stddef.h>

#include "kafka/admin.h"

#define EVENTS_TOPIC_INTAKE "kim.intake.v1"
#define EVENTS_TOPIC_CONTENT_SUBMITTED "kim.content.submitted.v1"
#define EVENTS_TOPIC_REGISTRY "kim.registry.v1"
#define EVENTS_TOPIC_CONTENT_MODERATED "kim.content.moderated.v1"
#define EVENTS_TOPIC_CONTENT_PUBLISHED "kim.content.published.v1"
#define EVENTS_TOPIC_MODERATION_FEEDBACK "kim.moderation.feedback.v1"
#define EVENTS_TOPIC_CONTENT_INDEXED "kim.content.indexed.v1"
#define EVENTS_TOPIC_NOTIFICATION "kim.notification.v1"
#define EVENTS_TOPIC_REPORT_REGION_DAILY "kim.report.region-daily.v1"
#define EVENTS_TOPIC_REPORT_KIM_ACTIVITY "kim.report.kim-activity.v1"

/* Suffix of a dead-letter topic; EVENTS_DLQ(EVENTS_TOPIC_INTAKE) is
 * "kim.intake.v1.dlq" (a string literal). */
#define EVENTS_DLQ_SUFFIX ".dlq"
#define EVENTS_DLQ(topic) topic EVENTS_DLQ_SUFFIX
#define EVENTS_DLQ_PARTITIONS 1

struct events_topic {
	const char *name;     /* e.g. EVENTS_TOPIC_INTAKE */
	const char *dlq;      /* its dead-letter topic, NULL if it has none */
	int partitions;
	bool compacted;
};

/* The main topics (not the DLQs), in a fixed order; static storage. */
extern const struct events_topic events_topics[];
extern const size_t events_topics_count;

/* The entry for a main topic name, or NULL. */
const struct events_topic *events_topic_find(const char *name);

/*
 * Fills out[0..cap) with creation specs for every main topic and every DLQ
 * (replication as given, >= 1). Names point to static storage. Returns the
 * number of specs written; events_topic_specs(NULL, 0, 1) gives the count.
 */
size_t events_topic_specs(struct kafka_topic_spec *out, size_t cap, int replication);

#endif
