/* listen.c - the kiosk engine: capture -> ring buffer -> recogniser ->
 * consent dialogue -> storage, with sessions that begin when someone
 * speaks and end after silence.
 *
 * Threads: PortAudio's callback only fills the ring (audio/capture.c);
 * everything here runs on the thread that called earshot_listen_run().
 * Time is counted in audio seconds fed to the recogniser, not wall time,
 * so session timeouts behave the same on a live microphone and on a
 * test device that delivers a file faster than real time. */
#include "earshot.h"
#include "capture.h"
#include "resample.h"
#include "ring.h"

#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { CHUNK = 4096 };

typedef enum { IDLE, AWAITING, ACTIVE, DECLINED } session_state;

struct earshot_listener {
    earshot_listen_config cfg;
    char *device, *channel, *prompt, *confirm_prompt;
    earshot *rec;
    earshot_store *store; /* NULL: nothing is kept */
    earshot__ring ring;
    earshot__capture *cap;
    earshot__resampler *rs;
    int rs_rate;
    _Atomic int stop;
    /* sessions */
    session_state state;
    int64_t session;
    int64_t local_sessions; /* without a store, sessions are numbered here */
    double base;            /* audio seconds before the recogniser's stream began */
    double last_speech;     /* end of the last utterance, audio seconds */
    double asked_at;        /* when the consent prompt went out */
    /* An erasure waiting for the customer's yes (EARSHOT_ASK_CONFIRM_FORGET
     * is set on the recogniser meanwhile); confirm_at is when it was asked. */
    int confirming;
    double confirm_at;
    size_t dropped_seen;
    time_t dropped_said;    /* overflow is reported at most every 5 s */
    int rc;                 /* first fatal error seen inside a callback */
    char errmsg[1024];
};

static double now_audio(earshot_listener *l);

static void emit(earshot_listener *l, earshot_event_kind kind, const earshot_utterance *u,
                 earshot_heard heard, const char *fmt, ...)
{
    if (!l->cfg.on_event)
        return;
    char msg[1024] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
    }
    earshot_event ev = {.kind = kind, .session = l->session, .utterance = u, .heard = heard,
                        .message = msg, .at = l->rec ? now_audio(l) : 0};
    l->cfg.on_event(&ev, l->cfg.event_user);
}

earshot_listen_config earshot_listen_config_default(void)
{
    return (earshot_listen_config){
        .device = NULL,
        .rate = 0,
        .consent_granted = 0,
        .consent_prompt = "Hello! May we keep what you say to improve our service? "
                          "Say yes or no. You can say forget me at any time.",
        .confirm_prompt = "Shall I delete everything you said today? Say yes or no.",
        .channel = "kiosk",
        .session_silence = 20.0,
        .answer_timeout = 15.0,
        .max_seconds = 0,
        .ring_seconds = 10.0,
        .quiet = 1,
        .on_event = NULL,
        .event_user = NULL,
    };
}

static double now_audio(earshot_listener *l)
{
    return l->base + earshot_stream_seconds(l->rec);
}

/* The question pending on the recogniser, so the next answer is read
 * against it (earshot_question). */
static void set_pending(earshot_listener *l, earshot_question q)
{
    earshot_set_question(l->rec, q);
}

static void end_session(earshot_listener *l, const char *why)
{
    /* Whatever was pending is no longer asked: silence is never a yes. */
    l->confirming = 0;
    set_pending(l, EARSHOT_ASK_NONE);
    if (l->state == IDLE)
        return;
    if (l->store && l->session > 0)
        earshot_session_end(l->store, l->session);
    emit(l, EARSHOT_EVENT_SESSION_END, NULL, EARSHOT_HEARD_DROPPED, "%s", why);
    l->state = IDLE;
    l->session = 0;
}

static int begin_session(earshot_listener *l)
{
    if (l->store) {
        int rc = earshot_session_begin(l->store, l->channel, &l->session);
        if (rc == EARSHOT_OK && l->cfg.consent_granted)
            rc = earshot_consent_grant(l->store, l->session, EARSHOT_SCOPE_TRANSCRIPTS,
                                       EARSHOT_BY_ELSEWHERE, NULL);
        if (rc != EARSHOT_OK) {
            emit(l, EARSHOT_EVENT_TROUBLE, NULL, EARSHOT_HEARD_DROPPED, "%s",
                 earshot_store_errmsg(l->store));
            return rc;
        }
    } else {
        l->session = ++l->local_sessions;
    }
    l->state = l->cfg.consent_granted || !l->store ? ACTIVE : AWAITING;
    emit(l, EARSHOT_EVENT_SESSION_BEGIN, NULL, EARSHOT_HEARD_DROPPED, NULL);
    return EARSHOT_OK;
}

