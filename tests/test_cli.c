/* test_cli.c - the earshot command as a user meets it: bad inputs each give
 * their exact one-line message and never stop the batch; help, version and
 * usage errors; the JSON form.
 *
 * Needs EARSHOT_BIN and EARSHOT_TESTDATA (make test sets both). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define LIBRI "/usr/share/pocketsphinx/test/data/librivox"
#define GOOD LIBRI "/sense_and_sensibility_01_austen_64kb-0880.wav"

typedef struct run_result {
    int status;
    char *out, *err;
} run_result;

static char tmpdir[] = "/tmp/earshot-cli-XXXXXX";

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = '\0';
    fclose(f);
    return s;
}

/* Runs `earshot ARGS` (ARGS is shell text) and captures both streams. */
static run_result run(const char *fmt, ...)
{
    char args[8192], cmd[16384], out[512], err[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(out, sizeof out, "%s/out", tmpdir);
    snprintf(err, sizeof err, "%s/err", tmpdir);
    const char *bin = getenv("EARSHOT_BIN");
    /* stdin is /dev/null unless ARGS redirects it (a later '<' wins). */
    snprintf(cmd, sizeof cmd, "'%s' </dev/null %s >'%s' 2>'%s'", bin ? bin : "build/earshot",
             args, out, err);
    int st = system(cmd);
    run_result r = {WIFEXITED(st) ? WEXITSTATUS(st) : -1, slurp(out), slurp(err)};
    return r;
}

static void run_free(run_result *r)
{
    free(r->out);
    free(r->err);
}

static const char *td(void)
{
    const char *d = getenv("EARSHOT_TESTDATA");
    return d ? d : "build/testdata";
}

static int setup(void **state)
{
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Every broken input between two good files: each gives exactly its line,
 * the good files are still transcribed, and the exit status is 1. */
static void test_bad_inputs_never_stop_the_batch(void **state)
{
    struct {
        const char *file, *message;
    } bad[] = {
        {"bad/empty.wav", "empty file (0 bytes), no audio"},
        {"bad/notaudio.wav", "not a readable audio file (Format not recognised)"},
        {"bad/zerolength.wav", "no audio samples (zero-length recording)"},
        {"bad/tiny.wav", "only 0.020 s of audio, too short to hold speech"},
        {"bad/truncated.wav", "truncated: the header declares 2.99 s but the file holds "
                              "1.25 s (transcribed what is there)"},
        {"bad/truncated.flac", "corrupt or truncated audio: flac decoder lost sync "
                               "(transcribed up to 0.26 s)"},
        {"bad/missing.wav", "No such file or directory"},
        {"bad", "is a directory, not an audio file"},
    };
    size_t nbad = sizeof bad / sizeof *bad;
    char args[8192] = "transcribe --no-analyze '" GOOD "'";
    for (size_t i = 0; i < nbad; i++) {
        size_t l = strlen(args);
        snprintf(args + l, sizeof args - l, " '%s/%s'", td(), bad[i].file);
    }
    strncat(args, " '" GOOD "'", sizeof args - strlen(args) - 1);
    run_result r = run("%s", args);
    printf("%s", r.err);
    assert_int_equal(r.status, 1);
    for (size_t i = 0; i < nbad; i++) {
        char line[1024];
        snprintf(line, sizeof line, "earshot: %s/%s: %s\n", td(), bad[i].file, bad[i].message);
        assert_non_null(strstr(r.err, line));
    }
    char summary[128];
    snprintf(summary, sizeof summary, "earshot: %zu of %zu files failed\n", nbad, nbad + 2);
    assert_non_null(strstr(r.err, summary));
    /* One line per bad file plus the summary: nothing else on stderr. */
    assert_int_equal(count_lines(r.err), nbad + 1);
    /* Both good files came out, and so did what the truncated WAV held. */
    const char *first = strstr(r.out, GOOD " 0.21-2.74: he was not until this blows young man\n");
    assert_non_null(first);
    assert_non_null(strstr(first + 1, GOOD " 0.21-2.74: he was not"));
    assert_non_null(strstr(r.out, "bad/truncated.wav 0.21-0.98: he was not\n"));
    run_free(&r);
}

static void test_unreadable_model_folder(void **state)
{
    char empty[600];
    snprintf(empty, sizeof empty, "%s/model", tmpdir);
    mkdir(empty, 0700);
    run_result r = run("transcribe --model '%s' '" GOOD "'", empty);
    char want[1024];
    snprintf(want, sizeof want,
             "earshot: %s: not a PocketSphinx model folder: no acoustic model (a folder "
             "holding mdef)\n",
             empty);
    assert_int_equal(r.status, 1);
    assert_string_equal(r.err, want);
    assert_string_equal(r.out, "");
    run_free(&r);

    r = run("transcribe --model /nonexistent/model '" GOOD "'");
    assert_int_equal(r.status, 1);
    assert_string_equal(r.err, "earshot: /nonexistent/model: model folder does not exist\n");
    run_free(&r);

    /* A model folder given explicitly works like the default. */
    r = run("transcribe --model /usr/share/pocketsphinx/model/en-us '" GOOD "'");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, GOOD " 0.21-2.74: he was not"));
    run_free(&r);
}

