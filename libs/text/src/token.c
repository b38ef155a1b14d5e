/*
 * token.c - the typed tokeniser described in text/token.h: words, numbers,
 * URLs, e-mail addresses, hashtags, mentions and emoji with byte offsets.
 */
#include "text/token.h"

#include <string.h>
#include <strings.h>

#include "ascii.h"
#include "text/utf8.h"

enum cls { C_SEP, C_ALPHA, C_DIGIT, C_ULETTER, C_EMOJI };

static bool is_emoji_cp(int32_t cp)
{
	return (cp >= 0x1F000 && cp <= 0x1FAFF) || (cp >= 0x2600 && cp <= 0x27BF) ||
	       (cp >= 0x2300 && cp <= 0x23FF) || (cp >= 0x2B00 && cp <= 0x2BFF) ||
	       cp == 0x3030 || cp == 0x303D || cp == 0x3297 || cp == 0x3299;
}

/* Code points that never belong to a word (punctuation, symbols, U+FFFD). */
static bool is_nonword_cp(int32_t cp)
{
	return cp < 0 || (cp >= 0x80 && cp <= 0xBF) || cp == 0xD7 || cp == 0xF7 ||
	       (cp >= 0x2000 && cp <= 0x2BFF) || (cp >= 0x3000 && cp <= 0x303F) ||
	       (cp >= 0xFE00 && cp <= 0xFE0F) || (cp >= 0xFFF0 && cp <= 0xFFFF) ||
	       (cp >= 0x1F000 && cp <= 0x1FAFF) || (cp >= 0xE0000);
}

/* ASCII bytes: class, and which may appear in e-mail local parts/domains. */
#define A_EMAIL 0x8u /* [a-z0-9._%+-] */
static const uint8_t ascii[256] = { /* bytes >= 0x80 stay 0 */
	['0' ... '9'] = C_DIGIT | A_EMAIL, ['a' ... 'z'] = C_ALPHA | A_EMAIL,
	['A' ... 'Z'] = C_ALPHA | A_EMAIL, ['.'] = A_EMAIL, ['_'] = A_EMAIL,
	['%'] = A_EMAIL, ['+'] = A_EMAIL, ['-'] = A_EMAIL,
};

static enum cls classify_utf8(const char *s, size_t len, size_t i, size_t *k)
{
	int32_t cp;

	*k = text_utf8_decode(s + i, len - i, &cp);
	if (is_emoji_cp(cp))
		return C_EMOJI;
	return is_nonword_cp(cp) ? C_SEP : C_ULETTER;
}

static inline enum cls classify(const char *s, size_t len, size_t i, size_t *k)
{
	unsigned char c = (unsigned char)s[i];

	if (c < 0x80) {
		*k = 1;
		return (enum cls)(ascii[c] & 0x7u);
	}
	return classify_utf8(s, len, i, k);
}

static inline bool is_wordc(enum cls c)
{
	return c == C_ALPHA || c == C_DIGIT || c == C_ULETTER;
}

static inline bool ascii_alnum(char c)
{
	return (unsigned char)c < 0x80 && (ascii[(unsigned char)c] & 0x7u) != C_SEP;
}

/* True if an e-mail address or a bare domain may start at i: the run of
 * [a-z0-9._%+-] from i reaches an '@' or holds a '.'. Both scanners need
 * that, so this skips them for ordinary words without changing any result. */
static bool maybe_address(const char *s, size_t len, size_t i)
{
	for (size_t j = i; j < len; j++) {
		unsigned char c = (unsigned char)s[j];
		if (c >= 0x80 || !(ascii[c] & A_EMAIL))
			return c == '@';
		if (c == '.')
			return true;
	}
	return false;
}

void text_tokenizer_init(struct text_tokenizer *tk, const char *s, size_t len,
			 const uint32_t *map)
{
	tk->s = s;
	tk->len = s ? len : 0;
	tk->pos = 0;
	tk->map = map;
}

const char *text_token_type_name(enum text_token_type type)
{
	static const char *const names[] = {"?",       "word",	  "number", "url",
					    "email",   "hashtag", "mention", "emoji"};
	return (unsigned)type < sizeof(names) / sizeof(names[0]) ? names[type] : "?";
}

static inline bool prefix_ci(const char *s, size_t len, size_t i, const char *p)
{
	/* p is lower case; only letters compare case-insensitively */
	for (; *p; p++, i++) {
		char c = i < len ? s[i] : 0;
		if (c != *p && !(*p >= 'a' && *p <= 'z' && (c | 0x20) == *p))
			return false;
	}
	return true;
}

static size_t trim_url_tail(const char *s, size_t start, size_t end)
{
	while (end > start && strchr(".,;:!?)]}'\"", s[end - 1]))
		end--;
	return end;
}

