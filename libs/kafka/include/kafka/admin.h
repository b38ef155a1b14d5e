/*
 * kafka/admin.h - topic administration and consumer-group lag through the
 * Admin API. Each call opens a short-lived client to brokers.
 */
#ifndef KAFKA_ADMIN_H
#define KAFKA_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kafka_topic_spec {
	const char *name;
	int partitions;       /* >= 1 */
	int replication;      /* >= 1 */
	bool compacted;       /* cleanup.policy=compact */
};

enum kafka_topic_result {
	KAFKA_TOPIC_CREATED = 1,
	KAFKA_TOPIC_EXISTED = 2,  /* already there (partition count not changed) */
	KAFKA_TOPIC_FAILED = 3,
	KAFKA_TOPIC_MISMATCH = 4, /* already there with another partition count
				     (not changed): see kafka_topics_ensure */
};

/*
 * Creates every missing topic of specs[0..n) in one CreateTopics request.
 * "Already exists" counts as success when the existing topic has the spec's
 * partition count; otherwise its result is KAFKA_TOPIC_MISMATCH (the topic
 * is left as it is). If results is non-NULL it receives one entry per spec.
 * Returns 0 when every topic exists afterwards with its partition count,
 * else UTIL_EUNAVAIL (brokers unreachable / timed out), UTIL_EINVAL (a bad
 * spec), UTIL_EIO (a topic could not be created) or UTIL_ECONFLICT (a topic
 * exists with another partition count: "topic "x": has 3 partitions, spec
 * says 6"), with every failing topic and reason in err.
 */
__attribute__((warn_unused_result)) int
kafka_topics_ensure(const char *brokers, const struct kafka_topic_spec *specs, size_t n,
		    int timeout_ms, enum kafka_topic_result *results, char *err, size_t errlen);

/* Deletes the named topics; "unknown topic" counts as success.
 * Returns 0, UTIL_EUNAVAIL or UTIL_EIO with details in err. */
__attribute__((warn_unused_result)) int kafka_topics_delete(const char *brokers,
							    const char *const *names, size_t n,
							    int timeout_ms, char *err,
							    size_t errlen);

/* One topic of the cluster, as listed by kafka_topics_list(). */
struct kafka_topic_info {
	char name[256];
	int partitions;
	int replication;      /* replicas of partition 0 */
};

/*
 * Lists the cluster's topics (internal ones like __consumer_offsets left
 * out), sorted by name, into a heap array *out of *nout entries; free it
 * with free(). Returns 0 or UTIL_EUNAVAIL / UTIL_ENOMEM.
 */
__attribute__((warn_unused_result)) int kafka_topics_list(const char *brokers, int timeout_ms,
							  struct kafka_topic_info **out,
							  size_t *nout, char *err, size_t errlen);

/* Lag of one partition for one consumer group. */
struct kafka_partition_lag {
	char topic[256];
	int32_t partition;
	int64_t committed;    /* committed offset, -1 when the group has none */
	int64_t high;         /* high watermark (next offset to be written) */
	int64_t lag;          /* high - committed, or high - low when none committed */
};

/*
 * Lag of group: for every partition the group has committed offsets for,
 * plus every partition of topics[0..ntopics) (may be NULL/0), the committed
 * offset against the high watermark. Sorted by topic, partition; heap array
 * *out (free with free()), *nout entries (0 for an unknown group).
 * Returns 0, UTIL_EUNAVAIL or UTIL_EIO with err set.
 */
__attribute__((warn_unused_result)) int
kafka_group_lag(const char *brokers, const char *group, const char *const *topics,
		size_t ntopics, int timeout_ms, struct kafka_partition_lag **out, size_t *nout,
		char *err, size_t errlen);

#endif
