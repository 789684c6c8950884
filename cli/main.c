/* main.c - the earshot command: a thin client of earshot.h.
 *
 * Everything here goes through the public API, so an embedding app can do
 * the same. Errors are one line on stderr, GNU style, naming the user's
 * file; exit status 0 ok, 1 failure, 2 usage. */
#include "commands.h"
#include "earshot.h"

#include <errno.h>
#include <signal.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/wait.h>
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
    "  listen         listen to a microphone, with a consent dialogue\n"
    "  devices        list capture devices\n"
    "  sessions       list the sessions stored in a database\n"
    "  forget         erase sessions from a database, physically\n"
    "  export         write what a database holds on one session, as JSON\n"
    "  report         anonymised insight report (HTML, JSON, CSV, Markdown);\n"
    "                 'report merge' adds up a fleet's JSON reports\n"
    "  adapt          adapt the acoustic model to a microphone, room or line\n"
    "  serve          a Wyoming speech-to-text and intent service (Home Assistant)\n"
    "\n"
    "options:\n"
    "  -h, --help     this help; 'earshot COMMAND --help' for a command's\n"
    "  -V, --version  print the version\n";

static const char *const transcribe_usage =
    "usage: earshot transcribe [--json] [--model DIR] [--grammar DIR] [--no-analyze]\n"
    "                          [--model-vocab full|N]\n"
    "                          [--frontend off|on|agc] [--partial] [--decoder OPTS]\n"
    "                          [--mllr FILE]\n"
    "                          [--pronunciations FILE]\n"
    "                          [--db PATH [--consent ask|granted] [--channel NAME]\n"
    "                          [--retain-days N] [--show-unredacted]] [--verbose] FILE...\n"
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
    "  --model-vocab full|N  with a grammar, cut the generic language model to\n"
    "                its N most probable words plus the grammar's (cached);\n"
    "                full: the whole model; default 40000\n"
    "  --frontend M  audio front end: off, on (noise suppression) or agc (noise\n"
    "                suppression + automatic gain); default off (README)\n"
    "  --partial     also print the words heard so far while an utterance goes\n"
    "                on, redacted: FILE partial START AT: text (JSON: \"partial\")\n"
    "  --decoder OPTS extra PocketSphinx options, e.g. \"-maxhmmpf 5000\" (bench)\n"
    "  --mllr FILE   an acoustic-model transform made by 'earshot adapt' (a\n"
    "                microphone, room or phone line)\n"
    "  --pronunciations FILE  extra pronunciations (\"word PHONES...\" lines);\n"
    "                default the grammar folder's pronunciations.dict; '' none\n"
    "  --verbose     show PocketSphinx's own log\n"
    "  --db PATH     store what consenting customers said in this SQLite file\n"
    "                (created mode 0600); each file is one session. Text is\n"
    "                redacted before it is written, and stdout and --json show the\n"
    "                redacted text too (\"redacted\":true, no raw \"words\").\n"
    "                Without --db nothing is stored and the raw text is shown.\n"
    "  --show-unredacted  with --db, show the raw text anyway (your own files)\n"
    "  --consent ask      (default) each file is a live session: nothing is kept\n"
    "                until a spoken consent answer (\"yes, you can record me\");\n"
    "                \"no\" keeps nothing, \"forget me\" erases the session\n"
    "  --consent granted  consent was obtained elsewhere (e.g. a recorded call's\n"
    "                opening); recorded with method granted-elsewhere\n"
    "  --channel NAME the kiosk, app or line the audio came from (default: cli)\n"
    "  --retain-days N erase stored utterances older than N days first\n"
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

/* --frontend's value as an EARSHOT_FRONTEND_* mode; -1 if unknown. */
static int parse_frontend(const char *v)
{
    return !strcmp(v, "off")   ? EARSHOT_FRONTEND_OFF
           : !strcmp(v, "on")  ? EARSHOT_FRONTEND_DENOISE
           : !strcmp(v, "agc") ? EARSHOT_FRONTEND_DENOISE_AGC
                               : -1;
}

static int usage_error(const char *cmd, const char *fmt, const char *arg)
{
    fputs("earshot: ", stderr);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'earshot %s--help'.\n", cmd);
    return 2;
}

/* --model-vocab full|N: 0 for full, N > 0, or -1 when v is neither. */
static int parse_model_vocab(const char *v)
{
    if (!strcmp(v, "full"))
        return EARSHOT_MODEL_VOCAB_FULL;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    return errno || end == v || *end || n < 1 || n > 10000000 ? -1 : (int)n;
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
/* A JSON array of strings. */
static void json_names(FILE *f, const char *const *names, size_t n)
{
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputc(',', f);
        json_str(f, names[i]);
    }
    fputc(']', f);
}

static void json_analysis(FILE *f, const earshot_analysis *a)
{
    fputs(",\"intent\":", f);
    json_str(f, a->intent);
    fprintf(f, ",\"intent_confidence\":%.3f,\"slots\":{", a->confidence);
    if (a->score >= 0)
        fprintf(f, "\"score\":%d", a->score);
    fputs("},\"sentiment\":", f);
    json_str(f, a->sentiment);
    fprintf(f, ",\"sentiment_score\":%.3f,\"topics\":", a->sentiment_score);
    json_names(f, a->topics, a->n_topics);
    fputs(",\"signals\":", f);
    json_names(f, a->signals, a->n_signals);
}

static void text_analysis(FILE *f, const earshot_analysis *a)
{
    fprintf(f, " [%s %.2f", a->intent, a->confidence);
    if (a->score >= 0)
        fprintf(f, " score=%d", a->score);
    fprintf(f, " %s", a->sentiment);
    for (size_t i = 0; i < a->n_topics; i++)
        fprintf(f, "%s%s", i ? "," : " ", a->topics[i]);
    for (size_t i = 0; i < a->n_signals; i++)
        fprintf(f, " !%s", a->signals[i]);
    fputc(']', f);
}

/* ------------------------------------------------------------------ */
/* analyze                                                             */
/* ------------------------------------------------------------------ */

static const char *const analyze_usage =
    "usage: earshot analyze [--json] [--grammar DIR] [--question Q] [TEXT | -]\n"
    "\n"
    "Finds the intent, rating (score 0-10), sentiment and topics of what a\n"
    "customer said. TEXT is one utterance; with '-' or no TEXT, each line of\n"
    "standard input is one utterance.\n"
    "\n"
    "options:\n"
    "  --json          one JSON object per utterance: text, intent, confidence,\n"
    "                  slots, sentiment, sentiment_score, topics, signals\n"
    "  --grammar DIR   grammar folder (default: the installed en-us grammar)\n"
    "  --question Q    read the text as the answer to a question just asked:\n"
    "                  consent, rating, anything_else or confirm_forget\n"
    "                  (\"fine by me\" is consent_yes after consent; \"seven\" is\n"
    "                  nps 7 after rating); JSON then adds question and answer\n"
    "  -h, --help      this help\n";

