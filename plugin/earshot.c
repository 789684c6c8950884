/* earshot.c - the handle: configuration, errors, and the feeding loop that
 * turns a caller's arbitrary chunks into the decoder's fixed blocks. */
#include "earshot.h"
#include "domain_lm.h"
#include "bandfill.h"
#include "frontend.h"
#include "grammar.h"
#include "intent.h"
#include "quality.h"
#include "kiosk_lm.h"
#include "partial.h"
#include "recognizer.h"
#include "redact.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* pocketsphinx_continuous reads 2048 samples at a time and asks the
 * voice-activity detector after each read. Doing the same here makes the
 * segmentation, and so the transcript, independent of how the caller cuts
 * the stream (PocketSphinx's results move slightly with chunk size,
 * docs/FINDINGS.md). */
enum { BLOCK = 2048 };

struct earshot {
    earshot_config cfg;
    /* Copies of the config's strings: the caller's may not outlive open. */
    char *model_dir, *hmm, *dict, *lm, *grammar_dir, *cache_dir, *decoder_options, *mllr,
        *pronunciations;
    earshot__recognizer *rec;
    earshot__quality *quality; /* the audio-quality verdict's frame ring */
    earshot__frontend *frontend; /* NULL when cfg.frontend is OFF */
    earshot__bandfill *bandfill; /* NULL when cfg.band_fill is 0 */
    int band_state; /* this stream: -1 not yet known, 0 wideband, 1 narrowband */
    earshot__grammar *grammar; /* NULL when cfg.analyze is 0 */
    earshot__matcher *matcher;
    struct earshot__redactor *redactor; /* keeps PII digits out of matching */
    int redact_open;   /* earshot__redact_next() state for text_redacted */
    double redact_end; /* end of the last utterance, for its pause limit */
    double *conf;              /* word confidences for the matcher */
    size_t conf_cap;
    int16_t block[BLOCK];
    size_t block_len;
    uint64_t samples; /* fed since the stream began */
    uint32_t dither;  /* state of the zero-sample dither, reset per stream */
    /* Partials (cfg.on_partial): the redactor they use (the matcher's, or
     * partial_redactor loaded for them alone), the last text delivered in
     * this utterance, and when the hypothesis was last looked at. */
    const struct earshot__redactor *partial_rules;
    struct earshot__redactor *partial_redactor;
    char *partial_last;
    uint64_t partial_looked;
    char model_id[17], grammar_id[17];
    /* The decoder is not re-entrant: a feed from inside the utterance
     * callback aborted PocketSphinx (hmm_frame assertion), two threads
     * feeding at once aborted it in create_dag_nodes. busy is set by the
     * calls that touch it. */
    atomic_int busy;
    /* earshot_interrupt(): set from any thread or a signal handler (a
     * lock-free atomic, so async-signal-safe), read between blocks. */
    atomic_int interrupt;
    /* The length of the stream just ended, kept after earshot_flush()
     * until the next one starts. */
    uint64_t ended_samples;
    int ended;
    char errmsg[1024];
};

/* The handle whose callback this thread is running, if any: tells a call
 * from inside a callback from one made by a second thread. Per thread, and
 * only ever pointing at a handle during its own call. */
static _Thread_local const earshot *callback_of;

/* Runs an app callback with callback_of set (restored after, so that a
 * callback of one handle may use another handle). */
#define IN_CALLBACK(e, call)                                                   \
    do {                                                                       \
        const earshot *prev_ = callback_of;                                    \
        callback_of = (e);                                                     \
        call;                                                                  \
        callback_of = prev_;                                                   \
    } while (0)

#if ATOMIC_INT_LOCK_FREE != 2
#error "earshot_interrupt() needs a lock-free atomic int to be async-signal-safe"
#endif

static const char *const rc_text[] = {
#define EARSHOT_RC_TEXT_(name, code, text) [code] = text,
    EARSHOT_RC_MAP(EARSHOT_RC_TEXT_)
#undef EARSHOT_RC_TEXT_
};

