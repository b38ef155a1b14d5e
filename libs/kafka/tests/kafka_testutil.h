/*
 * kafka_testutil.h - helpers shared by the Kafka unit and integration
 * tests: a collecting handler with scripted failures, a watchdog that stops
 * a consumer loop after a deadline, and unique names.
 */
#ifndef KAFKA_TESTUTIL_H
#define KAFKA_TESTUTIL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafka/consumer.h"

#define TU_MAX_ITEMS 1024

struct tu_item {
	char topic[128];
	int32_t partition;
	int64_t offset;
	char key[64];
	char value[256];
	int attempt;
	char h_error[256];       /* simpul-error */
	char h_count[16];        /* simpul-error-count */
	char h_src_topic[128];   /* simpul-source-topic */
	char h_src_partition[16];
	char h_src_offset[24];
	char h_trace[64];        /* simpul-trace-id (an original header) */
};

struct tu_collector;
/* Decides the handler's result for a message (after it was recorded). */
typedef int (*tu_behaviour_fn)(struct tu_collector *c, const struct kafka_message *m,
			       char *err, size_t errlen);

struct tu_collector {
	struct tu_item items[TU_MAX_ITEMS]; /* every handler call, in order */
	size_t n;
	size_t successes;       /* calls that returned 0 */
	size_t want;            /* stop once this many returned 0 (0: never) */
	volatile sig_atomic_t stop;
	tu_behaviour_fn behaviour; /* NULL: always 0 */
	void *ud;
};

/* The kafka_handle_fn recording into a struct tu_collector (ud). */
int tu_collect(void *ud, const struct kafka_message *m, char *err, size_t errlen);

/* Runs kafka_consumer_run with a watchdog: stops after timeout_ms. Returns run's code. */
int tu_run(struct kafka_consumer *kc, struct tu_collector *col, int timeout_ms);

/* Writes prefix + random hex suffix into out. */
void tu_unique(char *out, size_t outlen, const char *prefix);

/* Index of the first successful item with that value, or -1. */
int tu_find_value(const struct tu_collector *c, const char *value);

#endif
