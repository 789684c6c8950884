/* test_recognizer.c - recognition through the public API with the real
 * en-us model on real audio: accuracy against pocketsphinx_continuous,
 * resampled and re-encoded input, segmentation, chunk independence.
 *
 * Needs EARSHOT_TESTDATA (made by tests/make_data.sh; make test sets it). */
#include "earshot.h"
#include "partial.h"
#include "redact.h"
#include "wer.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIBRI "/usr/share/pocketsphinx/test/data/librivox"

/* ------------------------------------------------------------------ */

typedef struct utt {
    char text[1024];
    double start, end, confidence;
    size_t n_words;
} utt;

typedef struct result {
    utt u[64];
    size_t n;
} result;

static int collect(const earshot_utterance *u, void *user)
{
    result *r = user;
    if (r->n < sizeof r->u / sizeof *r->u) {
        utt *d = &r->u[r->n++];
        snprintf(d->text, sizeof d->text, "%s", u->text);
        d->start = u->start;
        d->end = u->end;
        d->confidence = u->confidence;
        d->n_words = u->n_words;
    }
    return 0;
}

typedef struct fixture {
    earshot *e;
    result r;
} fixture;

static fixture fx;

static int group_setup(void **state)
{
    earshot_config cfg = earshot_config_default();
    cfg.on_utterance = collect;
    cfg.utterance_user = &fx.r;
    if (earshot_open(&fx.e, &cfg) != EARSHOT_OK) {
        fprintf(stderr, "cannot open: %s\n", earshot_errmsg(fx.e));
        return -1;
    }
    *state = &fx;
    return 0;
}

static int group_teardown(void **state)
{
    earshot_close(fx.e);
    return 0;
}

static const char *testdata(const char *name)
{
    static char path[4096];
    const char *dir = getenv("EARSHOT_TESTDATA");
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "build/testdata", name);
    return path;
}

/* Decodes a whole file through earshot_audio + earshot_feed in chunks of
 * `chunk` samples (0: the whole file in one call). */