const char *earshot_errstr(int rc)
{
    if (rc < 0 || (size_t)rc >= sizeof rc_text / sizeof *rc_text || !rc_text[rc])
        return "unknown error";
    return rc_text[rc];
}

const char *earshot_quality_name(int quality)
{
    static const char *const names[] = {"ok", "clipped", "too_quiet", "narrowband", "unclear",
                                        "noisy"};
    return quality >= 0 && quality < (int)(sizeof names / sizeof *names) ? names[quality]
                                                                         : "unknown";
}

const char *earshot_version(void)
{
    return EARSHOT_VERSION;
}

earshot_config earshot_config_default(void)
{
    return (earshot_config){
        .model_dir = NULL,
        .hmm = NULL,
        .dict = NULL,
        .lm = NULL,
        .on_utterance = NULL,
        .utterance_user = NULL,
        .on_log = NULL,
        .log_user = NULL,
        .verbose = 0,
        .analyze = 1,
        .grammar_dir = NULL,
        .domain_weight = 0.3,
        .word_confidence_floor = EARSHOT_DEFAULT_WORD_FLOOR,
        .unclear_confidence = EARSHOT_DEFAULT_UNCLEAR,
        .cache_dir = NULL,
        .model_vocab = EARSHOT_MODEL_VOCAB_DEFAULT,
        .frontend = EARSHOT_FRONTEND_OFF,
        .noise_suppress_db = 0,
        .on_partial = NULL,
        .partial_user = NULL,
        .partial_interval_ms = EARSHOT_DEFAULT_PARTIAL_MS,
        .decoder_options = NULL,
        .mllr = NULL,
        .pronunciations = NULL,
        .band_fill = EARSHOT_DEFAULT_BAND_FILL,
    };
}

static int set_error(earshot *e, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    /* The last byte stays NUL even if a second thread misusing the handle
     * writes here at the same time. */
    vsnprintf(e->errmsg, sizeof e->errmsg - 1, fmt, ap);
    va_end(ap);
    if (e->cfg.on_log)
        e->cfg.on_log(EARSHOT_LOG_ERROR, e->errmsg, e->cfg.log_user);
    return rc;
}

static int dup_str(char **dst, const char *src)
{
    if (!src)
        return 1;
    *dst = strdup(src);
    return *dst != NULL;
}

/* Collects every grammar problem into errmsg, one per line. */
static void grammar_diag(const char *file, int line, int col, const char *msg, void *user)
{
    earshot *e = user;
    size_t len = strlen(e->errmsg);
    if (len + 2 >= sizeof e->errmsg)
        return;
    if (len)
        e->errmsg[len++] = '\n';
    if (line > 0)
        snprintf(e->errmsg + len, sizeof e->errmsg - len, "%s:%d:%d: %s", file, line, col, msg);
    else
        snprintf(e->errmsg + len, sizeof e->errmsg - len, "%s%s%s", file, file[0] ? ": " : "",
                 msg);
}

/* The model's adaptations, after the decoder is built: the MLLR
 * transform and the pronunciation addendum (the grammar folder's
 * pronunciations.dict unless the config names another file or ""). */
static int adapt_recognizer(earshot *e)
{
    if (e->mllr && e->mllr[0]) {
        int rc = earshot__recognizer_set_mllr(e->rec, e->mllr, e->errmsg, sizeof e->errmsg);
        if (rc != EARSHOT_OK)
            return rc;
    }
    char def[1200];
    const char *pron = e->pronunciations;
    if (!pron && e->grammar) {
        const char *dir = e->grammar_dir ? e->grammar_dir : earshot_default_grammar_dir();
        snprintf(def, sizeof def, "%s/pronunciations.dict", dir);
        if (access(def, F_OK) == 0)
            pron = def;
    }
    if (!pron || !pron[0])
        return EARSHOT_OK;
    int n = 0;
    int rc = earshot__recognizer_add_pronunciations(e->rec, pron, &n, e->errmsg,
                                                    sizeof e->errmsg);
    if (rc == EARSHOT_OK && e->cfg.on_log) {
        char msg[1300];
        snprintf(msg, sizeof msg, "%s: %d extra pronunciations", pron, n);
        e->cfg.on_log(EARSHOT_LOG_INFO, msg, e->cfg.log_user);
    }
    return rc;
}

