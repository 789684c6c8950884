/* eval_intents.c - accuracy of the intent core on a labelled TSV
 * (../shared/eval/dev/utterances.tsv format).
 *
 *   eval_intents [--grammar DIR] [--verbose] TSV            text path
 *   eval_intents [--grammar DIR] [--verbose] --wav DIR TSV  speech path:
 *       DIR/<id>.wav through the recogniser, then the same scoring, plus
 *       word error rate of the transcript against the row's text
 *   --decoder OPTS  extra PocketSphinx options (earshot_config.decoder_options),
 *       e.g. "-maxhmmpf 5000", to measure a search setting's WER
 *   --frontend off|on|agc  the audio front end (earshot_config.frontend:
 *       off, denoise, denoise + automatic gain); --noise-db N its
 *       attenuation (negative dB)
 *   eval_intents --speed N TSV   analyses N utterances (cycling the TSV) and
 *       prints utterances per second on one core
 *
 * Prints intent accuracy, score-slot exact accuracy, topic micro-F1 and
 * sentiment accuracy; --verbose lists every mistake. */
#include "earshot.h"
#include "../tests/wer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <math.h>
#include <time.h>

typedef struct row {
    char id[64], intent[32], topics[256], sentiment[16], text[1024];
    int score;
} row;

static size_t load(const char *path, row **out)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "eval_intents: cannot read %s\n", path);
        exit(1);
    }
    char line[2048];
    size_t n = 0, cap = 0;
    row *rows = NULL;
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        exit(1);
    }
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0])
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            rows = realloc(rows, cap * sizeof *rows);
        }
        row *r = &rows[n];
        char *f1 = strtok(line, "\t"), *f2 = strtok(NULL, "\t"), *f3 = strtok(NULL, "\t"),
             *f4 = strtok(NULL, "\t"), *f5 = strtok(NULL, "\t"), *f6 = strtok(NULL, "\t");
        if (!f6)
            continue;
        snprintf(r->id, sizeof r->id, "%s", f1);
        snprintf(r->intent, sizeof r->intent, "%s", f2);
        r->score = strcmp(f3, "-") ? atoi(f3) : -1;
        snprintf(r->topics, sizeof r->topics, "%s", strcmp(f4, "-") ? f4 : "");
        snprintf(r->sentiment, sizeof r->sentiment, "%s", f5);
        snprintf(r->text, sizeof r->text, "%s", f6);
        n++;
    }
    fclose(f);
    *out = rows;
    return n;
}

static int has_topic(const char *list, const char *t)
{
    size_t len = strlen(t);
    for (const char *p = list; (p = strstr(p, t)); p += len)
        if ((p == list || p[-1] == ',') && (p[len] == ',' || p[len] == '\0'))
            return 1;
    return 0;
}

/* Calibration: utterances binned by the intent confidence they were
 * given, against the share of them that were right. */
enum { N_BINS = 10 };

typedef struct stats {
    size_t n, intent_ok, score_n, score_ok, sent_ok, tp, fp, fn;
    size_t specific, specific_ok; /* given an intent other than "other" */
    size_t bin_n[N_BINS], bin_ok[N_BINS];
    double bin_conf[N_BINS];
    long wer_err;
    size_t wer_words;
} stats;

static void score_row(stats *st, const row *r, const char *text, const earshot_analysis *a,
                      int verbose)
{
    st->n++;
    int iok = !strcmp(a->intent, r->intent);
    st->intent_ok += iok;
    if (strcmp(a->intent, "other")) {
        st->specific++;
        st->specific_ok += iok;
    }
    int b = (int)(a->confidence * N_BINS);
    b = b < 0 ? 0 : b >= N_BINS ? N_BINS - 1 : b;
    st->bin_n[b]++;
    st->bin_ok[b] += iok;
    st->bin_conf[b] += a->confidence;
    int sok = 1;
    if (r->score >= 0) {
        st->score_n++;
        sok = a->score == r->score;
        st->score_ok += sok;
    }
    int senok = !strcmp(a->sentiment, r->sentiment);
    st->sent_ok += senok;
    char got[256] = "";
    int tok = 1;
    for (size_t i = 0; i < a->n_topics; i++) {
        if (has_topic(r->topics, a->topics[i]))
            st->tp++;
        else
            st->fp++, tok = 0;
        if (i)
            strcat(got, ",");
        strncat(got, a->topics[i], sizeof got - strlen(got) - 1);
    }
    char want[256];
    snprintf(want, sizeof want, "%s", r->topics);
    for (char *t = strtok(want, ","); t; t = strtok(NULL, ",")) {
        if (!has_topic(got, t))
            st->fn++, tok = 0;
    }
    if (verbose && (!iok || !sok || !senok || !tok)) {
        printf("%s %s\n", r->id, text);
        if (!iok)
            printf("    intent %s, want %s (conf %.2f)\n", a->intent, r->intent, a->confidence);
        if (!sok)
            printf("    score %d, want %d\n", a->score, r->score);
        if (!senok)
            printf("    sentiment %s (%.2f), want %s\n", a->sentiment, a->sentiment_score,
                   r->sentiment);
        if (!tok)
            printf("    topics [%s], want [%s]\n", got, r->topics);
    }
}

