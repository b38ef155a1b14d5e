/*
 * tests/chaos/chaos_load.c - the fault suite's load generator (see
 * chaos_load.h): paced submissions, same-key retries, a record per item.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "chaos_load.h"
#include "ts/ts.h"
#include "util/err.h"

static const char *const words[] = {
	"warga", "desa", "gotong", "royong", "sawah", "panen", "padi", "jagung", "irigasi",
	"jalan", "jembatan", "posyandu", "balita", "imunisasi", "sekolah", "guru", "murid",
	"pasar", "pedagang", "harga", "cabai", "bawang", "beras", "nelayan", "perahu", "ikan",
	"hutan", "pohon", "bibit", "kebun", "kopi", "cengkeh", "kakao", "ternak", "sapi",
	"kambing", "ayam", "telur", "koperasi", "pinjaman", "usaha", "kerajinan", "batik",
	"tenun", "anyaman", "wisata", "pantai", "curug", "festival", "lomba", "pemuda",
	"karang", "taruna", "pengajian", "masjid", "gereja", "pura", "balai", "musyawarah",
	"anggaran", "dana", "bantuan", "sosial", "lansia", "disabilitas", "air", "bersih",
	"sumur", "listrik", "internet", "sinyal", "menara", "pelatihan", "digital", "pemasaran",
	"produk", "olahan", "keripik", "sambal", "madu", "gula", "aren", "kelapa", "sampah",
	"daur", "ulang", "bank", "kompos", "pupuk", "organik", "hama", "tikus", "banjir",
	"longsor", "kemarau", "hujan", "angin", "ronda", "keamanan", "lingkungan", "kesehatan",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

void chaos_title(const char *run, size_t seq, char *out, size_t outlen)
{
	snprintf(out, outlen, "Laporan chaos %s nomor %zu", run, seq);
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb3fe1a85ec53ULL;
	return x ^ (x >> 33);
}

/* One item as a JSON object (caller json_decref()s). */
static json_t *item_json(const struct chaos_load_cfg *c, size_t seq)
{
	char title[160], body[1024];
	size_t len;
	uint64_t r = mix(seq * 0x9e3779b97f4a7c15ULL + 1);

	chaos_title(c->run, seq, title, sizeof(title));
	len = (size_t)snprintf(body, sizeof(body), "Kabar %s nomor %zu:", c->run, seq);
	for (int i = 0; i < 28 && len < sizeof(body) - 32; i++) {
		r = mix(r + (uint64_t)i);
		len += (size_t)snprintf(body + len, sizeof(body) - len, " %s", words[r % NWORDS]);
	}
	if (seq % c->hook_every == 0)
		len += (size_t)snprintf(body + len, sizeof(body) - len, " %s", c->hook_word);
	/* offset by 3 so review items never coincide with hook items */
	if (c->review_every && (seq + 3) % c->review_every == 0)
		snprintf(body + len, sizeof(body) - len, " kepala dusun itu goblok dan tolol");
	return json_pack("{ss ss ss ss ss}", "type", "berita", "title", title, "body", body,
			 "region_code", c->region, "kim_id", c->kim_id);
}

/* One request (single or batch) for items first..last; retried with the
 * same keys until every item is accepted or give_up_ms passed. */
