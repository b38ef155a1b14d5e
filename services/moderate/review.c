/*
 * services/moderate/review.c - human review actions, each one transaction:
 * claim (an expiring lock; who holds it is visible), decide (approve or
 * reject with reason and note; for KIM registrations verify, giving a
 * national number, or reject), and the author's single appeal. Every action
 * is audited; decisions write ContentModerated, ContentPublished (approved
 * content), ModerationFeedback or RegistryEvent rows to the outbox.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db/db.h"
#include "events/codec.h"
#include "mod_app.h"
#include "mod_events.h"
#include "mod_store.h"
#include "outbox/outbox.h"
#include "util/err.h"

static void fail(struct mod_reply *out, int status, const char *code, const char *msg)
{
	out->status = status;
	out->code = code;
	snprintf(out->message, sizeof(out->message), "%s", msg);
}

static void fail_db(struct mod_reply *out, int rc, const char *err)
{
	if (rc == UTIL_EUNAVAIL)
		fail(out, 503, "unavailable", "database unavailable");
	else
		fail(out, 500, "internal", err);
}

#define ITEM_COLS                                                                                  \
	"SELECT item_id, version, kind, region_code, state, content_type, kim_id, author_id, "    \
	"score, claimed_by, claim_expires_at > now() AS claim_live, claim_expires_at, "           \
	"appeal_state, excluded_moderator, decided_by, encode(payload, 'hex') AS payload, "       \
	"(extract(epoch FROM submitted_at) * 1000)::bigint AS submitted_ms "                      \
	"FROM simpul.moderation_items WHERE item_id = $1::uuid "

/* Locks the item's newest version. NULL res with out set when not usable. */
static PGresult *lock_item(struct db_conn *db, const struct auth_principal *p, const char *id,
			   struct mod_reply *out)
{
	const char *v[1] = {id};
	PGresult *res = NULL;
	char err[256];
	int rc;

	if (!util_uuid_valid(id)) {
		fail(out, 404, "not_found", "no such item");
		return NULL;
	}
	rc = db_exec(db, ITEM_COLS "ORDER BY version DESC LIMIT 1 FOR UPDATE", 1, v, NULL, &res,
		     err, sizeof(err));
	if (rc != 0) {
		fail_db(out, rc, err);
	} else if (PQntuples(res) == 0) {
		fail(out, 404, "not_found", "no such item");
	} else if (p->role != AUTH_ROLE_ADMIN && p->role != AUTH_ROLE_MODERATOR &&
		   strcmp(db_value(res, 0, "author_id") ? db_value(res, 0, "author_id") : "",
			  p->user_id) != 0) {
		fail(out, 403, "forbidden", "not a moderator");
	} else {
		return res;
	}
	PQclear(res);
	return NULL;
}

static bool in_scope(const struct auth_principal *p, PGresult *res, struct mod_reply *out)
{
	if ((p->role == AUTH_ROLE_MODERATOR || p->role == AUTH_ROLE_ADMIN) &&
	    auth_scope_covers(p, db_value(res, 0, "region_code")))
		return true;
	fail(out, 403, "forbidden", "item outside your region");
	return false;
}

static int audit(struct db_conn *db, PGresult *item, const char *action, const char *actor,
		 const char *reason, const char *note, char *err, size_t errlen)
{
	const char *v[7] = {db_value(item, 0, "item_id"), db_value(item, 0, "version"),
			    db_value(item, 0, "kind"),	  action,
			    actor,			  db_value(item, 0, "region_code"),
			    reason};
	const char *v8[8] = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], note};

	return db_exec(db,
		       "INSERT INTO simpul.moderation_audit (item_id, version, kind, action, actor, "
		       "region_code, reason_code, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
		       8, v8, NULL, NULL, err, errlen);
}