static void test_json_output(void **state)
{
    run_result r = run("transcribe --json '" GOOD "'");
    assert_int_equal(r.status, 0);
    assert_string_equal(r.err, "");
    assert_int_equal(count_lines(r.out), 1);
    const char *keys[] = {"{\"file\":\"" GOOD "\"", "\"start\":0.21", "\"end\":2.74",
                          "\"text\":\"he was not until dispose young man\"",
                          "\"confidence\":0.", "\"words\":[{\"word\":\"he\",\"start\":0.21",
                          "\"intent\":\"other\"", "\"slots\":{}", "\"sentiment\":\"neutral\"",
                          "\"topics\":[]}"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        assert_non_null(strstr(r.out, keys[i]));
    /* One word object per recognised word. */
    size_t words = 0;
    for (const char *p = r.out; (p = strstr(p, "{\"word\":")); p++)
        words++;
    assert_int_equal(words, 7);
    run_free(&r);

    /* The bundled sample: a complaint, praise and a rating, with the slot. */
    r = run("transcribe --json examples/sample.wav");
    assert_int_equal(r.status, 0);
    assert_int_equal(count_lines(r.out), 3);
    assert_non_null(strstr(r.out, "\"intent\":\"complaint\""));
    assert_non_null(strstr(r.out, "\"topics\":[\"wait_time\"]"));
    assert_non_null(strstr(r.out, "\"intent\":\"praise\""));
    assert_non_null(strstr(r.out, "\"text\":\"i would give you an eight out of ten\""));
    assert_non_null(strstr(r.out, "\"intent\":\"nps\""));
    assert_non_null(strstr(r.out, "\"slots\":{\"score\":8}"));
    run_free(&r);
}

static void test_analyze(void **state)
{
    run_result r = run("analyze --json 'i would give it a solid nine'");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "{\"text\":\"i would give it a solid nine\",\"intent\":\"nps\","
                                  "\"confidence\":0."));
    assert_non_null(strstr(r.out, ",\"slots\":{\"score\":9},\"sentiment\":\"positive\","
                                  "\"sentiment_score\":0.750,\"topics\":[]}\n"));
    assert_int_equal(count_lines(r.out), 1);
    run_free(&r);

    /* Lines on stdin, one utterance each; unmatched speech is kept as other. */
    char in[600];
    snprintf(in, sizeof in, "%s/in.txt", tmpdir);
    FILE *f = fopen(in, "w");
    assert_non_null(f);
    fputs("please cancel my contract\nthe app keeps crashing\nlet me find my glasses\n", f);
    fclose(f);
    r = run("analyze < '%s'", in);
    assert_int_equal(r.status, 0);
    assert_int_equal(count_lines(r.out), 3);
    assert_non_null(strstr(r.out, "please cancel my contract [cancel "));
    assert_non_null(strstr(r.out, "the app keeps crashing [complaint "));
    assert_non_null(strstr(r.out, "let me find my glasses [other "));
    run_free(&r);
}

/* A grammar folder with a typo: every error as FILE:LINE:COL, exit 1. */
static void test_grammar_check_typo(void **state)
{
    char gdir[600], path[700];
    snprintf(gdir, sizeof gdir, "%s/grammar", tmpdir);
    mkdir(gdir, 0700);
    snprintf(path, sizeof path, "%s/intents.grammar", gdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("[intent cancel]\n"
          "cancel my <acount>\n"
          "(close | end my account\n",
          f);
    fclose(f);
    run_result r = run("grammar check --no-dict '%s'", gdir);
    char want[2048];
    snprintf(want, sizeof want,
             "earshot: %s:2:11: unknown rule <acount>\n", path);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, want));
    snprintf(want, sizeof want, "earshot: %s:3:1: '(' is never closed\n", path);
    assert_non_null(strstr(r.err, want));
    assert_int_equal(count_lines(r.err), 2);
    run_free(&r);

    /* The redaction rules in the same folder are checked too. */
    snprintf(path, sizeof path, "%s/intents.grammar", gdir);
    f = fopen(path, "w");
    fputs("[intent cancel]\ncancel my account\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/redact.rules", gdir);
    f = fopen(path, "w");
    fputs("number 0: zero | oh\nnumbr 1: one\n", f);
    fclose(f);
    r = run("grammar check --no-dict '%s'", gdir);
    assert_int_equal(r.status, 1);
    snprintf(want, sizeof want, "earshot: %s:2:1: ", path);
    print_message("%s", r.err);
    assert_non_null(strstr(r.err, want));
    run_free(&r);
    unlink(path);

    r = run("grammar check grammars/en-us");
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "grammars/en-us: ok\n");
    run_free(&r);
}

