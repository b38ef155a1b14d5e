/*
 * cmd_search.c - `simpulctl search reindex`: runs search_reindex() of the
 * search service's core (services/search/reindex.c) with the same text
 * pipeline the service uses, and prints what it did.
 */
#include <stdio.h>
#include <string.h>

#include "cmd_search.h"
#include "search.h"

static int reindex(const struct simpulctl_ctx *ctx, const char *lexicon)
{
	struct search_reindex_stats st;
	struct search_text *text;
	char err[1024];
	int rc;

	text = search_text_new(lexicon, err, sizeof(err));
	if (!text) {
		fprintf(stderr, "simpulctl: search reindex: %s\n", err);
		return SIMPULCTL_FAIL;
	}
	rc = search_reindex(ctx->pg_url, text, &st, err, sizeof(err));
	search_text_free(text);
	if (rc != 0) {
		fprintf(stderr, "simpulctl: search reindex: %s\n", err);
		return SIMPULCTL_FAIL;
	}
	printf("reindexed docs=%lld caught_up=%lld generation=%lld seconds=%.2f\n",
	       (long long)st.docs, (long long)st.delta, (long long)st.generation, st.seconds);
	return SIMPULCTL_OK;
}

int simpulctl_cmd_search(const struct simpulctl_ctx *ctx, int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "reindex"))
		return reindex(ctx, NULL);
	if (argc == 4 && !strcmp(argv[1], "reindex") && !strcmp(argv[2], "--lexicon"))
		return reindex(ctx, argv[3]);
	fprintf(stderr, "usage: simpulctl search reindex [--lexicon PATH]\n");
	return SIMPULCTL_USAGE;
}
