/*
 * services/ingest/tests/ingest_integration_test.c - the happy path against
 * the running stack: spawns simpul-ingest (path in argv[1]) on a free port,
 * submits content, and checks the 202, the PostgreSQL rows, and the
 * protobuf event on kim.content.submitted.v1 field by field with its
 * headers; then the idempotent replay, the 409, and a clean SIGTERM exit.
 * Fails loudly when PostgreSQL or Kafka is unreachable.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <simpul/v1/content.pb-c.h>

#include "config/config.h"
#include "db/db.h"
#include "util/buf.h"
#include "util/ids.h"

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                       \
			fprintf(stderr, __VA_ARGS__);                                              \
			fprintf(stderr, "\n");                                                     \
			cleanup();                                                                 \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

static char *pg_url, *brokers;
static pid_t child = -1;
static int port;
static struct db_conn *db;

static void cleanup(void)
{
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		child = -1;
	}
}

static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p;

	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &len);
	p = ntohs(a.sin_port);
	close(fd);
	return p;
}

static size_t sink(char *p, size_t sz, size_t n, void *ud)
{
	if (util_buf_append(ud, p, sz * n) != 0)
		return 0;
	return sz * n;
}

/* One request; returns the status, body into out (reset first). */
static long http(const char *method, const char *path, const char *token, const char *key,
		 const char *body, struct util_buf *out)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[256], line[256];
	long status = 0;

	util_buf_reset(out);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	h = curl_slist_append(h, "Content-Type: application/json");
	if (token) {
		snprintf(line, sizeof(line), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, line);
	}
	if (key) {
		snprintf(line, sizeof(line), "Idempotency-Key: %s", key);
		h = curl_slist_append(h, line);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return status;
}

static char *sql1(const char *sql, int n, const char *const *vals)
{
	PGresult *res = NULL;
	char err[512], *v;

	CHECK(db_exec(db, sql, n, vals, NULL, &res, err, sizeof(err)) == 0, "sql: %s", err);
	v = PQntuples(res) > 0 && !PQgetisnull(res, 0, 0) ? strdup(PQgetvalue(res, 0, 0)) : NULL;
	PQclear(res);
	return v;
}

/* A KIM in a real region, a kim_member with a token; returns the token. */
static char *fixture(char **kim_id, char **user_id)
{
	unsigned char rnd[32];
	char tok[80], b64[48];
	static const char al[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

	util_random_bytes(rnd, sizeof(rnd));
	for (int i = 0; i < 43; i++)
		b64[i] = al[rnd[i % 32] % 64 ^ (i / 32)];
	b64[43] = '\0';
	snprintf(tok, sizeof(tok), "simpul_%s", b64);
	sql1("INSERT INTO simpul.regions (code, name, level, kind, parent_code) VALUES "
	     "('35','JAWA TIMUR',1,'provinsi',NULL),('35.07','MALANG',2,'kabupaten','35'),"
	     "('35.07.12','SINGOSARI',3,'kecamatan','35.07'),"
	     "('35.07.12.2003','ARDIMULYO',4,'desa','35.07.12') ON CONFLICT DO NOTHING",
	     0, NULL);
	*kim_id = sql1("INSERT INTO simpul.kims (name, region_code, status) VALUES "
		       "('KIM integration test', '35.07.12.2003', 'verified') RETURNING id",
		       0, NULL);
	*user_id = sql1("INSERT INTO simpul.users (name, role, kim_id) VALUES "
			"('ingest test', 'kim_member', $1) RETURNING id",
			1, (const char *const[]){*kim_id});
	sql1("INSERT INTO simpul.api_tokens (user_id, token_hash) "
	     "VALUES ($1, pg_catalog.sha256(pg_catalog.convert_to($2, 'UTF8')))",
	     2, (const char *const[]){*user_id, tok});
	return strdup(tok);
}

static void spawn(const char *bin)
{
	char ps[16];
	struct util_buf b;

	port = free_port();
	snprintf(ps, sizeof(ps), "%d", port);
	child = fork();
	if (child == 0) {
		setenv("SIMPUL_INGEST_PORT", ps, 1);
		setenv("SIMPUL_INGEST_INTAKE", "off", 1);
		execl(bin, bin, (char *)NULL);
		_exit(127);
	}
	util_buf_init(&b, 1 << 20);
	for (int i = 0; i < 100; i++) {
		if (http("GET", "/healthz", NULL, NULL, NULL, &b) == 200)
			break;
		usleep(100000);
	}
	CHECK(http("GET", "/healthz", NULL, NULL, NULL, &b) == 200, "service did not start");
	util_buf_release(&b);
}

/* Consumer assigned to every partition at its current end. */
static rd_kafka_t *consumer_at_end(void)
{
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(12);
	rd_kafka_t *rk;
	int64_t lo, hi;

	rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err));
	rd_kafka_conf_set(conf, "group.id", "ingest-integration-test", err, sizeof(err));
	rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err));
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	CHECK(rk, "kafka: %s", err);
	for (int p = 0; p < 12; p++) {
		CHECK(rd_kafka_query_watermark_offsets(rk, "kim.content.submitted.v1", p, &lo, &hi,
						       10000) == RD_KAFKA_RESP_ERR_NO_ERROR,
		      "kafka unreachable or topic kim.content.submitted.v1 missing");
		rd_kafka_topic_partition_list_add(tp, "kim.content.submitted.v1", p)->offset = hi;
	}
	CHECK(rd_kafka_assign(rk, tp) == RD_KAFKA_RESP_ERR_NO_ERROR, "assign");
	rd_kafka_topic_partition_list_destroy(tp);
	return rk;
}

