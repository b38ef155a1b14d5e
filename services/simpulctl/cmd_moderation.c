/*
 * cmd_moderation.c - simpulctl moderation: train the stored Bayes
 * classifier from a labelled CSV, run the evaluation on re_dataset.csv
 * (train on data rows whose 1-based number is not divisible by 5, evaluate
 * on those that are; nothing is tuned on the evaluation rows), and set the
 * thresholds of a region prefix (the service re-reads them by itself).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_moderation.h"
#include "mod_corpus.h"
#include "mod_pipeline.h"
#include "util/ids.h"

#define TEXT_MAX (1u << 20)

static int train(const struct simpulctl_ctx *ctx, const char *path)
{
	char err[512], hex[65], key[80];
	unsigned char h[32];
	struct mod_rules *rules = mod_rules_new(NULL, NULL, NULL, err, sizeof(err));
	struct text_work *wk = text_work_new(TEXT_MAX);
	struct mod_bayes *b = mod_bayes_new();
	struct db_conn *db = NULL;
	size_t learned = 0;
	bool stored = false;
	int rc = rules && wk && b ? 0 : -1;

	if (rc == 0)
		rc = mod_corpus_train(b, rules, wk, path, 0, &learned, err, sizeof(err));
	if (rc == 0 && !(db = simpulctl_db_open(ctx)))
		rc = -1;
	/* the same file twice is learnt once: its name and size make the key */
	snprintf(key, sizeof(key), "%s:%zu", path, learned);
	util_sha256(key, strlen(key), h);
	util_hex(h, 32, hex);
	snprintf(key, sizeof(key), "file:%s", hex);
	if (rc == 0)
		rc = mod_learn_store(db, b, key, &stored, err, sizeof(err));
	if (rc == 0)
		printf("%s %zu documents\n", stored ? "learned" : "already learned", learned);
	else
		fprintf(stderr, "simpulctl: moderation train: %s\n", err);
	db_conn_free(db);
	mod_bayes_free(b);
	text_work_free(wk);
	mod_rules_free(rules);
	return rc == 0 ? SIMPULCTL_OK : SIMPULCTL_FAIL;
}

static int eval(const char *path, const char *lists, long min_learns)
{
	char err[512];
	struct mod_rules *rules = mod_rules_new(lists, NULL, NULL, err, sizeof(err));
	struct text_work *wk = text_work_new(TEXT_MAX);
	struct mod_bayes *b = mod_bayes_new();
	struct mod_eval ev;
	size_t learned = 0;
	int64_t bad, good;
	int rc = rules && wk && b ? 0 : -1;

	if (rc == 0)
		rc = mod_corpus_train(b, rules, wk, path, 5, &learned, err, sizeof(err));
	if (rc == 0) {
		struct mod_score_ctx sc = {rules, b, NULL, min_learns};

		rc = mod_corpus_eval(&sc, NULL, wk, path, 5, &ev, err, sizeof(err));
	}
	if (rc == 0) {
		mod_bayes_docs(b, &bad, &good);
		printf("trained on %zu rows (%lld bad, %lld good); evaluated %zu rows "
		       "(every 5th data row)\n",
		       learned, (long long)bad, (long long)good, ev.tp + ev.fp + ev.fn + ev.tn);
		printf("tp=%zu fp=%zu fn=%zu tn=%zu\n", ev.tp, ev.fp, ev.fn, ev.tn);
		printf("precision=%.4f recall=%.4f f1=%.4f clean_to_review=%.4f\n", ev.precision,
		       ev.recall, ev.f1, ev.clean_to_review);
	} else {
		fprintf(stderr, "simpulctl: moderation eval: %s\n", rules ? err : err);
	}
	mod_bayes_free(b);
	text_work_free(wk);
	mod_rules_free(rules);
	return rc == 0 ? SIMPULCTL_OK : SIMPULCTL_FAIL;
}

static int thresholds(const struct simpulctl_ctx *ctx, const char *prefix, const char *review,
		      const char *reject)
{
	const char *v[3] = {prefix, review, reject};
	struct db_conn *db = simpulctl_db_open(ctx);
	char err[512];
	int rc;

	if (!db)
		return SIMPULCTL_FAIL;
	rc = db_exec(db,
		     "INSERT INTO simpul.moderation_thresholds (region_prefix, review_at, reject_at) "
		     "VALUES ($1, $2::float8, $3::float8) ON CONFLICT (region_prefix) DO UPDATE SET "
		     "review_at = excluded.review_at, reject_at = excluded.reject_at, "
		     "updated_at = now()",
		     3, v, NULL, NULL, err, sizeof(err));
	if (rc != 0)
		simpulctl_db_report(db, "moderation thresholds", err);
	db_conn_free(db);
	return rc == 0 ? SIMPULCTL_OK : SIMPULCTL_FAIL;
}

int simpulctl_cmd_moderation(const struct simpulctl_ctx *ctx, int argc, char **argv)
{
	static const char *const spec[] = {"lists", "min-learns", NULL};
	const char *vals[2] = {NULL, NULL}, *pos[4];
	size_t npos = 0;

	if (argc < 2 || !simpulctl_opts_parse(argc - 2, argv + 2, spec, vals, pos, 4, &npos))
		goto usage;
	if (!strcmp(argv[1], "train") && npos == 1)
		return train(ctx, pos[0]);
	if (!strcmp(argv[1], "eval") && npos == 1)
		return eval(pos[0], vals[0], vals[1] ? strtol(vals[1], NULL, 10) : 200);
	if (!strcmp(argv[1], "thresholds") && npos == 3)
		return thresholds(ctx, strcmp(pos[0], "national") ? pos[0] : "", pos[1], pos[2]);
usage:
	fprintf(stderr, "usage: simpulctl moderation train FILE\n"
			"       simpulctl moderation eval FILE [--lists category:path,...] "
			"[--min-learns N]\n"
			"       simpulctl moderation thresholds PREFIX|national REVIEW_AT REJECT_AT\n");
	return SIMPULCTL_USAGE;
}
