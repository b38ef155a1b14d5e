/*
 * stem.c - Indonesian stemmer over the hunspell-id dictionary: loading the
 * roots, enhanced confix stripping, and the optional libhunspell mode with
 * its lock and cache. The rules are summarised in text/stem.h.
 */
#include "text/stem.h"

#include <hunspell.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stamp.h"
#include "strtab.h"
#include "util/err.h"

#define MAXW TEXT_STEM_MAX_WORD
#define CACHE_SHARDS 16
#define CACHE_SHARD_MAX 32768

struct stem_cache_shard {
	pthread_mutex_t mu;
	struct strtab map; /* word -> arena offset of the stem */
};

struct text_stemmer {
	enum text_stem_mode mode;
	struct strtab roots;
	Hunhandle *hun;
	pthread_mutex_t hun_mu;
	struct stem_cache_shard cache[CACHE_SHARDS];
};

enum pfx { P_NONE, P_DI, P_KE, P_SE, P_BE, P_TE, P_ME, P_PE };
enum sfx { S_NONE, S_I, S_KAN, S_AN };

struct word {
	char s[MAXW + 1];
	size_t n;
};

static bool known(const struct text_stemmer *st, const char *s, size_t n)
{
	return n >= 2 && strtab_get(&st->roots, s, n, NULL);
}

static bool is_vowel(char c)
{
	return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

static bool ends(const char *s, size_t n, const char *suf)
{
	size_t k = strlen(suf);
	return n > k && memcmp(s + n - k, suf, k) == 0;
}

static bool starts(const char *s, size_t n, const char *pre)
{
	size_t k = strlen(pre);
	return n > k && memcmp(s, pre, k) == 0;
}

/* ---- dictionary loading -------------------------------------------------- */

static bool has_flag(const char *flags, const char *f)
{
	/* FLAG long: flags are two characters each */
	for (size_t i = 0; flags[i] && flags[i + 1]; i += 2)
		if (flags[i] == f[0] && flags[i + 1] == f[1])
			return true;
	return false;
}

static int add_root_line(struct text_stemmer *st, char *line)
{
	char *slash = strchr(line, '/');
	size_t n;

	line[strcspn(line, "\r\n\t ")] = '\0';
	if (slash) {
		*slash = '\0';
		if (has_flag(slash + 1, "A2"))
			return 0;
	}
	n = strlen(line);
	if (n == 0 || n > MAXW)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c >= 'A' && c <= 'Z')
			line[i] = (char)(c + 32);
		else if (!((c >= 'a' && c <= 'z') || c == '-'))
			return 0; /* not a plain ASCII word: cannot match folded input */
	}
	return strtab_put(&st->roots, line, n, 0, false);
}

static int load_dic(struct text_stemmer *st, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[512];
	int rc = 0;
	bool first = true;

	if (!f)
		return util_err_set(err, errlen, UTIL_EIO, "cannot open dictionary '%s'", path);
	while (fgets(line, sizeof(line), f)) {
		if (first) { /* the first line is the entry count */
			first = false;
			continue;
		}
		rc = add_root_line(st, line);
		if (rc) {
			util_err_set(err, errlen, rc, "out of memory loading '%s'", path);
			break;
		}
	}
	if (!rc && st->roots.count == 0)
		rc = util_err_set(err, errlen, UTIL_EINVAL, "no roots in dictionary '%s'", path);
	fclose(f);
	return rc;
}

struct text_stemmer *text_stemmer_new(const char *aff_path, const char *dic_path,
				      enum text_stem_mode mode, char *err, size_t errlen)
{
	struct text_stemmer *st = calloc(1, sizeof(*st));

	if (!st) {
		util_err_set(err, errlen, UTIL_ENOMEM, "out of memory");
		return NULL;
	}
	aff_path = aff_path ? aff_path : TEXT_STEM_DEFAULT_AFF;
	dic_path = dic_path ? dic_path : TEXT_STEM_DEFAULT_DIC;
	st->mode = mode;
	strtab_init(&st->roots);
	pthread_mutex_init(&st->hun_mu, NULL);
	for (int i = 0; i < CACHE_SHARDS; i++) {
		pthread_mutex_init(&st->cache[i].mu, NULL);
		strtab_init(&st->cache[i].map);
	}
	if (load_dic(st, dic_path, err, errlen) != 0)
		goto fail;
	if (mode == TEXT_STEM_HUNSPELL) {
		st->hun = Hunspell_create(aff_path, dic_path);
		if (!st->hun) {
			util_err_set(err, errlen, UTIL_EIO, "hunspell cannot load '%s'", aff_path);
			goto fail;
		}
	}
	return st;
fail:
	text_stemmer_free(st);
	return NULL;
}