static void decode(const char *path, size_t chunk)
{
    memset(&fx.r, 0, sizeof fx.r);
    earshot_audio *a = NULL;
    assert_int_equal(earshot_audio_open_file(&a, path), EARSHOT_OK);
    size_t cap = 1 << 16, len = 0;
    int16_t *all = malloc(cap * sizeof *all);
    assert_non_null(all);
    long n;
    for (;;) {
        if (len == cap) {
            all = realloc(all, (cap *= 2) * sizeof *all);
            assert_non_null(all);
        }
        n = earshot_audio_read(a, all + len, cap - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    assert_int_equal(n, 0);
    earshot_audio_close(a);
    if (chunk == 0)
        chunk = len;
    for (size_t off = 0; off < len; off += chunk) {
        size_t k = len - off < chunk ? len - off : chunk;
        assert_int_equal(earshot_feed(fx.e, all + off, k), EARSHOT_OK);
    }
    assert_int_equal(earshot_flush(fx.e), EARSHOT_OK);
    free(all);
}

static void joined_text(const result *r, char *out, size_t len)
{
    out[0] = '\0';
    for (size_t i = 0; i < r->n; i++) {
        if (i)
            strncat(out, " ", len - strlen(out) - 1);
        strncat(out, r->u[i].text, len - strlen(out) - 1);
    }
}

/* The librivox transcription file: "<s> words </s> (id)" per line. */
static int reference_for(const char *id, char *out, size_t len)
{
    FILE *f = fopen(LIBRI "/transcription", "r");
    if (!f)
        return 0;
    char line[2048];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        char *paren = strrchr(line, '(');
        if (!paren || strncmp(paren + 1, id, strlen(id)) != 0)
            continue;
        *paren = '\0';
        char *s = strstr(line, "<s>");
        s = s ? s + 3 : line;
        char *e = strstr(s, "</s>");
        if (e)
            *e = '\0';
        snprintf(out, len, "%s", s);
        found = 1;
    }
    fclose(f);
    return found;
}

static const char *const libri_ids[] = {
    "sense_and_sensibility_01_austen_64kb-0870", "sense_and_sensibility_01_austen_64kb-0880",
    "sense_and_sensibility_01_austen_64kb-0890", "sense_and_sensibility_01_austen_64kb-0920",
    "sense_and_sensibility_01_austen_64kb-0930",
};

/* Word error rate must be within 2 points of pocketsphinx_continuous with
 * the same default model on the same files, run here in the test setup. */
static void test_librivox_wer_vs_continuous(void **state)
{
    long ours = 0, theirs = 0;
    size_t words = 0;
    for (size_t i = 0; i < sizeof libri_ids / sizeof *libri_ids; i++) {
        char path[1024], ref[2048], hyp[8192], cmd[2048], line[2048];
        snprintf(path, sizeof path, LIBRI "/%s.wav", libri_ids[i]);
        assert_true(reference_for(libri_ids[i], ref, sizeof ref));
        decode(path, 0);
        joined_text(&fx.r, hyp, sizeof hyp);
        size_t n = 0;
        long e = wer_errors(ref, hyp, &n);
        assert_true(e >= 0);
        ours += e;
        words += n;

        snprintf(cmd, sizeof cmd, "pocketsphinx_continuous -infile '%s' -logfn /dev/null", path);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        hyp[0] = '\0';
        while (fgets(line, sizeof line, p)) {
            line[strcspn(line, "\n")] = '\0';
            strncat(hyp, " ", sizeof hyp - strlen(hyp) - 1);
            strncat(hyp, line, sizeof hyp - strlen(hyp) - 1);
        }
        assert_int_equal(pclose(p), 0);
        theirs += wer_errors(ref, hyp, NULL);
    }
    double w_ours = 100.0 * ours / words, w_theirs = 100.0 * theirs / words;
    printf("librivox WER: earshot %.1f %% (%ld/%zu), pocketsphinx_continuous %.1f %% (%ld/%zu)\n",
           w_ours, ours, words, w_theirs, theirs, words);
    assert_true(words > 60);
    assert_true(w_theirs > 0.0); /* the reference really ran */
    assert_true(w_ours <= w_theirs + 2.0);
}

/* The same recording at 44.1 kHz stereo, as FLAC and as 48 kHz stereo OGG
 * gives a transcript within one word error of the 16 kHz original. */
static void test_resampled_and_reencoded(void **state)
{
    char orig[4096], other[4096];
    decode(LIBRI "/sense_and_sensibility_01_austen_64kb-0880.wav", 0);
    joined_text(&fx.r, orig, sizeof orig);
    assert_true(strlen(orig) > 10);
    const char *variants[] = {"libri-44k-stereo.wav", "libri.flac", "libri-48k-stereo.ogg"};
    for (size_t i = 0; i < 3; i++) {
        decode(testdata(variants[i]), 0);
        joined_text(&fx.r, other, sizeof other);
        long d = wer_errors(orig, other, NULL);
        printf("%s: \"%s\" (%ld word errors against the original)\n", variants[i], other, d);
        assert_true(d >= 0 && d <= 1);
    }
}

/* Four sentences separated by silence: four utterances, in order, each
 * with start < end and no overlap. */
static void test_multi_sentence_segmentation(void **state)
{
    decode(testdata("multi.wav"), 0);
    assert_int_equal(fx.r.n, 4);
    for (size_t i = 0; i < fx.r.n; i++) {
        printf("  %.2f-%.2f: %s\n", fx.r.u[i].start, fx.r.u[i].end, fx.r.u[i].text);
        assert_true(fx.r.u[i].start < fx.r.u[i].end);
        assert_true(fx.r.u[i].confidence >= 0.0 && fx.r.u[i].confidence <= 1.0);
        assert_true(fx.r.u[i].n_words > 0);
        if (i)
            assert_true(fx.r.u[i].start >= fx.r.u[i - 1].end);
    }
    /* The sentences are 1.5 s apart: each utterance starts later than the
     * previous one by at least the sentence plus the gap. */
    assert_true(fx.r.u[3].start > 12.0);
    /* All four are recognised nearly word for word, the first one too
     * (it used to come out as "you what you": see test_cold_start). */
    FILE *f = fopen(testdata("multi.txt"), "r");
    assert_non_null(f);
    char ref[4][256];
    for (int i = 0; i < 4; i++) {
        assert_non_null(fgets(ref[i], sizeof ref[i], f));
        ref[i][strcspn(ref[i], "\n")] = '\0';
    }
    fclose(f);
    long errs = 0;
    size_t words = 0;
    for (int i = 0; i < 4; i++) {
        size_t n;
        errs += wer_errors(ref[i], fx.r.u[i].text, &n);
        words += n;
    }
    assert_true(errs * 100 <= (long)words * 15);
}

/* The first sample of path that is not exactly zero (its index). */
static size_t leading_zeros(const char *path)
{
    earshot_audio *a = NULL;
    assert_int_equal(earshot_audio_open_file(&a, path), EARSHOT_OK);
    int16_t buf[4096];
    size_t zeros = 0;
    long n;
    int done = 0;
    while (!done && (n = earshot_audio_read(a, buf, 4096)) > 0)
        for (long i = 0; i < n && !done; i++)
            if (buf[i] == 0)
                zeros++;
            else
                done = 1;
    earshot_audio_close(a);
    return zeros;
}

/* The cold start: the first utterance after 1.5 s of exact digital
 * silence decodes as well as the same sentence later in the stream. It
 * used not to: the voice-activity detector fired on the silence at the
 * start of the stream, that empty "utterance" set the cepstral mean to the
 * level of silence, and the real first sentence was decoded against it
 * ("no thank you i do not want to be recorded" came out as "i put in").
 * Each file holds one sentence twice (tests/make_data.sh). */
static void test_cold_start(void **state)
{
    static const struct {
        const char *file;
        int exact; /* the first copy is recognised word for word */
    } cases[] = {
        {"cold-consent", 1},
        {"cold-staff", 1},
        {"cold-wait", 0},
    };
    long first_errs = 0, later_errs = 0;
    size_t words = 0;
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        char wav[256], txt[256], ref[256];
        snprintf(wav, sizeof wav, "%s.wav", cases[c].file);
        snprintf(txt, sizeof txt, "%s.txt", cases[c].file);
        FILE *f = fopen(testdata(txt), "r");
        assert_non_null(f);
        assert_non_null(fgets(ref, sizeof ref, f));
        fclose(f);
        ref[strcspn(ref, "\n")] = '\0';
        /* The silence really is digital zeros (sox dithers unless told not
         * to), for the whole 1.5 s. */
        assert_true(leading_zeros(testdata(wav)) >= 24000);
        decode(testdata(wav), 0);
        for (size_t i = 0; i < fx.r.n; i++)
            printf("  %s %.2f-%.2f: %s\n", cases[c].file, fx.r.u[i].start, fx.r.u[i].end,
                   fx.r.u[i].text);
        assert_int_equal(fx.r.n, 2);
        /* The first copy starts where the speech does (1.5 s of silence
         * plus flite's own ~0.2 s lead-in), not late. */
        assert_true(fx.r.u[0].start < 2.0);
        size_t n = 0;
        long e1 = wer_errors(ref, fx.r.u[0].text, &n);
        long e2 = wer_errors(ref, fx.r.u[1].text, NULL);
        assert_true(e1 >= 0 && e2 >= 0);
        first_errs += e1;
        later_errs += e2;
        words += n;
        assert_string_equal(fx.r.u[0].text, fx.r.u[1].text);
        if (cases[c].exact)
            assert_string_equal(fx.r.u[0].text, ref);
    }
    printf("cold start: first copies %ld/%zu word errors, later copies %ld/%zu\n", first_errs,
           words, later_errs, words);
    assert_true(first_errs <= later_errs);
}

