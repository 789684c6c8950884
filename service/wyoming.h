/* wyoming.h - a Wyoming protocol server (Home Assistant, Rhasspy 3) over
 * libearshot: speech-to-text (asr) and intent recognition (intent) on one
 * TCP port. Linked into the earshot command only; the library never
 * links sockets.
 *
 * The protocol (rhasspy/wyoming): each event is one JSON header line
 * {"type", "data", "data_length", "payload_length", "version"}, then
 * data_length bytes of JSON merged into data, then payload_length bytes
 * of payload (PCM for audio-chunk). Handled here:
 *   describe                         -> info (asr + intent, installed)
 *   ping                             -> pong
 *   transcribe, audio-start, audio-chunk..., audio-stop
 *                                    -> transcript-start, transcript-chunk...,
 *                                       transcript-stop, transcript, then
 *                                       intent or not-recognized
 *   recognize {text}, transcript {text} -> intent or not-recognized
 *   anything malformed or too large   -> error, and for a broken frame the
 *                                       connection is closed
 * Each connection has its own thread and its own recogniser handle;
 * at most max_clients at once, the next one gets an error event and is
 * closed.
 *
 * Consent and storage: with a store (db set), a connection that sends
 * audio is one customer session (earshot_session_begin at the first
 * audio-start, earshot_session_end when the connection closes). With
 * consent_granted the consent obtained elsewhere is recorded at once
 * (EARSHOT_BY_ELSEWHERE); otherwise a spoken yes in the session grants it
 * and nothing is kept until then (earshot_store_utterance decides, as for
 * `earshot transcribe --db`). Without a store nothing is written. Text
 * sent to the intent service (recognize) is analysed, never stored.
 */
#ifndef EARSHOT_SERVICE_WYOMING_H
#define EARSHOT_SERVICE_WYOMING_H

#include <stddef.h>
#include <stdint.h>

#include "earshot.h"

/* What a service (the Wyoming server, the local listener) tells the
 * layers that publish events, such as the MQTT publisher. Each hook may
 * be NULL. They are called from the connection threads, so from several
 * threads at once: a publisher must be thread-safe (libmosquitto's
 * mosquitto_publish with its own network thread is). Everything passed
 * is valid during the call only. The utterance's text may be raw:
 * publish u->text_redacted (NULL: nothing can be shown), never u->text.
 * on_utterance is called for every utterance, with what storage did with
 * it (EARSHOT_HEARD_DROPPED without a store or without consent); a
 * publisher that must stay silent for sessions without consent checks
 * `consented`. */
typedef struct earshot_service_events {
    void (*on_session_begin)(int64_t session, const char *channel, void *user);
    void (*on_session_end)(int64_t session, const char *channel, void *user);
    /* consented: the session has an active consent after this utterance. */
    void (*on_utterance)(int64_t session, const char *channel, const earshot_utterance *u,
                         earshot_heard heard, int consented, void *user);
    /* heard is EARSHOT_HEARD_CONSENTED, _DECLINED, _FORGOTTEN or _REVIEW,
     * or EARSHOT_HEARD_CONSENTED when consent was given elsewhere at the
     * session's start. */
    void (*on_consent)(int64_t session, const char *channel, earshot_heard heard, void *user);
    void *user;
} earshot_service_events;

typedef struct earshot_wyoming_config {
    const char *host;       /* address to bind; "127.0.0.1" */
    int port;               /* 0: any free port (earshot_wyoming_port tells) */
    int max_clients;        /* connections served at once; 4 */
    double idle_timeout;    /* seconds a connection may wait between events; 300 */
    double read_timeout;    /* seconds for the rest of an event once begun; 10 */
    size_t max_header;      /* bytes of one header line; 65536 */
    size_t max_data;        /* data_length; 1 MiB */
    size_t max_payload;     /* payload_length; 4 MiB (about 2 min of 16 kHz audio) */
    /* The recogniser every connection opens (its on_utterance and
     * on_partial are the server's own). Copied by earshot_wyoming_open,
     * but the strings it points to must outlive the server. */
    earshot_config recognizer;
    /* NULL: nothing is stored. The strings must outlive the server. */
    const earshot_store_config *store;
    int consent_granted;    /* 1: consent was given elsewhere (sign, screen) */
    const char *channel;    /* sessions' channel; "wyoming" */
    /* 1: transcripts carry the raw text; 0 (default): the redacted text, as
     * `earshot listen` prints it. */
    int raw_transcripts;
    earshot_service_events events;
    earshot_log_fn on_log;  /* connections, errors; NULL: none */
    void *log_user;
    /* Called about once a second from earshot_wyoming_run's thread (the
     * systemd watchdog). */
    void (*on_tick)(void *user);
    void *tick_user;
} earshot_wyoming_config;

earshot_wyoming_config earshot_wyoming_config_default(void);

typedef struct earshot_wyoming earshot_wyoming;

/* Binds and listens (nothing is accepted until earshot_wyoming_run).
 * Opens the grammar folder once to learn its languages and check it.
 * Returns EARSHOT_OK, or EARSHOT_IO / EARSHOT_GRAMMAR / EARSHOT_NOMEM with
 * the reason in err. */
int earshot_wyoming_open(earshot_wyoming **out, const earshot_wyoming_config *cfg, char *err,
                         size_t errlen);
/* The port bound (useful with port 0). */
int earshot_wyoming_port(const earshot_wyoming *w);
/* Accepts and serves until earshot_wyoming_stop(); then closes every
 * connection (an utterance in flight is finished and stored if consented)
 * and waits for their threads. */
int earshot_wyoming_run(earshot_wyoming *w);
/* Safe from any thread and from a signal handler. */
void earshot_wyoming_stop(earshot_wyoming *w);
/* Connections being served now. */
int earshot_wyoming_clients(earshot_wyoming *w);
void earshot_wyoming_close(earshot_wyoming *w);

/* Parses "tcp://HOST:PORT" (HOST may be [v6]). Returns 0, or -1. host is
 * written into hostbuf. */
int earshot_wyoming_parse_uri(const char *uri, char *hostbuf, size_t hostlen, int *port);

#endif