static const char *const question_names[] = {
    [EARSHOT_ASK_NONE] = "none",
    [EARSHOT_ASK_CONSENT] = "consent",
    [EARSHOT_ASK_RATING] = "rating",
    [EARSHOT_ASK_ANYTHING_ELSE] = "anything_else",
    [EARSHOT_ASK_CONFIRM_FORGET] = "confirm_forget",
};
static const char *const answer_names[] = {
    [EARSHOT_ANSWER_NONE] = "none", [EARSHOT_ANSWER_YES] = "yes", [EARSHOT_ANSWER_NO] = "no"};

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
        printf(",\"sentiment_score\":%.3f,\"topics\":", a->sentiment_score);
        json_names(stdout, a->topics, a->n_topics);
        fputs(",\"signals\":", stdout);
        json_names(stdout, a->signals, a->n_signals);
        if (a->question != EARSHOT_ASK_NONE)
            printf(",\"question\":\"%s\",\"answer\":\"%s\"", question_names[a->question],
                   answer_names[a->answer]);
        fputs("}\n", stdout);
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
    earshot_question question = EARSHOT_ASK_NONE;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(analyze_usage, stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--question")) {
            if (++i >= argc)
                return usage_error("analyze ", "option '%s' needs a question", a);
            size_t q = 1;
            while (q < sizeof question_names / sizeof *question_names &&
                   strcmp(argv[i], question_names[q]))
                q++;
            if (q == sizeof question_names / sizeof *question_names)
                return usage_error("analyze ", "--question is consent, rating, anything_else "
                                               "or confirm_forget, not '%s'", argv[i]);
            question = (earshot_question)q;
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
    earshot_intents_set_question(g, question);
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
    earshot_store *store; /* NULL: nothing is stored */
    int64_t session;
    int last_store_rc;    /* to print a storage problem once, not per utterance */
    int store_failed;
    int progress;      /* draw a progress line on stderr */
    int progress_drawn;
    size_t utterances;
    int show_unredacted; /* --show-unredacted: raw text even with --db */
} transcribe_ctx;

static void progress_clear(transcribe_ctx *t)
{
    if (t->progress_drawn) {
        fputs("\r\033[K", stderr);
        t->progress_drawn = 0;
    }
}

static const char *const heard_names[] = {
    [EARSHOT_HEARD_DROPPED] = "not kept",     [EARSHOT_HEARD_STORED] = "stored",
    [EARSHOT_HEARD_QUEUED] = "queued",        [EARSHOT_HEARD_CONSENTED] = "consent given",
    [EARSHOT_HEARD_DECLINED] = "consent refused", [EARSHOT_HEARD_FORGOTTEN] = "session erased",
    [EARSHOT_HEARD_REVIEW] = "not sure enough to erase: marked for review",
};

/* The same outcomes as the "storage" field of JSON output. */
static const char *const heard_json[] = {
    [EARSHOT_HEARD_DROPPED] = "dropped",     [EARSHOT_HEARD_STORED] = "stored",
    [EARSHOT_HEARD_QUEUED] = "queued",       [EARSHOT_HEARD_CONSENTED] = "consented",
    [EARSHOT_HEARD_DECLINED] = "declined",   [EARSHOT_HEARD_FORGOTTEN] = "forgotten",
    [EARSHOT_HEARD_REVIEW] = "review",
};

/* What an output shows of an utterance: the redacted text whenever it is
 * stored (or listened to), so that stdout, --json and a journal never hold
 * what the database does not. Without rules to redact by, nothing. */
static const char *shown_text(const earshot_utterance *u, int redacted)
{
    if (!redacted)
        return u->text;
    return u->text_redacted ? u->text_redacted : "[NOT SHOWN]";
}

/* --partial: the words so far, already redacted by the library. */
static int print_partial(const earshot_partial *p, void *user)
{
    transcribe_ctx *t = user;
    progress_clear(t);
    if (t->json) {
        fputs("{\"file\":", stdout);
        json_str(stdout, t->file);
        printf(",\"partial\":true,\"start\":%.2f,\"at\":%.2f,\"text\":", p->start, p->at);
        json_str(stdout, p->text);
        puts("}");
    } else {
        printf("%s partial %.2f %.2f: %s\n", t->file, p->start, p->at, p->text);
    }
    return 0;
}

