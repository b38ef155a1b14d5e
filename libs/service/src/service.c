/*
 * service/service.c - process lifecycle shared by every service binary.
 */
#include "service/service.h"

#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "slog/slog.h"

static void usage(const struct service_def *d)
{
	printf("simpul-%s - %s\n\n"
	       "usage: simpul-%s [--help]\n\n"
	       "All settings come from the environment:\n\n",
	       d->name, d->summary, d->name);
	d->config_help();
}

/* Blocks SIGTERM/SIGINT (and SIGHUP when reloading is supported) in every
 * thread started later; main sigwaits for them. */
static void block_signals(sigset_t *set, bool hup)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	if (hup)
		sigaddset(set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Loads and checks the configuration; 0 or the exit status 2. */
static int configure(const struct service_def *d)
{
	enum slog_level lvl = SLOG_INFO;
	char err[4096];

	slog_init(d->name, SLOG_INFO);
	if (d->config_load(d->cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "simpul-%s: bad configuration:\n%s\n", d->name, err);
		return 2;
	}
	if (!slog_level_parse(d->log_level(d->cfg), &lvl)) {
		fprintf(stderr, "simpul-%s: bad configuration:\nSIMPUL_LOG_LEVEL: unknown level\n",
			d->name);
		d->config_release(d->cfg);
		return 2;
	}
	slog_init(d->name, lvl);
	d->config_log(d->cfg);
	return 0;
}

int service_main(const struct service_def *d, int argc, char **argv)
{
	char err[4096];
	sigset_t set;
	int sig = 0, rc;

	if (argc > 1) {
		usage(d);
		return strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ? 0 : 2;
	}
	rc = configure(d);
	if (rc)
		return rc;
	block_signals(&set, d->reload != NULL);
	if (d->start(d->app, d->cfg, err, sizeof(err)) != 0) {
		slog_error("start failed", "err=\"%s\"", err);
		d->stop(d->app);
		d->config_release(d->cfg);
		return 1;
	}
	slog_info("listening", "addr=%s port=%d", d->bind(d->cfg), d->port(d->app));
	for (;;) {
		sigwait(&set, &sig);
		if (sig != SIGHUP)
			break;
		slog_info("reload requested", "signal=%d", sig);
		d->reload(d->app);
	}
	slog_info("stopping", "signal=%d", sig);
	d->stop(d->app);
	slog_info("stopped", NULL);
	d->config_release(d->cfg);
	return 0;
}
