/* recognizer.c - PocketSphinx 0.8+5prealpha: decoding and segmentation.
 *
 * Segmentation follows pocketsphinx_continuous exactly (one utterance is
 * open at a time; when the decoder's voice-activity detector says speech has
 * stopped after it started, the utterance is ended and a new one begun) so
 * our word error rate can be compared with it on equal terms. Audio arrives
 * here already cut into the same 2048-sample blocks continuous reads. */
#include "array.h"
#include "recognizer.h"

#include <pocketsphinx.h>
#include <sphinxbase/cmn.h>
#include <sphinxbase/err.h>
#include <sphinxbase/feat.h>
#include <sphinxbase/ngram_model.h>

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct earshot__recognizer {
    ps_decoder_t *ps;
    cmd_ln_t *config;
    int frate;         /* frames per second, 100 by default */
    int utt_started;   /* speech seen since the utterance began */
    /* The cepstral-mean state right after loading, restored at every new
     * stream (see reset_stream). */
    mfcc_t *cmn_mean0, *cmn_sum0;
    int32 cmn_nframe0;
    /* The cepstral-mean state when the current utterance began, put back
     * if it ends with no words (see cmn_forget_utterance). */
    mfcc_t *cmn_mean_utt, *cmn_sum_utt;
    int32 cmn_nframe_utt;
    /* Storage for the utterance being delivered, reused across calls. */
    earshot_word *words;
    size_t words_cap;
    char *text;   /* the words, each NUL-terminated */
    size_t text_cap;
    char *joined; /* the words joined by spaces */
    size_t joined_cap;
    char *partial; /* the hypothesis under way (earshot__recognizer_partial) */
    size_t partial_cap;
    /* The stream's opening (see prestart_begin): 1 while its audio goes to
     * the cheap search and is kept here, with the size of each block. */
    int prestart, pre_ok, pre_off;
    int16_t *pre_pcm;
    size_t pre_len, pre_cap;
    size_t *pre_blocks, n_pre_blocks, pre_blocks_cap;
};

static int prestart_begin(earshot__recognizer *r);
static void prestart_open(earshot__recognizer *r);
static int prestart_process(earshot__recognizer *r, const int16_t *pcm, size_t n,
                            earshot_utterance_fn cb, void *user);
static int prestart_finish(earshot__recognizer *r, earshot_utterance_fn cb, void *user);

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The first entry of dir (in name order, so the choice is repeatable)
 * accepted by want(); 1 if found. */
static int find_entry(const char *dir, int (*want)(const char *dir, const char *name),
                      char *out, size_t outlen)
{
    struct dirent **list = NULL;
    int n = scandir(dir, &list, NULL, alphasort);
    int found = 0;
    for (int i = 0; i < n; i++) {
        if (!found && list[i]->d_name[0] != '.' && want(dir, list[i]->d_name)) {
            snprintf(out, outlen, "%s/%s", dir, list[i]->d_name);
            found = 1;
        }
        free(list[i]);
    }
    free(list);
    return found;
}

static int want_hmm(const char *dir, const char *name)
{
    char p[2048];
    snprintf(p, sizeof p, "%s/%s/mdef", dir, name);
    return access(p, F_OK) == 0;
}

static int want_dict(const char *dir, const char *name)
{
    (void)dir;
    return ends_with(name, ".dict") || ends_with(name, ".dic");
}

/* Word language models only: Debian's folder also holds a phone LM
 * (en-us-phone.lm.bin) that would turn every utterance into phonemes. */
static int want_lm(const char *dir, const char *name)
{
    (void)dir;
    if (strstr(name, "phone"))
        return 0;
    return ends_with(name, ".lm.bin") || ends_with(name, ".lm") ||
           ends_with(name, ".lm.DMP") || ends_with(name, ".arpa");
}

static int readable(const char *path, char *err, size_t errlen, const char *what)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s %s", path, what, strerror(errno));
        return 0;
    }
    fclose(f);
    return 1;
}

int earshot__model_resolve(earshot__model_paths *p, const char *dir,
                           const char *hmm, const char *dict, const char *lm,
                           char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    if (dir && !(hmm && dict && lm)) {
        if (!is_dir(dir)) {
            snprintf(err, errlen, "%s: model folder %s", dir,
                     access(dir, F_OK) == 0 ? "is not a folder" : "does not exist");
            return EARSHOT_MODEL;
        }
        char probe[2048];
        snprintf(probe, sizeof probe, "%s/mdef", dir);
        if (access(probe, F_OK) == 0)
            snprintf(p->hmm, sizeof p->hmm, "%s", dir);
        else
            find_entry(dir, want_hmm, p->hmm, sizeof p->hmm);
        find_entry(dir, want_dict, p->dict, sizeof p->dict);
        find_entry(dir, want_lm, p->lm, sizeof p->lm);
    }
    if (hmm)
        snprintf(p->hmm, sizeof p->hmm, "%s", hmm);
    if (dict)
        snprintf(p->dict, sizeof p->dict, "%s", dict);
    if (lm)
        snprintf(p->lm, sizeof p->lm, "%s", lm);
    const char *where = dir ? dir : "(no model folder)";
    if (!p->hmm[0]) {
        snprintf(err, errlen, "%s: not a PocketSphinx model folder: no acoustic model "
                 "(a folder holding mdef)", where);
        return EARSHOT_MODEL;
    }
    if (!p->dict[0]) {
        snprintf(err, errlen, "%s: not a PocketSphinx model folder: no pronunciation "
                 "dictionary (*.dict)", where);
        return EARSHOT_MODEL;
    }
    if (!p->lm[0]) {
        snprintf(err, errlen, "%s: not a PocketSphinx model folder: no language model "
                 "(*.lm.bin, *.lm, *.lm.DMP)", where);
        return EARSHOT_MODEL;
    }
    static const char *const hmm_files[] = {"mdef", "means", "variances",
                                            "transition_matrices"};
    for (size_t i = 0; i < sizeof hmm_files / sizeof *hmm_files; i++) {
        char f[2048];
        snprintf(f, sizeof f, "%s/%s", p->hmm, hmm_files[i]);
        if (!readable(f, err, errlen, "acoustic model file:"))
            return EARSHOT_MODEL;
    }
    char mix[2048], sen[2048];
    snprintf(mix, sizeof mix, "%s/mixture_weights", p->hmm);
    snprintf(sen, sizeof sen, "%s/sendump", p->hmm);
    if (access(mix, R_OK) != 0 && access(sen, R_OK) != 0) {
        snprintf(err, errlen, "%s: acoustic model has no readable mixture_weights "
                 "or sendump", p->hmm);
        return EARSHOT_MODEL;
    }
    if (!readable(p->dict, err, errlen, "dictionary:") ||
        !readable(p->lm, err, errlen, "language model:"))
        return EARSHOT_MODEL;
    return EARSHOT_OK;
}

