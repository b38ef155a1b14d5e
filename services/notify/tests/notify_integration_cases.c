/*
 * services/notify/tests/notify_integration_cases.c - the cases of
 * notify_integration_test.c (included by it: they share its fixtures).
 */

static void test_api_ownership(void **state)
{
	json_t *s, *list = NULL, *bad;
	char path[128];
	const char *id;

	(void)state;
	s = webhook_sub(TS_CITIZEN, "/ok/own", "[\"content.published\"]",
			",\"region_prefix\":\"35.07\",\"keywords\":[\"Banjir\"]");
	id = json_string_value(json_object_get(s, "id"));
	assert_non_null(id);
	assert_string_equal(json_string_value(json_object_get(s, "tz")), "WIB");
	assert_int_equal(strncmp(json_string_value(json_object_get(s, "secret")), "whsec_", 6), 0);
	snprintf(path, sizeof(path), "/v1/subscriptions/%s", id);
	assert_int_equal(http_status("GET", path, TS_CITIZEN, NULL), 200);
	/* Someone else's subscription does not exist for them. */
	assert_int_equal(http_status("GET", path, TS_ANALYST, NULL), 404);
	assert_int_equal(http_status("DELETE", path, TS_ANALYST, NULL), 404);
	assert_int_equal(http_status("GET", "/v1/subscriptions", TS_ANALYST, &list), 200);
	assert_int_equal(json_array_size(json_object_get(list, "subscriptions")), 0);
	json_decref(list);
	assert_int_equal(http_status("GET", "/v1/subscriptions", TS_CITIZEN, &list), 200);
	assert_int_equal(json_array_size(json_object_get(list, "subscriptions")), 1);
	/* Only moderators subscribe to review notices, inside their scope. */
	bad = subscribe(TS_CITIZEN, "{\"channel\":\"email\",\"target\":\"a@b.test\","
				    "\"kinds\":[\"review.awaiting\"]}", 403);
	json_decref(bad);
	bad = subscribe(TS_MODERATOR, "{\"channel\":\"email\",\"target\":\"a@b.test\","
				      "\"kinds\":[\"review.awaiting\"],\"region_prefix\":\"11\"}", 403);
	json_decref(bad);
	bad = subscribe(TS_CITIZEN, "{\"channel\":\"email\",\"target\":\"a@b.test\","
				    "\"kinds\":[\"nope\"]}", 422);
	json_decref(bad);
	bad = subscribe(TS_CITIZEN, "{\"channel\":\"email\",\"target\":\"not-mail\","
				    "\"kinds\":[\"diseminasi\"]}", 422);
	json_decref(bad);
	/* WITA derived from the region (73 = Sulawesi Selatan). */
	bad = subscribe(TS_CITIZEN, "{\"channel\":\"email\",\"target\":\"a@b.test\","
				    "\"kinds\":[\"content.published\"],\"region_prefix\":\"73\"}",
			201);
	assert_string_equal(json_string_value(json_object_get(bad, "tz")), "WITA");
	json_decref(bad);
	assert_int_equal(http_status("DELETE", path, TS_CITIZEN, NULL), 204);
	assert_int_equal(http_status("GET", path, TS_CITIZEN, NULL), 404);
	assert_int_equal(http_status("GET", "/v1/subscriptions", TS_ANALYST, NULL), 200);
	assert_int_equal(http_status("GET", "/v1/subscriptions", TS_ROLE_COUNT - 1, NULL), 401);
	json_decref(list);
	json_decref(s);
}

static void refused(const char *target)
{
	char body[512];
	json_t *j;

	snprintf(body, sizeof(body),
		 "{\"channel\":\"webhook\",\"target\":\"%s\",\"kinds\":[\"diseminasi\"]}", target);
	j = subscribe(TS_CITIZEN, body, 422);
	json_decref(j);
}

