/*
 * services/moderate/lists.c - builds the rules: the text analyser, the
 * Aho-Corasick matcher over the starter lists and list files, and the
 * domain allow/deny lists.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lists_builtin.h"
#include "moderate.h"
#include "slog/slog.h"
#include "text/lexicon.h"
#include "text/stem.h"
#include "util/err.h"

static const char *const cat_names[MOD_CAT_COUNT] = {"abusive", "sara", "gambling", "porn",
						     "hoax"};
static const char *const cat_signals[MOD_CAT_COUNT] = {"ABUSIVE_WORD", "SARA_HATE",
						       "GAMBLING_PROMO", "PORNOGRAPHY",
						       "HOAX_PHRASE"};

int mod_category_parse(const char *s)
{
	for (int i = 0; i < MOD_CAT_COUNT; i++)
		if (strcmp(s, cat_names[i]) == 0)
			return i;
	return -1;
}

const char *mod_category_signal(int cat)
{
	return cat >= 0 && cat < MOD_CAT_COUNT ? cat_signals[cat] : "LIST_MATCH";
}

/* Adds one pattern; a trailing '*' means TEXT_PAT_PREFIX. Bad ones are skipped. */
static int add_pattern(struct mod_rules *r, const char *p, size_t len, int cat, float w)
{
	unsigned flags = 0;
	char err[128];
	int rc;

	while (len && isspace((unsigned char)p[len - 1]))
		len--;
	if (len > 1 && p[len - 1] == '*') {
		flags |= TEXT_PAT_PREFIX;
		len--;
	}
	if (len == 0)
		return 0;
	rc = text_matcher_add(r->matcher, p, len, (uint32_t)r->npatterns, (uint32_t)cat, w, flags,
			      err, sizeof(err));
	if (rc == UTIL_ENOMEM)
		return rc;
	if (rc == 0)
		r->npatterns++;
	return 0;
}

/* One line of a list file: pattern[,weight] or pattern<TAB>weight. */
static int add_line(struct mod_rules *r, char *line, int cat)
{
	size_t len = strcspn(line, "\r\n");
	char *sep;
	float w = 3;

	line[len] = '\0';
	if (len == 0 || line[0] == '#')
		return 0;
	sep = strpbrk(line, ",\t");
	if (sep) {
		char *end;
		double v = strtod(sep + 1, &end);

		if (end != sep + 1 && v > 0 && v <= 100)
			w = (float)v;
		len = (size_t)(sep - line);
	}
	return add_pattern(r, line, len, cat, w);
}

static bool all_caps(const char *s)
{
	for (; *s && *s != '\n' && *s != '\r'; s++)
		if (islower((unsigned char)*s))
			return false;
	return true;
}

static int load_file(struct mod_rules *r, int cat, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	size_t before = r->npatterns, lineno = 0;
	int rc = 0;

	if (!f)
		return util_err_set(err, errlen, UTIL_EIO, "cannot open list \"%s\": %s", path,
				    strerror(errno));
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		if (lineno++ == 0 && all_caps(line))
			continue; /* a header such as "ABUSIVE" */
		rc = add_line(r, line, cat);
	}
	fclose(f);
	slog_info("list loaded", "category=%s path=%s patterns=%zu", cat_names[cat], path,
		  r->npatterns - before);
	return rc;
}

/* "category:path,category:path" */
static int load_files(struct mod_rules *r, const char *lists, char *err, size_t errlen)
{
	char *copy = strdup(lists), *save = NULL, *tok;
	int rc = copy ? 0 : UTIL_ENOMEM;

	for (tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && rc == 0;
	     tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':');
		int cat;

		if (!colon) {
			rc = util_err_set(err, errlen, UTIL_EINVAL,
					  "list \"%s\": want category:path", tok);
			break;
		}
		*colon = '\0';
		cat = mod_category_parse(tok);
		if (cat < 0)
			rc = util_err_set(err, errlen, UTIL_EINVAL, "unknown list category \"%s\"",
					  tok);
		else
			rc = load_file(r, cat, colon + 1, err, errlen);
	}
	free(copy);
	return rc;
}

