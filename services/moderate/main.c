/*
 * services/moderate/main.c - simpul-moderate: load the configuration, start
 * the service, reload rules on SIGHUP, stop gracefully on SIGTERM/SIGINT.
 * Exit status: 0 clean stop, 1 start-up failure, 2 bad configuration.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "moderate.h"
#include "slog/slog.h"

static void usage(void)
{
	printf("simpul-moderate - Simpul's moderation service (automatic pipeline and review)\n\n"
	       "usage: simpul-moderate [--help]\n\n"
	       "All settings come from the environment (SIGHUP reloads lists and thresholds):\n\n");
	mod_config_help();
}

static void block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv)
{
	struct mod_config cfg;
	struct mod_app *app = NULL;
	enum slog_level lvl = SLOG_INFO;
	char err[4096];
	sigset_t set;
	int sig = 0;

	if (argc > 1) {
		usage();
		return strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ? 0 : 2;
	}
	slog_init("moderate", SLOG_INFO);
	if (mod_config_load(&cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "simpul-moderate: bad configuration:\n%s\n", err);
		return 2;
	}
	if (!slog_level_parse(cfg.log_level, &lvl)) {
		fprintf(stderr, "simpul-moderate: bad configuration:\nSIMPUL_LOG_LEVEL: unknown level\n");
		mod_config_release(&cfg);
		return 2;
	}
	slog_init("moderate", lvl);
	mod_config_log(&cfg);
	block_signals(&set);
	if (mod_app_start(&app, &cfg, err, sizeof(err)) != 0) {
		slog_error("start failed", "err=\"%s\"", err);
		mod_app_stop(app);
		mod_config_release(&cfg);
		return 1;
	}
	slog_info("listening", "addr=%s port=%d", cfg.bind, mod_app_port(app));
	for (;;) {
		sigwait(&set, &sig);
		if (sig != SIGHUP)
			break;
		slog_info("reload requested", "signal=%d", sig);
		mod_app_reload(app);
	}
	slog_info("stopping", "signal=%d", sig);
	mod_app_stop(app);
	slog_info("stopped", NULL);
	mod_config_release(&cfg);
	return 0;
}