static void test_ssrf_refusals(void **state)
{
	struct nt_service strict;

	(void)state;
	/* Even with loopback allowed for tests, private and link-local are refused. */
	refused("http://10.1.2.3/hook");
	refused("http://169.254.169.254/latest/meta-data");
	refused("http://192.168.1.1/");
	refused("http://[fe80::1]/");
	refused("http://user@127.0.0.1:1/");
	refused("ftp://example.com/");
	/* Production settings: https only, no loopback (127.x, ::1, localhost). */
	build_env(0, true);
	assert_int_equal(nt_service_start(&strict, bin, extra_env, 30000), 0);
	{
		struct nt_service keep = svc;
		svc = strict;
		refused("https://127.0.0.1/hook");
		refused("https://127.9.9.9:8443/hook");
		refused("https://[::1]/hook");
		refused("https://localhost/hook");
		refused("https://10.0.0.1/hook");
		refused("http://example.com/hook");
		refused("https://[::ffff:10.0.0.1]/hook");
		json_decref(subscribe(TS_CITIZEN,
				      "{\"channel\":\"webhook\",\"target\":\"https://example.com/h\","
				      "\"kinds\":[\"diseminasi\"]}",
				      201));
		svc = keep;
	}
	assert_int_equal(nt_service_stop(&strict), 0);
	build_env(0, false);
}

static void test_signature_and_replay(void **state)
{
	char more[160];
	struct events_meta_buf mb;
	struct nt_hit h[8];
	json_t *s, *body;
	char prefix[64], path[96];

	(void)state;
	snprintf(prefix, sizeof(prefix), "/ok/sig-%s", fx.run);
	snprintf(path, sizeof(path), "%s/x", prefix);
	snprintf(more, sizeof(more), ",\"region_prefix\":\"%s\",\"content_type\":\"berita\"", kec);
	s = webhook_sub(TS_CITIZEN, path, "[\"content.published\"]", more);
	meta_new(&mb, "content.published");
	/* The same event three times: one delivery. */
	for (int i = 0; i < 3; i++)
		publish(desa, SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_BERITA, "Banjir di desa",
			NULL, &mb);
	/* Another type and another region: not matched. */
	{
		struct events_meta_buf o;
		meta_new(&o, "content.published");
		publish(desa, SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_UMKM, "Kripik", NULL, &o);
		meta_new(&o, "content.published");
		publish(otherdesa, SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_BERITA, "Lain", NULL,
			&o);
	}
	assert_int_equal(nt_wait_delivered(prefix, 1, 20000), 1);
	ts_sleep_ms(1500);
	assert_int_equal(nt_hits(prefix, h, 8), 1);
	assert_true(signature_ok(json_string_value(json_object_get(s, "secret")), &h[0]));
	assert_int_equal(strncmp(h[0].id, "msg_", 4), 0);
	assert_true(llabs(atoll(h[0].ts) - (long long)time(NULL)) < 60);
	body = json_loadb(h[0].body, h[0].body_len, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(body, "type")), "content.published");
	assert_string_equal(json_string_value(json_object_get(body, "event_id")), mb.id);
	/* A tampered body does not verify. */
	h[0].body_len--;
	assert_false(signature_ok(json_string_value(json_object_get(s, "secret")), &h[0]));
	assert_int_equal(count("SELECT count(*) FROM simpul.notify_deliveries WHERE event_id = $1",
			       mb.id, NULL),
			 1);
	json_decref(body);
	json_decref(s);
}