/* PocketSphinx adapts its cepstral mean normalisation as it hears audio
 * and keeps that state across ps_start_stream(). Left alone, a file's
 * transcript would depend on which files the handle decoded before it (and
 * a test caught exactly that). Each stream therefore starts from the
 * state the model was loaded with, as a fresh pocketsphinx_continuous
 * does. sphinxbase 5prealpha has no call for it, but cmn_t is public. */
static cmn_t *cmn_of(earshot__recognizer *r)
{
    feat_t *f = ps_get_feat(r->ps);
    return f ? f->cmn_struct : NULL;
}

/* Where each stream's cepstral mean starts. The en-us model's own
 * -cmninit (41.00,-5.29,-0.12,5.09,...) is far from where live CMN settles
 * on 16 kHz speech: after a few sentences it sits near c0 52-54, c1 5-7,
 * c3 21-22 both on Debian's librivox recordings and on flite voices. Until
 * it gets there, the first utterance of every stream is misheard. This
 * vector is the mean of the settled values on the two kinds of speech
 * (5 librivox files, 130 flite sentences). Measured with the generic model
 * and each file a fresh stream: librivox WER 36.6 % -> 28.2 %, flite
 * customer sentences 19.1 % -> 15.4 %. */
static const double cmn_start[13] = {52.57, 5.64,  1.35, 21.41, -9.23, 4.09, -2.06,
                                     -7.15, 0.12, -3.44, 5.25,  -1.28, 1.72};

/* How many frames the starting mean counts for. sphinxbase 5prealpha
 * starts with no frames behind the mean, so the first utterance's own mean
 * replaces it outright, however short ("hello there": 0.8 s), and so on
 * while the count is small. Later sphinxbase (cmn_live_set) counts a set
 * mean as CMN_WIN = 500 frames (5 s of speech), as here. Measured with the
 * default grammar on streams of 4 sentences after 1.5 s of digital
 * silence, the 4 non-flite voices (13 sentences): WER of the first
 * sentences 22.5 % -> 15.0 %, of the later ones 30.6 % -> 25.0 %; flite
 * streams of 5 (60 sentences): 8.0 % -> 7.8 % on the later ones, first
 * ones unchanged. */
#define CMN_START_FRAMES 500

static void cmn_weigh_start(cmn_t *c)
{
    for (int i = 0; i < c->veclen; i++)
        c->sum[i] = c->cmn_mean[i] * CMN_START_FRAMES;
    c->nframe = CMN_START_FRAMES;
}

static int save_cmn(earshot__recognizer *r)
{
    cmn_t *c = cmn_of(r);
    if (!c)
        return 1;
    if (c->veclen == (int)(sizeof cmn_start / sizeof *cmn_start))
        for (int i = 0; i < c->veclen; i++)
            c->cmn_mean[i] = (mfcc_t)cmn_start[i];
    cmn_weigh_start(c);
    r->cmn_mean0 = malloc((size_t)c->veclen * sizeof *c->cmn_mean);
    r->cmn_sum0 = malloc((size_t)c->veclen * sizeof *c->sum);
    r->cmn_mean_utt = malloc((size_t)c->veclen * sizeof *c->cmn_mean);
    r->cmn_sum_utt = malloc((size_t)c->veclen * sizeof *c->sum);
    if (!r->cmn_mean0 || !r->cmn_sum0 || !r->cmn_mean_utt || !r->cmn_sum_utt)
        return 0;
    memcpy(r->cmn_mean0, c->cmn_mean, (size_t)c->veclen * sizeof *c->cmn_mean);
    memcpy(r->cmn_sum0, c->sum, (size_t)c->veclen * sizeof *c->sum);
    r->cmn_nframe0 = c->nframe;
    return 1;
}

/* Takes the state an utterance starts from; called at every
 * ps_start_utt(). */