static void report(const stats *st, const char *what)
{
    double p = st->tp + st->fp ? (double)st->tp / (double)(st->tp + st->fp) : 1.0;
    double rc = st->tp + st->fn ? (double)st->tp / (double)(st->tp + st->fn) : 1.0;
    double f1 = p + rc > 0 ? 2 * p * rc / (p + rc) : 0;
    printf("%s: %zu utterances\n", what, st->n);
    printf("  intent accuracy     %5.1f %% (%zu/%zu)\n", 100.0 * st->intent_ok / st->n,
           st->intent_ok, st->n);
    printf("  intent precision    %5.1f %% (%zu/%zu given a specific intent)\n",
           st->specific ? 100.0 * st->specific_ok / st->specific : 100.0, st->specific_ok,
           st->specific);
    double ece = 0;
    for (int b = 0; b < N_BINS; b++)
        if (st->bin_n[b])
            ece += fabs((double)st->bin_ok[b] - st->bin_conf[b]) / (double)st->n;
    printf("  calibration error   %5.3f (ECE, %d bins)\n", ece, N_BINS);
    printf("  score exact         %5.1f %% (%zu/%zu)\n",
           st->score_n ? 100.0 * st->score_ok / st->score_n : 100.0, st->score_ok, st->score_n);
    printf("  topic micro-F1      %5.3f (precision %.3f, recall %.3f)\n", f1, p, rc);
    printf("  sentiment accuracy  %5.1f %% (%zu/%zu)\n", 100.0 * st->sent_ok / st->n,
           st->sent_ok, st->n);
    if (st->wer_words)
        printf("  word error rate     %5.1f %% (%ld/%zu)\n",
               100.0 * st->wer_err / st->wer_words, st->wer_err, st->wer_words);
}

typedef struct speech_ctx {
    char text[4096];
    earshot_analysis a;
    char topics[256];
    const char *topic_ptrs[16];
    char intent[32], sentiment[16];
    int have;
    double word_conf; /* mean word posterior of the kept utterance */
    int quality;
} speech_ctx;

/* Keeps the analysis of the utterance with the most words: a file holds
 * one customer sentence, and stray noise may make a second tiny one. */
static int on_utt(const earshot_utterance *u, void *user)
{
    speech_ctx *c = user;
    if (c->text[0])
        strncat(c->text, " ", sizeof c->text - strlen(c->text) - 1);
    strncat(c->text, u->text, sizeof c->text - strlen(c->text) - 1);
    if (u->analysis && (!c->have || u->n_words > 2)) {
        c->have = 1;
        c->a = *u->analysis;
        c->word_conf = u->confidence;
        c->quality = u->quality;
        snprintf(c->intent, sizeof c->intent, "%s", u->analysis->intent);
        snprintf(c->sentiment, sizeof c->sentiment, "%s", u->analysis->sentiment);
        c->a.intent = c->intent;
        c->a.sentiment = c->sentiment;
        size_t off = 0;
        for (size_t i = 0; i < u->analysis->n_topics && i < 16; i++) {
            size_t len = strlen(u->analysis->topics[i]) + 1;
            memcpy(c->topics + off, u->analysis->topics[i], len);
            c->topic_ptrs[i] = c->topics + off;
            off += len;
        }
        c->a.topics = c->topic_ptrs;
    }
    return 0;
}

/* --summary: one machine-readable line for bench/field.sh, and the
 * figures the report above does not give: audio-quality verdicts and the
 * erasures a misheard utterance would cause. An erasure is a forget_me or
 * consent_no given to an utterance that was something else, sure enough
 * by the store's own rule (earshot_store_config confirm_confidence and
 * confirm_word_confidence) to be carried out; below it, a review. A
 * consent_no counts even though it erases only when it revokes consent
 * given: the worst case, a --consent granted session. */
typedef struct field_tally {
    size_t unclear, narrowband, erase, review;
} field_tally;

static void tally_row(field_tally *t, const row *r, const char *got, double conf,
                      double word_conf, int quality)
{
    static earshot_store_config sc;
    if (!sc.confirm_confidence)
        sc = earshot_store_config_default();
    t->unclear += quality == EARSHOT_QUALITY_UNCLEAR;
    t->narrowband += quality == EARSHOT_QUALITY_NARROWBAND;
    if ((!strcmp(got, "forget_me") || !strcmp(got, "consent_no")) && strcmp(got, r->intent)) {
        if (conf >= sc.confirm_confidence && word_conf >= sc.confirm_word_confidence)
            t->erase++;
        else
            t->review++;
    }
}

