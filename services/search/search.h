/*
 * services/search/search.h - the search service's internal API: settings,
 * the Indonesian text pipeline for documents and queries, cursors, the
 * indexer (kim.content.published.v1 consumer), the ContentIndexed announcer,
 * the query cache, the HTTP workers, reindexing, and the app wiring.
 *
 * Everything here is built into the search_core library, which the binary,
 * the tests, the benchmark and `simpulctl search reindex` link.
 */
#ifndef SEARCH_SEARCH_H
#define SEARCH_SEARCH_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "text/analyze.h"
#include "util/buf.h"

struct db_conn;
struct cache;
struct metrics_registry;
struct metrics_counter;
struct metrics_gauge;
struct metrics_histogram;

/* ---- settings (search_config.c) ---- */

struct search_config {
	char *bind;
	int64_t port, threads, workers, queue_max;
	char *pg_url, *redis_host, *kafka_brokers, *log_level, *group;
	int64_t redis_port;
	bool migrate, consume;
	int64_t statement_timeout_ms, cache_ttl_ms, shutdown_grace_ms;
	int64_t max_query_bytes, max_limit, rank_window;
	int64_t count_limit; /* total/facets count at most this many matches (0: all) */
	char *cursor_key; /* secret: HMAC key of pagination cursors */
	char *lexicon;    /* optional extra colloquial lexicon CSV ("" none) */
};

/* Fills cfg from the environment; all problems listed in err. 0 or UTIL_EINVAL. */
int search_config_load(struct search_config *cfg, char *err, size_t errlen);
void search_config_release(struct search_config *cfg);
void search_config_log(struct search_config *cfg);
void search_config_help(void);

/* ---- the text pipeline (textdoc.c) ---- */

/* Lexicon, stopwords, stemmer and the analyzer over them; read-only once built. */
struct search_text {
	struct text_lexicon *lexicon;
	struct text_stopwords *stopwords;
	struct text_stemmer *stemmer;
	struct text_analyzer an;
};

/* Builds the pipeline (lexicon_path NULL or "" = built-in table only).
 * Heap object or NULL with err set. */
struct search_text *search_text_new(const char *lexicon_path, char *err, size_t errlen);
void search_text_free(struct search_text *t);

/* Largest body analysed for the index and for snippets, bytes. */
#define SEARCH_MAX_DOC_BYTES (1024 * 1024 + 4096)

/*
 * Analyses title and body into a tsvector literal appended to tsv (lexemes
 * are libs/text stems; title terms weight A at positions 1.., body terms
 * weight D after a gap) and the SimHash of the body (of the title when the
 * body has no feature). wk must accept SEARCH_MAX_DOC_BYTES.
 * Returns 0, UTIL_ETOOBIG (input too large) or UTIL_ENOMEM.
 */
__attribute__((warn_unused_result)) int search_doc_build(const struct text_analyzer *an,
							 struct text_work *wk, const char *title,
							 size_t tlen, const char *body, size_t blen,
							 struct util_buf *tsv, uint64_t *simhash);

/* Appends lexeme w[0..len) quoted for a tsvector/tsquery literal. */
__attribute__((warn_unused_result)) int search_lexeme_quote(struct util_buf *b, const char *w,
							    size_t len);

/* ---- queries (query_parse.c) ---- */

#define SEARCH_HL_MAX 32
#define SEARCH_STEM_MAX 64

/* Stems to highlight (positive terms of the query). */
struct search_hl {
	size_t n;
	char stem[SEARCH_HL_MAX][SEARCH_STEM_MAX + 1];
};

struct search_parsed {
	bool has_text;    /* some searchable term survived analysis */
	bool only_stop;   /* the query had words, all of them stopwords */
	size_t nterms;
	struct search_hl hl;
};

/*
 * Parses a user query: words (ANDed), "quoted phrases", -exclusions (of a
 * word or a phrase) and OR between two positive items. Every word goes
 * through the same analyzer as documents. Writes a tsquery literal into tsq
 * (empty when has_text is false). Returns 0 or UTIL_EINVAL with a message
 * for the user in err (unbalanced quote, dangling OR, too many terms, an
 * exclusion only, invalid UTF-8 or control characters), UTIL_ENOMEM.
 */
__attribute__((warn_unused_result)) int search_query_parse(const struct text_analyzer *an,
							   struct text_work *wk, const char *q,
							   size_t len, struct util_buf *tsq,
							   struct search_parsed *out, char *err,
							   size_t errlen);

/* ---- snippets (snippet.c) ---- */

