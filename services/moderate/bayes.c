/*
 * services/moderate/bayes.c - a Naive Bayes text classifier learnt from
 * moderators' decisions (and labelled CSV files): per feature, the number of
 * 'bad' (rejected / abusive) and 'good' documents containing it. Features
 * are the stems of the non-stopword words of a document, as unigrams and
 * adjacent pairs. P(bad) combines the present, already-seen features with
 * Laplace smoothing and equal priors; it is only reported once both
 * classes have min_learns documents (as rspamd's min_learns).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db/db.h"
#include "moderate.h"
#include "util/buf.h"
#include "util/err.h"

#define FEATURE_MAX 128
#define DOC_FEATURES_MAX 4096

struct entry {
	char *key;
	uint64_t hash;
	int64_t bad, good;
};

struct mod_bayes {
	struct entry *tab;
	size_t cap, n;
	int64_t docs_bad, docs_good;
};

static uint64_t fnv(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h ? h : 1;
}

struct mod_bayes *mod_bayes_new(void)
{
	struct mod_bayes *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->cap = 1024;
	b->tab = calloc(b->cap, sizeof(*b->tab));
	if (!b->tab) {
		free(b);
		return NULL;
	}
	return b;
}

void mod_bayes_free(struct mod_bayes *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->cap; i++)
		free(b->tab[i].key);
	free(b->tab);
	free(b);
}

static struct entry *find(const struct mod_bayes *b, const char *k, size_t len, uint64_t h)
{
	for (size_t i = h & (b->cap - 1);; i = (i + 1) & (b->cap - 1)) {
		struct entry *e = &b->tab[i];

		if (!e->key || (e->hash == h && strlen(e->key) == len && !memcmp(e->key, k, len)))
			return e;
	}
}

static int grow(struct mod_bayes *b)
{
	struct entry *old = b->tab;
	size_t oldcap = b->cap;

	b->tab = calloc(oldcap * 2, sizeof(*b->tab));
	if (!b->tab) {
		b->tab = old;
		return UTIL_ENOMEM;
	}
	b->cap = oldcap * 2;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].key)
			*find(b, old[i].key, strlen(old[i].key), old[i].hash) = old[i];
	free(old);
	return 0;
}

static int add_len(struct mod_bayes *b, const char *f, size_t len, int64_t bad, int64_t good)
{
	uint64_t h = fnv(f, len);
	struct entry *e;

	if ((b->n + 1) * 10 > b->cap * 7 && grow(b) != 0)
		return UTIL_ENOMEM;
	e = find(b, f, len, h);
	if (!e->key) {
		e->key = strndup(f, len);
		if (!e->key)
			return UTIL_ENOMEM;
		e->hash = h;
		b->n++;
	}
	e->bad += bad;
	e->good += good;
	return 0;
}

int mod_bayes_add(struct mod_bayes *b, const char *feature, int64_t bad, int64_t good)
{
	return add_len(b, feature, strlen(feature), bad, good);
}

void mod_bayes_add_docs(struct mod_bayes *b, int64_t bad, int64_t good)
{
	b->docs_bad += bad;
	b->docs_good += good;
}

void mod_bayes_docs(const struct mod_bayes *b, int64_t *bad, int64_t *good)
{
	*bad = b ? b->docs_bad : 0;
	*good = b ? b->docs_good : 0;
}

static bool word_like(const struct text_term *t)
{
	return !t->stop && (t->type == TEXT_TOK_WORD || t->type == TEXT_TOK_HASHTAG) &&
	       t->stem_len > 1 && t->stem_len < FEATURE_MAX / 2 - 2;
}

/* Emits f unless already emitted in this document (hashes in seen). */
static void emit(const char *f, size_t len, uint64_t *seen, size_t *nseen, mod_feature_fn fn,
		 void *ud)
{
	uint64_t h = fnv(f, len);

	for (size_t i = 0; i < *nseen; i++)
		if (seen[i] == h)
			return;
	if (*nseen < DOC_FEATURES_MAX)
		seen[(*nseen)++] = h;
	fn(ud, f, len);
}

void mod_bayes_features(const struct text_term *t, size_t n, mod_feature_fn fn, void *ud)
{
	static _Thread_local uint64_t seen[DOC_FEATURES_MAX];
	size_t nseen = 0;
	const struct text_term *prev = NULL;
	char f[FEATURE_MAX];

	for (size_t i = 0; i < n; i++) {
		int len;

		if (!word_like(&t[i])) {
			if (!t[i].stop)
				prev = NULL;
			continue;
		}
		len = snprintf(f, sizeof(f), "%.*s", (int)t[i].stem_len, t[i].stem);
		emit(f, (size_t)len, seen, &nseen, fn, ud);
		if (prev) {
			len = snprintf(f, sizeof(f), "%.*s_%.*s", (int)prev->stem_len, prev->stem,
				       (int)t[i].stem_len, t[i].stem);
			emit(f, (size_t)len, seen, &nseen, fn, ud);
		}
		prev = &t[i];
	}
}

struct learn_ctx {
	struct mod_bayes *b;
	bool bad;
	int rc;
};

static void learn_one(void *ud, const char *f, size_t len)
{
	struct learn_ctx *lc = ud;

	if (lc->rc == 0)
		lc->rc = add_len(lc->b, f, len, lc->bad ? 1 : 0, lc->bad ? 0 : 1);
}

