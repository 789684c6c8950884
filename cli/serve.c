/* serve.c - `earshot serve`: the kiosk service. A Wyoming server for voice
 * assistants (service/wyoming.c) and, with --device, the kiosk's own
 * microphone through the consent dialogue of `earshot listen`; options
 * from the config file (service/config.c), the command line winning;
 * readiness and the watchdog for systemd (service/notify.c). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "config.h"
#include "earshot.h"
#include "mqtt.h"
#include "notify.h"
#include "wyoming.h"

static const char *const serve_usage =
    "usage: earshot serve [--config FILE] [--wyoming tcp://HOST:PORT] [--max-clients N]\n"
    "                     [--db PATH] [--channel NAME] [--consent ask|granted]\n"
    "                     [--retain-days N] [--raw-transcripts]\n"
    "                     [--idle-timeout S] [--read-timeout S]\n"
    "                     [--device NAME|INDEX] [--rate HZ] [--session-silence S]\n"
    "                     [--answer-timeout S] [--max-seconds S] [--ask-rating]\n"
    "                     [--grammar DIR] [--model DIR] [--model-vocab full|N]\n"
    "                     [--frontend off|on|agc] [--mllr FILE] [--pronunciations FILE]\n"
    "                     [--mqtt mqtt://HOST:PORT] [--verbose]\n"
    "\n"
    "Runs Earshot as a service. --wyoming serves speech to text and intents to\n"
    "voice assistants (Home Assistant, Rhasspy 3) over the Wyoming protocol, one\n"
    "recogniser per connection, at most --max-clients (4) at once. --device\n"
    "also listens to the kiosk's microphone as `earshot listen` does.\n"
    "With --db, each Wyoming connection that sends audio is a customer session:\n"
    "with --consent ask (the default) nothing is kept until a spoken yes; with\n"
    "--consent granted (consent given elsewhere, e.g. a sign) it is stored at\n"
    "once. Without --db nothing is stored. Transcripts are redacted unless\n"
    "--raw-transcripts.\n"
    "--mqtt publishes consented sessions' events (Hermes topics, QoS 1) through\n"
    "the database's outbox, so it needs --db; an absent broker loses nothing.\n"
    "Options are read first from --config FILE (default " EARSHOT_CONFIG_DEFAULT
    ", if it\n"
    "exists): one KEY = VALUE per option, in a [serve] section; the command line wins.\n"
    "Under systemd (Type=notify) it reports readiness and feeds the watchdog.\n";

/* Every option, and so every config key ("config" itself is not a key). */
static const earshot_option serve_options[] = {
    {"wyoming", 1},        {"max-clients", 1},     {"db", 1},
    {"channel", 1},        {"consent", 1},         {"retain-days", 1},
    {"raw-transcripts", 0}, {"idle-timeout", 1},   {"read-timeout", 1},
    {"device", 1},         {"rate", 1},            {"session-silence", 1},
    {"answer-timeout", 1}, {"max-seconds", 1},     {"ask-rating", 0},
    {"grammar", 1},        {"model", 1},           {"model-vocab", 1},
    {"frontend", 1},       {"mllr", 1},            {"pronunciations", 1},
    {"verbose", 0},        {"mqtt", 1},            {NULL, 0},
};

/* The hooks every service reports to: the MQTT publisher (issue 16,
 * item 2) wires itself in here, one line. */
static earshot_service_events serve_events;

static earshot_wyoming *serving;
static earshot_listener *kiosk;
static volatile sig_atomic_t stop_requested;

static void errorf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("earshot: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* Where the option being checked came from: a value read from the config
 * file is reported as FILE:LINE, one line (docs/STYLE.md), since the
 * command line's usage hint would not help there. */
static const char *cfg_path;
static const int *cfg_lines;
static int usage_at = -1; /* index in serve_main's argv; -1: none */

static int usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int line = usage_at >= 0 && cfg_lines ? cfg_lines[usage_at] : 0;
    if (line > 0)
        fprintf(stderr, "earshot: %s:%d: ", cfg_path, line);
    else
        fputs("earshot serve: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(line > 0 ? "\n" : "\nTry 'earshot serve --help'.\n", stderr);
    return 2;
}

static void on_signal(int sig)
{
    (void)sig;
    if (stop_requested++ > 0)
        _exit(130);
    earshot_wyoming_stop(serving);
    earshot_listen_stop(kiosk);
}

static int verbose;

static void log_line(int level, const char *msg, void *user)
{
    (void)user;
    if (level <= EARSHOT_LOG_WARN || verbose)
        errorf("%s", msg);
}

static double parse_number(const char *v, double max)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    return errno || end == v || *end || !(d > 0) || d > max ? -1 : d;
}

