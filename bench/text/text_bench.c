/*
 * text_bench.c - benchmark of libs/text on the news corpus (not a test):
 * pipeline throughput (normalise + tokenise + colloquial + stem) on one core,
 * Snowball vs our stemmer over the same tokens, accuracy of both on the gold
 * list and against hunspell on news words, Aho-Corasick throughput with
 * 10,000 realistic patterns (mostly rare or absent words and phrases), and
 * SimHash distances for edited vs unrelated articles.
 * Usage: text_bench [shared-data-dir [pipeline|matcher]] ("pipeline": only the
 * pipeline, three times, for profiling; "matcher": only the matcher figures)
 */
#include <hunspell.h>
#include <libstemmer.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "text/analyze.h"
#include "text/match.h"
#include "text/simhash.h"
#include "text/stem.h"

#ifndef SIMPUL_SHARED_DATA_DEFAULT
#define SIMPUL_SHARED_DATA_DEFAULT "../shared/data"
#endif

struct doc {
	char *s;
	size_t len;
};

struct corpus {
	char *buf;
	struct doc *docs;
	size_t n, bytes;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this thread: unlike wall time, not inflated by preemption. */
static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		b = malloc((size_t)n + 1);
		if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
			free(b);
			b = NULL;
		}
		*len = (size_t)n;
	}
	fclose(f);
	return b;
}

/* Parse articles.csv in place: title (field 7) + " " + content (field 8). */
static int load_articles(const char *path, struct corpus *c)
{
	size_t len, cap = 32768, field = 0, w = 0, start = 0;
	char *b = slurp(path, &len);
	bool q = false, header = true;

	if (!b)
		return -1;
	c->buf = b;
	c->docs = malloc(cap * sizeof(*c->docs));
	for (size_t i = 0; i < len && c->docs; i++) {
		char ch = b[i];
		if (q) {
			if (ch == '"' && i + 1 < len && b[i + 1] == '"')
				i++;
			else if (ch == '"') {
				q = false;
				continue;
			}
		} else if (ch == '"') {
			q = true;
			continue;
		} else if (ch == ',' || ch == '\n') {
			if (field == 6)
				b[w++] = ' '; /* title, then content */
			field++;
			if (ch == '\n') {
				if (!header && c->n < cap)
					c->docs[c->n++] = (struct doc){b + start, w - start};
				header = false;
				field = 0;
				start = w;
			}
			continue;
		}
		if (field == 6 || field == 7)
			b[w++] = ch;
	}
	for (size_t i = 0; i < c->n; i++)
		c->bytes += c->docs[i].len;
	return c->docs ? 0 : -1;
}

struct tokens {
	char *arena;
	size_t len, cap;
	uint32_t *off;
	size_t n, ncap;
};

static void tok_add(struct tokens *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		t->arena = realloc(t->arena, t->cap);
	}
	if (t->n == t->ncap) {
		t->ncap = t->ncap ? t->ncap * 2 : 1 << 20;
		t->off = realloc(t->off, t->ncap * sizeof(*t->off));
	}
	if (!t->arena || !t->off) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	t->off[t->n++] = (uint32_t)t->len;
	memcpy(t->arena + t->len, s, n);
	t->arena[t->len + n] = '\0';
	t->len += n + 1;
}

/* Pipeline over all articles; optionally collect word tokens. */
static double run_pipeline(const struct corpus *c, const struct text_analyzer *an,
			   struct tokens *collect, size_t *nterms, double *cpu)
{
	struct text_work *wk = text_work_new(1 << 22);
	const struct text_term *t;
	size_t n;
	double t0 = now(), c0 = cpu_now();

	*nterms = 0;
	for (size_t i = 0; i < c->n; i++) {
		if (text_analyze(an, wk, c->docs[i].s, c->docs[i].len, &t, &n) != 0)
			continue;
		*nterms += n;
		for (size_t k = 0; collect && k < n; k++)
			if (t[k].type == TEXT_TOK_WORD)
				tok_add(collect, t[k].norm, t[k].norm_len);
	}
	double dt = now() - t0;
	*cpu = cpu_now() - c0;
	text_work_free(wk);
	return dt;
}

static void gold(const char *path, const struct text_stemmer *a, const struct text_stemmer *h,
		 struct sb_stemmer *sb)
{
	FILE *f = fopen(path, "r");
	char line[256], word[128] = "", o1[80] = "", o2[80] = "", o3[128] = "";
	size_t words = 0, ok[3] = {0}, okw[3] = {0};

