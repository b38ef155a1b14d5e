/*
 * tests/e2e/pipeline.c - the five services as children of a test: start on
 * a fixed port, SIGKILL, restart on the same port, graceful stop, and JSON
 * calls to them (see pipeline.h).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pipeline.h"
#include "report_stack.h"
#include "ts/ts.h"
#include "util/err.h"

static const char *const names[PL_NSVC] = {"ingest", "moderate", "search", "notify", "report"};

const char *pl_name(enum pl_svc s)
{
	return names[s];
}

int pl_setenv(struct pl *pl, enum pl_svc s, const char *name, const char *value)
{
	struct pl_proc *p = &pl->p[s];
	size_t len = strlen(name) + strlen(value) + 2;
	char *kv;

	for (size_t i = 0; i < p->nextra; i++) {
		size_t nl = strlen(name);

		if (!strncmp(p->extra[i], name, nl) && p->extra[i][nl] == '=') {
			kv = malloc(len);
			if (!kv)
				return UTIL_ENOMEM;
			snprintf(kv, len, "%s=%s", name, value);
			free(p->extra[i]);
			p->extra[i] = kv;
			return 0;
		}
	}
	if (p->nextra >= PL_EXTRA_MAX)
		return UTIL_EINVAL;
	kv = malloc(len);
	if (!kv)
		return UTIL_ENOMEM;
	snprintf(kv, len, "%s=%s", name, value);
	p->extra[p->nextra++] = kv;
	p->extra[p->nextra] = NULL;
	return 0;
}

/* "SIMPUL_<NAME>_<suffix>" for service s into out. */
static void var(enum pl_svc s, const char *suffix, char *out, size_t outlen)
{
	char up[16];
	size_t i;

	for (i = 0; names[s][i] && i < sizeof(up) - 1; i++)
		up[i] = (char)toupper((unsigned char)names[s][i]);
	up[i] = '\0';
	snprintf(out, outlen, "SIMPUL_%s_%s", up, suffix);
}

int pl_init(struct pl *pl, const char *const bins[PL_NSVC], unsigned port_base,
	    const char *group_prefix, const char *tag, char *err, size_t errlen)
{
	memset(pl, 0, sizeof(*pl));
	for (int s = 0; s < PL_NSVC; s++) {
		struct pl_proc *p = &pl->p[s];
		char name[64], group[128];

		p->name = names[s];
		p->bin = bins[s];
		p->port = port_base + (unsigned)s;
		if (access(p->bin, X_OK) != 0)
			return util_err_set(err, errlen, UTIL_EINVAL, "service binary \"%s\": %s",
					    p->bin, strerror(errno));
		snprintf(p->base, sizeof(p->base), "http://127.0.0.1:%u", p->port);
		snprintf(p->log, sizeof(p->log), "/tmp/simpul-%s-%s-%u.log", tag, p->name, p->port);
		unlink(p->log);
		var((enum pl_svc)s, "GROUP", name, sizeof(name));
		snprintf(group, sizeof(group), "%s-%s", group_prefix, p->name);
		if (s != PL_INGEST && pl_setenv(pl, (enum pl_svc)s, name, group) != 0)
			return util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
	}
	if (pl_setenv(pl, PL_INGEST, "SIMPUL_INGEST_INTAKE", "off") != 0)
		return util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
	return 0;
}

static bool healthy(const struct pl_proc *p)
{
	struct ts_response r;
	char url[128];
	bool ok;

	snprintf(url, sizeof(url), "%s/healthz", p->base);
	ts_http(&r, "GET", url, NULL, NULL, NULL, 0);
	ok = r.status == 200;
	ts_response_release(&r);
	return ok;
}

/* The last ~1 KiB of a log into out. */
static void tail_into(const char *path, char *out, size_t outlen)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (outlen)
		out[0] = '\0';
	if (!f || outlen < 2)
		goto out;
	if (fseek(f, -(long)(outlen - 1 < 1024 ? outlen - 1 : 1024), SEEK_END) != 0)
		rewind(f);
	n = fread(out, 1, outlen - 1, f);
	out[n] = '\0';
out:
	if (f)
		fclose(f);
}

bool pl_alive(struct pl *pl, enum pl_svc s)
{
	struct pl_proc *p = &pl->p[s];
	int st;

	if (p->pid <= 0)
		return false;
	if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
		p->pid = 0;
		p->last_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		return false;
	}
	return true;
}

