/*
 * services/notify/tests/notify_unit_test.c - the notify logic that needs no
 * stack: Standard Webhooks signatures (the spec's own test vector), the SSRF
 * guard, URL parsing, match scopes, time zones by province, backoff bounds
 * and the e-mail MIME layout.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "notify.h"
#include "util/err.h"

static void test_signature_vector(void **state)
{
	/* From the Standard Webhooks specification's reference tests. */
	const char *body = "{\"test\": 2432232314}";
	char sig[NOTIFY_SIG_MAX];

	(void)state;
	assert_int_equal(notify_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
				     "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body),
				     sig),
			 0);
	assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	assert_int_equal(notify_sign("whsec_!!!", "msg_x", 1, body, strlen(body), sig), UTIL_EINVAL);
}

static void test_secret_new(void **state)
{
	char a[64], b[64], sig[NOTIFY_SIG_MAX];

	(void)state;
	notify_secret_new(a);
	notify_secret_new(b);
	assert_int_equal(strncmp(a, "whsec_", 6), 0);
	assert_int_equal(strlen(a), 6 + 32);
	assert_string_not_equal(a, b);
	assert_int_equal(notify_sign(a, "msg_1", 2, "x", 1, sig), 0);
}

static void test_addresses(void **state)
{
	(void)state;
	assert_false(notify_ip_text_allowed("10.1.2.3", true));
	assert_false(notify_ip_text_allowed("172.16.0.1", true));
	assert_false(notify_ip_text_allowed("192.168.0.1", true));
	assert_false(notify_ip_text_allowed("169.254.169.254", true));
	assert_false(notify_ip_text_allowed("100.64.0.1", true));
	assert_false(notify_ip_text_allowed("0.0.0.0", true));
	assert_false(notify_ip_text_allowed("224.0.0.1", true));
	assert_false(notify_ip_text_allowed("127.0.0.1", false));
	assert_true(notify_ip_text_allowed("127.0.0.1", true));
	assert_false(notify_ip_text_allowed("::1", false));
	assert_true(notify_ip_text_allowed("::1", true));
	assert_false(notify_ip_text_allowed("fe80::1", true));
	assert_false(notify_ip_text_allowed("fc00::1", true));
	assert_false(notify_ip_text_allowed("::ffff:10.0.0.1", true));
	assert_false(notify_ip_text_allowed("::ffff:127.0.0.1", false));
	assert_false(notify_ip_text_allowed("::", true));
	assert_false(notify_ip_text_allowed("not-an-ip", true));
	assert_true(notify_ip_text_allowed("8.8.8.8", false));
	assert_true(notify_ip_text_allowed("172.32.0.1", false));
	assert_true(notify_ip_text_allowed("2606:4700::1111", false));
}

static void test_url_parse(void **state)
{
	struct notify_url u;
	char err[128];

	(void)state;
	assert_int_equal(notify_url_parse("https://Hooks.Example.com:8443/x?y", true, false, &u, err,
					  sizeof(err)),
			 0);
	assert_string_equal(u.host, "hooks.example.com");
	assert_int_equal(u.port, 8443);
	assert_true(u.https);
	assert_int_equal(notify_url_parse("http://example.com/", true, false, &u, err, sizeof(err)),
			 UTIL_EINVAL);
	assert_int_equal(notify_url_parse("http://example.com/", false, false, &u, err, sizeof(err)),
			 0);
	assert_int_equal(u.port, 80);
	assert_int_equal(notify_url_parse("https://10.0.0.1/", true, true, &u, err, sizeof(err)),
			 UTIL_EDENIED);
	assert_int_equal(notify_url_parse("https://[::1]:99/", true, false, &u, err, sizeof(err)),
			 UTIL_EDENIED);
	assert_int_equal(notify_url_parse("https://[::1]:99/", true, true, &u, err, sizeof(err)), 0);
	assert_string_equal(u.host, "::1");
	assert_int_equal(notify_url_parse("https://localhost/", true, false, &u, err, sizeof(err)),
			 UTIL_EDENIED);
	assert_int_equal(notify_url_parse("https://a@example.com/", true, false, &u, err,
					  sizeof(err)),
			 UTIL_EINVAL);
	assert_int_equal(notify_url_parse("gopher://x/", false, true, &u, err, sizeof(err)),
			 UTIL_EINVAL);
	assert_int_equal(notify_url_parse("https://x:0/", true, true, &u, err, sizeof(err)),
			 UTIL_EINVAL);
	assert_int_equal(notify_url_parse("https://ex ample.com/", true, true, &u, err, sizeof(err)),
			 UTIL_EINVAL);
}

/* Names are checked after resolution: localhost resolves to loopback. */
static void test_resolve_refuses_loopback(void **state)
{
	struct notify_url u = {.host = "localhost", .port = 443};
	char err[256];

	(void)state;
	assert_int_equal(notify_url_resolve(&u, false, err, sizeof(err)), UTIL_EDENIED);
	assert_non_null(strstr(err, "non-public"));
	assert_int_equal(notify_url_resolve(&u, true, err, sizeof(err)), 0);
	assert_non_null(strstr(u.pin, "localhost:443:"));
}