	if (!f) {
		printf("gold list: SKIP (%s not found)\n", path);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		char *w = strtok(line, ","), *r = strtok(NULL, ",");
		if (!w || !r || strcmp(w, "word") == 0)
			continue;
		if (strcmp(w, word) != 0) {
			for (int i = 0; i < 3; i++)
				ok[i] += okw[i], okw[i] = 0;
			snprintf(word, sizeof(word), "%s", w);
			words++;
			o1[text_stemmer_stem(a, w, strlen(w), o1, 79) % 80] = '\0';
			o2[text_stemmer_stem(h, w, strlen(w), o2, 79) % 80] = '\0';
			snprintf(o3, sizeof(o3), "%s",
				 (const char *)sb_stemmer_stem(sb, (const sb_symbol *)w, (int)strlen(w)));
		}
		okw[0] |= strcmp(o1, r) == 0;
		okw[1] |= strcmp(o2, r) == 0;
		okw[2] |= strcmp(o3, r) == 0;
	}
	for (int i = 0; i < 3; i++)
		ok[i] += okw[i];
	fclose(f);
	printf("gold list %s: %zu words (lenient: any listed root)\n", path, words);
	printf("  confix %.2f%%  hunspell-mode %.2f%%  snowball %.2f%%\n",
	       100.0 * (double)ok[0] / (double)words, 100.0 * (double)ok[1] / (double)words,
	       100.0 * (double)ok[2] / (double)words);
}

static int cmp_tok(const void *x, const void *y, void *arena)
{
	return strcmp((const char *)arena + *(const uint32_t *)x,
		      (const char *)arena + *(const uint32_t *)y);
}

/* Distinct news words hunspell can stem: agreement of ours / Snowball with it. */
static void vs_hunspell(struct tokens *tk, const struct text_stemmer *st, struct sb_stemmer *sb)
{
	Hunhandle *h = Hunspell_create(TEXT_STEM_DEFAULT_AFF, TEXT_STEM_DEFAULT_DIC);
	uint32_t *u = malloc(tk->n * sizeof(*u));
	size_t nu = 0, analysed = 0, ours = 0, snow = 0;
	char out[80];

	if (!h || !u)
		return;
	memcpy(u, tk->off, tk->n * sizeof(*u));
	qsort_r(u, tk->n, sizeof(*u), cmp_tok, tk->arena);
	for (size_t i = 0; i < tk->n; i++)
		if (i == 0 || strcmp(tk->arena + u[i], tk->arena + u[i - 1]) != 0)
			u[nu++] = u[i];
	for (size_t i = 0; i < nu; i++) {
		const char *w = tk->arena + u[i];
		char **list = NULL;
		int n = Hunspell_stem(h, &list, w);
		if (n > 0) {
			analysed++;
			size_t k = text_stemmer_stem(st, w, strlen(w), out, 79);
			out[k < 80 ? k : 79] = '\0';
			const char *s = (const char *)sb_stemmer_stem(sb, (const sb_symbol *)w,
								      (int)strlen(w));
			bool a = false, b = false;
			for (int j = 0; j < n; j++) {
				a |= strcmp(list[j], out) == 0;
				b |= strcmp(list[j], s) == 0;
			}
			ours += a;
			snow += b;
		}
		Hunspell_free_list(h, &list, n > 0 ? n : 0);
	}
	printf("news words hunspell can analyse: %zu of %zu distinct; agreement with hunspell's "
	       "stem: confix %.2f%%, snowball %.2f%%\n",
	       analysed, nu, 100.0 * (double)ours / (double)analysed,
	       100.0 * (double)snow / (double)analysed);
	free(u);
	Hunspell_destroy(h);
}

/* A set of the corpus's distinct words with their counts (open addressing). */
struct wordset {
	uint32_t *slot; /* token index + 1, 0 = empty */
	uint32_t *count;
	size_t mask;
};

static uint32_t str_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static uint32_t *ws_find(struct wordset *ws, const struct tokens *tk, const char *w)
{
	for (size_t i = str_hash(w) & ws->mask;; i = (i + 1) & ws->mask)
		if (!ws->slot[i] || strcmp(tk->arena + tk->off[ws->slot[i] - 1], w) == 0)
			return &ws->slot[i];
}

