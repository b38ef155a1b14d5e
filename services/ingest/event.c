/*
 * services/ingest/event.c - turns a validated submission or KIM registration
 * into a commit item: a new id, the protobuf event for the outbox (packed,
 * base64) with its simpul-* headers, and the row the committer writes.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <simpul/v1/content.pb-c.h>
#include <simpul/v1/registry.pb-c.h>

#include "events/codec.h"
#include "events/meta.h"
#include "ingest.h"
#include "slog/slog.h"

static const char *const source_names[] = {"", "api", "aspirasi", "intake"};

static char producer[EVENTS_PRODUCER_MAX + 1];
static pthread_once_t producer_once = PTHREAD_ONCE_INIT;

static void producer_init(void)
{
	char host[64] = "localhost";

	if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(producer, sizeof(producer), "ingest@%s", host);
}

const char *ingest_producer_name(void)
{
	pthread_once(&producer_once, producer_init);
	return producer;
}

void ingest_item_free(struct commit_item *it)
{
	if (!it)
		return;
	json_decref(it->row);
	free(it);
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *str_array(char *const *l, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(l[i]));
	return a;
}

/* Packs msg, adds "payload" (base64) and "headers" (object) to row. */
static int add_event(json_t *row, const ProtobufCMessage *msg, const Simpul__V1__EventMeta *meta)
{
	struct util_buf b;
	struct events_headers hs;
	json_t *h = json_object();
	char err[128], *b64 = NULL;
	int rc;

	util_buf_init(&b, EVENTS_MAX_PACKED);
	rc = events_pack(msg, 0, &b, err, sizeof(err));
	if (rc || !h)
		goto out;
	b64 = malloc(4 * ((b.len + 2) / 3) + 1);
	if (!b64) {
		rc = -1;
		goto out;
	}
	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)(b.data ? b.data : ""),
			(int)b.len);
	events_headers_from_meta(&hs, meta);
	for (size_t i = 0; i < EVENTS_HEADER_COUNT; i++)
		json_object_set_new(h, hs.h[i].name,
				    json_stringn((const char *)hs.h[i].value, hs.h[i].len));
	json_object_set_new(row, "payload", json_string(b64));
	json_object_set(row, "headers", h);
out:
	if (rc)
		slog_error("event pack failed", "err=\"%s\"", err);
	json_decref(h);
	free(b64);
	util_buf_release(&b);
	return rc;
}

static struct commit_item *item_new(enum commit_kind kind, const struct ingest_source *src,
				    int64_t now_ms)
{
	struct commit_item *it = calloc(1, sizeof(*it));
	char hex[65];

	if (!it)
		return NULL;
	it->kind = kind;
	util_uuid_v4(it->id);
	util_hex(src->hash, 32, hex);
	it->row = json_pack("{ss ss ss ss sI}", "id", it->id, "scope", src->scope, "key",
			    src->key, "hash", hex, "submitted_ms", (json_int_t)now_ms);
	if (!it->row) {
		free(it);
		return NULL;
	}
	return it;
}

static int meta_init(struct events_meta_buf *mb, const char *type, const char *trace)
{
	char err[128];

	if (events_meta_init(mb, type, ingest_producer_name(), trace, err, sizeof(err)) == 0)
		return 0;
	return events_meta_init(mb, type, ingest_producer_name(), NULL, err, sizeof(err));
}

static int content_row(json_t *row, const struct submission *s, const struct ingest_source *src)
{
	json_object_set_new(row, "type", json_string(ingest_content_type_name(s->type)));
	json_object_set_new(row, "title", json_string(s->title));
	json_object_set_new(row, "body", json_string(s->body));
	json_object_set_new(row, "region_code", json_string(s->region_code));
	json_object_set_new(row, "kim_id", str_or_null(s->kim_id));
	json_object_set_new(row, "author_id", str_or_null(src->author_id));
	json_object_set_new(row, "author_name", str_or_null(s->author_name));
	json_object_set_new(row, "author_contact", str_or_null(s->author_contact));
	json_object_set_new(row, "tags", str_array(s->tags, s->ntags));
	json_object_set_new(row, "media_urls", str_array(s->media_urls, s->nmedia));
	json_object_set_new(row, "source", json_string(source_names[src->source]));
	return 0;
}