static void cmn_mark_utterance(earshot__recognizer *r)
{
    cmn_t *c = cmn_of(r);
    if (!c || !r->cmn_mean_utt)
        return;
    memcpy(r->cmn_mean_utt, c->cmn_mean, (size_t)c->veclen * sizeof *c->cmn_mean);
    memcpy(r->cmn_sum_utt, c->sum, (size_t)c->veclen * sizeof *c->sum);
    r->cmn_nframe_utt = c->nframe;
}

/* The cold-start bug. ps_end_utt() sets the cepstral mean to the mean of
 * every frame the utterance held, words or not. When the voice-activity
 * detector fires on near-silence (it does at the start of a stream of
 * +-1 LSB noise, which is what exact digital silence becomes here, see
 * dither_zeros in earshot.c), that "utterance" decodes to nothing but
 * moves the mean's c0 from ~52 to ~0.4, the level of silence, and the
 * real first sentence is then decoded against it: "no thank you i do not
 * want to be recorded" came out as "i put in" ("i applied" with no
 * grammar). pocketsphinx_continuous -dither yes shows the same (0.0-0.9 s
 * empty, then "hi up"). An utterance that yields no words therefore
 * leaves the mean as it found it. */
static void cmn_forget_utterance(earshot__recognizer *r)
{
    cmn_t *c = cmn_of(r);
    if (!c || !r->cmn_mean_utt)
        return;
    memcpy(c->cmn_mean, r->cmn_mean_utt, (size_t)c->veclen * sizeof *c->cmn_mean);
    memcpy(c->sum, r->cmn_sum_utt, (size_t)c->veclen * sizeof *c->sum);
    c->nframe = r->cmn_nframe_utt;
}

/* ps_start_utt() with the state cmn_forget_utterance() may restore. */
static int start_utterance(earshot__recognizer *r)
{
    if (ps_start_utt(r->ps) < 0)
        return -1;
    cmn_mark_utterance(r);
    return 0;
}

static int reset_stream(earshot__recognizer *r)
{
    cmn_t *c = cmn_of(r);
    if (c && r->cmn_mean0) {
        memcpy(c->cmn_mean, r->cmn_mean0, (size_t)c->veclen * sizeof *c->cmn_mean);
        memcpy(c->sum, r->cmn_sum0, (size_t)c->veclen * sizeof *c->sum);
        c->nframe = r->cmn_nframe0;
    }
    r->utt_started = 0;
    if (ps_start_stream(r->ps) < 0 || start_utterance(r) < 0)
        return EARSHOT_DECODER;
    return prestart_begin(r);
}

/* Makes lm the decoder's one search, taking over the caller's reference
 * (the search holds its own). */
static int start_search(earshot__recognizer *r, ngram_model_t *lm, const char *what, char *err,
                        size_t errlen)
{
    int rc = ps_set_lm(r->ps, "earshot", lm);
    ngram_model_free(lm);
    if (rc < 0 || ps_set_search(r->ps, "earshot") < 0) {
        snprintf(err, errlen, "cannot start a search with %s", what);
        return EARSHOT_MODEL;
    }
    return EARSHOT_OK;
}

/* Makes the one search the decoder runs: the generic model alone, or the
 * generic model interpolated with the domain model in arpa. The decoder is
 * initialised without -lm, so no "_default" search is built only to be
 * dropped: building the tree twice cost 17 MB of peak RSS (195 -> 178 MB,
 * byte-identical transcripts). */
static int use_lm(earshot__recognizer *r, const char *lm_path, const char *arpa,
                  double weight, char *err, size_t errlen)
{
    ngram_model_t *generic =
        ngram_model_read(r->config, lm_path, NGRAM_AUTO, ps_get_logmath(r->ps));
    if (!generic) {
        snprintf(err, errlen, "%s: cannot read the language model", lm_path);
        return EARSHOT_MODEL;
    }
    if (!arpa)
        return start_search(r, generic, "the language model", err, errlen);
    /* Reading the ARPA text takes ~0.1 s; a binary copy beside it in the
     * cache loads in ~1 ms, so it is written once and read from then on. */
    char bin[1200];
    snprintf(bin, sizeof bin, "%s.bin", arpa);
    ngram_model_t *domain = NULL;
    if (access(bin, R_OK) == 0)
        domain = ngram_model_read(r->config, bin, NGRAM_BIN, ps_get_logmath(r->ps));
    if (!domain) {
        domain = ngram_model_read(r->config, arpa, NGRAM_ARPA, ps_get_logmath(r->ps));
        if (!domain) {
            ngram_model_free(generic);
            snprintf(err, errlen, "%s: cannot read the compiled domain language model", arpa);
            return EARSHOT_MODEL;
        }
        char tmp[1300];
        snprintf(tmp, sizeof tmp, "%s.%ld.tmp", bin, (long)getpid());
        if (ngram_model_write(domain, tmp, NGRAM_BIN) != 0 || rename(tmp, bin) != 0)
            unlink(tmp); /* no binary copy: the ARPA file serves */
    }
    ngram_model_t *models[2] = {generic, domain};
    char *names[2] = {"generic", "domain"};
    /* A boost, not a trade: the generic model keeps weight 1 and the
     * domain model's probability is added on top. With weights summing to
     * 1, every word the grammar never uses lost a factor (1 - w), which cost
     * 3-7 points of WER on librivox; as a boost it costs about 1. */
    float32 weights[2] = {1.0f, (float32)weight};
    ngram_model_t *set = ngram_model_set_init(r->config, models, names, weights, 2);
    /* The set holds its own references to both models. */
    ngram_model_free(generic);
    ngram_model_free(domain);
    if (!set) {
        snprintf(err, errlen, "cannot interpolate the domain and generic language models");
        return EARSHOT_MODEL;
    }
    return start_search(r, set, "the domain language model", err, errlen);
}

