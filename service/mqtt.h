/* mqtt.h - the MQTT publisher of `earshot serve --mqtt mqtt://HOST:PORT`
 * (libmosquitto; the command only, never libearshot). Each event of a
 * consented session is put in the store's outbox first, then published
 * at QoS 1 and marked sent on the broker's PUBACK, so a broker that goes
 * away loses nothing: the outbox is sent when it returns.
 *
 * Topics (Hermes where Hermes has one; siteId is the channel):
 *   hermes/asr/textCaptured          {text, likelihood, seconds, siteId, sessionId}
 *   hermes/intent/<name>             {input, intent {intentName, confidenceScore}, slots, siteId, sessionId}
 *   hermes/nlu/intentNotRecognized   {input, siteId, sessionId}
 *   earshot/<channel>/session/begin  {siteId, sessionId}  (when consent is given)
 *   earshot/<channel>/session/end    {siteId, sessionId}
 *   earshot/<channel>/consent        {siteId, sessionId, consent: granted|declined|forgotten|review}
 *   earshot/<channel>/quality        {siteId, sessionId, quality, level_dbfs, snr_db, band_db}
 * Only redacted text; nothing for a session that never consented. */
#ifndef EARSHOT_SERVICE_MQTT_H
#define EARSHOT_SERVICE_MQTT_H

#include <stddef.h>

#include "earshot.h"
#include "wyoming.h"

typedef struct earshot_mqtt earshot_mqtt;

/* "mqtt://HOST[:PORT]" (1883 by default). Returns 0, or -1. */
int earshot_mqtt_parse_uri(const char *uri, char *host, size_t hostlen, int *port);
/* Opens the outbox (scfg's database; its strings must outlive m) and
 * starts connecting in the background (a broker not there yet is no
 * error: it is retried). Returns 0, or -1 with the reason in err. */
int earshot_mqtt_open(earshot_mqtt **out, const char *uri, const char *client_id,
                      const earshot_store_config *scfg, char *err, size_t errlen);
/* The hooks for a service (earshot_wyoming_config.events). */
earshot_service_events earshot_mqtt_events(earshot_mqtt *m);
/* Queues one message in the outbox (session 0: not a session's). */
int earshot_mqtt_enqueue(earshot_mqtt *m, const char *topic, const char *payload, int64_t session);
/* Waits until every event queued is acknowledged, at most timeout
 * seconds. Returns the number still unsent (0: all sent), -1 on error. */
long earshot_mqtt_drain(earshot_mqtt *m, double timeout);
/* Stops publishing; what is unsent stays in the outbox. NULL: no-op. */
void earshot_mqtt_close(earshot_mqtt *m);

#endif