static void summary_line(const stats *st, const field_tally *t)
{
    double ece = 0;
    for (int b = 0; b < N_BINS; b++)
        if (st->bin_n[b])
            ece += fabs((double)st->bin_ok[b] - st->bin_conf[b]) / (double)st->n;
    double n = st->n ? (double)st->n : 1;
    printf("summary n=%zu intent=%.3f specific=%zu precision=%.3f score_n=%zu score=%.3f "
           "ece=%.3f wer=%.3f unclear=%.3f narrowband=%zu erase=%zu review=%zu\n",
           st->n, st->intent_ok / n, st->specific,
           st->specific ? (double)st->specific_ok / (double)st->specific : 1.0, st->score_n,
           st->score_n ? (double)st->score_ok / (double)st->score_n : 1.0, ece,
           st->wer_words ? (double)st->wer_err / (double)st->wer_words : 0.0, t->unclear / n,
           t->narrowband, t->erase, t->review);
}

int main(int argc, char **argv)
{
    const char *grammar = NULL, *wav = NULL, *tsv = NULL;
    const char *suffix = "", *rows_out = NULL, *decoder = NULL, *mllr = NULL,
               *pron = NULL;
    int verbose = 0, summary = 0;
    field_tally tally = {0};
    long speed = 0;
    double weight = -1, floor = -1, unclear = -1, band_fill = -1;
    int vocab = -1, frontend = -1, noise_db = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--grammar") && i + 1 < argc)
            grammar = argv[++i];
        else if (!strcmp(argv[i], "--wav") && i + 1 < argc)
            wav = argv[++i];
        else if (!strcmp(argv[i], "--speed") && i + 1 < argc)
            speed = atol(argv[++i]);
        else if (!strcmp(argv[i], "--domain-weight") && i + 1 < argc)
            weight = atof(argv[++i]);
        else if (!strcmp(argv[i], "--suffix") && i + 1 < argc)
            suffix = argv[++i];
        else if (!strcmp(argv[i], "--word-floor") && i + 1 < argc)
            floor = atof(argv[++i]);
        else if (!strcmp(argv[i], "--unclear") && i + 1 < argc)
            unclear = atof(argv[++i]);
        else if (!strcmp(argv[i], "--decoder") && i + 1 < argc)
            decoder = argv[++i];
        else if (!strcmp(argv[i], "--rows") && i + 1 < argc)
            rows_out = argv[++i];
        else if (!strcmp(argv[i], "--model-vocab") && i + 1 < argc) {
            i++;
            vocab = !strcmp(argv[i], "full") ? EARSHOT_MODEL_VOCAB_FULL : atoi(argv[i]);
        } else if (!strcmp(argv[i], "--frontend") && i + 1 < argc) {
            const char *v = argv[++i];
            frontend = !strcmp(v, "off") ? EARSHOT_FRONTEND_OFF
                       : !strcmp(v, "on") ? EARSHOT_FRONTEND_DENOISE
                       : !strcmp(v, "agc") ? EARSHOT_FRONTEND_DENOISE_AGC : -2;
            if (frontend == -2) {
                fprintf(stderr, "eval_intents: --frontend off|on|agc\n");
                return 2;
            }
        } else if (!strcmp(argv[i], "--noise-db") && i + 1 < argc)
            noise_db = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--band-fill") && i + 1 < argc)
            band_fill = atof(argv[++i]);
        else if (!strcmp(argv[i], "--mllr") && i + 1 < argc)
            mllr = argv[++i];
        else if (!strcmp(argv[i], "--pronunciations") && i + 1 < argc)
            pron = argv[++i];
        else if (!strcmp(argv[i], "--verbose"))
            verbose = 1;
        else if (!strcmp(argv[i], "--summary"))
            summary = 1;
        else
            tsv = argv[i];
    }
    if (!tsv) {
        fprintf(stderr, "usage: eval_intents [--grammar DIR] [--verbose] [--wav DIR | --speed N] "
                        "[--domain-weight W] [--model-vocab full|N] [--suffix S]\n"
                        "       [--word-floor X] [--unclear X] [--rows OUT.tsv] [--decoder OPTS]\n"
                        "       [--mllr FILE]\n"
                        "       [--pronunciations FILE|''] [--band-fill RMS] TSV\n"
                        "  --mllr FILE: an MLLR transform (earshot adapt); --pronunciations: the\n"
                        "      addendum (default: the grammar folder's; '' for none)\n"
                        "  --suffix S: speech files are DIR/<id>S.wav (the field set's _babble, ...)\n"
                        "  --rows: one line per row: id, want, got, intent confidence,\n"
                        "          mean word posterior, audio quality (text path: 1, text)\n"
                        "  --summary: also one line of key=value figures for scripts\n");
        return 2;
    }
    row *rows;
    size_t n = load(tsv, &rows);
    stats st = {0};
    if (!wav) {
        earshot_intents *g = NULL;
        if (earshot_intents_open(&g, grammar) != EARSHOT_OK) {
            fprintf(stderr, "%s\n", earshot_intents_errmsg(g));
            return 1;
        }
        earshot_analysis a;
        if (speed > 0) {
            struct timespec t0, t1;
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
            for (long k = 0; k < speed; k++)
                earshot_intents_analyze(g, rows[(size_t)k % n].text, &a);
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
            double s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
            printf("analyze: %ld utterances in %.3f s CPU: %.0f utterances/s on one core\n",
                   speed, s, (double)speed / s);
        } else {
            FILE *ro = rows_out ? fopen(rows_out, "w") : NULL;
            for (size_t i = 0; i < n; i++) {
                earshot_intents_analyze(g, rows[i].text, &a);
                score_row(&st, &rows[i], rows[i].text, &a, verbose);
                tally_row(&tally, &rows[i], a.intent, a.confidence, 1.0, EARSHOT_QUALITY_OK);
                if (ro)
                    fprintf(ro, "%s\t%s\t%s\t%.3f\t1.000\ttext\n", rows[i].id,
                            rows[i].intent, a.intent, a.confidence);
            }
            if (ro)
                fclose(ro);
            report(&st, "text path");
            if (summary)
                summary_line(&st, &tally);
        }
        earshot_intents_close(g);
        free(rows);
        return 0;
    }
    speech_ctx c;
    earshot_config cfg = earshot_config_default();
    cfg.grammar_dir = grammar;
    if (weight >= 0)
        cfg.domain_weight = weight;
    if (floor >= 0)
        cfg.word_confidence_floor = floor;
    if (unclear >= 0)
        cfg.unclear_confidence = unclear;
    FILE *ro = rows_out ? fopen(rows_out, "w") : NULL;
    if (vocab >= 0)
        cfg.model_vocab = vocab;
    if (frontend >= 0)
        cfg.frontend = frontend;
    cfg.noise_suppress_db = noise_db;
    cfg.decoder_options = decoder;
    cfg.mllr = mllr;
    if (band_fill >= 0)
        cfg.band_fill = band_fill;
    cfg.pronunciations = pron;
    cfg.on_utterance = on_utt;
    cfg.utterance_user = &c;
    earshot *e = NULL;
    if (earshot_open(&e, &cfg) != EARSHOT_OK) {
        fprintf(stderr, "%s\n", earshot_errmsg(e));
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s%s.wav", wav, rows[i].id, suffix);
        if (*suffix && access(path, R_OK) != 0)
            continue; /* the field subset speaks only some rows */
        memset(&c, 0, sizeof c);
        earshot_audio *a = NULL;
        if (earshot_audio_open_file(&a, path) != EARSHOT_OK) {
            fprintf(stderr, "eval_intents: %s: %s\n", path, earshot_audio_errmsg(a));
            earshot_audio_close(a);
            continue;
        }
        int16_t buf[4096];
        long k;
        while ((k = earshot_audio_read(a, buf, 4096)) > 0)
            earshot_feed(e, buf, (size_t)k);
        earshot_flush(e);
        earshot_audio_close(a);
        size_t words = 0;
        long err = wer_errors(rows[i].text, c.text, &words);
        st.wer_err += err;
        st.wer_words += words;
        if (!c.have) {
            c.a = (earshot_analysis){.intent = "other", .score = -1, .sentiment = "neutral"};
        }
        if (verbose && err)
            printf("%s heard \"%s\" (%ld word errors)\n", rows[i].id, c.text, err);
        score_row(&st, &rows[i], c.text, &c.a, verbose);
        tally_row(&tally, &rows[i], c.a.intent, c.a.confidence, c.have ? c.word_conf : 0.0,
                  c.have ? c.quality : -1);
        if (ro)
            fprintf(ro, "%s\t%s\t%s\t%.3f\t%.3f\t%s\n", rows[i].id, rows[i].intent, c.a.intent,
                    c.a.confidence, c.have ? c.word_conf : 0.0,
                    c.have ? earshot_quality_name(c.quality) : "none");
    }
    if (ro)
        fclose(ro);
    report(&st, "speech path");
    if (summary)
        summary_line(&st, &tally);
    earshot_close(e);
    free(rows);
    return 0;
}
