/*
 * ts/ts.h - support for Simpul's cross-service integration and fault tests:
 * the stack's settings, a simpul-ingest child on a free port, HTTP calls,
 * PostgreSQL fixtures (regions, a verified KIM, users and tokens with unique
 * names per run), a Kafka reader from the end of a topic, a producer, and
 * the stack's fault-injection subcommands.
 *
 * Every function that can fail returns 0 or a negative UTIL_E* code (or
 * NULL) with detail in a caller-supplied buffer; tests turn that into a
 * loud failure. Nothing here passes silently when the stack is absent.
 */
#ifndef TS_TS_H
#define TS_TS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#define TS_WUR __attribute__((warn_unused_result))

/* ---- settings (ts_env.c) ---- */

/* The stack's settings, from the environment through libs/config. */
struct ts_env {
	char *pg_url;        /* SIMPUL_PG_URL */
	char *redis_host;    /* SIMPUL_REDIS_HOST */
	int64_t redis_port;  /* SIMPUL_REDIS_PORT */
	char *kafka_brokers; /* SIMPUL_KAFKA_BROKERS */
	char *stack;         /* SIMPUL_STACK: path of deploy/stack */
	char *shared_data;   /* SIMPUL_SHARED_DATA, "" when unknown */
	char *ingest_bin;    /* SIMPUL_TEST_INGEST_BIN, default: the build's binary */
	char *simpulctl_bin; /* SIMPUL_TEST_SIMPULCTL_BIN, default: the build's binary */
};

/* Loads the settings; also checks that PostgreSQL, Kafka and Redis answer
 * (TCP connect) and says which does not. 0 or UTIL_EINVAL/UTIL_EUNAVAIL. */
TS_WUR int ts_env_load(struct ts_env *env, char *err, size_t errlen);
void ts_env_release(struct ts_env *env);

/* ---- processes (ts_proc.c) ---- */

/* A running simpul-ingest child. */
struct ts_ingest {
	int pid;
	unsigned port;
	char base_url[64];  /* "http://127.0.0.1:<port>" */
	char log_path[256]; /* its stderr/stdout */
};

/*
 * Starts env->ingest_bin on a free loopback port with the stack's settings
 * plus `extra` ("NAME=value" strings, NULL-terminated, may be NULL), and
 * waits up to wait_ms for GET /healthz to answer 200. 0 or UTIL_E*; on
 * failure the child is killed and the tail of its log is in err.
 */
TS_WUR int ts_ingest_start(struct ts_ingest *in, const struct ts_env *env,
			   const char *const *extra, int wait_ms, char *err, size_t errlen);

/*
 * Sends SIGTERM and waits up to wait_ms for the exit (then SIGKILL).
 * Returns the exit status (0..255), 128+signal when killed by a signal, or
 * a negative UTIL_E* code. Safe on a stopped or never-started child (pid 0).
 */
int ts_ingest_stop(struct ts_ingest *in, int wait_ms);

/* Prints the last `lines` lines of the child's log to stderr (diagnostics). */
void ts_ingest_dump_log(const struct ts_ingest *in, int lines);

/* CPU time (user + system, all threads) process pid has used, in seconds
 * (/proc/PID/stat); -1 when it cannot be read. For benchmarks' per-CPU figures. */
double ts_proc_cpu_seconds(long pid);

/*
 * Runs `$SIMPUL_STACK <sub>` (e.g. "kafka-stop") and waits up to wait_ms.
 * 0 when it exited 0, else UTIL_EIO/UTIL_ETIMEOUT with detail.
 */
TS_WUR int ts_stack_run(const struct ts_env *env, const char *sub, int wait_ms, char *err,
			size_t errlen);

/* Runs argv (argv[0] a path), output appended to out (capped, NUL-ended),
 * waits up to wait_ms. Returns the exit status or a negative UTIL_E*. */
int ts_run(char *const argv[], int wait_ms, char *out, size_t outlen);

/* True if something accepts TCP connections on 127.0.0.1:port. */
bool ts_port_open(const char *host, unsigned port);

/* ---- HTTP (ts_http.c) ---- */

#define TS_HTTP_BODY_CAP (1u << 20)

struct ts_response {
	long status;          /* 0 on transport failure */
	char *body;           /* owned, NUL-terminated, capped at TS_HTTP_BODY_CAP */
	size_t body_len;
	char retry_after[32]; /* Retry-After header, "" if absent */
	char location[256];
	char content_type[128];
	char request_id[128]; /* X-Request-Id */
	char error_code[64];  /* error.code of a JSON error body, "" if none */
	char error_field[64]; /* error.field */
	char id[64];          /* "id" of a JSON object body, "" if none */
};

/*
 * One request. headers: "Name: value" strings, NULL-terminated (may be
 * NULL). body may be NULL (no body); content_type NULL means none is sent.
 * Fills r (release with ts_response_release). 0, or UTIL_EIO when no HTTP
 * answer came (r->status 0, detail in r->body).
 */
int ts_http(struct ts_response *r, const char *method, const char *url,
	    const char *const *headers, const char *content_type, const char *body,
	    size_t body_len);

/* Makes every later ts_http call of this process connect from ip (a
 * loopback address like "127.23.4.5", so per-address limits start fresh),
 * or from the default address when ip is NULL. Not thread-safe to change. */
void ts_http_source_addr(const char *ip);
/* A random 127.x.y.z address into out[16]. */
void ts_random_loopback(char out[16]);

/* POST url with JSON body, Bearer token (NULL: none), Idempotency-Key (NULL: none). */
int ts_http_post_json(struct ts_response *r, const char *url, const char *token,
		      const char *idem_key, const char *json);
void ts_response_release(struct ts_response *r);

