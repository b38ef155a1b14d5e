/*
 * tests/fuzz/ingest_ndjson_fuzz.c - libFuzzer harness for the NDJSON batch
 * body of POST /v1/content:batch: the line splitter
 * (services/ingest/ndjson.c) and the per-line parse it feeds
 * (ingest_submission_parse, INGEST_FORM_BATCH_LINE), as the batch route
 * does: count first, then split into an array of that size.
 *
 * Invariants: the count is the same with and without an output array and
 * with a short one; every line lies inside the body, holds no newline, is
 * not blank, ends at a newline (one CR before it cut) or the body's end,
 * and line numbers strictly increase.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "ingest.h"

#define PARSE_LINES_MAX 64 /* lines parsed per input: keeps each run quick */

static bool blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return false;
	return true;
}

static void check_line(const char *body, size_t len, const struct ingest_line *ln,
		       size_t prev_lineno)
{
	const char *end = ln->ptr + ln->len, *stop = body + len;

	FUZZ_CHECK(ln->ptr >= body && ln->ptr + ln->len <= body + len, "line inside the body");
	FUZZ_CHECK(memchr(ln->ptr, '\n', ln->len) == NULL, "no newline inside a line");
	FUZZ_CHECK(!blank(ln->ptr, ln->len), "blank lines are skipped");
	if (end < stop && *end == '\r')
		end++; /* one trailing CR is cut */
	FUZZ_CHECK(end == stop || *end == '\n', "a line ends at a newline or the body's end");
	FUZZ_CHECK(ln->lineno > prev_lineno, "line numbers increase");
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const char *body = (const char *)data;
	size_t n = ingest_ndjson_split(body, size, NULL, 0), prev = 0;
	struct ingest_line *lines, shortl[2];

	FUZZ_CHECK(ingest_ndjson_split(body, size, shortl, 2) == n, "count ignores max");
	if (n == 0)
		return 0;
	lines = calloc(n, sizeof(*lines));
	if (!lines)
		return 0;
	FUZZ_CHECK(ingest_ndjson_split(body, size, lines, n) == n, "count is stable");
	for (size_t i = 0; i < n; i++) {
		check_line(body, size, &lines[i], prev);
		prev = lines[i].lineno;
		if (i < 2)
			FUZZ_CHECK(shortl[i].ptr == lines[i].ptr && shortl[i].len == lines[i].len,
				   "a short array gets the first lines");
	}
	for (size_t i = 0; i < n && i < PARSE_LINES_MAX; i++) {
		struct submission s;
		struct ingest_verr e;
		struct ingest_verr chk;

		if (ingest_submission_parse(lines[i].ptr, lines[i].len, INGEST_FORM_BATCH_LINE, &s,
					    &e) == 0)
			FUZZ_CHECK(ingest_submission_check(&s, &chk) == 0,
				   "an accepted line passes the field checks");
		else
			FUZZ_CHECK(e.status >= 400 && e.status < 500, "a line rejection is a 4xx");
		ingest_submission_release(&s);
	}
	free(lines);
	return 0;
}
