/* util/err.c - error code names and the error-buffer formatter. */
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>

const char *util_err_name(int code)
{
	switch (code) {
	case UTIL_OK: return "ok";
	case UTIL_EINVAL: return "einval";
	case UTIL_ENOMEM: return "enomem";
	case UTIL_ETOOBIG: return "etoobig";
	case UTIL_EIO: return "eio";
	case UTIL_ENOTFOUND: return "enotfound";
	case UTIL_ECONFLICT: return "econflict";
	case UTIL_EUNAVAIL: return "eunavail";
	case UTIL_ETIMEOUT: return "etimeout";
	case UTIL_EDENIED: return "edenied";
	case UTIL_EINTERNAL: return "einternal";
	default: return "eunknown";
	}
}

int util_err_set(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return code;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return code;
}
