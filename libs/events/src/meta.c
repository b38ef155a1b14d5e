/*
 * meta.c - the event envelope: fill a new one, validate a received one,
 * and carry it in Kafka headers.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/meta.h"
#include "util/err.h"

/* Printable ASCII without spaces, 1..max bytes. */
static bool token_ok(const char *s, size_t max)
{
	size_t n;

	if (!s || !*s)
		return false;
	n = strnlen(s, max + 1);
	if (n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return false;
	return true;
}

static bool trace_ok(const char *s)
{
	size_t n;

	if (!s || !*s)
		return false;
	n = strnlen(s, EVENTS_TRACE_MAX + 1);
	if (n > EVENTS_TRACE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* Points mb->meta at mb's own strings. */
static void meta_bind(struct events_meta_buf *mb, int64_t occurred_at_ms)
{
	Simpul__V1__EventMeta init = SIMPUL__V1__EVENT_META__INIT;

	mb->meta = init;
	mb->meta.id = mb->id;
	mb->meta.type = mb->type;
	mb->meta.producer = mb->producer;
	mb->meta.trace_id = mb->trace_id;
	mb->meta.occurred_at_ms = occurred_at_ms;
}

int events_meta_init(struct events_meta_buf *mb, const char *type, const char *producer,
		     const char *trace_id, char *err, size_t errlen)
{
	if (!mb)
		return util_err_set(err, errlen, UTIL_EINVAL, "meta: no buffer");
	if (!token_ok(type, EVENTS_TYPE_MAX))
		return util_err_set(err, errlen, UTIL_EINVAL, "meta.type: empty, too long or bad");
	if (!token_ok(producer, EVENTS_PRODUCER_MAX))
		return util_err_set(err, errlen, UTIL_EINVAL,
				    "meta.producer: empty, too long or bad");
	if (trace_id && *trace_id && !trace_ok(trace_id))
		return util_err_set(err, errlen, UTIL_EINVAL, "meta.trace_id: malformed");
	util_uuid_v4(mb->id);
	snprintf(mb->type, sizeof mb->type, "%s", type);
	snprintf(mb->producer, sizeof mb->producer, "%s", producer);
	if (trace_id && *trace_id)
		snprintf(mb->trace_id, sizeof mb->trace_id, "%s", trace_id);
	else
		util_trace_id(mb->trace_id);
	meta_bind(mb, util_now_ms());
	return 0;
}

int events_meta_validate(const Simpul__V1__EventMeta *meta, char *err, size_t errlen)
{
	if (!meta)
		return util_err_set(err, errlen, UTIL_EINVAL, "meta: missing");
	if (!meta->id || !util_uuid_valid(meta->id))
		return util_err_set(err, errlen, UTIL_EINVAL, "meta.id: not a uuid");
	if (!token_ok(meta->type, EVENTS_TYPE_MAX))
		return util_err_set(err, errlen, UTIL_EINVAL, "meta.type: empty, too long or bad");
	if (meta->occurred_at_ms <= 0)
		return util_err_set(err, errlen, UTIL_EINVAL, "meta.occurred_at_ms: not positive");
	if (!token_ok(meta->producer, EVENTS_PRODUCER_MAX))
		return util_err_set(err, errlen, UTIL_EINVAL,
				    "meta.producer: empty, too long or bad");
	if (!trace_ok(meta->trace_id))
		return util_err_set(err, errlen, UTIL_EINVAL, "meta.trace_id: malformed");
	return 0;
}

int events_meta_copy(struct events_meta_buf *mb, const Simpul__V1__EventMeta *src, char *err,
		     size_t errlen)
{
	int rc = events_meta_validate(src, err, errlen);

	if (rc)
		return rc;
	if (src == &mb->meta)
		return 0;
	snprintf(mb->id, sizeof mb->id, "%s", src->id);
	snprintf(mb->type, sizeof mb->type, "%s", src->type);
	snprintf(mb->producer, sizeof mb->producer, "%s", src->producer);
	snprintf(mb->trace_id, sizeof mb->trace_id, "%s", src->trace_id);
	meta_bind(mb, src->occurred_at_ms);
	return 0;
}

static struct kafka_header str_header(const char *name, const char *value)
{
	const char *v = value ? value : "";

	return (struct kafka_header){ name, v, strlen(v) };
}

size_t events_headers_from_meta(struct events_headers *hs, const Simpul__V1__EventMeta *meta)
{
	snprintf(hs->occurred_at, sizeof hs->occurred_at, "%" PRId64, meta->occurred_at_ms);
	hs->h[0] = str_header(EVENTS_HEADER_EVENT_ID, meta->id);
	hs->h[1] = str_header(EVENTS_HEADER_EVENT_TYPE, meta->type);
	hs->h[2] = str_header(EVENTS_HEADER_OCCURRED_AT, hs->occurred_at);
	hs->h[3] = str_header(EVENTS_HEADER_PRODUCER, meta->producer);
	hs->h[4] = str_header(EVENTS_HEADER_TRACE_ID, meta->trace_id);
	return EVENTS_HEADER_COUNT;
}

static int header_get(const struct kafka_message *m, const char *name, char *out,
		      size_t outlen, char *err, size_t errlen)
{
	int rc = kafka_message_header_str(m, name, out, outlen);

	/* A record without its envelope never heals: poison, not transient. */
	if (rc == UTIL_ENOTFOUND)
		return util_err_set(err, errlen, UTIL_EINVAL, "header \"%s\": missing", name);
	if (rc)
		return util_err_set(err, errlen, UTIL_EINVAL, "header \"%s\": malformed", name);
	return 0;
}

static int parse_ms(const char *s, int64_t *out)
{
	char *end = NULL;
	long long v;

	if (!*s || *s < '0' || *s > '9')
		return UTIL_EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return UTIL_EINVAL;
	*out = v;
	return 0;
}

int events_meta_from_headers(struct events_meta_buf *mb, const struct kafka_message *m,
			     char *err, size_t errlen)
{
	char at[24];
	int64_t ms = 0;
	int rc;

	if (!mb || !m)
		return util_err_set(err, errlen, UTIL_EINVAL, "meta: null argument");
	if ((rc = header_get(m, EVENTS_HEADER_EVENT_ID, mb->id, sizeof mb->id, err, errlen)) ||
	    (rc = header_get(m, EVENTS_HEADER_EVENT_TYPE, mb->type, sizeof mb->type, err,
			     errlen)) ||
	    (rc = header_get(m, EVENTS_HEADER_OCCURRED_AT, at, sizeof at, err, errlen)) ||
	    (rc = header_get(m, EVENTS_HEADER_PRODUCER, mb->producer, sizeof mb->producer, err,
			     errlen)) ||
	    (rc = header_get(m, EVENTS_HEADER_TRACE_ID, mb->trace_id, sizeof mb->trace_id, err,
			     errlen)))
		return rc;
	if (parse_ms(at, &ms))
		return util_err_set(err, errlen, UTIL_EINVAL, "header \"%s\": not a number",
				    EVENTS_HEADER_OCCURRED_AT);
	meta_bind(mb, ms);
	return events_meta_validate(&mb->meta, err, errlen);
}
