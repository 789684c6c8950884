/* intent.c - from words to meaning: intents, the rating slot, sentiment
 * and topics, driven by the grammar folder.
 *
 * Every phrase of the grammar (template expansions, cues, topic keywords,
 * sentiment words, number words) goes into one token trie. An utterance is
 * scanned once: from each word, the trie is walked as far as it matches,
 * and every phrase found adds its evidence. That costs O(words x phrase
 * length) whatever the size of the grammar.
 *
 * Why evidence rather than whole-sentence matching alone: customers phrase
 * things in ways no template foresaw, and the recogniser gets words wrong.
 * A template matched whole is strong evidence; matched as part of a longer
 * utterance it is weaker but still counts; short cue phrases ("cancel",
 * "speak to someone") and the sentiment of the words add up. Each intent
 * whose evidence reaches 1 "applies", and the primary intent is the first
 * applying one in the grammar's order (the precedence rule of
 * ../shared/eval/README.md). */
#include "array.h"
#include "intent.h"
#include "intent_model.h"
#include "redact.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_TOKENS 256
#ifndef SOFT_WEIGHT
#define SOFT_WEIGHT 0.3 /* soft word evidence, see build_assoc() */
#endif
#define MAX_EXPANSIONS 20000 /* per entry: more is a grammar mistake */
#ifndef MODEL_THRESHOLD
#define MODEL_THRESHOLD 0.9 /* the back-off's posterior to give an intent */
#endif
#ifndef MODEL_MIN_EVIDENCE
#define MODEL_MIN_EVIDENCE 0.2 /* template evidence the intent needs too */
#endif
#ifndef MODEL_MIN_FEATURES
#define MODEL_MIN_FEATURES 2 /* known features it needs to say anything */
#endif

typedef struct hit {
    int entry; /* index into the grammar's entries */
    int next;  /* next hit at the same trie node, -1 at the end */
} hit;

typedef struct edge_slot {
    uint64_t key; /* parent node << 20 | token + 16; 0 = empty */
    int child;
} edge_slot;

typedef struct scan {
    struct earshot__matcher *m;
    int tok[MAX_TOKENS];
    int num[MAX_TOKENS];      /* number value or -1 */
    double conf[MAX_TOKENS];  /* word confidence, 1 for text */
    size_t n;
    /* sentiment marks per token position */
    double pol[MAX_TOKENS];   /* polarity of the word(s) starting here */
    int pol_len[MAX_TOKENS];
    int negator[MAX_TOKENS];  /* a negator ends here (1) */
    int hypo[MAX_TOKENS];     /* a hypothetical marker ends here (1) */
    double inten[MAX_TOKENS]; /* intensifier factor starting here, 0 none */
    int contrast;             /* position of the last contrast word, -1 */
    int not_score[MAX_TOKENS];
    int vneg[MAX_TOKENS];     /* a verbal negator ("not", "never", "...n't") */
    /* answer phrases ([answers]): the longest starting here */
    int ans[MAX_TOKENS];      /* EARSHOT__ANSWER_* */
    int ans_len[MAX_TOKENS];  /* 0: none starts here */
    /* rating candidates */
    int score, score_strength;
    int start_pos; /* the scan's start position, for ^ */
    int turned;    /* a phrase was turned around (turned_around()) */
} scan;

struct earshot__matcher {
    const earshot__grammar *g;
    double word_floor; /* earshot_config.word_confidence_floor */
    const earshot__redactor *redactor; /* optional */
    /* trie */
    int *first_hit; /* per node, -1 none */
    size_t n_nodes, cap_nodes;
    hit *hits;
    size_t n_hits, cap_hits;
    edge_slot *edges;
    size_t n_edges, cap_edges; /* cap is a power of two */
    /* number words: vocabulary id -> value, -1 if not a number */
    int *number_of;
    /* word -> intent association learnt from the grammar's own phrases:
     * n_words x n_intents, 0 for words that say nothing */
    float *assoc;
    earshot__intent_model *model; /* the learned back-off, NULL: none */
    double *post;                 /* its posterior, per intent */
    double *trust;                /* per token, for it */
    size_t n_intents, n_topics, n_entries;
    int other; /* index of the "other" intent, or -1 */
    /* Intents a verbal negator just before their phrase turns around
     * ("i'm not cancelling", "i don't need help"), per intent; and the
     * verbal negators, per vocabulary id. */
    unsigned char *flips;
    unsigned char *verbal_neg;
    int cancel; /* index of "cancel", or -1 */
    earshot_question question; /* what the next utterance answers */
    /* per-utterance scratch */
    unsigned *seen;   /* per entry: stamp of the last utterance it counted in */
    unsigned stamp;
    double *evidence; /* per intent */
    double *topic_ev;
    const char **topic_out;
    char *text_copy;
    size_t text_cap;
    scan *scratch;
};

/* ------------------------------------------------------------------ */
/* building                                                            */
/* ------------------------------------------------------------------ */


static uint64_t edge_key(int node, int tok)
{
    return ((uint64_t)(unsigned)node << 20 | (uint64_t)(unsigned)(tok + 16)) + 1;
}

static size_t edge_hash(uint64_t k, size_t mask)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return (size_t)k & mask;
}

static int edge_get(const earshot__matcher *m, int node, int tok)
{
    uint64_t k = edge_key(node, tok);
    size_t mask = m->cap_edges - 1;
    for (size_t i = edge_hash(k, mask);; i = (i + 1) & mask) {
        if (m->edges[i].key == k)
            return m->edges[i].child;
        if (m->edges[i].key == 0)
            return -1;
    }
}

static int new_node(earshot__matcher *m)
{
    if (!earshot__grow((void **)&m->first_hit, &m->cap_nodes, m->n_nodes + 1, sizeof *m->first_hit))
        return -1;
    m->first_hit[m->n_nodes] = -1;
    return (int)m->n_nodes++;
}

