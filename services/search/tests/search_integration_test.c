/*
 * services/search/tests/search_integration_test.c - the search service
 * in-process against the real stack (PostgreSQL, Redis, Kafka), fed with
 * synthetic ContentPublished events produced with libs/kafka.
 *
 * Every document of a run carries the run's unique tag, and every query
 * filters on it, so reruns and parallel runs never see each other's data.
 * Fails loudly when the stack is not reachable.
 */
#include "search_it.h"

static const int64_t day_ms = 86400000LL;

/* ---- tests ---- */

static void test_publish_searchable(void **state)
{
	char id[37], want_ev[37], err[256];
	struct ts_reader *rd = ts_reader_new(env.kafka_brokers, EVENTS_TOPIC_CONTENT_INDEXED, err,
					     sizeof(err));
	const struct ts_kmsg *m;
	Simpul__V1__ContentIndexed *ci;
	const char *keys[1];
	json_t *j, *hl;

	(void)state;
	assert_non_null(rd);
	it_new_id(id);
	keys[0] = id;
	it_publish(&(struct doc){id, 1, 1, "Warga mengirimkan bantuan beras",
			      "Pada hari Senin warga desa mengirimkan bantuan ke lokasi banjir.",
			      "35.07.12.2001", NULL, "pub", false, 0});
	j = it_wait_hits("pub", "q=kirim", 1, id);
	hl = json_object_get(json_object_get(json_array_get(json_object_get(j, "hits"), 0),
					     "snippet"),
			     "highlights");
	assert_int_equal(json_array_size(hl), 1);
	assert_int_equal(json_integer_value(json_array_get(json_array_get(hl, 0), 0)), 27);
	assert_string_equal(it_hit_str(j, 0, "type"), "berita");
	assert_string_equal(it_hit_str(j, 0, "region_code"), "35.07.12.2001");
	json_decref(j);
	/* ContentIndexed, with an id derived from (content, version, removed) */
	assert_int_equal(ts_reader_wait_keys(rd, keys, 1, WAIT_MS), 0);
	m = ts_reader_find_key(rd, id);
	ci = (Simpul__V1__ContentIndexed *)events_unpack(&simpul__v1__content_indexed__descriptor,
							 m->value, m->value_len, 0, err,
							 sizeof(err));
	assert_non_null(ci);
	assert_string_equal(ci->content_id, id);
	assert_int_equal(ci->version, 1);
	assert_false(ci->removed);
	assert_string_equal(ci->region_code, "35.07.12.2001");
	search_indexed_event_id(id, 1, false, want_ev);
	assert_string_equal(ci->meta->id, want_ev);
	assert_string_equal(ts_kmsg_header(m, EVENTS_HEADER_EVENT_ID), want_ev);
	protobuf_c_message_free_unpacked(&ci->base, NULL);
	ts_reader_free(rd);
}

static void test_versions_and_withdrawal(void **state)
{
	char id[37];
	double stale;
	json_t *j;
	struct doc v1 = {NULL, 1, 2, "Jadwal posyandu", "Posyandu dibuka hari Selasa pagi.",
			 "35.07.12.2001", NULL, "ver", false, 0};
	struct doc v2 = v1, v3 = v1;

	(void)state;
	it_new_id(id);
	v1.id = v2.id = v3.id = id;
	v2.version = 2;
	v2.body = "Posyandu dibuka hari Kamis pagi.";
	v3.version = 3;
	v3.body = "Posyandu dibuka hari Jumat pagi.";
	it_publish(&v1);
	json_decref(it_wait_hits("ver", "q=selasa", 1, id));
	it_publish(&v2);
	j = it_wait_hits("ver", "q=kamis", 1, id);
	assert_int_equal(json_integer_value(json_object_get(
				 json_array_get(json_object_get(j, "hits"), 0), "version")),
			 2);
	json_decref(j);
	json_decref(it_wait_hits("ver", "q=selasa", 0, NULL));
	/* an older version replayed changes nothing */
	stale = it_counter(app.m.indexed, "stale");
	it_publish(&v1);
	it_wait_stale(stale, 1);
	json_decref(it_wait_hits("ver", "q=kamis", 1, id));
	json_decref(it_wait_hits("ver", "q=selasa", 0, NULL));
	/* withdrawal removes it; replaying the published event does not bring it back */
	v2.withdrawn = true;
	it_publish(&v2);
	json_decref(it_wait_hits("ver", "q=posyandu", 0, NULL));
	v2.withdrawn = false;
	stale = it_counter(app.m.indexed, "stale");
	it_publish(&v2);
	it_wait_stale(stale, 1);
	json_decref(it_wait_hits("ver", "q=posyandu", 0, NULL));
	/* a newer version is published again */
	it_publish(&v3);
	json_decref(it_wait_hits("ver", "q=jumat", 1, id));
}

