/*
 * services/notify/ssrf.c - webhook targets: URL parsing and the SSRF guard.
 * Only public unicast addresses may be called (loopback too when a test
 * allows it); every address a name resolves to is checked, and the
 * connection is pinned to a checked address (CURLOPT_RESOLVE), so DNS
 * rebinding cannot swap in a private one between the check and the connect.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "notify.h"
#include "util/err.h"

/* IPv4 in host order: refused ranges (RFC 6890 special-purpose and more). */
static bool v4_allowed(uint32_t a, bool allow_loopback)
{
	static const struct {
		uint32_t net, mask;
	} deny[] = {
		{0x00000000, 0xff000000}, /* 0.0.0.0/8 "this network" */
		{0x0a000000, 0xff000000}, /* 10/8 private */
		{0x64400000, 0xffc00000}, /* 100.64/10 carrier-grade NAT */
		{0xa9fe0000, 0xffff0000}, /* 169.254/16 link-local (cloud metadata) */
		{0xac100000, 0xfff00000}, /* 172.16/12 private */
		{0xc0000000, 0xffffff00}, /* 192.0.0/24 IETF */
		{0xc0000200, 0xffffff00}, /* 192.0.2/24 TEST-NET-1 */
		{0xc0a80000, 0xffff0000}, /* 192.168/16 private */
		{0xc6120000, 0xfffe0000}, /* 198.18/15 benchmarking */
		{0xc6336400, 0xffffff00}, /* 198.51.100/24 TEST-NET-2 */
		{0xcb007100, 0xffffff00}, /* 203.0.113/24 TEST-NET-3 */
		{0xe0000000, 0xe0000000}, /* 224/3 multicast, reserved, broadcast */
	};

	if ((a & 0xff000000) == 0x7f000000)
		return allow_loopback;
	for (size_t i = 0; i < sizeof(deny) / sizeof(deny[0]); i++)
		if ((a & deny[i].mask) == deny[i].net)
			return false;
	return true;
}

static bool v6_allowed(const struct in6_addr *a, bool allow_loopback)
{
	const uint8_t *b = a->s6_addr;

	if (IN6_IS_ADDR_LOOPBACK(a))
		return allow_loopback;
	if (IN6_IS_ADDR_V4MAPPED(a) || IN6_IS_ADDR_V4COMPAT(a)) {
		uint32_t v4 = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 |
			      (uint32_t)b[14] << 8 | b[15];
		return v4_allowed(v4, allow_loopback);
	}
	if (IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_LINKLOCAL(a) || IN6_IS_ADDR_SITELOCAL(a) ||
	    IN6_IS_ADDR_MULTICAST(a))
		return false;
	if ((b[0] & 0xfe) == 0xfc)      /* fc00::/7 unique local */
		return false;
	if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) /* 2001:db8::/32 */
		return false;
	if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b) /* 64:ff9b::/96 NAT64 */
		return false;
	if (b[0] == 0x20 && b[1] == 0x02) /* 2002::/16 6to4 may embed anything */
		return false;
	return true;
}

bool notify_addr_allowed(const void *sa, bool allow_loopback)
{
	const struct sockaddr *s = sa;

	if (s->sa_family == AF_INET)
		return v4_allowed(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr),
				  allow_loopback);
	if (s->sa_family == AF_INET6)
		return v6_allowed(&((const struct sockaddr_in6 *)sa)->sin6_addr, allow_loopback);
	return false;
}

bool notify_ip_text_allowed(const char *ip, bool allow_loopback)
{
	struct in_addr v4;
	struct in6_addr v6;

	if (inet_pton(AF_INET, ip, &v4) == 1)
		return v4_allowed(ntohl(v4.s_addr), allow_loopback);
	if (inet_pton(AF_INET6, ip, &v6) == 1)
		return v6_allowed(&v6, allow_loopback);
	return false;
}

