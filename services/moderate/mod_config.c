/*
 * services/moderate/mod_config.c - the moderation service's settings: one
 * table row per environment variable (name, type, default, bounds, help).
 */
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "moderate.h"
#include "util/err.h"

#define ITEMS(cfg)                                                                                 \
	{                                                                                          \
		{"SIMPUL_MODERATE_BIND", CONFIG_STRING, "127.0.0.1", 0, 64, false, &(cfg)->bind,   \
		 "address to listen on"},                                                          \
		{"SIMPUL_MODERATE_PORT", CONFIG_INT, "8082", 0, 65535, false, &(cfg)->port,        \
		 "HTTP port (0: any free port, logged at start)"},                                 \
		{"SIMPUL_MODERATE_THREADS", CONFIG_INT, "4", 1, 64, false, &(cfg)->threads,        \
		 "HTTP worker threads"},                                                           \
		{"SIMPUL_PG_URL", CONFIG_STRING, "postgresql://simpul@127.0.0.1:55432/simpul", 1,  \
		 1024, true, &(cfg)->pg_url, "PostgreSQL connection URI"},                         \
		{"SIMPUL_REDIS_HOST", CONFIG_STRING, "127.0.0.1", 1, 255, false,                   \
		 &(cfg)->redis_host, "Redis host (near-duplicates, flooding)"},                    \
		{"SIMPUL_REDIS_PORT", CONFIG_INT, "56379", 1, 65535, false, &(cfg)->redis_port,    \
		 "Redis port"},                                                                    \
		{"SIMPUL_KAFKA_BROKERS", CONFIG_STRING, "127.0.0.1:59092", 1, 1024, false,         \
		 &(cfg)->kafka_brokers, "Kafka bootstrap brokers"},                                \
		{"SIMPUL_LOG_LEVEL", CONFIG_STRING, "info", 1, 16, false, &(cfg)->log_level,       \
		 "debug, info, warn or error"},                                                    \
		{"SIMPUL_MODERATE_MIGRATE", CONFIG_BOOL, "on", 0, 0, false, &(cfg)->migrate,       \
		 "apply database migrations at start"},                                            \
		{"SIMPUL_MODERATE_CONSUMERS", CONFIG_INT, "12", 1, 32, false, &(cfg)->consumers,    \
		 "consumer threads in group simpul-moderate (one PostgreSQL connection each)"},    \
		{"SIMPUL_MODERATE_BATCH_MAX", CONFIG_INT, "256", 1, 10000, false,                 \
		 &(cfg)->batch_max, "messages per consumer batch, stored in one transaction"},     \
		{"SIMPUL_MODERATE_BATCH_WAIT_MS", CONFIG_DURATION_MS, "5ms", 0, 500, false,        \
		 &(cfg)->batch_wait_ms, "how long a batch gathers after its first message"},       \
		{"SIMPUL_MODERATE_GROUP", CONFIG_STRING, "simpul-moderate", 1, 200, false,         \
		 &(cfg)->group, "Kafka consumer group (tests use their own)"},                     \
		{"SIMPUL_MODERATE_OFFSET_RESET", CONFIG_STRING, "earliest", 1, 16, false,          \
		 &(cfg)->offset_reset, "where a group without offsets starts: earliest or latest"}, \
		{"SIMPUL_MODERATE_RELOAD_MS", CONFIG_DURATION_MS, "5s", 100, 3600000, false,       \
		 &(cfg)->reload_ms, "re-read thresholds, classifier and list files this often"},   \
		{"SIMPUL_MODERATE_LISTS", CONFIG_STRING, "", 0, 8192, false, &(cfg)->lists,        \
		 "extra list files: category:path,... (abusive sara gambling porn hoax)"},         \
		{"SIMPUL_MODERATE_DOMAINS_ALLOW", CONFIG_STRING, "", 0, 8192, false,               \
		 &(cfg)->domains_allow, "extra allowed domains, comma-separated"},                 \
		{"SIMPUL_MODERATE_DOMAINS_DENY", CONFIG_STRING, "", 0, 8192, false,                \
		 &(cfg)->domains_deny, "extra denied domains, comma-separated"},                   \
		{"SIMPUL_MODERATE_BAYES_MIN_LEARNS", CONFIG_INT, "200", 1, 100000000, false,       \
		 &(cfg)->bayes_min_learns, "documents of each class before the classifier scores"}, \
		{"SIMPUL_MODERATE_DUP_WINDOW_MS", CONFIG_DURATION_MS, "24h", 1000, 2592000000,     \
		 false, &(cfg)->dup_window_ms, "how long fingerprints stay for near-duplicates"},  \
		{"SIMPUL_MODERATE_FLOOD_PER_MIN", CONFIG_INT, "30", 1, 1000000, false,             \
		 &(cfg)->flood_per_min, "items per minute per KIM/author before FLOOD_*"},         \
		{"SIMPUL_MODERATE_FLOOD_BURST", CONFIG_INT, "60", 1, 1000000, false,               \
		 &(cfg)->flood_burst, "flooding: bucket size"},                                    \
		{"SIMPUL_MODERATE_CLAIM_TTL_MS", CONFIG_DURATION_MS, "15m", 1000, 86400000, false, \
		 &(cfg)->claim_ttl_ms, "how long a moderator's claim holds an item"},              \
		{"SIMPUL_MODERATE_DB_POOL", CONFIG_INT, "4", 1, 64, false, &(cfg)->db_pool,        \
		 "PostgreSQL connections for HTTP requests"},                                      \
		{"SIMPUL_MODERATE_RELAY", CONFIG_BOOL, "on", 0, 0, false, &(cfg)->relay,           \
		 "publish simpul.moderation_outbox to Kafka"},                                     \
		{"SIMPUL_SHUTDOWN_GRACE_MS", CONFIG_DURATION_MS, "10s", 0, 600000, false,          \
		 &(cfg)->shutdown_grace_ms, "SIGTERM: time for in-flight work and the relay"},     \
		{"SIMPUL_MODERATE_OUTBOX_RETENTION_MS", CONFIG_DURATION_MS, "1h", 0, 2592000000,   \
		 false, &(cfg)->outbox_retention_ms, "sent outbox rows are deleted after this"},   \
	}

int mod_config_load(struct mod_config *cfg, char *err, size_t errlen)
{
	struct config_item items[] = ITEMS(cfg);

	int rc;

	memset(cfg, 0, sizeof(*cfg));
	rc = config_load(items, sizeof(items) / sizeof(items[0]), err, errlen);
	if (rc == 0 && strcmp(cfg->offset_reset, "earliest") && strcmp(cfg->offset_reset, "latest")) {
		snprintf(err, errlen, "SIMPUL_MODERATE_OFFSET_RESET: earliest or latest");
		rc = UTIL_EINVAL;
	}
	return rc;
}

void mod_config_release(struct mod_config *cfg)
{
	struct config_item items[] = ITEMS(cfg);

	config_release(items, sizeof(items) / sizeof(items[0]));
}

void mod_config_log(struct mod_config *cfg)
{
	struct config_item items[] = ITEMS(cfg);

	config_log(items, sizeof(items) / sizeof(items[0]));
}

void mod_config_help(void)
{
	struct mod_config dummy;
	struct config_item items[] = ITEMS(&dummy);

	config_print_help(items, sizeof(items) / sizeof(items[0]));
}
