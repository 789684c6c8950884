/* intent_model.c - a naive Bayes back-off for phrasings no template
 * foresaw, trained from the grammar itself.
 *
 * Why naive Bayes from the grammar's own expansions: the grammar is the
 * only labelled text the plugin has, and it is large once expanded (tens
 * of thousands of sequences); multinomial naive Bayes learns from it in a
 * few milliseconds at load (README "Learned back-off": measured), needs
 * no iterations, no library and no cache file, and its word weights are
 * the grammar's own: change a line and the model changes with it.
 *
 * Features are word unigrams and bigrams. A word within three words after
 * a negator ("not", "never", "no", "don't", any "...n't"; the [sentiment]
 * negators), up to a contrast word ("but"), is a different feature:
 * "cancelling" after "not" is NOT_cancelling, which the cancel lines never
 * hold, so "i'm not cancelling" gets no cancel evidence from it. The
 * sentiment lexicon is learnt both ways: "helpful" for the intents fed by
 * positive sentiment (praise), "not helpful" for those fed by negative
 * (complaint), and "never had a problem" lands on praise.
 *
 * Weighting: a line that expands to n sequences carries sqrt(n) in all,
 * spread over them, so a line with a 30-way alternation counts more than
 * a single sentence but not 30 times more; at most SAMPLE sequences of a
 * line are used, chosen by a hash of their index (deterministic, and free
 * of the aliasing a fixed stride has with nested alternatives). */
#include "intent_model.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_EXPANSIONS 20000 /* as the matcher: more is a grammar mistake */
#define SAMPLE 400           /* sequences used per line at most */
#define NEG_SCOPE 3          /* words marked after a negator */
#define ALPHA 0.05           /* additive smoothing, in weighted counts */
#define SENTIMENT_MASS 0.5   /* mass of one sentiment phrase */
#define MAX_SEQ 64
#define TEMPERATURE 3.0      /* see earshot__intent_model_classify() */

typedef struct feat_slot {
    uint64_t key; /* 0: empty */
    int index;
} feat_slot;

struct earshot__intent_model {
    const earshot__grammar *g;
    size_t n_classes, n_words;
    int num_id;                 /* pseudo word for any number */
    unsigned char *negator;     /* per word id */
    unsigned char *contrast;    /* per word id */
    feat_slot *slots;
    size_t n_feat, cap_slots;   /* cap is a power of two */
    float *count;               /* n_feat x n_classes, then log probabilities */
    size_t cap_feat;
    double *class_total;
    double seconds;
    size_t n_sequences;
    int (*seq)[MAX_SEQ + 1]; /* training scratch: one line's sample */
    size_t *len;
};

static uint64_t feat_key(int bigram, int neg, int a, int b)
{
    return ((uint64_t)bigram << 62 | (uint64_t)neg << 61 | (uint64_t)(unsigned)(a + 1) << 22 |
            (uint64_t)(unsigned)(b + 1)) + 1;
}

static size_t slot_hash(uint64_t k, size_t mask)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return (size_t)k & mask;
}

static int find_feat(const earshot__intent_model *m, uint64_t k)
{
    size_t mask = m->cap_slots - 1;
    for (size_t i = slot_hash(k, mask);; i = (i + 1) & mask) {
        if (m->slots[i].key == k)
            return m->slots[i].index;
        if (!m->slots[i].key)
            return -1;
    }
}

