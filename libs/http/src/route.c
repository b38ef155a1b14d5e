/*
 * http/src/route.c - route patterns: compile "/v1/content/{id}" into
 * segments and match request paths, most literal segments first.
 */
#include "http_internal.h"
#include "util/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool seg_is_param(const char *s)
{
	size_t n = strlen(s);

	return n >= 3 && s[0] == '{' && s[n - 1] == '}';
}

/* Splits path at '/' into segs (pointing into buf); -1 if too many. */
static int split(char *buf, char **segs)
{
	int n = 0;
	char *p = buf;

	if (*p == '/')
		p++;
	for (;;) {
		char *slash = strchr(p, '/');

		if (n == HTTP_MAX_SEGS)
			return -1;
		segs[n++] = p;
		if (!slash)
			break;
		*slash = '\0';
		p = slash + 1;
	}
	return n;
}

static bool param_name_ok(const char *seg)
{
	size_t i, n = strlen(seg);

	for (i = 1; i + 1 < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", seg[i]))
			return false;
	return true;
}

int http_route_compile(struct http_route_int *r, const struct http_route *src, char *err,
		       size_t errlen)
{
	char *buf = NULL, *segs[HTTP_MAX_SEGS];
	size_t nparams = 0;
	int i, n, rc = UTIL_EINVAL;

	memset(r, 0, sizeof(*r));
	if (!src->method || !*src->method || !src->pattern || src->pattern[0] != '/' || !src->fn)
		return util_err_set(err, errlen, UTIL_EINVAL, "route needs method, '/' pattern, fn");
	buf = strdup(src->pattern);
	r->method = strdup(src->method);
	r->pattern = strdup(src->pattern);
	if (!buf || !r->method || !r->pattern) {
		rc = util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
		goto out;
	}
	n = split(buf, segs);
	if (n < 0) {
		util_err_set(err, errlen, rc, "pattern \"%s\" has too many segments", src->pattern);
		goto out;
	}
	for (i = 0; i < n; i++) {
		bool param = seg_is_param(segs[i]);

		if ((param && !param_name_ok(segs[i])) || (!param && strchr(segs[i], '{'))) {
			util_err_set(err, errlen, rc, "pattern \"%s\": bad segment \"%s\"",
				     src->pattern, segs[i]);
			goto out;
		}
		if (param && ++nparams > HTTP_MAX_PARAMS) {
			util_err_set(err, errlen, rc, "pattern \"%s\": too many params",
				     src->pattern);
			goto out;
		}
		r->segs[i] = strdup(segs[i]);
		if (!r->segs[i]) {
			rc = util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
			goto out;
		}
		r->nsegs = (size_t)i + 1;
		r->nliteral += !param;
	}
	r->fn = src->fn;
	r->ud = src->ud;
	r->max_body = src->max_body;
	rc = 0;
out:
	free(buf);
	if (rc)
		http_route_release(r);
	return rc;
}

void http_route_release(struct http_route_int *r)
{
	size_t i;

	for (i = 0; i < r->nsegs; i++)
		free(r->segs[i]);
	free(r->method);
	free(r->pattern);
	memset(r, 0, sizeof(*r));
}

static bool path_matches(const struct http_route_int *r, char **segs, size_t n)
{
	size_t i;

	if (r->nsegs != n)
		return false;
	for (i = 0; i < n; i++) {
		if (seg_is_param(r->segs[i]) ? segs[i][0] == '\0' : strcmp(r->segs[i], segs[i]))
			return false;
	}
	return true;
}

static bool method_matches(const struct http_route_int *r, const char *method)
{
	return !strcmp(r->method, method) ||
	       (!strcmp(method, "HEAD") && !strcmp(r->method, "GET"));
}

/* Appends name\0value\0 for each {param} of r. */
static void collect_params(const struct http_route_int *r, char **segs, struct util_buf *params,
			   size_t *nparams)
{
	size_t i;

	for (i = 0; i < r->nsegs; i++) {
		const char *s = r->segs[i];

		if (!seg_is_param(s))
			continue;
		/* The store is capped far above any path MHD accepts; a
		 * failure here only loses the param (accessor returns NULL). */
		if (util_buf_append(params, s + 1, strlen(s) - 2) ||
		    util_buf_append(params, "", 1) ||
		    util_buf_append(params, segs[i], strlen(segs[i]) + 1))
			return;
		(*nparams)++;
	}
}

const struct http_route_int *http_route_find(const struct http_route_int *routes, size_t n,
					     const char *method, const char *path,
					     const struct http_route_int **path_match,
					     struct util_buf *params, size_t *nparams)
{
	const struct http_route_int *best = NULL, *hit = NULL;
	char *buf, *segs[HTTP_MAX_SEGS];
	int nsegs;
	size_t i;

	*path_match = NULL;
	buf = strdup(path);
	if (!buf)
		return NULL;
	nsegs = split(buf, segs);
	for (i = 0; nsegs > 0 && i < n; i++) {
		if (!path_matches(&routes[i], segs, (size_t)nsegs))
			continue;
		if (!best || routes[i].nliteral > best->nliteral)
			best = &routes[i];
	}
	/* The most literal pattern wins; then its first route with this method. */
	for (i = 0; best && i < n; i++) {
		if (!strcmp(routes[i].pattern, best->pattern) && method_matches(&routes[i], method)) {
			hit = &routes[i];
			break;
		}
	}
	if (hit)
		collect_params(hit, segs, params, nparams);
	else
		*path_match = best;
	free(buf);
	return hit;
}

void http_route_allow(const struct http_route_int *routes, size_t n,
		      const struct http_route_int *path_match, char *out, size_t outlen)
{
	size_t i, len = 0;

	out[0] = '\0';
	for (i = 0; i < n && len < outlen; i++) {
		if (strcmp(routes[i].pattern, path_match->pattern))
			continue;
		len += (size_t)snprintf(out + len, outlen - len, "%s%s", len ? ", " : "",
					routes[i].method);
	}
}
