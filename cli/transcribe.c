/* transcribe.c - earshot transcribe: recognises audio files offline, one
 * line (or JSON object) per utterance; with --db each file is a session. */
#include "commands.h"
#include "common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    "                topics, signals, voice2json (intent {name, confidence},\n"
    "                entities)\n"
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

/* --partial: the words so far, already redacted by the library. */
static int print_partial(const earshot_partial *p, void *user)
{
    transcribe_ctx *t = user;
    progress_clear(t);
    if (t->json) {
        json_t *o = json_object();
        json_object_set_new(o, "file", earshot__cli_jstr(t->file));
        json_object_set_new(o, "partial", json_true());
        json_object_set_new(o, "start", earshot__cli_jnum(p->start, 2));
        json_object_set_new(o, "at", earshot__cli_jnum(p->at, 2));
        json_object_set_new(o, "text", earshot__cli_jstr(p->text));
        earshot__cli_json_print(o);
    } else {
        printf("%s partial %.2f %.2f: %s\n", t->file, p->start, p->at, p->text);
    }
    return 0;
}

static void print_utterance_json(const transcribe_ctx *t, const earshot_utterance *u,
                                 int redacted, earshot_heard what)
{
    const char *text = earshot__cli_shown_text(u, redacted);
    json_t *o = json_object();
    json_object_set_new(o, "file", earshot__cli_jstr(t->file));
    json_object_set_new(o, "start", earshot__cli_jnum(u->start, 2));
    json_object_set_new(o, "end", earshot__cli_jnum(u->end, 2));
    json_object_set_new(o, "text", earshot__cli_jstr(text));
    json_object_set_new(o, "redacted", json_boolean(redacted));
    json_object_set_new(o, "confidence", earshot__cli_jnum(u->confidence, 3));
    json_object_set_new(o, "quality", json_string(earshot_quality_name(u->quality)));
    json_object_set_new(o, "level_dbfs", earshot__cli_jnum(u->level_dbfs, 1));
    json_object_set_new(o, "snr_db", earshot__cli_jnum(u->snr_db, 1));
    json_object_set_new(o, "band_db", earshot__cli_jnum(u->band_db, 1));
    /* The words are raw: redacted output has none. */
    json_t *words = json_array();
    for (size_t i = 0; !redacted && i < u->n_words; i++) {
        const earshot_word *w = &u->words[i];
        json_t *wo = json_object();
        json_object_set_new(wo, "word", earshot__cli_jstr(w->word));
        json_object_set_new(wo, "start", earshot__cli_jnum(w->start, 2));
        json_object_set_new(wo, "end", earshot__cli_jnum(w->end, 2));
        json_object_set_new(wo, "confidence", earshot__cli_jnum(w->confidence, 3));
        json_array_append_new(words, wo);
    }
    json_object_set_new(o, "words", words);
    if (u->analysis)
        earshot__cli_json_analysis(o, u->analysis, text, "intent_confidence");
    if (t->store) {
        json_object_set_new(o, "session", json_integer(t->session));
        json_object_set_new(o, "storage", json_string(earshot__cli_heard_json(what)));
    }
    earshot__cli_json_print(o);
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
            earshot__cli_errorf("%s", earshot_store_errmsg(t->store));
        if (rc != EARSHOT_OK && rc != EARSHOT_QUEUED)
            t->store_failed = 1;
        t->last_store_rc = rc;
    }
    if (!t->json) {
        printf("%s %.2f-%.2f: %s", t->file, u->start, u->end,
               earshot__cli_shown_text(u, redacted));
        if (u->analysis)
            earshot__cli_text_analysis(stdout, u->analysis);
        if (u->quality != EARSHOT_QUALITY_OK)
            printf(" {%s}", earshot_quality_name(u->quality));
        if (t->store)
            printf(" (%s)", earshot__cli_heard_name(what));
        putchar('\n');
    } else {
        print_utterance_json(t, u, redacted, what);
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
        earshot__cli_errorf("%s: %s", t->file, earshot_audio_errmsg(a));
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
            earshot__cli_errorf("%s: %s", t->file, earshot_errmsg(e));
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
        earshot__cli_errorf("%s: %s (transcribed up to %.2f s)", t->file, earshot_audio_errmsg(a),
               earshot_stream_seconds(e));
        failed = 1;
    }
    double heard = earshot_stream_seconds(e);
    /* Flush even after an error: what was heard before it is not lost. */
    if (earshot_flush(e) != EARSHOT_OK && !failed) {
        earshot__cli_errorf("%s: %s", t->file, earshot_errmsg(e));
        failed = 1;
    }
    progress_clear(t);
    if (!failed && earshot_audio_truncated(a) && info->seconds <= 0) {
        /* No length declared (an OGG cut before its last page): the
         * library's message says what is known. */
        earshot__cli_errorf("%s: %s (transcribed what is there)", t->file, earshot_audio_errmsg(a));
        failed = 1;
    } else if (!failed && earshot_audio_truncated(a)) {
        earshot__cli_errorf("%s: truncated: the header declares %.2f s but the file holds %.2f s "
               "(transcribed what is there)",
               t->file, info->seconds, heard);
        failed = 1;
    } else if (!failed && heard < 0.1) {
        earshot__cli_errorf("%s: only %.3f s of audio, too short to hold speech", t->file, heard);
        failed = 1;
    }
    earshot_audio_close(a);
    return failed;
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
        earshot__cli_errorf("%s: %s", t->file, earshot_store_errmsg(t->store));
        return 1;
    }
    return 0;
}