static int open_grammar(earshot *e)
{
    const char *dir = e->grammar_dir ? e->grammar_dir : earshot_default_grammar_dir();
    e->errmsg[0] = '\0';
    e->grammar = earshot__grammar_load(dir, grammar_diag, e);
    if (!e->grammar)
        return EARSHOT_GRAMMAR;
    if (earshot__grammar_n_errors(e->grammar))
        return EARSHOT_GRAMMAR;
    e->matcher = earshot__matcher_new(e->grammar, e->errmsg, sizeof e->errmsg);
    if (!e->matcher)
        return EARSHOT_GRAMMAR;
    earshot__matcher_set_word_floor(e->matcher, e->cfg.word_confidence_floor);
    return earshot__attach_redactor(e->matcher, dir, &e->redactor, e->errmsg, sizeof e->errmsg);
}

/* Sits between the recogniser and the caller's callback: adds the
 * analysis, weighing each word by the recogniser's confidence in it. */
static int analyze_utterance(const earshot_utterance *u, void *user)
{
    earshot *e = user;
    earshot_utterance copy = *u;
    copy.model_id = e->model_id;
    copy.grammar_id = e->grammar_id;
    earshot__quality_stats qs;
    copy.quality = earshot__quality_judge(e->quality, u->start, u->end, u->confidence,
                                          e->cfg.unclear_confidence, &qs);
    copy.level_dbfs = qs.level_dbfs;
    copy.snr_db = qs.snr_db;
    copy.band_db = qs.band_db;
    earshot_analysis a;
    if (e->matcher) {
        double *conf = e->conf;
        if (u->n_words > e->conf_cap) {
            conf = realloc(e->conf, u->n_words * sizeof *conf);
            if (conf) {
                e->conf = conf;
                e->conf_cap = u->n_words;
            }
        }
        if (conf && u->n_words <= e->conf_cap)
            for (size_t i = 0; i < u->n_words; i++)
                conf[i] = u->words[i].confidence;
        if (earshot__matcher_analyze(e->matcher, u->text, conf ? conf : NULL,
                                     conf ? u->n_words : 0, &a) == EARSHOT_OK) {
            /* Words that were a guess make no intent and no rating: the
             * report counts them as unclear speech instead. Nor does
             * narrowband audio, which the 16 kHz model hears as a few
             * confident, wrong words ("what"), unless the model was
             * adapted (cfg.mllr: the app says which line it is on; the
             * phone transform brings the phone line to 42 % WER). */
            if ((u->n_words && u->confidence < e->cfg.unclear_confidence) ||
                (copy.quality == EARSHOT_QUALITY_NARROWBAND && !(e->mllr && e->mllr[0])))
                earshot__matcher_set_other(e->matcher, &a);
            copy.analysis = &a;
        }
    }
    /* The redacted text beside the raw one, so that an app can show what
     * is stored. Out of memory leaves it NULL rather than raw. */
    char *redacted = NULL;
    if (e->redactor) {
        if (u->start < e->redact_end || u->start - e->redact_end > EARSHOT__REDACT_PAUSE_MAX)
            e->redact_open = 0;
        redacted = earshot__redact_next(e->redactor, u->text ? u->text : "", &e->redact_open, NULL);
        e->redact_end = u->end;
    }
    copy.text_redacted = redacted;
    int stop = 0;
    if (e->cfg.on_utterance)
        IN_CALLBACK(e, stop = e->cfg.on_utterance(&copy, e->cfg.utterance_user));
    free(redacted);
    return stop;
}

