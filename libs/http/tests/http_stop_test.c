/*
 * Regression tests of libs/http's stop and limits over raw loopback sockets
 * (exact control of when bytes reach the server): no connection may be
 * suspended when libmicrohttpd's daemon stops (that aborts the process),
 * the forced 503 carries none of the handler's headers, and a chunked upload
 * over the cap is refused without reading it to the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"
#include "slog/slog.h"

static atomic_int jobs_running;
static atomic_int handler_calls;

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ---- handlers ---- */

struct job {
	struct http_request *req;
	int delay_ms;
};

static void *job_run(void *p)
{
	struct job *j = p;

	sleep_ms(j->delay_ms);
	http_reply(j->req, 202, "application/json", "{}", 2);
	free(j);
	atomic_fetch_sub(&jobs_running, 1);
	return NULL;
}

/* Replies from another thread after *(int *)ud ms. */
static void h_async(struct http_request *req, void *ud)
{
	struct job *j = malloc(sizeof(*j));
	pthread_t t;

	assert_non_null(j);
	atomic_fetch_add(&handler_calls, 1);
	j->req = req;
	j->delay_ms = *(const int *)ud;
	atomic_fetch_add(&jobs_running, 1);
	assert_int_equal(pthread_create(&t, NULL, job_run, j), 0);
	pthread_detach(t);
}

/* Adds headers meant for its own (201) reply, then replies only late. */
static void h_headers_then_slow(struct http_request *req, void *ud)
{
	assert_int_equal(http_reply_header(req, "Location", "/v1/thing/1"), 0);
	assert_int_equal(http_reply_header(req, "X-Handler", "yes"), 0);
	h_async(req, ud);
}

static void h_echo(struct http_request *req, void *ud)
{
	struct util_slice b = http_request_body(req);

	atomic_fetch_add(&handler_calls, 1);
	http_reply(req, 200, "application/octet-stream", b.ptr, b.len);
}

static const int quick_ms = 2, slow_ms = 1500;

static const struct http_route routes[] = {
	{"POST", "/v1/quick", h_async, (void *)&quick_ms, 0},
	{"POST", "/v1/slow", h_async, (void *)&slow_ms, 0},
	{"GET", "/v1/headers-slow", h_headers_then_slow, (void *)&slow_ms, 0},
	{"POST", "/v1/echo", h_echo, NULL, 0},
};

static struct http_server *start(int threads, int grace_ms, int *port)
{
	struct http_server_config cfg = {.bind_addr = "127.0.0.1", .threads = threads,
					 .max_body = 1024, .shutdown_grace_ms = grace_ms,
					 .service = "stop_test"};
	char err[256] = "";
	struct http_server *srv;

	srv = http_server_new(&cfg, routes, sizeof(routes) / sizeof(routes[0]), NULL, err,
			      sizeof(err));
	assert_non_null(srv);
	assert_int_equal(http_server_start(srv, err, sizeof(err)), 0);
	*port = http_server_port(srv);
	return srv;
}

static void wait_jobs(void)
{
	while (atomic_load(&jobs_running) > 0)
		sleep_ms(5);
}

/* ---- raw client ---- */

/* A connected socket with a receive timeout, or -1. */
static int dial(int port, int rcv_timeout_ms)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct timeval tv = {rcv_timeout_ms / 1000, (rcv_timeout_ms % 1000) * 1000};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool send_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

enum rsp { RSP_OK, RSP_EOF, RSP_TIMEOUT, RSP_PARTIAL };

struct reply {
	int status;
	bool close;
	char head[4096];
};

/*
 * Reads one response (headers, then Content-Length bytes). RSP_EOF: the
 * connection closed before any byte of it; RSP_PARTIAL: closed midway.
 */
static enum rsp read_reply(int fd, struct reply *r)
{
	char buf[8192];
	size_t len = 0, need = 0;
	char *end = NULL;