static int print_utterance(const earshot_utterance *u, void *user)
{
    transcribe_ctx *t = user;
    int redacted = t->store && !t->show_unredacted;
    progress_clear(t);
    t->utterances++;
    earshot_heard what = EARSHOT_HEARD_DROPPED;
    if (t->store) {
        int rc = earshot_store_utterance(t->store, t->session, u, NULL, 0, &what);
        if (rc != EARSHOT_OK && rc != t->last_store_rc)
            errorf("%s", earshot_store_errmsg(t->store));
        if (rc != EARSHOT_OK && rc != EARSHOT_QUEUED)
            t->store_failed = 1;
        t->last_store_rc = rc;
    }
    if (!t->json) {
        printf("%s %.2f-%.2f: %s", t->file, u->start, u->end, shown_text(u, redacted));
        if (u->analysis)
            text_analysis(stdout, u->analysis);
        if (u->quality != EARSHOT_QUALITY_OK)
            printf(" {%s}", earshot_quality_name(u->quality));
        if (t->store)
            printf(" (%s)", heard_names[what]);
        putchar('\n');
    } else {
        fputs("{\"file\":", stdout);
        json_str(stdout, t->file);
        printf(",\"start\":%.2f,\"end\":%.2f,\"text\":", u->start, u->end);
        json_str(stdout, shown_text(u, redacted));
        printf(",\"redacted\":%s", redacted ? "true" : "false");
        printf(",\"confidence\":%.3f,\"quality\":\"%s\",\"level_dbfs\":%.1f,\"snr_db\":%.1f,\"band_db\":%.1f",
               u->confidence, earshot_quality_name(u->quality), u->level_dbfs, u->snr_db,
               u->band_db);
        /* The words are raw: redacted output has none. */
        fputs(",\"words\":[", stdout);
        for (size_t i = 0; !redacted && i < u->n_words; i++) {
            const earshot_word *w = &u->words[i];
            fputs(i ? ",{\"word\":" : "{\"word\":", stdout);
            json_str(stdout, w->word);
            printf(",\"start\":%.2f,\"end\":%.2f,\"confidence\":%.3f}", w->start, w->end,
                   w->confidence);
        }
        fputc(']', stdout);
        if (u->analysis)
            json_analysis(stdout, u->analysis);
        if (t->store) {
            printf(",\"session\":%" PRId64 ",\"storage\":\"%s\"", t->session, heard_json[what]);
        }
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
    if (!failed && earshot_audio_truncated(a) && info->seconds <= 0) {
        /* No length declared (an OGG cut before its last page): the
         * library's message says what is known. */
        errorf("%s: %s (transcribed what is there)", t->file, earshot_audio_errmsg(a));
        failed = 1;
    } else if (!failed && earshot_audio_truncated(a)) {
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

/* A positive integer option value, or -1. */
static long long parse_count(const char *v)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    return errno || end == v || *end || n <= 0 ? -1 : n;
}

static void log_to_stderr(int level, const char *msg, void *user)
{
    (void)user;
    if (level <= EARSHOT_LOG_WARN)
        errorf("%s", msg);
}

/* Each file is one session; with --consent granted, consent obtained
 * elsewhere is recorded as such before anything is heard. */
static int begin_session(transcribe_ctx *t, const char *channel, const char *consent)
{
    t->last_store_rc = EARSHOT_OK;
    int rc = earshot_session_begin(t->store, channel, &t->session);
    if (rc == EARSHOT_OK && !strcmp(consent, "granted"))
        rc = earshot_consent_grant(t->store, t->session, EARSHOT_SCOPE_TRANSCRIPTS,
                                   EARSHOT_BY_ELSEWHERE, NULL);
    if (rc != EARSHOT_OK) {
        errorf("%s: %s", t->file, earshot_store_errmsg(t->store));
        return 1;
    }
    return 0;
}

static int cmd_transcribe(int argc, char **argv)
{
    transcribe_ctx t = {0};
    earshot_config cfg = earshot_config_default();
    earshot_store_config scfg = earshot_store_config_default();
    const char *db = NULL, *consent = "ask", *channel = "cli";
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
        } else if (!strcmp(a, "--show-unredacted")) {
            t.show_unredacted = 1;
        } else if (!strcmp(a, "--verbose")) {
            cfg.verbose = 1;
        } else if (!strcmp(a, "--no-analyze")) {
            cfg.analyze = 0;
        } else if (!strcmp(a, "--partial")) {
            cfg.on_partial = print_partial;
            cfg.partial_user = &t;
        } else if (!strcmp(a, "--decoder")) {
            if (i + 1 >= argc)
                return usage_error("transcribe ", "option '%s' needs PocketSphinx options", a);
            cfg.decoder_options = argv[++i];
        } else if (!strcmp(a, "--frontend")) {
            if (i + 1 >= argc || (cfg.frontend = parse_frontend(argv[i + 1])) < 0)
                return usage_error("transcribe ", "--frontend is off, on or agc%s", "");
            i++;
        } else if (!strcmp(a, "--db") || !strcmp(a, "--consent") || !strcmp(a, "--channel") ||
                   !strcmp(a, "--retain-days")) {
            if (i + 1 >= argc)
                return usage_error("transcribe ", "option '%s' needs a value", a);
            const char *v = argv[++i];
            if (a[2] == 'd')
                db = v;
            else if (a[2] == 'c' && a[3] == 'o')
                consent = v;
            else if (a[2] == 'c')
                channel = v;
            else if ((scfg.retain_days = (int)parse_count(v)) <= 0 || parse_count(v) > 36500)
                return usage_error("transcribe ", "--retain-days needs a number of days, not '%s'", v);
        } else if (!strcmp(a, "--grammar")) {
            if (i + 1 >= argc)
                return usage_error("transcribe ", "option '%s' needs a folder", a);
            cfg.grammar_dir = argv[++i];
        } else if (!strcmp(a, "--mllr") || !strcmp(a, "--pronunciations")) {
            if (i + 1 >= argc)
                return usage_error("transcribe ", "option '%s' needs a file", a);
            if (a[2] == 'm')
                cfg.mllr = argv[++i];
            else
                cfg.pronunciations = argv[++i];
        } else if (!strcmp(a, "--model-vocab")) {
            if (i + 1 >= argc)
                return usage_error("transcribe ", "option '%s' needs full or a number", a);
            cfg.model_vocab = parse_model_vocab(argv[++i]);
            if (cfg.model_vocab < 0)
                return usage_error("transcribe ", "--model-vocab is 'full' or a number of words, not '%s'",
                                   argv[i]);
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
    if (strcmp(consent, "ask") && strcmp(consent, "granted"))
        return usage_error("transcribe ", "--consent is 'ask' or 'granted', not '%s'", consent);
    if (!db && scfg.retain_days > 0)
        return usage_error("transcribe ", "%s", "--retain-days needs --db");
    if (db && !cfg.analyze && !strcmp(consent, "ask"))
        return usage_error("transcribe ", "%s",
                           "--consent ask needs analysis to hear the answer; drop --no-analyze");
    if (db) {
        scfg.path = db;
        scfg.grammar_dir = cfg.grammar_dir;
        scfg.on_log = log_to_stderr;
        if (earshot_store_open(&t.store, &scfg) != EARSHOT_OK) {
            errorf("%s", earshot_store_errmsg(t.store));
            earshot_store_close(t.store);
            return 1;
        }
    }

    earshot *e = NULL;
    cfg.on_utterance = print_utterance;
    cfg.utterance_user = &t;
    if (earshot_open(&e, &cfg) != EARSHOT_OK) {
        errorf("%s", earshot_errmsg(e));
        earshot_close(e);
        earshot_store_close(t.store);
        return 1;
    }
    size_t total = (size_t)(argc - first_file), failed = 0;
    for (int i = first_file; i < argc; i++) {
        t.file = argv[i];
        if (t.store && begin_session(&t, channel, consent) != 0) {
            failed++;
            continue;
        }
        failed += (size_t)transcribe_file(e, &t, (size_t)(i - first_file), total);
        if (t.store)
            earshot_session_end(t.store, t.session);
    }
    earshot_close(e);
    if (t.store) {
        if (earshot_store_queued(t.store) > 0 && earshot_store_retry(t.store) != EARSHOT_OK) {
            errorf("%s", earshot_store_errmsg(t.store));
            t.store_failed = 1;
        }
        earshot_store_close(t.store);
        if (t.store_failed)
            failed += !failed;
    }
    if (failed && total > 1)
        errorf("%zu of %zu files failed", failed, total);
    return failed ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* sessions, forget, export                                            */
/* ------------------------------------------------------------------ */

static const char *const sessions_usage =
    "usage: earshot sessions [--db PATH] [--json]\n"
    "\n"
    "Lists the sessions in a database (default earshot.db): id, channel, start,\n"
    "end, stored utterances and whether consent is active.\n";

static const char *const forget_usage =
    "usage: earshot forget [--db PATH] (--session ID | --channel NAME |\n"
    "                       --before YYYY-MM-DD | --all)\n"
    "\n"
    "Erases sessions with their consents, utterances and audio. Erasure is\n"
    "physical: the bytes are overwritten in the database file and its\n"
    "write-ahead log is emptied. An audit row keeps the counts, no content.\n"
    "--before erases utterances heard before that day (UTC).\n";

static const char *const export_usage =
    "usage: earshot export [--db PATH] --session ID [--out FILE]\n"
    "\n"
    "Writes everything the database holds on one session (a customer's\n"
    "access request) as one JSON object: the session, its consents and its\n"
    "redacted utterances.\n";

/* Options the storage commands share; returns 0, or the exit status. */
typedef struct store_opts {
    const char *db, *grammar, *channel, *before, *out;
    int64_t session;
    int all, json;
} store_opts;

static int parse_store_opts(int argc, char **argv, const char *cmd, const char *usage,
                            store_opts *o)
{
    char c[32];
    snprintf(c, sizeof c, "%s ", cmd);
    o->db = "earshot.db";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return -1;
        } else if (!strcmp(a, "--all") && strcmp(cmd, "forget") == 0) {
            o->all = 1;
        } else if (!strcmp(a, "--json") && strcmp(cmd, "sessions") == 0) {
            o->json = 1;
        } else if (!strcmp(a, "--db") || !strcmp(a, "--grammar") ||
                   (!strcmp(a, "--session") && strcmp(cmd, "sessions")) ||
                   (!strcmp(a, "--out") && !strcmp(cmd, "export")) ||
                   ((!strcmp(a, "--channel") || !strcmp(a, "--before")) && !strcmp(cmd, "forget"))) {
            if (i + 1 >= argc)
                return usage_error(c, "option '%s' needs a value", a);
            const char *v = argv[++i];
            if (!strcmp(a, "--db"))
                o->db = v;
            else if (!strcmp(a, "--grammar"))
                o->grammar = v;
            else if (!strcmp(a, "--channel"))
                o->channel = v;
            else if (!strcmp(a, "--before"))
                o->before = v;
            else if (!strcmp(a, "--out"))
                o->out = v;
            else if ((o->session = parse_count(v)) <= 0)
                return usage_error(c, "--session needs a session id, not '%s'", v);
        } else {
            return usage_error(c, "unexpected argument '%s'", a);
        }
    }
    return 0;
}

static earshot_store *open_store(const store_opts *o)
{
    earshot_store_config cfg = earshot_store_config_default();
    cfg.path = o->db;
    cfg.grammar_dir = o->grammar;
    cfg.on_log = log_to_stderr;
    /* Reading or erasing never creates a database by accident, nor turns
     * an empty or foreign file into one. */
    cfg.create = 0;
    if (access(o->db, F_OK) != 0) {
        errorf("%s: %s", o->db, strerror(errno));
        return NULL;
    }
    earshot_store *s = NULL;
    if (earshot_store_open(&s, &cfg) != EARSHOT_OK) {
        errorf("%s", earshot_store_errmsg(s));
        earshot_store_close(s);
        return NULL;
    }
    return s;
}

static int print_session(const earshot_session_info *i, void *user)
{
    int json = *(int *)user;
    if (json) {
        printf("{\"id\":%" PRId64 ",\"channel\":", i->id);
        json_str(stdout, i->channel);
        fputs(",\"started_at\":", stdout);
        json_str(stdout, i->started_at);
        fputs(",\"ended_at\":", stdout);
        if (i->ended_at)
            json_str(stdout, i->ended_at);
        else
            fputs("null", stdout);
        printf(",\"utterances\":%" PRId64 ",\"consented\":%s}\n", i->utterances,
               i->consented ? "true" : "false");
    } else {
        printf("%6" PRId64 "  %-12s  %-20s  %-20s  %6" PRId64 "  %s\n", i->id, i->channel,
               i->started_at, i->ended_at ? i->ended_at : "-", i->utterances,
               i->consented ? "yes" : "no");
    }
    return 0;
}

static int cmd_sessions(int argc, char **argv)
{
    store_opts o = {0};
    int r = parse_store_opts(argc, argv, "sessions", sessions_usage, &o);
    if (r)
        return r < 0 ? 0 : r;
    earshot_store *s = open_store(&o);
    if (!s)
        return 1;
    if (!o.json)
        printf("%6s  %-12s  %-20s  %-20s  %6s  %s\n", "id", "channel", "started", "ended",
               "utts", "consent");
    int rc = earshot_sessions(s, print_session, &o.json);
    if (rc != EARSHOT_OK)
        errorf("%s", earshot_store_errmsg(s));
    earshot_store_close(s);
    return rc == EARSHOT_OK ? 0 : 1;
}

static int cmd_forget(int argc, char **argv)
{
    store_opts o = {0};
    int r = parse_store_opts(argc, argv, "forget", forget_usage, &o);
    if (r)
        return r < 0 ? 0 : r;
    if ((o.session > 0) + !!o.channel + !!o.before + o.all != 1)
        return usage_error("forget ", "%s",
                           "give exactly one of --session, --channel, --before, --all");
    earshot_store *s = open_store(&o);
    if (!s)
        return 1;
    earshot_forget_what w = {.session = o.session, .channel = o.channel, .before = o.before,
                             .all = o.all};
    int64_t ns = 0, nu = 0;
    int rc = earshot_forget(s, &w, &ns, &nu);
    if (rc == EARSHOT_OK)
        printf("erased %" PRId64 " session%s and %" PRId64 " utterance%s\n", ns,
               ns == 1 ? "" : "s", nu, nu == 1 ? "" : "s");
    else
        errorf("%s", earshot_store_errmsg(s));
    earshot_store_close(s);
    return rc == EARSHOT_OK ? 0 : 1;
}

static int cmd_export(int argc, char **argv)
{
    store_opts o = {0};
    int r = parse_store_opts(argc, argv, "export", export_usage, &o);
    if (r)
        return r < 0 ? 0 : r;
    if (o.session <= 0)
        return usage_error("export ", "%s", "--session ID is required");
    earshot_store *s = open_store(&o);
    if (!s)
        return 1;
    char *json = NULL;
    int rc = earshot_export_session(s, o.session, &json);
    if (rc != EARSHOT_OK) {
        errorf("%s", earshot_store_errmsg(s));
    } else {
        FILE *f = o.out ? fopen(o.out, "w") : stdout;
        if (!f || fprintf(f, "%s\n", json) < 0 || (o.out && fclose(f) != 0)) {
            errorf("%s: %s", o.out ? o.out : "stdout", strerror(errno));
            rc = EARSHOT_IO;
        }
    }
    earshot_free(json);
    earshot_store_close(s);
    return rc == EARSHOT_OK ? 0 : 1;
}

/* ------------------------------------------------------------------ */
/* report                                                               */
/* ------------------------------------------------------------------ */

static const char *const report_usage =
    "usage: earshot report [--db PATH] [--since DATE] [--until DATE] [--channel NAME]\n"
    "                      [--min-group K] [--time day|week|month] [--utc]\n"
    "                      [--format html|json|csv|md] [--out FILE]\n"
    "                      [--privacy suppress|dp --epsilon E [--budget B]]\n"
    "                      [--alerts] [--alert KIND[:SUBJECT[:DELTA]]]...\n"
    "       earshot report merge A.json B.json ... [--min-group K]\n"
    "                      [--format html|json|csv|md] [--out FILE]\n"
    "\n"
    "Turns what consenting customers said into an anonymised report for\n"
    "managers: overview, what customers want (and its trend), friction\n"
    "hotspots and effort signals, loyalty (ratings, NPS, cancellations),\n"
    "ideas, knowledge gaps, channels side by side, and unmatched phrases.\n"
    "No session ids, no time finer than a day, only redacted text, quotes\n"
    "only with the quotes consent; every figure from fewer than K sessions\n"
    "is shown as \"<K\". 'merge' adds up the JSON reports of several kiosks\n"
    "and applies K again (build them with --min-group 1 for exact totals).\n"
    "\n"
    "options:\n"
    "  --db PATH         database (default earshot.db); read only\n"
    "  --since DATE      first day, YYYY-MM-DD (default: the first stored)\n"
    "  --until DATE      last day, YYYY-MM-DD, inclusive (default: the last)\n"
    "  --channel NAME    one channel (kiosk) only\n"
    "  --min-group K     suppress groups of fewer than K sessions (default 5)\n"
    "  --time UNIT       the finest time shown and the trend's step (default day)\n"
    "  --utc             days in UTC (default: local time)\n"
    "  --format FMT      html, json, csv or md (default: from --out's extension,\n"
    "                    else md)\n"
    "  --out FILE        where to write (default: standard output); for csv, a\n"
    "                    folder (ending in /) gets one file per section\n"
    "  --privacy MODE    suppress (default: cell suppression under --min-group) or\n"
    "                    dp: differential privacy per session, noisy counts of\n"
    "                    distinct sessions, every category listed (zeros too), no\n"
    "                    phrases, quotes or channels; needs --since, --until and\n"
    "                    --epsilon, never --min-group; writes the database's\n"
    "                    privacy-budget ledger\n"
    "  --epsilon E       dp: this report's privacy loss, 0 < E <= 10\n"
    "  --budget B        dp: epsilon each calendar month may spend over all\n"
    "                    reports (default 2); a report beyond it is refused\n"
    "  --alerts          for cron or monitoring: print the findings (\"what to act\n"
    "                    on\") that cross a threshold, one per line, and exit 3\n"
    "                    when there is one (0 when none); the report itself is\n"
    "                    written only with --out. Alone: any shown finding.\n"
    "  --alert SPEC      a threshold (repeatable; implies --alerts): KIND is\n"
    "                    complaints, driver, channel, theme or effort; SUBJECT a\n"
    "                    topic, channel, word or signal, or *; DELTA signed\n"
    "                    points, e.g. complaints:wait_time:+20 (complaints about\n"
    "                    wait time up 20 points or more)\n";

static int report_format(const char *v, earshot_report_format *f)
{
    static const struct {
        const char *name;
        earshot_report_format f;
    } formats[] = {{"html", EARSHOT_REPORT_HTML}, {"htm", EARSHOT_REPORT_HTML},
                   {"json", EARSHOT_REPORT_JSON}, {"csv", EARSHOT_REPORT_CSV},
                   {"md", EARSHOT_REPORT_MD},     {"markdown", EARSHOT_REPORT_MD}};
    for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
        if (!strcasecmp(v, formats[i].name)) {
            *f = formats[i].f;
            return 1;
        }
    return 0;
}

static int cmd_report(int argc, char **argv)
{
    earshot_report_config cfg = earshot_report_config_default();
    const char *db = "earshot.db", *out = "-", *format = NULL, *inputs[256];
    size_t n_inputs = 0;
    int merge = argc > 1 && !strcmp(argv[1], "merge");
    const char *privacy = NULL, *epsilon = NULL, *budget = NULL;
    const char *alerts[64];
    size_t n_alerts = 0;
    int min_group_given = 0, alert_mode = 0, out_given = 0;
    for (int i = 1 + merge; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(report_usage, stdout);
            return 0;
        } else if (!strcmp(a, "--utc") && !merge) {
            cfg.utc = 1;
        } else if (!strcmp(a, "--alerts") && !merge) {
            alert_mode = 1;
        } else if (!strcmp(a, "--alert") && !merge) {
            if (i + 1 >= argc)
                return usage_error("report ", "option '%s' needs a value", a);
            if (n_alerts == sizeof alerts / sizeof *alerts)
                return usage_error("report ", "%s", "at most 64 --alert thresholds");
            alerts[n_alerts++] = argv[++i];
            alert_mode = 1;
        } else if (!strcmp(a, "--min-group") || !strcmp(a, "--format") || !strcmp(a, "--out") ||
                   (!merge && (!strcmp(a, "--db") || !strcmp(a, "--since") ||
                               !strcmp(a, "--until") || !strcmp(a, "--channel") ||
                               !strcmp(a, "--time") || !strcmp(a, "--privacy") ||
                               !strcmp(a, "--epsilon") || !strcmp(a, "--budget")))) {
            if (i + 1 >= argc)
                return usage_error("report ", "option '%s' needs a value", a);
            const char *v = argv[++i];
            if (!strcmp(a, "--db"))
                db = v;
            else if (!strcmp(a, "--since"))
                cfg.since = v;
            else if (!strcmp(a, "--until"))
                cfg.until = v;
            else if (!strcmp(a, "--channel"))
                cfg.channel = v;
            else if (!strcmp(a, "--format"))
                format = v;
            else if (!strcmp(a, "--out"))
                out = v, out_given = 1;
            else if (!strcmp(a, "--privacy"))
                privacy = v;
            else if (!strcmp(a, "--epsilon"))
                epsilon = v;
            else if (!strcmp(a, "--budget"))
                budget = v;
            else if (!strcmp(a, "--time")) {
                if (!strcmp(v, "day"))
                    cfg.time_unit = EARSHOT_TIME_DAY;
                else if (!strcmp(v, "week"))
                    cfg.time_unit = EARSHOT_TIME_WEEK;
                else if (!strcmp(v, "month"))
                    cfg.time_unit = EARSHOT_TIME_MONTH;
                else
                    return usage_error("report ", "--time is day, week or month, not '%s'", v);
            } else {
                long long k = parse_count(v);
                if (k < 1 || k > 1000000)
                    return usage_error("report ", "--min-group needs a whole number >= 1, not "
                                                  "'%s'", v);
                cfg.min_group = (int)k;
                min_group_given = 1;
            }
        } else if (merge && a[0] != '-' && n_inputs < sizeof inputs / sizeof *inputs) {
            inputs[n_inputs++] = a;
        } else {
            return usage_error("report ", "unexpected argument '%s'", a);
        }
    }
    earshot_report_format fmt = EARSHOT_REPORT_MD;
    if (format) {
        if (!report_format(format, &fmt))
            return usage_error("report ", "--format is html, json, csv or md, not '%s'", format);
    } else {
        const char *dot = strrchr(out, '.');
        size_t len = strlen(out);
        if (len && out[len - 1] == '/')
            fmt = EARSHOT_REPORT_CSV;
        else if (dot && !strchr(dot, '/') && !report_format(dot + 1, &fmt))
            return usage_error("report ", "cannot tell the format from '%s': add --format", out);
    }
    if (merge && n_inputs < 1)
        return usage_error("report ", "%s", "merge needs JSON reports to add up");
    /* A malformed threshold is refused before any work: checked against a
     * finding of every kind, since a spec names its kind first. */
    for (size_t k = 0; k < n_alerts; k++) {
        earshot_finding probe = {.kind_name = "complaints", .subject = "", .shown = 1};
        if (earshot_finding_matches(&probe, alerts[k]) < 0)
            return usage_error("report ", "--alert is KIND[:SUBJECT[:DELTA]], e.g. "
                               "complaints:wait_time:+20, not '%s'", alerts[k]);
    }
    /* Suppression and differential privacy never mix by accident. */
    if (privacy && !strcmp(privacy, "dp")) {
        if (min_group_given)
            return usage_error("report ", "%s", "--min-group is cell suppression and "
                               "--privacy dp replaces it: give one or the other");
        char *end = NULL;
        if (!epsilon)
            return usage_error("report ", "%s", "--privacy dp needs --epsilon E");
        cfg.epsilon = strtod(epsilon, &end);
        if (end == epsilon || *end || !(cfg.epsilon > 0 && cfg.epsilon <= 10))
            return usage_error("report ", "--epsilon needs a number above 0 and at most 10, "
                                          "not '%s'", epsilon);
        if (budget) {
            cfg.budget = strtod(budget, &end);
            if (end == budget || *end || !(cfg.budget > 0 && cfg.budget <= 1000))
                return usage_error("report ", "--budget needs a number above 0, not '%s'",
                                   budget);
        }
        if (!cfg.since || !cfg.until)
            return usage_error("report ", "%s", "--privacy dp needs --since and --until (the "
                               "window whose months spend the budget)");
        cfg.privacy = EARSHOT_PRIVACY_DP;
        cfg.min_group = 0;
        if (getenv("EARSHOT_DP_TEST_SEED"))
            fprintf(stderr, "earshot: EARSHOT_DP_TEST_SEED is set: the noise is a fixed "
                            "sequence (tests only); this report protects nobody\n");
    } else if (privacy && strcmp(privacy, "suppress")) {
        return usage_error("report ", "--privacy is suppress or dp, not '%s'", privacy);
    } else if (epsilon || budget) {
        return usage_error("report ", "%s", "--epsilon and --budget belong to --privacy dp");
    }

    earshot_report *r = NULL;
    int rc;
    if (merge) {
        earshot_report *in[256] = {0};
        rc = EARSHOT_OK;
        for (size_t i = 0; i < n_inputs && rc == EARSHOT_OK; i++)
            if ((rc = earshot_report_load(inputs[i], &in[i])) != EARSHOT_OK)
                errorf("%s", earshot_report_errmsg(in[i]));
        if (rc == EARSHOT_OK &&
            (rc = earshot_report_merge((const earshot_report *const *)in, n_inputs,
                                       cfg.min_group, &r)) != EARSHOT_OK)
            errorf("%s", earshot_report_errmsg(r));
        for (size_t i = 0; i < n_inputs; i++)
            earshot_report_free(in[i]);
    } else {
        earshot_store_config scfg = earshot_store_config_default();
        scfg.path = db;
        /* A dp report writes one thing: its line in the budget ledger. A
         * missing file is still an error, never created. */
        scfg.read_only = cfg.privacy != EARSHOT_PRIVACY_DP;
        scfg.create = 0;
        scfg.on_log = log_to_stderr;
        earshot_store *s = NULL;
        if (!scfg.read_only && access(db, F_OK) != 0) {
            errorf("%s: %s", db, strerror(errno));
            rc = EARSHOT_IO;
        } else if ((rc = earshot_store_open(&s, &scfg)) != EARSHOT_OK)
            errorf("%s", earshot_store_errmsg(s));
        else if ((rc = earshot_report_build(s, &cfg, &r)) != EARSHOT_OK)
            errorf("%s", earshot_report_errmsg(r));
        earshot_store_close(s);
    }
    if (rc == EARSHOT_OK && (!alert_mode || out_given) &&
        (rc = earshot_report_write(r, fmt, out)) != EARSHOT_OK)
        errorf("%s", earshot_report_errmsg(r));
    int alerted = 0;
    if (rc == EARSHOT_OK && alert_mode) {
        const earshot_finding *f = NULL;
        size_t n = earshot_report_findings(r, &f);
        for (size_t i = 0; i < n; i++) {
            if (!f[i].shown)
                continue;
            int hit = n_alerts == 0;
            for (size_t k = 0; k < n_alerts && !hit; k++)
                hit = earshot_finding_matches(&f[i], alerts[k]) == 1;
            if (hit) {
                printf("alert: %s%s%s: %s\n", f[i].kind_name, *f[i].subject ? ":" : "",
                       f[i].subject, f[i].sentence);
                alerted++;
            }
        }
    }
    earshot_report_free(r);
    if (rc == EARSHOT_OK && alerted)
        return 3;
    return rc == EARSHOT_OK ? 0 : rc == EARSHOT_MISUSE ? 2 : 1;
}

