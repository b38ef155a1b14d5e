/*
 * config/config.c - table-driven configuration from environment variables.
 *
 * The only place in the project that calls getenv(). Every item is checked
 * even after a failure so the operator sees all bad values in one go. An
 * unset or empty variable takes the item's default; min == max == 0 means
 * unbounded for numeric types. Values of secret items never appear in error
 * messages or logs.
 */
#include "config/config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "slog/slog.h"
#include "util/err.h"

struct errs {
	char *buf;
	size_t len, cap;
	int count;
};

static void errs_add(struct errs *e, const struct config_item *it, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void errs_add(struct errs *e, const struct config_item *it, const char *fmt, ...)
{
	va_list ap;
	int n;

	e->count++;
	if (!e->buf || e->len + 1 >= e->cap)
		return;
	n = snprintf(e->buf + e->len, e->cap - e->len, "%s%s: ", e->count > 1 ? "\n" : "",
		     it->name);
	if (n < 0 || (size_t)n >= e->cap - e->len) {
		e->len = e->cap - 1;
		return;
	}
	e->len += (size_t)n;
	va_start(ap, fmt);
	n = vsnprintf(e->buf + e->len, e->cap - e->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= e->cap - e->len)
		e->len = e->cap - 1;
	else
		e->len += (size_t)n;
}

static bool bounded(const struct config_item *it)
{
	return it->min != 0 || it->max != 0;
}

static bool parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!*s || *s == ' ' || *s == '\t')
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*out = v;
	return true;
}

/* Non-negative decimal digits followed by a unit; the unit table gives the multiplier. */
struct unit {
	const char *suffix;
	int64_t mult;
};

static const struct unit duration_units[] = {
	{"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {NULL, 0},
};

static const struct unit size_units[] = {
	{"", 1},
	{"b", 1},
	{"k", 1024},
	{"kb", 1024},
	{"kib", 1024},
	{"m", 1024 * 1024},
	{"mb", 1024 * 1024},
	{"mib", 1024 * 1024},
	{"g", 1024LL * 1024 * 1024},
	{"gb", 1024LL * 1024 * 1024},
	{"gib", 1024LL * 1024 * 1024},
	{"t", 1024LL * 1024 * 1024 * 1024},
	{"tb", 1024LL * 1024 * 1024 * 1024},
	{"tib", 1024LL * 1024 * 1024 * 1024},
	{NULL, 0},
};

static bool parse_scaled(const char *s, const struct unit *units, int64_t *out)
{
	int64_t n = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > (INT64_MAX - (*p - '0')) / 10)
			return false;
		n = n * 10 + (*p - '0');
	}
	for (const struct unit *u = units; u->suffix; u++) {
		if (strcasecmp(p, u->suffix) == 0) {
			if (n > INT64_MAX / u->mult)
				return false;
			*out = n * u->mult;
			return true;
		}
	}
	return false;
}