static void ws_build(struct wordset *ws, const struct tokens *tk)
{
	size_t n = 1;
	while (n < tk->n / 2)
		n <<= 1;
	ws->mask = n - 1;
	ws->slot = calloc(n, sizeof(*ws->slot));
	ws->count = calloc(n, sizeof(*ws->count));
	if (!ws->slot || !ws->count) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < tk->n; i++) {
		uint32_t *sl = ws_find(ws, tk, tk->arena + tk->off[i]);
		if (!*sl)
			*sl = (uint32_t)i + 1;
		ws->count[sl - ws->slot]++;
	}
}

/* A pronounceable word made of Indonesian-like syllables. */
static void pseudo_word(char *out, uint32_t *rng)
{
	static const char *const syl[] = {"ka", "ri", "mu", "te", "so", "pa", "ng", "la", "bu", "di",
					  "ja", "wi", "ro", "se", "ha", "ny", "ta", "gu", "me", "lo"};
	size_t n = 0;
	*rng = *rng * 1103515245u + 12345u;
	int k = 3 + (int)((*rng >> 8) % 3);
	for (int i = 0; i < k; i++) {
		*rng = *rng * 1103515245u + 12345u;
		const char *s = syl[(*rng >> 10) % 20];
		out[n++] = s[0];
		out[n++] = s[1];
	}
	out[n] = '\0';
}

static bool add_pat(struct text_matcher *m, const char *p, size_t *added)
{
	char err[128];

	if (text_matcher_add(m, p, strlen(p), (uint32_t)*added, (uint32_t)*added % 8, 1.0f, 0, err,
			     sizeof(err)) != 0)
		return false;
	(*added)++;
	return true;
}

/*
 * 10,000 patterns shaped like a moderation list: 6,000 made-up words absent
 * from the corpus, 2,000 rare corpus words (seen at most twice), 1,990
 * two-word phrases of rare words that never occur together, and 10 real
 * terms that do occur. Matching cost is then the automaton walk, not
 * reporting millions of matches.
 */
static size_t build_patterns(struct text_matcher *m, const struct tokens *tk)
{
	static const char *const real[] = {"korupsi", "narkoba", "penipuan", "hoaks", "judi online",
					   "ujaran kebencian", "provokasi", "bodoh", "slot", "teroris"};
	struct wordset ws;
	uint32_t rng = 7;
	size_t added = 0, rare_n = 0, tries = 0;
	char p[160], a[32], b[32];

	ws_build(&ws, tk);
	uint32_t *rare = malloc((ws.mask + 1) * sizeof(*rare));
	for (size_t i = 0; rare && i <= ws.mask; i++) {
		const char *w = ws.slot[i] ? tk->arena + tk->off[ws.slot[i] - 1] : "";
		if (ws.slot[i] && ws.count[i] <= 2 && strlen(w) >= 5 && strlen(w) < 30 &&
		    strspn(w, "abcdefghijklmnopqrstuvwxyz") == strlen(w))
			rare[rare_n++] = ws.slot[i] - 1;
	}
	for (size_t i = 0; i < 10; i++)
		add_pat(m, real[i], &added);
	while (added < 6010 && tries++ < 1000000) {
		pseudo_word(p, &rng);
		if (!*ws_find(&ws, tk, p))
			add_pat(m, p, &added);
	}
	for (size_t i = 0; rare_n && added < 8010 && i < 100000; i++) {
		rng = rng * 1103515245u + 12345u;
		add_pat(m, tk->arena + tk->off[rare[(rng >> 4) % rare_n]], &added);
	}
	for (size_t i = 0; rare_n && added < 10000 && i < 100000; i++) {
		rng = rng * 1103515245u + 12345u;
		snprintf(a, sizeof(a), "%s", tk->arena + tk->off[rare[(rng >> 4) % rare_n]]);
		rng = rng * 1103515245u + 12345u;
		snprintf(b, sizeof(b), "%s", tk->arena + tk->off[rare[(rng >> 4) % rare_n]]);
		snprintf(p, sizeof(p), "%s %s", a, b);
		add_pat(m, p, &added);
	}
	free(rare);
	free(ws.slot);
	free(ws.count);
	return added;
}

