/*
 * services/ingest/submission.c - strict parsing and validation of content
 * submissions (POST /v1/content, batch lines, aspirasi; intake shares the
 * field checks). Every rejection names its status, code and field.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <simpul/v1/content.pb-c.h>

#include "ingest.h"
#include "util/err.h"

static const char *const type_names[] = {
	[SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_BERITA] = "berita",
	[SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_KEGIATAN] = "kegiatan",
	[SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_POTENSI] = "potensi",
	[SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_UMKM] = "umkm",
	[SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_ASPIRASI] = "aspirasi",
	[SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_USULAN] = "usulan",
	[SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_DISEMINASI] = "diseminasi",
};
#define NTYPES (sizeof(type_names) / sizeof(type_names[0]))

int ingest_verr_set(struct ingest_verr *e, int status, const char *code, const char *field,
		    const char *fmt, ...)
{
	va_list ap;

	e->status = status;
	snprintf(e->code, sizeof(e->code), "%s", code);
	snprintf(e->field, sizeof(e->field), "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return (status == 401 || status == 403) ? UTIL_EDENIED : UTIL_EINVAL;
}

int ingest_content_type_parse(const char *s)
{
	for (size_t i = 1; i < NTYPES; i++)
		if (type_names[i] && strcmp(s, type_names[i]) == 0)
			return (int)i;
	return 0;
}

const char *ingest_content_type_name(int type)
{
	if (type <= 0 || (size_t)type >= NTYPES)
		return NULL;
	return type_names[type];
}

size_t ingest_utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

bool ingest_region_code_valid(const char *s, int min_level, int max_level)
{
	static const size_t seg[] = {2, 2, 2, 4};
	int level = 0;

	while (level < 4) {
		if (strlen(s) < seg[level] || !digits(s, seg[level]))
			return false;
		s += seg[level];
		level++;
		if (*s == '\0')
			break;
		if (*s != '.' || level == 4)
			return false;
		s++;
	}
	return level >= min_level && level <= max_level;
}

/* True if s holds a control character (tab/newline allowed when multiline). */
static bool has_control(const char *s, bool multiline)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == 0x7f || (c < 0x20 && !(multiline && (c == '\n' || c == '\r' || c == '\t'))))
			return true;
	}
	return false;
}

static bool url_valid(const char *u)
{
	if (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0)
		return false;
	if (strlen(u) <= (u[4] == 's' ? 8u : 7u))
		return false;
	for (; *u; u++)
		if ((unsigned char)*u <= 0x20 || *u == 0x7f)
			return false;
	return true;
}

static int check_text(const char *field, const char *v, size_t max_chars, bool multiline,
		      bool required, struct ingest_verr *e)
{
	if (!v)
		return required ? ingest_verr_set(e, 422, "missing_field", field,
						  "\"%s\" is required", field)
				: 0;
	if (required && v[strspn(v, " \t\r\n")] == '\0')
		return ingest_verr_set(e, 422, "invalid_field", field, "\"%s\" must not be blank",
				       field);
	if (ingest_utf8_chars(v) > max_chars)
		return ingest_verr_set(e, 422, "too_long", field,
				       "\"%s\" is longer than %zu characters", field, max_chars);
	if (has_control(v, multiline))
		return ingest_verr_set(e, 422, "invalid_field", field,
				       "\"%s\" contains control characters", field);
	return 0;
}

static int check_lists(const struct submission *s, struct ingest_verr *e)
{
	char f[48];
	int rc;

	if (s->ntags > INGEST_TAGS_MAX)
		return ingest_verr_set(e, 422, "too_long", "tags", "at most %d tags",
				       INGEST_TAGS_MAX);
	for (size_t i = 0; i < s->ntags; i++) {
		snprintf(f, sizeof(f), "tags[%zu]", i);
		rc = check_text(f, s->tags[i], INGEST_TAG_MAX, false, true, e);
		if (rc)
			return rc;
	}
	if (s->nmedia > INGEST_MEDIA_MAX)
		return ingest_verr_set(e, 422, "too_long", "media_urls", "at most %d media urls",
				       INGEST_MEDIA_MAX);
	for (size_t i = 0; i < s->nmedia; i++) {
		snprintf(f, sizeof(f), "media_urls[%zu]", i);
		if (strlen(s->media_urls[i]) > INGEST_URL_MAX)
			return ingest_verr_set(e, 422, "too_long", f, "url longer than %d bytes",
					       INGEST_URL_MAX);
		if (!url_valid(s->media_urls[i]))
			return ingest_verr_set(e, 422, "invalid_field", f,
					       "must be an http:// or https:// url");
	}
	return 0;
}