/* One utterance from the recogniser: open a session if none, let the
 * store decide (consent, forget, keep), tell the app. */
static int on_utterance(const earshot_utterance *u, void *user)
{
    earshot_listener *l = user;
    earshot_utterance copy = *u;
    copy.start += l->base;
    copy.end += l->base;
    int ask = 0;
    if (l->state == IDLE) {
        if (begin_session(l) != EARSHOT_OK)
            return 0;
        ask = l->state == AWAITING;
        l->asked_at = copy.end;
    }
    l->last_speech = copy.end;
    earshot_heard heard = EARSHOT_HEARD_DROPPED;
    const earshot_analysis *an = copy.analysis;
    if (l->confirming) {
        /* The answer to "Shall I delete everything?": only a yes erases.
         * Anything else keeps what was said; an utterance that is no
         * answer at all is then heard as usual. */
        l->confirming = 0;
        set_pending(l, EARSHOT_ASK_NONE);
        if (an && (an->answer == EARSHOT_ANSWER_YES || !strcmp(an->intent, "forget_me"))) {
            earshot_forget_what w = {.session = l->session};
            int rc = earshot_forget(l->store, &w, NULL, NULL);
            if (rc != EARSHOT_OK)
                emit(l, EARSHOT_EVENT_TROUBLE, NULL, heard, "%s", earshot_store_errmsg(l->store));
            else
                heard = EARSHOT_HEARD_FORGOTTEN;
            emit(l, EARSHOT_EVENT_UTTERANCE, &copy, heard, NULL);
            if (rc == EARSHOT_OK)
                l->state = DECLINED;
            return 0;
        }
        if (an && an->answer == EARSHOT_ANSWER_NO) {
            emit(l, EARSHOT_EVENT_UTTERANCE, &copy, heard, NULL);
            return 0;
        }
    }
    /* No destructive act on a guess: once something is kept, a forget_me
     * or a revocation is first confirmed by voice. Before consent nothing
     * is kept, so a "no" or "forget me" then destroys nothing and is
     * carried out at once. */
    if (l->store && l->state == ACTIVE && an &&
        (!strcmp(an->intent, "forget_me") || !strcmp(an->intent, "consent_no"))) {
        emit(l, EARSHOT_EVENT_UTTERANCE, &copy, heard, NULL);
        l->confirming = 1;
        l->confirm_at = copy.end;
        set_pending(l, EARSHOT_ASK_CONFIRM_FORGET);
        emit(l, EARSHOT_EVENT_CONFIRM_PROMPT, NULL, EARSHOT_HEARD_DROPPED, "%s",
             l->confirm_prompt);
        return 0;
    }
    if (l->store && l->state != DECLINED) {
        int rc = earshot_store_utterance(l->store, l->session, &copy, NULL, 0, &heard);
        if (rc != EARSHOT_OK)
            emit(l, EARSHOT_EVENT_TROUBLE, NULL, heard, "%s", earshot_store_errmsg(l->store));
    }
    emit(l, EARSHOT_EVENT_UTTERANCE, &copy, heard, NULL);
    switch (heard) {
    case EARSHOT_HEARD_CONSENTED:
        l->state = ACTIVE;
        ask = 0;
        set_pending(l, EARSHOT_ASK_NONE);
        break;
    case EARSHOT_HEARD_DECLINED:
    case EARSHOT_HEARD_FORGOTTEN:
        /* Nothing more is kept from this person; the session stays
         * "declined" until silence, so they are not asked again. */
        if (l->store && l->session > 0)
            earshot_session_end(l->store, l->session);
        l->state = DECLINED;
        ask = 0;
        set_pending(l, EARSHOT_ASK_NONE);
        break;
    default:
        break;
    }
    /* The first words open the session; the question comes after them,
     * unless they already answered it. */
    if (ask) {
        emit(l, EARSHOT_EVENT_CONSENT_PROMPT, NULL, EARSHOT_HEARD_DROPPED, "%s", l->prompt);
        set_pending(l, EARSHOT_ASK_CONSENT);
    }
    return 0;
}

static void check_timeouts(earshot_listener *l)
{
    double t = now_audio(l);
    if (earshot_in_speech(l->rec))
        return; /* someone is talking: no timeout runs */
    if (l->confirming && t - l->confirm_at > l->cfg.answer_timeout) {
        /* No answer to the confirmation: nothing is erased. */
        l->confirming = 0;
        set_pending(l, EARSHOT_ASK_NONE);
    }
    if (l->state == AWAITING && t - l->asked_at > l->cfg.answer_timeout)
        end_session(l, "no answer to the consent question: nothing kept");
    else if (l->state != IDLE && t - l->last_speech > l->cfg.session_silence)
        end_session(l, l->state == ACTIVE ? "silence" : "silence (nothing kept)");
}