static void day(int64_t ms, char out[11])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

static json_int_t facet(json_t *j, const char *kind, const char *key)
{
	json_t *f = json_object_get(json_object_get(j, "facets"), kind);

	if (!strcmp(kind, "region"))
		f = json_object_get(f, "counts");
	return json_integer_value(json_object_get(f, key));
}

/* Follows next_cursor through every page of args; returns the hit ids in order. */
static size_t all_pages(const char *tag, const char *args, char ids[][37], size_t cap)
{
	char a[1024], cursor[SEARCH_CURSOR_MAX + 1] = "";
	size_t n = 0;

	for (int page = 0; page < 20; page++) {
		json_t *j, *nc;

		snprintf(a, sizeof(a), "%s%s%s", args, cursor[0] ? "&cursor=" : "", cursor);
		j = it_search(tag, a);
		for (size_t i = 0; i < it_nhits(j) && n < cap; i++)
			snprintf(ids[n++], 37, "%s", it_hit_str(j, i, "id"));
		nc = json_object_get(j, "next_cursor");
		if (json_is_null(nc)) {
			json_decref(j);
			return n;
		}
		snprintf(cursor, sizeof(cursor), "%s", json_string_value(nc));
		json_decref(j);
	}
	fail_msg("pagination did not end");
	return n;
}