static int insert_outbox(struct db_conn *db, json_t *rows, char *err, size_t errlen)
{
	char *ob = json_dumps(rows, JSON_COMPACT);
	const char *v[1] = {ob};
	int rc;

	if (!ob)
		return UTIL_ENOMEM;
	rc = db_exec(db,
		     "INSERT INTO simpul.moderation_outbox (topic, msg_key, payload, headers) "
		     "SELECT x.topic, x.msg_key, decode(x.payload, 'hex'), x.headers FROM "
		     "jsonb_to_recordset($1::jsonb) AS x(topic text, msg_key text, payload text, "
		     "headers jsonb)",
		     1, v, NULL, NULL, err, errlen);
	free(ob);
	return rc;
}

/* Content: status, ContentModerated, ContentPublished, ModerationFeedback. */
static int content_effects(struct db_conn *db, PGresult *it, const struct auth_principal *p,
			   enum mod_decision d, const char *reason, const char *note,
			   json_t *rows, char *err, size_t errlen)
{
	size_t len = 0;
	unsigned char *raw = mod_unhex(db_value(it, 0, "payload"), &len);
	Simpul__V1__Content *c = raw ? (Simpul__V1__Content *)events_unpack(
					       &simpul__v1__content__descriptor, raw, len, 0, err,
					       errlen)
				     : NULL;
	Simpul__V1__ModerationFeedback fb = SIMPUL__V1__MODERATION_FEEDBACK__INIT;
	struct events_meta_buf mb;
	int rc = c ? 0 : UTIL_EINTERNAL;

	if (rc == 0) {
		struct mod_decided dd = {c->id,	       c->version,   d,
					 strtod(db_value(it, 0, "score"), NULL),
					 p->user_id,   reason,	     note,
					 c->region_code, c->kim_id,  c->author_id,
					 (int)c->type, c->submitted_at_ms};
		const char *v[3] = {c->id, db_value(it, 0, "version"), mod_content_status(d)};

		rc = mod_outbox_moderated(rows, &dd, NULL, NULL);
		if (rc == 0 && d == MOD_APPROVE)
			rc = mod_outbox_published(rows, c, NULL);
		if (rc == 0)
			rc = mod_meta_new(&mb, "moderation.feedback", NULL);
		if (rc == 0) {
			fb.meta = &mb.meta;
			fb.content_id = c->id;
			fb.version = c->version;
			fb.decision = (Simpul__V1__Decision)d;
			fb.moderator_id = (char *)p->user_id;
			fb.reason_code = (char *)(reason ? reason : "");
			fb.title = c->title;
			fb.body = c->body;
			rc = mod_outbox_add(rows, EVENTS_TOPIC_MODERATION_FEEDBACK, c->id, &fb.base,
					    &mb.meta);
		}
		if (rc == 0)
			rc = db_exec(db,
				     "WITH st AS (UPDATE simpul.content SET status = $3, updated_at = "
				     "now() WHERE id = $1::uuid AND version = $2::int RETURNING id) "
				     "INSERT INTO simpul.content_status_history (content_id, seq, status, "
				     "reason) SELECT st.id, (SELECT coalesce(max(h.seq), 0) + 1 FROM "
				     "simpul.content_status_history h WHERE h.content_id = st.id), $3, "
				     "'human moderation' FROM st",
				     3, v, NULL, NULL, err, errlen);
	}
	if (c)
		protobuf_c_message_free_unpacked(&c->base, NULL);
	free(raw);
	return rc;
}

/* KIM: status, national number, RegistryEvent verified/rejected. */
static int kim_effects(struct db_conn *db, PGresult *it, const struct auth_principal *p,
		       enum mod_decision d, json_t *rows, json_t *body, char *err, size_t errlen)
{
	size_t len = 0;
	unsigned char *raw = mod_unhex(db_value(it, 0, "payload"), &len);
	Simpul__V1__Kim *k = raw ? (Simpul__V1__Kim *)events_unpack(&simpul__v1__kim__descriptor,
								     raw, len, 0, err, errlen)
				 : NULL;
	Simpul__V1__RegistryEvent re = SIMPUL__V1__REGISTRY_EVENT__INIT;
	struct events_meta_buf mb;
	PGresult *res = NULL;
	const char *v[3] = {db_value(it, 0, "item_id"), d == MOD_APPROVE ? "verified" : "rejected",
			    p->user_id};
	int rc = k ? 0 : UTIL_EINTERNAL;

