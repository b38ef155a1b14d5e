/* Unit tests of libs/config: each type, bounds, defaults, errors together, masking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "slog/slog.h"
#include "util/err.h"

static const char *const vars[] = {
	"CFGT_PORT", "CFGT_FLAG", "CFGT_NAME", "CFGT_WAIT", "CFGT_SIZE", "CFGT_TOKEN", "CFGT_REQ",
};

static int clear_env(void **state)
{
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		unsetenv(vars[i]);
	return 0;
}

struct vals {
	int64_t port, wait, size;
	bool flag;
	char *name, *token;
};

#define ITEMS(v)                                                                              \
	{                                                                                     \
		{"CFGT_PORT", CONFIG_INT, "8081", 1, 65535, false, &(v).port, "listen port"}, \
		{"CFGT_FLAG", CONFIG_BOOL, "false", 0, 0, false, &(v).flag, "a switch"},      \
		{"CFGT_NAME", CONFIG_STRING, "simpul", 0, 8, false, &(v).name, "a name"},     \
		{"CFGT_WAIT", CONFIG_DURATION_MS, "5s", 0, 3600000, false, &(v).wait, "wait"}, \
		{"CFGT_SIZE", CONFIG_SIZE, "64k", 1, 1LL << 30, false, &(v).size, "cap"},     \
		{"CFGT_TOKEN", CONFIG_STRING, "", 0, 0, true, &(v).token, "secret token"},     \
	}

static void defaults_apply(void **state)
{
	struct vals v = {0};
	struct config_item items[] = ITEMS(v);
	char err[512];

	assert_int_equal(config_load(items, 6, err, sizeof err), 0);
	assert_string_equal(err, "");
	assert_int_equal(v.port, 8081);
	assert_false(v.flag);
	assert_string_equal(v.name, "simpul");
	assert_int_equal(v.wait, 5000);
	assert_int_equal(v.size, 65536);
	assert_string_equal(v.token, "");
	config_release(items, 6);
	assert_null(v.name);
	assert_null(v.token);
}

static void env_overrides(void **state)
{
	struct vals v = {0};
	struct config_item items[] = ITEMS(v);
	char err[512];

	setenv("CFGT_PORT", "65535", 1);
	setenv("CFGT_FLAG", "YES", 1);
	setenv("CFGT_NAME", "abcdefgh", 1);
	setenv("CFGT_WAIT", "250ms", 1);
	setenv("CFGT_SIZE", "10m", 1);
	setenv("CFGT_TOKEN", "hunter2", 1);
	assert_int_equal(config_load(items, 6, err, sizeof err), 0);
	assert_int_equal(v.port, 65535);
	assert_true(v.flag);
	assert_string_equal(v.name, "abcdefgh");
	assert_int_equal(v.wait, 250);
	assert_int_equal(v.size, 10 * 1024 * 1024);
	assert_string_equal(v.token, "hunter2");
	config_release(items, 6);
	/* an empty variable means "use the default" */
	setenv("CFGT_PORT", "", 1);
	assert_int_equal(config_load(items, 6, err, sizeof err), 0);
	assert_int_equal(v.port, 8081);
	config_release(items, 6);
}

static void bools(void **state)
{
	static const struct {
		const char *s;
		bool v;
	} ok[] = {{"1", true},  {"true", true},   {"yes", true}, {"on", true},  {"TRUE", true},
		  {"0", false}, {"false", false}, {"no", false}, {"off", false}, {"Off", false}};
	bool b;
	struct config_item it = {"CFGT_FLAG", CONFIG_BOOL, "false", 0, 0, false, &b, NULL};
	char err[256];

	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		setenv("CFGT_FLAG", ok[i].s, 1);
		b = !ok[i].v;
		assert_int_equal(config_load(&it, 1, err, sizeof err), 0);
		assert_int_equal(b, ok[i].v);
	}
	setenv("CFGT_FLAG", "maybe", 1);
	assert_int_equal(config_load(&it, 1, err, sizeof err), UTIL_EINVAL);
	assert_string_equal(err, "CFGT_FLAG: expected a boolean (true/false, 1/0, yes/no, on/off), "
				 "got \"maybe\"");
}