/* Why sphinxbase would refuse v for an option of this type, or NULL. */
static const char *bad_value(int type, const char *v)
{
    char *end;
    if (type & ARG_INTEGER) {
        errno = 0;
        (void)strtol(v, &end, 10);
        return end == v || *end || errno ? "not a whole number" : NULL;
    }
    if (type & ARG_FLOATING) {
        errno = 0;
        (void)strtod(v, &end);
        return end == v || *end || errno ? "not a number" : NULL;
    }
    if (type & ARG_BOOLEAN)
        return strcmp(v, "yes") && strcmp(v, "no") && strcmp(v, "true") && strcmp(v, "false")
                   ? "not yes or no"
                   : NULL;
    return NULL;
}

/* The decoder's configuration: the model's files plus the caller's
 * extra options (earshot_config.decoder_options), parsed by sphinxbase
 * itself so that every PocketSphinx option and its type is known without
 * a list of ours. NULL with the reason in err. */
static cmd_ln_t *decoder_config(const earshot__model_paths *p, const char *options, char *err,
                                size_t errlen)
{
    enum { MAX_ARGS = 64 };
    char *copy = strdup(options ? options : "");
    char *argv[MAX_ARGS + 4];
    int argc = 0;
    if (!copy) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    argv[argc++] = "-hmm";
    argv[argc++] = (char *)p->hmm;
    argv[argc++] = "-dict";
    argv[argc++] = (char *)p->dict;
    for (char *save = NULL, *t = strtok_r(copy, " \t\n", &save); t;
         t = strtok_r(NULL, " \t\n", &save)) {
        if (argc >= MAX_ARGS) {
            snprintf(err, errlen, "decoder options: more than %d words", MAX_ARGS - 4);
            free(copy);
            return NULL;
        }
        if (argc % 2 == 0 && (!strcmp(t, "-hmm") || !strcmp(t, "-dict") || !strcmp(t, "-lm"))) {
            snprintf(err, errlen, "decoder options: %s is the model's, not an option", t);
            free(copy);
            return NULL;
        }
        if (argc % 2 == 0 && t[0] != '-') {
            snprintf(err, errlen, "decoder options: '%s' is not an option (options start with -)", t);
            free(copy);
            return NULL;
        }
        argv[argc++] = t;
    }
    if (argc % 2) {
        snprintf(err, errlen, "decoder options: %s has no value", argv[argc - 1]);
        free(copy);
        return NULL;
    }
    /* Names and values are checked here: sphinxbase prints its whole
     * option table to stderr for an unknown name or a bad value. */
    for (int i = 4; i < argc; i += 2) {
        const arg_t *a = ps_args();
        while (a->name && strcmp(a->name, argv[i]))
            a++;
        const char *why = !a->name ? "PocketSphinx has no such option"
                                   : bad_value(a->type, argv[i + 1]);
        if (why) {
            snprintf(err, errlen, "decoder options: %s %s: %s", argv[i], argv[i + 1], why);
            free(copy);
            return NULL;
        }
    }
    cmd_ln_t *c = cmd_ln_parse_r(NULL, ps_args(), argc, argv, TRUE);
    if (!c)
        snprintf(err, errlen, "decoder options: PocketSphinx refused a value in '%s'",
                 options ? options : "");
    free(copy);
    return c;
}

int earshot__recognizer_open(earshot__recognizer **out,
                             const earshot__model_paths *p, int verbose,
                             const char *domain_arpa, double domain_weight,
                             const char *decoder_options, char *err, size_t errlen)
{
    *out = NULL;
    earshot__recognizer *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return EARSHOT_NOMEM;
    }
    /* PocketSphinx 5prealpha logs through one process-wide stream; it must
     * be set before cmd_ln_init or the whole configuration is printed. */
    err_set_logfp(verbose ? stderr : NULL);
    r->config = decoder_config(p, decoder_options, err, errlen);
    if (!r->config) {
        free(r);
        return EARSHOT_MODEL;
    }
    ps_default_search_args(r->config);
    /* The language model is loaded by use_lm(), once (see there). */
    cmd_ln_set_str_r(r->config, "-lm", NULL);
    r->ps = ps_init(r->config);
    if (!r->ps) {
        snprintf(err, errlen, "cannot load the speech model (%s, %s, %s)%s", p->hmm,
                 p->dict, p->lm, verbose ? "" : "; set verbose in the config (the command: --verbose) for the decoder's log");
        cmd_ln_free_r(r->config);
        free(r);
        return EARSHOT_MODEL;
    }
    int rc = use_lm(r, p->lm, domain_arpa && domain_weight > 0 ? domain_arpa : NULL,
                    domain_weight, err, errlen);
    if (rc != EARSHOT_OK) {
        earshot__recognizer_close(r);
        return rc;
    }
    prestart_open(r);
    r->frate = cmd_ln_int32_r(r->config, "-frate");
    if (r->frate <= 0)
        r->frate = 100;
    if (!save_cmn(r)) {
        snprintf(err, errlen, "out of memory");
        earshot__recognizer_close(r);
        return EARSHOT_NOMEM;
    }
    if (reset_stream(r) != EARSHOT_OK) {
        snprintf(err, errlen, "cannot start decoding");
        earshot__recognizer_close(r);
        return EARSHOT_DECODER;
    }
    *out = r;
    return EARSHOT_OK;
}

