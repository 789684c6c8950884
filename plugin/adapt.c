/* adapt.c - an MLLR transform of the acoustic model, built with sphinxtrain.
 *
 * Maximum-likelihood linear regression moves every Gaussian mean of the
 * model by one affine transform estimated from a few minutes of speech with
 * known words: enough to fit a microphone, a room or a phone line, and
 * loaded at run time with PocketSphinx's -mllr (earshot_config.mllr).
 *
 * The features are computed here, by the decoder's own front end
 * (ps_get_fe() of a decoder made from the same model), so the transform is
 * learnt on exactly the cepstra the recogniser will see; the caller feeds
 * the PCM the recogniser would be fed (earshot adapt reads the files with
 * the same reader and resampler as earshot transcribe). sphinxtrain's
 * programs then do the statistics: bw (Baum-Welch counts of the utterances
 * aligned to their transcripts) and mllr_solve (the transform), as in CMU's
 * tutorial "Adapting the default acoustic model". They are found at run
 * time, not linked: sphinxtrain is only needed by whoever adapts.
 *
 * Debian's en-us model ships its mixture weights only in PocketSphinx's
 * compressed form (sendump); bw needs them as a sphinxtrain mixture_weights
 * file, so they are expanded here (sendump.py in sphinxtrain does the same,
 * but is Python 2 with numpy). */
#include "earshot.h"
#include "bandfill.h"
#include "quality.h"
#include "recognizer.h"

#include <pocketsphinx.h>
#include <sphinxbase/err.h>
#include <sphinxbase/fe.h>

#include <ctype.h>
#include <errno.h>
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct earshot_adapt {
    char errmsg[1200];
    earshot__model_paths paths;
    char tools[1024];  /* the folder holding bw and mllr_solve */
    char work[1024];   /* scratch folder, removed at close unless kept */
    int keep_work;
    int verbose;
    earshot__bandfill *bandfill; /* as the recogniser's, so features match */
    cmd_ln_t *config;
    ps_decoder_t *ps;  /* for its front end and dictionary */
    FILE *ctl, *lsn;
    size_t n_utts;
    double seconds;
};

static int fail(earshot_adapt *a, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->errmsg, sizeof a->errmsg, fmt, ap);
    va_end(ap);
    return rc;
}

earshot_adapt_config earshot_adapt_config_default(void)
{
    return (earshot_adapt_config){
        .model_dir = EARSHOT_DEFAULT_MODEL_DIR,
        .band_fill = EARSHOT_DEFAULT_BAND_FILL,
    };
}

static int is_exec(const char *dir, const char *name)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, X_OK) == 0;
}

/* Debian and Ubuntu install sphinxtrain's programs in /usr/lib/sphinxtrain;
 * a source build puts them in libexec. */
static int find_tools(earshot_adapt *a, const char *dir)
{
    const char *env = getenv("EARSHOT_SPHINXTRAIN");
    const char *cands[] = {dir, env, "/usr/lib/sphinxtrain", "/usr/libexec/sphinxtrain",
                           "/usr/local/libexec/sphinxtrain", "/usr/local/lib/sphinxtrain"};
    for (size_t i = 0; i < sizeof cands / sizeof *cands; i++) {
        if (!cands[i] || !cands[i][0])
            continue;
        if (is_exec(cands[i], "bw") && is_exec(cands[i], "mllr_solve")) {
            snprintf(a->tools, sizeof a->tools, "%s", cands[i]);
            return 1;
        }
        if (dir && i == 0)
            return 0; /* asked for this folder: do not look elsewhere */
    }
    return 0;
}