static int rehash(earshot__matcher *m)
{
    size_t cap = m->cap_edges ? m->cap_edges * 2 : 4096;
    edge_slot *e = calloc(cap, sizeof *e);
    if (!e)
        return 0;
    for (size_t i = 0; i < m->cap_edges; i++) {
        if (!m->edges[i].key)
            continue;
        size_t j = edge_hash(m->edges[i].key, cap - 1);
        while (e[j].key)
            j = (j + 1) & (cap - 1);
        e[j] = m->edges[i];
    }
    free(m->edges);
    m->edges = e;
    m->cap_edges = cap;
    return 1;
}

static int edge_add(earshot__matcher *m, int node, int tok)
{
    int child = edge_get(m, node, tok);
    if (child >= 0)
        return child;
    if ((m->n_edges + 1) * 2 > m->cap_edges && !rehash(m))
        return -1;
    child = new_node(m);
    if (child < 0)
        return -1;
    uint64_t k = edge_key(node, tok);
    size_t mask = m->cap_edges - 1, i = edge_hash(k, mask);
    while (m->edges[i].key)
        i = (i + 1) & mask;
    m->edges[i] = (edge_slot){k, child};
    m->n_edges++;
    return child;
}

typedef struct add_ctx {
    earshot__matcher *m;
    int entry;
    int failed;
} add_ctx;

static int add_sequence(const int *toks, size_t n, void *user)
{
    add_ctx *c = user;
    earshot__matcher *m = c->m;
    int node = 0;
    for (size_t i = 0; i < n; i++) {
        node = edge_add(m, node, toks[i]);
        if (node < 0) {
            c->failed = 1;
            return 1;
        }
    }
    /* The same entry may reach one node twice (an optional word that is
     * also spelt out); count it once. */
    for (int h = m->first_hit[node]; h >= 0; h = m->hits[h].next)
        if (m->hits[h].entry == c->entry)
            return 0;
    if (!earshot__grow((void **)&m->hits, &m->cap_hits, m->n_hits + 1, sizeof *m->hits)) {
        c->failed = 1;
        return 1;
    }
    m->hits[m->n_hits] = (hit){c->entry, m->first_hit[node]};
    m->first_hit[node] = (int)m->n_hits++;
    return 0;
}

typedef struct assoc_ctx {
    earshot__matcher *m;
    unsigned char *used; /* per word: seen in this entry */
} assoc_ctx;

static int mark_words(const int *toks, size_t n, void *user)
{
    assoc_ctx *c = user;
    for (size_t i = 0; i < n; i++)
        if (toks[i] >= 0)
            c->used[toks[i]] = 1;
    return 0;
}

/* Soft evidence for phrasings no line foresaw: a word that the grammar
 * uses for one or two intents only ("refund", "supervisor", "delete")
 * points to them wherever it appears. Each word's weight is its share of
 * the grammar lines using it, per intent, scaled by how few intents use
 * it; words spread over many intents ("the", "my", "please") get none. */
static int build_assoc(earshot__matcher *m)
{
    size_t nw = earshot__grammar_n_words(m->g), ni = m->n_intents;
    if (!nw || !ni)
        return 1;
    float *cnt = calloc(nw * ni, sizeof *cnt);
    unsigned char *used = calloc(nw, 1);
    m->assoc = calloc(nw * ni, sizeof *m->assoc);
    if (!cnt || !used || !m->assoc) {
        free(cnt);
        free(used);
        return 0;
    }
    assoc_ctx c = {m, used};
    for (size_t i = 0; i < m->n_entries; i++) {
        const earshot__entry *e = earshot__grammar_entry(m->g, i);
        if ((e->kind != ENTRY_TEMPLATE && e->kind != ENTRY_CUE) || e->weight <= 0 || !e->expr)
            continue;
        memset(used, 0, nw);
        earshot__grammar_expand(m->g, e, 2000, mark_words, &c);
        for (size_t w = 0; w < nw; w++)
            if (used[w])
                cnt[w * ni + (size_t)e->target] += 1.0f;
    }
    for (size_t w = 0; w < nw; w++) {
        if (m->number_of[w] >= 0)
            continue;
        float total = 0;
        size_t spread = 0;
        for (size_t k = 0; k < ni; k++) {
            total += cnt[w * ni + k];
            spread += cnt[w * ni + k] > 0;
        }
        if (!spread || spread > 2)
            continue;
        float idf = spread == 1 ? 1.0f : 0.5f;
        for (size_t k = 0; k < ni; k++)
            m->assoc[w * ni + k] = idf * cnt[w * ni + k] / total;
    }
    free(cnt);
    free(used);
    return 1;
}

typedef struct num_ctx {
    earshot__matcher *m;
    int value;
} num_ctx;

static int add_number(const int *toks, size_t n, void *user)
{
    num_ctx *c = user;
    if (n == 1 && toks[0] >= 0)
        c->m->number_of[toks[0]] = c->value;
    return 0;
}

