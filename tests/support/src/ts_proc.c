/*
 * ts_proc.c - child processes for the tests: a simpul-ingest on a free
 * loopback port (killed with the test if the test dies), commands with a
 * deadline and captured output, and the stack's fault-injection commands.
 */
#include "ts/ts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <util/err.h>

int64_t ts_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ts_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

bool ts_port_open(const char *host, unsigned port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd, ok;

	if (inet_pton(AF_INET, strcmp(host, "localhost") ? host : "127.0.0.1", &sa.sin_addr) != 1)
		return false;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static unsigned free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unsigned port = 0;

	if (fd < 0)
		return 0;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* Exit status as a number: code, or 128+signal. */
static int status_code(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return UTIL_EINTERNAL;
}

/* Waits up to ms for pid; returns its status code, or UTIL_ETIMEOUT. */
static int wait_pid(int pid, int ms)
{
	int64_t end = ts_now_ms() + ms;
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return status_code(st);
		if (r < 0)
			return UTIL_EINTERNAL;
		if (ts_now_ms() >= end)
			return UTIL_ETIMEOUT;
		ts_sleep_ms(20);
	}
}

static void child_env(const struct ts_env *env, unsigned port, const char *const *extra)
{
	char p[16];

	snprintf(p, sizeof(p), "%u", port);
	setenv("SIMPUL_INGEST_PORT", p, 1);
	setenv("SIMPUL_INGEST_BIND", "127.0.0.1", 1);
	setenv("SIMPUL_PG_URL", env->pg_url, 1);
	setenv("SIMPUL_REDIS_HOST", env->redis_host, 1);
	snprintf(p, sizeof(p), "%lld", (long long)env->redis_port);
	setenv("SIMPUL_REDIS_PORT", p, 1);
	setenv("SIMPUL_KAFKA_BROKERS", env->kafka_brokers, 1);
	/* The intake consumer is opt-in per test: one group, one consumer. */
	setenv("SIMPUL_INGEST_INTAKE", "off", 1);
	for (size_t i = 0; extra && extra[i]; i++)
		putenv((char *)extra[i]);
}

static bool healthy(const char *base_url)
{
	struct ts_response r;
	char url[128];
	bool ok;

	snprintf(url, sizeof(url), "%s/healthz", base_url);
	ts_http(&r, "GET", url, NULL, NULL, NULL, 0);
	ok = r.status == 200;
	ts_response_release(&r);
	return ok;
}

static void log_tail(const char *path, char *out, size_t outlen)
{
	FILE *fp = fopen(path, "r");
	long size;
	size_t n;

	if (!fp || outlen == 0)
		goto out;
	fseek(fp, 0, SEEK_END);
	size = ftell(fp);
	fseek(fp, size > (long)outlen - 1 ? size - (long)outlen + 1 : 0, SEEK_SET);
	n = fread(out, 1, outlen - 1, fp);
	out[n] = '\0';
out:
	if (fp)
		fclose(fp);
}

