/*
 * config/config.h - configuration from environment variables, by a table.
 *
 * Each service describes its settings in one array of struct config_item
 * (name, type, bounds, default, secret?, where to store the value) and calls
 * config_load() once. All bad values are reported together; the caller then
 * exits with status 2 before opening any socket. Nothing else calls getenv.
 */
#ifndef CONFIG_CONFIG_H
#define CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum config_type {
	CONFIG_INT,     /* int64_t *, bounded by min..max */
	CONFIG_BOOL,    /* bool *, from 1/0, true/false, yes/no, on/off */
	CONFIG_STRING,  /* char ** (heap copy, freed by config_release); max = max length */
	CONFIG_DURATION_MS, /* int64_t * milliseconds, from "250ms", "5s", "2m", "1h" or bare ms */
	CONFIG_SIZE,    /* int64_t * bytes, from "512", "64k", "10m", "1g" (powers of 1024) */
};

struct config_item {
	const char *name;       /* environment variable, e.g. "SIMPUL_INGEST_PORT" */
	enum config_type type;
	const char *def;        /* default as text; NULL means required */
	int64_t min, max;       /* bounds (for strings: max length; 0 = unbounded) */
	bool secret;            /* masked when logged */
	void *dest;             /* where the parsed value goes */
	const char *help;       /* one line, for --help and the README */
};

/*
 * Parses every item from the environment (or its default) into dest.
 * On any bad value, writes one line per problem into err (newline-separated,
 * truncated to errlen) and returns UTIL_EINVAL having checked all items.
 */
int config_load(const struct config_item *items, size_t n, char *err, size_t errlen);

/* Frees strings allocated by config_load. */
void config_release(const struct config_item *items, size_t n);

/* Logs the effective configuration through slog at info, secrets as "***". */
void config_log(const struct config_item *items, size_t n);

/* Prints the table (name, default, help) to stdout, for --help. */
void config_print_help(const struct config_item *items, size_t n);

#endif