static bool is_ip_literal(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* Splits "host[:port]" or "[v6][:port]" (authority without user info). */
static int parse_authority(const char *a, size_t n, struct notify_url *u, char *err,
			   size_t errlen)
{
	const char *hs = a, *he, *ps = NULL;

	if (n && a[0] == '[') {
		he = memchr(a, ']', n);
		if (!he)
			return util_err_set(err, errlen, UTIL_EINVAL, "bad ipv6 literal");
		hs = a + 1;
		if ((size_t)(he + 1 - a) < n) {
			if (he[1] != ':')
				return util_err_set(err, errlen, UTIL_EINVAL, "bad authority");
			ps = he + 2;
		}
	} else {
		he = memchr(a, ':', n);
		if (he)
			ps = he + 1;
		else
			he = a + n;
	}
	if (he == hs || (size_t)(he - hs) >= sizeof(u->host))
		return util_err_set(err, errlen, UTIL_EINVAL, "bad host");
	memcpy(u->host, hs, (size_t)(he - hs));
	u->host[he - hs] = '\0';
	for (char *p = u->host; *p; p++) {
		*p = (char)tolower((unsigned char)*p);
		if (!isalnum((unsigned char)*p) && !strchr(".-:_", *p))
			return util_err_set(err, errlen, UTIL_EINVAL, "bad host");
	}
	if (ps) {
		char *end;
		long port = strtol(ps, &end, 10);
		if (end != a + n || port < 1 || port > 65535)
			return util_err_set(err, errlen, UTIL_EINVAL, "bad port");
		u->port = (int)port;
	}
	return 0;
}

int notify_url_parse(const char *url, bool require_https, bool allow_loopback,
		     struct notify_url *u, char *err, size_t errlen)
{
	const char *a, *end;
	struct in_addr v4;
	int rc;

	memset(u, 0, sizeof(*u));
	if (strncmp(url, "https://", 8) == 0) {
		u->https = true;
		u->port = 443;
		a = url + 8;
	} else if (strncmp(url, "http://", 7) == 0) {
		if (require_https)
			return util_err_set(err, errlen, UTIL_EINVAL, "webhook url must be https");
		u->port = 80;
		a = url + 7;
	} else {
		return util_err_set(err, errlen, UTIL_EINVAL, "webhook url must be https://");
	}
	end = a + strcspn(a, "/?#");
	if (memchr(a, '@', (size_t)(end - a)))
		return util_err_set(err, errlen, UTIL_EINVAL, "user info not allowed in url");
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return util_err_set(err, errlen, UTIL_EINVAL, "control or space in url");
	rc = parse_authority(a, (size_t)(end - a), u, err, errlen);
	if (rc)
		return rc;
	if ((!strcmp(u->host, "localhost") || !strcmp(u->host, "localhost.")) && !allow_loopback)
		return util_err_set(err, errlen, UTIL_EDENIED, "loopback target refused");
	if (is_ip_literal(u->host) && !notify_ip_text_allowed(u->host, allow_loopback))
		return util_err_set(err, errlen, UTIL_EDENIED, "address '%s' is not public",
				    u->host);
	/* The resolver also reads 2130706433, 0x7f000001, 127.1 and 0177.0.0.1 as
	 * IPv4 (inet_aton forms): judge those literals now, not only at send time. */
	if (inet_aton(u->host, &v4) && !v4_allowed(ntohl(v4.s_addr), allow_loopback))
		return util_err_set(err, errlen, UTIL_EDENIED, "address '%s' is not public",
				    u->host);
	return 0;
}

int notify_url_resolve(struct notify_url *u, bool allow_loopback, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL, *ai;
	char ip[INET6_ADDRSTRLEN] = "";
	int rc = 0, g;

	g = getaddrinfo(u->host, NULL, &hints, &res);
	if (g != 0)
		return util_err_set(err, errlen, UTIL_EUNAVAIL, "resolve '%s': %s", u->host,
				    gai_strerror(g));
	for (ai = res; ai; ai = ai->ai_next) {
		const void *in = ai->ai_family == AF_INET
					 ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
					 : (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
		char one[INET6_ADDRSTRLEN];

		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		inet_ntop(ai->ai_family, in, one, sizeof(one));
		if (!notify_addr_allowed(ai->ai_addr, allow_loopback)) {
			rc = util_err_set(err, errlen, UTIL_EDENIED,
					  "'%s' resolves to non-public address %s", u->host, one);
			goto out;
		}
		if (!ip[0])
			snprintf(ip, sizeof(ip), "%s", one);
	}
	if (!ip[0]) {
		rc = util_err_set(err, errlen, UTIL_EUNAVAIL, "no address for '%s'", u->host);
		goto out;
	}
	/* curl wants IPv6 addresses in brackets in CURLOPT_RESOLVE. */
	snprintf(u->pin, sizeof(u->pin), strchr(ip, ':') ? "%s:%d:[%s]" : "%s:%d:%s", u->host,
		 u->port, ip);
out:
	freeaddrinfo(res);
	return rc;
}