static void durations_and_sizes(void **state)
{
	static const struct {
		const char *s;
		int64_t v;
	} dur[] = {{"250ms", 250}, {"5s", 5000},      {"2m", 120000}, {"1h", 3600000},
		   {"750", 750},   {"0", 0},          {"3S", 3000}},
	  sz[] = {{"512", 512},        {"64k", 65536},           {"10m", 10485760},
		  {"1g", 1073741824LL}, {"2K", 2048},             {"4kb", 4096},
		  {"1MiB", 1048576}};
	static const char *bad_dur[] = {"", "-5s", "5x", "s", "1.5s", " 5s", "5 s",
					"99999999999999999999"};
	static const char *bad_sz[] = {"-1", "10q", "k", "1.5m", "9999999999999g"};
	int64_t v;
	struct config_item d = {"CFGT_WAIT", CONFIG_DURATION_MS, "1", 0, 0, false, &v, NULL};
	struct config_item s = {"CFGT_SIZE", CONFIG_SIZE, "1", 0, 0, false, &v, NULL};
	char err[256];

	for (size_t i = 0; i < sizeof dur / sizeof dur[0]; i++) {
		setenv("CFGT_WAIT", dur[i].s, 1);
		assert_int_equal(config_load(&d, 1, err, sizeof err), 0);
		assert_int_equal(v, dur[i].v);
	}
	for (size_t i = 0; i < sizeof sz / sizeof sz[0]; i++) {
		setenv("CFGT_SIZE", sz[i].s, 1);
		assert_int_equal(config_load(&s, 1, err, sizeof err), 0);
		assert_int_equal(v, sz[i].v);
	}
	for (size_t i = 1; i < sizeof bad_dur / sizeof bad_dur[0]; i++) {
		setenv("CFGT_WAIT", bad_dur[i], 1);
		assert_int_equal(config_load(&d, 1, err, sizeof err), UTIL_EINVAL);
		assert_non_null(strstr(err, "CFGT_WAIT: expected a duration"));
	}
	for (size_t i = 0; i < sizeof bad_sz / sizeof bad_sz[0]; i++) {
		setenv("CFGT_SIZE", bad_sz[i], 1);
		assert_int_equal(config_load(&s, 1, err, sizeof err), UTIL_EINVAL);
		assert_non_null(strstr(err, "CFGT_SIZE: expected a size"));
	}
}

static void int_bounds(void **state)
{
	int64_t v;
	struct config_item it = {"CFGT_PORT", CONFIG_INT, "8081", 1, 65535, false, &v, NULL};
	struct config_item any = {"CFGT_PORT", CONFIG_INT, "0", 0, 0, false, &v, NULL};
	char err[256];

	setenv("CFGT_PORT", "1", 1);
	assert_int_equal(config_load(&it, 1, err, sizeof err), 0);
	assert_int_equal(v, 1);
	setenv("CFGT_PORT", "0", 1);
	assert_int_equal(config_load(&it, 1, err, sizeof err), UTIL_EINVAL);
	assert_string_equal(err, "CFGT_PORT: expected an integer in 1..65535, got \"0\"");
	setenv("CFGT_PORT", "65536", 1);
	assert_int_equal(config_load(&it, 1, err, sizeof err), UTIL_EINVAL);
	setenv("CFGT_PORT", "abc", 1);
	assert_int_equal(config_load(&it, 1, err, sizeof err), UTIL_EINVAL);
	assert_string_equal(err, "CFGT_PORT: expected an integer in 1..65535, got \"abc\"");
	setenv("CFGT_PORT", "12abc", 1);
	assert_int_equal(config_load(&it, 1, err, sizeof err), UTIL_EINVAL);
	setenv("CFGT_PORT", "99999999999999999999", 1);
	assert_int_equal(config_load(&any, 1, err, sizeof err), UTIL_EINVAL);
	assert_string_equal(err,
			    "CFGT_PORT: expected an integer, got \"99999999999999999999\"");
	setenv("CFGT_PORT", "-42", 1);
	assert_int_equal(config_load(&any, 1, err, sizeof err), 0);
	assert_int_equal(v, -42);
}

static void string_max_length(void **state)
{
	char *s = (char *)"untouched";
	struct config_item it = {"CFGT_NAME", CONFIG_STRING, "x", 0, 4, false, &s, NULL};
	char err[256];

	setenv("CFGT_NAME", "abcd", 1);
	assert_int_equal(config_load(&it, 1, err, sizeof err), 0);
	assert_string_equal(s, "abcd");
	config_release(&it, 1);
	setenv("CFGT_NAME", "abcde", 1);
	assert_int_equal(config_load(&it, 1, err, sizeof err), UTIL_EINVAL);
	assert_string_equal(err, "CFGT_NAME: expected at most 4 characters, got 5");
	assert_null(s);
}

