/*
 * util/err.h - the project's error codes.
 *
 * Action functions return 0 or one of these negative codes; detail goes into a
 * caller-supplied error buffer (char *err, size_t errlen), never a global.
 */
#ifndef UTIL_ERR_H
#define UTIL_ERR_H

#include <stddef.h>

enum util_err {
	UTIL_OK = 0,
	UTIL_EINVAL = -1,      /* bad input (caller's data) */
	UTIL_ENOMEM = -2,      /* allocation failed */
	UTIL_ETOOBIG = -3,     /* a size limit was exceeded */
	UTIL_EIO = -4,         /* I/O or dependency failure (network, disk) */
	UTIL_ENOTFOUND = -5,   /* the thing asked for does not exist */
	UTIL_ECONFLICT = -6,   /* state conflict (e.g. idempotency key reused) */
	UTIL_EUNAVAIL = -7,    /* a dependency is down; retry later */
	UTIL_ETIMEOUT = -8,    /* an operation timed out */
	UTIL_EDENIED = -9,     /* not allowed */
	UTIL_EINTERNAL = -10,  /* a bug or an unexpected state */
};

/* Short lowercase name of an error code ("einval"); never NULL. */
const char *util_err_name(int code);

/*
 * Format a message into err (if err is non-NULL and errlen > 0), always
 * NUL-terminated and truncated to fit. Returns code, so callers can write
 * `return util_err_set(err, errlen, UTIL_EINVAL, "bad %s", x);`.
 */
int util_err_set(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
