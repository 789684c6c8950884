/* main.c - the earshot command: a thin client of earshot.h.
 *
 * Everything here goes through the public API, so an embedding app can do
 * the same. Errors are one line on stderr, GNU style, naming the user's
 * file; exit status 0 ok, 1 failure, 2 usage. */
#include "earshot.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const main_usage =
    "usage: earshot COMMAND [OPTIONS] [ARGS]\n"
    "\n"
    "Earshot listens to customers offline: speech in, what they meant out.\n"
    "\n"
    "commands:\n"
    "  transcribe     recognise audio files and print one line per utterance\n"
    "  analyze        find intent, rating, sentiment and topics in text\n"
    "  grammar check  validate a grammar folder\n"
    "\n"
    "options:\n"
    "  -h, --help     this help; 'earshot COMMAND --help' for a command's\n"
    "  -V, --version  print the version\n";

static const char *const transcribe_usage =
    "usage: earshot transcribe [--json] [--model DIR] [--grammar DIR] [--no-analyze]\n"
    "                          [--verbose] FILE...\n"
    "\n"
    "Recognises each audio file offline (WAV, FLAC, OGG, ...; any sample rate\n"
    "and channel count) and prints one line per utterance:\n"
    "  FILE START-END: text [intent confidence score=N sentiment topics]\n"
    "\n"
    "options:\n"
    "  --json        one JSON object per utterance: file, start, end, text,\n"
    "                confidence (0..1), words (word, start, end, confidence),\n"
    "                intent, intent_confidence, slots, sentiment, sentiment_score,\n"
    "                topics\n"
    "  --grammar DIR grammar folder for intents and the domain language model\n"
    "                (default: the installed en-us grammar)\n"
    "  --no-analyze  transcripts only: no intents, generic language model\n"
    "  --model DIR   a PocketSphinx model folder (acoustic model, *.dict, LM);\n"
    "                default " EARSHOT_DEFAULT_MODEL_DIR "\n"
    "  --verbose     show PocketSphinx's own log\n"
    "  -h, --help    this help\n"
    "\n"
    "A file that cannot be read is reported on one line and the others are\n"
    "still transcribed; the exit status is 1 if any file failed.\n";