/* Fillers (<s>, <sil>, [NOISE], ++BREATH++) are not words the customer
 * said. */
static int is_filler(const char *w)
{
    return w[0] == '<' || w[0] == '[' || (w[0] == '+' && w[1] == '+');
}


/* Gathers the finished utterance's words and passes it to cb. An
 * utterance with no words (a cough the detector took for speech) is not
 * delivered. */
static int deliver(earshot__recognizer *r, earshot_utterance_fn cb, void *user)
{
    if (ps_end_utt(r->ps) < 0)
        return EARSHOT_DECODER;
    int32 score;
    const char *hyp = ps_get_hyp(r->ps, &score);
    if (!hyp || !hyp[0]) {
        cmn_forget_utterance(r);
        return EARSHOT_OK;
    }
    logmath_t *lmath = ps_get_logmath(r->ps);
    size_t n = 0, text_len = 0;
    /* Word strings point into r->text, which must not move while they
     * are taken: size it in a first pass. */
    size_t need = 1;
    for (ps_seg_t *s = ps_seg_iter(r->ps); s; s = ps_seg_next(s))
        need += strlen(ps_seg_word(s)) + 1;
    if (!earshot__grow((void **)&r->text, &r->text_cap, need, 1))
        return EARSHOT_NOMEM;
    double conf_sum = 0;
    for (ps_seg_t *s = ps_seg_iter(r->ps); s; s = ps_seg_next(s)) {
        const char *w = ps_seg_word(s);
        if (is_filler(w))
            continue;
        if (!earshot__grow((void **)&r->words, &r->words_cap, n + 1, sizeof *r->words)) {
            ps_seg_free(s);
            return EARSHOT_NOMEM;
        }
        /* "and(2)" is the second pronunciation of "and". */
        size_t len = strcspn(w, "(");
        char *dst = r->text + text_len;
        memcpy(dst, w, len);
        dst[len] = '\0';
        int sf, ef;
        ps_seg_frames(s, &sf, &ef);
        int32 ascr, lscr, lback;
        double post = logmath_exp(lmath, ps_seg_prob(s, &ascr, &lscr, &lback));
        if (post > 1.0)
            post = 1.0;
        if (post < 0.0)
            post = 0.0;
        r->words[n] = (earshot_word){
            .word = dst,
            .start = (double)sf / r->frate,
            .end = (double)(ef + 1) / r->frate,
            .confidence = post,
        };
        conf_sum += post;
        text_len += len + 1;
        n++;
    }
    if (n == 0) {
        cmn_forget_utterance(r);
        return EARSHOT_OK;
    }
    if (!earshot__grow((void **)&r->joined, &r->joined_cap, need, 1))
        return EARSHOT_NOMEM;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(r->words[i].word);
        if (i)
            r->joined[j++] = ' ';
        memcpy(r->joined + j, r->words[i].word, len);
        j += len;
    }
    r->joined[j] = '\0';
    earshot_utterance u = {
        .text = r->joined,
        .start = r->words[0].start,
        .end = r->words[n - 1].end,
        .confidence = conf_sum / (double)n,
        .words = r->words,
        .n_words = n,
    };
    return cb && cb(&u, user) ? EARSHOT_STOPPED : EARSHOT_OK;
}

/* ------------------------------------------------------------------ */
/* The stream's opening: room noise is not searched                     */
/*
 * PocketSphinx 5prealpha's voice-activity detector starts each stream
 * with its noise estimate taken from the first frame alone, so it calls
 * the first ~0.9 s of a room's noise speech, and the search runs over
 * that noise at 1.5-4 times the cost of speech (flat acoustic scores keep
 * many more paths inside the beam), often ending in a word made of noise
 * ("if"). Speech may also start at the very first sample (a file), so the
 * opening cannot simply be skipped. Instead, until the detector ends its
 * first stretch of "speech" (or PRE_CAP of audio has passed), the audio
 * goes to a nearly free keyword search and is kept. If that stretch was
 * flat room noise (the level of its frames varies by less than
 * PRE_SPEECH_DB), it is dropped there, exactly where the full search
 * would have ended it. Otherwise the stream restarts and the kept blocks
 * are decoded again by the full search, so the result is what it was
 * without any of this, at the price of a second feature pass over at most
 * PRE_CAP of audio. The keyword search sees the same frames, so the
 * detector, the cepstral mean and the times after a dropped opening are
 * those of a full search too.
 */
enum { PRE_CAP = 12 * 2048 }; /* 1.54 s: the detector's false start is ~0.9 s */
#define PRE_SPEECH_DB 15.0

/* Adds the cheap search. Without it (no "the" in a caller's dictionary)
 * every stream is searched in full from its first frame, as before. */
static void prestart_open(earshot__recognizer *r)
{
    r->pre_ok = ps_set_keyphrase(r->ps, "earshot_pre", "the") == 0;
}

/* Called once a stream's first utterance has begun (reset_stream). */
static int prestart_begin(earshot__recognizer *r)
{
    r->prestart = 0;
    r->pre_len = 0;
    r->n_pre_blocks = 0;
    if (!r->pre_ok || r->pre_off)
        return EARSHOT_OK;
    if (ps_end_utt(r->ps) < 0 || ps_set_search(r->ps, "earshot_pre") < 0 ||
        ps_start_utt(r->ps) < 0)
        return EARSHOT_DECODER;
    r->prestart = 1;
    return EARSHOT_OK;
}

