/*
 * services/notify/tests/nt.h - helpers of the notification service's
 * integration test: a local webhook receiver (libmicrohttpd) that records
 * every request and answers by path, a simpul-notify child on a free port,
 * and a producer of synthetic input events (libs/kafka + libs/events).
 */
#ifndef NOTIFY_TESTS_NT_H
#define NOTIFY_TESTS_NT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* ---- receiver (nt_receiver.c) ---- */

/*
 * Paths: /ok/<tag>       200
 *        /fail<N>/<tag>  503 for the first N requests of each webhook-id, then 200
 *        /drop<N>/<tag>  closes the connection for the first N requests, then 200
 *        /slow<N>/<tag>  answers after 5 s (recorded as status 0) the first N times
 *        /gone/<tag>     410
 */
struct nt_hit {
	char path[256];
	char id[64];        /* webhook-id */
	char ts[32];        /* webhook-timestamp */
	char sig[256];      /* webhook-signature */
	char *body;         /* owned */
	size_t body_len;
	int status;         /* what the receiver answered (0: dropped) */
};

/* Starts the receiver on a free loopback port; 0 or -1. */
int nt_receiver_start(unsigned *port);
void nt_receiver_stop(void);
/* Hits whose path starts with prefix; copies up to cap into out (borrowed
 * body pointers stay valid until nt_receiver_stop). Returns the total. */
size_t nt_hits(const char *prefix, struct nt_hit *out, size_t cap);
/* Distinct webhook-ids among answered-200 hits under prefix. */
size_t nt_delivered_ids(const char *prefix);
/* Waits until nt_delivered_ids(prefix) >= n or ms passed; returns the count. */
size_t nt_wait_delivered(const char *prefix, size_t n, int ms);

/* ---- the service (nt_proc.c) ---- */

struct nt_service {
	int pid;
	unsigned port;
	char base[64];
	char log[256];
};

/* Starts bin with the stack's settings from the environment plus extra
 * ("NAME=value", NULL-terminated); waits for /healthz. 0 or -1 (log tail printed). */
int nt_service_start(struct nt_service *s, const char *bin, const char *const *extra,
		     int wait_ms);
/* SIGTERM, wait; returns the exit status or -1. */
int nt_service_stop(struct nt_service *s);

/* ---- events (nt_proc.c) ---- */

/* Sends msg (its meta already filled) to topic with key and the five headers. 0 or -1. */
int nt_produce(const char *brokers, const char *topic, const char *key,
	       const ProtobufCMessage *msg, const void *meta);
/* Queues bytes that are no protobuf message (poison) to topic with key, on the
 * same producer, unflushed: the next nt_produce sends both. 0 or -1. */
int nt_produce_garbage(const char *brokers, const char *topic, const char *key);

#endif
