/*
 * services/moderate/pipeline.c - the automatic pipeline: consumer threads in
 * group simpul-moderate over kim.content.submitted.v1, kim.registry.v1
 * (action "registered") and kim.moderation.feedback.v1 (classifier
 * training). Each thread owns a consumer, a PostgreSQL connection and a
 * text workspace. Bad events return UTIL_EINVAL (dead-lettered), an outage
 * UTIL_EUNAVAIL (retried, never dead-lettered).
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

/* Scores, decides and stores one content version. */
static int decide_content(struct mod_worker *w, Simpul__V1__ContentSubmitted *cs, char *err,
			  size_t errlen)
{
	Simpul__V1__Content *c = cs->content, masked;
	struct mod_snapshot snap;
	struct mod_result r;
	struct mod_score_ctx sc;
	struct util_buf packed;
	json_t *rows = json_array();
	enum mod_decision d;
	bool inserted = false;
	int rc;

	mod_state_acquire(w->p->state, &snap);
	sc = (struct mod_score_ctx){snap.rules, snap.bayes, snap.regions,
				    w->p->cfg->bayes_min_learns};
	rc = mod_score(&sc, w->wk, c->title, strlen(c->title), c->body, strlen(c->body), &r);
	if (rc == 0) {
		mod_nearby_check(w->p->cache, &r, c->id, r.simhash, r.nfeatures,
				 w->p->cfg->dup_window_ms, c->kim_id, c->author_id,
				 w->p->cfg->flood_per_min, w->p->cfg->flood_burst);
		d = mod_policy_decide(snap.policy, c->region_code, r.total);
	}
	mod_state_put(w->p->state, &snap);
	if (rc != 0) {
		json_decref(rows);
		return util_err_set(err, errlen, rc == UTIL_ETOOBIG ? UTIL_EINVAL : rc,
				    "scoring failed: %s", util_err_name(rc));
	}
	masked = *c;
	masked.title = r.masked_title;
	masked.body = r.masked_body;
	util_buf_init(&packed, EVENTS_MAX_PACKED);
	rc = events_pack(&masked.base, 0, &packed, err, errlen);
	if (rc == 0) {
		struct mod_decided dd = {c->id,	       c->version,  d,		  r.total, "auto",
					 NULL,	       NULL,	    c->region_code, c->kim_id,
					 c->author_id, (int)c->type, c->submitted_at_ms};

		rc = mod_outbox_moderated(rows, &dd, &r, cs->meta->trace_id);
		if (rc == 0 && d == MOD_APPROVE)
			rc = mod_outbox_published(rows, &masked, cs->meta->trace_id);
	}
	if (rc == 0) {
		struct mod_auto_row row = {c->id,	 c->version,	"content",
					   c->region_code, mod_content_type_name(c->type),
					   c->kim_id,	 c->author_id,	r.masked_title,
					   d,		 packed.data,	packed.len,
					   c->submitted_at_ms ? c->submitted_at_ms : cs->meta->occurred_at_ms};

		rc = w->p->committer
			     ? mod_committer_store(w->p->committer, &row, &r, rows, &inserted, err,
						   errlen)
			     : mod_store_auto(w->db, &row, &r, rows, &inserted, err, errlen);
		if (rc != 0)
			rc = db_code(rc);
	}
	if (rc == 0) {
		metrics_counter_inc(w->p->decisions, (const char *[]){mod_decision_name(d)});
		if (inserted)
			mod_pipeline_wake_relay(w->p);
		slog_debug("content moderated", "id=%s version=%d decision=%s score=%.2f dup=%d",
			   c->id, c->version, mod_decision_name(d), r.total, !inserted);
	}
	util_buf_release(&packed);
	json_decref(rows);
	mod_result_release(&r);
	return rc;
}

static int on_submitted(struct mod_worker *w, const struct kafka_message *m, char *err,
			size_t errlen)
{
	Simpul__V1__ContentSubmitted *cs = (Simpul__V1__ContentSubmitted *)events_unpack(
		&simpul__v1__content_submitted__descriptor, m->value, m->value_len, 0, err, errlen);
	int rc;

	if (!cs)
		return UTIL_EINVAL;
	rc = check_content(cs, err, errlen);
	if (rc == 0)
		rc = decide_content(w, cs, err, errlen);
	protobuf_c_message_free_unpacked(&cs->base, NULL);
	return rc;
}

/* A registration always goes to human review. */
static int on_registry(struct mod_worker *w, const struct kafka_message *m, char *err,
		       size_t errlen)
{
	Simpul__V1__RegistryEvent *re = (Simpul__V1__RegistryEvent *)events_unpack(
		&simpul__v1__registry_event__descriptor, m->value, m->value_len, 0, err, errlen);
	struct mod_result r;
	struct util_buf packed;
	json_t *rows = json_array();
	bool inserted;
	int rc = re ? 0 : UTIL_EINVAL;

	memset(&r, 0, sizeof(r));
	util_buf_init(&packed, EVENTS_MAX_PACKED);
	if (rc == 0 && events_meta_validate(re->meta, err, errlen) != 0)
		rc = UTIL_EINVAL;
	if (rc == 0 && strcmp(re->action, "registered") != 0)
		goto out; /* our own verified/rejected, or later changes */
	if (rc == 0 && (!re->kim || !util_uuid_valid(re->kim->id) || !re->kim->region_code[0] ||
			strlen(re->kim->region_code) > 31))
		rc = util_err_set(err, errlen, UTIL_EINVAL, "registry: missing kim id or region");
	if (rc == 0)
		rc = events_pack(&re->kim->base, 0, &packed, err, errlen);
	if (rc == 0) {
		struct mod_auto_row row = {re->kim->id,	 1,	    "kim", re->kim->region_code,
					   NULL,	 re->kim->id, re->kim->registered_by,
					   re->kim->name, MOD_REVIEW, packed.data, packed.len,
					   re->kim->registered_at_ms ? re->kim->registered_at_ms
								     : re->meta->occurred_at_ms};

		if (!mod_result_add(&r, "KIM_REGISTRATION", 0, "registrations are always reviewed"))
			rc = UTIL_ENOMEM;
		if (re->kim->registered_by[0] && !util_uuid_valid(re->kim->registered_by))
			row.author_id = NULL;
		if (rc == 0)
			rc = mod_store_auto(w->db, &row, &r, rows, &inserted, err, errlen);
		if (rc != 0)
			rc = db_code(rc);
	}
out:
	util_buf_release(&packed);
	json_decref(rows);
	if (re)
		protobuf_c_message_free_unpacked(&re->base, NULL);
	return rc;
}

static int handle(void *ud, const struct kafka_message *m, char *err, size_t errlen)
{
	struct mod_worker *w = ud;

	if (!m->value)
		return util_err_set(err, errlen, UTIL_EINVAL, "empty message");
	if (!strcmp(m->topic, EVENTS_TOPIC_CONTENT_SUBMITTED))
		return on_submitted(w, m, err, errlen);
	if (!strcmp(m->topic, EVENTS_TOPIC_REGISTRY))
		return on_registry(w, m, err, errlen);
	if (!strcmp(m->topic, EVENTS_TOPIC_MODERATION_FEEDBACK))
		return mod_feedback_learn(w->p, w->db, w->wk, m, err, errlen);
	return 0;
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
