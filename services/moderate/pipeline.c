/*
 * services/moderate/pipeline.c - the automatic pipeline: consumer threads in
 * group simpul-moderate over kim.content.submitted.v1, kim.registry.v1
 * (action "registered") and kim.moderation.feedback.v1 (classifier
 * training). Each thread owns a consumer, a PostgreSQL connection and a
 * text workspace. Messages come in batches (libs/kafka's batch handler):
 * each is scored, then the batch's decisions are stored in ONE transaction.
 * Bad events return UTIL_EINVAL (dead-lettered), an outage UTIL_EUNAVAIL
 * (retried, never dead-lettered), both through the loop's one-by-one
 * fallback for the batch that failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "db/db.h"
#include "events/codec.h"
#include "kafka/consumer.h"
#include "mod_pipeline.h"
#include "mod_store.h"
#include "slog/slog.h"
#include "util/err.h"

#define MAX_TEXT (2u << 20)

struct mod_worker {
	struct mod_pipeline *p;
	struct db_conn *db;
	struct text_work *wk;
	struct kafka_consumer *consumer;
	pthread_t thread;
	bool started;
};

static int db_code(int rc)
{
	/* constraint/data errors are the event's fault; the rest is retried */
	return rc == UTIL_EINVAL ? UTIL_EINVAL : rc == UTIL_EUNAVAIL ? UTIL_EUNAVAIL : UTIL_EIO;
}

static int check_content(const Simpul__V1__ContentSubmitted *cs, char *err, size_t errlen)
{
	const Simpul__V1__Content *c = cs->content;
	int rc = events_meta_validate(cs->meta, err, errlen);

	if (rc != 0)
		return UTIL_EINVAL;
	if (!c || !util_uuid_valid(c->id) || c->version < 1 || !c->region_code[0] ||
	    strlen(c->region_code) > 31)
		return util_err_set(err, errlen, UTIL_EINVAL, "content: missing id/version/region");
	if ((c->kim_id[0] && !util_uuid_valid(c->kim_id)) ||
	    (c->author_id[0] && !util_uuid_valid(c->author_id)))
		return util_err_set(err, errlen, UTIL_EINVAL, "content: bad kim_id or author_id");
	if (!mod_content_type_name(c->type))
		return util_err_set(err, errlen, UTIL_EINVAL, "content: unknown type");
	return 0;
}

/*
 * One automatic decision on its way to PostgreSQL: the unpacked event (which
 * owns the strings row points to), the scoring result, the packed masked
 * payload and the outbox rows. Prepared (scored) first, then stored alone or
 * with the rest of a batch in one transaction. Release with job_release.
 */
struct mod_job {
	ProtobufCMessage *event;
	Simpul__V1__Content masked;
	struct mod_result r;
	struct util_buf packed;
	json_t *rows;
	struct mod_auto_row row;
	bool ready;     /* has a row to store (else nothing to do) */
	bool inserted;
};

static void job_init(struct mod_job *j)
{
	memset(j, 0, sizeof(*j));
	util_buf_init(&j->packed, EVENTS_MAX_PACKED);
	j->rows = json_array();
}

static void job_release(struct mod_job *j)
{
	util_buf_release(&j->packed);
	json_decref(j->rows);
	mod_result_release(&j->r);
	if (j->event)
		protobuf_c_message_free_unpacked(j->event, NULL);
	j->event = NULL;
	j->rows = NULL;
}

/* Scores and decides one content version into j (nothing stored yet). */
static int prepare_content(struct mod_worker *w, Simpul__V1__ContentSubmitted *cs,
			   struct mod_job *j, char *err, size_t errlen)
{
	Simpul__V1__Content *c = cs->content;
	struct mod_snapshot snap;
	struct mod_score_ctx sc;
	enum mod_decision d = MOD_REVIEW;
	int rc;

