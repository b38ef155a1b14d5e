/*
 * services/moderate/pipeline.c - the automatic pipeline: consumer threads in
 * group simpul-moderate over kim.content.submitted.v1, kim.registry.v1
 * (action "registered") and kim.moderation.feedback.v1 (classifier
 * training). Each thread owns a consumer, a PostgreSQL connection and a
 * text workspace. Messages come in batches (libs/kafka's batch handler):
 * each is scored, the batch is checked against Redis in three round trips,
 * then its decisions are stored in ONE statement.
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

/* A message by its place in the log (the topic name is libs/kafka's, valid
 * while the batch is in hand). */
struct done_mark {
	const char *topic;
	int32_t partition;
	int64_t offset;
};

struct mod_worker {
	struct mod_pipeline *p;
	struct db_conn *db;
	struct text_work *wk;
	struct kafka_consumer *consumer;
	pthread_t thread;
	bool started;
	/* the last batch's messages already stored when it failed for its
	 * poison alone: libs/kafka's one-by-one redo of it skips them */
	struct done_mark *done;
	size_t ndone;
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
 * payload and the outbox rows. Decoded, scored, checked against Redis (with
 * the rest of its batch) and decided, then stored alone or with the rest of
 * a batch in one statement. Release with job_release.
 */
struct mod_job {
	ProtobufCMessage *event;
	Simpul__V1__ContentSubmitted *cs; /* content to decide, or NULL */
	Simpul__V1__RegistryEvent *re;    /* a registration to review, or NULL */
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

static int check_registry(Simpul__V1__RegistryEvent *re, char *err, size_t errlen)
{
	if (events_meta_validate(re->meta, err, errlen) != 0)
		return UTIL_EINVAL;
	if (strcmp(re->action, "registered") != 0)
		return 0; /* our own verified/rejected, or later changes */
	if (!re->kim || !util_uuid_valid(re->kim->id) || !re->kim->region_code[0] ||
	    strlen(re->kim->region_code) > 31)
		return util_err_set(err, errlen, UTIL_EINVAL, "registry: missing kim id or region");
	return 0;
}

/*
 * Unpacks and validates m into j (no side effect): j->cs for content, j->re
 * for a registration, neither when there is nothing to do. UTIL_EINVAL:
 * poison.
 */
static int decode(const struct kafka_message *m, struct mod_job *j, char *err, size_t errlen)
{
	int rc;

	if (!strcmp(m->topic, EVENTS_TOPIC_CONTENT_SUBMITTED)) {
		Simpul__V1__ContentSubmitted *cs = (Simpul__V1__ContentSubmitted *)events_unpack(
			&simpul__v1__content_submitted__descriptor, m->value, m->value_len, 0, err,
			errlen);

		if (!cs)
			return UTIL_EINVAL;
		j->event = &cs->base;
		rc = check_content(cs, err, errlen);
		j->cs = rc == 0 ? cs : NULL;
		return rc;
	}
	if (!strcmp(m->topic, EVENTS_TOPIC_REGISTRY)) {
		Simpul__V1__RegistryEvent *re = (Simpul__V1__RegistryEvent *)events_unpack(
			&simpul__v1__registry_event__descriptor, m->value, m->value_len, 0, err,
			errlen);

		if (!re)
			return UTIL_EINVAL;
		j->event = &re->base;
		rc = check_registry(re, err, errlen);
		j->re = rc == 0 && !strcmp(re->action, "registered") ? re : NULL;
		return rc;
	}
	return 0;
}

/* The item a job decides: id and version. False when it decides nothing. */
static bool job_key(const struct mod_job *j, const char **id, int *version)
{
	if (j->cs) {
		*id = j->cs->content->id;
		*version = j->cs->content->version;
	} else if (j->re) {
		*id = j->re->kim->id;
		*version = 1;
	}
	return j->cs || j->re;
}

/* Scores a content job's text (no I/O). */
static int score(struct mod_worker *w, const struct mod_snapshot *snap, struct mod_job *j,
		 char *err, size_t errlen)
{
	const Simpul__V1__Content *c = j->cs->content;
	struct mod_score_ctx sc = {snap->rules, snap->bayes, snap->regions,
				   w->p->cfg->bayes_min_learns};
	int rc = mod_score(&sc, w->wk, c->title, strlen(c->title), c->body, strlen(c->body), &j->r);

	if (rc != 0)
		return util_err_set(err, errlen, rc == UTIL_ETOOBIG ? UTIL_EINVAL : rc,
				    "scoring failed: %s", util_err_name(rc));
	return 0;
}

/* Decides a scored content job: its row, masked payload and outbox rows. */
static int finish_content(const struct mod_snapshot *snap, struct mod_job *j, char *err,
			  size_t errlen)
{
	Simpul__V1__ContentSubmitted *cs = j->cs;
	Simpul__V1__Content *c = cs->content;
	enum mod_decision d = mod_policy_decide(snap->policy, c->region_code, j->r.total);
	int rc;

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
static int finish_registry(struct mod_job *j, char *err, size_t errlen)
{
	Simpul__V1__RegistryEvent *re = j->re;
	int rc = events_pack(&re->kim->base, 0, &j->packed, err, errlen);

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
 * Takes decoded jobs to their rows: scores every content job, checks them
 * all against Redis at once (nearby.c: three round trips for the batch),
 * then decides each. Jobs without cs/re are left alone.
 */
static int decide_jobs(struct mod_worker *w, struct mod_job *jobs, size_t n, char *err,
		       size_t errlen)
{
	struct mod_nearby_item *near = calloc(n ? n : 1, sizeof(*near));
	struct mod_snapshot snap;
	size_t nn = 0;
	int rc = near ? 0 : UTIL_ENOMEM;

	if (rc == 0) {
		mod_state_acquire(w->p->state, &snap);
		for (size_t i = 0; rc == 0 && i < n; i++) {
			const Simpul__V1__Content *c = jobs[i].cs ? jobs[i].cs->content : NULL;

			if (!c)
				continue;
			rc = score(w, &snap, &jobs[i], err, errlen);
			near[nn++] = (struct mod_nearby_item){c->id, c->kim_id, c->author_id,
							      &jobs[i].r};
		}
		mod_state_put(w->p->state, &snap);
	}
	if (rc == 0)
		mod_nearby_check_many(w->p->cache, near, nn, w->p->cfg->dup_window_ms,
				      w->p->cfg->flood_per_min, w->p->cfg->flood_burst);
	free(near);
	if (rc != 0)
		return rc;
	mod_state_acquire(w->p->state, &snap);
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (jobs[i].cs)
			rc = finish_content(&snap, &jobs[i], err, errlen);
		else if (jobs[i].re)
			rc = finish_registry(&jobs[i], err, errlen);
	mod_state_put(w->p->state, &snap);
	return rc;
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

/* True when m was stored by the batch this redo comes from. */
static bool already_done(const struct mod_worker *w, const struct kafka_message *m)
{
	for (size_t i = 0; i < w->ndone; i++)
		if (w->done[i].offset == m->offset && w->done[i].partition == m->partition &&
		    !strcmp(w->done[i].topic, m->topic))
			return true;
	return false;
}

int mod_pipeline_handle(void *ud, const struct kafka_message *m, char *err, size_t errlen)
{
	struct mod_worker *w = ud;
	struct mod_job j;
	int rc;

	if (already_done(w, m))
		return 0;
	if (!m->value)
		return util_err_set(err, errlen, UTIL_EINVAL, "empty message");
	if (!strcmp(m->topic, EVENTS_TOPIC_MODERATION_FEEDBACK))
		return mod_feedback_learn(w->p, w->db, w->wk, m, err, errlen);
	job_init(&j);
	rc = decode(m, &j, err, errlen);
	if (rc == 0)
		rc = decide_jobs(w, &j, 1, err, errlen);
	if (rc == 0)
		rc = store_one(w, &j, err, errlen);
	if (rc == 0)
		job_done(w, &j);
	job_release(&j);
	return rc;
}

/* Stores the batch's decisions in ONE statement on the worker's connection. */
static int store_batch(struct mod_worker *w, struct mod_job *jobs, size_t n, char *err,
		       size_t errlen)
{
	struct mod_store_item *items = calloc(n ? n : 1, sizeof(*items));
	size_t k = 0;
	int rc;

	if (!items)
		return UTIL_ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (jobs[i].ready)
			items[k++] = (struct mod_store_item){&jobs[i].row, &jobs[i].r, jobs[i].rows,
							     &jobs[i].inserted};
	rc = mod_store_auto_many(w->db, items, k, err, errlen);
	free(items);
	return rc ? db_code(rc) : 0;
}

/* Drops a repeat of an earlier job's item (id, version) in the batch: the
 * first one decides, as if they had come one after the other. */
static void drop_repeats(struct mod_job *jobs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *id, *other;
		int v, ov;

		if (!job_key(&jobs[i], &id, &v))
			continue;
		for (size_t k = 0; k < i; k++)
			if (job_key(&jobs[k], &other, &ov) && v == ov && !strcmp(id, other)) {
				jobs[i].cs = NULL;
				jobs[i].re = NULL;
				break;
			}
	}
}

/* Decodes every message (no side effect) and learns the feedback; a poison
 * one is marked, not fatal. 0 or the first other failure. */
static int batch_decode(struct mod_worker *w, const struct kafka_message *msgs, size_t n,
			struct mod_job *jobs, bool *poison, char *perr, size_t perrlen, char *err,
			size_t errlen)
{
	char e1[512];
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < n; i++) {
		bool fb = !strcmp(msgs[i].topic, EVENTS_TOPIC_MODERATION_FEEDBACK);
		int r = !msgs[i].value ? util_err_set(e1, sizeof(e1), UTIL_EINVAL, "empty message")
			: fb		? 0
					: decode(&msgs[i], &jobs[i], e1, sizeof(e1));

		if (r == 0 && fb && msgs[i].value)
			r = mod_feedback_learn(w->p, w->db, w->wk, &msgs[i], e1, sizeof(e1));
		if (r == UTIL_EINVAL) {
			poison[i] = true;
			jobs[i].cs = NULL;
			jobs[i].re = NULL;
			if (!perr[0])
				snprintf(perr, perrlen, "%s", e1);
		} else if (r != 0) {
			rc = util_err_set(err, errlen, r, "%s", e1);
		}
	}
	return rc;
}

/* Marks the batch's non-poison messages as stored for the one-by-one redo. */
static int mark_done(struct mod_worker *w, const struct kafka_message *msgs, size_t n,
		     const bool *poison)
{
	struct done_mark *d = realloc(w->done, (n ? n : 1) * sizeof(*d));

	if (!d)
		return UTIL_ENOMEM;
	w->done = d;
	for (size_t i = 0; i < n; i++)
		if (!poison[i])
			w->done[w->ndone++] = (struct done_mark){msgs[i].topic, msgs[i].partition,
								 msgs[i].offset};
	return 0;
}

/*
 * The libs/kafka batch handler, a constant number of round trips per batch:
 * decodes and validates every message first (no side effect), learns the
 * feedback (once per event id), scores every content item, checks them all
 * against Redis in three round trips, and stores every decision (items,
 * signals, audit, status, outbox) in ONE statement. The item's primary key
 * (id, version) makes a repeat inside the batch or a replay insert nothing.
 * Poison messages are left out; when there are any, the rest is stored
 * first and UTIL_EINVAL returned: libs/kafka then redoes the batch message
 * by message through mod_pipeline_handle, which answers 0 at once for the
 * messages stored here and dead-letters the poison alone. Any other failure
 * (an outage) stores nothing and is redone the same way (retried).
 */
int mod_pipeline_handle_batch(void *ud, const struct kafka_message *msgs, size_t n, char *err,
			      size_t errlen)
{
	struct mod_worker *w = ud;
	struct mod_job *jobs = calloc(n ? n : 1, sizeof(*jobs));
	bool *poison = calloc(n ? n : 1, sizeof(*poison));
	char perr[512] = "";
	int rc = jobs && poison ? 0 : UTIL_ENOMEM;

	w->ndone = 0;
	for (size_t i = 0; jobs && i < n; i++)
		job_init(&jobs[i]);
	if (rc == 0)
		rc = batch_decode(w, msgs, n, jobs, poison, perr, sizeof(perr), err, errlen);
	if (rc == 0) {
		drop_repeats(jobs, n);
		rc = decide_jobs(w, jobs, n, err, errlen);
	}
	if (rc == 0)
		rc = store_batch(w, jobs, n, err, errlen);
	for (size_t i = 0; jobs && i < n; i++) {
		if (rc == 0)
			job_done(w, &jobs[i]);
		job_release(&jobs[i]);
	}
	if (rc == 0 && perr[0]) {
		rc = mark_done(w, msgs, n, poison);
		rc = util_err_set(err, errlen, rc ? rc : UTIL_EINVAL,
				  "%s (the rest of the batch is stored)", perr);
	}
	free(poison);
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

/* The worker's PostgreSQL connection and text workspace. */
static int worker_open(struct mod_pipeline *p, struct mod_worker *w, char *err, size_t errlen)
{
	struct db_conn_opts opts = {.application_name = "simpul-moderate",
				    .statement_timeout_ms = 30000,
				    .allow_down = true};

	w->p = p;
	w->db = db_conn_new_opts(p->cfg->pg_url, &opts, err, errlen);
	w->wk = text_work_new(MAX_TEXT);
	return w->db && w->wk ? 0 : UTIL_ENOMEM;
}

struct mod_worker *mod_worker_new(struct mod_pipeline *p, char *err, size_t errlen)
{
	struct mod_worker *w = calloc(1, sizeof(*w));

	if (w && worker_open(p, w, err, errlen) != 0) {
		mod_worker_free(w);
		return NULL;
	}
	return w;
}

void mod_worker_free(struct mod_worker *w)
{
	if (!w)
		return;
	text_work_free(w->wk);
	db_conn_free(w->db);
	free(w->done);
	free(w);
}

static int worker_init(struct mod_pipeline *p, struct mod_worker *w, int idx, char *err,
		       size_t errlen)
{
	static const char *const topics[] = {EVENTS_TOPIC_CONTENT_SUBMITTED, EVENTS_TOPIC_REGISTRY,
					     EVENTS_TOPIC_MODERATION_FEEDBACK};
	char client[64];
	const struct kafka_kv extra[1] = {{"auto.offset.reset", p->cfg->offset_reset}};
	struct kafka_consumer_config cc = {.brokers = p->cfg->kafka_brokers,
					   .group_id = p->cfg->group,
					   .extra = extra,
					   .nextra = 1,
					   .client_id = client,
					   .topics = topics,
					   .ntopics = 3,
					   .handle = mod_pipeline_handle,
					   .handle_batch = p->cfg->batch_max > 1 ? mod_pipeline_handle_batch
								 : NULL,
					   .batch_max = (int)p->cfg->batch_max,
					   .batch_wait_ms = p->cfg->batch_wait_ms > 0
								    ? (int)p->cfg->batch_wait_ms
								    : -1,
					   .ud = w};

	snprintf(client, sizeof(client), "simpul-moderate-%d", idx);
	if (worker_open(p, w, err, errlen) != 0)
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
		free(w->done);
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
