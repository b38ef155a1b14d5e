/*
 * services/moderate/learn.c - the classifier learns from moderators: every
 * ModerationFeedback (approve: good, reject: bad) is analysed and its
 * feature counts are added to simpul.moderation_bayes, once per event id.
 */
#include <string.h>

#include <libpq-fe.h>

#include "db/db.h"
#include "events/codec.h"
#include "mod_events.h"
#include "mod_pipeline.h"
#include "util/err.h"

int mod_learn_store(struct db_conn *db, const struct mod_bayes *delta, const char *learn_key,
		    bool *learned, char *err, size_t errlen)
{
	PGresult *res = NULL;
	int rc = db_begin(db, err, errlen);

	*learned = false;
	if (rc == 0 && learn_key) {
		const char *v[1] = {learn_key};

		rc = db_exec(db,
			     "INSERT INTO simpul.moderation_bayes_learned (learn_key) VALUES ($1) "
			     "ON CONFLICT DO NOTHING RETURNING learn_key",
			     1, v, NULL, &res, err, errlen);
		if (rc == 0 && PQntuples(res) == 0) {
			PQclear(res);
			return db_rollback(db, err, errlen); /* learned before */
		}
	}
	PQclear(res);
	if (rc == 0)
		rc = mod_bayes_save_delta(db, delta, err, errlen);
	if (rc == 0)
		rc = db_commit(db, err, errlen);
	else
		db_rollback(db, NULL, 0);
	*learned = rc == 0;
	return rc;
}

int mod_feedback_learn(struct mod_pipeline *p, struct db_conn *db, struct text_work *wk,
		       const struct kafka_message *m, char *err, size_t errlen)
{
	Simpul__V1__ModerationFeedback *fb = (Simpul__V1__ModerationFeedback *)events_unpack(
		&simpul__v1__moderation_feedback__descriptor, m->value, m->value_len, 0, err, errlen);
	struct mod_bayes *delta = mod_bayes_new();
	struct mod_snapshot snap;
	const struct text_term *t;
	size_t n, tl, bl;
	char *txt = NULL;
	bool learned = false;
	int rc = fb && delta ? 0 : fb ? UTIL_ENOMEM : UTIL_EINVAL;

	if (rc == 0 && events_meta_validate(fb->meta, err, errlen) != 0)
		rc = UTIL_EINVAL;
	if (rc == 0 && fb->decision != SIMPUL__V1__DECISION__DECISION_APPROVE &&
	    fb->decision != SIMPUL__V1__DECISION__DECISION_REJECT)
		goto out; /* nothing to learn */
	if (rc == 0) {
		tl = strlen(fb->title);
		bl = strlen(fb->body);
		txt = malloc(tl + bl + 3);
		rc = txt ? 0 : UTIL_ENOMEM;
	}
	if (rc == 0) {
		memcpy(txt, fb->title, tl);
		memcpy(txt + tl, "\n\n", 2);
		memcpy(txt + tl + 2, fb->body, bl + 1);
		mod_state_acquire(p->state, &snap);
		rc = text_analyze(&snap.rules->an, wk, txt, tl + bl + 2, &t, &n);
		if (rc == 0)
			rc = mod_bayes_learn_terms(
				delta, t, n, fb->decision == SIMPUL__V1__DECISION__DECISION_REJECT);
		mod_state_put(p->state, &snap);
		if (rc == UTIL_ETOOBIG)
			rc = util_err_set(err, errlen, UTIL_EINVAL, "feedback text too large");
	}
	if (rc == 0) {
		rc = mod_learn_store(db, delta, fb->meta->id, &learned, err, errlen);
		if (rc == 0 && learned)
			metrics_counter_inc(p->learned, NULL);
	}
out:
	free(txt);
	mod_bayes_free(delta);
	if (fb)
		protobuf_c_message_free_unpacked(&fb->base, NULL);
	return rc;
}
