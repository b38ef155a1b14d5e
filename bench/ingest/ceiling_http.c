/*
 * ceiling_http.c - ceiling A: the cheapest possible libmicrohttpd handler
 * (read the body, answer 202), so the ingest figure can be compared with
 * what the HTTP layer alone costs on this machine with the same client.
 */
#include "ceilings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include <util/err.h>

static const char ceiling_reply[] =
	"{\"id\":\"00000000-0000-4000-8000-000000000000\",\"status\":\"submitted\"}";

struct ceiling_http {
	struct MHD_Daemon *d;
	struct MHD_Response *reply; /* shared, persistent */
	unsigned port;
};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct ceiling_http *c = cls;
	static int marker;

	if (*con_cls == NULL) {
		*con_cls = &marker; /* first call: headers only */
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0; /* body bytes consumed, no work */
		return MHD_YES;
	}
	return MHD_queue_response(conn, 202, c->reply);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	*con_cls = NULL;
}

struct ceiling_http *ceiling_http_new(unsigned threads, char *err, size_t errlen)
{
	struct ceiling_http *c = calloc(1, sizeof(*c));
	const union MHD_DaemonInfo *info;

	if (!c) {
		util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
		return NULL;
	}
	c->reply = MHD_create_response_from_buffer(sizeof(ceiling_reply) - 1, (void *)ceiling_reply,
						   MHD_RESPMEM_PERSISTENT);
	if (c->reply)
		MHD_add_response_header(c->reply, "Content-Type", "application/json");
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	c->d = c->reply ? MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL,
					   NULL, on_request, c, MHD_OPTION_SOCK_ADDR, &sa,
					   MHD_OPTION_THREAD_POOL_SIZE, threads ? threads : 1u,
					   MHD_OPTION_CONNECTION_LIMIT, 4096u,
					   MHD_OPTION_CONNECTION_TIMEOUT, 30u,
					   MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
					   MHD_OPTION_END)
			: NULL;
	info = c->d ? MHD_get_daemon_info(c->d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
	if (!info || !info->port) {
		util_err_set(err, errlen, UTIL_EIO, "cannot start the libmicrohttpd ceiling server");
		ceiling_http_free(c);
		return NULL;
	}
	c->port = info->port;
	return c;
}

unsigned ceiling_http_port(const struct ceiling_http *c)
{
	return c->port;
}

void ceiling_http_free(struct ceiling_http *c)
{
	if (!c)
		return;
	if (c->d)
		MHD_stop_daemon(c->d);
	if (c->reply)
		MHD_destroy_response(c->reply);
	free(c);
}
