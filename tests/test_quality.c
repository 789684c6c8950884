/* test_quality.c - the audio-quality verdict and the refusal to guess:
 * narrowband, clipped and quiet input is named so, noise alone makes no
 * intent and no rating, and a word below the confidence floor creates
 * nothing. Real model, real audio (tests/make_data.sh, q-*.wav). */
#include "earshot.h"
#include "wer.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct utt {
    char text[1024];
    char intent[32];
    int score, quality;
    size_t n_words;
    double confidence;
} utt;

typedef struct result {
    utt u[32];
    size_t n;
} result;

static int collect(const earshot_utterance *u, void *user)
{
    result *r = user;
    if (r->n < sizeof r->u / sizeof *r->u) {
        utt *d = &r->u[r->n++];
        snprintf(d->text, sizeof d->text, "%s", u->text);
        snprintf(d->intent, sizeof d->intent, "%s", u->analysis ? u->analysis->intent : "");
        d->score = u->analysis ? u->analysis->score : -1;
        d->quality = u->quality;
        d->n_words = u->n_words;
        d->confidence = u->confidence;
    }
    return 0;
}

static result res;

static const char *testdata(const char *name)
{
    static char path[4096];
    const char *dir = getenv("EARSHOT_TESTDATA");
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "build/testdata", name);
    return path;
}

static void decode_with(earshot *e, const char *name)
{
    memset(&res, 0, sizeof res);
    earshot_audio *a = NULL;
    assert_int_equal(earshot_audio_open_file(&a, testdata(name)), EARSHOT_OK);
    int16_t buf[4000];
    long n;
    while ((n = earshot_audio_read(a, buf, 4000)) > 0)
        assert_int_equal(earshot_feed(e, buf, (size_t)n), EARSHOT_OK);
    assert_int_equal(n, 0);
    earshot_audio_close(a);
    assert_int_equal(earshot_flush(e), EARSHOT_OK);
}

static earshot *open_with(double floor, double unclear)
{
    earshot_config cfg = earshot_config_default();
    cfg.on_utterance = collect;
    cfg.utterance_user = &res;
    if (floor >= 0)
        cfg.word_confidence_floor = floor;
    if (unclear >= 0)
        cfg.unclear_confidence = unclear;
    earshot *e = NULL;
    assert_int_equal(earshot_open(&e, &cfg), EARSHOT_OK);
    return e;
}

static earshot *shared;

static int group_setup(void **state)
{
    shared = open_with(-1, -1);
    return shared ? 0 : -1;
}

static int group_teardown(void **state)
{
    earshot_close(shared);
    return 0;
}

/* The utterance with the most words: the sentence, not a stray noise. */
static const utt *main_utt(void)
{
    const utt *best = NULL;
    for (size_t i = 0; i < res.n; i++)
        if (!best || res.u[i].n_words > best->n_words)
            best = &res.u[i];
    return best;
}

static void test_names(void **state)
{
    assert_string_equal(earshot_quality_name(EARSHOT_QUALITY_OK), "ok");
    assert_string_equal(earshot_quality_name(EARSHOT_QUALITY_NARROWBAND), "narrowband");
    assert_string_equal(earshot_quality_name(EARSHOT_QUALITY_TOO_QUIET), "too_quiet");
    assert_string_equal(earshot_quality_name(99), "unknown");
    assert_string_equal(earshot_quality_name(-1), "unknown");
}

/* The clean sentence passes every check on the audio itself (it may still
 * be unclear to the recogniser, which is a different matter). q-cold says
 * it twice; the first, after digital silence, is the cold start (README,
 * known limitations), so the longer second one is judged. */
static void test_clean_is_not_flagged(void **state)
{
    decode_with(shared, "q-cold.wav");
    const utt *u = main_utt();
    assert_non_null(u);
    assert_true(u->n_words >= 5);
    assert_int_not_equal(u->quality, EARSHOT_QUALITY_NARROWBAND);
    assert_int_not_equal(u->quality, EARSHOT_QUALITY_CLIPPED);
    assert_int_not_equal(u->quality, EARSHOT_QUALITY_TOO_QUIET);
}

/* An 8 kHz phone-band file, and a 16 kHz file holding nothing above
 * 3.4 kHz: every utterance is narrowband, and none makes an intent. */
