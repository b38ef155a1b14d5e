/*
 * services/moderate/tests/eval_test.c - the evaluation as a test:
 * on re_dataset.csv, train on data rows whose 1-based number is not
 * divisible by 5, evaluate on those that are; "not auto-approved" must
 * reach F1 >= 0.80 with at most 25% of clean rows sent to review.
 * argv[1]: the shared data folder. Skips (77) when the file is absent.
 */
#include <stdio.h>
#include <unistd.h>

#include "mod_corpus.h"

int main(int argc, char **argv)
{
	char path[1024], err[512];
	struct mod_rules *rules;
	struct text_work *wk = text_work_new(1u << 20);
	struct mod_bayes *b = mod_bayes_new();
	struct mod_eval ev;
	size_t learned = 0;
	int ok;

	snprintf(path, sizeof(path), "%s/id-multilabel-hatespeech-abusive/re_dataset.csv",
		 argc > 1 ? argv[1] : "");
	if (argc < 2 || access(path, R_OK) != 0) {
		printf("SKIP: %s not found (set SIMPUL_SHARED_DATA)\n", path);
		return 77;
	}
	rules = mod_rules_new(NULL, NULL, NULL, err, sizeof(err));
	if (!rules || !wk || !b ||
	    mod_corpus_train(b, rules, wk, path, 5, &learned, err, sizeof(err)) != 0) {
		fprintf(stderr, "FAIL: %s\n", err);
		return 1;
	}
	{
		struct mod_score_ctx sc = {rules, b, NULL, 200};

		if (mod_corpus_eval(&sc, NULL, wk, path, 5, &ev, err, sizeof(err)) != 0) {
			fprintf(stderr, "FAIL: %s\n", err);
			return 1;
		}
	}
	printf("learned=%zu tp=%zu fp=%zu fn=%zu tn=%zu precision=%.4f recall=%.4f f1=%.4f "
	       "clean_to_review=%.4f\n",
	       learned, ev.tp, ev.fp, ev.fn, ev.tn, ev.precision, ev.recall, ev.f1,
	       ev.clean_to_review);
	ok = ev.tp + ev.fp + ev.fn + ev.tn > 2000 && ev.f1 >= 0.80 && ev.clean_to_review <= 0.25;
	mod_bayes_free(b);
	text_work_free(wk);
	mod_rules_free(rules);
	return ok ? 0 : 1;
}
