/* wyoming.c - the Wyoming server: one thread, one recogniser and (with a
 * database) one store handle and one customer session per connection.
 * The protocol is read from rhasspy/wyoming's README and event.py: a JSON
 * header line, data_length bytes of JSON merged into its data, then
 * payload_length bytes of payload. JSON is Jansson's; audio conversion is
 * libsamplerate's (the library's own resampler is internal to it). */
#include "wyoming.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <samplerate.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PROTOCOL_VERSION "1.5.3"

struct earshot_wyoming {
    earshot_wyoming_config cfg;
    int listen_fd;
    int port;
    int wake[2]; /* self-pipe: stop() writes, run() polls */
    volatile int stopping;
    char language[64], base_language[16];
    pthread_mutex_t lock;
    pthread_cond_t idle;
    int active;
    int *fds; /* max_clients slots, -1 when free */
    /* PocketSphinx's log destination and the domain model cache are
     * shared by every handle of the process: handles are opened one at a
     * time. */
    pthread_mutex_t open_lock;
    int64_t local_sessions;
};

typedef struct conn {
    earshot_wyoming *w;
    int fd, slot;
    char peer[80];
    unsigned char in[16384];
    size_t in_pos, in_len;
    earshot *e;
    earshot_intents *g;
    earshot_store *s;
    int64_t session;
    int session_open, consented;
    /* The audio stream under way. */
    int in_audio, rate, width, channels;
    SRC_STATE *src;
    char *text;      /* the stream's utterances, joined */
    size_t text_len, text_cap;
    char *sent;      /* what transcript-chunk events already carried */
    json_t *intent;  /* the first utterance with an intent */
    int failed;      /* a send failed: the peer is gone */
} conn;

earshot_wyoming_config earshot_wyoming_config_default(void)
{
    return (earshot_wyoming_config){
        .host = "127.0.0.1",
        .port = 10300,
        .max_clients = 4,
        .idle_timeout = 300,
        .read_timeout = 10,
        .max_header = 65536,
        .max_data = 1 << 20,
        .max_payload = 4 << 20,
        .recognizer = earshot_config_default(),
        .channel = "wyoming",
    };
}

static void logf_(earshot_wyoming *w, int level, const char *fmt, ...)
{
    if (!w->cfg.on_log)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    w->cfg.on_log(level, msg, w->cfg.log_user);
}

int earshot_wyoming_parse_uri(const char *uri, char *host, size_t hostlen, int *port)
{
    if (strncmp(uri, "tcp://", 6))
        return -1;
    const char *h = uri + 6, *colon;
    size_t hl;
    if (*h == '[') {
        const char *close = strchr(h, ']');
        if (!close || close[1] != ':')
            return -1;
        h++;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(h, ':');
        if (!colon)
            return -1;
        hl = (size_t)(colon - h);
    }
    if (hl == 0 || hl >= hostlen)
        return -1;
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || p < 0 || p > 65535)
        return -1;
    memcpy(host, h, hl);
    host[hl] = 0;
    *port = (int)p;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Framing                                                             */
/* ------------------------------------------------------------------ */

enum { RD_OK = 0, RD_EOF = -1, RD_TIMEOUT = -2, RD_ERR = -3 };

