/*
 * util/buf.h - a growable byte buffer with a hard cap.
 *
 * Past its cap a write fails with UTIL_ETOOBIG and leaves the buffer as it
 * was, so callers can answer 413 rather than grow without bound. The buffer
 * is always NUL-terminated (the NUL is not counted in len).
 */
#ifndef UTIL_BUF_H
#define UTIL_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct util_buf {
	char *data;     /* NULL until the first write; owned by the buffer */
	size_t len;
	size_t alloc;
	size_t cap;     /* maximum len; 0 means SIZE_MAX */
};

/* A borrowed byte range, valid as long as its owner says. */
struct util_slice {
	const char *ptr;
	size_t len;
};

void util_buf_init(struct util_buf *b, size_t cap);
/* Frees the storage; the buffer may be reused after util_buf_init. */
void util_buf_release(struct util_buf *b);
/* Empties the buffer, keeping its storage. */
void util_buf_reset(struct util_buf *b);

__attribute__((warn_unused_result)) int util_buf_append(struct util_buf *b, const void *p,
							size_t n);
__attribute__((warn_unused_result)) int util_buf_append_str(struct util_buf *b, const char *s);
__attribute__((warn_unused_result, format(printf, 2, 3))) int
util_buf_printf(struct util_buf *b, const char *fmt, ...);

/*
 * Hands the storage to the caller (free() it) and re-initialises the buffer.
 * Returns an empty allocated string for an empty buffer, NULL on ENOMEM.
 */
char *util_buf_steal(struct util_buf *b);

#endif