	mod_state_acquire(w->p->state, &snap);
	sc = (struct mod_score_ctx){snap.rules, snap.bayes, snap.regions,
				    w->p->cfg->bayes_min_learns};
	rc = mod_score(&sc, w->wk, c->title, strlen(c->title), c->body, strlen(c->body), &j->r);
	if (rc == 0) {
		mod_nearby_check(w->p->cache, &j->r, c->id, j->r.simhash, j->r.nfeatures,
				 w->p->cfg->dup_window_ms, c->kim_id, c->author_id,
				 w->p->cfg->flood_per_min, w->p->cfg->flood_burst);
		d = mod_policy_decide(snap.policy, c->region_code, j->r.total);
	}
	mod_state_put(w->p->state, &snap);
	if (rc != 0)
		return util_err_set(err, errlen, rc == UTIL_ETOOBIG ? UTIL_EINVAL : rc,
				    "scoring failed: %s", util_err_name(rc));
	j->masked = *c;
	j->masked.title = j->r.masked_title;
	j->masked.body = j->r.masked_body;
	rc = events_pack(&j->masked.base, 0, &j->packed, err, errlen);
	if (rc == 0) {
		struct mod_decided dd = {c->id,	       c->version,  d,		  j->r.total, "auto",
					 NULL,	       NULL,	    c->region_code, c->kim_id,
					 c->author_id, (int)c->type, c->submitted_at_ms};

		rc = mod_outbox_moderated(j->rows, &dd, &j->r, cs->meta->trace_id);
		if (rc == 0 && d == MOD_APPROVE)
			rc = mod_outbox_published(j->rows, &j->masked, cs->meta->trace_id);
	}
	if (rc == 0) {
		j->row = (struct mod_auto_row){
			c->id,	       c->version,    "content",      c->region_code,
			mod_content_type_name(c->type), c->kim_id, c->author_id, j->r.masked_title,
			d,	       j->packed.data, j->packed.len,
			c->submitted_at_ms ? c->submitted_at_ms : cs->meta->occurred_at_ms};
		j->ready = true;
	}
	return rc;
}

/* A registration always goes to human review. */
static int prepare_registry(Simpul__V1__RegistryEvent *re, struct mod_job *j, char *err,
			    size_t errlen)
{
	int rc;

	if (events_meta_validate(re->meta, err, errlen) != 0)
		return UTIL_EINVAL;
	if (strcmp(re->action, "registered") != 0)
		return 0; /* our own verified/rejected, or later changes */
	if (!re->kim || !util_uuid_valid(re->kim->id) || !re->kim->region_code[0] ||
	    strlen(re->kim->region_code) > 31)
		return util_err_set(err, errlen, UTIL_EINVAL, "registry: missing kim id or region");
	rc = events_pack(&re->kim->base, 0, &j->packed, err, errlen);
	if (rc == 0 && !mod_result_add(&j->r, "KIM_REGISTRATION", 0,
				       "registrations are always reviewed"))
		rc = UTIL_ENOMEM;
	if (rc)
		return rc;
	j->row = (struct mod_auto_row){re->kim->id,   1,	   "kim", re->kim->region_code,
				       NULL,	       re->kim->id, re->kim->registered_by,
				       re->kim->name, MOD_REVIEW,  j->packed.data, j->packed.len,
				       re->kim->registered_at_ms ? re->kim->registered_at_ms
								 : re->meta->occurred_at_ms};
	if (re->kim->registered_by[0] && !util_uuid_valid(re->kim->registered_by))
		j->row.author_id = NULL;
	j->ready = true;
	return 0;
}

/*
 * Decodes and validates m, then scores it into j (content) or builds its
 * review row (registry). j->ready is false when there is nothing to store.
 * UTIL_EINVAL: poison.
 */
static int prepare(struct mod_worker *w, const struct kafka_message *m, struct mod_job *j,
		   char *err, size_t errlen)
{
	if (!strcmp(m->topic, EVENTS_TOPIC_CONTENT_SUBMITTED)) {
		Simpul__V1__ContentSubmitted *cs = (Simpul__V1__ContentSubmitted *)events_unpack(
			&simpul__v1__content_submitted__descriptor, m->value, m->value_len, 0, err,
			errlen);
		int rc;

		if (!cs)
			return UTIL_EINVAL;
		j->event = &cs->base;
		rc = check_content(cs, err, errlen);
		return rc ? rc : prepare_content(w, cs, j, err, errlen);
	}
	if (!strcmp(m->topic, EVENTS_TOPIC_REGISTRY)) {
		Simpul__V1__RegistryEvent *re = (Simpul__V1__RegistryEvent *)events_unpack(
			&simpul__v1__registry_event__descriptor, m->value, m->value_len, 0, err,
			errlen);

		if (!re)
			return UTIL_EINVAL;
		j->event = &re->base;
		return prepare_registry(re, j, err, errlen);
	}
	return 0;
}

