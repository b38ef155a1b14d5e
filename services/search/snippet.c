/*
 * services/search/snippet.c - highlighted excerpts. The text is analysed
 * again with the query's pipeline; words whose stem the query asked for
 * are marked with their byte offsets (libs/text keeps offsets into the
 * original text), and the excerpt is the window of words with most marks.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "search.h"
#include "util/err.h"

#define SNIPPET_SCAN_MAX (16 * 1024) /* only the start of long bodies is scanned */
#define ELLIPSIS "\xe2\x80\xa6"      /* U+2026 */

static bool is_hit(const struct text_term *t, const struct search_hl *hl)
{
	const char *w = t->stem;
	size_t len = t->stem_len;

	if (t->stop)
		return false;
	if (t->type == TEXT_TOK_HASHTAG && t->norm_len > 1) {
		w = t->norm + 1;
		len = t->norm_len - 1;
	} else if (t->type != TEXT_TOK_WORD && t->type != TEXT_TOK_NUMBER) {
		return false;
	}
	for (size_t i = 0; i < hl->n; i++)
		if (strlen(hl->stem[i]) == len && memcmp(hl->stem[i], w, len) == 0)
			return true;
	return false;
}

/* Start of the window of w terms with the most hits. */
static size_t best_window(const bool *hit, size_t n, size_t w)
{
	size_t best = 0, cur = 0, best_at = 0;

	for (size_t i = 0; i < n; i++) {
		cur += hit[i];
		if (i >= w)
			cur -= hit[i - w];
		if (cur > best) {
			best = cur;
			best_at = i + 1 >= w ? i + 1 - w : 0;
		}
	}
	return best_at;
}

static int build(const char *text, size_t len, const struct text_term *t, size_t n,
		 const bool *hit, size_t from, size_t to, json_t *obj, const char *name)
{
	json_t *o = json_object(), *hls = json_array();
	struct util_buf b;
	/* whole text at either end when the window reaches it */
	size_t s = from == 0 ? 0 : t[from].orig_start, e = to == n ? len : t[to - 1].orig_end;
	size_t base, last_end = 0;
	int rc = 0;

	util_buf_init(&b, 0);
	if (!o || !hls)
		rc = UTIL_ENOMEM;
	if (rc == 0 && s > 0)
		rc = util_buf_append_str(&b, ELLIPSIS " ");
	base = b.len;
	if (rc == 0)
		rc = util_buf_append(&b, text + s, e - s);
	if (rc == 0 && e < len)
		rc = util_buf_append_str(&b, " " ELLIPSIS);
	for (size_t i = from; i < to && rc == 0; i++) {
		if (!hit[i] || t[i].orig_end <= last_end)
			continue;
		last_end = t[i].orig_end;
		if (json_array_append_new(hls, json_pack("[II]",
							 (json_int_t)(base + t[i].orig_start - s),
							 (json_int_t)(base + t[i].orig_end - s))))
			rc = UTIL_ENOMEM;
	}
	if (rc == 0 && (json_object_set_new(o, "text", json_stringn(b.data ? b.data : "", b.len)) ||
			json_object_set(o, "highlights", hls) || json_object_set(obj, name, o)))
		rc = UTIL_ENOMEM;
	json_decref(hls);
	json_decref(o);
	util_buf_release(&b);
	return rc;
}

int search_snippet(const struct text_analyzer *an, struct text_work *wk, const char *text,
		   size_t len, const struct search_hl *hl, size_t max_words, json_t *obj,
		   const char *name)
{
	const struct text_term *t;
	size_t n, from, to;
	bool *hit;
	int rc;

	if (len > SNIPPET_SCAN_MAX)
		len = SNIPPET_SCAN_MAX;
	rc = text_analyze(an, wk, text, len, &t, &n);
	if (rc != 0)
		return rc;
	if (n == 0)
		return json_object_set_new(obj, name, json_pack("{s:s,s:[]}", "text", "",
								"highlights")) ? UTIL_ENOMEM : 0;
	hit = calloc(n, sizeof(*hit));
	if (!hit)
		return UTIL_ENOMEM;
	for (size_t i = 0; i < n; i++)
		hit[i] = is_hit(&t[i], hl);
	from = n > max_words ? best_window(hit, n, max_words) : 0;
	to = from + max_words < n ? from + max_words : n;
	rc = build(text, len, t, n, hit, from, to, obj, name);
	free(hit);
	return rc;
}
