/*
 * services/report/apply.c - decodes one consumed event (protobuf, by topic)
 * into the parameters of the matching SQL function of migration
 * 0005_report.sql, and applies it with one call (batch.c applies content
 * events of a batch set-based instead). Each call is one statement, hence one transaction: the
 * event-id dedupe row, the fact row and the aggregate cells commit together
 * or not at all, so a replay or a duplicate never counts twice.
 */
#include <stdio.h>
#include <string.h>

#include <simpul/v1/content.pb-c.h>
#include <simpul/v1/moderation.pb-c.h>
#include <simpul/v1/notification.pb-c.h>
#include <simpul/v1/registry.pb-c.h>

#include "db/db.h"
#include "events/codec.h"
#include "events/meta.h"
#include "events/topics.h"
#include "report.h"
#include "util/err.h"
#include "util/ids.h"

const char *const report_topics[] = {
	EVENTS_TOPIC_CONTENT_SUBMITTED, EVENTS_TOPIC_CONTENT_MODERATED,
	EVENTS_TOPIC_CONTENT_PUBLISHED, EVENTS_TOPIC_REGISTRY, EVENTS_TOPIC_NOTIFICATION,
};
const size_t report_ntopics = sizeof(report_topics) / sizeof(report_topics[0]);

static const char sql_content[] =
	"SELECT simpul.report_apply_content($1::int, $2::uuid, $3::uuid, $4, $5::uuid, $6,"
	" $7::bigint, $8, $9::int, $10::bigint) AS n";
static const char sql_kim[] =
	"SELECT simpul.report_apply_kim($1::int, $2::uuid, $3::uuid, $4, $5, $6, $7::bigint,"
	" $8::bigint) AS n";
static const char sql_published[] =
	"SELECT simpul.report_apply_published($1::int, $2::uuid, $3::uuid, $4::uuid, $5,"
	" $6::bigint, $7::boolean, $8::bigint) AS n";
static const char sql_delivery[] =
	"SELECT simpul.report_apply_delivery($1::int, $2::uuid, $3, $4, $5, $6::int,"
	" $7::bigint) AS n";

static const char *const type_names[] = {NULL,	    "berita",  "kegiatan", "potensi",
					 "umkm",    "aspirasi", "usulan",   "diseminasi"};

const char *report_content_type_name(int type)
{
	if (type < 1 || type >= (int)(sizeof(type_names) / sizeof(type_names[0])))
		return NULL;
	return type_names[type];
}

static const char *gen_param(struct report_event *p, int gen)
{
	if (gen <= 0)
		return NULL; /* SQL NULL: current (+ building) generation */
	snprintf(p->gen, sizeof(p->gen), "%d", gen);
	return p->gen;
}

static void event_set(struct report_event *ev, enum report_event_kind kind, const char *stmt,
		      const char *sql, int n)
{
	ev->kind = kind;
	ev->stmt = stmt;
	ev->sql = sql;
	ev->n = n;
}

static int poison(char *err, size_t errlen, const char *what)
{
	return util_err_set(err, errlen, UTIL_EINVAL, "%s", what);
}

/* kim ids are optional: "" is SQL NULL, anything else must be a UUID. */
static int opt_uuid(const char *s, const char **out)
{
	*out = NULL;
	if (!s || !*s)
		return 0;
	if (!util_uuid_valid(s))
		return UTIL_EINVAL;
	*out = s;
	return 0;
}

int report_event_apply(struct db_conn *c, const struct report_event *ev, bool *applied, char *err,
		       size_t errlen)
{
	const char *name = ev->stmt, *sql = ev->sql;
	const char *const *v = ev->v;
	int n = ev->n;
	PGresult *res = NULL;
	int rc = db_prepare(c, name, sql, n, err, errlen);

	if (rc == 0)
		rc = db_exec_prepared(c, name, n, v, NULL, &res, err, errlen);
	if (applied)
		*applied = false;
	if (rc == 0) {
		const char *s = db_value(res, 0, "n");

		if (applied)
			*applied = s && strcmp(s, "0") != 0;
		PQclear(res);
		return 0;
	}
	/* deadlocks, serialisation failures and timeouts are retried forever */
	if (rc == UTIL_ECONFLICT || rc == UTIL_ETIMEOUT)
		return UTIL_EUNAVAIL;
	return rc;
}

