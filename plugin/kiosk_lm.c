/* kiosk_lm.c - the kiosk vocabulary: a cut of the generic model.
 *
 * About 90 % of decoding time is the first-pass search over the generic
 * model's 133k words, most of which no customer at a counter says. Here the
 * N most probable unigrams of the generic model, every word of the grammar
 * and the sentence markers are kept with every bigram and trigram made only
 * of kept words, each with its own log probability and back-off weight.
 * Kept unigrams are renormalised to sum to 1. The approximation: back-off
 * weights are not recomputed, so a context whose successors were dropped
 * keeps less than its whole mass (the words it loses are the ones the model
 * cannot produce any more). The result is written as ARPA, converted to
 * PocketSphinx's binary form and cached, named by a hash of the grammar,
 * N and the generic model and dictionary files, with the dictionary cut to
 * the same words.
 *
 * sphinxbase 5prealpha exports no n-gram iterators (ngram_model_mgrams and
 * friends are declared but not in libsphinxbase.so.3) and its ARPA writer
 * aborts on en-us.lm.bin (ngram_model_trie.c:279: the file holds the extra
 * bigrams the trie inserts as contexts of orphan trigrams). So the trie
 * file is read here directly. Its layout (lm_trie.c, lm_trie_quant.c):
 * "Trie Language Model", uint8 order, uint32 counts[order], int32 0, the
 * quantisation tables (65536 floats of bigram probabilities, 65536 of
 * bigram back-offs, 65536 of trigram probabilities), counts[0] + 1
 * unigrams {float prob, backoff; uint32 first bigram}, the bit-packed
 * bigrams {word, back-off bin, probability bin, first trigram}, the
 * bit-packed trigrams {word, probability bin}, then the words. The trie is
 * reversed: a unigram's bigrams are the words before it, and their
 * trigrams the words before those. Scores are in the log base of the
 * logmath that wrote the file (1.0001). */
#include "kiosk_lm.h"
#include "domain_lm.h"

#include <sphinxbase/err.h>
#include <sphinxbase/logmath.h>
#include <sphinxbase/ngram_model.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FORMAT_VERSION 1 /* bump when the derived model changes */
#define QBINS 65536

typedef struct unigram {
    float prob, backoff;
    uint32_t next;
} unigram;

typedef struct trie {
    uint8_t *file; /* the whole file */
    size_t size;
    uint32_t counts[3];
    const float *bg_prob, *bg_bo, *tg_prob;
    const unigram *ug; /* counts[0] + 1, may be unaligned: read by memcpy */
    const uint8_t *bg, *tg;
    unsigned word_bits, next_bits, bg_total, tg_total;
    const char **words; /* counts[0] */
    double to_log10;    /* file score units to log10 */
} trie;

static unsigned required_bits(uint32_t max)
{
    unsigned r = 0;
    while (max) {
        r++;
        max >>= 1;
    }
    return r;
}

static size_t packed_size(uint32_t entries, unsigned total_bits)
{
    return ((size_t)(1 + entries) * total_bits + 7) / 8 + sizeof(uint64_t);
}

static uint32_t read_bits(const uint8_t *base, uint64_t offset, unsigned bits)
{
    uint32_t v;
    memcpy(&v, base + (offset >> 3), sizeof v);
    return (v >> (offset & 7)) & (bits >= 32 ? 0xffffffffu : (1u << bits) - 1u);
}

static unigram ug_at(const trie *t, uint32_t i)
{
    unigram u;
    memcpy(&u, (const uint8_t *)t->ug + (size_t)i * sizeof u, sizeof u);
    return u;
}

/* Bigram i: word, log10 probability and back-off, first trigram. */
static uint32_t bg_at(const trie *t, uint32_t i, double *prob, double *bo, uint32_t *next)
{
    uint64_t off = (uint64_t)i * t->bg_total;
    uint32_t w = read_bits(t->bg, off, t->word_bits);
    off += t->word_bits;
    if (bo)
        *bo = t->bg_bo[read_bits(t->bg, off, 16)] * t->to_log10;
    if (prob)
        *prob = t->bg_prob[read_bits(t->bg, off + 16, 16)] * t->to_log10;
    if (next)
        *next = read_bits(t->bg, off + 32, t->next_bits);
    return w;
}