int earshot_adapt_open(earshot_adapt **out, const earshot_adapt_config *cfg)
{
    *out = NULL;
    earshot_adapt *a = calloc(1, sizeof *a);
    if (!a)
        return EARSHOT_NOMEM;
    *out = a;
    earshot_adapt_config def = earshot_adapt_config_default();
    if (!cfg)
        cfg = &def;
    a->verbose = cfg->verbose;
    if (cfg->band_fill > 0 && !(a->bandfill = earshot__bandfill_new(cfg->band_fill)))
        return fail(a, EARSHOT_NOMEM, "out of memory");
    if (!find_tools(a, cfg->tools_dir))
        return fail(a, EARSHOT_ADAPT,
                    "%s: sphinxtrain's bw and mllr_solve not found (install Debian's "
                    "sphinxtrain, or set EARSHOT_SPHINXTRAIN to their folder)",
                    cfg->tools_dir ? cfg->tools_dir : "/usr/lib/sphinxtrain");
    /* The language model is not needed; any file satisfies the resolver. */
    int rc = earshot__model_resolve(&a->paths, cfg->model_dir, cfg->hmm, cfg->dict,
                                    cfg->model_dir ? NULL : "/dev/null", a->errmsg,
                                    sizeof a->errmsg);
    if (rc != EARSHOT_OK)
        return rc;
    if (cfg->work_dir) {
        snprintf(a->work, sizeof a->work, "%s", cfg->work_dir);
        if (mkdir(a->work, 0700) != 0 && errno != EEXIST)
            return fail(a, EARSHOT_IO, "%s: %s", a->work, strerror(errno));
        a->keep_work = 1;
    } else {
        const char *td = getenv("TMPDIR");
        snprintf(a->work, sizeof a->work, "%s/earshot-adapt-XXXXXX", td && td[0] ? td : "/tmp");
        if (!mkdtemp(a->work)) {
            int e = errno;
            a->work[0] = '\0';
            return fail(a, EARSHOT_IO, "cannot make a scratch folder: %s", strerror(e));
        }
    }
    char p[1200];
    snprintf(p, sizeof p, "%s/mfc", a->work);
    if (mkdir(p, 0700) != 0 && errno != EEXIST)
        return fail(a, EARSHOT_IO, "%s: %s", p, strerror(errno));
    snprintf(p, sizeof p, "%s/adapt.fileids", a->work);
    a->ctl = fopen(p, "w");
    snprintf(p, sizeof p, "%s/adapt.transcription", a->work);
    a->lsn = fopen(p, "w");
    if (!a->ctl || !a->lsn)
        return fail(a, EARSHOT_IO, "%s: %s", p, strerror(errno));
    err_set_logfp(a->verbose ? stderr : NULL);
    a->config = cmd_ln_init(NULL, ps_args(), TRUE, "-hmm", a->paths.hmm, "-dict",
                            a->paths.dict, NULL);
    if (!a->config)
        return fail(a, EARSHOT_MODEL, "cannot configure the decoder with model %s",
                    a->paths.hmm);
    ps_default_search_args(a->config);
    cmd_ln_set_str_r(a->config, "-lm", NULL);
    a->ps = ps_init(a->config);
    if (!a->ps)
        return fail(a, EARSHOT_MODEL, "cannot load the speech model (%s, %s)", a->paths.hmm,
                    a->paths.dict);
    return EARSHOT_OK;
}

/* The transcript as bw wants it: lower case, words the dictionary has,
 * separated by single spaces. */
static int clean_words(earshot_adapt *a, const char *words, char *out, size_t cap)
{
    size_t o = 0;
    const char *s = words;
    int n = 0;
    while (*s) {
        while (*s && isspace((unsigned char)*s))
            s++;
        if (!*s)
            break;
        char w[256];
        size_t k = 0;
        while (*s && !isspace((unsigned char)*s)) {
            if (k + 1 >= sizeof w)
                return fail(a, EARSHOT_ADAPT, "word too long in transcript");
            w[k++] = (char)tolower((unsigned char)*s++);
        }
        w[k] = '\0';
        char *pron = ps_lookup_word(a->ps, w);
        if (!pron)
            return fail(a, EARSHOT_ADAPT,
                        "word \"%s\" is not in the pronunciation dictionary %s", w,
                        a->paths.dict);
        ckd_free(pron);
        if (o + k + 2 >= cap)
            return fail(a, EARSHOT_ADAPT, "transcript too long");
        if (o)
            out[o++] = ' ';
        memcpy(out + o, w, k);
        o += k;
        n++;
    }
    out[o] = '\0';
    if (!n)
        return fail(a, EARSHOT_ADAPT, "empty transcript");
    return EARSHOT_OK;
}