/* The kiosk's microphone, through the listener: its events go to the
 * same hooks as the Wyoming sessions'. */
static void kiosk_event(const earshot_event *ev, void *user)
{
    const char *channel = user;
    const earshot_service_events *h = &serve_events;
    switch (ev->kind) {
    case EARSHOT_EVENT_UTTERANCE: {
        const earshot_utterance *u = ev->utterance;
        if (verbose)
            errorf("[%lld] %s", (long long)ev->session,
                   u->text_redacted ? u->text_redacted : "[NOT SHOWN]");
        int consented = ev->heard == EARSHOT_HEARD_STORED || ev->heard == EARSHOT_HEARD_QUEUED ||
                        ev->heard == EARSHOT_HEARD_CONSENTED;
        if (h->on_utterance)
            h->on_utterance(ev->session, channel, u, ev->heard, consented, h->user);
        if (h->on_consent &&
            (ev->heard == EARSHOT_HEARD_CONSENTED || ev->heard == EARSHOT_HEARD_DECLINED ||
             ev->heard == EARSHOT_HEARD_FORGOTTEN || ev->heard == EARSHOT_HEARD_REVIEW))
            h->on_consent(ev->session, channel, ev->heard, h->user);
        break;
    }
    case EARSHOT_EVENT_SESSION_BEGIN:
        if (h->on_session_begin)
            h->on_session_begin(ev->session, channel, h->user);
        break;
    case EARSHOT_EVENT_SESSION_END:
        if (h->on_session_end)
            h->on_session_end(ev->session, channel, h->user);
        break;
    case EARSHOT_EVENT_CONSENT_PROMPT:
    case EARSHOT_EVENT_CONFIRM_PROMPT:
    case EARSHOT_EVENT_RATING_PROMPT:
        errorf("[%lld] asking: %s", (long long)ev->session, ev->message);
        break;
    case EARSHOT_EVENT_TROUBLE:
    case EARSHOT_EVENT_RECOVERED:
        errorf("%s", ev->message);
        break;
    }
}

typedef struct kiosk_thread {
    earshot_listener *l;
    int rc;
    volatile int done;
} kiosk_thread;

static void *kiosk_main(void *arg)
{
    kiosk_thread *k = arg;
    k->rc = earshot_listen_run(k->l);
    if (k->rc != EARSHOT_OK)
        errorf("%s", earshot_listen_errmsg(k->l));
    k->done = 1;
    return NULL;
}

static void tick(void *user)
{
    (void)user;
    earshot_notify_watchdog();
}

