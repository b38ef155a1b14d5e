/*
 * services/report/report_config.c - the reporting service's settings: one
 * table row per environment variable (name, type, default, bounds, help).
 */
#include <string.h>

#include "config/config.h"
#include "report.h"

#define ITEMS(cfg)                                                                                 \
	{                                                                                          \
		{ "SIMPUL_REPORT_BIND", CONFIG_STRING, "127.0.0.1", 0, 64, false, &(cfg)->bind,    \
		  "address to listen on" },                                                        \
		{ "SIMPUL_REPORT_PORT", CONFIG_INT, "8085", 0, 65535, false, &(cfg)->port,         \
		  "HTTP port (0: any free port, logged at start)" },                               \
		{ "SIMPUL_REPORT_THREADS", CONFIG_INT, "4", 1, 64, false, &(cfg)->threads,         \
		  "HTTP worker threads" },                                                         \
		{ "SIMPUL_PG_URL", CONFIG_STRING, "postgresql://simpul@127.0.0.1:55432/simpul", 1, \
		  1024, true, &(cfg)->pg_url, "PostgreSQL connection URI" },                        \
		{ "SIMPUL_REDIS_HOST", CONFIG_STRING, "127.0.0.1", 1, 255, false,                  \
		  &(cfg)->redis_host, "Redis host (dashboard cache)" },                            \
		{ "SIMPUL_REDIS_PORT", CONFIG_INT, "56379", 1, 65535, false, &(cfg)->redis_port,   \
		  "Redis port" },                                                                  \
		{ "SIMPUL_KAFKA_BROKERS", CONFIG_STRING, "127.0.0.1:59092", 1, 1024, false,         \
		  &(cfg)->kafka_brokers, "Kafka bootstrap brokers" },                              \
		{ "SIMPUL_LOG_LEVEL", CONFIG_STRING, "info", 1, 16, false, &(cfg)->log_level,      \
		  "debug, info, warn or error" },                                                  \
		{ "SIMPUL_REPORT_MIGRATE", CONFIG_BOOL, "on", 0, 0, false, &(cfg)->migrate,        \
		  "apply database migrations at start" },                                          \
		{ "SIMPUL_REPORT_CONSUME", CONFIG_BOOL, "on", 0, 0, false, &(cfg)->consume,        \
		  "consume the event topics (off: HTTP and report topics only)" },                 \
		{ "SIMPUL_REPORT_GROUP", CONFIG_STRING, "simpul-report", 1, 200, false,            \
		  &(cfg)->group, "Kafka consumer group of the live consumer" },                    \
		{ "SIMPUL_REPORT_CONSUMERS", CONFIG_INT, "4", 1, 32, false, &(cfg)->consumers,      \
		  "consumer threads (one PostgreSQL connection each) in the group" },              \
		{ "SIMPUL_REPORT_BATCH_MAX", CONFIG_INT, "5000", 1, 10000, false,                  \
		  &(cfg)->batch_max, "events applied per transaction (1: one at a time)" },        \
		{ "SIMPUL_REPORT_BATCH_WAIT_MS", CONFIG_DURATION_MS, "20ms", 0, 1000, false,      \
		  &(cfg)->batch_wait_ms, "how long a batch gathers after its first event" },       \
		{ "SIMPUL_REPORT_OFFSET_RESET", CONFIG_STRING, "earliest", 1, 16, false,          \
		  &(cfg)->offset_reset, "where a new group starts: earliest or latest" },           \
		{ "SIMPUL_REPORT_FLUSH_MS", CONFIG_DURATION_MS, "1s", 50, 60000, false,            \
		  &(cfg)->flush_ms, "how often dirty cells go to the report topics" },             \
		{ "SIMPUL_REPORT_CACHE_TTL_MS", CONFIG_DURATION_MS, "5s", 0, 3600000, false,       \
		  &(cfg)->cache_ttl_ms, "Redis cache of dashboard reads (0: off)" },               \
		{ "SIMPUL_REPORT_DB_READERS", CONFIG_INT, "4", 1, 64, false, &(cfg)->db_readers,   \
		  "PostgreSQL connections for dashboard reads" },                                  \
		{ "SIMPUL_REPORT_EXPORTS_MAX", CONFIG_INT, "4", 1, 256, false,                     \
		  &(cfg)->exports_max, "concurrent streamed exports (503 past it)" },              \
		{ "SIMPUL_REPORT_EXPORT_DIR", CONFIG_STRING, "/tmp/simpul-report-exports", 1, 1024, \
		  false, &(cfg)->export_dir, "where background export files are written" },       \
		{ "SIMPUL_REPORT_AUTH_CACHE_MS", CONFIG_DURATION_MS, "30s", 0, 3600000, false,     \
		  &(cfg)->auth_cache_ms, "how long a resolved token is cached in-process" },        \
		{ "SIMPUL_SHUTDOWN_GRACE_MS", CONFIG_DURATION_MS, "10s", 0, 600000, false,         \
		  &(cfg)->shutdown_grace_ms, "SIGTERM: time for in-flight requests" },             \
	}

int report_config_load(struct report_config *cfg, char *err, size_t errlen)
{
	struct config_item items[] = ITEMS(cfg);

	memset(cfg, 0, sizeof(*cfg));
	return config_load(items, sizeof(items) / sizeof(items[0]), err, errlen);
}

void report_config_release(struct report_config *cfg)
{
	struct config_item items[] = ITEMS(cfg);

	config_release(items, sizeof(items) / sizeof(items[0]));
}

void report_config_log(struct report_config *cfg)
{
	struct config_item items[] = ITEMS(cfg);

	config_log(items, sizeof(items) / sizeof(items[0]));
}

void report_config_help(void)
{
	struct report_config dummy;
	struct config_item items[] = ITEMS(&dummy);

	config_print_help(items, sizeof(items) / sizeof(items[0]));
}