static const char *header(rd_kafka_message_t *m, const char *name, char *buf, size_t len)
{
	rd_kafka_headers_t *hs = NULL;
	const void *v;
	size_t n;

	if (rd_kafka_message_headers(m, &hs) || rd_kafka_header_get_last(hs, name, &v, &n) ||
	    n >= len)
		return "";
	memcpy(buf, v, n);
	buf[n] = '\0';
	return buf;
}

static void check_event(rd_kafka_t *rk, const char *id, const char *kim, const char *user)
{
	Simpul__V1__ContentSubmitted *ev = NULL;
	char b[128];

	for (int i = 0; i < 300 && !ev; i++) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);

		if (!m)
			continue;
		if (!m->err && m->key_len == strlen(id) && memcmp(m->key, id, m->key_len) == 0) {
			ev = simpul__v1__content_submitted__unpack(NULL, m->len, m->payload);
			CHECK(ev && ev->meta && ev->content, "event does not decode");
			CHECK(strcmp(header(m, "simpul-event-type", b, sizeof(b)),
				     "content.submitted") == 0, "header event-type %s", b);
			CHECK(strcmp(header(m, "simpul-event-id", b, sizeof(b)), ev->meta->id) == 0,
			      "header event-id %s", b);
			CHECK(strncmp(header(m, "simpul-producer", b, sizeof(b)), "ingest@", 7) == 0,
			      "header producer %s", b);
			CHECK(strcmp(header(m, "simpul-trace-id", b, sizeof(b)), ev->meta->trace_id) ==
				      0 && b[0], "header trace-id %s", b);
			CHECK(atoll(header(m, "simpul-occurred-at", b, sizeof(b))) ==
				      ev->meta->occurred_at_ms, "header occurred-at %s", b);
		}
		rd_kafka_message_destroy(m);
	}
	CHECK(ev, "event for %s not on kim.content.submitted.v1 within 30 s", id);
	CHECK(util_uuid_valid(ev->meta->id), "meta.id");
	CHECK(strcmp(ev->meta->type, "content.submitted") == 0, "meta.type");
	CHECK(ev->meta->occurred_at_ms > 0 && strlen(ev->meta->trace_id) > 0, "meta time/trace");
	CHECK(strcmp(ev->content->id, id) == 0, "content.id");
	CHECK(ev->content->version == 1, "content.version");
	CHECK(ev->content->type == SIMPUL__V1__CONTENT_TYPE__CONTENT_TYPE_KEGIATAN, "type");
	CHECK(strcmp(ev->content->title, "Kerja bakti <b>\"RT 02\"</b>; DROP TABLE x;--") == 0,
	      "title %s", ev->content->title);
	CHECK(strcmp(ev->content->body, "Warga gotong royong.\nO'Brien \\ 100%") == 0, "body");
	CHECK(strcmp(ev->content->region_code, "35.07.12.2003") == 0, "region");
	CHECK(strcmp(ev->content->kim_id, kim) == 0, "kim_id %s", ev->content->kim_id);
	CHECK(strcmp(ev->content->author_id, user) == 0, "author_id");
	CHECK(ev->content->n_tags == 2 && strcmp(ev->content->tags[1], "desa") == 0, "tags");
	CHECK(ev->content->n_media_urls == 1, "media");
	CHECK(ev->content->source == SIMPUL__V1__CONTENT_SOURCE__CONTENT_SOURCE_API, "source");
	CHECK(ev->content->submitted_at_ms > 0, "submitted_at");
	simpul__v1__content_submitted__free_unpacked(ev, NULL);
}

static const char body1[] =
	"{\"type\":\"kegiatan\",\"title\":\"Kerja bakti <b>\\\"RT 02\\\"</b>; DROP TABLE x;--\","
	"\"body\":\"Warga gotong royong.\\nO'Brien \\\\ 100%\",\"region_code\":\"35.07.12.2003\","
	"\"tags\":[\"kerja bakti\",\"desa\"],\"media_urls\":[\"https://kim.id/a.jpg\"]}";

