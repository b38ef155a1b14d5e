/*
 * services/report/main.c - simpul-report: describes the service to libs/service,
 * which loads the configuration, starts it, waits for SIGTERM/SIGINT and
 * stops it gracefully. Exit status: 0 clean stop, 1 start-up failure, 2 bad
 * configuration.
 */
#include "report.h"
#include "service/service.h"

static struct report_config cfg;
static struct report_app app;

static int load(void *c, char *err, size_t len)
{
	return report_config_load(c, err, len);
}

static void release(void *c)
{
	report_config_release(c);
}

static void log_config(void *c)
{
	report_config_log(c);
}

static const char *log_level(void *c)
{
	return ((struct report_config *)c)->log_level;
}

static const char *bind_addr(void *c)
{
	return ((struct report_config *)c)->bind;
}

static int start(void *a, void *c, char *err, size_t len)
{
	return report_app_start(a, c, err, len);
}

static void stop(void *a)
{
	report_app_stop(a);
}

static int port(void *a)
{
	return report_app_port(a);
}

int main(int argc, char **argv)
{
	const struct service_def def = {
		.name = "report", .summary = "Simpul's reporting service (aggregates, report topics, exports)",
		.cfg = &cfg, .app = &app, .config_load = load, .config_release = release,
		.config_log = log_config, .config_help = report_config_help, .log_level = log_level,
		.bind = bind_addr, .start = start, .stop = stop, .port = port,
	};

	return service_main(&def, argc, argv);
}