/* Fills the input buffer, waiting at most timeout seconds. */
static int fill(conn *c, double timeout)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    int ms = timeout > 0 ? (int)(timeout * 1000) : -1;
    for (;;) {
        int r = poll(&p, 1, ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return RD_ERR;
        if (r == 0)
            return RD_TIMEOUT;
        ssize_t n = recv(c->fd, c->in, sizeof c->in, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return RD_ERR;
        if (n == 0)
            return RD_EOF;
        c->in_pos = 0;
        c->in_len = (size_t)n;
        return RD_OK;
    }
}

static int read_exact(conn *c, unsigned char *out, size_t n)
{
    while (n > 0) {
        if (c->in_pos == c->in_len) {
            int rc = fill(c, c->w->cfg.read_timeout);
            if (rc != RD_OK)
                return rc;
        }
        size_t k = c->in_len - c->in_pos;
        if (k > n)
            k = n;
        if (out) {
            memcpy(out, c->in + c->in_pos, k);
            out += k;
        }
        c->in_pos += k;
        n -= k;
    }
    return RD_OK;
}

/* One header line into line (max bytes, NUL-terminated). RD_OK, RD_EOF
 * before any byte, RD_TIMEOUT, RD_ERR, or 1 when the line is too long. */
static int read_line(conn *c, char *line, size_t max, size_t *len)
{
    size_t n = 0;
    for (;;) {
        if (c->in_pos == c->in_len) {
            /* Waiting for the next event is idle time; inside a line a
             * stalled client gets the shorter read timeout. */
            int rc = fill(c, n ? c->w->cfg.read_timeout : c->w->cfg.idle_timeout);
            if (rc != RD_OK)
                return rc == RD_EOF && n ? RD_ERR : rc;
        }
        unsigned char ch = c->in[c->in_pos++];
        if (ch == '\n') {
            line[n] = 0;
            *len = n;
            return RD_OK;
        }
        if (n + 1 >= max)
            return 1;
        line[n++] = (char)ch;
    }
}

static int send_all(conn *c, const char *p, size_t n)
{
    while (n > 0 && !c->failed) {
        ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            c->failed = 1;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return c->failed ? -1 : 0;
}

/* Sends one event; takes ownership of data (may be NULL). The data goes
 * inline in the header, which the protocol allows (event.py merges it
 * with any data bytes). */
static int send_event(conn *c, const char *type, json_t *data)
{
    json_t *h = json_pack("{s:s, s:s, s:i, s:i}", "type", type, "version", PROTOCOL_VERSION,
                          "data_length", 0, "payload_length", 0);
    if (!h) {
        json_decref(data);
        return -1;
    }
    if (data)
        json_object_set_new(h, "data", data);
    char *s = json_dumps(h, JSON_COMPACT);
    json_decref(h);
    if (!s)
        return -1;
    size_t n = strlen(s);
    int rc = send_all(c, s, n);
    if (rc == 0)
        rc = send_all(c, "\n", 1);
    free(s);
    return rc;
}

static void send_error(conn *c, const char *code, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    logf_(c->w, EARSHOT_LOG_WARN, "wyoming: %s: %s", c->peer, msg);
    send_event(c, "error", json_pack("{s:s, s:s}", "text", msg, "code", code));
}

/* ------------------------------------------------------------------ */
/* Results                                                             */
/* ------------------------------------------------------------------ */

static const char *shown(const conn *c, const earshot_utterance *u)
{
    if (c->w->cfg.raw_transcripts)
        return u->text;
    return u->text_redacted ? u->text_redacted : "[NOT SHOWN]";
}

static void text_append(conn *c, const char *t)
{
    size_t n = strlen(t);
    if (!n)
        return;
    size_t need = c->text_len + n + 2;
    if (need > c->text_cap) {
        size_t cap = c->text_cap ? c->text_cap * 2 : 256;
        while (cap < need)
            cap *= 2;
        char *p = realloc(c->text, cap);
        if (!p)
            return;
        c->text = p;
        c->text_cap = cap;
    }
    if (c->text_len)
        c->text[c->text_len++] = ' ';
    memcpy(c->text + c->text_len, t, n + 1);
    c->text_len += n;
}

/* The Wyoming intent: {name, entities: [{name, value}], text}; the
 * entities hold exactly those two keys, which the Python Entity class
 * requires. Extra top-level fields are ignored by its readers. */
static json_t *intent_json(const earshot_analysis *a, const char *text)
{
    json_t *ents = json_array();
    if (a->score >= 0)
        json_array_append_new(ents, json_pack("{s:s, s:i}", "name", "score", "value", a->score));
    for (size_t i = 0; i < a->n_topics; i++)
        json_array_append_new(ents, json_pack("{s:s, s:s}", "name", "topic", "value", a->topics[i]));
    if (a->sentiment)
        json_array_append_new(ents,
                              json_pack("{s:s, s:s}", "name", "sentiment", "value", a->sentiment));
    return json_pack("{s:s, s:o, s:s, s:f}", "name", a->intent, "entities", ents, "text", text,
                     "confidence", a->confidence);
}

static int is_recognized(const earshot_analysis *a)
{
    return a && a->intent && strcmp(a->intent, "other");
}

static int on_utterance(const earshot_utterance *u, void *user)
{
    conn *c = user;
    earshot_wyoming *w = c->w;
    earshot_heard heard = EARSHOT_HEARD_DROPPED;
    if (c->s) {
        int rc = earshot_store_utterance(c->s, c->session, u, NULL, 0, &heard);
        if (rc != EARSHOT_OK)
            logf_(w, EARSHOT_LOG_ERROR, "wyoming: %s", earshot_store_errmsg(c->s));
        if (heard == EARSHOT_HEARD_CONSENTED)
            c->consented = 1;
        else if (heard == EARSHOT_HEARD_DECLINED || heard == EARSHOT_HEARD_FORGOTTEN)
            c->consented = 0;
    }
    const earshot_service_events *ev = &w->cfg.events;
    if (ev->on_utterance)
        ev->on_utterance(c->session, w->cfg.channel, u, heard, c->consented, ev->user);
    if (ev->on_consent && (heard == EARSHOT_HEARD_CONSENTED || heard == EARSHOT_HEARD_DECLINED ||
                           heard == EARSHOT_HEARD_FORGOTTEN || heard == EARSHOT_HEARD_REVIEW))
        ev->on_consent(c->session, w->cfg.channel, heard, ev->user);
    text_append(c, shown(c, u));
    if (!c->intent && is_recognized(u->analysis))
        c->intent = intent_json(u->analysis, shown(c, u));
    return 0;
}

/* Streams the words so far as transcript-chunk events. A chunk adds text;
 * a partial that revises words already sent is not streamed, the final
 * transcript carries the correction. */
static void stream_text(conn *c, const char *full)
{
    size_t sent = c->sent ? strlen(c->sent) : 0;
    if (c->sent && strncmp(full, c->sent, sent))
        return;
    if (strlen(full) == sent)
        return;
    send_event(c, "transcript-chunk", json_pack("{s:s}", "text", full + sent));
    free(c->sent);
    c->sent = strdup(full);
}

static int on_partial(const earshot_partial *p, void *user)
{
    conn *c = user;
    size_t n = c->text_len + strlen(p->text) + 2;
    char *full = malloc(n);
    if (!full)
        return 0;
    snprintf(full, n, "%s%s%s", c->text_len ? c->text : "", c->text_len ? " " : "", p->text);
    stream_text(c, full);
    free(full);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Sessions and audio                                                  */
/* ------------------------------------------------------------------ */

static int open_recognizer(conn *c)
{
    if (c->e)
        return 0;
    earshot_config rc = c->w->cfg.recognizer;
    rc.on_utterance = on_utterance;
    rc.utterance_user = c;
    rc.on_partial = on_partial;
    rc.partial_user = c;
    pthread_mutex_lock(&c->w->open_lock);
    int r = earshot_open(&c->e, &rc);
    pthread_mutex_unlock(&c->w->open_lock);
    if (r != EARSHOT_OK) {
        send_error(c, "recognizer", "cannot open the recogniser: %s", earshot_errmsg(c->e));
        earshot_close(c->e);
        c->e = NULL;
        return -1;
    }
    return 0;
}

static int begin_session(conn *c)
{
    earshot_wyoming *w = c->w;
    if (c->session_open)
        return 0;
    if (w->cfg.store) {
        if (!c->s) {
            if (earshot_store_open(&c->s, w->cfg.store) != EARSHOT_OK) {
                send_error(c, "storage", "%s", earshot_store_errmsg(c->s));
                earshot_store_close(c->s);
                c->s = NULL;
                return -1;
            }
        }
        int rc = earshot_session_begin(c->s, w->cfg.channel, &c->session);
        if (rc == EARSHOT_OK && w->cfg.consent_granted) {
            rc = earshot_consent_grant(c->s, c->session, EARSHOT_SCOPE_TRANSCRIPTS,
                                       EARSHOT_BY_ELSEWHERE, NULL);
            c->consented = rc == EARSHOT_OK;
        }
        if (rc != EARSHOT_OK) {
            send_error(c, "storage", "%s", earshot_store_errmsg(c->s));
            return -1;
        }
    } else {
        pthread_mutex_lock(&w->lock);
        c->session = ++w->local_sessions;
        pthread_mutex_unlock(&w->lock);
    }
    c->session_open = 1;
    const earshot_service_events *ev = &w->cfg.events;
    if (ev->on_session_begin)
        ev->on_session_begin(c->session, w->cfg.channel, ev->user);
    if (c->consented && ev->on_consent)
        ev->on_consent(c->session, w->cfg.channel, EARSHOT_HEARD_CONSENTED, ev->user);
    return 0;
}

static void end_session(conn *c)
{
    if (!c->session_open)
        return;
    if (c->s) {
        if (earshot_store_queued(c->s) > 0)
            earshot_store_retry(c->s);
        earshot_session_end(c->s, c->session);
    }
    const earshot_service_events *ev = &c->w->cfg.events;
    if (ev->on_session_end)
        ev->on_session_end(c->session, c->w->cfg.channel, ev->user);
    c->session_open = 0;
}

static void reset_stream(conn *c)
{
    c->text_len = 0;
    if (c->text)
        c->text[0] = 0;
    free(c->sent);
    c->sent = NULL;
    json_decref(c->intent);
    c->intent = NULL;
}

/* Reads rate, width and channels from an audio event's data; keeps the
 * current ones for fields left out. */
static int audio_format(conn *c, json_t *data, int *rate, int *width, int *channels)
{
    json_t *r = json_object_get(data, "rate"), *wd = json_object_get(data, "width"),
           *ch = json_object_get(data, "channels");
    *rate = r ? (int)json_integer_value(r) : c->rate;
    *width = wd ? (int)json_integer_value(wd) : c->width;
    *channels = ch ? (int)json_integer_value(ch) : c->channels;
    if ((r && !json_is_integer(r)) || (wd && !json_is_integer(wd)) || (ch && !json_is_integer(ch)) ||
        *rate < 4000 || *rate > 192000 || (*width != 1 && *width != 2 && *width != 4) ||
        *channels < 1 || *channels > 16) {
        send_error(c, "audio-format",
                   "unsupported audio: rate %d, width %d, channels %d (rate 4000-192000 Hz, "
                   "width 1, 2 or 4 bytes, 1-16 channels)",
                   *rate, *width, *channels);
        return -1;
    }
    return 0;
}

static int feed_floats(conn *c, const float *x, size_t n, int last)
{
    float out[4096];
    int16_t pcm[4096];
    if (!c->src) {
        /* 16 kHz already: straight in. */
        for (size_t i = 0; i < n;) {
            size_t k = n - i < 4096 ? n - i : 4096;
            for (size_t j = 0; j < k; j++) {
                float v = x[i + j] * 32768.0f;
                pcm[j] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
            }
            if (earshot_feed(c->e, pcm, k) != EARSHOT_OK)
                return -1;
            i += k;
        }
        return 0;
    }
    SRC_DATA d = {.data_in = x, .input_frames = (long)n, .data_out = out,
                  .output_frames = 4096, .src_ratio = 16000.0 / c->rate,
                  .end_of_input = last};
    for (;;) {
        if (src_process(c->src, &d) != 0)
            return -1;
        for (long j = 0; j < d.output_frames_gen; j++) {
            float v = out[j] * 32768.0f;
            pcm[j] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
        }
        if (d.output_frames_gen > 0 && earshot_feed(c->e, pcm, (size_t)d.output_frames_gen) != EARSHOT_OK)
            return -1;
        d.data_in += d.input_frames_used;
        d.input_frames -= d.input_frames_used;
        if (d.input_frames <= 0 && (!last || d.output_frames_gen == 0))
            break;
    }
    return 0;
}

static int audio_start(conn *c, json_t *data)
{
    int rate, width, channels;
    c->rate = 16000, c->width = 2, c->channels = 1;
    if (audio_format(c, data, &rate, &width, &channels))
        return 0;
    if (open_recognizer(c) || begin_session(c))
        return 0;
    if (c->in_audio) /* a new stream without audio-stop: end the old one */
        earshot_flush(c->e);
    reset_stream(c);
    if (c->src)
        c->src = src_delete(c->src);
    if (rate != 16000) {
        int err = 0;
        c->src = src_new(SRC_SINC_FASTEST, 1, &err);
        if (!c->src) {
            send_error(c, "audio-format", "cannot resample from %d Hz: %s", rate, src_strerror(err));
            return 0;
        }
    }
    c->rate = rate, c->width = width, c->channels = channels;
    c->in_audio = 1;
    send_event(c, "transcript-start", json_pack("{s:s}", "language", c->w->language));
    return 0;
}

static int audio_chunk(conn *c, json_t *data, const unsigned char *payload, size_t n)
{
    if (!c->in_audio) {
        send_error(c, "no-audio-start", "audio-chunk before audio-start");
        return 0;
    }
    int rate, width, channels;
    if (audio_format(c, data, &rate, &width, &channels))
        return 0;
    if (rate != c->rate || width != c->width || channels != c->channels) {
        send_error(c, "audio-format", "audio-chunk format (%d Hz, %d bytes, %d channels) differs "
                   "from audio-start's (%d Hz, %d bytes, %d channels)", rate, width, channels,
                   c->rate, c->width, c->channels);
        return 0;
    }
    size_t frame = (size_t)width * (size_t)channels;
    if (n % frame)
        send_error(c, "audio-format", "audio-chunk of %zu bytes is not whole frames of %zu bytes; "
                   "the partial frame is dropped", n, frame);
    size_t frames = n / frame;
    float buf[2048];
    for (size_t i = 0; i < frames;) {
        size_t k = frames - i < 2048 ? frames - i : 2048;
        for (size_t j = 0; j < k; j++) {
            const unsigned char *f = payload + (i + j) * frame;
            float sum = 0;
            for (int ch = 0; ch < channels; ch++) {
                const unsigned char *s = f + ch * width;
                if (width == 1)
                    sum += (float)(int8_t)s[0] / 128.0f;
                else if (width == 2)
                    sum += (float)(int16_t)(s[0] | s[1] << 8) / 32768.0f;
                else
                    sum += (float)(int32_t)((uint32_t)s[0] | (uint32_t)s[1] << 8 |
                                            (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24) /
                           2147483648.0f;
            }
            buf[j] = sum / (float)channels;
        }
        if (feed_floats(c, buf, k, 0)) {
            send_error(c, "recognizer", "%s", earshot_errmsg(c->e));
            return 0;
        }
        i += k;
    }
    return 0;
}

static void send_intent(conn *c, json_t *intent, const char *text)
{
    if (intent)
        send_event(c, "intent", json_incref(intent));
    else
        send_event(c, "not-recognized", json_pack("{s:s}", "text", text));
}

/* Ends the stream: the last utterance, then transcript-stop, transcript
 * and the intent. send: 0 when the connection is going away. */
static void finish_audio(conn *c, int send)
{
    if (!c->in_audio)
        return;
    c->in_audio = 0;
    if (c->src)
        feed_floats(c, NULL, 0, 1);
    earshot_flush(c->e);
    if (!send)
        return;
    const char *text = c->text_len ? c->text : "";
    stream_text(c, text);
    send_event(c, "transcript-stop", NULL);
    send_event(c, "transcript", json_pack("{s:s, s:s, s:b}", "text", text, "language",
                                          c->w->language, "is_final", 1));
    send_intent(c, c->intent, text);
}

/* recognize {text} and transcript {text} sent to the intent service. */
static void recognize(conn *c, json_t *data)
{
    const char *text = json_string_value(json_object_get(data, "text"));
    if (!text) {
        send_error(c, "bad-event", "recognize needs data.text, a string");
        return;
    }
    if (!c->g) {
        pthread_mutex_lock(&c->w->open_lock);
        int rc = earshot_intents_open(&c->g, c->w->cfg.recognizer.grammar_dir);
        pthread_mutex_unlock(&c->w->open_lock);
        if (rc != EARSHOT_OK) {
            send_error(c, "grammar", "%s", earshot_intents_errmsg(c->g));
            earshot_intents_close(c->g);
            c->g = NULL;
            return;
        }
    }
    earshot_analysis a;
    if (earshot_intents_analyze(c->g, text, &a) != EARSHOT_OK) {
        send_error(c, "intent", "%s", earshot_intents_errmsg(c->g));
        return;
    }
    /* The client's own text goes back to it as it came. */
    json_t *intent = is_recognized(&a) ? intent_json(&a, text) : NULL;
    send_intent(c, intent, text);
    json_decref(intent);
}

static json_t *artifact(const char *name, const char *description, const char *lang,
                        const char *base, const char *list_key, json_t *models)
{
    json_t *o = json_pack("{s:s, s:{s:s, s:s}, s:b, s:s, s:s}", "name", name, "attribution",
                          "name", "Earshot (PocketSphinx, CMU Sphinx)", "url",
                          "https://github.com/cmusphinx/pocketsphinx", "installed", 1,
                          "description", description, "version", EARSHOT_VERSION);
    if (lang)
        json_object_set_new(o, "languages", strcmp(lang, base) ? json_pack("[s,s]", lang, base)
                                                               : json_pack("[s]", lang));
    if (list_key)
        json_object_set_new(o, list_key, models);
    return o;
}

static void describe(conn *c)
{
    earshot_wyoming *w = c->w;
    const char *L = w->language, *B = w->base_language;
    json_t *asr = artifact("earshot", "Offline customer speech to text (PocketSphinx)", NULL, NULL,
                           "models",
                           json_pack("[o]", artifact(L, "PocketSphinx with the kiosk grammar's "
                                                        "domain model", L, B, NULL, NULL)));
    json_object_set_new(asr, "supports_transcript_streaming", json_true());
    json_t *intent = artifact("earshot-intents", "Customer intents, ratings and topics", NULL,
                              NULL, "models",
                              json_pack("[o]", artifact(L, "Grammar folder intents", L, B,
                                                        NULL, NULL)));
    send_event(c, "info", json_pack("{s:[o], s:[o], s:[], s:[], s:[], s:[]}", "asr", asr,
                                    "intent", intent, "tts", "handle", "wake", "satellite"));
}

/* ------------------------------------------------------------------ */
/* One connection                                                      */
/* ------------------------------------------------------------------ */

/* Reads and handles one event. 0 to go on, -1 to close. */
static int serve_event(conn *c, char *line, size_t max_header)
{
    earshot_wyoming *w = c->w;
    size_t len = 0;
    int rc = read_line(c, line, max_header, &len);
    if (rc == 1) {
        send_error(c, "header-too-long", "header line longer than %zu bytes", max_header);
        return -1;
    }
    if (rc == RD_EOF)
        return -1;
    if (rc == RD_TIMEOUT) {
        logf_(w, EARSHOT_LOG_INFO, "wyoming: %s: idle or stalled, closing", c->peer);
        if (len)
            send_error(c, "timeout", "timed out reading a header line");
        return -1;
    }
    if (rc != RD_OK)
        return -1;
    if (len == 0 || (len == 1 && line[0] == '\r'))
        return 0; /* a blank line between events is harmless */
    json_error_t jerr;
    json_t *h = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    /* A copy: the header is freed before the event is handled. */
    char type[64] = "";
    const char *t0 = json_string_value(json_object_get(h, "type"));
    if (t0 && strlen(t0) < sizeof type)
        memcpy(type, t0, strlen(t0) + 1);
    if (!json_is_object(h) || !type[0]) {
        send_error(c, "bad-header", "header line is not a JSON object with a \"type\" string%s%s",
                   h ? "" : ": ", h ? "" : jerr.text);
        json_decref(h);
        return -1;
    }
    json_t *dl = json_object_get(h, "data_length"), *pl = json_object_get(h, "payload_length");
    json_int_t data_len = json_is_integer(dl) ? json_integer_value(dl) : 0;
    json_int_t payload_len = json_is_integer(pl) ? json_integer_value(pl) : 0;
    if ((dl && !json_is_null(dl) && !json_is_integer(dl)) ||
        (pl && !json_is_null(pl) && !json_is_integer(pl)) || data_len < 0 || payload_len < 0) {
        send_error(c, "bad-header", "data_length and payload_length must be non-negative integers");
        json_decref(h);
        return -1;
    }
    /* Bounds before any allocation: a 2 GB data_length is refused, not
     * allocated or waited for. */
    if ((uint64_t)data_len > w->cfg.max_data) {
        send_error(c, "too-large", "data_length %lld is over the limit of %zu bytes",
                   (long long)data_len, w->cfg.max_data);
        json_decref(h);
        return -1;
    }
    if ((uint64_t)payload_len > w->cfg.max_payload) {
        send_error(c, "too-large", "payload_length %lld is over the limit of %zu bytes",
                   (long long)payload_len, w->cfg.max_payload);
        json_decref(h);
        return -1;
    }
    json_t *data = json_object_get(h, "data");
    if (data && !json_is_null(data) && !json_is_object(data)) {
        send_error(c, "bad-header", "\"data\" must be a JSON object");
        json_decref(h);
        return -1;
    }
    data = json_is_object(data) ? json_incref(data) : json_object();
    json_decref(h);
    unsigned char *payload = NULL;
    if (data_len > 0) {
        unsigned char *db = malloc((size_t)data_len);
        rc = db ? read_exact(c, db, (size_t)data_len) : RD_ERR;
        json_t *extra = rc == RD_OK ? json_loadb((char *)db, (size_t)data_len, 0, &jerr) : NULL;
        free(db);
        if (rc != RD_OK) {
            send_error(c, rc == RD_TIMEOUT ? "timeout" : "truncated",
                       "%s while reading %lld data bytes", rc == RD_TIMEOUT ? "timed out" : "connection ended",
                       (long long)data_len);
            json_decref(data);
            return -1;
        }
        if (!json_is_object(extra)) {
            send_error(c, "bad-data", "data bytes are not a JSON object%s%s", extra ? "" : ": ",
                       extra ? "" : jerr.text);
            json_decref(extra);
            json_decref(data);
            return -1;
        }
        json_object_update(data, extra);
        json_decref(extra);
    }
    if (payload_len > 0) {
        payload = malloc((size_t)payload_len);
        rc = payload ? read_exact(c, payload, (size_t)payload_len) : RD_ERR;
        if (rc != RD_OK) {
            send_error(c, rc == RD_TIMEOUT ? "timeout" : "truncated",
                       "%s while reading a %lld-byte payload (payload_length is larger than "
                       "what was sent)",
                       rc == RD_TIMEOUT ? "timed out" : "connection ended", (long long)payload_len);
            free(payload);
            json_decref(data);
            return -1;
        }
    }

    if (!strcmp(type, "describe")) {
        describe(c);
    } else if (!strcmp(type, "ping")) {
        json_t *t = json_object_get(data, "text");
        send_event(c, "pong", json_is_string(t) ? json_pack("{s:O}", "text", t) : json_object());
    } else if (!strcmp(type, "transcribe")) {
        /* name and language choose a model; there is one. */
    } else if (!strcmp(type, "audio-start")) {
        audio_start(c, data);
    } else if (!strcmp(type, "audio-chunk")) {
        audio_chunk(c, data, payload, (size_t)payload_len);
    } else if (!strcmp(type, "audio-stop")) {
        if (c->in_audio)
            finish_audio(c, 1);
        else
            send_error(c, "no-audio-start", "audio-stop before audio-start");
    } else if (!strcmp(type, "recognize") || !strcmp(type, "transcript")) {
        recognize(c, data);
    } else {
        send_error(c, "unknown-event", "unknown event type '%.60s'", type);
    }
    free(payload);
    json_decref(data);
    return c->failed ? -1 : 0;
}

static void conn_free(conn *c)
{
    if (c->in_audio)
        finish_audio(c, 0); /* what was heard before a disconnect is kept, if consented */
    end_session(c);
    earshot_close(c->e);
    earshot_intents_close(c->g);
    earshot_store_close(c->s);
    if (c->src)
        src_delete(c->src);
    free(c->text);
    free(c->sent);
    json_decref(c->intent);
    free(c);
}

static void *conn_main(void *arg)
{
    conn *c = arg;
    earshot_wyoming *w = c->w;
    logf_(w, EARSHOT_LOG_INFO, "wyoming: %s connected", c->peer);
    char *line = malloc(w->cfg.max_header + 1);
    while (line && !w->stopping && serve_event(c, line, w->cfg.max_header + 1) == 0)
        ;
    free(line);
    int fd = c->fd, slot = c->slot;
    conn_free(c);
    logf_(w, EARSHOT_LOG_INFO, "wyoming: connection closed");
    pthread_mutex_lock(&w->lock);
    w->fds[slot] = -1;
    close(fd);
    if (--w->active == 0)
        pthread_cond_broadcast(&w->idle);
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* The server                                                          */
/* ------------------------------------------------------------------ */

static void set_err(char *err, size_t n, const char *fmt, ...)
{
    if (!err || !n)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
}

/* The grammar folder's name is its language ("en-us"); the part before
 * the dash is offered too ("en"), as Home Assistant asks by either. */
static void find_language(earshot_wyoming *w)
{
    const char *dir = w->cfg.recognizer.grammar_dir ? w->cfg.recognizer.grammar_dir
                                                    : earshot_default_grammar_dir();
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", dir);
    size_t n = strlen(tmp);
    while (n > 1 && tmp[n - 1] == '/')
        tmp[--n] = 0;
    const char *base = strrchr(tmp, '/');
    base = base ? base + 1 : tmp;
    snprintf(w->language, sizeof w->language, "%s", *base ? base : "en-us");
    snprintf(w->base_language, sizeof w->base_language, "%.*s",
             (int)strcspn(w->language, "-_"), w->language);
}

int earshot_wyoming_open(earshot_wyoming **out, const earshot_wyoming_config *cfg, char *err,
                         size_t errlen)
{
    *out = NULL;
    earshot_wyoming *w = calloc(1, sizeof *w);
    if (!w) {
        set_err(err, errlen, "out of memory");
        return EARSHOT_NOMEM;
    }
    w->cfg = *cfg;
    if (w->cfg.max_clients < 1)
        w->cfg.max_clients = 1;
    if (!w->cfg.channel)
        w->cfg.channel = "wyoming";
    w->listen_fd = -1;
    w->wake[0] = w->wake[1] = -1;
    pthread_mutex_init(&w->lock, NULL);
    pthread_mutex_init(&w->open_lock, NULL);
    pthread_cond_init(&w->idle, NULL);
    w->fds = malloc(sizeof *w->fds * (size_t)w->cfg.max_clients);
    if (!w->fds) {
        earshot_wyoming_close(w);
        set_err(err, errlen, "out of memory");
        return EARSHOT_NOMEM;
    }
    for (int i = 0; i < w->cfg.max_clients; i++)
        w->fds[i] = -1;
    find_language(w);

    /* The grammar must load now, not at the first customer's words. */
    earshot_intents *g = NULL;
    int rc = earshot_intents_open(&g, w->cfg.recognizer.grammar_dir);
    if (rc != EARSHOT_OK) {
        set_err(err, errlen, "%s", earshot_intents_errmsg(g));
        earshot_intents_close(g);
        earshot_wyoming_close(w);
        return rc;
    }
    earshot_intents_close(g);

    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", w->cfg.port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
                    *res = NULL;
    int gai = getaddrinfo(w->cfg.host, portstr, &hints, &res);
    if (gai) {
        set_err(err, errlen, "cannot resolve '%s': %s", w->cfg.host, gai_strerror(gai));
        earshot_wyoming_close(w);
        return EARSHOT_IO;
    }
    int e = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            e = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 16) == 0) {
            w->listen_fd = fd;
            break;
        }
        e = errno;
        close(fd);
    }
    freeaddrinfo(res);
    if (w->listen_fd < 0) {
        set_err(err, errlen, "cannot listen on tcp://%s:%d: %s", w->cfg.host, w->cfg.port,
                strerror(e));
        earshot_wyoming_close(w);
        return EARSHOT_IO;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(w->listen_fd, (struct sockaddr *)&ss, &sl);
    w->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
    if (pipe(w->wake) != 0) {
        set_err(err, errlen, "pipe: %s", strerror(errno));
        earshot_wyoming_close(w);
        return EARSHOT_IO;
    }
    fcntl(w->wake[1], F_SETFL, O_NONBLOCK);
    *out = w;
    return EARSHOT_OK;
}

int earshot_wyoming_port(const earshot_wyoming *w) { return w ? w->port : -1; }

int earshot_wyoming_clients(earshot_wyoming *w)
{
    pthread_mutex_lock(&w->lock);
    int n = w->active;
    pthread_mutex_unlock(&w->lock);
    return n;
}

void earshot_wyoming_stop(earshot_wyoming *w)
{
    if (!w)
        return;
    w->stopping = 1;
    if (w->wake[1] >= 0) {
        ssize_t r = write(w->wake[1], "x", 1);
        (void)r;
    }
}

static void peer_name(int fd, char *buf, size_t n)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char host[64] = "?", port[16] = "?";
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
        getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV);
    snprintf(buf, n, "%s:%s", host, port);
}

int earshot_wyoming_run(earshot_wyoming *w)
{
    while (!w->stopping) {
        struct pollfd p[2] = {{.fd = w->listen_fd, .events = POLLIN},
                              {.fd = w->wake[0], .events = POLLIN}};
        int r = poll(p, 2, 1000);
        if (w->cfg.on_tick)
            w->cfg.on_tick(w->cfg.tick_user);
        if (r <= 0 || w->stopping || !(p[0].revents & POLLIN))
            continue;
        int fd = accept(w->listen_fd, NULL, NULL);
        if (fd >= 0)
            fcntl(fd, F_SETFD, FD_CLOEXEC);
        if (fd < 0)
            continue;
        conn *c = calloc(1, sizeof *c);
        pthread_mutex_lock(&w->lock);
        int slot = -1;
        for (int i = 0; i < w->cfg.max_clients && slot < 0; i++)
            if (w->fds[i] < 0)
                slot = i;
        if (slot < 0 || !c) {
            pthread_mutex_unlock(&w->lock);
            conn tmp = {.w = w, .fd = fd};
            peer_name(fd, tmp.peer, sizeof tmp.peer);
            if (c)
                send_error(&tmp, "busy", "server full: %d clients connected (--max-clients %d); "
                           "try again later", w->cfg.max_clients, w->cfg.max_clients);
            free(c);
            close(fd);
            continue;
        }
        w->fds[slot] = fd;
        w->active++;
        pthread_mutex_unlock(&w->lock);
        c->w = w;
        c->fd = fd;
        c->slot = slot;
        c->rate = 16000, c->width = 2, c->channels = 1;
        peer_name(fd, c->peer, sizeof c->peer);
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, conn_main, c) != 0) {
            pthread_mutex_lock(&w->lock);
            w->fds[slot] = -1;
            w->active--;
            pthread_mutex_unlock(&w->lock);
            close(fd);
            free(c);
        }
        pthread_attr_destroy(&attr);
    }
    /* Stopping: end every connection's reading; each thread finishes the
     * utterance in flight and its session. */
    pthread_mutex_lock(&w->lock);
    for (int i = 0; i < w->cfg.max_clients; i++)
        if (w->fds[i] >= 0)
            shutdown(w->fds[i], SHUT_RD);
    while (w->active > 0)
        pthread_cond_wait(&w->idle, &w->lock);
    pthread_mutex_unlock(&w->lock);
    return EARSHOT_OK;
}

void earshot_wyoming_close(earshot_wyoming *w)
{
    if (!w)
        return;
    if (w->listen_fd >= 0)
        close(w->listen_fd);
    if (w->wake[0] >= 0)
        close(w->wake[0]);
    if (w->wake[1] >= 0)
        close(w->wake[1]);
    pthread_mutex_destroy(&w->lock);
    pthread_mutex_destroy(&w->open_lock);
    pthread_cond_destroy(&w->idle);
    free(w->fds);
    free(w);
}