earshot__matcher *earshot__matcher_new(const earshot__grammar *g, char *err, size_t errlen)
{
    earshot__matcher *m = calloc(1, sizeof *m);
    if (!m)
        goto nomem;
    m->g = g;
    m->n_intents = earshot__grammar_n_intents(g);
    m->n_topics = earshot__grammar_n_topics(g);
    m->n_entries = earshot__grammar_n_entries(g);
    m->other = -1;
    for (size_t i = 0; i < m->n_intents; i++)
        if (!strcmp(earshot__grammar_intent(g, i), "other"))
            m->other = (int)i;
    size_t nw = earshot__grammar_n_words(g);
    m->number_of = malloc((nw ? nw : 1) * sizeof *m->number_of);
    m->seen = calloc(m->n_entries ? m->n_entries : 1, sizeof *m->seen);
    m->evidence = calloc(m->n_intents + 1, sizeof *m->evidence);
    m->topic_ev = calloc(m->n_topics + 1, sizeof *m->topic_ev);
    m->topic_out = calloc(m->n_topics + 1, sizeof *m->topic_out);
    m->scratch = calloc(1, sizeof *m->scratch);
    if (!m->scratch || !m->number_of || !m->seen || !m->evidence || !m->topic_ev || !m->topic_out ||
        new_node(m) != 0 || !rehash(m))
        goto nomem;
    for (size_t i = 0; i < nw; i++)
        m->number_of[i] = -1;
    for (size_t i = 0; i < m->n_entries; i++) {
        const earshot__entry *e = earshot__grammar_entry(g, i);
        if (!e->expr)
            continue;
        if (e->kind == ENTRY_NUMBER) {
            num_ctx nc = {m, e->target};
            earshot__grammar_expand(g, e, MAX_EXPANSIONS, add_number, &nc);
            continue;
        }
        add_ctx c = {m, (int)i, 0};
        long n = earshot__grammar_expand(g, e, MAX_EXPANSIONS, add_sequence, &c);
        if (c.failed)
            goto nomem;
        if (n < 0) {
            snprintf(err, errlen, "%s:%d: this line expands to more than %d phrases; split it "
                     "or use fewer optional parts",
                     earshot__grammar_file(g, (size_t)e->file), e->line, MAX_EXPANSIONS);
            earshot__matcher_free(m);
            return NULL;
        }
    }
    if (!build_assoc(m))
        goto nomem;
    m->flips = calloc(m->n_intents + 1, 1);
    m->verbal_neg = calloc(nw + 1, 1);
    if (!m->flips || !m->verbal_neg)
        goto nomem;
    m->cancel = -1;
    for (size_t k = 0; k < m->n_intents; k++) {
        const char *name = earshot__grammar_intent(g, k);
        static const char *const flip[] = {"forget_me", "consent_yes", "cancel", "help_request"};
        for (size_t f = 0; f < sizeof flip / sizeof *flip; f++)
            if (!strcmp(name, flip[f]))
                m->flips[k] = 1;
        if (!strcmp(name, "cancel"))
            m->cancel = (int)k;
    }
    for (size_t w = 0; w < nw; w++) {
        const char *word = earshot__grammar_word(g, (int)w);
        size_t l = strlen(word);
        m->verbal_neg[w] = (l >= 3 && !strcmp(word + l - 3, "n't")) || !strcmp(word, "not") ||
                           !strcmp(word, "never") || !strcmp(word, "cannot");
    }
    m->model = earshot__intent_model_train(g, m->other);
    m->post = calloc(m->n_intents + 1, sizeof *m->post);
    m->trust = calloc(MAX_TOKENS, sizeof *m->trust);
    if (!m->model || !m->post || !m->trust)
        goto nomem;
    return m;
nomem:
    snprintf(err, errlen, "out of memory");
    earshot__matcher_free(m);
    return NULL;
}

void earshot__matcher_free(earshot__matcher *m)
{
    if (!m)
        return;
    free(m->first_hit);
    free(m->hits);
    free(m->edges);
    free(m->number_of);
    free(m->assoc);
    free(m->flips);
    free(m->verbal_neg);
    earshot__intent_model_free(m->model);
    free(m->post);
    free(m->trust);
    free(m->seen);
    free(m->evidence);
    free(m->topic_ev);
    free(m->topic_out);
    free(m->text_copy);
    free(m->scratch);
    free(m);
}

/* ------------------------------------------------------------------ */
/* matching                                                            */
/* ------------------------------------------------------------------ */


static double span_conf(const scan *s, size_t i, size_t j)
{
    double c = 0;
    for (size_t k = i; k < j; k++)
        c += s->conf[k];
    return j > i ? c / (double)(j - i) : 1.0;
}

/* Evidence from words the recogniser doubted counts for less: full weight
 * from a posterior of 0.4 up (a correctly heard word often scores 0.5), down
 * to 0.6 of it for a word it all but guessed. */
static double word_trust(const earshot__matcher *m, double conf)
{
    /* Below the floor a word is noise the domain model shaped into a
     * keyword; it counts for nothing. */
    if (conf < m->word_floor)
        return 0.0;
    double t = 0.6 + conf;
    return t > 1.0 ? 1.0 : t;
}

/* Head nouns that make a cancel word a modifier: "the cancellation fee"
 * asks about a price, it cancels nothing. */
static int modifier_head(const earshot__matcher *m, int tok)
{
    static const char *const heads[] = {"fee", "fees", "charge", "charges", "policy",
                                        "policies", "period", "terms", "cost", "costs",
                                        "penalty", "insurance"};
    if (tok < 0)
        return 0;
    const char *w = earshot__grammar_word(m->g, tok);
    for (size_t k = 0; k < sizeof heads / sizeof *heads; k++)
        if (!strcmp(w, heads[k]))
            return 1;
    return 0;
}

/* Whether the phrase at [i, j) says the opposite of its intent here: a
 * verbal negator in the three words before it ("i'm not cancelling", "i
 * don't want to cancel", "i don't need any help") when the phrase holds
 * none itself, for the intents a negation turns around; or, for cancel,
 * a head noun right after it. Complaints are left alone: "doesn't work"
 * and "can't log in" are the complaint. */