/* Writes the utterance's cepstra in sphinxtrain's .mfc form: an int32
 * count of values, then the float32 values, in the machine's byte order
 * (bw tells the order from the count and the file size). */
static int write_mfc(earshot_adapt *a, const char *path, const int16_t *pcm, size_t n)
{
    fe_t *fe = ps_get_fe(a->ps);
    int ncep = fe_get_output_size(fe);
    enum { CHUNK = 256 };
    mfcc_t **buf = (mfcc_t **)ckd_calloc_2d(CHUNK, (size_t)ncep, sizeof(mfcc_t));
    float *row = malloc((size_t)ncep * sizeof *row);
    FILE *f = fopen(path, "wb");
    int rc = EARSHOT_OK;
    if (!buf || !row || !f) {
        rc = f ? EARSHOT_NOMEM : fail(a, EARSHOT_IO, "%s: %s", path, strerror(errno));
        goto out;
    }
    int32_t count = 0;
    fwrite(&count, sizeof count, 1, f); /* patched below */
    long frames = 0;
    const int16 *p = pcm;
    size_t left = n;
    fe_start_stream(fe);
    fe_start_utt(fe);
    for (;;) {
        int32 nfr = CHUNK;
        if (fe_process_frames(fe, &p, &left, buf, &nfr, NULL) < 0) {
            rc = fail(a, EARSHOT_ADAPT, "the front end failed on the audio");
            goto out;
        }
        if (nfr == 0 && left == 0)
            break;
        for (int i = 0; i < nfr; i++) {
            for (int j = 0; j < ncep; j++)
                row[j] = (float)MFCC2FLOAT(buf[i][j]);
            fwrite(row, sizeof *row, (size_t)ncep, f);
        }
        frames += nfr;
    }
    int32 nfr = 0;
    fe_end_utt(fe, buf[0], &nfr);
    if (nfr > 0) {
        for (int j = 0; j < ncep; j++)
            row[j] = (float)MFCC2FLOAT(buf[0][j]);
        fwrite(row, sizeof *row, (size_t)ncep, f);
        frames += nfr;
    }
    count = (int32_t)(frames * ncep);
    if (fseek(f, 0, SEEK_SET) != 0 || fwrite(&count, sizeof count, 1, f) != 1)
        rc = fail(a, EARSHOT_IO, "%s: %s", path, strerror(errno));
    else if (frames < 10)
        rc = fail(a, EARSHOT_ADAPT, "no speech heard in the audio");
out:
    if (f && fclose(f) != 0 && rc == EARSHOT_OK)
        rc = fail(a, EARSHOT_IO, "%s: %s", path, strerror(errno));
    free(row);
    if (buf)
        ckd_free_2d(buf);
    return rc;
}

