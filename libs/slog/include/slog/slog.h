/*
 * slog/slog.h - structured logging on stderr, one line per event.
 *
 * Format (one for the whole project): logfmt key=value pairs,
 *   ts=2026-11-23T10:00:00.123Z level=info svc=ingest msg="outbox drained" rows=12
 * Values containing spaces, quotes or '=' are double-quoted with \" and \\
 * escapes; control bytes are written as \n, \t or \xHH, so a line is always
 * one line. The level is checked before anything is formatted.
 * Thread-safe: each line is written with one write(2).
 */
#ifndef SLOG_SLOG_H
#define SLOG_SLOG_H

#include <stdbool.h>
#include <stddef.h>

enum slog_level { SLOG_DEBUG = 0, SLOG_INFO, SLOG_WARN, SLOG_ERROR };

/* Sets the service name (copied) and minimum level; call once at start. */
void slog_init(const char *service, enum slog_level min);
/* Parses "debug", "info", "warn", "error"; false if unknown. */
bool slog_level_parse(const char *s, enum slog_level *out);
bool slog_enabled(enum slog_level lvl);
/* Redirects output to fd (default 2); for tests. */
void slog_set_fd(int fd);

/*
 * Writes one line: msg is a lowercase human message; kv is a printf-style
 * format of further pairs, e.g. slog_log(SLOG_INFO, "started", "port=%d", p).
 * Pass kv = NULL for none. Caller quotes values itself with slog_quote() when
 * they may hold spaces.
 */
void slog_log(enum slog_level lvl, const char *msg, const char *kv, ...)
	__attribute__((format(printf, 3, 4)));

#define slog_debug(msg, ...) \
	do { if (slog_enabled(SLOG_DEBUG)) slog_log(SLOG_DEBUG, msg, __VA_ARGS__); } while (0)
#define slog_info(msg, ...) slog_log(SLOG_INFO, msg, __VA_ARGS__)
#define slog_warn(msg, ...) slog_log(SLOG_WARN, msg, __VA_ARGS__)
#define slog_error(msg, ...) slog_log(SLOG_ERROR, msg, __VA_ARGS__)

/*
 * Writes s as a logfmt value into out (always NUL-terminated, truncated
 * with "..." to fit), quoting and escaping when needed. Returns out, so it
 * can be used inline: slog_info("x", "name=%s", slog_quote(buf, sizeof buf, s)).
 */
const char *slog_quote(char *out, size_t outlen, const char *s);

#endif
