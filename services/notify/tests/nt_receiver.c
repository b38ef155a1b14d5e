/*
 * services/notify/tests/nt_receiver.c - the test's webhook receiver: a tiny
 * libmicrohttpd server that records every request and answers by path (see
 * nt.h), so tests check headers, bodies, retries and duplicates.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "nt.h"

#define MAX_HITS 20000
#define BODY_CAP (1 << 20)

static struct MHD_Daemon *daemon_;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct nt_hit *hits;
static size_t nhits;

struct req {
	char *body;
	size_t len;
};

/* How many earlier hits had this path prefix and webhook-id. */
static int seen_before(const char *tag_path, const char *id)
{
	int n = 0;

	for (size_t i = 0; i < nhits; i++)
		if (!strcmp(hits[i].path, tag_path) && !strcmp(hits[i].id, id))
			n++;
	return n;
}

static int decide(const char *path, const char *id)
{
	int n = 0, before;

	if (!strncmp(path, "/ok/", 4))
		return 200;
	if (!strncmp(path, "/gone/", 6))
		return 410;
	before = seen_before(path, id);
	if (sscanf(path, "/fail%d/", &n) == 1)
		return before < n ? 503 : 200;
	if (sscanf(path, "/drop%d/", &n) == 1)
		return before < n ? 0 : 200;
	if (sscanf(path, "/slow%d/", &n) == 1)
		return before < n ? -1 : 200;
	return 404;
}

static void record(struct MHD_Connection *c, const char *url, struct req *r, int status)
{
	const char *v;
	struct nt_hit *h;

	if (nhits >= MAX_HITS)
		return;
	h = &hits[nhits++];
	memset(h, 0, sizeof(*h));
	snprintf(h->path, sizeof(h->path), "%s", url);
	if ((v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "webhook-id")))
		snprintf(h->id, sizeof(h->id), "%s", v);
	if ((v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "webhook-timestamp")))
		snprintf(h->ts, sizeof(h->ts), "%s", v);
	if ((v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "webhook-signature")))
		snprintf(h->sig, sizeof(h->sig), "%s", v);
	h->body = r->body;
	h->body_len = r->len;
	r->body = NULL;
	h->status = status;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *data,
			      size_t *size, void **ptr)
{
	struct req *r = *ptr;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	const char *id;
	int status;

	(void)cls;
	(void)method;
	(void)version;
	if (!r) {
		*ptr = calloc(1, sizeof(*r));
		return *ptr ? MHD_YES : MHD_NO;
	}
	if (*size) {
		if (r->len + *size <= BODY_CAP) {
			char *nb = realloc(r->body, r->len + *size + 1);
			if (!nb)
				return MHD_NO;
			r->body = nb;
			memcpy(r->body + r->len, data, *size);
			r->len += *size;
			r->body[r->len] = '\0';
		}
		*size = 0;
		return MHD_YES;
	}
	id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "webhook-id");
	pthread_mutex_lock(&mu);
	status = decide(url, id ? id : "");
	record(c, url, r, status < 0 ? 0 : status);
	pthread_mutex_unlock(&mu);
	if (status < 0) {
		sleep(5); /* longer than the service's total timeout in the test */
		status = 200;
	}
	if (status == 0)
		return MHD_NO; /* drops the connection */
	resp = MHD_create_response_from_buffer(2, (void *)"ok", MHD_RESPMEM_PERSISTENT);
	ret = MHD_queue_response(c, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **ptr,
		      enum MHD_RequestTerminationCode toe)
{
	struct req *r = *ptr;

	(void)cls;
	(void)c;
	(void)toe;
	if (r) {
		free(r->body);
		free(r);
	}
	*ptr = NULL;
}

int nt_receiver_start(unsigned *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	const union MHD_DaemonInfo *info;

	hits = calloc(MAX_HITS, sizeof(*hits));
	if (!hits)
		return -1;
	daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL,
				   handle, NULL, MHD_OPTION_SOCK_ADDR, &sa,
				   MHD_OPTION_THREAD_POOL_SIZE, 4, MHD_OPTION_NOTIFY_COMPLETED,
				   completed, NULL, MHD_OPTION_CONNECTION_LIMIT, 2000,
				   MHD_OPTION_END);
	if (!daemon_)
		return -1;
	info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
	*port = info ? info->port : 0;
	return *port ? 0 : -1;
}

void nt_receiver_stop(void)
{
	if (daemon_)
		MHD_stop_daemon(daemon_);
	daemon_ = NULL;
	for (size_t i = 0; i < nhits; i++)
		free(hits[i].body);
	free(hits);
	hits = NULL;
	nhits = 0;
}

size_t nt_hits(const char *prefix, struct nt_hit *out, size_t cap)
{
	size_t n = 0, plen = strlen(prefix);

	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < nhits; i++) {
		if (strncmp(hits[i].path, prefix, plen) != 0)
			continue;
		if (n < cap)
			out[n] = hits[i];
		n++;
	}
	pthread_mutex_unlock(&mu);
	return n;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t nt_delivered_ids(const char *prefix)
{
	size_t n = 0, distinct = 0, plen = strlen(prefix);
	char **ids;

	pthread_mutex_lock(&mu);
	ids = calloc(nhits + 1, sizeof(*ids));
	for (size_t i = 0; ids && i < nhits; i++)
		if (!strncmp(hits[i].path, prefix, plen) && hits[i].status == 200)
			ids[n++] = hits[i].id;
	if (ids)
		qsort(ids, n, sizeof(*ids), cmp_str);
	for (size_t i = 0; ids && i < n; i++)
		if (i == 0 || strcmp(ids[i], ids[i - 1]))
			distinct++;
	pthread_mutex_unlock(&mu);
	free(ids);
	return distinct;
}

size_t nt_wait_delivered(const char *prefix, size_t n, int ms)
{
	size_t got = 0;

	for (int t = 0; t <= ms; t += 50) {
		got = nt_delivered_ids(prefix);
		if (got >= n)
			break;
		usleep(50000);
	}
	return got;
}