static int set_error(earshot_listener *l, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->errmsg, sizeof l->errmsg, fmt, ap);
    va_end(ap);
    return rc;
}

static char *dup0(const char *s)
{
    return s ? strdup(s) : NULL;
}

int earshot_listen_open(earshot_listener **out, const earshot_listen_config *lcfg,
                        const earshot_config *rcfg, const earshot_store_config *scfg)
{
    if (!out)
        return EARSHOT_MISUSE;
    earshot_listener *l = calloc(1, sizeof *l);
    *out = l;
    if (!l)
        return EARSHOT_NOMEM;
    if (!lcfg || !rcfg)
        return set_error(l, EARSHOT_MISUSE, "earshot_listen_open: a config is NULL");
    l->cfg = *lcfg;
    l->device = dup0(lcfg->device);
    l->channel = dup0(lcfg->channel ? lcfg->channel : "kiosk");
    l->prompt = dup0(lcfg->consent_prompt ? lcfg->consent_prompt : "");
    l->confirm_prompt = dup0(lcfg->confirm_prompt
                                 ? lcfg->confirm_prompt
                                 : earshot_listen_config_default().confirm_prompt);
    if ((lcfg->device && !l->device) || !l->channel || !l->prompt || !l->confirm_prompt)
        return set_error(l, EARSHOT_NOMEM, "out of memory");
    if (!rcfg->analyze && scfg && !lcfg->consent_granted)
        return set_error(l, EARSHOT_MISUSE, "asking for consent needs analysis (analyze = 1)");
    earshot_config rc2 = *rcfg;
    rc2.on_utterance = on_utterance;
    rc2.utterance_user = l;
    int rc = earshot_open(&l->rec, &rc2);
    if (rc != EARSHOT_OK)
        return set_error(l, rc, "%s", earshot_errmsg(l->rec));
    if (scfg) {
        rc = earshot_store_open(&l->store, scfg);
        if (rc != EARSHOT_OK)
            return set_error(l, rc, "%s", earshot_store_errmsg(l->store));
    }
    double secs = lcfg->ring_seconds > 1 ? lcfg->ring_seconds : 1;
    if (!earshot__ring_init(&l->ring, (size_t)(secs * 48000)))
        return set_error(l, EARSHOT_NOMEM, "out of memory");
    /* The device opens here, so a missing one is reported before run. */
    rc = earshot__capture_open(&l->cap, l->device, lcfg->rate, lcfg->quiet, &l->ring, l->errmsg,
                               sizeof l->errmsg);
    return rc;
}

const char *earshot_listen_errmsg(const earshot_listener *l)
{
    if (!l)
        return "out of memory";
    return l->errmsg[0] ? l->errmsg : "not an error";
}

const char *earshot_listen_device(const earshot_listener *l)
{
    return l && l->cap ? earshot__capture_name(l->cap) : "";
}

int earshot_listen_rate(const earshot_listener *l)
{
    return l && l->cap ? earshot__capture_rate(l->cap) : 0;
}


