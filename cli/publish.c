/* publish.c - `earshot publish`: each closed UTC day's anonymised
 * aggregate (as `earshot report --format json --min-group 1 --utc
 * --since DAY --until DAY` writes it) to an MQTT broker, topic
 * earshot/fleet/<site>/<db-id>/<YYYY-MM-DD>, through the outbox: a day is
 * queued once, and what the broker has not acknowledged is sent at the
 * next run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "earshot.h"
#include "mqtt.h"

static const char *const publish_usage =
    "usage: earshot publish --db DB --mqtt mqtt://HOST:PORT [--site S] [--timeout S]\n"
    "\n"
    "Publishes each closed day (UTC, before today) not yet published: the report\n"
    "JSON of that day with --min-group 1, QoS 1, on earshot/fleet/SITE/DB-ID/DAY\n"
    "(SITE default 'default'). Exits 0 once the broker has acknowledged every\n"
    "one, 1 after --timeout seconds (30) with the rest kept for the next run.\n";

typedef struct days {
    char (*d)[11];
    size_t n, cap;
    char today[11];
} days;

static int on_session(const earshot_session_info *si, void *user)
{
    days *ds = user;
    if (!si->started_at || strlen(si->started_at) < 10 || strncmp(si->started_at, ds->today, 10) >= 0)
        return 0;
    for (size_t i = 0; i < ds->n; i++)
        if (!strncmp(ds->d[i], si->started_at, 10))
            return 0;
    if (ds->n == ds->cap) {
        size_t cap = ds->cap ? ds->cap * 2 : 64;
        void *p = realloc(ds->d, cap * sizeof *ds->d);
        if (!p)
            return 1;
        ds->d = p;
        ds->cap = cap;
    }
    snprintf(ds->d[ds->n++], 11, "%.10s", si->started_at);
    return 0;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s)
        s[n] = 0;
    fclose(f);
    return s;
}

int earshot_cmd_publish(int argc, char **argv)
{
    const char *db = NULL, *url = NULL, *site = "default";
    double timeout = 30;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(publish_usage, stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "earshot publish: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
        if (!strcmp(argv[i], "--db")) db = argv[++i];
        else if (!strcmp(argv[i], "--mqtt")) url = argv[++i];
        else if (!strcmp(argv[i], "--site")) site = argv[++i];
        else if (!strcmp(argv[i], "--timeout")) timeout = atof(argv[++i]);
        else {
            fprintf(stderr, "earshot publish: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!db || !url || !*site || strpbrk(site, "/+#") || !(timeout > 0)) {
        fputs("earshot publish: needs --db DB and --mqtt mqtt://HOST:PORT (a --site without / + #)\n",
              stderr);
        return 2;
    }
    earshot_store_config scfg = earshot_store_config_default();
    scfg.path = db;
    scfg.create = 0;
    earshot_store *s = NULL;
    if (earshot_store_open(&s, &scfg) != EARSHOT_OK) {
        fprintf(stderr, "earshot: %s\n", earshot_store_errmsg(s));
        earshot_store_close(s);
        return 1;
    }
    days ds = {0};
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ds.today, sizeof ds.today, "%Y-%m-%d", &tm);
    int rc = earshot_sessions(s, on_session, &ds);
    char tmp[] = "/tmp/earshot-publish-XXXXXX";
    int fd = mkstemp(tmp);
    if (fd >= 0)
        close(fd);
    int queued = 0;
    for (size_t i = 0; rc == EARSHOT_OK && fd >= 0 && i < ds.n; i++) {
        char topic[512];
        snprintf(topic, sizeof topic, "earshot/fleet/%s/%s/%s", site, earshot_store_id(s), ds.d[i]);
        if (earshot_outbox_count(s, topic, 0) > 0)
            continue; /* queued or published already */
        earshot_report_config rcfg = earshot_report_config_default();
        rcfg.since = rcfg.until = ds.d[i];
        rcfg.min_group = 1;
        rcfg.utc = 1;
        earshot_report *r = NULL;
        char *json = NULL;
        if ((rc = earshot_report_build(s, &rcfg, &r)) != EARSHOT_OK ||
            (rc = earshot_report_write(r, EARSHOT_REPORT_JSON, tmp)) != EARSHOT_OK)
            fprintf(stderr, "earshot: %s\n", earshot_report_errmsg(r));
        else if (!(json = slurp(tmp)))
            rc = EARSHOT_IO, fprintf(stderr, "earshot: cannot read back %s\n", tmp);
        else if ((rc = earshot_outbox_add(s, topic, json, 0, NULL)) != EARSHOT_OK)
            fprintf(stderr, "earshot: %s\n", earshot_store_errmsg(s));
        else
            queued++;
        free(json);
        earshot_report_free(r);
    }
    if (fd >= 0)
        unlink(tmp);
    else
        rc = EARSHOT_IO, fprintf(stderr, "earshot: cannot create a temporary file\n");
    free(ds.d);
    earshot_store_close(s);
    if (rc != EARSHOT_OK)
        return 1;
    earshot_mqtt *m = NULL;
    char err[600];
    if (earshot_mqtt_open(&m, url, NULL, &scfg, err, sizeof err)) {
        fprintf(stderr, "earshot: %s\n", err);
        return 1;
    }
    long left = earshot_mqtt_drain(m, timeout);
    earshot_mqtt_close(m);
    if (left != 0) {
        fprintf(stderr, "earshot: %s: %ld message%s not acknowledged within %g s; kept for the next run\n",
                url, left, left == 1 ? "" : "s", timeout);
        return 1;
    }
    fprintf(stderr, "earshot: %d day%s published\n", queued, queued == 1 ? "" : "s");
    return 0;
}