static int turned_around(const scan *s, int target, size_t i, size_t j)
{
    const earshot__matcher *m = s->m;
    if (target == m->cancel && j < s->n && modifier_head(m, s->tok[j]))
        return 1;
    if (!m->flips[target])
        return 0;
    for (size_t k = i; k < j; k++)
        if (s->vneg[k])
            return 0;
    /* A negator that belongs to a sentiment phrase between ("not
     * bothered, record it") turns that phrase, not this one. */
    for (size_t k = i >= 3 ? i - 3 : 0; k < i; k++)
        if (s->vneg[k]) {
            for (size_t p = k; p < i; p++)
                if (s->pol_len[p] && p + (size_t)s->pol_len[p] <= i)
                    return 0;
            return 1;
        }
    return 0;
}

static void apply_hits(scan *s, int node, size_t i, size_t j, int slot_at)
{
    earshot__matcher *m = s->m;
    size_t len = j - i;
    for (int h = m->first_hit[node]; h >= 0; h = m->hits[h].next) {
        int ei = m->hits[h].entry;
        const earshot__entry *e = earshot__grammar_entry(m->g, (size_t)ei);
        /* Evidence from misheard words counts for less, and a phrase
         * holding a word below the floor is no evidence at all. */
        double trust = word_trust(m, span_conf(s, i, j));
        for (size_t k = i; k < j; k++)
            if (s->conf[k] < m->word_floor)
                trust = 0.0;
        if (trust <= 0.0)
            continue;
        /* "ten pounds" holds no rating: a phrase whose {score} falls on
         * such a number does not match at all. */
        if (slot_at >= 0 && s->not_score[slot_at] &&
            (e->kind == ENTRY_TEMPLATE || e->kind == ENTRY_CUE))
            continue;
        if ((e->kind == ENTRY_CUE || (e->kind == ENTRY_TEMPLATE && !(i == 0 && j == s->n))) &&
            e->weight > 0 && turned_around(s, e->target, i, j)) {
            s->turned = 1;
            continue;
        }
        switch (e->kind) {
        case ENTRY_TEMPLATE: {
            int whole = i == 0 && j == s->n;
            if (!whole && len < 2)
                break; /* one word alone says little inside a sentence */
            double ev = whole ? 3.0 : 1.0 + 2.0 * (double)len / (double)s->n;
            ev *= e->weight * trust;
            if (ev > m->evidence[e->target])
                m->evidence[e->target] = ev;
            if (slot_at >= 0) {
                int strength = (int)len + (whole ? 100 : 0);
                if (strength > s->score_strength) {
                    s->score_strength = strength;
                    s->score = s->num[slot_at];
                }
            }
            break;
        }
        case ENTRY_CUE:
            if (m->seen[ei] != m->stamp) {
                m->seen[ei] = m->stamp;
                m->evidence[e->target] += e->weight * trust;
            }
            if (slot_at >= 0 && (int)len > s->score_strength) {
                s->score_strength = (int)len;
                s->score = s->num[slot_at];
            }
            break;
        case ENTRY_TOPIC:
            if (m->seen[ei] != m->stamp) {
                m->seen[ei] = m->stamp;
                m->topic_ev[e->target] += e->weight * trust;
            }
            break;
        case ENTRY_POSITIVE:
        case ENTRY_NEGATIVE:
            /* The longest sentiment phrase from a position wins ("not bad"
             * written as one phrase beats "bad"). */
            if ((int)len > s->pol_len[i]) {
                s->pol_len[i] = (int)len;
                s->pol[i] = (e->kind == ENTRY_POSITIVE ? 1 : -1) * e->weight;
            }
            break;
        case ENTRY_NEGATOR:
            s->negator[j - 1] = 1;
            break;
        case ENTRY_INTENSIFIER:
            s->inten[i] = e->weight;
            break;
        case ENTRY_CONTRAST:
            s->contrast = (int)i;
            break;
        case ENTRY_HYPOTHETICAL:
            s->hypo[j - 1] = 1;
            break;
        case ENTRY_NOT_SCORE:
            for (size_t k = i; k < j; k++)
                if (s->num[k] >= 0)
                    s->not_score[k] = 1;
            break;
        case ENTRY_ANSWER:
            if ((int)len > s->ans_len[i]) {
                s->ans_len[i] = (int)len;
                s->ans[i] = e->target;
            }
            break;
        case ENTRY_NUMBER:
        case ENTRY_FROM_POSITIVE:
        case ENTRY_FROM_NEGATIVE:
            break;
        }
    }
}

/* Walks the trie from node along the tokens from position j. A number
 * word may follow a word edge, a {score} edge or a <number> edge, so the
 * walk branches there. */
static void walk(scan *s, int node, size_t i, size_t j, int slot_at)
{
    earshot__matcher *m = s->m;
    if (m->first_hit[node] >= 0 && j > i)
        apply_hits(s, node, i, j, slot_at);
    if (j >= s->n) {
        int end = edge_get(m, node, TOK_END);
        if (end >= 0 && m->first_hit[end] >= 0 && j > i)
            apply_hits(s, end, i, j, slot_at);
        return;
    }
    int next;
    if (s->tok[j] >= 0 && (next = edge_get(m, node, s->tok[j])) >= 0)
        walk(s, next, i, j + 1, slot_at);
    if (s->num[j] >= 0) {
        if ((next = edge_get(m, node, TOK_SLOT_SCORE)) >= 0)
            walk(s, next, i, j + 1, (int)j);
        if ((next = edge_get(m, node, TOK_ANY_NUMBER)) >= 0)
            walk(s, next, i, j + 1, slot_at);
    }
}

/* The grammar's name for an intent, or NULL when it has none by that
 * name (a grammar folder without consent intents, say). */
static const char *intent_named(const earshot__matcher *m, const char *name)
{
    for (size_t k = 0; k < m->n_intents; k++)
        if (!strcmp(earshot__grammar_intent(m->g, k), name))
            return earshot__grammar_intent(m->g, k);
    return NULL;
}

