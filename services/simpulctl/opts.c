/*
 * opts.c - option parsing and the database connection, shared by the
 * simpulctl commands.
 */
#include <stdio.h>
#include <string.h>

#include "simpulctl.h"

static int find_opt(const char *const *spec, const char *name, size_t len)
{
	for (int i = 0; spec[i]; i++)
		if (strlen(spec[i]) == len && !strncmp(spec[i], name, len))
			return i;
	return -1;
}

bool simpulctl_opts_parse(int argc, char **argv, const char *const *spec, const char **values,
			  const char **pos, size_t maxpos, size_t *npos)
{
	*npos = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *eq;
		int k;

		if (strncmp(a, "--", 2) != 0 || !a[2]) {
			if (*npos >= maxpos) {
				fprintf(stderr, "simpulctl: unexpected argument \"%s\"\n", a);
				return false;
			}
			pos[(*npos)++] = a;
			continue;
		}
		eq = strchr(a + 2, '=');
		k = find_opt(spec, a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
		if (k < 0) {
			fprintf(stderr, "simpulctl: unknown option \"%s\"\n", a);
			return false;
		}
		if (eq) {
			values[k] = eq + 1;
		} else if (i + 1 < argc) {
			values[k] = argv[++i];
		} else {
			fprintf(stderr, "simpulctl: option \"%s\" needs a value\n", a);
			return false;
		}
	}
	return true;
}

struct db_conn *simpulctl_db_open(const struct simpulctl_ctx *ctx)
{
	struct db_conn_opts o = {.application_name = "simpulctl", .connect_timeout_s = 5};
	char err[512];
	struct db_conn *c = db_conn_new_opts(ctx->pg_url, &o, err, sizeof err);

	if (!c)
		fprintf(stderr, "simpulctl: %s\n", err);
	return c;
}

static const struct {
	const char *constraint;
	const char *hint;
} hints[] = {
	{"users_email_key", "that email address is already used"},
	{"users_moderator_has_region", "a moderator needs --region PREFIX"},
	{"users_kim_role_has_kim", "kim_member and kim_admin need --kim UUID"},
	{"users_region_prefix_fkey", "unknown region code (import the regions first)"},
	{"users_kim_id_fkey", "unknown KIM id"},
	{"kims_region_code_fkey", "unknown region code (import the regions first)"},
	{"api_tokens_user_id_fkey", "unknown user id"},
};

void simpulctl_db_report(const struct db_conn *c, const char *what, const char *err)
{
	const char *cons = db_last_constraint(c);

	fprintf(stderr, "simpulctl: %s: %s\n", what, err);
	for (size_t i = 0; cons[0] && i < sizeof hints / sizeof hints[0]; i++)
		if (!strcmp(cons, hints[i].constraint))
			fprintf(stderr, "simpulctl: %s\n", hints[i].hint);
}

bool simpulctl_date_shape(const char *s)
{
	static const char shape[] = "dddd-dd-dd";

	for (size_t i = 0; i < sizeof shape - 1; i++) {
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
			return false;
	}
	return s[sizeof shape - 1] == '\0';
}
