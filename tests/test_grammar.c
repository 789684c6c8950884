/* test_grammar.c - the grammar format: every construct parses and matches,
 * every error is reported with its FILE:LINE:COL, all of them at once. The
 * grammars are written to a temporary folder by each test. */
#include "earshot.h"

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

static char dir[] = "/tmp/earshot-grammar-XXXXXX";

static int setup(void **state)
{
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Replaces the folder's contents with one file, name, holding text. */
static void write_grammar(const char *name, const char *text)
{
    char cmd[256], path[256];
    snprintf(cmd, sizeof cmd, "rm -f '%s'/*.grammar", dir);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void add_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

typedef struct diags {
    char text[8192];
    int n;
} diags;

static void collect(const char *file, int line, int col, const char *msg, void *user)
{
    diags *d = user;
    const char *base = strrchr(file, '/');
    size_t len = strlen(d->text);
    snprintf(d->text + len, sizeof d->text - len, "%s:%d:%d: %s\n", base ? base + 1 : file,
             line, col, msg);
    d->n++;
}

static const char *analyze(earshot_intents *g, const char *text, earshot_analysis *a)
{
    assert_int_equal(earshot_intents_analyze(g, text, a), EARSHOT_OK);
    return a->intent;
}

/* Alternatives, optional words, rules (defined after use, in another
 * file), slots, <number>, ^ anchors, cues, topics, sentiment and numbers. */
static void test_every_construct(void **state)
{
    write_grammar("a.grammar",
                  "# comment line\n"
                  "[intent cancel]\n"
                  "(cancel | close) [my] <thing> [please]   # trailing comment\n"
                  "cue 1.5: switching to <rival>\n"
                  "\n"
                  "[intent nps]\n"
                  "{score} out of ten\n"
                  "cue 2: ^ {score}\n"
                  "cue 2: scale of <number> to <number> i'd say {score}\n"
                  "\n"
                  "[intent greeting]\n"
                  "cue 1: ^ (hello | hi)\n"
                  "\n"
                  "[intent praise]\n"
                  "sentiment positive 1\n"
                  "\n"
                  "[intent other]\n"
                  "\n"
                  "[topic account]\n"
                  "account | contract\n"
                  "0.5: plan\n"
                  "[signal repeat_contact]\n"
                  "(third | fourth) time\n");
    add_file("b.grammar",
             "[rules]\n"
             "<thing> = (account | contract | plan)\n"
             "<rival> = (another | a cheaper) (bank | provider)\n"
             "[sentiment]\n"
             "negator: not | never\n"
             "intensifier 2: very\n"
             "contrast: but\n"
             "hypothetical: would\n"
             "positive 1: good | lovely\n"
             "negative 1: bad | slow\n"
             "[numbers]\n"
             "0: zero\n1: one\n6: six\n8: eight\n10: ten\n"
             "not_score: <number> minutes\n");
    diags d = {0};
    assert_int_equal(earshot_grammar_check(dir, NULL, collect, &d), 0);
    assert_string_equal(d.text, "");

    earshot_intents *g = NULL;
    assert_int_equal(earshot_intents_open(&g, dir), EARSHOT_OK);
    earshot_analysis a;
    /* whole template, with and without the optional words */
    assert_string_equal(analyze(g, "cancel my account please", &a), "cancel");
    assert_true(a.confidence > 0.7);
    assert_string_equal(analyze(g, "close contract", &a), "cancel");
    assert_int_equal(a.n_topics, 1);
    assert_string_equal(a.topics[0], "account");
    /* template inside a longer sentence; cue anywhere */
    assert_string_equal(analyze(g, "well i want to close my plan now", &a), "cancel");
    assert_string_equal(analyze(g, "i am switching to a cheaper bank", &a), "cancel");
    /* a signal is reported apart from the topics */
    assert_string_equal(analyze(g, "third time i asked to close my contract", &a), "cancel");
    assert_int_equal(a.n_topics, 1);
    assert_string_equal(a.topics[0], "account");
    assert_int_equal(a.n_signals, 1);
    assert_string_equal(a.signals[0], "repeat_contact");
    analyze(g, "close contract", &a);
    assert_int_equal(a.n_signals, 0);
    /* topic weights add up: "plan" alone is 0.5, not enough */
    analyze(g, "the plan", &a);
    assert_int_equal(a.n_topics, 0);
    /* slot value, anchor, <number> */
    assert_string_equal(analyze(g, "eight out of ten", &a), "nps");
    assert_int_equal(a.score, 8);
    assert_string_equal(analyze(g, "six i suppose", &a), "nps");
    assert_int_equal(a.score, 6);
    assert_string_equal(analyze(g, "on a scale of one to ten i'd say six", &a), "nps");
    assert_int_equal(a.score, 6);
    /* ^ only at the start; not_score keeps "ten minutes" from rating */
    assert_string_equal(analyze(g, "i said six", &a), "other");
    assert_string_equal(analyze(g, "ten minutes of waiting", &a), "other");
    assert_int_equal(a.score, -1);
    assert_string_equal(analyze(g, "hello there", &a), "greeting");
    assert_string_equal(analyze(g, "well hello", &a), "other");
    /* sentiment: plain, negated, intensified, contrast, hypothetical */
    analyze(g, "good", &a);
    assert_string_equal(a.sentiment, "positive");
    assert_string_equal(a.intent, "praise");
    analyze(g, "not good", &a);
    assert_string_equal(a.sentiment, "negative");
    analyze(g, "not bad", &a);
    assert_string_equal(a.sentiment, "positive");
    double plain, strong;
    analyze(g, "good", &a);
    plain = a.sentiment_score;
    analyze(g, "very good", &a);
    strong = a.sentiment_score;
    assert_true(strong > plain);
    analyze(g, "lovely but slow", &a);
    assert_string_equal(a.sentiment, "negative");
    analyze(g, "it would be good", &a);
    assert_string_equal(a.sentiment, "neutral");
    /* nps sentiment follows the score */
    analyze(g, "zero out of ten", &a);
    assert_string_equal(a.sentiment, "negative");
    analyze(g, "ten out of ten", &a);
    assert_string_equal(a.sentiment, "positive");
    earshot_intents_close(g);
}

/* Every error, each with its file, line and column, all in one run. */
static void test_errors_with_positions(void **state)
{
    write_grammar("bad.grammar",
                  "[intent cancel]\n"                     /* 1 */
                  "cancel my <acount>\n"                  /* 2: unknown rule, col 11 */
                  "(close | end my account\n"             /* 3: '(' never closed, col 1 */
                  "close ] account\n"                     /* 4: stray ']', col 7 */
                  "stop {rating}\n"                       /* 5: unknown slot, col 6 */
                  "cue: quit\n"                           /* 6: cue without weight */
                  "  leave ( | now)\n"                    /* 7: empty alternative, col 11 */
                  "Cancel\n"                              /* 8: upper case, col 1 */
                  "[intnet nps]\n"                        /* 9: unknown section kind */
                  "[topic]\n"                             /* 10: topic needs a name */
                  "[sentiment]\n"                         /* 11 */
                  "positive: good\n"                      /* 12: needs a weight */
                  "happy\n"                               /* 13: not a sentiment line */
                  "[numbers]\n"                           /* 14 */
                  "11: eleven\n"                          /* 15: out of range */
                  "<loop> = a <loop>\n"                   /* 16: rule refers to itself */
                  "<dup> = x\n"                           /* 17 */
                  "<dup> = y\n");                         /* 18: already defined */
    diags d = {0};
    long n = earshot_grammar_check(dir, NULL, collect, &d);
    printf("%s", d.text);
    const char *want[] = {
        "bad.grammar:2:11: unknown rule <acount>\n",
        "bad.grammar:3:1: '(' is never closed\n",
        "bad.grammar:4:7: ']' without a matching opening bracket\n",
        "bad.grammar:5:6: unknown slot {rating}: the only slot is {score}\n",
        "bad.grammar:6:1: cue lines read 'cue WEIGHT: expansion'\n",
        "bad.grammar:7:11: empty alternative: write [x] for something optional\n",
        "bad.grammar:8:1: words are lower case\n",
        "bad.grammar:9:2: unknown section kind 'intnet': use intent, topic, signal, "
        "sentiment, numbers, answers or rules\n",
        "bad.grammar:10:1: [topic] needs a name, as in [topic NAME]\n",
        "bad.grammar:12:9: positive needs a weight, as in 'positive 1.0: ...'\n",
        "bad.grammar:13:1: sentiment lines start with positive W:, negative W:, "
        "intensifier W:, negator:, contrast: or hypothetical:\n",
        "bad.grammar:15:1: number lines read 'N: words' with N from 0 to 10, or "
        "'not_score: ...'\n",
        "bad.grammar:16:12: rule <loop> refers back to itself\n",
        "bad.grammar:18:2: rule <dup> is already defined at ",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        if (!strstr(d.text, want[i]))
            fprintf(stderr, "missing: %s", want[i]);
        assert_non_null(strstr(d.text, want[i]));
    }
    assert_int_equal(n, (long)(sizeof want / sizeof *want));
    assert_int_equal(d.n, (int)n);

    /* Opening such a folder fails and the message lists the problems. */
    earshot_intents *g = NULL;
    assert_int_equal(earshot_intents_open(&g, dir), EARSHOT_GRAMMAR);
    assert_non_null(strstr(earshot_intents_errmsg(g), "bad.grammar:2:11: unknown rule <acount>"));
    assert_non_null(strstr(earshot_intents_errmsg(g), "bad.grammar:16:12:"));
    earshot_intents_close(g);
}

/* Words the pronunciation dictionary lacks are named with their first use,
 * as warnings that do not fail the check. */
static void test_dictionary_words(void **state)
{
    write_grammar("d.grammar", "[intent x]\n"
                               "please frobnicate my account\n"
                               "cue 1: zorbly | account\n");
    diags d = {0};
    long n = earshot_grammar_check(dir, "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict",
                                   collect, &d);
    printf("%s", d.text);
    assert_int_equal(n, 0);
    assert_int_equal(d.n, 2);
    assert_non_null(strstr(d.text, "d.grammar:2:8: warning: word not in the pronunciation "
                                   "dictionary, so the recogniser cannot hear it: 'frobnicate'\n"));
    assert_non_null(strstr(d.text, "d.grammar:3:8: warning: word not in the pronunciation "
                                   "dictionary, so the recogniser cannot hear it: 'zorbly'\n"));
    assert_int_equal(earshot_grammar_check(dir, "/nonexistent.dict", collect, &d), -1);
}

static void test_expansion_limit_and_empty_folder(void **state)
{
    /* 10 x 10 x 10 x 10 x 10 = 100,000 phrases in one line: refused. */
    write_grammar("big.grammar", "[intent x]\n"
                                 "<d> = (a | b | c | d | e | f | g | h | i | j)\n"
                                 "<d> <d> <d> <d> <d>\n");
    earshot_intents *g = NULL;
    assert_int_equal(earshot_intents_open(&g, dir), EARSHOT_GRAMMAR);
    assert_non_null(strstr(earshot_intents_errmsg(g),
                           "big.grammar:3: this line expands to more than 20000 phrases"));
    earshot_intents_close(g);

    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -f '%s'/*.grammar", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(earshot_intents_open(&g, dir), EARSHOT_GRAMMAR);
    assert_non_null(strstr(earshot_intents_errmsg(g), "no *.grammar files in this folder"));
    earshot_intents_close(g);
    assert_int_equal(earshot_intents_open(&g, "/nonexistent/grammar"), EARSHOT_GRAMMAR);
    assert_non_null(strstr(earshot_intents_errmsg(g), "cannot read grammar folder"));
    earshot_intents_close(g);
}

/* Writes name in the folder through a callback that prints the body, for
 * the generated grammars below (too large for a string literal). */
static FILE *open_file(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    return f;
}

static void clear_folder(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -f '%s'/*.grammar", dir);
    assert_int_equal(system(cmd), 0);
}

/* 5,000 nested brackets overflowed the parser's stack (SEGV); now one
 * error at the bracket that went past the limit. */
static void test_nesting_bound(void **state)
{
    for (int kind = 0; kind < 2; kind++) {
        clear_folder();
        FILE *f = open_file("deep.grammar");
        fputs("[intent x]\n", f);
        for (int i = 0; i < 5000; i++)
            fputc(kind ? '[' : '(', f);
        fputs("hello", f);
        for (int i = 0; i < 5000; i++)
            fputc(kind ? ']' : ')', f);
        fputc('\n', f);
        fclose(f);
        diags d = {0};
        assert_true(earshot_grammar_check(dir, NULL, collect, &d) >= 1);
        assert_int_equal(d.n, 1);
        assert_non_null(strstr(d.text, "deep.grammar:2:65: nested too deeply"));
        earshot_intents *g = NULL;
        assert_int_equal(earshot_intents_open(&g, dir), EARSHOT_GRAMMAR);
        assert_non_null(strstr(earshot_intents_errmsg(g), "nested too deeply"));
        earshot_intents_close(g);
    }
    /* 64 levels are still fine. */
    clear_folder();
    FILE *f = open_file("ok.grammar");
    fputs("[intent x]\n", f);
    for (int i = 0; i < 64; i++)
        fputc('(', f);
    fputs("hello", f);
    for (int i = 0; i < 64; i++)
        fputc(')', f);
    fputc('\n', f);
    fclose(f);
    diags d = {0};
    assert_int_equal(earshot_grammar_check(dir, NULL, collect, &d), 0);
    earshot_intents *g = NULL;
    assert_int_equal(earshot_intents_open(&g, dir), EARSHOT_OK);
    earshot_analysis a;
    assert_string_equal(analyze(g, "hello", &a), "x");
    earshot_intents_close(g);
}

static void write_chain(long n)
{
    clear_folder();
    FILE *f = open_file("chain.grammar");
    fputs("[intent x]\n<r0>\n[rules]\n", f);
    for (long i = 0; i + 1 < n; i++)
        fprintf(f, "<r%ld> = <r%ld>\n", i, i + 1);
    fprintf(f, "<r%ld> = hello\n", n - 1);
    fclose(f);
}

/* A chain of 4,000 rules overflowed the stack in the cycle check and in
 * the expansion; 100,000 took more than 300 s (a linear rule lookup per
 * reference). Now one error, at once. */
static void test_rule_chain_bound(void **state)
{
    long sizes[] = {4000, 100000};
    for (int k = 0; k < 2; k++) {
        write_chain(sizes[k]);
        diags d = {0};
        time_t t0 = time(NULL);
        assert_true(earshot_grammar_check(dir, NULL, collect, &d) >= 1);
        assert_true(time(NULL) - t0 < 20);
        assert_int_equal(d.n, 1);
        assert_non_null(strstr(d.text, "chain.grammar:"));
        assert_non_null(strstr(d.text, ": nested too deeply"));
        earshot_intents *g = NULL;
        assert_int_equal(earshot_intents_open(&g, dir), EARSHOT_GRAMMAR);
        earshot_intents_close(g);
    }
    /* A chain of 50 rules is fine, and matches. */
    write_chain(50);
    diags d = {0};
    assert_int_equal(earshot_grammar_check(dir, NULL, collect, &d), 0);
    earshot_intents *g = NULL;
    assert_int_equal(earshot_intents_open(&g, dir), EARSHOT_OK);
    earshot_analysis a;
    assert_string_equal(analyze(g, "hello", &a), "x");
    earshot_intents_close(g);
    /* A cycle is still named as one. */
    write_grammar("cycle.grammar", "[intent x]\n<a>\n[rules]\n<a> = <b> hello\n<b> = [<a>] hi\n");
    d = (diags){0};
    assert_true(earshot_grammar_check(dir, NULL, collect, &d) >= 1);
    assert_non_null(strstr(d.text, "refers back to itself"));
}

/* A FIFO named x.grammar hung the reader for ever; only regular files
 * are read. A 41 MB grammar took 906 MB: files are capped. */
static void test_fifo_and_size(void **state)
{
    write_grammar("a.grammar", "[intent x]\nhello\n");
    char path[256];
    snprintf(path, sizeof path, "%s/x.grammar", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    diags d = {0};
    time_t t0 = time(NULL);
    assert_true(earshot_grammar_check(dir, NULL, collect, &d) >= 1);
    assert_true(time(NULL) - t0 < 5);
    assert_int_equal(d.n, 1);
    assert_non_null(strstr(d.text, "x.grammar:0:0: not a regular file"));
    unlink(path);

    FILE *f = open_file("big.grammar");
    fputs("[intent y]\n", f);
    for (int i = 0; i < 5 * 1024 * 1024 / 16; i++)
        fputs("hello there you\n", f);
    fclose(f);
    d = (diags){0};
    assert_true(earshot_grammar_check(dir, NULL, collect, &d) >= 1);
    assert_int_equal(d.n, 1);
    assert_non_null(strstr(d.text, "big.grammar:0:0: too large"));
    earshot_intents *g = NULL;
    assert_int_equal(earshot_intents_open(&g, dir), EARSHOT_GRAMMAR);
    earshot_intents_close(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_construct),
        cmocka_unit_test(test_errors_with_positions),
        cmocka_unit_test(test_dictionary_words),
        cmocka_unit_test(test_expansion_limit_and_empty_folder),
        cmocka_unit_test(test_nesting_bound),
        cmocka_unit_test(test_rule_chain_bound),
        cmocka_unit_test(test_fifo_and_size),
    };
    return cmocka_run_group_tests_name("grammar", tests, setup, teardown);
}