static uint32_t tg_at(const trie *t, uint32_t i, double *prob)
{
    uint64_t off = (uint64_t)i * t->tg_total;
    uint32_t w = read_bits(t->tg, off, t->word_bits);
    *prob = t->tg_prob[read_bits(t->tg, off + t->word_bits, 16)] * t->to_log10;
    return w;
}

static void trie_free(trie *t)
{
    free(t->words);
    free(t->file);
}

static int trie_read(trie *t, const char *path, char *err, size_t errlen)
{
    static const char hdr[] = "Trie Language Model";
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || st.st_size < 64 ||
        !(t->file = malloc((size_t)st.st_size + 8))) {
        fclose(f);
        snprintf(err, errlen, "%s: cannot read the language model", path);
        return -1;
    }
    t->size = (size_t)st.st_size;
    size_t got = fread(t->file, 1, t->size, f);
    fclose(f);
    memset(t->file + t->size, 0, 8); /* bit reads may run 4 bytes past */
    const uint8_t *p = t->file, *end = t->file + t->size;
    if (got != t->size || memcmp(p, hdr, sizeof hdr - 1) != 0 || p[sizeof hdr - 1] != 3) {
        snprintf(err, errlen, "%s: a kiosk vocabulary is cut from a trigram model in "
                 "PocketSphinx's binary trie format (.lm.bin); set model_vocab to EARSHOT_MODEL_VOCAB_FULL (the command: --model-vocab full)", path);
        trie_free(t);
        return -2;
    }
    p += sizeof hdr;
    memcpy(t->counts, p, sizeof t->counts);
    p += sizeof t->counts + sizeof(int32_t);
    size_t need = 3 * (size_t)QBINS * sizeof(float);
    const uint8_t *q = p;
    p += need;
    t->ug = (const unigram *)p;
    p += ((size_t)t->counts[0] + 1) * sizeof(unigram);
    t->word_bits = required_bits(t->counts[0]);
    t->next_bits = required_bits(t->counts[2]);
    t->bg_total = t->word_bits + 32 + t->next_bits;
    t->tg_total = t->word_bits + 16;
    t->bg = p;
    p += packed_size(t->counts[1], t->bg_total);
    t->tg = p;
    p += packed_size(t->counts[2], t->tg_total);
    int32_t k = 0;
    if (p + sizeof k > end || (memcpy(&k, p, sizeof k), p += sizeof k, k <= 0) ||
        p + k > end || !(t->words = calloc(t->counts[0], sizeof *t->words))) {
        snprintf(err, errlen, "%s: unexpected layout of the binary language model", path);
        trie_free(t);
        return -1;
    }
    /* The tables are floats at an offset that need not be aligned. */
    float *tables = malloc(need);
    if (!tables) {
        snprintf(err, errlen, "out of memory");
        trie_free(t);
        return -1;
    }
    memcpy(tables, q, need);
    t->bg_prob = tables;
    t->bg_bo = tables + QBINS;
    t->tg_prob = tables + 2 * QBINS;
    const char *s = (const char *)p, *send = (const char *)p + k;
    for (uint32_t i = 0; i < t->counts[0]; i++) {
        if (s >= send) {
            snprintf(err, errlen, "%s: the word list is shorter than the unigrams", path);
            free(tables);
            trie_free(t);
            return -1;
        }
        t->words[i] = s;
        s += strlen(s) + 1;
    }
    t->to_log10 = log10(1.0001);
    return 0;
}

/* A set of strings by open addressing; the strings are not copied. */
typedef struct strset {
    const char **slot;
    int32_t *val;
    size_t cap;
} strset;