int earshot_adapt_add(earshot_adapt *a, const int16_t *pcm, size_t n, const char *words)
{
    if (!a || !a->ps || !words || (!pcm && n))
        return a ? fail(a, EARSHOT_MISUSE, "earshot_adapt_add: bad arguments") : EARSHOT_MISUSE;
    if (n < EARSHOT_SAMPLE_RATE / 5)
        return fail(a, EARSHOT_ADAPT, "audio too short (%.2f s)", (double)n / EARSHOT_SAMPLE_RATE);
    char clean[8192];
    int rc = clean_words(a, words, clean, sizeof clean);
    if (rc != EARSHOT_OK)
        return rc;
    char id[32], path[1200];
    snprintf(id, sizeof id, "u%05zu", a->n_utts);
    snprintf(path, sizeof path, "%s/mfc/%s.mfc", a->work, id);
    int16_t *filled = NULL;
    if (a->bandfill) {
        /* The band fill exactly as earshot.c applies it to a stream (each
         * utterance is one): decided on the first sound loud enough, then
         * added from the next 256 samples on, narrowband only. */
        earshot__quality *q = earshot__quality_new();
        filled = malloc(n * sizeof *filled);
        if (!q || !filled || earshot__bandfill_reset(a->bandfill) != 0) {
            earshot__quality_free(q);
            free(filled);
            return fail(a, EARSHOT_NOMEM, "out of memory");
        }
        memcpy(filled, pcm, n * sizeof *filled);
        int state = -1;
        for (size_t at = 0; at < n; at += 256) {
            size_t len = n - at < 256 ? n - at : 256;
            earshot__quality_feed(q, filled + at, len);
            if (state < 0)
                state = earshot__quality_stream_narrowband(q);
            if (state == 1 && earshot__bandfill_process(a->bandfill, filled + at, len) != 0) {
                earshot__quality_free(q);
                free(filled);
                return fail(a, EARSHOT_NOMEM, "out of memory");
            }
        }
        earshot__quality_free(q);
    }
    rc = write_mfc(a, path, filled ? filled : pcm, n);
    free(filled);
    if (rc != EARSHOT_OK)
        return rc;
    fprintf(a->ctl, "%s\n", id);
    fprintf(a->lsn, "<s> %s </s> (%s)\n", clean, id);
    a->n_utts++;
    a->seconds += (double)n / EARSHOT_SAMPLE_RATE;
    return EARSHOT_OK;
}

/* ---- sendump -> mixture_weights ---------------------------------- */

static int read_u32(FILE *f, uint32_t *v, int swap)
{
    if (fread(v, 4, 1, f) != 1)
        return 0;
    if (swap)
        *v = __builtin_bswap32(*v);
    return 1;
}

/* PocketSphinx's sendump: length-prefixed header strings ending with a
 * zero length, then the codeword and senone counts, then for each feature
 * stream and codeword one byte per senone: -log1.0001(weight) >> shift. */
