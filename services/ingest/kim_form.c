/*
 * services/ingest/kim_form.c - parsing and validation of a KIM registration
 * (POST /v1/kims): name, region, decree, fields (bidang), contacts, members.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest.h"
#include "util/err.h"

#define KIM_NAME_MAX 200
#define KIM_DECREE_MAX 200
#define KIM_FIELDS_MAX 50
#define KIM_FIELD_MAX 100
#define KIM_CONTACTS_MAX 20
#define KIM_CONTACT_VALUE_MAX 200
#define KIM_MEMBERS_MAX 200
#define KIM_ROLE_MAX 50

static int str_field(json_t *obj, const char *k, const char *path, size_t max, bool required,
		     char **out, struct ingest_verr *e)
{
	json_t *v = json_object_get(obj, k);
	const char *s;

	if (!v || json_is_null(v))
		return required ? ingest_verr_set(e, 422, "missing_field", path,
						  "\"%s\" is required", path)
				: 0;
	if (!json_is_string(v))
		return ingest_verr_set(e, 422, "invalid_field", path, "\"%s\" must be a string",
				       path);
	s = json_string_value(v);
	if (s[strspn(s, " \t\r\n")] == '\0')
		return ingest_verr_set(e, 422, "invalid_field", path, "\"%s\" must not be blank",
				       path);
	if (ingest_utf8_chars(s) > max)
		return ingest_verr_set(e, 422, "too_long", path,
				       "\"%s\" is longer than %zu characters", path, max);
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return ingest_verr_set(e, 422, "invalid_field", path,
					       "\"%s\" contains control characters", path);
	*out = strdup(s);
	return *out ? 0 : UTIL_ENOMEM;
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* YYYY-MM-DD, a real calendar date, not before 1945-08-17. */
static bool date_valid(const char *s)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, m, d, n = 0;

	if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10)
		return false;
	if (s[4] != '-' || s[7] != '-' || m < 1 || m > 12 || d < 1)
		return false;
	if (d > mdays[m - 1] + (m == 2 && leap(y)))
		return false;
	return strcmp(s, "1945-08-17") >= 0 && y <= 2100;
}

static bool kind_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 32)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
			return false;
	return true;
}

static int fields_list(json_t *root, struct kim_form *k, struct ingest_verr *e)
{
	json_t *v = json_object_get(root, "fields"), *x;
	char path[32];
	size_t i;
	int rc;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return ingest_verr_set(e, 422, "invalid_field", "fields", "must be an array");
	if (json_array_size(v) > KIM_FIELDS_MAX)
		return ingest_verr_set(e, 422, "too_long", "fields", "at most %d fields",
				       KIM_FIELDS_MAX);
	k->fields = calloc(json_array_size(v) + 1, sizeof(char *));
	if (!k->fields)
		return UTIL_ENOMEM;
	json_array_foreach(v, i, x) {
		json_t *wrap = json_pack("{sO}", "f", x);

		snprintf(path, sizeof(path), "fields[%zu]", i);
		rc = wrap ? str_field(wrap, "f", path, KIM_FIELD_MAX, true, &k->fields[i], e)
			  : UTIL_ENOMEM;
		json_decref(wrap);
		if (rc)
			return rc;
		k->nfields = i + 1;
	}
	return 0;
}

static int contacts_list(json_t *root, struct kim_form *k, struct ingest_verr *e)
{
	json_t *v = json_object_get(root, "contacts"), *x;
	char path[48];
	size_t i;
	int rc;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return ingest_verr_set(e, 422, "invalid_field", "contacts", "must be an array");
	if (json_array_size(v) > KIM_CONTACTS_MAX)
		return ingest_verr_set(e, 422, "too_long", "contacts", "at most %d contacts",
				       KIM_CONTACTS_MAX);
	k->contacts = calloc(json_array_size(v) + 1, sizeof(*k->contacts));
	if (!k->contacts)
		return UTIL_ENOMEM;
	json_array_foreach(v, i, x) {
		const char *key;
		json_t *val;

		snprintf(path, sizeof(path), "contacts[%zu]", i);
		if (!json_is_object(x))
			return ingest_verr_set(e, 422, "invalid_field", path, "must be an object");
		json_object_foreach(x, key, val) {
			if (strcmp(key, "kind") != 0 && strcmp(key, "value") != 0)
				return ingest_verr_set(e, 400, "unknown_field", path,
						       "unknown field \"%s\"", key);
		}
		k->ncontacts = i + 1;
		snprintf(path, sizeof(path), "contacts[%zu].kind", i);
		rc = str_field(x, "kind", path, 32, true, &k->contacts[i].kind, e);
		if (!rc && !kind_valid(k->contacts[i].kind))
			rc = ingest_verr_set(e, 422, "invalid_field", path,
					     "kind is 1-32 of [a-z_] (email, phone, web, ...)");
		snprintf(path, sizeof(path), "contacts[%zu].value", i);
		if (!rc)
			rc = str_field(x, "value", path, KIM_CONTACT_VALUE_MAX, true,
				       &k->contacts[i].value, e);
		if (rc)
			return rc;
	}
	return 0;
}