/* ------------------------------------------------------------------ */
/* devices, listen                                                     */
/* ------------------------------------------------------------------ */

static int print_device(const earshot_device_info *d, void *user)
{
    ++*(int *)user;
    printf("%3d  %-40s  %-28s  %6.0f Hz  %d ch%s\n", d->index, d->name, d->host_api,
           d->default_rate, d->channels, d->is_default ? "  (default)" : "");
    return 0;
}

static int cmd_devices(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        puts("usage: earshot devices\n\nLists capture devices: index, name, host API, "
             "default rate, channels.");
        return 0;
    }
    if (argc > 1)
        return usage_error("devices ", "unexpected argument '%s'", argv[1]);
    char err[512];
    int count = 0;
    if (earshot_devices(print_device, &count, err, sizeof err) != EARSHOT_OK) {
        errorf("%s", err);
        return 1;
    }
    /* An empty list is an answer a script must not mistake for success. */
    if (count == 0) {
        errorf("%s", "no audio input devices found (is a sound card, ALSA device or JACK "
               "server available?)");
        return 1;
    }
    return 0;
}

static const char *const listen_usage =
    "usage: earshot listen [--device NAME|INDEX] [--rate HZ] [--db PATH] [--channel NAME]\n"
    "                      [--consent ask|granted] [--json] [--say-cmd CMD]\n"
    "                      [--session-silence S] [--answer-timeout S] [--max-seconds S]\n"
    "                      [--buffer S] [--grammar DIR] [--model DIR] [--retain-days N]\n"
    "                      [--model-vocab full|N]\n"
    "                      [--frontend off|on|agc] [--partial] [--mllr FILE]\n"
    "                      [--pronunciations FILE] [--ask-rating]\n"
    "\n"
    "Listens to a capture device and prints each utterance as it is recognised,\n"
    "always redacted (\"call me on [PHONE]\"), with or without --db.\n"
    "A session begins when someone speaks and ends after --session-silence\n"
    "seconds (default 20) of silence. With --db, what consenting customers say\n"
    "is stored (redacted): with --consent ask (the default) the listener asks\n"
    "(printed, and spoken by --say-cmd, e.g. \"espeak-ng\") and only a spoken yes\n"
    "starts storing; no, or no answer within --answer-timeout seconds (15),\n"
    "keeps nothing; \"forget me\" erases the session at any time.\n"
    "An answer the listener did not catch (unclear words, noise) is asked for\n"
    "once more (\"Sorry, I didn't catch that. ...\"), then taken as no answer.\n"
    "--ask-rating asks the NPS question (0-10) once per consenting session,\n"
    "after the first complaint or praise, or when the session falls silent.\n"
    "Ctrl-C finishes the utterance in flight, stores it if consented and exits;\n"
    "a second Ctrl-C exits at once (the database stays consistent).\n"
    "--partial also prints the words heard so far while someone speaks,\n"
    "redacted (\"partial AT: text\"; JSON: {\"partial\":...}).\n";

