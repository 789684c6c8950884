/* answer_search.c - does a search constrained to the expected answers hear
 * the answer to the listener's question better than the open search, in
 * noise, without inventing answers from noise? (issue 12, item 3)
 *
 *   answer_search [--verbose] [--grammar DIR] [--kws-threshold T] DIR
 *
 * DIR is what bench/answer_search.sh makes: list.tsv (id, question,
 * expected: yes, no, a score or none, voice, text) and <id>[_babble|_music].wav.
 * Each file is decoded by three arms:
 *   open    the library as the listener runs it: earshot_open() with its
 *           defaults, the question set, the first utterance that answers;
 *   jsgf    PocketSphinx with a JSGF search of the expected answers (the
 *           grammar folder's [answers] yes/no phrases, or number phrases for
 *           the rating question) inside a loop of common short words that
 *           soaks up what is no answer, the whole file one utterance, the
 *           words then read by earshot_intents with the question set;
 *   kws     PocketSphinx keyword spotting (ps_set_kws) of the same phrases,
 *           threshold T (default 1e-20); the longest phrase spotted is read
 *           the same way.
 * Prints, per condition and question, how many answers each arm got right,
 * how many it got wrong (an answer, but the other one), and how many noise-only
 * files it heard an answer in (false accepts).
 *
 * Build: make build/bench/answer_search */
#include "earshot.h"

#include <pocketsphinx.h>
#include <sphinxbase/cmn.h>
#include <sphinxbase/err.h>
#include <sphinxbase/feat.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MODEL EARSHOT_DEFAULT_MODEL_DIR

typedef struct item {
    char id[32], question[16], want[8], voice[16], text[128];
} item;

static int verbose;

/* ------------------------------------------------------------------ */
/* The expected answers                                                 */
/* ------------------------------------------------------------------ */

typedef struct phrases {
    char **p;
    size_t n, cap;
} phrases;

static void add(phrases *ph, const char *s)
{
    if (ph->n == ph->cap) {
        ph->cap = ph->cap ? ph->cap * 2 : 64;
        ph->p = realloc(ph->p, ph->cap * sizeof *ph->p);
    }
    ph->p[ph->n++] = strdup(s);
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    size_t i = 0;
    while (isspace((unsigned char)s[i]))
        i++;
    memmove(s, s + i, strlen(s + i) + 1);
}

/* Every word of s in the dictionary (JSGF refuses unknown words). */
static int in_dict(ps_decoder_t *ps, const char *s)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *w = strtok(buf, " "); w; w = strtok(NULL, " "))
        if (ps_lookup_word(ps, w) == NULL)
            return 0;
    return 1;
}

/* The yes: and no: phrases of the grammar folder's answers.grammar. */
static void load_answers(const char *gdir, ps_decoder_t *ps, phrases *out)
{
    char path[1024], line[8192];
    snprintf(path, sizeof path, "%s/answers.grammar", gdir);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "answer_search: cannot read %s\n", path);
        exit(1);
    }
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "yes:", 4) && strncmp(line, "no:", 3))
            continue;
        char *rest = strchr(line, ':') + 1, *save = NULL;
        for (char *p = strtok_r(rest, "|", &save); p; p = strtok_r(NULL, "|", &save)) {
            trim(p);
            if (*p && in_dict(ps, p))
                add(out, p);
        }
    }
    fclose(f);
}

static const char *const numbers[] = {"zero", "one", "two",   "three", "four", "five",
                                      "six",  "seven", "eight", "nine", "ten"};

/* Ratings as customers give them: a number, with the usual carriers. */
static void rating_phrases(phrases *out)
{
    static const char *const pre[] = {"", "a ", "an ", "a solid ", "probably a ", "i'd say ",
                                      "i would say ", "i'd give you a ", "i would give you a ",
                                      "maybe a ", "about a "};
    static const char *const post[] = {"", " out of ten"};
    char buf[128];
    for (size_t i = 0; i < sizeof pre / sizeof *pre; i++)
        for (size_t n = 0; n < 11; n++)
            for (size_t k = 0; k < 2; k++) {
                snprintf(buf, sizeof buf, "%s%s%s", pre[i], numbers[n], post[k]);
                add(out, buf);
            }
}

