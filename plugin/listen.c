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
    char *device, *channel, *prompt, *confirm_prompt, *rating_prompt, *reask_prompt;
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
    /* The listener's own question waiting for an answer (also set on the
     * recogniser, so the answer is read against it), when it was put, and
     * whether it was already asked a second time. */
    earshot_question pending;
    double asked_at;
    int reasked;
    /* An erasure waiting for the customer's yes (pending is
     * EARSHOT_ASK_CONFIRM_FORGET meanwhile), and the request's figures, for
     * a request to review when no clear answer comes. */
    int confirming;
    char forget_intent[64];
    double forget_confidence, forget_words;
    int rating_asked;       /* the rating question went out in this session */
    double unclear;         /* the recogniser's unclear_confidence */
    /* Speech the recogniser found no words in (a cough, a mumble, noise)
     * is no utterance; counting utterances across a stretch of speech
     * tells it apart, so a question it answered can be asked again. */
    int in_speech;
    unsigned long utterances, utterances_at_speech;
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
        .ask_rating = 0,
        .rating_prompt = "On a scale from zero to ten, how likely are you to recommend us "
                         "to a friend?",
        .reask_prompt = "Sorry, I didn't catch that.",
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
    l->pending = q;
    earshot_set_question(l->rec, q);
}

/* Puts a question to the customer (again, with repeat: prefixed by the
 * re-ask prompt) and waits answer_timeout for the answer from at. */
static void ask(earshot_listener *l, earshot_question q, int repeat, double at)
{
    const char *text = q == EARSHOT_ASK_CONSENT          ? l->prompt
                       : q == EARSHOT_ASK_CONFIRM_FORGET ? l->confirm_prompt
                                                         : l->rating_prompt;
    earshot_event_kind kind = q == EARSHOT_ASK_CONSENT          ? EARSHOT_EVENT_CONSENT_PROMPT
                              : q == EARSHOT_ASK_CONFIRM_FORGET ? EARSHOT_EVENT_CONFIRM_PROMPT
                                                                : EARSHOT_EVENT_RATING_PROMPT;
    set_pending(l, q);
    l->reasked = repeat;
    l->asked_at = at;
    if (q == EARSHOT_ASK_RATING)
        l->rating_asked = 1;
    if (!l->cfg.on_event)
        return;
    char msg[2048];
    if (repeat && l->reask_prompt[0])
        snprintf(msg, sizeof msg, "%s %s", l->reask_prompt, text);
    else
        snprintf(msg, sizeof msg, "%s", text);
    earshot_event ev = {.kind = kind, .session = l->session, .heard = EARSHOT_HEARD_DROPPED,
                        .message = msg, .at = now_audio(l), .question = q, .repeat = repeat};
    l->cfg.on_event(&ev, l->cfg.event_user);
}