static bool parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"1", "true", "yes", "on", NULL};
	static const char *const no[] = {"0", "false", "no", "off", NULL};

	for (int i = 0; yes[i]; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

/* What the operator sees in an error: the value quoted, or a mask for secrets. */
static const char *shown(const struct config_item *it, const char *raw, char *buf, size_t len)
{
	if (it->secret)
		return "(secret value hidden)";
	snprintf(buf, len, "\"%.80s%s\"", raw, strlen(raw) > 80 ? "..." : "");
	return buf;
}

static void range_text(const struct config_item *it, const char *unit, char *buf, size_t len)
{
	if (bounded(it))
		snprintf(buf, len, " in %" PRId64 "..%" PRId64 "%s", it->min, it->max, unit);
	else
		buf[0] = '\0';
}

static int load_number(const struct config_item *it, const char *raw, struct errs *e)
{
	char show[96], range[80];
	int64_t v = 0;
	bool ok;
	const char *what;

	switch (it->type) {
	case CONFIG_INT:
		ok = parse_i64(raw, &v);
		what = "an integer";
		range_text(it, "", range, sizeof range);
		break;
	case CONFIG_DURATION_MS:
		ok = parse_scaled(raw, duration_units, &v);
		what = "a duration (e.g. 250ms, 5s, 2m, 1h; bare number = ms)";
		range_text(it, " ms", range, sizeof range);
		break;
	default:
		ok = parse_scaled(raw, size_units, &v);
		what = "a size (e.g. 512, 64k, 10m, 1g)";
		range_text(it, " bytes", range, sizeof range);
		break;
	}
	if (!ok || (bounded(it) && (v < it->min || v > it->max))) {
		errs_add(e, it, "expected %s%s, got %s", what, range,
			 shown(it, raw, show, sizeof show));
		return UTIL_EINVAL;
	}
	*(int64_t *)it->dest = v;
	return 0;
}

static int load_string(const struct config_item *it, const char *raw, struct errs *e)
{
	size_t len = strlen(raw);
	char *copy;

	if (it->max > 0 && len > (size_t)it->max) {
		errs_add(e, it, "expected at most %" PRId64 " characters, got %zu", it->max, len);
		return UTIL_EINVAL;
	}
	copy = strdup(raw);
	if (!copy) {
		errs_add(e, it, "out of memory");
		return UTIL_ENOMEM;
	}
	*(char **)it->dest = copy;
	return 0;
}

static int load_item(const struct config_item *it, struct errs *e)
{
	const char *raw = getenv(it->name);
	char show[96];
	bool b;

	if (!raw || !*raw)
		raw = it->def;
	if (!raw) {
		errs_add(e, it, "required but not set");
		return UTIL_EINVAL;
	}
	switch (it->type) {
	case CONFIG_BOOL:
		if (!parse_bool(raw, &b)) {
			errs_add(e, it, "expected a boolean (true/false, 1/0, yes/no, on/off), got %s",
				 shown(it, raw, show, sizeof show));
			return UTIL_EINVAL;
		}
		*(bool *)it->dest = b;
		return 0;
	case CONFIG_STRING:
		return load_string(it, raw, e);
	case CONFIG_INT:
	case CONFIG_DURATION_MS:
	case CONFIG_SIZE:
		return load_number(it, raw, e);
	}
	errs_add(e, it, "unknown item type %d", (int)it->type);
	return UTIL_EINVAL;
}

int config_load(const struct config_item *items, size_t n, char *err, size_t errlen)
{
	struct errs e = {.buf = err, .cap = errlen};

	if (err && errlen > 0)
		err[0] = '\0';
	/* strings start NULL so config_release is safe whatever happens below */
	for (size_t i = 0; i < n; i++) {
		if (items[i].type == CONFIG_STRING && items[i].dest)
			*(char **)items[i].dest = NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!items[i].name || !items[i].dest) {
			struct config_item bad = {.name = "(config table)"};
			errs_add(&e, &bad, "item %zu has no name or destination", i);
			continue;
		}
		load_item(&items[i], &e);
	}
	if (e.count == 0)
		return 0;
	config_release(items, n);
	return UTIL_EINVAL;
}

void config_release(const struct config_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (items[i].type != CONFIG_STRING || !items[i].dest)
			continue;
		free(*(char **)items[i].dest);
		*(char **)items[i].dest = NULL;
	}
}

/* The effective value as text, masked for secrets. */
static const char *value_text(const struct config_item *it, char *buf, size_t len)
{
	const char *s;

	if (it->type == CONFIG_STRING) {
		s = *(char **)it->dest;
		if (it->secret && s && *s)
			return "***";
		return slog_quote(buf, len, s ? s : "");
	}
	if (it->secret)
		return "***";
	switch (it->type) {
	case CONFIG_BOOL:
		return *(bool *)it->dest ? "true" : "false";
	case CONFIG_DURATION_MS:
		snprintf(buf, len, "%" PRId64 "ms", *(int64_t *)it->dest);
		return buf;
	default:
		snprintf(buf, len, "%" PRId64, *(int64_t *)it->dest);
		return buf;
	}
}

void config_log(const struct config_item *items, size_t n)
{
	char buf[512];

	if (!slog_enabled(SLOG_INFO))
		return;
	for (size_t i = 0; i < n; i++) {
		const struct config_item *it = &items[i];
		const char *raw;

		if (!it->name || !it->dest)
			continue;
		raw = getenv(it->name);
		slog_info("config", "name=%s value=%s source=%s", it->name,
			  value_text(it, buf, sizeof buf), raw && *raw ? "env" : "default");
	}
}

static const char *type_name(enum config_type t)
{
	switch (t) {
	case CONFIG_INT: return "int";
	case CONFIG_BOOL: return "bool";
	case CONFIG_STRING: return "string";
	case CONFIG_DURATION_MS: return "duration";
	case CONFIG_SIZE: return "size";
	}
	return "?";
}

void config_print_help(const struct config_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct config_item *it = &items[i];
		char range[80] = "";

		if (!it->name)
			continue;
		if (it->type == CONFIG_STRING && it->max > 0)
			snprintf(range, sizeof range, ", max %" PRId64 " chars", it->max);
		else if (it->type != CONFIG_STRING && it->type != CONFIG_BOOL && bounded(it))
			snprintf(range, sizeof range, ", %" PRId64 "..%" PRId64, it->min, it->max);
		printf("  %-32s %s%s, %s%s%s%s\n", it->name, type_name(it->type), range,
		       it->def ? "default \"" : "required", it->def ? it->def : "",
		       it->def ? "\"" : "", it->secret ? ", secret" : "");
		if (it->help)
			printf("      %s\n", it->help);
	}
}
