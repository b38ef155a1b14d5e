/*
 * util/ids.h - identifiers, hashes and time.
 */
#ifndef UTIL_IDS_H
#define UTIL_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UTIL_UUID_STRLEN 36   /* without the NUL */
#define UTIL_TRACE_STRLEN 32  /* 16 random bytes as hex */

/* Random (version 4) UUID in canonical lowercase form into out[37]. */
void util_uuid_v4(char out[UTIL_UUID_STRLEN + 1]);
/* True if s (NUL-terminated) is a canonical UUID, any case. */
bool util_uuid_valid(const char *s);
/* 32 lowercase hex chars from 16 random bytes into out[33]. */
void util_trace_id(char out[UTIL_TRACE_STRLEN + 1]);
/* Fills p with n cryptographically random bytes; 0 or UTIL_EIO. */
int util_random_bytes(void *p, size_t n);

/* SHA-256 of data; out receives 32 bytes. */
void util_sha256(const void *data, size_t len, unsigned char out[32]);
/* Lowercase hex of n bytes into out (2n+1 bytes). */
void util_hex(const unsigned char *p, size_t n, char *out);

/* Wall clock in Unix epoch milliseconds. */
int64_t util_now_ms(void);
/* Monotonic clock in microseconds, for durations. */
int64_t util_mono_us(void);

#endif