static void end_session(earshot_listener *l, const char *why)
{
    /* Whatever was pending is no longer asked: silence is never a yes. */
    l->confirming = 0;
    set_pending(l, EARSHOT_ASK_NONE);
    l->reasked = 0;
    l->rating_asked = 0;
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

/* Whether the listener caught an answer to its question: only from audio
 * judged ok, with words the recogniser did not doubt. In noise the open
 * search makes answers out of nothing: the shop's radio alone gave a
 * confident "yeah" (consent_yes) in 8 of 12 clips, babble alone a rating
 * in 4 of 12, always with the verdict noisy; the answers it heard right in
 * the same noise were all judged ok, so this gate cost none of them
 * (bench/answer_search.c, README "Answers in noise"). Anything else is
 * asked for again rather than guessed. Clear speech that is no answer
 * ("what time do you open?") counts as caught: the customer talks on and
 * the question stays pending until answer_timeout. */
static int caught(const earshot_listener *l, const earshot_utterance *u)
{
    return u->quality == EARSHOT_QUALITY_OK && !(u->n_words && u->confidence < l->unclear);
}

/* The request to erase was never clearly confirmed: nothing is erased, and
 * the request is recorded for a person to review, with its own figures. */
static void forget_unconfirmed(earshot_listener *l)
{
    l->confirming = 0;
    set_pending(l, EARSHOT_ASK_NONE);
    if (!l->store || l->session <= 0)
        return;
    earshot_analysis an = {.intent = l->forget_intent, .confidence = l->forget_confidence,
                           .score = -1};
    earshot_utterance req = {.text = "", .confidence = l->forget_words, .analysis = &an};
    if (earshot_store_review(l->store, l->session, &req) != EARSHOT_OK)
        emit(l, EARSHOT_EVENT_TROUBLE, NULL, EARSHOT_HEARD_DROPPED, "%s",
             earshot_store_errmsg(l->store));
}

/* The pending question's answer was not caught: asked once more, then
 * treated as no answer (see earshot_listen_config.reask_prompt). */
static void not_caught(earshot_listener *l, double at)
{
    earshot_question q = l->pending;
    if (q == EARSHOT_ASK_NONE)
        return;
    if (!l->reasked) {
        ask(l, q, 1, at);
        return;
    }
    switch (q) {
    case EARSHOT_ASK_CONSENT:
        end_session(l, "no clear answer to the consent question: nothing kept");
        break;
    case EARSHOT_ASK_CONFIRM_FORGET:
        forget_unconfirmed(l);
        break;
    default:
        set_pending(l, EARSHOT_ASK_NONE);
        break;
    }
}

/* One utterance from the recogniser: open a session if none, let the
 * store decide (consent, forget, keep), tell the app. */
static int on_utterance(const earshot_utterance *u, void *user)
{
    earshot_listener *l = user;
    earshot_utterance copy = *u;
    copy.start += l->base;
    copy.end += l->base;
    l->utterances++;
    int ask_consent = 0;
    if (l->state == IDLE) {
        if (begin_session(l) != EARSHOT_OK)
            return 0;
        ask_consent = l->state == AWAITING;
    }
    l->last_speech = copy.end;
    earshot_heard heard = EARSHOT_HEARD_DROPPED;
    const earshot_analysis *an = copy.analysis;
    /* The question this utterance answers, if the listener asked one. */
    earshot_question q = l->pending;
    int missed = q != EARSHOT_ASK_NONE && !caught(l, &copy);
    if (l->confirming) {
        /* The answer to "Shall I delete everything?": only a yes erases.
         * A no keeps what was said; an answer not caught is asked again;
         * an utterance that is no answer at all is then heard as usual. */
        if (missed) {
            emit(l, EARSHOT_EVENT_UTTERANCE, &copy, heard, NULL);
            not_caught(l, copy.end);
            return 0;
        }
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
        q = EARSHOT_ASK_NONE;
        missed = 0;
    }
    /* No destructive act on a guess: once something is kept, a forget_me
     * or a revocation is first confirmed by voice. Before consent nothing
     * is kept, so a "no" or "forget me" then destroys nothing and is
     * carried out at once. */
    if (l->store && l->state == ACTIVE && an &&
        (!strcmp(an->intent, "forget_me") || !strcmp(an->intent, "consent_no"))) {
        emit(l, EARSHOT_EVENT_UTTERANCE, &copy, heard, NULL);
        l->confirming = 1;
        snprintf(l->forget_intent, sizeof l->forget_intent, "%s", an->intent);
        l->forget_confidence = an->confidence;
        l->forget_words = copy.confidence;
        ask(l, EARSHOT_ASK_CONFIRM_FORGET, 0, copy.end);
        return 0;
    }
    /* An answer not caught decides nothing: before consent it is not
     * passed to the store (a "yeah" from the radio must not consent), and
     * after the rating question it is kept without its rating. */
    earshot_analysis plain;
    if (missed && q == EARSHOT_ASK_CONSENT) {
        emit(l, EARSHOT_EVENT_UTTERANCE, &copy, heard, NULL);
        not_caught(l, copy.end);
        return 0;
    }
    if (missed && q == EARSHOT_ASK_RATING && an && an->score >= 0) {
        plain = *an;
        plain.intent = "other";
        plain.score = -1;
        copy.analysis = an = &plain;
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
        ask_consent = 0;
        set_pending(l, EARSHOT_ASK_NONE);
        return 0;
    case EARSHOT_HEARD_DECLINED:
    case EARSHOT_HEARD_FORGOTTEN:
        /* Nothing more is kept from this person; the session stays
         * "declined" until silence, so they are not asked again. */
        if (l->store && l->session > 0)
            earshot_session_end(l->store, l->session);
        l->state = DECLINED;
        set_pending(l, EARSHOT_ASK_NONE);
        return 0;
    default:
        break;
    }
    /* The first words open the session; the question comes after them,
     * unless they already answered it. */
    if (ask_consent) {
        ask(l, EARSHOT_ASK_CONSENT, 0, copy.end);
        return 0;
    }
    if (missed && l->pending == q) {
        not_caught(l, copy.end);
        return 0;
    }
    if (q == EARSHOT_ASK_RATING && l->pending == q)
        set_pending(l, EARSHOT_ASK_NONE); /* answered, with a score or not */
    /* The rating question, once per consenting session, right after the
     * first complaint or praise (or when the session falls silent). */
    if (l->cfg.ask_rating && l->state == ACTIVE && !l->rating_asked &&
        l->pending == EARSHOT_ASK_NONE && an &&
        (heard == EARSHOT_HEARD_STORED || heard == EARSHOT_HEARD_QUEUED || !l->store) &&
        (!strcmp(an->intent, "complaint") || !strcmp(an->intent, "praise")))
        ask(l, EARSHOT_ASK_RATING, 0, copy.end);
    return 0;
}

/* Speech the recogniser heard no words in, while a question waits: the
 * answer was not caught. */
static void watch_speech(earshot_listener *l)
{
    int now = earshot_in_speech(l->rec);
    if (now && !l->in_speech) {
        l->utterances_at_speech = l->utterances;
    } else if (!now && l->in_speech && l->utterances == l->utterances_at_speech &&
               l->state != IDLE && l->pending != EARSHOT_ASK_NONE) {
        l->last_speech = now_audio(l);
        not_caught(l, l->last_speech);
    }
    l->in_speech = now;
}

static void check_timeouts(earshot_listener *l)
{
    double t = now_audio(l);
    if (earshot_in_speech(l->rec))
        return; /* someone is talking: no timeout runs */
    int waiting = l->pending != EARSHOT_ASK_NONE && t - l->asked_at <= l->cfg.answer_timeout;
    if (l->confirming && !waiting) {
        /* No answer to the confirmation: nothing is erased. */
        forget_unconfirmed(l);
    }
    if (l->pending == EARSHOT_ASK_RATING && !waiting)
        set_pending(l, EARSHOT_ASK_NONE); /* no rating given */
    if (l->state == AWAITING && !waiting) {
        end_session(l, "no answer to the consent question: nothing kept");
    } else if (l->state != IDLE && !waiting && t - l->last_speech > l->cfg.session_silence) {
        /* The session's natural end: the rating question if it has not
         * been put yet, then the end after answer_timeout. */
        if (l->cfg.ask_rating && l->state == ACTIVE && !l->rating_asked)
            ask(l, EARSHOT_ASK_RATING, 0, t);
        else
            end_session(l, l->state == ACTIVE ? "silence" : "silence (nothing kept)");
    }
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
    earshot_listen_config def = earshot_listen_config_default();
    l->confirm_prompt = dup0(lcfg->confirm_prompt ? lcfg->confirm_prompt : def.confirm_prompt);
    l->rating_prompt = dup0(lcfg->rating_prompt ? lcfg->rating_prompt : def.rating_prompt);
    l->reask_prompt = dup0(lcfg->reask_prompt ? lcfg->reask_prompt : "");
    if ((lcfg->device && !l->device) || !l->channel || !l->prompt || !l->confirm_prompt ||
        !l->rating_prompt || !l->reask_prompt)
        return set_error(l, EARSHOT_NOMEM, "out of memory");
    l->unclear = rcfg->unclear_confidence;
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
        watch_speech(l);
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
    free(l->rating_prompt);
    free(l->reask_prompt);
    free(l);
}