	memset(r, 0, sizeof(*r));
	for (;;) {
		ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return RSP_TIMEOUT;
		if (n <= 0)
			return len ? RSP_PARTIAL : RSP_EOF;
		len += (size_t)n;
		buf[len] = '\0';
		if (!end && (end = strstr(buf, "\r\n\r\n"))) {
			const char *cl = strcasestr(buf, "\r\nContent-Length:");

			need = (size_t)(end + 4 - buf) + (cl ? strtoul(cl + 17, NULL, 10) : 0);
			snprintf(r->head, sizeof(r->head), "%.*s", (int)(end - buf), buf);
			r->status = atoi(buf + 9);
			r->close = strcasestr(r->head, "\r\nConnection: close") != NULL;
		}
		if (end && len >= need)
			return RSP_OK;
		if (len == sizeof(buf) - 1)
			return RSP_PARTIAL;
	}
}

struct stopper {
	struct http_server *srv;
	pthread_t t;
};

static void *stop_run(void *p)
{
	http_server_stop(((struct stopper *)p)->srv);
	return NULL;
}

/* ---- tests ---- */

/*
 * A request still uploading when the grace period ends must not be handed
 * to its handler afterwards (it would be suspended while the daemon stops,
 * and libmicrohttpd aborts the process): it gets the 503.
 */
static void upload_finishing_after_grace_gets_503(void **state)
{
	static const char head[] = "POST /v1/slow HTTP/1.1\r\nHost: t\r\n"
				   "Content-Length: 10\r\n\r\n12345";
	struct stopper st;
	struct reply r;
	int port, fd;

	st.srv = start(2, 200, &port);
	atomic_store(&handler_calls, 0);
	fd = dial(port, 5000);
	assert_true(fd >= 0);
	assert_true(send_all(fd, head, sizeof(head) - 1));
	sleep_ms(100);
	assert_int_equal(pthread_create(&st.t, NULL, stop_run, &st), 0);
	sleep_ms(500); /* grace (200 ms) is over, the server waits for replies */
	assert_true(send_all(fd, "67890", 5));
	assert_int_equal(read_reply(fd, &r), RSP_OK);
	assert_int_equal(r.status, 503);
	assert_true(r.close);
	assert_int_equal(atomic_load(&handler_calls), 0);
	pthread_join(st.t, NULL);
	close(fd);
	http_server_free(st.srv);
	wait_jobs();
}

/*
 * The forced 503 is the server's answer, not the handler's: headers the
 * handler added for its own reply (Location, ...) must not leak into it.
 */
static void forced_503_has_no_handler_headers(void **state)
{
	static const char req[] = "GET /v1/headers-slow HTTP/1.1\r\nHost: t\r\n\r\n";
	struct reply r;
	int port, fd;
	struct http_server *srv = start(2, 100, &port);

	fd = dial(port, 5000);
	assert_true(fd >= 0);
	assert_true(send_all(fd, req, sizeof(req) - 1));
	sleep_ms(100);
	http_server_stop(srv);
	assert_int_equal(read_reply(fd, &r), RSP_OK);
	assert_int_equal(r.status, 503);
	assert_null(strcasestr(r.head, "\r\nLocation:"));
	assert_null(strcasestr(r.head, "\r\nX-Handler:"));
	assert_non_null(strcasestr(r.head, "\r\nX-Request-Id:"));
	close(fd);
	http_server_free(srv);
	wait_jobs();
}

/*
 * A chunked upload far past the cap is cut off, not read to its end (a
 * little over the cap gets its 413: see http_test's body_too_large).
 */