/* Partials need redaction rules (earshot_partial): the matcher's
 * redactor, or with analyze off one loaded from the grammar folder. */
static int open_partials(earshot *e)
{
    if (!e->cfg.on_partial)
        return EARSHOT_OK;
    if (e->cfg.partial_interval_ms < 0)
        return set_error(e, EARSHOT_MISUSE, "earshot_open: partial_interval_ms must be >= 0");
    e->partial_rules = e->redactor;
    if (e->partial_rules)
        return EARSHOT_OK;
    const char *dir = e->grammar_dir ? e->grammar_dir : earshot_default_grammar_dir();
    char why[900];
    e->partial_redactor = earshot__redactor_open(dir, why, sizeof why);
    if (!e->partial_redactor)
        return set_error(e, EARSHOT_GRAMMAR,
                         "partial hypotheses need redaction rules, and they did not load: %s",
                         why);
    e->partial_rules = e->partial_redactor;
    return EARSHOT_OK;
}

/* After each block: while an utterance is under way, looks at the
 * hypothesis every partial_interval_ms of audio and tells the app when
 * its words changed, redacted. Chunk-size independent, as everything
 * here runs per 2048-sample block. */
static int partial_step(earshot *e)
{
    if (!e->cfg.on_partial)
        return EARSHOT_OK;
    if (!earshot__recognizer_in_speech(e->rec)) {
        /* The utterance ended (or none began): the next one starts fresh. */
        free(e->partial_last);
        e->partial_last = NULL;
        e->partial_looked = e->samples;
        return EARSHOT_OK;
    }
    uint64_t every = (uint64_t)e->cfg.partial_interval_ms * EARSHOT_SAMPLE_RATE / 1000;
    if (e->samples - e->partial_looked < every)
        return EARSHOT_OK;
    e->partial_looked = e->samples;
    double start;
    const char *hyp = earshot__recognizer_partial(e->rec, &start);
    if (!hyp)
        return set_error(e, EARSHOT_NOMEM, "out of memory");
    if (!hyp[0])
        return EARSHOT_OK;
    char *shown = earshot__partial_redact(e->partial_rules, hyp);
    if (!shown)
        return set_error(e, EARSHOT_NOMEM, "out of memory");
    if (e->partial_last && !strcmp(e->partial_last, shown)) {
        free(shown);
        return EARSHOT_OK;
    }
    free(e->partial_last);
    e->partial_last = shown;
    earshot_partial p = {.text = shown, .start = start,
                         .at = (double)e->samples / EARSHOT_SAMPLE_RATE};
    int stop;
    IN_CALLBACK(e, stop = e->cfg.on_partial(&p, e->cfg.partial_user));
    return stop ? EARSHOT_STOPPED : EARSHOT_OK;
}