static void test_filters_facets_paging(void **state)
{
	char id[6][37], k1[37], k2[37], a[256], from[11], got[8][37], url[512];
	int64_t now = util_now_ms();
	json_t *j;
	long st;

	(void)state;
	for (int i = 0; i < 6; i++)
		it_new_id(id[i]);
	it_new_id(k1);
	it_new_id(k2);
	it_publish(&(struct doc){id[0], 1, 1, "Banjir di Ternyang", "Air setinggi lutut.",
			      "35.07.12.2001", k1, "flt", false, now - 1 * day_ms});
	it_publish(&(struct doc){id[1], 1, 1, "Banjir di Senggreng", "Warga mengungsi.",
			      "35.07.12.2002", k1, "flt", false, now - 2 * day_ms});
	it_publish(&(struct doc){id[2], 1, 4, "Keripik tahan banjir", "Produk UMKM desa.",
			      "35.07.13.2001", k2, "flt", false, now - 3 * day_ms});
	it_publish(&(struct doc){id[3], 1, 2, "Kerja bakti setelah banjir", "Membersihkan selokan.",
			      "35.08.01.2001", NULL, "flt", false, now - 10 * day_ms});
	it_publish(&(struct doc){id[4], 1, 1, "Banjir bandang", "Aceh Selatan.", "11.01.01.2001",
			      NULL, "flt", false, now - 40 * day_ms});
	it_publish(&(struct doc){id[5], 1, 1, "Longsor di Ternyang", "Jalan tertutup.",
			      "35.07.12.2001", NULL, "flt", false, now});
	json_decref(it_wait_hits("flt", "q=banjir%20OR%20longsor", 6, NULL));

	j = it_search("flt", "q=banjir");
	assert_int_equal(it_nhits(j), 5);
	assert_int_equal(it_jint(j, "total", NULL), 5);
	assert_int_equal(facet(j, "type", "berita"), 3);
	assert_int_equal(facet(j, "type", "umkm"), 1);
	assert_int_equal(facet(j, "type", "kegiatan"), 1);
	assert_int_equal(facet(j, "region", "35"), 4);
	assert_int_equal(facet(j, "region", "11"), 1);
	assert_true(json_is_true(json_object_get(j, "total_exact")));
	json_decref(j);
	/* past SIMPUL_SEARCH_COUNT_LIMIT total and facets stop counting; hits do not */
	cfg.count_limit = 3;
	j = it_search("flt", "q=banjir&limit=19");
	assert_int_equal(it_nhits(j), 5);
	assert_int_equal(it_jint(j, "total", NULL), 3);
	assert_true(json_is_false(json_object_get(j, "total_exact")));
	assert_int_equal(facet(j, "type", "berita") + facet(j, "type", "umkm") +
				 facet(j, "type", "kegiatan"), 3);
	json_decref(j);
	cfg.count_limit = 6;
	j = it_search("flt", "q=banjir&limit=18");
	assert_int_equal(it_jint(j, "total", NULL), 5);
	assert_true(json_is_true(json_object_get(j, "total_exact")));
	cfg.count_limit = 0;
	json_decref(j);
	j = it_search("flt", "q=banjir&region=35.07");
	assert_int_equal(it_nhits(j), 3);
	assert_int_equal(it_jint(json_object_get(j, "facets"), "region", "level"), 3);
	assert_int_equal(facet(j, "region", "35.07.12"), 2);
	assert_int_equal(facet(j, "region", "35.07.13"), 1);
	json_decref(j);
	j = it_search("flt", "q=banjir&type=berita");
	assert_int_equal(it_nhits(j), 3);
	json_decref(j);
	snprintf(a, sizeof(a), "q=banjir&kim=%s", k1);
	j = it_search("flt", a);
	assert_int_equal(it_nhits(j), 2);
	json_decref(j);
	day(now - 5 * day_ms, from);
	snprintf(a, sizeof(a), "q=banjir&from=%s", from);
	j = it_search("flt", a);
	assert_int_equal(it_nhits(j), 3);
	json_decref(j);
	snprintf(a, sizeof(a), "q=banjir&to=%s", from);
	j = it_search("flt", a);
	assert_int_equal(it_nhits(j), 2);
	json_decref(j);
	j = it_search("flt", "q=banjir%20OR%20longsor&region=35.07.12");
	assert_int_equal(it_nhits(j), 3);
	json_decref(j);
	j = it_search("flt", "q=banjir%20-ternyang");
	assert_int_equal(it_nhits(j), 4);
	assert_false(it_has_hit(j, id[0]));
	json_decref(j);
	/* date order, and pagination (both sorts) covering every hit exactly once */
	assert_int_equal(all_pages("flt", "q=banjir&sort=date&limit=2", got, 8), 5);
	for (int i = 0; i < 5; i++)
		assert_string_equal(got[i], id[i]);
	assert_int_equal(all_pages("flt", "q=banjir&limit=2", got, 8), 5);
	for (int i = 0; i < 5; i++) {
		int seen = 0;

		for (int k = 0; k < 5; k++)
			seen += !strcmp(got[k], id[i]);
		assert_int_equal(seen, 1);
	}
	/* a cursor is bound to its query and signed */
	j = it_search("flt", "q=banjir&limit=2");
	snprintf(url, sizeof(url), "/v1/search?tags=%s,flt&q=longsor&limit=2&cursor=%s", run,
		 json_string_value(json_object_get(j, "next_cursor")));
	json_decref(j);
	j = it_get(url, &st);
	assert_int_equal(st, 400);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
			    "invalid_cursor");
	json_decref(j);
}

static void expect_400(const char *pq, const char *code, const char *field)
{
	long st;
	json_t *j = it_get(pq, &st), *e = json_object_get(j, "error");

	if (st != 400)
		fail_msg("GET %s: status %ld, wanted 400", pq, st);
	assert_string_equal(json_string_value(json_object_get(e, "code")), code);
	if (field)
		assert_string_equal(json_string_value(json_object_get(e, "field")), field);
	json_decref(j);
}