static void chunked_far_over_cap_cut_off(void **state)
{
	static const char head[] = "POST /v1/echo HTTP/1.1\r\nHost: t\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n";
	enum { BIG = 200 * 1024 };
	char *chunk = malloc(BIG + 16);
	struct reply r;
	enum rsp got;
	int port, fd, n;
	struct http_server *srv = start(2, 1000, &port);

	assert_non_null(chunk);
	atomic_store(&handler_calls, 0);
	n = snprintf(chunk, 16, "%x\r\n", (unsigned)BIG);
	memset(chunk + n, 'a', BIG);
	fd = dial(port, 3000);
	assert_true(fd >= 0);
	assert_true(send_all(fd, head, sizeof(head) - 1));
	(void)send_all(fd, chunk, (size_t)n + BIG); /* may fail: the server hangs up */
	/* The upload is not over (no last chunk): the server must not wait. */
	got = read_reply(fd, &r);
	if (got == RSP_TIMEOUT)
		fail_msg("server still reading an upload far over the cap");
	if (got == RSP_OK)
		assert_int_equal(r.status, 413);
	assert_int_equal(atomic_load(&handler_calls), 0);
	close(fd);
	free(chunk);
	http_server_free(srv);
}

/* ---- many keep-alive clients while the server stops ---- */

struct client {
	int port;
	unsigned seed;
	atomic_bool *stop;
	int sent, answered, s202, s503, lost, bad;
};

/* One keep-alive connection after another until stopped or refused. */
static void *client_run(void *p)
{
	static const char req[] = "POST /v1/quick HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
				  "\r\n{}";
	struct client *c = p;
	int fd = -1;

	while (!atomic_load(c->stop)) {
		struct reply r;
		enum rsp got;

		if (fd < 0 && (fd = dial(c->port, 5000)) < 0)
			break; /* not listening any more */
		/* idle a little, as keep-alive clients do, then send */
		sleep_ms(rand_r(&c->seed) % 4 == 0 ? rand_r(&c->seed) % 40 : 0);
		if (!send_all(fd, req, sizeof(req) - 1)) {
			close(fd);
			fd = -1;
			continue;
		}
		c->sent++;
		got = read_reply(fd, &r);
		if (got == RSP_OK) {
			c->answered++;
			c->s202 += r.status == 202;
			c->s503 += r.status == 503;
			c->bad += r.status != 202 && r.status != 503;
		} else if (got == RSP_EOF) {
			c->lost++; /* closed before the server read it: a client retries */
		} else {
			c->bad++;
		}
		if (got != RSP_OK || r.close) {
			close(fd);
			fd = -1;
		}
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void keep_alive_clients_during_stop(void **state)
{
	enum { NCLIENT = 6, ROUNDS = 12 };
	int total202 = 0, total503 = 0;

	for (int round = 0; round < ROUNDS; round++) {
		struct client cl[NCLIENT];
		pthread_t t[NCLIENT];
		atomic_bool stop;
		int port;
		struct http_server *srv = start(2, round % 2 ? 50 : 300, &port);

		atomic_init(&stop, false);
		for (int i = 0; i < NCLIENT; i++) {
			cl[i] = (struct client){.port = port, .seed = (unsigned)(round * 31 + i),
						.stop = &stop};
			assert_int_equal(pthread_create(&t[i], NULL, client_run, &cl[i]), 0);
		}
		sleep_ms(100 + round * 7);
		http_server_stop(srv); /* must never abort */
		atomic_store(&stop, true);
		for (int i = 0; i < NCLIENT; i++) {
			pthread_join(t[i], NULL);
			if (cl[i].bad)
				fail_msg("round %d client %d: %d requests without a whole reply",
					 round, i, cl[i].bad);
			total202 += cl[i].s202;
			total503 += cl[i].s503;
		}
		http_server_free(srv);
		wait_jobs();
	}
	assert_true(total202 > 0);
	(void)total503;
}

/* argv[1], if given, selects tests by name (cmocka pattern). */
int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(upload_finishing_after_grace_gets_503),
		cmocka_unit_test(forced_503_has_no_handler_headers),
		cmocka_unit_test(chunked_far_over_cap_cut_off),
		cmocka_unit_test(keep_alive_clients_during_stop),
	};

	slog_init("http_stop_test", SLOG_ERROR);
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