static int grow_slots(earshot__intent_model *m)
{
    size_t cap = m->cap_slots ? m->cap_slots * 2 : 16384;
    feat_slot *s = calloc(cap, sizeof *s);
    if (!s)
        return 0;
    for (size_t i = 0; i < m->cap_slots; i++) {
        if (!m->slots[i].key)
            continue;
        size_t j = slot_hash(m->slots[i].key, cap - 1);
        while (s[j].key)
            j = (j + 1) & (cap - 1);
        s[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = s;
    m->cap_slots = cap;
    return 1;
}

/* The feature's index, added when new; -1 when out of memory. */
static int add_feat(earshot__intent_model *m, uint64_t k)
{
    int f = find_feat(m, k);
    if (f >= 0)
        return f;
    if ((m->n_feat + 1) * 2 > m->cap_slots && !grow_slots(m))
        return -1;
    if (m->n_feat == m->cap_feat) {
        size_t cap = m->cap_feat ? m->cap_feat * 2 : 8192;
        float *c = realloc(m->count, cap * m->n_classes * sizeof *c);
        if (!c)
            return -1;
        memset(c + m->cap_feat * m->n_classes, 0,
               (cap - m->cap_feat) * m->n_classes * sizeof *c);
        m->count = c;
        m->cap_feat = cap;
    }
    size_t mask = m->cap_slots - 1, i = slot_hash(k, mask);
    while (m->slots[i].key)
        i = (i + 1) & mask;
    m->slots[i] = (feat_slot){k, (int)m->n_feat};
    return (int)m->n_feat++;
}

/* Word ids of a sequence with numbers folded into one pseudo word and the
 * ^ / $ markers as -1 (they break bigrams), plus the negation marks. */
static size_t prepare(const earshot__intent_model *m, const int *tok, const int *num, size_t n,
                      int *w, unsigned char *neg)
{
    int scope = 0;
    for (size_t i = 0; i < n; i++) {
        int t = tok[i];
        /* Numbers are no feature: the model read "level three" and "two
         * adults" as ratings. A rating is the templates' or the rating
         * question's to find. */
        if ((num && num[i] >= 0) || t == TOK_SLOT_SCORE || t == TOK_ANY_NUMBER)
            t = -1;
        else if (t < 0)
            t = -1;
        w[i] = t;
        neg[i] = 0;
        if (t >= 0 && t < (int)m->n_words && m->negator[t]) {
            scope = NEG_SCOPE;
        } else if (t >= 0 && t < (int)m->n_words && m->contrast[t]) {
            scope = 0;
        } else if (scope > 0) {
            neg[i] = 1;
            scope--;
        }
    }
    return n;
}

typedef struct train_ctx {
    earshot__intent_model *m;
    const int *classes; /* the classes a sequence counts for */
    size_t n_cls;
    long seen;
    double weight;
    int prefix; /* a word put in front (the negated sentiment), -1 none */
    int failed;
    /* the sample: up to SAMPLE sequences of one line */
    int (*seq)[MAX_SEQ + 1];
    size_t *len;
} train_ctx;

/* Reservoir sampling with a hash of the index for the dice: one pass over
 * the expansions, SAMPLE of them kept, the same ones every time. */
static int sample_seq(const int *toks, size_t n, void *user)
{
    train_ctx *c = user;
    long i = c->seen++;
    long slot = i;
    if (i >= SAMPLE) {
        uint64_t h = (uint64_t)(i + 1) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
        slot = (long)(h % (uint64_t)(i + 1));
        if (slot >= SAMPLE)
            return 0;
    }
    size_t len = 0;
    if (c->prefix >= 0)
        c->seq[slot][len++] = c->prefix;
    for (size_t k = 0; k < n && len < MAX_SEQ; k++)
        c->seq[slot][len++] = toks[k];
    c->len[slot] = len;
    return 0;
}

static int learn_seq(train_ctx *c, const int *tok, size_t len)
{
    earshot__intent_model *m = c->m;
    int w[MAX_SEQ + 1];
    unsigned char neg[MAX_SEQ + 1];
    prepare(m, tok, NULL, len, w, neg);
    m->n_sequences++;
    for (size_t k = 0; k < len; k++) {
        if (w[k] < 0)
            continue;
        for (int bi = 0; bi < 2; bi++) {
            if (bi && (k == 0 || w[k - 1] < 0))
                continue;
            int f = add_feat(m, feat_key(bi, neg[k], bi ? w[k - 1] : 0, w[k]));
            if (f < 0)
                return 0;
            for (size_t j = 0; j < c->n_cls; j++) {
                m->count[(size_t)f * m->n_classes + (size_t)c->classes[j]] += (float)c->weight;
                m->class_total[c->classes[j]] += c->weight;
            }
        }
    }
    return 1;
}

/* Learns the expansions of e (sampled) for the given classes, the line
 * carrying mass * sqrt(expansions) in all. */
static int learn_entry(earshot__intent_model *m, const earshot__entry *e, const int *classes,
                       size_t n_cls, double mass, int prefix)
{
    if (!n_cls || !e->expr)
        return 1;
    int(*seq)[MAX_SEQ + 1] = m->seq;
    size_t *len = m->len;
    train_ctx c = {m, classes, n_cls, 0, 0, prefix, 0, seq, len};
    earshot__grammar_expand(m->g, e, MAX_EXPANSIONS, sample_seq, &c);
    if (!c.seen)
        return 1;
    size_t used = c.seen < SAMPLE ? (size_t)c.seen : SAMPLE;
    c.weight = mass * sqrt((double)c.seen) / (double)used;
    for (size_t i = 0; i < used; i++)
        if (!learn_seq(&c, seq[i], len[i]))
            return 0;
    return 1;
}

typedef struct mark_ctx {
    unsigned char *flag;
} mark_ctx;

static int mark_single(const int *toks, size_t n, void *user)
{
    mark_ctx *c = user;
    if (n >= 1 && toks[0] >= 0)
        c->flag[toks[0]] = 1; /* "no longer", "not once": the first word */
    return 0;
}

void earshot__intent_model_free(earshot__intent_model *m)
{
    if (!m)
        return;
    free(m->negator);
    free(m->contrast);
    free(m->slots);
    free(m->count);
    free(m->class_total);
    free(m->seq);
    free(m->len);
    free(m);
}

earshot__intent_model *earshot__intent_model_train(const earshot__grammar *g, int other)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    earshot__intent_model *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->g = g;
    m->n_classes = earshot__grammar_n_intents(g);
    m->n_words = earshot__grammar_n_words(g);
    m->num_id = (int)m->n_words;
    size_t nw = m->n_words + 1, nc = m->n_classes ? m->n_classes : 1;
    m->negator = calloc(nw, 1);
    m->contrast = calloc(nw, 1);
    m->class_total = calloc(nc, sizeof *m->class_total);
    int *pos_cls = calloc(nc, sizeof *pos_cls), *neg_cls = calloc(nc, sizeof *neg_cls);
    size_t n_pos = 0, n_neg = 0;
    m->seq = malloc(SAMPLE * sizeof *m->seq);
    m->len = malloc(SAMPLE * sizeof *m->len);
    if (!m->negator || !m->contrast || !m->class_total || !pos_cls || !neg_cls || !m->seq ||
        !m->len || !grow_slots(m))
        goto fail;
    size_t ne = earshot__grammar_n_entries(g);
    for (size_t i = 0; i < ne; i++) {
        const earshot__entry *e = earshot__grammar_entry(g, i);
        mark_ctx mc = {NULL};
        if (e->kind == ENTRY_NEGATOR)
            mc.flag = m->negator;
        else if (e->kind == ENTRY_CONTRAST)
            mc.flag = m->contrast;
        else if (e->kind == ENTRY_FROM_POSITIVE && n_pos < nc)
            pos_cls[n_pos++] = e->target;
        else if (e->kind == ENTRY_FROM_NEGATIVE && n_neg < nc)
            neg_cls[n_neg++] = e->target;
        if (mc.flag && e->expr)
            earshot__grammar_expand(g, e, MAX_EXPANSIONS, mark_single, &mc);
    }
    /* Any "...n't" word of the vocabulary negates too. */
    for (size_t w = 0; w < m->n_words; w++) {
        const char *s = earshot__grammar_word(g, (int)w);
        size_t l = s ? strlen(s) : 0;
        if (l >= 3 && !strcmp(s + l - 3, "n't"))
            m->negator[w] = 1;
    }
    int not_id = earshot__grammar_word_id(g, "not", 3);
    for (size_t i = 0; i < ne; i++) {
        const earshot__entry *e = earshot__grammar_entry(g, i);
        int ok = 1, cls = e->target;
        switch (e->kind) {
        case ENTRY_TEMPLATE:
        case ENTRY_CUE:
            if (e->weight > 0)
                ok = learn_entry(m, e, &cls, 1, 1.0, -1);
            else if (other >= 0)
                ok = learn_entry(m, e, &other, 1, 0.5, -1);
            break;
        case ENTRY_POSITIVE:
        case ENTRY_NEGATIVE: {
            int positive = e->kind == ENTRY_POSITIVE;
            if (e->weight <= 0) {
                if (other >= 0)
                    ok = learn_entry(m, e, &other, 1, SENTIMENT_MASS, -1);
                break;
            }
            ok = learn_entry(m, e, positive ? pos_cls : neg_cls, positive ? n_pos : n_neg,
                             SENTIMENT_MASS, -1);
            if (ok && not_id >= 0)
                ok = learn_entry(m, e, positive ? neg_cls : pos_cls, positive ? n_neg : n_pos,
                                 SENTIMENT_MASS * 0.5, not_id);
            break;
        }
        case ENTRY_TOPIC:
            if (other >= 0)
                ok = learn_entry(m, e, &other, 1, 0.5, -1);
            break;
        default:
            break;
        }
        if (!ok)
            goto fail;
    }
    /* Counts to log probabilities, in place. */
    double v = (double)m->n_feat, zero = log(ALPHA);
    for (size_t c = 0; c < m->n_classes; c++) {
        double denom = log(m->class_total[c] + ALPHA * v);
        for (size_t f = 0; f < m->n_feat; f++) {
            /* most counts are 0: spare them the log */
            float *x = &m->count[f * m->n_classes + c];
            *x = (float)((*x > 0 ? log((double)*x + ALPHA) : zero) - denom);
        }
    }
    free(pos_cls);
    free(neg_cls);
    free(m->seq);
    free(m->len);
    m->seq = NULL;
    m->len = NULL;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    m->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    return m;
fail:
    free(pos_cls);
    free(neg_cls);
    earshot__intent_model_free(m);
    return NULL;
}

size_t earshot__intent_model_classify(const earshot__intent_model *m, const int *tok,
                                      const int *num, const double *conf, size_t n,
                                      double *post)
{
    size_t nc = m->n_classes, found = 0;
    for (size_t c = 0; c < nc; c++)
        post[c] = 0;
    int w[256];
    unsigned char neg[256];
    if (n > 256)
        n = 256;
    prepare(m, tok, num, n, w, neg);
    for (size_t k = 0; k < n; k++) {
        if (w[k] < 0)
            continue;
        double trust = conf ? conf[k] : 1.0;
        for (int bi = 0; bi < 2; bi++) {
            if (bi && (k == 0 || w[k - 1] < 0))
                continue;
            int f = find_feat(m, feat_key(bi, neg[k], bi ? w[k - 1] : 0, w[k]));
            if (f < 0)
                continue; /* a feature the grammar never shows says nothing */
            found++;
            const float *lp = &m->count[(size_t)f * nc];
            for (size_t c = 0; c < nc; c++)
                post[c] += trust * lp[c];
        }
    }
    /* Naive Bayes counts overlapping unigrams and bigrams as independent
     * evidence and so is far too sure; a temperature tames it (3 kept the
     * tuning sets' "other" rows other: README "Learned back-off"). */
    for (size_t c = 0; c < nc; c++)
        post[c] /= TEMPERATURE;
    double top = -INFINITY, sum = 0;
    for (size_t c = 0; c < nc; c++)
        if (post[c] > top)
            top = post[c];
    for (size_t c = 0; c < nc; c++) {
        post[c] = exp(post[c] - top);
        sum += post[c];
    }
    for (size_t c = 0; c < nc; c++)
        post[c] /= sum;
    return found;
}

double earshot__intent_model_train_seconds(const earshot__intent_model *m)
{
    return m->seconds;
}

size_t earshot__intent_model_n_sequences(const earshot__intent_model *m)
{
    return m->n_sequences;
}

/* Calibration: intent_confidence is the probability that the intent is
 * right. The raw scores (template evidence ev / (ev + 1), the back-off's
 * posterior, the context's fixed confidences) are not: the dev text was
 * right 100 % of the time at 0.55, and misheard speech is wrong at 0.85.
 * Each kind of decision gets its own Platt map on the logit of its raw
 * score plus the utterance's mean word posterior (1 for text):
 *     p = 1 / (1 + exp(-(a + b * logit(raw) + c * (heard - 1))))
 * with b, c >= 0, so p rises with the raw score (tests/test_intent.c
 * checks) and never with doubt. The constants were fitted once, offline,
 * by L2-penalised logistic regression on the dev text (130 rows), the dev
 * flite speech (130 rows) and the field subset (synth-field.sh ROWS=10:
 * 13 rows in six conditions, where misheard words teach c): a build with
 * -DEARSHOT_FIT_CALIBRATION reports kind + raw as the confidence,
 * `eval_intents --rows` writes them with the mean word posterior, and
 * bench/fit_calibration.py fits (README "Calibrated confidence" has the
 * commands). Template decisions: 252 rows, 246 right; "other": 49 rows,
 * 38 right. The model's constants are the earlier fit's (97 rows, 91
 * right, with -DEARSHOT_FIT_MODEL, where it decides every dev row it would
 * fire on; by itself it decides none). No dev row asks a question, so the
 * context's answers (bare 0.9, in a sentence 0.8, times the least trusted
 * word) take the template map: their raw scale was set as a whole-template
 * match's. A gated utterance (unclear words, narrowband audio: set_other)
 * is "other" with the fit's share of gated rows that were other (37 rows,
 * 8 right), shrunk toward the dev set's share of other rows: 0.188. ECE
 * (10 bins), raw -> calibrated: dev text 0.258 -> 0.038, flite 0.201 ->
 * 0.051, field pooled (78 files) 0.180 -> 0.075. */
static const double cal_a[CAL_N] = {2.116, 0.463, 0.963, 2.116, 0.000};
static const double cal_b[CAL_N] = {2.034, 0.322, 0.284, 2.034, 0.000};
static const double cal_c[CAL_N] = {1.348, 0.574, 0.000, 1.348, 0.000};
static const double cal_gated = 0.188;

double earshot__intent_calibrate(int kind, double raw, double heard)
{
#ifdef EARSHOT_FIT_CALIBRATION
    (void)heard;
    (void)cal_a, (void)cal_b, (void)cal_c, (void)cal_gated;
    return kind + 0.999 * raw;
#else
    if (kind == CAL_GATED)
        return cal_gated;
    double r = raw < 1e-4 ? 1e-4 : raw > 1 - 1e-4 ? 1 - 1e-4 : raw;
    double z = cal_a[kind] + cal_b[kind] * log(r / (1 - r)) + cal_c[kind] * (heard - 1);
    return 1 / (1 + exp(-z));
#endif
}