int earshot_open(earshot **out, const earshot_config *cfg)
{
    if (!out)
        return EARSHOT_MISUSE;
    earshot *e = calloc(1, sizeof *e);
    *out = e;
    if (!e)
        return EARSHOT_NOMEM;
    if (!cfg)
        return set_error(e, EARSHOT_MISUSE, "earshot_open: cfg is NULL");
    e->cfg = *cfg;
    if (!dup_str(&e->model_dir, cfg->model_dir) || !dup_str(&e->hmm, cfg->hmm) ||
        !dup_str(&e->dict, cfg->dict) || !dup_str(&e->lm, cfg->lm))
        return set_error(e, EARSHOT_NOMEM, "out of memory");
    if (!dup_str(&e->grammar_dir, cfg->grammar_dir) || !dup_str(&e->cache_dir, cfg->cache_dir) ||
        !dup_str(&e->decoder_options, cfg->decoder_options))
        return set_error(e, EARSHOT_NOMEM, "out of memory");
    e->cfg.decoder_options = e->decoder_options;
    if (!dup_str(&e->mllr, cfg->mllr) || !dup_str(&e->pronunciations, cfg->pronunciations))
        return set_error(e, EARSHOT_NOMEM, "out of memory");
    e->cfg.mllr = e->mllr;
    e->cfg.pronunciations = e->pronunciations;
    e->cfg.model_dir = e->model_dir;
    e->cfg.hmm = e->hmm;
    e->cfg.dict = e->dict;
    e->cfg.lm = e->lm;
    e->cfg.grammar_dir = e->grammar_dir;
    e->cfg.cache_dir = e->cache_dir;
    if (cfg->frontend < EARSHOT_FRONTEND_OFF || cfg->frontend > EARSHOT_FRONTEND_DENOISE_AGC)
        return set_error(e, EARSHOT_MISUSE, "earshot_open: unknown frontend %d", cfg->frontend);
    if (cfg->noise_suppress_db > 0)
        return set_error(e, EARSHOT_MISUSE,
                         "earshot_open: noise_suppress_db must be negative (dB of attenuation)");
    if (cfg->frontend != EARSHOT_FRONTEND_OFF &&
        !(e->frontend = earshot__frontend_new(cfg->frontend, cfg->noise_suppress_db)))
        return set_error(e, EARSHOT_NOMEM, "out of memory");
    e->band_state = -1;
    if (cfg->band_fill > 0 && !(e->bandfill = earshot__bandfill_new(cfg->band_fill)))
        return set_error(e, EARSHOT_NOMEM, "out of memory");
    e->quality = earshot__quality_new();
    if (!e->quality)
        return set_error(e, EARSHOT_NOMEM, "out of memory");
    int rc = EARSHOT_OK;
    char domain[1100] = "";
    int domain_temp = 0;
    if (!cfg->analyze) {
        /* No analysis, but text_redacted still: rules that do not load
         * leave it NULL instead of failing a handle that never needed
         * them. */
        char rules[4096], ignored[256];
        const char *gdir = e->grammar_dir ? e->grammar_dir : earshot_default_grammar_dir();
        snprintf(rules, sizeof rules, "%s/redact.rules", gdir);
        if (access(rules, F_OK) == 0)
            e->redactor = earshot__redactor_open(gdir, ignored, sizeof ignored);
    }
    if (cfg->analyze) {
        rc = open_grammar(e);
        if (rc != EARSHOT_OK)
            return rc;
        if (cfg->domain_weight > 0 &&
            earshot__domain_lm_file(e->grammar, e->cache_dir, domain, sizeof domain,
                                    &domain_temp, e->errmsg, sizeof e->errmsg) != 0)
            return set_error(e, EARSHOT_GRAMMAR, "domain language model: %s", e->errmsg);
    }
    rc = open_partials(e);
    if (rc != EARSHOT_OK)
        return rc;
    const char *dir = e->model_dir;
    if (!dir && !(e->hmm && e->dict && e->lm))
        dir = EARSHOT_DEFAULT_MODEL_DIR;
    earshot__model_paths paths;
    rc = earshot__model_resolve(&paths, dir, e->hmm, e->dict, e->lm, e->errmsg,
                                sizeof e->errmsg);
    if (rc == EARSHOT_OK) {
        snprintf(e->model_id, sizeof e->model_id, "%016llx",
                 (unsigned long long)earshot__model_hash(&paths));
        if (e->grammar)
            snprintf(e->grammar_id, sizeof e->grammar_id, "%016llx",
                     (unsigned long long)earshot__grammar_hash(e->grammar));
    }
    char kiosk_lm[1100] = "", kiosk_dict[1100] = "";
    int kiosk_temp = 0;
    if (rc == EARSHOT_OK && e->grammar && cfg->model_vocab > 0) {
        int krc = earshot__kiosk_lm_files(e->grammar, paths.lm, paths.dict, cfg->model_vocab,
                                          e->cache_dir, kiosk_lm, sizeof kiosk_lm, kiosk_dict,
                                          sizeof kiosk_dict, &kiosk_temp, e->errmsg,
                                          sizeof e->errmsg);
        if (krc == 0) {
            snprintf(paths.lm, sizeof paths.lm, "%s", kiosk_lm);
            snprintf(paths.dict, sizeof paths.dict, "%s", kiosk_dict);
        } else {
            char why[1024];
            snprintf(why, sizeof why, "%s", e->errmsg);
            snprintf(e->errmsg, sizeof e->errmsg, "kiosk vocabulary: %.1000s", why);
            if (krc == -2) {
                /* A model that cannot be cut (an ARPA or DMP file of the
                 * caller's) is used whole: the default must not refuse it. */
                if (e->cfg.on_log)
                    e->cfg.on_log(EARSHOT_LOG_WARN, e->errmsg, e->cfg.log_user);
                e->errmsg[0] = '\0';
            } else {
                rc = EARSHOT_MODEL;
            }
        }
    }
    if (rc == EARSHOT_OK)
        rc = earshot__recognizer_open(&e->rec, &paths, cfg->verbose,
                                      domain[0] ? domain : NULL, cfg->domain_weight,
                                      e->decoder_options, e->errmsg, sizeof e->errmsg);
    if (rc == EARSHOT_OK)
        rc = adapt_recognizer(e);
    if (domain_temp) {
        char bin[1200];
        snprintf(bin, sizeof bin, "%s.bin", domain);
        unlink(domain);
        unlink(bin);
    }
    if (kiosk_temp) {
        unlink(kiosk_lm);
        unlink(kiosk_dict);
    }
    if (rc != EARSHOT_OK && e->cfg.on_log)
        e->cfg.on_log(EARSHOT_LOG_ERROR, e->errmsg, e->cfg.log_user);
    return rc;
}