static void all_errors_reported_together(void **state)
{
	struct vals v = {0};
	int64_t req;
	struct config_item items[] = {
		{"CFGT_PORT", CONFIG_INT, "8081", 1, 65535, false, &v.port, NULL},
		{"CFGT_FLAG", CONFIG_BOOL, "false", 0, 0, false, &v.flag, NULL},
		{"CFGT_NAME", CONFIG_STRING, "ok", 0, 8, false, &v.name, NULL},
		{"CFGT_REQ", CONFIG_INT, NULL, 0, 0, false, &req, NULL},
		{"CFGT_TOKEN", CONFIG_INT, "1", 1, 9, true, &v.wait, NULL},
	};
	char err[1024];

	setenv("CFGT_PORT", "abc", 1);
	setenv("CFGT_FLAG", "2", 1);
	setenv("CFGT_TOKEN", "123456", 1);
	assert_int_equal(config_load(items, 5, err, sizeof err), UTIL_EINVAL);
	assert_string_equal(err, "CFGT_PORT: expected an integer in 1..65535, got \"abc\"\n"
				 "CFGT_FLAG: expected a boolean (true/false, 1/0, yes/no, on/off), "
				 "got \"2\"\n"
				 "CFGT_REQ: required but not set\n"
				 "CFGT_TOKEN: expected an integer in 1..9, got (secret value hidden)");
	/* the good string was freed on failure */
	assert_null(v.name);
	assert_null(strstr(err, "123456"));

	/* a short error buffer is truncated, never overrun */
	char small[20];
	memset(small, 'Z', sizeof small);
	assert_int_equal(config_load(items, 5, small, sizeof small), UTIL_EINVAL);
	assert_int_equal(strlen(small), sizeof small - 1);
	assert_int_equal(strncmp(small, "CFGT_PORT: expected", 19), 0);

	/* a required item set in the environment is fine */
	unsetenv("CFGT_PORT");
	unsetenv("CFGT_FLAG");
	unsetenv("CFGT_TOKEN");
	setenv("CFGT_REQ", "7", 1);
	assert_int_equal(config_load(items, 5, err, sizeof err), 0);
	assert_int_equal(req, 7);
	config_release(items, 5);
}

static char *capture_fd_output(int target, void (*fn)(void *), void *arg)
{
	int fds[2];
	char *out = calloc(1, 65536);
	size_t len = 0;
	ssize_t n;

	assert_non_null(out);
	assert_int_equal(pipe(fds), 0);
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	if (target == 1) {
		int saved = dup(1);
		fflush(stdout);
		dup2(fds[1], 1);
		fn(arg);
		fflush(stdout);
		dup2(saved, 1);
		close(saved);
	} else {
		slog_set_fd(fds[1]);
		fn(arg);
		slog_set_fd(2);
	}
	while (len < 65535 && (n = read(fds[0], out + len, 65535 - len)) > 0)
		len += (size_t)n;
	close(fds[0]);
	close(fds[1]);
	return out;
}

struct table {
	struct config_item *items;
	size_t n;
};

static void do_log(void *arg)
{
	struct table *t = arg;
	config_log(t->items, t->n);
}

static void do_help(void *arg)
{
	struct table *t = arg;
	config_print_help(t->items, t->n);
}

static void log_masks_secrets(void **state)
{
	struct vals v = {0};
	struct config_item items[] = ITEMS(v);
	struct table t = {items, 6};
	char err[256];
	char *out;

	slog_init("test", SLOG_INFO);
	setenv("CFGT_TOKEN", "s3cr3t-value", 1);
	setenv("CFGT_NAME", "a b", 1);
	assert_int_equal(config_load(items, 6, err, sizeof err), 0);
	out = capture_fd_output(2, do_log, &t);
	assert_null(strstr(out, "s3cr3t"));
	assert_non_null(strstr(out, "msg=config name=CFGT_TOKEN value=*** source=env\n"));
	assert_non_null(strstr(out, "name=CFGT_PORT value=8081 source=default\n"));
	assert_non_null(strstr(out, "name=CFGT_NAME value=\"a b\" source=env\n"));
	assert_non_null(strstr(out, "name=CFGT_WAIT value=5000ms source=default\n"));
	assert_non_null(strstr(out, "name=CFGT_SIZE value=65536 source=default\n"));
	assert_non_null(strstr(out, "name=CFGT_FLAG value=false source=default\n"));
	free(out);

	out = capture_fd_output(1, do_help, &t);
	assert_non_null(strstr(out, "CFGT_PORT"));
	assert_non_null(strstr(out, "int, 1..65535, default \"8081\""));
	assert_non_null(strstr(out, "listen port"));
	assert_non_null(strstr(out, "secret"));
	assert_null(strstr(out, "s3cr3t"));
	free(out);
	config_release(items, 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(defaults_apply, clear_env),
		cmocka_unit_test_setup(env_overrides, clear_env),
		cmocka_unit_test_setup(bools, clear_env),
		cmocka_unit_test_setup(durations_and_sizes, clear_env),
		cmocka_unit_test_setup(int_bounds, clear_env),
		cmocka_unit_test_setup(string_max_length, clear_env),
		cmocka_unit_test_setup(all_errors_reported_together, clear_env),
		cmocka_unit_test_setup(log_masks_secrets, clear_env),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
