/* domain_lm.c - the grammar's templates as a trigram language model.
 *
 * Every expansion of every template, cue, topic keyword and sentiment
 * phrase is a sentence of the domain; {score} and <number> stand for each
 * number word. (Keywords and sentiment phrases bring the domain's
 * vocabulary in: with templates and cues only, the flite dev sentences
 * had 12.2 % WER; with them, 11.4 %, and librivox 25.4 -> 23.9 %.) Trigram counts
 * are turned into an ARPA model with absolute discounting and back-off
 * (D = 0.5), which PocketSphinx then interpolates with its generic model.
 * Why not the domain model alone: it forces every sentence it does not
 * know into its own words (docs/FINDINGS.md measured 104 % WER out of
 * domain); interpolated, in-domain speech gets easier and the rest stays
 * readable.
 *
 * The model is written once per grammar content to the cache folder, named
 * by a hash of the grammar's bytes, so later start-ups only read it. */
#include "domain_lm.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DISCOUNT 0.5
#define MAX_EXPANSIONS 20000
#define FORMAT_VERSION 2 /* bump when the generated model changes */

typedef struct ngram {
    uint64_t key; /* 0: empty slot */
    uint32_t count;
    uint32_t followers; /* distinct words seen after this context */
    double prob, backoff;
} ngram;

typedef struct table {
    ngram *slots;
    size_t n, cap;
} table;

typedef struct lm_build {
    const earshot__grammar *g;
    table t[3]; /* unigrams, bigrams, trigrams */
    int bos, eos;
    int numbers[11]; /* a word id per number value, -1 if none */
    uint64_t total;  /* unigram tokens, excluding <s> */
    int failed;
} lm_build;

static uint64_t key_of(int n, const int *w)
{
    uint64_t k = 0;
    for (int i = 0; i < n; i++)
        k = k << 21 | (uint64_t)(unsigned)w[i];
    return k + 1; /* never 0 */
}

static size_t slot_of(uint64_t k, size_t mask)
{
    k ^= k >> 31;
    k *= 0x9e3779b97f4a7c15ull;
    k ^= k >> 29;
    return (size_t)k & mask;
}

static ngram *lookup(table *t, uint64_t k, int add)
{
    if (add && (t->n + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        ngram *s = calloc(cap, sizeof *s);
        if (!s)
            return NULL;
        for (size_t i = 0; i < t->cap; i++) {
            if (!t->slots[i].key)
                continue;
            size_t j = slot_of(t->slots[i].key, cap - 1);
            while (s[j].key)
                j = (j + 1) & (cap - 1);
            s[j] = t->slots[i];
        }
        free(t->slots);
        t->slots = s;
        t->cap = cap;
    }
    if (!t->cap)
        return NULL;
    size_t mask = t->cap - 1;
    for (size_t i = slot_of(k, mask);; i = (i + 1) & mask) {
        if (t->slots[i].key == k)
            return &t->slots[i];
        if (!t->slots[i].key) {
            if (!add)
                return NULL;
            t->slots[i].key = k;
            t->n++;
            return &t->slots[i];
        }
    }
}

static void count(lm_build *b, int n, const int *w)
{
    ngram *e = lookup(&b->t[n - 1], key_of(n, w), 1);
    if (!e) {
        b->failed = 1;
        return;
    }
    if (e->count++ == 0 && n > 1) {
        ngram *ctx = lookup(&b->t[n - 2], key_of(n - 1, w), 0);
        if (ctx)
            ctx->followers++;
    }
}

static void count_sentence(lm_build *b, const int *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != b->bos)
            b->total++;
        count(b, 1, &s[i]);
        if (i >= 1)
            count(b, 2, &s[i - 1]);
        if (i >= 2)
            count(b, 3, &s[i - 2]);
    }
}

/* Replaces the slot tokens of a sequence, one at a time, by each number
 * word, then counts the resulting sentence. */
static void fill_numbers(lm_build *b, int *s, size_t n, size_t from)
{
    for (size_t i = from; i < n; i++) {
        if (s[i] == TOK_SLOT_SCORE || s[i] == TOK_ANY_NUMBER) {
            int keep = s[i];
            for (int v = 0; v <= 10; v++) {
                if (b->numbers[v] < 0)
                    continue;
                s[i] = b->numbers[v];
                fill_numbers(b, s, n, i + 1);
            }
            s[i] = keep;
            return;
        }
    }
    count_sentence(b, s, n);
}

