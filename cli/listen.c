/* listen.c - earshot listen: a microphone, with the consent dialogue. */
#include "commands.h"
#include "common.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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
    "redacted (\"partial AT: text\"; JSON: {\"partial\":...}).\n"
    "--json: one JSON object per utterance (session, start, end, text, redacted,\n"
    "confidence, quality, the analysis fields as in transcribe --json, storage)\n"
    "or event (session_begin, session_end, consent_prompt, ...).\n";

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
        json_t *o = json_object();
        json_object_set_new(o, "partial", earshot__cli_jstr(p->text));
        json_object_set_new(o, "start", earshot__cli_jnum(p->start, 2));
        json_object_set_new(o, "at", earshot__cli_jnum(p->at, 2));
        earshot__cli_json_print(o);
    } else {
        printf("partial %.2f: %s\n", p->at, p->text);
    }
    fflush(stdout);
    return 0;
}

static void print_event_json(const earshot_event *ev)
{
    const earshot_utterance *u = ev->utterance;
    json_t *o = json_object();
    json_object_set_new(o, "session", json_integer(ev->session));
    switch (ev->kind) {
    case EARSHOT_EVENT_UTTERANCE: {
        const char *text = earshot__cli_shown_text(u, 1);
        json_object_set_new(o, "start", earshot__cli_jnum(u->start, 2));
        json_object_set_new(o, "end", earshot__cli_jnum(u->end, 2));
        json_object_set_new(o, "text", earshot__cli_jstr(text));
        json_object_set_new(o, "redacted", json_true());
        json_object_set_new(o, "confidence", earshot__cli_jnum(u->confidence, 3));
        json_object_set_new(o, "quality", json_string(earshot_quality_name(u->quality)));
        if (u->analysis)
            earshot__cli_json_analysis(o, u->analysis, text, "intent_confidence");
        json_object_set_new(o, "storage", json_string(earshot__cli_heard_json(ev->heard)));
        break;
    }
    case EARSHOT_EVENT_CONSENT_PROMPT:
    case EARSHOT_EVENT_CONFIRM_PROMPT:
    case EARSHOT_EVENT_RATING_PROMPT:
        json_object_set_new(o, "event",
                            json_string(ev->kind == EARSHOT_EVENT_CONSENT_PROMPT   ? "consent_prompt"
                                        : ev->kind == EARSHOT_EVENT_CONFIRM_PROMPT ? "confirm_prompt"
                                                                                   : "rating_prompt"));
        json_object_set_new(o, "prompt", earshot__cli_jstr(ev->message));
        json_object_set_new(o, "repeat", json_boolean(ev->repeat));
        break;
    default:
        json_object_set_new(o, "event", json_string(ev->kind == EARSHOT_EVENT_SESSION_BEGIN
                                                        ? "session_begin"
                                                        : "session_end"));
        json_object_set_new(o, "reason", earshot__cli_jstr(ev->message));
        break;
    }
    earshot__cli_json_print(o);
}

static void on_event(const earshot_event *ev, void *user)
{
    listen_ctx *c = user;
    const earshot_utterance *u = ev->utterance;
    switch (ev->kind) {
    case EARSHOT_EVENT_UTTERANCE:
        if (c->json) {
            print_event_json(ev);
        } else {
            printf("[%lld] %.2f-%.2f: %s", (long long)ev->session, u->start, u->end,
                   earshot__cli_shown_text(u, 1));
            if (u->analysis)
                earshot__cli_text_analysis(stdout, u->analysis);
            if (u->quality != EARSHOT_QUALITY_OK)
                printf(" {%s}", earshot_quality_name(u->quality));
            printf(" (%s)\n", earshot__cli_heard_name(ev->heard));
        }
        break;
    case EARSHOT_EVENT_CONSENT_PROMPT:
    case EARSHOT_EVENT_CONFIRM_PROMPT:
    case EARSHOT_EVENT_RATING_PROMPT:
        if (c->json)
            print_event_json(ev);
        else
            printf("[%lld] asking: %s\n", (long long)ev->session, ev->message);
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
                    earshot__cli_errorf("--say-cmd '%s' failed; the prompt was only printed",
                                        c->say_cmd);
            }
        }
        break;
    case EARSHOT_EVENT_SESSION_BEGIN:
    case EARSHOT_EVENT_SESSION_END:
        if (c->json)
            print_event_json(ev);
        else if (ev->kind == EARSHOT_EVENT_SESSION_END)
            printf("[%lld] session ended: %s\n", (long long)ev->session, ev->message);
        break;
    case EARSHOT_EVENT_TROUBLE:
    case EARSHOT_EVENT_RECOVERED:
        earshot__cli_errorf("%s", ev->message);
        break;
    }
    fflush(stdout);
}

enum {
    OPT_JSON = 256, OPT_ASK_RATING, OPT_VERBOSE, OPT_PARTIAL, OPT_DEVICE, OPT_DB, OPT_CHANNEL,
    OPT_CONSENT, OPT_SAY_CMD, OPT_GRAMMAR, OPT_MODEL, OPT_RATE, OPT_SESSION_SILENCE,
    OPT_ANSWER_TIMEOUT, OPT_MAX_SECONDS, OPT_BUFFER, OPT_RETAIN_DAYS, OPT_MODEL_VOCAB,
    OPT_FRONTEND, OPT_MLLR, OPT_PRONUNCIATIONS
};