	if (rc == 0)
		rc = db_exec(db, "UPDATE simpul.kims SET status = $2, updated_at = now(), "
				 "version = version + 1 WHERE id = $1::uuid", 2, v, NULL, NULL, err,
			     errlen);
	if (rc == 0 && d == MOD_APPROVE)
		rc = db_exec(db,
			     "INSERT INTO simpul.kim_national_ids (kim_id, national_id, issued_by) "
			     "SELECT k.id, 'KIM-' || replace(substr(k.region_code, 1, 5), '.', '') || "
			     "'-' || lpad(nextval('simpul.kim_national_seq')::text, 6, '0'), $3::uuid "
			     "FROM simpul.kims k WHERE k.id = $1::uuid AND $2 = 'verified' "
			     "ON CONFLICT (kim_id) DO UPDATE SET kim_id = excluded.kim_id "
			     "RETURNING national_id",
			     3, v, NULL, &res, err, errlen);
	if (rc == 0 && res && PQntuples(res) == 1)
		json_object_set_new(body, "national_id", json_string(PQgetvalue(res, 0, 0)));
	if (rc == 0)
		rc = mod_meta_new(&mb, "registry.changed", NULL);
	if (rc == 0) {
		k->status = d == MOD_APPROVE ? SIMPUL__V1__KIM_STATUS__KIM_STATUS_VERIFIED
					     : SIMPUL__V1__KIM_STATUS__KIM_STATUS_REJECTED;
		re.meta = &mb.meta;
		re.kim = k;
		re.action = d == MOD_APPROVE ? "verified" : "rejected";
		rc = mod_outbox_add(rows, EVENTS_TOPIC_REGISTRY, k->id, &re.base, &mb.meta);
	}
	PQclear(res);
	if (k)
		protobuf_c_message_free_unpacked(&k->base, NULL);
	free(raw);
	return rc;
}

static bool may_decide(const struct auth_principal *p, PGresult *it, struct mod_reply *out)
{
	const char *holder = db_value(it, 0, "claimed_by");
	const char *live = db_value(it, 0, "claim_live");
	const char *excluded = db_value(it, 0, "excluded_moderator");

	if (strcmp(db_value(it, 0, "state"), "review") != 0) {
		fail(out, 409, "not_pending", "item is not waiting for review");
		return false;
	}
	if (holder && live && live[0] == 't' && strcmp(holder, p->user_id) != 0) {
		out->status = 409;
		out->code = "claimed";
		snprintf(out->message, sizeof(out->message), "item is claimed by %s until %s",
			 holder, db_value(it, 0, "claim_expires_at"));
		return false;
	}
	if (excluded && !strcmp(excluded, p->user_id)) {
		fail(out, 403, "appeal_conflict", "an appeal goes to a different moderator");
		return false;
	}
	return true;
}

static int decide_tx(struct db_conn *db, PGresult *it, const struct auth_principal *p,
		     enum mod_decision d, const char *reason, const char *note, json_t *body,
		     char *err, size_t errlen)
{
	const bool kim = !strcmp(db_value(it, 0, "kind"), "kim");
	const char *state = d == MOD_APPROVE ? "approved" : "rejected";
	const char *v[6] = {db_value(it, 0, "item_id"), db_value(it, 0, "version"), state,
			    p->user_id, reason, note};
	json_t *rows = json_array();
	int rc = db_exec(db,
			 "UPDATE simpul.moderation_items SET state = $3, decided_at = now(), "
			 "decided_by = $4, reason_code = $5, note = $6, claimed_by = NULL, "
			 "claim_expires_at = NULL, appeal_state = CASE WHEN appeal_state = 'pending' "
			 "THEN 'decided' ELSE appeal_state END "
			 "WHERE item_id = $1::uuid AND version = $2::int",
			 6, v, NULL, NULL, err, errlen);

	if (rc == 0)
		rc = audit(db, it, kim ? (d == MOD_APPROVE ? "verify" : "reject_registration")
				       : (d == MOD_APPROVE ? "approve" : "reject"),
			   p->user_id, reason, note, err, errlen);
	if (rc == 0)
		rc = kim ? kim_effects(db, it, p, d, rows, body, err, errlen)
			 : content_effects(db, it, p, d, reason, note, rows, err, errlen);
	if (rc == 0)
		rc = insert_outbox(db, rows, err, errlen);
	json_decref(rows);
	return rc;
}