/* Builtin entries then the comma-separated extra ones, lower-cased. */
static int domain_list(char ***out, size_t *n, const char *const *builtin, unsigned nb,
		       const char *extra)
{
	size_t cap = nb + 1;
	char **v;

	for (const char *p = extra; p && *p; p++)
		cap += *p == ',';
	v = calloc(cap, sizeof(*v));
	if (!v)
		return UTIL_ENOMEM;
	*out = v;
	for (unsigned i = 0; i < nb; i++)
		if (!(v[(*n)++] = strdup(builtin[i])))
			return UTIL_ENOMEM;
	while (extra && *extra) {
		size_t len = strcspn(extra, ",");

		if (len && !(v[*n] = strndup(extra, len)))
			return UTIL_ENOMEM;
		if (len) {
			for (char *c = v[*n]; *c; c++)
				*c = (char)tolower((unsigned char)*c);
			(*n)++;
		}
		extra += len + (extra[len] == ',');
	}
	return 0;
}

static int build_text(struct mod_rules *r, char *err, size_t errlen)
{
	r->lexicon = text_lexicon_new(true);
	if (!r->lexicon)
		return util_err_set(err, errlen, UTIL_ENOMEM, "lexicon: out of memory");
	r->stopwords = text_stopwords_new(NULL, err, errlen);
	if (!r->stopwords)
		return UTIL_EIO;
	r->stemmer = text_stemmer_new(NULL, NULL, TEXT_STEM_CONFIX, err, errlen);
	if (!r->stemmer)
		return UTIL_EIO;
	r->an.lexicon = r->lexicon;
	r->an.stopwords = r->stopwords;
	r->an.stemmer = r->stemmer;
	r->an.flags = TEXT_AN_HTML;
	r->matcher = text_matcher_new(&r->an);
	if (!r->matcher)
		return util_err_set(err, errlen, UTIL_ENOMEM, "matcher: out of memory");
	return 0;
}

struct mod_rules *mod_rules_new(const char *lists, const char *allow, const char *deny,
				char *err, size_t errlen)
{
	struct mod_rules *r = calloc(1, sizeof(*r));
	int rc;

	if (!r)
		return NULL;
	r->refs = 1;
	rc = build_text(r, err, errlen);
	for (unsigned i = 0; rc == 0 && i < mod_builtin_patterns_count; i++) {
		const struct mod_builtin_pattern *p = &mod_builtin_patterns[i];

		rc = add_pattern(r, p->pattern, strlen(p->pattern), p->category, p->weight);
	}
	if (rc == 0 && lists && *lists)
		rc = load_files(r, lists, err, errlen);
	if (rc == 0)
		rc = text_matcher_compile(r->matcher, err, errlen);
	if (rc == 0)
		rc = domain_list(&r->allow, &r->nallow, mod_builtin_allow, mod_builtin_allow_count,
				 allow);
	if (rc == 0)
		rc = domain_list(&r->deny, &r->ndeny, mod_builtin_deny, mod_builtin_deny_count,
				 deny);
	if (rc != 0) {
		if (rc == UTIL_ENOMEM)
			util_err_set(err, errlen, rc, "rules: out of memory");
		mod_rules_free(r);
		return NULL;
	}
	return r;
}

void mod_rules_free(struct mod_rules *r)
{
	if (!r)
		return;
	text_matcher_free(r->matcher);
	text_stemmer_free(r->stemmer);
	text_stopwords_free(r->stopwords);
	text_lexicon_free(r->lexicon);
	for (size_t i = 0; r->allow && i < r->nallow; i++)
		free(r->allow[i]);
	for (size_t i = 0; r->deny && i < r->ndeny; i++)
		free(r->deny[i]);
	free(r->allow);
	free(r->deny);
	free(r);
}