static int decode_submitted(int gen, const struct kafka_message *m, struct report_event *p,
			   char *err, size_t errlen)
{
	Simpul__V1__ContentSubmitted *e = (Simpul__V1__ContentSubmitted *)events_unpack(
		&simpul__v1__content_submitted__descriptor, m->value, m->value_len, 0, err, errlen);
	const Simpul__V1__Content *ct;
	const char *type = NULL, *kim = NULL;
	int rc;

	if (!e)
		return UTIL_EINVAL;
	p->msg = &e->base;
	ct = e->content;
	rc = events_meta_validate(e->meta, err, errlen);
	if (rc)
		goto out;
	rc = UTIL_EINVAL;
	if (!ct || !util_uuid_valid(ct->id) || !report_region_valid(ct->region_code) ||
	    !*ct->region_code || opt_uuid(ct->kim_id, &kim) != 0) {
		poison(err, errlen, "content: bad id, region_code or kim_id");
		goto out;
	}
	if (!(type = report_content_type_name(ct->type))) {
		poison(err, errlen, "content.type: unknown");
		goto out;
	}
	snprintf(p->n1, sizeof(p->n1), "%lld",
		 (long long)(ct->submitted_at_ms > 0 ? ct->submitted_at_ms
						     : e->meta->occurred_at_ms));
	p->v[0] = gen_param(p, gen);
	p->v[1] = e->meta->id;
	p->v[2] = ct->id;
	p->v[3] = ct->region_code;
	p->v[4] = kim;
	p->v[5] = type;
	p->v[6] = p->n1;
	p->v[7] = NULL;
	p->v[8] = NULL;
	p->v[9] = NULL;
	event_set(p, REPORT_EV_CONTENT, "report_apply_content", sql_content, 10);
	rc = 0;
out:
	return rc;
}

static const char *decision_name(Simpul__V1__Decision d)
{
	switch (d) {
	case SIMPUL__V1__DECISION__DECISION_APPROVE:
		return "approved";
	case SIMPUL__V1__DECISION__DECISION_REJECT:
		return "rejected";
	case SIMPUL__V1__DECISION__DECISION_REVIEW:
		return "review";
	default:
		return NULL;
	}
}

static int decode_moderated(int gen, const struct kafka_message *m, struct report_event *p,
			   char *err, size_t errlen)
{
	Simpul__V1__ContentModerated *e = (Simpul__V1__ContentModerated *)events_unpack(
		&simpul__v1__content_moderated__descriptor, m->value, m->value_len, 0, err, errlen);
	const char *type = NULL, *kim = NULL, *dec = NULL;
	int rc;

	if (!e)
		return UTIL_EINVAL;
	p->msg = &e->base;
	rc = events_meta_validate(e->meta, err, errlen);
	if (rc)
		goto out;
	rc = UTIL_EINVAL;
	if (!util_uuid_valid(e->content_id) || !report_region_valid(e->region_code) ||
	    !*e->region_code || opt_uuid(e->kim_id, &kim) != 0 ||
	    !(type = report_content_type_name(e->type)) || !(dec = decision_name(e->decision))) {
		poison(err, errlen, "moderated: bad content_id, region, kim, type, decision or time");
		goto out;
	}
	snprintf(p->n1, sizeof(p->n1), "%lld", (long long)e->submitted_at_ms);
	snprintf(p->n2, sizeof(p->n2), "%d", e->version);
	snprintf(p->n3, sizeof(p->n3), "%lld",
		 (long long)(e->decided_at_ms > 0 ? e->decided_at_ms : e->meta->occurred_at_ms));
	p->v[0] = gen_param(p, gen);
	p->v[1] = e->meta->id;
	p->v[2] = e->content_id;
	p->v[3] = e->region_code;
	p->v[4] = kim;
	p->v[5] = type;
	p->v[6] = e->submitted_at_ms > 0 ? p->n1 : NULL; /* unknown: placed at the decision */
	p->v[7] = dec;
	p->v[8] = p->n2;
	p->v[9] = p->n3;
	event_set(p, REPORT_EV_CONTENT, "report_apply_content", sql_content, 10);
	rc = 0;
out:
	return rc;
}