enum {
    OPT_JSON = 256, OPT_SHOW_UNREDACTED, OPT_VERBOSE, OPT_NO_ANALYZE, OPT_PARTIAL, OPT_DECODER,
    OPT_FRONTEND, OPT_DB, OPT_CONSENT, OPT_CHANNEL, OPT_RETAIN_DAYS, OPT_GRAMMAR, OPT_MLLR,
    OPT_PRONUNCIATIONS, OPT_MODEL_VOCAB, OPT_MODEL
};

int earshot_cmd_transcribe(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"json", no_argument, NULL, OPT_JSON},
        {"show-unredacted", no_argument, NULL, OPT_SHOW_UNREDACTED},
        {"verbose", no_argument, NULL, OPT_VERBOSE},
        {"no-analyze", no_argument, NULL, OPT_NO_ANALYZE},
        {"partial", no_argument, NULL, OPT_PARTIAL},
        {"decoder", required_argument, NULL, OPT_DECODER},
        {"frontend", required_argument, NULL, OPT_FRONTEND},
        {"db", required_argument, NULL, OPT_DB},
        {"consent", required_argument, NULL, OPT_CONSENT},
        {"channel", required_argument, NULL, OPT_CHANNEL},
        {"retain-days", required_argument, NULL, OPT_RETAIN_DAYS},
        {"grammar", required_argument, NULL, OPT_GRAMMAR},
        {"mllr", required_argument, NULL, OPT_MLLR},
        {"pronunciations", required_argument, NULL, OPT_PRONUNCIATIONS},
        {"model-vocab", required_argument, NULL, OPT_MODEL_VOCAB},
        {"model", required_argument, NULL, OPT_MODEL},
        {0},
    };
    transcribe_ctx t = {0};
    earshot_config cfg = earshot_config_default();
    earshot_store_config scfg = earshot_store_config_default();
    const char *db = NULL, *consent = "ask", *channel = "cli";
    int c;
    while ((c = earshot__cli_getopt(argc, argv, "h", opts, "transcribe ")) != -1) {
        long long n;
        switch (c) {
        case 0:
            return 2;
        case 'h':
            fputs(transcribe_usage, stdout);
            return 0;
        case OPT_JSON: t.json = 1; break;
        case OPT_SHOW_UNREDACTED: t.show_unredacted = 1; break;
        case OPT_VERBOSE: cfg.verbose = 1; break;
        case OPT_NO_ANALYZE: cfg.analyze = 0; break;
        case OPT_PARTIAL:
            cfg.on_partial = print_partial;
            cfg.partial_user = &t;
            break;
        case OPT_DECODER: cfg.decoder_options = optarg; break;
        case OPT_FRONTEND:
            if ((cfg.frontend = earshot__cli_parse_frontend(optarg)) < 0)
                return earshot__cli_usage_error("transcribe ", "--frontend is off, on or agc, "
                                                "not '%s'", optarg);
            break;
        case OPT_DB: db = optarg; break;
        case OPT_CONSENT: consent = optarg; break;
        case OPT_CHANNEL: channel = optarg; break;
        case OPT_RETAIN_DAYS:
            if ((n = earshot__cli_parse_count(optarg)) <= 0 || n > 36500)
                return earshot__cli_usage_error("transcribe ", "--retain-days needs a number "
                                                "of days, not '%s'", optarg);
            scfg.retain_days = (int)n;
            break;
        case OPT_GRAMMAR: cfg.grammar_dir = optarg; break;
        case OPT_MLLR: cfg.mllr = optarg; break;
        case OPT_PRONUNCIATIONS: cfg.pronunciations = optarg; break;
        case OPT_MODEL_VOCAB:
            if ((cfg.model_vocab = earshot__cli_parse_model_vocab(optarg)) < 0)
                return earshot__cli_usage_error("transcribe ", "--model-vocab is 'full' or a "
                                                "number of words, not '%s'", optarg);
            break;
        case OPT_MODEL: cfg.model_dir = optarg; break;
        }
    }
    int first_file = optind;
    if (first_file >= argc)
        return earshot__cli_usage_error("transcribe ", "%s", "no audio file given");
    if (strcmp(consent, "ask") && strcmp(consent, "granted"))
        return earshot__cli_usage_error("transcribe ", "--consent is 'ask' or 'granted', not '%s'",
                                        consent);
    if (!db && scfg.retain_days > 0)
        return earshot__cli_usage_error("transcribe ", "%s", "--retain-days needs --db");
    if (db && !cfg.analyze && !strcmp(consent, "ask"))
        return earshot__cli_usage_error("transcribe ", "%s", "--consent ask needs analysis to "
                                        "hear the answer; drop --no-analyze");
    if (db) {
        scfg.path = db;
        scfg.grammar_dir = cfg.grammar_dir;
        scfg.on_log = earshot__cli_log_to_stderr;
        if (earshot_store_open(&t.store, &scfg) != EARSHOT_OK) {
            earshot__cli_errorf("%s", earshot_store_errmsg(t.store));
            earshot_store_close(t.store);
            return 1;
        }
    }

    earshot *e = NULL;
    cfg.on_utterance = print_utterance;
    cfg.utterance_user = &t;
    if (earshot_open(&e, &cfg) != EARSHOT_OK) {
        earshot__cli_errorf("%s", earshot_errmsg(e));
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
            earshot__cli_errorf("%s", earshot_store_errmsg(t.store));
            t.store_failed = 1;
        }
        earshot_store_close(t.store);
        if (t.store_failed)
            failed += !failed;
    }
    if (failed && total > 1)
        earshot__cli_errorf("%zu of %zu files failed", failed, total);
    return failed ? 1 : 0;
}