/* On by default: intent_confidence is the probability that the intent is
 * right (plugin/intent_model.c, earshot__intent_calibrate). The store's
 * erasure gate (earshot_store_config.confirm_confidence) is on this
 * scale. Build with -DEARSHOT_CALIBRATED_CONFIDENCE=0 for the raw scores
 * (template evidence ev / (ev + 1), the back-off's posterior). */
#ifndef EARSHOT_CALIBRATED_CONFIDENCE
#define EARSHOT_CALIBRATED_CONFIDENCE 1
#endif

static double calibrate(int kind, double raw, double heard)
{
#if EARSHOT_CALIBRATED_CONFIDENCE || defined(EARSHOT_FIT_CALIBRATION)
    return earshot__intent_calibrate(kind, raw, heard);
#else
    (void)heard;
    return kind == CAL_GATED ? 0.5 : raw;
#endif
}

static void set_intent(earshot_analysis *out, const char *intent, double conf)
{
    if (!intent)
        return;
    out->intent = intent;
    out->confidence = conf;
}

/* Reads the utterance as an answer to the pending question. The [answers]
 * phrases say yes or no; an answer is "bare" when answer phrases and
 * fillers cover every word ("no that's all", "okay go on then"), which is
 * what tells a reply to the question from a sentence that happens to hold
 * "no" ("no one helped me"). Why this is done after the open reading
 * rather than instead of it: an utterance that ignores the question ("where
 * are the toilets") keeps its own intent, and forget_me, the customer's
 * strongest wish, is never overridden by a context. */
static void read_answer(earshot__matcher *m, scan *s, earshot_analysis *out)
{
    out->question = m->question;
    out->answer = EARSHOT_ANSWER_NONE;
    if (m->question == EARSHOT_ASK_NONE)
        return;
    int polarity = 0, covered = 1;
    double trust = 1.0; /* the least trusted word of the deciding phrase */
    for (size_t i = 0; i < s->n; i++) {
        if (!s->ans_len[i]) {
            covered = 0;
            continue;
        }
        int a = s->ans[i];
        size_t len = (size_t)s->ans_len[i];
        /* An answer comes first: "nothing" or "don't" after other words
         * ("there's nothing wrong") answers nothing. */
        if ((a == EARSHOT__ANSWER_YES || a == EARSHOT__ANSWER_NO) && !polarity && covered) {
            /* A negator just before a yes phrase turns it ("not fine by
             * me"); the first yes or no decides, since people answer first
             * and explain after ("no, sure, whatever you need" is rare). */
            polarity = a;
            if (a == EARSHOT__ANSWER_YES && i > 0 && s->negator[i - 1] && !s->ans_len[i - 1])
                polarity = EARSHOT__ANSWER_NO;
            for (size_t k = i; k < i + len && k < s->n; k++)
                if (word_trust(s->m, s->conf[k]) < trust)
                    trust = word_trust(s->m, s->conf[k]);
        } else if (a == EARSHOT__ANSWER_UNSURE && !polarity && covered) {
            polarity = 2; /* "not sure": no answer, and "sure" inside it is none */
        }
        i += len - 1;
    }
    if (polarity == 2)
        polarity = 0;
    out->answer = polarity > 0 ? EARSHOT_ANSWER_YES : polarity < 0 ? EARSHOT_ANSWER_NO
                                                                    : EARSHOT_ANSWER_NONE;
    int bare = covered && s->n > 0;
    /* A bare answer is all the customer said in reply: as sure as a
     * whole-template match (3 / (3 + 1)) plus the context's own weight; an
     * answer inside a longer sentence less so. */
    double conf = (bare ? 0.9 : 0.8) * trust;
    const char *other = m->other >= 0 ? earshot__grammar_intent(m->g, (size_t)m->other) : "other";
    int is_forget = !strcmp(out->intent, "forget_me");
    int is_consent = !strcmp(out->intent, "consent_yes") || !strcmp(out->intent, "consent_no");

    switch (m->question) {
    case EARSHOT_ASK_CONSENT:
        if (is_forget || !polarity)
            break;
        /* A consent intent of its own words stands unless the answer is
         * bare: "sure but don't record my voice" is a refusal. */
        if (is_consent && !bare)
            break;
    {
        const char *want = intent_named(m, polarity > 0 ? "consent_yes" : "consent_no");
        /* Its own words may make it surer than the context does. */
        set_intent(out, want, out->intent == want && out->confidence > conf ? out->confidence
                                                                            : conf);
    }
        out->score = -1;
        break;
    case EARSHOT_ASK_RATING: {
        if (is_forget || !strcmp(out->intent, "cancel"))
            break;
        if (!strcmp(out->intent, "nps") && out->score >= 0)
            break;
        /* One number, not part of "ten pounds" or "kiosk four", is the
         * rating; two different ones ("six or seven") are left alone. */
        int score = -1, several = 0;
        double t = 1.0;
        for (size_t i = 0; i < s->n; i++) {
            if (s->num[i] < 0 || s->not_score[i])
                continue;
            if (score >= 0 && score != s->num[i])
                several = 1;
            score = s->num[i];
            t = word_trust(s->m, s->conf[i]);
        }
        if (score >= 0 && !several) {
            if (!(is_consent && !bare)) {
                set_intent(out, intent_named(m, "nps"), 0.85 * t);
                out->score = score;
            }
        } else if (bare && (polarity || is_consent)) {
            /* "no thanks" declines to rate; it withdraws no consent. */
            set_intent(out, other, conf);
            out->score = -1;
        }
        break;
    }
    case EARSHOT_ASK_ANYTHING_ELSE:
        if (bare && polarity && !is_forget) {
            set_intent(out, other, conf);
            out->score = -1;
        }
        break;
    case EARSHOT_ASK_CONFIRM_FORGET:
        if (polarity > 0 && (bare || !is_consent)) {
            set_intent(out, intent_named(m, "forget_me"),
                       is_forget && out->confidence > conf ? out->confidence : conf);
        } else if (polarity < 0 && (bare || !is_forget)) {
            /* "no, keep it": the customer changed their mind. */
            set_intent(out, other, conf);
        }
        out->score = -1;
        break;
    case EARSHOT_ASK_NONE:
        break;
    }
}

