/* test_domain.c - the domain language model compiled from the grammar:
 * it lowers word error rate on customer speech (the dev set spoken by
 * flite) against the generic model alone, compiles (its time is printed; bench/intent.sh measures it),
 * and is cached by the grammar's content hash. The kiosk vocabulary (a cut
 * of the generic model) is built from the grammar folder, reused from the
 * cache, switched by model_vocab, and independent of chunk size. */
#include "earshot.h"
#include "domain_lm.h"
#include "kiosk_lm.h"
#include "grammar.h"
#include "wer.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char cache[] = "/tmp/earshot-cache-XXXXXX";

static int setup(void **state)
{
    return mkdtemp(cache) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cache);
    return system(cmd) == 0 ? 0 : -1;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static void on_diag(const char *file, int line, int col, const char *msg, void *user)
{
    fprintf(stderr, "%s:%d:%d: %s\n", file, line, col, msg);
}

static void test_compiles_and_caches(void **state)
{
    earshot__grammar *g = earshot__grammar_load("grammars/en-us", on_diag, NULL);
    assert_non_null(g);
    assert_int_equal(earshot__grammar_n_errors(g), 0);
    char path[1100], err[256];
    int temp = 0;
    double t0 = now();
    assert_int_equal(earshot__domain_lm_file(g, cache, path, sizeof path, &temp, err, sizeof err),
                     0);
    double compile = now() - t0;
    printf("domain model compiled in %.3f s (informative): %s\n", compile, path);
    assert_false(temp);
    /* How long it takes is a bench figure (bench/intent.sh), not a test:
     * a timed assertion fails on a loaded machine. */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 1000);
    /* An ARPA file PocketSphinx can read: header and the three orders. */
    FILE *f = fopen(path, "r");
    char line[256];
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "\\data\\\n");
    fclose(f);

    /* Second time: the cached file is used as it is. */
    time_t mtime = st.st_mtime;
    char again[1100];
    t0 = now();
    assert_int_equal(
        earshot__domain_lm_file(g, cache, again, sizeof again, &temp, err, sizeof err), 0);
    printf("cache hit in %.4f s\n", now() - t0);
    assert_string_equal(again, path);
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_mtime == mtime);
    earshot__grammar_free(g);

    /* Different grammar content, different cache entry. */
    char gdir[] = "/tmp/earshot-g-XXXXXX";
    assert_non_null(mkdtemp(gdir));
    char gpath[200];
    snprintf(gpath, sizeof gpath, "%s/x.grammar", gdir);
    f = fopen(gpath, "w");
    fputs("[intent cancel]\ncancel my contract\n", f);
    fclose(f);
    g = earshot__grammar_load(gdir, on_diag, NULL);
    assert_non_null(g);
    assert_int_equal(earshot__domain_lm_file(g, cache, again, sizeof again, &temp, err, sizeof err),
                     0);
    assert_string_not_equal(again, path);
    earshot__grammar_free(g);
    unlink(gpath);
    rmdir(gdir);
}

typedef struct text {
    char s[4096];
} text;

static int collect(const earshot_utterance *u, void *user)
{
    text *t = user;
    if (t->s[0])
        strncat(t->s, " ", sizeof t->s - strlen(t->s) - 1);
    strncat(t->s, u->text, sizeof t->s - strlen(t->s) - 1);
    return 0;
}

