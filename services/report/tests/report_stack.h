/*
 * services/report/tests/report_stack.h - helpers of the report integration
 * tests (report_stack.c): a simpul-report child, synthetic events produced
 * with libs/kafka, consumer-lag waits, JSON reads over HTTP.
 */
#ifndef REPORT_TESTS_REPORT_STACK_H
#define REPORT_TESTS_REPORT_STACK_H

#include <stddef.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <simpul/v1/meta.pb-c.h>

#include "kafka/admin.h"
#include "kafka/producer.h"
#include "ts/ts.h"

struct rs_service {
	int pid;
	unsigned port;
	char base[64]; /* http://127.0.0.1:<port> */
	char log[128];
};

/* Starts bin on a free port with the stack settings plus extra
 * ("NAME=value", NULL-terminated) and waits for /readyz. 0 or UTIL_E*. */
int rs_start(struct rs_service *s, const char *bin, const struct ts_env *env,
	     const char *const *extra, char *err, size_t errlen);
/* Waits until the child's log contains text and no further line with it
 * appeared for 3 s. 0 or UTIL_ETIMEOUT. */
int rs_wait_log(const struct rs_service *s, const char *text, int ms);
/* SIGTERM, wait (then SIGKILL); the exit status. */
int rs_stop(struct rs_service *s);
/* A free loopback port (0 if none found), from $REPORT_TEST_PORT_BASE up when set. */
unsigned rs_free_port(void);
/* The child's resident set size in KiB, -1 if unknown. */
long rs_rss_kb(const struct rs_service *s);

/* A producer to the stack's Kafka (free with kafka_producer_free). */
struct kafka_producer *rs_producer(const struct ts_env *env, char *err, size_t errlen);
/* Packs msg and enqueues it with the envelope headers of meta. */
int rs_send(struct kafka_producer *p, const char *topic, const char *key,
	    const ProtobufCMessage *msg, const Simpul__V1__EventMeta *meta, char *err,
	    size_t errlen);
/* The group's committed offsets and high watermarks at one moment. */
struct rs_lag {
	struct kafka_partition_lag *p; /* free() */
	size_t n;
};
int rs_lag_snapshot(const struct ts_env *env, const char *group, struct rs_lag *l, char *err,
		    size_t errlen);
/*
 * Waits until group committed everything produced so far (the high marks
 * when called) on the consumed topics; partitions whose mark did not move
 * since base (may be NULL) count as done. 0 or UTIL_ETIMEOUT.
 */
int rs_wait_lag(const struct ts_env *env, const char *group, const struct rs_lag *base, int ms,
		char *err, size_t errlen);

/* GET base+path_query with a Bearer token (NULL: none); parsed body or NULL. */
json_t *rs_get_json(const struct rs_service *s, const char *token, const char *path_query,
		    long *status);
/* Integer at a dotted path ("totals.submitted"); reals are returned x1000
 * (rounded); -1 when absent. */
long long rs_jint(json_t *j, const char *path);

#endif