static void test_bad_input(void **state)
{
	char pq[1200] = "/v1/search?q=";

	(void)state;
	for (int i = 0; i < 300; i++)
		strcat(pq, "a");
	expect_400(pq, "bad_request", "q");
	expect_400("/v1/search?q=%22banjir", "bad_query", "q");
	expect_400("/v1/search?q=banjir%20OR", "bad_query", "q");
	expect_400("/v1/search?q=-hoaks", "bad_query", "q");
	expect_400("/v1/search?q=banjir&limit=100000", "bad_request", "limit");
	expect_400("/v1/search?q=banjir&cursor=Zm9v.YmFy", "invalid_cursor", "cursor");
	expect_400("/v1/search?q=banjir&region=35.7", "bad_request", "region");
	expect_400("/v1/search?q=banjir&from=2026-13-45", "bad_request", NULL);
	expect_400("/v1/content/not-a-uuid/similar", "bad_request", "id");
}

static void test_stemming_recall(void **state)
{
	char s1[37], s2[37], s3[37], err[256];
	PGresult *res = NULL;
	json_t *j;

	(void)state;
	it_new_id(s1);
	it_new_id(s2);
	it_new_id(s3);
	it_publish(&(struct doc){s1, 1, 1, "Surat edaran", "Petugas mengirimkan surat edaran ke desa.",
			      "35.07.12.2001", NULL, "stem", false, 0});
	it_publish(&(struct doc){s2, 1, 1, "Transformasi digital desa", "Layanan desa kini daring.",
			      "35.07.12.2001", NULL, "stem", false, 0});
	it_publish(&(struct doc){s3, 1, 1, "Catatan derau", "Kata gital muncul sebagai derau.",
			      "35.07.12.2001", NULL, "stem", false, 0});
	json_decref(it_wait_hits("stem", "q=desa%20OR%20derau", 3, NULL));
	j = it_search("stem", "q=kirim");
	assert_int_equal(it_nhits(j), 1);
	assert_true(it_has_hit(j, s1));
	json_decref(j);
	j = it_search("stem", "q=pengiriman");
	assert_int_equal(it_nhits(j), 1);
	json_decref(j);
	j = it_search("stem", "q=digital");
	assert_int_equal(it_nhits(j), 1);
	assert_true(it_has_hit(j, s2));
	json_decref(j);
	j = it_search("stem", "q=gital");
	assert_int_equal(it_nhits(j), 1);
	assert_true(it_has_hit(j, s3));
	json_decref(j);
	/* the baseline we beat: PostgreSQL's own configuration confuses the two */
	assert_int_equal(db_exec(db,
				 "SELECT pg_catalog.to_tsvector('indonesian', 'gital') @@ "
				 "pg_catalog.plainto_tsquery('indonesian', 'digital') AS m",
				 0, NULL, NULL, &res, err, sizeof(err)),
			 0);
	assert_string_equal(db_value(res, 0, "m"), "t");
	PQclear(res);
}

static void test_colloquial_queries(void **state)
{
	char c1[37], c2[37];
	json_t *j;

	(void)state;
	it_new_id(c1);
	it_new_id(c2);
	it_publish(&(struct doc){c1, 1, 5, "Jalan desa tidak bisa dilewati",
			      "Jalan rusak parah sejak bulan lalu.", "35.07.12.2001", NULL, "col",
			      false, 0});
	it_publish(&(struct doc){c2, 1, 3, "Rumah yang besar di ujung desa",
			      "Dijadikan balai pertemuan warga.", "35.07.12.2001", NULL, "col",
			      false, 0});
	json_decref(it_wait_hits("col", "q=desa", 2, NULL));
	j = it_search("col", "q=jln%20gak%20bisa");
	assert_int_equal(it_nhits(j), 1);
	assert_true(it_has_hit(j, c1));
	json_decref(j);
	j = it_search("col", "q=%22rumah%20yg%20besar%22");
	assert_int_equal(it_nhits(j), 1);
	assert_true(it_has_hit(j, c2));
	json_decref(j);
	j = it_search("col", "q=%22rumah%20besar%22"); /* the phrase keeps the stopword's place */
	assert_int_equal(it_nhits(j), 0);
	json_decref(j);
	j = it_search("col", "q=yg");
	assert_int_equal(it_nhits(j), 0);
	assert_non_null(json_object_get(j, "note"));
	json_decref(j);
}

/*
 * The same query again is answered from the cache. One miss is allowed: a
 * query that ran between the commit and the generation bump cached the
 * fresh answer under the old generation (harmless: the answer was current).
 */