/*
 * Adds to obj a "<name>" object {"text": excerpt, "highlights": [[s,e],...]}
 * where s/e are byte offsets into text of the words whose stem is in hl.
 * The excerpt is the window of about max_words words with the most hits
 * (the start when there is none), cut at word boundaries.
 * Returns 0 or UTIL_ENOMEM / UTIL_ETOOBIG.
 */
struct json_t;
__attribute__((warn_unused_result)) int search_snippet(const struct text_analyzer *an,
						       struct text_work *wk, const char *text,
						       size_t len, const struct search_hl *hl,
						       size_t max_words, struct json_t *obj,
						       const char *name);

/* ---- cursors (cursor.c) ---- */

#define SEARCH_CURSOR_MAX 384

struct search_cursor {
	char sort;                 /* 'r' relevance, 'd' date */
	double score;              /* relevance sort key */
	char published_at[40];     /* date sort key, PostgreSQL timestamptz text */
	char id[37];               /* tie breaker */
	int64_t now_ms;            /* the recency reference of the first page */
	char qhash[17];            /* 16 hex chars of the request's hash */
};

/* Encodes and signs (HMAC-SHA256 with key) c into out (cap bytes).
 * 0 or UTIL_ETOOBIG. */
__attribute__((warn_unused_result)) int search_cursor_encode(const char *key,
							     const struct search_cursor *c,
							     char *out, size_t cap);
/* Verifies and decodes s. 0 or UTIL_EINVAL (malformed, bad signature). */
__attribute__((warn_unused_result)) int search_cursor_decode(const char *key, const char *s,
							     struct search_cursor *c);

/* ---- requests (request.c) ---- */

#define SEARCH_MAX_TYPES 7
#define SEARCH_MAX_TAGS 10
#define SEARCH_TAG_MAX 64

struct search_request {
	const char *q;           /* borrowed from the HTTP request */
	char region[16];         /* prefix, "" = all */
	char types[SEARCH_MAX_TYPES][12];
	size_t ntypes;
	char kim[37];
	char tags[SEARCH_MAX_TAGS][SEARCH_TAG_MAX + 1];
	size_t ntags;
	char from[40], to[40];   /* timestamptz text or "" */
	char sort;               /* 'r' or 'd' */
	int limit;
	int facet_level;         /* 1..4, 0 = no facets */
	bool has_cursor;
	struct search_cursor cursor;
	char qhash[17];          /* hash of everything above but the cursor */
};

/*
 * Reads and validates the query arguments of GET /v1/search through get
 * (e.g. http_request_query). On UTIL_EINVAL, err holds the message and
 * *field the argument's name.
 */
typedef const char *(*search_arg_fn)(void *ud, const char *name);
__attribute__((warn_unused_result)) int search_request_parse(struct search_request *r,
							     search_arg_fn get, void *ud,
							     const struct search_config *cfg,
							     const char **field, char *err,
							     size_t errlen);

/* True if s is a Kemendagri region code or prefix ("35", "35.07", ...). */
bool search_region_valid(const char *s);
/* Level (1..4) of a valid region code. */
int search_region_level(const char *s);

/* ---- metrics (app.c) ---- */

struct search_metrics {
	struct metrics_histogram *index_lag;
	struct metrics_counter *indexed;
	struct metrics_gauge *backlog;
	struct metrics_gauge *announce_backlog;
	struct metrics_histogram *query_seconds;
	struct metrics_counter *cache;
	struct metrics_counter *announced;
};

void search_metrics_init(struct search_metrics *m, struct metrics_registry *reg);

/* ---- query cache (qcache.c) ---- */

/*
 * Cache keys and invalidation: every region prefix P has a generation key
 * in Redis ("search:gen:<P>", "search:gen:*" for the whole country) that is
 * overwritten whenever a document lands in or leaves P's subtree. A cached
 * answer's key hashes the request together with the generation of its
 * region filter and the index generation, so new content in scope makes
 * the old entry unreachable at once; entries expire after the TTL anyway.
 */
void search_qcache_bump(struct cache *c, const char *region_code, int64_t seq);
/* Key for a request into key[80]; false when Redis cannot be asked (bypass). */
bool search_qcache_key(struct cache *c, const char *region_prefix, int64_t index_gen,
		       const char *request_hash, char key[80]);

/* ---- indexer (indexer.c) ---- */

struct search_indexer;

/* What applying one ContentPublished did. */
enum search_apply {
	SEARCH_APPLIED_UPSERT = 1,
	SEARCH_APPLIED_WITHDRAW = 2,
	SEARCH_APPLIED_STALE = 3, /* same or older version already there: nothing changed */
};

