/*
 * services/notify/consume.c - the Kafka handler: moderation decisions,
 * publications and registry changes become notifications.
 *   ContentModerated REVIEW          -> review.awaiting (batched per window)
 *   ContentModerated APPROVE/REJECT  -> content.decided (author, KIM)
 *   ContentPublished                 -> content.published; type diseminasi
 *                                       also -> diseminasi fan-out job
 *   RegistryEvent verified/rejected/suspended -> registration.decided
 * Idempotent: deliveries are keyed (event id, subscription id).
 * Batch mode (SIMPUL_NOTIFY_CONSUME_BATCH > 1): the events the Kafka loop
 * gathered are matched in ONE statement (notify_match_batch_sql) that commits
 * alone, or with the diseminasi fan-out jobs in one transaction;
 * if any of them fails, nothing is kept and the loop redoes them one by one
 * (poison to the DLQ, outages retried) through notify_consume_handle.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <simpul/v1/content.pb-c.h>
#include <simpul/v1/moderation.pb-c.h>
#include <simpul/v1/registry.pb-c.h>

#include "db/db.h"
#include "events/codec.h"
#include "events/meta.h"
#include "events/topics.h"
#include "kafka/kafka.h"
#include "metrics/metrics.h"
#include "notify.h"
#include "slog/slog.h"
#include "util/err.h"

#define TEXT_CAP 20000 /* bytes of title + body searched for keywords */

static const char *const decisions[] = {"unspecified", "approve", "review", "reject"};
static const char *const kim_status[] = {"unspecified", "pending", "verified", "rejected",
					 "suspended"};

static const char *str_or_null(const char *s)
{
	return s && s[0] ? s : NULL;
}