static uint64_t hash_str(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static int set_init(strset *s, size_t n)
{
    s->cap = 1;
    while (s->cap < n * 2 + 16)
        s->cap <<= 1;
    s->slot = calloc(s->cap, sizeof *s->slot);
    s->val = calloc(s->cap, sizeof *s->val);
    return s->slot && s->val;
}

static void set_free(strset *s)
{
    free(s->slot);
    free(s->val);
}

/* The slot of the n bytes at w. */
static size_t set_find(const strset *s, const char *w, size_t n)
{
    size_t i = hash_str(w, n) & (s->cap - 1);
    while (s->slot[i] && !(strlen(s->slot[i]) == n && memcmp(s->slot[i], w, n) == 0))
        i = (i + 1) & (s->cap - 1);
    return i;
}

typedef struct kiosk {
    trie t;
    strset ids;           /* LM word -> id */
    unsigned char *keep;  /* per LM word */
    const char **extra;   /* grammar words the generic model lacks */
    size_t n_extra, extra_cap;
    int failed;
} kiosk;

static void add_grammar_word(const char *word, const char *file, int line, int col,
                             void *user)
{
    kiosk *k = user;
    size_t i = set_find(&k->ids, word, strlen(word));
    if (k->ids.slot[i]) {
        k->keep[k->ids.val[i]] = 1;
        return;
    }
    for (size_t j = 0; j < k->n_extra; j++)
        if (!strcmp(k->extra[j], word))
            return;
    if (k->n_extra == k->extra_cap) {
        size_t cap = k->extra_cap ? k->extra_cap * 2 : 64;
        const char **e = realloc(k->extra, cap * sizeof *e);
        if (!e) {
            k->failed = 1;
            return;
        }
        k->extra = e;
        k->extra_cap = cap;
    }
    k->extra[k->n_extra++] = word;
}

typedef struct ranked {
    float prob;
    uint32_t id;
} ranked;

static int by_prob(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->prob != y->prob)
        return x->prob > y->prob ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int choose_words(kiosk *k, const earshot__grammar *g, int n_words)
{
    uint32_t nu = k->t.counts[0];
    if (!set_init(&k->ids, nu) || !(k->keep = calloc(nu, 1)))
        return -1;
    for (uint32_t i = 0; i < nu; i++) {
        size_t j = set_find(&k->ids, k->t.words[i], strlen(k->t.words[i]));
        if (!k->ids.slot[j]) {
            k->ids.slot[j] = k->t.words[i];
            k->ids.val[j] = (int32_t)i;
        }
    }
    ranked *r = malloc(nu * sizeof *r);
    if (!r)
        return -1;
    size_t n = 0;
    for (uint32_t i = 0; i < nu; i++) {
        const char *w = k->t.words[i];
        if (!strcmp(w, "<s>") || !strcmp(w, "</s>"))
            k->keep[i] = 1;
        else if (w[0] != '<')
            r[n++] = (ranked){ug_at(&k->t, i).prob, i};
    }
    qsort(r, n, sizeof *r, by_prob);
    for (size_t i = 0; i < n && i < (size_t)n_words; i++)
        k->keep[r[i].id] = 1;
    free(r);
    earshot__grammar_each_word(g, add_grammar_word, k);
    return k->failed ? -1 : 0;
}

static int write_arpa(kiosk *k, FILE *f)
{
    const trie *t = &k->t;
    uint32_t nu = t->counts[0];
    size_t n1 = 0, n2 = 0, n3 = 0;
    double sum = 0;
    for (uint32_t i = 0; i < nu; i++) {
        if (!k->keep[i])
            continue;
        n1++;
        sum += pow(10.0, ug_at(t, i).prob * t->to_log10);
        unigram u = ug_at(t, i), v = ug_at(t, i + 1);
        for (uint32_t b = u.next; b < v.next; b++) {
            uint32_t n3b, n3e;
            uint32_t w2 = bg_at(t, b, NULL, NULL, &n3b);
            if (w2 >= nu || !k->keep[w2])
                continue;
            n2++;
            bg_at(t, b + 1, NULL, NULL, &n3e);
            for (uint32_t c = n3b; c < n3e; c++) {
                double p;
                uint32_t w3 = tg_at(t, c, &p);
                n3 += w3 < nu && k->keep[w3];
            }
        }
    }
    double renorm = sum > 0 ? -log10(sum) : 0;
    fprintf(f, "\\data\\\nngram 1=%zu\nngram 2=%zu\nngram 3=%zu\n\n\\1-grams:\n", n1, n2, n3);
    for (uint32_t i = 0; i < nu; i++) {
        if (!k->keep[i])
            continue;
        unigram u = ug_at(t, i);
        double p = u.prob * t->to_log10;
        fprintf(f, "%.4f\t%s\t%.4f\n", p <= -98 ? -99.0 : p + renorm, t->words[i],
                u.backoff * t->to_log10);
    }
    fprintf(f, "\n\\2-grams:\n");
    for (uint32_t i = 0; i < nu; i++) {
        if (!k->keep[i])
            continue;
        unigram u = ug_at(t, i), v = ug_at(t, i + 1);
        for (uint32_t b = u.next; b < v.next; b++) {
            double p, bo;
            uint32_t w2 = bg_at(t, b, &p, &bo, NULL);
            if (w2 < nu && k->keep[w2])
                fprintf(f, "%.4f\t%s %s\t%.4f\n", p, t->words[w2], t->words[i], bo);
        }
    }
    fprintf(f, "\n\\3-grams:\n");
    for (uint32_t i = 0; i < nu; i++) {
        if (!k->keep[i])
            continue;
        unigram u = ug_at(t, i), v = ug_at(t, i + 1);
        for (uint32_t b = u.next; b < v.next; b++) {
            uint32_t n3b, n3e;
            uint32_t w2 = bg_at(t, b, NULL, NULL, &n3b);
            if (w2 >= nu || !k->keep[w2])
                continue;
            bg_at(t, b + 1, NULL, NULL, &n3e);
            for (uint32_t c = n3b; c < n3e; c++) {
                double p;
                uint32_t w3 = tg_at(t, c, &p);
                if (w3 < nu && k->keep[w3])
                    fprintf(f, "%.4f\t%s %s %s\n", p, t->words[w3], t->words[w2],
                            t->words[i]);
            }
        }
    }
    fprintf(f, "\n\\end\\\n");
    return ferror(f) ? -1 : 0;
}

/* Copies the lines of the full dictionary whose word ("word" or
 * "word(2)") is kept. Grammar words the dictionary lacks stay unheard, as
 * with the full model (earshot_grammar_check warns about them). */
static int write_dict(kiosk *k, const char *dict, FILE *out, char *err, size_t errlen)
{
    FILE *in = fopen(dict, "r");
    if (!in) {
        snprintf(err, errlen, "%s: %s", dict, strerror(errno));
        return -1;
    }
    char line[4096];
    while (fgets(line, sizeof line, in)) {
        size_t n = strcspn(line, " \t\n(");
        if (!n)
            continue;
        size_t i = set_find(&k->ids, line, n);
        int keep = k->ids.slot[i] && k->keep[k->ids.val[i]];
        for (size_t j = 0; !keep && j < k->n_extra; j++)
            keep = strlen(k->extra[j]) == n && memcmp(k->extra[j], line, n) == 0;
        if (keep)
            fputs(line, out);
    }
    int bad = ferror(in);
    fclose(in);
    if (bad || ferror(out)) {
        snprintf(err, errlen, "cannot write the kiosk dictionary");
        return -1;
    }
    return 0;
}

static uint64_t file_id(uint64_t h, const char *path)
{
    struct stat st;
    h = (h ^ hash_str(path, strlen(path))) * 0x9e3779b97f4a7c15ull;
    if (stat(path, &st) == 0)
        h = (h ^ (uint64_t)st.st_size ^ ((uint64_t)st.st_mtime << 20)) * 0x9e3779b97f4a7c15ull;
    return h;
}

/* Builds the model into lm and the dictionary into dict_out, both written
 * under temporary names and renamed into place last. */
static int build(const earshot__grammar *g, const char *generic_lm, const char *dict,
                 int n_words, const char *lm, const char *dict_out, char *err, size_t errlen)
{
    kiosk k = {0};
    int rc = -1;
    char arpa[1300], tmp_lm[1300], tmp_dict[1300];
    snprintf(arpa, sizeof arpa, "%s.%ld.arpa.tmp", lm, (long)getpid());
    snprintf(tmp_lm, sizeof tmp_lm, "%s.%ld.tmp", lm, (long)getpid());
    snprintf(tmp_dict, sizeof tmp_dict, "%s.%ld.tmp", dict_out, (long)getpid());
    int trc = trie_read(&k.t, generic_lm, err, errlen);
    if (trc != 0)
        return trc;
    if (choose_words(&k, g, n_words) != 0) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    FILE *f = fopen(arpa, "w");
    if (!f || write_arpa(&k, f) != 0) {
        snprintf(err, errlen, "%s: cannot write the kiosk language model", arpa);
        if (f)
            fclose(f);
        goto done;
    }
    if (fclose(f) != 0) {
        snprintf(err, errlen, "%s: cannot write the kiosk language model", arpa);
        goto done;
    }
    /* PocketSphinx's log is process-wide; the recogniser sets it again. */
    err_set_logfp(NULL);
    logmath_t *lmath = logmath_init(1.0001, 0, 0);
    ngram_model_t *m = lmath ? ngram_model_read(NULL, arpa, NGRAM_ARPA, lmath) : NULL;
    int wrote = m && ngram_model_write(m, tmp_lm, NGRAM_BIN) == 0;
    if (m)
        ngram_model_free(m);
    logmath_free(lmath);
    if (!wrote) {
        snprintf(err, errlen, "%s: cannot convert the kiosk language model", arpa);
        goto done;
    }
    FILE *d = fopen(tmp_dict, "w");
    if (!d) {
        snprintf(err, errlen, "%s: %s", tmp_dict, strerror(errno));
        goto done;
    }
    int drc = write_dict(&k, dict, d, err, errlen);
    if (fclose(d) != 0 && drc == 0) {
        snprintf(err, errlen, "cannot write the kiosk dictionary");
        drc = -1;
    }
    /* The dictionary first: a model found in the cache has its dictionary. */
    if (drc == 0 && rename(tmp_dict, dict_out) == 0 && rename(tmp_lm, lm) == 0)
        rc = 0;
    else if (drc == 0)
        snprintf(err, errlen, "%s: %s", lm, strerror(errno));
done:
    unlink(arpa);
    unlink(tmp_lm);
    unlink(tmp_dict);
    free((void *)k.t.bg_prob);
    trie_free(&k.t);
    set_free(&k.ids);
    free(k.keep);
    free(k.extra);
    return rc;
}

int earshot__kiosk_lm_files(const earshot__grammar *g, const char *generic_lm,
                            const char *dict, int n_words, const char *cache_dir, char *lm,
                            size_t lmlen, char *dict_out, size_t dictlen, int *is_temp,
                            char *err, size_t errlen)
{
    *is_temp = 0;
    uint64_t h = earshot__grammar_hash(g) ^ (0x9e3779b97f4a7c15ull * FORMAT_VERSION);
    h = (h ^ (uint64_t)n_words) * 0x9e3779b97f4a7c15ull;
    h = file_id(file_id(h, generic_lm), dict);
    char dir[1024];
    if (earshot__cache_dir(cache_dir, dir, sizeof dir) == 0) {
        snprintf(lm, lmlen, "%s/kiosk-%016llx.lm.bin", dir, (unsigned long long)h);
        snprintf(dict_out, dictlen, "%s/kiosk-%016llx.dict", dir, (unsigned long long)h);
        if (access(lm, R_OK) == 0 && access(dict_out, R_OK) == 0)
            return 0; /* built before */
        int rc = build(g, generic_lm, dict, n_words, lm, dict_out, err, errlen);
        if (rc == 0 || rc == -2 || access(dir, W_OK) == 0)
            return rc; /* done, or the build itself failed */
    }
    const char *td = getenv("TMPDIR");
    snprintf(lm, lmlen, "%s/earshot-kiosk-%ld-%016llx.lm.bin", td && td[0] ? td : "/tmp",
             (long)getpid(), (unsigned long long)h);
    snprintf(dict_out, dictlen, "%s/earshot-kiosk-%ld-%016llx.dict", td && td[0] ? td : "/tmp",
             (long)getpid(), (unsigned long long)h);
    int rc = build(g, generic_lm, dict, n_words, lm, dict_out, err, errlen);
    if (rc != 0)
        return rc;
    *is_temp = 1;
    return 0;
}