/* {"type","title","body","region_code"[,"kim_id"]} as compact JSON (jansson
 * escapes it); kim_id may be NULL. Caller free()s; NULL on ENOMEM. */
char *ts_json_content(const char *type, const char *title, const char *body,
		      const char *region_code, const char *kim_id);

/* ---- PostgreSQL (ts_pg.c) ---- */

/* Connects with an empty search_path. NULL with detail in err. */
PGconn *ts_pg_connect(const char *url, char *err, size_t errlen);
/* Runs sql with text params; returns the result (caller PQclear()s) or NULL
 * on error with detail in err. */
PGresult *ts_pg_query(PGconn *c, const char *sql, int nparams, const char *const *params,
		      char *err, size_t errlen);
/* The single value of a one-row one-column query as a long long; -1 on error. */
long long ts_pg_count(PGconn *c, const char *sql, int nparams, const char *const *params);

/* ---- fixtures (ts_fixture.c) ---- */

enum ts_role {
	TS_KIM_ADMIN,  /* of kim_id */
	TS_KIM_MEMBER, /* of kim_id */
	TS_OTHER_MEMBER, /* kim_member of other_kim_id */
	TS_CITIZEN,
	TS_MODERATOR,  /* region_prefix 35.07 */
	TS_ANALYST,
	TS_ADMIN,
	TS_INTEGRATION,
	TS_REVOKED,    /* kim_admin of kim_id whose token is revoked */
	TS_ROLE_COUNT
};

struct ts_user {
	char id[40];
	char token[64]; /* "simpul_" + 43 base64url chars */
};

/* Real Kemendagri codes (inserted when missing), a verified KIM in the desa,
 * a second verified KIM, and one user + token per role. */
struct ts_fixture {
	char run[17];          /* unique run tag (hex), also in the names */
	char kim_id[40];
	char other_kim_id[40];
	const char *desa;      /* "35.07.12.2001" (Ternyang) */
	const char *desa2;     /* "35.07.12.2002" (Senggreng) */
	const char *kecamatan; /* "35.07.12" */
	const char *other_desa; /* "11.01.01.2001" (Keude Bakongan, Aceh) */
	struct ts_user users[TS_ROLE_COUNT];
};

/* Creates the fixture through SQL. 0 or UTIL_E* with detail. */
TS_WUR int ts_fixture_create(struct ts_fixture *fx, PGconn *c, char *err, size_t errlen);

/* A unique idempotency key "t-<run>-<name>-<counter>" into out. */
void ts_key(const struct ts_fixture *fx, const char *name, char *out, size_t outlen);

/* ---- Kafka (ts_kafka.c) ---- */

struct ts_kmsg {
	char *key;        /* owned, NUL-terminated ("" if none) */
	void *value;      /* owned */
	size_t value_len;
	int32_t partition;
	int64_t offset;
	char **hnames;    /* owned header names/values (values NUL-terminated) */
	char **hvalues;
	size_t nheaders;
};

struct ts_reader;

/*
 * Assigns every partition of topic at its current end (high watermark), so
 * only messages produced after this call are seen. NULL with detail.
 */
struct ts_reader *ts_reader_new(const char *brokers, const char *topic, char *err, size_t errlen);
/* Polls for up to ms, appending every message; returns how many arrived. */
size_t ts_reader_poll(struct ts_reader *r, int ms);
/* Messages so far (borrowed, valid until the next poll or free). */
const struct ts_kmsg *ts_reader_msgs(const struct ts_reader *r, size_t *n);
/* How many messages carry this key. */
size_t ts_reader_count_key(const struct ts_reader *r, const char *key);
/* The first message with this key, or NULL. */
const struct ts_kmsg *ts_reader_find_key(const struct ts_reader *r, const char *key);
/* Polls until every key in keys[] was seen at least once or ms passed;
 * returns how many distinct keys are still missing. */
size_t ts_reader_wait_keys(struct ts_reader *r, const char *const *keys, size_t nkeys, int ms);
void ts_reader_free(struct ts_reader *r);

/* A header's value (borrowed) or NULL. */
const char *ts_kmsg_header(const struct ts_kmsg *m, const char *name);

/* Produces one message synchronously (flush, acks=all). 0 or UTIL_E*. */
TS_WUR int ts_kafka_produce(const char *brokers, const char *topic, const char *key,
			    const void *value, size_t len, char *err, size_t errlen);

/* ---- a test suite's context (ts_ctx.c) ---- */

/* What most tests need: settings, a running simpul-ingest, a PostgreSQL
 * connection and fresh fixtures. */
struct ts_ctx {
	struct ts_env env;
	struct ts_ingest ingest;
	PGconn *pg;
	struct ts_fixture fx;
	char url[192]; /* scratch for ts_ctx_url */
};

/*
 * Loads settings (failing loudly when the stack is down), starts
 * simpul-ingest with extra env (may be NULL), connects to PostgreSQL and
 * creates the fixtures. 0 or UTIL_E*; the reason is printed to stderr.
 * Call ts_ctx_teardown in every case.
 */
TS_WUR int ts_ctx_setup(struct ts_ctx *ctx, const char *const *extra_env);
/* Stops simpul-ingest (SIGTERM), closes everything. Returns the service's
 * exit status (see ts_ingest_stop). */
int ts_ctx_teardown(struct ts_ctx *ctx);
/* ctx->ingest.base_url + path, in ctx->url (overwritten by the next call). */
const char *ts_ctx_url(struct ts_ctx *ctx, const char *path);

/* ---- small helpers ---- */

/* Milliseconds on a monotonic clock. */
int64_t ts_now_ms(void);
/* Sleeps ms milliseconds. */
void ts_sleep_ms(int ms);

#endif