struct commit_item *ingest_item_content(const struct submission *s,
					const struct ingest_source *src)
{
	Simpul__V1__ContentSubmitted ev = SIMPUL__V1__CONTENT_SUBMITTED__INIT;
	Simpul__V1__Content c = SIMPUL__V1__CONTENT__INIT;
	struct events_meta_buf mb;
	int64_t now = util_now_ms();
	struct commit_item *it = item_new(COMMIT_CONTENT, src, now);

	if (!it || meta_init(&mb, "content.submitted", src->trace_id) != 0)
		goto fail;
	c.id = it->id;
	c.version = 1;
	c.type = (Simpul__V1__ContentType)s->type;
	c.title = s->title;
	c.body = s->body;
	c.region_code = s->region_code;
	c.kim_id = s->kim_id ? s->kim_id : "";
	c.author_id = src->author_id ? (char *)src->author_id : "";
	c.tags = s->tags;
	c.n_tags = s->ntags;
	c.media_urls = s->media_urls;
	c.n_media_urls = s->nmedia;
	c.source = (Simpul__V1__ContentSource)src->source;
	c.submitted_at_ms = now;
	c.author_name = s->author_name ? s->author_name : "";
	c.author_contact = s->author_contact ? s->author_contact : "";
	mb.meta.occurred_at_ms = now;
	ev.meta = &mb.meta;
	ev.content = &c;
	if (content_row(it->row, s, src) != 0 ||
	    add_event(it->row, (const ProtobufCMessage *)&ev, &mb.meta) != 0)
		goto fail;
	return it;
fail:
	ingest_item_free(it);
	return NULL;
}

static json_t *kim_contacts(const struct kim_form *k)
{
	json_t *o = json_object();

	/* Stored as {"email":["a@b"],"phone":[...]}: kinds may repeat. */
	for (size_t i = 0; o && i < k->ncontacts; i++) {
		json_t *a = json_object_get(o, k->contacts[i].kind);

		if (!a) {
			a = json_array();
			json_object_set_new(o, k->contacts[i].kind, a);
		}
		json_array_append_new(a, json_string(k->contacts[i].value));
	}
	return o;
}

static json_t *kim_members(const struct kim_form *k)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < k->nmembers; i++)
		json_array_append_new(a, json_pack("{ss so}", "name", k->members[i].name, "role",
						   str_or_null(k->members[i].role)));
	return a;
}

static int kim_event(json_t *row, const struct kim_form *k, const char *id,
		     const struct ingest_source *src, int64_t now)
{
	Simpul__V1__RegistryEvent ev = SIMPUL__V1__REGISTRY_EVENT__INIT;
	Simpul__V1__Kim kim = SIMPUL__V1__KIM__INIT;
	Simpul__V1__KimContact *cs = calloc(k->ncontacts + 1, sizeof(*cs));
	Simpul__V1__KimContact **csp = calloc(k->ncontacts + 1, sizeof(*csp));
	Simpul__V1__KimMember *ms = calloc(k->nmembers + 1, sizeof(*ms));
	Simpul__V1__KimMember **msp = calloc(k->nmembers + 1, sizeof(*msp));
	struct events_meta_buf mb;
	int rc = -1;

	if (!cs || !csp || !ms || !msp || meta_init(&mb, "kim.registered", src->trace_id) != 0)
		goto out;
	for (size_t i = 0; i < k->ncontacts; i++) {
		simpul__v1__kim_contact__init(&cs[i]);
		cs[i].kind = k->contacts[i].kind;
		cs[i].value = k->contacts[i].value;
		csp[i] = &cs[i];
	}
	for (size_t i = 0; i < k->nmembers; i++) {
		simpul__v1__kim_member__init(&ms[i]);
		ms[i].name = k->members[i].name;
		ms[i].role = k->members[i].role ? k->members[i].role : "";
		msp[i] = &ms[i];
	}
	kim.id = (char *)id;
	kim.name = k->name;
	kim.region_code = k->region_code;
	kim.decree_number = k->decree_number;
	kim.decree_date = k->decree_date;
	kim.fields = k->fields;
	kim.n_fields = k->nfields;
	kim.contacts = csp;
	kim.n_contacts = k->ncontacts;
	kim.members = msp;
	kim.n_members = k->nmembers;
	kim.status = SIMPUL__V1__KIM_STATUS__KIM_STATUS_PENDING;
	kim.registered_at_ms = now;
	kim.registered_by = src->author_id ? (char *)src->author_id : "";
	mb.meta.occurred_at_ms = now;
	ev.meta = &mb.meta;
	ev.kim = &kim;
	ev.action = "registered";
	rc = add_event(row, (const ProtobufCMessage *)&ev, &mb.meta);
out:
	free(cs);
	free(csp);
	free(ms);
	free(msp);
	return rc;
}

struct commit_item *ingest_item_kim(const struct kim_form *k, const struct ingest_source *src)
{
	int64_t now = util_now_ms();
	struct commit_item *it = item_new(COMMIT_KIM, src, now);

	if (!it)
		return NULL;
	json_object_set_new(it->row, "name", json_string(k->name));
	json_object_set_new(it->row, "region_code", json_string(k->region_code));
	json_object_set_new(it->row, "decree_number", json_string(k->decree_number));
	json_object_set_new(it->row, "decree_date", json_string(k->decree_date));
	json_object_set_new(it->row, "fields", str_array(k->fields, k->nfields));
	json_object_set_new(it->row, "contacts", kim_contacts(k));
	json_object_set_new(it->row, "members", kim_members(k));
	json_object_set_new(it->row, "registered_by", str_or_null(src->author_id));
	if (kim_event(it->row, k, it->id, src, now) != 0) {
		ingest_item_free(it);
		return NULL;
	}
	return it;
}