static int on_sequence(const int *toks, size_t n, void *user)
{
    lm_build *b = user;
    int s[260];
    size_t k = 0;
    s[k++] = b->bos;
    for (size_t i = 0; i < n && k < 258; i++)
        if (toks[i] != TOK_START && toks[i] != TOK_END)
            s[k++] = toks[i];
    s[k++] = b->eos;
    fill_numbers(b, s, k, 0);
    return b->failed;
}

static int on_number(const int *toks, size_t n, void *user)
{
    int *slot = user;
    if (n == 1 && toks[0] >= 0 && *slot < 0)
        *slot = toks[0];
    return 0;
}

static const char *word_of(const lm_build *b, int id)
{
    if (id == b->bos)
        return "<s>";
    if (id == b->eos)
        return "</s>";
    return earshot__grammar_word(b->g, id);
}

static void unpack(uint64_t key, int n, int *w)
{
    key -= 1;
    for (int i = n - 1; i >= 0; i--) {
        w[i] = (int)(key & ((1u << 21) - 1));
        key >>= 21;
    }
}

/* Probability of w after context (n-1 words) with back-off, from the
 * tables filled so far (lower orders must be complete). */
static double backed_off(lm_build *b, int n, const int *ctx_w)
{
    if (n == 1) {
        ngram *u = lookup(&b->t[0], key_of(1, ctx_w), 0);
        return u ? u->prob : 1e-9;
    }
    ngram *e = lookup(&b->t[n - 1], key_of(n, ctx_w), 0);
    if (e)
        return e->prob;
    ngram *ctx = lookup(&b->t[n - 2], key_of(n - 1, ctx_w), 0);
    double bo = ctx ? ctx->backoff : 1.0;
    return bo * backed_off(b, n - 1, ctx_w + 1);
}

static void estimate(lm_build *b)
{
    /* Unigrams: maximum likelihood; <s> never predicted. */
    for (size_t i = 0; i < b->t[0].cap; i++) {
        ngram *e = &b->t[0].slots[i];
        if (!e->key)
            continue;
        int w;
        unpack(e->key, 1, &w);
        e->prob = w == b->bos ? 0.0 : (double)e->count / (double)b->total;
    }
    /* Higher orders: (c - D) / c(context); the mass taken, D x distinct
     * followers / c(context), goes to the lower order through the
     * context's back-off weight. */
    for (int n = 2; n <= 3; n++) {
        table *ct = &b->t[n - 2];
        /* Back-off weights of the contexts: the left-over mass divided by
         * the lower-order mass of the words never seen after them, summed
         * here in the same pass that sets each n-gram's probability. */
        double *seen_lower = calloc(ct->cap ? ct->cap : 1, sizeof *seen_lower);
        if (!seen_lower) {
            b->failed = 1;
            return;
        }
        for (size_t i = 0; i < b->t[n - 1].cap; i++) {
            ngram *e = &b->t[n - 1].slots[i];
            if (!e->key)
                continue;
            int w[3];
            unpack(e->key, n, w);
            ngram *ctx = lookup(ct, key_of(n - 1, w), 0);
            e->prob = ((double)e->count - DISCOUNT) / (double)ctx->count;
            seen_lower[ctx - ct->slots] += backed_off(b, n - 1, w + 1);
        }
        for (size_t i = 0; i < ct->cap; i++) {
            ngram *c = &ct->slots[i];
            if (!c->key || !c->followers) {
                if (c->key)
                    c->backoff = 1.0;
                continue;
            }
            double left = DISCOUNT * c->followers / (double)c->count;
            double rest = 1.0 - seen_lower[i];
            c->backoff = rest > 1e-9 ? left / rest : 1.0;
        }
        free(seen_lower);
    }
}

static double lg(double p)
{
    return p > 0 ? log10(p) : -99.0;
}

static int write_arpa(lm_build *b, FILE *f)
{
    fprintf(f, "\\data\\\n");
    for (int n = 1; n <= 3; n++)
        fprintf(f, "ngram %d=%zu\n", n, b->t[n - 1].n);
    for (int n = 1; n <= 3; n++) {
        fprintf(f, "\n\\%d-grams:\n", n);
        for (size_t i = 0; i < b->t[n - 1].cap; i++) {
            ngram *e = &b->t[n - 1].slots[i];
            if (!e->key)
                continue;
            int w[3];
            unpack(e->key, n, w);
            fprintf(f, "%.4f", lg(e->prob));
            for (int k = 0; k < n; k++)
                fprintf(f, "%c%s", k ? ' ' : '\t', word_of(b, w[k]));
            if (n < 3 && e->followers)
                fprintf(f, "\t%.4f", lg(e->backoff));
            fputc('\n', f);
        }
    }
    fprintf(f, "\n\\end\\\n");
    return ferror(f) ? -1 : 0;
}

