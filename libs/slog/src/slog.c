/*
 * slog/slog.c - logfmt lines on stderr (or a test fd), one write(2) each.
 *
 * A line is built in a thread-local buffer capped at SLOG_LINE_MAX bytes;
 * anything longer is cut, its quote closed and "truncated=true" appended.
 * Control bytes anywhere in the line are escaped so a line stays one line.
 */
#include "slog/slog.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define SLOG_LINE_MAX 16384 /* whole line, newline included */
#define SLOG_MSG_MAX 2048   /* quoted msg value */
#define SLOG_SVC_MAX 128
#define SLOG_TAIL_RESERVE 32 /* room for `..." truncated=true\n` */

static _Atomic int slog_min = SLOG_INFO;
static _Atomic int slog_fd = 2;
static char slog_svc[SLOG_SVC_MAX]; /* quoted form; empty = no svc field */

static _Thread_local char line_buf[SLOG_LINE_MAX];
static _Thread_local char kv_buf[SLOG_LINE_MAX];

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void slog_init(const char *service, enum slog_level min)
{
	if (service && *service)
		slog_quote(slog_svc, sizeof slog_svc, service);
	else
		slog_svc[0] = '\0';
	if (min < SLOG_DEBUG || min > SLOG_ERROR)
		min = SLOG_INFO;
	atomic_store(&slog_min, (int)min);
}

bool slog_level_parse(const char *s, enum slog_level *out)
{
	if (!s || !out)
		return false;
	for (int i = SLOG_DEBUG; i <= SLOG_ERROR; i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum slog_level)i;
			return true;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*out = SLOG_WARN;
		return true;
	}
	return false;
}

bool slog_enabled(enum slog_level lvl)
{
	return (int)lvl >= atomic_load_explicit(&slog_min, memory_order_relaxed);
}

void slog_set_fd(int fd)
{
	atomic_store(&slog_fd, fd);
}

static bool needs_quote(const unsigned char *s)
{
	if (*s == '\0')
		return true;
	for (; *s; s++) {
		if (*s <= ' ' || *s == '"' || *s == '=' || *s == '\\' || *s == 0x7f)
			return true;
	}
	return false;
}

/*
 * Escaped form of the unit starting at *s (one byte, or a whole UTF-8
 * sequence so truncation never splits a character). Returns its length in
 * bytes of input via *in_len and writes the output into u (>= 8 bytes).
 */
static size_t escape_unit(const unsigned char *s, size_t *in_len, char *u)
{
	unsigned char c = *s;

	*in_len = 1;
	switch (c) {
	case '\n': memcpy(u, "\\n", 2); return 2;
	case '\t': memcpy(u, "\\t", 2); return 2;
	case '\r': memcpy(u, "\\r", 2); return 2;
	case '"': memcpy(u, "\\\"", 2); return 2;
	case '\\': memcpy(u, "\\\\", 2); return 2;
	default: break;
	}
	if (c < 0x20 || c == 0x7f)
		return (size_t)snprintf(u, 8, "\\x%02x", c);
	if (c >= 0xc0) {
		size_t n = 1;
		while (n < 4 && (s[n] & 0xc0) == 0x80)
			n++;
		*in_len = n;
		memcpy(u, s, n);
		return n;
	}
	u[0] = (char)c;
	return 1;
}

static size_t escaped_len(const unsigned char *s)
{
	char u[8];
	size_t in, total = 0;

	while (*s) {
		total += escape_unit(s, &in, u);
		s += in;
	}
	return total;
}

const char *slog_quote(char *out, size_t outlen, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	bool quote = needs_quote(p);
	size_t q = quote ? 2 : 0, pos = 0, in, n;
	char u[8];

	if (!out || outlen == 0)
		return "";
	bool fits = escaped_len(p) + q < outlen;
	/* when cut: room for "...", the closing quote and the NUL */
	size_t limit = fits ? outlen - 1 - q / 2 : (outlen > 5 + q ? outlen - 4 - q / 2 : 0);
	bool opened = quote && limit > 0;
	if (opened)
		out[pos++] = '"';
	while (*p && limit > 0) {
		n = escape_unit(p, &in, u);
		if (pos + n > limit)
			break;
		memcpy(out + pos, u, n);
		pos += n;
		p += in;
	}
	if (*p && pos + 3 < outlen) {
		memcpy(out + pos, "...", 3);
		pos += 3;
	}
	if (opened && pos + 1 < outlen)
		out[pos++] = '"';
	out[pos] = '\0';
	return out;
}

static size_t put_prefix(char *b, enum slog_level lvl, const char *msg)
{
	struct timespec ts;
	struct tm tm;
	char qmsg[SLOG_MSG_MAX];
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(b, SLOG_LINE_MAX, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s%s%s msg=%s",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		     tm.tm_sec, ts.tv_nsec / 1000000L, level_names[lvl],
		     slog_svc[0] ? " svc=" : "", slog_svc, slog_quote(qmsg, sizeof qmsg, msg));
	if (n < 0)
		return 0;
	return (size_t)n < SLOG_LINE_MAX ? (size_t)n : SLOG_LINE_MAX - 1;
}

/*
 * Copies the caller's formatted pairs, escaping stray control bytes and
 * tracking quotes so a cut can close an open quoted value.
 */
static size_t put_kv(char *b, size_t pos, const char *kv, bool cut)
{
	size_t limit = SLOG_LINE_MAX - SLOG_TAIL_RESERVE;
	bool in_quote = false, esc = false;
	const unsigned char *p = (const unsigned char *)kv;

	b[pos++] = ' ';
	for (; *p; p++) {
		unsigned char c = *p;
		size_t need = (c < 0x20 || c == 0x7f) ? 4 : 1;

		if (pos + need > limit) {
			cut = true;
			break;
		}
		if (need > 1) {
			pos += escape_unit(p, &(size_t){0}, b + pos);
			esc = false;
			continue;
		}
		b[pos++] = (char)c;
		if (esc)
			esc = false;
		else if (c == '\\' && in_quote)
			esc = true;
		else if (c == '"')
			in_quote = !in_quote;
	}
	if (!cut)
		return pos;
	if (esc)
		pos--; /* a dangling backslash would escape our closing quote */
	memcpy(b + pos, "...", 3);
	pos += 3;
	if (in_quote)
		b[pos++] = '"';
	memcpy(b + pos, " truncated=true", 15);
	return pos + 15;
}

static void write_all(const char *b, size_t len)
{
	int fd = atomic_load_explicit(&slog_fd, memory_order_relaxed);

	while (len > 0) {
		ssize_t w = write(fd, b, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* nowhere else to report a logging failure */
		b += w;
		len -= (size_t)w;
	}
}

void slog_log(enum slog_level lvl, const char *msg, const char *kv, ...)
{
	va_list ap;
	size_t pos;

	if (lvl < SLOG_DEBUG || lvl > SLOG_ERROR)
		lvl = SLOG_ERROR;
	if (!slog_enabled(lvl))
		return;
	pos = put_prefix(line_buf, lvl, msg ? msg : "");
	if (kv && *kv) {
		va_start(ap, kv);
		int n = vsnprintf(kv_buf, sizeof kv_buf, kv, ap);
		va_end(ap);
		if (n > 0)
			pos = put_kv(line_buf, pos, kv_buf, (size_t)n >= sizeof kv_buf);
	}
	line_buf[pos++] = '\n';
	write_all(line_buf, pos);
}
