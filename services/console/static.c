/*
 * services/console/static.c - serves the built front end from web_dir:
 * plain file names only (no '/', no leading '.'), read whole (assets are
 * small; capped), with a Content-Type by extension and headers that keep
 * the page same-origin (CSP) and out of frames.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "console.h"
#include "http/http.h"
#include "slog/slog.h"

#define STATIC_MAX (16 << 20)

static const char *const security_headers[][2] = {
	{"Content-Security-Policy", "default-src 'self'; img-src 'self' data:; "
				    "style-src 'self' 'unsafe-inline'; object-src 'none'; "
				    "base-uri 'none'; frame-ancestors 'none'"},
	{"X-Content-Type-Options", "nosniff"},
	{"Referrer-Policy", "no-referrer"},
	{"Cache-Control", "no-cache"},
};

const char *console_static_type(const char *name)
{
	static const char *const types[][2] = {
		{".html", "text/html; charset=utf-8"},	  {".js", "text/javascript; charset=utf-8"},
		{".css", "text/css; charset=utf-8"},	  {".svg", "image/svg+xml"},
		{".png", "image/png"},			  {".json", "application/json"},
		{".map", "application/json"},		  {".ico", "image/x-icon"},
		{".txt", "text/plain; charset=utf-8"},
	};
	const char *dot = strrchr(name, '.');

	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(dot, types[i][0]))
			return types[i][1];
	return "application/octet-stream";
}

bool console_static_name_ok(const char *name)
{
	size_t i;

	if (!name || name[0] == '.' || name[0] == '\0')
		return false;
	for (i = 0; name[i]; i++) {
		char c = name[i];

		if (i >= 128 || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* Reads path whole into *out (malloc'd, caller frees). 0, -ENOENT or -EIO. */
static int read_file(const char *path, char **out, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? -ENOENT : -EIO;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > STATIC_MAX ||
	    !(buf = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return S_ISDIR(st.st_mode) ? -ENOENT : -EIO;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*out = buf;
	*len = got;
	return 0;
}

void console_static_reply(struct http_request *req, const char *web_dir, const char *sub,
			  const char *name)
{
	char path[2048], *body = NULL;
	size_t len = 0;
	int rc;

	if (!console_static_name_ok(name) ||
	    snprintf(path, sizeof(path), "%s/%s%s%s", web_dir, sub, *sub ? "/" : "", name) >=
		    (int)sizeof(path)) {
		http_reply_error(req, 404, "not_found", "no such file", NULL);
		return;
	}
	rc = read_file(path, &body, &len);
	if (rc == -ENOENT) {
		http_reply_error(req, 404, "not_found", "no such file", NULL);
		return;
	}
	if (rc) {
		slog_warn("static file unreadable", "path=%s", path);
		http_reply_error(req, 500, "internal", "file unreadable", NULL);
		return;
	}
	for (size_t i = 0; i < sizeof(security_headers) / sizeof(security_headers[0]); i++)
		if (http_reply_header(req, security_headers[i][0], security_headers[i][1]))
			slog_warn("header not set", "name=%s", security_headers[i][0]);
	http_reply(req, 200, console_static_type(name), body, len);
	free(body);
}