static void errorf(const char *fmt, ...)
{
    va_list ap;
    fputs("earshot: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static int usage_error(const char *cmd, const char *fmt, const char *arg)
{
    fputs("earshot: ", stderr);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'earshot %s--help'.\n", cmd);
    return 2;
}

/* JSON string with the escapes RFC 8259 requires. */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

/* The analysis fields of the JSON schema (../shared/eval/README.md),
 * each preceded by a comma. */
static void json_analysis(FILE *f, const earshot_analysis *a)
{
    fputs(",\"intent\":", f);
    json_str(f, a->intent);
    fprintf(f, ",\"intent_confidence\":%.3f,\"slots\":{", a->confidence);
    if (a->score >= 0)
        fprintf(f, "\"score\":%d", a->score);
    fputs("},\"sentiment\":", f);
    json_str(f, a->sentiment);
    fprintf(f, ",\"sentiment_score\":%.3f,\"topics\":[", a->sentiment_score);
    for (size_t i = 0; i < a->n_topics; i++) {
        if (i)
            fputc(',', f);
        json_str(f, a->topics[i]);
    }
    fputc(']', f);
}

static void text_analysis(FILE *f, const earshot_analysis *a)
{
    fprintf(f, " [%s %.2f", a->intent, a->confidence);
    if (a->score >= 0)
        fprintf(f, " score=%d", a->score);
    fprintf(f, " %s", a->sentiment);
    for (size_t i = 0; i < a->n_topics; i++)
        fprintf(f, "%s%s", i ? "," : " ", a->topics[i]);
    fputc(']', f);
}

/* ------------------------------------------------------------------ */
/* analyze                                                             */
/* ------------------------------------------------------------------ */

static const char *const analyze_usage =
    "usage: earshot analyze [--json] [--grammar DIR] [TEXT | -]\n"
    "\n"
    "Finds the intent, rating (score 0-10), sentiment and topics of what a\n"
    "customer said. TEXT is one utterance; with '-' or no TEXT, each line of\n"
    "standard input is one utterance.\n"
    "\n"
    "options:\n"
    "  --json          one JSON object per utterance: text, intent, confidence,\n"
    "                  slots, sentiment, sentiment_score, topics\n"
    "  --grammar DIR   grammar folder (default: the installed en-us grammar)\n"
    "  -h, --help      this help\n";

static void print_analysis(const char *text, const earshot_analysis *a, int json)
{
    if (json) {
        fputs("{\"text\":", stdout);
        json_str(stdout, text);
        printf(",\"intent\":");
        json_str(stdout, a->intent);
        printf(",\"confidence\":%.3f,\"slots\":{", a->confidence);
        if (a->score >= 0)
            printf("\"score\":%d", a->score);
        fputs("},\"sentiment\":", stdout);
        json_str(stdout, a->sentiment);
        printf(",\"sentiment_score\":%.3f,\"topics\":[", a->sentiment_score);
        for (size_t i = 0; i < a->n_topics; i++) {
            if (i)
                putchar(',');
            json_str(stdout, a->topics[i]);
        }
        fputs("]}\n", stdout);
    } else {
        printf("%s", text);
        text_analysis(stdout, a);
        putchar('\n');
    }
}

static int cmd_analyze(int argc, char **argv)
{
    int json = 0;
    const char *dir = NULL, *text = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(analyze_usage, stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--grammar")) {
            if (++i >= argc)
                return usage_error("analyze ", "option '%s' needs a folder", a);
            dir = argv[i];
        } else if (a[0] == '-' && a[1]) {
            return usage_error("analyze ", "unknown option '%s'", a);
        } else if (!text) {
            text = a;
        } else {
            return usage_error("analyze ", "%s", "give one TEXT (quote it), or lines on stdin");
        }
    }
    earshot_intents *g = NULL;
    if (earshot_intents_open(&g, dir) != EARSHOT_OK) {
        errorf("%s", earshot_intents_errmsg(g));
        earshot_intents_close(g);
        return 1;
    }
    earshot_analysis an;
    int rc = 0;
    if (text && strcmp(text, "-")) {
        earshot_intents_analyze(g, text, &an);
        print_analysis(text, &an, json);
    } else {
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        while ((len = getline(&line, &cap, stdin)) >= 0) {
            while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                line[--len] = '\0';
            if (earshot_intents_analyze(g, line, &an) != EARSHOT_OK) {
                errorf("out of memory");
                rc = 1;
                break;
            }
            print_analysis(line, &an, json);
        }
        free(line);
    }
    earshot_intents_close(g);
    return rc;
}

/* ------------------------------------------------------------------ */
/* grammar check                                                       */
/* ------------------------------------------------------------------ */

static const char *const grammar_usage =
    "usage: earshot grammar check [--dict FILE | --no-dict] [DIR]\n"
    "\n"
    "Validates a grammar folder (default: the installed en-us grammar) and\n"
    "lists every problem as FILE:LINE:COL: what is wrong, including words\n"
    "the pronunciation dictionary lacks (default dictionary: the en-us\n"
    "model's). Exit status 0 when the folder is clean, 1 otherwise.\n";

static void print_diag(const char *file, int line, int col, const char *msg, void *user)
{
    (void)user;
    if (line > 0)
        errorf("%s:%d:%d: %s", file, line, col, msg);
    else
        errorf("%s: %s", file, msg);
}

static int cmd_grammar(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        fputs(grammar_usage, stdout);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "check"))
        return usage_error("grammar ", "%s", "the only grammar command is 'check'");
    const char *dict = EARSHOT_DEFAULT_MODEL_DIR "/cmudict-en-us.dict", *dir = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(grammar_usage, stdout);
            return 0;
        } else if (!strcmp(a, "--dict")) {
            if (++i >= argc)
                return usage_error("grammar ", "option '%s' needs a file", a);
            dict = argv[i];
        } else if (!strcmp(a, "--no-dict")) {
            dict = NULL;
        } else if (a[0] == '-' && a[1]) {
            return usage_error("grammar ", "unknown option '%s'", a);
        } else {
            dir = a;
        }
    }
    long n = earshot_grammar_check(dir, dict, print_diag, NULL);
    if (n < 0) {
        errorf("%s: cannot read the pronunciation dictionary", dict);
        return 1;
    }
    if (n == 0) {
        earshot_intents *g = NULL;
        int rc = earshot_intents_open(&g, dir);
        if (rc != EARSHOT_OK) {
            errorf("%s", earshot_intents_errmsg(g));
            n = 1;
        }
        earshot_intents_close(g);
    }
    if (n == 0)
        printf("%s: ok\n", dir ? dir : earshot_default_grammar_dir());
    return n ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* transcribe                                                          */
