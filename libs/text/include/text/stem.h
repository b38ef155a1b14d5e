/*
 * text/stem.h - dictionary-based Indonesian stemmer.
 *
 * Knowledge of roots comes from Debian's hunspell-id dictionary
 * (/usr/share/hunspell/id_ID.dic, ~31k entries; entries flagged NEEDAFFIX
 * are not roots). Two modes:
 *
 *  TEXT_STEM_CONFIX (default): enhanced confix stripping (Nazief-Adriani /
 *    Arifin-Asian rules) over the dictionary's roots: particles (-lah -kah
 *    -tah -pun), possessives (-ku -mu -nya), derivational suffixes (-i -kan
 *    -an), then up to three prefixes (di- ke- se- ber- ter- per- me- pe- and
 *    their nasal/recoded forms: meng-k, meny-s, mem-p, men-t, ...), checking
 *    the dictionary after each step, trying less-stripped suffix forms when
 *    the fully stripped one fails, and rejecting impossible confixes (be-i,
 *    di-an, ke-i, ke-kan, me-an, se-i, se-kan, te-an). Reduplication: "X-X"
 *    stems to X when X is a root; "X-nya/-ku/-mu/-lah/-kah/-pun" stems X;
 *    "X-Y" whose halves stem alike gives that stem. A word no rule resolves
 *    to a root keeps its spelling minus particle/possessive clitics (when at
 *    least 4 letters remain). Pure function of the read-only dictionary:
 *    lock-free, allocation-free, safe from any number of threads.
 *
 *  TEXT_STEM_HUNSPELL: libhunspell's Hunspell_stem() on the same dictionary,
 *    first result, with confix stripping as fallback when hunspell knows no
 *    stem. The hunspell handle is not thread-safe, so it sits behind a mutex;
 *    results go to a sharded, mutex-guarded cache (bounded, cleared per shard
 *    when full), so repeated words never reach hunspell again.
 *
 * Input words are expected lower-case ASCII (as produced by text_norm and the
 * word normaliser); words longer than TEXT_STEM_MAX_WORD bytes or with other
 * bytes are returned unchanged.
 */
#ifndef TEXT_STEM_H
#define TEXT_STEM_H

#include <stdbool.h>
#include <stddef.h>

#define TEXT_STEM_MAX_WORD 64

#define TEXT_STEM_DEFAULT_AFF "/usr/share/hunspell/id_ID.aff"
#define TEXT_STEM_DEFAULT_DIC "/usr/share/hunspell/id_ID.dic"

enum text_stem_mode {
	TEXT_STEM_CONFIX = 0,
	TEXT_STEM_HUNSPELL = 1,
};

struct text_stemmer;

/*
 * Load the dictionary (dic_path; aff_path is used by TEXT_STEM_HUNSPELL only;
 * NULL means the Debian defaults above). Returns a heap stemmer (free with
 * text_stemmer_free) or NULL with the reason in err.
 */
struct text_stemmer *text_stemmer_new(const char *aff_path, const char *dic_path,
				      enum text_stem_mode mode, char *err, size_t errlen);

/* Free; NULL is fine. No other thread may be using it. */
void text_stemmer_free(struct text_stemmer *st);

/*
 * Stem w[0..len) into out[0..cap) (not NUL-terminated unless room remains;
 * a NUL is written when the result is shorter than cap). Returns the stem's
 * length; if it would not fit, returns the input length and copies as much of
 * w as fits. Thread-safe.
 */
size_t text_stemmer_stem(const struct text_stemmer *st, const char *w, size_t len, char *out,
			 size_t cap);

/* True if w is a root (dictionary entry) of the stemmer's dictionary. */
bool text_stemmer_known(const struct text_stemmer *st, const char *w, size_t len);

/* Number of roots loaded. */
size_t text_stemmer_root_count(const struct text_stemmer *st);

#endif
