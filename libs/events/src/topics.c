/*
 * topics.c - the table of Simpul's topics and their dead-letter topics.
 */
#include <string.h>

#include "events/topics.h"

#define TOPIC(n, p, c) { n, EVENTS_DLQ(n), p, c }

const struct events_topic events_topics[] = {
	TOPIC(EVENTS_TOPIC_INTAKE, 6, false),
	TOPIC(EVENTS_TOPIC_CONTENT_SUBMITTED, 12, false),
	TOPIC(EVENTS_TOPIC_REGISTRY, 3, false),
	TOPIC(EVENTS_TOPIC_CONTENT_MODERATED, 12, false),
	TOPIC(EVENTS_TOPIC_CONTENT_PUBLISHED, 12, false),
	TOPIC(EVENTS_TOPIC_MODERATION_FEEDBACK, 3, false),
	TOPIC(EVENTS_TOPIC_CONTENT_INDEXED, 6, false),
	TOPIC(EVENTS_TOPIC_NOTIFICATION, 6, false),
	TOPIC(EVENTS_TOPIC_REPORT_REGION_DAILY, 3, true),
	TOPIC(EVENTS_TOPIC_REPORT_KIM_ACTIVITY, 3, true),
};

const size_t events_topics_count = sizeof events_topics / sizeof events_topics[0];

const struct events_topic *events_topic_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < events_topics_count; i++)
		if (strcmp(events_topics[i].name, name) == 0)
			return &events_topics[i];
	return NULL;
}

size_t events_topic_specs(struct kafka_topic_spec *out, size_t cap, int replication)
{
	size_t n = 0;

	if (replication < 1)
		replication = 1;
	for (size_t i = 0; i < events_topics_count; i++) {
		const struct events_topic *t = &events_topics[i];
		if (out && n < cap)
			out[n] = (struct kafka_topic_spec){ t->name, t->partitions, replication,
							    t->compacted };
		n++;
		if (!t->dlq)
			continue;
		if (out && n < cap)
			out[n] = (struct kafka_topic_spec){ t->dlq, EVENTS_DLQ_PARTITIONS,
							    replication, false };
		n++;
	}
	return out ? (n < cap ? n : cap) : n;
}