/* ------------------------------------------------------------------ */

typedef struct transcribe_ctx {
    const char *file;
    int json;
    int progress;      /* draw a progress line on stderr */
    int progress_drawn;
    size_t utterances;
} transcribe_ctx;

static void progress_clear(transcribe_ctx *t)
{
    if (t->progress_drawn) {
        fputs("\r\033[K", stderr);
        t->progress_drawn = 0;
    }
}

static int print_utterance(const earshot_utterance *u, void *user)
{
    transcribe_ctx *t = user;
    progress_clear(t);
    t->utterances++;
    if (!t->json) {
        printf("%s %.2f-%.2f: %s", t->file, u->start, u->end, u->text);
        if (u->analysis)
            text_analysis(stdout, u->analysis);
        putchar('\n');
    } else {
        fputs("{\"file\":", stdout);
        json_str(stdout, t->file);
        printf(",\"start\":%.2f,\"end\":%.2f,\"text\":", u->start, u->end);
        json_str(stdout, u->text);
        printf(",\"confidence\":%.3f,\"words\":[", u->confidence);
        for (size_t i = 0; i < u->n_words; i++) {
            const earshot_word *w = &u->words[i];
            fputs(i ? ",{\"word\":" : "{\"word\":", stdout);
            json_str(stdout, w->word);
            printf(",\"start\":%.2f,\"end\":%.2f,\"confidence\":%.3f}", w->start, w->end,
                   w->confidence);
        }
        fputc(']', stdout);
        if (u->analysis)
            json_analysis(stdout, u->analysis);
        fputs("}\n", stdout);
    }
    fflush(stdout);
    return 0;
}

/* Transcribes one file; returns 0 if it came out whole, 1 if not (after
 * printing why). */