static void expect_cache_hit(const char *q, const char *id)
{
	for (int i = 0; i < 2; i++) {
		double h0 = it_counter(app.m.cache, "hit");

		json_decref(it_wait_hits("cache", q, 1, id));
		if (it_counter(app.m.cache, "hit") == h0 + 1)
			return;
	}
	fail_msg("query \"%s\" was not answered from the cache", q);
}

static void test_cache_invalidation(void **state)
{
	char p1[37], p2[37], p3[37], q[128], in1[16], in2[16], out[16];
	unsigned char r[2];
	double h0, m0;
	int64_t t0;
	json_t *j;

	(void)state;
	/* a made-up province (98) so that nobody else's content lands in scope */
	assert_int_equal(util_random_bytes(r, sizeof(r)), 0);
	snprintf(q, sizeof(q), "q=pasar&region=98.%02d.%02d", r[0] % 100, r[1] % 100);
	snprintf(in1, sizeof(in1), "98.%02d.%02d.2001", r[0] % 100, r[1] % 100);
	snprintf(in2, sizeof(in2), "98.%02d.%02d.2002", r[0] % 100, r[1] % 100);
	snprintf(out, sizeof(out), "97.%02d.%02d.2001", r[0] % 100, r[1] % 100);
	it_new_id(p1);
	it_new_id(p2);
	it_new_id(p3);
	it_publish(&(struct doc){p1, 1, 4, "Pasar murah", "Minyak goreng dan beras.", in1, NULL,
			      "cache", false, 0});
	json_decref(it_wait_hits("cache", q, 1, p1));
	expect_cache_hit(q, p1);
	/* new content outside the scope leaves the cached answer alone */
	it_publish(&(struct doc){p2, 1, 4, "Pasar ikan", "Di pesisir.", out, NULL, "cache", false, 0});
	json_decref(it_wait_hits("cache", "q=pasar", 2, p2));
	h0 = it_counter(app.m.cache, "hit");
	m0 = it_counter(app.m.cache, "miss");
	json_decref(it_wait_hits("cache", q, 1, p1));
	if (it_counter(app.m.cache, "hit") != h0 + 1)
		fail_msg("out-of-scope content evicted the answer: hits %.0f -> %.0f, misses %.0f -> "
			 "%.0f", h0, it_counter(app.m.cache, "hit"), m0,
			 it_counter(app.m.cache, "miss"));
	/* new content inside it is visible at once, long before the 60 s TTL */
	t0 = ts_now_ms();
	it_publish(&(struct doc){p3, 1, 4, "Pasar desa", "Sayur segar.", in2, NULL, "cache", false, 0});
	j = it_wait_hits("cache", q, 2, p3);
	assert_true(ts_now_ms() - t0 < 15000);
	json_decref(j);
}

/* A made-up word unique to this run (letters only): "zq" + run hex as letters + i. */
static void run_word(int i, char out[24])
{
	int n = snprintf(out, 24, "zq%c", 'a' + i);

	for (int k = 0; k < 12 && run[k]; k++)
		out[n++] = (char)('a' + (run[k] <= '9' ? run[k] - '0' : run[k] - 'a' + 10));
	out[n] = '\0';
}