static int members_list(json_t *root, struct kim_form *k, struct ingest_verr *e)
{
	json_t *v = json_object_get(root, "members"), *x;
	char path[48];
	size_t i;
	int rc;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return ingest_verr_set(e, 422, "invalid_field", "members", "must be an array");
	if (json_array_size(v) > KIM_MEMBERS_MAX)
		return ingest_verr_set(e, 422, "too_long", "members", "at most %d members",
				       KIM_MEMBERS_MAX);
	k->members = calloc(json_array_size(v) + 1, sizeof(*k->members));
	if (!k->members)
		return UTIL_ENOMEM;
	json_array_foreach(v, i, x) {
		const char *key;
		json_t *val;

		snprintf(path, sizeof(path), "members[%zu]", i);
		if (!json_is_object(x))
			return ingest_verr_set(e, 422, "invalid_field", path, "must be an object");
		json_object_foreach(x, key, val) {
			if (strcmp(key, "name") != 0 && strcmp(key, "role") != 0)
				return ingest_verr_set(e, 400, "unknown_field", path,
						       "unknown field \"%s\"", key);
		}
		k->nmembers = i + 1;
		snprintf(path, sizeof(path), "members[%zu].name", i);
		rc = str_field(x, "name", path, KIM_NAME_MAX, true, &k->members[i].name, e);
		snprintf(path, sizeof(path), "members[%zu].role", i);
		if (!rc)
			rc = str_field(x, "role", path, KIM_ROLE_MAX, false, &k->members[i].role, e);
		if (rc)
			return rc;
	}
	return 0;
}

static int fill(json_t *root, struct kim_form *k, struct ingest_verr *e)
{
	static const char *const allowed[] = {"name",	  "region_code", "decree_number",
					      "decree_date", "fields",	    "contacts",
					      "members",     NULL};
	const char *key;
	json_t *v;
	int rc;

	json_object_foreach(root, key, v) {
		size_t i = 0;

		while (allowed[i] && strcmp(allowed[i], key) != 0)
			i++;
		if (!allowed[i])
			return ingest_verr_set(e, 400, "unknown_field", key, "unknown field \"%s\"",
					       key);
	}
	rc = str_field(root, "name", "name", KIM_NAME_MAX, true, &k->name, e);
	if (!rc)
		rc = str_field(root, "region_code", "region_code", 16, true, &k->region_code, e);
	if (!rc && !ingest_region_code_valid(k->region_code, 3, 4))
		rc = ingest_verr_set(e, 422, "invalid_field", "region_code",
				     "must be a kecamatan or desa/kelurahan code");
	if (!rc)
		rc = str_field(root, "decree_number", "decree_number", KIM_DECREE_MAX, true,
			       &k->decree_number, e);
	if (!rc)
		rc = str_field(root, "decree_date", "decree_date", 10, true, &k->decree_date, e);
	if (!rc && !date_valid(k->decree_date))
		rc = ingest_verr_set(e, 422, "invalid_field", "decree_date",
				     "must be a date YYYY-MM-DD not before 1945-08-17");
	if (!rc)
		rc = fields_list(root, k, e);
	if (!rc)
		rc = contacts_list(root, k, e);
	if (!rc)
		rc = members_list(root, k, e);
	return rc;
}

int ingest_kim_parse(const char *body, size_t len, struct kim_form *k, struct ingest_verr *e)
{
	json_t *root;
	int rc;

	memset(k, 0, sizeof(*k));
	root = ingest_json_load_object(body, len, e);
	if (!root)
		return UTIL_EINVAL;
	rc = fill(root, k, e);
	json_decref(root);
	if (rc == UTIL_ENOMEM)
		return ingest_verr_set(e, 500, "internal", NULL, "out of memory");
	return rc;
}

void ingest_kim_release(struct kim_form *k)
{
	free(k->name);
	free(k->region_code);
	free(k->decree_number);
	free(k->decree_date);
	for (size_t i = 0; i < k->nfields; i++)
		free(k->fields[i]);
	free(k->fields);
	for (size_t i = 0; i < k->ncontacts; i++) {
		free(k->contacts[i].kind);
		free(k->contacts[i].value);
	}
	free(k->contacts);
	for (size_t i = 0; i < k->nmembers; i++) {
		free(k->members[i].name);
		free(k->members[i].role);
	}
	free(k->members);
	memset(k, 0, sizeof(*k));
}
