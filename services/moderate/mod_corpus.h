/*
 * services/moderate/mod_corpus.h - labelled CSV corpora for the Bayes
 * classifier: reading, training and the evaluation (corpus.c). Used by
 * simpulctl's moderation commands.
 *
 * Columns are found by header name: the text in "text" or "Tweet"; the
 * label in "label" (1/bad/reject or 0/good/approve) or, as in
 * re_dataset.csv, bad when "HS" or "Abusive" is 1.
 */
#ifndef MODERATE_MOD_CORPUS_H
#define MODERATE_MOD_CORPUS_H

#include <stdbool.h>
#include <stddef.h>

#include "moderate.h"

struct mod_csv;

/* Opens path; NULL with err set. Records over 256 KiB are truncated. */
struct mod_csv *mod_csv_open(const char *path, char *err, size_t errlen);
void mod_csv_close(struct mod_csv *c);
/* Next record (fields valid until the next call); false at the end. */
bool mod_csv_next(struct mod_csv *c);
size_t mod_csv_nfields(const struct mod_csv *c);
/* Field i, "" when absent. */
const char *mod_csv_field(const struct mod_csv *c, size_t i);

struct mod_corpus_cols {
	int text, title, label, hs, abusive; /* -1 when absent */
};

/* Reads the header line. 0 or UTIL_EINVAL (no text or label column). */
__attribute__((warn_unused_result)) int mod_corpus_columns(struct mod_csv *c,
							   struct mod_corpus_cols *cols,
							   char *err, size_t errlen);
/* 1 bad, 0 good, -1 unlabelled. */
int mod_corpus_label(const struct mod_csv *c, const struct mod_corpus_cols *cols);

/*
 * Learns every labelled data row of path into b, except rows whose 1-based
 * data-row number is divisible by skip_mod (0: learn all). *learned counts.
 */
__attribute__((warn_unused_result)) int mod_corpus_train(struct mod_bayes *b,
							 const struct mod_rules *rules,
							 struct text_work *wk, const char *path,
							 int skip_mod, size_t *learned, char *err,
							 size_t errlen);

struct mod_eval {
	size_t tp, fp, fn, tn; /* positive: labelled bad AND not auto-approved */
	double precision, recall, f1;
	double clean_to_review; /* clean rows not auto-approved */
};

/* Scores the data rows whose 1-based number is divisible by every with the
 * national thresholds of policy (NULL: the defaults 5 / 15). */
__attribute__((warn_unused_result)) int mod_corpus_eval(const struct mod_score_ctx *sc,
							const struct mod_policy *policy,
							struct text_work *wk, const char *path,
							int every, struct mod_eval *ev, char *err,
							size_t errlen);

#endif
