/*
 * services/ingest/ndjson.c - splitting an NDJSON body into its lines for
 * POST /v1/content:batch (line numbers are physical, blank lines skipped).
 */
#include <string.h>

#include "ingest.h"

static bool blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return false;
	return true;
}

size_t ingest_ndjson_split(const char *body, size_t len, struct ingest_line *out, size_t max)
{
	size_t total = 0, lineno = 0, pos = 0;

	while (pos < len) {
		const char *start = body + pos;
		const char *nl = memchr(start, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - start) : len - pos;

		lineno++;
		pos += n + (nl ? 1 : 0);
		if (blank(start, n))
			continue;
		if (n > 0 && start[n - 1] == '\r')
			n--;
		if (total < max) {
			out[total].ptr = start;
			out[total].len = n;
			out[total].lineno = lineno;
		}
		total++;
	}
	return total;
}