static int expand_sendump(earshot_adapt *a, const char *in, const char *outp)
{
    FILE *f = fopen(in, "rb");
    if (!f)
        return fail(a, EARSHOT_MODEL, "%s: %s", in, strerror(errno));
    int swap = 0, n_feat = 1, shift = 10, rc = EARSHOT_OK;
    uint32_t len;
    float *w = NULL;
    unsigned char *row = NULL;
    FILE *o = NULL;
    if (!read_u32(f, &len, 0))
        goto bad;
    if (len > 65536) {
        swap = 1;
        len = __builtin_bswap32(len);
    }
    for (;;) {
        char s[512];
        if (len == 0)
            break;
        if (len >= sizeof s || fread(s, 1, len, f) != len)
            goto bad;
        s[len] = '\0';
        if (!strncmp(s, "feature_count ", 14))
            n_feat = atoi(s + 14);
        else if (!strncmp(s, "mixw_shift ", 11))
            shift = atoi(s + 11);
        else if (!strncmp(s, "cluster_count ", 14) && atoi(s + 14) != 0) {
            fclose(f);
            return fail(a, EARSHOT_ADAPT, "%s: clustered mixture weights are not supported", in);
        }
        if (!read_u32(f, &len, swap))
            goto bad;
    }
    uint32_t n_cw, n_sen;
    if (!read_u32(f, &n_cw, swap) || !read_u32(f, &n_sen, swap) || n_feat < 1 || n_feat > 8 ||
        n_cw == 0 || n_cw > 4096 || n_sen == 0 || n_sen > 1000000)
        goto bad;
    size_t total = (size_t)n_sen * (size_t)n_feat * n_cw;
    w = malloc(total * sizeof *w);
    row = malloc(n_sen);
    if (!w || !row) {
        rc = fail(a, EARSHOT_NOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < n_feat; i++)
        for (uint32_t j = 0; j < n_cw; j++) {
            if (fread(row, 1, n_sen, f) != n_sen)
                goto bad;
            for (uint32_t s = 0; s < n_sen; s++)
                w[((size_t)s * n_feat + i) * n_cw + j] =
                    (float)pow(1.0001, -(double)((int)row[s] << shift));
        }
    /* Each senone's weights in a stream sum to 1, as bw expects. */
    for (size_t k = 0; k < (size_t)n_sen * n_feat; k++) {
        double sum = 0;
        for (uint32_t j = 0; j < n_cw; j++)
            sum += w[k * n_cw + j];
        for (uint32_t j = 0; sum > 0 && j < n_cw; j++)
            w[k * n_cw + j] = (float)(w[k * n_cw + j] / sum);
    }
    /* sphinxtrain's binary parameter file: a text header padded so the
     * data starts on a 4-byte boundary, a byte-order word, the three
     * dimensions and the count, then the values. */
    o = fopen(outp, "wb");
    if (!o) {
        rc = fail(a, EARSHOT_IO, "%s: %s", outp, strerror(errno));
        goto out;
    }
    const char *hdr = "s3\nversion 1.0\n";
    size_t at = strlen(hdr) + strlen("endhdr\n");
    fprintf(o, "%s%*sendhdr\n", hdr, (int)((4 - at % 4) % 4), "");
    uint32_t head[5] = {0x11223344u, n_sen, (uint32_t)n_feat, n_cw, (uint32_t)total};
    if (fwrite(head, sizeof head, 1, o) != 1 || fwrite(w, sizeof *w, total, o) != total ||
        fclose(o) != 0) {
        o = NULL;
        rc = fail(a, EARSHOT_IO, "%s: cannot write", outp);
        goto out;
    }
    o = NULL;
    goto out;
bad:
    rc = fail(a, EARSHOT_MODEL, "%s: not a PocketSphinx sendump file", in);
out:
    if (o)
        fclose(o);
    fclose(f);
    free(w);
    free(row);
    return rc;
}

/* ---- running sphinxtrain -------------------------------------------- */

/* Runs argv with its output in log; 0 when it exits with status 0. */
static int run(earshot_adapt *a, char *const argv[], const char *log)
{
    if (a->verbose) {
        for (int i = 0; argv[i]; i++)
            fprintf(stderr, "%s%s", i ? " " : "earshot adapt: ", argv[i]);
        fputc('\n', stderr);
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        FILE *l = freopen(log, "w", stdout);
        if (l)
            dup2(fileno(stdout), 2);
        execv(argv[0], argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* The last line of a log that says what went wrong, for a one-line error. */
static void last_error(const char *log, char *out, size_t cap)
{
    snprintf(out, cap, "see %s", log);
    FILE *f = fopen(log, "r");
    if (!f)
        return;
    char line[1024];
    while (fgets(line, sizeof line, f))
        if (strstr(line, "ERROR") || strstr(line, "FATAL")) {
            line[strcspn(line, "\r\n")] = '\0';
            snprintf(out, cap, "%.500s", line);
        }
    fclose(f);
}

/* Counts the utterances bw could not align ("final state not reached"). */
static int count_failed(const char *log)
{
    FILE *f = fopen(log, "r");
    if (!f)
        return 0;
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "final state not reached") || strstr(line, "failed to align"))
            n++;
    fclose(f);
    return n;
}

/* A value from the model's feat.params ("-name value" lines), or def. */
static void feat_param(const char *hmm, const char *name, const char *def, char *out, size_t cap)
{
    snprintf(out, cap, "%s", def);
    char p[1200];
    snprintf(p, sizeof p, "%s/feat.params", hmm);
    FILE *f = fopen(p, "r");
    if (!f)
        return;
    char line[1024];
    size_t nl = strlen(name);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, name, nl) || !isspace((unsigned char)line[nl]))
            continue;
        char *v = line + nl;
        while (isspace((unsigned char)*v))
            v++;
        v[strcspn(v, " \t\r\n")] = '\0';
        snprintf(out, cap, "%s", v);
    }
    fclose(f);
}

