/* Unit tests of libs/util: buffer caps, ids, hashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/ids.h"

static void buf_grows_and_caps(void **state)
{
	struct util_buf b;

	util_buf_init(&b, 10);
	assert_int_equal(util_buf_append_str(&b, "hello"), 0);
	assert_int_equal(util_buf_printf(&b, "%d", 1234), 0);
	assert_string_equal(b.data, "hello1234");
	assert_int_equal(util_buf_append_str(&b, "xy"), UTIL_ETOOBIG);
	assert_string_equal(b.data, "hello1234");
	assert_int_equal(util_buf_printf(&b, "%s", "ab"), UTIL_ETOOBIG);
	assert_int_equal(util_buf_append_str(&b, "x"), 0);
	assert_int_equal(b.len, 10);
	char *s = util_buf_steal(&b);
	assert_string_equal(s, "hello1234x");
	assert_null(b.data);
	free(s);
	util_buf_release(&b);
}

static void buf_steal_empty(void **state)
{
	struct util_buf b;

	util_buf_init(&b, 0);
	char *s = util_buf_steal(&b);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
}

static void uuid_shape(void **state)
{
	char a[37], b[37];

	util_uuid_v4(a);
	util_uuid_v4(b);
	assert_true(util_uuid_valid(a));
	assert_string_not_equal(a, b);
	assert_int_equal(a[14], '4');
	assert_false(util_uuid_valid("not-a-uuid"));
	assert_false(util_uuid_valid("123e4567-e89b-12d3-a456-42661417400"));
	assert_false(util_uuid_valid("123e4567-e89b-12d3-a456-4266141740000"));
	assert_true(util_uuid_valid("123E4567-E89B-12D3-A456-426614174000"));
}

static void sha256_known(void **state)
{
	unsigned char d[32];
	char hex[65];

	util_sha256("abc", 3, d);
	util_hex(d, 32, hex);
	assert_string_equal(hex,
		"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void err_set_truncates(void **state)
{
	char e[8];

	assert_int_equal(util_err_set(e, sizeof(e), UTIL_EINVAL, "field %s bad", "title"),
			 UTIL_EINVAL);
	assert_string_equal(e, "field t");
	assert_string_equal(util_err_name(UTIL_ETOOBIG), "etoobig");
	assert_int_equal(util_err_set(NULL, 0, UTIL_EIO, "x"), UTIL_EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(buf_grows_and_caps), cmocka_unit_test(buf_steal_empty),
		cmocka_unit_test(uuid_shape),         cmocka_unit_test(sha256_known),
		cmocka_unit_test(err_set_truncates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
