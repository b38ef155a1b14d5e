/*
 * bench/report/apply_bench.c - the reporting service's apply path alone (a
 * benchmark, not a test), without Kafka and without the other report
 * processes of a shared stack: N synthetic content events (submissions of a
 * random past day over 5 provinces x 20 kecamatan x 20 desa, half of them
 * then decided) packed in memory, applied into a private generation
 *   - one event per transaction (report_apply: the SQL function; the old
 *     path and SIMPUL_REPORT_BATCH_MAX=1), on the first min(N, 3000) events,
 *   - in batches of B (report_apply_batch, one transaction each), all N,
 * then the generations' rows are deleted. Same run, same machine state.
 * Besides wall-clock rates it prints events per CPU-second of the
 * PostgreSQL backend serving the run plus the bench itself (from /proc and
 * getrusage; PostgreSQL must run on this machine): on a shared, loaded
 * machine that figure moves far less than the wall-clock one.
 *
 * usage: report_apply_bench [N] [B] [S]   (SIMPUL_PG_URL; S: one-per-transaction
 *        events, default min(N, 3000))
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <simpul/v1/content.pb-c.h>
#include <simpul/v1/moderation.pb-c.h>

#include "db/db.h"
#include "events/codec.h"
#include "events/meta.h"
#include "events/topics.h"
#include "report.h"
#include "ts/ts.h"
#include "slog/slog.h"
#include "util/buf.h"
#include "util/ids.h"

struct packed {
	const char *topic;
	char *data;
	size_t len;
};

static int pack(struct packed *p, const char *topic, const ProtobufCMessage *m)
{
	struct util_buf b;
	char err[128];

	util_buf_init(&b, 0);
	if (events_pack(m, 0, &b, err, sizeof(err)) != 0)
		return -1;
	p->topic = topic;
	p->len = b.len;
	p->data = util_buf_steal(&b);
	return p->data ? 0 : -1;
}

/* Event i: a submission, or (odd i) the decision of submission i - 1. */
static int make(struct packed *p, long i, int64_t day_ms, char (*ids)[37])
{
	static const char *const prov[] = {"35.07", "11.01", "32.73", "51.71", "73.71"};
	long item = i / 2;
	char region[32], err[128];
	struct events_meta_buf mb;
	Simpul__V1__Content c = SIMPUL__V1__CONTENT__INIT;
	Simpul__V1__ContentSubmitted cs = SIMPUL__V1__CONTENT_SUBMITTED__INIT;
	Simpul__V1__ContentModerated cm = SIMPUL__V1__CONTENT_MODERATED__INIT;
	int64_t sub_ms = day_ms + item % 3600000;

	snprintf(region, sizeof(region), "%s.%02ld.%04ld", prov[item % 5], 1 + (item / 5) % 20,
	         2001 + (item / 100) % 20);
	if (events_meta_init(&mb, i % 2 ? "content.moderated" : "content.submitted",
	                     "report-bench@local", NULL, err, sizeof(err)) != 0)
		return -1;
	mb.meta.occurred_at_ms = sub_ms + (i % 2) * 1000;
	if (i % 2 == 0) {
		util_uuid_v4(ids[item]);
		c.id = ids[item];
		c.type = (Simpul__V1__ContentType)(1 + item % 7);
		c.title = "bench";
		c.body = "bench";
		c.region_code = region;
		c.submitted_at_ms = sub_ms;
		cs.meta = &mb.meta;
		cs.content = &c;
		return pack(p, EVENTS_TOPIC_CONTENT_SUBMITTED, &cs.base);
	}
	cm.meta = &mb.meta;
	cm.content_id = ids[item];
	cm.region_code = region;
	cm.type = (Simpul__V1__ContentType)(1 + item % 7);
	cm.submitted_at_ms = sub_ms;
	cm.version = 1;
	cm.decision = item % 3 ? SIMPUL__V1__DECISION__DECISION_APPROVE
	                       : SIMPUL__V1__DECISION__DECISION_REJECT;
	cm.decided_at_ms = sub_ms + 1000 + item % 5000;
	return pack(p, EVENTS_TOPIC_CONTENT_MODERATED, &cm.base);
}

static struct kafka_message view(const struct packed *p)
{
	struct kafka_message m = {
	    .topic = p->topic, .value = p->data, .value_len = p->len, .attempt = 1};
	return m;
}


/* CPU microseconds of this process ([0]) and of PostgreSQL backend pg ([1]). */
static void cpu_us(long pg, int64_t out[2])
{
	struct rusage ru;
	double b = ts_proc_cpu_seconds(pg);

	getrusage(RUSAGE_SELF, &ru);
	out[0] = (int64_t)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec +
		 (int64_t)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
	out[1] = b < 0 ? 0 : (int64_t)(b * 1e6);
}

