/*
 * tests/fuzz/ingest_json_fuzz.c - libFuzzer harness for ingest's HTTP JSON
 * intake: the request-body parsing and validation of POST /v1/content,
 * /v1/aspirasi, /v1/kims and of one NDJSON batch line
 * (services/ingest/submission.c, kim_form.c).
 *
 * Input: the first byte picks the form (mod 4), the rest is the body.
 * Invariants: a rejection is a 4xx with a code; an accepted submission
 * passes the shared field checks again and respects every documented limit.
 */
#include <string.h>

#include "fuzz_check.h"
#include "ingest.h"
#include "util/err.h"

static void check_verr(const struct ingest_verr *e)
{
	FUZZ_CHECK(e->status == 400 || e->status == 413 || e->status == 415 ||
			   e->status == 422,
		   "rejection status is a documented 4xx");
	FUZZ_CHECK(e->code[0] != '\0', "rejection has a code");
	FUZZ_CHECK(memchr(e->code, '\0', sizeof(e->code)) && memchr(e->field, '\0', sizeof(e->field)) &&
			   memchr(e->message, '\0', sizeof(e->message)),
		   "error strings are terminated");
}

static void check_submission(const struct submission *s, enum ingest_form form)
{
	struct ingest_verr e;

	FUZZ_CHECK(ingest_submission_check(s, &e) == 0, "accepted body passes the field checks");
	FUZZ_CHECK(ingest_content_type_name(s->type) != NULL, "accepted type has a name");
	FUZZ_CHECK(s->title && s->body && s->region_code, "required fields are present");
	FUZZ_CHECK(ingest_utf8_chars(s->title) <= INGEST_TITLE_MAX, "title within its limit");
	FUZZ_CHECK(ingest_utf8_chars(s->body) <= INGEST_BODY_MAX, "body within its limit");
	FUZZ_CHECK(s->ntags <= INGEST_TAGS_MAX && s->nmedia <= INGEST_MEDIA_MAX,
		   "lists within their limits");
	for (size_t i = 0; i < s->ntags; i++)
		FUZZ_CHECK(ingest_utf8_chars(s->tags[i]) <= INGEST_TAG_MAX, "tag within its limit");
	for (size_t i = 0; i < s->nmedia; i++)
		FUZZ_CHECK(strlen(s->media_urls[i]) <= INGEST_URL_MAX, "url within its limit");
	if (form != INGEST_FORM_BATCH_LINE)
		FUZZ_CHECK(s->idempotency_key == NULL, "only batch lines carry a key");
	else if (s->idempotency_key)
		FUZZ_CHECK(strlen(s->idempotency_key) <= INGEST_KEY_MAX, "line key within its limit");
	if (form == INGEST_FORM_ASPIRASI)
		FUZZ_CHECK(s->kim_id == NULL, "aspirasi carry no kim_id");
}

static void check_kim(const struct kim_form *k)
{
	FUZZ_CHECK(k->name && k->region_code && k->decree_number && k->decree_date,
		   "registered kim has its required fields");
	FUZZ_CHECK(ingest_region_code_valid(k->region_code, 3, 4),
		   "kim region is a kecamatan or desa");
	FUZZ_CHECK(strlen(k->decree_date) == 10, "decree date is YYYY-MM-DD");
	for (size_t i = 0; i < k->ncontacts; i++)
		FUZZ_CHECK(k->contacts[i].kind && k->contacts[i].value, "contacts are complete");
	for (size_t i = 0; i < k->nmembers; i++)
		FUZZ_CHECK(k->members[i].name, "members have names");
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const enum ingest_form forms[] = {INGEST_FORM_CONTENT, INGEST_FORM_BATCH_LINE,
						 INGEST_FORM_ASPIRASI};
	const char *body = (const char *)data + 1;
	struct ingest_verr e;

	if (size < 1)
		return 0;
	memset(&e, 0, sizeof(e));
	if (data[0] % 4 == 3) {
		struct kim_form k;
		int rc = ingest_kim_parse(body, size - 1, &k, &e);

		if (rc == 0)
			check_kim(&k);
		else
			check_verr(&e);
		ingest_kim_release(&k);
	} else {
		struct submission s;
		enum ingest_form form = forms[data[0] % 4];
		int rc = ingest_submission_parse(body, size - 1, form, &s, &e);

		if (rc == 0)
			check_submission(&s, form);
		else
			check_verr(&e);
		ingest_submission_release(&s);
	}
	return 0;
}