/* End of a URL starting at i (prefix already checked). */
static size_t scan_url_rest(const char *s, size_t len, size_t i)
{
	size_t j = i;
	while (j < len && (unsigned char)s[j] > ' ' && !strchr("<>\"", s[j]) &&
	       (unsigned char)s[j] != 0x7F)
		j++;
	return trim_url_tail(s, i, j);
}

static bool is_tld(const char *s, size_t len)
{
	static const char *const tlds[] = {"com", "id", "net", "org", "co", "go", "ac",
					   "info", "io", "ly", "me", "tv", "biz", "sch",
					   "news", "xyz", "gov", "edu", "my", "web"};
	for (size_t i = 0; i < sizeof(tlds) / sizeof(tlds[0]); i++)
		if (strlen(tlds[i]) == len && strncasecmp(s, tlds[i], len) == 0)
			return true;
	return false;
}

/*
 * Domain [a-z0-9-]+(.[a-z0-9-]+)+ at i whose last label is a TLD; returns its
 * end or 0.
 */
static size_t scan_domain(const char *s, size_t len, size_t i, bool need_tld)
{
	size_t j = i, labels = 0, last = i, end = 0;

	for (;;) {
		size_t l0 = j;
		while (j < len && (ascii_alnum(s[j]) || s[j] == '-'))
			j++;
		if (j == l0)
			break;
		labels++;
		last = l0;
		end = j;
		if (j + 1 < len && s[j] == '.' && ascii_alnum(s[j + 1]))
			j++;
		else
			break;
	}
	if (labels < 2 || (need_tld && !is_tld(s + last, end - last)))
		return 0;
	return end;
}

static size_t scan_email(const char *s, size_t len, size_t i)
{
	size_t j = i;

	while (j < len && (ascii_alnum(s[j]) || strchr("._%+-", s[j])) && s[j])
		j++;
	if (j == i || j >= len || s[j] != '@' || !ascii_alnum(s[j - 1]))
		return 0;
	return scan_domain(s, len, j + 1, false);
}

/* Emoji cluster starting at i (an emoji of k bytes). */
static size_t scan_emoji(const char *s, size_t len, size_t i, size_t k)
{
	int32_t cp, first;
	size_t j = i + k;

	text_utf8_decode(s + i, len - i, &first);
	if (first >= 0x1F1E6 && first <= 0x1F1FF && j < len) {
		size_t m = text_utf8_decode(s + j, len - j, &cp);
		if (cp >= 0x1F1E6 && cp <= 0x1F1FF)
			j += m;
	}
	while (j < len) {
		size_t m = text_utf8_decode(s + j, len - j, &cp);
		if (cp == 0xFE0F || cp == 0x20E3 || (cp >= 0x1F3FB && cp <= 0x1F3FF)) {
			j += m;
		} else if (cp == 0x200D && j + m < len) {
			int32_t nx;
			size_t m2 = text_utf8_decode(s + j + m, len - j - m, &nx);
			if (!is_emoji_cp(nx))
				break;
			j += m + m2;
		} else {
			break;
		}
	}
	return j;
}

/* Word at i; sets *has_alpha. '-' and '\'' join, '*' next to a letter counts. */
static size_t scan_word(const char *s, size_t len, size_t i, bool *has_alpha)
{
	size_t j = i, k;
	bool alpha = false;

	for (;;) {
		if (j >= len)
			break;
		enum cls c = classify(s, len, j, &k);
		if (is_wordc(c)) {
			alpha |= c != C_DIGIT;
			j += k;
			continue;
		}
		if (s[j] == '*') {
			bool prev_alpha = j > i && (s[j - 1] == '*' || ((s[j - 1] | 0x20) >= 'a' &&
									(s[j - 1] | 0x20) <= 'z'));
			bool next_alpha = j + 1 < len && (s[j + 1] | 0x20) >= 'a' &&
					  (s[j + 1] | 0x20) <= 'z';
			if (prev_alpha || next_alpha) {
				j++;
				continue;
			}
			break;
		}
		if ((s[j] == '-' || s[j] == '\'') && j > i && j + 1 < len) {
			enum cls n = classify(s, len, j + 1, &k);
			if (is_wordc(n) || s[j + 1] == '*') {
				j++;
				continue;
			}
		}
		break;
	}
	*has_alpha = alpha;
	return j;
}

static size_t scan_number(const char *s, size_t len, size_t i)
{
	size_t j = i;

	while (j < len) {
		if (s[j] >= '0' && s[j] <= '9')
			j++;
		else if ((s[j] == '.' || s[j] == ',') && j + 1 < len && s[j + 1] >= '0' &&
			 s[j + 1] <= '9')
			j++;
		else
			break;
	}
	return j;
}

