/*
 * services/moderate/moderate.h - the moderation service's internal API,
 * shared by its source files, its tests, its benchmark and simpulctl's
 * moderation commands (never included by libraries).
 *
 * Flow: a consumer thread (pipeline.c) unpacks kim.content.submitted.v1 /
 * kim.registry.v1, scores the text (score.c: list matches through libs/text,
 * PII, links, spam shape, Bayes; nearby.c: near-duplicates and flooding in
 * Redis), picks approve/review/reject from the thresholds (policy.c) and
 * writes item + signals + audit + outbox rows in ONE statement (store.c):
 * a whole consumer batch at once (its Redis checks are three round trips),
 * or one message group-committed with other consumers' items (committer.c).
 * libs/outbox's relay (started in app.c) publishes simpul.moderation_outbox.
 * Human review is HTTP (review.c, routes.c).
 */
#ifndef MODERATE_MODERATE_H
#define MODERATE_MODERATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "text/analyze.h"
#include "text/match.h"

struct db_conn;
struct cache;

/* ---- configuration (mod_config.c) ---- */

struct mod_config {
	char *bind;
	int64_t port;
	int64_t threads;
	char *pg_url;
	char *redis_host;
	int64_t redis_port;
	char *kafka_brokers;
	char *log_level;
	bool migrate;
	int64_t consumers;
	int64_t batch_max;    /* messages per batch (1: one at a time) */
	int64_t batch_wait_ms; /* batch gathering time after its first message */
	char *group;          /* Kafka consumer group */
	char *offset_reset;   /* a new group starts at: earliest or latest */
	int64_t reload_ms;
	char *lists;          /* "category:path,..." extra list files */
	char *domains_allow;  /* comma-separated domains */
	char *domains_deny;
	int64_t bayes_min_learns;
	int64_t dup_window_ms;
	int64_t flood_per_min;
	int64_t flood_burst;
	int64_t claim_ttl_ms;
	int64_t db_pool;
	int64_t shutdown_grace_ms;
	int64_t outbox_retention_ms;
	bool relay;
};

__attribute__((warn_unused_result)) int mod_config_load(struct mod_config *cfg, char *err,
							size_t errlen);
void mod_config_release(struct mod_config *cfg);
void mod_config_log(struct mod_config *cfg);
void mod_config_help(void);

/* ---- word lists (lists.c) ---- */

enum mod_category {
	MOD_CAT_ABUSIVE = 0, /* insults and profanity */
	MOD_CAT_SARA,        /* hatred against ethnicity, religion, race, group */
	MOD_CAT_GAMBLING,    /* online-gambling promotion */
	MOD_CAT_PORN,
	MOD_CAT_HOAX,        /* known hoax phrases */
	MOD_CAT_COUNT
};

/* "abusive", "sara", "gambling", "porn", "hoax"; -1 when unknown. */
int mod_category_parse(const char *s);
/* The signal name of a category ("ABUSIVE_WORD", ...). */
const char *mod_category_signal(int cat);

/*
 * The rules: the text analyser (lexicon, stopwords, stemmer), the compiled
 * matcher with the starter lists plus extra files, and the domain lists.
 * Read-only once built; shared by every thread. Refcounted so a reload can
 * swap it while consumers still use the old one.
 */
struct mod_rules {
	struct text_analyzer an;
	struct text_lexicon *lexicon;
	struct text_stopwords *stopwords;
	struct text_stemmer *stemmer;
	struct text_matcher *matcher;
	char **allow;        /* domain suffixes, heap */
	size_t nallow;
	char **deny;
	size_t ndeny;
	size_t npatterns;
	int refs;            /* guarded by the owner's lock */
};

/*
 * Builds rules: the starter lists, then every "category:path" of lists
 * (comma-separated; NULL/"" none; a file holds one pattern per line, an
 * optional ",weight" or "\tweight" after it; '#' lines and an all-caps
 * first line are skipped), then the domain lists. stemmer may be shared
 * (borrowed, NULL: load the Debian dictionary, owned). NULL with err set.
 */
struct mod_rules *mod_rules_new(const char *lists, const char *allow, const char *deny,
				char *err, size_t errlen);
void mod_rules_free(struct mod_rules *r);

/* ---- Naive Bayes (bayes.c) ---- */

struct mod_bayes;

struct mod_bayes *mod_bayes_new(void);
void mod_bayes_free(struct mod_bayes *b);
/* Learns one document's features (the analysed terms on wk). bad: rejected. */
__attribute__((warn_unused_result)) int mod_bayes_learn_terms(struct mod_bayes *b,
							      const struct text_term *t,
							      size_t n, bool bad);