static void test_retry_then_success(void **state)
{
	char more[160];
	struct events_meta_buf mb;
	struct nt_hit h[16];
	size_t n, mine = 0;
	json_t *s, *log = NULL, *d = NULL;
	char prefix[64], path[128];
	const char *sid;

	(void)state;
	snprintf(prefix, sizeof(prefix), "/fail2/retry-%s", fx.run);
	snprintf(path, sizeof(path), "%s/x", prefix);
	snprintf(more, sizeof(more), ",\"region_prefix\":\"%s\"", kab);
	s = webhook_sub(TS_CITIZEN, path, "[\"content.published\"]", more);
	meta_new(&mb, "content.published");
	publish(desa2, SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_KEGIATAN, "Kerja bakti", NULL, &mb);
	/* Other events of the region may arrive too: look at this event's tries. */
	for (int t = 0; t < 400; t++, ts_sleep_ms(50)) {
		n = nt_hits(prefix, h, 16);
		mine = 0;
		for (size_t i = 0; i < n && i < 16; i++)
			if (h[i].body && strstr(h[i].body, mb.id))
				h[mine++] = h[i];
		if (mine && h[mine - 1].status == 200)
			break;
	}
	assert_int_equal(mine, 3);
	assert_string_equal(h[0].id, h[2].id); /* same webhook-id on every try */
	assert_int_equal(h[0].status, 503);
	assert_int_equal(h[1].status, 503);
	assert_int_equal(h[2].status, 200);
	ts_sleep_ms(500);
	sid = json_string_value(json_object_get(s, "id"));
	snprintf(path, sizeof(path), "/v1/subscriptions/%s/deliveries", sid);
	assert_int_equal(http_status("GET", path, TS_CITIZEN, &log), 200);
	for (size_t i = 0; i < json_array_size(json_object_get(log, "deliveries")); i++) {
		d = json_array_get(json_object_get(log, "deliveries"), i);
		if (!strcmp(json_string_value(json_object_get(d, "event_id")), mb.id))
			break;
	}
	assert_string_equal(json_string_value(json_object_get(d, "event_id")), mb.id);
	assert_string_equal(json_string_value(json_object_get(d, "status")), "delivered");
	assert_int_equal(json_integer_value(json_object_get(d, "attempts")), 3);
	assert_int_equal(json_array_size(json_object_get(d, "log")), 3);
	json_decref(log);
	json_decref(s);
}

static void test_dead_letter_and_redeliver(void **state)
{
	char more[160];
	struct events_meta_buf mb;
	json_t *s, *log = NULL;
	char prefix[64], path[128], did[40], title[64];
	const char *sid;

	(void)state;
	/* fail4: 503 four times (= max attempts), then 200. */
	snprintf(prefix, sizeof(prefix), "/fail4/dead-%s", fx.run);
	snprintf(path, sizeof(path), "%s/x", prefix);
	snprintf(more, sizeof(more), ",\"region_prefix\":\"%s\",\"keywords\":[\"DL-%s\"]", kab,
		 fx.run);
	s = webhook_sub(TS_CITIZEN, path, "[\"content.published\"]", more);
	sid = json_string_value(json_object_get(s, "id"));
	meta_new(&mb, "content.published");
	snprintf(title, sizeof(title), "Wisata dl-%s", fx.run);
	publish(desa, SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_POTENSI, title, NULL, &mb);
	for (int i = 0; i < 200 && count("SELECT count(*) FROM simpul.notify_dead_letters "
					 "WHERE subscription_id = $1", sid, NULL) < 1; i++)
		ts_sleep_ms(100);
	assert_int_equal(count("SELECT count(*) FROM simpul.notify_dead_letters WHERE "
			       "subscription_id = $1 AND attempts = 4", sid, NULL), 1);
	assert_int_equal(count("SELECT count(*) FROM simpul.notify_subscriptions WHERE id = $1 "
			       "AND flagged_at IS NOT NULL", sid, NULL), 1);
	assert_int_equal(nt_delivered_ids(prefix), 0);
	snprintf(path, sizeof(path), "/v1/subscriptions/%s/deliveries", sid);
	assert_int_equal(http_status("GET", path, TS_CITIZEN, &log), 200);
	snprintf(did, sizeof(did), "%s", json_string_value(json_object_get(
		json_array_get(json_object_get(log, "deliveries"), 0), "id")));
	json_decref(log);
	/* Redelivery by its owner only. */
	snprintf(path, sizeof(path), "/v1/deliveries/%s/redeliver", did);
	assert_int_equal(http_status("POST", path, TS_ANALYST, NULL), 404);
	assert_int_equal(http_status("POST", path, TS_CITIZEN, NULL), 202);
	assert_int_equal(nt_wait_delivered(prefix, 1, 10000), 1);
	ts_sleep_ms(300);
	assert_int_equal(count("SELECT count(*) FROM simpul.notify_subscriptions WHERE id = $1 "
			       "AND flagged_at IS NULL", sid, NULL), 1);
	json_decref(s);
}

