/*
 * articles.h - a realistic request-body mix for the ingest benchmark, drawn
 * from the id-news-clickid articles.csv (RFC 4180: quoted fields, doubled
 * quotes, embedded newlines).
 */
#ifndef BENCH_ARTICLES_H
#define BENCH_ARTICLES_H

#include <stddef.h>

/* One article, title and body already truncated to the API's limits. */
struct article {
	char *title;    /* owned, valid UTF-8, NUL-terminated */
	char *body;     /* owned, valid UTF-8, NUL-terminated */
	char *category; /* owned, lowercase ASCII-ish tag, may be "" */
};

struct article_set {
	struct article *items; /* owned array of n */
	size_t n;
};

/* Limits applied while loading (bytes, cut on a UTF-8 boundary, so they
 * hold whether the API counts bytes or characters). */
struct article_limits {
	size_t title_max;
	size_t body_max;
};

/*
 * Reads up to max_rows usable articles (non-empty title and content, valid
 * UTF-8) from the CSV at path. Returns 0 or a negative UTIL_E* code with
 * detail in err. On success the caller owns set and frees it with
 * article_set_release().
 */
__attribute__((warn_unused_result)) int article_set_load(struct article_set *set, const char *path,
							   size_t max_rows,
							   const struct article_limits *lim,
							   char *err, size_t errlen);

/* Frees everything set owns; set may be zeroed or partially filled. */
void article_set_release(struct article_set *set);

/*
 * Appends s as a JSON string literal (with the quotes) to a malloc'd buffer
 * *buf of length *len. Returns 0 or UTIL_ENOMEM. s must be valid UTF-8.
 */
__attribute__((warn_unused_result)) int article_json_str(char **buf, size_t *len, size_t *cap,
							   const char *s);

/* Appends the raw bytes of s (no quoting). Returns 0 or UTIL_ENOMEM. */
__attribute__((warn_unused_result)) int article_json_raw(char **buf, size_t *len, size_t *cap,
							   const char *s);

#endif