void mod_review_decide(struct mod_app *a, struct db_conn *db, const struct auth_principal *p,
		       const char *item_id, enum mod_decision d, const char *reason,
		       const char *note, struct mod_reply *out)
{
	PGresult *it = NULL;
	char err[256];
	int rc = db_begin(db, err, sizeof(err));

	memset(out, 0, sizeof(*out));
	if (rc != 0) {
		fail_db(out, rc, err);
		return;
	}
	it = lock_item(db, p, item_id, out);
	if (it && in_scope(p, it, out) && may_decide(p, it, out)) {
		out->body = json_pack("{s:s,s:i,s:s,s:s}", "id", item_id, "version",
				      atoi(db_value(it, 0, "version")), "kind",
				      db_value(it, 0, "kind"), "state",
				      d == MOD_APPROVE ? "approved" : "rejected");
		rc = decide_tx(db, it, p, d, reason, note, out->body, err, sizeof(err));
		rc = rc ? rc : db_commit(db, err, sizeof(err));
		if (rc != 0) {
			json_decref(out->body);
			out->body = NULL;
			fail_db(out, rc, err);
		} else {
			out->status = 200;
			outbox_relay_wake(a->relay);
		}
	}
	if (out->status != 200)
		db_rollback(db, NULL, 0);
	PQclear(it);
}

void mod_review_claim(struct mod_app *a, struct db_conn *db, const struct auth_principal *p,
		      const char *item_id, bool release, struct mod_reply *out)
{
	PGresult *it = NULL, *res = NULL;
	char err[256], ttl[32];
	int rc = db_begin(db, err, sizeof(err));

	memset(out, 0, sizeof(*out));
	snprintf(ttl, sizeof(ttl), "%lld", (long long)a->cfg->claim_ttl_ms);
	if (rc != 0) {
		fail_db(out, rc, err);
		return;
	}
	it = lock_item(db, p, item_id, out);
	if (it && in_scope(p, it, out) && (release || may_decide(p, it, out))) {
		const char *v[4] = {item_id, db_value(it, 0, "version"), p->user_id, ttl};

		if (release)
			rc = db_exec(db,
				     "UPDATE simpul.moderation_items SET claimed_by = NULL, "
				     "claim_expires_at = NULL WHERE item_id = $1::uuid AND version = "
				     "$2::int AND claimed_by = $3::uuid RETURNING claimed_by",
				     3, v, NULL, &res, err, sizeof(err));
		else
			rc = db_exec(db,
				     "UPDATE simpul.moderation_items SET claimed_by = $3::uuid, "
				     "claim_expires_at = now() + $4::bigint * interval '1 ms' "
				     "WHERE item_id = $1::uuid AND version = $2::int "
				     "RETURNING claimed_by, claim_expires_at",
				     4, v, NULL, &res, err, sizeof(err));
		if (rc == 0)
			rc = audit(db, it, release ? "release" : "claim", p->user_id, NULL, NULL, err,
				   sizeof(err));
		rc = rc ? rc : db_commit(db, err, sizeof(err));
		if (rc == 0) {
			out->status = 200;
			out->body = json_pack("{s:s,s:o,s:o}", "id", item_id, "claimed_by",
					      release ? json_null() : json_string(p->user_id),
					      "claim_expires_at",
					      !release && PQntuples(res) ? json_string(db_value(
										   res, 0, "claim_expires_at"))
								: json_null());
		} else {
			fail_db(out, rc, err);
		}
	}
	if (out->status != 200)
		db_rollback(db, NULL, 0);
	PQclear(res);
	PQclear(it);
}