static int decode_published(int gen, const struct kafka_message *m, struct report_event *p,
			   char *err, size_t errlen)
{
	Simpul__V1__ContentPublished *e = (Simpul__V1__ContentPublished *)events_unpack(
		&simpul__v1__content_published__descriptor, m->value, m->value_len, 0, err, errlen);
	const Simpul__V1__Content *ct;
	const char *kim = NULL;
	int rc;

	if (!e)
		return UTIL_EINVAL;
	p->msg = &e->base;
	ct = e->content;
	rc = events_meta_validate(e->meta, err, errlen);
	if (rc)
		goto out;
	rc = UTIL_EINVAL;
	if (!ct || !util_uuid_valid(ct->id) || !report_region_valid(ct->region_code) ||
	    opt_uuid(ct->kim_id, &kim) != 0) {
		poison(err, errlen, "published: bad content id, region_code or kim_id");
		goto out;
	}
	snprintf(p->n1, sizeof(p->n1), "%lld",
		 (long long)(e->published_at_ms > 0 ? e->published_at_ms
						    : e->meta->occurred_at_ms));
	snprintf(p->n2, sizeof(p->n2), "%lld", (long long)e->meta->occurred_at_ms);
	p->v[0] = gen_param(p, gen);
	p->v[1] = e->meta->id;
	p->v[2] = ct->id;
	p->v[3] = kim;
	p->v[4] = ct->region_code;
	p->v[5] = p->n1;
	p->v[6] = e->withdrawn ? "true" : "false";
	p->v[7] = p->n2;
	event_set(p, REPORT_EV_PUBLISHED, "report_apply_published", sql_published, 8);
	rc = 0;
out:
	return rc;
}

static const char *kim_status_name(Simpul__V1__KimStatus s)
{
	switch (s) {
	case SIMPUL__V1__KIM_STATUS__KIM_STATUS_PENDING:
		return "pending";
	case SIMPUL__V1__KIM_STATUS__KIM_STATUS_VERIFIED:
		return "verified";
	case SIMPUL__V1__KIM_STATUS__KIM_STATUS_REJECTED:
		return "rejected";
	case SIMPUL__V1__KIM_STATUS__KIM_STATUS_SUSPENDED:
		return "suspended";
	default:
		return NULL;
	}
}

static int decode_registry(int gen, const struct kafka_message *m, struct report_event *p,
			  char *err, size_t errlen)
{
	Simpul__V1__RegistryEvent *e = (Simpul__V1__RegistryEvent *)events_unpack(
		&simpul__v1__registry_event__descriptor, m->value, m->value_len, 0, err, errlen);
	const Simpul__V1__Kim *k;
	const char *status;
	int rc;

	if (!e)
		return UTIL_EINVAL;
	p->msg = &e->base;
	k = e->kim;
	rc = events_meta_validate(e->meta, err, errlen);
	if (rc)
		goto out;
	rc = UTIL_EINVAL;
	if (!k || !util_uuid_valid(k->id) || !report_region_valid(k->region_code) ||
	    !*k->region_code) {
		poison(err, errlen, "registry: bad kim id or region_code");
		goto out;
	}
	status = kim_status_name(k->status);
	if (!status)
		status = "pending"; /* unspecified on a first registration */
	snprintf(p->n1, sizeof(p->n1), "%lld",
		 (long long)(k->registered_at_ms > 0 ? k->registered_at_ms
						     : e->meta->occurred_at_ms));
	snprintf(p->n2, sizeof(p->n2), "%lld", (long long)e->meta->occurred_at_ms);
	p->v[0] = gen_param(p, gen);
	p->v[1] = e->meta->id;
	p->v[2] = k->id;
	p->v[3] = k->name ? k->name : "";
	p->v[4] = k->region_code;
	p->v[5] = status;
	p->v[6] = p->n1;
	p->v[7] = p->n2;
	event_set(p, REPORT_EV_KIM, "report_apply_kim", sql_kim, 8);
	rc = 0;
out:
	return rc;
}