static void bench_matcher(const struct corpus *c, struct tokens *tk, const struct text_analyzer *an)
{
	struct text_matcher *m = text_matcher_new(an);
	struct text_work *wk = text_work_new(1 << 22);
	struct text_match out[256];
	const struct text_term *t;
	size_t n, found = 0, docs_hit = 0;
	char err[128];
	double tm = 0, ta = 0, cm = 0;

	build_patterns(m, tk);
	double t0 = now();
	if (text_matcher_compile(m, err, sizeof(err)) != 0) {
		printf("matcher: %s\n", err);
		return;
	}
	double tc = now() - t0;
	for (size_t i = 0; i < c->n; i++) {
		t0 = now();
		if (text_analyze(an, wk, c->docs[i].s, c->docs[i].len, &t, &n) != 0)
			continue;
		double t1 = now(), c1 = cpu_now();
		size_t k = text_matcher_match(m, wk, out, 256);
		cm += cpu_now() - c1;
		tm += now() - t1;
		ta += now() - t0;
		found += k;
		docs_hit += k > 0;
	}
	printf("aho-corasick: %zu patterns (6,000 absent made-up words, 2,000 rare corpus words, "
	       "1,990 phrases of rare words, 10 real terms) compiled in %.2f s; matching alone "
	       "%.1f MB/s of original text (%.2f s wall; %.1f MB/s of thread CPU time); analyse "
	       "(no stemming) + match %.1f MB/s wall; %zu matches in %zu of %zu articles\n",
	       text_matcher_count(m), tc, (double)c->bytes / 1e6 / tm, tm,
	       (double)c->bytes / 1e6 / cm,
	       (double)c->bytes / 1e6 / ta, found, docs_hit, c->n);
	text_work_free(wk);
	text_matcher_free(m);
}

/* Lightly edit a text: drop ~3% of words, double some punctuation. */
static size_t edit(const char *s, size_t len, char *out, uint32_t *rng)
{
	size_t n = 0;
	bool drop = false;

	for (size_t i = 0; i < len; i++) {
		if (i == 0 || s[i - 1] == ' ') {
			*rng = *rng * 1103515245u + 12345u;
			drop = (*rng >> 8) % 100 < 3;
		}
		if (!drop)
			out[n++] = s[i];
		if (s[i] == '.' && (*rng >> 12) % 4 == 0)
			out[n++] = '!';
	}
	return n;
}

static void bench_simhash(const struct corpus *c, const struct text_analyzer *an)
{
	struct text_work *wk = text_work_new(1 << 22);
	const struct text_term *t;
	size_t n, hist_e[65] = {0}, hist_u[65] = {0}, samples = 2000;
	uint64_t *fp = malloc(samples * sizeof(*fp));
	char *buf = malloc(1 << 22);
	uint32_t rng = 99;

	for (size_t i = 0; i < samples && i < c->n; i++) {
		const struct doc *d = &c->docs[(i * 11) % c->n];
		if (text_analyze(an, wk, d->s, d->len, &t, &n) != 0)
			continue;
		fp[i] = text_simhash(t, n);
		size_t el = edit(d->s, d->len, buf, &rng);
		if (text_analyze(an, wk, buf, el, &t, &n) != 0)
			continue;
		hist_e[text_simhash_distance(fp[i], text_simhash(t, n))]++;
	}
	for (size_t i = 1; i < samples; i++)
		hist_u[text_simhash_distance(fp[i], fp[i - 1])]++;
	size_t e_le = 0, u_le = 0;
	for (int d = 0; d <= TEXT_SIMHASH_NEAR; d++)
		e_le += hist_e[d], u_le += hist_u[d];
	size_t e_le6 = e_le, u_le6 = u_le;
	for (int d = TEXT_SIMHASH_NEAR + 1; d <= 6; d++)
		e_le6 += hist_e[d], u_le6 += hist_u[d];
	printf("simhash: %zu articles with 3%% of words dropped: %.1f%% within %d bits "
	       "(%.1f%% within 6); unrelated pairs within %d bits: %.2f%% (within 6: %.2f%%)\n",
	       samples, 100.0 * (double)e_le / (double)samples, TEXT_SIMHASH_NEAR,
	       100.0 * (double)e_le6 / (double)samples, TEXT_SIMHASH_NEAR,
	       100.0 * (double)u_le / (double)(samples - 1),
	       100.0 * (double)u_le6 / (double)(samples - 1));
	free(fp);
	free(buf);
	text_work_free(wk);
}