static void job_done(struct mod_worker *w, const struct mod_job *j)
{
	if (!j->ready)
		return;
	if (!strcmp(j->row.kind, "content")) {
		metrics_counter_inc(w->p->decisions,
				    (const char *[]){mod_decision_name(j->row.decision)});
		slog_debug("content moderated", "id=%s version=%d decision=%s score=%.2f dup=%d",
			   j->row.item_id, j->row.version, mod_decision_name(j->row.decision),
			   j->r.total, !j->inserted);
	}
	if (j->inserted)
		mod_pipeline_wake_relay(w->p);
}

/* Content: group-committed with other consumers' items (committer). */
static int store_one(struct mod_worker *w, struct mod_job *j, char *err, size_t errlen)
{
	int rc;

	if (!j->ready)
		return 0;
	if (w->p->committer && !strcmp(j->row.kind, "content"))
		rc = mod_committer_store(w->p->committer, &j->row, &j->r, j->rows, &j->inserted,
					 err, errlen);
	else
		rc = mod_store_auto(w->db, &j->row, &j->r, j->rows, &j->inserted, err, errlen);
	return rc ? db_code(rc) : 0;
}

static int handle(void *ud, const struct kafka_message *m, char *err, size_t errlen)
{
	struct mod_worker *w = ud;
	struct mod_job j;
	int rc;

	if (!m->value)
		return util_err_set(err, errlen, UTIL_EINVAL, "empty message");
	if (!strcmp(m->topic, EVENTS_TOPIC_MODERATION_FEEDBACK))
		return mod_feedback_learn(w->p, w->db, w->wk, m, err, errlen);
	job_init(&j);
	rc = prepare(w, m, &j, err, errlen);
	if (rc == 0)
		rc = store_one(w, &j, err, errlen);
	if (rc == 0)
		job_done(w, &j);
	job_release(&j);
	return rc;
}

/* Stores the prepared jobs in ONE transaction on the worker's connection. */
static int store_batch(struct mod_worker *w, struct mod_job *jobs, size_t n, char *err,
		       size_t errlen)
{
	int rc = db_begin(w->db, err, errlen);

	for (size_t i = 0; rc == 0 && i < n; i++)
		if (jobs[i].ready)
			rc = mod_store_auto(w->db, &jobs[i].row, &jobs[i].r, jobs[i].rows,
					    &jobs[i].inserted, err, errlen);
	if (rc == 0) {
		rc = db_commit(w->db, err, errlen); /* always ends the transaction */
		return rc ? db_code(rc) : 0;
	}
	db_rollback(w->db, NULL, 0);
	for (size_t i = 0; i < n; i++)
		jobs[i].inserted = false;
	return db_code(rc);
}

/*
 * The libs/kafka batch handler: scores every message, then stores every
 * decision (item, signals, audit, status, outbox) in ONE transaction. The
 * item's primary key (id, version) makes a repeat inside the batch or a
 * replay insert nothing. Feedback is learned on the spot (once per event id,
 * its own transaction). Any failure (poison, outage) returns it: libs/kafka
 * then redoes the batch message by message through handle().
 */