void earshot__matcher_set_question(earshot__matcher *m, earshot_question q)
{
    m->question = q;
}

/* Lower-cases and splits on anything but letters, digits and apostrophes.
 * Digits 0-10 count as numbers as well as number words. */
static size_t tokenize(earshot__matcher *m, char *text, scan *s)
{
    size_t n = 0;
    char *p = text;
    while (*p && n < MAX_TOKENS) {
        while (*p && !(isalnum((unsigned char)*p) || *p == '\''))
            p++;
        if (!*p)
            break;
        char *w = p;
        while (*p && (isalnum((unsigned char)*p) || *p == '\'')) {
            *p = (char)tolower((unsigned char)*p);
            p++;
        }
        size_t len = (size_t)(p - w);
        int id = earshot__grammar_word_id(m->g, w, len);
        s->tok[n] = id;
        s->num[n] = id >= 0 ? m->number_of[id] : -1;
        if (s->num[n] < 0 && len <= 2 && isdigit((unsigned char)w[0]) &&
            (len == 1 || (w[0] == '1' && w[1] == '0')))
            s->num[n] = atoi(w);
        s->conf[n] = 1.0;
        s->vneg[n] = id >= 0 && m->verbal_neg[id];
        n++;
    }
    return n;
}

void earshot__matcher_use_redactor(earshot__matcher *m, const earshot__redactor *r)
{
    m->redactor = r;
}

/* Removes "[TAG]" spans that redaction put in. */
static void strip_tags(char *s)
{
    char *w = s;
    for (char *r = s; *r;) {
        if (*r == '[') {
            char *end = strchr(r, ']');
            if (end) {
                r = end + 1;
                continue;
            }
        }
        *w++ = *r++;
    }
    *w = '\0';
}

/* Whether [answers] phrases and fillers cover every word. */
static int bare_answer(const scan *s)
{
    size_t i = 0;
    while (i < s->n && s->ans_len[i])
        i += (size_t)s->ans_len[i];
    return s->n > 0 && i >= s->n;
}