static int build(const earshot__grammar *g, FILE *out, char *err, size_t errlen)
{
    lm_build b = {.g = g};
    int nw = (int)earshot__grammar_n_words(g);
    b.bos = nw;
    b.eos = nw + 1;
    for (int v = 0; v <= 10; v++)
        b.numbers[v] = -1;
    size_t ne = earshot__grammar_n_entries(g);
    for (size_t i = 0; i < ne; i++) {
        const earshot__entry *e = earshot__grammar_entry(g, i);
        if (e->kind == ENTRY_NUMBER && e->target >= 0 && e->target <= 10)
            earshot__grammar_expand(g, e, MAX_EXPANSIONS, on_number, &b.numbers[e->target]);
    }
    for (size_t i = 0; i < ne && !b.failed; i++) {
        const earshot__entry *e = earshot__grammar_entry(g, i);
        if (e->kind == ENTRY_TEMPLATE || e->kind == ENTRY_CUE || e->kind == ENTRY_TOPIC ||
            e->kind == ENTRY_POSITIVE || e->kind == ENTRY_NEGATIVE)
            earshot__grammar_expand(g, e, MAX_EXPANSIONS, on_sequence, &b);
    }
    int rc = 0;
    if (b.failed || b.total == 0) {
        snprintf(err, errlen, b.failed ? "out of memory" : "the grammar has no templates");
        rc = -1;
    } else {
        estimate(&b);
        if (b.failed || write_arpa(&b, out) != 0) {
            snprintf(err, errlen, "cannot write the domain language model");
            rc = -1;
        }
    }
    for (int n = 0; n < 3; n++)
        free(b.t[n].slots);
    return rc;
}

static int mkdir_p(const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0700);
            *p = '/';
        }
    }
    return mkdir(buf, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

int earshot__cache_dir(const char *cache_dir, char *dir, size_t dirlen)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    dir[0] = '\0';
    if (cache_dir)
        snprintf(dir, dirlen, "%s", cache_dir);
    else if (xdg && xdg[0] == '/')
        snprintf(dir, dirlen, "%s/earshot", xdg);
    else if (home && home[0] == '/')
        snprintf(dir, dirlen, "%s/.cache/earshot", home);
    return dir[0] && mkdir_p(dir) == 0 ? 0 : -1;
}

int earshot__domain_lm_file(const earshot__grammar *g, const char *cache_dir, char *path,
                            size_t pathlen, int *is_temp, char *err, size_t errlen)
{
    char dir[1024];
    int have_dir = earshot__cache_dir(cache_dir, dir, sizeof dir) == 0;
    *is_temp = 0;
    uint64_t h = earshot__grammar_hash(g) ^ (0x9e3779b97f4a7c15ull * FORMAT_VERSION);
    if (have_dir) {
        snprintf(path, pathlen, "%s/domain-%016llx.arpa", dir, (unsigned long long)h);
        if (access(path, R_OK) == 0)
            return 0; /* compiled before */
        char tmp[1100];
        snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
        FILE *f = fopen(tmp, "w");
        if (f) {
            int rc = build(g, f, err, errlen);
            if (fclose(f) != 0)
                rc = -1;
            /* rename() makes the cached file appear whole or not at all,
             * even with two processes compiling at once. */
            if (rc == 0 && rename(tmp, path) == 0)
                return 0;
            unlink(tmp);
            if (rc != 0)
                return -1;
        }
    }
    /* No usable cache: compile to a private temporary file. */
    const char *td = getenv("TMPDIR");
    snprintf(path, pathlen, "%s/earshot-domain-XXXXXX", td && td[0] ? td : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a temporary file for the domain model: %s",
                 strerror(errno));
        return -1;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(path);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = build(g, f, err, errlen);
    if (fclose(f) != 0 && rc == 0) {
        snprintf(err, errlen, "cannot write the domain language model");
        rc = -1;
    }
    if (rc != 0) {
        unlink(path);
        return -1;
    }
    *is_temp = 1;
    return 0;
}
