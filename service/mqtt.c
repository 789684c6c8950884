/* mqtt.c - events of consented sessions to an MQTT broker, through the
 * store's outbox (libmosquitto with its own network thread). */
#include "mqtt.h"

#include <jansson.h>
#include <mosquitto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { MAX_INFLIGHT = 200, MAX_SESSIONS = 1024 };

typedef struct inflight {
    int mid;
    int64_t row;
} inflight;

struct earshot_mqtt {
    struct mosquitto *mosq;
    earshot_store *add; /* the hooks' handle (several threads: under lock) */
    earshot_store *pub; /* the publisher thread's handle */
    pthread_mutex_t lock;
    pthread_t thread;
    int thread_started;
    volatile int stop, connected;
    inflight fl[MAX_INFLIGHT]; /* published, waiting for PUBACK */
    int n_fl;
    int64_t acked[MAX_INFLIGHT];
    int n_acked;
    int64_t last_row; /* the highest row handed to libmosquitto */
    int64_t consented[MAX_SESSIONS]; /* sessions whose events may be published */
    int n_consented;
};

int earshot_mqtt_parse_uri(const char *uri, char *host, size_t hostlen, int *port)
{
    if (strncmp(uri, "mqtt://", 7))
        return -1;
    const char *h = uri + 7, *colon = strrchr(h, ':');
    size_t n = colon ? (size_t)(colon - h) : strlen(h);
    if (!n || n >= hostlen)
        return -1;
    memcpy(host, h, n);
    host[n] = 0;
    *port = 1883;
    if (colon) {
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (*end || p < 1 || p > 65535)
            return -1;
        *port = (int)p;
    }
    return 0;
}

static void on_connect(struct mosquitto *mosq, void *user, int rc)
{
    earshot_mqtt *m = user;
    m->connected = rc == 0;
}

static void on_disconnect(struct mosquitto *mosq, void *user, int rc)
{
    earshot_mqtt *m = user;
    /* What is in flight stays with libmosquitto, which sends it again
     * after the reconnect; what is not stays in the outbox. */
    m->connected = 0;
}

/* The PUBACK: the row is marked sent by the publisher thread (the store
 * handle belongs to it). */
static void on_publish(struct mosquitto *mosq, void *user, int mid)
{
    earshot_mqtt *m = user;
    pthread_mutex_lock(&m->lock);
    for (int i = 0; i < m->n_fl; i++)
        if (m->fl[i].mid == mid) {
            m->acked[m->n_acked++] = m->fl[i].row;
            m->fl[i] = m->fl[--m->n_fl];
            break;
        }
    pthread_mutex_unlock(&m->lock);
}

static int publish_row(int64_t id, const char *topic, const char *payload, void *user)
{
    earshot_mqtt *m = user;
    int mid = 0;
    pthread_mutex_lock(&m->lock);
    if (m->n_fl >= MAX_INFLIGHT) {
        pthread_mutex_unlock(&m->lock);
        return 1;
    }
    /* Under the lock, so a PUBACK cannot come before the mid is known. */
    int rc = mosquitto_publish(m->mosq, &mid, topic, (int)strlen(payload), payload, 1, false);
    if (rc == MOSQ_ERR_SUCCESS) {
        m->fl[m->n_fl].mid = mid;
        m->fl[m->n_fl].row = id;
        m->n_fl++;
        m->last_row = id;
    }
    pthread_mutex_unlock(&m->lock);
    return rc != MOSQ_ERR_SUCCESS;
}

static void *publisher(void *arg)
{
    earshot_mqtt *m = arg;
    while (!m->stop) {
        int64_t acked[MAX_INFLIGHT];
        pthread_mutex_lock(&m->lock);
        int n = m->n_acked;
        memcpy(acked, m->acked, sizeof *acked * (size_t)n);
        m->n_acked = 0;
        int room = MAX_INFLIGHT - m->n_fl;
        int64_t after = m->last_row;
        pthread_mutex_unlock(&m->lock);
        for (int i = 0; i < n; i++)
            earshot_outbox_sent(m->pub, acked[i]);
        if (m->connected && room > 0)
            earshot_outbox_next(m->pub, after, room, publish_row, m);
        if (!n)
            usleep(10000);
    }
    return NULL;
}