/* Adds counts for one feature (loading from PostgreSQL). */
__attribute__((warn_unused_result)) int mod_bayes_add(struct mod_bayes *b, const char *feature,
						      int64_t bad, int64_t good);
void mod_bayes_add_docs(struct mod_bayes *b, int64_t bad, int64_t good);
void mod_bayes_docs(const struct mod_bayes *b, int64_t *bad, int64_t *good);
/* P(bad | terms) in [0,1]; -1 when fewer than min_learns docs of either class. */
double mod_bayes_prob(const struct mod_bayes *b, const struct text_term *t, size_t n,
		      int64_t min_learns);
/* Calls fn for every feature (for saving). */
typedef int (*mod_bayes_each_fn)(void *ud, const char *feature, int64_t bad, int64_t good);
int mod_bayes_each(const struct mod_bayes *b, mod_bayes_each_fn fn, void *ud);
/* Features of one document (distinct), as the classifier sees them. */
typedef void (*mod_feature_fn)(void *ud, const char *f, size_t len);
void mod_bayes_features(const struct text_term *t, size_t n, mod_feature_fn fn, void *ud);

/* Loads the counts from simpul.moderation_bayes into a new model. */
__attribute__((warn_unused_result)) int mod_bayes_load(struct db_conn *db,
						       struct mod_bayes **out, char *err,
						       size_t errlen);
/* Adds b's counts to simpul.moderation_bayes (one transaction). */
__attribute__((warn_unused_result)) int mod_bayes_save_delta(struct db_conn *db,
							     const struct mod_bayes *b,
							     char *err, size_t errlen);

/* ---- PII (pii.c) ---- */

enum mod_pii_kind { MOD_PII_NIK = 1, MOD_PII_PHONE, MOD_PII_EMAIL };

struct mod_pii {
	enum mod_pii_kind kind;
	uint32_t start, end; /* bytes of the text */
};

/*
 * Region check for NIKs: true if the 6 digits "PPKKCC" name a kecamatan
 * (PP.KK.CC). NULL set: any province 11..99 with kab/kec != 00 passes.
 */
struct mod_regions;
struct mod_regions *mod_regions_new(void);
void mod_regions_free(struct mod_regions *r);
__attribute__((warn_unused_result)) int mod_regions_add(struct mod_regions *r, const char *code);
__attribute__((warn_unused_result)) int mod_regions_load(struct mod_regions *r,
							 struct db_conn *db, char *err,
							 size_t errlen);
size_t mod_regions_count(const struct mod_regions *r);

/* True if d[0..16) is a plausible NIK: region, DDMMYY birth date (+40 for
 * women), serial != 0000. */
bool mod_nik_valid(const char *d, const struct mod_regions *regions);

/* Finds NIKs, phone numbers and e-mail addresses in s[0..len) (any bytes).
 * Up to cap into out; returns the number found (capped). */
size_t mod_pii_find(const char *s, size_t len, const struct mod_regions *regions,
		    struct mod_pii *out, size_t cap);

/* Masks the found spans of s in place, keeping length: digits of NIKs and
 * phone numbers become '*' except the last 2; an e-mail keeps its first
 * character and its domain. */
void mod_pii_mask(char *s, size_t len, const struct mod_pii *p, size_t n);

/* ---- scoring (score.c) ---- */

#define MOD_MAX_SIGNALS 24
#define MOD_MAX_SPANS 8
#define MOD_SIGNAL_NAME 32

struct mod_span {
	uint8_t field; /* 0 title, 1 body */
	uint32_t start, end;
};

struct mod_signal {
	char name[MOD_SIGNAL_NAME];
	double score;
	char detail[160];
	struct mod_span spans[MOD_MAX_SPANS];
	size_t nspans;
};

struct mod_result {
	struct mod_signal sig[MOD_MAX_SIGNALS];
	size_t n;
	double total;
	uint64_t simhash;     /* of title + body; 0 when featureless */
	size_t nfeatures;
	char *masked_title;   /* heap, NUL-terminated, PII masked */
	char *masked_body;
};

void mod_result_release(struct mod_result *r);

/* Adds a signal (ignored past MOD_MAX_SIGNALS); returns it or NULL. */
struct mod_signal *mod_result_add(struct mod_result *r, const char *name, double score,
				  const char *detail_fmt, ...)
	__attribute__((format(printf, 4, 5)));

struct mod_score_ctx {
	const struct mod_rules *rules;
	const struct mod_bayes *bayes;     /* NULL: no classifier */
	const struct mod_regions *regions; /* NULL: loose NIK region check */
	int64_t bayes_min_learns;
};

/*
 * Scores title and body (any bytes; invalid UTF-8 is tolerated) into r
 * (zeroed first; release it). Every static signal: list categories, PII
 * (and the masked copies), links, spam shape, Bayes. Uses wk (one per
 * thread). 0, UTIL_ETOOBIG (over wk's cap) or UTIL_ENOMEM.
 */
