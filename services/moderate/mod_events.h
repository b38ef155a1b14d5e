/*
 * services/moderate/mod_events.h - events moderation publishes, built as
 * outbox rows (outbox.c), and the helpers around them.
 */
#ifndef MODERATE_MOD_EVENTS_H
#define MODERATE_MOD_EVENTS_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <simpul/v1/content.pb-c.h>
#include <simpul/v1/moderation.pb-c.h>
#include <simpul/v1/registry.pb-c.h>

#include "events/meta.h"
#include "events/topics.h"
#include "moderate.h"

/* One decision, automatic or human; strings borrowed. */
struct mod_decided {
	const char *item_id;
	int version;
	enum mod_decision decision;
	double score;
	const char *decided_by; /* "auto" or a user id */
	const char *reason_code, *note;
	const char *region_code, *kim_id, *author_id;
	int type;               /* Simpul__V1__ContentType */
	int64_t submitted_at_ms;
};

const char *mod_content_type_name(int t);
int mod_content_type_parse(const char *s);
const char *mod_producer_name(void);
/* A new envelope, keeping trace when it is well-formed. */
__attribute__((warn_unused_result)) int mod_meta_new(struct events_meta_buf *mb, const char *type,
						     const char *trace);
/* Hex of p[0..n) (heap, NUL-terminated) or NULL. */
char *mod_hex(const void *p, size_t n);
/* Bytes of lower-case hex s (a leading "\\x" of bytea output is skipped);
 * heap, *len set; NULL on bad input or ENOMEM. */
unsigned char *mod_unhex(const char *s, size_t *len);

/* Appends one outbox row for msg to the JSON array rows. 0 or UTIL_E*. */
__attribute__((warn_unused_result)) int mod_outbox_add(json_t *rows, const char *topic,
						       const char *key,
						       const ProtobufCMessage *msg,
						       const Simpul__V1__EventMeta *meta);
/* ContentModerated for d with r's signals (r may be NULL). */
__attribute__((warn_unused_result)) int mod_outbox_moderated(json_t *rows,
							     const struct mod_decided *d,
							     const struct mod_result *r,
							     const char *trace);
/* ContentPublished of masked (borrowed). */
__attribute__((warn_unused_result)) int mod_outbox_published(json_t *rows,
							     Simpul__V1__Content *masked,
							     const char *trace);

#endif