static void test_rotation(void **state)
{
	char more[160];
	struct events_meta_buf mb;
	struct nt_hit h[4];
	json_t *s, *rot = NULL;
	char prefix[64], path[128];
	const char *old;

	(void)state;
	snprintf(prefix, sizeof(prefix), "/ok/rot-%s", fx.run);
	snprintf(path, sizeof(path), "%s/x", prefix);
	snprintf(more, sizeof(more), ",\"region_prefix\":\"%s\"", desa2);
	s = webhook_sub(TS_CITIZEN, path, "[\"content.published\"]", more);
	old = json_string_value(json_object_get(s, "secret"));
	snprintf(path, sizeof(path), "/v1/subscriptions/%s/rotate-secret",
		 json_string_value(json_object_get(s, "id")));
	assert_int_equal(http_status("POST", path, TS_ANALYST, NULL), 404);
	assert_int_equal(http_status("POST", path, TS_CITIZEN, &rot), 200);
	assert_string_not_equal(json_string_value(json_object_get(rot, "secret")), old);
	meta_new(&mb, "content.published");
	publish(desa2, SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_BERITA, "Rotasi", NULL, &mb);
	assert_int_equal(nt_wait_delivered(prefix, 1, 20000), 1);
	assert_int_equal(nt_hits(prefix, h, 4), 1);
	/* Both signatures during the grace period: old and new secrets verify. */
	assert_non_null(strchr(h[0].sig, ' '));
	assert_true(signature_ok(old, &h[0]));
	assert_true(signature_ok(json_string_value(json_object_get(rot, "secret")), &h[0]));
	json_decref(rot);
	json_decref(s);
}

static void test_review_batched(void **state)
{
	char more[160];
	struct nt_hit h[8];
	json_t *s, *body;
	char prefix[64], path[96];
	size_t n;
	json_int_t total = 0, biggest = 0;

	(void)state;
	snprintf(prefix, sizeof(prefix), "/ok/review-%s", fx.run);
	snprintf(path, sizeof(path), "%s/x", prefix);
	snprintf(more, sizeof(more), ",\"region_prefix\":\"%s\"", kab);
	s = webhook_sub(TS_ADMIN, path, "[\"review.awaiting\"]", more);
	/* Start right after a 3 s window boundary so the items share a window. */
	while (time(NULL) % 3 != 0)
		ts_sleep_ms(20);
	for (int i = 0; i < 3; i++)
		moderated(desa, SIMPUL__V1__DECISION__DECISION_REVIEW, fx.kim_id, "");
	moderated(otherdesa, SIMPUL__V1__DECISION__DECISION_REVIEW, "", ""); /* not ours */
	assert_true(nt_wait_delivered(prefix, 1, 20000) >= 1);
	ts_sleep_ms(4000); /* a further window would have flushed by now */
	n = nt_hits(prefix, h, 8);
	assert_true(n >= 1 && n <= 2);
	for (size_t i = 0; i < n; i++) {
		body = json_loadb(h[i].body, h[i].body_len, 0, NULL);
		assert_string_equal(json_string_value(json_object_get(body, "type")), "digest");
		total += json_integer_value(json_object_get(body, "count"));
		if (json_integer_value(json_object_get(body, "count")) > biggest)
			biggest = json_integer_value(json_object_get(body, "count"));
		json_decref(body);
	}
	/* Three items, one message (two only if consumption straddled a window). */
	assert_int_equal(total, 3);
	assert_true(biggest >= 2);
	json_decref(s);
}

static void test_decided_and_registration(void **state)
{
	Simpul__V1__RegistryEvent re = SIMPUL__V1__REGISTRY_EVENT__INIT;
	Simpul__V1__Kim k = SIMPUL__V1__KIM__INIT;
	struct events_meta_buf mb;
	json_t *s;
	char prefix[64], path[96];

	(void)state;
	snprintf(prefix, sizeof(prefix), "/ok/decided-%s", fx.run);
	snprintf(path, sizeof(path), "%s/x", prefix);
	s = webhook_sub(TS_KIM_ADMIN, path, "[\"content.decided\",\"registration.decided\"]", NULL);
	moderated(fx.desa, SIMPUL__V1__DECISION__DECISION_APPROVE, fx.kim_id, "");
	moderated(fx.desa, SIMPUL__V1__DECISION__DECISION_REJECT, fx.other_kim_id, ""); /* not ours */
	meta_new(&mb, "registry.changed");
	k.id = fx.kim_id;
	k.name = "KIM Uji";
	k.region_code = (char *)fx.desa;
	k.status = SIMPUL__V1__KIM_STATUS__KIM_STATUS_VERIFIED;
	re.meta = &mb.meta;
	re.kim = &k;
	re.action = "verified";
	assert_int_equal(nt_produce(env.kafka_brokers, EVENTS_TOPIC_REGISTRY, fx.kim_id, &re.base,
				    &mb.meta),
			 0);
	assert_int_equal(nt_wait_delivered(prefix, 2, 20000), 2);
	ts_sleep_ms(1000);
	assert_int_equal(nt_delivered_ids(prefix), 2);
	json_decref(s);
}