static earshot_listener *listening;
static volatile sig_atomic_t signals_seen;

static void on_signal(int sig)
{
    (void)sig;
    if (signals_seen++ > 0)
        _exit(130); /* WAL + one transaction per utterance: nothing half-written */
    earshot_listen_stop(listening);
}

typedef struct listen_ctx {
    int json;
    const char *say_cmd;
} listen_ctx;

static int listen_partial(const earshot_partial *p, void *user)
{
    listen_ctx *c = user;
    if (c->json) {
        printf("{\"partial\":");
        json_str(stdout, p->text);
        printf(",\"start\":%.2f,\"at\":%.2f}\n", p->start, p->at);
    } else {
        printf("partial %.2f: %s\n", p->at, p->text);
    }
    fflush(stdout);
    return 0;
}

static void on_event(const earshot_event *ev, void *user)
{
    listen_ctx *c = user;
    const earshot_utterance *u = ev->utterance;
    switch (ev->kind) {
    case EARSHOT_EVENT_UTTERANCE:
        if (c->json) {
            printf("{\"session\":%lld,\"start\":%.2f,\"end\":%.2f,\"text\":",
                   (long long)ev->session, u->start, u->end);
            json_str(stdout, shown_text(u, 1));
            printf(",\"redacted\":true,\"confidence\":%.3f,\"quality\":\"%s\"", u->confidence,
                   earshot_quality_name(u->quality));
            if (u->analysis)
                json_analysis(stdout, u->analysis);
            printf(",\"storage\":\"%s\"}\n", heard_json[ev->heard]);
        } else {
            printf("[%lld] %.2f-%.2f: %s", (long long)ev->session, u->start, u->end,
                   shown_text(u, 1));
            if (u->analysis)
                text_analysis(stdout, u->analysis);
            if (u->quality != EARSHOT_QUALITY_OK)
                printf(" {%s}", earshot_quality_name(u->quality));
            printf(" (%s)\n", heard_names[ev->heard]);
        }
        break;
    case EARSHOT_EVENT_CONSENT_PROMPT:
    case EARSHOT_EVENT_CONFIRM_PROMPT:
    case EARSHOT_EVENT_RATING_PROMPT:
        if (c->json) {
            printf("{\"session\":%lld,\"event\":\"%s\",\"prompt\":", (long long)ev->session,
                   ev->kind == EARSHOT_EVENT_CONSENT_PROMPT   ? "consent_prompt"
                   : ev->kind == EARSHOT_EVENT_CONFIRM_PROMPT ? "confirm_prompt"
                                                              : "rating_prompt");
            json_str(stdout, ev->message);
            printf(",\"repeat\":%s}\n", ev->repeat ? "true" : "false");
        } else {
            printf("[%lld] asking: %s\n", (long long)ev->session, ev->message);
        }
        fflush(stdout);
        if (c->say_cmd) {
            /* The prompt goes to the speech command as one argument. */
            pid_t pid = fork();
            if (pid == 0) {
                int null = open("/dev/null", O_WRONLY);
                if (null >= 0)
                    dup2(null, STDOUT_FILENO);
                execlp("sh", "sh", "-c", "exec $0 \"$1\"", c->say_cmd, ev->message, (char *)NULL);
                _exit(127);
            } else if (pid > 0) {
                int st;
                waitpid(pid, &st, 0);
                if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                    errorf("--say-cmd '%s' failed; the prompt was only printed", c->say_cmd);
            }
        }
        break;
    case EARSHOT_EVENT_SESSION_BEGIN:
    case EARSHOT_EVENT_SESSION_END:
        if (c->json)
            printf("{\"session\":%lld,\"event\":\"%s\",\"reason\":\"%s\"}\n",
                   (long long)ev->session,
                   ev->kind == EARSHOT_EVENT_SESSION_BEGIN ? "session_begin" : "session_end",
                   ev->message);
        else if (ev->kind == EARSHOT_EVENT_SESSION_END)
            printf("[%lld] session ended: %s\n", (long long)ev->session, ev->message);
        break;
    case EARSHOT_EVENT_TROUBLE:
    case EARSHOT_EVENT_RECOVERED:
        errorf("%s", ev->message);
        break;
    }
    fflush(stdout);
}