void text_stemmer_free(struct text_stemmer *st)
{
	if (!st)
		return;
	if (st->hun)
		Hunspell_destroy(st->hun);
	for (int i = 0; i < CACHE_SHARDS; i++) {
		strtab_release(&st->cache[i].map);
		pthread_mutex_destroy(&st->cache[i].mu);
	}
	pthread_mutex_destroy(&st->hun_mu);
	strtab_release(&st->roots);
	free(st);
}

bool text_stemmer_known(const struct text_stemmer *st, const char *w, size_t len)
{
	return st && len <= MAXW && known(st, w, len);
}

uint64_t text_stemmer_stamp(const struct text_stemmer *st)
{
	return st ? st->roots.stamp : 0;
}

size_t text_stemmer_root_count(const struct text_stemmer *st)
{
	return st ? st->roots.count : 0;
}

/* ---- confix stripping ---------------------------------------------------- */

struct cand {
	enum pfx type;
	char lead[3]; /* recoded first letters ("k", "ny", "p", ...) */
	size_t skip;  /* prefix bytes removed */
};

static size_t add(struct cand *c, size_t n, enum pfx t, size_t skip, const char *lead)
{
	c[n].type = t;
	c[n].skip = skip;
	snprintf(c[n].lead, sizeof(c[n].lead), "%s", lead);
	return n + 1;
}

/* me- and pe- share their nasal rules: meng-/peng-, meny-/peny-, ... */
static size_t nasal_cands(const char *s, size_t n, enum pfx t, struct cand *c, size_t k)
{
	char v4 = n > 4 ? s[4] : 0, v3 = n > 3 ? s[3] : 0;

	if (starts(s, n, t == P_ME ? "meng" : "peng")) {
		if (starts(s + 4, n - 4, "e"))
			k = add(c, k, t, 5, "");
		k = add(c, k, t, 4, "");
		if (is_vowel(v4))
			k = add(c, k, t, 4, "k");
	} else if (starts(s, n, t == P_ME ? "meny" : "peny")) {
		k = add(c, k, t, 2, "");
		if (is_vowel(v4))
			k = add(c, k, t, 4, "s");
	} else if (starts(s, n, t == P_ME ? "mem" : "pem")) {
		if (is_vowel(v3)) {
			k = add(c, k, t, 2, "");
			k = add(c, k, t, 3, "p");
		} else {
			k = add(c, k, t, 3, "");
		}
	} else if (starts(s, n, t == P_ME ? "men" : "pen")) {
		if (is_vowel(v3)) {
			k = add(c, k, t, 2, "");
			k = add(c, k, t, 3, "t");
		} else {
			k = add(c, k, t, 3, "");
		}
	} else if (n > 2 && strchr("lrwym", s[2])) {
		k = add(c, k, t, 2, "");
	}
	return k;
}

/* All prefix removals that apply to s, in rule order. */
static size_t prefix_cands(const char *s, size_t n, struct cand *c)
{
	size_t k = 0;

	if (starts(s, n, "di"))
		k = add(c, k, P_DI, 2, "");
	else if (starts(s, n, "ke"))
		k = add(c, k, P_KE, 2, "");
	else if (starts(s, n, "se"))
		k = add(c, k, P_SE, 2, "");
	else if (starts(s, n, "belajar"))
		k = add(c, k, P_BE, 3, "");
	else if (starts(s, n, "ber")) {
		k = add(c, k, P_BE, 3, "");
		k = add(c, k, P_BE, 2, "");
	} else if (starts(s, n, "be"))
		k = add(c, k, P_BE, 2, "");
	else if (starts(s, n, "ter")) {
		k = add(c, k, P_TE, 3, "");
		k = add(c, k, P_TE, 2, "");
	} else if (starts(s, n, "me"))
		k = nasal_cands(s, n, P_ME, c, k);
	else if (starts(s, n, "pelajar"))
		k = add(c, k, P_PE, 3, "");
	else if (starts(s, n, "per")) {
		k = add(c, k, P_PE, 3, "");
		k = add(c, k, P_PE, 2, "");
	} else if (starts(s, n, "pe")) {
		size_t k0 = k;
		k = nasal_cands(s, n, P_PE, c, k);
		if (k == k0)
			k = add(c, k, P_PE, 2, "");
	}
	return k;
}