/* Word errors over every second dev sentence with a given domain weight. */
static double dev_wer(double weight, long *errors, size_t *words)
{
    const char *td = getenv("EARSHOT_TESTDATA");
    char tsv[1024];
    snprintf(tsv, sizeof tsv, "%s/dev/utterances.tsv", td ? td : "build/testdata");
    FILE *f = fopen(tsv, "r");
    assert_non_null(f);
    text t;
    earshot_config cfg = earshot_config_default();
    cfg.grammar_dir = "grammars/en-us";
    cfg.cache_dir = cache;
    cfg.domain_weight = weight;
    cfg.on_utterance = collect;
    cfg.utterance_user = &t;
    earshot *e = NULL;
    assert_int_equal(earshot_open(&e, &cfg), EARSHOT_OK);
    char line[2048];
    int row = 0;
    *errors = 0;
    *words = 0;
    assert_non_null(fgets(line, sizeof line, f)); /* header */
    while (fgets(line, sizeof line, f)) {
        if (row++ % 2)
            continue;
        line[strcspn(line, "\r\n")] = '\0';
        char *id = strtok(line, "\t"), *ref = NULL;
        for (int c = 0; c < 5; c++)
            ref = strtok(NULL, "\t");
        assert_non_null(ref);
        char wav[1200];
        snprintf(wav, sizeof wav, "%s/dev/%s.wav", td ? td : "build/testdata", id);
        earshot_audio *a = NULL;
        assert_int_equal(earshot_audio_open_file(&a, wav), EARSHOT_OK);
        t.s[0] = '\0';
        int16_t buf[4096];
        long n;
        while ((n = earshot_audio_read(a, buf, 4096)) > 0)
            assert_int_equal(earshot_feed(e, buf, (size_t)n), EARSHOT_OK);
        assert_int_equal(earshot_flush(e), EARSHOT_OK);
        earshot_audio_close(a);
        size_t w = 0;
        *errors += wer_errors(ref, t.s, &w);
        *words += w;
    }
    fclose(f);
    earshot_close(e);
    return 100.0 * (double)*errors / (double)*words;
}

static void test_domain_model_lowers_wer(void **state)
{
    long eg, ed;
    size_t wg, wd;
    double generic = dev_wer(0.0, &eg, &wg);
    double domain = dev_wer(0.3, &ed, &wd);
    printf("dev sentences (every second one), WER: generic model %.1f %% (%ld/%zu), with "
           "the domain model %.1f %% (%ld/%zu)\n",
           generic, eg, wg, domain, ed, wd);
    assert_true(wg > 400);
    assert_true(domain < generic);
    /* Not a rounding-error win: at least 15 % fewer errors. */
    assert_true((double)ed <= 0.85 * (double)eg);
}


#define GENERIC_LM EARSHOT_DEFAULT_MODEL_DIR "/en-us.lm.bin"
#define GENERIC_DICT EARSHOT_DEFAULT_MODEL_DIR "/cmudict-en-us.dict"
#define LIBRI "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-"

static int dict_has_word(const char *dict, const char *word)
{
    FILE *f = fopen(dict, "r");
    assert_non_null(f);
    char line[1024];
    int found = 0;
    size_t n = strlen(word);
    while (!found && fgets(line, sizeof line, f))
        found = !strncmp(line, word, n) && (line[n] == ' ' || line[n] == '(');
    fclose(f);
    return found;
}

