/*
 * tests/overload/ingest_shed_test.c - the shape of a shed request, made
 * deterministic: simpul-ingest runs with SIMPUL_INGEST_MAX_IN_FLIGHT=1 and
 * the test holds one POST open (headers sent, body unfinished: the server
 * counts it in flight). Every write route then answers at once with
 * 503 {"error":{"code":"overloaded"}} and Retry-After: 1, before looking at
 * the token or the body (an invalid one gets the 503 too); GET routes are
 * not shed. Once the held request is gone, the same submission is accepted.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
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
static int hold_request(void)
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

static long post(const char *path, const char *token, const char *body, struct ts_response *r)
{
	char key[96];

	ts_key(&ctx.fx, "shed", key, sizeof(key));
	ts_http_post_json(r, ts_ctx_url(&ctx, path), token, key, body);
	return r->status;
}

static void test_shed_reply(void **state)
{
	const char *token = ctx.fx.users[TS_KIM_ADMIN].token;
	char *body = ts_json_content("berita", "Uji tolak", "Isi", ctx.fx.desa, ctx.fx.kim_id);
	struct ts_response r;
	int fd, tries = 0;

	(void)state;
	assert_non_null(body);
	fd = hold_request();
	/* the held request counts once the server has read its headers */
	while (post("/v1/content", token, body, &r) != 503 && ++tries < 100) {
		assert_int_equal(r.status, 202);
		ts_response_release(&r);
		ts_sleep_ms(100);
	}
	assert_int_equal(r.status, 503);
	assert_string_equal(r.error_code, "overloaded");
	assert_string_equal(r.retry_after, "1");
	ts_response_release(&r);
	/* shed before authentication and parsing */
	assert_int_equal(post("/v1/content", "simpul_not-a-token", "not json", &r), 503);
	assert_string_equal(r.error_code, "overloaded");
	ts_response_release(&r);
	assert_int_equal(post("/v1/kims", token, "{}", &r), 503);
	ts_response_release(&r);
	assert_int_equal(post("/v1/aspirasi", NULL, "{}", &r), 503);
	ts_response_release(&r);
	/* reads are not shed: unknown content is a 404 */
	ts_http(&r, "GET", ts_ctx_url(&ctx, "/v1/content/00000000-0000-4000-8000-000000000000"),
		NULL, NULL, NULL, 0);
	assert_true(r.status == 401 || r.status == 404);
	ts_response_release(&r);
	/* the held request ends: admission reopens by itself */
	close(fd);
	tries = 0;
	while (post("/v1/content", token, body, &r) != 202 && ++tries < 100) {
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
		cmocka_unit_test(test_shed_reply),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
