/*
 * services/ingest/intake.c - the consumer of kim.intake.v1: other
 * government systems' submissions (protobuf IntakeSubmission), validated
 * exactly like HTTP ones and written through the same group committer.
 *
 * Outcomes: created or duplicate -> 0 (offset stored); bad message, bad
 * token, invalid field, unknown region/KIM, idempotency conflict ->
 * UTIL_EINVAL (straight to kim.intake.v1.dlq with the reason in
 * simpul-error); PostgreSQL down or queue full -> UTIL_EUNAVAIL (retried,
 * never dead-lettered). Idempotency: the message's idempotency_key, else
 * its event id, else topic/partition/offset, scoped to the integration
 * account, so a redelivery never creates a second row.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <simpul/v1/intake.pb-c.h>

#include "events/codec.h"
#include "events/topics.h"
#include "ingest.h"
#include "kafka/consumer.h"
#include "slog/slog.h"
#include "util/err.h"

struct ingest_intake {
	struct ingest_committer *committer;
	struct auth *auth;
	struct ingest_metrics *m;
	struct kafka_consumer *kc;
	pthread_t thread;
	bool started;
	volatile sig_atomic_t stop;
};

struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
};

static void wake(struct commit_item *it, void *ud)
{
	struct waiter *w = ud;

	(void)it;
	pthread_mutex_lock(&w->mu);
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* Enqueues it and waits for its outcome. Takes it. */
static int commit_wait(struct ingest_intake *in, struct commit_item *it, char *err, size_t errlen)
{
	struct waiter w = {.done = false};
	int rc;

	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	it->done = wake;
	it->ud = &w;
	if (ingest_committer_enqueue(in->committer, it) != 0) {
		rc = util_err_set(err, errlen, UTIL_EUNAVAIL, "ingest queue full");
		goto out;
	}
	pthread_mutex_lock(&w.mu);
	while (!w.done)
		pthread_cond_wait(&w.cv, &w.mu);
	pthread_mutex_unlock(&w.mu);
	switch (it->outcome) {
	case COMMIT_CREATED:
	case COMMIT_DUPLICATE:
		rc = 0;
		ingest_count_accepted(in->m, "intake");
		break;
	case COMMIT_CONFLICT:
		rc = util_err_set(err, errlen, UTIL_EINVAL, "idempotency_conflict: key reused");
		break;
	case COMMIT_UNKNOWN_REGION:
		rc = util_err_set(err, errlen, UTIL_EINVAL, "unknown_region: region_code");
		break;
	case COMMIT_UNKNOWN_KIM:
		rc = util_err_set(err, errlen, UTIL_EINVAL, "unknown_kim: kim_id");
		break;
	case COMMIT_KIM_NOT_VERIFIED:
		rc = util_err_set(err, errlen, UTIL_EINVAL, "kim_not_verified: kim_id");
		break;
	case COMMIT_UNAVAILABLE:
		rc = util_err_set(err, errlen, UTIL_EUNAVAIL, "database unavailable");
		break;
	default:
		rc = util_err_set(err, errlen, UTIL_EIO, "internal error");
		break;
	}
out:
	ingest_item_free(it);
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mu);
	return rc;
}

static char *nonempty(char *s)
{
	return s && s[0] ? s : NULL;
}

/* Borrowed view of the message as a submission (do not release). */
static void view(const Simpul__V1__IntakeSubmission *msg, struct submission *s)
{
	memset(s, 0, sizeof(*s));
	s->type = (int)msg->type;
	s->title = nonempty(msg->title);
	s->body = msg->body;
	s->region_code = nonempty(msg->region_code);
	s->kim_id = nonempty(msg->kim_id);
	s->tags = msg->tags;
	s->ntags = msg->n_tags;
	s->media_urls = msg->media_urls;
	s->nmedia = msg->n_media_urls;
}

/* SHA-256 of the submission without its envelope, so a re-sent message
 * with a new event id is still "the same request". */
static int request_hash(Simpul__V1__IntakeSubmission *msg, unsigned char out[32])
{
	Simpul__V1__EventMeta *meta = msg->meta;
	struct util_buf b;
	char err[64];
	int rc;

	util_buf_init(&b, 0);
	msg->meta = NULL;
	rc = events_pack((const ProtobufCMessage *)msg, 0, &b, err, sizeof(err));
	msg->meta = meta;
	if (!rc)
		util_sha256(b.data ? b.data : "", b.len, out);
	util_buf_release(&b);
	return rc;
}

static void make_key(const Simpul__V1__IntakeSubmission *msg, const struct kafka_message *m,
		     char *key, size_t len)
{
	if (msg->idempotency_key && msg->idempotency_key[0])
		snprintf(key, len, "%s", msg->idempotency_key);
	else if (msg->meta && msg->meta->id && util_uuid_valid(msg->meta->id))
		snprintf(key, len, "event:%s", msg->meta->id);
	else
		snprintf(key, len, "kafka:%s/%d/%lld", m->topic, (int)m->partition,
			 (long long)m->offset);
}