int mod_bayes_learn_terms(struct mod_bayes *b, const struct text_term *t, size_t n, bool bad)
{
	struct learn_ctx lc = {b, bad, 0};

	mod_bayes_features(t, n, learn_one, &lc);
	if (lc.rc == 0)
		mod_bayes_add_docs(b, bad ? 1 : 0, bad ? 0 : 1);
	return lc.rc;
}

struct prob_ctx {
	const struct mod_bayes *b;
	double lo;
};

static void prob_one(void *ud, const char *f, size_t len)
{
	struct prob_ctx *pc = ud;
	const struct entry *e = find(pc->b, f, len, fnv(f, len));
	double pb, pg;

	if (!e->key || e->bad + e->good < 2)
		return; /* unseen or seen once: no evidence */
	pb = ((double)e->bad + 0.5) / ((double)pc->b->docs_bad + 1.0);
	pg = ((double)e->good + 0.5) / ((double)pc->b->docs_good + 1.0);
	pc->lo += log(pb / pg);
}

double mod_bayes_prob(const struct mod_bayes *b, const struct text_term *t, size_t n,
		      int64_t min_learns)
{
	struct prob_ctx pc = {b, 0};

	if (!b || b->docs_bad < min_learns || b->docs_good < min_learns || b->docs_bad == 0 ||
	    b->docs_good == 0)
		return -1;
	mod_bayes_features(t, n, prob_one, &pc);
	if (pc.lo > 40)
		return 1;
	if (pc.lo < -40)
		return 0;
	return 1.0 / (1.0 + exp(-pc.lo));
}

int mod_bayes_each(const struct mod_bayes *b, mod_bayes_each_fn fn, void *ud)
{
	for (size_t i = 0; i < b->cap; i++) {
		int rc;

		if (b->tab[i].key && (rc = fn(ud, b->tab[i].key, b->tab[i].bad, b->tab[i].good)))
			return rc;
	}
	return 0;
}

int mod_bayes_load(struct db_conn *db, struct mod_bayes **out, char *err, size_t errlen)
{
	PGresult *res = NULL;
	struct mod_bayes *b = mod_bayes_new();
	int rc = b ? 0 : UTIL_ENOMEM;

	if (rc == 0)
		rc = db_exec(db, "SELECT feature, bad, good FROM simpul.moderation_bayes", 0, NULL,
			     NULL, &res, err, errlen);
	for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
		const char *f = PQgetvalue(res, i, 0);
		int64_t bad = strtoll(PQgetvalue(res, i, 1), NULL, 10);
		int64_t good = strtoll(PQgetvalue(res, i, 2), NULL, 10);

		if (f[0] == '\0')
			mod_bayes_add_docs(b, bad, good);
		else
			rc = mod_bayes_add(b, f, bad, good);
	}
	PQclear(res);
	if (rc != 0) {
		mod_bayes_free(b);
		return rc;
	}
	*out = b;
	return 0;
}

/* Postgres array literal element: "..." with \ and " escaped. */
static int arr_add(struct util_buf *a, const char *s)
{
	int rc = util_buf_append_str(a, a->len > 1 ? ",\"" : "\"");

	for (; rc == 0 && *s; s++) {
		if (*s == '"' || *s == '\\')
			rc = util_buf_append(a, "\\", 1);
		if (rc == 0)
			rc = util_buf_append(a, s, 1);
	}
	return rc ? rc : util_buf_append_str(a, "\"");
}

struct save_ctx {
	struct util_buf f, bad, good;
};

static int save_one(void *ud, const char *f, int64_t bad, int64_t good)
{
	struct save_ctx *s = ud;
	int rc = arr_add(&s->f, f);

	if (rc == 0)
		rc = util_buf_printf(&s->bad, "%s%lld", s->bad.len > 1 ? "," : "", (long long)bad);
	if (rc == 0)
		rc = util_buf_printf(&s->good, "%s%lld", s->good.len > 1 ? "," : "",
				     (long long)good);
	return rc;
}

int mod_bayes_save_delta(struct db_conn *db, const struct mod_bayes *b, char *err,
			 size_t errlen)
{
	static const char sql[] =
		"INSERT INTO simpul.moderation_bayes AS m (feature, bad, good) "
		"SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) "
		"ON CONFLICT (feature) DO UPDATE SET bad = m.bad + excluded.bad, "
		"good = m.good + excluded.good";
	struct save_ctx s;
	int rc;

	util_buf_init(&s.f, 0);
	util_buf_init(&s.bad, 0);
	util_buf_init(&s.good, 0);
	rc = util_buf_append_str(&s.f, "{");
	rc = rc ? rc : util_buf_append_str(&s.bad, "{");
	rc = rc ? rc : util_buf_append_str(&s.good, "{");
	rc = rc ? rc : save_one(&s, "", b->docs_bad, b->docs_good);
	rc = rc ? rc : mod_bayes_each(b, save_one, &s);
	rc = rc ? rc : util_buf_append_str(&s.f, "}");
	rc = rc ? rc : util_buf_append_str(&s.bad, "}");
	rc = rc ? rc : util_buf_append_str(&s.good, "}");
	if (rc == 0) {
		const char *vals[3] = {s.f.data, s.bad.data, s.good.data};

		rc = db_exec(db, sql, 3, vals, NULL, NULL, err, errlen);
	} else {
		util_err_set(err, errlen, rc, "bayes save: out of memory");
	}
	util_buf_release(&s.f);
	util_buf_release(&s.bad);
	util_buf_release(&s.good);
	return rc;
}