int earshot_mqtt_open(earshot_mqtt **out, const char *uri, const char *client_id,
                      const earshot_store_config *scfg, char *err, size_t errlen)
{
    *out = NULL;
    char host[256];
    int port;
    if (earshot_mqtt_parse_uri(uri, host, sizeof host, &port)) {
        snprintf(err, errlen, "--mqtt is mqtt://HOST:PORT, not '%s'", uri);
        return -1;
    }
    earshot_mqtt *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&m->lock, NULL);
    if (earshot_store_open(&m->add, scfg) != EARSHOT_OK ||
        earshot_store_open(&m->pub, scfg) != EARSHOT_OK) {
        snprintf(err, errlen, "%s", earshot_store_errmsg(m->pub ? m->pub : m->add));
        earshot_mqtt_close(m);
        return -1;
    }
    mosquitto_lib_init();
    if (!(m->mosq = mosquitto_new(client_id, true, m))) {
        snprintf(err, errlen, "cannot create an MQTT client");
        earshot_mqtt_close(m);
        return -1;
    }
    mosquitto_connect_callback_set(m->mosq, on_connect);
    mosquitto_disconnect_callback_set(m->mosq, on_disconnect);
    mosquitto_publish_callback_set(m->mosq, on_publish);
    mosquitto_reconnect_delay_set(m->mosq, 1, 10, true);
    /* A broker not up yet is retried by the network thread. */
    mosquitto_connect_async(m->mosq, host, port, 30);
    if (mosquitto_loop_start(m->mosq) != MOSQ_ERR_SUCCESS ||
        pthread_create(&m->thread, NULL, publisher, m)) {
        snprintf(err, errlen, "cannot start the MQTT threads");
        earshot_mqtt_close(m);
        return -1;
    }
    m->thread_started = 1;
    *out = m;
    return 0;
}

int earshot_mqtt_enqueue(earshot_mqtt *m, const char *topic, const char *payload, int64_t session)
{
    pthread_mutex_lock(&m->lock);
    int rc = earshot_outbox_add(m->add, topic, payload, session, NULL);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

long earshot_mqtt_drain(earshot_mqtt *m, double timeout)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        pthread_mutex_lock(&m->lock);
        int64_t n = earshot_outbox_count(m->add, NULL, 1);
        pthread_mutex_unlock(&m->lock);
        if (n <= 0)
            return (long)n;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((double)(t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 >= timeout)
            return (long)n;
        usleep(20000);
    }
}

