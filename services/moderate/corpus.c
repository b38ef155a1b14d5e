/*
 * services/moderate/corpus.c - labelled CSV files for the classifier:
 * an RFC 4180 record reader (quoted fields, doubled quotes, line breaks in
 * quotes), the label convention, training into a model, and the evaluation
 * the issue asks for (train on data rows whose 1-based number is not
 * divisible by 5, evaluate on those that are).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mod_corpus.h"
#include "util/err.h"

#define RECORD_MAX (256 * 1024)
#define FIELDS_MAX 64

struct mod_csv {
	FILE *f;
	char *buf;
	size_t len;
	char *fields[FIELDS_MAX];
	size_t nfields;
};

struct mod_csv *mod_csv_open(const char *path, char *err, size_t errlen)
{
	struct mod_csv *c = calloc(1, sizeof(*c));

	if (!c || !(c->buf = malloc(RECORD_MAX + 1))) {
		free(c);
		util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
		return NULL;
	}
	c->f = fopen(path, "r");
	if (!c->f) {
		util_err_set(err, errlen, UTIL_EIO, "cannot open \"%s\": %s", path, strerror(errno));
		free(c->buf);
		free(c);
		return NULL;
	}
	return c;
}

void mod_csv_close(struct mod_csv *c)
{
	if (!c)
		return;
	fclose(c->f);
	free(c->buf);
	free(c);
}

/* Reads one record; fields are NUL-terminated in c->buf. false at EOF. */
bool mod_csv_next(struct mod_csv *c)
{
	bool quoted = false, any = false, field_start = true;
	int ch;

	c->len = 0;
	c->nfields = 1;
	c->fields[0] = c->buf;
	while ((ch = fgetc(c->f)) != EOF) {
		any = true;
		if (quoted) {
			if (ch == '"') {
				int next = fgetc(c->f);

				if (next != '"') {
					quoted = false;
					if (next != EOF)
						ungetc(next, c->f);
					continue;
				}
			}
		} else if (ch == '"' && field_start) {
			quoted = true;
			field_start = false;
			continue;
		} else if (ch == ',') {
			if (c->len < RECORD_MAX)
				c->buf[c->len++] = '\0';
			if (c->nfields < FIELDS_MAX)
				c->fields[c->nfields++] = c->buf + c->len;
			field_start = true;
			continue;
		} else if (ch == '\n') {
			break;
		} else if (ch == '\r') {
			continue;
		}
		field_start = false;
		if (c->len < RECORD_MAX)
			c->buf[c->len++] = (char)ch;
	}
	c->buf[c->len] = '\0';
	return any;
}

size_t mod_csv_nfields(const struct mod_csv *c)
{
	return c->nfields;
}

const char *mod_csv_field(const struct mod_csv *c, size_t i)
{
	return i < c->nfields ? c->fields[i] : "";
}

int mod_corpus_columns(struct mod_csv *c, struct mod_corpus_cols *cols, char *err, size_t errlen)
{
	memset(cols, -1, sizeof(*cols));
	if (!mod_csv_next(c))
		return util_err_set(err, errlen, UTIL_EINVAL, "empty file");
	for (size_t i = 0; i < c->nfields; i++) {
		const char *h = c->fields[i];

		if (!strcasecmp(h, "text") || !strcasecmp(h, "tweet"))
			cols->text = (int)i;
		else if (!strcasecmp(h, "title"))
			cols->title = (int)i;
		else if (!strcasecmp(h, "label"))
			cols->label = (int)i;
		else if (!strcmp(h, "HS"))
			cols->hs = (int)i;
		else if (!strcmp(h, "Abusive"))
			cols->abusive = (int)i;
	}
	if (cols->text < 0 || (cols->label < 0 && cols->hs < 0 && cols->abusive < 0))
		return util_err_set(err, errlen, UTIL_EINVAL,
				    "want a text (or Tweet) column and a label (or HS/Abusive) column");
	return 0;
}

int mod_corpus_label(const struct mod_csv *c, const struct mod_corpus_cols *cols)
{
	if (cols->label >= 0) {
		const char *l = mod_csv_field(c, (size_t)cols->label);

		if (!strcmp(l, "1") || !strcasecmp(l, "bad") || !strcasecmp(l, "reject"))
			return 1;
		if (!strcmp(l, "0") || !strcasecmp(l, "good") || !strcasecmp(l, "approve"))
			return 0;
		return -1;
	}
	return (cols->hs >= 0 && !strcmp(mod_csv_field(c, (size_t)cols->hs), "1")) ||
	       (cols->abusive >= 0 && !strcmp(mod_csv_field(c, (size_t)cols->abusive), "1"));
}

int mod_corpus_train(struct mod_bayes *b, const struct mod_rules *rules, struct text_work *wk,
		     const char *path, int skip_mod, size_t *learned, char *err, size_t errlen)
{
	struct mod_csv *c = mod_csv_open(path, err, errlen);
	struct mod_corpus_cols cols;
	size_t row = 0;
	int rc = c ? mod_corpus_columns(c, &cols, err, errlen) : UTIL_EIO;

	*learned = 0;
	while (rc == 0 && mod_csv_next(c)) {
		const char *text = mod_csv_field(c, (size_t)cols.text);
		const struct text_term *t;
		size_t n;
		int label = mod_corpus_label(c, &cols);

		row++;
		if ((skip_mod > 0 && row % (size_t)skip_mod == 0) || label < 0)
			continue; /* held out for evaluation, or unlabelled */
		if (text_analyze(&rules->an, wk, text, strlen(text), &t, &n) != 0)
			continue;
		rc = mod_bayes_learn_terms(b, t, n, label == 1);
		*learned += rc == 0;
	}
	mod_csv_close(c);
	return rc;
}

int mod_corpus_eval(const struct mod_score_ctx *sc, const struct mod_policy *policy,
		    struct text_work *wk, const char *path,
		    int every, struct mod_eval *ev, char *err, size_t errlen)
{
	struct mod_csv *c = mod_csv_open(path, err, errlen);
	struct mod_corpus_cols cols;
	size_t row = 0;
	int rc = c ? mod_corpus_columns(c, &cols, err, errlen) : UTIL_EIO;

	memset(ev, 0, sizeof(*ev));
	while (rc == 0 && mod_csv_next(c)) {
		const char *text = mod_csv_field(c, (size_t)cols.text);
		struct mod_result r;
		int label = mod_corpus_label(c, &cols);
		bool flagged;

		row++;
		if (row % (size_t)every != 0 || label < 0)
			continue;
		if (mod_score(sc, wk, "", 0, text, strlen(text), &r) != 0)
			continue;
		flagged = mod_policy_decide(policy, "", r.total) != MOD_APPROVE;
		mod_result_release(&r);
		ev->tp += label == 1 && flagged;
		ev->fn += label == 1 && !flagged;
		ev->fp += label == 0 && flagged;
		ev->tn += label == 0 && !flagged;
	}
	mod_csv_close(c);
	if (rc == 0) {
		double p = ev->tp + ev->fp ? (double)ev->tp / (double)(ev->tp + ev->fp) : 0;
		double rcl = ev->tp + ev->fn ? (double)ev->tp / (double)(ev->tp + ev->fn) : 0;

		ev->precision = p;
		ev->recall = rcl;
		ev->f1 = p + rcl > 0 ? 2 * p * rcl / (p + rcl) : 0;
		ev->clean_to_review =
			ev->fp + ev->tn ? (double)ev->fp / (double)(ev->fp + ev->tn) : 0;
	}
	return rc;
}
