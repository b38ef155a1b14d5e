/*
 * tests/overload/ingest_shed_test.c - admission control made deterministic:
 * simpul-ingest runs with SIMPUL_INGEST_MAX_IN_FLIGHT=1.
 *
 * 1. Slow uploads do not count: many connections that sent their headers
 *    and only part of the body (slow-loris) leave http_requests_in_flight
 *    alone, and a normal submission is still accepted meanwhile.
 * 2. The shed reply: the test holds one COMPLETE submission in flight (its
 *    Idempotency-Key is locked by an open PostgreSQL transaction, so its
 *    group commit waits). Every write route then answers at once with
 *    503 {"error":{"code":"overloaded"}} and Retry-After: 1, decided at the
 *    headers, before the token or the body is looked at (an invalid one gets
 *    the 503 too); GET routes are not shed. Once the transaction ends, the
 *    held submission is accepted (202: nothing it held was lost) and
 *    admission reopens by itself.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "ts/ts.h"

#define SLOW_UPLOADS 24

static struct ts_ctx ctx;
static const char *const extra_env[] = {"SIMPUL_INGEST_MAX_IN_FLIGHT=1", NULL};

static int setup(void **state)
{
	(void)state;
	return ts_ctx_setup(&ctx, extra_env) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return ts_ctx_teardown(&ctx) == 0 ? 0 : -1;
}

/* Opens a connection and sends a POST whose body never completes. */
static int slow_upload(void)
{
	static const char req[] = "POST /v1/content HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				  "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{";
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)ctx.ingest.port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, req, sizeof(req) - 1), (ssize_t)(sizeof(req) - 1));
	return fd;
}

static long post(const char *path, const char *token, const char *key, const char *body,
		 struct ts_response *r)
{
	char k[96];

	if (!key) {
		ts_key(&ctx.fx, "shed", k, sizeof(k));
		key = k;
	}
	ts_http_post_json(r, ts_ctx_url(&ctx, path), token, key, body);
	return r->status;
}

/* http_requests_in_flight as /metrics shows it (this GET counts itself). */
static long in_flight(void)
{
	struct ts_response r;
	const char *p;
	long n = -1;

	ts_http(&r, "GET", ts_ctx_url(&ctx, "/metrics"), NULL, NULL, NULL, 0);
	assert_int_equal(r.status, 200);
	p = strstr(r.body, "\nhttp_requests_in_flight ");
	if (p)
		n = strtol(p + strlen("\nhttp_requests_in_flight "), NULL, 10);
	ts_response_release(&r);
	return n;
}

static void test_slow_uploads_do_not_count(void **state)
{
	const char *token = ctx.fx.users[TS_KIM_ADMIN].token;
	char *body = ts_json_content("berita", "Uji lambat", "Isi", ctx.fx.desa, ctx.fx.kim_id);
	struct ts_response r;
	int fds[SLOW_UPLOADS];

	(void)state;
	assert_non_null(body);
	for (int i = 0; i < SLOW_UPLOADS; i++)
		fds[i] = slow_upload();
	ts_sleep_ms(300); /* the server has read every header by now */
	assert_int_equal(in_flight(), 1); /* the GET itself, none of the uploads */
	assert_int_equal(post("/v1/content", token, NULL, body, &r), 202);
	ts_response_release(&r);
	for (int i = 0; i < SLOW_UPLOADS; i++)
		close(fds[i]);
	free(body);
}

struct held {
	const char *token, *key, *body;
	struct ts_response r;
};

static void *held_post(void *p)
{
	struct held *h = p;

	post("/v1/content", h->token, h->key, h->body, &h->r);
	return NULL;
}

static void test_shed_reply(void **state)
{
	const char *token = ctx.fx.users[TS_KIM_ADMIN].token;
	char *body = ts_json_content("berita", "Uji tolak", "Isi", ctx.fx.desa, ctx.fx.kim_id);
	char key[96], err[256];
	const char *params[2];
	struct held h = {0};
	struct ts_response r;
	PGresult *res;
	pthread_t t;
	int tries = 0;

	(void)state;
	assert_non_null(body);
	ts_key(&ctx.fx, "held", key, sizeof(key));
	params[0] = ctx.fx.users[TS_KIM_ADMIN].id;
	params[1] = key;
	res = ts_pg_query(ctx.pg, "BEGIN", 0, NULL, err, sizeof(err));
	assert_non_null(res);
	PQclear(res);
	res = ts_pg_query(ctx.pg,
			  "INSERT INTO simpul.idempotency_keys (scope, key, request_hash, "
			  "resource_type, resource_id) VALUES ($1, $2, "
			  "pg_catalog.sha256(''::bytea), 'content', pg_catalog.gen_random_uuid())",
			  2, params, err, sizeof(err));
	if (!res)
		fail_msg("lock insert: %s", err);
	PQclear(res);
	h = (struct held){.token = token, .key = key, .body = body};
	assert_int_equal(pthread_create(&t, NULL, held_post, &h), 0);
	/* wait until its group commit waits for our lock: it is in flight */
	while (ts_pg_count(ctx.pg,
			   "SELECT count(*) FROM pg_catalog.pg_stat_activity "
			   "WHERE pg_catalog.pg_backend_pid() = ANY (pg_catalog.pg_blocking_pids(pid))",
			   0, NULL) < 1 &&
	       ++tries < 200)
		ts_sleep_ms(50);
	assert_int_equal(in_flight(), 2); /* this GET and the held submission */

	assert_int_equal(post("/v1/content", token, NULL, body, &r), 503);
	assert_string_equal(r.error_code, "overloaded");
	assert_string_equal(r.retry_after, "1");
	ts_response_release(&r);
	/* shed before authentication and parsing */
	assert_int_equal(post("/v1/content", "simpul_not-a-token", NULL, "not json", &r), 503);
	assert_string_equal(r.error_code, "overloaded");
	ts_response_release(&r);
	assert_int_equal(post("/v1/kims", token, NULL, "{}", &r), 503);
	ts_response_release(&r);
	assert_int_equal(post("/v1/aspirasi", NULL, NULL, "{}", &r), 503);
	ts_response_release(&r);
	assert_int_equal(post("/v1/content:batch", token, NULL, "{}", &r), 503);
	ts_response_release(&r);
	/* reads are not shed: unknown content is a 404 */
	ts_http(&r, "GET", ts_ctx_url(&ctx, "/v1/content/00000000-0000-4000-8000-000000000000"),
		NULL, NULL, NULL, 0);
	assert_true(r.status == 401 || r.status == 404);
	ts_response_release(&r);

	/* the lock goes: the held submission commits and gets its 202 */
	res = ts_pg_query(ctx.pg, "ROLLBACK", 0, NULL, err, sizeof(err));
	assert_non_null(res);
	PQclear(res);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(h.r.status, 202);
	assert_int_equal(ts_pg_count(ctx.pg,
				     "SELECT count(*) FROM simpul.idempotency_keys WHERE scope = $1 "
				     "AND key = $2 AND resource_id::text = $3",
				     3, (const char *const[]){params[0], key, h.r.id}),
			 1);
	ts_response_release(&h.r);
	/* admission reopens by itself */
	tries = 0;
	while (post("/v1/content", token, NULL, body, &r) != 202 && ++tries < 100) {
		ts_response_release(&r);
		ts_sleep_ms(100);
	}
	assert_int_equal(r.status, 202);
	ts_response_release(&r);
	free(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slow_uploads_do_not_count),
		cmocka_unit_test(test_shed_reply),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