static void submit(struct chaos_load *l, size_t first, size_t last)
{
	const struct chaos_load_cfg *c = &l->cfg;
	bool single = c->batch <= 1;
	char url[256], auth[128], key[128], *payload = NULL;
	const char *h[3] = {auth, key, NULL};
	int64_t end = ts_now_ms() + c->give_up_ms;
	size_t cap = 0, plen = 0;

	snprintf(url, sizeof(url), "%s%s", c->ingest_url, single ? "/v1/content" : "/v1/content:batch");
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->token);
	snprintf(key, sizeof(key), "Idempotency-Key: chaos-%s-%zu", c->run, first);
	for (size_t s = first; s <= last; s++) {
		json_t *o = item_json(c, s);
		char k[96], *line;
		size_t n;

		if (!single) {
			snprintf(k, sizeof(k), "chaos-%s-%zu", c->run, s);
			json_object_set_new(o, "idempotency_key", json_string(k));
		}
		line = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
		if (!line)
			abort();
		n = strlen(line);
		if (plen + n + 2 > cap) {
			cap = (plen + n + 2) * 2;
			payload = realloc(payload, cap);
			if (!payload)
				abort();
		}
		memcpy(payload + plen, line, n);
		plen += n;
		if (!single)
			payload[plen++] = '\n';
		payload[plen] = '\0';
		free(line);
	}
	for (int attempt = 0;; attempt++) {
		struct ts_response r;
		size_t done = 0;

		if (attempt)
			atomic_fetch_add(&l->retries, 1);
		atomic_fetch_add(&l->requests, 1);
		ts_http(&r, "POST", url, h, single ? "application/json" : "application/x-ndjson",
			payload, plen);
		if (single && r.status == 202 && r.id[0]) {
			snprintf(l->items[first - 1].id, sizeof(l->items[0].id), "%.36s", r.id);
			l->items[first - 1].state = CHAOS_ACCEPTED;
			done = 1;
		} else if (!single && r.status == 200) {
			json_t *j = json_loads(r.body ? r.body : "", 0, NULL);
			json_t *res = json_object_get(j, "results"), *e;
			size_t i;

			json_array_foreach(res, i, e) {
				const char *id = json_string_value(json_object_get(e, "id"));
				size_t s = first + i;

				if (s <= last && json_integer_value(json_object_get(e, "status")) == 202 &&
				    id && l->items[s - 1].state != CHAOS_ACCEPTED) {
					snprintf(l->items[s - 1].id, sizeof(l->items[0].id), "%.36s", id);
					l->items[s - 1].state = CHAOS_ACCEPTED;
				}
			}
			json_decref(j);
			for (size_t s = first; s <= last; s++)
				done += l->items[s - 1].state == CHAOS_ACCEPTED;
		}
		ts_response_release(&r);
		if (done == last - first + 1) {
			atomic_fetch_add(&l->accepted, done);
			if (attempt)
				atomic_fetch_add(&l->replayed, 1);
			break;
		}
		if (ts_now_ms() > end) {
			for (size_t s = first; s <= last; s++)
				if (l->items[s - 1].state != CHAOS_ACCEPTED) {
					l->items[s - 1].state = CHAOS_GAVE_UP;
					atomic_fetch_add(&l->gave_up, 1);
				} else {
					atomic_fetch_add(&l->accepted, 1);
				}
			break;
		}
		/* down, restarting, 503 with Retry-After, 429: same keys again soon */
		ts_sleep_ms(attempt < 10 ? 100 : 500);
	}
	free(payload);
}

static void *worker(void *arg)
{
	struct chaos_load *l = arg;
	size_t step = l->cfg.batch > 1 ? (size_t)l->cfg.batch : 1;

	while (!atomic_load(&l->stop)) {
		size_t first = atomic_fetch_add(&l->next, step), last;
		int64_t due;

		if (first > l->cfg.items)
			break;
		last = first + step - 1 < l->cfg.items ? first + step - 1 : l->cfg.items;
		/* paced: item n is due at t0 + n / rate */
		due = l->t0_ms + (int64_t)((double)(first - 1) * 1000.0 / l->cfg.rate);
		while (ts_now_ms() < due && !atomic_load(&l->stop))
			ts_sleep_ms((int)(due - ts_now_ms() < 50 ? due - ts_now_ms() : 50));
		if (atomic_load(&l->stop))
			break;
		submit(l, first, last);
	}
	return NULL;
}

int chaos_load_start(struct chaos_load *l, const struct chaos_load_cfg *cfg)
{
	memset(l, 0, sizeof(*l));
	l->cfg = *cfg;
	if (cfg->threads < 1 || cfg->threads > 32 || cfg->items == 0 || cfg->rate <= 0 ||
	    cfg->hook_every == 0)
		return UTIL_EINVAL;
	l->items = calloc(cfg->items, sizeof(*l->items));
	if (!l->items)
		return UTIL_ENOMEM;
	atomic_store(&l->next, 1);
	l->t0_ms = ts_now_ms();
	for (int i = 0; i < cfg->threads; i++) {
		if (pthread_create(&l->tid[i], NULL, worker, l) != 0) {
			chaos_load_stop(l);
			return UTIL_ENOMEM;
		}
		l->nthreads++;
	}
	return 0;
}

bool chaos_load_running(struct chaos_load *l)
{
	return atomic_load(&l->next) <= l->cfg.items && !atomic_load(&l->stop);
}

void chaos_load_stop(struct chaos_load *l)
{
	atomic_store(&l->stop, true);
	for (int i = 0; i < l->nthreads; i++)
		pthread_join(l->tid[i], NULL);
	l->nthreads = 0;
}

void chaos_load_free(struct chaos_load *l)
{
	free(l->items);
	l->items = NULL;
}