static void test_help_version_usage(void **state)
{
    run_result r = run("--version");
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "earshot 0.1.0\n");
    run_free(&r);

    r = run("--help");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "transcribe"));
    run_free(&r);

    r = run("transcribe --help");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "usage: earshot transcribe"));
    run_free(&r);

    r = run("transcribe --bogus x.wav");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "earshot: unknown option '--bogus'\n"));
    run_free(&r);

    r = run("transcribe");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "earshot: no audio file given\n"));
    run_free(&r);

    r = run("frobnicate");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "earshot: unknown command 'frobnicate'\n"));
    run_free(&r);
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Three files, three sessions, spoken consent: yes + three sentences; no +
 * two; yes + one + "forget me". Then sessions, export and forget. */
static void test_store_commands(void **state)
{
    char db[600];
    snprintf(db, sizeof db, "%s/cli.db", tmpdir);
    unlink(db);
    run_result r = run("transcribe --json --db '%s' --channel lobby '%s/consent-yes.wav' "
                       "'%s/consent-no.wav' '%s/consent-forget.wav'", db, td(), td(), td());
    print_message("%s%s", r.out, r.err);
    assert_int_equal(r.status, 0);
    assert_int_equal(count_of(r.out, "\"storage\":\"consented\""), 2);
    assert_int_equal(count_of(r.out, "\"storage\":\"stored\""), 4);
    assert_int_equal(count_of(r.out, "\"storage\":\"declined\""), 1);
    assert_int_equal(count_of(r.out, "\"storage\":\"forgotten\""), 1);
    run_free(&r);

    r = run("sessions --json --db '%s'", db);
    assert_int_equal(r.status, 0);
    print_message("%s", r.out);
    assert_non_null(strstr(r.out, "{\"id\":1,\"channel\":\"lobby\""));
    assert_non_null(strstr(r.out, "\"utterances\":3,\"consented\":true"));
    assert_non_null(strstr(r.out, "{\"id\":2,"));
    assert_non_null(strstr(r.out, "\"utterances\":0,\"consented\":false"));
    assert_null(strstr(r.out, "{\"id\":3,")); /* forgotten by voice */
    run_free(&r);

    r = run("export --db '%s' --session 1", db);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "[PHONE]"));
    assert_null(strstr(r.out, "double"));
    assert_non_null(strstr(r.out, "\"slots\":{\"score\":9}"));
    assert_non_null(strstr(r.out, "\"method\":\"voice\""));
    run_free(&r);

    r = run("forget --db '%s' --session 1", db);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "erased 1 session and 3 utterances\n");
    run_free(&r);
    r = run("sessions --db '%s'", db);
    assert_int_equal(r.status, 0);
    assert_int_equal(count_of(r.out, "lobby"), 1);
    run_free(&r);

    /* Consent given elsewhere: everything heard is kept. */
    r = run("transcribe --db '%s' --consent granted --channel phone '%s/multi.wav'", db, td());
    assert_int_equal(r.status, 0);
    assert_int_equal(count_of(r.out, "(stored)"), 4);
    run_free(&r);
    r = run("forget --db '%s' --channel phone", db);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "erased 1 session and 4 utterances\n");
    run_free(&r);

    /* Usage and refusal. */
    r = run("forget --db '%s'", db);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "give exactly one of"));
    run_free(&r);
    r = run("forget --db '%s' --before last-week", db);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "is not a date"));
    run_free(&r);
    r = run("export --db '%s/nothing-here.db' --session 1", tmpdir);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "No such file"));
    run_free(&r);
    r = run("transcribe --db '%s' --consent maybe '%s'", db, GOOD);
    assert_int_equal(r.status, 2);
    run_free(&r);
    char notes[600];
    snprintf(notes, sizeof notes, "%s/notes.db", tmpdir);
    FILE *f = fopen(notes, "w");
    fputs("my shopping list\n", f);
    fclose(f);
    r = run("transcribe --db '%s' '%s'", notes, GOOD);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "not an SQLite database"));
    assert_int_equal(count_of(r.err, "\n"), 1);
    run_free(&r);
    char *kept = slurp(notes);
    assert_string_equal(kept, "my shopping list\n");
    free(kept);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_inputs_never_stop_the_batch),
        cmocka_unit_test(test_unreadable_model_folder),
        cmocka_unit_test(test_json_output),
        cmocka_unit_test(test_analyze),
        cmocka_unit_test(test_grammar_check_typo),
        cmocka_unit_test(test_help_version_usage),
        cmocka_unit_test(test_store_commands),
    };
    return cmocka_run_group_tests_name("cli", tests, setup, teardown);
}