/* Whether the kept audio holds anything but a steady noise: the loudest
 * and the quietest 16 ms frame differ by PRE_SPEECH_DB or more. */
static int prestart_heard_speech(const earshot__recognizer *r)
{
    double lo = 1e30, hi = 0;
    for (size_t i = 0; i + 256 <= r->pre_len; i += 256) {
        double e = 0;
        for (size_t k = 0; k < 256; k++)
            e += (double)r->pre_pcm[i + k] * r->pre_pcm[i + k];
        e = e / 256 + 1;
        if (e < lo)
            lo = e;
        if (e > hi)
            hi = e;
    }
    return hi > 0 && lo < 1e30 && 10 * log10(hi / lo) >= PRE_SPEECH_DB;
}

/* Back to the full search, from the start of the stream: the kept blocks
 * are decoded again, block for block as they came. */
static int prestart_redo(earshot__recognizer *r, earshot_utterance_fn cb, void *user)
{
    r->prestart = 0;
    if (ps_end_utt(r->ps) < 0 || ps_set_search(r->ps, "earshot") < 0)
        return EARSHOT_DECODER;
    /* Taken over: reset_stream() starts a new opening's buffers. */
    int16_t *pcm = r->pre_pcm;
    size_t *blocks = r->pre_blocks, nb = r->n_pre_blocks;
    r->pre_pcm = NULL, r->pre_cap = 0, r->pre_blocks = NULL, r->pre_blocks_cap = 0;
    r->pre_off = 1;
    int rc = reset_stream(r);
    r->pre_off = 0;
    size_t off = 0;
    for (size_t b = 0; rc != EARSHOT_DECODER && rc != EARSHOT_NOMEM && b < nb; b++) {
        int x = earshot__recognizer_process(r, pcm + off, blocks[b], cb, user);
        if (x != EARSHOT_OK)
            rc = x;
        off += blocks[b];
    }
    free(pcm);
    free(blocks);
    return rc;
}

/* Dropped unsearched: the opening was room noise. */
static int prestart_drop(earshot__recognizer *r)
{
    r->prestart = 0;
    r->utt_started = 0;
    r->pre_len = 0;
    r->n_pre_blocks = 0;
    if (ps_end_utt(r->ps) < 0 || ps_set_search(r->ps, "earshot") < 0 ||
        ps_start_utt(r->ps) < 0)
        return EARSHOT_DECODER;
    return EARSHOT_OK;
}

static int prestart_process(earshot__recognizer *r, const int16_t *pcm, size_t n,
                            earshot_utterance_fn cb, void *user)
{
    if (!earshot__grow((void **)&r->pre_pcm, &r->pre_cap, r->pre_len + n, sizeof *pcm) ||
        !earshot__grow((void **)&r->pre_blocks, &r->pre_blocks_cap, r->n_pre_blocks + 1,
                       sizeof *r->pre_blocks))
        return EARSHOT_NOMEM;
    memcpy(r->pre_pcm + r->pre_len, pcm, n * sizeof *pcm);
    r->pre_len += n;
    r->pre_blocks[r->n_pre_blocks++] = n;
    if (ps_process_raw(r->ps, pcm, n, FALSE, FALSE) < 0)
        return EARSHOT_DECODER;
    int in_speech = ps_get_in_speech(r->ps);
    if (in_speech)
        r->utt_started = 1;
    if (!in_speech && r->utt_started)
        return prestart_heard_speech(r) ? prestart_redo(r, cb, user) : prestart_drop(r);
    if (r->pre_len >= PRE_CAP)
        return prestart_redo(r, cb, user);
    return EARSHOT_OK;
}

/* The stream ends during its opening: decoded in full if it held speech. */
static int prestart_finish(earshot__recognizer *r, earshot_utterance_fn cb, void *user)
{
    if (!r->prestart)
        return EARSHOT_OK;
    if (prestart_heard_speech(r))
        return prestart_redo(r, cb, user);
    r->prestart = 0;
    r->utt_started = 0; /* the keyword search's words are not the customer's */
    return EARSHOT_OK;
}

int earshot__recognizer_process(earshot__recognizer *r, const int16_t *pcm,
                                size_t n, earshot_utterance_fn cb, void *user)
{
    if (r->prestart)
        return prestart_process(r, pcm, n, cb, user);
    if (ps_process_raw(r->ps, pcm, n, FALSE, FALSE) < 0)
        return EARSHOT_DECODER;
    int in_speech = ps_get_in_speech(r->ps);
    if (in_speech && !r->utt_started)
        r->utt_started = 1;
    if (!in_speech && r->utt_started) {
        r->utt_started = 0;
        int rc = deliver(r, cb, user);
        if (start_utterance(r) < 0)
            return EARSHOT_DECODER;
        return rc;
    }
    return EARSHOT_OK;
}

int earshot__recognizer_finish(earshot__recognizer *r, earshot_utterance_fn cb,
                               void *user)
{
    int rc, pre = prestart_finish(r, cb, user);
    if (pre != EARSHOT_OK && pre != EARSHOT_STOPPED)
        return pre;
    if (r->utt_started) {
        rc = deliver(r, cb, user);
    } else {
        rc = ps_end_utt(r->ps) < 0 ? EARSHOT_DECODER : EARSHOT_OK;
    }
    int r2 = reset_stream(r);
    return r2 != EARSHOT_OK ? r2 : rc != EARSHOT_OK ? rc : pre;
}