static void test_similar(void **state)
{
	char m1[37], m2[37], m3[37], m4[37], w[5][24], t1[128], b1[512], t3[128], b3[128], pq[128];
	json_t *j, *arr;
	long st;

	(void)state;
	it_new_id(m1);
	it_new_id(m2);
	it_new_id(m3);
	it_new_id(m4);
	for (int i = 0; i < 5; i++)
		run_word(i, w[i]);
	snprintf(t1, sizeof(t1), "Pelatihan %s %s %s", w[0], w[1], w[2]);
	snprintf(b1, sizeof(b1),
		 "Kelompok informasi masyarakat mengadakan pelatihan jurnalistik warga tentang "
		 "cara menulis berita desa yang akurat dan melawan hoaks %s %s %s %s %s.",
		 w[0], w[1], w[2], w[3], w[4]);
	snprintf(t3, sizeof(t3), "Lomba %s %s", w[0], w[1]);
	snprintf(b3, sizeof(b3), "Lomba menulis %s untuk pelajar.", w[2]);
	it_publish(&(struct doc){m1, 1, 2, t1, b1, "35.07.12.2001", NULL, "sim", false, 0});
	it_publish(&(struct doc){m2, 1, 2, "Salinan berita pelatihan", b1, "35.07.12.2002", NULL,
			      "sim", false, 0});
	it_publish(&(struct doc){m3, 1, 2, t3, b3, "35.07.12.2001", NULL, "sim", false, 0});
	it_publish(&(struct doc){m4, 1, 4, "Keripik pisang", "Produk unggulan.", "35.07.12.2001", NULL,
			      "sim", false, 0});
	json_decref(it_wait_hits("sim", "q=pelatihan%20OR%20lomba%20OR%20keripik", 4, NULL));
	snprintf(pq, sizeof(pq), "/v1/content/%s/similar", m1);
	j = it_get(pq, &st);
	assert_int_equal(st, 200);
	arr = json_object_get(j, "near_duplicates");
	assert_int_equal(json_array_size(arr), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "id")), m2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(arr, 0), "distance")), 0);
	arr = json_object_get(j, "related");
	assert_true(json_array_size(arr) >= 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "id")), m3);
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const char *x = json_string_value(json_object_get(json_array_get(arr, i), "id"));

		assert_string_not_equal(x, m2);
		assert_string_not_equal(x, m4);
	}
	json_decref(j);
	it_new_id(m4);
	snprintf(pq, sizeof(pq), "/v1/content/%s/similar", m4);
	j = it_get(pq, &st);
	assert_int_equal(st, 404);
	json_decref(j);
}

struct prober {
	volatile int stop;
	int queries, failures;
	long last_status;
};

/* Queries continuously during the reindex; counts anything but one hit. */
static void *probe(void *arg)
{
	struct prober *p = arg;
	char pq[256];

	snprintf(pq, sizeof(pq), "/v1/search?tags=%s,rx&q=kirim&facet_level=none", run);
	while (!p->stop) {
		long st;
		json_t *j = it_get(pq, &st);

		p->queries++;
		if (st != 200 || it_nhits(j) != 1) {
			p->failures++;
			p->last_status = st;
		}
		json_decref(j);
	}
	return NULL;
}

static void test_reindex_while_querying(void **state)
{
	struct search_reindex_stats st;
	struct prober p = {0};
	char r1[37], r2[37], err[512];
	pthread_t th;
	int rc;

	(void)state;
	it_new_id(r1);
	it_new_id(r2);
	it_publish(&(struct doc){r1, 1, 1, "Pengiriman logistik", "Truk mengirimkan logistik.",
			      "35.07.12.2001", NULL, "rx", false, 0});
	json_decref(it_wait_hits("rx", "q=kirim", 1, r1));
	cfg.cache_ttl_ms = 0; /* every probe reaches PostgreSQL */
	assert_int_equal(pthread_create(&th, NULL, probe, &p), 0);
	rc = search_reindex(env.pg_url, app.text, &st, err, sizeof(err));
	ts_sleep_ms(300);
	p.stop = 1;
	pthread_join(th, NULL);
	cfg.cache_ttl_ms = 60000;
	if (rc != 0)
		fail_msg("reindex failed: %s", err);
	fprintf(stderr, "reindex: %lld docs, %lld caught up, generation %lld, %.2f s; "
			"%d queries meanwhile, %d failed (last status %ld)\n",
		(long long)st.docs, (long long)st.delta, (long long)st.generation, st.seconds,
		p.queries, p.failures, p.last_status);
	assert_true(st.generation >= 1);
	assert_true(st.docs >= 1);
	assert_true(p.queries > 0);
	assert_int_equal(p.failures, 0);
	/* the indexer keeps writing into the new table */
	it_publish(&(struct doc){r2, 1, 1, "Logistik kedua", "Kapal mengirimkan logistik.",
			      "35.07.12.2001", NULL, "rx", false, 0});
	json_decref(it_wait_hits("rx", "q=kirim", 2, r2));
}

