/*
 * tests/chaos/chaos_verify.h - after the faults: wait for the pipeline to
 * drain, then check and print, for every accepted submission, that it is in
 * PostgreSQL exactly once, has exactly one moderation decision, is
 * searchable if approved, is counted once by report, and that every
 * expected webhook was delivered once (by event id, from the receiver's
 * record).
 */
#ifndef TESTS_CHAOS_VERIFY_H
#define TESTS_CHAOS_VERIFY_H

#include <stddef.h>

#include <libpq-fe.h>

#include "chaos_load.h"
#include "pipeline.h"
#include "ts/ts.h"

struct chaos_verify_in {
	PGconn **pg;               /* reconnected when PostgreSQL was restarted */
	const char *pg_url;
	const struct chaos_load *load;
	const struct pl *pl;
	const char *kim_id;
	const char *admin_token;   /* report's KIM activity */
	const char *hook_prefix;   /* receiver path prefix of our subscription */
	const char *hook_word;
	const char *secret;        /* the subscription's signing secret */
	struct ts_reader *moderated; /* NULL: topic checks skipped (long runs) */
	struct ts_reader *indexed;
	int drain_ms;
};

/* Waits for the drain (progress every 10 s), checks, prints the counts.
 * Returns the number of failed checks (0: all good). */
int chaos_verify(const struct chaos_verify_in *in);

#endif