/* N diseminasi subscriptions of N KIMs under kab (inserted in SQL), one event. */
static void test_fanout(void **state)
{
	char more[160];
	const int n = 2000;
	struct events_meta_buf mb, other;
	json_t *s;
	char prefix[64], path[96], target[160], nbuf[16];
	int64_t t0, t_other;

	(void)state;
	snprintf(prefix, sizeof(prefix), "/ok/fan-%s", fx.run);
	snprintf(target, sizeof(target), "http://127.0.0.1:%u%s/k", rport, prefix);
	snprintf(nbuf, sizeof(nbuf), "%d", n);
	{
		const char *p[] = {realm, fx.users[TS_KIM_ADMIN].id, target, nbuf, kab};
		char err[256];
		PGresult *r;

		pg_ok();
		r = ts_pg_query(
			pg,
			"WITH s AS (INSERT INTO simpul.notify_subscriptions (realm, owner_id, channel, "
			"target, kinds, region_prefix, secret) SELECT $1, $2::uuid, 'webhook', $3, "
			"'{diseminasi}', $5 || '.' || lpad((g % 90 + 10)::text, 2, '0') || '.' || "
			"(2000 + g % 1000)::text, "
			"'whsec_dGVzdHRlc3R0ZXN0dGVzdA==' FROM generate_series(1, $4::int) g "
			"RETURNING id, realm, region_prefix) "
			"INSERT INTO simpul.notify_sub_match (realm, kind, scope, subscription_id) "
			"SELECT realm, 'diseminasi', region_prefix, id FROM s",
			5, p, err, sizeof(err));
		if (!r)
			fprintf(stderr, "fan-out fixture: %s\n", err);
		assert_non_null(r);
		PQclear(r);
	}
	snprintf(path, sizeof(path), "/ok/other-%s/x", fx.run);
	snprintf(more, sizeof(more), ",\"region_prefix\":\"%s\",\"content_type\":\"berita\"", kab);
	s = webhook_sub(TS_CITIZEN, path, "[\"content.published\"]", more);
	t0 = ts_now_ms();
	meta_new(&mb, "content.published");
	publish(kab, SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_DISEMINASI, "Kebijakan baru", NULL,
		&mb);
	meta_new(&other, "content.published");
	publish(desa, SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_BERITA, "Sementara itu", NULL,
		&other);
	snprintf(path, sizeof(path), "/ok/other-%s", fx.run);
	/* Ordinary deliveries are not queued behind the fan-out (lane 1). */
	assert_int_equal(nt_wait_delivered(path, 1, 20000), 1);
	t_other = ts_now_ms() - t0;
	assert_int_equal(nt_wait_delivered(prefix, (size_t)n, 120000), n);
	fprintf(stderr, "fan-out: %d KIMs in %lld ms; other delivery after %lld ms\n", n,
		(long long)(ts_now_ms() - t0), (long long)t_other);
	assert_true(t_other < 10000);
	assert_int_equal(count("SELECT count(*) FROM simpul.notify_deliveries WHERE event_id = $1 "
			       "AND lane = 1", mb.id, NULL),
			 n);
	json_decref(s);
}