int main(int argc, char **argv)
{
	struct config_item items[] = {
		{"SIMPUL_PG_URL", CONFIG_STRING, "postgresql://simpul@127.0.0.1:55432/simpul", 0,
		 1024, false, &pg_url, "PostgreSQL"},
		{"SIMPUL_KAFKA_BROKERS", CONFIG_STRING, "127.0.0.1:59092", 0, 1024, false, &brokers,
		 "Kafka"},
	};
	char err[512], key[64], id[40], *kim, *user, *tok, *v;
	struct util_buf b;
	rd_kafka_t *rk;
	int st;

	CHECK(argc == 2, "usage: ingest_integration_test PATH-TO-simpul-ingest");
	CHECK(config_load(items, 2, err, sizeof(err)) == 0, "config: %s", err);
	db = db_conn_new(pg_url, err, sizeof(err));
	CHECK(db, "postgresql unreachable: %s", err);
	tok = fixture(&kim, &user);
	rk = consumer_at_end();
	spawn(argv[1]);
	util_buf_init(&b, 1 << 20);
	snprintf(key, sizeof(key), "itest-%lld", (long long)util_now_ms());

	CHECK(http("POST", "/v1/content", tok, key, body1, &b) == 202, "POST: %s", b.data);
	v = strstr(b.data, "\"id\":\"");
	CHECK(v && strlen(v) >= 6 + 36, "no id in %s", b.data);
	snprintf(id, sizeof(id), "%.36s", v + 6);
	CHECK(util_uuid_valid(id), "id %s", id);

	/* The row, exactly as sent, committed before the 202. */
	v = sql1("SELECT concat_ws('|', type, title, body, region_code, kim_id, author_id, "
		 "array_to_string(tags, ','), array_to_string(media_urls, ','), source, status, "
		 "version) FROM simpul.content WHERE id = $1",
		 1, (const char *const[]){id});
	CHECK(v, "content row %s missing", id);
	snprintf(err, sizeof(err),
		 "kegiatan|Kerja bakti <b>\"RT 02\"</b>; DROP TABLE x;--|Warga gotong royong.\n"
		 "O'Brien \\ 100%%|35.07.12.2003|%s|%s|kerja bakti,desa|https://kim.id/a.jpg|api|"
		 "submitted|1",
		 kim, user);
	CHECK(strcmp(v, err) == 0, "row is\n%s\nwant\n%s", v, err);
	free(v);
	v = sql1("SELECT string_agg(seq || ':' || status, ',') FROM simpul.content_status_history "
		 "WHERE content_id = $1", 1, (const char *const[]){id});
	CHECK(v && strcmp(v, "1:submitted") == 0, "history %s", v ? v : "(none)");
	free(v);
	v = sql1("SELECT count(*) FROM simpul.outbox WHERE msg_key = $1 AND "
		 "topic = 'kim.content.submitted.v1'", 1, (const char *const[]){id});
	CHECK(v && strcmp(v, "1") == 0, "outbox rows %s", v);
	free(v);

	check_event(rk, id, kim, user);

	/* Idempotent retry: same id, nothing new; different body: 409. */
	CHECK(http("POST", "/v1/content", tok, key, body1, &b) == 202, "replay: %s", b.data);
	CHECK(strstr(b.data, id), "replay gave another id: %s", b.data);
	v = sql1("SELECT count(*) FROM simpul.content WHERE author_id = $1", 1,
		 (const char *const[]){user});
	CHECK(v && strcmp(v, "1") == 0, "rows after replay %s", v);
	free(v);
	CHECK(http("POST", "/v1/content", tok, key,
		   "{\"type\":\"berita\",\"title\":\"x\",\"body\":\"y\",\"region_code\":\"35\"}",
		   &b) == 409, "conflict: %s", b.data);
	CHECK(strstr(b.data, "idempotency_conflict"), "409 body %s", b.data);

	/* GET it back as its author. */
	snprintf(err, sizeof(err), "/v1/content/%s", id);
	CHECK(http("GET", err, tok, NULL, NULL, &b) == 200, "GET: %s", b.data);
	CHECK(strstr(b.data, "\"status\":\"submitted\""), "GET body %s", b.data);

	/* A KIM still pending verification may not post (issue 4: only a
	 * verified KIM becomes able to post); nothing is written. */
	sql1("UPDATE simpul.kims SET status = 'pending' WHERE id = $1", 1,
	     (const char *const[]){kim});
	snprintf(key, sizeof(key), "itest-pending-%lld", (long long)util_now_ms());
	CHECK(http("POST", "/v1/content", tok, key, body1, &b) == 422, "pending kim: %s", b.data);
	CHECK(strstr(b.data, "\"code\":\"kim_not_verified\"") && strstr(b.data, "\"field\":\"kim_id\""),
	      "pending kim body %s", b.data);
	v = sql1("SELECT count(*) FROM simpul.content WHERE author_id = $1", 1,
		 (const char *const[]){user});
	CHECK(v && strcmp(v, "1") == 0, "rows after pending-kim post %s", v);
	free(v);

	/* SIGTERM: clean exit 0. */
	kill(child, SIGTERM);
	CHECK(waitpid(child, &st, 0) == child, "waitpid");
	child = -1;
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d", st);

	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	util_buf_release(&b);
	db_conn_free(db);
	free(kim);
	free(user);
	free(tok);
	config_release(items, 2);
	printf("ok: ingest happy path\n");
	return 0;
}
