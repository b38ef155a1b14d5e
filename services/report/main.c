/*
 * services/report/main.c - simpul-report: load the configuration, start the
 * service, wait for SIGTERM/SIGINT, stop gracefully, exit 0.
 * Exit status: 0 clean stop, 1 start-up failure, 2 bad configuration.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "report.h"
#include "slog/slog.h"

static void usage(void)
{
	printf("simpul-report - Simpul's reporting service (aggregates, report topics, exports)\n\n"
	       "usage: simpul-report [--help]\n\n"
	       "All settings come from the environment:\n\n");
	report_config_help();
}

/* Blocks SIGTERM/SIGINT in every thread; main waits for them with sigwait. */
static void block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv)
{
	struct report_config cfg;
	struct report_app app;
	enum slog_level lvl = SLOG_INFO;
	char err[4096];
	sigset_t set;
	int sig = 0;

	if (argc > 1) {
		usage();
		return strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ? 0 : 2;
	}
	slog_init("report", SLOG_INFO);
	if (report_config_load(&cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "simpul-report: bad configuration:\n%s\n", err);
		return 2;
	}
	if (!slog_level_parse(cfg.log_level, &lvl)) {
		fprintf(stderr, "simpul-report: bad configuration:\nSIMPUL_LOG_LEVEL: unknown level\n");
		report_config_release(&cfg);
		return 2;
	}
	slog_init("report", lvl);
	report_config_log(&cfg);
	block_signals(&set);
	if (report_app_start(&app, &cfg, err, sizeof(err)) != 0) {
		slog_error("start failed", "err=\"%s\"", err);
		report_app_stop(&app);
		report_config_release(&cfg);
		return 1;
	}
	slog_info("listening", "addr=%s port=%d", cfg.bind, report_app_port(&app));
	sigwait(&set, &sig);
	slog_info("stopping", "signal=%d", sig);
	report_app_stop(&app);
	slog_info("stopped", NULL);
	report_config_release(&cfg);
	return 0;
}
