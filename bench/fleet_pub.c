/* fleet_pub.c - the kiosks of a simulated chain, for bench/fleet.sh.
 *
 *   fleet_pub HOST PORT TEMPLATE.json KIOSKS DAYS FIRST-DAY
 *
 * Publishes KIOSKS x DAYS copies of one real day report (as `earshot
 * publish` sends it) with QoS 1 on earshot/fleet/shop<k % 50>/<db-id>/<day>,
 * the template's db id and day rewritten for each (db id = kiosk number in
 * 32 hex digits, days from FIRST-DAY on). One mosquitto_pub per report
 * spends its time starting processes; this keeps up to 100 in flight on
 * one connection and returns when the broker has acknowledged every one,
 * so the bench times the collector, not the loader. */
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long acked;
static int connected;

static void on_connect(struct mosquitto *mq, void *user, int rc)
{
    (void)mq;
    (void)user;
    connected = rc == 0 ? 1 : -1;
}

static void on_publish(struct mosquitto *mq, void *user, int mid)
{
    (void)mq;
    (void)user;
    (void)mid;
    acked++;
}

/* Every occurrence of `from` in s (in place; same length). */
static void replace_all(char *s, const char *from, const char *to)
{
    size_t n = strlen(from);
    for (char *p = strstr(s, from); p; p = strstr(p + n, from))
        memcpy(p, to, n);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = n > 0 ? malloc((size_t)n + 1) : NULL;
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s)
        s[n] = '\0';
    fclose(f);
    return s;
}

/* The first "key": "VALUE" string value in s, into out. */
static int field(const char *s, const char *key, char *out, size_t len)
{
    const char *p = strstr(s, key);
    if (!p || !(p = strchr(p + strlen(key), '"')))
        return 0;
    const char *e = strchr(p + 1, '"');
    if (!e || (size_t)(e - p - 1) >= len)
        return 0;
    memcpy(out, p + 1, (size_t)(e - p - 1));
    out[e - p - 1] = '\0';
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: fleet_pub HOST PORT TEMPLATE.json KIOSKS DAYS FIRST-DAY\n");
        return 2;
    }
    const char *host = argv[1];
    int port = atoi(argv[2]);
    long kiosks = atol(argv[4]), days = atol(argv[5]);
    struct tm first = {0};
    char *tpl = slurp(argv[3]);
    char old_id[40], old_day[16];
    if (!tpl || !field(tpl, "\"sources\": [", old_id, sizeof old_id) || strlen(old_id) != 32 ||
        !field(tpl, "\"since\": ", old_day, sizeof old_day) || strlen(old_day) != 10 ||
        sscanf(argv[6], "%d-%d-%d", &first.tm_year, &first.tm_mon, &first.tm_mday) != 3) {
        fprintf(stderr, "fleet_pub: %s: not a day report of `earshot report --format json`, "
                        "or a bad FIRST-DAY\n", argv[3]);
        free(tpl);
        return 1;
    }
    first.tm_year -= 1900;
    first.tm_mon -= 1;
    first.tm_hour = 12;
    time_t t0 = timegm(&first);

    mosquitto_lib_init();
    struct mosquitto *mq = mosquitto_new(NULL, true, NULL);
    if (!mq) {
        fprintf(stderr, "fleet_pub: cannot create the MQTT client\n");
        return 1;
    }
    mosquitto_int_option(mq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_max_inflight_messages_set(mq, 100);
    mosquitto_publish_callback_set(mq, on_publish);
    mosquitto_connect_callback_set(mq, on_connect);
    if (mosquitto_connect(mq, host, port, 60) != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "fleet_pub: cannot connect to %s:%d\n", host, port);
        return 1;
    }
    /* Publish only after CONNACK: it carries the broker's receive maximum
     * (mosquitto: 20), which libmosquitto then keeps to; before it, 100
     * in flight make the broker drop the connection. */
    while (!connected)
        if (mosquitto_loop(mq, 1000, 1) != MOSQ_ERR_SUCCESS)
            break;
    if (connected != 1) {
        fprintf(stderr, "fleet_pub: the broker refused the connection\n");
        return 1;
    }
    size_t len = strlen(tpl);
    char *msg = malloc(len + 1);
    long sent = 0;
    for (long d = 0; d < days; d++) {
        time_t t = t0 + d * 86400;
        struct tm tm;
        gmtime_r(&t, &tm);
        char day[16];
        strftime(day, sizeof day, "%Y-%m-%d", &tm);
        for (long k = 0; k < kiosks; k++) {
            char id[40], topic[160];
            snprintf(id, sizeof id, "%032lx", k + 1);
            memcpy(msg, tpl, len + 1);
            replace_all(msg, old_id, id);
            replace_all(msg, old_day, day);
            snprintf(topic, sizeof topic, "earshot/fleet/shop%ld/%s/%s", k % 50, id, day);
            /* Keep the window bounded: libmosquitto queues without limit. */
            while (sent - acked >= 100)
                if (mosquitto_loop(mq, 1000, 1) != MOSQ_ERR_SUCCESS) {
                    fprintf(stderr, "fleet_pub: lost the broker\n");
                    return 1;
                }
            if (mosquitto_publish(mq, NULL, topic, (int)len, msg, 1, false) != MOSQ_ERR_SUCCESS) {
                fprintf(stderr, "fleet_pub: publish failed\n");
                return 1;
            }
            sent++;
            if (mosquitto_loop(mq, 0, 1) != MOSQ_ERR_SUCCESS) {
                fprintf(stderr, "fleet_pub: lost the broker\n");
                return 1;
            }
        }
    }
    while (acked < sent)
        if (mosquitto_loop(mq, 1000, 1) != MOSQ_ERR_SUCCESS) {
            fprintf(stderr, "fleet_pub: lost the broker\n");
            return 1;
        }
    mosquitto_disconnect(mq);
    mosquitto_destroy(mq);
    mosquitto_lib_cleanup();
    free(msg);
    free(tpl);
    printf("%ld\n", sent);
    return 0;
}
