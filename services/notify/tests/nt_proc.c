/*
 * services/notify/tests/nt_proc.c - a simpul-notify child on a free loopback
 * port (killed with the test if the test dies), and synthetic input events
 * produced through libs/kafka with the five simpul-* headers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "events/codec.h"
#include "events/meta.h"
#include "kafka/producer.h"
#include "nt.h"
#include "ts/ts.h"
#include "util/buf.h"

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

static bool healthy(const char *base)
{
	struct ts_response r;
	char url[128];
	bool ok;

	snprintf(url, sizeof(url), "%s/healthz", base);
	ts_http(&r, "GET", url, NULL, NULL, NULL, 0);
	ok = r.status == 200;
	ts_response_release(&r);
	return ok;
}

static void dump_tail(const char *path)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "tail -n 30 '%s' >&2", path);
	if (system(cmd) != 0)
		fprintf(stderr, "(no log at %s)\n", path);
}

int nt_service_start(struct nt_service *s, const char *bin, const char *const *extra,
		     int wait_ms)
{
	pid_t parent = getpid();
	int64_t end = ts_now_ms() + wait_ms;

	memset(s, 0, sizeof(*s));
	s->port = free_port();
	snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%u", s->port);
	snprintf(s->log, sizeof(s->log), "/tmp/simpul-test-notify-%d-%u.log", (int)parent, s->port);
	s->pid = fork();
	if (s->pid < 0)
		return -1;
	if (s->pid == 0) {
		char p[32];
		int fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		snprintf(p, sizeof(p), "%u", s->port);
		setenv("SIMPUL_NOTIFY_PORT", p, 1);
		setenv("SIMPUL_NOTIFY_BIND", "127.0.0.1", 1);
		for (size_t i = 0; extra && extra[i]; i++)
			putenv((char *)extra[i]);
		execl(bin, bin, (char *)NULL);
		fprintf(stderr, "exec '%s': %s\n", bin, strerror(errno));
		_exit(127);
	}
	while (!healthy(s->base)) {
		int st;
		if (waitpid(s->pid, &st, WNOHANG) == s->pid || ts_now_ms() > end) {
			fprintf(stderr, "simpul-notify did not become healthy; log %s:\n", s->log);
			dump_tail(s->log);
			nt_service_stop(s);
			return -1;
		}
		ts_sleep_ms(100);
	}
	return 0;
}

int nt_service_stop(struct nt_service *s)
{
	int st = 0;

	if (s->pid <= 0)
		return -1;
	kill(s->pid, SIGTERM);
	for (int i = 0; i < 300; i++) {
		if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
			s->pid = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		ts_sleep_ms(50);
	}
	kill(s->pid, SIGKILL);
	waitpid(s->pid, &st, 0);
	s->pid = 0;
	return -1;
}

/* The test's one producer (created on first use, never freed). */
static struct kafka_producer *producer(const char *brokers)
{
	struct kafka_producer_config pc = {.brokers = brokers, .client_id = "notify-test"};
	static struct kafka_producer *p;
	char err[256];

	if (!p && !(p = kafka_producer_new(&pc, err, sizeof(err))))
		fprintf(stderr, "producer: %s\n", err);
	return p;
}

int nt_produce_garbage(const char *brokers, const char *topic, const char *key)
{
	static const char junk[] = "\xff\xff\xff not a protobuf message";
	struct kafka_producer *p = producer(brokers);

	return p && kafka_producer_send(p, topic, key, strlen(key), junk, sizeof(junk) - 1, NULL,
					0, NULL) == 0 ? 0 : -1;
}

int nt_produce(const char *brokers, const char *topic, const char *key,
	       const ProtobufCMessage *msg, const void *meta)
{
	struct kafka_producer *p = producer(brokers);
	struct events_headers hs;
	struct util_buf out;
	char err[256] = "";
	size_t nh;
	int rc = -1;

	if (!p)
		return -1;
	util_buf_init(&out, 0);
	nh = events_headers_from_meta(&hs, meta);
	if (events_pack(msg, 0, &out, err, sizeof(err)) == 0 &&
	    kafka_producer_send(p, topic, key, strlen(key), out.data, out.len, hs.h, nh, NULL) == 0 &&
	    kafka_producer_flush(p, 60000) == 0)
		rc = 0;
	else
		fprintf(stderr, "produce to %s failed: %s\n", topic, err);
	util_buf_release(&out);
	return rc;
}
