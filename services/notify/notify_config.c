/*
 * services/notify/notify_config.c - the notification service's settings: one
 * table row per environment variable (name, type, default, bounds, help).
 */
#include <string.h>

#include "config/config.h"
#include "notify.h"

#define DAY_MS 86400000LL

#define ITEMS(cfg)                                                                                 \
	{                                                                                          \
		{ "SIMPUL_NOTIFY_BIND", CONFIG_STRING, "127.0.0.1", 0, 64, false, &(cfg)->bind,    \
		  "address to listen on" },                                                        \
		{ "SIMPUL_NOTIFY_PORT", CONFIG_INT, "8084", 0, 65535, false, &(cfg)->port,         \
		  "HTTP port (0: any free port, logged at start)" },                               \
		{ "SIMPUL_NOTIFY_THREADS", CONFIG_INT, "2", 1, 64, false, &(cfg)->threads,         \
		  "HTTP worker threads" },                                                         \
		{ "SIMPUL_PG_URL", CONFIG_STRING, "postgresql://simpul@127.0.0.1:55432/simpul", 1, \
		  1024, true, &(cfg)->pg_url, "PostgreSQL connection URI" },                        \
		{ "SIMPUL_KAFKA_BROKERS", CONFIG_STRING, "127.0.0.1:59092", 1, 1024, false,         \
		  &(cfg)->kafka_brokers, "Kafka bootstrap brokers" },                              \
		{ "SIMPUL_LOG_LEVEL", CONFIG_STRING, "info", 1, 16, false, &(cfg)->log_level,      \
		  "debug, info, warn or error" },                                                  \
		{ "SIMPUL_NOTIFY_GROUP", CONFIG_STRING, "simpul-notify", 1, 200, false,             \
		  &(cfg)->group, "Kafka consumer group" },                                         \
		{ "SIMPUL_NOTIFY_REALM", CONFIG_STRING, "", 0, 64, false, &(cfg)->realm,           \
		  "subscriptions this instance creates, matches and delivers ('' production)" },   \
		{ "SIMPUL_NOTIFY_MIGRATE", CONFIG_BOOL, "on", 0, 0, false, &(cfg)->migrate,        \
		  "apply database migrations at start" },                                          \
		{ "SIMPUL_NOTIFY_CONSUME", CONFIG_BOOL, "on", 0, 0, false, &(cfg)->consume,        \
		  "consume the moderated, published and registry topics" },                        \
		{ "SIMPUL_NOTIFY_CONSUMERS", CONFIG_INT, "3", 1, 12, false, &(cfg)->consumers,     \
		  "consumer threads (group members) matching events in parallel" },                \
		{ "SIMPUL_NOTIFY_CONSUME_BATCH", CONFIG_INT, "200", 1, 10000, false,               \
		  &(cfg)->consume_batch, "events matched per consumer transaction (1: one each)" }, \
		{ "SIMPUL_NOTIFY_WORKERS", CONFIG_INT, "8", 1, 256, false, &(cfg)->workers,        \
		  "delivery workers for ordinary notifications (lane 0)" },                        \
		{ "SIMPUL_NOTIFY_BULK_WORKERS", CONFIG_INT, "2", 1, 256, false,                    \
		  &(cfg)->bulk_workers, "delivery workers for diseminasi fan-out (lane 1)" },      \
		{ "SIMPUL_NOTIFY_CLAIM_BATCH", CONFIG_INT, "64", 1, 1000, false,                   \
		  &(cfg)->claim_batch, "deliveries a worker claims per round" },                   \
		{ "SIMPUL_NOTIFY_PARALLEL", CONFIG_INT, "32", 1, 512, false, &(cfg)->parallel,     \
		  "webhook requests a worker has in flight at once (kept-alive connections)" },    \
		{ "SIMPUL_NOTIFY_POLL_MS", CONFIG_DURATION_MS, "200ms", 10, 60000, false,          \
		  &(cfg)->poll_ms, "idle workers look for due deliveries this often" },            \
		{ "SIMPUL_NOTIFY_CONNECT_TIMEOUT_MS", CONFIG_DURATION_MS, "3s", 100, 60000, false, \
		  &(cfg)->connect_timeout_ms, "webhook/SMTP connect timeout" },                    \
		{ "SIMPUL_NOTIFY_TIMEOUT_MS", CONFIG_DURATION_MS, "10s", 100, 120000, false,       \
		  &(cfg)->timeout_ms, "webhook/SMTP total timeout per attempt" },                  \
		{ "SIMPUL_NOTIFY_RETRY_BASE_MS", CONFIG_DURATION_MS, "5s", 1, DAY_MS, false,       \
		  &(cfg)->retry_base_ms, "first retry delay (doubles each time, +-20% jitter)" },  \
		{ "SIMPUL_NOTIFY_RETRY_MAX_MS", CONFIG_DURATION_MS, "6h", 1, DAY_MS, false,        \
		  &(cfg)->retry_max_ms, "longest delay between two attempts" },                    \
		{ "SIMPUL_NOTIFY_RETRY_WINDOW_MS", CONFIG_DURATION_MS, "72h", 1, 30 * DAY_MS, false, \
		  &(cfg)->retry_window_ms, "no retry after this age: dead letter" },               \
		{ "SIMPUL_NOTIFY_MAX_ATTEMPTS", CONFIG_INT, "30", 1, 1000, false,                  \
		  &(cfg)->max_attempts, "attempts before the dead letter" },                       \
		{ "SIMPUL_NOTIFY_LEASE_MS", CONFIG_DURATION_MS, "30s", 1000, DAY_MS, false,        \
		  &(cfg)->lease_ms, "longest delivery round (rows locked); unsent rows stay due" }, \
		{ "SIMPUL_NOTIFY_REVIEW_BATCH_MS", CONFIG_DURATION_MS, "5m", 1000, DAY_MS, false,  \
		  &(cfg)->review_batch_ms, "moderators get one message per window of new items" }, \
		{ "SIMPUL_NOTIFY_ROTATE_GRACE_MS", CONFIG_DURATION_MS, "24h", 0, 30 * DAY_MS,      \
		  false, &(cfg)->rotate_grace_ms, "old secret still signs this long after a rotation" }, \
		{ "SIMPUL_NOTIFY_FANOUT_BATCH", CONFIG_INT, "2000", 10, 100000, false,             \
		  &(cfg)->fanout_batch, "diseminasi deliveries inserted per transaction" },        \
		{ "SIMPUL_NOTIFY_ALLOW_LOOPBACK", CONFIG_BOOL, "off", 0, 0, false,                 \
		  &(cfg)->allow_loopback, "TESTS ONLY: allow webhooks to 127.0.0.0/8 and ::1" },    \
		{ "SIMPUL_NOTIFY_REQUIRE_HTTPS", CONFIG_BOOL, "on", 0, 0, false,                   \
		  &(cfg)->require_https, "webhook targets must be https (production mode)" },      \
		{ "SIMPUL_NOTIFY_SMTP_URL", CONFIG_STRING, "smtp://127.0.0.1:52525", 1, 512, false, \
		  &(cfg)->smtp_url, "SMTP server for e-mail (smtp:// or smtps://)" },              \
		{ "SIMPUL_NOTIFY_MAIL_FROM", CONFIG_STRING, "notify@simpul.invalid", 3, 254, false, \
		  &(cfg)->mail_from, "sender address of e-mail notifications" },                   \
		{ "SIMPUL_NOTIFY_CLOCK_OFFSET_MS", CONFIG_INT, "0", -366 * DAY_MS, 366 * DAY_MS,   \
		  false, &(cfg)->clock_offset_ms, "TESTS ONLY: shifts the service's clock" },       \
		{ "SIMPUL_NOTIFY_SKIP_BEFORE_MS", CONFIG_INT, "0", 0, INT64_MAX, false,            \
		  &(cfg)->skip_before_ms, "TESTS ONLY: ignore events that occurred before (epoch ms)" }, \
		{ "SIMPUL_NOTIFY_AUTH_CACHE_MS", CONFIG_DURATION_MS, "30s", 0, 3600000, false,     \
		  &(cfg)->auth_cache_ms, "how long a resolved token is cached in-process" },        \
		{ "SIMPUL_SHUTDOWN_GRACE_MS", CONFIG_DURATION_MS, "10s", 0, 600000, false,         \
		  &(cfg)->shutdown_grace_ms, "SIGTERM: time for in-flight requests" },             \
		{ "SIMPUL_NOTIFY_RECORDS", CONFIG_BOOL, "on", 0, 0, false, &(cfg)->records,        \
		  "write NotificationDelivery records (kim.notification.v1) to simpul.outbox" },   \
		{ "SIMPUL_NOTIFY_RELAY", CONFIG_BOOL, "on", 0, 0, false, &(cfg)->relay,            \
		  "run an outbox relay for simpul.outbox (one leader across all services)" },     \
	}

int notify_config_load(struct notify_config *cfg, char *err, size_t errlen)
{
	struct config_item items[] = ITEMS(cfg);

	memset(cfg, 0, sizeof(*cfg));
	return config_load(items, sizeof(items) / sizeof(items[0]), err, errlen);
}

void notify_config_release(struct notify_config *cfg)
{
	struct config_item items[] = ITEMS(cfg);

	config_release(items, sizeof(items) / sizeof(items[0]));
}

void notify_config_log(struct notify_config *cfg)
{
	struct config_item items[] = ITEMS(cfg);

	config_log(items, sizeof(items) / sizeof(items[0]));
}

void notify_config_help(void)
{
	struct notify_config dummy;
	struct config_item items[] = ITEMS(&dummy);

	config_print_help(items, sizeof(items) / sizeof(items[0]));
}