/* "events_per_cpu_s=... (client X%)" for n events between CPU readings a and b. */
static void print_cpu(long n, const int64_t a[2], const int64_t b[2])
{
	int64_t client = b[0] - a[0], total = client + b[1] - a[1] + 1;

	printf(" events_per_cpu_s=%.0f (PostgreSQL backend + client; client %.0f%%)\n",
	       n * 1e6 / (double)total, 100.0 * (double)client / (double)total);
}

static long backend_pid(struct db_conn *db)
{
	PGresult *r = NULL;
	char err[256];
	long pid = -1;

	if (db_exec(db, "SELECT pg_catalog.pg_backend_pid() AS p", 0, NULL, NULL, &r, err,
		    sizeof(err)) == 0)
		pid = atol(db_value(r, 0, "p"));
	PQclear(r);
	return pid;
}

/* Deletes the private generations' rows and the dirty marks they left. */
static int cleanup(struct db_conn *db, int g1, int g2, const char *day)
{
	char err[256];

	return report_gen_delete(db, g1, err, sizeof(err)) ||
	       report_gen_delete(db, g2, err, sizeof(err)) ||
	       report_dirty_drop_unbacked(db, day, err, sizeof(err));
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 20000, bsz = argc > 2 ? atol(argv[2]) : 500;
	long nsingle = argc > 3 ? atol(argv[3]) : n < 3000 ? n : 3000, pg;
	const char *url = getenv("SIMPUL_PG_URL");
	struct packed *ev = calloc((size_t)n, sizeof(*ev));
	char(*ids)[37] = calloc((size_t)n / 2 + 1, sizeof(*ids));
	struct kafka_message *ms = calloc((size_t)bsz, sizeof(*ms));
	struct db_conn *db;
	struct tm tm = {0};
	char err[512], day[16];
	int g1, g2, rc = 1;
	int64_t t0, t1, t2, c0[2], c1[2], c2[2];

	slog_init("report-apply-bench", SLOG_WARN);
	db =
	    db_conn_new(url ? url : "postgresql://simpul@127.0.0.1:55432/simpul", err, sizeof(err));
	if (!ev || !ids || !ms || !db || n < 2 || bsz < 1 || nsingle < 1) {
		fprintf(stderr, "usage: %s [N>=2] [B>=1] [S>=1] (PostgreSQL up?) %s\n", argv[0],
		        db ? "" : err);
		return 2;
	}
	if (nsingle > n)
		nsingle = n;
	srand((unsigned)(time(NULL) ^ getpid()));
	g1 = 3000000 + rand() % 1000000 * 2;
	g2 = g1 + 1;
	tm.tm_year = 100 + rand() % 20;
	tm.tm_mday = 1 + rand() % 28;
	tm.tm_hour = 1;
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	for (long i = 0; i < n; i++)
		if (make(&ev[i], i, (int64_t)timegm(&tm) * 1000, ids) != 0)
			goto out;
	pg = backend_pid(db);
	cpu_us(pg, c0);
	t0 = util_mono_us();
	for (long i = 0; i < nsingle; i++) {
		struct kafka_message m = view(&ev[i]);

		if (report_apply(db, g1, &m, NULL, err, sizeof(err)) != 0) {
			fprintf(stderr, "apply: %s\n", err);
			goto out;
		}
	}
	t1 = util_mono_us();
	cpu_us(pg, c1);
	for (long i = 0; i < n; i += bsz) {
		size_t k = (size_t)(n - i < bsz ? n - i : bsz), applied, dups;

		for (size_t j = 0; j < k; j++)
			ms[j] = view(&ev[i + (long)j]);
		if (report_apply_batch(db, g2, ms, k, &applied, &dups, err, sizeof(err)) != 0) {
			fprintf(stderr, "batch: %s\n", err);
			goto out;
		}
	}
	t2 = util_mono_us();
	cpu_us(pg, c2);
	printf("one_per_transaction: events=%ld events_per_s=%.0f", nsingle,
	       nsingle * 1e6 / (double)(t1 - t0));
	print_cpu(nsingle, c0, c1);
	printf("batched (B=%ld): events=%ld events_per_s=%.0f", bsz, n,
	       n * 1e6 / (double)(t2 - t1));
	print_cpu(n, c1, c2);
	rc = 0;
out:
	if (db && cleanup(db, g1, g2, day) != 0)
		fprintf(stderr, "cleanup failed\n");
	for (long i = 0; ev && i < n; i++)
		free(ev[i].data);
	free(ev);
	free(ids);
	free(ms);
	db_conn_free(db);
	return rc;
}