/* What is no answer: a loop of short common words and hesitations, so
 * that noise and other speech need not become one. */
static const char *const garbage =
    "the | a | an | and | i | it | is | to | of | that | what | in | on | my | you | we | for | "
    "this | there | so | well | oh | uh | um | hmm | ah | do | be | at | he | she | was | are | "
    "with | but | have | not | me | just | like | can | will | know | think | get | go | good";

static char *jsgf_of(const phrases *ph)
{
    size_t cap = 4096;
    for (size_t i = 0; i < ph->n; i++)
        cap += strlen(ph->p[i]) + 4;
    char *s = malloc(cap + strlen(garbage));
    size_t n = (size_t)sprintf(s, "#JSGF V1.0;\ngrammar answers;\n<garbage> = %s;\n<answer> = ",
                               garbage);
    for (size_t i = 0; i < ph->n; i++)
        n += (size_t)sprintf(s + n, "%s%s", i ? " | " : "", ph->p[i]);
    sprintf(s + n, ";\npublic <utt> = <garbage>* <answer> <garbage>* | <garbage>*;\n");
    return s;
}

static char *kws_file(const phrases *ph, const char *path)
{
    FILE *f = fopen(path, "w");
    for (size_t i = 0; i < ph->n; i++)
        fprintf(f, "%s\n", ph->p[i]);
    fclose(f);
    return strdup(path);
}

/* The longest expected phrase that words hold, word for word, copied to
 * out ("" if none): what the constrained search heard as the answer, the
 * garbage loop's words around it dropped. */