static int transcribe_file(earshot *e, transcribe_ctx *t, size_t index, size_t total)
{
    earshot_audio *a = NULL;
    int rc = earshot_audio_open_file(&a, t->file);
    if (rc != EARSHOT_OK) {
        errorf("%s: %s", t->file, earshot_audio_errmsg(a));
        earshot_audio_close(a);
        return 1;
    }
    const earshot_audio_info *info = earshot_audio_get_info(a);
    /* Progress only helps a person watching a long job. */
    t->progress = isatty(STDERR_FILENO) && (info->seconds > 30.0 || total > 3);
    t->utterances = 0;
    int failed = 0;
    int16_t buf[4096];
    long n;
    unsigned long chunks = 0;
    while ((n = earshot_audio_read(a, buf, sizeof buf / sizeof *buf)) > 0) {
        rc = earshot_feed(e, buf, (size_t)n);
        if (rc != EARSHOT_OK) {
            errorf("%s: %s", t->file, earshot_errmsg(e));
            failed = 1;
            break;
        }
        if (t->progress && ++chunks % 16 == 0) {
            double done = earshot_stream_seconds(e);
            fprintf(stderr, "\r\033[K[%zu/%zu] %s %3.0f%%", index + 1, total, t->file,
                    info->seconds > 0 ? 100.0 * done / info->seconds : 0.0);
            t->progress_drawn = 1;
        }
    }
    if (n < 0) {
        progress_clear(t);
        errorf("%s: %s (transcribed up to %.2f s)", t->file, earshot_audio_errmsg(a),
               earshot_stream_seconds(e));
        failed = 1;
    }
    double heard = earshot_stream_seconds(e);
    /* Flush even after an error: what was heard before it is not lost. */
    if (earshot_flush(e) != EARSHOT_OK && !failed) {
        errorf("%s: %s", t->file, earshot_errmsg(e));
        failed = 1;
    }
    progress_clear(t);
    if (!failed && earshot_audio_truncated(a)) {
        errorf("%s: truncated: the header declares %.2f s but the file holds %.2f s "
               "(transcribed what is there)",
               t->file, info->seconds, heard);
        failed = 1;
    } else if (!failed && heard < 0.1) {
        errorf("%s: only %.3f s of audio, too short to hold speech", t->file, heard);
        failed = 1;
    }
    earshot_audio_close(a);
    return failed;
}

static int cmd_transcribe(int argc, char **argv)
{
    transcribe_ctx t = {0};
    earshot_config cfg = earshot_config_default();
    int first_file = argc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            first_file = i + 1;
            break;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(transcribe_usage, stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            t.json = 1;
        } else if (!strcmp(a, "--verbose")) {
            cfg.verbose = 1;
        } else if (!strcmp(a, "--no-analyze")) {
            cfg.analyze = 0;
        } else if (!strcmp(a, "--grammar")) {
            if (i + 1 >= argc)
                return usage_error("transcribe ", "option '%s' needs a folder", a);
            cfg.grammar_dir = argv[++i];
        } else if (!strcmp(a, "--model") || !strncmp(a, "--model=", 8)) {
            if (a[7] == '=') {
                cfg.model_dir = a + 8;
            } else if (i + 1 < argc) {
                cfg.model_dir = argv[++i];
            } else {
                return usage_error("transcribe ", "option '%s' needs a folder", a);
            }
        } else if (a[0] == '-' && a[1]) {
            return usage_error("transcribe ", "unknown option '%s'", a);
        } else {
            first_file = i;
            break;
        }
    }
    if (first_file >= argc)
        return usage_error("transcribe ", "%s", "no audio file given");

    earshot *e = NULL;
    cfg.on_utterance = print_utterance;
    cfg.utterance_user = &t;
    if (earshot_open(&e, &cfg) != EARSHOT_OK) {
        errorf("%s", earshot_errmsg(e));
        earshot_close(e);
        return 1;
    }
    size_t total = (size_t)(argc - first_file), failed = 0;
    for (int i = first_file; i < argc; i++) {
        t.file = argv[i];
        failed += (size_t)transcribe_file(e, &t, (size_t)(i - first_file), total);
    }
    earshot_close(e);
    if (failed && total > 1)
        errorf("%zu of %zu files failed", failed, total);
    return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(main_usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        fputs(main_usage, stdout);
        return 0;
    }
    if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
        printf("earshot %s\n", earshot_version());
        return 0;
    }
    if (!strcmp(cmd, "transcribe"))
        return cmd_transcribe(argc - 1, argv + 1);
    if (!strcmp(cmd, "analyze") || !strcmp(cmd, "analyse"))
        return cmd_analyze(argc - 1, argv + 1);
    if (!strcmp(cmd, "grammar"))
        return cmd_grammar(argc - 1, argv + 1);
    return usage_error("", "unknown command '%s'", cmd);
}