static bool may_appeal(const struct auth_principal *p, PGresult *it, struct mod_reply *out)
{
	const char *author = db_value(it, 0, "author_id");

	if (!author || strcmp(author, p->user_id) != 0)
		fail(out, 403, "forbidden", "only the author may appeal");
	else if (strcmp(db_value(it, 0, "kind"), "content") != 0 ||
		 strcmp(db_value(it, 0, "state"), "rejected") != 0)
		fail(out, 409, "not_rejected", "only a rejected item can be appealed");
	else if (db_value(it, 0, "appeal_state"))
		fail(out, 409, "already_appealed", "an item can be appealed once");
	else
		return true;
	return false;
}

static int appeal_tx(struct db_conn *db, PGresult *it, const struct auth_principal *p,
		     const char *note, char *err, size_t errlen)
{
	const char *by = db_value(it, 0, "decided_by");
	const char *v[4] = {db_value(it, 0, "item_id"), db_value(it, 0, "version"), note,
			    by && util_uuid_valid(by) ? by : NULL};
	const char *v2[2] = {v[0], v[1]};
	json_t *rows = json_array();
	int rc = db_exec(db,
			 "UPDATE simpul.moderation_items SET state = 'review', appeal_state = "
			 "'pending', appealed_at = now(), appeal_note = $3, excluded_moderator = "
			 "$4::uuid, escalated = $4 IS NOT NULL, claimed_by = NULL, claim_expires_at = "
			 "NULL WHERE item_id = $1::uuid AND version = $2::int",
			 4, v, NULL, NULL, err, errlen);

	if (rc == 0)
		rc = audit(db, it, "appeal", p->user_id, "appeal", note, err, errlen);
	if (rc == 0)
		rc = db_exec(db,
			     "WITH st AS (UPDATE simpul.content SET status = 'review', updated_at = "
			     "now() WHERE id = $1::uuid AND version = $2::int RETURNING id) "
			     "INSERT INTO simpul.content_status_history (content_id, seq, status, "
			     "actor_id, reason) SELECT st.id, (SELECT coalesce(max(h.seq), 0) + 1 "
			     "FROM simpul.content_status_history h WHERE h.content_id = st.id), "
			     "'review', NULL, 'appeal' FROM st",
			     2, v2, NULL, NULL, err, errlen);
	if (rc == 0) {
		struct mod_decided dd = {v[0], atoi(v[1]), MOD_REVIEW,
					 strtod(db_value(it, 0, "score"), NULL), p->user_id, "appeal",
					 note, db_value(it, 0, "region_code"),
					 db_value(it, 0, "kim_id"), db_value(it, 0, "author_id"),
					 mod_content_type_parse(db_value(it, 0, "content_type")),
					 strtoll(db_value(it, 0, "submitted_ms"), NULL, 10)};

		rc = mod_outbox_moderated(rows, &dd, NULL, NULL);
	}
	if (rc == 0)
		rc = insert_outbox(db, rows, err, errlen);
	json_decref(rows);
	return rc;
}

void mod_review_appeal(struct mod_app *a, struct db_conn *db, const struct auth_principal *p,
		       const char *item_id, const char *note, struct mod_reply *out)
{
	PGresult *it = NULL;
	char err[256];
	int rc = db_begin(db, err, sizeof(err));

	memset(out, 0, sizeof(*out));
	if (rc != 0) {
		fail_db(out, rc, err);
		return;
	}
	it = lock_item(db, p, item_id, out);
	if (it && may_appeal(p, it, out)) {
		const char *by = db_value(it, 0, "decided_by");

		rc = appeal_tx(db, it, p, note, err, sizeof(err));
		rc = rc ? rc : db_commit(db, err, sizeof(err));
		if (rc == 0) {
			out->status = 200;
			out->body = json_pack("{s:s,s:s,s:s,s:b}", "id", item_id, "state", "review",
					      "appeal_state", "pending", "escalated",
					      by && util_uuid_valid(by));
			outbox_relay_wake(a->relay);
		} else {
			fail_db(out, rc, err);
		}
	}
	if (out->status != 200)
		db_rollback(db, NULL, 0);
	PQclear(it);
}