static bool invalid_confix(enum pfx p, enum sfx s)
{
	return (p == P_BE && s == S_I) || (p == P_DI && s == S_AN) || (p == P_KE && s == S_I) ||
	       (p == P_KE && s == S_KAN) || (p == P_ME && s == S_AN) || (p == P_SE && s == S_I) ||
	       (p == P_SE && s == S_KAN) || (p == P_TE && s == S_AN);
}

/* Build the candidate's remainder into out; false if it does not fit or is too short. */
static bool apply(const char *s, size_t n, const struct cand *c, struct word *out)
{
	size_t ll = strlen(c->lead);

	if (c->skip >= n || n - c->skip + ll > MAXW)
		return false;
	memcpy(out->s, c->lead, ll);
	memcpy(out->s + ll, s + c->skip, n - c->skip);
	out->n = ll + n - c->skip;
	return out->n >= 3;
}

/* Breadth-first prefix removal (max 3 prefixes); the root found goes to *res. */
static bool strip_prefixes(const struct text_stemmer *st, const char *s, size_t n, int depth,
			   enum pfx prev, enum sfx sfx, struct word *res)
{
	struct cand c[8];
	struct word w[8];
	size_t k = prefix_cands(s, n, c);
	bool ok[8];

	for (size_t i = 0; i < k; i++) {
		ok[i] = c[i].type != prev && !(depth == 0 && invalid_confix(c[i].type, sfx)) &&
			apply(s, n, &c[i], &w[i]);
		if (ok[i] && known(st, w[i].s, w[i].n)) {
			*res = w[i];
			return true;
		}
	}
	if (depth >= 2)
		return false;
	for (size_t i = 0; i < k; i++)
		if (ok[i] && strip_prefixes(st, w[i].s, w[i].n, depth + 1, c[i].type, sfx, res))
			return true;
	return false;
}

struct sform {
	size_t n;
	enum sfx sfx;
};

/*
 * Suffix forms of s from least to most stripped: s, -particle, -possessive,
 * then each derivational option. Returns how many; forms[0] is s itself.
 */
static size_t suffix_forms(const char *s, size_t n, struct sform *f, size_t *inflected)
{
	static const char *const particles[] = {"lah", "kah", "tah", "pun"};
	static const char *const possessives[] = {"nya", "ku", "mu"};
	size_t k = 0, m = n;

	f[k++] = (struct sform){n, S_NONE};
	for (size_t i = 0; i < 4; i++)
		if (ends(s, m, particles[i]) && m - 3 >= 3) {
			m -= 3;
			f[k++] = (struct sform){m, S_NONE};
			break;
		}
	for (size_t i = 0; i < 3; i++) {
		size_t l = strlen(possessives[i]);
		if (ends(s, m, possessives[i]) && m - l >= 3) {
			m -= l;
			f[k++] = (struct sform){m, S_NONE};
			break;
		}
	}
	*inflected = m;
	if (ends(s, m, "kan") && m - 3 >= 3)
		f[k++] = (struct sform){m - 3, S_KAN};
	if (ends(s, m, "an") && m - 2 >= 3)
		f[k++] = (struct sform){m - 2, S_AN};
	else if (ends(s, m, "i") && m - 1 >= 3)
		f[k++] = (struct sform){m - 1, S_I};
	return k;
}

static size_t confix(const struct text_stemmer *st, const char *s, size_t n, struct word *res);

/* Hyphenated words: reduplication and clitics. */
static size_t hyphen(const struct text_stemmer *st, const char *s, size_t n, struct word *res)
{
	const char *h = memchr(s, '-', n);
	size_t a = (size_t)(h - s), b = n - a - 1;
	struct word x, y;
	static const char *const clitics[] = {"nya", "ku", "mu", "lah", "kah", "pun"};

	if (a == 0 || b == 0)
		return 0;
	if (a == b && memcmp(s, h + 1, a) == 0 && known(st, s, a)) {
		memcpy(res->s, s, a);
		return res->n = a;
	}
	for (size_t i = 0; i < 6; i++)
		if (strlen(clitics[i]) == b && memcmp(h + 1, clitics[i], b) == 0)
			return confix(st, s, a, res) ? res->n : 0;
	if (!confix(st, s, a, &x) || !confix(st, h + 1, b, &y))
		return 0;
	if (x.n == y.n && memcmp(x.s, y.s, x.n) == 0 && known(st, x.s, x.n)) {
		*res = x;
		return res->n;
	}
	return 0;
}