/* The one mail in the sink for rcpt, or NULL (caller frees). */
static char *mail_for(const char *rcpt, int *nfound)
{
	DIR *d = opendir(smtp_dir);
	struct dirent *e;
	char *found = NULL, needle[200], path[1200];

	*nfound = 0;
	snprintf(needle, sizeof(needle), "X-Sink-Rcpt: %s\r\n", rcpt);
	while (d && (e = readdir(d))) {
		FILE *f;
		char *buf;
		long len;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", smtp_dir, e->d_name);
		if (!(f = fopen(path, "rb")))
			continue;
		fseek(f, 0, SEEK_END);
		len = ftell(f);
		fseek(f, 0, SEEK_SET);
		buf = calloc(1, (size_t)len + 1);
		if (buf && fread(buf, 1, (size_t)len, f) == (size_t)len && strstr(buf, needle)) {
			(*nfound)++;
			free(found);
			found = buf;
			buf = NULL;
		}
		free(buf);
		fclose(f);
	}
	if (d)
		closedir(d);
	return found;
}

static void test_email_digest(void **state)
{
	char rcpt[96], body[512], title[3][64];
	long long due_s, hour;
	json_t *s;
	char *mail = NULL;
	int nfound = 0;

	(void)state;
	snprintf(rcpt, sizeof(rcpt), "digest-%s@example.test", fx.run);
	/* WIT (Papua, UTC+9) digest at 06:00 local, for content under kab. */
	snprintf(body, sizeof(body),
		 "{\"channel\":\"email\",\"target\":\"%s\",\"kinds\":[\"content.published\"],"
		 "\"region_prefix\":\"%s\",\"mode\":\"daily\",\"digest_hour\":6,\"tz\":\"WIT\"}",
		 rcpt, kab);
	s = subscribe(TS_CITIZEN, body, 201);
	for (int i = 0; i < 3; i++) {
		struct events_meta_buf mb;
		snprintf(title[i], sizeof(title[i]), "Digest item %d %s", i, fx.run);
		meta_new(&mb, "content.published");
		publish(desa, SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_BERITA, title[i], NULL, &mb);
	}
	for (int i = 0; i < 200 && count("SELECT count(*) FROM simpul.notify_deliveries WHERE "
					 "subscription_id = $1 AND status = 'held'",
					 json_string_value(json_object_get(s, "id")), NULL) < 3; i++)
		ts_sleep_ms(100);
	due_s = count("SELECT extract(epoch FROM max(due_at))::bigint FROM simpul.notify_deliveries "
		      "WHERE subscription_id = $1 AND status = 'held' HAVING count(*) = 3 AND "
		      "count(DISTINCT due_at) = 1", json_string_value(json_object_get(s, "id")), NULL);
	assert_true(due_s > time(NULL));
	hour = ((due_s + 9 * 3600) % 86400);
	assert_int_equal(hour, 6 * 3600); /* exactly 06:00 WIT */
	mail = mail_for(rcpt, &nfound);
	assert_int_equal(nfound, 0);
	/* Restart with the clock moved just past the window: the held rows survive. */
	assert_int_equal(nt_service_stop(&svc), 0);
	build_env(((int64_t)due_s - time(NULL)) * 1000 + 1500, false);
	assert_int_equal(nt_service_start(&svc, bin, extra_env, 30000), 0);
	for (int i = 0; i < 200 && !(mail = mail_for(rcpt, &nfound)); i++)
		ts_sleep_ms(100);
	assert_non_null(mail);
	ts_sleep_ms(1000);
	free(mail);
	mail = mail_for(rcpt, &nfound);
	assert_int_equal(nfound, 1); /* one message for the whole digest */
	for (int i = 0; i < 3; i++)
		assert_non_null(strstr(mail, title[i]));
	assert_non_null(strstr(mail, "multipart/alternative"));
	assert_non_null(strstr(mail, "text/html"));
	assert_non_null(strstr(mail, "Simpul digest: 3 notifications"));
	free(mail);
	json_decref(s);
}

/* A subscription for this run's keyword only, and one matching event. */
static void keyword_case(const char *path, const char *tag, struct events_meta_buf *mb)
{
	char more[200], title[80];

	snprintf(more, sizeof(more), ",\"region_prefix\":\"%s\",\"keywords\":[\"%s-%s\"]", kab, tag,
		 fx.run);
	json_decref(webhook_sub(TS_CITIZEN, path, "[\"content.published\"]", more));
	snprintf(title, sizeof(title), "Kabar %s-%s", tag, fx.run);
	meta_new(mb, "content.published");
	publish(desa, SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_BERITA, title, NULL, mb);
}

