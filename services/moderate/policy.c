/*
 * services/moderate/policy.c - thresholds per region prefix over a national
 * default (simpul.moderation_thresholds): the longest covering prefix wins.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "auth/auth.h"
#include "db/db.h"
#include "moderate.h"
#include "util/err.h"

#define DEFAULT_REVIEW_AT 5.0
#define DEFAULT_REJECT_AT 15.0

const char *mod_decision_name(enum mod_decision d)
{
	return d == MOD_APPROVE ? "approve" : d == MOD_REJECT ? "reject" : "review";
}

void mod_policy_lookup(const struct mod_policy *p, const char *region, double *review_at,
		       double *reject_at)
{
	size_t best = 0;
	bool found = false;

	*review_at = DEFAULT_REVIEW_AT;
	*reject_at = DEFAULT_REJECT_AT;
	for (size_t i = 0; p && i < p->n; i++) {
		size_t l = strlen(p->t[i].prefix);

		if ((l == 0 || auth_region_covers(p->t[i].prefix, region)) && (!found || l > best)) {
			best = l;
			found = true;
			*review_at = p->t[i].review_at;
			*reject_at = p->t[i].reject_at;
		}
	}
}

enum mod_decision mod_policy_decide(const struct mod_policy *p, const char *region, double total)
{
	double review_at, reject_at;

	mod_policy_lookup(p, region, &review_at, &reject_at);
	if (total >= reject_at)
		return MOD_REJECT;
	return total >= review_at ? MOD_REVIEW : MOD_APPROVE;
}

int mod_policy_load(struct db_conn *db, struct mod_policy *p, char *err, size_t errlen)
{
	PGresult *res = NULL;
	int rc = db_exec(db,
			 "SELECT region_prefix, review_at, reject_at FROM simpul.moderation_thresholds "
			 "ORDER BY region_prefix LIMIT 4096",
			 0, NULL, NULL, &res, err, errlen);

	if (rc != 0)
		return rc;
	p->n = 0;
	for (int i = 0; i < PQntuples(res) && p->n < MOD_POLICY_MAX; i++) {
		struct mod_threshold *t = &p->t[p->n++];

		snprintf(t->prefix, sizeof(t->prefix), "%s", PQgetvalue(res, i, 0));
		t->review_at = strtod(PQgetvalue(res, i, 1), NULL);
		t->reject_at = strtod(PQgetvalue(res, i, 2), NULL);
	}
	PQclear(res);
	return 0;
}