void earshot__recognizer_close(earshot__recognizer *r)
{
    if (!r)
        return;
    if (r->ps)
        ps_free(r->ps);
    if (r->config)
        cmd_ln_free_r(r->config);
    free(r->cmn_mean0);
    free(r->cmn_sum0);
    free(r->cmn_mean_utt);
    free(r->cmn_sum_utt);
    free(r->words);
    free(r->text);
    free(r->joined);
    free(r->partial);
    free(r->pre_pcm);
    free(r->pre_blocks);
    free(r);
}

/* Provenance for stored utterances: which model heard them. Every model
 * file's bytes go in (36 MB for en-us: about 10 ms from the page cache, as
 * the decoder has just read them), eight bytes at a time; this identifies
 * a model, it is not a cryptographic digest. */
static uint64_t hash_file(uint64_t h, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return h * 31 + 1;
    uint64_t *buf = malloc(65536);
    if (!buf) {
        fclose(f);
        return h * 31 + 2;
    }
    size_t n;
    while ((n = fread(buf, 1, 65536, f)) > 0) {
        size_t words = n / 8;
        for (size_t i = 0; i < words; i++) {
            h = (h ^ buf[i]) * 0x9e3779b97f4a7c15ull;
            h ^= h >> 29;
        }
        for (size_t i = words * 8; i < n; i++)
            h = (h ^ ((const unsigned char *)buf)[i]) * 0x100000001b3ull;
        h ^= n;
    }
    free(buf);
    fclose(f);
    return h;
}

uint64_t earshot__model_hash(const earshot__model_paths *p)
{
    static const char *const files[] = {"mdef", "means", "variances", "transition_matrices",
                                        "mixture_weights", "sendump", "feat.params",
                                        "noisedict"};
    uint64_t h = 14695981039346656037ull;
    char f[2048];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(f, sizeof f, "%s/%s", p->hmm, files[i]);
        if (access(f, R_OK) == 0)
            h = hash_file(h, f);
    }
    h = hash_file(h, p->dict);
    return hash_file(h, p->lm);
}

int earshot__recognizer_in_speech(const earshot__recognizer *r)
{
    return r->utt_started;
}

/* The first pass's best path so far, as words: ps_get_hyp() in the middle
 * of an utterance backtraces the forward search (no second pass), which is
 * cheap. Fillers and pronunciation variants are dropped as in deliver().
 * "" when nothing is heard yet; the string belongs to r. */
const char *earshot__recognizer_partial(earshot__recognizer *r, double *start)
{
    *start = 0;
    int32 score;
    const char *hyp = r->utt_started && !r->prestart ? ps_get_hyp(r->ps, &score) : NULL;
    size_t need = (hyp ? strlen(hyp) : 0) + 1;
    if (!earshot__grow((void **)&r->partial, &r->partial_cap, need, 1))
        return NULL;
    size_t j = 0;
    for (const char *w = hyp; w && *w;) {
        w += strspn(w, " ");
        size_t len = strcspn(w, " ");
        if (!len)
            break;
        if (!is_filler(w)) {
            size_t base = strcspn(w, "(");
            if (base > len)
                base = len;
            if (j)
                r->partial[j++] = ' ';
            memcpy(r->partial + j, w, base);
            j += base;
        }
        w += len;
    }
    r->partial[j] = '\0';
    if (j) {
        for (ps_seg_t *s = ps_seg_iter(r->ps); s; s = ps_seg_next(s)) {
            if (!is_filler(ps_seg_word(s))) {
                int sf, ef;
                ps_seg_frames(s, &sf, &ef);
                *start = (double)sf / r->frate;
                ps_seg_free(s);
                break;
            }
        }
    }
    return r->partial;
}

/* ---- adaptation: an MLLR transform and extra pronunciations ---------
 * Both change the decoder after it is built, so the open utterance is
 * ended first and the stream restarted as at open. */

int earshot__recognizer_set_mllr(earshot__recognizer *r, const char *path, char *err,
                                 size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: MLLR transform: %s", path, strerror(errno));
        return EARSHOT_MODEL;
    }
    fclose(f);
    /* ps_mllr_read() checks the file's syntax but not that it fits the
     * model: a transform for other feature streams would be applied out
     * of bounds. The header (classes, streams, each stream's length) is
     * read here and checked against the model first. */
    int n_class = 0, n_feat = 0, ok = 1;
    feat_t *fe = ps_get_feat(r->ps);
    f = fopen(path, "r");
    if (!f || fscanf(f, "%d %d", &n_class, &n_feat) != 2 || n_class < 1 || !fe ||
        n_feat != feat_dimension1(fe))
        ok = 0;
    for (int i = 0; ok && i < n_feat; i++) {
        int len = 0;
        if (fscanf(f, "%d", &len) != 1 || len != (int)feat_dimension2(fe, i))
            ok = 0;
        /* skip the matrix and the two vectors to the next stream */
        for (long k = 0; ok && k < (long)len * len + 2L * len; k++) {
            float v;
            if (fscanf(f, "%f", &v) != 1)
                ok = 0;
        }
    }
    if (f)
        fclose(f);
    if (!ok) {
        snprintf(err, errlen, "%s: not an MLLR transform for this acoustic model (as "
                 "earshot adapt writes it)", path);
        return EARSHOT_MODEL;
    }
    ps_mllr_t *m = ps_mllr_read(path);
    if (!m) {
        snprintf(err, errlen, "%s: not an MLLR transform (as earshot adapt writes it)", path);
        return EARSHOT_MODEL;
    }
    ps_end_utt(r->ps);
    if (!ps_update_mllr(r->ps, m)) {
        snprintf(err, errlen, "%s: PocketSphinx cannot apply the MLLR transform", path);
        return EARSHOT_MODEL;
    }
    return reset_stream(r);
}