/* Exact digital silence (a muted input, silence padding in a file) makes
 * PocketSphinx 5prealpha's voice-activity detector and noise estimate go
 * wrong: on a file that starts with one second of zeros the first sentence
 * was lost entirely. Samples that are exactly zero are replaced with +-1 LSB
 * from a small generator reset at each stream, so results stay repeatable;
 * any other sample passes untouched, so real recordings decode as in
 * pocketsphinx_continuous. (PocketSphinx's own -dither adds noise to every
 * sample from a process-wide generator, which would make one handle's
 * results depend on another's.) */
static void dither_zeros(earshot *e)
{
    for (size_t i = 0; i < e->block_len; i++) {
        if (e->block[i] == 0) {
            e->dither = e->dither * 1664525u + 1013904223u;
            e->block[i] = (e->dither >> 31) ? 1 : -1;
        }
    }
}

static int run_block(earshot *e)
{
    /* Before the dither: denoising can turn quiet samples into exact zeros,
     * which the dither must still see. */
    if (e->frontend)
        earshot__frontend_process(e->frontend, e->block, e->block_len);
    dither_zeros(e);
    /* The band fill comes after the quality check, which judges the audio
     * as it arrived. The stream's bandwidth is decided once, on its first
     * sound loud enough to judge (about 0.06 s), and kept: a noise floor
     * that came and went would move the cepstral mean and the voice-
     * activity detector. Wideband audio is never touched. The block is
     * taken 256 samples at a time so the fill starts soon after the
     * decision; blocks are fixed, so chunking changes nothing. */
    for (size_t at = 0; at < e->block_len; at += 256) {
        size_t len = e->block_len - at < 256 ? e->block_len - at : 256;
        earshot__quality_feed(e->quality, e->block + at, len);
        if (e->bandfill && e->band_state < 0)
            e->band_state = earshot__quality_stream_narrowband(e->quality);
        if (e->bandfill && e->band_state == 1 &&
            earshot__bandfill_process(e->bandfill, e->block + at, len) != 0)
            return set_error(e, EARSHOT_NOMEM, "out of memory");
    }
    int rc = earshot__recognizer_process(e->rec, e->block, e->block_len, analyze_utterance, e);
    e->block_len = 0;
    if (rc == EARSHOT_OK || rc == EARSHOT_STOPPED) {
        int pr = partial_step(e);
        if (pr == EARSHOT_NOMEM)
            return pr;
        if (pr == EARSHOT_STOPPED)
            rc = pr;
    }
    if (rc == EARSHOT_DECODER)
        return set_error(e, rc, "the decoder failed on the audio near %.2f s",
                         (double)e->samples / EARSHOT_SAMPLE_RATE);
    if (rc == EARSHOT_NOMEM)
        return set_error(e, rc, "out of memory");
    return rc;
}