void earshot_mqtt_close(earshot_mqtt *m)
{
    if (!m)
        return;
    m->stop = 1;
    if (m->thread_started)
        pthread_join(m->thread, NULL);
    if (m->mosq) {
        mosquitto_disconnect(m->mosq);
        mosquitto_loop_stop(m->mosq, true);
        mosquitto_destroy(m->mosq);
        mosquitto_lib_cleanup();
    }
    earshot_store_close(m->add);
    earshot_store_close(m->pub);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* ------------------------------------------------------------------ */
/* the hooks                                                            */
/* ------------------------------------------------------------------ */

static int is_consented(earshot_mqtt *m, int64_t session)
{
    for (int i = 0; i < m->n_consented; i++)
        if (m->consented[i] == session)
            return 1;
    return 0;
}

static void forget_session(earshot_mqtt *m, int64_t session)
{
    for (int i = 0; i < m->n_consented; i++)
        if (m->consented[i] == session)
            m->consented[i] = m->consented[--m->n_consented];
}

/* Adds the event, steals payload. */
static void emit(earshot_mqtt *m, const char *topic, json_t *payload, int64_t session)
{
    char *s = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
    json_decref(payload);
    if (s)
        earshot_outbox_add(m->add, topic, s, session, NULL);
    free(s);
}

static json_t *base(const char *channel, int64_t session)
{
    char sid[32];
    snprintf(sid, sizeof sid, "%lld", (long long)session);
    return json_pack("{s:s, s:s}", "siteId", channel, "sessionId", sid);
}

/* Called under the lock. The session begins, for subscribers, when it
 * consents: nothing is published before. */
static void begin_consented(earshot_mqtt *m, int64_t session, const char *channel)
{
    if (is_consented(m, session) || m->n_consented >= MAX_SESSIONS)
        return;
    m->consented[m->n_consented++] = session;
    char topic[300];
    snprintf(topic, sizeof topic, "earshot/%s/session/begin", channel);
    emit(m, topic, base(channel, session), session);
    snprintf(topic, sizeof topic, "earshot/%s/consent", channel);
    json_t *j = base(channel, session);
    json_object_set_new(j, "consent", json_string("granted"));
    emit(m, topic, j, session);
}

static void hook_begin(int64_t session, const char *channel, void *user)
{
    (void)session, (void)channel, (void)user; /* published at consent */
}

static void hook_end(int64_t session, const char *channel, void *user)
{
    earshot_mqtt *m = user;
    pthread_mutex_lock(&m->lock);
    if (is_consented(m, session)) {
        char topic[300];
        snprintf(topic, sizeof topic, "earshot/%s/session/end", channel);
        emit(m, topic, base(channel, session), session);
        forget_session(m, session);
    }
    pthread_mutex_unlock(&m->lock);
}

static void hook_consent(int64_t session, const char *channel, earshot_heard heard, void *user)
{
    earshot_mqtt *m = user;
    pthread_mutex_lock(&m->lock);
    if (heard == EARSHOT_HEARD_CONSENTED) {
        begin_consented(m, session, channel);
    } else if (is_consented(m, session)) {
        const char *what = heard == EARSHOT_HEARD_DECLINED    ? "declined"
                           : heard == EARSHOT_HEARD_FORGOTTEN ? "forgotten"
                                                              : "review";
        char topic[300];
        snprintf(topic, sizeof topic, "earshot/%s/consent", channel);
        json_t *j = base(channel, session);
        json_object_set_new(j, "consent", json_string(what));
        emit(m, topic, j, session);
        if (heard != EARSHOT_HEARD_REVIEW)
            forget_session(m, session);
    }
    pthread_mutex_unlock(&m->lock);
}

static void hook_utterance(int64_t session, const char *channel, const earshot_utterance *u,
                           earshot_heard heard, int consented, void *user)
{
    earshot_mqtt *m = user;
    /* Stored utterances only (their text is the redacted one stored), and
     * the consenting answer itself. */
    if (!consented || !u->text_redacted ||
        !(heard == EARSHOT_HEARD_STORED || heard == EARSHOT_HEARD_QUEUED ||
          heard == EARSHOT_HEARD_CONSENTED))
        return;
    pthread_mutex_lock(&m->lock);
    begin_consented(m, session, channel);
    const char *text = u->text_redacted;
    json_t *j = base(channel, session);
    json_object_set_new(j, "text", json_string(text));
    json_object_set_new(j, "likelihood", json_real(u->confidence));
    json_object_set_new(j, "seconds", json_real(u->end - u->start));
    emit(m, "hermes/asr/textCaptured", j, session);
    const earshot_analysis *a = u->analysis;
    if (a && a->intent && strcmp(a->intent, "other")) {
        char topic[300];
        snprintf(topic, sizeof topic, "hermes/intent/%s", a->intent);
        json_t *slots = json_array();
        if (a->score >= 0)
            json_array_append_new(slots, json_pack("{s:s, s:s, s:{s:s, s:i}}", "slotName", "score",
                                                   "entity", "score", "value", "kind", "Number",
                                                   "value", a->score));
        for (size_t i = 0; i < a->n_topics; i++)
            json_array_append_new(slots, json_pack("{s:s, s:s, s:{s:s, s:s}}", "slotName", "topic",
                                                   "entity", "topic", "value", "kind", "Custom",
                                                   "value", a->topics[i]));
        j = base(channel, session);
        json_object_set_new(j, "input", json_string(text));
        json_object_set_new(j, "intent", json_pack("{s:s, s:f}", "intentName", a->intent,
                                                   "confidenceScore", a->confidence));
        json_object_set_new(j, "slots", slots);
        if (a->sentiment)
            json_object_set_new(j, "sentiment", json_string(a->sentiment));
        emit(m, topic, j, session);
    } else {
        j = base(channel, session);
        json_object_set_new(j, "input", json_string(text));
        emit(m, "hermes/nlu/intentNotRecognized", j, session);
    }
    char topic[300];
    snprintf(topic, sizeof topic, "earshot/%s/quality", channel);
    j = base(channel, session);
    json_object_set_new(j, "quality", json_string(earshot_quality_name(u->quality)));
    json_object_set_new(j, "level_dbfs", json_real(u->level_dbfs));
    json_object_set_new(j, "snr_db", json_real(u->snr_db));
    json_object_set_new(j, "band_db", json_real(u->band_db));
    emit(m, topic, j, session);
    pthread_mutex_unlock(&m->lock);
}

earshot_service_events earshot_mqtt_events(earshot_mqtt *m)
{
    return (earshot_service_events){
        .on_session_begin = hook_begin,
        .on_session_end = hook_end,
        .on_utterance = hook_utterance,
        .on_consent = hook_consent,
        .user = m,
    };
}