/* One line of a pronunciation addendum, kept until all are checked. */
typedef struct {
    char *word, *phones;
    int line;
} pron_entry;

/* Non-zero when word (or one of its numbered variants) already has this
 * pronunciation; *next gets the first free variant number. */
static int has_pron(ps_decoder_t *ps, const char *word, const char *phones, int *next)
{
    int same = 0;
    *next = 2;
    for (int k = 1; k < 100; k++) {
        char name[300];
        if (k == 1)
            snprintf(name, sizeof name, "%s", word);
        else
            snprintf(name, sizeof name, "%s(%d)", word, k);
        char *p = ps_lookup_word(ps, name);
        if (!p) {
            if (k > 1) {
                *next = k;
                break;
            }
            continue;
        }
        if (!strcmp(p, phones))
            same = 1;
        ckd_free(p);
    }
    return same;
}

int earshot__recognizer_add_pronunciations(earshot__recognizer *r, const char *path,
                                           int *n_added, char *err, size_t errlen)
{
    *n_added = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return EARSHOT_GRAMMAR;
    }
    pron_entry *list = NULL;
    size_t n = 0, cap = 0;
    int rc = EARSHOT_OK, lineno = 0;
    char line[1024];
    while (rc == EARSHOT_OK && fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "#\r\n")] = '\0';
        char *save = NULL, *w = strtok_r(line, " \t", &save);
        if (!w)
            continue;
        /* "word(2)" in a CMU dictionary: the variant number is ours to give. */
        w[strcspn(w, "(")] = '\0';
        for (char *c = w; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        char phones[900] = "";
        size_t pl = 0;
        for (char *ph; (ph = strtok_r(NULL, " \t", &save));) {
            size_t len = strlen(ph);
            for (size_t i = 0; i < len; i++)
                if (!((ph[i] >= 'A' && ph[i] <= 'Z') || (ph[i] >= '0' && ph[i] <= '9'))) {
                    snprintf(err, errlen, "%s:%d: \"%s\" is not a phone (upper-case CMU phones, "
                             "as in the model's dictionary)", path, lineno, ph);
                    rc = EARSHOT_GRAMMAR;
                    break;
                }
            if (rc != EARSHOT_OK)
                break;
            if (pl + len + 2 >= sizeof phones) {
                snprintf(err, errlen, "%s:%d: pronunciation too long", path, lineno);
                rc = EARSHOT_GRAMMAR;
                break;
            }
            pl += (size_t)snprintf(phones + pl, sizeof phones - pl, "%s%s", pl ? " " : "", ph);
        }
        if (rc != EARSHOT_OK)
            break;
        if (!w[0] || !phones[0]) {
            snprintf(err, errlen, "%s:%d: expected \"word PHONE PHONE ...\"", path, lineno);
            rc = EARSHOT_GRAMMAR;
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            pron_entry *p = realloc(list, cap * sizeof *p);
            if (!p) {
                rc = EARSHOT_NOMEM;
                snprintf(err, errlen, "out of memory");
                break;
            }
            list = p;
        }
        list[n].word = strdup(w);
        list[n].phones = strdup(phones);
        list[n].line = lineno;
        if (!list[n].word || !list[n].phones) {
            free(list[n].word);
            free(list[n].phones);
            rc = EARSHOT_NOMEM;
            snprintf(err, errlen, "out of memory");
            break;
        }
        n++;
    }
    fclose(f);
    /* Only words the dictionary has get a variant: a new word would also
     * need a language-model probability, and the kiosk vocabulary has cut
     * the dictionary to the words the model can say. */
    size_t last = n;
    for (size_t i = 0; rc == EARSHOT_OK && i < n; i++) {
        char *p = ps_lookup_word(r->ps, list[i].word);
        int next;
        if (p && !has_pron(r->ps, list[i].word, list[i].phones, &next))
            last = i;
        else {
            free(list[i].phones);
            list[i].phones = NULL; /* skipped */
        }
        ckd_free(p);
    }
    if (rc == EARSHOT_OK && last < n)
        ps_end_utt(r->ps);
    for (size_t i = 0; rc == EARSHOT_OK && last < n && i <= last; i++) {
        if (!list[i].phones)
            continue;
        int next;
        if (has_pron(r->ps, list[i].word, list[i].phones, &next))
            continue; /* the same line twice */
        char name[300];
        snprintf(name, sizeof name, "%s(%d)", list[i].word, next);
        /* The search is rebuilt once, with the last word. */
        if (ps_add_word(r->ps, name, list[i].phones, i == last) < 0) {
            snprintf(err, errlen, "%s:%d: PocketSphinx refused \"%s\" (a phone the acoustic "
                     "model lacks?)", path, list[i].line, list[i].phones);
            rc = EARSHOT_GRAMMAR;
            break;
        }
        (*n_added)++;
    }
    for (size_t i = 0; i < n; i++) {
        free(list[i].word);
        free(list[i].phones);
    }
    free(list);
    if (rc == EARSHOT_OK && last < n)
        rc = reset_stream(r);
    return rc;
}
