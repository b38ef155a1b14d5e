/*
 * services/moderate/mod_store.h - PostgreSQL writes of the automatic
 * pipeline (store.c).
 */
#ifndef MODERATE_MOD_STORE_H
#define MODERATE_MOD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pthread.h>

#include <jansson.h>

#include "mod_events.h"

/* The item an automatic decision is about; strings borrowed. */
struct mod_auto_row {
	const char *item_id;
	int version;
	const char *kind;         /* "content" or "kim" */
	const char *region_code;
	const char *content_type; /* NULL for kim */
	const char *kim_id, *author_id; /* "" or NULL: none */
	const char *title;        /* masked */
	enum mod_decision decision;
	const void *payload;      /* packed masked Content or Kim */
	size_t payload_len;
	int64_t submitted_at_ms;
};

/* simpul.content status for a decision ("published", "rejected", "review"). */
const char *mod_content_status(enum mod_decision d);

/*
 * Writes item, signals, audit, content status and the outbox rows (JSON
 * array from mod_outbox_*) atomically. *inserted is false when the item was
 * already decided (a replay: nothing was written). 0 or a db error code.
 */
__attribute__((warn_unused_result)) int mod_store_auto(struct db_conn *db,
						       const struct mod_auto_row *row,
						       const struct mod_result *r, json_t *outbox,
						       bool *inserted, char *err, size_t errlen);

/* One decision of a batch; everything borrowed. */
struct mod_store_item {
	const struct mod_auto_row *row;
	const struct mod_result *r;
	json_t *outbox;  /* rows from mod_outbox_* */
	bool *inserted;  /* out: false when already decided (or a repeat in the batch) */
};

/*
 * Writes items[0..n) (each as mod_store_auto) in ONE statement: all or
 * nothing. A repeat of one (item_id, version) inside the batch is stored
 * once, the first. A deadlock with an older moderate is retried a few times.
 * 0 (n == 0 included), UTIL_EINVAL (an item is not storable, e.g. invalid
 * UTF-8, or a constraint), or a db error code.
 */
__attribute__((warn_unused_result)) int mod_store_auto_many(struct db_conn *db,
							    struct mod_store_item *items,
							    size_t n, char *err, size_t errlen);

/* Group commit (committer.c): a thread writing waiting items in one
 * transaction. Thread-safe; mod_committer_store blocks until the item's
 * fate is known and returns as mod_store_auto would. */
struct mod_committer;
struct mod_committer *mod_committer_new(const char *pg_url, int max_batch, char *err,
					size_t errlen);
__attribute__((warn_unused_result)) int mod_committer_store(struct mod_committer *c,
							    const struct mod_auto_row *row,
							    const struct mod_result *r,
							    json_t *outbox, bool *inserted,
							    char *err, size_t errlen);
/* Finishes the queued items, stops the thread, frees; NULL is fine. */
void mod_committer_free(struct mod_committer *c);

#endif