static size_t scan_tag(const char *s, size_t len, size_t i, bool mention)
{
	size_t j = i, k;
	bool alpha = false;

	while (j < len) {
		enum cls c = classify(s, len, j, &k);
		if (mention && c == C_ULETTER)
			break;
		if (is_wordc(c) || s[j] == '_' ||
		    (mention && s[j] == '.' && j + 1 < len && ascii_alnum(s[j + 1]))) {
			alpha |= c == C_ALPHA || c == C_ULETTER;
			j += k;
			continue;
		}
		break;
	}
	return (alpha || mention) ? j : i;
}

/*
 * The common case, in one pass: an ASCII letter at i starting a run of ASCII
 * letters and digits that ends in a byte no other rule looks at. Returns the
 * end of that word, or i when the general scan_token() must decide (a URL
 * prefix, or a run ending in one of . _ % + - @ * ' or non-ASCII).
 */
static inline size_t scan_plain_word(const char *s, size_t len, size_t i)
{
	size_t j = i + 1;
	unsigned char c;

	if (((s[i] | 0x20) == 'h' || (s[i] | 0x20) == 'w') &&
	    (prefix_ci(s, len, i, "http://") || prefix_ci(s, len, i, "https://") ||
	     prefix_ci(s, len, i, "www.")))
		return i;
	j += ascii_alnum_run(s + j, len - j);
	if (j == len)
		return j;
	c = (unsigned char)s[j];
	if (c >= 0x80 || (ascii[c] & A_EMAIL) || c == '@' || c == '*' || c == '\'')
		return i;
	return j;
}

/* Classify the token starting at i; returns its end (> i) or i if none. */
static size_t scan_token(const char *s, size_t len, size_t i, enum text_token_type *type)
{
	size_t k, e;
	bool alpha;
	enum cls c = classify(s, len, i, &k);

	if (c == C_EMOJI) {
		*type = TEXT_TOK_EMOJI;
		return scan_emoji(s, len, i, k);
	}
	if (s[i] == '#' || s[i] == '@') {
		e = scan_tag(s, len, i + 1, s[i] == '@');
		*type = s[i] == '#' ? TEXT_TOK_HASHTAG : TEXT_TOK_MENTION;
		return e > i + 1 ? e : i;
	}
	if (((s[i] | 0x20) == 'h' || (s[i] | 0x20) == 'w') &&
	    (prefix_ci(s, len, i, "http://") || prefix_ci(s, len, i, "https://") ||
	     prefix_ci(s, len, i, "www."))) {
		*type = TEXT_TOK_URL;
		return scan_url_rest(s, len, i);
	}
	if ((c == C_ALPHA || c == C_DIGIT) && maybe_address(s, len, i)) {
		if ((e = scan_email(s, len, i)) > 0) {
			*type = TEXT_TOK_EMAIL;
			return e;
		}
		if ((e = scan_domain(s, len, i, true)) > 0) {
			*type = TEXT_TOK_URL;
			return e < len && s[e] == '/' ? scan_url_rest(s, len, i) : e;
		}
	}
	if (c == C_DIGIT) {
		e = scan_number(s, len, i);
		if (e >= len || !is_wordc(classify(s, len, e, &k))) {
			*type = TEXT_TOK_NUMBER;
			return e;
		}
	}
	if (is_wordc(c) || s[i] == '*') {
		e = scan_word(s, len, i, &alpha);
		*type = alpha ? TEXT_TOK_WORD : TEXT_TOK_NUMBER;
		if (!alpha && s[i] == '*')
			return i;
		return e;
	}
	return i;
}

bool text_tokenizer_next(struct text_tokenizer *tk, struct text_token *tok)
{
	const char *s = tk->s;
	size_t len = tk->len, i = tk->pos, k, e;
	enum text_token_type type = TEXT_TOK_WORD;

	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x80 && (ascii[c] & 0x7u) == C_SEP && c != '#' && c != '@' && c != '*') {
			i++; /* ASCII that starts no token: space, punctuation */
			continue;
		}
		e = c < 0x80 && (ascii[c] & 0x7u) == C_ALPHA ? scan_plain_word(s, len, i) : i;
		if (e > i)
			type = TEXT_TOK_WORD;
		else
			e = scan_token(s, len, i, &type);
		if (e > i) {
			tok->type = type;
			tok->start = (uint32_t)i;
			tok->len = (uint32_t)(e - i);
			tok->orig_start = tk->map ? tk->map[i] : (uint32_t)i;
			tok->orig_end = tk->map ? tk->map[e] : (uint32_t)e;
			if (tok->orig_end < tok->orig_start)
				tok->orig_end = tok->orig_start;
			tk->pos = e;
			return true;
		}
		/* not a token start: skip this one character */
		classify(s, len, i, &k);
		i += k;
	}
	tk->pos = len;
	return false;
}
