/* Unit tests of libs/slog: format, escaping, filtering, truncation, threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "slog/slog.h"

#define CAP_MAX (1 << 20)

struct capture {
	int rd, wr;
	char *data;
	size_t len;
};

static int cap_setup(void **state)
{
	struct capture *c = calloc(1, sizeof *c);
	int fds[2];

	if (!c || pipe(fds) != 0)
		return -1;
	c->rd = fds[0];
	c->wr = fds[1];
	c->data = calloc(1, CAP_MAX + 1);
	fcntl(c->rd, F_SETFL, O_NONBLOCK);
	slog_set_fd(c->wr);
	slog_init("test", SLOG_DEBUG);
	*state = c;
	return c->data ? 0 : -1;
}

static int cap_teardown(void **state)
{
	struct capture *c = *state;

	slog_set_fd(2);
	close(c->rd);
	close(c->wr);
	free(c->data);
	free(c);
	return 0;
}

/* Drains what the pipe holds into c->data (NUL-terminated). */
static const char *drain(struct capture *c)
{
	ssize_t n;

	c->len = 0;
	while (c->len < CAP_MAX && (n = read(c->rd, c->data + c->len, CAP_MAX - c->len)) > 0)
		c->len += (size_t)n;
	c->data[c->len] = '\0';
	return c->data;
}

static size_t count_char(const char *s, char ch)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == ch;
	return n;
}

static void line_format(void **state)
{
	struct capture *c = *state;
	const char *out;

	slog_info("server started", "port=%d addr=%s", 8081, "127.0.0.1");
	out = drain(c);
	/* ts=YYYY-MM-DDTHH:MM:SS.mmmZ */
	assert_int_equal(strncmp(out, "ts=", 3), 0);
	assert_int_equal(out[7], '-');
	assert_int_equal(out[13], 'T');
	assert_int_equal(out[22], '.');
	assert_int_equal(out[26], 'Z');
	assert_int_equal(out[27], ' ');
	assert_string_equal(out + 28,
			    "level=info svc=test msg=\"server started\" port=8081 addr=127.0.0.1\n");

	slog_error("boom", NULL);
	out = drain(c);
	assert_non_null(strstr(out, " level=error svc=test msg=boom\n"));
}

static void quote_escaping(void **state)
{
	char b[128];

	assert_string_equal(slog_quote(b, sizeof b, "plain"), "plain");
	assert_string_equal(slog_quote(b, sizeof b, ""), "\"\"");
	assert_string_equal(slog_quote(b, sizeof b, NULL), "\"\"");
	assert_string_equal(slog_quote(b, sizeof b, "a b"), "\"a b\"");
	assert_string_equal(slog_quote(b, sizeof b, "say \"hi\""), "\"say \\\"hi\\\"\"");
	assert_string_equal(slog_quote(b, sizeof b, "k=v"), "\"k=v\"");
	assert_string_equal(slog_quote(b, sizeof b, "back\\slash"), "\"back\\\\slash\"");
	assert_string_equal(slog_quote(b, sizeof b, "l1\nl2\tx\r"), "\"l1\\nl2\\tx\\r\"");
	assert_string_equal(slog_quote(b, sizeof b, "\x01\x1f\x7f"), "\"\\x01\\x1f\\x7f\"");
	/* UTF-8 passes through untouched */
	assert_string_equal(slog_quote(b, sizeof b, "Jawa\xc3\xa9"), "Jawa\xc3\xa9");
}

