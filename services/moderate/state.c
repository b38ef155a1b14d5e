/*
 * services/moderate/state.c - the rules, classifier, thresholds and region
 * set every consumer scores with, and the reloader thread that replaces
 * them without a restart (see moderate.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <libpq-fe.h>

#include "db/db.h"
#include "moderate.h"
#include "slog/slog.h"
#include "util/err.h"
#include "util/ids.h"

/* Sum of the list files' mtimes and sizes: changes when one is edited. */
static long long lists_signature(const char *lists)
{
	long long sig = 0;
	char *copy = lists ? strdup(lists) : NULL, *save = NULL;

	for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save)) {
		char *path = strchr(t, ':');
		struct stat st;

		if (path && stat(path + 1, &st) == 0)
			sig += (long long)st.st_mtime * 1000003LL + (long long)st.st_size;
	}
	free(copy);
	return sig;
}

static int64_t bayes_docs(struct db_conn *db)
{
	PGresult *res = NULL;
	char err[256];
	int64_t n = -1;

	if (db_exec(db, "SELECT bad + good FROM simpul.moderation_bayes WHERE feature = ''", 0,
		    NULL, NULL, &res, err, sizeof(err)) == 0 &&
	    PQntuples(res) == 1)
		n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return n;
}

int mod_state_reload(struct mod_state *s, bool force_lists, char *err, size_t errlen)
{
	struct mod_policy *pol = malloc(sizeof(*pol));
	struct mod_rules *rules = NULL;
	struct mod_bayes *bayes = NULL;
	struct mod_policy *old_pol;
	struct mod_rules *old_rules;
	struct mod_bayes *old_bayes;
	long long sig = lists_signature(s->cfg->lists);
	int64_t docs = bayes_docs(s->db);
	int rc = pol ? mod_policy_load(s->db, pol, err, errlen) : UTIL_ENOMEM;

	if (rc == 0 && docs >= 0 && docs != s->bayes_docs)
		rc = mod_bayes_load(s->db, &bayes, err, errlen);
	if (rc == 0 && (force_lists || sig != s->lists_sig || !s->rules)) {
		rules = mod_rules_new(s->cfg->lists, s->cfg->domains_allow, s->cfg->domains_deny,
				      err, errlen);
		rc = rules ? 0 : UTIL_EINVAL;
	}
	if (rc != 0) {
		free(pol);
		mod_bayes_free(bayes);
		return rc;
	}
	pthread_rwlock_wrlock(&s->lock);
	old_pol = s->policy;
	old_rules = rules ? s->rules : NULL;
	old_bayes = bayes ? s->bayes : NULL;
	s->policy = pol;
	if (rules) {
		s->rules = rules;
		s->lists_sig = sig;
	}
	if (bayes) {
		s->bayes = bayes;
		s->bayes_docs = docs;
	}
	pthread_rwlock_unlock(&s->lock);
	free(old_pol);
	mod_rules_free(old_rules);
	mod_bayes_free(old_bayes);
	if (rules)
		slog_info("lists loaded", "patterns=%zu", rules->npatterns);
	if (bayes)
		slog_info("classifier loaded", "docs=%lld", (long long)docs);
	return 0;
}

static void *reloader(void *p)
{
	struct mod_state *s = p;
	char err[512];

	for (;;) {
		struct timespec ts;
		bool force;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += s->cfg->reload_ms / 1000;
		ts.tv_nsec += (s->cfg->reload_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&s->mu);
		if (!s->stopping && !s->reload_requested)
			pthread_cond_timedwait(&s->cv, &s->mu, &ts);
		force = s->reload_requested != 0;
		s->reload_requested = 0;
		if (s->stopping) {
			pthread_mutex_unlock(&s->mu);
			break;
		}
		pthread_mutex_unlock(&s->mu);
		if (mod_state_reload(s, force, err, sizeof(err)) != 0)
			slog_warn("reload failed, keeping the current rules", "err=\"%s\"", err);
	}
	return NULL;
}

int mod_state_init(struct mod_state *s, const struct mod_config *cfg, char *err, size_t errlen)
{
	struct db_conn_opts opts = {.application_name = "simpul-moderate-reload",
				    .statement_timeout_ms = 30000};
	pthread_rwlockattr_t ra;
	int rc;

	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->bayes_docs = -1;
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&s->lock, &ra);
	pthread_rwlockattr_destroy(&ra);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->db = db_conn_new_opts(cfg->pg_url, &opts, err, errlen);
	s->regions = mod_regions_new();
	s->bayes = mod_bayes_new();
	if (!s->db || !s->regions || !s->bayes)
		return s->db ? UTIL_ENOMEM : UTIL_EUNAVAIL;
	rc = mod_regions_load(s->regions, s->db, err, errlen);
	if (rc == 0)
		rc = mod_state_reload(s, true, err, errlen);
	if (rc == 0)
		slog_info("moderation state loaded", "kecamatan=%zu", mod_regions_count(s->regions));
	return rc;
}

int mod_state_start(struct mod_state *s)
{
	if (pthread_create(&s->thread, NULL, reloader, s) != 0)
		return UTIL_EIO;
	s->started = true;
	return 0;
}

void mod_state_request_reload(struct mod_state *s)
{
	pthread_mutex_lock(&s->mu);
	s->reload_requested = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

void mod_state_release(struct mod_state *s)
{
	if (s->started) {
		pthread_mutex_lock(&s->mu);
		s->stopping = true;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->thread, NULL);
		s->started = false;
	}
	mod_rules_free(s->rules);
	mod_bayes_free(s->bayes);
	free(s->policy);
	mod_regions_free(s->regions);
	db_conn_free(s->db);
	pthread_rwlock_destroy(&s->lock);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	memset(s, 0, sizeof(*s));
}

void mod_state_acquire(struct mod_state *s, struct mod_snapshot *snap)
{
	pthread_rwlock_rdlock(&s->lock);
	snap->rules = s->rules;
	snap->bayes = s->bayes;
	snap->policy = s->policy;
	snap->regions = s->regions;
}

void mod_state_put(struct mod_state *s, struct mod_snapshot *snap)
{
	memset(snap, 0, sizeof(*snap));
	pthread_rwlock_unlock(&s->lock);
}
