/*
 * text/norm.h - character-level normalisation of Indonesian text.
 *
 * text_norm() rewrites UTF-8 input in one pass:
 *   - case folding: ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic
 *     capitals to lower case;
 *   - accent folding: Latin letters with diacritics to their ASCII base
 *     ("é"->"e", "ñ"->"n", "ß"->"ss", "æ"->"ae"); full-width ASCII
 *     (U+FF01..FF5E) to ASCII;
 *   - punctuation: typographic quotes to ' and ", dashes and minus to -,
 *     "…" to "...", runs of the same ! ? , ; : to one, runs of . to at most 3;
 *   - whitespace: every Unicode space, line break and control character is a
 *     separator; runs collapse to one ASCII space, none at either end;
 *     soft hyphen, zero-width space/non-joiner, word joiner and BOM vanish
 *     (they are used to split words invisibly);
 *   - invalid UTF-8: each maximal invalid subpart (see text/utf8.h) is a
 *     separator, so the output is always valid UTF-8;
 *   - with TEXT_NORM_HTML: tags become separators, <script>/<style> bodies and
 *     comments are dropped, entities (&amp; &lt; &gt; &quot; &apos; &nbsp; and
 *     a few typographic ones, &#N; &#xH;) are decoded and then normalised like
 *     literal text. A '<' not followed by a letter, '/', '!' or '?', or with
 *     no closing '>' within 4096 bytes, is literal text.
 * Other code points (emoji, CJK, ...) are copied unchanged.
 *
 * Every rule maps a source sequence to output no longer than it, so the
 * output never exceeds the input: cap = len always suffices.
 *
 * Offsets: if map is non-NULL, map[i] is the byte offset in the input of the
 * source character that produced output byte i, and map[out_len] is the end of
 * the last source character that produced output. A span [s, e) of the output
 * therefore covers input bytes [map[s], map[e]) (for a span ending in the
 * middle of the output, map[e] is where the next output byte came from).
 *
 * Pure, thread-safe, allocation-free.
 */
#ifndef TEXT_NORM_H
#define TEXT_NORM_H

#include <stddef.h>
#include <stdint.h>

#define TEXT_NORM_HTML 0x1u /* strip markup and decode entities */

/*
 * Normalise in[0..len) into out[0..cap). map (optional) must hold cap + 1
 * entries. *out_len receives the output length; out is not NUL-terminated.
 * Returns 0, UTIL_EINVAL (NULL out/out_len, or in NULL with len > 0) or
 * UTIL_ETOOBIG (cap too small, or len > UINT32_MAX - 1).
 */
__attribute__((warn_unused_result)) int text_norm(const char *in, size_t len, unsigned flags,
						  char *out, uint32_t *map, size_t cap,
						  size_t *out_len);

#endif
