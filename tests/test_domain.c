/* test_domain.c - the domain language model compiled from the grammar:
 * it lowers word error rate on customer speech (the dev set spoken by
 * flite) against the generic model alone, compiles well under a second,
 * and is cached by the grammar's content hash. */
#include "earshot.h"
#include "domain_lm.h"
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

static void test_compiles_fast_and_caches(void **state)
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
    printf("domain model compiled in %.3f s: %s\n", compile, path);
    assert_false(temp);
    assert_true(compile < 1.0);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compiles_fast_and_caches),
        cmocka_unit_test(test_domain_model_lowers_wer),
    };
    return cmocka_run_group_tests_name("domain", tests, setup, teardown);
}