int ts_ingest_start(struct ts_ingest *in, const struct ts_env *env, const char *const *extra,
		    int wait_ms, char *err, size_t errlen)
{
	int64_t end = ts_now_ms() + wait_ms;
	pid_t parent = getpid();

	memset(in, 0, sizeof(*in));
	in->port = free_port();
	if (!in->port)
		return util_err_set(err, errlen, UTIL_EIO, "no free port");
	snprintf(in->base_url, sizeof(in->base_url), "http://127.0.0.1:%u", in->port);
	snprintf(in->log_path, sizeof(in->log_path), "/tmp/simpul-test-ingest-%d-%u.log",
		 (int)parent, in->port);
	in->pid = fork();
	if (in->pid < 0)
		return util_err_set(err, errlen, UTIL_EIO, "fork: %s", strerror(errno));
	if (in->pid == 0) {
		int fd = open(in->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		child_env(env, in->port, extra);
		execl(env->ingest_bin, env->ingest_bin, (char *)NULL);
		fprintf(stderr, "exec '%s': %s\n", env->ingest_bin, strerror(errno));
		_exit(127);
	}
	while (!healthy(in->base_url)) {
		int st = wait_pid(in->pid, 0);
		if (st != UTIL_ETIMEOUT || ts_now_ms() > end) {
			char tail[1024];
			if (st == UTIL_ETIMEOUT)
				ts_ingest_stop(in, 2000);
			in->pid = 0;
			log_tail(in->log_path, tail, sizeof(tail));
			return util_err_set(err, errlen, UTIL_EUNAVAIL,
					    "simpul-ingest (%s) %s; log %s:\n%s", env->ingest_bin,
					    st == UTIL_ETIMEOUT ? "not healthy in time" : "exited",
					    in->log_path, tail);
		}
		ts_sleep_ms(100);
	}
	return 0;
}

int ts_ingest_stop(struct ts_ingest *in, int wait_ms)
{
	int rc;

	if (in->pid <= 0)
		return 0;
	kill(in->pid, SIGTERM);
	rc = wait_pid(in->pid, wait_ms);
	if (rc == UTIL_ETIMEOUT) {
		fprintf(stderr, "ts: simpul-ingest pid %d ignored SIGTERM for %d ms: SIGKILL\n",
			in->pid, wait_ms);
		kill(in->pid, SIGKILL);
		wait_pid(in->pid, 5000);
	}
	in->pid = 0;
	return rc;
}

void ts_ingest_dump_log(const struct ts_ingest *in, int lines)
{
	char tail[8192];
	int seen = 0;
	char *p;

	log_tail(in->log_path, tail, sizeof(tail));
	for (p = tail + strlen(tail); p > tail; p--)
		if (*p == '\n' && ++seen > lines)
			break;
	fprintf(stderr, "---- tail of %s ----\n%s\n----\n", in->log_path, p);
}

static void read_avail(int fd, char *out, size_t outlen, size_t *len)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		size_t room = outlen && *len < outlen - 1 ? outlen - 1 - *len : 0;
		size_t take = (size_t)n < room ? (size_t)n : room;
		memcpy(out + *len, buf, take);
		*len += take;
		if (outlen)
			out[*len] = '\0';
	}
}

int ts_run(char *const argv[], int wait_ms, char *out, size_t outlen)
{
	int pfd[2], st = UTIL_ETIMEOUT;
	size_t len = 0;
	int64_t end = ts_now_ms() + wait_ms;
	pid_t pid;

	if (outlen)
		out[0] = '\0';
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return UTIL_EIO;
	pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		execv(argv[0], argv);
		fprintf(stderr, "exec '%s': %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		return UTIL_EIO;
	}
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	while (ts_now_ms() < end) {
		struct pollfd p = {.fd = pfd[0], .events = POLLIN};
		poll(&p, 1, 50);
		read_avail(pfd[0], out, outlen, &len);
		st = wait_pid(pid, 0);
		if (st != UTIL_ETIMEOUT)
			break;
	}
	if (st == UTIL_ETIMEOUT) {
		kill(pid, SIGKILL);
		wait_pid(pid, 5000);
	}
	read_avail(pfd[0], out, outlen, &len);
	close(pfd[0]);
	return st;
}

int ts_stack_run(const struct ts_env *env, const char *sub, int wait_ms, char *err, size_t errlen)
{
	char out[2048];
	char *argv[] = {env->stack, (char *)sub, NULL};
	int rc = ts_run(argv, wait_ms, out, sizeof(out));

	if (rc == 0)
		return 0;
	if (rc == UTIL_ETIMEOUT)
		return util_err_set(err, errlen, UTIL_ETIMEOUT, "'%s %s' timed out after %d ms: %s",
				    env->stack, sub, wait_ms, out);
	return util_err_set(err, errlen, UTIL_EIO, "'%s %s' exited %d: %s", env->stack, sub, rc,
			    out);
}

double ts_proc_cpu_seconds(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;
	size_t n;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the command name may hold spaces */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			 &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}