int main(int argc, char **argv)
{
	const char *data = argc > 1 ? argv[1] : SIMPUL_SHARED_DATA_DEFAULT;
	char path[1024], err[256];
	struct corpus c = {0};
	struct tokens tk = {0};
	size_t nterms;

	snprintf(path, sizeof(path), "%s/id-news-clickid/articles.csv", data);
	if (load_articles(path, &c) != 0) {
		fprintf(stderr, "cannot read %s\n", path);
		return 2;
	}
	struct text_stemmer *st = text_stemmer_new(NULL, NULL, TEXT_STEM_CONFIX, err, sizeof(err));
	struct text_stemmer *hs = text_stemmer_new(NULL, NULL, TEXT_STEM_HUNSPELL, err, sizeof(err));
	struct text_lexicon *lx = text_lexicon_new(true);
	struct text_stopwords *sw = text_stopwords_new(NULL, err, sizeof(err));
	struct sb_stemmer *sb = sb_stemmer_new("indonesian", NULL);
	if (!st || !hs || !lx || !sw || !sb) {
		fprintf(stderr, "setup failed: %s\n", err);
		return 2;
	}
	printf("corpus: %zu articles, %.1f MB (title + content)\n", c.n, (double)c.bytes / 1e6);
	struct text_analyzer an = {lx, sw, st, 0};
	double dt, cpu, mb = (double)c.bytes / 1e6;
	if (argc > 2 && strcmp(argv[2], "pipeline") == 0) {
		/* profiling mode: only the pipeline, a few times */
		for (int r = 0; r < 3; r++) {
			dt = run_pipeline(&c, &an, NULL, &nterms, &cpu);
			printf("pipeline: %.1f MB/s wall (%.2f s), %.1f MB/s of thread CPU time\n",
			       mb / dt, dt, mb / cpu);
		}
		return 0;
	}
	dt = run_pipeline(&c, &an, &tk, &nterms, &cpu);
	if (argc > 2 && strcmp(argv[2], "matcher") == 0) {
		struct text_analyzer anm = {lx, NULL, NULL, 0};
		bench_matcher(&c, &tk, &anm);
		return 0;
	}
	dt = run_pipeline(&c, &an, NULL, &nterms, &cpu); /* again: warm, no collection */
	printf("pipeline (normalise+tokenise+colloquial+stopwords+confix stem): %.1f MB/s wall, "
	       "%.2f M tokens/s (%zu tokens, %.2f s); %.1f MB/s of thread CPU time\n",
	       mb / dt, (double)nterms / 1e6 / dt, nterms, dt, mb / cpu);
	struct text_analyzer anh = {lx, sw, hs, 0};
	dt = run_pipeline(&c, &anh, NULL, &nterms, &cpu);
	printf("pipeline with hunspell-mode stemmer: %.1f MB/s wall (%.2f s); %.1f MB/s CPU\n",
	       mb / dt, dt, mb / cpu);
	struct text_analyzer an0 = {lx, sw, NULL, 0};
	dt = run_pipeline(&c, &an0, NULL, &nterms, &cpu);
	printf("pipeline without stemming: %.1f MB/s wall (%.2f s); %.1f MB/s CPU\n", mb / dt, dt,
	       mb / cpu);

	char out[80];
	double t0 = now();
	size_t chk = 0;
	for (size_t i = 0; i < tk.n; i++) {
		const char *w = tk.arena + tk.off[i];
		chk += (size_t)sb_stemmer_length(sb) * 0 +
		       (size_t)(sb_stemmer_stem(sb, (const sb_symbol *)w, (int)strlen(w)) != NULL);
	}
	double tsb = now() - t0;
	t0 = now();
	for (size_t i = 0; i < tk.n; i++) {
		const char *w = tk.arena + tk.off[i];
		chk += text_stemmer_stem(st, w, strlen(w), out, sizeof(out));
	}
	double tst = now() - t0;
	printf("stemming the same %zu word tokens (no cache): snowball %.2f M/s, confix %.2f M/s "
	       "(%zu)\n",
	       tk.n, (double)tk.n / 1e6 / tsb, (double)tk.n / 1e6 / tst, chk % 10);

	snprintf(path, sizeof(path), "%s/id-stemming-gold/pairs.csv", data);
	gold(path, st, hs, sb);
	vs_hunspell(&tk, st, sb);
	struct text_analyzer anm = {lx, NULL, NULL, 0};
	bench_matcher(&c, &tk, &anm);
	bench_simhash(&c, &an);

	sb_stemmer_delete(sb);
	text_stopwords_free(sw);
	text_lexicon_free(lx);
	text_stemmer_free(hs);
	text_stemmer_free(st);
	free(tk.arena);
	free(tk.off);
	free(c.docs);
	free(c.buf);
	return 0;
}
