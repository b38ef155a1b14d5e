/*
 * text/lexicon.h - colloquial ("alay") normalisation and stopwords.
 *
 * A lexicon maps a colloquial word to its formal form (possibly several
 * words: "gatau" -> "tidak tahu"). It starts with the project's own starter
 * table (src/builtin_tables.c) and can load larger lexicons from CSV files in
 * either of two formats:
 *   TEXT_LEXICON_COLLOQUIAL  header line, then slang,formal,... with RFC 4180
 *                            quoting (colloquial-indonesian-lexicon.csv)
 *   TEXT_LEXICON_KAMUSALAY   no header, slang,formal (new_kamusalay.csv)
 * Keys and values are normalised with text_norm() on load; entries whose key
 * is not a single word after that are skipped; the first entry for a key wins
 * (so the starter table takes precedence over loaded files).
 *
 * Once built, a lexicon and a stopword set are read-only and may be shared by
 * any number of threads.
 */
#ifndef TEXT_LEXICON_H
#define TEXT_LEXICON_H

#include <stdbool.h>
#include <stddef.h>

#include "text/stem.h"

enum text_lexicon_format {
	TEXT_LEXICON_COLLOQUIAL = 0,
	TEXT_LEXICON_KAMUSALAY = 1,
};

struct text_lexicon;
struct text_stopwords;

/* New lexicon, with the starter table when builtin is true; NULL on ENOMEM. */
struct text_lexicon *text_lexicon_new(bool builtin);

/* Free; NULL is fine. */
void text_lexicon_free(struct text_lexicon *lx);

/* Add one pair (both normalised here). Returns 0, UTIL_EINVAL or UTIL_ENOMEM. */
__attribute__((warn_unused_result)) int text_lexicon_add(struct text_lexicon *lx, const char *slang,
							  const char *formal);

/*
 * Load pairs from a CSV file. Records longer than 64 KiB are skipped;
 * invalid UTF-8 is tolerated (normalised away). *added (optional) receives the
 * number of new keys. Returns 0, UTIL_EIO (cannot open/read) or UTIL_ENOMEM.
 */
__attribute__((warn_unused_result)) int text_lexicon_load(struct text_lexicon *lx, const char *path,
							   enum text_lexicon_format fmt,
							   size_t *added, char *err, size_t errlen);

/* Formal form of w (pointer into the lexicon, valid while it lives). */
bool text_lexicon_lookup(const struct text_lexicon *lx, const char *w, size_t len,
			 const char **formal, size_t *flen);

size_t text_lexicon_count(const struct text_lexicon *lx);

/*
 * Colloquial normalisation of one lower-case word token into out[0..cap):
 *  1. lexicon lookup ("yg" -> "yang");
 *  2. reduplication: "anak-anak" and "anak2" -> "anak"; letters split by
 *     hyphens ("s-l-o-t") are joined; a '2' after letters inside a word is
 *     dropped ("kata2nya" -> "katanya");
 *  3. digits for letters when the word has letters: a single digit between
 *     letters, and a final single digit when another digit in the word was
 *     already replaced (0->o 1->i 3->e 4->a 5->s 6->g 7->t 8->b 9->g):
 *     "g4c0r" -> "gacor", "s4y4" -> "saya", but "covid19" stays;
 *  4. repeated letters: runs of 3 or more collapse to one letter, or to two
 *     when only the doubled form is a known word ("bangeeet" -> "banget",
 *     "maaaaf" -> "maaf" with a dictionary);
 *  5. lexicon lookup again on the result ("gaaak" -> "gak" -> "tidak").
 * dict (optional) supplies "known word" checks for step 4. The result may
 * contain spaces (multi-word formal forms). Returns its length; if it does not
 * fit in cap, the word is copied unchanged (truncated to cap).
 * Thread-safe, allocation-free.
 */
size_t text_word_normalize(const struct text_lexicon *lx, const struct text_stemmer *dict,
			   const char *w, size_t len, char *out, size_t cap);

/*
 * Stopwords: path NULL gives the shipped list; otherwise one word per line
 * from the file (normalised; '#' starts a comment line) replaces it.
 * NULL on error, with the reason in err.
 */
struct text_stopwords *text_stopwords_new(const char *path, char *err, size_t errlen);
void text_stopwords_free(struct text_stopwords *sw);
bool text_stopwords_contains(const struct text_stopwords *sw, const char *w, size_t len);
size_t text_stopwords_count(const struct text_stopwords *sw);

#endif
