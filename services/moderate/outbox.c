/*
 * services/moderate/outbox.c - builds the events moderation publishes and
 * collects them as outbox rows (a JSON array of {topic, msg_key, payload
 * (hex), headers}) that store.c / review.c insert in the same statement or
 * transaction as the decision they announce.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "events/codec.h"
#include "events/meta.h"
#include "mod_events.h"
#include "util/err.h"
#include "util/ids.h"

static const char *const type_names[] = {"",	     "berita",	 "kegiatan", "potensi",
					 "umkm",     "aspirasi", "usulan",   "diseminasi"};

const char *mod_content_type_name(int t)
{
	return t > 0 && t < (int)(sizeof(type_names) / sizeof(type_names[0])) ? type_names[t]
									       : NULL;
}

int mod_content_type_parse(const char *s)
{
	for (int i = 1; s && i < (int)(sizeof(type_names) / sizeof(type_names[0])); i++)
		if (!strcmp(s, type_names[i]))
			return i;
	return 0;
}

const char *mod_producer_name(void)
{
	static _Thread_local char name[EVENTS_PRODUCER_MAX + 1];

	if (!name[0]) {
		char host[64] = "localhost";

		if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		snprintf(name, sizeof(name), "moderate@%s", host);
	}
	return name;
}

int mod_meta_new(struct events_meta_buf *mb, const char *type, const char *trace)
{
	char err[128];

	if (trace && *trace &&
	    events_meta_init(mb, type, mod_producer_name(), trace, err, sizeof(err)) == 0)
		return 0;
	return events_meta_init(mb, type, mod_producer_name(), NULL, err, sizeof(err));
}

char *mod_hex(const void *p, size_t n)
{
	char *h = malloc(2 * n + 1);

	if (h)
		util_hex(p, n, h);
	return h;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

unsigned char *mod_unhex(const char *s, size_t *len)
{
	size_t n;
	unsigned char *out;

	if (!s)
		return NULL;
	if (!strncmp(s, "\\x", 2))
		s += 2;
	n = strlen(s) / 2;
	out = malloc(n + 1);
	for (size_t i = 0; out && i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			free(out);
			return NULL;
		}
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	*len = n;
	return out;
}

int mod_outbox_add(json_t *rows, const char *topic, const char *key, const ProtobufCMessage *msg,
		   const Simpul__V1__EventMeta *meta)
{
	struct util_buf b;
	struct events_headers hs;
	char err[128], *hex = NULL;
	json_t *h = json_object(), *row = NULL;
	size_t nh;
	int rc;

	util_buf_init(&b, EVENTS_MAX_PACKED);
	rc = events_pack(msg, 0, &b, err, sizeof(err));
	if (rc == 0 && (!h || !(hex = mod_hex(b.data, b.len))))
		rc = UTIL_ENOMEM;
	if (rc == 0) {
		nh = events_headers_from_meta(&hs, meta);
		for (size_t i = 0; i < nh; i++)
			json_object_set_new(h, hs.h[i].name,
					    json_stringn(hs.h[i].value, hs.h[i].len));
		row = json_pack("{s:s, s:s, s:s, s:O}", "topic", topic, "msg_key", key, "payload",
				hex, "headers", h);
		rc = row && json_array_append_new(rows, row) == 0 ? 0 : UTIL_ENOMEM;
	}
	json_decref(h);
	free(hex);
	util_buf_release(&b);
	return rc;
}

/* Signals as protobuf, pointing into r (valid while r lives); heap arrays. */
static int signals_pb(const struct mod_result *r, Simpul__V1__Signal **sig,
		      Simpul__V1__Signal ***ptrs, Simpul__V1__Span **spans, Simpul__V1__Span ***sptrs)
{
	size_t ns = 0, k = 0;

	for (size_t i = 0; i < r->n; i++)
		ns += r->sig[i].nspans;
	*sig = calloc(r->n + 1, sizeof(**sig));
	*ptrs = calloc(r->n + 1, sizeof(**ptrs));
	*spans = calloc(ns + 1, sizeof(**spans));
	*sptrs = calloc(ns + 1, sizeof(**sptrs));
	if (!*sig || !*ptrs || !*spans || !*sptrs)
		return UTIL_ENOMEM;
	for (size_t i = 0; i < r->n; i++) {
		const struct mod_signal *s = &r->sig[i];
		Simpul__V1__Signal *p = &(*sig)[i];

		simpul__v1__signal__init(p);
		p->name = (char *)s->name;
		p->score = s->score;
		p->detail = (char *)s->detail;
		p->spans = *sptrs + k;
		p->n_spans = s->nspans;
		for (size_t j = 0; j < s->nspans; j++, k++) {
			simpul__v1__span__init(&(*spans)[k]);
			(*spans)[k].field = s->spans[j].field ? "body" : "title";
			(*spans)[k].start = s->spans[j].start;
			(*spans)[k].end = s->spans[j].end;
			(*sptrs)[k] = &(*spans)[k];
		}
		(*ptrs)[i] = p;
	}
	return 0;
}

int mod_outbox_moderated(json_t *rows, const struct mod_decided *d, const struct mod_result *r,
			 const char *trace)
{
	Simpul__V1__ContentModerated cm = SIMPUL__V1__CONTENT_MODERATED__INIT;
	Simpul__V1__Signal *sig = NULL, **ptrs = NULL;
	Simpul__V1__Span *spans = NULL, **sptrs = NULL;
	struct events_meta_buf mb;
	int rc = mod_meta_new(&mb, "content.moderated", trace);

	if (rc == 0 && r)
		rc = signals_pb(r, &sig, &ptrs, &spans, &sptrs);
	if (rc == 0) {
		cm.meta = &mb.meta;
		cm.content_id = (char *)d->item_id;
		cm.version = d->version;
		cm.decision = (Simpul__V1__Decision)d->decision;
		cm.score = d->score;
		cm.signals = ptrs;
		cm.n_signals = r ? r->n : 0;
		cm.decided_by = (char *)d->decided_by;
		cm.reason_code = (char *)(d->reason_code ? d->reason_code : "");
		cm.note = (char *)(d->note ? d->note : "");
		cm.region_code = (char *)d->region_code;
		cm.kim_id = (char *)(d->kim_id ? d->kim_id : "");
		cm.type = (Simpul__V1__ContentType)d->type;
		cm.author_id = (char *)(d->author_id ? d->author_id : "");
		cm.submitted_at_ms = d->submitted_at_ms;
		cm.decided_at_ms = util_now_ms();
		rc = mod_outbox_add(rows, EVENTS_TOPIC_CONTENT_MODERATED, d->item_id,
				    &cm.base, &mb.meta);
	}
	free(sig);
	free(ptrs);
	free(spans);
	free(sptrs);
	return rc;
}

int mod_outbox_published(json_t *rows, Simpul__V1__Content *masked, const char *trace)
{
	Simpul__V1__ContentPublished cp = SIMPUL__V1__CONTENT_PUBLISHED__INIT;
	struct events_meta_buf mb;
	int rc = mod_meta_new(&mb, "content.published", trace);

	if (rc != 0)
		return rc;
	cp.meta = &mb.meta;
	cp.content = masked;
	cp.published_at_ms = util_now_ms();
	return mod_outbox_add(rows, EVENTS_TOPIC_CONTENT_PUBLISHED, masked->id, &cp.base, &mb.meta);
}