static double parse_seconds(const char *v)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    return errno || end == v || *end || !(d > 0) || d > 1e7 ? -1 : d;
}

static int cmd_listen(int argc, char **argv)
{
    earshot_listen_config lcfg = earshot_listen_config_default();
    earshot_config rcfg = earshot_config_default();
    earshot_store_config scfg = earshot_store_config_default();
    listen_ctx ctx = {0};
    const char *db = NULL, *consent = "ask";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(listen_usage, stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            ctx.json = 1;
        } else if (!strcmp(a, "--ask-rating")) {
            lcfg.ask_rating = 1;
        } else if (!strcmp(a, "--verbose")) {
            rcfg.verbose = 1;
            lcfg.quiet = 0;
        } else if (!strcmp(a, "--partial")) {
            rcfg.on_partial = listen_partial;
            rcfg.partial_user = &ctx;
        } else if (a[0] == '-' && a[1] == '-' && i + 1 < argc &&
                   (!strcmp(a, "--device") || !strcmp(a, "--db") || !strcmp(a, "--channel") ||
                    !strcmp(a, "--consent") || !strcmp(a, "--say-cmd") ||
                    !strcmp(a, "--grammar") || !strcmp(a, "--model") || !strcmp(a, "--rate") ||
                    !strcmp(a, "--session-silence") || !strcmp(a, "--answer-timeout") ||
                    !strcmp(a, "--max-seconds") || !strcmp(a, "--buffer") ||
                    !strcmp(a, "--retain-days") || !strcmp(a, "--model-vocab") ||
                    !strcmp(a, "--frontend") || !strcmp(a, "--mllr") ||
                    !strcmp(a, "--pronunciations"))) {
            const char *v = argv[++i];
            if (!strcmp(a, "--mllr") || !strcmp(a, "--pronunciations")) {
                if (a[2] == 'm')
                    rcfg.mllr = v;
                else
                    rcfg.pronunciations = v;
                continue;
            }
            if (!strcmp(a, "--frontend")) {
                if ((rcfg.frontend = parse_frontend(v)) < 0)
                    return usage_error("listen ", "--frontend is off, on or agc, not '%s'", v);
                continue;
            }
            double secs = parse_seconds(v);
            if (!strcmp(a, "--device")) lcfg.device = v;
            else if (!strcmp(a, "--db")) db = v;
            else if (!strcmp(a, "--channel")) lcfg.channel = v;
            else if (!strcmp(a, "--consent")) consent = v;
            else if (!strcmp(a, "--say-cmd")) ctx.say_cmd = v;
            else if (!strcmp(a, "--grammar")) rcfg.grammar_dir = scfg.grammar_dir = v;
            else if (!strcmp(a, "--model")) rcfg.model_dir = v;
            else if (!strcmp(a, "--model-vocab")) {
                rcfg.model_vocab = parse_model_vocab(v);
                if (rcfg.model_vocab < 0)
                    return usage_error("listen ", "--model-vocab is 'full' or a number of words, not '%s'", v);
            }
            else if (secs < 0) return usage_error("listen ", "'%s' is not a positive number", v);
            else if (!strcmp(a, "--rate")) lcfg.rate = (int)secs;
            else if (!strcmp(a, "--session-silence")) lcfg.session_silence = secs;
            else if (!strcmp(a, "--answer-timeout")) lcfg.answer_timeout = secs;
            else if (!strcmp(a, "--max-seconds")) lcfg.max_seconds = secs;
            else if (!strcmp(a, "--buffer")) lcfg.ring_seconds = secs;
            else scfg.retain_days = (int)secs;
        } else {
            return usage_error("listen ", "unexpected argument '%s'", a);
        }
    }
    if (strcmp(consent, "ask") && strcmp(consent, "granted"))
        return usage_error("listen ", "--consent is 'ask' or 'granted', not '%s'", consent);
    lcfg.consent_granted = !strcmp(consent, "granted");
    lcfg.on_event = on_event;
    lcfg.event_user = &ctx;
    scfg.path = db;
    scfg.on_log = log_to_stderr;
    earshot_listener *l = NULL;
    if (earshot_listen_open(&l, &lcfg, &rcfg, db ? &scfg : NULL) != EARSHOT_OK) {
        errorf("%s", earshot_listen_errmsg(l));
        earshot_listen_close(l);
        return 1;
    }
    listening = l;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* A sound server that dies (JACK) must not take the listener with it
     * through a write to its closed socket. */
    signal(SIGPIPE, SIG_IGN);
    if (!ctx.json)
        fprintf(stderr, "earshot: listening on %s at %d Hz%s (Ctrl-C to stop)\n",
                earshot_listen_device(l), earshot_listen_rate(l),
                db ? "" : "; nothing is stored without --db");
    int rc = earshot_listen_run(l);
    if (rc != EARSHOT_OK)
        errorf("%s", earshot_listen_errmsg(l));
    earshot_listen_close(l);
    listening = NULL;
    return rc == EARSHOT_OK ? 0 : 1;
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
    if (!strcmp(cmd, "listen"))
        return cmd_listen(argc - 1, argv + 1);
    if (!strcmp(cmd, "devices"))
        return cmd_devices(argc - 1, argv + 1);
    if (!strcmp(cmd, "sessions"))
        return cmd_sessions(argc - 1, argv + 1);
    if (!strcmp(cmd, "forget"))
        return cmd_forget(argc - 1, argv + 1);
    if (!strcmp(cmd, "export"))
        return cmd_export(argc - 1, argv + 1);
    if (!strcmp(cmd, "report"))
        return cmd_report(argc - 1, argv + 1);
    if (!strcmp(cmd, "adapt"))
        return earshot_cmd_adapt(argc - 1, argv + 1);
    if (!strcmp(cmd, "serve"))
        return earshot_cmd_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "publish")) return earshot_cmd_publish(argc - 1, argv + 1);
    return usage_error("", "unknown command '%s'", cmd);
}