/* Lowercased title + body (ASCII folding; keywords are folded alike). */
static char *fold_text(const char *title, const char *body)
{
	size_t tl = strnlen(title ? title : "", TEXT_CAP), bl;
	char *t;

	bl = strnlen(body ? body : "", TEXT_CAP - tl);
	t = malloc(tl + bl + 2);
	if (!t)
		return NULL;
	memcpy(t, title ? title : "", tl);
	t[tl] = ' ';
	memcpy(t + tl + 1, body ? body : "", bl);
	t[tl + 1 + bl] = '\0';
	for (char *p = t; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return t;
}

/* Batch mode: ev joins the batch's one statement; otherwise matched now. */
static int match(struct notify_consumer *c, const struct notify_event *ev, int64_t *n, char *err,
		 size_t errlen)
{
	if (c->collect)
		return notify_match_batch_add(c->collect, ev, err, errlen);
	return notify_match_insert(c->app, c->db, ev, n, err, errlen);
}

static int deliver(struct notify_consumer *c, struct notify_event *ev, json_t *data,
		   const Simpul__V1__EventMeta *meta, char *err, size_t errlen)
{
	json_t *p = json_pack("{s:s, s:s, s:I, s:o}", "type", ev->kind, "event_id", meta->id,
			      "occurred_at_ms", (json_int_t)meta->occurred_at_ms, "data", data);
	int64_t n = 0;
	int rc;

	if (!p)
		return util_err_set(err, errlen, UTIL_ENOMEM, "payload");
	ev->event_id = meta->id;
	ev->payload = json_dumps(p, JSON_COMPACT);
	json_decref(p);
	if (!ev->payload)
		return util_err_set(err, errlen, UTIL_ENOMEM, "payload");
	rc = match(c, ev, &n, err, errlen);
	if (rc == 0 && strcmp(ev->kind, NOTIFY_KIND_PUBLISHED) == 0 && ev->content_type &&
	    strcmp(ev->content_type, "diseminasi") == 0) {
		/* The same event as kind diseminasi: ancestors now, the subtree in batches. */
		ev->kind = NOTIFY_KIND_DISEMINASI;
		rc = match(c, ev, &n, err, errlen);
		/* Batch mode opens the batch's transaction on its first write. */
		if (rc == 0 && c->collect && !db_in_transaction(c->db))
			rc = db_begin(c->db, err, errlen);
		if (rc == 0)
			rc = notify_fanout_enqueue(c->app, c->db, ev, err, errlen);
	}
	free((char *)ev->payload);
	return rc;
}

static int on_moderated(struct notify_consumer *c, const Simpul__V1__ContentModerated *cm, char *err,
			size_t errlen)
{
	struct notify_event ev = {0};
	json_t *data;

	if (cm->decision == SIMPUL__V1__DECISION__DECISION_REVIEW)
		ev.kind = NOTIFY_KIND_REVIEW;
	else if (cm->decision == SIMPUL__V1__DECISION__DECISION_APPROVE ||
		 cm->decision == SIMPUL__V1__DECISION__DECISION_REJECT)
		ev.kind = NOTIFY_KIND_DECIDED;
	else
		return 0;
	ev.region = cm->region_code;
	ev.content_type = notify_content_type_name(cm->type);
	ev.kim_id = cm->kim_id;
	ev.author_id = cm->author_id;
	data = json_pack("{s:s, s:i, s:s, s:s?, s:s, s:s?, s:s?, s:s?, s:f}", "content_id",
			 cm->content_id, "version", cm->version, "decision",
			 decisions[cm->decision], "reason_code", str_or_null(cm->reason_code),
			 "region_code", cm->region_code, "kim_id", str_or_null(cm->kim_id),
			 "content_type", ev.content_type, "note", str_or_null(cm->note), "score",
			 cm->score);
	if (!data)
		return util_err_set(err, errlen, UTIL_ENOMEM, "payload");
	return deliver(c, &ev, data, cm->meta, err, errlen);
}

static int on_published(struct notify_consumer *nc, const Simpul__V1__ContentPublished *cp, char *err,
			size_t errlen)
{
	const Simpul__V1__Content *c = cp->content;
	struct notify_event ev = {.kind = NOTIFY_KIND_PUBLISHED};
	json_t *data;
	int rc;

	if (cp->withdrawn || !c)
		return 0;
	ev.region = c->region_code;
	ev.content_type = notify_content_type_name(c->type);
	ev.kim_id = c->kim_id;
	ev.text = fold_text(c->title, c->body);
	data = json_pack("{s:s, s:i, s:s?, s:s, s:s, s:s?, s:I}", "content_id", c->id, "version",
			 c->version, "content_type", ev.content_type, "title", c->title,
			 "region_code", c->region_code, "kim_id", str_or_null(c->kim_id),
			 "published_at_ms", (json_int_t)cp->published_at_ms);
	if (!data || !ev.text) {
		json_decref(data);
		free((char *)ev.text);
		return util_err_set(err, errlen, UTIL_ENOMEM, "payload");
	}
	rc = deliver(nc, &ev, data, cp->meta, err, errlen);
	free((char *)ev.text);
	return rc;
}

static int on_registry(struct notify_consumer *c, const Simpul__V1__RegistryEvent *re, char *err,
		       size_t errlen)
{
	const Simpul__V1__Kim *k = re->kim;
	struct notify_event ev = {.kind = NOTIFY_KIND_REGISTRATION};
	json_t *data;

	if (!k || !re->action || (strcmp(re->action, "verified") && strcmp(re->action, "rejected") &&
				  strcmp(re->action, "suspended")))
		return 0;
	ev.region = k->region_code;
	ev.kim_id = k->id;
	ev.author_id = k->registered_by;
	data = json_pack("{s:s, s:s, s:s, s:s, s:s}", "kim_id", k->id, "name", k->name,
			 "region_code", k->region_code, "action", re->action, "status",
			 (unsigned)k->status < 5 ? kim_status[k->status] : "unspecified");
	if (!data)
		return util_err_set(err, errlen, UTIL_ENOMEM, "payload");
	return deliver(c, &ev, data, re->meta, err, errlen);
}

/* Common envelope checks; 1 = skip this event (too old for a test run). */
static int check_meta(const struct notify_app *app, const Simpul__V1__EventMeta *meta, char *err,
		      size_t errlen)
{
	if (events_meta_validate(meta, err, errlen) != 0)
		return UTIL_EINVAL;
	if (app->cfg->skip_before_ms && meta->occurred_at_ms < app->cfg->skip_before_ms)
		return 1;
	return 0;
}

static int dispatch(struct notify_consumer *c, const struct kafka_message *m, char *err,
		    size_t errlen)
{
	const ProtobufCMessageDescriptor *d;
	const Simpul__V1__EventMeta *meta;
	ProtobufCMessage *msg;
	int rc;

	/* Test runs start a new group at the earliest offset: skip the backlog by
	 * the record's timestamp (never after the event occurred) unparsed. */
	if (c->app->cfg->skip_before_ms && m->timestamp_ms >= 0 &&
	    m->timestamp_ms < c->app->cfg->skip_before_ms)
		return 0;
	if (strcmp(m->topic, EVENTS_TOPIC_CONTENT_MODERATED) == 0)
		d = &simpul__v1__content_moderated__descriptor;
	else if (strcmp(m->topic, EVENTS_TOPIC_CONTENT_PUBLISHED) == 0)
		d = &simpul__v1__content_published__descriptor;
	else if (strcmp(m->topic, EVENTS_TOPIC_REGISTRY) == 0)
		d = &simpul__v1__registry_event__descriptor;
	else
		return util_err_set(err, errlen, UTIL_EINVAL, "unexpected topic '%s'", m->topic);
	msg = events_unpack(d, m->value, m->value_len, 0, err, errlen);
	if (!msg)
		return UTIL_EINVAL;
	if (d == &simpul__v1__content_moderated__descriptor)
		meta = ((Simpul__V1__ContentModerated *)msg)->meta;
	else if (d == &simpul__v1__content_published__descriptor)
		meta = ((Simpul__V1__ContentPublished *)msg)->meta;
	else
		meta = ((Simpul__V1__RegistryEvent *)msg)->meta;
	rc = check_meta(c->app, meta, err, errlen);
	if (rc == 0 && d == &simpul__v1__content_moderated__descriptor)
		rc = on_moderated(c, (Simpul__V1__ContentModerated *)msg, err, errlen);
	else if (rc == 0 && d == &simpul__v1__content_published__descriptor)
		rc = on_published(c, (Simpul__V1__ContentPublished *)msg, err, errlen);
	else if (rc == 0)
		rc = on_registry(c, (Simpul__V1__RegistryEvent *)msg, err, errlen);
	protobuf_c_message_free_unpacked(msg, NULL);
	return rc == 1 ? 0 : rc;
}

int notify_consume_handle(void *ud, const struct kafka_message *m, char *err, size_t errlen)
{
	struct notify_consumer *c = ud;
	int rc = dispatch(c, m, err, errlen);
	const char *result = rc == 0 ? "ok" : rc == UTIL_EINVAL ? "poison" : "error";

	metrics_counter_inc(c->app->m.events, (const char *const[]){m->topic, result});
	if (rc != 0)
		slog_warn("event failed", "topic=%s offset=%lld rc=%d err=\"%s\"", m->topic,
			  (long long)m->offset, rc, err);
	return rc;
}

int notify_consume_batch(void *ud, const struct kafka_message *msgs, size_t n, char *err,
			 size_t errlen)
{
	struct notify_consumer *c = ud;
	struct notify_match_batch b;
	int64_t matched = 0;
	int rc = 0;

	notify_match_batch_init(&b);
	c->collect = &b;
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = dispatch(c, &msgs[i], err, errlen);
	c->collect = NULL;
	/* One statement, atomic by itself: a transaction only when fan-out jobs
	 * were written beside it; nothing to match (e.g. only skipped events):
	 * no round trip at all. */
	if (rc == 0)
		rc = notify_match_batch_run(c->app, c->db, &b, &matched, err, errlen);
	notify_match_batch_release(&b);
	if (rc == 0 && db_in_transaction(c->db))
		rc = db_commit(c->db, err, errlen);
	if (rc != 0) {
		if (db_in_transaction(c->db))
			db_rollback(c->db, NULL, 0);
		return rc; /* redone message by message */
	}
	for (size_t i = 0; i < n; i++)
		metrics_counter_inc(c->app->m.events, (const char *const[]){msgs[i].topic, "ok"});
	return 0;
}
