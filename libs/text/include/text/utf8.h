/*
 * text/utf8.h - UTF-8 validation, decoding and repair.
 *
 * Validity is RFC 3629: no overlong forms, no surrogates (U+D800..DFFF), no
 * code point above U+10FFFF, no truncated sequence.
 *
 * Repair rule (text_utf8_repair): every *maximal subpart* of an ill-formed
 * sequence is replaced by one U+FFFD REPLACEMENT CHARACTER (EF BF BD). This is
 * the Unicode Standard's recommended practice (ch. 3, "U+FFFD Substitution of
 * Maximal Subparts") and what the WHATWG decoder does: a maximal subpart is the
 * longest prefix of a well-formed sequence that the bytes start, or a single
 * byte that cannot start or continue one. Example: "\xe2??" (a 3-byte lead
 * followed by ASCII) becomes U+FFFD "??"; "\xf0\x9f\x98" at end of input is
 * one U+FFFD; "\xc0\xaf" (overlong) is two. NUL bytes are valid and kept.
 * Valid input is copied unchanged, so repair is idempotent.
 *
 * All functions are pure and thread-safe; none allocates.
 */
#ifndef TEXT_UTF8_H
#define TEXT_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* U+FFFD as UTF-8. */
#define TEXT_UTF8_REPLACEMENT "\xef\xbf\xbd"

/* True if s[0..len) is well-formed UTF-8. s may be NULL when len is 0. */
bool text_utf8_valid(const char *s, size_t len);

/*
 * Decode one code point at s[0..len) (len >= 1). Returns the number of bytes
 * consumed (1..4) and stores the code point in *cp. On an ill-formed sequence
 * stores -1 in *cp and returns the length of its maximal subpart (>= 1), so a
 * loop `while (i < len) i += text_utf8_decode(s + i, len - i, &cp);` always
 * advances and never reads past len.
 */
size_t text_utf8_decode(const char *s, size_t len, int32_t *cp);

/* Encode cp (<= 0x10FFFF, not a surrogate) into out[4]; returns 1..4, 0 if invalid. */
size_t text_utf8_encode(uint32_t cp, char out[4]);

/*
 * Bytes needed to repair s[0..len) by the rule above (at most 3 * len).
 */
size_t text_utf8_repair_len(const char *s, size_t len);

/*
 * Repair s[0..len) into out[0..cap). Returns the number of bytes written, or
 * (size_t)-1 if cap is too small (nothing beyond cap is written). out must not
 * overlap s. cap >= text_utf8_repair_len(s, len) always suffices. out is not
 * NUL-terminated.
 */
size_t text_utf8_repair(const char *s, size_t len, char *out, size_t cap);

#endif
