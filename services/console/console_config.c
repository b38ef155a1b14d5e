/*
 * services/console/console_config.c - the console's settings: one table row
 * per environment variable (name, type, default, bounds, help).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "console.h"
#include "util/err.h"

#ifndef CONSOLE_WEB_DIR_DEFAULT
#define CONSOLE_WEB_DIR_DEFAULT ".cache/console-web/dist"
#endif

#define ITEMS(cfg)                                                                                 \
	{                                                                                          \
		{ "SIMPUL_CONSOLE_BIND", CONFIG_STRING, "127.0.0.1", 0, 64, false, &(cfg)->bind,   \
		  "address to listen on" },                                                        \
		{ "SIMPUL_CONSOLE_PORT", CONFIG_INT, "8086", 0, 65535, false, &(cfg)->port,        \
		  "HTTP port (0: any free port, logged at start)" },                               \
		{ "SIMPUL_CONSOLE_THREADS", CONFIG_INT, "8", 1, 64, false, &(cfg)->threads,        \
		  "HTTP worker threads (a forwarded call holds one while it waits)" },             \
		{ "SIMPUL_PG_URL", CONFIG_STRING, "postgresql://simpul@127.0.0.1:55432/simpul", 1, \
		  1024, true, &(cfg)->pg_url, "PostgreSQL connection URI (tokens, region names)" }, \
		{ "SIMPUL_LOG_LEVEL", CONFIG_STRING, "info", 1, 16, false, &(cfg)->log_level,      \
		  "debug, info, warn or error" },                                                  \
		{ "SIMPUL_CONSOLE_WEB_DIR", CONFIG_STRING, CONSOLE_WEB_DIR_DEFAULT, 1, 1024, false, \
		  &(cfg)->web_dir, "the built front end (index.html, assets/)" },                  \
		{ "SIMPUL_CONSOLE_MODERATE_URL", CONFIG_STRING, "http://127.0.0.1:8082", 8, 256,    \
		  false, &(cfg)->moderate_url, "simpul-moderate (loopback)" },                      \
		{ "SIMPUL_CONSOLE_REPORT_URL", CONFIG_STRING, "http://127.0.0.1:8085", 8, 256,      \
		  false, &(cfg)->report_url, "simpul-report (loopback)" },                          \
		{ "SIMPUL_CONSOLE_SEARCH_URL", CONFIG_STRING, "http://127.0.0.1:8083", 8, 256,      \
		  false, &(cfg)->search_url, "simpul-search (loopback)" },                          \
		{ "SIMPUL_CONSOLE_BODY_MAX", CONFIG_SIZE, "1m", 1024, 64 << 20, false,             \
		  &(cfg)->body_max, "largest request body forwarded (413 past it)" },              \
		{ "SIMPUL_CONSOLE_REPLY_MAX", CONFIG_SIZE, "8m", 4096, 256 << 20, false,           \
		  &(cfg)->reply_max, "largest buffered upstream answer (502 past it)" },          \
		{ "SIMPUL_CONSOLE_TIMEOUT_MS", CONFIG_DURATION_MS, "30s", 100, 600000, false,      \
		  &(cfg)->timeout_ms, "timeout of a buffered upstream call (504 past it)" },       \
		{ "SIMPUL_CONSOLE_STREAMS_MAX", CONFIG_INT, "4", 1, 64, false,                     \
		  &(cfg)->streams_max, "concurrent streamed exports (503 past it)" },              \
		{ "SIMPUL_CONSOLE_AUTH_CACHE_MS", CONFIG_DURATION_MS, "30s", 0, 3600000, false,    \
		  &(cfg)->auth_cache_ms, "how long a resolved token is cached in-process" },        \
		{ "SIMPUL_SHUTDOWN_GRACE_MS", CONFIG_DURATION_MS, "10s", 0, 600000, false,         \
		  &(cfg)->shutdown_grace_ms, "SIGTERM: time for in-flight requests" },             \
	}

/* True for http://127.x.y.z[:port], http://localhost[:port], http://[::1][:port]. */
static bool loopback_url(const char *u)
{
	static const char *const hosts[] = {"http://127.", "http://localhost", "http://[::1]"};

	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++)
		if (!strncmp(u, hosts[i], strlen(hosts[i])) &&
		    (i == 0 || u[strlen(hosts[i])] == ':' || u[strlen(hosts[i])] == '\0'))
			return true;
	return false;
}

int console_config_load(struct console_config *cfg, char *err, size_t errlen)
{
	struct config_item items[] = ITEMS(cfg);
	const char *names[] = {"SIMPUL_CONSOLE_MODERATE_URL", "SIMPUL_CONSOLE_REPORT_URL",
			       "SIMPUL_CONSOLE_SEARCH_URL"};
	size_t used;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	rc = config_load(items, sizeof(items) / sizeof(items[0]), err, errlen);
	if (rc)
		return rc;
	/* the console forwards tokens: only to services on this machine */
	used = 0;
	err[0] = '\0';
	for (size_t i = 0; i < 3; i++) {
		const char *u = i == 0 ? cfg->moderate_url : i == 1 ? cfg->report_url : cfg->search_url;

		if (loopback_url(u) && u[strlen(u) - 1] != '/')
			continue;
		rc = UTIL_EINVAL;
		used += (size_t)snprintf(err + used, used < errlen ? errlen - used : 0,
					 "%s%s: \"%s\" is not http://<loopback>[:port] without a "
					 "trailing slash",
					 used ? "\n" : "", names[i], u);
		if (used >= errlen)
			used = errlen - 1;
	}
	return rc;
}

void console_config_release(struct console_config *cfg)
{
	struct config_item items[] = ITEMS(cfg);

	config_release(items, sizeof(items) / sizeof(items[0]));
}

void console_config_log(struct console_config *cfg)
{
	struct config_item items[] = ITEMS(cfg);

	config_log(items, sizeof(items) / sizeof(items[0]));
}

void console_config_help(void)
{
	struct console_config dummy;
	struct config_item items[] = ITEMS(&dummy);

	config_print_help(items, sizeof(items) / sizeof(items[0]));
}