/* Pushing the same PCM in odd-sized chunks gives exactly the result of
 * one whole-file call: same texts, same times. */
static void test_chunk_size_independence(void **state)
{
    const char *path = LIBRI "/sense_and_sensibility_01_austen_64kb-0870.wav";
    decode(path, 0);
    result whole = fx.r;
    assert_true(whole.n >= 1);
    const size_t chunks[] = {1, 160, 4097};
    for (size_t c = 0; c < 3; c++) {
        decode(path, chunks[c]);
        assert_int_equal(fx.r.n, whole.n);
        for (size_t i = 0; i < whole.n; i++) {
            assert_string_equal(fx.r.u[i].text, whole.u[i].text);
            assert_true(fx.r.u[i].start == whole.u[i].start);
            assert_true(fx.r.u[i].end == whole.u[i].end);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Partial hypotheses                                                   */

typedef struct partials {
    struct {
        char text[512];
        double start, at;
        size_t utt; /* index of the final utterance it preceded */
    } p[256];
    size_t n;
    result finals;
} partials;

static int collect_partial(const earshot_partial *p, void *user)
{
    partials *ps = user;
    if (ps->n < sizeof ps->p / sizeof *ps->p) {
        snprintf(ps->p[ps->n].text, sizeof ps->p[ps->n].text, "%s", p->text);
        ps->p[ps->n].start = p->start;
        ps->p[ps->n].at = p->at;
        ps->p[ps->n].utt = ps->finals.n;
        ps->n++;
    }
    return 0;
}

/* Decodes path with partials on, in chunks of chunk samples. */
static void decode_partials(const char *path, size_t chunk, int interval_ms, partials *ps)
{
    memset(ps, 0, sizeof *ps);
    earshot_config cfg = earshot_config_default();
    cfg.on_utterance = collect;
    cfg.utterance_user = &ps->finals;
    cfg.on_partial = collect_partial;
    cfg.partial_user = ps;
    if (interval_ms >= 0)
        cfg.partial_interval_ms = interval_ms;
    earshot *e = NULL;
    assert_int_equal(earshot_open(&e, &cfg), EARSHOT_OK);
    earshot_audio *a = NULL;
    assert_int_equal(earshot_audio_open_file(&a, path), EARSHOT_OK);
    int16_t *buf = malloc(chunk * sizeof *buf);
    assert_non_null(buf);
    long n;
    while ((n = earshot_audio_read(a, buf, chunk)) > 0)
        assert_int_equal(earshot_feed(e, buf, (size_t)n), EARSHOT_OK);
    assert_int_equal(n, 0);
    assert_int_equal(earshot_flush(e), EARSHOT_OK);
    free(buf);
    earshot_audio_close(a);
    earshot_close(e);
}

/* Words of a in b, in order (longest common subsequence of words). */
static size_t common_words(const char *a, const char *b)
{
    char wa[64][64], wb[64][64];
    size_t na = 0, nb = 0;
    for (const char *s = a; *s && na < 64;) {
        size_t len = strcspn(s, " ");
        snprintf(wa[na++], 64, "%.*s", (int)len, s);
        s += len + (s[len] == ' ');
    }
    for (const char *s = b; *s && nb < 64;) {
        size_t len = strcspn(s, " ");
        snprintf(wb[nb++], 64, "%.*s", (int)len, s);
        s += len + (s[len] == ' ');
    }
    static size_t t[65][65];
    for (size_t i = 0; i <= na; i++)
        for (size_t j = 0; j <= nb; j++)
            t[i][j] = !i || !j                      ? 0
                      : !strcmp(wa[i - 1], wb[j - 1]) ? t[i - 1][j - 1] + 1
                      : t[i - 1][j] > t[i][j - 1]   ? t[i - 1][j]
                                                    : t[i][j - 1];
    return t[na][nb];
}

static size_t count_words(const char *s)
{
    size_t n = 0;
    for (; *s; s += strcspn(s, " "), s += *s == ' ')
        n++;
    return n;
}

/* Four sentences (multi.wav): partials arrive while each is spoken, at
 * most every 300 ms of audio and only when the words changed; the last
 * one before each final has most of the final's words; and asking for
 * them changes nothing in the final utterances, whatever the chunk size. */
static void test_partials_while_speaking(void **state)
{
    static partials ref, ps;
    decode(testdata("multi.wav"), 0);
    result plain = fx.r;
    decode_partials(testdata("multi.wav"), 4096, -1, &ref);
    assert_int_equal(ref.finals.n, plain.n);
    for (size_t i = 0; i < plain.n; i++)
        assert_string_equal(ref.finals.u[i].text, plain.u[i].text);
    size_t per_utt[64] = {0}, common = 0, final_words = 0;
    for (size_t k = 0; k < ref.n; k++) {
        printf("  partial %5.2f (utterance %zu from %.2f): %s\n", ref.p[k].at, ref.p[k].utt,
               ref.p[k].start, ref.p[k].text);
        assert_true(ref.p[k].utt < ref.finals.n);
        assert_true(ref.p[k].text[0]);
        assert_true(ref.p[k].at >= ref.p[k].start);
        per_utt[ref.p[k].utt]++;
        if (k && ref.p[k - 1].utt == ref.p[k].utt) {
            assert_true(ref.p[k].at - ref.p[k - 1].at >= 0.3);
            assert_string_not_equal(ref.p[k].text, ref.p[k - 1].text);
        }
        if (k + 1 == ref.n || ref.p[k + 1].utt != ref.p[k].utt) {
            const char *fin = ref.finals.u[ref.p[k].utt].text;
            common += common_words(ref.p[k].text, fin);
            final_words += count_words(fin);
        }
    }
    /* The three sentences after the cold start: several partials each. */
    for (size_t i = 1; i < ref.finals.n; i++)
        assert_true(per_utt[i] >= 3);
    printf("  last partials hold %zu of the finals' %zu words\n", common, final_words);
    assert_true(common * 10 >= final_words * 6);
    const size_t chunks[] = {1, 160, 4097};
    for (size_t c = 0; c < 3; c++) {
        decode_partials(testdata("multi.wav"), chunks[c], -1, &ps);
        assert_int_equal(ps.finals.n, plain.n);
        for (size_t i = 0; i < plain.n; i++) {
            assert_string_equal(ps.finals.u[i].text, plain.u[i].text);
            assert_true(ps.finals.u[i].start == plain.u[i].start);
            assert_true(ps.finals.u[i].end == plain.u[i].end);
        }
        assert_int_equal(ps.n, ref.n);
        for (size_t k = 0; k < ref.n; k++) {
            assert_string_equal(ps.p[k].text, ref.p[k].text);
            assert_true(ps.p[k].at == ref.p[k].at);
        }
    }
}

/* The interval is the app's: a second apart gives fewer, spaced partials;
 * 0 looks after every 2048-sample block. A negative one is refused. */
static void test_partial_interval(void **state)
{
    static partials every, slow;
    decode_partials(testdata("multi.wav"), 4096, 0, &every);
    decode_partials(testdata("multi.wav"), 4096, 1000, &slow);
    printf("  interval 0: %zu partials, 1000 ms: %zu\n", every.n, slow.n);
    assert_true(slow.n >= 4);
    assert_true(every.n > slow.n);
    for (size_t k = 1; k < slow.n; k++)
        if (slow.p[k].utt == slow.p[k - 1].utt)
            assert_true(slow.p[k].at - slow.p[k - 1].at >= 1.0);
    earshot_config cfg = earshot_config_default();
    cfg.on_partial = collect_partial;
    cfg.partial_interval_ms = -1;
    earshot *e = NULL;
    assert_int_equal(earshot_open(&e, &cfg), EARSHOT_MISUSE);
    assert_non_null(strstr(earshot_errmsg(e), "partial_interval_ms"));
    earshot_close(e);
}

/* A partial never shows what the final utterance's redaction would hide,
 * nor the beginning of it: a number still being read out, an e-mail
 * address without its domain yet, digits after a misheard cue. */
static void test_partial_redaction(void **state)
{
    char err[512];
    earshot__redactor *r = earshot__redactor_open(EARSHOT_SOURCE_GRAMMAR_DIR, err, sizeof err);
    assert_non_null(r);
    static const char *const cases[][2] = {
        {"my phone number is seven seven", "my phone number is [PHONE]"},
        {"my phone number is oh seven seven double oh nine double oh one two three",
         "my phone number is [PHONE]"},
        {"four five three nine", "[NUMBER]"},
        /* the structural redactor joins the groups into one number */
        {"my card is four five three nine and one four", "my card is [CARD]"},
        {"john dot smith at example", "[EMAIL]"},
        {"my name is john", "my name is [NAME]"},
        /* the first pass's "my phone number is a seven seven double ..." */
        {"nine fell number is a seven seven double in", "nine fell number is [NUMBER] in"},
        {"the checkout queue was far too long today", "the checkout queue was far too long today"},
        {"what time do you open on sunday", "what time do you open on sunday"},
        {"i would give you a nine out of", "i would give you a nine out of"},
        /* a number at the end may be the start of one: held back */
        {"i would give you a nine", "i would give you a [NUMBER]"},
        {"i would give you a nine out of ten", "i would give you a nine out of [NUMBER]"},
        {"two for one", "[NUMBER]"},
        {"i want to", "i want to"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *got = earshot__partial_redact(r, cases[i][0]);
        assert_non_null(got);
        printf("  %s -> %s\n", cases[i][0], got);
        assert_string_equal(got, cases[i][1]);
        free(got);
    }
    earshot__redactor_close(r);

    /* Through the library: the spoken phone number's digits never reach
     * the app in a partial. */
    static partials ps;
    decode_partials(testdata("consent-yes.wav"), 4096, -1, &ps);
    size_t tagged = 0;
    for (size_t k = 0; k < ps.n; k++) {
        assert_null(strstr(ps.p[k].text, "seven seven"));
        assert_null(strstr(ps.p[k].text, "one two three"));
        tagged += strstr(ps.p[k].text, "[") != NULL;
    }
    assert_true(tagged >= 1);

    /* Without redaction rules there are no partials at all. */
    earshot_config cfg = earshot_config_default();
    cfg.analyze = 0;
    cfg.grammar_dir = "/nonexistent/grammar";
    cfg.on_partial = collect_partial;
    earshot *e = NULL;
    assert_int_equal(earshot_open(&e, &cfg), EARSHOT_GRAMMAR);
    assert_non_null(strstr(earshot_errmsg(e), "redaction rules"));
    earshot_close(e);
}

/* Decoder options reach PocketSphinx; a wrong one is a clear error. */
static void test_decoder_options(void **state)
{
    static const char *const bad[][2] = {
        {"-nosuchoption 3", "-nosuchoption 3: PocketSphinx has no such option"},
        {"-maxhmmpf", "has no value"},
        {"maxhmmpf 5000", "not an option"},
        {"-lm /tmp/x.lm", "the model's"},
        {"-maxhmmpf lots", "not a whole number"},
        {"-fwdflat maybe", "not yes or no"},
        {"-beam 1e-x", "not a number"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        earshot_config cfg = earshot_config_default();
        cfg.analyze = 0;
        cfg.decoder_options = bad[i][0];
        earshot *e = NULL;
        assert_int_equal(earshot_open(&e, &cfg), EARSHOT_MODEL);
        printf("  '%s': %s\n", bad[i][0], earshot_errmsg(e));
        assert_non_null(strstr(earshot_errmsg(e), bad[i][1]));
        earshot_close(e);
    }
    /* A starved search hears less than the default one. */
    result r[2];
    const char *opts[2] = {NULL, "-maxhmmpf 30 -maxwpf 1"};
    for (int k = 0; k < 2; k++) {
        memset(&r[k], 0, sizeof r[k]);
        earshot_config cfg = earshot_config_default();
        cfg.analyze = 0;
        cfg.decoder_options = opts[k];
        cfg.on_utterance = collect;
        cfg.utterance_user = &r[k];
        earshot *e = NULL;
        assert_int_equal(earshot_open(&e, &cfg), EARSHOT_OK);
        earshot_audio *a = NULL;
        assert_int_equal(earshot_audio_open_file(&a, testdata("multi.wav")), EARSHOT_OK);
        int16_t buf[4096];
        long n;
        while ((n = earshot_audio_read(a, buf, 4096)) > 0)
            earshot_feed(e, buf, (size_t)n);
        earshot_flush(e);
        earshot_audio_close(a);
        earshot_close(e);
    }
    char t0[4096], t1[4096];
    joined_text(&r[0], t0, sizeof t0);
    joined_text(&r[1], t1, sizeof t1);
    printf("  default: %s\n  starved: %s\n", t0, t1);
    assert_string_not_equal(t0, t1);
}

static int stop_after_first(const earshot_utterance *u, void *user)
{
    ++*(int *)user;
    return 1;
}

/* A callback's non-zero return surfaces as EARSHOT_STOPPED. */
static void test_callback_stop(void **state)
{
    int calls = 0;
    earshot_config cfg = earshot_config_default();
    cfg.on_utterance = stop_after_first;
    cfg.utterance_user = &calls;
    earshot *e = NULL;
    assert_int_equal(earshot_open(&e, &cfg), EARSHOT_OK);
    earshot_audio *a = NULL;
    assert_int_equal(earshot_audio_open_file(&a, testdata("multi.wav")), EARSHOT_OK);
    int16_t buf[4096];
    long n;
    int stopped = 0;
    while ((n = earshot_audio_read(a, buf, 4096)) > 0)
        if (earshot_feed(e, buf, (size_t)n) == EARSHOT_STOPPED)
            stopped = 1;
    assert_true(stopped);
    earshot_flush(e);
    assert_int_equal(calls, 4);
    earshot_audio_close(a);
    earshot_close(e);
}

static void test_bad_model_folder(void **state)
{
    earshot_config cfg = earshot_config_default();
    earshot *e = NULL;
    cfg.model_dir = "/nonexistent/model";
    assert_int_equal(earshot_open(&e, &cfg), EARSHOT_MODEL);
    assert_non_null(e);
    assert_string_equal(earshot_errmsg(e), "/nonexistent/model: model folder does not exist");
    earshot_close(e);

    cfg.model_dir = "/tmp";
    assert_int_equal(earshot_open(&e, &cfg), EARSHOT_MODEL);
    assert_non_null(strstr(earshot_errmsg(e), "not a PocketSphinx model folder"));
    int16_t pcm[10] = {0};
    assert_int_equal(earshot_feed(e, pcm, 10), EARSHOT_MISUSE);
    earshot_close(e);
    earshot_close(NULL);
}

static void test_errors_and_version(void **state)
{
    assert_string_equal(earshot_errstr(EARSHOT_OK), "not an error");
    assert_string_equal(earshot_errstr(EARSHOT_MODEL), "cannot load the speech model");
    assert_string_equal(earshot_errstr(-1), "unknown error");
    assert_string_equal(earshot_errstr(999), "unknown error");
    assert_string_equal(earshot_version(), EARSHOT_VERSION);
    assert_int_equal(earshot_open(NULL, NULL), EARSHOT_MISUSE);
    earshot *e = NULL;
    assert_int_equal(earshot_open(&e, NULL), EARSHOT_MISUSE);
    earshot_close(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_librivox_wer_vs_continuous),
        cmocka_unit_test(test_resampled_and_reencoded),
        cmocka_unit_test(test_multi_sentence_segmentation),
        cmocka_unit_test(test_cold_start),
        cmocka_unit_test(test_chunk_size_independence),
        cmocka_unit_test(test_partials_while_speaking),
        cmocka_unit_test(test_partial_interval),
        cmocka_unit_test(test_partial_redaction),
        cmocka_unit_test(test_decoder_options),
        cmocka_unit_test(test_callback_stop),
        cmocka_unit_test(test_bad_model_folder),
        cmocka_unit_test(test_errors_and_version),
    };
    return cmocka_run_group_tests_name("recognizer", tests, group_setup, group_teardown);
}
