/*
 * services/console/main.c - simpul-console: describes the service to libs/service,
 * which loads the configuration, starts it, waits for SIGTERM/SIGINT and
 * stops it gracefully. Exit status: 0 clean stop, 1 start-up failure, 2 bad
 * configuration.
 */
#include "console.h"
#include "service/service.h"

static struct console_config cfg;
static struct console_app app;

static int load(void *c, char *err, size_t len)
{
	return console_config_load(c, err, len);
}

static void release(void *c)
{
	console_config_release(c);
}

static void log_config(void *c)
{
	console_config_log(c);
}

static const char *log_level(void *c)
{
	return ((struct console_config *)c)->log_level;
}

static const char *bind_addr(void *c)
{
	return ((struct console_config *)c)->bind;
}

static int start(void *a, void *c, char *err, size_t len)
{
	return console_app_start(a, c, err, len);
}

static void stop(void *a)
{
	console_app_stop(a);
}

static int port(void *a)
{
	return console_app_port(a);
}

int main(int argc, char **argv)
{
	const struct service_def def = {
		.name = "console", .summary = "Simpul's web console for moderators and monitoring staff",
		.cfg = &cfg, .app = &app, .config_load = load, .config_release = release,
		.config_log = log_config, .config_help = console_config_help, .log_level = log_level,
		.bind = bind_addr, .start = start, .stop = stop, .port = port,
	};

	return service_main(&def, argc, argv);
}