static int handle_msg(struct ingest_intake *in, Simpul__V1__IntakeSubmission *msg,
		      const struct kafka_message *m, char *err, size_t errlen)
{
	struct auth_principal p;
	struct ingest_verr e;
	struct submission s;
	struct ingest_source src;
	struct commit_item *it;
	char key[INGEST_KEY_MAX + 1];
	unsigned char hash[32];
	int rc;

	rc = ingest_auth_resolve_token(in->auth, msg->integration_token, &p, &e);
	if (rc == UTIL_EUNAVAIL)
		return util_err_set(err, errlen, UTIL_EUNAVAIL, "database unavailable");
	if (rc)
		return util_err_set(err, errlen, UTIL_EINVAL, "unauthorized: %s", e.message);
	if (p.role != AUTH_ROLE_INTEGRATION && p.role != AUTH_ROLE_ADMIN)
		return util_err_set(err, errlen, UTIL_EINVAL,
				    "forbidden: integration_token is not an integration account");
	view(msg, &s);
	if (strlen(msg->idempotency_key ? msg->idempotency_key : "") > INGEST_KEY_MAX)
		return util_err_set(err, errlen, UTIL_EINVAL, "too_long: idempotency_key");
	if (ingest_submission_check(&s, &e) || ingest_auth_may_submit(&p, s.type, s.kim_id, &e))
		return util_err_set(err, errlen, UTIL_EINVAL, "%s: %s: %s", e.code,
				    e.field[0] ? e.field : "-", e.message);
	if (request_hash(msg, hash) != 0)
		return util_err_set(err, errlen, UTIL_EINVAL, "cannot re-pack message");
	make_key(msg, m, key, sizeof(key));
	src = (struct ingest_source){.source = SIMPUL__V1__CONTENT_SOURCE__CONTENT_SOURCE_INTAKE,
				     .scope = p.user_id,
				     .key = key,
				     .hash = hash,
				     .author_id = p.user_id,
				     .trace_id = msg->meta ? msg->meta->trace_id : NULL};
	it = ingest_item_content(&s, &src);
	if (!it)
		return util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
	return commit_wait(in, it, err, errlen);
}

static int handle(void *ud, const struct kafka_message *m, char *err, size_t errlen)
{
	struct ingest_intake *in = ud;
	Simpul__V1__IntakeSubmission *msg;
	char uerr[160];
	int rc;

	msg = (Simpul__V1__IntakeSubmission *)events_unpack(
		&simpul__v1__intake_submission__descriptor, m->value, m->value_len, 0, uerr,
		sizeof(uerr));
	if (!msg) {
		ingest_count_rejected(in->m, "intake_undecodable");
		return util_err_set(err, errlen, UTIL_EINVAL, "malformed: %s", uerr);
	}
	rc = handle_msg(in, msg, m, err, errlen);
	if (rc == UTIL_EINVAL) {
		ingest_count_rejected(in->m, "intake_rejected");
		slog_info("intake message rejected", "partition=%d offset=%lld err=\"%s\"",
			  (int)m->partition, (long long)m->offset, err);
	}
	protobuf_c_message_free_unpacked((ProtobufCMessage *)msg, NULL);
	return rc;
}

struct ingest_intake *ingest_intake_new(const struct ingest_config *cfg,
					struct ingest_committer *c, struct auth *a,
					struct ingest_metrics *m, char *err, size_t errlen)
{
	static const char *const topics[] = {EVENTS_TOPIC_INTAKE};
	struct ingest_intake *in = calloc(1, sizeof(*in));
	struct kafka_consumer_config kc = {.brokers = cfg->kafka_brokers,
					   .group_id = "simpul-ingest",
					   .client_id = "simpul-ingest-intake",
					   .topics = topics,
					   .ntopics = 1,
					   .handle = handle};

	if (!in)
		return NULL;
	in->committer = c;
	in->auth = a;
	in->m = m;
	kc.ud = in;
	in->kc = kafka_consumer_new(&kc, err, errlen);
	if (!in->kc) {
		free(in);
		return NULL;
	}
	return in;
}

static void *intake_main(void *p)
{
	struct ingest_intake *in = p;
	char err[256];

	slog_info("intake consumer started", "topic=%s", EVENTS_TOPIC_INTAKE);
	if (kafka_consumer_run(in->kc, &in->stop, err, sizeof(err)) != 0)
		slog_error("intake consumer stopped", "err=\"%s\"", err);
	return NULL;
}

int ingest_intake_start(struct ingest_intake *in)
{
	if (pthread_create(&in->thread, NULL, intake_main, in) != 0)
		return UTIL_EIO;
	in->started = true;
	return 0;
}

void ingest_intake_stop(struct ingest_intake *in)
{
	if (!in || !in->started)
		return;
	in->stop = 1;
	pthread_join(in->thread, NULL);
	in->started = false;
}

void ingest_intake_free(struct ingest_intake *in)
{
	if (!in)
		return;
	ingest_intake_stop(in);
	kafka_consumer_free(in->kc);
	free(in);
}