int ingest_submission_check(const struct submission *s, struct ingest_verr *e)
{
	int rc;

	if (!ingest_content_type_name(s->type))
		return ingest_verr_set(e, 422, "unknown_type", "type", "unknown content type");
	rc = check_text("title", s->title, INGEST_TITLE_MAX, false, true, e);
	if (!rc)
		rc = check_text("body", s->body, INGEST_BODY_MAX, true, true, e);
	if (rc)
		return rc;
	if (!s->region_code)
		return ingest_verr_set(e, 422, "missing_field", "region_code",
				       "\"region_code\" is required");
	if (!ingest_region_code_valid(s->region_code, 1, 4))
		return ingest_verr_set(e, 422, "invalid_field", "region_code",
				       "not a Kemendagri region code (e.g. 35.07.12.2003)");
	if (s->kim_id && !util_uuid_valid(s->kim_id))
		return ingest_verr_set(e, 422, "invalid_field", "kim_id", "not a uuid");
	rc = check_text("name", s->author_name, INGEST_NAME_MAX, false, false, e);
	if (!rc)
		rc = check_text("contact", s->author_contact, INGEST_CONTACT_MAX, false, false, e);
	if (!rc && s->idempotency_key &&
	    (strlen(s->idempotency_key) < 1 || strlen(s->idempotency_key) > INGEST_KEY_MAX ||
	     has_control(s->idempotency_key, false)))
		rc = ingest_verr_set(e, 422, "invalid_field", "idempotency_key",
				     "1 to %d printable bytes", INGEST_KEY_MAX);
	return rc ? rc : check_lists(s, e);
}

/* ---- JSON -> struct submission ---- */

static bool field_allowed(enum ingest_form form, const char *k)
{
	static const char *const common[] = {"title", "body", "region_code", "tags",
					     "media_urls", NULL};

	for (size_t i = 0; common[i]; i++)
		if (strcmp(k, common[i]) == 0)
			return true;
	if (form == INGEST_FORM_ASPIRASI)
		return strcmp(k, "name") == 0 || strcmp(k, "contact") == 0;
	if (strcmp(k, "type") == 0 || strcmp(k, "kim_id") == 0)
		return true;
	return form == INGEST_FORM_BATCH_LINE && strcmp(k, "idempotency_key") == 0;
}

static int get_string(json_t *obj, const char *k, char **out, struct ingest_verr *e)
{
	json_t *v = json_object_get(obj, k);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return ingest_verr_set(e, 422, "invalid_field", k, "\"%s\" must be a string", k);
	*out = strndup(json_string_value(v), json_string_length(v));
	return *out ? 0 : UTIL_ENOMEM;
}

static int get_list(json_t *obj, const char *k, size_t cap, char ***out, size_t *n,
		    struct ingest_verr *e)
{
	json_t *v = json_object_get(obj, k), *x;
	size_t i;
	char f[48];

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return ingest_verr_set(e, 422, "invalid_field", k, "\"%s\" must be an array", k);
	if (json_array_size(v) > cap)
		return ingest_verr_set(e, 422, "too_long", k, "at most %zu items in \"%s\"", cap, k);
	*out = calloc(json_array_size(v) + 1, sizeof(char *));
	if (!*out)
		return UTIL_ENOMEM;
	json_array_foreach(v, i, x) {
		if (!json_is_string(x)) {
			snprintf(f, sizeof(f), "%s[%zu]", k, i);
			return ingest_verr_set(e, 422, "invalid_field", f, "must be a string");
		}
		(*out)[i] = strndup(json_string_value(x), json_string_length(x));
		if (!(*out)[i])
			return UTIL_ENOMEM;
		*n = i + 1;
	}
	return 0;
}

