/*
 * services/ingest/ingest_config.c - the ingest service's settings: one table
 * row per environment variable (name, type, default, bounds, help).
 */
#include <string.h>

#include "config/config.h"
#include "ingest.h"

#define ITEMS(cfg)                                                                                 \
	{                                                                                          \
		{ "SIMPUL_INGEST_BIND", CONFIG_STRING, "127.0.0.1", 0, 64, false, &(cfg)->bind,    \
		  "address to listen on" },                                                        \
		{ "SIMPUL_INGEST_PORT", CONFIG_INT, "8081", 0, 65535, false, &(cfg)->port,         \
		  "HTTP port (0: any free port, logged at start)" },                               \
		{ "SIMPUL_INGEST_THREADS", CONFIG_INT, "4", 1, 64, false, &(cfg)->threads,         \
		  "HTTP worker threads" },                                                         \
		{ "SIMPUL_PG_URL", CONFIG_STRING, "postgresql://simpul@127.0.0.1:55432/simpul", 1, \
		  1024, true, &(cfg)->pg_url, "PostgreSQL connection URI" },                        \
		{ "SIMPUL_REDIS_HOST", CONFIG_STRING, "127.0.0.1", 1, 255, false,                  \
		  &(cfg)->redis_host, "Redis host (rate limits)" },                                \
		{ "SIMPUL_REDIS_PORT", CONFIG_INT, "56379", 1, 65535, false, &(cfg)->redis_port,   \
		  "Redis port" },                                                                  \
		{ "SIMPUL_KAFKA_BROKERS", CONFIG_STRING, "127.0.0.1:59092", 1, 1024, false,         \
		  &(cfg)->kafka_brokers, "Kafka bootstrap brokers" },                              \
		{ "SIMPUL_LOG_LEVEL", CONFIG_STRING, "info", 1, 16, false, &(cfg)->log_level,      \
		  "debug, info, warn or error" },                                                  \
		{ "SIMPUL_INGEST_MAX_BODY", CONFIG_SIZE, "1m", 1024, 64 << 20, false,              \
		  &(cfg)->max_body, "body cap of single requests (413 past it)" },                 \
		{ "SIMPUL_INGEST_BATCH_MAX_ITEMS", CONFIG_INT, "500", 1, 100000, false,           \
		  &(cfg)->batch_max_items, "lines per POST /v1/content:batch (413 past it)" },     \
		{ "SIMPUL_INGEST_BATCH_MAX_BODY", CONFIG_SIZE, "16m", 1024, 1 << 30, false,         \
		  &(cfg)->batch_max_body, "body cap of the batch endpoint" },                      \
		{ "SIMPUL_INGEST_COMMIT_WINDOW_MS", CONFIG_DURATION_MS, "2", 0, 1000, false,       \
		  &(cfg)->commit_window_ms,                                                        \
		  "group commit: while another group is being written, wait up to this long "     \
		  "after the first item for more (an idle database gets items at once)" },        \
		{ "SIMPUL_INGEST_COMMIT_MAX_ITEMS", CONFIG_INT, "512", 1, 10000, false,            \
		  &(cfg)->commit_max_items, "group commit: items per transaction" },               \
		{ "SIMPUL_INGEST_COMMITTERS", CONFIG_INT, "2", 1, 32, false, &(cfg)->committers,   \
		  "committer threads (one PostgreSQL connection each)" },                          \
		{ "SIMPUL_INGEST_QUEUE_MAX", CONFIG_INT, "20000", 1, 10000000, false,              \
		  &(cfg)->queue_max, "queued items before 503 overloaded" },                       \
		{ "SIMPUL_INGEST_MAX_IN_FLIGHT", CONFIG_INT, "64", 1, 1000000, false,            \
		  &(cfg)->max_in_flight,                                                           \
		  "HTTP requests in progress past which a write is refused at once with 503 "      \
		  "overloaded" },                                                                  \
		{ "SIMPUL_INGEST_QUEUE_MAX_WAIT_MS", CONFIG_DURATION_MS, "500", 0, 600000, false,  \
		  &(cfg)->queue_max_wait_ms,                                                       \
		  "503 overloaded while the oldest queued item has waited longer than this "       \
		  "(0: only SIMPUL_INGEST_QUEUE_MAX bounds the queue)" },                          \
		{ "SIMPUL_INGEST_DB_READERS", CONFIG_INT, "4", 1, 64, false, &(cfg)->db_readers,   \
		  "PostgreSQL connections for reads and token look-ups" },                         \
		{ "SIMPUL_ASPIRASI_RATE_PER_MIN", CONFIG_INT, "10", 1, 1000000, false,             \
		  &(cfg)->aspirasi_rate_per_min, "POST /v1/aspirasi: tokens per minute per address" }, \
		{ "SIMPUL_ASPIRASI_BURST", CONFIG_INT, "20", 1, 1000000, false,                    \
		  &(cfg)->aspirasi_burst, "POST /v1/aspirasi: bucket size per address" },           \
		{ "SIMPUL_INGEST_AUTH_CACHE_MS", CONFIG_DURATION_MS, "30s", 0, 3600000, false,     \
		  &(cfg)->auth_cache_ms, "how long a resolved token is cached in-process" },        \
		{ "SIMPUL_INGEST_PER_IP_CONNS", CONFIG_INT, "0", 0, 100000, false,                 \
		  &(cfg)->per_ip_conns, "connections per client address (0: unlimited)" },          \
		{ "SIMPUL_INGEST_RELAY", CONFIG_BOOL, "on", 0, 0, false, &(cfg)->relay,            \
		  "run the outbox relay (one process publishes at a time)" },                      \
		{ "SIMPUL_INGEST_INTAKE", CONFIG_BOOL, "on", 0, 0, false, &(cfg)->intake,          \
		  "consume kim.intake.v1" },                                                        \
		{ "SIMPUL_INGEST_MIGRATE", CONFIG_BOOL, "on", 0, 0, false, &(cfg)->migrate,        \
		  "apply database migrations at start" },                                          \
		{ "SIMPUL_SHUTDOWN_GRACE_MS", CONFIG_DURATION_MS, "10s", 0, 600000, false,         \
		  &(cfg)->shutdown_grace_ms, "SIGTERM: time for in-flight work and the relay" },    \
		{ "SIMPUL_INGEST_OUTBOX_RETENTION_MS", CONFIG_DURATION_MS, "1h", 0, 2592000000,   \
		  false, &(cfg)->outbox_retention_ms, "sent outbox rows are deleted after this" },  \
	}

int ingest_config_load(struct ingest_config *cfg, char *err, size_t errlen)
{
	struct config_item items[] = ITEMS(cfg);

	memset(cfg, 0, sizeof(*cfg));
	return config_load(items, sizeof(items) / sizeof(items[0]), err, errlen);
}

void ingest_config_release(struct ingest_config *cfg)
{
	struct config_item items[] = ITEMS(cfg);

	config_release(items, sizeof(items) / sizeof(items[0]));
}

void ingest_config_log(struct ingest_config *cfg)
{
	struct config_item items[] = ITEMS(cfg);

	config_log(items, sizeof(items) / sizeof(items[0]));
}

void ingest_config_help(void)
{
	struct ingest_config dummy;
	struct config_item items[] = ITEMS(&dummy);

	config_print_help(items, sizeof(items) / sizeof(items[0]));
}