static void quote_truncation(void **state)
{
	char b[8];
	char big[64];

	assert_string_equal(slog_quote(b, sizeof b, "hello world"), "\"he...\"");
	assert_string_equal(slog_quote(b, sizeof b, "abcdefghij"), "abcd...");
	assert_string_equal(slog_quote(b, sizeof b, "abcdefg"), "abcdefg");
	assert_string_equal(slog_quote(b, 4, "abcdefg"), "...");
	assert_string_equal(slog_quote(b, 1, "abcdefg"), "");
	assert_string_equal(slog_quote(b, 0, "abcdefg"), "");
	/* an escape sequence is never split */
	assert_string_equal(slog_quote(b, sizeof b, "a\nbcdef"), "\"a...\"");
	/* nor a UTF-8 character: 3 x 2-byte chars, room for 4 bytes of them */
	assert_string_equal(slog_quote(b, sizeof b, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"),
			    "\xc3\xa9\xc3\xa9...");
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	slog_quote(b, sizeof b, big);
	assert_int_equal(strlen(b), 7);
}

static void raw_control_bytes_in_kv_stay_one_line(void **state)
{
	struct capture *c = *state;
	char q[64];
	const char *out;

	slog_warn("odd input", "raw=%s quoted=%s", "a\nb\x01", slog_quote(q, sizeof q, "x\ny"));
	out = drain(c);
	assert_int_equal(count_char(out, '\n'), 1);
	assert_non_null(strstr(out, " raw=a\\nb\\x01 quoted=\"x\\ny\"\n"));
	/* message itself is quoted and escaped */
	slog_info("two\nlines \"q\"", NULL);
	out = drain(c);
	assert_int_equal(count_char(out, '\n'), 1);
	assert_non_null(strstr(out, "msg=\"two\\nlines \\\"q\\\"\"\n"));
}

static void level_filtering(void **state)
{
	struct capture *c = *state;
	enum slog_level l;

	slog_init("test", SLOG_WARN);
	assert_false(slog_enabled(SLOG_DEBUG));
	assert_false(slog_enabled(SLOG_INFO));
	assert_true(slog_enabled(SLOG_WARN));
	assert_true(slog_enabled(SLOG_ERROR));
	slog_debug("hidden", "a=%d", 1);
	slog_info("hidden", "a=%d", 2);
	assert_string_equal(drain(c), "");
	slog_warn("shown", "a=%d", 3);
	slog_error("shown", "a=%d", 4);
	assert_int_equal(count_char(drain(c), '\n'), 2);
	assert_non_null(strstr(c->data, "level=warn"));
	assert_non_null(strstr(c->data, "level=error"));

	assert_true(slog_level_parse("debug", &l));
	assert_int_equal(l, SLOG_DEBUG);
	assert_true(slog_level_parse("INFO", &l));
	assert_int_equal(l, SLOG_INFO);
	assert_true(slog_level_parse("warn", &l));
	assert_int_equal(l, SLOG_WARN);
	assert_true(slog_level_parse("error", &l));
	assert_int_equal(l, SLOG_ERROR);
	assert_false(slog_level_parse("verbose", &l));
	assert_false(slog_level_parse("", &l));
	assert_false(slog_level_parse(NULL, &l));
}

static void long_lines_truncated(void **state)
{
	struct capture *c = *state;
	size_t n = 40000;
	char *big = malloc(n + 1), *q = malloc(2 * n);
	const char *out;

	assert_non_null(big);
	assert_non_null(q);
	memset(big, 'y', n);
	big[n] = '\0';
	slog_info("big", "v=%s tail=1", slog_quote(q, 2 * n, "a b"));
	drain(c);
	slog_info("big", "v=%s tail=1", big);
	out = drain(c);
	assert_int_equal(count_char(out, '\n'), 1);
	assert_true(c->len <= 16384);
	assert_true(c->len > 16000);
	assert_null(strstr(out, "tail=1"));
	assert_non_null(strstr(out, "y... truncated=true\n"));

	/* cut inside a quoted value: the quote is closed before the marker */
	big[0] = ' ';
	slog_info("big", "v=%s", slog_quote(q, 2 * n, big));
	out = drain(c);
	assert_int_equal(count_char(out, '\n'), 1);
	assert_true(c->len <= 16384);
	assert_non_null(strstr(out, "y...\" truncated=true\n"));
	assert_int_equal(count_char(out, '"') % 2, 0);
	free(big);
	free(q);
}

#define THREADS 8
#define PER_THREAD 300

struct reader {
	int fd;
	char *data;
	size_t len;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	ssize_t n;

	while (r->len < CAP_MAX && (n = read(r->fd, r->data + r->len, CAP_MAX - r->len)) > 0)
		r->len += (size_t)n;
	r->data[r->len] = '\0';
	return NULL;
}

static void *writer_main(void *arg)
{
	int id = (int)(intptr_t)arg;

	for (int i = 0; i < PER_THREAD; i++)
		slog_info("concurrent line", "thread=%d i=%d pad=%s", id, i,
			  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	return NULL;
}

static void threads_do_not_interleave(void **state)
{
	struct reader r = {0};
	pthread_t w[THREADS], rt;
	int fds[2];
	int seen[THREADS] = {0};

	assert_int_equal(pipe(fds), 0);
	r.fd = fds[0];
	r.data = malloc(CAP_MAX + 1);
	assert_non_null(r.data);
	slog_set_fd(fds[1]);
	assert_int_equal(pthread_create(&rt, NULL, reader_main, &r), 0);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&w[i], NULL, writer_main, (void *)(intptr_t)i), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(w[i], NULL);
	close(fds[1]);
	pthread_join(rt, NULL);
	close(fds[0]);

	size_t lines = 0;
	char *save = NULL;
	for (char *l = strtok_r(r.data, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		int id, i;
		const char *kv = strstr(l, " thread=");

		assert_int_equal(strncmp(l, "ts=", 3), 0);
		assert_non_null(kv);
		assert_int_equal(sscanf(kv, " thread=%d i=%d", &id, &i), 2);
		assert_true(id >= 0 && id < THREADS);
		assert_int_equal(i, seen[id]); /* per-thread order kept, none lost */
		seen[id]++;
		lines++;
	}
	assert_int_equal(lines, THREADS * PER_THREAD);
	free(r.data);
	/* the fixture's pipe is restored for teardown */
	slog_set_fd(((struct capture *)*state)->wr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(line_format, cap_setup, cap_teardown),
		cmocka_unit_test(quote_escaping),
		cmocka_unit_test(quote_truncation),
		cmocka_unit_test_setup_teardown(raw_control_bytes_in_kv_stay_one_line, cap_setup,
						cap_teardown),
		cmocka_unit_test_setup_teardown(level_filtering, cap_setup, cap_teardown),
		cmocka_unit_test_setup_teardown(long_lines_truncated, cap_setup, cap_teardown),
		cmocka_unit_test_setup_teardown(threads_do_not_interleave, cap_setup, cap_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
