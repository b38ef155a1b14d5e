/*
 * tests/chaos/chaos_load.h - the fault suite's steady load: threads that
 * submit numbered berita through simpul-ingest (POST /v1/content, or
 * /v1/content:batch with one idempotency key per line) at a fixed total
 * rate, retrying every unanswered or refused request with the SAME key
 * until it is accepted (a kill -9 or a database outage must neither lose
 * nor duplicate anything), and recording what was accepted (202) and the
 * id ingest gave it.
 */
#ifndef TESTS_CHAOS_LOAD_H
#define TESTS_CHAOS_LOAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum chaos_item_state { CHAOS_NOT_SENT = 0, CHAOS_ACCEPTED = 1, CHAOS_GAVE_UP = 2 };

struct chaos_item {
	char id[37];     /* ingest's id, when accepted */
	uint8_t state;   /* enum chaos_item_state */
};

struct chaos_load_cfg {
	const char *ingest_url; /* "http://127.0.0.1:<port>" (borrowed) */
	const char *token;      /* Bearer token of a KIM member (borrowed) */
	const char *kim_id;
	const char *region;     /* desa code */
	const char *run;        /* unique run tag: titles and keys */
	const char *hook_word;  /* put in the body of every hook_every-th item */
	size_t items;           /* how many to submit */
	size_t hook_every;      /* >= 1 */
	size_t review_every;    /* every n-th item carries rude words (review); 0: none */
	double rate;            /* items per second, all threads together */
	int threads;            /* 1..32 */
	int batch;              /* 1: single POSTs; >1: NDJSON batches of this size */
	int give_up_ms;         /* stop retrying one request after this long */
};

struct chaos_load {
	struct chaos_load_cfg cfg;
	struct chaos_item *items; /* [cfg.items], indexed by sequence number - 1 */
	pthread_t tid[32];
	int nthreads;
	int64_t t0_ms;
	atomic_size_t next;       /* next sequence number to take (from 1) */
	atomic_bool stop;
	atomic_size_t accepted, gave_up, requests, retries, replayed;
};

/* Starts the threads. 0 or UTIL_ENOMEM/UTIL_EINVAL. */
int chaos_load_start(struct chaos_load *l, const struct chaos_load_cfg *cfg);
/* True while items remain to be submitted. */
bool chaos_load_running(struct chaos_load *l);
/* Asks the threads to stop after their current request (its retries
 * included) and joins them. */
void chaos_load_stop(struct chaos_load *l);
void chaos_load_free(struct chaos_load *l);

/* The title of item seq (what the database check groups by). */
void chaos_title(const char *run, size_t seq, char *out, size_t outlen);

#endif