/* Maps a jansson load error to 400 invalid_utf8 / malformed_json. */
static int load_error(const json_error_t *je, struct ingest_verr *e)
{
	switch (json_error_code(je)) {
	case json_error_invalid_utf8:
		return ingest_verr_set(e, 400, "invalid_utf8", NULL, "body is not valid utf-8");
	case json_error_null_character:
	case json_error_null_byte_in_key:
		return ingest_verr_set(e, 400, "malformed_json", NULL,
				       "nul characters are not allowed");
	default:
		return ingest_verr_set(e, 400, "malformed_json", NULL, "malformed json: %s",
				       je->text);
	}
}

/* Loads a JSON object strictly (no duplicate keys, no NUL, one value). */
json_t *ingest_json_load_object(const char *body, size_t len, struct ingest_verr *e)
{
	json_error_t je;
	json_t *root;

	if (memchr(body, '\0', len)) {
		ingest_verr_set(e, 400, "malformed_json", NULL, "nul bytes are not allowed");
		return NULL;
	}
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		load_error(&je, e);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		ingest_verr_set(e, 400, "malformed_json", NULL, "body must be a json object");
		return NULL;
	}
	return root;
}

static int fill(json_t *root, enum ingest_form form, struct submission *s, struct ingest_verr *e)
{
	const char *k;
	json_t *v;
	char *type = NULL;
	int rc;

	json_object_foreach(root, k, v) {
		if (!field_allowed(form, k))
			return ingest_verr_set(e, 400, "unknown_field", k, "unknown field \"%s\"", k);
	}
	rc = get_string(root, "title", &s->title, e);
	if (!rc)
		rc = get_string(root, "body", &s->body, e);
	if (!rc)
		rc = get_string(root, "region_code", &s->region_code, e);
	if (!rc && form != INGEST_FORM_ASPIRASI)
		rc = get_string(root, "kim_id", &s->kim_id, e);
	if (!rc && form == INGEST_FORM_ASPIRASI)
		rc = get_string(root, "name", &s->author_name, e);
	if (!rc && form == INGEST_FORM_ASPIRASI)
		rc = get_string(root, "contact", &s->author_contact, e);
	if (!rc && form == INGEST_FORM_BATCH_LINE)
		rc = get_string(root, "idempotency_key", &s->idempotency_key, e);
	if (!rc)
		rc = get_list(root, "tags", 1000, &s->tags, &s->ntags, e);
	if (!rc)
		rc = get_list(root, "media_urls", 1000, &s->media_urls, &s->nmedia, e);
	if (rc)
		return rc;
	if (form == INGEST_FORM_ASPIRASI) {
		s->type = SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_ASPIRASI;
		return 0;
	}
	rc = get_string(root, "type", &type, e);
	if (!rc && !type)
		rc = ingest_verr_set(e, 422, "missing_field", "type", "\"type\" is required");
	if (!rc)
		s->type = ingest_content_type_parse(type);
	free(type);
	return rc;
}

int ingest_submission_parse(const char *body, size_t len, enum ingest_form form,
			    struct submission *s, struct ingest_verr *e)
{
	json_t *root;
	int rc;

	memset(s, 0, sizeof(*s));
	root = ingest_json_load_object(body, len, e);
	if (!root)
		return UTIL_EINVAL;
	rc = fill(root, form, s, e);
	json_decref(root);
	if (rc == UTIL_ENOMEM)
		return ingest_verr_set(e, 500, "internal", NULL, "out of memory");
	if (rc)
		return rc;
	/* Required fields first, in a fixed order, so errors are predictable. */
	if (!s->title)
		return ingest_verr_set(e, 422, "missing_field", "title", "\"title\" is required");
	if (!s->body)
		return ingest_verr_set(e, 422, "missing_field", "body", "\"body\" is required");
	return ingest_submission_check(s, e);
}

static void free_list(char **l, size_t n)
{
	if (!l)
		return;
	for (size_t i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

void ingest_submission_release(struct submission *s)
{
	free(s->title);
	free(s->body);
	free(s->region_code);
	free(s->kim_id);
	free(s->author_name);
	free(s->author_contact);
	free(s->idempotency_key);
	free_list(s->tags, s->ntags);
	free_list(s->media_urls, s->nmedia);
	memset(s, 0, sizeof(*s));
}