int earshot_cmd_listen(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"json", no_argument, NULL, OPT_JSON},
        {"ask-rating", no_argument, NULL, OPT_ASK_RATING},
        {"verbose", no_argument, NULL, OPT_VERBOSE},
        {"partial", no_argument, NULL, OPT_PARTIAL},
        {"device", required_argument, NULL, OPT_DEVICE},
        {"db", required_argument, NULL, OPT_DB},
        {"channel", required_argument, NULL, OPT_CHANNEL},
        {"consent", required_argument, NULL, OPT_CONSENT},
        {"say-cmd", required_argument, NULL, OPT_SAY_CMD},
        {"grammar", required_argument, NULL, OPT_GRAMMAR},
        {"model", required_argument, NULL, OPT_MODEL},
        {"rate", required_argument, NULL, OPT_RATE},
        {"session-silence", required_argument, NULL, OPT_SESSION_SILENCE},
        {"answer-timeout", required_argument, NULL, OPT_ANSWER_TIMEOUT},
        {"max-seconds", required_argument, NULL, OPT_MAX_SECONDS},
        {"buffer", required_argument, NULL, OPT_BUFFER},
        {"retain-days", required_argument, NULL, OPT_RETAIN_DAYS},
        {"model-vocab", required_argument, NULL, OPT_MODEL_VOCAB},
        {"frontend", required_argument, NULL, OPT_FRONTEND},
        {"mllr", required_argument, NULL, OPT_MLLR},
        {"pronunciations", required_argument, NULL, OPT_PRONUNCIATIONS},
        {0},
    };
    earshot_listen_config lcfg = earshot_listen_config_default();
    earshot_config rcfg = earshot_config_default();
    earshot_store_config scfg = earshot_store_config_default();
    listen_ctx ctx = {0};
    const char *db = NULL, *consent = "ask";
    int c;
    while ((c = earshot__cli_getopt(argc, argv, "h", opts, "listen ")) != -1) {
        const char *v = optarg;
        /* The options that take a number of seconds (or Hz, or days). */
        double secs = c >= OPT_RATE && c <= OPT_RETAIN_DAYS ? earshot__cli_parse_seconds(v) : 0;
        if (secs < 0)
            return earshot__cli_usage_error("listen ", "'%s' is not a positive number", v);
        switch (c) {
        case 0:
            return 2;
        case 'h':
            fputs(listen_usage, stdout);
            return 0;
        case OPT_JSON: ctx.json = 1; break;
        case OPT_ASK_RATING: lcfg.ask_rating = 1; break;
        case OPT_VERBOSE:
            rcfg.verbose = 1;
            lcfg.quiet = 0;
            break;
        case OPT_PARTIAL:
            rcfg.on_partial = listen_partial;
            rcfg.partial_user = &ctx;
            break;
        case OPT_MLLR: rcfg.mllr = v; break;
        case OPT_PRONUNCIATIONS: rcfg.pronunciations = v; break;
        case OPT_FRONTEND:
            if ((rcfg.frontend = earshot__cli_parse_frontend(v)) < 0)
                return earshot__cli_usage_error("listen ", "--frontend is off, on or agc, not '%s'",
                                                v);
            break;
        case OPT_DEVICE: lcfg.device = v; break;
        case OPT_DB: db = v; break;
        case OPT_CHANNEL: lcfg.channel = v; break;
        case OPT_CONSENT: consent = v; break;
        case OPT_SAY_CMD: ctx.say_cmd = v; break;
        case OPT_GRAMMAR: rcfg.grammar_dir = scfg.grammar_dir = v; break;
        case OPT_MODEL: rcfg.model_dir = v; break;
        case OPT_MODEL_VOCAB:
            if ((rcfg.model_vocab = earshot__cli_parse_model_vocab(v)) < 0)
                return earshot__cli_usage_error("listen ", "--model-vocab is 'full' or a number "
                                                "of words, not '%s'", v);
            break;
        case OPT_RATE: lcfg.rate = (int)secs; break;
        case OPT_SESSION_SILENCE: lcfg.session_silence = secs; break;
        case OPT_ANSWER_TIMEOUT: lcfg.answer_timeout = secs; break;
        case OPT_MAX_SECONDS: lcfg.max_seconds = secs; break;
        case OPT_BUFFER: lcfg.ring_seconds = secs; break;
        case OPT_RETAIN_DAYS: scfg.retain_days = (int)secs; break;
        }
    }
    if (optind < argc)
        return earshot__cli_usage_error("listen ", "unexpected argument '%s'", argv[optind]);
    if (strcmp(consent, "ask") && strcmp(consent, "granted"))
        return earshot__cli_usage_error("listen ", "--consent is 'ask' or 'granted', not '%s'", consent);
    lcfg.consent_granted = !strcmp(consent, "granted");
    lcfg.on_event = on_event;
    lcfg.event_user = &ctx;
    scfg.path = db;
    scfg.on_log = earshot__cli_log_to_stderr;
    earshot_listener *l = NULL;
    if (earshot_listen_open(&l, &lcfg, &rcfg, db ? &scfg : NULL) != EARSHOT_OK) {
        earshot__cli_errorf("%s", earshot_listen_errmsg(l));
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
        earshot__cli_errorf("%s", earshot_listen_errmsg(l));
    earshot_listen_close(l);
    listening = NULL;
    return rc == EARSHOT_OK ? 0 : 1;
}