int pl_start(struct pl *pl, enum pl_svc s, int wait_ms, char *err, size_t errlen)
{
	struct pl_proc *p = &pl->p[s];
	int64_t end = ts_now_ms() + wait_ms;
	pid_t parent = getpid();
	char port_var[64], bind_var[64], port[16];
	char tail[1100];
	FILE *log;

	if (pl_alive(pl, s))
		return 0;
	var(s, "PORT", port_var, sizeof(port_var));
	var(s, "BIND", bind_var, sizeof(bind_var));
	snprintf(port, sizeof(port), "%u", p->port);
	log = fopen(p->log, "a");
	if (log) {
		fprintf(log, "\n===== start %d of simpul-%s =====\n", p->starts + 1, p->name);
		fclose(log);
	}
	p->pid = fork();
	if (p->pid < 0) {
		p->pid = 0;
		return util_err_set(err, errlen, UTIL_EIO, "fork: %s", strerror(errno));
	}
	if (p->pid == 0) {
		int fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		setenv(port_var, port, 1);
		setenv(bind_var, "127.0.0.1", 1);
		for (size_t i = 0; i < p->nextra; i++)
			putenv(p->extra[i]);
		execl(p->bin, p->bin, (char *)NULL);
		fprintf(stderr, "exec '%s': %s\n", p->bin, strerror(errno));
		_exit(127);
	}
	p->starts++;
	p->last_status = -1;
	while (!healthy(p)) {
		if (!pl_alive(pl, s) || ts_now_ms() > end) {
			bool died = p->pid == 0;

			pl_kill9(pl, s);
			tail_into(p->log, tail, sizeof(tail));
			return util_err_set(err, errlen, UTIL_EUNAVAIL,
					    "simpul-%s %s on port %u; log %s:\n%s", p->name,
					    died ? "exited at start" : "not healthy in time", p->port,
					    p->log, tail);
		}
		ts_sleep_ms(100);
	}
	return 0;
}

int pl_start_all(struct pl *pl, int wait_ms, char *err, size_t errlen)
{
	for (int s = 0; s < PL_NSVC; s++) {
		int rc = pl_start(pl, (enum pl_svc)s, wait_ms, err, errlen);

		if (rc)
			return rc;
	}
	return 0;
}

int pl_kill9(struct pl *pl, enum pl_svc s)
{
	struct pl_proc *p = &pl->p[s];
	int st;

	if (p->pid <= 0)
		return UTIL_ENOTFOUND;
	kill(p->pid, SIGKILL);
	while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
		;
	p->pid = 0;
	return 0;
}

int pl_stop(struct pl *pl, enum pl_svc s, int wait_ms)
{
	struct pl_proc *p = &pl->p[s];
	int64_t end = ts_now_ms() + wait_ms;
	int st;

	if (p->pid <= 0)
		return 0;
	kill(p->pid, SIGTERM);
	while (ts_now_ms() < end) {
		if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
			p->pid = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		ts_sleep_ms(50);
	}
	fprintf(stderr, "pipeline: simpul-%s ignored SIGTERM for %d ms: SIGKILL\n", p->name,
		wait_ms);
	pl_kill9(pl, s);
	return 128 + SIGKILL;
}

int pl_stop_all(struct pl *pl, int wait_ms)
{
	int bad = 0;

	for (int s = PL_NSVC - 1; s >= 0; s--) {
		struct pl_proc *p = &pl->p[s];
		int st = pl_stop(pl, (enum pl_svc)s, wait_ms);

		if (st != 0) {
			fprintf(stderr, "pipeline: simpul-%s exit status %d on SIGTERM\n", p->name,
				st);
			pl_dump_log(pl, (enum pl_svc)s, 30);
			bad++;
		}
		for (size_t i = 0; i < p->nextra; i++)
			free(p->extra[i]);
		p->nextra = 0;
		p->extra[0] = NULL;
	}
	return bad;
}

const char *pl_url(const struct pl *pl, enum pl_svc s, const char *path, char *out,
		   size_t outlen)
{
	snprintf(out, outlen, "%s%s", pl->p[s].base, path);
	return out;
}

json_t *pl_json(const struct pl *pl, enum pl_svc s, const char *method, const char *path,
		const char *token, const char *body, long *status)
{
	char url[1024], auth[128];
	const char *h[] = {auth, NULL};
	struct ts_response r;
	json_t *j;

	pl_url(pl, s, path, url, sizeof(url));
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token ? token : "");
	ts_http(&r, method, url, token ? h : NULL, body ? "application/json" : NULL, body,
		body ? strlen(body) : 0);
	*status = r.status;
	j = r.body ? json_loads(r.body, 0, NULL) : NULL;
	ts_response_release(&r);
	return j;
}

void pl_dump_log(const struct pl *pl, enum pl_svc s, int lines)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "tail -n %d '%s' >&2", lines, pl->p[s].log);
	if (system(cmd) != 0)
		fprintf(stderr, "(no log at %s)\n", pl->p[s].log);
}

int pl_wait_assigned(const struct pl *pl, enum pl_svc s, int ms)
{
	struct rs_service rs = {.pid = pl->p[s].pid, .port = pl->p[s].port};

	snprintf(rs.log, sizeof(rs.log), "%s", pl->p[s].log);
	return rs_wait_log(&rs, "kafka partitions assigned", ms);
}