/* Dropped connections and a receiver slower than the total timeout are retried. */
static void test_drop_and_timeout(void **state)
{
	struct events_meta_buf a, b;
	struct nt_hit h[8];
	char pa[64], pb[64], path[96];
	size_t n;

	(void)state;
	snprintf(pa, sizeof(pa), "/drop1/drop-%s", fx.run);
	snprintf(path, sizeof(path), "%s/x", pa);
	keyword_case(path, "drop", &a);
	snprintf(pb, sizeof(pb), "/slow1/slow-%s", fx.run);
	snprintf(path, sizeof(path), "%s/x", pb);
	keyword_case(path, "slow", &b);
	assert_int_equal(nt_wait_delivered(pa, 1, 20000), 1);
	n = nt_hits(pa, h, 8);
	assert_true(n >= 2);
	assert_int_equal(h[0].status, 0);
	assert_string_equal(h[0].id, h[n - 1].id);
	assert_int_equal(nt_wait_delivered(pb, 1, 30000), 1);
	n = nt_hits(pb, h, 8);
	assert_true(n >= 2);
	assert_int_equal(h[0].status, 0);
	assert_string_equal(h[0].id, h[n - 1].id);
	assert_true(count("SELECT count(*) FROM simpul.notify_attempts a JOIN "
			  "simpul.notify_deliveries d ON d.id = a.delivery_id WHERE d.event_id = $1 "
			  "AND a.error ILIKE '%timeout%'", b.id, NULL) >= 1);
}

/* The retry schedule lives in PostgreSQL: a restart picks it up. */
static void test_restart_mid_retry(void **state)
{
	struct events_meta_buf mb;
	struct nt_hit h[8];
	char prefix[64], path[96];
	size_t before, n;

	(void)state;
	snprintf(prefix, sizeof(prefix), "/fail3/restart-%s", fx.run);
	snprintf(path, sizeof(path), "%s/x", prefix);
	keyword_case(path, "restart", &mb);
	for (int i = 0; i < 400 && nt_hits(prefix, h, 8) < 1; i++)
		ts_sleep_ms(25);
	assert_int_equal(nt_service_stop(&svc), 0);
	before = nt_hits(prefix, h, 8);
	assert_true(before >= 1 && before < 4);
	{
		long long pending = count("SELECT count(*) FROM simpul.notify_deliveries d JOIN "
					  "simpul.notify_subscriptions s ON s.id = d.subscription_id "
					  "WHERE d.event_id = $1 AND s.target LIKE '%restart-%' AND "
					  "d.status = 'pending'", mb.id, NULL);
		/* Restart before asserting, so a failure does not leave the service down. */
		assert_int_equal(nt_service_start(&svc, bin, extra_env, 30000), 0);
		assert_int_equal(pending, 1);
	}
	assert_int_equal(nt_wait_delivered(prefix, 1, 20000), 1);
	ts_sleep_ms(500);
	n = nt_hits(prefix, h, 8);
	assert_int_equal(n, 4); /* 3 x 503 then 200, split across the restart */
	for (size_t i = 1; i < n; i++)
		assert_string_equal(h[i].id, h[0].id);
}