/* Confix stripping proper; returns the root length (into *res) or 0 if none. */
static size_t confix(const struct text_stemmer *st, const char *s, size_t n, struct word *res)
{
	struct sform f[6];
	size_t k, inflected;

	if (n > MAXW)
		return 0;
	if (memchr(s, '-', n) && hyphen(st, s, n, res))
		return res->n;
	if (known(st, s, n) || n <= 3) {
		memcpy(res->s, s, n);
		return res->n = n;
	}
	k = suffix_forms(s, n, f, &inflected);
	for (size_t i = 1; i < k; i++)
		if (known(st, s, f[i].n)) {
			memcpy(res->s, s, f[i].n);
			return res->n = f[i].n;
		}
	/* prefixes on the most stripped form first, then give suffixes back */
	for (size_t i = k; i-- > 0;)
		if (strip_prefixes(st, s, f[i].n, 0, P_NONE, f[i].sfx, res))
			return res->n;
	(void)inflected;
	return 0;
}

static size_t copy_out(const char *s, size_t n, char *out, size_t cap)
{
	size_t m = n < cap ? n : cap;

	if (m)
		memcpy(out, s, m);
	if (m < cap)
		out[m] = '\0';
	return n;
}

static bool plain_word(const char *w, size_t len)
{
	if (len == 0 || len > MAXW)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((w[i] >= 'a' && w[i] <= 'z') || w[i] == '-'))
			return false;
	return true;
}

static size_t confix_or_fallback(const struct text_stemmer *st, const char *w, size_t len,
				 struct word *res)
{
	struct sform f[6];
	size_t inflected;

	if (confix(st, w, len, res))
		return res->n;
	/* unknown word: drop clitics only, keeping at least 4 letters */
	suffix_forms(w, len, f, &inflected);
	res->n = inflected >= 4 ? inflected : len;
	memcpy(res->s, w, res->n);
	return res->n;
}

/* ---- hunspell mode -------------------------------------------------------- */

static size_t hunspell_stem(const struct text_stemmer *st, const char *w, size_t len,
			    struct word *res)
{
	struct stem_cache_shard *sh =
		(struct stem_cache_shard *)&st->cache[strtab_hash(w, len) % CACHE_SHARDS];
	char word[MAXW + 1], **list = NULL;
	uint32_t off;
	int n;

	pthread_mutex_lock(&sh->mu);
	if (strtab_get(&sh->map, w, len, &off)) {
		const char *p = strtab_at(&sh->map, off);
		res->n = strlen(p);
		memcpy(res->s, p, res->n);
		pthread_mutex_unlock(&sh->mu);
		return res->n;
	}
	pthread_mutex_unlock(&sh->mu);

	memcpy(word, w, len);
	word[len] = '\0';
	pthread_mutex_lock((pthread_mutex_t *)&st->hun_mu);
	n = Hunspell_stem(st->hun, &list, word);
	if (n > 0 && plain_word(list[0], strlen(list[0]))) {
		res->n = strlen(list[0]);
		memcpy(res->s, list[0], res->n);
	} else {
		n = 0;
	}
	Hunspell_free_list(st->hun, &list, n > 0 ? n : 0);
	pthread_mutex_unlock((pthread_mutex_t *)&st->hun_mu);
	if (n <= 0)
		confix_or_fallback(st, w, len, res);

	pthread_mutex_lock(&sh->mu);
	if (sh->map.count >= CACHE_SHARD_MAX) {
		strtab_release(&sh->map);
		strtab_init(&sh->map);
	}
	/* a failed insert only costs a later cache miss */
	if (strtab_store(&sh->map, res->s, res->n, &off) == 0)
		(void)strtab_put(&sh->map, w, len, off, false);
	pthread_mutex_unlock(&sh->mu);
	return res->n;
}

size_t text_stemmer_stem(const struct text_stemmer *st, const char *w, size_t len, char *out,
			 size_t cap)
{
	struct word res;

	if (!st || !plain_word(w, len))
		return copy_out(w, len, out, cap);
	if (st->mode == TEXT_STEM_HUNSPELL)
		hunspell_stem(st, w, len, &res);
	else
		confix_or_fallback(st, w, len, &res);
	if (res.n > cap)
		return copy_out(w, len, out, cap);
	return copy_out(res.s, res.n, out, cap);
}