static int handle_batch(void *ud, const struct kafka_message *msgs, size_t n, char *err,
			size_t errlen)
{
	struct mod_worker *w = ud;
	struct mod_job *jobs = calloc(n, sizeof(*jobs));
	size_t njobs = 0;
	int rc = jobs ? 0 : UTIL_ENOMEM;

	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (!msgs[i].value) {
			rc = util_err_set(err, errlen, UTIL_EINVAL, "empty message");
		} else if (!strcmp(msgs[i].topic, EVENTS_TOPIC_MODERATION_FEEDBACK)) {
			rc = mod_feedback_learn(w->p, w->db, w->wk, &msgs[i], err, errlen);
		} else {
			job_init(&jobs[njobs]);
			rc = prepare(w, &msgs[i], &jobs[njobs++], err, errlen);
		}
	}
	if (rc == 0)
		rc = store_batch(w, jobs, njobs, err, errlen);
	for (size_t i = 0; i < njobs; i++) {
		if (rc == 0)
			job_done(w, &jobs[i]);
		job_release(&jobs[i]);
	}
	free(jobs);
	return rc;
}


static void *worker_main(void *arg)
{
	struct mod_worker *w = arg;
	char err[512];

	if (kafka_consumer_run(w->consumer, &w->p->stop, err, sizeof(err)) != 0)
		slog_error("consumer stopped", "err=\"%s\"", err);
	return NULL;
}

static int worker_init(struct mod_pipeline *p, struct mod_worker *w, int idx, char *err,
		       size_t errlen)
{
	static const char *const topics[] = {EVENTS_TOPIC_CONTENT_SUBMITTED, EVENTS_TOPIC_REGISTRY,
					     EVENTS_TOPIC_MODERATION_FEEDBACK};
	struct db_conn_opts opts = {.application_name = "simpul-moderate",
				    .statement_timeout_ms = 30000,
				    .allow_down = true};
	char client[64];
	const struct kafka_kv extra[1] = {{"auto.offset.reset", p->cfg->offset_reset}};
	struct kafka_consumer_config cc = {.brokers = p->cfg->kafka_brokers,
					   .group_id = p->cfg->group,
					   .extra = extra,
					   .nextra = 1,
					   .client_id = client,
					   .topics = topics,
					   .ntopics = 3,
					   .handle = handle,
					   .handle_batch = p->cfg->batch_max > 1 ? handle_batch : NULL,
					   .batch_max = (int)p->cfg->batch_max,
					   .batch_wait_ms = p->cfg->batch_wait_ms > 0
								    ? (int)p->cfg->batch_wait_ms
								    : -1,
					   .ud = w};

	snprintf(client, sizeof(client), "simpul-moderate-%d", idx);
	w->p = p;
	w->db = db_conn_new_opts(p->cfg->pg_url, &opts, err, errlen);
	w->wk = text_work_new(MAX_TEXT);
	if (!w->db || !w->wk)
		return UTIL_ENOMEM;
	w->consumer = kafka_consumer_new(&cc, err, errlen);
	return w->consumer ? 0 : UTIL_EINVAL;
}

int mod_pipeline_start(struct mod_pipeline *p, char *err, size_t errlen)
{
	p->workers = calloc((size_t)p->cfg->consumers, sizeof(*p->workers));
	if (!p->workers)
		return UTIL_ENOMEM;
	for (int i = 0; i < (int)p->cfg->consumers; i++) {
		struct mod_worker *w = &p->workers[i];
		int rc = worker_init(p, w, i, err, errlen);

		p->nworkers++;
		if (rc != 0)
			return rc;
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
			return util_err_set(err, errlen, UTIL_EIO, "cannot start consumer thread");
		w->started = true;
	}
	return 0;
}

void mod_pipeline_stop(struct mod_pipeline *p)
{
	p->stop = 1;
	for (size_t i = 0; i < p->nworkers; i++) {
		struct mod_worker *w = &p->workers[i];

		if (w->started)
			pthread_join(w->thread, NULL);
		kafka_consumer_free(w->consumer);
		text_work_free(w->wk);
		db_conn_free(w->db);
	}
	free(p->workers);
	p->workers = NULL;
	p->nworkers = 0;
}

void mod_pipeline_stats(struct mod_pipeline *p, struct kafka_consumer_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < p->nworkers; i++) {
		struct kafka_consumer_stats s;

		if (!p->workers[i].consumer)
			continue;
		kafka_consumer_stats(p->workers[i].consumer, &s);
		out->processed += s.processed;
		out->retried += s.retried;
		out->dead_lettered += s.dead_lettered;
		out->errors += s.errors;
	}
}