static const char *outcome_name(Simpul__V1__DeliveryOutcome o)
{
	switch (o) {
	case SIMPUL__V1__DELIVERY_OUTCOME__DELIVERY_OUTCOME_DELIVERED:
		return "delivered";
	case SIMPUL__V1__DELIVERY_OUTCOME__DELIVERY_OUTCOME_RETRYING:
		return "retrying";
	case SIMPUL__V1__DELIVERY_OUTCOME__DELIVERY_OUTCOME_FAILED:
		return "failed";
	default:
		return NULL;
	}
}

static int decode_delivery(int gen, const struct kafka_message *m, struct report_event *p,
			  char *err, size_t errlen)
{
	Simpul__V1__NotificationDelivery *e = (Simpul__V1__NotificationDelivery *)events_unpack(
		&simpul__v1__notification_delivery__descriptor, m->value, m->value_len, 0, err,
		errlen);
	const char *outcome;
	int rc;

	if (!e)
		return UTIL_EINVAL;
	p->msg = &e->base;
	rc = events_meta_validate(e->meta, err, errlen);
	if (rc)
		goto out;
	rc = UTIL_EINVAL;
	outcome = outcome_name(e->outcome);
	if (!e->delivery_id || !*e->delivery_id || strlen(e->delivery_id) > 200 || !outcome ||
	    !report_region_valid(e->region_code)) {
		poison(err, errlen, "notification: bad delivery_id, outcome or region_code");
		goto out;
	}
	snprintf(p->n1, sizeof(p->n1), "%d", e->attempts);
	snprintf(p->n2, sizeof(p->n2), "%lld",
		 (long long)(e->at_ms > 0 ? e->at_ms : e->meta->occurred_at_ms));
	p->v[0] = gen_param(p, gen);
	p->v[1] = e->meta->id;
	p->v[2] = e->delivery_id;
	p->v[3] = e->region_code ? e->region_code : "";
	p->v[4] = outcome;
	p->v[5] = p->n1;
	p->v[6] = p->n2;
	event_set(p, REPORT_EV_DELIVERY, "report_apply_delivery", sql_delivery, 7);
	rc = 0;
out:
	return rc;
}

int report_event_decode(int gen, const struct kafka_message *m, struct report_event *ev, char *err,
			size_t errlen)
{
	memset(ev, 0, sizeof(*ev));
	if (!m->value || m->value_len == 0)
		return poison(err, errlen, "empty record");
	if (!strcmp(m->topic, EVENTS_TOPIC_CONTENT_SUBMITTED))
		return decode_submitted(gen, m, ev, err, errlen);
	if (!strcmp(m->topic, EVENTS_TOPIC_CONTENT_MODERATED))
		return decode_moderated(gen, m, ev, err, errlen);
	if (!strcmp(m->topic, EVENTS_TOPIC_CONTENT_PUBLISHED))
		return decode_published(gen, m, ev, err, errlen);
	if (!strcmp(m->topic, EVENTS_TOPIC_REGISTRY))
		return decode_registry(gen, m, ev, err, errlen);
	if (!strcmp(m->topic, EVENTS_TOPIC_NOTIFICATION))
		return decode_delivery(gen, m, ev, err, errlen);
	return util_err_set(err, errlen, UTIL_EINVAL, "unexpected topic \"%s\"", m->topic);
}

void report_event_release(struct report_event *ev)
{
	if (ev->msg)
		protobuf_c_message_free_unpacked(ev->msg, NULL);
	ev->msg = NULL;
}

int report_apply(struct db_conn *c, int gen, const struct kafka_message *m, bool *applied,
		 char *err, size_t errlen)
{
	struct report_event ev;
	int rc = report_event_decode(gen, m, &ev, err, errlen);

	if (applied)
		*applied = false;
	if (rc == 0)
		rc = report_event_apply(c, &ev, applied, err, errlen);
	report_event_release(&ev);
	return rc;
}
