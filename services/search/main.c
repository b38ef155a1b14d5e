/*
 * services/search/main.c - simpul-search: describes the service to libs/service,
 * which loads the configuration, starts it, waits for SIGTERM/SIGINT and
 * stops it gracefully. Exit status: 0 clean stop, 1 start-up failure, 2 bad
 * configuration.
 */
#include "search.h"
#include "service/service.h"

static struct search_config cfg;
static struct search_app app;

static int load(void *c, char *err, size_t len)
{
	return search_config_load(c, err, len);
}

static void release(void *c)
{
	search_config_release(c);
}

static void log_config(void *c)
{
	search_config_log(c);
}

static const char *log_level(void *c)
{
	return ((struct search_config *)c)->log_level;
}

static const char *bind_addr(void *c)
{
	return ((struct search_config *)c)->bind;
}

static int start(void *a, void *c, char *err, size_t len)
{
	return search_app_start(a, c, err, len);
}

static void stop(void *a)
{
	search_app_stop(a);
}

static int port(void *a)
{
	return search_app_port(a);
}

int main(int argc, char **argv)
{
	const struct service_def def = {
		.name = "search", .summary = "Simpul's search service (kim.content.published.v1 -> full-text search)",
		.cfg = &cfg, .app = &app, .config_load = load, .config_release = release,
		.config_log = log_config, .config_help = search_config_help, .log_level = log_level,
		.bind = bind_addr, .start = start, .stop = stop, .port = port,
	};

	return service_main(&def, argc, argv);
}