int earshot__matcher_analyze(earshot__matcher *m, const char *text, const double *conf,
                             size_t n_conf, earshot_analysis *out)
{
    char *redacted = NULL;
    if (m->redactor) {
        unsigned found = 0;
        redacted = earshot__redact(m->redactor, text, &found);
        if (redacted && (found & (EARSHOT__PII_PHONE | EARSHOT__PII_CARD | EARSHOT__PII_NUMBER |
                                  EARSHOT__PII_EMAIL))) {
            /* Word confidences no longer line up with the words. */
            strip_tags(redacted);
            text = redacted;
            conf = NULL;
            n_conf = 0;
        }
    }
    size_t tl = strlen(text) + 1;
    if (!earshot__grow((void **)&m->text_copy, &m->text_cap, tl, 1)) {
        free(redacted);
        return EARSHOT_NOMEM;
    }
    memcpy(m->text_copy, text, tl);
    free(redacted);
    scan *s = m->scratch;
    s->m = m;
    s->n = tokenize(m, m->text_copy, s);
    size_t n = s->n;
    memset(s->pol, 0, n * sizeof *s->pol);
    memset(s->pol_len, 0, n * sizeof *s->pol_len);
    memset(s->negator, 0, n * sizeof *s->negator);
    memset(s->hypo, 0, n * sizeof *s->hypo);
    memset(s->inten, 0, n * sizeof *s->inten);
    memset(s->not_score, 0, n * sizeof *s->not_score);
    memset(s->ans_len, 0, n * sizeof *s->ans_len);
    s->score_strength = 0;
    s->turned = 0;
    s->contrast = -1;
    s->score = -1;
    if (conf && n_conf == s->n)
        for (size_t k = 0; k < s->n; k++)
            s->conf[k] = conf[k];
    if (++m->stamp == 0) {
        memset(m->seen, 0, m->n_entries * sizeof *m->seen);
        m->stamp = 1;
    }
    memset(m->evidence, 0, m->n_intents * sizeof *m->evidence);
    memset(m->topic_ev, 0, m->n_topics * sizeof *m->topic_ev);

    /* Two passes: the first finds number contexts that are no rating
     * ("twenty minutes", "kiosk four") and sentiment marks; the second
     * reads intents and slots knowing them. Both passes walk every start
     * position; the trie keeps that cheap. */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            m->stamp++;
            if (m->stamp == 0)
                m->stamp = 1;
            memset(m->evidence, 0, m->n_intents * sizeof *m->evidence);
            memset(m->topic_ev, 0, m->n_topics * sizeof *m->topic_ev);
            s->score = -1;
            s->score_strength = 0;
        }
        int start = edge_get(m, 0, TOK_START);
        for (size_t i = 0; i < s->n; i++) {
            walk(s, 0, i, i, -1);
            if (i == 0 && start >= 0)
                walk(s, start, 0, 0, -1);
        }
    }

    /* Sentiment: each polar phrase, flipped by a negator in the three
     * words before it, scaled by an intensifier just before it, and
     * weighted toward what follows a contrast ("lovely but far too
     * slow" is a complaint). */
    double sum = 0, pos = 0, neg = 0;
    /* A negator inside a polar phrase ("never arrived", "no problems")
     * belongs to that phrase and must not flip the next one. */
    for (size_t i = 0; i < s->n; i++)
        for (int k = 0; k < s->pol_len[i]; k++)
            s->negator[i + (size_t)k] = 0;
    /* A contrast word weighs the two halves only when something polar
     * follows it: "really friendly though" is plain praise. */
    int contrast = -1;
    for (size_t i = s->contrast >= 0 ? (size_t)s->contrast + 1 : s->n; i < s->n; i++)
        if (s->pol_len[i])
            contrast = s->contrast;
    for (size_t i = 0; i < s->n; i++) {
        if (!s->pol_len[i])
            continue;
        double v = s->pol[i];
        for (size_t k = i >= 3 ? i - 3 : 0; k < i; k++) {
            if (s->negator[k] && !(s->contrast >= 0 && (size_t)s->contrast > k &&
                                   (size_t)s->contrast < i)) {
                v = -v;
                break;
            }
        }
        /* "it would be great if ..." wishes rather than judges. */
        for (size_t k = i >= 3 ? i - 3 : 0; k < i; k++) {
            if (s->hypo[k]) {
                v *= 0.25;
                break;
            }
        }
        if (i >= 1 && s->inten[i - 1] > 0)
            v *= s->inten[i - 1];
        else if (i >= 2 && s->inten[i - 2] > 0 && s->inten[i - 1] > 0)
            v *= s->inten[i - 2];
        if (contrast >= 0)
            v *= (int)i > contrast ? 1.5 : 0.5;
        v *= word_trust(m, s->conf[i]);
        sum += v;
        if (v > 0)
            pos += v;
        else
            neg -= v;
        i += (size_t)s->pol_len[i] - 1;
    }
    /* Sentiment-driven intents (complaint, praise) get evidence from the
     * balance of the utterance's sentiment. */
    for (size_t i = 0; i < m->n_entries; i++) {
        const earshot__entry *e = earshot__grammar_entry(m->g, i);
        if (e->kind != ENTRY_FROM_POSITIVE && e->kind != ENTRY_FROM_NEGATIVE)
            continue;
        double mass = e->kind == ENTRY_FROM_POSITIVE ? pos - 0.5 * neg : neg - 0.5 * pos;
        if (mass > 0)
            m->evidence[e->target] += e->weight * mass;
    }

    if (m->assoc) {
        size_t ni = m->n_intents;
        for (size_t i = 0; i < s->n; i++) {
            if (s->tok[i] < 0)
                continue;
            const float *a = &m->assoc[(size_t)s->tok[i] * ni];
            for (size_t k = 0; k < ni; k++)
                m->evidence[k] += SOFT_WEIGHT * a[k] * word_trust(m, s->conf[i]);
        }
    }
    /* Primary intent: the first, in the grammar's order, whose evidence
     * reaches 1. */
    int chosen = -1;
    double best = 0;
    for (size_t k = 0; k < m->n_intents; k++) {
        if (m->evidence[k] > best)
            best = m->evidence[k];
        if (chosen < 0 && (int)k != m->other && m->evidence[k] >= 1.0)
            chosen = (int)k;
    }
    int from_model = 0;
    /* No template applies: the learned back-off may decide, when it is
     * sure enough. Not when the customer negated an intent's phrase ("i
     * don't want to cancel" is no request of any kind, whatever else its
     * words resemble), nor on a bare answer ("fine by me", "okay okay":
     * out of context it consents to nothing, in context read_answer()
     * reads it). */
#ifdef EARSHOT_FIT_MODEL
    /* Fitting the model's calibration: it decides every utterance it can. */
    if (!s->turned && !bare_answer(s) && m->model) {
        chosen = -1;
#else
    if (chosen < 0 && !s->turned && !bare_answer(s) && m->model) {
#endif
        for (size_t i = 0; i < s->n; i++)
            m->trust[i] = word_trust(m, s->conf[i]);
        size_t found = earshot__intent_model_classify(m->model, s->tok, s->num, m->trust, s->n,
                                                      m->post);
        /* It may only lift an intent the templates already lean to (some
         * soft word or part-phrase evidence, below the 1 that applies):
         * alone, it read "we're getting route ten back to the hotel" as
         * cancel. An intent a negative cue spoke against ("forget it",
         * "can you hear me") has evidence below 0. */
        if (found >= MODEL_MIN_FEATURES)
            for (size_t k = 0; k < m->n_intents; k++)
                if ((int)k != m->other && m->post[k] >= MODEL_THRESHOLD &&
                    m->evidence[k] >= MODEL_MIN_EVIDENCE) {
                    chosen = (int)k;
                    from_model = 1;
                    break;
                }
    }
    if (from_model) {
        out->intent = earshot__grammar_intent(m->g, (size_t)chosen);
        out->confidence = m->post[chosen];
    } else if (chosen >= 0) {
        out->intent = earshot__grammar_intent(m->g, (size_t)chosen);
        double ev = m->evidence[chosen];
        out->confidence = ev / (ev + 1.0);
    } else {
        out->intent = m->other >= 0 ? earshot__grammar_intent(m->g, (size_t)m->other) : "other";
        out->confidence = 1.0 - 0.5 * (best < 1.0 ? best : 1.0);
    }
    int is_nps = chosen >= 0 && !strcmp(out->intent, "nps");
    out->score = is_nps ? s->score : -1;
    int kind = from_model ? CAL_MODEL : chosen >= 0 ? CAL_TEMPLATE : CAL_OTHER;
    const char *before = out->intent;
    double raw = out->confidence;
    read_answer(m, s, out);
    if (out->intent != before || out->confidence != raw) {
        kind = CAL_CONTEXT;
        raw = out->confidence;
    }
    double heard = 0;
    for (size_t i = 0; i < s->n; i++)
        heard += s->conf[i];
    heard = s->n ? heard / (double)s->n : 1.0;
    out->confidence = calibrate(kind, raw, heard);

    double ss = tanh(sum / 1.5);
    if (out->score >= 0) {
        /* A rating says how the customer feels more plainly than any
         * adjective: 0-4 negative, 5-7 neutral, 8-10 positive. */
        ss = (out->score - 6) / 4.0;
        if (ss < -1)
            ss = -1;
        if (ss > 1)
            ss = 1;
    }
    out->sentiment_score = ss;
    out->sentiment = ss > 0.3 ? "positive" : ss < -0.3 ? "negative" : "neutral";

    /* Topics fill topic_out from the front, signals from the back: one
     * buffer, since both share the topics' index space. */
    size_t nt = 0, ns = 0;
    for (size_t t = 0; t < m->n_topics; t++)
        if (m->topic_ev[t] >= 1.0 && !earshot__grammar_topic_is_signal(m->g, t))
            m->topic_out[nt++] = earshot__grammar_topic(m->g, t);
    for (size_t t = m->n_topics; t-- > 0;)
        if (m->topic_ev[t] >= 1.0 && earshot__grammar_topic_is_signal(m->g, t))
            m->topic_out[m->n_topics - 1 - ns++] = earshot__grammar_topic(m->g, t);
    out->topics = m->topic_out;
    out->n_topics = nt;
    out->signals = m->topic_out + m->n_topics - ns;
    out->n_signals = ns;
    return EARSHOT_OK;
}

