/*
 * ts_env.c - the stack's settings for the cross-service tests, read through
 * libs/config like every service, and a reachability check so a test fails
 * loudly (naming what is down) when the stack is not there.
 */
#include "ts/ts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <config/config.h>
#include <util/err.h>

#ifndef TS_DEFAULT_INGEST_BIN
#define TS_DEFAULT_INGEST_BIN "simpul-ingest"
#endif
#ifndef TS_DEFAULT_SIMPULCTL_BIN
#define TS_DEFAULT_SIMPULCTL_BIN "simpulctl"
#endif
#ifndef TS_DEFAULT_STACK
#define TS_DEFAULT_STACK "deploy/stack"
#endif
#ifndef TS_DEFAULT_SHARED_DATA
#define TS_DEFAULT_SHARED_DATA ""
#endif

static void env_items(struct ts_env *env, struct config_item *it)
{
	const struct config_item items[] = {
		{"SIMPUL_PG_URL", CONFIG_STRING, "postgresql://simpul@127.0.0.1:55432/simpul", 1, 1024,
		 false, &env->pg_url, "PostgreSQL of the stack"},
		{"SIMPUL_REDIS_HOST", CONFIG_STRING, "127.0.0.1", 1, 255, false, &env->redis_host,
		 "Redis host"},
		{"SIMPUL_REDIS_PORT", CONFIG_INT, "56379", 1, 65535, false, &env->redis_port,
		 "Redis port"},
		{"SIMPUL_KAFKA_BROKERS", CONFIG_STRING, "127.0.0.1:59092", 1, 1024, false,
		 &env->kafka_brokers, "Kafka bootstrap brokers"},
		{"SIMPUL_STACK", CONFIG_STRING, TS_DEFAULT_STACK, 1, 4096, false, &env->stack,
		 "path of deploy/stack (fault injection)"},
		{"SIMPUL_SHARED_DATA", CONFIG_STRING, TS_DEFAULT_SHARED_DATA, 0, 4096, false,
		 &env->shared_data, "shared public data folder"},
		{"SIMPUL_TEST_INGEST_BIN", CONFIG_STRING, TS_DEFAULT_INGEST_BIN, 1, 4096, false,
		 &env->ingest_bin, "simpul-ingest binary under test"},
		{"SIMPUL_TEST_SIMPULCTL_BIN", CONFIG_STRING, TS_DEFAULT_SIMPULCTL_BIN, 1, 4096, false,
		 &env->simpulctl_bin, "simpulctl binary under test"},
	};
	memcpy(it, items, sizeof(items));
}

#define TS_ENV_ITEMS 8

/* "host:port" of the first broker, or of a postgresql:// URL's authority. */
static bool host_port(const char *s, char *host, size_t hostlen, unsigned *port)
{
	const char *at = strchr(s, '@'), *start = strstr(s, "://");
	const char *colon, *end;

	start = start ? start + 3 : s;
	if (at && at > start)
		start = at + 1;
	colon = strchr(start, ':');
	if (!colon)
		return false;
	end = colon + 1 + strspn(colon + 1, "0123456789");
	if ((size_t)(colon - start) >= hostlen || end == colon + 1)
		return false;
	snprintf(host, hostlen, "%.*s", (int)(colon - start), start);
	*port = (unsigned)strtoul(colon + 1, NULL, 10);
	return true;
}

int ts_env_load(struct ts_env *env, char *err, size_t errlen)
{
	struct config_item items[TS_ENV_ITEMS];
	char host[256];
	unsigned port;
	int rc;

	memset(env, 0, sizeof(*env));
	env_items(env, items);
	rc = config_load(items, TS_ENV_ITEMS, err, errlen);
	if (rc < 0)
		return rc;
	if (host_port(env->pg_url, host, sizeof(host), &port) && !ts_port_open(host, port))
		return util_err_set(err, errlen, UTIL_EUNAVAIL,
				    "postgresql is not reachable at %s:%u: start the stack "
				    "(deploy/stack infra)", host, port);
	if (!ts_port_open(env->redis_host, (unsigned)env->redis_port))
		return util_err_set(err, errlen, UTIL_EUNAVAIL,
				    "redis is not reachable at %s:%lld: start the stack", env->redis_host,
				    (long long)env->redis_port);
	if (host_port(env->kafka_brokers, host, sizeof(host), &port) && !ts_port_open(host, port))
		return util_err_set(err, errlen, UTIL_EUNAVAIL,
				    "kafka is not reachable at %s:%u: start the stack", host, port);
	return 0;
}

void ts_env_release(struct ts_env *env)
{
	struct config_item items[TS_ENV_ITEMS];

	env_items(env, items);
	config_release(items, TS_ENV_ITEMS);
}
