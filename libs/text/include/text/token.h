/*
 * text/token.h - typed tokeniser for (normalised) Indonesian text.
 *
 * Token types and what they match (ASCII is compared case-insensitively):
 *   WORD     letters (ASCII or any non-ASCII letter-like code point) and digits,
 *            joined by single internal '-' or '\'' ("anak-anak", "jum'at"); a
 *            '*' touching a letter counts as a letter ("j*d*", "anj*ng")
 *   NUMBER   digits with internal '.' or ',' between digits ("1.250.000", "3,5")
 *   URL      "http://", "https://" or "www." up to a space or <>", or a bare
 *            domain whose last label is a common TLD ("detik.com", "kominfo.go.id")
 *            with an optional /path; trailing .,;:!?)]}'" are not part of it
 *   EMAIL    local@domain.tld
 *   HASHTAG  '#' followed by word characters or '_' (at least one letter)
 *   MENTION  '@' followed by [a-z0-9_] and internal '.'
 *   EMOJI    one emoji cluster (with variation selectors, skin tones, ZWJ
 *            sequences, flag pairs, keycaps)
 * Everything else (punctuation, symbols, spaces, U+FFFD) separates tokens.
 *
 * The tokeniser is an iterator over caller-owned text: no allocation, and the
 * text (and map) must outlive it. Safe on any bytes, including invalid UTF-8.
 */
#ifndef TEXT_TOKEN_H
#define TEXT_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum text_token_type {
	TEXT_TOK_WORD = 1,
	TEXT_TOK_NUMBER,
	TEXT_TOK_URL,
	TEXT_TOK_EMAIL,
	TEXT_TOK_HASHTAG,
	TEXT_TOK_MENTION,
	TEXT_TOK_EMOJI,
};

struct text_token {
	enum text_token_type type;
	uint32_t start, len;	       /* bytes in the tokenised text */
	uint32_t orig_start, orig_end; /* bytes in the original text (see map) */
};

struct text_tokenizer {
	const char *s;
	size_t len, pos;
	const uint32_t *map;
};

/*
 * Start tokenising s[0..len). map is the offset map from text_norm() (len + 1
 * entries) or NULL when s is itself the original text; then orig_* equal the
 * token's own offsets. len must be below UINT32_MAX.
 */
void text_tokenizer_init(struct text_tokenizer *tk, const char *s, size_t len,
			 const uint32_t *map);

/* Next token into *tok; false at the end. */
bool text_tokenizer_next(struct text_tokenizer *tk, struct text_token *tok);

/* "word", "number", "url", "email", "hashtag", "mention", "emoji"; never NULL. */
const char *text_token_type_name(enum text_token_type type);

#endif