static void test_narrowband(void **state)
{
    const char *files[] = {"q-phone8k.wav", "q-band16k.wav"};
    for (size_t f = 0; f < 2; f++) {
        decode_with(shared, files[f]);
        assert_true(res.n >= 1);
        for (size_t i = 0; i < res.n; i++) {
            assert_int_equal(res.u[i].quality, EARSHOT_QUALITY_NARROWBAND);
            assert_string_equal(res.u[i].intent, "other");
            assert_int_equal(res.u[i].score, -1);
        }
    }
}

static void test_clipped(void **state)
{
    decode_with(shared, "q-clipped.wav");
    const utt *u = main_utt();
    assert_non_null(u);
    assert_int_equal(u->quality, EARSHOT_QUALITY_CLIPPED);
}

/* At -45 dBFS the sentence is still decoded (PocketSphinx's CMN copes
 * with the level) but is named too_quiet: a kiosk should ask the customer
 * to come closer. */
static void test_too_quiet(void **state)
{
    decode_with(shared, "q-quiet.wav");
    const utt *u = main_utt();
    assert_non_null(u);
    assert_int_equal(u->quality, EARSHOT_QUALITY_TOO_QUIET);
}

/* Noise alone: whatever the decoder makes of it yields no intent and no
 * rating. */
static void test_noise_invents_nothing(void **state)
{
    const char *files[] = {"q-pink.wav", "q-music.wav"};
    for (size_t f = 0; f < 2; f++) {
        decode_with(shared, files[f]);
        for (size_t i = 0; i < res.n; i++) {
            assert_string_equal(res.u[i].intent, "other");
            assert_int_equal(res.u[i].score, -1);
        }
    }
}

/* "i would give you a nine out of ten" (consent-yes.wav) is a rating of 9
 * with every gate off; with a floor above any posterior, none of its
 * words may create an intent or a rating, though they stay in the text. */
static void test_floor_blocks_intents(void **state)
{
    earshot *off = open_with(0, 0);
    decode_with(off, "consent-yes.wav");
    int rated = 0;
    for (size_t i = 0; i < res.n; i++)
        rated |= res.u[i].score == 9 && !strcmp(res.u[i].intent, "nps");
    assert_true(rated);
    earshot_close(off);

    earshot *all = open_with(1.01, 0);
    decode_with(all, "consent-yes.wav");
    assert_true(res.n >= 3);
    int nine = 0;
    for (size_t i = 0; i < res.n; i++) {
        assert_string_equal(res.u[i].intent, "other");
        assert_int_equal(res.u[i].score, -1);
        nine |= strstr(res.u[i].text, "nine") != NULL;
    }
    assert_true(nine);
    earshot_close(all);
}

/* The verdict is stored with the row, so a report can count unclear
 * speech instead of guessing. Through the earshot command and a real
 * SQLite file. */
static void test_verdict_is_stored(void **state)
{
    const char *bin = getenv("EARSHOT_BIN");
    if (!bin)
        bin = "build/earshot";
    char db[] = "/tmp/earshot-quality-XXXXXX";
    int fd = mkstemp(db);
    assert_true(fd >= 0);
    close(fd);
    unlink(db);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s transcribe --db %s --consent granted %s >/dev/null", bin, db,
             testdata("q-phone8k.wav"));
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd,
             "sqlite3 %s \"SELECT count(*) FROM utterances WHERE quality = 'narrowband' AND "
             "intent = 'other'\"", db);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    int n = -1;
    assert_int_equal(fscanf(p, "%d", &n), 1);
    pclose(p);
    assert_true(n >= 1);

    /* The report counts it as unclear speech, not as an intent. */
    snprintf(cmd, sizeof cmd,
             "%s report --db %s --format json --min-group 1 | tr -d ' \\n' | "
             "grep -o '\"unclear\":{\"n\":[0-9]*' | tr -cd 0-9", bin, db);
    p = popen(cmd, "r");
    assert_non_null(p);
    int unclear = -1;
    assert_int_equal(fscanf(p, "%d", &unclear), 1);
    pclose(p);
    assert_int_equal(unclear, n);
    unlink(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_clean_is_not_flagged),
        cmocka_unit_test(test_narrowband),
        cmocka_unit_test(test_clipped),
        cmocka_unit_test(test_too_quiet),
        cmocka_unit_test(test_noise_invents_nothing),
        cmocka_unit_test(test_floor_blocks_intents),
        cmocka_unit_test(test_verdict_is_stored),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