static void longest_phrase(const phrases *ph, const char *words, char *out, size_t len)
{
    char padded[1024];
    snprintf(padded, sizeof padded, " %s ", words);
    size_t best = 0;
    out[0] = '\0';
    for (size_t i = 0; i < ph->n; i++) {
        char needle[300];
        snprintf(needle, sizeof needle, " %s ", ph->p[i]);
        size_t l = strlen(ph->p[i]);
        if (l > best && strstr(padded, needle)) {
            best = l;
            snprintf(out, len, "%s", ph->p[i]);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Reading an answer                                                    */
/* ------------------------------------------------------------------ */

/* "yes", "no", a score, or "none". */
static void reading(const earshot_analysis *a, const char *question, char *out, size_t len)
{
    snprintf(out, len, "none");
    if (!a)
        return;
    if (!strcmp(question, "consent")) {
        if (!strcmp(a->intent, "consent_yes"))
            snprintf(out, len, "yes");
        else if (!strcmp(a->intent, "consent_no"))
            snprintf(out, len, "no");
    } else if (!strcmp(a->intent, "nps") && a->score >= 0) {
        snprintf(out, len, "%d", a->score);
    }
}

static earshot_question question_of(const char *q)
{
    return !strcmp(q, "consent") ? EARSHOT_ASK_CONSENT : EARSHOT_ASK_RATING;
}

typedef struct open_ctx {
    const char *question;
    char got[16];
    char text[512];
    int quality; /* of the utterance that answered */
} open_ctx;

static int on_open(const earshot_utterance *u, void *user)
{
    open_ctx *c = user;
    if (strcmp(c->got, "none"))
        return 0;
    reading(u->analysis, c->question, c->got, sizeof c->got);
    c->quality = u->quality;
    size_t l = strlen(c->text);
    snprintf(c->text + l, sizeof c->text - l, "%s%s", l ? " / " : "", u->text);
    return 0;
}

static int16_t *read_wav(const char *path, size_t *n)
{
    earshot_audio *a = NULL;
    if (earshot_audio_open_file(&a, path) != EARSHOT_OK) {
        fprintf(stderr, "answer_search: %s: %s\n", path, earshot_audio_errmsg(a));
        exit(1);
    }
    size_t cap = 16000 * 4, len = 0;
    int16_t *pcm = malloc(cap * sizeof *pcm);
    long k;
    while ((k = earshot_audio_read(a, pcm + len, cap - len)) > 0) {
        len += (size_t)k;
        if (len == cap)
            pcm = realloc(pcm, (cap *= 2) * sizeof *pcm);
    }
    earshot_audio_close(a);
    *n = len;
    return pcm;
}

/* The library's start for cepstral mean normalisation (recognizer.c), so
 * the constrained arm hears each file as the open one does. */
static const double cmn_start[13] = {52.57, 5.64,  1.35, 21.41, -9.23, 4.09, -2.06,
                                     -7.15, 0.12, -3.44, 5.25,  -1.28, 1.72};

static void reset_cmn(ps_decoder_t *ps)
{
    feat_t *f = ps_get_feat(ps);
    cmn_t *c = f ? f->cmn_struct : NULL;
    if (c && c->veclen == 13)
        for (int i = 0; i < 13; i++)
            c->cmn_mean[i] = (mfcc_t)cmn_start[i];
}

/* Decodes pcm as one utterance with search name; the words, fillers
 * dropped. */
static void decode(ps_decoder_t *ps, const char *search, const int16_t *pcm, size_t n,
                   char *out, size_t len)
{
    out[0] = '\0';
    ps_set_search(ps, search);
    reset_cmn(ps);
    ps_start_utt(ps);
    ps_process_raw(ps, pcm, n, FALSE, TRUE);
    ps_end_utt(ps);
    size_t j = 0;
    for (ps_seg_t *s = ps_seg_iter(ps); s; s = ps_seg_next(s)) {
        const char *w = ps_seg_word(s);
        /* Fillers, and the JSGF's null transitions ("(NULL)"). */
        if (!w || !w[0] || w[0] == '<' || w[0] == '[' || w[0] == '+' || w[0] == '(')
            continue;
        size_t l = strcspn(w, "(");
        if (j + l + 2 >= len)
            break;
        if (j && out[j - 1] != ' ' && out[j - 1] != ',')
            out[j++] = ' ';
        memcpy(out + j, w, l);
        j += l;
        /* A spotted key phrase is one segment: keep them apart. */
        out[j++] = strncmp(search, "kws", 3) ? '\0' : ',';
        out[j] = '\0';
        if (strncmp(search, "kws", 3))
            j--;
    }
}

/* ------------------------------------------------------------------ */

/* open_ok: the open search's answer only from an utterance judged ok (not
 * noisy, too quiet, ...); agree: an answer only when open and jsgf give
 * the same one. Both come from the decodes above, no extra search. */
enum { OPEN, JSGF, KWS, OPEN_OK, AGREE, ARMS };
static const char *const arm_names[ARMS] = {"open", "jsgf", "kws", "open, ok audio only",
                                            "open = jsgf"};
static const char *const conds[] = {"", "_babble", "_music"};
static const char *const cond_names[] = {"clean", "babble 10 dB", "music 10 dB"};

typedef struct tally {
    int n, right, wrong, noise, false_accept;
} tally;

int main(int argc, char **argv)
{
    const char *gdir = NULL, *dir = NULL, *kws_threshold = "1e-20";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--verbose"))
            verbose++;
        else if (!strcmp(argv[i], "--grammar") && i + 1 < argc)
            gdir = argv[++i];
        else if (!strcmp(argv[i], "--kws-threshold") && i + 1 < argc)
            kws_threshold = argv[++i];
        else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: answer_search [--verbose] [--grammar DIR] [--kws-threshold T] DIR\n");
            return 2;
        } else
            dir = argv[i];
    }
    if (!dir) {
        fprintf(stderr, "usage: answer_search [--verbose] [--grammar DIR] [--kws-threshold T] DIR\n");
        return 2;
    }
    if (!gdir)
        gdir = earshot_default_grammar_dir();
    char path[2048];
    snprintf(path, sizeof path, "%s/list.tsv", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "answer_search: cannot read %s (run bench/answer_search.sh)\n", path);
        return 1;
    }
    item *items = NULL;
    size_t n_items = 0, cap = 0;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (n_items == cap)
            items = realloc(items, (cap = cap ? cap * 2 : 128) * sizeof *items);
        item *it = &items[n_items];
        memset(it, 0, sizeof *it);
        char *save = NULL, *fld[5] = {0};
        char *p = line;
        for (int k = 0; k < 5; k++) {
            fld[k] = p;
            char *tab = p ? strchr(p, '\t') : NULL;
            if (tab)
                *tab = '\0';
            p = tab ? tab + 1 : NULL;
        }
        (void)save;
        if (!fld[3])
            continue;
        snprintf(it->id, sizeof it->id, "%s", fld[0]);
        snprintf(it->question, sizeof it->question, "%s", fld[1]);
        snprintf(it->want, sizeof it->want, "%s", fld[2]);
        snprintf(it->voice, sizeof it->voice, "%s", fld[3]);
        snprintf(it->text, sizeof it->text, "%s", fld[4] ? fld[4] : "");
        n_items++;
    }
    fclose(f);

    /* The open arm: the library. */
    earshot_config cfg = earshot_config_default();
    open_ctx oc;
    cfg.on_utterance = on_open;
    cfg.utterance_user = &oc;
    earshot *e = NULL;
    if (earshot_open(&e, &cfg) != EARSHOT_OK) {
        fprintf(stderr, "answer_search: %s\n", earshot_errmsg(e));
        return 1;
    }
    earshot_intents *g = NULL;
    if (earshot_intents_open(&g, gdir) != EARSHOT_OK) {
        fprintf(stderr, "answer_search: %s\n", earshot_intents_errmsg(g));
        return 1;
    }
    /* The constrained arms: one decoder, a search per question and kind. */
    err_set_logfp(NULL);
    cmd_ln_t *config = cmd_ln_init(NULL, ps_args(), TRUE, "-hmm", MODEL "/en-us", "-dict",
                                   MODEL "/cmudict-en-us.dict", "-kws_threshold", kws_threshold,
                                   NULL);
    ps_decoder_t *ps = ps_init(config);
    if (!ps) {
        fprintf(stderr, "answer_search: cannot load the model\n");
        return 1;
    }
    phrases consent = {0}, rating = {0};
    load_answers(gdir, ps, &consent);
    rating_phrases(&rating);
    char *js = jsgf_of(&consent);
    char *jr = jsgf_of(&rating);
    char kc[1200], kr[1200];
    snprintf(kc, sizeof kc, "%s/consent.kws", dir);
    snprintf(kr, sizeof kr, "%s/rating.kws", dir);
    free(kws_file(&consent, kc));
    free(kws_file(&rating, kr));
    if (ps_set_jsgf_string(ps, "jsgf_consent", js) < 0 ||
        ps_set_jsgf_string(ps, "jsgf_rating", jr) < 0 || ps_set_kws(ps, "kws_consent", kc) < 0 ||
        ps_set_kws(ps, "kws_rating", kr) < 0) {
        fprintf(stderr, "answer_search: cannot set up the constrained searches\n");
        return 1;
    }
    printf("answer_search: %zu consent phrases (of answers.grammar, in the dictionary), "
           "%zu rating phrases\n",
           consent.n, rating.n);

    tally t[3][2][ARMS];
    memset(t, 0, sizeof t);
    for (size_t c = 0; c < 3; c++) {
        for (size_t i = 0; i < n_items; i++) {
            item *it = &items[i];
            int noise = !strcmp(it->want, "none");
            if (noise && c == 0)
                continue; /* noise-only files exist in babble and music only */
            snprintf(path, sizeof path, "%s/%s%s.wav", dir, it->id, conds[c]);
            size_t n;
            int16_t *pcm = read_wav(path, &n);
            int qi = strcmp(it->question, "consent") != 0;
            char got[ARMS][16], words[ARMS][512];
            /* open */
            snprintf(oc.got, sizeof oc.got, "none");
            oc.text[0] = '\0';
            oc.quality = EARSHOT_QUALITY_OK;
            oc.question = it->question;
            earshot_set_question(e, question_of(it->question));
            earshot_feed(e, pcm, n);
            earshot_flush(e);
            snprintf(got[OPEN], sizeof got[OPEN], "%s", oc.got);
            snprintf(words[OPEN], sizeof words[OPEN], "%s {%s}", oc.text,
                     strcmp(oc.got, "none") ? earshot_quality_name(oc.quality) : "-");
            snprintf(got[OPEN_OK], sizeof got[OPEN_OK], "%s",
                     oc.quality == EARSHOT_QUALITY_OK ? oc.got : "none");
            words[OPEN_OK][0] = words[AGREE][0] = '\0';
            /* constrained */
            for (int arm = JSGF; arm <= KWS; arm++) {
                char search[32];
                snprintf(search, sizeof search, "%s_%s", arm == JSGF ? "jsgf" : "kws",
                         it->question);
                decode(ps, search, pcm, n, words[arm], sizeof words[arm]);
                char heard[300];
                const phrases *ph = qi ? &rating : &consent;
                if (arm == KWS) {
                    /* The longest phrase spotted ("sure thing" over "sure"). */
                    heard[0] = '\0';
                    char *save = NULL;
                    for (char *p = strtok_r(words[arm], ",", &save); p;
                         p = strtok_r(NULL, ",", &save))
                        if (strlen(p) > strlen(heard))
                            snprintf(heard, sizeof heard, "%s", p);
                    snprintf(words[arm], sizeof words[arm], "%s", heard);
                } else {
                    longest_phrase(ph, words[arm], heard, sizeof heard);
                }
                earshot_analysis a;
                earshot_intents_set_question(g, question_of(it->question));
                if (heard[0] && earshot_intents_analyze(g, heard, &a) == EARSHOT_OK)
                    reading(&a, it->question, got[arm], sizeof got[arm]);
                else
                    snprintf(got[arm], sizeof got[arm], "none");
            }
            free(pcm);
            snprintf(got[AGREE], sizeof got[AGREE], "%s",
                     !strcmp(got[OPEN], got[JSGF]) ? got[OPEN] : "none");
            for (int arm = 0; arm < ARMS; arm++) {
                tally *x = &t[c][qi][arm];
                if (noise) {
                    x->noise++;
                    x->false_accept += strcmp(got[arm], "none") != 0;
                } else {
                    x->n++;
                    if (!strcmp(got[arm], it->want))
                        x->right++;
                    else if (strcmp(got[arm], "none"))
                        x->wrong++;
                }
            }
            if (verbose)
                printf("%-6s %-13s %-7s %-8s %-5s \"%s\" | open %s \"%s\" | jsgf %s \"%s\" | "
                       "kws %s \"%s\"\n",
                       it->id, cond_names[c], it->question, it->voice, it->want, it->text,
                       got[OPEN], words[OPEN], got[JSGF], words[JSGF], got[KWS], words[KWS]);
        }
    }
    printf("\n| condition | question | arm | right | wrong answer | no answer | false accepts "
           "on noise |\n|---|---|---|---|---|---|---|\n");
    for (size_t c = 0; c < 3; c++)
        for (int qi = 0; qi < 2; qi++)
            for (int arm = 0; arm < ARMS; arm++) {
                tally *x = &t[c][qi][arm];
                char fa[32] = "-";
                if (x->noise)
                    snprintf(fa, sizeof fa, "%d/%d", x->false_accept, x->noise);
                printf("| %s | %s | %s | %d/%d (%.2f) | %d | %d | %s |\n", cond_names[c],
                       qi ? "rating" : "consent", arm_names[arm], x->right, x->n,
                       x->n ? (double)x->right / x->n : 0.0, x->wrong,
                       x->n - x->right - x->wrong, fa);
            }
    free(js);
    free(jr);
    for (size_t i = 0; i < consent.n; i++)
        free(consent.p[i]);
    for (size_t i = 0; i < rating.n; i++)
        free(rating.p[i]);
    free(consent.p);
    free(rating.p);
    free(items);
    ps_free(ps);
    cmd_ln_free_r(config);
    earshot_intents_close(g);
    earshot_close(e);
    return 0;
}
