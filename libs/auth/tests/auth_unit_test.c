/* Unit tests of libs/auth: token shape, bearer parsing, roles, region scopes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "auth/auth.h"
#include "util/err.h"

#define GOOD "simpul_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"

static void token_shapes(void **state)
{
	char tok[AUTH_TOKEN_LEN + 1];

	assert_int_equal(strlen(GOOD), AUTH_TOKEN_LEN);
	assert_true(auth_token_wellformed(GOOD));
	assert_false(auth_token_wellformed("simpul_short"));
	assert_false(auth_token_wellformed("xxxxxx_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"));
	assert_false(auth_token_wellformed("simpul_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNO+Q"));
	assert_false(auth_token_wellformed(NULL));
	assert_int_equal(auth_bearer_parse("Bearer " GOOD, tok), 0);
	assert_string_equal(tok, GOOD);
	assert_int_equal(auth_bearer_parse("bearer   " GOOD, tok), 0);
	assert_int_equal(auth_bearer_parse("Basic " GOOD, tok), UTIL_EINVAL);
	assert_int_equal(auth_bearer_parse("Bearer " GOOD "x", tok), UTIL_EINVAL);
	assert_int_equal(auth_bearer_parse(NULL, tok), UTIL_EINVAL);
}

static void roles_round_trip(void **state)
{
	for (int r = AUTH_ROLE_CITIZEN; r <= AUTH_ROLE_INTEGRATION; r++)
		assert_int_equal(auth_role_parse(auth_role_name((enum auth_role)r)), r);
	assert_int_equal(auth_role_parse("root"), AUTH_ROLE_NONE);
	assert_int_equal(auth_role_parse(NULL), AUTH_ROLE_NONE);
	assert_string_equal(auth_role_name((enum auth_role)99), "none");
}

static void region_prefixes(void **state)
{
	assert_true(auth_region_covers("35.07", "35.07"));
	assert_true(auth_region_covers("35.07", "35.07.12.2003"));
	assert_false(auth_region_covers("35.07", "35.08.01"));
	assert_false(auth_region_covers("35.07", "35.071"));
	assert_false(auth_region_covers("35.07", "35"));
	assert_true(auth_region_covers("", "11.01"));
	assert_false(auth_region_covers(NULL, "11"));
}

static void scopes_by_role(void **state)
{
	struct auth_principal mod = {.role = AUTH_ROLE_MODERATOR, .region_prefix = "35.07"};
	struct auth_principal adm = {.role = AUTH_ROLE_ADMIN};
	struct auth_principal kim = {.role = AUTH_ROLE_KIM_ADMIN, .region_prefix = ""};

	assert_true(auth_scope_covers(&mod, "35.07.01.2001"));
	assert_false(auth_scope_covers(&mod, "35.08.01.2001"));
	assert_true(auth_scope_covers(&adm, "91.01"));
	assert_false(auth_scope_covers(&kim, "35.07"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(token_shapes),
		cmocka_unit_test(roles_round_trip),
		cmocka_unit_test(region_prefixes),
		cmocka_unit_test(scopes_by_role),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