/*
 * Applies one packed ContentPublished to the store with c (idempotent:
 * keyed by content id, only a newer version, or a withdrawal of the same
 * version, changes anything). *result, *seq and region (32 bytes: the
 * item's region code, then a space and the previous one if it moved) tell
 * what happened. Returns 0, UTIL_EINVAL (poison: bad encoding or fields),
 * UTIL_EUNAVAIL (PostgreSQL down) or another UTIL_E*.
 */
__attribute__((warn_unused_result)) int
search_index_apply(struct db_conn *c, const struct text_analyzer *an, struct text_work *wk,
		   const void *data, size_t len, enum search_apply *result, int64_t *seq,
		   char region[32], int64_t *published_at_ms, char *err, size_t errlen);

struct search_indexer *search_indexer_new(const struct search_config *cfg,
					  const struct search_text *text, struct cache *cache,
					  struct search_metrics *m, char *err, size_t errlen);
/* Runs the consumer loop on its own thread. 0 or UTIL_EIO. */
int search_indexer_start(struct search_indexer *ix);
/* Called after each applied change (e.g. to wake the announcer). */
void search_indexer_set_notify(struct search_indexer *ix, void (*fn)(void *), void *ud);
void search_indexer_stop(struct search_indexer *ix);
void search_indexer_free(struct search_indexer *ix);

/* ---- announcer (announce.c): ContentIndexed from the store's state ---- */

struct search_announcer;

struct search_announcer *search_announcer_new(const struct search_config *cfg,
					      struct search_metrics *m, char *err,
					      size_t errlen);
int search_announcer_start(struct search_announcer *a);
void search_announcer_wake(void *a);
/* The index generation last read from simpul.search_state (cache keys). */
int64_t search_announcer_generation(struct search_announcer *a);
bool search_announcer_kafka_ready(struct search_announcer *a);
void search_announcer_stop(struct search_announcer *a);
void search_announcer_free(struct search_announcer *a);

/* Deterministic event id (UUID form) of ContentIndexed(id, version, removed). */
void search_indexed_event_id(const char *content_id, int version, bool removed, char out[37]);

/* ---- HTTP (routes.c, search_sql.c, similar.c) ---- */

struct search_app;

/* Runs GET /v1/search for r; the JSON answer goes to *out (caller decrefs).
 * Returns the HTTP status; on >= 400, *code and err hold the error. */
int search_run(struct search_app *app, struct db_conn *c, struct text_work *wk,
	       const struct search_request *r, struct json_t **out, const char **code,
	       char *err, size_t errlen);
/* GET /v1/content/{id}/similar. Same contract. */
int search_similar(struct search_app *app, struct db_conn *c, const char *id, int limit,
		   struct json_t **out, const char **code, char *err, size_t errlen);

struct search_workers;
struct search_workers *search_workers_new(struct search_app *app, char *err, size_t errlen);
void search_workers_free(struct search_workers *w);
bool search_workers_db_up(struct search_workers *w);
/* Route table for the HTTP server; returns the count. */
size_t search_routes(struct search_app *app, void *routes_out, size_t cap);

/* ---- reindex (reindex.c) ---- */

struct search_reindex_stats {
	int64_t docs, delta, generation;
	double seconds;
};

/*
 * Rebuilds simpul.search_docs from its own stored documents with the current
 * text pipeline: copies into simpul.search_docs_build outside any long lock,
 * builds its indexes, then in one short transaction (EXCLUSIVE lock: reads go
 * on, writers wait) re-applies rows changed meanwhile and swaps the tables by
 * renaming. Queries are served throughout. 0 or UTIL_E* with err set.
 */
__attribute__((warn_unused_result)) int search_reindex(const char *pg_url,
						       const struct search_text *text,
						       struct search_reindex_stats *st, char *err,
						       size_t errlen);

/* ---- app (app.c) ---- */

struct search_app {
	const struct search_config *cfg;
	const char *docs_table; /* NULL: simpul.search_docs (the benchmark sets its own) */
	struct metrics_registry *reg;
	struct search_metrics m;
	struct search_text *text;
	struct cache *cache;
	struct search_workers *workers;
	struct search_indexer *indexer;
	struct search_announcer *announcer;
	struct http_server *http;
};

__attribute__((warn_unused_result)) int search_app_start(struct search_app *app,
							 const struct search_config *cfg,
							 char *err, size_t errlen);
int search_app_port(struct search_app *app);
void search_app_stop(struct search_app *app);

#endif
