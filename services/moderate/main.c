/*
 * services/moderate/main.c - simpul-moderate: describes the service to
 * libs/service, which loads the configuration, starts it, reloads lists and
 * thresholds on SIGHUP and stops it gracefully on SIGTERM/SIGINT.
 * Exit status: 0 clean stop, 1 start-up failure, 2 bad configuration.
 */
#include "moderate.h"
#include "service/service.h"

static struct mod_config cfg;
static struct mod_app *app; /* allocated by mod_app_start */

static int load(void *c, char *err, size_t len)
{
	return mod_config_load(c, err, len);
}

static void release(void *c)
{
	mod_config_release(c);
}

static void log_config(void *c)
{
	mod_config_log(c);
}

static const char *log_level(void *c)
{
	return ((struct mod_config *)c)->log_level;
}

static const char *bind_addr(void *c)
{
	return ((struct mod_config *)c)->bind;
}

static int start(void *a, void *c, char *err, size_t len)
{
	return mod_app_start(a, c, err, len);
}

static void stop(void *a)
{
	mod_app_stop(*(struct mod_app **)a);
}

static int port(void *a)
{
	return mod_app_port(*(struct mod_app **)a);
}

static void reload(void *a)
{
	mod_app_reload(*(struct mod_app **)a);
}

int main(int argc, char **argv)
{
	const struct service_def def = {
		.name = "moderate",
		.summary = "Simpul's moderation service (automatic pipeline and review; "
			   "SIGHUP reloads lists and thresholds)",
		.cfg = &cfg, .app = &app, .config_load = load, .config_release = release,
		.config_log = log_config, .config_help = mod_config_help, .log_level = log_level,
		.bind = bind_addr, .start = start, .stop = stop, .port = port, .reload = reload,
	};

	return service_main(&def, argc, argv);
}