static void test_kiosk_builds_and_caches(void **state)
{
    earshot__grammar *g = earshot__grammar_load("grammars/en-us", on_diag, NULL);
    assert_non_null(g);
    char lm[1100], dict[1100], err[512];
    int temp = 1;
    assert_int_equal(earshot__kiosk_lm_files(g, GENERIC_LM, GENERIC_DICT, 5000, cache, lm,
                                             sizeof lm, dict, sizeof dict, &temp, err,
                                             sizeof err),
                     0);
    assert_false(temp);
    struct stat st;
    assert_int_equal(stat(lm, &st), 0);
    time_t mtime = st.st_mtime;
    /* The grammar's words are kept even when rare ("refund" is not among
     * the 5,000 most probable words); rare words of novels are not. */
    assert_true(dict_has_word(dict, "refund"));
    assert_true(dict_has_word(dict, "the"));
    assert_false(dict_has_word(dict, "amiable"));
    /* Second time: found in the cache, not rebuilt. */
    sleep(1);
    char lm2[1100], dict2[1100];
    assert_int_equal(earshot__kiosk_lm_files(g, GENERIC_LM, GENERIC_DICT, 5000, cache, lm2,
                                             sizeof lm2, dict2, sizeof dict2, &temp, err,
                                             sizeof err),
                     0);
    assert_string_equal(lm2, lm);
    assert_string_equal(dict2, dict);
    assert_int_equal(stat(lm, &st), 0);
    assert_true(st.st_mtime == mtime);
    /* Another size is another cache entry. */
    assert_int_equal(earshot__kiosk_lm_files(g, GENERIC_LM, GENERIC_DICT, 6000, cache, lm2,
                                             sizeof lm2, dict2, sizeof dict2, &temp, err,
                                             sizeof err),
                     0);
    assert_string_not_equal(lm2, lm);
    /* A model that is not a binary trie cannot be cut: a clear message, and
     * -2, on which earshot_open warns and uses the model whole. */
    char arpa[1100];
    assert_int_equal(earshot__domain_lm_file(g, cache, arpa, sizeof arpa, &temp, err, sizeof err),
                     0);
    assert_int_equal(earshot__kiosk_lm_files(g, arpa, GENERIC_DICT, 5000, cache, lm2,
                                             sizeof lm2, dict2, sizeof dict2, &temp, err,
                                             sizeof err),
                     -2);
    printf("non-trie model: %s\n", err);
    assert_non_null(strstr(err, "--model-vocab full"));
    earshot__grammar_free(g);
}

/* The transcript of one file, fed in chunks of `chunk` samples. */
static void transcribe(const char *wav, int vocab, size_t chunk, text *t)
{
    earshot_config cfg = earshot_config_default();
    cfg.grammar_dir = "grammars/en-us";
    cfg.cache_dir = cache;
    cfg.model_vocab = vocab;
    cfg.on_utterance = collect;
    cfg.utterance_user = t;
    earshot *e = NULL;
    assert_int_equal(earshot_open(&e, &cfg), EARSHOT_OK);
    earshot_audio *a = NULL;
    assert_int_equal(earshot_audio_open_file(&a, wav), EARSHOT_OK);
    t->s[0] = '\0';
    int16_t buf[8192];
    long n;
    while ((n = earshot_audio_read(a, buf, chunk)) > 0)
        assert_int_equal(earshot_feed(e, buf, (size_t)n), EARSHOT_OK);
    assert_int_equal(earshot_flush(e), EARSHOT_OK);
    earshot_audio_close(a);
    earshot_close(e);
}

static void test_model_vocab_switches(void **state)
{
    text full, cut;
    transcribe(LIBRI "0930.wav", EARSHOT_MODEL_VOCAB_FULL, 4096, &full);
    transcribe(LIBRI "0930.wav", 5000, 4096, &cut);
    printf("full: %s\n5000 words: %s\n", full.s, cut.s);
    assert_non_null(strstr(full.s, "amiable"));
    assert_null(strstr(cut.s, "amiable"));
}

static void test_kiosk_chunk_independence(void **state)
{
    text a, b;
    transcribe(LIBRI "0920.wav", 5000, 4096, &a);
    transcribe(LIBRI "0920.wav", 5000, 333, &b);
    assert_true(a.s[0]);
    assert_string_equal(a.s, b.s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compiles_and_caches),
        cmocka_unit_test(test_domain_model_lowers_wer),
        cmocka_unit_test(test_kiosk_builds_and_caches),
        cmocka_unit_test(test_model_vocab_switches),
        cmocka_unit_test(test_kiosk_chunk_independence),
    };
    /* EARSHOT_TEST_FILTER=test_kiosk* runs only the tests matching it. */
    if (getenv("EARSHOT_TEST_FILTER"))
        cmocka_set_test_filter(getenv("EARSHOT_TEST_FILTER"));
    return cmocka_run_group_tests_name("domain", tests, setup, teardown);
}
