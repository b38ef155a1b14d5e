/*
 * services/console/proxy_url.c - which console paths go where: the upstream
 * URL of a forwarded request (path re-encoded, only known query arguments
 * kept) and which upstream paths are streamed rather than buffered.
 */
#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "console.h"
#include "util/buf.h"
#include "util/err.h"

/*
 * Every argument the three APIs read (services/{moderate,report,search}).
 * libs/http exposes arguments by name only, and an allow-list also keeps
 * the console from passing through anything the APIs were never meant to see.
 */
const char *const console_proxy_query_names[] = {
	"q",	  "region", "type",	 "kim",	 "tags",  "from", "to",	 "sort",
	"limit",  "cursor", "facet_level", "signal", "min_age_s", "kind", "depth", "item",
	"moderator", "format", NULL};

static bool unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

/* Appends s percent-encoded; keep lists bytes left as they are ("/:" or ""). */
static int append_encoded(struct util_buf *b, const char *s, const char *keep)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		int rc = unreserved(*p) || (*keep && strchr(keep, *p))
				 ? util_buf_append(b, p, 1)
				 : util_buf_printf(b, "%%%02X", *p);

		if (rc)
			return rc;
	}
	return 0;
}

/* True if every segment of rest is non-empty and neither "." nor "..". */
static bool segments_ok(const char *rest)
{
	const char *s = rest;

	for (;;) {
		const char *slash = strchr(s, '/');
		size_t n = slash ? (size_t)(slash - s) : strlen(s);

		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		if (!slash)
			return true;
		s = slash + 1;
	}
}

int console_proxy_url(const struct console_upstream *u, const char *path,
		      const char *const *qnames, const char *const *qvalues, size_t nq, char *out,
		      size_t cap)
{
	char prefix[64];
	struct util_buf b;
	const char *rest;
	int rc;
	size_t plen = (size_t)snprintf(prefix, sizeof(prefix), "/api/%s/", u->name);

	if (plen >= sizeof(prefix) || strncmp(path, prefix, plen))
		return UTIL_EINVAL;
	rest = path + plen;
	if (!segments_ok(rest))
		return UTIL_EINVAL;
	util_buf_init(&b, cap - 1);
	rc = util_buf_printf(&b, "%s%s", u->base_url, u->base_path);
	if (!rc)
		rc = append_encoded(&b, rest, "/:");
	for (size_t i = 0, n = 0; !rc && i < nq; i++) {
		if (!qvalues[i])
			continue;
		rc = util_buf_append_str(&b, n++ ? "&" : "?");
		if (!rc)
			rc = append_encoded(&b, qnames[i], "");
		if (!rc)
			rc = util_buf_append_str(&b, "=");
		if (!rc)
			rc = append_encoded(&b, qvalues[i], "");
	}
	if (!rc)
		memcpy(out, b.data, b.len + 1);
	util_buf_release(&b);
	return rc;
}

bool console_proxy_streams(const char *upstream_path)
{
	size_t n = strlen(upstream_path);

	/* report: GET /v1/reports/export and /v1/reports/exports/{id}/file */
	return !strcmp(upstream_path, "/v1/reports/export") ||
	       (!strncmp(upstream_path, "/v1/reports/exports/", 20) && n > 25 &&
		!strcmp(upstream_path + n - 5, "/file"));
}

bool console_cookie_token(const char *cookie, char out[AUTH_TOKEN_LEN + 1])
{
	static const char name[] = CONSOLE_EXPORT_COOKIE "=";
	const char *p = cookie;

	while (p && *p) {
		while (*p == ' ' || *p == ';')
			p++;
		if (!strncmp(p, name, sizeof(name) - 1)) {
			const char *v = p + sizeof(name) - 1;
			size_t n = strcspn(v, "; ");

			if (n != AUTH_TOKEN_LEN)
				return false;
			memcpy(out, v, n);
			out[n] = '\0';
			return auth_token_wellformed(out);
		}
		p = strchr(p, ';');
	}
	return false;
}