/* Takes the handle for a call that touches the decoder; EARSHOT_OK, or
 * EARSHOT_MISUSE with a message saying which rule was broken. */
static int enter(earshot *e, const char *fn)
{
    if (!atomic_exchange(&e->busy, 1))
        return EARSHOT_OK;
    if (callback_of == e)
        return set_error(e, EARSHOT_MISUSE,
                         "%s: called from inside a callback of the same handle; return from "
                         "the callback first (feed the audio after it returns)", fn);
    return set_error(e, EARSHOT_MISUSE,
                     "%s: another thread is using this handle; a handle is used by one "
                     "thread at a time", fn);
}

static int leave(earshot *e, int rc)
{
    atomic_store(&e->busy, 0);
    return rc;
}

static int stopped(earshot *e)
{
    return set_error(e, EARSHOT_STOPPED, "stopped: a callback returned non-zero");
}

static int feed(earshot *e, const int16_t *pcm, size_t n)
{
    if (e->ended) {
        e->ended = 0;
        e->ended_samples = 0;
    }
    int rc = EARSHOT_OK;
    while (n) {
        /* Checked once per block (0.128 s of audio, a few ms of decoding):
         * an interrupted feed returns promptly, leaving the stream open. */
        if (atomic_exchange(&e->interrupt, 0))
            return set_error(e, EARSHOT_INTERRUPTED,
                             "interrupted at %.2f s of the stream; %zu samples of this call "
                             "were not decoded", (double)e->samples / EARSHOT_SAMPLE_RATE, n);
        size_t take = BLOCK - e->block_len;
        if (take > n)
            take = n;
        memcpy(e->block + e->block_len, pcm, take * sizeof *pcm);
        e->block_len += take;
        e->samples += take;
        pcm += take;
        n -= take;
        if (e->block_len == BLOCK) {
            int r = run_block(e);
            /* A stop request is remembered, but the rest of the caller's
             * audio is still decoded: nothing given to us is dropped. */
            if (r == EARSHOT_STOPPED)
                rc = r;
            else if (r != EARSHOT_OK)
                return r;
        }
    }
    return rc == EARSHOT_STOPPED ? stopped(e) : rc;
}

int earshot_feed(earshot *e, const int16_t *pcm, size_t n)
{
    if (!e || !e->rec)
        return e ? set_error(e, EARSHOT_MISUSE, "earshot_feed: the handle did not open")
                 : EARSHOT_MISUSE;
    if (!pcm && n)
        return set_error(e, EARSHOT_MISUSE, "earshot_feed: pcm is NULL");
    int rc = enter(e, "earshot_feed");
    if (rc != EARSHOT_OK)
        return rc;
    return leave(e, feed(e, pcm, n));
}