/* id:version:withdrawn:seq of every document this run touched, in id order. */
static char *snapshot(void)
{
	PGresult *res = NULL;
	struct util_buf list;
	const char *vals[1];
	char err[256], *s;

	util_buf_init(&list, 0);
	for (int i = 0; i < nids; i++)
		assert_int_equal(util_buf_printf(&list, "%s%s", i ? "," : "{", run_ids[i]), 0);
	assert_int_equal(util_buf_append_str(&list, "}"), 0);
	vals[0] = list.data;
	assert_int_equal(
		db_exec(db,
			"SELECT count(*) AS n, pg_catalog.string_agg(id::text || ':' || version || ':' "
			"|| withdrawn || ':' || seq, ',' ORDER BY id) AS s FROM simpul.search_docs "
			"WHERE id = ANY($1::uuid[])",
			1, vals, NULL, &res, err, sizeof(err)),
		0);
	assert_int_equal(atoi(db_value(res, 0, "n")), nids);
	util_buf_release(&list);
	s = strdup(db_value(res, 0, "s") ? db_value(res, 0, "s") : "");
	PQclear(res);
	return s;
}

/* Messages the group still has to consume before reaching target[] (the
 * end of the topic when the replay began); -1 when Kafka cannot be asked. */
static int64_t behind(const int64_t *target)
{
	static const char *const topics[] = {EVENTS_TOPIC_CONTENT_PUBLISHED};
	struct kafka_partition_lag *lag = NULL;
	char err[256];
	size_t n = 0;
	int64_t total = 0;

	if (kafka_group_lag(env.kafka_brokers, group, topics, 1, 5000, &lag, &n, err,
			    sizeof(err)) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int p = lag[i].partition;
		int64_t done = lag[i].committed < 0 ? highs[p] : lag[i].committed;

		if (strcmp(lag[i].topic, EVENTS_TOPIC_CONTENT_PUBLISHED) == 0 && p < nparts &&
		    target[p] > done)
			total += target[p] - done;
	}
	free(lag);
	return total;
}

static void test_replay_idempotent(void **state)
{
	char *before = snapshot(), *after, err[256];
	int64_t target[64];
	struct text_work *wk = text_work_new(SEARCH_MAX_DOC_BYTES);
	int64_t until;

	(void)state;
	assert_true(strlen(before) > 0);
	/* every event of this run applied again: nothing changes */
	for (int i = 0; i < nevents; i++) {
		enum search_apply res;
		int64_t seq, pub;
		char region[32];

		assert_int_equal(search_index_apply(db, &app.text->an, wk, events[i].data,
						    events[i].len, &res, &seq, region, &pub, err,
						    sizeof(err)),
				 0);
		assert_int_equal(res, SEARCH_APPLIED_STALE);
	}
	text_work_free(wk);
	after = snapshot();
	assert_string_equal(before, after);
	free(after);
	/* a restart with the group rewound to the run's start replays all of it */
	it_stop_app();
	cfg.migrate = false; /* applied at the first start; other teams' files may be mid-edit */
	{
		int64_t saved[64];

		memcpy(saved, highs, sizeof(saved));
		assert_int_equal(it_read_highs(), 0); /* the end of the topic now */
		memcpy(target, highs, sizeof(target));
		memcpy(highs, saved, sizeof(saved));
	}
	assert_int_equal(it_rewind_group(), 0);
	assert_int_equal(it_start_app(), 0);
	until = ts_now_ms() + 90000;
	while (behind(target) != 0) {
		if (ts_now_ms() > until)
			fail_msg("the replay did not finish");
		ts_sleep_ms(500);
	}
	after = snapshot();
	assert_string_equal(before, after);
	free(after);
	free(before);
}

/* argv[1], if given, is a cmocka test name filter ("test_cache*"). */
int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_publish_searchable),
		cmocka_unit_test(test_versions_and_withdrawal),
		cmocka_unit_test(test_filters_facets_paging),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_stemming_recall),
		cmocka_unit_test(test_colloquial_queries),
		cmocka_unit_test(test_cache_invalidation),
		cmocka_unit_test(test_similar),
		cmocka_unit_test(test_reindex_while_querying),
		cmocka_unit_test(test_replay_idempotent),
	};

	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, it_setup, it_teardown);
}
