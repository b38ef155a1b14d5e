/*
 * tests/console/console_unit_test.c - the console's pure helpers: upstream
 * URL building (prefix, re-encoding, "." and ".." refused, only known query
 * arguments), which paths stream, static file names and types, and the
 * export cookie.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "console.h"
#include "util/err.h"

static const struct console_upstream mod = {"moderate", "http://127.0.0.1:8082",
					    "/v1/moderation/", NULL};
static const struct console_upstream srch = {"search", "http://127.0.0.1:8083", "/v1/", NULL};

static void test_url_paths(void **state)
{
	char out[512];

	(void)state;
	assert_int_equal(console_proxy_url(&mod, "/api/moderate/queue", NULL, NULL, 0, out,
					   sizeof(out)),
			 0);
	assert_string_equal(out, "http://127.0.0.1:8082/v1/moderation/queue");
	assert_int_equal(console_proxy_url(&mod, "/api/moderate/items/ab-12/claim", NULL, NULL, 0,
					   out, sizeof(out)),
			 0);
	assert_string_equal(out, "http://127.0.0.1:8082/v1/moderation/items/ab-12/claim");
	/* decoded bytes go out encoded again */
	assert_int_equal(console_proxy_url(&srch, "/api/search/a b?#\xc3\xa9", NULL, NULL, 0, out,
					   sizeof(out)),
			 0);
	assert_string_equal(out, "http://127.0.0.1:8083/v1/a%20b%3F%23%C3%A9");
	/* other trees, traversal, empty segments */
	assert_int_equal(console_proxy_url(&mod, "/api/report/dashboard", NULL, NULL, 0, out,
					   sizeof(out)),
			 UTIL_EINVAL);
	assert_int_equal(console_proxy_url(&mod, "/api/moderate/../metrics", NULL, NULL, 0, out,
					   sizeof(out)),
			 UTIL_EINVAL);
	assert_int_equal(console_proxy_url(&mod, "/api/moderate/items/./x", NULL, NULL, 0, out,
					   sizeof(out)),
			 UTIL_EINVAL);
	assert_int_equal(console_proxy_url(&mod, "/api/moderate/items//x", NULL, NULL, 0, out,
					   sizeof(out)),
			 UTIL_EINVAL);
	assert_int_equal(console_proxy_url(&mod, "/api/moderate/", NULL, NULL, 0, out,
					   sizeof(out)),
			 UTIL_EINVAL);
	assert_int_equal(console_proxy_url(&mod, "/api/moderate/queue", NULL, NULL, 0, out, 20),
			 UTIL_ETOOBIG);
}

static void test_url_query(void **state)
{
	const char *names[] = {"q", "region", "type"};
	const char *values[] = {"banjir OR \"jalan rusak\" -hoaks", NULL, "berita,umkm"};
	char out[512];

	(void)state;
	assert_int_equal(console_proxy_url(&srch, "/api/search/search", names, values, 3, out,
					   sizeof(out)),
			 0);
	assert_string_equal(out, "http://127.0.0.1:8083/v1/search?q=banjir%20OR%20%22jalan%20"
				 "rusak%22%20-hoaks&type=berita%2Cumkm");
}

static void test_query_names(void **state)
{
	bool cursor = false, token = false;

	(void)state;
	for (size_t i = 0; console_proxy_query_names[i]; i++) {
		cursor |= !strcmp(console_proxy_query_names[i], "cursor");
		token |= !strcmp(console_proxy_query_names[i], "token");
	}
	assert_true(cursor);
	assert_false(token);
}

static void test_streams(void **state)
{
	(void)state;
	assert_true(console_proxy_streams("/v1/reports/export"));
	assert_true(console_proxy_streams("/v1/reports/exports/0b9e/file"));
	assert_false(console_proxy_streams("/v1/reports/exports/0b9e"));
	assert_false(console_proxy_streams("/v1/reports/exports"));
	assert_false(console_proxy_streams("/v1/reports/dashboard"));
	assert_false(console_proxy_streams("/v1/reports/exports//file"));
}

static void test_static(void **state)
{
	(void)state;
	assert_true(console_static_name_ok("app.js"));
	assert_true(console_static_name_ok("app-3F2a.css"));
	assert_false(console_static_name_ok(".env"));
	assert_false(console_static_name_ok("../index.html"));
	assert_false(console_static_name_ok("a/b.js"));
	assert_false(console_static_name_ok(""));
	assert_false(console_static_name_ok(NULL));
	assert_string_equal(console_static_type("app.js"), "text/javascript; charset=utf-8");
	assert_string_equal(console_static_type("index.html"), "text/html; charset=utf-8");
	assert_string_equal(console_static_type("app.css"), "text/css; charset=utf-8");
	assert_string_equal(console_static_type("blob"), "application/octet-stream");
}

static void test_cookie(void **state)
{
	const char *tok = "simpul_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	char cookie[200], out[51];

	(void)state;
	snprintf(cookie, sizeof(cookie), "theme=dark; simpul_export=%s; x=1", tok);
	assert_true(console_cookie_token(cookie, out));
	assert_string_equal(out, tok);
	snprintf(cookie, sizeof(cookie), "simpul_export=%s", tok);
	assert_true(console_cookie_token(cookie, out));
	assert_false(console_cookie_token("simpul_export=short", out));
	assert_false(console_cookie_token("other_simpul_export=x", out));
	assert_false(console_cookie_token("", out));
	assert_false(console_cookie_token(NULL, out));
}

static void test_config_loopback(void **state)
{
	struct console_config cfg;
	char err[512];

	(void)state;
	setenv("SIMPUL_CONSOLE_SEARCH_URL", "http://10.1.2.3:8083", 1);
	setenv("SIMPUL_CONSOLE_REPORT_URL", "http://127.0.0.1:8085/", 1);
	assert_int_equal(console_config_load(&cfg, err, sizeof(err)), UTIL_EINVAL);
	assert_non_null(strstr(err, "SIMPUL_CONSOLE_SEARCH_URL"));
	assert_non_null(strstr(err, "SIMPUL_CONSOLE_REPORT_URL"));
	console_config_release(&cfg);
	setenv("SIMPUL_CONSOLE_SEARCH_URL", "http://localhost:18212", 1);
	setenv("SIMPUL_CONSOLE_REPORT_URL", "http://[::1]:8085", 1);
	assert_int_equal(console_config_load(&cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.search_url, "http://localhost:18212");
	console_config_release(&cfg);
	setenv("SIMPUL_CONSOLE_SEARCH_URL", "http://localhost.evil.example", 1);
	assert_int_equal(console_config_load(&cfg, err, sizeof(err)), UTIL_EINVAL);
	console_config_release(&cfg);
	unsetenv("SIMPUL_CONSOLE_SEARCH_URL");
	unsetenv("SIMPUL_CONSOLE_REPORT_URL");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_paths), cmocka_unit_test(test_url_query),
		cmocka_unit_test(test_query_names), cmocka_unit_test(test_streams),
		cmocka_unit_test(test_static),	   cmocka_unit_test(test_cookie),
		cmocka_unit_test(test_config_loopback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