void earshot__matcher_set_word_floor(earshot__matcher *m, double floor)
{
    m->word_floor = floor;
}

void earshot__matcher_set_other(const earshot__matcher *m, earshot_analysis *a)
{
    a->intent = m->other >= 0 ? earshot__grammar_intent(m->g, (size_t)m->other) : "other";
    a->confidence = calibrate(CAL_GATED, 0.5, 0.0);
    a->score = -1;
}

/* ------------------------------------------------------------------ */
/* public: earshot_intents                                              */
/* ------------------------------------------------------------------ */

struct earshot_intents {
    earshot__grammar *g;
    earshot__matcher *m;
    earshot__redactor *redactor;
    char *errmsg; /* every problem, one per line */
    size_t err_len, err_cap;
};

static void collect_diag(const char *file, int line, int col, const char *msg, void *user)
{
    earshot_intents *h = user;
    char buf[1024];
    int n;
    if (line > 0)
        n = snprintf(buf, sizeof buf, "%s:%d:%d: %s", file, line, col, msg);
    else
        n = snprintf(buf, sizeof buf, "%s%s%s", file, file[0] ? ": " : "", msg);
    if (n < 0)
        return;
    size_t len = strlen(buf);
    if (!earshot__grow((void **)&h->errmsg, &h->err_cap, h->err_len + len + 2, 1))
        return;
    if (h->err_len)
        h->errmsg[h->err_len++] = '\n';
    memcpy(h->errmsg + h->err_len, buf, len + 1);
    h->err_len += len;
}

int earshot__attach_redactor(earshot__matcher *m, const char *dir, earshot__redactor **out,
                             char *err, size_t errlen)
{
    /* Optional: a grammar folder without redaction rules still analyses. */
    char path[4096];
    snprintf(path, sizeof path, "%s/redact.rules", dir);
    *out = NULL;
    if (access(path, F_OK) != 0)
        return EARSHOT_OK;
    *out = earshot__redactor_open(dir, err, errlen);
    if (!*out)
        return EARSHOT_GRAMMAR;
    earshot__matcher_use_redactor(m, *out);
    return EARSHOT_OK;
}

int earshot_intents_open(earshot_intents **out, const char *dir)
{
    earshot_intents *h = calloc(1, sizeof *h);
    *out = h;
    if (!h)
        return EARSHOT_NOMEM;
    if (!dir)
        dir = earshot_default_grammar_dir();
    h->g = earshot__grammar_load(dir, collect_diag, h);
    if (!h->g || earshot__grammar_n_errors(h->g))
        return EARSHOT_GRAMMAR;
    char err[512];
    h->m = earshot__matcher_new(h->g, err, sizeof err);
    if (!h->m) {
        collect_diag("", 0, 0, err, h);
        return strcmp(err, "out of memory") ? EARSHOT_GRAMMAR : EARSHOT_NOMEM;
    }
    return earshot__attach_redactor(h->m, dir, &h->redactor, err, sizeof err) == EARSHOT_OK
               ? EARSHOT_OK
               : (collect_diag("", 0, 0, err, h), EARSHOT_GRAMMAR);
}

int earshot_intents_analyze(earshot_intents *h, const char *text, earshot_analysis *out)
{
    if (!h || !h->m || !text || !out)
        return EARSHOT_MISUSE;
    return earshot__matcher_analyze(h->m, text, NULL, 0, out);
}

int earshot_intents_set_question(earshot_intents *h, earshot_question q)
{
    if (!h || !h->m || q < EARSHOT_ASK_NONE || q > EARSHOT_ASK_CONFIRM_FORGET)
        return EARSHOT_MISUSE;
    earshot__matcher_set_question(h->m, q);
    return EARSHOT_OK;
}

const char *earshot_intents_errmsg(const earshot_intents *h)
{
    if (!h)
        return "out of memory";
    return h->errmsg && h->errmsg[0] ? h->errmsg : "not an error";
}

void earshot_intents_close(earshot_intents *h)
{
    if (!h)
        return;
    earshot__matcher_free(h->m);
    earshot__redactor_close(h->redactor);
    earshot__grammar_free(h->g);
    free(h->errmsg);
    free(h);
}
