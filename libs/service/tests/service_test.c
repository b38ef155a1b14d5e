/*
 * Unit test of libs/service: exit statuses for --help, bad usage, bad
 * configuration and failed start, and a clean stop on SIGTERM with the
 * callbacks called in order. Each case runs service_main in a child.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "service/service.h"

struct fake {
	int config_rc, start_rc;
	const char *level;
	char trace[128];
};

static struct fake f;

static void note(const char *what)
{
	strncat(f.trace, what, sizeof(f.trace) - strlen(f.trace) - 1);
}

static int cfg_load(void *c, char *err, size_t len)
{
	note("load,");
	if (f.config_rc)
		snprintf(err, len, "SIMPUL_X: bad");
	return f.config_rc;
}
static void cfg_release(void *c) { note("release,"); }
static void cfg_log(void *c) { note("log,"); }
static void cfg_help(void) { printf("  SIMPUL_X  help\n"); }
static const char *cfg_level(void *c) { return f.level; }
static const char *cfg_bind(void *c) { return "127.0.0.1"; }
static int app_start(void *a, void *c, char *err, size_t len)
{
	note("start,");
	if (f.start_rc)
		snprintf(err, len, "boom");
	return f.start_rc;
}
static void app_stop(void *a) { note("stop,"); }
static int app_port(void *a) { return 1234; }
static void app_reload(void *a) { note("reload,"); }

static const struct service_def def = {
	.name = "fake", .summary = "a test service", .config_load = cfg_load,
	.config_release = cfg_release, .config_log = cfg_log, .config_help = cfg_help,
	.log_level = cfg_level, .bind = cfg_bind, .start = app_start, .stop = app_stop,
	.port = app_port,
};

/* Runs service_main(d) in a child with argv (after SIGHUP when hup); the
 * trace comes back on a pipe. */
static int run_def(const struct service_def *d, const char *arg, bool send_term, bool hup,
		   char *trace, size_t len)
{
	char *argv[] = {"simpul-fake", (char *)arg, NULL};
	int fds[2], st;
	ssize_t n;
	pid_t pid;

	if (pipe(fds) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		int rc;

		close(fds[0]);
		freopen("/dev/null", "w", stdout);
		freopen("/dev/null", "w", stderr);
		rc = service_main(d, arg ? 2 : 1, argv);
		if (write(fds[1], f.trace, strlen(f.trace)) < 0)
			_exit(99);
		_exit(rc);
	}
	close(fds[1]);
	if (hup) {
		usleep(200000);
		kill(pid, SIGHUP);
	}
	if (send_term) {
		usleep(200000);
		kill(pid, SIGTERM);
	}
	n = read(fds[0], trace, len - 1);
	trace[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int run(const char *arg, bool send_term, char *trace, size_t len)
{
	return run_def(&def, arg, send_term, false, trace, len);
}

#define EXPECT(cond, ...)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "FAIL line %d: ", __LINE__);                               \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

int main(void)
{
	char t[256];
	int failures = 0, rc;

	f = (struct fake){.level = "info"};
	EXPECT((rc = run("--help", false, t, sizeof(t))) == 0, "--help exit %d", rc);
	EXPECT((rc = run("--bogus", false, t, sizeof(t))) == 2, "usage exit %d", rc);

	f.config_rc = 1;
	EXPECT((rc = run(NULL, false, t, sizeof(t))) == 2, "bad config exit %d", rc);
	EXPECT(strcmp(t, "load,") == 0, "bad config trace %s", t);

	f = (struct fake){.level = "loud"};
	EXPECT((rc = run(NULL, false, t, sizeof(t))) == 2, "bad level exit %d", rc);
	EXPECT(strcmp(t, "load,release,") == 0, "bad level trace %s", t);

	f = (struct fake){.level = "warn", .start_rc = -1};
	EXPECT((rc = run(NULL, false, t, sizeof(t))) == 1, "failed start exit %d", rc);
	EXPECT(strcmp(t, "load,log,start,stop,release,") == 0, "failed start trace %s", t);

	f = (struct fake){.level = "debug"};
	EXPECT((rc = run(NULL, true, t, sizeof(t))) == 0, "SIGTERM exit %d", rc);
	EXPECT(strcmp(t, "load,log,start,stop,release,") == 0, "SIGTERM trace %s", t);

	/* SIGHUP reloads and keeps running when the service can reload. */
	struct service_def reloading = def;

	reloading.reload = app_reload;
	f = (struct fake){.level = "info"};
	EXPECT((rc = run_def(&reloading, NULL, true, true, t, sizeof(t))) == 0, "reload exit %d", rc);
	EXPECT(strcmp(t, "load,log,start,reload,stop,release,") == 0, "reload trace %s", t);

	printf("%s: %d failure(s)\n", failures ? "FAIL" : "ok", failures);
	return failures ? 1 : 0;
}