int earshot_adapt_write(earshot_adapt *a, const char *path, int *n_used)
{
    if (n_used)
        *n_used = 0;
    if (!a || !a->ps || !path)
        return a ? fail(a, EARSHOT_MISUSE, "earshot_adapt_write: bad arguments") : EARSHOT_MISUSE;
    if (a->n_utts == 0)
        return fail(a, EARSHOT_ADAPT, "no utterances to adapt to");
    if (fflush(a->ctl) != 0 || fflush(a->lsn) != 0)
        return fail(a, EARSHOT_IO, "%s: cannot write the transcript", a->work);
    const char *hmm = a->paths.hmm;
    char mdef_txt[1200], mixw[1200], bw[1200], solve[1200], conv[1200], log[1200];
    char mdef[1200], means[1200], vars[1200], tmat[1200], noise[1200], ctl[1200], lsn[1200],
        cep[1200], out_tmp[1300];
    snprintf(mdef, sizeof mdef, "%s/mdef", hmm);
    snprintf(means, sizeof means, "%s/means", hmm);
    snprintf(vars, sizeof vars, "%s/variances", hmm);
    snprintf(tmat, sizeof tmat, "%s/transition_matrices", hmm);
    snprintf(noise, sizeof noise, "%s/noisedict", hmm);
    snprintf(mdef_txt, sizeof mdef_txt, "%s/mdef.txt", a->work);
    snprintf(ctl, sizeof ctl, "%s/adapt.fileids", a->work);
    snprintf(lsn, sizeof lsn, "%s/adapt.transcription", a->work);
    snprintf(cep, sizeof cep, "%s/mfc", a->work);
    snprintf(bw, sizeof bw, "%s/bw", a->tools);
    snprintf(solve, sizeof solve, "%s/mllr_solve", a->tools);

    /* bw reads the model definition as text only. */
    snprintf(conv, sizeof conv, "/usr/bin/pocketsphinx_mdef_convert");
    if (access(conv, X_OK) != 0)
        return fail(a, EARSHOT_ADAPT, "%s not found (Debian package pocketsphinx)", conv);
    snprintf(log, sizeof log, "%s/mdef_convert.log", a->work);
    char *cargv[] = {conv, "-text", mdef, mdef_txt, NULL};
    if (run(a, cargv, log) != 0)
        return fail(a, EARSHOT_ADAPT, "%s: cannot convert the model definition to text", mdef);

    snprintf(mixw, sizeof mixw, "%s/mixture_weights", hmm);
    if (access(mixw, R_OK) != 0) {
        char sendump[1200];
        snprintf(sendump, sizeof sendump, "%s/sendump", hmm);
        snprintf(mixw, sizeof mixw, "%s/mixture_weights", a->work);
        int rc = expand_sendump(a, sendump, mixw);
        if (rc != EARSHOT_OK)
            return rc;
    }

    char model[64], ts2cb[64], feat[64], svspec[128], agc[32], varnorm[32];
    feat_param(hmm, "-model", "ptm", model, sizeof model);
    snprintf(ts2cb, sizeof ts2cb, ".%s.", !strcmp(model, "ptm")    ? "ptm"
                                          : !strcmp(model, "semi") ? "semi"
                                                                   : "cont");
    feat_param(hmm, "-feat", "1s_c_d_dd", feat, sizeof feat);
    feat_param(hmm, "-svspec", "", svspec, sizeof svspec);
    feat_param(hmm, "-agc", "none", agc, sizeof agc);
    feat_param(hmm, "-varnorm", "no", varnorm, sizeof varnorm);
    char *bargv[48];
    int k = 0;
    char *fixed[] = {bw, "-moddeffn", mdef_txt, "-ts2cbfn", ts2cb, "-meanfn", means,
                     "-varfn", vars, "-mixwfn", mixw, "-tmatfn", tmat, "-feat", feat,
                     /* each utterance's own mean: the files are short and
                      * separate, as the tutorial has it */
                     "-cmn", "current", "-agc", agc, "-varnorm", varnorm,
                     "-dictfn", a->paths.dict, "-fdictfn", noise, "-ctlfn", ctl, "-lsnfn",
                     lsn, "-cepdir", cep, "-cepext", "mfc", "-accumdir", a->work, NULL};
    for (int i = 0; fixed[i]; i++)
        bargv[k++] = fixed[i];
    if (svspec[0]) {
        bargv[k++] = "-svspec";
        bargv[k++] = svspec;
    }
    bargv[k] = NULL;
    snprintf(log, sizeof log, "%s/bw.log", a->work);
    if (run(a, bargv, log) != 0) {
        char why[600];
        last_error(log, why, sizeof why);
        return fail(a, EARSHOT_ADAPT, "bw failed: %s", why);
    }
    int failed = count_failed(log);
    if ((size_t)failed >= a->n_utts)
        return fail(a, EARSHOT_ADAPT,
                    "none of the %zu utterances could be aligned to its transcript "
                    "(wrong transcript, or audio not speech)", a->n_utts);

    snprintf(out_tmp, sizeof out_tmp, "%s.%ld.tmp", path, (long)getpid());
    char *sargv[] = {solve, "-meanfn", means, "-varfn", vars, "-outmllrfn", out_tmp,
                     "-accumdir", a->work, NULL};
    snprintf(log, sizeof log, "%s/mllr_solve.log", a->work);
    if (run(a, sargv, log) != 0) {
        char why[600];
        last_error(log, why, sizeof why);
        unlink(out_tmp);
        return fail(a, EARSHOT_ADAPT, "mllr_solve failed: %s", why);
    }
    /* Proof that the transform is one PocketSphinx loads. */
    ps_mllr_t *m = ps_mllr_read(out_tmp);
    if (!m) {
        unlink(out_tmp);
        return fail(a, EARSHOT_ADAPT, "mllr_solve wrote a transform PocketSphinx cannot read");
    }
    ps_mllr_free(m);
    if (rename(out_tmp, path) != 0) {
        int e = errno;
        unlink(out_tmp);
        return fail(a, EARSHOT_IO, "%s: %s", path, strerror(e));
    }
    if (n_used)
        *n_used = (int)a->n_utts - failed;
    return EARSHOT_OK;
}

double earshot_adapt_seconds(const earshot_adapt *a)
{
    return a ? a->seconds : 0;
}

const char *earshot_adapt_errmsg(const earshot_adapt *a)
{
    if (!a)
        return "out of memory";
    return a->errmsg[0] ? a->errmsg : "not an error";
}

/* Empties and removes a scratch folder: its files and one level of
 * sub-folders (mfc/), which is all this code writes there. */
static void remove_tree(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *ent;
        while ((ent = readdir(d))) {
            if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, ".."))
                continue;
            char p[1400];
            snprintf(p, sizeof p, "%s/%s", dir, ent->d_name);
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
                if (depth < 1)
                    remove_tree(p, depth + 1);
            } else {
                unlink(p);
            }
        }
        closedir(d);
    }
    rmdir(dir);
}

void earshot_adapt_close(earshot_adapt *a)
{
    if (!a)
        return;
    if (a->ctl)
        fclose(a->ctl);
    if (a->lsn)
        fclose(a->lsn);
    if (a->ps)
        ps_free(a->ps);
    earshot__bandfill_free(a->bandfill);
    if (a->config)
        cmd_ln_free_r(a->config);
    if (a->work[0] && !a->keep_work)
        remove_tree(a->work, 0);
    free(a);
}