static int serve_main(int argc, char **argv)
{
    earshot_wyoming_config wcfg = earshot_wyoming_config_default();
    earshot_listen_config lcfg = earshot_listen_config_default();
    earshot_store_config scfg = earshot_store_config_default();
    earshot_config *rcfg = &wcfg.recognizer;
    const char *wyoming = NULL, *db = NULL, *consent = "ask", *device = NULL;
    const char *channel = NULL, *mqtt = NULL;
    int consent_at = -1, wyoming_at = -1, mqtt_at = -1, retain_at = -1;
    char host[256];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        usage_at = i; /* an option and its value share their line */
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(serve_usage, stdout);
            return 0;
        }
        if (!strcmp(a, "--config")) { /* read already */
            i++;
            continue;
        }
        const earshot_option *o = serve_options;
        while (o->name && (strncmp(a, "--", 2) || strcmp(a + 2, o->name)))
            o++;
        if (!o->name)
            return usage("unexpected argument '%s'", a);
        if (!o->has_value) {
            if (!strcmp(o->name, "raw-transcripts"))
                wcfg.raw_transcripts = 1;
            else if (!strcmp(o->name, "ask-rating"))
                lcfg.ask_rating = 1;
            else
                verbose = rcfg->verbose = 1, lcfg.quiet = 0;
            continue;
        }
        if (i + 1 >= argc)
            return usage("option '%s' needs a value", a);
        const char *v = argv[++i];
        const char *n = o->name;
        double num = parse_number(v, 1e7);
        if (!strcmp(n, "wyoming")) wyoming = v, wyoming_at = i;
        else if (!strcmp(n, "db")) db = v;
        else if (!strcmp(n, "mqtt")) mqtt = v, mqtt_at = i;
        else if (!strcmp(n, "channel")) channel = v;
        else if (!strcmp(n, "consent")) consent = v, consent_at = i;
        else if (!strcmp(n, "device")) device = v;
        else if (!strcmp(n, "grammar")) rcfg->grammar_dir = scfg.grammar_dir = v;
        else if (!strcmp(n, "model")) rcfg->model_dir = v;
        else if (!strcmp(n, "mllr")) rcfg->mllr = v;
        else if (!strcmp(n, "pronunciations")) rcfg->pronunciations = v;
        else if (!strcmp(n, "frontend")) {
            if (!strcmp(v, "off")) rcfg->frontend = EARSHOT_FRONTEND_OFF;
            else if (!strcmp(v, "on")) rcfg->frontend = EARSHOT_FRONTEND_DENOISE;
            else if (!strcmp(v, "agc")) rcfg->frontend = EARSHOT_FRONTEND_DENOISE_AGC;
            else return usage("--frontend is off, on or agc, not '%s'", v);
        } else if (!strcmp(n, "model-vocab")) {
            if (!strcmp(v, "full")) rcfg->model_vocab = EARSHOT_MODEL_VOCAB_FULL;
            else if (num >= 1000 && num == (int)num) rcfg->model_vocab = (int)num;
            else return usage("--model-vocab is 'full' or a number of words, not '%s'", v);
        } else if (num < 0) {
            return usage("--%s needs a positive number, not '%s'", n, v);
        } else if (!strcmp(n, "max-clients")) {
            if (num != (int)num || num > 256) return usage("--max-clients is 1 to 256, not '%s'", v);
            wcfg.max_clients = (int)num;
        } else if (!strcmp(n, "retain-days")) scfg.retain_days = (int)num, retain_at = i;
        else if (!strcmp(n, "idle-timeout")) wcfg.idle_timeout = num;
        else if (!strcmp(n, "read-timeout")) wcfg.read_timeout = num;
        else if (!strcmp(n, "rate")) lcfg.rate = (int)num;
        else if (!strcmp(n, "session-silence")) lcfg.session_silence = num;
        else if (!strcmp(n, "answer-timeout")) lcfg.answer_timeout = num;
        else if (!strcmp(n, "max-seconds")) lcfg.max_seconds = num;
    }
    usage_at = consent_at;
    if (strcmp(consent, "ask") && strcmp(consent, "granted"))
        return usage("--consent is 'ask' or 'granted', not '%s'", consent);
    usage_at = -1;
    if (!wyoming && !device)
        return usage("%s", "nothing to serve: give --wyoming tcp://HOST:PORT and/or --device");
    usage_at = wyoming_at;
    if (wyoming && earshot_wyoming_parse_uri(wyoming, host, sizeof host, &wcfg.port))
        return usage("--wyoming is tcp://HOST:PORT, not '%s'", wyoming);
    usage_at = retain_at;
    if (!db && scfg.retain_days > 0)
        return usage("%s", "--retain-days needs --db");
    usage_at = mqtt_at;
    if (mqtt && !db)
        return usage("%s", "--mqtt needs --db (events wait in the database's outbox)");
    char mhost[256];
    int mport;
    if (mqtt && earshot_mqtt_parse_uri(mqtt, mhost, sizeof mhost, &mport))
        return usage("--mqtt is mqtt://HOST:PORT, not '%s'", mqtt);
    usage_at = -1;
    scfg.path = db;
    scfg.on_log = log_line;
    earshot_mqtt *pub = NULL;
    char merr[600];
    if (mqtt && earshot_mqtt_open(&pub, mqtt, NULL, &scfg, merr, sizeof merr)) {
        errorf("%s", merr);
        return 1;
    }
    if (pub)
        serve_events = earshot_mqtt_events(pub);
    wcfg.host = host;
    wcfg.store = db ? &scfg : NULL;
    wcfg.consent_granted = !strcmp(consent, "granted");
    wcfg.channel = channel ? channel : "wyoming";
    wcfg.events = serve_events;
    wcfg.on_log = log_line;
    wcfg.on_tick = tick;
    rcfg->on_log = log_line;

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    char err[600];
    earshot_wyoming *w = NULL;
    if (wyoming && earshot_wyoming_open(&w, &wcfg, err, sizeof err) != EARSHOT_OK) {
        errorf("%s", err);
        earshot_mqtt_close(pub);
        return 1;
    }
    kiosk_thread kt = {0};
    pthread_t kth;
    int kiosk_started = 0;
    if (device) {
        lcfg.device = device;
        lcfg.channel = channel ? channel : "kiosk";
        lcfg.consent_granted = wcfg.consent_granted;
        lcfg.on_event = kiosk_event;
        lcfg.event_user = (void *)lcfg.channel;
        earshot_config kcfg = *rcfg;
        if (earshot_listen_open(&kt.l, &lcfg, &kcfg, db ? &scfg : NULL) != EARSHOT_OK) {
            errorf("%s", earshot_listen_errmsg(kt.l));
            earshot_listen_close(kt.l);
            earshot_wyoming_close(w);
            return 1;
        }
        kiosk = kt.l;
        if (pthread_create(&kth, NULL, kiosk_main, &kt) != 0) {
            errorf("cannot start the listener thread");
            earshot_listen_close(kt.l);
            earshot_wyoming_close(w);
            return 1;
        }
        kiosk_started = 1;
        errorf("listening on %s at %d Hz%s", earshot_listen_device(kt.l),
               earshot_listen_rate(kt.l), db ? "" : "; nothing is stored without --db");
    }
    serving = w;
    char status[400];
    if (w) {
        snprintf(status, sizeof status, "serving Wyoming on tcp://%s:%d (at most %d clients)%s",
                 host, earshot_wyoming_port(w), wcfg.max_clients,
                 db ? "" : "; nothing is stored without --db");
        errorf("%s", status);
    } else {
        snprintf(status, sizeof status, "listening on %s", earshot_listen_device(kt.l));
    }
    earshot_notify_ready(status);
    if (stop_requested) { /* a signal before the pointers were set */
        earshot_wyoming_stop(w);
        earshot_listen_stop(kt.l);
    }
    if (w)
        earshot_wyoming_run(w);
    else
        while (!stop_requested && !kt.done) {
            sleep(1);
            earshot_notify_watchdog();
        }
    earshot_notify_stopping();
    int rc = 0;
    if (kiosk_started) {
        earshot_listen_stop(kt.l);
        pthread_join(kth, NULL);
        rc = kt.rc != EARSHOT_OK;
        kiosk = NULL;
        earshot_listen_close(kt.l);
    }
    serving = NULL;
    earshot_wyoming_close(w);
    /* A moment for the last events' acknowledgements; the rest waits in
     * the outbox for the next start. */
    if (pub && earshot_mqtt_drain(pub, 2.0) > 0)
        errorf("mqtt: events not yet acknowledged stay in the outbox");
    earshot_mqtt_close(pub);
    return rc;
}

int earshot_cmd_serve(int argc, char **argv)
{
    /* --config FILE (the last one given) is read before anything else;
     * without it the default file is read if it exists. */
    const char *path = EARSHOT_CONFIG_DEFAULT;
    int required = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(serve_usage, stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--config")) {
            if (i + 1 >= argc)
                return usage("option '%s' needs a file", "--config");
            path = argv[++i];
            required = 1;
        }
    }
    int ac = 0, *lines = NULL;
    char **av = NULL, err[700];
    if (earshot_config_load(path, required, "serve", serve_options, argc, argv, &ac, &av, &lines,
                            err, sizeof err)) {
        errorf("%s", err);
        return 2;
    }
    cfg_path = path;
    cfg_lines = lines;
    int rc = serve_main(ac, av);
    cfg_lines = NULL;
    usage_at = -1;
    free(lines);
    earshot_config_free_argv(ac, av, argc);
    return rc;
}