static int flush(earshot *e)
{
    int rc = EARSHOT_OK;
    if (e->block_len)
        rc = run_block(e);
    if (rc != EARSHOT_OK && rc != EARSHOT_STOPPED)
        return rc;
    int r = earshot__recognizer_finish(e->rec, analyze_utterance, e);
    e->ended_samples = e->samples;
    e->ended = 1;
    e->samples = 0;
    /* The stream is over: an interrupt meant for it must not stop the
     * next one. */
    atomic_store(&e->interrupt, 0);
    free(e->partial_last);
    e->partial_last = NULL;
    e->partial_looked = 0;
    e->dither = 0;
    earshot__quality_reset(e->quality);
    if (e->frontend && earshot__frontend_reset(e->frontend) != 0)
        return set_error(e, EARSHOT_NOMEM, "out of memory");
    e->band_state = -1;
    if (e->bandfill && earshot__bandfill_reset(e->bandfill) != 0)
        return set_error(e, EARSHOT_NOMEM, "out of memory");
    if (r == EARSHOT_DECODER)
        return set_error(e, r, "the decoder failed at the end of the stream");
    if (r == EARSHOT_NOMEM)
        return set_error(e, r, "out of memory");
    rc = r != EARSHOT_OK ? r : rc;
    return rc == EARSHOT_STOPPED ? stopped(e) : rc;
}

int earshot_flush(earshot *e)
{
    if (!e || !e->rec)
        return e ? set_error(e, EARSHOT_MISUSE, "earshot_flush: the handle did not open")
                 : EARSHOT_MISUSE;
    int rc = enter(e, "earshot_flush");
    if (rc != EARSHOT_OK)
        return rc;
    return leave(e, flush(e));
}

void earshot_interrupt(earshot *e)
{
    if (e)
        atomic_store(&e->interrupt, 1);
}

int earshot_set_question(earshot *e, earshot_question q)
{
    if (!e)
        return EARSHOT_MISUSE;
    if (q < EARSHOT_ASK_NONE || q > EARSHOT_ASK_CONFIRM_FORGET)
        return set_error(e, EARSHOT_MISUSE, "earshot_set_question: unknown question %d",
                         (int)q);
    /* From inside the utterance callback it is allowed (an app asks when
     * it hears something); from a second thread it is not. */
    int inside = callback_of == e;
    if (!inside && enter(e, "earshot_set_question") != EARSHOT_OK)
        return EARSHOT_MISUSE;
    /* Without analysis there is nothing to read an answer with; the
     * question is accepted and has no effect, as documented for
     * cfg.analyze = 0. */
    if (e->matcher)
        earshot__matcher_set_question(e->matcher, q);
    return inside ? EARSHOT_OK : leave(e, EARSHOT_OK);
}

int earshot_in_speech(const earshot *e)
{
    return e && e->rec ? earshot__recognizer_in_speech(e->rec) : 0;
}

double earshot_stream_seconds(const earshot *e)
{
    if (!e)
        return 0.0;
    return (double)(e->ended ? e->ended_samples : e->samples) / EARSHOT_SAMPLE_RATE;
}

const char *earshot_errmsg(const earshot *e)
{
    if (!e)
        return "out of memory";
    return e->errmsg[0] ? e->errmsg : "not an error";
}

void earshot_close(earshot *e)
{
    if (!e)
        return;
    /* Freeing the handle under a feed that is still running (in a
     * callback, or in another thread) would crash it: refused, the handle
     * is left for a later close (a leak, not a crash). */
    if (enter(e, "earshot_close") != EARSHOT_OK)
        return;
    earshot__recognizer_close(e->rec);
    earshot__quality_free(e->quality);
    earshot__frontend_free(e->frontend);
    earshot__bandfill_free(e->bandfill);
    earshot__matcher_free(e->matcher);
    earshot__redactor_close(e->redactor);
    earshot__redactor_close(e->partial_redactor);
    free(e->partial_last);
    free(e->decoder_options);
    earshot__grammar_free(e->grammar);
    free(e->conf);
    free(e->grammar_dir);
    free(e->cache_dir);
    free(e->model_dir);
    free(e->hmm);
    free(e->dict);
    free(e->lm);
    free(e->mllr);
    free(e->pronunciations);
    free(e);
}
