/*
 * libs/outbox/src/enqueue.c - writes outbox rows inside the caller's
 * transaction, the table-name check and the relay's lock key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "db/db.h"
#include "events/codec.h"
#include "events/meta.h"
#include "outbox/outbox.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/ids.h"

static bool ident_ok(const char *s, size_t n)
{
	if (n == 0 || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

bool outbox_table_valid(const char *table)
{
	const char *dot;
	size_t n;

	if (!table)
		return false;
	n = strlen(table);
	dot = strchr(table, '.');
	if (n > OUTBOX_TABLE_MAX || !dot)
		return false;
	return ident_ok(table, (size_t)(dot - table)) &&
	       ident_ok(dot + 1, n - (size_t)(dot - table) - 1);
}

int64_t outbox_lock_key(const char *table)
{
	unsigned char d[32];
	char in[OUTBOX_TABLE_MAX + 32];
	uint64_t k = 0;

	snprintf(in, sizeof(in), "simpul-outbox:%s", table ? table : "");
	util_sha256(in, strlen(in), d);
	for (int i = 0; i < 8; i++)
		k = k << 8 | d[i];
	k &= 0x3fffffffffffffffULL; /* positive, never 0 in practice */
	return k ? (int64_t)k : 1;
}

/* Same rule as the outbox tables' CHECK: ^[a-z0-9._-]{1,249}$. */
static bool topic_ok(const char *t)
{
	size_t n = t ? strlen(t) : 0;

	if (n == 0 || n > 249)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = t[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

/* The headers as a compact JSON object of strings into *out (heap, caller
 * frees). 0, UTIL_EINVAL or UTIL_ENOMEM. */
static int headers_json(const struct kafka_header *h, size_t nh, char **out, char *err,
			size_t errlen)
{
	json_t *o = json_object();
	int rc = 0;

	*out = NULL;
	if (!o)
		return util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
	for (size_t i = 0; i < nh; i++) {
		const char *v = h[i].len ? h[i].value : "";
		json_t *js;

		if (!h[i].name || (h[i].len && !h[i].value) || memchr(v, '\0', h[i].len) ||
		    !(js = json_stringn(v, h[i].len))) {
			rc = util_err_set(err, errlen, UTIL_EINVAL,
					  "outbox header %zu: missing name/value, NUL byte or not utf-8",
					  i);
			goto out;
		}
		if (json_object_set_new(o, h[i].name, js) != 0) {
			rc = util_err_set(err, errlen, UTIL_EINVAL, "outbox header %zu: bad name",
					  i);
			goto out;
		}
	}
	*out = json_dumps(o, JSON_COMPACT);
	if (!*out)
		rc = util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
out:
	json_decref(o);
	return rc;
}

static int check_args(struct db_conn *db, const char *table, const char *topic, size_t nh,
		      char *err, size_t errlen)
{
	if (!db)
		return util_err_set(err, errlen, UTIL_EINVAL, "outbox enqueue: no connection");
	if (!outbox_table_valid(table))
		return util_err_set(err, errlen, UTIL_EINVAL, "outbox table \"%s\" is not valid",
				    table ? table : "");
	if (!topic_ok(topic))
		return util_err_set(err, errlen, UTIL_EINVAL, "outbox topic \"%s\" is not valid",
				    topic ? topic : "");
	if (nh > OUTBOX_MAX_HEADERS)
		return util_err_set(err, errlen, UTIL_EINVAL, "outbox row: %zu headers (max %d)",
				    nh, OUTBOX_MAX_HEADERS);
	if (!db_in_transaction(db))
		return util_err_set(err, errlen, UTIL_EINVAL,
				    "outbox enqueue outside a transaction");
	return 0;
}

int outbox_enqueue(struct db_conn *db, const char *table, const char *topic, const char *key,
		   const void *payload, size_t len, const struct kafka_header *h, size_t nh,
		   int64_t *id, char *err, size_t errlen)
{
	char sql[OUTBOX_TABLE_MAX + 160];
	char *hj = NULL;
	PGresult *res = NULL;
	const char *vals[4];
	int lens[4] = {-1, -1, 0, -1};
	int rc = check_args(db, table, topic, nh, err, errlen);

	if (rc == 0 && (len > (size_t)INT32_MAX || (len && !payload) || (nh && !h)))
		rc = util_err_set(err, errlen, UTIL_EINVAL, "outbox row: bad payload or headers");
	if (rc == 0)
		rc = headers_json(h, nh, &hj, err, errlen);
	if (rc != 0)
		goto out;
	snprintf(sql, sizeof(sql),
		 "INSERT INTO %s (topic, msg_key, payload, headers) "
		 "VALUES ($1, $2, $3, $4::jsonb) RETURNING id",
		 table);
	vals[0] = topic;
	vals[1] = key;
	vals[2] = len ? payload : "";
	vals[3] = hj;
	lens[2] = (int)len;
	rc = db_exec(db, sql, 4, vals, lens, &res, err, errlen);
	if (rc == 0 && id)
		*id = strtoll(db_value(res, 0, "id"), NULL, 10);
out:
	PQclear(res);
	free(hj);
	return rc;
}

int outbox_enqueue_event(struct db_conn *db, const char *table, const char *topic,
			 const char *key, const ProtobufCMessage *msg,
			 const Simpul__V1__EventMeta *meta, int64_t *id, char *err, size_t errlen)
{
	struct util_buf b;
	struct events_headers hs;
	size_t nh;
	int rc;

	if (!msg || !meta)
		return util_err_set(err, errlen, UTIL_EINVAL, "outbox event: no message or meta");
	rc = events_meta_validate(meta, err, errlen);
	if (rc != 0)
		return rc;
	util_buf_init(&b, EVENTS_MAX_PACKED);
	rc = events_pack(msg, 0, &b, err, errlen);
	if (rc == 0) {
		nh = events_headers_from_meta(&hs, meta);
		rc = outbox_enqueue(db, table, topic, key, b.data, b.len, hs.h, nh, id, err,
				    errlen);
	}
	util_buf_release(&b);
	return rc;
}