void earshot_listen_stop(earshot_listener *l)
{
    if (l)
        atomic_store(&l->stop, 1);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Feeds captured float samples at the device rate: resampled to 16 kHz,
 * converted to int16, into the recogniser. */
static int feed(earshot_listener *l, const float *x, size_t n)
{
    int rate = earshot__capture_rate(l->cap);
    float res[CHUNK * 4];
    int16_t pcm[CHUNK * 4];
    const float *src = x;
    size_t m = n;
    if (rate != EARSHOT_SAMPLE_RATE) {
        if (!l->rs || l->rs_rate != rate) {
            earshot__resampler_free(l->rs);
            l->rs = earshot__resampler_new(rate, EARSHOT_SAMPLE_RATE);
            l->rs_rate = rate;
            if (!l->rs)
                return set_error(l, EARSHOT_NOMEM, "cannot resample from %d Hz", rate);
        }
        long k = earshot__resampler_run(l->rs, x, n, 0, res, sizeof res / sizeof *res);
        if (k < 0)
            return set_error(l, EARSHOT_IO, "resampling failed");
        src = res;
        m = (size_t)k;
    }
    for (size_t i = 0; i < m; i++) {
        float v = src[i] * 32768.0f;
        pcm[i] = (int16_t)(v > 32767.0f ? 32767 : v < -32768.0f ? -32768 : lrintf(v));
    }
    int rc = earshot_feed(l->rec, pcm, m);
    return rc == EARSHOT_STOPPED ? EARSHOT_OK : rc;
}

/* The device stopped: finish what was heard, then reopen with backoff
 * until it is back or we are told to stop. */
static int recover(earshot_listener *l)
{
    emit(l, EARSHOT_EVENT_TROUBLE, NULL, EARSHOT_HEARD_DROPPED,
         "%s: capture stopped (device gone?); what was heard is kept; retrying",
         earshot__capture_name(l->cap));
    double t = now_audio(l);
    earshot_flush(l->rec);
    l->base = t;
    char name[256];
    snprintf(name, sizeof name, "%s", earshot__capture_name(l->cap));
    int released = earshot__capture_close_lost(l->cap, 3.0);
    l->cap = NULL;
    if (!released)
        return set_error(l, EARSHOT_IO,
                         "%s: capture device lost and the sound system does not let go of it; "
                         "stopping (what was heard is stored)", name);
    long wait = 250;
    while (!atomic_load(&l->stop)) {
        for (long slept = 0; slept < wait && !atomic_load(&l->stop); slept += 50)
            sleep_ms(50);
        if (atomic_load(&l->stop))
            break;
        char err[512];
        if (earshot__capture_open(&l->cap, l->device ? l->device : name, l->cfg.rate,
                                  l->cfg.quiet, &l->ring, err, sizeof err) == EARSHOT_OK) {
            emit(l, EARSHOT_EVENT_RECOVERED, NULL, EARSHOT_HEARD_DROPPED, "%s: capturing again",
                 earshot__capture_name(l->cap));
            return EARSHOT_OK;
        }
        wait = wait * 2 > 2000 ? 2000 : wait * 2;
    }
    return EARSHOT_OK;
}

int earshot_listen_run(earshot_listener *l)
{
    if (!l || !l->rec || !l->cap)
        return EARSHOT_MISUSE;
    float buf[CHUNK];
    int rc = EARSHOT_OK;
    long idle_ms = 0;
    while (!atomic_load(&l->stop)) {
        if (l->cfg.max_seconds > 0 && now_audio(l) >= l->cfg.max_seconds)
            break;
        size_t want = CHUNK;
        if (l->cfg.max_seconds > 0) {
            /* Stop exactly at max_seconds of audio. */
            double left = (l->cfg.max_seconds - now_audio(l)) * earshot__capture_rate(l->cap);
            if (left < want)
                want = left < 1 ? 1 : (size_t)left;
        }
        size_t n = earshot__ring_read(&l->ring, buf, want);
        size_t dropped = atomic_load(&l->ring.dropped);
        time_t wall = time(NULL);
        if (dropped != l->dropped_seen && wall - l->dropped_said >= 5) {
            l->dropped_said = wall;
            emit(l, EARSHOT_EVENT_TROUBLE, NULL, EARSHOT_HEARD_DROPPED,
                 "capture overflow: %zu samples dropped so far (decoding fell behind)", dropped);
            l->dropped_seen = dropped;
        }
        if (n == 0) {
            if (!earshot__capture_alive(l->cap) || idle_ms > 5000) {
                if ((rc = recover(l)) != EARSHOT_OK)
                    break;
                idle_ms = 0;
                continue;
            }
            sleep_ms(10);
            idle_ms += 10;
            check_timeouts(l);
            continue;
        }
        idle_ms = 0;
        if ((rc = feed(l, buf, n)) != EARSHOT_OK)
            break;
        check_timeouts(l);
    }
    /* Finish the utterance in flight; it is stored if consented. */
    int frc = earshot_flush(l->rec);
    if (rc == EARSHOT_OK && frc != EARSHOT_OK && frc != EARSHOT_STOPPED)
        rc = set_error(l, frc, "%s", earshot_errmsg(l->rec));
    end_session(l, "listener stopped");
    if (l->store && earshot_store_queued(l->store) > 0 &&
        earshot_store_retry(l->store) != EARSHOT_OK)
        emit(l, EARSHOT_EVENT_TROUBLE, NULL, EARSHOT_HEARD_DROPPED, "%s",
             earshot_store_errmsg(l->store));
    return rc;
}

void earshot_listen_close(earshot_listener *l)
{
    if (!l)
        return;
    earshot__capture_close(l->cap);
    earshot__resampler_free(l->rs);
    earshot__ring_free(&l->ring);
    earshot_store_close(l->store);
    earshot_close(l->rec);
    free(l->device);
    free(l->channel);
    free(l->prompt);
    free(l->confirm_prompt);
    free(l);
}
