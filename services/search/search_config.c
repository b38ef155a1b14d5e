/*
 * services/search/search_config.c - the search service's settings: one
 * table row per environment variable (name, type, default, bounds, help).
 */
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "search.h"

#define ITEMS(cfg)                                                                                 \
	{                                                                                          \
		{ "SIMPUL_SEARCH_BIND", CONFIG_STRING, "127.0.0.1", 0, 64, false, &(cfg)->bind,    \
		  "address to listen on" },                                                        \
		{ "SIMPUL_SEARCH_PORT", CONFIG_INT, "8083", 0, 65535, false, &(cfg)->port,         \
		  "HTTP port (0: any free port, logged at start)" },                               \
		{ "SIMPUL_SEARCH_THREADS", CONFIG_INT, "2", 1, 64, false, &(cfg)->threads,         \
		  "HTTP I/O threads" },                                                            \
		{ "SIMPUL_SEARCH_WORKERS", CONFIG_INT, "8", 1, 256, false, &(cfg)->workers,        \
		  "query workers (one PostgreSQL connection each)" },                              \
		{ "SIMPUL_SEARCH_QUEUE_MAX", CONFIG_INT, "1024", 1, 1000000, false,                \
		  &(cfg)->queue_max, "queued queries before 503 overloaded" },                     \
		{ "SIMPUL_PG_URL", CONFIG_STRING, "postgresql://simpul@127.0.0.1:55432/simpul", 1, \
		  1024, true, &(cfg)->pg_url, "PostgreSQL connection URI" },                        \
		{ "SIMPUL_REDIS_HOST", CONFIG_STRING, "127.0.0.1", 1, 255, false,                  \
		  &(cfg)->redis_host, "Redis host (query cache)" },                                \
		{ "SIMPUL_REDIS_PORT", CONFIG_INT, "56379", 1, 65535, false, &(cfg)->redis_port,   \
		  "Redis port" },                                                                  \
		{ "SIMPUL_KAFKA_BROKERS", CONFIG_STRING, "127.0.0.1:59092", 1, 1024, false,         \
		  &(cfg)->kafka_brokers, "Kafka bootstrap brokers" },                              \
		{ "SIMPUL_LOG_LEVEL", CONFIG_STRING, "info", 1, 16, false, &(cfg)->log_level,      \
		  "debug, info, warn or error" },                                                  \
		{ "SIMPUL_SEARCH_GROUP", CONFIG_STRING, "simpul-search", 1, 200, false,            \
		  &(cfg)->group, "Kafka consumer group" },                                         \
		{ "SIMPUL_SEARCH_CONSUME", CONFIG_BOOL, "on", 0, 0, false, &(cfg)->consume,        \
		  "consume kim.content.published.v1 and announce ContentIndexed" },               \
		{ "SIMPUL_SEARCH_MIGRATE", CONFIG_BOOL, "on", 0, 0, false, &(cfg)->migrate,        \
		  "apply database migrations at start" },                                          \
		{ "SIMPUL_SEARCH_STATEMENT_TIMEOUT", CONFIG_DURATION_MS, "2s", 10, 600000, false,  \
		  &(cfg)->statement_timeout_ms, "statement_timeout of query connections" },        \
		{ "SIMPUL_SEARCH_CACHE_TTL", CONFIG_DURATION_MS, "30s", 0, 86400000, false,       \
		  &(cfg)->cache_ttl_ms, "cached answers expire after this (0: no cache)" },        \
		{ "SIMPUL_SEARCH_MAX_QUERY_BYTES", CONFIG_INT, "256", 16, 4096, false,            \
		  &(cfg)->max_query_bytes, "longest q accepted (400 past it)" },                   \
		{ "SIMPUL_SEARCH_MAX_LIMIT", CONFIG_INT, "100", 1, 1000, false, &(cfg)->max_limit, \
		  "largest page size accepted (400 past it)" },                                    \
		{ "SIMPUL_SEARCH_RANK_WINDOW", CONFIG_INT, "2000", 100, 1000000, false,            \
		  &(cfg)->rank_window, "relevance ranks the N most recent matches" },              \
		{ "SIMPUL_SEARCH_COUNT_LIMIT", CONFIG_INT, "1000", 0, 100000000, false,            \
		  &(cfg)->count_limit, "total and facets count at most N matches (0: all)" },     \
		{ "SIMPUL_SEARCH_CURSOR_KEY", CONFIG_STRING, "simpul-dev-cursor-key", 8, 256,      \
		  true, &(cfg)->cursor_key, "HMAC key signing pagination cursors (set in prod)" }, \
		{ "SIMPUL_SEARCH_LEXICON", CONFIG_STRING, "", 0, 1024, false, &(cfg)->lexicon,     \
		  "extra colloquial lexicon CSV (colloquial-indonesian-lexicon format)" },        \
		{ "SIMPUL_SHUTDOWN_GRACE_MS", CONFIG_DURATION_MS, "10s", 0, 600000, false,         \
		  &(cfg)->shutdown_grace_ms, "SIGTERM: time for in-flight queries" },              \
	}

int search_config_load(struct search_config *cfg, char *err, size_t errlen)
{
	struct config_item items[] = ITEMS(cfg);

	memset(cfg, 0, sizeof(*cfg));
	return config_load(items, sizeof(items) / sizeof(items[0]), err, errlen);
}

void search_config_release(struct search_config *cfg)
{
	struct config_item items[] = ITEMS(cfg);

	config_release(items, sizeof(items) / sizeof(items[0]));
}

void search_config_log(struct search_config *cfg)
{
	struct config_item items[] = ITEMS(cfg);

	config_log(items, sizeof(items) / sizeof(items[0]));
}

void search_config_help(void)
{
	struct search_config cfg;
	struct config_item items[] = ITEMS(&cfg);

	config_print_help(items, sizeof(items) / sizeof(items[0]));
}
