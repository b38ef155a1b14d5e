/*
 * bench/notify/bench_receiver.c - the benchmark's webhook receiver: counts
 * requests, answers 503 to a given share of them at random, and remembers
 * every webhook-id answered 200 so duplicates are counted.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "bench_receiver.h"

#define SET_BITS 22 /* 4M slots */

static struct MHD_Daemon *d;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t *set;
static struct bench_counts counts;
static double fail_share;

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h ? h : 1;
}

/* Adds id to the delivered set; false if it was there (a duplicate). */
static bool set_add(uint64_t h)
{
	size_t mask = ((size_t)1 << SET_BITS) - 1, i = h & mask;

	while (set[i]) {
		if (set[i] == h)
			return false;
		i = (i + 1) & mask;
	}
	set[i] = h;
	return true;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *data,
			      size_t *size, void **ptr)
{
	static int marker;
	const char *id;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	unsigned status = 200;

	(void)cls, (void)url, (void)method, (void)version, (void)data;
	if (!*ptr) {
		*ptr = &marker;
		return MHD_YES;
	}
	if (*size) {
		*size = 0;
		return MHD_YES;
	}
	id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "webhook-id");
	pthread_mutex_lock(&mu);
	counts.requests++;
	if (fail_share > 0 && (double)random() / RAND_MAX < fail_share) {
		status = 503;
		counts.failed++;
	} else if (set_add(hash(id ? id : ""))) {
		counts.delivered++;
	} else {
		counts.duplicates++;
	}
	pthread_mutex_unlock(&mu);
	resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

int bench_receiver_start(unsigned *port, int threads)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	const union MHD_DaemonInfo *info;

	set = calloc((size_t)1 << SET_BITS, sizeof(*set));
	if (!set)
		return -1;
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL, handle,
			     NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_THREAD_POOL_SIZE,
			     (unsigned)threads, MHD_OPTION_CONNECTION_LIMIT, 4000, MHD_OPTION_END);
	if (!d)
		return -1;
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	*port = info ? info->port : 0;
	return *port ? 0 : -1;
}

void bench_receiver_reset(double fail)
{
	pthread_mutex_lock(&mu);
	memset(&counts, 0, sizeof(counts));
	memset(set, 0, ((size_t)1 << SET_BITS) * sizeof(*set));
	fail_share = fail;
	pthread_mutex_unlock(&mu);
}

struct bench_counts bench_receiver_counts(void)
{
	struct bench_counts c;

	pthread_mutex_lock(&mu);
	c = counts;
	pthread_mutex_unlock(&mu);
	return c;
}

void bench_receiver_stop(void)
{
	if (d)
		MHD_stop_daemon(d);
	free(set);
}