static void test_scopes_and_zones(void **state)
{
	char out[256];
	const char *extra[] = {"kim:abc", "", NULL};

	(void)state;
	assert_int_equal(notify_scopes_literal("35.07.12.2001", extra, 3, out, sizeof(out)), 0);
	assert_string_equal(out, "{\"\",\"35\",\"35.07\",\"35.07.12\",\"35.07.12.2001\",\"kim:abc\"}");
	assert_int_equal(notify_scopes_literal("", NULL, 0, out, sizeof(out)), 0);
	assert_string_equal(out, "{\"\"}");
	assert_int_equal(notify_scopes_literal("35.7", NULL, 0, out, sizeof(out)), UTIL_EINVAL);
	assert_true(notify_region_valid(""));
	assert_true(notify_region_valid("35.07.12.2001"));
	assert_false(notify_region_valid("35.07.12.200"));
	assert_false(notify_region_valid("35."));
	assert_string_equal(notify_region_tz("35.07"), "WIB");
	assert_string_equal(notify_region_tz("61"), "WIB");  /* Kalimantan Barat */
	assert_string_equal(notify_region_tz("51.71"), "WITA"); /* Bali */
	assert_string_equal(notify_region_tz("64"), "WITA"); /* Kalimantan Timur */
	assert_string_equal(notify_region_tz("73.71"), "WITA"); /* Makassar */
	assert_string_equal(notify_region_tz("81"), "WIT");  /* Maluku */
	assert_string_equal(notify_region_tz("94.71"), "WIT"); /* Papua */
	assert_string_equal(notify_region_tz(""), "WIB");
}

static void test_backoff(void **state)
{
	(void)state;
	for (int i = 0; i < 200; i++) {
		int64_t a = notify_backoff_ms(1, 1000, 60000), b = notify_backoff_ms(4, 1000, 60000);
		int64_t c = notify_backoff_ms(40, 1000, 60000);
		assert_true(a >= 800 && a <= 1200);
		assert_true(b >= 6400 && b <= 9600);
		assert_true(c >= 48000 && c <= 72000);
	}
}

static void test_email_mime(void **state)
{
	json_t *p = json_loads("{\"type\":\"digest\",\"count\":2,\"items\":["
			       "{\"type\":\"content.published\",\"data\":{\"title\":\"A <b>\","
			       "\"region_code\":\"35\"}},{\"type\":\"diseminasi\",\"data\":{"
			       "\"title\":\"B\",\"region_code\":\"35.07\"}}]}",
			       0, NULL);
	char *m = notify_email_build("n@x.test", "to@y.test", "id-1", p);

	(void)state;
	assert_non_null(m);
	assert_non_null(strstr(m, "To: <to@y.test>\r\n"));
	assert_non_null(strstr(m, "multipart/alternative"));
	assert_non_null(strstr(m, "text/plain"));
	assert_non_null(strstr(m, "text/html"));
	assert_non_null(strstr(m, "- content.published: A <b> (35)"));
	assert_non_null(strstr(m, "<li>content.published: A &lt;b&gt; (35)</li>"));
	assert_non_null(strstr(m, "Simpul digest: 2 notifications"));
	free(m);
	json_decref(p);
}

/* The batch statement's arrays: one element per event, strings quoted and
 * escaped, NULL for a missing content type, the scopes as a nested literal. */
static void test_match_batch_arrays(void **state)
{
	struct notify_match_batch b;
	struct notify_event ev = {.event_id = "00000000-0000-4000-8000-000000000001",
				  .kind = NOTIFY_KIND_PUBLISHED, .region = "35.07",
				  .content_type = "berita", .text = "a \"quoted\" \\ text",
				  .payload = "{\"k\":\"v\"}", .kim_id = "k1"};
	char err[128];

	(void)state;
	notify_match_batch_init(&b);
	assert_int_equal(notify_match_batch_add(&b, &ev, err, sizeof(err)), 0);
	ev.kind = NOTIFY_KIND_REGISTRATION;
	ev.content_type = NULL;
	ev.text = NULL;
	ev.kim_id = NULL;
	ev.author_id = "u1";
	assert_int_equal(notify_match_batch_add(&b, &ev, err, sizeof(err)), 0);
	ev.region = "not a region";
	assert_int_equal(notify_match_batch_add(&b, &ev, err, sizeof(err)), UTIL_EINVAL);
	assert_int_equal(b.n, 2);
	assert_string_equal(b.v[0].data, "{\"content.published\",\"registration.decided\"");
	assert_string_equal(b.v[1].data, "{\"{\\\"\\\",\\\"35\\\",\\\"35.07\\\",\\\"kim:k1\\\"}\","
					 "\"{\\\"\\\",\\\"35\\\",\\\"35.07\\\",\\\"user:u1\\\"}\"");
	assert_string_equal(b.v[2].data, "{\"berita\",NULL");
	assert_string_equal(b.v[3].data, "{\"a \\\"quoted\\\" \\\\ text\",\"\"");
	assert_string_equal(b.v[5].data, "{\"{\\\"k\\\":\\\"v\\\"}\",\"{\\\"k\\\":\\\"v\\\"}\"");
	assert_string_equal(b.v[7].data, "{\"k1\",\"\"");
	notify_match_batch_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signature_vector),
		cmocka_unit_test(test_secret_new),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_url_parse),
		cmocka_unit_test(test_resolve_refuses_loopback),
		cmocka_unit_test(test_scopes_and_zones),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_email_mime),
		cmocka_unit_test(test_match_batch_arrays),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