__attribute__((warn_unused_result)) int mod_score(const struct mod_score_ctx *sc,
						  struct text_work *wk, const char *title,
						  size_t tlen, const char *body, size_t blen,
						  struct mod_result *r);

/* ---- thresholds (policy.c) ---- */

#define MOD_POLICY_MAX 4096

struct mod_threshold {
	char prefix[32];
	double review_at, reject_at;
};

struct mod_policy {
	struct mod_threshold t[MOD_POLICY_MAX];
	size_t n;
};

enum mod_decision { MOD_APPROVE = 1, MOD_REVIEW = 2, MOD_REJECT = 3 };

/* "approve", "review", "reject". */
const char *mod_decision_name(enum mod_decision d);

/* The longest prefix covering region (national '' default 5 / 15). */
void mod_policy_lookup(const struct mod_policy *p, const char *region, double *review_at,
		       double *reject_at);
enum mod_decision mod_policy_decide(const struct mod_policy *p, const char *region,
				    double total);
__attribute__((warn_unused_result)) int mod_policy_load(struct db_conn *db, struct mod_policy *p,
							char *err, size_t errlen);

/* ---- shared state reloaded without restart (state.c) ---- */

/*
 * Rules, classifier, thresholds and the region set, swapped whole by the
 * reloader under a write lock; consumers hold the read lock while scoring.
 * Reload: thresholds and classifier every reload_ms (the classifier only
 * when its document totals changed), lists when a list file changed or on
 * SIGHUP (mod_state_request_reload).
 */
struct mod_state {
	pthread_rwlock_t lock;
	struct mod_rules *rules;
	struct mod_bayes *bayes;
	struct mod_policy *policy;
	struct mod_regions *regions;
	int64_t bayes_docs;            /* bad + good of the loaded classifier */
	long long lists_sig;           /* mtimes of the list files */
	const struct mod_config *cfg;
	struct db_conn *db;            /* the reloader's own connection */
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stopping;
	volatile int reload_requested; /* SIGHUP */
};

/* What one message is scored with; valid between acquire and put. */
struct mod_snapshot {
	const struct mod_rules *rules;
	const struct mod_bayes *bayes;
	const struct mod_policy *policy;
	const struct mod_regions *regions;
};

/* Loads everything once (db: borrowed connection string from cfg). */
__attribute__((warn_unused_result)) int mod_state_init(struct mod_state *s,
						       const struct mod_config *cfg, char *err,
						       size_t errlen);
/* Starts the reloader thread. */
__attribute__((warn_unused_result)) int mod_state_start(struct mod_state *s);
void mod_state_release(struct mod_state *s);
/* Re-reads thresholds and classifier now; lists too when force_lists. */
__attribute__((warn_unused_result)) int mod_state_reload(struct mod_state *s, bool force_lists,
							 char *err, size_t errlen);
void mod_state_request_reload(struct mod_state *s);
void mod_state_acquire(struct mod_state *s, struct mod_snapshot *snap);
void mod_state_put(struct mod_state *s, struct mod_snapshot *snap);

/* ---- near-duplicates and flooding in Redis (nearby.c) ---- */

/* One item of a batch checked against Redis; strings borrowed. */
struct mod_nearby_item {
	const char *item_id;
	const char *kim_id, *author_id; /* "" or NULL: none */
	struct mod_result *r;           /* its simhash/nfeatures; signals added */
};

/*
 * For items[0..n) in order, as if checked one after the other: adds
 * NEAR_DUPLICATE when a fingerprint within TEXT_SIMHASH_NEAR bits of the
 * item's was seen for another item in the last window_ms (4 bands of 16
 * bits in Redis: any such pair shares a band; earlier items of the batch
 * count), then records the item's; adds FLOOD_KIM (or FLOOD_AUTHOR for an
 * item without KIM) when one KIM or author exceeds per_min (burst). Three
 * Redis round trips whatever n is. Redis down, also part-way: no
 * near-duplicate signal, flooding from libs/cache's in-process buckets;
 * never an error.
 */
void mod_nearby_check_many(struct cache *c, struct mod_nearby_item *items, size_t n,
			   int64_t window_ms, int64_t per_min, int64_t burst);

/* ---- the service (app.c) ---- */

struct mod_app;

__attribute__((warn_unused_result)) int mod_app_start(struct mod_app **out,
						      const struct mod_config *cfg, char *err,
						      size_t errlen);
int mod_app_port(const struct mod_app *a);
void mod_app_reload(struct mod_app *a);
void mod_app_stop(struct mod_app *a);

#endif