/* Metrics and the NotificationDelivery records (simpul.outbox, kim.notification.v1). */
static void test_metrics_and_records(void **state)
{
	struct ts_response r;

	(void)state;
	ts_http(&r, "GET", url("/metrics"), NULL, NULL, NULL, 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "notify_deliveries_total{channel=\"webhook\",outcome=\"delivered\"}"));
	assert_non_null(strstr(r.body, "notify_deliveries_total{channel=\"webhook\",outcome=\"retrying\"}"));
	assert_non_null(strstr(r.body, "notify_retry_backlog "));
	assert_non_null(strstr(r.body, "notify_oldest_pending_seconds "));
	assert_non_null(strstr(r.body, "notify_events_total{topic=\"kim.content.published.v1\",result=\"ok\"}"));
	ts_response_release(&r);
	assert_true(count("SELECT count(*) FROM simpul.outbox o JOIN simpul.notify_subscriptions s "
			  "ON s.id::text = o.msg_key WHERE o.topic = 'kim.notification.v1' AND "
			  "s.realm = $1 AND o.headers ? 'simpul-event-id'", realm, NULL) >= 5);
	/* ... and a relay (ours or another service's, libs/outbox) publishes them. */
	for (int i = 0; i < 300 && count("SELECT count(*) FROM simpul.outbox o JOIN "
					 "simpul.notify_subscriptions s ON s.id::text = o.msg_key "
					 "WHERE o.topic = 'kim.notification.v1' AND s.realm = $1 AND "
					 "o.sent_at IS NULL", realm, NULL) > 0; i++)
		ts_sleep_ms(100);
	assert_int_equal(count("SELECT count(*) FROM simpul.outbox o JOIN simpul.notify_subscriptions "
			       "s ON s.id::text = o.msg_key WHERE o.topic = 'kim.notification.v1' "
			       "AND s.realm = $1 AND o.sent_at IS NULL", realm, NULL), 0);
}

/*
 * A poison message and a good event right behind it, same key (same
 * partition), flushed together so the consumer gathers them into one batch:
 * the batch transaction fails and nothing of it is kept, the loop redoes
 * them one by one, the poison goes to the DLQ and the good event is
 * delivered exactly once.
 */
static void test_batch_with_poison(void **state)
{
	Simpul__V1__ContentPublished cp = SIMPUL__V1__CONTENT_PUBLISHED__INIT;
	Simpul__V1__Content c = SIMPUL__V1__CONTENT__INIT;
	struct events_meta_buf mb;
	struct nt_hit h[4];
	struct ts_response r;
	char more[200], prefix[64], path[96], cid[40];
	size_t n;
	json_t *s;

	(void)state;
	snprintf(prefix, sizeof(prefix), "/ok/poison-%s", fx.run);
	snprintf(path, sizeof(path), "%s/x", prefix);
	snprintf(more, sizeof(more), ",\"region_prefix\":\"%s\",\"keywords\":[\"posyandubatch\"]",
		 desa);
	s = webhook_sub(TS_CITIZEN, path, "[\"content.published\"]", more);
	util_uuid_v4(cid);
	meta_new(&mb, "content.published");
	c.id = cid;
	c.version = 1;
	c.type = SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_KEGIATAN;
	c.title = "Posyandubatch bulan ini";
	c.body = "isi";
	c.region_code = desa;
	c.kim_id = "";
	cp.meta = &mb.meta;
	cp.content = &c;
	cp.published_at_ms = mb.meta.occurred_at_ms;
	assert_int_equal(nt_produce_garbage(env.kafka_brokers, EVENTS_TOPIC_CONTENT_PUBLISHED, cid),
			 0);
	assert_int_equal(nt_produce(env.kafka_brokers, EVENTS_TOPIC_CONTENT_PUBLISHED, cid,
				    &cp.base, &mb.meta),
			 0);
	assert_int_equal(nt_wait_delivered(prefix, 1, 30000), 1);
	ts_sleep_ms(1000);
	assert_int_equal(nt_delivered_ids(prefix), 1);
	/* Once by webhook-id: a resend after a timed-out try (a loaded machine)
	 * carries the same id, which is what receivers dedupe on. */
	n = nt_hits(prefix, h, 4);
	assert_true(n >= 1 && n <= 4);
	for (size_t i = 0; i < n; i++) {
		if (n > 1)
			fprintf(stderr, "poison case: hit %zu status %d id %s\n", i, h[i].status,
				h[i].id);
		assert_string_equal(h[i].id, h[0].id);
		assert_non_null(strstr(h[i].body, mb.id));
	}
	/* Other cases' subscriptions of the region may match the event too. */
	assert_int_equal(count("SELECT count(*) FROM simpul.notify_deliveries WHERE event_id = $1 "
			       "AND subscription_id = $2::uuid",
			       mb.id, json_string_value(json_object_get(s, "id"))),
			 1);
	ts_http(&r, "GET", url("/metrics"), NULL, NULL, NULL, 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "notify_events_total{topic=\"kim.content.published.v1\","
				       "result=\"poison\"}"));
	ts_response_release(&r);
	json_decref(s);
}
